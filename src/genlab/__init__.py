"""genlab: generative models of every family behind one interface.

>>> import genlab
>>> ds = genlab.datasets.load("eight_gaussians")
>>> m = genlab.create("gmm", ds.shape).fit(ds.train)
>>> m.log_prob(ds.test).mean()  # doctest: +SKIP
"""

from genlab import data as datasets
from genlab import metrics, models  # metrics: genlab.metrics.straightness(...) after a plain `import genlab`
from genlab._version import __version__
from genlab.errors import CheckpointError, ConfigError, DataError, GenlabError
from genlab.models import create, load
from genlab.nn.backbones import register_backbone

__all__ = [
    "__version__",
    "create",
    "load",
    "register_backbone",
    "datasets",
    "models",
    "metrics",
    "BayesClassifier",
    "AnomalyDetector",
    "DensityEstimator",
    "distill",
    "GenlabError",
    "DataError",
    "ConfigError",
    "CheckpointError",
]


def __getattr__(name):  # the applications (and distillation) load on first use
    if name == "distill":
        from genlab.distillation import distill

        return distill
    if name == "BayesClassifier":
        from genlab.apps.classifier import BayesClassifier

        return BayesClassifier
    if name == "AnomalyDetector":
        from genlab.apps.anomaly import AnomalyDetector

        return AnomalyDetector
    if name == "DensityEstimator":
        from genlab.apps.estimator import DensityEstimator

        return DensityEstimator
    raise AttributeError(f"module 'genlab' has no attribute {name!r}")
