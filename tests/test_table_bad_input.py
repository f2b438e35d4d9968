"""Bad table input on the command line (issue 25's must-show): each is one line on stderr, exit status 2, and
nothing written -- a --given column or value that does not exist (naming the valid ones), a column of mixed numbers
and strings (naming the column and lines), an all-missing column, a single-valued column, a likely identifier
(refused, never memorised), and a CSV whose columns differ from the run's schema at eval and at impute."""

from __future__ import annotations

import numpy as np
import pytest
from click.testing import CliRunner

from genlab.cli import cli
from test_data_kinds import patients


def _refused(args: list, words: str, written) -> None:
    r = CliRunner().invoke(cli, [str(a) for a in args])
    assert r.exit_code == 2, r.output
    text = r.output.strip()
    assert words in text and "\n" not in text and "Traceback" not in text, text
    assert not written.exists(), written


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("table_run")
    patients(150).to_csv(tmp / "patients.csv", index=False)
    r = CliRunner().invoke(cli, ["train", "gmm", "--data", str(tmp / "patients.csv"), "--steps", "1", "--set",
                                 "n_components=2", "--out", str(tmp / "run"), "--quiet"])
    assert r.exit_code == 0, r.output
    return tmp / "run"


@pytest.mark.parametrize("change, words", [
    (lambda t: t.assign(code=["a", 1] * 75), "column 'code' mixes numbers and text (line "),
    (lambda t: t.assign(empty=np.nan), "column 'empty' has no values"),
    (lambda t: t.assign(site="Oslo"), "column 'site' holds one value ('Oslo') in every training row"),
    (lambda t: t.assign(patient_id=[f"P{i:04d}" for i in range(len(t))]),
     "column 'patient_id' has a different value in every row (an identifier?)"),
    (lambda t: t.assign(record=np.arange(len(t)) + 1000), "column 'record' has a different value in every row"),
])
def test_train_refuses_a_bad_table_in_one_line(change, words, tmp_path):
    change(patients(150)).to_csv(tmp_path / "bad.csv", index=False)
    _refused(["train", "gmm", "--data", tmp_path / "bad.csv", "--steps", "1", "--out", tmp_path / "run", "--quiet"],
             words, tmp_path / "run")


@pytest.mark.parametrize("given, words", [
    ("sexx=F", "unknown column 'sexx'; the table's columns: age, sex, smoker, bmi"),
    ("sex=X", "'X' is not a category of column 'sex'; its categories: F, M"),
    ("diagnosis=flu", "'flu' is not a category of column 'diagnosis'; its categories: asthma, diabetes, healthy"),
])
def test_sample_refuses_a_given_that_does_not_exist(given, words, run_dir, tmp_path):
    _refused(["sample", run_dir, "-n", "3", "--given", given, "--out", tmp_path / "o.csv"], words, tmp_path / "o.csv")


@pytest.mark.parametrize("change, words", [
    (lambda t: t.drop(columns="bmi"), "(missing column 'bmi'); expected columns: age, sex, smoker, bmi"),
    (lambda t: t.assign(weight=70.0), "(unknown column 'weight'); expected columns: age, sex, smoker, bmi"),
])
@pytest.mark.parametrize("command", ["eval", "impute"])
def test_eval_and_impute_refuse_a_csv_with_other_columns(command, change, words, run_dir, tmp_path):
    rows = patients(40, seed=1)
    rows.loc[[0, 2], "bmi"] = np.nan
    change(rows).to_csv(tmp_path / "other.csv", index=False)
    out = tmp_path / "out.csv"
    args = (["eval", run_dir, "--data", tmp_path / "other.csv", "--json"] if command == "eval" else
            ["impute", run_dir, "--input", tmp_path / "other.csv", "--out", out])
    _refused(args, words, out)


def test_impute_fills_a_table_csv_and_keeps_its_cells(run_dir, tmp_path):
    import pandas as pd

    rows = patients(150).head(40)  # training rows: a cell outside the training range would be clipped to it
    rows.loc[[0, 2], "bmi"] = np.nan
    rows.to_csv(tmp_path / "gaps.csv", index=False)
    r = CliRunner().invoke(cli, ["impute", str(run_dir), "--input", str(tmp_path / "gaps.csv"), "--out",
                                 str(tmp_path / "filled.csv")])
    assert r.exit_code == 0, r.output
    filled, given = pd.read_csv(tmp_path / "filled.csv"), pd.read_csv(tmp_path / "gaps.csv")
    assert list(filled.columns) == list(given.columns) and not filled.isna().any().any()
    seen = given.notna()
    for c in given.columns:
        assert (filled[c][seen[c]] == given[c][seen[c]]).all(), c
