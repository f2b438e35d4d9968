"""Loading user data from files: .npy, .npz (key ``x``, optional ``y``), .csv/.tsv, and folders of PNG/JPEG images.

- ``.npy``: one array (N, ...) of numbers. ``.npz``: array ``x`` (N, ...) and optional labels ``y`` (N,).
- ``.csv`` (``.tsv``): numeric columns; the first row is a header when none of its cells is a number; the
  delimiter is ``,`` (or tab / ``;`` when the first line has no comma). ``label_column`` (a header name, or a
  0-based index, negative counts from the end) is split off as labels: integers >= 0 are kept, negative
  integers and non-numbers (e.g. class names) are numbered in sorted order.
- a folder of ``.png`` / ``.jpg`` / ``.jpeg`` files (read with Pillow), or of class subfolders holding them
  (labels = subfolder index in sorted order):
  grayscale -> (1, H, W), colour -> (3, H, W) (alpha dropped; if any image is colour, all become RGB), values
  0..255 as float32, ``discrete_levels=256``. All images must have one size.
Every problem (missing or empty file, unknown type, non-numeric cell, NaN/inf, wrong rank) raises DataError.
"""

from __future__ import annotations

import csv
import math
import os
from pathlib import Path

import numpy as np
import torch

from genlab.data.dataset import Dataset
from genlab.data.split import split_indices
from genlab.data.validate import as_labels, as_tensor
from genlab.errors import DataError

__all__ = ["SUFFIXES", "IMAGE_SUFFIXES", "read_data", "load_file"]

SUFFIXES = (".npy", ".npz", ".csv", ".tsv")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")


def read_data(path, *, label_column=None, allow_nan: bool = False) -> tuple[np.ndarray, np.ndarray | None, int | None]:
    """Read ``path`` into ``(x float32 (N, ...), labels int64 (N,) or None, discrete_levels or None)``.

    ``allow_nan=True`` keeps NaN (and empty CSV cells, read as NaN) for imputation; infinities are always refused.
    """
    p = Path(path)
    if not p.exists():
        raise DataError(f"data file not found: {p}")
    if label_column is not None and not (p.is_file() and p.suffix.lower() in (".csv", ".tsv")):
        raise DataError(f"label_column applies only to .csv files, not to {p.name}")
    if p.is_dir():
        x, y = _read_image_folder(p)
        return x, y, 256
    suffix = p.suffix.lower()
    if suffix not in SUFFIXES:
        raise DataError(
            f"unsupported file type '{suffix or p.name}' for {p} (expected .npy, .npz, .csv, a folder of PNG/JPEG images, MNIST IDX or CIFAR-10 .bin files)"
        )
    if p.stat().st_size == 0:
        raise DataError(f"data file is empty: {p}")
    if suffix == ".csv" or suffix == ".tsv":
        x, y = _read_csv(p, label_column, allow_nan)
        levels = None
    else:
        x, y = _read_numpy(p)
        levels = 256 if x.dtype == np.uint8 else None
    return (
        _check_x(x, p, allow_nan),
        (None if y is None else as_labels(y, len(x), what=f"labels in {p.name}").numpy()),
        levels,
    )


def _check_x(x: np.ndarray, p: Path, allow_nan: bool) -> np.ndarray:
    what = f"data in {p.name}"
    if x.dtype == object or x.dtype.kind not in "biuf":
        raise DataError(f"{what} must be numeric, got an array of {x.dtype}")
    if not allow_nan:
        return as_tensor(x, what=what).numpy()
    if x.ndim < 2 or x.shape[0] == 0 or x.size == 0:
        as_tensor(x, what=what)  # raises the usual rank / emptiness message
    if np.isinf(x).any():
        raise DataError(f"{what} contains {int(np.isinf(x).sum())} infinite value(s)")
    with np.errstate(over="ignore"):
        x = x.astype(np.float32)
    if np.isinf(x).any():
        raise DataError(f"{what} has {int(np.isinf(x).sum())} value(s) beyond the float32 range: rescale the data")
    return x


def _read_numpy(p: Path) -> tuple[np.ndarray, np.ndarray | None]:
    try:
        obj = np.load(p, allow_pickle=False)
    except Exception as exc:
        raise DataError(f"could not read {p} as a numpy file: {exc}") from None
    if isinstance(obj, np.ndarray):
        return obj, None
    with obj:
        keys = list(obj.files)
        if "x" not in keys:
            raise DataError(f"{p} has no array named 'x' (found: {', '.join(keys) or 'none'})")
        try:
            return obj["x"], (obj["y"] if "y" in keys else None)
        except Exception as exc:
            raise DataError(f"could not read arrays from {p}: {exc}") from None


def _number(cell: str) -> float | None:
    try:
        return float(cell)
    except ValueError:
        return None


def _read_csv(p: Path, label_column, allow_nan: bool) -> tuple[np.ndarray, np.ndarray | None]:
    try:
        text = p.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"could not read {p} as text: {exc}") from None
    first = text.split("\n", 1)[0]
    delim = (
        "\t"
        if p.suffix.lower() == ".tsv" or ("," not in first and "\t" in first)
        else ("," if "," in first or ";" not in first else ";")
    )
    rows = [(i + 1, [c.strip() for c in r]) for i, r in enumerate(csv.reader(text.splitlines(), delimiter=delim))]
    rows = [(line, r) for line, r in rows if any(r)]
    if not rows:
        raise DataError(f"data file is empty: {p}")
    header = None
    if all(_number(c) is None for c in rows[0][1] if c):  # no number in the first row: a header
        header, rows = rows[0][1], rows[1:]
        if not rows:
            raise DataError(f"{p} has a header row but no data rows")
    width = len(header) if header is not None else len(rows[0][1])
    for line, r in rows:
        if len(r) != width:
            raise DataError(f"{p}: line {line} has {len(r)} fields, expected {width}")
    lab = _label_index(label_column, header, width, p)
    cols = [j for j in range(width) if j != lab]
    if not cols:
        raise DataError(f"{p} has no data columns besides the label column")
    x = np.empty((len(rows), len(cols)), dtype=np.float64)
    for i, (line, r) in enumerate(rows):
        for k, j in enumerate(cols):
            cell = r[j]
            v = math.nan if cell == "" else _number(cell)
            if v is None or (cell == "" and not allow_nan):
                name = f" ('{header[j]}')" if header is not None else ""
                problem = "is empty" if cell == "" else f"is not a number: '{cell[:40]}'"
                raise DataError(f"{p}: line {line}, column {j + 1}{name} {problem}")
            x[i, k] = v
    y = None
    if lab is not None:
        cells = [r[lab] for _, r in rows]
        nums = [_number(c) for c in cells]
        if any(v is None or not math.isfinite(v) for v in nums):
            classes = sorted(set(cells))
            y = np.array([classes.index(c) for c in cells], dtype=np.int64)
        else:
            y = np.array(nums, dtype=np.float64)
            if (y == np.round(y)).all() and y.min() < 0:  # e.g. -1 / +1 classes
                y = np.unique(y, return_inverse=True)[1].astype(np.int64)
    return x, y


def _label_index(label_column, header: list[str] | None, width: int, p: Path) -> int | None:
    if label_column is None:
        return None
    if isinstance(label_column, str) and header is not None and label_column in header:
        return header.index(label_column)
    try:
        j = int(label_column)
    except (TypeError, ValueError):
        names = f"columns: {', '.join(header)}" if header is not None else "the file has no header row"
        raise DataError(f"label column '{label_column}' not found in {p} ({names})") from None
    if not -width <= j < width:
        raise DataError(f"label column index {j} is out of range for {p}, which has {width} columns")
    return j % width


def _read_image_folder(root: Path) -> tuple[np.ndarray, np.ndarray | None]:
    from PIL import Image

    def images_in(d: Path) -> list[Path]:
        return sorted(
            f for f in d.iterdir() if f.is_file() and f.suffix.lower() in IMAGE_SUFFIXES and not f.name.startswith(".")
        )

    top = images_in(root)
    subdirs = sorted(d for d in root.iterdir() if d.is_dir() and not d.name.startswith(".") and images_in(d))
    if top and subdirs:
        raise DataError(f"{root} mixes image files with class subfolders; use one or the other")
    if not top and not subdirs:
        raise DataError(f"no PNG images (nor JPEG) found in folder {root}")
    files = [(f, None) for f in top] if top else [(f, k) for k, d in enumerate(subdirs) for f in images_in(d)]
    images = []
    for f, _ in files:
        try:
            with Image.open(f) as im:
                im.load()
                mode = im.mode
                if mode in ("1", "L", "LA"):
                    arr = np.asarray(im.convert("L"))[None]
                elif mode in ("P", "PA", "RGB", "RGBA", "CMYK", "YCbCr"):
                    arr = np.asarray(im.convert("RGB")).transpose(2, 0, 1)
                else:
                    raise DataError(f"{f}: image mode {mode} is not supported (use 8-bit grayscale or RGB images)")
        except DataError:
            raise
        except Exception as exc:
            raise DataError(f"could not read image {f}: {exc}") from None
        images.append(arr)
    size0 = images[0].shape[1:]
    for (f, _), arr in zip(files, images, strict=True):
        if arr.shape[1:] != size0:
            raise DataError(
                f"images in {root} differ in size: {files[0][0].name} is {size0[1]}x{size0[0]}, "
                f"{f.name} is {arr.shape[2]}x{arr.shape[1]} (all must be the same size)"
            )
    channels = max(a.shape[0] for a in images)
    x = np.stack([np.repeat(a, channels // a.shape[0], axis=0) for a in images]).astype(np.float32)
    y = None if top else np.array([k for _, k in files], dtype=np.int64)
    return x, y


def load_file(
    path, *, n_train: int | None = None, n_test: int | None = None, seed: int = 0, label_column=None
) -> Dataset:
    """Read a data file or image folder and split it (30% test, seeded, stratified by labels when present)."""
    p = Path(os.fspath(path))
    x, y, levels = read_data(p, label_column=label_column)
    tr, te = split_indices(len(x), y, seed, n_train=n_train, n_test=n_test, fixed_split=False, name=p.name)
    return Dataset(
        name=p.name,
        train=torch.from_numpy(np.ascontiguousarray(x[tr])),
        test=torch.from_numpy(np.ascontiguousarray(x[te])),
        labels_train=None if y is None else torch.from_numpy(y[tr]),
        labels_test=None if y is None else torch.from_numpy(y[te]),
        discrete_levels=levels,
    )
