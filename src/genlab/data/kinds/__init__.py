"""Data kinds: each a module with its reversible :class:`~genlab.data.kinds.base.Encoder`, one registry line each.

``vectors`` and ``images`` (:mod:`.arrays`), ``table`` (:mod:`.table`: typed columns with missing cells). The text,
caption and video kinds join the same way: a module here and one line below.
"""

from __future__ import annotations

from genlab.data.kinds.arrays import ImageEncoder, VectorEncoder
from genlab.data.kinds.base import KINDS, Encoder, encoder_from_state
from genlab.data.kinds.table import TableEncoder

__all__ = ["KINDS", "Encoder", "encoder_from_state", "VectorEncoder", "ImageEncoder", "TableEncoder"]

KINDS.register("vectors", VectorEncoder)
KINDS.register("images", ImageEncoder)
KINDS.register("table", TableEncoder)
