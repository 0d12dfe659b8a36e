"""Framework overhead of a classifier on digits (default: the MLP; `model=cnn` for the CNN): the shared
trainer vs a hand-written loop.

Both use the same net (built from configs/model/mlp.yaml), the same data split and batches, batch
size, optimiser, schedule, epochs and seed, and both validate every epoch, save a resumable
checkpoint every epoch and the best one when validation loss improves, and test the best at the end. Prints the wall-clock ratio and both test accuracies. Not a test:
wall-clock time depends on the machine.

    python benchmarks/overhead.py [--repeats 5] [model=cnn] [other overrides ...]
"""
from __future__ import annotations

import argparse
import copy
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch
import torch.nn.functional as F

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("ZOO_ROOT", str(ROOT))

from zoo.run import build_datamodule, build_model, compose, train  # noqa: E402


def hand_written_loop(cfg, out_dir: Path) -> tuple[float, float]:
    """What a student would write: epochs of shuffled mini-batches, validate, keep the best, test it."""
    import lightning as L

    L.seed_everything(cfg.seed, verbose=False)
    data = build_datamodule(cfg.data)
    model = build_model(cfg.model, data.info)  # the learner only supplies net + optimiser factories
    net = model.net
    optimizer = model.optimizer_factory(net.parameters())
    scheduler = model.scheduler_factory(optimizer) if model.scheduler_factory else None
    train, val, test = (data.splits[s] for s in ("train", "val", "test"))
    batch = len(train) if data.batch_size == "full" else data.batch_size

    def loss_and_acc(split):
        net.eval()
        with torch.no_grad():
            logits = net(split.x)
        return F.cross_entropy(logits, split.y).item(), (logits.argmax(1) == split.y).float().mean().item()

    start, best = time.perf_counter(), float("inf")
    for _ in range(cfg.trainer.max_epochs):
        net.train()
        for index in torch.randperm(len(train)).split(batch):
            loss = F.cross_entropy(net(data.transform(train.x[index], train=True)), train.y[index])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        if scheduler:
            scheduler.step()
        val_loss, _ = loss_and_acc(val)
        state = {"state_dict": net.state_dict(), "optimizer": optimizer.state_dict()}
        torch.save(state, out_dir / "last.pt")  # resumable every epoch, as the zoo's last.ckpt
        if val_loss < best:
            best = val_loss
            torch.save(state, out_dir / "best.pt")
    seconds = time.perf_counter() - start
    net.load_state_dict(torch.load(out_dir / "best.pt", weights_only=True)["state_dict"])
    return seconds, loss_and_acc(test)[1]


def shared_trainer(cfg) -> tuple[float, float]:

    metrics = train(cfg)
    return metrics["fit_seconds"], metrics["test/acc"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=3, help="runs of each; the median time counts")
    parser.add_argument("overrides", nargs="*", help="Hydra overrides, e.g. trainer.max_epochs=30")
    args = parser.parse_args()
    torch.set_num_threads(torch.get_num_threads())
    base = ["trainer=cpu", "logger=csv", *args.overrides]
    variants = {"shared trainer, default callbacks": [], "shared trainer, checkpoints only": ["callbacks=none"]}
    ratios = {label: [] for label in variants}
    accuracy = {}
    # Each repeat runs the hand loop and then every variant right after it, so the ratios compare
    # runs made under the same machine load; the median over repeats is printed.
    for _ in range(args.repeats):
        with tempfile.TemporaryDirectory() as tmp:
            cfg = compose("train", base, tmp)
            hand_seconds, accuracy["hand-written loop"] = hand_written_loop(copy.deepcopy(cfg), Path(tmp))
        for label, extra in variants.items():
            with tempfile.TemporaryDirectory() as tmp:
                seconds, accuracy[label] = shared_trainer(compose("train", base + extra, tmp))
            ratios[label].append((seconds / hand_seconds, seconds, hand_seconds))
    print(f"\n{cfg.model._target_.rsplit('.', 1)[-1]} on digits, {cfg.trainer.max_epochs} epochs, batch {cfg.data.batch_size}, "
          f"median of {args.repeats} paired runs, {torch.get_num_threads()} threads")
    print(f"{'variant':36s} {'zoo s':>7s} {'hand s':>7s} {'ratio':>6s} {'test acc':>8s}")
    print(f"{'hand-written loop':36s} {'':7s} {'':7s} {'':6s} {accuracy['hand-written loop']:8.4f}")
    for label, runs in ratios.items():
        ratio, seconds, hand_seconds = statistics.median(runs)
        print(f"{label:36s} {seconds:7.2f} {hand_seconds:7.2f} {ratio:6.2f} {accuracy[label]:8.4f}")


if __name__ == "__main__":
    main()
