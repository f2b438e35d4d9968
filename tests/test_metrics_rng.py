"""genlab.metrics draws from the caller's seed, on the model's device, never from the global torch RNG."""

from __future__ import annotations

import torch

import genlab
from genlab import metrics
from genlab.rng import target_of


def test_straightness_draws_with_a_generator_aimed_at_the_model_device(monkeypatch):
    """A CPU-only generator would put the start noise on the CPU for a model on CUDA (issue 23)."""
    m = genlab.create("flow_matching", (2,)).fit(torch.randn(64, 2, generator=torch.Generator().manual_seed(0)),
                                                 steps=2, progress=False)
    seen, run = [], m.run_sampler

    def spy(*args, generator, **kw):
        seen.append(target_of(generator))
        return run(*args, generator=generator, **kw)

    monkeypatch.setattr(m, "run_sampler", spy)
    s = metrics.straightness(m, 8, steps=4)
    assert seen == [m.device] and s >= 0
