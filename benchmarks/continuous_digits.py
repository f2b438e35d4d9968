"""Continuous 64-D data against the same data flagged as integers: the digits dequantized once vs
``fit(dequantize=True)``, at an equal time budget, test bits/dim with the per-point tail (issue 23, finding 9).

For each diffusion family, two fits of ``--budget`` seconds on the digits training split:

- ``once``: the floats x + u, u ~ U[0, 1) drawn once from ``--seed`` (as any continuous 64-D data would arrive),
  fitted with the defaults (no flag);
- ``fresh``: the integer digits with ``fit(dequantize=True)`` (fresh U[0, 1) noise on every batch).

Both are scored on the same test split dequantized once (``--seed``; the convention of :mod:`genlab.metrics`, as in
``benchmarks/digits.py``): mean bits/dim and the per-point tail (median, 99th percentile, worst, worst / median),
with the steps run, where early stopping ended the fit, and the noise floor the fit kept.

    python benchmarks/continuous_digits.py --budget 60 --threads 1 --out benchmarks/results/continuous_digits
    python benchmarks/continuous_digits.py --budget 3 --models edm --out /tmp/cd     # a check that it runs
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import finish, record  # noqa: E402
from continuous_probe import tail  # noqa: E402

import genlab  # noqa: E402
from genlab.metrics import dequantize  # noqa: E402

MODELS = "edm,vp_sde,flow_matching,ve_sde,subvp_sde"


def run(name: str, mode: str, train: torch.Tensor, test: torch.Tensor, budget: float, seed: int) -> dict:
    m = genlab.create(name, train.shape[1:])
    t0 = time.perf_counter()
    m.fit(train, time_budget=budget, seed=seed, progress=False, dequantize=mode == "fresh")
    fit_s = time.perf_counter() - t0
    last = m.history[-1] if m.history else {}
    t0 = time.perf_counter()
    row = {"model": name, "mode": mode, "budget": budget, "fit_s": fit_s, "steps": len(m.history),
           "best_val_step": last.get("best_val_step"), "sigma_floor": getattr(m, "sigma_floor", None),
           "test": tail(m.log_prob(test, seed=seed))}
    row["eval_s"] = time.perf_counter() - t0
    return row


def table(rows: list[dict]) -> str:
    lines = ["| model | data | steps (best) | floor | test bits/dim | median | p99 | worst | worst/median |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        t = r["test"]
        data = "floats, dequantized once" if r["mode"] == "once" else "fit(dequantize=True)"
        lines.append(f"| {r['model']} | {data} | {r['steps']} ({r['best_val_step']}) | {r['sigma_floor'] or 0:.3f} | "
                     f"{t['bpd']:.3f} ± {t['se']:.3f} | {t['median']:.3f} | {t['p99']:.3f} | {t['worst']:.3f} | "
                     f"{t['worst_over_median']:.2f} |")
    pairs = {}
    for r in rows:
        pairs.setdefault(r["model"], {})[r["mode"]] = r["test"]["bpd"]
    lines += ["", "| model | once - fresh (bits/dim) |", "|---|---|"]
    lines += [f"| {k} | {v['once'] - v['fresh']:+.3f} |" for k, v in pairs.items() if len(v) == 2]
    return "\n".join(lines)


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--budget", type=float, default=60.0, help="training seconds per fit")
    p.add_argument("--models", default=MODELS)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--out", default=None, help="results stem (STEM.json and STEM.md)")
    a = p.parse_args(argv)
    torch.set_num_threads(a.threads)
    ds = genlab.datasets.load("digits_flat")
    g = torch.Generator().manual_seed(a.seed)
    test, once = dequantize(ds.test, g), dequantize(ds.train, g)
    rows: list[dict] = []
    for name in [m.strip() for m in a.models.split(",") if m.strip()]:
        for mode, train in (("once", once), ("fresh", ds.train)):
            record(rows, run(name, mode, train, test, a.budget, a.seed))
    finish(a, rows, table(rows))


if __name__ == "__main__":
    main()
