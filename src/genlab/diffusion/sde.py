"""Forward SDEs of Song et al. 2021, "Score-Based Generative Modeling through Stochastic Differential Equations".

Each SDE is ``dx = f(x, t) dt + g(t) dw`` on t in [0, T=1] with an affine drift, so the marginal given
the data is Gaussian: ``x_t = alpha(t) x_0 + sigma(t) z`` with ``z ~ N(0, I)`` (paper Eq. 29-33, Appendix B).
Time ``t`` is a scalar or a tensor of shape (N,) (one time per sample); coefficients broadcast over the
remaining dimensions of ``x``. Nothing here knows about networks: scores are plain callables
``score_fn(x, t) -> tensor like x``.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass

import torch

from genlab.errors import ConfigError
from genlab.rng import make_generator, randn, randperm

__all__ = ["Marginal", "SDE", "VESDE", "VPSDE", "SubVPSDE", "ReverseSDE", "sigma_max_from_data"]

ScoreFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def _bcast(c: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Reshape a per-sample coefficient (N,) or scalar so that it broadcasts against ``x`` (N, ...)."""
    return c.reshape(c.shape + (1,) * (x.dim() - c.dim())) if c.dim() else c


def _as_t(t, like: torch.Tensor | None = None) -> torch.Tensor:
    if isinstance(t, torch.Tensor):
        return t.to(like.dtype) if like is not None and like.is_floating_point() else t
    dtype = like.dtype if like is not None else torch.get_default_dtype()
    device = like.device if like is not None else None
    return torch.tensor(float(t), dtype=dtype, device=device)


@dataclass
class Marginal:
    """The Gaussian perturbation kernel p_0t(x_t | x_0) = N(mean, std^2 I); ``std`` has t's shape."""

    mean: torch.Tensor
    std: torch.Tensor


class SDE(ABC):
    """A forward SDE ``dx = f(x, t) dt + g(t) dw`` with affine drift ``f(x, t) = f_coeff(t) x`` and prior at T."""

    T: float = 1.0
    family: str = ""

    # -- coefficients ------------------------------------------------------------------------------
    @abstractmethod
    def marginal_coeffs(self, t) -> tuple[torch.Tensor, torch.Tensor]:
        """(alpha(t), sigma(t)) such that x_t = alpha(t) x_0 + sigma(t) z."""

    @abstractmethod
    def drift_coeff(self, t) -> torch.Tensor:
        """The scalar a(t) in the affine drift f(x, t) = a(t) x."""

    @abstractmethod
    def diffusion(self, t) -> torch.Tensor:
        """The diffusion coefficient g(t)."""

    @abstractmethod
    def prior_std(self) -> float:
        """Standard deviation of the isotropic Gaussian prior p_T."""

    # -- derived -----------------------------------------------------------------------------------
    def drift(self, x: torch.Tensor, t) -> torch.Tensor:
        """f(x, t)."""
        return _bcast(self.drift_coeff(_as_t(t, x)), x) * x

    def marginal(self, x0: torch.Tensor, t) -> Marginal:
        """The perturbation kernel p_0t(x_t | x_0) (Song et al. 2021, Eq. 29 / Appendix B)."""
        alpha, sigma = self.marginal_coeffs(_as_t(t, x0))
        return Marginal(mean=_bcast(alpha, x0) * x0, std=sigma)

    def prior_sample(self, shape, generator: torch.Generator, *, dtype=None, device=None):
        """A draw from the prior p_T = N(0, prior_std^2 I)."""
        return randn(shape, generator, dtype=dtype, device=device) * self.prior_std()

    # -- the sigma form (EDM): x = x_t / alpha(t) = x_0 + sigma n with sigma = sigma(t) / alpha(t) ---------------
    def sigma_of_t(self, t) -> torch.Tensor:
        """The noise level of the sigma form at time t, sigma_t / alpha_t."""
        alpha, sigma = self.marginal_coeffs(_as_t(t))
        return sigma / alpha

    @abstractmethod
    def t_of_sigma(self, sigma) -> torch.Tensor:
        """The inverse of :meth:`sigma_of_t`."""

    def alpha(self, t) -> torch.Tensor:
        return self.marginal_coeffs(_as_t(t))[0]

    def prior_logp(self, z: torch.Tensor) -> torch.Tensor:
        """log p_T(z) summed over all but the first dimension, shape (N,)."""
        s = self.prior_std()
        d = z[0].numel()
        sq = z.reshape(z.shape[0], -1).pow(2).sum(-1)
        return -0.5 * d * math.log(2 * math.pi * s * s) - 0.5 * sq / (s * s)

    def discretize(self, x: torch.Tensor, t, dt: float) -> tuple[torch.Tensor, torch.Tensor]:
        """Forward step from t - dt to t as ``x_t = x + f + G z`` (Euler-Maruyama by default; dt > 0)."""
        t = _as_t(t, x)
        return self.drift(x, t) * dt, self.diffusion(t) * math.sqrt(dt)

    def reverse(self, score_fn: ScoreFn, probability_flow: bool = False) -> ReverseSDE:
        """The reverse-time SDE (Eq. 6) or the probability-flow ODE (Eq. 13) for the given score."""
        return ReverseSDE(self, score_fn, probability_flow)


class ReverseSDE:
    """``dx = [f(x, t) - c g(t)^2 s(x, t)] dt + [probability_flow ? 0 : g(t)] dw_bar`` with c = 1 or 1/2.

    Time runs backwards (dt < 0); ``drift`` returns the bracket, to be multiplied by a negative dt.
    """

    def __init__(self, sde: SDE, score_fn: ScoreFn, probability_flow: bool = False):
        self.sde, self.score_fn, self.probability_flow = sde, score_fn, probability_flow
        self._c = 0.5 if probability_flow else 1.0

    def drift(self, x: torch.Tensor, t) -> torch.Tensor:
        t = _as_t(t, x)
        g2 = _bcast(self.sde.diffusion(t) ** 2, x)
        return self.sde.drift(x, t) - self._c * g2 * self.score_fn(x, t)

    def diffusion(self, t) -> torch.Tensor:
        g = self.sde.diffusion(t)
        return torch.zeros_like(g) if self.probability_flow else g

    def discretize(self, x: torch.Tensor, t, dt: float) -> tuple[torch.Tensor, torch.Tensor]:
        """Reverse-diffusion step from t to t - dt (Eq. 46, Appendix E): ``x <- x - f_rev + G_rev z``."""
        t = _as_t(t, x)
        f, G = self.sde.discretize(x, t, dt)
        G = _bcast(G, x)
        rev_f = f - self._c * G**2 * self.score_fn(x, t)
        rev_G = torch.zeros_like(G) if self.probability_flow else G
        return rev_f, rev_G


class VESDE(SDE):
    """Variance-exploding SDE (SMLD limit), Song et al. 2021 Eq. 30.

    sigma(t) = sigma_min (sigma_max / sigma_min)^t,  f = 0,  g(t) = sigma(t) sqrt(2 log(sigma_max / sigma_min)).
    As in the reference implementation (score_sde) the marginal std is sigma(t) itself: p_0 is the data
    convolved with N(0, sigma_min^2 I), the smallest noise level the score model sees. The paper's advice
    (Song & Ermon 2020, Technique 1) is sigma_max ~ the largest pairwise distance of the data
    (:func:`sigma_max_from_data`); the default 50 is score_sde's CIFAR-10 value.
    """

    family = "ve"

    def __init__(self, sigma_min: float = 0.01, sigma_max: float = 50.0):
        if not (0 < sigma_min < sigma_max):
            raise ConfigError(f"VESDE needs 0 < sigma_min < sigma_max, got sigma_min={sigma_min}, sigma_max={sigma_max}")
        self.sigma_min, self.sigma_max = float(sigma_min), float(sigma_max)
        self._log_ratio = math.log(self.sigma_max / self.sigma_min)

    def sigma(self, t) -> torch.Tensor:
        return self.sigma_min * torch.exp(_as_t(t) * self._log_ratio)

    def marginal_coeffs(self, t):
        s = self.sigma(t)
        return torch.ones_like(s), s

    def drift_coeff(self, t):
        return torch.zeros_like(_as_t(t))

    def diffusion(self, t):
        return self.sigma(t) * math.sqrt(2 * self._log_ratio)

    def prior_std(self) -> float:
        return self.sigma_max

    def t_of_sigma(self, sigma):
        return torch.log(torch.as_tensor(sigma) / self.sigma_min) / self._log_ratio

    def discretize(self, x, t, dt):
        """SMLD step (Appendix E): f = 0, G = sqrt(sigma(t)^2 - sigma(t - dt)^2), as score_sde's sde_lib."""
        t = _as_t(t, x)
        prev = torch.clamp(t - dt, min=0.0)
        G = torch.sqrt(torch.clamp(self.sigma(t) ** 2 - self.sigma(prev) ** 2, min=0.0))
        return torch.zeros_like(x), G

    def __repr__(self):
        return f"VESDE(sigma_min={self.sigma_min}, sigma_max={self.sigma_max})"


class _BetaSDE(SDE):
    """Shared linear schedule beta(t) = beta_min + t (beta_max - beta_min) of VP and sub-VP."""

    def __init__(self, beta_min: float = 0.1, beta_max: float = 20.0):
        if not (0 <= beta_min < beta_max):
            raise ConfigError(f"{type(self).__name__} needs 0 <= beta_min < beta_max, got {beta_min}, {beta_max}")
        self.beta_min, self.beta_max = float(beta_min), float(beta_max)

    def beta(self, t) -> torch.Tensor:
        return self.beta_min + _as_t(t) * (self.beta_max - self.beta_min)

    def int_beta(self, t) -> torch.Tensor:
        """B(t) = int_0^t beta(s) ds."""
        t = _as_t(t)
        return self.beta_min * t + 0.5 * t * t * (self.beta_max - self.beta_min)

    def drift_coeff(self, t):
        return -0.5 * self.beta(t)

    def t_of_int_beta(self, B) -> torch.Tensor:
        """The time t with B(t) = ``B`` (the positive root of beta_min t + (beta_max - beta_min) t^2 / 2 = B)."""
        d = self.beta_max - self.beta_min
        return 2 * B / (self.beta_min + torch.sqrt(self.beta_min**2 + 2 * d * B))

    def prior_std(self) -> float:
        return 1.0

    def __repr__(self):
        return f"{type(self).__name__}(beta_min={self.beta_min}, beta_max={self.beta_max})"


class VPSDE(_BetaSDE):
    """Variance-preserving SDE (DDPM limit), Song et al. 2021 Eq. 32-33.

    f = -beta(t) x / 2, g = sqrt(beta(t)); alpha(t) = exp(-B(t)/2), sigma(t) = sqrt(1 - exp(-B(t))).
    """

    family = "vp"

    def marginal_coeffs(self, t):
        B = self.int_beta(t)
        return torch.exp(-0.5 * B), torch.sqrt(-torch.expm1(-B))

    def diffusion(self, t):
        return torch.sqrt(self.beta(t))

    def t_of_sigma(self, sigma):
        """sigma = sqrt(e^B - 1), so B = log(1 + sigma^2)."""
        return self.t_of_int_beta(torch.log1p(torch.as_tensor(sigma) ** 2))

    def discretize(self, x, t, dt):
        """DDPM step (Ho et al. 2020; score_sde's VPSDE.discretize): f = (sqrt(1 - b_i) - 1) x, G = sqrt(b_i).

        b_i = 1 - exp(-(B(t) - B(t - dt))) is the exact one-step beta, ~ beta(t) dt for small dt.
        """
        t = _as_t(t, x)
        b = -torch.expm1(-(self.int_beta(t) - self.int_beta(torch.clamp(t - dt, min=0.0))))
        return (_bcast(torch.sqrt(1 - b), x) - 1) * x, torch.sqrt(b)


class SubVPSDE(_BetaSDE):
    """Sub-VP SDE, Song et al. 2021 Eq. 34: f = -beta x / 2, g = sqrt(beta (1 - exp(-2 B(t)))).

    alpha(t) = exp(-B(t)/2), sigma(t) = 1 - exp(-B(t)) (Eq. 35). Discretised by Euler-Maruyama.
    """

    family = "subvp"

    def marginal_coeffs(self, t):
        B = self.int_beta(t)
        return torch.exp(-0.5 * B), -torch.expm1(-B)

    def diffusion(self, t):
        return torch.sqrt(self.beta(t) * -torch.expm1(-2 * self.int_beta(t)))

    def t_of_sigma(self, sigma):
        """sigma = (1 - e^-B) e^(B/2) = 2 sinh(B/2), so B = 2 asinh(sigma / 2)."""
        return self.t_of_int_beta(2 * torch.asinh(torch.as_tensor(sigma) / 2))


def sigma_max_from_data(x: torch.Tensor, max_points: int = 2000, generator: torch.Generator | None = None) -> float:
    """Largest pairwise Euclidean distance of the data (Song & Ermon 2020, Technique 1).

    Above ``max_points`` rows a random subsample of that size is used (a slight underestimate), drawn from
    ``generator`` (default: a generator with seed 0, so the result depends on the data alone).
    """
    x = torch.as_tensor(x).reshape(len(x), -1).double()
    if len(x) > max_points:
        idx = randperm(len(x), generator if generator is not None else make_generator(0))[:max_points]
        x = x[idx]
    if len(x) < 2:
        return 0.0
    return float(torch.cdist(x, x).max())
