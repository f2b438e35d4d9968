"""Invertible affine normalisation with a known log-Jacobian.

Models work on standardised data z = (x - mean) / std. The density of x is then
log p_x(x) = log p_z(z) + sum_d -log std_d (change of variables), so every ``log_prob``
stays in the data's own units.
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["Standardizer"]


class Standardizer(nn.Module):
    """Per-dimension affine map on flattened data; statistics are buffers, so checkpoints keep them."""

    def __init__(self, dim: int):
        super().__init__()
        self.register_buffer("mean", torch.zeros(dim))
        self.register_buffer("std", torch.ones(dim))

    @torch.no_grad()
    def fit(self, x: torch.Tensor, enabled: bool = True) -> Standardizer:
        """Set mean/std from ``x`` (N, D); a (near-)constant column keeps a small floor so the map stays invertible."""
        if not enabled:
            self.mean.zero_()
            self.std.fill_(1.0)
            return self
        self.mean.copy_(x.mean(0))
        std = x.std(0, unbiased=False) if x.shape[0] > 1 else torch.ones_like(self.std)
        floor = max(float(std.mean()) * 1e-2, 1e-6)
        self.std.copy_(std.clamp_min(floor))
        return self

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.mean) / self.std

    def inverse(self, z: torch.Tensor) -> torch.Tensor:
        return z * self.std + self.mean

    def log_abs_det(self) -> torch.Tensor:
        """log |d z / d x| summed over dimensions (a scalar): add it to log p_z(z) to get log p_x(x)."""
        return -torch.log(self.std).sum()
