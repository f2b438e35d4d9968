"""``sample(n, given={column: value})`` by each route, per table family: which one each family should declare
(``given_route``, :mod:`genlab.data.kinds.given`).

    python benchmarks/table_given.py --steps 300 --out benchmarks/results/table_given

For gbsg2 (given menostat=Pre) and penguins (given species=Gentoo), 70/30 split as ``tabular.py --protocol patients``:
each family fits the training rows for a fixed number of ``--steps`` (not time: the machine may be loaded), then draws
``--n`` rows three ways -- unconditional, ``given=`` by the family's impute, ``given=`` by rejection (unconditional
draws that hold the value). Each is scored against the real training rows that hold the value, over the other
columns: the mean per-column distance (KS for numbers, TV for categories; 1 - sdmetrics' column shape, as in
:mod:`genlab.metrics.tables`) and W1 (L1 cost after min-max scaling, one-hot halved). Lower is closer. ``match`` is
the share of conditional rows that hold the value; the unconditional ``match`` is the rejection route's acceptance rate. ``floor`` is the
real test rows that hold the value against the training rows, in the impute columns (the distance of real new rows,
fewer than --n). ``declared`` is the family's ``given_route`` at the time of the run.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
from app_common import attempt, md_table
from common import write_results
from tabular_patients import load

import genlab
from genlab.data.kinds.given import rejection_rows
from genlab.metrics.tables import TableSpace, _quality, wasserstein1
from genlab.rng import derive_seed

__all__ = ["FAMILIES", "GIVEN", "run"]

FAMILIES = ("table_ar", "table_diffusion", "made", "maf", "gmm", "vae", "gan")
GIVEN = {"gbsg2": {"menostat": "Pre"}, "penguins": {"species": "Gentoo"}}
RESULTS = Path(__file__).parent / "results"


def _distance(space: TableSpace, real, frame, others: list[str]) -> tuple[float, float]:
    """(mean per-column KS / TV, W1) of ``frame`` to ``real`` over the columns ``others``."""
    cols = _quality(space, real, frame)[2]
    return float(np.mean([1.0 - cols[c] for c in others])), wasserstein1(space.embed(real, others),
                                                                         space.embed(frame, others))


def _one(name: str, train, real, given: dict, space, others, args) -> dict:
    (col, value), = given.items()
    model = genlab.create(name, train)
    t0 = time.perf_counter()
    model.fit(train, steps=args.steps, seed=args.seed, progress=False)
    out = {"fit_s": round(time.perf_counter() - t0, 1), "declared": model.given_route}
    draws = {"unconditional": lambda: model.sample(args.n, seed=args.seed + 1)}
    model.given_route = "impute"  # this instance only: force each route in turn
    draws["impute"] = lambda: model.sample(args.n, seed=args.seed + 2, given=given)
    drawn = [0]

    def draw(m, i):
        drawn[0] += m
        return model.sample(m, seed=derive_seed(args.seed + 3, i))

    draws["rejection"] = lambda: rejection_rows(draw, args.n, given)
    for route, make in draws.items():
        t0 = time.perf_counter()
        frame = make()
        seconds = time.perf_counter() - t0
        if frame is None:
            out[route] = {"error": f"acceptance too low ({drawn[0]} draws)"}
            continue
        ks_tv, w1 = _distance(space, real, frame, others)
        out[route] = {"ks_tv": ks_tv, "w1": w1, "match": float((frame[col] == value).mean()), "sample_s": round(seconds, 2)}
    if "ks_tv" in out["rejection"]:
        out["rejection"]["draws"] = drawn[0]
    better = [r for r in ("impute", "rejection") if "ks_tv" in out[r]]
    out["better"] = min(better, key=lambda r: out[r]["ks_tv"] + out[r]["w1"]) if better else None
    return out


def run(args, log=print) -> tuple[dict, str]:
    results, lines = {}, []
    for ds in args.datasets:
        train, test, _ = load(ds, args.seed)
        given = GIVEN[ds]
        (col, value), = given.items()
        real = train[train[col] == value]
        space = TableSpace(train)
        others = [c for c in space.names if c != col]
        floor = _distance(space, real, test[test[col] == value], others)
        rows = [{"model": "floor (real test rows)", "impute_ks_tv": floor[0], "impute_w1": floor[1]}]
        for name in args.models:
            data = (train, real, given, space, others)
            r = attempt(f"{ds} {name}", lambda n=name, d=data: _one(n, *d, args), log)
            log(f"{ds} {name}: {r}")
            flat = {"model": name, **{k: v for k, v in r.items() if not isinstance(v, dict)}}
            for route in ("unconditional", "impute", "rejection"):
                flat.update({f"{route}_{k}": v for k, v in r.get(route, {}).items()})
            rows.append(flat)
        results[ds] = {"given": given, "real_rows": len(real), "floor": {"ks_tv": floor[0], "w1": floor[1]},
                       "rows": rows}
        cols = [("model", "model"), ("unconditional_ks_tv", "uncond KS/TV"), ("impute_ks_tv", "impute KS/TV"),
                ("rejection_ks_tv", "reject KS/TV"), ("unconditional_w1", "uncond W1"), ("impute_w1", "impute W1"),
                ("rejection_w1", "reject W1"), ("impute_match", "impute match"), ("unconditional_match", "accept"),
                ("better", "better"), ("declared", "declared"), ("fit_s", "fit s"), ("error", "error")]
        lines += [f"### {ds}, given {given} ({len(real)} real training rows; {args.steps} steps, n={args.n})", "",
                  md_table(rows, cols), ""]
    return {"results": results}, "\n".join(lines)


def main(argv=None) -> None:
    import torch

    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--models", nargs="*", default=list(FAMILIES))
    p.add_argument("--datasets", nargs="*", default=list(GIVEN), choices=list(GIVEN))
    p.add_argument("--steps", type=int, default=300, help="training steps per model (fixed: not a time budget)")
    p.add_argument("--n", type=int, default=1000, help="rows drawn per route")
    p.add_argument("--threads", type=int, default=1, help="torch threads")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default=str(RESULTS / "table_given"), help="results stem")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    t0 = time.perf_counter()
    payload, table = run(args)
    payload["wall_s"] = round(time.perf_counter() - t0, 1)
    print(table)
    write_results(args.out, args, payload, table)


if __name__ == "__main__":
    main()
