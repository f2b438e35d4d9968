"""Known-answer tests of the zuko flows: realnvp, maf, nsf."""

from __future__ import annotations

import math

import pytest
import torch

import genlab
import genlab.families.flows  # noqa: F401  (registers realnvp, maf, nsf)
from genlab.errors import ConfigError

FLOWS = ["realnvp", "maf", "nsf"]
SMALL = {"transforms": 2, "hidden_features": (32, 32)}


def eight_gaussians(n_train=2000):
    ds = genlab.datasets.load("eight_gaussians", n_train=n_train)
    return ds.train, ds.test


def grid_mass(model, lim=6.0, n=400):
    """Riemann sum of exp(log_prob) over [-lim, lim]^2."""
    t = torch.linspace(-lim, lim, n)
    xx, yy = torch.meshgrid(t, t, indexing="ij")
    pts = torch.stack([xx.reshape(-1), yy.reshape(-1)], 1)
    h = (t[1] - t[0]).item()
    return (model.log_prob(pts).exp().sum() * h * h).item()


@pytest.mark.parametrize("name", FLOWS)
def test_integrates_to_one_after_short_fit(name):
    xtr, _ = eight_gaussians()
    torch.manual_seed(0)
    m = genlab.create(name, (2,), **SMALL).fit(xtr, steps=100, progress=False)
    assert m.likelihood == "exact"
    assert grid_mass(m) == pytest.approx(1.0, abs=0.02)


@pytest.mark.parametrize("name", FLOWS)
def test_log_prob_is_change_of_variables_with_autograd_jacobian(name):
    """log p(z) = log N(f(z); 0, I) + log |det J_f(z)|, with J_f from torch.autograd, in D = 3."""
    torch.manual_seed(1)
    x = torch.randn(300, 3) @ torch.tensor([[1.0, 0.5, 0.0], [0.0, 1.0, -0.7], [0.0, 0.0, 0.5]])
    m = genlab.create(name, (3,), normalize=False, **SMALL).fit(x, steps=20, progress=False).double()
    f = m.dist().transform
    base = torch.distributions.Normal(torch.zeros(3, dtype=torch.float64), 1.0)
    for z in torch.randn(4, 3, dtype=torch.float64):
        J = torch.autograd.functional.jacobian(lambda v: f(v), z)
        expected = base.log_prob(f(z)).sum() + torch.linalg.slogdet(J).logabsdet
        got = m._log_prob(z[None], None)[0]
        assert got.item() == pytest.approx(expected.item(), abs=1e-6)


@pytest.mark.parametrize("name", FLOWS)
def test_short_fit_reduces_held_out_nll(name):
    xtr, xte = eight_gaussians()
    torch.manual_seed(0)
    m = genlab.create(name, (2,), **SMALL)
    m.normalizer.fit(xtr)
    m.fitted = True  # evaluate the initial weights (an unfitted model refuses log_prob)
    before = -m.log_prob(xte).mean().item()
    m.fit(xtr, steps=400, progress=False)
    after = -m.log_prob(xte).mean().item()
    assert after < before - 0.2


@pytest.mark.parametrize("name", FLOWS)
def test_sampling_shapes_and_seeds(name):
    xtr, _ = eight_gaussians(500)
    a = genlab.create(name, (2,), **SMALL).fit(xtr, steps=10, seed=3, progress=False)
    b = genlab.create(name, (2,), **SMALL).fit(xtr, steps=10, seed=3, progress=False)
    assert torch.equal(a.log_prob(xtr[:50]), b.log_prob(xtr[:50]))  # fit(seed) also fixes the initial weights
    s = a.sample(7, seed=1)
    assert s.shape == (7, 2) and torch.isfinite(s).all()
    assert torch.equal(s, a.sample(7, seed=1))
    assert not torch.equal(s, a.sample(7, seed=2))


@pytest.mark.parametrize("name", FLOWS)
def test_one_dimensional_data(name):
    x = 3.0 + 2.0 * torch.randn(500, 1, generator=torch.Generator().manual_seed(0))
    m = genlab.create(name, (1,), **SMALL).fit(x, steps=50, progress=False)
    assert m.sample(5, seed=0).shape == (5, 1)
    t = torch.linspace(-12, 18, 3001)[:, None]
    mass = (m.log_prob(t).exp().sum() * (t[1] - t[0])).item()
    assert mass == pytest.approx(1.0, abs=0.01)


def test_images_are_flattened():
    x = torch.rand(64, 1, 2, 3)
    m = genlab.create("nsf", (1, 2, 3), **SMALL).fit(x, steps=5, progress=False)
    assert m.sample(3, seed=0).shape == (3, 1, 2, 3)
    assert m.log_prob(x[:4]).shape == (4,)


def test_nsf_coupling_variant_and_bad_configs():
    x = torch.randn(200, 4)
    m = genlab.create("nsf", (4,), passes=2, **SMALL).fit(x, steps=5, progress=False)
    assert m.sample(3, seed=0).shape == (3, 4)
    for bad in ({"bins": 1}, {"transforms": 0}, {"dropout": 1.0}, {"activation": "nope"}, {"passes": -1}):
        with pytest.raises(ConfigError):
            genlab.create("nsf", (4,), **bad)
    with pytest.raises(ConfigError):
        m.sample(2, temperature=0.5)
    with pytest.raises(ConfigError):
        m.log_prob(x[:2], exact=True)
    with pytest.raises(ConfigError):
        m.impute(x[:2], torch.ones(2, 4, dtype=torch.bool), fill="median")
    with pytest.raises(ConfigError):
        m.impute(x[:2], torch.ones(2, 4, dtype=torch.bool), nonsense=1)


@pytest.mark.parametrize("name", FLOWS)
def test_save_load_roundtrip(name, tmp_path):
    x = torch.randn(300, 3)
    m = genlab.create(name, (3,), randperm=True, **SMALL).fit(x, steps=5, progress=False)
    m.save(tmp_path / "run")
    m2 = genlab.load(tmp_path / "run")
    assert torch.allclose(m.log_prob(x[:20]), m2.log_prob(x[:20]))
    assert torch.allclose(m.sample(4, seed=0), m2.sample(4, seed=0))


def test_impute_conditional_mean_of_correlated_gaussian(gauss2d):
    """x2 | x1 ~ N(-2 + 0.8 (x1 - 1), 0.36): MALA's mean fill lands near the true conditional mean."""
    x, _, _ = gauss2d
    m = genlab.create("maf", (2,), **SMALL, dropout=0.0).fit(x, steps=300, progress=False)
    x1 = torch.tensor([0.0, 1.0, 2.0])
    query = torch.stack([x1, torch.full_like(x1, float("nan"))], 1).repeat(20, 1)
    filled = m.impute(query, seed=0, fill="mean")
    assert torch.equal(filled[:, 0], query[:, 0])
    est = filled[:, 1].view(20, 3).mean(0)
    assert torch.allclose(est, -2 + 0.8 * (x1 - 1), atol=0.15)


def test_conditional_flow_through_zuko_context(tmp_path):
    """Two labelled blobs, 80/20: p(x | y) puts each class at its own blob; p(x) mixes them with the class
    frequencies p(y) of the training labels (not a uniform p(y)), in log_prob and sample; checkpoints keep it."""
    import genlab

    g = torch.Generator().manual_seed(0)
    y = (torch.rand(1000, generator=g) < 0.2).long()
    centers = torch.tensor([[-3.0, 0.0], [3.0, 0.0]])
    x = centers[y] + 0.5 * torch.randn(1000, 2, generator=g)
    m = genlab.create("maf", (2,), dropout=0.0).fit(x, y, steps=300, seed=0, progress=False)
    for k in (0, 1):
        s = m.sample(200, y=k, seed=1)
        assert ((s[:, 0] > 0) == bool(k)).float().mean() > 0.95
    pts = centers.clone()
    lp_cond = m.log_prob(pts, y=torch.tensor([0, 0]))
    assert lp_cond[0] > lp_cond[1] + 5  # blob 0 is likely under class 0, blob 1 is not
    p_y = torch.bincount(y, minlength=2).float() / len(y)
    lp_y = torch.stack([m.log_prob(pts, y=torch.full((2,), k)) for k in (0, 1)])
    expected = torch.logsumexp(lp_y + torch.log(p_y)[:, None], 0)
    lp_marg = m.log_prob(pts)
    torch.testing.assert_close(lp_marg, expected, atol=1e-4, rtol=0)
    assert (lp_marg - torch.logsumexp(lp_y - math.log(2), 0)).abs().max() > 0.3  # not the uniform mixture
    s = m.sample(2000, seed=2)  # labels drawn from p(y): about 20% in the right-hand blob
    assert abs(float((s[:, 0] > 0).float().mean()) - float(p_y[1])) < 0.04
    m.save(tmp_path / "run")
    torch.testing.assert_close(genlab.load(tmp_path / "run").log_prob(pts), lp_marg)
