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

from genlab.rng import randint

__all__ = ["batch_jacobian", "divergence", "divergence_exact", "divergence_hutchinson", "rademacher",
           "value_and_divergence"]


def rademacher(like: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """A tensor shaped like ``like`` with i.i.d. +-1 entries, probability 1/2 each, drawn from ``generator``."""
    return (randint(0, 2, like.shape, generator, device=like.device) * 2 - 1).to(like.dtype)


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
    generator: torch.Generator | None = None,
    create_graph: bool = False,
) -> torch.Tensor:
    """tr(df/dz) per row: ``method`` "exact" or "hutchinson" (with probe ``eps``, or a Rademacher draw from
    ``generator``, one of which is required)."""
    if method == "exact":
        return divergence_exact(f, z, create_graph=create_graph)
    if method == "hutchinson":
        if eps is None and generator is None:
            raise ValueError("a Hutchinson divergence needs a probe eps or a generator to draw one")
        eps = rademacher(z, generator) if eps is None else eps
        return divergence_hutchinson(f, z, eps, create_graph=create_graph)[0]
    from genlab.errors import ConfigError

    raise ConfigError(f"divergence method must be 'exact' or 'hutchinson', got {method!r}")


def value_and_divergence(fn, x: torch.Tensor, *, probes: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """``fn(x)`` and its divergence per row for ``x`` (N, D), no graph kept (likelihood evaluation).

    One forward pass and one batched backward pass (``is_grads_batched``, i.e. vmap over vector-Jacobian products):
    exact (``probes=None``): the D products e_i^T J give the Jacobian's rows and tr J = sum_i (e_i^T J)_i;
    Hutchinson (``probes`` (K, N, D)): tr J ~ mean_k v_k^T J v_k (Hutchinson 1990). Measured on a 2-D MLP field:
    about 2.5 forward passes in all, against about 10 for forward-mode ``torch.func.jvp`` in torch 2.13.
    """
    x = x.detach()
    with torch.enable_grad():
        y = x.requires_grad_(True)
        out = fn(y)
        if probes is None:
            d = x.shape[1]
            v = torch.eye(d, dtype=x.dtype, device=x.device).unsqueeze(1).expand(d, *x.shape)
        else:
            v = probes.to(x.dtype)
        (g,) = torch.autograd.grad(out, y, grad_outputs=v, is_grads_batched=True)
    if probes is None:
        return out.detach(), g.diagonal(dim1=0, dim2=2).sum(-1).detach()
    return out.detach(), (g * v).sum(-1).mean(0).detach()
