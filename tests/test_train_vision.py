"""The image classifiers through the shared trainer: on digits, on the on-disk formats, and failing clearly."""

import math

import pytest

from tests.conftest import run_cli, write_cifar, write_idx
from tests.test_train import epoch_losses
from zoo.errors import UserError
from zoo.run import train


@pytest.mark.parametrize(
    "model",
    [
        ["model=cnn"],
        ["model=resnet", "model.depth=8"],
        ["model=plainnet", "model.depth=8"],
        pytest.param(["model=odenet", "model.width=16"], marks=pytest.mark.slow),  # about a minute
    ],
    ids=["cnn", "resnet", "plainnet", "odenet"],
)
def test_each_image_model_learns_on_digits(compose_train, tmp_path, model):
    metrics = train(compose_train(*model, "trainer.max_epochs=3", "trainer.limit_train_batches=8"))
    losses = epoch_losses(tmp_path)
    assert losses[-1] < losses[0]
    if model[0] == "model=odenet":
        assert metrics["train/nfe_forward"] >= 6 and metrics["train/nfe_backward"] > 0
        assert (tmp_path / "nfe.png").is_file()
    assert (tmp_path / "first_layer_filters.png").is_file()


@pytest.mark.slow  # about 12 s each
@pytest.mark.parametrize("model", ["resnet", "plainnet"])
def test_56_layers_train(compose_train, model):
    metrics = train(
        compose_train(
            f"model={model}",
            "model.depth=56",
            "trainer.max_epochs=1",
            "trainer.limit_train_batches=3",
            "trainer.limit_val_batches=1",
            "test=false",
        )
    )
    # ResNet-56 has 853,018 parameters on RGB; digits have 1 channel, so 2 x 16 x 3 x 3 fewer stem weights
    assert metrics["n_params"] == 853_018 - 2 * 16 * 9


def test_resnet_on_cifar_files(compose_train, tmp_path):
    write_cifar(tmp_path / "data" / "cifar-10-batches-py", per_batch=16)
    metrics = train(
        compose_train(
            "model=resnet",
            "model.depth=8",
            "data=cifar10",
            f"data.root={tmp_path}/data",
            "data.download=false",
            "data.val_size=16",
            "data.batch_size=16",
            "data.augment=true",
            "trainer.max_epochs=1",
        )
    )
    # 5 files of 16 images, 16 held out for validation: 64 training images in 4 batches, each read once
    assert metrics["train_steps"] == 4 and math.isfinite(metrics["test/loss"]) and 0 <= metrics["test/acc"] <= 1


def test_odenet_on_mnist_files(compose_train, tmp_path):
    write_idx(tmp_path / "data" / "MNIST" / "raw", n_train=80, n_test=20)
    metrics = train(
        compose_train(
            "model=odenet",
            "model.width=8",
            "model.solver=rk4",
            "model.adjoint=false",
            "data=mnist",
            f"data.root={tmp_path}/data",
            "data.download=false",
            "data.val_size=16",
            "data.batch_size=16",
            "trainer.max_epochs=1",
        )
    )
    assert metrics["test/nfe_forward"] == 16


def test_absent_data_offline_fails_with_one_sentence(tmp_path):
    result = run_cli(
        "train.py",
        "model=resnet",
        "data=cifar10",
        f"data.root={tmp_path}",
        "data.download=false",
        "trainer=cpu",
        f"hydra.run.dir={tmp_path}/run",
    )
    assert result.returncode == 2
    assert f"error: CIFAR-10 is not in {tmp_path}/cifar-10-batches-py (expected data_batch_1" in result.stderr
    assert "Traceback" not in result.stderr


def test_absent_mnist_offline_is_a_user_error(compose_train, tmp_path):
    with pytest.raises(UserError, match=f"MNIST is not in {tmp_path}/nothing/MNIST/raw"):
        train(compose_train("model=odenet", "data=mnist", f"data.root={tmp_path}/nothing", "data.download=false"))
