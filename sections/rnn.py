"""Sections "A sequence modeling problem" to "LSTMs": long-range memory and gradients through time."""

from __future__ import annotations

import math

import torch

from sections.common import Report, history
from zoo import plots

CELLS = {
    "tanh RNN": "model=rnn_lm",
    "ReLU RNN": "model=rnn_lm model.cell=rnn_relu",
    "IRNN": "model=irnn_lm",
    "LSTM": "model=lstm_lm",
    "GRU": "model=gru_lm",
}


def memory_over_distance(report: Report, distances: list[int], epochs: int, sentences: int) -> None:
    """Accuracy on the cue-dependent tokens as the cue moves further back."""
    accuracy = {cell: [] for cell in CELLS}
    rows = []
    for cell, model in CELLS.items():
        for d in distances:
            run = report.runs() / f"{cell.replace(' ', '_')}_{d}"
            metrics = report.train(
                [
                    *model.split(),
                    "data=longrange",
                    f"data.distance={d}",
                    f"data.train_sentences={sentences}",
                    f"trainer.max_epochs={epochs}",
                    "model.optimizer.lr=0.01",
                    "trainer.gradient_clip_val=1.0",
                ],
                run,
            )
            accuracy[cell].append(metrics["test/longrange_acc"])
            rows.append(
                [
                    cell,
                    d,
                    metrics["test/longrange_acc"],
                    metrics["test/ppl"],
                    metrics["test/optimal_ppl"],
                    metrics["fit_seconds"],
                ]
            )
    fig, ax = plots.figure(figsize=(5.5, 3.5))
    for cell, acc in accuracy.items():
        ax.plot(distances, acc, "o-", label=cell)
    ax.axhline(1 / 8, color="gray", ls=":", label="chance (8 languages)")
    ax.set(xlabel="distance from cue to target (tokens)", ylabel="test accuracy on the target", ylim=(0, 1.02))
    ax.legend(fontsize=8)
    report.text(
        f'## Remembering a cue: "France ... I speak fluent ???" ({epochs} epochs, {sentences} training '
        f"sentences, Adam 1e-2, clipping at 1, batch 16, windows of two whole sentences)",
        "The target token is fixed by a cue `distance` tokens earlier; the tokens between carry no information "
        "about it. Chance is 1/8. The optimal perplexity is the generator's own.",
    )
    report.table(["cell", "distance", "target accuracy", "test perplexity", "optimal perplexity", "seconds"], rows)
    report.image(
        plots.save_figure(fig, report.scratch("accuracy_vs_distance.png")), "accuracy on the target vs distance"
    )
    far = distances[-1]
    gated = min(accuracy["LSTM"][-1], accuracy["GRU"][-1])
    report.verdict(
        f"gated cells remember the cue {far} tokens back (>= 90% on the target)",
        gated >= 0.9,
        f"LSTM {accuracy['LSTM'][-1]:.3f}, GRU {accuracy['GRU'][-1]:.3f} at distance {far}",
    )
    report.verdict(
        f"the tanh RNN does markedly worse at distance {far}",
        accuracy["tanh RNN"][-1] < gated - 0.2,
        f"tanh RNN {accuracy['tanh RNN'][-1]:.3f} vs gated {gated:.3f}",
    )


def gradients_through_time(report: Report, steps: int) -> None:
    """|dL/dh_t| at initialisation, k steps back from the loss."""
    from datamodules.text import LongRangeDataModule
    from zoo.build import build_model
    from zoo.config import compose
    from zoo.learners.language_model import gradient_through_time

    data = LongRangeDataModule(distance=steps, train_sentences=200)
    data.prepare_data()
    data.setup()
    x, y = data.probe_window(steps)
    curves, rows = {}, []
    for label, overrides in (
        ("tanh RNN", ["model=rnn_lm"]),
        ("ReLU RNN, W_hh = 3 x orthogonal", ["model=rnn_lm", "model.cell=rnn_relu", "model.recurrent_gain=3.0"]),
        ("IRNN (W_hh = I)", ["model=irnn_lm"]),
        ("LSTM", ["model=lstm_lm"]),
    ):
        torch.manual_seed(0)
        net = build_model(compose("train", [*overrides, "data=longrange"]).model, data.description).net
        curves[label] = gradient_through_time(net, x, y)
        norms = curves[label]
        rows.append([label, norms[0], norms[steps // 2], norms[-1], norms[-1] / norms[0]])
    report.text(
        f"## Gradients through time at initialisation ({steps} steps)",
        'Norm of dL/dh_t for the loss of the last prediction, k steps back (slide "Standard RNN gradient flow": '
        "repeated multiplication by W_hh and g').",
    )
    report.table(["net", "k = 0", f"k = {steps // 2}", f"k = {steps - 1}", "ratio last / first"], rows)
    report.image(
        plots.gradient_through_time(curves, report.scratch("gradient_through_time.png")),
        "gradient norm against steps back in time (log scale)",
    )
    tanh, relu = rows[0][-1], rows[1][-1]
    report.verdict("the tanh RNN's gradient vanishes (falls 100-fold or more)", tanh < 1e-2, f"ratio {tanh:.2e}")
    report.verdict("large recurrent weights make it explode (grows 100-fold or more)", relu > 1e2, f"ratio {relu:.2e}")


def clipping(report: Report, epochs: int, sentences: int) -> None:
    """An exploding RNN trained with plain SGD, with and without gradient clipping."""
    from zoo.errors import UserError

    rows, curves = [], {}
    for label, clip in (("no clipping", []), ("clip norm 1", ["trainer.gradient_clip_val=1.0"])):
        run = report.runs() / label.replace(" ", "_")
        try:
            metrics = report.train(
                [
                    "model=rnn_lm",
                    "model.cell=rnn_relu",
                    "model.recurrent_gain=1.5",
                    "model/optimizer=sgd",
                    "model.optimizer.lr=0.3",
                    "data=longrange",
                    "data.distance=10",
                    f"data.train_sentences={sentences}",
                    f"trainer.max_epochs={epochs}",
                    *clip,
                ],
                run,
            )
            curves[label] = history(run)["train/loss"]
            rows.append([label, "finished", curves[label][-1], metrics["test/ppl"]])
        except UserError as err:  # the NaN guard stops a diverged run with a sentence
            rows.append([label, "diverged: " + str(err).split(";")[0], math.nan, math.nan])
    report.text(f"## Clipping an exploding RNN (ReLU, W_hh = 1.5 x orthogonal, SGD lr 0.3, {epochs} epochs)")
    report.table(["run", "outcome", "final training loss", "test perplexity"], rows)
    if curves:
        report.image(
            plots.curves(curves, list(curves), report.scratch("clipping.png"), ylabel="training loss"),
            "training loss per epoch",
        )
    unclipped, clipped = rows[0], rows[1]
    report.verdict(
        "clipping the gradient norm keeps the exploding RNN trainable",
        clipped[1] == "finished" and not (unclipped[1] == "finished" and unclipped[2] <= clipped[2]),
        f"without: {unclipped[1]}, loss {unclipped[2]:.3f}; with: {clipped[1]}, loss {clipped[2]:.3f}",
    )


def main(scale: str) -> None:
    report = Report("rnn", "Recurrent networks: memory over distance, vanishing and exploding gradients", scale)
    gradients_through_time(report, steps={"smoke": 20, "default": 50, "paper": 100}[scale])
    clipping(
        report,
        epochs={"smoke": 1, "default": 5, "paper": 20}[scale],
        sentences={"smoke": 100, "default": 1000, "paper": 4000}[scale],
    )
    memory_over_distance(
        report,
        distances={"smoke": [4], "default": [4, 8, 16], "paper": [10, 25, 50]}[scale],
        epochs={"smoke": 1, "default": 20, "paper": 100}[scale],
        sentences={"smoke": 100, "default": 3000, "paper": 4000}[scale],
    )
    report.write()
