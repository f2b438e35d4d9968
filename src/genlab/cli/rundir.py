"""Run directories: the checkpoint (``model.safetensors`` + ``config.json``), ``history.json`` (one record per
training step), ``train.json`` (what was trained on, how long, which seed) and, for neural models, the resume state
(``resume.safetensors`` + ``resume.json``). Every write is one atomic commit under ``manifest.json``
(:mod:`genlab.manifest`), so the directory is consistent at every instant."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import genlab
from genlab import checkpoint
from genlab.errors import CheckpointError, ConfigError, DataError
from genlab.manifest import commit
from genlab.training import resume as durable

__all__ = ["HISTORY", "TRAIN_INFO", "check_target", "save_run", "load_run", "data_reference", "check_shape",
           "RunWriter", "load_resume", "training_source"]

HISTORY = "history.json"
TRAIN_INFO = "train.json"


def check_target(out, *, force: bool, resume: bool = False) -> Path:
    """Refuse (CheckpointError) to overwrite a run directory that holds a checkpoint, unless ``force``;
    with ``resume`` the directory must hold a resume state instead."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise CheckpointError(f"--out '{out}' is a file, not a run directory")
    if resume:
        checkpoint.read_file(out, durable.RESUME_STATE, "resumable run")
        return out
    held = [name for name in (checkpoint.WEIGHTS, checkpoint.CONFIG) if (out / name).exists()]
    if held and not force:
        raise CheckpointError(f"run directory '{out}' already holds a checkpoint ({', '.join(held)}); "
                              "use --force to overwrite it, --resume to continue it, or choose another --out")
    return out


def data_reference(name_or_path: str) -> dict[str, str]:
    """``{"data": ...}`` plus the absolute path when the data came from a file or folder."""
    p = Path(name_or_path)
    return {"data": name_or_path, **({"data_path": str(p.resolve())} if p.exists() else {})}


def _json(obj: Any) -> bytes:
    return (json.dumps(obj, indent=2, default=str) + "\n").encode()


def _facts(model, steps: int, finished: bool) -> dict[str, Any]:
    return {
        "model": model.name,
        "shape": list(model.shape),
        "likelihood": model.likelihood,
        "steps": steps,
        "time_s": model.fit_time,
        "finished": time.strftime("%Y-%m-%dT%H:%M:%S%z") if finished else None,
        "genlab_version": genlab.__version__,
    }


class RunWriter:
    """Writes a run directory in atomic commits; the first commit of a fresh run drops files of an older run."""

    def __init__(self, out: Path, info: dict[str, Any], fingerprint: dict[str, Any], *, fresh: bool):
        self.out, self.info, self.fingerprint, self.fresh = Path(out), info, fingerprint, fresh

    def _commit(self, files: dict[str, bytes]) -> None:
        commit(self.out, files, keep_others=not self.fresh)
        self.fresh = False

    def checkpoint(self, model, state: durable.TrainState) -> None:
        """A checkpoint in the middle of training: the model as it would be sampled now, and the resume state."""
        weights, raw = state.model_weights()
        files = checkpoint.model_files(model, weights=weights, raw=raw, step=model.trained_steps + state.step)
        files.update(durable.to_files(state, self.fingerprint))
        files[HISTORY] = _json(state.history)
        files[TRAIN_INFO] = _json({**_facts(model, state.step, False), "time_s": state.elapsed, **self.info})
        self._commit(files)

    def final(self, model) -> None:
        files = checkpoint.model_files(model)
        files[HISTORY] = _json(model.history)
        files[TRAIN_INFO] = _json({**_facts(model, len(model.history), True), **self.info})
        self._commit(files)


def save_run(out: Path, model, info: dict[str, Any]) -> None:
    """Write the checkpoint, ``history.json`` and ``train.json`` (``info`` plus the model's facts) into ``out``."""
    RunWriter(out, info, {}, fresh=True).final(model)


def load_resume(out: Path, fingerprint: dict[str, Any]) -> durable.TrainState:
    """The resume state of the run in ``out``, checked against the manifest and against ``fingerprint`` (what this
    run is: model, shape, config, data, seed, batch); CheckpointError naming the difference otherwise."""
    blobs = {}
    for name in (durable.RESUME_WEIGHTS, durable.RESUME_STATE):
        file = checkpoint.read_file(out, name, "resumable run")
        blobs[name] = file.read_bytes()
        checkpoint.verify(out, name, blobs[name])
    state, stored = durable.from_files(blobs[durable.RESUME_WEIGHTS], blobs[durable.RESUME_STATE], str(out))
    stored = _upgraded(out, stored)
    wanted = json.loads(json.dumps(fingerprint, default=str))
    diff = []
    for key in [*wanted, *(k for k in stored if k not in wanted)]:  # the caller's order: model, shape, config, ...
        a, b = stored.get(key), wanted.get(key)
        if isinstance(a, dict) and isinstance(b, dict):
            diff += [(f"{key}.{k}", a.get(k), b.get(k)) for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k)]
        elif a != b:
            diff.append((key, a, b))
    if diff:
        shown = "; ".join(f"{k}: run has {a!r}, asked {b!r}" for k, a, b in diff[:3])
        raise CheckpointError(f"--resume: the run in '{out}' was started differently ({shown}); "
                              "resume with the same model, data and options, or start a new run")
    return state


def _upgraded(out: Path, stored: dict[str, Any]) -> dict[str, Any]:
    """The stored fingerprint with its config read as the run's checkpoint format says (a run started before a field
    existed was made with that field's old value: :data:`genlab.checkpoint.LEGACY_CONFIG`)."""
    config, name = stored.get("config"), stored.get("model")
    if not isinstance(config, dict) or name not in genlab.models.names():
        return stored
    version = checkpoint.read_config(out).get("version", 1)
    return {**stored, "config": checkpoint.upgrade_config(config, version, genlab.models.get(name).Config)}


def load_run(run_dir, device=None) -> tuple[Any, dict[str, Any]]:
    """The model saved in ``run_dir`` (moved to ``device``) and its ``train.json`` (empty when absent or unreadable)."""
    model = genlab.load(run_dir, device=device)
    info: dict[str, Any] = {}
    try:
        loaded = json.loads(checkpoint.read_file(run_dir, TRAIN_INFO, "run").read_text())
        info = loaded if isinstance(loaded, dict) else {}
    except (CheckpointError, json.JSONDecodeError, UnicodeDecodeError, OSError):
        info = {}
    return model, info


def check_shape(model, shape, what: str) -> None:
    """DataError unless ``shape`` (per sample) equals the model's."""
    if tuple(shape) != tuple(model.shape):
        raise DataError(f"{what} has per-sample shape {tuple(shape)}, but the model '{model.name}' was trained on "
                        f"shape {tuple(model.shape)}")


def training_source(info: dict, run_dir) -> str:
    """What a run was trained on, from its train.json ``info``: the data file when it still exists, else the data
    set's name; a one-line ConfigError when the run records neither."""
    path = info.get("data_path")
    data = path if isinstance(path, str) and Path(path).exists() else info.get("data")
    if not isinstance(data, str) or not data:
        raise ConfigError(f"run '{run_dir}' records no training data (train.json); give --data NAME_OR_PATH")
    return data
