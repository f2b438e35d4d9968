"""genlab bench: input checks, failure isolation, ranking, the step sweep, and the files it writes."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass

import numpy as np
import pytest
import torch
from click.testing import CliRunner

import genlab
from genlab import registry
from genlab.bench import BenchResult, ModelResult, resolve_models, run_bench, runner
from genlab.bench.report import rank
from genlab.cli.bench import bench_command
from genlab.errors import ConfigError, DataError, GenlabError
from genlab.model import GenerativeModel, ModelConfig


@pytest.fixture(scope="module")
def small():
    return genlab.datasets.load("eight_gaussians", n_train=400, n_test=300, seed=0)


def _strict_json(text: str):
    def bad(c):
        raise AssertionError(f"non-strict JSON constant {c}")

    return json.loads(text, parse_constant=bad)


# ------------------------------------------------------------------------------------------------ bad input
@pytest.mark.parametrize("budget", [0, -1, float("nan"), "abc"])
def test_bad_budget(small, tmp_path, budget):
    with pytest.raises(ConfigError, match="budget"):
        run_bench(small, ["gmm"], budget, tmp_path / "o", progress=False)
    assert not (tmp_path / "o").exists()


def test_unknown_model(small, tmp_path):
    with pytest.raises(ConfigError, match="unknown model 'nope'"):
        run_bench(small, ["gmm", "nope"], 1, tmp_path / "o", progress=False)
    with pytest.raises(ConfigError, match="no models"):
        run_bench(small, [], 1, tmp_path / "o", progress=False)
    assert not (tmp_path / "o").exists()


def test_unknown_dataset(tmp_path):
    with pytest.raises(DataError, match="unknown data set"):
        run_bench("no_such_set", ["gmm"], 1, tmp_path / "o", progress=False)
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("points", [0, -5, 2.5, True, "100"])
def test_bad_eval_points(small, tmp_path, points):
    with pytest.raises(ConfigError, match="eval_points"):
        run_bench(small, ["gmm"], 1, tmp_path / "o", progress=False, eval_points=points)
    assert not (tmp_path / "o").exists()


def test_bad_config_override(small, tmp_path):
    with pytest.raises(ConfigError, match="unknown config key"):
        run_bench(small, ["gmm"], 1, tmp_path / "o", progress=False, config_overrides={"gmm": {"nope": 1}})


def test_out_is_a_file(small, tmp_path):
    f = tmp_path / "file.txt"
    f.write_text("keep")
    with pytest.raises(ConfigError, match="is a file"):
        run_bench(small, ["gmm"], 1, f, progress=False)
    assert f.read_text() == "keep"


def test_existing_dir_needs_force(small, tmp_path, monkeypatch):
    monkeypatch.setattr(runner, "REFERENCES", ())  # gmm alone keeps this fast
    out = tmp_path / "o"
    out.mkdir()
    (out / "leaderboard.md").write_text("old")
    (out / "mine.txt").write_text("user file")
    with pytest.raises(ConfigError, match="--force"):
        run_bench(small, ["gmm"], 1, out, progress=False)
    assert sorted(p.name for p in out.iterdir()) == ["leaderboard.md", "mine.txt"]
    assert (out / "leaderboard.md").read_text() == "old" and (out / "mine.txt").read_text() == "user file"
    run_bench(small, ["gmm"], 1, out, force=True, progress=False)
    assert (out / "leaderboard.md").read_text() != "old" and (out / "mine.txt").read_text() == "user file"


def test_models_all_and_references():
    assert resolve_models("all") == genlab.models.names()
    assert resolve_models("all", "vectors") == genlab.models.for_kind("vectors") != genlab.models.names()
    with pytest.raises(ConfigError, match="model 'table_ar' does not take vectors data"):
        resolve_models("table_ar", "vectors")
    assert resolve_models(["kde"])[:1] == ["kde"] and set(resolve_models(["kde"])) == {"gmm", "kde"}
    assert resolve_models("gmm, gmm,kde") == ["gmm", "kde"]


# ------------------------------------------------------------------------------------------------ ranking
def test_rank_order():
    rows = [ModelResult("failed", status="failed", error="fit: RuntimeError: x"),
            ModelResult("implicit", likelihood="none", sliced_wasserstein=0.1),
            ModelResult("infnll", likelihood="exact", nll=math.inf, sliced_wasserstein=0.2),
            ModelResult("worse", likelihood="bound", nll=3.0),
            ModelResult("better", likelihood="exact", nll=2.0)]
    out = rank(rows, "nll")
    assert [r.name for r in out] == ["better", "worse", "implicit", "infnll", "failed"]
    assert [r.rank for r in out] == [1, 2, 3, 4, 5] and [r.best for r in out] == [True] + [False] * 4
    assert rank([ModelResult("f", status="failed")], "nll")[0].best is False


# ------------------------------------------------------------------------------------------------ runs
def test_run_outputs_and_failure(small, tmp_path, monkeypatch):
    def boom(self, *args, **kwargs):
        raise RuntimeError("boom\nsecond line")

    monkeypatch.setattr(genlab.models.get("gmm"), "fit", boom)
    res = run_bench(small, ["gmm", "kde"], 1, tmp_path / "b", seed=3, progress=False)
    assert isinstance(res, BenchResult)
    gmm, kde = (next(r for r in res.results if r.name == n) for n in ("gmm", "kde"))
    assert gmm.status == "failed" and gmm.error == "fit: RuntimeError: boom" and gmm.nll is None
    assert kde.status == "ok" and kde.best and res.best is kde and [r.name for r in res.results] == ["kde", "gmm"]
    assert math.isfinite(kde.nll) and math.isfinite(kde.kl_to_truth) and kde.kl_stderr > 0
    assert kde.nfe is None and kde.n_test == 300 and kde.fit_time_s > 0 and kde.sweep == []

    out = tmp_path / "b"
    for name in ("leaderboard.md", "leaderboard.csv", "leaderboard.json", "report.html", "samples_grid.png",
                 "density_grid.png", "plots/samples_kde.png", "plots/density_kde.png", "plots/samples_data.png"):
        assert (out / name).is_file(), name
    data = _strict_json((out / "leaderboard.json").read_text())
    s = data["settings"]
    assert s["data"] == "eight_gaussians" and s["models"] == ["gmm", "kde"] and s["time_budget"] == 1.0
    assert s["seed"] == 3 and s["genlab_version"] == genlab.__version__ and s["date"] and s["machine"]["cpu_count"]
    assert data["best"] == "kde" and data["results"][1]["error"] == "fit: RuntimeError: boom"
    md = (out / "leaderboard.md").read_text()
    assert "kde ★" in md and "failed: fit: RuntimeError: boom" in md
    csv_lines = (out / "leaderboard.csv").read_text().splitlines()
    assert csv_lines[0].startswith("rank,name,status") and len(csv_lines) == 3


def test_cli_command_on_a_file(tmp_path, monkeypatch):
    monkeypatch.setattr(runner, "REFERENCES", ())
    x = np.random.default_rng(0).normal(size=(400, 2)).astype(np.float32) * [1.0, 0.5]
    np.save(tmp_path / "d.npy", x)
    cli = CliRunner()
    args = ["--data", str(tmp_path / "d.npy"), "--models", "gmm", "--time-budget", "1", "--out", str(tmp_path / "r"),
            "--json", "--quiet", "--eval-points", "50"]
    res = cli.invoke(bench_command, args)
    assert res.exit_code == 0, res.output
    data = _strict_json(res.output)
    assert data["settings"]["ranked_by"] == "nll" and [r["name"] for r in data["results"]] == ["gmm"]
    assert data["settings"]["evaluation"]["eval_points"] == 50 and data["results"][0]["n_test"] == 50
    assert all(r["kl_to_truth"] is None for r in data["results"])
    again = cli.invoke(bench_command, args)  # the folder is no longer empty
    assert isinstance(again.exception, GenlabError) and "--force" in str(again.exception)
    neg = cli.invoke(bench_command, [*args[:5], "-2", *args[6:], "--force"])
    assert isinstance(neg.exception, ConfigError)


# ------------------------------------------------------------------------------------------------ step sweep
@dataclass
class _ToyConfig(ModelConfig):
    pass


class _Toy(GenerativeModel):
    """A stand-in score model: standard normal density; ``steps`` k shrink the sample scale error as 1/k."""

    name = "toy_steps"
    Config = _ToyConfig
    likelihood = "exact"

    def _fit(self, z, y, spec):
        self.history = [{"step": 1}]

    def _sample(self, n, y, steps: int = 20, *, generator, **opts):
        if opts:
            raise ConfigError(f"unknown option(s) {sorted(opts)}")
        self.last_nfe = 2 * steps
        return torch.randn(n, self.dim, generator=generator) * (1 + 3.0 / steps)

    def _log_prob(self, z, y, *, generator, **opts):
        return -0.5 * z.pow(2).sum(1) - 0.5 * self.dim * math.log(2 * math.pi)


def test_steps_sweep_and_nfe(small, tmp_path, monkeypatch):
    monkeypatch.setitem(registry._REGISTRY, "toy_steps", _Toy)
    monkeypatch.setattr(runner, "REFERENCES", ("gmm",))
    res = run_bench(small, ["toy_steps"], 1, tmp_path / "s", progress=False)
    toy = next(r for r in res.results if r.name == "toy_steps")
    assert toy.nfe == 40  # the evaluation's sample call used the default 20 steps
    assert [p["steps"] for p in toy.sweep] == [10, 30, 100] and [p["nfe"] for p in toy.sweep] == [20, 60, 200]
    sw = [p["sliced_wasserstein"] for p in toy.sweep]
    assert sw[0] > sw[1] > sw[2]
    assert [r.name for r in res.results] == ["toy_steps", "gmm"] or [r.name for r in res.results] == ["gmm", "toy_steps"]
    assert next(r for r in res.results if r.name == "gmm").sweep == []  # gmm accepts but ignores steps=
    assert (tmp_path / "s" / "plots" / "quality_vs_nfe.png").is_file()
    assert "Quality against network evaluations" in (tmp_path / "s" / "report.html").read_text()


def test_density_grid_size():
    from genlab.bench.figures import density_grid_size

    assert density_grid_size(None, 8.0) == 100 and density_grid_size(1e-7, 8.0) == 100
    assert density_grid_size(8.0 / 50**2, 8.0) == 50
    assert density_grid_size(1e-2, 8.0) == 28 and density_grid_size(0.1, 8.0) is None


def test_every_model_is_scored_on_the_same_seeded_rows(small, tmp_path, monkeypatch):
    """The rows a model is scored on are fixed by the seed and ``eval_points``, never by a timing: on a clock where
    every reading is 1000 s later (a loaded machine; no real timing in the test) the exact model, the slow-looking
    toy and the references are all scored on the same ``eval_points`` rows of the seeded permutation."""

    class LoadedClock:
        now = 0.0

        @classmethod
        def perf_counter(cls):
            cls.now += 1000.0
            return cls.now

    seen = {}
    evaluate = runner.metrics.evaluate

    def recording(model, x, **kw):
        seen[model.name] = x.clone()
        return evaluate(model, x, **kw)

    monkeypatch.setattr(runner, "time", LoadedClock)
    monkeypatch.setattr(runner.metrics, "evaluate", recording)
    monkeypatch.setitem(registry._REGISTRY, "toy_steps", _Toy)
    res = run_bench(small, ["toy_steps", "kde"], 1, tmp_path / "e", seed=2, progress=False, eval_points=120)
    rows = small.test[runner.evaluation_rows(300, 120, torch.Generator().manual_seed(2))]
    assert sorted(seen) == ["gmm", "kde", "toy_steps"] and all(torch.equal(x, rows) for x in seen.values())
    assert [r.n_test for r in res.results] == [120, 120, 120] and len(set(rows.sum(1).tolist())) == 120
    assert res.settings["evaluation"]["eval_points"] == 120 and not any("slow" in n for r in res.results for n in r.notes)
    assert runner.evaluation_rows(50, 120, torch.Generator().manual_seed(2)).shape == (50,)  # a smaller split: all
