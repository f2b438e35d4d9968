"""The ``text`` kind: strings <-> token ids, through a tokenizer fitted on the training documents only.

- ``tokenizer="char"``: one token per character seen in the training documents (sorted), plus the special tokens
  ``<unk>`` (any character not seen in training), ``<eot>`` (end of a document) and ``<mask>`` (the absorbing
  state of masked diffusion language models). Exact round trip for text made of seen characters.
- ``tokenizer="bpe"``: byte-level BPE (Radford et al. 2019's byte-level scheme; Sennrich et al. 2016's merges) trained
  locally with Hugging Face ``tokenizers`` to ``vocab_size`` tokens, with ``<eot>`` and ``<mask>``; every string
  round-trips exactly (bytes are the base alphabet), so there is no unknown token.

``encode(text)`` gives a 1-D int64 tensor of ids for one string; ``encode(list_of_documents)`` the documents' ids
joined, each followed by ``<eot>`` (a corpus as one compact stream); ``decode`` inverts either (a 2-D tensor gives a
list of strings, one per row). The fitted tokenizer is JSON (``state()``), saved in a checkpoint.
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch

from genlab.data.kinds.base import Encoder
from genlab.errors import DataError

__all__ = ["TextEncoder", "TOKENIZERS", "SPECIALS"]

TOKENIZERS = ("char", "bpe")
SPECIALS = ("<unk>", "<eot>", "<mask>")


class TextEncoder(Encoder):
    """A char or byte-level BPE tokenizer as the text kind's encoder (see the module docstring)."""

    kind: ClassVar[str] = "text"
    tensor_values: ClassVar[bool] = False

    def __init__(self, tokenizer: str = "char", *, vocab_size: int = 1024):
        if tokenizer not in TOKENIZERS:
            raise DataError(f"tokenizer must be one of {', '.join(TOKENIZERS)}, got {tokenizer!r}")
        if tokenizer == "bpe" and not 256 + len(SPECIALS) <= int(vocab_size) <= 65536:
            raise DataError(f"vocab_size must lie in [{256 + len(SPECIALS)}, 65536] for byte-level BPE, got {vocab_size}")
        self.tokenizer, self.vocab_size_requested = tokenizer, int(vocab_size)
        self.chars: list[str] = []  # char: the vocabulary after the specials
        self._bpe = None  # bpe: a tokenizers.Tokenizer
        self._index: dict[str, int] = {}

    # ------------------------------------------------------------------ fitting
    @property
    def fitted(self) -> bool:
        return bool(self.chars) or self._bpe is not None

    @property
    def shape(self) -> tuple[int, ...]:
        return ()  # a token: text is a stream (or rows) of scalar ids

    @property
    def vocab_size(self) -> int:
        self._need_fit()
        return len(SPECIALS) + len(self.chars) if self.tokenizer == "char" else self._bpe.get_vocab_size()

    def special(self, name: str) -> int:
        """The id of a special token ("<unk>", "<eot>", "<mask>"; char has all three, bpe the last two)."""
        self._need_fit()
        if self.tokenizer == "char":
            return SPECIALS.index(name)
        i = self._bpe.token_to_id(name)
        if i is None:
            raise DataError(f"the {self.tokenizer} tokenizer has no {name} token")
        return i

    def fit(self, documents) -> TextEncoder:
        docs = _documents(documents)
        if not any(docs):
            raise DataError("no text to fit a tokenizer on (every document is empty)")
        if self.tokenizer == "char":
            self.chars = sorted(set().union(*map(set, docs)))
            self._index = {c: i + len(SPECIALS) for i, c in enumerate(self.chars)}
            return self
        from tokenizers import ByteLevelBPETokenizer

        tok = ByteLevelBPETokenizer()
        tok.train_from_iterator(docs, vocab_size=self.vocab_size_requested, min_frequency=2,
                                special_tokens=list(SPECIALS[1:]), show_progress=False)
        self._bpe = tok._tokenizer
        return self

    # ------------------------------------------------------------------ encode / decode
    def encode(self, text) -> torch.Tensor:
        """int64 ids: of one string, or of documents joined, each followed by <eot>."""
        self._need_fit()
        if isinstance(text, str):
            return torch.tensor(self._ids(text), dtype=torch.int64)
        eot = self.special("<eot>")
        ids: list[int] = []
        for doc in _documents(text):
            ids += self._ids(doc)
            ids.append(eot)
        return torch.tensor(ids, dtype=torch.int64)

    def _ids(self, text: str) -> list[int]:
        if self.tokenizer == "char":
            unk = SPECIALS.index("<unk>")
            return [self._index.get(c, unk) for c in text]
        return self._bpe.encode(text).ids

    def unknown(self, text: str) -> list[str]:
        """Characters of ``text`` outside a char vocabulary, sorted (none for byte-level BPE)."""
        self._need_fit()
        return [] if self.tokenizer != "char" else sorted(set(text) - set(self._index))

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
        if self.tokenizer == "char":
            table = [*SPECIALS[:1], "\n\n", SPECIALS[2], *self.chars]
            return "".join(table[i] for i in values)
        eot = self.special("<eot>")
        parts, run = [], []
        for i in values:
            if i == eot:
                parts.append(self._bpe.decode(run, skip_special_tokens=False) + "\n\n")
                run = []
            else:
                run.append(i)
        return "".join(parts) + self._bpe.decode(run, skip_special_tokens=False)

    # ------------------------------------------------------------------ state
    def state(self) -> dict[str, Any]:
        self._need_fit()
        out = {"kind": self.kind, "tokenizer": self.tokenizer, "vocab_size": self.vocab_size_requested}
        return {**out, "chars": self.chars} if self.tokenizer == "char" else {**out, "bpe": self._bpe.to_str()}

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> TextEncoder:
        enc = cls(state["tokenizer"], vocab_size=state.get("vocab_size", 1024))
        if enc.tokenizer == "char":
            enc.chars = list(state["chars"])
            enc._index = {c: i + len(SPECIALS) for i, c in enumerate(enc.chars)}
        else:
            from tokenizers import Tokenizer

            enc._bpe = Tokenizer.from_str(state["bpe"])
        return enc


def _documents(documents) -> list[str]:
    if isinstance(documents, str):
        return [documents]
    docs = list(documents)
    if not all(isinstance(d, str) for d in docs):
        raise DataError("text must be a string or a list of strings")
    return docs
