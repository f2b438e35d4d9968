"""A space-time Diffusion Transformer for clips, ``net(x, t, y=None)`` with x (N, T, C, H, W): the DiT of Peebles &
Xie 2023 ("Scalable Diffusion Models with Transformers") over space-time patches, with the factorised attention of
Latte (Ma et al. 2024, "Latte: Latent Diffusion Transformer for Video Generation", variant 1: spatial and temporal
blocks interleaved) or joint attention over all patches (Kang et al. 2024 train such a video DiT on ball videos).

The clip is cut into ``tubelet`` x ``patch`` x ``patch`` patches (frames x rows x columns; ViViT's tubelets, Arnab et
al. 2021), linearly embedded, given fixed sine-cosine position embeddings (2-D over the patch grid plus 1-D over
time) and passed through adaLN-Zero blocks (:class:`genlab.nn.dit.DiTBlock`) conditioned on c = e(t) + e(y):
with ``attention="factorised"`` each of the ``depth`` layers is a spatial block (attention among the patches of one
frame) and a temporal block (attention among the frames at one patch position); with ``"joint"`` one block attends
over all T' H' W' patches (quadratic in their number). A final adaLN layer and a zero-initialised linear map return
each token to its patch, so the network starts as zero (the identity denoiser under EDM's preconditioning).

``given_frames=k`` (trained frame conditioning, :mod:`genlab.apps.video`): one more input channel, 1 on the first k
frames and 0 elsewhere, tells the network which frames are given clean.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from genlab.errors import ConfigError
from genlab.nn.dit import DiTBlock, sincos_2d
from genlab.nn.embedding import ConditionEmbedding

__all__ = ["VideoDiT", "sincos_1d", "ATTENTION"]

ATTENTION = ("factorised", "joint")


def sincos_1d(dim: int, n: int) -> torch.Tensor:
    """Fixed 1-D sine-cosine position embeddings (n, dim) (Vaswani et al. 2017)."""
    half = dim // 2
    omega = 1.0 / 10000 ** (torch.arange(half, dtype=torch.float32) / max(half, 1))
    pos = torch.arange(n, dtype=torch.float32)[:, None] * omega
    emb = torch.cat([torch.sin(pos), torch.cos(pos)], 1)
    return torch.cat([emb, torch.zeros(n, dim - emb.shape[1])], 1)


class VideoDiT(nn.Module):
    """Space-time DiT over clips (T, C, H, W); small by default (a 2-core CPU trains it on 16 x 32 x 32 clips)."""

    def __init__(self, shape, *, num_classes: int | None = None, patch: int = 4, tubelet: int = 1, hidden: int = 64,
                 depth: int = 2, heads: int = 4, mlp_ratio: float = 2.0, dropout: float = 0.0,
                 attention: str = "factorised", given_frames: int = 0, out_channels: int | None = None):
        super().__init__()
        shape = tuple(int(s) for s in shape)
        if len(shape) != 4:
            raise ConfigError(f"the video_dit backbone needs clips (T, C, H, W), got shape {shape}")
        T, C, H, W = shape
        if patch < 1 or H % patch or W % patch or tubelet < 1 or T % tubelet:
            raise ConfigError(f"video_dit: patch {patch} must divide the frame size {H}x{W} and tubelet {tubelet} "
                              f"the {T} frames")
        if hidden < 4 or depth < 1 or heads < 1 or hidden % heads:
            raise ConfigError(f"video_dit: hidden ({hidden}) must be divisible by heads ({heads}); depth >= 1")
        if attention not in ATTENTION:
            raise ConfigError(f"video_dit: attention must be one of {', '.join(ATTENTION)}, got {attention!r}")
        if not 0 <= given_frames < T:
            raise ConfigError(f"video_dit: given_frames must lie in [0, {T}), got {given_frames}")
        self.out_shape = (T, out_channels or C, H, W)
        self.patch, self.tubelet, self.attention, self.given_frames = patch, tubelet, attention, given_frames
        self.grid = (T // tubelet, H // patch, W // patch)
        cin = C + (1 if given_frames else 0)
        self.embed_x = nn.Conv3d(cin, hidden, (tubelet, patch, patch), stride=(tubelet, patch, patch))
        gt, gh, gw = self.grid
        pos = sincos_1d(hidden, gt)[:, None] + sincos_2d(hidden, gh, gw)[None]  # (T', H' W', hidden)
        self.register_buffer("pos", pos, persistent=False)
        self.embed_c = ConditionEmbedding(hidden, num_classes)
        per_layer = 2 if attention == "factorised" else 1
        self.blocks = nn.ModuleList([DiTBlock(hidden, heads, mlp_ratio, dropout) for _ in range(per_layer * depth)])
        self.norm = nn.LayerNorm(hidden, elementwise_affine=False, eps=1e-6)
        self.ada = nn.Sequential(nn.SiLU(), nn.Linear(hidden, 2 * hidden))
        self.head = nn.Linear(hidden, tubelet * patch * patch * self.out_shape[1])
        for layer in (self.ada[-1], self.head):
            nn.init.zeros_(layer.weight)
            nn.init.zeros_(layer.bias)
        nn.init.xavier_uniform_(self.embed_x.weight.view(hidden, -1))
        nn.init.zeros_(self.embed_x.bias)

    def forward(self, x: torch.Tensor, t: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        N, T = x.shape[:2]
        if self.given_frames:
            given = torch.zeros(N, T, 1, *x.shape[3:], dtype=x.dtype, device=x.device)
            given[:, : self.given_frames] = 1
            x = torch.cat([x, given], 2)
        h = self.embed_x(x.transpose(1, 2))  # (N, hidden, T', H', W')
        gt, gh, gw = self.grid
        S = gh * gw
        h = h.flatten(3).permute(0, 2, 3, 1) + self.pos  # (N, T', S, hidden)
        c = self.embed_c(t, y, N)
        for i, block in enumerate(self.blocks):
            if self.attention == "joint":
                h = block(h.reshape(N, gt * S, -1), c).reshape(N, gt, S, -1)
            elif i % 2 == 0:  # spatial: the patches of one frame
                h = block(h.reshape(N * gt, S, -1), c.repeat_interleave(gt, 0)).reshape(N, gt, S, -1)
            else:  # temporal: the frames at one patch position
                ht = h.transpose(1, 2).reshape(N * S, gt, -1)
                h = block(ht, c.repeat_interleave(S, 0)).reshape(N, S, gt, -1).transpose(1, 2)
        shift, scale = self.ada(c).chunk(2, dim=1)
        h = self.norm(h) * (1 + scale[:, None, None]) + shift[:, None, None]
        h = self.head(h)  # (N, T', S, tubelet * p * p * C_out)
        p, q, co = self.patch, self.tubelet, self.out_shape[1]
        h = h.view(N, gt, gh, gw, q, p, p, co).permute(0, 1, 4, 7, 2, 5, 3, 6)
        return h.reshape(N, *self.out_shape)

    def extra_repr(self) -> str:
        return f"grid={self.grid}, attention={self.attention}, given_frames={self.given_frames}, " \
               f"params={sum(math.prod(p.shape) for p in self.parameters())}"
