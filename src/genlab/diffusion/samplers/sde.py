"""Samplers that run a forward SDE backwards in time t (Song et al. 2021): one plain function each.

Signature ``sampler(score_fn, x, sde, *, steps, eps=1e-3, callback=None, generator=None, **opts) -> x``:
``x`` is the initial prior sample (``sde.prior_sample(shape, generator)``), ``score_fn(x, t)`` the score of
the perturbed marginal at time t (a (N,) tensor), and the result the final sample. Time runs on the grid
linspace(T, eps, steps + 1). ``callback(dict(i=..., t=..., x=...))`` is called after every step. Every random
draw takes ``generator`` (None: a fresh one from OS entropy, never the global torch RNG). With ``denoise=True`` a
last Tweedie step returns E[x_0 | x_eps] = (x + sigma^2 s(x, eps)) / alpha (Efron 2011; the final denoising of
Song & Ermon 2020 / Song et al. 2021); it costs one score evaluation.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from genlab.checks import positive_int
from genlab.diffusion.sde import SDE, _bcast
from genlab.errors import ConfigError
from genlab.mcmc import ula_step
from genlab.ode import ADAPTIVE, solve
from genlab.rng import make_generator, randn_like

__all__ = ["CountingScore", "euler_maruyama", "reverse_diffusion", "pc", "ode", "tweedie_denoise", "default_snr",
           "check_steps"]


class CountingScore:
    """Wraps a score function and counts its evaluations (network function evaluations) in ``.nfe``."""

    def __init__(self, score_fn: Callable):
        self.score_fn, self.nfe = score_fn, 0

    def __call__(self, x, t):
        self.nfe += 1
        return self.score_fn(x, t)

    def reset(self) -> None:
        self.nfe = 0


def _require_sde(sde, name: str) -> SDE:
    if not isinstance(sde, SDE):
        raise ConfigError(f"sampler '{name}' needs a VE/VP/sub-VP SDE, got {type(sde).__name__}; use 'ald' for a noise ladder")
    return sde


def check_steps(steps, name: str) -> int:
    """``steps`` of a direct call to the sampler ``name``, as a positive int."""
    return positive_int(f"sampler '{name}': steps", steps)


def _grid(sde: SDE, steps: int, eps: float, x: torch.Tensor) -> torch.Tensor:
    return torch.linspace(sde.T, eps, steps + 1, dtype=x.dtype, device=x.device)


def _full(t: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    return t.expand(len(x)).to(x.dtype)


def tweedie_denoise(score_fn: Callable, x: torch.Tensor, sde, t) -> torch.Tensor:
    """E[x_0 | x_t] = (x + sigma(t)^2 s(x, t)) / alpha(t) for x_t = alpha x_0 + sigma z (Tweedie's formula)."""
    t = _full(torch.as_tensor(t, dtype=x.dtype, device=x.device), x)
    alpha, sigma = sde.marginal_coeffs(t)
    return (x + _bcast(sigma**2, x) * score_fn(x, t)) / _bcast(alpha, x)


def _cb(callback, i, t, x):
    if callback is not None:
        callback({"i": i, "t": t, "x": x})


def _predict(step, name, score_fn, x, sde, steps, eps, callback, generator, denoise):
    """The loop shared by the plain predictors: ``step(rsde, x, t, dt, generator)`` from T down to eps."""
    sde, steps = _require_sde(sde, name), check_steps(steps, name)
    ts, rsde = _grid(sde, steps, eps, x), sde.reverse(score_fn)
    for i in range(steps):
        x = step(rsde, x, _full(ts[i], x), float(ts[i] - ts[i + 1]), generator)
        _cb(callback, i, ts[i + 1], x)
    return tweedie_denoise(score_fn, x, sde, ts[-1]) if denoise else x


@torch.no_grad()
def euler_maruyama(score_fn, x, sde, *, steps: int = 500, eps: float = 1e-3, callback=None, generator=None,
                   denoise: bool = True):
    """Euler-Maruyama on the reverse-time SDE (Song et al. 2021, Eq. 6)."""
    generator = make_generator(None) if generator is None else generator  # never the global RNG
    return _predict(_em_step, "euler_maruyama", score_fn, x, sde, steps, eps, callback, generator, denoise)


def _rd_step(rsde, x, t, dt, generator):
    f, G = rsde.discretize(x, t, dt)
    return x - f + G * randn_like(x, generator)


def _em_step(rsde, x, t, dt, generator):
    return x - rsde.drift(x, t) * dt + _bcast(rsde.diffusion(t), x) * math.sqrt(dt) * randn_like(x, generator)


@torch.no_grad()
def reverse_diffusion(score_fn, x, sde, *, steps: int = 500, eps: float = 1e-3, callback=None, generator=None,
                      denoise: bool = True):
    """Reverse-diffusion predictor (Song et al. 2021, Eq. 46): the forward discretisation run backwards."""
    generator = make_generator(None) if generator is None else generator  # never the global RNG
    return _predict(_rd_step, "reverse_diffusion", score_fn, x, sde, steps, eps, callback, generator, denoise)


def default_snr(sde) -> float:
    """Langevin-corrector signal-to-noise ratio r: 0.16 for VE (score_sde's value), 0.01 for VP and sub-VP."""
    return 0.16 if getattr(sde, "family", "") == "ve" else 0.01


def _langevin_corrector(score_fn, x, sde: SDE, t, dt, snr, generator):
    """Langevin corrector step (Song et al. 2021, Alg. 4/5): step size from the target snr r,
    eps = 2 a (r ||z|| / ||s||)^2 with norms averaged over the batch (as score_sde); a = 1 - b_i for VP."""
    s = score_fn(x, t)
    z = randn_like(x, generator)
    s_norm = s.reshape(len(x), -1).norm(dim=-1).mean()
    z_norm = z.reshape(len(x), -1).norm(dim=-1).mean()
    step = 2 * (snr * z_norm / s_norm.clamp_min(1e-12)) ** 2
    if getattr(sde, "family", "") == "vp":
        b = -torch.expm1(-(sde.int_beta(t) - sde.int_beta(torch.clamp(t - dt, min=0.0))))
        step = step * _bcast(1 - b, x)
    return ula_step(x, s, step, noise=z)


@torch.no_grad()
def pc(score_fn, x, sde, *, steps: int = 500, eps: float = 1e-3, callback=None, generator=None, denoise: bool = True,
       predictor: str = "reverse_diffusion", snr: float | None = None, corrector_steps: int = 1):
    """Predictor-corrector sampling (Song et al. 2021, Alg. 1-3): at each t, ``corrector_steps`` Langevin
    corrector steps then one predictor step (``'reverse_diffusion'`` or ``'euler_maruyama'``).
    ``snr`` defaults to :func:`default_snr`."""
    generator = make_generator(None) if generator is None else generator  # never the global RNG
    sde, steps = _require_sde(sde, "pc"), check_steps(steps, "pc")
    steppers = {"reverse_diffusion": _rd_step, "euler_maruyama": _em_step}
    if predictor not in steppers:
        raise ConfigError(f"unknown predictor '{predictor}'; choose from {sorted(steppers)}")
    if int(corrector_steps) < 0:
        raise ConfigError(f"corrector_steps must be >= 0, got {corrector_steps}")
    snr = default_snr(sde) if snr is None else float(snr)
    if snr <= 0:
        raise ConfigError(f"snr must be > 0, got {snr}")
    ts, rsde, step = _grid(sde, steps, eps, x), sde.reverse(score_fn), steppers[predictor]
    for i in range(steps):
        t, dt = _full(ts[i], x), float(ts[i] - ts[i + 1])
        for _ in range(int(corrector_steps)):
            x = _langevin_corrector(score_fn, x, sde, t, dt, snr, generator)
        x = step(rsde, x, t, dt, generator)
        _cb(callback, i, ts[i + 1], x)
    return tweedie_denoise(score_fn, x, sde, ts[-1]) if denoise else x


@torch.no_grad()
def ode(score_fn, x, sde, *, steps: int | None = None, eps: float = 1e-3, callback=None, generator=None,
        denoise: bool = True, rtol: float = 1e-5, atol: float = 1e-5, method: str = "dopri5"):
    """Probability-flow ODE (Song et al. 2021, Eq. 13) from T to eps with ``torchdiffeq.odeint``.

    Adaptive by default (``steps`` is ignored by adaptive methods; for fixed-grid methods such as
    ``'euler'``/``'rk4'`` it sets the number of steps, default 100). The callback is called at every evaluation of the
    ODE function (i = evaluation count). Deterministic: ``generator`` is unused.
    """
    sde = _require_sde(sde, "ode")
    rsde = sde.reverse(score_fn, probability_flow=True)
    count = [0]

    def f(t, y):
        out = rsde.drift(y, _full(t, y))
        _cb(callback, count[0], t, y)
        count[0] += 1
        return out

    n = None if method in ADAPTIVE else check_steps(100 if steps is None else steps, "ode")
    x = solve(f, x, sde.T, eps, method=method, rtol=rtol, atol=atol, steps=n).y
    return tweedie_denoise(score_fn, x, sde, torch.tensor(eps, dtype=x.dtype)) if denoise else x
