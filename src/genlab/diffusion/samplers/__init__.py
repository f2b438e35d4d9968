"""The sampler registry: name -> function, the kind of process it runs on, and tags.

Kinds (how a model calls it; a model lists the samplers valid for it through ``samplers()``):

- ``"sde"``: ``f(score_fn, x, sde, *, steps, callback, generator, **opts)`` in time t (:mod:`.sde`; its
  probability-flow solver in t, ``sde.ode``, is a library function; the registered ``ode`` is the sigma form's);
- ``"ladder"``: ``f(score_fn, x, ladder, ...)`` over a discrete ladder of sigmas (:mod:`.langevin`);
- ``"sigma"``: ``f(denoiser, x, sigmas, *, generator, callback, **opts)`` over a noise grid (:mod:`.fast`).

Tags: ``"deterministic"`` or ``"stochastic"``, and ``"adaptive"`` for solvers that pick their own steps.
A new sampler is one function plus one line here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from genlab.diffusion.samplers.fast import ddim, dpmpp_2m, euler, heun, ode
from genlab.diffusion.samplers.langevin import ald, langevin
from genlab.diffusion.samplers.sde import (
    CountingScore,
    check_steps,
    default_snr,
    euler_maruyama,
    pc,
    reverse_diffusion,
    tweedie_denoise,
)
from genlab.errors import ConfigError

__all__ = ["Sampler", "SAMPLERS", "get_sampler", "sampler_names", "CountingScore", "euler_maruyama",
           "reverse_diffusion", "pc", "ode", "ald", "langevin", "euler", "heun", "ddim", "dpmpp_2m",
           "tweedie_denoise", "default_snr", "check_steps"]


@dataclass(frozen=True)
class Sampler:
    name: str
    fn: Callable
    kind: str  # "sde" | "ladder" | "sigma"
    tags: frozenset[str]


def _s(name, fn, kind, *tags) -> Sampler:
    return Sampler(name, fn, kind, frozenset(tags))


SAMPLERS: dict[str, Sampler] = {s.name: s for s in (
    _s("euler_maruyama", euler_maruyama, "sde", "stochastic"),
    _s("reverse_diffusion", reverse_diffusion, "sde", "stochastic"),
    _s("pc", pc, "sde", "stochastic"),
    _s("ode", ode, "sigma", "deterministic", "adaptive"),
    _s("ald", ald, "ladder", "stochastic"),
    _s("euler", euler, "sigma", "deterministic"),
    _s("heun", heun, "sigma", "deterministic"),
    _s("ddim", ddim, "sigma", "deterministic"),
    _s("dpmpp_2m", dpmpp_2m, "sigma", "deterministic"),
)}


def sampler_names() -> list[str]:
    return list(SAMPLERS)


def get_sampler(name: str) -> Sampler:
    """The sampler registered under ``name``; ConfigError listing the choices otherwise."""
    try:
        return SAMPLERS[name]
    except (KeyError, TypeError):
        raise ConfigError(f"unknown sampler '{name}'; choose from: {', '.join(SAMPLERS)}") from None
