"""Cost and accuracy of the probability-flow ODE likelihood against the solver tolerance.

A diffusion model is trained once per set; then ``log_prob`` of the same 5,000 fresh truth points runs at several
rtol = atol values. Reported per tolerance: seconds, ODE-function evaluations (each one network pass plus its
exact divergence), KL(truth || model), and the KL's bias against the tightest tolerance (1e-6).

    python benchmarks/loglik_speed.py --sets eight_gaussians,funnel6 --models vp_sde,edm --budget 30 \
        --out benchmarks/results/loglik_speed
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch

import genlab

sys.path.insert(0, str(Path(__file__).parent))
from common import write_results  # noqa: E402

from genlab.metrics import kl_to_truth  # noqa: E402

TOLS = (1e-6, 1e-5, 1e-4, 1e-3)


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sets", default="eight_gaussians,funnel6")
    p.add_argument("--models", default="vp_sde,edm")
    p.add_argument("--budget", type=float, default=30.0)
    p.add_argument("--n", type=int, default=5000)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default=None)
    a = p.parse_args(argv)
    torch.set_num_threads(a.threads)
    rows = []
    for set_name in a.sets.split(","):
        ds = genlab.datasets.load(set_name, seed=a.seed)
        x = ds.sample(a.n, seed=a.seed + 3)
        lp = ds.log_prob(x)
        for name in a.models.split(","):
            m = genlab.create(name, ds.shape).fit(ds.train, time_budget=a.budget, seed=a.seed, progress=False)
            ref = None
            for tol in TOLS:
                t0 = time.perf_counter()
                lq = m.log_prob(x, rtol=tol, atol=tol)
                row = {"set": set_name, "model": name, "steps": m.trained_steps, "tol": tol,
                       "seconds": time.perf_counter() - t0, "nfe": m.last_nfe, "kl": kl_to_truth(lp, lq).kl}
                ref = row["kl"] if ref is None else ref
                row["kl_bias"] = row["kl"] - ref
                rows.append(row)
                print(json.dumps(row), flush=True)
    lines = ["| set | model | tol | seconds | NFE | KL | KL bias vs 1e-6 |", "|---|---|---|---|---|---|---|"]
    lines += [f"| {r['set']} | {r['model']} | {r['tol']:g} | {r['seconds']:.2f} | {r['nfe']} | {r['kl']:.4f} | "
              f"{r['kl_bias']:+.4f} |" for r in rows]
    table = "\n".join(lines)
    print(table)
    if a.out:
        write_results(a.out, a, {"rows": rows}, table)


if __name__ == "__main__":
    main()
