"""Markov chain Monte Carlo from a log-density or a score: ULA, MALA, HMC and annealed importance sampling, one
implementation each (every sampler, imputer and partition-function estimate of genlab uses these).

- ULA, the unadjusted Langevin algorithm (Roberts & Tweedie 1996, Eq. 1.3; Parisi 1981): :func:`ula_step`,
  x' = x + h grad log p(x) + sqrt(2h) xi. Without a Metropolis test it targets p only as h -> 0; the annealed
  Langevin samplers of score models (:mod:`genlab.diffusion.samplers.langevin`, Song & Ermon 2019, Alg. 1) and the
  predictor-corrector's corrector (Song et al. 2021, Alg. 4/5) are loops of it.
- MALA (Roberts & Tweedie 1996): :func:`mala_step`, the ULA proposal then a Metropolis-Hastings test, so exactly
  invariant; :func:`mala_sample` runs adapted chains (imputation: :func:`genlab.inverse.langevin_impute`).
- HMC (Neal 2011, "MCMC using Hamiltonian dynamics"): :func:`hmc_step`, leapfrog steps with unit mass, then MH.
- AIS (Neal 2001, "Annealed importance sampling", Statistics and Computing 11): :func:`annealed_importance_sampling`.

Annealed importance sampling estimates the normalising constant Z = ∫ f(z) dz of an unnormalised density f from a normalised base p_0
(e.g. N(0, I)) along the geometric path

    f_β(z) = p_0(z)^(1-β) f(z)^β,        0 = β_0 < β_1 < ... < β_K = 1          (Neal 2001, Eq. 3)

Each chain starts from z_0 ~ p_0 and accumulates the log-weight (Neal 2001, Eq. 11)

    log w = Σ_k (β_k - β_{k-1}) [log f(z_{k-1}) - log p_0(z_{k-1})],

where z_k is drawn from a transition T_k that leaves f_{β_k} invariant: MALA (Roberts & Tweedie 1996) or HMC
(Neal 2011, "MCMC using Hamiltonian dynamics"), both Metropolis-adjusted, so exactly invariant. Then
Ẑ = mean(w) is unbiased for Z, and log Ẑ = logsumexp(log w) - log n (a stochastic lower bound of log Z in
expectation, by Jensen). Its standard error comes from the delta method: se(log Ẑ) ≈ sd(w) / (√n · mean(w)).

The β schedule is linear or the sigmoid schedule of Grosse, Maddison & Salakhutdinov (2013, "Annealing between
distributions by averaging moments", Sec. 6): β_k ∝ σ(δ (2k/K - 1)), rescaled to [0, 1]. The step size of the
transitions adapts between temperatures towards a target acceptance rate (0.574 for MALA, 0.65 for HMC), using the
acceptance averaged over all chains at the previous temperature.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch

from genlab.checks import positive_int
from genlab.errors import ConfigError
from genlab.rng import rand, randn_like

__all__ = ["AISResult", "annealed_importance_sampling", "beta_schedule", "ula_step", "mala_step", "hmc_step",
           "logp_and_grad", "mala_sample"]

LogDensity = Callable[[torch.Tensor], torch.Tensor]
Evaluate = Callable[[torch.Tensor], tuple]
_TARGET_ACCEPT = {"mala": 0.574, "hmc": 0.65}


@dataclass
class AISResult:
    """log_Z: the estimate of log Z; stderr: its delta-method standard error; log_weights: (n_chains,);
    samples: (n_chains, D), the final states (approximately from f / Z; reweight by the weights for exactness)."""

    log_Z: float
    stderr: float
    log_weights: torch.Tensor
    samples: torch.Tensor

    @property
    def ess(self) -> float:
        """Effective sample size of the importance weights, (Σ w)² / Σ w²."""
        lw = self.log_weights
        return float(torch.exp(2 * torch.logsumexp(lw, 0) - torch.logsumexp(2 * lw, 0)))


def logp_and_grad(log_f: LogDensity, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """log f(z) (N,) and its gradient in z (N, D), both detached."""
    with torch.enable_grad():
        z = z.detach().requires_grad_(True)
        lp = log_f(z)
        (g,) = torch.autograd.grad(lp.sum(), z)
    return lp.detach(), g.detach()


def _select(acc: torch.Tensor, new: tuple, old: tuple) -> tuple:
    return tuple(torch.where(acc.reshape(-1, *([1] * (a.ndim - 1))), a, b) for a, b in zip(new, old, strict=True))


def ula_step(x: torch.Tensor, grad: torch.Tensor, h, generator: torch.Generator | None = None, *,
             noise: torch.Tensor | None = None, free: torch.Tensor | None = None) -> torch.Tensor:
    """One unadjusted Langevin step x + h grad + sqrt(2h) xi (Roberts & Tweedie 1996, Eq. 1.3): ``grad`` is
    grad log p(x) (a score), ``h`` a float or a tensor broadcasting against ``x``; xi is ``noise`` when given, else
    drawn from ``generator``. ``free`` (0/1, like ``x``), optional: move only those coordinates."""
    if noise is None and generator is None:
        raise ValueError("ula_step needs its noise or a generator to draw it")
    xi = randn_like(x, generator) if noise is None else noise
    root = math.sqrt(2 * h) if isinstance(h, (int, float)) else torch.sqrt(2 * h)
    if free is None:
        return x + h * grad + root * xi
    return x + (h * grad + root * xi) * free


def mala_step(evaluate: Evaluate, z: torch.Tensor, state: tuple, h, generator: torch.Generator,
              free: torch.Tensor | None = None):
    """One Metropolis-adjusted Langevin step (Roberts & Tweedie 1996): the ULA proposal
    z' = z + h ∇log f(z) + √(2h) ξ (:func:`ula_step`), then a Metropolis-Hastings test.

    ``evaluate(z) -> (log f (N,), ∇log f (N, D), *extra)``; ``state`` is its value at ``z`` (extra tensors, such
    as the parts of a tempered density, ride along). ``h``: scalar or (N, 1). ``free`` (N, D) of 0/1, optional:
    move only those coordinates (MALA on a conditional, e.g. imputation). ξ and the MH uniforms come from
    ``generator``. Returns (z, state, accepted (N,)).
    """
    lp, g = state[0], state[1]
    h = torch.as_tensor(h, dtype=z.dtype, device=z.device)
    prop = ula_step(z, g, h, generator, free=free)
    new = evaluate(prop)
    fwd, bwd = prop - z - h * g, z - prop - h * new[1]  # proposal residuals: -4h log q, up to a constant
    if free is not None:
        fwd, bwd = fwd * free, bwd * free
    log_alpha = new[0] - lp + (fwd.pow(2).sum(1) - bwd.pow(2).sum(1)) / (4 * h.reshape(-1))
    acc = (torch.log(rand(lp.shape, generator, dtype=lp.dtype, device=lp.device)) < log_alpha) & torch.isfinite(new[0])
    return torch.where(acc[:, None], prop, z), _select(acc, new, state), acc


def hmc_step(evaluate: Evaluate, z: torch.Tensor, state: tuple, h, generator: torch.Generator, leapfrog: int = 5):
    """One Hamiltonian Monte Carlo step (Neal 2011): ``leapfrog`` leapfrog steps of size ``h``, unit mass, then MH.

    Same conventions as :func:`mala_step`. Returns (z, state, accepted (N,)).
    """
    h = torch.as_tensor(h, dtype=z.dtype, device=z.device)
    p0 = randn_like(z, generator)
    q, p, new = z, p0 + 0.5 * h * state[1], state
    for i in range(int(leapfrog)):
        q = q + h * p
        new = evaluate(q)
        p = p + (h if i < leapfrog - 1 else 0.5 * h) * new[1]
    log_alpha = (new[0] - 0.5 * p.pow(2).sum(1)) - (state[0] - 0.5 * p0.pow(2).sum(1))
    u = rand(state[0].shape, generator, dtype=state[0].dtype, device=state[0].device)
    acc = (torch.log(u) < log_alpha) & torch.isfinite(new[0])
    return torch.where(acc[:, None], q, z), _select(acc, new, state), acc


def mala_sample(log_f: LogDensity, z: torch.Tensor, steps: int, *, generator: torch.Generator,
                step_size: float = 0.01, adapt: float = 0.5) -> torch.Tensor:
    """Run ``steps`` MALA steps on ``log_f`` from ``z`` (N, D); return the final states.

    Each chain's step size adapts towards 57.4% acceptance (Roberts & Rosenthal 1998) during the first
    ``adapt`` fraction of the steps and is then fixed, so the remaining steps leave exp(log_f) invariant.
    """
    if int(steps) < 0 or not step_size > 0:
        raise ConfigError(f"MALA needs steps >= 0 and step_size > 0, got {steps}, {step_size}")
    h = torch.full((z.shape[0], 1), float(step_size), dtype=z.dtype, device=z.device)
    state = logp_and_grad(log_f, z)
    n_adapt = int(adapt * int(steps))
    for i in range(int(steps)):
        z, state, acc = mala_step(lambda x: logp_and_grad(log_f, x), z, state, h, generator)
        if i < n_adapt:
            h = h * torch.exp(0.1 * (acc.to(z.dtype) - 0.574))[:, None]
    return z.detach()


def beta_schedule(n_steps: int, kind: str = "sigmoid", delta: float = 4.0) -> torch.Tensor:
    """Inverse temperatures β_0 = 0 < ... < β_K = 1, shape (K + 1,), in float64."""
    t = torch.linspace(0, 1, n_steps + 1, dtype=torch.float64)
    if kind == "linear":
        return t
    if kind == "sigmoid":
        s = torch.sigmoid(delta * (2 * t - 1))
        return (s - s[0]) / (s[-1] - s[0])
    raise ConfigError(f"unknown AIS schedule {kind!r}; choose 'sigmoid' or 'linear'")


def annealed_importance_sampling(
    log_f_target: LogDensity,
    base_log_prob: LogDensity,
    base_sample: Callable[[int, torch.Generator], torch.Tensor],
    n_chains: int = 64,
    n_steps: int = 500,
    *,
    generator: torch.Generator,
    transition: str = "mala",
    step_size: float = 0.05,
    leapfrog: int = 5,
    schedule: str = "sigmoid",
    adapt: bool = True,
) -> AISResult:
    """Estimate log ∫ f dz for ``log_f_target(z) -> (N,)`` (differentiable) by AIS from a normalised base.

    ``base_log_prob(z) -> (N,)`` is the normalised log-density of the base and ``base_sample(n, generator) -> (n, D)``
    draws from it; ``n_steps`` is the number K of intermediate temperatures, each followed by one ``transition``
    ('mala' or 'hmc' with ``leapfrog`` steps) of step size ``step_size`` (adapted between temperatures when
    ``adapt``). Every draw comes from ``generator``.
    """
    if transition not in _TARGET_ACCEPT:
        raise ConfigError(f"unknown AIS transition {transition!r}; choose 'mala' or 'hmc'")
    n_chains, n_steps = positive_int("AIS n_chains", n_chains), positive_int("AIS n_steps", n_steps)
    if not step_size > 0:
        raise ConfigError(f"AIS step_size must be positive, got {step_size}")
    betas = beta_schedule(int(n_steps), schedule)

    def parts(x):  # log f, log p_0 and their gradients, evaluated once per state
        lf, gf = logp_and_grad(log_f_target, x)
        l0, g0 = logp_and_grad(base_log_prob, x)
        return lf, l0, gf, g0

    z = base_sample(int(n_chains), generator).detach()
    lf, l0, gf, g0 = parts(z)
    log_w = torch.zeros(z.shape[0], dtype=torch.float64, device=z.device)
    h = float(step_size)
    target = _TARGET_ACCEPT[transition]
    for k in range(1, len(betas)):
        b_prev, b = float(betas[k - 1]), float(betas[k])
        log_w += (b - b_prev) * (lf - l0).double()

        def evaluate(x, b=b):  # the tempered density f_b and its gradient, with the parts riding along
            lf_, l0_, gf_, g0_ = parts(x)
            return (1 - b) * l0_ + b * lf_, (1 - b) * g0_ + b * gf_, lf_, l0_, gf_, g0_

        state = ((1 - b) * l0 + b * lf, (1 - b) * g0 + b * gf, lf, l0, gf, g0)
        if transition == "mala":
            z, state, acc = mala_step(evaluate, z, state, h, generator)
        else:
            z, state, acc = hmc_step(evaluate, z, state, h, generator, leapfrog)
        lf, l0, gf, g0 = state[2:]
        if adapt:  # nudge the shared step size towards the target acceptance
            h *= math.exp(0.5 * (acc.float().mean().item() - target))
    log_w = torch.where(torch.isfinite(log_w), log_w, torch.full_like(log_w, -math.inf))
    n = log_w.numel()
    log_Z = float(torch.logsumexp(log_w, 0) - math.log(n))
    w = torch.exp(log_w - log_w.max())  # relative weights, max 1
    stderr = float(w.std(unbiased=True) / (math.sqrt(n) * w.mean())) if n > 1 else math.inf
    return AISResult(log_Z=log_Z, stderr=stderr, log_weights=log_w.float(), samples=z.detach())
