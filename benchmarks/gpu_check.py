"""GPU check: every backbone trains, samples and evaluates on CUDA, in fp32 and bf16, and agrees with the CPU.

For each configuration (``edm`` with the ``mlp``, ``unet`` and ``dit`` backbones, and ``pixel_transformer``) on
``digits`` (1, 8, 8; dequantized, the convention of :mod:`genlab.metrics`) and each precision (fp32, bf16 autocast;
see :mod:`genlab.device`), the script

- fits with ``fit(train, time_budget=B, seed=s, device=D, precision=P, dequantize=True)`` and records steps/s;
- draws ``--n-samples`` samples (``precision=P``), timed with the device synchronised, and records samples/s and the
  Frechet digits distance of the samples (a sanity number at short budgets);
- scores ``--n-eval`` dequantized test digits (fp32) in bits/dim;
- checks CPU-vs-device agreement: the fitted model is copied to the CPU and ``log_prob`` of the same points with the
  same seed and the same batch is computed on both (genlab's draws are made on the CPU, so a seed means the same on every device);
  records the largest |difference| in nats and ``agree`` = max |diff| <= 1e-3 x (1 + |log p|) + 0.05.

Without CUDA (and without ``--device cpu``) it prints one line and exits 0.

    python benchmarks/gpu_check.py --budget 60 --out benchmarks/results/gpu_check.json    # on a GPU, ~10 min
    python benchmarks/gpu_check.py --device cpu --budget 0.5 --n-samples 16 --n-eval 32 --out /tmp/gpu.json  # smoke
"""

from __future__ import annotations

import argparse
import copy
import math
import sys
import time
from pathlib import Path

import torch
from common import write_results

import genlab
from genlab.device import resolve_device
from genlab.errors import ConfigError
from genlab.metrics import frechet_digits

CONFIGS = {  # name -> (model, config)
    "edm-mlp": ("edm", {"backbone": "mlp"}),
    "edm-unet": ("edm", {"backbone": "unet"}),
    "edm-dit": ("edm", {"backbone": "dit"}),
    "pixel_transformer": ("pixel_transformer", {}),
}
SAMPLE_OPTIONS = {"edm": {"steps": 32}}
LOG_PROB_OPTIONS = {"edm": {"rtol": 1e-4, "atol": 1e-4}}


def _sync(dev: torch.device) -> None:
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)


def _timed(dev, fn):
    _sync(dev)
    t0 = time.perf_counter()
    out = fn()
    _sync(dev)
    return out, time.perf_counter() - t0


def check(label: str, precision: str, ds, dev: torch.device, args) -> dict:
    name, config = CONFIGS[label]
    gen = torch.Generator().manual_seed(args.seed + 1)
    test = ds.test[: args.n_eval]
    x_eval = test + torch.rand(test.shape, generator=gen)  # dequantized once, as genlab.metrics does
    m = genlab.create(name, ds.shape, **config)
    _, fit_s = _timed(dev, lambda: m.fit(ds.train, time_budget=args.budget, seed=args.seed, progress=False,
                                         dequantize=True, device=dev, precision=precision))
    row = {"config": label, "model": name, "precision": precision, "device": str(m.device), "steps": len(m.history),
           "fit_s": fit_s, "steps_per_s": len(m.history) / fit_s, "final_loss": m.history[-1].get("loss")}
    so = SAMPLE_OPTIONS.get(name, {})
    x, sample_s = _timed(dev, lambda: m.sample(args.n_samples, seed=args.seed, precision=precision, **so))
    row.update({"sample_s": sample_s, "samples_per_s": args.n_samples / sample_s,
                "samples_finite": bool(torch.isfinite(x).all()),
                "frechet_digits": float(frechet_digits(x)) if torch.isfinite(x).all() else math.nan})
    lo = LOG_PROB_OPTIONS.get(name, {})
    lp, lp_s = _timed(dev, lambda: m.log_prob(x_eval, seed=args.seed, **lo))
    dim = math.prod(ds.shape)
    row.update({"log_prob_s": lp_s, "test_bpd": float(-lp.mean() / (dim * math.log(2)))})
    k = min(args.n_agree, len(x_eval))
    cpu = copy.deepcopy(m).to("cpu")
    lp_cpu = cpu.log_prob(x_eval[:k], seed=args.seed, **lo)  # the same batch on both (adaptive ODE steps and
    lp_dev = m.log_prob(x_eval[:k], seed=args.seed, **lo)    # probes depend on the batch, not only on each row)
    diff = (lp_cpu - lp_dev).abs()
    row.update({"agree_n": k, "agree_max_abs_nats": float(diff.max()),
                "agree": bool((diff <= 1e-3 * (1 + lp_cpu.abs()) + 0.05).all())})
    return row


def table(rows: list[dict], dev) -> str:
    head = ("| config | precision | steps | steps/s | samples/s | Frechet digits | test bits/dim | CPU agreement "
            "(max abs nats) |\n|---|---|---|---|---|---|---|---|")
    lines = [f"GPU check on {dev}", "", head]
    for r in rows:
        lines.append(f"| {r['config']} | {r['precision']} | {r['steps']} | {r['steps_per_s']:.1f} | "
                     f"{r['samples_per_s']:.1f} | {r['frechet_digits']:.3g} | {r['test_bpd']:.3f} | "
                     f"{'yes' if r['agree'] else 'NO'} ({r['agree_max_abs_nats']:.2g}) |")
    return "\n".join(lines)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--budget", type=float, default=60.0, help="training seconds per configuration and precision")
    p.add_argument("--device", default="cuda", help="cuda (default), cuda:N, or cpu for a smoke check of the script")
    p.add_argument("--configs", default=",".join(CONFIGS), help=f"comma-separated subset of {', '.join(CONFIGS)}")
    p.add_argument("--precisions", default="fp32,bf16")
    p.add_argument("--n-samples", type=int, default=1000)
    p.add_argument("--n-eval", type=int, default=1000, help="test digits scored on the device")
    p.add_argument("--n-agree", type=int, default=200, help="of them, scored on the CPU too (agreement check)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default=str(Path(__file__).parent / "results" / "gpu_check.json"))
    args = p.parse_args(argv)
    if str(args.device).startswith("cuda") and not torch.cuda.is_available():
        print("gpu_check: CUDA is not available on this machine (nothing to check)")
        return 0
    try:
        dev = resolve_device(args.device)
    except ConfigError as exc:
        print(f"gpu_check: {exc}", file=sys.stderr)
        return 2
    unknown = sorted(set(args.configs.split(",")) - set(CONFIGS))
    if unknown:
        print(f"gpu_check: unknown configs {unknown}; known: {', '.join(CONFIGS)}", file=sys.stderr)
        return 2
    ds = genlab.datasets.load("digits", seed=args.seed)
    rows = []
    for label in args.configs.split(","):
        for precision in args.precisions.split(","):
            rows.append(check(label, precision, ds, dev, args))
            r = rows[-1]
            print(f"{label} {precision}: {r['steps_per_s']:.1f} steps/s, {r['samples_per_s']:.1f} samples/s, "
                  f"{r['test_bpd']:.3f} bits/dim, CPU agreement {r['agree']} ({r['agree_max_abs_nats']:.2g} nats)",
                  flush=True)
    gpu = torch.cuda.get_device_name(dev) if dev.type == "cuda" else "cpu"
    write_results(Path(args.out).with_suffix(""), args, {"device": str(dev), "device_name": gpu,
                                                          "torch": torch.__version__, "rows": rows}, table(rows, gpu))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
