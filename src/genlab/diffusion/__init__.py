"""The diffusion core: noise processes (SDEs, the NCSN ladder), losses, parameterization conversions, noise grids,
samplers and the probability-flow likelihood. Works on plain callables and tensors; knows no models."""

from genlab.diffusion.ladder import NoiseLadder, geometric_sigmas
from genlab.diffusion.likelihood import (
    LikelihoodResult,
    flow_log_likelihood,
    gaussian_logp,
    ode_log_likelihood,
    sigma_log_likelihood,
)
from genlab.diffusion.losses import dsm_loss, ncsn_loss
from genlab.diffusion.samplers import (
    SAMPLERS,
    CountingScore,
    Sampler,
    ald,
    ddim,
    default_snr,
    dpmpp_2m,
    euler,
    euler_maruyama,
    get_sampler,
    heun,
    langevin,
    ode,
    pc,
    reverse_diffusion,
    sampler_names,
    tweedie_denoise,
)
from genlab.diffusion.schedules import karras_sigmas, log_snr_sigmas, make_sigmas, vp_sigmas
from genlab.diffusion.sde import SDE, VESDE, VPSDE, Marginal, ReverseSDE, SubVPSDE, sigma_max_from_data
from genlab.diffusion.sliced import LADDER_LOSSES, ladder_loss, ncsn_ssm_loss, ssm_loss

__all__ = [
    "SDE", "VESDE", "VPSDE", "SubVPSDE", "Marginal", "ReverseSDE", "sigma_max_from_data",
    "NoiseLadder", "geometric_sigmas",
    "dsm_loss", "ncsn_loss", "ssm_loss", "ncsn_ssm_loss", "LADDER_LOSSES", "ladder_loss",
    "SAMPLERS", "Sampler", "get_sampler", "sampler_names", "CountingScore", "euler_maruyama", "reverse_diffusion",
    "pc", "ode", "ald", "langevin", "euler", "heun", "ddim", "dpmpp_2m", "tweedie_denoise", "default_snr",
    "karras_sigmas", "log_snr_sigmas", "vp_sigmas", "make_sigmas",
    "LikelihoodResult", "flow_log_likelihood", "ode_log_likelihood", "sigma_log_likelihood", "gaussian_logp",
]
