"""Image data: the built-in ``patches`` set and readers of MNIST IDX files and the CIFAR-10 binary version.

Nothing is downloaded: ``patches`` is cut from photographs that ship inside scikit-image and scikit-learn, and the
readers take local paths.

- ``patches``: 8x8 grey patches (1, 8, 8), values 0..255 (``discrete_levels=256``), at uniformly random positions
  (seeded). Train patches come from scikit-image's photographs (:data:`TRAIN_PHOTOS`), test patches from
  scikit-learn's two sample photographs (china.jpg, flower.jpg), so train and test never share a photograph
  (the natural-image patch benchmark of Zoran & Weiss 2011). Colour photographs become grey by ITU-R 601 luma,
  round(0.299 R + 0.587 G + 0.114 B). Defaults: 20000 train, 5000 test patches.
- MNIST / Fashion-MNIST IDX files (LeCun et al. 1998; format: big-endian magic 0x0000TTDD with type code TT and D
  dimensions, then the D sizes, then the values), plain or ``.gz``: a folder holding ``train-images-idx3-ubyte``
  (+ ``train-labels-idx1-ubyte``) and ``t10k-*`` keeps the official split; a single images file is split 70/30.
- CIFAR-10 binary version (Krizhevsky 2009): records of 1 label byte + 3072 pixel bytes (R, G, B planes of 32x32);
  a folder with ``data_batch_*.bin`` and ``test_batch.bin`` keeps the official split, a single ``.bin`` is split
  70/30. The pickled "python version" is refused (genlab never unpickles).
Every problem (truncated file, bad magic, label/image count mismatch, pickled CIFAR) raises a one-line DataError.
"""

from __future__ import annotations

import gzip
import math
import struct
import zlib
from pathlib import Path

import numpy as np
import torch

from genlab.data.dataset import Dataset
from genlab.data.split import rng_for, split_indices
from genlab.errors import DataError

__all__ = ["TRAIN_PHOTOS", "TEST_PHOTOS", "load_patches", "cut_patches", "read_idx",
           "read_cifar_bin", "load_image_path"]

TRAIN_PHOTOS = ("camera", "astronaut", "coffee", "chelsea", "rocket", "coins", "clock", "brick", "grass", "gravel")
TEST_PHOTOS = ("china.jpg", "flower.jpg")  # sklearn.datasets.load_sample_images
PATCH = 8
_IDX_TYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
_CIFAR_RECORD = 1 + 3 * 32 * 32
_PICKLE_MARK = b"\x80"  # first byte of a protocol >= 2 pickle; never a CIFAR-10 label (0..9)


def _grey(img: np.ndarray) -> np.ndarray:
    img = np.asarray(img)
    if img.ndim == 3:
        img = np.round(img[..., :3].astype(np.float64) @ np.array([0.299, 0.587, 0.114]))
    return img.astype(np.uint8)


def cut_patches(photos: list[np.ndarray], n: int, rng: np.random.Generator, size: int = PATCH) -> np.ndarray:
    """``n`` patches (n, 1, size, size) at uniform positions over all photographs (each position equally likely)."""
    counts = np.array([(p.shape[0] - size + 1) * (p.shape[1] - size + 1) for p in photos], dtype=np.float64)
    which = rng.choice(len(photos), size=n, p=counts / counts.sum())
    out = np.empty((n, 1, size, size), dtype=np.uint8)
    for k, p in enumerate(photos):
        rows = np.flatnonzero(which == k)
        i = rng.integers(0, p.shape[0] - size + 1, size=len(rows))
        j = rng.integers(0, p.shape[1] - size + 1, size=len(rows))
        for r, a, b in zip(rows, i, j, strict=True):
            out[r, 0] = p[a : a + size, b : b + size]
    return out


def load_patches(name: str = "patches", *, n_train: int | None = None, n_test: int | None = None,
                 seed: int = 0) -> Dataset:
    """The ``patches`` set (module docstring); train and test come from different photographs."""
    import skimage.data
    from sklearn.datasets import load_sample_images

    train_photos = [_grey(getattr(skimage.data, p)()) for p in TRAIN_PHOTOS]
    bunch = load_sample_images()
    by_name = {Path(f).name: img for f, img in zip(bunch.filenames, bunch.images, strict=True)}
    test_photos = [_grey(by_name[p]) for p in TEST_PHOTOS]
    train = cut_patches(train_photos, n_train or 20000, rng_for(seed, 11))
    test = cut_patches(test_photos, n_test or 5000, rng_for(seed, 12))
    return Dataset(name=name, train=torch.from_numpy(train.astype(np.float32)),
                   test=torch.from_numpy(test.astype(np.float32)), discrete_levels=256)




# ---------------------------------------------------------------------- MNIST IDX
def _read_bytes(p: Path) -> bytes:
    try:
        if p.suffix.lower() == ".gz":
            with gzip.open(p, "rb") as f:
                return f.read()
        return p.read_bytes()
    except (OSError, EOFError, zlib.error) as exc:
        raise DataError(f"could not read {p}: {exc}") from None


def read_idx(path) -> np.ndarray:
    """An IDX file (``.gz`` or not) as a numpy array of its declared type and shape (DataError if malformed)."""
    p = Path(path)
    raw = _read_bytes(p)
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _IDX_TYPES or raw[3] == 0:
        raise DataError(f"{p.name} is not an IDX file (bad magic number)")
    ndim, dtype = raw[3], np.dtype(_IDX_TYPES[raw[2]])
    if len(raw) < 4 + 4 * ndim:
        raise DataError(f"{p.name} is truncated: its header is incomplete")
    dims = struct.unpack(f">{ndim}I", raw[4 : 4 + 4 * ndim])
    body = len(raw) - 4 - 4 * ndim
    expected = math.prod(dims) * dtype.itemsize
    if body != expected:
        raise DataError(f"{p.name} is {'truncated' if body < expected else 'too long'}: {body} bytes of data, "
                        f"its header promises {expected} for shape {dims}")
    return np.frombuffer(raw, dtype=dtype, offset=4 + 4 * ndim).reshape(dims)


def _idx_pair(images: Path) -> tuple[np.ndarray, np.ndarray | None]:
    x = read_idx(images)
    if x.ndim not in (3, 4):
        raise DataError(f"{images.name} holds an array of shape {x.shape}, not images (N, H, W)")
    x = x[:, None] if x.ndim == 3 else x
    labels = images.with_name(images.name.replace("images-idx3", "labels-idx1").replace("images.idx3", "labels.idx1"))
    if labels == images or not labels.exists():
        return x, None
    y = read_idx(labels).astype(np.int64)
    if y.ndim != 1 or len(y) != len(x):
        raise DataError(f"{labels.name} has {y.shape[0] if y.ndim else 0} labels for {len(x)} images in {images.name}")
    return x, y


# ---------------------------------------------------------------------- CIFAR-10 binary
def _refuse_pickle(p: Path) -> None:
    raise DataError(f"{p} is the pickled (python) version of CIFAR-10; genlab never unpickles: "
                    f"use the binary version (data_batch_*.bin, test_batch.bin)")


def read_cifar_bin(path) -> tuple[np.ndarray, np.ndarray]:
    """A CIFAR-10 binary batch: (x uint8 (N, 3, 32, 32), labels int64 (N,)) (DataError if malformed or pickled)."""
    p = Path(path)
    raw = _read_bytes(p)
    if raw[:1] == _PICKLE_MARK:
        _refuse_pickle(p)
    if not raw or len(raw) % _CIFAR_RECORD:
        raise DataError(f"{p.name} is not a CIFAR-10 binary batch (or is truncated): {len(raw)} bytes is not a "
                        f"multiple of the {_CIFAR_RECORD}-byte record")
    rec = np.frombuffer(raw, dtype=np.uint8).reshape(-1, _CIFAR_RECORD)
    y = rec[:, 0].astype(np.int64)
    if y.max() > 9:
        raise DataError(f"{p.name}: label {int(y.max())} is not a CIFAR-10 class (0..9); is it CIFAR-100?")
    return rec[:, 1:].reshape(-1, 3, 32, 32), y


def _concat(parts: list[tuple[np.ndarray, np.ndarray | None]]) -> tuple[np.ndarray, np.ndarray | None]:
    x = np.concatenate([a for a, _ in parts])
    ys = [b for _, b in parts]
    return x, (None if any(b is None for b in ys) else np.concatenate(ys))


# ---------------------------------------------------------------------- dispatch
def _dataset(name, train, test, levels, n_train, n_test, seed) -> Dataset:
    """Official train/test parts, with seeded random subsets of ``n_train`` / ``n_test``."""
    parts = []
    for k, ((x, y), n) in enumerate(((train, n_train), (test, n_test))):
        if n is not None and n > len(x):
            raise DataError(f"{'n_train' if k == 0 else 'n_test'}={n} but {name} has only {len(x)} such samples")
        idx = rng_for(seed, 21 + k).permutation(len(x))[:n] if n is not None else np.arange(len(x))
        parts.append((torch.from_numpy(x[idx].astype(np.float32)), None if y is None else torch.from_numpy(y[idx])))
    (xtr, ytr), (xte, yte) = parts
    if (ytr is None) != (yte is None):
        ytr = yte = None
    return Dataset(name=name, train=xtr, test=xte, labels_train=ytr, labels_test=yte, discrete_levels=levels)


def _split(name, x, y, levels, n_train, n_test, seed) -> Dataset:
    tr, te = split_indices(len(x), y, seed, n_train=n_train, n_test=n_test, fixed_split=False, name=name)
    return _dataset(name, (x[tr], None if y is None else y[tr]), (x[te], None if y is None else y[te]), levels,
                    None, None, seed)


def _levels(x: np.ndarray) -> int | None:
    return 256 if x.dtype == np.uint8 else None


def load_image_path(p: Path, *, n_train=None, n_test=None, seed=0) -> Dataset | None:
    """A Dataset from MNIST IDX or CIFAR-10 binary files at ``p`` (folder or file), or None if ``p`` holds neither."""
    if p.is_dir():
        files = sorted(f for f in p.iterdir() if f.is_file())
        idx = [f for f in files if "images-idx3" in f.name or "images.idx3" in f.name]
        if idx:
            train = [f for f in idx if not f.name.startswith("t10k")]
            test = [f for f in idx if f.name.startswith("t10k")]
            if train and test:
                tr, te = _concat([_idx_pair(f) for f in train]), _concat([_idx_pair(f) for f in test])
                return _dataset(p.name, tr, te, _levels(tr[0]), n_train, n_test, seed)
            x, y = _concat([_idx_pair(f) for f in idx])
            return _split(p.name, x, y, _levels(x), n_train, n_test, seed)
        bins = [f for f in files if f.suffix == ".bin" and (f.name.startswith("data_batch") or f.name.startswith("test_batch"))]
        if bins:
            train = [read_cifar_bin(f) for f in bins if f.name.startswith("data_batch")]
            test = [read_cifar_bin(f) for f in bins if f.name.startswith("test_batch")]
            if train and test:
                return _dataset(p.name, _concat(train), _concat(test), 256, n_train, n_test, seed)
            x, y = _concat(train or test)
            return _split(p.name, x, y, 256, n_train, n_test, seed)
        pickled = [f for f in files if f.name in ("batches.meta", "test_batch") or
                   (f.name.startswith("data_batch_") and f.suffix == "")]
        if pickled:
            _refuse_pickle(pickled[0])
        return None
    name = p.name.lower()
    if "idx3" in name or "idx1" in name:
        if "idx1" in name:
            raise DataError(f"{p.name} holds labels; pass the images file (…-images-idx3-ubyte) or its folder")
        x, y = _idx_pair(p)
        return _split(p.name, x, y, _levels(x), n_train, n_test, seed)
    if p.suffix.lower() == ".bin" or name.startswith("data_batch") or name.startswith("test_batch"):
        x, y = read_cifar_bin(p)
        return _split(p.name, x, y, 256, n_train, n_test, seed)
    return None
