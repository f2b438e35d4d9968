"""Real data sets that ship with scikit-learn (no download): digits, digits_flat, breast_cancer, wine, iris.

None has a known density. Splits are seeded and stratified: 30% test; ``n_train``/``n_test`` take random subsets.
  - ``digits``: 1797 8x8 handwritten digits as images (1, 8, 8), float32 values 0..16, discrete_levels=17, labels 0..9.
  - ``digits_flat``: the same data as (64,) vectors.
  - ``breast_cancer``: 569 x 30 features (float32, raw units), labels 0 = malignant, 1 = benign (as sklearn gives them).
  - ``wine``: 178 x 13 features (float32, raw units), labels 0..2.
  - ``iris``: Fisher's 150 x 4 flower measurements (cm), labels 0..2 (setosa, versicolor, virginica).
"""

from __future__ import annotations

import numpy as np
import torch

from genlab.data.dataset import Dataset
from genlab.data.split import split_indices

__all__ = ["REAL", "load_real", "labelled_split"]

#: name -> (sklearn loader name, per-sample shape or None for flat, discrete levels)
REAL: dict[str, tuple[str, tuple[int, ...] | None, int | None]] = {
    "digits": ("load_digits", (1, 8, 8), 17),
    "digits_flat": ("load_digits", None, 17),
    "breast_cancer": ("load_breast_cancer", None, None),
    "wine": ("load_wine", None, None),
    "iris": ("load_iris", None, None),
}


def load_real(name: str, *, n_train: int | None = None, n_test: int | None = None, seed: int = 0) -> Dataset:
    """Load a scikit-learn set and split it (see the module docstring)."""
    import sklearn.datasets  # imported here: slow, and only needed for these sets

    loader, shape, levels = REAL[name]
    bunch = getattr(sklearn.datasets, loader)()
    x = np.asarray(bunch.data, dtype=np.float32)
    y = np.asarray(bunch.target, dtype=np.int64)
    if shape is not None:
        x = x.reshape(len(x), *shape)
    return labelled_split(name, x, y, seed, n_train=n_train, n_test=n_test, levels=levels)


def labelled_split(name: str, x: np.ndarray, y: np.ndarray, seed: int, *, n_train: int | None, n_test: int | None,
                   levels: int | None) -> Dataset:
    """A :class:`Dataset` from arrays with labels, split by the seeded stratified split of the real sets."""
    tr, te = split_indices(len(x), y, seed, n_train=n_train, n_test=n_test, fixed_split=True, name=name)
    return Dataset(
        name=name,
        train=torch.from_numpy(np.ascontiguousarray(x[tr], dtype=np.float32)),
        test=torch.from_numpy(np.ascontiguousarray(x[te], dtype=np.float32)),
        labels_train=torch.from_numpy(y[tr]),
        labels_test=torch.from_numpy(y[te]),
        discrete_levels=levels,
    )
