"""Conditional generation on column values: ``model.sample(n, given={"diagnosis": "diabetes"})``.

Two routes, declared per family by ``given_route`` (:class:`genlab.model.family.ModelBase`; chosen by measurement,
``benchmarks/table_given.py``):

- ``"rejection"`` (:func:`rejection_rows`), used when every given column is categorical or boolean: draw unconditional
  rows in batches, decode them, keep those whose given cells equal the values. The kept rows are exact draws from the
  model's own conditional p(other columns | given), whatever the family. It stops at ``max(GIVEN_DRAWS, 50 n)`` draws:
  when the acceptance rate seen so far says n rows would take more, ``sample`` warns once and takes the impute route.
- ``"impute"`` (:func:`given_rows`; always for a given numeric or integer column): n encoded rows in which the given
  cells are observed and every other column is wholly unobserved -- its value dimensions and, where it has one, its
  "missing" flag -- so that the model's ``impute`` draws the other columns, missing cells included. Whether that draw
  is exact is the family's (``table_ar``: exact when the given columns come first in column order, importance
  resampling otherwise; ``table_diffusion``: the replacement method; a Gaussian mixture: its closed-form conditional;
  ``made`` / ``maf`` fall back to Langevin steps that hardly move one-hot rows, hence their rejection route).
"""

from __future__ import annotations

import math

import numpy as np
import torch

from genlab.errors import DataError

__all__ = ["GIVEN_DRAWS", "discrete", "given_rows", "parse_given", "rejection_rows"]

GIVEN_DRAWS = 20_000  # the rejection route draws at most max(GIVEN_DRAWS, 50 n) rows


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


def _checked(encoder, given: dict) -> dict:
    """``{name: Column}`` of the table, after checking ``given`` (one-line DataErrors naming the valid choices)."""
    if not isinstance(given, dict) or not given:
        raise DataError(f"given must be a non-empty mapping of column -> value, got {given!r}")
    columns = {c.name: c for c in encoder.columns}
    for name, value in given.items():
        if name not in columns:
            raise DataError(f"given: unknown column '{name}'; the table's columns: {', '.join(columns)}")
        _check(columns[name], value)
    return columns


def discrete(encoder, given: dict) -> bool:
    """Whether every given column is categorical or boolean (the rejection route applies)."""
    columns = _checked(encoder, given)
    return all(columns[name].type in ("categorical", "boolean") for name in given)


def rejection_rows(draw, n: int, given: dict, *, cap: int | None = None):
    """n rows of ``draw(m, stream) -> DataFrame`` (m decoded unconditional rows) whose ``given`` cells equal the
    values, in the order drawn; None when the acceptance rate seen so far says n rows would take more than ``cap``
    draws (default max(GIVEN_DRAWS, 50 n)). Batch i is ``draw(m, i)``: the caller seeds stream i."""
    import pandas as pd

    cap = max(GIVEN_DRAWS, 50 * n) if cap is None else int(cap)
    kept, accepted, drawn, i = [], 0, 0, 0
    while accepted < n:
        rate = (accepted + 1) / (drawn + 2)  # the acceptance rate, with one pseudo-hit and one pseudo-miss
        if drawn and drawn + (n - accepted) / rate > cap:
            return None
        m = min(cap - drawn, max(256, math.ceil(1.2 * (n - accepted) / rate)))
        frame = draw(m, i)
        hit = np.ones(len(frame), dtype=bool)
        for name, value in given.items():
            hit &= np.array([v is not None and not (isinstance(v, float) and math.isnan(v)) and v == value
                             for v in frame[name].astype(object)], dtype=bool)
        kept.append(frame[hit])
        accepted, drawn, i = accepted + int(hit.sum()), drawn + m, i + 1
    return pd.concat(kept).iloc[:n].reset_index(drop=True)


def given_rows(encoder, n: int, given: dict) -> tuple[torch.Tensor, torch.Tensor]:
    """(rows (n, D), mask (n, D), True = observed) with the ``given`` cells set in every row and the rest unobserved.

    ``encoder`` is a fitted :class:`~genlab.data.kinds.TableEncoder`; an unknown column, a category the column does
    not have, a value of the wrong type or outside the column's training range is a one-line DataError naming the
    valid choices."""
    import pandas as pd

    columns = _checked(encoder, given)
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
