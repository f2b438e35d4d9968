"""Durable training: SIGKILL and resume gives the weights of an uninterrupted run bit for bit, for every registered
model with a training loss (the registry: a new family cannot escape); SIGINT commits a checkpoint and exits 130; a diverging run stops with one line and keeps its last good checkpoint; resume refuses
another model, another shape or a corrupted state; a commit killed at any point leaves the old or the new set."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

import genlab
from genlab import manifest
from registry_cases import data_name, dataset, tiny, tiny_args, trainable

TINY = ["--set", "transforms=2", "--set", "hidden_features=8", "--batch-size", "16", "--quiet"]


def genlab_cmd(*args):
    return [sys.executable, "-c", "import sys; from genlab.cli import main; sys.exit(main())", *map(str, args)]


def env():
    return {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(Path(genlab.__file__).parents[1])}


def train(out, *extra, steps=400, check=True):
    r = subprocess.run(genlab_cmd("train", "realnvp", "--data", "eight_gaussians", "--steps", steps, "--out", out,
                                  *TINY, *extra), capture_output=True, text=True, env=env(), timeout=300)
    if check:
        assert r.returncode == 0, r.stderr
    return r


def weights(run):
    return load_file(str(run / "model.safetensors"))


def equal(a: torch.Tensor, b: torch.Tensor) -> bool:
    """Bit-identical values, NaN equal to NaN (e.g. an EBM's log_Z before it is estimated)."""
    if a.is_floating_point() and b.is_floating_point() and a.shape == b.shape:
        return torch.equal(a.isnan(), b.isnan()) and torch.equal(a.nan_to_num(0.0), b.nan_to_num(0.0))
    return torch.equal(a, b)


def same(a, b):
    return a.keys() == b.keys() and all(equal(a[k], b[k]) for k in a)


def checkpoint_step(run) -> int:
    """The step of the resume state the run directory holds now (0 when none is committed yet)."""
    try:
        files = manifest.resolve(run)
        if files and "resume.json" in files:
            return json.loads(files["resume.json"][0].read_text())["step"]
    except (OSError, ValueError, genlab.errors.CheckpointError):
        pass
    return 0


def start_and_wait(out, *extra, steps=400, min_step=50):
    p = subprocess.Popen(genlab_cmd("train", "realnvp", "--data", "eight_gaussians", "--steps", steps, "--out", out,
                                    *TINY, *extra), env=env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 240
    while checkpoint_step(out) < min_step:
        assert p.poll() is None, p.communicate()
        assert time.time() < deadline
        time.sleep(0.02)
    return p


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    out = tmp_path_factory.mktemp("ref") / "run"
    train(out, "--checkpoint-every", 25)
    return out


def test_sigkill_then_resume_is_bit_identical(reference, tmp_path):
    out = tmp_path / "run"
    p = start_and_wait(out, "--checkpoint-every", 25)
    p.kill()
    p.wait()
    killed_at = checkpoint_step(out)
    assert p.returncode == -signal.SIGKILL and 0 < killed_at < 400  # killed mid-run, not after it
    r = train(out, "--checkpoint-every", 25, "--resume")
    assert r.returncode == 0
    assert same(weights(out), weights(reference))
    history = json.loads((out / "history.json").read_text())
    assert [h["step"] for h in history] == list(range(1, 401))


# the CLI, killed by SIGKILL right before it would commit the checkpoint of step KILL_AT: the run directory holds
# the checkpoint of step KILL_AT - EVERY, and the steps after it were done and lost
KILL_AT, EVERY, STEPS = 9, 3, 12
KILLED = f"""
import os, signal, sys
from genlab.cli import main, rundir
commit = rundir.RunWriter.checkpoint
def checkpoint(self, model, state):
    if state.step >= {KILL_AT}:
        os.kill(os.getpid(), signal.SIGKILL)
    commit(self, model, state)
rundir.RunWriter.checkpoint = checkpoint
sys.exit(main())
"""


def cli_args(name: str) -> list[str]:
    return ["train", name, "--data", data_name(name), "--steps", str(STEPS), "--checkpoint-every", str(EVERY),
            "--batch-size", "16", "--seed", "2", "--quiet", *tiny_args(name)]


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    """The uninterrupted CLI run of every trainable family, all in one process (one start-up)."""
    root = tmp_path_factory.mktemp("uninterrupted")
    runs = {name: [*cli_args(name), "--out", str(root / name)] for name in trainable()}
    code = f"import sys; from genlab.cli import main; sys.exit(max(main(a) for a in {list(runs.values())!r}))"
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env(), timeout=600)
    assert r.returncode == 0, r.stderr[-2000:]
    return root


@pytest.mark.slow
@pytest.mark.parametrize("name", trainable())
def test_every_family_resumes_bit_identically_after_sigkill(name, uninterrupted, tmp_path):
    """Every registered model with a training loss (defaults, tiny sizes, a data set of its kind), through the CLI: killed
    after step 9 with the checkpoint of step 6 committed, ``--resume`` gives the weights of an uninterrupted run."""
    args, ref, out = cli_args(name), uninterrupted / name, tmp_path / "run"
    cmd = genlab_cmd(*args, "--out", out)
    cmd[2] = KILLED
    r = subprocess.run(cmd, capture_output=True, text=True, env=env(), timeout=300)
    assert r.returncode == -signal.SIGKILL, r.stderr[-2000:]
    assert checkpoint_step(out) == KILL_AT - EVERY
    r = subprocess.run(genlab_cmd(*args, "--out", out, "--resume"), capture_output=True, text=True, env=env(),
                       timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    assert same(weights(out), weights(ref))
    assert [h["step"] for h in json.loads((out / "history.json").read_text())] == list(range(1, STEPS + 1))


def test_sigint_commits_a_checkpoint_and_exits_130(reference, tmp_path):
    out = tmp_path / "run"
    p = start_and_wait(out, "--checkpoint-every", 100, min_step=100)
    p.send_signal(signal.SIGINT)
    _, err = p.communicate(timeout=120)
    assert p.returncode == 130, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "interrupted at step" in lines[0] and "--resume" in lines[0]
    assert 100 <= checkpoint_step(out) < 400
    train(out, "--checkpoint-every", 100, "--resume")
    assert same(weights(out), weights(reference))


def test_second_writer_is_refused_while_the_first_runs(tmp_path):
    out = tmp_path / "run"
    p = start_and_wait(out, "--checkpoint-every", 10, steps=100000, min_step=10)
    try:
        r = train(out, "--resume", check=False)
        assert r.returncode == 2 and "in use by another process" in r.stderr and len(r.stderr.strip().splitlines()) == 1
    finally:
        p.kill()
        p.wait()
    # the lock died with the killed process: resuming now works (a short extension of the run)
    step = checkpoint_step(out)
    r = train(out, "--checkpoint-every", 10, "--resume", steps=step + 5)
    assert json.loads((out / "train.json").read_text())["steps"] == step + 5


def test_diverging_run_stops_with_one_line_and_keeps_the_last_checkpoint(tmp_path):
    out = tmp_path / "run"
    r = subprocess.run(genlab_cmd("train", "realnvp", "--data", "eight_gaussians", "--steps", 300, "--out", out,
                                  "--checkpoint-every", 1, "--lr", "1e6", *TINY), capture_output=True, text=True,
                       env=env(), timeout=300)
    assert r.returncode == 2, r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "diverged" in lines[0] and "last good checkpoint" in lines[0], lines
    model = genlab.load(out)  # the last good checkpoint is intact and finite
    assert all(torch.isfinite(p).all() for p in model.parameters())


@pytest.mark.parametrize("change, words", [
    (["--set", "transforms=3"], ["config"]),  # another model configuration
    (["--data", "gmm10"], ["shape"]),  # data of another shape
    (["--seed", "1"], ["seed"]),
    (["maf"], ["model", "realnvp", "maf"]),  # another model
])
def test_resume_of_another_run_is_refused(reference, tmp_path, change, words):
    import shutil

    out = tmp_path / "run"
    shutil.copytree(reference, out)
    before = {f.name: f.read_bytes() for f in out.iterdir() if f.is_file() and f.name != ".lock"}
    args = ["--data", "eight_gaussians", *TINY, "--resume", "--steps", 500]
    model = "realnvp"
    if "--data" in change:
        args = args[2:]
    if change == ["maf"]:
        model, change = "maf", []
    r = subprocess.run(genlab_cmd("train", model, "--out", out, *args, *change), capture_output=True, text=True,
                       env=env(), timeout=300)
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert all(w in r.stderr for w in words), r.stderr
    assert {f.name: f.read_bytes() for f in out.iterdir() if f.is_file() and f.name != ".lock"} == before  # nothing overwritten


@pytest.mark.parametrize("name", ["resume.safetensors", "resume.json"])
def test_corrupted_resume_state_is_refused(reference, tmp_path, name):
    import shutil

    out = tmp_path / "run"
    shutil.copytree(reference, out)
    (out / name).write_bytes((out / name).read_bytes()[:40])
    before = {f.name: f.read_bytes() for f in out.iterdir() if f.is_file() and f.name != ".lock"}
    r = train(out, "--resume", steps=500, check=False)
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert name in r.stderr or "corrupted" in r.stderr
    assert {f.name: f.read_bytes() for f in out.iterdir() if f.is_file() and f.name != ".lock"} == before


def test_a_commit_killed_at_any_point_leaves_the_old_or_the_new_set(tmp_path, monkeypatch):
    """Simulate a kill after every file operation of a commit: what resolve() finds is always complete."""
    old = {"a.bin": b"old-a", "b.json": b"old-b"}
    new = {"a.bin": b"new-a", "b.json": b"new-b", "c.txt": b"new-c"}
    real_replace, real_write = os.replace, manifest._write
    for k in range(1, 12):
        d = tmp_path / f"d{k}"
        manifest.commit(d, old)
        calls = {"n": 0}

        def dying(fn, calls=calls, k=k):
            def wrapped(*args, **kwargs):
                calls["n"] += 1
                if calls["n"] >= k:
                    raise SystemExit("killed")
                return fn(*args, **kwargs)
            return wrapped

        monkeypatch.setattr(manifest.os, "replace", dying(real_replace))
        monkeypatch.setattr(manifest, "_write", dying(real_write))
        try:
            manifest.commit(d, new)
        except SystemExit:
            pass
        monkeypatch.setattr(manifest.os, "replace", real_replace)
        monkeypatch.setattr(manifest, "_write", real_write)
        found = {name: path.read_bytes() for name, (path, digest) in manifest.resolve(d).items()}
        assert found in (old, new), (k, found)
        assert all(manifest.sha256(found[n]) == digest for n, (_, digest) in manifest.resolve(d).items())
        manifest.recover(d)  # the next writer finishes or drops the interrupted commit
        assert {n: p.read_bytes() for n, (p, _) in manifest.resolve(d).items()} == found


def resume_exactly(name: str, config: dict, x: torch.Tensor, steps: int, every: int, shape=(2,)) -> list:
    """Fit ``name`` (of ``shape``: a shape or a data set) for ``steps`` with a checkpoint every ``every`` steps, then
    resume from each checkpoint but the last: weights and (untimed) history must equal the uninterrupted run's bit
    for bit. Returns the states."""
    from genlab.training import Checkpointer

    def make():
        return genlab.create(name, shape, **config)

    saved = []
    ref = make()
    ref.fit(x, steps=steps, batch_size=32, seed=5, progress=False, checkpoint=Checkpointer(save=saved.append, every=every))
    assert [s.step for s in saved] == list(range(every, steps + 1, every))
    for state in saved[:-1]:
        m = make()
        m.fit(x, steps=steps, batch_size=32, seed=5, progress=False,
              checkpoint=Checkpointer(save=lambda s: None, every=every + 1, state=state))
        assert same(m.state_dict(), ref.state_dict()), (name, state.step)
        untimed = [[{k: v for k, v in h.items() if k != "time"} for h in run.history] for run in (m, ref)]
        assert untimed[0] == untimed[1], (name, state.step)
    return saved


@pytest.mark.parametrize("name", trainable())
def test_in_process_resume_from_any_checkpoint_is_exact(name):
    """Every registered model with a training loss, its defaults (tiny sizes) plus an EMA and a cosine schedule, on a
    data set of its kind: 90 rows in batches of 32 (2 per epoch, tail dropped), so checkpoints fall mid-epoch and at
    its end (text: 90 tokens, windows drawn per step)."""
    ds = dataset(data_name(name))
    saved = resume_exactly(name, {**tiny(name), "ema": 0.9, "lr_schedule": "cosine"}, ds.train[:90], 12, 3, ds)
    if ds.kind != "text":
        assert saved[0].scalars["order_pos"] == 32 and saved[1].scalars["order_pos"] == 64


def test_in_process_resume_keeps_early_stopping_state():
    x = torch.randn(90, 2, generator=torch.Generator().manual_seed(0)) * 2 + 1
    resume_exactly("vae", {"hidden": 8, "patience": 50, "val_every": 20, "ema": 0.9}, x, 100, 25)


def test_early_stopping_keeps_the_best_weights_and_records_it():
    x = torch.randn(60, 2, generator=torch.Generator().manual_seed(0))
    from genlab.training import Checkpointer

    saved = []
    m = genlab.create("vae", (2,), hidden=32, patience=2, val_every=10, lr=3e-2)
    m.fit(x, steps=2000, batch_size=16, progress=False, checkpoint=Checkpointer(save=saved.append))
    checks = [h for h in m.history if "val_loss" in h]
    best = min(checks, key=lambda h: h["val_loss"])
    assert len(m.history) < 2000  # stopped early on 48 training rows
    assert m.history[-1]["best_val_step"] == best["step"] and m.history[-1]["best_val_loss"] == best["val_loss"]
    later = [h["val_loss"] for h in checks if h["step"] > best["step"]]
    assert len(later) == 2 and all(v >= best["val_loss"] for v in later)  # patience=2 checks without improvement
    again = genlab.create("vae", (2,), hidden=32, patience=2, val_every=10, lr=3e-2)  # resuming a stopped run
    again.fit(x, steps=2000, batch_size=16, progress=False,
              checkpoint=Checkpointer(save=saved.append, state=saved[-1]))
    assert len(again.history) == len(m.history) and same(again.state_dict(), m.state_dict())


def test_a_run_started_before_format_3_resumes_with_its_additive_conditioning(tmp_path):
    """A resumable edm run written before the "conditioning" field existed (checkpoint format 2) was made with the
    additive MLP: resuming it with conditioning=add continues; with the new default (film) it is refused."""
    out = tmp_path / "run"
    tiny = ["--set", "hidden=16", "--set", "depth=1", "--set", "emb_dim=8", "--batch-size", "16", "--quiet"]
    r = subprocess.run(genlab_cmd("train", "edm", "--data", "eight_gaussians", "--steps", 40, "--out", out, *tiny,
                                  "--set", "conditioning=add", "--checkpoint-every", 20),
                       capture_output=True, text=True, env=env(), timeout=300)
    assert r.returncode == 0, r.stderr
    (out / "manifest.json").unlink()  # as an older genlab wrote it: no manifest, no field, version 2
    meta = json.loads((out / "config.json").read_text())
    meta["version"], _ = 2, meta["config"].pop("conditioning")
    (out / "config.json").write_text(json.dumps(meta))
    state = json.loads((out / "resume.json").read_text())
    state["fingerprint"]["config"].pop("conditioning")
    (out / "resume.json").write_text(json.dumps(state))

    def resume(*extra):
        return subprocess.run(genlab_cmd("train", "edm", "--data", "eight_gaussians", "--steps", 60, "--out", out,
                                         *tiny, "--resume", *extra), capture_output=True, text=True, env=env(),
                              timeout=300)

    refused = resume()
    assert refused.returncode == 2 and "conditioning" in refused.stderr, refused.stderr
    r = resume("--set", "conditioning=add")
    assert r.returncode == 0, r.stderr
    assert genlab.load(out).trained_steps == 60
