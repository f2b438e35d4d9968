"""Known-answer tests for genlab.metrics."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
from scipy.stats import wasserstein_distance

from genlab import metrics
from genlab.errors import DataError


def _gauss_logp(x: torch.Tensor, mu: torch.Tensor, sigma: float) -> torch.Tensor:
    d = x.shape[1]
    return -0.5 * ((x - mu) ** 2).sum(1) / sigma**2 - d * math.log(sigma) - 0.5 * d * math.log(2 * math.pi)


def _kl_gauss(mu_p, s_p, mu_q, s_q, d):
    """Closed-form KL between isotropic Gaussians N(mu_p, s_p² I) and N(mu_q, s_q² I)."""
    return d * (math.log(s_q / s_p) + s_p**2 / (2 * s_q**2) - 0.5) + float(((mu_p - mu_q) ** 2).sum()) / (2 * s_q**2)


def test_kl_matches_closed_form():
    g = torch.Generator().manual_seed(0)
    mu_p, mu_q = torch.zeros(2), torch.tensor([0.5, -0.3])
    x = torch.randn(20000, 2, generator=g)
    res = metrics.kl_to_truth(_gauss_logp(x, mu_p, 1.0), _gauss_logp(x, mu_q, 1.3))
    exact = _kl_gauss(mu_p, 1.0, mu_q, 1.3, 2)
    assert res.n == 20000 and res.n_nonfinite == 0
    assert abs(res.kl - exact) < 3 * res.stderr
    same = metrics.kl_to_truth(_gauss_logp(x, mu_p, 1.0), _gauss_logp(x, mu_p, 1.0))
    assert same.kl == pytest.approx(0.0, abs=1e-9)


def test_kl_stderr_shrinks_and_nonfinite():
    g = torch.Generator().manual_seed(1)
    x = torch.randn(16000, 1, generator=g)
    lp, lq = _gauss_logp(x, torch.zeros(1), 1.0), _gauss_logp(x, torch.ones(1), 1.0)
    small, large = metrics.kl_to_truth(lp[:1000], lq[:1000]), metrics.kl_to_truth(lp, lq)
    assert large.stderr < 0.5 * small.stderr
    lq[3] = -float("inf")
    bad = metrics.kl_to_truth(lp, lq)
    assert bad.kl == float("inf") and bad.n_nonfinite == 1 and math.isnan(bad.stderr)


def test_nll_and_bits_per_dim_uniform():
    levels, dim = 17, 64
    logp = torch.full((10,), -dim * math.log(levels))  # uniform density on [0, 17)^64
    assert metrics.nll(logp) == pytest.approx(dim * math.log(levels))
    assert metrics.bits_per_dim(metrics.nll(logp), dim) == pytest.approx(math.log2(levels))
    x = torch.randint(0, levels, (500, dim)).float()
    xd = metrics.dequantize(x, torch.Generator().manual_seed(0))
    assert xd.dtype == torch.float32 and (xd >= x).all() and (xd < x + 1).all()


def test_sliced_wasserstein_1d_exact_and_shift():
    g = torch.Generator().manual_seed(2)
    a, b = torch.randn(3000, generator=g), 2.0 * torch.randn(1700, generator=g) + 0.3
    assert metrics.sliced_wasserstein(a, b) == pytest.approx(wasserstein_distance(a.numpy(), b.numpy()), rel=1e-6)
    assert metrics.sliced_wasserstein(a[:, None], a[:, None] + 1.5) == pytest.approx(1.5, rel=1e-6)


def test_sliced_wasserstein_same_vs_shifted():
    g = torch.Generator().manual_seed(3)
    x, y = torch.randn(5000, 3, generator=g), torch.randn(5000, 3, generator=g)
    same = metrics.sliced_wasserstein(x, y, seed=0)
    shifted = metrics.sliced_wasserstein(x, y + torch.tensor([1.0, 0.0, 0.0]), seed=0)
    more = metrics.sliced_wasserstein(x, y + torch.tensor([3.0, 0.0, 0.0]), seed=0)
    assert same < 0.05 < shifted < more
    imgs = torch.randn(200, 1, 4, 4, generator=g)
    assert metrics.sliced_wasserstein(imgs, imgs) == pytest.approx(0.0, abs=1e-9)


def test_mmd_same_vs_different():
    g = torch.Generator().manual_seed(4)
    x, y = torch.randn(800, 2, generator=g), torch.randn(800, 2, generator=g)
    same = metrics.mmd(x, y)
    diff = metrics.mmd(x, 1.5 * torch.randn(800, 2, generator=g) + 1.0)
    assert abs(same) < 0.01 and diff > 0.1
    assert metrics.mmd(x, y, bandwidth=1.0) == pytest.approx(metrics.mmd(x, y, bandwidth=[1.0]))


def test_metric_input_errors():
    with pytest.raises(DataError):
        metrics.sliced_wasserstein(torch.zeros(5, 2), torch.zeros(5, 3))
    with pytest.raises(DataError):
        metrics.mmd(torch.tensor([[float("nan"), 0.0]] * 3), torch.zeros(3, 2))
    with pytest.raises(DataError):
        metrics.nll(torch.zeros(0))


class _GaussModel:
    """A fake model obeying the contract: N(mu, sigma² I) on vectors of width 2."""

    shape = (2,)

    def __init__(self, mu=0.0, sigma=1.0, likelihood="exact"):
        self.mu, self.sigma, self.likelihood = torch.full((2,), mu), sigma, likelihood

    def log_prob(self, x, *, y=None, seed=None):
        if self.likelihood == "none":
            raise RuntimeError("no likelihood")
        return _gauss_logp(torch.as_tensor(x, dtype=torch.float32), self.mu, self.sigma)

    def sample(self, n, *, y=None, seed=None):
        g = torch.Generator().manual_seed(0 if seed is None else seed)
        return self.mu + self.sigma * torch.randn(n, 2, generator=g)


class _Truth:
    has_density = True
    discrete_levels = None

    def log_prob(self, x):
        return _gauss_logp(torch.as_tensor(x), torch.zeros(2), 1.0)

    def sample(self, n, seed=None):
        return torch.randn(n, 2, generator=torch.Generator().manual_seed(seed or 0))


def test_evaluate_keys_and_values():
    data = _Truth().sample(1000, seed=7)
    out = metrics.evaluate(_GaussModel(0.2, 1.1), data, truth=_Truth(), n_samples=800, seed=0)
    for key in ("nll", "kl_to_truth", "kl_stderr", "sliced_wasserstein", "mmd", "sample_time_s", "log_prob_time_s"):
        assert isinstance(out[key], float) and math.isfinite(out[key]), key
    assert out["likelihood"] == "exact" and out["nll_nonfinite"] == 0 and out["samples_nonfinite"] == 0
    exact = _kl_gauss(torch.zeros(2), 1.0, torch.full((2,), 0.2), 1.1, 2)
    assert abs(out["kl_to_truth"] - exact) < 4 * out["kl_stderr"]
    assert "bits_per_dim" not in out
    json.dumps(out)

    out = metrics.evaluate(_GaussModel(likelihood="none"), data, truth=_Truth(), n_samples=500)
    assert "nll" not in out and "kl_to_truth" not in out and "log_prob_time_s" not in out
    assert math.isfinite(out["sliced_wasserstein"]) and math.isfinite(out["mmd"])


def test_evaluate_levels_and_nonfinite():
    digits = np.random.default_rng(0).integers(0, 17, size=(300, 2)).astype(np.float32)

    class Uniform(_GaussModel):
        def log_prob(self, x, *, y=None, seed=None):
            x = torch.as_tensor(x)
            inside = ((x >= 0) & (x < 17)).all(1)
            return torch.where(inside, torch.tensor(-2 * math.log(17.0)), torch.tensor(-float("inf")))

        def sample(self, n, *, y=None, seed=None):
            s = 17 * torch.rand(n, 2, generator=torch.Generator().manual_seed(seed or 0))
            s[0, 0] = float("nan")
            return s

    out = metrics.evaluate(Uniform(), digits, levels=17, n_samples=200)
    assert out["bits_per_dim"] == pytest.approx(math.log2(17))
    assert out["samples_nonfinite"] == 1 and out["sliced_wasserstein"] == float("inf")

    out = metrics.evaluate(Uniform(), digits - 1, levels=17, n_samples=200)  # some points outside [0, 17)
    assert out["nll"] == float("inf") and out["nll_nonfinite"] > 0
