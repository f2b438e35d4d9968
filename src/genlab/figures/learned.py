"""Figures of learned scores on the 8-mode mixture (shipped ncsn weights): the score field and its error against
the exact score, and denoising vs sliced score matching."""

from __future__ import annotations

from pathlib import Path

import torch

from genlab.figures.mixture import EIGHT_MODES
from genlab.figures.weights import learned_score, load_model, training_info
from genlab.plots import _figure, _save
from genlab.rng import make_generator

__all__ = ["score_field_figure", "score_matching_figure", "SIGMA"]

DT = torch.float64
LIM = 3.5
SIGMA = 0.15  # data-unit noise level at which the learned and exact scores are compared


def _grid(m: int) -> torch.Tensor:
    xs = torch.linspace(-LIM, LIM, m, dtype=DT)
    gx, gy = torch.meshgrid(xs, xs, indexing="xy")
    return torch.stack([gx.reshape(-1), gy.reshape(-1)], 1)


def _deciles(err: torch.Tensor, dens: torch.Tensor) -> list[float]:
    """Mean error in each tenth of the points, ordered from the lowest to the highest exact density."""
    order = dens.argsort()
    return [round(float(chunk.mean()), 4) for chunk in err[order].chunk(10)]


def _quiver(ax, pts, field, title, m):
    p, f = pts.numpy(), field.numpy()
    norm = (f**2).sum(1, keepdims=True) ** 0.5 + 1e-12
    f = f / norm * norm**0.5  # sqrt-compressed lengths keep the arrows readable far from the data
    ax.quiver(p[:, 0], p[:, 1], f[:, 0], f[:, 1], angles="xy", scale=m * 3.0, width=0.003)
    ax.set_xlim(-LIM, LIM)
    ax.set_ylim(-LIM, LIM)
    ax.set_aspect("equal")
    ax.set_title(title, fontsize=9)


def score_field_figure(out: Path, m: int = 60) -> dict:
    """Exact vs learned score (ncsn trained by DSM) at noise ``SIGMA`` on a grid, and the error by exact density:
    the score is learned where the data are and is poorly constrained where there are none (Song & Ermon 2019,
    Sec. 3.2, the "inaccurate score estimation in low data density regions" that motivates noise conditioning)."""
    model = load_model("ncsn_dsm")
    pts = _grid(m)
    true = EIGHT_MODES.score(pts, SIGMA)
    learned = learned_score(model, pts, SIGMA)
    err = (learned - true).norm(dim=1)
    dens = EIGHT_MODES.log_prob(pts, SIGMA).exp()
    dec = _deciles(err, dens)
    res = {"model": "ncsn_dsm", "sigma": SIGMA, "grid": [m, m], "lim": LIM, "error_by_density_decile": dec,
           "error_lowest_density_decile": dec[0], "error_highest_density_decile": dec[-1],
           "median_relative_error": float((err / true.norm(dim=1).clamp_min(1e-8)).median()),
           "training": training_info("ncsn_dsm")}
    fig = _figure(15, 4.8)
    coarse = _grid(20)
    _quiver(fig.add_subplot(1, 4, 1), coarse, EIGHT_MODES.score(coarse, SIGMA), f"exact score, sigma = {SIGMA}", 20)
    _quiver(fig.add_subplot(1, 4, 2), coarse, learned_score(model, coarse, SIGMA), "learned score (ncsn, DSM)", 20)
    ax = fig.add_subplot(1, 4, 3)
    im = ax.imshow(err.reshape(m, m).log10().numpy(), origin="lower", extent=(-LIM, LIM, -LIM, LIM), cmap="magma")
    ax.contour(dens.reshape(m, m).numpy(), levels=4, extent=(-LIM, LIM, -LIM, LIM), colors="w", linewidths=0.5)
    fig.colorbar(im, ax=ax, fraction=0.046)
    ax.set_title("log10 |learned - exact| (contours: density)", fontsize=9)
    ax = fig.add_subplot(1, 4, 4)
    ax.bar(range(1, 11), dec)
    ax.set_yscale("log")
    ax.set_xlabel("exact-density decile (1 = lowest)")
    ax.set_ylabel("mean |learned - exact|")
    fig.tight_layout()
    _save(fig, out / "score_field.png")
    return res


def score_matching_figure(out: Path, n: int = 4000, sigmas=(0.15, 0.3, 0.6, 1.2), seed: int = 0) -> dict:
    """ncsn trained by denoising score matching (Vincent 2011) and by sliced score matching (Song et al. 2019,
    SSM-VR), same network, data and steps: the Fisher divergence 1/2 E||s - s*||^2 on draws of the perturbed data
    at several noise levels, and the error fields."""
    models = {k: load_model(f"ncsn_{k}") for k in ("dsm", "ssm")}
    x = EIGHT_MODES.sample(n, generator=make_generator(seed), dtype=DT)[0]
    noise = torch.randn(x.shape, generator=make_generator(seed, 1), dtype=DT)
    res = {"sigmas": list(sigmas), "fisher": {}, "training": {k: training_info(f"ncsn_{k}") for k in models}}
    for k, model in models.items():
        res["fisher"][k] = []
        for s in sigmas:
            xs = x + s * noise
            d = learned_score(model, xs, s) - EIGHT_MODES.score(xs, s)
            res["fisher"][k].append(round(float(0.5 * d.pow(2).sum(1).mean()), 4))
    fig = _figure(14, 4.5)
    ax = fig.add_subplot(1, 3, 1)
    for i, k in enumerate(models):
        ax.plot(sigmas, res["fisher"][k], marker="o", c=f"C{i}", label=k.upper())
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("noise level sigma")
    ax.set_ylabel("1/2 E ||s - s*||^2 on perturbed data")
    ax.legend()
    pts, m = _grid(50), 50
    for i, (k, model) in enumerate(models.items()):
        err = (learned_score(model, pts, SIGMA) - EIGHT_MODES.score(pts, SIGMA)).norm(dim=1)
        ax = fig.add_subplot(1, 3, i + 2)
        im = ax.imshow(err.reshape(m, m).log10().numpy(), origin="lower", extent=(-LIM, LIM, -LIM, LIM),
                       cmap="magma", vmin=-2, vmax=2)
        fig.colorbar(im, ax=ax, fraction=0.046)
        t = res["training"][k]
        ax.set_title(f"{k.upper()}: log10 error at sigma {SIGMA} ({t.get('steps', '?')} steps, {t.get('seconds', '?')} s)",
                     fontsize=8)
    fig.tight_layout()
    _save(fig, out / "score_matching.png")
    return res
