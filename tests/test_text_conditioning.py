"""Caption conditioning (issue 27): a diffusion model fitted on captions follows them, guidance sharpens that, the
tokenizer survives save/load, and bad captions are one-line errors."""

from __future__ import annotations

import pytest
import torch

import genlab
from genlab.errors import ConfigError, DataError

WORDS = (("left", "on the left", "west side"), ("right", "on the right", "east side"))
TEXT = {"dim": 32, "depth": 1, "heads": 2}


def _toy(n=1200, seed=0):
    """Two overlapping 2-D Gaussians (means -1 / +1 along x, sd 0.7) captioned with synonyms of their side: the side
    given the caption is right for P(N(1, 0.7) > 0) = 0.92 of the data."""
    g = torch.Generator().manual_seed(seed)
    side = torch.randint(0, 2, (n,), generator=g)
    x = torch.randn(n, 2, generator=g) * 0.7 + torch.stack([side * 2.0 - 1, torch.zeros(n)], 1)
    return x, [WORDS[int(s)][i % 3] for i, s in enumerate(side)]


@pytest.fixture(scope="module")
def toy_model():
    torch.set_num_threads(1)
    x, caps = _toy()
    m = genlab.create("edm", 2, patience=0, batch_size=128, text_encoder=TEXT, hidden=64, p_uncond=0.2)
    return m.fit(x, caps, steps=400, seed=0, progress=False)


def _right(m, caption, guidance, n=600, seed=1):
    return float((m.sample(n, y=caption, guidance=guidance, seed=seed)[:, 0] > 0).float().mean())


def test_follows_the_caption_and_guidance_sharpens(toy_model):
    # data: 0.92 on the caption's side; chance (ignoring the caption) 0.5
    plain = [_right(toy_model, "east side", 0.0), 1 - _right(toy_model, "on the left", 0.0)]
    guided = [_right(toy_model, "east side", 3.0), 1 - _right(toy_model, "on the left", 3.0)]
    assert min(plain) > 0.8, plain
    assert min(g - p for g, p in zip(guided, plain, strict=True)) > 0.03, (plain, guided)
    unconditional = _right(toy_model, "", 0.0)  # the empty caption is the null caption: both sides
    assert 0.3 < unconditional < 0.7, unconditional


def test_a_list_of_captions_conditions_row_by_row(toy_model):
    s = toy_model.sample(400, y=["left", "right"] * 200, seed=3)
    assert float((s[0::2, 0] < 0).float().mean()) > 0.8 and float((s[1::2, 0] > 0).float().mean()) > 0.8


def test_save_load_keeps_the_tokenizer_and_samples(toy_model, tmp_path):
    toy_model.save(tmp_path / "run")
    back = genlab.load(tmp_path / "run")
    assert back.label_encoder.state() == toy_model.label_encoder.state()
    a = toy_model.sample(64, y="on the right", guidance=2.0, seed=5)
    assert torch.equal(a, back.sample(64, y="on the right", guidance=2.0, seed=5))


def test_bad_captions_are_one_line_errors(toy_model):
    with pytest.raises(DataError, match=r"never saw the characters 'Q', 'é'"):
        toy_model.sample(4, y="Qé left")
    with pytest.raises(ConfigError, match="fitted on captions"):
        toy_model.sample(4, y=1)
    with pytest.raises(DataError, match="3 captions for 4 samples"):
        toy_model.sample(4, y=["left"] * 3)
    plain = genlab.create("edm", 2, steps=2, patience=0).fit(torch.randn(64, 2), progress=False)
    with pytest.raises(ConfigError, match="not fitted on captions"):
        plain.sample(2, y="left")
    gmm = genlab.create("gmm", 2)
    with pytest.raises(ConfigError, match="unconditional"):
        gmm.fit(torch.randn(64, 2), ["left"] * 64, progress=False)


@pytest.fixture(scope="module")
def dit_run(tmp_path_factory):
    """A tiny flow-matching DiT fitted for two steps on captioned 8x8 images, saved as a run directory."""
    torch.set_num_threads(1)
    x = torch.rand(16, 3, 8, 8)
    caps = ["a red dot", "a blue box"] * 8
    m = genlab.create("flow_matching", (3, 8, 8), backbone="dit", patience=0, text_encoder=TEXT,
                      backbone_options={"patch": 4, "hidden": 32, "depth": 1, "heads": 2})
    m.fit(x, caps, steps=2, batch_size=8, seed=0, progress=False)
    out = tmp_path_factory.mktemp("captions") / "dit"
    m.save(out)
    return m, out


def test_image_backbones_read_captions(dit_run):
    m, _ = dit_run
    assert all(b.cross is not None for b in m.net.backbone.backbone.blocks)
    tokens = m.net.text(m._labels_for(["a red box", "a blue dot"], 2))
    x, t = torch.randn(2, 3 * 8 * 8), torch.full((2,), 0.5)
    for block in m.net.backbone.backbone.blocks:  # cross-attention starts at zero: open it
        torch.nn.init.normal_(block.cross.attn.proj.weight)
    a = m.net.backbone(x, t, tokens)
    swapped_tokens = tokens._replace(tokens=tokens.tokens.flip(0), mask=tokens.mask.flip(0))
    assert not torch.allclose(a, m.net.backbone(x, t, swapped_tokens))  # the tokens reach the image
    assert not torch.allclose(a, m.net.backbone(x, t, tokens._replace(pooled=tokens.pooled.flip(0))))  # and adaLN
    u = genlab.create("edm", (3, 8, 8), backbone="unet", patience=0, text_encoder=TEXT,
                      backbone_options={"channels": [8, 16]})
    u.fit(torch.rand(16, 3, 8, 8), ["a red dot", "a blue box"] * 8, steps=1, batch_size=8, progress=False)
    assert any(type(layer).__name__ == "SpatialCrossAttention" for layer in u.net.backbone.backbone.mid)


def test_a_backbone_without_text_dim_is_refused():
    from genlab.nn.dit import DiT

    class PlainDiT(DiT):
        def __init__(self, shape, *, num_classes=None, patch=4):
            super().__init__(shape, num_classes=num_classes, patch=patch)

    genlab.register_backbone("plain_dit_for_captions", PlainDiT)
    m = genlab.create("edm", (3, 8, 8), backbone="plain_dit_for_captions", patience=0)
    with pytest.raises(ConfigError, match="backbone 'plain_dit_for_captions' takes no captions"):
        m.fit(torch.rand(4, 3, 8, 8), ["a", "b"] * 2, steps=1, progress=False)


def test_cli_prompt(dit_run, tmp_path):
    from click.testing import CliRunner

    from genlab.cli import cli

    def run(*args):
        return CliRunner().invoke(cli, ["sample", *map(str, args)], catch_exceptions=False)

    _, run_dir = dit_run
    grid = tmp_path / "grid.png"
    r = run(run_dir, "--prompt", "a blue dot", "-n", 4, "--guidance", 3, "--steps", 2, "--out", grid)
    assert r.exit_code == 0 and grid.is_file(), r.stderr
    plain = tmp_path / "plain"
    genlab.create("edm", 2, steps=2, patience=0).fit(torch.randn(64, 2), progress=False).save(plain)
    bad = [((plain, "--prompt", "a dot"), "unconditional, not on captions"),
           ((run_dir, "--prompt", "  "), "--prompt is empty"),
           ((run_dir, "--prompt", "a Blue dot!"), "never saw: '!', 'B'"),
           ((run_dir, "--prompt", "a dot", "--guidance", -1), "--guidance must be >= 0"),
           ((run_dir, "--prompt", "a dot", "--label", 1), "not both")]
    for args, words in bad:
        r = run(*args, "-n", 2, "--out", tmp_path / "bad.npy")
        lines = r.stderr.strip().splitlines()
        assert r.exit_code == 2 and len(lines) == 1 and words in lines[0], (args, r.stderr)
    assert not (tmp_path / "bad.npy").exists()


def _fresh(n, heldout, seed=123):
    import numpy as np

    from genlab.data.shapes import draw_attributes, render

    rng = np.random.default_rng(seed)
    a = draw_attributes(n, rng, heldout=heldout)
    return torch.from_numpy(np.stack([render(r) for r in a])), torch.from_numpy(a)


@pytest.mark.parametrize("heldout", [False, True])
def test_the_shipped_judge_reads_fresh_images(heldout):
    from genlab.metrics.attributes import attribute_accuracy

    x, a = _fresh(300, heldout)
    acc = attribute_accuracy(x, a)
    assert min(acc.per_attribute().values()) >= 0.95 and acc.joint >= 0.9, acc
    wrong = a.clone()
    wrong[:, 1] = (wrong[:, 1] + 1) % 6  # every colour asked wrongly: only the colour (and joint) accuracy falls
    bad = attribute_accuracy(x, wrong)
    assert bad.colour < 0.05 and bad.joint < 0.05 and bad.shape == acc.shape and bad.position == acc.position


def test_frechet_in_the_judges_features():
    from genlab.metrics.judge import frechet_shapes

    x, _ = _fresh(400, False)
    same = frechet_shapes(x)
    assert same < 0.2 * frechet_shapes(torch.rand(400, 3, 32, 32))
    assert same < 0.5 * frechet_shapes(x.roll(5, dims=3))  # objects moved half a cell, off the grid


def test_captioned_image_fit_with_early_stopping():
    """The held-out denoising bound of early stopping (genlab.families._floor) repeats caption rows (N, L) too."""
    torch.set_num_threads(1)
    x = (torch.rand(64, 3, 8, 8) * 4).floor() / 4
    m = genlab.create("edm", (3, 8, 8), backbone="dit", text_encoder=TEXT, val_every=5,
                      backbone_options={"patch": 4, "hidden": 32, "depth": 1, "heads": 2})
    m.fit(x, ["a red dot", "a blue box"] * 32, steps=10, batch_size=16, progress=False)
    assert "val_loss" in m.history[-1]


def test_pretraining_learns_the_conditional_mean_and_freezes():
    """The encoder pre-trained on caption -> row (genlab.training.caption_pretrain) separates captions that mean
    different rows, gives synonyms nearly the same embedding, and stops taking gradients."""
    from genlab.data.kinds.text import TextEncoder
    from genlab.nn.text_encoder import CaptionEncoder, caption_ids
    from genlab.training.caption_pretrain import pretrain_caption_encoder

    torch.manual_seed(0)
    caps = [WORDS[i % 2][(i // 2) % 3] for i in range(600)]
    z = torch.tensor([[-1.0, 2.0] if i % 2 == 0 else [1.0, -2.0] for i in range(600)])
    tok = TextEncoder("char").fit(caps)
    enc = CaptionEncoder(tok.vocab_size, **TEXT)
    ids = caption_ids(tok, caps)
    pooled = lambda c: enc(caption_ids(tok, c)).pooled.detach()  # noqa: E731
    phrases = ["left", "on the left", "west side", "right", "on the right", "east side"]

    def separation():  # nearest phrase of the other side / farthest synonym
        d = torch.cdist(pooled(phrases), pooled(phrases))
        return float(d[:3, 3:].min() / max(d[:3, :3].max(), d[3:, 3:].max()))

    before = separation()
    record = pretrain_caption_encoder(enc, z, ids, steps=600, batch_size=64, lr=3e-3, seed=0)
    assert record["steps"] == 600 and record["loss"] < 0.05  # the target's variance is 2.5
    assert not any(p.requires_grad for p in enc.parameters())
    assert separation() > 1.2 > before


def test_a_fit_pretrains_once_then_trains_the_denoiser_only(tmp_path):
    torch.set_num_threads(1)
    x, caps = _toy(300)
    m = genlab.create("edm", 2, patience=0, batch_size=64, text_encoder={**TEXT, "pretrain_steps": 20}, hidden=32)
    m.fit(x, caps, steps=30, seed=0, progress=False)
    assert m.text_pretrained and m.pretrain_record["steps"] == 20
    enc = {k: v.clone() for k, v in m.net.text.state_dict().items()}
    head = [p.clone() for p in m.net.backbone.parameters()]
    m.fit(x, caps, steps=10, seed=1, progress=False)  # a second fit: no second pre-training, the encoder stays
    assert m.pretrain_record["steps"] == 20
    assert all(torch.equal(v, m.net.text.state_dict()[k]) for k, v in enc.items())
    assert any(not torch.equal(a, b) for a, b in zip(head, m.net.backbone.parameters(), strict=True))
    m.save(tmp_path / "run")
    back = genlab.load(tmp_path / "run")
    assert back.text_pretrained and not any(p.requires_grad for p in back.net.text.parameters())
    joint = genlab.create("edm", 2, patience=0, batch_size=64, text_encoder={**TEXT, "pretrain_steps": 0}, hidden=32)
    joint.fit(x, caps, steps=5, seed=0, progress=False)
    assert not getattr(joint, "text_pretrained", False)
    assert all(p.requires_grad for p in joint.net.text.parameters())
