"""Training noise levels drawn in groups: a few stratified draws, each shared by a run of consecutive rows.

A denoising loss averages over data rows and noise levels (sigma, or a time t). Drawing one level per row costs the
network one conditioning computation per row; for genlab's FiLM MLP that was 40 % of the multiplications of a
training step. Here a batch of n rows gets g levels: u_k = (k + U_k) / g, k = 0 .. g - 1 (one uniform draw in each of
g cells of equal probability: stratified sampling, e.g. Owen 2013, "Monte Carlo theory, methods and examples",
Sec. 8.4), mapped through the level distribution's inverse CDF, each given to n / g consecutive rows (the rows of a
batch are already in random order). The loss stays an unbiased estimate of the same objective, the levels cover
their distribution more evenly than g independent draws would, and :class:`genlab.nn.ConditionalMLP` computes its
conditioning once per run (:func:`genlab.nn.mlp.level_runs`).

``groups`` <= 0, or a batch of fewer rows than ``groups`` or not divisible by it, falls back to one independent level
per row.

Under multi-process training the batch is the global one: with a sharded draw source (:func:`genlab.rng.sharding`)
of ``world`` processes of ``n`` rows each, the groups are those of a batch of ``world * n`` rows, drawn alike on
every process from the global stream, and each process keeps its rows. So N processes with batch B draw exactly
the levels of one process with batch N B (a run may span two processes).
"""

from __future__ import annotations

import torch

from genlab.rng import rand, randn, sharding, target_of

__all__ = ["grouped_uniform", "grouped_normal", "grouped_rand", "group_count"]


def group_count(n: int, groups: int) -> int:
    """The number of runs a batch of ``n`` rows gets: ``groups`` when it divides n into runs of at least two rows,
    else n (one level per row)."""
    if groups <= 0 or groups * 2 > n or n % groups:
        return n
    return groups


def _layout(n: int, groups: int, generator) -> tuple[torch.Generator, int, int, int]:
    """(whole, total, g, first): the generator of the global batch, its rows, its group count and this process's
    first row."""
    whole, world, rank = sharding(generator)
    total = n * world
    return whole, total, group_count(total, groups), rank * n


def _runs(values: torch.Tensor, total: int, first: int, n: int, dtype, device) -> torch.Tensor:
    """One value per run repeated over the global batch's rows, this process's ``n`` rows kept."""
    return values.repeat_interleave(total // len(values))[first : first + n].to(dtype=dtype, device=device)


def grouped_uniform(n: int, groups: int, generator, *, dtype=torch.float32, device=None) -> torch.Tensor:
    """(n,) levels in [0, 1): ``groups`` stratified U[0, 1) draws, each repeated over a run of consecutive rows
    (:func:`group_count` of the global batch); i.i.d. U[0, 1) per row when it falls back."""
    whole, total, g, first = _layout(n, groups, generator)
    if g == total:
        return rand((n,), generator, dtype=dtype, device=device)
    u = (torch.arange(g, dtype=torch.float64) + rand((g,), whole, dtype=torch.float64, device="cpu")) / g
    return _runs(u, total, first, n, dtype, device if device is not None else target_of(whole))


def grouped_normal(n: int, groups: int, generator, *, dtype=torch.float32, device=None) -> torch.Tensor:
    """(n,) standard normal levels: the inverse normal CDF of :func:`grouped_uniform` (i.i.d. N(0, 1) per row
    when it falls back)."""
    whole, total, g, _ = _layout(n, groups, generator)
    if g == total:
        return randn((n,), generator, dtype=dtype, device=device)
    u = grouped_uniform(n, groups, generator, dtype=torch.float64, device="cpu").clamp(1e-12, 1 - 1e-12)
    return torch.special.ndtri(u).to(dtype=dtype, device=device if device is not None else target_of(whole))


def grouped_rand(n: int, groups: int, generator, *, dtype=torch.float32, device=None) -> torch.Tensor:
    """(n,) U[0, 1) draws, one independent (not stratified) draw per run of :func:`grouped_uniform`'s layout, e.g.
    a choice made per group; i.i.d. per row when it falls back."""
    whole, total, g, first = _layout(n, groups, generator)
    if g == total:
        return rand((n,), generator, dtype=dtype, device=device)
    u = rand((g,), whole, dtype=dtype, device="cpu")
    return _runs(u, total, first, n, dtype, device if device is not None else target_of(whole))
