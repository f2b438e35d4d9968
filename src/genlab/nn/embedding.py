"""Embeddings of a scalar noise level (time t or sigma) for conditioning networks."""

from __future__ import annotations

import math

import torch
from torch import nn

__all__ = ["SinusoidalEmbedding", "FourierEmbedding"]


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
