"""Framework overhead: the shared trainer vs a hand-written loop, for a classifier on digits (default:
the MLP; `model=cnn` for the CNN) or a flow (`model=realnvp data=moons`).

Both use the same net (built from the model's config), the same data split and batches, batch
size, optimiser, schedule, epochs and seed, and both validate every epoch, save a resumable
checkpoint every epoch and the best one when validation loss improves, and test the best at the
end. Prints the wall-clock ratio, both test metrics and the framework's fixed costs: seconds from
calling train() to the first training step, and the extra milliseconds per training step. Not a
test: wall-clock time depends on the machine.

    python benchmarks/overhead.py [--repeats 5] [model=cnn | model=realnvp data=moons] [overrides ...]
"""

from __future__ import annotations

import copy
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from common import ROOT, command_line

from datamodules.base import TensorSplit
from zoo import records
from zoo.build import build_datamodule, build_model
from zoo.composing import compose
from zoo.run import train
from zoo.starting import compose_run


def objective(cfg, net):
    """The training loss and the test metric (name, function) of this kind of model, written out by hand."""
    if cfg.model.learner.endswith(".Flow"):
        nll = lambda x, y: -net.log_prob(x).mean()  # noqa: E731 - change of variables, in nats
        return nll, ("test/nll", nll)
    cross_entropy = lambda x, y: F.cross_entropy(net(x), y)  # noqa: E731
    return cross_entropy, ("test/acc", lambda x, y: (net(x).argmax(1) == y).float().mean())


def hand_written_loop(cfg, out_dir: Path) -> tuple[float, float]:
    """What a student would write: epochs of shuffled mini-batches, validate, keep the best, test it."""
    import lightning as L

    L.seed_everything(cfg.seed, verbose=False)
    data = build_datamodule(cfg.data)
    model = build_model(cfg.model, data.description)  # the learner only supplies net + optimiser factories
    device = torch.device("cuda" if cfg.trainer.accelerator == "gpu" else "cpu")
    net = model.net.to(device)
    optimizer = model.optimizer_factory(net.parameters())
    scheduler = model.scheduler_factory(optimizer) if model.scheduler_factory else None
    train, val, test = (
        TensorSplit(data.splits[s].x.to(device), data.splits[s].y.to(device)) for s in ("train", "val", "test")
    )
    batch = len(train) if data.batch_size == "full" else data.batch_size

    loss_fn, (_, metric_fn) = objective(cfg, net)

    def loss_and_metric(split):
        net.eval()
        with torch.no_grad():
            x = data.transform(split.x, train=False)
            return loss_fn(x, split.y).item(), metric_fn(x, split.y).item()

    start, best = time.perf_counter(), float("inf")
    for _ in range(cfg.trainer.max_epochs):
        net.train()
        for index in torch.randperm(len(train), device=device).split(batch):
            loss = loss_fn(data.transform(train.x[index], train=True), train.y[index])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        if scheduler:
            scheduler.step()
        val_loss, _ = loss_and_metric(val)
        state = {"state_dict": net.state_dict(), "optimizer": optimizer.state_dict()}
        torch.save(state, out_dir / "last.pt")  # resumable every epoch, as the zoo's last.ckpt
        if val_loss < best:
            best = val_loss
            torch.save(state, out_dir / "best.pt")
    seconds = time.perf_counter() - start
    net.load_state_dict(torch.load(out_dir / "best.pt", weights_only=True)["state_dict"])
    return seconds, loss_and_metric(test)[1]


def shared_trainer(run) -> tuple[float, float, float, int]:
    metrics = train(run)
    name = objective(run.cfg, None)[1][0]
    return metrics["fit_seconds"], metrics[name], metrics["seconds_to_first_step"], metrics["train_steps"]


def import_seconds() -> float:
    """Seconds for a fresh Python to import the shared trainer (torch, Lightning, Hydra)."""
    code = "import time; t = time.perf_counter(); import zoo.run; print(time.perf_counter() - t)"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    return float(out.stdout.strip().splitlines()[-1])


def main() -> None:
    args = command_line(__doc__)
    base = ["trainer=cpu", "logger=csv", *args.overrides]
    variants = {"shared trainer, default callbacks": [], "shared trainer, checkpoints only": ["callbacks=none"]}
    ratios = {label: [] for label in variants}
    accuracy, startup, overhead_ms = {}, [], []
    # Each repeat runs the hand loop and then every variant right after it, so the ratios compare
    # runs made under the same machine load; the median over repeats is printed.
    for _ in range(args.repeats):
        with tempfile.TemporaryDirectory() as tmp:
            cfg = compose("train", base, tmp)
            hand_seconds, accuracy["hand-written loop"] = hand_written_loop(copy.deepcopy(cfg), Path(tmp))
        for label, extra in variants.items():
            with tempfile.TemporaryDirectory() as tmp:
                seconds, accuracy[label], to_first_step, steps = shared_trainer(compose_run("train", base + extra, tmp))
            ratios[label].append((seconds / hand_seconds, seconds, hand_seconds))
            if extra:
                startup.append(to_first_step)
                overhead_ms.append((seconds - hand_seconds) / steps * 1000)
    metric = objective(cfg, None)[1][0]
    device = torch.cuda.get_device_name(0) if "gpu" in " ".join(base) else f"CPU, {torch.get_num_threads()} threads"
    print(
        f"\n{cfg.model._target_.rsplit('.', 1)[-1]} on {cfg.data._target_.rsplit('.', 1)[-1]}, "
        f"{cfg.trainer.max_epochs} epochs, batch {cfg.data.batch_size}, median of {args.repeats} paired runs, {device}"
    )
    print(f"{'variant':36s} {'zoo s':>7s} {'hand s':>7s} {'ratio':>6s} {metric:>9s}")
    print(f"{'hand-written loop':36s} {'':7s} {'':7s} {'':6s} {accuracy['hand-written loop']:9.4f}")
    for label, runs in ratios.items():
        ratio, seconds, hand_seconds = statistics.median(runs)
        print(f"{label:36s} {seconds:7.2f} {hand_seconds:7.2f} {ratio:6.2f} {accuracy[label]:9.4f}")
    imported = import_seconds()
    print(
        f"fixed costs (checkpoints only): import {imported:.2f} s, train() to first step "
        f"{statistics.median(startup):.2f} s, {statistics.median(overhead_ms):+.3f} ms per training step"
    )
    name = f"{cfg.model._target_.rsplit('.', 1)[-1]}_{cfg.data._target_.rsplit('.', 1)[-1]}".lower()
    records.write(f"bench_overhead_{name}", {
        "what": "the shared trainer against a hand-written loop doing the same work (median of paired runs)",
        "command": "python benchmarks/overhead.py " + " ".join(args.overrides), "device": device,
        "repeats": args.repeats, "metric": metric,
        "variants": {label: dict(zip(("ratio", "seconds", "hand_seconds"), statistics.median(runs)))
                     | {"metric": accuracy[label]} for label, runs in ratios.items()},
        "hand_metric": accuracy["hand-written loop"],
        "fixed_costs": {"import_seconds": imported, "seconds_to_first_step": statistics.median(startup),
                        "ms_per_step": statistics.median(overhead_ms)},
    })  # fmt: skip


if __name__ == "__main__":
    main()
