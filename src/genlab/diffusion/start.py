"""The sampling start of the sigma-form samplers: where unit-Gaussian noise eps becomes the first state x at sigma_0.

In the sigma form x = x_0 + sigma n (Karras et al. 2022, Eq. 1 with s(t) = 1) the marginal at the first grid level
sigma_0 is the data convolved with N(0, sigma_0^2 I). Its Gaussian approximation with the data's mean m and covariance
C is N(m, C + sigma_0^2 I), and the samplers start from

    x = m + (C + sigma_0^2 I)^(1/2) eps,        eps = (C + sigma_0^2 I)^(-1/2) (x - m),   eps ~ N(0, I)

(the symmetric square root, so both directions are one map and its inverse). For large D, C is kept in a low-rank
eigen form: the top ``rank`` principal directions U with their variances lambda, and the mean variance r of the rest,
C ~ U diag(lambda) U^T + r (I - U U^T); then (C + s^2 I)^(1/2) = U diag(sqrt(lambda + s^2)) U^T + sqrt(r + s^2)
(I - U U^T), which costs O(D rank) per row.

Why not isotropic: genlab's samplers start at sigma_0 = 5 (``sample_sigma_max``), where an isotropic
N(0, (sigma_0^2 + 1) I) under-disperses correlated data (standardised digits with the exact Gaussian denoiser: the
variance along the top principal component came out 0.79 of the data's, 0.99 from N(m, C + 25 I), 16 dpmpp_2m
steps; benchmarks/sampling_start.py). A
:class:`SamplingStart` of ``rank=0`` is that isotropic start (checkpoints made before format version 5), and one
with rank > 0 that has not been fitted is numerically the same start.

Chosen by measurement on tuning sets no doc reports (mnist1d, diabetes, a correlated 32-D Gaussian with its exact
denoiser; benchmarks/results/sampling_start.md), edm and vp_sde at 1500 steps, 16 dpmpp_2m steps: SW2 to the test
rows, isotropic at 5 / own prior at sigma_max / this at 5: mnist1d edm 0.078 / 0.072 / 0.062, vp_sde 0.072 / 0.885 /
0.065 (vp_sde's grid from sigma_max = 152 fails at 16 steps); at sigma_0 = 3 it is within 0.003 of sigma_0 = 5.
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["SamplingStart", "START_RANK", "covariance_eigen"]

START_RANK = 64  # principal directions kept (all of them up to 64 dimensions): 64 x D numbers in a checkpoint
_FULL_MAX = 1024  # up to this dimension the covariance is decomposed exactly; above it by subspace iteration
_ROWS = 4096  # rows used to estimate the covariance (an even stride through the training data); half above _FULL_MAX


def covariance_eigen(z: torch.Tensor, rank: int, extra_var: torch.Tensor | None = None, *, iters: int = 8,
                     full_max: int = _FULL_MAX) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """(mean (D,), basis (D, k), variances (k,), rest ()) of the rows of ``z`` (N, D), k = min(rank, D), with
    ``extra_var`` (D,) added to the covariance's diagonal (the variance of dequantization noise).

    Exact eigen-decomposition (float64) up to ``full_max`` dimensions; above it, block subspace iteration started
    from the first k + 8 centred rows (deterministic: no random draw), then Rayleigh-Ritz: near-equal eigenvalues
    may come out mixed, which leaves the start's covariance on their span almost the same."""
    z = z.detach().reshape(len(z), -1).to("cpu", torch.float64)
    n, d = z.shape
    k = min(int(rank), d)
    rows = _ROWS if d <= full_max else _ROWS // 2
    if n > rows:
        z = z[torch.linspace(0, n - 1, rows).round().long()]
    mean = z.mean(0)
    x = z - mean
    extra = torch.zeros(d, dtype=torch.float64) if extra_var is None else extra_var.detach().to("cpu", torch.float64)
    denom = max(len(x) - 1, 1)
    total = float(x.pow(2).sum() / denom + extra.sum())
    if d <= full_max:
        cov = x.T @ x / denom + torch.diag(extra)
        lam, vec = torch.linalg.eigh(cov)
        lam, vec = lam.flip(0)[:k], vec.flip(1)[:, :k]
    else:
        def apply(v):
            return x.T @ (x @ v) / denom + extra[:, None] * v

        block = min(d, k + 8)  # a few extra columns: the top k converge faster
        init = torch.eye(d, block, dtype=torch.float64)
        init[:, : min(block, len(x))] += x[:block].T
        q = torch.linalg.qr(init)[0]
        for _ in range(int(iters)):
            q = torch.linalg.qr(apply(q))[0]
        lam, w = torch.linalg.eigh(q.T @ apply(q))
        lam, vec = lam.flip(0)[:k], (q @ w.flip(1))[:, :k]
    lam = lam.clamp_min(0.0)
    rest = (total - float(lam.sum())) / (d - k) if d > k else total / d
    return mean, vec, lam, torch.tensor(max(rest, 0.0), dtype=torch.float64)


class SamplingStart(nn.Module):
    """The map eps -> x at sigma_0 and its inverse (see the module docstring); buffers ``mean``, ``basis``, ``var``
    and ``rest`` (checkpointed with the model). ``rank=0``: the isotropic start sqrt(sigma_0^2 + 1) eps of
    standardised data, with no buffers."""

    def __init__(self, dim: int, rank: int = START_RANK):
        super().__init__()
        self.rank = min(int(rank), int(dim))
        if self.rank > 0:  # unfitted: C = I, numerically the isotropic start
            self.register_buffer("mean", torch.zeros(dim))
            self.register_buffer("basis", torch.zeros(dim, self.rank))
            self.register_buffer("var", torch.ones(self.rank))
            self.register_buffer("rest", torch.ones(()))

    def fit(self, z: torch.Tensor, extra_var: torch.Tensor | None = None) -> SamplingStart:
        """Estimate the mean and covariance from the rows of ``z`` (standardised training data); no-op for rank 0."""
        if self.rank > 0:
            with torch.no_grad():
                for buf, value in zip((self.mean, self.basis, self.var, self.rest),
                                      covariance_eigen(z, self.rank, extra_var), strict=True):
                    buf.copy_(value.to(buf.dtype))
        return self

    def _scales(self, sigma, ref: torch.Tensor) -> tuple[float, torch.Tensor]:
        s2 = torch.as_tensor(sigma).detach().to("cpu", torch.float64) ** 2
        if self.rank == 0:
            return float(torch.sqrt(s2 + 1)), None
        rest = float(torch.sqrt(s2 + self.rest.detach().to("cpu", torch.float64)))
        lead = torch.sqrt(s2 + self.var.detach().to(torch.float64)).to(ref.device, ref.dtype)
        return rest, lead

    def to_start(self, eps: torch.Tensor, sigma) -> torch.Tensor:
        """x = m + (C + sigma^2 I)^(1/2) eps for unit noise ``eps`` (N, D) at the level ``sigma``."""
        b, a = self._scales(sigma, eps)
        if a is None:
            return b * eps
        u = self.basis.to(eps.device, eps.dtype)
        return b * eps + self.mean.to(eps.device, eps.dtype) + ((eps @ u) * (a - b)) @ u.T

    def to_noise(self, x: torch.Tensor, sigma) -> torch.Tensor:
        """eps = (C + sigma^2 I)^(-1/2) (x - m): the unit noise that :meth:`to_start` maps to ``x``."""
        b, a = self._scales(sigma, x)
        if a is None:
            return x / b
        u = self.basis.to(x.device, x.dtype)
        e = x - self.mean.to(x.device, x.dtype)
        return e / b + ((e @ u) * (1 / a - 1 / b)) @ u.T
