"""The captioned ``shapes`` set: attributes drawn as stated, held-out pairs never trained on, captions true."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import genlab
from genlab.data.shapes import ATTRIBUTES, HELD_OUT, RGB, SYNONYMS, VALUES, render


@pytest.fixture(scope="module")
def ds():
    return genlab.datasets.load("shapes", n_train=600, n_test=200, seed=3)


def _pairs(attrs):
    return {(VALUES["colour"][c], VALUES["shape"][s]) for s, c, _, _ in attrs.tolist()}


def test_held_out_pairs_never_appear_in_train_or_test_and_every_value_is_seen(ds):
    seen = _pairs(ds.info["attributes_train"]) | _pairs(ds.info["attributes_test"])
    assert not seen & set(HELD_OUT) and len(seen) == 24 - len(HELD_OUT)
    assert _pairs(ds.info["heldout"]["attributes"]) == set(HELD_OUT)
    for k, name in enumerate(ATTRIBUTES):  # every single value is still trained on
        assert set(ds.info["attributes_train"][:, k].tolist()) == set(range(len(VALUES[name])))
    assert ds.kind == "images" and ds.shape == (3, 32, 32) and ds.num_classes is None
    assert torch.equal(genlab.datasets.load("shapes", n_train=600, n_test=200, seed=3).train, ds.train)


def test_captions_name_every_attribute(ds):
    for cap, (s, c, z, p) in zip(ds.labels_train, ds.info["attributes_train"].tolist(), strict=True):
        for value in (VALUES["shape"][s], VALUES["colour"][c], VALUES["size"][z]):
            assert any(w in cap for w in SYNONYMS[value]), (cap, value)
        row, col = VALUES["position"][p].split()
        assert (row in cap or row == "middle") and (col in cap or col == "centre" or "center" in cap), cap
        assert " a a" not in cap and " a e" not in cap
    assert ds.label_encoder.decode(ds.label_encoder.encode(ds.labels_train[0])) == ds.labels_train[0]


@pytest.mark.parametrize("shape", range(4))
def test_images_show_their_attributes(shape):
    for colour in range(6):
        big = render((shape, colour, 1, 0))  # top left, large
        small = render((shape, colour, 0, 8))  # bottom right, small
        rgb = np.asarray([c for c in big.reshape(3, -1).T if c.sum() > 0.5]).mean(0)
        name = VALUES["colour"][colour]
        assert np.allclose(rgb / rgb.max(), np.asarray(RGB[name]) / max(RGB[name]), atol=0.05)
        mass = big.sum(0)
        ys, xs = np.nonzero(mass > 0.25)
        assert ys.mean() < 32 / 3 and xs.mean() < 32 / 3  # in the top-left cell
        ys, xs = np.nonzero(small.sum(0) > 0.25)
        assert ys.mean() > 64 / 3 and xs.mean() > 64 / 3
        assert mass.sum() > 2 * small.sum(0).sum()  # large is larger
    # the four shapes differ: pairwise pixel distances well above zero at the same place, colour and size
    imgs = [render((s, 0, 1, 4)) for s in range(4)]
    assert min(np.abs(a - b).sum() for i, a in enumerate(imgs) for b in imgs[i + 1:]) > 5
