"""Where a diffusion model's ODE-likelihood error comes from, by noise level.

On the sets made of noisy curves (swiss_roll, two_moons, pinwheel: :mod:`genlab.data.curves`) the data are a mixture
of isotropic Gaussians at quadrature nodes, so at every noise level sigma the noised density and the exact denoiser
D*(x; sigma) = E[x_0 | x] are analytic (each component's variance grows by sigma^2). A trained model's likelihood ODE
is run again with its denoiser replaced by D* inside one band of sigma; the drop in KL(truth || model) says how much
of the model's error that band carries. D* at every sigma gives KL ~ 0 (a check of the oracle and the solver).

    python benchmarks/oracle_bands.py --models edm,vp_sde --sets swiss_roll --budget 30 --out benchmarks/results/oracle_bands
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

import genlab
from genlab.data import curves
from genlab.diffusion import sigma_log_likelihood
from genlab.metrics import kl_to_truth

sys.path.insert(0, str(Path(__file__).parent))
from common import write_results  # noqa: E402

BANDS = [(0.0, 0.0), (0.0, 0.03), (0.03, 0.1), (0.1, 0.3), (0.3, 1.0), (1.0, float("inf")), (0.0, float("inf"))]


def exact_denoiser(mixture: curves.CurveMixture, mean: torch.Tensor, sd: torch.Tensor):
    """D*(x; sigma) in the model's standardised units for a :class:`~genlab.data.curves.CurveMixture`."""
    assert mixture.num_nodes > 0  # builds the quadrature nodes
    c, logw, s = mixture._nodes
    cz = (c - mean.double()) / sd.double()
    vz = s[:, None] ** 2 / sd.double()[None] ** 2

    def D(x, sigma):
        var = vz[None] + sigma.double()[:, None, None] ** 2
        d = x.double()[:, None, :] - cz[None]
        r = torch.softmax(logw[None] - 0.5 * (d**2 / var).sum(-1) - 0.5 * var.log().sum(-1), 1)
        return (r[..., None] * (cz[None] + vz[None] / var * d)).sum(1).to(x.dtype)

    return D


def run(name, set_name, budget, n_eval, seed) -> list[dict]:
    ds = genlab.datasets.load(set_name, seed=seed)
    m = genlab.create(name, ds.shape).fit(ds.train, time_budget=budget, seed=seed, progress=False)
    oracle = exact_denoiser(getattr(curves, set_name)(), m.normalizer.mean, m.normalizer.std)
    model = m.denoiser(None, 0.0)
    lo, hi = m.sigma_range()
    shift, log_scale = m._data_to_sigma_form()
    xs = ds.sample(n_eval, seed=seed + 1)
    lp_true, z = ds.log_prob(xs), m.normalizer(xs)
    rows = []
    for a, b in BANDS:
        def D(x, sigma, a=a, b=b):
            inside = (sigma >= a) & (sigma < b)
            return torch.where(inside[:, None], oracle(x, sigma), model(x, sigma)) if inside.any() else model(x, sigma)

        t0 = time.perf_counter()
        with torch.no_grad():
            res = sigma_log_likelihood(D, z * shift, lo, hi, m.prior_std_sigma(), rtol=1e-4, atol=1e-4)
        lq = res.logp + m.dim * log_scale + m.normalizer.log_abs_det()
        kl = kl_to_truth(lp_true, lq)
        rows.append({"set": set_name, "model": name, "steps": m.trained_steps, "band": [a, b], "kl": kl.kl,
                     "kl_stderr": kl.stderr, "nfe": res.nfe, "seconds": time.perf_counter() - t0})
        print(rows[-1], flush=True)
    return rows


def markdown(rows) -> str:
    lines = ["| set | model | steps | exact denoiser in sigma band | KL (nats) |", "|---|---|---|---|---|"]
    for r in rows:
        a, b = r["band"]
        band = "none (the model)" if b == 0 else ("all" if a == 0 and b == float("inf") else f"[{a:g}, {b:g})")
        lines.append(f"| {r['set']} | {r['model']} | {r['steps']} | {band} | {r['kl']:.4f} ± {r['kl_stderr']:.4f} |")
    return "\n".join(lines)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--models", default="edm,vp_sde")
    p.add_argument("--sets", default="swiss_roll")
    p.add_argument("--budget", type=float, default=30.0)
    p.add_argument("--n", type=int, default=3000, help="truth points for the KL")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--out", default="benchmarks/results/oracle_bands")
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    rows = [r for s in a.sets.split(",") for name in a.models.split(",") for r in run(name, s, a.budget, a.n, a.seed)]
    for r in rows:
        r["band"] = [r["band"][0], str(r["band"][1]) if r["band"][1] == float("inf") else r["band"][1]]
    write_results(a.out, a, {"rows": rows}, markdown([{**r, "band": [r["band"][0], float(r["band"][1])]} for r in rows]))


if __name__ == "__main__":
    main()
