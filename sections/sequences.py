"""Small sequence tasks for the slides' design criteria, in plain torch: "The food was good, not bad at all"
against "The food was bad, not good at all" (order matters: the two sentences have the same words), sentences
of many lengths (variable length), and longer sentences than any seen in training (shared parameters).

A sentence is "the food was A , not B" with A and B of opposite sentiment, filler words inserted at random
places; its label is A's sentiment. Every sentence's bag of words also occurs with the other label.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence

POSITIVE = ["good", "great", "fine", "nice", "tasty"]
NEGATIVE = ["bad", "awful", "poor", "bland", "dull"]
FILLERS = ["really", "truly", "honestly", "quite", "so", "very", "at", "all", "i", "think", "today", "again"]
VOCAB = ["<pad>", "the", "food", "was", ",", "not", *POSITIVE, *NEGATIVE, *FILLERS]
INDEX = {word: i for i, word in enumerate(VOCAB)}


def sentences(n: int, fillers: tuple[int, int], g: torch.Generator) -> tuple[list[list[int]], torch.Tensor]:
    """n sentences with between fillers[0] and fillers[1] filler words each, and their labels (1: positive)."""
    out, labels = [], torch.randint(0, 2, (n,), generator=g)
    for label in labels.tolist():
        good = POSITIVE[torch.randint(0, 5, (1,), generator=g)]
        bad = NEGATIVE[torch.randint(0, 5, (1,), generator=g)]
        first, second = (good, bad) if label else (bad, good)
        words = ["the", "food", "was", first, ",", "not", second]
        for _ in range(int(torch.randint(fillers[0], fillers[1] + 1, (1,), generator=g))):
            words.insert(
                int(torch.randint(0, len(words) + 1, (1,), generator=g)),
                FILLERS[torch.randint(0, 12, (1,), generator=g)],
            )
        out.append([INDEX[w] for w in words])
    return out, labels


def padded(batch: list[list[int]], length: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    lengths = torch.tensor([len(s) for s in batch])
    x = torch.zeros(len(batch), length or int(lengths.max()), dtype=torch.long)
    for i, s in enumerate(batch):
        x[i, : min(len(s), x.shape[1])] = torch.tensor(s[: x.shape[1]])
    return x, lengths


class RNNClassifier(nn.Module):
    """Embedding -> LSTM over the packed sequence (each sentence its own length) -> its last state -> 2 classes."""

    def __init__(self, vocab: int = len(VOCAB), dim: int = 32):
        super().__init__()
        self.embed, self.rnn, self.out = (
            nn.Embedding(vocab, dim),
            nn.LSTM(dim, dim, batch_first=True),
            nn.Linear(dim, 2),
        )

    def forward(self, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        packed = pack_padded_sequence(self.embed(x), lengths, batch_first=True, enforce_sorted=False)
        _, (h, _) = self.rnn(packed)
        return self.out(h[-1])


class PositionNet(nn.Module):
    """A weight for every word at every position (one-hot per position, flattened): no parameters shared
    across the sequence, so what it learns at one position says nothing about another."""

    def __init__(self, positions: int, vocab: int = len(VOCAB), hidden: int = 64):
        super().__init__()
        self.positions = positions
        self.net = nn.Sequential(nn.Linear(positions * vocab, hidden), nn.ReLU(), nn.Linear(hidden, 2))

    def forward(self, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        x = torch.nn.functional.pad(x, (0, max(0, self.positions - x.shape[1])))[:, : self.positions]
        return self.net(torch.nn.functional.one_hot(x, len(VOCAB)).float().flatten(1))


def fit(net: nn.Module, data: tuple[list[list[int]], torch.Tensor], steps: int, seed: int) -> nn.Module:
    """Adam 1e-2 on random batches of 64."""
    g = torch.Generator().manual_seed(seed)
    opt = torch.optim.Adam(net.parameters(), lr=1e-2)
    batch_words, labels = data
    for _ in range(steps):
        pick = torch.randint(0, len(labels), (64,), generator=g)
        x, lengths = padded([batch_words[i] for i in pick])
        loss = nn.functional.cross_entropy(net(x, lengths), labels[pick])
        opt.zero_grad()
        loss.backward()
        opt.step()
    return net


@torch.no_grad()
def accuracy(net: nn.Module, data: tuple[list[list[int]], torch.Tensor]) -> float:
    x, lengths = padded(data[0])
    return float((net(x, lengths).argmax(1) == data[1]).float().mean())


def bag_of_words_accuracy(train, test) -> float:
    """Logistic regression on word counts: it sees which words occur, never their order."""
    from sklearn.linear_model import LogisticRegression

    def counts(data):
        out = torch.zeros(len(data[0]), len(VOCAB))
        for i, s in enumerate(data[0]):
            out[i] += torch.bincount(torch.tensor(s), minlength=len(VOCAB)).float()
        return out.numpy()

    return float(
        LogisticRegression(max_iter=2000).fit(counts(train), train[1].numpy()).score(counts(test), test[1].numpy())
    )


@torch.no_grad()
def gated_accuracy(net: RNNClassifier, data: tuple[list[list[int]], torch.Tensor], closed: str | None) -> float:
    """The trained LSTM's own weights run step by step (slide "LSTMs"): f_t decides what to throw away, i_t what
    to store, o_t what to output; `closed` holds one of those gates at 0 for every step."""
    x, lengths = padded(data[0])
    lstm, e = net.rnn, net.embed(x)
    hidden = lstm.hidden_size
    h, c = torch.zeros(len(x), hidden), torch.zeros(len(x), hidden)
    for t in range(x.shape[1]):
        gates = e[:, t] @ lstm.weight_ih_l0.T + lstm.bias_ih_l0 + h @ lstm.weight_hh_l0.T + lstm.bias_hh_l0
        i, f, g, o = gates.chunk(4, dim=1)  # torch's order: input, forget, cell, output
        i, f, g, o = torch.sigmoid(i), torch.sigmoid(f), torch.tanh(g), torch.sigmoid(o)
        i, f, o = (
            torch.zeros_like(v) if closed == name else v for name, v in (("input", i), ("forget", f), ("output", o))
        )
        running = (t < lengths).float()[:, None]  # a sentence that has ended keeps its last state
        c = running * (f * c + i * g) + (1 - running) * c
        h = running * (o * torch.tanh(c)) + (1 - running) * h
    return float((net.out(h).argmax(1) == data[1]).float().mean())


# --- "Models for music generation, machine translation" (the RNN summary slide) ----------------------------
NOTES = ["C", "D", "E", "F", "G", "A", "B", "c"]  # one octave of C major
BAR = 8  # notes per bar; every bar starts on C and moves by single scale steps


def melodies(n: int, g: torch.Generator) -> torch.Tensor:
    """n bars: each starts on C and walks up or down one scale step at a time within the octave."""
    out = []
    for _ in range(n):
        note = 0
        out.append(note)
        for _ in range(BAR - 1):
            step = 1 if torch.rand(1, generator=g) < 0.5 else -1
            note = note + step if 0 <= note + step <= 7 else note - step
            out.append(note)
    return torch.tensor(out)


def melody_rules(notes: list[int]) -> float:
    """The share of a melody's notes that keep the corpus' rules (it starts at a bar's start): a bar's first
    note is C, every other note one scale step from the one before."""
    kept = [notes[i] == 0 if i % BAR == 0 else abs(notes[i] - notes[i - 1]) == 1 for i in range(len(notes))]
    return sum(kept) / len(kept)


class NoteModel(nn.Module):
    """An LSTM language model over notes: embedding -> LSTM -> scores of the next note."""

    def __init__(self, vocab: int = len(NOTES), dim: int = 32):
        super().__init__()
        self.embed, self.rnn, self.out = (
            nn.Embedding(vocab, dim),
            nn.LSTM(dim, dim, batch_first=True),
            nn.Linear(dim, vocab),
        )

    def forward(self, x: torch.Tensor, state=None):
        y, state = self.rnn(self.embed(x), state)
        return self.out(y), state


def fit_notes(net: NoteModel, corpus: torch.Tensor, steps: int, seed: int, window: int = 32) -> NoteModel:
    g = torch.Generator().manual_seed(seed)
    opt = torch.optim.Adam(net.parameters(), lr=1e-2)
    for _ in range(steps):
        starts = torch.randint(0, len(corpus) - window - 1, (32,), generator=g)
        x = torch.stack([corpus[s : s + window] for s in starts])
        y = torch.stack([corpus[s + 1 : s + window + 1] for s in starts])
        loss = nn.functional.cross_entropy(net(x)[0].flatten(0, 1), y.flatten())
        opt.zero_grad()
        loss.backward()
        opt.step()
    return net


@torch.no_grad()
def compose(net: NoteModel, bars: int, seed: int) -> list[int]:
    """Sample a melody note by note at temperature 1, starting on C at a bar's start."""
    g = torch.Generator().manual_seed(seed)
    notes, state, x = [0], None, torch.tensor([[0]])
    for _ in range(bars * BAR - 1):
        logits, state = net(x, state)
        x = torch.multinomial(logits[0, -1].softmax(0), 1, generator=g).view(1, 1)
        notes.append(int(x))
    return notes


SOURCE = ["un", "deux", "trois", "quatre", "cinq", "six", "sept", "huit", "neuf", "dix"]
TARGET = ["<s>", "</s>", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten"]


def phrases(n: int, g: torch.Generator) -> list[tuple[list[int], list[int]]]:
    """A toy translation: each source word has its target word, and the target language puts them in the
    opposite order (the words are right, the order must be learned)."""
    pairs = []
    for _ in range(n):
        words = torch.randint(0, len(SOURCE), (int(torch.randint(3, 9, (1,), generator=g)),), generator=g).tolist()
        pairs.append((words, [w + 2 for w in reversed(words)] + [1]))
    return pairs


class Translator(nn.Module):
    """Sequence to sequence (Sutskever et al. 2014): an encoder GRU reads the source, its last state starts a
    decoder GRU that writes the target word by word."""

    def __init__(self, dim: int = 64):
        super().__init__()
        self.source, self.target = nn.Embedding(len(SOURCE), dim), nn.Embedding(len(TARGET), dim)
        self.encoder, self.decoder = nn.GRU(dim, dim, batch_first=True), nn.GRU(dim, dim, batch_first=True)
        self.out = nn.Linear(dim, len(TARGET))

    def encode(self, src: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        packed = pack_padded_sequence(self.source(src), lengths, batch_first=True, enforce_sorted=False)
        return self.encoder(packed)[1]

    def forward(self, src, lengths, tgt_in):
        return self.out(self.decoder(self.target(tgt_in), self.encode(src, lengths))[0])

    @torch.no_grad()
    def translate(self, src, lengths, max_len: int = 10) -> torch.Tensor:
        state, word, out = self.encode(src, lengths), torch.zeros(len(src), 1, dtype=torch.long), []
        for _ in range(max_len):
            y, state = self.decoder(self.target(word), state)
            word = self.out(y).argmax(-1)
            out.append(word)
        return torch.cat(out, 1)


def fit_translator(net: Translator, pairs, steps: int, seed: int) -> Translator:
    g = torch.Generator().manual_seed(seed)
    opt = torch.optim.Adam(net.parameters(), lr=5e-3)
    for _ in range(steps):
        batch = [pairs[i] for i in torch.randint(0, len(pairs), (64,), generator=g)]
        src, lengths = padded([s for s, _ in batch])
        tgt, _ = padded([t for _, t in batch])
        tgt_in = torch.cat([torch.zeros(len(batch), 1, dtype=torch.long), tgt[:, :-1]], 1)  # <s> then the words
        mask = torch.zeros_like(tgt, dtype=torch.bool)
        for i, (_, t) in enumerate(batch):
            mask[i, : len(t)] = True
        loss = nn.functional.cross_entropy(net(src, lengths, tgt_in)[mask], tgt[mask])
        opt.zero_grad()
        loss.backward()
        opt.step()
    return net


def exact_translations(net: Translator, pairs) -> float:
    src, lengths = padded([s for s, _ in pairs])
    written = net.translate(src, lengths)
    right = 0
    for row, (_, target) in enumerate(pairs):
        words = written[row].tolist()
        right += words[: len(target)] == target
    return right / len(pairs)
