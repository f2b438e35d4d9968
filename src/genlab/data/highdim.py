"""Higher-dimensional synthetic sets with closed-form densities: gmm10 and funnel (10-D) and funnel6 (6-D).

``*_log_prob(x)`` returns the exact log-density in nats, float32 ``(N,)`` (float64 inside, finite everywhere);
``*_sample(n, generator)`` returns ``(x float32 (n, 10), labels int64 (n,) or None)``.
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
import torch

__all__ = [
    "GMM10",
    "FUNNEL",
    "gmm10_params",
    "gmm10_moments",
    "gmm10_log_prob",
    "gmm10_sample",
    "funnel_log_prob",
    "funnel_sample",
]

F64 = torch.float64
LOG_2PI = math.log(2.0 * math.pi)

#: 5 equally weighted 10-D Gaussians; means at distance `radius` from 0 in random directions, full covariances
#: Q diag(lambda) Q^T with Q a random rotation and lambda ~ U[eig_min, eig_max]; all drawn from numpy seed `seed`.
GMM10 = {"dim": 10, "components": 5, "radius": 4.0, "eig_min": 0.1, "eig_max": 1.0, "seed": 20240611}
#: Neal's funnel: v ~ N(0, 3^2), x_1..x_9 | v ~ N(0, e^v) independently; coordinates ordered (v, x_1, ..., x_9).
FUNNEL = {"dim": 10, "v_std": 3.0}


@lru_cache(maxsize=1)
def gmm10_params() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(weights (K,), means (K, D), covariances (K, D, D)) in float64, fixed by ``GMM10['seed']``."""
    p = GMM10
    rng = np.random.default_rng(p["seed"])
    d, k = p["dim"], p["components"]
    dirs = rng.standard_normal((k, d))
    means = p["radius"] * dirs / np.linalg.norm(dirs, axis=1, keepdims=True)
    covs = []
    for _ in range(k):
        q, r = np.linalg.qr(rng.standard_normal((d, d)))
        q = q * np.sign(np.diag(r))[None]
        lam = rng.uniform(p["eig_min"], p["eig_max"], d)
        c = (q * lam[None]) @ q.T
        covs.append((c + c.T) / 2)
    w = torch.full((k,), 1.0 / k, dtype=F64)
    return w, torch.from_numpy(means), torch.from_numpy(np.stack(covs))


@lru_cache(maxsize=1)
def _gmm10_chol() -> torch.Tensor:
    return torch.linalg.cholesky(gmm10_params()[2])


def gmm10_moments() -> tuple[torch.Tensor, torch.Tensor]:
    """Exact mean (D,) and covariance (D, D) of gmm10, float64."""
    w, mu, cov = gmm10_params()
    mean = (w[:, None] * mu).sum(0)
    second = (w[:, None, None] * (cov + mu[:, :, None] * mu[:, None, :])).sum(0)
    return mean, second - mean[:, None] * mean[None]


def gmm10_log_prob(x: torch.Tensor) -> torch.Tensor:
    """log p(x) = logsumexp_k [log w_k + log N(x; mu_k, Sigma_k)]."""
    w, mu, _ = gmm10_params()
    chol = _gmm10_chol()
    x = torch.as_tensor(x).to(F64)
    diff = (x[None] - mu[:, None, :]).transpose(1, 2)  # (K, D, N)
    z = torch.linalg.solve_triangular(chol, diff, upper=False)
    half_logdet = torch.diagonal(chol, dim1=1, dim2=2).log().sum(1)
    lp = w.log()[:, None] - 0.5 * (z**2).sum(1) - half_logdet[:, None] - 0.5 * mu.shape[1] * LOG_2PI
    return torch.logsumexp(lp, 0).to(torch.float32)


def gmm10_sample(n: int, g: torch.Generator):
    """Component k ~ w (returned as the label), x = mu_k + L_k N(0, I)."""
    w, mu, _ = gmm10_params()
    chol = _gmm10_chol()
    k = torch.multinomial(w, n, replacement=True, generator=g)
    eps = torch.randn(n, mu.shape[1], generator=g, dtype=F64)
    x = mu[k] + torch.einsum("nij,nj->ni", chol[k], eps)
    return x.to(torch.float32), k


def funnel_log_prob(x: torch.Tensor) -> torch.Tensor:
    """log p = log N(v; 0, 9) + sum_i log N(x_i; 0, e^v), with v = x[:, 0]."""
    x = torch.as_tensor(x).to(F64)
    v, rest = x[:, 0], x[:, 1:]
    s = FUNNEL["v_std"]
    lp_v = -0.5 * (v / s) ** 2 - math.log(s) - 0.5 * LOG_2PI
    quad = torch.where(rest == 0, torch.zeros_like(rest), rest**2 * torch.exp(-v)[:, None])  # no 0 * inf
    lp_x = -0.5 * quad.sum(1) - 0.5 * rest.shape[1] * (v + LOG_2PI)
    return (lp_v + lp_x).to(torch.float32)


def funnel_sample(n: int, g: torch.Generator, dim: int = FUNNEL["dim"]):
    """v = 3 e_0, x_i = exp(v / 2) e_i with e ~ N(0, I), in ``dim`` dimensions. No labels."""
    e = torch.randn(n, dim, generator=g, dtype=F64)
    v = FUNNEL["v_std"] * e[:, 0]
    x = torch.cat([v[:, None], torch.exp(v / 2)[:, None] * e[:, 1:]], 1)
    return x.to(torch.float32), None
