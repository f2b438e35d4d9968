"""Image applications: digit inpainting (bottom half missing), colorization of color_digits, and classifier-free
guidance of a class-conditional vp_sde, each judged by a scikit-learn classifier or an RMSE.

Digit models are fitted with ``dequantize=True``, i.e. to x + U[0, 1) on [0, 17)^64. ``impute`` of such a model
reads the observed pixels as integer levels (cell centres x + 1/2) and returns fills on the level scale; samples
are shifted back by -1/2. Fills and samples are clipped to the data range [0, 16] before they are classified.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from app_common import attempt, digit_judge, fit, md_table, score_ready, to_flat

import genlab
import genlab.plots

__all__ = ["inpainting", "colorization", "guidance"]

FIG = Path("docs/figures")


def _undeq(x: torch.Tensor) -> torch.Tensor:
    return (x - 0.5).clamp(0.0, 16.0)


# ---------------------------------------------------------------------------------------------- inpainting
def inpainting(args, log=print) -> dict:
    """Bottom half (rows 4-7) of every test digit missing; fill, then classify with the clean-digit classifier."""
    ds = genlab.datasets.load("digits", seed=args.seed)
    judge = digit_judge(args.seed)
    yte = ds.labels_test.numpy()
    mask = torch.ones_like(ds.test, dtype=torch.bool)
    mask[:, :, 4:, :] = False  # observed: rows 0-3 = flattened entries 0..31, a prefix (made is exact there)
    miss = ~to_flat(mask).astype(bool)
    truth = to_flat(ds.test)

    def judge_rows(filled: np.ndarray) -> dict:
        return {"accuracy": float((judge.predict(filled) == yte).mean()),
                "rmse": float(np.sqrt(((filled - truth)[miss] ** 2).mean()))}

    rows = [{"method": "clean digits (no mask)", **judge_rows(truth)}]
    clean = rows[0]["accuracy"]
    mean_fill = np.where(miss, to_flat(ds.train).mean(0, keepdims=True), truth)
    rows.append({"method": "mean fill (training pixel means)", **judge_rows(mean_fill)})
    b = args.budget
    specs = [("gmm", {"n_components": 10}, None), ("kde", {}, None), ("made", {}, b * 1.5), ("nsf", {}, b * 1.5),
             ("vp_sde", {}, b * 2)]
    fills = {}
    for name, cfg, budget in specs:
        label = name + (f"({cfg['n_components']})" if cfg else "")

        def run(name=name, cfg=cfg, budget=budget, label=label):
            model, fit_s = fit(name, ds.shape, ds.train, config=cfg, budget=budget, seed=args.seed, dequantize=True)
            filled = model.impute(ds.test, mask, seed=args.seed, fill="mean").clamp(0.0, 16.0)
            fills[label] = filled
            return {**judge_rows(to_flat(filled)), "fit_s": round(fit_s, 1)}

        rows.append({"method": f"genlab {label}", **attempt(f"inpaint {label}", run, log)})
    for r in rows:
        if "accuracy" in r:
            r["rel_clean"] = r["accuracy"] / clean
    gen = [r for r in rows if r["method"].startswith("genlab") and "accuracy" in r]
    best = max(gen, key=lambda r: r["accuracy"]) if gen else None
    if best is not None:
        label = best["method"].removeprefix("genlab ")
        idx = np.concatenate([np.flatnonzero(yte == k)[:1] for k in range(10)])
        masked = torch.where(mask, ds.test, torch.full_like(ds.test, 8.0))[idx]  # missing shown mid-gray
        grid = torch.cat([masked, fills[label][idx], ds.test[idx]])
        genlab.plots.image_grid(grid, FIG / "inpainting.png", nrow=10, vmin=0, vmax=16,
                                title=f"rows: masked (gray = missing) / filled by {label} / true")
    table = md_table(rows, [("method", "fill"), ("accuracy", "classifier accuracy"), ("rel_clean", "/ clean"),
                            ("rmse", "RMSE missing pixels (0..16)"), ("fit_s", "fit s")])
    return {"rows": rows, "table": table, "clean_accuracy": clean, "best": best and best["method"],
            "goal": ">= 0.90 x clean accuracy", "goal_met": bool(best and best["rel_clean"] >= 0.9)}


# ---------------------------------------------------------------------------------------------- colorization
def colorization(args, log=print) -> dict:
    """Colour the gray test images of color_digits with models of decoupled (gray, chroma, chroma) images."""
    from genlab import colorization as col

    ds = genlab.datasets.load("color_digits", seed=args.seed)
    u_train = col.to_decoupled(ds.train)
    gray = col.grayscale(ds.test)
    rows = []
    u_mean = u_train.mean(0, keepdim=True)  # baseline: the training mean chroma of every pixel
    u = torch.cat([np.sqrt(3) * gray, u_mean[:, 1:].expand(len(gray), -1, -1, -1)], 1)
    rows.append({"method": "mean colour (training mean chroma per pixel)",
                 "rmse": col.colour_rmse(col.from_decoupled(u), ds.test)})
    rows.append({"method": "gray (no colour: r = g = b)", "rmse": col.colour_rmse(gray.expand(-1, 3, -1, -1), ds.test)})
    b = args.budget
    # made: the gray plane u_0 is a prefix of the flattened (3, 8, 8) image, so its fill is exact ancestral
    # sampling; 8 draws per image (not 100) keep its 128 sequential passes affordable
    specs = [("gmm", {"n_components": 10}, None, {}), ("made", {}, b * 1.5, {"draws": 8}),
             ("vp_sde", {}, b * 2, {})]
    outs = {}
    for name, cfg, budget, opts in specs:
        label = name + (f"({cfg['n_components']})" if cfg else "")

        def run(name=name, cfg=cfg, budget=budget, label=label, opts=opts):
            model, fit_s = fit(name, ds.shape, u_train, config=cfg, budget=budget, seed=args.seed)
            rgb = col.colorize(model, gray, seed=args.seed, fill="mean", **opts)
            outs[label] = rgb
            return {"rmse": col.colour_rmse(rgb, ds.test), "fit_s": round(fit_s, 1)}

        rows.append({"method": f"genlab {label}", **attempt(f"colorize {label}", run, log)})
    gen = [r for r in rows if r["method"].startswith("genlab") and "rmse" in r]
    best = min(gen, key=lambda r: r["rmse"]) if gen else None
    if best is not None:
        label = best["method"].removeprefix("genlab ")
        idx = np.concatenate([np.flatnonzero(ds.labels_test.numpy() == k)[:1] for k in range(10)])
        grid = torch.cat([gray[idx].expand(-1, 3, -1, -1), outs[label][idx], ds.test[idx]])
        genlab.plots.image_grid(grid, FIG / "colorization.png", nrow=10, vmin=0, vmax=16,
                                title=f"rows: gray input / colorized by {label} / true")
    table = md_table(rows, [("method", "colorizer"), ("rmse", "colour RMSE (0..16)"), ("fit_s", "fit s")])
    base = rows[0]["rmse"]
    return {"rows": rows, "table": table, "best": best and best["method"],
            "goal": "below the mean-colour baseline", "goal_met": bool(best and best["rmse"] < base)}


# ---------------------------------------------------------------------------------------------- guidance
def guidance(args, log=print) -> dict:
    """Class-conditional vp_sde sampled with classifier-free guidance w; accuracy of the clean-digit classifier."""
    if not score_ready():
        log("  vp_sde is not registered or not conditional: guidance skipped")
        return {"skipped": "vp_sde not registered/conditional"}
    ds = genlab.datasets.load("digits", seed=args.seed)
    judge = digit_judge(args.seed)
    model, fit_s = fit("vp_sde", ds.shape, ds.train, y=ds.labels_train, budget=args.guidance_budget, seed=args.seed,
                       dequantize=True)
    log(f"  vp_sde conditional fit: {fit_s:.0f} s, {model.trained_steps} steps")
    n = args.per_class
    y = torch.arange(10).repeat_interleave(n)
    rows, shown = [], []
    for w in (0.0, 1.0, 3.0):
        x = _undeq(model.sample(len(y), y=y, seed=args.seed, guidance=w))
        pred = judge.predict(to_flat(x))
        rows.append({"guidance": w, "accuracy": float((pred == y.numpy()).mean()), "n": len(y)})
        log(f"  guidance {w}: accuracy {rows[-1]['accuracy']:.3f}")
        shown.append(x.view(10, n, *ds.shape)[:, :2].transpose(0, 1).reshape(-1, *ds.shape))
    fig = FIG / f"guidance{args.tag}.png"
    genlab.plots.image_grid(torch.cat(shown), fig, nrow=10, vmin=0, vmax=16,
                            title="classes 0-9; two rows each for guidance w = 0, 1, 3")
    table = md_table(rows, [("guidance", "guidance w"), ("accuracy", "classifier agrees with requested label"),
                            ("n", "samples")])
    acc = [r["accuracy"] for r in rows]
    return {"rows": rows, "table": table, "fit_s": fit_s, "steps": model.trained_steps,
            "goal": "accuracy rises with guidance", "goal_met": acc[0] < acc[1] < acc[2]}
