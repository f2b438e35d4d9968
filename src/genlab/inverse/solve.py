"""``solve(model, y, operator)``: restore images from linear observations y = A x with any diffusion-type model, no
retraining (the replacement method of Song et al. 2021, App. I, for orthonormal operators as in Kawar et al. 2022;
RePaint, Lugmayr et al. 2022, for deterministic flows).

The methods need isotropic forward noise in the space where the operator has orthonormal rows. genlab's models work
on standardised data z = (x - m) / s with a *per-dimension* s (:class:`genlab.data.transforms.Standardizer`), so
the operator is carried into the model's units: A x = y is A (S z + m) = y, and for an operator whose rows have
disjoint supports (all of :mod:`genlab.inverse.linear`) the rows of A S are orthogonal with squared norms
d = diag(A S^2 A^T) = A (A^T 1 * s^2), so

    B = d^{-1/2} A S  (orthonormal rows),   B z = d^{-1/2} (y - A m) =: b

describes the same set of images exactly. The replacement method then runs in z with B and b (for a scalar s this
is A itself; for a mask, the observed entries). An operator whose rows overlap cannot be carried this way and is
refused with a ConfigError (as is one without orthonormal rows).
"""

from __future__ import annotations

import math

import torch

from genlab import registry
from genlab.checks import positive_int
from genlab.data.validate import as_tensor
from genlab.errors import ConfigError
from genlab.inverse.flows import repaint_sample
from genlab.inverse.replacement import Constraint, replacement_sample
from genlab.rng import derive_seed, forked, make_generator, randn

__all__ = ["solve", "denoiser_models"]

ALGORITHMS = ("replacement", "repaint")
REPAINT_OPTIONS = frozenset({"jumps", "schedule"})


def denoiser_models() -> list[str]:
    """Names of the registered models that have the denoiser contract (those :func:`solve` serves)."""
    return registry.MODELS.names(where=lambda cls: callable(getattr(cls, "run_sampler", None)))


def _check(model, operator) -> None:
    if not (callable(getattr(model, "denoiser", None)) and callable(getattr(model, "run_sampler", None))):
        raise ConfigError(f"solve needs a model with a denoiser ({', '.join(denoiser_models())}); "
                          f"'{getattr(model, 'name', type(model).__name__)}' has none")
    if not all(callable(getattr(operator, a, None)) for a in ("observe", "lift", "observed_shape")):
        raise ConfigError(f"operator must have observe, lift and observed_shape (genlab.inverse.Inpaint, Colorize, "
                          f"SuperResolve), got {type(operator).__name__}")


def _close(a: torch.Tensor, b: torch.Tensor) -> bool:
    return a.shape == b.shape and bool(torch.allclose(a, b, rtol=1e-4, atol=1e-4))


def _model_space(model, operator, y: torch.Tensor, obs_shape, repeats: int, generator):
    """The constraint in the model's flat standardised units (see the module docstring) and the map back to data."""
    shape, n, r = model.shape, len(y), math.prod(obs_shape)
    mean, std = model.normalizer.mean, model.normalizer.std
    shift = 0.5 if model.dequantized else 0.0  # a dequantized model reads integer levels at their cell centres

    def A(v):
        return operator.observe(v.reshape(-1, *shape)).reshape(len(v), -1)

    def At(w):
        return operator.lift(w.reshape(-1, *obs_shape)).reshape(len(w), -1)

    name = getattr(operator, "name", type(operator).__name__)
    probe = randn((4, r), generator)
    if not _close(A(At(probe)), probe):
        raise ConfigError(f"operator '{name}' does not have orthonormal rows (A A^T != I)")
    root = A(At(torch.ones(1, r, device=std.device)) * std**2).sqrt()  # diag(A S^2 A^T)^(1/2), rows with disjoint supports

    def B(v):
        return A(v * std) / root

    def Bt(w):
        return At(w / root) * std

    if not _close(B(Bt(probe)), probe):
        raise ConfigError(f"operator '{name}' has overlapping rows: it cannot be carried into the model's "
                          "per-dimension standardised units (use normalize=False or an operator with disjoint rows)")
    b = (y.reshape(n, r).to(std.device) + shift * A(torch.ones(1, model.dim, device=std.device)) - A(mean[None])) / root
    constraint = Constraint(lambda v: Bt(B(v)), Bt(b).repeat_interleave(repeats, 0))
    return constraint, lambda z: (z * std + mean - shift).reshape(n, *shape).cpu()


def solve(model, y, operator, *, sampler: str | None = None, steps: int | None = None, n_samples: int = 1,
          seed: int | None = None, algorithm: str | None = None, **options) -> torch.Tensor:
    """Images x (N, *model.shape), in data units, with ``operator.observe(x) == y`` for observations ``y``
    (N, *operator.observed_shape(model.shape)), the rest drawn from the model's conditional.

    ``model``: any fitted diffusion-type model (:func:`denoiser_models`). ``operator``: one of
    :mod:`genlab.inverse.linear` (orthonormal rows). ``n_samples`` = 1 gives one posterior draw per row; more give the
    mean of that many draws, a Monte-Carlo estimate of E[x | A x = y] (the minimum-RMSE restoration).
    ``algorithm``: ``"replacement"`` (the model's sampler, ``sampler``, ``steps`` and sampler ``options``) or
    ``"repaint"`` (``steps`` grid levels, default 32; options ``jumps`` (default 8) and ``schedule``); default: the
    model's ``inverse_algorithm`` (RePaint for flow_matching and rectified_flow, replacement otherwise). Every random
    draw comes from ``seed``; the global RNG is neither read nor changed.
    """
    _check(model, operator)
    algorithm = algorithm or getattr(model, "inverse_algorithm", "replacement")
    if algorithm not in ALGORITHMS:
        raise ConfigError(f"solve algorithm must be one of {', '.join(ALGORITHMS)}, got {algorithm!r}")
    if algorithm == "repaint" and (sampler is not None or set(options) - REPAINT_OPTIONS):
        extra = sorted(set(options) - REPAINT_OPTIONS) + (["sampler"] if sampler is not None else [])
        raise ConfigError(f"algorithm 'repaint' takes steps, jumps and schedule, not {', '.join(extra)}")
    k = positive_int("n_samples", n_samples)
    model._check_fitted("solve")
    obs_shape = tuple(operator.observed_shape(model.shape))
    y = as_tensor(y, obs_shape, what="observations y")
    seed = derive_seed(seed)
    with forked(seed), torch.no_grad():
        model.eval()
        g = make_generator(seed, target=model.device)  # draws land where the model computes (CPU or CUDA)
        constraint, to_data = _model_space(model, operator, y, obs_shape, k, g)
        if algorithm == "replacement":
            z = replacement_sample(model, constraint, sampler=sampler, steps=steps, generator=g, opts=options)
        else:
            z = repaint_sample(model, constraint, steps=steps, generator=g, **options)
    return to_data(z.reshape(len(y), k, -1).mean(1))
