"""``color_digits``: scikit-learn's 8x8 digits, each tinted with a colour, as (3, 8, 8) RGB images.

Image i with gray digit d_i (values 0..16) becomes x_i,c = d_i * rgb_i,c, so every channel lies in [0, 16].
The colour depends on the class (so that a grayscale image says something about its colour, which makes
colorization learnable) plus per-image randomness:

    hue_i = y_i / 10 + N(0, 0.03^2) (mod 1),   saturation_i ~ U[0.5, 1],   value_i ~ U[0.7, 1],

converted with the standard HSV -> RGB map. The colours are drawn once with a fixed seed, so ``color_digits`` is
one fixed data set; ``seed`` chooses the train/test split, which is the same as that of ``digits`` (70/30,
stratified). Labels are the digit classes; values are continuous (``discrete_levels=None``).
"""

from __future__ import annotations

import numpy as np

from genlab.data.dataset import Dataset
from genlab.data.sklearn_sets import labelled_split
from genlab.data.split import rng_for

__all__ = ["load_color_digits", "hsv_to_rgb", "digit_colours"]

_COLOUR_SEED = 20210101  # fixed: the colouring is part of the data set, not of the split


def hsv_to_rgb(h: np.ndarray, s: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Vectorised HSV -> RGB, all in [0, 1]: rgb_n = v - v s clip(min(k, 4 - k), 0, 1), k = (n + 6h) mod 6, n = 5, 3, 1."""
    n = np.array([5.0, 3.0, 1.0])
    k = (n[None, :] + 6.0 * h[:, None]) % 6.0
    return v[:, None] - v[:, None] * s[:, None] * np.clip(np.minimum(k, 4.0 - k), 0.0, 1.0)


def digit_colours(labels: np.ndarray) -> np.ndarray:
    """The RGB tint (N, 3) of every image, given its class (see the module docstring)."""
    rng = rng_for(_COLOUR_SEED, 0)
    n = len(labels)
    hue = (labels / 10.0 + 0.03 * rng.standard_normal(n)) % 1.0
    sat = rng.uniform(0.5, 1.0, n)
    val = rng.uniform(0.7, 1.0, n)
    return hsv_to_rgb(hue, sat, val)


def load_color_digits(name: str = "color_digits", *, n_train: int | None = None, n_test: int | None = None,
                      seed: int = 0) -> Dataset:
    """Load ``color_digits`` (see the module docstring); splits as for ``digits``."""
    from sklearn.datasets import load_digits

    bunch = load_digits()
    gray = np.asarray(bunch.data, dtype=np.float64).reshape(-1, 1, 8, 8)
    y = np.asarray(bunch.target, dtype=np.int64)
    x = (gray * digit_colours(y)[:, :, None, None]).astype(np.float32)
    return labelled_split(name, x, y, seed, n_train=n_train, n_test=n_test, levels=None)
