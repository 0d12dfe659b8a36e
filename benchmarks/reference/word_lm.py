"""Word-level LSTM language model in the shape and defaults of pytorch/examples' word_language_model.

Plain PyTorch, no zoo code: 2x200 LSTM, embedding 200, dropout 0.2, untied, weights of the embedding
and decoder ~ U(-0.1, 0.1) (`--init examples`; `--init torch` keeps torch's own initialisation of every
layer: the second reference), SGD lr 20 applied by hand, lr / 4 when validation does not improve,
gradient norm clipped at 0.25, batch 20, BPTT 35, evaluation batch 10, the test split scored with
the weights of the best validation epoch. One difference from the example, so both sides see the
same problem: the vocabulary comes from the training file alone, unseen words map to <unk> (the
example builds it from all three files).

    python benchmarks/reference/word_lm.py --folder DIR [--epochs 6] [--cell LSTM|GRU] [--init examples|torch]

DIR holds wiki.train.tokens, wiki.valid.tokens, wiki.test.tokens (or ptb.{train,valid,test}.txt).
"""

from __future__ import annotations

import argparse
import copy
import json
import math
import time
from collections import Counter
from pathlib import Path

import torch
from torch import nn

FILES = {
    "wikitext": ("wiki.train.tokens", "wiki.valid.tokens", "wiki.test.tokens"),
    "ptb": ("ptb.train.txt", "ptb.valid.txt", "ptb.test.txt"),
}


def read_splits(folder: Path) -> list[list[str]]:
    names = next(names for names in FILES.values() if (folder / names[0]).is_file())
    return [[w for line in (folder / n).read_text().splitlines() for w in (*line.split(), "<eos>")] for n in names]


def batchify(ids: torch.Tensor, batch_size: int) -> torch.Tensor:
    """(steps, batch): each column a contiguous piece of the stream."""
    steps = len(ids) // batch_size
    return ids[: steps * batch_size].view(batch_size, steps).t().contiguous()


class RNNModel(nn.Module):
    def __init__(self, ntoken: int, ninp: int, nhid: int, nlayers: int, dropout: float, cell: str, init: str):
        super().__init__()
        self.drop = nn.Dropout(dropout)
        self.encoder = nn.Embedding(ntoken, ninp)
        self.rnn = getattr(nn, cell)(ninp, nhid, nlayers, dropout=dropout)
        self.decoder = nn.Linear(nhid, ntoken)
        if init == "examples":  # pytorch/examples' init_weights
            nn.init.uniform_(self.encoder.weight, -0.1, 0.1)
            nn.init.uniform_(self.decoder.weight, -0.1, 0.1)
            nn.init.zeros_(self.decoder.bias)

    def forward(self, x, hidden=None):
        output, hidden = self.rnn(self.drop(self.encoder(x)), hidden)
        return self.decoder(self.drop(output)), hidden


def detach(hidden):
    return tuple(h.detach() for h in hidden) if isinstance(hidden, tuple) else hidden.detach()


def evaluate(model: RNNModel, data: torch.Tensor, bptt: int) -> float:
    """Mean cross-entropy per token over the whole stream, state carried from window to window."""
    model.eval()
    total, count, hidden = 0.0, 0, None
    with torch.no_grad():
        for i in range(0, len(data) - 1, bptt):
            n = min(bptt, len(data) - 1 - i)
            output, hidden = model(data[i : i + n], hidden)
            total += nn.functional.cross_entropy(
                output.flatten(0, 1), data[i + 1 : i + 1 + n].flatten(), reduction="sum"
            ).item()
            count += n * data.shape[1]
    return total / count


def train(
    folder: Path,
    epochs: int = 6,
    cell: str = "LSTM",
    seed: int = 1111,
    size: int = 200,
    layers: int = 2,
    dropout: float = 0.2,
    lr: float = 20.0,
    clip: float = 0.25,
    batch_size: int = 20,
    bptt: int = 35,
    init: str = "examples",
) -> dict:
    torch.manual_seed(seed)
    train_tokens, valid_tokens, test_tokens = read_splits(folder)
    counts = Counter(train_tokens)
    itos = sorted(counts, key=lambda w: (-counts[w], w))
    if "<unk>" not in counts:
        itos.append("<unk>")
    stoi = {w: i for i, w in enumerate(itos)}
    encode = lambda tokens: torch.tensor([stoi.get(w, stoi["<unk>"]) for w in tokens])  # noqa: E731
    train_data = batchify(encode(train_tokens), batch_size)
    valid_data, test_data = batchify(encode(valid_tokens), 10), batchify(encode(test_tokens), 10)
    model = RNNModel(len(itos), size, size, layers, dropout, cell, init)
    best_loss, best_state = math.inf, None
    start = time.perf_counter()
    for _ in range(epochs):
        model.train()
        hidden = None
        for i in range(0, len(train_data) - 1, bptt):
            n = min(bptt, len(train_data) - 1 - i)
            x, y = train_data[i : i + n], train_data[i + 1 : i + 1 + n]
            hidden = None if hidden is None else detach(hidden)
            model.zero_grad()
            output, hidden = model(x, hidden)
            nn.functional.cross_entropy(output.flatten(0, 1), y.flatten()).backward()
            nn.utils.clip_grad_norm_(model.parameters(), clip)
            for p in model.parameters():
                p.data.add_(p.grad, alpha=-lr)
        val_loss = evaluate(model, valid_data, bptt)
        if val_loss < best_loss:
            best_loss, best_state = val_loss, copy.deepcopy(model.state_dict())
        else:
            lr /= 4.0
    seconds = time.perf_counter() - start
    model.load_state_dict(best_state)
    test_loss = evaluate(model, test_data, bptt)
    return {"val_ppl": math.exp(best_loss), "test_ppl": math.exp(test_loss), "seconds": seconds, "vocab": len(itos)}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--folder", type=Path, required=True)
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--cell", default="LSTM", choices=["LSTM", "GRU"])
    parser.add_argument("--seed", type=int, default=1111)
    parser.add_argument("--init", default="examples", choices=["examples", "torch"])
    args = parser.parse_args()
    print(json.dumps(train(args.folder, args.epochs, args.cell, args.seed, init=args.init), indent=1))
