"""The zoo's default recipe against a plain hand-written PyTorch script, on the same real data and budget.

    python benchmarks/quality.py --root DIR [word] [char] [cnn]

word: `model=lstm_lm` and `model=gru_lm` on `data=wikitext2` against benchmarks/reference/word_lm.py
      (pytorch/examples' word_language_model), at --epochs epochs (6). DIR/wikitext-2/ holds
      wiki.{train,valid,test}.tokens; `--wikitext-dev FOLDER` builds that layout from the validation and
      test files alone (../shared/data/wikitext-2: train = wiki.valid, valid / test = halves of wiki.test).
char: `data=text data.level=char` on --char-file (default: the WikiText-2 files of DIR read as
      characters, train + valid + test joined) against benchmarks/reference/char_lm.py, at --steps steps,
      --seeds pairs, on --device (cpu or cuda).
cnn:  `model=cnn data=mnist` against benchmarks/reference/mnist_cnn.py (pytorch/examples' MNIST CNN) on
      DIR/MNIST/raw, --mnist-train examples, --mnist-epochs epochs.

Prints quality and wall time side by side, and the ratios. Run it alone: the times are only
comparable on an otherwise idle machine.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

from common import ROOT

sys.path.insert(0, str(ROOT / "benchmarks"))

from reference import char_lm, mnist_cnn, word_lm

from zoo.config import compose
from zoo.run import train


def wikitext_dev(source: Path, root: Path) -> Path:
    """root/wikitext-2/ with train = wiki.valid.tokens, valid and test = the two halves of wiki.test.tokens."""
    folder = root / "wikitext-2"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "wiki.train.tokens").write_text((source / "wiki.valid.tokens").read_text())
    lines = (source / "wiki.test.tokens").read_text().splitlines(keepends=True)
    half = len(lines) // 2
    (folder / "wiki.valid.tokens").write_text("".join(lines[:half]))
    (folder / "wiki.test.tokens").write_text("".join(lines[half:]))
    return root


TRAINER = {"cpu": "trainer=cpu", "cuda": "trainer=gpu"}


def zoo_run(overrides: list[str], device: str = "cpu") -> dict:
    with tempfile.TemporaryDirectory() as out:
        return train(compose("train", [TRAINER[device], *overrides], out))


def row(name: str, zoo_value: float, ref_value: float, zoo_seconds: float, ref_seconds: float, unit: str) -> None:
    print(
        f"{name:<34} zoo {zoo_value:8.3f} {unit:<4} reference {ref_value:8.3f}  ratio {zoo_value / ref_value:5.3f}"
        f"   time zoo {zoo_seconds:6.1f} s reference {ref_seconds:6.1f} s  ratio {zoo_seconds / ref_seconds:4.2f}"
    )


def word(root: Path, epochs: int) -> None:
    for model, cell in (("lstm_lm", "LSTM"), ("gru_lm", "GRU")):
        zoo = zoo_run(
            [
                f"model={model}",
                "data=wikitext2",
                f"data.root={root}",
                f"trainer.max_epochs={epochs}",
                "callbacks.early_stopping=null",
            ]
        )
        ref = word_lm.train(root / "wikitext-2", epochs, cell)
        row(
            f"{model} on wikitext2, {epochs} epochs",
            zoo["test/ppl"],
            ref["test_ppl"],
            zoo["fit_seconds"],
            ref["seconds"],
            "ppl",
        )
        print(json.dumps({"zoo": {k: zoo[k] for k in ("test/ppl", "val/ppl", "test/oov_rate")}, "reference": ref}))


def char(path: Path, steps: int, seeds: int, device: str) -> None:
    for seed in range(seeds):
        zoo = zoo_run(
            [
                "model=lstm_lm",
                "data=text",
                f"data.path={path}",
                "data.level=char",
                f"trainer.max_steps={steps}",
                "trainer.max_epochs=1000",
                "callbacks.early_stopping=null",
                f"seed={seed}",
            ],
            device,
        )
        ref = char_lm.train(path, steps, seed, device=device)
        row(
            f"lstm_lm on {path.name} as chars, {steps} steps, seed {seed}",
            zoo["test/bpc"],
            ref["test_bpc"],
            zoo["fit_seconds"],
            ref["seconds"],
            "bpc",
        )


def cnn(root: Path, train_size: int, epochs: int) -> None:
    zoo = zoo_run(
        [
            "model=cnn",
            "data=mnist",
            f"data.root={root}",
            f"+data.train_size={train_size}",
            f"trainer.max_epochs={epochs}",
        ]
    )
    ref = mnist_cnn.train(root, epochs, train_size)
    row(
        f"cnn on mnist ({train_size} train), {epochs} epochs",
        zoo["test/acc"],
        ref["test_acc"],
        zoo["fit_seconds"],
        ref["seconds"],
        "acc",
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("what", nargs="*", default=["word", "char"], choices=["word", "char", "cnn"])
    parser.add_argument("--root", type=Path, help="data root: DIR/wikitext-2, DIR/MNIST/raw")
    parser.add_argument("--wikitext-dev", type=Path, help="folder with wiki.valid.tokens and wiki.test.tokens")
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--steps", type=int, default=1500)
    parser.add_argument("--seeds", type=int, default=1, help="char: pairs of runs, seeds 0 ... N-1")
    parser.add_argument("--device", choices=["cpu", "cuda"], default="cpu", help="char: where both run")
    parser.add_argument("--char-file", type=Path)
    parser.add_argument("--mnist-train", type=int, default=8000)
    parser.add_argument("--mnist-epochs", type=int, default=5)
    args = parser.parse_args()
    root = args.root or Path(tempfile.mkdtemp())
    if args.wikitext_dev:
        wikitext_dev(args.wikitext_dev, root)
    if "word" in args.what:
        word(root, args.epochs)
    if "char" in args.what:
        path = args.char_file
        if path is None:
            path = root / "wikitext2_chars.txt"
            path.write_text("".join((root / "wikitext-2" / f).read_text() for f in word_lm.FILES["wikitext"]))
        char(path, args.steps, args.seeds, args.device)
    if "cnn" in args.what:
        cnn(root, args.mnist_train, args.mnist_epochs)
