"""The typed data layer: one Registry type, the data-set table, kinds with reversible encoders, models' kinds."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import torch

import genlab
from genlab.data.kinds import KINDS, TableEncoder, encoder_from_state
from genlab.data.registry import DATASETS
from genlab.errors import ConfigError, DataError
from genlab.registry import MODELS, Registry


# ------------------------------------------------------------------------------------------- Registry[T]
def test_registry_names_errors_and_filters():
    reg: Registry[int] = Registry("widget")
    reg.register("alpha", 1)
    reg.register("beta", 2)
    assert reg.names() == ["alpha", "beta"] and reg.get("beta") == 2 and "alpha" in reg and len(reg) == 2
    assert reg.names(where=lambda v: v > 1) == ["beta"]
    with pytest.raises(ConfigError, match=r"unknown widget 'alpah' \(did you mean 'alpha'\?\); choose from: alpha, beta"):
        reg.get("alpah")
    with pytest.raises(ValueError, match="registered twice"):
        reg.register("alpha", 3)
    assert reg.get("gamma", None) is None  # mapping semantics with a default (monkeypatch.setitem uses it)
    reg.register("alpha", 3, replace=True)
    assert reg["alpha"] == 3
    with pytest.raises(KeyError):
        reg["gamma"]  # plain mapping access stays a KeyError


def test_models_data_sets_and_kinds_share_the_registry_type():
    assert isinstance(MODELS, Registry) and isinstance(DATASETS, Registry) and isinstance(KINDS, Registry)
    assert genlab.models.names() == MODELS.names() and genlab.datasets.names() == DATASETS.names()
    with pytest.raises(DataError, match="unknown data set 'nope'"):
        genlab.datasets.source("nope")


# ------------------------------------------------------------------------------------------- data sets carry a kind
@pytest.mark.parametrize("name", DATASETS.names())
def test_every_data_set_has_its_kind_and_an_encoder_that_round_trips(name):
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # penguins warns about dropped rows
        sizes = {} if DATASETS.get(name).kind == "text" else {"n_train": 40, "n_test": 10}  # text splits by document
        ds = genlab.datasets.load(name, seed=0, **sizes)
    assert ds.kind == DATASETS.get(name).kind and ds.kind in KINDS
    assert ds.encoder is not None and ds.encoder.kind == ds.kind and ds.encoder.shape == ds.shape
    again = encoder_from_state(json.loads(json.dumps(ds.encoder.state())))
    values = again.decode(ds.test)  # tensors for arrays, a DataFrame for tables, a string for text
    if ds.kind == "text":
        assert values == ds.encoder.decode(ds.test) and torch.equal(again.encode(values[:500]),
                                                                    ds.encoder.encode(values[:500]))
    else:
        assert torch.equal(again.encode(values if ds.kind == "table" else ds.test), ds.test)
    if ds.discrete_levels:  # images with levels decode to their integer levels
        assert torch.equal(ds.encoder.decode(ds.train + 0.5), ds.train.floor().clamp(0, ds.discrete_levels - 1))


def test_a_model_given_a_kind_it_cannot_take_says_so_and_names_those_that_can():
    table = genlab.datasets.load(patients(), seed=0)
    with pytest.raises(ConfigError, match=r"^model 'pixel_transformer' does not take table data \(it takes images, "
                                          r"vectors\); models that do: .*\bgmm\b"):
        genlab.create("pixel_transformer", table)
    ds = genlab.datasets.load("iris", seed=0)
    assert genlab.create("gmm", ds, n_components=2).shape == (4,)
    assert "gmm" in genlab.models.for_kind("table") and "pixel_transformer" not in genlab.models.for_kind("table")


def test_list_models_json_gives_kinds():
    from click.testing import CliRunner

    from genlab.cli import cli

    rows = json.loads(CliRunner().invoke(cli, ["list", "models", "--json"], catch_exceptions=False).output)
    assert {r["name"] for r in rows} == set(genlab.models.names())
    assert all(r["kinds"] == list(genlab.models.get(r["name"]).kinds) and r["kinds"] for r in rows)
    sets = json.loads(CliRunner().invoke(cli, ["list", "datasets", "--json"], catch_exceptions=False).output)
    assert all(r["kind"] == DATASETS.get(r["name"]).kind for r in sets)


# ------------------------------------------------------------------------------------------- tables
def patients(n: int = 120, seed: int = 0) -> pd.DataFrame:
    """A small patient table with every column type, missing cells, a pandas Categorical and nullable ints."""
    rng = np.random.default_rng(seed)
    age = rng.integers(18, 90, n)
    frame = pd.DataFrame({
        "age": age,
        "sex": rng.choice(["F", "M"], n),
        "smoker": pd.Categorical(rng.choice(["never", "former", "current"], n),
                                 categories=["never", "former", "current"], ordered=True),
        "bmi": np.round(rng.normal(27, 4, n), 1),
        "diabetic": rng.random(n) < 0.2,
        "systolic": pd.array(np.where(rng.random(n) < 0.1, None, rng.integers(95, 180, n)), dtype="Int64"),
        "cholesterol": np.where(rng.random(n) < 0.15, np.nan, np.round(rng.normal(5.2, 1.0, n), 2)),
        "diagnosis": np.where(rng.random(n) < 0.05, None, rng.choice(["asthma", "diabetes", "healthy"], n)),
    })
    return frame


def bundled_tables():
    import palmerpenguins
    from sklearn.datasets import load_diabetes

    return {"penguins": palmerpenguins.load_penguins(), "diabetes": load_diabetes(as_frame=True, scaled=False).frame,
            "patients": patients()}


@pytest.mark.parametrize("name", sorted(DATASETS.names(where=lambda spec: spec.kind == "table")))
def test_bundled_tables_keep_their_columns_and_split_before_fitting(name):
    ds = genlab.datasets.load(name, seed=0)
    train = ds.encoder.decode(ds.train)
    assert ds.encoder.schema() and list(train.columns) == list(ds.encoder.schema())
    assert len(train) + len(ds.test) >= 300 and not torch.equal(ds.train[: len(ds.test)], ds.test)
    refit = TableEncoder().fit(train)  # the encoder was fitted on exactly the training rows
    assert refit.state()["columns"] == ds.encoder.state()["columns"]


@pytest.mark.parametrize("name", ["penguins", "diabetes", "patients"])
def test_table_round_trip_is_exact(name):
    table = bundled_tables()[name]
    enc = TableEncoder().fit(table)
    x = enc.encode(table)
    assert x.dtype == torch.float32 and x.shape == (len(table), enc.shape[0]) and torch.isfinite(x).all()
    pd.testing.assert_frame_equal(enc.decode(x), table)
    reloaded = encoder_from_state(json.loads(json.dumps(enc.state())))
    pd.testing.assert_frame_equal(reloaded.decode(x), table)


def test_table_schema_inference_and_the_decoded_bounds_and_categories():
    table = patients()
    enc = TableEncoder().fit(table)
    assert enc.schema() == {"age": "integer", "sex": "categorical", "smoker": "categorical", "bmi": "numeric",
                            "diabetic": "boolean", "systolic": "integer", "cholesterol": "numeric",
                            "diagnosis": "categorical"}
    assert "systolic:missing" in enc.feature_names() and "sex=F" in enc.feature_names()
    # any model output decodes into the schema: categories from the training set, numbers within the bounds
    noise = torch.randn(500, enc.shape[0], generator=torch.Generator().manual_seed(0)) * 3
    out = enc.decode(noise)
    assert list(out.columns) == list(table.columns) and (out.dtypes == table.dtypes).all()
    assert set(out["sex"]) <= {"F", "M"} and list(out["smoker"].cat.categories) == ["never", "former", "current"]
    assert out["age"].between(table["age"].min(), table["age"].max()).all()
    assert (out["bmi"] == out["bmi"].round(1)).all()
    assert out["cholesterol"].isna().any() and out["systolic"].isna().any()
    # the quantile-normal map gives the training column a standard normal marginal
    z = enc.encode(table)[:, enc.slices()["bmi"]].double()
    assert abs(z.mean().item()) < 0.1 and abs(z.std().item() - 1) < 0.1


def test_table_encoder_is_fitted_on_the_rows_it_is_given_only():
    table = patients(200)
    train, test = table.iloc[:150], table.iloc[150:].copy()
    state = TableEncoder().fit(train).state()
    test["bmi"] = 1000.0  # test rows, however wild, change nothing once fitted on train
    enc = TableEncoder().fit(train)
    enc.encode(test)
    assert enc.state() == state
    assert enc.decode(enc.encode(test))["bmi"].max() == train["bmi"].max()  # decoded within the training bounds


@pytest.mark.parametrize("change, message", [
    (lambda t: t.assign(code=["a", 1] * 60), r"column 'code' mixes numbers and strings \(row 0: 'a', row 1: 1\)"),
    (lambda t: t.assign(empty=np.nan), r"column 'empty' has no values"),
    (lambda t: t.assign(site="Oslo"), r"column 'site' holds one value \('Oslo'\) in every training row"),
    (lambda t: t.assign(patient_id=[f"P{i:04d}" for i in range(len(t))]), r"column 'patient_id' has a different "
                                                                            r"value in every row \(an identifier\?\)"),
    (lambda t: t.assign(record=np.arange(len(t))[::-1] + 1000), r"column 'record' has a different value in every row"),
])
def test_bad_tables_are_refused_in_one_line(change, message):
    with pytest.raises(DataError, match=message) as err:
        TableEncoder().fit(change(patients()))
    assert "\n" not in str(err.value)


def test_a_unique_measurement_is_not_an_identifier():
    table = patients().assign(days=np.random.default_rng(1).permutation(5000)[:120] * 3)  # unique, not consecutive
    assert TableEncoder().fit(table).schema()["days"] == "integer"


def test_declared_types_and_schema_mismatches():
    table = patients().assign(code=["a", 1] * 60)
    enc = TableEncoder({"code": "categorical"}).fit(table)
    assert enc.schema()["code"] == "categorical"
    with pytest.raises(DataError, match="type 'text' for column 'bmi' is not one of"):
        TableEncoder({"bmi": "text"})
    with pytest.raises(DataError, match="column_types names unknown column 'bim'"):
        TableEncoder({"bim": "numeric"}).fit(patients())
    enc = TableEncoder().fit(patients())
    with pytest.raises(DataError, match=r"does not match the schema \(missing column 'bmi'\)"):
        enc.encode(patients().drop(columns="bmi"))
    with pytest.raises(DataError, match=r"does not match the schema \(unknown column 'weight'\)"):
        enc.encode(patients().assign(weight=70.0))
    shuffled = patients()[list(reversed(patients().columns))]  # the same columns in another order are fine
    assert torch.equal(enc.encode(shuffled), enc.encode(patients()))


# ------------------------------------------------------------------------------------------- tables through a model
def test_a_dataframe_goes_in_and_a_dataframe_comes_out(tmp_path):
    """create(name, df) -> fit(df) -> sample -> DataFrame in the table's schema; save/load keeps the schema; impute
    fills the holes of a table and returns a table; the CSV loader gives the same kind."""
    table = patients(200)
    m = genlab.create("gmm", table, n_components=3)
    m.fit(table, progress=False)
    out = m.sample(300, seed=0)
    assert isinstance(out, pd.DataFrame) and list(out.columns) == list(table.columns)
    assert (out.dtypes == table.dtypes).all() and set(out["sex"]) <= {"F", "M"}
    # the fitted mixture puts mass where the data are: bmi's sampled median near the data's
    assert abs(out["bmi"].median() - table["bmi"].median()) < 1.5
    m.save(tmp_path / "run")
    again = genlab.load(tmp_path / "run")
    pd.testing.assert_frame_equal(again.sample(50, seed=1), m.sample(50, seed=1))
    holes = table.head(20).copy()
    holes.loc[[0, 3], "bmi"] = np.nan
    holes.loc[[1], "sex"] = None
    filled = m.impute(holes, seed=0)
    assert isinstance(filled, pd.DataFrame) and filled.loc[[0, 3], "bmi"].notna().all()
    assert filled.loc[1, "sex"] in {"F", "M"} and not filled.isna().any().any()  # every missing cell is filled
    keep = [c for c in table.columns if not holes[c].isna().any()]
    pd.testing.assert_frame_equal(filled[keep], holes[keep].reset_index(drop=True))  # observed cells are kept
    seen = holes.notna()
    for c in ("cholesterol", "systolic"):
        assert (filled[c][seen[c]] == holes[c][seen[c]]).all()
    assert np.isfinite(m.log_prob(table.head(5)).numpy()).all()
    path = tmp_path / "patients.csv"
    table.to_csv(path, index=False)
    ds = genlab.datasets.load(path, seed=0)
    assert ds.kind == "table" and ds.encoder.schema()["sex"] == "categorical"


def test_a_dataframe_to_a_model_made_without_a_table_is_a_clear_error():
    m = genlab.create("gmm", (3,), n_components=1).fit(torch.randn(50, 3, generator=torch.Generator().manual_seed(0)),
                                                         progress=False)
    with pytest.raises(ConfigError, match="was not made from a table"):
        m.log_prob(pd.DataFrame({"a": [1.0], "b": [2.0], "c": [3.0]}))


def test_a_typo_in_a_numeric_csv_column_names_its_line(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("age,sex,bmi\n30,M,22.5\n40,F,2x.1\n50,M,25\n")
    with pytest.raises(DataError, match=r"column 'bmi' mixes numbers and text \(line 2: '22.5', line 3: '2x.1'\)"):
        genlab.datasets.load(path)


def test_cli_trains_on_a_table_csv_and_samples_a_table_csv(tmp_path):
    from click.testing import CliRunner

    from genlab.cli import cli

    path = tmp_path / "patients.csv"
    patients(150).to_csv(path, index=False)
    run = CliRunner().invoke(cli, ["train", "gmm", "--data", str(path), "--steps", "1", "--set", "n_components=2",
                                   "--out", str(tmp_path / "run"), "--quiet"], catch_exceptions=False)
    assert run.exit_code == 0, run.output
    out = tmp_path / "synth.csv"
    r = CliRunner().invoke(cli, ["sample", str(tmp_path / "run"), "-n", "40", "--out", str(out)], catch_exceptions=False)
    assert r.exit_code == 0, r.output
    synth = pd.read_csv(out)
    assert list(synth.columns) == list(patients().columns) and len(synth) == 40
    assert set(synth["sex"]) <= {"F", "M"} and synth["age"].dtype == np.int64
    bad = CliRunner().invoke(cli, ["sample", str(tmp_path / "run"), "-n", "4", "--out", str(tmp_path / "x.npy")])
    assert bad.exit_code == 2 and "makes table rows: write them to a .csv" in bad.output
    assert not (tmp_path / "x.npy").exists()


def test_cli_given_generates_rows_with_the_value_and_names_bad_columns(tmp_path):
    from click.testing import CliRunner

    from genlab.cli import cli

    path = tmp_path / "patients.csv"
    patients(150).to_csv(path, index=False)
    assert CliRunner().invoke(cli, ["train", "gmm", "--data", str(path), "--steps", "1", "--set", "n_components=2",
                                    "--out", str(tmp_path / "run"), "--quiet"]).exit_code == 0
    out = tmp_path / "given.csv"
    r = CliRunner().invoke(cli, ["sample", str(tmp_path / "run"), "-n", "30", "--given", "sex=F", "--given",
                                 "diabetic=true", "--out", str(out)], catch_exceptions=False)
    assert r.exit_code == 0, r.output
    rows = pd.read_csv(out)
    assert (rows["sex"] == "F").all() and rows["diabetic"].all() and len(rows) == 30
    for bad, words in ((["--given", "sexx=F"], "unknown column 'sexx'; the table's columns: age, sex"),
                       (["--given", "sex=X"], "'X' is not a category of column 'sex'; its categories: F, M"),
                       (["--given", "age=old"], "column 'age' is integer; give a number")):
        r = CliRunner().invoke(cli, ["sample", str(tmp_path / "run"), "-n", "3", *bad, "--out",
                                     str(tmp_path / "bad.csv")])
        assert r.exit_code == 2 and words in r.output and "Traceback" not in r.output, r.output
        assert not (tmp_path / "bad.csv").exists()


def test_cli_temperature_samples_table_ar_runs_and_names_the_runs_it_applies_to(tmp_path):
    from click.testing import CliRunner

    from genlab.cli import cli

    path = tmp_path / "patients.csv"
    patients(150).to_csv(path, index=False)
    for model, extra in (("table_ar", []), ("gmm", ["--set", "n_components=2"])):
        r = CliRunner().invoke(cli, ["train", model, "--data", str(path), "--steps", "2", *extra, "--out",
                                     str(tmp_path / model), "--quiet"])
        assert r.exit_code == 0, r.output
    out = tmp_path / "cold.csv"
    r = CliRunner().invoke(cli, ["sample", str(tmp_path / "table_ar"), "-n", "20", "--temperature", "0.7", "--out",
                                 str(out)], catch_exceptions=False)
    assert r.exit_code == 0, r.output
    assert list(pd.read_csv(out).columns) == list(patients().columns)
    bad = CliRunner().invoke(cli, ["sample", str(tmp_path / "gmm"), "-n", "3", "--temperature", "0.7", "--out",
                                   str(tmp_path / "bad.csv")])
    assert bad.exit_code == 2 and "Traceback" not in bad.output
    assert "--temperature applies to runs trained on text (gpt, mdlm, ngram) and to " in bad.output
    assert "table_ar, table_diffusion runs; model 'gmm' was not" in bad.output
    assert not (tmp_path / "bad.csv").exists()
