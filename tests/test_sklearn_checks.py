"""scikit-learn's estimator checks on genlab's three estimators (gmm with one component: each check fits in ms)."""

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
