"""``edm``: the diffusion model of Karras, Aittala, Aila & Laine 2022, "Elucidating the Design Space of
Diffusion-Based Generative Models" (EDM).

- **Preconditioning** (Table 1, Sec. 5): D(x; sigma) = c_skip x + c_out F(c_in x, c_noise) with
  c_skip = s_d^2 / (sigma^2 + s_d^2), c_out = sigma s_d / sqrt(sigma^2 + s_d^2), c_in = 1 / sqrt(sigma^2 + s_d^2),
  c_noise = log(sigma) / 4, where s_d = ``sigma_data`` (1 after genlab's standardisation).
- **Training** (Eq. 2 and 8): sigma ~ exp(N(P_mean, P_std^2)), loss lambda(sigma) || D(x_0 + sigma n; sigma) - x_0 ||^2
  with lambda = (sigma^2 + s_d^2) / (sigma s_d)^2 (so the effective target of F has unit variance at every sigma);
  the mean over data dimensions.
- **Sampling**: the sigma-form samplers (``heun`` is the paper's Algorithm 2, with ``s_churn`` for its stochastic
  variant; ``euler``, ``ddim``, ``dpmpp_2m``) on the ``schedule`` grid between ``sigma_min`` and ``sigma_max``
  (equal steps in flow time t = 1 / (1 + sigma) by default; ``"karras"`` is Eq. 5 with rho = 7); and the SDE
  samplers through the VE SDE with the same sigma range, whose sigma(t) is geometric (the score in t is
  (D - x) / sigma(t)^2).
- **log_prob**: the probability-flow ODE in the sigma form, dx/dlog(sigma) = x - D, from sigma_min to sigma_max with
  the prior N(0, (sigma_max^2 + s_d^2) I) (exact divergence up to ``exact_max_dim`` dimensions, Hutchinson above):
  the density of the data convolved with N(0, sigma_min^2 I); ``rtol``/``atol`` default 1e-4 (chosen by measurement).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import torch

from genlab.checks import require
from genlab.diffusion import VESDE
from genlab.diffusion.levels import grouped_normal
from genlab.diffusion.parameterization import bcast
from genlab.families.diffusion import DiffusionConfig, DiffusionModel
from genlab.registry import bounded, register
from genlab.rng import randn_like

__all__ = ["EDM", "EDMConfig", "edm_preconditioning"]


@dataclass
class EDMConfig(DiffusionConfig):
    sigma_min: float = bounded(0.002, gt=0)
    sigma_max: float = 80.0
    sigma_data: float = bounded(1.0, gt=0)  # data are standardised per dimension
    # log-normal training distribution of sigma: EDM's (-1.2, 1.2) trains little at the small noise levels that the
    # likelihood integrates over; (-1.8, 1.6) gave lower KL and SW2 on swiss_roll at 30 s (one-off runs, no results
    # file; docs/notes/2026-11-25.md, "Diffusion core v2 (issue 9)")
    P_mean: float = -1.8
    P_std: float = bounded(1.6, gt=0)

    def check(self) -> None:
        super().check()
        require(self.sigma_min < self.sigma_max,
                f"edm needs sigma_min < sigma_max, got {self.sigma_min}, {self.sigma_max}")


def edm_preconditioning(sigma: torch.Tensor, sigma_data: float) -> tuple[torch.Tensor, ...]:
    """(c_skip, c_out, c_in, c_noise) of EDM Table 1 for noise levels ``sigma`` (N,)."""
    s2, d2 = sigma**2, sigma_data**2
    return d2 / (s2 + d2), sigma * sigma_data / torch.sqrt(s2 + d2), 1 / torch.sqrt(s2 + d2), torch.log(sigma) / 4


@register
class EDM(DiffusionModel):
    """EDM (Karras et al. 2022): preconditioned denoiser, log-normal sigmas, few-step ODE samplers; ODE likelihood."""

    name = "edm"
    Config = EDMConfig
    smoke: ClassVar[dict] = {"fit": {"steps": 30}, "sample": {"steps": 8}, "impute": {"steps": 8}}

    def build(self) -> None:
        super().build()

    @property
    def sde(self) -> VESDE:
        """The VE SDE with EDM's sigma range, for the SDE samplers (sigma(t) geometric in t)."""
        return VESDE(self.config.sigma_min, self.config.sigma_max)

    def sigma_range(self) -> tuple[float, float]:
        return self.config.sigma_min, self.config.sigma_max

    def prior_std_sigma(self) -> float:
        c = self.config
        return math.sqrt(c.sigma_max**2 + c.sigma_data**2)

    def preconditioning(self, sigma: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """(c_skip, c_out, c_in, c_noise) of the denoiser (Table 1); the consistency model overrides it."""
        return edm_preconditioning(sigma, self.config.sigma_data)

    def _denoise(self, x, sigma, y):
        c_skip, c_out, c_in, c_noise = self.preconditioning(sigma.to(x.dtype))
        f = self.net(bcast(c_in, x) * x, c_noise, y=self._net_labels(y, len(x)))
        return bcast(c_skip, x) * x + bcast(c_out, x) * f

    def _t_score(self, x_t, t, y):
        sigma = self.sde.sigma(t).to(x_t.dtype)
        return (self._denoise(x_t, sigma, y) - x_t) / bcast(sigma, x_t) ** 2

    def loss(self, z, y, *, generator) -> torch.Tensor:
        """EDM's loss (Eq. 2 with lambda of Table 1), per sample (B,)."""
        c = self.config
        sigma = torch.exp(c.P_mean + self.level_shift() + c.P_std * grouped_normal(len(z), c.noise_groups, generator, dtype=z.dtype))
        weight = (sigma**2 + c.sigma_data**2) / (sigma * c.sigma_data) ** 2
        noisy = z + bcast(sigma, z) * randn_like(z, generator)
        d = self._denoise(noisy, sigma, self._drop_labels(y, generator))
        return weight * (d - z).pow(2).reshape(len(z), -1).mean(1)
