"""The perceptron and MLP nets against the lecture's formulas."""

import re

import pytest
import torch

from zoo.errors import UserError
from zoo.nets.mlp import MLP, Perceptron


def test_perceptron_is_the_slide_formula():
    torch.manual_seed(0)
    net = Perceptron([4], num_classes=3, activation="sigmoid")
    x = torch.randn(5, 4)
    w0, w = net.linear.bias, net.linear.weight
    expected = torch.sigmoid(w0 + x @ w.T)  # y_hat = g(w0 + x^T w), one unit per class
    torch.testing.assert_close(net(x), expected)


@pytest.mark.parametrize("shape", [[2], [64], [1, 8, 8], [3, 32, 32]])
def test_mlp_flattens_any_input(shape):
    net = MLP(shape, num_classes=7, depth=3, width=16, batch_norm=True, dropout=0.1)
    assert net(torch.randn(4, *shape)).shape == (4, 7)


def test_normal_init_has_the_requested_spread():
    torch.manual_seed(0)
    net = MLP([256], num_classes=10, depth=1, width=512, init="normal", init_std=0.05)
    weight = net.layers[0].weight
    assert abs(weight.std().item() - 0.05) < 0.002
    assert torch.all(net.layers[0].bias == 0)


def test_kaiming_init_keeps_relu_activations_from_shrinking():
    torch.manual_seed(0)
    net = MLP([512], num_classes=10, depth=8, width=512, init="kaiming", activation="relu")
    x = torch.randn(256, 512)
    hidden = net.layers[:-1](x)  # after 8 ReLU layers
    assert 0.3 < hidden.pow(2).mean().sqrt().item() / x.pow(2).mean().sqrt().item() < 3


def test_unknown_activation_and_init_are_sentences(compose_train):
    from zoo.run import prepare

    for override, sentence in (
        ("model.activation=swish", "model.activation must be one of sigmoid, tanh, relu, identity (like its default"),
        ("model.init=orthogonal", "model.init must be one of normal, xavier, kaiming (like its default 'kaiming')"),
    ):
        with pytest.raises(UserError, match=re.escape(sentence)):
            prepare(compose_train(override))
