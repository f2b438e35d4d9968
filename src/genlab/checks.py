"""The small vocabulary of option checks: each raises a one-line :class:`~genlab.errors.ConfigError` naming the
option, the rule and the value given, and returns the value when it passes.

Config fields declare their bounds with :func:`genlab.registry.bounded` (checked by these same functions when the
config is made); a rule that ties several fields together goes in the config's ``check(self)`` method, written with
:func:`require`, and call options (``steps``, ``draws``, ...) are checked with these helpers where the call takes
them, once. Besides the value checks (:func:`positive_int`, :func:`nonnegative_int`, :func:`in_range`,
:func:`one_of`, :func:`instance_of`) the vocabulary has the call-level refusals every model API shares, so each is
worded once: :func:`known_options` (options a hook does not take), :func:`not_both` (two exclusive options),
:func:`available` (a sampler a model does not run), :func:`no_labels` (labels for an unconditional model) and
:func:`capable` (a model that cannot do what was asked, naming those that can). This is a base layer: it imports only
:mod:`genlab.errors`.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Collection, Iterable

from genlab.errors import ConfigError

__all__ = ["require", "positive_int", "nonnegative_int", "in_range", "one_of", "instance_of", "known_options",
           "not_both", "available", "no_labels", "capable"]


def require(ok: bool, message: str) -> None:
    """Raise ConfigError(message) unless ``ok``: for a rule over several options (``sigma_min < sigma_max``)."""
    if not ok:
        raise ConfigError(message)


def _is_int(value) -> bool:
    return not isinstance(value, bool) and (isinstance(value, numbers.Integral)
                                            or (isinstance(value, float) and value.is_integer()))


def positive_int(name: str, value) -> int:
    """``value`` as an int >= 1 (a numpy integer or an integral float is accepted; a bool is not)."""
    if not _is_int(value) or value < 1:
        raise ConfigError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def nonnegative_int(name: str, value) -> int:
    """``value`` as an int >= 0 (a numpy integer or an integral float is accepted; a bool is not)."""
    if not _is_int(value) or value < 0:
        raise ConfigError(f"{name} must be a non-negative integer, got {value!r}")
    return int(value)


def in_range(name: str, value, *, ge=None, gt=None, le=None, lt=None):
    """``value`` if it is a finite number with ``ge <= value``, ``gt < value``, ``value <= le``, ``value < lt``
    (each bound optional); the message writes the interval, e.g. ``[0, 1)``."""
    lo = f"[{ge}" if ge is not None else (f"({gt}" if gt is not None else "(-inf")
    hi = f"{le}]" if le is not None else (f"{lt})" if lt is not None else "inf)")
    try:
        ok = (not isinstance(value, bool) and math.isfinite(value)
              and (ge is None or value >= ge) and (gt is None or value > gt)
              and (le is None or value <= le) and (lt is None or value < lt))
    except TypeError:
        ok = False
    if not ok:
        raise ConfigError(f"{name} must be a finite number in {lo}, {hi}, got {value!r}")
    return value


def one_of(name: str, value, choices: Collection):
    """``value`` if it is one of ``choices`` (the message names them: ``'a' or 'b'``, ``one of 'a', 'b', 'c'``)."""
    if value not in choices:
        names = [repr(c) for c in choices]
        which = " or ".join(names) if len(names) <= 2 else f"one of {', '.join(names)}"
        raise ConfigError(f"{name} must be {which}, got {value!r}")
    return value


def instance_of(name: str, value, types: type | tuple[type, ...], what: str):
    """``value`` if it is an instance of ``types``; else ``{name} must be {what}, got {type}`` (``what`` names the
    types for a reader: ``"a string"``, ``"a dict or None"``)."""
    if not isinstance(value, types):
        raise ConfigError(f"{name} must be {what}, got {type(value).__name__}")
    return value


def _names(items: Iterable[str], quote: bool = False) -> str:
    return ", ".join(repr(i) if quote else str(i) for i in items)


def known_options(given: Iterable[str], accepted: Iterable[str], *, what: str = "", owner: str = "") -> None:
    """Refuse the names of ``given`` not in ``accepted``: ``unknown {what} option(s) 'a', 'b' for {owner};
    accepted: x, y`` (``what``: ``"impute"``, ``"log_prob"``; ``owner``: ``"model 'gmm'"``, ``"sampler 'ddim'"``)."""
    accepted = list(accepted)
    unknown = sorted(set(given) - set(accepted))
    if unknown:
        kind = f"{what} " if what else ""
        for_ = f" for {owner}" if owner else ""
        raise ConfigError(f"unknown {kind}option{'s' if len(unknown) > 1 else ''} {_names(unknown, True)}{for_}; "
                          f"accepted: {_names(accepted) or 'none'}")


def not_both(first: str, first_given: bool, second: str, second_given: bool) -> None:
    """Refuse two exclusive options given together: ``give either {first} or {second}, not both``."""
    if first_given and second_given:
        raise ConfigError(f"give either {first} or {second}, not both")


def available(what: str, value, choices: Iterable, model: str):
    """``value`` if ``model`` offers it among ``choices``; else ``{what} '{value}' is not available for model
    '{model}'; its {what}s: ...`` (``what``: ``"sampler"``)."""
    choices = list(choices)
    if value not in choices:
        raise ConfigError(f"{what} '{value}' is not available for model '{model}'; its {what}s: {_names(choices)}")
    return value


def no_labels(model: str, given: bool, hint: str = "it takes no labels") -> None:
    """Refuse labels (or captions, guidance) given to an unconditional model: ``model '{model}' is unconditional:
    {hint}`` (``hint`` says what to do instead)."""
    if given:
        raise ConfigError(f"model '{model}' is unconditional: {hint}")


def capable(ok: bool, model: str, lacking: str, able: Callable[[], Iterable[str]] | Iterable[str]) -> None:
    """Unless ``ok``: ``model '{model}' {lacking}; models that can: a, b`` (``able``, the names of the models that
    can, or a function returning them, called only then)."""
    if not ok:
        names = list(able() if callable(able) else able)
        raise ConfigError(f"model '{model}' {lacking}; models that can: {_names(names) or 'none'}")
