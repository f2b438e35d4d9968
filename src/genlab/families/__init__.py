"""Model families; importing this package registers every built-in model name."""

from genlab.families import classical, cnf, ebm, edm, flows, gan, made, score, vae

__all__ = ["classical", "cnf", "ebm", "edm", "flows", "gan", "made", "score", "vae"]
