"""``genlab anomaly`` and ``genlab classify`` on text runs (issue 26): every non-blank line of a ``.txt`` input is
scored by runs trained with ``genlab train gpt|mdlm|ngram`` (:mod:`genlab.apps.text`); the commands come here when
``--input`` is a ``.txt`` file.

- ``genlab anomaly RUN --input lines.txt``: per line ``log_prob`` (nats, the line read as the start of a document),
  ``chars`` and ``bits_per_char``, the anomaly score; ``prediction`` is -1 where bits/char exceeds the threshold,
  the ``1 - contamination`` quantile over the lines of the run's own held-out test split (reloaded with the run's
  seed and tokenizer), and ``decision = threshold - bits_per_char`` (negative for anomalies), as for a saved
  :class:`genlab.AnomalyDetector`.
- ``genlab classify RUN_A RUN_B ... --input lines.txt``: one run per corpus, each a class named by its run
  directory; per line the posterior p(corpus | line) from the runs' log-likelihoods and a uniform prior
  (Bayes' rule, :func:`genlab.apps.text.corpus_posterior`), and the most probable corpus. A ``bound`` (mdlm) is
  used as if it were the log-likelihood: comparing it with exact ones favours the exact models.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from genlab.errors import ConfigError

__all__ = ["is_text_input", "anomaly_lines", "classify_lines"]


def is_text_input(path) -> bool:
    """Whether ``--input`` names a text file (``.txt``), scored line by line."""
    return Path(path).suffix.lower() == ".txt"


def _text_run(run_dir):
    from genlab.cli.rundir import load_run
    from genlab.cli.text_io import is_text_run

    model, info = load_run(run_dir)
    if not is_text_run(model):
        raise ConfigError(f"--input .txt is scored line by line by runs trained on text (gpt, mdlm, ngram); the "
                          f"run '{run_dir}' ({model.name}) was not")
    return model, info


def _lines(input_) -> tuple[list[int], list[str]]:
    from genlab.apps.text import text_lines
    from genlab.data.text import read_text

    return text_lines(read_text(input_))


def anomaly_lines(run_dir, input_, *, contamination: float, seed: int = 0) -> tuple[dict, dict]:
    """(columns per line, summary) of ``genlab anomaly`` on a text run (see the module docstring)."""
    from genlab.apps.text import line_scores, line_threshold
    from genlab.cli.rundir import training_source
    from genlab.cli.text_io import run_split

    model, info = _text_run(run_dir)
    numbers, lines = _lines(input_)
    scores = line_scores(model, lines, seed=seed)
    split_seed = int(info.get("seed", 0) or 0)
    ds = run_split(model, training_source(info, run_dir), split_seed)
    threshold = line_threshold(model, ds, contamination=contamination, seed=seed)
    decision = threshold - scores["bits_per_char"]
    pred = np.where(np.nan_to_num(decision, nan=-np.inf) < 0, -1, 1)
    columns = {"prediction": pred, "line": np.asarray(numbers), "bits_per_char": scores["bits_per_char"],
               "log_prob": scores["log_prob"], "chars": scores["chars"], "decision": decision}
    summary = {"n": len(lines), "flagged": int((pred < 0).sum()), "threshold_bits_per_char": threshold,
               "contamination": contamination, "likelihood": model.likelihood, "model": model.name}
    return columns, summary


def classify_lines(run_dirs, input_, *, seed: int = 0) -> tuple[dict, dict]:
    """(columns per line, summary) of ``genlab classify`` over text runs, one per corpus (see the module
    docstring)."""
    from genlab.apps.text import corpus_posterior

    if len(run_dirs) < 2:
        raise ConfigError("classifying lines of text needs two or more text runs, one per corpus (genlab classify "
                          "RUN_A RUN_B --input lines.txt)")
    names = [Path(r).resolve().name for r in run_dirs]
    if len(set(names)) < len(names):
        names = [str(r) for r in run_dirs]
    if len(set(names)) < len(names):
        raise ConfigError(f"a run is named twice: {', '.join(map(str, run_dirs))}")
    models = [_text_run(r)[0] for r in run_dirs]
    numbers, lines = _lines(input_)
    ll = np.stack([m.log_prob(lines, seed=seed).double().numpy() for m in models], axis=1)
    post = corpus_posterior(ll)
    pred = np.asarray(names, dtype=object)[post.argmax(axis=1)]
    columns = {"prediction": pred.astype(str), "line": np.asarray(numbers),
               **{f"p_{n}": post[:, k] for k, n in enumerate(names)},
               **{f"log_prob_{n}": ll[:, k] for k, n in enumerate(names)}}
    counts = {n: int((pred == n).sum()) for n in names}
    return columns, {"n": len(lines), "classes": names, "counts": counts,
                     "likelihoods": {n: m.likelihood for n, m in zip(names, models, strict=True)}}
