"""Lightning's own cost per training step, with nothing of the zoo around it.

The same net (built from configs/model/<model>.yaml), the same digits batches, AdamW and epochs, in
three loops: a hand-written one, a bare LightningModule with automatic optimisation (what every zoo
learner but the GAN uses) and one with manual optimisation. No validation, no checkpoints, no
logger, no callbacks. The gap between the first two is the floor under `overhead.py`'s ratios: no
setting of the zoo can take a ratio below it. Not a test: wall-clock time depends on the machine.

    python benchmarks/lightning_floor.py [--repeats 3] [model=cnn] [trainer=gpu] [overrides ...]
"""

from __future__ import annotations

import statistics
import tempfile
import time

import lightning as L
import torch
import torch.nn.functional as F
from common import command_line

from zoo import records
from zoo.build import build_datamodule, build_model
from zoo.composing import compose


class Automatic(L.LightningModule):
    def __init__(self, net, optimizer_factory):
        super().__init__()
        self.net, self.optimizer_factory = net, optimizer_factory

    def training_step(self, batch, batch_idx):
        return F.cross_entropy(self.net(batch[0]), batch[1])

    def configure_optimizers(self):
        return self.optimizer_factory(self.parameters())


class Manual(Automatic):
    def __init__(self, net, optimizer_factory):
        super().__init__(net, optimizer_factory)
        self.automatic_optimization = False

    def training_step(self, batch, batch_idx):
        optimizer = self.optimizers()
        loss = F.cross_entropy(self.net(batch[0]), batch[1])
        optimizer.zero_grad()
        self.manual_backward(loss)
        optimizer.step()


def fresh(cfg):
    """Net, optimiser factory and the training split's batches (the datamodule's own loader), seeded."""
    L.seed_everything(cfg.seed, verbose=False)
    data = build_datamodule(cfg.data)
    data.setup("fit")
    model = build_model(cfg.model, data.description)
    return model.net, model.optimizer_factory, data.train_dataloader()


def hand_written(cfg) -> tuple[float, int]:
    """Seconds and training steps of the plain loop."""
    net, optimizer_factory, loader = fresh(cfg)
    device = torch.device("cuda" if cfg.trainer.accelerator == "gpu" else "cpu")
    net.to(device)
    optimizer = optimizer_factory(net.parameters())
    start = time.perf_counter()
    for _ in range(cfg.trainer.max_epochs):
        for x, y in loader:
            x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
            loss = F.cross_entropy(net(x), y)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter() - start, cfg.trainer.max_epochs * len(loader)


def lightning(cfg, module_class) -> float:
    net, optimizer_factory, loader = fresh(cfg)
    with tempfile.TemporaryDirectory() as tmp:
        trainer = L.Trainer(
            accelerator=cfg.trainer.accelerator,
            devices=1,
            max_epochs=cfg.trainer.max_epochs,
            logger=False,
            enable_checkpointing=False,
            enable_progress_bar=False,
            enable_model_summary=False,
            num_sanity_val_steps=0,
            limit_val_batches=0,
            default_root_dir=tmp,
        )
        start = time.perf_counter()
        trainer.fit(module_class(net, optimizer_factory), loader)
        return time.perf_counter() - start


def main() -> None:
    args = command_line(__doc__, "rounds of the three loops; the median counts")
    cfg = compose("train", ["trainer=cpu", *args.overrides])
    device = torch.cuda.get_device_name(0) if cfg.trainer.accelerator == "gpu" else "CPU"
    seconds = {"hand-written loop": [], "Lightning, automatic optimisation": [], "Lightning, manual optimisation": []}
    for _ in range(args.repeats):  # interleaved, so the three see the same machine load
        hand_seconds, steps = hand_written(cfg)
        seconds["hand-written loop"].append(hand_seconds)
        seconds["Lightning, automatic optimisation"].append(lightning(cfg, Automatic))
        seconds["Lightning, manual optimisation"].append(lightning(cfg, Manual))
    hand = statistics.median(seconds["hand-written loop"])
    print(
        f"\n{cfg.model._target_.rsplit('.', 1)[-1]} on {cfg.data._target_.rsplit('.', 1)[-1]}, {steps} training steps, "
        f"no validation or checkpoints, median of {args.repeats}, {device}, {torch.get_num_threads()} threads"
    )
    print(f"{'loop':36s} {'seconds':>8s} {'ratio':>6s} {'ms/step over hand':>18s}")
    for label, runs in seconds.items():
        s = statistics.median(runs)
        print(f"{label:36s} {s:8.2f} {s / hand:6.2f} {(s - hand) / steps * 1000:18.3f}")
    records.write("bench_lightning_floor", {
        "what": f"Lightning alone against a hand-written loop, {steps} training steps, no validation or checkpoints",
        "command": "python benchmarks/lightning_floor.py " + " ".join(args.overrides), "device": device,
        "repeats": args.repeats,
        "variants": {label: {"ratio": statistics.median(runs) / hand, "seconds": statistics.median(runs),
                             "hand_seconds": hand} for label, runs in seconds.items()},
    })  # fmt: skip


if __name__ == "__main__":
    main()
