"""Why consistency fails on small tables (issue 25's forest runs: F1_fake 0.45-0.80): a probe of iCT's curriculum
length and of the sampler at the forest protocol's fit budget.

On split 0 of iris and wine (``benchmarks/tabular_forest.py``'s splits, scaling and W1), consistency is fitted for
``--seconds`` with iCT's final number of levels ``s1`` at its default 1280 and smaller, then scored by W1 to the test
rows with one-step sampling and with multistep sampling; edm fitted the same way is the reference. Usage::

    python benchmarks/consistency_tables_probe.py --out benchmarks/results/consistency_tables_probe
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch
from tabular_metrics_check import tables

import genlab
from genlab.metrics.tables import TableSpace, wasserstein1

__all__ = ["probe"]


def probe(ds: str, seconds: float, s1_values, steps_values) -> list[dict]:
    train, test, _ = tables([ds], 0)[ds]
    space = TableSpace(train)
    e_test, rows = space.embed(test), []
    runs = [("edm", {})] + [("consistency", {"s1": s1}) for s1 in s1_values]
    for name, cfg in runs:
        model = genlab.create(name, train, **cfg).fit(train, time_budget=seconds, seed=0, progress=False)
        samplers = [{}] if name == "edm" else [{}] + [{"sampler": "multistep", "steps": k} for k in steps_values]
        for opts in samplers:
            fake = model.sample(len(train), seed=1, **opts)
            rows.append({"set": ds, "model": name, "config": cfg, "sample": opts, "fit_steps": len(model.history),
                         "w_test": wasserstein1(e_test, space.embed(fake))})
    return rows


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--datasets", nargs="+", default=["iris", "wine"])
    p.add_argument("--seconds", type=float, default=17.0, help="per fit (the forest run's 60 s budget gives 17 s)")
    p.add_argument("--s1", nargs="+", type=int, default=[1280, 160, 40])
    p.add_argument("--steps", nargs="+", type=int, default=[2, 4])
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--out", default="benchmarks/results/consistency_tables_probe")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    rows = [r for ds in args.datasets for r in probe(ds, args.seconds, args.s1, args.steps)]
    lines = ["| set | model | config | sampling | fit steps | W_test |", "|---|---|---|---|---|---|"]
    lines += [f"| {r['set']} | {r['model']} | {r['config'] or 'default'} | {r['sample'] or 'default'} | "
              f"{r['fit_steps']} | {r['w_test']:.3f} |" for r in rows]
    print("\n".join(lines))
    command = "python benchmarks/consistency_tables_probe.py --out " + args.out
    Path(args.out + ".json").write_text(json.dumps({"command": command, "date": time.strftime("%Y-%m-%d %H:%M"),
                                                    "args": vars(args), "rows": rows}, indent=1))
    Path(args.out + ".md").write_text(f"`{command}`\n\n" + "\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
