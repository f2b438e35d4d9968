"""Uses of a density: a generative (Bayes) classifier and an anomaly detector, both scikit-learn estimators, and the
noise-conditional classifier of classifier guidance.

They reach models only through the registry and the contract (:mod:`genlab.apps.density`).
"""

from genlab.apps.anomaly import AnomalyDetector
from genlab.apps.classifier import BayesClassifier
from genlab.apps.estimator import DensityEstimator
from genlab.apps.noisy_classifier import NoisyClassifier

__all__ = ["BayesClassifier", "AnomalyDetector", "DensityEstimator", "NoisyClassifier"]
