"""Choosing a Gaussian mixture's size and covariance regularisation on held-out data.

A mixture with too many full-covariance components, or too little regularisation, overfits small data (a class of
the wine data has ~40 points in 13-D); one with too few underfits large data (a ring needs dozens of components).
:func:`select_mixture` picks ``(n_components, reg_covar)`` by the mean log-likelihood of a held-out fraction of the
training data (hold-out validation; Hastie, Tibshirani & Friedman 2009, Sec. 7.2), the criterion scikit-learn's
``GridSearchCV(GaussianMixture(...))`` would use, and the caller then refits on all the data.

Candidates are tried from the simplest (fewest components, least regularisation first) and a later one replaces
the best only when its held-out log-likelihood is higher by more than one standard error of the paired per-point
difference (the spirit of the one-standard-error rule, Hastie et al. 2009, Sec. 7.10), so that the noise of a small
held-out set does not decide. Sizes are tried in increasing order and the search stops once two larger sizes in a
row fail to beat the best score (the held-out likelihood is roughly unimodal in the size), and sizes that would
leave fewer than ``d + 1`` fitting points per component are skipped. Selection fits run on at most ``max_points`` points.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import torch

from genlab.rng import make_generator, randperm

__all__ = ["SIZES", "REGS", "select_mixture"]

#: candidate numbers of components, tried in this order
SIZES = (1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64)
#: candidate covariance regularisations, in standardised units (added to every covariance's diagonal)
REGS = (1e-6, 1e-3, 1e-2, 1e-1, 0.3)


def select_mixture(z: torch.Tensor, *, n_components: int, reg_covar: float, covariance_type: str, max_iter: int,
                   holdout: float, seed: int, max_points: int = 5000) -> tuple[int, float, float]:
    """``(n_components, reg_covar, held-out mean log-likelihood)``; a value given (> 0) is kept, 0 is chosen.

    ``z``: (N, D) standardised data; ``holdout``: the fraction held out (seeded split, stream ``(seed, 3)``).
    With both values given, or fewer than 10 points, nothing is fitted and the score is NaN.
    """
    from sklearn.mixture import GaussianMixture

    n, d = z.shape
    sizes = (n_components,) if n_components > 0 else SIZES
    regs = (reg_covar,) if reg_covar > 0 else REGS
    if (len(sizes) == 1 and len(regs) == 1) or n < 10:
        return min(sizes[0], n), regs[0] if reg_covar > 0 else REGS[-2], math.nan
    perm = randperm(n, make_generator(seed, 3))
    n_hold = max(2, int(round(holdout * n)))
    n_fit = min(n - n_hold, max_points)
    held = z[perm[:n_hold]][:max_points].double().numpy()
    fit = z[perm[n_hold : n_hold + n_fit]].double().numpy()
    best, best_scores, since_best = (sizes[0], regs[0]), None, 0
    for k in sizes:
        if k > 1 and n_components == 0 and k * (d + 1) > n_fit:
            break
        improved = False
        for reg in regs:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # ConvergenceWarning on tiny selection fits
                gm = GaussianMixture(min(k, n_fit), covariance_type=covariance_type, reg_covar=reg,
                                     max_iter=max_iter, random_state=seed).fit(fit)
            scores = gm.score_samples(held)
            if best_scores is None or _better(scores, best_scores):
                best, best_scores, improved = (k, reg), scores, True
        since_best = 0 if improved else since_best + 1
        if since_best >= 2:
            break
    return best[0], best[1], float(np.mean(best_scores))


def _better(scores: np.ndarray, best: np.ndarray) -> bool:
    """True when ``scores`` beat ``best`` on the same held-out points by more than one standard error of the paired
    difference (so noise in a small held-out set does not move the choice away from the earlier, simpler candidate)."""
    diff = scores - best
    if not np.isfinite(diff).all():
        return bool(np.isfinite(scores).all())
    return bool(diff.mean() > diff.std(ddof=1) / math.sqrt(len(diff)))
