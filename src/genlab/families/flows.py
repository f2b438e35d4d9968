"""Discrete normalizing flows built from zuko: RealNVP, MAF and NSF.

A flow is an invertible map f from data z to base noise u = f(z) ~ N(0, I), so that by the change of
variables formula (e.g. Papamakarios et al. 2021, Eq. 2)

    log p(z) = log N(f(z); 0, I) + log |det J_f(z)|,

which is the exact log-likelihood; training minimises -log p(z) per sample, and sampling inverts f.
One class, :class:`ZukoFlow`, holds all three; they differ only in the zuko constructor:

- ``realnvp``: affine coupling layers (Dinh et al. 2017, Eq. 6-7, "Density estimation using Real NVP"),
  alternating (or random) binary masks; ``zuko.flows.RealNVP``.
- ``maf``: masked autoregressive flow (Papamakarios et al. 2017, Eq. 2-3): each layer is an affine
  autoregressive transform whose shift and log-scale come from a MADE; orders alternate between layers.
  ``zuko.flows.MAF``. Density evaluation is one pass; sampling needs D passes per layer.
- ``nsf``: neural spline flow (Durkan et al. 2019): autoregressive monotonic rational-quadratic splines
  with ``bins`` bins on [-5, 5] (identity outside); ``zuko.flows.NSF``. ``passes=2`` gives the coupling
  variant, whose sampling is as fast as its density.

In D = 1 there is nothing to condition on: zuko turns every layer into an unconditional element-wise
transform (for ``realnvp`` that makes a Gaussian, for ``nsf`` a learned monotone spline of a Gaussian).
Conditional flows p(z | y) take the one-hot label as zuko's ``context``. Without a label they are the mixture
p(z) = sum_y p(y) p(z | y) with p(y) the class frequencies of the training labels (kept in the checkpoint), both
for ``log_prob`` and for ``sample`` (a label per sample drawn from p(y)).

Small data (e.g. ~1,250 digits in 64-D) overfits quickly, and affine flows with ReLU conditioners then
give a few held-out points absurd log-densities (the scales extrapolate). Hence the defaults: tanh
conditioners (bounded shifts and log-scales) and dropout in the conditioners (inserted after each hidden
activation of zuko's MLPs); NSF keeps ReLU since its splines are the identity outside [-5, 5]. On plentiful
low-dimensional data, ``dropout=0`` (and ``activation="relu"``) fit faster.

Imputation samples the conditional p(z_m | z_o) with MALA on the model's own log-density
(:func:`genlab.inverse.langevin_impute`; options ``fill``, ``steps``, ``step_size``, ``burn_in``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch
import zuko
from torch import nn

from genlab.families._exact import MaximumLikelihood, activation, check_network, langevin_fill
from genlab.model import GenerativeModel, NeuralConfig
from genlab.registry import bounded, register
from genlab.rng import forked, multinomial, seed_from

__all__ = ["ZukoFlow", "RealNVP", "MAF", "NSF", "ZukoFlowConfig", "RealNVPConfig", "MAFConfig", "NSFConfig"]


@dataclass
class ZukoFlowConfig(NeuralConfig):
    """Options shared by the zuko flows (defaults tuned for 2-D toys and 64-D digits on 2 CPU cores)."""

    transforms: int = bounded(5, ge=1)  # number of flow layers
    hidden_features: tuple[int, ...] = (128, 128)  # widths of each layer's conditioner network
    activation: str = "tanh"  # bounded conditioner outputs keep affine scales sane far from the training data
    randperm: bool = False  # random feature orders / coupling masks between layers instead of alternating ones
    dropout: float = 0.2  # dropout after each hidden activation of the conditioners (training only)
    steps: int = 3000
    weight_decay: float = 1e-5
    grad_clip: float = 5.0


@dataclass
class RealNVPConfig(ZukoFlowConfig):
    transforms: int = 8


@dataclass
class MAFConfig(ZukoFlowConfig):
    residual: bool = False  # residual blocks in the MADE conditioners


@dataclass
class NSFConfig(MAFConfig):
    transforms: int = 3
    activation: str = "relu"  # splines are the identity outside [-5, 5]: unbounded conditioners are safe
    dropout: float = 0.3
    bins: int = bounded(8, ge=2)  # rational-quadratic spline bins K per dimension
    passes: int = bounded(0, ge=0)  # 0 = fully autoregressive (D passes to sample); 2 = coupling


FlowConfig = ZukoFlowConfig  # its name before format 7 (flow_matching.py had another FlowConfig); kept importable


class ZukoFlow(MaximumLikelihood, GenerativeModel):
    """A zuko normalizing flow behind the genlab contract; subclasses choose ``zuko_flow`` and its arguments."""

    Config = ZukoFlowConfig
    likelihood = "exact"
    conditional = True  # with labels, a conditional flow p(z | y): the one-hot label is zuko's context
    zuko_flow: ClassVar[type] = zuko.flows.MAF
    smoke = {"fit": {"steps": 30}, "impute": {"steps": 20}}
    # nn.Dropout draws each process's masks from its own global RNG, not from the step's sharded draws: with dropout
    # N processes with batch B train as 1 with batch N B only without it (tests/test_distributed.py)
    data_parallel_config: ClassVar[dict] = {"dropout": 0.0}

    def flow_kwargs(self) -> dict:
        """Family-specific keyword arguments for ``zuko_flow``."""
        return {}

    class_prior: list[float] | None = None  # p(y) of a conditional flow: training class frequencies

    def build(self) -> None:
        c = self.config
        check_network(c)
        self.flow = self.zuko_flow(
            self.dim, self.num_classes or 0, transforms=c.transforms, hidden_features=tuple(c.hidden_features),
            activation=activation(c.activation), **self.flow_kwargs(),
        )
        if c.dropout > 0:
            _add_dropout(self.flow, c.dropout)

    def dist(self, y: torch.Tensor | None = None) -> torch.distributions.Distribution:
        """The flow's distribution: p(z), or p(z | y) with the one-hot label ``y`` as zuko's context."""
        if y is None:
            return self.flow(None)
        return self.flow(nn.functional.one_hot(y, self.num_classes).to(torch.float32))

    def class_probs(self) -> torch.Tensor:
        """p(y), (K,): the class frequencies of the training labels (uniform for a checkpoint that lacks them)."""
        k = self.num_classes
        if self.class_prior is None or len(self.class_prior) != k:
            return torch.full((k,), 1.0 / k, device=self.device)
        return torch.tensor(self.class_prior, dtype=torch.float32, device=self.device)

    def _logp(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        if self.num_classes and y is None:  # p(z) = sum_y p(y) p(z | y)
            k = self.num_classes
            labels = torch.arange(k, device=z.device).repeat_interleave(z.shape[0])
            lp = self.dist(labels).log_prob(z.repeat(k, 1)).reshape(k, -1)
            return torch.logsumexp(lp + torch.log(self.class_probs())[:, None], 0)
        return self.dist(y).log_prob(z)

    # ------------------------------------------------------------------ hooks
    def _fit(self, z, y, spec) -> None:
        if y is not None:
            counts = torch.bincount(y, minlength=self.num_classes).to(torch.float64)
            self.class_prior = (counts / counts.sum()).tolist()
        super()._fit(z, y, spec)

    def _sample(self, n, y, *, generator: torch.Generator) -> torch.Tensor:
        if self.num_classes and y is None:  # a label per sample from p(y)
            y = multinomial(self.class_probs(), n, generator, replacement=True)
        with torch.no_grad(), forked(seed_from(generator)):  # zuko's sample() takes no generator
            return self.dist().sample((n,)) if y is None else self.dist(y).sample()

    def _impute(self, z, mask, *, generator: torch.Generator, **opts) -> torch.Tensor:
        return langevin_fill(self._logp, z, mask, opts, generator)

    def extra_state(self) -> dict:
        return {**super().extra_state(), "class_prior": self.class_prior}

    def load_extra_state(self, state: dict) -> None:
        super().load_extra_state(state)
        self.class_prior = state.get("class_prior")


def _add_dropout(flow: nn.Module, p: float) -> None:
    """Insert ``nn.Dropout(p)`` after every hidden activation of zuko's conditioner MLPs (in place)."""
    for module in list(flow.modules()):
        for name, child in list(module.named_children()):
            if isinstance(child, (zuko.nn.MLP, zuko.nn.MaskedMLP)):
                layers: list[nn.Module] = []
                for layer in child:
                    layers.append(layer)
                    if not isinstance(layer, (nn.Linear, zuko.nn.Linear)):
                        layers.append(nn.Dropout(p))
                setattr(module, name, nn.Sequential(*layers))


@register
class RealNVP(ZukoFlow):
    """RealNVP: affine coupling layers (Dinh et al. 2017), via ``zuko.flows.RealNVP``."""

    name = "realnvp"
    Config = RealNVPConfig
    zuko_flow = zuko.flows.RealNVP

    def flow_kwargs(self) -> dict:
        return {"randmask": self.config.randperm}


@register
class MAF(ZukoFlow):
    """Masked autoregressive flow (Papamakarios et al. 2017), via ``zuko.flows.MAF``."""

    name = "maf"
    Config = MAFConfig
    zuko_flow = zuko.flows.MAF
    given_route = "rejection"  # sample(given=) on tables: closer than its impute (benchmarks/table_given.py)

    def flow_kwargs(self) -> dict:
        return {"randperm": self.config.randperm, "residual": self.config.residual}


@register
class NSF(ZukoFlow):
    """Neural spline flow with rational-quadratic splines (Durkan et al. 2019), via ``zuko.flows.NSF``."""

    name = "nsf"
    Config = NSFConfig
    zuko_flow = zuko.flows.NSF

    def flow_kwargs(self) -> dict:
        c = self.config
        return {"randperm": c.randperm, "residual": c.residual, "bins": c.bins, "passes": c.passes or None}
