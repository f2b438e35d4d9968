"""Equal-budget density benchmark on 2-D (and funnel) toys with known densities.

Every model gets the same wall-clock training budget; reported per (set, model): KL(truth || model) in nats
(mean of log p - log q over fresh truth samples, +- its standard error), sliced Wasserstein SW1 to the test
set, network evaluations per sample (``last_nfe`` where a model records it), fit and sample time.
Peers are independent implementations run in the same process, not genlab models: scikit-learn's GaussianMixture
used directly (``sk_gmm``; n_components chosen by held-out likelihood on a 20% validation part of the training
split, then refitted on all of it) and a bare zuko NSF trained by a plain Adam loop (``zuko_nsf``). genlab's own
``gmm`` (n_components by BIC on the training split) is a genlab model like the others, not a peer.
Extras (``--extras``): the ODE log-likelihood time of ``vp_sde`` for 10,000 2-D points, and the time per
training step of genlab's loop against a bare PyTorch loop on the same network, batch and loss.

    python benchmarks/toy_density.py --budget 60 --out results/toy_density   # writes .json and .md
    python benchmarks/toy_density.py --sets eight_gaussians --models vp_sde,gmm,zuko_nsf --budget 10
    python benchmarks/toy_density.py --models all        # every registered genlab model plus the peers
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

import torch

import genlab
import genlab.families.score  # noqa: F401  (registers the score models if the package does not yet)
from genlab.metrics import sliced_wasserstein

sys.path.insert(0, str(Path(__file__).parent))
from common import kl_columns  # noqa: E402
from peers import PEERS, make_peer  # noqa: E402

SETS = ["eight_gaussians", "checkerboard", "two_moons", "funnel"]
DEFAULT_MODELS = ["ncsn", "ve_sde", "vp_sde", "subvp_sde", "gmm", "sk_gmm", "zuko_nsf"]


def fit_gmm_bic(x: torch.Tensor, budget: float, candidates=(4, 8, 16, 32)):
    """genlab's gmm with the number of components minimising BIC (stops trying when the budget is spent)."""
    best, best_bic, end = None, math.inf, time.perf_counter() + budget
    n, d = x.shape
    for k in candidates:
        m = genlab.create("gmm", (d,), n_components=k).fit(x, progress=False)
        params = (k - 1) + k * d + k * d * (d + 1) / 2
        bic = -2 * float(m.log_prob(x).sum()) + params * math.log(n)
        if bic < best_bic:
            best, best_bic = m, bic
        if time.perf_counter() > end:
            break
    best.steps = best.config.n_components
    return best


def run_one(name: str, set_name: str, ds, budget: float, n_eval: int, n_samples: int, seed: int) -> dict:
    x = ds.train
    t0 = time.perf_counter()
    if name in PEERS:
        m = make_peer(name, x, budget, seed)
        steps = m.steps
    elif name == "gmm":
        m = fit_gmm_bic(x, budget)
        steps = f"K={m.steps}"
    else:
        m = genlab.create(name, ds.shape).fit(x, time_budget=budget, seed=seed, progress=False)
        steps = m.trained_steps
    fit_s = time.perf_counter() - t0
    row = {"set": set_name, "model": name, "fit_s": fit_s, "steps": steps}
    t0 = time.perf_counter()
    s = m.sample(n_samples, seed=seed)
    row["sample_s"] = time.perf_counter() - t0
    row["nfe_per_sample"] = getattr(m, "last_nfe", None)
    row["sw1"] = sliced_wasserstein(s, ds.test) if torch.isfinite(s).all() else math.inf
    if getattr(m, "likelihood", "exact") != "none":
        row.update(kl_columns(m, ds, n_eval, seed))
    return row


def step_time_comparison(budget_steps: int = 300) -> dict:
    """Seconds per training step: genlab's loop vs a bare Adam loop (same vp_sde network, batch, loss, EMA)."""
    x = genlab.datasets.load("eight_gaussians").train
    m = genlab.create("vp_sde", (2,)).fit(x, steps=budget_steps, seed=0, progress=False)
    h = m.history
    genlab_step = (h[-1]["time"] - h[19]["time"]) / (len(h) - 20)
    c = m.config
    bare = genlab.create("vp_sde", (2,))
    z = (x - x.mean(0)) / x.std(0, unbiased=False)
    opt = torch.optim.Adam(bare.parameters(), lr=c.lr)
    ema = [p.detach().clone() for p in bare.parameters()]
    g = torch.Generator().manual_seed(0)
    times = []
    for _ in range(budget_steps):
        t0 = time.perf_counter()
        idx = torch.randint(len(z), (c.batch_size,), generator=g)
        loss = bare.loss(z[idx], None, generator=g).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        with torch.no_grad():
            torch._foreach_lerp_(ema, [p.detach() for p in bare.parameters()], 1 - c.ema)
        loss.item()
        times.append(time.perf_counter() - t0)
    bare_step = sum(times[20:]) / len(times[20:])
    return {"genlab_step_ms": 1e3 * genlab_step, "bare_step_ms": 1e3 * bare_step, "ratio": genlab_step / bare_step}


def loglik_time(n: int = 10_000, budget: float = 20.0) -> dict:
    """ODE log-likelihood time of a fitted vp_sde for ``n`` 2-D points (exact divergence)."""
    ds = genlab.datasets.load("eight_gaussians")
    m = genlab.create("vp_sde", ds.shape).fit(ds.train, time_budget=budget, progress=False)
    xs = ds.sample(n, seed=5)
    t0 = time.perf_counter()
    m.log_prob(xs, seed=0)
    return {"n_points": n, "log_prob_s": time.perf_counter() - t0, "ode_nfe": m.last_nfe}


def fmt(v, spec=".3f") -> str:
    if v is None:
        return "-"
    return format(v, spec) if isinstance(v, float) else str(v)


def markdown(rows: list[dict], extras: dict) -> str:
    lines = ["| set | model | KL to truth (nats) | SW1 | NFE/sample | fit s | sample s | log_prob s | steps |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        kl = f"{r['kl']:.4f} ± {r['kl_stderr']:.4f}" if "kl" in r else "-"
        lines.append(f"| {r['set']} | {r['model']} | {kl} | {fmt(r['sw1'], '.4f')} | {fmt(r['nfe_per_sample'])} | "
                     f"{fmt(r['fit_s'], '.1f')} | {fmt(r['sample_s'], '.2f')} | {fmt(r.get('log_prob_s'), '.2f')} | "
                     f"{r['steps']} |")
    for k, v in extras.items():
        lines.append(f"\n**{k}**: " + ", ".join(f"{a} = {fmt(b)}" for a, b in v.items()))
    return "\n".join(lines)


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--budget", type=float, default=60.0, help="training seconds per model")
    p.add_argument("--sets", default=",".join(SETS))
    p.add_argument("--models", default=",".join(DEFAULT_MODELS),
                   help="comma-separated genlab names and/or the peers sk_gmm, zuko_nsf; 'all' = every registered model + peers")
    p.add_argument("--n-eval", type=int, default=2000, help="truth samples for the KL estimate")
    p.add_argument("--n-samples", type=int, default=2000, help="model samples for SW1")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--extras", action="store_true", help="also time the 10k-point ODE likelihood and the step cost")
    p.add_argument("--out", default=None, help="path stem: writes STEM.json and STEM.md")
    a = p.parse_args(argv)
    torch.set_num_threads(a.threads)
    models = genlab.models.names() + PEERS if a.models == "all" else [m.strip() for m in a.models.split(",") if m.strip()]
    rows = []
    for s in [s.strip() for s in a.sets.split(",") if s.strip()]:
        ds = genlab.datasets.load(s)
        for name in models:
            rows.append(run_one(name, s, ds, a.budget, a.n_eval, a.n_samples, a.seed))
    extras = {}
    if a.extras:
        extras["ODE log-likelihood, vp_sde, 10,000 points"] = loglik_time(budget=min(a.budget, 20.0))
        extras["time per training step (vp_sde network)"] = step_time_comparison()
    table = markdown(rows, extras)
    print(table)
    if a.out:
        stem = Path(a.out)
        stem.parent.mkdir(parents=True, exist_ok=True)
        stem.with_suffix(".json").write_text(json.dumps({"args": vars(a), "rows": rows, "extras": extras}, indent=2))
        stem.with_suffix(".md").write_text(table + "\n")


if __name__ == "__main__":
    main()
