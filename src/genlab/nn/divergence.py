"""Divergence of a vector field, tr(df/dz), exactly or by Hutchinson's estimator.

Needed by every continuous-time likelihood (the instantaneous change of variables of Chen et al.
2018, Theorem 1: d log p(z(t))/dt = -tr(df/dz(t))), i.e. by CNFs (FFJORD, Grathwohl et al. 2019)
and by the probability-flow ODE of score-based models (Song et al. 2021).

- exact: D vector-Jacobian products, one per coordinate, tr = sum_i (df_i/dz_i);
- Hutchinson (1990): tr(J) = E[eps^T J eps] for any probe with E[eps eps^T] = I; one vector-Jacobian
  product eps^T J per probe. Rademacher probes (entries +-1) give the lowest variance among i.i.d.
  probes (FFJORD Sec. 3.1). The same product also gives ||eps^T J||^2, an unbiased estimate of the
  Jacobian's squared Frobenius norm (the RNODE regulariser, Finlay et al. 2020, Eq. 5).

``f`` must have been computed from ``z`` with autograd enabled. Pass ``create_graph=True`` when the
result itself must be differentiated (training, or gradients of log p with respect to z).
"""

from __future__ import annotations

import torch

__all__ = ["batch_jacobian", "divergence", "divergence_exact", "divergence_hutchinson", "rademacher",
           "value_and_divergence"]


def rademacher(like: torch.Tensor) -> torch.Tensor:
    """A tensor shaped like ``like`` with i.i.d. +-1 entries, probability 1/2 each (global torch RNG)."""
    return torch.randint_like(like, 0, 2) * 2 - 1


def batch_jacobian(f: torch.Tensor, z: torch.Tensor, *, create_graph: bool = False) -> torch.Tensor:
    """J[n, i, j] = df_i/dz_j (N, D, D) for ``f``, ``z`` (N, D) whose rows are independent. Costs D backward passes."""
    rows = []
    for i in range(f.shape[1]):
        (g,) = torch.autograd.grad(f[:, i].sum(), z, create_graph=create_graph, retain_graph=True)
        rows.append(g)
    return torch.stack(rows, 1)


def divergence_exact(f: torch.Tensor, z: torch.Tensor, *, create_graph: bool = False) -> torch.Tensor:
    """sum_i df_i/dz_i, (N,), from the exact Jacobian (D backward passes)."""
    return batch_jacobian(f, z, create_graph=create_graph).diagonal(dim1=1, dim2=2).sum(1)


def divergence_hutchinson(
    f: torch.Tensor, z: torch.Tensor, eps: torch.Tensor, *, create_graph: bool = False
) -> tuple[torch.Tensor, torch.Tensor]:
    """Hutchinson's estimate eps^T (df/dz) eps, (N,), and the vector-Jacobian product eps^T (df/dz), (N, D)."""
    (vjp,) = torch.autograd.grad(f, z, grad_outputs=eps, create_graph=create_graph, retain_graph=True)
    return (vjp * eps).sum(1), vjp


def divergence(
    f: torch.Tensor,
    z: torch.Tensor,
    *,
    method: str = "exact",
    eps: torch.Tensor | None = None,
    create_graph: bool = False,
) -> torch.Tensor:
    """tr(df/dz) per row: ``method`` "exact" or "hutchinson" (with probe ``eps``, default a fresh Rademacher draw)."""
    if method == "exact":
        return divergence_exact(f, z, create_graph=create_graph)
    if method == "hutchinson":
        eps = rademacher(z) if eps is None else eps
        return divergence_hutchinson(f, z, eps, create_graph=create_graph)[0]
    from genlab.errors import ConfigError

    raise ConfigError(f"divergence method must be 'exact' or 'hutchinson', got {method!r}")


def value_and_divergence(fn, x: torch.Tensor, *, probes: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """``fn(x)`` and its divergence per row, by forward-mode differentiation (``torch.func.jvp``); no graph kept.

    ``fn`` maps (M, D) to (M, D) row by row (rows independent, any batch size M). Exact (``probes=None``): the D
    Jacobian-vector products J e_i are one batched jvp over the rows repeated D times, and tr J = sum_i (J e_i)_i;
    this costs about three forward passes of D N rows, and no backward pass. Hutchinson (``probes`` (K, N, D)):
    tr J ~ mean_k v_k^T J v_k, again by one batched jvp.
    """
    from torch.func import jvp

    n, d = x.shape
    x = x.detach()
    if probes is None:
        eye = torch.eye(d, dtype=x.dtype, device=x.device)
        tangents = eye.repeat_interleave(n, 0)  # row i * n + r: direction e_i for sample r
        out, jv = jvp(fn, (x.repeat(d, 1),), (tangents,))
        div = (jv * tangents).sum(1).reshape(d, n).sum(0)
        return out[:n].detach(), div.detach()
    k = probes.shape[0]
    v = probes.reshape(k * n, d).to(x.dtype)
    out, jv = jvp(fn, (x.repeat(k, 1),), (v,))
    return out[:n].detach(), (jv * v).sum(1).reshape(k, n).mean(0).detach()
