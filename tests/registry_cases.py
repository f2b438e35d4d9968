"""The registered models that the durable-run and data-parallel tests cover, read from the registry so that a new
family cannot escape them, and the small registered data set each one trains on in those tests."""

from __future__ import annotations

import functools

import genlab
from genlab import registry
from genlab.config import NeuralConfig

__all__ = ["trainable", "data_name", "dataset", "KIND_DATA"]

#: a small registered data set per data kind; a family of a kind missing here fails the tests that need data
KIND_DATA = {"vectors": "eight_gaussians", "images": "digits", "table": "penguins"}


def trainable() -> list[str]:
    """Every registered model with a training loss: trained by the shared loop (its ``Config`` is a
    :class:`~genlab.config.NeuralConfig`); ``gmm`` and ``kde`` fit in closed form."""
    return [n for n in genlab.models.names() if issubclass(registry.get(n).Config, NeuralConfig)]


def data_name(model: str) -> str:
    """The data set ``model`` trains on in these tests: vectors where it takes them, else its first kind's."""
    kinds = registry.get(model).kinds
    kind = "vectors" if "vectors" in kinds else kinds[0]
    assert kind in KIND_DATA, f"model '{model}' takes {kinds}: add a small data set of that kind to KIND_DATA"
    return KIND_DATA[kind]


@functools.cache
def dataset(name: str):
    """The registered data set ``name`` (loaded once per test process)."""
    return genlab.data.load(name)
