"""Evaluation metrics: NLL, bits/dim, KL to a known truth, sliced Wasserstein, MMD, straightness of an ODE.

This module sits above the model layer and reaches models only through the contract
(``m.log_prob``, ``m.sample``, ``m.likelihood``, ``m.shape``).

Conventions
-----------
* All log-densities are natural logarithms (nats), in the data's own units.
* **Discrete data** with ``levels`` integer values ``{0, ..., levels-1}`` are uniformly dequantized,
  ``x + u`` with ``u ~ U[0, 1)^D`` (Theis, van den Oord & Bethge, 2016, "A note on the evaluation of generative
  models"), so a model's density lives on ``[0, levels)^D`` in data units and no rescaling Jacobian enters.
  Bits per dimension is ``nll / (D ln 2)``; the uniform density on ``[0, L)^D`` scores exactly ``log2(L)``.
  Because ``-log p(x+u)`` upper-bounds the discrete NLL in expectation, the reported figure is an upper bound on
  the model's discrete code length.
* **Non-finite values** are reported, never raised: a model log-density of ``-inf`` on a test or truth sample
  makes ``nll``/``kl_to_truth`` equal ``inf`` (the model gives that point zero density), a NaN makes them
  NaN, and non-finite model samples make the sample metrics ``inf``; the counts are returned alongside
  (``nll_nonfinite``, ``kl_nonfinite``, ``samples_nonfinite``). ``json.dumps`` writes these as
  ``Infinity``/``NaN``.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch

from genlab.checks import positive_int
from genlab.data.validate import as_tensor
from genlab.errors import ConfigError, DataError
from genlab.frechet import classify_digits, frechet_digits  # sample quality on digits (see genlab.frechet)
from genlab.metrics.tables import TabularReport, tabular  # fidelity / utility / privacy of synthetic tables


def __getattr__(name: str):
    """Lazy: ``attribute_accuracy`` (the shapes judge, :mod:`genlab.metrics.attributes`) and ``physics`` (velocity
    errors of generated videos, :mod:`genlab.metrics.physics`) load their networks / scipy only when asked for."""
    if name == "attribute_accuracy":
        from genlab.metrics.attributes import attribute_accuracy

        return attribute_accuracy
    if name == "physics":
        import importlib

        return importlib.import_module("genlab.metrics.physics")
    raise AttributeError(f"module 'genlab.metrics' has no attribute {name!r}")

__all__ = ["KLResult", "nll", "bits_per_dim", "dequantize", "kl_to_truth", "sliced_wasserstein", "mmd", "evaluate",
           "frechet_digits", "classify_digits", "straightness", "tabular", "TabularReport", "attribute_accuracy",
           "physics"]


def _vector(logp, what: str) -> torch.Tensor:
    """A (N,) float64 tensor of log-densities; non-finite entries are allowed (they are reported, not raised)."""
    t = torch.as_tensor(logp).detach().to("cpu", torch.float64)
    if t.ndim != 1 or t.shape[0] == 0:
        raise DataError(f"{what} must be a non-empty (N,) tensor of log-densities, got shape {tuple(t.shape)}")
    return t


def nll(logp) -> float:
    """Mean negative log-likelihood in nats, ``-(1/N) sum_i log p(x_i)``, from a (N,) tensor of log-densities."""
    return float(-_vector(logp, "logp").mean())


def bits_per_dim(nll_nats: float, dim: int) -> float:
    """Bits per dimension, ``nll / (dim * ln 2)``.

    With genlab's dequantization convention (module docstring) a uniform model on ``[0, levels)^D`` scores
    ``log2(levels)`` bits/dim.
    """
    return float(nll_nats) / (positive_int("dim", dim) * math.log(2.0))


def dequantize(x, generator: torch.Generator | None = None, *, seed: int | None = None) -> torch.Tensor:
    """Uniform dequantization ``x + u``, ``u ~ U[0, 1)`` elementwise, as float32 (Theis et al., 2016).

    ``u`` comes from ``generator``, else from a generator made from ``seed`` (None: fresh OS entropy); never from
    the global torch RNG.
    """
    from genlab.rng import make_generator

    generator = make_generator(seed) if generator is None else generator
    x = torch.as_tensor(x).detach().to(torch.float32)
    return x + torch.rand(x.shape, generator=generator, dtype=torch.float32)


@dataclass
class KLResult:
    """Monte-Carlo estimate of KL(p || q): ``kl`` (nats), its standard error, the sample count, and the number
    of samples on which either log-density was non-finite."""

    kl: float
    stderr: float
    n: int
    n_nonfinite: int = 0


def kl_to_truth(logp_true, logp_model) -> KLResult:
    """KL(p || q) ≈ (1/n) sum_i [log p(x_i) - log q(x_i)] for x_i ~ p, with standard error ``std / sqrt(n)``.

    ``logp_true`` is log p and ``logp_model`` is log q, both (n,) in nats on the same samples from p.
    A model log-density of ``-inf`` gives ``kl = inf``; a NaN gives ``kl = nan``; ``stderr`` is then NaN.
    """
    lp, lq = _vector(logp_true, "logp_true"), _vector(logp_model, "logp_model")
    if lp.shape != lq.shape:
        raise DataError(f"logp_true and logp_model must have the same shape, got {tuple(lp.shape)} and {tuple(lq.shape)}")
    d = lp - lq
    n = int(d.shape[0])
    bad = int((~torch.isfinite(lp) | ~torch.isfinite(lq)).sum())
    kl = float(d.mean())
    if n < 2 or not math.isfinite(kl):
        return KLResult(kl=kl, stderr=float("nan"), n=n, n_nonfinite=bad)
    return KLResult(kl=kl, stderr=float(d.std(unbiased=True)) / math.sqrt(n), n=n, n_nonfinite=bad)


def _pair(x, y) -> tuple[torch.Tensor, torch.Tensor]:
    """Flatten two sample sets ((N,) counts as (N, 1)) to (N, D) and (M, D) float64, checking they are non-empty, finite and match."""
    x, y = (as_tensor(v.reshape(-1, 1) if getattr(v, "ndim", 2) == 1 else v, what=w).flatten(1).to(torch.float64)
            for v, w in ((x, "x"), (y, "y")))
    if x.shape[1] != y.shape[1]:
        raise DataError(f"x and y have different dimensions ({x.shape[1]} and {y.shape[1]})")
    return x, y


def _w1d(a: torch.Tensor, b: torch.Tensor, p: float) -> torch.Tensor:
    """Exact W_p^p between the empirical distributions of the rows of ``a`` (P, n) and ``b`` (P, m).

    W_p^p = ∫_0^1 |F^-1(t) - G^-1(t)|^p dt; both quantile functions are step functions, so the integral is a
    finite sum over the merged breakpoints {i/n} ∪ {j/m} (this handles unequal sizes exactly).
    """
    n, m = a.shape[1], b.shape[1]
    a, b = a.sort(dim=1).values, b.sort(dim=1).values
    t = torch.cat([torch.arange(0, n + 1, dtype=torch.float64) / n, torch.arange(1, m + 1, dtype=torch.float64) / m])
    t = t.sort().values
    w = t[1:] - t[:-1]
    mid = 0.5 * (t[1:] + t[:-1])
    ia = (mid * n).floor().long().clamp_(0, n - 1)
    ib = (mid * m).floor().long().clamp_(0, m - 1)
    return ((a[:, ia] - b[:, ib]).abs().pow(p) * w).sum(dim=1)


def sliced_wasserstein(x, y, *, n_projections: int = 128, p: float = 1.0, seed: int | None = 0) -> float:
    """Sliced Wasserstein distance ``SW_p = (E_θ W_p^p(θ·x, θ·y))^(1/p)`` (Rabin et al., 2011; Bonneel et al., 2015).

    genlab reports ``p = 1`` (SW1, in data units): for 1-D inputs it equals the exact W1 (as in
    ``scipy.stats.wasserstein_distance``), and a shift δ of a distribution gives ``|δ|`` in 1-D. θ are
    ``n_projections`` uniform random unit directions (from ``seed``); images are flattened to vectors. The 1-D
    distances are exact between the empirical quantile functions, so ``x`` and ``y`` may differ in size.
    """
    x, y = _pair(x, y)
    if int(n_projections) < 1 or not p >= 1:
        raise ConfigError(f"need n_projections >= 1 and p >= 1, got {n_projections} and {p}")
    dim = x.shape[1]
    if dim == 1:
        theta = torch.ones(1, 1, dtype=torch.float64)
    else:
        g = torch.Generator().manual_seed(0 if seed is None else int(seed))
        theta = torch.randn(int(n_projections), dim, generator=g, dtype=torch.float64)
        theta = theta / theta.norm(dim=1, keepdim=True).clamp_min(1e-12)
    wp = _w1d(theta @ x.T, theta @ y.T, float(p))
    return float(wp.mean() ** (1.0 / p))


def mmd(x, y, *, bandwidth: float | Sequence[float] | None = None, max_n: int = 2000, seed: int | None = 0) -> float:
    """Unbiased squared maximum mean discrepancy (Gretton et al., 2012, eq. 3) with RBF kernels.

    MMD² = 1/(n(n-1)) Σ_{i≠j} k(x_i,x_j) + 1/(m(m-1)) Σ_{i≠j} k(y_i,y_j) - 2/(nm) Σ_{i,j} k(x_i,y_j),
    ``k(a,b) = mean_s exp(-|a-b|² / (2 s²))`` over the bandwidths ``s``. With ``bandwidth=None`` the
    bandwidths are ``{h/2, h, 2h}`` for the median pairwise distance ``h`` of the pooled sample (median
    heuristic with a small mixture, more robust than a single scale); a float or list of floats is used as given.
    Each set is randomly subsampled to at most ``max_n`` points (``seed``). The estimate is unbiased, so it may be
    slightly negative when the distributions agree.
    """
    x, y = _pair(x, y)
    if x.shape[0] < 2 or y.shape[0] < 2:
        raise DataError("mmd needs at least 2 samples in each set")
    g = torch.Generator().manual_seed(0 if seed is None else int(seed))
    if x.shape[0] > max_n:
        x = x[torch.randperm(x.shape[0], generator=g)[: int(max_n)]]
    if y.shape[0] > max_n:
        y = y[torch.randperm(y.shape[0], generator=g)[: int(max_n)]]
    if bandwidth is None:
        z = torch.cat([x, y])
        z = z[torch.randperm(z.shape[0], generator=g)[:1000]]
        dz = torch.cdist(z, z)
        off = dz[~torch.eye(z.shape[0], dtype=torch.bool)]
        h = float(off.median())
        h = h if h > 0 else 1.0
        scales = [0.5 * h, h, 2.0 * h]
    else:
        scales = [float(bandwidth)] if isinstance(bandwidth, (int, float)) else [float(s) for s in bandwidth]
        if not scales or any(not s > 0 for s in scales):
            raise ConfigError(f"bandwidth must be positive, got {bandwidth}")

    def k(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        d2 = torch.cdist(a, b).pow(2)
        return sum(torch.exp(-d2 / (2.0 * s * s)) for s in scales) / len(scales)

    n, m = x.shape[0], y.shape[0]
    kxx, kyy, kxy = k(x, x), k(y, y), k(x, y)
    txx = (kxx.sum() - kxx.diagonal().sum()) / (n * (n - 1))
    tyy = (kyy.sum() - kyy.diagonal().sum()) / (m * (m - 1))
    return float(txx + tyy - 2.0 * kxy.mean())


def _log_prob(model, x: torch.Tensor, seed: int, batch_size: int | None) -> torch.Tensor:
    """Model log-densities in batches (batch ``i`` gets seed ``seed + i`` for stochastic estimators)."""
    bs = x.shape[0] if not batch_size else int(batch_size)
    out = [torch.as_tensor(model.log_prob(x[i : i + bs], seed=seed + j)).detach().reshape(-1).to("cpu", torch.float64)
           for j, i in enumerate(range(0, x.shape[0], bs))]
    return torch.cat(out)


def evaluate(model, data, *, truth=None, levels: int | None = None, n_samples: int = 1000, seed: int = 0,
             batch_size: int | None = 1024) -> dict[str, Any]:
    """Evaluate ``model`` on test ``data`` and return a JSON-serialisable dict of plain numbers.

    Keys (present when they apply):

    * ``likelihood`` (the model's label), ``n_test``, ``n_samples``;
    * ``nll`` (nats, mean over the test set), ``nll_nonfinite``, ``log_prob_time_s`` — when
      ``model.likelihood != "none"``; with ``levels`` the test data are dequantized first (``seed``) and
      ``bits_per_dim`` is added (module docstring);
    * ``kl_to_truth``, ``kl_stderr``, ``kl_n``, ``kl_nonfinite`` — when ``truth`` (a Dataset-like object) has a
      density and the model a likelihood: KL(truth || model) on ``n_samples`` fresh samples
      ``truth.sample(n_samples, seed=seed + 1)``;
    * ``sliced_wasserstein`` (SW1), ``mmd`` (unbiased MMD²), ``samples_nonfinite``, ``sample_time_s`` — between
      ``model.sample(n_samples, seed=seed)`` and the test data (dequantized when ``levels`` is given, since the
      model's distribution is over dequantized data). Non-finite samples make both metrics ``inf``.

    ``batch_size`` splits the ``log_prob`` calls (None: one call).
    """
    shape = tuple(model.shape)
    data = as_tensor(data, shape, what="test data")
    if levels is not None and int(levels) < 2:
        raise ConfigError(f"levels must be an integer >= 2, got {levels}")
    if int(n_samples) < 2:
        raise ConfigError(f"n_samples must be >= 2, got {n_samples}")
    n_samples = int(n_samples)
    dim = math.prod(shape)
    g = torch.Generator().manual_seed(int(seed))
    test = dequantize(data, g) if levels is not None else data
    label = str(model.likelihood)
    out: dict[str, Any] = {"likelihood": label, "n_test": int(data.shape[0]), "n_samples": n_samples}

    if label != "none":
        t0 = time.perf_counter()
        logp = _log_prob(model, test, int(seed), batch_size)
        out["log_prob_time_s"] = time.perf_counter() - t0
        out["nll"] = nll(logp)
        out["nll_nonfinite"] = int((~torch.isfinite(logp)).sum())
        if levels is not None:
            out["bits_per_dim"] = bits_per_dim(out["nll"], dim)
        if truth is not None and getattr(truth, "has_density", False):
            xs = as_tensor(truth.sample(n_samples, seed=int(seed) + 1), shape, what="truth samples")
            lp = torch.as_tensor(truth.log_prob(xs)).detach().reshape(-1)
            res = kl_to_truth(lp, _log_prob(model, xs, int(seed) + 1, batch_size))
            out.update(kl_to_truth=res.kl, kl_stderr=res.stderr, kl_n=res.n, kl_nonfinite=res.n_nonfinite)

    t0 = time.perf_counter()
    samples = torch.as_tensor(model.sample(n_samples, seed=int(seed))).detach().to("cpu", torch.float32)
    out["sample_time_s"] = time.perf_counter() - t0
    if tuple(samples.shape) != (n_samples, *shape):
        raise DataError(f"model samples have shape {tuple(samples.shape)}, expected {(n_samples, *shape)}")
    bad = int((~torch.isfinite(samples)).flatten(1).any(dim=1).sum())
    out["samples_nonfinite"] = bad
    if bad:
        out["sliced_wasserstein"] = out["mmd"] = float("inf")
    else:
        out["sliced_wasserstein"] = sliced_wasserstein(samples, test, seed=int(seed))
        out["mmd"] = mmd(samples, test, seed=int(seed))
    return out


def straightness(model, n: int, *, seed: int = 0, steps: int = 100) -> float:
    """Straightness S = int_0^1 E ||(Z_1 - Z_0) - dZ_t/dt||^2 dt of a model's probability-flow ODE (Liu, Gong &
    Liu 2023, "Flow Straight and Fast", Def. 2.2; lower is straighter, 0 for straight paths).

    Measured on ``steps`` Euler steps equally spaced in flow time t = 1 / (1 + sigma) (the ``uniform_t`` grid of
    the sigma-form samplers) from ``n`` noise draws, in standardised units: Z_t = t x_sigma (for a straight flow
    Z_t is exactly the flow's state x_t; for any other diffusion model it is the same ODE in the straight-path
    coordinates). dZ/dt is the Euler step's difference quotient; the norm sums over dimensions. The grid starts at
    t_0 = t(sigma_max) > 0 (1 / 80 for sigma_max = 79), so the chord is (Z_1 - Z_0) / (1 - t_0) and the integral is
    averaged over [t_0, 1].
    """
    from genlab.diffusion.parameterization import flow_t
    from genlab.rng import make_generator

    name = getattr(model, "name", type(model).__name__)
    if not callable(getattr(model, "run_sampler", None)) or "euler" not in model.samplers():
        raise ConfigError(f"straightness needs a model with a probability-flow ODE; '{name}' has none")
    n, steps = positive_int("n", n), positive_int("steps", steps)
    states: list[torch.Tensor] = []

    def init(kind, level, x):
        states.append(x.clone())
        return x

    model.eval()
    model.run_sampler(int(n), None, sampler="euler", steps=int(steps), schedule="uniform_t", init=init,
                      callback=lambda state: states.append(state["x"].clone()),
                      generator=make_generator(seed, target=getattr(model, "device", None)))  # draws go where it runs
    t = flow_t(model.sigma_grid(int(steps), "uniform_t").to(torch.float64))
    z = torch.stack(states).to(torch.float64) * t.reshape(-1, 1, 1)
    dt = (t[1:] - t[:-1]).reshape(-1, 1, 1)
    v = (z[1:] - z[:-1]) / dt
    span = float(t[-1] - t[0])  # the grid starts at t(sigma_max) > 0: the chord over [t_0, 1], and the mean over it
    gap = ((z[-1] - z[0]).unsqueeze(0) / span - v).pow(2).sum(-1)  # (steps, n)
    return float((gap * dt.reshape(-1, 1)).sum(0).mean() / span)
