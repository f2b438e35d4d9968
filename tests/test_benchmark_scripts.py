"""The image benchmark scripts run end to end at a tiny scale and write their JSON and markdown tables."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"


def _run(script: str, *args: str) -> None:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(BENCH.parent / "src"), os.environ.get("PYTHONPATH", "")])}
    subprocess.run([sys.executable, str(BENCH / script), *args], check=True, capture_output=True, cwd=BENCH, env=env,
                   timeout=300)


@pytest.mark.parametrize("script,args", [
    ("pixel_digits.py", ["--budget", "0.5", "--eval-budget", "0.5"]),
    ("patches.py", ["--budget", "0.5", "--eval-budget", "0.5", "--models", "made", "--components", "2",
                    "--n-train", "300", "--n-test", "100"]),
])
def test_script_at_tiny_scale(tmp_path, script, args):
    out = tmp_path / "r.json"
    _run(script, *args, "--out", str(out))
    result = json.loads(out.read_text())
    assert result["rows"] and all("test_bpd" in r for r in result["rows"])
    assert out.with_suffix(".md").read_text().count("|") > 10


def test_inverse_digits_at_tiny_scale(tmp_path):
    stem = tmp_path / "inverse_digits"
    tiny = ["--n-test", "12", "--n-samples", "1", "--steps", "2", "--repaint-steps", "2", "--jumps", "1"]
    _run("inverse_digits.py", "--budget", "0.5", *tiny, "--out", str(stem), "--save", str(tmp_path / "run"))
    result = json.loads(stem.with_suffix(".json").read_text())
    assert [(r["operator"], r["algorithm"]) for r in result["rows"]] == [
        (op, alg) for op in ("inpaint", "inpaint", "super_resolve_2") for alg in ("replacement", "repaint")]
    assert all(0 <= r["accuracy"] <= 1 and r["rmse_unobserved"] > 0 for r in result["rows"])
    assert "issue bar" in stem.with_suffix(".md").read_text()
    _run("inverse_digits.py", "--run", str(tmp_path / "run"), *tiny, "--out", str(tmp_path / "again"))  # no training
    again = json.loads((tmp_path / "again.json").read_text())
    assert again["training"] == {"run": str(tmp_path / "run")}


def test_tuning_sweep_and_step_rate_at_tiny_scale(tmp_path):
    """The option sweep (and the conditioning sweep that runs through it) and the step-rate timer write their tables."""
    tiny = ["--models", "edm", "--sets", "swiss_roll", "--seeds", "0", "--n-eval", "50", "--budget", "0", "--steps", "3"]
    _run("tuning_sweep.py", "--option", "noise_groups", "--values", "0,32", *tiny, "--out", str(tmp_path / "sweep"))
    rows = json.loads((tmp_path / "sweep.json").read_text())["rows"]
    assert [r["noise_groups"] for r in rows] == [0, 32] and all(r["steps"] == 3 for r in rows)
    _run("mlp_conditioning.py", *tiny, "--out", str(tmp_path / "cond"))
    assert [r["conditioning"] for r in json.loads((tmp_path / "cond.json").read_text())["rows"]] == ["add", "film"]
    _run("step_rate.py", "--models", "edm", "--steps", "3", "--repeats", "1", "--option", "noise_groups", "--values",
         "0,32", "--out", str(tmp_path / "rate"))
    rates = json.loads((tmp_path / "rate.json").read_text())["rows"]
    assert [r["options"] for r in rates] == [["noise_groups=0"], ["noise_groups=32"]]
    assert all(r["steps_per_s"] > 0 for r in rates)


def test_forest_contraction_scores_shrunk_real_rows_closer_to_a_small_test_split(tmp_path):
    """The reading behind docs/tables.md: on wine the real rows shrunk toward their class means are closer (in W1)
    to the test rows than the real rows are; the record holds the command."""
    out = tmp_path / "c"
    _run("forest_contraction.py", "--lambdas", "1", "0.8", "--out", str(out))
    record = json.loads(out.with_suffix(".json").read_text())
    assert record["w_test"]["wine"]["0.8"] < record["w_test"]["wine"]["1"]
    assert record["command"].startswith("python benchmarks/forest_contraction.py")
