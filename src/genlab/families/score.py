"""Score-based models: ``ncsn`` (Song & Ermon 2019) and ``ve_sde``, ``vp_sde``, ``subvp_sde`` (Song et al. 2021).

One class, :class:`ScoreModel`; the four names differ only in the noise process (``sde``) and, for ``ncsn``,
in the discrete noise ladder used by training and annealed Langevin sampling.

- **Network** ``net(x, t, y=None)``: a :class:`genlab.nn.ConditionalMLP` by default; any ``nn.Module`` with
  this call can replace it through :meth:`ScoreModel.set_backbone`. It predicts the *noise*:
  ``net(x_t, t) ~ eps`` for ``x_t = alpha(t) x_0 + sigma(t) eps``, so the score is ``s = -net / sigma(t)``.
  The target then has unit scale at every t, and the DSM loss with lambda(t) = sigma(t)^2 becomes
  ``|| net(x_t, t) - eps ||^2`` (Ho et al. 2020's loss; score_sde's ``-sigma s`` parameterisation).
  ``ncsn`` conditions on the VE time of its level, ``t = log(sigma / sigma_L) / log(sigma_1 / sigma_L)``.
- **Training**: denoising score matching (:func:`genlab.diffusion.dsm_loss`, Song et al. 2021 Eq. 7) with
  lambda(t) = sigma(t)^2, or ``likelihood_weighting`` lambda(t) = g(t)^2 (Song, Durkan, Murray & Ermon 2021,
  Thm. 1) optionally with ``importance_sampling`` of t from q(t) proportional to g(t)^2 / sigma(t)^2 (their
  Sec. 5; here by an inverse CDF on a log-spaced grid, weighted by w(t)/q(t) so the estimate stays unbiased).
  ``ncsn`` uses :func:`genlab.diffusion.ncsn_loss` (Song & Ermon 2019, Eq. 5-6) on its geometric ladder.
- **sigma_max** (VE and ncsn): the largest pairwise distance of the standardised training data (Song & Ermon
  2020, Technique 1), stored in the checkpoint as the buffer ``sigma_max_data``; ``sigma_max > 0`` overrides it.
- **Sampling** through :func:`genlab.diffusion.get_sampler`; ``last_nfe`` records the network evaluations of
  the last sample/log_prob/impute call (per sample row, for a batch). ``ncsn`` samples with ``ald`` on its
  ladder; every other sampler runs it as the VE SDE from sigma_L to sigma_1.
- **log_prob**: the probability-flow ODE (:func:`genlab.diffusion.ode_log_likelihood`, Song et al. 2021
  Sec. 4.3) from t = ``eps``: exact divergence for D <= ``exact_max_dim`` (``likelihood = "exact"``),
  Hutchinson's estimator above (``"estimate"``). For ``ncsn`` (whose paper defines no likelihood) the ladder
  is read as the VE SDE between sigma_L and sigma_1 and the network, smooth in t, interpolates between levels.
- **Labels**: with ``y`` in fit, labels are dropped to the extra null index with probability ``p_uncond``;
  ``sample(n, y=..., guidance=w)`` uses s = (1 + w) s(x, t, y) - w s(x, t, null) (Ho & Salimans 2022).
- **impute**: :mod:`genlab.families.score_impute` (replacement method, Song et al. 2021 Appendix I.2).
"""

from __future__ import annotations

import inspect
import math
from dataclasses import dataclass

import torch
from torch import nn

from genlab.diffusion import (
    VESDE,
    VPSDE,
    CountingScore,
    NoiseLadder,
    SubVPSDE,
    dsm_loss,
    get_sampler,
    ncsn_loss,
    ode_log_likelihood,
    sigma_max_from_data,
)
from genlab.errors import ConfigError
from genlab.families.score_impute import replacement_impute
from genlab.model import GenerativeModel, NeuralConfig
from genlab.nn import ConditionalMLP, FourierEmbedding, SinusoidalEmbedding
from genlab.registry import register

__all__ = ["ScoreConfig", "SDEConfig", "VEConfig", "VPConfig", "NCSNConfig", "ScoreModel", "VESDEModel",
           "VPSDEModel", "SubVPSDEModel", "NCSN"]


@dataclass
class ScoreConfig(NeuralConfig):
    """Options shared by every score model (defaults tuned for 2-D toys at ~60 s on 2 CPU cores)."""

    steps: int = 4000
    batch_size: int = 512
    lr: float = 2e-3
    lr_schedule: str = "cosine"
    ema: float = 0.999
    hidden: int = 128  # width of the ConditionalMLP
    depth: int = 3  # residual hidden layers
    embedding: str = "fourier"  # time embedding: "fourier" (Gaussian Fourier features of t, scale 4) or "sinusoidal"
    emb_dim: int = 64
    activation: str = "silu"
    eps: float = 1e-5  # smallest time in training and in the likelihood ODE
    sampler: str = ""  # default sampler; "" = the model's own (pc for SDEs, ald for ncsn)
    sample_steps: int = 500  # default number of sampler steps (total Langevin steps for ald)
    p_uncond: float = 0.1  # label dropout for classifier-free guidance (conditional fits only)
    exact_max_dim: int = 16  # exact divergence in log_prob up to this dimension, Hutchinson above


@dataclass
class SDEConfig(ScoreConfig):
    likelihood_weighting: bool = False  # lambda(t) = g(t)^2 instead of sigma(t)^2
    importance_sampling: bool = False  # t ~ q(t) proportional to g^2/sigma^2 (needs likelihood_weighting)


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
    num_levels: int = 10  # L; Song & Ermon 2019 use 10 (higher D may want more: Song & Ermon 2020, Technique 2)
    sample_steps: int = 1000  # ald: 100 Langevin steps per level (Song & Ermon 2019, Alg. 1)


class _ImportanceTime:
    """Draws t in [eps, T] with density q(t) proportional to w(t) = g(t)^2 / sigma(t)^2; returns (t, w(t)/q(t))."""

    def __init__(self, sde, eps: float, n: int = 4096):
        grid = torch.exp(torch.linspace(math.log(eps), math.log(sde.T), n + 1, dtype=torch.float64))
        w = sde.diffusion(grid) ** 2 / sde.marginal_coeffs(grid)[1] ** 2
        mass = 0.5 * (w[1:] + w[:-1]) * (grid[1:] - grid[:-1])  # trapezoid mass of each cell
        self.grid, self.cdf, self.total = grid, torch.cat([torch.zeros(1, dtype=torch.float64), mass.cumsum(0)]), mass.sum()
        self.density = mass / self.total / (grid[1:] - grid[:-1])  # q is piecewise constant on the cells
        self.sde = sde

    def __call__(self, n: int, dtype) -> tuple[torch.Tensor, torch.Tensor]:
        u = torch.rand(n, dtype=torch.float64) * self.total
        i = torch.searchsorted(self.cdf, u, right=True).clamp(1, len(self.grid) - 1) - 1
        frac = (u - self.cdf[i]) / (self.cdf[i + 1] - self.cdf[i])
        t = self.grid[i] + frac * (self.grid[i + 1] - self.grid[i])
        w = self.sde.diffusion(t) ** 2 / self.sde.marginal_coeffs(t)[1] ** 2
        return t.to(dtype), (w / self.density[i]).to(dtype)


class ScoreModel(GenerativeModel):
    """Shared implementation of the score-based models (see the module docstring)."""

    Config = SDEConfig
    conditional = True
    likelihood = "exact"
    eval_batch = 10000
    default_sampler = "pc"

    def build(self) -> None:
        c = self.config
        if c.embedding not in ("sinusoidal", "fourier"):
            raise ConfigError(f"embedding must be 'sinusoidal' or 'fourier', got {c.embedding!r}")
        if not 0 <= c.p_uncond < 1:
            raise ConfigError(f"p_uncond must lie in [0, 1), got {c.p_uncond}")
        if not 0 < c.eps < 1:
            raise ConfigError(f"eps must lie in (0, 1), got {c.eps}")
        if getattr(c, "importance_sampling", False) and not c.likelihood_weighting:
            raise ConfigError("importance_sampling needs likelihood_weighting=true")
        if "sigma_max_data" not in self._buffers:
            self.register_buffer("sigma_max_data", torch.zeros(()))
        self.likelihood = "exact" if self.dim <= c.exact_max_dim else "estimate"
        self.last_nfe = 0
        if getattr(self, "_custom_backbone", False):
            return
        emb = SinusoidalEmbedding(c.emb_dim) if c.embedding == "sinusoidal" else FourierEmbedding(c.emb_dim, scale=4.0)
        self.net = ConditionalMLP(self.dim, hidden=c.hidden, depth=c.depth, embedding=emb, emb_dim=c.emb_dim,
                                  num_classes=self.num_classes, activation=c.activation)

    def set_backbone(self, module: nn.Module) -> ScoreModel:
        """Replace the network by any ``module`` called as ``module(x (N, D), t (N,), y=None) -> (N, D)``.

        The module predicts the noise (see the module docstring); with labels it receives indices in
        ``0..num_classes`` (``num_classes`` is the null label). Call before ``fit``. A checkpoint of a model
        with a custom backbone is loaded by creating the model, calling ``set_backbone`` and then
        ``load_state_dict`` from the safetensors file.
        """
        if not isinstance(module, nn.Module):
            raise ConfigError(f"a backbone must be a torch.nn.Module, got {type(module).__name__}")
        try:
            with torch.no_grad():
                out = module(torch.zeros(2, self.dim), torch.full((2,), 0.5), y=None)
        except (TypeError, RuntimeError) as err:
            raise ConfigError(f"the backbone must be callable as net(x, t, y=None): {err}") from None
        if tuple(out.shape) != (2, self.dim):
            raise ConfigError(f"backbone output has shape {tuple(out.shape)} for input (2, {self.dim}); expected (2, {self.dim})")
        self.net, self._custom_backbone = module, True
        return self

    # ------------------------------------------------------------------ noise process
    def _sigma_max(self) -> float:
        c = self.config
        s = c.sigma_max if c.sigma_max > 0 else float(self.sigma_max_data)
        return s if s > c.sigma_min else max(50.0, 2 * c.sigma_min)  # unfitted: score_sde's default

    @property
    def sde(self):
        c = self.config
        if self.name == "vp_sde":
            return VPSDE(c.beta_min, c.beta_max)
        if self.name == "subvp_sde":
            return SubVPSDE(c.beta_min, c.beta_max)
        return VESDE(c.sigma_min, self._sigma_max())

    # ------------------------------------------------------------------ the score
    def _net_labels(self, y: torch.Tensor | None, n: int) -> torch.Tensor | None:
        if self.num_classes is None:
            return None
        return torch.full((n,), self.num_classes, dtype=torch.int64) if y is None else y

    def score_fn(self, y: torch.Tensor | None = None, guidance: float = 0.0):
        """``s(x, t)`` for the samplers: -net(x, t, y) / sigma(t), with classifier-free guidance weight ``guidance``."""
        sde = self.sde
        guide = float(guidance) != 0.0 and y is not None

        def score(x, t):
            t = t.expand(len(x)) if t.ndim == 0 else t
            lab = self._net_labels(y, len(x))
            out = self.net(x, t, y=lab)
            if guide:
                out = (1 + guidance) * out - guidance * self.net(x, t, y=self._net_labels(None, len(x)))
            sigma = sde.marginal_coeffs(t)[1]
            return -out / sigma.reshape(-1, *([1] * (x.ndim - 1)))

        return score

    def _grad_log_prob_z(self, z, y, *, generator=None) -> torch.Tensor:
        """grad log p at the smallest noise level: the network's score at t = eps (of the data convolved with
        N(0, sigma(eps)^2), the density the probability-flow likelihood also describes)."""
        with torch.no_grad():
            return self.score_fn(y)(z, torch.tensor(self.config.eps, dtype=z.dtype))

    # ------------------------------------------------------------------ training
    def _drop_labels(self, y: torch.Tensor | None) -> torch.Tensor | None:
        if y is None or self.config.p_uncond == 0:
            return y
        drop = torch.rand(len(y)) < self.config.p_uncond
        return torch.where(drop, torch.full_like(y, self.num_classes), y)

    def _fit(self, z, y, spec) -> None:
        if getattr(self.config, "sigma_max", 1.0) <= 0:
            self.sigma_max_data.fill_(max(sigma_max_from_data(z), 2 * self.config.sigma_min))
        self._weights = None
        if getattr(self.config, "importance_sampling", False):
            self._weights = _ImportanceTime(self.sde, self.config.eps)
        super()._fit(z, y, spec)

    def loss(self, z: torch.Tensor, y: torch.Tensor | None, *, generator=None) -> torch.Tensor:
        """Per-sample DSM loss (Song et al. 2021, Eq. 7), shape (B,)."""
        c, score = self.config, self.score_fn(self._drop_labels(y))
        if getattr(self, "_weights", None) is not None:
            t, iw = self._weights(len(z), z.dtype)
            return dsm_loss(score, self.sde, z, t=t) * iw / (self.sde.T - c.eps)  # E_q[w/q ...] = E_U[w ...]
        return dsm_loss(score, self.sde, z, eps=c.eps, likelihood_weighting=c.likelihood_weighting)

    # ------------------------------------------------------------------ sampling, likelihood, imputation
    def _process(self, sampler: str):
        """The ``sde`` argument a sampler needs: the SDE (the ladder for ncsn's ald)."""
        if sampler == "ald":
            raise ConfigError(f"sampler 'ald' needs a discrete noise ladder: use it with 'ncsn', not '{self.name}'")
        return self.sde

    def _score_for(self, process, y, guidance):
        """The score in the argument convention of ``process`` (times for SDEs)."""
        return self.score_fn(y, guidance)

    def _sampler(self, sampler: str | None, opts: dict):
        """(name, function) of the requested sampler; unknown options raise ConfigError."""
        name = sampler or self.config.sampler or self.default_sampler
        fn = get_sampler(name)
        allowed = set(inspect.signature(fn).parameters) - {"score_fn", "x", "sde", "steps", "callback", "generator"}
        unknown = sorted(set(opts) - allowed)
        if unknown:
            raise ConfigError(f"unknown option{'s' if len(unknown) > 1 else ''} {', '.join(unknown)} for sampler "
                              f"'{name}'; valid: sampler, steps, guidance, {', '.join(sorted(allowed))}")
        return name, fn

    def run_sampler(self, n, y=None, *, sampler=None, steps=None, guidance=0.0, callback=None, init=None, **opts):
        """Draw ``n`` rows (standardised space) from ``sampler``; ``init(process, x)`` may edit the prior draw."""
        name, fn = self._sampler(sampler, opts)
        process = self._process(name)
        if steps is None and name != "ode" and not (name == "ald" and "n_steps_each" in opts):
            steps = self.config.sample_steps
        if steps is not None:
            opts = {**opts, "steps": steps}
        counted = CountingScore(self._score_for(process, y, guidance))
        x = process.prior_sample((n, self.dim))
        if init is not None:
            x = init(process, x)
        with torch.no_grad():
            out = fn(counted, x, process, callback=callback, **opts)
        self.last_nfe = counted.nfe
        return out

    def _sample(self, n, y, *, generator=None, **opts) -> torch.Tensor:
        return self.run_sampler(n, y, **opts)

    def _log_prob(self, z, y, *, rtol=1e-5, atol=1e-5, eps=None, method="dopri5", divergence="auto", probes=1, guidance=0.0, generator=None, **opts) -> torch.Tensor:
        if opts:
            raise ConfigError(f"unknown log_prob option(s) {', '.join(sorted(opts))} for '{self.name}'; valid: "
                              "rtol, atol, eps, method, divergence, probes, guidance")
        res = ode_log_likelihood(self.score_fn(y, guidance), self.sde, z, rtol=rtol, atol=atol,
                                 eps=self.config.eps if eps is None else float(eps), method=method,
                                 divergence=divergence, probes=probes, exact_max_dim=self.config.exact_max_dim)
        self.last_nfe = res.nfe
        return res.logp

    def _impute(self, z, mask, *, method="mean", n_samples=8, sampler=None, steps=None, generator=None, **opts) -> torch.Tensor:
        return replacement_impute(self, z, mask, method=method, n_samples=n_samples, sampler=sampler, steps=steps,
                                  opts=opts)


@register
class VESDEModel(ScoreModel):
    """Variance-exploding SDE (Song et al. 2021, Eq. 30); sigma from 0.01 to the data's largest distance."""

    name = "ve_sde"
    Config = VEConfig


@register
class VPSDEModel(ScoreModel):
    """Variance-preserving SDE (Song et al. 2021, Eq. 32), beta from 0.1 to 20."""

    name = "vp_sde"
    Config = VPConfig


@register
class SubVPSDEModel(ScoreModel):
    """Sub-VP SDE (Song et al. 2021, Eq. 34), beta from 0.1 to 20."""

    name = "subvp_sde"
    Config = VPConfig


@register
class NCSN(ScoreModel):
    """Noise-conditional score network (Song & Ermon 2019) on a geometric ladder, annealed Langevin sampling."""

    name = "ncsn"
    Config = NCSNConfig
    default_sampler = "ald"

    @property
    def ladder(self) -> NoiseLadder:
        return NoiseLadder.geometric(self.config.sigma_min, self._sigma_max(), self.config.num_levels)

    def _process(self, sampler: str):
        return self.ladder if sampler == "ald" else self.sde

    def _score_for(self, process, y, guidance):
        score = self.score_fn(y, guidance)
        if not isinstance(process, NoiseLadder):
            return score
        lo, hi = math.log(self.config.sigma_min), math.log(self._sigma_max())
        return lambda x, sigma: score(x, (torch.log(sigma) - lo) / (hi - lo))  # t of the VE SDE with sigma(t) = sigma

    def loss(self, z, y, *, generator=None):
        """NCSN loss (Song & Ermon 2019, Eq. 5-6) on the ladder, lambda(sigma) = sigma^2."""
        ladder = self.ladder
        return ncsn_loss(self._score_for(ladder, self._drop_labels(y), 0.0), ladder, z)
