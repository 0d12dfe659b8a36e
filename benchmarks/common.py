"""What the benchmark scripts share: the zoo on the import path and one command line."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def command_line(doc: str, repeats: str = "paired runs; the median counts", sizes=None) -> argparse.Namespace:
    """`--repeats N` (and `--size` where the script has sizes) and any Hydra overrides; the docstring is --help."""
    parser = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=3, help=repeats)
    if sizes:
        parser.add_argument("--size", choices=list(sizes), default=next(iter(sizes)), help="model size")
    parser.add_argument("overrides", nargs="*", help="Hydra overrides, e.g. model=cnn trainer.max_epochs=30")
    return parser.parse_args()
