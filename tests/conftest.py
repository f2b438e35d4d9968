"""Shared fixtures: small seeded data sets."""

from __future__ import annotations

import pytest
import torch
from torch import nn

torch.set_num_threads(1)  # small networks: one thread per test worker is faster and avoids oversubscription


@pytest.fixture(autouse=True)
def _backbones_registered_by_a_test_do_not_outlive_it():
    """A test's ``genlab.register_backbone`` is undone after it, so no test sees another's backbones (a leaked name
    changed the "choose from" list that test_registries checks, depending on test order)."""
    from genlab.nn.backbones import BACKBONES

    before = dict(BACKBONES)
    yield
    for name in [n for n in BACKBONES if n not in before]:
        BACKBONES.pop(name)
    for name, entry in before.items():
        if BACKBONES.get(name, None) is not entry:
            BACKBONES.register(name, entry, replace=True)


@pytest.fixture
def gauss2d():
    """2000 points of a correlated 2-D Gaussian with mean (1, -2), and its exact parameters."""
    g = torch.Generator().manual_seed(0)
    mean = torch.tensor([1.0, -2.0])
    L = torch.tensor([[1.0, 0.0], [0.8, 0.6]])
    x = torch.randn(2000, 2, generator=g) @ L.T + mean
    return x, mean, L @ L.T


class ExactEps(nn.Module):
    """The exact noise prediction eps(x_t, t) = -sigma_t s(x_t; sigma_t, alpha_t) of data with a known score under a
    VP-type SDE: ``score(x, sigma, alpha)`` is the score of the data's law after x -> alpha x + sigma n."""

    def __init__(self, sde, score):
        super().__init__()
        self.sde, self.score = sde, score

    def forward(self, x, t, y=None):
        alpha, sigma = self.sde.marginal_coeffs(t.expand(len(x)))
        return -sigma[:, None] * self.score(x, sigma, alpha)

