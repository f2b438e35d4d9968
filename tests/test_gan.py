"""The GAN: moments of its samples, no likelihood, imputation through the latent code."""

from __future__ import annotations

import pytest
import torch

import genlab
import genlab.families.gan  # noqa: F401  (registers "gan")

CENTERS = torch.tensor([[1.5, 1.5], [1.5, -1.5], [-1.5, 1.5], [-1.5, -1.5]])
STD = 0.5


def mixture(n: int, seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return CENTERS[torch.randint(len(CENTERS), (n,), generator=g)] + STD * torch.randn(n, 2, generator=g)


def fitted(seed: int):
    return genlab.create("gan", (2,), hidden=64, depth=2).fit(mixture(2000, seed), steps=600, seed=seed,
                                                             progress=False)


@pytest.fixture(scope="module")
def model():
    return fitted(0)


@pytest.mark.parametrize("seed", [0, pytest.param(1, marks=pytest.mark.slow)])
def test_samples_match_moments(seed, model):
    m = model if seed == 0 else fitted(seed)
    assert {"loss", "loss_g", "r1", "step", "time"} <= set(m.history[-1])
    s = m.sample(2000, seed=seed)
    x = mixture(4000, 100)
    assert (s.mean(0) - x.mean(0)).abs().max() < 0.2  # the data scale is about 1.6
    assert (torch.cov(s.T) - torch.cov(x.T)).abs().max() < 0.2 * torch.cov(x.T).diagonal().mean()
    counts = torch.bincount(torch.cdist(s, CENTERS).argmin(1), minlength=4)
    assert counts.min() > 350  # no mode dropped


def test_log_prob_raises(model):
    with pytest.raises(genlab.ConfigError, match="no likelihood"):
        model.log_prob(mixture(3, 0))


def test_impute_fills_consistent_values(model):
    x = mixture(100, 5)
    missing = x.clone()
    missing[:, 1] = float("nan")
    out = model.impute(missing, seed=0)
    assert torch.equal(out[:, 0], x[:, 0]) and torch.isfinite(out).all()
    # the fill lies on a mode of p(y | x): near +-1.5 whenever x is near a mode
    near = (x[:, 0].abs() - 1.5).abs() < 0.5
    assert near.sum() > 40
    assert ((out[near, 1].abs() - 1.5).abs() < 0.75).float().mean() > 0.9
    # the fill is a generator output whose observed part matches: G(w*) reproduces x within the data's noise
    both = model.impute(torch.tensor([[1.5, float("nan")], [float("nan"), -1.5]]), seed=0)
    assert both[0, 1].abs() > 0.75 and both[1, 0].abs() > 0.75


def test_bad_options(model):
    with pytest.raises(genlab.ConfigError, match="option"):
        model.sample(3, steps=10)
    with pytest.raises(genlab.ConfigError, match="option"):
        model.impute(torch.tensor([[0.0, float("nan")]]), restart=3)
