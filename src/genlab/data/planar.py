"""Two-dimensional synthetic sets whose densities are closed-form: eight_gaussians, checkerboard, rings.

Every ``*_log_prob(x)`` takes ``(N, 2)`` points and returns the exact log-density in nats as float32 ``(N,)``
(computed in float64, finite everywhere in R^2). Every ``*_sample(n, generator)`` returns
``(x float32 (n, 2), labels int64 (n,) or None)`` drawn from exactly that density.
"""

from __future__ import annotations

import math

import torch

__all__ = [
    "EIGHT_GAUSSIANS",
    "CHECKERBOARD",
    "RINGS",
    "eight_gaussians_log_prob",
    "eight_gaussians_sample",
    "checkerboard_log_prob",
    "checkerboard_sample",
    "rings_log_prob",
    "rings_sample",
]

F64 = torch.float64
LOG_2PI = math.log(2.0 * math.pi)

#: Equal mixture of 8 isotropic Gaussians, centres at angles 2*pi*k/8 on a circle (FFJORD's set / sqrt(2)).
EIGHT_GAUSSIANS = {"components": 8, "radius": 2.0 * math.sqrt(2.0), "std": 0.5 / math.sqrt(2.0)}
#: Uniform on the 8 black squares (side 2) of a 4x4 board on [-4, 4]^2, convolved with N(0, std^2 I).
CHECKERBOARD = {"half_width": 4.0, "side": 2.0, "std": 0.1}
#: Point uniform on one of 4 circles (weights proportional to radius) plus isotropic Gaussian noise.
RINGS = {"radii": (1.0, 2.0, 3.0, 4.0), "std": 0.1}


def _f64(x: torch.Tensor) -> torch.Tensor:
    return torch.as_tensor(x).to(F64)


# ---------------------------------------------------------------------------------------------- eight gaussians
def _eg_centres() -> torch.Tensor:
    k = EIGHT_GAUSSIANS["components"]
    a = torch.arange(k, dtype=F64) * (2.0 * math.pi / k)
    return EIGHT_GAUSSIANS["radius"] * torch.stack([a.cos(), a.sin()], 1)


def eight_gaussians_log_prob(x: torch.Tensor) -> torch.Tensor:
    """log p(x) = logsumexp_k [log(1/8) + log N(x; m_k, s^2 I)], m_k = 2*sqrt(2) (cos, sin)(2 pi k / 8), s = 0.5/sqrt(2)."""
    x, c, s = _f64(x), _eg_centres(), EIGHT_GAUSSIANS["std"]
    d2 = ((x[:, None, :] - c[None]) ** 2).sum(-1)
    lp = -0.5 * d2 / s**2 - LOG_2PI - 2.0 * math.log(s) - math.log(c.shape[0])
    return torch.logsumexp(lp, 1).to(torch.float32)


def eight_gaussians_sample(n: int, g: torch.Generator):
    """Component k uniform in 0..7 (returned as the label), then x = m_k + s * N(0, I)."""
    c = _eg_centres()
    k = torch.randint(0, c.shape[0], (n,), generator=g)
    x = c[k] + EIGHT_GAUSSIANS["std"] * torch.randn(n, 2, generator=g, dtype=F64)
    return x.to(torch.float32), k


# ---------------------------------------------------------------------------------------------- checkerboard
def _cb_corners() -> torch.Tensor:
    """Lower-left corners of the 8 black squares: cells (i, j) of the 4x4 board with i + j even."""
    h, side = CHECKERBOARD["half_width"], CHECKERBOARD["side"]
    m = int(round(2 * h / side))
    cells = [(i, j) for i in range(m) for j in range(m) if (i + j) % 2 == 0]
    return torch.tensor(cells, dtype=F64) * side - h


def _log_ndtr_diff(lo: torch.Tensor, hi: torch.Tensor) -> torch.Tensor:
    """log(Phi(hi) - Phi(lo)) for lo < hi, accurate in both tails (reflects to the lower tail when lo > 0)."""
    flip = lo > 0
    a = torch.where(flip, -hi, lo)
    b = torch.where(flip, -lo, hi)
    la, lb = torch.special.log_ndtr(a), torch.special.log_ndtr(b)
    return lb + torch.log(-torch.expm1(la - lb))


def checkerboard_log_prob(x: torch.Tensor) -> torch.Tensor:
    """p(x) = sum_sq (1/8)(1/side^2) prod_d [Phi((x_d - a_d)/s) - Phi((x_d - a_d - side)/s)], s = 0.1."""
    x, a = _f64(x), _cb_corners()
    side, s = CHECKERBOARD["side"], CHECKERBOARD["std"]
    hi = (x[:, None, :] - a[None]) / s
    lo = hi - side / s
    lp = _log_ndtr_diff(lo, hi).sum(-1) - 2.0 * math.log(side) - math.log(a.shape[0])
    return torch.logsumexp(lp, 1).to(torch.float32)


def checkerboard_sample(n: int, g: torch.Generator):
    """Square uniform among the 8, point uniform in it, plus N(0, 0.1^2 I). No labels."""
    a = _cb_corners()
    k = torch.randint(0, a.shape[0], (n,), generator=g)
    u = torch.rand(n, 2, generator=g, dtype=F64) * CHECKERBOARD["side"]
    x = a[k] + u + CHECKERBOARD["std"] * torch.randn(n, 2, generator=g, dtype=F64)
    return x.to(torch.float32), None


# ---------------------------------------------------------------------------------------------- rings
def _ring_params() -> tuple[torch.Tensor, torch.Tensor]:
    r = torch.tensor(RINGS["radii"], dtype=F64)
    return r, r / r.sum()


def rings_log_prob(x: torch.Tensor) -> torch.Tensor:
    """Rice mixture: p(x) = sum_k w_k exp(-(rho^2 + r_k^2) / 2s^2) I0(rho r_k / s^2) / (2 pi s^2), rho = |x|.

    Radii r = 1, 2, 3, 4, weights w_k = r_k / 10, s = 0.1; computed with the scaled Bessel function i0e,
    so it is exact, smooth (also at the origin) and finite everywhere.
    """
    x = _f64(x)
    r, w = _ring_params()
    s = RINGS["std"]
    rho = x.norm(dim=1, keepdim=True)
    z = rho * r[None] / s**2
    lp = (
        w.log()[None]
        - LOG_2PI
        - 2.0 * math.log(s)
        - 0.5 * (rho - r[None]) ** 2 / s**2
        + torch.log(torch.special.i0e(z))
    )
    return torch.logsumexp(lp, 1).to(torch.float32)


def rings_sample(n: int, g: torch.Generator):
    """Ring k with probability r_k / 10 (returned as the label), angle uniform, plus N(0, 0.1^2 I)."""
    r, w = _ring_params()
    k = torch.multinomial(w, n, replacement=True, generator=g)
    t = torch.rand(n, generator=g, dtype=F64) * (2.0 * math.pi)
    x = r[k, None] * torch.stack([t.cos(), t.sin()], 1) + RINGS["std"] * torch.randn(n, 2, generator=g, dtype=F64)
    return x.to(torch.float32), k
