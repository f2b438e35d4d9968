"""Linear inverse problems with a deterministic flow: replacement with resampling (RePaint; Lugmayr et al. 2022,
Algorithm 1), in the sigma form of the denoiser contract (x = x_0 + sigma n; :mod:`genlab.diffusion.parameterization`).

A flow's sampler is a deterministic ODE: the replacement method (Song et al. 2021, App. I.2), which overwrites the
observed component by a noised copy of its value after every step, conditions the free part only through that
injected noise, and the free part drifts from one level to the next without ever being "told" that the observed
part has changed (the harmonisation problem RePaint names). Resampling fixes this: after each step from sigma_i to
sigma_{i+1} (an Euler step of dx/dsigma = (x - D) / sigma, the DDIM step) with the observed component replaced by
b + sigma_{i+1} A eps (:meth:`genlab.inverse.replacement.Constraint.renoise`; for a mask, x_obs + sigma_{i+1} eps),
the whole state is noised back to sigma_i, x + sqrt(sigma_i^2 - sigma_{i+1}^2) eps (the forward kernel of the sigma
form), and the step is repeated; ``jumps`` = U of RePaint (U = 1: plain replacement with Euler steps). Each
repetition lets the denoiser see the observed and the current free part together. Cost: ``jumps`` network
evaluations per grid step. Any operator with orthonormal rows works as for the replacement method (the noise is
isotropic in the sigma form too).
"""

from __future__ import annotations

import torch

from genlab.checks import positive_int
from genlab.errors import ConfigError
from genlab.inverse.replacement import INVERSE_SCHEDULE, Constraint
from genlab.rng import randn, randn_like

__all__ = ["repaint", "repaint_sample"]


@torch.no_grad()
def repaint(denoiser, x: torch.Tensor, sigmas: torch.Tensor, constraint: Constraint, *, jumps: int = 4,
            generator: torch.Generator) -> torch.Tensor:
    """Sample ``x`` (M, D; the initial draw at ``sigmas[0]``) under ``constraint`` (rows as x).

    ``denoiser(x, sigma)`` takes (M,) noise levels; ``sigmas`` is a decreasing grid ending in 0.
    """
    jumps = positive_int("jumps", jumps)
    sigmas = torch.as_tensor(sigmas, dtype=x.dtype, device=x.device)
    if sigmas.ndim != 1 or len(sigmas) < 2 or bool((sigmas[1:] >= sigmas[:-1]).any()) or float(sigmas[-1]) != 0:
        raise ConfigError("sigmas must be a decreasing grid ending in 0")
    one = torch.ones((), dtype=x.dtype)
    x = constraint.renoise(x, one, sigmas[0], generator)
    for i in range(len(sigmas) - 1):
        s, s_next = sigmas[i], sigmas[i + 1]
        for u in range(jumps):
            d = denoiser(x, s.expand(len(x)))
            x_next = d if float(s_next) == 0 else x + (s_next - s) * (x - d) / s
            x_next = constraint.renoise(x_next, one, s_next, generator)
            x = x_next + torch.sqrt(s**2 - s_next**2) * randn_like(x, generator) if u < jumps - 1 else x_next
    return x


def repaint_sample(model, constraint: Constraint, *, steps: int | None = None, jumps: int = 8,
                   schedule: str | None = None, generator: torch.Generator) -> torch.Tensor:
    """One draw (M, D) per row of ``constraint.lifted`` by :func:`repaint` on ``model``'s sigma grid (``schedule``, default
    ``INVERSE_SCHEDULE``; ``steps`` levels, default 32, from min(sigma_max, sample_sigma_max)); ``model`` is a diffusion-type model (the denoiser
    contract)."""
    steps = 32 if steps is None else positive_int("steps", steps)
    sigmas = model.sigma_grid(steps, schedule or INVERSE_SCHEDULE)
    lifted = constraint.lifted
    # the model's sampling start at sigmas[0] (as in run_sampler; genlab.diffusion.start)
    x = model.start_from_noise(randn(lifted.shape, generator, dtype=lifted.dtype), sigmas[0])
    out = repaint(model.denoiser(), x, sigmas, constraint, jumps=jumps, generator=generator)
    model.last_nfe = steps * jumps
    return constraint.exact(out)
