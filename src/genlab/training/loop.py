"""The one training loop shared by every neural family.

Adam (AdamW when ``weight_decay`` > 0), an optional cosine learning-rate decay (Loshchilov & Hutter 2017)
over the steps or the time budget, optional gradient clipping and an EMA of the weights with warm-up (:mod:`genlab.training.ema`),
``steps`` and/or a wall-clock ``time_budget`` (whichever ends first; the loop stops cleanly
between steps), seeded epoch shuffling, a progress bar on terminals, and a per-step history.
Losses are callables returning a per-sample loss ``(B,)``; the loop reduces with the mean.
"""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

from genlab.rng import make_generator, rand_like
from genlab.training.ema import EMA

__all__ = ["TrainSpec", "train", "batches"]


@dataclass
class TrainSpec:
    steps: int | None = 1000
    time_budget: float | None = None
    batch_size: int = 256
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

    def noisy(self, z: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """Uniform dequantization of a batch: z + U[0, 1) in data units (``dequantize`` = 1/std in z units).

        ``generator`` defaults to a generator made from ``seed`` (for one-off uses such as the classical fits)."""
        if self.dequantize is None:
            return z
        return z + rand_like(z, generator if generator is not None else make_generator(self.seed, 2)) * self.dequantize


def batches(n: int, batch_size: int, generator: torch.Generator):
    """Endless stream of index batches: a fresh permutation per epoch (the tail of an epoch is dropped)."""
    b = min(batch_size, n)
    while True:
        perm = torch.randperm(n, generator=generator)
        for i in range(0, n - b + 1, b):
            yield perm[i : i + b]


class _Progress:
    """A rich progress bar, shown only when asked for and stderr is a terminal."""

    def __init__(self, enabled: bool, label: str, total: int | None, budget: float | None):
        self.bar = None
        if not (enabled and sys.stderr.isatty()):
            return
        from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

        self.bar = Progress(TextColumn("[bold]{task.description}"), BarColumn(), TextColumn("{task.fields[info]}"),
                            TimeElapsedColumn(), transient=True)
        self.by_time = total is None
        self.task = self.bar.add_task(label, total=budget if self.by_time else total, info="")
        self.bar.start()

    def update(self, step: int, elapsed: float, loss: float) -> None:
        if self.bar is not None:
            self.bar.update(self.task, completed=elapsed if self.by_time else step, info=f"step {step} loss {loss:.4g}")

    def close(self) -> None:
        if self.bar is not None:
            self.bar.stop()


def _progress(step: int, steps: int | None, elapsed: float, budget: float | None) -> float:
    """Fraction of training done: by steps or by time, whichever is further along."""
    done = step / steps if steps else 0.0
    if budget:
        done = max(done, elapsed / budget)
    return min(done, 1.0)


def train(
    module: nn.Module,
    loss_fn: Callable[..., torch.Tensor],
    x: torch.Tensor,
    y: torch.Tensor | None,
    spec: TrainSpec,
    *,
    step_fn: Callable[..., dict[str, float]] | None = None,
    params=None,
) -> list[dict[str, float]]:
    """Train ``module`` on ``x`` (and labels ``y``); return the per-step history.

    ``loss_fn(xb, yb, generator=g) -> (B,)`` is minimised with Adam over ``params`` (default: all parameters).
    A family with its own update (e.g. a GAN's two players) passes ``step_fn(xb, yb, step, generator=g) -> record``
    instead and does its own optimisation; the loop still owns batching, time, EMA and history.
    """
    if spec.steps is None and spec.time_budget is None:
        raise ValueError("train() needs steps or a time budget")
    gen = make_generator(spec.seed)  # batch order
    noise = make_generator(spec.seed, 1)  # every draw of the loss (and of dequantization)
    opt = None
    if step_fn is None:
        params = [p for p in (params if params is not None else module.parameters()) if p.requires_grad]
        if spec.weight_decay > 0:
            opt = torch.optim.AdamW(params, lr=spec.lr, weight_decay=spec.weight_decay)
        else:
            opt = torch.optim.Adam(params, lr=spec.lr)
    named = [(k, p) for k, p in module.named_parameters()]
    ema = EMA([p for _, p in named], spec.ema, warmup=spec.ema_warmup) if spec.ema > 0 else None
    history: list[dict[str, float]] = []
    bar = _Progress(spec.progress, spec.label, spec.steps, spec.time_budget)
    start = time.perf_counter()
    deadline = start + spec.time_budget if spec.time_budget is not None else float("inf")
    max_steps = spec.steps if spec.steps is not None else sys.maxsize
    try:
        for step, idx in enumerate(batches(x.shape[0], spec.batch_size, gen), start=1):
            xb = spec.noisy(x[idx], noise)
            yb = None if y is None else y[idx]
            if step_fn is not None:
                record = step_fn(xb, yb, step, generator=noise)
            else:
                if spec.lr_schedule == "cosine":
                    progress = _progress(step - 1, spec.steps, time.perf_counter() - start, spec.time_budget)
                    for group in opt.param_groups:
                        group["lr"] = spec.lr * (0.05 + 0.475 * (1 + math.cos(math.pi * progress)))
                loss = loss_fn(xb, yb, generator=noise).mean()
                opt.zero_grad(set_to_none=True)
                loss.backward()
                if spec.grad_clip > 0:
                    nn.utils.clip_grad_norm_(params, spec.grad_clip)
                opt.step()
                record = {"loss": loss.item()}
            if ema is not None:
                ema.update()
            now = time.perf_counter()
            record["step"] = step
            record["time"] = now - start
            history.append(record)
            if step % 25 == 0:
                bar.update(step, now - start, record.get("loss", float("nan")))
            if step >= max_steps or now >= deadline:
                break
    finally:
        bar.close()
    if ema is not None:  # the model keeps its raw weights beside it and samples/evaluates with the average
        module.raw_weights = {k: p.detach().clone() for k, p in named}
        ema.copy_to()
    return history
