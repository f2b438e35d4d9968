"""Checkpoints: a run directory with ``model.safetensors`` (tensors) and ``config.json`` (everything else).

Writes are atomic (temporary file in the same directory, then ``os.replace``). Loading never
unpickles anything and checks what it reads: foreign or truncated files, unknown model names,
shape mismatches and missing tensors raise :class:`CheckpointError`.
"""

from __future__ import annotations

import dataclasses
import json
import os
import tempfile
from pathlib import Path

import torch

from genlab.errors import CheckpointError, ConfigError

__all__ = ["save", "load", "read_config", "read_json", "WEIGHTS", "CONFIG", "FORMAT", "RAW_PREFIX"]

WEIGHTS = "model.safetensors"
CONFIG = "config.json"
FORMAT = "genlab-checkpoint/1"
RAW_PREFIX = "_raw."  # safetensors keys of the raw weights of a model trained with an EMA


def _atomic_write(path: Path, write) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def save(model, path) -> Path:
    """Save ``model`` into the directory ``path`` (created if needed)."""
    from safetensors.torch import save_file

    from genlab import __version__

    path = Path(path)
    if path.exists() and not path.is_dir():
        raise CheckpointError(f"cannot save into '{path}': it is a file, not a directory")
    path.mkdir(parents=True, exist_ok=True)
    tensors = {k: v.detach().cpu().contiguous().clone() for k, v in model.state_dict().items()}
    # the raw (un-averaged) weights of an EMA-trained model ride along under a prefix
    tensors.update({RAW_PREFIX + k: v.detach().cpu().contiguous().clone() for k, v in model.raw_weights.items()})
    meta = {
        "format": FORMAT,
        "genlab_version": __version__,
        "model": model.name,
        "shape": list(model.shape),
        "config": dataclasses.asdict(model.config),
        "likelihood": model.likelihood,
        "training_step": int(model.trained_steps),
        "normalization": {"mean": model.normalizer.mean.tolist(), "std": model.normalizer.std.tolist()},
        "extra": model.extra_state(),
    }
    _atomic_write(path / WEIGHTS, lambda tmp: save_file(tensors, tmp, metadata={"format": FORMAT, "model": model.name}))
    _atomic_write(path / CONFIG, lambda tmp: Path(tmp).write_text(json.dumps(meta, indent=2)))
    return path


def read_json(path, filename: str, fmt: str, what: str) -> dict:
    """Read ``path/filename``, a JSON object whose ``format`` is ``fmt``; CheckpointError naming ``what`` otherwise."""
    path = Path(path)
    if not path.exists():
        raise CheckpointError(f"no {what} at '{path}'")
    if not path.is_dir():
        raise CheckpointError(f"'{path}' is not a {what} directory (expected {filename} inside it)")
    file = path / filename
    if not file.is_file():
        raise CheckpointError(f"'{path}' has no {filename}: not a {what}")
    try:
        meta = json.loads(file.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise CheckpointError(f"{file} is not valid JSON ({exc.__class__.__name__})") from None
    if not isinstance(meta, dict) or meta.get("format") != fmt:
        raise CheckpointError(f"{file} is not a genlab {what} (format {fmt!r} expected)")
    return meta


def read_config(path) -> dict:
    """Read and check ``config.json`` of a run directory."""
    meta = read_json(path, CONFIG, FORMAT, "checkpoint")
    for key in ("model", "shape", "config"):
        if key not in meta:
            raise CheckpointError(f"{Path(path) / CONFIG} lacks '{key}'")
    return meta


def load(path, get_class, *, expect_model: str | None = None):
    """Load the run directory ``path``; ``get_class(name)`` maps a model name to its class."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    from genlab.registry import make_config

    path = Path(path)
    meta = read_config(path)
    name = meta["model"]
    if expect_model is not None and name != expect_model:
        raise CheckpointError(f"checkpoint holds model '{name}', not '{expect_model}'")
    try:
        cls = get_class(name)
        config = make_config(cls.Config, meta["config"], model=name)
    except ConfigError as exc:
        raise CheckpointError(f"checkpoint at '{path}' cannot be used: {exc}") from None
    model = cls(tuple(meta["shape"]), config)
    model.load_extra_state(meta.get("extra", {}))
    weights = path / WEIGHTS
    if not weights.is_file():
        raise CheckpointError(f"'{path}' has no {WEIGHTS}")
    try:
        tensors = load_file(str(weights))
    except (SafetensorError, OSError, ValueError, RuntimeError) as exc:
        raise CheckpointError(f"{weights} is not a readable safetensors file (truncated or foreign): {exc}") from None
    _assign(model, tensors, weights)
    model.trained_steps = int(meta.get("training_step", 0))
    model.fitted = True
    model.eval()
    return model


def _assign(model, tensors: dict[str, torch.Tensor], where: Path) -> None:
    raw = {k[len(RAW_PREFIX):]: v for k, v in tensors.items() if k.startswith(RAW_PREFIX)}
    tensors = {k: v for k, v in tensors.items() if not k.startswith(RAW_PREFIX)}
    names = dict(model.named_parameters())
    if set(raw) - set(names):
        raise CheckpointError(f"{where}: raw weights {sorted(set(raw) - set(names))[:5]} match no parameter")
    model.raw_weights = raw
    expected = model.state_dict()
    missing = sorted(set(expected) - set(tensors))
    unexpected = sorted(set(tensors) - set(expected))
    if missing or unexpected:
        raise CheckpointError(
            f"{where} does not match model '{model.name}': missing {missing[:5]}, unexpected {unexpected[:5]}"
        )
    params = dict(model.named_parameters())
    with torch.no_grad():
        for key, value in tensors.items():
            if key in params:
                if params[key].shape != value.shape:
                    raise CheckpointError(
                        f"{where}: tensor '{key}' has shape {tuple(value.shape)}, model expects {tuple(params[key].shape)}"
                    )
                params[key].copy_(value)
            else:  # a buffer: its size may depend on the data (e.g. a GMM's components)
                owner_name, _, attr = key.rpartition(".")
                owner = model.get_submodule(owner_name) if owner_name else model
                current = getattr(owner, attr)
                if current.shape != value.shape and current.numel() > 0 and not getattr(owner, "_resizable_buffers", False):
                    raise CheckpointError(
                        f"{where}: tensor '{key}' has shape {tuple(value.shape)}, model expects {tuple(current.shape)}"
                    )
                setattr(owner, attr, value.to(current.dtype))
