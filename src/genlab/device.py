"""Where a model computes: device names and the optional bfloat16 autocast.

:func:`resolve_device` turns what a caller writes (``"auto"``, ``"cpu"``, ``"cuda"``, ``"cuda:1"``, ``"mps"`` or a
``torch.device``) into a ``torch.device`` that exists on this machine, and raises a one-line
:class:`~genlab.errors.ConfigError` for one that does not (``"auto"`` picks CUDA, else MPS, else the CPU).

:func:`autocast` is the context of mixed precision: ``precision="bf16"`` runs the forward passes under
``torch.autocast(device_type, dtype=torch.bfloat16)`` (matrix products and convolutions in bfloat16, reductions
and the rest in float32; Micikevicius et al. 2018, "Mixed precision training"). bfloat16 has float32's exponent
range, so no loss scaling is needed. It is offered on CUDA and on the CPU (where torch supports it, mainly for
testing); on MPS it is a ConfigError.
"""

from __future__ import annotations

import contextlib

import torch

from genlab.errors import ConfigError

__all__ = ["resolve_device", "autocast", "PRECISIONS", "check_precision"]

PRECISIONS = ("fp32", "bf16")


def _mps_available() -> bool:
    mps = getattr(torch.backends, "mps", None)
    return bool(mps is not None and mps.is_available())


def resolve_device(device) -> torch.device:
    """The ``torch.device`` named by ``device`` ("auto" | "cpu" | "cuda[:i]" | "mps" | torch.device); ConfigError
    when it is malformed or not available here."""
    if isinstance(device, str) and device.strip().lower() == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda", torch.cuda.current_device())
        return torch.device("mps") if _mps_available() else torch.device("cpu")
    if not isinstance(device, (str, torch.device)):
        raise ConfigError(f"device must be 'auto', 'cpu', 'cuda', 'cuda:N', 'mps' or a torch.device, got {device!r}")
    try:
        dev = torch.device(device.strip().lower() if isinstance(device, str) else device)
    except (RuntimeError, ValueError):
        raise ConfigError(f"unknown device {device!r}; use 'auto', 'cpu', 'cuda', 'cuda:N' or 'mps'") from None
    if dev.type == "cpu":
        return torch.device("cpu")
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            why = "torch built without CUDA" if torch.version.cuda is None else "no CUDA device found"
            raise ConfigError(f"device '{device}' is not available on this machine ({why})")
        count = torch.cuda.device_count()
        index = torch.cuda.current_device() if dev.index is None else dev.index
        if index >= count:
            raise ConfigError(f"device '{device}' is not available on this machine (it has {count} CUDA "
                              f"device{'s' if count != 1 else ''})")
        return torch.device("cuda", index)
    if dev.type == "mps":
        if not _mps_available():
            raise ConfigError(f"device '{device}' is not available on this machine (no Apple MPS backend)")
        return torch.device("mps")
    raise ConfigError(f"device '{device}' is not supported; use 'auto', 'cpu', 'cuda', 'cuda:N' or 'mps'")


def check_precision(precision, device: torch.device) -> str:
    """``precision`` ("fp32" | "bf16") after checking it can run on ``device`` (ConfigError otherwise)."""
    if precision not in PRECISIONS:
        raise ConfigError(f"precision must be one of {', '.join(map(repr, PRECISIONS))}, got {precision!r}")
    if precision == "bf16" and device.type not in ("cuda", "cpu"):
        raise ConfigError(f"precision 'bf16' needs a CUDA device (or the CPU); device '{device}' does not offer it")
    if precision == "bf16" and device.type == "cuda" and not torch.cuda.is_bf16_supported():
        raise ConfigError(f"precision 'bf16' is not supported by the GPU of device '{device}'")
    return precision


def autocast(device: torch.device, precision: str = "fp32"):
    """The context for forward passes at ``precision`` on ``device``: a bfloat16 ``torch.autocast`` for "bf16",
    nothing for "fp32"."""
    if precision == "bf16":
        return torch.autocast(device.type, dtype=torch.bfloat16)
    return contextlib.nullcontext()
