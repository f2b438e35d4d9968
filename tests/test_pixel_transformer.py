"""pixel_transformer: exact discrete likelihood, step density, levels, order, sampling and imputation."""

from __future__ import annotations

import itertools
import math

import pytest
import torch

import genlab
from genlab.families.autoregressive import raster_order
from genlab.nn.transformer import GPT, GPTConfig

SMALL = {"n_layer": 1, "n_head": 2, "n_embd": 32, "dropout": 0.0}


def _pairs(n=400, seed=0):
    """x2 = x1 with x1 uniform on {0, 1, 2}: a known discrete distribution on (2,)."""
    g = torch.Generator().manual_seed(seed)
    a = torch.randint(0, 3, (n, 1), generator=g).float()
    return torch.cat([a, a], 1)


def test_probabilities_sum_to_one_over_all_values():
    m = genlab.create("pixel_transformer", (2,), levels=3, **SMALL)
    m.fitted = True  # the initial network: its distribution must already be normalised
    grid = torch.tensor(list(itertools.product(range(3), repeat=2)), dtype=torch.float32)
    assert math.isclose(float(m.log_prob(grid).exp().sum()), 1.0, rel_tol=1e-5)
    m.fit(_pairs(), torch.arange(400) % 2, steps=5, progress=False)
    for y in (0, 1):
        assert math.isclose(float(m.log_prob(grid, y=y).exp().sum()), 1.0, rel_tol=1e-5)


def test_step_density_floors_input_and_is_minus_inf_outside():
    m = genlab.create("pixel_transformer", (2,), **SMALL).fit(_pairs(), steps=5, progress=False)
    assert (m.config.levels, m.config.low) == (3, 0)
    x = _pairs(5, seed=1)
    u = torch.rand(5, 2, generator=torch.Generator().manual_seed(0))
    assert torch.allclose(m.log_prob(x + u), m.log_prob(x))
    assert torch.isinf(m.log_prob(torch.tensor([[3.0, 0.0], [-0.5, 1.0]]))).all()


def test_learns_a_known_distribution_and_imputes_exactly():
    data = _pairs()
    m = genlab.create("pixel_transformer", (2,), **SMALL).fit(data, steps=300, batch_size=64, lr=3e-3, progress=False)
    lp = m.log_prob(torch.tensor([[0.0, 0.0], [1.0, 1.0], [2.0, 2.0], [0.0, 1.0]]))
    freq = torch.bincount(data[:, 0].long(), minlength=3).float() / len(data)  # the maximum-likelihood answer
    assert torch.allclose(lp[:3], freq.log(), atol=0.1)
    assert lp[3] < -4
    x = torch.tensor([[0.0, 9.0], [2.0, 9.0], [9.0, 1.0], [9.0, 2.0]])
    mask = torch.tensor([[True, False], [True, False], [False, True], [False, True]])
    out = m.impute(x, mask, seed=0)  # rows 0-1: missing suffix (exact); rows 2-3: Gibbs
    assert torch.equal(out[:, 0], out[:, 1]) and torch.equal(out[mask], x[mask])


def test_levels_are_inferred_saved_and_reloaded(tmp_path):
    x = torch.tensor([[-2.0, 5.0], [0.0, 1.0], [3.0, -1.0]]).repeat(20, 1)
    m = genlab.create("pixel_transformer", (2,), **SMALL).fit(x, steps=3, progress=False)
    assert (m.config.low, m.config.levels) == (-2, 8)
    m.save(tmp_path / "run")
    m2 = genlab.load(tmp_path / "run")
    assert torch.equal(m2.log_prob(x[:3]), m.log_prob(x[:3]))
    assert torch.equal(m2.sample(4, seed=3), m.sample(4, seed=3))
    with pytest.raises(genlab.DataError, match="outside"):
        genlab.create("pixel_transformer", (2,), levels=4, **SMALL).fit(x, steps=1, progress=False)
    with pytest.raises(genlab.ConfigError, match="normalize"):
        genlab.create("pixel_transformer", (2,), normalize=True)


def test_raster_order_interleaves_channels():
    # (C=2, H=1, W=2): flat index c*2 + w; raster order visits (w=0: c0, c1), (w=1: c0, c1)
    assert raster_order((2, 1, 2)).tolist() == [0, 2, 1, 3]
    assert raster_order((5,)).tolist() == list(range(5))


def test_transformer_is_causal():
    net = GPT(GPTConfig(vocab_size=7, block_size=6, n_layer=2, n_head=2, n_embd=16)).eval()
    idx = torch.randint(0, 7, (3, 6), generator=torch.Generator().manual_seed(0))
    changed = idx.clone()
    changed[:, 3] = (changed[:, 3] + 1) % 7
    a, b = net(idx), net(changed)
    assert torch.allclose(a[:, :3], b[:, :3], atol=1e-6) and not torch.allclose(a[:, 3:], b[:, 3:])


def test_temperature_and_image_shape():
    x = torch.randint(0, 4, (64, 1, 2, 2)).float()
    m = genlab.create("pixel_transformer", (1, 2, 2), **SMALL).fit(x, steps=3, progress=False)
    s = m.sample(5, seed=0, temperature=0.5)
    assert s.shape == (5, 1, 2, 2) and torch.equal(s, s.round()) and s.min() >= 0 and s.max() <= 3
    with pytest.raises(genlab.ConfigError, match="temperature"):
        m.sample(2, temperature=0.0)


def test_class_conditioning_and_null_label():
    """Each class puts all its mass on one value; y=None (the null label) mixes the classes."""
    y = torch.arange(300) % 3
    x = (2 * y).float().unsqueeze(1).repeat(1, 2)  # class k -> (2k, 2k)
    m = genlab.create("pixel_transformer", (2,), **SMALL).fit(x, y, steps=200, batch_size=64, lr=3e-3,
                                                            progress=False)
    for k in range(3):
        assert (m.sample(20, y=k, seed=k) == 2 * k).all()
    s = m.sample(60, seed=0)
    assert len(s[:, 0].unique()) >= 2 and torch.isin(s, torch.tensor([0.0, 2.0, 4.0])).float().mean() > 0.9


def test_cached_decoding_matches_the_full_pass():
    net = GPT(GPTConfig(vocab_size=7, block_size=6, n_layer=2, n_head=2, n_embd=16)).eval()
    idx = torch.randint(0, 7, (3, 6), generator=torch.Generator().manual_seed(1))
    full = net(idx)
    cache = net.new_cache()
    steps = [net(idx[:, :2], cache)] + [net(idx[:, t : t + 1], cache) for t in range(2, 6)]
    assert torch.allclose(torch.cat(steps, 1), full, atol=1e-5)
