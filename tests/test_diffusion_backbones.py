"""Diffusion models on registered backbones over the data's own shape, rebuilt by genlab.load from the config."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import genlab
from genlab.errors import GenlabError


class Tiny(nn.Module):
    """A custom backbone ``net(x, t, y=None)`` on (N, 1, 4, 4) images."""

    def __init__(self, shape, *, num_classes=None, width: int = 8):
        super().__init__()
        self.conv = nn.Conv2d(shape[0] + 1, width, 3, padding=1)
        self.out = nn.Conv2d(width, shape[0], 3, padding=1)

    def forward(self, x, t, y=None):
        tt = t.reshape(-1, 1, 1, 1).expand(x.shape[0], 1, *x.shape[2:])
        return self.out(torch.relu(self.conv(torch.cat([x, tt], 1))))


@pytest.fixture
def images():
    return torch.rand(64, 1, 4, 4, generator=torch.Generator().manual_seed(0))


@pytest.mark.parametrize("name,backbone", [("edm", "unet"), ("vp_sde", "dit")])
def test_builtin_backbones_keep_image_shape_and_reload(name, backbone, images, tmp_path):
    opts = {"channels": [8, 16]} if backbone == "unet" else {"hidden": 32, "depth": 1, "heads": 2, "patch": 2}
    m = genlab.create(name, (1, 4, 4), backbone=backbone, backbone_options=opts)
    m.fit(images, steps=3, progress=False)
    s = m.sample(5, seed=0, sampler="euler", steps=3)
    assert s.shape == (5, 1, 4, 4) and torch.isfinite(s).all()
    m.save(tmp_path / "r")
    m2 = genlab.load(tmp_path / "r")
    assert m2.config.backbone == backbone and m2.config.backbone_options == opts
    torch.testing.assert_close(m2.sample(5, seed=0, sampler="euler", steps=3), s)


def test_cnf_velocity_field_on_a_backbone_keeps_likelihood_and_reloads(images, tmp_path):
    """FFJORD with a U-Net as f(t, z): trains, its log_prob is finite and the reloaded model gives the same values."""
    m = genlab.create("cnf", (1, 4, 4), backbone="unet", backbone_options={"channels": [8, 16]}, exact_max_dim=0)
    m.fit(images, steps=2, progress=False)
    assert m.odefunc.field.net.backbone.__class__.__name__ == "UNet"
    lp = m.log_prob(images[:6], seed=0, method="rk4", steps=4)
    assert lp.shape == (6,) and torch.isfinite(lp).all()
    m.save(tmp_path / "c")
    m2 = genlab.load(tmp_path / "c")
    torch.testing.assert_close(m2.log_prob(images[:6], seed=0, method="rk4", steps=4), lp)


def test_custom_backbone_registered_by_name_reloads(images, tmp_path):
    genlab.register_backbone("tiny_test_net", Tiny)
    m = genlab.create("edm", (1, 4, 4), backbone="tiny_test_net", backbone_options={"width": 4})
    m.fit(images, steps=3, progress=False)
    m.save(tmp_path / "r")
    assert isinstance(genlab.load(tmp_path / "r").net.backbone, Tiny)
    from genlab.nn import backbones

    backbones._REGISTRY.pop("tiny_test_net")
    with pytest.raises(GenlabError, match="backbone 'tiny_test_net' is not registered|unknown backbone 'tiny_test_net'"):
        genlab.load(tmp_path / "r")
    with pytest.raises(GenlabError, match="unknown backbone"):
        genlab.create("edm", (1, 4, 4), backbone="nope")
