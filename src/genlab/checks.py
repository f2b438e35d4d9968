"""The small vocabulary of option checks: each raises a one-line :class:`~genlab.errors.ConfigError` naming the
option, the rule and the value given, and returns the value when it passes.

Config fields declare their bounds with :func:`genlab.registry.bounded` (checked by these same functions when the
config is made); a rule that ties several fields together goes in the config's ``check(self)`` method, written with
:func:`require`, and call options (``steps``, ``draws``, ...) are checked with these helpers where the call takes
them. This is a base layer: it imports only :mod:`genlab.errors`.
"""

from __future__ import annotations

import math
from collections.abc import Collection

from genlab.errors import ConfigError

__all__ = ["require", "positive_int", "nonnegative_int", "in_range", "one_of"]


def require(ok: bool, message: str) -> None:
    """Raise ConfigError(message) unless ``ok``: for a rule over several options (``sigma_min < sigma_max``)."""
    if not ok:
        raise ConfigError(message)


def _is_int(value) -> bool:
    return not isinstance(value, bool) and (isinstance(value, int) or (isinstance(value, float) and value.is_integer()))


def positive_int(name: str, value) -> int:
    """``value`` as an int >= 1 (an integral float is accepted; a bool is not)."""
    if not _is_int(value) or value < 1:
        raise ConfigError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def nonnegative_int(name: str, value) -> int:
    """``value`` as an int >= 0 (an integral float is accepted; a bool is not)."""
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
