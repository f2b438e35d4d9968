"""Model families; importing this package registers every built-in model name."""

from genlab.families import classical

__all__ = ["classical"]
