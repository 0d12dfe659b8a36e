"""CNN, ResNet / plain nets and ODENet: shapes, the papers' sizes, the slides' worked examples, NFE."""

import pytest
import torch
from torch import nn

from zoo.errors import UserError
from zoo.nets.cnn import CNN, SLIDE_X_FILTERS, ConvBlock, load_filters
from zoo.nets.odenet import ConcatConv2d, ODEBlock, ODENet
from zoo.nets.resnet import ResNet, resnet20, resnet56

SHAPES = [(1, 8, 8), (1, 28, 28), (3, 32, 32)]


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize(
    "make",
    [
        lambda s: CNN(s, 10, batch_norm=True),
        lambda s: ResNet(s, 10, depth=8),
        lambda s: ResNet(s, 10, depth=8, shortcuts=False),
        lambda s: ODENet(s, 10, width=8, solver="rk4", adjoint=False),
        lambda s: ODENet(s, 10, width=8, block="resnet", res_blocks=2),
    ],
    ids=["cnn", "resnet", "plainnet", "odenet", "odenet-resnet-baseline"],
)
def test_each_net_fits_each_image_size(make, shape):
    assert make(shape)(torch.randn(2, *shape)).shape == (2, 10)


def n_params(net: nn.Module) -> int:
    return sum(p.numel() for p in net.parameters())


def test_resnet_depths_have_the_papers_parameter_counts(compose_train):
    from zoo.run import prepare

    assert round(n_params(resnet20()) / 1e6, 2) == 0.27  # He et al. 2016, table 6
    assert round(n_params(resnet56()) / 1e6, 2) == 0.85
    with pytest.raises(UserError, match="model.depth must be 6n\\+2 \\(20, 32, 44, 56, 110, ...\\), got 21"):
        prepare(compose_train("model=resnet", "model.depth=21"))


def test_plain_net_has_the_same_parameters_as_its_resnet():
    # option A shortcuts add no parameters: the degradation experiment compares like with like
    assert n_params(ResNet((3, 32, 32), 10, depth=56, shortcuts=False)) == n_params(resnet56())


def test_a_residual_net_whose_branches_start_at_zero_starts_as_the_identity():
    torch.manual_seed(0)
    net = ResNet((1, 8, 8), 10, depth=56, zero_init_residual=True)
    h = net.stem(torch.randn(4, 1, 8, 8))  # non-negative after its ReLU, so each block passes it on unchanged
    for block in net.blocks:
        assert torch.equal(block(h), block.skip(h))
        h = block(h)
    untouched = ResNet((1, 8, 8), 10, depth=56)
    assert all(block.bn2.weight.eq(1).all() for block in untouched.blocks)  # He et al.'s start, the default
    with pytest.raises(UserError, match="zero_init_residual=true needs shortcuts"):
        ResNet((1, 8, 8), 10, depth=20, shortcuts=False, zero_init_residual=True)


def test_odenet_on_mnist_has_the_papers_size():
    assert round(n_params(ODENet((1, 28, 28), 10)) / 1e6, 2) == pytest.approx(0.22, abs=0.015)  # Chen et al.: 0.22M


def test_slide_convolution_example():
    image = torch.tensor(
        [[1, 1, 1, 0, 0], [0, 1, 1, 1, 0], [0, 0, 1, 1, 1], [0, 0, 1, 1, 0], [0, 1, 1, 0, 0]], dtype=torch.float32
    )
    block = ConvBlock(1, 1, kernel_size=3, pool="none", batch_norm=False)
    load_filters(block[0], torch.tensor([[[1, 0, 1], [0, 1, 0], [1, 0, 1]]], dtype=torch.float32))
    feature_map = block(image.view(1, 1, 5, 5))[0, 0]
    # the block pads to keep the size; its interior is the slide's 3x3 "valid" feature map
    assert feature_map[1:-1, 1:-1].tolist() == [[4, 3, 4], [2, 4, 3], [2, 3, 4]]


def test_slide_max_pool_example():
    pool = ConvBlock(1, 1, kernel_size=3, pool="max", batch_norm=False)[-1]
    x = torch.tensor([[1, 1, 2, 4], [5, 6, 7, 8], [3, 2, 1, 0], [1, 2, 3, 4]], dtype=torch.float32)
    assert pool(x.view(1, 1, 4, 4))[0, 0].tolist() == [[6, 8], [3, 4]]


def test_x_filters_respond_most_to_an_x():
    x_image = torch.tensor(
        [[1, -1, -1, -1, 1], [-1, 1, -1, 1, -1], [-1, -1, 1, -1, -1], [-1, 1, -1, 1, -1], [1, -1, -1, -1, 1]],
        dtype=torch.float32,
    ).view(1, 1, 5, 5)
    conv = load_filters(nn.Conv2d(1, 3, 3, bias=False), SLIDE_X_FILTERS)
    maps = conv(x_image)[0]
    # each filter matches a patch of the X perfectly: 9 agreeing pixels, the largest possible response
    assert [m.max().item() for m in maps] == [9.0, 9.0, 9.0]
    with pytest.raises(UserError, match="do not fit"):
        load_filters(nn.Conv2d(1, 2, 3), SLIDE_X_FILTERS)


class SmoothFunc(nn.Module):
    """A smooth f(h, t) (tanh, no ReLU kinks), so both gradients converge to the same exact value."""

    def __init__(self):
        super().__init__()
        self.conv = ConcatConv2d(4, 4)

    def forward(self, t, h):
        return torch.tanh(self.conv(t, h))


def test_adjoint_and_direct_backprop_give_the_same_gradients():
    torch.manual_seed(0)
    func = SmoothFunc().double()
    h0 = torch.randn(2, 4, 3, 3, dtype=torch.float64)
    grads = []
    for adjoint in (False, True):
        block = ODEBlock(func, solver="dopri5", rtol=1e-9, atol=1e-9, adjoint=adjoint)
        func.zero_grad()
        block(h0).pow(2).sum().backward()
        grads.append(torch.cat([p.grad.flatten() for p in func.parameters()]))
    torch.testing.assert_close(grads[0], grads[1], rtol=1e-5, atol=1e-6)


def test_nfe_counters_move_forward_and_backward():
    net = ODENet((1, 8, 8), 10, width=8)
    out = net(torch.randn(3, 1, 8, 8))
    forward = net.nfe
    net.nfe = 0
    out.sum().backward()
    assert forward >= 6 and net.nfe > 0  # dopri5 takes >= 6 evaluations per step; the adjoint solves backwards
    rk = ODENet((1, 8, 8), 10, width=8, solver="rk4", step_size=0.25, adjoint=False)
    rk(torch.randn(3, 1, 8, 8))
    assert rk.nfe == 4 * 4  # 4 steps of 4 stages: fixed-step RK-Net


def test_a_cnn_on_points_says_which_data_would_work():
    with pytest.raises(UserError, match="model cnn needs images .* shape \\(2,\\); use data=digits"):
        CNN([2], 2)
