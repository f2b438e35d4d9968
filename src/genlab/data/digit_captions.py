"""``digit_captions``: scikit-learn's handwritten digits with captions from measured stroke properties (issue 27's
captioned set from real data), e.g. "a thick seven, slanted left".

Each 8 x 8 digit (1 x 8 x 8, values 0..16, the ``digits`` split) gets three attributes: its class; its thickness,
the ink (sum of the values / 16) against the median ink of its class ("thin" at or below, "thick" above); and its
slant, the shear of the ink's second moments, s = -cov(column, row) / var(row) with rows counted downwards (s > 0:
the top leans right), cut at the training rows' tertiles into "slanted left", "upright" and "slanted right". The
thresholds are fitted on the training rows only (``info["thresholds"]``) and applied to the test rows. Captions come
from four templates with the digit as a word or a numeral and synonyms, drawn by a seeded generator.
``info["attributes_train"]`` / ``["attributes_test"]`` hold the attributes as int64 (N, 3) in the order of
:data:`ATTRIBUTES`; ``label_encoder`` is a char tokenizer fitted on the training captions.
"""

from __future__ import annotations

import numpy as np
import torch

from genlab.data.dataset import Dataset
from genlab.data.kinds.text import TextEncoder
from genlab.data.split import rng_for

__all__ = ["ATTRIBUTES", "SOURCE", "stroke_properties", "caption", "load_digit_captions"]

ATTRIBUTES = ("digit", "thickness", "slant")
WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
THICK = (("thin", "light", "fine"), ("thick", "bold", "heavy"))
SLANT = (("slanted left", "leaning left"), ("upright", "straight"), ("slanted right", "leaning right"))
TEMPLATES = ("a {thick} {digit}, {slant}", "{digit}: {thick}, {slant}", "{slant}, a {thick} {digit}",
             "a {digit} written {thick} and {slant}")
SOURCE = ("scikit-learn's digits with captions from measured stroke properties (class, thickness, slant): "
          "\"a thick seven, slanted left\"")


def stroke_properties(x) -> tuple[np.ndarray, np.ndarray]:
    """Ink (sum of values / 16) and slant (-cov(column, row) / var(row) of the ink) of images (N, 1, 8, 8)."""
    w = np.asarray(x, dtype=np.float64).reshape(len(x), 8, 8)
    rows, cols = np.mgrid[0:8, 0:8].astype(np.float64)
    mass = w.sum((1, 2)).clip(1e-9)
    mr, mc = (w * rows).sum((1, 2)) / mass, (w * cols).sum((1, 2)) / mass
    var_r = (w * (rows - mr[:, None, None]) ** 2).sum((1, 2)) / mass
    cov = (w * (rows - mr[:, None, None]) * (cols - mc[:, None, None])).sum((1, 2)) / mass
    return mass / 16.0, -cov / var_r.clip(1e-9)


def caption(attrs, rng: np.random.Generator) -> str:
    """A caption of (digit, thickness, slant) indices from one of four templates, synonyms drawn by ``rng``."""
    d, t, s = (int(a) for a in attrs)
    digit = WORDS[d] if rng.random() < 0.7 else str(d)
    thick, slant = str(rng.choice(THICK[t])), str(rng.choice(SLANT[s]))
    return TEMPLATES[int(rng.integers(len(TEMPLATES)))].format(digit=digit, thick=thick, slant=slant)


def _attributes(x, y, thresholds) -> np.ndarray:
    ink, slant = stroke_properties(x)
    thick = ink > np.asarray(thresholds["ink_median"])[y]
    return np.stack([y, thick, np.searchsorted(thresholds["slant_tertiles"], slant)], 1).astype(np.int64)


def load_digit_captions(name: str = "digit_captions", *, n_train=None, n_test=None, seed: int = 0) -> Dataset:
    """The ``digits`` split with captions (see the module docstring)."""
    from genlab.data.sklearn_sets import load_real

    ds = load_real("digits", n_train=n_train, n_test=n_test, seed=seed)
    y_train, y_test = ds.labels_train.numpy(), ds.labels_test.numpy()
    ink, slant = stroke_properties(ds.train)
    thresholds = {"ink_median": [float(np.median(ink[y_train == k])) if (y_train == k).any() else 0.0
                                 for k in range(10)],
                  "slant_tertiles": [float(q) for q in np.quantile(slant, [1 / 3, 2 / 3])]}
    a_train, a_test = _attributes(ds.train, y_train, thresholds), _attributes(ds.test, y_test, thresholds)
    rng_train, rng_test = rng_for(seed, 27, 0), rng_for(seed, 27, 1)
    cap_train = [caption(a, rng_train) for a in a_train]
    cap_test = [caption(a, rng_test) for a in a_test]
    return Dataset(name=name, train=ds.train, test=ds.test, labels_train=cap_train, labels_test=cap_test,
                   kind="images", discrete_levels=ds.discrete_levels,
                   label_encoder=TextEncoder("char").fit(cap_train),
                   info={"attributes_train": torch.from_numpy(a_train), "attributes_test": torch.from_numpy(a_test),
                         "attribute_names": ATTRIBUTES, "thresholds": thresholds})
