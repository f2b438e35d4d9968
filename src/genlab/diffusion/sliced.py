"""Sliced score matching (Song, Garg, Shi & Ermon 2019, "Sliced Score Matching: A Scalable Approach to Density and
Score Estimation"). Per-sample losses, shape (N,).

Score matching (Hyvarinen 2005) fits s(x) ~ grad log p(x) by minimising E_p[tr(grad_x s(x)) + 1/2 ||s(x)||^2], which
equals 1/2 E_p ||s - grad log p||^2 up to a constant. The trace costs D backward passes; SSM replaces it by random
projections v with E[v v^T] = I (Eq. 8):

    J(s) = E_p E_v [ v^T grad_x (v^T s(x)) + 1/2 (v^T s(x))^2 ],

one Hessian-vector product per projection. For Gaussian (or Rademacher) v, E_v[(v^T s)^2] = ||s||^2 in closed form,
which gives the variance-reduced objective SSM-VR (Eq. 9): v^T grad_x (v^T s) + 1/2 ||s||^2.

:func:`ncsn_ssm_loss` is the noise-conditional form (Song & Ermon 2019, Sec. 4.2 lists SSM as an alternative to DSM):
at a random level sigma of the ladder, SSM of the perturbed data x + sigma z, weighted by lambda(sigma) = sigma^2.
It is scaled as :func:`genlab.diffusion.ncsn_loss`: with ``reduce_mean`` (default) 2 sigma^2 J / D, so that it equals
the DSM loss up to an additive constant that does not depend on the model (same learning rates work for both).
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from genlab.checks import positive_int
from genlab.diffusion.ladder import NoiseLadder
from genlab.diffusion.losses import ncsn_loss
from genlab.errors import ConfigError
from genlab.nn.divergence import PROBE_DISTS
from genlab.nn.divergence import probes as draw_probes
from genlab.rng import randint, randn_like

__all__ = ["ssm_loss", "ncsn_ssm_loss", "LADDER_LOSSES", "ladder_loss"]


def ssm_loss(score_fn: Callable, x: torch.Tensor, generator: torch.Generator, *, cond=None,
             n_projections: int = 1, variance_reduction: bool = True, projection: str = "gaussian") -> torch.Tensor:
    """Sliced score matching J(s) per sample (Song et al. 2019, Eq. 8; Eq. 9 with ``variance_reduction``), (N,).

    ``score_fn(x, cond)`` (or ``score_fn(x)`` when ``cond`` is None) must be differentiable in x; the graph is kept
    so the loss can be back-propagated to the parameters. ``n_projections`` projections per sample are averaged;
    ``projection`` is ``"gaussian"`` or ``"rademacher"`` (both have E[v v^T] = I).
    """
    n_projections = positive_int("n_projections", n_projections)
    if projection not in PROBE_DISTS:
        raise ConfigError(f"projection must be 'gaussian' or 'rademacher', got {projection!r}")
    n, m = len(x), int(n_projections)
    xr = x.detach().repeat(m, *([1] * (x.ndim - 1))).requires_grad_(True)
    cr = None if cond is None else cond.repeat(m, *([1] * (cond.ndim - 1)))
    with torch.enable_grad():
        s = score_fn(xr) if cr is None else score_fn(xr, cr)
        v = draw_probes(xr, 1, generator, dist=projection)[0]  # the probes of genlab.nn.divergence
        sv = (s * v).reshape(len(xr), -1).sum(-1)
        (grad,) = torch.autograd.grad(sv.sum(), xr, create_graph=True)
    vjv = (grad * v).reshape(len(xr), -1).sum(-1)
    second = s.reshape(len(xr), -1).pow(2).sum(-1) if variance_reduction else sv.pow(2)
    return (vjv + 0.5 * second).reshape(m, n).mean(0)


def ncsn_ssm_loss(score_fn: Callable, sigmas, x0: torch.Tensor, generator: torch.Generator, *,
                  reduce_mean: bool = True, levels: torch.Tensor | None = None, n_projections: int = 1) -> torch.Tensor:
    """Noise-conditional SSM-VR on a ladder (see the module docstring), shape (N,); same arguments and scale as
    :func:`genlab.diffusion.ncsn_loss` (``score_fn(x, sigma)`` receives the (N,) tensor of sigma values)."""
    s = sigmas.sigmas if isinstance(sigmas, NoiseLadder) else torch.as_tensor(sigmas).flatten()
    s = s.to(device=x0.device, dtype=x0.dtype)
    if levels is None:
        levels = randint(0, len(s), (len(x0),), generator, device=x0.device)
    sigma = s[levels]
    xt = x0 + sigma.reshape(-1, *([1] * (x0.ndim - 1))) * randn_like(x0, generator)
    j = ssm_loss(score_fn, xt, generator, cond=sigma, n_projections=n_projections)
    scale = 2 * sigma**2 / (x0[0].numel() if reduce_mean else 1)
    return scale * j


#: training objectives on a noise ladder, one signature ``f(score_fn, sigmas, x0, generator)``, one scale
LADDER_LOSSES: dict[str, Callable] = {"dsm": ncsn_loss, "ssm": ncsn_ssm_loss}


def ladder_loss(objective: str) -> Callable:
    """The ladder loss named ``objective`` (``"dsm"`` or ``"ssm"``); ConfigError otherwise."""
    if objective not in LADDER_LOSSES:
        raise ConfigError(f"objective must be one of {', '.join(LADDER_LOSSES)}, got {objective!r}")
    return LADDER_LOSSES[objective]
