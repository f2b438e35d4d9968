"""vae: bounds against the closed-form density of a linear-Gaussian VAE, training, sampling, imputation."""

from __future__ import annotations

import math

import pytest
import torch

import genlab
import genlab.families.vae  # noqa: F401  (registers "vae")
from genlab.errors import ConfigError

D, L, S2 = 4, 2, 0.5  # data dim, latent dim, decoder noise variance


@pytest.fixture(autouse=True)
def _one_thread():
    """Small networks: one intra-op thread is as fast, and far faster on a busy machine."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def linear_gaussian_vae(encoder_shift: float = 0.0):
    """Decoder z = W u + b + sigma eps, so p(z) = N(b, W W^T + sigma^2 I) (Tipping & Bishop 1999).

    W has orthogonal columns, so the exact posterior p(u | z) = N(M^-1 W^T (z - b), sigma^2 M^-1),
    M = W^T W + sigma^2 I, has a diagonal covariance and the linear encoder can represent it exactly;
    ``encoder_shift`` moves the encoder's mean and log-variance away from it.
    """
    g = torch.Generator().manual_seed(0)
    Q, _ = torch.linalg.qr(torch.randn(D, L, generator=g))
    W, b = Q * torch.tensor([2.0, 1.0]), torch.randn(D, generator=g)
    m = genlab.create("vae", (D,), latent_dim=L, depth=0, decoder_variance="global")
    M_inv = torch.linalg.inv(W.T @ W + S2 * torch.eye(L))
    A = M_inv @ W.T
    with torch.no_grad():
        m.decoder[0].weight.copy_(W)
        m.decoder[0].bias.copy_(b)
        m.log_var.fill_(math.log(S2))
        enc = m.encoder[0]
        enc.weight.zero_()
        enc.weight[:L] = A
        enc.bias[:L] = -A @ b + encoder_shift
        enc.bias[L:] = torch.log(S2 * torch.diagonal(M_inv)) - encoder_shift
    m.fitted = True  # weights set by hand: a known model, not an unfitted one
    return m, torch.distributions.MultivariateNormal(b, W @ W.T + S2 * torch.eye(D))


def test_exact_posterior_gives_the_exact_log_density():
    m, p = linear_gaussian_vae()
    x = p.sample((300,))
    truth = p.log_prob(x)
    # every importance weight equals p(z) when q is the exact posterior: IWAE_K = log p for any K
    torch.testing.assert_close(m.log_prob(x, k=5, seed=0), truth, atol=1e-4, rtol=1e-5)
    elbo = m.log_prob(x, bound="elbo", k=200, seed=0)  # analytic KL + MC reconstruction term
    assert (elbo - truth).mean().abs() < 0.02


def test_bounds_are_ordered_below_the_log_density():
    m, p = linear_gaussian_vae(encoder_shift=0.5)
    x = p.sample((400,))
    truth = p.log_prob(x).mean()
    elbo = m.log_prob(x, bound="elbo", k=100, seed=1).mean()
    iw = {k: m.log_prob(x, k=k, seed=1) for k in (1, 10, 100, 1000)}
    se = iw[1].std() / math.sqrt(x.shape[0])
    assert (elbo - iw[1].mean()).abs() < 3 * se  # IWAE_1 is an (unbiased) ELBO estimate
    means = [iw[k].mean() for k in (1, 10, 100, 1000)]
    assert elbo < means[1] < means[2] < means[3] < truth + 0.01
    assert truth - means[3] < 0.5 * (truth - elbo)  # approaching log p


def test_short_fit_improves_the_bound(gauss2d):
    x, _, _ = gauss2d
    m = genlab.create("vae", (2,), hidden=64)
    m.normalizer.fit(x)
    m.fitted = True  # evaluate the initial weights (an unfitted model refuses log_prob)
    before = m.log_prob(x[:500], k=20, seed=0).mean()
    m.fit(x, steps=300, lr=3e-3, progress=False)
    after = m.log_prob(x[:500], k=20, seed=0).mean()
    exact = torch.distributions.MultivariateNormal(*gauss2d[1:]).log_prob(x[:500]).mean()
    assert after > before + 0.2
    assert after < exact + 0.05  # a bound (up to the sampling noise of the estimate)


def test_sample_shapes_and_options():
    m = genlab.create("vae", (3, 2, 2), hidden=16, kl_warmup=10, train_k=2)
    x = torch.randn(64, 3, 2, 2)
    m.fit(x, steps=3, progress=False)
    assert m.sample(5, seed=0).shape == (5, 3, 2, 2)
    torch.testing.assert_close(m.sample(5, seed=0), m.sample(5, seed=0))
    assert not torch.equal(m.sample(5, seed=0), m.sample(5, seed=0, noise=False))
    assert m.log_prob(x[:7], k=3).shape == (7,)
    for bad in ({"bound": "nope"}, {"k": 0}, {"colour": 1}):
        with pytest.raises(ConfigError):
            m.log_prob(x[:2], **bad)
    with pytest.raises(ConfigError):
        genlab.create("vae", (2,), decoder_variance="full")


def test_sampling_follows_the_generative_model():
    m, p = linear_gaussian_vae()
    s = m.sample(20000, seed=0)
    torch.testing.assert_close(s.mean(0), p.mean, atol=0.05, rtol=0)
    torch.testing.assert_close(torch.cov(s.T), p.covariance_matrix, atol=0.1, rtol=0.05)


@pytest.mark.parametrize("shift", [0.0, 0.3])
def test_impute_recovers_the_conditional_mean(shift):
    m, p = linear_gaussian_vae(encoder_shift=shift)
    C, mu = p.covariance_matrix, p.mean
    x = p.sample((300,))
    mask = torch.ones_like(x, dtype=torch.bool)
    mask[:, 0] = False
    o = torch.arange(1, D)
    gain = C[0, o] @ torch.linalg.inv(C[o][:, o])
    cond_mean = mu[0] + (x[:, o] - mu[o]) @ gain
    cond_sd = torch.sqrt(C[0, 0] - gain @ C[o, 0])
    out = m.impute(x, mask, seed=0, steps=1000)
    assert torch.equal(out[:, 1:], x[:, 1:])
    err = out[:, 0] - cond_mean
    assert err.abs().mean() < 0.2 * cond_sd  # vs ~0.8 cond_sd for a draw from the conditional
    assert err.mean().abs() < 0.05 * cond_sd  # Metropolis-within-Gibbs is unbiased even with a poor encoder
    draw = m.impute(x, mask, seed=0, steps=50, fill="sample", sampler="pseudo_gibbs")
    assert torch.isfinite(draw).all() and not torch.equal(draw, out)
