"""Score-based models: ``ncsn`` (Song & Ermon 2019) and ``ve_sde``, ``vp_sde``, ``subvp_sde`` (Song et al. 2021).

One class, :class:`ScoreModel`, on the shared :class:`~genlab.families.diffusion.DiffusionModel`; the four names
differ only in the noise process, named by the class attribute ``sde_class`` (and, for ``ncsn``, in the discrete
noise ladder used by training and annealed Langevin sampling).

- **Network** ``net(x_t, t, y=None)`` predicts the *noise*: ``net(x_t, t) ~ n`` for ``x_t = alpha(t) x_0 +
  sigma(t) n``, so the score is ``s = -net / sigma(t)`` and the denoiser of the sigma form is
  ``D(x; sigma) = x - sigma net(alpha x, t(sigma))`` (:mod:`genlab.diffusion.parameterization`). The DSM loss with
  lambda(t) = sigma(t)^2 becomes ``|| net(x_t, t) - n ||^2`` (Ho et al. 2020; score_sde's ``-sigma s``).
  ``ncsn`` conditions on the VE time of its level, ``t = log(sigma / sigma_L) / log(sigma_1 / sigma_L)``.
- **Training**: denoising score matching (:func:`genlab.diffusion.dsm_loss`, Song et al. 2021 Eq. 7) with
  lambda(t) = sigma(t)^2, or ``likelihood_weighting`` lambda(t) = g(t)^2 (Song, Durkan, Murray & Ermon 2021,
  Thm. 1) optionally with ``importance_sampling`` of t from q(t) proportional to g(t)^2 / sigma(t)^2 (their
  Sec. 5; an inverse CDF on a log-spaced grid, weighted by w(t)/q(t) so the estimate stays unbiased).
  ``ncsn`` uses :func:`genlab.diffusion.ncsn_loss` (Song & Ermon 2019, Eq. 5-6) on its geometric ladder, or with
  ``objective="ssm"`` sliced score matching of the perturbed data (:func:`genlab.diffusion.ncsn_ssm_loss`, Song,
  Garg, Shi & Ermon 2019, Eq. 9).
- **sigma_max** (VE and ncsn): the largest pairwise distance of the standardised training data (Song & Ermon
  2020, Technique 1), stored as the buffer ``sigma_max_data``; ``sigma_max > 0`` overrides it.
- **Sampling**: every sampler of the registry whose kind the model supports: the SDE samplers in time t
  (``pc``, ``euler_maruyama``, ``reverse_diffusion``, ``ode``), the sigma-form samplers (``euler``, ``heun``,
  ``ddim``, ``dpmpp_2m``) on the ``schedule`` grid between sigma(eps) and sigma(T), and ``ald`` for ``ncsn``.
- **log_prob**: the probability-flow ODE in the sigma form from sigma(eps) to sigma(T) (the same ODE as Song et al.
  2021 Sec. 4.3 in another time variable): the density of the t = ``eps`` marginal.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import torch

from genlab.checks import require
from genlab.diffusion import VESDE, VPSDE, NoiseLadder, SubVPSDE, dsm_loss, ladder_loss, sigma_max_from_data
from genlab.diffusion.levels import grouped_uniform
from genlab.diffusion.parameterization import denoised_from_eps
from genlab.families.diffusion import DiffusionConfig, DiffusionModel
from genlab.registry import bounded, register

__all__ = ["ScoreConfig", "SDEConfig", "VEConfig", "VPConfig", "NCSNConfig", "ScoreModel", "VESDEModel",
           "VPSDEModel", "SubVPSDEModel", "NCSN"]


@dataclass
class ScoreConfig(DiffusionConfig):
    """Options shared by every score model."""

    eps: float = bounded(1e-5, gt=0, lt=1)  # smallest time in training and in the likelihood ODE


@dataclass
class SDEConfig(ScoreConfig):
    # lambda(t) = g(t)^2 instead of sigma(t)^2, with t ~ q(t) proportional to g^2 / sigma^2 (Song, Durkan, Murray &
    # Ermon 2021). None (the default) = on, except for data fitted with dequantize=True, which have no structure below
    # the dequantization width: there the many draws at tiny t train on noise. Measured at 30 s: KL of vp_sde in 2-D,
    # likelihood / sigma^2: pinwheel 0.099 / 0.184, rings 0.43 / 0.63, checkerboard 0.110 / 0.178; on dequantized
    # 64-D digits the likelihood weighting made 9 of 539 test points' probability-flow trajectories run away (log p
    # down to -2.6e6 nats; none with sigma^2, which also scores the other points better, 2.54 against 2.61 bits/dim;
    # benchmarks/sde_weighting.py).
    # The same holds for data with a noise floor above the smallest level (genlab.families._floor, e.g. continuous 64-D
    # digits): the likelihood is read from the floor, and on the tuning split vp_sde scored 2.546 bits/dim with
    # sigma^2 against 2.621 with the likelihood weighting (benchmarks/results/continuous_defaults_probe.json).
    # For VE both weightings coincide. ``training_weighting`` tells which one the last fit used.
    likelihood_weighting: bool | None = None
    importance_sampling: bool | None = None  # None = as likelihood_weighting; needs it

    def check(self) -> None:
        super().check()
        require(not (self.importance_sampling and self.likelihood_weighting is False),
                "importance_sampling needs likelihood_weighting=true")


@dataclass
class VEConfig(SDEConfig):
    sigma_min: float = 0.01
    sigma_max: float = 0.0  # 0 = largest pairwise distance of the standardised training data


@dataclass
class VPConfig(SDEConfig):
    beta_min: float = 0.1
    beta_max: float = 20.0


@dataclass
class NCSNConfig(ScoreConfig):
    sigma_min: float = 0.01
    sigma_max: float = 0.0  # 0 = largest pairwise distance of the standardised training data
    n_levels: int = 10  # L; Song & Ermon 2019 use 10 (higher D may want more: Song & Ermon 2020, Technique 2)
    objective: str = "dsm"  # "dsm" (denoising score matching) or "ssm" (sliced score matching, Song et al. 2019)
    noise_groups: int = 0  # the ladder levels are drawn per row (grouped_levels = False)


class _ImportanceTime:
    """Draws t in [eps, T] with density q(t) proportional to w(t) = g(t)^2 / sigma(t)^2; returns (t, w(t)/q(t))."""

    def __init__(self, sde, eps: float, n: int = 4096):
        grid = torch.exp(torch.linspace(math.log(eps), math.log(sde.T), n + 1, dtype=torch.float64))
        w = sde.diffusion(grid) ** 2 / sde.marginal_coeffs(grid)[1] ** 2
        mass = 0.5 * (w[1:] + w[:-1]) * (grid[1:] - grid[:-1])  # trapezoid mass of each cell
        self.grid, self.cdf, self.total = grid, torch.cat([torch.zeros(1, dtype=torch.float64), mass.cumsum(0)]), mass.sum()
        self.density = mass / self.total / (grid[1:] - grid[:-1])  # q is piecewise constant on the cells
        self.sde = sde

    def __call__(self, u: torch.Tensor, dtype, device=None) -> tuple[torch.Tensor, torch.Tensor]:
        """t and w(t) / q(t) for uniform draws ``u`` (n,) in [0, 1) (the inverse CDF of q)."""
        u = u.to(dtype=torch.float64, device="cpu") * self.total  # the grid lives on the CPU
        i = torch.searchsorted(self.cdf, u, right=True).clamp(1, len(self.grid) - 1) - 1
        frac = (u - self.cdf[i]) / (self.cdf[i + 1] - self.cdf[i])
        t = self.grid[i] + frac * (self.grid[i + 1] - self.grid[i])
        w = self.sde.diffusion(t) ** 2 / self.sde.marginal_coeffs(t)[1] ** 2
        return t.to(dtype=dtype, device=device), (w / self.density[i]).to(dtype=dtype, device=device)


class ScoreModel(DiffusionModel):
    """Shared implementation of the score-based models (see the module docstring)."""

    Config = SDEConfig
    sde_class: ClassVar[type] = VPSDE
    training_weighting: str | None = None  # the weighting of the last fit (kept in checkpoints); None before one
    smoke: ClassVar[dict] = {"fit": {"steps": 30}, "sample": {"steps": 20}}

    def build(self) -> None:
        if "sigma_max_data" not in self._buffers:
            self.register_buffer("sigma_max_data", torch.zeros(()))
        super().build()

    # ------------------------------------------------------------------ noise process
    def _sigma_max(self) -> float:
        c = self.config
        s = c.sigma_max if c.sigma_max > 0 else float(self.sigma_max_data)
        return s if s > c.sigma_min else max(50.0, 2 * c.sigma_min)  # unfitted: score_sde's default

    @property
    def sde(self):
        """The forward SDE: ``sde_class`` built from the config (VE: sigma_min and the data's sigma_max)."""
        c = self.config
        if self.sde_class is VESDE:
            return VESDE(c.sigma_min, self._sigma_max())
        return self.sde_class(c.beta_min, c.beta_max)

    def sigma_range(self) -> tuple[float, float]:
        sde = self.sde
        return float(sde.sigma_of_t(self.config.eps)), float(sde.sigma_of_t(sde.T))

    def prior_std_sigma(self) -> float:
        sde = self.sde
        return sde.prior_std() / float(sde.alpha(sde.T))

    def _data_to_sigma_form(self) -> tuple[float, float]:
        a = float(self.sde.alpha(self.config.eps))
        return 1.0 / a, -math.log(a)

    # ------------------------------------------------------------------ the network as noise predictor
    def _eps(self, x_t: torch.Tensor, t: torch.Tensor, y) -> torch.Tensor:
        return self.net(x_t, t, y=self._net_labels(y, len(x_t)))

    def _t_score(self, x_t, t, y):
        sigma_t = self.sde.marginal_coeffs(t)[1]
        return -self._eps(x_t, t, y) / sigma_t.reshape(-1, *([1] * (x_t.ndim - 1)))

    def _denoise(self, x, sigma, y):
        sde = self.sde
        t = sde.t_of_sigma(sigma).to(x.dtype)
        alpha = sde.alpha(t).reshape(-1, *([1] * (x.ndim - 1)))
        return denoised_from_eps(x, self._eps(alpha * x, t, y), sigma)

    def extra_state(self) -> dict:
        return {**super().extra_state(), "training_weighting": self.training_weighting}

    def load_extra_state(self, state: dict) -> None:
        super().load_extra_state(state)
        self.training_weighting = state.get("training_weighting")

    # ------------------------------------------------------------------ training
    def _fit(self, z, y, spec) -> None:
        if getattr(self.config, "sigma_max", 1.0) <= 0:
            self.sigma_max_data.fill_(max(sigma_max_from_data(z), 2 * self.config.sigma_min))
        self._weights = None
        c = self.config
        if hasattr(c, "likelihood_weighting"):
            # the default: the likelihood weighting, except for data with no structure below a width: fitted with
            # dequantize=True, or with a noise floor above the smallest level (genlab.families._floor)
            fine = spec.dequantize is None and not getattr(self, "_floor_candidate", 0.0)  # set by _before_fit
            lw = fine if c.likelihood_weighting is None else c.likelihood_weighting
            iw = lw if c.importance_sampling is None else c.importance_sampling
            require(lw or not iw, "importance_sampling needs likelihood_weighting=true (it is off by default for data "
                                  "fitted with dequantize=True or with a noise floor)")
            self._likelihood_weighting = lw
            self.training_weighting = "likelihood, importance-sampled t" if iw else "likelihood" if lw else "sigma^2"
            if iw:
                self._weights = _ImportanceTime(self.sde, c.eps)
        super()._fit(z, y, spec)

    def loss(self, z: torch.Tensor, y: torch.Tensor | None, *, generator) -> torch.Tensor:
        """Per-sample DSM loss (Song et al. 2021, Eq. 7), shape (B,)."""
        c, score = self.config, self.score_fn(self._drop_labels(y, generator))
        if getattr(self, "_weights", None) is not None:
            u = grouped_uniform(len(z), c.noise_groups, generator, dtype=torch.float64, device="cpu")
            t, iw = self._weights(u, z.dtype, z.device)
            return dsm_loss(score, self.sde, z, generator, t=t) * iw / (self.sde.T - c.eps)  # E_q[w/q ...] = E_U[w ...]
        lw = getattr(self, "_likelihood_weighting", c.likelihood_weighting is not False)  # set by _fit
        t = c.eps + (self.sde.T - c.eps) * grouped_uniform(len(z), c.noise_groups, generator, dtype=z.dtype,
                                                           device=z.device)
        return dsm_loss(score, self.sde, z, generator, t=t, likelihood_weighting=lw)


@register
class VESDEModel(ScoreModel):
    """Variance-exploding SDE (Song et al. 2021, Eq. 30); sigma from 0.01 to the data's largest distance."""

    name = "ve_sde"
    Config = VEConfig
    sde_class = VESDE


@register
class VPSDEModel(ScoreModel):
    """Variance-preserving SDE (Song et al. 2021, Eq. 32), beta from 0.1 to 20."""

    name = "vp_sde"
    Config = VPConfig
    sde_class = VPSDE


@register
class SubVPSDEModel(ScoreModel):
    """Sub-VP SDE (Song et al. 2021, Eq. 34), beta from 0.1 to 20."""

    name = "subvp_sde"
    Config = VPConfig
    sde_class = SubVPSDE


@register
class NCSN(ScoreModel):
    """Noise-conditional score network (Song & Ermon 2019) on a geometric ladder, annealed Langevin sampling."""

    name = "ncsn"
    Config = NCSNConfig
    sde_class = VESDE
    default_sampler = "ald"
    grouped_levels = False

    @property
    def ladder(self) -> NoiseLadder:
        return NoiseLadder.geometric(self.config.sigma_min, self._sigma_max(), self.config.n_levels)

    sampler_kinds = ("sde", "sigma", "ladder")

    def _ladder(self):
        return self.ladder

    def _ladder_score(self, y, guidance, guide=None):
        score = self.score_fn(y, guidance, guide)
        lo, hi = math.log(self.config.sigma_min), math.log(self._sigma_max())
        return lambda x, sigma: score(x, (torch.log(sigma) - lo) / (hi - lo))  # t of the VE SDE with sigma(t) = sigma

    def build(self) -> None:
        ladder_loss(self.config.objective)  # checks the name
        super().build()

    def loss(self, z, y, *, generator):
        """NCSN loss (Song & Ermon 2019, Eq. 5-6) on the ladder, lambda(sigma) = sigma^2: denoising score matching,
        or sliced score matching of the perturbed data with ``objective="ssm"`` (:mod:`genlab.diffusion.sliced`)."""
        ladder = self.ladder
        score = self._ladder_score(self._drop_labels(y, generator), 0.0)
        return ladder_loss(self.config.objective)(score, ladder, z, generator)
