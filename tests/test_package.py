"""The package's top-level names: what a plain ``import genlab`` gives a user (README, CONTRACT.md)."""

from __future__ import annotations

import subprocess
import sys


def test_plain_import_exposes_metrics():
    """README's ``genlab.metrics.straightness(...)`` / ``genlab.metrics.frechet_digits(x)`` work after ``import genlab``
    alone (checked in a fresh interpreter, where no other test has imported ``genlab.metrics`` already)."""
    code = ("import genlab; assert 'metrics' in genlab.__all__; "
            "print(callable(genlab.metrics.straightness), callable(genlab.metrics.frechet_digits))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr.strip().splitlines()[-1:]
    assert out.stdout.split() == ["True", "True"]


def test_readme_caveat_names_every_family_whose_gradient_is_a_score():
    """README warns that grad_log_prob of a score model is the network's score at its smallest noise level
    (docs/estimator.md: a median 61x error), naming every registered family that computes it that way."""
    import re
    from pathlib import Path

    import genlab
    from genlab import registry
    from genlab.families.diffusion import DiffusionModel

    text = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    caveat = re.search(r"Caveat: for the score-based.*?grad_log_prob.*?\n\n", text, re.S)
    assert caveat, "README lacks the grad_log_prob caveat for score models"
    words = caveat.group(0).replace("ve/vp/subvp_sde", "ve_sde vp_sde subvp_sde")
    scored = [n for n in genlab.models.names() if issubclass(registry.get(n), DiffusionModel)]
    assert scored and all(re.search(rf"\b{n}\b", words) for n in scored), scored
