"""``digit_captions`` (issue 27): the digits captioned from measured stroke properties; the thresholds come from the
training rows only, and each caption says what was measured."""

from __future__ import annotations

import numpy as np
import torch

import genlab
from genlab.data.digit_captions import SLANT, THICK, WORDS, stroke_properties


def test_stroke_properties_known_answers():
    bar = np.zeros((1, 1, 8, 8))
    bar[0, 0, :, 3:5] = 16  # a vertical bar two pixels wide: 16 pixels of full ink, no slant
    rising = np.zeros((1, 1, 8, 8))
    for r in range(8):
        rising[0, 0, r, 7 - r] = 16  # "/": the top leans right
    ink, slant = stroke_properties(np.concatenate([bar, rising, rising[..., ::-1]]))
    assert np.allclose(ink, [16, 8, 8]) and abs(slant[0]) < 1e-12
    assert np.allclose(slant[1:], [1.0, -1.0])


def test_captions_say_what_was_measured():
    ds = genlab.datasets.load("digit_captions")
    a, caps = ds.info["attributes_train"].numpy(), ds.labels_train
    assert len(caps) == len(ds.train) and len(ds.labels_test) == len(ds.test)
    for (d, t, s), c in zip(a, caps, strict=True):
        assert WORDS[d] in c or str(d) in c
        assert any(w in c for w in THICK[t]) and any(w in c for w in SLANT[s])
    assert torch.equal(ds.info["attributes_train"][:, 0], genlab.datasets.load("digits").labels_train)
    ink, slant = stroke_properties(ds.train)
    th = ds.info["thresholds"]  # from the training rows only
    assert np.allclose(th["slant_tertiles"], np.quantile(slant, [1 / 3, 2 / 3]))
    assert np.allclose(th["ink_median"], [np.median(ink[a[:, 0] == k]) for k in range(10)])
    assert slant[a[:, 2] == 2].min() > slant[a[:, 2] == 0].max()
    assert len(set(np.bincount(a[:, 2]))) <= 2 and min(np.bincount(a[:, 2])) > len(a) / 3 - 2


def test_a_captioned_model_fits_and_samples_from_a_prompt():
    torch.set_num_threads(1)
    ds = genlab.datasets.load("digit_captions")
    m = genlab.create("edm", ds.shape, patience=0, text_encoder={"dim": 32, "depth": 1, "heads": 2},
                      hidden=64)
    m.fit(ds.train, ds.labels_train, steps=20, batch_size=64, progress=False)
    x = m.sample(3, y="a thick seven, slanted left", seed=0)
    assert x.shape == (3, 1, 8, 8) and torch.isfinite(x).all()
