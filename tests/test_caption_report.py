"""The bench report of a captioned set (issue 27): models that take captions train on them and the report shows a
prompt x sample grid (seen test captions, then held-out ones)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

import genlab
from genlab.apps.captions import grid_prompts, prompt_grid
from genlab.bench import run_bench, runner
from genlab.data.dataset import Dataset
from genlab.data.kinds.text import TextEncoder

RED, BLUE = "a red one", "a blue one"


def _toy() -> Dataset:
    """(3, 4, 4) images, all red or all blue as the caption says; "red" on its own is held out."""
    caps = [RED, BLUE] * 32
    x = torch.zeros(64, 3, 4, 4)
    x[0::2, 0], x[1::2, 2] = 1.0, 1.0
    return Dataset(name="toy_captions", train=x, test=x[:16], labels_train=caps, labels_test=caps[:16],
                   label_encoder=TextEncoder("char").fit(caps), info={"heldout": {"captions": ["red"]}})


def test_grid_prompts_of_shapes_are_seen_then_held_out():
    from genlab.data.shapes import HELD_OUT, VALUES

    ds = genlab.datasets.load("shapes", n_train=1, n_test=50, seed=0)
    rows = grid_prompts(ds, k=4)
    assert len(rows) == 8 and all(label.endswith("(held-out)") == (i >= 4) for i, (label, _) in enumerate(rows))
    held = {(VALUES["colour"][c], VALUES["shape"][s]) for s, c in ds.info["heldout"]["attributes"][:4, :2].tolist()}
    assert held <= set(HELD_OUT) and [c for _, c in rows[4:]] == ds.info["heldout"]["captions"][:4]


def test_bench_trains_on_captions_and_the_report_shows_prompt_rows(tmp_path, monkeypatch):
    torch.set_num_threads(1)
    fitted = {}

    def evaluate(model, test, **kw):  # the metrics are not under test here: the captions and the report are
        fitted[model.name] = model.label_encoder is not None
        return {"n_test": len(test), "n_samples": 2}

    monkeypatch.setattr(runner.metrics, "evaluate", evaluate)
    monkeypatch.setattr(runner, "sweep", lambda *a, **k: None)
    small = {"quantize": 2, "joint_channels": True, "n_layer": 1, "n_head": 2, "n_embd": 32, "dropout": 0.0,
             "lr": 3e-3, "batch_size": 64}
    res = run_bench(_toy(), ["pixel_transformer"], 1.5, tmp_path / "b", progress=False,
                    config_overrides={"pixel_transformer": small})
    pt = next(r for r in res.results if r.name == "pixel_transformer")
    assert pt.status == "ok" and fitted == {"pixel_transformer": True, "gmm": False, "kde": False}, (pt.error, fitted)
    (_, rel), = res.files["plots"]["prompts"]  # only the model that took the captions
    html = (tmp_path / "b" / "report.html").read_text()
    assert "Prompts x samples" in html and html.count("data:image/png;base64") >= 2
    assert len(_row_colours(tmp_path / "b" / rel)) == 3  # RED, BLUE, "red" (held-out)


def _row_colours(path) -> list[float]:
    """Per row of images in a prompt grid: the share of its red pixels among red and blue ones."""
    grid = np.asarray(Image.open(path).convert("RGB")).astype(int)
    red = ((grid[..., 0] > 200) & (grid[..., 2] < 80)).sum(1)
    blue = ((grid[..., 2] > 200) & (grid[..., 0] < 80)).sum(1)
    lit = np.flatnonzero((red + blue) > 0)
    bands = np.split(lit, np.flatnonzero(np.diff(lit) > 1) + 1)  # the pixel rows of each row of images
    return [red[b].sum() / (red[b].sum() + blue[b].sum()) for b in bands]


def test_prompt_grid_rows_follow_their_prompts(tmp_path):
    torch.set_num_threads(1)
    ds = _toy()
    m = genlab.create("pixel_transformer", ds.shape, quantize=2, joint_channels=True, n_layer=1, n_head=2, n_embd=32,
                      dropout=0.0)
    m.fit(ds.train, ds.labels_train, steps=100, batch_size=64, lr=3e-3, progress=False)
    path = prompt_grid(m, [(BLUE, BLUE), (RED, RED), ("blue again", BLUE)], tmp_path / "g.png", cols=5)
    share = _row_colours(path)
    assert len(share) == 3 and share[0] < 0.1 and share[1] > 0.9 and share[2] < 0.1, share


@pytest.mark.parametrize("labels", [None, ["a", "b"]])
def test_image_grid_row_labels_must_match_the_rows(tmp_path, labels):
    from genlab import plots
    from genlab.errors import DataError

    with pytest.raises(DataError, match="row labels for 3 rows"):
        plots.image_grid(torch.rand(6, 3, 4, 4), tmp_path / "g.png", nrow=2, row_labels=labels or ["a"] * 4)
