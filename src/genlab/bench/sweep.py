"""The bench's quality-against-NFE sweep over ``SWEEP_STEPS`` and the small helpers around a model under test."""

from __future__ import annotations

import math
import time
from typing import TYPE_CHECKING

import torch

from genlab import metrics
from genlab.bench.report import one_line as _one_line
from genlab.errors import ConfigError

if TYPE_CHECKING:
    from genlab.bench.results import ModelResult

__all__ = ["SWEEP_STEPS", "N_SAMPLES", "Watched", "sweep", "nfe_of", "num"]

SWEEP_STEPS = (10, 30, 100)
N_SAMPLES = 1000


def num(v) -> float | None:
    return None if v is None else float(v)


def nfe_of(model) -> int | None:
    v = getattr(model, "last_nfe", None)
    return int(v) if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) else None


class Watched:
    """Forwards to a model, remembering which contract call runs (for the failure reason) and the last samples."""

    def __init__(self, model):
        self._m, self.stage, self.samples = model, "evaluate", None

    def __getattr__(self, key):
        return getattr(self._m, key)

    def log_prob(self, *args, **kwargs):
        self.stage = "log_prob"
        return self._m.log_prob(*args, **kwargs)

    def sample(self, *args, **kwargs):
        self.stage = "sample"
        self.samples = self._m.sample(*args, **kwargs)
        return self.samples


def sweep(model, ref: torch.Tensor, seed: int, cap_s: float, r: ModelResult) -> None:
    """Sample at each of SWEEP_STEPS when the sampler takes ``steps=``; record SW1 and NFE per step count.

    A sampler "takes" ``steps=`` when it accepts the option and, with the same seed, 10 and 30 steps give different
    samples (a model that ignores the option, or an adaptive ODE solver, gets no sweep).
    """
    first = None
    for k in SWEEP_STEPS:
        if r.sweep and r.sweep[-1]["sample_time_s"] * k / r.sweep[-1]["steps"] > cap_s:
            r.notes.append(f"steps sweep stopped before {k} steps (extrapolated time over the {cap_s:.0f} s cap)")
            return
        t0 = time.perf_counter()
        try:
            s = model.sample(N_SAMPLES, seed=seed, steps=k)
        except (ConfigError, TypeError):
            if r.sweep:
                r.notes.append(f"sampler refused steps={k}")
            return
        except Exception as exc:  # a sampler that breaks at some step count does not fail the model
            r.notes.append(_one_line(f"steps sweep ({k} steps)", exc))
            return
        dt = time.perf_counter() - t0
        s = torch.as_tensor(s).detach().to("cpu", torch.float32)
        if first is None:
            first = s
        elif len(r.sweep) == 1 and torch.equal(first, s):
            r.sweep.clear()
            return
        finite = bool(torch.isfinite(s).all())
        sw = metrics.sliced_wasserstein(s, ref, seed=seed) if finite else math.inf
        nfe = nfe_of(model)
        r.sweep.append({"steps": k, "nfe": nfe if nfe is not None else k, "nfe_reported": nfe is not None,
                        "sliced_wasserstein": sw, "sample_time_s": dt})
