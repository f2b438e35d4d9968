"""Image data: patches, PNG/JPEG folders, MNIST IDX and CIFAR-10 binary files, and their bad-input errors."""

from __future__ import annotations

import gzip
import struct

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from numpy.lib.stride_tricks import sliding_window_view

import genlab.data as gd
from genlab.cli import cli
from genlab.data.images import TEST_PHOTOS, TRAIN_PHOTOS, _grey, cut_patches, read_cifar_bin, read_idx
from genlab.errors import DataError


def _idx(path, arr: np.ndarray, *, compress=False, cut=0):
    code = {np.dtype(np.uint8): 0x08, np.dtype(">i4"): 0x0C}[arr.dtype]
    raw = bytes([0, 0, code, arr.ndim]) + struct.pack(f">{arr.ndim}I", *arr.shape) + arr.tobytes()
    raw = raw[: len(raw) - cut]
    path.write_bytes(gzip.compress(raw) if compress else raw)


def _mnist(folder, n=6, h=4, w=3, compress=False):
    folder.mkdir()
    rng = np.random.default_rng(0)
    sets = {}
    for part in ("train", "t10k"):
        x = rng.integers(0, 256, size=(n, h, w), dtype=np.uint8)
        y = (np.arange(n) % 3).astype(np.uint8)
        gz = ".gz" if compress else ""
        _idx(folder / f"{part}-images-idx3-ubyte{gz}", x, compress=compress)
        _idx(folder / f"{part}-labels-idx1-ubyte{gz}", y, compress=compress)
        sets[part] = (x, y)
    return sets


def _cifar(path, labels):
    rng = np.random.default_rng(1)
    pix = rng.integers(0, 256, size=(len(labels), 3072), dtype=np.uint8)
    path.write_bytes(np.concatenate([np.array(labels, np.uint8)[:, None], pix], 1).tobytes())
    return pix.reshape(-1, 3, 32, 32)


def test_cut_patches_are_windows_of_the_photographs():
    photo = np.arange(20 * 30).reshape(20, 30).astype(np.uint8)  # value encodes position (mod 256)
    p = cut_patches([photo], 50, np.random.default_rng(0), size=8)
    assert p.shape == (50, 1, 8, 8)
    windows = sliding_window_view(photo, (8, 8)).reshape(-1, 64)
    assert all((windows == q.reshape(64)).all(1).any() for q in p)


def test_patches_train_and_test_come_from_different_photographs():
    from sklearn.datasets import load_sample_images

    assert not set(TRAIN_PHOTOS) & set(TEST_PHOTOS)
    ds = gd.load("patches", n_train=200, n_test=40, seed=3)
    assert ds.shape == (1, 8, 8) and ds.discrete_levels == 256 and ds.labels_train is None
    assert ds.train.shape == (200, 1, 8, 8) and ds.test.shape == (40, 1, 8, 8)
    both = torch.cat([ds.train, ds.test])
    assert torch.equal(both, both.round()) and both.min() >= 0 and both.max() <= 255
    assert torch.equal(gd.load("patches", n_train=200, n_test=40, seed=3).test, ds.test)  # seeded
    test_windows = np.concatenate([sliding_window_view(_grey(im), (8, 8)).reshape(-1, 64)
                                   for im in load_sample_images().images])
    for q in ds.test[:3].numpy().astype(np.uint8).reshape(3, 64):
        assert (test_windows == q).all(1).any()
    assert "patches" in gd.names()


def test_jpeg_and_png_folder_with_classes(tmp_path):
    from PIL import Image

    for k, cls in enumerate(("cats", "dogs")):
        (tmp_path / cls).mkdir()
        for i in range(4):
            Image.fromarray(np.full((5, 6, 3), 40 * k + i, np.uint8)).save(tmp_path / cls / f"{i}.jpg", quality=95)
    ds = gd.load(tmp_path)
    assert ds.shape == (3, 5, 6) and ds.num_classes == 2 and ds.discrete_levels == 256


@pytest.mark.parametrize("compress", [False, True])
def test_mnist_idx_folder_keeps_the_official_split(tmp_path, compress):
    sets = _mnist(tmp_path / "mnist", compress=compress)
    ds = gd.load(tmp_path / "mnist")
    assert ds.shape == (1, 4, 3) and ds.discrete_levels == 256 and len(ds.train) == 6 and len(ds.test) == 6
    order = np.argsort(ds.train.flatten(1)[:, 0].numpy(), kind="stable")
    x, y = sets["train"]
    ref = np.argsort(x.reshape(6, -1)[:, 0], kind="stable")
    assert np.array_equal(ds.train.numpy()[order, 0], x[ref]) and np.array_equal(ds.labels_train.numpy()[order], y[ref])
    sub = gd.load(tmp_path / "mnist", n_train=2, n_test=3)
    assert len(sub.train) == 2 and len(sub.test) == 3
    single = gd.load(next((tmp_path / "mnist").glob("train-images*")))
    assert len(single.train) + len(single.test) == 6 and single.labels_train is not None


def test_read_idx_known_answer(tmp_path):
    a = np.arange(24, dtype=">i4").reshape(2, 3, 4)
    _idx(tmp_path / "a.idx3-ubyte", a)
    assert np.array_equal(read_idx(tmp_path / "a.idx3-ubyte"), a)


def test_cifar_binary_folder_and_file(tmp_path):
    (tmp_path / "c").mkdir()
    x1 = _cifar(tmp_path / "c" / "data_batch_1.bin", [0, 1, 2])
    _cifar(tmp_path / "c" / "data_batch_2.bin", [3, 4])
    xt = _cifar(tmp_path / "c" / "test_batch.bin", [9, 8])
    ds = gd.load(tmp_path / "c")
    assert ds.shape == (3, 32, 32) and len(ds.train) == 5 and len(ds.test) == 2 and ds.discrete_levels == 256
    x, y = read_cifar_bin(tmp_path / "c" / "data_batch_1.bin")
    assert np.array_equal(x, x1) and y.tolist() == [0, 1, 2]  # planes R, G, B of 32x32, in order
    assert sorted(ds.labels_test.tolist()) == [8, 9] and torch.equal(ds.test.sum(), torch.tensor(float(xt.sum())))


def _bad(tmp_path):
    from PIL import Image

    (tmp_path / "trunc").mkdir()
    _idx(tmp_path / "trunc" / "train-images-idx3-ubyte", np.zeros((4, 3, 3), np.uint8), cut=5)
    (tmp_path / "magic-images-idx3-ubyte").write_bytes(b"\x01\x02\x03\x04" + bytes(20))
    (tmp_path / "count").mkdir()
    _idx(tmp_path / "count" / "train-images-idx3-ubyte", np.zeros((4, 3, 3), np.uint8))
    _idx(tmp_path / "count" / "train-labels-idx1-ubyte", np.zeros(3, np.uint8))
    (tmp_path / "short.bin").write_bytes(bytes(3073 + 10))
    (tmp_path / "pickled").mkdir()
    (tmp_path / "pickled" / "data_batch_1").write_bytes(b"\x80\x02}q\x00.")  # a protocol-2 pickle of {}
    (tmp_path / "data_batch_2").write_bytes(b"\x80\x04\x95\x00")
    (tmp_path / "corrupt").mkdir()
    Image.fromarray(np.zeros((4, 4), np.uint8)).save(tmp_path / "corrupt" / "a.png")
    (tmp_path / "corrupt" / "b.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"garbage" * 5)
    return {"trunc": "truncated", "magic-images-idx3-ubyte": "not an IDX file", "count": "3 labels for 4 images",
            "short.bin": "not a multiple of the 3073-byte record", "pickled": "pickled .*never unpickles",
            "data_batch_2": "pickled", "corrupt": "could not read image .*b.png"}


def test_bad_image_files_raise_one_line_errors(tmp_path):
    for name, pattern in _bad(tmp_path).items():
        with pytest.raises(DataError, match=pattern) as err:
            gd.load(tmp_path / name)
        assert "\n" not in str(err.value), name


@pytest.mark.parametrize("name", ["trunc", "pickled", "corrupt"])
def test_cli_exits_2_on_bad_image_data(tmp_path, name):
    _bad(tmp_path)
    r = CliRunner().invoke(cli, ["train", "gmm", "--data", str(tmp_path / name), "--steps", "1", "--out",
                                 str(tmp_path / "run")], catch_exceptions=False)
    assert r.exit_code == 2 and len(r.stderr.strip().splitlines()) == 1 and "Traceback" not in r.stderr


@pytest.mark.parametrize("other", [(5, 5, "L"), (4, 4, "RGB")], ids=["wrong-size", "wrong-channels"])
def test_cli_exits_2_on_images_that_do_not_fit_the_model(tmp_path, other):
    """A run trained on 4x4 gray PNGs, evaluated on 5x5 gray or 4x4 colour PNGs: one line, exit 2, run kept."""
    from PIL import Image

    h, w, mode = other
    rng = np.random.default_rng(0)
    for name, (hh, ww, mm) in {"good": (4, 4, "L"), "bad": other}.items():
        (tmp_path / name).mkdir()
        for i in range(12):
            shape = (hh, ww) if mm == "L" else (hh, ww, 3)
            Image.fromarray(rng.integers(0, 256, size=shape, dtype=np.uint8), mode=mm).save(tmp_path / name / f"{i}.png")
    run = tmp_path / "run"
    r = CliRunner().invoke(cli, ["train", "gmm", "--data", str(tmp_path / "good"), "--steps", "1", "--out", str(run)],
                           catch_exceptions=False)
    assert r.exit_code == 0, r.output
    before = sorted(p.name for p in run.iterdir())
    r = CliRunner().invoke(cli, ["eval", str(run), "--data", str(tmp_path / "bad")], catch_exceptions=False)
    assert r.exit_code == 2 and len(r.stderr.strip().splitlines()) == 1 and "Traceback" not in r.stderr, r.output
    assert f"shape ({3 if mode == 'RGB' else 1}, {h}, {w})" in r.stderr
    assert sorted(p.name for p in run.iterdir()) == before
