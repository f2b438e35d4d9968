"""The :class:`Dataset` record every loader returns."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import torch

from genlab.data.kinds import Encoder, ImageEncoder, VectorEncoder
from genlab.errors import DataError
from genlab.rng import make_generator

__all__ = ["Dataset"]


@dataclass
class Dataset:
    """Train/test splits plus, for synthetic sets, the exact density and a sampler.

    ``train``/``test`` are float32 tensors ``(N, *shape)``; labels are int64 ``(N,)`` or None.
    ``log_prob`` (synthetic sets only) returns the exact log-density in nats, ``(N,)``.
    ``discrete_levels`` is the number of integer levels of discrete data (17 for digits), else None.
    ``kind`` is the data kind (:mod:`genlab.data.kinds`: "vectors", "images", "table", ...; inferred from the
    shape for arrays) and ``encoder`` the reversible map between the user's values and these tensors, fitted on the
    training split only (for arrays: the identity with a shape check; images decode to their levels). Text sets
    hold each split as one 1-D integer stream of token ids (``shape == ()``, int32: the encoder's
    ``compact_dtype``) and have a ``valid`` split too.
    """

    name: str
    train: torch.Tensor
    test: torch.Tensor
    labels_train: torch.Tensor | None = None
    labels_test: torch.Tensor | None = None
    discrete_levels: int | None = None
    _log_prob: Callable[[torch.Tensor], torch.Tensor] | None = field(default=None, repr=False)
    _sample: Callable[[int, torch.Generator], torch.Tensor] | None = field(default=None, repr=False)
    kind: str | None = None
    encoder: Encoder | None = field(default=None, repr=False)
    valid: torch.Tensor | None = None  # a validation split where the loader makes one (text: by document)
    # labels that are text (captions): a text encoder fitted on the training labels (None for class indices)
    label_encoder: Encoder | None = field(default=None, repr=False)
    info: dict = field(default_factory=dict, repr=False)  # what a set knows beyond the splits (e.g. true attributes)

    def __post_init__(self):
        if self.kind is None:
            self.kind = {4: "images", 5: "video"}.get(self.train.ndim, "vectors")
        if self.encoder is None and self.kind == "video":
            from genlab.data.kinds import VideoEncoder

            self.encoder = VideoEncoder().fit(self.train)
        if self.encoder is None and self.kind in ("vectors", "images"):
            self.encoder = (ImageEncoder if self.kind == "images" else VectorEncoder)(levels=self.discrete_levels)
            self.encoder.fit(self.train)

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self.train.shape[1:])

    @property
    def has_density(self) -> bool:
        return self._log_prob is not None

    @property
    def num_classes(self) -> int | None:
        """Number of classes of integer labels; None without labels or for text labels (captions)."""
        if self.labels_train is None or not isinstance(self.labels_train, torch.Tensor):
            return None
        return int(max(self.labels_train.max(), -1 if self.labels_test is None else self.labels_test.max())) + 1

    def log_prob(self, x) -> torch.Tensor:
        if self._log_prob is None:
            raise DataError(f"dataset '{self.name}' has no known density")
        from genlab.data.validate import as_tensor

        return self._log_prob(as_tensor(x, self.shape))

    def sample(self, n: int, seed: int | None = None) -> torch.Tensor:
        if self._sample is None:
            raise DataError(f"dataset '{self.name}' cannot be sampled (only synthetic sets can)")
        # seed=None: fresh OS entropy; the caller's global torch RNG is neither read nor reseeded
        return self._sample(int(n), make_generator(seed))
