"""Tokens per second of the LSTM language model: the shared trainer vs a hand-written loop.

Same model (2 x 200 LSTM, or with --size medium Zaremba et al.'s 2 x 650, built from
configs/model/lstm_lm.yaml), the same long-range corpus windows (BPTT 35, batch 20), optimiser,
epochs and seed. Both carry the hidden state across windows, validate every epoch and write one
resumable checkpoint per epoch (the best is that file too, linked). Prints tokens per second of each,
their ratio and both test perplexities. Not a test.

    python benchmarks/lstm_lm.py [--repeats 3] [--size small|medium] [overrides ...]
    python benchmarks/lstm_lm.py --size medium --repeats 1 callbacks=default   # with the default callbacks
"""

from __future__ import annotations

import copy
import math
import os
import statistics
import tempfile
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from common import command_line

from zoo import records
from zoo.build import build_datamodule, build_model
from zoo.composing import compose
from zoo.learners.language_model import detach
from zoo.run import train
from zoo.starting import compose_run

SETTINGS = [
    "trainer=cpu",
    "callbacks=none",
    "model=lstm_lm",
    "data=longrange",
    "data.distance=20",
    "data.train_sentences=2000",
    "data.batch_size=20",
    "data.bptt=35",
    "model.num_layers=2",
    "trainer.max_epochs=3",
]
SIZES = {"small": 200, "medium": 650}


def hand_written_loop(cfg, out_dir: Path) -> tuple[float, float, int]:
    import lightning as L

    L.seed_everything(cfg.seed, verbose=False)
    data = build_datamodule(cfg.data)
    data.setup()
    model = build_model(cfg.model, data.description)
    device = torch.device("cuda" if cfg.trainer.accelerator == "gpu" else "cpu")
    net = model.net.to(device)
    optimizer = model.optimizer_factory(net.parameters())

    # one loader per split for the whole run, as the trainer keeps them (each training epoch reshuffles)
    loaders = {split: getattr(data, f"{split}_dataloader")() for split in ("train", "val", "test")}

    def run(split: str, learn: bool) -> tuple[float, int]:
        net.train(learn)
        hidden, total, count = None, 0.0, 0
        for x, y, *_ in loaders[split]:
            x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
            with torch.set_grad_enabled(learn):
                logits, hidden = net(x, hidden)
                loss = F.cross_entropy(logits.flatten(0, 1), y.flatten())
            hidden = detach(hidden)
            if learn:
                optimizer.zero_grad()
                loss.backward()
                if cfg.trainer.gradient_clip_val:  # as the trainer does (lstm_lm proposes clipping at 1)
                    torch.nn.utils.clip_grad_norm_(net.parameters(), cfg.trainer.gradient_clip_val)
                optimizer.step()
            total, count = total + loss.item() * y.numel(), count + y.numel()
        return total / count, count

    start, best, tokens = time.perf_counter(), float("inf"), 0
    for _ in range(cfg.trainer.max_epochs):
        tokens += run("train", learn=True)[1]
        val_loss = run("val", learn=False)[0]
        # a new file renamed into place, as the zoo writes: never through a link that best.pt shares
        torch.save({"state_dict": net.state_dict(), "optimizer": optimizer.state_dict()}, out_dir / "last.tmp")
        os.replace(out_dir / "last.tmp", out_dir / "last.pt")
        if val_loss < best:  # the best is the file just written: a link, not a second write
            best = val_loss
            os.link(out_dir / "last.pt", out_dir / "best.tmp")
            os.replace(out_dir / "best.tmp", out_dir / "best.pt")
    seconds = time.perf_counter() - start
    net.load_state_dict(torch.load(out_dir / "best.pt", weights_only=True)["state_dict"])
    return seconds, math.exp(run("test", learn=False)[0]), tokens


def main() -> None:
    args = command_line(__doc__, sizes=SIZES)
    width = SIZES[args.size]
    settings = [*SETTINGS, f"model.embedding_dim={width}", f"model.hidden_size={width}", *args.overrides]
    runs = []
    for _ in range(args.repeats):  # paired runs: each ratio compares runs made under the same load
        with tempfile.TemporaryDirectory() as tmp:
            cfg = compose("train", settings, tmp)
            hand_seconds, hand_ppl, tokens = hand_written_loop(copy.deepcopy(cfg), Path(tmp))
        with tempfile.TemporaryDirectory() as tmp:
            metrics = train(compose_run("train", settings, tmp))
        runs.append(
            (
                metrics["fit_seconds"] / hand_seconds,
                metrics["fit_seconds"],
                hand_seconds,
                metrics["test/ppl"],
                hand_ppl,
                tokens,
            )
        )
    ratio, zoo_s, hand_s, zoo_ppl, hand_ppl, tokens = statistics.median(runs)
    device = (
        torch.cuda.get_device_name(0) if cfg.trainer.accelerator == "gpu" else f"CPU, {torch.get_num_threads()} threads"
    )
    print(
        f"\nLSTM LM 2x{width}, BPTT 35, batch 20, {tokens} training tokens, median of {args.repeats} paired runs, "
        f"{device}, {metrics['n_params'] / 1e6:.1f}M parameters"
    )
    print(f"{'':18s} {'tokens/s':>10s} {'test ppl':>9s}")
    print(f"{'hand-written loop':18s} {tokens / hand_s:10.0f} {hand_ppl:9.3f}")
    print(f"{'shared trainer':18s} {tokens / zoo_s:10.0f} {zoo_ppl:9.3f}")
    print(f"time ratio (shared / hand): {ratio:.2f}")
    records.write(f"bench_lstm_lm_{args.size}", {
        "what": f"LSTM LM 2x{width}: the shared trainer against a hand-written loop (median of paired runs)",
        "command": "python benchmarks/lstm_lm.py " + " ".join([f"--size {args.size}", *args.overrides]),
        "device": device, "repeats": args.repeats,
        "variants": {"shared trainer": {"ratio": ratio, "seconds": zoo_s, "hand_seconds": hand_s, "metric": zoo_ppl}},
        "hand_metric": hand_ppl, "metric": "test/ppl",
    })  # fmt: skip


if __name__ == "__main__":
    main()
