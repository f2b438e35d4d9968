"""The sigma-form likelihood ODE in scaled units y = x / sqrt(sigma^2 + 1) (genlab's) against the plain state x.

    python benchmarks/likelihood_state.py --budget 30 --threads 1 --out benchmarks/results/likelihood_state

The same trained model is scored both ways at tolerances 1e-6, 1e-4 and 1e-3 (5,000 fresh truth points); the plain
state is the earlier implementation, kept here only for this comparison. Both solve the same flow, so their KL at
1e-6 agrees; the table shows the evaluations, the seconds and the KL bias against 1e-6 of each.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

import torch

import genlab
import genlab.families.diffusion as family
from genlab.diffusion import likelihood

sys.path.insert(0, str(Path(__file__).parent))
from common import write_results  # noqa: E402


def plain_state(denoiser, x, sigma_min, sigma_max, prior_std, **kw):
    """dx/dlog(sigma) = x - D(x; sigma) in x itself (genlab before the scaled state)."""
    def drift(y, log_sigma):
        return y - denoiser(y, torch.exp(log_sigma).to(y.dtype).expand(len(y)))

    return likelihood.flow_log_likelihood(drift, x, math.log(sigma_min), math.log(sigma_max),
                                          lambda z: likelihood.gaussian_logp(z, prior_std), **kw)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--budget", type=float, default=30.0)
    ap.add_argument("--sets", default="funnel6,eight_gaussians")
    ap.add_argument("--models", default="edm,vp_sde")
    ap.add_argument("--n", type=int, default=5000)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", default=None, help="path stem: STEM.json and STEM.md")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    scaled = family.sigma_log_likelihood
    rows = []
    for s in a.sets.split(","):
        ds = genlab.datasets.load(s, seed=0)
        x = ds.sample(a.n, seed=1)
        lt = ds.log_prob(x)
        for name in a.models.split(","):
            m = genlab.create(name, ds.shape).fit(ds.train, time_budget=a.budget, seed=0, progress=False)
            for state, fn in (("x", plain_state), ("y", scaled)):
                family.sigma_log_likelihood = fn
                try:
                    kl = {}
                    for tol in (1e-6, 1e-4, 1e-3):
                        t0 = time.perf_counter()
                        lp = m.log_prob(x, seed=0, rtol=tol, atol=tol)
                        row = {"set": s, "model": name, "state": state, "tol": tol,
                               "seconds": time.perf_counter() - t0, "nfe": m.last_nfe,
                               "kl": float((lt - lp).double().mean())}
                        kl[tol] = row["kl"]
                        row["kl_bias"] = row["kl"] - kl[1e-6]
                        rows.append(row)
                        print(json.dumps(row), flush=True)
                finally:
                    family.sigma_log_likelihood = scaled
    lines = ["| set | model | state | tol | evaluations | seconds | KL | bias vs 1e-6 |", "|---|---|---|---|---|---|---|---|"]
    lines += [f"| {r['set']} | {r['model']} | {r['state']} | {r['tol']:g} | {r['nfe']} | {r['seconds']:.2f} | "
              f"{r['kl']:.4f} | {r['kl_bias']:+.4f} |" for r in rows]
    print("\n".join(lines))
    if a.out:
        write_results(a.out, a, {"rows": rows}, "\n".join(lines))


if __name__ == "__main__":
    main()
