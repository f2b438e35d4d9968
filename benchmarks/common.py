"""What the benchmark scripts share: writing a results file pair (STEM.json with the command's arguments, the date
and the machine's load, and STEM.md with the table)."""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

__all__ = ["write_results"]


def write_results(stem, args, payload: dict, table: str) -> None:
    """Write ``STEM.json`` ({args, command, date, load_avg, **payload}) and ``STEM.md`` (``table``)."""
    stem = Path(stem)
    stem.parent.mkdir(parents=True, exist_ok=True)
    meta = {"args": vars(args), "command": " ".join(["python", *sys.argv]), "date": time.strftime("%Y-%m-%d %H:%M"),
            "load_avg": os.getloadavg()}
    stem.with_suffix(".json").write_text(json.dumps({**meta, **payload}, indent=2))
    stem.with_suffix(".md").write_text(table + "\n")
