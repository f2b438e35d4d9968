"""Sample quality on ``digits``: the Frechet distance in the features of a small CNN classifier (an FID for 8x8).

Heusel et al. 2017 (FID, Eq. 6): fit Gaussians N(mu_1, S_1), N(mu_2, S_2) to the features of two samples; their
Frechet (2-Wasserstein) distance is

    d^2 = |mu_1 - mu_2|^2 + tr(S_1 + S_2 - 2 (S_1 S_2)^(1/2)).

:func:`frechet_digits` compares ``x`` with the test split of ``digits`` (``genlab.datasets.load("digits")``, seed 0,
540 images) in the 32 penultimate features of :class:`DigitsCNN`, a classifier trained on the training split by
``benchmarks/train_digits_cnn.py`` (deterministic) whose weights ship as ``genlab/assets/digits_cnn.safetensors``.
32 dimensions keep the covariance estimate sound with ~540 test images. The floor of the metric is the distance of
an equal-size sample of the training split (reported by the training script); uniform noise scores far above it.
:func:`classify_digits` returns the same network's predicted classes.
"""

from __future__ import annotations

import functools
import warnings
from importlib import resources

import numpy as np
import torch
from torch import nn

from genlab.errors import DataError

__all__ = ["DigitsCNN", "FEATURES", "load_shipped", "frechet_distance", "digit_features", "classify_digits", "frechet_digits",
           "load_digits_cnn", "feature_stats", "WEIGHTS"]

FEATURES = 32
WEIGHTS = "digits_cnn.safetensors"
_LEVELS = 16.0  # digits values run over 0..16


class DigitsCNN(nn.Module):
    """(N, 1, 8, 8) digits in 0..16 -> 10 logits; ``features`` gives the 32 penultimate activations."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Sequential(
            nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(), nn.Conv2d(32, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        )
        self.fc = nn.Sequential(nn.Flatten(), nn.Dropout(0.3), nn.Linear(64 * 2 * 2, FEATURES))
        self.out = nn.Sequential(nn.ReLU(), nn.Linear(FEATURES, 10))

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """The 32 penultimate activations (before the last ReLU, so none is constant)."""
        return self.fc(self.conv(x / _LEVELS - 0.5))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out(self.features(x))


def load_shipped(net: nn.Module, filename: str, what: str, script: str) -> nn.Module:
    """``net`` (eval mode) with the weights shipped as ``genlab/assets/<filename>`` (safetensors); a missing file is
    a DataError naming ``what`` and the ``script`` that trains it."""
    from safetensors.torch import load_file

    with resources.as_file(resources.files("genlab") / "assets" / filename) as path:
        if not path.is_file():
            raise DataError(f"the {what} weights are missing ({path}); run {script}")
        net.load_state_dict(load_file(str(path)))
    return net.eval()


@functools.lru_cache(maxsize=1)
def load_digits_cnn() -> DigitsCNN:
    """The shipped classifier (eval mode)."""
    return load_shipped(DigitsCNN(), WEIGHTS, "digits classifier", "benchmarks/train_digits_cnn.py")


def _digits(x) -> torch.Tensor:
    t = torch.as_tensor(np.asarray(x, dtype=np.float32)) if not isinstance(x, torch.Tensor) else x.detach().float()
    if t.ndim == 2 and t.shape[1] == 64:
        t = t.reshape(-1, 1, 8, 8)
    if t.ndim != 4 or tuple(t.shape[1:]) != (1, 8, 8) or t.shape[0] == 0:
        raise DataError(f"expected digits of shape (N, 1, 8, 8) or (N, 64), got {tuple(t.shape)}")
    if not torch.isfinite(t).all():
        raise DataError("digits contain NaN or infinite values")
    return t.cpu()


@torch.no_grad()
def digit_features(x) -> torch.Tensor:
    """The 32 CNN features of digits ``x`` (N, 1, 8, 8) or (N, 64) in data units (0..16), (N, 32) float64."""
    net = load_digits_cnn()
    t = _digits(x)
    return torch.cat([net.features(t[i : i + 2048]) for i in range(0, len(t), 2048)]).double()


@torch.no_grad()
def classify_digits(x) -> torch.Tensor:
    """Predicted classes (N,) int64 of digits ``x`` (N, 1, 8, 8) or (N, 64) in data units (0..16)."""
    net = load_digits_cnn()
    t = _digits(x)
    return torch.cat([net(t[i : i + 2048]).argmax(1) for i in range(0, len(t), 2048)])


def frechet_distance(mu1, cov1, mu2, cov2) -> float:
    """d^2 between N(mu1, cov1) and N(mu2, cov2) (Heusel et al. 2017, Eq. 6), with scipy's matrix square root."""
    from scipy import linalg

    mu1, mu2 = np.asarray(mu1, np.float64), np.asarray(mu2, np.float64)
    cov1, cov2 = np.atleast_2d(cov1).astype(np.float64), np.atleast_2d(cov2).astype(np.float64)
    eps = 1e-9 * max(np.trace(cov1), np.trace(cov2), 1e-12) * np.eye(len(cov1))  # keeps sqrtm well posed
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", linalg.LinAlgWarning)
        root = linalg.sqrtm((cov1 + eps) @ (cov2 + eps))
    d2 = float(((mu1 - mu2) ** 2).sum() + np.trace(cov1) + np.trace(cov2) - 2 * np.trace(root).real)
    return max(d2, 0.0)


def feature_stats(f: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
    """Mean and covariance of features (N, F)."""
    a = f.numpy()
    return a.mean(0), np.cov(a, rowvar=False)


@functools.lru_cache(maxsize=1)
def _reference() -> tuple[np.ndarray, np.ndarray]:
    from genlab.data import load

    return feature_stats(digit_features(load("digits", seed=0).test))


def frechet_digits(x) -> float:
    """Frechet distance between digits ``x`` (N >= 2, data units 0..16) and the digits test split in CNN features."""
    f = digit_features(x)
    if len(f) < 2:
        raise DataError("frechet_digits needs at least 2 samples")
    return frechet_distance(*feature_stats(f), *_reference())
