"""The defaults for continuous data of the diffusion families (issue 23): the noise floor from the spacing of the
training rows, checked on held-out training rows, the held-out bound of early stopping, and old checkpoints."""

from __future__ import annotations

import json
import math

import pytest
import torch

import genlab
from genlab.checkpoint import LEGACY_CONFIG, VERSION
from genlab.families._floor import bound_loss, row_spacing, settle_floor
from genlab.rng import make_generator
from genlab.training import TrainSpec
from genlab.training.early import validation_split

TINY = {"hidden": 32, "depth": 1, "emb_dim": 16}


def test_row_spacing_of_a_lattice_is_its_step_per_dimension():
    """Rows on a square lattice of step 0.5 in 3-D: every nearest other row is 0.5 away, i.e. 0.5 / sqrt(3) per
    dimension; a seeded subset of a large lattice (the cap) gives the same."""
    g = torch.arange(6, dtype=torch.float64) * 0.5
    z = torch.cartesian_prod(g, g, g)
    assert row_spacing(z, make_generator(0)) == pytest.approx(0.5 / math.sqrt(3))
    wide = torch.cartesian_prod(*(torch.arange(16, dtype=torch.float64),) * 3) * 0.5  # 4,096 rows, cap 2,048
    assert row_spacing(wide, make_generator(0)) >= 0.5 / math.sqrt(3) - 1e-12


def test_bound_loss_known_answers_for_a_point_mass():
    """Data = the single point 0. Its exact denoiser D = 0 scores 0; a denoiser that returns its input (no denoising)
    has |D - x_0|^2 / sigma^2 = |n|^2, so its bound is log(hi / lo) E|n|^2 / D = log(hi / lo) per dimension."""
    z = torch.zeros(64, 16)
    exact = bound_loss(lambda x, s, y: torch.zeros_like(x), z, None, 0.1, 10.0, make_generator(0))
    assert exact.shape == (64,) and float(exact.abs().max()) == 0.0
    lazy = bound_loss(lambda x, s, y: x, z, None, 0.1, 10.0, make_generator(0))
    assert float(lazy.mean()) == pytest.approx(math.log(100.0), rel=0.03)


def test_the_floor_is_kept_on_sparse_rows_and_refused_where_it_blurs_held_out_rows():
    """On a few hundred 2-D rows a candidate of 30x the spacing (~0.15 standardised, 3x the clusters' width) blurs two tight clusters: the
    held-out rows score better from edm's own smallest level, so the fit refuses it; with early stopping off there is
    no held-out check and the candidate stands. The default candidate on 2-D rows this dense is below edm's own
    smallest level (no floor), and such a fit trains its whole budget (patience=None: early stopping only with a
    floor candidate)."""
    g = make_generator(0)
    x = torch.cat([torch.randn(150, 2, generator=g) * 0.05 - 1, torch.randn(150, 2, generator=g) * 0.05 + 1])
    refused = genlab.create("edm", (2,), noise_floor=30.0, val_every=50, **TINY)
    refused.fit(x, steps=400, progress=False)
    assert refused.sigma_floor == 0.0 and refused.history[-1]["best_val_step"] > 0
    kept = genlab.create("edm", (2,), noise_floor=30.0, patience=0, **TINY).fit(x, steps=20, progress=False)
    assert kept.sigma_floor > 0.1
    dense = genlab.create("edm", (2,), **TINY).fit(x, steps=20, progress=False)
    assert dense.sigma_floor == 0.0 and "best_val_step" not in dense.history[-1]  # no floor, no early stopping


def test_settle_floor_reads_only_the_held_out_training_rows():
    """The floor is judged on the loop's own held-out rows (a seeded split of the training rows): a model whose
    log-density is high only on those rows prefers whatever the held-out rows favour, and rows outside the training
    data are never read."""
    z = torch.randn(40, 3, generator=make_generator(1))
    spec = TrainSpec(steps=1, seed=3, patience=5, val_fraction=0.25)
    held = validation_split(len(z), spec.val_fraction, spec.seed)[1]
    seen = []

    class Probe:
        likelihood, device, training = "exact", torch.device("cpu"), False
        sigma_floor = 0.0

        def eval(self):
            pass

        def train(self, mode=True):
            pass

        def _log_prob(self, x, y, *, generator):
            seen.append(x.clone())
            return torch.full((len(x),), 1.0 if self.sigma_floor > 0 else 0.0)

    assert settle_floor(Probe(), z, None, spec, 0.5) == 0.5
    assert all(torch.equal(s, z[held]) for s in seen) and len(seen) == 2


def test_checkpoints_before_format_6_keep_the_old_likelihood(tmp_path):
    """A diffusion checkpoint written before the noise floor existed (no "noise_floor" field, no "sigma_floor" in
    its extra state) loads with noise_floor = 0 and reads its likelihood from the family's own smallest level."""
    assert VERSION >= 6 and LEGACY_CONFIG[6] == {"noise_floor": 0.0, "floor_level_shift": 0.0}
    x = torch.randn(300, 2, generator=make_generator(2)) * 0.3
    m = genlab.create("edm", (2,), noise_floor=30.0, patience=0, **TINY).fit(x, steps=20, progress=False)
    assert m.sigma_floor > 0
    m.save(tmp_path / "new")
    again = genlab.load(tmp_path / "new")
    assert again.sigma_floor == m.sigma_floor
    assert torch.allclose(again.log_prob(x[:8], seed=0), m.log_prob(x[:8], seed=0))
    m.save(tmp_path / "old")
    (tmp_path / "old" / "manifest.json").unlink(missing_ok=True)
    meta = json.loads((tmp_path / "old" / "config.json").read_text())
    meta["version"] = 5
    meta["config"].pop("noise_floor")
    meta["extra"].pop("sigma_floor")
    (tmp_path / "old" / "config.json").write_text(json.dumps(meta))
    old = genlab.load(tmp_path / "old")
    assert old.config.noise_floor == 0.0 and old.sigma_floor == 0.0
    assert old.likelihood_sigma_min() == old.sigma_range()[0]
