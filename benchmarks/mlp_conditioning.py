"""How the diffusion MLP's layers receive the noise level: a shift ("add") against FiLM's scale and shift ("film").

Each (model, set, seed, conditioning) trains for the same wall-clock budget; reported: training steps, KL(truth ||
model) in nats on fresh truth samples (+- standard error) and the log_prob seconds. Run on the tuning sets only
(swiss_roll, gmm10): the choice of default is made here, never on the evaluation sets of the peers benchmark.

    python benchmarks/mlp_conditioning.py --models edm --budget 30 --seeds 0,1 --out benchmarks/results/mlp_conditioning_edm
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

import genlab

sys.path.insert(0, str(Path(__file__).parent))
from common import finish, kl_columns, record  # noqa: E402


def run_one(name, set_name, conditioning, budget, n_eval, seed) -> dict:
    ds = genlab.datasets.load(set_name, seed=seed)
    m = genlab.create(name, ds.shape, conditioning=conditioning)
    t0 = time.perf_counter()
    m.fit(ds.train, time_budget=budget, seed=seed, progress=False)
    row = {"model": name, "set": set_name, "conditioning": conditioning, "seed": seed,
           "fit_s": time.perf_counter() - t0, "steps": m.trained_steps,
           "params": sum(p.numel() for p in m.net.parameters())}
    row.update(kl_columns(m, ds, n_eval, seed))
    return row


def markdown(rows) -> str:
    lines = ["| model | set | seed | conditioning | steps | params | KL (nats) | log_prob s |", "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['model']} | {r['set']} | {r['seed']} | {r['conditioning']} | {r['steps']} | {r['params']} | "
                     f"{r['kl']:.4f} ± {r['kl_stderr']:.4f} | {r['log_prob_s']:.2f} |")
    return "\n".join(lines)


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--models", default="edm,vp_sde")
    p.add_argument("--sets", default="swiss_roll,gmm10")
    p.add_argument("--conditionings", default="add,film")
    p.add_argument("--budget", type=float, default=30.0)
    p.add_argument("--seeds", default="0,1")
    p.add_argument("--n-eval", type=int, default=4000)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--out", default=None)
    a = p.parse_args(argv)
    torch.set_num_threads(a.threads)
    rows = []
    for seed in [int(s) for s in a.seeds.split(",")]:
        for name in a.models.split(","):
            for s in a.sets.split(","):
                for cond in a.conditionings.split(","):
                    record(rows, run_one(name, s, cond, a.budget, a.n_eval, seed))
    finish(a, rows, markdown(rows))


if __name__ == "__main__":
    main()
