"""Devices (genlab.device): resolution, unavailable devices, device="cpu" equal to the default bit for bit, the
model's device after fit / save / load, results on the CPU, bf16 autocast; CUDA round trips where a GPU exists."""

from __future__ import annotations

import pytest
import torch
from click.testing import CliRunner

import genlab
from genlab.cli import cli
from genlab.device import autocast, check_precision, resolve_device
from genlab.errors import ConfigError
from genlab.rng import make_generator, randint, randn, randperm, target_of
from genlab.training.distributed import ShardedSource

CUDA = torch.cuda.is_available()
needs_cuda = pytest.mark.skipif(not CUDA, reason="needs a CUDA device")
MPS = bool(getattr(torch.backends, "mps", None) and torch.backends.mps.is_available())
MISSING = "cuda:99"  # unavailable on every machine (CUDA or not)

# tiny fits of three kinds of family: a flow (exact), a score model (ODE likelihood), a classical GMM
FITS = {"realnvp": ({}, {"steps": 15}), "vp_sde": ({}, {"steps": 15}), "gmm": ({"n_components": 3}, {})}
OPTS = {"vp_sde": {"sample": {"steps": 8}, "log_prob": {"rtol": 1e-3, "atol": 1e-3}, "impute": {"steps": 8}}}


def _data(n=256):
    g = torch.Generator().manual_seed(1)
    return torch.randn(n, 2, generator=g) @ torch.tensor([[1.0, 0.0], [0.7, 0.5]]) + torch.tensor([1.0, -1.0])


def _fit(name, **kw):
    config, fit = FITS[name]
    return genlab.create(name, (2,), **config).fit(_data(), seed=3, progress=False, **fit, **kw)


def _gappy():
    x = _data(6)
    x[::2, 0] = float("nan")
    return x


def _calls(m, name, **kw):
    """sample, log_prob and impute of ``m`` with the test's options (and ``kw``, e.g. device=)."""
    o = OPTS.get(name, {})
    return (m.sample(7, seed=5, **o.get("sample", {}), **kw), m.log_prob(_data(9), seed=5, **o.get("log_prob", {}), **kw),
            m.impute(_gappy(), seed=5, **o.get("impute", {}), **kw))


# ----------------------------------------------------------------- resolution
def test_auto_picks_cuda_then_mps_then_cpu():
    expected = "cuda" if CUDA else ("mps" if MPS else "cpu")
    assert resolve_device("auto").type == expected
    assert resolve_device(" AUTO ").type == expected


def test_names_and_torch_devices_resolve():
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device("CPU") == torch.device("cpu")
    assert resolve_device(torch.device("cpu")) == torch.device("cpu")


@pytest.mark.parametrize("bad", [MISSING, "gpu", "meta", "cuda:x", 3, None])
def test_bad_or_unavailable_device_is_one_line_config_error(bad):
    with pytest.raises(ConfigError) as info:
        resolve_device(bad)
    assert "\n" not in str(info.value) and "device" in str(info.value)


def test_cuda_resolves_or_says_why():
    if CUDA:
        assert resolve_device("cuda") == torch.device("cuda", torch.cuda.current_device())
        return
    with pytest.raises(ConfigError, match=r"device 'cuda' is not available on this machine \("):
        resolve_device("cuda")


def test_precision_checks():
    assert check_precision("fp32", torch.device("cpu")) == "fp32"
    assert check_precision("bf16", torch.device("cpu")) == "bf16"  # CPU autocast: allowed
    for bad in ("fp16", "bfloat16", None):
        with pytest.raises(ConfigError, match="precision"):
            check_precision(bad, torch.device("cpu"))
    with pytest.raises(ConfigError, match="bf16"):
        check_precision("bf16", torch.device("mps"))
    with autocast(torch.device("cpu"), "bf16"):
        assert torch.nn.functional.linear(torch.ones(2, 3), torch.ones(4, 3)).dtype == torch.bfloat16
    with autocast(torch.device("cpu"), "fp32"):
        assert torch.nn.functional.linear(torch.ones(2, 3), torch.ones(4, 3)).dtype == torch.float32


# ----------------------------------------------------------------- random draws keep their meaning
def test_targeted_generator_draws_the_same_numbers_and_puts_them_on_its_target():
    plain, targeted = make_generator(11, 2), make_generator(11, 2, target="cpu")
    assert target_of(plain) is None and target_of(targeted) == torch.device("cpu")
    a, b = randn((4, 3), plain), randn((4, 3), targeted)
    assert torch.equal(a, b) and b.device.type == "cpu"
    assert torch.equal(randint(0, 9, (5,), plain), randint(0, 9, (5,), targeted))
    assert torch.equal(randperm(7, plain), randperm(7, targeted))
    sharded = ShardedSource(make_generator(11, 2, target="cpu"), 2, 1)
    assert torch.equal(sharded.randn((2, 3)), randn((4, 3), make_generator(11, 2))[2:])
    with pytest.raises(ValueError):
        make_generator(0, device="cpu", target="cpu")


# ----------------------------------------------------------------- the model contract
@pytest.mark.parametrize("name", sorted(FITS))
def test_device_cpu_is_bit_identical_to_the_default(name):
    a, b = _fit(name), _fit(name, device="cpu")
    assert a.device == b.device == torch.device("cpu")
    sa, sb = a.state_dict(), b.state_dict()
    assert sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)
    for ra, rb in zip(_calls(a, name), _calls(b, name, device="cpu"), strict=True):
        assert rb.device.type == "cpu"
        assert torch.equal(ra, rb)


def test_every_hook_gets_a_generator_aimed_at_the_model_device(monkeypatch):
    m = genlab.create("vp_sde", (2,))
    seen = []

    def spy(hook):
        def wrapped(*args, generator, **kw):
            seen.append((hook.__name__, target_of(generator), args[0].device if torch.is_tensor(args[0]) else None))
            return hook(*args, generator=generator, **kw)
        wrapped.__signature__ = __import__("inspect").signature(hook)
        return wrapped

    for name in ("loss", "_sample", "_log_prob", "_impute"):
        monkeypatch.setattr(m, name, spy(getattr(m, name)))
    m.fit(_data(), steps=2, progress=False, device="cpu")
    m.sample(3, steps=2, device="cpu")
    m.log_prob(_data(3), device="cpu")
    m.impute(_gappy(), steps=2, device="cpu")
    assert {h for h, _, _ in seen} == {"loss", "_sample", "_log_prob", "_impute"}
    assert all(t == m.device and d in (None, m.device) for _, t, d in seen), seen


def test_fit_rejects_unavailable_device_and_bad_precision_before_training():
    m = genlab.create("realnvp", (2,))
    with pytest.raises(ConfigError, match="not available"):
        m.fit(_data(), steps=2, progress=False, device=MISSING)
    with pytest.raises(ConfigError, match="precision"):
        m.fit(_data(), steps=2, progress=False, precision="fp16")
    assert not m.fitted and m.device.type == "cpu"


def test_calls_reject_unavailable_device():
    m = _fit("gmm")
    for call in (lambda: m.sample(3, device=MISSING), lambda: m.log_prob(_data(3), device=MISSING),
                 lambda: m.impute(_gappy(), device=MISSING), lambda: m.grad_log_prob(_data(3), device=MISSING)):
        with pytest.raises(ConfigError, match="not available"):
            call()
    assert m.device.type == "cpu"


def test_device_survives_save_and_load(tmp_path):
    m = _fit("realnvp", device="cpu")
    m.save(tmp_path / "run")
    for loaded in (genlab.load(tmp_path / "run"), genlab.load(tmp_path / "run", device="cpu")):
        assert loaded.device == torch.device("cpu")
        assert all(t.device.type == "cpu" for t in loaded.state_dict().values())
        assert torch.equal(loaded.log_prob(_data(5)), m.log_prob(_data(5)))
    with pytest.raises(ConfigError, match="not available"):
        genlab.load(tmp_path / "run", device=MISSING)


def test_raw_weights_travel_with_the_model():
    m = genlab.create("realnvp", (2,), ema=0.9).fit(_data(), steps=5, progress=False)
    assert m.raw_weights
    m.double()  # any nn.Module conversion (to(device) too) reaches the raw weights
    assert all(v.dtype == torch.float64 for v in m.raw_weights.values())


def test_bf16_training_and_sampling_on_cpu():
    m = genlab.create("vp_sde", (2,)).fit(_data(), steps=10, seed=0, progress=False, precision="bf16")
    ref = genlab.create("vp_sde", (2,)).fit(_data(), steps=10, seed=0, progress=False)
    losses = [r["loss"] for r in m.history]
    assert all(torch.isfinite(torch.tensor(losses)))
    assert losses != [r["loss"] for r in ref.history]  # the forward passes really ran in bfloat16
    x = m.sample(16, seed=1, steps=8, precision="bf16")
    assert x.dtype == torch.float32 and x.device.type == "cpu" and torch.isfinite(x).all()
    with pytest.raises(ConfigError, match="precision"):
        m.sample(4, precision="half")


# ----------------------------------------------------------------- the command line
def _assert_one_line_exit_2(result, word):
    assert result.exit_code == 2, (result.exit_code, result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("genlab: error: ") and word in lines[0], result.stderr
    assert "Traceback" not in result.stderr


def test_cli_device(tmp_path):
    invoke = CliRunner().invoke
    out = tmp_path / "run"
    r = invoke(cli, ["train", "gmm", "--data", "eight_gaussians", "--steps", "1", "--out", str(out), "--quiet",
                     "--set", "n_components=4", "--device", MISSING])
    _assert_one_line_exit_2(r, "not available")
    assert not out.exists()
    r = invoke(cli, ["train", "gmm", "--data", "eight_gaussians", "--steps", "1", "--out", str(out), "--quiet",
                     "--set", "n_components=4", "--device", "cpu"])
    assert r.exit_code == 0, r.stderr
    gaps = tmp_path / "gaps.npy"
    import numpy as np

    np.save(gaps, np.array([[np.nan, 1.0], [0.5, np.nan]], dtype=np.float32))
    for args in (["sample", str(out), "-n", "4", "--out", str(tmp_path / "s.npy")],
                 ["eval", str(out), "--n-samples", "10", "--n-test", "20", "--json"],
                 ["impute", str(out), "--input", str(gaps), "--out", str(tmp_path / "f.npy")]):
        _assert_one_line_exit_2(invoke(cli, [*args, "--device", MISSING]), "not available")
        _assert_one_line_exit_2(invoke(cli, [*args, "--device", "tpu"]), "device")
        r = invoke(cli, [*args, "--device", "auto"])
        assert r.exit_code == 0, r.stderr
    r = invoke(cli, ["train", "gmm", "--data", "eight_gaussians", "--steps", "1", "--out", str(out), "--force",
                     "--precision", "fp16"])
    assert r.exit_code == 2 and "fp16" in r.stderr


# ----------------------------------------------------------------- CUDA (run where a GPU exists)
@needs_cuda
@pytest.mark.parametrize("name", sorted(FITS))
def test_cuda_round_trip(name, tmp_path):
    m = _fit(name, device="cuda")
    assert m.device.type == "cuda"
    assert all(t.device.type == "cuda" for t in m.state_dict().values())
    for r in _calls(m, name):
        assert r.device.type == "cpu" and torch.isfinite(r).all()
    m.save(tmp_path / "run")
    loaded = genlab.load(tmp_path / "run")
    assert loaded.device.type == "cpu"
    assert genlab.load(tmp_path / "run", device="cuda").device.type == "cuda"


@needs_cuda
@pytest.mark.parametrize("name", ["realnvp", "vp_sde"])
def test_cpu_and_cuda_agree(name, tmp_path):
    m = _fit(name)
    m.save(tmp_path / "run")
    g = genlab.load(tmp_path / "run", device="cuda")
    opts = OPTS.get(name, {})
    x = _data(64)
    lp_cpu, lp_gpu = m.log_prob(x, seed=2, **opts.get("log_prob", {})), g.log_prob(x, seed=2, **opts.get("log_prob", {}))
    torch.testing.assert_close(lp_gpu, lp_cpu, rtol=1e-3, atol=1e-3)
    if name != "realnvp":  # zuko's sample() draws from the device's global RNG (docs/training.md, Devices)
        s_cpu, s_gpu = m.sample(64, seed=2, **opts.get("sample", {})), g.sample(64, seed=2, **opts.get("sample", {}))
        torch.testing.assert_close(s_gpu, s_cpu, rtol=1e-3, atol=1e-3)  # the same seed: the same noise on both
    # training on the GPU follows the CPU's run from the same seed (same batches, same noise)
    a, b = _fit(name), _fit(name, device="cuda")
    first_a, first_b = [r["loss"] for r in a.history[:3]], [r["loss"] for r in b.history[:3]]
    torch.testing.assert_close(torch.tensor(first_b), torch.tensor(first_a), rtol=1e-3, atol=1e-3)


@needs_cuda
def test_cuda_bf16_fit():
    if not torch.cuda.is_bf16_supported():
        with pytest.raises(ConfigError, match="bf16"):
            genlab.create("vp_sde", (2,)).fit(_data(), steps=1, progress=False, device="cuda", precision="bf16")
        return
    m = genlab.create("vp_sde", (2,)).fit(_data(), steps=10, progress=False, device="cuda", precision="bf16")
    assert all(torch.isfinite(torch.tensor([r["loss"] for r in m.history])))
    assert torch.isfinite(m.sample(8, seed=0, steps=8, precision="bf16")).all()


# ----------------------------------------------------------------- benchmarks/gpu_check.py
def _gpu_check(tmp_path, *args):
    import os
    import subprocess
    import sys
    from pathlib import Path

    bench = Path(__file__).resolve().parents[1] / "benchmarks"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(bench.parent / "src"), os.environ.get("PYTHONPATH", "")])}
    return subprocess.run([sys.executable, str(bench / "gpu_check.py"), *args, "--out", str(tmp_path / "g.json")],
                          capture_output=True, text=True, cwd=bench, env=env, timeout=300)


def test_gpu_check_on_its_default_device(tmp_path):
    """Without CUDA: one line, exit 0, nothing written; with CUDA: the checks run (tiny)."""
    r = _gpu_check(tmp_path, "--budget", "0.2", "--configs", "edm-mlp", "--n-samples", "8", "--n-eval", "16",
                   "--n-agree", "4")
    assert r.returncode == 0, r.stderr
    if CUDA:
        assert (tmp_path / "g.json").exists()
        return
    assert r.stdout.strip().count("\n") == 0 and "CUDA is not available" in r.stdout
    assert not (tmp_path / "g.json").exists()


def test_gpu_check_runs_its_checks_at_tiny_scale(tmp_path):
    import json

    dev = "cuda" if CUDA else "cpu"
    r = _gpu_check(tmp_path, "--device", dev, "--budget", "0.2", "--configs", "edm-mlp", "--n-samples", "8",
                   "--n-eval", "16", "--n-agree", "4")
    assert r.returncode == 0, r.stderr
    result = json.loads((tmp_path / "g.json").read_text())
    assert [(row["config"], row["precision"]) for row in result["rows"]] == [("edm-mlp", "fp32"), ("edm-mlp", "bf16")]
    assert all(row["agree"] and row["steps"] >= 1 and row["samples_per_s"] > 0 for row in result["rows"])
    assert (tmp_path / "g.md").read_text().count("| edm-mlp |") == 2
