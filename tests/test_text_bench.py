"""The text section of ``genlab bench`` (issue 26): bits/char of held-out documents as the leaderboard (exact or a
bound, labelled), and each model's continuations of one fixed prompt, with the seed, in the report."""

from __future__ import annotations

import json

import pytest
import torch

import genlab
from genlab.apps.text import bench_prompt
from genlab.bench import run_bench
from genlab.bench.text import N_SAMPLES, NEW_TOKENS, scored_documents
from genlab.data.dataset import Dataset
from genlab.data.kinds.text import TextEncoder
from genlab.data.text import load_text

SENTENCE = "the quick brown fox jumps over the lazy dog. "
TINY = {"n_layer": 1, "n_head": 2, "n_embd": 32, "context": 32, "warmup": 5, "batch_size": 16, "lr": 1e-2}


@pytest.fixture(scope="module")
def bench(tmp_path_factory):
    torch.set_num_threads(1)
    root = tmp_path_factory.mktemp("text_bench")
    corpus = root / "corpus.txt"
    corpus.write_text("\n\n".join([SENTENCE * 45] * 20), encoding="utf-8")  # 20 documents (of 2,025 chars): 2 for test
    res = run_bench(corpus, ["ngram", "mdlm"], 1.0, root / "b", seed=3, progress=False, eval_points=1,
                    config_overrides={"ngram": {"order": 5}, "mdlm": TINY})
    return corpus, res


def test_leaderboard_is_bits_per_char_of_the_first_scored_documents(bench):
    corpus, res = bench
    ds = load_text(corpus, seed=3)
    test, n_docs = scored_documents(ds, 1)
    assert n_docs == 1 and 0 < test.numel() < ds.test.numel() and int(test[-1]) == ds.encoder.special("<eot>")
    assert [r.status for r in res.results] == ["ok", "ok"], [r.error for r in res.results]
    ngram, mdlm = res.results  # ranked: the n-gram knows this corpus by heart, the 1 s network does not
    assert (ngram.name, ngram.likelihood, mdlm.name, mdlm.likelihood) == ("ngram", "exact", "mdlm", "bound")
    fresh = genlab.create("ngram", ds, order=5).fit(ds.train, progress=False)
    assert ngram.bits_per_char == pytest.approx(fresh.bits_per_char(test, seed=3), rel=1e-9)
    assert ngram.bits_per_char < 0.3 < mdlm.bits_per_char and ngram.n_test == 1 and ngram.best


def test_samples_continue_one_prompt_with_the_benchs_seed(bench):
    corpus, res = bench
    ds = load_text(corpus, seed=3)
    text = res.settings["text"]
    assert text["prompt"] == bench_prompt(ds) and text["prompt"].startswith("the quick") and text["seed"] == 3
    fresh = genlab.create("ngram", ds, order=5).fit(ds.train, progress=False)
    ngram = res.results[0]
    assert ngram.samples == fresh.sample(N_SAMPLES, prompt=text["prompt"], max_new_tokens=NEW_TOKENS, seed=3)
    assert all(s.startswith(text["prompt"]) and SENTENCE.strip() in s for s in ngram.samples)
    saved = (res.out_dir / "samples" / "ngram.txt").read_text(encoding="utf-8")
    assert "(seed 3)" in saved and ngram.samples[1] in saved


def test_report_shows_the_text_leaderboard_and_samples(bench):
    _, res = bench
    out = res.out_dir
    page = (out / "report.html").read_text(encoding="utf-8")
    assert "test bits/char" in page and "sliced W1" not in page and "≤ " in page  # mdlm's bound, marked
    assert page.count('<pre class="sample">') == 2 * N_SAMPLES and "Samples from one prompt (text)" in page
    assert f"<b>{res.settings['text']['prompt']}</b>" in page
    md = (out / "leaderboard.md").read_text(encoding="utf-8")
    assert "Ranked by test bits/char" in md and "seed 3" in md
    data = json.loads((out / "leaderboard.json").read_text())
    assert data["best"] == "ngram" and data["results"][1]["samples"] == res.results[1].samples
    assert "bits_per_char" in (out / "leaderboard.csv").read_text().splitlines()[0]


def test_bench_prompt_stops_at_unknown_characters_and_word_ends():
    train = ["alpha beta gamma delta epsilon zeta eta theta\n"]
    enc = TextEncoder("char").fit(train)
    ds = Dataset(name="t", train=enc.encode(train), test=enc.encode(["  \n alpha beta gamma delta §x y\nzeta", "eta"]),
                 kind="text", encoder=enc)
    assert bench_prompt(ds, chars=12) == "alpha beta"  # the first non-blank line, cut back to a word end
    assert bench_prompt(ds, chars=40) == "alpha beta gamma delta"  # "§" was never seen in training
    assert bench_prompt(ds, chars=5) == "alpha"
