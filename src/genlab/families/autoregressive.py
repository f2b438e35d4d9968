"""``pixel_transformer``: a GPT-style causal transformer over discrete pixel values (exact likelihood).

The joint of D discrete values v = (v_1, ..., v_D), v_d in {0, ..., L-1}, in raster order with the channels of a
pixel interleaved (PixelCNN's order, van den Oord et al. 2016, Eq. 1-2), is factorised autoregressively

    P(v | y) = prod_d P(v_d | v_<d, y),                                               (Eq. 1)

each conditional a softmax over the L levels, computed for every d in one pass of a causal transformer
(:class:`genlab.nn.transformer.GPT`; Chen et al. 2020, "Generative Pretraining from Pixels", Eq. 1). The first
input token is the class label y (index ``num_classes`` = no label, used with probability ``p_uncond`` in
training, so the model also samples unconditionally).

Captions (issue 27; ``y`` strings, read by the char tokenizer the model keeps as ``label_encoder``): the caption's
tokens come first, a prefix of ``prefix_length`` tokens (the longest training caption; shorter ones left-padded),
and P(v | caption) is Eq. 1 with the prefix as context, as a decoder-only text-to-image model reads its prompt
(Ramesh et al. 2021, DALL-E, Sec. 2.2, text tokens then image tokens in one stream). With probability
``p_uncond`` a training caption becomes the null caption, so ``sample(n, y=..., guidance=w)`` can use
classifier-free guidance on the logits, l = (1 + w) l(v_d | v_<d, y) - w l(v_d | v_<d) (Ho & Salimans 2022 for
diffusion; for autoregressive decoding Sanchez et al. 2023, "Stay on topic with classifier-free guidance", Eq. 7);
class labels take it too. ``y=None`` or the empty caption is the null caption.

Images with values in [0, 1] (``shapes``): ``quantize=k`` reads them as k levels, round(x (k - 1)), returns samples
as level / (k - 1), and gives the density of each level spread evenly over its cell of width 1 / (k - 1),
log p(x) = log P(v) + D log(k - 1). ``joint_channels=True`` makes one token of each pixel's C values (L^C
colours; Image GPT's colour tokens, Chen et al. 2020 Sec. 3.2, there a 9-bit k-means palette), so a sequence has
H W tokens rather than C H W (attention cost 1/C^2; a 32 x 32 RGB image: 1024 tokens, not 3072).

Density over dequantized data: with u ~ U[0, 1)^D, the step density p(x + u) = P(x) integrates to one over
[low, low + L)^D, so ``log_prob`` of real input is log P(floor(x)), which compares directly with the dequantized
log-likelihood (and bits/dim) of every continuous model, with no normalisation Jacobian (``normalize`` is off).
``fit`` floors its input too, so ``fit(x, dequantize=True)`` and ``fit(x)`` train the same model.

Levels: ``levels=0`` infers them at the first fit from the floored data, ``levels = max - low + 1`` with
``low = min(0, min)`` (both kept in the config, hence in the checkpoint); values outside ``[low, low + levels)``
have log-probability -inf.

Sampling is ancestral (D network passes; ``temperature`` divides the logits). ``impute``:
- rows whose missing entries are a suffix of the order are filled exactly by ancestral sampling of
  P(v_>j | v_<=j);
- other rows by Gibbs sampling (Geman & Geman 1984): start from ancestral sampling with the observed values
  clamped, then ``sweeps`` sweeps over the missing positions, each drawing v_d from its exact full conditional
  P(v_d | v_-d) proportional to P(v) (evaluated for all L values of v_d in one batched pass).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import torch
from torch.nn import functional as F

from genlab.checks import in_range, nonnegative_int, require
from genlab.errors import DataError
from genlab.model import GenerativeModel, NeuralConfig
from genlab.nn.text_encoder import null_captions
from genlab.nn.transformer import GPT, GPTConfig
from genlab.registry import bounded, register
from genlab.rng import multinomial, rand

__all__ = ["PixelTransformer", "PixelTransformerConfig", "raster_order", "left_aligned"]

MAX_TOKEN_VALUES = 4096  # joint_channels: at most this many colours (levels^C) per token


@dataclass
class PixelTransformerConfig(NeuralConfig):
    normalize: bool = False  # must stay False: the model is discrete

    def check(self) -> None:
        super().check()
        require(not self.normalize, "pixel_transformer models discrete values: normalize must be false")
        require(self.levels != 1, f"levels must be >= 2 (or 0 to infer them at fit), got {self.levels}")
        require(self.quantize != 1, "quantize must be 0 (integer data) or the number of levels (>= 2) over [0, 1]")
    levels: int = bounded(0, ge=0)  # number of discrete values; 0 = inferred at the first fit
    low: int = 0  # the value of level 0 (inferred with levels: min(0, floor(min x)))
    n_layer: int = 2  # small by default: ~0.1 s per step of 64 sequences of 64 tokens on one CPU thread
    n_head: int = 4
    n_embd: int = 64
    dropout: float = 0.1
    p_uncond: float = bounded(0.1, ge=0, lt=1)  # probability of training with the null label / caption
    quantize: int = bounded(0, ge=0)  # k >= 2: data in [0, 1] read as k levels round(x (k - 1)); sets levels = k
    joint_channels: bool = False  # images (C, H, W): one token per pixel over its levels^C colours
    prefix_length: int = bounded(0, ge=0)  # caption tokens before the values; 0 = the longest training caption
    steps: int = 3000
    batch_size: int = 64
    lr: float = 1e-3
    weight_decay: float = 0.01
    grad_clip: float = 1.0
    lr_schedule: str = "cosine"


def raster_order(shape: tuple[int, ...]) -> torch.Tensor:
    """Flat indices of ``shape`` in raster order with channels interleaved: (C, H, W) -> (h, w, c); else identity."""
    dim = math.prod(shape)
    if len(shape) != 3:
        return torch.arange(dim)
    c, h, w = shape
    return torch.arange(dim).view(c, h * w).t().reshape(-1)


def left_aligned(ids: torch.Tensor, pad: int, length: int) -> torch.Tensor:
    """Caption ids (N, L), right-padded with ``pad`` (:func:`genlab.nn.text_encoder.caption_ids`), as (N, length)
    rows that end with the caption (left-padded), so the first value always follows the prefix at one position."""
    n_real = (ids != pad).sum(1, keepdim=True)
    if int(n_real.max()) > length:
        raise DataError(f"a caption of {int(n_real.max())} tokens is longer than the model's prefix_length ({length}, "
                        "its longest training caption)")
    j = torch.arange(length, device=ids.device) - (length - n_real)
    return torch.where(j >= 0, ids.gather(1, j.clamp(min=0)), torch.full_like(j, pad))


@register
class PixelTransformer(GenerativeModel):
    """Causal transformer over discrete values in raster order (Chen et al. 2020; Eq. 1 of the module docstring)."""

    kinds = ("images", "vectors")  # integer-valued data only: not the continuous encoding of tables

    name = "pixel_transformer"
    Config = PixelTransformerConfig
    likelihood = "exact"
    conditional = True
    takes_captions = True  # y may be captions: their tokens are the prefix (module docstring)
    eval_batch = 1024
    smoke = {"fit": {"steps": 20}}  # tiny budget of the contract test
    # nn.Dropout draws each process's masks from its own global RNG, not from the step's sharded draws: with dropout
    # N processes with batch B train as 1 with batch N B only without it (tests/test_distributed.py)
    data_parallel_config: ClassVar[dict] = {"dropout": 0.0}

    def build(self) -> None:
        c = self.config
        require(not c.joint_channels or len(self.shape) == 3, f"joint_channels needs images (C, H, W), got shape "
                f"{self.shape}")
        self.L = max(c.quantize or c.levels, 2)  # a placeholder network until the levels are known
        self.C = self.shape[0] if c.joint_channels else 1  # values per token
        require(self.L**self.C <= MAX_TOKEN_VALUES, f"joint_channels: {self.L} levels ^ {self.C} channels = "
                f"{self.L**self.C} colours per token, more than {MAX_TOKEN_VALUES}; use fewer levels (quantize=)")
        self.K, self.T = self.L**self.C, self.dim // self.C  # values of one token, tokens per sample
        self.null = self.num_classes or 0
        captions = self.label_encoder is not None
        self.prefix = max(c.prefix_length, 1) if captions else 1  # a placeholder until the first caption fit
        self.register_buffer("order", raster_order(self.shape), persistent=False)
        self.register_buffer("radix", self.L ** torch.arange(self.C - 1, -1, -1), persistent=False)
        vocab = self.K + (self.label_encoder.vocab_size + 2 if captions else self.null + 1)
        self.net = GPT(GPTConfig(vocab_size=vocab, block_size=self.T + self.prefix - 1, out_size=self.K,
                                 n_layer=c.n_layer, n_head=c.n_head, n_embd=c.n_embd, dropout=c.dropout))

    # ------------------------------------------------------------------ tokens
    def _tokens(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Values -> tokens (N, T) int64 in model order (levels, clamped; joint colours with ``joint_channels``)
        and whether each row lies in range."""
        c = self.config
        x = z[:, self.order]
        v = torch.round(x * (c.quantize - 1)) if c.quantize else torch.floor(x) - c.low
        ok = ((v >= 0) & (v < self.L)).all(1)
        v = v.clamp(0, self.L - 1).long()
        return (v.view(len(v), self.T, self.C) * self.radix).sum(2), ok

    def _values(self, v: torch.Tensor) -> torch.Tensor:
        """Tokens in model order (N, T) -> values in the data's flat order (float)."""
        c = self.config
        v = (v.unsqueeze(2) // self.radix % self.L).reshape(len(v), self.dim)
        out = torch.empty(v.shape, dtype=torch.float32, device=v.device)
        out[:, self.order] = v.float() / (c.quantize - 1) if c.quantize else (v + c.low).float()
        return out

    def _start(self, y: torch.Tensor | None, n: int) -> torch.Tensor:
        """The tokens before the first value: a class label (or the null label) as one token, or a caption's ids
        (N, L) left-padded to the prefix (the null caption where ``y`` is None)."""
        if self.label_encoder is None:
            label = torch.full((n,), self.null, dtype=torch.long, device=self.order.device) if y is None else y.long()
            return (self.K + label).unsqueeze(1)
        V = self.label_encoder.vocab_size
        ids = null_captions(n, 1, V, self.order.device) if y is None else y
        return self.K + left_aligned(ids, V, self.prefix)

    def _logits(self, v: torch.Tensor, y: torch.Tensor | None) -> torch.Tensor:
        """Logits (N, T+1, K) of P(v_d | v_<d) for d = 1..T+1 given the first T tokens ``v`` (N, T)."""
        start = self._start(y, v.shape[0])
        return self.net(torch.cat([start, v], 1))[:, start.shape[1] - 1 :]

    def _logp_levels(self, v: torch.Tensor, y: torch.Tensor | None) -> torch.Tensor:
        logits = self._logits(v[:, :-1], y)
        return F.log_softmax(logits, -1).gather(2, v.unsqueeze(2)).squeeze(2).sum(1)

    # ------------------------------------------------------------------ hooks
    def _fit(self, z, y, spec) -> None:
        c = self.config
        flat = torch.floor(z)
        if c.quantize:
            c.levels, c.low = c.quantize, 0
        elif c.levels == 0:
            c.low = min(0, int(flat.min()))
            c.levels = max(int(flat.max()) - c.low + 1, 2)
        if self.label_encoder is not None and c.prefix_length == 0 and y is not None:
            c.prefix_length = int((y != self.label_encoder.vocab_size).sum(1).max())
        if not self.fitted:
            self.build()
        if not self._tokens(z)[1].all():
            raise DataError(f"data values lie outside [0, 1] (quantize={c.quantize})" if c.quantize else
                            f"data values lie outside the model's levels [{c.low}, {c.low + c.levels}); "
                            f"create the model with levels=0 to infer them, or a larger levels=")
        super()._fit(z, y, spec)

    def loss(self, z, y, *, generator) -> torch.Tensor:
        if y is not None and self.config.p_uncond > 0:
            drop = rand(y.shape[:1], generator, device=y.device) < self.config.p_uncond
            if y.ndim == 2:  # caption ids
                null = null_captions(len(y), y.shape[1], self.label_encoder.vocab_size, y.device)
                y = torch.where(drop[:, None], null, y)
            else:
                y = torch.where(drop, torch.full_like(y, self.null), y)
        v, _ = self._tokens(z)
        return -self._logp_levels(v, y)

    def _log_prob(self, z, y, *, generator=None) -> torch.Tensor:
        v, ok = self._tokens(z)
        q = self.config.quantize
        lp = self._logp_levels(v, y) + (self.dim * math.log(q - 1) if q else 0.0)
        return torch.where(ok, lp, torch.full_like(lp, -math.inf))

    @torch.no_grad()
    def _ancestral(self, v: torch.Tensor, fill: torch.Tensor, y, generator, temperature: float = 1.0,
                   guidance: float = 0.0) -> torch.Tensor:
        """Draw v_d ~ P(v_d | v_<d) in order where ``fill`` (N, T) is True; other entries are kept. ``guidance`` w
        (with ``y``): the logits (1 + w) l(v_d | v_<d, y) - w l(v_d | v_<d), both halves in one batch of 2N rows."""
        v = v.clone()
        guided = y is not None and guidance != 0.0
        start = self._start(y, len(v))
        if guided:
            start = torch.cat([start, self._start(None, len(v))])
        cache = self.net.new_cache()  # one pass per position over the newest token only
        token = start
        for d in range(self.T):
            logits = self.net(token, cache)[:, -1]
            if guided:
                cond, plain = logits.chunk(2)
                logits = (1 + guidance) * cond - guidance * plain
            rows = fill[:, d].nonzero().squeeze(1)
            if rows.numel():
                probs = torch.softmax(logits[rows] / temperature, -1)
                v[rows, d] = multinomial(probs, 1, generator).squeeze(1)
            token = v[:, d : d + 1].repeat(2 if guided else 1, 1)
        return v

    def _sample(self, n, y, *, generator, temperature: float = 1.0, guidance: float = 0.0) -> torch.Tensor:
        in_range("temperature", float(temperature), gt=0)
        v = torch.zeros(n, self.T, dtype=torch.long, device=self.order.device)
        fill = torch.ones_like(v, dtype=torch.bool)
        return self._values(self._ancestral(v, fill, y, generator, float(temperature), float(guidance)))

    @torch.no_grad()
    def _impute(self, z, mask, *, generator, sweeps: int = 3) -> torch.Tensor:
        sweeps = nonnegative_int("impute sweeps", sweeps)
        v, _ = self._tokens(z)
        missing = (~mask[:, self.order]).view(len(v), self.T, self.C)
        require(bool((missing == missing[:, :, :1]).all()), "joint_channels imputes whole pixels: the mask must be "
                "the same for every channel of a pixel")
        missing = missing[:, :, 0]
        v = self._ancestral(v, missing, None, generator)  # exact where the missing entries are a suffix
        n_obs = (~missing).sum(1)
        prefix = (~missing == (torch.arange(self.T, device=v.device) < n_obs[:, None])).all(1)
        rows = (~prefix).nonzero().squeeze(1)
        chunk = max(1, 4096 // self.K)
        for _ in range(sweeps if rows.numel() else 0):
            for d in range(self.T):
                todo = rows[missing[rows, d]]
                for i in range(0, todo.numel(), chunk):
                    r = todo[i : i + chunk]
                    cand = v[r].repeat_interleave(self.K, 0)
                    cand[:, d] = torch.arange(self.K, device=v.device).repeat(r.numel())
                    logp = self._logp_levels(cand, None).view(r.numel(), self.K)
                    v[r, d] = multinomial(torch.softmax(logp, -1), 1, generator).squeeze(1)
        return self._values(v)
