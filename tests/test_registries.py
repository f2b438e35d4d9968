"""The one Registry type's sealed built-ins and how-to hint, and the registries of backbones, couplings, noise
schedules, time distributions and tokenizers (each test iterates its registry, so a new entry is tested without editing this file)."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import genlab
from genlab.data.kinds.tokenizers import TOKENIZERS
from genlab.diffusion.schedules import SCHEDULES, karras_sigmas, log_snr_sigmas, make_sigmas, uniform_t_sigmas
from genlab.errors import ConfigError, DataError
from genlab.flow.couplings import COUPLINGS, couple
from genlab.flow.paths import TIME_DISTRIBUTIONS, path_times
from genlab.nn.backbones import BACKBONES, build_backbone
from genlab.registry import Registry


def test_sealed_names_are_never_replaced_and_the_hint_says_how_to_add_one():
    reg: Registry[int] = Registry("widget", how="add one with reg.register(name, value)")
    reg.register("alpha", 1)
    reg.seal()
    reg.register("alpha", 1)  # the same entry again is fine
    with pytest.raises(ConfigError, match="'alpha' is a built-in widget and cannot be replaced"):
        reg.register("alpha", 2, replace=True)
    reg.register("mine", 3)
    reg.register("mine", 4, replace=True)  # a user's own name stays replaceable
    assert reg.get("mine") == 4 and reg.names() == ["alpha", "mine"]
    with pytest.raises(ConfigError, match=r"unknown widget 'beta'; choose from: alpha, mine "
                                          r"\(add one with reg\.register\(name, value\)\)$"):
        reg.get("beta")


class _Net(nn.Module):
    def __init__(self, shape, *, num_classes=None, scale: float = 1.0):
        super().__init__()
        self.out_shape, self.scale = shape, scale

    def forward(self, x, t, y=None):
        return self.scale * x


def test_backbones_live_in_one_sealed_registry():
    assert isinstance(BACKBONES, Registry) and BACKBONES.names() == genlab.nn.backbone_names()
    with pytest.raises(ConfigError, match="'mlp' is a built-in backbone and cannot be replaced"):
        genlab.register_backbone("mlp", _Net)
    genlab.register_backbone("registry_test_net", _Net)
    try:
        genlab.register_backbone("registry_test_net", type("Again", (_Net,), {}))  # a re-run notebook cell
        assert type(build_backbone("registry_test_net", (2,))).__name__ == "Again"
    finally:
        BACKBONES.pop("registry_test_net")
    with pytest.raises(ConfigError, match=r"unknown backbone 'unet2' \(did you mean 'unet'\?\); choose from: dit, "
                                          r"mlp, unet, video_dit.*genlab\.register_backbone\(name, cls\)"):
        build_backbone("unet2", (3,))


@pytest.mark.parametrize("name", COUPLINGS.names())
def test_every_coupling_reorders_only_the_noise(name):
    g = torch.Generator().manual_seed(0)
    x0, x1 = torch.randn(64, 2, generator=g), torch.randn(64, 2, generator=g) + 3
    out = couple(name, x0, x1, block=16)
    assert torch.equal(out.sort(0).values, x0.sort(0).values)  # the same noise rows, paired differently
    cost = ((out - x1) ** 2).sum()
    assert cost <= ((x0 - x1) ** 2).sum() + 1e-9  # a coupling never pairs worse than drawn (ot: strictly better)
    with pytest.raises(ConfigError, match="unknown coupling 'oot'.*choose from: independent, ot"):
        couple("oot", x0, x1)


@pytest.mark.parametrize("name", SCHEDULES.names())
def test_every_schedule_is_a_decreasing_grid_from_sigma_max_to_zero(name):
    s = make_sigmas(name, 10, 0.002, 80.0, 7.0)
    assert s.shape == (11,) and s[-1] == 0 and torch.all(s[1:] < s[:-1]) and torch.isclose(s[0], s.new_tensor(80.0))


def test_make_sigmas_is_the_named_function():
    assert torch.equal(make_sigmas("karras", 8, 0.01, 10.0, 5.0), karras_sigmas(8, 0.01, 10.0, 5.0))
    assert torch.equal(make_sigmas("log_snr", 8, 0.01, 10.0, 5.0), log_snr_sigmas(8, 0.01, 10.0))
    assert torch.equal(make_sigmas("uniform_t", 8, 0.01, 10.0, 5.0), uniform_t_sigmas(8, 0.01, 10.0))
    with pytest.raises(ConfigError, match="unknown noise schedule 'karas' \\(did you mean 'karras'\\?\\)"):
        make_sigmas("karas", 8, 0.01, 10.0)
    with pytest.raises(ConfigError, match="config 'schedule' must be one of 'karras', 'log_snr', 'uniform_t'"):
        genlab.models.create("edm", (2,), schedule="linear")


@pytest.mark.parametrize("name", TOKENIZERS.names())
def test_every_tokenizer_round_trips_through_its_state(name):
    docs = ["the cat sat on the mat", "a dog barked at the moon"] * 20
    tok = TOKENIZERS.get(name)(vocab_size=300).fit(docs)
    again = TOKENIZERS.get(name).from_state(tok.state(), vocab_size=300)
    ids = tok.ids("the moon sat")
    assert tok.decode(ids) == "the moon sat" and again.ids("the moon sat") == ids and tok.special("<eot>") is not None
    with pytest.raises(DataError, match="unknown tokenizer 'words'"):
        TOKENIZERS.get("words")


@pytest.mark.parametrize("name", TIME_DISTRIBUTIONS.names())
def test_every_time_distribution_draws_seeded_times_in_the_open_unit_interval(name):
    def draw(seed, groups=0):
        return path_times(4096, torch.Generator().manual_seed(seed), distribution=name, loc=0.5, scale=1.2,
                          uniform_fraction=0.1, groups=groups, dtype=torch.float64)

    t = draw(0)
    assert t.shape == (4096,) and bool(((t > 0) & (t < 1)).all()) and float(t.std()) > 0.05
    assert torch.equal(t, draw(0)) and not torch.equal(t, draw(1))
    grouped = draw(0, groups=8)  # 8 times, each shared by a run of 512 consecutive rows
    assert grouped.unique().numel() == 8 and torch.equal(grouped.view(8, 512), grouped.view(8, 512)[:, :1].expand(8, 512))
    with pytest.raises(ConfigError, match=r"unknown time distribution 'unifrom' \(did you mean 'uniform'\?\)"):
        path_times(3, torch.Generator(), distribution="unifrom")
