"""The bench's results: one leaderboard row per model (:class:`ModelResult`) and the finished bench
(:class:`BenchResult`), as :func:`genlab.bench.runner.run_bench` returns them."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from genlab.bench import report

__all__ = ["ModelResult", "BenchResult"]


@dataclass
class ModelResult:
    """One leaderboard row; metric fields are None where they do not apply (or the model failed)."""

    name: str
    status: str = "ok"  # "ok" | "failed"
    error: str | None = None  # "stage: ExceptionType: first line of the message"
    likelihood: str | None = None
    nll: float | None = None
    nll_nonfinite: int | None = None
    bits_per_dim: float | None = None
    kl_to_truth: float | None = None
    kl_stderr: float | None = None
    sliced_wasserstein: float | None = None
    mmd: float | None = None
    nfe: int | None = None  # network evaluations per sample (model.last_nfe), None when not reported
    fit_time_s: float | None = None
    train_steps: int | None = None
    sample_time_s: float | None = None
    log_prob_time_s: float | None = None
    n_test: int | None = None
    n_samples: int | None = None
    bits_per_char: float | None = None  # text: of the held-out test documents (exact or a bound: ``likelihood``)
    samples: list[str] | None = None  # text: continuations of the bench's one prompt (settings["text"])
    sweep: list[dict[str, Any]] = field(default_factory=list)  # {steps, nfe, nfe_reported, sliced_wasserstein, sample_time_s}
    notes: list[str] = field(default_factory=list)
    rank: int | None = None
    best: bool = False


@dataclass
class BenchResult:
    """A finished bench: settings, rows in leaderboard order, and the files written (``plots``: kind -> [(caption, path)])."""

    out_dir: Path
    settings: dict[str, Any]
    results: list[ModelResult]
    files: dict[str, Any] = field(default_factory=dict)

    @property
    def best(self) -> ModelResult | None:
        return next((r for r in self.results if r.best), None)

    def to_dict(self) -> dict[str, Any]:
        return report.to_json(self)
