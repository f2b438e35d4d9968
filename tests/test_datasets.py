"""Tests of genlab.data: exact densities of the synthetic sets, their samplers, real sets and file loaders."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import genlab.data as gd
from genlab.data import highdim
from genlab.data.files import read_data
from genlab.data.synthetic import SYNTHETIC
from genlab.errors import DataError

# the synthetic sets come from their table (a new one is tested without being listed here; a new 2-D set needs its
# integration box in BOXES); REAL are known answers (sizes, classes) of the bundled real sets
TWO_D = sorted(name for name, dist in SYNTHETIC.items() if dist.dim == 2)
N_D = sorted(name for name, dist in SYNTHETIC.items() if dist.dim > 2)
REAL = ["breast_cancer", "digits", "digits_flat", "iris", "wine"]
# integration box per 2-D set (xlo, xhi, ylo, yhi): the mass outside each is < 1e-4
BOXES = {
    "checkerboard": (-4.6, 4.6, -4.6, 4.6),
    "eight_gaussians": (-4.6, 4.6, -4.6, 4.6),
    "pinwheel": (-4.3, 4.3, -4.3, 4.3),
    "rings": (-4.7, 4.7, -4.7, 4.7),
    "swiss_roll": (-4.0, 4.0, -4.0, 4.0),
    "two_moons": (-1.6, 2.6, -1.1, 1.6),
}
H = 0.05  # grid step; every set's smallest noise scale is >= 0.048, so the midpoint rule is far below 1e-3
COARSE = 10  # fine cells per coarse histogram cell along each axis


def _grid(name):
    xlo, xhi, ylo, yhi = BOXES[name]
    nx, ny = round((xhi - xlo) / H), round((yhi - ylo) / H)
    gx = xlo + H * (torch.arange(nx, dtype=torch.float64) + 0.5)
    gy = ylo + H * (torch.arange(ny, dtype=torch.float64) + 0.5)
    pts = torch.cartesian_prod(gx, gy)
    logp = SYNTHETIC[name].log_prob(pts).double().reshape(nx, ny)
    return logp, nx, ny


@pytest.fixture(scope="module")
def grids():
    return {name: _grid(name) for name in TWO_D}


# ------------------------------------------------------------------------------------------- densities, 2-D
@pytest.mark.parametrize("name", TWO_D)
def test_2d_density_integrates_to_one(grids, name):
    logp, _, _ = grids[name]
    mass = (logp.exp().sum() * H * H).item()
    assert abs(mass - 1.0) < 1e-3, mass


@pytest.mark.parametrize("name", TWO_D)
def test_2d_density_finite_everywhere(name):
    pts = torch.tensor([[0.0, 0.0], [1e-12, 0.0], [50.0, -50.0], [-300.0, 7.0], [0.3, 1e-9]], dtype=torch.float64)
    lp = SYNTHETIC[name].log_prob(pts)
    assert lp.dtype == torch.float32 and lp.shape == (5,)
    assert torch.isfinite(lp).all(), lp


@pytest.mark.parametrize("name", TWO_D)
def test_2d_samples_match_density(grids, name):
    """Chi-square of a coarse histogram of samples against the integrated density, and E[log p] on both sides."""
    logp, nx, ny = grids[name]
    n = 12_000
    x = SYNTHETIC[name].sample(n, torch.Generator().manual_seed(11)).double()
    assert x.shape == (n, 2)
    xlo, _, ylo, _ = BOXES[name]
    ix = torch.floor((x[:, 0] - xlo) / (H * COARSE)).long()
    iy = torch.floor((x[:, 1] - ylo) / (H * COARSE)).long()
    cx, cy = nx // COARSE, ny // COARSE
    inside = (ix >= 0) & (ix < cx) & (iy >= 0) & (iy < cy)
    counts = torch.bincount(ix[inside] * cy + iy[inside], minlength=cx * cy).double()
    p = logp.exp()[: cx * COARSE, : cy * COARSE] * H * H
    probs = p.reshape(cx, COARSE, cy, COARSE).sum((1, 3)).reshape(-1)
    expected = n * probs
    big = expected >= 5
    obs = torch.cat([counts[big], (n - counts[big].sum()).reshape(1)])
    exp = torch.cat([expected[big], (n - expected[big].sum()).reshape(1)])
    chi2 = (((obs - exp) ** 2) / exp).sum().item()
    df = len(obs) - 1
    assert chi2 < df + 6 * math.sqrt(2 * df), (chi2, df)
    # E_p[log p]: from the grid vs. over the samples
    lp_s = SYNTHETIC[name].log_prob(x).double()
    grid_mean = (logp.exp() * logp).sum().item() * H * H
    se = lp_s.std().item() / math.sqrt(n)
    assert abs(lp_s.mean().item() - grid_mean) < 5 * se, (lp_s.mean().item(), grid_mean, se)


# ------------------------------------------------------------------------------------------- densities, n-D
def _proposal(name):
    """A normalised proposal (torch.distributions) with p/q bounded, built independently of genlab's formulas."""
    D = torch.distributions
    if name == "gmm10":
        w, mu, cov = highdim.gmm10_params()
        comp = D.MultivariateNormal(mu, covariance_matrix=1.5 * cov)
        return D.MixtureSameFamily(D.Categorical(probs=w), comp)

    class Funnel:
        v = D.Normal(torch.tensor(0.0, dtype=torch.float64), torch.tensor(3.6, dtype=torch.float64))

        def sample(self, shape):
            v = self.v.sample(shape)
            return torch.cat(
                [v[:, None], 1.3 * torch.exp(v / 2)[:, None] * torch.randn(shape[0], 9, dtype=torch.float64)], 1
            )

        def log_prob(self, x):
            v = x[:, 0]
            return self.v.log_prob(v) + D.Normal(0.0, 1.3 * torch.exp(v / 2)[:, None]).log_prob(x[:, 1:]).sum(1)

    return Funnel()


@pytest.mark.parametrize("name", N_D)
def test_nd_density_normalised_by_importance_sampling(name):
    torch.manual_seed(0)
    q = _proposal(name)
    z = q.sample((40_000,)).double()
    ratio = (SYNTHETIC[name].log_prob(z).double() - q.log_prob(z)).exp()
    mean, se = ratio.mean().item(), ratio.std().item() / math.sqrt(len(ratio))
    assert se < 0.02, se
    assert abs(mean - 1.0) < 4 * se + 1e-3, (mean, se)


def test_funnel_entropy_and_moments():
    n = 40_000
    x = SYNTHETIC["funnel"].sample(n, torch.Generator().manual_seed(5)).double()
    lp = SYNTHETIC["funnel"].log_prob(x).double()
    entropy = 0.5 * math.log(2 * math.pi * math.e * 9.0) + 9 * 0.5 * math.log(2 * math.pi * math.e)  # E[v] = 0
    assert abs(-lp.mean().item() - entropy) < 5 * lp.std().item() / math.sqrt(n)
    v, z = x[:, 0], x[:, 1:] * torch.exp(-x[:, :1] / 2)
    assert abs(v.mean().item()) < 5 * 3 / math.sqrt(n) and abs(v.std().item() - 3) < 0.05
    assert z.mean(0).abs().max().item() < 5 / math.sqrt(n)
    assert (z.var(0) - 1).abs().max().item() < 0.05
    assert abs(torch.corrcoef(torch.stack([v, z[:, 0] ** 2]))[0, 1].item()) < 0.03


def test_gmm10_entropy_and_moments():
    n = 40_000
    x, k = SYNTHETIC["gmm10"].sample_labeled(n, torch.Generator().manual_seed(6))
    x = x.double()
    lp = SYNTHETIC["gmm10"].log_prob(x).double()
    w, mu, cov = highdim.gmm10_params()
    # nearly separated components: H ~= H(w) + sum_k w_k H(N_k), an upper bound
    h_comp = 0.5 * torch.logdet(2 * math.pi * math.e * cov)
    bound = (-(w * w.log()).sum() + (w * h_comp).sum()).item()
    se = lp.std().item() / math.sqrt(n)
    assert bound - 0.05 < -lp.mean().item() < bound + 5 * se
    mean, cov_total = highdim.gmm10_moments()
    sd = cov_total.diagonal().sqrt()
    assert ((x.mean(0) - mean).abs() / sd).max().item() < 5 / math.sqrt(n)
    assert (torch.cov(x.T) - cov_total).abs().max().item() < 0.15
    assert torch.bincount(k, minlength=5).min().item() > 0.18 * n


# ------------------------------------------------------------------------------------------- load(), names()
def test_names():
    names = gd.names()
    assert names == sorted(names)
    from genlab.data.registry import DATASETS

    assert names == DATASETS.names() and set(TWO_D) | set(N_D) | set(REAL) <= set(names)
    assert set(gd.__all__) == {"Dataset", "names", "load", "source", "kind"}


@pytest.mark.parametrize("name", TWO_D + N_D)
def test_synthetic_load(name):
    ds = gd.load(name, n_train=64, n_test=32, seed=1)
    d = 2 if name in TWO_D else SYNTHETIC[name].dim
    assert ds.train.shape == (64, d) and ds.test.shape == (32, d) and ds.shape == (d,)
    assert ds.train.dtype == torch.float32 and ds.discrete_levels is None and ds.has_density
    for y, m in ((ds.labels_train, 64), (ds.labels_test, 32)):
        assert y is None or (y.dtype == torch.int64 and y.shape == (m,))
    lp = ds.log_prob(ds.test)
    assert lp.shape == (32,) and lp.dtype == torch.float32 and torch.isfinite(lp).all()
    assert torch.equal(ds.sample(7, seed=3), ds.sample(7, seed=3)) and ds.sample(7, seed=3).shape == (7, d)
    again, other = gd.load(name, n_train=64, n_test=32, seed=1), gd.load(name, n_train=64, n_test=32, seed=2)
    assert torch.equal(ds.train, again.train) and torch.equal(ds.test, again.test)
    assert not torch.equal(ds.train, other.train) and not torch.equal(ds.train[:32], ds.test)


def test_unseeded_sample_leaves_the_global_rng_alone():
    """Dataset.sample(seed=None) draws fresh entropy without reading or reseeding the caller's global RNG."""
    ds = gd.load("eight_gaussians", n_train=64, n_test=32, seed=1)
    torch.manual_seed(123)
    state = torch.get_rng_state()
    a, b = ds.sample(50), ds.sample(50)
    assert torch.equal(torch.get_rng_state(), state)
    assert not torch.equal(a, b)


def test_synthetic_defaults_and_labels():
    ds = gd.load("eight_gaussians")
    assert ds.train.shape == (10_000, 2) and ds.test.shape == (5_000, 2)
    assert ds.num_classes == 8
    assert gd.load("swiss_roll", n_train=5, n_test=5).labels_train is None
    assert gd.load("Two-Moons", n_train=5, n_test=5).name == "two_moons"


@pytest.mark.parametrize("name", REAL)
def test_real_sets(name):
    ds = gd.load(name, seed=0)
    n_total, shape, classes = {
        "digits": (1797, (1, 8, 8), 10),
        "digits_flat": (1797, (64,), 10),
        "breast_cancer": (569, (30,), 2),
        "wine": (178, (13,), 3),
        "iris": (150, (4,), 3),
    }[name]
    assert ds.shape == shape and ds.train.dtype == torch.float32 and not ds.has_density
    assert len(ds.train) + len(ds.test) == n_total and len(ds.test) == round(0.3 * n_total)
    assert ds.labels_train.dtype == torch.int64 and ds.num_classes == classes
    # stratified: class proportions agree between the splits
    ptr = torch.bincount(ds.labels_train, minlength=classes) / len(ds.train)
    pte = torch.bincount(ds.labels_test, minlength=classes) / len(ds.test)
    assert (ptr - pte).abs().max() < 0.02
    if name.startswith("digits"):
        assert ds.discrete_levels == 17 and ds.train.min() == 0 and ds.train.max() == 16
        assert torch.equal(ds.train, ds.train.round())
    with pytest.raises(DataError):
        ds.log_prob(ds.test)
    with pytest.raises(DataError):
        ds.sample(3)
    sub = gd.load(name, n_train=40, n_test=20, seed=0)
    assert len(sub.train) == 40 and len(sub.test) == 20
    assert not torch.equal(gd.load(name, seed=1).train[:40], sub.train)


def test_digits_flat_matches_digits_and_breast_cancer_labels():
    a, b = gd.load("digits", seed=4), gd.load("digits_flat", seed=4)
    assert torch.equal(a.train.reshape(len(a.train), -1), b.train) and torch.equal(a.labels_test, b.labels_test)
    bc = gd.load("breast_cancer")
    assert int(torch.cat([bc.labels_train, bc.labels_test]).sum()) == 357  # 1 = benign (357), 0 = malignant (212)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"n_train": 0},
        {"n_train": -3},
        {"n_test": 1.5},
        {"n_train": True},
        {"seed": -1},
        {"seed": "x"},
        {"n_train": 5000},
        {"n_test": 600},
    ],
)
def test_bad_arguments(kwargs):
    with pytest.raises(DataError):
        gd.load("digits", **kwargs)


def test_unknown_name_lists_available():
    with pytest.raises(DataError, match="two_moons") as e:
        gd.load("two_moon")
    assert "did you mean 'two_moons'" in str(e.value) and "\n" not in str(e.value)
    with pytest.raises(DataError):
        gd.load(42)
    with pytest.raises(DataError, match="label_column"):
        gd.load("wine", label_column=0)


# ------------------------------------------------------------------------------------------- files
def test_npy_and_npz(tmp_path):
    x = np.random.default_rng(0).normal(size=(100, 3))
    np.save(tmp_path / "a.npy", x)
    ds = gd.load(tmp_path / "a.npy", seed=1)
    assert ds.train.shape == (70, 3) and ds.test.shape == (30, 3) and ds.labels_train is None and ds.name == "a.npy"
    assert torch.allclose(torch.cat([ds.train, ds.test]).sum(0), torch.from_numpy(x).float().sum(0), atol=1e-4)
    assert torch.equal(gd.load(str(tmp_path / "a.npy"), seed=1).train, ds.train)
    sub = gd.load(tmp_path / "a.npy", n_train=50, n_test=40)
    assert len(sub.train) == 50 and len(sub.test) == 40
    with pytest.raises(DataError, match="exceeds"):
        gd.load(tmp_path / "a.npy", n_train=80, n_test=30)
    y = np.repeat([0, 1], 50)
    np.savez(tmp_path / "b.npz", x=x.astype(np.uint8), y=y)
    ds = gd.load(tmp_path / "b.npz")
    assert ds.num_classes == 2 and ds.discrete_levels == 256 and int(ds.labels_test.sum()) == 15
    np.savez(tmp_path / "c.npz", data=x)
    with pytest.raises(DataError, match="'x'"):
        gd.load(tmp_path / "c.npz")


def test_csv(tmp_path):
    rows = ["x1,x2,kind"] + [f"{i * 0.5},{-i},{'cat' if i % 2 else 'dog'}" for i in range(20)]
    (tmp_path / "h.csv").write_text("\n".join(rows) + "\n")
    ds = gd.load(tmp_path / "h.csv", label_column="kind")
    assert ds.shape == (2,) and len(ds.train) + len(ds.test) == 20 and ds.num_classes == 2
    assert torch.equal(gd.load(tmp_path / "h.csv", label_column=2).labels_test, ds.labels_test)
    x, y, _ = read_data(tmp_path / "h.csv", label_column=-1)
    assert x.shape == (20, 2) and x[3, 0] == 1.5 and list(y[:2]) == [1, 0]
    (tmp_path / "n.csv").write_text("1,2,0\n3,4,1\n5,6,1\n7,8,0\n")
    x, y, _ = read_data(tmp_path / "n.csv", label_column=2)
    assert x.tolist()[0] == [1.0, 2.0] and y.tolist() == [0, 1, 1, 0]
    assert read_data(tmp_path / "n.csv")[0].shape == (4, 3)
    (tmp_path / "m.csv").write_text("1,2\n,4\n5,nan\n")
    x, _, _ = read_data(tmp_path / "m.csv", allow_nan=True)  # for imputation: missing cells stay NaN
    assert np.isnan(x).sum() == 2
    with pytest.raises(DataError, match="line 2, column 1 is empty"):
        gd.load(tmp_path / "m.csv")
    with pytest.raises(DataError, match="not found"):
        gd.load(tmp_path / "h.csv", label_column="nope")


@pytest.mark.parametrize("mode,channels", [("L", 1), ("RGB", 3)])
def test_png_folder(tmp_path, mode, channels):
    from PIL import Image

    rng = np.random.default_rng(0)
    for cls in ("ants", "bees"):
        (tmp_path / cls).mkdir()
        for i in range(5):
            arr = rng.integers(0, 256, size=(6, 4) if mode == "L" else (6, 4, 3), dtype=np.uint8)
            Image.fromarray(arr, mode=mode).save(tmp_path / cls / f"{i}.png")
    ds = gd.load(tmp_path)
    assert ds.shape == (channels, 6, 4) and ds.discrete_levels == 256 and ds.num_classes == 2
    allx = torch.cat([ds.train, ds.test])
    assert allx.dtype == torch.float32 and allx.max() <= 255 and allx.min() >= 0 and torch.equal(allx, allx.round())
    x, y, _ = read_data(tmp_path)
    first = np.asarray(Image.open(tmp_path / "ants" / "0.png"), dtype=np.float32)
    assert (
        np.array_equal(x[0], first[None] if mode == "L" else first.transpose(2, 0, 1))
        and y.tolist() == [0] * 5 + [1] * 5
    )


def _bad_files(tmp_path):
    from PIL import Image

    (tmp_path / "s.csv").write_text("a,b\n1,2\n3,oops\n")
    np.save(tmp_path / "nan.npy", np.array([[1.0, np.nan], [2.0, 3.0]]))
    (tmp_path / "empty.npy").write_bytes(b"")
    np.save(tmp_path / "zero.npy", np.zeros((0, 3)))
    np.save(tmp_path / "flat.npy", np.arange(5.0))
    (tmp_path / "d.xyz").write_text("1,2\n")
    (tmp_path / "ragged.csv").write_text("1,2\n3\n")
    (tmp_path / "blank.csv").write_text("\n\n")
    (tmp_path / "imgs").mkdir()
    Image.fromarray(np.zeros((4, 4), np.uint8)).save(tmp_path / "imgs" / "a.png")
    Image.fromarray(np.zeros((5, 4), np.uint8)).save(tmp_path / "imgs" / "b.png")
    (tmp_path / "none").mkdir()
    return {
        "missing.npy": "not found",
        # a text cell in a column of numbers: the table reader names the column and both lines
        "s.csv": r"column 'b' mixes numbers and text \(line 2: '2', line 3: 'oops'\)",
        "nan.npy": "NaN",
        "empty.npy": "empty",
        "zero.npy": "empty",
        "flat.npy": "at least 2 dimensions",
        "d.xyz": "unsupported file type '.xyz'",
        "ragged.csv": "line 2 has 1 fields",
        "blank.csv": "empty",
        "imgs": "differ in size: a.png is 4x4, b.png is 4x5",
        "none": "no PNG images",
    }


def test_bad_files_raise_clear_errors(tmp_path):
    for fname, pattern in _bad_files(tmp_path).items():
        with pytest.raises(DataError, match=pattern) as e:
            gd.load(tmp_path / fname)
        assert "\n" not in str(e.value), fname
    with pytest.raises(DataError, match="label_column applies only to .csv"):
        gd.load(tmp_path / "nan.npy", label_column=0)
