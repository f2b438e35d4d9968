"""docs/benchmarks.md says only what its results files hold.

Every number in a table of the current-results page must be found in the results file(s) its ``## `` section names
(``benchmarks/results/NAME.json`` etc.), within half a unit of its last shown digit. Excluded by narrow rules only:
each table's header row, its first column (row labels such as ``two_moons``, ``funnel6 (6-D)``) and any column whose
header starts with ``setting:``. Each section with a table must also give a ``Command:``, a ``Date:`` and a link to
its dated note under docs/notes/ whose heading exists. The rules live in ``benchmarks/check_results_page.py``; these
tests run them on the page and show that a doctored copy of the page fails.
"""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGE = ROOT / "docs" / "benchmarks.md"


def _checker():
    spec = importlib.util.spec_from_file_location("check_results_page", ROOT / "benchmarks" / "check_results_page.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod  # dataclasses look their module up there
    spec.loader.exec_module(mod)
    return mod


check = _checker()


def test_every_table_number_is_in_its_results_file():
    assert check.check_page(PAGE.read_text()) == []


def test_the_page_is_a_short_page_of_tables():
    text = PAGE.read_text()
    assert len(text.splitlines()) < 200
    sections = [s for s in check.parse_page(text) if s.cells]
    assert len(sections) >= 8  # the check above must not pass because nothing was parsed
    assert sum(len(check.numbers_in(cell)) for s in sections for _, _, cell in s.cells) >= 300


def _doctored(number: str, values: list[float]) -> str:
    """The same number, same rounding, with its last digit changed to a value no results file of the section
    holds (a presence check cannot catch a change to another number of the same file)."""
    i = max(i for i, ch in enumerate(number) if ch.isdigit())
    for k in range(1, 10):
        new = number[:i] + str((int(number[i]) + k) % 10) + number[i + 1:]
        (n,) = check.numbers_in(new)
        if not any(n.matches(v) for v in values):
            return new
    raise AssertionError(f"every change of {number}'s last digit is in the results files")


def test_a_changed_number_in_any_section_fails():
    text = PAGE.read_text()
    lines = text.splitlines()
    for sec in check.parse_page(text):
        if not sec.cells:
            continue
        values = [v for f in sec.files for v in check.file_values(ROOT / f)]
        line, cell = next((ln, c) for ln, _, c in sec.cells
                          if any(len(re.sub(r"\D", "", n.text)) >= 3 for n in check.numbers_in(c)))
        n = next(n for n in check.numbers_in(cell) if len(re.sub(r"\D", "", n.text)) >= 3)
        new = _doctored(n.text, values)
        doctored = lines.copy()
        doctored[line - 1] = lines[line - 1].replace(cell, cell.replace(n.text, new, 1), 1)
        problems = check.check_page("\n".join(doctored))
        assert any(p.startswith(f"line {line},") and f": {new} is in none of" in p for p in problems), (sec.title, new)


def test_a_section_without_its_file_command_date_or_note_fails(tmp_path):
    text = PAGE.read_text()
    start = text.index("## Likelihood time")
    end = text.index("\n## ", start + 1)
    section = text[start:end]
    for needle, expected in (("Command:", "no Command"), ("Date:", "no Date"),
                             ("](notes/", "no a link into notes/"),
                             ("loglik_speed_v4.{json,md}", "names no results file")):
        broken = text[:start] + section.replace(needle, "X", 1) + text[end:]
        assert any(expected in p for p in check.check_page(broken)), needle
    broken = text[:start] + section.replace("loglik_speed_v4.{json,md}", "loglik_speed_v99.json") + text[end:]
    assert any("does not exist" in p for p in check.check_page(broken))
    broken = text[:start] + section.replace("cheaper-training-steps)", "no-such-heading)", 1) + text[end:]
    assert any("no heading with anchor" in p for p in check.check_page(broken))


@pytest.mark.parametrize("shown,value,ok", [
    ("0.0104", 0.01040417960882187, True),
    ("0.0104", 0.01046, False),        # more than half a unit of the last digit away
    ("0.010", 0.01040417960882187, True),  # shown rounder: still the file's value, rounded
    ("4,566", 4566, True),
    ("4,566", 4567, False),
    ("1.99x", 1.99, True),
    ("-0.0001", -8.16568851470939e-05, True),
    ("0.0001", -8.16568851470939e-05, False),  # the sign must agree
    ("\u22120.0001", -8.16568851470939e-05, True),
    ("2.6e-5", 2.579482839850748e-05, True),
    ("2.6e-5", 2.7e-05, False),
])
def test_a_shown_number_matches_only_its_rounding(shown, value, ok):
    (n,) = check.numbers_in(shown)
    assert n.matches(value) is ok


def test_only_labels_and_setting_columns_are_excluded(tmp_path):
    (tmp_path / "benchmarks" / "results").mkdir(parents=True)
    (tmp_path / "benchmarks" / "results" / "r.json").write_text('{"kl": 0.0153, "note": "K=16 full"}')
    (tmp_path / "docs" / "notes").mkdir(parents=True)
    (tmp_path / "docs" / "notes" / "d.md").write_text("## Run 7\n")
    head = ("## Q\n\nCommand: `python x.py` · Date: 2026-12-03 · Results: `benchmarks/results/r.json` · "
            "Detail: [d](notes/d.md#run-7)\n\n")
    ok = head + "| set 99 | KL | setting: threads |\n|---|---|---|\n| two_moons 6-D | 0.0153 (K=16) | 2 |\n"
    assert check.check_page(ok, tmp_path) == []
    bad = ok.replace("| setting: threads |", "| threads |")
    assert [p for p in check.check_page(bad, tmp_path) if ": 2 is in none of" in p]
