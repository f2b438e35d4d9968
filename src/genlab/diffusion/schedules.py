"""Noise grids for the sigma-form samplers: pure functions returning a decreasing (steps + 1,) tensor that ends in 0.

- :func:`karras_sigmas`: EDM's grid (Karras et al. 2022, Eq. 5), sigma_i = (s_max^(1/rho) + i/(n-1) (s_min^(1/rho) -
  s_max^(1/rho)))^rho, rho = 7: dense near sigma_min, where the curvature of the ODE is.
- :func:`log_snr_sigmas`: uniform in log-SNR = -2 log sigma (DPM-Solver's "logSNR" spacing; Lu et al. 2022).
- :func:`vp_sigmas`: uniform in the time of the VP SDE, t from 1 to eps, mapped to sigma(t) = sqrt(e^B(t) - 1)
  (the DDPM/score_sde time grid; Song et al. 2021).
- :func:`uniform_t_sigmas`: uniform in flow time t = 1 / (1 + sigma) from t(sigma_max) to t = 1 (rectified flow's
  Euler grid, Liu et al. 2023; :mod:`genlab.diffusion.parameterization`).

:data:`SCHEDULES` (a :class:`~genlab.registry.Registry`, also the ``choices`` of the models' ``schedule`` fields)
holds each grid a model can name as ``fn(n, sigma_min, sigma_max, rho)``; :func:`make_sigmas` looks it up. A new
grid is one function and one ``SCHEDULES.register`` line.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from genlab.checks import positive_int
from genlab.diffusion.parameterization import flow_sigma, flow_t
from genlab.errors import ConfigError
from genlab.registry import Registry

__all__ = ["karras_sigmas", "log_snr_sigmas", "vp_sigmas", "uniform_t_sigmas", "SCHEDULES", "make_sigmas"]


def _check(n: int, sigma_min: float, sigma_max: float) -> int:
    n = positive_int("steps", n)
    if not (0 < sigma_min < sigma_max):
        raise ConfigError(f"need 0 < sigma_min < sigma_max, got {sigma_min}, {sigma_max}")
    return n


def _append_zero(s: torch.Tensor) -> torch.Tensor:
    return torch.cat([s, s.new_zeros(1)])


def karras_sigmas(n: int, sigma_min: float, sigma_max: float, rho: float = 7.0, *, dtype=torch.float64) -> torch.Tensor:
    """EDM's grid of ``n`` sigmas from sigma_max to sigma_min, then 0 (Karras et al. 2022, Eq. 5)."""
    n = _check(n, sigma_min, sigma_max)
    if n == 1:
        return _append_zero(torch.tensor([sigma_max], dtype=dtype))
    ramp = torch.linspace(0, 1, n, dtype=torch.float64)
    lo, hi = sigma_min ** (1 / rho), sigma_max ** (1 / rho)
    return _append_zero((hi + ramp * (lo - hi)) ** rho).to(dtype)


def log_snr_sigmas(n: int, sigma_min: float, sigma_max: float, *, dtype=torch.float64) -> torch.Tensor:
    """``n`` sigmas uniform in log sigma (= uniform in log-SNR), then 0."""
    n = _check(n, sigma_min, sigma_max)
    return _append_zero(torch.exp(torch.linspace(math.log(sigma_max), math.log(sigma_min), n, dtype=torch.float64))
                        ).to(dtype)


def vp_sigmas(n: int, beta_min: float = 0.1, beta_max: float = 20.0, eps: float = 1e-3, *, dtype=torch.float64
              ) -> torch.Tensor:
    """``n`` sigmas at t uniform from 1 to ``eps`` for the VP SDE's linear beta schedule, then 0."""
    if not (0 < eps < 1):
        raise ConfigError(f"eps must lie in (0, 1), got {eps}")
    n = _check(n, 1e-12, 1.0)
    t = torch.linspace(1.0, eps, n, dtype=torch.float64)
    B = beta_min * t + 0.5 * t * t * (beta_max - beta_min)
    return _append_zero(torch.sqrt(torch.expm1(B))).to(dtype)


def uniform_t_sigmas(n: int, sigma_min: float, sigma_max: float, *, dtype=torch.float64) -> torch.Tensor:
    """``n`` sigmas at flow times t_i = t0 + i (1 - t0) / n (t0 = 1 / (1 + sigma_max)), then 0 (t = 1): ``n`` equal
    steps in t. ``sigma_min`` is only checked (the grid ends at the data, sigma = 0)."""
    n = _check(n, sigma_min, sigma_max)
    t0 = float(flow_t(torch.tensor(sigma_max, dtype=torch.float64)))
    t = t0 + (1 - t0) * torch.arange(n, dtype=torch.float64) / n
    return _append_zero(flow_sigma(t)).to(dtype)


#: every named grid ``fn(n, sigma_min, sigma_max, rho)`` (``rho``: the model's config value, Karras's only)
SCHEDULES: Registry[Callable[..., torch.Tensor]] = Registry("noise schedule")
SCHEDULES.register("karras", karras_sigmas)
SCHEDULES.register("log_snr", lambda n, sigma_min, sigma_max, rho: log_snr_sigmas(n, sigma_min, sigma_max))
SCHEDULES.register("uniform_t", lambda n, sigma_min, sigma_max, rho: uniform_t_sigmas(n, sigma_min, sigma_max))


def make_sigmas(name: str, n: int, sigma_min: float, sigma_max: float, rho: float = 7.0) -> torch.Tensor:
    """The grid ``name`` (one of :data:`SCHEDULES`) between a model's sigma_min and sigma_max."""
    return SCHEDULES.get(name)(n, sigma_min, sigma_max, rho)
