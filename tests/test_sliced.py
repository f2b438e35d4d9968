"""Sliced score matching (Song, Garg, Shi & Ermon 2019): known answers on a Gaussian, and the ssm objective of
ncsn and ebm."""

from __future__ import annotations

import pytest
import torch

import genlab
from genlab.diffusion import dsm_loss, ladder_loss, ncsn_loss, ncsn_ssm_loss, ssm_loss
from genlab.errors import ConfigError

DT = torch.float64


def _gen(seed=0):
    return torch.Generator().manual_seed(seed)


@pytest.mark.parametrize("vr", [True, False])
def test_ssm_of_a_linear_score_on_standard_gaussian_data(vr):
    """For p = N(0, I_D) and s(x) = -a x: tr(grad s) + ||s||^2 / 2 has expectation -a D + a^2 D / 2, minimised at the
    true score a = 1 (Hyvarinen 2005; SSM is unbiased for it, Eq. 8, and SSM-VR too, Eq. 9)."""
    d, n = 3, 20000
    x = torch.randn(n, d, generator=_gen(1), dtype=DT)
    means = {}
    for a in (0.5, 1.0, 1.5):
        loss = ssm_loss(lambda z, a=a: -a * z, x, _gen(2), variance_reduction=vr)
        assert loss.shape == (n,)
        se = loss.std().item() / n**0.5
        assert abs(loss.mean().item() - (-a * d + 0.5 * a * a * d)) < 4 * se + 1e-9
        means[a] = loss.mean().item()
    assert means[1.0] < means[0.5] and means[1.0] < means[1.5]


def test_variance_reduction_lowers_the_variance_and_projections_average():
    x = torch.randn(4000, 4, generator=_gen(3), dtype=DT)
    score = lambda z: -z + 0.3 * torch.tanh(z)  # noqa: E731
    plain = ssm_loss(score, x, _gen(4), variance_reduction=False)
    vr = ssm_loss(score, x, _gen(4))
    many = ssm_loss(score, x, _gen(4), n_projections=8)
    assert vr.var() < plain.var()
    assert many.var() < vr.var()
    rad = ssm_loss(score, x, _gen(4), projection="rademacher")
    assert abs(rad.mean() - vr.mean()) < 4 * (vr.std() / 4000**0.5)


def test_ncsn_ssm_equals_dsm_up_to_a_model_free_constant():
    """Both are (2 sigma^2 / D) (1/2 E||s - grad log q_sigma||^2 + C_sigma): the difference between two score
    functions' losses is the same under either objective (at one noise level, large n)."""
    n, d = 40000, 2
    x0 = torch.randn(n, d, generator=_gen(5), dtype=DT) * 0.7 + 1.0
    sig = torch.tensor([0.5], dtype=DT)
    levels = torch.zeros(n, dtype=torch.int64)
    true = lambda z, s: -(z - 1.0) / (0.49 + s[:, None] ** 2)  # noqa: E731  the perturbed data's exact score
    off = lambda z, s: true(z, s) + 0.4  # noqa: E731
    dd = ncsn_loss(off, sig, x0, _gen(6), levels=levels).mean() - ncsn_loss(true, sig, x0, _gen(6), levels=levels).mean()
    ds = (ncsn_ssm_loss(off, sig, x0, _gen(6), levels=levels).mean()
          - ncsn_ssm_loss(true, sig, x0, _gen(6), levels=levels).mean())
    expected = 2 * 0.25 / d * 0.5 * d * 0.16  # (2 sigma^2 / D) * 1/2 * ||0.4||^2 summed over D
    assert abs(dd.item() - expected) < 0.01
    assert abs(ds.item() - expected) < 0.01


def test_ladder_loss_names_and_bad_input():
    assert ladder_loss("dsm") is ncsn_loss and ladder_loss("ssm") is ncsn_ssm_loss
    with pytest.raises(ConfigError, match="objective"):
        ladder_loss("adversarial")
    with pytest.raises(ConfigError, match="n_projections"):
        ssm_loss(lambda z: -z, torch.zeros(2, 2), _gen(0), n_projections=0)
    with pytest.raises(ConfigError, match="objective"):
        genlab.create("ncsn", (2,), objective="nce")
    with pytest.raises(ConfigError, match="objective"):
        genlab.create("ebm", (2,), objective="cd")
    assert dsm_loss is not None


@pytest.mark.parametrize("name", ["ncsn", "ebm"])
def test_models_train_with_sliced_score_matching(name):
    """A few hundred SSM steps on N((2, -1), diag(1, 0.25)) bring the score at the smallest level close to the
    truth's near the mean, and the loss falls."""
    g = _gen(7)
    x = torch.randn(2000, 2, generator=g) * torch.tensor([1.0, 0.5]) + torch.tensor([2.0, -1.0])
    cfg = {"hidden": 32, "depth": 2, "objective": "ssm"}
    m = genlab.create(name, (2,), **cfg).fit(x, steps=300, batch_size=256, seed=0, progress=False)
    losses = [h["loss"] for h in m.history]
    assert sum(losses[-30:]) / 30 < sum(losses[:30]) / 30
    s = m.sample(500, seed=1)
    assert (s.mean(0) - torch.tensor([2.0, -1.0])).abs().max() < 0.35
