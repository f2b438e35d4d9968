"""Public model API: the registry of built-in models, ``create`` and ``load``."""

from __future__ import annotations

from genlab import checkpoint, families, registry  # noqa: F401  (families registers every built-in name)
from genlab.device import resolve_device
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


def load(path, *, device=None) -> GenerativeModel:
    """Load a model saved with ``model.save(path)``; never unpickles anything. Checkpoints hold CPU tensors and load
    on the CPU; ``device`` ("auto", "cuda", ...; see :mod:`genlab.device`) then moves the model there."""
    dev = None if device is None else resolve_device(device)  # an unavailable device fails before reading files
    model = checkpoint.load(path, registry.get)
    return model if dev is None else model.to(dev)
