"""fit(dequantize=True) is for integer levels: other data get a one-line ConfigError naming the first bad value."""

from __future__ import annotations

import pytest
import torch

import genlab
from genlab.errors import ConfigError


def test_dequantize_rejects_non_integer_data_naming_the_value():
    x = torch.randint(0, 5, (40, 3), generator=torch.Generator().manual_seed(0)).float()
    genlab.create("gmm", (3,), n_components=1).fit(x, dequantize=True)  # integer levels: fine
    x[7, 2] = 2.25
    x[9, 0] = 0.5
    with pytest.raises(ConfigError, match=r"^fit\(dequantize=True\) needs integer-valued data, .* 2\.25 \(row 7\)$"):
        genlab.create("gmm", (3,), n_components=1).fit(x, dequantize=True)
    genlab.create("gmm", (3,), n_components=1).fit(x)  # continuous data without the flag: fine
