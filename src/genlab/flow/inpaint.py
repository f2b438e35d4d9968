"""Inpainting with a deterministic flow: replacement with resampling (RePaint; Lugmayr et al. 2022, Algorithm 1),
in the sigma form of the denoiser contract (x = x_0 + sigma n; :mod:`genlab.diffusion.parameterization`).

A flow's sampler is a deterministic ODE: the replacement method (Song et al. 2021, App. I.2), which overwrites the
observed entries by a noised copy of their values after every step, conditions the free entries only through that
injected noise, and the free entries drift from one level to the next without ever being "told" that the observed
part has changed (the harmonisation problem RePaint names). Resampling fixes this: after each step from sigma_i to
sigma_{i+1} (an Euler step of dx/dsigma = (x - D) / sigma, the DDIM step) with the observed entries replaced by
x_obs + sigma_{i+1} eps, the whole state is noised back to sigma_i, x + sqrt(sigma_i^2 - sigma_{i+1}^2) eps (the
forward kernel of the sigma form), and the step is repeated; ``jumps`` = U of RePaint (U = 1: plain replacement
with Euler steps). Each repetition lets the denoiser see the observed entries and the current free entries
together. Cost: ``jumps`` network evaluations per grid step.
"""

from __future__ import annotations

import torch

from genlab.errors import ConfigError
from genlab.rng import randn_like

__all__ = ["repaint"]


@torch.no_grad()
def repaint(denoiser, x: torch.Tensor, sigmas: torch.Tensor, known: torch.Tensor, mask: torch.Tensor, *,
            jumps: int = 4, generator=None) -> torch.Tensor:
    """Fill ``x`` (N, D; the initial draw at ``sigmas[0]``) where ``mask`` is False, keeping ``known`` where True.

    ``denoiser(x, sigma)`` takes (N,) noise levels; ``sigmas`` is a decreasing grid ending in 0.
    """
    if isinstance(jumps, bool) or not isinstance(jumps, int) or jumps < 1:
        raise ConfigError(f"jumps must be a positive integer, got {jumps!r}")
    sigmas = torch.as_tensor(sigmas, dtype=x.dtype, device=x.device)
    if sigmas.ndim != 1 or len(sigmas) < 2 or bool((sigmas[1:] >= sigmas[:-1]).any()) or float(sigmas[-1]) != 0:
        raise ConfigError("sigmas must be a decreasing grid ending in 0")

    def observed(level):
        return known + level * randn_like(known, generator)

    x = torch.where(mask, observed(sigmas[0]), x)
    for i in range(len(sigmas) - 1):
        s, s_next = sigmas[i], sigmas[i + 1]
        for u in range(jumps):
            d = denoiser(x, s.expand(len(x)))
            x_next = d if float(s_next) == 0 else x + (s_next - s) * (x - d) / s
            x_next = torch.where(mask, observed(s_next), x_next)
            x = x_next + torch.sqrt(s**2 - s_next**2) * randn_like(x, generator) if u < jumps - 1 else x_next
    return x
