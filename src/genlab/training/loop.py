"""The one training loop shared by every neural family.

Adam (AdamW when ``weight_decay`` > 0), an optional cosine learning-rate decay (Loshchilov & Hutter 2017)
over the steps or the time budget, optional gradient clipping and an EMA of the weights with warm-up (:mod:`genlab.training.ema`),
``steps`` and/or a wall-clock ``time_budget`` (whichever ends first; the loop stops cleanly
between steps), seeded epoch shuffling (:mod:`genlab.training.order`), a progress bar on terminals, and a per-step
history. Losses are callables returning a per-sample loss ``(B,)``; the loop reduces with the mean.

The same loop is durable (:mod:`genlab.training.resume`: checkpoints of the full state, exact resume, SIGINT saves
and stops), stops on a non-finite loss before applying it, stops early on a validation split
(:mod:`genlab.training.early`) and runs data-parallel under ``torchrun`` (:mod:`genlab.training.distributed`).
The draws of step ``t`` come from a generator seeded by (seed, t), so a run's noise does not depend on where it
was resumed nor on the number of processes. A module whose loss depends on the step (iCT's curriculum) defines
``on_step(step)``, called once before each optimizer step (after a resume, from the restored step on), and keeps
what else it needs in ``train_state()`` / ``load_train_state()`` (part of the resume state).

The loop trains where the module is (:mod:`genlab.device`): the data stay on the CPU and each batch is moved to the
module's device, the step's draws are made on the CPU and moved there (so a seed means the same on every device),
and the optimizer's state is created beside the parameters. ``precision="bf16"`` runs the forward passes (the loss,
or a family's whole ``step_fn``) under a bfloat16 autocast; the update itself stays in float32.
"""

from __future__ import annotations

import json
import math
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

from genlab.device import autocast
from genlab.rng import make_generator, rand_like
from genlab.training import distributed as dist
from genlab.training.early import EarlyStopping, validation_split
from genlab.training.ema import EMA
from genlab.training.order import BatchOrder, batches
from genlab.training.progress import Progress
from genlab.training.resume import (
    Checkpointer,
    TrainingDiverged,
    TrainState,
    interrupt_guard,
    load_optimizer_state,
    optimizer_state,
)

__all__ = ["TrainSpec", "train", "batches", "device_of"]


@dataclass
class TrainSpec:
    steps: int | None = 1000
    time_budget: float | None = None
    batch_size: int = 256  # per process under torchrun
    lr: float = 1e-3
    seed: int = 0
    progress: bool = True
    ema: float = 0.0  # EMA decay of the weights (0 = off); see genlab.training.ema
    ema_warmup: bool = True  # decay_t = min(ema, (1 + t) / (10 + t))
    weight_decay: float = 0.0
    grad_clip: float = 0.0
    label: str = "training"
    lr_schedule: str = "constant"  # or "cosine": decays to 5% of lr over the steps or the time budget
    dequantize: torch.Tensor | None = None  # per-dimension width of uniform noise added to every batch
    patience: int = 0  # early stopping: validation checks without improvement before stopping (0 = off)
    val_fraction: float = 0.1
    val_every: int = 50
    checkpoint: Checkpointer | None = None  # periodic checkpoints, resume state, SIGINT handling
    precision: str = "fp32"  # or "bf16": forward passes under torch.autocast (see genlab.device)

    def noisy(self, z: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """Uniform dequantization of a batch: z + U[0, 1) in data units (``dequantize`` = 1/std in z units).

        ``generator`` defaults to a generator made from ``seed`` (for one-off uses such as the classical fits)."""
        if self.dequantize is None:
            return z
        width = self.dequantize.to(z.device)
        return z + rand_like(z, generator if generator is not None else make_generator(self.seed, 2)) * width


def device_of(module: nn.Module) -> torch.device:
    """The device of ``module``'s first parameter (or buffer); the CPU for a module with neither."""
    for t in (*module.parameters(), *module.buffers()):
        return t.device
    return torch.device("cpu")


def _progress(step: int, steps: int | None, elapsed: float, budget: float | None) -> float:
    """Fraction of training done: by steps or by time, whichever is further along."""
    done = step / steps if steps else 0.0
    if budget:
        done = max(done, elapsed / budget)
    return min(done, 1.0)


class _Run:
    """The mutable parts of a run that a checkpoint must hold, with capture/restore."""

    def __init__(self, module, opts, ema, order, early):
        self.module, self.opts, self.ema, self.order, self.early = module, opts, ema, order, early
        self.names = [k for k, _ in module.named_parameters()]

    def capture(self, step: int, elapsed: float, history: list) -> TrainState:
        t = {f"model.{k}": v for k, v in self.module.state_dict().items()}
        scalars: dict = {"optimizers": []}
        for i, opt in enumerate(self.opts):
            tensors, meta = optimizer_state(opt)
            t.update({f"opt{i}.{k}": v for k, v in tensors.items()})
            scalars["optimizers"].append(meta)
        if self.ema is not None:
            t.update({f"ema.{k}": s for k, s in zip(self.names, self.ema.shadow, strict=True)})
            scalars["ema_step"] = self.ema.step
        order = self.order.state_dict()
        if order["epoch_state"] is not None:
            t["order.epoch_state"] = order["epoch_state"]
        scalars["order_pos"] = order["pos"]
        t["rng.global"] = torch.get_rng_state()
        dev = device_of(self.module)
        if dev.type == "cuda":  # dropout on a GPU draws from its global RNG (seeded by the fit's forked block)
            t["rng.cuda"] = torch.cuda.get_rng_state(dev)
        if self.early is not None:
            tensors, scalars["early"] = self.early.state()
            t.update(tensors)
        scalars["family"] = self.module.train_state() if hasattr(self.module, "train_state") else {}
        t = {k: v.detach().clone() for k, v in t.items()}  # a snapshot, not views of the live weights
        return TrainState(step, elapsed, [dict(r) for r in history], t, json.loads(json.dumps(scalars)))

    def restore(self, state: TrainState) -> None:
        from genlab.errors import CheckpointError

        s = state.scalars
        try:
            self.module.load_state_dict(state.group("model"))
            if len(s.get("optimizers", [])) != len(self.opts):
                raise ValueError("the number of optimizers differs")
            for i, opt in enumerate(self.opts):
                load_optimizer_state(opt, state.group(f"opt{i}"), s["optimizers"][i])
            if self.ema is not None:
                shadow = state.group("ema")
                self.ema.load_state_dict({"step": s["ema_step"], "shadow": [shadow[k] for k in self.names]})
            self.order.load_state_dict({"epoch_state": state.tensors.get("order.epoch_state"), "pos": s["order_pos"]})
            torch.set_rng_state(state.tensors["rng.global"])
            dev = device_of(self.module)
            if dev.type == "cuda" and "rng.cuda" in state.tensors:  # a run resumed on another device has none
                torch.cuda.set_rng_state(state.tensors["rng.cuda"], dev)
            if self.early is not None:
                self.early.load(state.group("best"), s["early"])
            if hasattr(self.module, "load_train_state"):
                self.module.load_train_state(s.get("family", {}))
        except (KeyError, ValueError, RuntimeError, TypeError) as exc:
            raise CheckpointError(f"the resume state does not fit this run: {' '.join(str(exc).split())[:300]}") from None


def _adam(cls, params: list, **kw) -> torch.optim.Optimizer:
    """``cls`` with its fused kernel where this torch has one for the parameters' device (CPU from torch 2.4):
    one update for all tensors instead of a loop over them, 8-13 % more training steps per second for the diffusion
    MLPs on one CPU thread (benchmarks/results/train_throughput.json); the same algorithm."""
    try:
        return cls(params, fused=True, **kw)
    except (RuntimeError, TypeError, ValueError):
        return cls(params, **kw)


EXPLOSION = 1e8  # a loss this many times larger than the scale of the first steps' losses has diverged


def _check_finite(record: dict, step: int, last_saved: int, history: list) -> None:
    """TrainingDiverged when a value of ``record`` is not finite, or the loss has exploded: |loss| above
    EXPLOSION x max(1, mean |loss| of the first 10 steps) (e.g. a score model at lr=1 reaching 1e15 from 1,
    with finite weights that sample NaN). Every process decides the same (the values are already reduced)."""
    bad = {k: v for k, v in record.items() if isinstance(v, float) and not math.isfinite(v)}
    first = [abs(r["loss"]) for r in history[:10] if isinstance(r.get("loss"), float)]
    if not bad and first and "loss" in record and abs(record["loss"]) > EXPLOSION * max(1.0, sum(first) / len(first)):
        bad = {"loss": record["loss"]}
    if not dist.any_flag(bool(bad)):
        return
    kept = (f"the last good checkpoint (step {last_saved}) is kept" if last_saved
            else "no checkpoint was written before it")
    what = ", ".join(f"{k}={v:.4g}" for k, v in bad.items())
    raise TrainingDiverged(f"training diverged at step {step} ({what}); {kept}; try a lower learning rate")


def train(
    module: nn.Module,
    loss_fn: Callable[..., torch.Tensor],
    x: torch.Tensor,
    y: torch.Tensor | None,
    spec: TrainSpec,
    *,
    step_fn: Callable[..., dict[str, float]] | None = None,
    params=None,
    optimizers: list[torch.optim.Optimizer] | None = None,
) -> list[dict[str, float]]:
    """Train ``module`` on ``x`` (and labels ``y``); return the per-step history.

    ``loss_fn(xb, yb, generator=g) -> (B,)`` is minimised with Adam over ``params`` (default: all parameters).
    A family with its own update (e.g. a GAN's two players) passes ``step_fn(xb, yb, step, generator=g) -> record``
    instead and does its own optimisation (naming its ``optimizers``, so that checkpoints keep their state);
    the loop still owns batching, time, EMA, history, checkpoints and early stopping.
    """
    if spec.steps is None and spec.time_budget is None:
        raise ValueError("train() needs steps or a time budget")
    ctl = spec.checkpoint
    dev = device_of(module)  # batches and draws go where the module is
    early = None
    if spec.patience > 0:
        if step_fn is not None:
            from genlab.errors import ConfigError

            raise ConfigError(f"early stopping (patience={spec.patience}) needs a training loss; {spec.label} "
                              "trains with its own update: use patience=0")
        keep, held = validation_split(x.shape[0], spec.val_fraction, spec.seed)
        x_val = spec.noisy(x[held], make_generator(spec.seed, 6))  # dequantized once (dequantize=True), fixed
        early = EarlyStopping(spec.patience, spec.val_every, x_val.to(dev), None if y is None else y[held].to(dev),
                              spec.seed)
        x, y = x[keep], None if y is None else y[keep]
    order = BatchOrder(x.shape[0], spec.batch_size, make_generator(spec.seed), world=dist.world(), rank=dist.rank())
    opts = list(optimizers or [])
    if step_fn is None:
        params = [p for p in (params if params is not None else module.parameters()) if p.requires_grad]
        if spec.weight_decay > 0:
            opts = [_adam(torch.optim.AdamW, params, lr=spec.lr, weight_decay=spec.weight_decay)]
        else:
            opts = [_adam(torch.optim.Adam, params, lr=spec.lr)]
    named = [(k, p) for k, p in module.named_parameters()]
    ema = EMA([p for _, p in named], spec.ema, warmup=spec.ema_warmup) if spec.ema > 0 else None
    run = _Run(module, opts, ema, order, early)
    history: list[dict[str, float]] = []
    step, elapsed, last_saved = 0, 0.0, 0
    if ctl is not None and ctl.state is not None:
        run.restore(ctl.state)
        step, elapsed, last_saved = ctl.state.step, ctl.state.elapsed, ctl.state.step
        history = [dict(r) for r in ctl.state.history]
    main = dist.is_main()
    on_step = getattr(module, "on_step", None)  # a family's step-dependent state (iCT's curriculum)

    def save() -> None:
        nonlocal last_saved
        if ctl is not None and main and last_saved != step:
            ctl.save(run.capture(step, elapsed, history))
        last_saved = step

    max_steps = spec.steps if spec.steps is not None else sys.maxsize
    budget = spec.time_budget if spec.time_budget is not None else float("inf")
    bar = Progress(spec.progress and main, spec.label, spec.steps, spec.time_budget)
    start = time.perf_counter() - elapsed
    stopped_early = early is not None and early.bad >= early.patience
    stop = step > 0 and (step >= max_steps or elapsed >= budget or stopped_early)  # a resumed, finished run
    with interrupt_guard(ctl is not None) as interrupt:
        try:
            while not stop:
                step += 1
                if on_step is not None:
                    on_step(step)
                idx = next(order)
                noise = dist.draw_source(spec.seed, step, target=dev)
                xb = spec.noisy(x[idx].to(dev), noise)
                yb = None if y is None else y[idx].to(dev)
                if step_fn is not None:
                    with autocast(dev, spec.precision):
                        record = step_fn(xb, yb, step, generator=noise)
                    _check_finite(record, step, last_saved, history)
                    dist.average_parameters(module)
                else:
                    if spec.lr_schedule == "cosine":
                        progress = _progress(step - 1, spec.steps, elapsed, spec.time_budget)
                        for group in opts[0].param_groups:
                            group["lr"] = spec.lr * (0.05 + 0.475 * (1 + math.cos(math.pi * progress)))
                    with autocast(dev, spec.precision):
                        loss = loss_fn(xb, yb, generator=noise).float().mean()
                    opts[0].zero_grad(set_to_none=True)
                    loss.backward()
                    record = {"loss": dist.reduce_step(params, loss)}
                    _check_finite(record, step, last_saved, history)
                    if spec.grad_clip > 0:
                        nn.utils.clip_grad_norm_(params, spec.grad_clip)
                    opts[0].step()
                if ema is not None:
                    ema.update()
                halt = False
                if early is not None and step % early.every == 0:
                    record["val_loss"] = early.loss(module, loss_fn, ema)
                    halt = dist.any_flag(early.update(step, record["val_loss"], module, ema))
                out_of_time, elapsed, interrupted = dist.agree(time.perf_counter() - start >= budget,
                                                               time.perf_counter() - start, interrupt["set"])
                record["step"] = step
                record["time"] = elapsed
                history.append(record)
                if step % 25 == 0:
                    bar.update(step, elapsed, record.get("loss", float("nan")))
                stop = halt or out_of_time or step >= max_steps
                if interrupted:
                    save()
                    raise KeyboardInterrupt(f"interrupted at step {step}; the checkpoint is saved (resume with --resume)")
                if ctl is not None and ctl.every and step % ctl.every == 0 and not stop:
                    save()
        finally:
            bar.close()
    if early is not None and history and history[-1]["step"] == step and "val_loss" not in history[-1]:
        history[-1]["val_loss"] = early.loss(module, loss_fn, ema)  # the last weights compete too
        early.update(step, history[-1]["val_loss"], module, ema)
    save()  # the final state, so that a finished run can be continued with more steps
    if early is not None:
        early.restore_best(module, ema)
        if history:
            history[-1]["best_val_step"] = early.best_step
            history[-1]["best_val_loss"] = early.best_loss
    if ema is not None:  # the model keeps its raw weights beside it and samples/evaluates with the average
        module.raw_weights = {k: p.detach().clone() for k, p in named}
        ema.copy_to()
    return history
