"""The zoo as a package: the wheel, installed alone into a fresh venv, trains, evaluates, lists, runs a section and
serves the Python API from any folder, and writes nothing into site-packages."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from tests.conftest import ROOT

# its tests share module fixtures: one worker runs them all (pytest-xdist --dist loadgroup)
pytestmark = pytest.mark.xdist_group("test_package")

README_EXAMPLE = """
from zoo import evaluate, load, train

run = train("model=cnn", "data=digits", "trainer.max_epochs=1", "trainer=cpu", "callbacks=none",
            "trainer.limit_train_batches=4")
assert 0 < run.metrics["test/acc"] <= 1 and run.dir.is_dir()
assert evaluate(run.best_checkpoint, "split=val", "trainer=cpu")["val/acc"] == run.metrics["val/acc"]
model, data = load(run.best_checkpoint)
print("example", run.dir, data.kind)
"""


def digest(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest() for p in folder.rglob("*") if p.is_file()
    }


def tracked_tree(destination: Path) -> Path:
    """The project as a clone holds it (tracked files and, before a commit, the new ones git does not ignore)."""
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"], cwd=ROOT, capture_output=True, text=True
    ).stdout.split()
    for name in listed:
        source, target = ROOT / name, destination / name
        if not source.exists() and not source.is_symlink():
            continue  # deleted in the working tree, not yet committed
        target.parent.mkdir(parents=True, exist_ok=True)
        if source.is_symlink():
            target.symlink_to(os.readlink(source))
        else:
            shutil.copy2(source, target)
    return destination


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> dict:
    """A fresh venv with only the wheel installed; the libraries (torch, ...) come from this venv through a .pth."""
    root = tmp_path_factory.mktemp("package")
    source = tracked_tree(root / "source")
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(root / "dist"),
         str(source)], capture_output=True, text=True,
    )  # fmt: skip
    assert built.returncode == 0, built.stderr[-3000:]
    [wheel] = (root / "dist").glob("lecture_zoo-*.whl")
    venv = root / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    where = "import sysconfig; print(sysconfig.get_paths()['purelib'])"
    site = Path(subprocess.run([venv / "bin" / "python", "-c", where], capture_output=True, text=True).stdout.strip())
    (site / "zoo_test_libraries.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    install = subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(venv / "bin" / "python"), "install", "--no-deps", "--no-index",
         "-q", str(wheel)], capture_output=True, text=True,
    )  # fmt: skip
    assert install.returncode == 0, install.stderr[-3000:]
    work = root / "work"  # another folder: outputs and reports go here, never into the package
    work.mkdir()
    # a student's own repository around it all: its commit is not the zoo's
    git = ["git", "-c", "user.name=student", "-c", "user.email=s@example.org"]
    subprocess.run([*git, "init", "-q", str(root)], check=True)
    subprocess.run([*git, "-C", str(root), "commit", "-q", "--allow-empty", "-m", "mine"], check=True)
    return {"venv": venv, "site": site, "work": work, "wheel": wheel}


def run(installed: dict, command: str, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "ZOO_HOME", "ZOO_REPORTS")}
    return subprocess.run([str(installed["venv"] / "bin" / command), *args], cwd=installed["work"], capture_output=True,
                          text=True, timeout=600, env=env)  # fmt: skip


def test_the_wheel_carries_the_configs_and_the_sections(installed):
    import zipfile

    names = zipfile.ZipFile(installed["wheel"]).namelist()
    configs = {n.removeprefix("zoo/configs/") for n in names if n.startswith("zoo/configs/")}
    assert configs == {str(p.relative_to(ROOT / "configs")) for p in (ROOT / "configs").rglob("*.yaml")}
    assert "sections/__main__.py" in names and "hydra_plugins/zoo_optuna/__init__.py" in names
    assert not any(n.startswith(("tests/", "benchmarks/")) for n in names)


def test_the_installed_zoo_works_from_any_folder_and_writes_nothing_into_site_packages(installed):
    before = digest(installed["site"])
    trained = run(installed, "zoo-train", "trainer=cpu", "trainer.max_epochs=1")  # into the default folder
    assert trained.returncode == 0 and trained.stderr.strip() == "", trained.stderr[-3000:]
    [folder] = (installed["work"] / "outputs" / "train").iterdir()
    metrics = json.loads((folder / "metrics.json").read_text())
    assert "git_commit" not in metrics and metrics["zoo_version"]  # the installed zoo's version, not the repository's
    evaluated = run(installed, "zoo-evaluate", f"ckpt_path={folder}/checkpoints/best.ckpt", "trainer=cpu",
                    "hydra.run.dir=outputs/eval")  # fmt: skip
    assert evaluated.returncode == 0, evaluated.stderr[-3000:]
    assert json.loads((installed["work"] / "outputs/eval/metrics.json").read_text())["test/acc"] == metrics["test/acc"]
    listed = run(installed, "zoo-list")
    assert listed.returncode == 0 and "realnvp" in listed.stdout and "captioner" in listed.stdout, listed.stderr
    section = run(installed, "zoo-section", "cnn", "--scale", "smoke")
    assert section.returncode == 0, section.stderr[-3000:]
    assert (installed["work"] / "reports" / "cnn.md").is_file()
    example = run(installed, "python", "-c", README_EXAMPLE)
    assert example.returncode == 0 and "example" in example.stdout, example.stderr[-3000:]
    assert digest(installed["site"]) == before  # nothing written into the installed package
