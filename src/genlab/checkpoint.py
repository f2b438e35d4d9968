"""Checkpoints: a run directory with ``model.safetensors`` (tensors) and ``config.json`` (everything else).

Files are committed together under a manifest of names and SHA-256 hashes (:mod:`genlab.manifest`), so a kill at
any point leaves either the old or the new checkpoint. Loading never unpickles anything and checks everything it
reads: foreign, truncated or modified files, unknown model names, every field of ``config.json`` (types, shapes),
every tensor (names, shapes, dtypes, finite parameters, a positive normalisation std) and the format version
(``version``; a checkpoint without one is version 1, one newer than :data:`VERSION` is refused) raise
:class:`CheckpointError`. Directories written before manifests existed still load.
"""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path

import torch

from genlab.errors import CheckpointError, ConfigError
from genlab.manifest import commit, resolve, sha256
from genlab.registry import RENAMED_FIELDS

__all__ = ["save", "load", "model_files", "read_config", "read_json", "read_file", "verify", "WEIGHTS", "CONFIG", "FORMAT",
           "RAW_PREFIX", "VERSION", "LEGACY_CONFIG", "LEGACY_NAMES", "upgrade_config"]

WEIGHTS = "model.safetensors"
CONFIG = "config.json"
FORMAT = "genlab-checkpoint/1"
VERSION = 7  # 1: no manifest, no version field; 2: manifest, version field, "fitted"; 3: the MLP's "conditioning";
# 4: the diffusion losses' "noise_groups"; 5: the diffusion samplers' "sample_start" (and its buffers); 6: the
# diffusion likelihood's "noise_floor" and "floor_level_shift" (genlab.families._floor); 7: one name per meaning
# (config fields renamed, LEGACY_NAMES)
#: config fields added with a format version, and the value that every older checkpoint was made with (a field's
#: current default may differ: diffusion models' MLPs condition by FiLM since version 3, by a shift before; their
#: losses draw the training noise levels in groups since version 4, one per row before; older fits have no floor)
LEGACY_CONFIG = {3: {"conditioning": "add"}, 4: {"noise_groups": 0}, 5: {"sample_start": "isotropic"},
                 6: {"noise_floor": 0.0, "floor_level_shift": 0.0}}
#: config fields renamed with a format version, old name -> new name (every older checkpoint saved the old name)
LEGACY_NAMES = {7: RENAMED_FIELDS}
RAW_PREFIX = "_raw."  # safetensors keys of the raw weights of a model trained with an EMA


def model_files(model, *, weights: dict[str, torch.Tensor] | None = None,
                raw: dict[str, torch.Tensor] | None = None, step: int | None = None) -> dict[str, bytes]:
    """The checkpoint of ``model`` as ``{WEIGHTS: bytes, CONFIG: bytes}``; ``weights`` replace entries of its
    state dict and ``raw`` its raw (pre-EMA) weights (used to checkpoint a run in the middle of training)."""
    from safetensors.torch import save as to_bytes

    from genlab._version import __version__

    state = {**model.state_dict(), **(weights or {})}
    raw = model.raw_weights if raw is None else raw
    tensors = {k: v.detach().cpu().contiguous().clone() for k, v in state.items()}
    tensors.update({RAW_PREFIX + k: v.detach().cpu().contiguous().clone() for k, v in raw.items()})
    meta = {
        "format": FORMAT,
        "version": VERSION,
        "genlab_version": __version__,
        "model": model.name,
        "shape": list(model.shape),
        "config": dataclasses.asdict(model.config),
        "likelihood": model.likelihood,
        "fitted": bool(model.fitted or weights is not None),
        "training_step": int(model.trained_steps if step is None else step),
        "normalization": {"mean": model.normalizer.mean.tolist(), "std": model.normalizer.std.tolist()},
        "extra": model.extra_state(),
    }
    return {WEIGHTS: to_bytes(tensors, metadata={"format": FORMAT, "model": model.name}),
            CONFIG: json.dumps(meta, indent=2).encode()}


def save(model, path) -> Path:
    """Save ``model`` into the directory ``path`` (created if needed), atomically."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise CheckpointError(f"cannot save into '{path}': it is a file, not a directory")
    commit(path, model_files(model))
    return path


def read_file(path, filename: str, what: str) -> Path:
    """The file ``filename`` of the valid checkpoint in directory ``path`` (manifest-aware); CheckpointError if absent."""
    path = Path(path)
    if not path.exists():
        raise CheckpointError(f"no {what} at '{path}'")
    if not path.is_dir():
        raise CheckpointError(f"'{path}' is not a {what} directory (expected {filename} inside it)")
    files = resolve(path) or {}
    file = files[filename][0] if filename in files else path / filename
    if not file.is_file():
        raise CheckpointError(f"'{path}' has no {filename}: not a {what}")
    return file


def verify(path, filename: str, data: bytes) -> None:
    """CheckpointError when the manifest of ``path`` lists ``filename`` with another hash than ``data``'s."""
    files = resolve(path)
    if files and filename in files and files[filename][1] != sha256(data):
        raise CheckpointError(f"{Path(path) / filename} does not match the run's manifest (modified or truncated)")


def read_json(path, filename: str, fmt: str, what: str, *, check_manifest: bool = True) -> dict:
    """Read ``path/filename``, a JSON object whose ``format`` is ``fmt``; CheckpointError naming ``what`` otherwise
    (also when the run's manifest lists another hash for it, unless ``check_manifest`` is False)."""
    file = read_file(path, filename, what)
    data = file.read_bytes()
    try:
        meta = json.loads(data)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise CheckpointError(f"{file} is not valid JSON ({exc.__class__.__name__})") from None
    if not isinstance(meta, dict) or meta.get("format") != fmt:
        raise CheckpointError(f"{file} is not a genlab {what} (format {fmt!r} expected)")
    if check_manifest:
        verify(path, filename, data)
    return meta


def _fail(path, field: str, expected: str):
    raise CheckpointError(f"{Path(path) / CONFIG}: field '{field}' must be {expected}")


def _numbers(value, *, positive: bool = False) -> bool:
    return (isinstance(value, list)
            and all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
                    and (v > 0 or not positive) for v in value))


def read_config(path, *, check_manifest: bool = True) -> dict:
    """Read ``config.json`` of a run directory and check every field's type (CheckpointError otherwise)."""
    meta = read_json(path, CONFIG, FORMAT, "checkpoint", check_manifest=check_manifest)
    version = meta.get("version", 1)
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        _fail(path, "version", "a positive integer")
    if version > VERSION:
        raise CheckpointError(f"checkpoint at '{path}' has format version {version}, newer than this genlab "
                              f"supports ({VERSION}): upgrade genlab to read it")
    for key in ("model", "shape", "config"):
        if key not in meta:
            raise CheckpointError(f"{Path(path) / CONFIG} lacks '{key}'")
    shape = meta["shape"]
    if not isinstance(meta["model"], str):
        _fail(path, "model", "a string")
    if not (isinstance(shape, list) and shape and all(isinstance(s, int) and not isinstance(s, bool) and s > 0
                                                      for s in shape)):
        _fail(path, "shape", "a non-empty list of positive integers")
    checks = {"config": (dict, "an object"), "extra": (dict, "an object"), "likelihood": (str, "a string"),
              "fitted": (bool, "true or false"), "normalization": (dict, "an object")}
    for key, (tp, expected) in checks.items():
        if key in meta and not isinstance(meta[key], tp):
            _fail(path, key, expected)
    step = meta.get("training_step", 0)
    if not isinstance(step, int) or isinstance(step, bool) or step < 0:
        _fail(path, "training_step", "a non-negative integer")
    norm, dim = meta.get("normalization"), math.prod(shape)
    if norm is not None:
        mean, std = norm.get("mean"), norm.get("std")
        if not (_numbers(mean) and _numbers(std, positive=True)):
            _fail(path, "normalization", "mean and std lists of finite numbers (std > 0)")
        if len(mean) != dim or len(std) != dim:
            raise CheckpointError(f"{Path(path) / CONFIG}: normalization has shape ({len(mean)},), but the model's "
                                  f"shape {tuple(shape)} needs ({dim},)")
    return meta


def load(path, get_class, *, expect_model: str | None = None):
    """Load the run directory ``path``; ``get_class(name)`` maps a model name to its class."""
    from safetensors import SafetensorError
    from safetensors.torch import load as from_bytes

    from genlab.registry import make_config

    meta = read_config(path, check_manifest=False)  # what is wrong with the content is the clearer message
    name = meta["model"]
    if expect_model is not None and name != expect_model:
        raise CheckpointError(f"checkpoint holds model '{name}', not '{expect_model}'")
    try:
        cls = get_class(name)
        config = make_config(cls.Config, upgrade_config(meta["config"], meta.get("version", 1), cls.Config), model=name)
        model = cls(tuple(meta["shape"]), config)
        model.load_extra_state(meta.get("extra", {}))
    except (ConfigError, TypeError, ValueError, KeyError) as exc:
        raise CheckpointError(f"checkpoint at '{path}' cannot be used: {exc}") from None
    read_config(path)  # now the manifest's hash of config.json
    weights = read_file(path, WEIGHTS, "checkpoint")
    data = weights.read_bytes()
    try:
        tensors = from_bytes(data)
    except (SafetensorError, OSError, ValueError, RuntimeError) as exc:
        raise CheckpointError(f"{weights} is not a readable safetensors file (truncated or foreign): {exc}") from None
    verify(path, WEIGHTS, data)
    _assign(model, tensors, weights)
    model.trained_steps = int(meta.get("training_step", 0))
    model.fitted = bool(meta.get("fitted", True))
    model.eval()
    return model


def upgrade_config(config: dict, version: int, config_cls) -> dict:
    """``config`` of a checkpoint (or resumable run) of format ``version`` with its fields under today's names
    (:data:`LEGACY_NAMES`) and the fields it predates set as they were then (:data:`LEGACY_CONFIG`); fields that
    ``config_cls`` lacks are left out."""
    fields = {f.name for f in dataclasses.fields(config_cls)}
    out = dict(config)
    for since, names in sorted(LEGACY_NAMES.items()):
        if version < since:
            out = {names[k] if k in names and k not in fields and names[k] in fields else k: v for k, v in out.items()}
    for since, values in LEGACY_CONFIG.items():
        if version < since:
            out.update({k: v for k, v in values.items() if k in fields and k not in out})
    return out


def _check_values(model, tensors: dict[str, torch.Tensor], raw: dict[str, torch.Tensor], where: Path) -> None:
    params = dict(model.named_parameters())
    for key, value in [*tensors.items(), *raw.items()]:
        if key in params and (not value.is_floating_point() or not torch.isfinite(value).all()):
            raise CheckpointError(f"{where}: tensor '{key}' holds non-finite values (or is not floating point)")
    std = tensors.get("normalizer.std")
    if std is not None and not (std.is_floating_point() and torch.isfinite(std).all() and (std > 0).all()):
        raise CheckpointError(f"{where}: the normalisation std must be finite and positive")


def _assign(model, tensors: dict[str, torch.Tensor], where: Path) -> None:
    raw = {k[len(RAW_PREFIX):]: v for k, v in tensors.items() if k.startswith(RAW_PREFIX)}
    tensors = {k: v for k, v in tensors.items() if not k.startswith(RAW_PREFIX)}
    names = dict(model.named_parameters())
    if set(raw) - set(names):
        raise CheckpointError(f"{where}: raw weights {sorted(set(raw) - set(names))[:5]} match no parameter")
    expected = model.state_dict()
    missing = sorted(set(expected) - set(tensors))
    unexpected = sorted(set(tensors) - set(expected))
    if missing or unexpected:
        raise CheckpointError(
            f"{where} does not match model '{model.name}': missing {missing[:5]}, unexpected {unexpected[:5]}"
        )
    for key, value in raw.items():
        if value.shape != names[key].shape:
            raise CheckpointError(f"{where}: raw weight '{key}' has shape {tuple(value.shape)}, "
                                  f"model expects {tuple(names[key].shape)}")
    _check_values(model, tensors, raw, where)
    model.raw_weights = raw
    with torch.no_grad():
        for key, value in tensors.items():
            if key in names:
                if names[key].shape != value.shape:
                    raise CheckpointError(
                        f"{where}: tensor '{key}' has shape {tuple(value.shape)}, model expects {tuple(names[key].shape)}"
                    )
                names[key].copy_(value)
            else:  # a buffer: its size may depend on the data (e.g. a GMM's components)
                owner_name, _, attr = key.rpartition(".")
                owner = model.get_submodule(owner_name) if owner_name else model
                current = getattr(owner, attr)
                if current.shape != value.shape and current.numel() > 0 and not getattr(owner, "_resizable_buffers", False):
                    raise CheckpointError(
                        f"{where}: tensor '{key}' has shape {tuple(value.shape)}, model expects {tuple(current.shape)}"
                    )
                if current.dtype.is_floating_point != value.dtype.is_floating_point:
                    raise CheckpointError(f"{where}: tensor '{key}' has dtype {value.dtype}, model expects {current.dtype}")
                setattr(owner, attr, value.to(current.dtype))
