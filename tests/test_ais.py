"""Annealed importance sampling recovers known partition functions."""

from __future__ import annotations

import math

import pytest
import torch

from genlab.errors import ConfigError
from genlab.mcmc import annealed_importance_sampling, beta_schedule


def _std_normal(d):
    def log_p(z):
        return -0.5 * z.pow(2).sum(1) - 0.5 * d * math.log(2 * math.pi)

    return log_p, lambda n, g: torch.randn(n, d, generator=g)


def _spd(d, seed):
    g = torch.Generator().manual_seed(seed)
    Q, _ = torch.linalg.qr(torch.randn(d, d, generator=g))
    eig = torch.linspace(0.3, 4.0, d)  # anisotropic: broader and narrower than the base
    return Q @ torch.diag(eig) @ Q.T


@pytest.mark.parametrize("d,transition", [(2, "mala"), (5, "mala"), (5, "hmc")])
def test_quadratic_energy_log_Z(d, transition):
    """f = exp(-z^T A z / 2): log Z = (D/2) log 2π - (1/2) log det A, within 0.05 nats."""
    A = _spd(d, seed=d)
    exact = 0.5 * d * math.log(2 * math.pi) - 0.5 * float(torch.logdet(A))
    base_lp, base_sample = _std_normal(d)
    res = annealed_importance_sampling(lambda z: -0.5 * ((z @ A) * z).sum(1), base_lp, base_sample,
                                       n_chains=256, n_steps=100, transition=transition,
                                       generator=torch.Generator().manual_seed(0))
    assert abs(res.log_Z - exact) < 0.05
    assert 0 < res.stderr < 0.1
    assert res.log_weights.shape == (256,) and res.samples.shape == (256, d)
    # the final states follow the target N(0, A^-1)
    cov = torch.cov(res.samples.T)
    assert torch.allclose(cov, torch.linalg.inv(A), atol=0.3)


def test_unnormalised_shift_and_mixture():
    """A scaled two-component mixture far from the base: log Z = log c exactly."""
    c = 7.0
    mu = torch.tensor([[3.0, 0.0], [-3.0, 1.0]])

    def log_f(z):
        lp = -0.5 * (z[:, None, :] - mu).pow(2).sum(-1) / 0.25 - math.log(2 * math.pi * 0.25)
        return torch.logsumexp(lp, 1) - math.log(2) + math.log(c)

    base_lp, base_sample = _std_normal(2)
    res = annealed_importance_sampling(log_f, base_lp, base_sample, n_chains=256, n_steps=300,
                                       generator=torch.Generator().manual_seed(1))
    assert abs(res.log_Z - math.log(c)) < 0.05


def test_schedule_and_errors():
    for kind in ("sigmoid", "linear"):
        b = beta_schedule(50, kind)
        assert b[0] == 0 and b[-1] == 1 and bool((b[1:] > b[:-1]).all())
    base_lp, base_sample = _std_normal(2)
    with pytest.raises(ConfigError, match="transition"):
        annealed_importance_sampling(base_lp, base_lp, base_sample, 4, 4, transition="gibbs",
                                     generator=torch.Generator())
    with pytest.raises(ConfigError, match="schedule"):
        beta_schedule(4, "cosine")
