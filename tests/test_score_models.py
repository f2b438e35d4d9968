"""Score models (ncsn, ve_sde, vp_sde, subvp_sde): short seeded fits on 2-D Gaussians with known answers.

Data: N(mu, Sigma) with mu = (1, -2), unit variances and correlation 0.8 (conftest ``gauss2d``), so
log p is known and E[x_2 | x_1] = mu_2 + 0.8 (x_1 - mu_1). Fits are tiny (a few hundred steps of a small
network), so tolerances are loose; the exact oracle tests of the samplers and the ODE live in test_diffusion.py.
"""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

import genlab
import genlab.families.score  # noqa: F401  (registers the score models)
from genlab.errors import ConfigError
from genlab.families.score import _ImportanceTime

NAMES = ["ncsn", "ve_sde", "vp_sde", "subvp_sde"]
SMALL = {"hidden": 64, "depth": 2, "ema": 0.0, "batch_size": 256, "lr": 2e-3}
FIT = {"ema": 0.0, "batch_size": 256}  # default network, no EMA (a few hundred steps)
SAMPLE = {"ncsn": {"steps": 1000}, **{n: {"steps": 200, "sampler": "reverse_diffusion"} for n in NAMES[1:]}}


def true_logp(x, mean, cov):
    return torch.distributions.MultivariateNormal(mean, covariance_matrix=cov).log_prob(x)


@pytest.mark.parametrize("name", NAMES)
def test_fit_sample_log_prob_impute_gaussian(name, gauss2d):
    x, mean, cov = gauss2d
    m = genlab.create(name, (2,), **FIT).fit(x, steps=800, seed=0, progress=False)
    assert m.likelihood == "exact" and m.conditional

    s = m.sample(1000, seed=1, **SAMPLE[name])
    assert s.shape == (1000, 2) and torch.isfinite(s).all()
    assert m.last_nfe >= SAMPLE[name]["steps"]
    assert torch.allclose(s.mean(0), mean, atol=0.3)
    assert torch.allclose(torch.cov(s.T), cov, atol=0.2)  # sampling error of a 1000-sample covariance ~0.05

    xt = x[:300]
    lp = m.log_prob(xt, seed=0, rtol=1e-4, atol=1e-4)
    assert lp.shape == (300,) and torch.isfinite(lp).all()
    assert abs(float(lp.mean() - true_logp(xt, mean, cov).mean())) < 0.25  # ~ KL of a short fit

    x1 = torch.linspace(-0.5, 2.5, 12)
    q = torch.stack([x1, torch.zeros_like(x1)], 1)
    mask = torch.zeros_like(q, dtype=torch.bool)
    mask[:, 0] = True
    filled = m.impute(q, mask, seed=2, n_samples=32, **SAMPLE[name])
    assert torch.equal(filled[:, 0], x1)
    truth = mean[1] + 0.8 * (x1 - mean[0])
    # ignoring x_1 would give MAE 0.6 and slope 0; a short fit shrinks the dependence somewhat
    assert float((filled[:, 1] - truth).abs().mean()) < 0.4
    slope = float(torch.cov(torch.stack([x1, filled[:, 1]]))[0, 1] / x1.var())
    assert 0.3 < slope < 1.2


class ConcatMLP(nn.Module):
    """A plain MLP on [x, t]: a different architecture with the backbone call ``net(x, t, y=None)``."""

    def __init__(self, dim: int, hidden: int = 64):
        super().__init__()
        self.f = nn.Sequential(nn.Linear(dim + 1, hidden), nn.SiLU(), nn.Linear(hidden, hidden), nn.SiLU(),
                               nn.Linear(hidden, dim))

    def forward(self, x, t, y=None):
        return self.f(torch.cat([x, t.reshape(-1, 1)], 1))


def test_custom_backbone_trains_and_samples(gauss2d):
    x, mean, cov = gauss2d
    torch.manual_seed(0)
    m = genlab.create("vp_sde", (2,), **SMALL).set_backbone(ConcatMLP(2))
    assert isinstance(m.net, ConcatMLP)
    m.fit(x, steps=1500, seed=0, progress=False)
    assert isinstance(m.net, ConcatMLP)
    s = m.sample(800, seed=1, sampler="reverse_diffusion", steps=200)
    assert torch.allclose(s.mean(0), mean, atol=0.25)
    assert torch.allclose(torch.cov(s.T), cov, atol=0.35)
    with pytest.raises(ConfigError, match="backbone"):
        m.set_backbone(nn.Linear(3, 2))


def test_classifier_free_guidance_two_blobs():
    g = torch.Generator().manual_seed(0)
    y = torch.randint(0, 2, (2000,), generator=g)
    centres = torch.tensor([[-3.0, 0.0], [3.0, 0.0]])
    x = centres[y] + 0.5 * torch.randn(2000, 2, generator=g)
    m = genlab.create("vp_sde", (2,), **SMALL).fit(x, y, steps=500, seed=0, progress=False)
    assert m.num_classes == 2
    for label, sign in ((0, -1.0), (1, 1.0)):
        s = m.sample(300, y=label, guidance=2.0, seed=3, sampler="reverse_diffusion", steps=200)
        assert float((sign * s[:, 0] > 0).float().mean()) > 0.95
    s = m.sample(600, seed=4, sampler="reverse_diffusion", steps=200)  # unconditional: both blobs
    frac = float((s[:, 0] > 0).float().mean())
    assert 0.3 < frac < 0.7
    # log p(x | y) against the true class density N(centre_y, 0.25 I); the wrong label is far less likely
    xt, yt = x[:100], y[:100]
    lp = m.log_prob(xt, y=yt, rtol=1e-4, atol=1e-4, seed=0)
    true = torch.distributions.MultivariateNormal(centres[yt], 0.25 * torch.eye(2)).log_prob(xt)
    assert lp.shape == (100,) and abs(float((lp - true).mean())) < 0.15
    assert (lp - m.log_prob(xt, y=1 - yt, rtol=1e-4, atol=1e-4, seed=0)).min() > 5


def test_options_and_errors(gauss2d):
    x, _, _ = gauss2d
    m = genlab.create("vp_sde", (2,), **SMALL).fit(x, steps=5, progress=False)
    m.sample(4, sampler="reverse_diffusion", steps=10, seed=0)
    assert m.last_nfe == 11  # 10 steps + the final Tweedie denoising
    m.sample(4, sampler="pc", steps=10, corrector_steps=2, snr=0.1, seed=0)
    assert m.last_nfe == 31
    with pytest.raises(ConfigError, match="sampler 'nope' is not available for model 'vp_sde'; its samplers: ddim"):
        m.sample(4, sampler="nope")
    with pytest.raises(ConfigError, match="steps must be a positive integer"):
        m.sample(4, sampler="heun", steps=0)
    with pytest.raises(ConfigError, match="bogus"):
        m.sample(4, bogus=1)
    with pytest.raises(ConfigError, match="ald"):
        m.sample(4, sampler="ald")
    with pytest.raises(ConfigError, match="bogus"):
        m.log_prob(x[:3], bogus=1)
    with pytest.raises(ConfigError, match="fill"):
        m.impute(x[:3], torch.ones(3, 2, dtype=torch.bool), fill="median")
    with pytest.raises(ConfigError, match="importance_sampling"):
        genlab.create("vp_sde", (2,), likelihood_weighting=False, importance_sampling=True)
    with pytest.raises(ConfigError, match="unknown config"):
        genlab.create("ncsn", (2,), likelihood_weighting=True)
    assert genlab.create("ve_sde", (20,)).likelihood == "estimate"


def test_ncsn_samplers_and_ve_sigma_max(gauss2d, tmp_path):
    x, _, _ = gauss2d
    m = genlab.create("ncsn", (2,), **SMALL, n_levels=5).fit(x, steps=5, progress=False)
    z = (x - x.mean(0)) / x.std(0, unbiased=False)
    assert float(m.sigma_max_data) == pytest.approx(float(torch.cdist(z, z).max()), rel=1e-3)
    m.sample(3, steps=10, seed=0)
    assert m.last_nfe == 5 * 2 + 1  # ald: 2 steps per level, then one denoising step
    assert m.sample(3, sampler="ode", seed=0, rtol=1e-3, atol=1e-3).shape == (3, 2)
    m.save(tmp_path / "run")
    m2 = genlab.load(tmp_path / "run")
    assert float(m2.sigma_max_data) == float(m.sigma_max_data)
    assert genlab.create("ve_sde", (2,), sigma_max=7.0).sde.sigma_max == 7.0


@pytest.mark.parametrize("name", ["vp_sde", "subvp_sde", "ve_sde"])
def test_importance_sampling_of_t_is_unbiased(name):
    """E_q[w(t) / q(t)] = int_eps^T w(t) dt for w = g^2 / sigma^2 (the likelihood-weighting normaliser)."""
    sde = genlab.create(name, (2,), sigma_max=5.0).sde if name == "ve_sde" else genlab.create(name, (2,)).sde
    eps = 1e-5
    sampler = _ImportanceTime(sde, eps)
    t, iw = sampler(torch.rand(200_000, generator=torch.Generator().manual_seed(0), dtype=torch.float64), torch.float64)
    assert float(t.min()) >= eps and float(t.max()) <= sde.T
    # drawn in groups (the training default): stratified uniforms through the same inverse CDF, still unbiased
    from genlab.diffusion.levels import grouped_uniform

    u = grouped_uniform(200_000, 40_000, torch.Generator().manual_seed(1), dtype=torch.float64)
    _, iw_grouped = sampler(u, torch.float64)
    grid = torch.linspace(math.log(eps), 0.0, 200_001, dtype=torch.float64).exp()
    w = sde.diffusion(grid) ** 2 / sde.marginal_coeffs(grid)[1] ** 2
    integral = float(torch.trapezoid(w, grid))
    assert float(iw.mean()) == pytest.approx(integral, rel=1e-3)
    assert float(iw_grouped.mean()) == pytest.approx(integral, rel=1e-3)
    m = genlab.create(name, (2,), likelihood_weighting=True, importance_sampling=True, **SMALL)
    m.fit(torch.randn(300, 2, generator=torch.Generator().manual_seed(0)), steps=20, progress=False)
    assert all(math.isfinite(h["loss"]) for h in m.history)


def test_default_weighting_is_the_likelihood_except_for_dequantized_data():
    """Dequantized data have no structure below the dequantization width: the default trains them with sigma^2."""
    x = torch.randint(0, 4, (200, 2), generator=torch.Generator().manual_seed(0)).float()
    fit = {"steps": 3, "progress": False}
    assert genlab.create("vp_sde", (2,), **SMALL).fit(x, **fit).training_weighting == "likelihood, importance-sampled t"
    m = genlab.create("vp_sde", (2,), **SMALL).fit(x, dequantize=True, **fit)
    assert m.training_weighting == "sigma^2" and m._weights is None
    m = genlab.create("subvp_sde", (2,), likelihood_weighting=True, **SMALL).fit(x, dequantize=True, **fit)
    assert m.training_weighting == "likelihood, importance-sampled t"
    m = genlab.create("vp_sde", (2,), importance_sampling=False, **SMALL).fit(x, **fit)
    assert m.training_weighting == "likelihood"
    with pytest.raises(ConfigError, match="dequantize=True"):
        genlab.create("vp_sde", (2,), importance_sampling=True, **SMALL).fit(x, dequantize=True, **fit)


def test_training_weighting_survives_save_and_load(tmp_path):
    x = torch.randint(0, 4, (200, 2), generator=torch.Generator().manual_seed(0)).float()
    m = genlab.create("vp_sde", (2,), **SMALL)
    assert m.training_weighting is None
    m.fit(x, steps=3, progress=False, dequantize=True)
    m.save(tmp_path / "run")
    assert genlab.load(tmp_path / "run").training_weighting == "sigma^2"
