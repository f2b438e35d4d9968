"""``genlab impute``: fill the missing (NaN) entries of a .npy/.npz/.csv file with a trained model."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import click

from genlab.cli.common import SETTINGS, check_suffix, device_option, say
from genlab.cli.rundir import check_shape, load_run

__all__ = ["impute", "csv_header", "write_array"]


def _is_number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True


def csv_header(path: Path) -> list[str] | None:
    """The header row of a CSV file (a first row without any number), or None."""
    if path.suffix.lower() not in (".csv", ".tsv"):
        return None
    with open(path, encoding="utf-8-sig", newline="") as f:
        line = next((row for row in f if row.strip()), "")
    delim = "\t" if "\t" in line and "," not in line else ("," if "," in line or ";" not in line else ";")
    cells = [c.strip() for c in next(csv.reader([line], delimiter=delim), [])]
    return cells if cells and not any(_is_number(c) for c in cells if c) else None


def write_array(x, path: Path, header: list[str] | None = None) -> None:
    """Write ``x`` as .npy, or as .csv (2-D arrays only; with ``header`` when it fits the width); a DataFrame (a
    table run's rows) as .csv with its own columns."""
    import numpy as np

    from genlab.errors import DataError

    path.parent.mkdir(parents=True, exist_ok=True)
    if type(x).__name__ == "DataFrame":  # a table run: its own columns and types
        if path.suffix.lower() != ".csv":
            raise DataError(f"a table run writes its rows as .csv, not {path.suffix}")
        x.to_csv(path, index=False)
        return
    if path.suffix.lower() == ".npy":
        np.save(path, x)
        return
    if x.ndim != 2:
        raise DataError(f"a .csv output holds a table (N, D), but the data have shape {tuple(x.shape)}; use .npy")
    head = ",".join(header) if header is not None and len(header) == x.shape[1] else ""
    np.savetxt(path, x, delimiter=",", fmt="%.8g", header=head, comments="")


@click.command("impute", context_settings=SETTINGS)
@click.argument("run_dir")
@click.option("--input", "input_", required=True, metavar="FILE",
              help="A .npy, .npz (array 'x') or .csv file; NaN (or an empty CSV cell) marks a missing entry.")
@click.option("--out", required=True, metavar="FILE", help="Output .npy or .csv: the input with its gaps filled.")
@click.option("--seed", type=int, default=0, help="Seed of stochastic imputation methods.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON summary (entries and rows filled) on stdout.")
@click.option("--quiet", is_flag=True, help="No summary line.")
@device_option
def impute(run_dir, input_, out, seed, as_json, quiet, device):
    """Fill the missing entries of --input with the model in RUN_DIR and write --out.

    Observed entries are kept exactly; a CSV header row is copied to a CSV output.

    \b
    Examples:
      genlab impute runs/gmm --input gaps.npy --out filled.npy
      genlab impute runs/gmm --input gaps.csv --out filled.csv
    """
    import numpy as np

    from genlab.data.files import read_data
    from genlab.errors import ConfigError

    out = check_suffix(out, (".npy", ".csv"), "--out")
    model, _ = load_run(run_dir, device)
    x, _, _ = read_data(input_, allow_nan=True)
    check_shape(model, x.shape[1:], f"--input {input_}")
    missing = int(np.isnan(x).sum())
    try:
        filled = model.impute(x, seed=seed).numpy()
    except NotImplementedError:
        raise ConfigError(f"model '{model.name}' does not support imputation") from None
    write_array(filled, out, csv_header(Path(input_)))
    rows = int(np.isnan(x).reshape(len(x), -1).any(axis=1).sum())
    if as_json:
        click.echo(json.dumps({"model": model.name, "filled_entries": missing, "filled_rows": rows, "rows": len(x),
                               "out": str(out)}))
        return
    say(f"filled {missing} missing entries in {rows} of {len(x)} rows -> {out}", quiet)
