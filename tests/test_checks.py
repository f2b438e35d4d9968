"""genlab.checks: each helper refuses what it should, in one line naming the option; configs run them once."""

import numpy as np
import pytest
import torch

import genlab
from genlab.checks import (
    available,
    capable,
    in_range,
    instance_of,
    known_options,
    no_labels,
    nonnegative_int,
    not_both,
    one_of,
    positive_int,
    require,
)
from genlab.errors import ConfigError
from genlab.families.edm import EDMConfig
from genlab.families.vae import VAEConfig


@pytest.mark.parametrize("bad", [0, -3, 2.5, True, "3", None])
def test_positive_int_refuses(bad):
    with pytest.raises(ConfigError, match=r"^steps must be a positive integer, got .+$"):
        positive_int("steps", bad)


def test_integer_helpers_accept_and_return_ints():
    assert positive_int("steps", 3) == 3 and positive_int("steps", 4.0) == 4 and type(positive_int("s", 4.0)) is int
    assert nonnegative_int("sweeps", 0) == 0
    with pytest.raises(ConfigError, match="sweeps must be a non-negative integer, got -1"):
        nonnegative_int("sweeps", -1)


@pytest.mark.parametrize(("value", "bounds", "interval"), [
    (1.0, {"ge": 0, "lt": 1}, r"\[0, 1\)"), (0.0, {"gt": 0}, r"\(0, inf\)"), (float("nan"), {}, r"\(-inf, inf\)"),
    (float("inf"), {"ge": 0}, r"\[0, inf\)"), ("x", {"ge": 0}, r"\[0, inf\)"), (2, {"le": 1}, r"\(-inf, 1\]")])
def test_in_range_refuses(value, bounds, interval):
    with pytest.raises(ConfigError, match=f"^p must be a finite number in {interval}, got"):
        in_range("p", value, **bounds)


def test_in_range_and_one_of_pass_values_through():
    assert in_range("p", 0.0, ge=0, lt=1) == 0.0 and in_range("p", 1, le=1) == 1
    assert one_of("m", "mean", ("mean", "sample")) == "mean"
    with pytest.raises(ConfigError, match="^m must be 'mean' or 'sample', got 'median'$"):
        one_of("m", "median", ("mean", "sample"))
    with pytest.raises(ConfigError, match="^m must be one of 'a', 'b', 'c', got 'd'$"):
        one_of("m", "d", ("a", "b", "c"))
    require(True, "never")
    with pytest.raises(ConfigError, match="^s0 <= s1$"):
        require(False, "s0 <= s1")


def test_configs_check_field_bounds_and_cross_field_rules_once_when_made():
    with pytest.raises(ConfigError, match=r"config 'p_uncond' must be a finite number in \[0, 1\), got 1.0"):
        genlab.create("edm", 2, p_uncond=1.0)
    with pytest.raises(ConfigError, match="edm needs sigma_min < sigma_max"):
        genlab.create("edm", 2, sigma_min=100.0)
    with pytest.raises(ConfigError, match="edm needs sigma_min < sigma_max"):  # a config made directly, too
        EDMConfig(sigma_min=100.0)
    with pytest.raises(ConfigError, match="levels must be >= 2"):
        genlab.create("pixel_transformer", 4, levels=1)
    with pytest.raises(ConfigError, match=r"config 'hidden' must be a finite number in \[1, inf\), got 0"):
        VAEConfig(hidden=0)  # field bounds hold for a config made directly as well


def test_every_model_default_config_passes_its_own_checks():
    for name in genlab.models.names():
        genlab.models.get(name).Config()


def test_positive_int_takes_numpy_integers_as_ints():
    assert positive_int("n", np.int64(3)) == 3 and type(positive_int("n", np.int32(2))) is int
    with pytest.raises(ConfigError, match=r"^n must be a positive integer, got "):
        positive_int("n", np.int64(0))


def test_call_level_refusals_are_one_line_and_name_the_way_out():
    assert instance_of("prompt", "a dot", str, "a string") == "a dot"
    with pytest.raises(ConfigError, match="^prompt must be a string, got int$"):
        instance_of("prompt", 3, str, "a string")
    known_options({"steps": 3}, ["steps", "jumps"])
    with pytest.raises(ConfigError, match="^unknown impute options 'a', 'b' for model 'gmm'; accepted: fill$"):
        known_options({"b": 1, "a": 2, "fill": 3}, ["fill"], what="impute", owner="model 'gmm'")
    not_both("--label", True, "--prompt", False)
    with pytest.raises(ConfigError, match="^give either --label or --prompt, not both$"):
        not_both("--label", True, "--prompt", True)
    assert available("sampler", "ddim", ["ddim", "euler"], "edm") == "ddim"
    with pytest.raises(ConfigError, match="^sampler 'ald' is not available for model 'edm'; its samplers: ddim, euler$"):
        available("sampler", "ald", ["ddim", "euler"], "edm")
    no_labels("gpt", False)
    with pytest.raises(ConfigError, match="^model 'gpt' is unconditional: it takes no labels$"):
        no_labels("gpt", True)
    capable(True, "gpt", "cannot infill", lambda: 1 / 0)  # the able list is only computed for the message
    with pytest.raises(ConfigError, match="^model 'gpt' cannot infill; models that can: mdlm$"):
        capable(False, "gpt", "cannot infill", lambda: ["mdlm"])


class _WrongWidth(torch.nn.Module):
    def forward(self, x, t, y=None):
        return x.new_zeros(len(x), 3)


def test_a_user_backbone_is_checked_once_when_set():
    m = genlab.create("edm", 2)
    with pytest.raises(ConfigError, match="^a backbone must be a torch.nn.Module, got object$"):
        m.set_backbone(object())
    with pytest.raises(ConfigError, match=r"^backbone output has shape \(2, 3\) for input \(2, 2\); expected \(2, 2\)$"):
        m.set_backbone(_WrongWidth())
    with pytest.raises(ConfigError, match=r"^the backbone must be callable as net\(x, t, y=None\)"):
        m.set_backbone(torch.nn.Linear(2, 2))
