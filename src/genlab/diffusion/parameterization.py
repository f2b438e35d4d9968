"""Conversions between what a diffusion network can predict, in one place (as k-diffusion's ``external.py``).

Every Gaussian diffusion perturbs data as x_t = alpha x_0 + sigma_t n, n ~ N(0, I). Dividing by alpha gives the
*sigma form* of Karras et al. 2022 (EDM, Sec. 2 and Table 1): x = x_t / alpha = x_0 + sigma n with
sigma = sigma_t / alpha. genlab's denoiser contract lives in the sigma form: a denoiser D(x; sigma) ~ E[x_0 | x]
(Tweedie), and every sampler of :mod:`genlab.diffusion.samplers` is a function of D and a grid of sigmas.

The predictions below are related by (x in sigma form unless it says x_t):

- noise:      eps = (x - D) / sigma                      D = x - sigma eps
- score:      grad_x log p_sigma(x) = (D - x) / sigma^2  D = x + sigma^2 s
- t-form score (of x_t):  s_t = (alpha D - x_t) / sigma_t^2 = s / alpha
- velocity of the straight path x_t = t x_1 + (1 - t) n (flow matching, t = 1 data):
      u = x_1 - n,   x_1 = D = x_t + (1 - t) u,   and the sigma form is x = x_t / t, sigma = (1 - t) / t.
- the probability-flow ODE in the sigma form: dx/dsigma = (x - D(x; sigma)) / sigma (EDM Eq. 1 with s = 1, sigma(t) = t).
"""

from __future__ import annotations

import torch

__all__ = ["bcast", "denoised_from_eps", "eps_from_denoised", "score_from_denoised", "denoised_from_score",
           "t_score_from_denoised", "ode_derivative", "denoised_from_velocity", "velocity_from_denoised",
           "flow_sigma", "flow_t"]


def bcast(c: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Reshape a per-sample coefficient (N,) (or a scalar) to broadcast against ``x`` (N, ...)."""
    c = torch.as_tensor(c, dtype=x.dtype, device=x.device)
    return c.reshape(c.shape + (1,) * (x.dim() - c.dim())) if c.dim() else c


def denoised_from_eps(x: torch.Tensor, eps: torch.Tensor, sigma) -> torch.Tensor:
    return x - bcast(sigma, x) * eps


def eps_from_denoised(x: torch.Tensor, denoised: torch.Tensor, sigma) -> torch.Tensor:
    return (x - denoised) / bcast(sigma, x)


def score_from_denoised(x: torch.Tensor, denoised: torch.Tensor, sigma) -> torch.Tensor:
    """grad_x log p(x; sigma) = (D - x) / sigma^2 (Tweedie / EDM Eq. 3)."""
    return (denoised - x) / bcast(sigma, x) ** 2


def denoised_from_score(x: torch.Tensor, score: torch.Tensor, sigma) -> torch.Tensor:
    return x + bcast(sigma, x) ** 2 * score


def t_score_from_denoised(x_t: torch.Tensor, denoised: torch.Tensor, alpha, sigma_t) -> torch.Tensor:
    """The score of the marginal of x_t = alpha x_0 + sigma_t n: (alpha D - x_t) / sigma_t^2."""
    return (bcast(alpha, x_t) * denoised - x_t) / bcast(sigma_t, x_t) ** 2


def ode_derivative(x: torch.Tensor, denoised: torch.Tensor, sigma) -> torch.Tensor:
    """dx/dsigma = (x - D) / sigma, the probability-flow ODE in the sigma form (k-diffusion's ``to_d``)."""
    return (x - denoised) / bcast(sigma, x)


def denoised_from_velocity(x_t: torch.Tensor, u: torch.Tensor, t, sigma_min: float = 0.0) -> torch.Tensor:
    """x_1 = x_t + (1 - t) u on the straight path x_t = t x_1 + (1 - t) n.

    With ``sigma_min`` > 0 (the CondOT path of Lipman et al. 2023, Eq. 20-23: x_t = t x_1 + (1 - (1 - sigma_min) t) n,
    u = x_1 - (1 - sigma_min) n): x_1 = (1 - sigma_min) x_t + (1 - (1 - sigma_min) t) u."""
    k = 1 - sigma_min
    return k * x_t + (1 - k * bcast(t, x_t)) * u


def velocity_from_denoised(x_t: torch.Tensor, denoised: torch.Tensor, t, sigma_min: float = 0.0) -> torch.Tensor:
    """u = (D - x_t) / (1 - t) on the straight path (the conditional velocity x_1 - n at the posterior mean);
    the inverse of :func:`denoised_from_velocity` for any ``sigma_min``."""
    k = 1 - sigma_min
    return (denoised - k * x_t) / (1 - k * bcast(t, x_t))


def flow_sigma(t: torch.Tensor, sigma_min: float = 0.0) -> torch.Tensor:
    """sigma = (1 - t) / t: the noise level of flow time t (0 = noise, 1 = data); with ``sigma_min`` > 0,
    sigma = (1 - (1 - sigma_min) t) / t (so sigma(1) = sigma_min). The sigma form is x = x_t / t."""
    return (1 - (1 - sigma_min) * t) / t


def flow_t(sigma: torch.Tensor, sigma_min: float = 0.0) -> torch.Tensor:
    """t = 1 / (1 + sigma - sigma_min), the inverse of :func:`flow_sigma`."""
    return 1 / (1 + sigma - sigma_min)
