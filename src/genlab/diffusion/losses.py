"""Denoising score matching (Vincent 2011) as used by NCSN and score SDEs. Per-sample losses, shape (N,).

One core serves both losses: with x_t = alpha x_0 + sigma z the DSM target is -z / sigma, and

    loss = w * || s(x_t, c) + z / sigma ||^2 = (w / sigma^2) * || sigma s(x_t, c) + z ||^2,

computed in the second form (no division by a tiny sigma). ``w = sigma^2`` (the default, Song & Ermon 2019
Eq. 6 / Song et al. 2021 Eq. 7 with lambda(t) = sigma(t)^2) or ``w = g(t)^2`` (likelihood weighting; Song,
Durkan, Murray & Ermon 2021, "Maximum Likelihood Training of Score-Based Diffusion Models", Thm. 1).
No factor 1/2, as in score_sde. The caller (the training loop) reduces over the batch.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from genlab.diffusion.ladder import NoiseLadder
from genlab.diffusion.sde import SDE, _bcast
from genlab.rng import rand, randint, randn_like

__all__ = ["dsm_loss", "ncsn_loss"]


def _dsm_core(score_fn: Callable, x0: torch.Tensor, cond: torch.Tensor, alpha: torch.Tensor, sigma: torch.Tensor,
              rel_weight: torch.Tensor | None, generator, reduce_mean: bool) -> torch.Tensor:
    """|| sigma s(alpha x0 + sigma z, cond) + z ||^2 reduced over data dims, times ``rel_weight`` = w / sigma^2."""
    z = randn_like(x0, generator)
    xt = _bcast(alpha, x0) * x0 + _bcast(sigma, x0) * z
    r = _bcast(sigma, x0) * score_fn(xt, cond) + z
    r2 = r.reshape(len(x0), -1).pow(2)
    per = r2.mean(-1) if reduce_mean else r2.sum(-1)
    return per if rel_weight is None else per * rel_weight


def _uniform(n: int, like: torch.Tensor, generator) -> torch.Tensor:
    return rand((n,), generator, dtype=like.dtype, device=like.device)


def dsm_loss(score_fn: Callable, sde: SDE, x0: torch.Tensor, generator: torch.Generator, *,
             eps: float = 1e-5, likelihood_weighting: bool = False, reduce_mean: bool = True,
             t: torch.Tensor | None = None) -> torch.Tensor:
    """Continuous-time DSM loss of Song et al. 2021 (Eq. 7), shape (N,).

    ``score_fn(x, t)`` takes a (N,) tensor of times. t ~ U(eps, T) per sample unless ``t`` is given.
    ``reduce_mean`` averages over data dimensions (True, scale-free in D) instead of summing (False; the sum
    with ``likelihood_weighting=True`` is the score-matching term of the NLL bound).
    """
    n = len(x0)
    if t is None:
        t = eps + (sde.T - eps) * _uniform(n, x0, generator)
    else:
        t = torch.as_tensor(t, dtype=x0.dtype, device=x0.device).expand(n)
    alpha, sigma = sde.marginal_coeffs(t)
    rel = sde.diffusion(t) ** 2 / sigma**2 if likelihood_weighting else None
    return _dsm_core(score_fn, x0, t, alpha, sigma, rel, generator, reduce_mean)


def ncsn_loss(score_fn: Callable, sigmas, x0: torch.Tensor, generator: torch.Generator, *,
              reduce_mean: bool = True, levels: torch.Tensor | None = None) -> torch.Tensor:
    """NCSN loss of Song & Ermon 2019 (Eq. 5-6) with lambda(sigma) = sigma^2, shape (N,).

    ``sigmas`` is a :class:`NoiseLadder` or a 1-D tensor of levels; each sample gets a uniformly random level
    (or ``levels``, a (N,) index tensor). ``score_fn(x, sigma)`` receives the (N,) tensor of sigma *values*.
    """
    s = sigmas.sigmas if isinstance(sigmas, NoiseLadder) else torch.as_tensor(sigmas).flatten()
    s = s.to(device=x0.device, dtype=x0.dtype)
    n = len(x0)
    if levels is None:
        levels = randint(0, len(s), (n,), generator, device=x0.device)
    sigma = s[levels]
    return _dsm_core(score_fn, x0, sigma, torch.ones_like(sigma), sigma, None, generator, reduce_mean)
