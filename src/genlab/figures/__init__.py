"""Figures of the theory, each computed by the library on a 2-D mixture with a known score or on digits
(``genlab figures``): :func:`run` draws them as NAME.png with their numbers in NAME.json.

Modules: :mod:`.mixture` (closed-form Gaussian mixtures), :mod:`.analytic` (figures with exact scores),
:mod:`.learned` (learned scores on the mixture), :mod:`.images` (digits), :mod:`.weights` (the shipped models),
:mod:`.registry` (names and :func:`run`).
"""

from genlab.figures.mixture import EIGHT_MODES, TWO_MODES, GaussianMixture
from genlab.figures.registry import FIGURES, Figure, names, run

__all__ = ["GaussianMixture", "TWO_MODES", "EIGHT_MODES", "FIGURES", "Figure", "names", "run"]
