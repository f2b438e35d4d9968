"""A small U-Net backbone for image-shaped data, ``net(x, t, y=None)`` (DDPM / NCSN++ style).

Ho et al. 2020 (DDPM, Appendix B) and Song et al. 2021 (NCSN++): a convolutional encoder-decoder with skip
connections; every level has residual blocks GroupNorm -> SiLU -> conv, with the conditioning vector e(t, y)
(:class:`genlab.nn.embedding.ConditionEmbedding`) added after the first convolution; self-attention at the lowest
resolution; the last convolution of every residual branch and the output layer start at zero, so the network
starts as the identity on its skip paths and outputs zero.

Defaults are small (channels (32, 64), one residual block per level): two levels suit 8x8 digits; H and W must be
divisible by 2^(levels - 1) (28x28 takes up to three levels, 32x32 up to six).

With ``text_dim`` (captions, issue 27) ``y`` is a :class:`genlab.nn.text_encoder.TextCondition`: the pooled caption
embedding is added to e, and a cross-attention layer from the lowest level's positions to the caption's tokens
follows its self-attention (Rombach et al. 2022, Sec. 3.3, with one such layer), zero at initialisation.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from genlab.errors import ConfigError
from genlab.nn.cross_attention import CrossAttention
from genlab.nn.embedding import ConditionEmbedding
from genlab.nn.transformer import SelfAttention

__all__ = ["UNet", "ResBlock", "AttentionBlock"]


def _norm(ch: int, groups: int) -> nn.GroupNorm:
    g = groups
    while ch % g:
        g -= 1
    return nn.GroupNorm(g, ch)


class ResBlock(nn.Module):
    """h = conv(SiLU(GN(x))) + W e;  out = skip(x) + conv(dropout(SiLU(GN(h))))  (DDPM's residual block)."""

    def __init__(self, c_in: int, c_out: int, emb_dim: int, groups: int, dropout: float):
        super().__init__()
        self.norm1, self.conv1 = _norm(c_in, groups), nn.Conv2d(c_in, c_out, 3, padding=1)
        self.emb = nn.Linear(emb_dim, c_out)
        self.norm2, self.drop = _norm(c_out, groups), nn.Dropout(dropout)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, padding=1)
        nn.init.zeros_(self.conv2.weight)
        nn.init.zeros_(self.conv2.bias)
        self.skip = nn.Conv2d(c_in, c_out, 1) if c_in != c_out else nn.Identity()

    def forward(self, x: torch.Tensor, e: torch.Tensor) -> torch.Tensor:
        h = self.conv1(F.silu(self.norm1(x))) + self.emb(F.silu(e))[:, :, None, None]
        return self.skip(x) + self.conv2(self.drop(F.silu(self.norm2(h))))


class AttentionBlock(nn.Module):
    """x + Attn(GN(x)) over the H*W positions (non-causal multi-head self-attention)."""

    def __init__(self, ch: int, groups: int, heads: int):
        super().__init__()
        self.norm = _norm(ch, groups)
        self.attn = SelfAttention(ch, heads, causal=False)
        nn.init.zeros_(self.attn.proj.weight)
        nn.init.zeros_(self.attn.proj.bias)

    def forward(self, x: torch.Tensor, e: torch.Tensor | None = None) -> torch.Tensor:
        B, C, H, W = x.shape
        h = self.attn(self.norm(x).flatten(2).transpose(1, 2))
        return x + h.transpose(1, 2).reshape(B, C, H, W)


class SpatialCrossAttention(nn.Module):
    """x + CrossAttn(x, tokens) over the H*W positions of x (B, C, H, W)."""

    def __init__(self, ch: int, heads: int, text_dim: int):
        super().__init__()
        self.cross = CrossAttention(ch, heads, text_dim)

    def forward(self, x: torch.Tensor, text) -> torch.Tensor:
        B, C, H, W = x.shape
        h = self.cross(x.flatten(2).transpose(1, 2), text.tokens, text.mask)
        return h.transpose(1, 2).reshape(B, C, H, W)


class UNet(nn.Module):
    """U-Net over (C, H, W): ``channels`` per level, ``res_blocks`` per level, attention at the lowest level."""

    def __init__(self, shape, *, num_classes: int | None = None, channels=(32, 64), res_blocks: int = 1,
                 attention: bool = True, heads: int = 1, groups: int = 8, emb_dim: int = 128, dropout: float = 0.0,
                 out_channels: int | None = None, text_dim: int | None = None):
        super().__init__()
        shape = tuple(int(s) for s in shape)
        channels = tuple(int(c) for c in channels)
        if len(shape) != 3:
            raise ConfigError(f"the unet backbone needs image-shaped data (C, H, W), got shape {shape}")
        if not channels or min(channels) < 1 or res_blocks < 1 or emb_dim < 2:
            raise ConfigError(f"unet: channels, res_blocks and emb_dim must be positive, got {channels}, {res_blocks}")
        C, H, W = shape
        f = 2 ** (len(channels) - 1)
        if H % f or W % f:
            raise ConfigError(f"unet with {len(channels)} levels needs H and W divisible by {f}, got {H}x{W}")
        self.out_shape = (out_channels or C, H, W)
        self.embed = ConditionEmbedding(emb_dim, num_classes)
        self.inp = nn.Conv2d(C, channels[0], 3, padding=1)
        self.down, self.up = nn.ModuleList(), nn.ModuleList()
        skips, ch = [channels[0]], channels[0]
        for i, c in enumerate(channels):
            for _ in range(res_blocks):
                self.down.append(ResBlock(ch, c, emb_dim, groups, dropout))
                ch = c
                skips.append(ch)
            if i < len(channels) - 1:
                self.down.append(nn.Conv2d(ch, ch, 3, stride=2, padding=1))
                skips.append(ch)
        mid = [ResBlock(ch, ch, emb_dim, groups, dropout)]
        if attention:
            mid.append(AttentionBlock(ch, groups, heads))
        if text_dim:
            mid.append(SpatialCrossAttention(ch, heads, text_dim))
        self.mid = nn.ModuleList([*mid, ResBlock(ch, ch, emb_dim, groups, dropout)])
        for i, c in reversed(list(enumerate(channels))):
            for _ in range(res_blocks + 1):
                self.up.append(ResBlock(ch + skips.pop(), c, emb_dim, groups, dropout))
                ch = c
            if i > 0:
                self.up.append(nn.Upsample(scale_factor=2, mode="nearest"))
                self.up.append(nn.Conv2d(ch, ch, 3, padding=1))
        self.out = nn.Sequential(_norm(ch, groups), nn.SiLU(), nn.Conv2d(ch, self.out_shape[0], 3, padding=1))
        nn.init.zeros_(self.out[-1].weight)
        nn.init.zeros_(self.out[-1].bias)
        self.embed_text = nn.Linear(text_dim, emb_dim) if text_dim else None

    def forward(self, x: torch.Tensor, t: torch.Tensor, y=None) -> torch.Tensor:
        text = y if self.embed_text is not None else None
        if text is not None:
            e = self.embed(t, None, x.shape[0]) + self.embed_text(text.pooled)
        else:
            e = self.embed(t, y, x.shape[0])
        h = self.inp(x)
        hs = [h]
        for layer in self.down:
            h = layer(h, e) if isinstance(layer, ResBlock) else layer(h)
            hs.append(h)
        for layer in self.mid:
            h = layer(h, text) if isinstance(layer, SpatialCrossAttention) else layer(h, e)
        for layer in self.up:
            h = layer(torch.cat([h, hs.pop()], 1), e) if isinstance(layer, ResBlock) else layer(h)
        return self.out(h)
