"""Validation of user arrays: every public entry point passes its data through here."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from genlab.errors import DataError

__all__ = ["as_tensor", "as_labels", "as_mask", "as_float_array"]


def _to_tensor(x, what: str) -> torch.Tensor:
    if isinstance(x, torch.Tensor):
        return x.detach()
    try:
        arr = np.asarray(x)
    except Exception as exc:  # ragged lists and the like
        raise DataError(f"{what} could not be read as an array: {exc}") from None
    if arr.dtype == object or arr.dtype.kind in "USV":
        raise DataError(f"{what} must be numeric, got an array of {arr.dtype}")
    return torch.from_numpy(np.ascontiguousarray(arr))


def as_tensor(x, shape: Sequence[int] | None = None, *, what: str = "data", keep_integers: bool = False) -> torch.Tensor:
    """Return ``x`` as a float32 tensor of shape ``(N, *shape)``, or raise :class:`DataError`; with
    ``keep_integers`` an integer tensor keeps its dtype and storage (token ids: no float copy of a large stream).

    Checks: numeric, non-empty, finite, rank and per-sample shape (when ``shape`` is given).
    A single sample of exactly ``shape`` is not promoted: callers pass batches.
    """
    t = _to_tensor(x, what)
    if t.dtype == torch.bool or not (t.is_floating_point() or t.dtype in (torch.int8, torch.int16, torch.int32, torch.int64, torch.uint8)):
        raise DataError(f"{what} must be a numeric array, got dtype {t.dtype}")
    if t.ndim < 2:
        raise DataError(f"{what} must have shape (N, ...) with at least 2 dimensions, got shape {tuple(t.shape)}")
    if t.shape[0] == 0:
        raise DataError(f"{what} is empty (0 samples)")
    if shape is not None and tuple(t.shape[1:]) != tuple(shape):
        raise DataError(f"{what} has per-sample shape {tuple(t.shape[1:])}, expected {tuple(shape)}")
    if t.numel() == 0:
        raise DataError(f"{what} is empty (shape {tuple(t.shape)})")
    if t.is_floating_point() and not torch.isfinite(t).all():
        bad = int((~torch.isfinite(t)).sum())
        raise DataError(f"{what} contains {bad} NaN or infinite value(s)")
    if keep_integers and not t.is_floating_point():
        return t
    finite_before = t.is_floating_point() and t.dtype != torch.float32
    t = t.to(torch.float32)
    if finite_before and not torch.isfinite(t).all():
        bad = int((~torch.isfinite(t)).sum())
        big = float(torch.finfo(torch.float32).max)
        raise DataError(f"{what} has {bad} value(s) beyond the float32 range (|x| > {big:.3g}): rescale the data")
    return t


def as_labels(y, n: int, *, what: str = "labels") -> torch.Tensor | None:
    """Return labels as an int64 tensor of shape ``(n,)`` (or None), or raise :class:`DataError`."""
    if y is None:
        return None
    t = _to_tensor(y, what)
    if t.ndim != 1 or t.shape[0] != n:
        raise DataError(f"{what} must have shape ({n},), got {tuple(t.shape)}")
    if t.is_floating_point():
        if not torch.isfinite(t).all() or not torch.equal(t, t.round()):
            raise DataError(f"{what} must be integers")
    t = t.to(torch.int64)
    if (t < 0).any():
        raise DataError(f"{what} must be non-negative integers")
    return t


def as_mask(mask, shape: Sequence[int], *, what: str = "mask") -> torch.Tensor:
    """Return a boolean mask broadcast to ``shape`` (True = observed), or raise :class:`DataError`."""
    t = _to_tensor(mask, what)
    if t.dtype != torch.bool:
        if t.is_floating_point() and not torch.isin(t, torch.tensor([0.0, 1.0], dtype=t.dtype)).all():
            raise DataError(f"{what} must be boolean (True = observed)")
        t = t != 0
    try:
        return torch.broadcast_to(t, tuple(shape)).clone()
    except RuntimeError:
        raise DataError(f"{what} has shape {tuple(t.shape)}, which does not match the data's {tuple(shape)}") from None


def as_float_array(x, *, what: str = "input") -> np.ndarray:
    """``x`` as a float32 numpy array (NaN allowed: it marks missing entries); DataError if it is not numeric."""
    try:
        return np.asarray(x, dtype=np.float32)
    except (TypeError, ValueError):
        raise DataError(f"{what} must be a numeric array (NaN marks missing entries)") from None
