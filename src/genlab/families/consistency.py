"""``consistency``: consistency models (Song, Dhariwal, Chen & Sutskever 2023), trained from scratch by improved
consistency training (Song & Dhariwal 2024) or distilled from a diffusion/flow teacher (:func:`genlab.distill`).

- **Network**: f(x, sigma) = c_skip x + c_out F(c_in x, c_noise) in the sigma form of the denoiser contract, with
  the boundary condition f(x, sigma_min) = x (:func:`genlab.diffusion.consistency.consistency_preconditioning`);
  F is the shared ConditionalMLP (or any backbone), classifier-free guidance as every diffusion model.
- **Training** (iCT; :mod:`genlab.diffusion.consistency`): levels on a Karras grid whose size doubles from
  ``s0`` + 1 to ``s1`` + 1 over K optimizer steps (iCT's Eq. 6 at step k = 0, 1, ...), pairs of adjacent levels drawn
  log-normally (``P_mean``, ``P_std``), pseudo-Huber loss weighted by 1 / (sigma_{i+1} - sigma_i) against the same
  network with a stop-gradient. The curriculum is part of the training state: K is fixed when a fit starts (its
  ``steps``; under a time budget without ``steps``, the config's ``steps``, so a budgeted run's grid depends on
  the step only, never on the clock), checkpointed with the run (a resumed run keeps its K), and k is the training
  loop's step (:meth:`on_step`), so it advances once per optimizer step and never on validation. Outside training
  (and for the validation loss, comparable across steps) the loss uses the final grid, s1 + 1 levels.
  **Distillation** (:meth:`ConsistencyModel.fit_distill`): Song et al. 2023,
  Algorithm 2, one Heun step of the teacher's ODE between adjacent levels, the target from an EMA of the student.
- **Sampling**: ``onestep`` (one evaluation) and ``multistep`` (Algorithm 1, ``steps`` evaluations on a Karras
  grid of steps + 1 levels without its smallest): the "consistency" kind of the sampler registry.
- **likelihood "none"**; ``impute``: the replacement method through ``multistep`` (default 8 steps).
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass
from typing import ClassVar

import torch

from genlab.checks import require
from genlab.diffusion.consistency import (
    consistency_preconditioning,
    ict_levels,
    ict_n_levels,
    lognormal_level_probs,
    pseudo_huber,
    teacher_heun_step,
)
from genlab.diffusion.parameterization import bcast
from genlab.diffusion.schedules import SCHEDULES, karras_sigmas
from genlab.families.edm import EDM, EDMConfig
from genlab.registry import bounded, register
from genlab.rng import multinomial, randint, randn_like
from genlab.training import TrainSpec, train

__all__ = ["ConsistencyConfig", "ConsistencyModel"]


@dataclass
class ConsistencyConfig(EDMConfig):
    P_mean: float = -1.1  # log-normal proposal of the noise levels (iCT Sec. 3.5)
    P_std: float = 2.0
    s0: int = bounded(10, ge=1)  # initial number of discretisation intervals (iCT Eq. 6)
    s1: int = 1280  # final number of intervals
    huber_c: float = bounded(0.0, ge=0)  # pseudo-Huber c; 0 = 0.00054 sqrt(D) (iCT Sec. 3.3)
    distill_levels: int = bounded(18, ge=2)  # N of consistency distillation (Song et al. 2023 use 18 on CIFAR-10)
    target_ema: float = bounded(0.95, ge=0, lt=1)  # EMA of the distillation target network (mu of Algorithm 2)
    schedule: str = bounded("karras", choices=SCHEDULES)  # multistep sampling grid (Song et al. 2023 use Karras)
    noise_groups: int = 0  # iCT draws its discrete levels per row (grouped_levels = False)

    def check(self) -> None:
        super().check()
        require(self.s0 <= self.s1, f"consistency needs s0 <= s1, got {self.s0}, {self.s1}")
    patience: int = 0  # no early stopping by default: the iCT loss changes with its curriculum (no likelihood either)


@register
class ConsistencyModel(EDM):
    """Consistency model: one-step and multistep sampling; iCT from scratch or distillation (module docstring)."""

    name = "consistency"
    Config = ConsistencyConfig
    default_sampler = "onestep"
    sampler_kinds = ("consistency",)  # onestep, multistep (genlab.diffusion.SAMPLERS)
    sde = None
    grouped_levels = False
    smoke: ClassVar[dict] = {"fit": {"steps": 30}, "sample": {}, "impute": {"steps": 3}}

    def build(self) -> None:
        super().build()
        self.likelihood = "none"

    # ------------------------------------------------------------------ the consistency function
    def preconditioning(self, sigma: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """EDM's preconditioning with the boundary condition f(x, sigma_min) = x (Song et al. 2023, Appendix C)."""
        c = self.config
        return consistency_preconditioning(sigma, c.sigma_data, c.sigma_min)

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
        self._curriculum = {"steps": int(spec.steps or self.config.steps), "step": 0}  # K and k of iCT's Eq. 6
        try:
            super()._fit(z, y, spec)
        finally:
            self._curriculum = None

    def on_step(self, step: int) -> None:
        """The training loop's step (1, 2, ...) before its optimizer step: the curriculum's k = step - 1."""
        if getattr(self, "_curriculum", None) is not None:
            self._curriculum["step"] = int(step)

    def train_state(self) -> dict:
        """The curriculum's length K (resume state; k is the loop's step). A state without it (written before it
        was kept) resumes with this fit's K."""
        state = super().train_state()
        if getattr(self, "_curriculum", None) is not None:
            state["ict_steps"] = self._curriculum["steps"]
        return state

    def load_train_state(self, state: dict) -> None:
        super().load_train_state(state)
        if getattr(self, "_curriculum", None) is not None and "ict_steps" in state:
            self._curriculum["steps"] = int(state["ict_steps"])

    def ict_grid(self) -> torch.Tensor:
        """The iCT levels of the current step (the final grid, ``s1`` + 1 levels, outside training)."""
        c, cur = self.config, getattr(self, "_curriculum", None)
        progress = 1.0 if cur is None else min(max(cur["step"] - 1, 0) / cur["steps"], 1.0)
        return ict_levels(ict_n_levels(progress, c.s0, c.s1), c.sigma_min, c.sigma_max, c.rho)

    def val_loss(self, z, y, *, generator) -> torch.Tensor:
        """The validation loss of early stopping on the final grid (comparable across steps)."""
        cur, self._curriculum = getattr(self, "_curriculum", None), None
        try:
            return self.loss(z, y, generator=generator)
        finally:
            self._curriculum = cur

    def loss(self, z, y, *, generator) -> torch.Tensor:
        """Per-sample iCT loss (B,): lambda(sigma_i) d(f(x + sigma_{i+1} n, sigma_{i+1}), sg f(x + sigma_i n, sigma_i))."""
        c = self.config
        levels = self.ict_grid()
        probs = lognormal_level_probs(levels, c.P_mean, c.P_std)
        i = multinomial(probs, len(z), generator, replacement=True)  # per row; sharded under torchrun
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

        def step(xb, yb, k, *, generator):
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
