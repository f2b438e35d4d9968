"""The score-based core: SDEs, the NCSN noise ladder, denoising score-matching losses, samplers and the
probability-flow likelihood. Works on plain callables ``score_fn(x, t)`` and tensors; knows no models."""

from genlab.diffusion.ladder import NoiseLadder, geometric_sigmas
from genlab.diffusion.likelihood import LikelihoodResult, ode_log_likelihood
from genlab.diffusion.losses import dsm_loss, ncsn_loss
from genlab.diffusion.samplers import (
    SAMPLERS,
    CountingScore,
    ald,
    default_snr,
    euler_maruyama,
    get_sampler,
    langevin,
    ode,
    pc,
    reverse_diffusion,
    tweedie_denoise,
)
from genlab.diffusion.sde import SDE, VESDE, VPSDE, Marginal, ReverseSDE, SubVPSDE, sigma_max_from_data

__all__ = [
    "SDE", "VESDE", "VPSDE", "SubVPSDE", "Marginal", "ReverseSDE", "sigma_max_from_data",
    "NoiseLadder", "geometric_sigmas",
    "dsm_loss", "ncsn_loss",
    "SAMPLERS", "get_sampler", "CountingScore", "euler_maruyama", "reverse_diffusion", "pc", "ode", "ald",
    "langevin", "tweedie_denoise", "default_snr",
    "LikelihoodResult", "ode_log_likelihood",
]
