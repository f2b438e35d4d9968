"""Checkpoints written by older genlab still load and give the numbers they gave then (issue 24).

tests/fixtures/pre_rename/<commit>/ holds tiny fitted models saved by the genlab of that commit and the numbers that
genlab computed (``expected.json``, written by tests/fixtures/pre_rename/make.py): e571f5f is main of 2026-12-05
(format 4, every model of that day), 32ea1d5 the last main before the renames of format 7 (format 6). Today's genlab
must load each one with the old behaviour (:data:`genlab.checkpoint.LEGACY_CONFIG`) and the old fields under their new
names (:data:`genlab.checkpoint.LEGACY_NAMES`).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

import genlab
from genlab.checkpoint import LEGACY_NAMES

ROOT = Path(__file__).parent / "fixtures" / "pre_rename"
CASES = [(commit.name, name) for commit in sorted(ROOT.iterdir()) if (commit / "expected.json").is_file()
         for name in json.loads((commit / "expected.json").read_text())]
TOL = {"rtol": 1e-5, "atol": 1e-5}
#: log_prob and impute options of the exact evaluation that make.py stored as ``*_exact`` (the default estimates)
EXACT = {"cnf": {"divergence": "exact"}}  # make.py: "trace", its name then
#: numbers that a documented later change of an *estimate* moved (not a format change: nothing in the checkpoint
#: says which draw was used); the exact value (``log_prob_exact``) must still match
_PROBES = ("a13faad: the CNF's Hutchinson probes are drawn as the likelihood's (the signs of normal draws, no longer "
           "randint), so another probe for seed 0")
REDRAWN = {("e571f5f", "cnf", "log_prob"): _PROBES, ("e571f5f", "cnf", "impute"): _PROBES}


def _expected(commit: str, name: str) -> dict:
    return json.loads((ROOT / commit / "expected.json").read_text())[name]


def _renamed(field: str, version: int) -> str:
    """The name today of a config field that a checkpoint of format ``version`` saved as ``field``."""
    for since, names in sorted(LEGACY_NAMES.items()):
        if version < since:
            field = names.get(field, field)
    return field


def test_fixtures_cover_every_model_of_the_day():
    assert {n for c, n in CASES if c == "e571f5f"} >= {"cnf", "ebm", "edm", "gmm", "made", "ncsn", "vp_sde",
                                                      "pixel_transformer", "flow_matching", "rectified_flow"}


@pytest.mark.parametrize("commit,name", CASES)
def test_old_checkpoint_loads_with_old_numbers(commit, name):
    e = _expected(commit, name)
    m = genlab.load(ROOT / commit / name)
    assert m.name == name and m.likelihood == e["likelihood"]
    config = vars(m.config)
    for field, value in e["config"].items():  # every old field reaches today's config (renamed where it was)
        new = _renamed(field, e["format_version"])
        assert new in config, f"{name}: saved field '{field}' is lost (today's name '{new}')"
        if isinstance(value, list):
            value = type(config[new])(value)
        assert config[new] == value, f"{name}: '{field}' -> '{new}' is {config[new]!r}, saved {value!r}"
    smoke = e["smoke"]
    rows = torch.tensor(e["rows"])
    y8 = None if e["labels"] is None else torch.tensor(e["labels"])
    y4 = None if y8 is None else y8[:4]
    torch.testing.assert_close(m.sample(8, y=y8, seed=0, **smoke.get("sample", {})), torch.tensor(e["sample"]), **TOL)
    if "log_prob" in e:
        lp = m.log_prob(rows, y=y4, seed=0)
        if (commit, name, "log_prob") in REDRAWN:
            assert torch.isfinite(lp).all()
        else:
            torch.testing.assert_close(lp, torch.tensor(e["log_prob"]), **TOL)
    if "log_prob_exact" in e:
        lp = m.log_prob(rows, y=y4, seed=0, **EXACT[name])
        torch.testing.assert_close(lp, torch.tensor(e["log_prob_exact"]), **TOL)
    holes = rows.clone()
    holes[:, 1] = float("nan")
    filled = m.impute(holes, seed=0, **smoke.get("impute", {}))
    if (commit, name, "impute") in REDRAWN:
        assert torch.isfinite(filled).all()
    else:
        torch.testing.assert_close(filled, torch.tensor(e["impute"]), **TOL)
    if "impute_exact" in e:
        filled = m.impute(holes, seed=0, **smoke.get("impute", {}), **EXACT[name])
        torch.testing.assert_close(filled, torch.tensor(e["impute_exact"]), **TOL)
