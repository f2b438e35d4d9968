"""The text section of a bench (issue 26): what :func:`genlab.bench.run_bench` does on a ``text`` data set.

- Scored text: the first ``eval_points`` documents of the held-out test split (a document is a text's row; all of
  them when there are fewer), joined with ``<eot>`` as the split is; the same text for every model.
- Per model: created from the Dataset (its tokenizer), fitted on the training stream for the budget, then its bits
  per character on the scored text (:meth:`genlab.families.text_base.TextModel.bits_per_char`; the leaderboard's
  ``likelihood`` column says ``exact`` or ``bound``, and a bound is shown as ``<= value``), ranked lowest first.
- Samples: :data:`N_SAMPLES` continuations of one fixed prompt (:func:`genlab.apps.text.bench_prompt`: the opening
  words of the first test document), :data:`NEW_TOKENS` new tokens each, drawn with the bench's seed; kept in the
  leaderboard JSON (``samples``), written to ``samples/<model>.txt`` and shown in ``report.html``.
"""

from __future__ import annotations

import time
from pathlib import Path

import torch

from genlab.apps.text import bench_prompt, prompt_samples
from genlab.bench.progress import STAGES
from genlab.bench.report import one_line
from genlab.models import create as create_model

__all__ = ["N_SAMPLES", "NEW_TOKENS", "scored_documents", "settings", "run_model"]

N_SAMPLES, NEW_TOKENS = 2, 160


def scored_documents(ds, eval_points: int) -> tuple[torch.Tensor, int]:
    """(ids of the first ``eval_points`` test documents, each followed by ``<eot>``; how many documents)."""
    eot = ds.encoder.special("<eot>")
    ends = (ds.test == eot).nonzero().flatten()
    if len(ends) <= eval_points:
        return ds.test, max(1, len(ends))
    return ds.test[: int(ends[eval_points - 1]) + 1], int(eval_points)


def settings(ds, n_docs: int, test: torch.Tensor, seed: int) -> dict:
    """The text section's settings: the prompt and how the samples are drawn, what is scored."""
    return {"prompt": bench_prompt(ds), "seed": seed, "n_samples": N_SAMPLES, "max_new_tokens": NEW_TOKENS,
            "tokenizer": ds.encoder.tokenizer, "vocab_size": ds.encoder.vocab_size, "test_documents": n_docs,
            "test_tokens": int(test.numel())}


def run_model(r, ds, test: torch.Tensor, budget: float, seed: int, overrides: dict, bar, out_dir: Path,
              text: dict):
    """Fill the ModelResult ``r`` of one text model (see the module docstring); a failing stage marks it failed
    with a one-line reason, as every bench row."""
    stage, done = "create", 0
    try:
        model = create_model(r.name, ds, **overrides)
        r.likelihood = str(model.likelihood)
        stage = "fit"
        bar.start(r.name, "fit", budget)
        t0 = time.perf_counter()
        model.fit(ds.train, time_budget=budget, seed=seed, progress=False)
        r.fit_time_s = time.perf_counter() - t0
        r.train_steps = len(getattr(model, "history", []) or []) or None
        bar.advance()
        done += 1
        stage = "bits_per_char"
        bar.start(r.name, "evaluate")
        t0 = time.perf_counter()
        r.bits_per_char = float(model.bits_per_char(test, seed=seed))
        r.log_prob_time_s, r.n_test = time.perf_counter() - t0, text["test_documents"]
        bar.advance()
        done += 1
        stage = "sample"
        bar.start(r.name, "samples")
        t0 = time.perf_counter()
        r.samples = prompt_samples(model, text["prompt"], n=N_SAMPLES, max_new_tokens=NEW_TOKENS, seed=seed)
        r.sample_time_s, r.n_samples = time.perf_counter() - t0, N_SAMPLES
        nfe = getattr(model, "last_nfe", None)
        r.nfe = int(nfe) if isinstance(nfe, int) and not isinstance(nfe, bool) else None
    except Exception as exc:
        r.status, r.error = "failed", one_line(stage, exc)
        bar.advance(len(STAGES) - done)
        return r
    path = Path(out_dir) / "samples" / f"{r.name}.txt"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(f"=== sample {i} of {len(r.samples)} (seed {seed}) ===\n{t}\n"
                            for i, t in enumerate(r.samples, 1)), encoding="utf-8")
    bar.advance(len(STAGES) - done)
    return r
