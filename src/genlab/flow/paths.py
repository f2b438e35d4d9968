"""Probability paths of conditional flow matching.

:class:`CondOTPath` is the conditional optimal-transport (straight) path of Lipman et al. 2023 ("Flow Matching for
Generative Modeling", Eq. 20-23) from noise x_0 ~ N(0, I) at t = 0 to data x_1 at t = 1:

    x_t = t x_1 + (1 - (1 - sigma_min) t) x_0,        u_t(x_t | x_0, x_1) = x_1 - (1 - sigma_min) x_0,

whose end at t = 1 is the data convolved with N(0, sigma_min^2 I). With sigma_min = 0 it is the linear interpolation
of rectified flow (Liu et al. 2023, Eq. 1) and of I-CFM (Tong et al. 2023). In the sigma form of the denoiser
contract this path is x = x_t / t with sigma = (1 - (1 - sigma_min) t) / t; that mapping, and the one between the
velocity and the denoiser, live in :mod:`genlab.diffusion.parameterization` (``flow_sigma``, ``flow_t``,
``denoised_from_velocity``).

:func:`path_times` draws the training times t: uniform on [0, 1] (Lipman et al. 2023), or logit-normal,
t = sigmoid(loc + scale n), n ~ N(0, 1) (Esser et al. 2024, "Scaling Rectified Flow Transformers", Eq. 19). With
sigma = (1 - t) / t the logit-normal times are EDM's log-normal noise levels, log sigma ~ N(-loc, scale^2)
(Karras et al. 2022, Eq. 7 / Table 1): loc = 1.8, scale = 1.6 is genlab's EDM default (P_mean = -1.8, P_std = 1.6).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from genlab.diffusion.levels import grouped_normal, grouped_rand, grouped_uniform
from genlab.diffusion.parameterization import bcast
from genlab.errors import ConfigError
from genlab.registry import Registry

__all__ = ["CondOTPath", "TIME_DISTRIBUTIONS", "path_times"]

def _uniform(n, generator, *, groups, dtype, **_):
    """t ~ U(0, 1) (Lipman et al. 2023)."""
    return grouped_uniform(n, groups, generator, dtype=dtype)


def _logit_normal(n, generator, *, loc, scale, uniform_fraction, groups, dtype):
    """t = sigmoid(loc + scale n), n ~ N(0, 1) (Esser et al. 2024, Eq. 19), a share ``uniform_fraction`` uniform."""
    t = torch.sigmoid(loc + scale * grouped_normal(n, groups, generator, dtype=dtype))
    if uniform_fraction > 0:
        pick = grouped_rand(n, groups, generator, dtype=dtype) < uniform_fraction
        t = torch.where(pick.to(t.device), grouped_uniform(n, groups, generator, dtype=dtype), t)
    return t


#: name -> draw(n, generator, *, loc, scale, uniform_fraction, groups, dtype); a new one is a function and a line.
TIME_DISTRIBUTIONS: Registry = Registry("time distribution")
TIME_DISTRIBUTIONS.register("uniform", _uniform)
TIME_DISTRIBUTIONS.register("logit_normal", _logit_normal)
TIME_DISTRIBUTIONS.seal()


def path_times(n: int, generator, *, distribution: str = "uniform", loc: float = 0.0, scale: float = 1.0,
               uniform_fraction: float = 0.0, groups: int = 0, dtype=torch.float32) -> torch.Tensor:
    """``n`` training times in (0, 1) (see the module docstring); with "logit_normal", a share ``uniform_fraction``
    of the times (each time, or each group, independently) is drawn uniformly instead, so that no time goes
    untrained. ``groups`` > 0: that many stratified times, each shared by a run of consecutive rows
    (:mod:`genlab.diffusion.levels`, of the global batch under multi-process training; the mixture stays unbiased:
    each group picks its part independently). An unknown ``distribution`` is a :class:`~genlab.errors.ConfigError`
    naming the registered ones (:data:`TIME_DISTRIBUTIONS`)."""
    draw = TIME_DISTRIBUTIONS.get(distribution)
    return draw(n, generator, loc=loc, scale=scale, uniform_fraction=uniform_fraction, groups=groups, dtype=dtype)


@dataclass(frozen=True)
class CondOTPath:
    """The straight conditional path with end noise ``sigma_min`` (see the module docstring)."""

    sigma_min: float = 0.0

    def __post_init__(self):
        if not 0 <= self.sigma_min < 1:
            raise ConfigError(f"sigma_min must lie in [0, 1), got {self.sigma_min}")

    def std(self, t: torch.Tensor) -> torch.Tensor:
        """The coefficient of the noise, 1 - (1 - sigma_min) t."""
        return 1 - (1 - self.sigma_min) * t

    def interpolate(self, x0: torch.Tensor, x1: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """x_t for noise ``x0``, data ``x1`` (N, D) and times ``t`` (N,)."""
        return bcast(t, x1) * x1 + bcast(self.std(t), x0) * x0

    def target(self, x0: torch.Tensor, x1: torch.Tensor) -> torch.Tensor:
        """The conditional velocity u_t = x_1 - (1 - sigma_min) x_0 (constant along the path)."""
        return x1 - (1 - self.sigma_min) * x0
