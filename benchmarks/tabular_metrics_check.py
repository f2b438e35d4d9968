"""Reference points of genlab.metrics.tabular on real tables: what the held-out rows, independent column marginals,
uniform garbage and a copy of the training rows score, and (with sdmetrics installed) sdmetrics' QualityReport on
the same pairs, with its pair thresholds off and at its defaults.

Tables: iris, wine, breast_cancer (scikit-learn, the class as a categorical column "target", 80/20 stratified splits
as ForestDiffusion's protocol) and gbsg2 (lifelines, 686 patients; 70/30). The "synthetic" tables need no model, so
this script checks the metrics alone: a quality floor (marginals), a ceiling (held-out rows), and the privacy
of an exact copy. Seconds per tabular() call are recorded (machine load in the JSON).

    python benchmarks/tabular_metrics_check.py            # writes benchmarks/results/tabular_metrics_check.{json,md}
    python benchmarks/tabular_metrics_check.py --quick    # iris only, no file written
"""

from __future__ import annotations

import argparse
import importlib.util
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from common import write_results

from genlab.metrics.tables import TableSpace, tabular

__all__ = ["tables", "references"]

RESULTS = Path(__file__).parent / "results" / "tabular_metrics_check"


def tables(names, seed: int) -> dict[str, tuple[pd.DataFrame, pd.DataFrame, str]]:
    """name -> (train, test, target)."""
    from sklearn import datasets
    from sklearn.model_selection import train_test_split

    out = {}
    for name in names:
        if name == "gbsg2":
            spec = importlib.util.find_spec("lifelines")
            if spec is None:
                continue
            frame = pd.read_csv(Path(spec.origin).parent / "datasets" / "gbsg2.csv")
            train, test = train_test_split(frame, test_size=0.3, random_state=seed)
            out[name] = (train, test, "horTh")
            continue
        frame = getattr(datasets, f"load_{name}")(as_frame=True).frame
        frame["target"] = "class_" + frame["target"].astype(str)
        train, test = train_test_split(frame, test_size=0.2, random_state=seed, stratify=frame["target"])
        out[name] = (train, test, "target")
    return out


def references(train: pd.DataFrame, seed: int) -> dict[str, pd.DataFrame]:
    """Synthetic stand-ins without a model: independent marginals, uniform garbage, a copy of the training rows."""
    rng = np.random.default_rng(seed)
    n = len(train)
    marg = pd.DataFrame({c: train[c].to_numpy()[rng.integers(0, n, n)] for c in train})
    junk = {}
    for c in train:
        s = train[c]
        if s.dtype.kind in "OSb":
            junk[c] = rng.choice(s.dropna().unique(), n)
        else:
            junk[c] = rng.uniform(s.min(), s.max(), n).astype(s.dtype) if s.dtype.kind == "f" else \
                rng.integers(s.min(), s.max() + 1, n).astype(s.dtype)
    return {"marginals": marg, "garbage": pd.DataFrame(junk), "copy": train.copy()}


def sdmetrics_quality(train, synthetic, thresholds: bool) -> float | None:
    if importlib.util.find_spec("sdmetrics") is None:
        return None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from sdmetrics.reports.single_table import QualityReport

        sdtype = {"numeric": "numerical", "integer": "numerical", "categorical": "categorical", "boolean": "boolean"}
        meta = {"columns": {c: {"sdtype": sdtype[k]} for c, k in TableSpace(train).types.items()}}
        report = QualityReport()
        if not thresholds:
            report.real_correlation_threshold = report.real_association_threshold = 0
        report.generate(train, synthetic, meta, verbose=False)
        return float(report.get_score())


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true", help="iris only; print, write nothing")
    args = parser.parse_args()
    names = ["iris"] if args.quick else ["iris", "wine", "breast_cancer", "gbsg2"]
    rows, lines = [], ["| table | synthetic | quality | sdmetrics (all pairs) | sdmetrics (default) | W1 test | "
                       "utility diff | DCR ratio | copies | MIA AUC | seconds |", "|" + "---|" * 11]
    for name, (train, test, target) in tables(names, args.seed).items():
        for label, synthetic in {"held-out rows": test, **references(train, args.seed)}.items():
            t0 = time.perf_counter()
            report = tabular(train, test, synthetic, target, seed=args.seed).to_dict()
            seconds = time.perf_counter() - t0
            f, u, p = report["fidelity"], report["utility"], report["privacy"]
            row = {"table": name, "synthetic": label, "seconds": seconds, **report,
                   "sdmetrics_all_pairs": sdmetrics_quality(train, synthetic, False),
                   "sdmetrics_default": sdmetrics_quality(train, synthetic, True)}
            rows.append(row)
            diff = next(iter(u["difference"].values()))
            sd = [("-" if v is None else f"{v:.4f}") for v in (row["sdmetrics_all_pairs"], row["sdmetrics_default"])]
            lines.append(f"| {name} | {label} | {f['quality']:.4f} | {sd[0]} | {sd[1]} | {f['w1_test']:.4f} | "
                         f"{diff:+.4f} | {p['dcr_ratio']:.3f} | {p['exact_copies']:.3f} | {p['mia_auc']:.3f} | "
                         f"{seconds:.2f} |")
            print(lines[-1], flush=True)
    if not args.quick:
        write_results(RESULTS, args, {"rows": rows}, "\n".join(lines))


if __name__ == "__main__":
    main()
