"""KL to the truth against the training budget, with and without the EMA of the weights, for every neural family.

The EMA is passive (it never changes the training trajectory), so one seeded run per (family, budget) trained with
``ema=0.999`` (warm-up, :mod:`genlab.training.ema`) gives both numbers: the model's averaged weights (EMA on) and
its raw weights ``model.raw_weights`` (EMA off, the weights of the same run without an average). KL(truth || model)
in nats on fresh truth samples; for the GAN (no likelihood) the sliced W2 of its samples instead.

    python benchmarks/ema_budget.py --set pinwheel --budgets 5,15,30,60 --out benchmarks/results/ema_budget
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch

import genlab

sys.path.insert(0, str(Path(__file__).parent))
from common import write_results  # noqa: E402

from genlab.metrics import kl_to_truth, sliced_wasserstein  # noqa: E402

FAMILIES = ["ncsn", "ve_sde", "vp_sde", "subvp_sde", "edm", "made", "realnvp", "maf", "nsf", "cnf", "vae", "ebm", "gan"]


def quality(m, ds, xs, truth, seed) -> dict:
    if m.likelihood == "none":
        return {"sw2": sliced_wasserstein(m.sample(len(truth), seed=seed), truth, p=2.0, n_projections=256)}
    if hasattr(m, "log_Z"):  # the EBM caches log Z: re-estimate it for these weights
        m.log_Z.fill_(float("nan"))
    kl = kl_to_truth(ds.log_prob(xs), m.log_prob(xs, seed=seed))
    return {"kl": kl.kl, "kl_stderr": kl.stderr}


def swap(m, weights: dict) -> dict:
    """Load ``weights`` (name -> tensor) into the parameters; return the previous values."""
    params = dict(m.named_parameters())
    old = {k: params[k].detach().clone() for k in weights}
    with torch.no_grad():
        for k, v in weights.items():
            params[k].copy_(v)
    return old


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--set", default="pinwheel")
    p.add_argument("--families", default=",".join(FAMILIES))
    p.add_argument("--budgets", default="5,15,30,60")
    p.add_argument("--ema", type=float, default=0.999)
    p.add_argument("--n-eval", type=int, default=2000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--out", default=None)
    a = p.parse_args(argv)
    torch.set_num_threads(a.threads)
    ds = genlab.datasets.load(a.set, seed=a.seed)
    xs, truth = ds.sample(a.n_eval, seed=a.seed + 1), ds.sample(a.n_eval, seed=a.seed + 2)
    rows = []
    for fam in [f for f in a.families.split(",") if f]:
        for budget in [float(b) for b in a.budgets.split(",") if b]:
            m = genlab.create(fam, ds.shape, ema=a.ema).fit(ds.train, time_budget=budget, seed=a.seed, progress=False)
            row = {"family": fam, "budget_s": budget, "steps": m.trained_steps, "ema": quality(m, ds, xs, truth, a.seed)}
            swap(m, m.raw_weights)
            row["raw"] = quality(m, ds, xs, truth, a.seed)
            print(json.dumps(row), flush=True)
            rows.append(row)
    lines = ["| family | budget s | steps | EMA on | EMA off |", "|---|---|---|---|---|"]
    for r in rows:
        key = "kl" if "kl" in r["ema"] else "sw2"
        lines.append(f"| {r['family']} | {r['budget_s']:.0f} | {r['steps']} | {key} {r['ema'][key]:.4f} | "
                     f"{key} {r['raw'][key]:.4f} |")
    table = "\n".join(lines)
    print(table)
    if a.out:
        write_results(a.out, a, {"rows": rows}, table)


if __name__ == "__main__":
    main()
