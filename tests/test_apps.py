"""Applications of a density: BayesClassifier, AnomalyDetector, and their CLI commands (gmm/kde, seconds each)."""

from __future__ import annotations

import json

import click
import numpy as np
import pytest
import torch
from click.testing import CliRunner
from scipy.stats import multivariate_normal
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import cross_val_score

import genlab
from genlab import registry
from genlab.cli.app import GenlabGroup
from genlab.cli.apps import anomaly, classify
from genlab.errors import CheckpointError, ConfigError, DataError
from genlab.model import GenerativeModel

GAUSS1 = {"n_components": 1}

# two Gaussian classes with different covariances: the Bayes posterior is known in closed form
M0, S0 = np.array([0.0, 0.0]), np.array([[1.0, 0.3], [0.3, 0.5]])
M1, S1 = np.array([1.5, 1.0]), np.array([[0.6, -0.2], [-0.2, 1.2]])
PRIOR1 = 0.4


def two_gaussians(n: int, seed: int):
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < PRIOR1).astype(np.int64)
    x = np.where(y[:, None] == 1, rng.multivariate_normal(M1, S1, n), rng.multivariate_normal(M0, S0, n))
    return x.astype(np.float32), y


def bayes_posterior(x):
    p1 = PRIOR1 * multivariate_normal(M1, S1).pdf(x)
    return p1 / (p1 + (1 - PRIOR1) * multivariate_normal(M0, S0).pdf(x))


@pytest.fixture(scope="module")
def toy():
    return two_gaussians(4000, 0), two_gaussians(1000, 1)


@pytest.fixture(scope="module")
def toy_clf(toy):
    (x, y), _ = toy
    return genlab.BayesClassifier("gmm", config=GAUSS1).fit(x, y)


# ----------------------------------------------------------------------------- BayesClassifier
def test_posterior_matches_bayes_optimal(toy, toy_clf):
    _, (xt, yt) = toy
    proba = toy_clf.predict_proba(xt)
    assert proba.shape == (len(xt), 2) and np.allclose(proba.sum(1), 1)
    err = np.abs(proba[:, 1] - bayes_posterior(xt))
    assert err.mean() < 0.01 and err.max() < 0.08, (err.mean(), err.max())
    assert np.allclose(np.exp(toy_clf.class_log_prior_[1]), PRIOR1, atol=0.03)
    bayes_acc = np.mean((bayes_posterior(xt) > 0.5) == yt)
    assert toy_clf.score(xt, yt) >= bayes_acc - 0.01
    assert np.allclose(np.exp(toy_clf.predict_log_proba(xt)), proba)
    assert list(toy_clf.classes_) == [0, 1] and toy_clf.dequantize_ is False


def test_sklearn_clone_and_cross_val_score(toy):
    (x, y), _ = toy
    clf = genlab.BayesClassifier("gmm", config=GAUSS1, prior="uniform")
    twin = clone(clf)
    assert twin.get_params() == clf.get_params() and twin.get_params()["model_name"] == "gmm"
    twin.set_params(config={"n_components": 2})
    assert clf.config == GAUSS1
    scores = cross_val_score(clf, x[:1500], y[:1500], cv=3)
    bayes_acc = np.mean((bayes_posterior(x[:1500]) > 0.5) == y[:1500])
    assert scores.shape == (3,) and scores.mean() > bayes_acc - 0.04


def test_string_labels_torch_input_and_priors(toy):
    (x, y), _ = toy
    names = np.array(["cat", "dog"])[y]
    clf = genlab.BayesClassifier("gmm", config=GAUSS1, prior=[1, 3]).fit(torch.from_numpy(x), names)
    assert list(clf.classes_) == ["cat", "dog"] and np.allclose(np.exp(clf.class_log_prior_), [0.25, 0.75])
    assert set(clf.predict(x[:50])) <= {"cat", "dog"}


def test_digits_accuracy():
    ds = genlab.datasets.load("digits_flat")
    clf = genlab.BayesClassifier("gmm", config=GAUSS1).fit(ds.train.numpy(), ds.labels_train.numpy())
    assert clf.dequantize_ is True  # integer pixels -> dequantized automatically
    acc = clf.score(ds.test, ds.labels_test.numpy())
    assert acc > 0.9, acc
    again = clf.predict_log_proba(ds.test[:20])
    assert np.array_equal(again, clf.predict_log_proba(ds.test[:20]))  # seeded dequantization draws


def test_images_and_kde():
    ds = genlab.datasets.load("digits", n_train=600, n_test=200)
    clf = genlab.BayesClassifier("kde").fit(ds.train, ds.labels_train)
    assert clf.shape_ == (1, 8, 8) and clf.score(ds.test, ds.labels_test) > 0.85
    with pytest.raises(DataError, match="shape"):
        clf.predict(ds.test.reshape(len(ds.test), -1))


class _NoLikelihood(GenerativeModel):
    name = "no_likelihood_test"
    likelihood = "none"


def test_bad_inputs(toy, monkeypatch):
    (x, y), _ = toy
    monkeypatch.setitem(registry._REGISTRY, _NoLikelihood.name, _NoLikelihood)
    with pytest.raises(ConfigError, match="no likelihood"):
        genlab.BayesClassifier(_NoLikelihood.name).fit(x, y)
    with pytest.raises(ConfigError, match="no likelihood"):
        genlab.AnomalyDetector(_NoLikelihood.name).fit(x)
    with pytest.raises(ConfigError, match="unknown model"):
        genlab.BayesClassifier("nope").fit(x, y)
    with pytest.raises(ConfigError, match="unknown config key"):
        genlab.BayesClassifier("gmm", config={"bogus": 1}).fit(x, y)
    with pytest.raises(ConfigError, match="fit_kwargs"):
        genlab.BayesClassifier("gmm", fit_kwargs={"dequantize": True}).fit(x, y)
    with pytest.raises(ConfigError, match="prior"):
        genlab.BayesClassifier("gmm", prior="flat").fit(x, y)
    with pytest.raises(ConfigError, match="prior"):
        genlab.BayesClassifier("gmm", prior=[1, 2, 3]).fit(x, y)
    with pytest.raises(ConfigError, match="dequantize"):
        genlab.BayesClassifier("gmm", dequantize="yes").fit(x, y)
    with pytest.raises(DataError, match="at least 2"):
        genlab.BayesClassifier("gmm").fit(x, np.zeros(len(x)))
    with pytest.raises(DataError, match="shape"):
        genlab.BayesClassifier("gmm").fit(x, y[:-1])
    with pytest.raises(DataError, match="NaN"):
        genlab.BayesClassifier("gmm").fit(np.full_like(x, np.nan), y)
    for est in (genlab.BayesClassifier("gmm"), genlab.AnomalyDetector("gmm")):
        with pytest.raises(ConfigError, match="not fitted"):
            est.predict(x)
        with pytest.raises(NotFittedError):  # scikit-learn's own type too
            est.predict(x)


def test_classifier_save_load(toy, toy_clf, tmp_path):
    _, (xt, _) = toy
    toy_clf.save(tmp_path / "clf")
    meta = json.loads((tmp_path / "clf" / "classifier.json").read_text())
    assert meta["models"] == ["class_0", "class_1"] and (tmp_path / "clf" / "class_1" / "model.safetensors").is_file()
    back = genlab.BayesClassifier.load(tmp_path / "clf")
    assert back.get_params() == toy_clf.get_params()
    np.testing.assert_allclose(back.predict_proba(xt), toy_clf.predict_proba(xt), rtol=1e-6, atol=1e-9)
    with pytest.raises(CheckpointError):
        genlab.BayesClassifier.load(tmp_path / "missing")
    with pytest.raises(CheckpointError):
        genlab.AnomalyDetector.load(tmp_path / "clf")


# ----------------------------------------------------------------------------- AnomalyDetector
@pytest.fixture(scope="module")
def normal_data():
    rng = np.random.default_rng(0)
    cov = np.array([[1.0, 0.5, 0.0], [0.5, 1.0, 0.2], [0.0, 0.2, 1.0]])
    train = rng.multivariate_normal(np.zeros(3), cov, 2000).astype(np.float32)
    inliers = rng.multivariate_normal(np.zeros(3), cov, 500)
    directions = rng.standard_normal((50, 3))
    outliers = 8 * directions / np.linalg.norm(directions, axis=1, keepdims=True)
    test = np.concatenate([inliers, outliers]).astype(np.float32)
    return train, test, np.r_[np.zeros(500), np.ones(50)]


@pytest.mark.parametrize("model, config", [("gmm", {"n_components": 2}), ("kde", None)])
def test_detector_auroc(normal_data, model, config):
    train, test, is_outlier = normal_data
    det = genlab.AnomalyDetector(model, config=config, contamination=0.05).fit(train)
    assert roc_auc_score(is_outlier, -det.score_samples(test)) > 0.99
    pred = det.predict(test)
    assert set(np.unique(pred)) <= {-1, 1} and (pred[is_outlier == 1] == -1).all()
    assert np.allclose(det.decision_function(test), det.score_samples(test) - det.offset_)


@pytest.mark.parametrize("contamination", [0.0, 0.05, 0.2])
def test_contamination_sets_flagged_fraction(normal_data, contamination):
    train = normal_data[0]
    det = genlab.AnomalyDetector("gmm", config=GAUSS1, contamination=contamination).fit(train)
    flagged = np.mean(det.predict(train) == -1)
    assert abs(flagged - contamination) <= 2 / len(train), flagged
    assert np.array_equal(det.fit_predict(train), det.predict(train))


def test_holdout_calibrates_threshold_on_new_data(normal_data):
    train, test, is_outlier = normal_data
    inliers = test[is_outlier == 0]
    kde = genlab.AnomalyDetector("kde", config={"bandwidth": 0.1}, contamination=0.1)
    in_sample = np.mean(kde.fit(train).predict(inliers) == -1)  # a memorising model: in-sample threshold too high
    held_out = np.mean(clone(kde).set_params(holdout=0.3).fit(train).predict(inliers) == -1)
    assert in_sample > 0.3 and abs(held_out - 0.1) < 0.05, (in_sample, held_out)
    for bad in (-0.5, 1.0, "half"):
        with pytest.raises(ConfigError, match="holdout"):
            clone(kde).set_params(holdout=bad).fit(train)
    with pytest.raises(DataError, match="holdout"):
        clone(kde).set_params(holdout=0.1).fit(train[:3])


def test_detector_params_and_save_load(normal_data, tmp_path):
    train, test, _ = normal_data
    det = genlab.AnomalyDetector("gmm", config=GAUSS1, contamination=0.1)
    assert clone(det).get_params() == det.get_params()
    for bad in (-0.1, 1.0, "lots", True):
        with pytest.raises(ConfigError, match="contamination"):
            clone(det).set_params(contamination=bad).fit(train)
    det.fit(train).save(tmp_path / "det")
    back = genlab.AnomalyDetector.load(tmp_path / "det")
    assert back.threshold_ == det.threshold_ and back.get_params() == det.get_params()
    np.testing.assert_allclose(back.score_samples(test), det.score_samples(test), rtol=1e-6)
    assert np.array_equal(back.predict(test), det.predict(test))
    assert genlab.load(tmp_path / "det").name == "gmm"  # the directory is also an ordinary genlab checkpoint


# ----------------------------------------------------------------------------- CLI
def _group():
    from genlab.cli import cli

    if {"classify", "anomaly"} <= set(cli.commands):
        return cli

    @click.group(cls=GenlabGroup)
    def group():
        pass

    group.add_command(classify)
    group.add_command(anomaly)
    return group


def run(*args):
    return CliRunner().invoke(_group(), [str(a) for a in args], catch_exceptions=False)


def assert_exit2_one_line(result, word):
    assert result.exit_code == 2, (result.exit_code, result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("genlab: error: ") and "Traceback" not in result.stderr
    assert word.lower() in lines[0].lower(), lines[0]


def test_cli_classify(toy, toy_clf, tmp_path):
    _, (xt, yt) = toy
    toy_clf.save(tmp_path / "clf")
    np.savez(tmp_path / "in.npz", x=xt[:100], y=yt[:100])
    r = run("classify", tmp_path / "clf", "--input", tmp_path / "in.npz", "--out", tmp_path / "out.csv")
    assert r.exit_code == 0, r.stderr
    assert "accuracy" in r.stdout
    rows = (tmp_path / "out.csv").read_text().splitlines()
    assert rows[0] == "prediction,p_0,p_1" and len(rows) == 101
    np.save(tmp_path / "in.npy", xt[:10])
    r = run("classify", tmp_path / "clf", "--input", tmp_path / "in.npy")
    assert r.exit_code == 0 and len(r.stdout.splitlines()) == 11
    r = run("classify", tmp_path / "clf", "--input", tmp_path / "in.npy", "--out", tmp_path / "pred.npy")
    assert r.exit_code == 0 and np.array_equal(np.load(tmp_path / "pred.npy"), toy_clf.predict(xt[:10]))


def test_cli_anomaly(normal_data, tmp_path):
    train, test, _ = normal_data
    det = genlab.AnomalyDetector("gmm", config=GAUSS1, contamination=0.05).fit(train)
    det.save(tmp_path / "det")
    np.savetxt(tmp_path / "in.csv", test, delimiter=",")
    r = run("anomaly", tmp_path / "det", "--input", tmp_path / "in.csv", "--out", tmp_path / "out.npz")
    assert r.exit_code == 0, r.stderr
    out = np.load(tmp_path / "out.npz")
    assert np.array_equal(out["prediction"], det.predict(test)) and "flagged" in r.stdout
    np.testing.assert_allclose(out["score"], det.score_samples(test), rtol=1e-6)


def test_cli_bad_inputs(toy, toy_clf, normal_data, tmp_path):
    toy_clf.save(tmp_path / "clf")
    genlab.AnomalyDetector("gmm", config=GAUSS1).fit(normal_data[0]).save(tmp_path / "det")
    good = tmp_path / "good.npy"
    np.save(good, toy[1][0][:5])
    wide = tmp_path / "wide.npy"
    np.save(wide, np.zeros((5, 7), dtype=np.float32))
    nan = tmp_path / "nan.npy"
    np.save(nan, np.full((5, 2), np.nan, dtype=np.float32))
    assert_exit2_one_line(run("classify", tmp_path / "nowhere", "--input", good), "nowhere")
    assert_exit2_one_line(run("classify", tmp_path / "det", "--input", good), "classifier")
    assert_exit2_one_line(run("anomaly", tmp_path / "clf", "--input", good), "detector")
    assert_exit2_one_line(run("classify", tmp_path / "clf", "--input", wide), "shape")
    assert_exit2_one_line(run("classify", tmp_path / "clf", "--input", nan), "nan")
    assert_exit2_one_line(run("classify", tmp_path / "clf", "--input", tmp_path / "none.npy"), "not found")
    assert_exit2_one_line(run("anomaly", tmp_path / "det", "--input", good, "--out", tmp_path / "o.txt"), "--out")
    assert_exit2_one_line(run("anomaly", tmp_path / "det"), "--input")
