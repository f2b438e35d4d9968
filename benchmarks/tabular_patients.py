"""``benchmarks/tabular.py --protocol patients``: gbsg2 (686 breast-cancer patients, lifelines) and penguins at an
equal budget per model -- every genlab table model against the peers of :mod:`tabular_peers` (a Gaussian copula,
CTGAN- and TVAE-style networks, independent marginals as the floor, the training rows as the oracle).

70/30 split (seeded). Each model fits the training rows for ``--budget`` seconds (the copula, marginals and oracle need
less) and draws as many rows as the training split; ``genlab.metrics.tabular`` scores them against the training and
test rows: fidelity (sdmetrics-style quality, W1), utility (HistGradientBoosting trained on the synthetic rows vs on
the training rows, tested on the test rows; target horTh / species) and privacy (median DCR ratio synthetic / holdout,
exact copies, membership-inference AUC).

``given=`` check (genlab models): ``sample(n, given={column: value})`` with n = the training rows; the column must take
the value in every row, and the other columns' shapes (1 - KS / 1 - TV per column, as the fidelity's column shapes;
the mean over the other columns) against the real training rows with that value must beat the unconditional
samples' -- also W1 over the other columns (lower is closer).
"""

from __future__ import annotations

import time

import numpy as np
from app_common import attempt, md_table
from tabular_metrics_check import tables
from tabular_peers import PEERS, Genlab

import genlab
from genlab.metrics.tables import TableSpace, _quality, tabular, wasserstein1

__all__ = ["TABLES", "load", "run"]

# name -> (utility target, given= for the conditional check)
TABLES = {"gbsg2": ("horTh", {"menostat": "Pre"}), "penguins": ("species", {"species": "Gentoo"})}
TRAINED_PEERS = ("ctgan", "tvae", "gaussian_copula")


def load(name: str, seed: int):
    """(train, test, target) with a 70/30 split."""
    if name == "gbsg2":
        train, test, _ = tables(["gbsg2"], seed)["gbsg2"]
    else:
        import palmerpenguins
        from sklearn.model_selection import train_test_split

        train, test = train_test_split(palmerpenguins.load_penguins(), test_size=0.3, random_state=seed)
    return train.reset_index(drop=True), test.reset_index(drop=True), TABLES[name][0]


def _given(model, train, given: dict, seed: int, uncond) -> dict:
    (col, value), = given.items()
    real = train[train[col] == value]
    t0 = time.perf_counter()
    cond = model.sample(len(train), seed=seed + 7, given=given)
    seconds = time.perf_counter() - t0
    space = TableSpace(train)
    others = [c for c in space.names if c != col]

    def closeness(frame) -> tuple[float, float]:
        cols = _quality(space, real, frame)[2]
        return float(np.mean([cols[c] for c in others])), wasserstein1(space.embed(real, others),
                                                                       space.embed(frame, others))

    (s_cond, w_cond), (s_unc, w_unc) = closeness(cond), closeness(uncond)
    return {"given": f"{col}={value}", "all_rows_match": bool((cond[col] == value).all()),
            "shapes_conditional": s_cond, "shapes_unconditional": s_unc, "w1_conditional": w_cond,
            "w1_unconditional": w_unc, "closer": bool(s_cond > s_unc and w_cond < w_unc), "sample_s": seconds}


def _one(name: str, model, train, test, target, given, args) -> dict:
    t0 = time.perf_counter()
    model.fit(train, args.budget, seed=args.seed)
    fit_s = time.perf_counter() - t0
    synth = model.sample(len(train), seed=args.seed + 1)
    rep = tabular(train, test, synth, target, seed=args.seed).to_dict()
    f, u, p = rep["fidelity"], rep["utility"], rep["privacy"]
    key = "f1_macro" if "f1_macro" in u["difference"] else "r2"
    out = {"quality": f["quality"], "column_shapes": f["column_shapes"], "pair_trends": f["column_pair_trends"],
           "w1_test": f["w1_test"], "coverage": f["coverage"], "utility_real": u["real"][key],
           "utility_synthetic": u["synthetic"][key], "utility_diff": u["difference"][key], **p,
           "fit_s": round(fit_s, 1), "steps": getattr(model, "steps", None), "report": rep}
    if isinstance(model, Genlab):
        out["given_check"] = attempt(f"{name} given", lambda: _given(model, train, given, args.seed, synth), print)
    return out


def _goal(rows: list[dict]) -> dict:
    ok = {r["model"]: r for r in rows if "quality" in r}
    genlab_rows = [r for r in ok.values() if r["kind"] == "genlab"]
    peers = [ok[p]["quality"] for p in TRAINED_PEERS if p in ok]
    bar = max(peers + [ok["marginals"]["quality"]] if "marginals" in ok else peers, default=np.nan)
    best = max(genlab_rows, key=lambda r: r["quality"], default={})

    def meets(r) -> bool:
        return bool(r["quality"] > bar and r["utility_diff"] >= -0.03 and r["dcr_ratio"] >= 0.95
                    and r["exact_copies"] == 0)

    return {"best_genlab": best.get("model"), "best_genlab_quality": best.get("quality"),
            "bar_best_peer_or_marginals": bar, "best_beats_peers_and_marginals": bool(best) and best["quality"] > bar,
            "models_meeting_all": [r["model"] for r in genlab_rows if meets(r)],
            "given_all_rows_match": [r["model"] for r in genlab_rows
                                     if r.get("given_check", {}).get("all_rows_match")],
            "given_closer": [r["model"] for r in genlab_rows if r.get("given_check", {}).get("closer")]}


def run(args, log=print) -> tuple[dict, str]:
    names = args.models or genlab.models.for_kind("table")
    peers = [p for p in (args.peers or PEERS) if p in PEERS]
    results, lines, goal = {}, [], {}
    for ds in args.datasets or tuple(TABLES):
        train, test, target = load(ds, args.seed)
        given = TABLES[ds][1]
        rows = []
        for kind, name, make in [*(("genlab", n, lambda n=n: Genlab(n)) for n in names),
                                 *(("peer", p, PEERS[p]) for p in peers)]:
            data = (train, test, target, given)
            row = attempt(f"{ds} {name}", lambda n=name, m=make, d=data: _one(n, m(), *d, args), log)
            rows.append({"model": name, "kind": kind, **row})
        results[ds] = rows
        goal[ds] = _goal(rows)
        for r in rows:
            g = r.get("given_check", {})
            r["given_closer"] = g.get("closer") if "closer" in g else None
        cols = [("model", "model"), ("quality", "quality"), ("w1_test", "W1 test"), ("utility_diff", "utility diff"),
                ("dcr_ratio", "DCR ratio"), ("exact_copies", "copies"), ("mia_auc", "MIA AUC"),
                ("given_closer", "given closer"), ("fit_s", "fit s"), ("error", "error")]
        lines += [f"### {ds} (target {target}, given {given})", "", md_table(rows, cols), ""]
    return {"results": results, "goal": goal}, "\n".join(lines)
