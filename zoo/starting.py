"""A run as one value: its composed config, what Hydra composed it from, and its claimed folder.

Each entry point (train.py and evaluate.py through zoo.cli, the Python API, the sections, the benchmarks)
composes once and starts the run here: the facts of the composition are read from Hydra once, the values
that resolve through Hydra's state (the run folder, the run's name) are fixed, and the folder is claimed.
`zoo.run.train` and `zoo.run.evaluate` receive the `Run`; nothing after the entry point asks Hydra.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from omegaconf import DictConfig, open_dict

from zoo.composing import Composition, compose
from zoo.config import task_config
from zoo.errors import UserError
from zoo.run_folder import RunFolder, is_launched_rank

# Data keys that name a file or folder: stored absolute, so that a run's record (and its checkpoint) names the data
# it read wherever it is evaluated from.
DATA_PATHS = ("path", "root", "cache")


@dataclass(frozen=True)
class Run:
    cfg: DictConfig  # the composed config, without Hydra's own node
    composition: Composition
    folder: RunFolder
    saved: dict  # the config as composed, interpolations kept: what the run folder's .hydra/config.yaml holds

    def choice(self, group: str) -> str | None:
        return self.composition.choice(group)

    @cached_property
    def task(self) -> dict:
        """The config with every value resolved, as plain containers (what the console and the loggers show)."""
        return task_config(self.cfg)


def start(cfg: DictConfig, hydra_node=None) -> Run:
    """The run of a composed config: `hydra_node` is Hydra's own (a command's entry point reads it), or the
    `hydra` node `zoo.composing.compose` left in `cfg`. The folder is claimed (not in a DDP process other
    than the first, which works in the first one's)."""
    if hydra_node is None:
        if "hydra" not in cfg:
            raise UserError("a run needs the config as zoo.composing.compose (or a command) composed it")
        hydra_node = cfg.hydra
    composition = Composition.of(hydra_node)
    try:
        output_dir, run_name = str(Path(cfg.paths.output_dir).resolve()), cfg.get("run_name")
    except Exception as err:  # the folder named through a resolver that fails (a bad ZOO_HOME, say)
        raise UserError(
            f"the run folder cannot be named: {str(err).splitlines()[0]}; pass hydra.run.dir=<folder>"
        ) from err
    with open_dict(cfg):
        cfg.pop("hydra", None)
        cfg.paths.output_dir = output_dir
        if run_name is not None:
            cfg.run_name = run_name
        data = cfg.get("data")
        for key in DATA_PATHS if isinstance(data, DictConfig) else ():
            value = data.get(key)
            if isinstance(value, str) and value and not Path(value).is_absolute():
                data[key] = str(Path(value).resolve())
    folder, saved = RunFolder(output_dir), task_config(cfg, resolve=False)
    if not is_launched_rank():
        folder.claim(saved)
    return Run(cfg, composition, folder, saved)


def compose_run(config_name: str = "train", overrides=(), output_dir=None) -> Run:
    """Compose as the command line does and start the run; its folder is output_dir, or the one the command
    would make."""
    cfg = compose(config_name, list(overrides))
    with open_dict(cfg):
        cfg.paths.output_dir = str(output_dir if output_dir is not None else cfg.hydra.run.dir)
    return start(cfg)
