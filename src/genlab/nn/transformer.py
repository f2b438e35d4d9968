"""A GPT-style causal transformer over token sequences (nanoGPT layout: a config dataclass and a model).

Radford et al. 2019 (GPT-2): pre-LayerNorm blocks x + Attn(LN(x)), x + MLP(LN(x)) with learned position
embeddings; causal self-attention softmax(Q K^T / sqrt(d) + M) V (Vaswani et al. 2017, Eq. 1) with M the
upper-triangular -inf mask, computed by :func:`torch.nn.functional.scaled_dot_product_attention`.
The layout follows Karpathy's nanoGPT (``GPTConfig`` + ``GPT``), with separate input and output vocabularies
so that special tokens (e.g. a class label as start token) can be read but never predicted, and a key/value cache
for incremental decoding (one network pass per generated token over that token only). ``causal=False`` drops the
mask M: every position attends to every other (the bidirectional denoiser of masked diffusion language models,
Sahoo et al. 2024; the cache is then unavailable). ``rope=True`` replaces the learned position embeddings by rotary
ones (Su et al. 2021, RoFormer Eq. 34): queries and keys are rotated by angles proportional to their positions, so
attention scores depend on relative offsets only (what a model trained on windows at random offsets needs).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F

from genlab.errors import ConfigError

__all__ = ["GPTConfig", "GPT", "SelfAttention", "Block", "rotary", "rotate"]


def rotary(positions: torch.Tensor, head_dim: int, base: float = 10000.0) -> tuple[torch.Tensor, torch.Tensor]:
    """cos and sin (T, head_dim / 2) of the angles p * base^(-2i / head_dim) of RoFormer Eq. 34."""
    inv = base ** (-torch.arange(0, head_dim // 2, device=positions.device, dtype=torch.float32) / (head_dim // 2))
    angles = positions.float()[:, None] * inv
    return angles.cos(), angles.sin()


def rotate(x: torch.Tensor, cs: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
    """Rotate the pairs (x_i, x_{i + d/2}) of x (B, H, T, d) by the angles whose cos and sin are ``cs``."""
    cos, sin = cs
    a, b = x[..., : x.shape[-1] // 2], x[..., x.shape[-1] // 2 :]
    return torch.cat([a * cos - b * sin, a * sin + b * cos], -1).to(x.dtype)


@dataclass
class GPTConfig:
    vocab_size: int  # input tokens
    block_size: int  # maximum sequence length
    out_size: int | None = None  # output classes per position (default: vocab_size)
    n_layer: int = 4
    n_head: int = 4
    n_embd: int = 128
    dropout: float = 0.0
    bias: bool = True
    causal: bool = True  # False: bidirectional attention (no mask, no key/value cache)
    rope: bool = False  # rotary position embeddings instead of learned ones

    def check(self) -> None:
        if min(self.vocab_size, self.block_size, self.n_layer, self.n_head, self.n_embd) < 1:
            raise ConfigError(f"transformer sizes must be positive: {self}")
        if self.n_embd % self.n_head:
            raise ConfigError(f"n_embd ({self.n_embd}) must be divisible by n_head ({self.n_head})")
        if not 0.0 <= self.dropout < 1.0:
            raise ConfigError(f"dropout must be in [0, 1), got {self.dropout}")


class SelfAttention(nn.Module):
    """Multi-head self-attention over (B, T, C) tokens; ``causal``: position t attends to positions <= t only."""

    def __init__(self, n_embd: int, n_head: int, *, dropout: float = 0.0, bias: bool = True, causal: bool = True):
        super().__init__()
        if n_embd % n_head:
            raise ConfigError(f"width ({n_embd}) must be divisible by the number of heads ({n_head})")
        self.n_head, self.dropout, self.causal = n_head, dropout, causal
        self.qkv = nn.Linear(n_embd, 3 * n_embd, bias=bias)
        self.proj = nn.Linear(n_embd, n_embd, bias=bias)
        self.resid_drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, kv: list | None = None, rope=None) -> torch.Tensor:
        """``kv``: a list holding this layer's cached keys and values (filled and extended in place); with a
        non-empty cache ``x`` is the one next token (incremental decoding). ``rope``: (cos, sin) of :func:`rotary`
        for x's positions, applied to queries and keys."""
        B, T, C = x.shape
        q, k, v = (t.view(B, T, self.n_head, C // self.n_head).transpose(1, 2) for t in self.qkv(x).split(C, dim=2))
        if rope is not None:
            q, k = rotate(q, rope), rotate(k, rope)
        causal = self.causal
        if kv is not None:
            if kv:
                if T != 1:
                    raise ValueError("with cached keys, decode one token at a time")
                k, v = torch.cat([kv[0], k], 2), torch.cat([kv[1], v], 2)
                causal = False  # the one new query may see every cached position
            kv[:] = [k, v]
        y = F.scaled_dot_product_attention(q, k, v, dropout_p=self.dropout if self.training else 0.0,
                                           is_causal=causal)
        return self.resid_drop(self.proj(y.transpose(1, 2).reshape(B, T, C)))


class Block(nn.Module):
    """Pre-LN transformer block."""

    def __init__(self, c: GPTConfig):
        super().__init__()
        self.ln1, self.ln2 = nn.LayerNorm(c.n_embd, bias=c.bias), nn.LayerNorm(c.n_embd, bias=c.bias)
        self.attn = SelfAttention(c.n_embd, c.n_head, dropout=c.dropout, bias=c.bias, causal=c.causal)
        self.mlp = nn.Sequential(nn.Linear(c.n_embd, 4 * c.n_embd, bias=c.bias), nn.GELU(),
                                 nn.Linear(4 * c.n_embd, c.n_embd, bias=c.bias), nn.Dropout(c.dropout))

    def forward(self, x: torch.Tensor, kv: list | None = None, rope=None) -> torch.Tensor:
        x = x + self.attn(self.ln1(x), kv, rope)
        return x + self.mlp(self.ln2(x))


class GPT(nn.Module):
    """tokens (B, T) int64 -> logits (B, T, out_size); position t sees tokens <= t only."""

    def __init__(self, c: GPTConfig):
        super().__init__()
        c.check()
        self.config = c
        self.wte = nn.Embedding(c.vocab_size, c.n_embd)
        if not c.rope:
            self.wpe = nn.Embedding(c.block_size, c.n_embd)
        self.drop = nn.Dropout(c.dropout)
        self.blocks = nn.ModuleList([Block(c) for _ in range(c.n_layer)])
        self.ln_f = nn.LayerNorm(c.n_embd, bias=c.bias)
        self.head = nn.Linear(c.n_embd, c.out_size or c.vocab_size, bias=False)
        self.apply(self._init)
        for name, p in self.named_parameters():  # GPT-2: scale residual projections by 1/sqrt(2 n_layer)
            if name.endswith("proj.weight") or name.endswith("mlp.2.weight"):
                nn.init.normal_(p, 0.0, 0.02 / math.sqrt(2 * c.n_layer))

    @staticmethod
    def _init(m: nn.Module) -> None:
        if isinstance(m, (nn.Linear, nn.Embedding)):
            nn.init.normal_(m.weight, 0.0, 0.02)
            if isinstance(m, nn.Linear) and m.bias is not None:
                nn.init.zeros_(m.bias)

    def new_cache(self) -> list[list]:
        """An empty key/value cache for :meth:`forward` (incremental decoding, one token per call)."""
        return [[] for _ in self.blocks]

    def forward(self, idx: torch.Tensor, cache: list[list] | None = None) -> torch.Tensor:
        """Logits (B, T, out_size). With ``cache`` (from :meth:`new_cache`), ``idx`` continues the cached sequence
        (the first call may pass several tokens, later calls one) and the cache is extended."""
        if cache is not None and not self.config.causal:
            raise ConfigError("a key/value cache needs causal attention")
        start = cache[0][0].shape[2] if cache and cache[0] else 0
        T = start + idx.shape[1]
        if T > self.config.block_size:
            raise ConfigError(f"sequence of length {T} exceeds block_size {self.config.block_size}")
        positions = torch.arange(start, T, device=idx.device)
        c, rope = self.config, None
        if c.rope:
            x, rope = self.drop(self.wte(idx)), rotary(positions, c.n_embd // c.n_head)
        else:
            x = self.drop(self.wte(idx) + self.wpe(positions))
        for i, block in enumerate(self.blocks):
            x = block(x, None if cache is None else cache[i], rope)
        return self.head(self.ln_f(x))
