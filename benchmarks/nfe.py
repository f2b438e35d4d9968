"""Sample quality against network evaluations (NFE) for every sampler of every diffusion model.

For each data set, each diffusion model is trained once (same budget), then every sampler it supports draws the same
number of samples from the same seed (so the deterministic samplers start from the same initial noise) at a ladder of
NFE targets. Quality: sliced Wasserstein-2 to fresh samples of the true distribution (256 projections), and KL(q || p)
= -H(q) - E_q[log p] where the set has an exact density p, with H(q) the Kozachenko-Leonenko 1-NN entropy estimate of
the samples (Kozachenko & Leonenko 1987; biased for small n, so compare rows of one table only).

    python benchmarks/nfe.py --budget 30 --out benchmarks/results/nfe          # .json, .md, and a figure
    python benchmarks/nfe.py --check --sets eight_gaussians,two_moons ...     # the 10-step vs ~1000-NFE check only
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

import numpy as np
import torch

import genlab
from genlab.metrics import sliced_wasserstein

sys.path.insert(0, str(Path(__file__).parent))
from common import write_results  # noqa: E402

SETS = ["two_moons", "rings", "pinwheel", "checkerboard", "funnel6"]
MODELS = ["vp_sde", "ve_sde", "subvp_sde", "edm"]
NFES = [1, 2, 4, 8, 16, 32, 64, 1000]


def steps_for(sampler: str, nfe: int) -> int | None:
    """Solver steps that spend about ``nfe`` network calls (None: cannot go that low)."""
    if sampler in ("euler", "ddim", "dpmpp_2m"):
        return nfe
    if sampler == "heun":  # 2 steps - 1
        return (nfe + 1) // 2
    if sampler in ("euler_maruyama", "reverse_diffusion"):  # steps + the final denoising
        return nfe - 1 if nfe >= 2 else None
    if sampler == "pc":  # 2 per step + 1
        return (nfe - 1) // 2 if nfe >= 3 else None
    return None


def kl_samples(s: torch.Tensor, log_p) -> float:
    """KL(q || p) from samples of q: -H_KL(q) - mean log p(s), H by the 1-NN Kozachenko-Leonenko estimator."""
    from scipy.special import digamma, gammaln
    from sklearn.neighbors import NearestNeighbors

    x = s.double().numpy()
    n, d = x.shape
    dist, _ = NearestNeighbors(n_neighbors=2).fit(x).kneighbors(x)
    r = np.maximum(dist[:, 1], 1e-12)
    log_vd = d / 2 * math.log(math.pi) - gammaln(d / 2 + 1)
    h = digamma(n) - digamma(1) + log_vd + d * np.mean(np.log(r))
    return float(-h - log_p(s).double().mean())


def sw2(a, b) -> float:
    return sliced_wasserstein(a, b, p=2.0, n_projections=256, seed=0)


def sweep(m, ds, truth, n, seed, nfes) -> list[dict]:
    rows = []
    for name, tags in m.samplers().items():
        targets = nfes if name != "ode" else ["rtol=1e-2", "rtol=1e-3", "rtol=1e-5"]
        for target in targets:
            if name == "ode":
                tol = float(target.split("=")[1])
                opts = {"rtol": tol, "atol": tol}
            else:
                steps = steps_for(name, target)
                if steps is None or steps < 1:
                    continue
                opts = {"steps": steps}
            t0 = time.perf_counter()
            s = m.sample(n, seed=seed, sampler=name, **opts)
            row = {"sampler": name, "tags": sorted(tags), "target": target, "nfe": m.last_nfe,
                   "sample_s": time.perf_counter() - t0}
            ok = bool(torch.isfinite(s).all())
            row["sw2"] = sw2(s, truth) if ok else math.inf
            if ds.has_density and ok:
                row["kl_q_p"] = kl_samples(s, ds.log_prob)
            rows.append(row)
            print(json.dumps(row), flush=True)
    return rows


def ten_step_check(m, truth, n, seed) -> dict:
    """10-step dpmpp_2m and heun against the same model's ~1000-NFE samples (heun, 500 steps), same initial noise."""
    out = {}
    ref = m.sample(n, seed=seed, sampler="heun", steps=500)
    out["ref_nfe"], out["ref_sw2"] = m.last_nfe, sw2(ref, truth)
    for name in ("dpmpp_2m", "heun"):
        s = m.sample(n, seed=seed, sampler=name, steps=10)
        out[f"{name}_nfe"], out[f"{name}_sw2"] = m.last_nfe, sw2(s, truth)
        out[f"{name}_ratio"] = out[f"{name}_sw2"] / out["ref_sw2"]
    return out


def markdown(results) -> str:
    lines = []
    for key, rows in results.items():
        if key == "checks":
            continue
        lines.append(f"\n### {key}\n\n| sampler | target | NFE | SW2 | KL(q‖p) |\n|---|---|---|---|---|")
        for r in rows:
            kl = f"{r['kl_q_p']:.3f}" if "kl_q_p" in r else "-"
            lines.append(f"| {r['sampler']} | {r['target']} | {r['nfe']} | {r['sw2']:.4f} | {kl} |")
    if results.get("checks"):
        lines.append("\n### 10 steps against ~1000 NFE (heun, 500 steps), same initial noise\n")
        lines.append("| set / model | n | ref NFE | ref SW2 | dpmpp_2m (19... NFE) SW2 | ratio | heun SW2 | ratio |")
        lines[-1] = "| set / model | n | ref NFE | ref SW2 | dpmpp_2m SW2 (NFE) | ratio | heun SW2 (NFE) | ratio |"
        lines.append("|---|---|---|---|---|---|---|---|")
        for k, c in results["checks"].items():
            lines.append(f"| {k} | {c['n']} | {c['ref_nfe']} | {c['ref_sw2']:.4f} | {c['dpmpp_2m_sw2']:.4f} "
                         f"({c['dpmpp_2m_nfe']}) | {c['dpmpp_2m_ratio']:.3f} | {c['heun_sw2']:.4f} ({c['heun_nfe']}) | "
                         f"{c['heun_ratio']:.3f} |")
    return "\n".join(lines)


def figure(results, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    keys = [k for k in results if k != "checks"]
    sets = list(dict.fromkeys(k.split(" / ")[0] for k in keys))
    models = list(dict.fromkeys(k.split(" / ")[1] for k in keys))
    names = sorted({r["sampler"] for k in keys for r in results[k]})
    colors = {n: plt.get_cmap("tab10")(i % 10) for i, n in enumerate(names)}  # one colour per sampler everywhere
    fig, axes = plt.subplots(len(sets), len(models), figsize=(3.2 * len(models), 2.6 * len(sets)), squeeze=False)
    for key in keys:
        set_name, model = key.split(" / ")
        ax = axes[sets.index(set_name)][models.index(model)]
        by = {}
        for r in results[key]:
            if math.isfinite(r["sw2"]):
                by.setdefault(r["sampler"], []).append((r["nfe"], r["sw2"]))
        for name, pts in sorted(by.items()):
            pts.sort()
            ax.plot([p[0] for p in pts], [p[1] for p in pts], marker="o", ms=3, color=colors[name], label=name)
        ax.set_xscale("log"), ax.set_yscale("log"), ax.set_title(key, fontsize=9)
        if set_name == sets[-1]:
            ax.set_xlabel("network calls per sample")
        if model == models[0]:
            ax.set_ylabel("sliced W2 to truth")
    handles = [plt.Line2D([], [], color=colors[n], marker="o", ms=3, label=n) for n in names]
    fig.legend(handles=handles, loc="upper center", ncol=len(names), fontsize=8, frameon=False)
    fig.tight_layout(rect=(0, 0, 1, 1 - 0.35 / (2.6 * len(sets))))
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--budget", type=float, default=30.0, help="training seconds per model")
    p.add_argument("--sets", default=",".join(SETS))
    p.add_argument("--models", default=",".join(MODELS))
    p.add_argument("--nfes", default=",".join(map(str, NFES)))
    p.add_argument("--n", type=int, default=5000, help="samples per sweep point")
    p.add_argument("--check-n", type=int, default=20000, help="samples of the 10-step check (0 = skip it)")
    p.add_argument("--check", action="store_true", help="only the 10-step check, no sweep")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--out", default=None, help="path stem: STEM.json, STEM.md, and docs/figures/nfe.png")
    p.add_argument("--figure", default="docs/figures/nfe.png")
    a = p.parse_args(argv)
    torch.set_num_threads(a.threads)
    nfes = [int(v) for v in a.nfes.split(",") if v]
    results: dict = {"checks": {}}
    for set_name in [s for s in a.sets.split(",") if s]:
        ds = genlab.datasets.load(set_name, seed=a.seed)
        truth = ds.sample(max(a.n, a.check_n), seed=a.seed + 5)
        for name in [m for m in a.models.split(",") if m]:
            m = genlab.create(name, ds.shape).fit(ds.train, time_budget=a.budget, seed=a.seed, progress=False)
            key = f"{set_name} / {name}"
            if not a.check:
                results[key] = sweep(m, ds, truth[: a.n], a.n, a.seed, nfes)
            if a.check_n:
                c = ten_step_check(m, truth[: a.check_n], a.check_n, a.seed)
                results["checks"][key] = {"n": a.check_n, "steps_trained": m.trained_steps, **c}
                print(json.dumps({key: results["checks"][key]}), flush=True)
    table = markdown(results)
    print(table)
    if a.out:
        write_results(a.out, a, {"results": results}, table)
        if not a.check:
            figure(results, Path(a.figure))


if __name__ == "__main__":
    main()
