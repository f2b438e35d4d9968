"""Known-answer tests of MADE with mixture-of-Gaussians conditionals."""

from __future__ import annotations

import pytest
import torch

import genlab
import genlab.families.made  # noqa: F401  (registers made)
from genlab.errors import ConfigError
from genlab.nn.masked import made_masks

SMALL = {"hidden_features": (32, 32), "n_components": 3}


def eight_gaussians(n_train=2000):
    ds = genlab.datasets.load("eight_gaussians", n_train=n_train)
    return ds.train, ds.test


def test_integrates_to_one_after_short_fit():
    xtr, _ = eight_gaussians()
    m = genlab.create("made", (2,), **SMALL).fit(xtr, steps=150, progress=False)
    t = torch.linspace(-6, 6, 400)
    xx, yy = torch.meshgrid(t, t, indexing="ij")
    pts = torch.stack([xx.reshape(-1), yy.reshape(-1)], 1)
    h = (t[1] - t[0]).item()
    assert (m.log_prob(pts).exp().sum() * h * h).item() == pytest.approx(1.0, abs=0.02)


def test_masks_are_autoregressive():
    """The product of the masks (connectivity input j -> output d) is zero unless j < d (Germain et al. Eq. 14)."""
    masks = made_masks(5, (7, 6), 2)
    conn = masks[0].float()
    for mk in masks[1:]:
        conn = mk.float() @ conn
    conn = conn.view(5, 2, 5)
    d, j = torch.meshgrid(torch.arange(5), torch.arange(5), indexing="ij")
    assert (conn[:, 0][j >= d] == 0).all() and (conn[:, 1][j >= d] == 0).all()
    assert (conn[:, 0][j < d] > 0).all()  # and every allowed connection exists


def test_output_for_dim_d_does_not_depend_on_inputs_ge_d():
    m = genlab.create("made", (5,), **SMALL).fit(torch.randn(200, 5), steps=10, progress=False)
    z = torch.randn(5)
    J = torch.autograd.functional.jacobian(lambda v: m.net(v[None])[0], z)  # (D, 3K, D)
    for d in range(5):
        assert (J[d, :, d:] == 0).all()
        if d > 0:
            assert J[d, :, :d].abs().sum() > 0


def test_gaussian_made_is_a_flow_with_autograd_jacobian():
    """With K = 1: log p(z) = log N(u; 0, I) + log |det du/dz|, u = (z - mu(z)) / sigma(z), in D = 3."""
    torch.manual_seed(0)
    x = torch.randn(300, 3) @ torch.tensor([[1.0, 0.5, 0.0], [0.0, 1.0, -0.7], [0.0, 0.0, 0.5]])
    m = genlab.create("made", (3,), normalize=False, hidden_features=(16, 16), n_components=1)
    m = m.fit(x, steps=30, progress=False).double()
    base = torch.distributions.Normal(torch.zeros(3, dtype=torch.float64), 1.0)
    for z in torch.randn(4, 3, dtype=torch.float64):
        J = torch.autograd.functional.jacobian(lambda v: m.to_base(v[None])[0], z)
        expected = base.log_prob(m.to_base(z[None])[0]).sum() + torch.linalg.slogdet(J).logabsdet
        assert m._log_prob(z[None], None)[0].item() == pytest.approx(expected.item(), abs=1e-8)
    with pytest.raises(ConfigError):
        genlab.create("made", (3,), n_components=2).to_base(torch.zeros(1, 3))


def test_short_fit_reduces_held_out_nll():
    xtr, xte = eight_gaussians()
    torch.manual_seed(0)
    m = genlab.create("made", (2,), **SMALL)
    m.normalizer.fit(xtr)
    m.fitted = True  # evaluate the initial weights (an unfitted model refuses log_prob)
    before = -m.log_prob(xte).mean().item()
    m.fit(xtr, steps=200, progress=False)
    assert -m.log_prob(xte).mean().item() < before - 0.3


def test_sampling_shapes_seeds_and_one_dimension():
    xtr, _ = eight_gaussians(500)
    a = genlab.create("made", (2,), **SMALL).fit(xtr, steps=10, seed=4, progress=False)
    b = genlab.create("made", (2,), **SMALL).fit(xtr, steps=10, seed=4, progress=False)
    assert torch.equal(a.log_prob(xtr[:50]), b.log_prob(xtr[:50]))
    s = a.sample(6, seed=1)
    assert s.shape == (6, 2) and torch.equal(s, a.sample(6, seed=1))
    x1 = torch.cat([torch.randn(300, 1) - 2, torch.randn(300, 1) + 2])
    m1 = genlab.create("made", (1,), **SMALL).fit(x1, steps=100, progress=False)
    t = torch.linspace(-12, 12, 2401)[:, None]
    assert (m1.log_prob(t).exp().sum() * (t[1] - t[0])).item() == pytest.approx(1.0, abs=0.01)
    assert m1.sample(4, seed=0).shape == (4, 1)


def test_save_load_roundtrip(tmp_path):
    x = torch.randn(200, 4)
    m = genlab.create("made", (4,), **SMALL).fit(x, steps=5, progress=False)
    m.save(tmp_path / "run")
    m2 = genlab.load(tmp_path / "run")
    assert torch.allclose(m.log_prob(x[:10]), m2.log_prob(x[:10]))


@pytest.mark.parametrize("missing", [1, 0])  # x2 missing: exact ancestral sampling; x1 missing: MALA
def test_impute_conditional_mean_of_correlated_gaussian(gauss2d, missing):
    x, mean, cov = gauss2d
    m = genlab.create("made", (2,), **SMALL, dropout=0.0).fit(x, steps=300, progress=False)
    o = 1 - missing
    xo = mean[o] + torch.tensor([-1.0, 0.0, 1.0])
    query = torch.full((60, 2), float("nan"))
    query[:, o] = xo.repeat(20)
    filled = m.impute(query, seed=0, fill="mean")
    assert torch.equal(filled[:, o], query[:, o])
    est = filled[:, missing].view(20, 3).mean(0)
    truth = mean[missing] + cov[missing, o] / cov[o, o] * (xo - mean[o])
    assert torch.allclose(est, truth, atol=0.15)
    with pytest.raises(ConfigError):
        m.impute(query, fill="median")
    with pytest.raises(ConfigError):
        m.impute(query, draws=0)
