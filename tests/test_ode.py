"""genlab.ode, the one torchdiffeq wrapper: known answers and a clear error where the solver gives up."""

from __future__ import annotations

import math

import pytest
import torch

from genlab.errors import ConfigError, GenlabError, SolverError
from genlab.ode import solve


@pytest.mark.parametrize("method,steps", [("dopri5", None), ("rk4", 20), ("euler", 2000)])
def test_exponential_decay_has_the_known_solution(method, steps):
    res = solve(lambda t, y: -y, torch.ones(3, dtype=torch.float64), 0.0, 2.0, method=method, steps=steps,
                rtol=1e-8, atol=1e-8)
    assert torch.allclose(res.y, torch.full((3,), math.exp(-2.0), dtype=torch.float64), rtol=2e-3)
    assert res.nfe > 0


def test_a_finite_time_blow_up_gives_a_one_line_solver_error():
    """dy/dt = y^2 from y(0) = 1 blows up at t = 1: the adaptive solver's step underflows before t = 2."""
    with pytest.raises(SolverError, match="could not go on .*rk4") as err:
        solve(lambda t, y: y**2, torch.ones(1, dtype=torch.float64), 0.0, 2.0, rtol=1e-6, atol=1e-6)
    assert isinstance(err.value, GenlabError) and "\n" not in str(err.value)


def test_a_field_undefined_outside_the_interval_is_solved():
    """dy/dt = -1e-4 y sqrt(1 - t) on [0, 1]: slow, so the solver's first trial step lands far beyond t = 1, where
    the field is NaN; only [t0, t1] is needed. y(1) = exp(-1e-4 * 2 / 3)."""
    res = solve(lambda t, y: -1e-4 * y * torch.sqrt(1 - t), torch.ones(2, dtype=torch.float64), 0.0, 1.0,
                rtol=1e-6, atol=1e-6)
    assert torch.allclose(res.y, torch.full((2,), math.exp(-1e-4 * 2 / 3), dtype=torch.float64), rtol=1e-5)


def test_bad_tolerances_and_steps_are_config_errors():
    with pytest.raises(ConfigError, match="rtol and atol"):
        solve(lambda t, y: y, torch.ones(1), 0.0, 1.0, rtol=0.0)
    with pytest.raises(ConfigError, match="steps"):
        solve(lambda t, y: y, torch.ones(1), 0.0, 1.0, method="rk4", steps=0)
