"""A small Diffusion Transformer backbone, ``net(x, t, y=None)`` (Peebles & Xie 2023, "Scalable Diffusion Models
with Transformers").

The image (C, H, W) is cut into p x p patches, linearly embedded, given fixed 2-D sine-cosine position embeddings
and passed through transformer blocks conditioned by adaLN-Zero (Sec. 3.2): from the conditioning vector
c = e(t) + e(y), each block regresses shift, scale and gate of both of its sub-layers,

    x = x + gate_a * Attn(LN(x) * (1 + scale_a) + shift_a),   x = x + gate_m * MLP(LN(x) * (1 + scale_m) + shift_m),

with the regressing layer initialised to zero, so every block starts as the identity. A final adaLN layer and a
zero-initialised linear map each token back to a p x p patch (unpatchify).

With ``text_dim`` (captions, issue 27) ``y`` is a :class:`genlab.nn.text_encoder.TextCondition`: its pooled
embedding enters c = e(t) + W pooled (adaLN on the pooled caption), and every block gets a cross-attention
sub-layer from the image tokens to the caption's token states after its self-attention (PixArt-alpha's DiT
layout, Chen et al. 2023), zero at initialisation.
"""

from __future__ import annotations

import torch
from torch import nn

from genlab.errors import ConfigError
from genlab.nn.cross_attention import CrossAttention
from genlab.nn.embedding import ConditionEmbedding
from genlab.nn.transformer import SelfAttention

__all__ = ["DiT", "DiTBlock", "sincos_2d"]


def sincos_2d(dim: int, h: int, w: int) -> torch.Tensor:
    """Fixed 2-D sine-cosine position embeddings (h*w, dim): half the features encode the row, half the column."""
    quarter = dim // 4
    omega = 1.0 / 10000 ** (torch.arange(quarter, dtype=torch.float32) / max(quarter, 1))
    rows, cols = torch.meshgrid(torch.arange(h, dtype=torch.float32), torch.arange(w, dtype=torch.float32),
                                indexing="ij")
    parts = [f(pos.reshape(-1, 1) * omega) for pos in (rows, cols) for f in (torch.sin, torch.cos)]
    emb = torch.cat(parts, 1)
    return torch.cat([emb, torch.zeros(h * w, dim - emb.shape[1])], 1)


def _modulate(x: torch.Tensor, shift: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    return x * (1 + scale.unsqueeze(1)) + shift.unsqueeze(1)


class DiTBlock(nn.Module):
    """Transformer block with adaLN-Zero conditioning (Peebles & Xie 2023, Fig. 3)."""

    def __init__(self, hidden: int, heads: int, mlp_ratio: float, dropout: float, text_dim: int | None = None):
        super().__init__()
        self.norm1 = nn.LayerNorm(hidden, elementwise_affine=False, eps=1e-6)
        self.attn = SelfAttention(hidden, heads, dropout=dropout, causal=False)
        self.norm2 = nn.LayerNorm(hidden, elementwise_affine=False, eps=1e-6)
        width = int(hidden * mlp_ratio)
        self.mlp = nn.Sequential(nn.Linear(hidden, width), nn.GELU(approximate="tanh"), nn.Linear(width, hidden))
        self.ada = nn.Sequential(nn.SiLU(), nn.Linear(hidden, 6 * hidden))
        nn.init.zeros_(self.ada[-1].weight)
        nn.init.zeros_(self.ada[-1].bias)
        self.cross = CrossAttention(hidden, heads, text_dim) if text_dim else None

    def forward(self, x: torch.Tensor, c: torch.Tensor, text=None) -> torch.Tensor:
        shift_a, scale_a, gate_a, shift_m, scale_m, gate_m = self.ada(c).chunk(6, dim=1)
        x = x + gate_a.unsqueeze(1) * self.attn(_modulate(self.norm1(x), shift_a, scale_a))
        if self.cross is not None:
            x = self.cross(x, text.tokens, text.mask)
        return x + gate_m.unsqueeze(1) * self.mlp(_modulate(self.norm2(x), shift_m, scale_m))


class DiT(nn.Module):
    """DiT over (C, H, W) with patch size ``patch`` (H and W divisible by it); small by default."""

    def __init__(self, shape, *, num_classes: int | None = None, patch: int = 2, hidden: int = 128, depth: int = 4,
                 heads: int = 4, mlp_ratio: float = 4.0, dropout: float = 0.0, out_channels: int | None = None,
                 text_dim: int | None = None):
        super().__init__()
        shape = tuple(int(s) for s in shape)
        if len(shape) != 3:
            raise ConfigError(f"the dit backbone needs image-shaped data (C, H, W), got shape {shape}")
        C, H, W = shape
        if patch < 1 or H % patch or W % patch:
            raise ConfigError(f"dit: patch size {patch} must divide the image size {H}x{W}")
        if hidden < 4 or depth < 1 or heads < 1 or hidden % heads:
            raise ConfigError(f"dit: hidden ({hidden}) must be divisible by heads ({heads}); depth >= 1")
        self.out_shape = (out_channels or C, H, W)
        self.patch, self.grid = patch, (H // patch, W // patch)
        self.embed_x = nn.Conv2d(C, hidden, patch, stride=patch)
        self.register_buffer("pos", sincos_2d(hidden, *self.grid), persistent=False)
        self.embed_c = ConditionEmbedding(hidden, num_classes)
        self.blocks = nn.ModuleList([DiTBlock(hidden, heads, mlp_ratio, dropout, text_dim) for _ in range(depth)])
        self.norm = nn.LayerNorm(hidden, elementwise_affine=False, eps=1e-6)
        self.ada = nn.Sequential(nn.SiLU(), nn.Linear(hidden, 2 * hidden))
        self.head = nn.Linear(hidden, patch * patch * self.out_shape[0])
        for layer in (self.ada[-1], self.head):
            nn.init.zeros_(layer.weight)
            nn.init.zeros_(layer.bias)
        nn.init.xavier_uniform_(self.embed_x.weight.view(hidden, -1))
        nn.init.zeros_(self.embed_x.bias)
        self.embed_text = nn.Linear(text_dim, hidden) if text_dim else None

    def forward(self, x: torch.Tensor, t: torch.Tensor, y=None) -> torch.Tensor:
        N = x.shape[0]
        h = self.embed_x(x).flatten(2).transpose(1, 2) + self.pos  # (N, T, hidden)
        text = y if self.embed_text is not None else None
        if text is not None:
            c = self.embed_c(t, None, N) + self.embed_text(text.pooled)
        else:
            c = self.embed_c(t, y, N)
        for block in self.blocks:
            h = block(h, c, text)
        shift, scale = self.ada(c).chunk(2, dim=1)
        h = self.head(_modulate(self.norm(h), shift, scale))  # (N, T, p*p*C_out)
        p, (gh, gw), co = self.patch, self.grid, self.out_shape[0]
        h = h.view(N, gh, gw, p, p, co).permute(0, 5, 1, 3, 2, 4)
        return h.reshape(N, co, gh * p, gw * p)
