"""Text at an equal budget (issue 26): ``gpt`` vs a bare-PyTorch model trained with nanoGPT's CPU recipe vs
``ngram`` (and ``mdlm``, a bound) on the bundled pydoc corpus (char tokenizer), test bits per character.

Every model's test bits/char follows one rule for text longer than its context: windows of the context stepping
by half of it, each token scored once with at least half a context before it (``genlab.families.gpt``); the
baseline is scored by the same rule here (and ``gpt`` by both, as a check). ``mdlm`` reports its ELBO (16 draws of t
per window of 64 tokens, a bound); ``ngram`` is exact with 4 tokens of context. Also: generation speed of ``gpt``
with and without its key/value cache (256 new tokens, same tokens for the same seed), infilling accuracy of 8-char
spans (``mdlm`` impute vs ``gpt`` greedy from the left context only), samples from one prompt with the seed.

Run it alone (2 cores; about 18 minutes: six trainings of the budget, then evaluation):
    .venv/bin/python benchmarks/text_bench.py --budget 180
Writes benchmarks/results/text_bench.json and .md (``--tag`` names other files, e.g. for a smoke run).
"""

from __future__ import annotations

import argparse
import datetime
import json
import math
import time
from pathlib import Path

import torch
from torch import nn
from torch.nn import functional as F

import genlab
from genlab.data.text import load_pydoc

PROMPT, SEED = "The model", 0
# gpt variants beside the defaults (the recipe's sizes): the choices the goal is about -- rotary positions, depth
# and batch for the budget, the learning rate, the tokenizer (byte-level BPE of 512 tokens: more text per window)
VARIANTS = {
    "gpt": ("char", {}),
    "gpt learned positions": ("char", {"rope": False}),
    "gpt 2x128 b32 lr2e-3": ("char", {"n_layer": 2, "batch_size": 32, "lr": 2e-3}),
    "gpt bpe512": ("bpe", {}),
}
# mdlm variants: the same choices for the masked-diffusion model (its network and training options are gpt's)
MDLM_VARIANTS = {
    "mdlm": ("char", {}),
    "mdlm 2x128 b32 lr2e-3": ("char", {"n_layer": 2, "batch_size": 32, "lr": 2e-3}),
    "mdlm bpe512": ("bpe", {}),
}


# ---------------------------------------------------------------------- the baseline: nanoGPT's CPU recipe, bare
class Block(nn.Module):
    def __init__(self, d, heads):
        super().__init__()
        self.ln1, self.ln2, self.heads = nn.LayerNorm(d, bias=False), nn.LayerNorm(d, bias=False), heads
        self.c_attn, self.c_proj = nn.Linear(d, 3 * d, bias=False), nn.Linear(d, d, bias=False)
        self.mlp = nn.Sequential(nn.Linear(d, 4 * d, bias=False), nn.GELU(), nn.Linear(4 * d, d, bias=False))

    def forward(self, x):
        B, T, C = x.shape
        q, k, v = (t.view(B, T, self.heads, -1).transpose(1, 2) for t in self.c_attn(self.ln1(x)).split(C, 2))
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True).transpose(1, 2).reshape(B, T, C)
        x = x + self.c_proj(y)
        return x + self.mlp(self.ln2(x))


class NanoGPT(nn.Module):
    """nanoGPT's model.py condensed: learned positions, pre-LN blocks, no biases, tied input/output embeddings."""

    def __init__(self, vocab, n_layer=4, n_head=4, n_embd=128, block=64):
        super().__init__()
        self.block = block
        self.wte, self.wpe = nn.Embedding(vocab, n_embd), nn.Embedding(block, n_embd)
        self.h = nn.ModuleList(Block(n_embd, n_head) for _ in range(n_layer))
        self.ln_f, self.head = nn.LayerNorm(n_embd, bias=False), nn.Linear(n_embd, vocab, bias=False)
        self.head.weight = self.wte.weight
        for name, p in self.named_parameters():
            if p.ndim == 2:
                residual = name.endswith(("c_proj.weight", "mlp.2.weight"))
                nn.init.normal_(p, 0.0, 0.02 / math.sqrt(2 * n_layer) if residual else 0.02)

    def forward(self, idx):
        x = self.wte(idx) + self.wpe(torch.arange(idx.shape[1]))
        for b in self.h:
            x = b(x)
        return self.head(self.ln_f(x))


def train_recipe(train: torch.Tensor, vocab: int, budget: float, seed: int):
    """config/train_shakespeare_char.py with nanoGPT's CPU overrides: block 64, batch 12, 4x4x128, dropout 0,
    2000 iterations, lr 1e-3 warm-up 100 then cosine to 1e-4, AdamW (0.9, 0.99), decay 0.1 on matrices, clip 1."""
    torch.manual_seed(seed)
    model, g = NanoGPT(vocab), torch.Generator().manual_seed(seed)
    decay = [p for p in model.parameters() if p.ndim >= 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1},
                             {"params": [p for p in model.parameters() if p.ndim < 2], "weight_decay": 0.0}],
                            lr=1e-3, betas=(0.9, 0.99))
    t0, it = time.perf_counter(), 0
    while it < 2000 and time.perf_counter() - t0 < budget:
        lr = 1e-3 * (it + 1) / 101 if it < 100 else 1e-4 + 0.5 * (1 + math.cos(math.pi * (it - 100) / 1900)) * 9e-4
        for group in opt.param_groups:
            group["lr"] = lr
        ix = torch.randint(len(train) - 65, (12,), generator=g)
        x, y = torch.stack([train[i : i + 64] for i in ix]), torch.stack([train[i + 1 : i + 65] for i in ix])
        loss = F.cross_entropy(model(x).flatten(0, 1), y.flatten())
        opt.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        it += 1
    return model.eval(), it, time.perf_counter() - t0


@torch.no_grad()
def strided_bits(net, ids: torch.Tensor, context: int, chars: int) -> float:
    """Bits/char of ids[1:] given ids[0]: windows of ``context`` stepping by context // 2, each token scored once."""
    stride, last, scored, w, nats = context // 2, ids.numel() - 1, 0, 0, 0.0
    while scored < last:
        n = min(context, last - w)
        lp = F.log_softmax(net(ids[None, w : w + n])[0].float(), -1).gather(1, ids[w + 1 : w + n + 1, None])[:, 0]
        nats -= float(lp[n - (w + n - scored) :].sum())
        scored, w = w + n, w + stride
    return nats / math.log(2) / chars


# ---------------------------------------------------------------------- measurements
def infill_accuracy(gpt, mdlm, test: str, n: int = 40, span: int = 8, width: int = 64) -> dict:
    """Char accuracy on ``span``-char holes in the middle of ``n`` test windows of ``width`` chars."""
    starts = torch.linspace(0, len(test) - width - 1, n).long().tolist()
    hits = {"mdlm": 0, "gpt_left": 0}
    for i, s in enumerate(starts):
        text = test[s : s + width]
        cut = (width - span) // 2
        left, truth, right = text[:cut], text[cut : cut + span], text[cut + span :]
        filled = mdlm.impute(f"{left}[MASK:{span}]{right}", seed=i, top_k=1)[len(left) : len(left) + span]
        guess = gpt.sample(1, prompt=left, max_new_tokens=span, top_k=1, seed=i)[0][len(left) : len(left) + span]
        hits["mdlm"] += sum(a == b for a, b in zip(filled, truth, strict=False))
        hits["gpt_left"] += sum(a == b for a, b in zip(guess, truth, strict=False))
    return {k: round(v / (n * span), 4) for k, v in hits.items()}


def kv_speed(gpt, tokens: int = 256) -> dict:
    out = {}
    for cache in (True, False):
        t0 = time.perf_counter()
        text = gpt.sample(1, prompt=PROMPT, max_new_tokens=tokens, seed=SEED, use_cache=cache)
        out["cache" if cache else "recompute"] = {"tokens_per_s": round(tokens / (time.perf_counter() - t0), 1),
                                                  "text": text[0]}
    out["same_tokens"] = out["cache"].pop("text") == out["recompute"].pop("text")
    out["speedup"] = round(out["cache"]["tokens_per_s"] / out["recompute"]["tokens_per_s"], 2)
    return out


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--budget", type=float, default=180.0, help="training seconds per model")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--no-mdlm", action="store_true", help="same as --mdlm-variants ''")
    ap.add_argument("--variants", default=",".join(VARIANTS), help=f"gpt variants, of: {', '.join(VARIANTS)}")
    ap.add_argument("--mdlm-variants", default="mdlm", help=f"mdlm variants, of: {', '.join(MDLM_VARIANTS)}")
    ap.add_argument("--tag", default="text_bench")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    ds = genlab.datasets.load("pydoc")
    eot, V = ds.encoder.special("<eot>"), ds.encoder.vocab_size
    # char tokenizer: a token a char; the Dataset holds int32 ids, the bare baseline indexes with int64
    test_ids, chars = torch.cat([torch.tensor([eot]), ds.test.long()]), ds.test.numel()
    rows, extra = {}, {}

    base, its, secs = train_recipe(ds.train.long(), V, args.budget, SEED)
    rows["nanogpt_recipe (bare PyTorch)"] = {"bits_per_char": strided_bits(base, test_ids, 64, chars),
                                             "likelihood": "exact", "steps": its, "fit_s": round(secs, 1)}
    bpe = load_pydoc(tokenizer="bpe", vocab_size=512, seed=0)  # the same documents in each split
    models = {v: genlab.create("gpt", ds if VARIANTS[v][0] == "char" else bpe, **VARIANTS[v][1])
              for v in args.variants.split(",") if v}
    models["ngram"] = genlab.create("ngram", ds)
    for v in ([] if args.no_mdlm else [v for v in args.mdlm_variants.split(",") if v]):
        models[v] = genlab.create("mdlm", ds if MDLM_VARIANTS[v][0] == "char" else bpe, **MDLM_VARIANTS[v][1])
    for name, m in models.items():
        test = ds.test if m.data_encoder is ds.encoder else bpe.test
        t0 = time.perf_counter()
        budget = None if name == "ngram" else args.budget
        m.fit(ds.train if test is ds.test else bpe.train, time_budget=budget, seed=SEED, progress=False)
        fit_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        rows[name] = {"bits_per_char": m.bits_per_char(test, seed=SEED), "likelihood": m.likelihood,
                      "steps": len(m.history), "fit_s": round(fit_s, 1), "eval_s": round(time.perf_counter() - t0, 1)}
        extra.setdefault("samples", {})[name] = m.sample(1, prompt=PROMPT, max_new_tokens=200, seed=SEED)[0]
    gpt = models.get("gpt") or genlab.create("gpt", ds).fit(ds.train, steps=1, progress=False)
    if "gpt" in rows:  # the library's bits/char and this file's rule agree
        rows["gpt"]["bits_per_char_bench_rule"] = strided_bits(gpt.net, test_ids, gpt.config.context, chars)
    extra["kv_cache"] = kv_speed(gpt)
    for v in (v for v in models if v.startswith("mdlm") and MDLM_VARIANTS[v][0] == "char"):
        key = "infill_accuracy" if v == "mdlm" else f"infill_accuracy {v}"
        extra[key] = infill_accuracy(gpt, models[v], ds.encoder.decode(ds.test))
    result = {"date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
              "command": f"benchmarks/text_bench.py --budget {args.budget:g} --threads {args.threads} --variants "
                         f"'{args.variants}' --mdlm-variants '{'' if args.no_mdlm else args.mdlm_variants}' "
                         f"--tag {args.tag}",
              "torch_threads": args.threads, "budget_s": args.budget, "prompt": PROMPT, "seed": SEED,
              "results": rows, **extra}
    out = Path(__file__).resolve().parent / "results"
    out.mkdir(exist_ok=True)
    (out / f"{args.tag}.json").write_text(json.dumps(result, indent=2))
    lines = [f"# Text at an equal {args.budget:g} s budget (pydoc, char)", "", f"{result['date']}; "
             f"`{result['command']}`", "", "| model | test bits/char | likelihood | steps | fit s |",
             "|---|---|---|---|---|"]
    lines += [f"| {k} | {v['bits_per_char']:.3f} | {v['likelihood']} | {v['steps']} | {v['fit_s']} |"
              for k, v in rows.items()]
    lines += ["", f"KV cache (256 tokens): {json.dumps(extra['kv_cache'])}"]
    for key in (k for k in extra if k.startswith("infill_accuracy")):
        which = key.removeprefix("infill_accuracy").strip() or "mdlm"
        lines += [f"Infilling, char accuracy on 8-char spans ({which} vs gpt): {json.dumps(extra[key])}"]
    lines += ["", f"Samples (prompt {PROMPT!r}, seed {SEED}):", ""]
    lines += [f"- **{k}**: {json.dumps(v)}" for k, v in extra.get("samples", {}).items()]
    (out / f"{args.tag}.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return result


if __name__ == "__main__":
    main()
