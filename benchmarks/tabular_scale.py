"""``benchmarks/tabular.py --protocol scale``: a table of ``--rows`` rows (200,000) with gbsg2's schema -- its 686
patients resampled with replacement (seeded), each number moved by Gaussian noise of 5 % of its column's standard
deviation, rounded (every gbsg2 number is an integer) and clipped to the column's range; categories kept -- is
encoded, trains for ``--train-seconds`` (60) and samples as many rows, per model (default: the two native table
models). Each model runs in its own spawned process so that its peak resident memory (``ru_maxrss``, read after each
phase: encode, train, sample) is its own; tracemalloc's peak of Python-level allocations (numpy, pandas; not torch's
allocator) is recorded too. Throughput: rows/s to fit the encoder and encode, training steps/s on the training
loop's clock (and rows/s = steps * batch; ``fit_time`` adds the family's set-up), sampled (and decoded) rows/s.
"""

from __future__ import annotations

import multiprocessing as mp
import resource
import time
import tracemalloc

import numpy as np
from app_common import attempt, md_table

__all__ = ["big_table", "run"]


def big_table(rows: int, seed: int):
    """gbsg2's rows resampled with noise (module docstring)."""
    import pandas as pd
    from tabular_patients import load

    base = pd.concat(load("gbsg2", seed)[:2], ignore_index=True)  # all 686 patients
    rng = np.random.default_rng(seed)
    frame = base.iloc[rng.integers(0, len(base), rows)].reset_index(drop=True)
    for c in frame.columns:
        if frame[c].dtype.kind in "if" and frame[c].nunique() > 2:
            v = frame[c].to_numpy(np.float64) + rng.normal(0, 0.05 * base[c].std(), rows)
            frame[c] = np.clip(np.round(v), base[c].min(), base[c].max()).astype(base[c].dtype)
    return frame


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def _child(name: str, rows: int, seconds: float, seed: int, threads: int) -> dict:
    import torch

    import genlab
    from genlab.data.kinds import TableEncoder

    torch.set_num_threads(threads)
    torch.optim.Adam([torch.zeros(1, requires_grad=True)])  # the first optimizer imports torch._dynamo (seconds)
    tracemalloc.start()
    frame = big_table(rows, seed)
    out = {"rss_mb_table": _rss_mb()}
    t0 = time.perf_counter()
    encoded = TableEncoder().fit(frame).encode(frame)
    out.update(encode_s=time.perf_counter() - t0, encoded_shape=list(encoded.shape), rss_mb_encode=_rss_mb())
    out["encode_rows_per_s"] = rows / out["encode_s"]
    t0 = time.perf_counter()
    model = genlab.create(name, frame)
    model.fit(frame, time_budget=seconds, seed=seed, progress=False)
    out["train_s"] = time.perf_counter() - t0  # create (encoder fit) + encode + the timed training
    history = getattr(model, "history", []) or []
    loop_s = history[-1]["time"] if history else model.fit_time  # the training loop's own clock
    batch = getattr(model.config, "batch_size", None)
    out.update(steps=len(history), loop_s=loop_s, fit_time=model.fit_time, steps_per_s=len(history) / loop_s,
               batch_size=batch, train_rows_per_s=None if batch is None else len(history) * batch / loop_s,
               rss_mb_train=_rss_mb())
    t0 = time.perf_counter()
    synth = model.sample(rows, seed=seed + 1)
    out["sample_s"] = time.perf_counter() - t0
    out.update(sample_rows_per_s=rows / out["sample_s"], sampled_rows=len(synth), rss_mb_sample=_rss_mb(),
               tracemalloc_peak_mb=tracemalloc.get_traced_memory()[1] / 2**20,
               sampled_columns_match=list(synth.columns) == list(frame.columns))
    return out


def run(args, log=print) -> tuple[dict, str]:
    names = args.models or ["table_ar", "table_diffusion"]
    ctx = mp.get_context("spawn")
    rows = []
    for name in names:
        def go(n=name) -> dict:
            with ctx.Pool(1) as pool:
                return pool.apply(_child, (n, args.rows, args.train_seconds, args.seed, args.threads))

        rows.append({"model": name, **attempt(f"scale {name}", go, log)})
    cols = [("model", "model"), ("encode_rows_per_s", "encode rows/s"), ("steps_per_s", "train steps/s"),
            ("train_rows_per_s", "train rows/s"), ("sample_rows_per_s", "sample rows/s"),
            ("rss_mb_sample", "peak RSS MB"), ("tracemalloc_peak_mb", "tracemalloc peak MB"), ("error", "error")]
    return {"results": rows, "rows": args.rows, "train_seconds": args.train_seconds}, md_table(rows, cols, 1)
