"""Linear observation operators with orthonormal rows: y = A x with A A^T = I (Kawar et al. 2022, "Denoising
Diffusion Restoration Models", Sec. 3-4, for the view of image restoration as a linear inverse problem).

Each operator is a small frozen dataclass that works on batches of images (N, *shape) in data units:

- ``observe(x) -> y``: A x, of shape (N, *observed_shape(shape));
- ``lift(y) -> x``: A^T y (zero off the observed subspace), so ``lift(observe(x))`` is the orthogonal projection of x
  onto the observed subspace and ``observe(lift(y)) == y``;
- ``observed_shape(shape)``: the per-sample shape of y for images of ``shape``; DataError if the operator does not fit;
- ``name``: a short label.

Every row of these operators is a normalised indicator of a set of entries, the sets disjoint: a kept pixel
(:class:`Inpaint`), the three channels of a pixel (:class:`Colorize`: y = sqrt(3) x mean of RGB, the gray axis
(1, 1, 1)/sqrt(3) of Song et al. 2021, App. I.4), a f x f block of one channel (:class:`SuperResolve`: y = f x the
block mean). :func:`genlab.inverse.solve` relies on the disjoint supports to carry the operator into a model's
per-dimension standardised units (see there).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from genlab.errors import DataError
from genlab.rng import randperm

__all__ = ["Inpaint", "Colorize", "SuperResolve", "box_mask", "random_pixel_mask"]


def _image_shape(shape, what: str, channels: int | None = None) -> tuple[int, ...]:
    shape = tuple(int(s) for s in shape)
    if len(shape) != 3 or (channels is not None and shape[0] != channels):
        need = f"({channels}, H, W)" if channels is not None else "(C, H, W)"
        raise DataError(f"{what} needs images of shape {need}, got {shape}")
    return shape


@dataclass(frozen=True, eq=False)
class Inpaint:
    """Keep the entries where ``mask`` (a bool tensor of the image's shape) is True: y = x[mask], (N, k)."""

    mask: torch.Tensor

    def __post_init__(self):
        m = torch.as_tensor(self.mask)
        if m.dtype != torch.bool or m.ndim < 1:
            raise DataError(f"Inpaint needs a boolean mask of the image's shape, got dtype {m.dtype}, shape "
                            f"{tuple(m.shape)}")
        if not bool(m.any()):
            raise DataError("Inpaint mask observes nothing (all False)")
        object.__setattr__(self, "mask", m)

    @property
    def name(self) -> str:
        return "inpaint"

    def observed_shape(self, shape) -> tuple[int, ...]:
        if tuple(int(s) for s in shape) != tuple(self.mask.shape):
            raise DataError(f"Inpaint mask has shape {tuple(self.mask.shape)}, the images {tuple(shape)}")
        return (int(self.mask.sum()),)

    def observe(self, x: torch.Tensor) -> torch.Tensor:
        return x[:, self.mask.to(x.device)]

    def lift(self, y: torch.Tensor) -> torch.Tensor:
        out = y.new_zeros((y.shape[0], *self.mask.shape))
        out[:, self.mask.to(y.device)] = y
        return out


@dataclass(frozen=True)
class Colorize:
    """Observe the gray axis of every pixel: y = (r + g + b) / sqrt(3) = sqrt(3) x the channel mean, (N, 1, H, W)."""

    @property
    def name(self) -> str:
        return "colorize"

    def observed_shape(self, shape) -> tuple[int, ...]:
        _, h, w = _image_shape(shape, "Colorize", channels=3)
        return (1, h, w)

    def observe(self, x: torch.Tensor) -> torch.Tensor:
        return x.sum(-3, keepdim=True) / math.sqrt(3)

    def lift(self, y: torch.Tensor) -> torch.Tensor:
        return (y / math.sqrt(3)).expand(*y.shape[:-3], 3, *y.shape[-2:]).contiguous()


@dataclass(frozen=True)
class SuperResolve:
    """Observe every ``factor`` x ``factor`` block of every channel: y = factor x the block mean, (N, C, H/f, W/f)."""

    factor: int = 2

    def __post_init__(self):
        if isinstance(self.factor, bool) or not isinstance(self.factor, int) or self.factor < 2:
            raise DataError(f"SuperResolve factor must be an integer >= 2, got {self.factor!r}")

    @property
    def name(self) -> str:
        return f"super_resolve_{self.factor}"

    def observed_shape(self, shape) -> tuple[int, ...]:
        c, h, w = _image_shape(shape, "SuperResolve")
        f = self.factor
        if h % f or w % f:
            raise DataError(f"SuperResolve({f}) needs a height and width divisible by {f}, got {h}x{w}")
        return (c, h // f, w // f)

    def observe(self, x: torch.Tensor) -> torch.Tensor:
        f, (h, w) = self.factor, x.shape[-2:]
        return x.reshape(*x.shape[:-2], h // f, f, w // f, f).sum((-3, -1)) / f

    def lift(self, y: torch.Tensor) -> torch.Tensor:
        f, (h, w) = self.factor, y.shape[-2:]
        up = (y / f)[..., :, None, :, None].expand(*y.shape[:-2], h, f, w, f)
        return up.reshape(*y.shape[:-2], h * f, w * f)


def box_mask(shape, box) -> torch.Tensor:
    """Bool mask of ``shape`` (C, H, W), True (observed) outside ``box`` = (top, left, height, width), in every channel."""
    c, h, w = _image_shape(shape, "box_mask")
    top, left, bh, bw = (int(v) for v in box)
    if bh < 1 or bw < 1 or top < 0 or left < 0 or top + bh > h or left + bw > w:
        raise DataError(f"box (top, left, height, width) = {tuple(box)} does not lie inside {h}x{w} images")
    mask = torch.ones((c, h, w), dtype=torch.bool)
    mask[:, top : top + bh, left : left + bw] = False
    return mask


def random_pixel_mask(shape, frac: float, *, generator: torch.Generator) -> torch.Tensor:
    """Bool mask of ``shape`` (C, H, W) with round(frac H W) pixels missing (False in every channel), drawn from
    ``generator``; the others observed."""
    c, h, w = _image_shape(shape, "random_pixel_mask")
    if not 0 <= float(frac) < 1:
        raise DataError(f"random_pixel_mask needs a missing fraction in [0, 1), got {frac!r}")
    missing = randperm(h * w, generator)[: round(float(frac) * h * w)]
    keep = torch.ones(h * w, dtype=torch.bool)
    keep[missing] = False
    return keep.reshape(1, h, w).expand(c, h, w).clone()
