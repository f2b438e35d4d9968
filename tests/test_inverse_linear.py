"""Linear inverse problems (genlab.inverse): orthonormal operators and known answers with exact Gaussian denoisers.

For data N(m, diag(v)) a model that standardises per dimension sees z ~ N(0, I), whose exact denoiser, noise
prediction and velocity are closed forms (no training). Given A x = y the posterior is Gaussian with
mean m + V A^T (A V A^T)^-1 (y - A m) and covariance V - V A^T (A V A^T)^-1 A V; for an isotropic prior N(mu, s^2 I)
this is x = A^T y + (I - A^T A)(mu + s xi), xi ~ N(0, I). The solver's draws must match it within Monte-Carlo error.
"""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

import genlab
from conftest import ExactEps
from genlab.errors import ConfigError, DataError
from genlab.inverse import Colorize, Inpaint, SuperResolve, box_mask, random_pixel_mask, solve

SHAPE = (3, 4, 4)
D = math.prod(SHAPE)


def operators():
    g = torch.Generator().manual_seed(0)
    return [Inpaint(box_mask(SHAPE, (1, 1, 2, 2))), Inpaint(random_pixel_mask(SHAPE, 0.5, generator=g)), Colorize(),
            SuperResolve(2)]


def dense(op, shape=SHAPE) -> torch.Tensor:
    """The matrix A (r, D) of an operator: row i is lift(e_i)."""
    obs = op.observed_shape(shape)
    r = math.prod(obs)
    return op.lift(torch.eye(r, dtype=torch.float64).reshape(r, *obs)).reshape(r, -1)


# ---------------------------------------------------------------------------------------------- the operators
@pytest.mark.parametrize("op", operators(), ids=lambda o: o.name)
def test_operators_have_orthonormal_rows(op):
    A = dense(op)
    torch.testing.assert_close(A @ A.T, torch.eye(len(A), dtype=torch.float64))
    x = torch.randn(5, *SHAPE, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    y = op.observe(x)
    assert tuple(y.shape[1:]) == op.observed_shape(SHAPE)
    torch.testing.assert_close(y.reshape(5, -1), x.reshape(5, -1) @ A.T)  # observe = A x
    torch.testing.assert_close(op.observe(op.lift(y)), y)  # A A^T y = y
    torch.testing.assert_close(op.lift(y).reshape(5, -1), y.reshape(5, -1) @ A)  # lift = A^T y


def test_operator_values():
    x = torch.arange(2 * D, dtype=torch.float64).reshape(2, *SHAPE)
    torch.testing.assert_close(Colorize().observe(x), math.sqrt(3) * x.mean(1, keepdim=True))
    torch.testing.assert_close(SuperResolve(2).observe(x), 2 * torch.nn.functional.avg_pool2d(x, 2))
    mask = box_mask(SHAPE, (1, 1, 2, 2))
    assert mask.shape == SHAPE and int((~mask).sum()) == 3 * 4 and not mask[:, 1:3, 1:3].any()
    assert torch.equal(Inpaint(mask).observe(x), x[:, mask])
    m1 = random_pixel_mask((3, 8, 8), 0.5, generator=torch.Generator().manual_seed(4))
    m2 = random_pixel_mask((3, 8, 8), 0.5, generator=torch.Generator().manual_seed(4))
    assert torch.equal(m1, m2) and int((~m1[0]).sum()) == 32 and torch.equal(m1[0], m1[2])  # whole pixels missing


def test_operator_shape_errors():
    with pytest.raises(DataError, match="shape"):
        Colorize().observed_shape((1, 8, 8))
    with pytest.raises(DataError, match="divisible"):
        SuperResolve(2).observed_shape((1, 5, 8))
    with pytest.raises(DataError, match="factor"):
        SuperResolve(1)
    with pytest.raises(DataError, match="mask"):
        Inpaint(box_mask(SHAPE, (0, 0, 2, 2))).observed_shape((3, 8, 8))
    with pytest.raises(DataError, match="box"):
        box_mask(SHAPE, (3, 3, 2, 2))
    with pytest.raises(DataError):
        Inpaint(torch.ones(SHAPE))  # not boolean


# ---------------------------------------------------------------------------------------------- exact denoisers
class ZeroNet(nn.Module):
    """EDM with sigma_data = 1: D = c_skip x = x / (1 + sigma^2), the exact denoiser of N(0, I)."""

    def forward(self, x, t, y=None):
        return torch.zeros_like(x)


def standard_normal_score(x, sigma, alpha):
    """The score of N(0, I) after x -> alpha x + sigma n: -x / (alpha^2 + sigma^2)."""
    return -x / (alpha**2 + sigma**2)[:, None]


class ExactVelocity(nn.Module):
    """The CondOT velocity (sigma_min = 0) of N(0, I): (2t - 1) x / (t^2 + (1 - t)^2)."""

    def forward(self, x, t, y=None):
        t = t.expand(len(x))[:, None]
        return (2 * t - 1) / (t**2 + (1 - t) ** 2) * x


def oracle(name: str, mean: torch.Tensor, std: torch.Tensor):
    m = genlab.create(name, SHAPE)
    net = {"edm": ZeroNet(), "flow_matching": ExactVelocity()}.get(name) or ExactEps(m.sde, standard_normal_score)
    m.set_backbone(net)
    m.normalizer.mean.copy_(mean)
    m.normalizer.std.copy_(std)
    m.fitted = True  # an exact denoiser set by hand, not an unfitted network
    return m


def posterior(A, mean, var, y):
    """Mean and covariance of N(mean, diag(var)) given A x = y (float64)."""
    V = torch.diag(var.double())
    K = V @ A.T @ torch.linalg.inv(A @ V @ A.T)
    return mean.double() + (y.double() - A @ mean.double()) @ K.T, V - K @ A @ V


def prior(isotropic: bool):
    g = torch.Generator().manual_seed(7)
    mean = 2 * torch.randn(D, generator=g)
    std = torch.full((D,), 1.5) if isotropic else 0.5 + 1.5 * torch.rand(D, generator=g)
    return mean, std


# RePaint's Euler steps shrink the spread at few levels (free variance 0.80 of the truth at 24 levels, 0.92 at 64)
CASES = [("edm", {"sampler": "heun", "steps": 30}), ("vp_sde", {"sampler": "euler_maruyama", "steps": 200}),
         ("flow_matching", {"steps": 64, "jumps": 2}),
         ("flow_matching", {"algorithm": "replacement", "sampler": "heun", "steps": 30}),
         ("vp_sde", {"algorithm": "repaint", "steps": 64, "jumps": 2})]


@pytest.mark.parametrize("isotropic", [True, False], ids=["isotropic", "per_pixel_std"])
@pytest.mark.parametrize("name,opts", CASES, ids=["edm", "vp_sde", "flow_repaint", "flow_replacement", "vp_repaint"])
@pytest.mark.parametrize("op", operators(), ids=lambda o: o.name)
def test_solve_draws_the_exact_gaussian_posterior(op, name, opts, isotropic):
    """3000 draws for one y: SE(mean) <= std / 55, SE(var) ~ 2.6 %; tolerances 5 SE on the mean, 15 % on the
    covariance (max over all entries). With per-pixel std the operator is carried into standardised units."""
    mean, std = prior(isotropic)
    m = oracle(name, mean, std)
    A = dense(op)
    x_true = mean + std * torch.randn(1, D, generator=torch.Generator().manual_seed(3))
    y = op.observe(x_true.reshape(1, *SHAPE))
    n = 3000
    x = solve(m, y.expand(n, *y.shape[1:]), op, seed=0, **opts).reshape(n, D).double()
    mu, cov = posterior(A, mean, std**2, y.reshape(1, -1))
    se = cov.diagonal().clamp_min(1e-12).sqrt() / math.sqrt(n)
    assert ((x.mean(0) - mu[0]).abs() <= 5 * se + 1e-3).all(), float(((x.mean(0) - mu[0]).abs() / se).max())
    assert (torch.cov(x.T) - cov).abs().max() <= 0.15 * float(std.max()) ** 2
    torch.testing.assert_close(x @ A.T, y.reshape(1, -1).double().expand(n, -1), atol=1e-3, rtol=1e-4)  # A x = y


def test_posterior_mean_and_seeds():
    """n_samples > 1 averages draws (closer to the posterior mean); same seed same result; global RNG untouched."""
    mean, std = prior(False)
    m, op = oracle("edm", mean, std), Colorize()
    x0 = mean + std * torch.randn(20, D, generator=torch.Generator().manual_seed(5))
    y = op.observe(x0.reshape(20, *SHAPE))
    mu, _ = posterior(dense(op), mean, std**2, y.reshape(20, -1))
    torch.manual_seed(123)
    state = torch.get_rng_state()
    one = solve(m, y, op, seed=1, steps=20).reshape(20, -1)
    avg = solve(m, y, op, seed=1, steps=20, n_samples=64).reshape(20, -1)
    assert torch.equal(torch.get_rng_state(), state)
    assert torch.equal(solve(m, y, op, seed=1, steps=20).reshape(20, -1), one)
    assert not torch.equal(solve(m, y, op, seed=2, steps=20).reshape(20, -1), one)
    err_one, err_avg = (one - mu).pow(2).mean().sqrt(), (avg - mu).pow(2).mean().sqrt()
    assert err_avg < 0.25 * err_one, (err_avg, err_one)


class Rotation:
    """Orthonormal but overlapping rows on pairs of entries: ((1, 1), (1, -1)) / sqrt(2); or, scaled, not orthonormal."""

    name = "rotation"

    def __init__(self, scale=1.0):
        self.scale = scale

    def observed_shape(self, shape):
        return (math.prod(shape),)

    def observe(self, x):
        v = x.reshape(len(x), -1, 2)
        return self.scale * torch.stack([v[..., 0] + v[..., 1], v[..., 0] - v[..., 1]], -1).reshape(len(x), -1) / 2**0.5

    def lift(self, y):
        return self.observe(y.reshape(len(y), *SHAPE)).reshape(len(y), *SHAPE)


def test_bad_input_gives_one_line_errors():
    mean, std = prior(False)
    m = oracle("edm", mean, std)
    y = torch.zeros(2, 1, 4, 4)
    errors = []
    gmm = genlab.create("gmm", SHAPE, n_components=1).fit(torch.randn(50, *SHAPE, generator=torch.Generator().manual_seed(0)))
    for call, kind, match in [
        (lambda: solve(gmm, y, Colorize()), ConfigError, "edm"),
        (lambda: solve(m, y, "colorize"), ConfigError, "operator"),
        (lambda: solve(m, torch.zeros(2, 3, 4, 4), Colorize()), DataError, "shape"),
        (lambda: solve(m, y, Colorize(), n_samples=0), ConfigError, "n_samples"),
        (lambda: solve(m, y, Colorize(), algorithm="ddrm"), ConfigError, "algorithm"),
        (lambda: solve(m, y, Colorize(), algorithm="repaint", sampler="heun"), ConfigError, "sampler"),
        (lambda: solve(m, y, Colorize(), sampler="ode"), ConfigError, "adaptive"),
        (lambda: solve(m, torch.zeros(2, D), Rotation(2.0)), ConfigError, "orthonormal"),
        (lambda: solve(m, torch.zeros(2, D), Rotation()), ConfigError, "overlapping"),
        (lambda: solve(genlab.create("edm", SHAPE), y, Colorize()), ConfigError, "not fitted"),
    ]:
        with pytest.raises(kind, match=match) as err:
            call()
        errors.append(str(err.value))
    assert all("\n" not in e for e in errors)


def test_overlapping_rows_work_with_a_scalar_standardisation():
    mean, std = prior(True)
    m, op = oracle("edm", mean, std), Rotation()
    x0 = mean + std * torch.randn(3, D, generator=torch.Generator().manual_seed(2))
    y = op.observe(x0.reshape(3, *SHAPE))
    x = solve(m, y, op, seed=0, steps=10)  # a full-rank operator: the observation fixes x
    torch.testing.assert_close(x.reshape(3, -1), x0, atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("algorithm", ["replacement", "repaint"])
def test_solve_draws_where_the_model_computes(monkeypatch, algorithm):
    """The solver's generator targets the model's device (a CPU-only generator would fail for a model on CUDA)."""
    import importlib

    from genlab.rng import target_of

    solve_module = importlib.import_module("genlab.inverse.solve")  # the module (the package's `solve` is the function)

    targets = []
    for name in ("replacement_sample", "repaint_sample"):
        inner = getattr(solve_module, name)
        monkeypatch.setattr(solve_module, name,
                            lambda *a, _inner=inner, **kw: targets.append(target_of(kw["generator"])) or _inner(*a, **kw))
    mean, std = prior(False)
    m = oracle("flow_matching" if algorithm == "repaint" else "edm", mean, std)
    solve(m, torch.zeros(2, 1, 4, 4), Colorize(), seed=0, steps=4, algorithm=algorithm)
    assert targets == [m.device]


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_solve_on_cuda_matches_the_cpu():
    mean, std = prior(False)
    m, op = oracle("edm", mean, std), Colorize()
    y = op.observe((mean + std * torch.randn(3, D, generator=torch.Generator().manual_seed(4))).reshape(3, *SHAPE))
    cpu = solve(m, y, op, seed=0, steps=10)
    gpu = solve(m.to("cuda"), y, op, seed=0, steps=10)
    assert gpu.device.type == "cpu"
    torch.testing.assert_close(gpu, cpu, atol=1e-4, rtol=1e-4)
