"""The ``text`` kind: strings <-> token ids, through a tokenizer fitted on the training documents only.

The tokenizer is chosen by name from :data:`~genlab.data.kinds.tokenizers.TOKENIZERS` (``"char"``: one token per
character seen in training, plus ``<unk>``, ``<eot>`` and ``<mask>``; ``"bpe"``: byte-level BPE of ``vocab_size``
tokens; see :mod:`genlab.data.kinds.tokenizers`).

``encode(text)`` gives a 1-D int64 tensor of ids for one string; ``encode(list_of_documents)`` the documents' ids
joined, each followed by ``<eot>`` (a corpus as one stream; ``dtype=enc.compact_dtype``, int32, stores it in 4 bytes a
token); ``decode`` inverts either (a 2-D tensor gives a list of strings, one per row). The fitted tokenizer is JSON
(``state()``), saved in a checkpoint.
"""

from __future__ import annotations

from array import array
from typing import Any, ClassVar

import torch

from genlab.data.kinds.base import Encoder
from genlab.data.kinds.tokenizers import SPECIALS, TOKENIZERS
from genlab.errors import ConfigError, DataError

__all__ = ["TextEncoder", "TOKENIZERS", "SPECIALS"]

_TYPECODES = {torch.int32: "i", torch.int64: "q"}  # array typecodes (4 and 8 bytes)


class TextEncoder(Encoder):
    """A tokenizer of :data:`TOKENIZERS` as the text kind's encoder (see the module docstring)."""

    kind: ClassVar[str] = "text"
    tensor_values: ClassVar[bool] = False

    def __init__(self, tokenizer: str = "char", *, vocab_size: int = 1024):
        self._tok = TOKENIZERS.get(tokenizer)(vocab_size)
        self.tokenizer, self.vocab_size_requested = tokenizer, int(vocab_size)

    # ------------------------------------------------------------------ fitting
    @property
    def fitted(self) -> bool:
        return self._tok.fitted

    @property
    def chars(self) -> list[str]:
        """A char tokenizer's vocabulary after the specials (empty for other tokenizers)."""
        return getattr(self._tok, "chars", [])

    @property
    def one_token_per_char(self) -> bool:
        """Whether every token is one character (so characters can be counted on the ids)."""
        return self._tok.one_token_per_char

    def has_special(self, name: str) -> bool:
        """Whether the tokenizer has the special token ``name`` (bpe has no "<unk>")."""
        self._need_fit()
        return self._tok.special(name) is not None

    @property
    def shape(self) -> tuple[int, ...]:
        return ()  # a token: text is a stream (or rows) of scalar ids

    @property
    def vocab_size(self) -> int:
        self._need_fit()
        return self._tok.vocab_size

    def special(self, name: str) -> int:
        """The id of a special token ("<unk>", "<eot>", "<mask>"; char has all three, bpe the last two)."""
        self._need_fit()
        i = self._tok.special(name)
        if i is None:
            raise DataError(f"the {self.tokenizer} tokenizer has no {name} token")
        return i

    def fit(self, documents) -> TextEncoder:
        docs = _documents(documents)
        if not any(docs):
            raise DataError("no text to fit a tokenizer on (every document is empty)")
        self._tok.fit(docs)
        return self

    # ------------------------------------------------------------------ encode / decode
    # a corpus's stream: 4 bytes a token (int16 would halve it, but torch indexes only with int32 / int64 tensors,
    # and a Dataset's stream should index a table as int64 ids do)
    compact_dtype: ClassVar[torch.dtype] = torch.int32

    def encode(self, text, dtype: torch.dtype = torch.int64) -> torch.Tensor:
        """Ids (``dtype``: int64, or :attr:`compact_dtype` for a corpus's stream): of one string, or of documents
        joined, each followed by <eot>."""
        self._need_fit()
        if dtype not in _TYPECODES:
            raise ConfigError(f"encode: dtype must be one of {', '.join(map(str, _TYPECODES))}, got {dtype}")
        if isinstance(text, str):
            return torch.tensor(self._tok.ids(text), dtype=dtype)
        eot = self.special("<eot>")
        ids = array(_TYPECODES[dtype])  # filled one document at a time: no list of the corpus's ids
        for doc in _documents(text):
            ids.extend(self._tok.ids(doc))
            ids.append(eot)
        return torch.frombuffer(ids, dtype=dtype) if ids else torch.zeros(0, dtype=dtype)

    def unknown(self, text: str) -> list[str]:
        """Characters of ``text`` outside a char vocabulary, sorted (none for byte-level BPE)."""
        self._need_fit()
        return self._tok.unknown(text)

    def decode(self, ids):
        """A string from 1-D ids (specials shown as their names, except <eot> as a blank line), a list from 2-D."""
        self._need_fit()
        t = torch.as_tensor(ids)
        if t.ndim == 2:
            return [self.decode(row) for row in t]
        if t.ndim != 1:
            raise DataError(f"token ids must be 1-D (one text) or 2-D (rows), got shape {tuple(t.shape)}")
        values = [int(i) for i in t]
        bad = [i for i in values if not 0 <= i < self.vocab_size]
        if bad:
            raise DataError(f"token id {bad[0]} is outside the vocabulary (size {self.vocab_size})")
        return self._tok.decode(values)

    # ------------------------------------------------------------------ state
    def state(self) -> dict[str, Any]:
        self._need_fit()
        return {"kind": self.kind, "tokenizer": self.tokenizer, "vocab_size": self.vocab_size_requested,
                **self._tok.state()}

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> TextEncoder:
        enc = cls(state["tokenizer"], vocab_size=state.get("vocab_size", 1024))
        enc._tok = TOKENIZERS.get(enc.tokenizer).from_state(state, enc.vocab_size_requested)
        return enc


def _documents(documents) -> list[str]:
    if isinstance(documents, str):
        return [documents]
    docs = list(documents)
    if not all(isinstance(d, str) for d in docs):
        raise DataError("text must be a string or a list of strings")
    return docs
