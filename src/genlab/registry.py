"""Name -> model class, and typed validation of config overrides.

Families register their classes with :func:`register`; :mod:`genlab.models` imports the
families so every built-in name is present before anyone asks.
"""

from __future__ import annotations

import dataclasses
import inspect
import math
import types
import typing
from typing import Any

from genlab.errors import ConfigError

__all__ = ["register", "get", "names", "make_config", "parse_value", "bounded", "hook_options"]

_REGISTRY: dict[str, type] = {}


def register(cls):
    """Class decorator: add a model class under ``cls.name``."""
    if not cls.name:
        raise ValueError(f"{cls.__name__} has no name")
    if cls.name in _REGISTRY and _REGISTRY[cls.name] is not cls:
        raise ValueError(f"model name '{cls.name}' is registered twice")
    _REGISTRY[cls.name] = cls
    return cls


def names() -> list[str]:
    return sorted(_REGISTRY)


def get(name: str):
    if not isinstance(name, str) or name not in _REGISTRY:
        raise ConfigError(f"unknown model '{name}'; choose from: {', '.join(names())}")
    return _REGISTRY[name]


def bounded(default, *, ge=None, gt=None, le=None, lt=None, choices=None):
    """A config field whose values :func:`make_config` checks: ``ge <= v``, ``gt < v``, ``v <= le``, ``v < lt``,
    ``v in choices``; a bounded number must also be finite. Values out of range are refused, never clamped."""
    bounds = {"ge": ge, "gt": gt, "le": le, "lt": lt, "choices": choices}
    return dataclasses.field(default=default, metadata={"bounds": bounds})


def _check_bounds(key: str, value, bounds: dict) -> None:
    if value is None:
        return
    ge, gt, le, lt, choices = (bounds[k] for k in ("ge", "gt", "le", "lt", "choices"))
    if choices is not None:
        if value not in choices:
            raise ConfigError(f"config '{key}' must be one of {', '.join(map(repr, choices))}, got {value!r}")
        return
    lo = f"[{ge}" if ge is not None else (f"({gt}" if gt is not None else "(-inf")
    hi = f"{le}]" if le is not None else (f"{lt})" if lt is not None else "inf)")
    ok = math.isfinite(value) and all(
        bound is None or test(bound)
        for bound, test in ((ge, lambda b: value >= b), (gt, lambda b: value > b), (le, lambda b: value <= b),
                            (lt, lambda b: value < b)))
    if not ok:
        raise ConfigError(f"config '{key}' must be a finite number in {lo}, {hi}, got {value!r}")


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


def make_config(config_cls, overrides: dict[str, Any], *, model: str = ""):
    """Build ``config_cls`` from defaults plus ``overrides``; unknown keys and ill-typed values raise ConfigError."""
    types_ = _field_types(config_cls)
    unknown = sorted(set(overrides) - set(types_))
    if unknown:
        raise ConfigError(
            f"unknown config key{'s' if len(unknown) > 1 else ''} {', '.join(map(repr, unknown))} for model "
            f"'{model}'; valid keys: {', '.join(sorted(types_))}"
        )
    values = {k: parse_value(types_[k], v, k) for k, v in overrides.items()}
    bounds = _bounds(config_cls)
    for key, value in values.items():
        if key in bounds:
            _check_bounds(key, value, bounds[key])
    return config_cls(**values)


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
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        return options
    accepted = [k for k, p in params.items() if k != "generator" and (p.kind is inspect.Parameter.KEYWORD_ONLY
                or (p.kind is inspect.Parameter.POSITIONAL_OR_KEYWORD and p.default is not inspect.Parameter.empty))]
    unknown = sorted(set(options) - set(accepted))
    if unknown:
        raise ConfigError(
            f"unknown {what} option{'s' if len(unknown) > 1 else ''} {', '.join(map(repr, unknown))} for model "
            f"'{model}'; accepted: {', '.join(accepted) or 'none'}"
        )
    return options
