"""Two-dimensional sets made of noisy curves: two_moons, swiss_roll, pinwheel.

Each set is a mixture of arms. Arm k has weight w_k, a latent t uniform on [a_k, b_k], a curve c_k(t) and a noise
scale s_k(t); a point is x = c_k(t) + s_k(t) * N(0, I). Its exact density is the 1-D integral

    p(x) = sum_k w_k / (b_k - a_k) * int_{a_k}^{b_k} N(x; c_k(t), s_k(t)^2 I) dt,

computed in float64 by composite Gauss-Legendre quadrature (8 nodes per panel, panels no wider than the
smallest s_k(t) / |c_k'(t)|, the width of the integrand in t) as a logsumexp over the nodes, so it is accurate
to far below 1e-6 relative error and finite everywhere. Evaluation is chunked over N to bound memory.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache

import numpy as np
import torch

__all__ = [
    "Arm",
    "CurveMixture",
    "TWO_MOONS",
    "SWISS_ROLL",
    "PINWHEEL",
    "two_moons",
    "swiss_roll",
    "pinwheel",
]

F64 = torch.float64
LOG_2PI = math.log(2.0 * math.pi)
_GL_ORDER = 8
_CHUNK_ELEMS = 2_000_000  # points x nodes per chunk

#: Upper moon (cos t, sin t) and lower moon (1 - cos t, 1/2 - sin t), t ~ U[0, pi], weights 1/2, noise 0.1.
TWO_MOONS = {"std": 0.1}
#: One arm c(t) = t (cos t, sin t) / 5, t ~ U[1.5 pi, 4.5 pi], noise 0.2 (sklearn's make_swiss_roll(noise=1)[:, [0, 2]] / 5).
SWISS_ROLL = {"scale": 5.0, "t_min": 1.5 * math.pi, "t_max": 4.5 * math.pi, "std": 0.2}
#: 5 arms c_k(t) = t (cos, sin)(2 pi k / 5 + 0.6 t), t ~ U[0.3, 3], noise s(t) = 0.03 + 0.06 t, equal weights.
PINWHEEL = {"arms": 5, "rate": 0.6, "t_min": 0.3, "t_max": 3.0, "std0": 0.03, "std1": 0.06}


@dataclass(frozen=True)
class Arm:
    """One noisy curve: latent t ~ U[a, b], x = curve(t) + std(t) * N(0, I); curve/std map float64 (M,) tensors."""

    weight: float
    a: float
    b: float
    curve: Callable[[torch.Tensor], torch.Tensor]  # (M,) -> (M, 2)
    std: Callable[[torch.Tensor], torch.Tensor]  # (M,) -> (M,)


class CurveMixture:
    """Mixture of :class:`Arm` s with an exact (quadrature) log-density and a matching sampler."""

    def __init__(self, arms: list[Arm]):
        self.arms = arms
        total = sum(a.weight for a in arms)
        self._w = torch.tensor([a.weight / total for a in arms], dtype=F64)
        self._nodes: tuple[torch.Tensor, torch.Tensor, torch.Tensor] | None = None

    def _build_nodes(self):
        xg, wg = np.polynomial.legendre.leggauss(_GL_ORDER)
        xg, wg = torch.from_numpy(xg), torch.from_numpy(wg)
        centres, logw, std = [], [], []
        for arm, w in zip(self.arms, self._w, strict=True):
            # width of the integrand in t: std(t) / |c'(t)|, measured on a fine probe grid
            probe = torch.linspace(arm.a, arm.b, 4001, dtype=F64)
            c = arm.curve(probe)
            speed = (c[1:] - c[:-1]).norm(dim=1) / (probe[1] - probe[0])
            width = (arm.std(probe[:-1]) / speed.clamp_min(1e-12)).min().item()
            panels = max(16, math.ceil((arm.b - arm.a) / width))
            edges = torch.linspace(arm.a, arm.b, panels + 1, dtype=F64)
            mid, half = (edges[1:] + edges[:-1]) / 2, (edges[1:] - edges[:-1]) / 2
            t = (mid[:, None] + half[:, None] * xg[None]).reshape(-1)
            wt = (half[:, None] * wg[None]).reshape(-1) / (arm.b - arm.a)  # quadrature weight x p(t)
            centres.append(arm.curve(t))
            std.append(arm.std(t))
            logw.append(wt.log() + w.log())
        self._nodes = torch.cat(centres), torch.cat(logw), torch.cat(std)

    @property
    def num_nodes(self) -> int:
        if self._nodes is None:
            self._build_nodes()
        return self._nodes[0].shape[0]

    def log_prob(self, x: torch.Tensor) -> torch.Tensor:
        """Exact log p(x) in nats, float32 (N,)."""
        if self._nodes is None:
            self._build_nodes()
        c, logw, s = self._nodes
        const = logw - LOG_2PI - 2.0 * s.log()
        inv2var = 0.5 / s**2
        x = torch.as_tensor(x).to(F64)
        step = max(1, _CHUNK_ELEMS // c.shape[0])
        out = []
        for xc in x.split(step):
            d2 = torch.cdist(xc, c, compute_mode="donot_use_mm_for_euclid_dist") ** 2
            out.append(torch.logsumexp(const[None] - d2 * inv2var[None], 1))
        if not out:
            return torch.zeros(0, dtype=torch.float32)
        return torch.cat(out).to(torch.float32)

    def sample(self, n: int, g: torch.Generator):
        """Arm k ~ weights (returned as the label when there are several arms), t ~ U[a_k, b_k], x = c_k(t) + s_k(t) N(0, I)."""
        k = torch.multinomial(self._w, n, replacement=True, generator=g)
        u = torch.rand(n, generator=g, dtype=F64)
        eps = torch.randn(n, 2, generator=g, dtype=F64)
        x = torch.empty(n, 2, dtype=F64)
        for j, arm in enumerate(self.arms):
            m = k == j
            t = arm.a + (arm.b - arm.a) * u[m]
            x[m] = arm.curve(t) + arm.std(t)[:, None] * eps[m]
        return x.to(torch.float32), (k if len(self.arms) > 1 else None)


def _const(v: float) -> Callable[[torch.Tensor], torch.Tensor]:
    return lambda t: torch.full_like(t, v)


@cache
def two_moons() -> CurveMixture:
    """sklearn-style moons: upper (cos t, sin t), lower (1 - cos t, 0.5 - sin t), t ~ U[0, pi], + N(0, 0.1^2 I)."""
    s = TWO_MOONS["std"]
    upper = Arm(0.5, 0.0, math.pi, lambda t: torch.stack([t.cos(), t.sin()], 1), _const(s))
    lower = Arm(0.5, 0.0, math.pi, lambda t: torch.stack([1.0 - t.cos(), 0.5 - t.sin()], 1), _const(s))
    return CurveMixture([upper, lower])


@cache
def swiss_roll() -> CurveMixture:
    """2-D swiss roll: c(t) = t (cos t, sin t) / 5, t ~ U[1.5 pi, 4.5 pi], + N(0, 0.2^2 I)."""
    p = SWISS_ROLL
    arm = Arm(
        1.0,
        p["t_min"],
        p["t_max"],
        lambda t: t[:, None] * torch.stack([t.cos(), t.sin()], 1) / p["scale"],
        _const(p["std"]),
    )
    return CurveMixture([arm])


@cache
def pinwheel() -> CurveMixture:
    """5 spiral arms c_k(t) = t (cos, sin)(2 pi k/5 + 0.6 t), t ~ U[0.3, 3], noise s(t) = 0.03 + 0.06 t (arms widen outwards)."""
    p = PINWHEEL

    def arm(k: int) -> Arm:
        phase = 2.0 * math.pi * k / p["arms"]

        def curve(t: torch.Tensor) -> torch.Tensor:
            ang = phase + p["rate"] * t
            return t[:, None] * torch.stack([ang.cos(), ang.sin()], 1)

        return Arm(1.0, p["t_min"], p["t_max"], curve, lambda t: p["std0"] + p["std1"] * t)

    return CurveMixture([arm(k) for k in range(p["arms"])])
