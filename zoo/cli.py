"""The commands: zoo-train (train.py), zoo-evaluate (evaluate.py) and its modes zoo-predict, zoo-sample, zoo-export
and zoo-demo, zoo-list, zoo-card, zoo-section, zoo-compare.

Each leaves by zoo.way_out: a sentence (exit 2), an interruption (130 / 143) or an internal error that
names its log (exit 3). Inside a Hydra job, `job()` says what ended the job, and in a sweep records it.
"""

from __future__ import annotations

import contextlib
import sys

import hydra

from zoo.composing import CONFIG_DIR, data_overrides_apply_to_any_data
from zoo.errors import EXIT_USER_ERROR, Interrupted, UserError
from zoo.way_out import say, tracebacks, way_out


@contextlib.contextmanager
def job():
    """Inside a Hydra job: what ends it is said here. A single run leaves with its exit status; in a sweep a
    failed job is recorded and the sweep goes on, and an interruption ends the sweep, saying how to go on."""
    import time

    from zoo.sweep import in_sweep, record_job, share_the_cores

    started = time.time()
    share_the_cores()
    try:
        yield
    except SystemExit:
        raise
    except BaseException as err:
        if tracebacks():
            raise
        if not in_sweep():
            sys.exit(say(err))
        from hydra.core.hydra_config import HydraConfig

        hydra_cfg = HydraConfig.get()
        prefix = f"job {hydra_cfg.job.num} ({hydra_cfg.job.override_dirname or 'no overrides'}): "
        if isinstance(err, (Interrupted, KeyboardInterrupt)):
            err = Interrupted(
                f"{err or 'Ctrl-C'}; the later jobs of {hydra_cfg.sweep.dir} did not run: the same command with "
                f"hydra.sweep.dir={hydra_cfg.sweep.dir} runs them (finished jobs are kept as they are)",
                getattr(err, "status", 130),
            )
            record_job("interrupted", str(err), started)
            sys.exit(say(err, prefix))
        if not isinstance(err, UserError):
            from zoo.run_folder import internal_error

            err = internal_error(err)
        status = say(err, prefix)
        record_job("failed" if status == EXIT_USER_ERROR else "crashed", str(err), started)
    else:
        record_job("completed", started=started)


# --- train and evaluate ----------------------------------------------------------------------------------
def _start(cfg):
    """The run of this Hydra job: its composition read from Hydra here, once, and its folder claimed before
    the trainer is imported (a folder that cannot be used is refused at once)."""
    from hydra.core.hydra_config import HydraConfig

    from zoo.starting import start

    return start(cfg, HydraConfig.get())


def _train_task(cfg):
    metrics = {}  # stays empty when the job fails (inside a sweep, the sweep goes on)
    with job():
        run = _start(cfg)
        from zoo.run import train

        metrics = train(run)
    return metrics.get(cfg.optimized_metric)  # what a sweeper optimises (hparams_search=...)


def _evaluate_task(cfg):
    with job():
        run = _start(cfg)
        from zoo.run import evaluate

        evaluate(run)


def _hydra_command(task, config_name: str, argv: list[str] | None) -> None:
    if argv is not None:
        sys.argv[1:] = argv
    if config_name == "evaluate":
        sys.argv[1:] = data_overrides_apply_to_any_data(sys.argv[1:])
    overrides = [a for a in sys.argv[1:] if not a.startswith("-")]
    main = hydra.main(version_base="1.3", config_path=str(CONFIG_DIR), config_name=config_name)(task)
    with way_out(overrides=overrides, config_name=config_name):
        main()


def train_command(argv: list[str] | None = None) -> None:
    """zoo-train [group=option ...] [key=value ...]: what train.py does (python train.py --help)."""
    _hydra_command(_train_task, "train", argv)


def evaluate_command(argv: list[str] | None = None) -> None:
    """zoo-evaluate ckpt_path=PATH [key=value ...]: what evaluate.py does."""
    _hydra_command(_evaluate_task, "evaluate", argv)


def using_command(mode: str):
    """zoo-<mode> ckpt_path=PATH [key=value ...]: evaluate.py mode=<mode> (predict, sample, export, demo)."""

    def command(argv: list[str] | None = None) -> None:
        argv = sys.argv[1:] if argv is None else argv
        if any(a.split("=")[0].lstrip("+") == "mode" for a in argv):
            with way_out():
                raise UserError(f"zoo-{mode} is evaluate.py mode={mode}; leave mode= out (or use zoo-evaluate)")
        evaluate_command([f"mode={mode}", *argv])

    command.__doc__ = f"zoo-{mode} ckpt_path=PATH [key=value ...]: evaluate.py mode={mode}."
    return command


predict_command, sample_command = using_command("predict"), using_command("sample")
export_command, demo_command = using_command("export"), using_command("demo")


# --- the others ----------------------------------------------------------------------------------------------
def list_command(argv: list[str] | None = None) -> None:
    """zoo-list [PATTERN]: every model (or those matching a shell-style pattern, e.g. 'res*') with its network,
    learner and the data it learns from."""
    from rich.console import Console
    from rich.table import Table

    argv = sys.argv[1:] if argv is None else argv
    with way_out():
        from zoo.catalog import list_models

        if len(argv) > 1:
            raise UserError("zoo list takes one pattern at most, e.g. zoo list 'res*' (quote it from the shell)")
        models = list_models(*argv)
        if not models:
            raise UserError(f"no model matches {argv[0]!r}; zoo list names them all")
        table = Table(title="models (zoo-train model=<name> data=<one of its data>)")
        for column in ("model", "network", "learner", "data"):
            table.add_column(column)
        for entry in models.values():
            table.add_row(
                entry.name,
                entry.network.removeprefix("zoo.nets."),
                entry.learner.removeprefix("zoo.learners."),
                ", ".join(entry.data),
            )
        Console().print(table)


def card_command(argv: list[str] | None = None) -> None:
    """zoo-card MODEL: the model's card (docs/models/MODEL.md): its slide, data, recipes, papers and figures."""
    argv = sys.argv[1:] if argv is None else argv
    with way_out():
        if len(argv) != 1:
            raise UserError("name one model: zoo-card <model> (`python -m zoo list` names them)")
        from zoo.cards import card

        print(card(argv[0]), end="")


def section_command(argv: list[str] | None = None) -> None:
    """zoo-section NAME [--scale smoke|default|paper]: one lecture section's report (NAME=all: every one)."""
    from sections.__main__ import main

    with way_out("the section stopped before it wrote its report; run it again"):
        main(argv)


def compare_command(argv: list[str] | None = None) -> None:
    """zoo-compare FOLDER ... [--sort KEY]: one table and the curves of run or sweep folders."""
    from zoo.compare import main

    with way_out():
        main(argv)
