"""A fast CIFAR-10 CNN in the style of Page 2018 ("How to train your ResNet") and Jordan 2024 (airbench), in plain
PyTorch (no zoo code): the reference for the zoo's `fastcnn` recipe.

A frozen 2x2 patch-whitening convolution computed from the training images' patch covariance (both signs of each
whitened direction, 24 channels; its bias trains for the first `whiten_bias_epochs`), GELU, then three groups
(conv 3x3, max-pool 2, batch norm, GELU, conv 3x3, batch norm, GELU) of widths 64 / 256 / 256 with identity
(Dirac) initialisation of each convolution's first filters, a global max-pool and a bias-free linear head scaled
by 1/9. Batch-norm weights are frozen at 1; biases (batch norm and the whitening conv's) learn at `bias_scale`
times the learning rate without weight decay. Nesterov SGD, momentum 0.85, a triangular schedule by steps
(0.2x -> 1x at 23 % of the steps -> 0.07x), label smoothing 0.2, random horizontal flips and translations by up
to 2 pixels (reflection padding), and test-time augmentation by the horizontal flip (the mean of both logits).

The data, the hold-out and the choice of the weights tested are cifar_resnet.py's (`standardised_splits`,
`fit_and_test`): the zoo's validation images held out, the weights of the best validation epoch tested.

    python benchmarks/reference/cifar_fast.py --folder DIR/cifar-10-batches-py --epochs 8 --val-size 150
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script or imported by quality.py
from reference.cifar_resnet import fit_and_test, standardised_splits


def whitening(x: torch.Tensor, eps: float = 5e-4) -> torch.Tensor:
    """Conv weights (2 * 4C, C, 2, 2) that map 2x2 patches onto the eigenvectors of their covariance, scaled to unit
    variance, with both signs."""
    c = x.shape[1]
    patches = x.unfold(2, 2, 1).unfold(3, 2, 1).permute(0, 2, 3, 1, 4, 5).reshape(-1, c * 4).double()
    values, vectors = torch.linalg.eigh(torch.cov(patches.T))
    weight = (vectors.T / (values + eps).sqrt()[:, None]).reshape(c * 4, c, 2, 2).float()
    return torch.cat([weight, -weight])


def batch_norm(width: int) -> nn.BatchNorm2d:
    norm = nn.BatchNorm2d(width, momentum=0.4, eps=1e-12)
    norm.weight.requires_grad_(False)
    return norm


def conv(c_in: int, c_out: int) -> nn.Conv2d:
    layer = nn.Conv2d(c_in, c_out, 3, padding=1, bias=False)
    nn.init.dirac_(layer.weight.data[:c_in])
    return layer


def group(c_in: int, c_out: int) -> nn.Sequential:
    return nn.Sequential(
        conv(c_in, c_out),
        nn.MaxPool2d(2, ceil_mode=True),
        batch_norm(c_out),
        nn.GELU(),
        conv(c_out, c_out),
        batch_norm(c_out),
        nn.GELU(),
    )


class FastNet(nn.Module):
    def __init__(self, train_images: torch.Tensor, widths=(64, 256, 256), classes: int = 10):
        super().__init__()
        self.whiten = nn.Conv2d(3, 24, 2)
        self.whiten.weight.data = whitening(train_images)
        self.whiten.weight.requires_grad_(False)
        self.whiten.bias.data.zero_()
        self.groups = nn.Sequential(group(24, widths[0]), group(widths[0], widths[1]), group(widths[1], widths[2]))
        self.head = nn.Linear(widths[2], classes, bias=False)

    def forward(self, x):
        h = self.groups(F.gelu(self.whiten(x)))
        return self.head(F.adaptive_max_pool2d(h, 1).flatten(1)) / 9


def augment(x: torch.Tensor, generator: torch.Generator, pad: int = 2) -> torch.Tensor:
    n = len(x)
    padded = F.pad(x, (pad, pad, pad, pad), mode="reflect")
    dy, dx = (
        torch.randint(0, 2 * pad + 1, (n,), generator=generator),
        torch.randint(0, 2 * pad + 1, (n,), generator=generator),
    )
    flips = torch.rand(n, generator=generator) < 0.5
    out = torch.empty_like(x)
    for i in range(n):
        crop = padded[i, :, dy[i] : dy[i] + 32, dx[i] : dx[i] + 32]
        out[i] = crop.flip(-1) if flips[i] else crop
    return out


def logits(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    model.eval()
    with torch.no_grad():
        return torch.cat([(model(part) + model(part.flip(-1))) / 2 for part in x.split(500)])


def evaluate(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> tuple[float, float]:
    out = logits(model, x)
    return F.cross_entropy(out, y).item(), (out.argmax(1) == y).float().mean().item()


def train(folder: Path, epochs: int = 8, val_size: int = 150, seed: int = 0, lr: float = 1.0, batch_size: int = 128,
          bias_scale: float = 64.0, weight_decay: float = 5e-6, whiten_bias_epochs: int = 3) -> dict:  # fmt: skip
    torch.manual_seed(seed)
    generator = torch.Generator().manual_seed(seed)
    (train_x, train_y), val, test = standardised_splits(folder, val_size)
    model = FastNet(train_x)
    biases = [p for p in model.parameters() if p.requires_grad and p.ndim == 1]
    weights = [p for p in model.parameters() if p.requires_grad and p.ndim > 1]
    optimizer = torch.optim.SGD(
        [{"params": weights, "weight_decay": weight_decay},
         {"params": biases, "lr": lr * bias_scale, "weight_decay": 0}],
        lr=lr, momentum=0.85, nesterov=True,
    )  # fmt: skip
    steps = epochs * -(-len(train_x) // batch_size)
    schedule = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=[lr, lr * bias_scale], total_steps=steps, pct_start=0.23, anneal_strategy="linear",
        div_factor=5, final_div_factor=0.2 / 0.07, cycle_momentum=False,
    )  # fmt: skip

    def train_epoch(epoch: int) -> None:
        model.whiten.bias.requires_grad_(epoch < whiten_bias_epochs)
        for index in torch.randperm(len(train_x), generator=generator).split(batch_size):
            loss = F.cross_entropy(model(augment(train_x[index], generator)), train_y[index], label_smoothing=0.2)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            schedule.step()

    return fit_and_test(model, epochs, train_epoch, evaluate, val, test)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--folder", type=Path, required=True)
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--val-size", type=int, default=150)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--lr", type=float, default=1.0)
    parser.add_argument("--batch-size", type=int, default=128)
    args = parser.parse_args()
    print(json.dumps(train(args.folder, args.epochs, args.val_size, args.seed, args.lr, args.batch_size), indent=1))
