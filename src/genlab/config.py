"""The option dataclasses every model shares: :class:`ModelConfig` (all models) and :class:`NeuralConfig` (families
trained by the shared loop). Families extend them with their own fields, all with defaults; bounds declared with
:func:`genlab.registry.bounded` are checked when a config is made, and rules over several fields
in its ``check`` method (run by ``__post_init__``)."""

from __future__ import annotations

from dataclasses import dataclass

from genlab.registry import bounded, check_bounds

__all__ = ["ModelConfig", "NeuralConfig"]


@dataclass
class ModelConfig:
    """Options every model has. Families extend it with their own fields (all with defaults)."""

    normalize: bool = True  # standardise each dimension before modelling (Jacobian included in log_prob)

    def __post_init__(self) -> None:
        check_bounds(self)
        self.check()

    def check(self) -> None:
        """Rules over several fields (one-field bounds are :func:`bounded`), written with :mod:`genlab.checks`; run
        once, when the config is made. Subclasses extend it and call ``super().check()``."""


@dataclass
class NeuralConfig(ModelConfig):
    """Training options of families that use the shared training loop."""

    steps: int = bounded(2000, ge=1)  # default training steps when fit() gets neither steps nor time_budget
    batch_size: int = bounded(256, ge=1)
    lr: float = bounded(1e-3, gt=0)
    ema: float = bounded(0.0, ge=0, lt=1)  # EMA decay of the weights used for sampling and likelihood; 0 = off
    ema_warmup: bool = True  # EMA decay at step t is min(ema, (1 + t) / (10 + t)) (genlab.training.ema)
    weight_decay: float = bounded(0.0, ge=0)
    grad_clip: float = bounded(0.0, ge=0)  # max gradient norm; 0 = off
    lr_schedule: str = bounded("constant", choices=("constant", "cosine"))  # cosine: decay to 5% of lr
    patience: int = bounded(0, ge=0)  # early stopping: validation checks without improvement (0 = off)
    val_fraction: float = bounded(0.1, gt=0, lt=1)  # share of the training rows held out when patience > 0
    val_every: int = bounded(50, ge=1)  # steps between validation checks
