"""Character-level LSTM language model in the shape of char-rnn and nanoGPT's data loading.

Plain PyTorch, no zoo code: embedding 64, 2x256 LSTM, Adam 2e-3, each step a batch of 32 windows of
128 characters at random places of the training text (a fresh state per window). The test text is
scored as one stream, cut into 32 rows and read in windows of 128 with the state carried, in bits per
character. The first 90 % of the file trains, the next 5 % validates, the last 5 % tests.

    python benchmarks/reference/char_lm.py --file TEXT [--steps 1500] [--device cuda]
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path

import torch
from torch import nn


def splits(text: str) -> tuple[str, str, str]:
    a, b = int(len(text) * 0.9), int(len(text) * 0.95)
    return text[:a], text[a:b], text[b:]


class CharLSTM(nn.Module):
    def __init__(self, vocab: int, embedding: int = 64, hidden: int = 256, layers: int = 2):
        super().__init__()
        self.embed = nn.Embedding(vocab, embedding)
        self.lstm = nn.LSTM(embedding, hidden, layers, batch_first=True)
        self.head = nn.Linear(hidden, vocab)

    def forward(self, x, state=None):
        out, state = self.lstm(self.embed(x), state)
        return self.head(out), state


def stream_bits_per_char(model: CharLSTM, ids: torch.Tensor, rows: int = 32, window: int = 128) -> float:
    model.eval()
    cols = len(ids) // rows
    data = ids[: rows * cols].view(rows, cols).to(next(model.parameters()).device)
    total, count, state = 0.0, 0, None
    with torch.no_grad():
        for i in range(0, cols - 1, window):
            n = min(window, cols - 1 - i)
            logits, state = model(data[:, i : i + n], state)
            y = data[:, i + 1 : i + 1 + n]
            total += nn.functional.cross_entropy(logits.flatten(0, 1), y.flatten(), reduction="sum").item()
            count += y.numel()
    return total / count / math.log(2)


def train(
    path: Path, steps: int = 1500, seed: int = 0, batch: int = 32, window: int = 128, lr: float = 2e-3, device="cpu"
) -> dict:
    torch.manual_seed(seed)
    train_text, _, test_text = splits(path.read_text(encoding="utf-8"))
    chars = sorted(set(train_text))
    stoi = {c: i for i, c in enumerate(chars)}
    unknown = len(chars)  # characters the training text never shows share one id
    encode = lambda s: torch.tensor([stoi.get(c, unknown) for c in s])  # noqa: E731
    train_ids, test_ids = encode(train_text), encode(test_text)
    model = CharLSTM(len(chars) + 1).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr)
    start = time.perf_counter()
    model.train()
    for _ in range(steps):
        starts = torch.randint(len(train_ids) - window - 1, (batch,))
        x = torch.stack([train_ids[s : s + window] for s in starts]).to(device)
        y = torch.stack([train_ids[s + 1 : s + window + 1] for s in starts]).to(device)
        logits, _ = model(x)
        loss = nn.functional.cross_entropy(logits.flatten(0, 1), y.flatten())
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    if device != "cpu":
        torch.cuda.synchronize()
    seconds = time.perf_counter() - start
    return {"test_bpc": stream_bits_per_char(model, test_ids, batch, window), "seconds": seconds, "steps": steps}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--file", type=Path, required=True)
    parser.add_argument("--steps", type=int, default=1500)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    print(json.dumps(train(args.file, args.steps, args.seed, device=args.device), indent=1))
