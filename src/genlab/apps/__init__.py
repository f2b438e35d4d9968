"""Uses of a density: a generative (Bayes) classifier and an anomaly detector, both scikit-learn estimators.

They reach models only through the registry and the contract (:mod:`genlab.apps.density`).
"""

from genlab.apps.anomaly import AnomalyDetector
from genlab.apps.classifier import BayesClassifier
from genlab.apps.estimator import DensityEstimator

__all__ = ["BayesClassifier", "AnomalyDetector", "DensityEstimator"]
