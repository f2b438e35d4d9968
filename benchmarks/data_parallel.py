"""Data-parallel equivalence: 2 processes x 64 rows against 1 process x 128 rows, 20 steps, for vp_sde, edm and
flow_matching with their default noise_groups, over several seeds, in float32 and in float64.

The draws of the global batch are sharded (issue 23, item 7), so the two runs compute the same gradient up to the
order of float additions: the batch's sum taken as one matmul in one process, or as two half sums added by the
all-reduce. In float64 the weights agree to ~1e-15, which shows the algorithm is the same; in float32 the same
reordering is 1e-7 relative, and Adam, which divides each gradient by its running RMS, can amplify it in an entry whose
gradient is a cancelling sum. This script measures both, through the Python API (where the dtype can be chosen) and
through the CLI (float32, the user's path):

    python benchmarks/data_parallel.py --seeds 1 2 3 4 5 --out benchmarks/results/data_parallel
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import torch
from safetensors.torch import load_file

sys.path.insert(0, str(Path(__file__).parent))
from common import write_results  # noqa: E402

MODELS = ["vp_sde", "edm", "flow_matching"]
WORKER = r'''
import sys, torch, genlab
from genlab.training import distributed as dist
dtype = {"float32": torch.float32, "float64": torch.float64}[sys.argv[3]]
torch.set_default_dtype(dtype)
dist.init_from_env()
batch, out, seed = int(sys.argv[1]), sys.argv[2], int(sys.argv[4])
for name in sys.argv[5:]:
    ds = genlab.data.load("eight_gaussians")
    m = genlab.create(name, ds, **genlab.models.get(name).data_parallel_config)
    m.fit(ds.train.to(dtype), steps=20, batch_size=batch, seed=seed, progress=False)
    if dist.rank() == 0:
        torch.save(m.state_dict(), f"{out}/{name}.pt")
dist.shutdown()
'''


def env() -> dict:
    import genlab

    return {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(Path(genlab.__file__).parents[1])}


def run(args: list, nproc: int) -> None:
    launch = [sys.executable] if nproc == 1 else [sys.executable, "-m", "torch.distributed.run", "--standalone",
                                                  f"--nproc_per_node={nproc}"]
    r = subprocess.run([*launch, *map(str, args)], capture_output=True, text=True, env=env(), timeout=1200)
    if r.returncode:
        raise SystemExit(r.stderr[-3000:])


def compare(a: dict, b: dict) -> dict:
    """max |dw| over every floating entry, the tensor it is in, and how many entries differ by more than 1e-5."""
    keys = [k for k in a if a[k].is_floating_point() and a[k].numel()]
    worst = max(keys, key=lambda k: float((a[k].double() - b[k].double()).abs().max()))
    return {"max_dw": float((a[worst].double() - b[worst].double()).abs().max()), "where": worst,
            "above_1e-5": sum(int(((a[k].double() - b[k].double()).abs() > 1e-5).sum()) for k in keys),
            "entries": sum(a[k].numel() for k in keys)}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3, 4, 5])
    p.add_argument("--out", default="benchmarks/results/data_parallel")
    args = p.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        (tmp / "worker.py").write_text(WORKER)
        for seed in args.seeds:
            for dtype in ("float32", "float64"):
                one, two = tmp / f"api_{dtype}_{seed}_1", tmp / f"api_{dtype}_{seed}_2"
                one.mkdir(), two.mkdir()
                run([tmp / "worker.py", 128, one, dtype, seed, *MODELS], 1)
                run([tmp / "worker.py", 64, two, dtype, seed, *MODELS], 2)
                for name in MODELS:
                    a, b = (torch.load(d / f"{name}.pt") for d in (one, two))
                    rows.append({"path": "api", "dtype": dtype, "seed": seed, "model": name, **compare(a, b)})
                    print(json.dumps(rows[-1]), flush=True)
            for name in MODELS:
                one, two = tmp / f"cli_{name}_{seed}_1", tmp / f"cli_{name}_{seed}_2"
                common = ["-m", "genlab.cli", "train", name, "--data", "eight_gaussians", "--steps", 20, "--quiet",
                          "--seed", seed]
                run([*common, "--batch-size", 128, "--out", one], 1)
                run([*common, "--batch-size", 64, "--out", two], 2)
                a, b = (load_file(str(d / "model.safetensors")) for d in (one, two))
                rows.append({"path": "cli", "dtype": "float32", "seed": seed, "model": name, **compare(a, b)})
                print(json.dumps(rows[-1]), flush=True)
    lines = ["| path | dtype | model | worst max \\|dw\\| over seeds | runs with an entry above 1e-5 | entries above "
             "1e-5 (worst run) |", "|---|---|---|---|---|---|"]
    for path, dtype in (("api", "float64"), ("api", "float32"), ("cli", "float32")):
        for name in MODELS:
            sel = [r for r in rows if (r["path"], r["dtype"], r["model"]) == (path, dtype, name)]
            lines.append(f"| {path} | {dtype} | {name} | {max(r['max_dw'] for r in sel):.3g} | "
                         f"{sum(r['above_1e-5'] > 0 for r in sel)} of {len(sel)} | "
                         f"{max(r['above_1e-5'] for r in sel)} of {sel[0]['entries']} |")
    write_results(args.out, args, {"rows": rows}, "\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
