"""Text families: gpt (next-token), mdlm (masked diffusion, a bound) and ngram (Kneser-Ney), on small corpora."""

from __future__ import annotations

import itertools
import math
import re
from collections import Counter

import pytest
import torch
from torch.nn import functional as F

import genlab
from genlab.data.text import load_text
from genlab.errors import ConfigError

SENTENCE = "the quick brown fox jumps over the lazy dog. "
TINY = dict(n_layer=1, n_head=2, n_embd=32, context=32, warmup=10, batch_size=16)


@pytest.fixture(scope="module")
def corpus():
    return load_text([SENTENCE * 20] * 10, tokenizer="char")


@pytest.fixture(scope="module")
def gpt(corpus):
    return genlab.create("gpt", corpus, **TINY, lr=1e-2).fit(corpus.train, steps=200, seed=0, progress=False)


@pytest.fixture(scope="module")
def mdlm(corpus):
    return genlab.create("mdlm", corpus, **TINY, lr=3e-3).fit(corpus.train, steps=100, seed=0, progress=False)


@pytest.fixture(scope="module")
def ngram(corpus):
    return genlab.create("ngram", corpus, order=5).fit(corpus.train)


def unigram_bits(text: str) -> float:
    counts = Counter(text)
    return -sum(c / len(text) * math.log2(c / len(text)) for c in counts.values())


# ------------------------------------------------------------------------------------------------------------ gpt
def test_gpt_learns_a_repetitive_corpus(gpt, corpus):
    bpc = gpt.bits_per_char(corpus.test)
    assert bpc < 0.1 * unigram_bits(SENTENCE), bpc  # ~0.01 against ~4.1 bits of the character frequencies
    assert gpt.sample(1, prompt="the quick", max_new_tokens=30, top_k=1, seed=0)[0].startswith(
        "the quick brown fox jumps over")


def test_gpt_kv_cache_gives_the_same_tokens_and_slides_past_the_context(gpt):
    for opts in ({}, {"top_k": 5, "temperature": 1.5}, {"top_p": 0.9}):
        a = gpt.sample(3, prompt="the", max_new_tokens=90, seed=4, **opts)  # 90 > context 32: the window slides
        b = gpt.sample(3, prompt="the", max_new_tokens=90, seed=4, use_cache=False, **opts)
        assert a == b and all(len(s) >= 93 for s in a)
    gpt.sample(1, max_new_tokens=90, seed=0)
    cached = gpt.last_nfe
    gpt.sample(1, max_new_tokens=90, seed=0, use_cache=False)
    assert cached == gpt.last_nfe == 90


def test_rotary_scores_depend_on_offsets_only_and_keep_cached_generation_equal(corpus):
    from genlab.nn.transformer import rotary, rotate

    q, k = torch.randn(2, 1, 1, 6, 16, generator=torch.Generator().manual_seed(0))
    pos = torch.tensor([0, 1, 2, 3, 7, 20])
    scores = [rotate(q, rotary(pos + s, 16)) @ rotate(k, rotary(pos + s, 16)).transpose(-1, -2) for s in (0, 37)]
    assert torch.allclose(scores[0], scores[1], atol=1e-4)  # RoFormer: q_m . k_n depends on m - n only
    assert not torch.allclose(scores[0], q @ k.transpose(-1, -2), atol=1e-2)
    m = genlab.create("gpt", corpus, **TINY, rope=True).fit(corpus.train, steps=3, seed=0, progress=False)
    assert not hasattr(m.net, "wpe") and genlab.create("mdlm", corpus).config.rope
    assert m.sample(2, max_new_tokens=80, seed=1) == m.sample(2, max_new_tokens=80, seed=1, use_cache=False)


def test_gpt_top_k_1_is_greedy(gpt, corpus):
    ids = torch.cat([torch.tensor([corpus.encoder.special("<eot>")]), corpus.encoder.encode("the lazy")])
    with torch.no_grad():
        for _ in range(20):
            ids = torch.cat([ids, gpt.net(ids[None])[0, -1].argmax()[None]])
    greedy = "the lazy" + corpus.encoder.decode(ids[9:])
    assert gpt.sample(2, prompt="the lazy", max_new_tokens=20, top_k=1, seed=1) == [greedy] * 2
    assert gpt.sample(1, prompt="the lazy", max_new_tokens=20, top_k=1, seed=7) == [greedy]


def test_gpt_log_prob_is_the_sum_of_next_token_log_probabilities_in_strided_windows(gpt, corpus):
    text = "the lazy dog jumps over the quick brown fox. the end of a long line of text"  # 75 > context 32
    ids = torch.cat([torch.tensor([corpus.encoder.special("<eot>")]), corpus.encoder.encode(text)])
    C, stride, total = 32, 16, 0.0
    with torch.no_grad():
        for i in range(1, len(ids)):  # token i is read in the first window (starts 0, 16, 32, ...) that holds it
            w = max(0, math.ceil((i - C) / stride)) * stride
            total += float(F.log_softmax(gpt.net(ids[None, w:i])[0, -1], -1)[ids[i]])
    lp = gpt.log_prob([text, text[:20]])
    assert lp[0].item() == pytest.approx(total, rel=1e-5)
    assert gpt.bits_per_char(text) == pytest.approx(-total / math.log(2) / len(text), rel=1e-5)
    assert lp[1] > lp[0]


# ---------------------------------------------------------------------------------------------------------- ngram
@pytest.mark.parametrize("context", ["", "the qu", "zzzz", "dog. the lazy", "xq"])
def test_ngram_probabilities_sum_to_one(ngram, corpus, context):
    p = ngram.next_token_probs(corpus.encoder.encode(context))
    assert p.shape == (corpus.encoder.vocab_size,) and (p > 0).all()
    assert float(p.sum()) == pytest.approx(1.0, abs=1e-12)


def test_ngram_log_prob_chains_its_next_token_probabilities(ngram, corpus):
    text = "the lazy fox"
    ids = torch.cat([torch.tensor([corpus.encoder.special("<eot>")]), corpus.encoder.encode(text)])
    chain = sum(math.log(ngram.next_token_probs(ids[:i])[ids[i]]) for i in range(1, len(ids)))
    assert ngram.log_prob(text).item() == pytest.approx(chain, rel=1e-6)


def test_ngram_kneser_ney_by_hand():
    """Order 2 on the stream a b a b a c, Eq. 1 and the discounts of Eq. 26 worked out by hand."""
    ds = load_text(["abc"] * 10, tokenizer="char")  # only to get a tokenizer over a, b, c
    enc = ds.encoder
    m = genlab.create("ngram", ds, order=2).fit(enc.encode("ababac"))
    V = enc.vocab_size
    # bigrams: ab x2, ba x2, ac x1 -> raw counts; n1 = 1, n2 = 2, n3 = 0: Y = 1/5, D1 = 1 - 2 Y 2 / 1 = 0.2, D2 = 2
    # (n3 = 0 clamps D2 = 2 - 3 Y 0 / 2 = 2), D3+ from n3 = 0: 1.5 (the fallback 0.5 j)
    # unigram continuation counts: b <- {a}, a <- {b}, c <- {a}: 1 each (n1 = 3, n2 = 0): Y = 1, D1 = 1
    p1 = lambda w: max(1 - 1.0, 0) / 3 + (1.0 * 3 / 3) / V  # noqa: E731 - P_1(w) for a seen w
    # context a: c(ab) = 2, c(ac) = 1, c(a.) = 3, gamma = (D1 N1 + D2 N2) / 3 = (0.2 + 2) / 3
    expect_b = (2 - 2.0) / 3 + (0.2 + 2) / 3 * p1("b")
    expect_c = (1 - 0.2) / 3 + (0.2 + 2) / 3 * p1("c")
    p = m.next_token_probs(enc.encode("a"))
    assert float(p[enc.encode("b")]) == pytest.approx(expect_b) and float(p[enc.encode("c")]) == pytest.approx(expect_c)


def test_ngram_beats_a_unigram_model_on_held_out_prose():
    ds = genlab.datasets.load("pydoc")
    m = genlab.create("ngram", ds).fit(ds.train)
    counts = torch.bincount(ds.train, minlength=ds.encoder.vocab_size).double() + 1  # add-one unigram
    uni = float(-torch.log2(counts / counts.sum())[ds.test].sum()) / ds.test.numel()
    bpc = m.bits_per_char(ds.test)
    assert bpc < 0.6 * uni, (bpc, uni)  # ~2.3 against ~4.5 bits per character
    assert m.likelihood == "exact"


# ----------------------------------------------------------------------------------------------------------- mdlm
def test_mdlm_bound_is_the_any_order_expectation_and_above_the_exact_nll(corpus):
    """With a context of 4 tokens, the exact likelihood of the continuous-time sampler (reveal one uniformly random
    masked position at a time) and its ELBO (the average over orders) are sums over the 24 orders."""
    m = genlab.create("mdlm", corpus, **{**TINY, "context": 4}).fit(corpus.train, steps=60, seed=0, progress=False)
    x = corpus.encoder.encode("the ")
    mask = corpus.encoder.special("<mask>")
    logs = []
    with torch.no_grad():
        for order in itertools.permutations(range(4)):
            z, total = torch.full((1, 4), mask), 0.0
            for pos in order:
                total += float(m._log_x0(z)[0, pos, x[pos]])
                z[0, pos] = x[pos]
            logs.append(total)
    exact_nll = -(torch.logsumexp(torch.tensor(logs), 0) - math.log(24)).item()
    elbo_nll = -sum(logs) / 24
    bound = -m.log_prob(x, seed=0, draws=40000).item()  # Monte-Carlo sd ~0.08 nats
    assert bound == pytest.approx(elbo_nll, rel=0.03)
    assert elbo_nll >= exact_nll and bound >= exact_nll - 0.01


def test_mdlm_bound_improves_with_training_and_samples_decode(corpus, mdlm):
    fresh = genlab.create("mdlm", corpus, **TINY)
    fresh.fitted = True
    before, after = fresh.bits_per_char(corpus.test[:400]), mdlm.bits_per_char(corpus.test[:400])
    assert after < before - 0.3 and math.isfinite(after) and mdlm.likelihood == "bound"
    texts = mdlm.sample(2, prompt="the ", max_new_tokens=20, steps=8, seed=0)
    assert mdlm.last_nfe <= 8 and len(texts) == 2
    assert all(t.startswith("the ") and len(t) >= 24 and "<mask>" not in t and "<unk>" not in t for t in texts)
    long = mdlm.sample(1, max_new_tokens=50, steps=4, seed=0)[0]  # 50 > context 32: blocks of the context
    assert len(long) >= 50


def test_mdlm_impute_fills_exactly_the_marked_spans(mdlm):
    text = "the quick [MASK:5] fox jumps over the ___ dog, then [MASK] and " + "more text " * 6 + "[MASK:3]!"
    out = mdlm.impute(text, seed=0, steps=6)
    pieces = re.split(r"\[MASK(?::\d+)?\]|___", text)
    pattern = "".join(f"{re.escape(p)}(.{{{k}}})" for p, k in zip(pieces[:-1], (5, 1, 1, 3), strict=True)) + "!"
    filled = re.fullmatch(pattern, out, flags=re.S)
    assert filled, out
    assert all("<" not in g for g in filled.groups())
    assert mdlm.impute(text, seed=0, steps=6) == out and isinstance(mdlm.impute([text, "a ___ b"], seed=1), list)


# ------------------------------------------------------------------------------------------------ shared behaviour
@pytest.mark.parametrize("name", ["gpt", "mdlm", "ngram"])
def test_save_load_round_trip(name, corpus, gpt, mdlm, ngram, tmp_path):
    model = {"gpt": gpt, "mdlm": mdlm, "ngram": ngram}[name]
    model.save(tmp_path / name)
    again = genlab.load(tmp_path / name)
    assert again.data_encoder.state() == model.data_encoder.state()
    assert again.sample(2, prompt="the", max_new_tokens=20, seed=3) == model.sample(2, prompt="the",
                                                                                 max_new_tokens=20, seed=3)
    assert torch.equal(again.log_prob("the lazy dog", seed=0), model.log_prob("the lazy dog", seed=0))


def test_a_prompt_with_unknown_characters_names_them(gpt, ngram):
    for model in (gpt, ngram):
        with pytest.raises(ConfigError, match=r"vocabulary: 'Q' 'Ω'") as err:
            model.sample(1, prompt="the QΩ", max_new_tokens=5)
        assert "\n" not in str(err.value)


@pytest.mark.parametrize("name", ["gpt", "ngram"])
def test_mask_input_to_a_model_that_cannot_infill_names_those_that_can(name, gpt, ngram):
    with pytest.raises(ConfigError, match=r"cannot infill.*models that can: mdlm$"):
        {"gpt": gpt, "ngram": ngram}[name].impute("the [MASK] fox")


def test_text_models_take_text_only(corpus):
    assert set(genlab.models.for_kind("text")) >= {"gpt", "mdlm", "ngram"}
    with pytest.raises(ConfigError, match="does not take text data"):
        genlab.create("gmm", corpus)
    with pytest.raises(ConfigError, match="temperature"):
        genlab.create("ngram", corpus).fit(corpus.train).sample(1, temperature=0)
