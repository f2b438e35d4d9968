"""The measured uses of a density (issue 5): inpainting, tabular imputation, colorization, a Bayes classifier,
anomaly detection and classifier-free guidance, each against scikit-learn peers.

Every task is a function in ``app_*.py`` (taking the parsed arguments); ``--tasks`` chooses which run. Each prints
a markdown table and writes ``benchmarks/results/applications_<task>.json``; figures go to ``docs/figures/``.
Neural models are trained for a wall-clock budget derived from ``--budget`` (seconds; stated per task in the
JSON), with one torch thread.

    python benchmarks/applications.py                                   # every task, ~20 min on 2 busy cores
    python benchmarks/applications.py --tasks bayes,anomaly --budget 20
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from app_common import ensure_score, write_json  # noqa: E402
from app_density import anomaly, bayes  # noqa: E402
from app_images import colorization, guidance, inpainting  # noqa: E402
from app_tabular import tabular  # noqa: E402

TASKS = {"inpainting": inpainting, "tabular": tabular, "colorization": colorization, "bayes": bayes,
         "anomaly": anomaly, "guidance": guidance}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--tasks", default=",".join(TASKS), help=f"comma-separated, from {', '.join(TASKS)}")
    p.add_argument("--budget", type=float, default=30.0, help="base training budget (s) of a neural model")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--missing", type=float, default=0.2, help="MCAR fraction of test entries (tabular)")
    p.add_argument("--held-out", default="0,3,9", help="digit classes held out in turn as anomalies")
    p.add_argument("--per-class", type=int, default=50, help="samples per class (guidance)")
    p.add_argument("--guidance-budget", type=float, default=120.0, help="training budget (s) of the guided vp_sde")
    p.add_argument("--tag", default="", help="suffix of the result file names (and of guidance's figure)")
    p.add_argument("--out-dir", default="benchmarks/results")
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    ensure_score()
    names = [t.strip() for t in args.tasks.split(",") if t.strip()]
    unknown = [t for t in names if t not in TASKS]
    if unknown:
        p.error(f"unknown task(s) {', '.join(unknown)}; choose from {', '.join(TASKS)}")
    for name in names:
        print(f"## {name}", flush=True)
        t0 = time.perf_counter()
        res = TASKS[name](args, log=lambda s: print(s, flush=True))
        res["wall_s"] = round(time.perf_counter() - t0, 1)
        res["args"] = vars(args)
        for key in ("table", "tables"):
            if isinstance(res.get(key), str):
                print(res[key])
            elif isinstance(res.get(key), dict):
                for sub, tab in res[key].items():
                    print(f"\n### {sub}\n{tab}")
        print(f"goal: {res.get('goal')} -> {res.get('goal_met', '')}  ({res['wall_s']:.0f} s)\n", flush=True)
        write_json(Path(args.out_dir) / f"applications_{name}{args.tag}.json", res)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
