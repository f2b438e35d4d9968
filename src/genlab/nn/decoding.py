"""Shared pieces of text generation: next-token filtering (temperature, top-k, top-p), the draw, the sliding window
rule and the infilling markers.

- Temperature divides the logits; top-k keeps the k most probable tokens (Fan et al. 2018); top-p keeps the smallest
  set of most probable tokens whose probability reaches p (nucleus sampling, Holtzman et al. 2020, Eq. 2-3). The
  draw takes the caller's generator (:func:`genlab.rng.multinomial`).
- Sliding window: a model that sees at most ``context`` tokens reads ``seq[start:]``; when that would exceed the
  context the window jumps to the newest ``context // 2`` tokens (:func:`slide`). Generation with and without a
  key/value cache follows the same rule, so both see the same tokens and give the same samples for a seed.
- Infilling markers (:func:`parse_markers`): ``[MASK]`` or ``___`` stands for ``span`` tokens (default one token, as
  in BERT / MDLM's single mask token) and ``[MASK:k]`` for exactly k tokens.
"""

from __future__ import annotations

import re

import torch

from genlab.checks import positive_int
from genlab.errors import ConfigError
from genlab.rng import multinomial

__all__ = ["check_options", "filter_logits", "pick", "slide", "MARKER", "parse_markers", "has_markers"]

MARKER = re.compile(r"\[MASK(?::(\d+))?\]|___")


def check_options(temperature=1.0, top_k=None, top_p=None) -> None:
    """One-line ConfigError for a temperature that is not positive, a top_k below 1 or a top_p outside (0, 1]."""
    if not (isinstance(temperature, (int, float)) and not isinstance(temperature, bool) and temperature > 0):
        raise ConfigError(f"temperature must be a positive number, got {temperature!r}")
    if top_k is not None:
        positive_int("top_k", top_k)
    if top_p is not None and (isinstance(top_p, bool) or not isinstance(top_p, (int, float)) or not 0 < top_p <= 1):
        raise ConfigError(f"top_p must lie in (0, 1] or be None, got {top_p!r}")


def filter_logits(logits: torch.Tensor, temperature: float = 1.0, top_k: int | None = None,
                  top_p: float | None = None, banned: list[int] | tuple = ()) -> torch.Tensor:
    """Logits (..., V) / temperature with banned ids, tokens outside the top k and outside the nucleus p at -inf."""
    out = logits.float() / float(temperature)
    if banned:
        out[..., list(banned)] = -torch.inf
    if top_k is not None and top_k < out.shape[-1]:
        kth = torch.topk(out, top_k, dim=-1).values[..., -1:]
        out = out.masked_fill(out < kth, -torch.inf)
    if top_p is not None and top_p < 1:
        sorted_logits, order = torch.sort(out, dim=-1, descending=True)
        probs = torch.softmax(sorted_logits, -1)
        drop_sorted = probs.cumsum(-1) - probs >= top_p  # the mass before a token already reaches p: drop it
        drop = torch.zeros_like(drop_sorted).scatter(-1, order, drop_sorted)
        out = out.masked_fill(drop, -torch.inf)
    return out


def pick(logits: torch.Tensor, generator: torch.Generator, **options) -> torch.Tensor:
    """One token per row of ``logits`` (..., V) drawn after :func:`filter_logits` (``options``); int64 (...)."""
    probs = torch.softmax(filter_logits(logits, **options), -1)
    flat = probs.reshape(-1, probs.shape[-1])
    return multinomial(flat, 1, generator).reshape(probs.shape[:-1])


def slide(length: int, start: int, context: int) -> int:
    """The window's new start for a sequence of ``length`` tokens read from ``start`` (see the module docstring)."""
    return start if length - start <= context else length - max(1, context // 2)


def has_markers(text: str) -> bool:
    return bool(MARKER.search(text))


def parse_markers(text: str, span: int = 1) -> tuple[list[str], list[int]]:
    """``text`` split at its markers: the k + 1 pieces between them and the k spans' lengths in tokens."""
    span = positive_int("span", span)
    pieces, spans, at = [], [], 0
    for m in MARKER.finditer(text):
        pieces.append(text[at : m.start()])
        k = span if m.group(1) is None else int(m.group(1))
        if k < 1:
            raise ConfigError(f"a marker must stand for at least one token, got {m.group(0)!r}")
        spans.append(k)
        at = m.end()
    pieces.append(text[at:])
    return pieces, spans
