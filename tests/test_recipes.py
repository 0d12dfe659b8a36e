"""Defaults that follow the data: recipes per model and data pair, random windows, unknown-token share, checkpoints."""

import os

import pytest
import torch

from datamodules.corpora import PTBDataModule
from datamodules.description import DataDescription
from datamodules.text import RandomWindows
from tests.conftest import ROOT
from zoo.composing import Composition, compose, presets
from zoo.learners.language_model import LanguageModel
from zoo.nets.rnn import RNNLanguageModel
from zoo.run import train
from zoo.starting import compose_run


def applied_recipes(cfg) -> list[str]:
    return Composition.of(cfg.hydra).recipes


PAIRS = sorted(p.stem for p in (ROOT / "configs" / "recipe" / "pair").glob("*.yaml"))


def split_pair(name: str) -> tuple[str, str]:
    models, data = presets("model"), presets("data")
    return next((m, name[len(m) + 1 :]) for m in models if name.startswith(f"{m}_") and name[len(m) + 1 :] in data)


@pytest.mark.parametrize("pair", PAIRS)
def test_every_pair_recipe_composes_and_is_named(pair):
    model, data = split_pair(pair)
    cfg = compose("train", [f"model={model}", f"data={data}", "data.path=some.txt" if data == "text" else "seed=1"])
    assert f"recipe/pair/{pair}" in applied_recipes(cfg)
    from omegaconf import OmegaConf

    OmegaConf.to_container(cfg.model, resolve=True)  # every value resolves
    OmegaConf.to_container(cfg.trainer, resolve=True)


def test_a_pair_without_recipe_gets_the_models_generic_defaults():
    cfg = compose("train", ["model=lstm_lm", "data=ptb"])
    assert applied_recipes(cfg) == ["recipe/model/lstm_lm"]
    assert (cfg.model.num_layers, cfg.model.hidden_size, cfg.model.optimizer.lr) == (2, 200, 20.0)
    assert cfg.trainer.gradient_clip_val == 0.25
    longrange = compose("train", ["model=lstm_lm", "data=longrange"])
    assert (longrange.model.num_layers, longrange.model.chrono_init, longrange.trainer.gradient_clip_val) == (
        1,
        100,
        1.0,
    )
    assert longrange.model.optimizer._target_ == "torch.optim.Adam" and longrange.model.scheduler is None
    assert applied_recipes(compose("train", [])) == []  # the MLP on digits needs none


def test_random_windows_are_consecutive_tokens_at_seeded_random_places():
    stream = torch.arange(1000)
    windows = RandomWindows(stream, batch_size=4, bptt=10, seed=3)
    first = list(windows)
    windows.set_epoch(1)
    second = list(windows)
    assert len(first) == len(windows) == 999 // 40
    for x, y in first:
        assert x.shape == (4, 10) and torch.equal(y, x + 1) and torch.equal(x[:, 1:], x[:, :-1] + 1)
    assert not torch.equal(first[0][0], second[0][0])  # each epoch draws new places
    assert torch.equal(first[0][0], list(RandomWindows(stream, 4, 10, seed=3))[0][0])  # from the seed


def test_random_windows_start_from_a_fresh_state():
    torch.manual_seed(0)
    net = RNNLanguageModel(12, embedding_dim=8, hidden_size=8)
    data = DataDescription("tokens", vocab=[str(i) for i in range(12)], level="char", train_windows="random")
    model = LanguageModel(net, data, optimizer=lambda p: torch.optim.SGD(p, 0.1))
    first, second = torch.randint(12, (2, 5)), torch.randint(12, (2, 5))
    model._step((first, first), "train")
    loss = model._step((second, second), "train")
    fresh = net(second)[0]
    torch.testing.assert_close(loss, torch.nn.functional.cross_entropy(fresh.flatten(0, 1), second.flatten()))


def test_unknown_token_share_of_each_split(tmp_path):
    (tmp_path / "ptb").mkdir()
    (tmp_path / "ptb" / "ptb.train.txt").write_text("the cat sat on the mat\n" * 5 + "a <unk> sat\n")
    (tmp_path / "ptb" / "ptb.valid.txt").write_text("the dog sat on a log\n")  # dog, log never seen
    (tmp_path / "ptb" / "ptb.test.txt").write_text("the <unk> sat on the mat\n")  # <unk> is in the text
    dm = PTBDataModule(root=str(tmp_path), download=False, batch_size=1, bptt=3)
    dm.setup()
    assert dm.oov_rate == {"train": 0.0, "val": pytest.approx(2 / 7), "test": 0.0}


def test_the_best_and_last_checkpoint_of_an_epoch_are_written_once(tmp_path):
    metrics = train(compose_run("train", ["trainer=cpu", "callbacks=none", "trainer.max_epochs=3"], tmp_path))
    last, best = tmp_path / "checkpoints" / "last.ckpt", tmp_path / "checkpoints" / "best.ckpt"
    history = __import__("json").loads((tmp_path / "history.json").read_text())["val/loss"]
    if history[-1] == min(history):  # the last epoch was the best: one file, and last.ckpt links to it
        assert last.is_symlink() and os.readlink(last) == "best.ckpt"
    else:
        assert not last.is_symlink()
    assert torch.load(last, weights_only=True)["epoch"] == 2 and metrics["epochs"] == 3
    assert not list((tmp_path / "checkpoints").glob("*.partial"))
    assert best.is_file()


def test_a_text_read_as_words_gets_the_word_defaults_not_the_character_recipe():
    cfg = compose("train", ["model=gru_lm", "data=words", "data.path=some.txt"])
    assert applied_recipes(cfg) == ["recipe/model/gru_lm"]
    assert (cfg.data.level, cfg.data.sampling, cfg.data.bptt, cfg.model.hidden_size) == ("word", "stream", 35, 200)
