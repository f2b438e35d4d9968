"""Does a prompt-to-image model follow the words? Judge its samples for fresh captions of ``shapes`` (issue 27).

:func:`evaluate_captions` draws one sample for each of ``n`` fresh captions of *seen* colour-shape pairs and ``n``
of *held-out* pairs (:data:`genlab.data.shapes.HELD_OUT`, never in training), and scores them with the shipped judge
(:mod:`genlab.metrics.judge`): per-attribute and joint accuracy (:func:`genlab.metrics.attributes.
attribute_accuracy`; joint = all four attributes right, GenEval's overall score, Ghosh et al. 2023), their difference
(the compositional-generalisation gap, as in Okawa et al. 2023), and the Frechet distance (Heusel et al. 2017,
Eq. 6) between the seen-prompt samples and the ``shapes`` test split in the judge's 32 features.

Samples are drawn with classifier-free guidance w (Ho & Salimans 2022): by default :data:`DEFAULT_GUIDANCE` for a
model that takes guidance, else 0.
The prompts come from seed streams of their own (:func:`prompts`), so every model is judged on the same captions.

:func:`prompt_grid` draws a prompt x sample figure (one row per prompt, written at its left), for the bench report
(:func:`grid_prompts`: seen test captions, then held-out ones) and the benchmark's figure.
"""

from __future__ import annotations

import inspect
import time

import numpy as np
import torch

from genlab.checks import in_range, positive_int
from genlab.errors import ConfigError, DataError

__all__ = ["DEFAULT_GUIDANCE", "takes_guidance", "default_guidance", "prompts", "draw", "evaluate_captions",
           "grid_prompts", "prompt_grid"]

#: the guidance weight with the best joint accuracy on seen prompts of edm + DiT at 900 s over w = 0, 1, 2, 4, 8
#: (0.922 at 2; 0.908 at 1, 0.870 at 4; benchmarks/results/prompt_images_edm.json, docs/captions.md)
DEFAULT_GUIDANCE = 2.0
JUDGED_SHAPE = (3, 32, 32)


def takes_guidance(model) -> bool:
    """Whether ``model.sample`` accepts a classifier-free guidance weight (its family's ``_sample`` takes it)."""
    params = inspect.signature(model._sample).parameters
    return "guidance" in params or any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())


def default_guidance(model) -> float:
    """The guidance weight a captioned run is judged with when none is given (see the module docstring)."""
    return DEFAULT_GUIDANCE if takes_guidance(model) else 0.0


def prompts(n: int, heldout: bool, seed: int) -> tuple[list[str], torch.Tensor]:
    """``n`` fresh attribute rows (N, 4) of seen (or held-out) colour-shape pairs and a caption of each, from a seed
    stream the ``shapes`` loader does not use."""
    from genlab.data.shapes import caption, draw_attributes

    rng = np.random.default_rng(np.random.SeedSequence([seed, 27, 1 + bool(heldout)]))
    attrs = draw_attributes(n, rng, heldout=heldout)
    return [caption(a, rng) for a in attrs], torch.from_numpy(attrs)


def draw(model, captions: list[str], guidance: float, seed: int, batch: int = 256, **options) -> torch.Tensor:
    """One sample per caption, in batches of ``batch`` (batch i with seed ``seed + i``), clipped to [0, 1]."""
    kw = {"guidance": float(guidance)} if float(guidance) != 0.0 else {}
    out = [model.sample(len(c), y=c, seed=seed + i, **kw, **options)
           for i, c in enumerate(captions[j : j + batch] for j in range(0, len(captions), batch))]
    return torch.cat(out).clamp(0, 1)


def _check(model, guidance) -> float:
    if getattr(model, "label_encoder", None) is None:
        raise ConfigError(f"model '{model.name}' was not trained on captions: prompt following is judged on a run "
                          "trained on a captioned set (e.g. --data shapes)")
    if tuple(model.shape) != JUDGED_SHAPE:
        raise DataError(f"the shapes judge reads images of shape {JUDGED_SHAPE}; model '{model.name}' makes "
                        f"{tuple(model.shape)}")
    if guidance is None:
        return default_guidance(model)
    guidance = in_range("guidance", guidance, ge=0)
    if guidance != 0.0 and not takes_guidance(model):
        raise ConfigError(f"model '{model.name}' does not support classifier-free guidance")
    return float(guidance)


def evaluate_captions(model, *, n: int = 500, guidance: float | None = None, seed: int = 0, batch: int = 256,
                      **options) -> dict:
    """Judge ``n`` samples for seen and ``n`` for held-out prompts (module docstring); ``options`` go to
    ``model.sample`` (e.g. ``steps=``). Returns a JSON-ready dict: ``joint_accuracy_seen``,
    ``joint_accuracy_heldout``, ``gap`` (seen - held-out), ``frechet``, per-attribute ``seen`` / ``heldout``,
    ``guidance``, ``n`` and ``seconds_per_sample`` (of the seen-prompt samples)."""
    from genlab.metrics.attributes import attribute_accuracy
    from genlab.metrics.judge import frechet_shapes

    n = positive_int("n", n)
    if n < 2:
        raise ConfigError(f"n must be >= 2 (the Frechet distance needs two samples), got {n}")
    w = _check(model, guidance)
    seen, a_seen = prompts(n, False, seed)
    held, a_held = prompts(n, True, seed)
    t0 = time.perf_counter()
    xs = draw(model, seen, w, seed, batch, **options)
    per_sample = (time.perf_counter() - t0) / n
    xh = draw(model, held, w, seed + 500, batch, **options)
    acc_s, acc_h = attribute_accuracy(xs, a_seen), attribute_accuracy(xh, a_held)
    return {"joint_accuracy_seen": acc_s.joint, "joint_accuracy_heldout": acc_h.joint,
            "gap": acc_s.joint - acc_h.joint, "frechet": frechet_shapes(xs), "guidance": w, "n": n,
            "seconds_per_sample": per_sample, "seen": acc_s.per_attribute(), "heldout": acc_h.per_attribute()}


def grid_prompts(ds, k: int = 4) -> list[tuple[str, str]]:
    """(row label, caption) for a prompt x sample grid of a captioned data set: its first ``k`` distinct test
    captions, then the first ``k`` of its held-out split (``ds.info["heldout"]``, as ``shapes`` has), marked."""
    seen = list(dict.fromkeys(ds.labels_test or []))[:k]
    held = list(dict.fromkeys((ds.info.get("heldout") or {}).get("captions") or []))[:k]
    return [(c, c) for c in seen] + [(f"{c} (held-out)", c) for c in held]


def prompt_grid(model, rows: list[tuple[str, str]], path, *, cols: int = 6, guidance: float | None = None,
                seed: int = 0, title: str | None = None, shape=None, **image_range):
    """``cols`` samples of each (label, caption) in ``rows`` (row i with seed ``seed + i``) as one image grid with
    the labels at the left; ``guidance`` defaults to :func:`default_guidance`; ``shape`` (C, H, W) of an image
    (default: the model's), ``image_range`` (``vmin``, ``vmax``) of :func:`genlab.plots.image_grid`. Returns the
    PNG's path."""
    from genlab import plots

    w = default_guidance(model) if guidance is None else float(guidance)
    kw = {"guidance": w} if w != 0.0 else {}
    images = torch.cat([model.sample(cols, y=c, seed=seed + i, **kw) for i, (_, c) in enumerate(rows)])
    return plots.image_grid(images.reshape(len(images), *(shape or model.shape)).numpy(), path, nrow=cols,
                            row_labels=[r[0] for r in rows], **image_range,
                            title=title or f"{model.name}, guidance {w:g}")
