"""The one wrapper of ``torchdiffeq.odeint`` in genlab: solver check, adaptive vs fixed grid, NFE count.

Every ODE in the package (probability-flow sampling, ODE likelihoods, continuous normalizing flows, flow
matching) is solved through :func:`solve`, which integrates ``dy/dt = f(t, y)`` from ``t0`` to ``t1`` (either
direction) and returns the state at ``t1`` and the number of evaluations of ``f``.

- adaptive methods (``dopri5`` and friends) take ``rtol``/``atol``; their steps never pass ``t1`` (the last
  step lands on it exactly, so a field defined only on [t0, t1] is never evaluated outside);
- fixed-grid methods (``euler``, ``midpoint``, ``rk4``) take ``steps`` equal steps.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch

from genlab.checks import positive_int
from genlab.errors import ConfigError, SolverError

__all__ = ["ADAPTIVE", "FIXED", "METHODS", "ODEResult", "solve", "check_method"]

ADAPTIVE = ("dopri5", "dopri8", "bosh3", "fehlberg2", "adaptive_heun")
FIXED = ("euler", "midpoint", "rk4")
METHODS = ADAPTIVE + FIXED


@dataclass
class ODEResult:
    """``y``: the state at t1 (a tensor or a tuple of tensors, like ``y0``); ``nfe``: evaluations of f."""

    y: Any
    nfe: int


def check_method(method: str) -> str:
    if method not in METHODS:
        raise ConfigError(f"unknown ODE method {method!r}; choose from {', '.join(METHODS)}")
    return method


def solve(f: Callable, y0, t0: float, t1: float, *, method: str = "dopri5", rtol: float = 1e-5, atol: float = 1e-5,
          steps: int | None = None, adjoint: bool = False) -> ODEResult:
    """Integrate ``dy/dt = f(t, y)`` from ``t0`` to ``t1``; ``steps`` sets the grid of fixed-step methods.

    ``adjoint=True`` uses ``torchdiffeq.odeint_adjoint`` (``f`` must then be an ``nn.Module``).
    """
    from torchdiffeq import odeint, odeint_adjoint

    check_method(method)
    if not (rtol > 0 and atol > 0):
        raise ConfigError(f"rtol and atol must be positive, got {rtol}, {atol}")
    first = y0[0] if isinstance(y0, tuple) else y0
    ts = torch.tensor([float(t0), float(t1)], dtype=first.dtype, device=first.device)
    if method in ADAPTIVE:
        options = {"step_t": ts[-1:]}
    else:
        n = 50 if steps is None else positive_int("steps", steps)
        options = {"step_size": abs(float(t1) - float(t0)) / n}
    count = [0]
    lo, hi = min(float(t0), float(t1)), max(float(t0), float(t1))

    def counted(t, y):
        # torchdiffeq's initial-step heuristic may evaluate f far outside [t0, t1] (its trial step is not clipped to
        # the interval): where f is slow there, e.g. a probability-flow ODE in log sigma near the data, the trial time
        # reaches sigma = exp(tau) = inf and the NaN it returns makes the step size underflow. f is only needed on
        # [t0, t1], so the time is clamped to it.
        count[0] += 1
        return f(t.clamp(lo, hi), y)

    try:
        if adjoint:
            out = odeint_adjoint(f, y0, ts, rtol=rtol, atol=atol, method=method, options=options)
            count[0] = int(getattr(f, "nfe", 0))
        else:
            out = odeint(counted, y0, ts, rtol=rtol, atol=atol, method=method, options=options)
    except AssertionError as exc:  # torchdiffeq asserts on a vanishing step ("underflow in dt")
        if "underflow" not in str(exc):
            raise
        raise SolverError(f"the ODE solver '{method}' could not go on after {count[0]} evaluations (its step size "
                          f"underflowed between t = {float(t0):g} and {float(t1):g}); the field is stiff there: loosen "
                          f"rtol/atol (now {rtol:g}, {atol:g}) or use a fixed-step method (method='rk4', steps=N)") from None
    y1 = tuple(o[-1] for o in out) if isinstance(y0, tuple) else out[-1]
    return ODEResult(y=y1, nfe=count[0])
