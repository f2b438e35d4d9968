"""Built-in data sets and user data files.

``names()`` lists the built-in sets; ``load(name_or_path)`` returns a :class:`Dataset` with train/test splits.
The built-in sets are the one table :data:`genlab.data.registry.DATASETS` (loader, source, kind). Synthetic sets
(:mod:`genlab.data.synthetic`) have an exact ``log_prob`` and ``sample``; real sets (:mod:`genlab.data.sklearn_sets`),
image sets (:mod:`genlab.data.images`: ``patches``, MNIST IDX and CIFAR-10 binary files) and files
(:mod:`genlab.data.files`) have neither. Every Dataset carries its ``kind`` and the fitted reversible ``encoder``
between the user's values and model tensors (:mod:`genlab.data.kinds`).
"""

from __future__ import annotations

import difflib
import os
from pathlib import Path

from genlab.data.dataset import Dataset
from genlab.data.files import SUFFIXES, load_file
from genlab.data.images import load_image_path
from genlab.data.registry import DATASETS
from genlab.data.split import check_count, check_seed
from genlab.data.tables import TABLE_SUFFIXES, is_table_file, load_table
from genlab.data.text import TEXT_SUFFIXES, is_text_path, load_text
from genlab.errors import DataError

__all__ = ["Dataset", "names", "load", "source", "kind"]


def _is_frame(value) -> bool:
    return type(value).__name__ == "DataFrame" and hasattr(value, "columns")


def names() -> list[str]:
    """All built-in data set names, sorted."""
    return DATASETS.names()


def source(name: str) -> str:
    """Where a built-in set comes from, in one line."""
    return DATASETS.get(name).source


def kind(name: str) -> str:
    """The data kind of a built-in set ("vectors", "images", "table", ...)."""
    return DATASETS.get(name).kind


def load(name_or_path, *, n_train=None, n_test=None, seed=0, label_column=None, column_types=None,
         tokenizer=None, vocab_size=None) -> Dataset:
    """Load a built-in set by name, a data file / PNG folder by path, or a pandas DataFrame (a table).

    Synthetic sets draw ``n_train`` (default 10000) and ``n_test`` (default 5000) samples; real sets and files
    are split 70/30 (seeded, stratified by label), with ``n_train``/``n_test`` taking subsets.
    ``label_column`` (name or 0-based index) applies to all-numeric .csv files only. A CSV/TSV/Parquet file with a
    non-numeric column, a DataFrame, or any table file given ``column_types`` ({column: "numeric" | "integer" |
    "categorical" | "boolean"}) loads as the ``table`` kind (:mod:`genlab.data.tables`). A .txt file, a folder of
    them or a text corpus loads as the ``text`` kind, split by document, tokenized by ``tokenizer`` ("char", the
    default, or "bpe" of ``vocab_size`` tokens, default 1024; :mod:`genlab.data.text`).
    """
    n_train, n_test = check_count(n_train, "n_train"), check_count(n_test, "n_test")
    seed = check_seed(seed)
    if _is_frame(name_or_path):
        return load_table(name_or_path, n_train=n_train, n_test=n_test, seed=seed, column_types=column_types)
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
        if column_types is not None:
            raise DataError(f"column_types applies to table files and DataFrames, not to the built-in set '{builtin}'")
        spec = DATASETS.get(builtin)
        if (tokenizer is not None or vocab_size is not None) and spec.kind != "text":
            raise DataError(f"tokenizer applies to text, not to the {spec.kind} set '{builtin}'")
        extra = {k: v for k, v in (("tokenizer", tokenizer), ("vocab_size", vocab_size)) if v is not None}
        return spec.loader(builtin, n_train=n_train, n_test=n_test, seed=seed, **extra)
    p = Path(text)
    if p.exists() and is_text_path(p):
        if n_train is not None or n_test is not None or label_column is not None or column_types is not None:
            raise DataError("text splits by document: n_train, n_test, label_column and column_types do not apply")
        return load_text(p, seed=seed, tokenizer=tokenizer or "char", vocab_size=vocab_size or 1024)
    if tokenizer is not None or vocab_size is not None:
        raise DataError(f"tokenizer applies to text (.txt files and corpora), not to '{text}'")
    if p.exists() and (column_types is not None or (label_column is None and is_table_file(p))):
        if label_column is not None:
            raise DataError("label_column applies to all-numeric files; in a table every column is modelled (use "
                            "given= to condition on one)")
        return load_table(p, n_train=n_train, n_test=n_test, seed=seed, column_types=column_types)
    if column_types is not None:
        raise DataError(f"column_types applies to table files and DataFrames, not to '{text}'")
    if p.exists():
        images = None if label_column is not None else load_image_path(p, n_train=n_train, n_test=n_test, seed=seed)
        if images is not None:
            return images
        return load_file(p, n_train=n_train, n_test=n_test, seed=seed, label_column=label_column)
    if p.suffix.lower() in (*SUFFIXES, *TABLE_SUFFIXES, *TEXT_SUFFIXES) or "/" in text or os.sep in text:
        raise DataError(f"data file not found: {text}")
    close = difflib.get_close_matches(text, names(), n=1)
    hint = f" (did you mean '{close[0]}'?)" if close else ""
    raise DataError(
        f"unknown data set '{text}'{hint}: not a built-in name and no such file; built-in sets: {', '.join(names())}"
    )
