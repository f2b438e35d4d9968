"""The four claims of score-based modeling, measured; one results file per claim in benchmarks/results/.

1. Sample quality at least the GAN's at the same budget, without adversarial training: vp_sde and edm vs gan on
   eight_gaussians, each trained for --budget seconds; sliced W1 and MMD^2 of 2,000 samples to the test set, KL to
   the exact density where the model has a likelihood.             -> claim1_quality.json
2. Any network as backbone: vp_sde with its default ConditionalMLP and with a plain concatenation MLP set by
   set_backbone, same budget; sliced W1 and KL to truth.          -> claim2_backbone.json
3. ODE likelihood agrees with analytic values and with flows' exact NLL: exact scores (the likelihood figure's
   numbers, genlab.figures.analytic), then a trained vp_sde's probability-flow likelihood beside an nsf's exact NLL on
   the same eight_gaussians test points, and the true entropy (exact log-density).   -> claim3_likelihood.json
4. Inverse problems without retraining: digits inpainting and color_digits colorization by the replacement method
   with the shipped unconditional models (the figures' numbers).  -> claim4_inverse.json

    python benchmarks/claims.py --budget 60 --threads 2          # the full run (about 6 minutes)
    python benchmarks/claims.py --budget 2 --only 1,3 --out /tmp/claims   # a quick check of the script
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import torch
from torch import nn

import genlab
from genlab import metrics

RESULTS = Path(__file__).resolve().parent / "results"
FIGS = Path(__file__).resolve().parents[1] / "docs" / "figures" / "claims"
DATA = "eight_gaussians"


def _panels(samples: dict, ds, path: Path) -> None:
    """One scatter panel per model (samples over the test data)."""
    from genlab.plots import _figure, _save

    fig = _figure(4 * len(samples), 4.2)
    ref = ds.test[:2000].numpy()
    for i, (title, x) in enumerate(samples.items()):
        ax = fig.add_subplot(1, len(samples), i + 1)
        ax.scatter(ref[:, 0], ref[:, 1], s=2, c="0.7", linewidths=0)
        ax.scatter(x[:, 0].numpy(), x[:, 1].numpy(), s=2, c="C0", linewidths=0)
        ax.set_xlim(-4.5, 4.5)
        ax.set_ylim(-4.5, 4.5)
        ax.set_aspect("equal")
        ax.set_title(title, fontsize=9)
    fig.tight_layout()
    _save(fig, path)


def _fit(name, ds, budget, seed, backbone=None, **config):
    m = genlab.create(name, ds.shape, **config)
    if backbone is not None:
        m.set_backbone(backbone)
    t0 = time.perf_counter()
    m.fit(ds.train, time_budget=budget, seed=seed, progress=False)
    return m, {"fit_s": round(time.perf_counter() - t0, 1), "steps": m.trained_steps}


def _quality(m, ds, seed, n=2000, keep=None) -> dict:
    x = m.sample(n, seed=seed)
    if keep is not None:
        keep.append(x)
    out = {"sliced_w1": metrics.sliced_wasserstein(x, ds.test, seed=seed), "mmd2": metrics.mmd(x, ds.test, seed=seed),
           "nfe_per_sample": m.last_nfe}
    if m.likelihood != "none":
        truth = ds.sample(n, seed=seed + 1000)
        kl = metrics.kl_to_truth(ds.log_prob(truth), m.log_prob(truth, seed=seed))
        out.update(kl_to_truth=kl.kl, kl_stderr=kl.stderr)
    return out


def claim1(args, ds) -> dict:
    rows, samples = [], {}
    for name in ("vp_sde", "edm", "gan"):
        if name not in genlab.models.names():
            rows.append({"model": name, "error": "not registered"})
            continue
        m, info = _fit(name, ds, args.budget, args.seed)
        kept: list = []
        rows.append({"model": name, **info, **_quality(m, ds, args.seed, keep=kept)})
        samples[f"{name}: SW1 {rows[-1]['sliced_w1']:.3f}"] = kept[0]
        print(f"  claim 1 {name}: {rows[-1]}")
    _panels(samples, ds, args.figs / "claim1_samples.png")
    gan = next(r for r in rows if r["model"] == "gan")
    best = min((r for r in rows if r["model"] != "gan" and "sliced_w1" in r), key=lambda r: r["sliced_w1"])
    return {"claim": "sample quality at least the GAN's at the same budget, without adversarial training",
            "rows": rows, "met": best["sliced_w1"] <= gan["sliced_w1"], "best_score_model": best["model"]}


class ConcatMLP(nn.Module):
    """A plain MLP on [x, t] (no embedding, no residuals): the backbone of claim 2."""

    def __init__(self, dim: int, hidden: int = 128):
        super().__init__()
        self.f = nn.Sequential(nn.Linear(dim + 1, hidden), nn.SiLU(), nn.Linear(hidden, hidden), nn.SiLU(),
                               nn.Linear(hidden, hidden), nn.SiLU(), nn.Linear(hidden, dim))

    def forward(self, x, t, y=None):
        return self.f(torch.cat([x, t.expand(len(x))[:, None]], 1))


def claim2(args, ds) -> dict:
    rows, samples = [], {}
    for label, backbone in (("ConditionalMLP (default)", None), ("plain concatenation MLP", ConcatMLP(2))):
        m, info = _fit("vp_sde", ds, args.budget, args.seed, backbone=backbone)
        kept: list = []
        rows.append({"backbone": label, **info, **_quality(m, ds, args.seed, keep=kept)})
        samples[f"vp_sde, {label}: SW1 {rows[-1]['sliced_w1']:.3f}"] = kept[0]
        print(f"  claim 2 {label}: {rows[-1]}")
    _panels(samples, ds, args.figs / "claim2_backbones.png")
    return {"claim": "any network as backbone", "rows": rows}


def claim3(args, ds) -> dict:
    from genlab.figures.analytic import likelihood_figure

    with tempfile.TemporaryDirectory() as tmp:
        exact = likelihood_figure(Path(tmp))
    x = ds.test[: args.n_test]
    truth = ds.log_prob(x)
    rows = [{"model": "exact density (truth)", "nll": float(-truth.mean())}]
    from genlab.plots import _figure, _save

    fig = _figure(9, 4.2)
    for i, name in enumerate(("vp_sde", "nsf")):
        m, info = _fit(name, ds, args.budget, args.seed)
        t0 = time.perf_counter()
        lp = m.log_prob(x, seed=args.seed)
        ax = fig.add_subplot(1, 2, i + 1)
        ax.scatter(truth.numpy(), lp.numpy(), s=2, alpha=0.5, linewidths=0)
        lo, hi = float(truth.min()), float(truth.max())
        ax.plot([lo, hi], [lo, hi], c="k", lw=0.8)
        ax.set_xlabel("exact log p(x)")
        ax.set_ylabel(f"{name} log-likelihood ({'probability-flow ODE' if name == 'vp_sde' else 'exact flow'})")
        ax.set_title(f"{name}: NLL {float(-lp.mean()):.3f} (truth {float(-truth.mean()):.3f})", fontsize=9)
        rows.append({"model": name, "likelihood": m.likelihood, **info, "nll": float(-lp.mean()),
                     "nll_stderr": float(lp.std() / len(lp) ** 0.5), "log_prob_s": round(time.perf_counter() - t0, 1),
                     "kl_to_truth": float((truth - lp).mean()), "nfe": m.last_nfe})
        print(f"  claim 3 {name}: {rows[-1]}")
    fig.tight_layout()
    _save(fig, args.figs / "claim3_likelihood.png")
    return {"claim": "ODE likelihood agrees with analytic values and with flows' exact NLL",
            "exact_scores": {k: exact[k] for k in ("max_abs_error_nats", "mean_abs_error_nats",
                                                   "max_abs_error_true_prior_nats",
                                                   "gaussian_max_abs_error_true_prior_nats", "n_points", "eps")},
            "trained": rows, "n_test": len(x), "data": DATA}


def claim4(args, ds) -> dict:
    from genlab.figures.images import colorization_figure, inpainting_figure

    with tempfile.TemporaryDirectory() as tmp:
        inp, colr = inpainting_figure(Path(tmp), seed=args.seed), colorization_figure(Path(tmp), seed=args.seed)
    return {"claim": "inverse problems without retraining (replacement method, models trained without masks)",
            "inpainting": inp, "colorization": colr}


CLAIMS = {"1": ("claim1_quality.json", claim1), "2": ("claim2_backbone.json", claim2),
          "3": ("claim3_likelihood.json", claim3), "4": ("claim4_inverse.json", claim4)}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--budget", type=float, default=60.0, help="training seconds per model")
    p.add_argument("--only", default="1,2,3,4")
    p.add_argument("--n-test", type=int, default=2000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--out", type=Path, default=RESULTS)
    p.add_argument("--figs", type=Path, default=FIGS, help="folder of the claims' figures")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    ds = genlab.datasets.load(DATA, seed=args.seed)
    args.out.mkdir(parents=True, exist_ok=True)
    for key in args.only.split(","):
        file, fn = CLAIMS[key.strip()]
        t0 = time.perf_counter()
        res = fn(args, ds)
        res.update(budget_s=args.budget, threads=args.threads, seed=args.seed, wall_s=round(time.perf_counter() - t0, 1),
                   date=time.strftime("%Y-%m-%d"), command=f"python benchmarks/claims.py --budget {args.budget:g} "
                   f"--threads {args.threads} --only {key.strip()}")
        (args.out / file).write_text(json.dumps(res, indent=2, default=float) + "\n")
        print(f"claim {key}: {res['wall_s']} s -> {args.out / file}")


if __name__ == "__main__":
    main()
