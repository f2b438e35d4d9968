"""Helpers shared by the application benchmarks (:mod:`applications`): set-up, timing, tables, JSON, the
clean-digit classifier used as a judge of filled and sampled digits."""

from __future__ import annotations

import importlib
import json
import time
import traceback
from pathlib import Path

import numpy as np
import torch

import genlab

__all__ = ["SCORE_MODELS", "ensure_score", "score_ready", "fit", "attempt", "md_table", "write_json",
           "digit_judge", "to_flat"]

SCORE_MODELS = ("ncsn", "ve_sde", "vp_sde", "subvp_sde")


def ensure_score() -> None:
    """Register the score family if ``genlab.families`` does not import it yet."""
    if not set(SCORE_MODELS) <= set(genlab.models.names()):
        try:
            importlib.import_module("genlab.families.score")
        except ImportError:
            pass


def score_ready() -> bool:
    """True when vp_sde is registered and conditional (it accepts labels)."""
    ensure_score()
    if "vp_sde" not in genlab.models.names():
        return False
    return bool(getattr(type(genlab.create("vp_sde", (2,))), "conditional", False))


def fit(name: str, shape, x, *, config=None, budget=None, seed=0, dequantize=False, y=None):
    """(fitted model, fit seconds): ``create(name, shape, **config).fit(x, y, time_budget=budget, ...)``."""
    model = genlab.create(name, tuple(shape), **(config or {}))
    t0 = time.perf_counter()
    model.fit(x, y, time_budget=budget, seed=seed, progress=False, dequantize=dequantize)
    return model, time.perf_counter() - t0


def attempt(label: str, fn, log=print) -> dict:
    """Run ``fn() -> dict`` and return its result, or ``{"error": ...}`` (logged) if it raises."""
    t0 = time.perf_counter()
    try:
        out = fn()
    except Exception as exc:  # a failing model must not stop the other measurements
        log(f"  ! {label} failed: {type(exc).__name__}: {exc}")
        traceback.print_exc()
        out = {"error": f"{type(exc).__name__}: {exc}"}
    out.setdefault("wall_s", round(time.perf_counter() - t0, 1))
    log(f"  {label}: " + ", ".join(f"{k}={_fmt(v)}" for k, v in out.items() if not isinstance(v, (list, dict))))
    return out


def _fmt(v) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    return str(v)


def md_table(rows: list[dict], cols: list[tuple[str, str]], digits: int = 3) -> str:
    """A markdown table of ``rows`` with columns (key, header); floats rounded to ``digits``."""

    def cell(v):
        if v is None:
            return "–"
        if isinstance(v, float):
            return "nan" if v != v else f"{v:.{digits}f}"
        return str(v)

    lines = ["| " + " | ".join(h for _, h in cols) + " |", "|" + "---|" * len(cols)]
    lines += ["| " + " | ".join(cell(r.get(k)) for k, _ in cols) + " |" for r in rows]
    return "\n".join(lines)


def write_json(path, obj) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj, indent=2, default=float) + "\n")


def to_flat(x) -> np.ndarray:
    """(N, ...) tensor or array -> (N, D) float64 numpy."""
    a = x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else np.asarray(x)
    return a.reshape(len(a), -1).astype(np.float64)


def digit_judge(seed: int = 0):
    """scikit-learn LogisticRegression on the clean digits_flat training split (the same split as ``digits``)."""
    from sklearn.linear_model import LogisticRegression

    ds = genlab.datasets.load("digits_flat", seed=seed)
    clf = LogisticRegression(max_iter=10000).fit(to_flat(ds.train), ds.labels_train.numpy())
    return clf
