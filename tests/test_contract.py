"""Every registered model goes through fit -> sample -> log_prob -> impute -> save -> load."""

from __future__ import annotations

import math

import pytest
import torch

import genlab
from genlab import registry
from genlab.model import NeuralConfig

# Each family declares tiny but real settings next to its class: ``smoke = {"fit": ..., "sample": ..., "impute": ...}``.


def smoke(name: str, what: str) -> dict:
    """The ``what`` ("fit", "sample" or "impute") settings that model ``name`` declares for this test."""
    return dict(registry.get(name).smoke.get(what, {}))


@pytest.mark.parametrize("name", genlab.models.names())
def test_smoke_settings_are_declared(name):
    """A model trained by the shared loop declares its smoke fit steps (else the contract test runs its defaults)."""
    cls = registry.get(name)
    assert set(cls.smoke) <= {"fit", "sample", "impute"}, cls.smoke
    if issubclass(cls.Config, NeuralConfig):
        assert isinstance(smoke(name, "fit").get("steps"), int), f"{cls.__name__}.smoke needs {{'fit': {{'steps': N}}}}"


@pytest.fixture(scope="module")
def data3d():
    g = torch.Generator().manual_seed(1)
    return torch.randn(300, 3, generator=g) * torch.tensor([1.0, 2.0, 0.5]) + torch.tensor([0.0, 5.0, -1.0])


@pytest.mark.parametrize("name", genlab.models.for_kind("vectors"))
def test_contract(name, data3d, tmp_path):
    m = genlab.create(name, (3,))
    assert m.likelihood in ("exact", "bound", "estimate", "none")
    assert m.fit(data3d, batch_size=64, seed=0, progress=False, **smoke(name, "fit")) is m
    assert isinstance(m.history, list) and len(m.history) >= 1

    s = m.sample(7, seed=0, **smoke(name, "sample"))
    assert s.shape == (7, 3) and s.dtype == torch.float32 and torch.isfinite(s).all()
    s2 = m.sample(7, seed=0, **smoke(name, "sample"))
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
    filled = m.impute(xm, mask, seed=0, **smoke(name, "impute"))
    assert filled.shape == xm.shape and torch.isfinite(filled).all()
    assert torch.equal(filled[mask], xm[mask]), "observed entries must be kept exactly"

    m.save(tmp_path / "run")
    assert (tmp_path / "run" / "model.safetensors").is_file() and (tmp_path / "run" / "config.json").is_file()
    m2 = genlab.load(tmp_path / "run")
    assert type(m2) is type(m) and m2.shape == (3,) and m2.likelihood == m.likelihood
    assert torch.allclose(m2.sample(7, seed=0, **smoke(name, "sample")), s, atol=1e-5)
    if m.likelihood != "none":
        assert torch.allclose(m2.log_prob(x, seed=0), lp, atol=1e-4)


@pytest.mark.parametrize("name", genlab.models.for_kind("images"))
def test_contract_images(name, tmp_path):
    """Image-shaped data (C, H, W) works through the same interface (models see flattened vectors)."""
    g = torch.Generator().manual_seed(2)
    x = torch.rand(64, 1, 2, 2, generator=g) * 4
    m = genlab.create(name, (1, 2, 2)).fit(x, batch_size=32, progress=False, **smoke(name, "fit"))
    s = m.sample(3, seed=1, **smoke(name, "sample"))
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


# ---------------------------------------------------------------------------------------------- determinism
def _untouched(call):
    """Run ``call()`` and check that it neither changed (nor, by the equality of results below, read) the global RNG."""
    before = torch.get_rng_state()
    out = call()
    assert torch.equal(torch.get_rng_state(), before), "the call changed the caller's global torch RNG"
    return out


def _everything(name: str, x: torch.Tensor, y: torch.Tensor | None, global_seed: int) -> dict[str, torch.Tensor]:
    """fit/sample/log_prob/impute with seed=0 after seeding the global RNG with ``global_seed``; all results."""
    torch.manual_seed(global_seed)
    m = _untouched(lambda: genlab.create(name, (3,)))
    _untouched(lambda: m.fit(x, y, batch_size=64, seed=0, progress=False, **smoke(name, "fit")))
    out = {f"param:{k}": v.detach().clone() for k, v in m.state_dict().items()}
    yl = None if y is None else y[:7]
    out["sample"] = _untouched(lambda: m.sample(7, y=yl, seed=0, **smoke(name, "sample")))
    if m.likelihood != "none":
        out["log_prob"] = _untouched(lambda: m.log_prob(x[:5], y=None if y is None else y[:5], seed=0))
    xm = x[:4].clone()
    xm[:, 1] = float("nan")
    out["impute"] = _untouched(lambda: m.impute(xm, seed=0, **smoke(name, "impute")))
    return out


def _assert_same(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for k in a:
        torch.testing.assert_close(a[k], b[k], rtol=0, atol=0, equal_nan=True,
                                   msg=lambda m, k=k: f"{k} depends on the global RNG state: {m}")


@pytest.mark.parametrize("name", genlab.models.for_kind("vectors"))
def test_results_depend_only_on_seed(name, data3d):
    """With seed=0, fit (weights), sample, log_prob and impute give identical tensors whatever the global RNG state,
    and no call changes the caller's global RNG."""
    _assert_same(_everything(name, data3d, None, 1), _everything(name, data3d, None, 2))


@pytest.mark.parametrize("name", [n for n in genlab.models.names() if registry.get(n).conditional])
def test_conditional_fit_depends_only_on_seed(name, data3d):
    """A conditional fit builds its label-sized networks from the fit seed, not from the global RNG."""
    y = (data3d[:, 0] > 0).long()
    _assert_same(_everything(name, data3d, y, 1), _everything(name, data3d, y, 2))
