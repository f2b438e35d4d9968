"""Real tables with unlabelled or mixed columns, from packages (no download): ``diabetes`` and ``penguins``.

- ``diabetes``: scikit-learn's bundled diabetes study (Efron et al. 2004), 442 patients x 11 columns in raw units:
  age, sex (1/2), bmi, bp, s1..s6 and the disease progression one year later (the regression target, kept as a
  column so that the density covers it). No labels.
- ``penguins``: the Palmer penguins (Gorman, Williams & Fraser 2014; the ``palmerpenguins`` package), 344 birds.
  Mixed types and real missing values, handled by a rule per non-numeric column (:data:`PENGUIN_RULES`):
  ``species`` is the label (0 Adelie, 1 Chinstrap, 2 Gentoo), ``island`` and ``sex`` are one-hot encoded (one 0/1
  column per value), ``year`` is dropped; the numeric columns bill_length_mm, bill_depth_mm, flipper_length_mm,
  body_mass_g are kept. Rows with any missing value (11 of 344: 2 without measurements, 9 more without sex) are
  dropped, with a warning that says how many. 333 x 9 remain.

:func:`encode_frame` applies such rules to any pandas DataFrame; a non-numeric column without a rule is a DataError.
"""

from __future__ import annotations

import warnings

import numpy as np

from genlab.data.dataset import Dataset
from genlab.errors import DataError

__all__ = ["PENGUIN_RULES", "RULES", "encode_frame", "load_diabetes", "load_penguins"]

RULES = ("label", "onehot", "drop", "numeric")
PENGUIN_RULES = {"species": "label", "island": "onehot", "sex": "onehot", "year": "drop"}


def encode_frame(frame, rules: dict[str, str], *, name: str = "data") -> tuple[np.ndarray, np.ndarray | None, list[str]]:
    """``(x float32 (N, D), labels int64 (N,) or None, column names)`` from a DataFrame by ``rules``.

    Columns without a rule must be numeric. Rules: ``label`` (at most one column; values sorted, coded 0..K-1),
    ``onehot`` (one 0/1 column per value, sorted), ``drop``, ``numeric``. Rows with a missing value in a kept column
    or the label are dropped with a warning.
    """
    import pandas as pd

    bad = {c: r for c, r in rules.items() if r not in RULES or c not in frame.columns}
    if bad:
        c, r = next(iter(bad.items()))
        raise DataError(f"{name}: rule {r!r} for column {c!r} is not usable (columns: {', '.join(map(str, frame.columns))};"
                        f" rules: {', '.join(RULES)})")
    if sum(r == "label" for r in rules.values()) > 1:
        raise DataError(f"{name}: at most one column can have the rule 'label'")
    for c in frame.columns:
        if c not in rules and not pd.api.types.is_numeric_dtype(frame[c]):
            raise DataError(f"{name}: column {c!r} is not numeric and has no rule; give it one of "
                            f"{', '.join(RULES[:3])}")
    kept = frame[[c for c in frame.columns if rules.get(c) != "drop"]]
    complete = kept.notna().all(axis=1).to_numpy()
    if not complete.all():
        warnings.warn(f"{name}: dropped {int((~complete).sum())} of {len(frame)} rows with missing values",
                      stacklevel=2)
    kept = kept[complete]
    columns, names, labels = [], [], None
    for c in kept.columns:
        rule = rules.get(c, "numeric")
        if rule == "label":
            values = sorted(kept[c].unique())
            labels = np.searchsorted(np.asarray(values), kept[c].to_numpy()).astype(np.int64)
        elif rule == "onehot":
            for v in sorted(kept[c].unique()):
                columns.append((kept[c] == v).to_numpy(np.float32))
                names.append(f"{c}={v}")
        else:
            try:
                columns.append(kept[c].to_numpy(np.float32))
            except (TypeError, ValueError):
                raise DataError(f"{name}: column {c!r} has the rule 'numeric' but holds non-numbers") from None
            names.append(str(c))
    if not columns:
        raise DataError(f"{name}: no feature columns are left after the rules")
    return np.stack(columns, 1), labels, names


def load_diabetes(name: str, *, n_train=None, n_test=None, seed: int = 0) -> Dataset:
    from sklearn.datasets import load_diabetes as sk_diabetes

    from genlab.data.sklearn_sets import labelled_split

    bunch = sk_diabetes(scaled=False)
    x = np.concatenate([bunch.data, bunch.target[:, None]], 1).astype(np.float32)
    ds = labelled_split(name, x, np.zeros(len(x), dtype=np.int64), seed, n_train=n_train, n_test=n_test, levels=None)
    ds.labels_train = ds.labels_test = None
    return ds


def load_penguins(name: str, *, n_train=None, n_test=None, seed: int = 0) -> Dataset:
    import palmerpenguins

    from genlab.data.sklearn_sets import labelled_split

    x, y, _ = encode_frame(palmerpenguins.load_penguins(), PENGUIN_RULES, name=name)
    return labelled_split(name, x, y, seed, n_train=n_train, n_test=n_test, levels=None)

