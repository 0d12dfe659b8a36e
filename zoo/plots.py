"""Pictures a run leaves in its folder.

Figures are drawn through matplotlib's object interface (a `Figure` with its own Agg canvas), never
through pyplot: drawing changes no global state, so a notebook that uses the zoo keeps its backend and
its figures. Each PNG is written whole (zoo.files).
"""

from __future__ import annotations

from pathlib import Path

import torch
from matplotlib.figure import Figure

from zoo.files import whole


def figure(rows: int = 1, cols: int = 1, figsize=(5, 3.5), squeeze: bool = True, **kwargs):
    """A new figure and its axes (as pyplot.subplots gives them), owned by nobody but the caller."""
    fig = Figure(figsize=figsize)
    return fig, fig.subplots(rows, cols, squeeze=squeeze, **kwargs)


def save_figure(fig, path: Path) -> Path:
    with whole(path) as partial:
        fig.savefig(partial, format="png", dpi=110, bbox_inches="tight")
    return path


def confusion_matrix(preds: torch.Tensor, targets: torch.Tensor, num_classes: int, path: Path) -> Path:
    """Counts of (true class, predicted class) on the test split."""
    counts = torch.zeros(num_classes, num_classes, dtype=torch.long)
    counts.index_put_((targets, preds), torch.ones_like(targets), accumulate=True)
    fig, ax = figure(figsize=(1.0 + 0.45 * num_classes, 0.8 + 0.45 * num_classes))
    ax.imshow(counts, cmap="Blues")
    if num_classes <= 12:
        for i in range(num_classes):
            for j in range(num_classes):
                ax.text(
                    j,
                    i,
                    int(counts[i, j]),
                    ha="center",
                    va="center",
                    fontsize=8,
                    color="white" if counts[i, j] > counts.max() / 2 else "black",
                )
    accuracy = counts.diag().sum().item() / max(1, counts.sum().item())
    ax.set(
        xlabel="predicted",
        ylabel="true",
        title=f"test accuracy {accuracy:.2%}",
        xticks=range(num_classes),
        yticks=range(num_classes),
    )
    return save_figure(fig, path)


@torch.no_grad()
def decision_boundary(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, path: Path, steps: int = 300) -> Path:
    """The class the model predicts at every point of the plane, with the training points on top."""
    lo, hi = x.min(0).values - 0.5, x.max(0).values + 0.5
    gx, gy = torch.meshgrid(torch.linspace(lo[0], hi[0], steps), torch.linspace(lo[1], hi[1], steps), indexing="xy")
    grid = torch.stack([gx.flatten(), gy.flatten()], 1)
    device = next(model.parameters()).device
    model.eval()
    pred = model(grid.to(device)).argmax(1).cpu().view(steps, steps)
    fig, ax = figure(figsize=(5, 5))
    ax.contourf(gx, gy, pred, levels=torch.arange(int(y.max()) + 2) - 0.5, cmap="coolwarm", alpha=0.35)
    ax.scatter(x[:, 0], x[:, 1], c=y, cmap="coolwarm", s=6, edgecolors="none")
    ax.set(title="decision boundary", xlabel="$x_1$", ylabel="$x_2$", aspect="equal")
    return save_figure(fig, path)


def filters(weight: torch.Tensor, path: Path) -> Path:
    """A conv layer's filters, one tile each (the first input channel, or RGB for 3 channels)."""
    import torchvision

    weight = weight.detach().cpu().float()
    tiles = weight[:, :3] if weight.shape[1] == 3 else weight[:, :1]
    low = tiles.amin((1, 2, 3), keepdim=True)
    tiles = (tiles - low) / (tiles.amax((1, 2, 3), keepdim=True) - low + 1e-12)  # each filter on its own scale
    cols = min(len(tiles), 8)
    grid = torchvision.utils.make_grid(tiles, nrow=cols, padding=1, pad_value=1.0)  # one image: one axes to draw
    rows = (len(tiles) + cols - 1) // cols
    fig, ax = figure(figsize=(cols * 0.9, rows * 0.9 + 0.3))
    ax.imshow(grid.permute(1, 2, 0).numpy(), interpolation="nearest")
    ax.axis("off")
    ax.set_title("first-layer filters")
    return save_figure(fig, path)


def curves(history: dict, keys: list[str], path: Path, ylabel: str = "", xlabel: str = "epoch") -> Path:
    """Per-epoch values from a learner's history, one line per key present."""
    fig, ax = figure(figsize=(5, 3.5))
    for key in keys:
        if key in history:
            ax.plot(range(1, len(history[key]) + 1), history[key], label=key)
    ax.set(xlabel=xlabel, ylabel=ylabel)
    ax.legend()
    return save_figure(fig, path)


def gradient_through_time(curves: dict[str, list[float]], path: Path) -> Path:
    """|dL/dh_t| against the number of steps back in time, log scale: vanishing falls, exploding rises."""
    fig, ax = figure(figsize=(5.5, 3.5))
    for label, norms in curves.items():
        ax.semilogy(range(len(norms)), [max(n, 1e-30) for n in norms], label=label)
    ax.set(
        xlabel="steps back in time (T - t)", ylabel=r"$\|\partial L / \partial h_t\|$", title="gradient through time"
    )
    ax.legend()
    return save_figure(fig, path)


def sample_grid(images: torch.Tensor, path: Path, title: str = "") -> Path:
    """Images (N, C, H, W) with values in [0, 1] tiled into one picture, up to 8 per row."""
    import torchvision

    grid = torchvision.utils.make_grid(images.detach().float().cpu().clamp(0, 1), nrow=8, padding=1, pad_value=1.0)
    fig, ax = figure(figsize=(5, 5 * grid.shape[1] / grid.shape[2]))
    ax.imshow(grid.permute(1, 2, 0).numpy(), interpolation="nearest")
    ax.set(title=title)
    ax.axis("off")
    return save_figure(fig, path)


def point_samples(real: torch.Tensor, fake: torch.Tensor, path: Path, title: str = "") -> Path:
    """Generated 2-D points over the real ones."""
    fig, ax = figure(figsize=(5, 5))
    ax.scatter(real[:, 0], real[:, 1], s=3, c="tab:blue", alpha=0.4, edgecolors="none", label="data")
    ax.scatter(fake[:, 0].cpu(), fake[:, 1].cpu(), s=3, c="tab:red", alpha=0.4, edgecolors="none", label="samples")
    ax.set(title=title, xlabel="$x_1$", ylabel="$x_2$", aspect="equal")
    ax.legend(markerscale=4, loc="upper right")
    return save_figure(fig, path)


@torch.no_grad()
def density(log_prob, x: torch.Tensor, path: Path, steps: int = 200, title: str = "") -> Path:
    """A model's density exp(log p(x)) over the plane, the data on top."""
    lo, hi = x.min(0).values - 0.5, x.max(0).values + 0.5
    gx, gy = torch.meshgrid(torch.linspace(lo[0], hi[0], steps), torch.linspace(lo[1], hi[1], steps), indexing="xy")
    grid = torch.stack([gx.flatten(), gy.flatten()], 1)
    p = torch.cat([log_prob(part) for part in grid.split(4096)]).exp().cpu().view(steps, steps)
    fig, ax = figure(figsize=(5, 5))
    ax.pcolormesh(gx, gy, p, cmap="magma", shading="auto")
    ax.scatter(x[:, 0], x[:, 1], s=1, c="white", alpha=0.3, edgecolors="none")
    ax.set(title=title or "model density", xlabel="$x_1$", ylabel="$x_2$", aspect="equal")
    return save_figure(fig, path)


def score_histograms(panels: dict[str, dict[str, torch.Tensor]], path: Path) -> Path:
    """One panel per score (titled by its axis label), one histogram per set on the panel's shared bins."""
    fig, axes = figure(1, len(panels), figsize=(5 * len(panels), 3.5), squeeze=False)
    for ax, (xlabel, scores) in zip(axes.flat, panels.items()):
        values = torch.cat(list(scores.values())).double()
        lo, hi = torch.quantile(values, 0.01).item(), torch.quantile(values, 0.99).item()
        for label, s in scores.items():
            ax.hist(s.double().clamp(lo, hi).numpy(), bins=60, range=(lo, hi), alpha=0.5, density=True, label=label)
        ax.set(xlabel=xlabel, ylabel="density")
    axes.flat[0].legend(fontsize=8)
    fig.tight_layout()
    return save_figure(fig, path)


def code_scatter(code: torch.Tensor, labels: torch.Tensor, path: Path) -> Path:
    """An autoencoder's 2-D code of each test image, coloured by the class it was never told."""
    fig, ax = figure(figsize=(5.5, 5))
    points = ax.scatter(code[:, 0], code[:, 1], c=labels, cmap="tab10", s=6, edgecolors="none")
    fig.colorbar(points, ax=ax, ticks=range(int(labels.max()) + 1), label="class (not used in training)")
    ax.set(title="code of the test images", xlabel="$z_1$", ylabel="$z_2$")
    return save_figure(fig, path)


def _scene_axes(images: torch.Tensor, titles: list[str], columns: int = 4):
    rows = (len(images) + columns - 1) // columns
    fig, axes = figure(rows, columns, figsize=(2.6 * columns, 2.8 * rows), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, image, title in zip(axes.flat, images, titles):
        if len(image) == 3:
            ax.imshow(image.permute(1, 2, 0).cpu().clamp(0, 1))
        else:
            ax.imshow(image[0].cpu(), cmap="gray", vmin=0, vmax=1)
        ax.set_title(title, fontsize=8)
    return fig, axes.flat


def segmentation_overlay(images: torch.Tensor, masks: torch.Tensor, path: Path) -> Path:
    """Each image with its predicted mask on top: one colour per digit class, background clear."""
    fig, axes = _scene_axes(images, ["predicted classes of the pixels"] * len(images))
    for ax, mask in zip(axes, masks):
        coloured = torch.where(mask > 0, mask.float() - 1, torch.nan).cpu()
        ax.imshow(coloured, cmap="tab10", vmin=0, vmax=9, alpha=0.6, interpolation="nearest")
    return save_figure(fig, path)


def detections(images: torch.Tensor, found: list[dict], path: Path) -> Path:
    """Each image with the predicted boxes, their class and score."""
    from matplotlib.patches import Rectangle

    fig, axes = _scene_axes(images, [f"{len(f['boxes'])} found" for f in found])
    for ax, f in zip(axes, found):
        for (x1, y1, x2, y2), label, score in zip(f["boxes"].tolist(), f["labels"].tolist(), f["scores"].tolist()):
            ax.add_patch(Rectangle((x1 - 0.5, y1 - 0.5), x2 - x1, y2 - y1, fill=False, color="tab:red", lw=1.2))
            ax.text(x1, y1 - 1, f"{label} {score:.2f}", color="tab:red", fontsize=7)
    return save_figure(fig, path)


def captioned(images: torch.Tensor, captions: list[str], path: Path) -> Path:
    """Each image with its generated caption as the title."""
    fig, _ = _scene_axes(images, captions)
    return save_figure(fig, path)


def predicted_vs_true(predicted: torch.Tensor, true: torch.Tensor, path: Path) -> Path:
    """A regression's test predictions against the true values: on the diagonal is a perfect fit."""
    fig, ax = figure(figsize=(4.5, 4.5))
    ax.scatter(true.numpy(), predicted.numpy(), s=8, alpha=0.6, edgecolors="none")
    low, high = float(min(true.min(), predicted.min())), float(max(true.max(), predicted.max()))
    ax.plot([low, high], [low, high], color="grey", lw=1, ls="--")
    r2 = 1 - ((predicted - true) ** 2).sum() / ((true - true.mean()) ** 2).sum().clamp_min(1e-12)
    ax.set(xlabel="true", ylabel="predicted", title=f"test R² {r2:.3f}", aspect="equal")
    return save_figure(fig, path)


def learning_curves(history: dict, metric: str | None, path: Path) -> Path | None:
    """Training and validation loss per epoch, and the learner's main validation metric beside them."""
    from matplotlib.ticker import MaxNLocator

    losses = [k for k in ("train/loss", "val/loss") if history.get(k)]
    if not losses:
        return None
    panels = [losses] + ([[f"val/{metric}"]] if metric and history.get(f"val/{metric}") else [])
    fig, axes = figure(1, len(panels), figsize=(5 * len(panels), 3.5), squeeze=False)
    for ax, keys in zip(axes.flat, panels):
        for key in keys:
            ax.plot(range(1, len(history[key]) + 1), history[key], marker="o", markersize=3, label=key)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set(xlabel="epoch", ylabel=keys[0].split("/", 1)[1] if len(keys) == 1 else "loss")
        ax.legend()
    fig.tight_layout()
    return save_figure(fig, path)
