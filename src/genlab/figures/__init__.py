"""Figures of the theory, each computed by the library (``genlab figures``); see :mod:`genlab.figures.registry`."""

from genlab.figures.mixture import EIGHT_MODES, TWO_MODES, GaussianMixture

__all__ = ["GaussianMixture", "TWO_MODES", "EIGHT_MODES"]
