"""What the applications share: create, fit and score a density through the public contract, and keep it on disk.

The applications reach models only through :func:`genlab.create` / :func:`genlab.load` and the contract
(``fit``, ``log_prob``, ``likelihood``, ``save``), never by importing a family.

Discrete data (integer-valued, e.g. digits 0..16) are modelled with uniform dequantization (Theis et al., 2016):
the model is fitted with ``fit(..., dequantize=True)``, i.e. to x + u with u ~ U[0, 1)^D, so it is a density on
[0, levels)^D. The probability of an integer point is then the mass of its unit cell,
P(x) = E_u[p(x + u)], which :func:`score` estimates with ``n_dequant`` uniform draws,
log P(x) ~= logsumexp_k log p(x + u_k) - log K (a lower bound in expectation, by Jensen, exact as K grows).
The draws come from a generator seeded by ``seed``, so every class (or every call) sees the same u_k:
common random numbers, which keeps the class comparison of a classifier free of that noise.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import torch
from sklearn.exceptions import NotFittedError as _SkNotFitted

from genlab.checks import instance_of, positive_int
from genlab.data.validate import as_tensor
from genlab.errors import CheckpointError, ConfigError, DataError

__all__ = ["NotFittedError", "InputTypeError", "FIT_KEYS", "as_data", "check_X", "check_y", "resolve_dequantize", "new_model", "fit_model", "score",
           "write_meta", "read_meta", "check_fitted", "check_labels", "load_model"]

#: keys accepted in ``fit_kwargs`` (forwarded to ``model.fit``)
FIT_KEYS = ("steps", "time_budget", "batch_size", "lr", "seed", "progress")


class InputTypeError(DataError, TypeError):
    """Input of a type that cannot be read as numbers (a DataError for genlab, a TypeError as scikit-learn raises)."""


class NotFittedError(ConfigError, _SkNotFitted):
    """An application used before ``fit`` (a ConfigError for genlab, a NotFittedError for scikit-learn)."""


def check_fitted(est, attribute: str) -> None:
    if not hasattr(est, attribute):
        raise NotFittedError(f"this {type(est).__name__} is not fitted yet: call fit() first (or load())")


def as_data(X, shape=None, *, what: str = "X") -> torch.Tensor:
    """``X`` (numpy or torch, (N, ...)) as a finite float32 tensor; DataError otherwise."""
    return as_tensor(X, shape, what=what)


def check_X(est, X, *, reset: bool) -> torch.Tensor:
    """``X`` through scikit-learn's ``check_array`` (its messages for sparse, complex, string, 1-D, empty and non-finite
    input, as DataError), then as a float32 tensor (N, *shape).

    ``reset=True`` (fit) sets ``est.shape_`` and ``est.n_features_in_`` (the product of the per-sample shape);
    otherwise ``X`` must match them (scikit-learn's message).
    """
    from sklearn.utils.validation import _check_feature_names, check_array

    if isinstance(X, torch.Tensor):
        X = X.detach().cpu().numpy()
    try:
        _check_feature_names(est, X, reset=reset)
        arr = check_array(X, allow_nd=True, dtype=(np.float64, np.float32), input_name="X")
    except TypeError as exc:
        raise InputTypeError(str(exc)) from None
    except ValueError as exc:
        raise DataError(str(exc)) from None
    arr = np.require(arr, requirements="W")  # a read-only input (memmap) is copied: torch needs writable memory
    n = int(np.prod(arr.shape[1:]))
    if reset:
        est.shape_, est.n_features_in_ = tuple(arr.shape[1:]), n
    elif n != est.n_features_in_:
        raise DataError(f"X has {n} features, but {type(est).__name__} is expecting {est.n_features_in_} features "
                        "as input")
    return as_tensor(arr, None if reset else est.shape_, what="X")


def check_y(y, n: int) -> np.ndarray:
    """Class labels (N,) through scikit-learn's target checks (a column vector warns and is raveled; continuous
    targets and None are refused), then :func:`check_labels`."""
    from sklearn.utils.multiclass import check_classification_targets
    from sklearn.utils.validation import column_or_1d

    if y is None:
        raise DataError("this estimator requires y to be passed, but the target y is None")
    if isinstance(y, torch.Tensor):
        y = y.detach().cpu().numpy()
    try:
        y = column_or_1d(y, warn=True)
        check_classification_targets(y)
    except (TypeError, ValueError) as exc:
        raise DataError(str(exc)) from None
    if y.dtype == object:  # labels as Python objects: all strings or all numbers (check_classification_targets)
        y = y.astype(str) if all(isinstance(v, str) for v in y) else y.astype(np.float64)
    return check_labels(y, n)


def resolve_dequantize(flag, x: torch.Tensor) -> bool:
    """``True``/``False`` as given; ``"auto"``: True when every value of ``x`` is an integer."""
    if isinstance(flag, (bool, np.bool_)):
        return bool(flag)
    if flag == "auto":
        return bool(torch.equal(x, x.round()))
    raise ConfigError(f"dequantize must be True, False or 'auto', got {flag!r}")


def new_model(model_name: str, shape, config: dict | None):
    """An untrained model from the registry; ConfigError if it has no likelihood."""
    from genlab.models import create

    instance_of("config", config, (dict, type(None)), "a dict of model options or None")
    model = create(model_name, tuple(shape), **(config or {}))
    if model.likelihood == "none":
        raise ConfigError(f"model '{model_name}' has no likelihood (likelihood='none'), so it cannot score data; "
                          "choose a model with an exact likelihood, a bound or an estimate")
    return model


def fit_model(model, x: torch.Tensor, fit_kwargs: dict | None, *, dequantize: bool, seed: int):
    """``model.fit(x, dequantize=..., seed=..., progress=False, **fit_kwargs)`` after checking ``fit_kwargs``."""
    instance_of("fit_kwargs", fit_kwargs, (dict, type(None)), "a dict or None")
    kwargs: dict[str, Any] = {"seed": seed, "progress": False, **(fit_kwargs or {})}
    unknown = sorted(set(kwargs) - set(FIT_KEYS))
    if unknown:
        raise ConfigError(f"unknown fit_kwargs key(s) {', '.join(map(repr, unknown))}; valid keys: "
                          f"{', '.join(FIT_KEYS)} (dequantization is the estimator's own 'dequantize' option)")
    return model.fit(x, dequantize=dequantize, **kwargs)


def score(model, x: torch.Tensor, *, dequantize: bool, n_dequant: int, seed: int) -> np.ndarray:
    """log p(x) (N,) float64 in nats; for dequantized models the log of the cell mass (module docstring)."""
    if not dequantize:
        return model.log_prob(x, seed=seed).double().numpy()
    n_dequant = positive_int("n_dequant", n_dequant)
    g = torch.Generator().manual_seed(int(seed))
    draws = [model.log_prob(x + torch.rand(x.shape, generator=g), seed=seed + k).double()
             for k in range(int(n_dequant))]
    return (torch.logsumexp(torch.stack(draws), dim=0) - math.log(n_dequant)).numpy()


def write_meta(path, filename: str, meta: dict) -> Path:
    """Create the directory ``path`` and write ``meta`` as JSON into it; ConfigError if not JSON-serialisable."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise CheckpointError(f"cannot save into '{path}': it is a file, not a directory")
    try:
        text = json.dumps(meta, indent=2)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"cannot save: a parameter is not JSON-serialisable ({exc})") from None
    path.mkdir(parents=True, exist_ok=True)
    (path / filename).write_text(text + "\n")
    return path


def read_meta(path, filename: str, fmt: str) -> dict:
    """Read and check the JSON ``path/filename`` written by :func:`write_meta` with ``meta["format"] == fmt``."""
    from genlab.checkpoint import read_json

    return read_json(path, filename, fmt, f"saved {fmt.split('/')[0]}")


def check_labels(y, n: int) -> np.ndarray:
    """Class labels (N,) as a numpy array (any sortable values); DataError otherwise."""
    if isinstance(y, torch.Tensor):
        y = y.detach().cpu().numpy()
    try:
        arr = np.asarray(y)
    except Exception as exc:
        raise DataError(f"y could not be read as an array: {exc}") from None
    if arr.ndim != 1 or arr.shape[0] != n:
        raise DataError(f"y must have shape ({n},) (one label per sample), got {arr.shape}")
    if arr.dtype.kind == "f" and not np.isfinite(arr).all():
        raise DataError("y contains NaN or infinite labels")
    if arr.dtype.kind == "O":
        raise DataError("y must hold numbers or strings, not Python objects")
    return arr


def load_model(path, *, model_name: str, shape) -> Any:
    """``genlab.load(path)`` checked against the expected model name and shape."""
    from genlab.models import load

    model = load(path)
    if model.name != model_name or tuple(model.shape) != tuple(shape):
        raise CheckpointError(f"'{path}' holds model '{model.name}' of shape {tuple(model.shape)}, expected "
                              f"'{model_name}' of shape {tuple(shape)}")
    return model
