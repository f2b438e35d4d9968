"""Embeddings of a scalar noise level (time t or sigma) for conditioning networks."""

from __future__ import annotations

import math

import torch
from torch import nn

__all__ = ["SinusoidalEmbedding", "FourierEmbedding", "ConditionEmbedding"]


class SinusoidalEmbedding(nn.Module):
    """Transformer-style sinusoidal embedding of a scalar (Vaswani et al. 2017; used by DDPM).

    ``scale`` multiplies the input first (t in [0, 1] -> 1000 t as in DDPM).
    """

    def __init__(self, dim: int, scale: float = 1000.0, max_period: float = 10000.0):
        super().__init__()
        half = dim // 2
        freqs = torch.exp(-math.log(max_period) * torch.arange(half, dtype=torch.float32) / max(half, 1))
        self.register_buffer("freqs", freqs, persistent=False)
        self.scale = scale
        self.dim = dim

    def forward(self, t: torch.Tensor) -> torch.Tensor:
        args = (self.scale * t.reshape(-1, 1).float()) * self.freqs
        emb = torch.cat([torch.sin(args), torch.cos(args)], dim=-1)
        if self.dim % 2:
            emb = torch.cat([emb, torch.zeros_like(emb[:, :1])], dim=-1)
        return emb


class FourierEmbedding(nn.Module):
    """Random Gaussian Fourier features of log-sigma or t (Tancik et al. 2020; used by NCSN++/score_sde)."""

    def __init__(self, dim: int, scale: float = 16.0, seed: int = 0):
        super().__init__()
        g = torch.Generator().manual_seed(seed)
        self.register_buffer("W", torch.randn(dim // 2, generator=g) * scale)
        self.dim = dim

    def forward(self, t: torch.Tensor) -> torch.Tensor:
        args = t.reshape(-1, 1).float() * self.W * (2 * math.pi)
        emb = torch.cat([torch.sin(args), torch.cos(args)], dim=-1)
        if self.dim % 2:
            emb = torch.cat([emb, torch.zeros_like(emb[:, :1])], dim=-1)
        return emb


class ConditionEmbedding(nn.Module):
    """e(t, y) = MLP(sinusoidal(t)) + E[y]: the conditioning vector of the image backbones (DDPM / DiT style).

    The sinusoidal features (``scale`` 1000, periods up to 10^4) resolve both t in [0, 1] and log-sigma-like noise
    levels of order one. With ``num_classes`` the table has ``num_classes + 1`` rows; the last one is the null label
    of classifier-free guidance (Ho & Salimans 2022), used where ``y`` is None.
    """

    def __init__(self, dim: int, num_classes: int | None = None, scale: float = 1000.0):
        super().__init__()
        self.time = SinusoidalEmbedding(dim, scale=scale)
        self.mlp = nn.Sequential(nn.Linear(dim, dim), nn.SiLU(), nn.Linear(dim, dim))
        self.num_classes = num_classes
        self.label = nn.Embedding(num_classes + 1, dim) if num_classes else None

    def forward(self, t: torch.Tensor, y: torch.Tensor | None, n: int) -> torch.Tensor:
        t = t.reshape(-1).expand(n) if t.numel() == 1 else t.reshape(n)
        e = self.mlp(self.time(t))
        if self.label is not None:
            y = torch.full((n,), self.num_classes, dtype=torch.long, device=e.device) if y is None else y.long()
            e = e + self.label(y)
        return e
