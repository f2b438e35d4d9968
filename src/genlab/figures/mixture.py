"""Isotropic Gaussian mixtures with every quantity in closed form: the known answers of the figures and tests.

p(x) = sum_k w_k N(x; mu_k, s^2 I). Perturbed by x_t = alpha x_0 + sigma z (any SDE of :mod:`genlab.diffusion.sde`,
or the sigma form alpha = 1) it stays a mixture, sum_k w_k N(x; alpha mu_k, (alpha^2 s^2 + sigma^2) I), so its
log-density, score grad_x log p_t(x) = -sum_k r_k(x) (x - alpha mu_k) / v and component posterior r_k(x) = p(k | x)
are exact at every noise level.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from genlab.rng import rand, randn

__all__ = ["GaussianMixture", "TWO_MODES", "EIGHT_MODES"]


def _col(c, x: torch.Tensor) -> torch.Tensor:
    c = torch.as_tensor(c, dtype=x.dtype, device=x.device)
    return c.reshape(-1, 1) if c.ndim else c


@dataclass(frozen=True)
class GaussianMixture:
    """sum_k weights[k] N(means[k], std^2 I); ``weights`` (K,), ``means`` (K, D)."""

    weights: tuple[float, ...]
    means: tuple[tuple[float, ...], ...]
    std: float

    @property
    def dim(self) -> int:
        return len(self.means[0])

    def _params(self, x: torch.Tensor):
        return (torch.tensor(self.weights, dtype=x.dtype, device=x.device),
                torch.tensor(self.means, dtype=x.dtype, device=x.device))

    def _parts(self, x, alpha=1.0, sigma=0.0):
        """(log w_k N(x; alpha mu_k, v I) (N, K), diff x - alpha mu_k (N, K, D), v (N, 1))."""
        w, mu = self._params(x)
        a, s = _col(alpha, x), _col(sigma, x)
        v = a**2 * self.std**2 + s**2
        v = v.expand(len(x), 1) if v.ndim else v.reshape(1, 1).expand(len(x), 1)
        diff = x[:, None, :] - (a[..., None] if a.ndim else a) * mu[None]
        logc = torch.log(w)[None] - 0.5 * diff.pow(2).sum(-1) / v - 0.5 * x.shape[1] * torch.log(2 * math.pi * v)
        return logc, diff, v

    def log_prob(self, x: torch.Tensor, sigma=0.0, alpha=1.0) -> torch.Tensor:
        """log p(x) (N,) of the mixture perturbed by alpha x_0 + sigma z (scalars or (N,) tensors)."""
        return torch.logsumexp(self._parts(x, alpha, sigma)[0], 1)

    def posterior(self, x: torch.Tensor, sigma=0.0, alpha=1.0) -> torch.Tensor:
        """p(k | x) (N, K) under the perturbed mixture."""
        return torch.softmax(self._parts(x, alpha, sigma)[0], 1)

    def score(self, x: torch.Tensor, sigma=0.0, alpha=1.0) -> torch.Tensor:
        """grad_x log p(x) (N, D) of the perturbed mixture."""
        logc, diff, v = self._parts(x, alpha, sigma)
        r = torch.softmax(logc, 1)
        return -(r[..., None] * diff).sum(1) / v

    def t_score(self, sde):
        """The exact score s(x_t, t) of the mixture under the forward ``sde``, for the SDE samplers."""

        def fn(x, t):
            alpha, sigma = sde.marginal_coeffs(torch.as_tensor(t, dtype=x.dtype).expand(len(x)))
            return self.score(x, sigma, alpha)

        return fn

    def class_grad(self, x: torch.Tensor, sigma, y: torch.Tensor) -> torch.Tensor:
        """grad_x log p(y | x, sigma) (N, D) in the sigma form: the exact classifier-guidance term."""
        logc, diff, v = self._parts(x, 1.0, sigma)
        r = torch.softmax(logc, 1)
        own = -diff[torch.arange(len(x)), y] / v
        return own + (r[..., None] * diff).sum(1) / v

    def sample(self, n: int, generator: torch.Generator, dtype=torch.float32) -> tuple[torch.Tensor, torch.Tensor]:
        """(x (n, D), component labels (n,))."""
        w, mu = self._params(torch.zeros((), dtype=dtype))
        labels = torch.searchsorted(torch.cumsum(w, 0), rand((n,), generator, dtype=dtype) * w.sum(), right=True)
        labels = labels.clamp_max(len(w) - 1)
        return mu[labels] + self.std * randn((n, self.dim), generator, dtype=dtype), labels


#: the two-component mixture of Song & Ermon 2019, Fig. 3: 0.2 N((-5, -5), I) + 0.8 N((5, 5), I)
TWO_MODES = GaussianMixture((0.2, 0.8), ((-5.0, -5.0), (5.0, 5.0)), 1.0)
#: eight equally weighted modes on a circle of radius 2 (std 0.3): the learned-score figures' data
EIGHT_MODES = GaussianMixture(tuple([1 / 8] * 8),
                              tuple((2 * math.cos(2 * math.pi * k / 8), 2 * math.sin(2 * math.pi * k / 8))
                                    for k in range(8)), 0.3)
