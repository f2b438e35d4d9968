"""The command line's reporting and file options: list --json, eval on the run's own data, sample to .npy/.csv/.png,
train --config FILE.toml, --json summaries; bad input -> exit 2 with one line."""

from __future__ import annotations

import json

import numpy as np
import pytest

from test_cli import assert_usage_error, run

FAST = ["--set", "n_components=2", "--set", "max_iter=20"]


@pytest.fixture(scope="module")
def wine_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("eco") / "wine"
    r = run("train", "gmm", "--data", "wine", "--steps", 1, "--out", out, "--json", *FAST)
    assert r.exit_code == 0, r.stderr
    summary = json.loads(r.stdout)
    assert summary["steps"] == 1 and summary["model"] == "gmm" and summary["time_s"] >= 0
    return out


def test_list_models_json_reports_each_models_real_label():
    rows = {r["name"]: r for r in json.loads(run("list", "models", "--json").stdout)}
    assert rows["cnf"]["likelihood"] == "exact" and rows["cnf"]["likelihood_high_dim"] == "estimate"
    assert rows["gmm"]["likelihood"] == rows["gmm"]["likelihood_high_dim"] == "exact"
    assert rows["gan"]["likelihood"] == "none" and rows["vae"]["likelihood"] == "bound"
    text = run("list", "models").stdout
    assert any(line.split()[:2] == ["cnf", "exact/estimate"] for line in text.splitlines())


def test_list_datasets_shows_sources():
    lines = {line.split()[0]: line for line in run("list", "datasets").stdout.splitlines()}
    assert "palmerpenguins" in lines["penguins"] and "Greydanus" in lines["mnist1d"]
    records = json.loads(run("list", "datasets", "--json").stdout)
    assert {"iris", "diabetes", "penguins", "mnist1d", "faces"} <= {r["name"] for r in records}


def test_eval_defaults_to_the_runs_own_data(wine_run, tmp_path):
    r = run("eval", wine_run, "--json", "--n-samples", 50)
    assert r.exit_code == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["data"] == "wine" and out["n_test"] == 53 and np.isfinite(out["nll"])
    x = np.random.default_rng(0).normal(size=(200, 3)).astype(np.float32)
    np.save(tmp_path / "d.npy", x)
    assert run("train", "gmm", "--data", tmp_path / "d.npy", "--steps", 1, "--out", tmp_path / "r", "--quiet",
               *FAST).exit_code == 0
    out = json.loads(run("eval", tmp_path / "r", "--json", "--n-samples", 50).stdout)
    assert out["data"].endswith("d.npy") and out["n_test"] == 60


@pytest.mark.parametrize("suffix", [".npy", ".csv"])
def test_sample_writes_npy_and_csv(wine_run, tmp_path, suffix):
    out = tmp_path / f"s{suffix}"
    r = run("sample", wine_run, "-n", 7, "--out", out, "--json")
    assert r.exit_code == 0, r.stderr
    assert json.loads(r.stdout)["n"] == 7
    x = np.load(out) if suffix == ".npy" else np.loadtxt(out, delimiter=",", skiprows=1)
    assert x.shape == (7, 13) and np.isfinite(x).all()
    if suffix == ".csv":
        assert out.read_text().splitlines()[0] == ",".join(f"x{i}" for i in range(13))


def test_sample_png_grid_for_images_and_one_line_error_otherwise(wine_run, tmp_path):
    assert_usage_error(run("sample", wine_run, "-n", 4, "--out", tmp_path / "g.png"), "image grid", "(13,)")
    assert_usage_error(run("sample", wine_run, "-n", 4, "--out", tmp_path / "g.txt"), ".npy", ".csv", ".png")
    r = run("train", "gmm", "--data", "digits", "--steps", 1, "--out", tmp_path / "d", "--quiet", *FAST)
    assert r.exit_code == 0, r.stderr
    assert run("sample", tmp_path / "d", "-n", 16, "--out", tmp_path / "grid.png").exit_code == 0
    from PIL import Image

    assert Image.open(tmp_path / "grid.png").size[0] > 50


def test_train_config_file(tmp_path):
    cfg = tmp_path / "gmm.toml"
    cfg.write_text('n_components = 3\ncovariance_type = "diag"\nmax_iter = 30\n')
    r = run("train", "gmm", "--data", "iris", "--steps", 1, "--out", tmp_path / "r", "--quiet", "--config", cfg,
            "--set", "n_components=2")
    assert r.exit_code == 0, r.stderr
    config = json.loads((tmp_path / "r" / "config.json").read_text())["config"]
    assert config["n_components"] == 2 and config["covariance_type"] == "diag" and config["max_iter"] == 30  # --set wins


@pytest.mark.parametrize("text, words", [
    ("n_components = 2\nbogus = 1\n", ["bad.toml", "unknown config key 'bogus'"]),
    ("n_components = \n", ["bad.toml", "not valid TOML"]),
    ("[gmm]\nn_components = 2\n", ["bad.toml", "tables"]),
    ('n_components = "many"\n', ["bad.toml", "n_components"]),
])
def test_train_bad_config_file(tmp_path, text, words):
    (tmp_path / "bad.toml").write_text(text)
    r = run("train", "gmm", "--data", "iris", "--steps", 1, "--out", tmp_path / "r", "--config", tmp_path / "bad.toml")
    assert_usage_error(r, *words)
    assert not (tmp_path / "r").exists()  # checked before any data is loaded or anything is written


def test_train_missing_config_file(tmp_path):
    r = run("train", "gmm", "--data", "iris", "--steps", 1, "--out", tmp_path / "r", "--config", tmp_path / "no.toml")
    assert_usage_error(r, "no.toml", "cannot read")


def test_impute_json(wine_run, tmp_path):
    x = np.load(_sample(wine_run, tmp_path))
    x[0, 3] = np.nan
    np.save(tmp_path / "gaps.npy", x)
    r = run("impute", wine_run, "--input", tmp_path / "gaps.npy", "--out", tmp_path / "f.npy", "--json")
    assert r.exit_code == 0, r.stderr
    assert json.loads(r.stdout)["filled_entries"] == 1


def _sample(run_dir, tmp_path):
    assert run("sample", run_dir, "-n", 5, "--out", tmp_path / "s.npy", "--quiet").exit_code == 0
    return tmp_path / "s.npy"


def test_classify_and_anomaly_json(tmp_path):
    import genlab

    ds = genlab.datasets.load("iris")
    genlab.BayesClassifier("gmm", config={"n_components": 1}).fit(ds.train, ds.labels_train).save(tmp_path / "clf")
    genlab.AnomalyDetector("gmm", config={"n_components": 1}).fit(ds.train).save(tmp_path / "det")
    np.savez(tmp_path / "test.npz", x=ds.test.numpy(), y=ds.labels_test.numpy())
    r = run("classify", tmp_path / "clf", "--input", tmp_path / "test.npz", "--out", tmp_path / "p.csv", "--json")
    assert r.exit_code == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["n"] == 45 and out["classes"] == 3 and out["accuracy"] > 0.9
    r = run("anomaly", tmp_path / "det", "--input", tmp_path / "test.npz", "--out", tmp_path / "a.csv", "--json")
    assert r.exit_code == 0, r.stderr
    assert json.loads(r.stdout)["n"] == 45
    assert_usage_error(run("anomaly", tmp_path / "det", "--input", tmp_path / "test.npz", "--json"), "--out")
