"""Inverse problems through a trained model, without retraining.

- :func:`solve`: linear inverse problems y = A x (inpainting, colorization, super-resolution; operators with
  orthonormal rows in :mod:`.linear`) with any diffusion-type model, by the replacement method (:mod:`.replacement`)
  or, for deterministic flows, RePaint (:mod:`.flows`).
- :func:`langevin_impute`: imputation by MALA on a model's log-density (:mod:`.langevin`).
"""

from genlab.inverse.flows import repaint, repaint_sample
from genlab.inverse.langevin import langevin_impute
from genlab.inverse.linear import Colorize, Inpaint, SuperResolve, box_mask, random_pixel_mask
from genlab.inverse.replacement import Constraint, replacement_impute, replacement_sample
from genlab.inverse.solve import denoiser_models, solve

__all__ = ["solve", "denoiser_models", "Inpaint", "Colorize", "SuperResolve", "box_mask", "random_pixel_mask",
           "Constraint", "replacement_sample", "replacement_impute", "repaint", "repaint_sample", "langevin_impute"]
