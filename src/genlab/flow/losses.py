"""The conditional flow matching loss (Lipman et al. 2023, Eq. 23; Tong et al. 2023, Eq. 14)."""

from __future__ import annotations

from collections.abc import Callable

import torch

from genlab.flow.paths import CondOTPath

__all__ = ["cfm_loss"]


def cfm_loss(velocity: Callable, x0: torch.Tensor, x1: torch.Tensor, t: torch.Tensor, path: CondOTPath) -> torch.Tensor:
    """|| v(x_t, t) - u_t(x_t | x_0, x_1) ||^2 per sample (N,), the mean over dimensions; ``velocity(x_t, t)``."""
    x_t = path.interpolate(x0, x1, t)
    return (velocity(x_t, t) - path.target(x0, x1)).pow(2).reshape(len(x1), -1).mean(1)
