"""One model option swept on the tuning sets: each (model, set, seed, value) trains for the same wall-clock budget
(or the same number of steps); reported: training steps, KL(truth || model) in nats on fresh truth samples (+-
standard error) and the log_prob seconds. Run on the tuning sets only (swiss_roll, gmm10): a default is chosen here,
never on the evaluation sets of the peers benchmarks.

    python benchmarks/tuning_sweep.py --option noise_groups --values 0,32 --models edm --budget 30 --out benchmarks/results/noise_groups_edm
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


def parse_value(text: str):
    """An option value from the command line: int, float, or the string itself."""
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def run_one(name, set_name, option, value, budget, steps, n_eval, seed) -> dict:
    ds = genlab.datasets.load(set_name, seed=seed)
    m = genlab.create(name, ds.shape, **{option: value})
    t0 = time.perf_counter()
    m.fit(ds.train, time_budget=budget, steps=steps, seed=seed, progress=False)
    row = {"model": name, "set": set_name, option: value, "option": option, "seed": seed,
           "fit_s": time.perf_counter() - t0, "steps": m.trained_steps,
           "params": sum(p.numel() for p in m.net.parameters())}
    row.update(kl_columns(m, ds, n_eval, seed))
    return row


def markdown(rows, option: str) -> str:
    lines = [f"| model | set | seed | {option} | steps | fit s | params | KL (nats) | log_prob s |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['model']} | {r['set']} | {r['seed']} | {r[option]} | {r['steps']} | {r['fit_s']:.1f} | "
                     f"{r['params']} | {r['kl']:.4f} ± {r['kl_stderr']:.4f} | {r['log_prob_s']:.2f} |")
    return "\n".join(lines)


def main(argv=None, *, option: str | None = None, values: str | None = None, doc: str | None = None) -> None:
    p = argparse.ArgumentParser(description=(doc or __doc__).splitlines()[0])
    p.add_argument("--option", default=option, required=option is None, help="the model option to sweep")
    p.add_argument("--values", default=values, required=values is None, help="comma-separated values")
    p.add_argument("--models", default="edm,vp_sde")
    p.add_argument("--sets", default="swiss_roll,gmm10")
    p.add_argument("--budget", type=float, default=30.0, help="seconds per fit (0 = by --steps alone)")
    p.add_argument("--steps", type=int, default=None, help="training steps per fit (with --budget 0: equal steps)")
    p.add_argument("--seeds", default="0,1")
    p.add_argument("--n-eval", type=int, default=4000)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--out", default=None)
    a = p.parse_args(argv)
    if not a.budget and not a.steps:
        p.error("give --budget S or --steps N")
    torch.set_num_threads(a.threads)
    rows = []
    for seed in [int(s) for s in a.seeds.split(",")]:
        for name in a.models.split(","):
            for s in a.sets.split(","):
                for v in a.values.split(","):
                    record(rows, run_one(name, s, a.option, parse_value(v), a.budget or None, a.steps, a.n_eval, seed))
    finish(a, rows, markdown(rows, a.option))


if __name__ == "__main__":
    main()
