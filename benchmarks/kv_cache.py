"""Generation speed of ``gpt`` with and without its key/value cache over the context length (issue 26): 256 new tokens
after one prompt, ``n`` samples at once, the same seed both ways (the tokens must be the same).

Speed does not depend on what the weights learned, so the models are fitted for a few steps only (at
text_bench.py's width: 4 layers, 4 heads, 128 wide) and differ only in ``context``. With the cache each new token is
one pass over that token (a slide past the context re-reads half a window once); without it the window is recomputed
for every token, so the cache's gain grows with the context: at context 64 (text_bench's models) the window is short
and per-token overheads dominate on a CPU.

    .venv/bin/python benchmarks/kv_cache.py                      # about 2 minutes on 2 cores; run it alone
Writes benchmarks/results/kv_cache.json and .md.
"""

from __future__ import annotations

import argparse
import datetime
import json
import time
from pathlib import Path

import torch

import genlab
from genlab.data.text import load_pydoc

ROOT = Path(__file__).resolve().parents[1]
PROMPT, SEED = "The model", 0


def speed(model, n: int, tokens: int, repeats: int) -> dict:
    out = {}
    for cache in (True, False):
        best, text = float("inf"), None
        for _ in range(repeats):  # the best of a few: the machine is shared
            t0 = time.perf_counter()
            text = model.sample(n, prompt=PROMPT, max_new_tokens=tokens, seed=SEED, use_cache=cache)
            best = min(best, time.perf_counter() - t0)
        out["cache" if cache else "recompute"] = {"tokens_per_s": round(n * tokens / best, 1), "text": text}
    out["same_tokens"] = out["cache"].pop("text") == out["recompute"].pop("text")
    out["speedup"] = round(out["cache"]["tokens_per_s"] / out["recompute"]["tokens_per_s"], 2)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--contexts", type=int, nargs="+", default=[64, 128, 256, 512])
    ap.add_argument("--n", type=int, nargs="+", default=[1, 8], help="samples drawn at once")
    ap.add_argument("--tokens", type=int, default=256)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "kv_cache")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    ds = load_pydoc()
    rows = []
    for context in args.contexts:
        model = genlab.create("gpt", ds, context=context).fit(ds, steps=20, seed=SEED, progress=False)
        for n in args.n:
            row = {"context": context, "n": n, **speed(model, n, args.tokens, args.repeats)}
            rows.append(row)
            print(json.dumps(row), flush=True)
    command = "python benchmarks/kv_cache.py " + " ".join(
        f"--{k} {' '.join(map(str, v)) if isinstance(v, list) else v}" for k, v in vars(args).items() if k != "out")
    date = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix(".json").write_text(json.dumps({"command": command, "date": date, "rows": rows}, indent=2)
                                             + "\n")
    lines = [f"# gpt generation with and without the key/value cache ({args.tokens} new tokens)", "",
             f"{date}; `{command}`", "", "| context | samples at once | cache tokens/s | recompute tokens/s | speedup |"
             " same tokens |", "|---|---|---|---|---|---|"]
    lines += [f"| {r['context']} | {r['n']} | {r['cache']['tokens_per_s']} | {r['recompute']['tokens_per_s']} | "
              f"{r['speedup']} | {r['same_tokens']} |" for r in rows]
    args.out.with_suffix(".md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
