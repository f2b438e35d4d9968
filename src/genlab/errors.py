"""The errors genlab raises for problems the caller can fix.

The command line turns every :class:`GenlabError` into a one-line message and exit code 2;
anything else is an internal error (exit 1).
"""

__all__ = ["GenlabError", "DataError", "ConfigError", "CheckpointError", "SolverError"]


class GenlabError(Exception):
    """Base class: bad input that the caller can correct."""


class DataError(GenlabError, ValueError):
    """Bad data: NaN/inf, wrong rank or width, empty arrays, unreadable or non-numeric files."""


class ConfigError(GenlabError, ValueError):
    """Bad configuration: unknown model, unknown or ill-typed config key, bad option value."""


class CheckpointError(GenlabError):
    """A checkpoint that is missing, truncated, foreign, or does not match what is asked for."""


class SolverError(GenlabError, ArithmeticError):
    """An adaptive ODE solve that could not go on (its step size underflowed): the caller can loosen the tolerances
    or choose a fixed-step method."""
