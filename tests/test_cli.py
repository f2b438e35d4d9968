"""The command line: every command end to end on tiny data, and bad input -> exit 2 with one line on stderr."""

from __future__ import annotations

import json
import pickle
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from genlab.cli import cli, main
from genlab.cli.demo import DEMO_MODEL, pick_model
from genlab.errors import ConfigError

FAST_GMM = ["--set", "n_components=8", "--set", "max_iter=20"]


def run(*args):
    """Invoke the CLI in-process; returns the click Result (stdout and stderr apart)."""
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


def assert_usage_error(result, *words):
    """Exit 2, exactly one line on stderr starting 'genlab: error:', mentioning ``words``, no traceback."""
    err = result.stderr
    assert result.exit_code == 2, (result.exit_code, result.stdout, err)
    assert "Traceback" not in err and "Traceback" not in result.stdout
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("genlab: error: "), lines[0]
    for w in words:
        assert w.lower() in lines[0].lower(), (w, lines[0])


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("cli") / "gmm"
    r = run("train", "gmm", "--data", "eight_gaussians", "--steps", 1, "--out", out, "--quiet", *FAST_GMM)
    assert r.exit_code == 0, r.stderr
    return out


# ----------------------------------------------------------------------------- commands that work
@pytest.mark.parametrize("kind, expected", [("models", "gmm"), ("datasets", "eight_gaussians"), ("samplers", "pc")])
def test_list(kind, expected):
    r = run("list", kind)
    assert r.exit_code == 0
    names = [line.split()[0] for line in r.stdout.splitlines()]
    assert expected in names
    if kind == "samplers":
        assert {"euler_maruyama", "reverse_diffusion", "pc", "ode", "ald"} <= set(names)


def test_list_all_sections():
    r = run("list")
    assert r.exit_code == 0
    assert all(f"{k}:" in r.stdout for k in ("models", "datasets", "samplers"))


def test_train_writes_run_dir(run_dir):
    assert {"model.safetensors", "config.json", "history.json", "train.json"} <= {p.name for p in run_dir.iterdir()}
    info = json.loads((run_dir / "train.json").read_text())
    assert info["data"] == "eight_gaussians" and info["model"] == "gmm" and info["seed"] == 0 and info["steps"] == 1
    assert info["overrides"] == {"n_components": "8", "max_iter": "20"}
    history = json.loads((run_dir / "history.json").read_text())
    assert isinstance(history, list) and history[0]["step"] == 1
    assert json.loads((run_dir / "config.json").read_text())["config"]["n_components"] == 8


def test_eval_json(run_dir):
    r = run("eval", run_dir, "--data", "eight_gaussians", "--json", "--n-test", 500, "--n-samples", 200)
    assert r.exit_code == 0, r.stderr
    out = json.loads(r.stdout)
    for key in ("nll", "kl_to_truth", "kl_stderr", "sliced_wasserstein", "mmd", "likelihood", "model", "data"):
        assert key in out, key
    assert out["model"] == "gmm" and out["data"] == "eight_gaussians" and out["likelihood"] == "exact"
    # a fitted 8-component GMM is close to the truth: test NLL near the entropy (~2.83 nats), KL small
    assert 2.6 < out["nll"] < 3.2 and abs(out["kl_to_truth"]) < 0.2


def test_eval_table(run_dir):
    r = run("eval", run_dir, "--data", "eight_gaussians", "--n-test", 300, "--n-samples", 100)
    assert r.exit_code == 0, r.stderr
    assert "NLL (nats)" in r.stdout and "KL(truth || model)" in r.stdout


def test_eval_discrete_data_reports_bits_per_dim(tmp_path):
    x = np.random.default_rng(0).integers(0, 4, size=(300, 3)).astype(np.uint8)  # uint8 -> 256 levels
    np.save(tmp_path / "d.npy", x)
    assert run("train", "gmm", "--data", tmp_path / "d.npy", "--steps", 1, "--out", tmp_path / "r", "--quiet",
               "--set", "n_components=2").exit_code == 0
    r = run("eval", tmp_path / "r", "--data", tmp_path / "d.npy", "--json", "--n-samples", 50)
    assert r.exit_code == 0, r.stderr
    out = json.loads(r.stdout)
    assert "bits_per_dim" in out and "kl_to_truth" not in out


def test_sample_npy_and_plot(run_dir, tmp_path):
    r = run("sample", run_dir, "-n", 10, "--out", tmp_path / "s.npy", "--plot", tmp_path / "s.png", "--seed", 3)
    assert r.exit_code == 0, r.stderr
    x = np.load(tmp_path / "s.npy")
    assert x.shape == (10, 2) and np.isfinite(x).all()
    assert (tmp_path / "s.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    again = run("sample", run_dir, "-n", 10, "--out", tmp_path / "t.npy", "--seed", 3)
    assert again.exit_code == 0 and np.array_equal(np.load(tmp_path / "t.npy"), x)  # seeded


def test_impute_npy(run_dir, tmp_path):
    x = np.array([[2.0, np.nan], [np.nan, -2.0], [0.5, 0.5], [np.nan, np.nan]], dtype=np.float32)
    np.save(tmp_path / "gaps.npy", x)
    r = run("impute", run_dir, "--input", tmp_path / "gaps.npy", "--out", tmp_path / "filled.npy")
    assert r.exit_code == 0, r.stderr
    y = np.load(tmp_path / "filled.npy")
    observed = ~np.isnan(x)
    assert y.shape == x.shape and np.isfinite(y).all() and np.array_equal(y[observed], x[observed])


def test_impute_csv_with_header(run_dir, tmp_path):
    (tmp_path / "gaps.csv").write_text("a,b\n2.0,\n,-2.0\n0.5,0.5\n")
    r = run("impute", run_dir, "--input", tmp_path / "gaps.csv", "--out", tmp_path / "filled.csv")
    assert r.exit_code == 0, r.stderr
    lines = (tmp_path / "filled.csv").read_text().splitlines()
    assert lines[0] == "a,b" and len(lines) == 4
    y = np.loadtxt(tmp_path / "filled.csv", delimiter=",", skiprows=1)
    assert np.isfinite(y).all() and y[0, 0] == 2.0 and y[1, 1] == -2.0 and tuple(y[2]) == (0.5, 0.5)


def test_train_force_overwrites(run_dir, tmp_path):
    target = tmp_path / "copy"
    shutil.copytree(run_dir, target)
    r = run("train", "gmm", "--data", "eight_gaussians", "--steps", 1, "--out", target, "--force", "--quiet",
            "--set", "n_components=2", "--set", "max_iter=5")
    assert r.exit_code == 0, r.stderr
    assert json.loads((target / "config.json").read_text())["config"]["n_components"] == 2


def test_demo_tiny(tmp_path):
    out = tmp_path / "demo"
    r = run("demo", "--model", "gmm", "--time-budget", 0.1, "--out", out)
    assert r.exit_code == 0, r.stderr
    for name in ("model.safetensors", "config.json", "history.json", "samples.png", "density.png", "metrics.json"):
        assert (out / name).is_file(), name
    metrics = json.loads((out / "metrics.json").read_text())
    assert {"nll", "kl_to_truth", "true_nll", "model"} <= set(metrics) and metrics["model"] == "gmm"
    assert "test NLL" in r.stdout and "KL to truth" in r.stdout


def test_demo_model_choice():
    assert DEMO_MODEL[0] == "vp_sde" and DEMO_MODEL[-1] == "gmm"
    assert pick_model() in DEMO_MODEL
    assert pick_model(("no_such_model", "gmm")) == "gmm"
    with pytest.raises(ConfigError):
        pick_model(("no_such_model",))


def test_help_shows_defaults_and_examples():
    for command in ("train", "sample", "eval", "impute", "demo", "list"):
        r = run(command, "--help")
        assert r.exit_code == 0 and "Examples:" in r.stdout and f"genlab {command}" in r.stdout
    assert "[default: 0]" in run("sample", "--help").stdout


def test_main_returns_exit_codes(capsys):
    assert main(["list", "samplers"]) == 0
    assert main(["no-such-command"]) == 2
    assert capsys.readouterr().err.strip().startswith("genlab: error:")


def test_installed_entry_point(tmp_path):
    exe = Path(sys.executable).with_name("genlab")
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "genlab.cli"]
    ok = subprocess.run([*cmd, "list", "models"], capture_output=True, text=True, timeout=120)
    assert ok.returncode == 0 and "gmm" in ok.stdout
    bad = subprocess.run([*cmd, "train", "no_such_model", "--data", "eight_gaussians", "--steps", "1", "--out",
                          str(tmp_path / "r")], capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and "Traceback" not in bad.stderr
    assert bad.stderr.strip().splitlines() == [bad.stderr.strip()] and "no_such_model" in bad.stderr


def test_internal_error_is_exit_1_without_traceback(monkeypatch, run_dir, tmp_path):
    import genlab.cli.sample as sample_mod

    def boom(*a, **k):
        raise RuntimeError("kaboom")

    monkeypatch.setattr(sample_mod, "load_run", boom)
    r = CliRunner().invoke(cli, ["sample", str(run_dir), "-n", "3", "--out", str(tmp_path / "x.npy")])
    assert r.exit_code == 1 and "Traceback" not in r.stderr
    assert r.stderr.strip().splitlines() == ["genlab: error: internal error: RuntimeError: kaboom "
                                             "(set GENLAB_DEBUG=1 to see the traceback)"]
    monkeypatch.setenv("GENLAB_DEBUG", "1")
    r = CliRunner().invoke(cli, ["sample", str(run_dir), "-n", "3", "--out", str(tmp_path / "x.npy")])
    assert r.exit_code == 1 and "Traceback" in r.stderr and "kaboom" in r.stderr


def test_csv_label_column_round_trip(tmp_path):
    rng = np.random.default_rng(0)
    rows = [f"{a:.4f},{b:.4f},{'left' if a < 0 else 'right'}" for a, b in rng.normal(size=(200, 2))]
    (tmp_path / "pts.csv").write_text("x,y,side\n" + "\n".join(rows) + "\n")
    r = run("train", "gmm", "--data", tmp_path / "pts.csv", "--label-column", "side", "--steps", 1, "--out",
            tmp_path / "r", "--quiet", "--set", "n_components=2")
    assert r.exit_code == 0, r.stderr
    info = json.loads((tmp_path / "r" / "train.json").read_text())
    assert info["label_column"] == "side" and info["conditional"] is False  # gmm is unconditional
    r = run("eval", tmp_path / "r", "--data", tmp_path / "pts.csv", "--json", "--n-samples", 50)
    assert r.exit_code == 0, r.stderr  # eval splits off the same label column
    assert json.loads(r.stdout)["n_test"] == 60  # the 30 % held out with the training seed


def test_plot_kind():
    from genlab.cli.plotting import check_plottable
    from genlab.errors import DataError

    assert check_plottable((2,)) == "scatter" and check_plottable((1, 8, 8)) == "images"
    assert check_plottable((3, 4, 4)) == "images"
    with pytest.raises(DataError):
        check_plottable((64,))


# ----------------------------------------------------------------------------- bad input -> exit 2, one line
def _train(out, *extra, data="eight_gaussians", model="gmm"):
    return run("train", model, "--data", data, "--out", out, "--quiet", *extra)


@pytest.fixture
def bad_files(tmp_path):
    files = {
        "strings.csv": "a,b\n1.0,2.0\n3.0,hello\n",
        "nan.npy": np.array([[0.0, 1.0], [np.nan, 2.0]]),
        "rank1.npy": np.arange(5.0),
        "empty.npy": np.zeros((0, 2)),
    }
    for name, content in files.items():
        if isinstance(content, str):
            (tmp_path / name).write_text(content)
        else:
            np.save(tmp_path / name, content)
    return tmp_path


BAD_TRAIN = [
    # (id, model, data, extra args, words the message must contain)
    ("unknown_model", "no_such_model", "eight_gaussians", ["--steps", "1"], ["no_such_model"]),
    ("unknown_dataset", "gmm", "eight_gaussianz", ["--steps", "1"], ["eight_gaussianz"]),
    ("missing_file", "gmm", "nowhere/data.npy", ["--steps", "1"], ["not found"]),
    ("csv_strings", "gmm", "{tmp}/strings.csv", ["--steps", "1"], ["hello"]),
    ("nan_npy", "gmm", "{tmp}/nan.npy", ["--steps", "1"], ["nan"]),
    ("rank1_npy", "gmm", "{tmp}/rank1.npy", ["--steps", "1"], ["shape"]),
    ("empty_npy", "gmm", "{tmp}/empty.npy", ["--steps", "1"], ["empty"]),
    ("unknown_set_key", "gmm", "eight_gaussians", ["--steps", "1", "--set", "bogus=1"], ["bogus"]),
    ("set_without_equals", "gmm", "eight_gaussians", ["--steps", "1", "--set", "n_components"], ["KEY=VALUE"]),
    ("set_bad_type", "gmm", "eight_gaussians", ["--steps", "1", "--set", "n_components=many"], ["n_components"]),
    ("no_steps_or_budget", "gmm", "eight_gaussians", [], ["--steps", "--time-budget"]),
    ("zero_steps", "gmm", "eight_gaussians", ["--steps", "0"], ["--steps"]),
    ("negative_steps", "gmm", "eight_gaussians", ["--steps", "-3"], ["--steps"]),
    ("zero_budget", "gmm", "eight_gaussians", ["--time-budget", "0"], ["--time-budget"]),
    ("negative_budget", "gmm", "eight_gaussians", ["--time-budget", "-1"], ["--time-budget"]),
    ("non_numeric_steps", "gmm", "eight_gaussians", ["--steps", "ten"], ["--steps"]),
    ("unknown_option", "gmm", "eight_gaussians", ["--steps", "1", "--bogus"], ["--bogus"]),
]


@pytest.mark.parametrize("model, data, extra, words", [c[1:] for c in BAD_TRAIN], ids=[c[0] for c in BAD_TRAIN])
def test_train_bad_input(bad_files, model, data, extra, words):
    out = bad_files / "run"
    r = _train(out, *extra, data=data.format(tmp=bad_files), model=model)
    assert_usage_error(r, *words)
    assert not out.exists()  # nothing written


def test_train_refuses_existing_run_dir(run_dir):
    before = {p.name: p.read_bytes() for p in run_dir.iterdir()}
    r = _train(run_dir, "--steps", "1", "--set", "n_components=2")
    assert_usage_error(r, "--force", str(run_dir))
    assert {p.name: p.read_bytes() for p in run_dir.iterdir()} == before


def _broken_run(run_dir, tmp_path, kind):
    target = tmp_path / kind
    shutil.copytree(run_dir, target)
    weights, config = target / "model.safetensors", target / "config.json"
    if kind == "truncated":
        weights.write_bytes(weights.read_bytes()[:50])
    elif kind == "pickle":  # a pickle under the safetensors name: must be refused, never unpickled
        weights.write_bytes(pickle.dumps({"weights": [1.0, 2.0]}))
    elif kind == "foreign":  # another tool's config.json
        config.write_text(json.dumps({"model_type": "bert", "hidden_size": 768, "architectures": ["BertModel"]}))
    elif kind == "missing":
        shutil.rmtree(target)
    return target


@pytest.mark.parametrize("kind, words", [("missing", ["no checkpoint"]), ("truncated", ["safetensors"]),
                                         ("pickle", ["safetensors"]), ("foreign", ["not a genlab checkpoint"])])
@pytest.mark.parametrize("command", ["sample", "eval", "impute"])
def test_bad_checkpoints(run_dir, tmp_path, kind, words, command):
    target = _broken_run(run_dir, tmp_path, kind)
    np.save(tmp_path / "in.npy", np.array([[1.0, np.nan]]))
    args = {"sample": ["-n", 5, "--out", tmp_path / "s.npy"], "eval": ["--data", "eight_gaussians"],
            "impute": ["--input", tmp_path / "in.npy", "--out", tmp_path / "o.npy"]}[command]
    assert_usage_error(run(command, target, *args), *words)


@pytest.mark.parametrize("args, words", [
    (["eval", "{run}", "--data", "gmm10"], ["shape", "(10,)", "(2,)"]),  # data of the wrong width
    (["sample", "{run}", "-n", 5, "--sampler", "warp_drive", "--out", "{tmp}/s.npy"], ["warp_drive", "ancestral"]),
    (["sample", "{run}", "-n", 0, "--out", "{tmp}/s.npy"], ["-n"]),
    (["sample", "{run}", "-n", -4, "--out", "{tmp}/s.npy"], ["-n"]),
    (["sample", "{run}", "-n", 5, "--out", "{tmp}/s.txt"], ["--out", ".npy"]),
    (["sample", "{run}", "-n", 5], ["--out"]),  # missing required option
    (["impute", "{run}", "--input", "{tmp}/wide.npy", "--out", "{tmp}/o.npy"], ["shape"]),
    (["impute", "{run}", "--input", "{tmp}/nofile.npy", "--out", "{tmp}/o.npy"], ["not found"]),
    (["list", "widgets"], ["widgets"]),
    (["frobnicate"], ["frobnicate"]),
])
def test_bad_use_of_a_run(run_dir, tmp_path, args, words):
    np.save(tmp_path / "wide.npy", np.ones((3, 5)))
    r = run(*[str(a).format(run=run_dir, tmp=tmp_path) for a in args])
    assert_usage_error(r, *words)
    assert not (tmp_path / "s.npy").exists() and not (tmp_path / "o.npy").exists()


def test_train_conditional_flag(tmp_path):
    r = run("train", "gmm", "--data", "eight_gaussians", "--steps", 1, "--conditional", "--out", tmp_path / "g")
    assert r.exit_code == 2 and "unconditional" in r.stderr
    r = run("train", "maf", "--data", "eight_gaussians", "--steps", 2, "--conditional", "--out", tmp_path / "m",
            "--quiet")
    assert r.exit_code == 0, r.stderr
    import genlab

    assert genlab.load(tmp_path / "m").num_classes == 8


def test_sample_label(tmp_path):
    r = run("train", "maf", "--data", "eight_gaussians", "--steps", 2, "--conditional", "--out", tmp_path / "m", "--quiet")
    assert r.exit_code == 0, r.stderr
    r = run("sample", tmp_path / "m", "-n", 5, "--label", 3, "--out", tmp_path / "s.npy")
    assert r.exit_code == 0, r.stderr
    assert np.load(tmp_path / "s.npy").shape == (5, 2)
    assert_usage_error(run("sample", tmp_path / "m", "-n", 5, "--label", 30, "--out", tmp_path / "s.npy"), "label")
    assert_usage_error(run("sample", tmp_path / "m", "-n", 5, "--guidance", 1, "--out", tmp_path / "s.npy"), "--label")
    assert_usage_error(run("sample", tmp_path / "m", "-n", 5, "--label", 1, "--guidance", 1, "--out", tmp_path / "s.npy"),
                       "guidance")
