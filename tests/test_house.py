"""The house: a family is added without touching the trainer, no import circle, a quiet console, one registry."""

import ast
import json
import subprocess
import sys
import textwrap
from pathlib import Path

from tests.conftest import ROOT, run_cli

# A family the zoo has never seen: linear regression on generated 1-D points, in its own package and
# config folder outside the project (a network, a learner, a datamodule and two configs).
TOY_FILES = {
    "toyfamily/__init__.py": "",
    "toyfamily/nets.py": '''
        from torch import nn

        class Line(nn.Module):
            """y = w x + b."""

            def __init__(self, in_features: int, out_features: int = 1):
                super().__init__()
                self.linear = nn.Linear(in_features, out_features)

            def forward(self, x):
                return self.linear(x).squeeze(-1)
    ''',
    "toyfamily/learner.py": '''
        import torch.nn.functional as F

        from zoo.learners.base import Learner

        class Regression(Learner):
            """Least squares: the mean squared error of the prediction."""

            data_kinds = ("lines",)

            @classmethod
            def net_sizes(cls, data):
                return {"in_features": data.input_shape[0]}

            def _step(self, batch, split):
                x, y = batch
                loss = F.mse_loss(self(x), y)
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
        found |= {n for n in names if n.split(".")[0] in ("zoo", "datamodules")}
    return found - {module}


def test_no_import_circle():
    modules = {}
    for path in [*ROOT.glob("zoo/**/*.py"), *ROOT.glob("datamodules/**/*.py")]:
        name = ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
        modules[name] = path
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
    result = run_cli("train.py", "trainer.max_epochs=1", f"hydra.run.dir={tmp_path}")
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stderr.strip() == "", result.stderr  # not one warning line
    assert "run folder:" in result.stdout and "test/acc" in result.stdout


def test_every_model_preset_is_listed_with_the_data_it_learns_from():
    from zoo.registry import list_models

    models = list_models()
    assert set(models) == {p.stem for p in (ROOT / "configs" / "model").glob("*.yaml")}
    assert models["plainnet"].learner == "zoo.learners.classify.Classifier"  # through its defaults list
    assert models["lstm_lm"].data_kinds == ("tokens",) and "wikitext2" in models["lstm_lm"].data
    assert "ring" in models["gan"].data and "longrange" not in models["gan"].data
    listing = subprocess.run([sys.executable, "-m", "zoo", "list"], cwd=ROOT, capture_output=True, text=True)
    assert listing.returncode == 0 and "realnvp" in listing.stdout and "Flow" in listing.stdout
