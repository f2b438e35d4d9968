"""Langevin samplers over a discrete noise ladder (Song & Ermon 2019).

:func:`ald`: annealed Langevin dynamics over sigma_1 > ... > sigma_L with ``score_fn(x, sigma)``; :func:`langevin`:
unadjusted Langevin at one noise level with ``score_fn(x)``. Both are loops of :func:`genlab.mcmc.ula_step` (with
h = a / 2 in its notation). Every random draw takes ``generator``.
"""

from __future__ import annotations

import math

import torch

from genlab.checks import not_both
from genlab.diffusion.ladder import NoiseLadder
from genlab.diffusion.samplers.sde import _cb, _full, check_steps
from genlab.diffusion.sde import SDE
from genlab.errors import ConfigError
from genlab.mcmc import ula_step
from genlab.rng import make_generator

__all__ = ["ald", "langevin"]


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
    generator = make_generator(None) if generator is None else generator  # never the global RNG
    ladder = _ladder(sde)
    sig = ladder.sigmas.to(device=x.device, dtype=x.dtype)
    not_both("steps (total)", steps is not None, "n_steps_each to 'ald'", n_steps_each is not None)
    if n_steps_each is None:
        n_steps_each = 100 if steps is None else math.ceil(check_steps(steps, "ald") / ladder.L)
    if int(n_steps_each) < 1 or step_lr <= 0:
        raise ConfigError(f"ald needs n_steps_each >= 1 and step_lr > 0, got {n_steps_each}, {step_lr}")
    i = 0
    for s in sig:
        a = step_lr * (s / sig[-1]) ** 2
        sv = _full(s, x)
        for _ in range(int(n_steps_each)):
            x = ula_step(x, score_fn(x, sv), 0.5 * a, generator)
            _cb(callback, i, s, x)
            i += 1
    if denoise:
        x = x + sig[-1] ** 2 * score_fn(x, _full(sig[-1], x))
    return x


@torch.no_grad()
def langevin(score_fn, x, *, steps: int = 1000, step_size: float = 1e-3, callback=None, generator=None):
    """Unadjusted Langevin dynamics at one fixed noise level: x <- x + (e/2) s(x) + sqrt(e) z; ``score_fn(x)``."""
    generator = make_generator(None) if generator is None else generator  # never the global RNG
    check_steps(steps, "langevin")
    for i in range(int(steps)):
        x = ula_step(x, score_fn(x), 0.5 * step_size, generator)
        _cb(callback, i, None, x)
    return x
