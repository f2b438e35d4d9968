"""Registry of the synthetic sets: each has an exact log-density (nats) and a sampler that matches it.

2-D (see :mod:`genlab.data.planar` and :mod:`genlab.data.curves` for the exact definitions):
  - ``eight_gaussians``: equal mixture of 8 N(m_k, 0.354^2 I), m_k on a circle of radius 2.83 (label = component).
  - ``checkerboard``: uniform on the 8 black 2x2 squares of [-4, 4]^2, convolved with N(0, 0.1^2 I).
  - ``rings``: circles of radius 1, 2, 3, 4 (weights r/10), uniform angle, + N(0, 0.1^2 I) (label = ring).
  - ``two_moons``: sklearn's two half circles + N(0, 0.1^2 I) (label = moon).
  - ``swiss_roll``: spiral t (cos t, sin t) / 5, t ~ U[1.5 pi, 4.5 pi], + N(0, 0.2^2 I).
  - ``pinwheel``: 5 spiral arms, noise growing along the arm (label = arm).
10-D (see :mod:`genlab.data.highdim`):
  - ``gmm10``: 5 equally weighted Gaussians with fixed random means and full covariances (label = component).
  - ``funnel``: Neal's funnel, v ~ N(0, 9), x_1..9 | v ~ N(0, e^v).

Train and test splits are drawn from two independent streams derived from ``seed``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

from genlab.data import curves, highdim, planar
from genlab.data.dataset import Dataset
from genlab.data.split import rng_for

__all__ = [
    "SyntheticSet",
    "SYNTHETIC",
    "load_synthetic",
    "DEFAULT_N_TRAIN",
    "DEFAULT_N_TEST",
]

DEFAULT_N_TRAIN = 10_000
DEFAULT_N_TEST = 5_000

Sampler = Callable[[int, torch.Generator], "tuple[torch.Tensor, torch.Tensor | None]"]


@dataclass(frozen=True)
class SyntheticSet:
    """A named synthetic distribution: ``log_prob(x) -> (N,)`` nats and ``sample_labeled(n, g) -> (x, labels)``."""

    name: str
    dim: int
    log_prob: Callable[[torch.Tensor], torch.Tensor]
    sample_labeled: Sampler
    description: str

    def sample(self, n: int, generator: torch.Generator) -> torch.Tensor:
        """``(n, dim)`` float32 samples."""
        return self.sample_labeled(int(n), generator)[0]


def _curve(factory: Callable[[], curves.CurveMixture]):
    return (lambda x: factory().log_prob(x)), (lambda n, g: factory().sample(n, g))


def _registry() -> dict[str, SyntheticSet]:
    sets = [
        SyntheticSet(
            "eight_gaussians",
            2,
            planar.eight_gaussians_log_prob,
            planar.eight_gaussians_sample,
            "mixture of 8 Gaussians on a circle",
        ),
        SyntheticSet(
            "checkerboard",
            2,
            planar.checkerboard_log_prob,
            planar.checkerboard_sample,
            "uniform on 8 checkerboard squares, Gaussian-smoothed",
        ),
        SyntheticSet("rings", 2, planar.rings_log_prob, planar.rings_sample, "4 concentric noisy circles"),
        SyntheticSet("two_moons", 2, *_curve(curves.two_moons), "two interleaved noisy half circles"),
        SyntheticSet("swiss_roll", 2, *_curve(curves.swiss_roll), "noisy 2-D spiral"),
        SyntheticSet("pinwheel", 2, *_curve(curves.pinwheel), "5 noisy spiral arms"),
        SyntheticSet(
            "gmm10", 10, highdim.gmm10_log_prob, highdim.gmm10_sample, "10-D mixture of 5 full-covariance Gaussians"
        ),
        SyntheticSet("funnel", 10, highdim.funnel_log_prob, highdim.funnel_sample, "Neal's 10-D funnel"),
        SyntheticSet("funnel6", 6, highdim.funnel_log_prob, lambda n, g: highdim.funnel_sample(n, g, 6),
                     "Neal's funnel in 6-D"),
    ]
    return {s.name: s for s in sets}


SYNTHETIC: dict[str, SyntheticSet] = _registry()


def _generator(seed: int, stream: int) -> torch.Generator:
    return torch.Generator().manual_seed(int(rng_for(seed, 0, stream).integers(2**62)))


def load_synthetic(name: str, *, n_train: int | None = None, n_test: int | None = None, seed: int = 0) -> Dataset:
    """Draw train (``n_train``, default 10000) and test (``n_test``, default 5000) splits of a synthetic set."""
    s = SYNTHETIC[name]
    n_train = DEFAULT_N_TRAIN if n_train is None else n_train
    n_test = DEFAULT_N_TEST if n_test is None else n_test
    train, y_train = s.sample_labeled(n_train, _generator(seed, 0))
    test, y_test = s.sample_labeled(n_test, _generator(seed, 1))
    return Dataset(
        name=name,
        train=train,
        test=test,
        labels_train=y_train,
        labels_test=y_test,
        discrete_levels=None,
        _log_prob=s.log_prob,
        _sample=s.sample,
    )
