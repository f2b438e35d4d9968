"""Differentiable densities: log_prob keeps the graph of an input that requires grad, and grad_log_prob (data units)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import genlab
from genlab.errors import ConfigError

MEAN, SCALE = torch.tensor([1.0, -1.0]), torch.tensor([2.0, 0.5])


@pytest.fixture(scope="module")
def data():
    return torch.randn(2000, 2, generator=torch.Generator().manual_seed(0)) * SCALE + MEAN


def finite_difference(model, x, h=1e-2):
    cols = []
    for d in range(x.shape[1]):
        e = torch.zeros(x.shape[1])
        e[d] = h
        cols.append((model.log_prob(x + e, seed=0) - model.log_prob(x - e, seed=0)) / (2 * h))
    return torch.stack(cols, 1)


def test_gmm_gradient_is_the_gaussian_score(data):
    m = genlab.create("gmm", (2,), n_components=1, reg_covar=1e-9).fit(data)
    mu = data.double().mean(0)
    cov = torch.cov(data.double().T, correction=0)
    x = data[:50]
    truth = -(x.double() - mu) @ torch.linalg.inv(cov)  # grad log N(x; mu, cov), in data units
    assert torch.allclose(m.grad_log_prob(x).double(), truth, atol=1e-3)


def test_log_prob_keeps_the_graph_only_when_asked(data):
    m = genlab.create("maf", (2,)).fit(data, steps=20, progress=False)
    x = data[:8].clone().requires_grad_(True)
    lp = m.log_prob(x)
    assert lp.requires_grad
    (g,) = torch.autograd.grad(lp.sum(), x)
    assert torch.allclose(g, m.grad_log_prob(data[:8]), atol=1e-5)
    assert not m.log_prob(data[:8]).requires_grad  # plain input: no graph (as before)


@pytest.mark.parametrize("name, steps", [("kde", None), ("made", 20), ("realnvp", 20), ("ebm", 10)])
def test_gradient_matches_finite_differences(data, name, steps):
    m = genlab.create(name, (2,)).fit(data[:500], steps=steps, progress=False)
    x = data[:6]
    g = m.grad_log_prob(x, seed=0)
    assert g.shape == x.shape and torch.isfinite(g).all()
    assert torch.allclose(g, finite_difference(m, x), atol=2e-2, rtol=2e-2)


def test_vae_gradient_of_the_iwae_estimate_is_seeded(data):
    m = genlab.create("vae", (2,)).fit(data[:500], steps=10, progress=False)
    g = m.grad_log_prob(data[:4], seed=3)
    assert g.shape == (4, 2) and torch.isfinite(g).all()
    assert torch.equal(g, m.grad_log_prob(data[:4], seed=3))


def test_model_without_density_or_score_refuses(data):
    m = genlab.create("gan", (2,)).fit(data[:200], steps=2, progress=False)
    with pytest.raises(ConfigError, match="grad_log_prob"):
        m.grad_log_prob(data[:4])
    with pytest.raises(Exception, match="shape|numeric|NaN"):
        genlab.create("gmm", (2,), n_components=1).fit(data).grad_log_prob(np.full((3, 2), np.nan))


def test_score_model_gradient_is_the_network_score_at_eps_in_data_units(data):
    m = genlab.create("vp_sde", (2,)).fit(data[:500], steps=5, progress=False)
    x = data[:6]
    with torch.no_grad():
        sz = m.score_fn(None)(m.normalizer(x), torch.tensor(m.config.eps))
    # through the denoiser in the sigma form (float32 round trip t -> sigma -> t): the same score to 1e-3
    assert torch.allclose(m.grad_log_prob(x), sz / m.normalizer.std, rtol=1e-3, atol=1e-3)  # dz/dx = 1/std
