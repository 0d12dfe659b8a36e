"""Sections "A sequence modeling problem" to "LSTMs": long-range memory and gradients through time."""

from __future__ import annotations

import math

import torch

from sections.common import Report, band, history, mean
from zoo import plots

CELLS = {
    "tanh RNN": "model=rnn_lm",
    "ReLU RNN": "model=rnn_lm model.cell=rnn_relu",
    "IRNN": "model=irnn_lm",
    "LSTM": "model=lstm_lm",
    "GRU": "model=gru_lm",
}


VARIANTS = {  # the gated verdict's conditions, each changed on its own (distance far, every seed)
    "LSTM, forget bias 1 instead of chrono init": "model=lstm_lm model.chrono_init=null",
    "LSTM, 56 units (the tanh RNN's parameters)": "model=lstm_lm model.hidden_size=56",
}


def longrange_run(report: Report, model: str, distance: int, epochs: int, sentences: int, seed: int, tag: str):
    overrides = [*model.split(), "data=longrange", f"data.distance={distance}", f"data.train_sentences={sentences}"]
    overrides += [f"trainer.max_epochs={epochs}", "model.optimizer.lr=0.01", "trainer.gradient_clip_val=1.0"]
    return report.train([*overrides, f"seed={seed}"], report.runs() / f"{tag}_{distance}_{seed}")


def memory_over_distance(report: Report, distances: list[int], epochs: int, sentences: int) -> None:
    """Accuracy on the cue-dependent tokens as the cue moves further back (first seed), then every seed at the
    farthest distance for the verdicts, with the gated cells' conditions changed one at a time."""
    accuracy = {cell: [] for cell in CELLS}
    rows = []
    first, far = report.seeds[0], distances[-1]
    for cell, model in CELLS.items():
        for d in distances:
            metrics = longrange_run(report, model, d, epochs, sentences, first, cell.replace(" ", "_"))
            accuracy[cell].append(metrics["test/longrange_acc"])
            rows.append([cell, d, metrics["test/longrange_acc"], metrics["test/ppl"], metrics["test/optimal_ppl"],
                         metrics["fit_seconds"], metrics["n_params"]])  # fmt: skip
    at_far = {cell: [acc[-1]] for cell, acc in accuracy.items()}
    params = {cell: next(r[-1] for r in rows if r[0] == cell) for cell in CELLS}
    for cell, model in {**CELLS, **VARIANTS}.items():
        for seed in report.seeds[1:] if cell in CELLS else report.seeds:
            tag = cell.replace(" ", "_") if cell in CELLS else f"variant{list(VARIANTS).index(cell)}"
            metrics = longrange_run(report, model, far, epochs, sentences, seed, tag)
            at_far.setdefault(cell, []).append(metrics["test/longrange_acc"])
            params[cell] = metrics["n_params"]
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
        f"about it. Chance is 1/8. The optimal perplexity is the generator's own. Seed {first} at every distance; "
        f"seeds {', '.join(map(str, report.seeds))} at distance {far} for the verdicts. The LSTM and GRU use the "
        "long-range recipe (configs/recipe/pair/: 256 units, chrono-initialised gate biases).",
    )
    report.table(["cell", "distance", "target accuracy", "test perplexity", "optimal perplexity", "seconds",
                  "parameters"], rows)  # fmt: skip
    report.table([f"cell, distance {far}", "parameters", "target accuracy"],
                 [[cell, params[cell], band(v)] for cell, v in at_far.items()])  # fmt: skip
    report.image(
        plots.save_figure(fig, report.scratch("accuracy_vs_distance.png")), "accuracy on the target vs distance"
    )
    m = {cell: mean(v) for cell, v in at_far.items()}
    gated = min(m["LSTM"], m["GRU"])
    report.verdict(
        f"gated cells remember the cue {far} tokens back (>= 90% on the target)",
        gated >= 0.9,
        f"LSTM {band(at_far['LSTM'])}, GRU {band(at_far['GRU'])} at distance {far}",
        key="gated_remember",
        conditions=f"chrono-initialised gate biases and 256 units ({params['LSTM']:,} LSTM parameters against the "
        f"tanh RNN's {params['tanh RNN']:,}); changed one at a time below",
    )
    for cell, key in zip(VARIANTS, ("gated_remember_no_chrono", "gated_remember_equal_params")):
        report.verdict(
            f"gated cells remember the cue {far} tokens back (>= 90% on the target), {cell.split(', ')[1]}",
            m[cell] >= 0.9,
            f"{cell}: {band(at_far[cell])} at distance {far}, {params[cell]:,} parameters",
            key=key,
        )
    report.verdict(
        f"the tanh RNN does markedly worse at distance {far} (0.2 or more below the gated cells)",
        m["tanh RNN"] < gated - 0.2,
        f"tanh RNN {band(at_far['tanh RNN'])} vs gated {gated:.3f}",
        key="tanh_worse",
    )
    for cell, key, trick in (("ReLU RNN", "trick1_relu", "Trick 1, ReLU units"),
                             ("IRNN", "trick2_identity", "Trick 2, W_hh = I and zero biases")):  # fmt: skip
        report.verdict(
            f"{trick}, keeps the cue {far} tokens back better than the tanh RNN (by 0.1 or more on the target)",
            m[cell] >= m["tanh RNN"] + 0.1,
            f"{cell} {band(at_far[cell])}, tanh RNN {band(at_far['tanh RNN'])}",
            key=key,
        )


@torch.no_grad()
def recurrence_equation(report: Report) -> None:
    """The zoo's RNN language model (torch's fused kernel) against the slide's two equations, by hand."""
    from zoo.nets.rnn import RNNLanguageModel

    torch.manual_seed(0)
    net = RNNLanguageModel(vocab_size=20, cell="rnn_tanh", embedding_dim=8, hidden_size=16).eval()
    tokens = torch.randint(0, 20, (4, 12))
    logits, _ = net(tokens)
    core = net.core
    h = torch.zeros(4, 16)
    worst = 0.0
    for t in range(tokens.shape[1]):
        x_t = net.embedding(tokens[:, t])
        h = torch.tanh(h @ core.weight_hh_l0.T + core.bias_hh_l0 + x_t @ core.weight_ih_l0.T + core.bias_ih_l0)
        y_t = h @ net.decoder.weight.T + net.decoder.bias  # y_hat_t = W_hy h_t
        worst = max(worst, (y_t - logits[:, t]).abs().max().item())
    report.verdict(
        "the RNN computes h_t = tanh(W_hh h_(t-1) + W_xh x_t) and y_hat_t = W_hy h_t (the zoo's net against the "
        "equations by hand, 12 steps; the biases are W's w0)",
        worst < 1e-5,
        f"max difference {worst:.1e}",
        key="recurrence_equation",
    )


@torch.enable_grad()
def singular_value_threshold(report: Report, steps: int) -> None:
    """|dL/dh_0| / |dL/dh_T| through T steps of h_t = g(W h_(t-1) + x_t) with W = gain x a random orthogonal
    matrix: every singular value of W equals the gain."""
    gains = (0.5, 0.9, 0.99, 1.01, 1.1, 1.5)
    ratios = {}
    for name, g in (("linear (g = identity)", lambda z: z), ("tanh", torch.tanh)):
        torch.manual_seed(0)
        q = torch.linalg.qr(torch.randn(64, 64))[0]
        x = torch.randn(steps, 64) * 0.1
        for gain in gains:
            h0 = torch.zeros(64, requires_grad=True)
            h = h0 + 0.1 * torch.randn(64)
            for t in range(steps):
                h = g(gain * q @ h + x[t])
            (grad,) = torch.autograd.grad(h.sum(), h0)
            ratios[name, gain] = (grad.norm() / torch.ones(64).norm()).item()
    report.text(
        f"## The largest singular value: a threshold at 1 ({steps} steps)",
        "The norm of dL/dh_0 against that of dL/dh_T for L = sum(h_T), with W_hh = gain x a random orthogonal "
        "matrix (all its singular values equal the gain), for a linear recurrence and for tanh.",
    )
    rows = [[name, *(f"{ratios[name, gain]:.2e}" for gain in gains)] for name in ("linear (g = identity)", "tanh")]
    report.table(["recurrence", *(f"gain {gain}" for gain in gains)], rows)
    linear = {gain: ratios["linear (g = identity)", gain] for gain in gains}
    report.verdict(
        "largest singular value < 1: gradients vanish; > 1: they explode (the linear recurrence's gradient "
        f"through {steps} steps shrinks for every gain below 1 and grows for every gain above)",
        all(r < 1 for gain, r in linear.items() if gain < 1) and all(r > 1 for gain, r in linear.items() if gain > 1),
        ", ".join(f"gain {gain}: {r:.2e}" for gain, r in linear.items())
        + f"; tanh at gain 1.1: {ratios['tanh', 1.1]:.2e} (its g' < 1 moves the threshold above 1)",
        key="singular_value_threshold",
    )


def gradients_through_time(report: Report, steps: int) -> None:
    """|dL/dh_t| at initialisation, k steps back from the loss."""
    from datamodules.longrange import LongRangeDataModule
    from zoo.build import build_model
    from zoo.composing import compose
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
    report.verdict(
        "the tanh RNN's gradient vanishes (falls 100-fold or more)", tanh < 1e-2, f"ratio {tanh:.2e}", key="vanishing"
    )
    report.verdict(
        "large recurrent weights make it explode (grows 100-fold or more)",
        relu > 1e2,
        f"ratio {relu:.2e}",
        key="exploding",
    )


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
        key="clipping",
    )


def sequence_criteria(report: Report, steps: int) -> None:
    """The slide's design criteria on "the food was good, not bad" sentences (sections/sequences.py)."""
    from sections import sequences as seq

    order, bow, by_length, shared, per_position, gates = [], [], {}, [], [], {}
    bins = {"7-9 words": (0, 2), "10-12 words": (3, 5), "13-15 words": (6, 8)}
    for seed in report.seeds:
        g = torch.Generator().manual_seed(seed)
        short, short_test = seq.sentences(2000, (0, 2), g), seq.sentences(1000, (0, 2), g)
        longer = seq.sentences(1000, (6, 10), g)
        torch.manual_seed(seed)
        rnn = seq.fit(seq.RNNClassifier(), short, steps, seed)
        order.append(seq.accuracy(rnn, short_test))
        for closed in (None, "forget", "input", "output"):
            gates.setdefault(closed or "none", []).append(seq.gated_accuracy(rnn, short_test, closed))
        bow.append(seq.bag_of_words_accuracy(short, short_test))
        shared.append(seq.accuracy(rnn, longer))
        torch.manual_seed(seed)
        per_position.append(seq.accuracy(seq.fit(seq.PositionNet(9), short, steps, seed), longer))
        torch.manual_seed(seed)
        mixed = seq.fit(seq.RNNClassifier(), seq.sentences(3000, (0, 8), g), steps, seed)
        for name, fillers in bins.items():
            by_length.setdefault(name, []).append(seq.accuracy(mixed, seq.sentences(500, fillers, g)))
    report.text(
        '## Sequence modeling: "the food was good, not bad" against "the food was bad, not good"',
        'Generated sentences "the food was A , not B" (A and B of opposite sentiment, filler words at random '
        "places), labelled by A: every bag of words occurs with both labels. An LSTM classifier over packed "
        "sequences (each sentence its own length), a bag-of-words logistic regression, and a net with a weight "
        f"per word per position (nothing shared across positions); {steps} Adam steps of batch 64, seeds "
        f"{', '.join(map(str, report.seeds))}.",
    )
    rows = [["order: LSTM, sentences of 7-9 words", band(order)], ["order: bag of words, same", band(bow)]]
    rows += [[f"lengths: LSTM trained on 7-15 words, tested on {k}", band(v)] for k, v in by_length.items()]
    rows += [["sharing: LSTM trained on 7-9 words, tested on 13-17", band(shared)],
             ["sharing: a weight per position, same", band(per_position)]]  # fmt: skip
    report.table(["task", "test accuracy"], rows)
    report.verdict(
        "order matters, and an RNN uses it (the LSTM classifies >= 95% of the sentences, a bag of words <= 60%)",
        mean(order) >= 0.95 and mean(bow) <= 0.6,
        f"LSTM {band(order)}, bag of words {band(bow)}",
        key="order_matters",
    )
    report.table(["LSTM gate held at 0 (step by step, the trained weights)", "test accuracy"],
                 [[k, band(v)] for k, v in gates.items()])  # fmt: skip
    report.verdict(
        "the LSTM's gates decide what to throw away, store and output (the trained classifier run step by step: "
        ">= 95% as trained, <= 60% with its forget, its input or its output gate held at 0)",
        mean(gates["none"]) >= 0.95 and all(mean(gates[k]) <= 0.6 for k in ("forget", "input", "output")),
        ", ".join(f"{k} held at 0: {band(v)}" if k != "none" else f"as trained: {band(v)}" for k, v in gates.items()),
        key="lstm_gates",
    )
    report.verdict(
        "an RNN handles variable-length sequences (one LSTM over packed batches of 7 to 15 words: >= 90% at every "
        "length)",
        min(mean(v) for v in by_length.values()) >= 0.9,
        ", ".join(f"{k} {band(v)}" for k, v in by_length.items()),
        key="variable_length",
    )
    report.verdict(
        "sharing parameters across the sequence carries what was learned to positions never seen (on longer "
        "sentences than any in training, the LSTM is 0.2 or more above a net with a weight per position)",
        mean(shared) >= mean(per_position) + 0.2,
        f"LSTM {band(shared)}, a weight per position {band(per_position)}",
        key="parameter_sharing",
    )


def applications(report: Report, steps: int) -> None:
    """The summary slide's "music generation, machine translation" at toy scale (sections/sequences.py)."""
    from sections import sequences as seq

    music, unigram, translated = [], [], []
    for seed in report.seeds:
        g = torch.Generator().manual_seed(seed)
        corpus = seq.melodies(400, g)
        torch.manual_seed(seed)
        net = seq.fit_notes(seq.NoteModel(), corpus, steps, seed)
        music.append(seq.melody_rules(seq.compose(net, 50, seed)))
        counts = torch.bincount(corpus, minlength=len(seq.NOTES)).float()
        drawn = torch.multinomial(counts, 50 * seq.BAR, replacement=True, generator=g).tolist()
        unigram.append(seq.melody_rules([0, *drawn[1:]]))
        torch.manual_seed(seed)
        translator = seq.fit_translator(seq.Translator(), seq.phrases(3000, g), 2 * steps, seed)
        translated.append(seq.exact_translations(translator, seq.phrases(500, g)))
    report.text(
        "## RNNs for music and translation",
        "Music: an LSTM language model on 400 bars of generated melodies (every bar starts on C and moves by "
        "single scale steps), then 50 bars sampled note by note; the share of the sampled notes that keep those "
        "rules, against notes drawn by their frequency alone. Translation: a sequence-to-sequence GRU pair "
        "(encoder, decoder) on 3,000 phrases of 3-8 words whose target language has its own word for each source "
        "word and the opposite word order; the share of 500 new phrases translated exactly (greedy decoding). "
        f"Seeds {', '.join(map(str, report.seeds))}.",
    )
    report.table(["task", "result"], [["melody rules kept, LSTM samples", band(music)],
                                      ["melody rules kept, notes by frequency", band(unigram)],
                                      ["phrases translated exactly", band(translated)]])  # fmt: skip
    report.verdict(
        "an RNN generates music (>= 90% of its sampled notes keep the melodies' rules, 0.3 or more above notes "
        "drawn by frequency)",
        mean(music) >= 0.9 and mean(music) >= mean(unigram) + 0.3,
        f"LSTM {band(music)}, by frequency {band(unigram)}",
        key="music",
    )
    report.verdict(
        "an RNN translates (a sequence-to-sequence GRU translates >= 90% of new phrases exactly, word order reversed)",
        mean(translated) >= 0.9,
        f"{band(translated)} exactly right",
        key="translation",
    )


def main(scale: str) -> None:
    report = Report("rnn", "Recurrent networks: memory over distance, vanishing and exploding gradients", scale)
    recurrence_equation(report)
    gradients_through_time(report, steps={"smoke": 20, "default": 50, "paper": 100}[scale])
    singular_value_threshold(report, steps={"smoke": 20, "default": 50, "paper": 100}[scale])
    sequence_criteria(report, steps={"smoke": 10, "default": 300, "paper": 1000}[scale])
    applications(report, steps={"smoke": 10, "default": 400, "paper": 1500}[scale])
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
