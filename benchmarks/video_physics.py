"""Do video diffusion models learn the law or the look? Velocity error of ball-video continuations (issue 28; after
Kang et al. 2024, "How Far is Video Generation from World Model: A Physical Law Perspective", arXiv 2411.02385).

    python benchmarks/video_physics.py --threads 2 --budget 1800 --out benchmarks/results/video_physics

For each ``--data`` set (``balls`` = uniform motion, ``balls_collision``, ``balls_parabola``; ``--frames`` frames of
``--size`` x ``--size``, default 16 of 32 x 32)
two models with the same ``video_dit`` backbone and the same share of ``--budget`` (wall seconds, split evenly over
sets and models) continue the first ``--given`` frames of ``--n`` test clips per split:

- ``replacement`` and ``repaint``: one ``edm`` trained on whole clips, conditioned at sampling time by imputation
  along time (the replacement method, or RePaint with 8 jumps; no retraining);
- ``trained``: ``edm_frames`` (genlab.families.edm_frames), trained with the given frames clean and marked.

Reported per set (genlab.metrics.physics): the velocity error (mean |v_gen - v_true| over the generated frames, world units
per unit time) in distribution and out of distribution (``ood_velocity``: speeds 0-0.8 and 4.5-6; ``ood_radius``:
radii 0.3-0.6 and 1.5-2), the ratio OOD / ID, the parser floor (the same pipeline on the true continuation), the
baselines (copy the last given frame; constant-velocity extrapolation of the parsed centres), and the memorisation
probe of Kang et al. at toy scale: on ``ood_velocity`` clips, the mean distance of the generated velocity to the
true one and to the velocity of the nearest training case (the training clip with the closest initial velocity).
``--models edm_frames`` trains only the trained-conditioning model (the whole budget per set to it).
``--options`` adds model options (JSON) to every model. ``--steps-cap`` caps training steps (for a quick check: ``--budget 60 --n 8 --n-train 64``).
"""

from __future__ import annotations

import argparse
import datetime
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

import genlab
from genlab.apps.video import continue_clips, physics_report
from genlab.data.balls import load_balls
from genlab.metrics import physics

BACKBONE = {"patch": 4, "hidden": 64, "depth": 2, "heads": 4}
MODELS = {  # the two trained models: name -> (config, the ways it continues clips: method -> solve's algorithm)
    "edm": ({"backbone": "video_dit", "backbone_options": BACKBONE, "normalize": False, "sigma_data": 0.25,
             "patience": 0, "noise_floor": 0.0}, {"replacement": "replacement", "repaint": "repaint"}),
    "edm_frames": ({"backbone_options": BACKBONE}, {"trained": None}),
}


def memorisation(model, ds, given: int, n: int, seed: int, steps, algorithm) -> dict:
    """Generated velocity vs the true one and the nearest training case's, on ood_velocity clips (one ball)."""
    scenario = ds.info["scenario"]
    ood = ds.info["ood_velocity"]
    made = continue_clips(model, ood["x"][:n], given, seed=seed, steps=steps, algorithm=algorithm)
    v_gen = physics.estimate_velocities(physics.parse_centres(made[:, given:], physics.BALLS[scenario]), scenario)
    v_true = ood["velocities"][:n, given:].numpy()
    train_v0 = ds.info["states_train"]["velocities"][:, 0].numpy()  # (N, B, 2) initial velocities of training clips
    v0 = ood["velocities"][:n, 0].numpy()
    nearest = np.linalg.norm(train_v0[None] - v0[:, None], axis=-1).sum(-1).argmin(1)
    v_near = ds.info["states_train"]["velocities"][nearest, given:].numpy()
    to_true = np.nanmean(np.linalg.norm(v_gen - v_true, axis=-1).reshape(n, -1), 1)
    to_near = np.nanmean(np.linalg.norm(v_gen - v_near, axis=-1).reshape(n, -1), 1)
    ok = np.isfinite(to_true) & np.isfinite(to_near)
    return {"to_true": float(to_true[ok].mean()) if ok.any() else None,
            "to_nearest_training": float(to_near[ok].mean()) if ok.any() else None,
            "closer_to_training": float((to_near[ok] < to_true[ok]).mean()) if ok.any() else None, "clips": int(ok.sum())}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", nargs="+", default=["balls", "balls_collision", "balls_parabola"])
    p.add_argument("--budget", type=float, default=1800.0, help="total training wall seconds")
    p.add_argument("--models", nargs="+", default=list(MODELS), choices=list(MODELS),
                   help="edm: imputation along time (replacement, repaint); edm_frames: trained frame conditioning")
    p.add_argument("--given", type=int, default=3)
    p.add_argument("--n", type=int, default=100, help="test clips per split")
    p.add_argument("--n-train", type=int, default=2000)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--size", type=int, default=32, help="frame size (16 is about 4x cheaper per step)")
    p.add_argument("--frames", type=int, default=16)
    p.add_argument("--sample-steps", type=int, default=None)
    p.add_argument("--steps-cap", type=int, default=100_000)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default="benchmarks/results/video_physics")
    p.add_argument("--options", type=json.loads, default={}, help="extra model options as JSON, e.g. "
                   "'{\"P_mean\": 0.0}' (every model)")
    a = p.parse_args(argv)
    torch.set_num_threads(a.threads)
    share = a.budget / (len(a.data) * len(a.models))
    result = {"command": "python " + " ".join(sys.argv), "date": datetime.date.today().isoformat(),
              "budget_s_per_model": share, "backbone": BACKBONE, "options": a.options, "size": a.size, "frames": a.frames, "sets": {}}
    for name in a.data:
        ds = load_balls(name, n_train=a.n_train, n_test=a.n, seed=a.seed, size=a.size, frames=a.frames)
        result["sets"][name] = {}
        for model_name in a.models:
            config, methods = MODELS[model_name]
            if model_name == "edm_frames":
                config = {**config, "given_frames": a.given}
            m = genlab.create(model_name, ds, batch_size=a.batch, **{**config, **a.options})
            t0 = time.perf_counter()
            m.fit(ds.train, time_budget=share, steps=a.steps_cap, seed=a.seed, progress=False)
            fit_s = time.perf_counter() - t0
            for method, algorithm in methods.items():
                report = physics_report(m, ds, given=a.given, seed=a.seed, steps=a.sample_steps, algorithm=algorithm)
                report.update(method=method, model=model_name, fit_s=fit_s, trained_steps=m.trained_steps,
                              memorisation=memorisation(m, ds, a.given, a.n, a.seed, a.sample_steps, algorithm))
                result["sets"][name][method] = report
                print(f"{name:16s} {method:11s} steps {m.trained_steps:5d}  id {report['velocity_error_id']:.4f}  "
                      f"ood {report['velocity_error_ood']:.4f}  floor {report['parser_floor']:.4f}  "
                      f"copy {report['copy_last']:.3f}  const-v {report['constant_velocity']:.4f}", flush=True)
    out = Path(a.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".json").write_text(json.dumps(result, indent=2, default=str) + "\n")
    lines = [f"# Video physics ({result['date']})", "", f"`{result['command']}`", "",
             "| set | method | steps | ID error | unparsed ID clips | OOD error | OOD/ID | parser floor | copy-last | "
             "const. velocity | memorised (closer to nearest training case) |", "|---|---|---|---|---|---|---|---|---|---|---|"]
    for name, methods in result["sets"].items():
        for method, r in methods.items():
            mem = r["memorisation"]["closer_to_training"]
            failed = r["per_scenario"][r["scenario"]]["id"]["model"]["failed"]
            lines.append(f"| {name} | {method} | {r['trained_steps']} | {r['velocity_error_id']:.4f} | {failed:.2f} | "
                         f"{r['velocity_error_ood']:.4f} | {r['ood_over_id']:.2f} | {r['parser_floor']:.4f} | "
                         f"{r['copy_last']:.3f} | {r['constant_velocity']:.4f} | "
                         f"{'-' if mem is None else f'{mem:.2f}'} |")
    out.with_suffix(".md").write_text("\n".join(lines) + "\n")
    print(f"wrote {out.with_suffix('.json')} and {out.with_suffix('.md')}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
