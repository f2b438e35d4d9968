"""Data kinds: each a module with its reversible :class:`~genlab.data.kinds.base.Encoder`, one registry line each.

``vectors`` and ``images`` (:mod:`.arrays`), ``table`` (:mod:`.table`: typed columns with missing cells), ``text``
(:mod:`.text`: char or byte-level BPE tokenizers), ``video`` (:mod:`.video`: clips, GIF/MP4 through imageio). A new
kind joins the same way: a module here and one line below.
"""

from __future__ import annotations

from genlab.data.kinds.arrays import ImageEncoder, VectorEncoder
from genlab.data.kinds.base import KINDS, Encoder, encoder_from_state
from genlab.data.kinds.table import TableEncoder
from genlab.data.kinds.text import TextEncoder
from genlab.data.kinds.video import VideoEncoder

__all__ = ["KINDS", "Encoder", "encoder_from_state", "VectorEncoder", "ImageEncoder", "TableEncoder", "TextEncoder", "VideoEncoder"]

KINDS.register("vectors", VectorEncoder)
KINDS.register("images", ImageEncoder)
KINDS.register("table", TableEncoder)
KINDS.register("text", TextEncoder)
KINDS.register("video", VideoEncoder)
