"""Equal-budget comparison: every requested model trains for the same wall-clock budget on the same data,
then is scored on the same held-out points.

Models are reached only through the registry and the contract (``genlab.models.names``, ``genlab.create``, ``fit``,
``sample``, ``log_prob``, ``likelihood``, and ``last_nfe`` when a model reports it). The classical references
``gmm`` and ``kde`` are always added as peers. A model whose creation, ``fit``, ``sample`` or ``log_prob`` raises
is reported as failed with a one-line reason, and the bench goes on.

Every model is scored on the same rows, whatever the machine's load:

* the test set is one seeded subset of ``eval_points`` points (default ``MAX_TEST = 2000``; all of them when the
  split is smaller), drawn once from ``seed`` and the same for every model; KL to truth and the sample metrics use
  ``N_SAMPLES = 1000`` points (:func:`genlab.metrics.evaluate`). Nothing is sized by a timing: a slow likelihood
  (ODE-based) is given a smaller subset by a smaller ``eval_points`` (``genlab bench --eval-points``), for all models;
* samplers that take ``steps=`` are swept over ``SWEEP_STEPS = (10, 30, 100)`` (1000 samples each) for the
  quality-against-NFE plot, skipping step counts whose extrapolated time exceeds ``eval_cap = max(20 s,
  time_budget)`` (the sweep is a plot, never a leaderboard column);
* 2-D density heatmaps size their grid (20 to 100 per side) from the measured per-point ``log_prob`` cost, and are
  skipped when even the coarsest grid is too slow (:func:`genlab.bench.figures.density_grid_size`).

A ``text`` data set (a .txt file, a folder, ``pydoc``) is scored in bits per character of its first ``eval_points``
held-out documents, and each model continues one fixed prompt (:mod:`genlab.bench.text`).
"""

from __future__ import annotations

import datetime
import gc
import math
import os
import platform
import time
from pathlib import Path
from typing import Any

import torch

from genlab import metrics, registry
from genlab._version import __version__
from genlab.bench import figures, report
from genlab.bench import text as bench_text
from genlab.bench.progress import STAGES, BenchProgress
from genlab.bench.report import one_line as _one_line
from genlab.bench.results import BenchResult, ModelResult
from genlab.bench.sweep import N_SAMPLES, SWEEP_STEPS, Watched, nfe_of, num, sweep
from genlab.checks import positive_int
from genlab.data import Dataset
from genlab.data import load as load_data
from genlab.errors import ConfigError
from genlab.models import check_kind, for_kind
from genlab.models import create as create_model
from genlab.models import get as model_class
from genlab.models import names as model_names

__all__ = ["ModelResult", "BenchResult", "run_bench", "resolve_models", "evaluation_rows", "REFERENCES", "MAX_TEST",
           "N_SAMPLES", "SWEEP_STEPS"]

REFERENCES = ("gmm", "kde")
MAX_TEST = 2000


def _check_budget(time_budget) -> float:
    try:
        b = float(time_budget)
    except (TypeError, ValueError):
        raise ConfigError(f"time budget must be a number of seconds, got {time_budget!r}") from None
    if not (math.isfinite(b) and b > 0):
        raise ConfigError(f"time budget must be a positive number of seconds, got {time_budget!r}")
    return b


def resolve_models(models, kind: str | None = None) -> list[str]:
    """Names to run: ``models`` is a list (or comma-separated string); ``all`` means every registered model (that
    takes data of ``kind``, when given); the references ``gmm`` and ``kde`` are appended when missing (and able).
    Unknown names, or a named model that cannot take ``kind`` data, raise ConfigError."""
    if isinstance(models, str):
        models = models.split(",")
    items = [str(m).strip() for m in (models or []) if str(m).strip()]
    if not items:
        raise ConfigError("no models given: name at least one model, or 'all'")
    registered = model_names() if kind is None else for_kind(kind)
    out: list[str] = []
    for m in items:
        if m.lower() != "all" and kind is not None:
            check_kind(model_class(m).name, kind)
        out += registered if m.lower() == "all" else [model_class(m).name]
    out += [r for r in REFERENCES if r in registered]
    return list(dict.fromkeys(out))


def _check_overrides(overrides, names: list[str]) -> dict[str, dict[str, Any]]:
    overrides = dict(overrides or {})
    for name, ov in overrides.items():
        if name not in names:
            raise ConfigError(f"config overrides given for model '{name}', which is not in this bench ({', '.join(names)})")
        if not isinstance(ov, dict):
            raise ConfigError(f"config overrides for '{name}' must be a dict of key -> value")
        registry.make_config(model_class(name).Config, ov, model=name)
    return overrides


def _check_out(out_dir, force: bool) -> Path:
    p = Path(out_dir)
    if p.exists() and not p.is_dir():
        raise ConfigError(f"output path {p} is a file, not a directory")
    if p.is_dir() and any(p.iterdir()) and not force:
        raise ConfigError(f"output directory {p} exists and is not empty; use --force (force=True) to write into it")
    return p


def evaluation_rows(n: int, eval_points: int, generator: torch.Generator) -> torch.Tensor:
    """Indices of the test rows every model is scored on: the first ``min(eval_points, n)`` of a permutation of
    ``range(n)`` drawn from ``generator`` (:func:`run_bench`: one made from its ``seed``), never sized by a timing."""
    return torch.randperm(n, generator=generator)[: min(int(eval_points), n)]


def _run_one(name: str, ds: Dataset, test: torch.Tensor, ref: torch.Tensor, budget: float, seed: int,
             overrides: dict, bar: BenchProgress, plots_dir: Path, lim, plots: dict) -> ModelResult:
    r = ModelResult(name=name)
    cap = max(20.0, budget)
    stage, watched, done = "create", None, 0
    try:
        model = create_model(name, ds.shape, **overrides)
        r.likelihood = str(model.likelihood)
        stage = "fit"
        bar.start(name, "fit", budget)
        t0 = time.perf_counter()
        captions = ds.label_encoder is not None and model.conditional and getattr(model, "takes_captions", False)
        model.fit(ds.train, ds.labels_train if captions else None, time_budget=budget, seed=seed, progress=False,
                  dequantize=ds.discrete_levels is not None)  # a captioned set trains on its captions (as train)
        r.fit_time_s = time.perf_counter() - t0
        r.train_steps = len(getattr(model, "history", []) or []) or None
        if r.fit_time_s > 1.5 * budget + 1.0:
            r.notes.append(f"fit took {r.fit_time_s:.1f} s against a {budget:g} s budget")
        bar.advance()
        done += 1
        bar.start(name, "evaluate")
        n_test, per_point = test.shape[0], None
        watched = Watched(model)
        stage = "evaluate"
        ev = metrics.evaluate(watched, test, truth=ds if ds.has_density else None, levels=ds.discrete_levels,
                              n_samples=N_SAMPLES, seed=seed)
        r.nfe = nfe_of(model)
        for k in ("nll", "bits_per_dim", "kl_to_truth", "kl_stderr", "sliced_wasserstein", "mmd", "sample_time_s",
                  "log_prob_time_s"):
            setattr(r, k, num(ev.get(k)))
        r.nll_nonfinite, r.n_test, r.n_samples = ev.get("nll_nonfinite"), ev["n_test"], ev["n_samples"]
        if r.log_prob_time_s is not None:  # seconds per point, for the density heatmap's grid size only
            per_point = r.log_prob_time_s / max(1, n_test)
        bar.advance()
        done += 1
        stage = "steps sweep"
        bar.start(name, stage)
        sweep(model, ref, seed, cap, r)
        bar.advance()
    except Exception as exc:
        where = watched.stage if stage == "evaluate" and watched is not None else stage
        r.status, r.error = "failed", _one_line(where, exc)
        bar.advance(len(STAGES) - done)
        return r
    bar.start(name, "plots")
    try:
        grid = figures.density_grid_size(per_point, cap_s=min(cap, 8.0))
        if grid is None and len(ds.shape) == 1 and ds.shape[0] == 2 and r.likelihood != "none":
            r.notes.append("density heatmap skipped: log_prob too slow for a grid")
        samples = None if watched.samples is None else torch.as_tensor(watched.samples).detach().float()
        for kind, items in figures.plot_model(name, model, samples, ds, test, plots_dir, lim, grid).items():
            plots.setdefault(kind, []).extend(items)
    except Exception as exc:  # a figure that cannot be drawn is a note, not a failure
        r.notes.append(_one_line("plots", exc))
    bar.advance()
    return r


def _machine() -> dict[str, Any]:
    return {"platform": platform.platform(), "machine": platform.machine(), "python": platform.python_version(),
            "torch": torch.__version__, "cpu_count": os.cpu_count(), "torch_threads": torch.get_num_threads(),
            "cuda": torch.cuda.is_available()}


def run_bench(data, models: list[str], time_budget: float, out_dir, *, seed: int = 0, force: bool = False,
              progress: bool = True, quiet: bool = False, config_overrides: dict[str, dict] | None = None,
              eval_points: int = MAX_TEST) -> BenchResult:
    """Train every model in ``models`` for ``time_budget`` seconds on ``data`` (name, path or Dataset), score them on
    the same test points, and write the leaderboard files, plots and ``report.html`` into ``out_dir``.

    ``config_overrides`` maps a model name to config keys. ``eval_points``: how many test rows every model is scored
    on (one seeded subset, :func:`evaluation_rows`). Bad input raises before any work: unknown model, data set or
    config key (ConfigError/DataError), a non-positive budget or ``eval_points``, an ``out_dir`` that is a file, or
    an existing non-empty ``out_dir`` without ``force`` (with ``force`` files are written into it).
    """
    budget = _check_budget(time_budget)
    eval_points = positive_int("eval_points", eval_points)
    seed = int(seed)
    names = resolve_models(models)
    overrides = _check_overrides(config_overrides, names)
    out = _check_out(out_dir, force)
    ds = data if isinstance(data, Dataset) else load_data(data, seed=seed)
    names = resolve_models(models, ds.kind)  # 'all' = the models that take this kind of data
    g = torch.Generator().manual_seed(seed)
    is_text = ds.kind == "text"  # documents scored in bits/char, samples from one prompt (genlab.bench.text)
    if is_text:
        test, n_docs = bench_text.scored_documents(ds, eval_points)
        ref, by = None, "bits_per_char"
    else:
        test = ds.test[evaluation_rows(ds.test.shape[0], eval_points, g)]
        ref = metrics.dequantize(test, g) if ds.discrete_levels else test
        by = "kl_to_truth" if ds.has_density else "nll"
    settings = {
        "data": ds.name if isinstance(data, Dataset) else os.fspath(data), "data_shape": list(ds.shape),
        "n_train": int(ds.train.shape[0]), "n_test": int(ds.test.shape[0]), "has_density": bool(ds.has_density),
        "discrete_levels": ds.discrete_levels, "models": names,
        "requested_models": models.split(",") if isinstance(models, str) else list(models),
        "time_budget": budget, "seed": seed, "config_overrides": overrides, "ranked_by": by,
        "evaluation": {"eval_points": eval_points, "n_test": int(test.shape[0]), "n_samples": N_SAMPLES,
                       "eval_cap_s": max(20.0, budget), "sweep_steps": list(SWEEP_STEPS)},
        "genlab_version": __version__, "kind": ds.kind,
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"), "machine": _machine(),
    }
    if is_text:
        settings["text"] = bench_text.settings(ds, n_docs, test, seed)
        settings["evaluation"] = {"eval_points": eval_points, "test_documents": n_docs}
    out.mkdir(parents=True, exist_ok=True)
    plots_dir = out / "plots"
    lim = figures.view_limits(test) if tuple(ds.shape) == (2,) else None
    plots: dict[str, list] = figures.plot_reference(ds, test, plots_dir, lim)
    results = []
    t_start = time.perf_counter()
    with BenchProgress(progress and not quiet, len(names)) as bar:
        for name in names:
            if is_text:
                results.append(bench_text.run_model(ModelResult(name=name), ds, test, budget, seed,
                                                    overrides.get(name, {}), bar, out, settings["text"]))
            else:
                results.append(_run_one(name, ds, test, ref, budget, seed, overrides.get(name, {}), bar, plots_dir,
                                        lim, plots))
            gc.collect()
        bar.start("report", "leaderboard files and report.html")
        plots.update(figures.plot_nfe(results, plots_dir))
        for kind, ncol in (("samples", 4), ("density", 2), ("images", 4)):
            path = figures.tile([p for _, p in plots.get(kind, [])], out / f"{kind}_grid.png", ncol=ncol)
            if path is not None:
                settings.setdefault("composites", {})[kind] = path.name
        settings["wall_time_s"] = round(time.perf_counter() - t_start, 2)
        result = BenchResult(out_dir=out, settings=settings, results=report.rank(results, by))
        result.files["plots"] = {k: [(c, str(Path(p).relative_to(out))) for c, p in v] for k, v in plots.items()}
        report.write_all(result)
        bar.advance()
    return result
