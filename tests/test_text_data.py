"""The text kind: char and byte-level BPE tokenizers fitted on training documents only, corpora split by document."""

from __future__ import annotations

import json

import pytest
import torch

import genlab
from genlab.data.kinds import TextEncoder, encoder_from_state
from genlab.data.kinds.tokenizers import TOKENIZERS
from genlab.data.text import documents_of, load_text
from genlab.errors import DataError

DOCS = ["The cat sat on the mat.", "A dog barked at the moon!", "Rain fell on the quiet town.",
        "Stars shone above the hills.", "The river ran to the sea."] * 4


@pytest.mark.parametrize("tokenizer", TOKENIZERS.names())
def test_round_trip_and_state(tokenizer):
    enc = TextEncoder(tokenizer, vocab_size=300).fit(DOCS)
    text = "The cat sat on the moon."
    ids = enc.encode(text)
    assert ids.dtype == torch.int64 and ids.ndim == 1 and enc.decode(ids) == text
    again = encoder_from_state(json.loads(json.dumps(enc.state())))
    assert torch.equal(again.encode(text), ids) and again.decode(ids) == text
    stream = enc.encode(DOCS[:2])  # documents joined, each followed by <eot>
    assert (stream == enc.special("<eot>")).sum() == 2
    assert enc.decode(stream) == DOCS[0] + "\n\n" + DOCS[1] + "\n\n"
    rows = torch.stack([enc.encode("the"), enc.encode("the")])
    assert enc.decode(rows) == ["the", "the"]


def test_bpe_round_trips_any_string_and_compresses():
    enc = TextEncoder("bpe", vocab_size=300).fit(DOCS)
    odd = "Ünïcode ✓ — 数据 and tabs\tand\nnew lines"
    assert enc.decode(enc.encode(odd)) == odd and enc.unknown(odd) == []
    assert len(enc.encode(DOCS[0])) < len(DOCS[0])  # merges learned from the documents shorten them


def test_char_tokenizer_maps_unseen_characters_to_unknown_and_names_them():
    enc = TextEncoder("char").fit(DOCS)
    unseen = enc.unknown("The cat ate 7 Zebras")
    assert unseen == sorted(set("The cat ate 7 Zebras") - set("".join(DOCS))) and {"7", "Z"} <= set(unseen)
    ids = enc.encode("Zz")
    assert (ids == enc.special("<unk>")).all()


def test_a_corpus_is_split_by_document_and_the_tokenizer_sees_training_documents_only():
    docs = [f"Document {i}: " + ("alpha beta gamma " * 5) + ("QX" if i == 3 else "") for i in range(30)]
    ds = load_text(docs, seed=0)
    assert ds.kind == "text" and ds.shape == () and ds.valid is not None
    parts = {k: ds.encoder.decode(getattr(ds, k)) for k in ("train", "valid", "test")}
    for i, d in enumerate(docs):  # every document lies whole in exactly one split
        assert sum(d.replace("QX", "") in parts[k].replace("<unk>", "") for k in parts) == 1, i
    where = next(k for k in parts if "Document 3:" in parts[k])
    assert ("Q" in ds.encoder.chars) == (where == "train")  # a character only in a held-out document is unknown
    assert torch.equal(load_text(docs, seed=0).train, ds.train)  # seeded


def test_the_bundled_corpus_and_a_text_file(tmp_path):
    ds = genlab.datasets.load("pydoc")
    assert ds.kind == genlab.datasets.kind("pydoc") == "text" and len(ds.train) > 300_000
    assert "pydoc_data" in genlab.datasets.source("pydoc")
    story = tmp_path / "story.txt"
    story.write_text("\n\n".join(f"Paragraph {i} of a story that goes on. " * 8 for i in range(40)))
    t = genlab.datasets.load(story, tokenizer="bpe")
    assert t.kind == "text" and t.encoder.tokenizer == "bpe" and len(t.test) > 0
    assert len(documents_of(story.read_text())) >= 3


@pytest.mark.parametrize("content, message", [
    (b"", r"is empty"),
    (b"abc\x00\x01\x02", r"looks binary \(a NUL byte at offset 3\)"),
    (b"caf\xe9 au lait", r"is not UTF-8: byte 0xe9 at offset 3"),
])
def test_bad_text_files_are_one_line_errors(tmp_path, content, message):
    path = tmp_path / "bad.txt"
    path.write_bytes(content)
    with pytest.raises(DataError, match=message) as err:
        genlab.datasets.load(path)
    assert "\n" not in str(err.value)


def test_text_options_are_checked():
    with pytest.raises(DataError, match="unknown tokenizer 'words'; choose from: bpe, char"):
        TextEncoder("words")
    with pytest.raises(DataError, match="tokenizer applies to text"):
        genlab.datasets.load("iris", tokenizer="bpe")
    with pytest.raises(DataError, match="n_train / n_test do not apply"):
        genlab.datasets.load("pydoc", n_train=10)


@pytest.mark.parametrize("tokenizer", TOKENIZERS.names())
def test_a_corpus_is_one_int32_stream_and_a_model_trains_on_it_without_a_copy(tokenizer, monkeypatch):
    ds = load_text(DOCS, seed=0, tokenizer=tokenizer, vocab_size=300)
    assert all(getattr(ds, k).dtype == torch.int32 for k in ("train", "valid", "test"))
    assert torch.equal(ds.encoder.encode(DOCS[:3], torch.int32).long(), ds.encoder.encode(DOCS[:3]))
    seen = {}
    model = genlab.create("gpt", ds, n_layer=1, n_embd=16, n_head=2, context=8)
    monkeypatch.setattr(type(model), "_train_windows", lambda self, stream, spec: seen.update(stream=stream))
    model.fit(ds, steps=1, progress=False)
    # the network trains on the Dataset's own storage: no float or int64 copy of the corpus
    assert seen["stream"].data_ptr() == ds.train.data_ptr() and torch.equal(seen["stream"], ds.train)
    with pytest.raises(genlab.errors.ConfigError, match="dtype must be one of"):
        ds.encoder.encode(DOCS, torch.float32)
