"""Helpers shared by the exact-likelihood neural families (flows, MADE).

- :func:`langevin_fill`: imputation through the model's own log-density with MALA
  (:func:`genlab.inverse.langevin_impute`), with its option names checked.
- :class:`MaximumLikelihood`: the hooks of a model trained by maximum likelihood on its own ``_logp(z)``.
- :func:`activation`: an activation *constructor* by name (for zuko's MLPs, which build one per layer).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable

import torch
from torch import nn

from genlab.checks import in_range, known_options, require
from genlab.inverse import langevin_impute
from genlab.nn.mlp import make_activation as _activation

__all__ = ["MaximumLikelihood", "check_network", "langevin_fill", "LANGEVIN_OPTIONS", "activation"]

LANGEVIN_OPTIONS = frozenset(inspect.signature(langevin_impute).parameters) - {"log_prob", "z", "mask", "generator"}


def langevin_fill(log_prob: Callable[[torch.Tensor], torch.Tensor], z: torch.Tensor, mask: torch.Tensor,
                  opts: dict, generator: torch.Generator) -> torch.Tensor:
    """Fill ``z`` where ``mask`` is False by MALA on ``log_prob`` (options: those of ``langevin_impute``)."""
    known_options(opts, sorted(LANGEVIN_OPTIONS), what="impute")
    return langevin_impute(log_prob, z, mask, generator=generator, **opts)


def activation(name: str) -> Callable[[], nn.Module]:
    """A zero-argument constructor of the activation ``name`` (ConfigError if unknown)."""
    _activation(name)  # validates the name

    def make() -> nn.Module:
        return _activation(name)

    return make


class MaximumLikelihood:
    """Mixin for families with a tractable ``_logp(z, y=None) -> (N,)``: loss -log p(z | y); ``_log_prob`` is ``_logp``.

    The first fit re-creates the weights under the fit seed, so that ``fit(seed=s)`` reproduces.
    ``_logp`` is one differentiable pass, so ``log_prob`` keeps the graph of an input that requires grad.
    """

    differentiable_log_prob = True

    def _fit(self, z, y, spec) -> None:
        if not self.fitted:
            self.build()
        super()._fit(z, y, spec)

    def loss(self, z, y, *, generator: torch.Generator | None = None) -> torch.Tensor:  # exact: draws nothing
        return -self._logp(z, y)

    def _log_prob(self, z, y, *, generator: torch.Generator | None = None) -> torch.Tensor:
        with torch.set_grad_enabled(z.requires_grad):
            return self._logp(z, y)


def check_network(c) -> None:
    """Validate the shared network options ``hidden_features`` and ``dropout`` of a config (ConfigError)."""
    require(bool(c.hidden_features) and all(h >= 1 for h in c.hidden_features),
            f"hidden_features must be positive widths, got {c.hidden_features}")
    in_range("dropout", c.dropout, ge=0, lt=1)
