"""Figures on digits (shipped vp_sde weights): inpainting and colorization without retraining, classifier-free
guidance, and classifier guidance by Bayes' rule beside it.

Digit models are fitted to dequantized digits x + U[0, 1) on [0, 17)^64 (as in ``benchmarks/app_images.py``): they
take observed pixels at their cell centres x + 1/2 and their outputs are shifted back by -1/2 and clipped to [0, 16].
Samples are judged by a logistic regression trained on the clean digits training split (:func:`digit_judge`), and
their quality by the class-conditional sliced W1 to the test digits of the requested class.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from genlab import colorization as col
from genlab import data
from genlab.figures.weights import load_classifier, load_model, training_info
from genlab.metrics import sliced_wasserstein
from genlab.plots import image_grid

__all__ = ["inpainting_figure", "colorization_figure", "guidance_figure", "classifier_guidance_figure",
           "digit_judge", "guidance_sweep", "SAMPLER", "CFG_WEIGHTS", "CLASSIFIER_SCALES"]

SAMPLER = {"sampler": "pc", "steps": 100}  # the same sampler and steps for every guided sample
CFG_WEIGHTS = (0.0, 0.5, 1.0, 2.0, 4.0)
CLASSIFIER_SCALES = (0.0, 1.0, 2.0, 4.0, 8.0)


def _undeq(x: torch.Tensor) -> torch.Tensor:
    return (x - 0.5).clamp(0.0, 16.0)


def _flat(x) -> np.ndarray:
    return x.detach().reshape(len(x), -1).double().numpy()


def digit_judge(seed: int = 0):
    """scikit-learn LogisticRegression on the clean digits training split."""
    from sklearn.linear_model import LogisticRegression

    ds = data.load("digits", seed=seed)
    return LogisticRegression(max_iter=5000).fit(_flat(ds.train), ds.labels_train.numpy())


def inpainting_figure(out: Path, n: int = 200, seed: int = 0) -> dict:
    """Bottom half of each test digit missing, filled by the replacement method (Song et al. 2021, App. I.2) with a
    model trained without masks; judged by the clean-digit classifier."""
    ds, model, judge = data.load("digits", seed=seed), load_model("digits_uncond"), digit_judge(seed)
    x, y = ds.test[:n], ds.labels_test[:n].numpy()
    mask = torch.ones_like(x, dtype=torch.bool)
    mask[:, :, 4:, :] = False
    filled = _undeq(model.impute(x + 0.5, mask, seed=seed, fill="mean", n_samples=4, **SAMPLER))
    mean_fill = torch.where(mask, x, ds.train.mean(0, keepdim=True))
    miss = ~mask

    def acc(z):
        return float((judge.predict(_flat(z)) == y).mean())

    res = {"n": n, "accuracy_clean": acc(x), "accuracy_filled": acc(filled), "accuracy_mean_fill": acc(mean_fill),
           "rmse_missing_filled": float((filled - x)[miss].pow(2).mean().sqrt()),
           "rmse_missing_mean_fill": float((mean_fill - x)[miss].pow(2).mean().sqrt()),
           "sampler": SAMPLER, "training": training_info("digits_uncond")}
    idx = np.concatenate([np.flatnonzero(y == k)[:1] for k in range(10)])
    grid = torch.cat([torch.where(mask, x, torch.full_like(x, 8.0))[idx], filled[idx], x[idx]])
    image_grid(grid, out / "inpainting.png", nrow=10, vmin=0, vmax=16,
               title=f"masked / filled (acc. {res['accuracy_filled']:.2f}, clean {res['accuracy_clean']:.2f}) / true")
    return res


def colorization_figure(out: Path, n: int = 200, seed: int = 0) -> dict:
    """Gray color_digits coloured by imputing the two chroma coordinates of the decoupled basis (Song et al. 2021,
    App. I.4) with a model of decoupled colour images, trained without masks."""
    ds, model = data.load("color_digits", seed=seed), load_model("color_edm")
    x = ds.test[:n]
    gray = col.grayscale(x)
    opts = {"sampler": "euler_maruyama", "steps": 200}
    rgb = col.colorize(model, gray, seed=seed, fill="mean", n_samples=16, **opts)
    u_mean = col.to_decoupled(ds.train).mean(0, keepdim=True)
    base = col.from_decoupled(torch.cat([np.sqrt(3) * gray, u_mean[:, 1:].expand(n, -1, -1, -1)], 1))
    res = {"n": n, "rmse_colorized": col.colour_rmse(rgb, x), "rmse_mean_colour": col.colour_rmse(base, x),
           "rmse_gray": col.colour_rmse(gray.expand(-1, 3, -1, -1), x), "model": "edm", "sampler": opts, "n_samples": 16,
           "training": training_info("color_edm")}
    grid = torch.cat([gray[:10].expand(-1, 3, -1, -1), rgb[:10], x[:10]])
    image_grid(grid, out / "colorization.png", nrow=10, vmin=0, vmax=16,
               title=f"gray / colorized (RMSE {res['rmse_colorized']:.2f}; mean colour {res['rmse_mean_colour']:.2f}) / true")
    return res


def guidance_sweep(model, judge, test, test_labels, scales, *, classifier=None, per_class: int = 20,
                   seed: int = 0) -> tuple[list[dict], list[torch.Tensor]]:
    """Accuracy of the judge on the requested class and class-conditional SW1 to the test digits, per guidance
    scale (classifier-free weight w, or classifier scale g with ``classifier``); also the samples."""
    y = torch.arange(10).repeat_interleave(per_class)
    rows, samples = [], []
    for s in scales:
        kw = {"classifier": classifier, "classifier_scale": s} if classifier is not None else {"guidance": s}
        x = _undeq(model.sample(len(y), y=y, seed=seed, **kw, **SAMPLER))
        flat = _flat(x)
        sw = [sliced_wasserstein(flat[y.numpy() == k], _flat(test[test_labels == k]), seed=seed) for k in range(10)]
        rows.append({"scale": s, "accuracy": float((judge.predict(flat) == y.numpy()).mean()),
                     "class_sw1": float(np.mean(sw)), "n": len(y)})
        samples.append(x)
    return rows, samples


def _grid_rows(samples, scales, path, title, per_class: int = 20) -> None:
    shown = torch.cat([x.view(10, per_class, 1, 8, 8)[:, 0] for x in samples])
    image_grid(shown, path, nrow=10, vmin=0, vmax=16, title=title + f" {', '.join(map(str, scales))} (one row each)")


def guidance_figure(out: Path, seed: int = 0) -> dict:
    """Classifier-free guidance (Ho & Salimans 2022): s = (1 + w) s(x | y) - w s(x) with one label-dropout network;
    w = 0 is the plain conditional model."""
    ds, model, judge = data.load("digits", seed=seed), load_model("digits_vp"), digit_judge(seed)
    rows, samples = guidance_sweep(model, judge, ds.test, ds.labels_test, CFG_WEIGHTS, seed=seed)
    _grid_rows(samples, CFG_WEIGHTS, out / "guidance.png", "classes 0-9; classifier-free guidance w =")
    return {"guidance_w": rows, "sampler": SAMPLER, "training": training_info("digits_vp")}


def classifier_guidance_figure(out: Path, seed: int = 0) -> dict:
    """Classifier guidance by Bayes' rule (Song et al. 2021, Sec. 5): the score of an unconditional model plus
    g grad log p_C(y | x, sigma) of a noise-conditional classifier; beside classifier-free guidance of a conditional
    model of the same size, data and training steps, with the same sampler."""
    ds, judge = data.load("digits", seed=seed), digit_judge(seed)
    uncond, cond, clf = load_model("digits_uncond"), load_model("digits_vp"), load_classifier("digits_clf")
    rows, samples = guidance_sweep(uncond, judge, ds.test, ds.labels_test, CLASSIFIER_SCALES, classifier=clf,
                                   seed=seed)
    cfg, _ = guidance_sweep(cond, judge, ds.test, ds.labels_test, CFG_WEIGHTS, seed=seed)
    _grid_rows(samples, CLASSIFIER_SCALES, out / "classifier_guidance_samples.png",
               "classes 0-9; classifier guidance g =")
    from genlab.plots import _figure, _save

    fig = _figure(10, 4)
    for i, key in enumerate(("accuracy", "class_sw1")):
        ax = fig.add_subplot(1, 2, i + 1)
        ax.plot([r["scale"] for r in rows], [r[key] for r in rows], marker="o", label="classifier guidance (g)")
        ax.plot([r["scale"] for r in cfg], [r[key] for r in cfg], marker="s", label="classifier-free (w)")
        ax.set_xlabel("guidance scale")
        ax.set_ylabel({"accuracy": "judge accuracy on the target class",
                       "class_sw1": "class-conditional SW1 to test digits"}[key])
        ax.legend(fontsize=8)
    fig.tight_layout()
    _save(fig, out / "classifier_guidance.png")
    return {"classifier_g": rows, "guidance_w": cfg, "sampler": SAMPLER, "samples_figure": "classifier_guidance_samples.png",
            "training": {"unconditional": training_info("digits_uncond"), "classifier": training_info("digits_clf"),
                         "conditional": training_info("digits_vp")}}
