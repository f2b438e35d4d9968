"""The SDE models' training weighting on dequantized 64-D digits: how many probability-flow trajectories run away.

    python benchmarks/sde_weighting.py --budget 30 --threads 1 --out benchmarks/results/sde_weighting

Each model is fitted with ``fit(train, time_budget=B, seed=0, dequantize=True)`` and scored on the test split (and
the training split) dequantized once, as ``benchmarks/digits.py`` does. "bad" counts points with log p below
-1000 nats or not finite (a sane point scores about -110); bits/dim is given over the other points and over all.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

import torch

import genlab
from genlab.metrics import dequantize

sys.path.insert(0, str(Path(__file__).parent))
from common import write_results  # noqa: E402

VARIANTS = [("vp_sde", {"likelihood_weighting": True, "importance_sampling": True}),
            ("vp_sde", {"likelihood_weighting": False}),
            ("subvp_sde", {"likelihood_weighting": True, "importance_sampling": True}),
            ("subvp_sde", {"likelihood_weighting": False}),
            ("ve_sde", {}),
            ("edm", {})]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--budget", type=float, default=30.0)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", default=None, help="path stem: STEM.json and STEM.md")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    ds = genlab.datasets.load("digits_flat", seed=0)
    g = torch.Generator().manual_seed(0)
    data = {"test": dequantize(ds.test, g), "train": dequantize(ds.train, g)[:539]}
    rows = []
    for name, cfg in VARIANTS:
        m = genlab.create(name, ds.shape, **cfg).fit(ds.train, time_budget=a.budget, seed=0, progress=False,
                                                      dequantize=True)
        row = {"model": name, "config": cfg, "weighting": getattr(m, "training_weighting", "edm"),
               "steps": len(m.history)}
        for split, x in data.items():
            lp = m.log_prob(x, seed=0).detach().double()
            bad = (lp < -1000) | ~torch.isfinite(lp)
            row[split] = {"n": len(lp), "bad": int(bad.sum()), "worst": float(lp.min()), "median": float(lp.median()),
                          "bpd_others": float(-lp[~bad].mean() / (64 * math.log(2))),
                          "bpd_all": float(-lp.mean() / (64 * math.log(2)))}
        rows.append(row)
        print(json.dumps(row), flush=True)
    lines = ["| model | weighting | bad test points | worst test log p | test bits/dim, others | bad training points |",
             "|---|---|---|---|---|---|"]
    lines += [f"| {r['model']} | {r['weighting']} | {r['test']['bad']} of {r['test']['n']} | {r['test']['worst']:.3g} | "
              f"{r['test']['bpd_others']:.3f} | {r['train']['bad']} of {r['train']['n']} |" for r in rows]
    print("\n".join(lines))
    if a.out:
        write_results(a.out, a, {"rows": rows}, "\n".join(lines))


if __name__ == "__main__":
    main()
