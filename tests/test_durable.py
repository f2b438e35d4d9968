"""Every finding of issue 12 (a new user's bad input) gives one line on stderr and exit 2, or works; checkpoints
are versioned and validated field by field and tensor by tensor; options out of range are refused, never clamped;
an unfitted model refuses to sample, score or impute."""

from __future__ import annotations

import json
import math
import os
import re
import shutil

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from safetensors.torch import load_file, save_file

import genlab
from genlab.checkpoint import VERSION
from genlab.cli import cli
from genlab.errors import CheckpointError, ConfigError, DataError


def run(*args):
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


def assert_usage_error(result, *words):
    err = result.stderr
    assert result.exit_code == 2, (result.exit_code, result.stdout, err)
    assert "Traceback" not in err + result.stdout
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("genlab: error: "), err
    for w in words:
        assert w.lower() in lines[0].lower(), (w, lines[0])


@pytest.fixture(scope="module")
def gmm_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("durable") / "gmm"
    r = run("train", "gmm", "--data", "eight_gaussians", "--steps", 1, "--out", out, "--quiet",
            "--set", "n_components=4", "--set", "max_iter=20")
    assert r.exit_code == 0, r.stderr
    return out


# ------------------------------------------------------------------------- the findings, one by one
@pytest.mark.parametrize("args, words", [
    (["--lr", "inf"], ["--lr", "finite"]),
    (["--lr", "nan"], ["--lr", "finite"]),
    (["--time-budget", "nan"], ["--time-budget"]),
])
def test_non_finite_options_are_refused(tmp_path, args, words):
    assert_usage_error(run("train", "realnvp", "--data", "eight_gaussians", "--steps", 5, "--out", tmp_path / "r",
                           *args), *words)
    assert not (tmp_path / "r" / "model.safetensors").exists()


def test_score_model_at_a_huge_learning_rate_stops_with_one_line(tmp_path):
    r = run("train", "vp_sde", "--data", "eight_gaussians", "--steps", 30, "--lr", 1, "--out", tmp_path / "v",
            "--quiet")
    assert_usage_error(r, "diverged", "lower learning rate")


@pytest.mark.parametrize("model, sets, data, words", [
    ("realnvp", ["ema=1.5"], "eight_gaussians", ["ema", "[0, 1)"]),
    ("realnvp", ["lr=-1"], "eight_gaussians", ["lr"]),
    ("realnvp", ["patience=-2"], "eight_gaussians", ["patience"]),
    ("realnvp", ["lr_schedule=linear"], "eight_gaussians", ["lr_schedule", "cosine"]),
    ("gmm", ["reg_covar=-1"], "eight_gaussians", ["reg_covar"]),
    ("gmm", ["n_components=-1"], "eight_gaussians", ["n_components"]),  # 0 means: chosen on held-out data
    ("gmm", ["n_components=1000"], "wine", ["n_components=1000", "training rows"]),  # refused, not clamped
    ("gmm", ["covariance_type=round"], "eight_gaussians", ["covariance_type"]),
    ("kde", ["bandwidth=-1"], "eight_gaussians", ["bandwidth"]),
])
def test_options_out_of_range_are_refused(tmp_path, model, sets, data, words):
    extra = [a for s in sets for a in ("--set", s)]
    r = run("train", model, "--data", data, "--steps", 1, "--out", tmp_path / "r", "--quiet", *extra)
    assert_usage_error(r, *words)


def test_range_checks_reach_the_python_api_and_inherited_fields():
    with pytest.raises(ConfigError, match="ema"):
        genlab.create("ebm", (2,), ema=1.0)  # EBMConfig changes ema's default, the bound stays
    with pytest.raises(ConfigError, match="nan"):
        genlab.create("realnvp", (2,), weight_decay=float("nan"))


@pytest.mark.parametrize("model, rows, words", [("gmm", 2, ["gmm", "2 training rows"]),
                                                ("kde", 3, ["kde", "bandwidth"])])
def test_classical_models_on_too_few_rows(tmp_path, model, rows, words):
    np.save(tmp_path / "few.npy", np.random.default_rng(0).normal(size=(rows, 2)))
    r = run("train", model, "--data", tmp_path / "few.npy", "--steps", 1, "--out", tmp_path / "r", "--quiet")
    assert_usage_error(r, *words)


def test_kde_on_few_rows_works_with_a_bandwidth(tmp_path):
    np.save(tmp_path / "few.npy", np.random.default_rng(0).normal(size=(3, 2)))
    r = run("train", "kde", "--data", tmp_path / "few.npy", "--steps", 1, "--out", tmp_path / "r", "--quiet",
            "--set", "bandwidth=0.5")
    assert r.exit_code == 0, r.stderr


def test_unwritable_out_is_found_before_training(tmp_path):
    blocker = tmp_path / "a_file"
    blocker.write_text("x")
    r = run("train", "realnvp", "--data", "eight_gaussians", "--steps", 100000, "--out", blocker / "run")
    assert_usage_error(r, "cannot write")


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only directories")
def test_read_only_out_is_found_before_training(tmp_path):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    try:
        assert_usage_error(run("train", "realnvp", "--data", "eight_gaussians", "--steps", 100000, "--out", ro / "r"),
                           "cannot write")
    finally:
        ro.chmod(0o700)


def test_sample_out_onto_a_directory(gmm_run, tmp_path):
    (tmp_path / "d.npy").mkdir()
    assert_usage_error(run("sample", gmm_run, "-n", 5, "--out", tmp_path / "d.npy"), "--out", "directory")


def test_float64_overflow_is_not_called_nan(tmp_path):
    np.save(tmp_path / "big.npy", np.array([[1e300, 1.0], [2.0, 3.0], [4.0, 5.0]]))
    r = run("train", "gmm", "--data", tmp_path / "big.npy", "--steps", 1, "--out", tmp_path / "r")
    assert_usage_error(r, "float32 range")
    assert "nan" not in r.stderr.lower()


def test_help_examples_use_real_config_keys():
    text = run("train", "--help").stdout
    for model, rest in re.findall(r"genlab train (\w+) (.*)", text):
        for key in re.findall(r"--set (\w+)=", rest):
            genlab.registry.make_config(genlab.models.get(model).Config, {}, model=model)
            assert key in {f for f in genlab.models.get(model).Config.__dataclass_fields__}, (model, key)


# ------------------------------------------------------------------------- unfitted models
@pytest.mark.parametrize("name", ["realnvp", "gmm", "vp_sde"])
def test_unfitted_model_refuses_to_sample_and_score(name, tmp_path):
    m = genlab.create(name, (2,))
    with pytest.raises(ConfigError, match="not fitted"):
        m.sample(3)
    with pytest.raises(ConfigError, match="not fitted"):
        m.log_prob(torch.zeros(3, 2))
    with pytest.raises(ConfigError, match="not fitted"):
        m.impute(torch.tensor([[0.0, float("nan")]]))
    m.save(tmp_path / "m")
    assert json.loads((tmp_path / "m" / "config.json").read_text())["fitted"] is False
    with pytest.raises(ConfigError, match="not fitted"):
        genlab.load(tmp_path / "m").sample(3)


# ------------------------------------------------------------------------- checkpoints: version and validation
def _plain(gmm_run, tmp_path, name="c") -> str:
    """A copy of the run without its manifest, as written before manifests existed (version 1)."""
    target = tmp_path / name
    shutil.copytree(gmm_run, target)
    (target / "manifest.json").unlink()
    return target


def _edit_config(target, fn):
    meta = json.loads((target / "config.json").read_text())
    fn(meta)
    (target / "config.json").write_text(json.dumps(meta))


MALFORMED = {
    "model_int": lambda m: m.update(model=3),
    "shape_null": lambda m: m.update(shape=None),
    "shape_zero": lambda m: m.update(shape=[0]),
    "shape_string": lambda m: m.update(shape="2"),
    "config_list": lambda m: m.update(config=[1, 2]),
    "config_bad_type": lambda m: m["config"].update(n_components="many"),
    "config_out_of_range": lambda m: m["config"].update(reg_covar=-1.0),
    "extra_list": lambda m: m.update(extra=[]),
    "step_negative": lambda m: m.update(training_step=-1),
    "fitted_string": lambda m: m.update(fitted="yes"),
    "std_zero": lambda m: m["normalization"].update(std=[0.0, 1.0]),
    "mean_short": lambda m: m["normalization"].update(mean=[0.0]),
    "version_string": lambda m: m.update(version="2"),
}


@pytest.mark.parametrize("kind", sorted(MALFORMED))
def test_malformed_config_json_is_refused(gmm_run, tmp_path, kind):
    target = _plain(gmm_run, tmp_path)
    _edit_config(target, MALFORMED[kind])
    with pytest.raises(CheckpointError):
        genlab.load(target)
    assert_usage_error(run("sample", target, "-n", 3, "--out", tmp_path / "s.npy"))


def test_newer_version_is_refused_with_one_line(gmm_run, tmp_path):
    target = _plain(gmm_run, tmp_path)
    _edit_config(target, lambda m: m.update(version=VERSION + 1))
    assert_usage_error(run("sample", target, "-n", 3, "--out", tmp_path / "s.npy"), "version", "newer")


def test_version_less_checkpoint_loads_as_version_1(gmm_run, tmp_path):
    target = _plain(gmm_run, tmp_path)
    _edit_config(target, lambda m: [m.pop("version"), m.pop("fitted")])
    assert genlab.load(target).sample(3, seed=0).shape == (3, 2)


def test_a_modified_file_does_not_match_the_manifest(gmm_run, tmp_path):
    target = tmp_path / "c"
    shutil.copytree(gmm_run, target)
    _edit_config(target, lambda m: m.update(training_step=7))
    assert_usage_error(run("sample", target, "-n", 3, "--out", tmp_path / "s.npy"), "manifest")


@pytest.mark.parametrize("kind", ["nan_weight", "zero_std", "int_weight"])
def test_bad_tensors_are_refused(tmp_path, kind):
    m = genlab.create("realnvp", (2,), transforms=1, hidden_features=(4,))
    m.fit(np.random.default_rng(0).normal(size=(64, 2)), steps=2, progress=False)
    m.save(tmp_path / "m")
    (tmp_path / "m" / "manifest.json").unlink()
    path = str(tmp_path / "m" / "model.safetensors")
    t = load_file(path)
    name = next(k for k in t if "weight" in k)
    if kind == "nan_weight":
        t[name][0] = float("nan")
    elif kind == "zero_std":
        t["normalizer.std"][0] = 0.0
    else:
        t[name] = t[name].to(torch.int64)
    save_file(t, path)
    with pytest.raises(CheckpointError):
        genlab.load(tmp_path / "m")


def test_save_load_round_trip_keeps_a_manifest(tmp_path):
    m = genlab.create("gmm", (2,), n_components=2).fit(np.random.default_rng(0).normal(size=(50, 2)))
    m.save(tmp_path / "m")
    files = json.loads((tmp_path / "m" / "manifest.json").read_text())["files"]
    assert set(files) == {"model.safetensors", "config.json"}
    assert torch.allclose(genlab.load(tmp_path / "m").log_prob(torch.zeros(1, 2)), m.log_prob(torch.zeros(1, 2)))
    assert math.isfinite(float(m.log_prob(torch.zeros(1, 2))))


def test_data_error_types_are_genlab_errors():
    assert issubclass(DataError, genlab.errors.GenlabError)


def test_a_diffusion_checkpoint_from_before_format_3_keeps_its_additive_conditioning(tmp_path):
    """Format 3 made FiLM the diffusion MLP's default; an older file (no "conditioning" field) was made with "add"
    and must load into that architecture with the same outputs, while a current file keeps what it names."""
    x = torch.randn(64, 2, generator=torch.Generator().manual_seed(0))
    m = genlab.create("edm", (2,), conditioning="add", hidden=16, depth=1, emb_dim=8).fit(x, steps=2, progress=False)
    m.save(tmp_path / "m")
    target = tmp_path / "m"
    (target / "manifest.json").unlink()
    _edit_config(target, lambda meta: [meta.update(version=2), meta["config"].pop("conditioning")])
    old = genlab.load(target)
    assert old.config.conditioning == "add"
    assert torch.equal(old.sample(5, seed=1), m.sample(5, seed=1))
    new = genlab.create("edm", (2,), hidden=16, depth=1, emb_dim=8).fit(x, steps=2, progress=False)
    new.save(tmp_path / "n")
    assert new.config.conditioning == "film" and genlab.load(tmp_path / "n").config.conditioning == "film"


def test_a_diffusion_checkpoint_from_before_format_4_keeps_one_noise_level_per_row(tmp_path):
    """Format 4 draws the training levels in groups; an older file (no "noise_groups") was trained with one level
    per row and loads with noise_groups=0 (so continued training draws as it did), sampling the same."""
    x = torch.randn(64, 2, generator=torch.Generator().manual_seed(0))
    m = genlab.create("vp_sde", (2,), hidden=16, depth=1, emb_dim=8).fit(x, steps=2, progress=False)
    assert m.config.noise_groups == 32
    m.save(tmp_path / "m")
    (tmp_path / "m" / "manifest.json").unlink()
    _edit_config(tmp_path / "m", lambda meta: [meta.update(version=3), meta["config"].pop("noise_groups")])
    old = genlab.load(tmp_path / "m")
    assert old.config.noise_groups == 0 and old.config.conditioning == "film"
    assert torch.equal(old.sample(5, seed=1), m.sample(5, seed=1))
