"""Text as data: a .txt file, a folder of them, or a bundled corpus -> a ``text`` :class:`Dataset`.

A corpus is a list of documents: each file of a folder, or, within one file, runs of paragraphs (split at blank
lines) of about ``doc_chars`` characters, in order. Documents -- never random windows -- are split 80/10/10 into
train / valid / test (seeded), then the tokenizer (:class:`~genlab.data.kinds.TextEncoder`, ``"char"`` or
``"bpe"``) is fitted on the training documents only. Each split is one compact stream of token ids (int32), the
documents joined with ``<eot>``. Bundled corpora (no download): ``pydoc``.
"""

from __future__ import annotations

import os
from pathlib import Path

from genlab.data.dataset import Dataset
from genlab.data.kinds.text import TextEncoder
from genlab.data.split import rng_for
from genlab.errors import DataError

__all__ = ["TEXT_SUFFIXES", "read_text", "documents_of", "is_text_path", "load_text", "load_pydoc", "PYDOC_SOURCE"]

TEXT_SUFFIXES = (".txt",)
PYDOC_SOURCE = ("CPython's own pydoc_data.topics (PSF licence): the language reference's 79 topics, about 465,000 "
                "characters of English prose, one document each")


def read_text(path, *, errors: str = "strict") -> str:
    """The text of a UTF-8 file; an empty file, a binary file (a NUL byte) or invalid UTF-8 (named by byte offset,
    with what to do on the command line and in Python; ``errors="replace"`` decodes with U+FFFD instead) is a
    one-line DataError."""
    p = Path(os.fspath(path))
    try:
        raw = p.read_bytes()
    except OSError as exc:
        raise DataError(f"could not read {p}: {exc.strerror or exc}") from None
    if not raw.strip():
        raise DataError(f"{p} is empty")
    nul = raw.find(b"\x00", 0, 65536)
    if nul >= 0:
        raise DataError(f"{p} looks binary (a NUL byte at offset {nul}), not text")
    try:
        return raw.decode("utf-8", errors=errors)
    except UnicodeDecodeError as err:
        raise DataError(f"{p} is not UTF-8: byte {raw[err.start]:#04x} at offset {err.start}; convert the file to "
                        f"UTF-8 (e.g. iconv -f latin1 -t utf-8 {p.name} > utf8.txt), or in Python load it with "
                        "errors='replace' (bad bytes read as U+FFFD)") from None


def documents_of(text: str, doc_chars: int = 2000) -> list[str]:
    """Consecutive paragraphs (split at blank lines) grouped into documents of at least ``doc_chars`` characters."""
    docs, run, size = [], [], 0
    for para in (p for p in text.replace("\r\n", "\n").split("\n\n") if p.strip()):
        run.append(para)
        size += len(para)
        if size >= doc_chars:
            docs.append("\n\n".join(run))
            run, size = [], 0
    if run:
        docs.append("\n\n".join(run))
    return docs


def is_text_path(p: Path) -> bool:
    return (p.is_file() and p.suffix.lower() in TEXT_SUFFIXES) or (
        p.is_dir() and any(f.suffix.lower() in TEXT_SUFFIXES for f in p.iterdir() if f.is_file()))


def _split(docs: list[str], seed: int, name: str) -> tuple[list[str], list[str], list[str]]:
    if len(docs) < 3:  # too few documents: cut the text into 10 equal runs of characters instead
        text = "\n\n".join(docs)
        k = max(1, len(text) // 10)
        docs = [text[i : i + k] for i in range(0, len(text), k)]
    if len(docs) < 3:
        raise DataError(f"{name} is too short to split into train / valid / test")
    order = rng_for(seed, 3).permutation(len(docs))
    n_test = n_valid = max(1, round(0.1 * len(docs)))
    pick = lambda idx: [docs[i] for i in sorted(idx)]  # noqa: E731 - documents keep their order within a split
    return pick(order[n_test + n_valid :]), pick(order[n_test : n_test + n_valid]), pick(order[:n_test])


def load_text(source, *, seed: int = 0, tokenizer: str = "char", vocab_size: int = 1024, errors: str = "strict",
              name: str | None = None) -> Dataset:
    """A ``text`` Dataset from a .txt file, a folder of .txt files, or a list of document strings."""
    if isinstance(source, (list, tuple)):
        docs, name = list(source), name or "text"
    else:
        p = Path(os.fspath(source))
        name = name or p.name
        if p.is_dir():
            files = sorted(f for f in p.iterdir() if f.is_file() and f.suffix.lower() in TEXT_SUFFIXES)
            if not files:
                raise DataError(f"{p} holds no .txt files")
            docs = [read_text(f, errors=errors) for f in files]
        else:
            docs = documents_of(read_text(p, errors=errors))
    train, valid, test = _split([d for d in docs if d.strip()], seed, name)
    enc = TextEncoder(tokenizer, vocab_size=vocab_size).fit(train)
    ids = {k: enc.encode(v, enc.compact_dtype) for k, v in (("train", train), ("valid", valid), ("test", test))}
    return Dataset(name=name, **ids, kind="text", encoder=enc)


def load_pydoc(name: str = "pydoc", *, n_train=None, n_test=None, seed: int = 0, tokenizer: str = "char",
               vocab_size: int = 1024) -> Dataset:
    """The pydoc topics corpus (see :data:`PYDOC_SOURCE`)."""
    from pydoc_data.topics import topics

    if n_train is not None or n_test is not None:
        raise DataError("text splits by document: n_train / n_test do not apply")
    return load_text([topics[k] for k in sorted(topics)], seed=seed, tokenizer=tokenizer, vocab_size=vocab_size,
                     name=name)
