"""VAE test bits/dim on digits_flat (64-D, 17 levels, dequantized) at a time budget, with config overrides.

The figure of docs/benchmarks.md's issue-14 section: the VAE's defaults against overfitting on 1258 training images.
Scored like benchmarks/digits.py: the test split dequantized once (seeded), bits/dim = mean(-log p) / (64 ln 2),
log p the IWAE_k bound (k = 100). The train split's figure shows the overfitting gap.

    python benchmarks/vae_digits.py --budget 60 --out benchmarks/results/vae_digits.json
    python benchmarks/vae_digits.py --budget 30 --set hidden=128 --set weight_decay=1e-3
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

import genlab
from genlab.metrics import bits_per_dim, dequantize, nll


def bpd(model, x, seed: int) -> float:
    xq = dequantize(x, torch.Generator().manual_seed(seed))
    return bits_per_dim(nll(model.log_prob(xq, seed=seed)), x.shape[1])


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--budget", type=float, default=60.0, help="training seconds")
    p.add_argument("--steps", type=int, default=None, help="training steps (instead of / with the budget)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--set", dest="sets", action="append", default=[], metavar="KEY=VALUE")
    p.add_argument("--out", type=Path, default=None)
    a = p.parse_args(argv)
    torch.set_num_threads(a.threads)
    overrides = dict(s.split("=", 1) for s in a.sets)
    ds = genlab.datasets.load("digits_flat", seed=a.seed)
    m = genlab.create("vae", ds.shape, **overrides)
    t0 = time.perf_counter()
    m.fit(ds.train, time_budget=a.budget, steps=a.steps, seed=a.seed, progress=False, dequantize=True)
    fit_s = time.perf_counter() - t0
    result = {"model": "vae", "data": "digits_flat", "overrides": overrides, "budget_s": a.budget, "fit_s": fit_s,
              "steps": len(m.history), "seed": a.seed, "test_bits_per_dim": bpd(m, ds.test, a.seed + 1),
              "train_bits_per_dim": bpd(m, ds.train[: len(ds.test)], a.seed + 1),
              "date": time.strftime("%Y-%m-%d")}
    print(json.dumps(result))
    if a.out is not None:
        a.out.parent.mkdir(parents=True, exist_ok=True)
        a.out.write_text(json.dumps(result, indent=2) + "\n")
    return result


if __name__ == "__main__":
    main()
