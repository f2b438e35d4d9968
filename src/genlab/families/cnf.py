"""``cnf``: an FFJORD-style continuous normalizing flow (Chen et al. 2018; Grathwohl et al. 2019).

Data x = z(0) flows to the base z(T) ~ N(0, I) along dz/dt = f_theta(z, t), a concat-squash MLP
(FFJORD, Appendix B.1; :mod:`genlab.nn.concat_squash`) or a registered backbone. By the instantaneous change of variables (Chen et al. 2018, Theorem 1),
d log p(z(t))/dt = -tr(df/dz(t)), so

    log p(x) = log N(z(T); 0, I) + int_0^T tr(df/dz(z(t), t)) dt,

solved jointly with z(t) by torchdiffeq's ``odeint`` through :func:`genlab.ode.solve` (dopri5, backpropagation through the solver,
which on small CPU models is faster than the adjoint). The trace is exact (D vector-Jacobian
products) when D <= ``exact_max_dim`` -- then ``likelihood = "exact"`` up to the solver
tolerance -- and Hutchinson's estimator with one Rademacher probe (fixed along each trajectory)
above, where ``likelihood = "estimate"`` (``log_prob(divergence="exact" | "hutchinson")`` overrides; unbiased for the density's log only in the trace; the
log-density estimate itself is unbiased because it is linear in the trace).

Training maximises the likelihood with the same trace rule (exact in low D costs D backward passes,
affordable for D <= 16 and noise-free), loose tolerances (``rtol``/``atol`` 1e-3), and the RNODE
regularisers (Finlay et al. 2020, Eq. 5): lambda_K int ||f||^2 dt + lambda_J int ||df/dz||_F^2 dt,
which keep trajectories straight and the number of function evaluations low. Evaluation defaults
to tolerances 1e-5. Sampling integrates eps ~ N(0, I) from t = T back to 0.

``impute`` runs :func:`genlab.inverse.langevin_impute` (MALA) on the CNF's log-density. Every MALA
step solves the ODE with a differentiable trace, so by default it uses the training tolerances
(1e-3), 100 steps, and, in high D, one Rademacher probe per chain kept fixed for the whole chain
(MALA then targets a fixed, slightly perturbed density instead of a noisy one).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn
from torch.nn.attention import SDPBackend, sdpa_kernel

from genlab.checks import one_of
from genlab.inverse import langevin_impute
from genlab.model import GenerativeModel, NeuralConfig
from genlab.nn.backbones import FlatAdapter, build_backbone, uses_backbone
from genlab.nn.concat_squash import ConcatSquashMLP
from genlab.nn.divergence import jacobian_trace, rademacher
from genlab.ode import check_method, solve
from genlab.registry import bounded, register
from genlab.rng import randn

__all__ = ["CNF", "CNFConfig", "ODEFunc"]

_LOG2PI = 1.8378770664093453
_DIVERGENCES = ("auto", "exact", "hutchinson")


class BackboneField(nn.Module):
    """f(t, z) from a registered backbone ``net(x, t, y=None)`` over the data's own shape (flat rows in and out)."""

    def __init__(self, net: nn.Module, shape: tuple[int, ...]):
        super().__init__()
        self.net = FlatAdapter(net, shape)

    def forward(self, t: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        # training differentiates the divergence (a second backward pass): the fused attention kernels have none
        with sdpa_kernel(SDPBackend.MATH):
            return self.net(z, t.reshape(1).to(z.dtype).expand(len(z)))


class ODEFunc(nn.Module):
    """Right-hand side of the augmented ODE d/dt (z, int tr J, int ||f||^2, int ||J||_F^2) for any field f(t, z).

    ``divergence`` is "exact" or "hutchinson" (with the fixed probe ``eps``); ``create_graph`` keeps the graph of
    the trace (training, or gradients of log p in z); ``regularize`` adds the two RNODE integrands.
    """

    def __init__(self, field: nn.Module):
        super().__init__()
        self.field = field
        self.divergence, self.eps, self.create_graph, self.regularize, self.nfe = "exact", None, False, False, 0

    def forward(self, t: torch.Tensor, state: tuple[torch.Tensor, ...]) -> tuple[torch.Tensor, ...]:
        self.nfe += 1
        z = state[0]
        with torch.enable_grad():
            if not z.requires_grad:
                z = z.detach().requires_grad_(True)
            f = self.field(t, z)
            div, frob = jacobian_trace(f, z, None if self.divergence == "exact" else self.eps[None],
                                       create_graph=self.create_graph, frobenius=True)
        out = (f, div) + ((f.pow(2).sum(1), frob) if self.regularize else ())
        return out if self.create_graph else tuple(o.detach() for o in out)


@dataclass
class CNFConfig(NeuralConfig):
    hidden: int = bounded(64, ge=1)
    depth: int = bounded(3, ge=0)  # hidden concat-squash layers
    activation: str = "tanh"
    end_time: float = bounded(1.0, gt=0)  # T
    exact_max_dim: int = 16  # exact divergence (and likelihood "exact") up to this D; Hutchinson above
    method: str = "dopri5"  # torchdiffeq method used for training (log_prob's ``method=`` sets evaluation's)
    rtol: float = bounded(1e-3, gt=0)  # training tolerances (evaluation uses log_prob's rtol/atol, default 1e-5)
    atol: float = bounded(1e-3, gt=0)
    kinetic: float = 0.01  # RNODE lambda_K
    jacobian: float = 0.01  # RNODE lambda_J
    steps: int = 1000
    lr: float = 5e-3  # measured: 500 steps reach test NLL 2.90 on eight_gaussians (truth 2.81); 1e-3 is far slower
    backbone: str = "mlp"  # "mlp" (the concat-squash MLP above) or a registered backbone (unet, dit, ...) as f(t, z)
    backbone_options: dict[str, Any] = field(default_factory=dict)


@register
class CNF(GenerativeModel):
    """FFJORD continuous normalizing flow; see the module docstring."""

    name = "cnf"
    Config = CNFConfig
    eval_batch = 2048
    smoke = {"fit": {"steps": 5}, "impute": {"steps": 3}}

    def build(self) -> None:
        c = self.config
        check_method(c.method)
        if uses_backbone(c):  # a backbone over the data's own shape (FFJORD's conv nets)
            f = BackboneField(build_backbone(c.backbone, self.shape, **c.backbone_options), self.shape)
        else:
            f = ConcatSquashMLP(self.dim, c.hidden, c.depth, c.activation)
        self.odefunc = ODEFunc(f)
        self.likelihood = "exact" if self.dim <= c.exact_max_dim else "estimate"

    # ------------------------------------------------------------------ the ODE
    def _divergence_method(self, divergence: str) -> str:
        one_of("divergence", divergence, _DIVERGENCES)
        if divergence == "auto":
            return "exact" if self.dim <= self.config.exact_max_dim else "hutchinson"
        return divergence

    def _solve(self, func, state, t0: float, t1: float, rtol: float, atol: float, method: str, steps: int):
        res = solve(func, state, t0, t1, method=method, rtol=rtol, atol=atol, steps=steps)
        self.last_nfe = res.nfe
        return res.y

    def log_density(
        self,
        z: torch.Tensor,
        *,
        rtol: float = 1e-5,
        atol: float = 1e-5,
        method: str = "dopri5",
        steps: int = 50,
        divergence: str = "auto",
        eps: torch.Tensor | None = None,
        generator: torch.Generator | None = None,
        create_graph: bool = False,
        regularize: bool = False,
    ):
        """log p(z) by the augmented ODE; with ``regularize`` also returns the RNODE integrals (K, J), each (N,).

        A Hutchinson trace uses the probe ``eps`` or else one Rademacher probe drawn from ``generator``."""
        f = self.odefunc
        f.divergence, f.create_graph, f.regularize = self._divergence_method(divergence), create_graph, regularize
        f.eps = None
        if f.divergence == "hutchinson":
            if eps is None and generator is None:
                raise ValueError("a Hutchinson trace needs a probe eps or a generator to draw one")
            f.eps = eps if eps is not None else rademacher(z, generator)
        zeros = torch.zeros(z.shape[0], dtype=z.dtype, device=z.device)
        state = (z, zeros) + ((zeros, zeros) if regularize else ())
        out = self._solve(f, state, 0.0, self.config.end_time, rtol, atol, method, steps)
        zT, int_div = out[0], out[1]
        logp = -0.5 * (zT.pow(2).sum(1) + self.dim * _LOG2PI) + int_div
        return (logp, out[2], out[3]) if regularize else logp

    # ------------------------------------------------------------------ hooks
    def loss(self, z: torch.Tensor, y, *, generator: torch.Generator) -> torch.Tensor:
        c = self.config
        reg = c.kinetic > 0 or c.jacobian > 0
        out = self.log_density(z, rtol=c.rtol, atol=c.atol, method=c.method, generator=generator, create_graph=True,
                               regularize=reg)
        if not reg:
            return -out
        logp, kin, frob = out
        return -logp + c.kinetic * kin + c.jacobian * frob

    def _log_prob(self, z, y, *, rtol: float = 1e-5, atol: float = 1e-5, method: str = "dopri5", steps: int = 50,
                  divergence: str = "auto", generator: torch.Generator) -> torch.Tensor:
        with torch.no_grad():
            return self.log_density(z, rtol=rtol, atol=atol, method=method, steps=steps, divergence=divergence,
                                    generator=generator)

    def _grad_log_prob_z(self, z, y, *, generator=None) -> torch.Tensor:
        """grad_z log p(z) by backpropagation through the solver's steps of the augmented ODE (training tolerances)."""
        c = self.config
        with torch.enable_grad():
            x = z.detach().requires_grad_(True)
            logp = self.log_density(x, rtol=c.rtol, atol=c.atol, method=c.method, create_graph=True)
            (g,) = torch.autograd.grad(logp.sum(), x)
        return g

    def _sample(self, n, y, *, rtol: float = 1e-5, atol: float = 1e-5, method: str = "dopri5", steps: int = 50,
                generator: torch.Generator) -> torch.Tensor:
        field = self.odefunc.field
        with torch.no_grad():
            eps = randn((n, self.dim), generator)
            (z,) = self._solve(lambda t, s: (field(t, s[0]),), (eps,), self.config.end_time, 0.0, rtol, atol, method,
                               steps)
        return z

    def _impute(self, z, mask, *, steps: int = 100, step_size: float = 0.05, burn_in: float = 0.5,
                fill: str = "mean", rtol: float | None = None, atol: float | None = None, divergence: str = "auto",
                generator: torch.Generator) -> torch.Tensor:
        c = self.config
        eps = rademacher(z, generator) if self._divergence_method(divergence) == "hutchinson" else None

        def log_prob(x):
            return self.log_density(x, rtol=rtol or c.rtol, atol=atol or c.atol, method=c.method, divergence=divergence,
                                    eps=eps, create_graph=True)

        return langevin_impute(log_prob, z, mask, generator=generator, steps=steps, burn_in=burn_in,
                               step_size=step_size, fill=fill)
