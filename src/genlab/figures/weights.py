"""The small models shipped with the figures (trained by ``benchmarks/figures_weights.py``), and the learned score
of a diffusion model in data units."""

from __future__ import annotations

import json
from pathlib import Path

import torch

from genlab.errors import CheckpointError

__all__ = ["WEIGHTS", "load_model", "load_classifier", "training_info", "learned_score"]

WEIGHTS = Path(__file__).resolve().parent / "weights"


def _path(name: str) -> Path:
    path = WEIGHTS / name
    if not path.is_dir():
        raise CheckpointError(f"the figures' weights '{name}' are missing from {WEIGHTS}; "
                              "run 'python benchmarks/figures_weights.py' to train them")
    return path


def load_model(name: str):
    """The shipped genlab model ``name`` (a checkpoint directory under :data:`WEIGHTS`)."""
    from genlab.models import load

    return load(_path(name))


def load_classifier(name: str):
    """The shipped :class:`genlab.apps.NoisyClassifier` ``name``."""
    from genlab.apps.noisy_classifier import NoisyClassifier

    return NoisyClassifier.load(_path(name))


def training_info(name: str) -> dict:
    """What ``benchmarks/figures_weights.py`` recorded about the training of ``name`` (steps, seconds, data)."""
    file = _path(name) / "training.json"
    return json.loads(file.read_text()) if file.is_file() else {}


def learned_score(model, x: torch.Tensor, sigma: float) -> torch.Tensor:
    """grad_x log p_sigma(x) (N, D) of a diffusion model in data units, at data-unit noise level ``sigma``.

    The model works on standardised z = (x - m) / s; at noise sigma_z = sigma / mean(s) its score in z is
    (D(z; sigma_z) - z) / sigma_z^2 (Tweedie), and d/dx = (d/dz) / s."""
    std = model.normalizer.std.to(x.dtype)
    z = model.normalizer(x.to(torch.float32)).to(x.dtype)
    sz = torch.full((len(x),), float(sigma) / float(std.mean()), dtype=torch.float32)
    with torch.no_grad():
        d = model.denoiser()(z.to(torch.float32), sz).to(x.dtype)
    return (d - z) / sz.to(x.dtype)[:, None] ** 2 / std
