"""ResNet-20 on CIFAR-10 the way He et al. 2016 train it, in plain PyTorch (no zoo code): the reference for the
zoo's image defaults.

3x3 stem of 16 channels, three stages of 3 basic blocks (16, 32, 64 channels, stride 2 between stages,
option A shortcuts: zero-padded identity), global average pooling, a linear head; Kaiming-normal conv
weights. SGD lr 0.1, momentum 0.9, weight decay 5e-4, batch 128, the learning rate on a cosine over the
epochs, 4-pixel padding + random 32x32 crops + horizontal flips, per-channel standardisation. The
validation images are held out of the training batches as the zoo's CIFAR-10 loader holds them out (the
first `val_size` of a permutation seeded 0), so both train on the same images; the test is scored with
the weights of the best validation epoch.

    python benchmarks/reference/cifar_resnet.py --folder DIR/cifar-10-batches-py --epochs 15 --val-size 150
"""

from __future__ import annotations

import argparse
import copy
import json
import pickle
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn


def read_batches(folder: Path, names: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
    xs, ys = [], []
    for name in names:
        with open(folder / name, "rb") as file:
            entry = pickle.load(file, encoding="bytes")  # a file of this benchmark's own making
        xs.append(np.asarray(entry[b"data"], dtype=np.uint8).reshape(-1, 3, 32, 32))
        ys.append(np.asarray(entry[b"labels"], dtype=np.int64))
    return torch.from_numpy(np.concatenate(xs)), torch.from_numpy(np.concatenate(ys))


class Block(nn.Module):
    def __init__(self, c_in: int, c_out: int, stride: int):
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(c_out)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(c_out)
        self.pad = c_out - c_in
        self.stride = stride

    def forward(self, x):
        out = self.bn2(self.conv2(F.relu(self.bn1(self.conv1(x)))))
        skip = x[:, :, :: self.stride, :: self.stride] if self.stride > 1 else x
        if self.pad:
            skip = F.pad(skip, (0, 0, 0, 0, self.pad // 2, self.pad - self.pad // 2))
        return F.relu(out + skip)


class ResNet20(nn.Module):
    def __init__(self, classes: int = 10):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 16, 3, 1, 1, bias=False), nn.BatchNorm2d(16), nn.ReLU())
        blocks, c = [], 16
        for stage, width in enumerate((16, 32, 64)):
            for i in range(3):
                blocks.append(Block(c, width, 2 if stage and i == 0 else 1))
                c = width
        self.blocks = nn.Sequential(*blocks)
        self.head = nn.Linear(64, classes)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

    def forward(self, x):
        return self.head(self.blocks(self.stem(x)).mean((2, 3)))


def augment(x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """4-pixel zero padding, a random 32x32 crop and a horizontal flip for half of the images."""
    n = len(x)
    padded = F.pad(x, (4, 4, 4, 4))
    out = torch.empty_like(x)
    dy, dx = torch.randint(0, 9, (n,), generator=generator), torch.randint(0, 9, (n,), generator=generator)
    flips = torch.rand(n, generator=generator) < 0.5
    for i in range(n):
        crop = padded[i, :, dy[i] : dy[i] + 32, dx[i] : dx[i] + 32]
        out[i] = crop.flip(-1) if flips[i] else crop
    return out


def accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> tuple[float, float]:
    model.eval()
    with torch.no_grad():
        logits = torch.cat([model(part) for part in x.split(500)])
    return F.cross_entropy(logits, y).item(), (logits.argmax(1) == y).float().mean().item()


Split = tuple[torch.Tensor, torch.Tensor]


def standardised_splits(folder: Path, val_size: int) -> tuple[Split, Split, Split]:
    """Training, validation and test images (standardised by the training images' channel statistics) and labels:
    the validation images are the first `val_size` of a permutation seeded 0, as the zoo's loader holds them out."""
    x, y = read_batches(folder, [f"data_batch_{i}" for i in range(1, 6)])
    x_test, y_test = read_batches(folder, ["test_batch"])
    order = torch.randperm(len(x), generator=torch.Generator().manual_seed(0))
    val, keep = order[:val_size], order[val_size:]
    scaled = x[keep].float() / 255
    mean, std = scaled.mean((0, 2, 3), keepdim=True), scaled.std((0, 2, 3), keepdim=True)
    prepare = lambda images: (images.float() / 255 - mean) / std  # noqa: E731
    return (prepare(x[keep]), y[keep]), (prepare(x[val]), y[val]), (prepare(x_test), y_test)


def fit_and_test(model: nn.Module, epochs: int, train_epoch, evaluate, val: Split, test: Split) -> dict:
    """`train_epoch(epoch)` for each epoch, the weights of the lowest validation loss kept and tested."""
    best, best_state = float("inf"), None
    start = time.perf_counter()
    for epoch in range(epochs):
        model.train()
        train_epoch(epoch)
        val_loss, _ = evaluate(model, *val)
        if val_loss < best:
            best, best_state = val_loss, copy.deepcopy(model.state_dict())
    seconds = time.perf_counter() - start
    model.load_state_dict(best_state)
    test_loss, test_acc = evaluate(model, *test)
    return {"test_acc": test_acc, "test_loss": test_loss, "val_loss": best, "seconds": seconds}


def train(folder: Path, epochs: int = 15, val_size: int = 150, seed: int = 0) -> dict:
    torch.manual_seed(seed)
    generator = torch.Generator().manual_seed(seed)
    (train_x, train_y), val, test = standardised_splits(folder, val_size)
    model = ResNet20()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=5e-4)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=epochs)

    def train_epoch(epoch: int) -> None:
        for index in torch.randperm(len(train_x), generator=generator).split(128):
            loss = F.cross_entropy(model(augment(train_x[index], generator)), train_y[index])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        schedule.step()

    return fit_and_test(model, epochs, train_epoch, accuracy, val, test)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--folder", type=Path, required=True)
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--val-size", type=int, default=150)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    print(json.dumps(train(args.folder, args.epochs, args.val_size, args.seed), indent=1))
