"""Issue 25's table benchmark, in three parts (each writes benchmarks/results/tabular_<protocol>.{json,md}):

- ``--protocol forest``: ForestDiffusion's published protocol on iris / wine / breast_cancer, every genlab table
  model against the published Forest-Flow and TabDDPM numbers (:mod:`tabular_forest`);
- ``--protocol patients``: gbsg2 and penguins, every genlab table model against in-benchmark peers (Gaussian copula,
  CTGAN- and TVAE-style, independent marginals, the training rows) at an equal budget per model; fidelity, utility,
  privacy, and the ``given=`` check (:mod:`tabular_patients`, peers in :mod:`tabular_peers`);
- ``--protocol scale``: 200,000 rows with gbsg2's schema: encode, 60 s of training, 200,000 samples; throughput and
  peak memory (:mod:`tabular_scale`).

Full runs (alone on the machine, 2 cores). The forest run is up to 20 models x 5 min per data set (about 1.5 h
per set with evaluation), so one command per set; ``--f1-tries 5`` is the paper's 5 classifier seeds (about 1.5 h
more in all; the default 1 changes only the seeds of the forest / boosting classifiers). Patients: about 50 min;
scale: about 10 min.

    python benchmarks/tabular.py --protocol forest --datasets iris --out benchmarks/results/tabular_forest_iris
    python benchmarks/tabular.py --protocol forest --datasets wine --out benchmarks/results/tabular_forest_wine
    python benchmarks/tabular.py --protocol forest --datasets breast_cancer \\
        --out benchmarks/results/tabular_forest_breast_cancer
    python benchmarks/tabular.py --protocol patients --budget 60
    python benchmarks/tabular.py --protocol scale --rows 200000 --train-seconds 60

Smoke runs (minutes; pass --out under /tmp so no result file is replaced):

    python benchmarks/tabular.py --protocol forest --budget 5 --splits 1 --generations 1 --datasets iris --out /tmp/f
    python benchmarks/tabular.py --protocol patients --budget 5 --models table_ar --out /tmp/p
    python benchmarks/tabular.py --protocol scale --rows 5000 --train-seconds 5 --out /tmp/s
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from common import write_results

__all__ = ["main", "parser"]

RESULTS = Path(__file__).parent / "results"


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--protocol", choices=("forest", "patients", "scale"), required=True)
    p.add_argument("--budget", type=float, default=None,
                   help="seconds: per model and data set (forest, default 300) or per fit (patients, default 60)")
    p.add_argument("--splits", type=int, default=3, help="forest: train/test splits")
    p.add_argument("--generations", type=int, default=5, help="forest: generations per split")
    p.add_argument("--f1-tries", type=int, default=1, help="forest: classifier seeds for F1 (the paper: 5)")
    p.add_argument("--no-select", dest="select", action="store_false",
                   help="forest: skip the validation choice among CANDIDATES")
    p.add_argument("--temperatures", nargs="+", type=float, default=[1.0],
                   help="forest: sampling temperatures to choose among on the validation rows, for the models "
                        "whose sample takes one (table_ar, table_diffusion); default 1 only")
    p.add_argument("--datasets", nargs="+", default=None)
    p.add_argument("--models", nargs="+", default=None, help="genlab models (default: every table model)")
    p.add_argument("--peers", nargs="+", default=None, help="patients: peers (default: all)")
    p.add_argument("--rows", type=int, default=200_000, help="scale: rows")
    p.add_argument("--train-seconds", type=float, default=60.0, help="scale: training seconds")
    p.add_argument("--threads", type=int, default=2, help="torch threads")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default=None, help="results stem (default benchmarks/results/tabular_<protocol>)")
    return p


def main(argv=None) -> None:
    import torch

    args = parser().parse_args(argv)
    if args.budget is None:
        args.budget = {"forest": 300.0, "patients": 60.0}.get(args.protocol, 0.0)
    torch.set_num_threads(args.threads)
    torch.optim.Adam([torch.zeros(1, requires_grad=True)])  # import torch._dynamo now, not in the first timed fit
    if args.protocol == "forest":
        import tabular_forest as part
    elif args.protocol == "patients":
        import tabular_patients as part
    else:
        import tabular_scale as part
    t0 = time.perf_counter()
    payload, table = part.run(args)
    payload["wall_s"] = round(time.perf_counter() - t0, 1)
    payload = json.loads(json.dumps(payload, default=lambda v: v.item() if hasattr(v, "item") else str(v)))
    print(table)
    write_results(args.out or RESULTS / f"tabular_{args.protocol}", args, payload, table)


if __name__ == "__main__":
    main()
