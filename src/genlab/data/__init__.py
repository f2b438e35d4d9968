"""Built-in data sets and user data files.

``names()`` lists the built-in sets; ``load(name_or_path)`` returns a :class:`Dataset` with train/test splits.
Synthetic sets (:mod:`genlab.data.synthetic`) have an exact ``log_prob`` and ``sample``; real sets
(:mod:`genlab.data.sklearn_sets`), image sets (:mod:`genlab.data.images`: ``patches``, MNIST IDX and CIFAR-10
binary files) and files (:mod:`genlab.data.files`) have neither.
"""

from __future__ import annotations

import difflib
import os
from pathlib import Path

from genlab.data import faces, mnist1d
from genlab.data.color_digits import COLOR_SETS
from genlab.data.dataset import Dataset
from genlab.data.files import SUFFIXES, load_file
from genlab.data.images import IMAGE_SETS, load_image_path
from genlab.data.sklearn_sets import REAL, load_real
from genlab.data.split import check_count, check_seed
from genlab.data.synthetic import SYNTHETIC, load_synthetic
from genlab.data.tabular import TABULAR
from genlab.errors import DataError

__all__ = ["Dataset", "names", "load", "source"]

#: built-in sets with their own loader: name -> (loader(name, n_train=, n_test=, seed=), one-line source)
LOADERS = {**TABULAR, "mnist1d": (mnist1d.load_mnist1d, mnist1d.SOURCE), "faces": (faces.load_faces, faces.SOURCE)}

_SOURCES = {
    "digits": "scikit-learn's bundled UCI optical digits: 1797 images 1 x 8 x 8, values 0..16, labels 0..9",
    "digits_flat": "the digits as 64-D vectors",
    "breast_cancer": "scikit-learn's bundled Wisconsin breast cancer data: 569 x 30, labels malignant/benign",
    "wine": "scikit-learn's bundled UCI wine data: 178 x 13 chemical measurements, labels 0..2 (cultivar)",
    "iris": "scikit-learn's bundled iris data (Fisher 1936): 150 x 4 measurements in cm, labels 0..2 (species)",
    "color_digits": "the digits coloured by genlab (fixed seed): 3 x 8 x 8 RGB images",
    "patches": "8 x 8 grey patches (256 levels) cut from photographs bundled in scikit-image (train) and "
               "scikit-learn (test)",
}


def names() -> list[str]:
    """All built-in data set names, sorted."""
    return sorted([*SYNTHETIC, *REAL, *COLOR_SETS, *IMAGE_SETS, *LOADERS])


def source(name: str) -> str:
    """Where a built-in set comes from, in one line."""
    if name in LOADERS:
        return LOADERS[name][1]
    if name in SYNTHETIC:
        return f"synthetic, made by genlab with an exact density: {SYNTHETIC[name].description}"
    if name in _SOURCES:
        return _SOURCES[name]
    raise DataError(f"unknown data set '{name}'; built-in sets: {', '.join(names())}")


def load(name_or_path, *, n_train=None, n_test=None, seed=0, label_column=None) -> Dataset:
    """Load a built-in set by name, or a data file / PNG folder by path.

    Synthetic sets draw ``n_train`` (default 10000) and ``n_test`` (default 5000) samples; real sets and files
    are split 70/30 (seeded, stratified by label), with ``n_train``/``n_test`` taking subsets.
    ``label_column`` (name or 0-based index) applies to .csv files only.
    """
    n_train, n_test = check_count(n_train, "n_train"), check_count(n_test, "n_test")
    seed = check_seed(seed)
    if not isinstance(name_or_path, (str, os.PathLike)):
        raise DataError(f"expected a data set name or a file path, got {type(name_or_path).__name__}")
    text = os.fspath(name_or_path)
    builtin = text if text in names() else None
    if builtin is None and not Path(text).exists():
        key = text.strip().lower().replace("-", "_")
        builtin = key if key in names() else None
    if builtin is not None:
        if label_column is not None:
            raise DataError(f"label_column applies only to .csv files, not to the built-in set '{builtin}'")
        if builtin in SYNTHETIC:
            return load_synthetic(builtin, n_train=n_train, n_test=n_test, seed=seed)
        if builtin in COLOR_SETS:
            return COLOR_SETS[builtin](builtin, n_train=n_train, n_test=n_test, seed=seed)
        if builtin in IMAGE_SETS:
            return IMAGE_SETS[builtin](builtin, n_train=n_train, n_test=n_test, seed=seed)
        if builtin in LOADERS:
            return LOADERS[builtin][0](builtin, n_train=n_train, n_test=n_test, seed=seed)
        return load_real(builtin, n_train=n_train, n_test=n_test, seed=seed)
    p = Path(text)
    if p.exists():
        images = None if label_column is not None else load_image_path(p, n_train=n_train, n_test=n_test, seed=seed)
        if images is not None:
            return images
        return load_file(p, n_train=n_train, n_test=n_test, seed=seed, label_column=label_column)
    if p.suffix.lower() in SUFFIXES or "/" in text or os.sep in text:
        raise DataError(f"data file not found: {text}")
    close = difflib.get_close_matches(text, names(), n=1)
    hint = f" (did you mean '{close[0]}'?)" if close else ""
    raise DataError(
        f"unknown data set '{text}'{hint}: not a built-in name and no such file; built-in sets: {', '.join(names())}"
    )
