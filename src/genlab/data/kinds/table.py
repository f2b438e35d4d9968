"""The ``table`` kind: mixed-type records (a pandas DataFrame) <-> float rows, reversibly.

The schema is inferred (:mod:`.columns`) from the training rows only (or given: ``column_types={"age": "integer", ...}``), one type
per column:

- ``numeric`` (continuous): a quantile-normal transform z = Phi^-1(F(x)), F the training rows' empirical CDF
  (mid-ranks, linear between knots: the sorted distinct values, at most ``max_knots`` of them); decoded by the
  inverse, rounded to the column's decimals and clipped to its training range [lo, hi].
- ``integer``: the same transform, decoded by rounding to an integer within [lo, hi].
- ``categorical``: one-hot over the training categories (sorted; a pandas Categorical keeps its own order);
  decoded by argmax. A category not seen in training encodes as all zeros (with a warning).
- ``boolean``: one 0/1 column, decoded by the threshold 1/2.

A column with missing cells in the training rows gets one more 0/1 column, "missing", so that samples reproduce the
pattern of missing cells; its value columns hold 0 there (the median's z, or no category). Decoding restores each
column's pandas dtype, so ``decode(encode(t))`` equals ``t`` (values, dtypes, missing cells) for the rows the encoder
was fitted on. Refused (DataError, one line): a column with every cell missing, a column with a single value and
no missing cells, a likely identifier (every one of >= 20 rows a different text label, or integers that run
1, 2, 3, ... or in row order), and an object
column that mixes numbers with strings (name the row; declare the column ``categorical`` to keep it).
"""

from __future__ import annotations

import warnings
from dataclasses import asdict
from typing import Any, ClassVar

import numpy as np
import torch
from scipy.special import ndtr, ndtri

from genlab.data.kinds.base import Encoder
from genlab.data.kinds.columns import COLUMN_TYPES, Column, decimals_of, identifier_like, infer_type, plain, sort_key
from genlab.errors import DataError

__all__ = ["COLUMN_TYPES", "Column", "TableEncoder", "infer_type"]

class TableEncoder(Encoder):
    """Typed columns of a DataFrame <-> float32 rows (see the module docstring)."""

    kind: ClassVar[str] = "table"
    tensor_values: ClassVar[bool] = False

    def __init__(self, column_types: dict[str, str] | None = None, *, max_knots: int = 2048):
        self.column_types = dict(column_types or {})
        bad = {c: t for c, t in self.column_types.items() if t not in COLUMN_TYPES}
        if bad:
            c, t = next(iter(bad.items()))
            raise DataError(f"column_types: type {t!r} for column '{c}' is not one of {', '.join(COLUMN_TYPES)}")
        self.max_knots = int(max_knots)
        self.columns: list[Column] = []

    # ------------------------------------------------------------------ fitting
    @property
    def fitted(self) -> bool:
        return bool(self.columns)

    @property
    def shape(self) -> tuple[int, ...]:
        self._need_fit()
        return (sum(c.width for c in self.columns),)

    def fit(self, frame) -> TableEncoder:
        """Infer (or take) each column's type and fit its encoding on these rows (the training rows only)."""
        frame = _as_frame(frame)
        if len(frame) == 0 or len(frame.columns) == 0:
            raise DataError("a table needs at least one row and one column")
        unknown = sorted(set(self.column_types) - set(map(str, frame.columns)))
        if unknown:
            raise DataError(f"column_types names unknown column '{unknown[0]}'; columns: "
                            f"{', '.join(map(str, frame.columns))}")
        self.columns = [self._fit_column(str(name), frame[name]) for name in frame.columns]
        return self

    def _fit_column(self, name: str, s) -> Column:
        import pandas as pd

        present = s.dropna()
        if present.empty:
            raise DataError(f"column '{name}' has no values (every cell is missing): drop it")
        kind = self.column_types.get(name) or infer_type(s)
        missing = bool(s.isna().any())
        n_unique = present.nunique()
        if n_unique == 1 and not missing:
            raise DataError(f"column '{name}' holds one value ({present.iloc[0]!r}) in every training row: nothing to "
                            "model; drop it")
        if n_unique == len(s) >= 20 and name not in self.column_types and identifier_like(kind, present):
            hint = (f"drop it, or declare it with column_types={{'{name}': 'numeric'}}" if kind != "categorical" else
                    "drop it (a label per row can only be memorised, not learned)")
            raise DataError(f"column '{name}' has a different value in every row (an identifier?): {hint}")
        col = Column(name, kind, str(s.dtype), missing)
        if missing and s.dtype == object:
            col.na_none = s[s.isna()].iloc[0] is None
        if isinstance(s.dtype, pd.CategoricalDtype):
            col.categories = [plain(v) for v in s.cat.categories]
            col.ordered = bool(s.cat.ordered)
        elif kind == "categorical":
            col.categories = sorted({plain(v) for v in present}, key=sort_key)
        elif kind in ("numeric", "integer"):
            try:
                v = np.sort(present.to_numpy(np.float64))
            except (TypeError, ValueError):
                raise DataError(f"column '{name}' is declared {kind} but holds non-numbers") from None
            if kind == "integer" and not np.all(v == np.round(v)):
                raise DataError(f"column '{name}' is declared integer but holds fractions (e.g. {v[v != np.round(v)][0]})")
            knots, counts = np.unique(v, return_counts=True)
            cdf = (np.cumsum(counts) - counts / 2) / len(v)  # mid-ranks: F strictly increasing in (0, 1)
            if len(knots) > self.max_knots:
                keep = np.unique(np.linspace(0, len(knots) - 1, self.max_knots).round().astype(int))
                knots, cdf = knots[keep], cdf[keep]
            col.knots, col.cdf = knots.tolist(), cdf.tolist()
            col.lo, col.hi = float(v[0]), float(v[-1])
            col.decimals = 0 if kind == "integer" else decimals_of(v)
        return col

    # ------------------------------------------------------------------ encode / decode
    def encode(self, frame) -> torch.Tensor:
        """float32 rows (N, D) for a DataFrame with the fitted columns (in any order; others are refused)."""
        self._need_fit()
        frame = _as_frame(frame)
        have, want = list(map(str, frame.columns)), [c.name for c in self.columns]
        if set(have) != set(want):
            extra, lost = sorted(set(have) - set(want)), sorted(set(want) - set(have))
            what = f"missing column '{lost[0]}'" if lost else f"unknown column '{extra[0]}'"
            raise DataError(f"the table does not match the schema ({what}); expected columns: {', '.join(want)}")
        frame.columns = have
        return torch.from_numpy(np.concatenate([self._encode_column(c, frame[c.name]) for c in self.columns], 1))

    def encode_observed(self, frame) -> tuple[torch.Tensor, torch.Tensor]:
        """(rows (N, D), mask (N, D)) for imputation: a missing cell's value dimensions are unobserved (mask False)
        and its "missing" column, where it has one, is observed as 0, so that the fill is a value."""
        self._need_fit()
        holes = _as_frame(frame).isna()
        filled = _as_frame(frame).copy()
        for c in self.columns:  # encode the observed cells; holes get a placeholder that the mask hides
            if c.name in filled and holes[c.name].any():
                filled[c.name] = filled[c.name].astype(object).where(~holes[c.name], _placeholder(c))
        x = self.encode(filled)
        mask = torch.ones_like(x, dtype=torch.bool)
        for c, part in zip(self.columns, self.slices().values(), strict=True):
            rows = torch.from_numpy(holes[c.name].to_numpy(copy=True))
            values = slice(part.start, part.stop - int(c.missing))
            mask[rows, values] = False
            if c.missing:
                x[rows, part.stop - 1] = 0.0
        return x, mask

    def decode_filled(self, frame, x: torch.Tensor):
        """The table ``frame`` with its missing cells taken from the decoded rows ``x`` (the result of imputing
        :meth:`encode_observed`): every observed cell comes back exactly as given, even where decoding would clip it to
        the training range or round it."""
        frame = _as_frame(frame)
        made = self.decode(x)
        made.index = frame.index
        for c in self.columns:
            seen = frame[c.name].notna().to_numpy()
            if seen.any():
                kept = made[c.name].astype(object).where(~seen, frame[c.name].astype(object))
                try:
                    made[c.name] = kept.astype(made[c.name].dtype)
                except (TypeError, ValueError):  # a given value the column's type cannot hold (e.g. 2.5 in integers)
                    made[c.name] = kept
        return made

    def _encode_column(self, c: Column, s) -> np.ndarray:
        miss = s.isna().to_numpy()
        out = np.zeros((len(s), c.width), dtype=np.float64)
        if c.type == "categorical":
            import pandas as pd

            codes = pd.Series(s.to_numpy(object)).map({v: i for i, v in enumerate(c.categories)}).to_numpy(np.float64)
            unseen = np.isnan(codes) & ~miss
            if unseen.any():
                warnings.warn(f"column '{c.name}': category {s.to_numpy(object)[unseen][0]!r} was not in the training "
                              "rows; encoded as none", stacklevel=3)
            known = ~np.isnan(codes)
            out[np.flatnonzero(known), codes[known].astype(np.int64)] = 1.0
        elif c.type == "boolean":
            out[~miss, 0] = s[~miss].astype(bool).to_numpy(np.float64)
        else:
            try:
                v = s.to_numpy(np.float64, na_value=np.nan)
            except (TypeError, ValueError):
                raise DataError(f"column '{c.name}' ({c.type}) holds non-numbers") from None
            u = np.interp(np.where(miss, c.lo, v), c.knots, c.cdf)
            out[:, 0] = np.where(miss, 0.0, ndtri(u))
        if c.missing:
            out[:, -1] = miss
        elif miss.any():
            raise DataError(f"column '{c.name}' had no missing cells in the training rows but has some here "
                            f"(row {int(np.argmax(miss))})")
        return out.astype(np.float32)

    def decode(self, x: torch.Tensor):
        """A DataFrame with the fitted columns, dtypes, categories and bounds from rows (N, D) of model output."""
        import pandas as pd

        self._need_fit()
        x = torch.as_tensor(x).detach().cpu().to(torch.float64).numpy()
        if x.ndim != 2 or x.shape[1] != self.shape[0]:
            raise DataError(f"expected encoded rows of shape (N, {self.shape[0]}), got {tuple(x.shape)}")
        data, start = {}, 0
        for c in self.columns:
            block = x[:, start : start + c.width]
            start += c.width
            data[c.name] = self._decode_column(c, block)
        return pd.DataFrame(data)

    def _decode_column(self, c: Column, block: np.ndarray):
        import pandas as pd

        miss = block[:, -1] > 0.5 if c.missing else np.zeros(len(block), dtype=bool)
        if c.type == "categorical":
            cats = np.asarray(c.categories + [None if c.na_none else np.nan], dtype=object)
            values = cats[np.where(miss, len(c.categories), block[:, : len(c.categories)].argmax(1))]
            if c.dtype == "category":
                return pd.Categorical(values, categories=c.categories, ordered=c.ordered)
            return pd.Series(values, dtype=object).astype(c.dtype)
        if c.type == "boolean":
            values = block[:, 0] > 0.5
            if not c.missing:
                return pd.Series(values).astype(c.dtype)
            if c.dtype == "boolean":
                return pd.array(np.where(miss, None, values), dtype="boolean")
            return pd.Series(np.where(miss, None if c.na_none else np.nan, values), dtype=object)
        v = np.interp(ndtr(block[:, 0]), c.cdf, c.knots)
        if c.decimals is not None:
            v = np.round(v, c.decimals)
        v = np.clip(v, c.lo, c.hi)
        if c.missing:
            v = np.where(miss, np.nan, v)
            if c.dtype in ("Int64", "Int32", "Float64"):
                return pd.array(np.where(miss, None, v), dtype=c.dtype)
        return pd.Series(v).astype(c.dtype)

    # ------------------------------------------------------------------ facts and state
    def feature_names(self) -> list[str]:
        """Names of the encoded columns ("age", "sex=F", "bmi:missing", ...)."""
        return [n for c in self.columns for n in c.names()]

    def slices(self) -> dict[str, slice]:
        """Column name -> its encoded dimensions."""
        out, start = {}, 0
        for c in self.columns:
            out[c.name] = slice(start, start + c.width)
            start += c.width
        return out

    def schema(self) -> dict[str, str]:
        """Column name -> type (the JSON a ``--schema`` file holds)."""
        return {c.name: c.type for c in self.columns}

    def state(self) -> dict[str, Any]:
        self._need_fit()
        return {"kind": self.kind, "max_knots": self.max_knots, "column_types": self.column_types,
                "columns": [asdict(c) for c in self.columns]}

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> TableEncoder:
        enc = cls(state.get("column_types"), max_knots=state.get("max_knots", 2048))
        enc.columns = [Column(**c) for c in state["columns"]]
        return enc


def _placeholder(c: Column):
    """Any valid cell of column ``c`` (stands in for a hole that imputation fills)."""
    if c.type == "categorical":
        return c.categories[0]
    return False if c.type == "boolean" else c.lo


def _as_frame(frame):
    import pandas as pd

    if isinstance(frame, pd.DataFrame):
        return frame.copy()
    try:
        return pd.DataFrame(frame)
    except (TypeError, ValueError) as exc:
        raise DataError(f"expected a table (a pandas DataFrame or a mapping of columns), got {type(frame).__name__}: "
                        f"{exc}") from None
