"""Model families; importing this package registers every built-in model name."""

from genlab.families import classical, cnf, vae

__all__ = ["classical", "cnf", "vae"]
