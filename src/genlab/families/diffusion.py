"""What every diffusion-type model shares: the denoiser contract, sampling, the ODE likelihood, guidance, imputation.

A :class:`DiffusionModel` exposes its network as a denoiser D(x; sigma) ~ E[x_0 | x] in the sigma form
x = x_0 + sigma n (Karras et al. 2022; conversions in :mod:`genlab.diffusion.parameterization`), and, for the
samplers that run an SDE in time t, as a score s(x_t, t). A subclass supplies:

- ``sde``: the forward SDE in time t (a class attribute names its class; see :mod:`genlab.families.score`),
- ``_denoise(x, sigma, y) -> D`` (x flat (N, D) in the sigma form, sigma (N,)),
- ``_t_score(x_t, t, y) -> s`` (default: from the denoiser), ``sigma_range()`` and ``prior_std_sigma()``,
- ``loss(z, y, *, generator)``.

Everything else is here, written once: the sampler registry dispatch by kind (``"sde"`` samplers get the score in
t, ``"sigma"`` samplers the denoiser and a grid between the model's sigma_min and sigma_max (``schedule``: equal steps
in flow time by default), ``"ladder"`` samplers the NCSN ladder), classifier-free guidance
D = (1 + w) D(x | y) - w D(x) (Ho & Salimans 2022), classifier guidance s(x) + g grad_x log p_C(y | x, sigma) (Song et al. 2021, Sec. 5; :mod:`genlab.apps.noisy_classifier`), the
probability-flow likelihood in the sigma form (:func:`genlab.diffusion.sigma_log_likelihood`), ``last_nfe``, and
imputation by the replacement method (:mod:`genlab.inverse.replacement`; linear inverse problems with any
operator through :func:`genlab.inverse.solve`).
"""

from __future__ import annotations

import inspect
from typing import ClassVar

import torch

from genlab.checks import known_options, not_both, one_of, require
from genlab.data.validate import as_labels
from genlab.diffusion import CountingScore, get_sampler, sigma_log_likelihood
from genlab.diffusion.parameterization import bcast, score_from_denoised, t_score_from_denoised
from genlab.diffusion.samplers import SIGMA_FORM, resolve_steps, samplers_of
from genlab.diffusion.start import START_RANK, SamplingStart
from genlab.families._floor import AUTO_PATIENCE, bound_loss, floor_candidate, settle_floor
from genlab.families.diffusion_config import DiffusionConfig
from genlab.inverse.replacement import replacement_impute
from genlab.model import GenerativeModel
from genlab.nn import ConditionalMLP, FourierEmbedding, SinusoidalEmbedding
from genlab.nn.backbones import FlatAdapter, build_backbone, check_backbone, uses_backbone
from genlab.nn.text_encoder import caption_network, null_captions
from genlab.rng import rand, randn
from genlab.training.caption_pretrain import keep_frozen, pretrain_for_fit

__all__ = ["DiffusionConfig", "DiffusionModel"]


class DiffusionModel(GenerativeModel):
    """Base class of the diffusion-type models (see the module docstring)."""

    Config = DiffusionConfig
    conditional = True
    takes_captions = True  # y may be captions (genlab.nn.text_encoder)
    likelihood = "exact"
    eval_batch = 10000
    default_sampler: ClassVar[str] = "dpmpp_2m"  # 16 network calls per sample (its default_steps)
    sigma_floor: float = 0.0  # the data's noise floor of the likelihood, set by fit (genlab.families._floor)
    grouped_levels: ClassVar[bool] = True  # the loss draws its levels in ``noise_groups`` groups (genlab.diffusion.levels)
    kinds: ClassVar[tuple[str, ...]] = ("vectors", "images", "table", "video")  # clips through e.g. video_dit
    inverse_algorithm: ClassVar[str] = "replacement"  # genlab.inverse.solve's default: "replacement" or "repaint"
    sampler_kinds: ClassVar[tuple[str, ...]] = ("sde", "sigma")  # the kinds of genlab.diffusion.SAMPLERS it runs

    # ------------------------------------------------------------------ network
    def _check_config(self) -> None:
        c = self.config  # one-field bounds are checked when the config is made (DiffusionConfig's bounded fields)
        if c.sampler:
            one_of("sampler", c.sampler, sorted(self.samplers()))
        require(not c.noise_groups or self.grouped_levels,
                f"{self.name} draws one noise level per row: noise_groups must be 0, got {c.noise_groups}")

    def build(self) -> None:
        c = self.config
        self._check_config()
        self.likelihood = "exact" if self.dim <= c.exact_max_dim else "estimate"
        self.last_nfe = 0
        if "sampling_start" not in self._modules:
            self.sampling_start = SamplingStart(self.dim, 0 if c.sample_start == "isotropic" else START_RANK)
        if getattr(self, "_custom_backbone", False):
            return
        if self.label_encoder is not None:  # captions (issue 27): a caption encoder in front of the backbone
            emb = SinusoidalEmbedding(c.emb_dim) if c.embedding == "sinusoidal" else FourierEmbedding(c.emb_dim, scale=4.0)
            self.net = caption_network(c, self.shape, self.label_encoder.vocab_size, emb)
            return
        if uses_backbone(c):  # a registered backbone over the data's own shape
            net = build_backbone(c.backbone, self.shape, num_classes=self.num_classes, **c.backbone_options)
            self.net = FlatAdapter(net, self.shape)
            return
        emb = SinusoidalEmbedding(c.emb_dim) if c.embedding == "sinusoidal" else FourierEmbedding(c.emb_dim, scale=4.0)
        self.net = ConditionalMLP(self.dim, hidden=c.hidden, depth=c.depth, embedding=emb, emb_dim=c.emb_dim,
                                  num_classes=self.num_classes, activation=c.activation, conditioning=c.conditioning)

    def set_backbone(self, module: torch.nn.Module):
        """Replace the network by any ``module`` called as ``module(x (N, D), t (N,), y=None) -> (N, D)``.

        What it predicts and what ``t`` means are the model's (see its docstring). With labels it receives indices
        in ``0..num_classes`` (``num_classes`` is the null label). Call before ``fit``.
        """
        self.net, self._custom_backbone = check_backbone(module, self.dim), True
        return self

    def _net_labels(self, y: torch.Tensor | None, n: int) -> torch.Tensor | None:
        if self.label_encoder is not None and y is None:  # captions: the null caption
            return null_captions(n, 1, self.label_encoder.vocab_size, self.device)
        if self.num_classes is None and self.label_encoder is None:
            return None
        if y is None:
            return torch.full((n,), self.num_classes, dtype=torch.int64, device=self.device)
        if len(y) == n:
            return y
        return y.repeat(n // len(y), *([1] * (y.ndim - 1)))  # rows repeated for a batched divergence

    def _drop_labels(self, y: torch.Tensor | None, generator) -> torch.Tensor | None:
        """Classifier-free guidance training: each label (caption) becomes the null label (caption) with
        probability p_uncond."""
        if y is None or self.config.p_uncond == 0:
            return y
        drop = rand((len(y),), generator, device=y.device) < self.config.p_uncond
        if y.ndim == 2:  # caption ids (genlab.nn.text_encoder)
            null = null_captions(len(y), y.shape[1], self.label_encoder.vocab_size, y.device)
            return torch.where(drop[:, None], null, y)
        return torch.where(drop, torch.full_like(y, self.num_classes), y)

    # ------------------------------------------------------------------ the denoiser contract
    def _denoise(self, x: torch.Tensor, sigma: torch.Tensor, y: torch.Tensor | None) -> torch.Tensor:
        raise NotImplementedError

    def _t_score(self, x_t: torch.Tensor, t: torch.Tensor, y: torch.Tensor | None) -> torch.Tensor:
        sde = self.sde
        alpha, sigma_t = sde.marginal_coeffs(t)
        d = self._denoise(x_t / alpha.reshape(-1, 1), sigma_t / alpha, y)
        return t_score_from_denoised(x_t, d, alpha, sigma_t)

    def sigma_range(self) -> tuple[float, float]:
        """(sigma_min, sigma_max) of the sigma form that the network was trained on."""
        raise NotImplementedError

    def prior_std_sigma(self) -> float:
        """Standard deviation of the prior at sigma_max in the sigma form."""
        raise NotImplementedError

    @staticmethod
    def _guided(fn, y, guidance: float, null):
        if y is None or float(guidance) == 0.0:
            return lambda x, s: fn(x, s, y)
        w = float(guidance)
        return lambda x, s: (1 + w) * fn(x, s, y) - w * fn(x, s, null(len(x)))

    def denoiser(self, y: torch.Tensor | None = None, guidance: float = 0.0, guide=None):
        """D(x, sigma) on flat standardised x (N, D), sigma (N,); classifier-free guidance weight ``guidance``.

        ``guide(x, sigma) -> (N, D)``, a term added to the score in the sigma form (classifier guidance:
        g grad_x log p(y | x, sigma)), enters as D + sigma^2 guide (since s = (D - x) / sigma^2)."""
        fn = self._guided(self._denoise, y, guidance, lambda n: None)
        if guide is None:
            return fn
        return lambda x, s: fn(x, s) + bcast(s**2, x) * guide(x, s)

    def score_fn(self, y: torch.Tensor | None = None, guidance: float = 0.0, guide=None):
        """s(x_t, t) of the model's SDE in time t (for the SDE samplers and the t-form ODE); ``guide`` as in
        :meth:`denoiser`, evaluated at the sigma form x_t / alpha, sigma_t / alpha and divided by alpha."""
        fn = self._guided(self._t_score, y, guidance, lambda n: None)
        if guide is not None:
            plain = fn

            def fn(x, t):
                alpha, sigma_t = self.sde.marginal_coeffs(t)
                return plain(x, t) + guide(x / bcast(alpha, x), sigma_t / alpha) / bcast(alpha, x)

        return lambda x, t: fn(x, t.expand(len(x)) if t.ndim == 0 else t)

    # ------------------------------------------------------------------ samplers
    @classmethod
    def samplers(cls) -> dict[str, set[str]]:
        """The registered samplers of the kinds this family runs (``sampler_kinds``) -> their tags."""
        return samplers_of(cls.sampler_kinds)

    def _resolve_sampler(self, sampler: str | None, opts: dict):
        """The one check of a sampling call's sampler name (``sampler``, else the config's, else the family's
        default, of ``sampler_kinds``) and its options; returns the registry entry."""
        name = sampler or self.config.sampler or self.default_sampler
        spec = get_sampler(name, self.sampler_kinds, self.name)
        fixed = {"score_fn", "denoiser", "x", "sde", "sigmas", "steps", "callback", "generator"}
        allowed = set(inspect.signature(spec.fn).parameters) - fixed
        if spec.kind in SIGMA_FORM:
            allowed.add("schedule")
        known_options(opts, ["sampler", "steps", "guidance", *sorted(allowed)], owner=f"sampler '{name}'")
        return spec

    def _ladder(self):
        # never reached from a call: the sampler name is checked once, against sampler_kinds (_resolve_sampler)
        raise NotImplementedError(f"{type(self).__name__} lists 'ladder' in sampler_kinds: it must implement "
                                  "_ladder and _ladder_score")

    def sigma_grid(self, steps: int, schedule: str | None = None) -> torch.Tensor:
        """The sampling grid of ``steps`` levels then 0; ``schedule`` defaults to the config's."""
        from genlab.diffusion import make_sigmas

        lo, hi = self.sigma_range()
        lo, hi = max(lo, self.config.sample_sigma_min), min(hi, self.config.sample_sigma_max)
        return make_sigmas(schedule or self.config.schedule, steps, lo, hi, self.config.rho).to(torch.float32)

    def start_from_noise(self, eps: torch.Tensor, sigma) -> torch.Tensor:
        """The first state of a sigma-form sampler at the level ``sigma`` for unit-Gaussian noise ``eps`` (N, D):
        m + (C + sigma^2 I)^(1/2) eps (``sample_start``; :mod:`genlab.diffusion.start`). Every sampler start
        (sampling, RePaint, reflow and distillation pairs, straightness) goes through it."""
        return self.sampling_start.to_start(eps, sigma)

    def noise_from_start(self, x: torch.Tensor, sigma) -> torch.Tensor:
        """The inverse of :meth:`start_from_noise`: the unit noise that starts at ``x`` (N, D) at ``sigma``."""
        return self.sampling_start.to_noise(x, sigma)

    def _fit(self, z, y, spec) -> None:
        # the start's statistics: those of what the model learns (with dequantization noise of variance 1/12 in data
        # units per dimension when fitted with dequantize=True)
        extra = None if spec.dequantize is None else torch.as_tensor(spec.dequantize).reshape(-1) ** 2 / 12
        self.sampling_start.fit(z, None if extra is None else extra.expand(self.dim))
        if self.label_encoder is not None and not getattr(self, "_custom_backbone", False):
            pretrain_for_fit(self, z, y, spec)
        super()._fit(z, y, spec)

    def _before_fit(self, z, y, spec) -> None:
        # the noise-floor candidate: the held-out bound of early stopping starts there (genlab.families._floor)
        self.sigma_floor, self._floor_candidate = 0.0, floor_candidate(self, z, spec)
        if self.config.patience is None:  # early stopping where the rows are sparse (and leave a validation row)
            spec.patience = AUTO_PATIENCE if self._floor_candidate and 1 <= round(len(z) * spec.val_fraction) < len(z) else 0

    def level_shift(self) -> float:
        """How far up (in log sigma) the training levels move for this fit: ``floor_level_shift`` with a noise-floor
        candidate, else 0."""
        return self.config.floor_level_shift if getattr(self, "_floor_candidate", 0.0) else 0.0

    def _after_fit(self, z, y, spec) -> None:
        self.sigma_floor = settle_floor(self, z, y, spec, self._floor_candidate)

    def val_loss(self, z, y, *, generator):
        """The held-out loss of early stopping: the sigma-form denoising bound of -log p from the floor candidate
        (:func:`genlab.families._floor.bound_loss`); the training loss for a model without a likelihood."""
        if self.likelihood == "none":
            return self.loss(z, y, generator=generator)
        lo, hi = self.sigma_range()
        return bound_loss(self._denoise, z, y, max(lo, getattr(self, "_floor_candidate", 0.0)), hi, generator)

    def likelihood_sigma_min(self) -> float:
        """The level the likelihood is read from: the family's smallest, or the data's noise floor (set by fit;
        :mod:`genlab.families._floor`) where that is larger."""
        return max(self.sigma_range()[0], self.sigma_floor)

    def extra_state(self) -> dict:
        return {**super().extra_state(), "sigma_floor": self.sigma_floor,
                "text_pretrained": bool(getattr(self, "text_pretrained", False))}

    def load_extra_state(self, state: dict) -> None:
        super().load_extra_state(state)
        self.sigma_floor = float(state.get("sigma_floor", 0.0))  # absent before format 6: the family's own level
        self.text_pretrained = bool(state.get("text_pretrained", False))
        keep_frozen(self)  # a fit that resumes keeps a pre-trained encoder frozen

    def run_sampler(self, n, y=None, *, generator, sampler=None, steps=None, guidance=0.0, callback=None, init=None,
                    guide=None, noise=None, **opts):
        """Draw ``n`` flat rows (standardised units). ``init(kind, level, x)`` may edit the initial draw; ``guide``
        is added to the score (see :meth:`denoiser`); ``noise`` (n, D), for a sigma-form sampler, is the unit noise
        that :meth:`start_from_noise` maps to the first state (drawn from ``generator`` when None). ``last_nfe``
        counts network and classifier evaluations (a ``guide`` call is one classifier evaluation)."""
        spec = self._resolve_sampler(sampler, opts)
        steps = resolve_steps(spec, steps, self.config.sample_steps)
        guided = y is not None and float(guidance) != 0.0
        with torch.no_grad():
            if spec.kind in SIGMA_FORM:
                schedule = opts.pop("schedule", None)
                if "adaptive" in spec.tags:  # an adaptive solver takes only the grid's ends: sigma_max to sigma_min
                    schedule = "log_snr"
                sigmas = self.sigma_grid(int(steps), schedule)
                counted = CountingScore(self.denoiser(y, guidance, guide))
                if noise is None:
                    noise = randn((n, self.dim), generator)
                require(tuple(noise.shape) == (n, self.dim), f"noise must have shape {(n, self.dim)}, got "
                                                             f"{tuple(noise.shape)}")
                x = self.start_from_noise(noise, sigmas[0])
                if init is not None:
                    x = init("sigma", sigmas[0], x)
                out = spec.fn(counted, x, sigmas, generator=generator, callback=callback, **opts)
            else:  # the SDE's (or ladder's) own prior at its top level, where the data's covariance is negligible
                require(noise is None, f"noise= is for the sigma-form samplers; '{spec.name}' starts from its prior")
                process = self._ladder() if spec.kind == "ladder" else self.sde
                counted = CountingScore(self._ladder_score(y, guidance, guide) if spec.kind == "ladder"
                                        else self.score_fn(y, guidance, guide))
                x = process.prior_sample((n, self.dim), generator)
                if init is not None:
                    x = init(spec.kind, None, x)
                out = spec.fn(counted, x, process, steps=steps, generator=generator, callback=callback, **opts)
        self.last_nfe = counted.nfe * (2 if guided else 1) + (counted.nfe if guide is not None else 0)
        return out

    def _ladder_score(self, y, guidance, guide=None):
        return self._ladder()  # a family with a noise ladder (NCSN) overrides both

    def sample(self, n, *, y=None, classifier=None, classifier_scale=1.0, **options) -> torch.Tensor:
        """As :meth:`GenerativeModel.sample`; with ``classifier`` (a :class:`genlab.apps.NoisyClassifier` of this
        model), classifier guidance: the model's unconditional score plus ``classifier_scale`` times
        grad_x log p_C(y | x, sigma) (g = 1 is Bayes' rule); ``y`` is then the classifier's target class."""
        if classifier is None:
            return super().sample(n, y=y, **options)
        require(hasattr(classifier, "grad_log_prob") and hasattr(classifier, "check"),
                f"classifier must be a NoisyClassifier, got {type(classifier).__name__}")
        not_both("guidance= (classifier-free)", float(options.get("guidance", 0.0)) != 0.0,
                 "classifier= (classifier guidance)", True)
        require(y is not None, "classifier guidance needs the target class y")
        labels = as_labels(torch.full((n,), y) if isinstance(y, int) and not isinstance(y, bool) else y, n)
        classifier.check(self, labels)
        return super().sample(n, classifier=classifier, classifier_scale=float(classifier_scale), classifier_y=labels,
                              **options)

    def _sample(self, n, y, *, generator=None, classifier=None, classifier_scale=0.0, classifier_y=None,
                **opts) -> torch.Tensor:
        guide = None
        if classifier is not None and float(classifier_scale) != 0.0:
            g = float(classifier_scale)
            guide = lambda x, s: g * classifier.grad_log_prob(x, s, classifier_y)  # noqa: E731
        return self.run_sampler(n, y, generator=generator, guide=guide, **opts)

    def _grad_log_prob_z(self, z, y, *, generator=None) -> torch.Tensor:
        """grad log p of the model's density (the data convolved with N(0, sigma_min^2)) through the denoiser:
        (D(x; sigma_min) - x) / sigma_min^2 in the sigma form x = c z. The network saw few training draws at the
        smallest noise level, so this score is the least accurate one it has (docs/estimator.md measures it)."""
        lo = self.likelihood_sigma_min()
        c, _ = self._data_to_sigma_form()
        x = z * c
        with torch.no_grad():
            d = self._denoise(x, torch.full((len(x),), lo, dtype=x.dtype, device=x.device), y)
        return c * score_from_denoised(x, d, lo)

    # ------------------------------------------------------------------ likelihood
    def _log_prob(self, z, y, *, rtol=1e-4, atol=1e-4, method="dopri5", divergence="auto", probes=1,
                  guidance=0.0, generator=None) -> torch.Tensor:
        """The sigma-form ODE likelihood. Tolerance 1e-4 by measurement (benchmarks/loglik_speed.py): against 1e-6 its
        KL moved by at most 0.003 nats on eight_gaussians and funnel6, for 40-60 % of the 1e-5 cost."""
        lo, hi = self.likelihood_sigma_min(), self.sigma_range()[1]
        shift, log_scale = self._data_to_sigma_form()
        res = sigma_log_likelihood(self.denoiser(y, guidance), z * shift, lo, hi, self.prior_std_sigma(), rtol=rtol,
                                   atol=atol, method=method, divergence=divergence, probes=probes,
                                   exact_max_dim=self.config.exact_max_dim, generator=generator)
        self.last_nfe = res.nfe
        return res.logp + self.dim * log_scale

    def _data_to_sigma_form(self) -> tuple[float, float]:
        """(c, log c) with x_sigma = c x for data x at the smallest noise level (1 / alpha(eps) for VP, 1 for VE)."""
        return 1.0, 0.0

    def _impute(self, z, mask, *, fill="mean", n_samples=8, sampler=None, steps=None, generator=None,
                **opts) -> torch.Tensor:
        return replacement_impute(self, z, mask, fill=fill, n_samples=n_samples, sampler=sampler, steps=steps,
                                  generator=generator, opts=opts)
