"""Image inverse problems on digits with one unconditional diffusion model and no retraining (issue 13).

An ``edm`` with the ``unet`` backbone is fitted to the digits training split (shape (1, 8, 8), ``dequantize=True``)
for ``--budget`` seconds, or loaded from a run directory (``--run``). On the test split it restores, through
:func:`genlab.inverse.solve` (the replacement method with orthonormal operators), three linear observations:

- centre 4x4 box inpainting (``Inpaint(box_mask((1, 8, 8), (2, 2, 4, 4)))``),
- 50 % random-pixel inpainting (one seeded mask for the whole split),
- 2x super-resolution (``SuperResolve(2)``: the 4x4 image of 2x2 block means).

Two methods: the replacement method with ``--sampler`` (default ddim, eta = 1, 50 steps) and RePaint (resampling,
``--repaint-steps`` levels x ``--jumps``, default 16 x 8 = 128 network calls). Each restoration is the mean of
``--n-samples`` posterior draws, clipped to [0, 16]. Reported: the accuracy of
:func:`genlab.metrics.classify_digits` on the restored images against its accuracy on the clean digits (the issue's
bar: centre 4x4 inpainting keeps >= 90 % of the clean accuracy), and the RMSE on the unobserved part,
||(I - A^T A)(x_hat - x)|| / sqrt(D - r) per image (the observed part A x is kept exactly), for the model and a
trivial baseline: the training pixel means in the hole (inpainting) or nearest-neighbour upsampling of the block
means (super-resolution). Writes benchmarks/results/inverse_digits.json and .md.

    python benchmarks/inverse_digits.py --budget 600 --threads 2 --save runs/inverse_edm    # the full run
    python benchmarks/inverse_digits.py --run runs/inverse_edm --threads 2                 # again, no training
    python benchmarks/inverse_digits.py --run src/genlab/figures/weights/digits_uncond        # the shipped vp_sde
    python benchmarks/inverse_digits.py --budget 2 --n-test 16 --n-samples 1 --steps 4 --repaint-steps 2 --jumps 1 \
        --out /tmp/inv   # a check of the script
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch
from common import write_results

import genlab
from genlab.inverse import Inpaint, SuperResolve, box_mask, random_pixel_mask, solve
from genlab.metrics import classify_digits

RESULTS = Path(__file__).resolve().parent / "results"
BAR = 0.90  # centre 4x4 inpainting keeps at least this share of the clean accuracy


def tasks(shape, seed: int) -> list[tuple[str, object]]:
    g = torch.Generator().manual_seed(seed)
    return [("centre 4x4 box", Inpaint(box_mask(shape, (2, 2, 4, 4)))),
            ("50% random pixels", Inpaint(random_pixel_mask(shape, 0.5, generator=g))),
            ("2x super-resolution", SuperResolve(2))]


def baseline(op, y: torch.Tensor, train_mean: torch.Tensor) -> torch.Tensor:
    """Training pixel means in the hole (inpainting); nearest-neighbour upsampling of the block means (SR)."""
    if isinstance(op, Inpaint):
        out = train_mean.expand(len(y), *train_mean.shape[1:]).clone()
        out[:, op.mask] = y
        return out
    f = op.factor
    return (y / f).repeat_interleave(f, -2).repeat_interleave(f, -1)  # y / f is the block mean


def unobserved_rmse(op, x_hat: torch.Tensor, x: torch.Tensor) -> float:
    """RMSE of (I - A^T A)(x_hat - x) per unobserved dimension."""
    e = x_hat - x
    free = e - op.lift(op.observe(e))
    dim_free = x[0].numel() - op.observe(x[:1]).numel()
    return float(free.pow(2).sum() / (len(x) * dim_free)) ** 0.5


def model_for(args, ds):
    if args.run is not None:
        return genlab.load(args.run), {"run": str(args.run)}
    m = genlab.create("edm", ds.shape, backbone="unet", batch_size=args.batch_size)
    t0 = time.perf_counter()
    m.fit(ds.train, time_budget=args.budget, seed=args.seed, progress=False, dequantize=True)
    info = {"fit_s": round(time.perf_counter() - t0, 1), "steps": m.trained_steps, "budget_s": args.budget,
            "batch_size": args.batch_size}
    if args.save is not None:
        m.save(args.save)
        info["saved"] = str(args.save)
    return m, info


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--budget", type=float, default=600.0, help="training seconds (ignored with --run)")
    p.add_argument("--run", default=None, help="a saved digits model (1, 8, 8) to use instead of training")
    p.add_argument("--batch-size", type=int, default=128, help="training batch (128: the image_digits.py choice)")
    p.add_argument("--save", default=None, help="save the trained model here")
    p.add_argument("--n-test", type=int, default=0, help="first N test digits (0 = all)")
    p.add_argument("--n-samples", type=int, default=8, help="posterior draws averaged per image")
    p.add_argument("--sampler", default="ddim")
    p.add_argument("--steps", type=int, default=50)
    p.add_argument("--eta", type=float, default=1.0, help="ddim's eta (1 = ancestral sampling)")
    p.add_argument("--algorithms", type=lambda v: v.split(","), default=["replacement", "repaint"])
    p.add_argument("--repaint-steps", type=int, default=16, help="RePaint's grid levels")
    p.add_argument("--jumps", type=int, default=8, help="RePaint's repetitions per level")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--out", default=str(RESULTS / "inverse_digits"), help="results stem (.json and .md)")
    a = p.parse_args(argv)
    torch.set_num_threads(a.threads)
    ds = genlab.datasets.load("digits", seed=a.seed)
    model, training = model_for(a, ds)
    x = ds.test[: a.n_test] if a.n_test else ds.test
    labels = ds.labels_test[: len(x)]
    train_mean = ds.train.mean(0, keepdim=True)
    clean = float((classify_digits(x) == labels).float().mean())
    methods = {"replacement": {"algorithm": "replacement", "sampler": a.sampler, "steps": a.steps,
                               **({"eta": a.eta} if a.sampler == "ddim" else {})},
               "repaint": {"algorithm": "repaint", "steps": a.repaint_steps, "jumps": a.jumps}}
    unknown = sorted(set(a.algorithms) - set(methods))
    if unknown:
        raise SystemExit(f"unknown algorithm(s) {', '.join(unknown)}; choose from {', '.join(methods)}")
    rows = []
    for label, op in tasks(ds.shape, a.seed):
        y = op.observe(x)
        base = baseline(op, y, train_mean).clamp(0.0, 16.0)
        base_cols = {"baseline_accuracy": float((classify_digits(base) == labels).float().mean()),
                     "baseline_rmse_unobserved": unobserved_rmse(op, base, x)}
        for algorithm in a.algorithms:
            t0 = time.perf_counter()
            restored = solve(model, y, op, n_samples=a.n_samples, seed=a.seed, **methods[algorithm]).clamp(0.0, 16.0)
            secs = time.perf_counter() - t0
            acc = float((classify_digits(restored) == labels).float().mean())
            rows.append({"task": label, "operator": op.name, "algorithm": algorithm, "accuracy": acc,
                         "relative_accuracy": acc / clean, "rmse_unobserved": unobserved_rmse(op, restored, x),
                         **base_cols, "solve_s": round(secs, 1), "nfe_per_draw": model.last_nfe})
            print(rows[-1])
    box = max(r["relative_accuracy"] for r in rows if r["task"] == "centre 4x4 box")
    backbone = getattr(model.config, "backbone", "")
    lines = [f"clean accuracy {clean:.3f} on {len(x)} test digits; {model.name} ({backbone}), {a.n_samples} draws "
             f"averaged; replacement: {a.sampler} {a.steps} steps; repaint: {a.repaint_steps} levels x {a.jumps} jumps",
             "", "| task | method | accuracy | share of clean | RMSE unobserved | baseline accuracy | baseline RMSE |",
             "|---|---|---|---|---|---|---|"]
    lines += [f"| {r['task']} | {r['algorithm']} | {r['accuracy']:.3f} | {r['relative_accuracy']:.2f} | "
              f"{r['rmse_unobserved']:.2f} | {r['baseline_accuracy']:.3f} | {r['baseline_rmse_unobserved']:.2f} |"
              for r in rows]
    lines += ["", f"issue bar (centre 4x4 keeps >= {BAR:.0%} of the clean accuracy): "
                  f"{'met' if box >= BAR else 'not met'} (best method: {box:.2f})"]
    payload = {"model": model.name, "backbone": backbone, "training": training, "n_test": len(x),
               "clean_accuracy": clean, "methods": {k: methods[k] for k in a.algorithms}, "n_samples": a.n_samples,
               "rows": rows, "bar": BAR, "bar_met": box >= BAR}
    write_results(a.out, a, payload, "\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
