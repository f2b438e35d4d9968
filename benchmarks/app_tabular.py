"""Tabular imputation: 20 % of the test entries of breast_cancer and wine missing completely at random.

Every imputer is fitted on the complete training split and fills the masked test split. RMSE is taken over the
missing entries only, in standardised units: each feature is divided by its training-split standard deviation
(z-scores), so that all features weigh equally.
"""

from __future__ import annotations

import numpy as np
import torch
from app_common import attempt, fit, md_table, to_flat

import genlab

__all__ = ["tabular", "mcar_mask"]


def mcar_mask(shape, frac: float, seed: int) -> np.ndarray:
    """Boolean observed-mask (True = observed), each entry missing with probability ``frac``; no empty row."""
    rng = np.random.default_rng(seed)
    observed = rng.random(shape) >= frac
    for i in np.flatnonzero(~observed.any(1)):
        observed[i, rng.integers(shape[1])] = True
    return observed


def _peers(tr: np.ndarray, te_masked: np.ndarray, seed: int) -> dict[str, np.ndarray]:
    """scikit-learn imputers, fitted on the complete (standardised) training split."""
    from sklearn.experimental import enable_iterative_imputer  # noqa: F401
    from sklearn.impute import IterativeImputer, KNNImputer, SimpleImputer

    return {
        "IterativeImputer (BayesianRidge)": IterativeImputer(max_iter=25, random_state=seed).fit(tr).transform(te_masked),
        "KNNImputer (k=5)": KNNImputer(n_neighbors=5).fit(tr).transform(te_masked),
        "SimpleImputer (mean)": SimpleImputer(strategy="mean").fit(tr).transform(te_masked),
    }


def _one(name: str, specs, args, log) -> tuple[list[dict], dict]:
    """Rows (one per imputer) and facts for the data set ``name``."""
    ds = genlab.datasets.load(name, seed=args.seed)
    tr, te = to_flat(ds.train), to_flat(ds.test)
    mu, sd = tr.mean(0), tr.std(0)
    observed = mcar_mask(te.shape, args.missing, args.seed)
    miss = ~observed

    def rmse(fill: np.ndarray) -> float:
        return float(np.sqrt((((fill - te) / sd)[miss] ** 2).mean()))

    def run(mname, cfg, budget) -> dict:
        model, fit_s = fit(mname, ds.shape, ds.train, config=cfg, budget=budget, seed=args.seed)
        x_in = torch.tensor(np.where(observed, te, 0.0), dtype=torch.float32)
        filled = model.impute(x_in, torch.from_numpy(observed), seed=args.seed, fill="mean")
        return {"rmse": rmse(to_flat(filled)), "fit_s": round(fit_s, 1)}

    rows = []
    for mname, cfg, budget in specs:
        label = mname + (f"({cfg['n_components']})" if cfg else "")
        rows.append({"method": f"genlab {label}",
                     **attempt(f"{name} {label}", lambda m=mname, c=cfg, b=budget: run(m, c, b), log)})
    z_te_masked = np.where(observed, (te - mu) / sd, np.nan)
    for pname, z_fill in _peers((tr - mu) / sd, z_te_masked, args.seed).items():
        rows.append({"method": pname, "rmse": rmse(z_fill * sd + mu)})
        log(f"  {name} {pname}: rmse={rows[-1]['rmse']:.4f}")
    return rows, {"n_missing": int(miss.sum()), "n_test": int(te.shape[0]), "dim": int(te.shape[1])}


def tabular(args, log=print) -> dict:
    b = args.budget
    specs = [("gmm", {"n_components": 1}, None), ("gmm", {"n_components": 2}, None),
             ("gmm", {"n_components": 3}, None), ("made", {}, b * 2 / 3), ("maf", {}, b * 2 / 3),
             ("nsf", {}, b * 2 / 3), ("vae", {}, b * 2 / 3), ("vp_sde", {}, b)]
    out, tables, goal = {}, {}, {}
    for name in ("breast_cancer", "wine"):
        rows, facts = _one(name, specs, args, log)
        out[name] = {"rows": rows, **facts}
        tables[name] = md_table(rows, [("method", "imputer"), ("rmse", "RMSE (z-units, missing entries)"),
                                       ("fit_s", "fit s")])
        g = min((r.get("rmse", np.inf) for r in rows if r["method"].startswith("genlab")), default=np.inf)
        it = next(r["rmse"] for r in rows if r["method"].startswith("IterativeImputer"))
        goal[name] = {"best_genlab": g, "iterative_imputer": it, "met": g <= it}
    return {"results": out, "tables": tables, "goal": goal, "missing_fraction": args.missing}
