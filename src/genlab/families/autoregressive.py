"""``pixel_transformer``: a GPT-style causal transformer over discrete pixel values (exact likelihood).

The joint of D discrete values v = (v_1, ..., v_D), v_d in {0, ..., L-1}, in raster order with the channels of a
pixel interleaved (PixelCNN's order, van den Oord et al. 2016, Eq. 1-2), is factorised autoregressively

    P(v | y) = prod_d P(v_d | v_<d, y),                                               (Eq. 1)

each conditional a softmax over the L levels, computed for every d in one pass of a causal transformer
(:class:`genlab.nn.transformer.GPT`; Chen et al. 2020, "Generative Pretraining from Pixels", Eq. 1). The first
input token is the class label y (index ``num_classes`` = no label, used with probability ``label_dropout`` in
training, so the model also samples unconditionally).

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
from genlab.nn.transformer import GPT, GPTConfig
from genlab.registry import bounded, register
from genlab.rng import multinomial, rand

__all__ = ["PixelTransformer", "PixelTransformerConfig", "raster_order"]


@dataclass
class PixelTransformerConfig(NeuralConfig):
    normalize: bool = False  # must stay False: the model is discrete

    def check(self) -> None:
        super().check()
        require(not self.normalize, "pixel_transformer models discrete values: normalize must be false")
        require(self.levels != 1, f"levels must be >= 2 (or 0 to infer them at fit), got {self.levels}")
    levels: int = bounded(0, ge=0)  # number of discrete values; 0 = inferred at the first fit
    low: int = 0  # the value of level 0 (inferred with levels: min(0, floor(min x)))
    n_layer: int = 2  # small by default: ~0.1 s per step of 64 sequences of 64 tokens on one CPU thread
    n_head: int = 4
    n_embd: int = 64
    dropout: float = 0.1
    label_dropout: float = bounded(0.1, ge=0, lt=1)  # probability of training with the null label (conditional fits)
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


@register
class PixelTransformer(GenerativeModel):
    """Causal transformer over discrete values in raster order (Chen et al. 2020; Eq. 1 of the module docstring)."""

    kinds = ("images", "vectors")  # integer-valued data only: not the continuous encoding of tables

    name = "pixel_transformer"
    Config = PixelTransformerConfig
    likelihood = "exact"
    conditional = True
    eval_batch = 1024
    smoke = {"fit": {"steps": 20}}  # tiny budget of the contract test
    # nn.Dropout draws each process's masks from its own global RNG, not from the step's sharded draws: with dropout
    # N processes with batch B train as 1 with batch N B only without it (tests/test_distributed.py)
    data_parallel_config: ClassVar[dict] = {"dropout": 0.0}

    def build(self) -> None:
        c = self.config
        self.L = max(c.levels, 2)  # a placeholder network until the levels are known
        self.null = self.num_classes or 0
        self.register_buffer("order", raster_order(self.shape), persistent=False)
        self.net = GPT(GPTConfig(vocab_size=self.L + self.null + 1, block_size=self.dim, out_size=self.L,
                                 n_layer=c.n_layer, n_head=c.n_head, n_embd=c.n_embd, dropout=c.dropout))

    # ------------------------------------------------------------------ tokens
    def _tokens(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Floored values in model order as levels (N, D) int64 (clamped) and whether each row lies in range."""
        v = torch.floor(z[:, self.order]) - self.config.low
        ok = ((v >= 0) & (v < self.L)).all(1)
        return v.clamp(0, self.L - 1).long(), ok

    def _values(self, v: torch.Tensor) -> torch.Tensor:
        """Levels in model order (N, D) -> values in the data's flat order (float)."""
        out = torch.empty(v.shape, dtype=torch.float32, device=v.device)
        out[:, self.order] = (v + self.config.low).float()
        return out

    def _start(self, y: torch.Tensor | None, n: int) -> torch.Tensor:
        label = torch.full((n,), self.null, dtype=torch.long, device=self.order.device) if y is None else y.long()
        return (self.L + label).unsqueeze(1)

    def _logits(self, v: torch.Tensor, y: torch.Tensor | None) -> torch.Tensor:
        """Logits (N, T+1, L) of P(v_d | v_<d) for d = 1..T+1 given the first T levels ``v`` (N, T)."""
        return self.net(torch.cat([self._start(y, v.shape[0]), v], 1))

    def _logp_levels(self, v: torch.Tensor, y: torch.Tensor | None) -> torch.Tensor:
        logits = self._logits(v[:, :-1], y)
        return F.log_softmax(logits, -1).gather(2, v.unsqueeze(2)).squeeze(2).sum(1)

    # ------------------------------------------------------------------ hooks
    def _fit(self, z, y, spec) -> None:
        c = self.config
        flat = torch.floor(z)
        if c.levels == 0:
            c.low = min(0, int(flat.min()))
            c.levels = max(int(flat.max()) - c.low + 1, 2)
            self.build()
        elif not self.fitted:
            self.build()
        if not self._tokens(z)[1].all():
            raise DataError(f"data values lie outside the model's levels [{c.low}, {c.low + c.levels}); "
                            f"create the model with levels=0 to infer them, or a larger levels=")
        super()._fit(z, y, spec)

    def loss(self, z, y, *, generator) -> torch.Tensor:
        if y is not None and self.config.label_dropout > 0:
            drop = rand(y.shape, generator, device=y.device) < self.config.label_dropout
            y = torch.where(drop, torch.full_like(y, self.null), y)
        v, _ = self._tokens(z)
        return -self._logp_levels(v, y)

    def _log_prob(self, z, y, *, generator=None) -> torch.Tensor:
        v, ok = self._tokens(z)
        lp = self._logp_levels(v, y)
        return torch.where(ok, lp, torch.full_like(lp, -math.inf))

    @torch.no_grad()
    def _ancestral(self, v: torch.Tensor, fill: torch.Tensor, y, generator, temperature: float = 1.0) -> torch.Tensor:
        """Draw v_d ~ P(v_d | v_<d) in order where ``fill`` (N, D) is True; other entries are kept."""
        v = v.clone()
        cache = self.net.new_cache()  # one pass per position over the newest token only
        token = self._start(y, v.shape[0])
        for d in range(self.dim):
            logits = self.net(token, cache)[:, -1]
            rows = fill[:, d].nonzero().squeeze(1)
            if rows.numel():
                probs = torch.softmax(logits[rows] / temperature, -1)
                v[rows, d] = multinomial(probs, 1, generator).squeeze(1)
            token = v[:, d : d + 1]
        return v

    def _sample(self, n, y, *, generator, temperature: float = 1.0) -> torch.Tensor:
        in_range("temperature", float(temperature), gt=0)
        v = torch.zeros(n, self.dim, dtype=torch.long, device=self.order.device)
        return self._values(self._ancestral(v, torch.ones_like(v, dtype=torch.bool), y, generator, float(temperature)))

    @torch.no_grad()
    def _impute(self, z, mask, *, generator, sweeps: int = 3) -> torch.Tensor:
        sweeps = nonnegative_int("impute sweeps", sweeps)
        v, _ = self._tokens(z)
        missing = ~mask[:, self.order]
        v = self._ancestral(v, missing, None, generator)  # exact where the missing entries are a suffix
        n_obs = (~missing).sum(1)
        prefix = (~missing == (torch.arange(self.dim, device=v.device) < n_obs[:, None])).all(1)
        rows = (~prefix).nonzero().squeeze(1)
        chunk = max(1, 4096 // self.L)
        for _ in range(sweeps if rows.numel() else 0):
            for d in range(self.dim):
                todo = rows[missing[rows, d]]
                for i in range(0, todo.numel(), chunk):
                    r = todo[i : i + chunk]
                    cand = v[r].repeat_interleave(self.L, 0)
                    cand[:, d] = torch.arange(self.L, device=v.device).repeat(r.numel())
                    logp = self._logp_levels(cand, None).view(r.numel(), self.L)
                    v[r, d] = multinomial(torch.softmax(logp, -1), 1, generator).squeeze(1)
        return self._values(v)
