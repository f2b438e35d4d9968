"""The one table of built-in data sets: name -> :class:`DataSpec` (loader, one-line source, kind).

Adding a data set is a loader ``loader(name, *, n_train=None, n_test=None, seed=0) -> Dataset`` and one
``DATASETS.register`` line below. :func:`genlab.data.load` dispatches through this table only, and ``genlab list
datasets`` prints each set's source and kind from it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from genlab.data import faces, mnist1d
from genlab.data.balls import SOURCE as BALLS_SOURCE
from genlab.data.balls import load_balls, load_balls_small
from genlab.data.color_digits import load_color_digits
from genlab.data.dataset import Dataset
from genlab.data.digit_captions import SOURCE as DIGIT_CAPTIONS_SOURCE
from genlab.data.digit_captions import load_digit_captions
from genlab.data.images import load_patches
from genlab.data.shapes import SOURCE as SHAPES_SOURCE
from genlab.data.shapes import load_shapes
from genlab.data.sklearn_sets import load_real
from genlab.data.synthetic import SYNTHETIC, load_synthetic
from genlab.data.tables import load_gbsg2, load_penguins_table
from genlab.data.tabular import load_diabetes, load_penguins
from genlab.data.text import PYDOC_SOURCE, load_pydoc
from genlab.errors import DataError
from genlab.registry import Registry

__all__ = ["DataSpec", "DATASETS"]


@dataclass(frozen=True)
class DataSpec:
    """A built-in data set: how to load it, where it comes from (one line), and its data kind."""

    name: str
    loader: Callable[..., Dataset]
    source: str
    kind: str = "vectors"


DATASETS: Registry[DataSpec] = Registry("data set", DataError)


def _add(name: str, loader, source: str, kind: str = "vectors") -> None:
    DATASETS.register(name, DataSpec(name, loader, source, kind))


for _s in SYNTHETIC.values():
    _add(_s.name, load_synthetic, f"synthetic, made by genlab with an exact density: {_s.description}")
_add("digits", load_real, "scikit-learn's bundled UCI optical digits: 1797 images 1 x 8 x 8, values 0..16, labels 0..9",
     "images")
_add("digits_flat", load_real, "the digits as 64-D vectors")
_add("breast_cancer", load_real, "scikit-learn's bundled Wisconsin breast cancer data: 569 x 30, labels "
     "malignant/benign")
_add("wine", load_real, "scikit-learn's bundled UCI wine data: 178 x 13 chemical measurements, labels 0..2 (cultivar)")
_add("iris", load_real, "scikit-learn's bundled iris data (Fisher 1936): 150 x 4 measurements in cm, labels 0..2 "
     "(species)")
_add("color_digits", load_color_digits, "the digits coloured by genlab (fixed seed): 3 x 8 x 8 RGB images", "images")
_add("patches", load_patches, "8 x 8 grey patches (256 levels) cut from photographs bundled in scikit-image (train) "
     "and scikit-learn (test)", "images")
_add("diabetes", load_diabetes, "scikit-learn's bundled diabetes study (Efron et al. 2004): 442 x 11 raw columns, "
     "target as the last column, no labels")
_add("penguins", load_penguins_table, "palmerpenguins package (Gorman et al. 2014): 344 birds x 8 columns, species, "
     "island and sex as categories, 19 missing cells kept", "table")
_add("penguins_onehot", load_penguins, "the penguins as vectors: 333 x 9, species as label, island/sex one-hot, year "
     "dropped, 11 rows with missing values dropped (warned)")
_add("gbsg2", load_gbsg2, "lifelines package: German Breast Cancer Study Group 2 (Schumacher et al. 1994), 686 "
     "patients x 10 mixed columns (therapy, age, menopause, tumour size/grade, nodes, receptors, survival, censoring)",
     "table")
_add("pydoc", load_pydoc, PYDOC_SOURCE, "text")
_add("shapes", load_shapes, SHAPES_SOURCE, "images")
_add("digit_captions", load_digit_captions, DIGIT_CAPTIONS_SOURCE, "images")
_add("balls", load_balls, BALLS_SOURCE, "video")
_add("balls_collision", load_balls, "as balls, two balls in a perfectly elastic collision", "video")
_add("balls_parabola", load_balls, "as balls, one ball thrown under gravity (a parabola)", "video")
_add("balls_small", load_balls_small, "as balls, 8 frames of 16 x 16, 256 clips: for quick runs and tests", "video")
_add("mnist1d", mnist1d.load_mnist1d, mnist1d.SOURCE)
_add("faces", faces.load_faces, faces.SOURCE, "images")
del _s
