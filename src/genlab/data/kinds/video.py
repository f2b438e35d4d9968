"""The ``video`` kind: clips (N, T, C, H, W) as float32 tensors, and clip files through imageio.

The encoder is the identity with a shape check (frames, channels, height, width fixed by the training clips), like
images per frame; values are intensities in [0, 1], and ``decode`` clips to that range. :func:`read_video` and
:func:`write_video` read and write GIF / MP4 files (imageio; MP4 needs its ffmpeg plugin) as (T, C, H, W) arrays.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import ClassVar

import numpy as np
import torch

from genlab.data.kinds.arrays import VectorEncoder
from genlab.errors import DataError

__all__ = ["VideoEncoder", "read_video", "write_video", "VIDEO_SUFFIXES"]

VIDEO_SUFFIXES = (".gif", ".mp4")


class VideoEncoder(VectorEncoder):
    """Clips (N, T, C, H, W) of intensities in [0, 1]."""

    kind: ClassVar[str] = "video"

    def fit(self, values) -> VideoEncoder:
        super().fit(values)
        if len(self._shape) != 4:
            raise DataError(f"videos must have shape (N, T, C, H, W), got {tuple(torch.as_tensor(values).shape)}")
        return self

    def encode(self, values) -> torch.Tensor:
        x = torch.as_tensor(values, dtype=torch.float32)
        if x.ndim == 4:  # one clip
            x = x[None]
        if tuple(x.shape[2:]) != self.shape[1:]:
            raise DataError(f"frames of shape {tuple(x.shape[2:])} do not match the run's {self.shape[1:]} (C, H, W)")
        return x

    def decode(self, x: torch.Tensor) -> torch.Tensor:
        return torch.as_tensor(x).clamp(0, 1)


def read_video(path) -> np.ndarray:
    """A clip (T, C, H, W) float32 in [0, 1] from a GIF or MP4 file; an unreadable file is a one-line DataError."""
    import imageio.v3 as iio

    p = Path(os.fspath(path))
    if p.suffix.lower() not in VIDEO_SUFFIXES:
        raise DataError(f"{p}: a video must be one of {', '.join(VIDEO_SUFFIXES)}")
    try:
        frames = np.asarray(iio.imread(p, index=None))
    except Exception as exc:  # noqa: BLE001 - imageio raises many kinds; the user needs one line
        raise DataError(f"could not read {p} as a video: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}"
                        ) from None
    if frames.ndim == 3:  # (T, H, W) grey
        frames = frames[..., None]
    if frames.ndim != 4:
        raise DataError(f"{p}: expected frames (T, H, W, C), got shape {frames.shape}")
    scale = 255.0 if frames.dtype == np.uint8 else 1.0
    return (frames.transpose(0, 3, 1, 2) / scale).astype(np.float32)


def write_video(clip, path, *, fps: int = 8) -> None:
    """Write a clip (T, C, H, W) in [0, 1] as a GIF (or MP4) file."""
    import imageio.v3 as iio

    p = Path(os.fspath(path))
    x = np.clip(np.asarray(torch.as_tensor(clip).detach().cpu()), 0, 1)
    if x.ndim != 4:
        raise DataError(f"a clip must be (T, C, H, W), got shape {x.shape}")
    frames = (x.transpose(0, 2, 3, 1) * 255).round().astype(np.uint8)
    if frames.shape[-1] == 1:
        frames = np.repeat(frames, 3, -1)
    p.parent.mkdir(parents=True, exist_ok=True)
    kwargs = {"duration": 1000 / fps, "loop": 0} if p.suffix.lower() == ".gif" else {"fps": fps}
    iio.imwrite(p, frames, **kwargs)
