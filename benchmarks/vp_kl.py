"""Headline check of issue 3: KL to truth of a vp_sde trained on eight_gaussians for a wall-clock budget.

    .venv/bin/python benchmarks/vp_kl.py --budget 60 --threads 2 --out benchmarks/results/vp_kl.json

KL(p || q) = mean over fresh truth samples x ~ p of log p(x) - log q(x), with its standard error;
log q is the model's probability-flow ODE likelihood (exact divergence in 2-D).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

import genlab
from genlab import metrics


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="vp_sde")
    ap.add_argument("--data", default="eight_gaussians")
    ap.add_argument("--budget", type=float, default=60.0)
    ap.add_argument("--n", type=int, default=2000, help="truth samples for the KL estimate")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--set", nargs="*", default=[], help="config overrides KEY=VALUE")
    ap.add_argument("--out", default=None, help="JSON file for the result (e.g. benchmarks/results/vp_kl.json)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    ds = genlab.datasets.load(args.data, seed=args.seed)
    config = dict(kv.split("=", 1) for kv in args.set)
    m = genlab.create(args.model, ds.shape, **config)
    t0 = time.perf_counter()
    m.fit(ds.train, time_budget=args.budget, seed=args.seed, progress=False)
    fit_s = time.perf_counter() - t0
    x = ds.sample(args.n, seed=args.seed + 1000)
    t0 = time.perf_counter()
    lq = m.log_prob(x, seed=0)
    lp_s = time.perf_counter() - t0
    kl = metrics.kl_to_truth(ds.log_prob(x), lq)
    out = {"model": args.model, "data": args.data, "budget_s": args.budget, "steps": len(m.history),
           "fit_s": round(fit_s, 1), "kl": kl.kl, "kl_stderr": kl.stderr, "n": kl.n,
           "log_prob_s": round(lp_s, 1), "threads": args.threads, "config": config}
    print(json.dumps(out))
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(out, indent=2) + "\n")


if __name__ == "__main__":
    main()
