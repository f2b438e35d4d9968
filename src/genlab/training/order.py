"""The order in which training rows are visited: one seeded permutation per epoch, resumable mid-epoch, sharded.

Each epoch draws a fresh permutation of the ``n`` rows from the batch-order generator and walks it in global
batches of ``world * batch`` rows (the tail of an epoch is dropped); process ``rank`` of ``world`` takes its slice
``[rank * batch, (rank + 1) * batch)`` of every global batch, so all processes together see exactly the rows a
single process with batch ``world * batch`` sees. The state is the generator's state at the start of the current
epoch plus the position in it: restoring it re-draws the same permutation and continues mid-epoch exactly.
"""

from __future__ import annotations

import torch

from genlab.errors import ConfigError

__all__ = ["BatchOrder", "batches"]


class BatchOrder:
    """Endless stream of index batches (see the module docstring); ``batch`` is per process."""

    def __init__(self, n: int, batch: int, generator: torch.Generator, *, world: int = 1, rank: int = 0):
        if world > n:
            raise ConfigError(f"{world} processes need at least {world} training rows, the data has {n}")
        self.n, self.generator, self.world, self.rank = int(n), generator, int(world), int(rank)
        total = min(int(batch) * self.world, self.n)
        self.batch = total // self.world  # per process; a single process clamps the batch to the data as before
        self.perm: torch.Tensor | None = None
        self.epoch_state: torch.Tensor | None = None
        self.pos = 0

    def _new_epoch(self) -> None:
        self.epoch_state = self.generator.get_state()
        self.perm = torch.randperm(self.n, generator=self.generator)
        self.pos = 0

    def __iter__(self):
        return self

    def __next__(self) -> torch.Tensor:
        total = self.batch * self.world
        if self.perm is None or self.pos + total > self.n:
            self._new_epoch()
        idx = self.perm[self.pos : self.pos + total]
        self.pos += total
        return idx[self.rank * self.batch : (self.rank + 1) * self.batch]

    def state_dict(self) -> dict:
        return {"epoch_state": None if self.epoch_state is None else self.epoch_state.clone(), "pos": self.pos}

    def load_state_dict(self, state: dict) -> None:
        if state["epoch_state"] is None:
            self.perm, self.epoch_state, self.pos = None, None, 0
            return
        self.generator.set_state(state["epoch_state"])
        self._new_epoch()
        self.pos = int(state["pos"])


def batches(n: int, batch_size: int, generator: torch.Generator):
    """Endless stream of index batches of one process: a fresh permutation per epoch (tail dropped)."""
    return BatchOrder(n, batch_size, generator)
