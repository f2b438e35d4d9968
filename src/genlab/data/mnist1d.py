"""MNIST-1D made procedurally (Greydanus 2020, "Scaling down deep learning"; arXiv:2011.14439, Sec. 2 and Fig. 1).

Ten hand-made 12-point templates, one per digit, are each turned into 40-point signals by the paper's chain of
random transforms (its default settings): pad with 36..60 zeros, stretch to 72 points, scale by 1 + 0.4 (u - 1/2),
translate (circular shift by 0..47), fill the padding with correlated noise (N(0, 0.25^2) smoothed by a Gaussian of
width 2), add i.i.d. N(0, 0.02^2) noise, shear (subtract c * linspace(-1/2, 1/2), c = 0.75 (u - 1/2)), resample to
40 points; finally the whole set is standardised (global mean 0, std 1). 5000 signals, 500 per class.

This is genlab's own implementation of that construction, with its own random stream (``numpy`` generator seeded by
:data:`SEED`), so the signals are of the same kind as the published ``mnist1d_data.pkl`` but not the same numbers.
The template values are those of the paper's reference code.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from scipy.ndimage import gaussian_filter1d

from genlab.data.dataset import Dataset

__all__ = ["SEED", "TEMPLATES", "make_mnist1d", "load_mnist1d"]

SEED = 20201130  # fixed: the signals are part of the data set, not of the split
#: 12-point templates of the digits 0..9 (before whitening)
TEMPLATES = np.array([
    [5, 6, 6.5, 6.75, 7, 7, 7, 7, 6.75, 6.5, 6, 5],
    [5, 3, 3, 3.4, 3.8, 4.2, 4.6, 5, 5.4, 5.8, 5, 5],
    [5, 6, 6.5, 6.5, 6, 5.25, 4.75, 4, 3.5, 3.5, 4, 5],
    [5, 6, 6.5, 6.5, 6, 5, 5, 6, 6.5, 6.5, 6, 5],
    [5, 4.4, 3.8, 3.2, 2.6, 2.6, 5, 5, 5, 5, 5, 5],
    [5, 3, 3, 3, 3, 5, 6, 6.5, 6.5, 6, 4.5, 5],
    [5, 4, 3.5, 3.25, 3, 3, 3, 3, 3.25, 3.5, 4, 5],
    [5, 7, 7, 6.6, 6.2, 5.8, 5.4, 5, 4.6, 4.2, 5, 5],
    [5, 4, 3.5, 3.5, 4, 5, 5, 4, 3.5, 3.5, 4, 5],
    [5, 4, 3.5, 3.5, 4, 5, 5, 5, 5, 4.7, 4.3, 5],
])
PADDING, SCALE, MAX_SHIFT, CORR_NOISE, IID_NOISE, SHEAR, LENGTH = (36, 60), 0.4, 48, 0.25, 0.02, 0.75, 40


def _resample(x: np.ndarray, n: int) -> np.ndarray:
    return np.interp(np.linspace(0, 1, n), np.linspace(0, 1, len(x)), x)


@lru_cache(maxsize=2)
def make_mnist1d(n_per_class: int = 500, seed: int = SEED) -> tuple[np.ndarray, np.ndarray]:
    """``(x float32 (10 n, 40), y int64 (10 n,))``: the signals, class by class, standardised as a whole (cached:
    treat the arrays as read-only)."""
    rng = np.random.default_rng(seed)
    t = TEMPLATES - TEMPLATES.mean(1, keepdims=True)
    t = t / t.std(1, keepdims=True)
    t = (t - t[:, :1]) / 6.0  # every signal starts and ends at 0
    width = TEMPLATES.shape[1] + PADDING[1]
    xs, ys = [], []
    for label, template in enumerate(t):
        for _ in range(n_per_class):
            pad = int(rng.integers(PADDING[0], PADDING[1] + 1))
            signal = _resample(np.concatenate([template, np.zeros(pad)]), width)
            is_pad = _resample(np.r_[np.zeros(len(template)), np.ones(pad)], width) > 0.5
            signal = signal * (1 + SCALE * (rng.random() - 0.5))
            shift = int(rng.integers(MAX_SHIFT))
            signal, is_pad = np.roll(signal, shift), np.roll(is_pad, shift)
            noise = gaussian_filter1d(CORR_NOISE * rng.standard_normal(width), 2)
            signal = np.where(is_pad, noise, signal) + IID_NOISE * rng.standard_normal(width)
            signal = signal - SHEAR * (rng.random() - 0.5) * np.linspace(-0.5, 0.5, width)
            xs.append(_resample(signal, LENGTH))
            ys.append(label)
    x = np.stack(xs)
    return ((x - x.mean()) / x.std()).astype(np.float32), np.asarray(ys, dtype=np.int64)


def load_mnist1d(name: str, *, n_train=None, n_test=None, seed: int = 0) -> Dataset:
    from genlab.data.sklearn_sets import labelled_split

    x, y = make_mnist1d()
    return labelled_split(name, x, y, seed, n_train=n_train, n_test=n_test, levels=None)


SOURCE = ("MNIST-1D made by genlab's own code (Greydanus 2020): 5000 x 40 signals from 10 digit templates, "
          "labels 0..9")
