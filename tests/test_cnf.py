"""cnf: the ODE likelihood against a closed form, Hutchinson's unbiasedness, normalisation after a short fit."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

import genlab
import genlab.families.cnf  # noqa: F401  (registers "cnf")
from genlab.data.planar import eight_gaussians_sample
from genlab.errors import ConfigError
from genlab.nn.divergence import divergence, jacobian_trace


@pytest.fixture(autouse=True)
def _one_thread():
    """Tiny networks: one intra-op thread is as fast, and far faster on a busy machine (no spinning threads)."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


class LinearField(nn.Module):
    """f(z, t) = A z: z(T) = exp(A T) z(0), so log p(x) = log N(exp(A T) x; 0, I) + T tr(A)."""

    def __init__(self, A: torch.Tensor):
        super().__init__()
        self.A = A

    def forward(self, t, z):
        return z @ self.A.T


def _linear_cnf(A: torch.Tensor, T: float = 1.0):
    m = genlab.create("cnf", (A.shape[0],), end_time=T)
    m.odefunc.field = LinearField(A)
    m.fitted = True  # a known field set by hand, not an unfitted model
    return m


def test_divergence_helpers_match_the_jacobian():
    torch.manual_seed(0)
    A = torch.randn(5, 5)
    z = torch.randn(7, 5, requires_grad=True)
    f = torch.tanh(z) @ A.T  # J = A diag(1 - tanh^2)
    exact = (torch.diagonal(A) * (1 - torch.tanh(z) ** 2)).sum(1)
    torch.testing.assert_close(divergence(f, z), exact)
    torch.testing.assert_close(jacobian_trace(f, z, create_graph=True), exact)  # the graph-keeping path agrees
    g = torch.Generator().manual_seed(1)
    probes = torch.stack([divergence(f, z, estimator="hutchinson", generator=g) for _ in range(4000)])
    se = probes.std(0) / math.sqrt(probes.shape[0])
    assert ((probes.mean(0) - exact).abs() < 4 * se + 1e-6).all()
    with pytest.raises(ConfigError):
        divergence(f, z, estimator="nope")


@pytest.mark.parametrize("divergence", ["exact", "hutchinson"])
def test_linear_field_matches_closed_form(divergence):
    torch.manual_seed(1)
    A = 0.5 * torch.randn(3, 3)
    T = 1.3
    m = _linear_cnf(A, T)
    x = torch.randn(64, 3) * 1.5
    zT = x @ torch.linalg.matrix_exp(A * T).T
    expected = -0.5 * (zT.pow(2).sum(1) + 3 * math.log(2 * math.pi)) + T * torch.trace(A)
    lp = m.log_prob(x, divergence=divergence, seed=0)
    if divergence == "exact":
        torch.testing.assert_close(lp, expected, atol=1e-4, rtol=1e-4)
    else:  # unbiased: the per-point error averages out over points (Rademacher: eps^T A eps - tr A)
        err = lp - expected
        assert err.abs().max() > 1e-3  # it really is an estimate here (A has off-diagonal entries)
        assert err.mean().abs() < 3 * err.std() / math.sqrt(err.numel())
    # samples z(0) = exp(-A T) eps have covariance exp(-A T) exp(-A T)^T
    s = m.sample(4000, seed=0)
    B = torch.linalg.matrix_exp(-A * T)
    torch.testing.assert_close(torch.cov(s.T), B @ B.T, atol=0.15, rtol=0.1)


def test_hutchinson_is_unbiased_for_a_network_field():
    m = genlab.create("cnf", (3,), hidden=16, depth=2)
    m.fitted = True  # the initial network is as good a field as any for this identity
    torch.manual_seed(2)
    x = torch.randn(4, 3)
    exact = m.log_prob(x, divergence="exact")
    reps = 300  # each repeated row gets its own Rademacher probe
    est = m.log_prob(x.repeat(reps, 1), divergence="hutchinson", seed=0).reshape(reps, 4)
    se = est.std(0) / math.sqrt(reps)
    assert (est.std(0) > 0).all()
    assert ((est.mean(0) - exact).abs() < 3 * se + 1e-4).all()


def test_likelihood_label_and_divergence_choice():
    assert genlab.create("cnf", (2,)).likelihood == "exact"
    assert genlab.create("cnf", (17,)).likelihood == "estimate"
    assert genlab.create("cnf", (17,), exact_max_dim=32).likelihood == "exact"
    m = genlab.create("cnf", (2,))
    with pytest.raises(ConfigError):
        m.log_prob(torch.zeros(3, 2), divergence="nope")
    with pytest.raises(ConfigError):
        m.log_prob(torch.zeros(3, 2), method="nope")
    with pytest.raises(ConfigError):
        m.sample(3, colour="red")
    with pytest.raises(ConfigError):
        genlab.create("cnf", (2,), method="nope")


def test_short_fit_improves_and_integrates_to_one():
    g = torch.Generator().manual_seed(0)
    x, _ = eight_gaussians_sample(2000, g)
    x_test, _ = eight_gaussians_sample(500, g)
    m = genlab.create("cnf", (2,), hidden=32)
    m.normalizer.fit(x)
    m.fitted = True  # evaluate the initial weights (an unfitted model refuses log_prob)
    before = -m.log_prob(x_test).mean()
    m.fit(x, steps=60, lr=1e-2, batch_size=256, progress=False)
    after = -m.log_prob(x_test).mean()
    assert after < before - 0.2
    # Riemann sum over [-8, 8]^2 (4 data standard deviations): grid error is negligible for a smooth density
    # of this scale (spacing 0.16); what remains is the ODE solver's error at tol 1e-5, ~1e-3.
    n, lim = 100, 8.0
    g1 = torch.linspace(-lim, lim, n)
    grid = torch.cartesian_prod(g1, g1)
    mass = m.log_prob(grid).exp().sum() * (2 * lim / (n - 1)) ** 2
    assert abs(mass.item() - 1) < 0.02
    s = m.sample(5, seed=0)
    assert s.shape == (5, 2) and torch.isfinite(s).all()


def test_impute_fills_the_conditional_mean_of_an_untrained_linear_cnf():
    """No training: the field f(z) = A z makes x = exp(-A) eps Gaussian with covariance S = exp(-2A) (A symmetric),
    so the mean fill of x_2 given x_1 is S_21 / S_11 x_1 = -tanh(1) x_1 (and of x_1 given x_2 likewise)."""
    A = torch.tensor([[0.0, 0.5], [0.5, 0.0]])
    m = _linear_cnf(A)
    x1 = torch.tensor([-1.0, 0.5, 1.5])
    q = torch.stack([x1, torch.full_like(x1, float("nan"))], 1).repeat(20, 1)
    q = torch.cat([q, q.flip(1)])  # the other coordinate missing
    out = m.impute(q, steps=150, step_size=0.3, seed=0)
    assert torch.equal(out[:60, 0], q[:60, 0]) and torch.equal(out[60:, 1], q[60:, 1])
    expected = -math.tanh(1.0) * x1
    torch.testing.assert_close(out[:60, 1].view(20, 3).mean(0), expected, atol=0.2, rtol=0)
    torch.testing.assert_close(out[60:, 0].view(20, 3).mean(0), expected, atol=0.2, rtol=0)
