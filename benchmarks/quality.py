"""The zoo's defaults against plain hand-written PyTorch scripts on the same real data and budget, each to a record.

    python benchmarks/quality.py word --wikitext-dev ../shared/data/wikitext-2 [--epochs 6]
    python benchmarks/quality.py resnet --cifar-dev ../shared/data/cifar10-dev/cifar10_dev.npz [--epochs 15 --seeds 3]
    python benchmarks/quality.py char --root DIR [--steps 1500 --seeds 3 --device cuda]
    python benchmarks/quality.py cnn --root DIR [--mnist-train 8000 --mnist-epochs 5]

word:   `model=lstm_lm` on the WikiText-2 development split (train = wiki.valid.tokens, valid / test = the
        halves of wiki.test.tokens) and on its first quarter (the first quarter of the training file's
        lines), against benchmarks/reference/word_lm.py with pytorch/examples' initialisation and with
        torch's own: two references that do not share the zoo's choices.
resnet: `model=resnet data=cifar10` (its pair recipe) on real CIFAR-10 images (1,500 for training, 364 for
        the test, held out by a seeded stratified split) against benchmarks/reference/cifar_resnet.py
        (He et al.'s ResNet-20 recipe), at equal epochs, over seeds.
char:   `data=text data.level=char` on --char-file against benchmarks/reference/char_lm.py.
cnn:    `model=cnn data=mnist` against benchmarks/reference/mnist_cnn.py on DIR/MNIST/raw.
`--zoo OVERRIDE ...` adds overrides to the zoo's side (a candidate default, measured before it is made one).

Prints quality and wall time side by side with the ratios, and writes benchmarks/results/quality_<what>.json.
Run it alone: the times are only comparable on an otherwise idle machine.
"""

from __future__ import annotations

import argparse
import pickle
import sys
import tempfile
from pathlib import Path

from common import ROOT

sys.path.insert(0, str(ROOT / "benchmarks"))

from reference import char_lm, cifar_resnet, mnist_cnn, word_lm

from zoo import records
from zoo.run import train
from zoo.starting import compose_run


def wikitext_dev(source: Path, root: Path, quarter: bool = False) -> Path:
    """root/wikitext-2/ with train = wiki.valid.tokens (its first quarter of lines), valid and test = the two
    halves of wiki.test.tokens."""
    folder = root / "wikitext-2"
    folder.mkdir(parents=True, exist_ok=True)
    lines = (source / "wiki.valid.tokens").read_text().splitlines(keepends=True)
    (folder / "wiki.train.tokens").write_text("".join(lines[: len(lines) // 4] if quarter else lines))
    test = (source / "wiki.test.tokens").read_text().splitlines(keepends=True)
    half = len(test) // 2
    (folder / "wiki.valid.tokens").write_text("".join(test[:half]))
    (folder / "wiki.test.tokens").write_text("".join(test[half:]))
    return root


def cifar_dev(npz: Path, root: Path, n_test: int = 364, seed: int = 0) -> Path:
    """root/cifar-10-batches-py/ in CIFAR-10's python layout: the development images split into train and test
    (stratified, seeded), the training images spread over the five training batches."""
    import numpy as np
    from sklearn.model_selection import train_test_split

    data = np.load(npz)
    x, y = data["x"], data["y"]
    train_index, test_index = train_test_split(np.arange(len(y)), test_size=n_test, stratify=y, random_state=seed)
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True, exist_ok=True)
    for i, part in enumerate(np.array_split(train_index, 5), start=1):
        batch = {b"data": x[part].reshape(len(part), -1), b"labels": y[part].tolist()}
        (folder / f"data_batch_{i}").write_bytes(pickle.dumps(batch))
    test = {b"data": x[test_index].reshape(len(test_index), -1), b"labels": y[test_index].tolist()}
    (folder / "test_batch").write_bytes(pickle.dumps(test))
    return root


TRAINER = {"cpu": "trainer=cpu", "cuda": "trainer=gpu"}


def zoo_run(overrides: list[str], device: str = "cpu") -> dict:
    with tempfile.TemporaryDirectory() as out:
        return train(compose_run("train", [TRAINER[device], "callbacks.progress_bar=null", "extras.print_config=false",
                                       *overrides], out))  # fmt: skip


def row(name: str, zoo_value: float, ref_value: float, zoo_seconds: float, ref_seconds: float, unit: str) -> None:
    print(
        f"{name:<44} zoo {zoo_value:8.3f} {unit:<4} reference {ref_value:8.3f}  ratio {zoo_value / ref_value:5.3f}"
        f"   time zoo {zoo_seconds:6.1f} s reference {ref_seconds:6.1f} s  ratio {zoo_seconds / ref_seconds:4.2f}",
        flush=True,
    )


def run_entry(label: str, command: str, metrics: dict, seed) -> dict:
    return {"label": label, "command": command, "seeds": [seed], "metrics": metrics}


def word(source: Path, epochs: int, candidates: list[str]) -> None:
    """The zoo (its default, and each candidate: a string of overrides) and both references, on both corpora."""
    runs = []
    for corpus, quarter in (("the WikiText-2 development split", False), ("its first quarter", True)):
        root = wikitext_dev(source, Path(tempfile.mkdtemp()), quarter)
        references = {}
        for init in ("examples", "torch"):
            ref = word_lm.train(root / "wikitext-2", epochs, "LSTM", init=init)
            references[init] = ref
            measured = {"test/ppl": ref["test_ppl"], "val/ppl": ref["val_ppl"], "fit_seconds": ref["seconds"]}
            command = f"benchmarks/reference/word_lm.py --epochs {epochs} --init {init}"
            runs.append(run_entry(f"reference ({init} initialisation), {corpus}", command, measured, 1111))
        for candidate in candidates or [""]:
            extra = candidate.split()
            overrides = ["model=lstm_lm", "data=wikitext2", f"data.root={root}", f"trainer.max_epochs={epochs}",
                         "callbacks.early_stopping=null", *extra]  # fmt: skip
            zoo = zoo_run(overrides)
            metrics = {k: zoo[k] for k in ("test/ppl", "val/ppl", "fit_seconds")}
            label = f"zoo lstm_lm{', ' + candidate if candidate else ' (its default)'}, {corpus}"
            runs.append(run_entry(label, "python train.py " + " ".join(overrides), metrics, 12345))
            for init, ref in references.items():
                row(f"{candidate or 'default'}, {corpus[:20]} vs {init}", zoo["test/ppl"], ref["test_ppl"],
                    zoo["fit_seconds"], ref["seconds"], "ppl")  # fmt: skip
    records.write("quality_word", {"what": f"word-level LSTM (2x200), {epochs} epochs", "runs": runs})


def resnet(npz: Path, epochs: int, seeds: int, extra: list[str]) -> None:
    root = cifar_dev(npz, Path(tempfile.mkdtemp()))
    runs, zoo_runs, ref_runs = [], [], []
    for seed in range(seeds):
        overrides = ["model=resnet", "data=cifar10", f"data.root={root}", "data.download=false",
                     f"trainer.max_epochs={epochs}", f"seed={seed}", *extra]  # fmt: skip
        zoo = zoo_run(overrides)
        ref = cifar_resnet.train(root / "cifar-10-batches-py", epochs, val_size=150, seed=seed)
        row(f"resnet on CIFAR-10 dev, {epochs} epochs, seed {seed}", zoo["test/acc"], ref["test_acc"],
            zoo["fit_seconds"], ref["seconds"], "acc")  # fmt: skip
        zoo_runs.append(run_entry("zoo resnet", "python train.py " + " ".join(overrides),
                                  {k: zoo[k] for k in ("test/acc", "val/acc", "fit_seconds")}, seed))  # fmt: skip
        command = f"benchmarks/reference/cifar_resnet.py --epochs {epochs} --seed {seed}"
        ref_metrics = {"test/acc": ref["test_acc"], "fit_seconds": ref["seconds"]}
        ref_runs.append(run_entry("reference ResNet-20", command, ref_metrics, seed))
    runs = zoo_runs + ref_runs
    summary = {"zoo": records.bands(zoo_runs), "reference": records.bands(ref_runs)}
    print(f"mean test accuracy: zoo {summary['zoo']['test/acc']['mean']:.4f}, reference "
          f"{summary['reference']['test/acc']['mean']:.4f}; time ratio "
          f"{summary['zoo']['fit_seconds']['mean'] / summary['reference']['fit_seconds']['mean']:.2f}")  # fmt: skip
    records.write("quality_resnet", {"what": f"ResNet-20 on 1,500 real CIFAR-10 images, {epochs} epochs, {seeds} seeds",
                                     "runs": runs, "bands": summary})  # fmt: skip


def char(path: Path, steps: int, seeds: int, device: str, extra: list[str]) -> None:
    runs = []
    for seed in range(seeds):
        overrides = ["model=lstm_lm", "data=text", f"data.path={path}", "data.level=char", f"trainer.max_steps={steps}",
                     "trainer.max_epochs=1000", "callbacks.early_stopping=null", f"seed={seed}", *extra]  # fmt: skip
        zoo = zoo_run(overrides, device)
        ref = char_lm.train(path, steps, seed, device=device)
        row(f"lstm_lm on {path.name} as chars, {steps} steps, seed {seed}", zoo["test/bpc"], ref["test_bpc"],
            zoo["fit_seconds"], ref["seconds"], "bpc")  # fmt: skip
        runs += [run_entry("zoo lstm_lm", "python train.py " + " ".join(overrides),
                           {"test/bpc": zoo["test/bpc"], "fit_seconds": zoo["fit_seconds"]}, seed),
                 run_entry("reference char_lm", f"benchmarks/reference/char_lm.py --steps {steps} --seed {seed}",
                           {"test/bpc": ref["test_bpc"], "fit_seconds": ref["seconds"]}, seed)]  # fmt: skip
    records.write(f"quality_char_{device}", {"what": f"character-level LSTM, {steps} steps", "runs": runs})


def cnn(root: Path, train_size: int, epochs: int, extra: list[str]) -> None:
    overrides = ["model=cnn", "data=mnist", f"data.root={root}", f"+data.train_size={train_size}",
                 f"trainer.max_epochs={epochs}", *extra]  # fmt: skip
    zoo = zoo_run(overrides)
    ref = mnist_cnn.train(root, epochs, train_size)
    row(f"cnn on mnist ({train_size} train), {epochs} epochs", zoo["test/acc"], ref["test_acc"], zoo["fit_seconds"],
        ref["seconds"], "acc")  # fmt: skip


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("what", choices=["word", "resnet", "char", "cnn"])
    parser.add_argument("--root", type=Path, help="data root: DIR/wikitext-2, DIR/MNIST/raw")
    parser.add_argument("--wikitext-dev", type=Path, help="folder with wiki.valid.tokens and wiki.test.tokens")
    parser.add_argument("--cifar-dev", type=Path, help="cifar10_dev.npz: real CIFAR-10 images as x, y arrays")
    parser.add_argument("--epochs", type=int, default=None, help="word: 6, resnet: 15")
    parser.add_argument("--steps", type=int, default=1500)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--device", choices=["cpu", "cuda"], default="cpu", help="char: where both run")
    parser.add_argument("--char-file", type=Path)
    parser.add_argument("--mnist-train", type=int, default=8000)
    parser.add_argument("--mnist-epochs", type=int, default=5)
    parser.add_argument("--zoo", nargs="*", default=[], help="overrides for the zoo's side (a candidate default)")
    parser.add_argument("--candidates", nargs="*", default=[], help="word: zoo settings to compare, each a string of "
                        "overrides ('' is the default)")  # fmt: skip
    args = parser.parse_args()
    if args.what == "word":
        word(args.wikitext_dev, args.epochs or 6, args.candidates or [" ".join(args.zoo)])
    elif args.what == "resnet":
        resnet(args.cifar_dev, args.epochs or 15, args.seeds, args.zoo)
    elif args.what == "char":
        char(args.char_file, args.steps, args.seeds, args.device, args.zoo)
    else:
        cnn(args.root, args.mnist_train, args.mnist_epochs, args.zoo)
