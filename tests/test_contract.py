"""Every registered model goes through fit -> sample -> log_prob -> impute -> save -> load."""

from __future__ import annotations

import math

import pytest
import torch

import genlab

# Tiny but real settings per model so the whole contract runs in seconds; unknown names get defaults.
FAST = {
    "ncsn": {"steps": 30},
    "ve_sde": {"steps": 30},
    "vp_sde": {"steps": 30},
    "subvp_sde": {"steps": 30},
    "made": {"steps": 30},
    "realnvp": {"steps": 30},
    "maf": {"steps": 30},
    "nsf": {"steps": 30},
    "cnf": {"steps": 5},
    "vae": {"steps": 30},
    "ebm": {"steps": 30},
    "gan": {"steps": 30},
    "flow_matching": {"steps": 30},
    "rectified_flow": {"steps": 30},
    "consistency": {"steps": 30},
}
SAMPLE_OPTS = {"flow_matching": {"steps": 8}, "rectified_flow": {"steps": 8}, "ncsn": {"steps": 20}, "ve_sde": {"steps": 20}, "vp_sde": {"steps": 20}, "subvp_sde": {"steps": 20}}
IMPUTE_OPTS = {"made": {"steps": 20}, "realnvp": {"steps": 20}, "maf": {"steps": 20}, "nsf": {"steps": 20},
               "cnf": {"steps": 3}, "flow_matching": {"steps": 6, "jumps": 2},
               "rectified_flow": {"steps": 6, "jumps": 2}, "consistency": {"steps": 3}, "ebm": {"steps": 20}, "vae": {"steps": 20}, "gan": {"steps": 20}}


@pytest.fixture(scope="module")
def data3d():
    g = torch.Generator().manual_seed(1)
    return torch.randn(300, 3, generator=g) * torch.tensor([1.0, 2.0, 0.5]) + torch.tensor([0.0, 5.0, -1.0])


@pytest.mark.parametrize("name", genlab.models.names())
def test_contract(name, data3d, tmp_path):
    steps = FAST.get(name, {}).get("steps")
    m = genlab.create(name, (3,))
    assert m.likelihood in ("exact", "bound", "estimate", "none")
    assert m.fit(data3d, steps=steps, batch_size=64, seed=0, progress=False) is m
    assert isinstance(m.history, list) and len(m.history) >= 1

    s = m.sample(7, seed=0, **SAMPLE_OPTS.get(name, {}))
    assert s.shape == (7, 3) and s.dtype == torch.float32 and torch.isfinite(s).all()
    s2 = m.sample(7, seed=0, **SAMPLE_OPTS.get(name, {}))
    assert torch.allclose(s, s2), "the same seed must give the same samples"

    x = data3d[:5].numpy()  # numpy accepted
    if m.likelihood == "none":
        with pytest.raises(genlab.GenlabError, match="likelihood"):
            m.log_prob(x)
    else:
        lp = m.log_prob(x, seed=0)
        assert lp.shape == (5,) and torch.isfinite(lp).all()

    xm = data3d[:4].clone()
    mask = torch.ones_like(xm, dtype=torch.bool)
    mask[:, 1] = False
    filled = m.impute(xm, mask, seed=0, **IMPUTE_OPTS.get(name, {}))
    assert filled.shape == xm.shape and torch.isfinite(filled).all()
    assert torch.equal(filled[mask], xm[mask]), "observed entries must be kept exactly"

    m.save(tmp_path / "run")
    assert (tmp_path / "run" / "model.safetensors").is_file() and (tmp_path / "run" / "config.json").is_file()
    m2 = genlab.load(tmp_path / "run")
    assert type(m2) is type(m) and m2.shape == (3,) and m2.likelihood == m.likelihood
    assert torch.allclose(m2.sample(7, seed=0, **SAMPLE_OPTS.get(name, {})), s, atol=1e-5)
    if m.likelihood != "none":
        assert torch.allclose(m2.log_prob(x, seed=0), lp, atol=1e-4)


@pytest.mark.parametrize("name", genlab.models.names())
def test_contract_images(name, tmp_path):
    """Image-shaped data (C, H, W) works through the same interface (models see flattened vectors)."""
    g = torch.Generator().manual_seed(2)
    x = torch.rand(64, 1, 2, 2, generator=g) * 4
    m = genlab.create(name, (1, 2, 2)).fit(x, steps=FAST.get(name, {}).get("steps", 5), batch_size=32, progress=False)
    s = m.sample(3, seed=1, **SAMPLE_OPTS.get(name, {}))
    assert s.shape == (3, 1, 2, 2)
    if m.likelihood != "none":
        assert m.log_prob(x[:3], seed=0).shape == (3,)


def test_standardisation_jacobian_is_in_log_prob():
    """Scaling the data by c shifts every log-density by -D log c (change of variables)."""
    g = torch.Generator().manual_seed(3)
    x = torch.randn(500, 2, generator=g)
    a = genlab.create("gmm", (2,), n_components=1).fit(x)
    b = genlab.create("gmm", (2,), n_components=1).fit(10 * x)
    assert torch.allclose(b.log_prob(10 * x[:10]), a.log_prob(x[:10]) - 2 * math.log(10), atol=1e-3)
