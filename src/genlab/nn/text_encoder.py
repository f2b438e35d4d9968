"""A small caption encoder and the caption-conditioned networks of the diffusion models (issue 27).

Captions reach a network as token ids (N, L), int64, made by :func:`caption_ids` from the model's tokenizer
(:class:`genlab.data.kinds.TextEncoder`, vocabulary V): the caption's ids, then the padding id V up to the longest
caption of the batch. The *null caption* of classifier-free guidance (Ho & Salimans 2022) is one token of its own,
id V + 1, whose embedding is learned like any other (:func:`null_captions`); the empty string means the null caption.

:class:`CaptionEncoder` is a bidirectional pre-norm transformer over the ids (fixed 1-D sine-cosine positions, so no
length limit; padded keys masked out) that returns a :class:`TextCondition`: the per-token states, their mask and a
pooled embedding (the masked mean of the states through a LayerNorm; as Imagen's pooled text embedding, Saharia et
al. 2022). By default it is pre-trained on the captions before the denoiser and then frozen
(:mod:`genlab.training.caption_pretrain`; ``text_encoder={"pretrain_steps": 0}`` trains it jointly instead). :class:`CaptionNet` puts it in front of a backbone, which
is called ``backbone(x, t, TextCondition)``: the DiT (adaLN on the pooled embedding plus cross-attention to the
tokens, :class:`genlab.nn.dit.DiT` with ``text_dim``) or :class:`CaptionMLP` (the pooled embedding only).
"""

from __future__ import annotations

import inspect
import math
from typing import NamedTuple

import torch
from torch import nn

from genlab.errors import ConfigError, DataError
from genlab.nn.cross_attention import MaskedAttention

__all__ = ["TextCondition", "CaptionEncoder", "CaptionMLP", "CaptionNet", "caption_ids", "null_captions",
           "caption_network", "TEXT_DEFAULTS"]

#: the ``text_encoder`` options of a diffusion model: the encoder's size, and its pre-training before the denoiser
#: (:mod:`genlab.training.caption_pretrain`: at most ``pretrain_steps`` steps, then frozen when ``freeze`` is 1)
TEXT_DEFAULTS = {"dim": 64, "depth": 2, "heads": 4, "pretrain_steps": 3000, "freeze": 1}
_SIZE = ("dim", "depth", "heads")


class TextCondition(NamedTuple):
    tokens: torch.Tensor  # (N, L, dim) per-token states
    mask: torch.Tensor  # (N, L) True = a real token
    pooled: torch.Tensor  # (N, dim)


def caption_ids(tokenizer, captions: list[str]) -> torch.Tensor:
    """(N, L) ids of ``captions`` (see the module docstring); a caption with characters the tokenizer never saw is a
    DataError naming them; "" is the null caption."""
    V = tokenizer.vocab_size
    unknown = sorted({ch for c in captions for ch in tokenizer.unknown(c)})
    if unknown:
        raise DataError(f"the caption tokenizer never saw the character{'s' if len(unknown) > 1 else ''} "
                        f"{', '.join(map(repr, unknown))}; it knows {''.join(tokenizer.chars)!r}")
    rows = [tokenizer.encode(c).tolist() if c else [V + 1] for c in captions]
    out = torch.full((len(rows), max(map(len, rows))), V, dtype=torch.int64)
    for i, r in enumerate(rows):
        out[i, : len(r)] = torch.tensor(r, dtype=torch.int64)
    return out


def null_captions(n: int, length: int, vocab_size: int, device=None) -> torch.Tensor:
    """``n`` rows of the null caption, padded to ``length``."""
    out = torch.full((n, max(length, 1)), vocab_size, dtype=torch.int64, device=device)
    out[:, 0] = vocab_size + 1
    return out


def _sincos_1d(dim: int, length: int, device) -> torch.Tensor:
    half = dim // 2
    omega = 1.0 / 10000 ** (torch.arange(half, dtype=torch.float32, device=device) / max(half, 1))
    pos = torch.arange(length, dtype=torch.float32, device=device)[:, None] * omega
    emb = torch.cat([torch.sin(pos), torch.cos(pos)], 1)
    return torch.cat([emb, emb.new_zeros(length, dim - emb.shape[1])], 1)


class _Block(nn.Module):
    def __init__(self, dim: int, heads: int):
        super().__init__()
        self.norm1, self.norm2 = nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.attn = MaskedAttention(dim, heads)
        self.mlp = nn.Sequential(nn.Linear(dim, 4 * dim), nn.GELU(approximate="tanh"), nn.Linear(4 * dim, dim))

    def forward(self, h: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        h = h + self.attn(self.norm1(h), mask=mask)
        return h + self.mlp(self.norm2(h))


class CaptionEncoder(nn.Module):
    """ids (N, L) -> :class:`TextCondition` (see the module docstring)."""

    def __init__(self, vocab_size: int, *, dim: int = 64, depth: int = 2, heads: int = 4):
        super().__init__()
        if min(dim, depth, heads) < 1 or dim % heads:
            raise ConfigError(f"text encoder: dim ({dim}) must be divisible by heads ({heads}); depth >= 1")
        self.vocab_size, self.dim = int(vocab_size), int(dim)
        self.embed = nn.Embedding(self.vocab_size + 2, dim)  # + padding, + the null caption
        self.blocks = nn.ModuleList([_Block(dim, heads) for _ in range(depth)])
        self.norm = nn.LayerNorm(dim)

    def forward(self, ids: torch.Tensor) -> TextCondition:
        mask = ids != self.vocab_size
        h = self.embed(ids) + _sincos_1d(self.dim, ids.shape[1], ids.device)
        for block in self.blocks:
            h = block(h, mask)
        h = self.norm(h)
        w = mask.to(h.dtype).unsqueeze(-1)
        return TextCondition(h, mask, (h * w).sum(1) / w.sum(1))


class CaptionMLP(nn.Module):
    """A residual FiLM MLP over flat x whose conditioning is e(t) + W pooled (the pooled caption embedding only;
    the layout of :class:`genlab.nn.ConditionalMLP` with ``conditioning="film"``)."""

    def __init__(self, dim: int, text_dim: int, *, embedding: nn.Module, emb_dim: int = 64, hidden: int = 128,
                 depth: int = 3, activation: str = "silu"):
        super().__init__()
        from genlab.nn.mlp import make_activation

        self.embed_t, self.width = embedding, hidden
        self.embed_text = nn.Linear(text_dim, emb_dim)
        self.cond = nn.Linear(emb_dim, depth * 2 * hidden)
        self.inp = nn.Linear(dim, hidden)
        self.hidden = nn.ModuleList([nn.Linear(hidden, hidden) for _ in range(depth)])
        self.act = make_activation(activation)
        self.out = nn.Linear(hidden, dim)

    def forward(self, x: torch.Tensor, t: torch.Tensor, text: TextCondition) -> torch.Tensor:
        t = t.reshape(-1).expand(len(x)) if t.numel() == 1 else t.reshape(-1)
        film = self.cond(self.embed_t(t) + self.embed_text(text.pooled)).split(self.width, dim=-1)
        h = self.inp(x)
        for i, lin in enumerate(self.hidden):
            h = h + lin(self.act(h * (1 + film[2 * i]) + film[2 * i + 1]))
        return self.out(self.act(h))


class CaptionNet(nn.Module):
    """net(x, t, ids) = backbone(x, t, CaptionEncoder(ids)): the caption encoder trained jointly with the denoiser."""

    def __init__(self, text: CaptionEncoder, backbone: nn.Module):
        super().__init__()
        self.text, self.backbone = text, backbone

    def forward(self, x: torch.Tensor, t: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        rows, index = torch.unique(y, dim=0, return_inverse=True)  # each distinct caption encoded once
        text = self.text(rows)
        return self.backbone(x, t, TextCondition(*(a[index] for a in text)))


def caption_network(config, shape: tuple[int, ...], vocab_size: int, embedding: nn.Module) -> CaptionNet:
    """The caption-conditioned network of a diffusion model's ``config``: ``backbone="mlp"`` without options ->
    :class:`CaptionMLP`, else the registered backbone built with ``text_dim`` (ConfigError if it takes none)."""
    from genlab.nn.backbones import BACKBONES, FlatAdapter, build_backbone, uses_backbone

    opts = {**TEXT_DEFAULTS, **dict(getattr(config, "text_encoder", {}) or {})}
    unknown = sorted(set(opts) - set(TEXT_DEFAULTS))
    if unknown:
        raise ConfigError(f"unknown text_encoder option(s) {', '.join(unknown)}; accepted: {', '.join(TEXT_DEFAULTS)}")
    text = CaptionEncoder(vocab_size, **{k: int(opts[k]) for k in _SIZE})
    if not uses_backbone(config):
        net = CaptionMLP(math.prod(shape), text.dim, embedding=embedding, emb_dim=config.emb_dim,
                         hidden=config.hidden, depth=config.depth, activation=config.activation)
        return CaptionNet(text, net)
    if "text_dim" not in inspect.signature(BACKBONES.get(config.backbone)).parameters:
        raise ConfigError(f"backbone '{config.backbone}' takes no captions (no text_dim option); use dit, unet or mlp")
    net = build_backbone(config.backbone, shape, text_dim=text.dim, **config.backbone_options)
    return CaptionNet(text, FlatAdapter(net, shape))
