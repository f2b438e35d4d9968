"""Helpers shared by the commands: click settings and option types, ``--set`` parsing, output."""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path
from typing import Any

import click

__all__ = ["SETTINGS", "POSITIVE_INT", "POSITIVE_FLOAT", "parse_sets", "say", "table", "fmt", "write_json",
           "check_suffix", "device_option"]

SETTINGS = {"show_default": True, "help_option_names": ["-h", "--help"], "max_content_width": 100}
POSITIVE_INT = click.IntRange(min=1)


class _PositiveFinite(click.FloatRange):
    """A float > 0 that is also finite (click's FloatRange lets nan and inf through)."""

    def convert(self, value, param, ctx):
        out = super().convert(value, param, ctx)
        if not math.isfinite(out):
            self.fail(f"{value!r} is not a finite number", param, ctx)
        return out


POSITIVE_FLOAT = _PositiveFinite(min=0, min_open=True)


def device_option(command):
    """The ``--device`` option of the commands that compute with a model (see :mod:`genlab.device`)."""
    return click.option("--device", default="cpu", metavar="DEVICE",
                        help="Where the model computes: auto (CUDA, else MPS, else CPU), cpu, cuda, cuda:N or mps. "
                             "An unavailable device is an error.")(command)


def parse_sets(ctx, param, values) -> dict[str, str]:
    """Click callback: ``("k=v", ...)`` -> ``{"k": "v"}`` (strings; the registry converts them by field type)."""
    out: dict[str, str] = {}
    for item in values or ():
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise click.BadParameter(f"expected KEY=VALUE, got {item!r}", ctx=ctx, param=param)
        out[key.strip()] = value.strip()
    return out


def check_suffix(path: str, suffixes: tuple[str, ...], option: str) -> Path:
    """``path`` as a Path whose suffix is one of ``suffixes`` (usage error otherwise)."""
    p = Path(path)
    if p.suffix.lower() not in suffixes:
        raise click.BadParameter(f"{path!r} must end in {' or '.join(suffixes)}", param_hint=option)
    return p


def say(message: str = "", quiet: bool = False) -> None:
    """Print a line on stdout unless ``quiet``."""
    if not quiet:
        click.echo(message)


def fmt(value: Any) -> str:
    """A number for humans: 4 significant digits for floats, as-is otherwise."""
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            return str(value)
        return f"{value:.4g}" if abs(value) < 1e6 else f"{value:.4e}"
    return str(value)


def table(rows: list[tuple[str, Any]], title: str | None = None) -> None:
    """Two-column table on stdout: rich on a terminal, aligned plain text otherwise."""
    if sys.stdout.isatty():
        from rich.console import Console
        from rich.table import Table

        t = Table(title=title, show_header=False)
        t.add_column(style="bold")
        t.add_column(justify="right")
        for key, value in rows:
            t.add_row(key, fmt(value))
        Console().print(t)
        return
    if title:
        click.echo(title)
    width = max((len(k) for k, _ in rows), default=0)
    for key, value in rows:
        click.echo(f"  {key.ljust(width)}  {fmt(value)}")


def write_json(path: Path, obj: Any) -> None:
    """Write ``obj`` as indented JSON (non-finite numbers as Infinity/NaN, as json does)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj, indent=2, default=str) + "\n")
