"""Seeded train/test splitting shared by the real and file loaders, and checks of the count/seed arguments."""

from __future__ import annotations

import numbers

import numpy as np

from genlab.errors import DataError

__all__ = ["TEST_FRACTION", "check_count", "check_seed", "rng_for", "split_indices"]

#: Fraction of the samples that goes to the test split when no sizes are asked for.
TEST_FRACTION = 0.3


def check_count(value, what: str) -> int | None:
    """None or a positive integer, else :class:`DataError`."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or int(value) < 1:
        raise DataError(f"{what} must be a positive integer, got {value!r}")
    return int(value)


def check_seed(seed) -> int:
    """A non-negative integer seed, else :class:`DataError`."""
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or int(seed) < 0:
        raise DataError(f"seed must be a non-negative integer, got {seed!r}")
    return int(seed)


def rng_for(seed: int, *stream: int) -> np.random.Generator:
    """An independent numpy generator for (seed, stream...)."""
    return np.random.default_rng(np.random.SeedSequence([seed, *stream]))


def _stratified_test(labels: np.ndarray, n_test: int, rng: np.random.Generator) -> np.ndarray:
    """Indices of a test set of exactly ``n_test`` samples, class proportions kept (largest remainder)."""
    classes, inverse, counts = np.unique(labels, return_inverse=True, return_counts=True)
    quota = n_test * counts / counts.sum()
    take = np.floor(quota).astype(int)
    rest = n_test - take.sum()
    if rest > 0:
        order = np.lexsort((rng.random(len(classes)), -(quota - take)))
        take[order[:rest]] += 1
    picked = [rng.permutation(np.flatnonzero(inverse == c))[: take[c]] for c in range(len(classes))]
    return np.concatenate(picked)


def split_indices(
    n: int,
    labels: np.ndarray | None,
    seed: int,
    *,
    n_train: int | None = None,
    n_test: int | None = None,
    fixed_split: bool = True,
    name: str = "data",
) -> tuple[np.ndarray, np.ndarray]:
    """Seeded, stratified (when labels are given) train/test index arrays, each in random order.

    ``fixed_split=True`` (built-in real sets): the split is always 70/30; ``n_train``/``n_test`` then take random
    subsets of those splits (DataError if more than available). ``fixed_split=False`` (files): without sizes the
    split is 70/30; with sizes, the test set has ``n_test`` samples (default 30%, at most what ``n_train`` leaves)
    and the train set ``n_train`` of the rest (default: all of the rest).
    """
    if n < 2:
        raise DataError(f"{name} has {n} sample(s); at least 2 are needed for a train/test split")
    lab = np.zeros(n, dtype=np.int64) if labels is None else np.asarray(labels)
    rng = rng_for(seed, 1)
    default_test = min(n - 1, max(1, int(round(TEST_FRACTION * n))))
    if fixed_split or (n_train is None and n_test is None):
        size_test = default_test
    else:
        if n_train is not None and n_train >= n:
            raise DataError(f"n_train={n_train} leaves no test samples: {name} has {n} samples")
        size_test = n_test if n_test is not None else min(default_test, n - n_train)
        if size_test >= n:
            raise DataError(f"n_test={size_test} leaves no training samples: {name} has {n} samples")
        if size_test + (n_train or 0) > n:
            raise DataError(f"n_train + n_test = {(n_train or 0) + size_test} exceeds the {n} samples in {name}")
    test = _stratified_test(lab, size_test, rng)
    mask = np.ones(n, dtype=bool)
    mask[test] = False
    train = np.flatnonzero(mask)
    train, test = rng.permutation(train), rng.permutation(test)
    if n_train is not None:
        if n_train > len(train):
            raise DataError(f"n_train={n_train} but {name} has only {len(train)} training samples")
        train = train[:n_train]
    if n_test is not None and fixed_split:
        if n_test > len(test):
            raise DataError(f"n_test={n_test} but {name} has only {len(test)} test samples")
        test = test[:n_test]
    return train, test
