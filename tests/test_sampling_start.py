"""The sampling start (genlab.diffusion.start): N(m, C + sigma_0^2 I) from the training data's covariance, its inverse,
the known answer on digits with the exact Gaussian denoiser, old checkpoints, and classifier passes in last_nfe."""

from __future__ import annotations

import json
import math

import pytest
import torch

import genlab
from genlab.diffusion.start import SamplingStart, covariance_eigen


def _correlated(d: int, n: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    a = torch.randn(d, d, generator=g, dtype=torch.float64) / math.sqrt(d)
    cov = a @ a.T * 4 + 0.1 * torch.eye(d, dtype=torch.float64)  # a few strong directions
    return torch.randn(n, d, generator=g, dtype=torch.float64) @ torch.linalg.cholesky(cov).T, cov


def test_the_start_has_the_noised_covariance_and_its_inverse_gives_back_the_noise():
    z, _ = _correlated(12, 20000)
    start = SamplingStart(12).fit(z)
    emp = torch.cov(z.T)
    eps = torch.randn(40000, 12, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    x = start.to_start(eps, 5.0)
    want = emp + 25 * torch.eye(12, dtype=torch.float64)
    assert (torch.cov(x.T) - want).abs().max() / want.diagonal().max() < 0.03
    assert torch.allclose(start.to_noise(x, 5.0), eps, atol=1e-5)


def test_low_rank_form_keeps_the_top_directions_and_the_total_variance():
    """Above ``full_max`` dimensions the top directions come from subspace iteration: the same as the exact ones
    (on the same rows: 2000, fewer than either path subsamples to)."""
    g = torch.Generator().manual_seed(4)
    basis = torch.linalg.qr(torch.randn(40, 40, generator=g, dtype=torch.float64))[0]
    z = torch.randn(2000, 40, generator=g, dtype=torch.float64) * (10 * 0.85 ** torch.arange(40.0)).sqrt() @ basis.T
    exact = covariance_eigen(z, 6)
    iterated = covariance_eigen(z, 6, full_max=10)
    assert torch.allclose(iterated[2][:2], exact[2][:2], rtol=1e-3)
    assert float(iterated[2].sum()) == pytest.approx(float(exact[2].sum()), rel=0.01)  # the variance it captures
    assert float((iterated[1].T @ exact[1][:, :2]).norm(dim=0).min()) > 0.99
    total = float(torch.cov(z.T).trace())
    assert float(exact[2].sum() + 34 * exact[3]) == pytest.approx(total, rel=1e-9)
    start = SamplingStart(40, rank=6).fit(z)
    eps = torch.randn(7, 40, generator=torch.Generator().manual_seed(2))
    assert torch.allclose(start.to_noise(start.to_start(eps, 3.0), 3.0), eps, atol=1e-5)


def test_an_unfitted_start_is_the_isotropic_one_exactly():
    eps = torch.randn(50, 3, generator=torch.Generator().manual_seed(0))
    sigma = torch.tensor(5.0)
    iso = float(torch.sqrt(sigma.double() ** 2 + 1)) * eps  # the start of every checkpoint before format 5
    assert torch.equal(SamplingStart(3).to_start(eps, sigma), iso)
    assert torch.equal(SamplingStart(3, rank=0).to_start(eps, sigma), iso)


def _exact_gaussian_digits(start: str):
    """edm on standardised digits with its network replaced by the exact Gaussian denoiser of the training data,
    D(x; s) = mu + C (C + s^2 I)^-1 (x - mu) (the model's start statistics come from a one-step fit)."""
    ds = genlab.datasets.load("digits")
    m = genlab.create("edm", ds.shape, sample_start=start, hidden=16, depth=1, emb_dim=8)
    m.fit(ds.train, steps=1, progress=False)
    z = m.normalizer(ds.train.reshape(len(ds.train), -1)).double()
    mu, cov = z.mean(0), torch.cov(z.T)
    eye = torch.eye(64, dtype=torch.float64)

    def exact(x, sigma, y):
        s2 = float(sigma.reshape(-1)[0]) ** 2
        gain = cov @ torch.linalg.inv(cov + s2 * eye)
        return (mu + (x.double() - mu) @ gain.T).to(x.dtype)

    m._denoise = exact
    return m, mu, cov


@pytest.mark.parametrize("start, lo, hi", [("covariance", 0.95, 1.05), ("isotropic", 0.70, 0.88)])
def test_digits_exact_denoiser_top_component_variance(start, lo, hi):
    """Known answer: from the exact marginal N(mu, C + 25 I) at sigma_0 = 5, 16 dpmpp_2m steps of the exact
    denoiser give samples whose variance along the top principal component is the data's (within 5 %); the
    isotropic N(0, 26 I) of format < 5 gives about 0.8 of it (the test of the new start fails on the old one)."""
    m, mu, cov = _exact_gaussian_digits(start)
    evals, evecs = torch.linalg.eigh(cov)
    z = m.normalizer(m.sample(40000, seed=0).reshape(40000, -1)).double()  # (1, 8, 8) images, flattened
    assert m.last_nfe == 16
    ratio = float(((z - mu) @ evecs[:, -1]).var()) / float(evals[-1])
    assert lo < ratio < hi, ratio


def test_a_checkpoint_before_format_5_keeps_the_isotropic_start(tmp_path):
    """An older file has no "sample_start" and no start buffers: it loads with the isotropic start and samples as
    it did; a current file keeps its fitted covariance start."""
    from test_durable import _edit_config

    x = torch.randn(200, 3, generator=torch.Generator().manual_seed(0)) @ torch.tensor(
        [[1.0, 0.9, 0.0], [0.0, 0.4, 0.0], [0.0, 0.0, 1.0]])
    kw = {"hidden": 16, "depth": 1, "emb_dim": 8}
    old = genlab.create("edm", (3,), sample_start="isotropic", **kw).fit(x, steps=2, progress=False)
    old.save(tmp_path / "old")
    (tmp_path / "old" / "manifest.json").unlink()
    _edit_config(tmp_path / "old", lambda meta: [meta.update(version=4), meta["config"].pop("sample_start")])
    loaded = genlab.load(tmp_path / "old")
    assert loaded.config.sample_start == "isotropic" and "sampling_start.basis" not in loaded.state_dict()
    assert torch.equal(loaded.sample(20, seed=1), old.sample(20, seed=1))
    new = genlab.create("edm", (3,), **kw).fit(x, steps=2, progress=False)
    assert float(new.sampling_start.var[0]) > 1.5  # the fit stored the data's leading variance
    eps = torch.randn(9, 3, generator=torch.Generator().manual_seed(5))
    assert torch.allclose(new.noise_from_start(new.start_from_noise(eps, 5.0), 5.0), eps, atol=1e-5)
    new.save(tmp_path / "new")
    again = genlab.load(tmp_path / "new")
    assert json.loads((tmp_path / "new" / "config.json").read_text())["config"]["sample_start"] == "covariance"
    assert torch.equal(again.sampling_start.basis, new.sampling_start.basis)
    assert torch.equal(again.sample(20, seed=1), new.sample(20, seed=1))
    assert not torch.equal(new.sample(20, seed=1), loaded.sample(20, seed=1))


class _CountingClassifier:
    """A classifier of no use but its call count (grad log p = 0)."""

    calls = 0

    def grad_log_prob(self, x, sigma, y):
        self.calls += 1
        return torch.zeros_like(x)

    def check(self, model, y):
        pass


@pytest.mark.parametrize("sampler", ["euler", "euler_maruyama"])
def test_classifier_guidance_counts_the_classifier_passes(sampler):
    """``last_nfe`` under classifier guidance counts the network's and the classifier's evaluations."""
    x = torch.randn(200, 2, generator=torch.Generator().manual_seed(0))
    m = genlab.create("edm", (2,), hidden=16, depth=1, emb_dim=8).fit(x, steps=2, progress=False)
    m.sample(10, seed=0, sampler=sampler, steps=5)
    plain = m.last_nfe
    clf = _CountingClassifier()
    m.sample(10, seed=0, y=1, classifier=clf, sampler=sampler, steps=5)
    assert clf.calls == plain and m.last_nfe == 2 * plain
