"""Run directories: the checkpoint (``model.safetensors`` + ``config.json``, written by ``model.save``) plus
``history.json`` (one record per training step) and ``train.json`` (what was trained on, how long, which seed)."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import genlab
from genlab import checkpoint
from genlab.cli.common import write_json
from genlab.errors import CheckpointError, DataError

__all__ = ["HISTORY", "TRAIN_INFO", "check_target", "save_run", "load_run", "data_reference", "check_shape"]

HISTORY = "history.json"
TRAIN_INFO = "train.json"


def check_target(out, *, force: bool) -> Path:
    """Refuse (CheckpointError) to overwrite a run directory that holds a checkpoint, unless ``force``."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise CheckpointError(f"--out '{out}' is a file, not a run directory")
    held = [name for name in (checkpoint.WEIGHTS, checkpoint.CONFIG) if (out / name).exists()]
    if held and not force:
        raise CheckpointError(f"run directory '{out}' already holds a checkpoint ({', '.join(held)}); "
                              "use --force to overwrite it or choose another --out")
    return out


def data_reference(name_or_path: str) -> dict[str, str]:
    """``{"data": ...}`` plus the absolute path when the data came from a file or folder."""
    p = Path(name_or_path)
    return {"data": name_or_path, **({"data_path": str(p.resolve())} if p.exists() else {})}


def save_run(out: Path, model, info: dict[str, Any]) -> None:
    """Write the checkpoint, ``history.json`` and ``train.json`` (``info`` plus the model's facts) into ``out``."""
    model.save(out)
    write_json(out / HISTORY, model.history)
    facts = {
        "model": model.name,
        "shape": list(model.shape),
        "likelihood": model.likelihood,
        "steps": len(model.history),
        "time_s": model.fit_time,
        "finished": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "genlab_version": genlab.__version__,
    }
    write_json(out / TRAIN_INFO, {**facts, **info})


def load_run(run_dir) -> tuple[Any, dict[str, Any]]:
    """The model saved in ``run_dir`` and its ``train.json`` (empty when absent or unreadable)."""
    model = genlab.load(run_dir)
    info: dict[str, Any] = {}
    path = Path(run_dir) / TRAIN_INFO
    if path.is_file():
        try:
            loaded = json.loads(path.read_text())
            info = loaded if isinstance(loaded, dict) else {}
        except (json.JSONDecodeError, UnicodeDecodeError, OSError):
            info = {}
    return model, info


def check_shape(model, shape, what: str) -> None:
    """DataError unless ``shape`` (per sample) equals the model's."""
    if tuple(shape) != tuple(model.shape):
        raise DataError(f"{what} has per-sample shape {tuple(shape)}, but the model '{model.name}' was trained on "
                        f"shape {tuple(model.shape)}")
