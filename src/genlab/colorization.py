"""Colorization as a linear inverse problem (Song et al. 2021, "Score-Based Generative Modeling through SDEs",
Appendix I.4).

A grayscale image is a linear function of the colour image: its intensity is the mean of the three channels. Song
et al. map every pixel's (r, g, b) into an orthogonal basis whose first axis is the gray direction, so that the
observation is exactly one coordinate and colorization becomes imputation of the two others:

    u = Q x (per pixel),  Q = [[1, 1, 1]/sqrt(3), [1, -1, 0]/sqrt(2), [1, 1, -2]/sqrt(6)],  x = Q^T u,

Q orthogonal (so Q^T = Q^-1 and densities keep their values: |det Q| = 1). A gray image g (the channel mean, in
data units, as :func:`grayscale` gives it) fixes u_0 = sqrt(3) g; a model fitted to decoupled images u
fills u_1, u_2 with ``model.impute(u, colorization_mask(...))`` (mask True = observed), and :func:`colorize`
maps the result back. Without retraining, a diffusion-type model of the RGB images themselves colorizes through
the same observation written as an operator, y = sqrt(3) g = (r + g + b) / sqrt(3) (:class:`genlab.inverse.Colorize`,
``colorize(..., basis="rgb")``): its noise is isotropic in RGB as in the rotated basis, so the replacement method
needs no change of basis (:func:`genlab.inverse.solve`).

>>> import genlab
>>> from genlab import colorization as col
>>> ds = genlab.datasets.load("color_digits")
>>> m = genlab.create("gmm", ds.shape, n_components=5).fit(col.to_decoupled(ds.train))  # doctest: +SKIP
>>> rgb = col.colorize(m, col.grayscale(ds.test))  # doctest: +SKIP
>>> col.colour_rmse(rgb, ds.test)  # doctest: +SKIP
>>> e = genlab.create("edm", ds.shape, backbone="unet").fit(ds.train)  # doctest: +SKIP
>>> rgb = col.colorize(e, col.grayscale(ds.test), basis="rgb", n_samples=8)  # doctest: +SKIP
"""

from __future__ import annotations

import math

import torch

from genlab.data.validate import as_tensor
from genlab.errors import ConfigError, DataError

__all__ = ["BASIS", "to_decoupled", "from_decoupled", "grayscale", "colorization_mask", "colorize", "colour_rmse"]

#: rows: the gray axis, then two orthonormal chroma axes (Q above)
BASIS = torch.tensor(
    [
        [1 / math.sqrt(3), 1 / math.sqrt(3), 1 / math.sqrt(3)],
        [1 / math.sqrt(2), -1 / math.sqrt(2), 0.0],
        [1 / math.sqrt(6), 1 / math.sqrt(6), -2 / math.sqrt(6)],
    ],
    dtype=torch.float64,
)


def _colour_images(x, what: str) -> torch.Tensor:
    t = as_tensor(x, what=what)
    if t.ndim != 4 or t.shape[1] != 3:
        raise DataError(f"{what} must be colour images (N, 3, H, W), got shape {tuple(t.shape)}")
    return t


def _apply(matrix: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    return torch.einsum("ij,njhw->nihw", matrix, x.double()).to(torch.float32)


def to_decoupled(x) -> torch.Tensor:
    """(N, 3, H, W) RGB images -> their coordinates u = Q x in the decoupled basis (same shape)."""
    return _apply(BASIS, _colour_images(x, "images"))


def from_decoupled(u) -> torch.Tensor:
    """Decoupled coordinates (N, 3, H, W) -> RGB images x = Q^T u."""
    return _apply(BASIS.T, _colour_images(u, "decoupled images"))


def grayscale(x) -> torch.Tensor:
    """The gray image (N, 1, H, W) of RGB images: the mean of the channels (= u_0 / sqrt(3))."""
    return _colour_images(x, "images").mean(dim=1, keepdim=True)


def colorization_mask(shape) -> torch.Tensor:
    """Boolean mask of ``shape`` ((3, H, W) or (N, 3, H, W)): True (observed) on the gray coordinate u_0."""
    shape = tuple(int(s) for s in shape)
    if len(shape) not in (3, 4) or shape[-3] != 3:
        raise DataError(f"colorization_mask needs a shape (3, H, W) or (N, 3, H, W), got {shape}")
    mask = torch.zeros(shape, dtype=torch.bool)
    mask[..., 0, :, :] = True
    return mask


def colorize(model, gray, *, basis: str = "decoupled", seed=None, **options) -> torch.Tensor:
    """Colour images (N, 3, H, W) for gray images ``gray`` ((N, 1, H, W) or (N, H, W), channel means in data units).

    ``basis="decoupled"``: ``model`` was fitted to decoupled images (:func:`to_decoupled`) of shape (3, H, W); the two
    chroma coordinates are filled by ``model.impute`` (``options``, e.g. ``fill="sample"``, are passed on).
    ``basis="rgb"``: no retraining: ``model`` is any diffusion-type model fitted to the RGB images themselves; the
    gray axis is a linear observation y = sqrt(3) g (:class:`genlab.inverse.Colorize`) and
    :func:`genlab.inverse.solve` draws the colours (``options``: ``n_samples``, ``sampler``, ``steps``, ...).
    """
    if basis not in ("decoupled", "rgb"):
        raise ConfigError(f"colorize basis must be 'decoupled' or 'rgb', got {basis!r}")
    g = as_tensor(gray, what="gray images")
    if g.ndim == 3:
        g = g[:, None]
    if g.ndim != 4 or g.shape[1] != 1:
        raise DataError(f"gray images must have shape (N, 1, H, W) or (N, H, W), got {tuple(g.shape)}")
    n, _, h, w = g.shape
    if tuple(model.shape) != (3, h, w):
        kind = "decoupled colour images" if basis == "decoupled" else "RGB images"
        raise DataError(f"gray images of size {h}x{w} do not fit a model of shape {tuple(model.shape)}; "
                        f"expected a model of {kind} (3, {h}, {w})")
    if basis == "rgb":
        from genlab.inverse import Colorize, solve

        return solve(model, math.sqrt(3) * g, Colorize(), seed=seed, **options)
    u = torch.zeros(n, 3, h, w)
    u[:, :1] = math.sqrt(3) * g
    filled = model.impute(u, colorization_mask(u.shape), seed=seed, **options)
    return from_decoupled(filled)


def colour_rmse(pred, truth) -> float:
    """Root-mean-square error over all pixels and RGB channels, in data units."""
    p, t = _colour_images(pred, "predicted images"), _colour_images(truth, "true images")
    if p.shape != t.shape:
        raise DataError(f"predicted images {tuple(p.shape)} and true images {tuple(t.shape)} differ in shape")
    return float((p.double() - t.double()).pow(2).mean().sqrt())
