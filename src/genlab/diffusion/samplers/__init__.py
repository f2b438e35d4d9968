"""The one sampler registry: ``SAMPLERS``, a :class:`~genlab.registry.Registry` of :class:`Sampler` entries
(name, function, kind, tags, default steps).

Kinds (how a model calls it; a model lists the samplers of the kinds it supports through ``samplers()``):

- ``"sde"``: ``f(score_fn, x, sde, *, steps, callback, generator, **opts)`` in time t (:mod:`.sde`; its
  probability-flow solver in t, ``sde.ode``, is a library function; the registered ``ode`` is the sigma form's);
- ``"ladder"``: ``f(score_fn, x, ladder, ...)`` over a discrete ladder of sigmas (:mod:`.langevin`);
- ``"sigma"``: ``f(denoiser, x, sigmas, *, generator, callback, **opts)`` over a noise grid (:mod:`.fast`);
- ``"consistency"``: the sigma form's call on a consistency function (:mod:`genlab.diffusion.consistency`);
- ``"energy"``: ``f(log_density, x, steps, *, generator, step_size)``, MCMC on an energy model's density
  (:mod:`genlab.mcmc`).

Tags: ``"deterministic"`` or ``"stochastic"``, and ``"adaptive"`` for solvers that pick their own steps.
``default_steps`` is the step count a call without ``steps`` uses. A new sampler is one function plus one line here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from genlab.checks import available, positive_int
from genlab.diffusion.consistency import multistep, onestep
from genlab.diffusion.samplers.fast import ddim, dpmpp_2m, euler, euler_ancestral, heun, ode
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
from genlab.mcmc import mala_sample
from genlab.registry import Registry

__all__ = ["Sampler", "SAMPLERS", "KINDS", "SIGMA_FORM", "get_sampler", "sampler_names", "samplers_of",
           "resolve_steps", "CountingScore", "euler_maruyama", "reverse_diffusion", "pc", "ode", "ald", "langevin",
           "euler", "euler_ancestral", "heun", "ddim", "dpmpp_2m", "tweedie_denoise", "default_snr", "check_steps"]

KINDS = ("sde", "ladder", "sigma", "consistency", "energy")
SIGMA_FORM = ("sigma", "consistency")  # kinds called as f(denoiser, x, sigmas, ...)


@dataclass(frozen=True)
class Sampler:
    name: str
    fn: Callable
    kind: str  # one of KINDS
    tags: frozenset[str]
    default_steps: int  # the steps of a call that gives none

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"sampler '{self.name}': kind must be one of {', '.join(KINDS)}, got {self.kind!r}")
        if isinstance(self.default_steps, bool) or not isinstance(self.default_steps, int) or self.default_steps < 1:
            raise ValueError(f"sampler '{self.name}': default_steps must be a positive integer")


#: every sampler by name
SAMPLERS: Registry[Sampler] = Registry("sampler")


def _s(name: str, fn: Callable, kind: str, steps: int, *tags: str) -> Sampler:
    return SAMPLERS.register(name, Sampler(name, fn, kind, frozenset(tags), steps))


_s("euler_maruyama", euler_maruyama, "sde", 500, "stochastic")
_s("reverse_diffusion", reverse_diffusion, "sde", 500, "stochastic")
_s("pc", pc, "sde", 500, "stochastic")
_s("ode", ode, "sigma", 2, "deterministic", "adaptive")  # an adaptive solver reads only the grid's ends
_s("ald", ald, "ladder", 1000, "stochastic")
_s("euler", euler, "sigma", 64, "deterministic")
_s("euler_ancestral", euler_ancestral, "sigma", 64, "stochastic")
_s("heun", heun, "sigma", 10, "deterministic")
_s("ddim", ddim, "sigma", 64, "deterministic")
_s("dpmpp_2m", dpmpp_2m, "sigma", 16, "deterministic")
_s("onestep", onestep, "consistency", 1, "deterministic")
_s("multistep", multistep, "consistency", 2, "stochastic")
_s("mala", mala_sample, "energy", 500, "stochastic")


def sampler_names(kinds: Iterable[str] | None = None) -> list[str]:
    """Registered sampler names (of ``kinds`` when given), sorted."""
    return SAMPLERS.names(None if kinds is None else (lambda s, k=tuple(kinds): s.kind in k))


def samplers_of(kinds: Iterable[str]) -> dict[str, set[str]]:
    """name -> tags of every sampler of ``kinds``: what a model supporting those kinds lists as its samplers."""
    return {name: set(SAMPLERS[name].tags) for name in sampler_names(kinds)}


def get_sampler(name: str, kinds: Iterable[str] | None = None, model: str = "") -> Sampler:
    """The sampler registered under ``name``, which must be of ``kinds`` when given (for ``model``); one-line
    ConfigError listing the choices otherwise."""
    if kinds is None:
        return SAMPLERS.get(name)
    return SAMPLERS[available("sampler", name, sampler_names(kinds), model)]


def resolve_steps(spec: Sampler, steps, fallback: int = 0) -> int:
    """The steps of one call: ``steps`` if given (a positive integer), else ``fallback`` (a model's configured
    default; 0 = none), else the entry's ``default_steps``."""
    if steps is None:
        return int(fallback) or spec.default_steps
    return positive_int("steps", steps)
