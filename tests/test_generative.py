"""GAN, DCGAN and RealNVP: invertibility, exact log-determinants, the metrics, and real training runs."""

import json
import math

import lightning as L
import pytest
import torch

from datamodules.description import DataDescription
from datamodules.digits import DigitsDataModule
from tests.conftest import run_cli
from zoo.build import build_model
from zoo.errors import UserError
from zoo.learners.flow import perturb_pixels
from zoo.metrics.outliers import BATCHES, SCORES, compressed_bits_per_dim, typical_batches
from zoo.metrics.sample_quality import frechet_distance, mode_coverage
from zoo.nets.realnvp import AffineCoupling, RealNVP, checkerboard, conv_st, dequantize_logit, inverse_logit
from zoo.run import evaluate, train


def perturbed(flow: torch.nn.Module, seed: int = 0) -> torch.nn.Module:
    """A flow away from its identity start, so the tests see non-trivial couplings."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in flow.parameters():
            p.add_(0.05 * torch.randn(p.shape, generator=g, dtype=p.dtype))
    return flow


@pytest.mark.parametrize("shape", [[2], [5], [1, 8, 8], [3, 8, 8]])
def test_the_flow_inverts(shape):
    torch.manual_seed(0)
    flow = perturbed(RealNVP(shape, hidden=16, couplings=4, scales=2))
    x = torch.randn(6, *shape)
    z, _ = flow(x)
    assert z.shape == (6, math.prod(shape))
    assert torch.allclose(flow.inverse(z), x, atol=1e-5)


def test_a_coupling_layer_inverts_and_keeps_its_masked_half():
    torch.manual_seed(0)
    layer = perturbed(AffineCoupling(checkerboard(2, 4, 4, 0), conv_st(2, 8)))
    x = torch.randn(3, 2, 4, 4)
    y, _ = layer(x)
    assert torch.equal(y * layer.mask, x * layer.mask)  # x_a passes through untouched
    assert torch.allclose(layer.inverse(y), x, atol=1e-5)


@pytest.mark.parametrize("shape", [[2], [4], [1, 4, 4]])
def test_the_log_determinant_equals_the_brute_force_jacobian(shape):
    torch.manual_seed(1)
    flow = perturbed(RealNVP(shape, hidden=8, couplings=4, scales=2)).double()
    x = torch.randn(1, *shape, dtype=torch.float64)
    jacobian = torch.autograd.functional.jacobian(lambda v: flow(v.view(1, *shape))[0].flatten(), x.flatten())
    assert torch.allclose(flow(x)[1], torch.linalg.slogdet(jacobian)[1], atol=1e-8)


def test_the_logit_transform_counts_its_log_determinant():
    x = torch.tensor([[0.0, 0.25, 0.5, 1.0]], dtype=torch.float64)
    noise = torch.full_like(x, 0.3)
    y, logdet = dequantize_logit(x, 5, 0.05, noise)
    # v -> y is elementwise, so log|det| is the sum of log dy/dv, here by autograd
    v = ((torch.round(x * 4) + noise) / 5).requires_grad_(True)
    p = 0.05 + 0.9 * v
    (torch.log(p) - torch.log1p(-p)).sum().backward()
    assert torch.allclose(logdet, v.grad.log().sum())
    assert torch.allclose(inverse_logit(y, 0.05), (torch.round(x * 4) + noise) / 5)


def test_an_identity_flow_gives_the_standard_normal_log_density():
    flow = RealNVP([3], hidden=8, couplings=4)  # zero last layers + identity act-norm: f(x) = x
    x = torch.randn(10, 3)
    expected = torch.distributions.Normal(0.0, 1.0).log_prob(x).sum(1)
    assert torch.allclose(flow.log_prob(x), expected, atol=1e-6)


def test_mode_coverage_on_hand_made_points():
    centres = torch.tensor([[0.0, 0.0], [4.0, 0.0], [0.0, 4.0], [4.0, 4.0]])
    on_two = torch.cat([centres[:2].repeat(50, 1), torch.tensor([[2.0, 2.0]]).repeat(100, 1)])
    modes, hq = mode_coverage(on_two, centres, std=0.1)
    assert (modes, hq) == (2, 0.5)  # half the points sit on two modes, the rest between modes
    modes, hq = mode_coverage(centres.repeat(25, 1) + 0.05, centres, std=0.1)
    assert (modes, hq) == (4, 1.0)


def test_frechet_distance_closed_forms():
    torch.manual_seed(0)
    a = torch.randn(5000, 3)
    assert abs(frechet_distance(a, a)) < 1e-6
    # same covariance, mean shifted by (1, 2, 0): the distance is |shift|^2 = 5
    assert frechet_distance(a, a + torch.tensor([1.0, 2.0, 0.0])) == pytest.approx(5.0, abs=1e-6)
    # scaled by 2 in 1-D: (sigma_a - sigma_b)^2 = 1 for unit variance
    b = torch.randn(200000, 1)
    assert frechet_distance(b, 2 * b) == pytest.approx(1.0, rel=0.02)


def test_one_gan_step_changes_both_nets(compose_train, tmp_path):
    cfg = compose_train("model=gan", "data=ring").cfg
    torch.manual_seed(0)
    from datamodules.points import PointsDataModule

    data = PointsDataModule(kind="ring", n_samples=400)
    model = build_model(cfg.model, data.description)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    L.Trainer(
        max_steps=1,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        limit_val_batches=0,
        default_root_dir=tmp_path,
    ).fit(model, datamodule=data)
    changed = {k for k, v in model.state_dict().items() if not torch.equal(v, before[k])}
    assert any(k.startswith("net.generator.") for k in changed)
    assert any(k.startswith("net.discriminator.") for k in changed)


@pytest.mark.slow  # about 30 s
def test_gan_on_the_ring_learns_modes_and_leaves_pictures(compose_train, tmp_path):
    # seed 12345 finds 7 of 8 modes at epoch 13 and keeps 4 or more through epoch 20
    metrics = train(compose_train("model=gan", "data=ring", "trainer.max_epochs=16", "data.n_samples=6000"))
    history = json.loads((tmp_path / "history.json").read_text())
    assert metrics["val/modes"] >= 4 and history["val/hq"][-1] > history["val/hq"][0]
    for name in ("samples.png", "samples/epoch_000.png", "frechet_distance.png", "checkpoints/best.ckpt"):
        assert (tmp_path / name).is_file(), name


def test_dcgan_on_digits_draws_digits_closer_to_the_data(compose_train, tmp_path):
    metrics = train(
        compose_train(
            "model=dcgan", "data=digits", "trainer.max_epochs=6", "model.features=32", "model.feature_epochs=3"
        )
    )
    fd = json.loads((tmp_path / "history.json").read_text())["val/fd"]
    assert fd[-1] < 0.8 * fd[0]  # the Fréchet distance to held-out digits falls
    assert metrics["test/fd"] > 0 and (tmp_path / "samples.png").is_file()


def test_realnvp_on_moons_learns_and_is_reproducible(compose_train, tmp_path):
    runs = [
        train(compose_train("model=realnvp", "data=moons", "trainer.max_epochs=4", output_dir=tmp_path / str(i)))
        for i in range(2)
    ]
    history = json.loads((tmp_path / "0" / "history.json").read_text())
    assert history["train/nll"][-1] < history["train/nll"][0]
    assert runs[0]["test/nll"] < 2.5 and runs[0]["test/gmm_nll"] > 0  # untrained: log(area) ~ 3
    assert {k: v for k, v in runs[0].items() if k.startswith(("test/", "val/", "train/nll"))} == {
        k: v for k, v in runs[1].items() if k.startswith(("test/", "val/", "train/nll"))
    }
    assert (tmp_path / "0" / "density.png").is_file()


@pytest.mark.slow  # about 25 s
def test_realnvp_on_digits_reports_bits_per_dim_and_finds_outliers(compose_train, tmp_path):
    metrics = train(
        compose_train(
            "model=realnvp", "data=digits", "trainer.max_epochs=3", "model.hidden=16", output_dir=tmp_path / "run"
        )
    )
    assert 0 < metrics["test/bpd"] < math.log2(17)  # better than uniform over the 17 levels
    assert metrics["test/nll"] == pytest.approx(metrics["test/bpd"] * 64 * math.log(2), rel=1e-4)
    cfg = compose_train(
        f"ckpt_path={tmp_path}/run/checkpoints/best.ckpt",
        "ood=[noise,invert]",
        name="evaluate",
        output_dir=tmp_path / "eval",
    )
    result = evaluate(cfg)
    assert result["ood/noise/auroc_likelihood"] > 0.9 and 0 <= result["ood/invert/auroc_likelihood"] <= 1
    assert (tmp_path / "eval" / "ood_histograms.png").is_file()


def test_generative_models_refuse_impossible_settings(compose_train):
    with pytest.raises(UserError, match="data.scaling=unit"):
        train(compose_train("model=realnvp", "data=digits", "data.scaling=standard"))
    with pytest.raises(UserError, match="needs images"):
        train(compose_train("model=dcgan", "data=moons"))
    with pytest.raises(UserError, match="generator_loss must be one of"):
        train(compose_train("model=gan", "data=ring", "model.generator_loss=wasserstein"))


def test_ood_options_say_what_works(compose_train, tmp_path):
    train(compose_train("model=mlp", "trainer.max_epochs=1", output_dir=tmp_path / "mlp"))
    cfg = compose_train(f"ckpt_path={tmp_path}/mlp/checkpoints/best.ckpt", "ood=[noise]", name="evaluate")
    with pytest.raises(UserError, match=r"ood=\['noise'\] is not an option of this checkpoint's Classifier"):
        evaluate(cfg)
    train(
        compose_train(
            "model=realnvp", "data=digits", "trainer.max_epochs=1", "model.hidden=8", output_dir=tmp_path / "flow"
        )
    )
    train(compose_train("model=realnvp", "data=moons", "trainer.max_epochs=1", output_dir=tmp_path / "moons"))
    ckpt = {name: f"{tmp_path}/{name}/checkpoints/best.ckpt" for name in ("mlp", "flow", "moons")}
    flow, moons = f"ckpt_path={ckpt['flow']}", f"ckpt_path={ckpt['moons']}"
    for overrides, sentence in (
        ([flow, "ood=[heldout]"], "data.classes leaving digits out"),
        ([flow, "ood=[cats]"], "unknown outlier set"),
        ([flow, "ood=[noise]", "ood_scores=[entropy]"], "unknown outlier score 'entropy'; choose from likelihood"),
        ([flow, "ood=[noise]", "ood_scores=[]"], "ood_scores names no score"),
        ([flow, "ood=[noise]", "ood_scores=[ratio]"], "ood_scores=ratio needs ood_background="),
        ([flow, "ood=[noise]", "ood_scores=ratio", f"ood_background={ckpt['mlp']}"], "not a flow"),
        ([flow, "ood=[noise]", "ood_scores=ratio", f"ood_background={ckpt['moons']}"], "was trained on other data"),
        ([moons, "ood=[noise]", "ood_scores=[complexity]"], "compresses images"),
        ([flow, "ood=[noise]", "ood_batch=0"], "ood_batch must be an integer from 1"),
    ):  # fmt: skip
        cfg = compose_train(*overrides, name="evaluate")
        with pytest.raises(UserError, match=sentence):
            evaluate(cfg)
    on_points = evaluate(compose_train(moons, "ood=[noise]", name="evaluate", output_dir=tmp_path / "eval"))
    assert {k for k in on_points if k.startswith("ood/noise/auroc")} == {
        "ood/noise/auroc_likelihood",
        "ood/noise/auroc_typicality",
    }  # by default every score that applies to points
    with pytest.raises(UserError, match="model.perturb replaces pixels, for images only"):
        train(compose_train("model=realnvp", "data=moons", "model.perturb=0.2"))


def test_held_out_digits_are_outliers_under_every_score(compose_train, tmp_path):
    """The four scores of a flow trained on 0-8, the ratio against a background flow trained on perturbed digits."""
    base = ["model=realnvp", "data=digits", "data.classes=[0,1,2,3,4,5,6,7,8]", "model.hidden=8"]
    train(compose_train(*base, "trainer.max_epochs=2", output_dir=tmp_path / "flow"))
    train(compose_train(*base, "trainer.max_epochs=1", "model.perturb=0.2", output_dir=tmp_path / "background"))
    cfg = compose_train(
        f"ckpt_path={tmp_path}/flow/checkpoints/best.ckpt",
        "ood=[heldout,noise]",
        "ood_scores=[likelihood,complexity,ratio,typicality]",
        f"ood_background={tmp_path}/background/checkpoints/best.ckpt",
        name="evaluate",
        output_dir=tmp_path / "eval",
    )
    result = evaluate(cfg)
    for score in SCORES:
        assert 0 <= result[f"ood/heldout/auroc_{score}"] <= 1
    assert result["ood/noise/auroc_likelihood"] > 0.9 and result["ood/heldout/bpd"] > 0
    assert (tmp_path / "eval" / "ood_histograms.png").is_file()


def test_the_held_out_set_is_every_image_of_the_left_out_digits():
    from sklearn.datasets import load_digits

    data = DigitsDataModule(classes=[0, 1, 2, 3, 4, 5, 6, 7, 8], scaling="unit")
    assert len(data.held_out()) == (load_digits().target == 9).sum()


def test_typicality_is_the_distance_of_a_batch_mean_from_the_typical_value():
    g = torch.Generator().manual_seed(0)
    assert typical_batches(torch.full((50,), 2.5), 2.5, 10, g).abs().max() == 0
    assert torch.equal(typical_batches(torch.tensor([0.0, 2.0]), 1.0, 1, g), torch.ones(BATCHES))
    means = typical_batches(torch.tensor([0.0, 2.0]), 0.0, 4, g)  # means of four draws of 0 or 2: 0, 0.5, ..., 2
    assert set((means * 2).round().tolist()) <= {0, 1, 2, 3, 4} and 0.8 < means.mean() < 1.2


def test_a_constant_image_compresses_to_fewer_bits_than_noise():
    g = torch.Generator().manual_seed(0)
    noise = torch.randint(17, (4, 1, 8, 8), generator=g) / 16
    bits = compressed_bits_per_dim(torch.cat([torch.zeros(1, 1, 8, 8), noise]), levels=17)
    assert bits[0] < bits[1:].min() and bits[1:].min() > 2  # 17 random levels need log2(17) = 4.1 bits, less headers


def test_perturbing_replaces_the_stated_share_of_pixels_by_grey_levels():
    torch.manual_seed(0)
    x = torch.zeros(200, 1, 8, 8)
    assert torch.equal(perturb_pixels(x, 0.0, 17), x)
    y = perturb_pixels(x, 0.3, 17)
    assert torch.allclose(y * 16, (y * 16).round()) and 0 <= y.min() and y.max() <= 1
    assert (y != 0).float().mean().item() == pytest.approx(0.3 * 16 / 17, abs=0.01)  # a draw of level 0 changes nothing


def test_classic_fid_without_torch_fidelity_is_a_sentence(compose_train):
    try:
        import torch_fidelity  # noqa: F401

        pytest.skip("torch-fidelity is installed here")
    except ImportError:
        pass
    from datamodules.digits import DigitsDataModule
    from zoo.learners.gan import classic_fid

    data = DigitsDataModule(scaling="unit")
    model = build_model(compose_train("model=dcgan").cfg.model, data.description)
    with pytest.raises(UserError, match="pip install torch-fidelity"):
        classic_fid(model, data)


@pytest.mark.slow  # 24 s of two gloo processes; the other DDP checks are in the slow test_ddp.py
def test_gan_under_ddp_keeps_both_nets_in_step(tmp_path):
    result = run_cli(
        "train.py",
        "model=gan",
        "data=ring",
        "trainer=ddp_cpu",
        "trainer.devices=2",
        "callbacks=none",
        "trainer.max_epochs=2",
        "data.n_samples=2000",
        f"hydra.run.dir={tmp_path}",
        timeout=240,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics["world_size"] == 2 and "test/modes" in metrics


@pytest.mark.parametrize(
    "preset, shape",
    [
        ("realnvp_cifar10", [3, 32, 32]),
        ("realnvp_mnist", [1, 28, 28]),
        ("dcgan_mnist", [1, 28, 28]),
        ("dcgan_cifar10", [3, 32, 32]),
    ],
)
def test_paper_presets_build_their_models_and_run_a_batch(compose_train, preset, shape):
    cfg = compose_train(f"experiment={preset}").cfg
    assert cfg.data.scaling == "unit"  # generative presets ask their data for pixels in [0, 1]
    data = DataDescription("images", input_shape=shape, num_classes=10, levels=256, scaling="unit")
    model = build_model(cfg.model, data)
    x = torch.rand(2, *shape)
    if hasattr(model, "bits_per_dim"):
        assert model.bits_per_dim(x).isfinite().all()
    else:
        assert model.net(model.net.noise(2)).shape == (2, *shape)
        assert model.net.discriminator(model.to_net(x)).shape == (2, 1)
