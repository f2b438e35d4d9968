"""The figures by name, and :func:`run`, which draws them into a folder as ``NAME.png`` + ``NAME.json``."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from genlab.figures import analytic, images, learned
from genlab.registry import Registry

__all__ = ["Figure", "FIGURES", "names", "run"]


@dataclass(frozen=True)
class Figure:
    """``fn(out_dir) -> numbers`` draws ``NAME.png`` into ``out_dir``; ``about`` is one line for listings."""

    name: str
    fn: Callable[[Path], dict]
    about: str


FIGURES: Registry[Figure] = Registry("figure")
for _figure in (
    Figure("score_field", learned.score_field_figure, "exact vs learned score; error by density decile"),
    Figure("langevin", analytic.langevin_figure, "plain vs annealed Langevin on a 0.2/0.8 mixture (exact score)"),
    Figure("perturbation", analytic.perturbation_figure, "mixture densities at several noise scales"),
    Figure("sde_paths", analytic.sde_paths_figure, "forward VP SDE paths from data to prior"),
    Figure("reverse_paths", analytic.reverse_paths_figure, "reverse SDE and probability-flow ODE (exact score)"),
    Figure("likelihood", analytic.likelihood_figure, "probability-flow ODE likelihood vs the exact one"),
    Figure("inpainting", images.inpainting_figure, "digits inpainting without retraining"),
    Figure("colorization", images.colorization_figure, "color_digits colorization without retraining"),
    Figure("guidance", images.guidance_figure, "classifier-free guidance sweep on digits"),
    Figure("score_matching", learned.score_matching_figure, "denoising vs sliced score matching"),
    Figure("classifier_guidance", images.classifier_guidance_figure, "classifier guidance beside classifier-free"),
):
    FIGURES.register(_figure.name, _figure)
FIGURES.seal()


def names() -> list[str]:
    return FIGURES.names()


def run(which: Iterable[str] | None = None, out_dir="figs", *, log: Callable[[str], None] | None = None) -> dict:
    """Draw the figures ``which`` (default: all) into ``out_dir``; returns name -> numbers (also in NAME.json)."""
    which = list(which) if which is not None else names()
    for name in which:
        FIGURES.get(name)  # an unknown name: one line naming the figures, before anything is drawn
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    results = {}
    for name in which:
        t0 = time.perf_counter()
        numbers = FIGURES[name].fn(out)
        numbers = {"figure": f"{name}.png", "about": FIGURES[name].about, **numbers,
                   "seconds": round(time.perf_counter() - t0, 1)}
        (out / f"{name}.json").write_text(json.dumps(numbers, indent=2, default=float) + "\n")
        results[name] = numbers
        if log is not None:
            log(f"{name}: {numbers['seconds']} s -> {out / (name + '.png')}")
    return results
