"""Generative (Bayes) classifier: one density per class, and Bayes' rule.

p(y = k | x) = p(x | y = k) p(y = k) / sum_j p(x | y = j) p(y = j)   (Bishop 2006, Sec. 4.2; Eq. 4.7),

with p(x | y = k) any genlab model fitted to the samples of class k and normalised with logsumexp.
With one Gaussian per class (``gmm`` with ``n_components=1``) this is quadratic discriminant analysis.

Saved form (no pickle): a directory holding ``classifier.json`` (parameters, classes, log priors, shape) and one
genlab checkpoint per class in ``class_0/``, ``class_1/``, ... (in the order of ``classes_``).
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
from scipy.special import logsumexp
from sklearn.base import BaseEstimator, ClassifierMixin

from genlab.apps import density
from genlab.errors import CheckpointError, ConfigError, DataError

__all__ = ["BayesClassifier", "FORMAT", "META"]

FORMAT = "genlab-classifier/1"
META = "classifier.json"


class BayesClassifier(ClassifierMixin, BaseEstimator):
    """Classify with one generative model per class (a scikit-learn estimator).

    Parameters
    ----------
    model_name : registered genlab model with a likelihood (``genlab.models.names()``), e.g. ``"gmm"``, ``"kde"``.
    config : dict of model options for ``genlab.create(model_name, shape, **config)`` (a dict rather than
        ``**kwargs`` so that scikit-learn's ``get_params``/``set_params``/``clone`` see it), e.g.
        ``{"n_components": 2}``.
    fit_kwargs : dict forwarded to every ``model.fit``: ``steps``, ``time_budget`` (seconds per class),
        ``batch_size``, ``lr``, ``seed``, ``progress`` (default False).
    prior : ``"empirical"`` (class frequencies), ``"uniform"``, or a sequence of positive class weights in the
        order of ``classes_``.
    dequantize : ``True``, ``False`` or ``"auto"`` (the data are all integers). When on, each class model is fitted
        to x + U[0, 1) and p(x | y) is the mass of x's unit cell, estimated by averaging p(x + u_k | y) over
        ``n_dequant`` uniform draws that are shared by all classes (see :mod:`genlab.apps.density`).
    n_dequant : number of dequantization draws at prediction time.
    seed : seed of training and of the dequantization draws.

    Attributes after ``fit``: ``classes_``, ``class_count_``, ``class_log_prior_``, ``models_`` (one per class),
    ``shape_`` (per-sample shape), ``dequantize_`` (bool), ``n_features_in_``.

    Non-finite class log-likelihoods follow one rule (:meth:`predict_joint_log_proba`): ``-inf`` is a zero density
    and gives that class posterior 0; NaN or ``+inf`` (the class model failed on x) excludes that class for that
    row, with a ``RuntimeWarning``; a row with no class left gets the prior as its posterior, with a
    ``RuntimeWarning``.
    """

    def __init__(self, model_name="gmm", *, config=None, fit_kwargs=None, prior="empirical", dequantize="auto",
                 n_dequant=4, seed=0):
        self.model_name = model_name
        self.config = config
        self.fit_kwargs = fit_kwargs
        self.prior = prior
        self.dequantize = dequantize
        self.n_dequant = n_dequant
        self.seed = seed

    # ------------------------------------------------------------------ fitting
    def fit(self, X, y):
        """Fit one model per class on that class's samples of ``X`` (N, ...), numpy or torch."""
        x = density.check_X(self, X, reset=True)
        labels = density.check_y(y, x.shape[0])
        classes, inverse, counts = np.unique(labels, return_inverse=True, return_counts=True)
        if len(classes) < 2:
            raise DataError(f"y holds {len(classes)} class(es); a classifier needs at least 2")
        if counts.min() < 2:
            raise DataError(f"class {classes[counts.argmin()]!r} has {counts.min()} sample; every class needs at "
                            "least 2 to fit a density")
        log_prior = self._log_prior(counts)
        deq = density.resolve_dequantize(self.dequantize, x)
        models = []
        for k in range(len(classes)):
            model = density.new_model(self.model_name, x.shape[1:], self.config)
            models.append(density.fit_model(model, x[inverse == k], self.fit_kwargs, dequantize=deq, seed=self.seed))
        self.classes_, self.class_count_, self.class_log_prior_ = classes, counts, log_prior
        self.models_, self.dequantize_ = models, deq
        return self

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.required = True
        return tags

    def _log_prior(self, counts: np.ndarray) -> np.ndarray:
        if isinstance(self.prior, str):
            if self.prior == "empirical":
                return np.log(counts / counts.sum())
            if self.prior == "uniform":
                return np.full(len(counts), -np.log(len(counts)))
            raise ConfigError(f"prior must be 'empirical', 'uniform' or a sequence of class weights, got {self.prior!r}")
        try:
            w = np.asarray(self.prior, dtype=np.float64)
        except (TypeError, ValueError):
            raise ConfigError(f"prior must be 'empirical', 'uniform' or class weights, got {self.prior!r}") from None
        if w.shape != (len(counts),) or not np.isfinite(w).all() or (w <= 0).any():
            raise ConfigError(f"prior weights must be {len(counts)} positive numbers (one per class), got {self.prior!r}")
        return np.log(w / w.sum())

    # ------------------------------------------------------------------ prediction
    def log_likelihoods(self, X) -> np.ndarray:
        """log p(x | y = k) for every class: (N, K) float64, nats, columns in the order of ``classes_``."""
        density.check_fitted(self, "models_")
        x = density.check_X(self, X, reset=False)
        return np.stack([density.score(m, x, dequantize=self.dequantize_, n_dequant=self.n_dequant, seed=self.seed)
                         for m in self.models_], axis=1)

    def predict_joint_log_proba(self, X) -> np.ndarray:
        """log p(x, y = k) = log p(x | y = k) + log p(y = k): (N, K).

        A class log-likelihood of ``-inf`` (zero density) stays ``-inf``. NaN or ``+inf`` means the class model
        failed on that x: it becomes ``-inf`` too (the class is excluded for that row), with a ``RuntimeWarning``
        naming how many rows and classes it hit.
        """
        ll = self.log_likelihoods(X)
        failed = np.isnan(ll) | np.isposinf(ll)
        if failed.any():
            bad = [str(c) for c in self.classes_[failed.any(axis=0)]]
            warnings.warn(f"BayesClassifier: the class model(s) {', '.join(bad)} returned NaN or +inf log-likelihoods "
                          f"on {int(failed.any(axis=1).sum())} of {len(ll)} rows; those classes are excluded for those "
                          "rows (posterior 0)", RuntimeWarning, stacklevel=2)
            ll = np.where(failed, -np.inf, ll)
        return ll + self.class_log_prior_

    def _posterior_joint(self, X) -> np.ndarray:
        """The joint log-probabilities, with rows where every class has zero (or failed) density replaced by the
        log prior: without evidence the posterior is the prior (warned)."""
        joint = self.predict_joint_log_proba(X)
        empty = np.isneginf(joint).all(axis=1)
        if empty.any():
            warnings.warn(f"BayesClassifier: {int(empty.sum())} of {len(joint)} rows have zero (or failed) density "
                          "under every class; their posterior is the prior", RuntimeWarning, stacklevel=3)
            joint = np.where(empty[:, None], self.class_log_prior_, joint)
        return joint

    def predict_log_proba(self, X) -> np.ndarray:
        """log p(y = k | x), (N, K), normalised with logsumexp (non-finite log-likelihoods: see the class docstring)."""
        joint = self._posterior_joint(X)
        return joint - logsumexp(joint, axis=1, keepdims=True)

    def predict_proba(self, X) -> np.ndarray:
        """p(y = k | x), (N, K); rows sum to 1."""
        return np.exp(self.predict_log_proba(X))

    def predict(self, X) -> np.ndarray:
        """The maximum a-posteriori class of every sample, (N,), values from ``classes_``."""
        joint = self._posterior_joint(X)
        return self.classes_[np.argmax(joint, axis=1)]

    # ------------------------------------------------------------------ persistence
    def save(self, path) -> Path:
        """Write ``path/classifier.json`` and one checkpoint per class (``path/class_<k>/``)."""
        density.check_fitted(self, "models_")
        params = self.get_params()
        if not isinstance(params["prior"], str):
            params["prior"] = np.asarray(params["prior"], dtype=np.float64).tolist()
        meta = {
            "format": FORMAT,
            "params": params,
            "classes": self.classes_.tolist(),
            "class_count": self.class_count_.tolist(),
            "class_log_prior": self.class_log_prior_.tolist(),
            "shape": list(self.shape_),
            "dequantize": self.dequantize_,
            "models": [f"class_{k}" for k in range(len(self.classes_))],
        }
        path = density.write_meta(path, META, meta)
        for sub, model in zip(meta["models"], self.models_, strict=True):
            model.save(path / sub)
        return path

    @classmethod
    def load(cls, path) -> BayesClassifier:
        """A fitted classifier from a directory written by :meth:`save` (CheckpointError if it is not one)."""
        meta = density.read_meta(path, META, FORMAT)
        try:
            est = cls(**meta["params"])
            classes = np.asarray(meta["classes"])
            subs, shape = list(meta["models"]), tuple(int(s) for s in meta["shape"])
            est.class_count_ = np.asarray(meta["class_count"], dtype=np.int64)
            est.class_log_prior_ = np.asarray(meta["class_log_prior"], dtype=np.float64)
            est.dequantize_ = bool(meta["dequantize"])
        except (KeyError, TypeError, ValueError) as exc:
            raise CheckpointError(f"{Path(path) / META} is incomplete or malformed ({type(exc).__name__}: {exc})") \
                from None
        if not (len(classes) == len(subs) == len(est.class_log_prior_) >= 2) or any("/" in s or ".." in s for s in subs):
            raise CheckpointError(f"{Path(path) / META} lists inconsistent classes and models")
        est.models_ = [density.load_model(Path(path) / s, model_name=est.model_name, shape=shape) for s in subs]
        est.classes_, est.shape_, est.n_features_in_ = classes, shape, int(np.prod(shape))
        return est
