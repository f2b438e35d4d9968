"""The model contract: one base class behind which every family lives.

A family subclasses :class:`GenerativeModel`, declares a ``Config`` dataclass (a subclass of
:class:`ModelConfig`) and a ``likelihood`` label, and implements hooks that work on flattened,
standardised data ``z`` of shape ``(N, D)``:

- ``build()``: create networks from ``self.config`` (called by ``__init__``);
- ``loss(z, y, *, generator) -> (N,)``: the per-sample training loss;
- ``_fit(z, y, spec)``: train; neural families usually just define ``loss(z, y) -> (N,)`` and keep
  the default, which runs the shared training loop (:func:`genlab.training.train`);
- ``_sample(n, y, *, generator, **opts) -> z``;  ``_log_prob(z, y, *, generator, **opts) -> (N,)`` (density of z);
- ``_impute(z, mask, *, generator, **opts) -> z`` (mask True = observed; observed entries of z are given).

Every hook gets ``generator``, a ``torch.Generator`` made from the caller's seed (:mod:`genlab.rng`); every random
draw takes it. Hooks run inside :func:`genlab.rng.forked` seeded from the same seed, for the few APIs that take no
generator (parameter initialisation, dropout, ``torch.distributions`` sampling).

The base class validates inputs, standardises/unstandardises, adds the Jacobian of the
standardisation to every log-density, seeds the random streams, and restores observed entries.

Devices (:mod:`genlab.device`): a model computes where its weights are, ``m.device`` (the CPU for a new model).
``fit``, ``sample``, ``log_prob``, ``grad_log_prob`` and ``impute`` take ``device=`` ("auto", "cpu", "cuda", "cuda:1",
"mps" or a ``torch.device``; None = stay where the model is): the model moves there and stays (as ``m.to(device)``
would). Hooks receive ``z``/``y``/``mask`` on that device and a generator that draws on the CPU and puts its draws
there (:func:`genlab.rng.make_generator` with ``target``), so a seed means the same on every device and results on
the CPU are those of a plain generator. Inputs may live anywhere; results always come back on the CPU (what every
caller of the contract, metrics and files, consumes). ``_fit`` gets the standardised data on the CPU: the training
loop moves each batch to the model's device (a classical family's own fit may run on the CPU; the model is moved
again afterwards).
"""

from genlab.config import ModelConfig, NeuralConfig
from genlab.model.contract import GenerativeModel
from genlab.model.family import LIKELIHOODS, ModelBase

__all__ = ["ModelConfig", "NeuralConfig", "GenerativeModel", "ModelBase", "LIKELIHOODS"]
