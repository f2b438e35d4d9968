"""Training steps per second of the default models, with the fused Adam kernel (genlab's default where torch has one)
and with torch's per-tensor loop, in one run, alternating so that both see the same machine load (after an untimed warm-up fit per model).

    python benchmarks/train_throughput.py --threads 1 --out benchmarks/results/train_throughput

Each (model, optimizer) pair trains ``--steps`` steps on two_moons from the same seed, ``--repeats`` times; the table
gives the median steps per second.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import torch

import genlab
import genlab.training.loop as loop

sys.path.insert(0, str(Path(__file__).parent))
from common import write_results  # noqa: E402


def _plain(cls, params, **kw):
    return cls(params, **kw)


def measure(name: str, ds, steps: int, fused: bool) -> float:
    real = loop._adam
    loop._adam = real if fused else _plain
    try:
        m = genlab.create(name, ds.shape)
        t0 = time.perf_counter()
        m.fit(ds.train, steps=steps, seed=0, progress=False)
        return steps / (time.perf_counter() - t0)
    finally:
        loop._adam = real


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", default="edm,vp_sde,flow_matching,nsf")
    ap.add_argument("--steps", type=int, default=1500)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", default=None, help="path stem: STEM.json and STEM.md")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    ds = genlab.datasets.load("two_moons", seed=0)
    rows = []
    for name in a.models.split(","):
        measure(name, ds, 50, True)  # warm-up, not timed: the first fit of a process pays one-time costs
        runs = {"fused": [], "loop": []}
        for _ in range(a.repeats):
            for kind in ("loop", "fused"):
                runs[kind].append(measure(name, ds, a.steps, kind == "fused"))
        row = {"model": name, "loop_steps_per_s": statistics.median(runs["loop"]),
               "fused_steps_per_s": statistics.median(runs["fused"]), "runs": runs}
        row["gain"] = row["fused_steps_per_s"] / row["loop_steps_per_s"] - 1
        rows.append(row)
        print(json.dumps({k: v for k, v in row.items() if k != "runs"}), flush=True)
    lines = ["| model | steps/s, per-tensor Adam | steps/s, fused Adam | gain |", "|---|---|---|---|"]
    lines += [f"| {r['model']} | {r['loop_steps_per_s']:.1f} | {r['fused_steps_per_s']:.1f} | {100 * r['gain']:+.1f} % |"
              for r in rows]
    print("\n".join(lines))
    if a.out:
        write_results(a.out, a, {"torch": torch.__version__, "rows": rows}, "\n".join(lines))


if __name__ == "__main__":
    main()
