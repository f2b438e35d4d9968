"""The registered models that the durable-run and data-parallel tests cover, read from the registry so that a new
family cannot escape them, and the small registered data set each one trains on in those tests."""

from __future__ import annotations

import dataclasses
import functools

import genlab
from genlab import registry
from genlab.config import NeuralConfig

__all__ = ["trainable", "data_name", "dataset", "tiny", "tiny_args", "KIND_DATA", "TINY"]

#: a small registered data set per data kind; a family of a kind missing here fails the tests that need data
KIND_DATA = {"vectors": "eight_gaussians", "images": "digits", "table": "penguins", "text": "pydoc",
             "video": "balls_small"}

#: network sizes these tests shrink where a family's config has the field; every other option keeps its default
TINY = {"hidden": 32, "hidden_features": (32, 32), "n_layer": 1, "n_head": 2, "n_embd": 32, "context": 16}


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


def tiny(model: str) -> dict:
    """The :data:`TINY` sizes that model ``model``'s config has."""
    fields = {f.name for f in dataclasses.fields(registry.get(model).Config)}
    return {k: v for k, v in TINY.items() if k in fields}


def tiny_args(model: str) -> list[str]:
    """:func:`tiny` as ``genlab train`` options."""
    return [a for k, v in tiny(model).items()
            for a in ("--set", f"{k}={','.join(map(str, v)) if isinstance(v, tuple) else v}")]
