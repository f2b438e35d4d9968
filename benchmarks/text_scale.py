"""Text at scale (issue 26): a ``--mb`` MB file (100) -- the bundled pydoc corpus repeated, each copy perturbed
(seeded: 2 % of its words swapped with a neighbour, 1 % of its letters changed in case) -- is read, split by
document, tokenized (char, and byte-level BPE of 1024 tokens trained on the training split), encoded, and ``gpt``
trains on it for ``--train-seconds`` (60).

Each tokenizer runs in its own spawned process, so that its peak resident memory (``ru_maxrss``, read after each
phase: import, load = read + split + tokenizer fit + encode, train) is its own. Recorded beside it: the file's size,
and what the corpus would take as Python strings -- a list of its token strings (8 bytes a pointer plus each
token's ``str`` object, measured on a sample of tokens: one-character strings are shared singletons, so a char list
costs its pointers) -- against which the peak is judged. Throughput: characters/s of the whole load and tokens/s
of the encode alone (the tokenizer fit timed apart), training tokens/s (steps x batch x context on the training
loop's clock).

    python benchmarks/text_scale.py --mb 100 --train-seconds 60       # about 10 minutes, alone on 2 cores
    python benchmarks/text_scale.py --mb 2 --train-seconds 5 --out /tmp/text_scale   # a smoke run
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import resource
import sys
import tempfile
import time
from pathlib import Path

from app_common import attempt, md_table
from common import write_results

ROOT = Path(__file__).resolve().parents[1]
__all__ = ["big_text", "run"]


def big_text(path: Path, mb: float, seed: int) -> int:
    """Write the perturbed, repeated pydoc corpus (module docstring) to ``path``; returns its size in bytes."""
    from pydoc_data.topics import topics

    import numpy as np

    base = "\n\n".join(topics[k] for k in sorted(topics)).split(" ")
    rng, size, target = np.random.default_rng(seed), 0, int(mb * 2**20)
    with open(path, "w", encoding="utf-8") as f:
        while size < target:
            words = list(base)
            for i in rng.choice(len(words) - 1, size=len(words) // 50, replace=False):
                words[i], words[i + 1] = words[i + 1], words[i]
            text = " ".join(words)
            flip = rng.random(len(text)) < 0.01
            text = "".join(c.swapcase() if f else c for c, f in zip(text, flip, strict=True)) + "\n\n"
            text = text[: target - size] if size + len(text) > target else text
            f.write(text)
            size += len(text.encode("utf-8"))
    return path.stat().st_size


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def _child(path: str, tokenizer: str, seconds: float, seed: int, threads: int) -> dict:
    import torch

    import genlab
    from genlab.data.text import load_text

    torch.set_num_threads(threads)
    torch.optim.Adam([torch.zeros(1, requires_grad=True)])  # the first optimizer imports torch._dynamo (seconds)
    out = {"tokenizer": tokenizer, "rss_mb_import": _rss_mb()}
    t0 = time.perf_counter()
    ds = load_text(path, seed=seed, tokenizer=tokenizer)
    out["load_s"] = time.perf_counter() - t0
    enc, n_chars = ds.encoder, Path(path).stat().st_size
    tokens = ds.train.numel() + ds.valid.numel() + ds.test.numel()
    sample = ds.test[:20000].tolist()
    t0 = time.perf_counter()
    enc.encode(enc.decode(ds.test[:200_000]))  # the encode alone, on 200,000 tokens' text
    encode_s = time.perf_counter() - t0
    per_token = [sys.getsizeof(enc.decode([i])) for i in sample]
    str_bytes = 8 + sum(per_token) / len(per_token) if tokenizer != "char" else 8  # char: shared 1-char strings
    out.update(rss_mb_load=_rss_mb(), tokens=tokens, train_tokens=ds.train.numel(), vocab=enc.vocab_size,
               chars_per_token=n_chars / tokens, load_chars_per_s=n_chars / out["load_s"],
               encode_tokens_per_s=min(200_000, ds.test.numel()) / encode_s,
               as_python_strings_mb=tokens * str_bytes / 2**20, ids_mb=ds.train.element_size() * tokens / 2**20)
    model = genlab.create("gpt", ds)
    model.fit(ds, time_budget=seconds, seed=seed, progress=False)
    history = getattr(model, "history", []) or []
    loop_s = history[-1]["time"] if history else model.fit_time
    c = model.config
    out.update(steps=len(history), loop_s=loop_s, batch_size=c.batch_size, context=c.context,
               train_tokens_per_s=len(history) * c.batch_size * c.context / loop_s, rss_mb_train=_rss_mb())
    return out


def run(args, log=print) -> tuple[dict, str]:
    ctx = mp.get_context("spawn")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "big.txt"
        t0 = time.perf_counter()
        size = big_text(path, args.mb, args.seed)
        log(f"wrote {size / 2**20:.1f} MB in {time.perf_counter() - t0:.0f} s")
        rows = []
        for tok in args.tokenizers:
            def go(t=tok) -> dict:
                with ctx.Pool(1) as pool:
                    return pool.apply(_child, (str(path), t, args.train_seconds, args.seed, args.threads))

            row = {"tokenizer": tok, **attempt(f"text scale {tok}", go, log)}
            if "rss_mb_train" in row:
                row["peak_over_file"] = row["rss_mb_train"] / (size / 2**20)
                row["peak_over_strings"] = row["rss_mb_train"] / row["as_python_strings_mb"]
            rows.append(row)
            log(str(row))
    cols = [("tokenizer", "tokenizer"), ("tokens", "tokens"), ("load_chars_per_s", "load chars/s"),
            ("encode_tokens_per_s", "encode tokens/s"), ("train_tokens_per_s", "train tokens/s"),
            ("rss_mb_import", "RSS after import MB"), ("rss_mb_load", "peak RSS after load MB"),
            ("rss_mb_train", "peak RSS after training MB"), ("as_python_strings_mb", "as Python strings MB"),
            ("error", "error")]
    return {"results": rows, "file_mb": size / 2**20, "train_seconds": args.train_seconds}, md_table(rows, cols, 1)


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--mb", type=float, default=100.0, help="size of the text file in MB")
    ap.add_argument("--tokenizers", nargs="+", default=["char", "bpe"])
    ap.add_argument("--train-seconds", type=float, default=60.0)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "text_scale"))
    args = ap.parse_args(argv)
    payload, table = run(args)
    write_results(args.out, args, payload, table)
    print(table)
    return payload


if __name__ == "__main__":
    main()
