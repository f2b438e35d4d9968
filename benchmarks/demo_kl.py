"""`genlab demo`'s KL to truth, today's code against an older tree, over several seeds (issue 24: "no behaviour
change in numbers: `genlab demo` KL within its seed spread of today's").

The demo (src/genlab/cli/demo.py) trains the first registered of its DEMO_MODEL (vp_sde) on eight_gaussians for 60 s
and prints ``metrics.evaluate``'s KL(truth || model) through ``genlab.cli.evaluate.evaluate_run``. This script runs
the same calls in-process (``fit_model`` with the demo's empty overrides, then ``evaluate_run``), but with a fixed
step count instead of the time budget, and fixed evaluation sizes instead of the timed ``plan_evaluation``, so the
numbers do not depend on the machine's load. The default 13,000 steps is what the demo's 60 s gave on a quiet machine
(docs/notes/2026-11-23.md: 13,108 steps in 60.9 s); 1,000 KL points is the demo's largest plan.

One tree (the genlab that ``import genlab`` finds):

    .venv/bin/python benchmarks/demo_kl.py run --out /tmp/today.json

Both trees, one after the other, each in its own interpreter (the old one through PYTHONPATH; ``genlab.__file__`` is
checked to come from the tree asked for):

    git worktree add -f /work/demo_old e571f5f; git worktree add -f /work/demo_new HEAD
    .venv/bin/python benchmarks/demo_kl.py compare --new /work/demo_new/src --old /work/demo_old/src \
        --out benchmarks/results/demo_kl.json

(``--new`` defaults to this checkout's src/, whose uncommitted edits then count as "today"; a clean worktree of HEAD
makes the run reproducible.)

The verdict: today's mean lies within the old mean +- 2 standard deviations over seeds (the seed spread).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve()
REPO = HERE.parents[1]


def run_tree(seeds, steps: int, n_kl: int, n_test: int, threads: int) -> dict:
    """The demo's measurement for each seed with the genlab this interpreter imports."""
    import torch

    torch.set_num_threads(threads)
    import genlab
    from genlab.cli.demo import DEMO_DATA, pick_model
    from genlab.cli.evaluate import evaluate_run
    from genlab.cli.train import fit_model

    name = pick_model()
    rows = []
    for seed in seeds:
        t0 = time.perf_counter()
        ds = genlab.datasets.load(DEMO_DATA, seed=seed)
        model = fit_model(name, ds, {}, steps=steps, seed=seed, quiet=True)
        m = evaluate_run(model, ds, seed=seed, n_samples=n_kl, n_test=n_test)
        rows.append({"seed": seed, "kl_to_truth": m["kl_to_truth"], "kl_stderr": m["kl_stderr"], "nll": m["nll"],
                     "steps": len(model.history), "seconds": round(time.perf_counter() - t0, 1)})
        print(json.dumps(rows[-1]), file=sys.stderr, flush=True)
    kls = [r["kl_to_truth"] for r in rows]
    return {"genlab_file": genlab.__file__, "model": name, "data": DEMO_DATA, "steps": steps, "n_kl": n_kl,
            "n_test": n_test, "threads": threads, "runs": rows, "kl_mean": statistics.fmean(kls),
            "kl_std": statistics.stdev(kls) if len(kls) > 1 else 0.0}


def child(src: Path, args) -> dict:
    """Run this script's ``run`` under ``src`` (a tree's src/ folder) in a fresh interpreter; check where genlab came
    from."""
    env = dict(os.environ, PYTHONPATH=str(src), OMP_NUM_THREADS=str(args.threads))
    cmd = [sys.executable, str(HERE), "run", "--steps", str(args.steps), "--n-kl", str(args.n_kl),
           "--n-test", str(args.n_test), "--threads", str(args.threads), "--seeds", *map(str, args.seeds)]
    out = subprocess.run(cmd, env=env, cwd=src.parent, check=True, stdout=subprocess.PIPE, text=True).stdout
    res = json.loads(out)
    if not Path(res["genlab_file"]).resolve().is_relative_to(src.resolve()):
        raise SystemExit(f"genlab came from {res['genlab_file']}, not from {src}")
    return res


def git_head(src: Path) -> str:
    """The tree's commit, with "+dirty" when files under ``src`` differ from it."""
    def git(*a):
        return subprocess.run(["git", "-C", str(src), *a], check=True, stdout=subprocess.PIPE, text=True).stdout.strip()
    return git("rev-parse", "--short", "HEAD") + ("+dirty" if git("status", "--porcelain", "--", ".") else "")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("mode", choices=("run", "compare"))
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    ap.add_argument("--steps", type=int, default=13000, help="training steps (the demo's 60 s on a quiet machine)")
    ap.add_argument("--n-kl", type=int, default=1000, help="truth samples for the KL (the demo's largest plan)")
    ap.add_argument("--n-test", type=int, default=1000, help="test points for the NLL")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--new", default=str(REPO / "src"), help="today's src/ (compare)")
    ap.add_argument("--old", default="/work/demo_old/src", help="the older tree's src/ (compare)")
    ap.add_argument("--out", default=None, help="JSON file for the result")
    args = ap.parse_args()
    if args.mode == "run":
        res = run_tree(args.seeds, args.steps, args.n_kl, args.n_test, args.threads)
    else:
        new, old = Path(args.new), Path(args.old)
        res = {"command": " ".join(["benchmarks/demo_kl.py", *sys.argv[1:]]),
               "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
               "today": {"commit": git_head(new), **child(new, args)},
               "old": {"commit": git_head(old), **child(old, args)}}
        lo = res["old"]["kl_mean"] - 2 * res["old"]["kl_std"]
        hi = res["old"]["kl_mean"] + 2 * res["old"]["kl_std"]
        res["old_band_2std"] = [lo, hi]
        res["today_mean_within_old_2std"] = lo <= res["today"]["kl_mean"] <= hi
    text = json.dumps(res, indent=2)
    print(text)
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(text + "\n")


if __name__ == "__main__":
    main()
