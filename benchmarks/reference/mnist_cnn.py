"""The MNIST CNN of pytorch/examples (mnist/main.py), plain PyTorch, no zoo code.

conv 1->32 3x3, ReLU, conv 32->64 3x3, ReLU, max-pool 2, dropout 0.25, fc 9216->128, ReLU, dropout 0.5,
fc 128->10; Adadelta lr 1.0, lr x 0.7 after every epoch, batch 64, pixels normalised with MNIST's mean
0.1307 and std 0.3081. Reads the IDX files torchvision keeps in ROOT/MNIST/raw.

    python benchmarks/reference/mnist_cnn.py --root DIR [--epochs 5] [--train-size 8000] [--test-size 2000]
"""

from __future__ import annotations

import argparse
import gzip
import json
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn


def read_idx(path: Path) -> np.ndarray:
    raw = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
    dims = raw[3]
    shape = [int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(dims)]
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * dims).reshape(shape)


def load(root: Path, part: str) -> tuple[torch.Tensor, torch.Tensor]:
    folder = root / "MNIST" / "raw"

    def find(kind: str) -> Path:
        name = f"{part}-{kind}-ubyte"
        return folder / name if (folder / name).is_file() else folder / f"{name}.gz"

    x = torch.from_numpy(read_idx(find("images-idx3")).copy()).float().div(255).unsqueeze(1)
    y = torch.from_numpy(read_idx(find("labels-idx1")).copy()).long()
    return (x - 0.1307) / 0.3081, y


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 32, 3), nn.ReLU(), nn.Conv2d(32, 64, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Dropout(0.25)
        )
        self.head = nn.Sequential(nn.Flatten(), nn.Linear(9216, 128), nn.ReLU(), nn.Dropout(0.5), nn.Linear(128, 10))

    def forward(self, x):
        return self.head(self.features(x))


def train(
    root: Path,
    epochs: int = 14,
    train_size: int | None = None,
    test_size: int | None = None,
    seed: int = 1,
    batch: int = 64,
) -> dict:
    torch.manual_seed(seed)
    x, y = load(root, "train")
    x_test, y_test = load(root, "t10k")
    x, y = x[:train_size], y[:train_size]
    x_test, y_test = x_test[:test_size], y_test[:test_size]
    model = Net()
    optimizer = torch.optim.Adadelta(model.parameters(), lr=1.0)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=1, gamma=0.7)
    start = time.perf_counter()
    for _ in range(epochs):
        model.train()
        for index in torch.randperm(len(x)).split(batch):
            loss = nn.functional.cross_entropy(model(x[index]), y[index])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        scheduler.step()
    seconds = time.perf_counter() - start
    model.eval()
    with torch.no_grad():
        correct = sum(
            (model(part).argmax(1) == t).sum().item() for part, t in zip(x_test.split(1000), y_test.split(1000))
        )
    return {"test_acc": correct / len(x_test), "seconds": seconds, "epochs": epochs}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--root", type=Path, required=True)
    parser.add_argument("--epochs", type=int, default=14)
    parser.add_argument("--train-size", type=int, default=None)
    parser.add_argument("--test-size", type=int, default=None)
    args = parser.parse_args()
    print(json.dumps(train(args.root, args.epochs, args.train_size, args.test_size), indent=1))
