"""Text runs (``gpt``, ``mdlm``, ``ngram``) on the command line: what ``genlab sample``, ``impute`` and ``eval`` do
when the run was trained on the ``text`` kind. The commands call these functions once they have loaded the run and
seen its data kind (:func:`is_text_run`); the models do the work (:mod:`genlab.families.text_base`).

- ``sample``: n continuations of ``--prompt`` (each begins with it), ``--max-new-tokens`` tokens each; past the
  model's context the window slides (gpt, ngram) or generation goes on in blocks (mdlm), never an error. Written to
  a ``.txt`` file (or printed), each sample under a header line ``=== sample i of n ===``.
- ``impute``: the text of ``--input`` with its marked spans filled (:func:`genlab.nn.decoding.parse_markers`:
  ``[MASK]`` and ``___`` each stand for ``--span`` tokens, one by default -- one character for a char tokenizer --
  and ``[MASK:k]`` for exactly k tokens); only models that infill (mdlm) can; the others are a one-line error
  naming those that can.
- ``eval``: bits per character, ``-log2 p(text) / characters``, labelled ``exact`` (gpt, ngram) or ``bound``
  (mdlm's ELBO), of a whole ``.txt`` file (``--data FILE``; a folder: its files as documents), or of the held-out
  test split of the run's data (no ``--data``, or a corpus name); how each family conditions on the past is printed
  with it (:func:`scoring_rule`). Also the generation speed in tokens per second, for gpt with and without its
  key/value cache.

Every input file goes through :func:`genlab.data.text.read_text`: an empty file, a binary file (a NUL byte) or
bytes that are not UTF-8 (named by offset) are a one-line error, exit 2, before anything is written.
"""

from __future__ import annotations

import inspect
import time
from pathlib import Path

from genlab.errors import ConfigError, DataError

__all__ = ["is_text_run", "reject_text_options", "sample_text", "write_texts", "impute_text", "run_split",
           "evaluate_text", "scoring_rule", "generation_speed", "TEXT_ROWS", "SPEED_TOKENS"]

SPEED_TOKENS = 128  # new tokens (one sequence, from the start of a document) timed by generation_speed

# (key in the result of evaluate_text, label in the table)
TEXT_ROWS = (("likelihood", "likelihood"), ("bits_per_char", "bits/char"), ("chars", "characters"),
             ("tokens", "tokens"), ("unknown_chars", "characters outside the vocabulary"),
             ("scoring", "context of each prediction"), ("log_prob_time_s", "scoring time (s)"),
             ("tokens_per_second", "generation (tokens/s)"),
             ("tokens_per_second_no_cache", "  without the KV cache (tokens/s)"))


def is_text_run(model) -> bool:
    """Whether the run was trained on the ``text`` data kind."""
    return getattr(getattr(model, "data_encoder", None), "kind", None) == "text"


def reject_text_options(options: dict, model) -> None:
    """ConfigError when a text-only option (``--max-new-tokens`` ...) is given to a run not trained on text."""
    given = [k for k, v in options.items() if v is not None]
    if given:
        from genlab import registry

        also = [n for n in registry.MODELS.names()
                if "text" not in registry.get(n).kinds and registry.get(n).takes_sample_option(given[0])]
        also = f" and to {', '.join(also)} runs" if also else ""
        raise ConfigError(f"--{given[0].replace('_', '-')} applies to runs trained on text (gpt, mdlm, ngram){also}; "
                          f"model '{model.name}' was not")


def write_texts(texts: list[str], out: Path | None) -> str:
    """The samples under ``=== sample i of n ===`` header lines, written to ``out`` (.txt) when given; returned."""
    body = "".join(f"=== sample {i} of {len(texts)} ===\n{t}\n" for i, t in enumerate(texts, 1))
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(body, encoding="utf-8")
    return body


def sample_text(model, n: int, *, prompt: str, out: Path | None, seed: int, steps=None, sampler=None,
                max_new_tokens=None, temperature=None, top_k=None, top_p=None) -> dict:
    """n continuations of ``prompt`` (see the module docstring), written to ``out``; a summary record."""
    options = {"max_new_tokens": max_new_tokens, "temperature": temperature, "top_k": top_k, "top_p": top_p,
               "steps": steps, "sampler": sampler}
    t0 = time.perf_counter()
    texts = model.sample(n, prompt=prompt, seed=seed, **{k: v for k, v in options.items() if v is not None})
    seconds = time.perf_counter() - t0
    write_texts(texts, out)
    return {"model": model.name, "n": n, "prompt": prompt, "max_new_tokens": max_new_tokens or 256,
            "context": getattr(model.config, "context", None), "nfe": getattr(model, "last_nfe", None),
            "seed": seed, "out": None if out is None else str(out), "sample_time_s": seconds, "samples": texts}


def _read_documents(path) -> str | list[str]:
    """A .txt file's text, or a folder's .txt files as documents (each read by read_text)."""
    from genlab.data.text import TEXT_SUFFIXES, read_text

    p = Path(path)
    if p.is_dir():
        files = sorted(f for f in p.iterdir() if f.is_file() and f.suffix.lower() in TEXT_SUFFIXES)
        if not files:
            raise DataError(f"{p} holds no .txt files")
        return [read_text(f) for f in files]
    return read_text(p)


def impute_text(model, input_path, out: Path | None, *, seed: int, span: int | None = None, steps=None) -> dict:
    """The text of ``input_path`` with its marked spans filled (see the module docstring); written to ``out``."""
    from genlab.nn.decoding import parse_markers

    text = _read_documents(input_path)
    if not isinstance(text, str):
        raise DataError(f"--input {input_path} is a folder; give one .txt file")
    span = 1 if span is None else span
    _, spans = parse_markers(text, span)
    filled = model.impute(text, seed=seed, span=span, **({} if steps is None else {"steps": steps}))
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(filled, encoding="utf-8")
    return {"model": model.name, "input": str(input_path), "spans": len(spans), "filled_tokens": sum(spans),
            "nfe": getattr(model, "last_nfe", None), "seed": seed, "out": None if out is None else str(out),
            "text": filled}


def scoring_rule(model) -> str:
    """How ``bits_per_char`` conditions each token on the text before it, for this run's family and context."""
    c = model.config
    if model.name == "gpt":
        return (f"sliding windows of {c.context} tokens with stride {max(1, c.context // 2)}: every token predicted "
                f"once, from at least min(i, {max(1, c.context // 2)}) and at most {c.context - 1} tokens before it")
    if model.name == "mdlm":
        return (f"consecutive windows of {c.context} tokens, each bounded by the ELBO on its own (16 stratified "
                "times per window)")
    if model.name == "ngram":
        return f"the {c.order - 1} tokens before each (interpolated Kneser-Ney of order {c.order})"
    return f"as model '{model.name}' states in its module"


def generation_speed(model, *, seed: int = 0, tokens: int = SPEED_TOKENS) -> dict:
    """Tokens per second of one ``tokens``-long sample from the start of a document; for a model whose generation
    has a key/value cache (gpt), also without it (same tokens, recomputing the window for each one)."""
    def rate(**opts) -> float:
        t0 = time.perf_counter()
        model.sample(1, max_new_tokens=tokens, seed=seed, **opts)
        return tokens / max(time.perf_counter() - t0, 1e-9)

    out = {"tokens_per_second": rate()}
    if "use_cache" in inspect.signature(model._generate).parameters:
        out["tokens_per_second_no_cache"] = rate(use_cache=False)
    return out


def run_split(model, source: str, seed: int):
    """The text Dataset ``source`` (a corpus name or the run's own data) split with ``seed`` and tokenized with the
    run's tokenizer (its kind and, for BPE, its vocabulary size); DataError unless it tokenizes as the run's did."""
    import genlab

    enc = model.data_encoder
    ds = genlab.datasets.load(source, seed=seed, tokenizer=enc.tokenizer, vocab_size=enc.vocab_size_requested)
    if ds.kind != "text":
        raise DataError(f"--data '{source}' is {ds.kind}, not text; give a .txt file")
    if ds.encoder.state() != enc.state():
        raise DataError(f"the test split of '{source}' (seed {seed}) does not tokenize as the run's data did; "
                        "give the held-out text as a .txt file (--data FILE.txt)")
    return ds


def evaluate_text(model, source: str, *, whole_file: bool, seed: int, speed: bool = True) -> dict:
    """Bits per character of ``source`` (see the module docstring): with ``whole_file``, a .txt file or folder read
    whole; otherwise the test split of a corpus name or the run's own data, reloaded with the run's seed, which must
    tokenize as the run does."""
    enc = model.data_encoder
    if whole_file and Path(source).exists():
        text = _read_documents(source)
        bad = set(enc.unknown("".join([text] if isinstance(text, str) else text)))
        unknown = sum(ch in bad for t in ([text] if isinstance(text, str) else text) for ch in t) if bad else 0
        scored, what = text, "whole file"
    else:
        ds = run_split(model, source, seed)
        unk = model._special("<unk>")
        scored, what = ds.test, "held-out test split"
        unknown = 0 if unk is None else int((ds.test == unk).sum())
    t0 = time.perf_counter()
    bpc = model.bits_per_char(scored, seed=seed)
    seconds = time.perf_counter() - t0
    ids = model._ids_of(scored)
    result = {"model": model.name, "data": source, "scored": what, "seed": seed, "likelihood": model.likelihood,
              "bits_per_char": bpc, "chars": len(scored) if isinstance(scored, str) else model._n_chars(ids),
              "tokens": int(ids.numel()), "unknown_chars": unknown, "scoring": scoring_rule(model),
              "log_prob_time_s": seconds}
    if speed:
        result.update(generation_speed(model, seed=seed), speed_tokens=SPEED_TOKENS)
    return result
