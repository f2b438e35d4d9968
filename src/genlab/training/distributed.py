"""Multi-process data-parallel training with ``torch.distributed`` (``torchrun --nproc_per_node=N``).

The one training loop (:mod:`genlab.training.loop`) asks this module who it is (:func:`world`, :func:`rank`) and
uses four helpers, all no-ops in a single process:

- :class:`ShardedSource`: the per-step draw source. Every draw of the global batch shape ``(world * B, ...)``
  comes from one generator seeded by (seed, step), and each process keeps its rows, so each sample's noise
  depends only on the seed, the step and the sample's global index, not on the number of processes. A draw shared
  by a run of rows (a group's noise level, :mod:`genlab.diffusion.levels`) is made for the global batch from the
  same generator on every process (:func:`genlab.rng.sharding`), so the groups are those of one process with the
  global batch, and 2 processes with batch B train as 1 process with batch 2B (tests/test_distributed.py).
- :func:`reduce_step`: one ``all_reduce`` of the gradients, the loss and a non-finite flag; gradients are
  averaged, so the update equals a single process's update on the global batch (the loss is a mean over samples).
  :func:`reduce_gradients` does the same for a family with its own update (a GAN averages each player's gradients
  before its optimizer step).
- :func:`agree`: one ``all_reduce`` (max) of rank 0's stop decision and clock, any process's interrupt, so all
  processes stop at the same step and a time budget is decided by rank 0.
- :func:`average_parameters`: for families with their own update the weights are averaged after each step, which
  keeps the processes in step even where a family's update does not reduce its gradients.

:func:`init_from_env` starts the process group under ``torchrun`` (gloo on CPU, nccl on GPU);
:func:`sharded_log_prob` evaluates a likelihood on this process's shard and gathers the result, with no collective
inside the per-shard work, so uneven shards and adaptive ODE step counts cannot hang it.
"""

from __future__ import annotations

import os

import torch

from genlab.rng import make_generator, target_of

__all__ = ["world", "rank", "is_main", "init_from_env", "ShardedSource", "draw_source", "reduce_step",
           "reduce_gradients", "agree", "average_parameters", "any_flag", "sharded_log_prob", "barrier", "shutdown"]


def _dist():
    import torch.distributed as dist

    return dist if dist.is_available() and dist.is_initialized() else None


def _device(d) -> torch.device:
    """Where collective tensors must live: the GPU under nccl, the CPU under gloo."""
    return torch.device("cuda", torch.cuda.current_device()) if d.get_backend() == "nccl" else torch.device("cpu")


def world() -> int:
    d = _dist()
    return d.get_world_size() if d else 1


def rank() -> int:
    d = _dist()
    return d.get_rank() if d else 0


def is_main() -> bool:
    return rank() == 0


def init_from_env() -> bool:
    """Start the default process group when launched by torchrun (``WORLD_SIZE`` > 1); True if distributed."""
    import torch.distributed as dist

    if int(os.environ.get("WORLD_SIZE", "1")) <= 1 or not dist.is_available():
        return False
    if not dist.is_initialized():
        backend = "nccl" if torch.cuda.is_available() else "gloo"
        if backend == "nccl":  # one GPU per process: "cuda" (and "auto") then mean this process's GPU
            torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
        dist.init_process_group(backend)
    return True


def barrier() -> None:
    d = _dist()
    if d:
        d.barrier()


class ShardedSource:
    """Draws of the global batch from one generator, sliced to this process's rows (see the module docstring)."""

    def __init__(self, generator: torch.Generator, world: int, rank: int):
        self.generator, self.world, self.rank = generator, world, rank
        self.device = generator.device
        self.target = target_of(generator)  # where draws go by default (the model's device)

    def _to(self, out: torch.Tensor, device) -> torch.Tensor:
        device = device if device is not None else self.target
        return out.to(device) if device is not None else out

    def _slice(self, out: torch.Tensor, size) -> torch.Tensor:
        b = int(tuple(size)[0]) if len(tuple(size)) else 0
        return out[self.rank * b : (self.rank + 1) * b] if len(tuple(size)) else out

    def _global(self, size):
        size = tuple(size)
        return (size[0] * self.world, *size[1:]) if size else size

    def randn(self, size, *, dtype=None, device=None):
        out = torch.randn(self._global(size), generator=self.generator, dtype=dtype or torch.get_default_dtype())
        return self._to(self._slice(out, size), device)

    def rand(self, size, *, dtype=None, device=None):
        out = torch.rand(self._global(size), generator=self.generator, dtype=dtype or torch.get_default_dtype())
        return self._to(self._slice(out, size), device)

    def randint(self, low, high, size, *, device=None):
        out = torch.randint(int(low), int(high), self._global(size), generator=self.generator)
        return self._to(self._slice(out, size), device)

    def multinomial(self, probs, num_samples, *, replacement=False):
        """``num_samples`` per-row draws of the categories of the 1-D ``probs`` (on probs' device)."""
        if probs.ndim != 1 or not replacement:
            raise ValueError("a sharded source draws per-row categories of one distribution: 1-D probs, replacement")
        out = torch.multinomial(probs.to(self.device), int(num_samples) * self.world, True, generator=self.generator)
        return self._slice(out, (int(num_samples),)).to(probs.device)

    def randperm(self, n, *, device=None):  # not per sample: every process gets the same permutation
        out = torch.randperm(int(n), generator=self.generator)
        return self._to(out, device)

    # torch.Generator-like helpers some code paths may call
    def manual_seed(self, seed):
        self.generator.manual_seed(seed)
        return self


def draw_source(seed: int, step: int, target=None):
    """The draw source of training step ``step``: a generator seeded by (seed, step), sharded across processes,
    whose draws go to ``target`` (the model's device; None = the CPU)."""
    g = make_generator(seed, 1, step, target=target)
    n = world()
    return g if n == 1 else ShardedSource(g, n, rank())


def reduce_gradients(params) -> None:
    """Average the gradients of ``params`` over processes (a missing gradient counts as zeros); no-op in one
    process. For a family with its own update: its optimizer then steps as on the global batch."""
    if _dist() is not None:
        reduce_step(list(params), torch.zeros(()))


def reduce_step(params, loss: torch.Tensor) -> float:
    """Average the gradients of ``params`` and the loss over processes; return the global mean loss
    (NaN when any process's loss is not finite). A single process returns its own loss."""
    d = _dist()
    value = float(loss.detach())
    if d is None:
        return value
    grads = [p.grad if p.grad is not None else torch.zeros_like(p) for p in params]
    extra = torch.tensor([value if value == value else 0.0, 0.0 if torch.isfinite(loss) else 1.0])
    dev = _device(d)
    flat = torch.cat([g.reshape(-1).to(dev) for g in grads] + [extra.to(dev)])
    d.all_reduce(flat)
    n = d.get_world_size()
    offset = 0
    for p, g in zip(params, grads, strict=True):
        k = g.numel()
        p.grad = (flat[offset : offset + k] / n).reshape(g.shape).to(device=g.device, dtype=g.dtype)
        offset += k
    return float("nan") if flat[-1] > 0 else float(flat[-2]) / n


def agree(stop: bool, elapsed: float, interrupted: bool) -> tuple[bool, float, bool]:
    """All processes agree on (stop, elapsed, interrupted): rank 0's stop decision and clock, anyone's interrupt."""
    d = _dist()
    if d is None:
        return stop, elapsed, interrupted
    main = d.get_rank() == 0
    t = torch.tensor([float(stop and main), elapsed if main else 0.0, float(interrupted)], dtype=torch.float64,
                     device=_device(d))
    d.all_reduce(t, op=d.ReduceOp.MAX)
    return bool(t[0] > 0), float(t[1]), bool(t[2] > 0)


def any_flag(flag: bool) -> bool:
    """True on every process when ``flag`` is true on any."""
    d = _dist()
    if d is None:
        return flag
    t = torch.tensor([float(flag)], device=_device(d))
    d.all_reduce(t, op=d.ReduceOp.MAX)
    return bool(t[0] > 0)


@torch.no_grad()
def average_parameters(module: torch.nn.Module) -> None:
    d = _dist()
    if d is None:
        return
    n = d.get_world_size()
    dev = _device(d)
    for p in module.parameters():
        t = p.data.to(dev)
        d.all_reduce(t)
        p.data.copy_(t / n)


def sharded_log_prob(model, x, **options) -> torch.Tensor:
    """``model.log_prob(x)`` with the rows split over processes; every process gets the full (N,) result.

    Each process evaluates its contiguous shard on its own (shards may be uneven, adaptive solvers may take
    different step counts: nothing inside waits on another process), then one ``all_gather`` of padded results."""
    d = _dist()
    if d is None:
        return model.log_prob(x, **options)
    n, w, r = len(x), d.get_world_size(), d.get_rank()
    bounds = [n * i // w for i in range(w + 1)]
    part = x[bounds[r] : bounds[r + 1]]
    local = model.log_prob(part, **options) if len(part) else torch.empty(0)
    width, dev = max(bounds[i + 1] - bounds[i] for i in range(w)), _device(d)
    padded = torch.full((width,), float("nan"), device=dev)
    padded[: len(local)] = local.to(dev)
    out = [torch.empty(width, device=dev) for _ in range(w)]
    d.all_gather(out, padded)
    return torch.cat([o[: bounds[i + 1] - bounds[i]].cpu() for i, o in enumerate(out)])


def shutdown() -> None:
    """Leave the process group (the end of a torchrun run)."""
    d = _dist()
    if d:
        # every rank waits for the others (rank 0 may still be writing the run) before the group is torn down:
        # tearing gloo down while a peer is still connected aborted a worker ("terminate called without an
        # active exception") in about 1 run in 10
        d.barrier()
        d.destroy_process_group()
