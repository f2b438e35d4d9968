"""Any genlab model with a likelihood as a scikit-learn density estimator (the API of ``KernelDensity``).

>>> from sklearn.model_selection import GridSearchCV
>>> grid = [{"model": ["gmm"], "n_components": [1, 4, 16]}, {"model": ["nsf"], "hidden_features": [(32, 32)]}]
>>> best = GridSearchCV(genlab.DensityEstimator(), grid, cv=3).fit(X)   # doctest: +SKIP

``score_samples(X)`` is log p(x) in nats, ``score(X)`` the mean log-likelihood (GaussianMixture's convention), so a
grid search picks by held-out log-likelihood. The model's config fields are estimator parameters: ``get_params``
lists every field of the current model's ``Config`` (defaults included), ``set_params``/``__init__`` take any of them,
and ``clone`` keeps them. Values are checked at ``fit`` (scikit-learn's rule: ``__init__`` and ``set_params`` never
raise). When ``set_params`` changes ``model``, config values that are not fields of the new model, or that equal the
old model's defaults, are dropped (the new model's defaults apply).

``random_state``: None (a fresh seed per fit/sample), an int, or a ``numpy.random.RandomState``; it seeds training,
the dequantization draws and, unless ``sample`` gets its own, sampling.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import torch
from sklearn.base import BaseEstimator, DensityMixin
from sklearn.utils import check_random_state

from genlab.apps import density
from genlab.rng import derive_seed

__all__ = ["DensityEstimator"]

#: parameters of the estimator itself; every other parameter is a field of the model's config
OWN = ("model", "random_state", "time_budget", "dequantize", "n_dequant")


def _config_defaults(model) -> dict:
    """{field: default} of the model's Config, or {} when ``model`` is not a registered name."""
    from genlab import registry

    try:
        cls = registry.get(model)
    except Exception:  # an invalid name is reported by fit(), not here (scikit-learn's rule)
        return {}
    return {f.name: f.default for f in dataclasses.fields(cls.Config)}


class DensityEstimator(DensityMixin, BaseEstimator):
    """A genlab model as a scikit-learn density estimator (see the module docstring).

    Parameters
    ----------
    model : registered genlab model with a likelihood (``genlab.models.names()``), default ``"gmm"``.
    random_state : None, int or ``numpy.random.RandomState``: the seed of fit, dequantization and sampling.
    time_budget : seconds of training (neural families), or None for the config's ``steps``.
    dequantize : fit x + U[0, 1) and score the mass of the unit cell (integer data; see :mod:`genlab.apps.density`).
    n_dequant : uniform draws per point when ``dequantize``.
    **config : fields of the model's config (``genlab.create(model, shape, **config)``), e.g. ``n_components=4``.

    Attributes after ``fit``: ``model_`` (the fitted genlab model), ``shape_``, ``n_features_in_``, ``seed_``.
    """

    def __init__(self, model="gmm", *, random_state=None, time_budget=None, dequantize=False, n_dequant=4, **config):
        self.model = model
        self.random_state = random_state
        self.time_budget = time_budget
        self.dequantize = dequantize
        self.n_dequant = n_dequant
        self._config = dict(config)

    # ------------------------------------------------------------------ parameters
    def get_params(self, deep=True) -> dict:
        """The estimator's own parameters plus every config field of ``model`` (defaults where not set)."""
        own = {k: getattr(self, k) for k in OWN}
        return {**own, **_config_defaults(self.model), **self._config}

    def set_params(self, **params):
        """Set own parameters and config fields (checked at ``fit``); returns ``self``."""
        if "model" in params and not _same(params["model"], self.model):
            old, new = _config_defaults(self.model), _config_defaults(params["model"])
            self._config = {k: v for k, v in self._config.items()
                            if (k in new or not new) and not (k in old and _same(v, old[k]))}
        for key, value in params.items():
            if key in OWN:
                setattr(self, key, value)
            else:
                self._config[key] = value
        return self

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.requires_fit = True
        tags.non_deterministic = self.random_state is None
        return tags

    # ------------------------------------------------------------------ fit / score / sample
    def fit(self, X, y=None):
        """Fit the model to ``X`` (N, ...) (``y`` is ignored); returns ``self``."""

        x = density.check_X(self, X, reset=True)
        self.seed_ = _seed(self.random_state)
        config = {k: v for k, v in self.get_params().items() if k not in OWN}
        fit_kwargs = {} if self.time_budget is None else {"time_budget": self.time_budget}
        deq = density.resolve_dequantize(self.dequantize, x)
        model = density.new_model(self.model, x.shape[1:], config)
        self.model_ = density.fit_model(model, x, fit_kwargs, dequantize=deq, seed=self.seed_)
        self.dequantize_ = deq
        return self

    def score_samples(self, X) -> np.ndarray:
        """log p(x) in nats per sample, (N,) float64 (the mass of the unit cell when dequantized)."""
        density.check_fitted(self, "model_")
        x = density.check_X(self, X, reset=False)
        return density.score(self.model_, x, dequantize=self.dequantize_, n_dequant=self.n_dequant, seed=self.seed_)

    def score(self, X, y=None) -> float:
        """Mean log-likelihood of ``X`` in nats (higher is better; the criterion of a grid search)."""
        return float(np.mean(self.score_samples(X)))

    def sample(self, n_samples=1, random_state=None) -> np.ndarray:
        """``n_samples`` draws, (n_samples, *shape) float64 (``KernelDensity.sample``'s form: X only)."""
        density.check_fitted(self, "model_")
        seed = _seed(random_state) if random_state is not None else _seed(self.random_state)
        x = self.model_.sample(int(n_samples), seed=seed)
        return x.to(torch.float64).numpy()


def _seed(random_state) -> int:
    """An int seed from scikit-learn's ``random_state`` (None: a fresh one; int: itself; RandomState: a draw)."""
    if random_state is None:
        return derive_seed(None) & (2**31 - 1)  # OS entropy: the global RNG is never read
    if isinstance(random_state, (int, np.integer)) and not isinstance(random_state, bool):
        return int(random_state) & (2**63 - 1)
    return int(check_random_state(random_state).randint(2**31 - 1))


def _same(a, b) -> bool:
    try:
        return bool(a == b)
    except Exception:  # arrays and the like: not a default
        return False
