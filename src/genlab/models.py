"""Public model API: the registry of built-in models, ``create`` and ``load``."""

from __future__ import annotations

import torch

from genlab import checkpoint, families, registry  # noqa: F401  (families registers every built-in name)
from genlab.data.dataset import Dataset
from genlab.device import resolve_device
from genlab.errors import ConfigError
from genlab.model import GenerativeModel

__all__ = ["names", "create", "load", "get", "for_kind", "check_kind", "GenerativeModel"]


def names() -> list[str]:
    """Every registered model name, sorted."""
    return registry.names()


def get(name: str) -> type[GenerativeModel]:
    """The class registered under ``name`` (ConfigError if unknown)."""
    return registry.get(name)


def for_kind(kind: str) -> list[str]:
    """The registered model names that take data of ``kind`` ("vectors", "images", "table", ...)."""
    return registry.MODELS.names(where=lambda cls: kind in cls.kinds)


def check_kind(name: str, kind: str) -> None:
    """ConfigError in one line when model ``name`` cannot take ``kind`` data, naming the models that can."""
    cls = registry.get(name)
    if kind not in cls.kinds:
        able = for_kind(kind)
        raise ConfigError(f"model '{name}' does not take {kind} data (it takes {', '.join(cls.kinds)}); models that "
                          f"do: {', '.join(able) if able else 'none yet'}")


def create(name: str, shape, **config) -> GenerativeModel:
    """Create an untrained model; unknown names or config keys raise ConfigError.

    ``shape`` is the per-sample shape, a :class:`genlab.data.Dataset` (its shape, after checking that the model
    takes the data set's kind; the model keeps the set's encoder, so it fits, samples and imputes in the user's own
    types and its checkpoint keeps the schema), or a pandas DataFrame (a table: the encoder is fitted on it)."""
    cls = registry.get(name)
    encoder = None
    if type(shape).__name__ == "DataFrame":
        from genlab.data.kinds import TableEncoder

        shape = Dataset(name="table", train=torch.zeros(1, 1), test=torch.zeros(1, 1), kind="table",
                        encoder=TableEncoder().fit(shape))
    if isinstance(shape, Dataset):
        check_kind(name, shape.kind)
        encoder = shape.encoder
        shape = shape.shape if encoder is None else encoder.shape
    if isinstance(shape, int):
        shape = (shape,)
    return cls(tuple(shape), registry.make_config(cls.Config, config, model=name), data_encoder=encoder)


def load(path, *, device=None) -> GenerativeModel:
    """Load a model saved with ``model.save(path)``; never unpickles anything. Checkpoints hold CPU tensors and load
    on the CPU; ``device`` ("auto", "cuda", ...; see :mod:`genlab.device`) then moves the model there."""
    dev = None if device is None else resolve_device(device)  # an unavailable device fails before reading files
    model = checkpoint.load(path, registry.get)
    return model if dev is None else model.to(dev)
