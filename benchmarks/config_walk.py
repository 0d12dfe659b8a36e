"""Follow a run's config through the zoo: which modules it visits, in order, from train.py to a finished run.

    python benchmarks/config_walk.py [--tree DIR] [override ...]

A call counts when a function of the project (zoo/, datamodules/, sections/) is handed the composed config
(an OmegaConf DictConfig, or a value holding it, such as the run). Consecutive calls in one module are one
stay; the walk prints the stays in order, the modules visited, how many stays return to a module visited
before, and how many stays each module gets. `--tree` walks another checkout of the zoo (an older commit,
say) with this interpreter, so two versions compare on one machine.
"""

from __future__ import annotations

import argparse
import collections
import os
import sys
import tempfile
from pathlib import Path


def holds_config(value, depth: int = 0) -> bool:
    from omegaconf import DictConfig

    if isinstance(value, DictConfig):
        return True
    if depth == 0 and hasattr(value, "__dict__") and not isinstance(value, type):
        return any(holds_config(v, 1) for v in vars(value).values())
    return False


def walk(tree: Path, overrides: list[str]) -> list[str]:
    sys.path.insert(0, str(tree))
    os.chdir(tempfile.mkdtemp())
    packages = ("zoo", "datamodules", "sections")
    stays: list[str] = []

    def profile(frame, event, arg):
        if event != "call":
            return
        path = Path(frame.f_code.co_filename)
        try:
            relative = path.resolve().relative_to(tree.resolve())
        except ValueError:
            return
        if relative.parts[0] not in packages or "configs" in relative.parts:
            return
        arguments = [frame.f_locals[name] for name in frame.f_code.co_varnames[: frame.f_code.co_argcount]
                     if name in frame.f_locals]  # fmt: skip
        if any(holds_config(a) for a in arguments):
            module = str(relative.with_suffix(""))
            if not stays or stays[-1] != module:
                stays.append(module)

    from zoo.cli import train_command

    sys.setprofile(profile)
    try:
        train_command(["trainer.max_epochs=1", "extras.print_config=false", "callbacks.progress_bar=null", *overrides])
    except SystemExit as stop:
        if stop.code not in (0, None):
            raise
    finally:
        sys.setprofile(None)
    return stays


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tree", type=Path, default=Path(__file__).resolve().parents[1])
    parser.add_argument("overrides", nargs="*")
    args = parser.parse_args()
    stays = walk(args.tree, args.overrides)
    counts = collections.Counter(stays)
    returns = sum(1 for i, module in enumerate(stays) if module in stays[:i])
    print("walk:", " -> ".join(stays), file=sys.stderr)
    print(f"{len(counts)} modules, {len(stays)} stays, {returns} returns to a module visited before")
    for module, n in counts.most_common():
        print(f"  {n:3d} {module}")


if __name__ == "__main__":
    main()
