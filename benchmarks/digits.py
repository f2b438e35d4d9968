"""Test bits/dim on digits_flat (64-D, 17 levels) for every genlab model with a likelihood, plus a GMM peer.

Every model is fitted with ``fit(train, time_budget=B, seed=s, dequantize=True)`` (fresh U[0, 1) noise on each
training batch, so the model is a density on [0, 17)^64) and scored on the test split dequantized once with
u ~ U[0, 1) drawn from ``--seed``: bits/dim = mean(-log p(x + u)) / (64 ln 2) (:mod:`genlab.metrics`). The
uniform density on [0, 17)^64 scores log2(17) = 4.09. The same figure on the training split (same cap on the
number of points) shows how much each model overfits.

Slow likelihoods (cnf ODE, ebm AIS, score-model probability-flow ODE) are capped: the per-point cost is
measured on a 16-point probe and then on each 64-point chunk of a seeded permutation; a split is scored on
all its points if they fit ``--eval-budget`` seconds, else on the seeded random subset that did (``n_eval`` in
the table; ``±`` is one standard error of the mean over the scored points).

Peer (not through genlab): scikit-learn's GaussianMixture on dequantized training data, with n_components and
covariance_type chosen by held-out likelihood on a 20% split of the *training* data, then refitted on all of it.

``--curve NAME`` refits one model for each of ``--curve-budgets`` seconds on 80% of the training split and reports
bits/dim on the held-out 20% (the *validation* split, the same seeded split as the peer's) and on the 80% it was
fitted to, to show whether longer training overfits (digits has only 1258 training images). Settings are chosen on
this validation split, never on the test split.

    python benchmarks/digits.py --out benchmarks/results/digits.json            # every likelihood model, 60 s
    python benchmarks/digits.py --models made,nsf --budget 30
    python benchmarks/digits.py --models none --no-peer --curve made --curve-budgets 15,30,60,120
"""

from __future__ import annotations

import argparse
import importlib
import json
import math
import time
from pathlib import Path

import numpy as np
import torch

import genlab
from genlab.metrics import bits_per_dim, dequantize, nll

DIM = 64
PROBE = 16


def likelihood_models() -> list[str]:
    """Every registered model whose likelihood label is not 'none' (in 64-D)."""
    return [n for n in genlab.models.names() if genlab.create(n, (DIM,)).likelihood != "none"]


def ensure_registered(names: list[str]) -> None:
    """Import the score family if a requested name is not yet registered (it may not be in genlab.families)."""
    if any(n not in genlab.models.names() for n in names):
        try:
            importlib.import_module("genlab.families.score")
        except ImportError:
            pass


def dequantized_splits(ds, seed: int) -> dict[str, torch.Tensor]:
    """x + u for train and test with u fixed by ``seed`` (one draw per split)."""
    g = torch.Generator().manual_seed(seed)
    return {"test": dequantize(ds.test, g), "train": dequantize(ds.train, g)}


def score_split(log_prob, x: torch.Tensor, budget: float, seed: int, chunk: int = 64) -> dict:
    """bits/dim of ``log_prob`` on ``x``: seeded-random chunks (16 points, then ``chunk``) are scored while the
    last chunk's measured cost says the next one still fits ``budget`` seconds; all of ``x`` if it fits."""
    perm = torch.randperm(len(x), generator=torch.Generator().manual_seed(seed))
    parts, n, size, t0 = [], 0, PROBE, time.perf_counter()
    while n < len(x):
        t1 = time.perf_counter()
        parts.append(log_prob(x[perm[n : n + size]], seed + len(parts)))
        per_point = (time.perf_counter() - t1) / len(parts[-1])
        n += len(parts[-1])
        size = min(chunk, len(x) - n)
        if time.perf_counter() - t0 + per_point * size > budget:
            break
    secs = time.perf_counter() - t0
    lp = torch.cat(parts).double()
    finite = torch.isfinite(lp)
    se = float((-lp[finite]).std() / math.sqrt(int(finite.sum()))) if finite.sum() > 1 else float("nan")
    return {"bpd": bits_per_dim(nll(lp), DIM), "bpd_se": bits_per_dim(se, DIM), "n_eval": n,
            "n_nonfinite": int((~finite).sum()), "eval_s": secs, "eval_s_per_point": secs / n}


def validation_split(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(fit, validation) indices of the training split: a seeded 80/20 permutation (shared with the peer)."""
    idx = np.random.default_rng(seed).permutation(n)
    return idx[n // 5 :], idx[: n // 5]


def run_model(name: str, ds, data: dict, budget: float, eval_budget: float, seed: int, *, x_fit=None) -> dict:
    """Fit ``name`` on ``x_fit`` (default: the training split) and score it on every split in ``data``."""
    m = genlab.create(name, ds.shape)
    t0 = time.perf_counter()
    m.fit(ds.train if x_fit is None else x_fit, time_budget=budget, seed=seed, progress=False, dequantize=True)
    row = {"model": name, "likelihood": m.likelihood, "budget": budget, "fit_s": time.perf_counter() - t0,
           "steps": len(m.history)}

    def log_prob(x, s):
        return m.log_prob(x, seed=s).detach()

    for split in data:
        r = score_split(log_prob, data[split], eval_budget, seed)
        row.update({f"{split}_{k}": v for k, v in r.items()})
    return row


def gmm_peer(data: dict, seed: int, components=(1, 2, 4, 8, 16, 32, 64), covs=("full", "diag")) -> dict:
    """sklearn GaussianMixture on dequantized train data; grid chosen on a 20% held-out part of train."""
    from sklearn.mixture import GaussianMixture

    x = data["train"].double().numpy()
    fit_idx, val_idx = validation_split(len(x), seed)
    val, fit = x[val_idx], x[fit_idx]
    grid = []
    for cov in covs:
        for k in components:
            g = GaussianMixture(k, covariance_type=cov, random_state=seed, max_iter=500).fit(fit)
            grid.append({"n_components": k, "covariance_type": cov, "val_bpd": bits_per_dim(-g.score(val), DIM)})
    best = min(grid, key=lambda r: r["val_bpd"])
    t0 = time.perf_counter()
    g = GaussianMixture(best["n_components"], covariance_type=best["covariance_type"], random_state=seed,
                        max_iter=500).fit(x)
    fit_s = time.perf_counter() - t0
    row = {"model": "sklearn GMM (peer)", "likelihood": "exact", "fit_s": fit_s, "steps": int(g.n_iter_),
           "setting": {k: best[k] for k in ("n_components", "covariance_type")}, "grid": grid}
    for split in ("test", "train"):
        t0 = time.perf_counter()
        lp = torch.from_numpy(g.score_samples(data[split].double().numpy()))
        row.update({f"{split}_bpd": bits_per_dim(nll(lp), DIM),
                    f"{split}_bpd_se": bits_per_dim(float(lp.std()) / math.sqrt(len(lp)), DIM),
                    f"{split}_n_eval": len(lp), f"{split}_eval_s": time.perf_counter() - t0})
    return row


def fmt(v, spec=".3f") -> str:
    if v is None:
        return "-"
    return format(v, spec) if isinstance(v, float) else str(v)


def markdown(rows: list[dict], n_test: int) -> str:
    lines = ["| model | likelihood | test bits/dim | n_eval | train bits/dim | steps | fit s | eval s (test) |",
             "|---|---|---|---|---|---|---|---|"]
    for r in sorted(rows, key=lambda r: r["test_bpd"] if math.isfinite(r["test_bpd"]) else math.inf):
        n = r["test_n_eval"]
        n_s = str(n) if n == n_test else f"{n} (subset)"
        if r.get("test_n_nonfinite"):
            n_s += f", {r['test_n_nonfinite']} non-finite"
        name = r["model"] + (f" {r['setting']}" if "setting" in r else "")
        lines.append(f"| {name} | {r['likelihood']} | {r['test_bpd']:.3f} ± {r['test_bpd_se']:.3f} | {n_s} | "
                     f"{r['train_bpd']:.3f} | {r['steps']} | {fmt(r['fit_s'], '.1f')} | {fmt(r['test_eval_s'], '.1f')} |")
    return "\n".join(lines)


def curve_markdown(curve: list[dict]) -> str:
    lines = ["| model | budget s | steps | validation bits/dim | fit-part bits/dim | gap |", "|---|---|---|---|---|---|"]
    for r in curve:
        lines.append(f"| {r['model']} | {r['budget']:g} | {r['steps']} | {r['val_bpd']:.3f} ± {r['val_bpd_se']:.3f}"
                     f" | {r['fit_bpd']:.3f} | {r['val_bpd'] - r['fit_bpd']:.3f} |")
    return "\n".join(lines)


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--budget", type=float, default=60.0, help="training seconds per model")
    p.add_argument("--models", default=None,
                   help="comma-separated genlab names (default: every registered model with a likelihood; 'none')")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--eval-budget", type=float, default=60.0,
                   help="seconds per split for log_prob; slower models are scored on a seeded subset")
    p.add_argument("--no-peer", action="store_true", help="skip the scikit-learn GaussianMixture peer")
    p.add_argument("--curve", default=None, help="model to refit at each of --curve-budgets (overfitting curve)")
    p.add_argument("--curve-budgets", default="15,30,60,120")
    p.add_argument("--out", default=None, help="JSON path (a .md with the tables is written beside it)")
    a = p.parse_args(argv)
    torch.set_num_threads(a.threads)
    try:
        from threadpoolctl import threadpool_limits

        threadpool_limits(a.threads)
    except ImportError:
        pass
    if a.models is None:
        models = likelihood_models()
    elif a.models == "none":
        models = []
    else:
        models = [m.strip() for m in a.models.split(",") if m.strip()]
    ensure_registered(models + ([a.curve] if a.curve else []))
    ds = genlab.datasets.load("digits_flat")
    data = dequantized_splits(ds, a.seed)
    out = {"args": vars(a), "uniform_bpd": math.log2(17), "rows": [], "curve": []}

    def save():
        if a.out:
            path = Path(a.out)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(out, indent=2))

    for name in models:
        try:
            out["rows"].append(run_model(name, ds, data, a.budget, a.eval_budget, a.seed))
        except genlab.errors.GenlabError as exc:  # a failure is a result too: recorded, and the next model runs
            out.setdefault("failed", []).append({"model": name, "error": str(exc)})
            print(f"{name}: FAILED: {exc}", flush=True)
        save()
    if not a.no_peer:
        out["rows"].append(gmm_peer(data, a.seed))
        save()
    if a.curve:
        fit_idx, val_idx = validation_split(len(ds.train), a.seed)
        fit_idx, val_idx = torch.from_numpy(fit_idx), torch.from_numpy(val_idx)
        splits = {"val": data["train"][val_idx], "fit": data["train"][fit_idx]}
        for b in [float(b) for b in a.curve_budgets.split(",")]:
            out["curve"].append(run_model(a.curve, ds, splits, b, a.eval_budget, a.seed, x_fit=ds.train[fit_idx]))
            save()
    text = []
    if out["rows"]:
        text.append(markdown(out["rows"], len(ds.test)))
    if out.get("failed"):
        text.append("\n".join(f"- {f['model']}: failed: {f['error']}" for f in out["failed"]))
    if out["curve"]:
        text.append(curve_markdown(out["curve"]))
    print("\n\n".join(text))
    save()
    if a.out:
        Path(a.out).with_suffix(".md").write_text("\n\n".join(text) + "\n")


if __name__ == "__main__":
    main()
