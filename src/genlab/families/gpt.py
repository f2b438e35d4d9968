"""``gpt``: a nanoGPT-style decoder-only language model over the tokens of a text Dataset (exact likelihood).

P(x_1..x_N | x_0) = prod_i P(x_i | x_<i), each factor a softmax of the causal transformer
(:class:`genlab.nn.transformer.GPT`; Radford et al. 2019), trained by next-token cross-entropy on windows of
``context + 1`` tokens drawn uniformly from the training stream (every draw from the fit's generator; AdamW with a
linear warm-up and cosine decay, as Karpathy's nanoGPT). Defaults are nanoGPT's CPU recipe (4 layers, 4 heads,
width 128, context 64, batch 12, lr 1e-3 after 100 warm-up steps, cosine to 1e-4) except that the cosine ends where
the fit ends (its steps or its time budget, not at a fixed 2,000 iterations) and positions are rotary (Su et al.
2021; ``rope=False``: nanoGPT's learned ones). On pydoc at 60 s of one loaded CPU thread both changes lower the test
bits/char (3.69 learned -> 3.39 rotary; a probe of benchmarks/text_bench.py made while the
machine was shared, when learned positions were the default: benchmarks/results/text_bench_probe60.md).

Text longer than the context (both uses follow one rule, so each is stated once):

- likelihood (``log_prob``, ``bits_per_char``): windows of ``context`` tokens stepping by ``context // 2``; the
  first scores all its tokens, each later one only the tokens that no earlier window scored, so every token is
  predicted exactly once with at least ``min(i, context // 2)`` and at most ``context - 1`` tokens before it (the
  strided evaluation of Hugging Face's perplexity guide). It is the exact log-probability of a model whose context
  is that window; shorter texts are scored with their whole past.
- generation: the window slides to the newest ``context // 2`` tokens when full (:func:`genlab.nn.decoding.slide`),
  so ``max_new_tokens`` beyond the context is not an error. With ``use_cache=True`` (default) each new token is one
  pass over that token against cached keys and values, and a slide re-reads the window once; ``use_cache=False``
  recomputes the window for every token. Both read the same tokens: same seed, same samples.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch
from torch.nn import functional as F

from genlab.families.text_base import TextModel, TextNetConfig
from genlab.nn.decoding import pick, slide
from genlab.nn.transformer import GPT, GPTConfig
from genlab.registry import register

__all__ = ["GPTModel", "GPTModelConfig"]


@dataclass
class GPTModelConfig(TextNetConfig):
    """Options of ``gpt``: those of :class:`~genlab.families.text_base.TextNetConfig`."""


@register
class GPTModel(TextModel):
    """Causal transformer language model (see the module docstring)."""

    name = "gpt"
    Config = GPTModelConfig
    likelihood = "exact"
    own_sampler = "autoregressive"
    window_extra = 1  # inputs x_0..x_{T-1} and targets x_1..x_T
    smoke: ClassVar[dict] = {"fit": {"steps": 5}}
    data_parallel_config: ClassVar[dict] = {"dropout": 0.0}  # nn.Dropout's per-process masks (as pixel_transformer)

    def build(self) -> None:
        c = self.config
        self.net = GPT(GPTConfig(vocab_size=self.vocab, block_size=c.context, n_layer=c.n_layer, n_head=c.n_head,
                                 n_embd=c.n_embd, dropout=c.dropout, causal=True, rope=c.rope))

    def window_loss(self, windows, *, generator=None) -> torch.Tensor:
        """Mean next-token cross-entropy (nats) of each window (B, T + 1)."""
        logits = self.net(windows[:, :-1])
        return F.cross_entropy(logits.flatten(0, 1), windows[:, 1:].flatten(), reduction="none").view(
            windows.shape[0], -1).mean(1)

    def _nll(self, ids, *, generator=None, batch: int = 32) -> torch.Tensor:
        """Total nats of ids[1:] given ids[0], in strided windows (see the module docstring)."""
        C, stride, last = self.config.context, max(1, self.config.context // 2), ids.numel() - 1
        jobs, scored, w = [], 0, 0  # (window start, length, how many of its last targets count)
        while scored < last:
            n = min(C, last - w)
            jobs.append((w, n, w + n - scored))
            scored, w = w + n, w + stride
        total = torch.zeros((), dtype=torch.float64, device=ids.device)
        for i in range(0, len(jobs), batch):
            for n in sorted({j[1] for j in jobs[i : i + batch]}):  # windows of one length together
                group = [j for j in jobs[i : i + batch] if j[1] == n]
                starts = torch.tensor([j[0] for j in group], device=ids.device)
                win = ids[starts[:, None] + torch.arange(n + 1, device=ids.device)]
                lp = F.log_softmax(self.net(win[:, :-1]).float(), -1).gather(2, win[:, 1:, None])[..., 0]
                for row, (_, _, new) in zip(lp, group, strict=True):
                    total -= row[n - new :].double().sum()
        self.last_nfe = len(jobs)
        return total

    def _generate(self, ids, max_new_tokens, *, generator, temperature, top_k, top_p, use_cache: bool = True):
        """``max_new_tokens`` tokens after ``ids`` (n, L), with or without the key/value cache (same tokens)."""
        C, seq, start, cache, calls = self.config.context, ids, None, None, 0
        opts = {"temperature": temperature, "top_k": top_k, "top_p": top_p, "banned": self._banned("<unk>", "<mask>")}
        for _ in range(max_new_tokens):
            new_start = slide(seq.shape[1], start or 0, C) if start is not None else max(0, seq.shape[1] - C)
            if not use_cache:
                logits = self.net(seq[:, new_start:])[:, -1]
            elif cache is None or new_start != start:  # (re)read the window into a fresh cache
                cache = self.net.new_cache()
                logits = self.net(seq[:, new_start:], cache)[:, -1]
            else:  # one pass over the newest token
                logits = self.net(seq[:, -1:], cache)[:, -1]
            start, calls = new_start, calls + 1
            seq = torch.cat([seq, pick(logits, generator, **opts)[:, None]], 1)
        self.last_nfe = calls
        return seq[:, ids.shape[1] :]
