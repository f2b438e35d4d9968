"""The reversible encoder between a data kind's user values and model tensors, and the registry of kinds.

Every :class:`~genlab.data.dataset.Dataset` carries a ``kind`` (a name in :data:`KINDS`) and an ``encoder``: an
:class:`Encoder` of that kind, fitted on the training split only, that maps the user's values (arrays, a pandas
DataFrame, strings, clips) to the tensors a model trains on and back. ``decode(encode(values))`` gives the values
back (exactly, for the values the encoder was fitted on). The encoder's JSON ``state()`` is saved in a checkpoint
beside the config, so a loaded run decodes its samples and reads new files with the schema it was trained on.

Adding a kind is one module in this package with its :class:`Encoder` subclass and one :data:`KINDS` line
(see :mod:`genlab.data.kinds`); families list the kinds they accept in ``GenerativeModel.kinds``.
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch

from genlab.errors import DataError
from genlab.registry import Registry

__all__ = ["Encoder", "KINDS", "encoder_from_state"]


class Encoder:
    """Fit on training values, then ``encode`` user values -> tensor (N, *shape) and ``decode`` tensor -> values.

    Subclasses set ``kind`` and implement ``fit``, ``encode``, ``decode``, ``shape`` and ``state`` /
    ``from_state`` (a JSON-able dict that rebuilds the fitted encoder)."""

    kind: ClassVar[str] = ""
    #: True when ``decode`` returns tensors (vectors, images, video): ``sample`` then returns the model's tensors
    #: as before; False (tables, text) when it returns the user's own types
    tensor_values: ClassVar[bool] = True

    def fit(self, values) -> Encoder:
        return self

    @property
    def fitted(self) -> bool:
        return True

    @property
    def shape(self) -> tuple[int, ...]:
        """Shape of one encoded sample (the model's ``shape``)."""
        raise NotImplementedError

    def encode(self, values) -> torch.Tensor:
        raise NotImplementedError

    def decode(self, x: torch.Tensor):
        raise NotImplementedError

    def state(self) -> dict[str, Any]:
        """The fitted encoder as JSON-able data (``{"kind": ..., ...}``)."""
        raise NotImplementedError

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> Encoder:
        raise NotImplementedError

    def _need_fit(self) -> None:
        if not self.fitted:
            raise DataError(f"the {self.kind} encoder is not fitted: call fit(training values) first")


#: data kind name -> its Encoder class (filled by :mod:`genlab.data.kinds`)
KINDS: Registry[type[Encoder]] = Registry("data kind", DataError)


def encoder_from_state(state: dict[str, Any]) -> Encoder:
    """Rebuild a fitted encoder from :meth:`Encoder.state` (a checkpoint's ``encoder.json``)."""
    if not isinstance(state, dict) or "kind" not in state:
        raise DataError("an encoder state must be a JSON object with a 'kind'")
    return KINDS.get(state["kind"]).from_state(state)
