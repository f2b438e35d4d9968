"""Natural-image patches: the best neural genlab model vs a 32-component Gaussian mixture (Zoran & Weiss 2011).

Data: ``patches`` (8x8 grey patches, 256 levels; train and test cut from different photographs). Every genlab
model is fitted with ``fit(train, time_budget=B, seed=s, dequantize=True)`` and scored on the test split
dequantized once with u ~ U[0, 1) from ``--seed``; the peer is scikit-learn's ``GaussianMixture(32,
covariance_type="full")`` fitted to the dequantized training patches (Zoran & Weiss's GMM prior for patches).
Reported: mean test log-likelihood per patch (nats, in units of 0..256 grey levels) and bits/dim; the claim is
that the best neural model's test log-likelihood lies above the GMM's. Scoring reuses ``benchmarks/digits.py``.

    python benchmarks/patches.py --budget 300 --out benchmarks/results/patches.json    # ~5 min per model
    python benchmarks/patches.py --budget 2 --eval-budget 2 --n-train 2000 --n-test 500 --models made  # smoke check
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path

import torch
from digits import dequantized_splits, score_split
from pixel_digits import parse_sets

import genlab

DIM = 64
# pixel_transformer infers its levels from the training maximum; a subset may miss the value 255 that a test patch has
DEFAULT_SETS = {"pixel_transformer": {"levels": "256"}}


def fit_and_score(name, config, ds, data, budget, eval_budget, seed) -> dict:
    m = genlab.create(name, ds.shape, **config)
    t0 = time.perf_counter()
    m.fit(ds.train, time_budget=budget, seed=seed, progress=False, dequantize=True)
    row = {"model": name, "config": config, "fit_s": time.perf_counter() - t0, "steps": len(m.history)}
    row.update({f"test_{k}": v for k, v in
                score_split(lambda x, s: m.log_prob(x, seed=s).detach(), data["test"], eval_budget, seed).items()})
    return row


def gmm_peer(data: dict, components: int, seed: int) -> dict:
    from sklearn.mixture import GaussianMixture

    t0 = time.perf_counter()
    g = GaussianMixture(components, covariance_type="full", random_state=seed, max_iter=200, reg_covar=1e-3)
    g.fit(data["train"].flatten(1).double().numpy())
    fit_s = time.perf_counter() - t0
    lp = torch.from_numpy(g.score_samples(data["test"].flatten(1).double().numpy()))
    nll = float(-lp.mean())
    return {"model": f"sklearn GaussianMixture({components}, full)", "fit_s": fit_s, "steps": int(g.n_iter_),
            "test_bpd": nll / (DIM * math.log(2)), "test_bpd_se": float(lp.std()) / math.sqrt(len(lp)) / (DIM * math.log(2)),
            "test_n_eval": len(lp)}


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--budget", type=float, default=300.0, help="training seconds per genlab model")
    p.add_argument("--models", default="pixel_transformer,made,nsf,maf,realnvp")
    p.add_argument("--set", action="append", default=[], metavar="MODEL:KEY=VALUE", help="config override")
    p.add_argument("--components", type=int, default=32)
    p.add_argument("--n-train", type=int, default=None, help="default: the set's 20000")
    p.add_argument("--n-test", type=int, default=None, help="default: the set's 5000")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--eval-budget", type=float, default=120.0, help="seconds for log_prob on the test split")
    p.add_argument("--out", default=None, help="JSON path (a .md table is written beside it)")
    a = p.parse_args(argv)
    torch.set_num_threads(a.threads)
    sets = {k: dict(v) for k, v in DEFAULT_SETS.items()}
    for model, kv in parse_sets(a.set).items():
        sets.setdefault(model, {}).update(kv)
    ds = genlab.datasets.load("patches", n_train=a.n_train, n_test=a.n_test, seed=a.seed)
    data = dequantized_splits(ds, a.seed)
    rows = [fit_and_score(n.strip(), sets.get(n.strip(), {}), ds, data, a.budget, a.eval_budget, a.seed)
            for n in a.models.split(",") if n.strip()]
    peer = gmm_peer(data, a.components, a.seed)
    for r in [*rows, peer]:
        r["test_loglik"] = -r["test_bpd"] * DIM * math.log(2)  # nats per patch
    lines = [f"patches: {len(ds.train)} train / {len(ds.test)} test, budget {a.budget:g} s per genlab model, "
             f"seed {a.seed} (uniform: 8 bits/dim)", "",
             "| model | test log-lik (nats/patch) | test bits/dim | n_eval | steps | fit s |", "|---|---|---|---|---|---|"]
    for r in sorted([*rows, peer], key=lambda r: r["test_bpd"]):
        lines.append(f"| {r['model']} | {r['test_loglik']:.1f} | {r['test_bpd']:.3f} ± {r['test_bpd_se']:.3f} | "
                     f"{r['test_n_eval']} | {r['steps']} | {r['fit_s']:.1f} |")
    finite = [r for r in rows if math.isfinite(r["test_bpd"])]
    best = min(finite, key=lambda r: r["test_bpd"]) if finite else None
    check = best is not None and best["test_loglik"] > peer["test_loglik"]
    lines += ["", f"- best neural model ({best['model'] if best else '-'}) above the GMM: {'yes' if check else 'NO'}"]
    text = "\n".join(lines)
    print(text)
    if a.out:
        path = Path(a.out)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"args": vars(a), "rows": rows, "peer": peer, "best_above_gmm": check}, indent=2))
        path.with_suffix(".md").write_text(text + "\n")


if __name__ == "__main__":
    main()
