"""Masked autoregressive layers (Germain et al. 2015, "MADE: Masked Autoencoder for Distribution Estimation").

An MLP whose weight matrices are masked so that output d sees only inputs < d computes every conditional of
p(z) = prod_d p(z_d | z_<d) (Eq. 1) in one pass. With degrees m^0(d) = d for inputs (1-based), m^l(k) in
{1, ..., D-1} for hidden units and the output degree d, the masks are (Eq. 12-13)

    M^l[k, k'] = 1{ m^l(k) >= m^(l-1)(k') },        M^out[d, k] = 1{ d > m^L(k) }.

Hidden degrees are assigned cyclically (deterministic, so no mask needs storing beyond its buffer). Used by the
``made`` family (:mod:`genlab.families.made`) and by any autoregressive head that builds its own masks from degrees.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from genlab.nn.mlp import make_activation

__all__ = ["MaskedLinear", "made_masks", "MADENet"]


class MaskedLinear(nn.Linear):
    """y = x (W * M)^T + b with a fixed binary mask M (out_features, in_features) (Germain et al. 2015, Eq. 10)."""

    def __init__(self, mask: torch.Tensor):
        super().__init__(mask.shape[1], mask.shape[0])
        self.register_buffer("mask", mask.to(torch.float32))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x, self.weight * self.mask, self.bias)


def made_masks(dim: int, hidden: tuple[int, ...], out_per_dim: int) -> list[torch.Tensor]:
    """The MADE masks (Eq. 12-13) for natural ordering, cyclic hidden degrees, ``out_per_dim`` outputs per dimension."""
    degrees = [torch.arange(1, dim + 1)]
    for h in hidden:
        degrees.append(torch.arange(h) % max(dim - 1, 1) + 1)
    masks = [(d_out[:, None] >= d_in[None, :]) for d_in, d_out in zip(degrees[:-1], degrees[1:], strict=True)]
    d_out = torch.arange(1, dim + 1).repeat_interleave(out_per_dim)
    masks.append(d_out[:, None] > degrees[-1][None, :])
    return masks


class MADENet(nn.Module):
    """The masked MLP: z (N, D) -> per-dimension parameters (N, D, out_per_dim), autoregressive in natural order."""

    def __init__(self, dim: int, hidden: tuple[int, ...], out_per_dim: int, activation: str = "relu",
                 dropout: float = 0.0):
        super().__init__()
        self.dim, self.out_per_dim = dim, out_per_dim
        masks = made_masks(dim, hidden, out_per_dim)
        layers: list[nn.Module] = []
        for mask in masks[:-1]:
            layers += [MaskedLinear(mask), make_activation(activation)]
            if dropout > 0:
                layers.append(nn.Dropout(dropout))
        layers.append(MaskedLinear(masks[-1]))
        self.net = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z).reshape(z.shape[0], self.dim, self.out_per_dim)
