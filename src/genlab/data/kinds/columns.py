"""The columns of a table: their types, the inference of a type from a pandas Series, and one column's fitted
encoding (:class:`Column`, JSON-able). Used by :class:`genlab.data.kinds.table.TableEncoder`."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from genlab.errors import DataError

__all__ = ["COLUMN_TYPES", "Column", "infer_type", "identifier_like", "decimals_of", "sort_key", "plain"]

COLUMN_TYPES = ("numeric", "integer", "categorical", "boolean")


@dataclass
class Column:
    """One column's fitted encoding (JSON-able)."""

    name: str
    type: str
    dtype: str  # the pandas dtype restored on decode
    missing: bool = False  # an extra 0/1 "missing" column
    categories: list = field(default_factory=list)  # categorical
    ordered: bool = False  # a pandas Categorical's ``ordered``
    knots: list = field(default_factory=list)  # numeric / integer: distinct values ...
    cdf: list = field(default_factory=list)  # ... and the empirical CDF there
    lo: float = 0.0
    hi: float = 0.0
    decimals: int | None = None  # numeric: decimals of the training values (None: not rounded)
    na_none: bool = False  # object columns: a missing cell was None (else NaN), restored as it was

    @property
    def width(self) -> int:
        return (len(self.categories) if self.type == "categorical" else 1) + int(self.missing)

    def names(self) -> list[str]:
        base = [f"{self.name}={c}" for c in self.categories] if self.type == "categorical" else [self.name]
        return base + ([f"{self.name}:missing"] if self.missing else [])


def _is_number(v) -> bool:
    return isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, (bool, np.bool_))


def infer_type(series) -> str:
    """The column type of a pandas Series from its non-missing cells (see the module docstring)."""
    import pandas as pd

    values = series.dropna()
    if isinstance(series.dtype, pd.CategoricalDtype):
        return "categorical"
    if pd.api.types.is_bool_dtype(series.dtype) or (len(values) and all(isinstance(v, (bool, np.bool_)) for v in values)):
        return "boolean"
    if pd.api.types.is_numeric_dtype(series.dtype):
        v = values.to_numpy(np.float64)
        return "integer" if np.all(v == np.round(v)) else "numeric"
    for i, v in values.items():
        if _is_number(v):
            first_str = next((j for j, w in values.items() if isinstance(w, str)), None)
            if first_str is not None:
                where = series.index.name or "row"  # a file's loader names its rows by file line
                first, second = sorted([(first_str, values[first_str]), (i, v)], key=lambda p: str(p[0]))
                raise DataError(f"column '{series.name}' mixes numbers and strings ({where} {first[0]}: "
                                f"{first[1]!r}, {where} {second[0]}: {second[1]!r}); declare it with "
                                f"column_types={{'{series.name}': 'categorical'}} or fix the cells")
            return "numeric"
    return "categorical"


def identifier_like(kind: str, present) -> bool:
    """A column unique in every row that looks like a key: text labels, or integers that run consecutively or
    in row order (1, 2, 3, ...; not a measurement such as a survival time in days)."""
    if kind == "categorical":
        return True
    if kind != "integer":
        return False
    v = present.to_numpy(np.float64)
    return bool(v.max() - v.min() + 1 == len(v) or np.all(np.diff(v) > 0) or np.all(np.diff(v) < 0))


def decimals_of(v: np.ndarray) -> int | None:
    for d in range(9):
        if np.all(np.abs(np.round(v, d) - v) <= 1e-9 * np.maximum(1.0, np.abs(v))):
            return d
    return None


def sort_key(v):
    return (type(v).__name__, v)


def plain(v):
    """A cell as a JSON-able Python scalar."""
    return v.item() if isinstance(v, np.generic) else v
