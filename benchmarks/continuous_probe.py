"""Probe (fixed steps, a tuning split): what separates continuous 64-D data from the same data fitted with
``dequantize=True``, and which continuous defaults close the gap (issue 23, finding 9).

The tuning split is a seeded 80/20 split of the digits *training* split (the test split is never read here). Both
parts are dequantized once, x + u with u ~ U[0, 1) drawn from ``--seed``, as continuous data would arrive. Each
probe fits one model on the 80 % part, either

- ``once``: to those floats (what a user with real-valued data does), or
- ``fresh``: to the integer digits with ``fit(dequantize=True)`` (fresh noise each batch),

for a fixed number of steps (load-independent), with config overrides, and scores the 20 % part: mean bits/dim and
the per-point tail (median, 99th percentile, worst, worst / median).

    python benchmarks/continuous_probe.py --probes edm:once,edm:fresh --steps 6000 --out benchmarks/results/continuous_defaults_probe
    python benchmarks/continuous_probe.py --probes "edm:once:sigma_min=0.05" --steps 6000

A probe is ``family:mode[:field=value[,field=value]]``; a field named ``fit.X`` goes to ``fit`` (``fit.steps`` is set
by ``--steps``), the others to the model's config (values are parsed as JSON, else kept as strings).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

import genlab  # noqa: E402
from genlab.metrics import dequantize  # noqa: E402

DIM = 64


def tail(lp: torch.Tensor) -> dict:
    """Mean bits/dim and the per-point tail of log-densities ``lp`` (nats) of 64-D points."""
    bpd = (-lp.double() / (DIM * math.log(2))).sort().values
    finite = torch.isfinite(bpd)
    b = bpd[finite]
    med = float(b.median()) if len(b) else float("nan")
    return {"bpd": float(b.mean()) if len(b) else float("inf"), "median": med,
            "p99": float(torch.quantile(b, 0.99)) if len(b) else float("nan"),
            "worst": float(b.max()) if len(b) else float("inf"), "worst_over_median": float(b.max()) / med if len(b) else float("inf"),
            "n": len(bpd), "n_nonfinite": int((~finite).sum()), "se": float(b.std() / math.sqrt(len(b))) if len(b) > 1 else float("nan")}


def tuning_split(seed: int) -> dict[str, torch.Tensor]:
    """The digits training split cut 80/20 by ``seed``: integer parts and once-dequantized floats."""
    x = genlab.datasets.load("digits_flat").train
    perm = torch.randperm(len(x), generator=torch.Generator().manual_seed(seed))
    k = len(x) // 5
    fit, val = x[perm[k:]], x[perm[:k]]
    g = torch.Generator().manual_seed(seed + 1)
    return {"fit_int": fit, "fit": dequantize(fit, g), "val": dequantize(val, g)}


def parse_probe(text: str) -> tuple[str, str, dict, dict]:
    family, mode, *rest = text.split(":")
    cfg, fit = {}, {}
    for item in ",".join(rest).split(","):
        if not item:
            continue
        k, v = item.split("=", 1)
        try:
            v = json.loads(v)
        except json.JSONDecodeError:
            pass
        (fit if k.startswith("fit.") else cfg)[k.removeprefix("fit.")] = v
    if mode not in ("once", "fresh"):
        raise SystemExit(f"mode must be 'once' or 'fresh', got {mode!r}")
    return family, mode, cfg, fit


def run_probe(text: str, data: dict, steps: int, seed: int) -> dict:
    family, mode, cfg, fit = parse_probe(text)
    m = genlab.create(family, (DIM,), **cfg)
    x = data["fit_int"] if mode == "fresh" else data["fit"]
    t0 = time.perf_counter()
    m.fit(x, steps=steps, seed=seed, progress=False, dequantize=mode == "fresh", **fit)
    fit_s = time.perf_counter() - t0
    last = m.history[-1] if m.history else {}
    t0 = time.perf_counter()
    row = {"probe": text, "family": family, "mode": mode, "config": cfg, "fit": fit, "steps": steps,
           "steps_run": len(m.history), "sigma_floor": getattr(m, "sigma_floor", None), "best_val_step": last.get("best_val_step"), "best_val_loss": last.get("best_val_loss"), "fit_s": fit_s,
           "val": tail(m.log_prob(data["val"], seed=seed)), "fit_part": tail(m.log_prob(data["fit"][:252], seed=seed))}
    row["eval_s"] = time.perf_counter() - t0
    return row


def table(rows: list[dict]) -> str:
    lines = ["| probe | steps run | val bits/dim | median | p99 | worst | worst/median | fit-part bits/dim |",
             "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        v = r["val"]
        lines.append(f"| {r['probe']}{' [' + r['tag'] + ']' if r.get('tag') else ''} | {r['steps_run']} | {v['bpd']:.3f} ± {v['se']:.3f} | {v['median']:.3f} | "
                     f"{v['p99']:.3f} | {v['worst']:.3f} | {v['worst_over_median']:.2f} | {r['fit_part']['bpd']:.3f} |")
    return "\n".join(lines)


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--probes", required=True, help="semicolon-separated probes (see the module docstring)")
    p.add_argument("--steps", type=int, default=6000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--tag", default="", help="a label of the code state (e.g. the defaults in force), kept in each row")
    p.add_argument("--out", default=None, help="results stem: rows are appended to STEM.json, the table to STEM.md")
    a = p.parse_args(argv)
    torch.set_num_threads(a.threads)
    data = tuning_split(a.seed)
    stem = Path(a.out) if a.out else None
    old = json.loads(stem.with_suffix(".json").read_text()) if stem and stem.with_suffix(".json").exists() else {}
    rows = list(old.get("rows", []))
    n_old = len(rows)
    for text in [t for t in a.probes.split(";") if t]:
        row = {**run_probe(text, data, a.steps, a.seed), "seed": a.seed, "tag": a.tag, "date": time.strftime("%Y-%m-%d %H:%M")}
        print(json.dumps(row), flush=True)
        rows.append(row)
        if stem:
            stem.parent.mkdir(parents=True, exist_ok=True)
            stem.with_suffix(".json").write_text(json.dumps({"script": "benchmarks/continuous_probe.py", "rows": rows},
                                                            indent=2))
            stem.with_suffix(".md").write_text(table(rows) + "\n")
    print(table(rows[n_old:]))


if __name__ == "__main__":
    main()
