"""Backbones: the registry, shapes, conditioning (time, label, null label), checkpoint records, bad options."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import genlab
from genlab.nn import ScalarHead, backbone_from_spec, backbone_names, backbone_spec, build_backbone
from genlab.rng import forked

CASES = [("mlp", (1, 8, 8), {"hidden": 32, "depth": 2}), ("mlp", (5,), {"hidden": 32, "conditioning": "film"}),
         ("unet", (1, 8, 8), {"channels": [8, 16]}), ("unet", (3, 12, 20), {"channels": [8, 8, 16], "heads": 2}),
         ("dit", (1, 8, 8), {"hidden": 32, "depth": 2}), ("dit", (3, 12, 8), {"hidden": 32, "depth": 1, "patch": 4})]


def _randomise(net: nn.Module) -> nn.Module:
    """Undo the zero initialisations (adaLN-Zero, zero output convolutions) so every input matters."""
    g = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for p in net.parameters():
            p.copy_(torch.randn(p.shape, generator=g) * 0.1)
    return net.eval()


def test_builtins_are_registered():
    assert {"mlp", "unet", "dit"} <= set(backbone_names())


@pytest.mark.parametrize("name,shape,kw", CASES)
def test_shape_time_and_label_conditioning(name, shape, kw):
    g = torch.Generator().manual_seed(1)
    net = _randomise(build_backbone(name, shape, num_classes=3, **kw))
    x = torch.randn(4, *shape, generator=g)
    t = torch.tensor([0.1, 0.5, -1.0, 1.0])
    out = net(x, t, torch.tensor([0, 1, 2, 3]))
    assert out.shape == x.shape and torch.isfinite(out).all()
    assert torch.allclose(net(x, t), net(x, t, torch.full((4,), 3)))  # y=None is the null label
    assert not torch.allclose(net(x, t, torch.zeros(4, dtype=torch.long)), net(x, t, torch.ones(4, dtype=torch.long)))
    assert not torch.allclose(net(x, t), net(x, t + 0.01))  # resolves small changes of t (and of log sigma / 4)
    # rows are independent: a change in sample 0 leaves sample 1 alone
    x2 = x.clone()
    x2[0] += 1.0
    assert torch.allclose(net(x2, t)[1:], net(x, t)[1:], atol=1e-5)


@pytest.mark.parametrize("name,shape,kw", CASES[::2])
def test_a_few_steps_fit_a_denoising_target(name, shape, kw):
    """Gradients reach every layer: 30 Adam steps cut a denoising loss on a fixed batch."""
    with forked(0):
        net = build_backbone(name, shape, **kw)
    g = torch.Generator().manual_seed(2)
    x0 = torch.randn(16, *shape, generator=g)
    noise = torch.randn(16, *shape, generator=g)
    t = torch.rand(16, generator=g)
    opt = torch.optim.Adam(net.parameters(), lr=3e-3)
    losses = []
    for _ in range(30):
        loss = (net(x0 + noise, t) - noise).pow(2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
    assert losses[-1] < 0.7 * losses[0]


def test_scalar_head_gives_one_number_per_sample():
    net = ScalarHead(_randomise(build_backbone("unet", (1, 8, 8), channels=[8, 16], out_channels=4)))
    e = net(torch.randn(5, 1, 8, 8), torch.rand(5))
    assert e.shape == (5,)


class Tiny(nn.Module):
    def __init__(self, shape, *, num_classes=None, width: int = 4):
        super().__init__()
        self.out_shape = shape
        self.lin = nn.Linear(int(torch.tensor(shape).prod()) + 1, int(torch.tensor(shape).prod()))
        self.width = width

    def forward(self, x, t, y=None):
        flat = torch.cat([x.flatten(1), t.reshape(-1, 1)], 1)
        return self.lin(flat).view_as(x)


def test_custom_backbone_round_trips_through_its_spec():
    genlab.register_backbone("tiny_test", Tiny)
    net = build_backbone("tiny_test", (2, 2, 2), width=7)
    spec = backbone_spec("tiny_test", {"width": 7})
    assert spec == {"name": "tiny_test", "kwargs": {"width": 7}}
    again = backbone_from_spec(spec, (2, 2, 2))
    again.load_state_dict(net.state_dict())
    x, t = torch.randn(3, 2, 2, 2), torch.rand(3)
    assert again.width == 7 and torch.equal(again(x, t), net(x, t))
    with pytest.raises(genlab.ConfigError, match="not registered") as err:
        backbone_from_spec({"name": "nobody", "kwargs": {}}, (2,))
    assert "\n" not in str(err.value)


@pytest.mark.parametrize("call,match", [
    (lambda: build_backbone("resnet9000", (3,)), "unknown backbone.*dit.*mlp.*unet"),
    (lambda: build_backbone("unet", (1, 8, 8), chanels=[8]), "unknown option 'chanels'.*channels"),
    (lambda: build_backbone("unet", (16,)), r"image-shaped"),
    (lambda: build_backbone("unet", (1, 6, 6), channels=[8, 8, 8]), "divisible by 4"),
    (lambda: build_backbone("dit", (1, 7, 7)), "patch size 2"),
    (lambda: build_backbone("mlp", (4,), embedding="random"), "embedding"),
    (lambda: genlab.register_backbone("unet", Tiny), "built-in"),
    (lambda: backbone_spec("mlp", {"f": object()}), "JSON"),
])
def test_bad_options_are_config_errors(call, match):
    with pytest.raises(genlab.ConfigError, match=match):
        call()


@pytest.mark.parametrize("conditioning", ["add", "film"])
def test_conditional_mlp_conditions_on_level_and_label(conditioning):
    """Both conditionings: one row's output depends on its own level and label only, so a batch with one shared
    level (embedded once and broadcast) gives what the per-row path gives."""
    from genlab.nn import ConditionalMLP, FourierEmbedding

    torch.manual_seed(0)
    net = ConditionalMLP(3, hidden=16, depth=2, embedding=FourierEmbedding(8, scale=1.0), emb_dim=8, num_classes=2,
                         conditioning=conditioning)
    x, y = torch.randn(4, 3), torch.tensor([0, 1, 2, 0])
    shared = net(x, torch.full((4,), 0.3), torch.zeros(4, dtype=torch.long))
    per_row = net(x, torch.tensor([0.3, 0.3, 0.3, 0.3 + 1e-7]), torch.zeros(4, dtype=torch.long))
    assert torch.allclose(shared, per_row, atol=1e-5)
    assert not torch.allclose(net(x, torch.full((4,), 0.3), y), net(x, torch.full((4,), 0.9), y), atol=1e-3)
    assert not torch.allclose(net(x, torch.full((4,), 0.3), y), shared, atol=1e-3)


def test_unknown_mlp_conditioning_is_a_config_error():
    from genlab.nn import ConditionalMLP

    with pytest.raises(genlab.ConfigError, match="conditioning.*add, film"):
        ConditionalMLP(2, conditioning="gated")
    with pytest.raises(genlab.ConfigError, match="conditioning"):
        genlab.create("edm", (2,), conditioning="gated")
