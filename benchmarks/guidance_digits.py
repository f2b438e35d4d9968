"""Classifier guidance vs classifier-free guidance on digits, at the same training budget and the same sampler.

- CFG: a class-conditional vp_sde (label dropout 0.1) trained for --budget seconds, sampled with
  s = (1 + w) s(x | y) - w s(x) for w in --weights.
- Classifier guidance: an unconditional vp_sde trained for --budget seconds plus a noise-conditional classifier
  (genlab.apps.NoisyClassifier) trained for --clf-steps steps on the same perturbation kernel, sampled with
  s = s(x) + g grad log p_C(y | x, sigma) for g in --scales (g = 1 is Bayes' rule).

Both: 20 samples per class with the figures' sampler (pc, 100 steps), judged by a logistic regression trained on
the clean digits training split (accuracy on the requested class) and by the class-conditional sliced W1 to the
test digits of that class (quality). Writes benchmarks/results/guidance_digits.json and .md.

    python benchmarks/guidance_digits.py --budget 60 --threads 2        # the full run (about 4 minutes)
    python benchmarks/guidance_digits.py --budget 2 --clf-steps 20 --out /tmp/gd   # a quick check of the script
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

import genlab
from genlab.apps import NoisyClassifier
from genlab.figures.images import SAMPLER, digit_judge, guidance_sweep

RESULTS = Path(__file__).resolve().parent / "results"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--budget", type=float, default=60.0, help="training seconds of each diffusion model")
    p.add_argument("--clf-steps", type=int, default=2000)
    p.add_argument("--weights", default="0,0.5,1,2,4", help="classifier-free weights w")
    p.add_argument("--scales", default="0,1,2,4,8", help="classifier scales g")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--out", type=Path, default=RESULTS)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    ds, judge = genlab.datasets.load("digits", seed=a.seed), digit_judge(a.seed)
    fits = {}
    models = {}
    for key, labels in (("conditional", ds.labels_train), ("unconditional", None)):
        m = genlab.create("vp_sde", ds.shape)
        t0 = time.perf_counter()
        m.fit(ds.train, labels, time_budget=a.budget, seed=a.seed, progress=False, dequantize=True)
        models[key], fits[key] = m, {"fit_s": round(time.perf_counter() - t0, 1), "steps": m.trained_steps}
        print(f"{key}: {fits[key]}")
    t0 = time.perf_counter()
    clf = NoisyClassifier.fit(models["unconditional"], ds.train, ds.labels_train, steps=a.clf_steps, dequantize=True,
                              seed=a.seed)
    fits["classifier"] = {"fit_s": round(time.perf_counter() - t0, 1), "steps": a.clf_steps}
    print(f"classifier: {fits['classifier']}")
    w = [float(v) for v in a.weights.split(",")]
    g = [float(v) for v in a.scales.split(",")]
    cfg, _ = guidance_sweep(models["conditional"], judge, ds.test, ds.labels_test, w, seed=a.seed)
    cg, _ = guidance_sweep(models["unconditional"], judge, ds.test, ds.labels_test, g, classifier=clf, seed=a.seed)
    res = {"budget_s": a.budget, "threads": a.threads, "seed": a.seed, "sampler": SAMPLER, "fits": fits,
           "classifier_free": cfg, "classifier_guidance": cg,
           "accuracy_rises_with_g": all(x["accuracy"] <= y["accuracy"] for x, y in zip(cg, cg[1:], strict=False)),
           "date": time.strftime("%Y-%m-%d"),
           "command": f"python benchmarks/guidance_digits.py --budget {a.budget:g} --threads {a.threads}"}
    a.out.mkdir(parents=True, exist_ok=True)
    (a.out / "guidance_digits.json").write_text(json.dumps(res, indent=2) + "\n")
    lines = ["| guidance | scale | target-class accuracy | class-conditional SW1 |", "|---|---|---|---|"]
    lines += [f"| classifier-free w | {r['scale']:g} | {r['accuracy']:.3f} | {r['class_sw1']:.3f} |" for r in cfg]
    lines += [f"| classifier g | {r['scale']:g} | {r['accuracy']:.3f} | {r['class_sw1']:.3f} |" for r in cg]
    (a.out / "guidance_digits.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
