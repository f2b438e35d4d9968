"""Each figure function writes a readable, non-blank PNG."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from PIL import Image

from genlab import plots
from genlab.errors import DataError


def _check_png(path):
    assert path.exists() and path.stat().st_size > 0
    with Image.open(path) as im:
        assert im.format == "PNG" and im.size[0] > 0 and im.size[1] > 0
        pixels = np.asarray(im.convert("RGB"), dtype=np.float64)
    assert pixels.var() > 0


def _logp(mu):
    def fn(x):
        return -0.5 * ((x - torch.tensor(mu)) ** 2).sum(1) - math.log(2 * math.pi)
    return fn


def test_scatter_samples(tmp_path):
    g = torch.Generator().manual_seed(0)
    x = torch.randn(500, 2, generator=g)
    x[0, 0] = float("nan")
    out = plots.scatter_samples(x, tmp_path / "sub" / "s.png", title="samples", reference=np.random.randn(300, 2), lim=4)
    _check_png(out)
    with pytest.raises(DataError):
        plots.scatter_samples(torch.zeros(5, 3), tmp_path / "bad.png")


def test_density_comparison(tmp_path):
    def model(x):  # -inf outside the unit disc
        lp = _logp([0.5, 0.0])(x)
        return torch.where(x.norm(dim=1) < 2.5, lp, torch.tensor(-float("inf")))

    _check_png(plots.density_comparison(model, _logp([0.0, 0.0]), tmp_path / "d.png", lim=(-3, 3), grid=60))
    _check_png(plots.density_comparison(model, None, tmp_path / "d1.png", lim=3, grid=40, title="model only"))


def test_image_grid(tmp_path):
    g = torch.Generator().manual_seed(1)
    grey = torch.randint(0, 17, (20, 1, 8, 8), generator=g).float()
    _check_png(plots.image_grid(grey, tmp_path / "g.png", nrow=5, title="digits", vmin=0, vmax=16))
    _check_png(plots.image_grid(torch.rand(7, 3, 16, 16, generator=g), tmp_path / "c.png"))
    with pytest.raises(DataError):
        plots.image_grid(torch.zeros(4, 2, 8, 8), tmp_path / "bad.png")


def test_trajectories(tmp_path):
    g = torch.Generator().manual_seed(2)
    x = 3 * torch.randn(100, 2, generator=g)
    xs = [x * (1 - t / 10) + torch.tensor([1.0, 0.0]) * t / 10 for t in range(11)]
    _check_png(plots.trajectories(xs, tmp_path / "t.png", reference=torch.randn(50, 2), lim=6))


def test_quality_vs_nfe(tmp_path):
    recs = [{"name": s, "nfe": n, "value": 1.0 / n + (0.1 if s == "pc" else 0.0)}
            for s in ("euler_maruyama", "pc") for n in (10, 100, 1000)]
    recs.append({"name": "ode", "nfe": 50, "value": float("nan")})
    _check_png(plots.quality_vs_nfe(recs, tmp_path / "q.png", ylabel="sliced W1"))
    with pytest.raises(DataError):
        plots.quality_vs_nfe([{"name": "x"}], tmp_path / "bad.png", ylabel="y")
