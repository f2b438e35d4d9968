"""From a prompt to an image on ``shapes`` (issue 27): train a caption-conditioned diffusion model (DiT by default),
then judge its samples for fresh captions of seen and of held-out colour-shape pairs.

For each guidance weight: per-attribute and joint accuracy by the shapes judge (:func:`genlab.metrics.attributes.
attribute_accuracy`) on seen and held-out prompts, the Frechet distance in the judge's features to the test split
(:func:`genlab.metrics.judge.frechet_shapes`), diversity (mean pixel distance between samples of one prompt) and seconds
per sample; a figure of prompt rows x sample columns. Results go to ``benchmarks/results/prompt_images_<model>.json``
(and ``.png``), the trained run to ``--run`` (for ``genlab sample RUN --prompt ...``).

    python benchmarks/prompt_images.py --model edm --budget 900                 # the issue's 15-minute budget
    python benchmarks/prompt_images.py --model flow_matching --budget 900
    python benchmarks/prompt_images.py --steps 5 --n-train 300 --n-eval 4 --guidance 0 2 --tag smoke --run /tmp/pr
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
from genlab.data.shapes import caption, draw_attributes
from genlab.metrics.attributes import attribute_accuracy
from genlab.metrics.judge import frechet_shapes

ROOT = Path(__file__).resolve().parents[1]
DIT = {"patch": 4, "hidden": 96, "depth": 4, "heads": 4}


def prompts(n: int, heldout: bool, seed: int):
    """``n`` fresh attribute rows and a caption of each (seed streams the loader does not use)."""
    rng = np.random.default_rng(np.random.SeedSequence([seed, 27, 1 + heldout]))
    attrs = draw_attributes(n, rng, heldout=heldout)
    return [caption(a, rng) for a in attrs], torch.from_numpy(attrs)


def draw(model, captions, guidance, seed, batch=256):
    out = [model.sample(len(c), y=c, guidance=guidance, seed=seed + i)
           for i, c in enumerate(captions[j : j + batch] for j in range(0, len(captions), batch))]
    return torch.cat(out).clamp(0, 1)


def diversity(model, captions, guidance, seed, k=8) -> float:
    """Mean pixel L2 distance between k samples of each prompt, averaged over prompts."""
    d = []
    for i, c in enumerate(captions):
        x = model.sample(k, y=c, guidance=guidance, seed=seed + 1000 + i).clamp(0, 1).reshape(k, -1)
        d.append(float(torch.pdist(x).mean()))
    return float(np.mean(d))


def figure(model, guidance, seed, path, cols=8) -> list[str]:
    """Prompt rows x sample columns: 4 seen, then 4 held-out prompts (returned, for the report)."""
    from genlab import plots

    seen, _ = prompts(4, False, seed + 7)
    held, _ = prompts(4, True, seed + 7)
    rows = [model.sample(cols, y=c, guidance=guidance, seed=seed + i).clamp(0, 1) for i, c in enumerate(seen + held)]
    plots.image_grid(torch.cat(rows).numpy(), path, nrow=cols, title=f"w = {guidance:g}: 4 seen, 4 held-out prompts")
    return seen + held


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="edm", choices=["edm", "flow_matching"])
    ap.add_argument("--backbone", default="dit", choices=["dit", "mlp"])
    ap.add_argument("--budget", type=float, default=None, help="training seconds")
    ap.add_argument("--steps", type=int, default=None, help="training steps (with or instead of --budget)")
    ap.add_argument("--n-train", type=int, default=20000)
    ap.add_argument("--n-eval", type=int, default=500, help="prompts per split (seen, held-out)")
    ap.add_argument("--guidance", type=float, nargs="+", default=[0, 1, 2, 4, 8])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--tag", default="")
    ap.add_argument("--run", type=Path, default=None, help="where to save the trained model")
    args = ap.parse_args()
    torch.set_num_threads(2)
    name = f"prompt_images_{args.model}" + (f"_{args.tag}" if args.tag else "")
    ds = genlab.datasets.load("shapes", n_train=args.n_train, seed=args.seed)
    opts = {"backbone": args.backbone, "patience": 0}
    if args.backbone == "dit":
        opts["backbone_options"] = DIT
    m = genlab.create(args.model, ds.shape, **opts)
    t0 = time.perf_counter()
    m.fit(ds.train, ds.labels_train, steps=args.steps, time_budget=args.budget, batch_size=128, seed=args.seed,
          progress=False)
    train_s = time.perf_counter() - t0
    run = args.run or ROOT / "runs" / name
    m.save(run)
    seen, a_seen = prompts(args.n_eval, False, args.seed)
    held, a_held = prompts(args.n_eval, True, args.seed)
    curve = []
    for w in args.guidance:
        t1 = time.perf_counter()
        xs = draw(m, seen, w, args.seed)
        per_sample = (time.perf_counter() - t1) / len(seen)
        xh = draw(m, held, w, args.seed + 500)
        acc_s, acc_h = attribute_accuracy(xs, a_seen), attribute_accuracy(xh, a_held)
        curve.append({"guidance": w, "joint_accuracy_seen": acc_s.joint, "joint_accuracy_heldout": acc_h.joint,
                      "seen": acc_s.to_dict(), "heldout": acc_h.to_dict(), "frechet": frechet_shapes(xs),
                      "diversity": diversity(m, seen[:8], w, args.seed, k=min(8, args.n_eval)), "seconds_per_sample": per_sample})
        print(json.dumps(curve[-1]))
    best = max(curve, key=lambda r: r["joint_accuracy_seen"])
    flags = {k: " ".join(f"{g:g}" for g in v) if isinstance(v, list) else v for k, v in vars(args).items()}
    report = {"command": "python benchmarks/prompt_images.py " + " ".join(
                  f"--{k.replace('_', '-')} {v}" for k, v in flags.items() if v not in (None, "")),
              "date": datetime.date.today().isoformat(), "model": args.model, "backbone": args.backbone,
              "backbone_options": opts.get("backbone_options"), "train_seconds": train_s,
              "trained_steps": m.trained_steps, "torch_threads": torch.get_num_threads(), "run": str(run),
              "best_guidance": best["guidance"], "curve": curve}
    out = ROOT / "benchmarks" / "results" / f"{name}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    report["figure_prompts"] = figure(m, best["guidance"], args.seed, out.with_suffix(".png"), cols=min(8, args.n_eval))
    out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {out} and {out.with_suffix('.png')}")


if __name__ == "__main__":
    main()
