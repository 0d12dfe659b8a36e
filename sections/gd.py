"""Section "Gradient Descent" / "Stochastic Gradient Descent": full batch vs single example vs mini-batch."""

from __future__ import annotations

from sections.common import Report, history
from zoo import plots

VARIANTS = {"full batch (GD)": "gradient_descent", "one example (SGD)": "sgd", "mini-batch of 32": "minibatch_sgd"}


def seconds_to_reach(hist: dict, threshold: float) -> float | None:
    for loss, seconds in zip(hist["train/loss"], hist["train/seconds"]):
        if loss <= threshold:
            return seconds
    return None


def main(scale: str) -> None:
    report = Report("gd", "Gradient descent, stochastic gradient descent and mini-batches", scale)
    epochs = {"smoke": 2, "default": 30, "paper": 100}[scale]
    hists, rows = {}, []
    for label, preset in VARIANTS.items():
        run = report.runs() / preset
        metrics = report.train([f"experiment={preset}", f"trainer.max_epochs={epochs}"], run)
        hists[label] = history(run)
        rows.append([label, preset, metrics["train/loss"], metrics["test/acc"], metrics["fit_seconds"]])
    fig, (by_epoch, by_time) = plots.figure(1, 2, figsize=(10, 3.5))
    for label, hist in hists.items():
        by_epoch.plot(range(1, len(hist["train/loss"]) + 1), hist["train/loss"], label=label)
        by_time.plot(hist["train/seconds"], hist["train/loss"], label=label)
    by_epoch.set(xlabel="epoch", ylabel="training loss", yscale="log")
    by_time.set(xlabel="seconds", ylabel="training loss", yscale="log")
    by_epoch.legend()
    path = plots.save_figure(fig, report.scratch("loss.png"))
    report.text(
        f"The deep MLP on digits, plain SGD without momentum, {epochs} epochs; presets "
        "`experiment=gradient_descent|sgd|minibatch_sgd`."
    )
    report.table(["variant", "preset", "final training loss", "test accuracy", "seconds"], rows)
    report.image(path, "training loss against epochs (left) and wall-clock seconds (right)")
    # Time to reach a few training losses; the verdict is read at 0.1 (about 97 % training accuracy).
    thresholds = (0.5, 0.1, 0.02)
    reach = {label: [seconds_to_reach(h, t) for t in thresholds] for label, h in hists.items()}
    show = lambda v: "never" if v is None else f"{v:.1f}"  # noqa: E731
    report.table(
        ["variant", *[f"seconds to loss {t}" for t in thresholds]],
        [[label, *map(show, times)] for label, times in reach.items()],
    )
    at = {label: times[1] for label, times in reach.items()}
    mini = at["mini-batch of 32"]
    holds = mini is not None and all(v is None or mini < v for k, v in at.items() if k != "mini-batch of 32")
    shown = ", ".join(f"{k} {show(v)}{'' if v is None else ' s'}" for k, v in at.items())
    report.verdict("mini-batches lead to fast training", holds, f"seconds to reach training loss 0.1: {shown}")
    report.write()
