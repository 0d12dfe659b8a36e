"""Section "Gradient Descent" / "Stochastic Gradient Descent": full batch vs single example vs mini-batch,
compared at equal computation (the same examples processed: epochs) and at equal wall-clock time."""

from __future__ import annotations

from sections.common import Report, band, history, mean
from zoo import plots

VARIANTS = {"full batch (GD)": "gradient_descent", "one example (SGD)": "sgd", "mini-batch of 32": "minibatch_sgd"}
# At equal time full-batch GD also runs at a learning rate of its own: a full batch's gradient is exact, so a
# larger step than the mini-batch's 0.1 is the choice a practitioner would make for it.
EQUAL_TIME = {**VARIANTS, "full batch (GD), lr 0.5": "gradient_descent model.optimizer.lr=0.5"}
THRESHOLD = 0.1  # the training loss read off: about 97 % training accuracy


def seconds_to_reach(hist: dict, threshold: float) -> float | None:
    for loss, seconds in zip(hist["train/loss"], hist["train/seconds"]):
        if loss <= threshold:
            return seconds
    return None


def equal_examples(report: Report, epochs: int) -> None:
    hists, reach, final = {}, {}, {}
    for label, preset in VARIANTS.items():
        for seed in report.seeds:
            run = report.runs() / f"{preset}_{seed}"
            report.train([f"experiment={preset}", f"trainer.max_epochs={epochs}", f"seed={seed}"], run)
            hist = history(run)
            hists.setdefault(label, hist)
            reach.setdefault(label, []).append(seconds_to_reach(hist, THRESHOLD))
            final.setdefault(label, []).append(hist["train/loss"][-1])
    fig, (by_epoch, by_time) = plots.figure(1, 2, figsize=(10, 3.5))
    for label, hist in hists.items():
        by_epoch.plot(range(1, len(hist["train/loss"]) + 1), hist["train/loss"], label=label)
        by_time.plot(hist["train/seconds"], hist["train/loss"], label=label)
    by_epoch.set(xlabel="epoch", ylabel="training loss", yscale="log")
    by_time.set(xlabel="seconds", ylabel="training loss", yscale="log")
    by_epoch.legend()
    show = lambda times: "never" if None in times else band(times)  # noqa: E731
    report.text(
        f"## Equal computation: {epochs} epochs each (every example processed {epochs} times)",
        "The deep MLP on digits, plain SGD without momentum; presets `experiment=gradient_descent|sgd|minibatch_sgd` "
        f"(learning rates 0.1, 0.01, 0.1), seeds {', '.join(map(str, report.seeds))}. Full-batch GD takes one step "
        f"per epoch: {epochs} steps.",
    )
    report.table(["variant", "final training loss", f"seconds to training loss {THRESHOLD}"],
                 [[label, band(final[label]), show(reach[label])] for label in VARIANTS])  # fmt: skip
    report.image(plots.save_figure(fig, report.scratch("loss.png")), "training loss against epochs and seconds")
    mini = reach["mini-batch of 32"]
    others = [times for label, times in reach.items() if label != "mini-batch of 32"]
    holds = None not in mini and all(None in times or mean(mini) < mean(times) for times in others)
    report.verdict(
        f"mini-batches lead to fast training (at equal examples processed, a mini-batch of 32 reaches training "
        f"loss {THRESHOLD} in fewer seconds than one example or the full batch)",
        holds,
        "seconds: " + ", ".join(f"{label} {show(times)}" for label, times in reach.items()),
        key="minibatch_fast",
        conditions=f"{epochs} epochs each, so full-batch GD takes {epochs} steps",
    )


def equal_time(report: Report, seconds: int) -> None:
    final, steps = {}, {}
    for label, preset in EQUAL_TIME.items():
        for seed in report.seeds:
            name, *extra = preset.split()
            overrides = [f"experiment={name}", *extra, f"seed={seed}", "trainer.max_epochs=100000"]
            overrides += [f"+trainer.max_time=00:00:00:{seconds:02d}", "trainer.check_val_every_n_epoch=100000"]
            run = report.runs() / f"time_{name}{'_lr' if extra else ''}_{seed}"
            metrics = report.train(overrides, run)
            final.setdefault(label, []).append(history(run)["train/loss"][-1])
            steps.setdefault(label, []).append(metrics["train_steps"])
    report.text(
        f"## Equal time: {seconds} s of training each",
        "The same runs stopped by the clock instead (`trainer.max_time`, no validation on the way), and "
        "full-batch GD also at a learning rate of 0.5.",
    )
    report.table(["variant", "steps taken", "final training loss"],
                 [[label, band(steps[label]), band(final[label])] for label in EQUAL_TIME])  # fmt: skip
    best = min(final, key=lambda label: mean(final[label]))
    report.verdict(
        f"mini-batches lead to fast training (in equal time, {seconds} s, a mini-batch of 32 ends at the lowest "
        "training loss, against one example and the full batch at learning rates 0.1 and 0.5)",
        best == "mini-batch of 32",
        ", ".join(f"{label} {band(v)}" for label, v in final.items()),
        key="minibatch_equal_time",
    )


def main(scale: str) -> None:
    report = Report("gd", "Gradient descent, stochastic gradient descent and mini-batches", scale)
    equal_examples(report, epochs={"smoke": 2, "default": 30, "paper": 100}[scale])
    equal_time(report, seconds={"smoke": 1, "default": 10, "paper": 30}[scale])
    report.write()
