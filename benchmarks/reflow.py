"""Straight flows and few-step students: reflow rounds, OT coupling, consistency distillation and training.

On one 2-D set, every model trains for ``--budget`` seconds (reflow and distillation: the budget covers drawing
the teacher's pairs and training):

- ``rf1``: ``rectified_flow`` (independent coupling) on the data; ``rf2``, ``rf3``: its reflow rounds;
- ``fm_ot``: ``flow_matching`` with minibatch-OT coupling;
- ``cd``: ``genlab.distill(rf1, to="consistency")``; ``ict``: ``consistency`` trained from scratch (iCT).

Reported per model: straightness S (Liu et al. 2023; 100 Euler steps, standardised units, lower is straighter)
and a quality-vs-NFE curve: sliced W2 (``genlab.metrics.sliced_wasserstein``, p = 2) between ``--n`` samples and
the test split, for Euler on the uniform-t grid at 1, 2, 4, 8, 16, 32 and 1000 steps (flows) or the one-step and
multistep samplers (consistency). Goals (issue 10): S(fm_ot) < S(rf1); rf2's 1-step SW2 within 2x of rf1's
1000-step SW2; cd's 1-step SW2 within 2x of its teacher's (rf1) 1000-step SW2.

    python benchmarks/reflow.py --set two_moons --budget 60 --out benchmarks/results/reflow   # the full run
    python benchmarks/reflow.py --budget 2 --n 300 --n-pairs 500                                # a smoke check
"""

from __future__ import annotations

import argparse
import datetime
import json
import sys
import time
from pathlib import Path

import torch

import genlab
import genlab.metrics
from genlab.metrics import sliced_wasserstein

FLOW_STEPS = (1, 2, 4, 8, 16, 32, 1000)


def sw2(m, ds, n, seed, **opts) -> tuple[float, int]:
    x = m.sample(n, seed=seed, **opts)
    return sliced_wasserstein(x, ds.test, p=2, seed=seed), m.last_nfe


def flow_row(name, m, ds, a) -> dict:
    row = {"model": name, "straightness": genlab.metrics.straightness(m, a.n, seed=a.seed), "curve": {}}
    for k in FLOW_STEPS:
        row["curve"][k] = sw2(m, ds, a.n, a.seed, sampler="euler", steps=k, schedule="uniform_t")[0]
    row["train_s"] = m.fit_time
    return row


def consistency_row(name, m, ds, a) -> dict:
    row = {"model": name, "straightness": None, "curve": {1: sw2(m, ds, a.n, a.seed)[0]}, "train_s": m.fit_time}
    for k in (2, 4):
        row["curve"][k] = sw2(m, ds, a.n, a.seed, sampler="multistep", steps=k)[0]
    return row


def markdown(rows, goals, header) -> str:
    ks = sorted({k for r in rows for k in r["curve"]})
    lines = [header, "", "| model | S | " + " | ".join(f"SW2 @ {k} NFE" for k in ks) + " | train s |",
             "|---|---|" + "---|" * len(ks) + "---|"]
    for r in rows:
        s = "-" if r["straightness"] is None else f"{r['straightness']:.4f}"
        cells = " | ".join(f"{r['curve'][k]:.4f}" if k in r["curve"] else "-" for k in ks)
        lines.append(f"| {r['model']} | {s} | {cells} | {r['train_s']:.1f} |")
    lines.append("")
    lines += [f"- {k}: {v}" for k, v in goals.items()]
    return "\n".join(lines)


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--set", default="two_moons")
    p.add_argument("--budget", type=float, default=60.0, help="seconds per model (and per reflow round)")
    p.add_argument("--rounds", type=int, default=2, help="reflow rounds after rf1")
    p.add_argument("--n-pairs", type=int, default=10000)
    p.add_argument("--n", type=int, default=2000, help="samples per SW2 and straightness estimate")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--out", default=None, help="path stem: writes STEM.json and STEM.md")
    a = p.parse_args(argv)
    torch.set_num_threads(a.threads)
    ds = genlab.datasets.load(a.set, seed=a.seed)
    rows, log = [], (lambda s: print(s, file=sys.stderr))
    rf = genlab.create("rectified_flow", ds.shape).fit(ds.train, time_budget=a.budget, seed=a.seed, progress=False)
    teacher = rf
    rows.append(flow_row("rf1", rf, ds, a))
    log(f"rf1: {rows[-1]}")
    for k in range(2, a.rounds + 2):
        rf = rf.reflow(time_budget=a.budget, n_pairs=a.n_pairs, seed=a.seed)
        rows.append(flow_row(f"rf{k}", rf, ds, a))
        log(f"rf{k}: {rows[-1]}")
    ot = genlab.create("flow_matching", ds.shape, coupling="ot").fit(ds.train, time_budget=a.budget, seed=a.seed,
                                                                      progress=False)
    rows.append(flow_row("fm_ot", ot, ds, a))
    cd = genlab.distill(teacher, to="consistency", time_budget=a.budget, seed=a.seed, n_samples=a.n_pairs)
    rows.append(consistency_row("cd (teacher rf1)", cd, ds, a))
    t0 = time.perf_counter()
    ict = genlab.create("consistency", ds.shape).fit(ds.train, time_budget=a.budget, seed=a.seed, progress=False)
    ict.fit_time = time.perf_counter() - t0
    rows.append(consistency_row("ict (from scratch)", ict, ds, a))
    by = {r["model"]: r for r in rows}
    ref = by["rf1"]["curve"][1000]
    goals = {
        "OT lowers straightness": f"S(fm_ot) = {by['fm_ot']['straightness']:.4f} vs S(rf1) = "
                                  f"{by['rf1']['straightness']:.4f}: {by['fm_ot']['straightness'] < by['rf1']['straightness']}",
        "rf2 1-step within 2x of rf1 1000-step": f"{by['rf2']['curve'][1]:.4f} vs {ref:.4f}: "
                                                  f"{by['rf2']['curve'][1] <= 2 * ref}" if "rf2" in by else "no rf2",
        "cd 1-step within 2x of teacher 1000-step": f"{by['cd (teacher rf1)']['curve'][1]:.4f} vs {ref:.4f}: "
                                                     f"{by['cd (teacher rf1)']['curve'][1] <= 2 * ref}",
    }
    date = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    table = markdown(rows, goals, f"Command: `python {' '.join(sys.argv)}` ({date}; set {a.set}; {a.threads} threads)")
    print(table)
    if a.out:
        stem = Path(a.out)
        stem.parent.mkdir(parents=True, exist_ok=True)
        stem.with_suffix(".json").write_text(json.dumps({"args": vars(a), "date": date, "rows": rows, "goals": goals},
                                                        indent=2))
        stem.with_suffix(".md").write_text(table + "\n")


if __name__ == "__main__":
    main()
