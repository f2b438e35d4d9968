"""Consistency models: parameterisation, the training curriculum and losses, and the samplers (knows no models).

- **Parameterisation** (Song, Dhariwal, Chen & Sutskever 2023, "Consistency Models", Appendix C; EDM's c_in and
  c_noise): f(x, sigma) = c_skip(sigma) x + c_out(sigma) F(c_in x, c_noise) with
  c_skip = s_d^2 / ((sigma - sigma_min)^2 + s_d^2), c_out = s_d (sigma - sigma_min) / sqrt(sigma^2 + s_d^2), so
  f(x, sigma_min) = x exactly (the boundary condition).
- **Improved consistency training** (Song & Dhariwal 2024, "Improved Techniques for Training Consistency Models"):
  the number of levels doubles on a schedule, N(k) = min(s0 2^floor(k / K'), s1) + 1 with
  K' = floor(K / (log2(s1 / s0) + 1)) (their Eq. 6, written here as a function of the progress k / K); the levels
  are EDM's Karras grid; the pair (sigma_i, sigma_{i+1}) is drawn with probability proportional to
  erf((log sigma_{i+1} - P_mean) / (sqrt 2 P_std)) - erf((log sigma_i - P_mean) / (sqrt 2 P_std)) (log-normal, Sec.
  3.5, P_mean = -1.1, P_std = 2); the loss is the pseudo-Huber metric d(a, b) = sqrt(||a - b||^2 + c^2) - c
  (Sec. 3.3, c = 0.00054 sqrt(D)) weighted by 1 / (sigma_{i+1} - sigma_i) (Sec. 3.4), against the same network
  with a stop-gradient (no EMA teacher, Sec. 3.2).
- **Consistency distillation** (Song et al. 2023, Algorithm 2): the target at sigma_n is the EMA student at
  x_hat = one Heun step of the teacher's probability-flow ODE from x + sigma_{n+1} z (:func:`teacher_heun_step`).
- **Samplers** (Song et al. 2023, Algorithm 1): :func:`multistep` over a grid sigmas[0] > ... > 0, x <- f(x, sigma_i),
  then x <- x + sigma_{i+1} z before the next evaluation; :func:`onestep` is f(x, sigma_max). Both have the
  sigma-form sampler signature ``f(denoiser, x, sigmas, *, generator, callback)``.
"""

from __future__ import annotations

import math

import torch

from genlab.diffusion.parameterization import bcast, ode_derivative
from genlab.diffusion.schedules import karras_sigmas
from genlab.rng import make_generator, randn_like

__all__ = ["consistency_preconditioning", "pseudo_huber", "ict_levels", "ict_n_levels", "lognormal_level_probs",
           "teacher_heun_step", "multistep", "onestep"]


def consistency_preconditioning(sigma: torch.Tensor, sigma_data: float, sigma_min: float) -> tuple[torch.Tensor, ...]:
    """(c_skip, c_out, c_in, c_noise) of Song et al. 2023, Appendix C (with EDM's c_in and c_noise)."""
    s2, d2 = sigma**2, sigma_data**2
    c_skip = d2 / ((sigma - sigma_min) ** 2 + d2)
    c_out = sigma_data * (sigma - sigma_min) / torch.sqrt(s2 + d2)
    return c_skip, c_out, 1 / torch.sqrt(s2 + d2), torch.log(sigma) / 4


def pseudo_huber(a: torch.Tensor, b: torch.Tensor, c: float) -> torch.Tensor:
    """sqrt(||a - b||^2 + c^2) - c per sample (N,) (Song & Dhariwal 2024, Sec. 3.3)."""
    sq = (a - b).pow(2).reshape(len(a), -1).sum(1)
    return torch.sqrt(sq + c * c) - c


def ict_n_levels(progress: float, s0: int = 10, s1: int = 1280) -> int:
    """N of the doubling curriculum at ``progress`` in [0, 1] (Song & Dhariwal 2024, Eq. 6)."""
    stages = math.floor(math.log2(s1 / s0)) + 1
    return int(min(s0 * 2 ** min(math.floor(progress * stages), stages - 1), s1)) + 1


ict_num_levels = ict_n_levels  # its name before the renames of format 7 (n_levels, as the configs); kept importable


def ict_levels(n: int, sigma_min: float, sigma_max: float, rho: float = 7.0) -> torch.Tensor:
    """The ``n`` Karras levels in increasing order, sigma_1 = sigma_min < ... < sigma_n = sigma_max."""
    return karras_sigmas(n, sigma_min, sigma_max, rho)[:-1].flip(0)


def lognormal_level_probs(levels: torch.Tensor, p_mean: float = -1.1, p_std: float = 2.0) -> torch.Tensor:
    """Probabilities (n - 1,) of the adjacent pairs (sigma_i, sigma_{i+1}) under the log-normal proposal."""
    cdf = torch.erf((torch.log(levels) - p_mean) / (math.sqrt(2) * p_std))
    p = (cdf[1:] - cdf[:-1]).clamp_min(0)
    return p / p.sum()


@torch.no_grad()
def teacher_heun_step(denoiser, x: torch.Tensor, sigma_from: torch.Tensor, sigma_to: torch.Tensor) -> torch.Tensor:
    """One Heun step of dx/dsigma = (x - D(x; sigma)) / sigma from ``sigma_from`` to ``sigma_to`` (both (N,), > 0)."""
    h = bcast(sigma_to - sigma_from, x)
    d = ode_derivative(x, denoiser(x, sigma_from), sigma_from)
    x_euler = x + h * d
    d2 = ode_derivative(x_euler, denoiser(x_euler, sigma_to), sigma_to)
    return x + h * 0.5 * (d + d2)


def _cb(callback, i, sigma, x, denoised):
    if callback is not None:
        callback({"i": i, "sigma": sigma, "x": x, "denoised": denoised})


@torch.no_grad()
def multistep(denoiser, x, sigmas, *, generator=None, callback=None):
    """Multistep consistency sampling (Song et al. 2023, Algorithm 1) over the decreasing grid ``sigmas`` (ending
    in 0): one network evaluation per positive level; noise of std sigma_{i+1} is added between evaluations, drawn
    from ``generator`` (None: a fresh one from OS entropy, never the global torch RNG)."""
    generator = make_generator(None) if generator is None else generator
    sigmas = torch.as_tensor(sigmas, dtype=x.dtype, device=x.device)
    for i in range(len(sigmas) - 1):
        denoised = denoiser(x, sigmas[i].expand(len(x)))
        x = denoised if float(sigmas[i + 1]) == 0 else denoised + sigmas[i + 1] * randn_like(x, generator)
        _cb(callback, i, sigmas[i + 1], x, denoised)
    return x


@torch.no_grad()
def onestep(denoiser, x, sigmas, *, generator=None, callback=None):
    """One-step consistency sampling: f(x, sigmas[0]) (the rest of the grid is not used)."""
    sigmas = torch.as_tensor(sigmas, dtype=x.dtype, device=x.device)
    return multistep(denoiser, x, torch.stack([sigmas[0], sigmas[-1] * 0]), generator=generator, callback=callback)
