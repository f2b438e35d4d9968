"""flow_matching and rectified_flow: known answers with the exact velocity field of Gaussian data."""

from __future__ import annotations

import math

import pytest
import torch

import genlab
import genlab.metrics
from genlab.diffusion.parameterization import denoised_from_velocity, flow_sigma, flow_t, velocity_from_denoised
from genlab.flow import CondOTPath, couple, ot_coupling, path_times

RHO = 0.8
SIGMA = torch.tensor([[1.0, RHO], [RHO, 1.0]])


class GaussianVelocity(torch.nn.Module):
    """The exact CFM velocity E[x_1 - (1 - s) x_0 | x_t] for data N(0, cov) on the CondOT path with sigma_min s."""

    def __init__(self, cov: torch.Tensor, sigma_min: float = 0.0):
        super().__init__()
        self.cov, self.s = cov.double(), sigma_min

    def forward(self, x, t, y=None):
        t = t.double().reshape(-1, 1, 1)
        a = 1 - (1 - self.s) * t
        eye = torch.eye(len(self.cov), dtype=torch.float64)
        cov_t = t**2 * self.cov + a**2 * eye
        gain = (t * self.cov - (1 - self.s) * a * eye) @ torch.linalg.inv(cov_t)
        return (gain @ x.double().unsqueeze(-1)).squeeze(-1).to(x.dtype)


def oracle(sigma_min=0.0, name="flow_matching", cov=SIGMA):
    kw = {"sigma_min": sigma_min} if name == "flow_matching" else {}
    m = genlab.create(name, (len(cov),), normalize=False, **kw).set_backbone(GaussianVelocity(cov, sigma_min))
    m.fitted = True
    return m


def test_path_ends_and_target_is_the_time_derivative():
    g = torch.Generator().manual_seed(0)
    x0, x1 = torch.randn(5, 3, generator=g), torch.randn(5, 3, generator=g)
    p = CondOTPath(0.1)
    assert torch.allclose(p.interpolate(x0, x1, torch.zeros(5)), x0)
    assert torch.allclose(p.interpolate(x0, x1, torch.ones(5)), x1 + 0.1 * x0)
    t, h = torch.full((5,), 0.3), 1e-3
    fd = (p.interpolate(x0, x1, t + h) - p.interpolate(x0, x1, t - h)) / (2 * h)
    assert torch.allclose(fd, p.target(x0, x1), atol=1e-3)


def test_logit_normal_times_are_edm_log_normal_noise_levels():
    """t = sigmoid(loc + scale n) gives sigma = (1 - t) / t with log sigma ~ N(-loc, scale^2) (Esser et al. 2024)."""
    g = torch.Generator().manual_seed(0)
    t = path_times(200_000, g, distribution="logit_normal", loc=1.8, scale=1.6, dtype=torch.float64)
    log_sigma = torch.log(flow_sigma(t))
    assert abs(float(log_sigma.mean()) + 1.8) < 0.02 and abs(float(log_sigma.std()) - 1.6) < 0.02
    u = path_times(200_000, torch.Generator().manual_seed(0), dtype=torch.float64)
    assert 0 <= float(u.min()) and float(u.max()) < 1 and abs(float(u.mean()) - 0.5) < 0.01
    again = path_times(200_000, torch.Generator().manual_seed(0), distribution="logit_normal", loc=1.8, scale=1.6,
                       dtype=torch.float64)
    assert torch.equal(again, t)
    with pytest.raises(genlab.errors.ConfigError, match="time distribution"):
        path_times(3, g, distribution="beta")


@pytest.mark.parametrize("s", [0.0, 0.05])
def test_flow_time_and_velocity_conversions_invert(s):
    t = torch.tensor([0.1, 0.5, 0.9])
    assert torch.allclose(flow_t(flow_sigma(t, s), s), t)
    x, u = torch.randn(3, 2), torch.randn(3, 2)
    assert torch.allclose(velocity_from_denoised(x, denoised_from_velocity(x, u, t, s), t, s), u, atol=1e-5)


@pytest.mark.parametrize("s", [0.0, 0.1])
def test_denoiser_of_the_exact_velocity_is_the_posterior_mean(s):
    """The one mapping flow time -> sigma form: D(x; sigma) must be Tweedie's E[x_1 | x_1 + sigma n]."""
    m = oracle(s)
    x = torch.randn(6, 2, generator=torch.Generator().manual_seed(1)) * 3
    for sigma in (0.2, 1.0, 7.0):
        want = x @ torch.linalg.inv(SIGMA + sigma**2 * torch.eye(2)) @ SIGMA  # symmetric: (Sigma (Sigma + s^2)^-1 x)^T
        got = m.denoiser()(x, torch.full((6,), sigma))
        assert torch.allclose(got, want, atol=1e-4), sigma


@pytest.mark.parametrize("s", [0.0, 0.1])
def test_log_prob_of_the_exact_flow_is_the_gaussian_density(s):
    m = oracle(s)
    assert m.likelihood == "exact"
    x = torch.randn(8, 2, generator=torch.Generator().manual_seed(2)) * 1.5
    cov = SIGMA + s**2 * torch.eye(2)  # the model's t = 1 marginal
    want = torch.distributions.MultivariateNormal(torch.zeros(2), cov).log_prob(x)
    assert torch.allclose(m.log_prob(x), want, atol=2e-3)


def test_samples_of_the_exact_flow_have_the_data_covariance():
    m = oracle()
    for opts in ({"sampler": "heun", "steps": 32}, {"sampler": "ode"}):
        x = m.sample(4000, seed=0, **opts)
        assert torch.allclose(torch.cov(x.T), SIGMA, atol=0.08), opts
    one = m.sample(4000, seed=0, sampler="euler", steps=1)  # one Euler step from noise: E[x_1 | x_t0], nearly the mean
    assert one.std(0).max() < 0.03 and m.last_nfe == 1  # (1.8 / (1.8 + 79^2)) sqrt(1 + 79^2) = 0.023


class ConstantVelocity(torch.nn.Module):
    def forward(self, x, t, y=None):
        return torch.ones_like(x) * torch.tensor([2.0, -1.0])


def test_straightness_is_zero_for_straight_paths_and_positive_otherwise():
    m = genlab.create("rectified_flow", (2,), normalize=False).set_backbone(ConstantVelocity())
    assert genlab.metrics.straightness(m, 64, steps=20) < 1e-8
    assert genlab.metrics.straightness(oracle(), 256, steps=50) > 1e-3
    with pytest.raises(genlab.ConfigError, match="ODE"):
        genlab.metrics.straightness(genlab.create("gmm", (2,)).fit(torch.randn(50, 2)), 10)


def test_ot_coupling_recovers_a_permutation_and_never_costs_more():
    g = torch.Generator().manual_seed(3)
    x1 = torch.randn(64, 2, generator=g)
    perm = torch.randperm(64, generator=g)
    x0 = x1[perm] + 1e-3
    assert torch.allclose(ot_coupling(x0, x1), x1 + 1e-3)
    noise = torch.randn(256, 2, generator=g)

    def cost(a):
        return (a - x1.repeat(4, 1)).pow(2).sum()

    assert cost(couple("ot", noise, x1.repeat(4, 1))) <= cost(couple("ot", noise, x1.repeat(4, 1), 64)) + 1e-4
    assert cost(couple("ot", noise, x1.repeat(4, 1), 64)) < cost(couple("independent", noise, x1.repeat(4, 1)))
    with pytest.raises(genlab.ConfigError, match="coupling"):
        genlab.create("flow_matching", (2,), coupling="sinkhorn")


def test_imputation_of_the_exact_flow_finds_the_conditional_mean():
    """E[x_2 | x_1] = rho x_1. With the exact field, RePaint's resampling gets close; plain replacement through a
    deterministic flow shrinks the fill towards the unconditional mean (the harmonisation failure it fixes)."""
    m = oracle()
    x = torch.linspace(-2, 2, 9).reshape(-1, 1) * torch.tensor([[1.0, 0.0]])
    mask = torch.tensor([[True, False]]).expand(9, 2)

    def err(**opts):
        filled = m.impute(x, mask, seed=0, n_samples=128, steps=24, **opts)
        assert torch.equal(filled[:, 0], x[:, 0])
        return float((filled[:, 1] - RHO * x[:, 0]).abs().max())

    repaint = err(algorithm="repaint", jumps=8)
    assert m.last_nfe == 24 * 8
    replacement = err(algorithm="replacement", sampler="euler")
    assert repaint < 0.35 and replacement > 2 * repaint, (repaint, replacement)
    with pytest.raises(genlab.ConfigError, match="algorithm"):
        m.impute(x, mask, algorithm="magic")


def test_classifier_free_guidance_and_labels():
    g = torch.Generator().manual_seed(4)
    y = torch.randint(0, 2, (400,), generator=g)
    x = torch.randn(400, 2, generator=g) * 0.3 + torch.stack([y * 4.0 - 2, torch.zeros(400)], 1)
    m = genlab.create("flow_matching", (2,), coupling="ot").fit(x, y, steps=150, progress=False)
    a = m.sample(200, y=0, seed=0, steps=8)
    assert m.last_nfe == 8  # dpmpp_2m (the default): one call per step
    b = m.sample(200, y=1, seed=0, steps=8, guidance=1.0)
    assert m.last_nfe == 16  # guidance doubles the calls
    assert a[:, 0].mean() < 0 < b[:, 0].mean()
    assert torch.isfinite(m.log_prob(x[:5], y=y[:5])).all()


def test_rectified_flow_reflow_returns_a_new_model_and_leaves_the_old_one(tmp_path):
    x = torch.randn(300, 2, generator=torch.Generator().manual_seed(5)) * torch.tensor([1.0, 3.0]) + 2
    m = genlab.create("rectified_flow", (2,)).fit(x, steps=30, progress=False)
    before = {k: v.clone() for k, v in m.state_dict().items()}
    m2 = m.reflow(steps=20, n_pairs=300, seed=0)
    assert type(m2) is type(m) and m2 is not m and m2.rectified_k == 2 and len(m2.history) == 20
    assert all(torch.equal(before[k], v) for k, v in m.state_dict().items())
    assert torch.equal(m2.normalizer.std, m.normalizer.std)
    m3 = m2.reflow(time_budget=1.0, n_pairs=200)
    assert m3.rectified_k == 3 and len(m3.history) >= 1
    m3.save(tmp_path / "rf")
    assert genlab.load(tmp_path / "rf").rectified_k == 3
    with pytest.raises(genlab.ConfigError, match="coupling"):
        genlab.create("rectified_flow", (2,), coupling="ot")
    with pytest.raises(genlab.ConfigError, match="n_pairs"):
        m.reflow(steps=1, n_pairs=0)


def test_sampler_choices_are_the_sigma_form_ones():
    m = genlab.create("flow_matching", (2,))
    from genlab.diffusion import SAMPLERS

    assert m.samplers() and all(SAMPLERS[name].kind == "sigma" for name in m.samplers())
    assert not {"pc", "ald", "onestep"} & set(m.samplers())  # no SDE, ladder or consistency sampler
    assert math.isclose(m.sigma_range()[1], 79.0, rel_tol=1e-9)
