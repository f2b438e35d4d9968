"""The full state of a training run, so that a killed run continues exactly where its last checkpoint left it.

:class:`TrainState` holds tensors (model weights and buffers, the EMA shadow, every optimizer's state tensors, the
batch-order generator's state at the start of the epoch, the global torch RNG, the best weights of early stopping)
and JSON scalars (step, elapsed time, history, EMA step, position in the epoch, optimizer hyper-parameters, the
family's own counters, early-stopping bookkeeping). :func:`to_files` / :func:`from_files` turn it into
``resume.safetensors`` + ``resume.json`` (bytes, committed with the rest of a run directory by the caller) and back;
nothing is pickled. The noise of step ``t`` comes from a generator seeded by (seed, t), so it needs no state.

:class:`Checkpointer` is what a caller hands the training loop: how often to checkpoint, the state to resume
from, and a ``save(state)`` callback that writes it (the CLI's run directory). :func:`interrupt_guard` turns
SIGINT into a flag that the loop checks between steps, so an interrupted run saves a consistent checkpoint.
"""

from __future__ import annotations

import contextlib
import json
import signal
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch

from genlab.errors import CheckpointError, GenlabError

__all__ = ["TrainState", "Checkpointer", "to_files", "from_files", "optimizer_state", "load_optimizer_state",
           "interrupt_guard", "RESUME_WEIGHTS", "RESUME_STATE", "FORMAT", "TrainingDiverged"]

RESUME_WEIGHTS = "resume.safetensors"
RESUME_STATE = "resume.json"
FORMAT = "genlab-resume/1"


class TrainingDiverged(GenlabError):
    """The loss became non-finite; training stopped before applying the update."""


@dataclass
class TrainState:
    step: int
    elapsed: float
    history: list[dict[str, float]]
    tensors: dict[str, torch.Tensor] = field(default_factory=dict)
    scalars: dict[str, Any] = field(default_factory=dict)

    def group(self, prefix: str) -> dict[str, torch.Tensor]:
        """The tensors stored under ``prefix.`` with the prefix removed."""
        p = prefix + "."
        return {k[len(p):]: v for k, v in self.tensors.items() if k.startswith(p)}

    def model_weights(self) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
        """(weights to sample with, raw weights): the EMA average and the trained weights when an EMA is kept."""
        model, ema = self.group("model"), self.group("ema")
        if not ema:
            return model, {}
        return {**model, **ema}, {k: model[k] for k in ema}


def optimizer_state(opt: torch.optim.Optimizer) -> tuple[dict[str, torch.Tensor], dict]:
    """An optimizer's state dict split into tensors (``state.<param>.<key>``) and JSON (the rest)."""
    sd = opt.state_dict()
    tensors, plain = {}, {}
    for idx, st in sd["state"].items():
        for key, value in st.items():
            if isinstance(value, torch.Tensor):
                tensors[f"state.{idx}.{key}"] = value.detach().cpu().clone()
            else:
                plain[f"{idx}.{key}"] = value
    groups = [{k: (list(v) if isinstance(v, tuple) else v) for k, v in g.items()} for g in sd["param_groups"]]
    return tensors, {"param_groups": groups, "plain": plain}


def load_optimizer_state(opt: torch.optim.Optimizer, tensors: dict[str, torch.Tensor], meta: dict) -> None:
    state: dict[int, dict[str, Any]] = {}
    for key, value in tensors.items():
        _, idx, name = key.split(".", 2)
        state.setdefault(int(idx), {})[name] = value
    for key, value in meta["plain"].items():
        idx, name = key.split(".", 1)
        state.setdefault(int(idx), {})[name] = value
    groups = [{k: (tuple(v) if k == "betas" else v) for k, v in g.items()} for g in meta["param_groups"]]
    opt.load_state_dict({"state": state, "param_groups": groups})


def to_files(state: TrainState, fingerprint: dict[str, Any]) -> dict[str, bytes]:
    """``{RESUME_WEIGHTS: bytes, RESUME_STATE: bytes}`` of ``state``; ``fingerprint`` names what must not change."""
    from safetensors.torch import save as to_bytes

    tensors = {k: v.detach().cpu().contiguous().clone() for k, v in state.tensors.items()}
    meta = {"format": FORMAT, "step": state.step, "elapsed": state.elapsed, "fingerprint": fingerprint,
            "scalars": state.scalars, "history": state.history}
    return {RESUME_WEIGHTS: to_bytes(tensors, metadata={"format": FORMAT}),
            RESUME_STATE: json.dumps(meta, allow_nan=True).encode()}


def from_files(weights: bytes, meta_bytes: bytes, where: str) -> tuple[TrainState, dict[str, Any]]:
    """The state and fingerprint stored by :func:`to_files`; CheckpointError when unreadable or malformed."""
    from safetensors import SafetensorError
    from safetensors.torch import load as from_bytes

    try:
        meta = json.loads(meta_bytes)
        tensors = from_bytes(weights)
    except (json.JSONDecodeError, UnicodeDecodeError, SafetensorError, ValueError, RuntimeError) as exc:
        raise CheckpointError(f"the resume state in '{where}' is unreadable (corrupted?): {exc}") from None
    ok = (isinstance(meta, dict) and meta.get("format") == FORMAT and isinstance(meta.get("step"), int)
          and isinstance(meta.get("elapsed"), (int, float)) and isinstance(meta.get("history"), list)
          and isinstance(meta.get("scalars"), dict) and isinstance(meta.get("fingerprint"), dict))
    if not ok:
        raise CheckpointError(f"the resume state in '{where}' is not a genlab resume state ({FORMAT})")
    state = TrainState(meta["step"], float(meta["elapsed"]), meta["history"], tensors, meta["scalars"])
    return state, meta["fingerprint"]


@dataclass
class Checkpointer:
    """What the caller asks of the training loop: a checkpoint every ``every`` steps (and at the end, on SIGINT)
    through ``save(state)``, resuming from ``state`` when given. ``save`` is called on rank 0 only."""

    save: Callable[[TrainState], None]
    every: int | None = None
    state: TrainState | None = None


@contextlib.contextmanager
def interrupt_guard(enabled: bool):
    """Within the block SIGINT sets ``flag["set"]`` instead of raising (main thread only); restored afterwards."""
    flag = {"set": False}
    if not enabled or threading.current_thread() is not threading.main_thread():
        yield flag
        return

    def handler(signum, frame):
        flag["set"] = True

    previous = signal.signal(signal.SIGINT, handler)
    try:
        yield flag
    finally:
        signal.signal(signal.SIGINT, previous)
