"""GridSearchCV over genlab models (gmm sizes, nsf widths) by held-out log-likelihood: the example of
docs/estimator.md. Three-fold cross-validation on 1500 points of two_moons; then the winner's test log-likelihood.

    python benchmarks/grid_search.py --out benchmarks/results/grid_search.json      # ~60 s on one core
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
from sklearn.model_selection import GridSearchCV

import genlab

GRID = [
    {"model": ["gmm"], "n_components": [1, 4, 16]},
    {"model": ["nsf"], "hidden_features": [(32, 32), (64, 64)], "steps": [400]},
]


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--n", type=int, default=1500)
    p.add_argument("--out", type=Path, default=None)
    a = p.parse_args(argv)
    ds = genlab.datasets.load("two_moons", n_train=a.n, n_test=5000, seed=0)
    t0 = time.perf_counter()
    search = GridSearchCV(genlab.DensityEstimator(random_state=0), GRID, cv=3).fit(ds.train.numpy())
    rows = [{"params": {k: list(v) if isinstance(v, tuple) else v for k, v in params.items()},
             "mean_held_out_log_lik": float(score), "std": float(std)}
            for params, score, std in zip(search.cv_results_["params"], search.cv_results_["mean_test_score"],
                                          search.cv_results_["std_test_score"], strict=True)]
    best = search.best_estimator_
    res = {"date": time.strftime("%Y-%m-%d"), "data": "two_moons", "n_train": a.n, "rows": rows,
           "best_params": {k: list(v) if isinstance(v, tuple) else v for k, v in search.best_params_.items()},
           "best_test_log_lik": best.score(ds.test.numpy()),
           "true_test_log_lik": float(ds.log_prob(ds.test).mean()), "seconds": time.perf_counter() - t0}
    for r in rows:
        print(f"{json.dumps(r['params']):<70} {r['mean_held_out_log_lik']:.4f} ± {r['std']:.4f}")
    print("best:", res["best_params"], f"test log-lik {res['best_test_log_lik']:.4f} "
          f"(truth {res['true_test_log_lik']:.4f})")
    if a.out is not None:
        a.out.parent.mkdir(parents=True, exist_ok=True)
        a.out.write_text(json.dumps(res, indent=2, default=float) + "\n")
    assert np.argmax([r["mean_held_out_log_lik"] for r in rows]) == search.best_index_
    return res


if __name__ == "__main__":
    main()
