"""Choosing the figure for a batch of samples: a scatter plot for 2-D vectors, an image grid for images."""

from __future__ import annotations

from pathlib import Path

from genlab.errors import DataError

__all__ = ["check_plottable", "plot_samples"]


def check_plottable(shape) -> str:
    """``"scatter"`` for (2,), ``"images"`` for (C, H, W) with C in (1, 3); DataError otherwise."""
    shape = tuple(shape)
    if shape == (2,):
        return "scatter"
    if len(shape) == 3 and shape[0] in (1, 3):
        return "images"
    raise DataError(f"--plot draws 2-D points or images (C, H, W), but the model's samples have shape {shape}")


def plot_samples(samples, path: Path, *, title: str | None = None, reference=None, max_images: int = 64) -> Path:
    """Write a scatter plot (2-D) or an image grid (the first ``max_images``) of ``samples`` to ``path``."""
    from genlab import plots

    if check_plottable(samples.shape[1:]) == "scatter":
        return plots.scatter_samples(samples, path, title=title, reference=reference)
    return plots.image_grid(samples[:max_images], path, title=title)
