"""Model families; importing this package registers every built-in model name."""

from genlab.families import classical, cnf, ebm, gan, vae

__all__ = ["classical", "cnf", "ebm", "gan", "vae"]
