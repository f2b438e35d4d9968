"""BayesClassifier's rule for non-finite class log-likelihoods (class docstring): -inf is a zero density, NaN/+inf
a failed class model (excluded for that row, warned), and a row with no class left gets the prior (warned)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import genlab

INF = np.inf


@pytest.fixture(scope="module")
def clf():
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.normal(-2, 1, (30, 2)), rng.normal(2, 1, (10, 2)), rng.normal(0, 1, (20, 2))])
    y = np.repeat([0, 1, 2], [30, 10, 20])
    return genlab.BayesClassifier("gmm", config={"n_components": 1}).fit(x, y)


def with_ll(clf, ll, monkeypatch):
    monkeypatch.setattr(clf, "log_likelihoods", lambda X: np.array(ll, dtype=np.float64))
    return clf


def test_minus_inf_is_zero_density_without_warning(clf, monkeypatch):
    with_ll(clf, [[-INF, -1.0, -2.0]], monkeypatch)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        p = clf.predict_proba(np.zeros((1, 2)))
    assert p[0, 0] == 0.0 and np.isclose(p.sum(), 1.0)
    joint = clf.predict_joint_log_proba(np.zeros((1, 2)))
    assert joint[0, 0] == -INF  # the joint is reported as it is, not floored


@pytest.mark.parametrize("bad", [np.nan, INF])
def test_failed_class_is_excluded_with_a_warning(clf, monkeypatch, bad):
    with_ll(clf, [[bad, -1.0, -1.0], [-3.0, -1.0, -2.0]], monkeypatch)
    with pytest.warns(RuntimeWarning, match=r"class model\(s\) 0 returned NaN or \+inf .* on 1 of 2 rows"):
        p = clf.predict_proba(np.zeros((2, 2)))
    prior = np.exp(clf.class_log_prior_)
    assert p[0, 0] == 0.0 and np.allclose(p[0, 1:], prior[1:] / prior[1:].sum())
    assert np.isfinite(p).all() and np.allclose(p.sum(1), 1.0)


def test_row_with_no_class_left_gets_the_prior_with_a_warning(clf, monkeypatch):
    with_ll(clf, [[-INF, -INF, -INF], [-5.0, -1.0, -9.0]], monkeypatch)
    with pytest.warns(RuntimeWarning, match="1 of 2 rows have zero .* density under every class; their posterior is the prior"):
        p = clf.predict_proba(np.zeros((2, 2)))
    assert np.allclose(p[0], np.exp(clf.class_log_prior_)) and p[1].argmax() == 1
    with pytest.warns(RuntimeWarning, match="posterior is the prior"):
        assert list(clf.predict(np.zeros((2, 2)))) == [0, 1]  # class 0 has the largest prior (30 of 60)
