"""Faces and non-faces for anomaly detection: scikit-image's bundled ``lfw_subset`` (no download).

200 grey images of 25 x 25 pixels with values in [0, 1]: 100 faces cropped from Labeled Faces in the Wild (Huang et
al. 2007) and 100 non-face patches, as ``skimage.data.lfw_subset()`` ships them (first the faces). Loaded as
(1, 25, 25) images with labels 0 = face (normal), 1 = non-face (anomaly): fit a detector to the faces of the
training split (``ds.train[ds.labels_train == 0]``) and score the whole test split.
"""

from __future__ import annotations

import numpy as np

from genlab.data.dataset import Dataset

__all__ = ["load_faces", "SOURCE"]

SOURCE = "scikit-image's bundled lfw_subset: 100 faces + 100 non-faces, 1 x 25 x 25 in [0, 1], label 1 = non-face"


def load_faces(name: str, *, n_train=None, n_test=None, seed: int = 0) -> Dataset:
    from skimage.data import lfw_subset

    from genlab.data.sklearn_sets import labelled_split

    x = np.asarray(lfw_subset(), dtype=np.float32)[:, None]
    y = np.r_[np.zeros(100, dtype=np.int64), np.ones(len(x) - 100, dtype=np.int64)]
    return labelled_split(name, x, y, seed, n_train=n_train, n_test=n_test, levels=None)
