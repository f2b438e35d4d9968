"""What W_test of ForestDiffusion's protocol rewards: the real training rows scored as if generated, as they are
and with their numeric columns shrunk toward their class means by a factor lambda (issue 25; docs/tables.md).

Same splits, scaling and W1 as ``benchmarks/tabular_forest.py`` (3 stratified 80/20 splits, min-max on the training
rows with the one-hot class halved, POT's exact W1 with L1 cost to the test rows). lambda = 1 is the real rows; a
lambda below 1 contracts every class toward its mean, i.e. under-disperses. Usage::

    python benchmarks/forest_contraction.py --out benchmarks/results/forest_contraction
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
from tabular_forest import DATASETS, REFERENCE
from tabular_metrics_check import tables

from genlab.metrics.tables import TableSpace, wasserstein1

__all__ = ["shrunk_w_test"]


def shrunk_w_test(ds: str, lam: float, splits: int = 3) -> float:
    """Mean over splits of W1(test rows, training rows with numeric columns shrunk by ``lam`` toward class means)."""
    out = []
    for n in range(splits):
        train, test, target = tables([ds], n)[ds]
        space = TableSpace(train)
        a, b = space.embed(train).copy(), space.embed(test)
        y = train[target].astype(str).to_numpy()
        num = [i for i in range(a.shape[1]) if len(np.unique(a[:, i])) > 2]  # not the one-hot class columns
        for c in np.unique(y):
            rows = y == c
            mu = a[rows][:, num].mean(0)
            a[np.ix_(rows, num)] = mu + lam * (a[np.ix_(rows, num)] - mu)
        out.append(wasserstein1(b, a))
    return float(np.mean(out))


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--lambdas", nargs="+", type=float, default=[1.0, 0.9, 0.8, 0.7, 0.5])
    p.add_argument("--out", default="benchmarks/results/forest_contraction")
    args = p.parse_args(argv)
    res = {ds: {f"{lam:g}": shrunk_w_test(ds, lam) for lam in args.lambdas} for ds in DATASETS}
    lines = ["| set | " + " | ".join(f"lambda {lam:g}" for lam in args.lambdas) + " | Forest-Flow (published) |",
             "|---" * (len(args.lambdas) + 2) + "|"]
    for ds, row in res.items():
        lines.append(f"| {ds} | " + " | ".join(f"{v:.3f}" for v in row.values())
                     + f" | {REFERENCE[ds]['forest_flow_w_test']} |")
    print("\n".join(lines))
    record = {"command": "python benchmarks/forest_contraction.py --out " + args.out,
              "date": time.strftime("%Y-%m-%d %H:%M"), "w_test": res, "reference": REFERENCE}
    Path(args.out + ".json").write_text(json.dumps(record, indent=1))
    Path(args.out + ".md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
