"""Training noise levels drawn in groups (genlab.diffusion.levels) and the MLP that conditions once per group."""

from __future__ import annotations

import pytest
import torch

import genlab
from genlab.diffusion.levels import group_count, grouped_normal, grouped_uniform
from genlab.flow import path_times
from genlab.nn import ConditionalMLP, FourierEmbedding
from genlab.nn.mlp import level_runs
from genlab.rng import make_generator, rand, randn


def test_grouped_uniform_is_one_stratified_draw_per_run():
    u = grouped_uniform(512, 32, make_generator(0))
    runs = u.reshape(32, 16)
    assert (runs == runs[:, :1]).all()  # one value per run of 16 consecutive rows
    cells = torch.floor(runs[:, 0] * 32).long()
    assert cells.tolist() == list(range(32))  # exactly one draw in each cell of probability 1/32
    assert level_runs(u) == 32


def test_grouped_draws_have_the_right_distribution():
    g = make_generator(1)
    u = torch.cat([grouped_uniform(64, 8, g, dtype=torch.float64)[::8] for _ in range(2000)])
    n = torch.cat([grouped_normal(64, 8, g, dtype=torch.float64)[::8] for _ in range(2000)])
    assert abs(u.mean().item() - 0.5) < 0.01 and abs(u.var().item() - 1 / 12) < 0.003
    assert abs(n.mean().item()) < 0.03 and abs(n.var().item() - 1) < 0.05 and torch.isfinite(n).all()
    # the stratified mean of a batch is far less noisy than the mean of as many independent draws
    means = torch.stack([grouped_normal(64, 8, g, dtype=torch.float64)[::8].mean() for _ in range(500)])
    iid = torch.stack([randn((8,), g, dtype=torch.float64).mean() for _ in range(500)])
    assert means.var() < 0.5 * iid.var()


@pytest.mark.parametrize("n, groups", [(512, 0), (512, 300), (100, 32), (6, 4)])
def test_grouping_falls_back_to_one_level_per_row(n, groups):
    """groups 0, too many groups, or a batch not divisible into runs of two or more rows: the old i.i.d. draws."""
    assert group_count(n, groups) == n
    assert torch.equal(grouped_uniform(n, groups, make_generator(3)), rand((n,), make_generator(3)))
    assert torch.equal(grouped_normal(n, groups, make_generator(3)), randn((n,), make_generator(3)))


def test_path_times_in_groups_keep_the_runs_and_the_mixture():
    t = path_times(512, make_generator(0), distribution="logit_normal", loc=1.8, scale=1.6, uniform_fraction=0.5,
                   groups=32)
    assert level_runs(t) == 32 and ((t > 0) & (t < 1)).all()
    base = path_times(512, make_generator(0), distribution="logit_normal", loc=1.8, scale=1.6, uniform_fraction=0.1)
    again = path_times(512, make_generator(0), distribution="logit_normal", loc=1.8, scale=1.6, uniform_fraction=0.1,
                       groups=0)
    assert torch.equal(base, again)


def test_level_runs():
    t = torch.tensor([0.1, 0.1, 0.2, 0.2, 0.3, 0.3])
    assert level_runs(t) == 3
    assert level_runs(torch.full((6,), 0.5)) == 1
    assert level_runs(torch.tensor([0.1, 0.1, 0.2, 0.2, 0.2, 0.3])) == 6  # runs of unequal length
    assert level_runs(torch.tensor([0.1, 0.2, 0.1, 0.2])) == 4  # not consecutive
    assert level_runs(t, torch.tensor([0, 0, 1, 1, 2, 2])) == 3
    assert level_runs(t, torch.tensor([0, 1, 1, 1, 2, 2])) == 6  # a label changes inside a run
    assert level_runs(torch.full((4,), 0.5), torch.tensor([0, 0, 1, 1])) == 4


@pytest.mark.parametrize("conditioning", ["add", "film"])
@pytest.mark.parametrize("labels", [False, True])
def test_mlp_conditioned_once_per_run_equals_the_per_row_network(conditioning, labels):
    """Outputs and parameter gradients of a batch in runs equal those of each row on its own."""
    torch.manual_seed(0)
    net = ConditionalMLP(3, hidden=16, depth=2, embedding=FourierEmbedding(8, scale=1.0), emb_dim=8,
                         num_classes=3 if labels else None, conditioning=conditioning)
    x = torch.randn(12, 3)
    t = torch.tensor([0.2, 0.7, 0.4]).repeat_interleave(4)
    y = torch.tensor([0, 2, 3]).repeat_interleave(4) if labels else None
    assert level_runs(t, y) == 3
    grouped = net(x, t, y)
    grads = torch.autograd.grad(grouped.pow(2).sum(), list(net.parameters()))
    rows = torch.cat([net(x[i:i + 1], t[i:i + 1], None if y is None else y[i:i + 1]) for i in range(12)])
    ref = torch.autograd.grad(rows.pow(2).sum(), list(net.parameters()))
    assert torch.allclose(grouped, rows, atol=1e-6)
    for a, b in zip(grads, ref, strict=True):
        assert torch.allclose(a, b, atol=1e-5)
    assert net(x[:0], t[:0]).shape == (0, 3)


@pytest.mark.parametrize("name", ["edm", "vp_sde", "vp_sde/importance", "flow_matching"])
def test_training_batches_reach_the_network_in_runs(name):
    """The losses draw noise_groups levels per batch, and noise_groups=0 one per row."""
    from genlab.families.score import _ImportanceTime

    seen = []
    for groups in (16, 0):
        m = genlab.create(name.split("/")[0], (2,), noise_groups=groups, hidden=16, depth=1, emb_dim=8)
        if name.endswith("importance"):  # as a fit with the likelihood weighting sets it
            m._weights = _ImportanceTime(m.sde, m.config.eps)
        forward = m.net.forward

        def spy(x, t, y=None, forward=forward):
            seen.append(level_runs(t.reshape(-1).expand(len(x)) if t.numel() == 1 else t.reshape(-1)))
            return forward(x, t, y)

        m.net.forward = spy
        z = torch.randn(64, 2)
        m.loss(z, None, generator=make_generator(0)).mean().backward()
    assert seen == [16, 64]


def test_noise_groups_is_validated():
    with pytest.raises(genlab.ConfigError, match="noise_groups"):
        genlab.create("edm", (2,), noise_groups=-1)


# ---------------------------------------------------------------------------------------------- multi-process draws
def _shards(draw, world=2, seed=7):
    """``draw(source)`` made by each of ``world`` processes' sharded sources of one step, concatenated, and by one
    process's generator: the two must be equal (every draw of the global batch, then this process's rows)."""
    from genlab.training.distributed import ShardedSource

    parts = [draw(ShardedSource(make_generator(seed), world, r)) for r in range(world)]
    return torch.cat(parts), parts


@pytest.mark.parametrize("groups", [0, 8, 32])
def test_sharded_groups_are_the_groups_of_the_global_batch(groups):
    """2 processes x 32 rows draw the levels of 1 process x 64 rows, groups included (finding: groups per process
    made 2 x B differ from 1 x 2B)."""
    from genlab.diffusion.levels import grouped_rand

    for fn in (grouped_uniform, grouped_normal, grouped_rand):
        both, parts = _shards(lambda s, fn=fn: fn(32, groups, s))
        assert torch.equal(both, fn(64, groups, make_generator(7))), (fn.__name__, groups)
    times = lambda g, n: path_times(n, g, distribution="logit_normal", loc=1.8, scale=1.6,  # noqa: E731
                                    uniform_fraction=0.3, groups=groups)
    assert torch.equal(_shards(lambda s: times(s, 32))[0], times(make_generator(7), 64))


def test_sharded_source_draws_per_row_categories_and_noise():
    """A sharded source draws iCT's level indices (multinomial) and the noise rows of the global batch."""
    from genlab.rng import multinomial

    probs = torch.tensor([0.1, 0.2, 0.3, 0.4])
    both, _ = _shards(lambda s: multinomial(probs, 32, s, replacement=True))
    assert torch.equal(both, multinomial(probs, 64, make_generator(7), replacement=True))
    both, _ = _shards(lambda s: randn((32, 3), s))
    assert torch.equal(both, randn((64, 3), make_generator(7)))
    from genlab.training.distributed import ShardedSource

    with pytest.raises(ValueError, match="1-D probs"):
        multinomial(probs.expand(2, 4), 1, ShardedSource(make_generator(0), 2, 0))
