"""``flow_matching`` and ``rectified_flow``: velocity fields on straight paths from N(0, I) to the data.

- **Training**: conditional flow matching (Lipman et al. 2023, Eq. 23) on the CondOT path
  x_t = t x_1 + (1 - (1 - sigma_min) t) x_0 (:class:`genlab.flow.CondOTPath`, 0 = noise, 1 = data; training times
  logit-normal with a tenth uniform by default, ``time_distribution="uniform"`` for Lipman et al.'s t ~ U[0, 1],
  which ``rectified_flow`` keeps; :func:`genlab.flow.path_times`),
  with the noise paired to each batch by ``coupling``: ``"independent"`` or ``"ot"`` (minibatch optimal transport,
  Tong et al. 2023; :mod:`genlab.flow.couplings`). The network ``net(x_t, t, y=None)`` predicts the velocity.
- **The denoiser contract** (:class:`~genlab.families.diffusion.DiffusionModel`): x_t = t x and
  sigma = (1 - (1 - sigma_min) t) / t, D = (1 - sigma_min) x_t + (1 - (1 - sigma_min) t) v(x_t, t)
  (``flow_t`` and ``denoised_from_velocity`` of :mod:`genlab.diffusion.parameterization`, the one place the mapping
  lives), so every sigma-form sampler (``euler``, ``heun``, ``ddim``, ``dpmpp_2m``, adaptive ``ode``), classifier-free
  guidance and distillation work unchanged. An Euler step in the sigma form is exactly an Euler step of
  dx_t/dt = v in t; one step from sigma_max is x_1 = x_0 + v(x_0, t_eps). The samplers run between
  t = ``t_eps`` (sigma_max = (1 - t_eps) / t_eps) and sigma_min (t = 1 - t_eps when sigma_min = 0).
- **log_prob**: the instantaneous change of variables along the same ODE dx/dt = v(x, t), solved in t from the
  data (t = 1) to the source (t = 0, exactly N(0, I)) by :func:`genlab.diffusion.flow_log_likelihood`: exact
  divergence up to ``exact_max_dim`` dimensions (likelihood "exact"), Hutchinson's estimate above ("estimate").
  With sigma_min > 0 it is the density of the model's t = 1 marginal (the data convolved with N(0, sigma_min^2)).
- **impute**: ``algorithm="repaint"`` (default): replacement with resampling (:func:`genlab.inverse.flows.repaint`,
  Lugmayr et al. 2022) on the sigma grid, ``jumps`` repetitions per level; ``algorithm="replacement"``: the
  replacement method of every diffusion model (Song et al. 2021, App. I.2) through a sigma-form sampler.
- ``rectified_flow`` (Liu, Gong & Liu 2023, "Flow Straight and Fast") is this class with independent coupling
  and sigma_min = 0; ``reflow`` draws noise -> data pairs with the model's own ODE (:func:`teacher_pairs`) and
  trains a warm-started copy on them (the k+1-rectified flow, their Algorithm 1).
"""

from __future__ import annotations

import copy
import dataclasses
import math
import time
from dataclasses import dataclass
from typing import ClassVar

import torch

from genlab.checks import known_options, one_of, positive_int, require
from genlab.diffusion import flow_log_likelihood
from genlab.diffusion.likelihood import gaussian_logp
from genlab.diffusion.parameterization import bcast, denoised_from_velocity, flow_sigma, flow_t
from genlab.families.diffusion import DiffusionConfig, DiffusionModel
from genlab.flow import COUPLINGS, TIME_DISTRIBUTIONS, CondOTPath, cfm_loss, couple, path_times
from genlab.inverse.flows import repaint_sample
from genlab.inverse.replacement import Constraint
from genlab.registry import bounded, register
from genlab.rng import randint, randn, randn_like
from genlab.training import TrainSpec, train

__all__ = ["FlowMatchingBaseConfig", "FlowMatchingConfig", "FlowMatching", "RectifiedFlow", "teacher_pairs", "train_spec"]


@dataclass
class FlowMatchingBaseConfig(DiffusionConfig):
    """Options shared by the models trained by flow matching (``flow_matching``, ``rectified_flow``)."""

    t_eps: float = bounded(0.0125, gt=0, lt=0.5)  # the samplers start at flow time t_eps: sigma_max = (1 - t_eps) / t_eps = 79 (EDM's 80)
    # a flow's samplers start from its own source (noise at t_eps), not from a Gaussian guess of the marginal at a
    # smaller sigma: a rectified flow's one-step samples depend on it
    sample_sigma_max: float = 80.0
    sample_sigma_min: float = 0.0
    # training times: "uniform" (Lipman et al. 2023; Liu et al. 2023) or "logit_normal", t = sigmoid(t_loc + t_scale n)
    # (Esser et al. 2024): EDM's log-normal noise levels, log sigma ~ N(-t_loc, t_scale^2) (genlab.flow.path_times)
    time_distribution: str = bounded("uniform", choices=TIME_DISTRIBUTIONS)
    t_loc: float = 1.8
    t_scale: float = bounded(1.6, gt=0)
    t_uniform: float = bounded(0.0, ge=0, le=1)  # "logit_normal": this share of the times uniform instead


FlowConfig = FlowMatchingBaseConfig  # its name before format 7 (flows.py had another FlowConfig); kept importable


@dataclass
class FlowMatchingConfig(FlowMatchingBaseConfig):
    coupling: str = "independent"  # "independent" or "ot" (minibatch optimal transport)
    sigma_min: float = 0.0  # std of the path's end at t = 1 (Lipman et al. 2023)
    ot_block: int = bounded(128, ge=0)  # "ot": exact assignment within blocks of this many rows (0 = the whole batch)
    # logit-normal training times (EDM's log-normal sigma, the -1.8 / 1.6 of genlab's edm), a tenth of them uniform so
    # that the samplers' first levels (sigma up to 79) are trained too. Chosen on the tuning sets swiss_roll and rings
    # at 30 s (one-off probe, no results file); the benchmark after it: benchmarks/results/flow_matching_ln.json
    # (docs/notes/2026-11-25.md, "Flow matching, rectified flow, consistency models")
    time_distribution: str = bounded("logit_normal", choices=TIME_DISTRIBUTIONS)
    t_uniform: float = bounded(0.1, ge=0, le=1)


def train_spec(model, *, steps=None, time_budget=None, seed=0, progress=False, label=None) -> TrainSpec:
    """The training options of ``model``'s config for a fit outside ``model.fit`` (pairs, distillation)."""
    c = model.config
    return TrainSpec(steps=steps if steps is not None or time_budget is not None else c.steps,
                     time_budget=None if time_budget is None else float(time_budget), batch_size=c.batch_size,
                     lr=c.lr, seed=int(seed), progress=progress, ema=c.ema, ema_warmup=c.ema_warmup,
                     weight_decay=c.weight_decay, grad_clip=c.grad_clip, lr_schedule=c.lr_schedule,
                     label=label or model.name)


def teacher_pairs(teacher: DiffusionModel, n: int, *, generator, deadline: float | None = None, chunk: int = 4096,
                  sampler: str = "ode", **opts) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
    """(x_0, x_1, y): ``n`` standard-normal noise rows and where the teacher's deterministic ODE takes them.

    Works for any model with the denoiser contract and a sigma-form ``sampler``: x_0 ~ N(0, I) is drawn here and is
    exactly the noise the teacher's sampler starts from (its first state is ``teacher.start_from_noise(x_0,
    sigma_0)`` at the top of its own grid, :mod:`genlab.diffusion.start`), so x_0 is the source of a straight path
    whatever the teacher's grid. Labels (conditional teachers) are drawn uniformly. Stops early, after at least one
    chunk, when ``deadline`` (``time.perf_counter()``) passes.
    """
    from genlab.diffusion import get_sampler

    require(get_sampler(sampler).kind == "sigma", f"teacher pairs need a sigma-form ODE sampler, got '{sampler}'")
    x0s, x1s, ys = [], [], []
    for i in range(0, n, chunk):
        m = min(chunk, n - i)
        x0 = randn((m, teacher.dim), generator, device=teacher.device)
        y = randint(0, teacher.num_classes, (m,), generator) if teacher.num_classes else None
        x1 = teacher.run_sampler(m, y, sampler=sampler, noise=x0, generator=generator, **opts)
        x0s.append(x0)
        x1s.append(x1)
        ys.append(y)
        if deadline is not None and time.perf_counter() > deadline:
            break
    return torch.cat(x0s), torch.cat(x1s), None if ys[0] is None else torch.cat(ys)


def budgeted_pairs(teacher: DiffusionModel, n, *, seed: int, time_budget: float | None, what: str = "n_pairs"):
    """``teacher_pairs`` for a student fitted within ``time_budget``: the pairs get at most half of it.

    Returns ((x_0, x_1, y), start, left): ``start`` is the clock at the beginning and ``left`` the seconds that remain
    for training (None without a budget)."""
    from genlab.rng import forked, make_generator

    n = positive_int(what, n)
    start = time.perf_counter()
    deadline = None if time_budget is None else start + float(time_budget) / 2
    with forked(seed), torch.no_grad():
        teacher.eval()
        pairs = teacher_pairs(teacher, n, generator=make_generator(seed, 7, target=teacher.device), deadline=deadline)
    left = None if time_budget is None else max(float(time_budget) - (time.perf_counter() - start), 1e-3)
    return pairs, start, left


@register
class FlowMatching(DiffusionModel):
    """Conditional flow matching with independent or minibatch-OT coupling (see the module docstring)."""

    name = "flow_matching"
    Config = FlowMatchingConfig
    inverse_algorithm = "repaint"  # a deterministic flow: RePaint (genlab.inverse.flows) by default
    sde = None  # no SDE in time t: the sigma-form samplers only
    smoke: ClassVar[dict] = {"fit": {"steps": 30}, "sample": {"steps": 8}, "impute": {"steps": 6, "jumps": 2}}

    @property
    def sigma_min(self) -> float:
        return self.config.sigma_min

    @property
    def coupling(self) -> str:
        return self.config.coupling

    def build(self) -> None:
        one_of("coupling", self.coupling, tuple(COUPLINGS))
        self.path = CondOTPath(self.sigma_min)
        super().build()

    sampler_kinds = ("sigma",)

    # ------------------------------------------------------------------ velocity <-> denoiser (one place)
    def _velocity(self, x_t: torch.Tensor, t: torch.Tensor, y) -> torch.Tensor:
        return self.net(x_t, t, y=self._net_labels(y, len(x_t)))

    def _denoise(self, x, sigma, y):
        t = flow_t(sigma.to(x.dtype), self.sigma_min)
        x_t = bcast(t, x) * x
        return denoised_from_velocity(x_t, self._velocity(x_t, t, y), t, self.sigma_min)

    def sigma_range(self) -> tuple[float, float]:
        e = self.config.t_eps
        lo = self.sigma_min if self.sigma_min > 0 else float(flow_sigma(torch.tensor(1 - e, dtype=torch.float64)))
        return lo, float(flow_sigma(torch.tensor(e, dtype=torch.float64), self.sigma_min))

    def prior_std_sigma(self) -> float:
        """x_t at t_eps is ~ t_eps x_1 + (1 - t_eps) x_0, so x = x_t / t has variance 1 + sigma_max^2."""
        return math.sqrt(1 + self.sigma_range()[1] ** 2)

    # ------------------------------------------------------------------ training
    def loss(self, z, y, *, generator) -> torch.Tensor:
        """Per-sample CFM loss (B,) with the configured coupling of noise and data."""
        x0 = couple(self.coupling, randn_like(z, generator), z, getattr(self.config, "ot_block", 0))
        t = self._times(len(z), generator, z.dtype)
        labels = self._drop_labels(y, generator)
        return cfm_loss(lambda x, s: self._velocity(x, s, labels), x0, z, t, self.path)

    def _times(self, n: int, generator, dtype) -> torch.Tensor:
        c = self.config
        return path_times(n, generator, distribution=c.time_distribution, loc=c.t_loc - self.level_shift(), scale=c.t_scale,
                          uniform_fraction=c.t_uniform, groups=c.noise_groups, dtype=dtype)

    # ------------------------------------------------------------------ likelihood along dx/dt = v(x, t)
    def _log_prob(self, z, y, *, rtol=1e-5, atol=1e-5, method="dopri5", divergence="auto", probes=1,
                  guidance=0.0, generator=None) -> torch.Tensor:
        if self.sigma_floor > 0:  # the data's noise floor (genlab.families._floor): the sigma-form ODE from there
            return super()._log_prob(z, y, rtol=rtol, atol=atol, method=method, divergence=divergence, probes=probes,
                                     guidance=guidance, generator=generator)
        v = self._guided(self._velocity, y, guidance, lambda n: None)
        res = flow_log_likelihood(lambda x, t: v(x, t.to(x.dtype).expand(len(x))), z, 1.0, 0.0,
                                  lambda x: gaussian_logp(x, 1.0), rtol=rtol, atol=atol, method=method,
                                  divergence=divergence, probes=probes, exact_max_dim=self.config.exact_max_dim,
                                  generator=generator)
        self.last_nfe = res.nfe
        return res.logp

    # ------------------------------------------------------------------ imputation
    def _impute(self, z, mask, *, algorithm="repaint", fill="mean", n_samples=8, jumps=8, sampler=None, steps=None,
                schedule=None, generator=None, **opts) -> torch.Tensor:
        if algorithm == "replacement":
            grid = {} if schedule is None else {"schedule": schedule}
            return super()._impute(z, mask, fill=fill, n_samples=n_samples, sampler=sampler, steps=steps,
                                   generator=generator, **grid, **opts)
        one_of("impute algorithm", algorithm, ("repaint", "replacement"))
        one_of("impute fill", fill, ("mean", "sample"))
        known_options([*opts, *(["sampler"] if sampler is not None else [])],
                      ["algorithm", "steps", "jumps", "schedule", "fill", "n_samples"], what="impute",
                      owner="algorithm='repaint'")
        n_samples = positive_int("n_samples", n_samples)
        k = n_samples if fill == "mean" else 1
        out = repaint_sample(self, Constraint.masked(z, mask, k), steps=steps, jumps=jumps, schedule=schedule,
                             generator=generator)
        return torch.where(mask, z, out.reshape(len(z), k, -1).mean(1))


@dataclass
class RectifiedFlowConfig(FlowMatchingBaseConfig):
    pass


@register
class RectifiedFlow(FlowMatching):
    """Rectified flow (Liu et al. 2023): flow matching with independent coupling, sigma_min = 0, and ``reflow``."""

    name = "rectified_flow"
    Config = RectifiedFlowConfig
    sigma_min = 0.0
    coupling = "independent"
    rectified_k: int = 1  # 1 = trained on data; each reflow adds one

    def extra_state(self) -> dict:
        return {**super().extra_state(), "rectified_k": int(self.rectified_k)}

    def load_extra_state(self, state: dict) -> None:
        super().load_extra_state(state)
        self.rectified_k = int(state.get("rectified_k", 1))

    def reflow(self, *, steps=None, time_budget=None, n_pairs=None, seed=0, progress=False):
        """The k+1-rectified flow: a copy of this model trained on pairs (x_0, ODE(x_0)) of its own ODE.

        ``time_budget`` (seconds) covers drawing the pairs and training; ``n_pairs`` defaults to 10,000. The model
        itself is left unchanged."""
        return self.reflow_from(self, steps=steps, time_budget=time_budget, n_pairs=n_pairs, seed=seed,
                                progress=progress)

    #: the teacher's sampling settings that a student does not take: it samples from its own prior on its own grid
    SAMPLING_FIELDS = ("sampler", "sample_steps", "schedule", "rho", "sample_sigma_max", "sample_sigma_min",
                       "sample_start")

    @classmethod
    def student_of(cls, teacher: DiffusionModel) -> RectifiedFlow:
        """A rectified flow in the teacher's units: a copy of the teacher's network when it is a straight flow with
        sigma_min = 0 (warm start), a fresh network with the teacher's width settings otherwise. The teacher's
        sampling settings (``SAMPLING_FIELDS``) are not copied: the student starts from its own source."""
        names = {f.name for f in dataclasses.fields(RectifiedFlowConfig)} - set(cls.SAMPLING_FIELDS)
        cfg = RectifiedFlowConfig(**{k: v for k, v in dataclasses.asdict(teacher.config).items() if k in names})
        student = cls(teacher.shape, cfg)
        student.normalizer.load_state_dict(teacher.normalizer.state_dict())
        if teacher.num_classes:
            student._on_labels(teacher.num_classes)
            student.build()
        if isinstance(teacher, FlowMatching) and teacher.sigma_min == 0 and not getattr(teacher, "_custom_backbone", 0):
            student.net = copy.deepcopy(teacher.net)
        return student

    @classmethod
    def reflow_from(cls, teacher: DiffusionModel, *, steps=None, time_budget=None, n_pairs=None, seed=0,
                    progress=False) -> RectifiedFlow:
        """Train a rectified flow on noise -> data pairs of ``teacher``'s ODE (reflow, Liu et al. 2023, Alg. 1)."""
        n_pairs = 10_000 if n_pairs is None else n_pairs
        (x0, x1, y), start, left = budgeted_pairs(teacher, n_pairs, seed=seed, time_budget=time_budget)
        student = cls.student_of(teacher)
        student.rectified_k = int(getattr(teacher, "rectified_k", 1)) + 1
        spec = train_spec(student, steps=steps, time_budget=left, seed=seed, progress=progress,
                          label=f"reflow {student.rectified_k}")
        student.fit_pairs(x0, x1, y, spec)
        student.fit_time = time.perf_counter() - start
        return student

    def fit_pairs(self, x0: torch.Tensor, x1: torch.Tensor, y: torch.Tensor | None, spec: TrainSpec):
        """Flow matching on fixed couplings (x0[i], x1[i]) in standardised units (the reflow objective, Liu et al.
        2023 Eq. 1 with (X_0, X_1) drawn from the previous flow)."""
        from genlab.rng import forked

        d = self.dim
        self.sampling_start.fit(x1)  # what the student learns to produce

        def loss(batch, yb, *, generator):
            a, b = batch[:, d:], batch[:, :d]
            t = self._times(len(batch), generator, batch.dtype)
            labels = self._drop_labels(yb, generator)
            return cfm_loss(lambda x, s: self._velocity(x, s, labels), a, b, t, self.path)

        with forked(spec.seed):
            self.train()
            self.history = train(self, loss, torch.cat([x1, x0], 1), y, spec)
            self.eval()
        self.trained_steps += len(self.history)
        self.fitted = True
        return self
