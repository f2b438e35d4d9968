"""Concat-squash layers: a time-dependent MLP f(t, z) for continuous normalizing flows (FFJORD, Grathwohl et al.
2019, Appendix B.1), used by the ``cnf`` family (:mod:`genlab.families.cnf`).

Each layer gates its linear map by a function of t and adds a shift in t, h = (W x + b) * sigmoid(a t + c) + d t,
so the field depends smoothly on time at every layer (the ODE's right-hand side must be smooth for the solver).
"""

from __future__ import annotations

import torch
from torch import nn

from genlab.nn.mlp import make_activation

__all__ = ["ConcatSquashLinear", "ConcatSquashMLP"]


class ConcatSquashLinear(nn.Module):
    """h = (W x + b) * sigmoid(a t + c) + d t (FFJORD's ConcatSquashLinear)."""

    def __init__(self, d_in: int, d_out: int):
        super().__init__()
        self.lin = nn.Linear(d_in, d_out)
        self.gate = nn.Linear(1, d_out)
        self.shift = nn.Linear(1, d_out, bias=False)

    def forward(self, t: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        t = t.reshape(1, 1).to(x.dtype)
        return self.lin(x) * torch.sigmoid(self.gate(t)) + self.shift(t)


class ConcatSquashMLP(nn.Module):
    """f(t, z): ``depth`` hidden concat-squash layers of width ``hidden``, then a concat-squash output layer."""

    def __init__(self, dim: int, hidden: int = 64, depth: int = 3, activation: str = "tanh"):
        super().__init__()
        widths = [dim] + [hidden] * depth + [dim]
        self.layers = nn.ModuleList(ConcatSquashLinear(a, b) for a, b in zip(widths[:-1], widths[1:], strict=True))
        self.act = make_activation(activation)

    def forward(self, t: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        h = z
        for i, layer in enumerate(self.layers):
            h = layer(t, h)
            if i < len(self.layers) - 1:
                h = self.act(h)
        return h
