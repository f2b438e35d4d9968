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
