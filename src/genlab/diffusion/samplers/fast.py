"""Few-step samplers over a denoiser D(x; sigma) and an explicit noise grid (the sigma form; see
:mod:`genlab.diffusion.parameterization`), one plain function each, as k-diffusion's ``sample_*``.

Signature ``sampler(denoiser, x, sigmas, *, generator=None, callback=None, **opts) -> x``: ``x`` is the initial
draw at ``sigmas[0]`` (noise of that scale), ``sigmas`` a decreasing grid ending in 0 (:mod:`.schedules`),
``denoiser(x, sigma)`` takes a (N,) tensor of noise levels. :func:`ode` is adaptive: it uses only the grid's
first and smallest positive levels. ``callback(dict(i, sigma, x, denoised))`` is called
after every step with the state at the next level ``sigma``. Network evaluations per sample: ``euler``, ``ddim``,
``dpmpp_2m``, ``euler_ancestral``: one per step; ``heun``: two per step except the last (to sigma = 0), i.e. 2 steps - 1.
"""

from __future__ import annotations

import math

import torch

from genlab.diffusion.parameterization import ode_derivative
from genlab.errors import ConfigError
from genlab.ode import solve
from genlab.rng import make_generator, randn_like

__all__ = ["euler", "euler_ancestral", "heun", "ddim", "dpmpp_2m", "ode", "ancestral_step"]


def _levels(sigmas: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    sigmas = torch.as_tensor(sigmas, dtype=x.dtype, device=x.device)
    if sigmas.ndim != 1 or len(sigmas) < 2 or bool((sigmas[1:] >= sigmas[:-1]).any()) or bool(sigmas[-1] < 0):
        raise ConfigError("sigmas must be a decreasing 1-D grid of at least two non-negative levels")
    return sigmas


def _full(s: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    return s.expand(len(x))


def _cb(callback, i, sigma, x, denoised):
    if callback is not None:
        callback({"i": i, "sigma": sigma, "x": x, "denoised": denoised})


@torch.no_grad()
def euler(denoiser, x, sigmas, *, generator=None, callback=None):
    """Euler's method on the probability-flow ODE dx/dsigma = (x - D(x; sigma)) / sigma (Karras et al. 2022, Eq. 1)."""
    sigmas = _levels(sigmas, x)
    for i in range(len(sigmas) - 1):
        denoised = denoiser(x, _full(sigmas[i], x))
        x = x + (sigmas[i + 1] - sigmas[i]) * ode_derivative(x, denoised, sigmas[i])
        _cb(callback, i, sigmas[i + 1], x, denoised)
    return x


@torch.no_grad()
def heun(denoiser, x, sigmas, *, generator=None, callback=None, s_churn: float = 0.0, s_tmin: float = 0.0,
         s_tmax: float = math.inf, s_noise: float = 1.0):
    """Heun's 2nd-order method with optional stochastic churn: Karras et al. 2022, Algorithm 2.

    With ``s_churn`` > 0, levels in [s_tmin, s_tmax] are first raised to sigma_hat = (1 + gamma) sigma by adding
    noise of variance sigma_hat^2 - sigma^2 (gamma = min(s_churn / steps, sqrt(2) - 1)); ``s_churn = 0`` is the
    deterministic sampler. The last step (to sigma = 0) is an Euler step. The churn noise comes from ``generator``
    (None: a fresh one from OS entropy, never the global torch RNG).
    """
    generator = make_generator(None) if generator is None else generator
    sigmas = _levels(sigmas, x)
    n = len(sigmas) - 1
    if s_churn < 0 or s_noise < 0:
        raise ConfigError(f"s_churn and s_noise must be >= 0, got {s_churn}, {s_noise}")
    for i in range(n):
        s = sigmas[i]
        gamma = min(s_churn / n, math.sqrt(2) - 1) if s_tmin <= float(s) <= s_tmax else 0.0
        s_hat = s * (1 + gamma)
        if gamma > 0:
            x = x + torch.sqrt(s_hat**2 - s**2) * s_noise * randn_like(x, generator)
        denoised = denoiser(x, _full(s_hat, x))
        d = ode_derivative(x, denoised, s_hat)
        x_next = x + (sigmas[i + 1] - s_hat) * d
        if sigmas[i + 1] > 0:
            d2 = ode_derivative(x_next, denoiser(x_next, _full(sigmas[i + 1], x)), sigmas[i + 1])
            x_next = x + (sigmas[i + 1] - s_hat) * 0.5 * (d + d2)
        x = x_next
        _cb(callback, i, sigmas[i + 1], x, denoised)
    return x


def ancestral_step(sigma_from, sigma_to, eta: float):
    """(sigma_down, sigma_up) of a stochastic step: sigma_up = eta sigma_to sqrt(sigma_from^2 - sigma_to^2) / sigma_from,
    sigma_down = sqrt(sigma_to^2 - sigma_up^2). In the sigma form this is exactly DDIM's eta-step (Song, Meng &
    Ermon 2021, Eq. 12 and 16): x_next = D + sigma_down eps + sigma_up z."""
    if eta == 0 or float(sigma_to) == 0:
        return sigma_to, sigma_to * 0
    up = torch.clamp(eta * sigma_to * torch.sqrt(sigma_from**2 - sigma_to**2) / sigma_from, max=float(sigma_to))
    return torch.sqrt(sigma_to**2 - up**2), up


@torch.no_grad()
def ddim(denoiser, x, sigmas, *, generator=None, callback=None, eta: float = 0.0):
    """DDIM (Song, Meng & Ermon 2021) in the sigma form: x_next = D + sigma_down eps_hat + sigma_up z.

    ``eta = 0`` is deterministic (and the same map as :func:`euler` on the same grid); ``eta = 1`` matches the
    ancestral (DDPM-like) sampler's noise level. The noise comes from ``generator`` (None: a fresh one from OS
    entropy, never the global torch RNG).
    """
    generator = make_generator(None) if generator is None else generator
    sigmas = _levels(sigmas, x)
    if eta < 0:
        raise ConfigError(f"eta must be >= 0, got {eta}")
    for i in range(len(sigmas) - 1):
        denoised = denoiser(x, _full(sigmas[i], x))
        eps = (x - denoised) / sigmas[i]
        down, up = ancestral_step(sigmas[i], sigmas[i + 1], float(eta))
        x = denoised + down * eps
        if float(up) > 0:
            x = x + up * randn_like(x, generator)
        _cb(callback, i, sigmas[i + 1], x, denoised)
    return x


@torch.no_grad()
def euler_ancestral(denoiser, x, sigmas, *, generator=None, callback=None, eta: float = 1.0, s_noise: float = 1.0):
    """Ancestral Euler (k-diffusion's ``sample_euler_ancestral``; the DDPM ancestral step of Ho, Jain & Abbeel 2020
    in the sigma form of Karras et al. 2022): an Euler step of dx/dsigma = (x - D(x; sigma)) / sigma down to
    sigma_down, then fresh noise of std ``s_noise`` sigma_up (:func:`ancestral_step`), so the state is again at
    sigma_{i+1}. ``eta = 1`` (default) is the ancestral sampler, ``eta = 0`` is :func:`euler`. The noise comes from
    ``generator`` (None: a fresh one from OS entropy, never the global torch RNG)."""
    generator = make_generator(None) if generator is None else generator
    sigmas = _levels(sigmas, x)
    if eta < 0 or s_noise < 0:
        raise ConfigError(f"eta and s_noise must be >= 0, got {eta}, {s_noise}")
    for i in range(len(sigmas) - 1):
        denoised = denoiser(x, _full(sigmas[i], x))
        down, up = ancestral_step(sigmas[i], sigmas[i + 1], float(eta))
        x = x + (down - sigmas[i]) * ode_derivative(x, denoised, sigmas[i])
        if float(up) > 0:
            x = x + s_noise * up * randn_like(x, generator)
        _cb(callback, i, sigmas[i + 1], x, denoised)
    return x


@torch.no_grad()
def dpmpp_2m(denoiser, x, sigmas, *, generator=None, callback=None):
    """DPM-Solver++(2M) (Lu et al. 2022, Algorithm 2), multistep 2nd order in lambda = -log sigma (k-diffusion's form)."""
    sigmas = _levels(sigmas, x)
    old = None
    for i in range(len(sigmas) - 1):
        denoised = denoiser(x, _full(sigmas[i], x))
        if float(sigmas[i + 1]) == 0:
            x = denoised
        else:
            t, t_next = -torch.log(sigmas[i]), -torch.log(sigmas[i + 1])
            h = t_next - t
            d = denoised
            if old is not None:
                r = (t - (-torch.log(sigmas[i - 1]))) / h
                d = (1 + 1 / (2 * r)) * denoised - (1 / (2 * r)) * old
            x = (sigmas[i + 1] / sigmas[i]) * x - torch.expm1(-h) * d
        old = denoised
        _cb(callback, i, sigmas[i + 1], x, denoised)
    return x


@torch.no_grad()
def ode(denoiser, x, sigmas, *, generator=None, callback=None, rtol: float = 1e-5, atol: float = 1e-5,
        method: str = "dopri5"):
    """The probability-flow ODE dx/dlog(sigma) = x - D(x; sigma) (Karras et al. 2022, Eq. 1 in log sigma) solved
    adaptively by :func:`genlab.ode.solve` from ``sigmas[0]`` to the smallest positive level, then x = D(x; sigma_min)
    (the last Euler step to sigma = 0). Deterministic; ``callback`` sees every evaluation."""
    sigmas = _levels(sigmas, x)
    lo, hi = sigmas[sigmas > 0][-1], sigmas[0]
    count = [0]

    def f(tau, y):
        sigma = torch.exp(tau).to(y.dtype)
        d = denoiser(y, _full(sigma, y))
        _cb(callback, count[0], sigma, y, d)
        count[0] += 1
        return y - d

    x = solve(f, x, float(torch.log(hi)), float(torch.log(lo)), method=method, rtol=rtol, atol=atol).y
    return denoiser(x, _full(lo, x))
