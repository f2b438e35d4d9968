"""From a prompt to an image on ``shapes`` (issue 27): train caption-conditioned models at one budget each -- diffusion
(edm or flow_matching with a DiT) and the autoregressive ``pixel_transformer`` (the caption's tokens as a prefix, one
token per pixel over ``--levels``^3 colours) -- then judge their samples for the same fresh captions of seen and of
held-out colour-shape pairs, side by side.

For each model and guidance weight (:func:`genlab.apps.captions.evaluate_captions`): per-attribute and joint accuracy
by the shapes judge on seen and held-out prompts, the Frechet distance in the judge's features to the test split and
seconds per sample; beside them diversity (mean pixel distance between samples of one prompt) and, for the
pixel_transformer, the judge's joint accuracy on true renders quantised to its levels (the ceiling its quantisation
leaves). A figure of prompt rows x sample columns per model (:func:`genlab.apps.captions.prompt_grid`). Results go
to ``<out>_<model>.json`` / ``.png`` per model and ``<out>.json`` / ``.md`` side by side (default ``<out>``:
``benchmarks/results/prompt_images``); the trained runs to ``--run``/<model> (for ``genlab sample RUN --prompt``).

    python benchmarks/prompt_images.py --model edm pixel_transformer --budget 900       # the issue's 15 min each
    python benchmarks/prompt_images.py --model flow_matching --budget 900
    python benchmarks/prompt_images.py --model edm pixel_transformer --steps 2 --n-train 200 --n-eval 4 \\
        --guidance 0 2 --out /tmp/prompt_smoke --run /tmp/prompt_runs                    # a smoke check
"""

from __future__ import annotations

import argparse
import datetime
import json
import time
from pathlib import Path

import numpy as np
import torch

import genlab
from genlab.apps.captions import evaluate_captions, prompt_grid, prompts
from genlab.data.shapes import render
from genlab.metrics.attributes import attribute_accuracy

ROOT = Path(__file__).resolve().parents[1]
DIT = {"patch": 4, "hidden": 96, "depth": 4, "heads": 4}
# pixel_transformer: 1024 image tokens + the caption per sequence, about 2 s a step of 16 on one loaded core
# (n_layer 4, n_embd 128, batch 32: about 25 s), so the family's default size; the prefix holds the longest shapes
# caption (67 characters) whatever the training set drew
AR = {"joint_channels": True, "n_layer": 2, "n_head": 4, "n_embd": 64, "dropout": 0.0, "prefix_length": 72}
# batch 32: more steps in the budget; edm trained and sampled at higher noise levels (P_mean 0.5 instead of -1.8,
# sampling from sigma 80 instead of 5): per-pixel standardised shapes reach 18 and stay visible far above sigma 5.
# With the pre-trained caption encoder: joint accuracy on seen prompts 0.59 at w = 2 after 300 s (probes of
# 2026-12-06, benchmarks/results/prompt_probes_2026-12-06.txt)
BATCH = {"edm": 32, "flow_matching": 32, "pixel_transformer": 16}
EXTRA = {"edm": {"P_mean": 0.5, "sample_sigma_max": 80.0}}


def options(name: str, args) -> dict:
    if name == "pixel_transformer":
        return {**AR, "quantize": args.levels, "patience": 0}
    opts = {"backbone": args.backbone, "patience": 0, **EXTRA.get(name, {})}
    return {**opts, "backbone_options": DIT} if args.backbone == "dit" else opts


def diversity(model, captions, guidance, seed, k=8) -> float:
    """Mean pixel L2 distance between k samples of each prompt, averaged over prompts."""
    kw = {"guidance": guidance} if guidance else {}
    d = [float(torch.pdist(model.sample(k, y=c, seed=seed + 1000 + i, **kw).clamp(0, 1).reshape(k, -1)).mean())
         for i, c in enumerate(captions)]
    return float(np.mean(d))


def quantised_ceiling(levels: int, n: int, seed: int) -> dict:
    """The judge's joint accuracy on true renders of the evaluation prompts quantised to ``levels`` per channel."""
    out = {}
    for split, heldout in (("seen", False), ("heldout", True)):
        _, attrs = prompts(n, heldout, seed)
        x = torch.from_numpy(np.stack([render(a) for a in attrs.numpy()]))
        out[split] = attribute_accuracy(torch.round(x * (levels - 1)) / (levels - 1), attrs).joint
    return out


def run_model(name: str, ds, args, stem: Path) -> dict:
    m = genlab.create(name, ds.shape, **options(name, args))
    t0 = time.perf_counter()
    m.fit(ds.train, ds.labels_train, steps=args.steps, time_budget=args.budget, batch_size=BATCH[name],
          seed=args.seed, progress=False)
    train_s = time.perf_counter() - t0
    run = (args.run or ROOT / "runs" / stem.name) / name
    m.save(run)
    seen, _ = prompts(args.n_eval, False, args.seed)
    curve = []
    for w in args.guidance:
        row = evaluate_captions(m, n=args.n_eval, guidance=w, seed=args.seed)
        row["diversity"] = diversity(m, seen[:8], w, args.seed, k=min(8, args.n_eval))
        curve.append(row)
        print(json.dumps({"model": name, **row}), flush=True)
    best = max(curve, key=lambda r: r["joint_accuracy_seen"])
    grid = [(c, c) for c in prompts(4, False, args.seed + 7)[0]]
    grid += [(f"{c} (held-out)", c) for c in prompts(4, True, args.seed + 7)[0]]
    figure = prompt_grid(m, grid, stem.parent / f"{stem.name}_{name}.png", cols=min(8, args.n_eval),
                         guidance=best["guidance"], seed=args.seed, vmin=0.0, vmax=1.0,
                         title=f"{name}, w = {best['guidance']:g}: 4 seen, 4 held-out prompts")
    report = {"model": name, "options": options(name, args), "batch_size": BATCH[name], "train_seconds": train_s,
              "trained_steps": m.trained_steps, "run": str(run), "best_guidance": best["guidance"], "curve": curve,
              "figure": figure.name, "figure_prompts": [c for _, c in grid],
              "caption_pretraining": getattr(m, "pretrain_record", None)}
    if name == "pixel_transformer":
        report["judge_on_quantised_renders"] = quantised_ceiling(args.levels, args.n_eval, args.seed)
    return report


def markdown(reports: list[dict], header: str) -> str:
    lines = [header, "", "| model | steps | train s | best w | joint seen | joint held-out | gap | Frechet | s/sample |"
             " joint seen, w = 0 |", "|" + "---|" * 10]
    for r in reports:
        b, zero = next(c for c in r["curve"] if c["guidance"] == r["best_guidance"]), r["curve"][0]
        lines.append(f"| {r['model']} | {r['trained_steps']} | {r['train_seconds']:.0f} | {b['guidance']:g} | "
                     f"{b['joint_accuracy_seen']:.3f} | {b['joint_accuracy_heldout']:.3f} | {b['gap']:+.3f} | "
                     f"{b['frechet']:.1f} | {b['seconds_per_sample']:.4f} | {zero['joint_accuracy_seen']:.3f} "
                     f"(w = {zero['guidance']:g}) |")
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", nargs="+", default=["edm"], choices=["edm", "flow_matching", "pixel_transformer"])
    ap.add_argument("--backbone", default="dit", choices=["dit", "mlp"], help="of the diffusion models")
    ap.add_argument("--levels", type=int, default=4, help="pixel_transformer: levels per channel (quantize=)")
    ap.add_argument("--budget", type=float, default=None, help="training seconds per model")
    ap.add_argument("--steps", type=int, default=None, help="training steps (with or instead of --budget)")
    ap.add_argument("--n-train", type=int, default=20000)
    ap.add_argument("--n-eval", type=int, default=500, help="prompts per split (seen, held-out)")
    ap.add_argument("--guidance", type=float, nargs="+", default=[0, 1, 2, 4, 8])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "prompt_images",
                    help="stem of the result files")
    ap.add_argument("--run", type=Path, default=None, help="folder for the trained runs (one per model)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    ds = genlab.datasets.load("shapes", n_train=args.n_train, seed=args.seed)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    reports = []
    for name in args.model:
        reports.append(run_model(name, ds, args, args.out))
        path = args.out.parent / f"{args.out.name}_{name}.json"
        path.write_text(json.dumps(reports[-1], indent=2) + "\n")
    flags = {k: " ".join(f"{g:g}" if isinstance(g, float) else str(g) for g in v) if isinstance(v, list) else v
             for k, v in vars(args).items()}
    command = "python benchmarks/prompt_images.py " + " ".join(
        f"--{k.replace('_', '-')} {v}" for k, v in flags.items() if v not in (None, ""))
    date = datetime.date.today().isoformat()
    summary = {"command": command, "date": date, "torch_threads": torch.get_num_threads(), "n_train": args.n_train,
               "n_eval": args.n_eval, "budget_s": args.budget, "steps": args.steps, "models": reports}
    args.out.with_suffix(".json").write_text(json.dumps(summary, indent=2) + "\n")
    table = markdown(reports, f"Prompt following on shapes, {date}: `{command}`")
    args.out.with_suffix(".md").write_text(table)
    print(table + f"wrote {args.out.with_suffix('.json')}, {args.out.with_suffix('.md')} and the per-model files")


if __name__ == "__main__":
    main()
