"""One ``Registry[T]`` type for every table of names, plus the model registry and typed config validation.

:class:`Registry` is the small generic table every part of genlab registers into (models here; data sets in
:mod:`genlab.data.registry`; data kinds in :mod:`genlab.data.kinds`): ``register`` / ``get`` / ``names`` and one error
text for an unknown name (with a "did you mean" hint). Families register their classes with :func:`register`;
:mod:`genlab.models` imports the families so every built-in name is present before anyone asks.
"""

from __future__ import annotations

import dataclasses
import difflib
import inspect
import math
import types
import typing
import warnings
from collections.abc import Callable, Iterator, MutableMapping
from typing import Any, Generic, TypeVar

from genlab.checks import in_range, known_options, one_of
from genlab.errors import ConfigError

__all__ = ["Registry", "register", "get", "names", "make_config", "parse_value", "bounded", "check_bounds", "hook_options",
           "RENAMED_FIELDS", "RENAMED_OPTIONS", "renamed"]

T = TypeVar("T")
_MISSING = object()


class Registry(MutableMapping, Generic[T]):
    """name -> entry, for entries of one kind ``what`` ("model", "data set", ...).

    ``get(name)`` raises ``error`` (default :class:`~genlab.errors.ConfigError`) with one line naming the valid
    names (and ``how``, e.g. how to register one, when given); ``reg[name]`` is plain mapping access (KeyError), so
    a registry also works wherever a dict does, and as the ``choices`` of a :func:`bounded` field. :meth:`seal` makes
    the names registered so far built-in: ``register`` never replaces them, while a user's own names stay replaceable
    with ``replace=True``."""

    def __init__(self, what: str, error: type[Exception] = ConfigError, *, how: str = ""):
        self.what, self.error, self.how = what, error, how
        self._items: dict[str, T] = {}
        self._builtin: frozenset[str] = frozenset()

    def register(self, name: str, entry: T, *, replace: bool = False) -> T:
        """Add ``entry`` under ``name``; a second, different entry under the same name is refused unless ``replace``,
        and always under a built-in name (:meth:`seal`; ``error``)."""
        if not isinstance(name, str) or not name:
            raise ValueError(f"a {self.what} needs a non-empty name, got {name!r}")
        if name in self._builtin and self._items[name] is not entry:
            raise self.error(f"'{name}' is a built-in {self.what} and cannot be replaced; choose another name")
        if not replace and name in self._items and self._items[name] is not entry:
            raise ValueError(f"{self.what} name '{name}' is registered twice")
        self._items[name] = entry
        return entry

    def get(self, name: str, default=_MISSING) -> T:  # type: ignore[override]
        """The entry registered under ``name``, else ``default`` when given, else ``error``: "unknown <what> 'x'
        (did you mean 'y'?); choose from: ..."."""
        if isinstance(name, str) and name in self._items:
            return self._items[name]
        if default is not _MISSING:
            return default
        close = difflib.get_close_matches(name, list(self._items), n=1) if isinstance(name, str) else []
        hint = f" (did you mean '{close[0]}'?)" if close and close[0] != name else ""
        how = f" ({self.how})" if self.how else ""
        raise self.error(f"unknown {self.what} '{name}'{hint}; choose from: {', '.join(self.names())}{how}")

    def seal(self) -> Registry[T]:
        """Make every name registered so far built-in (never replaced by ``register``); returns the registry."""
        self._builtin = frozenset(self._items)
        return self

    def names(self, where: Callable[[T], bool] | None = None) -> list[str]:
        """Registered names, sorted; ``where(entry)`` keeps only those entries for which it is true."""
        return sorted(k for k, v in self._items.items() if where is None or where(v))

    def __getitem__(self, name: str) -> T:
        return self._items[name]

    def __setitem__(self, name: str, entry: T) -> None:
        self._items[name] = entry

    def __delitem__(self, name: str) -> None:
        del self._items[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __repr__(self) -> str:
        return f"Registry({self.what!r}: {', '.join(self.names())})"


#: every registered model class by name
MODELS: Registry[type] = Registry("model")
_REGISTRY = MODELS  # the name older code and tests use


def register(cls):
    """Class decorator: add a model class under ``cls.name``."""
    if not cls.name:
        raise ValueError(f"{cls.__name__} has no name")
    MODELS.register(cls.name, cls)
    return cls


def names() -> list[str]:
    return MODELS.names()


def get(name: str):
    return MODELS.get(name)


def bounded(default, *, ge=None, gt=None, le=None, lt=None, choices=None):
    """A config field whose values :func:`make_config` checks: ``ge <= v``, ``gt < v``, ``v <= le``, ``v < lt``,
    ``v in choices``; a bounded number must also be finite. Values out of range are refused, never clamped."""
    bounds = {"ge": ge, "gt": gt, "le": le, "lt": lt, "choices": choices}
    return dataclasses.field(default=default, metadata={"bounds": bounds})


def _check_bounds(key: str, value, bounds: dict) -> None:
    if value is None:
        return
    if bounds["choices"] is not None:
        one_of(f"config '{key}'", value, bounds["choices"])
    else:
        in_range(f"config '{key}'", value, **{k: bounds[k] for k in ("ge", "gt", "le", "lt")})


def _field_types(config_cls) -> dict[str, Any]:
    hints = typing.get_type_hints(config_cls)
    return {f.name: hints[f.name] for f in dataclasses.fields(config_cls)}


def parse_value(tp, value: Any, key: str):
    """Check ``value`` against the annotation ``tp``; strings (from the CLI) are converted."""
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(tp)
        if value is None or (isinstance(value, str) and value.lower() in ("none", "null")):
            if type(None) in args:
                return None
        for arg in args:
            if arg is type(None):
                continue
            try:
                return parse_value(arg, value, key)
            except ConfigError:
                continue
        raise ConfigError(f"config '{key}': cannot use {value!r} as {tp}")
    if origin in (tuple, list):
        items = [v for v in value.split(",") if v.strip()] if isinstance(value, str) else value
        if not isinstance(items, (list, tuple)):
            raise ConfigError(f"config '{key}' must be a list, got {value!r}")
        (inner, *_rest) = typing.get_args(tp) or (Any,)
        return tuple(parse_value(inner, v, key) for v in items) if origin is tuple else [parse_value(inner, v, key) for v in items]
    if origin is dict or tp is dict:
        if isinstance(value, str):
            import json

            try:
                value = json.loads(value) if value.strip() else {}
            except json.JSONDecodeError:
                raise ConfigError(f"config '{key}' must be a JSON object, got {value!r}") from None
        if not isinstance(value, dict) or not all(isinstance(k, str) for k in value):
            raise ConfigError(f"config '{key}' must be a mapping of option names to values, got {value!r}")
        return dict(value)
    if tp is Any:
        return value
    if tp is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "1", "yes", "on", "false", "0", "no", "off"):
            return value.lower() in ("true", "1", "yes", "on")
        raise ConfigError(f"config '{key}' must be true or false, got {value!r}")
    if tp is int:
        if isinstance(value, bool):
            raise ConfigError(f"config '{key}' must be an integer, got {value!r}")
        if isinstance(value, int):
            return value
        if isinstance(value, str):
            try:
                return int(value)
            except ValueError:
                pass
        if isinstance(value, float) and value.is_integer():
            return int(value)
        raise ConfigError(f"config '{key}' must be an integer, got {value!r}")
    if tp is float:
        if isinstance(value, bool):
            raise ConfigError(f"config '{key}' must be a number, got {value!r}")
        try:
            out = float(value)
        except (TypeError, ValueError):
            raise ConfigError(f"config '{key}' must be a number, got {value!r}") from None
        if math.isnan(out):
            raise ConfigError(f"config '{key}' must be a number, got nan")
        return out
    if tp is str:
        if not isinstance(value, str):
            raise ConfigError(f"config '{key}' must be a string, got {value!r}")
        return value
    raise ConfigError(f"config '{key}': unsupported type {tp}")


#: config fields renamed with checkpoint format 7 (issue 24, one name per meaning), old -> new: the scikit-learn
#: ``n_`` counts, the likelihood's ``exact_max_dim``, torchdiffeq's ``method``, Ho & Salimans' ``p_uncond``. Old
#: checkpoints are read through :data:`genlab.checkpoint.LEGACY_NAMES`; old keywords warn (:func:`renamed`).
RENAMED_FIELDS = {"num_levels": "n_levels", "components": "n_components", "exact_trace_max_dim": "exact_max_dim",
                  "solver": "method", "label_dropout": "p_uncond"}
#: call options renamed with format 7, per call: impute's fill rule was ``method`` (the ODE method's name in
#: log_prob and sample), the CNF's divergence estimator ``trace`` (``divergence`` in every other family)
RENAMED_OPTIONS = {"impute": {"method": "fill"}, "log_prob": {"trace": "divergence"}}


def renamed(values: dict[str, Any], renames: dict[str, str], what: str, accepted=None) -> dict[str, Any]:
    """``values`` with every old name of ``renames`` under its new name, with a DeprecationWarning naming the new
    one; only where the new name is ``accepted`` and the old one is not (``accepted`` None: any name). A value given
    under both names is a ConfigError."""
    out = dict(values)
    for old, new in renames.items():
        if old in out and (accepted is None or (new in accepted and old not in accepted)):
            if new in out:
                raise ConfigError(f"{what} '{old}' is the old name of '{new}': give '{new}' only")
            warnings.warn(f"{what} '{old}' is now called '{new}'; the old name will stop working",
                          DeprecationWarning, stacklevel=4)
            out[new] = out.pop(old)
    return out


def make_config(config_cls, overrides: dict[str, Any], *, model: str = ""):
    """Build ``config_cls`` from defaults plus ``overrides``; unknown keys, ill-typed values, values out of their
    :func:`bounded` range and rules over several fields (the config's ``check`` method) raise ConfigError: a
    :class:`~genlab.config.ModelConfig` runs both itself when it is made (``__post_init__``), so a config made
    directly is checked the same way."""
    types_ = _field_types(config_cls)
    overrides = renamed(overrides, RENAMED_FIELDS, "config", types_)
    unknown = sorted(set(overrides) - set(types_))
    if unknown:
        raise ConfigError(
            f"unknown config key{'s' if len(unknown) > 1 else ''} {', '.join(map(repr, unknown))} for model "
            f"'{model}'; valid keys: {', '.join(sorted(types_))}"
        )
    values = {k: parse_value(types_[k], v, k) for k, v in overrides.items()}
    config = config_cls(**values)
    if not hasattr(config, "check"):  # a ModelConfig checks itself when made (its __post_init__)
        check_bounds(config)
    return config


def check_bounds(config) -> None:
    """Check every :func:`bounded` field of a config dataclass instance (ConfigError naming the first bad one)."""
    for key, bounds in _bounds(type(config)).items():
        _check_bounds(key, getattr(config, key), bounds)


def _bounds(config_cls) -> dict[str, dict]:
    """Bounds of every field, inherited: a subclass that only changes a default keeps its base's bounds."""
    out: dict[str, dict] = {}
    for cls in reversed(config_cls.__mro__):
        if dataclasses.is_dataclass(cls):
            for f in dataclasses.fields(cls):
                if "bounds" in f.metadata:
                    out[f.name] = f.metadata["bounds"]
    return out


def hook_options(hook, options: dict, what: str, model: str) -> dict:
    """Check call ``options`` against the keyword parameters of a model's ``hook`` (``_sample``, ``_log_prob``,
    ``_impute``): an unknown one is a ConfigError naming the accepted ones. A hook that takes ``**opts`` checks its
    options itself."""
    if "generator" in options:
        raise ConfigError("pass seed=..., not generator=...: every random draw comes from the seed")
    params = inspect.signature(hook).parameters
    open_ended = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())
    options = renamed(options, RENAMED_OPTIONS.get(what, {}), f"{what} option", None if open_ended else params)
    if open_ended:
        return options
    accepted = [k for k, p in params.items() if k != "generator" and (p.kind is inspect.Parameter.KEYWORD_ONLY
                or (p.kind is inspect.Parameter.POSITIONAL_OR_KEYWORD and p.default is not inspect.Parameter.empty))]
    known_options(options, accepted, what=what, owner=f"model '{model}'")
    return options
