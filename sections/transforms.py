"""The slide's "Problems in Manual Feature Extraction" as transforms of a batch of images, each at growing
severity: viewpoint, scale, deformation, occlusion, illumination, background clutter, and the "Features of X"
slide's shifted, shrunk, rotated, deformed X.

Images are (N, 1, H, W) tensors whose background has the value `low` and whose full stroke has `high`
(standardised digits: the values of intensity 0 and 16). Every transform is seeded by its generator.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

LEVELS = 4  # severities 1..LEVELS; 0 is the clean image


def warp(x: torch.Tensor, theta: torch.Tensor, low: float) -> torch.Tensor:
    """Resample each image through its affine map `theta` (N, 2, 3), in normalised coordinates; what comes
    from outside the image is background."""
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    return F.grid_sample(x - low, grid, align_corners=False) + low


def affine(n: int, rotate=0.0, scale=1.0, shear=0.0, shift=(0.0, 0.0)) -> torch.Tensor:
    """theta maps output coordinates to input ones: the inverse of rotating, zooming, shearing and moving."""
    a = torch.as_tensor(rotate, dtype=torch.float32).expand(n)
    s = torch.as_tensor(scale, dtype=torch.float32).expand(n)
    k = torch.as_tensor(shear, dtype=torch.float32).expand(n)
    forward = torch.zeros(n, 3, 3)
    forward[:, 0, 0], forward[:, 0, 1] = s * torch.cos(a), s * (-torch.sin(a) + k * torch.cos(a))
    forward[:, 1, 0], forward[:, 1, 1] = s * torch.sin(a), s * (torch.cos(a) + k * torch.sin(a))
    forward[:, 0, 2], forward[:, 1, 2] = torch.as_tensor(shift[0]), torch.as_tensor(shift[1])
    forward[:, 2, 2] = 1
    return torch.linalg.inv(forward)[:, :2]


def signs(n: int, g: torch.Generator) -> torch.Tensor:
    return torch.randint(0, 2, (n,), generator=g).float() * 2 - 1


def shifted(x, level, low, high, g):
    """Moved by `level` pixels in a random one of the eight directions."""
    n, w = len(x), x.shape[-1]
    angle = torch.randint(0, 8, (n,), generator=g).float() * math.pi / 4
    dx, dy = torch.round(torch.cos(angle)) * level, torch.round(torch.sin(angle)) * level
    return warp(x, affine(n, shift=(dx * 2 / w, dy * 2 / w)), low)


def shrunk(x, level, low, high, g):
    """Zoomed out to 1 - 0.1 * level of its size (0.6 at level 4), about the centre."""
    return warp(x, affine(len(x), scale=1 - 0.1 * level), low)


def rotated(x, level, low, high, g):
    """Turned by 10 degrees per level (40 at level 4), either way."""
    return warp(x, affine(len(x), rotate=signs(len(x), g) * math.radians(10 * level)), low)


def viewpoint(x, level, low, high, g):
    """Seen from the side: sheared by 0.1 per level, either way, and squeezed as a turned page is."""
    n = len(x)
    theta = affine(n, shear=signs(n, g) * 0.1 * level)
    theta[:, 0, 0] /= 1 - 0.05 * level  # foreshortening across
    return warp(x, theta, low)


def deformed(x, level, low, high, g):
    """Elastic deformation (Simard et al. 2003): a random displacement field smoothed by a Gaussian, up to
    about `level` / 2 pixels."""
    n, _, h, w = x.shape
    field = torch.rand(n, 2, h, w, generator=g) * 2 - 1
    kernel = torch.exp(-(torch.arange(-3, 4).float() ** 2) / (2 * 1.5**2))
    kernel = (kernel[:, None] * kernel[None, :] / kernel.sum() ** 2).expand(2, 1, 7, 7)
    field = F.conv2d(field, kernel, padding=3, groups=2)
    field = field / field.abs().amax(dim=(1, 2, 3), keepdim=True) * (level / 2) * (2 / w)
    grid = F.affine_grid(torch.eye(2, 3).expand(n, 2, 3), list(x.shape), align_corners=False)
    return F.grid_sample(x - low, grid + field.permute(0, 2, 3, 1), align_corners=False) + low


def occluded(x, level, low, high, g):
    """A square of side level + 1 pixels (5 at level 4) at a random place set to the background."""
    out, (n, _, h, w), side = x.clone(), x.shape, level + 1
    tops, lefts = torch.randint(0, h - side + 1, (n,), generator=g), torch.randint(0, w - side + 1, (n,), generator=g)
    for i in range(n):
        out[i, :, tops[i] : tops[i] + side, lefts[i] : lefts[i] + side] = low
    return out


def _in_unit(x, low, high, change):
    return change((x - low) / (high - low)) * (high - low) + low


def gamma(x, level, low, high, g):
    """Darker midtones: each intensity u to u^(1 + 0.75 * level) (u^4 at level 4)."""
    return _in_unit(x, low, high, lambda u: u.clamp(min=0) ** (1 + 0.75 * level))


def contrast(x, level, low, high, g):
    """Fainter: intensities times 1 - 0.2 * level (0.2 at level 4), over a grey of 0.1 * level."""
    return _in_unit(x, low, high, lambda u: u * (1 - 0.2 * level) + 0.1 * level)


def light_gradient(x, level, low, high, g):
    """Light from one side: a brightness ramp of 0.25 * level across the image, in a random direction."""
    n, _, h, w = x.shape
    angle = torch.rand(n, generator=g) * 2 * math.pi
    ys, xs = torch.meshgrid(torch.linspace(-1, 1, h), torch.linspace(-1, 1, w), indexing="ij")
    ramp = torch.cos(angle)[:, None, None, None] * xs + torch.sin(angle)[:, None, None, None] * ys
    return _in_unit(x, low, high, lambda u: u + 0.25 * level * (ramp + 1) / 2)


def clutter(x, level, low, high, g):
    """`level` stray strokes (three pixels in a line, at full intensity) at random places."""
    out, (n, _, h, w) = x.clone(), x.shape
    steps = torch.tensor([[0, 1], [1, 0], [1, 1], [1, -1]])
    for _ in range(level):
        direction = steps[torch.randint(0, 4, (n,), generator=g)]
        r, c = torch.randint(1, h - 1, (n,), generator=g), torch.randint(1, w - 1, (n,), generator=g)
        for t in (-1, 0, 1):
            out[torch.arange(n), 0, r + t * direction[:, 0], c + t * direction[:, 1]] = high
    return out


TRANSFORMS = {
    "shift (viewpoint)": shifted,
    "scale (shrunk)": shrunk,
    "rotation": rotated,
    "viewpoint (shear)": viewpoint,
    "deformation (elastic)": deformed,
    "occlusion": occluded,
    "illumination (gamma)": gamma,
    "illumination (contrast)": contrast,
    "illumination (gradient)": light_gradient,
    "background clutter": clutter,
}
