"""``genlab impute``: fill the missing (NaN) entries of a .npy/.npz/.csv file with a trained model, or the marked
spans (``[MASK]``, ``___``, ``[MASK:k]``) of a .txt file with a text model that infills (:mod:`genlab.cli.text_io`)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import click

from genlab.cli.common import POSITIVE_INT, SETTINGS, check_suffix, device_option, say
from genlab.cli.rundir import check_shape, load_run
from genlab.cli.text_io import impute_text, is_text_run, reject_text_options

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


def _impute_table(model, input_, out: Path, seed: int) -> dict:
    """A table run: ``input_`` a .csv / .tsv / .parquet table with empty cells (its columns those of the run's schema,
    in any order; else a one-line DataError), ``out`` the filled table (.csv), nothing written on an error."""
    from genlab.data.tables import read_table
    from genlab.errors import DataError

    if out.suffix.lower() != ".csv":
        raise DataError(f"model '{model.name}' fills table rows: write them to a .csv, not {out.suffix}")
    frame = read_table(input_).reset_index(drop=True)
    filled = model.impute(frame, seed=seed)
    write_array(filled, out)
    holes = frame.isna().to_numpy()
    return {"model": model.name, "filled_entries": int(holes.sum()), "filled_rows": int(holes.any(axis=1).sum()),
            "rows": len(frame), "out": str(out)}


@click.command("impute", context_settings=SETTINGS)
@click.argument("run_dir")
@click.option("--input", "input_", required=True, metavar="FILE",
              help="A .npy, .npz (array 'x') or .csv file; NaN (or an empty CSV cell) marks a missing entry. Text "
              "runs: a UTF-8 .txt file in which [MASK] or ___ marks --span tokens to fill and [MASK:k] k tokens.")
@click.option("--out", default=None, metavar="FILE", help="Output .npy or .csv: the input with its gaps filled "
              "(text runs: a .txt, or the filled text on stdout without --out).")
@click.option("--seed", type=int, default=0, help="Seed of stochastic imputation methods.")
@click.option("--span", type=POSITIVE_INT, default=None, metavar="K", help="Text runs: tokens that each [MASK] or "
              "___ stands for (default 1: one character with a char tokenizer).")
@click.option("--steps", type=POSITIVE_INT, default=None, metavar="K", help="Text runs: sampler steps of the fill "
              "(mdlm; default its sample_steps).")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON summary (entries and rows filled) on stdout.")
@click.option("--quiet", is_flag=True, help="No summary line.")
@device_option
def impute(run_dir, input_, out, seed, span, steps, as_json, quiet, device):
    """Fill the missing entries of --input with the model in RUN_DIR and write --out.

    Observed entries are kept exactly; a CSV header row is copied to a CSV output. For a run trained on a table,
    --input is a table with empty cells and the run's columns, and --out the filled table (.csv). For a run trained on text, the
    text around the markers comes back unchanged and only models that infill (mdlm) can fill them.

    \b
    Examples:
      genlab impute runs/gmm --input gaps.npy --out filled.npy
      genlab impute runs/gmm --input gaps.csv --out filled.csv
      genlab impute runs/mdlm --input "gaps.txt" --span 4 --out filled.txt
    """
    import numpy as np

    from genlab.data.files import read_data
    from genlab.errors import ConfigError

    model, _ = load_run(run_dir, device)
    if is_text_run(model):
        out = None if out is None else check_suffix(out, (".txt",), "--out")
        record = impute_text(model, input_, out, seed=seed, span=span, steps=steps)
        if as_json:
            click.echo(json.dumps(record))
        elif out is None:
            click.echo(record["text"], nl=not record["text"].endswith("\n"))
        else:
            say(f"filled {record['spans']} spans ({record['filled_tokens']} tokens) -> {out}", quiet)
        return
    reject_text_options({"span": span, "steps": steps}, model)
    if out is None:
        raise click.UsageError("missing option '--out' (where to write the filled input)")
    out = check_suffix(out, (".npy", ".csv"), "--out")
    if getattr(model.data_encoder, "kind", None) == "table":
        record = _impute_table(model, input_, out, seed)
        if as_json:
            click.echo(json.dumps(record))
        else:
            say(f"filled {record['filled_entries']} missing cells in {record['filled_rows']} of {record['rows']} "
                f"rows -> {out}", quiet)
        return
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
