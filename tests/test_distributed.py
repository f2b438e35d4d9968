"""Multi-process data-parallel training under torchrun (gloo on CPU): 2 processes with batch B give the weights
of 1 process with batch 2B (to 1e-5 after 20 steps) for a family whose loss is a mean over samples; families
with their own update (GAN) or per-process randomness still run; more processes than rows is refused; the
sharded likelihood of uneven shards gathers every row. Launched with ``torchrun --standalone`` (own port)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

import genlab

pytestmark = pytest.mark.slow

COMMON = ["--data", "eight_gaussians", "--steps", "20", "--quiet", "--seed", "3"]
TINY_FLOW = ["--set", "transforms=2", "--set", "hidden_features=16", "--set", "dropout=0"]


def env():
    return {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(Path(genlab.__file__).parents[1])}


def torchrun(nproc: int, *args, check=True):
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={nproc}",
           "-m", "genlab.cli", *map(str, args)]
    r = subprocess.run(cmd, capture_output=True, text=True, env=env(), timeout=600)
    if check:
        assert r.returncode == 0, r.stderr[-3000:]
    return r


def single(*args):
    r = subprocess.run([sys.executable, "-m", "genlab.cli", *map(str, args)], capture_output=True, text=True,
                       env=env(), timeout=600)
    assert r.returncode == 0, r.stderr
    return r


@pytest.mark.parametrize("model, extra", [("realnvp", TINY_FLOW), ("made", ["--set", "hidden_features=16", "--set", "dropout=0"])])
def test_two_processes_equal_one_process_with_twice_the_batch(tmp_path, model, extra):
    one, two = tmp_path / "one", tmp_path / "two"
    single("train", model, *COMMON, *extra, "--batch-size", 64, "--out", one)
    torchrun(2, "train", model, *COMMON, *extra, "--batch-size", 32, "--out", two)
    a, b = load_file(str(one / "model.safetensors")), load_file(str(two / "model.safetensors"))
    assert a.keys() == b.keys()
    for k in a:
        torch.testing.assert_close(b[k], a[k], atol=1e-5, rtol=0, msg=k)
    assert not any(p.name.startswith(".pending") for p in two.iterdir())


@pytest.mark.parametrize("model, extra", [("gan", ["--set", "hidden=16"]), ("vp_sde", ["--set", "hidden=16"]),
                                          ("vae", ["--set", "hidden=8", "--set", "val_every=5"])])
def test_other_families_run_under_two_processes(tmp_path, model, extra):
    out = tmp_path / "run"
    torchrun(2, "train", model, *COMMON, *extra, "--batch-size", 16, "--checkpoint-every", 10, "--out", out)
    m = genlab.load(out)
    assert all(torch.isfinite(p).all() for p in m.parameters())


def test_two_process_run_resumes(tmp_path):
    ref, out = tmp_path / "ref", tmp_path / "run"
    torchrun(2, "train", "realnvp", *COMMON, *TINY_FLOW, "--batch-size", 16, "--out", ref)
    args = ["train", "realnvp", "--data", "eight_gaussians", "--quiet", "--seed", "3", *TINY_FLOW, "--batch-size", 16]
    torchrun(2, *args, "--steps", 10, "--out", out)
    torchrun(2, *args, "--steps", 20, "--out", out, "--resume")
    a, b = load_file(str(ref / "model.safetensors")), load_file(str(out / "model.safetensors"))
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_more_processes_than_rows_is_refused(tmp_path):
    np.save(tmp_path / "two.npy", np.random.default_rng(0).normal(size=(2, 2)))  # one training row
    r = torchrun(2, "train", "realnvp", "--data", tmp_path / "two.npy", "--steps", 5, "--out", tmp_path / "run",
                 check=False)
    assert r.returncode != 0
    lines = [ln for ln in r.stderr.splitlines() if ln.startswith("genlab: error:")]
    assert lines and all("2 processes need at least 2 training rows" in ln for ln in lines), r.stderr[-2000:]
    assert not (tmp_path / "run" / "model.safetensors").exists()


SHARDED = r'''
import sys, torch, genlab
from genlab.training import distributed as dist
dist.init_from_env()
m = genlab.create("gmm", (2,), n_components=2).fit(torch.randn(50, 2, generator=torch.Generator().manual_seed(0)))
x = torch.randn(7, 2, generator=torch.Generator().manual_seed(1))  # 7 rows over 2 processes: uneven shards
lp = dist.sharded_log_prob(m, x)
assert lp.shape == (7,) and torch.allclose(lp, m.log_prob(x)), lp
dist.shutdown()
'''


def test_sharded_log_prob_gathers_uneven_shards(tmp_path):
    script = tmp_path / "sharded.py"
    script.write_text(SHARDED)
    r = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
                        str(script)], capture_output=True, text=True, env=env(), timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
