"""benchmarks/image_digits.py's inpainting score reads a dequantized model's fills on the data's own scale."""

from __future__ import annotations

import sys
import types
from pathlib import Path

import genlab

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import image_digits  # noqa: E402


def test_inpaint_centre_fills_are_unbiased_for_a_gaussian():
    """Known answer: a one-component Gaussian fitted (dequantize=True) to the training digits has mean fills whose
    average over the training digits equals the training mean exactly (least squares), so the mean signed error of
    the fills is 0 (here +0.0008 before the clamp to [0, 16], -0.005 after). Shifting the inputs by +1/2 a second
    time, as the script did, gave -0.79 levels."""
    ds = genlab.datasets.load("digits", seed=0)
    on_train = types.SimpleNamespace(test=ds.train, labels_test=ds.labels_train, train=ds.train, shape=ds.shape)
    m = genlab.create("gmm", ds.shape, n_components=1).fit(ds.train, dequantize=True, progress=False)
    row = image_digits.inpaint_centre(m, on_train, seed=0)
    assert abs(row["bias_missing"]) < 0.02, row
    assert row["accuracy_filled"] > row["accuracy_mean_fill"] + 0.2, row
