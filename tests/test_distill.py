"""genlab.distill and `genlab distill`: students of a flow/diffusion teacher, no data rows in their inputs, bad input."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import torch

import genlab
from genlab.cli import main

sys.path.insert(0, str(Path(__file__).parent))
from test_flow_matching import SIGMA, oracle  # noqa: E402


@pytest.fixture(scope="module")
def moons():
    return genlab.datasets.load("two_moons", n_train=400, n_test=200, seed=0)


@pytest.fixture(scope="module")
def vp_teacher(moons):
    return genlab.create("vp_sde", (2,)).fit(moons.train, steps=40, progress=False)


@pytest.mark.parametrize("to", ["consistency", "reflow"])
def test_student_inputs_hold_no_data_rows(to, moons, vp_teacher, monkeypatch):
    """The student trains on draws of the teacher's ODE only: no test row (and no training row) appears in them."""
    import genlab.families.consistency as cons
    import genlab.families.flow_matching as fm

    seen = []

    def spy(real):
        def wrapped(module, loss_fn, x, y, spec, **kw):
            seen.append(x.detach().clone())
            return real(module, loss_fn, x, y, spec, **kw)
        return wrapped

    monkeypatch.setattr(cons, "train", spy(cons.train))
    monkeypatch.setattr(fm, "train", spy(fm.train))
    student = genlab.distill(vp_teacher, to=to, steps=5, n_samples=300, seed=0)
    assert len(seen) == 1 and len(seen[0]) == 300
    rows = seen[0][:, :2]  # x_1 (reflow stores (x_1 | x_0) side by side)
    for data in (moons.test, moons.train):
        z = vp_teacher.normalizer(data)
        assert torch.cdist(rows, z).min() > 1e-6
    assert student.name == {"consistency": "consistency", "reflow": "rectified_flow"}[to]
    assert torch.equal(student.normalizer.mean, vp_teacher.normalizer.mean)


def test_reflow_of_an_exact_gaussian_flow_is_nearly_straight():
    """The ODE of Gaussian -> Gaussian is linear: the reflowed student's one step must land near the truth."""
    teacher = oracle()
    student = genlab.distill(teacher, to="reflow", steps=400, n_samples=2000, seed=0)
    assert student.rectified_k == 2
    x = student.sample(3000, seed=1, sampler="euler", steps=1)
    assert torch.allclose(torch.cov(x.T), SIGMA, atol=0.2)
    assert genlab.metrics.straightness(student, 500) < genlab.metrics.straightness(teacher, 500)


def test_consistency_distillation_of_an_exact_gaussian_flow():
    teacher = oracle()
    student = genlab.distill(teacher, to="consistency", steps=400, n_samples=2000, seed=0)
    assert student.config.sigma_max == pytest.approx(teacher.sigma_range()[1])
    x = student.sample(3000, seed=1)
    assert student.last_nfe == 1
    assert torch.allclose(torch.cov(x.T), SIGMA, atol=0.3)


@pytest.mark.parametrize("name", ["gmm", "gan", "consistency"])
def test_models_without_an_ode_cannot_teach(name):
    m = genlab.create(name, (2,))
    with pytest.raises(genlab.ConfigError) as err:
        genlab.distill(m, to="consistency", steps=1)
    msg = str(err.value)
    assert "\n" not in msg and "cannot teach" in msg and "flow_matching" in msg and "vp_sde" in msg
    assert "rectified_flow" in msg and "edm" in msg and "gmm" not in msg.split("can:")[1]


def test_bad_arguments(vp_teacher):
    with pytest.raises(genlab.ConfigError, match="to must be"):
        genlab.distill(vp_teacher, to="gan")
    with pytest.raises(genlab.ConfigError, match="not fitted"):
        genlab.distill(genlab.create("edm", (2,)), to="reflow", steps=1)
    with pytest.raises(genlab.ConfigError, match="steps"):
        genlab.distill(vp_teacher, to="reflow", steps=0)


def test_cli_distill(tmp_path, capsys):
    run = tmp_path / "fm"
    assert main(["train", "flow_matching", "--data", "two_moons", "--steps", "20", "--out", str(run), "--quiet"]) == 0
    out = tmp_path / "cd"
    assert main(["distill", str(run), "--to", "consistency", "--steps", "5", "--n-samples", "200", "--out", str(out),
                 "--quiet"]) == 0
    assert genlab.load(out).name == "consistency"
    assert main(["sample", str(out), "-n", "10", "--sampler", "multistep", "--steps", "2", "--out",
                 str(tmp_path / "s.npy"), "--quiet"]) == 0
    assert np.load(tmp_path / "s.npy").shape == (10, 2)
    rf = tmp_path / "rf"
    assert main(["distill", str(run), "--to", "reflow", "--time-budget", "1", "--n-samples", "200", "--out", str(rf),
                 "--quiet"]) == 0
    assert genlab.load(rf).name == "rectified_flow"
    capsys.readouterr()
    gmm = tmp_path / "gmm"
    assert main(["train", "gmm", "--data", "two_moons", "--steps", "1", "--out", str(gmm), "--quiet"]) == 0
    assert main(["distill", str(gmm), "--to", "reflow", "--steps", "1", "--out", str(tmp_path / "x")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("genlab: error:") and "cannot teach" in err and len(err.splitlines()) == 1
    assert main(["distill", str(run), "--to", "reflow", "--out", str(tmp_path / "y")]) == 2
