"""sample(n, given={column: value}) by each route (genlab.data.kinds.given): the given column holds the value in every
row, and the other columns' marginals move toward the real conditional -- penguins given species=Gentoo, whose bills
are shallower, flippers longer and bodies heavier than the other species', and who live on Biscoe only."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.stats import ks_2samp

import genlab
from genlab.data.kinds import given as given_module
from genlab.data.kinds.given import rejection_rows

GIVEN = {"species": "Gentoo"}
NUMBERS = ("bill_depth_mm", "flipper_length_mm", "body_mass_g")
# tiny fits at fixed steps: the native table models (impute route) and gan (rejection route: its impute searches one
# best latent, benchmarks/table_given.py)
ROUTE = {"table_ar": "impute", "table_diffusion": "impute", "gan": "rejection"}
FITS = {"table_ar": {"config": {"hidden_features": (128, 128), "dropout": 0.0}, "steps": 600},
        "table_diffusion": {"config": {"hidden": 64, "depth": 2}, "steps": 300, "sample": {"steps": 20}},
        "gan": {"config": {}, "steps": 300}}


@pytest.fixture(scope="module")
def penguins():
    import palmerpenguins

    return palmerpenguins.load_penguins()


def _distance(a: pd.Series, b: pd.Series) -> float:
    """KS between two numeric columns (missing cells dropped), TV between two categorical ones."""
    if pd.api.types.is_numeric_dtype(b):
        return float(ks_2samp(a.dropna().astype(float), b.dropna().astype(float)).statistic)
    p, q = a.value_counts(normalize=True, dropna=False), b.value_counts(normalize=True, dropna=False)
    return 0.5 * float(p.sub(q, fill_value=0.0).abs().sum())


@pytest.mark.parametrize("name", list(FITS))
def test_given_holds_the_value_and_moves_the_others_toward_the_real_conditional(name, penguins):
    fit = FITS[name]
    m = genlab.create(name, penguins, **fit["config"])
    m.fit(penguins, steps=fit["steps"], seed=0, progress=False)
    assert m.given_route == ROUTE[name]
    free = m.sample(500, seed=1, **fit.get("sample", {}))
    cond = m.sample(500, seed=2, given=GIVEN, **fit.get("sample", {}))
    assert len(cond) == 500 and (cond["species"] == "Gentoo").all()
    real = penguins[penguins["species"] == "Gentoo"]
    for column in (*NUMBERS, "island"):
        near, far = _distance(cond[column], real[column]), _distance(free[column], real[column])
        assert near < 0.6 * far, (name, column, near, far)


def test_rejection_keeps_exact_draws_and_gives_up_when_too_few_match():
    rng = np.random.default_rng(0)

    def draw(m, i):  # a = "x" in 30 % of the rows; b tells x-rows from the others
        a = np.where(rng.random(m) < 0.3, "x", "y")
        return pd.DataFrame({"a": a, "b": np.where(a == "x", 1.0, 0.0) + rng.random(m)})

    rows = rejection_rows(draw, 400, {"a": "x"})
    assert len(rows) == 400 and (rows["a"] == "x").all() and (rows["b"] >= 1.0).all()
    assert rejection_rows(draw, 400, {"a": "z"}) is None  # never drawn: stops at the cap


def test_too_rare_a_value_for_rejection_warns_and_imputes(penguins, monkeypatch):
    m = genlab.create("gmm", penguins, n_components=2).fit(penguins, seed=0, progress=False)
    m.given_route = "rejection"  # this instance only
    monkeypatch.setattr(given_module, "rejection_rows", lambda draw, n, given: None)
    with pytest.warns(UserWarning, match="too few of model 'gmm''s draws hold these values"):
        rows = m.sample(50, seed=0, given=GIVEN)
    assert (rows["species"] == "Gentoo").all()
    rows = m.sample(50, seed=0, given={"body_mass_g": 5000})  # a number given: the impute route, no warning
    assert (rows["body_mass_g"] == 5000).all()
