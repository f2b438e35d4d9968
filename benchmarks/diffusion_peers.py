"""Equal-budget density comparison of genlab's diffusion models against independent peers, side by side in one run.

Every model trains for the same wall-clock budget on the same training split; reported per (set, model):
KL(truth || model) in nats (mean of log p - log q over fresh truth samples, +- standard error) and sliced W2 of
samples to fresh truth samples. Peers (:mod:`peers`): scikit-learn's GaussianMixture with its size and covariance
type chosen on a held-out part of the training data, and a zuko NSF trained by a plain Adam loop.

    python benchmarks/diffusion_peers.py --budget 30 --out benchmarks/results/diffusion_peers
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

import torch

import genlab
from genlab.metrics import sliced_wasserstein

sys.path.insert(0, str(Path(__file__).parent))
from common import finish, kl_columns, record  # noqa: E402
from peers import PEERS, make_peer  # noqa: E402

SETS = ["two_moons", "rings", "pinwheel", "checkerboard", "funnel6"]
MODELS = ["edm", "vp_sde", "ve_sde", "subvp_sde", "sk_gmm", "zuko_nsf"]


def sw2(a: torch.Tensor, b: torch.Tensor, seed: int = 0) -> float:
    return sliced_wasserstein(a, b, p=2.0, n_projections=256, seed=seed)


def run_one(name, ds, budget, n_eval, n_samples, seed) -> dict:
    x = ds.train
    t0 = time.perf_counter()
    if name in PEERS:
        m = make_peer(name, x, budget, seed)
        steps = m.steps
    else:
        m = genlab.create(name, ds.shape).fit(x, time_budget=budget, seed=seed, progress=False)
        steps = m.trained_steps
    row = {"model": name, "fit_s": time.perf_counter() - t0, "steps": steps}
    t0 = time.perf_counter()
    s = m.sample(n_samples, seed=seed)
    row["sample_s"], row["nfe_per_sample"] = time.perf_counter() - t0, getattr(m, "last_nfe", None)
    truth = ds.sample(n_samples, seed=seed + 7)
    row["sw2"] = sw2(s, truth) if torch.isfinite(s).all() else math.inf
    row.update(kl_columns(m, ds, n_eval, seed))
    return row


def markdown(rows) -> str:
    lines = ["| set | model | KL (nats) | SW2 | NFE/sample | fit s | steps | log_prob s |", "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['set']} | {r['model']} | {r['kl']:.4f} ± {r['kl_stderr']:.4f} | {r['sw2']:.4f} | "
                     f"{r['nfe_per_sample'] or '-'} | {r['fit_s']:.1f} | {r['steps']} | {r['log_prob_s']:.2f} |")
    for s in dict.fromkeys(r["set"] for r in rows):
        sub = {r["model"]: r["kl"] for r in rows if r["set"] == s}
        peer = min(sub[p] for p in PEERS if p in sub) if any(p in sub for p in PEERS) else math.nan
        ratios = ", ".join(f"{m} {sub[m] / peer:.2f}x" for m in sub if m not in PEERS)
        lines.append(f"\n{s}: better peer KL {peer:.4f}; genlab / peer: {ratios}")
    return "\n".join(lines)


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--budget", type=float, default=30.0)
    p.add_argument("--sets", default=",".join(SETS))
    p.add_argument("--models", default=",".join(MODELS))
    p.add_argument("--n-eval", type=int, default=5000)
    p.add_argument("--n-samples", type=int, default=5000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--out", default=None)
    a = p.parse_args(argv)
    torch.set_num_threads(a.threads)
    rows = []
    for s in [s for s in a.sets.split(",") if s]:
        ds = genlab.datasets.load(s, seed=a.seed)
        for name in [m for m in a.models.split(",") if m]:
            record(rows, {"set": s, **run_one(name, ds, a.budget, a.n_eval, a.n_samples, a.seed)})
    finish(a, rows, markdown(rows))


if __name__ == "__main__":
    main()
