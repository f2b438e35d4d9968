"""benchmarks/prompt_images.py runs diffusion and the pixel transformer side by side at a tiny scale (slow: the
autoregressive samples take 1024 network passes each call)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"


@pytest.mark.slow
def test_side_by_side_at_tiny_scale(tmp_path):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(BENCH.parent / "src"), os.environ.get("PYTHONPATH", "")])}
    stem = tmp_path / "prompts"
    args = ["--model", "edm", "pixel_transformer", "--steps", "1", "--n-train", "50", "--n-eval", "2", "--guidance",
            "0", "--threads", "1", "--out", str(stem), "--run", str(tmp_path / "runs")]
    subprocess.run([sys.executable, str(BENCH / "prompt_images.py"), *args], check=True, capture_output=True,
                   cwd=BENCH, env=env, timeout=900)
    summary = json.loads(stem.with_suffix(".json").read_text())
    assert [r["model"] for r in summary["models"]] == ["edm", "pixel_transformer"]
    for r in summary["models"]:
        row = r["curve"][0]
        assert 0 <= row["joint_accuracy_seen"] <= 1 and 0 <= row["joint_accuracy_heldout"] <= 1
        assert row["frechet"] > 0 and row["seconds_per_sample"] > 0 and r["trained_steps"] == 1
        assert (tmp_path / f"prompts_{r['model']}.png").is_file() and (tmp_path / "runs" / r["model"]).is_dir()
    assert 0 <= summary["models"][1]["judge_on_quantised_renders"]["heldout"] <= 1
    rows = [line.split(" | ")[0] for line in stem.with_suffix(".md").read_text().splitlines()[4:]]
    assert rows == ["| edm", "| pixel_transformer"], rows
