"""Check that every number in a results page's tables is found in the results files the page names.

``docs/benchmarks.md`` is the project's current-results page: one ``## `` section per question, each with a table, the
command that reproduces it, the date, and the results file(s) under ``benchmarks/results/`` it was copied from. This
module parses such a page and reports every table number that none of its section's results files holds.

Rules (``tests/test_docs_results.py`` runs them on the page):

- A section is the text from one ``## `` heading to the next. Its results files are every path
  ``benchmarks/results/NAME.EXT`` written in it (JSON, JSON lines, markdown or text; ``NAME.{json,md}`` names both).
  A section with a table must name at least one, each must exist, and it must give a ``Command:`` in backticks, a
  ``Date:`` (YYYY-MM-DD) and a link ``notes/FILE.md#anchor`` to the dated note with the detail, whose file and heading
  must exist.
- Numbers are taken from table body cells only. Excluded, by these narrow rules alone: the header row, the first
  column (row labels such as ``two_moons``, ``funnel6 (6-D)``, ``30 s``), and a whole column whose header cell starts
  with ``setting:`` (for counts or settings the file does not hold as a value).
- A shown number matches a file value when they differ by at most half a unit in the shown number's last digit
  (``0.0104`` matches 0.010404; ``4,566`` and ``4566`` match 4566; ``1.8e10`` matches 1.79e10; ``1.99x`` matches
  1.99). The file's values are every number in a JSON value (numbers, and numbers written inside strings such as
  ``"K=16 full"``), or every number in the text of a markdown or text file. The sign must agree.

To add a question to the page: one ``## `` section with a sentence saying what the table answers, ``Command:
`...```, ``Date: YYYY-MM-DD``, the results file(s) and a ``[date](notes/DATE.md#heading)`` link, then a table whose
first column holds the row labels and whose other cells are copied from the results file. The test picks it up.

Run as a script to print the problems of a page: ``python benchmarks/check_results_page.py [docs/benchmarks.md]``.
"""

from __future__ import annotations

import json
import math
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["Number", "Section", "numbers_in", "results_files", "anchors", "file_values", "parse_page", "check_page",
           "main"]

ROOT = Path(__file__).resolve().parents[1]
NUMBER = re.compile(r"(?<![\w.])([-\u2212]?)(\d{1,3}(?:,\d{3})+|\d+(?:\.\d+)?)(?:[eE]([-+\u2212]?\d+))?(?![\d])")
_EXT = r"(?:json|jsonl|md|txt)"
RESULTS = re.compile(rf"benchmarks/results/([A-Za-z0-9_.\-]+?)\.(\{{{_EXT}(?:,{_EXT})*\}}|{_EXT})(?![\w])")
DATE = re.compile(r"Date:\**\s*\d{4}-\d{2}-\d{2}")
COMMAND = re.compile(r"Commands?:\**\s*`[^`]+`")
NOTE_LINK = re.compile(r"\]\((notes/[^)#\s]+)(?:#([^)\s]+))?\)")


@dataclass(frozen=True)
class Number:
    """A number as written: its text, its value and half a unit of its last shown digit."""

    text: str
    value: float
    half_unit: float

    def matches(self, v: float) -> bool:
        """True when ``v`` rounds to this number (within half a unit of its last digit, signs agreeing)."""
        if not math.isfinite(v):
            return False
        return abs(v - self.value) <= self.half_unit * (1 + 1e-9) + 1e-12 * abs(self.value)


@dataclass
class Section:
    """One ``## `` section of the page: its title, its text, its results files and its table cells."""

    title: str
    text: str
    files: list[str] = field(default_factory=list)
    cells: list[tuple[int, str, str]] = field(default_factory=list)  # (line number, column header, cell text)


def numbers_in(text: str) -> list[Number]:
    """Every number written in ``text``, with its rounding (thousands commas and a unicode minus understood)."""
    out = []
    for m in NUMBER.finditer(text):
        sign, digits, exp = m.group(1), m.group(2), m.group(3)
        mantissa = digits.replace(",", "")
        decimals = len(mantissa.split(".")[1]) if "." in mantissa else 0
        e = int(exp.replace("\u2212", "-")) if exp else 0
        value = float(mantissa) * 10.0**e * (-1 if sign else 1)
        out.append(Number(m.group(0), value, 0.5 * 10.0 ** (e - decimals)))
    return out


def results_files(text: str) -> list[str]:
    """The results files a text names: ``benchmarks/results/NAME.json``, or ``NAME.{json,md}`` for both."""
    out = []
    for stem, ext in RESULTS.findall(text):
        for e in ext.strip("{}").split(","):
            out.append(f"benchmarks/results/{stem}.{e}")
    return out


def anchors(markdown: str) -> set[str]:
    """The anchors of a markdown file's headings, as GitHub writes them (lower case, punctuation dropped, spaces
    to hyphens)."""
    return {re.sub(r"[^\w\- ]", "", m.group(1).strip().lower()).replace(" ", "-")
            for m in re.finditer(r"^#{1,6} (.+)$", markdown, flags=re.M)}


def _json_numbers(obj, out: list[float]) -> None:
    if isinstance(obj, bool) or obj is None:
        return
    if isinstance(obj, (int, float)):
        out.append(float(obj))
    elif isinstance(obj, str):
        out.extend(n.value for n in numbers_in(obj))
    elif isinstance(obj, dict):
        for v in obj.values():
            _json_numbers(v, out)
    elif isinstance(obj, list):
        for v in obj:
            _json_numbers(v, out)


def file_values(path: Path) -> list[float]:
    """Every number a results file holds: JSON values (and numbers inside JSON strings), or numbers in text."""
    text = path.read_text()
    out: list[float] = []
    if path.suffix == ".json":
        _json_numbers(json.loads(text), out)
    elif path.suffix == ".jsonl":
        for line in text.splitlines():
            if line.strip():
                _json_numbers(json.loads(line), out)
    else:
        out.extend(n.value for n in numbers_in(text))
    return out


def _cells(row: str) -> list[str]:
    return [c.strip() for c in row.strip().strip("|").split("|")]


def parse_page(text: str) -> list[Section]:
    """Split a page into its ``## `` sections, with the results files each names and its tables' body cells."""
    sections: list[Section] = []
    header: list[str] | None = None
    for i, line in enumerate(text.splitlines(), start=1):
        if line.startswith("## "):
            sections.append(Section(line[3:].strip(), ""))
            header = None
            continue
        if not sections:
            continue
        sec = sections[-1]
        sec.text += line + "\n"
        sec.files += [f for f in results_files(line) if f not in sec.files]
        if not line.lstrip().startswith("|"):
            header = None
            continue
        cells = _cells(line)
        if header is None:
            header = cells
        elif all(set(c) <= set("-: ") for c in cells):
            continue
        else:
            for col, cell in enumerate(cells[1:], start=1):
                name = header[col] if col < len(header) else ""
                if not name.lower().startswith("setting:"):
                    sec.cells.append((i, name, cell))
    return sections


def check_page(text: str, root: Path = ROOT) -> list[str]:
    """Every problem of a results page, one line each: a missing file, command, date or note link in a section
    with a table, or a table number found in none of the section's results files. Empty when the page is right."""
    problems = []
    cache: dict[str, list[float]] = {}
    for sec in parse_page(text):
        if not sec.cells:
            continue
        where = f"section '{sec.title}'"
        if not sec.files:
            problems.append(f"{where}: names no results file (benchmarks/results/NAME.json)")
        for key, rx in (("Command: `...`", COMMAND), ("Date: YYYY-MM-DD", DATE), ("a link into notes/", NOTE_LINK)):
            if not rx.search(sec.text):
                problems.append(f"{where}: gives no {key}")
        for note, anchor in NOTE_LINK.findall(sec.text):
            path = root / "docs" / note
            if not path.is_file():
                problems.append(f"{where}: linked note docs/{note} does not exist")
            elif anchor and anchor not in anchors(path.read_text()):
                problems.append(f"{where}: docs/{note} has no heading with anchor #{anchor}")
        values: list[float] = []
        for f in sec.files:
            path = root / f
            if not path.is_file():
                problems.append(f"{where}: results file {f} does not exist")
                continue
            if f not in cache:
                cache[f] = file_values(path)
            values += cache[f]
        if not values:
            continue
        for line, column, cell in sec.cells:
            for n in numbers_in(cell):
                if not any(n.matches(v) for v in values):
                    problems.append(f"line {line}, {where}, column '{column}': {n.text} is in none of "
                                    f"{', '.join(sec.files)}")
    return problems


def main(argv: list[str] | None = None) -> int:
    """Print the problems of the page given (default docs/benchmarks.md); exit status 1 if there are any."""
    args = sys.argv[1:] if argv is None else argv
    page = Path(args[0]) if args else ROOT / "docs" / "benchmarks.md"
    problems = check_page(page.read_text())
    for p in problems:
        print(p)
    print(f"{page}: {len(problems)} problem(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
