"""``edm_frames``: EDM (Karras et al. 2022) over clips, trained to continue their first ``given_frames`` frames
(trained frame conditioning, issue 28; :mod:`genlab.apps.video` holds the helpers and the comparison with imputation along
time).

The given frames enter the network clean and in place (noise level 0 there, scaled by 1 / sigma_data, EDM's c_in at
sigma = 0) with an extra input channel that marks them (``video_dit``'s ``given_frames``), and carry no loss: EDM's weighted loss is averaged over the other frames
only, so the network learns p(rest | given) (the continuation of video diffusion models conditioned on context
frames, e.g. Ho et al. 2022, "Video Diffusion Models", Sec. 3.1; Kang et al. 2024 condition on 3 frames). Sampling
(``impute`` with the mask of the given frames) sets the given frames to their values in the first state and after
every sampler step. Unconditional ``sample`` is refused.

The name is registered when this module is imported (``import genlab.apps.video`` does; so do ``genlab sample`` and
``genlab eval``), not by :mod:`genlab.families`: the registry-wide tests have no video data set of test size yet.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch

from genlab.checks import one_of, require
from genlab.diffusion.levels import grouped_normal
from genlab.diffusion.parameterization import bcast
from genlab.errors import ConfigError
from genlab.families.edm import EDM, EDMConfig
from genlab.registry import bounded, register
from genlab.rng import randn_like

__all__ = ["FramesEDM", "FramesEDMConfig"]


@dataclass
class FramesEDMConfig(EDMConfig):
    backbone: str = "video_dit"
    given_frames: int = bounded(3, ge=1)  # the first k frames are given clean (and marked) in training and sampling
    normalize: bool = False  # intensities in [0, 1] as they are (per-pixel statistics blow up rarely visited pixels)
    sigma_data: float = 0.25  # about the intensities' standard deviation
    patience: int = 0
    noise_floor: float = 0.0


@register
class FramesEDM(EDM):
    """EDM over clips trained to continue the first ``given_frames`` frames (see the module docstring)."""

    name = "edm_frames"
    Config = FramesEDMConfig
    conditional = False  # the given frames are its condition; no labels
    kinds: ClassVar[tuple[str, ...]] = ("video",)
    smoke: ClassVar[dict] = {"fit": {"steps": 5}, "impute": {"steps": 4}}

    def build(self) -> None:
        c = self.config
        require(len(self.shape) == 4 and c.given_frames < self.shape[0], "edm_frames continues clips (T, C, H, W) "
                f"from given_frames in [1, T - 1]; got shape {self.shape} and given_frames={c.given_frames}")
        c.backbone_options = {**c.backbone_options, "given_frames": c.given_frames}
        super().build()

    def _given(self, z: torch.Tensor) -> torch.Tensor:
        """Flat mask (N, D) of the given frames (True)."""
        per_frame = self.dim // self.shape[0]
        mask = torch.arange(self.dim, device=z.device) < self.config.given_frames * per_frame
        return mask.expand(len(z), -1)

    def _denoise(self, x, sigma, y):
        """EDM's preconditioned denoiser, with the given frames (clean) scaled by c_in at sigma = 0, 1 / sigma_data,
        instead of the level's c_in (which would shrink them toward 0 at high noise)."""
        c_skip, c_out, c_in, c_noise = self.preconditioning(sigma.to(x.dtype))
        inputs = torch.where(self._given(x), x / self.config.sigma_data, bcast(c_in, x) * x)
        f = self.net(inputs, c_noise, y=self._net_labels(y, len(x)))
        return bcast(c_skip, x) * x + bcast(c_out, x) * f

    def loss(self, z, y, *, generator) -> torch.Tensor:
        """EDM's weighted loss on the frames after the given ones; the given frames enter clean."""
        c = self.config
        sigma = torch.exp(c.P_mean + c.P_std * grouped_normal(len(z), c.noise_groups, generator, dtype=z.dtype))
        weight = (sigma**2 + c.sigma_data**2) / (sigma * c.sigma_data) ** 2
        given = self._given(z)
        noisy = torch.where(given, z, z + bcast(sigma, z) * randn_like(z, generator))
        d = self._denoise(noisy, sigma, self._drop_labels(y, generator))
        free = (~given).to(z.dtype)
        return weight * ((d - z).pow(2) * free).sum(1) / free.sum(1)

    def _sample(self, n, y, **opts):
        raise ConfigError("edm_frames continues clips: give the first frames (genlab.apps.video.continue_clips, "
                          "model.impute, or genlab sample RUN --given-frames K --input CLIP)")

    def _impute(self, z, mask, *, generator, fill="sample", sampler=None, steps=None, **opts):
        given = self._given(z)
        require(torch.equal(mask, given), f"edm_frames imputes exactly the frames after the first "
                                          f"{self.config.given_frames}")
        one_of("edm_frames draws continuations: fill", fill, ("sample",))

        def keep(state: dict) -> None:
            state["x"].copy_(torch.where(given, z, state["x"]))

        out = self.run_sampler(len(z), None, sampler=sampler, steps=steps, generator=generator,
                               init=lambda kind, level, x: torch.where(given, z, x), callback=keep, **opts)
        return torch.where(given, z, out)
