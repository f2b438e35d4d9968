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
