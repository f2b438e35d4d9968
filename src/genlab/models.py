"""Public model API: the registry of built-in models, ``create`` and ``load``."""

from __future__ import annotations

from genlab import checkpoint, families, registry  # noqa: F401  (families registers every built-in name)
from genlab.model import GenerativeModel

__all__ = ["names", "create", "load", "get", "GenerativeModel"]


def names() -> list[str]:
    """Every registered model name, sorted."""
    return registry.names()


def get(name: str) -> type[GenerativeModel]:
    """The class registered under ``name`` (ConfigError if unknown)."""
    return registry.get(name)


def create(name: str, shape, **config) -> GenerativeModel:
    """Create an untrained model; unknown names or config keys raise ConfigError."""
    cls = registry.get(name)
    if isinstance(shape, int):
        shape = (shape,)
    return cls(tuple(shape), registry.make_config(cls.Config, config, model=name))


def load(path) -> GenerativeModel:
    """Load a model saved with ``model.save(path)``; never unpickles anything."""
    return checkpoint.load(path, registry.get)
