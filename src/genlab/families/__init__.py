"""Model families; importing this package registers every built-in model name."""

from genlab.families import autoregressive, classical, cnf, ebm, edm, flows, gan, made, score, vae

__all__ = ["autoregressive", "classical", "cnf", "ebm", "edm", "flows", "gan", "made", "score", "vae"]
