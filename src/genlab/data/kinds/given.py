"""Conditional generation on column values, by imputation: ``model.sample(n, given={"diagnosis": "diabetes"})``.

:func:`given_rows` makes n encoded rows of a table in which the given cells are observed and every other column is
wholly unobserved -- its value dimensions and, where it has one, its "missing" flag -- so that a model's ``impute``
draws the other columns, their missing cells included, from the model's conditional given those values. Whether
that draw is exact is the model's: ``impute`` of each family says how it conditions (``table_ar``: exact when the
given columns come first in column order, importance resampling otherwise; ``table_diffusion``: the replacement
method; a Gaussian mixture: its closed-form conditional).
"""

from __future__ import annotations

import math

import numpy as np
import torch

from genlab.errors import DataError

__all__ = ["given_rows", "parse_given"]


def _check(col, value) -> None:
    """DataError (one line) unless ``value`` is a valid cell of column ``col``."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        raise DataError(f"given: column '{col.name}' needs a value (conditioning on a missing cell is not supported)")
    if col.type == "categorical":
        if value not in col.categories:
            raise DataError(f"given: {value!r} is not a category of column '{col.name}'; its categories: "
                            f"{', '.join(map(str, col.categories))}")
    elif col.type == "boolean":
        if not isinstance(value, (bool, np.bool_)):
            raise DataError(f"given: column '{col.name}' is boolean; give True or False, not {value!r}")
    else:
        if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)):
            raise DataError(f"given: column '{col.name}' is {col.type}; give a number, not {value!r}")
        if not col.lo <= float(value) <= col.hi:
            raise DataError(f"given: {value!r} is outside column '{col.name}''s training range [{col.lo:g}, {col.hi:g}]")
        if col.type == "integer" and float(value) != round(float(value)):
            raise DataError(f"given: column '{col.name}' is integer; {value!r} is not")


def given_rows(encoder, n: int, given: dict) -> tuple[torch.Tensor, torch.Tensor]:
    """(rows (n, D), mask (n, D), True = observed) with the ``given`` cells set in every row and the rest unobserved.

    ``encoder`` is a fitted :class:`~genlab.data.kinds.TableEncoder`; an unknown column, a category the column does
    not have, a value of the wrong type or outside the column's training range is a one-line DataError naming the
    valid choices."""
    import pandas as pd

    if not isinstance(given, dict) or not given:
        raise DataError(f"given must be a non-empty mapping of column -> value, got {given!r}")
    columns = {c.name: c for c in encoder.columns}
    for name, value in given.items():
        if name not in columns:
            raise DataError(f"given: unknown column '{name}'; the table's columns: {', '.join(columns)}")
        _check(columns[name], value)
    frame = pd.DataFrame({name: pd.Series([given.get(name)] * n, dtype=object) for name in columns})
    x, mask = encoder.encode_observed(frame)
    for name, part in encoder.slices().items():
        if name not in given:
            mask[:, part] = False  # the whole column is drawn, its missing flag included
    return x, mask


def parse_given(encoder, pairs) -> dict:
    """``{"column": value}`` from command-line ``COLUMN=VALUE`` strings, each value read as its column's type
    (a category as written, or the category whose text it is; true/false/yes/no/1/0; a number)."""
    columns = {c.name: c for c in encoder.columns}
    out = {}
    for pair in pairs:
        name, sep, text = str(pair).partition("=")
        name, text = name.strip(), text.strip()
        if not sep or not name:
            raise DataError(f"--given takes COLUMN=VALUE, got {pair!r}")
        if name not in columns:
            raise DataError(f"given: unknown column '{name}'; the table's columns: {', '.join(columns)}")
        col = columns[name]
        if col.type == "categorical":
            out[name] = next((c for c in col.categories if str(c) == text), text)
        elif col.type == "boolean":
            flags = {"true": True, "yes": True, "1": True, "false": False, "no": False, "0": False}
            if text.lower() not in flags:
                raise DataError(f"given: column '{name}' is boolean; give true or false, not {text!r}")
            out[name] = flags[text.lower()]
        else:
            try:
                out[name] = float(text) if col.type == "numeric" else int(float(text))
            except ValueError:
                raise DataError(f"given: column '{name}' is {col.type}; give a number, not {text!r}") from None
            if col.type == "integer" and float(text) != out[name]:
                raise DataError(f"given: column '{name}' is integer; {text!r} is not")
    return out
