"""The mixed-type table models (table_ar, table_diffusion), sample(n, given=...), and the table contract for every
model that takes tables."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pandas as pd
import pytest
import torch

import genlab
from genlab import registry
from genlab.errors import ConfigError, DataError
from test_data_kinds import patients

TABLE_MODELS = ("table_ar", "table_diffusion")
SETTINGS = {"table_ar": {"hidden_features": (128, 128), "dropout": 0.0},
            "table_diffusion": {"hidden": 128, "depth": 3}}
SAMPLE = {"table_ar": {}, "table_diffusion": {"steps": 30}}


def linked_patients(n: int = 600, seed: int = 0) -> pd.DataFrame:
    """patients() with two dependencies: bmi rises with age (corr ~0.9), and diagnosis is "diabetes" for ~90 % of
    diabetic patients and ~5 % of the others."""
    t = patients(n, seed)
    rng = np.random.default_rng(seed + 1)
    t["bmi"] = np.round(20 + 0.15 * (t["age"] - 18) + rng.normal(0, 1.0, n), 1)
    diabetes = rng.random(n) < np.where(t["diabetic"], 0.9, 0.05)
    other = np.where(rng.random(n) < 0.5, "asthma", "healthy")
    t["diagnosis"] = np.where(t["diagnosis"].isna(), None, np.where(diabetes, "diabetes", other))
    return t


def dependence_errors(frame: pd.DataFrame, real: pd.DataFrame) -> tuple[float, float]:
    """(|corr(age, bmi) - real's|, sum over diabetic in {True, False} of |P(diabetes | diabetic) - real's|)."""
    def corr(t):
        return float(np.corrcoef(t["age"].astype(float), t["bmi"].astype(float))[0, 1])

    def cond(t, d):
        return float((t.loc[t["diabetic"] == d, "diagnosis"] == "diabetes").mean())

    return abs(corr(frame) - corr(real)), sum(abs(cond(frame, d) - cond(real, d)) for d in (True, False))


def independent_marginals(real: pd.DataFrame, n: int, seed: int = 0) -> pd.DataFrame:
    """The floor: every column drawn from its own marginal, independently of the others."""
    rng = np.random.default_rng(seed)
    return pd.DataFrame({c: real[c].to_numpy()[rng.integers(0, len(real), n)] for c in real.columns})


@pytest.fixture(scope="module")
def real():
    return linked_patients()


@pytest.fixture(scope="module", params=TABLE_MODELS)
def fitted(request, real):
    name = request.param
    m = genlab.create(name, real, **SETTINGS[name])
    return m.fit(real, steps=400, batch_size=128, lr=2e-3, seed=0, progress=False)


# ------------------------------------------------------------------------------------------- quality
def test_fits_reproduce_the_dependencies_that_marginals_miss(fitted, real):
    synth = fitted.sample(1500, seed=1, **SAMPLE[fitted.name])
    floor = dependence_errors(independent_marginals(real, 1500), real)
    corr_err, cond_err = dependence_errors(synth, real)
    assert floor[0] > 0.8 and floor[1] > 0.6  # the floor misses both dependencies
    assert corr_err < 0.1 and cond_err < 0.25, (corr_err, cond_err)


def test_samples_decode_to_the_schema(fitted, real):
    synth = fitted.sample(1000, seed=2, **SAMPLE[fitted.name])
    assert list(synth.columns) == list(real.columns) and (synth.dtypes == real.dtypes).all()
    assert set(synth["sex"]) <= {"F", "M"} and list(synth["smoker"].cat.categories) == ["never", "former", "current"]
    assert set(synth["diagnosis"].dropna()) <= {"asthma", "diabetes", "healthy"}
    assert synth["age"].between(real["age"].min(), real["age"].max()).all()
    for c in ("systolic", "cholesterol", "diagnosis"):  # the pattern of missing cells is synthesized too
        assert abs(synth[c].isna().mean() - real[c].isna().mean()) < 0.06, c


def test_given_sets_the_column_and_moves_the_others_toward_the_real_conditional(fitted, real):
    opts = {"table_ar": {"draws": 32}, "table_diffusion": {"steps": 30}}[fitted.name]
    free = fitted.sample(600, seed=3, **SAMPLE[fitted.name])

    def closer(given, column, stat):
        synth = fitted.sample(600, seed=3, given=given, **opts)
        (col, value), = given.items()
        assert (synth[col] == value).all()
        target = stat(real[real[col] == value][column])
        assert abs(stat(synth[column]) - target) < 0.5 * abs(stat(free[column]) - target), (given, column)

    def share(value):
        return lambda s: float((s == value).mean())

    closer({"diabetic": True}, "diagnosis", share("diabetes"))  # a column before: table_ar is exact
    closer({"diagnosis": "diabetes"}, "diabetic", share(True))  # the last column: table_ar resamples
    closer({"age": 80}, "bmi", lambda s: float(s.mean()))  # a number given


def test_every_table_model_with_a_temperature_is_tested_for_it():
    """The temperature test below runs on TABLE_MODELS' fits: every table model whose sample takes a temperature
    must be among them (read from the registry)."""
    takes = {n for n in genlab.models.for_kind("table") if registry.get(n).takes_sample_option("temperature")}
    assert takes and takes <= set(TABLE_MODELS), takes


def test_temperature_one_is_the_default_and_lower_contracts_toward_the_modes(fitted, real):
    """sample(temperature=tau): 1 is the plain sampler (same rows for one seed); below 1 the numeric columns
    spread less and the commoner class of a boolean gains, while every row still decodes to the schema."""
    opts = SAMPLE[fitted.name]
    plain, one = fitted.sample(800, seed=4, **opts), fitted.sample(800, seed=4, temperature=1.0, **opts)
    pd.testing.assert_frame_equal(plain, one)
    cold = fitted.sample(800, seed=4, temperature=0.5, **opts)
    for c in ("age", "bmi"):
        assert cold[c].astype(float).std() < 0.8 * plain[c].astype(float).std(), c
    assert (~cold["diabetic"]).mean() > (~plain["diabetic"]).mean() + 0.05  # about 80 % of the real rows
    assert list(cold.columns) == list(real.columns) and (cold.dtypes == real.dtypes).all()
    for bad in (0, -1.0, float("nan"), "warm"):
        with pytest.raises(ConfigError, match="temperature must be"):
            fitted.sample(5, seed=0, temperature=bad, **opts)


# ------------------------------------------------------------------------------------------- table_ar's likelihood
def _grid_table(n=200, seed=0):
    rng = np.random.default_rng(seed)
    a = rng.choice(["x", "y", "z"], n)
    b = np.where(rng.random(n) < 0.8, a == "x", rng.random(n) < 0.5)
    k = np.clip(np.round(rng.normal(3 + 2 * (a == "y"), 1.0, n)), 0, 6)
    return pd.DataFrame({"a": np.where(rng.random(n) < 0.1, None, a), "b": b,
                         "k": pd.array(np.where(rng.random(n) < 0.1, None, k), dtype="Int64")})


def _all_rows(columns: dict[str, list]) -> pd.DataFrame:
    return pd.DataFrame(list(itertools.product(*columns.values())), columns=list(columns))


def test_table_ar_log_prob_is_normalized_over_every_record():
    """exp(log_prob) sums to 1 over all records: categories (with "missing"), booleans and every integer value
    (the discretized mixture's cells), with missing integer cells."""
    t = _grid_table()
    two = genlab.create("table_ar", t[["a", "b"]], hidden_features=(32,)).fit(t[["a", "b"]], steps=50, progress=False)
    cells = _all_rows({"a": ["x", "y", "z", None], "b": [False, True]})
    assert math.isclose(two.log_prob(cells).exp().sum().item(), 1.0, abs_tol=1e-5)
    m = genlab.create("table_ar", t, hidden_features=(32,)).fit(t, steps=50, progress=False)
    k = range(int(t["k"].min()), int(t["k"].max()) + 1)  # every integer value within the training range
    cells = _all_rows({"a": ["x", "y", "z", None], "b": [False, True], "k": [*k, None]})
    cells["k"] = cells["k"].astype("Int64")
    assert math.isclose(m.log_prob(cells).exp().sum().item(), 1.0, abs_tol=1e-4)
    assert m.likelihood == "exact" and m.log_prob(t.head(3)).shape == (3,)


def test_table_ar_impute_draws_from_the_exact_conditional():
    """Column a missing, b given: a comes first, so impute resamples particles; the frequencies of the fills match
    p(a | b) computed exactly from the model's own log_prob."""
    t = _grid_table()[["a", "b"]].dropna()
    m = genlab.create("table_ar", t, hidden_features=(32,)).fit(t, steps=200, progress=False)
    cells = _all_rows({"a": ["x", "y", "z"], "b": [True]})
    exact = torch.softmax(m.log_prob(cells), 0).numpy()
    holes = pd.DataFrame({"a": [None] * 3000, "b": [True] * 3000})
    fills = m.impute(holes, seed=0, draws=64)["a"].value_counts(normalize=True)
    assert np.abs(fills.reindex(["x", "y", "z"]).fillna(0).to_numpy() - exact).max() < 0.03, (fills, exact)
    assert m.last_nfe == 2 * 64  # two variables, 64 particles
    m.impute(pd.DataFrame({"a": ["x"], "b": [None]}), seed=0)  # b last: exact ancestral draws, one particle
    assert m.last_nfe == 2


def test_table_diffusion_reports_its_steps_and_has_no_likelihood(fitted):
    if fitted.name != "table_diffusion":
        pytest.skip("table_diffusion only")
    fitted.sample(5, seed=0, steps=7)
    assert fitted.last_nfe == 7 and fitted.likelihood == "none"
    with pytest.raises(ConfigError, match="no likelihood"):
        fitted.log_prob(linked_patients(5))


# ------------------------------------------------------------------------------------------- bad input
def test_given_draws_rows_from_the_conditional_not_its_mean(real):
    """A family whose impute defaults to the conditional mean (gmm) still draws n different rows for given=: bmi given
    age = 80 spreads as the real conditional does (bmi = 20 + 0.15 (age - 18) + N(0, 1): mean 29.3, sd 1)."""
    m = genlab.create("gmm", real).fit(real, seed=0, progress=False)
    bmi = m.sample(400, seed=1, given={"age": 80})["bmi"]
    assert 0.5 < bmi.std() < 2.0 and abs(bmi.mean() - 29.3) < 1.5, (bmi.mean(), bmi.std())


@pytest.mark.parametrize("given, message", [
    ({"diag": "x"}, r"given: unknown column 'diag'; the table's columns: age, sex"),
    ({"diagnosis": "flu"}, r"given: 'flu' is not a category of column 'diagnosis'; its categories: asthma, diabetes"),
    ({"age": 200}, r"given: 200 is outside column 'age''s training range \[18, 89\]"),
    ({"diabetic": "yes"}, r"given: column 'diabetic' is boolean"),
])
def test_bad_given_is_one_line(given, message):
    t = patients()
    m = genlab.create("gmm", t, n_components=1).fit(t, progress=False)
    with pytest.raises(DataError, match=message) as err:
        m.sample(3, given=given)
    assert "\n" not in str(err.value)


@pytest.mark.parametrize("name", TABLE_MODELS)
def test_table_models_need_a_table_and_raw_encoded_rows(name):
    with pytest.raises(ConfigError, match=rf"model '{name}' models tables: create it with genlab.create"):
        genlab.create(name, (3,)).fit(torch.zeros(10, 3), progress=False)
    with pytest.raises(ConfigError, match="normalize. must be False"):
        genlab.create(name, patients(), normalize=True)
    with pytest.raises(ConfigError, match="does not take vectors data"):
        genlab.create(name, genlab.datasets.load("iris", seed=0))
    with pytest.raises(ConfigError, match="given= needs a model made from a table"):
        genlab.create("gmm", (2,), n_components=1).fit(torch.randn(20, 2), progress=False).sample(2, given={"a": 1})


# ------------------------------------------------------------------------------------------- the table contract
@pytest.mark.parametrize("name", genlab.models.for_kind("table"))
def test_table_contract(name, tmp_path):
    """fit -> sample -> log_prob -> impute -> save -> load -> the same samples, on a DataFrame, for every model that
    takes tables; the caller's global RNG is left as it was."""
    t = patients(150)
    smoke = registry.get(name).smoke
    before = torch.get_rng_state()
    m = genlab.create(name, t).fit(t, batch_size=64, seed=0, progress=False, **smoke.get("fit", {}))
    s = m.sample(20, seed=0, **smoke.get("sample", {}))
    assert isinstance(s, pd.DataFrame) and (s.dtypes == t.dtypes).all() and len(s) == 20
    if m.likelihood != "none":
        lp = m.log_prob(t.head(5), seed=0)
        assert lp.shape == (5,) and torch.isfinite(lp).all()
    holes = t.head(6).copy()
    holes.loc[[0, 2], "bmi"] = np.nan
    holes.loc[[1], "smoker"] = None
    filled = m.impute(holes, seed=0, **smoke.get("impute", {}))
    assert filled["bmi"].notna().all() and filled["smoker"].notna().all()
    assert (filled["sex"] == holes["sex"].reset_index(drop=True)).all()
    assert torch.equal(torch.get_rng_state(), before), "the call changed the global torch RNG"
    m.save(tmp_path / "run")
    again = genlab.load(tmp_path / "run")
    pd.testing.assert_frame_equal(again.sample(20, seed=0, **smoke.get("sample", {})), s)
    if m.likelihood != "none":
        assert torch.allclose(again.log_prob(t.head(5), seed=0), lp, atol=1e-4)


@pytest.mark.parametrize("name", TABLE_MODELS)
def test_table_results_depend_only_on_the_seed(name):
    """Whatever the global RNG's state, fit/sample/impute with seed=0 give the same tables."""
    t = patients(100)
    smoke = registry.get(name).smoke
    holes = t.head(5).copy()
    holes.loc[[0, 1], "bmi"] = np.nan

    def run(global_seed):
        torch.manual_seed(global_seed)
        m = genlab.create(name, t).fit(t, batch_size=32, seed=0, progress=False, **smoke["fit"])
        return m.sample(10, seed=0, **smoke.get("sample", {})), m.impute(holes, seed=0, **smoke.get("impute", {}))

    for a, b in zip(run(1), run(2), strict=True):
        pd.testing.assert_frame_equal(a, b)


def test_impute_keeps_every_observed_cell_exactly_even_outside_the_training_range():
    """impute(DataFrame) returns the given cells as given: decoding clips numbers to the training range and rounds
    integers, which must touch only the filled cells; the caller's index is kept."""
    train = patients(200, seed=0)
    m = genlab.create("gmm", train, n_components=2)
    m.fit(train, seed=0)
    rows = patients(6, seed=1).set_index(pd.Index([10, 11, 12, 13, 14, 15]))
    rows["bmi"] = rows["bmi"].astype(float)
    rows.loc[10, "bmi"] = 99.25  # far above any training bmi
    rows.loc[11, "age"] = 130  # beyond the training ages (an integer column)
    rows.loc[[12, 13], "bmi"] = np.nan
    filled = m.impute(rows, seed=0)
    assert list(filled.index) == list(rows.index) and not filled["bmi"].isna().any()
    assert filled.loc[10, "bmi"] == 99.25 and filled.loc[11, "age"] == 130
    seen = rows.notna()
    for c in rows.columns:
        assert (filled[c][seen[c]].astype(object) == rows[c][seen[c]].astype(object)).all(), c
    assert filled.loc[[12, 13], "bmi"].between(train["bmi"].min(), train["bmi"].max()).all()
