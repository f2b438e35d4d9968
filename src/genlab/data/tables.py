"""Tables as data: a CSV / TSV / Parquet file or a pandas DataFrame -> a ``table`` :class:`Dataset`.

The rows are split first (70/30, seeded; ``n_train`` / ``n_test`` as for other files), then a
:class:`~genlab.data.kinds.TableEncoder` is fitted on the training rows only and encodes both splits. A file is
read as a table when any column is not numeric or ``column_types`` is given; an all-numeric file stays ``vectors``
(:mod:`genlab.data.files`). Cells that look like numbers in a text column count as numbers, so a typo in a numeric
column ("12,5", "n/a") is reported with its file line rather than turning the column into categories.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from genlab.data.dataset import Dataset
from genlab.data.kinds import TableEncoder
from genlab.data.split import split_indices
from genlab.errors import DataError

__all__ = ["TABLE_SUFFIXES", "read_table", "is_table_file", "load_table", "load_penguins_table", "load_gbsg2"]

TABLE_SUFFIXES = (".csv", ".tsv", ".parquet")


def read_table(path):
    """A DataFrame from a .csv / .tsv (delimiter sniffed) or .parquet (needs pyarrow) file; its index holds the file
    line of each row (named "line") so that errors can name it."""
    import pandas as pd

    p = Path(os.fspath(path))
    suffix = p.suffix.lower()
    if suffix not in TABLE_SUFFIXES:
        raise DataError(f"{p}: a table must be one of {', '.join(TABLE_SUFFIXES)}")
    try:
        if suffix == ".parquet":
            frame = pd.read_parquet(p)
            frame.index = pd.RangeIndex(1, len(frame) + 1, name="row")
            return frame
        frame = pd.read_csv(p, sep="\t" if suffix == ".tsv" else None, engine="python", skipinitialspace=True)
    except ImportError as exc:
        raise DataError(f"{p}: reading Parquet needs pyarrow ({exc})") from None
    except (OSError, ValueError, UnicodeDecodeError, pd.errors.ParserError) as exc:
        raise DataError(f"could not read {p} as a table: {str(exc).splitlines()[0]}") from None
    if frame.empty:
        raise DataError(f"{p} has no data rows")
    frame.index = pd.RangeIndex(2, len(frame) + 2, name="line")  # line 1 is the header
    return frame


def is_table_file(path) -> bool:
    """True for a CSV/TSV/Parquet file with any non-numeric column (it then needs the table kind)."""
    import pandas as pd

    p = Path(os.fspath(path))
    if p.suffix.lower() not in TABLE_SUFFIXES or not p.is_file():
        return False
    if p.suffix.lower() == ".parquet":
        return True
    try:
        head = pd.read_csv(p, sep="\t" if p.suffix.lower() == ".tsv" else None, engine="python", nrows=2000,
                           skipinitialspace=True)
    except Exception:  # noqa: BLE001 - unreadable here: the numeric reader reports it in its own words
        return False
    has_header = any(not _looks_numeric(str(c)) for c in head.columns)
    return has_header and any(not pd.api.types.is_numeric_dtype(head[c]) and _text_column(head[c]) for c in head)


def _looks_numeric(text: str) -> bool:
    try:
        float(text)
        return True
    except ValueError:
        return False


def _text_column(s) -> bool:
    """A column with a cell that is not a number (an empty or all-number column is numeric)."""
    return any(not _looks_numeric(str(v)) for v in s.dropna())


def numbers_from_text(frame):
    """Text columns whose every cell reads as a number become numeric; one with both is refused naming the line."""
    import pandas as pd

    frame = frame.copy()
    for c in frame.columns:
        s = frame[c]
        if pd.api.types.is_numeric_dtype(s.dtype) or pd.api.types.is_bool_dtype(s.dtype):
            continue
        present = s.dropna()
        if present.empty or not all(isinstance(v, str) for v in present):
            continue
        numeric = present.map(_looks_numeric)
        if numeric.all():
            frame[c] = pd.to_numeric(s)
        elif numeric.any():
            bad = present.index[~numeric.to_numpy()][0]
            good = present.index[numeric.to_numpy()][0]
            where = frame.index.name or "row"
            raise DataError(f"column '{c}' mixes numbers and text ({where} {good}: {present[good]!r}, {where} {bad}: "
                            f"{present[bad]!r}); fix the cell or declare column_types={{'{c}': 'categorical'}}")
    return frame


def load_table(source, *, n_train=None, n_test=None, seed: int = 0, column_types=None, name=None) -> Dataset:
    """A ``table`` Dataset from a file path or a DataFrame (see the module docstring)."""
    import pandas as pd

    if isinstance(source, pd.DataFrame):
        frame, name = source, name or "table"
    else:
        frame, name = read_table(source), name or Path(os.fspath(source)).name
    declared = dict(column_types or {})
    undeclared = [c for c in frame.columns if str(c) not in declared]
    frame = pd.concat([numbers_from_text(frame[undeclared]), frame[[c for c in frame.columns if c not in undeclared]]],
                      axis=1)[list(frame.columns)]
    tr, te = split_indices(len(frame), None, seed, n_train=n_train, n_test=n_test, fixed_split=False, name=name)
    train, test = frame.iloc[np.sort(tr)], frame.iloc[np.sort(te)]
    encoder = TableEncoder(declared).fit(train)
    return Dataset(name=name, train=encoder.encode(train), test=encoder.encode(test), kind="table", encoder=encoder)


def load_penguins_table(name: str, *, n_train=None, n_test=None, seed: int = 0) -> Dataset:
    """The Palmer penguins as they are (palmerpenguins package): 344 birds, species / island / sex as categories, the
    measurements and year as numbers, the 19 missing cells kept (and modelled)."""
    import palmerpenguins

    return load_table(palmerpenguins.load_penguins(), n_train=n_train, n_test=n_test, seed=seed, name=name)


def load_gbsg2(name: str, *, n_train=None, n_test=None, seed: int = 0) -> Dataset:
    """The German Breast Cancer Study Group 2 trial (Schumacher et al. 1994), 686 patients, as bundled with lifelines:
    hormone therapy (horTh), age, menopausal status, tumour size, grade, positive nodes, progesterone and oestrogen
    receptors, recurrence-free survival time (days) and censoring. Read from the package's CSV (no download)."""
    import importlib.util

    spec = importlib.util.find_spec("lifelines")
    if spec is None or spec.origin is None:
        raise DataError("the gbsg2 table ships with the lifelines package: pip install lifelines")
    path = Path(spec.origin).parent / "datasets" / "gbsg2.csv"
    import pandas as pd

    return load_table(pd.read_csv(path), n_train=n_train, n_test=n_test, seed=seed, name=name)
