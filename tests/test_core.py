"""The foundation: registry, validation, training loop, checkpoints, and the classical references."""

from __future__ import annotations

import json
import pickle
import time

import numpy as np
import pytest
import torch
from torch import nn

import genlab
from genlab.errors import CheckpointError, ConfigError, DataError
from genlab.training import TrainSpec, train


# ------------------------------------------------------------------ registry and config
def test_names_and_unknown_model():
    assert {"gmm", "kde"} <= set(genlab.models.names())
    with pytest.raises(ConfigError, match="unknown model 'nope'"):
        genlab.create("nope", (2,))


def test_unknown_and_bad_config_keys():
    with pytest.raises(ConfigError, match="unknown config key 'n_comp'.*valid keys"):
        genlab.create("gmm", (2,), n_comp=3)
    with pytest.raises(ConfigError, match="n_components"):
        genlab.create("gmm", (2,), n_components="many")
    m = genlab.create("gmm", (2,), n_components="3")  # strings convert (the CLI's --set)
    assert m.config.n_components == 3


@pytest.mark.parametrize(
    "bad, match",
    [
        (np.array([[1.0, np.nan]] * 5), "NaN or infinite"),
        (np.array([[1.0, np.inf]] * 5), "NaN or infinite"),
        (np.zeros(5), "at least 2 dimensions"),
        (np.zeros((5, 3)), "per-sample shape"),
        (np.zeros((0, 2)), "empty"),
        (np.array([["a", "b"]]), "numeric"),
    ],
)
def test_bad_data_is_rejected(bad, match):
    m = genlab.create("gmm", (2,))
    with pytest.raises(DataError, match=match):
        m.fit(bad)


def test_bad_fit_arguments():
    x = torch.randn(50, 2)
    m = genlab.create("gmm", (2,))
    for kwargs in ({"steps": 0}, {"steps": -3}, {"time_budget": 0}, {"time_budget": -1.0}):
        with pytest.raises(ConfigError):
            m.fit(x, **kwargs)
    with pytest.raises(ConfigError, match="unconditional"):
        m.fit(x, y=np.zeros(50, dtype=int))
    with pytest.raises(ConfigError):
        m.sample(0)


# ------------------------------------------------------------------ the training loop
class _Quadratic(nn.Module):
    def __init__(self):
        super().__init__()
        self.w = nn.Parameter(torch.zeros(2))


def test_train_loop_steps_history_and_seed():
    x = torch.randn(100, 2) + torch.tensor([3.0, -1.0])
    runs = []
    for _ in range(2):
        mod = _Quadratic()
        hist = train(mod, lambda xb, yb, mod=mod, generator=None: (xb - mod.w).pow(2).sum(1), x, None, TrainSpec(steps=300, lr=0.05, progress=False, seed=4))
        runs.append(mod.w.detach().clone())
        assert len(hist) == 300 and hist[-1]["step"] == 300 and hist[-1]["loss"] < hist[0]["loss"]
    assert torch.equal(runs[0], runs[1])
    assert torch.allclose(runs[0], x.mean(0), atol=0.15)


def test_train_loop_time_budget_stops_cleanly():
    mod = _Quadratic()
    x = torch.randn(100, 2)

    def slow_loss(xb, yb, generator=None):
        time.sleep(0.01)
        return (xb - mod.w).pow(2).sum(1)

    t0 = time.perf_counter()
    hist = train(mod, slow_loss, x, None, TrainSpec(steps=None, time_budget=0.3, progress=False))
    assert time.perf_counter() - t0 < 2.0
    assert 3 <= len(hist) < 100 and hist[-1]["time"] >= 0.3


def test_train_loop_ema_averages_weights():
    x = torch.randn(200, 2, generator=torch.Generator().manual_seed(0)) + 5
    lagging, warm = _Quadratic(), _Quadratic()
    for mod, warmup in ((lagging, False), (warm, True)):
        spec = TrainSpec(steps=20, lr=0.5, ema=0.99, ema_warmup=warmup, progress=False)
        train(mod, lambda xb, yb, mod=mod, generator=None: (xb - mod.w).pow(2).sum(1), x, None, spec)
        assert set(mod.raw_weights) == {"w"}  # the raw weights are kept beside the average
    # without warm-up the average over 20 steps at decay 0.99 still holds ~82 % of the initial weights (near 0);
    # with warm-up (decay_t = min(0.99, (1 + t) / (10 + t))) it has followed the weights most of the way to 5
    assert lagging.w.abs().max() < 3.0
    assert warm.w.min() > 3.0
    assert not torch.equal(warm.raw_weights["w"], warm.w)


def test_ema_decay_warmup_formula():
    from genlab.training import EMA, ema_decay

    assert ema_decay(0.999, 1) == pytest.approx(2 / 11)
    assert ema_decay(0.999, 10**6) == 0.999
    assert ema_decay(0.999, 1, warmup=False) == 0.999
    p = torch.nn.Parameter(torch.zeros(3))
    ema = EMA([p], 0.9)
    with torch.no_grad():
        p.fill_(1.0)
    ema.update()  # beta_1 = 2/11: the shadow moves 9/11 of the way
    assert torch.allclose(ema.shadow[0], torch.full((3,), 9 / 11))


def test_ema_raw_weights_survive_checkpoint(tmp_path):
    m = genlab.create("vp_sde", (2,), hidden=16, depth=1, ema=0.99)
    m.fit(torch.randn(256, 2, generator=torch.Generator().manual_seed(0)), steps=30, progress=False)
    assert set(m.raw_weights) == {k for k, _ in m.named_parameters()}
    m.save(tmp_path / "r")
    m2 = genlab.load(tmp_path / "r")
    for k, v in m.raw_weights.items():
        assert torch.equal(m2.raw_weights[k], v)
    assert not torch.equal(m2.raw_weights["net.out.weight"], m2.net.out.weight)  # average != raw


# ------------------------------------------------------------------ checkpoints
@pytest.fixture
def saved(tmp_path):
    m = genlab.create("gmm", (2,), n_components=2).fit(torch.randn(200, 2))
    m.save(tmp_path / "run")
    return m, tmp_path / "run"


def test_checkpoint_roundtrip_keeps_everything(saved):
    m, path = saved
    meta = json.loads((path / "config.json").read_text())
    assert meta["model"] == "gmm" and meta["shape"] == [2] and meta["config"]["n_components"] == 2
    assert set(meta) >= {"genlab_version", "normalization", "training_step", "likelihood"}
    m2 = genlab.load(path)
    x = torch.randn(5, 2)
    assert torch.allclose(m.log_prob(x), m2.log_prob(x))
    assert not list(path.glob("*.tmp")), "no temporary files are left behind"


def test_checkpoint_errors(saved, tmp_path):
    _, path = saved
    with pytest.raises(CheckpointError, match="no checkpoint"):
        genlab.load(tmp_path / "missing")
    # truncated weights
    w = path / "model.safetensors"
    good = w.read_bytes()
    w.write_bytes(good[: len(good) // 2])
    with pytest.raises(CheckpointError, match="truncated or foreign"):
        genlab.load(path)
    # a pickle renamed .safetensors is refused without being unpickled
    w.write_bytes(pickle.dumps({"weights": [1, 2, 3]}))
    with pytest.raises(CheckpointError):
        genlab.load(path)
    w.write_bytes(good)
    cfg = path / "config.json"
    meta = json.loads(cfg.read_text())
    # wrong model name
    cfg.write_text(json.dumps({**meta, "model": "not_a_model"}))
    with pytest.raises(CheckpointError, match="unknown model"):
        genlab.load(path)
    # another model's config
    cfg.write_text(json.dumps({**meta, "model": "kde"}))
    with pytest.raises(CheckpointError, match="cannot be used: unknown config keys"):
        genlab.load(path)
    # shape mismatch between config and weights
    cfg.write_text(json.dumps({**meta, "shape": [3]}))
    with pytest.raises(CheckpointError, match="has shape"):
        genlab.load(path)
    # foreign JSON
    cfg.write_text(json.dumps({"architectures": ["BertModel"]}))
    with pytest.raises(CheckpointError, match="not a genlab checkpoint"):
        genlab.load(path)
    cfg.write_text("{not json")
    with pytest.raises(CheckpointError, match="not valid JSON"):
        genlab.load(path)


def test_save_into_a_file_is_refused(tmp_path):
    f = tmp_path / "file.txt"
    f.write_text("keep me")
    with pytest.raises(CheckpointError, match="is a file"):
        genlab.create("gmm", (2,)).fit(torch.randn(50, 2)).save(f)
    assert f.read_text() == "keep me"


# ------------------------------------------------------------------ classical references
def test_gmm_impute_is_the_exact_conditional(gauss2d):
    x, mean, cov = gauss2d
    m = genlab.create("gmm", (2,), n_components=1).fit(x)
    q = torch.tensor([[0.0, float("nan")], [2.0, float("nan")]])
    filled = m.impute(q)
    # conditional mean of x2 given x1 under the fitted Gaussian ~ the true one
    true = mean[1] + cov[1, 0] / cov[0, 0] * (q[:, 0] - mean[0])
    assert torch.allclose(filled[:, 1], true, atol=0.1)
    draws = torch.cat([m.impute(q[:1].expand(2000, 2).clone(), fill="sample", seed=s) for s in range(2)])
    cond_var = cov[1, 1] - cov[1, 0] ** 2 / cov[0, 0]
    assert abs(draws[:, 1].var() - cond_var) < 0.1 * cond_var


def test_kde_impute_and_density(gauss2d):
    x, mean, cov = gauss2d
    m = genlab.create("kde", (2,)).fit(x)
    filled = m.impute(torch.tensor([[1.0, float("nan")]]))
    assert abs(float(filled[0, 1]) - float(mean[1])) < 0.25
    # the estimate integrates to 1 on a grid
    g = torch.linspace(-6, 6, 241)
    pts = torch.stack(torch.meshgrid(g + 1, g - 2, indexing="ij"), -1).reshape(-1, 2)
    mass = m.log_prob(pts).exp().sum() * (g[1] - g[0]) ** 2
    assert abs(float(mass) - 1) < 0.01


def test_gmm_integrates_to_one_and_fits(gauss2d):
    x, mean, cov = gauss2d
    m = genlab.create("gmm", (2,), n_components=3).fit(x)
    g = torch.linspace(-8, 8, 321)
    pts = torch.stack(torch.meshgrid(g + 1, g - 2, indexing="ij"), -1).reshape(-1, 2)
    assert abs(float(m.log_prob(pts).exp().sum() * (g[1] - g[0]) ** 2) - 1) < 0.01
    s = m.sample(4000, seed=0)
    assert torch.allclose(s.mean(0), mean, atol=0.1)
    assert torch.allclose(torch.cov(s.T), cov, atol=0.12)


def test_unknown_options_are_rejected():
    m = genlab.create("gmm", (2,)).fit(torch.randn(100, 2))
    with pytest.raises(ConfigError, match="sampler .pc. is not available for model .gmm.; its samplers: ancestral"):
        m.sample(5, sampler="pc")
    with pytest.raises(ConfigError, match="unknown log_prob option"):
        m.log_prob(torch.randn(3, 2), rtol=1e-3)
    with pytest.raises(ConfigError, match="accepted: fill"):
        m.impute(torch.tensor([[0.0, float("nan")]]), steps=5)
    with pytest.raises(ConfigError, match="'mean' or 'sample'"):
        m.impute(torch.tensor([[0.0, float("nan")]]), fill="median")


def test_dequantized_fit_is_a_density_over_the_cells():
    """Fitted with dequantize=True on integer data, the model is a density over [0, L)^D: the uniform
    dequantization of a 1-D variable uniform on 4 levels has density 1/4, so log p ~ -log 4."""
    g = torch.Generator().manual_seed(0)
    x = torch.randint(0, 4, (4000, 1), generator=g).float()
    m = genlab.create("kde", (1,), bandwidth=0.05).fit(x, dequantize=True, seed=0)
    lp = m.log_prob(x[:2000] + torch.rand(2000, 1, generator=g))
    assert abs(float(lp.mean()) + np.log(4)) < 0.1


def test_dequantized_impute_reads_and_returns_integer_levels(tmp_path):
    """A model of x + U[0, 1) reads observed integers at their cell centres and fills on the level scale.

    x1 uniform on 0..9, x2 = 9 - x1, x3 independent uniform on 0..4. A one-component GMM is (nearly) exact for the
    linear part: E[x2 | x1 = k] = 9 - k, E[x3 | x1] = 2. Reading k as a cell's left edge would put x2's fill one
    level off (9 - k + 1) and x3's half a level off (2.5)."""
    g = torch.Generator().manual_seed(0)
    k = torch.randint(0, 10, (4000,), generator=g).float()
    x = torch.stack([k, 9 - k, torch.randint(0, 5, (4000,), generator=g).float()], 1)
    m = genlab.create("gmm", (3,), n_components=1).fit(x, dequantize=True, seed=0)
    levels = torch.arange(10.0)
    q = torch.stack([levels, torch.full_like(levels, float("nan")), torch.full_like(levels, float("nan"))], 1)
    filled = m.impute(q, seed=0)
    assert torch.equal(filled[:, 0], levels)
    torch.testing.assert_close(filled[:, 1], 9 - levels, atol=0.1, rtol=0)
    torch.testing.assert_close(filled[:, 2], torch.full_like(levels, float(x[:, 2].mean())), atol=0.05, rtol=0)
    m.save(tmp_path / "run")
    assert torch.equal(genlab.load(tmp_path / "run").impute(q, seed=0), filled)
