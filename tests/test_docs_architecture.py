"""docs/architecture.md stays true: every path it names exists, every ``genlab.`` name in backticks resolves, its
layer table is the one tests/test_layers.py enforces, and every top-level room of src/genlab is on the page.

The checker is also run on planted text with a stale path and a stale module, which it must report.
"""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import pytest

from test_layers import LAYERS

ROOT = Path(__file__).resolve().parents[1]
PKG = ROOT / "src" / "genlab"
DOC = ROOT / "docs" / "architecture.md"

_TICKS = re.compile(r"`([^`]+)`")
_DOTTED = re.compile(r"\bgenlab(?:\.\w+)+")
_PATH_IN_TEXT = re.compile(r"(?<![\w/.])(?:src/)?genlab/[\w/.]*\w/?")
_LINK = re.compile(r"\]\(([^)#:]+)\)")


def _path_exists(token: str) -> bool:
    """A path as the page writes it: from the repo root, from src/genlab (with or without a "src/genlab/" or
    "genlab/" prefix), or a bare file name that exists somewhere under src/genlab."""
    rel = token.removeprefix("src/").removeprefix("genlab/")
    if (ROOT / token).exists() or (PKG / rel).exists():
        return True
    return "/" not in token.rstrip("/") and any(PKG.rglob(token))


def _resolves(dotted: str) -> bool:
    """``genlab.a.b.c``: the longest importable module prefix, then attributes for the rest."""
    parts = dotted.split(".")
    for i in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:i]))
        except ModuleNotFoundError:
            continue
        for name in parts[i:]:
            if not hasattr(obj, name):
                return False
            obj = getattr(obj, name)
        return True
    return False


def stale_names(text: str) -> list[str]:
    """Every path or ``genlab.`` name in ``text`` that does not exist (empty when the page is true)."""
    bad = []
    for token in _TICKS.findall(text):
        token = token.strip()
        if re.fullmatch(r"[\w][\w./-]*", token) and ("/" in token or token.endswith((".py", ".md", ".toml"))):
            if not _path_exists(token):
                bad.append(f"path {token}")
        bad += [f"name {d}" for d in _DOTTED.findall(token) if not _resolves(d)]
    for path in _PATH_IN_TEXT.findall(text):
        if not _path_exists(path):
            bad.append(f"path {path}")
    for link in _LINK.findall(text):
        if not (DOC.parent / link).exists():
            bad.append(f"link {link}")
    return sorted(set(bad))


def layer_table(text: str) -> list[set[str]]:
    """The names in backticks of the third column of the page's layer table, one set per row."""
    rows = [line.split("|") for line in text.splitlines() if re.match(r"\|\s*\d+\s*\|", line)]
    return [set(_TICKS.findall(cells[3])) - {"genlab"} for cells in rows]


def test_every_path_and_module_the_page_names_exists():
    assert stale_names(DOC.read_text(encoding="utf-8")) == []


def test_the_layer_table_is_the_one_the_layer_test_enforces():
    assert layer_table(DOC.read_text(encoding="utf-8")) == [set(layer) for layer in LAYERS]


def test_every_top_level_room_is_on_the_page():
    text = DOC.read_text(encoding="utf-8")
    rooms = [p.name for p in PKG.glob("*.py")] + [f"{p.name}/" for p in PKG.iterdir()
                                                  if p.is_dir() and (p / "__init__.py").exists()]
    missing = [r for r in rooms if f"`{r}" not in text and f"`genlab/{r}" not in text]
    assert missing == []


@pytest.mark.parametrize("planted, expected", [
    ("the loop lives in `training/loops.py`", "path training/loops.py"),
    ("see src/genlab/diffusion/samplers/fastest.py", "path src/genlab/diffusion/samplers/fastest.py"),
    ("models are in `genlab.registry.MODELZ`", "name genlab.registry.MODELZ"),
    ("call `genlab.nope.solve(model)`", "name genlab.nope.solve"),
    ("read [the notes](nowhere.md)", "link nowhere.md"),
])
def test_a_stale_name_is_reported(planted, expected):
    assert stale_names("`registry.py` and `genlab.rng.make_generator` exist. " + planted) == [expected]
