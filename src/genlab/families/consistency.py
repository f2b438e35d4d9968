"""``consistency``: consistency models (Song, Dhariwal, Chen & Sutskever 2023), trained from scratch by improved
consistency training (Song & Dhariwal 2024) or distilled from a diffusion/flow teacher (:func:`genlab.distill`).

- **Network**: f(x, sigma) = c_skip x + c_out F(c_in x, c_noise) in the sigma form of the denoiser contract, with
  the boundary condition f(x, sigma_min) = x (:func:`genlab.diffusion.consistency.consistency_preconditioning`);
  F is the shared ConditionalMLP (or any backbone), classifier-free guidance as every diffusion model.
- **Training** (iCT; :mod:`genlab.diffusion.consistency`): levels on a Karras grid whose size doubles from
  ``s0`` + 1 to ``s1`` + 1 over the run (by steps, or by time with a time budget), pairs of adjacent levels drawn
  log-normally (``P_mean``, ``P_std``), pseudo-Huber loss weighted by 1 / (sigma_{i+1} - sigma_i) against the same
  network with a stop-gradient. **Distillation** (:meth:`ConsistencyModel.fit_distill`): Song et al. 2023,
  Algorithm 2, one Heun step of the teacher's ODE between adjacent levels, the target from an EMA of the student.
- **Sampling**: ``onestep`` (one evaluation) and ``multistep`` (Algorithm 1, ``steps`` evaluations on a Karras
  grid of steps + 1 levels without its smallest); a model's own samplers, listed by ``samplers()``.
- **likelihood "none"**; ``impute``: the replacement method through ``multistep`` (default 8 steps).
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass
from typing import ClassVar

import torch

from genlab.diffusion import Sampler
from genlab.diffusion.consistency import (
    consistency_preconditioning,
    ict_levels,
    ict_num_levels,
    lognormal_level_probs,
    multistep,
    onestep,
    pseudo_huber,
    teacher_heun_step,
)
from genlab.diffusion.parameterization import bcast
from genlab.diffusion.schedules import SCHEDULES, karras_sigmas
from genlab.errors import ConfigError
from genlab.families.edm import EDM, EDMConfig
from genlab.registry import bounded, register
from genlab.rng import randint, randn_like
from genlab.training import TrainSpec, train

__all__ = ["ConsistencyConfig", "ConsistencyModel", "CONSISTENCY_SAMPLERS"]

CONSISTENCY_SAMPLERS = {s.name: s for s in (Sampler("onestep", onestep, "sigma", frozenset({"deterministic"})),
                                            Sampler("multistep", multistep, "sigma", frozenset({"stochastic"})))}


@dataclass
class ConsistencyConfig(EDMConfig):
    P_mean: float = -1.1  # log-normal proposal of the noise levels (iCT Sec. 3.5)
    P_std: float = 2.0
    s0: int = 10  # initial number of discretisation intervals (iCT Eq. 6)
    s1: int = 1280  # final number of intervals
    huber_c: float = 0.0  # pseudo-Huber c; 0 = 0.00054 sqrt(D) (iCT Sec. 3.3)
    distill_levels: int = 18  # N of consistency distillation (Song et al. 2023 use 18 on CIFAR-10)
    target_ema: float = 0.95  # EMA of the distillation target network (mu of Algorithm 2)
    schedule: str = bounded("karras", choices=SCHEDULES)  # multistep sampling grid (Song et al. 2023 use Karras)
    noise_groups: int = 0  # iCT draws its discrete levels per row (grouped_levels = False)


@register
class ConsistencyModel(EDM):
    """Consistency model: one-step and multistep sampling; iCT from scratch or distillation (module docstring)."""

    name = "consistency"
    Config = ConsistencyConfig
    default_sampler = "onestep"
    default_steps: ClassVar[dict[str, int]] = {"onestep": 1, "multistep": 2}
    sde = None
    grouped_levels = False
    smoke: ClassVar[dict] = {"fit": {"steps": 30}, "sample": {}, "impute": {"steps": 3}}

    def build(self) -> None:
        c = self.config
        if not (1 <= c.s0 <= c.s1) or c.distill_levels < 2 or not 0 <= c.target_ema < 1 or c.huber_c < 0:
            raise ConfigError("consistency needs 1 <= s0 <= s1, distill_levels >= 2, 0 <= target_ema < 1, huber_c >= 0")
        super().build()
        self.likelihood = "none"

    # ------------------------------------------------------------------ the consistency function
    def preconditioning(self, sigma: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """EDM's preconditioning with the boundary condition f(x, sigma_min) = x (Song et al. 2023, Appendix C)."""
        c = self.config
        return consistency_preconditioning(sigma, c.sigma_data, c.sigma_min)

    # ------------------------------------------------------------------ samplers
    def samplers(self) -> dict[str, set[str]]:
        return {name: set(s.tags) for name, s in CONSISTENCY_SAMPLERS.items()}

    def _resolve_sampler(self, sampler, opts):
        name = sampler or self.config.sampler or self.default_sampler
        if name not in CONSISTENCY_SAMPLERS:
            raise ConfigError(f"sampler '{name}' is not available for model '{self.name}'; its samplers: "
                              f"{', '.join(sorted(CONSISTENCY_SAMPLERS))}")
        unknown = sorted(set(opts) - {"schedule"})
        if unknown:
            raise ConfigError(f"unknown option{'s' if len(unknown) > 1 else ''} {', '.join(unknown)} for sampler "
                              f"'{name}'; valid: sampler, steps, guidance, schedule")
        return CONSISTENCY_SAMPLERS[name]

    def _check_config(self) -> None:
        sampler, self.config.sampler = self.config.sampler, ""
        try:
            super()._check_config()
        finally:
            self.config.sampler = sampler
        if sampler and sampler not in CONSISTENCY_SAMPLERS:
            raise ConfigError(f"unknown sampler {sampler!r}; choose from {', '.join(CONSISTENCY_SAMPLERS)}")

    def sigma_grid(self, steps: int, schedule: str | None = None) -> torch.Tensor:
        """``steps`` levels from sigma_max: the grid (Karras by default) of steps + 1 levels without sigma_min, then
        0."""
        from genlab.diffusion import make_sigmas

        lo, hi = self.sigma_range()
        grid = make_sigmas(schedule or self.config.schedule, int(steps) + 1, lo, hi, self.config.rho)
        return torch.cat([grid[:-2], grid.new_zeros(1)]).to(torch.float32)

    def _impute(self, z, mask, *, sampler="multistep", steps=8, generator=None, **opts):
        return super()._impute(z, mask, sampler=sampler, steps=steps, generator=generator, **opts)

    # ------------------------------------------------------------------ improved consistency training
    def _huber_c(self) -> float:
        return self.config.huber_c or 0.00054 * math.sqrt(self.dim)

    def _fit(self, z, y, spec: TrainSpec) -> None:
        import time

        self._clock = (time.perf_counter(), spec.steps, spec.time_budget, [0])
        try:
            super()._fit(z, y, spec)
        finally:
            del self._clock

    def _progress(self) -> float:
        import time

        start, steps, budget, count = getattr(self, "_clock", (0.0, None, None, [0]))
        count[0] += 1
        done = (count[0] - 1) / steps if steps else 0.0
        if budget:
            done = max(done, (time.perf_counter() - start) / budget)
        return min(done, 1.0)

    def loss(self, z, y, *, generator=None) -> torch.Tensor:
        """Per-sample iCT loss (B,): lambda(sigma_i) d(f(x + sigma_{i+1} n, sigma_{i+1}), sg f(x + sigma_i n, sigma_i))."""
        c = self.config
        levels = ict_levels(ict_num_levels(self._progress(), c.s0, c.s1), c.sigma_min, c.sigma_max, c.rho)
        probs = lognormal_level_probs(levels, c.P_mean, c.P_std)
        i = torch.multinomial(probs, len(z), replacement=True, generator=generator)
        lo, hi = levels[i].to(z), levels[i + 1].to(z)  # levels and draws on the CPU, then z's device and dtype
        noise = randn_like(z, generator)
        labels = self._drop_labels(y, generator)
        pred = self._denoise(z + bcast(hi, z) * noise, hi, labels)
        with torch.no_grad():
            target = self._denoise(z + bcast(lo, z) * noise, lo, labels)
        return pseudo_huber(pred, target, self._huber_c()) / (hi - lo)

    # ------------------------------------------------------------------ consistency distillation
    def fit_distill(self, teacher_denoiser, x: torch.Tensor, y: torch.Tensor | None, spec: TrainSpec):
        """Consistency distillation (Song et al. 2023, Algorithm 2) on rows ``x`` (standardised units, e.g. the
        teacher's samples); ``teacher_denoiser(x, sigma, y)`` is the teacher's D in the sigma form, over the same
        sigma range as this model."""
        from genlab.rng import forked

        c = self.config
        levels = karras_sigmas(c.distill_levels, c.sigma_min, c.sigma_max, c.rho)[:-1].flip(0).to(x.dtype)
        target = copy.deepcopy(self).requires_grad_(False)
        params = [p for p in self.parameters() if p.requires_grad]
        opt = torch.optim.Adam(params, lr=spec.lr)

        def step(xb, yb, k, *, generator=None):
            n = randint(0, len(levels) - 1, (len(xb),), generator)
            lo, hi = levels[n], levels[n + 1]
            x_hi = xb + bcast(hi, xb) * randn_like(xb, generator)
            labels = self._drop_labels(yb, generator)
            with torch.no_grad():
                x_lo = teacher_heun_step(lambda v, s: teacher_denoiser(v, s, labels), x_hi, hi, lo)
                goal = target._denoise(x_lo, lo, labels)
            loss = pseudo_huber(self._denoise(x_hi, hi, labels), goal, self._huber_c()).mean()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            if spec.grad_clip > 0:
                torch.nn.utils.clip_grad_norm_(params, spec.grad_clip)
            opt.step()
            with torch.no_grad():
                for p_t, p in zip(target.parameters(), self.parameters(), strict=True):
                    p_t.lerp_(p, 1 - c.target_ema)
            return {"loss": loss.item()}

        with forked(spec.seed):
            self.train()
            self.history = train(self, None, x, y, spec, step_fn=step)
            self.eval()
        self.trained_steps += len(self.history)
        self.fitted = True
        return self
