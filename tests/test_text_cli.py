"""The command line on text runs (gpt, mdlm, ngram): sample --prompt, impute [MASK] spans, eval bits/char, bad input.

Runs are trained in the module fixture through ``genlab train`` on a repetitive corpus, so quality is cheap to test:
a prompt's continuation is the corpus's next words, decoded in the run's own tokenizer."""

from __future__ import annotations

import json
import math
import re

import pytest
from click.testing import CliRunner

import genlab
from genlab.cli import cli

SENTENCE = "the quick brown fox jumps over the lazy dog. "
TINY = ["--set", "n_layer=1", "--set", "n_head=2", "--set", "n_embd=32", "--set", "context=32", "--set", "warmup=10",
        "--set", "batch_size=16", "--set", "lr=1e-2"]
TRAIN = {"gpt": ["--steps", 200, *TINY], "mdlm": ["--steps", 400, *TINY], "ngram": ["--steps", 1, "--set", "order=5"]}
HEADER = re.compile(r"^=== sample \d+ of \d+ ===\n", re.M)


def run(*args):
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


def assert_one_line_error(result, *words):
    assert result.exit_code == 2, (result.exit_code, result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("genlab: error: "), result.stderr
    for w in words:
        assert w in lines[0], (w, lines[0])


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("text_cli")
    corpus = root / "corpus.txt"
    corpus.write_text("\n\n".join([SENTENCE * 50] * 10), encoding="utf-8")  # 10 documents of 2250 characters
    out = {"root": root, "corpus": corpus}
    for name, args in TRAIN.items():
        r = run("train", name, "--data", corpus, "--out", root / name, "--quiet", *args)
        assert r.exit_code == 0, r.stderr
        out[name] = root / name
    return out


def samples_of(text: str) -> list[str]:
    return [s[:-1] for s in HEADER.split(text)[1:]]  # each sample ends with the newline before the next header


# ------------------------------------------------------------------------------------------------------- sample
@pytest.mark.parametrize("name", ["gpt", "mdlm", "ngram"])
def test_sample_continues_the_prompt_past_the_context(runs, name, tmp_path):
    out = tmp_path / "s.txt"
    steps = ["--steps", 16] if name == "mdlm" else []
    r = run("sample", runs[name], "--prompt", "the quick", "--max-new-tokens", 80, "-n", 3, "--top-k", 1,
            "--out", out, *steps)  # 80 new tokens > context 32: the window slides (gpt) or goes in blocks (mdlm)
    assert r.exit_code == 0, r.stderr
    texts = samples_of(out.read_text(encoding="utf-8"))
    assert len(texts) == 3 and all(t.startswith("the quick") and len(t) >= len("the quick") + 80 for t in texts)
    assert all(set(t) <= set(SENTENCE) | {"\n"} for t in texts)  # decoded in the run's own character vocabulary
    if name == "gpt":  # greedy next-token prediction with 32 characters of context reproduces the corpus
        assert all(t.startswith("the quick brown fox jumps over the lazy dog. the quick brown") for t in texts)
    if name == "ngram":  # 4 characters of context: "the " is followed by "quick" or "lazy" alike (a tie for top-1)
        assert all(t[i : i + 5] in SENTENCE * 2 for t in texts for i in range(len(t) - 4)), texts


def test_sample_prints_or_writes_the_same_samples_for_a_seed(runs, tmp_path):
    args = ("sample", runs["gpt"], "--prompt", "the lazy", "--max-new-tokens", 40, "-n", 2, "--seed", 3,
            "--temperature", 1.5)
    printed, as_json = run(*args), run(*args, "--json")
    written = run(*args, "--out", tmp_path / "s.txt")
    assert printed.exit_code == as_json.exit_code == written.exit_code == 0
    record = json.loads(as_json.stdout)
    assert samples_of(printed.stdout) == record["samples"] == samples_of((tmp_path / "s.txt").read_text("utf-8"))
    assert record["n"] == 2 and record["context"] == 32 and all(s.startswith("the lazy") for s in record["samples"])


def test_a_prompt_outside_the_char_vocabulary_names_the_characters(runs, tmp_path):
    out = tmp_path / "s.txt"
    r = run("sample", runs["gpt"], "--prompt", "the QΩ", "-n", 1, "--out", out)
    assert_one_line_error(r, "'Q'", "'Ω'")
    assert not out.exists()


def test_text_options_and_txt_output_belong_to_text_runs(runs, tmp_path):
    gmm = tmp_path / "gmm"
    assert run("train", "gmm", "--data", "eight_gaussians", "--steps", 1, "--out", gmm, "--quiet",
               "--set", "n_components=2").exit_code == 0
    assert_one_line_error(run("sample", gmm, "-n", 2, "--out", tmp_path / "x.npy", "--max-new-tokens", 5),
                          "--max-new-tokens", "text")
    assert_one_line_error(run("sample", gmm, "-n", 2, "--out", tmp_path / "x.txt"), ".txt", "gmm")
    assert_one_line_error(run("sample", runs["gpt"], "-n", 2, "--out", tmp_path / "x.npy"), "makes text")
    assert not any(tmp_path.glob("x.*"))


# ------------------------------------------------------------------------------------------------------- impute
def test_mdlm_infills_the_marked_spans_and_keeps_the_rest(runs, tmp_path):
    text = ("over the lazy dog. the quick [MASK:5] fox jumps over the ___ dog. the quick brown fox [MASK:5] over "
            "the lazy dog. the quick brown ___ jumps\n")
    (tmp_path / "gaps.txt").write_text(text, encoding="utf-8")
    out = tmp_path / "filled.txt"
    r = run("impute", runs["mdlm"], "--input", tmp_path / "gaps.txt", "--span", 3, "--out", out, "--json")
    assert r.exit_code == 0, r.stderr
    assert json.loads(r.stdout)["spans"] == 4 and json.loads(r.stdout)["filled_tokens"] == 16
    pieces = re.split(r"\[MASK(?::\d+)?\]|___", text)
    pattern = "".join(f"{re.escape(p)}(.{{{k}}})" for p, k in zip(pieces[:-1], (5, 3, 5, 3), strict=True))
    filled = re.fullmatch(pattern + re.escape(pieces[-1]), out.read_text("utf-8"), flags=re.S)
    assert filled, out.read_text("utf-8")
    truth = "".join(("brown", "laz", "jumps", "fox"))
    got = "".join(filled.groups())
    assert set(got) <= set(SENTENCE)  # characters of the run's vocabulary, never a special token
    # 400 steps: 6 to 12 of 16 right over seeds 0-4 in a probe; chance is about 1 in 28 (4 of 16: p < 1e-3)
    assert sum(a == b for a, b in zip(got, truth, strict=True)) >= 4, got


@pytest.mark.parametrize("name", ["gpt", "ngram"])
def test_a_model_that_cannot_infill_names_those_that_can(runs, name, tmp_path):
    (tmp_path / "gaps.txt").write_text("the [MASK] fox", encoding="utf-8")
    r = run("impute", runs[name], "--input", tmp_path / "gaps.txt", "--out", tmp_path / "f.txt")
    assert_one_line_error(r, "cannot infill", "mdlm")
    assert not (tmp_path / "f.txt").exists()


# --------------------------------------------------------------------------------------------------------- eval
@pytest.mark.parametrize("name, label", [("gpt", "exact"), ("mdlm", "bound"), ("ngram", "exact")])
def test_eval_scores_every_character_of_a_file(runs, name, label, tmp_path):
    text = SENTENCE * 30  # 1350 characters: many contexts of 32 tokens
    (tmp_path / "test.txt").write_text(text, encoding="utf-8")
    r = run("eval", runs[name], "--data", tmp_path / "test.txt", "--json")
    assert r.exit_code == 0, r.stderr
    res = json.loads(r.stdout)
    assert res["likelihood"] == label and res["chars"] == len(text) and res["scored"] == "whole file"
    assert res["bits_per_char"] < {"gpt": 0.2, "mdlm": 3.0, "ngram": 0.2}[name], res  # unigram: about 4.1 bits
    assert res["tokens_per_second"] > 0 and ("tokens_per_second_no_cache" in res) == (name == "gpt")
    if label == "exact":  # the whole file, each character once: -log2 p(text) / characters
        model = genlab.load(runs[name])
        assert math.isclose(res["bits_per_char"], -float(model.log_prob(text)) / math.log(2) / len(text),
                            rel_tol=1e-5)


def test_eval_defaults_to_the_runs_held_out_split_and_counts_unknown_characters(runs, tmp_path):
    r = run("eval", runs["ngram"], "--json")
    assert r.exit_code == 0, r.stderr
    res = json.loads(r.stdout)
    assert res["scored"] == "held-out test split" and res["chars"] >= 2000 and res["bits_per_char"] < 0.2
    (tmp_path / "odd.txt").write_text("the quick brown fox Ωjumps", encoding="utf-8")
    odd = json.loads(run("eval", runs["ngram"], "--data", tmp_path / "odd.txt", "--json").stdout)
    assert odd["unknown_chars"] == 1


# ------------------------------------------------------------------------------------------------- bad input
@pytest.mark.parametrize("content, words", [(b"", ("is empty",)), (b"the quick\x00fox", ("NUL byte at offset 9",)),
                                            (b"the quick \xff fox", ("not UTF-8", "offset 10"))])
@pytest.mark.parametrize("command", ["train", "eval", "impute"])
def test_bad_text_files_are_one_line_errors_and_nothing_is_written(runs, command, content, words, tmp_path):
    bad = tmp_path / "bad.txt"
    bad.write_bytes(content)
    out = tmp_path / ("run" if command == "train" else "filled.txt")
    args = {"train": ("train", "ngram", "--data", bad, "--steps", 1, "--out", out),
            "eval": ("eval", runs["gpt"], "--data", bad),
            "impute": ("impute", runs["mdlm"], "--input", bad, "--out", out)}[command]
    assert_one_line_error(run(*args), *words)
    assert not out.exists()
