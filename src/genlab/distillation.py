"""``genlab.distill``: a fast student from any genlab model with a probability-flow ODE (diffusion or flow).

- ``to="consistency"``: consistency distillation (Song et al. 2023, Algorithm 2;
  :meth:`genlab.families.consistency.ConsistencyModel.fit_distill`) over the teacher's sigma range, on rows drawn
  from the teacher's own ODE (no data are needed, and none are read: the student never sees a training or test row).
- ``to="reflow"``: noise -> data pairs from the teacher's full ODE (the adaptive ``ode`` sampler), and a rectified
  flow trained on them (Liu et al. 2023, reflow; :meth:`genlab.families.flow_matching.RectifiedFlow.reflow_from`),
  warm-started from the teacher's network when the teacher is a straight flow.

``time_budget`` (seconds) covers drawing the teacher's samples (at most half of it) and training. Every model
with the denoiser contract can teach (``teachers()``); others get a one-line error naming those that can.
"""

from __future__ import annotations

import time

from genlab.checks import capable, positive_int
from genlab.errors import ConfigError

__all__ = ["distill", "teachers", "TARGETS"]

TARGETS = ("consistency", "reflow")


def teachers() -> list[str]:
    """Registered model names that can teach: every diffusion-type model with an ODE (not consistency models)."""
    from genlab import registry
    from genlab.families.consistency import ConsistencyModel
    from genlab.families.diffusion import DiffusionModel

    return [n for n in registry.names()
            if issubclass(registry.get(n), DiffusionModel) and not issubclass(registry.get(n), ConsistencyModel)]


def _check(teacher, to, steps, time_budget) -> None:
    from genlab.families.consistency import ConsistencyModel
    from genlab.families.diffusion import DiffusionModel

    if to not in TARGETS:
        raise ConfigError(f"distill to must be one of {', '.join(TARGETS)}, got {to!r}")
    name = getattr(teacher, "name", type(teacher).__name__)
    capable(isinstance(teacher, DiffusionModel) and not isinstance(teacher, ConsistencyModel), name,
            "has no probability-flow ODE and cannot teach", teachers)
    if not getattr(teacher, "fitted", False):
        raise ConfigError(f"the teacher '{name}' is not fitted: fit or load it first")
    if steps is not None:
        positive_int("steps", steps)
    if time_budget is not None and not float(time_budget) > 0:
        raise ConfigError(f"time_budget must be a positive number of seconds, got {time_budget!r}")


def distill(teacher, to: str = "consistency", *, steps=None, time_budget=None, seed: int = 0,
            n_samples: int | None = None, progress: bool = False):
    """A ``to`` student of ``teacher`` (see the module docstring); ``n_samples`` teacher draws (default 10,000)."""
    from genlab.families.flow_matching import RectifiedFlow

    _check(teacher, to, steps, time_budget)
    if to == "reflow":
        return RectifiedFlow.reflow_from(teacher, steps=steps, time_budget=time_budget, n_pairs=n_samples, seed=seed,
                                         progress=progress)
    return _consistency(teacher, steps=steps, time_budget=time_budget, seed=seed, n=n_samples or 10_000,
                        progress=progress)


def _consistency(teacher, *, steps, time_budget, seed, n, progress):
    from genlab.families.consistency import ConsistencyConfig, ConsistencyModel
    from genlab.families.flow_matching import budgeted_pairs, train_spec
    from genlab.rng import forked

    (_, x, y), start, _ = budgeted_pairs(teacher, n, seed=seed, time_budget=time_budget, what="n_samples")
    lo, hi = teacher.sigma_range()
    student = ConsistencyModel(teacher.shape, ConsistencyConfig(sigma_min=lo, sigma_max=hi))
    student.normalizer.load_state_dict(teacher.normalizer.state_dict())
    if teacher.num_classes:
        student._on_labels(teacher.num_classes)
        with forked(seed):
            student.build()
    student.sampling_start.fit(x)  # the student starts from the statistics of what it learns (the teacher's draws)
    left = None if time_budget is None else max(float(time_budget) - (time.perf_counter() - start), 1e-3)
    spec = train_spec(student, steps=steps, time_budget=left, seed=seed, progress=progress, label="distill")
    student.fit_distill(teacher._denoise, x, y, spec)
    student.fit_time = time.perf_counter() - start
    return student
