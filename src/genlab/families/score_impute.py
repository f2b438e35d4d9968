"""Imputation with a trained diffusion model by the replacement method (Song et al. 2021, Appendix I.2).

The unobserved entries are sampled by the model's reverse-time sampler while, after every step at noise level
t (or sigma), the observed entries are overwritten by a fresh forward-noised copy of their known values,

    x_t[obs] = alpha(t) x_obs + sigma(t) eps,    eps ~ N(0, I)     (in the sigma form: x_obs + sigma eps),

so the free entries follow (approximately) the conditional p(x_miss | x_obs); no retraining. For ``ncsn``'s
annealed Langevin dynamics the level is the ladder's sigma_i (alpha = 1). The sampler's ``callback`` gets the
current state after each step and edits it in place. The adaptive probability-flow ``ode`` sampler evaluates the
field at times it picks itself and cannot take the replacement, so it is refused; the deterministic sigma-form
samplers (euler, heun, ddim, dpmpp_2m) take it at every grid level.

``method="mean"`` (default) averages ``n_samples`` independent draws per row, a Monte-Carlo estimate of the
conditional mean E[x_miss | x_obs] (the minimum-RMSE fill); ``method="sample"`` returns one draw per row.
"""

from __future__ import annotations

import torch

from genlab.diffusion.parameterization import bcast
from genlab.errors import ConfigError
from genlab.rng import randn_like

__all__ = ["replacement_impute"]


def replacement_impute(model, z: torch.Tensor, mask: torch.Tensor, *, method: str = "mean", n_samples: int = 8,
                       sampler: str | None = None, steps: int | None = None, generator=None,
                       opts: dict | None = None) -> torch.Tensor:
    """Fill ``z`` (N, D) where ``mask`` (N, D) is False with a diffusion model's sampler (see the module docstring).

    ``model`` is a :class:`genlab.families.diffusion.DiffusionModel`; ``opts`` are passed to its sampler.
    """
    opts = dict(opts or {})
    if method not in ("mean", "sample"):
        raise ConfigError(f"impute method must be 'mean' or 'sample', got {method!r}")
    if isinstance(n_samples, bool) or not isinstance(n_samples, int) or n_samples < 1:
        raise ConfigError(f"n_samples must be a positive integer, got {n_samples!r}")
    spec = model._resolve_sampler(sampler, opts)
    if "adaptive" in spec.tags:
        raise ConfigError(f"impute needs a sampler with a fixed grid (the replacement method); '{spec.name}' is adaptive")
    k = n_samples if method == "mean" else 1
    obs = z.repeat_interleave(k, 0)
    keep = mask.repeat_interleave(k, 0)
    process = model._ladder() if spec.kind == "ladder" else model.sde

    def noised(level, kind: str) -> torch.Tensor:
        level = torch.as_tensor(level, dtype=obs.dtype)
        if kind == "sigma":
            alpha, sigma = torch.ones_like(level), level
        else:
            alpha, sigma = process.marginal_coeffs(level)
        return bcast(alpha, obs) * obs + bcast(sigma, obs) * randn_like(obs, generator)

    def init(kind: str, level, x: torch.Tensor) -> torch.Tensor:
        if kind == "sigma":
            return torch.where(keep, noised(level, "sigma"), x)
        top = getattr(process, "T", None)
        return torch.where(keep, noised(top if top is not None else process.sigma_max, kind), x)

    def replace(state: dict) -> None:
        x = state["x"]
        if "sigma" in state:
            x.copy_(torch.where(keep, noised(state["sigma"], "sigma"), x))
        else:
            x.copy_(torch.where(keep, noised(state["t"], spec.kind), x))

    out = model.run_sampler(len(obs), None, sampler=spec.name, steps=steps, callback=replace, init=init,
                            generator=generator, **opts)
    out = out.reshape(len(z), k, -1).mean(1)
    return torch.where(mask, z, out)
