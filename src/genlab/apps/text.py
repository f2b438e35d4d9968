"""Uses of a text model (``gpt``, ``mdlm``, ``ngram``) beyond one sample (issue 26): one fixed prompt for a
side-by-side of models, per-line scores for anomaly detection, and Bayes' rule over corpora.

- :func:`bench_prompt`: the opening words of the first held-out (test) document, so every model of a bench
  continues the same text, which none of them trained on; a character outside a char vocabulary ends it.
- :func:`prompt_samples`: n continuations of that prompt, seeded (``genlab bench``'s text section).
- :func:`line_scores`: per line of text, ``log p(line)`` in nats (each line read as the start of a document,
  :meth:`genlab.families.text_base.TextModel.log_prob`), its characters and bits per character
  ``-log2 p(line) / chars``. Bits per character is the anomaly score: a line's log-likelihood falls with its length
  whatever its source, its per-character rate does not (much: a line's first characters are the hardest to predict,
  so short lines cost more per character). ``mdlm``'s values are bounds (``likelihood = "bound"``).
- :func:`line_threshold`: the ``1 - contamination`` quantile of the bits per character of the lines of the run's
  held-out test split, so that about a ``contamination`` share of new lines from the corpus exceed it (split
  conformal calibration, as :class:`genlab.apps.anomaly.AnomalyDetector` with ``holdout``).
- :func:`corpus_posterior`: which corpus a line came from, p(k | line) proportional to p(line | k) p(k)
  (Bishop 2006, Eq. 4.7), one text model per corpus, normalised with logsumexp.
"""

from __future__ import annotations

import numpy as np
import torch

from genlab.checks import in_range, positive_int
from genlab.errors import DataError

__all__ = ["PROMPT_CHARS", "bench_prompt", "prompt_samples", "text_lines", "line_scores", "line_threshold",
           "held_out_lines", "corpus_posterior"]

PROMPT_CHARS = 24  # at most this many characters of the bench's prompt (cut back to a word boundary)


def bench_prompt(ds, chars: int = PROMPT_CHARS) -> str:
    """The first ``chars`` characters of the first non-blank line of ``ds``'s test split, cut back to the last space
    (when there is one) and stopped before the end of the document or an unknown character (``<unk>``)."""
    enc = ds.encoder
    ids = ds.test[: 4 * chars + 256]
    stops = [enc.special(name) for name in ("<eot>", "<unk>") if enc.has_special(name)]
    cut = torch.isin(ids, torch.tensor(stops)).nonzero().flatten()
    head = enc.decode(ids[: int(cut[0])] if len(cut) else ids)
    text = next((s.strip() for s in head.splitlines() if s.strip()), "")
    if len(text) > chars:
        space = text[: chars + 1].rfind(" ")
        text = text[:space] if space > 0 else text[:chars]
    return text.rstrip()


def prompt_samples(model, prompt: str, *, n: int = 2, max_new_tokens: int = 160, seed: int = 0) -> list[str]:
    """``n`` continuations of ``prompt`` (each begins with it) of ``max_new_tokens`` tokens, drawn with ``seed``."""
    return model.sample(positive_int("n", n), prompt=prompt, max_new_tokens=max_new_tokens, seed=seed)


def text_lines(text: str) -> tuple[list[int], list[str]]:
    """(1-based line numbers, lines) of the non-blank lines of ``text``, without their line ends."""
    pairs = [(i, s) for i, s in enumerate(text.replace("\r\n", "\n").split("\n"), 1) if s.strip()]
    if not pairs:
        raise DataError("the text has no non-blank lines to score")
    return [i for i, _ in pairs], [s for _, s in pairs]


def line_scores(model, lines: list[str], *, seed: int = 0) -> dict[str, np.ndarray]:
    """Per line: ``log_prob`` (nats), ``chars``, ``bits_per_char`` and ``unknown_chars`` (outside a char
    vocabulary; such characters are scored as the unknown token)."""
    enc = model.data_encoder
    logp = model.log_prob(list(lines), seed=seed).double().numpy()
    chars = np.array([len(s) for s in lines], dtype=np.int64)
    unknown = np.array([sum(ch in set(enc.unknown(s)) for ch in s) for s in lines], dtype=np.int64)
    return {"log_prob": logp, "chars": chars, "bits_per_char": -logp / np.log(2) / chars, "unknown_chars": unknown}


def held_out_lines(ds, limit: int = 500) -> list[str]:
    """The first ``limit`` non-blank lines of ``ds``'s test split, decoded (documents' ends are line ends)."""
    text = ds.encoder.decode(ds.test)
    return text_lines(text)[1][: positive_int("limit", limit)]


def line_threshold(model, ds, *, contamination: float = 0.1, seed: int = 0, limit: int = 500) -> float:
    """Bits per character above which a line is flagged: the ``1 - contamination`` quantile over the held-out lines
    of ``ds`` (the run's own data, reloaded with its seed and tokenizer)."""
    c = in_range("contamination", contamination, ge=0.0, lt=1.0)
    bpc = line_scores(model, held_out_lines(ds, limit), seed=seed)["bits_per_char"]
    return float(np.quantile(bpc, 1.0 - c))


def corpus_posterior(log_likelihoods, log_prior=None) -> np.ndarray:
    """p(k | line), (N, K), from ``log_likelihoods`` (N, K) nats (one column per corpus model) and ``log_prior``
    (K,) (default: uniform)."""
    ll = torch.as_tensor(np.asarray(log_likelihoods), dtype=torch.float64)
    if ll.ndim != 2 or ll.shape[1] < 2:
        raise DataError(f"Bayes' rule over corpora needs (N, K >= 2) log-likelihoods, got shape {tuple(ll.shape)}")
    prior = torch.zeros(ll.shape[1], dtype=torch.float64) if log_prior is None else torch.as_tensor(log_prior)
    joint = ll + prior
    return torch.softmax(joint, dim=1).numpy()
