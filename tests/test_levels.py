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
