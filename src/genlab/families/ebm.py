"""Energy-based model p(z) ∝ exp(-E_θ(z)) trained by multi-level denoising score matching.

Energy. A noise-conditional scalar network (a :class:`~genlab.nn.ConditionalMLP` with SiLU, smooth so that its
gradients are) gives

    E_θ(z, σ) = f_θ(z, log σ) / σ + (c/2) |z|²,

whose score is s_θ(z, σ) = -∇_z E_θ(z, σ) (a conservative score field; Salimans & Ho 2021, "Should EBMs model
the energy or the score?"). Dividing by σ follows the σ-scaling of NCSN (Song & Ermon 2020, Technique 3). The
weak quadratic term (``quadratic`` = c) dominates the at most linearly growing network at infinity, so
exp(-E) is always integrable. **The model is the energy at the smallest level: E(z) = E_θ(z, σ_L).**

Training. Denoising score matching (Vincent 2011) of -∇E at the geometric noise ladder σ_1 > ... > σ_L of NCSN
(Song & Ermon 2019, Eq. 5-6, weight λ(σ) = σ²), via :func:`genlab.diffusion.losses.ncsn_loss`, or with
``objective="ssm"`` sliced score matching of the perturbed data (:func:`genlab.diffusion.ncsn_ssm_loss`, Song,
Garg, Shi & Ermon 2019, Eq. 9); the gradient of the energy is differentiated again (double back-propagation). Unlike contrastive divergence it needs no MCMC while
training, which makes it robust on 2 CPU cores. The model density is the data density smoothed by N(0, σ_L² I).
Score matching constrains the relative mass of well-separated modes only weakly (Wenliang & Kanagawa 2020,
"Blindness of score-based methods to isolated components and mixing proportions"): the energy offsets between
modes are set by the little data between them. A not-too-small σ_L and an EMA of the weights (the defaults) keep
these offsets small; annealed Langevin sampling takes its mode weights from the higher noise levels.

Likelihood (``likelihood = "estimate"``). log p(z) = -E(z) - log Z, with log Z estimated by annealed importance
sampling (:mod:`genlab.mcmc`, Neal 2001) from the base N(0, I) (the standardised data's scale) to exp(-E).
log Z is **cached**: estimated on the first ``log_prob`` after ``fit`` (with that call's seed and the options
``ais_steps``, ``ais_chains``, ``ais_transition``), kept in the checkpoint, reused by later calls, and
re-estimated when ``fit`` runs again, when a call asks for other AIS settings, or with ``refresh=True``.
Its standard error is ``model.log_Z_stderr``. AIS underestimates log Z in expectation (Jensen), so log_prob
is biased upwards by a little where the estimate is loose (high dimensions, few steps).

Sampling. ``sampler="ald"`` (default): annealed Langevin dynamics over the ladder (Song & Ermon 2019, Alg. 1,
step a_i = ``step_size`` · σ_i², ``steps`` in total) from the base N(0, I), then ``mala_steps`` Metropolis-adjusted
Langevin steps on exp(-E) so that the result targets the model density itself. ``sampler="mala"``: MALA only,
``steps`` steps from the base. Imputation: :func:`genlab.inverse.langevin_impute` on -E (MALA on the missing
coordinates; options ``steps``, ``step_size``, ``fill``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import torch
from torch.nn.attention import SDPBackend, sdpa_kernel

from genlab.checks import in_range, nonnegative_int, one_of, require
from genlab.diffusion.ladder import NoiseLadder, geometric_sigmas
from genlab.diffusion.samplers import get_sampler, resolve_steps, samplers_of
from genlab.diffusion.sliced import ladder_loss
from genlab.inverse import langevin_impute
from genlab.mcmc import AISResult, annealed_importance_sampling, mala_sample
from genlab.model import GenerativeModel, NeuralConfig
from genlab.nn import ConditionalMLP, FourierEmbedding
from genlab.nn.backbones import FlatAdapter, ScalarHead, build_backbone, uses_backbone
from genlab.registry import bounded, register
from genlab.rng import randn

__all__ = ["EBM", "EBMConfig"]

_LOG2PI = math.log(2 * math.pi)
_TRANSITIONS = ("mala", "hmc")  # AIS transitions (genlab.mcmc)


@dataclass
class EBMConfig(NeuralConfig):
    backbone: str = "mlp"  # "mlp" or a registered backbone (unet, dit, ...) under a scalar head (pooling + linear)
    backbone_options: dict[str, Any] = field(default_factory=dict)
    hidden: int = 128
    depth: int = 3
    activation: str = "silu"  # must be smooth: the loss differentiates the energy's gradient
    lr: float = 2e-3
    ema: float = 0.99  # averaging the weights steadies the energy offsets between separated modes
    sigma_min: float = 0.1  # the model's own noise level, in standardised units (smaller: sharper, but the
    #                         relative weights of separated modes get less training signal)
    sigma_max: float = 1.0
    n_levels: int = 8
    quadratic: float = bounded(0.01, ge=0)  # c in E + (c/2)|z|^2, keeps exp(-E) normalisable
    objective: str = "dsm"  # "dsm" (denoising score matching) or "ssm" (sliced score matching, Song et al. 2019)
    ais_steps: int = 1000
    ais_chains: int = 128
    sample_steps: int = 500  # default total annealed Langevin steps of sample()
    patience: int = 10  # early stopping on a validation split (genlab.training.early): EBMs overfit small data

    def check(self) -> None:
        super().check()
        require(self.activation != "relu", "ebm needs a smooth activation (silu, softplus, tanh, elu, gelu), not relu")


@register
class EBM(GenerativeModel):
    """Noise-conditional energy network trained by denoising score matching; AIS likelihood, Langevin sampling."""

    name = "ebm"
    Config = EBMConfig
    likelihood = "estimate"
    smoke = {"fit": {"steps": 30}, "impute": {"steps": 20}}

    def build(self) -> None:
        c = self.config
        ladder_loss(c.objective)  # checks the name
        self.ladder = NoiseLadder(geometric_sigmas(c.sigma_min, c.sigma_max, c.n_levels))
        if uses_backbone(c):  # the energy as a scalar head on a backbone (data's own shape)
            body = build_backbone(c.backbone, self.shape, **c.backbone_options)
            self.net = FlatAdapter(ScalarHead(body), self.shape)
        else:
            self.net = ConditionalMLP(self.dim, c.hidden, c.depth, embedding=FourierEmbedding(64, scale=1.0),
                                      emb_dim=64, activation=c.activation, out_dim=1)
        self.register_buffer("log_Z", torch.tensor(float("nan")))  # cached AIS estimate; NaN = not estimated
        self.register_buffer("log_Z_stderr", torch.tensor(float("nan")))
        self.register_buffer("ais_settings", torch.zeros(2, dtype=torch.int64))  # (steps, chains) of the cache
        self.ais_transition = "mala"  # the transition of the cached estimate (checkpointed in extra_state)

    # ------------------------------------------------------------------ energy and score
    def energy(self, z: torch.Tensor, sigma: torch.Tensor | float | None = None) -> torch.Tensor:
        """E_θ(z, σ) (N,); σ defaults to σ_L, the model's energy."""
        s = torch.as_tensor(self.ladder.sigma_min if sigma is None else sigma, dtype=z.dtype, device=z.device)
        s = s.expand(z.shape[0]) if s.ndim == 0 else s
        # the loss differentiates the energy twice: attention must use the math kernel (the fused ones lack it)
        with sdpa_kernel(SDPBackend.MATH):
            f = self.net(z, torch.log(s)).squeeze(-1)
        return f / s + 0.5 * self.config.quadratic * z.pow(2).sum(1)

    def score(self, z: torch.Tensor, sigma, *, create_graph: bool = False) -> torch.Tensor:
        """s_θ(z, σ) = -∇_z E_θ(z, σ)."""
        with torch.enable_grad():
            x = z.detach().requires_grad_(True)
            (g,) = torch.autograd.grad(self.energy(x, sigma).sum(), x, create_graph=create_graph)
        return -g

    def loss(self, z, y, *, generator: torch.Generator):
        def score(x, s):  # -grad E, differentiable in x as well (sliced score matching differentiates it again)
            x = x if x.requires_grad else x.detach().requires_grad_(True)
            return -torch.autograd.grad(self.energy(x, s).sum(), x, create_graph=True)[0]

        return ladder_loss(self.config.objective)(score, self.ladder, z, generator)

    def _fit(self, z, y, spec) -> None:
        self.log_Z.fill_(float("nan"))  # a new fit invalidates the cached normaliser
        super()._fit(z, y, spec)

    # ------------------------------------------------------------------ likelihood
    def estimate_log_Z(self, generator: torch.Generator, ais_steps: int | None = None, ais_chains: int | None = None,
                       ais_transition: str = "mala") -> AISResult:
        """Run AIS from N(0, I) to exp(-E), store the estimate as the cached log Z and return the full result."""
        steps = int(ais_steps or self.config.ais_steps)
        chains = int(ais_chains or self.config.ais_chains)
        d = self.dim
        res = annealed_importance_sampling(
            lambda x: -self.energy(x),
            lambda x: -0.5 * x.pow(2).sum(1) - 0.5 * d * _LOG2PI,
            lambda n, g: randn((n, d), g),
            n_chains=chains, n_steps=steps, generator=generator, transition=ais_transition,
            step_size=0.5 * self.ladder.sigma_min,
        )
        self.log_Z.fill_(res.log_Z)
        self.log_Z_stderr.fill_(res.stderr)
        self.ais_settings.copy_(torch.tensor([steps, chains]))
        self.ais_transition = ais_transition
        return res

    def _log_prob(self, z, y, ais_steps: int | None = None, ais_chains: int | None = None,
                  ais_transition: str = "mala", refresh: bool = False, *, generator: torch.Generator) -> torch.Tensor:
        one_of("AIS transition", ais_transition, tuple(_TRANSITIONS))
        want = [int(ais_steps or self.config.ais_steps), int(ais_chains or self.config.ais_chains)]
        stale = self.ais_settings.tolist() != want or self.ais_transition != ais_transition
        if refresh or torch.isnan(self.log_Z) or stale:
            self.estimate_log_Z(generator, *want, ais_transition=ais_transition)
        with torch.no_grad():
            return -self.energy(z) - self.log_Z

    def extra_state(self) -> dict:
        return {**super().extra_state(), "ais_transition": self.ais_transition}

    def load_extra_state(self, state: dict) -> None:
        super().load_extra_state(state)
        self.ais_transition = state.get("ais_transition", "mala")

    def _grad_log_prob_z(self, z, y, *, generator=None) -> torch.Tensor:
        """grad_z log p(z) = -grad_z E(z, sigma_min): exact for the model's density (log Z does not depend on z)."""
        return self.score(z, self.ladder.sigma_min)

    # ------------------------------------------------------------------ sampling and imputation
    sampler_kinds = ("ladder", "energy")  # ald, mala (genlab.diffusion.SAMPLERS)

    @classmethod
    def samplers(cls) -> dict[str, set[str]]:
        return samplers_of(cls.sampler_kinds)

    def _sample(self, n, y, sampler: str = "ald", steps: int | None = None, step_size: float | None = None,
                mala_steps: int = 100, *, generator: torch.Generator) -> torch.Tensor:
        spec = get_sampler(sampler, self.sampler_kinds, self.name)  # the call's one check of sampler and steps
        steps = resolve_steps(spec, steps, self.config.sample_steps)
        mala_steps = nonnegative_int("mala_steps", mala_steps)  # before the annealed Langevin, not after it
        z = randn((n, self.dim), generator)  # the base N(0, I)
        s_min = self.ladder.sigma_min
        if spec.kind == "ladder":  # the ladder's annealed Langevin on the energy's score, then MALA on exp(-E)
            eps = 0.1 if step_size is None else in_range("step_size", float(step_size), gt=0)
            z = spec.fn(lambda x, s: self.score(x, s), z, self.ladder, steps=steps, step_lr=eps * s_min**2,
                        denoise=False, generator=generator)
            return mala_sample(lambda x: -self.energy(x), z, mala_steps, generator=generator, step_size=eps * s_min**2)
        h = 0.5 * s_min**2 if step_size is None else float(step_size)  # the "energy" kind: MCMC on exp(-E)
        return spec.fn(lambda x: -self.energy(x), z, steps, generator=generator, step_size=h)

    def _impute(self, z, mask, steps: int = 300, step_size: float | None = None, fill: str = "mean", *,
                generator: torch.Generator) -> torch.Tensor:
        h = 0.5 * self.ladder.sigma_min**2 if step_size is None else float(step_size)
        return langevin_impute(lambda x: -self.energy(x), z, mask, generator=generator, steps=int(steps), step_size=h,
                               fill=fill)
