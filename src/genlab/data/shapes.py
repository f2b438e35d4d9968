"""``shapes``: captioned RGB images made by genlab (procedural, seeded, offline), for prompt-to-image models.

Each image (3 x ``size`` x ``size``, values in [0, 1], black background) holds one object with four attributes:
shape (circle, square, triangle, cross), colour (red, green, blue, yellow, magenta, cyan), size (small, large) and
position (a 3 x 3 grid). Each gets a caption from templates with synonyms and word order varied ("a small red
circle in the top left", "top-left: tiny crimson disc"). Objects are drawn anti-aliased (4 x 4 supersampling).

Compositional generalisation: the colour x shape pairs in :data:`HELD_OUT` (a quarter of the 24, every colour and
every shape still seen in training) never appear in ``train`` or ``test``; ``info["heldout"]`` holds a split made
only of them. ``labels_*`` are the captions (lists of str), ``label_encoder`` a char tokenizer fitted on the
training captions, and ``info["attributes_*"]`` the true attributes, int64 (N, 4) in the order of :data:`ATTRIBUTES`.
"""

from __future__ import annotations

import numpy as np
import torch

from genlab.data.dataset import Dataset
from genlab.data.kinds.text import TextEncoder
from genlab.data.split import rng_for

__all__ = ["ATTRIBUTES", "VALUES", "HELD_OUT", "render", "caption", "draw_attributes", "load_shapes", "SOURCE"]

ATTRIBUTES = ("shape", "colour", "size", "position")
VALUES = {
    "shape": ("circle", "square", "triangle", "cross"),
    "colour": ("red", "green", "blue", "yellow", "magenta", "cyan"),
    "size": ("small", "large"),
    "position": tuple(f"{r} {c}" for r in ("top", "middle", "bottom") for c in ("left", "centre", "right")),
}
RGB = {"red": (1.0, 0.1, 0.1), "green": (0.1, 0.85, 0.1), "blue": (0.15, 0.3, 1.0), "yellow": (1.0, 0.9, 0.1),
       "magenta": (1.0, 0.1, 1.0), "cyan": (0.1, 0.95, 0.95)}
#: held-out (colour, shape) pairs: a quarter of the 24, each colour and shape still seen with others
HELD_OUT = (("red", "circle"), ("green", "triangle"), ("blue", "square"), ("yellow", "cross"),
            ("magenta", "circle"), ("cyan", "triangle"))
SYNONYMS = {
    "circle": ("circle", "disc", "round dot"), "square": ("square", "box"), "triangle": ("triangle",),
    "cross": ("cross", "plus sign"),
    "red": ("red", "crimson", "scarlet"), "green": ("green", "emerald"), "blue": ("blue", "azure"),
    "yellow": ("yellow", "golden"), "magenta": ("magenta", "fuchsia"), "cyan": ("cyan", "turquoise"),
    "small": ("small", "tiny", "little"), "large": ("large", "big", "huge"),
}
SOURCE = ("made by genlab: 3 x 32 x 32 images of one shape (4 kinds, 6 colours, 2 sizes, 3 x 3 positions) with "
          "template captions; 6 colour-shape pairs held out")


def _where(position: str, rng: np.random.Generator) -> str:
    row, col = position.split()
    if position == "middle centre":
        return str(rng.choice(["in the middle", "at the centre", "in the center"]))
    if row == "middle":
        return f"{'on' if rng.random() < 0.5 else 'at'} the {col}"
    if col == "centre":
        return f"at the {row}"
    return str(rng.choice([f"in the {row} {col}", f"at the {row}-{col}", f"in the {row} {col} corner"]))


def caption(attrs, rng: np.random.Generator) -> str:
    """A caption of (shape, colour, size, position) indices from one of four templates, synonyms drawn by ``rng``."""
    shape, colour, size, position = (VALUES[a][int(i)] for a, i in zip(ATTRIBUTES, attrs, strict=True))
    s, c, z = (str(rng.choice(SYNONYMS[w])) for w in (shape, colour, size))
    where = _where(position, rng)
    label = position.replace("middle centre", "centre").replace(" ", "-").replace("middle-", "").replace("-centre", "")
    template = int(rng.integers(4))
    if template == 0:
        return f"{_a(z)} {z} {c} {s} {where}"
    if template == 1:
        return f"{label}: {z} {c} {s}"
    if template == 2:
        return f"{where}, {_a(c)} {c} {s}, {z}"
    return f"there is {_a(z)} {z} {s} in {c} {where}"


def _a(word: str) -> str:
    return "an" if word[0] in "aeiou" else "a"


def render(attrs, size: int = 32) -> np.ndarray:
    """The image (3, size, size) of one object with attributes (shape, colour, size, position) as indices."""
    shape, colour, big, position = (VALUES[a][int(i)] for a, i in zip(ATTRIBUTES, attrs, strict=True))
    ss = 4 * size  # supersampled grid
    row, col = divmod(VALUES["position"].index(position), 3)
    cy, cx = (row + 0.5) * ss / 3, (col + 0.5) * ss / 3
    r = ss * (0.14 if big == "large" else 0.08)
    y, x = np.mgrid[0:ss, 0:ss] + 0.5
    dy, dx = y - cy, x - cx
    if shape == "circle":
        mask = dx**2 + dy**2 <= r**2
    elif shape == "square":
        mask = (np.abs(dx) <= 0.85 * r) & (np.abs(dy) <= 0.85 * r)
    elif shape == "triangle":  # pointing up: apex at -r, base at +0.8 r
        mask = (dy <= 0.8 * r) & (dy >= -r) & (np.abs(dx) <= (dy + r) * 0.62)
    else:  # cross
        arm = 0.32 * r
        mask = ((np.abs(dx) <= arm) & (np.abs(dy) <= r)) | ((np.abs(dy) <= arm) & (np.abs(dx) <= r))
    cover = mask.reshape(size, 4, size, 4).mean((1, 3))
    return (np.asarray(RGB[colour])[:, None, None] * cover[None]).astype(np.float32)


def draw_attributes(n: int, rng: np.random.Generator, *, heldout: bool = False) -> np.ndarray:
    """``n`` attribute rows (N, 4), uniform over the seen combinations (or over the held-out pairs only)."""
    pairs = [(VALUES["colour"].index(c), VALUES["shape"].index(s)) for c, s in HELD_OUT]
    allowed = [(c, s) for c in range(6) for s in range(4) if ((c, s) in pairs) == heldout]
    cs = np.asarray(allowed)[rng.integers(len(allowed), size=n)]
    return np.stack([cs[:, 1], cs[:, 0], rng.integers(2, size=n), rng.integers(9, size=n)], 1).astype(np.int64)


def _split(n: int, seed: int, stream: int, heldout: bool, size: int):
    rng = rng_for(seed, 5, stream)
    attrs = draw_attributes(n, rng, heldout=heldout)
    images = np.stack([render(a, size) for a in attrs]) if n else np.zeros((0, 3, size, size), np.float32)
    return torch.from_numpy(images), [caption(a, rng) for a in attrs], torch.from_numpy(attrs)


def load_shapes(name: str = "shapes", *, n_train=None, n_test=None, seed: int = 0, size: int = 32) -> Dataset:
    """``n_train`` (default 20,000) training and ``n_test`` (default 2,000) test images of seen combinations, and
    as many held-out ones in ``info["heldout"]`` (see the module docstring)."""
    n_train = 20_000 if n_train is None else n_train
    n_test = 2_000 if n_test is None else n_test
    train, cap_train, a_train = _split(n_train, seed, 0, False, size)
    test, cap_test, a_test = _split(n_test, seed, 1, False, size)
    held, cap_held, a_held = _split(n_test, seed, 2, True, size)
    return Dataset(name=name, train=train, test=test, labels_train=cap_train, labels_test=cap_test, kind="images",
                   label_encoder=TextEncoder("char").fit(cap_train),
                   info={"attributes_train": a_train, "attributes_test": a_test, "attribute_names": ATTRIBUTES,
                         "values": VALUES, "heldout": {"x": held, "captions": cap_held, "attributes": a_held},
                         "held_out_pairs": HELD_OUT})
