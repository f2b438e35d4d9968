"""``genlab eval``: test NLL (nats; bits/dim on discrete data), KL to the truth where it is known, sample metrics."""

from __future__ import annotations

import json
from pathlib import Path

import click

from genlab.cli.common import POSITIVE_INT, SETTINGS, device_option, table
from genlab.cli.rundir import check_shape, load_run, training_source

__all__ = ["eval_", "evaluate_run", "evaluate_table", "ROWS"]

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


def evaluate_table(model, info: dict, run_dir, data, *, seed: int, n: int | None, target: str | None) -> dict:
    """Fidelity, utility and privacy (:func:`genlab.metrics.tabular`) of a table run: its training rows
    (reloaded with the run's seed and split) as real_train, the table ``data`` (a file: all its rows; a data set: its
    test split; None: the run's own held-out rows) as real_test, and ``n`` model samples (default: as many)."""
    import genlab
    from genlab.data.tables import numbers_from_text, read_table
    from genlab.errors import DataError
    from genlab.metrics import tabular

    source, schema = training_source(info, run_dir), model.data_encoder.schema()
    split = info["seed"] if isinstance(info.get("seed"), int) else seed  # the training rows, whatever --seed says
    ds = genlab.datasets.load(source, seed=split, column_types=schema if Path(source).exists() else None)
    if ds.kind != "table" or ds.encoder.schema() != schema:
        raise DataError(f"the run's training data '{source}' no longer has the run's columns ({', '.join(schema)})")
    if isinstance(info.get("n_train"), int) and info["n_train"] != len(ds.train):
        raise DataError(f"the run's training data '{source}' has changed: {len(ds.train)} training rows with seed "
                        f"{split}, the run had {info['n_train']}")
    real_train = ds.encoder.decode(ds.train)
    if data is None:
        real_test = ds.encoder.decode(ds.test)
    elif Path(data).exists():
        real_test = numbers_from_text(read_table(data))
    else:
        other = genlab.datasets.load(data, seed=split)
        real_test = other.encoder.decode(other.test) if other.kind == "table" else None
        if real_test is None:
            raise DataError(f"--data '{data}' is not a table ({other.kind}); give a CSV with the run's columns")
    have = set(map(str, real_test.columns))
    if have != set(schema):  # the encoder's words for a table that does not match the schema
        model.data_encoder.encode(real_test.head(1))
    synthetic = model.sample(n or len(real_test), seed=seed)
    report = tabular(real_train, real_test, synthetic, target, seed=seed, column_types=schema)
    return {"model": model.name, "data": source, "test": data or "held-out split", "run_dir": str(run_dir),
            "seed": seed, **report.to_dict()}


def _print_table_report(result: dict) -> None:
    f, u, p = result["fidelity"], result["utility"], result["privacy"]
    rows = [("quality (shapes + pair trends)", f["quality"]), ("  column shapes", f["column_shapes"]),
            ("  column pair trends", f["column_pair_trends"]), ("  held-out rows' quality", f["holdout_quality"]),
            ("W1 to training rows", f["w1_train"]), ("W1 to test rows", f["w1_test"]), ("coverage", f["coverage"])]
    if u is not None:
        rows += [(f"{u['task']} of '{u['target']}': {k} real / synthetic / diff",
                  f"{u['real'][k]:.4g} / {u['synthetic'][k]:.4g} / {u['difference'][k]:+.4g}") for k in u["real"]]
    rows += [("DCR median: synthetic / held-out", f"{p['dcr_synthetic']:.4g} / {p['dcr_holdout']:.4g}"),
             ("DCR ratio", p["dcr_ratio"]), ("exact copies of training rows", p["exact_copies"]),
             ("membership-inference AUC", p["mia_auc"])]
    table(rows, title=f"{result['model']} on {result['data']} (test: {result['test']}, rows: {result['rows']})")


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
@click.option("--target", default=None, metavar="COLUMN", help="Table runs: the column whose prediction measures "
              "utility (train on synthetic rows, test on real ones).")
@click.option("--n", "n_synthetic", type=POSITIVE_INT, default=None, help="Table runs: synthetic rows to draw "
              "(default: as many as the test rows).")
@click.option("--guidance", type=float, default=None, metavar="W", help="Captioned runs: classifier-free guidance "
              "weight (>= 0) of the judged samples (default: the run's, genlab.apps.captions.default_guidance).")
@device_option
def eval_(run_dir, data, as_json, seed, n_samples, n_test, target, n_synthetic, guidance, device):
    """Evaluate the model in RUN_DIR on the test split of --data (default: the run's own data).

    Reports the test NLL in nats (and bits/dim for discrete data such as images), KL(truth || model) with its
    standard error when the data has a known density, and sliced Wasserstein / MMD between model samples and
    the test data.

    For a run trained on a table, --data is a CSV of held-out rows with the run's columns (default: the run's own
    held-out split) and the report gives fidelity, utility (with --target) and privacy of model samples against
    the run's training rows (its own split; --seed then seeds the samples and the metrics only).

    For a run trained on captions (e.g. shapes), --n-samples prompts of seen and as many of held-out colour-shape
    pairs are judged: joint_accuracy_seen, joint_accuracy_heldout, per attribute, and the Frechet distance in the
    judge's features (genlab.apps.captions.evaluate_captions).

    For a run trained on text (gpt, mdlm, ngram), --data FILE.txt is scored whole (default: the run's held-out test
    split): bits_per_char, exact or a bound, and generation tokens/s (genlab.cli.text_io.evaluate_text).

    \b
    Examples:
      genlab eval runs/gmm
      genlab eval runs/patients_gmm --data test.csv --target diagnosis --json
      genlab eval runs/gmm --data eight_gaussians
      genlab eval runs/gmm --data eight_gaussians --json > metrics.json
      genlab eval runs/edm_shapes --n-samples 500 --guidance 2 --json
      genlab eval runs/gpt --data test.txt --json
    """
    import genlab
    import genlab.apps.video  # noqa: F401 - registers edm_frames (genlab.families.edm_frames) before the run loads
    from genlab.errors import ConfigError

    model, info = load_run(run_dir, device)
    if seed is None:
        seed = info["seed"] if isinstance(info.get("seed"), int) else 0
    if getattr(model.data_encoder, "kind", None) == "table":
        result = evaluate_table(model, info, run_dir, data, seed=seed, n=n_synthetic, target=target)
        if as_json:
            click.echo(json.dumps(result))
        else:
            _print_table_report(result)
        return
    if getattr(model.data_encoder, "kind", None) == "video":  # velocity errors of continuations (genlab.apps.video)
        from genlab.apps.video import given_frames_of, physics_report

        source = data or training_source(info, run_dir)
        ds = genlab.datasets.load(source, n_train=1, n_test=n_test or 100, seed=seed)  # test splits only
        check_shape(model, ds.shape, f"data '{source}'")
        result = {"model": model.name, "data": source, "run_dir": str(run_dir), "seed": seed,
                  **physics_report(model, ds, given=given_frames_of(model) or 3, seed=seed)}
        if as_json:
            click.echo(json.dumps(result))
        else:
            table([(k, v) for k, v in result.items() if not isinstance(v, dict)], title=f"{model.name} on {source}")
        return
    if getattr(model.data_encoder, "kind", None) == "text":  # bits/char and tokens/s (genlab.cli.text_io)
        from genlab.cli.text_io import TEXT_ROWS, evaluate_text

        for flag, value in (("--target", target), ("--n", n_synthetic), ("--n-test", n_test), ("--guidance", guidance)):
            if value is not None:
                raise ConfigError(f"{flag} does not apply to runs trained on text")
        result = {"run_dir": str(run_dir), **evaluate_text(model, data or training_source(info, run_dir),
                                                           whole_file=data is not None, seed=seed)}
        if as_json:
            click.echo(json.dumps(result))
        else:
            table([(label, result[k]) for k, label in TEXT_ROWS if k in result],
                  title=f"{model.name} on {result['data']} ({result['scored']})")
        return
    if guidance is not None and (guidance < 0 or getattr(model, "label_encoder", None) is None):
        raise ConfigError(f"--guidance must be >= 0, got {guidance:g}" if guidance < 0 else
                          "--guidance applies to runs trained on captions")
    if getattr(model, "label_encoder", None) is not None:  # prompt following (genlab.apps.captions)
        from genlab.apps.captions import evaluate_captions

        result = {"model": model.name, "run_dir": str(run_dir), "seed": seed,
                  **evaluate_captions(model, n=n_samples, guidance=guidance, seed=seed)}
        if as_json:
            click.echo(json.dumps(result))
        else:
            table([(k, v) for k, v in result.items() if not isinstance(v, dict)], title=f"{model.name}: prompts judged")
        return
    if target is not None or n_synthetic is not None:
        raise ConfigError(f"--{'target' if target is not None else 'n'} applies to runs trained on a table")
    if data is None:
        data = training_source(info, run_dir)
    label_column = info.get("label_column") if str(data).lower().endswith((".csv", ".tsv")) else None
    ds = genlab.datasets.load(data, seed=seed, label_column=label_column)
    result = {"model": model.name, "data": data, "run_dir": str(run_dir), "seed": seed,
              **evaluate_run(model, ds, seed=seed, n_samples=n_samples, n_test=n_test)}
    if as_json:
        click.echo(json.dumps(result))
        return
    rows = [(label, result[key]) for key, label in ROWS if key in result]
    table(rows, title=f"{model.name} on {data}")
