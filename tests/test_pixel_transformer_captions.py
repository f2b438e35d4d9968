"""pixel_transformer with captions as a prefix (issue 27), classifier-free guidance on its logits, values in [0, 1]
read as levels (quantize) and one token per pixel (joint_channels)."""

from __future__ import annotations

import itertools
import math

import pytest
import torch

import genlab
from genlab.errors import ConfigError, DataError

SMALL = {"n_layer": 1, "n_head": 2, "n_embd": 32, "dropout": 0.0}
WORDS = (("a red one", "red", "crimson thing"), ("a blue one", "blue", "azure thing"))


def _toy(n=400, seed=0):
    """(3, 4, 4) images whose lit pixels (each lit with probability 0.7) are all red or all blue, as the caption
    (one of three synonyms) says."""
    g = torch.Generator().manual_seed(seed)
    blue = torch.randint(0, 2, (n,), generator=g)
    lit = (torch.rand(n, 1, 4, 4, generator=g) < 0.7).float()
    x = torch.zeros(n, 3, 4, 4)
    x[:, 0:1] = lit * (1 - blue).float().view(-1, 1, 1, 1)
    x[:, 2:3] = lit * blue.float().view(-1, 1, 1, 1)
    return x, [WORDS[int(b)][i % 3] for i, b in enumerate(blue)]


@pytest.fixture(scope="module")
def model():
    torch.set_num_threads(1)
    x, caps = _toy()
    m = genlab.create("pixel_transformer", (3, 4, 4), quantize=2, joint_channels=True, **SMALL)
    return m.fit(x, caps, steps=150, batch_size=64, lr=3e-3, seed=0, progress=False)


def _red_share(s: torch.Tensor) -> torch.Tensor:
    """Per sample: the share of its lit pixels that are red (NaN for an all-black sample)."""
    lit = (s.sum(1) > 0).flatten(1).sum(1)
    return ((s[:, 0] > 0).flatten(1).sum(1) / lit).nan_to_num(0.5)


def test_samples_follow_the_caption(model):
    assert model.config.prefix_length == max(len(w) for pair in WORDS for w in pair)
    for caption, red in (("a red one", True), ("crimson thing", True), ("blue", False), ("azure thing", False)):
        share = _red_share(model.sample(100, y=caption, seed=1))
        right = (share > 0.9) if red else (share < 0.1)
        assert float(right.float().mean()) > 0.9, caption
    both = model.sample(100, y=["red", "blue"] * 50, seed=2)  # one caption per row
    assert float((_red_share(both[0::2]) > 0.9).float().mean()) > 0.9
    assert float((_red_share(both[1::2]) < 0.1).float().mean()) > 0.9
    plain = float((_red_share(model.sample(200, y="", seed=3)) > 0.5).float().mean())  # the null caption
    assert 0.25 < plain < 0.75, plain


def test_guidance_samples_the_guided_logits():
    """One value, so ancestral sampling with guidance w draws from softmax((1 + w) l(y) - w l(null)) exactly."""
    torch.set_num_threads(1)
    g = torch.Generator().manual_seed(0)
    y = torch.randint(0, 2, (300,), generator=g)
    x = (y + 2 * torch.randint(0, 2, (300,), generator=g)).float()[:, None]  # label 0 -> {0, 2}, 1 -> {1, 3}
    m = genlab.create("pixel_transformer", (1,), levels=4, p_uncond=0.3, **SMALL)
    m.fit(x, y, steps=30, batch_size=64, lr=3e-3, progress=False)
    with torch.no_grad():
        cond, plain = (m._logits(torch.zeros(1, 0, dtype=torch.long), t)[0, 0] for t in (torch.tensor([1]), None))
    w = 2.0
    want = torch.softmax((1 + w) * cond - w * plain, -1)
    got = torch.bincount(m.sample(8000, y=1, guidance=w, seed=4)[:, 0].long(), minlength=4) / 8000
    assert (got - want).abs().max() < 0.02, (got, want)
    assert (want - torch.softmax(cond, -1)).abs().max() > 0.05  # guidance changed the distribution


def test_save_load_keeps_the_prefix_and_samples(model, tmp_path):
    model.save(tmp_path / "run")
    back = genlab.load(tmp_path / "run")
    assert back.config.prefix_length == model.config.prefix_length
    a = model.sample(8, y="azure thing", guidance=1.5, seed=5)
    assert torch.equal(a, back.sample(8, y="azure thing", guidance=1.5, seed=5))


def test_quantized_step_density_and_joint_colours_are_normalised():
    """quantize=3 on (3, 1, 1): 27 cells of width 1/2 per value, one token of 27 colours (joint_channels)."""
    m = genlab.create("pixel_transformer", (3, 1, 1), quantize=3, joint_channels=True, **SMALL)
    m.fit(torch.rand(64, 3, 1, 1), steps=5, progress=False)
    assert (m.K, m.T) == (27, 1)
    grid = torch.tensor(list(itertools.product(range(3), repeat=3)), dtype=torch.float32).view(27, 3, 1, 1) / 2
    mass = m.log_prob(grid).exp() * 0.5**3  # density x cell volume
    assert math.isclose(float(mass.sum()), 1.0, rel_tol=1e-5)
    assert torch.equal(m.log_prob(grid + 0.2), m.log_prob(grid))  # within the cell: the same density
    s = m.sample(50, seed=0)
    assert set(torch.unique(s).tolist()) <= {0.0, 0.5, 1.0}


def test_bad_input_is_one_line(model):
    with pytest.raises(DataError, match=r"longer than the model's prefix_length \(13"):
        model.sample(2, y="a red one a red one")
    with pytest.raises(DataError, match=r"outside \[0, 1\] \(quantize=2\)"):
        genlab.create("pixel_transformer", (2,), quantize=2, **SMALL).fit(torch.full((8, 2), 3.0), steps=1,
                                                                          progress=False)
    with pytest.raises(ConfigError, match="joint_channels needs images"):
        genlab.create("pixel_transformer", (4,), joint_channels=True)
    with pytest.raises(ConfigError, match="colours per token"):
        genlab.create("pixel_transformer", (3, 2, 2), quantize=256, joint_channels=True)
    mask = torch.ones(1, 3, 4, 4, dtype=torch.bool)
    mask[0, 0, 0, 0] = False  # one channel of a pixel
    with pytest.raises(ConfigError, match="whole pixels"):
        model.impute(torch.zeros(1, 3, 4, 4), mask)


def test_cli_prompt_to_a_pixel_transformer_run(model, tmp_path):
    """Words never seen together (known characters) are taken; a prompt longer than the prefix is one line."""
    import numpy as np
    from click.testing import CliRunner

    from genlab.cli import cli

    model.save(tmp_path / "run")

    def run(*args):
        return CliRunner().invoke(cli, ["sample", str(tmp_path / "run"), "-n", "40", *map(str, args)],
                                  catch_exceptions=False)

    r = run("--prompt", "blue thing", "--guidance", 2, "--out", tmp_path / "s.npy")
    assert r.exit_code == 0, r.stderr
    assert float((_red_share(torch.from_numpy(np.load(tmp_path / "s.npy"))) < 0.1).float().mean()) > 0.9
    r = run("--prompt", "a red one a red one", "--out", tmp_path / "bad.npy")
    lines = r.stderr.strip().splitlines()
    assert r.exit_code == 2 and len(lines) == 1 and "longer than the model's prefix_length" in lines[0], r.stderr
