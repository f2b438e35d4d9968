"""Fidelity, utility and privacy of a synthetic table against the real one (issue 25, deliverable 4).

``tabular(real_train, real_test, synthetic, target=None, seed=0)`` compares three pandas DataFrames with the same
columns. Column types come from a :class:`~genlab.data.kinds.TableEncoder` fitted on ``real_train``, and every
preprocessing step (bins, min-max bounds, one-hot categories, medians) is fitted on ``real_train`` only, never on
test rows (the leak of SDMetrics #291).

- **Fidelity** (``synthetic`` vs ``real_train``), as sdmetrics' QualityReport: column shapes = mean over columns of
  the KS complement 1 - KS (numeric / integer, missing cells dropped) or the TV complement 1 - TV (categorical /
  boolean, a missing cell its own category); column pair trends = mean over pairs of the correlation similarity
  1 - |rho_real - rho_syn| / 2 (two numeric columns, Pearson) or the contingency similarity 1 - TV of the joint
  table (other pairs; numbers in 10 equal-width bins of the training range, missing its own bin); quality = the
  mean of the two. W1 with L1 cost (POT's exact ``emd2``) after min-max scaling with one-hot categories halved, so
  that two categories are 1 apart (the protocol of ForestDiffusion, Jolicoeur-Martineau et al. 2024), to the
  training rows and to the test rows. Coverage: the share of training categories that occur and of the training
  range that is spanned, per column, and their mean. ``holdout_quality`` is ``real_test``'s own quality: a reference.
- **Utility** (given ``target``): a HistGradientBoosting model (fixed seed; at least one training row per 50 in a
  leaf, at most 20 as sklearn's default) trained on the synthetic rows and on the training rows, each tested on
  ``real_test``: macro F1 and accuracy for a categorical / boolean target, R^2 for a
  numeric one, with the difference synthetic - real.
- **Privacy**: distance to the closest record (DCR, L1 in the same space as W1) from synthetic rows to training rows
  against that from test (holdout) rows to training rows: the medians and their ratio (about 1: no closer than new
  real rows; 0: copies); the share of synthetic rows that copy a training row exactly; a membership-inference AUC,
  the score of a real row being minus its distance to the closest synthetic row, training rows against holdout
  rows (0.5: nothing leaks; 1: the training rows are recognisable).

Large tables are subsampled (seeded) to ``max_rows`` rows for W1 and for the rows whose DCR is measured.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from itertools import combinations

import numpy as np

from genlab.errors import DataError
from genlab.rng import derive_seed

__all__ = ["Fidelity", "Utility", "Privacy", "TabularReport", "TableSpace", "tabular", "wasserstein1"]

MISSING = ("<missing>",)  # the key of a missing categorical cell (a tuple: never equal to a cell's own key)
BINS = 10


def _key(v, boolean: bool = False):
    """A present categorical cell as a comparable key: 1 and 1.0 alike, "True" / "False" as booleans in a boolean
    column."""
    if isinstance(v, (bool, np.bool_)):
        return bool(v)
    if boolean and isinstance(v, str) and v.strip().lower() in ("true", "false"):
        return v.strip().lower() == "true"
    if isinstance(v, (int, float, np.integer, np.floating)):
        return float(v)
    return str(v)


class TableSpace:
    """The real training rows' view of a table: each column's type, and the codes / scaled values of any rows.

    ``codes(frame, name)`` gives a categorical column's training category index (-1: any category not in the
    training rows) or a numeric column's bin (0..9 over the training range, 10 for a missing cell); ``numbers`` the
    float values (NaN where missing); ``embed`` the min-max / half one-hot rows of W1, DCR and utility."""

    def __init__(self, real_train, column_types=None):
        from genlab.data.kinds import TableEncoder

        self.types = TableEncoder(column_types).fit(real_train).schema()
        self.names = list(self.types)
        self.cats, self.lo, self.hi, self.median, self.edges = {}, {}, {}, {}, {}
        for c, t in self.types.items():
            if t in ("categorical", "boolean"):
                keys, which = self._distinct(real_train, c)
                keys = keys if which.max() == len(keys) - 1 else keys[:-1]  # MISSING only if a cell is
                self.cats[c] = {k: i for i, k in enumerate(dict.fromkeys(keys))}
            else:
                v = self.numbers(real_train, c)
                v = v[~np.isnan(v)]
                self.lo[c], self.hi[c], self.median[c] = float(v.min()), float(v.max()), float(np.median(v))
                self.edges[c] = np.histogram_bin_edges(v, BINS)

    def numeric(self, name: str) -> bool:
        return self.types[name] in ("numeric", "integer")

    def check(self, frame, what: str) -> None:
        have = set(map(str, frame.columns))
        if have != set(self.names):
            lost, extra = sorted(set(self.names) - have), sorted(have - set(self.names))
            diff = f"missing column '{lost[0]}'" if lost else f"unknown column '{extra[0]}'"
            raise DataError(f"{what} does not match the training table ({diff}); expected columns: "
                            f"{', '.join(self.names)}")

    def _distinct(self, frame, name: str) -> tuple[list, np.ndarray]:
        """(keys of the distinct cells, MISSING last; each row's index into them)."""
        import pandas as pd

        which, distinct = pd.factorize(frame[name].astype(object), use_na_sentinel=True)
        boolean = self.types[name] == "boolean"
        return [_key(v, boolean) for v in distinct] + [MISSING], np.where(which < 0, len(distinct), which)

    def numbers(self, frame, name: str) -> np.ndarray:
        try:
            return frame[name].astype(object).to_numpy(np.float64, na_value=np.nan)
        except (TypeError, ValueError):
            raise DataError(f"column '{name}' ({self.types[name]} in the training rows) holds non-numbers") from None

    def codes(self, frame, name: str) -> np.ndarray:
        if not self.numeric(name):
            keys, which = self._distinct(frame, name)
            return np.array([self.cats[name].get(k, -1) for k in keys], dtype=np.int64)[which]
        v = self.numbers(frame, name)
        inner = np.digitize(np.where(np.isnan(v), 0.0, v), self.edges[name][1:-1])
        return np.where(np.isnan(v), BINS, inner)

    def embed(self, frame, columns=None) -> np.ndarray:
        """Rows in [0, 1]-scaled numbers (missing: the training median, plus a 0/1 missing column) and one-hot
        categories of height 1/2 (a category not in the training rows: all zeros)."""
        parts = []
        for c in columns or self.names:
            if self.numeric(c):
                v = self.numbers(frame, c)
                miss = np.isnan(v)
                scaled = (np.where(miss, self.median[c], v) - self.lo[c]) / max(self.hi[c] - self.lo[c], 1e-12)
                parts += [scaled[:, None], miss[:, None].astype(np.float64)]
            else:
                codes = self.codes(frame, c)
                onehot = np.zeros((len(codes), len(self.cats[c])))
                seen = codes >= 0
                onehot[np.flatnonzero(seen), codes[seen]] = 0.5
                parts.append(onehot)
        return np.concatenate(parts, 1) if parts else np.zeros((len(frame), 0))


# ------------------------------------------------------------------------------------------------ report
@dataclass
class Fidelity:
    quality: float  # (column_shapes + column_pair_trends) / 2, as sdmetrics' QualityReport
    column_shapes: float
    column_pair_trends: float
    w1_train: float  # W1 (L1 cost, min-max / half one-hot) of the synthetic rows to the training rows
    w1_test: float  # ... and to the test rows
    coverage: float
    holdout_quality: float  # real_test's own quality against real_train: what new real rows score
    columns: dict  # column -> its shape score
    column_coverage: dict


@dataclass
class Utility:
    target: str
    task: str  # "classification" or "regression"
    real: dict  # trained on real_train, tested on real_test: {"f1_macro", "accuracy"} or {"r2"}
    synthetic: dict  # trained on the synthetic rows, tested on real_test
    difference: dict  # synthetic - real
    model: str = "HistGradientBoosting"


@dataclass
class Privacy:
    dcr_synthetic: float  # median L1 distance of synthetic rows to their closest training row
    dcr_holdout: float  # ... of test rows
    dcr_ratio: float  # dcr_synthetic / dcr_holdout
    exact_copies: float  # share of synthetic rows equal to a training row
    mia_auc: float  # distance attack: training vs holdout rows scored by -distance to the synthetic rows


@dataclass
class TabularReport:
    fidelity: Fidelity
    utility: Utility | None
    privacy: Privacy
    rows: dict  # {"train", "test", "synthetic"}

    def to_dict(self) -> dict:
        return asdict(self)


# ------------------------------------------------------------------------------------------------ fidelity
def _tv(a: np.ndarray, b: np.ndarray) -> float:
    """Total variation between the empirical distributions of two arrays of codes (integers >= -1)."""
    size = int(max(a.max(initial=-1), b.max(initial=-1))) + 2
    p = np.bincount(a + 1, minlength=size) / max(len(a), 1)
    q = np.bincount(b + 1, minlength=size) / max(len(b), 1)
    return 0.5 * float(np.abs(p - q).sum())


def _columns(space: TableSpace, frame) -> dict:
    """Column -> (codes, numbers or None) of ``frame``, computed once for all the terms."""
    return {c: (space.codes(frame, c), space.numbers(frame, c) if space.numeric(c) else None) for c in space.names}


def _shape(real: tuple, other: tuple) -> float:
    from scipy.stats import ks_2samp

    (codes_r, x), (codes_o, y) = real, other
    if x is None:
        return 1.0 - _tv(codes_r, codes_o)
    x, y = x[~np.isnan(x)], y[~np.isnan(y)]
    return 0.0 if len(y) == 0 else 1.0 - float(ks_2samp(x, y).statistic)


def _pearson(x: np.ndarray, y: np.ndarray) -> float:
    keep = ~(np.isnan(x) | np.isnan(y))
    x, y = x[keep], y[keep]
    if len(x) < 2 or x.std() == 0 or y.std() == 0:
        return np.nan
    return float(np.corrcoef(x, y)[0, 1])


def _pair(real: dict, other: dict, a: str, b: str) -> float:
    if real[a][1] is not None and real[b][1] is not None:  # two numeric columns: Pearson's rho
        rho_real, rho_other = _pearson(real[a][1], real[b][1]), _pearson(other[a][1], other[b][1])
        return 1.0 - abs(rho_real - np.nan_to_num(rho_other)) / 2  # NaN (not scored) for a constant real column
    width = int(max(real[b][0].max(initial=-1), other[b][0].max(initial=-1))) + 2  # one code per (a, b) cell
    return 1.0 - _tv(*((f[a][0] + 1) * width + f[b][0] for f in (real, other)))


def _quality(space: TableSpace, real, other) -> tuple[float, float, dict]:
    """(column shapes, column pair trends, column -> shape score) of ``other`` against ``real``."""
    real, other = _columns(space, real), _columns(space, other)
    columns = {c: _shape(real[c], other[c]) for c in space.names}
    pairs = [_pair(real, other, a, b) for a, b in combinations(space.names, 2)]
    trends = float(np.nanmean(pairs)) if pairs and not np.all(np.isnan(pairs)) else np.nan
    return float(np.mean(list(columns.values()))), trends, columns


def wasserstein1(x: np.ndarray, y: np.ndarray) -> float:
    """Exact W1 between the uniform empirical measures on the rows of x and y, L1 ground cost (POT's ``emd2``)."""
    import ot

    cost = ot.dist(x, y, metric="cityblock")
    return float(ot.emd2(np.full(len(x), 1 / len(x)), np.full(len(y), 1 / len(y)), cost, numItermax=10_000_000))


def _coverage(space: TableSpace, other, c: str) -> float:
    if space.numeric(c):
        y = space.numbers(other, c)
        y = y[~np.isnan(y)]
        if len(y) == 0:
            return 0.0
        lo, hi = space.lo[c], space.hi[c]
        return float(np.clip((min(hi, y.max()) - max(lo, y.min())) / max(hi - lo, 1e-12), 0.0, 1.0))
    return float(np.isin(np.arange(len(space.cats[c])), space.codes(other, c)).mean())


# ------------------------------------------------------------------------------------------------ utility
def _utility(space: TableSpace, real_train, real_test, synthetic, target: str, seed: int) -> Utility:
    from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
    from sklearn.metrics import accuracy_score, f1_score, r2_score

    if target not in space.types:
        raise DataError(f"target '{target}' is not a column; columns: {', '.join(space.names)}")
    features = [c for c in space.names if c != target]
    if not features:
        raise DataError(f"target '{target}' is the only column: nothing to predict it from")
    regression = space.numeric(target)

    def xy(frame):
        y = space.numbers(frame, target) if regression else space.codes(frame, target)
        keep = frame[target].notna().to_numpy()
        return space.embed(frame, features)[keep], y[keep]

    def fit_predict(frame, x_test):
        x, y = xy(frame)
        if not regression and len(np.unique(y)) < 2:  # one class in the training rows: it is every prediction
            return np.full(len(x_test), y[0] if len(y) else -1)
        cls = HistGradientBoostingRegressor if regression else HistGradientBoostingClassifier
        leaf = int(np.clip(len(y) // 50, 1, 20))  # sklearn's 20 from 1000 rows; small tables need smaller leaves
        return cls(min_samples_leaf=leaf, random_state=seed, early_stopping=False).fit(x, y).predict(x_test)

    x_test, y_test = xy(real_test)
    if len(y_test) == 0:
        raise DataError(f"target '{target}': every test row misses it")

    def scores(pred) -> dict:
        if regression:
            return {"r2": float(r2_score(y_test, pred))}
        return {"f1_macro": float(f1_score(y_test, pred, average="macro", zero_division=0)),
                "accuracy": float(accuracy_score(y_test, pred))}

    real, syn = scores(fit_predict(real_train, x_test)), scores(fit_predict(synthetic, x_test))
    return Utility(target, "regression" if regression else "classification", real, syn,
                   {k: syn[k] - real[k] for k in real})


# ------------------------------------------------------------------------------------------------ privacy
def _closest(reference: np.ndarray, queries: np.ndarray) -> np.ndarray:
    from sklearn.neighbors import NearestNeighbors

    return NearestNeighbors(n_neighbors=1, metric="manhattan").fit(reference).kneighbors(queries)[0][:, 0]


def _privacy(train: np.ndarray, members: np.ndarray, test: np.ndarray, syn: np.ndarray) -> Privacy:
    """DCRs to all training rows ``train``; the attack tells ``members`` (training rows) from ``test`` rows."""
    from sklearn.metrics import roc_auc_score

    d_syn, d_test = _closest(train, syn), _closest(train, test)
    med_syn, med_test = float(np.median(d_syn)), float(np.median(d_test))
    scores = -_closest(syn, np.concatenate([members, test]))  # a row close to a synthetic row: called a member
    members = np.r_[np.ones(len(members)), np.zeros(len(test))]
    return Privacy(med_syn, med_test, med_syn / med_test if med_test > 0 else np.inf,
                   float(np.mean(d_syn <= 1e-9)), float(roc_auc_score(members, scores)))


# ------------------------------------------------------------------------------------------------ entry point
def _rows(frame, n: int, seed: int, stream: int):
    if len(frame) <= n:
        return frame
    pick = np.random.default_rng(derive_seed(seed, stream)).choice(len(frame), n, replace=False)
    return frame.iloc[np.sort(pick)]


def tabular(real_train, real_test, synthetic, target: str | None = None, *, seed: int = 0, max_rows: int = 2000,
            column_types: dict | None = None) -> TabularReport:
    """Fidelity, utility (with ``target``) and privacy of ``synthetic`` (see the module docstring); every transform is
    fitted on ``real_train``; ``column_types`` overrides the inferred types as in TableEncoder."""
    import pandas as pd

    frames = []
    for what, f in (("real_train", real_train), ("real_test", real_test), ("synthetic", synthetic)):
        if not isinstance(f, pd.DataFrame) or len(f) == 0:
            raise DataError(f"{what}: expected a non-empty pandas DataFrame, got {type(f).__name__} of length "
                            f"{len(f) if hasattr(f, '__len__') else '?'}")
        frames.append(f.rename(columns=str).reset_index(drop=True))
    real_train, real_test, synthetic = frames
    space = TableSpace(real_train, column_types)
    space.check(real_test, "real_test")
    space.check(synthetic, "synthetic")
    shapes, trends, columns = _quality(space, real_train, synthetic)
    hold_shapes, hold_trends, _ = _quality(space, real_train, real_test)
    coverage = {c: _coverage(space, synthetic, c) for c in space.names}
    train_s, test_s, syn_s = (_rows(f, max_rows, seed, i) for i, f in enumerate((real_train, real_test, synthetic)))
    e_train, e_test, e_syn = (space.embed(f) for f in (train_s, test_s, syn_s))
    fidelity = Fidelity(quality=float(np.nanmean([shapes, trends])), column_shapes=shapes, column_pair_trends=trends,
                        w1_train=wasserstein1(e_train, e_syn), w1_test=wasserstein1(e_test, e_syn),
                        coverage=float(np.mean(list(coverage.values()))),
                        holdout_quality=float(np.nanmean([hold_shapes, hold_trends])), columns=columns,
                        column_coverage=coverage)
    utility = None if target is None else _utility(space, real_train, real_test, synthetic, str(target), seed)
    privacy = _privacy(space.embed(real_train), e_train, e_test, e_syn)
    return TabularReport(fidelity, utility, privacy,
                         {"train": len(real_train), "test": len(real_test), "synthetic": len(synthetic)})
