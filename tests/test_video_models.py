"""Video models and the physics metric of ball videos (issue 28): known answers on true clips, the video DiT in the
denoiser contract, continuation by imputation along time and by trained frame conditioning, the CLI branches."""

from __future__ import annotations

import numpy as np
import pytest

from genlab import physics
from genlab.data.balls import load_balls


@pytest.fixture(scope="module")
def uniform():
    return load_balls("balls", n_train=8, n_test=40, seed=3)


def test_parser_floor_is_small_on_true_clips(uniform):
    st = uniform.info["states_test"]
    centres = physics.parse_centres(uniform.test, 1)
    err = np.linalg.norm(centres - st["positions"].numpy(), axis=-1)
    assert np.nanmean(err) < 0.01  # world units; a pixel is 0.31
    floor = physics.summarize(physics.clip_velocity_error(uniform.test, st["velocities"], 3, "uniform"))
    assert floor["mean"] < 0.01 and floor["failed"] <= 0.15  # speeds are 1-4


def test_copy_last_error_is_the_true_speed(uniform):
    st = uniform.info["states_test"]
    err = physics.clip_velocity_error(physics.copy_last(uniform.test, 3), st["velocities"], 3, "uniform")
    speed = st["velocities"][:, 0, 0].norm(dim=-1).numpy()
    ok = np.isfinite(err)
    assert ok.mean() >= 0.85  # balls that touch the frame's edge are not parsed
    np.testing.assert_allclose(err[ok], speed[ok], atol=1e-9)  # a still ball: |0 - v| = |v|


def test_constant_velocity_is_exact_for_uniform_motion(uniform):
    st = uniform.info["states_test"]
    true_centres = st["positions"].numpy()
    extrapolated = physics.constant_velocity(true_centres, 3, true_centres.shape[1])
    np.testing.assert_allclose(extrapolated, true_centres[:, 3:], atol=1e-9)
    err = physics.velocity_errors(extrapolated, st["velocities"][:, 3:], "uniform")
    assert np.nanmax(err) < 1e-9
    parsed = physics.summarize(physics.velocity_errors(physics.baseline_centres(uniform.test, 3, "uniform")
                                                       ["constant_velocity"], st["velocities"][:, 3:], "uniform"))
    assert parsed["mean"] < 0.05  # from three parsed frames: the parser's error / (2 DT)-ish


@pytest.mark.parametrize("scenario", ["collision", "parabola"])
def test_velocity_of_true_states_is_exact(scenario):
    """From the true centres the estimator recovers the true velocities: lines around the collision, the parabola's
    derivative; copy-last and constant velocity are far off (collisions and gravity)."""
    ds = load_balls(f"balls_{scenario}", n_train=2, n_test=20, seed=1)
    st = ds.info["states_test"]
    err = physics.velocity_errors(st["positions"].numpy()[:, 3:], st["velocities"][:, 3:], scenario)
    assert np.nanmax(err) < 1e-6
    floor = physics.summarize(physics.clip_velocity_error(ds.test, st["velocities"], 3, scenario))
    base = physics.baseline_centres(ds.test, 3, scenario)
    cv = physics.summarize(physics.velocity_errors(base["constant_velocity"], st["velocities"][:, 3:], scenario))
    assert floor["mean"] < 0.1 and cv["mean"] > 10 * floor["mean"]


def test_two_balls_are_told_apart_by_intensity():
    ds = load_balls("balls_collision", n_train=2, n_test=10, seed=2)
    st = ds.info["states_test"]
    swapped = physics.parse_centres(ds.test, 2)[..., ::-1, :]
    right = np.nanmedian(np.linalg.norm(physics.parse_centres(ds.test, 2) - st["positions"].numpy(), axis=-1))
    wrong = np.nanmedian(np.linalg.norm(swapped - st["positions"].numpy(), axis=-1))
    assert right < 0.02 and wrong > 1.0
