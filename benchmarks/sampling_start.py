"""The sampling start of the sigma-form samplers (genlab.diffusion.start): which start, measured; then before/after.

    python benchmarks/sampling_start.py --threads 1 --out benchmarks/results/sampling_start

**Tuning** (``--sets``, correlated sets that no doc reports: ``mnist1d`` (40-D), ``diabetes`` (11-D), and
``gauss32``, a correlated 32-D Gaussian with its exact denoiser): each ``--models`` fits ``--steps`` steps (seed 0,
a fixed count so the load does not matter), then the same model samples ``--n`` rows with 16 dpmpp_2m steps from
each start of ``STARTS``: the old isotropic N(0, (sigma_0^2 + 1) I) at sigma_0 = 5; (a) the model's own prior at its
full sigma_max (isotropic, the grid from sigma_max); (b) the covariance-aware N(m, C + sigma_0^2 I) at sigma_0 = 5,
C of the training data; (c) the same at sigma_0 = 3 and 10. Columns: SW2 to the test (``sw2_test``) and training
rows (``sw2_train``), and the sampled variance along the training data's top principal component over the data's
(``pc1_ratio``; ``gauss32``: against the true Gaussian).

**Before/after on digits** (the report set): the exact Gaussian denoiser of the standardised digits (top-PC ratio),
and one ``edm`` fitted ``--digits-steps`` steps with ``dequantize=True``: ``frechet_digits`` of ``--n-frechet``
samples and the top-PC ratio, old start against new, same model and noise seeds.
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

import torch

import genlab
from genlab.diffusion.start import SamplingStart
from genlab.metrics import frechet_digits, sliced_wasserstein

sys.path.insert(0, str(Path(__file__).parent))
from common import write_results  # noqa: E402

# label -> (start rank: 0 isotropic / None covariance, sample_sigma_max: None = the model's full sigma_max)
STARTS = {"isotropic, sigma_0 5 (old)": (0, 5.0), "(a) own prior at sigma_max": (0, None),
          "(b) covariance, sigma_0 5": (None, 5.0), "(c) covariance, sigma_0 3": (None, 3.0),
          "(c) covariance, sigma_0 10": (None, 10.0)}


def with_start(m, rank, sigma_0, fitted: SamplingStart):
    """``m`` with the start ``rank`` (0: isotropic; None: the covariance start ``fitted``) from ``sigma_0``."""
    m.sampling_start = SamplingStart(m.dim, 0) if rank == 0 else fitted
    m.config.sample_sigma_max = float(sigma_0) if sigma_0 is not None else m.sigma_range()[1]
    return m


def pc1_ratio(samples: torch.Tensor, reference: torch.Tensor, cov: torch.Tensor | None = None) -> float:
    """Variance of ``samples`` along the top principal direction of ``reference`` (or of ``cov``) over its own."""
    samples, reference = samples.reshape(len(samples), -1).double(), reference.reshape(len(reference), -1).double()
    evals, evecs = torch.linalg.eigh(torch.cov(reference.T) if cov is None else cov)
    return float((samples @ evecs[:, -1]).var()) / float(evals[-1])


class ExactGaussian:
    """The exact denoiser of N(mu, C) in the sigma form: D(x; s) = mu + C (C + s^2 I)^-1 (x - mu) (a plain callable:
    set as a model's ``_denoise`` it must not become a submodule)."""

    def __init__(self, mu: torch.Tensor, cov: torch.Tensor):
        self.mu, self.cov = mu.double(), cov.double()

    def __call__(self, x, sigma, y=None):
        s2 = float(sigma.reshape(-1)[0]) ** 2
        gain = self.cov @ torch.linalg.inv(self.cov + s2 * torch.eye(len(self.cov), dtype=torch.float64))
        return (self.mu + (x.double() - self.mu) @ gain.T).to(x.dtype)


def gauss32(seed: int = 0):
    """A correlated 32-D Gaussian (unit variances, a few strong directions) and a sample of it."""
    g = torch.Generator().manual_seed(seed)
    a = torch.randn(32, 6, generator=g, dtype=torch.float64)
    cov = a @ a.T + 0.3 * torch.eye(32, dtype=torch.float64)
    d = cov.diagonal().rsqrt()
    cov = d[:, None] * cov * d[None, :]
    x = torch.randn(8000, 32, generator=g, dtype=torch.float64) @ torch.linalg.cholesky(cov).T
    return x[:6000].float(), x[6000:].float(), cov


def exact_model(shape, train: torch.Tensor, mu, cov):
    """An edm whose denoiser is ``ExactGaussian(mu, cov)`` (standardised units) and whose start is fitted to ``train``."""
    m = genlab.create("edm", shape, hidden=16, depth=1, emb_dim=8).fit(train, steps=1, progress=False)
    m._denoise = ExactGaussian(mu, cov)
    return m


def sample_rows(m, n: int, seed: int) -> torch.Tensor:
    return m.sample(n, seed=seed, sampler="dpmpp_2m", steps=16)


def tune(a, rows: list) -> None:
    for s in a.sets.split(","):
        if s == "gauss32":
            train, test, cov = gauss32()
            models = {"exact": exact_model((32,), train, torch.zeros(32), cov)}
        else:
            ds = genlab.datasets.load(s, seed=0)
            train, test, cov = ds.train, ds.test, None
            models = {name: genlab.create(name, ds.shape).fit(train, steps=a.steps, seed=0, progress=False)
                      for name in a.models.split(",")}
        for name, m in models.items():
            fitted = m.sampling_start
            for label, (rank, sigma_0) in STARTS.items():
                x = sample_rows(with_start(m, rank, sigma_0, fitted), a.n, seed=1)
                z = m.normalizer(x.reshape(len(x), -1))
                ref = m.normalizer(train.reshape(len(train), -1))
                row = {"set": s, "model": name, "start": label, "sigma_0": m.config.sample_sigma_max,
                       "sw2_test": sliced_wasserstein(x, test, p=2, seed=0),
                       "sw2_train": sliced_wasserstein(x, train, p=2, seed=0),
                       "pc1_ratio": pc1_ratio(x, train, cov) if cov is not None else pc1_ratio(z, ref)}
                print(row, flush=True)
                rows.append(row)


def digits(a) -> dict:
    ds = genlab.datasets.load("digits", seed=0)
    flat = ds.train.reshape(len(ds.train), -1)
    out = {}
    probe = genlab.create("edm", ds.shape, hidden=16, depth=1, emb_dim=8).fit(ds.train, steps=1, progress=False)
    z = probe.normalizer(flat).double()
    m = exact_model(ds.shape, ds.train, z.mean(0), torch.cov(z.T))
    fitted = m.sampling_start
    for key, rank in (("old", 0), ("new", None)):
        x = sample_rows(with_start(m, rank, 5.0, fitted), a.n_exact, seed=0)
        out[f"exact_pc1_ratio_{key}"] = pc1_ratio(m.normalizer(x.reshape(len(x), -1)), z)
    edm = genlab.create("edm", ds.shape).fit(ds.train, steps=a.digits_steps, seed=0, progress=False, dequantize=True)
    fitted = edm.sampling_start
    ref = edm.normalizer(flat + 0.5)
    for key, rank in (("old", 0), ("new", None)):
        with_start(edm, rank, 5.0, fitted)
        fds, ratios = [], []
        for seed in range(a.seeds):
            x = sample_rows(edm, a.n_frechet, seed=seed)
            fds.append(frechet_digits((x - 0.5).clamp(0.0, 16.0)))  # back from dequantized units (image_digits.py)
            ratios.append(pc1_ratio(edm.normalizer(x.reshape(len(x), -1)), ref))
        out[f"edm_frechet_{key}"], out[f"edm_pc1_ratio_{key}"] = fds, ratios
    out["edm_steps"] = len(edm.history)
    print(out, flush=True)
    return out


def table(rows: list, dig: dict) -> str:
    lines = ["| set | model | start | sigma_0 | SW2 test | SW2 train | top-PC variance ratio |", "|---|---|---|---|---|---|---|"]
    lines += [f"| {r['set']} | {r['model']} | {r['start']} | {r['sigma_0']:.3g} | {r['sw2_test']:.4f} | "
              f"{r['sw2_train']:.4f} | {r['pc1_ratio']:.3f} |" for r in rows]
    if dig:
        mean = lambda v: sum(v) / len(v)  # noqa: E731
        lines += ["", "| digits | old start (isotropic) | new start (covariance) |", "|---|---|---|",
                  f"| exact Gaussian denoiser: top-PC variance ratio | {dig['exact_pc1_ratio_old']:.3f} | "
                  f"{dig['exact_pc1_ratio_new']:.3f} |",
                  f"| edm ({dig['edm_steps']} steps): frechet_digits, mean of {len(dig['edm_frechet_old'])} | "
                  f"{mean(dig['edm_frechet_old']):.2f} | {mean(dig['edm_frechet_new']):.2f} |",
                  f"| edm: top-PC variance ratio | {mean(dig['edm_pc1_ratio_old']):.3f} | "
                  f"{mean(dig['edm_pc1_ratio_new']):.3f} |"]
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sets", default="gauss32,mnist1d,diabetes", help="tuning sets ('' to skip)")
    ap.add_argument("--models", default="edm,vp_sde")
    ap.add_argument("--steps", type=int, default=1500)
    ap.add_argument("--n", type=int, default=5000)
    ap.add_argument("--digits-steps", type=int, default=3000, help="0 skips the digits before/after")
    ap.add_argument("--n-exact", type=int, default=40000)
    ap.add_argument("--n-frechet", type=int, default=2000)
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", default=None, help="path stem: STEM.json and STEM.md")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    rows: list = []
    if a.sets:
        tune(a, rows)
    dig = digits(a) if a.digits_steps > 0 else {}
    text = table(rows, dig)
    print(text)
    if a.out:
        write_results(a.out, a, {"rows": rows, "digits": dig}, text)
    assert all(math.isfinite(r["sw2_test"]) for r in rows)


if __name__ == "__main__":
    main()
