"""``genlab eval``: test NLL (nats; bits/dim on discrete data), KL to the truth where it is known, sample metrics."""

from __future__ import annotations

import json
from pathlib import Path

import click

from genlab.cli.common import POSITIVE_INT, SETTINGS, device_option, table
from genlab.cli.rundir import check_shape, load_run

__all__ = ["eval_", "evaluate_run", "ROWS"]

# (key in the metrics dict, label in the table)
ROWS = (
    ("likelihood", "likelihood"),
    ("n_test", "test points"),
    ("nll", "NLL (nats)"),
    ("bits_per_dim", "bits/dim"),
    ("kl_to_truth", "KL(truth || model) (nats)"),
    ("kl_stderr", "  standard error"),
    ("sliced_wasserstein", "sliced Wasserstein-1"),
    ("mmd", "MMD^2"),
    ("nll_nonfinite", "non-finite log p"),
    ("samples_nonfinite", "non-finite samples"),
    ("log_prob_time_s", "log_prob time (s)"),
    ("sample_time_s", "sample time (s)"),
)


def evaluate_run(model, ds, *, seed: int = 0, n_samples: int = 1000, n_test: int | None = None) -> dict:
    """``genlab.metrics.evaluate`` on the test split of ``ds`` (its truth and discrete levels where known)."""
    from genlab import metrics

    check_shape(model, ds.shape, f"data '{ds.name}'")
    test = ds.test if n_test is None else ds.test[:n_test]
    return metrics.evaluate(model, test, truth=ds if ds.has_density else None, levels=ds.discrete_levels,
                            n_samples=n_samples, seed=seed)


@click.command("eval", context_settings=SETTINGS)
@click.argument("run_dir")
@click.option("--data", default=None, metavar="NAME_OR_PATH", help="Data set or file whose test split is scored "
              "(default: the data the run was trained on, as train.json records it).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object on stdout instead of a table.")
@click.option("--seed", type=int, default=None, help="Seed of the data split and the metrics (default: the training "
              "seed, so that a file's test split is the part held out in training).")
@click.option("--n-samples", type=click.IntRange(min=2), default=1000, help="Model samples for the sample metrics "
              "and truth samples for the KL estimate.")
@click.option("--n-test", type=POSITIVE_INT, default=None, help="Score only the first N test points (default: all).")
@device_option
def eval_(run_dir, data, as_json, seed, n_samples, n_test, device):
    """Evaluate the model in RUN_DIR on the test split of --data (default: the run's own data).

    Reports the test NLL in nats (and bits/dim for discrete data such as images), KL(truth || model) with its
    standard error when the data has a known density, and sliced Wasserstein / MMD between model samples and
    the test data.

    \b
    Examples:
      genlab eval runs/gmm
      genlab eval runs/gmm --data eight_gaussians
      genlab eval runs/gmm --data eight_gaussians --json > metrics.json
    """
    import genlab
    from genlab.errors import ConfigError

    model, info = load_run(run_dir, device)
    if data is None:
        path = info.get("data_path")
        data = path if isinstance(path, str) and Path(path).exists() else info.get("data")
        if not isinstance(data, str) or not data:
            raise ConfigError(f"run '{run_dir}' records no training data (train.json); give --data NAME_OR_PATH")
    if seed is None:
        seed = info["seed"] if isinstance(info.get("seed"), int) else 0
    label_column = info.get("label_column") if str(data).lower().endswith((".csv", ".tsv")) else None
    ds = genlab.datasets.load(data, seed=seed, label_column=label_column)
    result = {"model": model.name, "data": data, "run_dir": str(run_dir), "seed": seed,
              **evaluate_run(model, ds, seed=seed, n_samples=n_samples, n_test=n_test)}
    if as_json:
        click.echo(json.dumps(result))
        return
    rows = [(label, result[key]) for key, label in ROWS if key in result]
    table(rows, title=f"{model.name} on {data}")
