"""``genlab bench``: every family side by side at an equal training budget.

:func:`run_bench` trains each model for the same wall-clock budget, scores it on the same test points and writes
``leaderboard.md``/``.csv``/``.json``, plots and a self-contained ``report.html``. The click command for the CLI is
:data:`genlab.bench.command.bench_command` (imported separately, so that this package does not need click).
"""

from genlab.bench.runner import BenchResult, ModelResult, resolve_models, run_bench

__all__ = ["run_bench", "BenchResult", "ModelResult", "resolve_models"]
