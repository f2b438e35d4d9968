"""``ngram``: an interpolated modified Kneser-Ney n-gram model over tokens (Chen & Goodman 1998; exact likelihood).

Fitted in closed form from counts (no training loop, like ``gmm`` and ``kde``). For a context h of k - 1 tokens
(h' = h without its first token), the order-k estimate is (Chen & Goodman 1998, Eq. 17 and 19)

    P_k(w | h) = max(c_k(h w) - D_k(c_k(h w)), 0) / c_k(h .) + gamma_k(h) P_{k-1}(w | h'),
    gamma_k(h) = (D_k1 N1(h .) + D_k2 N2(h .) + D_k3+ N3+(h .)) / c_k(h .),                      (Eq. 1)

with P_0(w) = 1 / V (every token of the vocabulary) and P_k = P_{k-1} for contexts never seen. c_n are the raw
counts of the highest order n; the lower orders use continuation counts c_k(g) = N1+(. g), the number of distinct
tokens seen before the k-gram g (Kneser & Ney 1995). N_j(h .) counts the tokens w with c_k(h w) = j (3+: at least
3) and the discounts come from the count-of-counts n_j of each order: Y = n1 / (n1 + 2 n2), D_kj = j - (j + 1) Y
n_{j+1} / n_j (Eq. 26), clamped to [0, j]. Each P_k sums to one over the vocabulary, so every prediction does.

The text reads ``<eot>`` before its first token (the stream's document boundary); token i is predicted from the
``order - 1`` tokens before it, or all of them near the start (the order they allow, same formula). Counts are
stored as sorted integer keys (an n-gram's tokens as digits in base V) with their counts, one set per order.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from genlab.checks import require
from genlab.config import ModelConfig
from genlab.families.text_base import TextModel
from genlab.nn.decoding import pick
from genlab.registry import bounded, register

__all__ = ["NGram", "NGramConfig"]


@dataclass
class NGramConfig(ModelConfig):
    normalize: bool = False  # token ids are not standardised
    order: int = bounded(5, ge=1)  # n: each token is predicted from the n - 1 before it


def _keys(ids: torch.Tensor, k: int, V: int) -> torch.Tensor:
    """Keys of the k-grams of a 1-D stream: sum_j ids[i + j] V^(k - 1 - j), one per start i."""
    n = ids.numel() - k + 1
    key = torch.zeros(max(n, 0), dtype=torch.int64)
    for j in range(k):
        key = key * V + ids[j : j + n]
    return key


def _lookup(table: torch.Tensor, values: torch.Tensor, keys: torch.Tensor) -> torch.Tensor:
    """values[i] where table[i] == key (table sorted), 0 where the key is absent."""
    if table.numel() == 0:
        return torch.zeros(keys.shape, dtype=values.dtype, device=keys.device)
    i = torch.searchsorted(table, keys.contiguous()).clamp(max=table.numel() - 1)
    return torch.where(table[i] == keys, values[i], torch.zeros((), dtype=values.dtype, device=keys.device))


@register
class NGram(TextModel):
    """Interpolated modified Kneser-Ney n-gram (see the module docstring)."""

    name = "ngram"
    Config = NGramConfig
    likelihood = "exact"
    _resizable_buffers = True

    def build(self) -> None:
        n = self.config.order
        require(self.data_encoder is None or float(self.vocab) ** n < 2.0**62, f"order {n} over {self.vocab} tokens "
                "overflows the 64-bit n-gram keys; use a smaller order or vocabulary")
        empty = lambda dtype: torch.zeros(0, dtype=dtype)  # noqa: E731 - sized at fit (or by a checkpoint)
        for k in range(1, n + 1):
            self.register_buffer(f"grams{k}", empty(torch.int64))  # sorted keys of the k-grams seen
            self.register_buffer(f"counts{k}", empty(torch.int64))  # raw (k = n) or continuation counts
            self.register_buffer(f"contexts{k}", empty(torch.int64))  # sorted keys of their (k - 1)-token contexts
            self.register_buffer(f"totals{k}", empty(torch.int64))  # c_k(h .)
            self.register_buffer(f"gamma{k}", empty(torch.float64))  # gamma_k(h) of Eq. 1
            self.register_buffer(f"discounts{k}", torch.zeros(3, dtype=torch.float64))  # D_k1, D_k2, D_k3+

    def _fit(self, z, y, spec) -> None:
        ids, V, n = self._stream(z), self.vocab, self.config.order
        grams = None
        for k in range(n, 0, -1):
            if k == n:
                grams, counts = torch.unique(_keys(ids, k, V), return_counts=True)
            else:  # continuation counts: distinct left neighbours of each k-gram
                grams, counts = torch.unique(grams % V**k, return_counts=True)
            nj = [int((counts == j).sum()) for j in (1, 2, 3, 4)]
            Y = nj[0] / (nj[0] + 2 * nj[1]) if nj[0] + nj[1] else 0.5
            disc = [min(max(j - (j + 1) * Y * nj[j] / nj[j - 1], 0.0), j) if nj[j - 1] else 0.5 * j
                    for j in (1, 2, 3)]
            contexts, inverse = torch.unique_consecutive(grams // V, return_inverse=True)
            totals = torch.zeros(contexts.numel(), dtype=torch.int64).index_add_(0, inverse, counts)
            dsum = torch.zeros(contexts.numel(), dtype=torch.float64).index_add_(
                0, inverse, torch.tensor(disc, dtype=torch.float64)[counts.clamp(max=3) - 1])
            setattr(self, f"grams{k}", grams)
            setattr(self, f"counts{k}", counts)
            setattr(self, f"contexts{k}", contexts)
            setattr(self, f"totals{k}", totals)
            setattr(self, f"gamma{k}", dsum / totals)
            setattr(self, f"discounts{k}", torch.tensor(disc, dtype=torch.float64))
        self.history = [{"step": 1, "ngrams": float(getattr(self, f"grams{n}").numel())}]

    def _prob(self, ctx: list[torch.Tensor], have: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        """P(w | h) of Eq. 1 (float64, w's shape): ``ctx[k - 1]`` holds the keys of the last k - 1 context tokens
        (broadcastable to w), ``have`` how many context tokens each query has."""
        V, shape = self.vocab, torch.broadcast_shapes(ctx[0].shape, w.shape, have.shape)
        w, have = w.expand(shape), have.expand(shape)
        p = torch.full(shape, 1.0 / V, dtype=torch.float64, device=w.device)
        for k in range(1, self.config.order + 1):
            h = ctx[k - 1].expand(shape)
            totals = _lookup(getattr(self, f"contexts{k}"), getattr(self, f"totals{k}"), h)
            gamma = _lookup(getattr(self, f"contexts{k}"), getattr(self, f"gamma{k}"), h)
            c = _lookup(getattr(self, f"grams{k}"), getattr(self, f"counts{k}"), h * V + w)
            d = torch.cat([torch.zeros(1, dtype=torch.float64, device=w.device), getattr(self, f"discounts{k}")])
            higher = (c - d[c.clamp(max=3)]).clamp(min=0) / totals.clamp(min=1) + gamma * p
            p = torch.where((have >= k - 1) & (totals > 0), higher, p)
        return p

    def _contexts(self, seq: torch.Tensor, at: torch.Tensor) -> tuple[list[torch.Tensor], torch.Tensor]:
        """Keys (B, P) of the last 0..n-1 tokens before positions ``at`` (P,) of each row of ``seq`` (B, L), and how
        many tokens each position has before it (at most n - 1)."""
        V, ctx = self.vocab, [torch.zeros(seq.shape[0], at.numel(), dtype=torch.int64, device=seq.device)]
        padded = torch.cat([seq.new_zeros(seq.shape[0], 1), seq], 1)  # positions before the start read a 0 (unused)
        for m in range(1, self.config.order):
            ctx.append(padded[:, (at - m + 1).clamp(min=0)] * V ** (m - 1) + ctx[-1])
        return ctx, at.clamp(max=self.config.order - 1)

    def next_token_probs(self, ids) -> torch.Tensor:
        """P(. | ids) over the vocabulary (V,) float64 after the 1-D context ``ids`` (its last order - 1 tokens)."""
        dev = self.grams1.device
        ids = torch.as_tensor(ids).long().flatten()[None].to(dev)
        ctx, have = self._contexts(ids, torch.tensor([ids.shape[1]], device=dev))
        return self._prob(ctx, have, torch.arange(self.vocab, device=dev)[None])[0].cpu()

    def _nll(self, ids, *, generator=None) -> torch.Tensor:
        ctx, have = self._contexts(ids[None], torch.arange(1, ids.numel(), device=ids.device))
        return -torch.log(self._prob(ctx, have, ids[None, 1:])).sum()

    def _generate(self, ids, max_new_tokens, *, generator, temperature, top_k, top_p):
        seq, opts = ids, {"temperature": temperature, "top_k": top_k, "top_p": top_p,
                          "banned": self._banned("<unk>", "<mask>")}
        w = torch.arange(self.vocab, device=ids.device)[None]
        for _ in range(max_new_tokens):
            ctx, have = self._contexts(seq, torch.tensor([seq.shape[1]], device=seq.device))
            seq = torch.cat([seq, pick(torch.log(self._prob(ctx, have, w)), generator, **opts)[:, None]], 1)
        self.last_nfe = max_new_tokens
        return seq[:, ids.shape[1] :]
