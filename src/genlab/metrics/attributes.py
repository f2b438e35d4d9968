"""Does a prompt-to-image model follow the words? Per-attribute and joint accuracy of images judged by the shapes
judge (:mod:`genlab.metrics.judge`), as compositional toy studies score every generated image with a trained classifier
(Okawa et al. 2023; GenEval, Ghosh et al. 2023, reports the share of images with every asked-for property right).

:func:`attribute_accuracy` compares the judge's reading of ``images`` (N, 3, 32, 32) with the attributes the
prompts asked for, ``attributes`` (N, 4) int64 in the order of :data:`genlab.data.shapes.ATTRIBUTES` (the
``info["attributes_*"]`` of the ``shapes`` set, or a caption's attributes). Joint accuracy counts an image right
only when all four attributes are.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch

from genlab.errors import DataError
from genlab.metrics.judge import HEADS, judge_attributes

__all__ = ["AttributeAccuracy", "attribute_accuracy"]


@dataclass(frozen=True)
class AttributeAccuracy:
    """Share of images whose judged attribute equals the asked one, per attribute, and with all four right."""

    shape: float
    colour: float
    size: float
    position: float
    joint: float
    n: int

    def per_attribute(self) -> dict[str, float]:
        return {k: getattr(self, k) for k in HEADS}

    def to_dict(self) -> dict:
        return asdict(self)


def attribute_accuracy(images, attributes) -> AttributeAccuracy:
    """The judge's per-attribute and joint accuracy of ``images`` against the asked ``attributes`` (N, 4)."""
    a = torch.as_tensor(attributes)
    if a.ndim != 2 or a.shape[1] != len(HEADS) or a.is_floating_point():
        raise DataError(f"attributes must be integer indices of shape (N, {len(HEADS)}), got {tuple(a.shape)} "
                        f"{a.dtype}")
    pred = judge_attributes(images)
    if len(pred) != len(a):
        raise DataError(f"{len(pred)} images but {len(a)} attribute rows")
    for i, (name, k) in enumerate(HEADS.items()):
        if bool(((a[:, i] < 0) | (a[:, i] >= k)).any()):
            raise DataError(f"attribute '{name}' must lie in 0..{k - 1}")
    ok = pred == a.long()
    return AttributeAccuracy(*(float(ok[:, i].float().mean()) for i in range(len(HEADS))),
                             joint=float(ok.all(1).float().mean()), n=len(a))
