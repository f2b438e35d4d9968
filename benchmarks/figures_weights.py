"""Train the small models that ``genlab figures`` ships, so that the command itself stays fast.

Writes ``src/genlab/figures/weights/NAME/`` (a genlab checkpoint: model.safetensors + config.json, or a noisy
classifier: classifier.safetensors + classifier.json) and ``NAME/training.json`` (steps, seconds, data) for:

- ``ncsn_dsm``, ``ncsn_ssm``: ncsn on 4,000 draws of the 8-mode mixture :data:`genlab.figures.EIGHT_MODES`, trained
  by denoising and by sliced score matching (same steps and network);
- ``digits_vp``: class-conditional vp_sde on the digits training split (dequantized; classifier-free guidance);
- ``digits_clf``: a noise-conditional classifier on the same data and noise process (classifier guidance);
- ``digits_uncond``: unconditional vp_sde on the same data, same steps (inpainting, classifier guidance);
- ``color_edm``: edm on decoupled color_digits (colorization; a vp_sde trained the same way samples diverge on
  this set: values of +-2000 with every sampler, see the report of issue 15).

    python benchmarks/figures_weights.py                 # all, about 3 minutes on 2 cores
    python benchmarks/figures_weights.py --only ncsn_dsm --scale 0.05   # a quick check of the script
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

import genlab
from genlab import colorization as col
from genlab.apps import NoisyClassifier
from genlab.figures.mixture import EIGHT_MODES

OUT = Path(__file__).resolve().parents[1] / "src" / "genlab" / "figures" / "weights"
SMALL = {"hidden": 64, "depth": 2}


def _save(model, name: str, info: dict, out: Path) -> None:
    if hasattr(model, "raw_weights"):
        model.raw_weights = {}  # ship only the averaged weights
    model.save(out / name)
    (out / name / "training.json").write_text(json.dumps(info, indent=2) + "\n")


def _fit(name, shape, x, y=None, *, steps, seed, dequantize=False, **config):
    m = genlab.create(name, shape, **config)
    t0 = time.perf_counter()
    m.fit(x, y, steps=steps, seed=seed, progress=False, dequantize=dequantize)
    return m, {"model": name, "config": config, "steps": steps, "seconds": round(time.perf_counter() - t0, 1),
               "seed": seed}


def ncsn(objective: str, scale: float, out: Path, seed: int) -> None:
    x, _ = EIGHT_MODES.sample(4000, torch.Generator().manual_seed(seed))
    m, info = _fit("ncsn", (2,), x, steps=max(1, int(3000 * scale)), seed=seed, objective=objective, **SMALL)
    _save(m, f"ncsn_{objective}", {**info, "data": "4000 draws of genlab.figures.EIGHT_MODES"}, out)


def digits(scale: float, out: Path, seed: int) -> None:
    ds = genlab.datasets.load("digits", seed=seed)
    m, info = _fit("vp_sde", ds.shape, ds.train, ds.labels_train, steps=max(1, int(4000 * scale)), seed=seed,
                   dequantize=True)
    _save(m, "digits_vp", {**info, "data": "digits train split, dequantized"}, out)
    t0 = time.perf_counter()
    steps = max(1, int(2000 * scale))
    clf = NoisyClassifier.fit(m, ds.train, ds.labels_train, steps=steps, dequantize=True, seed=seed)
    clf.save(out / "digits_clf")
    (out / "digits_clf" / "training.json").write_text(json.dumps(
        {"model": "NoisyClassifier of digits_vp", "steps": steps, "seconds": round(time.perf_counter() - t0, 1),
         "seed": seed}, indent=2) + "\n")


def digits_uncond(scale: float, out: Path, seed: int) -> None:
    ds = genlab.datasets.load("digits", seed=seed)
    m, info = _fit("vp_sde", ds.shape, ds.train, steps=max(1, int(4000 * scale)), seed=seed, dequantize=True)
    _save(m, "digits_uncond", {**info, "data": "digits train split, dequantized, no labels"}, out)


def color(scale: float, out: Path, seed: int) -> None:
    ds = genlab.datasets.load("color_digits", seed=seed)
    m, info = _fit("edm", ds.shape, col.to_decoupled(ds.train), steps=max(1, int(3000 * scale)), seed=seed)
    _save(m, "color_edm", {**info, "data": "color_digits train split, decoupled (gray, chroma, chroma)"}, out)


JOBS = {"ncsn_dsm": lambda s, o, seed: ncsn("dsm", s, o, seed), "ncsn_ssm": lambda s, o, seed: ncsn("ssm", s, o, seed),
        "digits": digits, "digits_uncond": digits_uncond, "color": color}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--only", default=",".join(JOBS), help=f"comma-separated subset of {', '.join(JOBS)}")
    p.add_argument("--scale", type=float, default=1.0, help="multiply every step count (0.05 for a quick check)")
    p.add_argument("--out", type=Path, default=OUT)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=2)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    for job in a.only.split(","):
        t0 = time.perf_counter()
        JOBS[job](a.scale, a.out, a.seed)
        print(f"{job}: {time.perf_counter() - t0:.1f} s -> {a.out}")


if __name__ == "__main__":
    main()
