"""The noise floor of a diffusion model's likelihood, set from the spacing of its training rows, and the held-out
bound that early stopping watches (issue 23).

A diffusion model's log_prob is the density of the data convolved with N(0, sigma_lo^2 I), read by the probability-
flow ODE from its smallest level sigma_lo (Song et al. 2021, Sec. 4.3; Karras et al. 2022, Eq. 1). A sample of N rows
says nothing about structure finer than its spacing, yet a denoiser trained long on a fixed sample learns to move
noisy points onto the nearest training row at the levels far below that spacing: the density spikes on the training
rows and falls on new points. Data fitted with ``dequantize=True`` escape it by seeing fresh noise in every batch;
continuous data (or integers dequantized once) do not. On 64-D digits dequantized once (a tuning split of the
training data, ``benchmarks/continuous_probe.py``) edm at 6,000 steps scored 3.78 bits/dim on held-out rows against
2.50 with fresh noise; reading the likelihood from 0.2 (standardised units) instead of 0.002 gave 2.51.

- :func:`row_spacing`: the median distance from a training row to its nearest other row, per dimension
  (distance / sqrt(D)), in standardised units.
- The floor candidate is ``noise_floor`` (a config field) times that spacing; where it lies below the family's own
  smallest level or :data:`MIN_FLOOR` it changes nothing (2-D toy sets of thousands of rows: spacing about 0.015).
- :func:`settle_floor`: with a validation split (early stopping on), the candidate is kept only if the held-out
  rows score a higher mean log-likelihood with it than from the family's own smallest level, so data whose fine
  structure the network does learn keep the fine levels.
- :func:`bound_loss`: the held-out loss of early stopping, the sigma-form denoising bound of the negative
  log-likelihood, E_{log sigma ~ U[log lo, log hi]} log(hi / lo) |D(x + sigma n; sigma) - x|^2 / sigma^2 (the
  likelihood weighting of Song, Durkan, Murray & Ermon 2021 written in sigma; up to constants), here with lo = the
  floor candidate, so that it does not stop a fit for what happens below the levels the likelihood reads.
"""

from __future__ import annotations

import math

import torch

from genlab.rng import make_generator, rand, randn_like
from genlab.training.early import validation_split

__all__ = ["row_spacing", "floor_candidate", "settle_floor", "bound_loss", "SPACING_ROWS", "SETTLE_ROWS", "MIN_FLOOR", "AUTO_PATIENCE"]

SPACING_ROWS = 2048  # rows (a seeded subset) whose nearest-neighbour distances give the spacing
SETTLE_ROWS = 256  # held-out rows scored with and without the floor
_BOUND_ROWS = 2048  # the held-out bound evaluates at least this many (row, level) pairs (rows repeated)
# candidates at or below this level (standardised units) are ignored: levels below 0.03 change samples little
# (DiffusionConfig.sample_sigma_min), and 2-D sets of thousands of rows (spacing about 0.015, candidate 0.005) keep
# every default they were tuned with (the likelihood weighting of the SDE models, edm's P_mean)
MIN_FLOOR = 0.03
AUTO_PATIENCE = 10  # early-stopping patience of a fit with patience=None and a floor candidate


def row_spacing(z: torch.Tensor, generator: torch.Generator, max_rows: int = SPACING_ROWS) -> float:
    """Median over rows of the distance to the nearest other row, divided by sqrt(D), on at most ``max_rows`` rows
    of ``z`` (N, D) (a subset drawn from ``generator``); 0 for fewer than two rows."""
    z = z.reshape(len(z), -1).double()
    if len(z) < 2:
        return 0.0
    if len(z) > max_rows:
        z = z[torch.randperm(len(z), generator=generator)[:max_rows]]
    d = torch.cdist(z, z)
    d.fill_diagonal_(math.inf)
    return float(d.min(1).values.median()) / math.sqrt(z.shape[1])


def _dequantized_once(z: torch.Tensor, spec) -> torch.Tensor:
    """The rows as the model sees them: with one fixed draw of the dequantization noise for ``dequantize=True``."""
    return spec.noisy(z, make_generator(spec.seed, 6))


def floor_candidate(model, z: torch.Tensor, spec) -> float:
    """``noise_floor`` x :func:`row_spacing` of the training rows (standardised), or 0 when that is off, the model
    has no likelihood, or it lies at or below the family's own smallest level or :data:`MIN_FLOOR`."""
    c = float(getattr(model.config, "noise_floor", 0.0))
    if c <= 0 or model.likelihood == "none":
        return 0.0
    floor = c * row_spacing(_dequantized_once(z, spec), make_generator(spec.seed, 7))
    return floor if floor > max(model.sigma_range()[0], MIN_FLOOR) else 0.0


def settle_floor(model, z: torch.Tensor, y: torch.Tensor | None, spec, candidate: float) -> float:
    """``candidate``, unless the held-out rows of early stopping (the same seeded split as the training loop's; at
    most :data:`SETTLE_ROWS`) score a higher mean log-likelihood from the family's own smallest level (then 0).
    Without a validation split (``patience`` = 0) the candidate is kept as it is."""
    if candidate <= 0 or spec.patience <= 0:
        return candidate
    held = validation_split(len(z), spec.val_fraction, spec.seed)[1][:SETTLE_ROWS]
    x = _dequantized_once(z[held], spec).to(model.device)
    yv = None if y is None else y[held].to(model.device)
    was_training, scores = model.training, []
    model.eval()
    try:
        for floor in (0.0, candidate):
            model.sigma_floor = floor
            with torch.no_grad():
                lp = model._log_prob(x, yv, generator=make_generator(spec.seed, 8, target=model.device))
            scores.append(float(torch.nan_to_num(lp.double(), nan=-math.inf).mean()))
    finally:
        model.train(was_training)
    return candidate if scores[1] >= scores[0] else 0.0


def bound_loss(denoiser, z: torch.Tensor, y: torch.Tensor | None, lo: float, hi: float,
               generator: torch.Generator) -> torch.Tensor:
    """Per-row (N,) Monte Carlo estimate of the sigma-form denoising bound on [lo, hi] (module docstring), per
    dimension; rows are repeated so that at least ``_BOUND_ROWS`` levels are drawn. ``denoiser(x, sigma, y)``."""
    n, reps = len(z), max(1, math.ceil(_BOUND_ROWS / max(len(z), 1)))
    x0 = z.reshape(n, -1).repeat(reps, 1)
    yr = None if y is None else y.repeat(reps, *[1] * (y.ndim - 1))  # class labels (N,) or caption ids (N, L)
    span = math.log(hi / lo)
    sigma = torch.exp(math.log(lo) + span * rand((len(x0),), generator, dtype=x0.dtype, device=x0.device))
    d = denoiser(x0 + sigma[:, None] * randn_like(x0, generator), sigma, yr)
    per = span * (d - x0).pow(2).mean(1) / sigma**2
    return per.reshape(reps, n).mean(0)
