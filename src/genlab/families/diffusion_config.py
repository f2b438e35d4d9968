"""The options every diffusion-type model shares (:class:`DiffusionConfig`); each field's comment states the decision
and links its evidence. The model that reads them: :class:`genlab.families.diffusion.DiffusionModel` (which re-exports this class)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from genlab.config import NeuralConfig
from genlab.diffusion.schedules import SCHEDULES
from genlab.nn.mlp import CONDITIONING
from genlab.registry import bounded

__all__ = ["DiffusionConfig"]


@dataclass
class DiffusionConfig(NeuralConfig):
    """Options shared by every diffusion model (defaults tuned on 2-D toys at 5-60 s on 2 CPU cores)."""

    steps: int = 4000
    batch_size: int = 512
    lr: float = 2e-3
    lr_schedule: str = "cosine"
    ema: float = 0.999  # with warm-up; helps most families, not vp_sde (docs/benchmarks.md#ema-of-the-weights)
    backbone: str = "mlp"  # "mlp" | "unet" | "dit" | a name given to genlab.register_backbone (genlab.nn.backbones)
    backbone_options: dict[str, Any] = field(default_factory=dict)  # keyword arguments of a non-default backbone
    hidden: int = 128  # width of the ConditionalMLP
    depth: int = 3  # residual hidden layers
    # noise-level embedding: "fourier" (Gaussian Fourier features, scale 4) or "sinusoidal"
    embedding: str = bounded("fourier", choices=("fourier", "sinusoidal"))
    emb_dim: int = 64
    activation: str = "silu"
    # how the MLP's layers receive the noise level: "film" (scale and shift) or "add" (a shift: what checkpoints of
    # format version < 3 were made with; genlab.checkpoint.LEGACY_CONFIG). film: lower KL for edm and vp_sde in all 8
    # (set, seed) pairs of the tuning sets at 30 s (benchmarks/results/mlp_conditioning_{edm,vp_sde}.json); small
    # tables over-fit sooner with it (flow_impute_film.json). docs/notes/2026-12-02.md, "FiLM conditioning in the MLP"
    conditioning: str = bounded("film", choices=CONDITIONING)
    sampler: str = ""  # default sampler; "" = the model's own (see default_sampler)
    sample_steps: int = bounded(0, ge=0)  # default number of sampler steps; 0 = the model's own default
    # the sigma-form samplers' grid (genlab.diffusion.schedules): equal steps in flow time t = 1 / (1 + sigma), chosen
    # over the Karras and log-sigma grids by the 10-step / 999-call SW2 ratio on the tuning sets, and again with FiLM
    # (benchmarks/results/grid_choice.json, grid_choice_film.json; docs/notes/2026-11-25.md, third session)
    schedule: str = bounded("uniform_t", choices=SCHEDULES)
    rho: float = 7.0  # the Karras grid's rho (schedule="karras")
    # the grid runs from sample_sigma_max (or the model's own if smaller) down to sample_sigma_min (or the model's own
    # if larger), then 0: for standardised data, levels far above 5 are pure noise and levels below 0.03 change little.
    # Chosen on swiss_roll by one-off runs, no results file (docs/notes/2026-11-25.md, "Diffusion core v2 (issue 9)")
    sample_sigma_max: float = 5.0
    sample_sigma_min: float = 0.03
    # the first state at the grid's top level sigma_0 (genlab.diffusion.start): "covariance" = N(m, C + sigma_0^2 I)
    # with the training data's mean and covariance (stored at fit time, low-rank above 64 dimensions), "isotropic" =
    # N(0, (sigma_0^2 + 1) I) (checkpoints of format version < 5). Chosen on tuning sets with correlated dimensions
    # (docs/benchmarks.md#where-the-samplers-start-on-correlated-data; benchmarks/results/sampling_start.json)
    sample_start: str = bounded("covariance", choices=("covariance", "isotropic"))
    # training noise levels per batch: this many stratified draws, each shared by batch_size / noise_groups rows
    # (genlab.diffusion.levels; 0 = one level per row), so that the network computes its conditioning once per group
    noise_groups: int = bounded(32, ge=0)
    p_uncond: float = bounded(0.1, ge=0, lt=1)  # label dropout for classifier-free guidance (conditional fits only)
    # the caption encoder of a model fitted on captions (genlab.nn.text_encoder; keys dim, depth, heads)
    text_encoder: dict[str, Any] = field(default_factory=dict)
    exact_max_dim: int = 16  # exact divergence in log_prob up to this dimension, Hutchinson above
    # Defaults for data that arrive as floats (issue 23; genlab.families._floor, benchmarks/continuous_probe.py on a
    # tuning split of the digits training rows). A fit holds out val_fraction of the rows and stops after `patience`
    # checks (every `val_every` steps) without a better held-out denoising bound (0 = train the whole budget, no
    # held-out rows, as checkpoints of format version < 6 were made; None = 10 where the rows are sparse enough for a
    # noise floor candidate, below, else 0: 2-D sets of thousands of rows train their whole budget, as they were tuned,
    # e.g. edm on two_moons, 3,000 steps: KL 0.012 without, 0.018 with early stopping). The likelihood is read from at least
    # noise_floor x the median nearest-row distance per dimension of the training rows (standardised), kept only if
    # the held-out rows score better with it (0 = the family's own smallest level, checkpoints of format < 6):
    # without it, edm on digits dequantized once scored 3.78 bits/dim on held-out rows (2.50 with dequantize=True).
    patience: int | None = bounded(None, ge=0)
    val_every: int = bounded(100, ge=1)
    noise_floor: float = bounded(0.3, ge=0)
    # with a noise floor candidate, the centre of the log-normal training levels (edm's P_mean, flow matching's
    # -t_loc) moves up by this much in log sigma: the levels far below the floor are never read by the likelihood.
    # On the tuning split (6,000 steps, early stopping) edm once / fresh: 2.558 / 2.417 bits/dim at 0, 2.513 / 2.415
    # at 0.6 (checkpoints of format < 6: 0)
    floor_level_shift: float = 0.6
