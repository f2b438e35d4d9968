"""Multi-head attention with a key padding mask: self-attention over caption tokens and cross-attention from
image tokens to them (Vaswani et al. 2017, Eq. 1: softmax(Q K^T / sqrt(d) + M) V, M = -inf at padded keys).

Cross-attention is how text-to-image diffusion backbones read a caption's tokens (Rombach et al. 2022, Sec. 3.3;
Chen et al. 2023, PixArt-alpha, for DiT): the image tokens are the queries, the caption's token states the keys
and values. :class:`CrossAttention` is a pre-norm residual sub-layer whose output projection starts at zero, so
a block with it starts as the block without it.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from genlab.errors import ConfigError

__all__ = ["MaskedAttention", "CrossAttention"]


class MaskedAttention(nn.Module):
    """Attention of queries x (N, T, dim) to a context (N, S, context_dim) (x itself when None); ``mask`` (N, S),
    True = a real key, False = padding (every row needs at least one real key)."""

    def __init__(self, dim: int, heads: int, context_dim: int | None = None):
        super().__init__()
        if dim % heads:
            raise ConfigError(f"width ({dim}) must be divisible by the number of heads ({heads})")
        self.heads = heads
        self.q = nn.Linear(dim, dim)
        self.kv = nn.Linear(context_dim or dim, 2 * dim)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor, context: torch.Tensor | None = None,
                mask: torch.Tensor | None = None) -> torch.Tensor:
        N, T, C = x.shape
        context = x if context is None else context
        k, v = self.kv(context).chunk(2, dim=-1)
        split = lambda a: a.reshape(N, a.shape[1], self.heads, C // self.heads).transpose(1, 2)  # noqa: E731
        bias = None if mask is None else mask[:, None, None, :]  # boolean: True takes part
        out = F.scaled_dot_product_attention(split(self.q(x)), split(k), split(v), attn_mask=bias)
        return self.proj(out.transpose(1, 2).reshape(N, T, C))


class CrossAttention(nn.Module):
    """x + Attn(LN(x), tokens): a residual cross-attention sub-layer, zero at initialisation."""

    def __init__(self, dim: int, heads: int, context_dim: int):
        super().__init__()
        self.norm = nn.LayerNorm(dim, eps=1e-6)
        self.attn = MaskedAttention(dim, heads, context_dim)
        nn.init.zeros_(self.attn.proj.weight)
        nn.init.zeros_(self.attn.proj.bias)

    def forward(self, x: torch.Tensor, tokens: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return x + self.attn(self.norm(x), tokens, mask)
