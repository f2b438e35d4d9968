"""Density-based anomaly (novelty) detection: a point is anomalous where the model gives it a low likelihood.

score(x) = log p(x) under a genlab model fitted to normal data; the threshold t is the ``contamination``-quantile
of the training scores, so that a fraction ``contamination`` of the training data falls below it
(the convention of scikit-learn's outlier detectors, e.g. ``IsolationForest.offset_``; Chandola et al. 2009,
Sec. 8, "statistical anomaly detection"). ``decision_function = score - t``; ``predict`` is -1 (anomaly) where
it is negative, +1 (normal) otherwise.

Training scores are in-sample: a model that memorises (``kde``, or a large model on little data) scores its
training points higher than new normal points, so far more than ``contamination`` of new normal data may be
flagged. ``holdout > 0`` fixes that: the model is fitted to a random part of the data and the threshold is the
quantile of the scores of the held-out rest (split conformal calibration; Vovk et al. 2005, Laxhammar & Falkman 2015).

Saved form (no pickle): the model's own checkpoint in the directory (so ``genlab sample``/``eval`` work on it)
plus ``detector.json`` (parameters, threshold, shape).
"""

from __future__ import annotations

import numbers
from pathlib import Path

import numpy as np
import torch
from sklearn.base import BaseEstimator, OutlierMixin

from genlab.apps import density
from genlab.errors import CheckpointError, ConfigError, DataError

__all__ = ["AnomalyDetector", "FORMAT", "META"]

FORMAT = "genlab-detector/1"
META = "detector.json"


class AnomalyDetector(OutlierMixin, BaseEstimator):
    """Flag low-likelihood points under a genlab model (a scikit-learn outlier detector).

    Parameters
    ----------
    model_name : registered genlab model with a likelihood, e.g. ``"gmm"``, ``"kde"``, ``"maf"``.
    contamination : expected fraction of anomalies, a number in [0, 1): the threshold is this quantile of the
        training scores (0 puts it at the lowest training score, so nothing in training is flagged).
    holdout : fraction in [0, 1) of ``X`` held out from fitting (seeded random split) whose scores set the
        threshold; 0 (default, scikit-learn's convention) uses the scores of all training data.
    config : dict of model options (``genlab.create(model_name, shape, **config)``).
    fit_kwargs : dict forwarded to ``model.fit`` (``steps``, ``time_budget``, ``batch_size``, ``lr``, ``seed``,
        ``progress``).
    dequantize, n_dequant, seed : as in :class:`genlab.BayesClassifier` (integer data are dequantized).

    Attributes after ``fit``: ``model_``, ``threshold_`` (= ``offset_``), ``shape_``, ``dequantize_``,
    ``n_features_in_``.
    """

    def __init__(self, model_name="gmm", *, contamination=0.1, holdout=0.0, config=None, fit_kwargs=None,
                 dequantize="auto", n_dequant=4, seed=0):
        self.model_name = model_name
        self.contamination = contamination
        self.holdout = holdout
        self.config = config
        self.fit_kwargs = fit_kwargs
        self.dequantize = dequantize
        self.n_dequant = n_dequant
        self.seed = seed

    def fit(self, X, y=None):
        """Fit the model to ``X`` (normal data; ``y`` is ignored) and set the threshold from ``contamination``."""
        c = self.contamination
        if isinstance(c, bool) or not isinstance(c, numbers.Real) or not 0 <= c < 1:
            raise ConfigError(f"contamination must be a number in [0, 1), got {c!r}")
        x = density.check_X(self, X, reset=True)
        fit_x, cal_x = self._split(x)
        deq = density.resolve_dequantize(self.dequantize, x)
        model = density.new_model(self.model_name, x.shape[1:], self.config)
        self.model_ = density.fit_model(model, fit_x, self.fit_kwargs, dequantize=deq, seed=self.seed)
        self.dequantize_ = deq
        cal = density.score(self.model_, cal_x, dequantize=deq, n_dequant=self.n_dequant, seed=self.seed)
        train = np.nan_to_num(cal, nan=-1e300, neginf=-1e300)
        self.threshold_ = float(np.quantile(train, float(c)))
        return self

    def _split(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(data to fit, data whose scores set the threshold): both ``x`` when ``holdout`` is 0."""
        h = self.holdout
        if isinstance(h, bool) or not isinstance(h, numbers.Real) or not 0 <= h < 1:
            raise ConfigError(f"holdout must be a number in [0, 1), got {h!r}")
        if h == 0:
            return x, x
        n = x.shape[0]
        n_hold = int(round(h * n))
        if n_hold < 1 or n - n_hold < 2:
            raise DataError(f"holdout={h} of {n} samples leaves {n_hold} to calibrate and {n - n_hold} to fit; "
                            "need at least 1 and 2")
        perm = torch.randperm(n, generator=torch.Generator().manual_seed(int(self.seed)))
        return x[perm[n_hold:]], x[perm[:n_hold]]

    @property
    def offset_(self) -> float:
        """scikit-learn's name for the threshold: ``decision_function = score_samples - offset_``."""
        density.check_fitted(self, "threshold_")
        return self.threshold_

    def score_samples(self, X) -> np.ndarray:
        """log p(x) in nats, (N,): higher is more normal."""
        density.check_fitted(self, "model_")
        x = density.check_X(self, X, reset=False)
        return density.score(self.model_, x, dequantize=self.dequantize_, n_dequant=self.n_dequant, seed=self.seed)

    def decision_function(self, X) -> np.ndarray:
        """score - threshold, (N,): negative for anomalies."""
        density.check_fitted(self, "threshold_")
        return self.score_samples(X) - self.threshold_

    def predict(self, X) -> np.ndarray:
        """+1 (normal) or -1 (anomaly) per sample, (N,) int64."""
        d = np.nan_to_num(self.decision_function(X), nan=-np.inf)
        return np.where(d < 0, -1, 1).astype(np.int64)

    # ------------------------------------------------------------------ persistence
    def save(self, path) -> Path:
        """Write the model's checkpoint and ``detector.json`` into the directory ``path``."""
        density.check_fitted(self, "threshold_")
        meta = {"format": FORMAT, "params": self.get_params(), "threshold": self.threshold_,
                "shape": list(self.shape_), "dequantize": self.dequantize_}
        path = density.write_meta(path, META, meta)
        self.model_.save(path)
        return path

    @classmethod
    def load(cls, path) -> AnomalyDetector:
        """A fitted detector from a directory written by :meth:`save` (CheckpointError if it is not one)."""
        meta = density.read_meta(path, META, FORMAT)
        try:
            est = cls(**meta["params"])
            shape = tuple(int(s) for s in meta["shape"])
            est.threshold_ = float(meta["threshold"])
            est.dequantize_ = bool(meta["dequantize"])
        except (KeyError, TypeError, ValueError) as exc:
            raise CheckpointError(f"{Path(path) / META} is incomplete or malformed ({type(exc).__name__}: {exc})") \
                from None
        est.model_ = density.load_model(path, model_name=est.model_name, shape=shape)
        est.shape_, est.n_features_in_ = shape, int(np.prod(shape))
        return est
