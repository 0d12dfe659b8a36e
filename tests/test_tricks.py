"""The training tricks (docs/tricks.md): each option changes what it should, checked against a closed form."""

from __future__ import annotations

import lightning as L
import pytest
import torch
import torch.nn.functional as F

from tests.conftest import write_cifar
from zoo.errors import UserError
from zoo.learners.classify import views
from zoo.learners.schedules import Triangular
from zoo.run import prepare, train

SMALL_FAST = ["model=fastcnn", "model.widths=[8,16,16]", "data=digits", "data.batch_size=64"]


class Weights(L.Callback):
    """The trained weights after every optimiser step."""

    def __init__(self):
        self.seen = []

    def on_train_batch_end(self, trainer, module, outputs, batch, batch_idx):
        self.seen.append({k: v.detach().clone() for k, v in module.state_dict().items()})


def fit(prepared, steps: int, *callbacks):
    trainer = L.Trainer(max_steps=steps, logger=False, enable_checkpointing=False, enable_progress_bar=False,
                        enable_model_summary=False, num_sanity_val_steps=0, limit_val_batches=0,
                        callbacks=list(callbacks))  # fmt: skip
    prepared.model.initialise_from(prepared.datamodule)
    trainer.fit(prepared.model, datamodule=prepared.datamodule)
    return trainer


def test_label_smoothing_is_the_smoothed_cross_entropy_in_training_and_the_plain_one_after(compose_train):
    model = prepare(compose_train("model=mlp", "data=digits", "model.dropout=0", "model.label_smoothing=0.3")).model
    torch.manual_seed(0)
    x, y = torch.randn(16, 64), torch.randint(0, 10, (16,))
    log_p = torch.log_softmax(model.net(x), 1)
    smoothed = (0.7 * -log_p.gather(1, y[:, None]).squeeze(1) - 0.3 * log_p.mean(1)).mean()
    model.train()
    assert torch.allclose(model._step((x, y), "train"), smoothed, atol=1e-6)
    model.eval()
    assert torch.allclose(model._step((x, y), "val"), F.cross_entropy(model.net(x), y), atol=1e-6)


@pytest.mark.parametrize("augment", ["flip", "flip_shift"])
def test_test_time_augmentation_scores_the_mean_of_the_views(compose_train, augment):
    model = prepare(compose_train(*SMALL_FAST, f"model.test_time_augment={augment}")).model.eval()
    x = torch.randn(4, 1, 8, 8)
    with torch.no_grad():
        expected = torch.stack([model.net(v) for v in views(x, augment)]).mean(0)
        assert torch.allclose(model(x), expected, atol=1e-6)
        assert not torch.allclose(model(x), model.net(x), atol=1e-4)
        exported, example = model.exportable()
        assert torch.allclose(exported(x), expected, atol=1e-6)
    shown = views(x, augment)
    assert torch.equal(shown[1], x.flip(-1))
    if augment == "flip_shift":  # one pixel down-right, zeros where nothing came in
        assert torch.equal(shown[2][..., 1:, 1:], x[..., :-1, :-1]) and shown[2][..., 0, :].abs().sum() == 0
        assert torch.equal(shown[4][..., :-1, :-1], x[..., 1:, 1:])
        assert len(shown) == 6
    model.train()
    assert torch.equal(model(x), model.net(x))  # training sees each image once


def test_test_time_augmentation_is_refused_for_data_that_are_no_images(compose_train):
    with pytest.raises(UserError, match="model.test_time_augment=flip mirrors and shifts images"):
        prepare(compose_train("model=mlp", "data=moons", "model.test_time_augment=flip"))


def test_bias_groups_learn_at_their_multiple_without_decay(compose_train):
    run = compose_train(*SMALL_FAST, "model.bias_lr_scale=8", "model.bias_decay=false",
                        "model.optimizer.weight_decay=0.01", "model.scheduler=null")  # fmt: skip
    model = prepare(run).model
    optimizer = model.configure_optimizers()
    weights, flat = optimizer.param_groups
    assert flat["lr"] == 8 * weights["lr"] and flat["weight_decay"] == 0 and weights["weight_decay"] == 0.01
    trained = [p for p in model.parameters() if p.requires_grad]
    assert {id(p) for p in flat["params"]} == {id(p) for p in trained if p.ndim == 1}
    assert {id(p) for p in weights["params"]} == {id(p) for p in trained if p.ndim > 1}
    assert not any(p is model.net.whiten.weight for g in optimizer.param_groups for p in g["params"])  # frozen
    plain = prepare(compose_train("model=mlp", "data=digits")).model.configure_optimizers()["optimizer"]
    assert len(plain.param_groups) == 1  # off by default


def test_nesterov_takes_the_look_ahead_step(compose_train):
    model = prepare(compose_train("model=mlp", "data=digits", "model/optimizer=sgd", "model.optimizer.lr=0.1",
                                  "model.optimizer.momentum=0.9", "model.optimizer.nesterov=true",
                                  "model.scheduler=null")).model  # fmt: skip
    w = torch.nn.Parameter(torch.tensor([1.0]))
    optimizer = model.optimizer_factory([w])
    for g in (2.0, 3.0):  # buf = g1, then 0.9 g1 + g2; nesterov steps by g + 0.9 buf
        w.grad = torch.tensor([g])
        optimizer.step()
    assert torch.allclose(w.detach(), torch.tensor([1 - 0.1 * (2 + 0.9 * 2) - 0.1 * (3 + 0.9 * (0.9 * 2 + 3))]))


def test_the_triangle_rises_to_its_peak_and_falls_to_its_end():
    w = torch.nn.Parameter(torch.zeros(1))
    optimizer = torch.optim.SGD([{"params": [w]}, {"params": [torch.nn.Parameter(torch.zeros(1))], "lr": 4.0}], lr=1.0)
    schedule = Triangular(optimizer, total_steps=101, start=0.2, peak=0.25, end=0.05)
    rates = []
    for _ in range(101):
        rates.append([g["lr"] for g in optimizer.param_groups])
        optimizer.step()
        schedule.step()
    assert rates[0] == pytest.approx([0.2, 0.8]) and rates[25] == pytest.approx([1.0, 4.0])
    assert rates[100] == pytest.approx([0.05, 0.2]) and rates[60] == pytest.approx(
        [1 - 0.95 * 35 / 75, 4 * (1 - 0.95 * 35 / 75)]
    )


def test_a_run_long_schedule_is_told_the_runs_steps_and_ema_weights_are_the_ones_evaluated(compose_train):
    run = compose_train(*SMALL_FAST, "model.ema=0.5", "model.bias_lr_scale=4")
    prepared = prepare(run)
    spy = Weights()
    trainer = fit(prepared, 7, spy)
    schedule = trainer.lr_scheduler_configs[0].scheduler
    assert isinstance(schedule, Triangular) and schedule.last_epoch == 7
    lr = prepared.model.optimizer_factory.keywords["lr"]
    assert schedule.get_last_lr() == pytest.approx([0.07 * lr, 0.07 * lr * 4])  # the triangle ended with the run
    average = dict(spy.seen[0])
    for seen in spy.seen[1:]:
        average = {k: 0.5 * average[k] + 0.5 * v if v.is_floating_point() else v for k, v in seen.items()}
    state = prepared.model.state_dict()  # after the fit, the average is the model
    differ = [k for k in state if not torch.allclose(state[k].float(), average[k].float(), atol=1e-5)]
    assert all(k.endswith("num_batches_tracked") for k in differ)  # a count (averaged too), unused here
    assert not torch.allclose(state["net.head.weight"], spy.seen[-1]["net.head.weight"])


def test_the_whitening_stem_is_fitted_to_the_training_images_and_stays_fixed(compose_train):
    prepared = prepare(compose_train(*SMALL_FAST, "model.whiten_bias_epochs=1"))
    net, datamodule = prepared.model.net, prepared.datamodule
    x = datamodule.inputs("train")
    prepared.model.initialise_from(datamodule)
    fitted = net.whiten.weight.detach().clone()
    out = F.conv2d(x, fitted[:4])  # the first half: one sign of each direction
    covariance = torch.cov(out.permute(1, 0, 2, 3).reshape(4, -1).double())
    eigenvalues = torch.linalg.eigvalsh(torch.cov(x.unfold(2, 2, 1).unfold(3, 2, 1).reshape(-1, 4).T.double()))
    assert torch.allclose(covariance, torch.diag(eigenvalues / (eigenvalues + net.whiten_eps)), atol=1e-3)
    assert torch.equal(fitted[4:], -fitted[:4])
    spy = Weights()
    per_epoch = len(datamodule.train_dataloader())
    fit(prepared, 2 * per_epoch, spy)
    assert torch.equal(net.whiten.weight, fitted)  # frozen
    biases = [seen["net.whiten.bias"] for seen in spy.seen]
    assert biases[0].abs().sum() > 0 and not torch.equal(biases[0], biases[per_epoch - 1])  # trains in epoch 0,
    assert all(torch.equal(b, biases[per_epoch - 1]) for b in biases[per_epoch:])  # then stays


def test_a_fast_cnn_run_keeps_its_whitening_in_the_checkpoint(compose_train, tmp_path):
    from zoo.build import model_from_checkpoint
    from zoo.checkpoint import load_checkpoint

    run = compose_train(*SMALL_FAST, "trainer.max_epochs=2", "model.ema=0.9", "model.test_time_augment=flip",
                        "callbacks=default", "callbacks.progress_bar=null")  # fmt: skip
    metrics = train(run)
    assert metrics["test/acc"] > 0.2
    checkpoint = load_checkpoint(metrics["best_checkpoint"])
    model = model_from_checkpoint(checkpoint, metrics["best_checkpoint"])
    assert model.net.whiten.weight.abs().sum() > 0 and model.test_time_augment == "flip"
    assert torch.equal(model.net.whiten.weight, checkpoint["state_dict"]["net.whiten.weight"])
    # the weights evaluated are the average; the trained ones travel beside them, for a resume
    averaged, trained = checkpoint["state_dict"], checkpoint["current_model_state"]
    assert torch.equal(model.net.head.weight, averaged["net.head.weight"])
    assert not torch.equal(averaged["net.head.weight"], trained["net.head.weight"])


def test_data_shift_sets_how_far_augmentation_translates(compose_train, tmp_path):
    write_cifar(tmp_path / "data" / "cifar-10-batches-py", per_batch=4)
    data = ["data=cifar10", f"data.root={tmp_path / 'data'}", "data.download=false", "data.augment=true"]
    for shift in (1, 3):
        datamodule = prepare(compose_train("model=cnn", *data, "data.scaling=unit", f"data.shift={shift}")).datamodule
        x = torch.zeros(400, 3, 32, 32, dtype=torch.uint8)
        x[:, :, 16, 16] = 255
        moved = datamodule.transform(x, train=True)[:, 0].nonzero()
        assert (moved[:, 1] - 16).abs().max() == shift and (moved[:, 2] - 16).abs().max() in (shift, shift + 1)
    for padding, filled in (("zeros", True), ("reflect", False)):  # what comes in at the edges
        datamodule = prepare(
            compose_train("model=cnn", *data, "data.scaling=unit", f"data.padding={padding}")
        ).datamodule
        shifted = datamodule.transform(torch.full((200, 3, 32, 32), 255, dtype=torch.uint8), train=True)
        assert bool((shifted == 0).any()) == filled and bool((shifted == 1).any())


def test_the_gans_refuse_the_tricks_their_hand_stepped_optimisers_would_ignore(compose_train):
    for option in ("+model.ema=0.9", "+model.bias_lr_scale=2", "+model.bias_decay=false"):
        with pytest.raises(UserError, match=r"model\.\w+=\S+ is not offered for the GANs"):
            prepare(compose_train("model=gan", "data=ring", option))


def test_a_regression_table_takes_the_classifier_options_only_unchanged(compose_train):
    assert prepare(compose_train("model=mlp", "data=diabetes")).model.label_smoothing == 0
    with pytest.raises(UserError, match=r"model.label_smoothing=0.1 shapes class scores, and this table's target is"):
        prepare(compose_train("model=mlp", "data=diabetes", "model.label_smoothing=0.1"))


def test_a_learning_rate_too_large_for_float32_is_a_sentence_before_or_at_the_first_step(compose_train):
    with pytest.raises(UserError, match=r"model.optimizer.lr must be .*3.4e\+38 \(the largest float32\), got 1e\+300"):
        prepare(compose_train("model=gru_lm", "data=longrange", "model.optimizer.lr=1e300"))
    with pytest.raises(UserError, match="the optimiser's step overflowed float32"):  # Adam's first step scales it up
        train(compose_train("model=gru_lm", "data=longrange", "model.optimizer.lr=1e38", "trainer.max_steps=2"))
