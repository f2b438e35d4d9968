"""Random streams: every random draw in genlab takes a generator made from the caller's seed.

- :func:`make_generator` turns ``(seed, *stream)`` into a ``torch.Generator``: independent streams of one seed
  (e.g. batch order and noise draws of a training run) come from numpy's ``SeedSequence`` hashing of the tuple.
  ``seed=None`` gives a generator seeded from fresh OS entropy, so an unseeded call is random but still never
  reads or changes the caller's global torch RNG. ``make_generator(..., target=device)`` gives a CPU generator that
  also names where its draws go (:class:`TargetedGenerator`): the draw functions below put results there unless
  told otherwise. Draws stay on the CPU generator and are moved, so a seed gives the same numbers on every device
  (and results on the CPU are those of a plain generator).
- :func:`randn`, :func:`rand`, :func:`randint`, :func:`randn_like`, :func:`rand_like`, :func:`randperm`,
  :func:`multinomial` draw from a
  generator, on the generator's device, and move the result to the requested device (default: the generator's
  ``target``, else where it draws). ``generator`` may also be
  any object with the same-named methods (e.g. a sharded source for multi-process training), which is then used.
- :func:`sharding` tells a draw that is shared by several rows (a group's noise level) how to make it under
  multi-process training: from the whole global batch's stream, alike on every process, before the process keeps
  its rows (:mod:`genlab.diffusion.levels`).
- :func:`forked` runs a block whose draws cannot take a generator (parameter initialisation, dropout,
  ``torch.distributions`` sampling) with the global RNG seeded from the caller's seed and restored afterwards.
"""

from __future__ import annotations

import contextlib

import numpy as np
import torch

__all__ = ["make_generator", "TargetedGenerator", "target_of", "derive_seed", "randn", "rand", "randint", "randn_like", "rand_like", "randperm",
           "multinomial", "sharding", "seed_from", "forked"]


def derive_seed(seed: int | None, *stream: int) -> int:
    """A 63-bit seed for the stream ``(seed, *stream)``; ``seed=None`` draws one from OS entropy."""
    if seed is None:
        return int(np.random.SeedSequence().generate_state(1, np.uint64)[0] >> np.uint64(1))
    if not stream:
        return int(seed)
    return int(np.random.SeedSequence([int(seed) & (2**63 - 1), *map(int, stream)]).generate_state(1, np.uint64)[0]
               >> np.uint64(1))


class TargetedGenerator(torch.Generator):
    """A CPU ``torch.Generator`` whose draws (through this module) are moved to ``target``, the device of the model
    that uses it; it is a plain generator everywhere else."""

    target: torch.device


def make_generator(seed: int | None, *stream: int, device=None, target=None) -> torch.Generator:
    """A ``torch.Generator`` on ``device`` (default CPU) seeded by :func:`derive_seed` of ``(seed, *stream)``;
    with ``target``, a CPU :class:`TargetedGenerator` whose draws go to that device."""
    if target is not None:
        if device is not None:
            raise ValueError("make_generator: give device (where it draws) or target (where draws go), not both")
        g = TargetedGenerator()
        g.target = torch.device(target)
    else:
        g = torch.Generator(device=device) if device is not None else torch.Generator()
    g.manual_seed(derive_seed(seed, *stream))
    return g


def target_of(generator) -> torch.device | None:
    """Where the draws of ``generator`` go by default: its ``target`` (None for a plain generator)."""
    return getattr(generator, "target", None)


def _custom(generator):
    return generator is not None and not isinstance(generator, torch.Generator)


def _draw(fn, size, generator, dtype, device, **kw):
    device = device if device is not None else target_of(generator)
    gdev = generator.device if generator is not None else device
    out = fn(*kw.pop("args", ()), tuple(size), generator=generator, dtype=dtype, device=gdev, **kw)
    return out if device is None else out.to(device)


def randn(size, generator: torch.Generator, *, dtype=None, device=None) -> torch.Tensor:
    """Standard normal draws of shape ``size`` from ``generator``."""
    if _custom(generator):
        return generator.randn(size, dtype=dtype, device=device)
    return _draw(torch.randn, size, generator, dtype or torch.get_default_dtype(), device)


def rand(size, generator: torch.Generator, *, dtype=None, device=None) -> torch.Tensor:
    """U[0, 1) draws of shape ``size`` from ``generator``."""
    if _custom(generator):
        return generator.rand(size, dtype=dtype, device=device)
    return _draw(torch.rand, size, generator, dtype or torch.get_default_dtype(), device)


def randint(low: int, high: int, size, generator: torch.Generator, *, device=None) -> torch.Tensor:
    """Integers uniform in [low, high) of shape ``size`` from ``generator`` (int64)."""
    if _custom(generator):
        return generator.randint(low, high, size, device=device)
    return _draw(torch.randint, size, generator, torch.int64, device, args=(int(low), int(high)))


def randn_like(x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    return randn(x.shape, generator, dtype=x.dtype, device=x.device)


def rand_like(x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    return rand(x.shape, generator, dtype=x.dtype, device=x.device)


def randperm(n: int, generator: torch.Generator, *, device=None) -> torch.Tensor:
    """A random permutation of ``range(n)`` from ``generator``."""
    if _custom(generator):
        return generator.randperm(n, device=device)
    device = device if device is not None else target_of(generator)
    gdev = generator.device if generator is not None else device
    out = torch.randperm(int(n), generator=generator, device=gdev)
    return out if device is None else out.to(device)


def multinomial(probs: torch.Tensor, num_samples: int, generator: torch.Generator, *,
                replacement: bool = False) -> torch.Tensor:
    """Indices drawn from the rows of ``probs`` (as :func:`torch.multinomial`) with ``generator``, on probs' device.

    A sharded source (multi-process training) draws ``num_samples`` per-row categories of one distribution: 1-D
    ``probs`` with replacement (the global batch's draws, sliced to this process's rows)."""
    if _custom(generator):
        return generator.multinomial(probs, num_samples, replacement=replacement)
    gdev = generator.device if generator is not None else probs.device
    out = torch.multinomial(probs.to(gdev), int(num_samples), replacement, generator=generator)
    return out.to(probs.device)


def sharding(generator) -> tuple[torch.Generator, int, int]:
    """(whole, world, rank) of a draw source: a sharded source (:class:`genlab.training.distributed.ShardedSource`)
    makes the draws of the global batch of ``world`` processes' rows from the generator ``whole`` and keeps process
    ``rank``'s slice; a plain generator is its own whole, (generator, 1, 0). A draw shared by a run of rows is made
    from ``whole`` on every process, so that all processes make it alike and the run can span processes."""
    if _custom(generator) and hasattr(generator, "world"):
        return generator.generator, int(generator.world), int(generator.rank)
    return generator, 1, 0


def seed_from(generator: torch.Generator) -> int:
    """A 62-bit seed drawn from ``generator``: seeds a :func:`forked` block inside a call that holds a generator."""
    return int(randint(0, 2**62, (), generator))


@contextlib.contextmanager
def forked(seed: int | None):
    """Run a block with the global torch RNG (CPU and CUDA) seeded from ``seed`` and restored afterwards."""
    devices = list(range(torch.cuda.device_count())) if torch.cuda.is_available() else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(derive_seed(seed))
        yield
