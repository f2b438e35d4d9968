"""genlab.metrics.tabular: fidelity, utility and privacy of a synthetic table (known answers and orderings)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from genlab.errors import DataError
from genlab.metrics.tables import TableSpace, tabular, wasserstein1


def clinic(n: int, seed: int = 0, missing: bool = True) -> pd.DataFrame:
    """Patients whose columns depend on each other: age -> bmi, smoker, systolic, cholesterol; bmi -> diabetic ->
    diagnosis (15% of diagnoses random); cholesterol 10% missing."""
    rng = np.random.default_rng(seed)
    age = rng.integers(20, 86, n)
    sex = rng.choice(["F", "M"], n)
    bmi = np.round(22 + 0.08 * age + 1.5 * (sex == "M") + rng.normal(0, 2.5, n), 1)
    smoker = np.where(rng.random(n) < 0.6 - age / 200, "never", np.where(age > 50, "former", "current"))
    systolic = np.round(95 + 0.6 * age + 0.8 * bmi + rng.normal(0, 8, n)).astype(int)
    diabetic = rng.random(n) < 1 / (1 + np.exp(-(bmi - 30) / 2))
    diagnosis = np.where(diabetic, "diabetes", np.where(smoker == "current", "asthma", "healthy"))
    diagnosis = np.where(rng.random(n) < 0.15, rng.choice(["asthma", "diabetes", "healthy"], n), diagnosis)
    chol = np.round(4 + 0.02 * age + rng.normal(0, 0.6, n), 2)
    if missing:
        chol = np.where(rng.random(n) < 0.1, np.nan, chol)
    return pd.DataFrame({"age": age, "sex": sex, "bmi": bmi, "smoker": smoker, "systolic": systolic,
                         "diabetic": diabetic, "diagnosis": diagnosis, "cholesterol": chol})


def marginals(frame: pd.DataFrame, n: int, seed: int) -> pd.DataFrame:
    """Each column drawn on its own from the rows of ``frame``: right marginals, no dependence."""
    rng = np.random.default_rng(seed)
    return pd.DataFrame({c: frame[c].to_numpy()[rng.integers(0, len(frame), n)] for c in frame})


def garbage(frame: pd.DataFrame, n: int, seed: int) -> pd.DataFrame:
    """Uniform over each column's range / categories: wrong marginals, no dependence."""
    rng = np.random.default_rng(seed)
    out = {}
    for c in frame:
        s = frame[c]
        if s.dtype.kind in "OSb":
            out[c] = rng.choice(s.dropna().unique(), n)
        else:
            out[c] = rng.uniform(s.min(), s.max(), n).round(0 if s.dtype.kind == "i" else 2).astype(s.dtype)
    return pd.DataFrame(out)


@pytest.fixture(scope="module")
def split():
    t = clinic(1500)
    return t.iloc[:1000], t.iloc[1000:]


def test_fidelity_ranks_real_rows_over_independent_marginals_over_garbage(split):
    train, test = split
    real, marg, junk = (tabular(train, test, s, seed=0).fidelity
                        for s in (test, marginals(train, 500, 1), garbage(train, 500, 2)))
    assert real.quality > marg.quality + 0.03 and marg.quality > junk.quality + 0.1
    assert real.column_pair_trends > marg.column_pair_trends + 0.08  # marginals lose the dependence ...
    assert abs(real.column_shapes - marg.column_shapes) < 0.02  # ... but keep the column shapes
    assert marg.column_shapes > junk.column_shapes + 0.08
    assert real.w1_train < marg.w1_train < junk.w1_train
    assert real.holdout_quality == pytest.approx(real.quality)  # the test rows as "synthetic" are the reference
    assert real.coverage > 0.9 and marg.column_coverage["diagnosis"] == 1.0


def test_known_answers_of_w1_and_the_terms():
    # W1 of identical tables is 0; moving half the mass one full range (or one category to another) costs 1/2
    a = pd.DataFrame({"x": [0.0, 1.0] * 10, "c": ["a", "b"] * 10})
    f = tabular(a, a, a).fidelity
    assert f.w1_train == 0.0 and f.w1_test == 0.0 and f.quality == 1.0 and f.coverage == 1.0
    shifted = a.assign(x=1.0)  # half the rows move by the whole training range: W1 = 1/2, KS = 1/2
    f = tabular(a, a, shifted).fidelity
    assert f.w1_train == pytest.approx(0.5) and f.columns["x"] == pytest.approx(0.5) and f.column_coverage["x"] == 0
    one_category = a.assign(c="b")  # one-hot halved: categories 1 apart, half the mass moves: W1 = 1/2, TV = 1/2
    f = tabular(a, a, one_category).fidelity
    assert f.w1_train == pytest.approx(0.5) and f.columns["c"] == pytest.approx(0.5)
    assert f.column_coverage["c"] == 0.5
    line = pd.DataFrame({"u": np.arange(20) / 2 + 0.25, "v": np.arange(20) + 0.5})  # rho = 1
    assert tabular(line, line, line.assign(v=line["v"][::-1].to_numpy())).fidelity.column_pair_trends == 0.0
    assert tabular(line, line, line.assign(u=3.25)).fidelity.column_pair_trends == 0.5  # constant: rho taken as 0
    x, y = np.array([[0.0, 0.0], [1.0, 1.0]]), np.array([[0.0, 1.0], [1.0, 1.0]])
    assert wasserstein1(x, y) == pytest.approx(0.5)  # L1: the only mismatch costs 1, carried by half the mass


def test_a_missing_cell_is_its_own_category_in_the_tv_and_contingency_terms():
    rng = np.random.default_rng(0)
    train = pd.DataFrame({"c": np.where(rng.random(400) < 0.2, None, rng.choice(["a", "b"], 400)),
                          "d": rng.choice(["u", "v"], 400)})
    share = train["c"].isna().mean()
    filled = train.assign(c=train["c"].fillna("a"))  # the same rows with their holes filled: only "missing" moves
    f = tabular(train, train, filled).fidelity
    assert f.columns["c"] == pytest.approx(1 - share) and f.columns["d"] == 1.0
    assert f.column_pair_trends == pytest.approx(1 - share)


def test_an_exact_copy_leaks_and_a_fresh_sample_does_not(split):
    train, test = split
    copy = tabular(train, test, train.copy(), seed=0).privacy
    assert copy.dcr_synthetic == 0.0 and copy.dcr_ratio == 0.0 and copy.exact_copies == 1.0
    assert copy.mia_auc > 0.95
    fresh = tabular(train, test, clinic(1000, seed=7), seed=0).privacy
    assert 0.85 < fresh.dcr_ratio < 1.15 and fresh.exact_copies < 0.01 and abs(fresh.mia_auc - 0.5) < 0.05


def test_utility_of_the_real_training_rows_is_the_baseline_and_garbage_is_far_below(split):
    train, test = split
    train, test = train.iloc[:500], test.iloc[:250]
    for target, metric in (("diagnosis", "f1_macro"), ("systolic", "r2")):
        u = tabular(train, test, train.copy(), target=target, seed=0).utility
        assert u.difference[metric] == 0.0 and u.real == u.synthetic
        assert u.task == ("regression" if target == "systolic" else "classification")
        junk = tabular(train, test, garbage(train, 500, 3), target=target, seed=0).utility
        assert junk.real == u.real and u.real[metric] > 0.5 and junk.difference[metric] < -0.3


def test_preprocessing_never_sees_the_test_rows(split):
    train, test = split
    synthetic = marginals(train, 400, 5)
    base = tabular(train, test, synthetic, seed=0)
    wild = test.assign(bmi=1000.0, diagnosis="unknown", cholesterol=np.nan)  # nothing fitted may move
    other = tabular(train, wild, synthetic, seed=0)
    keep = ("quality", "column_shapes", "column_pair_trends", "w1_train", "coverage", "columns", "column_coverage")
    assert {k: getattr(base.fidelity, k) for k in keep} == {k: getattr(other.fidelity, k) for k in keep}
    assert base.privacy.dcr_synthetic == other.privacy.dcr_synthetic
    assert base.fidelity.w1_test != other.fidelity.w1_test  # (the test rows are scored, in the training frame)
    assert TableSpace(train).lo["bmi"] == train["bmi"].min()


def test_report_to_dict_is_json_and_bad_input_is_one_line(split):
    train, test = split
    d = tabular(train, test, test, target="sex").to_dict()
    assert set(d) == {"fidelity", "utility", "privacy", "rows"} and json.loads(json.dumps(d)) == d
    assert d["rows"] == {"train": 1000, "test": 500, "synthetic": 500}
    for bad, message in ((test.drop(columns="bmi"), r"synthetic does not match the training table \(missing "
                                                    r"column 'bmi'\)"),
                         (test.assign(bmi="x"), r"column 'bmi' \(numeric in the training rows\) holds non-numbers")):
        with pytest.raises(DataError, match=message) as err:
            tabular(train, test, bad)
        assert "\n" not in str(err.value)
    with pytest.raises(DataError, match="target 'bim' is not a column"):
        tabular(train, test, test, target="bim")


def test_column_shapes_and_pair_trends_agree_with_sdmetrics():
    """sdmetrics' QualityReport with its pair thresholds off (it scores every pair, as sdmetrics < 0.2x did). Its
    shapes equal ours; its pair trends bin each table's numbers by that table's own range (ours: the training
    range, also for synthetic rows): on this table they differ by 0.015 at most (the held-out rows), the quality by
    0.008; the test allows 0.02 and 0.01."""
    import warnings

    pytest.importorskip("sdmetrics")
    with warnings.catch_warnings():  # sdmetrics >= 0.2x: "the single table quality report is deprecated"
        warnings.simplefilter("ignore", FutureWarning)
        from sdmetrics.reports.single_table import QualityReport

    t = clinic(1500, seed=1, missing=False)  # sdmetrics' TV drops missing cells, ours counts them: none here
    train, test = t.iloc[:1000], t.iloc[1000:]
    sdtype = {"numeric": "numerical", "integer": "numerical", "categorical": "categorical", "boolean": "boolean"}
    meta = {"columns": {c: {"sdtype": sdtype[k]} for c, k in TableSpace(train).types.items()}}
    for synthetic in (test, marginals(train, 500, 1), garbage(train, 500, 2)):
        ours = tabular(train, test, synthetic).fidelity
        report = QualityReport()
        report.real_correlation_threshold = report.real_association_threshold = 0
        report.generate(train, synthetic, meta, verbose=False)
        theirs = report.get_properties().set_index("Property")["Score"]
        assert ours.column_shapes == pytest.approx(theirs["Column Shapes"], abs=1e-9)
        assert ours.column_pair_trends == pytest.approx(theirs["Column Pair Trends"], abs=0.02)
        assert ours.quality == pytest.approx(report.get_score(), abs=0.01)


def test_cli_eval_of_a_table_run_reports_fidelity_utility_privacy_and_refuses_other_columns(tmp_path):
    from click.testing import CliRunner

    from genlab.cli import cli

    clinic(400).to_csv(tmp_path / "train.csv", index=False)
    clinic(200, seed=1).to_csv(tmp_path / "test.csv", index=False)
    run = str(tmp_path / "run")
    r = CliRunner().invoke(cli, ["train", "gmm", "--data", str(tmp_path / "train.csv"), "--steps", "1", "--set",
                                 "n_components=3", "--out", run, "--quiet"], catch_exceptions=False)
    assert r.exit_code == 0, r.output
    r = CliRunner().invoke(cli, ["eval", run, "--data", str(tmp_path / "test.csv"), "--target", "diagnosis", "--n",
                                 "300", "--json"], catch_exceptions=False)
    assert r.exit_code == 0, r.output
    out = json.loads(r.output)
    assert out["rows"] == {"train": 280, "test": 200, "synthetic": 300}  # the run's 70% split, the file, --n
    f, u, p = out["fidelity"], out["utility"], out["privacy"]
    assert f["holdout_quality"] > 0.85 and 0.6 < f["quality"] <= 1 and 0 < f["w1_train"] < f["w1_test"] + 0.5
    assert u["target"] == "diagnosis" and u["real"]["f1_macro"] > 0.7 and u["synthetic"]["f1_macro"] > 0.3
    assert p["exact_copies"] == 0.0 and p["dcr_ratio"] > 0.5 and 0.3 < p["mia_auc"] < 0.7
    held_out = CliRunner().invoke(cli, ["eval", run], catch_exceptions=False)  # default: the run's held-out rows
    assert held_out.exit_code == 0 and "quality" in held_out.output and "'test': 120" in held_out.output
    clinic(50, seed=2).drop(columns="bmi").to_csv(tmp_path / "bad.csv", index=False)
    bad = CliRunner().invoke(cli, ["eval", run, "--data", str(tmp_path / "bad.csv")])
    assert bad.exit_code == 2 and bad.output.count("\n") == 1
    assert "does not match the schema (missing column 'bmi')" in bad.output
    clinic(500).to_csv(tmp_path / "train.csv", index=False)  # the training file changed since the run
    changed = CliRunner().invoke(cli, ["eval", run, "--data", str(tmp_path / "test.csv")])
    assert changed.exit_code == 2 and "has changed: 350 training rows with seed 0, the run had 280" in changed.output
