"""gmm's defaults (size and covariance regularisation chosen on held-out data) against the old fixed default
(10 full-covariance components, reg_covar 1e-6): Bayes-classifier accuracy on small real sets, and KL to the truth
on 2-D synthetic sets. Peer: scikit-learn's QuadraticDiscriminantAnalysis (reg_param chosen by 5-fold CV).

    python benchmarks/gmm_defaults.py --out benchmarks/results/gmm_defaults.json     # ~40 s on one core
"""

from __future__ import annotations

import argparse
import json
import time
import warnings
from pathlib import Path

import numpy as np

import genlab

OLD = {"n_components": 10, "reg_covar": 1e-6}
CLASSIFY = ("wine", "iris", "breast_cancer", "penguins_onehot")
DENSITY = ("eight_gaussians", "rings", "checkerboard", "two_moons")


def accuracy(name: str, config: dict | None, seeds) -> list[float]:
    out = []
    for s in seeds:
        ds = genlab.datasets.load(name, seed=s)
        clf = genlab.BayesClassifier("gmm", config=config).fit(ds.train, ds.labels_train)
        out.append(float(clf.score(ds.test, ds.labels_test)))
    return out


def qda(name: str, seeds) -> list[float]:
    from sklearn.discriminant_analysis import QuadraticDiscriminantAnalysis
    from sklearn.model_selection import GridSearchCV

    out = []
    for s in seeds:
        ds = genlab.datasets.load(name, seed=s)
        grid = GridSearchCV(QuadraticDiscriminantAnalysis(), {"reg_param": [0.0, 0.01, 0.1, 0.3, 0.5]}, cv=5)
        out.append(float(grid.fit(ds.train.numpy(), ds.labels_train.numpy()).score(ds.test.numpy(),
                                                                                    ds.labels_test.numpy())))
    return out


def kl(name: str, config: dict | None, seed: int) -> dict:
    ds = genlab.datasets.load(name, n_train=5000, n_test=5000, seed=seed)
    t0 = time.perf_counter()
    m = genlab.create("gmm", ds.shape, **(config or {})).fit(ds.train, seed=seed)
    fit_s = time.perf_counter() - t0
    diff = (ds.log_prob(ds.test) - m.log_prob(ds.test)).double()
    return {"kl": float(diff.mean()), "stderr": float(diff.std() / len(diff) ** 0.5), "fit_s": fit_s,
            "n_components": int(m.weights.numel()), "reg_covar": m.history[0]["reg_covar"]}


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seeds", type=int, default=3, help="data splits per classification set")
    p.add_argument("--out", type=Path, default=None)
    a = p.parse_args(argv)
    seeds = range(a.seeds)
    res = {"date": time.strftime("%Y-%m-%d"), "seeds": a.seeds, "classify": {}, "density": {}}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # penguins' dropped rows, sklearn's collinearity warnings
        for name in CLASSIFY:
            row = {"new": accuracy(name, None, seeds), "old": accuracy(name, OLD, seeds), "qda_cv": qda(name, seeds)}
            res["classify"][name] = row
            print(name, {k: round(float(np.mean(v)), 3) for k, v in row.items()}, flush=True)
        for name in DENSITY:
            row = {"new": kl(name, None, 0), "old": kl(name, OLD, 0)}
            res["density"][name] = row
            print(name, {k: (round(v["kl"], 4), v["n_components"]) for k, v in row.items()}, flush=True)
    if a.out is not None:
        a.out.parent.mkdir(parents=True, exist_ok=True)
        a.out.write_text(json.dumps(res, indent=2) + "\n")
    return res


if __name__ == "__main__":
    main()
