"""A run folder belongs to one run: `claim` is the one door into it.

Every run passes it before anything is written into its folder: a single run, each job of a sweep
(whatever launcher runs it), evaluate.py and the Python API. The folder must be writable, not in use
by a live process (a lock the kernel drops when the process dies, so a killed run leaves nothing
stuck), and hold no other run, unless resume=true continues that run, with a compatible config, to
train it longer. The claim writes nothing: once every check of the run has passed, `record` writes
`.hydra/` and opens the run's log. Hydra's own writing is switched off (`hydra.output_subdir: null`) and
its file log (`ClaimedFileHandler`) holds its lines until then, so a refused command leaves no trace.
Whatever goes wrong while checking refuses the folder with a sentence that names it: the claim fails
closed.
"""

from __future__ import annotations

import fcntl
import glob
import logging
import os
import shutil
import tempfile
import weakref
from pathlib import Path

from hydra.experimental.callback import Callback
from hydra.types import RunMode
from omegaconf import OmegaConf

from zoo.config import config_changes
from zoo.errors import InternalError, Refusal, UserError
from zoo.files import write_whole

# Keys a resumed run may change: how long and where it runs, what it logs. Anything else (model, data,
# seed, the optimisation) would continue one run with the weights and state of another.
RESUMABLE_CHANGES = (
    "resume",
    "ckpt_path",
    "test",
    "compile",
    "channels_last",
    "trainer.max_epochs",
    "trainer.max_steps",
    "trainer.min_epochs",
    "trainer.accelerator",
    "trainer.devices",
    "trainer.num_nodes",
    "trainer.strategy",
    "trainer.precision",
    "trainer.sync_batchnorm",
    "callbacks",
    "logger",
    "tags",
    "run_name",  # a label; older runs stored it as an interpolation of the choices
    "extras",
    "paths",  # where it runs: a run folder may have been moved, or ZOO_HOME changed
)
_held_locks: dict[Path, int] = {}  # folder -> the descriptor its lock is held on, for as long as the process


class RunFolder:
    """A run's folder and its whole layout: every path inside a run folder is named here and nowhere else."""

    # what a run leaves, in the order docs/configs.md lists it; {task} is train or evaluate
    LAYOUT = {
        ".hydra/config.yaml": "the composed config: what evaluate.py, resume=true and zoo-compare read back",
        ".hydra/overrides.yaml": "the command line's overrides",
        ".hydra/hydra.yaml": "Hydra's own settings of the run",
        "<task>.log": "the run's log: Lightning's notes, warnings, and the traceback of a fault of the zoo",
        ".lock": "the process that holds the folder while it runs (the lock itself is the kernel's)",
        "checkpoints/best.ckpt": "the weights of the best validation epoch (what the test split measures)",
        "checkpoints/last.ckpt": "the last epoch's whole state (a link to best.ckpt when they are one); resume=true",
        "metrics.json": "the final metrics, the fit time, the recipe, the seed and the versions (written last)",
        "history.json": "the per-epoch curves of every logged metric",
        "learning_curves.png": "the losses and the main validation metric by epoch",
        "csv/": "the CSV logger's metrics.csv (tensorboard/, wandb/ with those loggers)",
        "predictions.csv": "evaluate.py mode=predict: each input, its prediction (or why it was skipped)",
        "predictions.png": "evaluate.py mode=predict on images: the first images with their predicted classes",
        "sampled/": "evaluate.py mode=sample: the samples as PNG images (sampled/samples.csv: points)",
        "sampled.png": "evaluate.py mode=sample: a grid (or a scatter) of the samples",
        "model.onnx": "evaluate.py mode=export: the network (model.pt for format=torchscript, model.pt2 for exported)",
        "serving.json": "evaluate.py mode=export: what serving an input needs (shape, statistics, classes, vocabulary)",
    }

    def __init__(self, path):
        self.path = Path(path)

    def __repr__(self) -> str:
        return f"RunFolder({str(self.path)!r})"

    def __str__(self) -> str:
        return str(self.path)

    hydra_dir = property(lambda self: self.path / ".hydra")
    config = property(lambda self: self.path / ".hydra" / "config.yaml")
    overrides = property(lambda self: self.path / ".hydra" / "overrides.yaml")
    hydra_config = property(lambda self: self.path / ".hydra" / "hydra.yaml")
    lock_file = property(lambda self: self.path / ".lock")
    checkpoints = property(lambda self: self.path / "checkpoints")
    best = property(lambda self: self.path / "checkpoints" / "best.ckpt")
    last = property(lambda self: self.path / "checkpoints" / "last.ckpt")
    metrics = property(lambda self: self.path / "metrics.json")
    history = property(lambda self: self.path / "history.json")
    learning_curves = property(lambda self: self.path / "learning_curves.png")
    predictions = property(lambda self: self.path / "predictions.csv")
    predictions_picture = property(lambda self: self.path / "predictions.png")
    sampled = property(lambda self: self.path / "sampled")
    sampled_picture = property(lambda self: self.path / "sampled.png")
    serving = property(lambda self: self.path / "serving.json")

    def exported(self, format: str) -> Path:
        """The exported network's file, by format."""
        return self.path / {"onnx": "model.onnx", "torchscript": "model.pt", "exported": "model.pt2"}[format]

    @staticmethod
    def runs_below(folder: Path) -> list[Path]:
        """The finished runs' folders below a folder (a sweep's, say)."""
        return [path.parent for path in Path(folder).rglob(RunFolder(folder).metrics.name) if path.is_file()]

    def log(self, task: str) -> Path:
        return self.path / f"{task}.log"

    def holds_a_run(self) -> list[str]:
        """What a run that did work leaves here (a refused one leaves at most .hydra/)."""
        return [p.name for p in (self.checkpoints, self.metrics) if p.exists() or p.is_symlink()]

    def claim(self, task_cfg: dict) -> None:
        """Take the folder for this run (see the module's docstring): checks and a lock; nothing is written."""
        claim(self.path, task_cfg)

    def record(self, task_cfg: dict, composition) -> None:
        """Once every check of the run has passed: who holds the folder, its `.hydra/`, and its log from here on."""
        for stale in glob.glob(str(self.checkpoints / ".*.partial")):  # left by a kill during a save
            os.remove(stale)
        note_holder(self.path)
        write_whole(self.config, OmegaConf.to_yaml(OmegaConf.create(task_cfg)))
        write_whole(self.overrides, OmegaConf.to_yaml(OmegaConf.create(list(composition.overrides))))
        write_whole(self.hydra_config, OmegaConf.to_yaml(OmegaConf.create({"hydra": composition.hydra})))
        ClaimedFileHandler.open_in(self.path)


def is_launched_rank() -> bool:
    """A DDP process other than the first: it re-runs the command in the first one's folder."""
    return any(os.environ.get(name, "0") != "0" for name in ("LOCAL_RANK", "RANK", "SLURM_PROCID", "NODE_RANK"))


def require_writable(folder: Path) -> None:
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as err:
        raise UserError(
            f"cannot write the run folder {folder} ({err.strerror or err}); pass hydra.run.dir=<a folder you can write>"
        ) from err


def lock(folder: Path, what: str = "run") -> None:
    """Hold a lock on the folder itself for the life of this process; another holder means another process is
    using it. The folder is not changed by taking it (a refused run writes nothing): the holder's pid is
    noted in .lock only once the folder is claimed (`note_holder`)."""
    if folder.resolve() in _held_locks:  # this process's own earlier run (the Python API, a sweep's jobs)
        return
    handle = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError as err:
        os.close(handle)
        try:
            holder = RunFolder(folder).lock_file.read_text().strip() or "another process"
        except OSError:
            holder = "another process"
        raise UserError(
            f"the {what} folder {folder} is in use by a {what} that is still going ({holder}); wait for it to end "
            f"or pass another hydra.{what}.dir"
        ) from err
    _held_locks[folder.resolve()] = handle


def note_holder(folder: Path) -> None:
    """Who holds the folder, for the sentence another process gets while this one runs."""
    write_whole(RunFolder(folder).lock_file, f"pid {os.getpid()}")


def _allowed(key: str) -> bool:
    return any(key == allowed or key.startswith(f"{allowed}.") for allowed in RESUMABLE_CHANGES)


def saved_config(folder: Path) -> dict:
    """The config a run folder's run was started with; a missing or damaged file refuses the resume."""
    saved = RunFolder(folder).config
    try:
        old = OmegaConf.to_container(OmegaConf.load(saved), resolve=False)
    except Exception as err:  # missing, a folder, not YAML: the same for the run that would continue
        raise UserError(
            f"resume=true cannot continue the run in {folder}: its {saved} cannot be read "
            f"({type(err).__name__}), so this config cannot be compared with the run's; start a new run"
        ) from err
    if not isinstance(old, dict):
        raise UserError(f"resume=true cannot continue the run in {folder}: its {saved} holds no config mapping")
    return old


def check_owner(folder: Path, task_cfg: dict) -> list[str]:
    """A folder that holds a run is continued only by resume=true with the same model, data and seed;
    returns the changed keys of a resume."""
    held = RunFolder(folder).holds_a_run()
    if not held:
        return []
    if not task_cfg.get("resume") or task_cfg.get("task_name") != "train":
        raise UserError(
            f"the run folder {folder} already holds a run ({', '.join(held)}); resume=true continues it, "
            f"or pass another hydra.run.dir"
        )
    changes = config_changes(saved_config(folder), task_cfg)
    refused = [k for k in changes if not _allowed(k)]
    if refused:
        shown = "; ".join(f"{k}: {changes[k][0]!r} -> {changes[k][1]!r}" for k in refused[:5])
        raise UserError(
            f"resume=true would continue the run in {folder} with another config ({shown}); only "
            f"how long and where it runs may change (trainer.max_epochs, trainer.devices, ...); "
            f"start a new run for the rest"
        )
    if "metrics.json" in held and not {"trainer.max_epochs", "trainer.max_steps"} & set(changes):
        raise UserError(
            f"the run in {folder} is finished, and resume=true only continues a run to train it longer: raise "
            f"trainer.max_epochs (or trainer.max_steps), or evaluate its checkpoint with evaluate.py"
        )
    return list(changes)


def claim(folder: Path, task_cfg: dict) -> None:
    """Take the run folder for this run (see the module's docstring): checks and a lock; nothing is written."""
    folder = Path(folder)
    try:
        require_writable(folder)
        lock(folder)
        changes = check_owner(folder, task_cfg)
    except UserError:
        raise
    except Exception as err:  # whatever the folder holds instead of what a run leaves: refuse, never go on
        raise UserError(
            f"the run folder {folder} cannot be checked ({type(err).__name__}: {err}); it was left as it is: "
            f"pass another hydra.run.dir"
        ) from err
    if changes:
        print(f"resuming {folder} with changes: {', '.join(changes)}", flush=True)


class ClaimedFileHandler(logging.Handler):
    """Hydra's file log of a run: lines wait in memory until the run claims its folder, then go to `filename`
    (appended: a resumed run's log goes on); a run that is refused writes nothing there."""

    _live: weakref.WeakSet = weakref.WeakSet()
    PENDING = 10_000  # lines kept before the claim, at most

    def __init__(self, filename: str, mode: str = "a", encoding: str | None = None):
        super().__init__()
        self.filename, self.mode, self.encoding = str(filename), mode, encoding
        self.pending: list[logging.LogRecord] = []
        self.file: logging.FileHandler | None = None
        ClaimedFileHandler._live.add(self)

    def emit(self, record: logging.LogRecord) -> None:
        if self.file is not None:
            self.file.emit(record)
        elif len(self.pending) < self.PENDING:
            self.pending.append(record)

    @property
    def path(self) -> Path | None:
        return Path(self.filename) if self.file is not None else None

    @classmethod
    def open_in(cls, folder: Path) -> None:
        for handler in list(cls._live):
            if handler.file is None and Path(handler.filename).parent.resolve() == folder.resolve():
                handler.file = logging.FileHandler(handler.filename, handler.mode, handler.encoding)
                handler.file.setFormatter(handler.formatter)
                for record in handler.pending:
                    handler.file.emit(record)
                handler.pending.clear()

    @classmethod
    def log_file(cls) -> Path | None:
        """The log file of the run this process is in, if it claimed one."""
        return next((h.path for h in cls._live if h.path is not None), None)

    def close(self) -> None:
        if self.file is not None:
            self.file.close()
            self.file = None  # a closed run's log is no longer this process's
        super().close()


def refuse_slurm_without_slurm(config) -> None:
    """hydra/launcher=slurm where there is no SLURM, or without -m (Hydra would train here, unasked), is a sentence."""
    if not str(config.hydra.launcher.get("_target_", "")).endswith("SlurmLauncher"):
        return
    if config.hydra.mode != RunMode.MULTIRUN:
        raise Refusal("hydra/launcher=slurm sends the jobs of a sweep to SLURM: run with -m (on a machine with sbatch)")
    if shutil.which("sbatch") is None:
        raise Refusal(
            "hydra/launcher=slurm needs SLURM's sbatch, which this machine does not have; "
            "hydra/launcher=submitit_local runs the same jobs here through submitit"
        )


class RunFolderWritable(Callback):
    """Before Hydra makes a single run's folder: it must be writable (the claim, in the run, does the rest).

    Hydra turns what a callback raises into a warning, except SystemExit: every failure here, whatever it
    is, leaves as a Refusal, so the check cannot fail open."""

    def on_run_start(self, config, **kwargs) -> None:
        if is_launched_rank():
            return
        refuse_slurm_without_slurm(config)
        folder = "the run folder"
        try:
            from hydra.core.hydra_config import HydraConfig

            HydraConfig.instance().set_config(config)  # what Hydra does next, so that hydra.run.dir resolves
            folder = str(OmegaConf.select(config, "hydra.run.dir"))
            require_writable(Path(folder))
        except UserError as err:
            raise Refusal(str(err)) from err
        except Exception as err:
            raise Refusal(
                f"{folder} cannot be checked as a run folder ({type(err).__name__}: {err}); pass "
                f"hydra.run.dir=<a folder you can write>"
            ) from err


def internal_error(err: BaseException) -> InternalError:
    """A fault of the zoo: its traceback goes to this run's log (or a temporary file); returns the one line."""
    import traceback

    log = ClaimedFileHandler.log_file()
    text = "".join(traceback.format_exception(type(err), err, err.__traceback__))
    try:
        if log is None:
            handle, name = tempfile.mkstemp(prefix="zoo-internal-error-", suffix=".log")
            os.close(handle)
            log = Path(name)
        with open(log, "a") as file:
            file.write(f"internal error, traceback:\n{text}")
    except OSError:
        log = Path("(nowhere: the log could not be written; set HYDRA_FULL_ERROR=1 to see it here)")
    first = (str(err).strip().splitlines() or [""])[0][:200]
    return InternalError(
        f"{type(err).__name__}: {first} (a fault of the zoo, not of what was asked; please report it with the "
        f"traceback in {log})"
    )
