"""Imputation with a trained score model by the replacement method (Song et al. 2021, Appendix I.2).

The unobserved entries are sampled by the model's reverse-time sampler while, after every step at noise level
t, the observed entries are overwritten by a fresh forward-noised copy of their known values,

    x_t[obs] = alpha(t) x_obs + sigma(t) eps,    eps ~ N(0, I),

so the free entries follow (approximately) the conditional p(x_miss | x_obs); no retraining. For ``ncsn``'s
annealed Langevin dynamics the level is the ladder's sigma_i (alpha = 1). The sampler's ``callback`` gets the
current state after each step and edits it in place. The probability-flow ``ode`` sampler is deterministic
and cannot take the replacement, so it is refused.

``method="mean"`` (default) averages ``n_samples`` independent draws per row, a Monte-Carlo estimate of the
conditional mean E[x_miss | x_obs] (the minimum-RMSE fill); ``method="sample"`` returns one draw per row.
"""

from __future__ import annotations

import torch

from genlab.diffusion.sde import _bcast
from genlab.errors import ConfigError

__all__ = ["replacement_impute"]


def replacement_impute(model, z: torch.Tensor, mask: torch.Tensor, *, method: str = "mean", n_samples: int = 8,
                       sampler: str | None = None, steps: int | None = None, opts: dict | None = None) -> torch.Tensor:
    """Fill ``z`` (N, D) where ``mask`` (N, D) is False with a score model's sampler (see the module docstring).

    ``model`` is a :class:`genlab.families.score.ScoreModel`; ``opts`` are passed to its sampler.
    """
    opts = dict(opts or {})
    if method not in ("mean", "sample"):
        raise ConfigError(f"impute method must be 'mean' or 'sample', got {method!r}")
    if isinstance(n_samples, bool) or not isinstance(n_samples, int) or n_samples < 1:
        raise ConfigError(f"n_samples must be a positive integer, got {n_samples!r}")
    name, _ = model._sampler(sampler, opts)
    if name == "ode":
        raise ConfigError("impute needs a stochastic sampler (the replacement method); 'ode' cannot be used")
    process = model._process(name)
    k = n_samples if method == "mean" else 1
    obs = z.repeat_interleave(k, 0)
    keep = mask.repeat_interleave(k, 0)

    def noised(level) -> torch.Tensor:
        alpha, sigma = process.marginal_coeffs(torch.as_tensor(level, dtype=obs.dtype))
        return _bcast(alpha, obs) * obs + _bcast(sigma, obs) * torch.randn_like(obs)

    def init(_process, x: torch.Tensor) -> torch.Tensor:
        top = getattr(process, "T", None)
        return torch.where(keep, noised(top if top is not None else process.sigma_max), x)

    def replace(state: dict) -> None:
        x = state["x"]
        x.copy_(torch.where(keep, noised(state["t"]), x))

    out = model.run_sampler(len(obs), None, sampler=name, steps=steps, callback=replace, init=init, **opts)
    out = out.reshape(len(z), k, -1).mean(1)
    return torch.where(mask, z, out)
