"""The numeric kinds: ``vectors`` (float rows (N, D)) and ``images`` (grids (N, C, H, W), optionally with integer
levels). Their encoder is the identity on float32 tensors plus a shape check; with integer ``levels`` (digits: 17,
8-bit images: 256) it also decodes model output, dequantized values v in [k, k + 1), to the level k in
``[0, levels)`` (what a PNG writer needs)."""

from __future__ import annotations

from typing import Any, ClassVar

import torch

from genlab.data.kinds.base import Encoder
from genlab.errors import DataError

__all__ = ["VectorEncoder", "ImageEncoder"]


class VectorEncoder(Encoder):
    """Rows of ``shape`` as float32 tensors; fitted = the per-sample shape is known. With ``levels``, ``decode``
    rounds down to a level (a dequantized value v in [k, k + 1) is level k) and clips to [0, levels - 1]."""

    kind: ClassVar[str] = "vectors"

    def __init__(self, shape: tuple[int, ...] | None = None, levels: int | None = None):
        self._shape = None if shape is None else tuple(int(s) for s in shape)
        self.levels = None if levels is None else int(levels)

    @property
    def fitted(self) -> bool:
        return self._shape is not None

    @property
    def shape(self) -> tuple[int, ...]:
        self._need_fit()
        return self._shape

    def fit(self, values) -> VectorEncoder:
        self._shape = tuple(torch.as_tensor(values).shape[1:])
        return self

    def encode(self, values) -> torch.Tensor:
        self._need_fit()
        x = torch.as_tensor(values, dtype=torch.float32)
        if tuple(x.shape[1:]) != self._shape:
            raise DataError(f"expected {self.kind} of shape (N, {', '.join(map(str, self._shape))}), got {tuple(x.shape)}")
        return x

    def decode(self, x: torch.Tensor) -> torch.Tensor:
        x = torch.as_tensor(x)
        return x if self.levels is None else x.floor().clamp(0, self.levels - 1)

    def state(self) -> dict[str, Any]:
        self._need_fit()
        return {"kind": self.kind, "shape": list(self._shape), "levels": self.levels}

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> VectorEncoder:
        return cls(tuple(state["shape"]), state.get("levels"))


class ImageEncoder(VectorEncoder):
    """Images (N, C, H, W), with or without integer ``levels`` (as :class:`VectorEncoder`)."""

    kind: ClassVar[str] = "images"

    def fit(self, values) -> ImageEncoder:
        super().fit(values)
        if len(self._shape) != 3:
            raise DataError(f"images must have shape (N, C, H, W), got {(len(values), *self._shape)}")
        return self
