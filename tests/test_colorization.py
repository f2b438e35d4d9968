"""Colorization as imputation in a decoupled colour basis (Song et al. 2021, App. I.4), and the color_digits set."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import genlab
from genlab import colorization as col
from genlab.errors import DataError


@pytest.fixture(scope="module")
def cds():
    return genlab.datasets.load("color_digits")


def test_basis_is_orthogonal_with_gray_axis():
    Q = col.BASIS
    torch.testing.assert_close(Q @ Q.T, torch.eye(3, dtype=torch.float64))
    torch.testing.assert_close(Q[0], torch.full((3,), 1 / math.sqrt(3), dtype=torch.float64))
    assert abs(abs(float(torch.linalg.det(Q))) - 1) < 1e-12


def test_round_trip_and_gray_coordinate():
    x = torch.rand(5, 3, 4, 6, generator=torch.Generator().manual_seed(0)) * 16
    u = col.to_decoupled(x)
    torch.testing.assert_close(col.from_decoupled(u), x, atol=1e-5, rtol=0)
    torch.testing.assert_close(u[:, :1], math.sqrt(3) * col.grayscale(x), atol=1e-5, rtol=0)
    torch.testing.assert_close(u.pow(2).sum(1), x.pow(2).sum(1), atol=1e-3, rtol=1e-5)  # isometry per pixel
    gray = torch.ones(2, 3, 2, 2)  # a gray pixel has no chroma
    assert col.to_decoupled(gray)[:, 1:].abs().max() < 1e-6
    mask = col.colorization_mask((3, 4, 6))
    assert mask.shape == (3, 4, 6) and mask[0].all() and not mask[1:].any()
    assert col.colorization_mask((2, 3, 4, 6))[:, 0].all()


def test_bad_shapes():
    with pytest.raises(DataError, match="colour images"):
        col.to_decoupled(torch.zeros(2, 1, 4, 4))
    with pytest.raises(DataError):
        col.colorization_mask((4, 4))
    with pytest.raises(DataError, match="shape"):
        col.colour_rmse(torch.zeros(2, 3, 4, 4), torch.zeros(3, 3, 4, 4))


def test_color_digits_dataset(cds):
    digits = genlab.datasets.load("digits")
    assert "color_digits" in genlab.datasets.names()
    assert cds.shape == (3, 8, 8) and cds.discrete_levels is None and not cds.has_density
    assert float(cds.train.min()) >= 0 and float(cds.train.max()) <= 16
    assert torch.equal(cds.labels_train, digits.labels_train) and torch.equal(cds.labels_test, digits.labels_test)
    # every image is its gray digit times one colour: channel / digit is constant over the digit's pixels
    on = digits.train[:, 0] > 0
    ratio = cds.train / digits.train.clamp(min=1)
    spread = (ratio.amax((2, 3)) - torch.where(on[:, None], ratio, torch.tensor(9.0)).amin((2, 3))).abs()
    assert float(spread.max()) < 1e-5
    again = genlab.datasets.load("color_digits", seed=0)
    assert torch.equal(again.train, cds.train)  # seeded: the same colours every time


def test_colorize_beats_mean_colour_baseline(cds):
    u = col.to_decoupled(cds.train)
    model = genlab.create("gmm", cds.shape, n_components=2).fit(u)
    gray = col.grayscale(cds.test)
    rgb = col.colorize(model, gray)
    assert rgb.shape == cds.test.shape
    torch.testing.assert_close(col.grayscale(rgb), gray, atol=1e-4, rtol=0)  # the observation is kept exactly
    chroma = u[:, 1:].mean(0, keepdim=True).expand(len(gray), -1, -1, -1)
    baseline = col.from_decoupled(torch.cat([math.sqrt(3) * gray, chroma], dim=1))
    err, err_base = col.colour_rmse(rgb, cds.test), col.colour_rmse(baseline, cds.test)
    assert err < 0.85 * err_base, (err, err_base)
    sampled = col.colorize(model, gray[:, 0].numpy(), seed=0, fill="sample")  # (N, H, W) numpy input
    assert torch.isfinite(sampled).all()
    with pytest.raises(DataError, match="model"):
        col.colorize(model, torch.zeros(3, 1, 4, 4))
    assert np.isfinite(err)


def test_colorize_rgb_model_without_retraining(cds):
    """basis="rgb": a model of the RGB images themselves (here the exact denoiser of the Gaussian with color_digits'
    per-pixel mean and std: EDM with sigma_data = 1 and a zero network) colours through genlab.inverse.solve; the mean
    of 64 draws lands on the exact Gaussian posterior mean (SE ~ 1/8 of the posterior std)."""
    from torch import nn

    from genlab.errors import ConfigError
    from genlab.inverse import Colorize, solve

    class ZeroNet(nn.Module):
        def forward(self, x, t, y=None):
            return torch.zeros_like(x)

    m = genlab.create("edm", cds.shape).set_backbone(ZeroNet())
    m.normalizer.fit(cds.train.reshape(len(cds.train), -1))
    m.fitted = True
    gray = col.grayscale(cds.test[:8])
    rgb = col.colorize(m, gray, basis="rgb", seed=0, n_samples=64, steps=12)
    assert rgb.shape == (8, 3, 8, 8)
    torch.testing.assert_close(col.grayscale(rgb), gray, atol=1e-3, rtol=0)
    again = solve(m, math.sqrt(3) * gray, Colorize(), seed=0, n_samples=64, steps=12)
    assert torch.equal(rgb, again)
    # exact posterior mean of N(mean, diag(v)) given the channel sum of every pixel
    mean, var = m.normalizer.mean.double().reshape(3, 64), (m.normalizer.std.double() ** 2).reshape(3, 64)
    y = 3 * gray.double().reshape(8, 1, 64)
    exact = mean + var / var.sum(0) * (y - mean.sum(0))
    sd = (var * (1 - var / var.sum(0))).clamp_min(0).sqrt()
    assert ((rgb.double().reshape(8, 3, 64) - exact).abs() <= 5 * sd / 8 + 1e-2).all()
    with pytest.raises(ConfigError, match="basis"):
        col.colorize(m, gray, basis="lab")
