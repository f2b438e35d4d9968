"""scikit-learn's estimator checks on genlab's three estimators (gmm with one component: each check fits in ms).

Every check applies and passes (55 for BayesClassifier, 47 for AnomalyDetector, 41 for DensityEstimator, which has no
sample_weight), save ``check_array_api_input``, which scikit-learn itself skips unless SCIPY_ARRAY_API=1 is set
before scipy is imported (genlab converts input to torch tensors, so array-API namespaces do not apply).
"""

from __future__ import annotations

from sklearn.utils.estimator_checks import parametrize_with_checks

import genlab

ESTIMATORS = [
    genlab.DensityEstimator("gmm", n_components=1, random_state=0),
    genlab.BayesClassifier("gmm", config={"n_components": 1}),
    genlab.AnomalyDetector("gmm", config={"n_components": 1}),
]


@parametrize_with_checks(ESTIMATORS)
def test_sklearn_compatible(estimator, check):
    check(estimator)


# ----------------------------------------------------------------------------- DensityEstimator
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from scipy.stats import multivariate_normal  # noqa: E402
from sklearn.base import clone  # noqa: E402
from sklearn.model_selection import GridSearchCV  # noqa: E402

from genlab.errors import ConfigError  # noqa: E402

MEAN, COV = np.array([1.0, -2.0]), np.array([[2.0, 0.6], [0.6, 0.5]])


def gaussian(n, seed):
    return np.random.default_rng(seed).multivariate_normal(MEAN, COV, n)


def test_density_estimator_known_answer():
    x, xt = gaussian(3000, 0), gaussian(500, 1)
    est = genlab.DensityEstimator("gmm", n_components=1, reg_covar=1e-9, random_state=0).fit(x)
    mle = multivariate_normal(x.mean(0), np.cov(x.T, bias=True)).logpdf(xt)  # one Gaussian's maximum likelihood
    assert np.abs(est.score_samples(xt) - mle).max() < 1e-3
    assert est.score(xt) == pytest.approx(np.mean(est.score_samples(xt)))  # GaussianMixture's meaning: the mean
    s = est.sample(4000, random_state=1)
    assert isinstance(s, np.ndarray) and s.shape == (4000, 2)  # KernelDensity's form: X only
    assert np.allclose(s.mean(0), MEAN, atol=0.1) and np.allclose(np.cov(s.T), COV, atol=0.15)
    assert np.array_equal(s, est.sample(4000, random_state=1)) and not np.array_equal(s, est.sample(4000, random_state=2))


def test_params_are_the_config_fields_and_clone_keeps_them():
    est = genlab.DensityEstimator("gmm", n_components=3, random_state=0)
    params = est.get_params()
    assert params["n_components"] == 3 and params["covariance_type"] == "full" and params["model"] == "gmm"
    twin = clone(est)
    assert twin.get_params() == params
    twin.set_params(n_components=5)
    assert est.get_params()["n_components"] == 3 and twin.get_params()["n_components"] == 5
    # a model switch keeps what the new model knows and drops the old model's defaults
    nsf = clone(est).set_params(model="nsf", steps=7)
    p = nsf.get_params()
    assert "n_components" not in p and p["steps"] == 7 and "hidden_features" in p
    with pytest.raises(ConfigError, match="bogus"):  # checked at fit, not in __init__ (scikit-learn's rule)
        genlab.DensityEstimator("gmm", bogus=1).fit(gaussian(50, 0))
    with pytest.raises(ConfigError, match="unknown model"):
        genlab.DensityEstimator("nope").fit(gaussian(50, 0))


def test_grid_search_picks_by_held_out_likelihood():
    x = np.concatenate([gaussian(300, 0), gaussian(300, 1) + [6.0, 6.0]])  # two clusters: one component underfits
    grid = [{"model": ["gmm"], "n_components": [1, 2], "reg_covar": [1e-6]},
            {"model": ["kde"], "bandwidth": [3.0]}]
    search = GridSearchCV(genlab.DensityEstimator(random_state=0), grid, cv=3).fit(x)
    assert search.best_params_ == {"model": "gmm", "n_components": 2, "reg_covar": 1e-6}
    means = search.cv_results_["mean_test_score"]
    assert np.argmax(means) == search.best_index_ and np.all(np.isfinite(means))
