"""Judging prompt following (issue 27): genlab.apps.captions.evaluate_captions and `genlab eval` on a captioned run."""

from __future__ import annotations

import inspect
import json

import numpy as np
import pytest
import torch
from click.testing import CliRunner

import genlab
from genlab.apps.captions import DEFAULT_GUIDANCE, evaluate_captions, prompts
from genlab.cli import cli
from genlab.data.shapes import render
from genlab.errors import ConfigError, DataError
from genlab.metrics.judge import frechet_shapes


class Oracle:
    """A stand-in model that renders the true attributes of each prompt ``evaluate_captions`` will ask for (or, with
    ``shift``, those of another prompt), and records the guidance it was given."""

    name, shape, label_encoder = "oracle", (3, 32, 32), object()

    def __init__(self, n, seed=0, shift=0):
        self.truth, self.guidance = {}, []
        for heldout in (False, True):
            caps, attrs = prompts(n, heldout, seed)
            self.truth.update({c: attrs[(i + shift) % n] for i, c in enumerate(caps)})

    def _sample(self, n, y, *, generator, guidance=0.0):
        raise AssertionError("only the signature is read")

    def sample(self, n, *, y, seed, guidance=0.0):
        self.guidance.append(guidance)
        return torch.from_numpy(np.stack([render(self.truth[c]) for c in y]))


def test_true_renders_score_near_one_and_wrong_ones_near_zero():
    good = evaluate_captions(Oracle(150), n=150, seed=0, batch=100)
    assert good["joint_accuracy_seen"] > 0.9 and good["joint_accuracy_heldout"] > 0.9, good
    assert abs(good["gap"]) < 0.1 and min(good["seen"].values()) > 0.9
    oracle = Oracle(150, shift=1)  # every image shows another prompt's attributes
    bad = evaluate_captions(oracle, n=150, seed=0, guidance=1.5)
    assert bad["joint_accuracy_seen"] < 0.1 and bad["joint_accuracy_heldout"] < 0.1, bad
    # nearly the same set of images in another order: the Frechet distance does not read captions
    assert bad["frechet"] < 1.5 * good["frechet"] and good["frechet"] < 0.05 * frechet_shapes(torch.rand(150, 3, 32, 32))
    assert set(oracle.guidance) == {1.5} and good["guidance"] == DEFAULT_GUIDANCE


def test_refuses_what_it_cannot_judge():
    plain = genlab.create("gmm", (3, 32, 32))
    with pytest.raises(ConfigError, match="not trained on captions"):
        evaluate_captions(plain, n=4)
    small = Oracle(4)
    small.shape = (3, 8, 8)
    with pytest.raises(DataError, match=r"judge reads images of shape \(3, 32, 32\)"):
        evaluate_captions(small, n=4)
    with pytest.raises(ConfigError, match="guidance must be"):
        evaluate_captions(Oracle(4), n=4, guidance=-1)
    assert "guidance" in inspect.signature(Oracle._sample).parameters


@pytest.fixture(scope="module")
def caption_run(tmp_path_factory):
    """A flow-matching DiT fitted for two steps on 300 shapes images (not a good model: the command is tested)."""
    torch.set_num_threads(1)
    ds = genlab.datasets.load("shapes", n_train=300, n_test=10, seed=0)
    m = genlab.create("flow_matching", ds.shape, backbone="dit", patience=0,
                      text_encoder={"dim": 16, "depth": 1, "heads": 2},
                      backbone_options={"patch": 8, "hidden": 32, "depth": 1, "heads": 2})
    m.fit(ds.train, ds.labels_train, steps=2, batch_size=16, progress=False)
    out = tmp_path_factory.mktemp("caption_eval") / "run"
    m.save(out)
    return out


def _eval(*args):
    return CliRunner().invoke(cli, ["eval", *map(str, args)], catch_exceptions=False)


def test_cli_eval_prints_the_judged_metrics(caption_run):
    r = _eval(caption_run, "--json", "--n-samples", 4)
    out = json.loads(r.stdout)
    assert r.exit_code == 0 and out["guidance"] == DEFAULT_GUIDANCE and out["n"] == 4
    for key in ("joint_accuracy_seen", "joint_accuracy_heldout", "frechet"):
        assert isinstance(out[key], float), key
    assert json.loads(_eval(caption_run, "--json", "--n-samples", 4, "--guidance", 0).stdout)["guidance"] == 0.0


def test_cli_eval_bad_guidance_is_one_line(caption_run, tmp_path):
    plain = tmp_path / "plain"
    genlab.create("edm", 2, steps=2, patience=0).fit(torch.randn(64, 2), progress=False).save(plain)
    for args, words in (((caption_run, "--guidance", -1), "--guidance must be >= 0"),
                        ((plain, "--guidance", 1, "--data", "eight_gaussians"), "applies to runs trained on captions")):
        r = _eval(*args, "--n-samples", 4)
        lines = r.stderr.strip().splitlines()
        assert r.exit_code == 2 and len(lines) == 1 and words in lines[0], (args, r.stderr)
