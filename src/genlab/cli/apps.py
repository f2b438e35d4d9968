"""``genlab classify`` and ``genlab anomaly``: apply a saved BayesClassifier / AnomalyDetector to a data file.

Both read the run directory written by ``BayesClassifier.save`` / ``AnomalyDetector.save`` and an input file
(.npy, .npz with array ``x``, .csv). Rows whose width equals the model's number of values are reshaped to its
per-sample shape (so a CSV of flattened 8x8 images works with an image model). Output (``--out``):
``.npy`` holds the predictions only; ``.npz`` and ``.csv`` hold everything; without ``--out`` the CSV table goes
to stdout.
"""

from __future__ import annotations

import csv
import io
import json
import math
from pathlib import Path

import click
import numpy as np

from genlab.cli.common import SETTINGS, check_suffix, say

__all__ = ["classify", "anomaly", "read_input", "write_table"]

_OUT_SUFFIXES = (".npy", ".npz", ".csv")
_OUT_HELP = "Output file: .npy (predictions only), .npz or .csv (all columns). Default: CSV on stdout."


def read_input(path: str, shape) -> tuple[np.ndarray, np.ndarray | None]:
    """The samples of ``path`` in the model's per-sample ``shape`` and its labels (or None); DataError otherwise."""
    from genlab.data.files import read_data
    from genlab.errors import DataError

    x, y, _ = read_data(path)
    shape = tuple(shape)
    if tuple(x.shape[1:]) != shape:
        if math.prod(x.shape[1:]) != math.prod(shape):
            raise DataError(f"--input {path} has per-sample shape {tuple(x.shape[1:])}, but the model was trained on "
                            f"shape {shape} ({math.prod(shape)} values per sample)")
        x = x.reshape(len(x), *shape)
    return x, y


def write_table(columns: dict[str, np.ndarray], out: Path | None, main: str) -> None:
    """Write ``columns`` to ``out`` (.npy: column ``main`` only; .npz: every column; .csv) or as CSV to stdout."""
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
    suffix = None if out is None else out.suffix.lower()
    if suffix == ".npy":
        np.save(out, columns[main])
        return
    if suffix == ".npz":
        np.savez(out, **columns)
        return
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(list(columns))
    for row in zip(*columns.values(), strict=True):
        writer.writerow([f"{v:.8g}" if isinstance(v, (float, np.floating)) else v for v in row])
    if out is None:
        click.echo(buf.getvalue(), nl=False)
    else:
        out.write_text(buf.getvalue())


def _out_path(out: str | None, as_json: bool = False) -> Path | None:
    if as_json and out is None:
        raise click.UsageError("--json prints a summary and needs --out FILE for the table (else the table is stdout)")
    return None if out is None else check_suffix(out, _OUT_SUFFIXES, "--out")


def _summary(record: dict, line: str, as_json: bool, quiet: bool) -> None:
    """The summary of a command that wrote --out: JSON with ``--json``, else ``line`` unless ``quiet``."""
    if as_json:
        click.echo(json.dumps(record))
    else:
        say(line, quiet)


@click.command("classify", context_settings=SETTINGS)
@click.argument("run_dirs", nargs=-1, required=True, metavar="RUN_DIR...")
@click.option("--input", "input_", required=True, metavar="FILE", help="A .npy, .npz (array 'x', optional labels "
              "'y') or .csv file of samples; or a .txt file, each line classified by text runs.")
@click.option("--out", default=None, metavar="FILE", help=_OUT_HELP)
@click.option("--json", "as_json", is_flag=True, help="Print the summary (counts, accuracy) as JSON; needs --out.")
@click.option("--quiet", is_flag=True, help="No summary line.")
def classify(run_dirs, input_, out, as_json, quiet):
    """Classify the samples in --input with the BayesClassifier saved in RUN_DIR.

    Columns: prediction, then p_<class> (posterior probability of every class). When the input carries labels
    (array 'y' of a .npz), the summary line reports the accuracy.

    With a .txt --input, give two or more runs trained on text (gpt, mdlm, ngram), one per corpus: every line is
    assigned the corpus (run directory name) of highest posterior, uniform prior (genlab.cli.text_scores).

    \b
    Saving a classifier (Python):
      genlab.BayesClassifier("gmm", config={"n_components": 1}).fit(x, y).save("runs/clf")
    Examples:
      genlab classify runs/clf --input digits.npz --out predictions.csv
      genlab classify runs/clf --input digits.npy
      genlab classify runs/shakespeare runs/pydoc --input lines.txt --out corpus.csv
    """
    from genlab.apps.classifier import BayesClassifier
    from genlab.cli.text_scores import classify_lines, is_text_input

    out_path = _out_path(out, as_json)
    if is_text_input(input_):
        columns, record = classify_lines(run_dirs, input_)
        write_table(columns, out_path, "prediction")
        if out_path is not None:
            counts = ", ".join(f"{k} {v}" for k, v in record["counts"].items())
            _summary({**record, "out": str(out_path)}, f"classified {record['n']} lines ({counts}) -> {out_path}",
                     as_json, quiet)
        return
    if len(run_dirs) > 1:
        raise click.UsageError("one RUN_DIR (a saved BayesClassifier); several runs classify lines of a .txt --input")
    clf = BayesClassifier.load(run_dirs[0])
    x, y = read_input(input_, clf.shape_)
    proba = clf.predict_proba(x)
    pred = clf.classes_[np.argmax(proba, axis=1)]
    columns = {"prediction": pred, **{f"p_{c}": proba[:, k] for k, c in enumerate(clf.classes_.tolist())}}
    write_table(columns, out_path, "prediction")
    if out_path is not None:
        accuracy = None if y is None or y.shape != pred.shape else float(np.mean(pred == y))
        acc = "" if accuracy is None else f", accuracy {accuracy:.4f}"
        _summary({"n": len(x), "classes": len(clf.classes_), "accuracy": accuracy, "out": str(out_path)},
                 f"classified {len(x)} samples into {len(clf.classes_)} classes{acc} -> {out_path}", as_json, quiet)


@click.command("anomaly", context_settings=SETTINGS)
@click.argument("run_dir")
@click.option("--input", "input_", required=True, metavar="FILE", help="A .npy, .npz (array 'x') or .csv file of "
              "samples; or a .txt file, each line scored by a text run.")
@click.option("--contamination", type=click.FloatRange(0.0, 1.0, max_open=True), default=None, metavar="C",
              help="Text runs: share of the run's held-out lines above the bits/char threshold (default 0.1).")
@click.option("--out", default=None, metavar="FILE", help=_OUT_HELP)
@click.option("--json", "as_json", is_flag=True, help="Print the summary (counts, threshold) as JSON; needs --out.")
@click.option("--quiet", is_flag=True, help="No summary line.")
def anomaly(run_dir, input_, contamination, out, as_json, quiet):
    """Score the samples in --input with the AnomalyDetector saved in RUN_DIR.

    Columns: prediction (+1 normal, -1 anomaly), score (log-likelihood, nats), decision (score - threshold;
    negative for anomalies).

    With a .txt --input and a run trained on text (gpt, mdlm, ngram), every line is scored: prediction, line,
    bits_per_char (the score), log_prob, chars, decision (threshold - bits_per_char); the threshold is the
    1 - contamination quantile over the run's own held-out lines (genlab.cli.text_scores).

    \b
    Saving a detector (Python):
      genlab.AnomalyDetector("gmm", contamination=0.05).fit(x_normal).save("runs/det")
    Examples:
      genlab anomaly runs/det --input new.csv --out flags.csv
      genlab anomaly runs/gpt --input lines.txt --contamination 0.05 --out flags.csv
    """
    from genlab.apps.anomaly import AnomalyDetector
    from genlab.cli.text_scores import anomaly_lines, is_text_input

    out_path = _out_path(out, as_json)
    if is_text_input(input_):
        columns, record = anomaly_lines(run_dir, input_, contamination=0.1 if contamination is None else contamination)
        write_table(columns, out_path, "prediction")
        if out_path is not None:
            _summary({**record, "out": str(out_path)}, f"flagged {record['flagged']} of {record['n']} lines as "
                     f"anomalies (threshold {record['threshold_bits_per_char']:.4g} bits/char) -> {out_path}",
                     as_json, quiet)
        return
    if contamination is not None:
        raise click.UsageError("--contamination applies to text runs (.txt --input); a saved detector keeps its own "
                               "threshold")
    det = AnomalyDetector.load(run_dir)
    x, _ = read_input(input_, det.shape_)
    score = det.score_samples(x)
    decision = score - det.threshold_
    pred = np.where(np.nan_to_num(decision, nan=-np.inf) < 0, -1, 1)
    write_table({"prediction": pred, "score": score, "decision": decision}, out_path, "prediction")
    if out_path is not None:
        flagged = int((pred < 0).sum())
        _summary({"n": len(x), "flagged": flagged, "threshold": det.threshold_, "out": str(out_path)},
                 f"flagged {flagged} of {len(x)} samples as anomalies (threshold {det.threshold_:.4g} nats) -> "
                 f"{out_path}", as_json, quiet)
