"""The zoo's defaults against plain hand-written PyTorch scripts on the same real data and budget, each to a record.

    python benchmarks/quality.py word --wikitext-dev ../shared/data/wikitext-2 [--epochs 6]
    python benchmarks/quality.py resnet --cifar-dev ../shared/data/cifar10-dev/cifar10_dev.npz [--epochs 15 --seeds 3]
    python benchmarks/quality.py fast --cifar-dev ../shared/data/cifar10-dev/cifar10_dev.npz [--epochs 8 --seeds 3]
    python benchmarks/quality.py fast_lr --cifar-dev ../shared/data/cifar10-dev/cifar10_dev.npz --seeds 2
    python benchmarks/quality.py char --root DIR [--steps 1500 --seeds 3 --device cuda]
    python benchmarks/quality.py cnn --root DIR [--mnist-train 8000 --mnist-epochs 5]

word:   `model=lstm_lm` on the WikiText-2 development split (train = wiki.valid.tokens, valid / test = the
        halves of wiki.test.tokens) and on its first quarter (the first quarter of the training file's
        lines), against benchmarks/reference/word_lm.py with pytorch/examples' initialisation and with
        torch's own: two references that do not share the zoo's choices.
resnet: `model=resnet data=cifar10` (its pair recipe) on real CIFAR-10 images (1,500 for training, 364 for
        the test, held out by a seeded stratified split) against benchmarks/reference/cifar_resnet.py
        (He et al.'s ResNet-20 recipe), at equal epochs, over seeds.
fast_lr: the plain fast script's learning rate (the one the fastcnn recipe shares) over a grid, batches 256 and 128.
fast:   `model=fastcnn` (its pair recipes) on the same split, as `data=cifar10` and as `data=images` on a folder of
        the same images as PNGs, against benchmarks/reference/cifar_fast.py (the airbench-style recipe), at equal
        epochs, over seeds.
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

from reference import char_lm, cifar_fast, cifar_resnet, mnist_cnn, word_lm

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


def image_folder(cifar: Path, root: Path) -> Path:
    """root/train/<class>/*.png and root/test/<class>/*.png: the CIFAR-10 python batches as a folder of images."""
    from PIL import Image
    from reference.cifar_resnet import read_batches

    for split, names in (("train", [f"data_batch_{i}" for i in range(1, 6)]), ("test", ["test_batch"])):
        x, y = read_batches(cifar, names)
        for i, (image, label) in enumerate(zip(x, y.tolist())):
            folder = root / split / f"class{label}"
            folder.mkdir(parents=True, exist_ok=True)
            Image.fromarray(image.permute(1, 2, 0).numpy()).save(folder / f"{i:05d}.png")
    return root


# Beside the recipe on data=cifar10: its choices undone one by one, and what else might make it faster.
FAST_VARIANTS = ["channels_last=false", "data.padding=zeros", "trainer.precision=bf16-mixed", "compile=true",
                 "channels_last=false data.batch_size=256"]  # fmt: skip


def fast(npz: Path, epochs: int, seeds: int, extra: list[str], variants: list[str]) -> None:
    """The zoo's fastcnn on both image presets (and, on data=cifar10, each variant) against the plain script at the
    same batch size (the recipe's, or the variant's `data.batch_size`)."""
    root = cifar_dev(npz, Path(tempfile.mkdtemp()))
    folder = image_folder(root / "cifar-10-batches-py", Path(tempfile.mkdtemp()))
    cifar = ["data=cifar10", f"data.root={root}", "data.download=false"]
    sides = {"cifar10": cifar, "images": ["data=images", f"data.path={folder}", "data.cache=null"]}
    sides |= {f"cifar10, {variant}": [*cifar, *variant.split()] for variant in variants}
    batch_of = {side: int(next((o.split("=")[1] for o in preset if o.startswith("data.batch_size=")), 0)) or None
                for side, preset in sides.items()}  # fmt: skip
    references = {
        batch: f"reference airbench-style CNN, batch {batch or 'of the recipe'}" for batch in batch_of.values()
    }
    entries: dict[str, list] = {label: [] for label in references.values()} | {side: [] for side in sides}
    for seed in range(seeds):
        measured_ref = {}
        for batch, label in references.items():
            ref = cifar_fast.train(
                root / "cifar-10-batches-py", epochs, 150, seed, **({"batch_size": batch} if batch else {})
            )
            command = f"benchmarks/reference/cifar_fast.py --epochs {epochs} --seed {seed}" + (
                f" --batch-size {batch}" if batch else ""
            )
            measured_ref[batch] = {"test/acc": ref["test_acc"], "fit_seconds": ref["seconds"]}
            entries[label].append(run_entry(label, command, measured_ref[batch], seed))
        for side, preset in sides.items():
            overrides = ["model=fastcnn", *preset, "data.val_size=150", f"trainer.max_epochs={epochs}", f"seed={seed}",
                         *extra]  # fmt: skip
            zoo = zoo_run(overrides)
            ref = measured_ref[batch_of[side]]
            row(f"fastcnn data={side}, seed {seed}", zoo["test/acc"], ref["test/acc"], zoo["fit_seconds"],
                ref["fit_seconds"], "acc")  # fmt: skip
            measured = {k: zoo[k] for k in ("test/acc", "val/acc", "fit_seconds")}
            entries[side].append(run_entry(f"zoo fastcnn data={side}", "python train.py " + " ".join(overrides),
                                           measured, seed))  # fmt: skip
    summary = {side: records.bands(runs) for side, runs in entries.items()}
    for side in sides:
        reference = summary[references[batch_of[side]]]
        print(f"data={side}: mean test accuracy zoo {summary[side]['test/acc']['mean']:.4f}, reference "
              f"{reference['test/acc']['mean']:.4f}; time ratio "
              f"{summary[side]['fit_seconds']['mean'] / reference['fit_seconds']['mean']:.3f}")  # fmt: skip
    what = f"the fast CNN on 1,500 real CIFAR-10 images, {epochs} epochs, {seeds} seeds"
    runs = [run for side in entries.values() for run in side]
    records.write("quality_fast", {"what": what, "runs": runs, "bands": summary})


def fast_lr(npz: Path, epochs: int, seeds: int, rates: list[float]) -> None:
    """The plain script's learning rate (the recipe's, as both share it) over a grid, at batches of 256 and 128."""
    root = cifar_dev(npz, Path(tempfile.mkdtemp()))
    runs = []
    for batch_size in (256, 128):
        for lr in rates:
            for seed in range(seeds):
                ref = cifar_fast.train(root / "cifar-10-batches-py", epochs, 150, seed, lr=lr, batch_size=batch_size)
                print(
                    f"reference lr {lr} batch {batch_size} seed {seed}: {ref['test_acc']:.4f}, {ref['seconds']:.1f} s"
                )
                command = f"benchmarks/reference/cifar_fast.py --epochs {epochs} --lr {lr} --batch-size {batch_size}"
                measured = {"test/acc": ref["test_acc"], "val/loss": ref["val_loss"], "fit_seconds": ref["seconds"]}
                runs.append(run_entry(f"lr {lr}, batch {batch_size}", command, measured, seed))
    what = f"the airbench-style script's learning rate on 1,500 real CIFAR-10 images, {epochs} epochs, {seeds} seeds"
    records.write("quality_fast_lr", {"what": what, "runs": runs})


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
    parser.add_argument("what", choices=["word", "resnet", "fast", "fast_lr", "char", "cnn"])
    parser.add_argument("--root", type=Path, help="data root: DIR/wikitext-2, DIR/MNIST/raw")
    parser.add_argument("--wikitext-dev", type=Path, help="folder with wiki.valid.tokens and wiki.test.tokens")
    parser.add_argument("--cifar-dev", type=Path, help="cifar10_dev.npz: real CIFAR-10 images as x, y arrays")
    parser.add_argument("--epochs", type=int, default=None, help="word: 6, resnet: 15, fast: 8")
    parser.add_argument("--steps", type=int, default=1500)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--device", choices=["cpu", "cuda"], default="cpu", help="char: where both run")
    parser.add_argument("--char-file", type=Path)
    parser.add_argument("--mnist-train", type=int, default=8000)
    parser.add_argument("--mnist-epochs", type=int, default=5)
    parser.add_argument("--zoo", nargs="*", default=[], help="overrides for the zoo's side (a candidate default)")
    parser.add_argument("--variants", nargs="*", default=FAST_VARIANTS, help="fast: zoo settings measured beside "
                        "its default on data=cifar10, each a string of overrides")  # fmt: skip
    parser.add_argument("--candidates", nargs="*", default=[], help="word: zoo settings to compare, each a string of "
                        "overrides ('' is the default)")  # fmt: skip
    args = parser.parse_args()
    if args.what == "word":
        word(args.wikitext_dev, args.epochs or 6, args.candidates or [" ".join(args.zoo)])
    elif args.what == "resnet":
        resnet(args.cifar_dev, args.epochs or 15, args.seeds, args.zoo)
    elif args.what == "fast":
        fast(args.cifar_dev, args.epochs or 8, args.seeds, args.zoo, args.variants)
    elif args.what == "fast_lr":
        fast_lr(args.cifar_dev, args.epochs or 8, args.seeds, [0.5, 1.0, 2.0])
    elif args.what == "char":
        char(args.char_file, args.steps, args.seeds, args.device, args.zoo)
    else:
        cnn(args.root, args.mnist_train, args.mnist_epochs, args.zoo)
