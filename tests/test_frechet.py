"""frechet_digits / classify_digits: known Frechet distances, the shipped classifier, floor and noise, bad input."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

import genlab
from genlab.frechet import frechet_distance
from genlab.metrics import classify_digits, frechet_digits

ROOT = Path(__file__).resolve().parents[1]


def test_frechet_distance_known_answers():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(5, 5))
    cov = a @ a.T + np.eye(5)
    mu = rng.normal(size=5)
    assert frechet_distance(mu, cov, mu, cov) == pytest.approx(0.0, abs=1e-6)
    assert frechet_distance(mu, cov, mu + 2.0, cov) == pytest.approx(4.0 * 5, rel=1e-6)
    d1, d2 = np.array([1.0, 4.0, 9.0]), np.array([4.0, 1.0, 9.0])  # diagonal: sum (sqrt a - sqrt b)^2
    assert frechet_distance(np.zeros(3), np.diag(d1), np.zeros(3), np.diag(d2)) == pytest.approx(2.0, rel=1e-6)


@pytest.fixture(scope="module")
def digits():
    return genlab.datasets.load("digits", seed=0)


def test_classifier_is_accurate_on_the_test_split(digits):
    acc = float((classify_digits(digits.test) == digits.labels_test).float().mean())
    assert acc >= 0.95
    assert torch.equal(classify_digits(digits.test[:10].reshape(10, 64).numpy()), classify_digits(digits.test[:10]))


def test_training_sample_is_near_the_floor_and_noise_far_above(digits):
    n = len(digits.test)
    g = torch.Generator().manual_seed(0)
    floor = frechet_digits(digits.train[torch.randperm(len(digits.train), generator=g)[:n]])
    noise = frechet_digits(torch.rand(n, 1, 8, 8, generator=g) * 17)
    blank = frechet_digits(torch.zeros(n, 1, 8, 8) + torch.rand(n, 1, 8, 8, generator=g))
    assert floor < 5.0 and noise > 20 * floor and blank > 20 * floor
    assert frechet_digits(digits.train[:n]) == frechet_digits(digits.train[:n])  # deterministic
    # a sample of a single class is far from the ten-class test split
    assert frechet_digits(digits.train[digits.labels_train == 3]) > 5 * floor


@pytest.mark.parametrize("x,match", [(np.zeros((3, 8, 8)), "shape"), (np.zeros((0, 64)), "shape"),
                                     (np.full((3, 64), np.nan), "NaN"), (np.zeros((1, 64)), "at least 2")])
def test_bad_input(x, match):
    with pytest.raises(genlab.DataError, match=match):
        frechet_digits(x)


@pytest.mark.slow
def test_shipped_weights_are_what_the_script_trains(tmp_path, digits):
    """Bit-identical on the machine that trained them; elsewhere CPU kernels may round differently, so the check
    is that the retrained network classifies the test split as the shipped one does."""
    from safetensors.torch import load_file

    from genlab.frechet import DigitsCNN

    out = tmp_path / "cnn.safetensors"
    subprocess.run([sys.executable, str(ROOT / "benchmarks" / "train_digits_cnn.py"), "--out", str(out)], check=True,
                   capture_output=True)
    shipped = load_file(str(ROOT / "src" / "genlab" / "assets" / "digits_cnn.safetensors"))
    again = load_file(str(out))
    assert shipped.keys() == again.keys()
    net = DigitsCNN()
    net.load_state_dict(again)
    agree = (net.eval()(digits.test).argmax(1) == classify_digits(digits.test)).float().mean()
    assert agree >= 0.98
