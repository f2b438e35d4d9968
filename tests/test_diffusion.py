"""Known-answer tests of genlab.diffusion with analytic oracle scores (no training).

For Gaussian data N(mu, Sigma) the perturbed marginal at time t is N(alpha mu, alpha^2 Sigma + sigma^2 I), with
(alpha, sigma) = sde.marginal_coeffs(t); its score is -(alpha^2 Sigma + sigma^2 I)^{-1} (x - alpha mu).
Tolerances: with n samples the standard error of a mean is sqrt(Sigma_ii / n) and of a covariance entry
sqrt((Sigma_ii Sigma_jj + Sigma_ij^2) / n); tolerances are ~4-5 standard errors plus the sampler's known
discretisation / prior-mismatch bias.
"""

from __future__ import annotations

import math

import pytest
import torch

from genlab.diffusion import (
    SAMPLERS,
    VESDE,
    VPSDE,
    CountingScore,
    NoiseLadder,
    SubVPSDE,
    dsm_loss,
    geometric_sigmas,
    get_sampler,
    langevin,
    ncsn_loss,
    ode_log_likelihood,
    sigma_max_from_data,
)
from genlab.diffusion.samplers.sde import ode as sde_ode
from genlab.errors import ConfigError

DT = torch.float64
MU = torch.tensor([1.0, -2.0], dtype=DT)
SIGMA = torch.tensor([[1.5, 0.9], [0.9, 1.0]], dtype=DT)


def gaussian_score(mu, Sigma, coeffs):
    """Oracle score of the perturbed Gaussian marginal; ``coeffs(t) -> (alpha, sigma)``."""
    eye = torch.eye(len(mu), dtype=mu.dtype)

    def score(x, t):
        t = torch.as_tensor(t, dtype=x.dtype).expand(len(x))
        if bool((t == t[0]).all()):
            alpha, sigma = coeffs(t[:1])
            C = alpha**2 * Sigma + sigma**2 * eye
            return -torch.linalg.solve(C, (x - alpha * mu).T).T
        alpha, sigma = coeffs(t)
        C = alpha[:, None, None] ** 2 * Sigma + sigma[:, None, None] ** 2 * eye
        return -torch.linalg.solve(C, (x - alpha[:, None] * mu).unsqueeze(-1)).squeeze(-1)

    return score


def gaussian_logp(x, mu, C):
    return torch.distributions.MultivariateNormal(mu, covariance_matrix=C).log_prob(x)


def sample_data(n, seed, mu=MU, Sigma=SIGMA):
    g = torch.Generator().manual_seed(seed)
    return mu + torch.randn(n, len(mu), generator=g, dtype=mu.dtype) @ torch.linalg.cholesky(Sigma).T


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    """The tensors here are tiny: extra intra-op threads only add overhead on a busy 2-core machine."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


SDES = {"ve": lambda: VESDE(0.01, 100.0), "vp": lambda: VPSDE(), "subvp": lambda: SubVPSDE()}


# ---------------------------------------------------------------------------------------------- SDEs
@pytest.mark.parametrize("name", list(SDES))
def test_marginal_coeffs_solve_the_moment_odes(name):
    """For f = a(t) x: d alpha/dt = a alpha and d sigma^2/dt = 2 a sigma^2 + g^2 (Song et al. 2021, Eq. 33)."""
    sde = SDES[name]()
    t = torch.linspace(0.05, 0.95, 7, dtype=DT, requires_grad=True)
    alpha, sigma = sde.marginal_coeffs(t)
    da = torch.autograd.grad(alpha.sum(), t, retain_graph=True)[0] if alpha.requires_grad else torch.zeros_like(t)
    (ds2,) = torch.autograd.grad((sigma**2).sum(), t)
    a, g = sde.drift_coeff(t), sde.diffusion(t)
    torch.testing.assert_close(da, a * alpha, rtol=1e-9, atol=1e-9)
    torch.testing.assert_close(ds2, 2 * a * sigma**2 + g**2, rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("name", list(SDES))
def test_marginal_matches_forward_euler_maruyama(name):
    sde = VESDE(0.01, 5.0) if name == "ve" else SDES[name]()
    g = torch.Generator().manual_seed(1)
    n, steps, t1 = 20000, 400, 0.5
    x0 = sample_data(n, 2)
    a0, s0 = sde.marginal_coeffs(torch.tensor(0.0, dtype=DT))
    x = a0 * x0 + s0 * torch.randn(x0.shape, generator=g, dtype=DT)
    ts = torch.linspace(0, t1, steps + 1, dtype=DT)
    for i in range(steps):
        f, G = sde.discretize(x, ts[i + 1], float(ts[i + 1] - ts[i]))  # exact-ish one-step kernels
        x = x + f + G * torch.randn(x.shape, generator=g, dtype=DT)
    m = sde.marginal(x0, torch.tensor(t1, dtype=DT))
    alpha, sigma = sde.marginal_coeffs(torch.tensor(t1, dtype=DT))
    cov = alpha**2 * SIGMA + sigma**2 * torch.eye(2, dtype=DT)
    se = (cov.diagonal() / n).sqrt()
    assert ((x.mean(0) - m.mean.mean(0)).abs() < 5 * se + 1e-3).all()
    assert torch.allclose(torch.cov(x.T), cov, rtol=0.05, atol=0.02)
    assert m.std.shape == ()


@pytest.mark.parametrize("name", ["ve", "vp"])
def test_discretize_maps_marginal_to_marginal(name):
    """The SMLD / DDPM one-step kernels are exact: sigma(t-dt)^2 + G^2 = sigma(t)^2 (VE);
    (1-b) alpha(t-dt)^2 = alpha(t)^2 and (1-b) sigma(t-dt)^2 + b = sigma(t)^2 (VP)."""
    sde = SDES[name]()
    t, dt = torch.tensor([0.3, 0.7], dtype=DT), 0.05
    x = torch.ones(2, 3, dtype=DT)
    f, G = sde.discretize(x, t, dt)
    a_prev, s_prev = sde.marginal_coeffs(t - dt)
    a, s = sde.marginal_coeffs(t)
    scale = (x + f)[:, 0]  # = sqrt(1 - b) for VP, 1 for VE
    torch.testing.assert_close(scale * a_prev, a)
    torch.testing.assert_close(scale**2 * s_prev**2 + G**2, s**2)


@pytest.mark.parametrize("name", list(SDES))
def test_prior_logp_matches_torch_distributions_and_integrates(name):
    sde = SDES[name]()
    z = sde.prior_sample((50, 3), torch.Generator().manual_seed(0), dtype=DT)
    ref = torch.distributions.Normal(0.0, sde.prior_std()).log_prob(z).sum(-1)
    torch.testing.assert_close(sde.prior_logp(z), ref)
    s = sde.prior_std()
    grid = torch.linspace(-10 * s, 10 * s, 20001, dtype=DT).unsqueeze(-1)
    assert abs(torch.trapezoid(sde.prior_logp(grid).exp(), grid[:, 0]).item() - 1) < 1e-6
    assert abs(z.std().item() / s - 1) < 0.15


def test_bad_options_raise_config_error():
    with pytest.raises(ConfigError):
        VESDE(sigma_min=1.0, sigma_max=0.5)
    with pytest.raises(ConfigError):
        VPSDE(beta_min=5.0, beta_max=1.0)
    with pytest.raises(ConfigError, match="euler_maruyama"):
        get_sampler("nope")
    with pytest.raises(ConfigError):
        get_sampler("ald").fn(lambda x, t: x, torch.zeros(2, 2), VPSDE())
    with pytest.raises(ConfigError):
        get_sampler("pc").fn(lambda x, t: x, torch.zeros(2, 2), NoiseLadder([2.0, 1.0]))
    with pytest.raises(ConfigError):
        ode_log_likelihood(lambda x, t: x, VPSDE(), torch.zeros(2, 2), divergence="bogus")
    with pytest.raises(ConfigError):
        NoiseLadder([1.0, 2.0])



def test_every_sampler_entry_is_complete():
    """Each registry entry has a known kind, a positive default step count (a call without steps uses it) and
    exactly one of the tags deterministic / stochastic."""
    from genlab.diffusion.samplers import KINDS

    assert len(SAMPLERS) >= 9
    for name, s in SAMPLERS.items():
        assert s.name == name and s.kind in KINDS and callable(s.fn)
        assert isinstance(s.default_steps, int) and s.default_steps >= 1
        assert len(s.tags & {"deterministic", "stochastic"}) == 1, name


def test_geometric_ladder_and_sigma_max_from_data():
    s = geometric_sigmas(0.01, 10.0, 7)
    assert s.shape == (7,) and bool((s[1:] < s[:-1]).all())
    torch.testing.assert_close(s[[0, -1]], torch.tensor([10.0, 0.01]))
    ratios = s[1:] / s[:-1]
    torch.testing.assert_close(ratios, ratios[:1].expand(6))
    x = torch.tensor([[0.0, 0.0], [3.0, 4.0], [1.0, 1.0]])
    assert sigma_max_from_data(x) == pytest.approx(5.0)
    big = torch.randn(5000, 2, generator=torch.Generator().manual_seed(0))
    assert 0.8 * torch.cdist(big[:1000], big).max() < sigma_max_from_data(big, max_points=1000) <= torch.cdist(big, big).max() + 1e-5


# ---------------------------------------------------------------------------------------------- samplers
# every registered sampler of the SDE kind on every SDE, and the probability-flow ODE in time t
CASES = [(s, n) for s in SAMPLERS.names(where=lambda e: e.kind == "sde") for n in SDES] + [("ode", n) for n in SDES]


@pytest.mark.parametrize("sampler,name", CASES)
def test_sampler_reproduces_gaussian_moments(sampler, name):
    """n = 4000: SE(mean) <= 0.02, SE(cov) <= 0.035. Tolerance 0.1 on the mean and 0.15 on the covariance
    covers ~4 SE plus the O(1/steps) discretisation bias at 200 steps and the VE prior mismatch
    (|mean offset| ~ |Sigma^1/2 mu| / sigma_max ~ 0.03 at sigma_max = 100)."""
    sde, g = SDES[name](), torch.Generator().manual_seed(10)
    score = CountingScore(gaussian_score(MU, SIGMA, sde.marginal_coeffs))
    x = sde.prior_sample((4000, 2), g, dtype=DT)
    seen = []
    opts = {"rtol": 1e-4, "atol": 1e-4} if sampler == "ode" else {"steps": 200}
    fn = sde_ode if sampler == "ode" else SAMPLERS[sampler].fn  # the probability-flow ODE in time t
    out = fn(score, x, sde, generator=g, callback=lambda d: seen.append(d["i"]), **opts)
    assert out.shape == x.shape and torch.isfinite(out).all()
    assert (out.mean(0) - MU).abs().max() < 0.1, out.mean(0)
    assert (torch.cov(out.T) - SIGMA).abs().max() < 0.15, torch.cov(out.T)
    if sampler != "ode":
        per_step = 2 if sampler == "pc" else 1
        assert len(seen) == 200 and score.nfe == 200 * per_step + 1
    else:
        assert score.nfe == len(seen) + 1


def test_ald_reproduces_gaussian_moments():
    """Ladder 20 -> 0.1 (L = 10), 100 steps per level, a_L = 0.01: enough to mix at every level; same
    tolerances as the SDE samplers."""
    ladder = NoiseLadder(geometric_sigmas(0.1, 20.0, 10).to(DT))
    g = torch.Generator().manual_seed(3)
    score = gaussian_score(MU, SIGMA, ladder.marginal_coeffs)
    x = ladder.prior_sample((4000, 2), g, dtype=DT)
    out = SAMPLERS["ald"].fn(score, x, ladder, generator=g, n_steps_each=100, step_lr=0.01)
    assert (out.mean(0) - MU).abs().max() < 0.1
    assert (torch.cov(out.T) - SIGMA).abs().max() < 0.15


def mixture_ladder_score(w, mus, s):
    """Oracle score of sum_k w_k N(mu_k, (s^2 + sigma^2) I), responsibility-weighted."""

    def score(x, sigma):
        var = s**2 + torch.as_tensor(sigma, dtype=x.dtype).reshape(-1, 1, 1) ** 2  # (N, 1, 1)
        diff = x[:, None, :] - mus[None]  # (N, K, D)
        logc = torch.log(w)[None] - 0.5 * (diff**2).sum(-1) / var[..., 0] - 0.5 * x.shape[1] * torch.log(var[..., 0])
        r = torch.softmax(logc, dim=1)
        return -(r[..., None] * diff / var).sum(1)

    return score


def test_annealed_langevin_recovers_mixture_weights_plain_langevin_does_not():
    """Song & Ermon 2019, Fig. 3 set-up: 0.2 N((-5,-5), I) + 0.8 N((5,5), I), ladder 20 -> 1 (L = 10), 100 steps
    per level. Plain Langevin at the single level sigma = 1 (same 1000 steps and step size as the last level)
    from a uniform init on [-8, 8]^2 cannot cross the low-density gap and keeps the init's ~1/2 : 1/2 split;
    annealed Langevin recovers 0.2 / 0.8 (n = 4000: SE 0.0063; finite-step bias ~ +0.01; tolerance 0.05)."""
    w, mus = torch.tensor([0.2, 0.8], dtype=DT), torch.tensor([[-5.0, -5.0], [5.0, 5.0]], dtype=DT)
    score = mixture_ladder_score(w, mus, 1.0)
    g = torch.Generator().manual_seed(0)
    x0 = torch.rand(4000, 2, generator=g, dtype=DT) * 16 - 8
    ladder = NoiseLadder(geometric_sigmas(1.0, 20.0, 10).to(DT))
    x_ald = SAMPLERS["ald"].fn(score, x0.clone(), ladder, generator=g, n_steps_each=100, step_lr=0.3, denoise=False)
    x_lan = langevin(lambda x: score(x, torch.full((len(x),), 1.0, dtype=DT)), x0.clone(), steps=1000,
                     step_size=0.3, generator=g)
    left = lambda x: (x.sum(-1) < 0).double().mean().item()  # noqa: E731
    assert abs(left(x_ald) - 0.2) < 0.05
    assert abs(left(x_lan) - 0.2) > 0.2


# ---------------------------------------------------------------------------------------------- losses
@pytest.mark.parametrize("name", list(SDES))
def test_dsm_loss_is_minimised_by_the_oracle_and_weights(name):
    sde = SDES[name]()
    x0 = sample_data(4000, 5)
    oracle = gaussian_score(MU, SIGMA, sde.marginal_coeffs)
    seeded = lambda: torch.Generator().manual_seed(7)  # noqa: E731
    good = dsm_loss(oracle, sde, x0, seeded())
    bad = dsm_loss(lambda x, t: oracle(x, t) + 0.3, sde, x0, seeded())
    assert good.shape == (4000,) and good.mean() < bad.mean()
    t = torch.tensor(0.4, dtype=DT)
    plain = dsm_loss(oracle, sde, x0, seeded(), t=t)
    lw = dsm_loss(oracle, sde, x0, seeded(), t=t, likelihood_weighting=True)
    _, sigma = sde.marginal_coeffs(t)
    torch.testing.assert_close(lw, plain * sde.diffusion(t) ** 2 / sigma**2)
    summed = dsm_loss(oracle, sde, x0, seeded(), t=t, reduce_mean=False)
    torch.testing.assert_close(summed, 2 * plain)


def test_ncsn_loss_is_minimised_by_the_oracle():
    ladder = NoiseLadder(geometric_sigmas(0.05, 10.0, 8).to(DT))
    x0 = sample_data(4000, 6)
    oracle = gaussian_score(MU, SIGMA, ladder.marginal_coeffs)
    seen = []

    def spy(x, s):
        seen.append(s)
        return oracle(x, s)

    good = ncsn_loss(spy, ladder, x0, torch.Generator().manual_seed(1))
    bad = ncsn_loss(lambda x, s: oracle(x, s) * 1.2, ladder.sigmas, x0, torch.Generator().manual_seed(1))
    assert good.shape == (4000,) and good.mean() < bad.mean()
    assert set(torch.unique(seen[0]).tolist()) <= set(ladder.sigmas.tolist())


# ---------------------------------------------------------------------------------------------- likelihood
@pytest.mark.parametrize("name", list(SDES))
def test_ode_log_likelihood_matches_analytic_density(name):
    """logp is log p_eps(x), the t = eps marginal N(alpha mu, alpha^2 Sigma + sigma^2 I). The prior mismatch
    at T is accounted for by swapping prior_logp(z) for the true log p_T(z)."""
    sde, eps = SDES[name](), 1e-5
    x = sample_data(100, 8)
    res = ode_log_likelihood(gaussian_score(MU, SIGMA, sde.marginal_coeffs), sde, x, eps=eps)
    assert res.exact and res.logp.shape == (100,) and res.nfe > 0
    a, s = sde.marginal_coeffs(torch.tensor(eps, dtype=DT))
    truth = gaussian_logp(x, a * MU, a**2 * SIGMA + s**2 * torch.eye(2, dtype=DT))
    aT, sT = sde.marginal_coeffs(torch.tensor(1.0, dtype=DT))
    pT = gaussian_logp(res.z, aT * MU, aT**2 * SIGMA + sT**2 * torch.eye(2, dtype=DT))
    assert (res.delta_logp + pT - truth).abs().max() < 0.01
    torch.testing.assert_close(res.logp, res.prior_logp + res.delta_logp)


def test_ode_log_likelihood_ve_with_large_sigma_max_needs_no_correction():
    sde = VESDE(0.01, 1000.0)
    x = sample_data(100, 9)
    res = ode_log_likelihood(gaussian_score(MU, SIGMA, sde.marginal_coeffs), sde, x)
    s = sde.marginal_coeffs(torch.tensor(1e-5, dtype=DT))[1]
    truth = gaussian_logp(x, MU, SIGMA + s**2 * torch.eye(2, dtype=DT))
    assert (res.logp - truth).abs().max() < 0.01


@pytest.mark.parametrize("probe_dist", ["rademacher", "gaussian"])
def test_hutchinson_divergence_is_unbiased(probe_dist):
    """20-D correlated Gaussian, VP: each of 4 points repeated 300 times with one probe each; the mean of the
    Hutchinson log-likelihoods is within 3 standard errors of the exact-divergence value."""
    D, gen = 20, torch.Generator().manual_seed(4)
    A = torch.randn(D, D, generator=gen, dtype=DT) / math.sqrt(D)
    Sigma, mu = A @ A.T + 0.3 * torch.eye(D, dtype=DT), torch.randn(D, generator=gen, dtype=DT)
    sde = VPSDE()
    score = gaussian_score(mu, Sigma, sde.marginal_coeffs)
    x = sample_data(4, 11, mu, Sigma)
    opts = {"rtol": 1e-4, "atol": 1e-4}
    exact = ode_log_likelihood(score, sde, x, divergence="auto", exact_max_dim=D, **opts)
    assert exact.exact
    reps = 300
    hut = ode_log_likelihood(score, sde, x.repeat_interleave(reps, 0), divergence="hutchinson",
                             probe_dist=probe_dist, generator=gen, **opts)
    assert not hut.exact
    d = (hut.logp.reshape(4, reps) - exact.logp[:, None])
    assert d.std() > 1e-3  # the estimate really is noisy
    z = d.mean() / (d.std(dim=1).pow(2).mean().sqrt() / math.sqrt(4 * reps))
    assert abs(z.item()) < 3
