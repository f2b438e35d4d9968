"""``genlab bench``: the click command over :func:`genlab.bench.run_bench` (registered by :mod:`genlab.cli.app`).

Bad input surfaces as :class:`genlab.errors.GenlabError` from :func:`genlab.bench.run_bench`; the CLI group turns
it into exit status 2 with one line on stderr.
"""

from __future__ import annotations

import json
from pathlib import Path

import click

from genlab.bench import report
from genlab.bench.runner import MAX_TEST, run_bench
from genlab.cli.common import POSITIVE_INT, SETTINGS

__all__ = ["bench_command"]


@click.command("bench", context_settings=SETTINGS)
@click.option("--data", required=True, metavar="NAME_OR_PATH", help="Built-in data set or data file.")
@click.option("--models", required=True, metavar="A,B,...",
              help="Comma-separated model names, or 'all'. The references gmm and kde are always added.")
@click.option("--time-budget", type=float, required=True, metavar="S", help="Training seconds per model.")
@click.option("--out", required=True, metavar="DIR", type=click.Path(path_type=Path),
              help="Output folder (must be new or empty unless --force).")
@click.option("--seed", type=int, default=0, help="Seed of the data split, training and metrics.")
@click.option("--eval-points", type=POSITIVE_INT, default=MAX_TEST, metavar="N",
              help="Test rows every model is scored on: one seeded subset, the same for all models (text: the "
              "first N held-out documents).")
@click.option("--json", "as_json", is_flag=True, help="Print the leaderboard JSON on stdout instead of a table.")
@click.option("--force", is_flag=True, help="Write into an existing non-empty --out folder.")
@click.option("--quiet", is_flag=True, help="No progress display and no summary.")
def bench_command(data, models, time_budget, out, seed, eval_points, as_json, force, quiet):
    """Train every model for the same time budget on --data and compare them.

    Writes leaderboard.md, leaderboard.csv, leaderboard.json, plots and one self-contained report.html into
    --out. Models are ranked by KL to the true density where it is known, else by test NLL; models without a
    likelihood, then failed models, come last. On text (a .txt file, a folder of them, pydoc) models are ranked
    by bits/char of the held-out documents (exact or a bound), and the report shows each model's continuations
    of one fixed prompt, with the seed.

    \b
    Example:
      genlab bench --data eight_gaussians --models gmm,kde,vp_sde,nsf --time-budget 20 --out runs/b
      genlab bench --data pydoc --models gpt,ngram,mdlm --time-budget 180 --out runs/text
    """
    result = run_bench(data, models, time_budget, out, seed=seed, force=force, progress=not quiet, quiet=quiet,
                       eval_points=eval_points)
    if as_json:
        click.echo(json.dumps(report.to_json(result), indent=2, allow_nan=False))
        return
    if quiet:
        return
    click.echo(report.markdown_table(result))
    failed = [r for r in result.results if r.status != "ok"]
    if failed:
        click.echo(f"{len(failed)} model(s) failed: " + "; ".join(f"{r.name} ({r.error})" for r in failed))
    click.echo(f"wrote {result.files['report_html']} and leaderboard.md/.csv/.json, plots in {out / 'plots'}")
