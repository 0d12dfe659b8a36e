"""Hand-made features, as a practitioner before deep learning would define them (slide "Problems in Manual
Feature Extraction": domain knowledge -> define features -> detect features to classify).

HOG (Dalal & Triggs 2005): the image's gradient orientations, histogrammed per cell and weighted by the
gradient's magnitude, each block of cells normalised (L2-Hys). Written plainly here, in numpy.
"""

from __future__ import annotations

import numpy as np


def hog(images: np.ndarray, cell: int | None = None, bins: int = 9, clip: float = 0.2) -> np.ndarray:
    """(N, H, W) grey images -> (N, cells * bins) features: unsigned orientations (0-180 degrees) in `bins`
    bins per `cell` x `cell` cell (by default a 4x4 grid of cells: 2-pixel cells on 8x8 digits), all cells of
    an image normalised as one block (L2, clipped at `clip`, normalised again)."""
    images = np.asarray(images, dtype=np.float64)
    n, h, w = images.shape
    cell = cell or max(1, min(h, w) // 4)
    gx, gy = np.zeros_like(images), np.zeros_like(images)
    gx[:, :, 1:-1] = images[:, :, 2:] - images[:, :, :-2]  # centred differences, the [-1, 0, 1] filter
    gy[:, 1:-1, :] = images[:, 2:, :] - images[:, :-2, :]
    magnitude = np.hypot(gx, gy)
    orientation = np.rad2deg(np.arctan2(gy, gx)) % 180
    which = np.minimum((orientation / (180 / bins)).astype(int), bins - 1)
    rows, cols = h // cell, w // cell
    out = np.zeros((n, rows, cols, bins))
    for r in range(rows):
        for c in range(cols):
            mag = magnitude[:, r * cell : (r + 1) * cell, c * cell : (c + 1) * cell].reshape(n, -1)
            idx = which[:, r * cell : (r + 1) * cell, c * cell : (c + 1) * cell].reshape(n, -1)
            for b in range(bins):
                out[:, r, c, b] = (mag * (idx == b)).sum(1)
    out = out.reshape(n, -1)
    out /= np.linalg.norm(out, axis=1, keepdims=True) + 1e-6
    out = np.minimum(out, clip)
    return out / (np.linalg.norm(out, axis=1, keepdims=True) + 1e-6)


def grey(x) -> np.ndarray:
    """A batch of one-channel images (N, 1, H, W) as a torch or numpy array -> (N, H, W) numpy."""
    x = x.detach().cpu().numpy() if hasattr(x, "detach") else np.asarray(x)
    return x.reshape(len(x), x.shape[-2], x.shape[-1])
