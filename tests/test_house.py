"""The house: a family is added without touching the trainer, no import circle, a quiet console, one registry."""

import ast
import json
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.conftest import ROOT, run_cli

# A family the zoo has never seen: linear regression on generated 1-D points, in its own package and
# config folder outside the project (a network, a learner, a datamodule and two configs).
TOY_FILES = {
    "toyfamily/__init__.py": "",
    "toyfamily/nets.py": '''
        from torch import nn

        from typing import Annotated

        from zoo.ranges import Range

        class Line(nn.Module):
            """y = w x + b, through hidden layers of `features` units when there are any (a list, unlike the
            DCGAN's `features`, an int)."""

            def __init__(self, in_features: int, features: Annotated[list[int], Range(1, 10**5)] = (), out: int = 1):
                super().__init__()
                sizes = [in_features, *features, out]
                layers = [nn.Linear(a, b) for a, b in zip(sizes, sizes[1:])]
                self.layers = nn.Sequential(*layers)

            def forward(self, x):
                return self.layers(x).squeeze(-1)
    ''',
    "toyfamily/learner.py": '''
        from typing import Annotated

        import torch.nn.functional as F

        from zoo.learners.base import Learner
        from zoo.ranges import Range

        class Regression(Learner):
            """Least squares, plus alpha times the squared weights (its alpha goes to 10, the flow's below 0.5)."""

            data_kinds = ("lines",)

            @classmethod
            def net_sizes(cls, data):
                return {"in_features": data.input_shape[0]}

            def __init__(self, net, data, optimizer, scheduler=None, scheduler_interval: str = "epoch",
                         alpha: Annotated[float, Range(0, 10)] = 0.0, beta: Annotated[float, Range(0, 1)] = 0.5):
                super().__init__(net, data, optimizer, scheduler, scheduler_interval)
                self.alpha, self.beta = alpha, beta

            def _step(self, batch, split):
                x, y = batch
                loss = F.mse_loss(self(x), y) + self.alpha * sum((p**2).sum() for p in self.net.parameters())
                self.accumulate(split, len(y), loss=loss)
                return loss

            def forward(self, x):
                return self.net(x)
    ''',
    "toyfamily/data.py": '''
        import torch

        from datamodules.base import InMemoryDataModule, TensorSplit
        from datamodules.description import DataDescription

        class LineDataModule(InMemoryDataModule):
            """y = slope x + intercept + noise, x ~ N(0, 1)."""

            kind = "lines"

            def __init__(self, slope: float = 3.0, intercept: float = -1.0, n: int = 600, batch_size: int = 32,
                         seed: int = 0):
                super().__init__(batch_size, seed)
                self.slope, self.intercept, self.n = slope, intercept, n

            @property
            def description(self):
                return DataDescription("lines", input_shape=[1])

            def load(self):
                g = torch.Generator().manual_seed(self.seed)
                x = torch.randn(self.n, 1, generator=g)
                y = self.slope * x[:, 0] + self.intercept + 0.1 * torch.randn(self.n, generator=g)
                cut = [0, self.n * 7 // 10, self.n * 8 // 10, self.n]
                return {s: TensorSplit(x[a:b], y[a:b]) for s, a, b in zip(("train", "val", "test"), cut, cut[1:])}
    ''',
    "configs/model/toy_line.yaml": """
        defaults:
          - optimizer: sgd
          - _self_
        learner: toyfamily.learner.Regression
        _target_: toyfamily.nets.Line
        features: []
        alpha: 0.0
        beta: 0.5
        optimizer:
          lr: 0.1
    """,
    "configs/model/optimizer/sgd.yaml": """
        _target_: torch.optim.SGD
        _partial_: true
        lr: 0.1
    """,
    "configs/data/toy_line.yaml": """
        _target_: toyfamily.data.LineDataModule
        slope: 3.0
        batch_size: 32
    """,
}


def test_a_new_family_trains_and_evaluates_without_editing_the_zoo(tmp_path):
    for name, text in TOY_FILES.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(textwrap.dedent(text))
    before = subprocess.run(["git", "status", "--porcelain"], cwd=ROOT, capture_output=True, text=True).stdout
    extra = [f"hydra.searchpath=[file://{tmp_path}/configs]", "trainer=cpu", "callbacks=none"]
    train = run_cli(
        "train.py",
        "model=toy_line",
        "data=toy_line",
        "trainer.max_epochs=15",
        "callbacks=default",
        "callbacks.early_stopping=null",
        *extra,
        f"hydra.run.dir={tmp_path}/run",
        pythonpath=tmp_path,
    )
    assert train.returncode == 0, train.stderr[-2000:]
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    history = json.loads((tmp_path / "run" / "history.json").read_text())
    assert history["train/loss"][-1] < history["train/loss"][0] / 50  # it learns the line
    assert metrics["test/loss"] < 0.05  # the noise alone is 0.01

    evaluate = run_cli(
        "evaluate.py",
        f"ckpt_path={tmp_path}/run/checkpoints/best.ckpt",
        "trainer=cpu",
        f"hydra.run.dir={tmp_path}/eval",
        extra[0],  # the family's configs: a checkpoint may name only classes the config tree offers
        pythonpath=tmp_path,
    )
    assert evaluate.returncode == 0, evaluate.stderr[-2000:]
    evaluated = json.loads((tmp_path / "eval" / "metrics.json").read_text())
    assert abs(evaluated["test/loss"] - metrics["test/loss"]) < 1e-6
    after = subprocess.run(["git", "status", "--porcelain"], cwd=ROOT, capture_output=True, text=True).stdout
    assert after == before  # no file of the zoo was touched

    # the pair that cannot work is one sentence naming both and what would
    wrong = run_cli(
        "train.py", "model=toy_line", "data=digits", *extra, f"hydra.run.dir={tmp_path}/wrong", pythonpath=tmp_path
    )
    assert wrong.returncode == 2 and "model toy_line learns from lines, but data=digits holds images" in wrong.stderr


def test_a_new_familys_options_are_checked_by_its_own_declarations(tmp_path, monkeypatch):
    """Options named like other families' get the new family's rules, with no edit outside its files."""
    from zoo.errors import UserError
    from zoo.run import prepare

    for name, text in TOY_FILES.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(textwrap.dedent(text))
    monkeypatch.syspath_prepend(str(tmp_path))
    base = [
        "model=toy_line",
        "data=toy_line",
        "trainer=cpu",
        "callbacks=none",
        f"hydra.searchpath=[file://{tmp_path}/configs]",
    ]
    accepted = ["model.alpha=5", "model.features=[32,64]", "model.beta=0.25"]  # alpha > 0.5 would be wrong for a flow
    from zoo.starting import compose_run

    run = prepare(compose_run("train", [*base, *accepted], tmp_path / "run"))
    assert run.model.alpha == 5 and run.model.beta == 0.25 and len(run.model.net.layers) == 3
    for override, sentence in (
        ("model.alpha=11", "model.alpha must be a number in [0, 10], got 11"),
        ("model.beta=2", "model.beta must be a number in [0, 1], got 2"),
        ("model.features=7", "model.features must be a list of integers, got 7"),
        (
            "model.features=[32,0]",
            "model.features must be a list of integers from 1 to 10^5, e.g. [32, 64], got [32, 0]",
        ),
        ("+model.gamma=1", "model.gamma is not an option here"),
    ):
        with pytest.raises(UserError, match=re.escape(sentence)):
            prepare(compose_run("train", [*base, override], tmp_path / "refused"))


def is_module(name: str) -> bool:
    path = ROOT.joinpath(*name.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def internal_imports(path: Path, module: str) -> set[str]:
    """Modules of this project that a file imports, at the top or inside functions."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [f"{node.module}.{a.name}" for a in node.names]
            if not all(is_module(name) for name in names):  # `from zoo.x import f` needs zoo.x itself
                names.append(node.module)
        elif isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        else:
            continue
        found |= {n for n in names if n.split(".")[0] in PACKAGES}
    return found - {module}


PACKAGES = ("zoo", "datamodules", "sections", "hydra_plugins", "train", "evaluate")
# The house, top to bottom: a module imports modules of its own layer and of the layers below, never above.
LAYERS = {
    "entry points and sections": ["train", "evaluate", "zoo", "zoo.cli", "zoo.__main__", "zoo.compare", "sections",
                                  "hydra_plugins"],
    "run and api": ["zoo.run", "zoo.api", "zoo.starting", "zoo.build", "zoo.catalog", "zoo.cards", "zoo.serving",
                    "zoo.exporting", "zoo.demo_page"],
    "learners": ["zoo.learners"],
    "metrics": ["zoo.metrics"],
    "nets and datamodules": ["zoo.nets", "datamodules"],
    "ground": ["zoo.errors", "zoo.files", "zoo.ranges", "zoo.options", "zoo.config", "zoo.composing",
               "zoo.offered", "zoo.checkpoint", "zoo.run_folder",
               "zoo.sweep", "zoo.signals", "zoo.callbacks", "zoo.loggers", "zoo.plots", "zoo.search", "zoo.way_out",
               "zoo.records", "zoo.tables"],
}  # fmt: skip


def project_modules() -> dict[str, Path]:
    paths = [ROOT / "train.py", ROOT / "evaluate.py"]
    for package in ("zoo", "datamodules", "sections", "hydra_plugins"):
        paths += [p for p in (ROOT / package).glob("**/*.py") if "configs" not in p.parts]
    return {".".join(p.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__"): p for p in paths}


def layer(module: str) -> int:
    """The layer's place from the top (0), by the longest name in LAYERS that the module is or lies under."""
    matches = [(len(name), depth) for depth, names in enumerate(LAYERS.values()) for name in names
               if module == name or (module.startswith(f"{name}.") and name != "zoo")]  # fmt: skip
    assert matches, f"{module} is in no layer of the house: add it to LAYERS where it belongs"
    return max(matches)[1]


def test_layers_import_only_downward():
    modules = project_modules()
    upward = []
    for module, path in modules.items():
        for imported in internal_imports(path, module):
            if imported in modules and layer(imported) < layer(module):
                upward.append(
                    f"{module} ({list(LAYERS)[layer(module)]}) imports {imported} ({list(LAYERS)[layer(imported)]})"
                )
    assert upward == [], "\n".join(upward)


def test_no_import_circle():
    modules = project_modules()
    graph = {m: {i for i in internal_imports(p, m) if i in modules} for m, p in modules.items()}

    def visit(node, stack):
        if node in stack:
            return stack[stack.index(node) :] + [node]
        for nxt in graph[node]:
            if cycle := visit(nxt, [*stack, node]):
                return cycle
        return None

    for module in graph:
        assert visit(module, []) is None, f"import circle: {' -> '.join(visit(module, []))}"


def test_a_default_run_prints_no_warning(tmp_path):
    """The plain command, its run folder named by the default (ZOO_HOME/outputs/train/<time>_<name>)."""
    result = run_cli("train.py", "trainer.max_epochs=1", cwd=tmp_path, env={"ZOO_HOME": str(tmp_path)})
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stderr.strip() == "", result.stderr  # not one warning line
    assert "run folder:" in result.stdout and "test/acc" in result.stdout
    assert len(list((tmp_path / "outputs" / "train").glob("*_mlp_digits/metrics.json"))) == 1


def test_a_home_or_working_folder_that_cannot_be_written_is_one_sentence(tmp_path):
    a_file = tmp_path / "a_file"
    a_file.write_text("not a folder")
    for cwd, home in ((tmp_path, "/proc/zoo"), (tmp_path, str(a_file)), (Path("/proc"), "")):
        result = run_cli("train.py", "trainer.max_epochs=1", cwd=cwd, env={"ZOO_HOME": home})
        lines = result.stderr.strip().splitlines()
        assert result.returncode == 2 and len(lines) == 1, (home, cwd, result.stderr[-1500:])
        assert lines[0].startswith("error: cannot write the run folder") and "hydra.run.dir=" in lines[0], lines


def test_every_model_preset_is_listed_with_the_data_it_learns_from():
    from zoo.catalog import list_models

    models = list_models()
    assert set(models) == {p.stem for p in (ROOT / "configs" / "model").glob("*.yaml")}
    assert models["plainnet"].learner == "zoo.learners.classify.Classifier"  # through its defaults list
    assert models["lstm_lm"].data_kinds == ("tokens",) and "wikitext2" in models["lstm_lm"].data
    assert "ring" in models["gan"].data and "longrange" not in models["gan"].data
    listing = subprocess.run([sys.executable, "-m", "zoo", "list"], cwd=ROOT, capture_output=True, text=True)
    assert listing.returncode == 0 and "realnvp" in listing.stdout and "Flow" in listing.stdout
    only = subprocess.run([sys.executable, "-m", "zoo", "list", "res*"], cwd=ROOT, capture_output=True, text=True)
    assert only.returncode == 0 and "│ resnet" in only.stdout and "realnvp" not in only.stdout


def test_the_listing_read_from_source_says_what_importing_the_classes_says():
    """The catalogue reads the configs as YAML and the classes' attributes from their source (a listing at once);
    composing every preset and importing every class must give the same table."""
    import hydra

    from datamodules.description import KINDS
    from zoo.build import learner_class
    from zoo.catalog import list_data, list_models
    from zoo.composing import compose, preset, presets

    kinds = {name: hydra.utils.get_object(preset("data", name)["_target_"]).kind for name in presets("data")}
    assert list_data() == kinds and set(kinds.values()) == set(KINDS)  # every kind is held by a preset
    for name, entry in list_models().items():
        cfg = compose("train", [f"model={name}"]).model
        net_kinds = getattr(hydra.utils.get_object(cfg["_target_"]), "data_kinds", None)
        usable = tuple(k for k in learner_class(cfg.learner).data_kinds if net_kinds is None or k in net_kinds)
        assert (entry.network, entry.learner, entry.data_kinds) == (cfg["_target_"], cfg.learner, usable), name
        assert entry.about == dict(cfg.get("about") or {}), name


def test_configs_inherit_instead_of_copying():
    """No two config files are byte-identical (a variant names its base in its defaults list)."""
    seen = {}
    for path in sorted((ROOT / "configs").rglob("*.yaml")):
        seen.setdefault(path.read_bytes(), []).append(str(path.relative_to(ROOT)))
    assert [names for names in seen.values() if len(names) > 1] == []


def test_drawing_the_pictures_of_a_run_changes_no_global_state():
    """A notebook's plotting backend and its figures stay as they were: plots use matplotlib's object interface."""
    script = textwrap.dedent(
        """
        import sys
        import matplotlib
        matplotlib.use("svg")
        import torch
        from pathlib import Path
        from zoo import plots
        plots.confusion_matrix(torch.tensor([0, 1, 1]), torch.tensor([0, 1, 0]), 2, Path(sys.argv[1]) / "cm.png")
        plots.curves({"a": [1.0, 0.5]}, ["a"], Path(sys.argv[1]) / "curve.png")
        print(matplotlib.get_backend(), "matplotlib.pyplot" in sys.modules)
        """
    )
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        result = subprocess.run([sys.executable, "-c", script, folder], cwd=ROOT, capture_output=True, text=True)
        assert result.returncode == 0, result.stderr[-2000:]
        assert result.stdout.split() == ["svg", "False"] and (Path(folder) / "cm.png").stat().st_size > 1000


# The names of what a run leaves in its folder (zoo.run_folder.RunFolder.LAYOUT), as path parts.
RUN_FOLDER_PARTS = {part for name in __import__("zoo.run_folder").run_folder.RunFolder.LAYOUT
                    for part in name.rstrip("/").split("/") if "<" not in part}  # fmt: skip


def path_literals(path: Path):
    """The string constants of a file that build a path: joined with `/` (a Path's operator or inside the string),
    docstrings aside; with their line numbers."""
    tree = ast.parse(path.read_text())
    docstrings = {id(node.body[0].value) for node in ast.walk(tree)
                  if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef)) and node.body
                  and isinstance(node.body[0], ast.Expr) and isinstance(node.body[0].value, ast.Constant)}  # fmt: skip
    joined = {id(side) for node in ast.walk(tree) if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div)
              for side in (node.left, node.right)}  # fmt: skip
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings:
            if id(node) in joined or "/" in node.value:
                yield node.lineno, node.value


def test_only_the_run_folder_names_the_paths_inside_a_run_folder():
    """Where a run's files live is said once (RunFolder): no other module joins a run folder with their names."""
    files = [ROOT / "train.py", ROOT / "evaluate.py"]
    files += [p for d in ("zoo", "sections", "datamodules", "benchmarks") for p in (ROOT / d).rglob("*.py")
              if "configs" not in p.parts and p != ROOT / "zoo" / "run_folder.py"]  # fmt: skip
    found = []
    for path in files:
        for line, text in path_literals(path):
            if set(text.strip("/").split("/")) & RUN_FOLDER_PARTS:
                found.append(f"{path.relative_to(ROOT)}:{line}: {text!r}")
    assert found == [], "\n".join(found)


def test_no_module_asks_hydra_after_the_entry_point():
    """Hydra's global state is read where a command starts (zoo.cli, its sweep and run-folder callbacks) and where
    a config is composed (zoo.composing); everything after receives the run (zoo.starting.Run)."""
    allowed = {"zoo/cli.py", "zoo/composing.py", "zoo/sweep.py", "zoo/run_folder.py"}
    readers = {str(p.relative_to(ROOT)) for d in ("zoo", "sections", "datamodules") for p in (ROOT / d).rglob("*.py")
               if "configs" not in p.parts and re.search(r"\b(HydraConfig|GlobalHydra)\b", p.read_text())}  # fmt: skip
    assert readers <= allowed, sorted(readers - allowed)


@pytest.mark.slow  # a process importing the trainer
def test_the_records_command_leaves_by_the_one_way_out():
    result = subprocess.run([sys.executable, "benchmarks/results.py", "no_such_record"], cwd=ROOT, capture_output=True,
                            text=True)  # fmt: skip
    assert result.returncode == 2 and result.stderr.strip().splitlines() == [
        "error: no record named no_such_record; `python benchmarks/results.py --list` names them"
    ]


def test_every_test_file_with_module_fixtures_keeps_its_tests_on_one_worker():
    """Tests go to the workers one by one (--dist loadgroup); a file whose fixtures are built once per module marks
    itself as a group, or each worker would build them again."""
    unmarked = []
    for path in sorted((ROOT / "tests").glob("test_*.py")):
        text = path.read_text()
        module_fixture = re.search(r'^@pytest\.fixture\(scope="module"\)', text, re.M)
        if module_fixture and f'\npytestmark = pytest.mark.xdist_group("{path.stem}")' not in text:
            unmarked.append(path.name)
    assert unmarked == [], f"add pytestmark = pytest.mark.xdist_group('<file name>') to {unmarked}"
