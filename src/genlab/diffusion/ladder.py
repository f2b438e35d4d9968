"""The discrete noise ladder of NCSN (Song & Ermon 2019, "Generative Modeling by Estimating Gradients of the
Data Distribution", Sec. 4.1): a geometric sequence sigma_1 > sigma_2 > ... > sigma_L.

A score function for the ladder is called as ``score_fn(x, sigma)`` where ``sigma`` is a (N,) tensor of
noise *standard deviations* (not times), and approximates the score of the data convolved with N(0, sigma^2 I).
"""

from __future__ import annotations

import math

import torch

from genlab.checks import positive_int
from genlab.errors import ConfigError
from genlab.rng import randn

__all__ = ["geometric_sigmas", "NoiseLadder"]


def geometric_sigmas(sigma_min: float, sigma_max: float, L: int, *, dtype=None) -> torch.Tensor:
    """L noise levels in geometric progression from sigma_max down to sigma_min (decreasing), shape (L,)."""
    if not (0 < sigma_min <= sigma_max):
        raise ConfigError(f"need 0 < sigma_min <= sigma_max, got sigma_min={sigma_min}, sigma_max={sigma_max}")
    L = positive_int("the number of noise levels L", L)
    if L == 1:
        return torch.tensor([float(sigma_max)], dtype=dtype or torch.get_default_dtype())
    logs = torch.linspace(math.log(sigma_max), math.log(sigma_min), int(L), dtype=torch.float64)
    return torch.exp(logs).to(dtype or torch.get_default_dtype())


class NoiseLadder:
    """A decreasing sequence of noise levels with the prior N(0, sigma_1^2 I), for :func:`ald` and the NCSN loss.

    Plays the role of the ``sde`` argument of the samplers: ``prior_sample``, ``prior_logp`` and
    ``marginal_coeffs(sigma) = (1, sigma)`` mirror :class:`genlab.diffusion.sde.SDE`.
    """

    family = "ladder"

    def __init__(self, sigmas):
        sigmas = torch.as_tensor(sigmas, dtype=torch.get_default_dtype()).flatten()
        if sigmas.numel() < 1 or not bool((sigmas > 0).all()):
            raise ConfigError("a noise ladder needs at least one positive sigma")
        if sigmas.numel() > 1 and not bool((sigmas[1:] < sigmas[:-1]).all()):
            raise ConfigError("noise ladder sigmas must be strictly decreasing (sigma_1 > ... > sigma_L)")
        self.sigmas = sigmas

    @classmethod
    def geometric(cls, sigma_min: float = 0.01, sigma_max: float = 50.0, L: int = 10) -> NoiseLadder:
        return cls(geometric_sigmas(sigma_min, sigma_max, L))

    @property
    def L(self) -> int:
        return self.sigmas.numel()

    @property
    def sigma_max(self) -> float:
        return float(self.sigmas[0])

    @property
    def sigma_min(self) -> float:
        return float(self.sigmas[-1])

    def marginal_coeffs(self, sigma):
        sigma = torch.as_tensor(sigma)
        return torch.ones_like(sigma), sigma

    def prior_sample(self, shape, generator: torch.Generator, *, dtype=None, device=None):
        return randn(shape, generator, dtype=dtype, device=device) * self.sigma_max

    def prior_logp(self, z: torch.Tensor) -> torch.Tensor:
        s, d = self.sigma_max, z[0].numel()
        return -0.5 * d * math.log(2 * math.pi * s * s) - 0.5 * z.reshape(len(z), -1).pow(2).sum(-1) / (s * s)

    def __repr__(self):
        return f"NoiseLadder(L={self.L}, sigma_max={self.sigma_max:.4g}, sigma_min={self.sigma_min:.4g})"
