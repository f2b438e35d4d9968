"""``genlab bench``: every family side by side at an equal training budget.

:func:`run_bench` trains each model for the same wall-clock budget, scores it on the same test points and writes
``leaderboard.md``/``.csv``/``.json``, plots and a self-contained ``report.html``. The click command lives with
the other commands, in :mod:`genlab.cli.bench` (nothing below ``cli`` parses arguments or prints).
"""

from genlab.bench.runner import BenchResult, ModelResult, resolve_models, run_bench

__all__ = ["run_bench", "BenchResult", "ModelResult", "resolve_models"]
