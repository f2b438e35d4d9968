"""The figures of a bench run, drawn with :mod:`genlab.plots`, plus tiled composites (PIL).

* 2-D data: a scatter of each model's samples over the test data, and (models with a likelihood) the model's
  density heatmap beside the true density (or alone when the truth is unknown); the grid of the density heatmap
  is sized from the model's measured ``log_prob`` cost so that slow (ODE) likelihoods stay within a few seconds.
* Images ``(C, H, W)``, and flat discrete data whose width is a square (e.g. ``digits_flat``): a grid of samples;
  a model fitted on captions (``shapes``) also draws a prompt x sample grid (:func:`genlab.apps.captions.prompt_grid`:
  seen test captions, then held-out ones, at the model's default guidance).
* Samplers that take ``steps=``: sliced Wasserstein against network evaluations (:func:`genlab.plots.quality_vs_nfe`).

Composites (``samples_grid.png``, ``density_grid.png``, ``images_grid.png``) tile the per-model PNGs so that a
reader gets one picture per kind; the report embeds the per-model PNGs.
"""

from __future__ import annotations

import math
from pathlib import Path

import torch

from genlab import plots

__all__ = ["view_limits", "image_shape", "density_grid_size", "plot_reference", "plot_model", "plot_nfe", "tile"]


def view_limits(x: torch.Tensor, pad: float = 0.1) -> tuple[tuple[float, float], tuple[float, float]]:
    """Axis limits covering the central 99% of 2-D data, padded by ``pad`` of the range on each side."""
    x = x.detach().to(torch.float64)
    lo, hi = torch.quantile(x, 0.005, dim=0), torch.quantile(x, 0.995, dim=0)
    span = (hi - lo).clamp_min(1e-6)
    lo, hi = lo - pad * span, hi + pad * span
    return (float(lo[0]), float(hi[0])), (float(lo[1]), float(hi[1]))


def image_shape(shape: tuple[int, ...], levels: int | None) -> tuple[int, int, int] | None:
    """The ``(C, H, W)`` to draw samples of ``shape`` as images, or None when they are not images."""
    if len(shape) == 3 and shape[0] in (1, 3):
        return tuple(shape)  # type: ignore[return-value]
    if len(shape) == 1 and levels is not None:
        side = math.isqrt(shape[0])
        if side >= 4 and side * side == shape[0]:
            return (1, side, side)
    return None


def density_grid_size(seconds_per_point: float | None, cap_s: float, lo: int = 20, hi: int = 100) -> int | None:
    """Grid side so that ``side**2`` log-densities cost about ``cap_s`` seconds, clamped to ``[lo, hi]``; None (no
    heatmap) when even the coarsest grid would take more than ``4 * cap_s``."""
    if not seconds_per_point or seconds_per_point <= 0:
        return hi
    if seconds_per_point * lo * lo > 4 * cap_s:
        return None
    return int(max(lo, min(hi, math.sqrt(cap_s / seconds_per_point))))


def plot_reference(ds, test: torch.Tensor, plots_dir: Path, lim) -> dict[str, list[tuple[str, Path]]]:
    """Plots of the data themselves: the test scatter (2-D) or a grid of test images."""
    out: dict[str, list[tuple[str, Path]]] = {}
    if tuple(ds.shape) == (2,):
        out["samples"] = [("data (test)", plots.scatter_samples(test[:2000], plots_dir / "samples_data.png",
                                                                title="data (test)", lim=lim))]
    shape = image_shape(tuple(ds.shape), ds.discrete_levels)
    if shape is not None:
        out["images"] = [("data (test)", plots.image_grid(test[:64].reshape(-1, *shape), plots_dir / "images_data.png",
                                                          title="data (test)", **_image_range(ds)))]
    return out


def _image_range(ds) -> dict:
    return {"vmin": 0.0, "vmax": float(ds.discrete_levels - 1)} if ds.discrete_levels else {}


def plot_model(name: str, model, samples: torch.Tensor | None, ds, test: torch.Tensor, plots_dir: Path, lim,
               grid: int | None) -> dict[str, list[tuple[str, Path]]]:
    """Per-model plots (see the module docstring); returns ``{kind: [(caption, path)]}``."""
    out: dict[str, list[tuple[str, Path]]] = {}
    if tuple(ds.shape) == (2,):
        if samples is not None:
            out["samples"] = [(name, plots.scatter_samples(samples, plots_dir / f"samples_{name}.png", title=name,
                                                           reference=test[:2000], lim=lim))]
        if model.likelihood != "none" and grid is not None:
            truth = ds.log_prob if ds.has_density else None
            path = plots.density_comparison(lambda p: model.log_prob(p, seed=0), truth, plots_dir / f"density_{name}.png",
                                            lim=lim, grid=grid, title=f"{name} ({model.likelihood})")
            out["density"] = [(name, path)]
    shape = image_shape(tuple(ds.shape), ds.discrete_levels)
    if shape is not None and samples is not None:
        out["images"] = [(name, plots.image_grid(samples[:64].reshape(-1, *shape), plots_dir / f"images_{name}.png",
                                                 title=name, **_image_range(ds)))]
    if shape is not None and getattr(model, "label_encoder", None) is not None:
        from genlab.apps.captions import grid_prompts, prompt_grid

        rows = grid_prompts(ds)
        if rows:
            out["prompts"] = [(name, prompt_grid(model, rows, plots_dir / f"prompts_{name}.png", shape=shape,
                                                 **_image_range(ds)))]
    return out


def plot_nfe(results: list, plots_dir: Path) -> dict[str, list[tuple[str, Path]]]:
    """Sliced Wasserstein against NFE for every model with a step sweep; {} when there is none."""
    records = []
    for r in results:
        for p in r.sweep:
            label = r.name if p.get("nfe_reported") else f"{r.name} (x = steps)"
            records.append({"name": label, "nfe": p["nfe"], "value": p["sliced_wasserstein"]})
    finite = [rec for rec in records if math.isfinite(rec["value"])]
    if not finite:
        return {}
    path = plots.quality_vs_nfe(finite, plots_dir / "quality_vs_nfe.png", ylabel="sliced W1 to test data",
                                title="sample quality against network evaluations")
    return {"nfe": [("sliced W1 against NFE (lower is better)", path)]}


def tile(paths: list[Path], out: Path, ncol: int = 4, background=(255, 255, 255)) -> Path | None:
    """Tile PNGs into one image, ``ncol`` per row, each cell the size of the largest; None when ``paths`` is empty."""
    from PIL import Image

    if not paths:
        return None
    images = [Image.open(p).convert("RGB") for p in paths]
    w, h = max(i.width for i in images), max(i.height for i in images)
    ncol = max(1, min(ncol, len(images)))
    rows = math.ceil(len(images) / ncol)
    canvas = Image.new("RGB", (ncol * w, rows * h), background)
    for k, im in enumerate(images):
        r, c = divmod(k, ncol)
        canvas.paste(im, (c * w + (w - im.width) // 2, r * h + (h - im.height) // 2))
    out.parent.mkdir(parents=True, exist_ok=True)
    canvas.save(out, format="PNG")
    return out
