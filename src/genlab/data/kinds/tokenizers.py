"""The tokenizers of the ``text`` kind, by name: :data:`TOKENIZERS` (a :class:`~genlab.registry.Registry`).

A tokenizer is built unfitted as ``cls(vocab_size=...)`` (the requested size; a tokenizer with a fixed vocabulary
ignores it), ``fit(documents)`` on the training documents only, and then maps one string to ids (``ids``) and ids
back (``decode``); ``state()`` / ``from_state(state, vocab_size=...)`` are its JSON form inside
:meth:`genlab.data.kinds.TextEncoder.state`. Special tokens are named by :data:`SPECIALS`. A new tokenizer is one
such class and one ``TOKENIZERS.register`` line.

- ``char``: one token per character seen in the training documents (sorted), after the special tokens ``<unk>``
  (any character not seen in training), ``<eot>`` (end of a document) and ``<mask>`` (the absorbing state of masked
  diffusion language models). Exact round trip for text made of seen characters.
- ``bpe``: byte-level BPE (Radford et al. 2019's byte-level scheme; Sennrich et al. 2016's merges) trained locally
  with Hugging Face ``tokenizers`` to ``vocab_size`` tokens, with ``<eot>`` and ``<mask>``; every string
  round-trips exactly (bytes are the base alphabet), so there is no unknown token.
"""

from __future__ import annotations

from typing import Any

from genlab.errors import DataError
from genlab.registry import Registry

__all__ = ["TOKENIZERS", "SPECIALS", "CharTokenizer", "ByteBPETokenizer"]

SPECIALS = ("<unk>", "<eot>", "<mask>")


class CharTokenizer:
    """One token per training character, after the three :data:`SPECIALS` (ids 0, 1, 2)."""

    one_token_per_char = True  # a text's length in characters is its number of tokens
    fixed_vocabulary = True  # the training characters; ``vocab_size`` is ignored

    def __init__(self, vocab_size: int = 1024):
        self.chars: list[str] = []  # the vocabulary after the specials
        self._index: dict[str, int] = {}

    def _set(self, chars) -> CharTokenizer:
        self.chars = list(chars)
        self._index = {c: i + len(SPECIALS) for i, c in enumerate(self.chars)}
        return self

    @property
    def fitted(self) -> bool:
        return bool(self.chars)

    @property
    def vocab_size(self) -> int:
        return len(SPECIALS) + len(self.chars)

    def fit(self, docs: list[str]) -> CharTokenizer:
        return self._set(sorted(set().union(*map(set, docs))))

    def special(self, name: str) -> int | None:
        return SPECIALS.index(name) if name in SPECIALS else None

    def ids(self, text: str) -> list[int]:
        unk = SPECIALS.index("<unk>")
        return [self._index.get(c, unk) for c in text]

    def unknown(self, text: str) -> list[str]:
        return sorted(set(text) - set(self._index))

    def decode(self, ids: list[int]) -> str:
        table = [*SPECIALS[:1], "\n\n", SPECIALS[2], *self.chars]
        return "".join(table[i] for i in ids)

    def state(self) -> dict[str, Any]:
        return {"chars": self.chars}

    @classmethod
    def from_state(cls, state: dict[str, Any], vocab_size: int = 1024) -> CharTokenizer:
        return cls(vocab_size)._set(state["chars"])


class ByteBPETokenizer:
    """Byte-level BPE of ``vocab_size`` tokens (``<eot>`` and ``<mask>`` among them; no ``<unk>``)."""

    one_token_per_char = False
    fixed_vocabulary = False  # learned to ``vocab_size`` tokens

    def __init__(self, vocab_size: int = 1024):
        if not 256 + len(SPECIALS) <= int(vocab_size) <= 65536:
            raise DataError(f"vocab_size must lie in [{256 + len(SPECIALS)}, 65536] for byte-level BPE, got {vocab_size}")
        self.requested = int(vocab_size)
        self._bpe = None  # a tokenizers.Tokenizer once fitted

    @property
    def fitted(self) -> bool:
        return self._bpe is not None

    @property
    def vocab_size(self) -> int:
        return self._bpe.get_vocab_size()

    def fit(self, docs: list[str]) -> ByteBPETokenizer:
        from tokenizers import ByteLevelBPETokenizer

        tok = ByteLevelBPETokenizer()
        tok.train_from_iterator(docs, vocab_size=self.requested, min_frequency=2,
                                special_tokens=list(SPECIALS[1:]), show_progress=False)
        self._bpe = tok._tokenizer
        return self

    def special(self, name: str) -> int | None:
        return self._bpe.token_to_id(name)

    def ids(self, text: str) -> list[int]:
        return self._bpe.encode(text).ids

    def unknown(self, text: str) -> list[str]:
        return []  # bytes are the base alphabet

    def decode(self, ids: list[int]) -> str:
        eot = self.special("<eot>")
        parts, run = [], []
        for i in ids:
            if i == eot:
                parts.append(self._bpe.decode(run, skip_special_tokens=False) + "\n\n")
                run = []
            else:
                run.append(i)
        return "".join(parts) + self._bpe.decode(run, skip_special_tokens=False)

    def state(self) -> dict[str, Any]:
        return {"bpe": self._bpe.to_str()}

    @classmethod
    def from_state(cls, state: dict[str, Any], vocab_size: int = 1024) -> ByteBPETokenizer:
        from tokenizers import Tokenizer

        tok = cls(vocab_size)
        tok._bpe = Tokenizer.from_str(state["bpe"])
        return tok


#: every tokenizer class of the text kind by name
TOKENIZERS: Registry[type] = Registry("tokenizer", DataError)
TOKENIZERS.register("char", CharTokenizer)
TOKENIZERS.register("bpe", ByteBPETokenizer)
