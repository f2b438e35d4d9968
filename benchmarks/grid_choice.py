"""Which sampling grid: 10-step heun and dpmpp_2m against the same model's heun-500 samples (999 calls), same noise.

    python benchmarks/grid_choice.py --budget 20 --sets swiss_roll,gmm10 --threads 1 --out benchmarks/results/grid_choice

Run on the tuning sets only (swiss_roll, gmm10): the default grid of the sigma-form samplers
(``DiffusionConfig.schedule``) was chosen from this table. Each model trains ``--budget`` seconds; every grid is then
sampled with ``--n`` draws from the same seed; the ratio is SW2 (grid) / SW2 (heun, 500 steps, default grid).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch

import genlab
from genlab.metrics import sliced_wasserstein

sys.path.insert(0, str(Path(__file__).parent))
from common import write_results  # noqa: E402

GRIDS = [("karras rho 7", "karras", {}), ("karras rho 3", "karras", {"rho": 3.0}),
         ("karras rho 5", "karras", {"rho": 5.0}), ("log_snr", "log_snr", {}), ("uniform_t", "uniform_t", {}),
         ("karras, sample_sigma_min 0.01", "karras", {"sample_sigma_min": 0.01}),
         ("karras, sample_sigma_max 10", "karras", {"sample_sigma_max": 10.0}),
         ("karras, sample_sigma_max 3", "karras", {"sample_sigma_max": 3.0})]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--budget", type=float, default=20.0)
    ap.add_argument("--sets", default="swiss_roll,gmm10")
    ap.add_argument("--models", default="vp_sde,edm,flow_matching")
    ap.add_argument("--n", type=int, default=10000)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", default=None, help="path stem: STEM.json and STEM.md")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    rows = []
    for s in a.sets.split(","):
        ds = genlab.datasets.load(s, seed=0)
        truth = ds.sample(a.n, seed=7)
        for model in a.models.split(","):
            m = genlab.create(model, ds.shape).fit(ds.train, time_budget=a.budget, seed=0, progress=False)
            c = m.config
            ref = sliced_wasserstein(m.sample(a.n, seed=1, sampler="heun", steps=500), truth, seed=0)
            saved = {k: getattr(c, k) for k in ("rho", "sample_sigma_min", "sample_sigma_max")}
            for label, schedule, over in GRIDS:
                for k, v in over.items():
                    setattr(c, k, v)
                row = {"set": s, "model": model, "grid": label, "steps_trained": len(m.history), "ref_sw2": ref}
                for sampler in ("heun", "dpmpp_2m"):
                    sw = sliced_wasserstein(m.sample(a.n, seed=1, sampler=sampler, steps=10, schedule=schedule),
                                            truth, seed=0)
                    row[f"{sampler}_ratio"] = sw / ref
                for k, v in saved.items():
                    setattr(c, k, v)
                rows.append(row)
                print(json.dumps(row), flush=True)
    lines = ["| set | model | grid | heun 10 / ref | dpmpp_2m 10 / ref |", "|---|---|---|---|---|"]
    lines += [f"| {r['set']} | {r['model']} | {r['grid']} | {r['heun_ratio']:.2f} | {r['dpmpp_2m_ratio']:.2f} |"
              for r in rows]
    print("\n".join(lines))
    if a.out:
        write_results(a.out, a, {"rows": rows}, "\n".join(lines))


if __name__ == "__main__":
    main()
