"""The family side of the model contract (:mod:`genlab.model`): what a family declares (``name``, ``Config``,
``likelihood``, ...), how a model is built, the hooks a family implements on standardised data ``z`` (N, D), where it
computes (``device``) and the state a checkpoint keeps beyond tensors. The public methods that call the hooks are in
:mod:`genlab.model.contract`."""

from __future__ import annotations

import math
from typing import Any, ClassVar

import torch
from torch import nn

from genlab.config import ModelConfig
from genlab.data.transforms import Standardizer
from genlab.device import check_precision, resolve_device
from genlab.errors import ConfigError
from genlab.rng import forked
from genlab.training import TrainSpec, train

__all__ = ["ModelBase", "LIKELIHOODS"]

LIKELIHOODS = ("exact", "bound", "estimate", "none")


class ModelBase(nn.Module):
    """What every family is made of: declarations, construction, hooks, device placement and checkpoint state."""

    name: ClassVar[str] = ""
    Config: ClassVar[type[ModelConfig]] = ModelConfig
    likelihood: str = "none"  # "exact" | "bound" | "estimate" | "none"; an instance may refine it in build()
    conditional: ClassVar[bool] = False  # accepts labels y in fit/sample/log_prob
    eval_batch: ClassVar[int] = 4096  # chunk size for log_prob
    own_sampler: ClassVar[str] = "ancestral"  # the name of the family's own sampling method (see samplers())
    last_nfe: int | None = None  # network evaluations per sample of the last sample/log_prob/impute call
    # tiny but real settings for the contract test (tests/test_contract.py), declared next to each family:
    # {"fit": fit kwargs such as {"steps": 30}, "sample": sample options, "impute": impute options}
    smoke: ClassVar[dict[str, dict]] = {}
    differentiable_log_prob: ClassVar[bool] = False  # _log_prob keeps z's graph (closed-form / single-pass families)
    # config overrides under which N processes with batch B train as 1 process with batch N B (genlab.training.
    # distributed; tests/test_distributed.py): empty when the defaults do; a family that needs one says why beside it
    data_parallel_config: ClassVar[dict[str, Any]] = {}
    # the data kinds (genlab.data.kinds) whose encoded tensors this family models; `genlab list models --json` shows them
    kinds: ClassVar[tuple[str, ...]] = ("vectors", "images", "table")
    schema_aware: ClassVar[bool] = False  # build() reads self.data_encoder (e.g. a table's column layout)
    # fit() hands the family integer data (token ids) as they are, unstandardised, without a float copy
    integer_data: ClassVar[bool] = False
    takes_captions: ClassVar[bool] = False  # y may be strings (issue 27): the family's build() reads label_encoder
    # how sample(n, given={column: value}) of a table model draws (genlab.data.kinds.given): "impute" (the family's
    # impute) or "rejection" (unconditional draws that hold the given cells; categorical / boolean given columns only)
    given_route: ClassVar[str] = "impute"

    def __init__(self, shape, config: ModelConfig | None = None, *, data_encoder=None):
        super().__init__()
        shape = tuple(int(s) for s in shape)
        if not shape or any(s <= 0 for s in shape):
            raise ConfigError(f"shape must be a tuple of positive ints, got {shape}")
        self.shape = shape
        self.dim = math.prod(shape)
        self.config = config if config is not None else self.Config()
        self.normalizer = Standardizer(self.dim)
        self.num_classes: int | None = None
        self.history: list[dict[str, float]] = []
        self.trained_steps = 0
        self.fitted = False
        self.fit_time: float | None = None
        self.dequantized = False  # fitted to x + U[0, 1) (dequantize=True): impute works on integer levels
        self.raw_weights: dict[str, torch.Tensor] = {}  # un-averaged weights when trained with an EMA (checkpointed)
        # the data's reversible encoder (genlab.data.kinds) when made from a Dataset / DataFrame; families whose
        # networks follow the columns (``schema_aware``) read it in build()
        self.data_encoder = data_encoder
        self.label_encoder = None  # the caption tokenizer (a char TextEncoder) of a model fitted on captions
        with forked(0):  # initial weights do not depend on the caller's global RNG state
            self.build()
        if self.likelihood not in LIKELIHOODS:
            raise ConfigError(f"{type(self).__name__}.likelihood must be one of {LIKELIHOODS}")

    # ----------------------------------------------------------------- hooks for families
    def build(self) -> None:
        """Create networks; ``self.shape``, ``self.dim``, ``self.config``, ``self.num_classes`` are set."""

    def loss(self, z: torch.Tensor, y: torch.Tensor | None, *, generator: torch.Generator) -> torch.Tensor:
        raise NotImplementedError(f"{type(self).__name__} defines neither loss() nor _fit()")

    def val_loss(self, z: torch.Tensor, y: torch.Tensor | None, *, generator: torch.Generator) -> torch.Tensor:
        """Per-sample loss on validation data for early stopping (default: the training loss); a family whose
        training loss changes with the step (a warm-up) returns the loss that is comparable across steps."""
        return self.loss(z, y, generator=generator)

    def _fit(self, z: torch.Tensor, y: torch.Tensor | None, spec: TrainSpec) -> None:
        self.history = train(self, self.loss, z, y, spec)

    def _before_fit(self, z: torch.Tensor, y: torch.Tensor | None, spec: TrainSpec) -> None:
        """Called by :meth:`fit` just before ``_fit`` with the same arguments (settings a family derives from the
        training rows; the diffusion families' noise floor, :mod:`genlab.families._floor`)."""

    def _after_fit(self, z: torch.Tensor, y: torch.Tensor | None, spec: TrainSpec) -> None:
        """Called by :meth:`fit` right after ``_fit`` (checks of the fitted model on held-out training rows)."""

    def _sample(self, n: int, y: torch.Tensor | None, *, generator: torch.Generator, **opts) -> torch.Tensor:
        raise NotImplementedError

    def _log_prob(self, z: torch.Tensor, y: torch.Tensor | None, *, generator: torch.Generator, **opts) -> torch.Tensor:
        raise NotImplementedError

    def _impute(self, z: torch.Tensor, mask: torch.Tensor, *, generator: torch.Generator, **opts) -> torch.Tensor:
        raise NotImplementedError

    def _grad_log_prob_z(self, z: torch.Tensor, y: torch.Tensor | None, *, generator: torch.Generator) -> torch.Tensor:
        """grad_z log p(z) (N, D) for families whose ``_log_prob`` is not differentiable (score models: the score)."""
        raise NotImplementedError

    def _on_labels(self, num_classes: int) -> None:
        """Called before build() on the first conditional fit (or on load) to size label embeddings."""
        self.num_classes = num_classes

    # ----------------------------------------------------------------- devices
    @property
    def device(self) -> torch.device:
        """Where the model's weights are and where it computes (see the module docstring)."""
        return self.normalizer.mean.device

    def _place(self, device, precision: str = "fp32") -> torch.device:
        """The device named by ``device`` (None = the model's own), with the model moved there once ``precision``
        is known to run there."""
        dev = self.device if device is None else resolve_device(device)
        check_precision(precision, dev)
        if dev != self.device:
            self.to(dev)
        return dev

    def _apply(self, fn, recurse=True):
        # nn.Module.to()/cpu()/cuda() go through _apply: the raw (pre-EMA) weights travel with the parameters
        out = super()._apply(fn, recurse)
        raw = getattr(self, "raw_weights", None)
        if raw:
            self.raw_weights = {k: fn(v) for k, v in raw.items()}
        return out

    def _check_fitted(self, what: str) -> None:
        if not self.fitted:
            raise ConfigError(f"model '{self.name}' is not fitted: call fit() before {what}()")

    # ----------------------------------------------------------------- checkpoint state
    def train_state(self) -> dict[str, Any]:
        """JSON-serialisable counters a family keeps while training (resume state; families may extend)."""
        return {}

    def load_train_state(self, state: dict[str, Any]) -> None:
        """Restore what :meth:`train_state` returned."""

    def extra_state(self) -> dict[str, Any]:
        """JSON-serialisable facts a checkpoint must keep beyond tensors (families may extend)."""
        return {"num_classes": self.num_classes, "dequantized": self.dequantized,
                "encoder": None if self.data_encoder is None else self.data_encoder.state(),
                "label_encoder": None if self.label_encoder is None else self.label_encoder.state()}

    def load_extra_state(self, state: dict[str, Any]) -> None:
        if state.get("encoder"):
            from genlab.data.kinds import encoder_from_state

            self.data_encoder = encoder_from_state(state["encoder"])
            if self.schema_aware:
                self.build()
        self.dequantized = bool(state.get("dequantized", False))
        if state.get("label_encoder"):  # captions: the tokenizer, then the networks that read it
            from genlab.data.kinds.text import TextEncoder

            self.label_encoder = TextEncoder.from_state(state["label_encoder"])
            self.build()
        if state.get("num_classes"):
            self._on_labels(int(state["num_classes"]))
            self.build()
