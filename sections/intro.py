"""Section "Introduction": what deep learning is and why it grows.

- "ML vs DL": in machine learning the features are identified by a domain expert, in deep learning they are
  learned. A linear classifier on hand-made HOG features against the same linear classifier on the features
  a CNN learned (a linear probe).
- "as the data amount grows, Deep Learning models seem to outperform Machine Learning models": learning
  curves over the share of training data for the models a practitioner would pick (logistic regression, an
  RBF SVM, a random forest, k nearest neighbours; on raw pixels and on HOG) against the zoo's MLP and CNN.
- "Mini-batches lead to fast training! Can parallelize computation": training examples per second against
  the batch size, on one core and on all of them (and on a GPU when there is one).
"""

from __future__ import annotations

import time

import numpy as np
import torch

from sections.common import Report, band, mean, small_batch
from sections.features import grey, hog
from zoo import plots

FRACTIONS = {"smoke": (0.1, 1.0), "default": (0.05, 0.1, 0.25, 0.5, 1.0), "paper": (0.05, 0.1, 0.25, 0.5, 1.0)}
LEAD_GROWTH = 0.01  # the learned models' lead must grow by at least a point from the smallest share to all
BATCHES = (1, 4, 16, 64, 256)


def classical() -> dict:
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.neighbors import KNeighborsClassifier
    from sklearn.svm import SVC

    return {
        "logistic regression": lambda seed: LogisticRegression(max_iter=2000),
        "RBF SVM": lambda seed: SVC(),
        "random forest": lambda seed: RandomForestClassifier(n_estimators=200, random_state=seed),
        "5-NN": lambda seed: KNeighborsClassifier(5),
    }


def arrays(datamodule, split: str) -> tuple[np.ndarray, np.ndarray]:
    part = datamodule.splits[split]
    return grey(part.x), part.y.numpy()


def learning_curves(report: Report, epochs: int) -> dict:
    fractions = FRACTIONS[report.scale]
    acc: dict[str, dict[float, list[float]]] = {}  # model -> fraction -> accuracies over seeds
    probes = {"HOG + logistic regression": [], "CNN features + logistic regression": []}
    for fraction in fractions:
        for seed in report.seeds:
            data = [f"data.train_fraction={fraction}", f"data.seed={seed}", *small_batch(fraction)]
            data += [f"seed={seed}", f"trainer.max_epochs={epochs}"]
            for model in ("mlp", "cnn"):
                run = report.fit([f"model={model}", *data], report.runs() / f"{model}_{fraction}_{seed}", figures=False)
                acc.setdefault(f"zoo {model.upper()}", {}).setdefault(fraction, []).append(run.metrics["test/acc"])
            (x_train, y_train), (x_test, y_test) = arrays(run.datamodule, "train"), arrays(run.datamodule, "test")
            features = {"pixels": (x_train.reshape(len(x_train), -1), x_test.reshape(len(x_test), -1)),
                        "HOG": (hog(x_train), hog(x_test))}  # fmt: skip
            for name, make in classical().items():
                for kind, (f_train, f_test) in features.items():
                    score = make(seed).fit(f_train, y_train).score(f_test, y_test)
                    acc.setdefault(f"{name} ({kind})", {}).setdefault(fraction, []).append(score)
            if fraction == 1.0:
                probes["HOG + logistic regression"].append(acc["logistic regression (HOG)"][1.0][-1])
                probes["CNN features + logistic regression"].append(probe(run.model.net, run.datamodule))
    rows = [[name, *(band(by[f]) for f in fractions)] for name, by in acc.items()]
    report.text(
        "## Learning curves: classical models against the zoo's",
        f"scikit-learn's 8x8 digits; each model trains on a stratified share of the training split "
        f"(`data.train_fraction`) and is tested on the whole test split; seeds {', '.join(map(str, report.seeds))} "
        f"(each seed its own split, share and initialisation). The zoo's MLP and CNN train {epochs} epochs at "
        "their defaults; the classical models are scikit-learn's at theirs, on the standardised pixels and on "
        "HOG features (`sections/features.py`).",
    )
    report.table(["model", *(f"{f:.0%} of the data" for f in fractions)], rows)
    fig, ax = plots.figure(figsize=(6.5, 4))
    for name, by in acc.items():
        style = "-" if name.startswith("zoo") else ":"
        ax.plot([f * 100 for f in fractions], [mean(by[f]) for f in fractions], style, marker="o", label=name)
    ax.set(xscale="log", xlabel="% of the training split", ylabel="test accuracy")
    ax.legend(fontsize=6)
    report.image(plots.save_figure(fig, report.scratch("learning_curves.png")), "test accuracy against data size")
    zoo_best = [max(mean(by[f]) for name, by in acc.items() if name.startswith("zoo")) for f in fractions]
    classic_best = [max(mean(by[f]) for name, by in acc.items() if not name.startswith("zoo")) for f in fractions]
    lead = [z - c for z, c in zip(zoo_best, classic_best)]
    report.verdict(
        "as the data grows, the deep models pull ahead of the classical ones (the best zoo model's lead over "
        f"the best classical model grows by {LEAD_GROWTH} or more from the smallest share to all of it, and is "
        "positive at all of it)",
        lead[-1] > 0 and lead[-1] >= lead[0] + LEAD_GROWTH,
        "lead " + ", ".join(f"{lead[i]:+.4f} at {f:.0%}" for i, f in enumerate(fractions)) + f" (mean of "
        f"{len(report.seeds)} seeds; best classical at all of the data {classic_best[-1]:.4f}, best zoo "
        f"{zoo_best[-1]:.4f}); on digits a kernel SVM is near the ceiling already",
        key="data_growth",
    )
    return probes


def probe(net: torch.nn.Module, datamodule) -> float:
    """A linear probe: logistic regression on the CNN's learned features (the conv blocks' output)."""
    from sklearn.linear_model import LogisticRegression

    net.eval()
    with torch.no_grad():
        f_train, f_test = (net.features(datamodule.splits[s].x).flatten(1).numpy() for s in ("train", "test"))
    y_train, y_test = datamodule.splits["train"].y.numpy(), datamodule.splits["test"].y.numpy()
    return LogisticRegression(max_iter=2000).fit(f_train, y_train).score(f_test, y_test)


def features_verdict(report: Report, probes: dict) -> None:
    report.text(
        "## Hand-made features against learned ones",
        "The same linear classifier (logistic regression) on HOG features, which a person designed, and on the "
        "features the CNN learned (its conv blocks' output, the CNN trained on all of the training split).",
    )
    report.table(["features", "test accuracy of a linear classifier"], [[k, band(v)] for k, v in probes.items()])
    hand, learned = probes["HOG + logistic regression"], probes["CNN features + logistic regression"]
    report.verdict(
        "features a network learns beat features a person defines (a linear classifier on the CNN's features "
        "is more accurate than on HOG)",
        mean(learned) > mean(hand),
        f"learned {band(learned)}, HOG {band(hand)}",
        key="learned_features",
    )


def examples_per_second(batch: int, threads: int, device: str, seconds: float) -> float:
    """Training steps of the deep MLP (64 -> 512 -> 512 -> 10) on random digits-sized batches, timed."""
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(64, 512), torch.nn.ReLU(), torch.nn.Linear(512, 512), torch.nn.ReLU(),
                              torch.nn.Linear(512, 10)).to(device)  # fmt: skip
    opt = torch.optim.SGD(net.parameters(), lr=0.01)
    x, y = torch.randn(batch, 64, device=device), torch.randint(0, 10, (batch,), device=device)

    def step():
        opt.zero_grad()
        torch.nn.functional.cross_entropy(net(x), y).backward()
        opt.step()

    for _ in range(3):
        step()
    sync = torch.cuda.synchronize if device == "cuda" else (lambda: None)
    sync()
    steps, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        step()
        steps += 1
    sync()
    return steps * batch / (time.perf_counter() - start)


def parallelism(report: Report) -> None:
    seconds = {"smoke": 0.05, "default": 0.5, "paper": 0.5}[report.scale]
    cores = torch.get_num_threads()
    settings = {"1 core": (1, "cpu"), f"{cores} cores": (cores, "cpu")}
    if torch.cuda.is_available():
        settings["GPU"] = (cores, "cuda")
    rate = {}
    try:
        for label, (threads, device) in settings.items():
            # the median of three timings of each, the settings interleaved so that noise hits them alike
            rate[label] = [float(np.median([examples_per_second(b, threads, device, seconds) for _ in range(3)]))
                           for b in BATCHES]  # fmt: skip
    finally:
        torch.set_num_threads(cores)
    report.text(
        "## Mini-batches and parallel hardware",
        f"Training steps of the deep MLP (64-512-512-10, SGD) on digits-sized batches: examples per second, the "
        f"median of three timings of {seconds} s each, on this machine's CPU with one thread and with all "
        f"{cores}" + (", and on its GPU." if "GPU" in rate else " (no GPU here)."),
    )
    report.table(
        ["hardware", *(f"batch {b}" for b in BATCHES)], [[k, *(f"{r:,.0f}" for r in v)] for k, v in rate.items()]
    )
    fig, ax = plots.figure(figsize=(5.5, 3.5))
    for label, values in rate.items():
        ax.plot(BATCHES, values, marker="o", label=label)
    ax.set(xscale="log", yscale="log", xlabel="batch size", ylabel="training examples per second")
    ax.legend()
    report.image(plots.save_figure(fig, report.scratch("throughput.png")), "examples per second against batch size")
    one, many = rate["1 core"], rate[f"{cores} cores"]
    report.verdict(
        "mini-batches train faster: a batch of 256 processes 10x or more the examples per second of one example",
        many[-1] >= 10 * many[0],
        f"{many[-1]:,.0f} vs {many[0]:,.0f} examples per second ({many[-1] / many[0]:.0f}x)",
        key="minibatch_throughput",
    )
    report.verdict(
        f"a mini-batch parallelises: {cores} cores process a batch of 256 at least 1.3x faster than one core",
        cores > 1 and many[-1] >= 1.3 * one[-1],
        f"{many[-1]:,.0f} vs {one[-1]:,.0f} examples per second ({many[-1] / one[-1]:.2f}x)"
        + (f"; GPU {rate['GPU'][-1]:,.0f}" if "GPU" in rate else ""),
        key="parallel_cores",
    )


def main(scale: str) -> None:
    report = Report("intro", "Why deep learning: data, features, hardware", scale)
    probes = learning_curves(report, epochs={"smoke": 1, "default": 30, "paper": 60}[scale])
    features_verdict(report, probes)
    parallelism(report)
    report.write()
