"""One name per meaning (issue 24, item 4): the names replaced with checkpoint format 7 still work where users pass
them (config keywords, ``--set``, call options) with a DeprecationWarning naming the new one, and old checkpoints read
them through ``genlab.checkpoint.LEGACY_NAMES`` (tests/test_legacy_checkpoints.py loads real ones)."""

from __future__ import annotations

import dataclasses
import json

import pytest
import torch
from click.testing import CliRunner

import genlab
from genlab.checkpoint import LEGACY_NAMES, VERSION, upgrade_config
from genlab.cli import cli
from genlab.errors import ConfigError
from genlab.registry import RENAMED_FIELDS, RENAMED_OPTIONS


def _fields(name: str) -> set[str]:
    return {f.name for f in dataclasses.fields(genlab.models.get(name).Config)}


def test_no_config_keeps_an_old_name_and_every_new_name_is_used():
    fields = {name: _fields(name) for name in genlab.models.names()}
    for old, new in RENAMED_FIELDS.items():
        assert not any(old in f for f in fields.values()), f"a config still has the old field '{old}'"
        assert any(new in f for f in fields.values()), f"no config has the new field '{new}'"
    assert VERSION >= 7 and LEGACY_NAMES[7] == RENAMED_FIELDS


@pytest.mark.parametrize("model,old,new,value", [("ncsn", "num_levels", "n_levels", 5),
                                                 ("made", "components", "n_components", 2),
                                                 ("cnf", "exact_trace_max_dim", "exact_max_dim", 1),
                                                 ("cnf", "solver", "method", "rk4"),
                                                 ("pixel_transformer", "label_dropout", "p_uncond", 0.25)])
def test_old_config_keyword_warns_and_sets_the_new_field(model, old, new, value):
    with pytest.warns(DeprecationWarning, match=f"'{old}' is now called '{new}'"):
        m = genlab.create(model, (3,), **{old: value})
    assert getattr(m.config, new) == value
    with pytest.raises(ConfigError, match=f"'{old}' is the old name of '{new}'"):
        genlab.create(model, (3,), **{old: value, new: value})


def test_upgrade_config_renames_only_older_formats():
    old = {"components": 2, "hidden_features": [8]}
    assert upgrade_config(old, 6, genlab.models.get("made").Config) == {"n_components": 2, "hidden_features": [8]}
    assert upgrade_config(old, 7, genlab.models.get("made").Config) == old  # format 7 has no old names
    # a name renamed for one family is left alone where the new name is no field (gmm has no "method")
    assert upgrade_config({"solver": "x"}, 6, genlab.models.get("gmm").Config) == {"solver": "x"}


def test_old_call_options_warn_and_give_the_same_numbers():
    assert RENAMED_OPTIONS == {"impute": {"method": "fill"}, "log_prob": {"trace": "divergence"}}
    g = torch.Generator().manual_seed(0)
    x = torch.randn(200, 2, generator=g) @ torch.tensor([[1.0, 0.0], [0.8, 0.6]])
    m = genlab.create("gmm", (2,), n_components=2).fit(x, progress=False)
    holes = x[:5].clone()
    holes[:, 1] = float("nan")
    new = m.impute(holes, seed=3, fill="sample")
    with pytest.warns(DeprecationWarning, match="impute option 'method' is now called 'fill'"):
        old = m.impute(holes, seed=3, method="sample")
    torch.testing.assert_close(old, new, rtol=0, atol=0)
    assert not torch.allclose(new, m.impute(holes, seed=3))  # "sample" is not the default "mean": the option arrived
    c = genlab.create("cnf", (2,), hidden=8, depth=1)
    c.fitted = True  # any field will do for the identity of the two spellings
    with pytest.warns(DeprecationWarning, match="log_prob option 'trace' is now called 'divergence'"):
        old = c.log_prob(x[:4], seed=0, trace="hutchinson")
    torch.testing.assert_close(old, c.log_prob(x[:4], seed=0, divergence="hutchinson"), rtol=0, atol=0)


def test_cli_set_with_an_old_name_warns_and_trains(tmp_path):
    run = CliRunner().invoke(cli, ["train", "made", "--data", "eight_gaussians", "--steps", "2", "--quiet",
                                   "--out", str(tmp_path / "r"), "--set", "components=2",
                                   "--set", "hidden_features=8,8"])
    assert run.exit_code == 0, run.output
    assert "'components' is now called 'n_components'" in run.output
    assert json.loads((tmp_path / "r" / "config.json").read_text())["config"]["n_components"] == 2


def test_the_two_flow_configs_have_distinct_names_and_the_old_one_imports():
    from genlab.families import flow_matching, flows

    assert flows.FlowConfig is flows.ZukoFlowConfig and flow_matching.FlowConfig is flow_matching.FlowMatchingBaseConfig
    assert genlab.models.get("maf").Config.__mro__[1] is flows.ZukoFlowConfig
    assert issubclass(genlab.models.get("rectified_flow").Config, flow_matching.FlowMatchingBaseConfig)


def test_a_run_started_before_format_7_resumes_under_the_new_names(tmp_path):
    """A resumable run whose files hold ``components`` (format 6) resumes with ``--set n_components=...`` (and with the
    old name, which warns); its fingerprint is read through LEGACY_NAMES like its checkpoint."""
    out = tmp_path / "run"

    def train(steps, *extra):
        return CliRunner().invoke(cli, ["train", "made", "--data", "eight_gaussians", "--steps", str(steps), "--quiet",
                                        "--out", str(out), "--batch-size", "16", "--set", "hidden_features=8,8",
                                        "--checkpoint-every", "5", *extra])

    assert train(10, "--set", "n_components=2").exit_code == 0
    (out / "manifest.json").unlink()  # as the genlab of format 6 wrote it, less the manifest (hashes of the old text)
    meta, state = (json.loads((out / name).read_text()) for name in ("config.json", "resume.json"))
    meta["version"] = 6
    for config in (meta["config"], state["fingerprint"]["config"]):
        config["components"] = config.pop("n_components")
    (out / "config.json").write_text(json.dumps(meta))
    (out / "resume.json").write_text(json.dumps(state))
    assert genlab.load(out).config.n_components == 2
    run = train(15, "--set", "n_components=2", "--resume")
    assert run.exit_code == 0, run.output
    assert genlab.load(out).trained_steps == 15
    run = train(20, "--set", "components=2", "--resume")
    assert run.exit_code == 0 and "'components' is now called 'n_components'" in run.output, run.output
    assert genlab.load(out).trained_steps == 20
    assert train(25, "--set", "n_components=3", "--resume").exit_code == 2  # another value is still refused
