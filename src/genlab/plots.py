"""Figures for genlab: 2-D samples, density heatmaps, image grids, sampler trajectories, quality against NFE.

Every function draws on a standalone :class:`matplotlib.figure.Figure` (rendered by the Agg canvas, never
through pyplot, so nothing global changes and no window opens), writes a PNG at ``dpi=100`` after creating the
parent folders, and returns the path as a :class:`pathlib.Path`. matplotlib is imported lazily, so importing
this module is cheap and has no side effects. Inputs are tensors or arrays; non-finite points are left out.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import torch

from genlab.checks import positive_int
from genlab.errors import ConfigError, DataError

__all__ = ["scatter_samples", "density_comparison", "image_grid", "trajectories", "quality_vs_nfe"]

_DPI = 100


def _figure(width: float, height: float):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=_DPI)
    FigureCanvasAgg(fig)
    return fig


def _save(fig, path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=_DPI, format="png")
    fig.clear()  # a pyplot-free figure has no global registry: clearing releases its artists
    return path


def _numpy(x, what: str) -> np.ndarray:
    if isinstance(x, torch.Tensor):
        x = x.detach().to("cpu", torch.float64).numpy()
    try:
        return np.asarray(x, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise DataError(f"{what} could not be read as a numeric array: {exc}") from None


def _points(x, what: str) -> np.ndarray:
    """(N, 2) finite points; rows with a non-finite entry are dropped."""
    a = _numpy(x, what)
    if a.ndim != 2 or a.shape[1] != 2:
        raise DataError(f"{what} must have shape (N, 2), got {a.shape}")
    return a[np.isfinite(a).all(axis=1)]


def _limits(lim) -> tuple[tuple[float, float], tuple[float, float]] | None:
    """``None``, ``L`` -> [-L, L]², ``(lo, hi)`` -> [lo, hi]², or ``((xlo, xhi), (ylo, yhi))``."""
    if lim is None:
        return None
    if isinstance(lim, (int, float)):
        return (-float(lim), float(lim)), (-float(lim), float(lim))
    try:
        lim = list(lim)
        if len(lim) == 2 and all(isinstance(v, (int, float)) for v in lim):
            return (float(lim[0]), float(lim[1])), (float(lim[0]), float(lim[1]))
        if len(lim) == 2 and all(len(v) == 2 for v in lim):
            return (float(lim[0][0]), float(lim[0][1])), (float(lim[1][0]), float(lim[1][1]))
    except (TypeError, ValueError):
        pass
    raise ConfigError(f"lim must be L, (lo, hi) or ((xlo, xhi), (ylo, yhi)), got {lim}")


def _apply_limits(ax, lim) -> None:
    lims = _limits(lim)
    if lims is not None:
        ax.set_xlim(*lims[0])
        ax.set_ylim(*lims[1])
    ax.set_aspect("equal", adjustable="box")


def scatter_samples(samples, path, *, title: str | None = None, reference=None, lim=None) -> Path:
    """Scatter plot of 2-D ``samples`` (N, 2), with optional ``reference`` data drawn faintly behind."""
    pts = _points(samples, "samples")
    fig = _figure(5, 5)
    ax = fig.add_subplot(1, 1, 1)
    if reference is not None:
        ref = _points(reference, "reference")
        ax.scatter(ref[:, 0], ref[:, 1], s=3, c="0.6", alpha=0.35, linewidths=0, label="data")
    ax.scatter(pts[:, 0], pts[:, 1], s=3, c="C0", alpha=0.8, linewidths=0, label="samples")
    if reference is not None:
        ax.legend(loc="upper right", markerscale=3, fontsize=8)
    _apply_limits(ax, lim)
    if title:
        ax.set_title(title)
    fig.tight_layout()
    return _save(fig, path)


def _density_on_grid(fn: Callable, xs: np.ndarray, ys: np.ndarray, chunk: int = 16384) -> np.ndarray:
    """exp(fn(points)) on the grid (rows = y); -inf and NaN log-densities show as 0."""
    gx, gy = np.meshgrid(xs, ys)
    pts = torch.as_tensor(np.stack([gx.ravel(), gy.ravel()], axis=1), dtype=torch.float32)
    out = []
    for i in range(0, pts.shape[0], chunk):
        lp = torch.as_tensor(fn(pts[i : i + chunk])).detach().to("cpu", torch.float64).reshape(-1)
        out.append(lp.numpy())
    lp = np.concatenate(out)
    if lp.shape[0] != pts.shape[0]:
        raise DataError(f"log-density function returned {lp.shape[0]} values for {pts.shape[0]} points")
    dens = np.exp(np.clip(np.nan_to_num(lp, nan=-np.inf), None, 700.0))
    dens[~np.isfinite(dens)] = 0.0
    return dens.reshape(gx.shape)


def density_comparison(model_logp_fn: Callable, true_logp_fn: Callable | None, path, *, lim, grid: int = 200,
                       title: str | None = None) -> Path:
    """Heatmaps of ``exp(model_logp_fn)`` beside ``exp(true_logp_fn)`` (when given) on a ``grid``×``grid`` lattice.

    Each ``*_logp_fn`` maps a (M, 2) float32 tensor to (M,) log-densities; ``-inf``/NaN show as zero density.
    Both panels share one colour scale so that over- and under-estimation are visible.
    """
    lims = _limits(lim)
    if lims is None or int(grid) < 2:
        raise ConfigError("density_comparison needs lim and grid >= 2")
    xs = np.linspace(*lims[0], int(grid))
    ys = np.linspace(*lims[1], int(grid))
    panels = [("model", _density_on_grid(model_logp_fn, xs, ys))]
    if true_logp_fn is not None:
        panels.append(("truth", _density_on_grid(true_logp_fn, xs, ys)))
    vmax = max(float(d.max()) for _, d in panels) or 1.0
    fig = _figure(4.5 * len(panels), 4.6)
    extent = (lims[0][0], lims[0][1], lims[1][0], lims[1][1])
    for i, (name, dens) in enumerate(panels):
        ax = fig.add_subplot(1, len(panels), i + 1)
        ax.imshow(dens, origin="lower", extent=extent, cmap="viridis", vmin=0.0, vmax=vmax, aspect="equal")
        ax.set_title(name)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return _save(fig, path)


def image_grid(images, path, *, nrow: int | None = None, title: str | None = None, vmin: float | None = None,
               vmax: float | None = None, pad: int = 1, row_labels: Sequence[str] | None = None) -> Path:
    """A grid of images (N, C, H, W) with C = 1 (grey) or 3 (colour), ``nrow`` images per row; ``row_labels``
    (one per row, e.g. the prompt of a prompt x sample grid) are written at the left of the rows.

    Values are in data units and mapped linearly from ``[vmin, vmax]`` (default: the finite data range) to the
    display range, clipped; non-finite pixels show as black. (N, H, W) is read as grey.
    """
    a = _numpy(images, "images")
    if a.ndim == 3:
        a = a[:, None]
    if a.ndim != 4 or a.shape[1] not in (1, 3) or a.shape[0] == 0:
        raise DataError(f"images must have shape (N, C, H, W) with C in (1, 3), got {a.shape}")
    n, c, h, w = a.shape
    finite = a[np.isfinite(a)]
    lo = float(vmin) if vmin is not None else (float(finite.min()) if finite.size else 0.0)
    hi = float(vmax) if vmax is not None else (float(finite.max()) if finite.size else 1.0)
    a = np.clip((np.nan_to_num(a, nan=lo, posinf=hi, neginf=lo) - lo) / (hi - lo if hi > lo else 1.0), 0.0, 1.0)
    ncol = positive_int("nrow", nrow) if nrow else math.ceil(math.sqrt(n))
    rows = math.ceil(n / ncol)
    canvas = np.ones((rows * (h + pad) + pad, ncol * (w + pad) + pad, c))
    for k in range(n):
        r, q = divmod(k, ncol)
        canvas[pad + r * (h + pad) : pad + r * (h + pad) + h, pad + q * (w + pad) : pad + q * (w + pad) + w] = a[k].transpose(1, 2, 0)
    scale = min(max(0.6, max(h, w) / 100), 10.0 / max(ncol, rows))  # inches per image
    if row_labels is not None and len(row_labels) != rows:
        raise DataError(f"{len(row_labels)} row labels for {rows} rows of images")
    # inches of label text (8 pt: about 0.065 in a character)
    label_w = 0.065 * max(map(len, row_labels), default=0) + 0.15 if row_labels is not None else 0.0
    width = max(2.0, ncol * scale) + label_w
    fig = _figure(width, max(2.0, rows * scale) + (0.4 if title else 0.0))
    ax = fig.add_subplot(1, 1, 1)
    ax.imshow(canvas[..., 0] if c == 1 else canvas, cmap="gray" if c == 1 else None, vmin=0.0, vmax=1.0,
              interpolation="nearest")
    ax.set_axis_off()
    if row_labels is not None:  # as y tick labels, which tight_layout makes room for
        ax.set_axis_on()
        ax.set_xticks([])
        ax.set_yticks([pad + r * (h + pad) + h / 2 for r in range(rows)], list(row_labels), fontsize=8)
        ax.tick_params(length=0)
        ax.set_anchor("W")  # the image box keeps its aspect: at the left of its box, after the labels
        for spine in ax.spines.values():
            spine.set_visible(False)
    if title:  # over the labels too where there are labels (a long title over a narrow grid)
        ax.set_title(title, loc="right" if row_labels is not None else "center")
    fig.tight_layout(pad=0.2)
    if row_labels is not None:
        fig.subplots_adjust(left=label_w / width)
    return _save(fig, path)


def trajectories(xs: Sequence, path, *, title: str | None = None, reference=None, lim=None,
                 max_paths: int = 300) -> Path:
    """Sampling trajectories in 2-D: ``xs`` is a list over sampler steps of (N, 2) states (e.g. collected by a
    sampler's ``callback``). Draws up to ``max_paths`` faint paths, the start points small and the final points
    bold, with optional ``reference`` data behind. Paths that leave the finite range are dropped."""
    if len(xs) == 0:
        raise DataError("trajectories needs at least one state")
    arr = np.stack([_numpy(x, "trajectory state") for x in xs])
    if arr.ndim != 3 or arr.shape[2] != 2:
        raise DataError(f"each trajectory state must have shape (N, 2), got {arr.shape[1:]}")
    arr = arr[:, np.isfinite(arr).all(axis=(0, 2))]
    fig = _figure(5, 5)
    ax = fig.add_subplot(1, 1, 1)
    if reference is not None:
        ref = _points(reference, "reference")
        ax.scatter(ref[:, 0], ref[:, 1], s=3, c="0.75", alpha=0.35, linewidths=0)
    paths = arr[:, : int(max_paths)]
    if paths.shape[0] > 1 and paths.shape[1] > 0:
        ax.plot(paths[:, :, 0], paths[:, :, 1], color="C0", alpha=0.15, linewidth=0.6)
        ax.scatter(paths[0, :, 0], paths[0, :, 1], s=2, c="0.3", alpha=0.5, linewidths=0)
    ax.scatter(arr[-1, :, 0], arr[-1, :, 1], s=5, c="C3", alpha=0.9, linewidths=0)
    _apply_limits(ax, lim)
    ax.set_title(title or f"{arr.shape[0]} steps, {arr.shape[1]} samples")
    fig.tight_layout()
    return _save(fig, path)


def quality_vs_nfe(records: Sequence[dict], path, *, ylabel: str, title: str | None = None,
                   logx: bool = True) -> Path:
    """Lines of a quality ``value`` against the number of function evaluations ``nfe``, one line per ``name``.

    ``records`` are dicts with keys ``name``, ``nfe``, ``value``; non-finite values are left out. The x axis is
    logarithmic when ``logx`` and all NFE are positive.
    """
    series: dict[str, list[tuple[float, float]]] = {}
    for r in records:
        try:
            name, nfe, value = str(r["name"]), float(r["nfe"]), float(r["value"])
        except (KeyError, TypeError, ValueError) as exc:
            raise DataError(f"each record needs numeric 'nfe' and 'value' and a 'name': {r!r} ({exc})") from None
        if math.isfinite(nfe) and math.isfinite(value):
            series.setdefault(name, []).append((nfe, value))
    if not series:
        raise DataError("quality_vs_nfe has no records with finite nfe and value")
    fig = _figure(6, 4)
    ax = fig.add_subplot(1, 1, 1)
    for i, (name, pts) in enumerate(series.items()):
        pts.sort()
        ax.plot([p[0] for p in pts], [p[1] for p in pts], marker="o", color=f"C{i % 10}", label=name)
    if logx and all(p[0] > 0 for pts in series.values() for p in pts):
        ax.set_xscale("log")
    ax.set_xlabel("function evaluations (NFE)")
    ax.set_ylabel(ylabel)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
    if title:
        ax.set_title(title)
    fig.tight_layout()
    return _save(fig, path)
