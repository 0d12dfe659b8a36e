"""The tools practitioners use beside the zoo: MLflow and W&B (offline), debug presets, Jupyter, parallel sweeps,
SLURM (and several nodes, simulated on one machine), and what every run shows of itself."""

from __future__ import annotations

import importlib.util
import json
import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import FAST, ROOT, run_cli
from zoo.errors import UserError
from zoo.run import train
from zoo.starting import compose_run

QUICK = [*FAST, "model=mlp", "model.width=16", "trainer.max_epochs=2"]


def test_mlflow_receives_the_parameters_every_epoch_the_final_metrics_and_the_pictures(tmp_path):
    from mlflow.tracking import MlflowClient

    overrides = [
        *QUICK,
        "logger=mlflow",
        "tags=[lecture3,baseline]",
        "model.optimizer.lr=0.003",
        f"paths.log_dir={tmp_path}",
    ]
    metrics = train(compose_run("train", overrides, tmp_path / "run"))
    client = MlflowClient(f"sqlite:///{tmp_path}/mlflow.db")
    [run] = client.search_runs([client.get_experiment_by_name("lecture-zoo").experiment_id])
    params = run.data.params
    assert params["model.optimizer.lr"] == "0.003" and params["model"] == "mlp" and "trainer.max_epochs" in params
    assert not [key for key in params if key.endswith("_target_")]  # what was set, not every constructor
    assert run.data.tags["lecture3"] == "true" and metrics["tags"] == ["lecture3", "baseline"]
    assert len(client.get_metric_history(run.info.run_id, "val/loss")) == 2  # every epoch (the re-validation: final/)
    assert run.data.metrics["final/test/acc"] == pytest.approx(metrics["test/acc"])
    figures = {Path(f.path).name for f in client.list_artifacts(run.info.run_id, "figures")}
    assert {"confusion_matrix.png", "learning_curves.png"} <= figures
    assert "config.yaml" in {f.path for f in client.list_artifacts(run.info.run_id)}


@pytest.mark.skipif(
    importlib.util.find_spec("wandb") is None, reason="wandb is not installed (pip install 'lecture-zoo[wandb]')"
)
def test_wandb_offline_keeps_the_parameters_the_summary_and_the_pictures_in_the_run_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("WANDB_SILENT", "true")
    metrics = train(compose_run("train", [*QUICK, "logger=wandb", "tags=[baseline]"], tmp_path))
    [run] = (tmp_path / "wandb").glob("offline-run-*")
    # wandb keeps an offline run in its own log (what `wandb sync` uploads), protobuf records that hold the
    # parameters' names and the summary's keys as they are; the pictures are files beside it
    [log] = run.glob("run-*.wandb")
    records = log.read_bytes()
    for text in (b"trainer.max_epochs", b"model.width", b"composed_config", b"final/test/acc", b"baseline"):
        assert text in records, text
    pictures = {p.name.split("_")[0] for p in (run / "files" / "media" / "images").rglob("*.png")}
    assert {"confusion", "learning"} <= pictures and metrics["tags"] == ["baseline"]


def test_a_logger_whose_package_is_missing_is_one_sentence_and_many_goes_without_it(tmp_path, monkeypatch):
    from zoo import loggers
    from zoo.run import prepare

    real = importlib.util.find_spec
    monkeypatch.setattr(
        loggers.importlib.util, "find_spec", lambda name, *a: None if name == "mlflow" else real(name, *a)
    )
    with pytest.raises(UserError, match=r"logger=mlflow needs the mlflow package: pip install 'lecture-zoo\[mlflow\]'"):
        prepare(compose_run("train", [*QUICK, "logger=mlflow"], tmp_path / "a"))
    run = prepare(compose_run("train", [*QUICK, "logger=many", f"paths.log_dir={tmp_path}"], tmp_path / "b"))
    kinds = {type(logger).__name__ for logger in run.trainer.loggers}
    assert "MLFlowLogger" not in kinds and "ResumableCSVLogger" in kinds


@pytest.mark.skipif(importlib.util.find_spec("mlflow") is None, reason="needs mlflow")
def test_an_mlflow_store_that_cannot_be_used_is_one_sentence(tmp_path):
    from zoo.run import prepare

    text = tmp_path / "notes.db"
    text.write_text("my notes, not a database")
    for uri, sentence in ((f"sqlite:///{text}", "is not an SQLite database"),
                          ("sqlite:////proc/zoo/mlflow.db", "cannot be used (FileNotFoundError")):  # fmt: skip
        with pytest.raises(UserError, match=re.escape(sentence)) as refused:
            prepare(
                compose_run("train", [*QUICK, "logger=mlflow", f"logger.mlflow.tracking_uri={uri}"], tmp_path / "r")
            )
        assert "\n" not in str(refused.value) and "logger.mlflow.tracking_uri" in str(refused.value)
    assert text.read_text() == "my notes, not a database"


@pytest.mark.slow  # two processes side by side
@pytest.mark.skipif(importlib.util.find_spec("mlflow") is None, reason="needs mlflow")
def test_two_runs_creating_one_mlflow_store_at_once_both_finish(tmp_path):
    args = [*QUICK, "logger=mlflow", f"paths.log_dir={tmp_path}"]
    env = os.environ | {"OMP_NUM_THREADS": "1"}
    started = [subprocess.Popen([sys.executable, str(ROOT / "train.py"), *args, f"hydra.run.dir={tmp_path}/run{i}"],
                                cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
               for i in range(2)]  # fmt: skip
    for process in started:
        out, err = process.communicate(timeout=300)
        assert process.returncode == 0, err[-1500:]
    from mlflow.tracking import MlflowClient

    client = MlflowClient(f"sqlite:///{tmp_path}/mlflow.db")
    experiment = client.get_experiment_by_name("lecture-zoo")
    assert len(client.search_runs([experiment.experiment_id])) == 2


@pytest.mark.parametrize("preset", ["default", "fdr", "overfit", "limit", "profiler"])
def test_each_debug_preset_runs(tmp_path, preset):
    metrics = train(compose_run("train", ["model=mlp", f"debug={preset}", "callbacks.progress_bar=null",
                                      "extras.print_config=false"], tmp_path))  # fmt: skip
    assert "test/acc" in metrics
    if preset == "profiler":
        report = tmp_path / "fit-profile.txt"
        assert report.is_file() and "run_training_epoch" in report.read_text()
    if preset == "overfit":
        history = json.loads((tmp_path / "history.json").read_text())
        assert history["train/loss"][-1] < history["train/loss"][0] / 3  # three batches, learnt by heart


@pytest.mark.slow  # a process of its own; the default run's silence is held in the fast suite (test_house.py)
def test_trainer_debug_prints_no_warning(tmp_path):
    result = run_cli("train.py", "trainer=debug", f"hydra.run.dir={tmp_path}")
    assert result.returncode == 0 and result.stderr.strip() == "", result.stderr[-2000:]


@pytest.mark.slow  # three processes at once (the sweep and its two jobs): they would crowd the fast suite's two workers
def test_a_sweep_runs_its_jobs_side_by_side_with_joblib_each_on_its_share_of_the_cores(tmp_path):
    result = run_cli("train.py", "-m", "hydra/launcher=joblib", "hydra.launcher.n_jobs=2", *QUICK,
                     "trainer.max_epochs=4", "data.batch_size=16", "model.activation=tanh,relu",
                     f"hydra.sweep.dir={tmp_path}")  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    jobs = json.loads((tmp_path / "summary.json").read_text())
    assert [job["status"] for job in jobs] == ["completed", "completed"]
    first, second = sorted(jobs, key=lambda job: job["started"])
    assert second["started"] < first["ended"]  # they ran at the same time


def test_the_slurm_launcher_without_slurm_is_one_sentence_with_or_without_a_sweep(tmp_path):
    for args in (["-m", "hydra/launcher=slurm", "model.activation=tanh,relu"], ["hydra/launcher=slurm"]):
        result = run_cli("train.py", *args, *QUICK, f"hydra.sweep.dir={tmp_path}/s", f"hydra.run.dir={tmp_path}/r")
        lines = result.stderr.strip().splitlines()
        assert result.returncode == 2 and len(lines) == 1 and lines[0].startswith("error: hydra/launcher=slurm"), (
            result.stderr
        )
    assert not (tmp_path / "r" / "metrics.json").exists()


def test_a_run_shows_its_curves_its_config_and_its_tags_or_no_pictures_when_asked(tmp_path, capsys):
    metrics = train(compose_run("train", [*QUICK[:-1], "trainer.max_epochs=3", "extras.print_config=true", "tags=[x]"],
                            tmp_path))  # fmt: skip
    out = capsys.readouterr().out
    assert "config of" in out and "width: 16" in out  # the composed config as a tree, at the start
    assert (tmp_path / "learning_curves.png").stat().st_size > 1000 and metrics["tags"] == ["x"]
    history = json.loads((tmp_path / "history.json").read_text())
    assert len(history["val/loss"]) == len(history["train/loss"]) == metrics["epochs"] == 3  # one entry an epoch
    assert (tmp_path / "confusion_matrix.png").is_file()  # the learner's own pictures
    train(compose_run("train", [*QUICK, "extras.print_config=false", "extras.figures=false"], tmp_path / "quiet"))
    assert "config of" not in capsys.readouterr().out
    assert not list((tmp_path / "quiet").glob("*.png"))  # a run that draws nothing, e.g. one of a sweep


def test_the_apis_own_run_folder_is_no_override_of_the_user(tmp_path):
    from omegaconf import OmegaConf

    from zoo import api

    run = api.train(*QUICK, output_dir=tmp_path / "api")
    assert [o for o in OmegaConf.load(run.dir / ".hydra" / "overrides.yaml") if "hydra" in o or "dir" in o] == []


def test_the_progress_bar_is_plain_in_a_notebook_without_widgets(monkeypatch):
    from zoo import callbacks

    monkeypatch.setattr(callbacks, "notebook_without_widgets", lambda: True)
    assert callbacks.EpochProgressBar()._console_kwargs == {"force_jupyter": False}
    monkeypatch.setattr(callbacks, "notebook_without_widgets", lambda: False)
    assert not callbacks.EpochProgressBar()._console_kwargs


@pytest.mark.slow
def test_the_quickstart_notebook_runs_in_a_real_kernel_and_shows_progress_and_summary(tmp_path):
    import nbformat
    from nbclient import NotebookClient

    notebook = nbformat.read(ROOT / "notebooks" / "quickstart.ipynb", as_version=4)
    assert all(not cell.get("outputs") for cell in notebook.cells)  # committed with its outputs cleared
    NotebookClient(
        notebook, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    ).execute()
    outputs = [o for cell in notebook.cells if cell.cell_type == "code" for o in cell.outputs]
    shown = json.dumps(outputs)
    assert "test/acc" in shown and "run folder" in shown  # the summary table
    assert "application/vnd.jupyter.widget-view+json" in shown or "Epoch" in shown  # the progress
    assert "ipywidgets" not in shown and not [o for o in outputs if o.get("output_type") == "error"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_two_simulated_nodes_train_like_one_process_with_the_global_batch(tmp_path):
    common = ["trainer=ddp_cpu", "trainer.devices=1", "trainer.num_nodes=2", "data.batch_size=32", "callbacks=none",
              "trainer.max_epochs=3", "extras.print_config=false", f"hydra.run.dir={tmp_path}/nodes"]  # fmt: skip
    port = free_port()
    nodes = []
    for rank in (0, 1):
        cluster = {"MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(port), "WORLD_SIZE": "2", "NODE_RANK": str(rank)}
        env = {**os.environ, **cluster, "LOCAL_RANK": "0", "OMP_NUM_THREADS": "1"}
        nodes.append(subprocess.Popen([sys.executable, str(ROOT / "train.py"), *common], cwd=ROOT, env=env,
                                      stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))  # fmt: skip
    for node in nodes:
        _, err = node.communicate(timeout=600)
        assert node.returncode == 0, err[-3000:]
    spread = json.loads((tmp_path / "nodes" / "metrics.json").read_text())
    assert spread["world_size"] == 2 and list((tmp_path / "nodes").glob("metrics*.json")) == [
        tmp_path / "nodes" / "metrics.json"
    ]
    one = run_cli("train.py", "trainer=cpu", "data.batch_size=64", "callbacks=none", "trainer.max_epochs=3",
                  f"hydra.run.dir={tmp_path}/one")  # fmt: skip
    assert one.returncode == 0, one.stderr[-2000:]
    single = json.loads((tmp_path / "one" / "metrics.json").read_text())
    assert abs(spread["test/acc"] - single["test/acc"]) < 0.03 and spread["train_steps"] == single["train_steps"]


@pytest.mark.slow
def test_a_sweep_through_submitits_local_executor(tmp_path):
    result = run_cli("train.py", "-m", "hydra/launcher=submitit_local", *QUICK, "model.activation=tanh,relu",
                     f"hydra.sweep.dir={tmp_path}")  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    assert [job["status"] for job in json.loads((tmp_path / "summary.json").read_text())] == ["completed", "completed"]


def test_two_runs_into_one_csv_log_folder_is_one_sentence_before_any_work(tmp_path):
    """The CSV log appends to the metrics.csv it finds only when a run resumes; another run's is refused."""
    shared = f"logger.csv.save_dir={tmp_path / 'logs'}"
    train(compose_run("train", [*FAST, "model=perceptron", "data=moons", "logger=csv", shared], tmp_path / "a"))
    with pytest.raises(UserError, match=r"already holds another run's metrics; a run's CSV log needs a folder"):
        train(compose_run("train", [*QUICK, "logger=csv", shared], tmp_path / "b"))
    assert not (tmp_path / "b" / "checkpoints").exists()
