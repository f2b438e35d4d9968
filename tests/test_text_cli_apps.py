"""Text runs on the command line, continued (issue 26): BPE runs from ``genlab train --tokenizer bpe --vocab-size``
and their held-out split reloaded by ``genlab eval``; the not-UTF-8 message; per-line anomaly scores
(``genlab anomaly RUN --input lines.txt``) and Bayes' rule over corpora (``genlab classify RUN_A RUN_B --input
lines.txt``)."""

from __future__ import annotations

import csv
import io
import json

import pytest
from click.testing import CliRunner

import genlab
from genlab.cli import cli
from genlab.data.text import load_text

FOX = "the quick brown fox jumps over the lazy dog. "
LOREM = "lorem ipsum dolor sit amet, consectetur adipiscing elit. "


def run(*args):
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


def one_line_error(result, *words):
    assert result.exit_code == 2, (result.exit_code, result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    for w in words:
        assert w in lines[0], (w, lines[0])


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("text_apps")
    out = {"root": root}
    for name, sentence in (("fox", FOX), ("lorem", LOREM)):
        corpus = root / f"{name}.txt"
        doc = "\n".join(sentence * k for k in (1, 2, 3, 4) * 2)  # lines of 1 to 4 sentences
        corpus.write_text("\n\n".join([doc] * 12), encoding="utf-8")
        r = run("train", "ngram", "--data", corpus, "--out", root / name, "--steps", 1, "--set", "order=5", "--quiet")
        assert r.exit_code == 0, r.stderr
        out[name], out[f"{name}_corpus"] = root / name, corpus
    r = run("train", "ngram", "--data", out["fox_corpus"], "--out", root / "fox_bpe", "--steps", 1, "--set", "order=4",
            "--tokenizer", "bpe", "--vocab-size", 300, "--seed", 2, "--quiet")
    assert r.exit_code == 0, r.stderr
    out["fox_bpe"] = root / "fox_bpe"
    lines = [FOX * 2, LOREM * 2, FOX * 3, LOREM.strip(), "", FOX * 4]  # a blank line is skipped
    (root / "lines.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    out["lines"] = root / "lines.txt"
    return out


def rows_of(path) -> list[dict]:
    return list(csv.DictReader(io.StringIO(path.read_text())))


# ------------------------------------------------------------------------------------------- train --tokenizer bpe
def test_a_bpe_run_keeps_its_vocabulary_size_and_eval_reloads_its_split(runs):
    model = genlab.load(runs["fox_bpe"])
    enc = model.data_encoder
    assert (enc.tokenizer, enc.vocab_size_requested) == ("bpe", 300)
    info = json.loads((runs["fox_bpe"] / "train.json").read_text())
    assert (info["tokenizer"], info["vocab_size"]) == ("bpe", 300)
    r = run("eval", runs["fox_bpe"], "--json")  # no --data: the held-out split, tokenized as the run's was
    assert r.exit_code == 0, r.stderr
    got = json.loads(r.stdout)
    ds = load_text(runs["fox_corpus"], seed=2, tokenizer="bpe", vocab_size=300)
    assert got["scored"] == "held-out test split" and got["tokens"] == ds.test.numel()
    assert got["bits_per_char"] == pytest.approx(model.bits_per_char(ds.test, seed=2), rel=1e-9)
    assert got["bits_per_char"] < 0.5  # the corpus is one sentence repeated: an order-4 BPE model knows it


@pytest.mark.parametrize("args, words", [
    (["--vocab-size", 300], ("--vocab-size", "--tokenizer bpe")),
    (["--tokenizer", "char", "--vocab-size", 300], ("--vocab-size", "--tokenizer bpe")),
])
def test_vocab_size_needs_bpe(runs, args, words, tmp_path):
    r = run("train", "ngram", "--data", runs["fox_corpus"], "--out", tmp_path / "r", "--steps", 1, *args)
    one_line_error(r, *words)
    assert not (tmp_path / "r").exists()


def test_a_tokenizer_for_data_that_is_not_text_is_one_line(tmp_path):
    r = run("train", "gmm", "--data", "eight_gaussians", "--out", tmp_path / "r", "--steps", 1, "--tokenizer", "bpe")
    one_line_error(r, "tokenizer applies to text")


def test_not_utf8_names_the_offset_and_what_to_do_on_the_command_line(tmp_path):
    bad = tmp_path / "latin.txt"
    bad.write_bytes(b"the quick brown fox\n\ncaf\xe9 au lait\n")
    r = run("train", "ngram", "--data", bad, "--out", tmp_path / "r", "--steps", 1)
    one_line_error(r, "not UTF-8", "byte 0xe9 at offset 24", "iconv -f latin1 -t utf-8 latin.txt", "U+FFFD")


# ------------------------------------------------------------------------------------------- anomaly / classify
def test_anomaly_flags_the_lines_of_another_corpus(runs, tmp_path):
    out = tmp_path / "flags.csv"
    r = run("anomaly", runs["fox"], "--input", runs["lines"], "--out", out, "--json")
    assert r.exit_code == 0, r.stderr
    summary = json.loads(r.stdout)
    rows = rows_of(out)
    assert [int(x["line"]) for x in rows] == [1, 2, 3, 4, 6]
    assert [int(x["prediction"]) for x in rows] == [1, -1, 1, -1, 1] and summary["flagged"] == 2
    bpc = [float(x["bits_per_char"]) for x in rows]
    assert max(bpc[0], bpc[2], bpc[4]) < summary["threshold_bits_per_char"] < min(bpc[1], bpc[3])
    model = genlab.load(runs["fox"])
    logp = float(model.log_prob(FOX * 2, seed=0))
    assert float(rows[0]["log_prob"]) == pytest.approx(logp, rel=1e-6)
    assert int(rows[0]["chars"]) == len(FOX * 2) and float(rows[0]["decision"]) > 0 > float(rows[1]["decision"])


def test_classify_assigns_each_line_its_corpus(runs, tmp_path):
    out = tmp_path / "corpus.csv"
    r = run("classify", runs["fox"], runs["lorem"], "--input", runs["lines"], "--out", out)
    assert r.exit_code == 0, r.stderr
    rows = rows_of(out)
    assert [x["prediction"] for x in rows] == ["fox", "lorem", "fox", "lorem", "fox"]
    assert all(abs(float(x["p_fox"]) + float(x["p_lorem"]) - 1) < 1e-9 for x in rows)
    assert float(rows[1]["p_lorem"]) > 0.999 and "classified 5 lines (fox 3, lorem 2)" in r.stdout


def test_text_scoring_refusals_are_one_line(runs, tmp_path):
    one_line_error(run("classify", runs["fox"], "--input", runs["lines"]), "two or more text runs")
    (tmp_path / "x.csv").write_text("1,2\n3,4\n")
    one_line_error(run("classify", runs["fox"], runs["lorem"], "--input", tmp_path / "x.csv"), "one RUN_DIR")
    one_line_error(run("anomaly", runs["fox"], "--input", tmp_path / "x.csv", "--contamination", 0.2),
                   "--contamination applies to text runs")
    gmm = tmp_path / "gmm"
    assert run("train", "gmm", "--data", "eight_gaussians", "--out", gmm, "--steps", 1, "--quiet").exit_code == 0
    one_line_error(run("anomaly", gmm, "--input", runs["lines"]), "runs trained on text", "gmm")
