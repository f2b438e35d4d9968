"""Samplers for score-based models: one plain function each (k-diffusion style) and a registry.

Uniform signature ``sampler(score_fn, x, sde, *, steps, eps=1e-3, callback=None, generator=None, **opts) -> x``:
``x`` is the initial prior sample (e.g. ``sde.prior_sample(shape, generator)``), ``score_fn(x, t)`` the score of
the perturbed marginal at time t (a (N,) tensor), and the result the final sample. Time runs on the grid
linspace(T, eps, steps + 1). For :func:`ald` the ``sde`` argument is a :class:`NoiseLadder` (or a tensor of
sigmas) and ``score_fn(x, sigma)`` takes noise levels. ``callback(dict(i=..., t=..., x=...))`` is called after
every step. With ``denoise=True`` a last Tweedie step returns E[x_0 | x_eps] = (x + sigma^2 s(x, eps)) / alpha
(Efron 2011; the final denoising of Song & Ermon 2020 / Song et al. 2021); it costs one score evaluation.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torchdiffeq import odeint

from genlab.diffusion.ladder import NoiseLadder
from genlab.diffusion.sde import SDE, _bcast, randn_like
from genlab.errors import ConfigError

__all__ = ["CountingScore", "euler_maruyama", "reverse_diffusion", "pc", "ode", "ald", "langevin",
           "tweedie_denoise", "default_snr", "SAMPLERS", "get_sampler"]


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


def _check_steps(steps, name: str) -> int:
    if int(steps) < 1:
        raise ConfigError(f"sampler '{name}': steps must be >= 1, got {steps}")
    return int(steps)


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
    sde, steps = _require_sde(sde, name), _check_steps(steps, name)
    ts, rsde = _grid(sde, steps, eps, x), sde.reverse(score_fn)
    for i in range(steps):
        x = step(rsde, x, _full(ts[i], x), float(ts[i] - ts[i + 1]), generator)
        _cb(callback, i, ts[i + 1], x)
    return tweedie_denoise(score_fn, x, sde, ts[-1]) if denoise else x


@torch.no_grad()
def euler_maruyama(score_fn, x, sde, *, steps: int = 500, eps: float = 1e-3, callback=None, generator=None,
                   denoise: bool = True):
    """Euler-Maruyama on the reverse-time SDE (Song et al. 2021, Eq. 6)."""
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
    return x + step * s + torch.sqrt(2 * step) * z


@torch.no_grad()
def pc(score_fn, x, sde, *, steps: int = 500, eps: float = 1e-3, callback=None, generator=None, denoise: bool = True,
       predictor: str = "reverse_diffusion", snr: float | None = None, corrector_steps: int = 1):
    """Predictor-corrector sampling (Song et al. 2021, Alg. 1-3): at each t, ``corrector_steps`` Langevin
    corrector steps then one predictor step (``'reverse_diffusion'`` or ``'euler_maruyama'``).
    ``snr`` defaults to :func:`default_snr`."""
    sde, steps = _require_sde(sde, "pc"), _check_steps(steps, "pc")
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


_ADAPTIVE = ("dopri5", "dopri8", "bosh3", "fehlberg2", "adaptive_heun")


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

    ts = torch.tensor([sde.T, eps], dtype=x.dtype, device=x.device)
    options = {}
    if method in _ADAPTIVE:
        options["step_t"] = ts[-1:]  # land exactly on eps: never evaluate the score at t < eps
    else:
        options["step_size"] = (sde.T - eps) / _check_steps(100 if steps is None else steps, "ode")
    try:
        x = odeint(f, x, ts, rtol=rtol, atol=atol, method=method, options=options or None)[-1]
    except (ValueError, KeyError) as err:
        if method not in str(err):
            raise
        raise ConfigError(f"unknown ODE method '{method}' for torchdiffeq") from err
    return tweedie_denoise(score_fn, x, sde, ts[-1]) if denoise else x


def _ladder(sde) -> NoiseLadder:
    if isinstance(sde, NoiseLadder):
        return sde
    if isinstance(sde, SDE):
        raise ConfigError("sampler 'ald' needs a noise ladder (NoiseLadder or a tensor of sigmas), not an SDE")
    return NoiseLadder(sde)


@torch.no_grad()
def ald(score_fn, x, sde, *, steps: int | None = None, eps: float | None = None, callback=None, generator=None,
        denoise: bool = True, n_steps_each: int | None = None, step_lr: float = 2e-5):
    """Annealed Langevin dynamics (Song & Ermon 2019, Alg. 1) over the ladder sigma_1 > ... > sigma_L.

    At level i, ``n_steps_each`` steps x <- x + (a_i / 2) s(x, sigma_i) + sqrt(a_i) z with
    a_i = step_lr * sigma_i^2 / sigma_L^2. ``steps`` (total) sets ``n_steps_each = ceil(steps / L)`` when
    ``n_steps_each`` is not given (default 100). ``eps`` is unused. ``denoise`` adds
    x <- x + sigma_L^2 s(x, sigma_L) (Song & Ermon 2020, "Improved techniques", Appendix).
    """
    ladder = _ladder(sde)
    sig = ladder.sigmas.to(device=x.device, dtype=x.dtype)
    if n_steps_each is None:
        n_steps_each = 100 if steps is None else math.ceil(_check_steps(steps, "ald") / ladder.L)
    elif steps is not None:
        raise ConfigError("give either steps (total) or n_steps_each to 'ald', not both")
    if int(n_steps_each) < 1 or step_lr <= 0:
        raise ConfigError(f"ald needs n_steps_each >= 1 and step_lr > 0, got {n_steps_each}, {step_lr}")
    i = 0
    for s in sig:
        a = step_lr * (s / sig[-1]) ** 2
        sv = _full(s, x)
        for _ in range(int(n_steps_each)):
            x = x + 0.5 * a * score_fn(x, sv) + torch.sqrt(a) * randn_like(x, generator)
            _cb(callback, i, s, x)
            i += 1
    if denoise:
        x = x + sig[-1] ** 2 * score_fn(x, _full(sig[-1], x))
    return x


@torch.no_grad()
def langevin(score_fn, x, *, steps: int = 1000, step_size: float = 1e-3, callback=None, generator=None):
    """Unadjusted Langevin dynamics at one fixed noise level: x <- x + (e/2) s(x) + sqrt(e) z; ``score_fn(x)``."""
    _check_steps(steps, "langevin")
    for i in range(int(steps)):
        x = x + 0.5 * step_size * score_fn(x) + math.sqrt(step_size) * randn_like(x, generator)
        _cb(callback, i, None, x)
    return x


SAMPLERS: dict[str, Callable] = {
    "euler_maruyama": euler_maruyama,
    "reverse_diffusion": reverse_diffusion,
    "pc": pc,
    "ode": ode,
    "ald": ald,
}


def get_sampler(name: str) -> Callable:
    """The sampler registered under ``name``; ConfigError listing the choices otherwise."""
    try:
        return SAMPLERS[name]
    except (KeyError, TypeError):
        raise ConfigError(f"unknown sampler '{name}'; choose from: {', '.join(SAMPLERS)}") from None
