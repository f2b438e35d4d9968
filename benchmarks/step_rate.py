"""Training steps per second of diffusion models at their defaults (or with ``--set KEY=VALUE``), median of repeats.

``--option NAME --values A,B`` times each value in turn within every repeat, so that all see the same machine load
(the load of this shared machine moves by tens of percent within minutes). Run it under another checkout's
``PYTHONPATH`` to time that code (then alternate whole runs of the two checkouts):

    python benchmarks/step_rate.py --threads 2 --option noise_groups --values 0,32 --out benchmarks/results/step_rate
    PYTHONPATH=/path/to/old/src python benchmarks/step_rate.py --threads 2 --label before
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch

import genlab

sys.path.insert(0, str(Path(__file__).parent))
from common import finish, record  # noqa: E402
from tuning_sweep import parse_value  # noqa: E402


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--models", default="edm,vp_sde,flow_matching")
    p.add_argument("--data", default="rings")
    p.add_argument("--steps", type=int, default=1000)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--set", nargs="*", default=[], help="model options KEY=VALUE")
    p.add_argument("--option", default=None, help="a model option whose --values are timed in turn")
    p.add_argument("--values", default="")
    p.add_argument("--label", default="", help="a name for this code or setting in the table")
    p.add_argument("--out", default=None)
    a = p.parse_args(argv)
    torch.set_num_threads(a.threads)
    opts = {k: parse_value(v) for k, v in (s.split("=", 1) for s in a.set)}
    ds = genlab.datasets.load(a.data)
    variants = [{}] if a.option is None else [{a.option: parse_value(v)} for v in a.values.split(",")]
    rows = []
    for name in a.models.split(","):
        genlab.create(name, ds.shape, **opts).fit(ds.train, steps=100, progress=False)  # untimed warm-up
        rates: list[list[float]] = [[] for _ in variants]
        for _ in range(a.repeats):
            for i, v in enumerate(variants):
                m = genlab.create(name, ds.shape, **opts, **v)
                t0 = time.perf_counter()
                m.fit(ds.train, steps=a.steps, seed=0, progress=False)
                rates[i].append(a.steps / (time.perf_counter() - t0))
        for v, r in zip(variants, rates, strict=True):
            record(rows, {"model": name, "label": a.label, "options": a.set + [f"{k}={x}" for k, x in v.items()],
                          "steps_per_s": statistics.median(r), "all": r, "genlab": genlab.__file__})
    table = "\n".join(["| model | label | options | steps/s (median) |", "|---|---|---|---|"]
                      + [f"| {r['model']} | {r['label']} | {' '.join(r['options'])} | {r['steps_per_s']:.1f} |"
                         for r in rows])
    finish(a, rows, table)


if __name__ == "__main__":
    main()
