"""The real sets that ship with packages or are made procedurally: iris, diabetes, penguins, mnist1d, faces."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

import genlab
from genlab.data.tabular import PENGUIN_RULES, encode_frame
from genlab.errors import DataError

# name -> (n rows in all, per-sample shape, classes or None)
EXPECTED = {"iris": (150, (4,), 3), "diabetes": (442, (11,), None), "penguins_onehot": (333, (9,), 3),
            "mnist1d": (5000, (40,), 10), "faces": (200, (1, 25, 25), 2)}


@pytest.mark.filterwarnings("ignore:penguins")
@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_loads_with_a_source_line(name):
    n, shape, classes = EXPECTED[name]
    assert name in genlab.datasets.names()
    src = genlab.datasets.source(name)
    assert src and "\n" not in src
    ds = genlab.datasets.load(name, seed=1)
    assert ds.shape == shape and ds.train.shape[0] + ds.test.shape[0] == n
    assert ds.train.dtype == torch.float32 and torch.isfinite(ds.train).all() and not ds.has_density
    assert ds.num_classes == classes
    again = genlab.datasets.load(name, seed=1)
    assert torch.equal(ds.train, again.train)  # seeded


def test_every_builtin_set_has_a_source():
    assert all(genlab.datasets.source(n) for n in genlab.datasets.names())


def test_penguins_rules_and_missing_values():
    import palmerpenguins

    frame = palmerpenguins.load_penguins()
    with pytest.warns(UserWarning, match="dropped 11 of 344 rows"):
        x, y, names = encode_frame(frame, PENGUIN_RULES, name="penguins")
    assert x.shape == (333, 9) and np.bincount(y).tolist() == [146, 68, 119]  # Adelie, Chinstrap, Gentoo
    assert names[:4] == ["island=Biscoe", "island=Dream", "island=Torgersen", "bill_length_mm"]
    onehot = x[:, [names.index(f"island={v}") for v in ("Biscoe", "Dream", "Torgersen")]]
    assert np.array_equal(onehot.sum(1), np.ones(333))
    rules = {k: v for k, v in PENGUIN_RULES.items() if k != "island"}
    with pytest.raises(DataError, match="column 'island' is not numeric and has no rule") as err:
        encode_frame(frame, rules, name="penguins")
    assert "\n" not in str(err.value)
    with pytest.raises(DataError, match="rule 'bogus'"):
        encode_frame(frame, {**PENGUIN_RULES, "sex": "bogus"})
    with pytest.raises(DataError, match="non-numbers"):
        encode_frame(pd.DataFrame({"a": ["1", "x"]}), {"a": "numeric"})


def test_mnist1d_is_the_published_kind_of_signal():
    ds = genlab.datasets.load("mnist1d")
    x = torch.cat([ds.train, ds.test])
    assert abs(float(x.mean())) < 1e-4 and abs(float(x.std()) - 1) < 1e-3  # standardised as a whole
    # the templates differ, so class means differ; noise and shifts make a linear model weak (the paper: ~32%)
    from sklearn.linear_model import LogisticRegression

    acc = LogisticRegression(max_iter=500).fit(ds.train, ds.labels_train).score(ds.test, ds.labels_test)
    assert 0.2 < acc < 0.5


def test_faces_are_normal_and_non_faces_anomalous():
    ds = genlab.datasets.load("faces")
    faces = ds.train[ds.labels_train == 0]
    det = genlab.AnomalyDetector("gmm", config={"n_components": 1, "covariance_type": "diag"}).fit(faces)
    from sklearn.metrics import roc_auc_score

    auc = roc_auc_score(ds.labels_test.numpy(), -det.score_samples(ds.test))
    assert auc > 0.8, auc
