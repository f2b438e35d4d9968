"""The energy-based model: moments of its samples, a normalised AIS density, imputation, options."""

from __future__ import annotations

import math

import pytest
import torch

import genlab
import genlab.families.ebm  # noqa: F401  (registers "ebm")

CENTERS = torch.tensor([[1.5, 1.5], [1.5, -1.5], [-1.5, 1.5], [-1.5, -1.5]])
STD = 0.5


def mixture(n: int, seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    k = torch.randint(len(CENTERS), (n,), generator=g)
    return CENTERS[k] + STD * torch.randn(n, 2, generator=g)


def mixture_log_prob(x: torch.Tensor) -> torch.Tensor:
    lp = -0.5 * (x[:, None, :] - CENTERS).pow(2).sum(-1) / STD**2 - math.log(2 * math.pi * STD**2)
    return torch.logsumexp(lp, 1) - math.log(len(CENTERS))


def fitted(seed: int):
    return genlab.create("ebm", (2,), hidden=64, depth=2, ais_steps=300, ais_chains=128).fit(
        mixture(2000, seed), steps=600, seed=seed, progress=False)


@pytest.fixture(scope="module")
def model():
    return fitted(0)


@pytest.mark.parametrize("seed", [0, pytest.param(1, marks=pytest.mark.slow)])
def test_samples_match_moments(seed, model):
    m = model if seed == 0 else fitted(seed)
    s = m.sample(1000, seed=seed, steps=300)
    x = mixture(4000, 100)
    assert torch.isfinite(s).all()
    assert (s.mean(0) - x.mean(0)).abs().max() < 0.25  # the data scale is about 2
    assert (torch.cov(s.T) - torch.cov(x.T)).abs().max() < 0.2 * torch.cov(x.T).diagonal().mean()
    # every mode is visited, and samples sit near the modes
    counts = torch.bincount(torch.cdist(s, CENTERS).argmin(1), minlength=4)
    assert counts.min() > 150


def test_density_integrates_to_one_and_log_Z_is_cached(model):
    g = torch.linspace(-6, 6, 241)
    X, Y = torch.meshgrid(g, g, indexing="ij")
    grid = torch.stack([X.flatten(), Y.flatten()], 1)
    model.log_Z.fill_(float("nan"))
    lp = model.log_prob(grid, seed=0)
    total = float(lp.exp().sum() * (g[1] - g[0]) ** 2)
    assert abs(total - 1) < 0.05
    assert 0 < float(model.log_Z_stderr) < 0.05
    # cached: another seed gives the same numbers; refresh or other AIS settings re-estimate
    x = mixture(200, 7)
    a = model.log_prob(x, seed=0)
    assert torch.equal(model.log_prob(x, seed=123), a)
    b = model.log_prob(x, seed=1, refresh=True)
    assert not torch.equal(a, b) and (a - b).abs().max() < 0.1
    model.log_prob(x, seed=0, ais_steps=50)
    assert model.ais_settings.tolist() == [50, 128]
    # close to the true mixture's NLL (the model is the data smoothed by sigma_min, so slightly broader)
    nll_model, nll_true = -float(a.mean()), -float(mixture_log_prob(x).mean())
    assert nll_true - 0.05 < nll_model < nll_true + 0.3


def test_log_Z_cache_is_keyed_by_the_ais_transition(tmp_path):
    """Asking for another AIS transition re-estimates log Z (same steps and chains); the key is checkpointed."""
    m = genlab.create("ebm", (2,), hidden=16, depth=1, ais_steps=20, ais_chains=8)
    m.fit(mixture(200, 0), steps=2, progress=False)
    x = mixture(5, 1)
    m.log_prob(x, seed=0, ais_transition="mala")
    mala = float(m.log_Z)
    m.log_prob(x, seed=0, ais_transition="hmc")
    assert float(m.log_Z) != mala and m.ais_transition == "hmc"
    hmc = float(m.log_Z)
    m.log_prob(x, seed=5, ais_transition="hmc")
    assert float(m.log_Z) == hmc  # cached: same settings, no new estimate
    m.save(tmp_path / "run")
    loaded = genlab.load(tmp_path / "run")
    loaded.log_prob(x, seed=5, ais_transition="hmc")
    assert float(loaded.log_Z) == hmc
    with pytest.raises(genlab.GenlabError, match="transition"):
        m.log_prob(x, ais_transition="gibbs")


def test_refit_invalidates_log_Z():
    m = genlab.create("ebm", (2,), hidden=16, depth=1, ais_steps=20, ais_chains=8)
    m.fit(mixture(200, 0), steps=2, progress=False)
    m.log_prob(mixture(5, 1), seed=0)
    assert torch.isfinite(m.log_Z)
    m.fit(mixture(200, 0), steps=2, progress=False)
    assert torch.isnan(m.log_Z)


def test_impute_samples_the_conditional(model):
    x = torch.full((200, 2), float("nan"))
    x[:, 0] = 1.5
    out = model.impute(x, seed=0, fill="sample", steps=200)
    assert (out[:, 0] == 1.5).all() and torch.isfinite(out).all()
    # p(y | x = 1.5) is the mixture 0.5 N(1.5, 0.25) + 0.5 N(-1.5, 0.25)
    y = out[:, 1]
    assert abs(float(y.abs().mean()) - 1.5) < 0.3
    assert 0.25 < float((y > 0).float().mean()) < 0.75


def test_bad_options():
    m = genlab.create("ebm", (2,), hidden=8, depth=1)
    m.fitted = True  # the options are checked on a usable model (an unfitted one refuses to sample)
    with pytest.raises(genlab.ConfigError, match="sampler"):
        m.sample(3, sampler="gibbs")
    with pytest.raises(genlab.ConfigError, match="option"):
        m.log_prob(torch.zeros(2, 2), ais_stepz=3)
    with pytest.raises(genlab.ConfigError, match="smooth"):
        genlab.create("ebm", (2,), activation="relu")
