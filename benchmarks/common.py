"""What the benchmark scripts share: writing a results file pair (STEM.json with the command's arguments, the date
and the machine's load, and STEM.md with the table)."""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

__all__ = ["write_results", "kl_columns", "record", "finish"]


def write_results(stem, args, payload: dict, table: str) -> None:
    """Write ``STEM.json`` ({args, command, date, load_avg, **payload}) and ``STEM.md`` (``table``)."""
    stem = Path(stem)
    stem.parent.mkdir(parents=True, exist_ok=True)
    meta = {"args": vars(args), "command": " ".join(["python", *sys.argv]), "date": time.strftime("%Y-%m-%d %H:%M"),
            "load_avg": os.getloadavg()}
    stem.with_suffix(".json").write_text(json.dumps({**meta, **payload}, indent=2))
    stem.with_suffix(".md").write_text(table + "\n")


def kl_columns(model, ds, n_eval: int, seed: int) -> dict:
    """KL(truth || model) on ``n_eval`` fresh truth samples (seed + 1), its standard error, and the log_prob seconds."""
    from genlab.metrics import kl_to_truth

    xs = ds.sample(n_eval, seed=seed + 1)
    t0 = time.perf_counter()
    lq = model.log_prob(xs, seed=seed)
    kl = kl_to_truth(ds.log_prob(xs), lq)
    return {"log_prob_s": time.perf_counter() - t0, "kl": kl.kl, "kl_stderr": kl.stderr}


def record(rows: list, row: dict) -> None:
    """Print ``row`` as one JSON line (progress a reader can follow) and keep it."""
    print(json.dumps(row), flush=True)
    rows.append(row)


def finish(args, rows: list, table: str) -> None:
    """Print the ``table`` and, when ``args.out`` is set, write the results pair with the ``rows``."""
    print(table)
    if args.out:
        write_results(args.out, args, {"rows": rows}, table)
