"""Linear inverse problems with a diffusion model by the replacement method (Song et al. 2021, "Score-Based Generative
Modeling through SDEs", Appendix I.2 for imputation, I.4 for colorization in an orthogonal basis).

The model's state x (flat, in its standardised units) is constrained to the affine set {x : A x = b}, A with
orthonormal rows (A A^T = I). The forward noise is isotropic, so the observed component A x_t of a noised sample is
alpha(t) b + sigma(t) eps' with eps' ~ N(0, I) in observation space, independent of the free component. After every
sampler step at level t (or sigma) the observed component is overwritten by such a fresh draw:

    x <- x - A^T A x + A^T (alpha b + sigma A eps),   eps ~ N(0, I_D)   (A eps ~ N(0, I) since A A^T = I),

and the free part (I - A^T A) x follows (approximately) the conditional p(x_free | A x = b); no retraining. For a
boolean mask A selects the observed entries and this is the familiar x[obs] = alpha x_obs + sigma eps. A
:class:`Constraint` carries the projector P = A^T A and the lifted observation A^T b, so imputation with per-row masks
(:func:`replacement_impute`), the operators of :mod:`genlab.inverse.linear` (:func:`genlab.inverse.solve`) and RePaint
(:mod:`genlab.inverse.flows`) share the one step :meth:`Constraint.renoise`.

For ``ncsn``'s annealed Langevin dynamics the level is the ladder's sigma_i (alpha = 1). The sampler's ``callback``
gets the current state after each step and edits it in place. The adaptive probability-flow ``ode`` sampler evaluates
the field at times it picks itself and cannot take the replacement, so it is refused; the deterministic sigma-form
samplers (euler, heun, ddim, dpmpp_2m) take it at every grid level.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

from genlab.checks import one_of, positive_int
from genlab.diffusion.parameterization import bcast
from genlab.errors import ConfigError
from genlab.rng import randn_like

__all__ = ["Constraint", "replacement_sample", "replacement_impute", "INVERSE_SCHEDULE"]


@dataclass(frozen=True, eq=False)
class Constraint:
    """The set {x : A x = b} for rows x (M, D): ``project(x)`` = A^T A x and ``lifted`` = A^T b (M, D)."""

    project: Callable[[torch.Tensor], torch.Tensor]
    lifted: torch.Tensor

    @classmethod
    def masked(cls, z: torch.Tensor, mask: torch.Tensor, repeats: int = 1) -> Constraint:
        """Entries of ``z`` (N, D) observed where ``mask`` (N, D) is True, each row repeated ``repeats`` times."""
        keep = mask.repeat_interleave(repeats, 0)
        zero = torch.zeros((), dtype=z.dtype)
        return cls(lambda x: torch.where(keep, x, zero), torch.where(keep, z.repeat_interleave(repeats, 0), zero))

    def renoise(self, x: torch.Tensor, alpha, sigma, generator) -> torch.Tensor:
        """x with its observed component replaced by alpha b + sigma A eps (see the module docstring)."""
        alpha = torch.as_tensor(alpha, dtype=x.dtype)
        sigma = torch.as_tensor(sigma, dtype=x.dtype)
        eps = randn_like(x, generator)
        return x - self.project(x) + bcast(alpha, x) * self.lifted + bcast(sigma, x) * self.project(eps)

    def exact(self, x: torch.Tensor) -> torch.Tensor:
        """x with its observed component set to b exactly: x - A^T A x + A^T b."""
        return x - self.project(x) + self.lifted


# The sigma grid of every inverse-problem sampler (replacement and RePaint) unless the caller names one: Karras' grid,
# dense at small sigma. With it vp_sde's replacement imputation of breast_cancer had RMSE 0.505, on the flow-time grid
# 0.571 (benchmarks/results/flow_impute.json, flow_impute_flowtime_grid.json; docs/notes/2026-11-25.md, third
# session); every inverse-problem figure was measured on it.
INVERSE_SCHEDULE = "karras"


def replacement_sample(model, constraint: Constraint, *, sampler: str | None = None, steps: int | None = None,
                       generator, opts: dict | None = None) -> torch.Tensor:
    """One draw (M, D) per row of ``constraint.lifted`` from ``model``'s sampler with the replacement step.

    ``model`` is a :class:`genlab.families.diffusion.DiffusionModel`; ``opts`` are passed to its sampler. The result
    satisfies the constraint exactly (its observed component is b).
    """
    opts = dict(opts or {})
    spec = model._resolve_sampler(sampler, opts)
    if "adaptive" in spec.tags:
        raise ConfigError(f"the replacement method needs a sampler with a fixed grid; '{spec.name}' is adaptive")
    if spec.kind == "sigma":
        opts.setdefault("schedule", INVERSE_SCHEDULE)
    process = model._ladder() if spec.kind == "ladder" else model.sde

    def coeffs(level, kind: str):
        level = torch.as_tensor(level, dtype=constraint.lifted.dtype)
        return (torch.ones_like(level), level) if kind == "sigma" else process.marginal_coeffs(level)

    def init(kind: str, level, x: torch.Tensor) -> torch.Tensor:
        if kind != "sigma":
            top = getattr(process, "T", None)
            level = top if top is not None else process.sigma_max
        return constraint.renoise(x, *coeffs(level, kind), generator)

    def replace(state: dict) -> None:
        kind, level = ("sigma", state["sigma"]) if "sigma" in state else (spec.kind, state["t"])
        state["x"].copy_(constraint.renoise(state["x"], *coeffs(level, kind), generator))

    out = model.run_sampler(len(constraint.lifted), None, sampler=spec.name, steps=steps, callback=replace, init=init,
                            generator=generator, **opts)
    return constraint.exact(out)


def replacement_impute(model, z: torch.Tensor, mask: torch.Tensor, *, fill: str = "mean", n_samples: int = 8,
                       sampler: str | None = None, steps: int | None = None, generator,
                       opts: dict | None = None) -> torch.Tensor:
    """Fill ``z`` (N, D) where ``mask`` (N, D) is False (the hook behind ``DiffusionModel.impute``).

    ``fill="mean"`` (default) averages ``n_samples`` independent draws per row, a Monte-Carlo estimate of the
    conditional mean E[x_miss | x_obs] (the minimum-RMSE fill); ``fill="sample"`` returns one draw per row.
    """
    one_of("impute fill", fill, ("mean", "sample"))
    n_samples = positive_int("n_samples", n_samples)
    k = n_samples if fill == "mean" else 1
    out = replacement_sample(model, Constraint.masked(z, mask, k), sampler=sampler, steps=steps, generator=generator,
                             opts=opts)
    return torch.where(mask, z, out.reshape(len(z), k, -1).mean(1))
