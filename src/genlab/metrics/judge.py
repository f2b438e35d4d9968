"""The judge of prompt-to-image models on ``shapes``: a small CNN that reads an image's four attributes.

Compositional toy studies judge every generated image with a trained classifier (Okawa et al. 2023; GenEval,
Ghosh et al. 2023, with an object detector). :class:`ShapesJudge` is one convolutional trunk with a head per
attribute of :mod:`genlab.data.shapes` (shape 4, colour 6, size 2, position 9 classes), trained by
``benchmarks/train_shapes_judge.py`` (deterministic) on freshly rendered images of *every* colour-shape pair
(the judge is an instrument, not the model under test: it must read held-out combinations as well as seen ones),
with pixel noise as augmentation; its accuracy on fresh seen and held-out images is in
``benchmarks/results/shapes_judge.json``. The weights ship as ``genlab/assets/shapes_judge.safetensors``.

:func:`judge_attributes` gives the predicted attributes (N, 4); :func:`judge_features` the 32 penultimate
features; :func:`frechet_shapes` the Frechet distance (Heusel et al. 2017, Eq. 6) between images and a reference
set (default: the ``shapes`` test split, seed 0) in those features. Images are (N, 3, 32, 32) in [0, 1] (values
outside are clipped, as when shown).
"""

from __future__ import annotations

import functools

import numpy as np
import torch
from torch import nn

from genlab.errors import DataError
from genlab.frechet import feature_stats, frechet_distance, load_shipped

__all__ = ["ShapesJudge", "HEADS", "FEATURES", "WEIGHTS", "load_shapes_judge", "judge_logits", "judge_attributes",
           "judge_features", "frechet_shapes"]

HEADS = {"shape": 4, "colour": 6, "size": 2, "position": 9}  # the order of genlab.data.shapes.ATTRIBUTES
FEATURES = 32
WEIGHTS = "shapes_judge.safetensors"


class ShapesJudge(nn.Module):
    """(N, 3, 32, 32) images in [0, 1] -> a logit vector per attribute (a dict in :data:`HEADS` order)."""

    def __init__(self):
        super().__init__()
        conv = lambda i, o: [nn.Conv2d(i, o, 3, padding=1), nn.ReLU()]  # noqa: E731
        # two convolutions at full resolution: a small shape is about 5 pixels across
        self.conv = nn.Sequential(*conv(3, 8), *conv(8, 16), nn.MaxPool2d(2), *conv(16, 32), nn.MaxPool2d(2),
                                  *conv(32, 32), nn.MaxPool2d(2), nn.MaxPool2d(2))  # -> 32 x 2 x 2
        self.fc = nn.Sequential(nn.Flatten(), nn.Linear(32 * 2 * 2, 64), nn.ReLU(), nn.Linear(64, FEATURES))
        self.heads = nn.ModuleDict({k: nn.Linear(FEATURES, v) for k, v in HEADS.items()})

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """The 32 penultimate activations (before the heads' ReLU)."""
        return self.fc(self.conv(x - 0.5))

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        h = torch.relu(self.features(x))
        return {k: head(h) for k, head in self.heads.items()}


@functools.lru_cache(maxsize=1)
def load_shapes_judge() -> ShapesJudge:
    """The shipped judge (eval mode)."""
    return load_shipped(ShapesJudge(), WEIGHTS, "shapes judge", "benchmarks/train_shapes_judge.py")


def _images(x) -> torch.Tensor:
    t = torch.as_tensor(np.asarray(x, dtype=np.float32)) if not isinstance(x, torch.Tensor) else x.detach().float()
    if t.ndim != 4 or tuple(t.shape[1:]) != (3, 32, 32) or t.shape[0] == 0:
        raise DataError(f"the shapes judge reads images of shape (N, 3, 32, 32), got {tuple(t.shape)}")
    if not torch.isfinite(t).all():
        raise DataError("images contain NaN or infinite values")
    return t.cpu().clamp(0, 1)


@torch.no_grad()
def judge_logits(x, net: ShapesJudge | None = None) -> dict[str, torch.Tensor]:
    """Logits per attribute of images ``x`` (N, 3, 32, 32); ``net`` defaults to the shipped judge."""
    net = load_shapes_judge() if net is None else net
    t = _images(x)
    parts = [net(t[i : i + 1024]) for i in range(0, len(t), 1024)]
    return {k: torch.cat([p[k] for p in parts]) for k in HEADS}


def judge_attributes(x, net: ShapesJudge | None = None) -> torch.Tensor:
    """Predicted attributes (N, 4) int64 (shape, colour, size, position indices of genlab.data.shapes.VALUES)."""
    logits = judge_logits(x, net)
    return torch.stack([logits[k].argmax(1) for k in HEADS], 1)


@torch.no_grad()
def judge_features(x) -> torch.Tensor:
    """The judge's 32 features of images ``x``, (N, 32) float64."""
    net = load_shapes_judge()
    t = _images(x)
    return torch.cat([net.features(t[i : i + 1024]) for i in range(0, len(t), 1024)]).double()


@functools.lru_cache(maxsize=1)
def _reference() -> tuple[np.ndarray, np.ndarray]:
    from genlab.data.shapes import load_shapes

    return feature_stats(judge_features(load_shapes(n_train=1, seed=0).test))


def frechet_shapes(x, reference=None) -> float:
    """Frechet distance between images ``x`` (N >= 2) and ``reference`` (default: the shapes test split, seed 0,
    2,000 images of seen combinations) in the judge's features."""
    f = judge_features(x)
    if len(f) < 2:
        raise DataError("frechet_shapes needs at least 2 images")
    ref = _reference() if reference is None else feature_stats(judge_features(reference))
    return frechet_distance(*feature_stats(f), *ref)
