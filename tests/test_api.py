"""The Python API (`from zoo import train, evaluate, load`) on the command line's code path."""

import json

import pytest
import torch

from tests.conftest import FAST, run_cli
from zoo.errors import UserError

OVERRIDES = [*FAST, "model=mlp", "data=digits", "trainer.max_epochs=1"]


def test_train_evaluate_and_load_give_what_the_command_line_gives(tmp_path):
    from zoo import evaluate, load, train

    cli = run_cli("train.py", *OVERRIDES, f"hydra.run.dir={tmp_path}/cli", cwd=tmp_path)
    assert cli.returncode == 0, cli.stderr
    from_cli = json.loads((tmp_path / "cli" / "metrics.json").read_text())

    run = train(*OVERRIDES, output_dir=tmp_path / "api")
    assert run.dir == tmp_path / "api" and (run.dir / ".hydra" / "config.yaml").is_file()
    assert json.loads((run.dir / "metrics.json").read_text())["test/acc"] == run.metrics["test/acc"]
    for key in ("test/acc", "test/loss", "val/acc", "train_steps", "n_params"):
        assert run.metrics[key] == from_cli[key], key

    x = run.datamodule.inputs("test")
    model, data = load(run.best_checkpoint)
    assert data == run.datamodule.description and not model.training
    run.model.eval()
    with torch.no_grad():
        assert torch.equal(model(x), run.model(x))  # the tested weights are the best checkpoint's

    evaluated = evaluate(run.best_checkpoint, output_dir=tmp_path / "api_eval")  # test_cli: the CLI's is train's
    assert evaluated["test/acc"] == run.metrics["test/acc"] and evaluated["test/loss"] == run.metrics["test/loss"]
    assert evaluate(run.best_checkpoint, "split=val", output_dir=tmp_path / "val")["val/acc"] == run.metrics["val/acc"]


def test_the_api_refuses_with_the_command_lines_sentences(tmp_path):
    from zoo import evaluate, train

    for wrong in (5, ["model=mlp"], {"model": "mlp"}, ""):  # before anything is composed
        with pytest.raises(UserError, match=r"train\(\) takes override strings, e.g. train\('model=mlp'"):
            train(wrong)
    with pytest.raises(UserError, match=r"evaluate\(\) takes a checkpoint's path first, got 3"):
        evaluate(3)

    with pytest.raises(UserError, match="model.optimizer.lr must be a positive number"):
        train(*OVERRIDES, "model.optimizer.lr=-1", output_dir=tmp_path / "bad")
    train(*OVERRIDES, output_dir=tmp_path / "done")
    with pytest.raises(UserError, match="already holds a run"):  # no run overwrites another's folder
        train(*OVERRIDES, output_dir=tmp_path / "done")
    resumed = train(*OVERRIDES, "trainer.max_epochs=2", "resume=true", output_dir=tmp_path / "done")
    assert resumed.metrics["epochs"] == 2  # the same process may continue its own run
