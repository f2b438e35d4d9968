"""The ``balls`` videos: closed-form physics held exactly by the stored states, frames that show those states,
out-of-distribution splits in their stated ranges, and clip files in and out."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import genlab
from genlab.data.balls import DT, WORLD, G, render_clip, simulate
from genlab.data.kinds.video import read_video, write_video
from genlab.errors import DataError


def _rng(k=0):
    return np.random.default_rng(k)


def test_uniform_motion_is_uniform_and_the_frames_show_it():
    pos, vel, r = simulate("uniform", 50, _rng())
    assert np.allclose(np.diff(pos[..., 0], axis=1), vel[:, 1:, :, 0] * DT) and np.allclose(np.diff(pos[..., 1], 1), 0)
    speed = np.abs(vel[:, 0, 0, 0])
    assert (speed >= 1).all() and (speed <= 4).all() and (r >= 0.7).all() and (r <= 1.5).all()
    clip = render_clip(pos[0], r[0])[:, 0]  # the intensity-weighted centre of each frame is the ball's centre
    grid = (np.arange(32) + 0.5) * WORLD / 32
    cx = (clip.sum(1) * grid).sum(1) / clip.sum((1, 2))
    cy = WORLD - (clip.sum(2) * grid).sum(1) / clip.sum((1, 2))
    assert np.abs(cx - pos[0, :, 0, 0]).max() < 0.05 and np.abs(cy - pos[0, :, 0, 1]).max() < 0.05


def test_collisions_conserve_momentum_and_energy_and_balls_never_overlap():
    pos, vel, r = simulate("collision", 200, _rng(1))
    m = r**2
    p = (m[:, None] * vel[..., 0]).sum(-1)
    e = (m[:, None] * vel[..., 0] ** 2).sum(-1)
    assert np.allclose(p, p[:, :1]) and np.allclose(e, e[:, :1])
    gap = pos[:, :, 1, 0] - pos[:, :, 0, 0] - r.sum(1)[:, None]
    assert (gap > -1e-9).all() and (np.abs(gap).min(1) < 0.5).all()  # they meet within the clip, never overlap
    assert (vel[:, 0, 0, 0] > 0).all() and (vel[:, 0, 1, 0] < 0).all()  # moving toward each other first


def test_parabola_falls_with_gravity():
    pos, vel, _ = simulate("parabola", 40, _rng(2))
    assert np.allclose(np.diff(vel[..., 1], axis=1), -G * DT) and np.allclose(np.diff(vel[..., 0], axis=1), 0)
    mid = (pos[:, 2:] - 2 * pos[:, 1:-1] + pos[:, :-2])[..., 1] / DT**2
    assert np.allclose(mid, -G)


@pytest.mark.parametrize("split, attr, below, lo, hi", [("ood_velocity", "velocities", 0.8, 4.5, 6.0),
                                                          ("ood_radius", "radii", 0.6, 1.5, 2.0)])
def test_out_of_distribution_splits_lie_outside_the_training_ranges(split, attr, below, lo, hi):
    ds = genlab.datasets.load("balls", n_train=20, n_test=60, seed=1)
    assert ds.kind == "video" and ds.shape == (16, 1, 32, 32) and ds.encoder.kind == "video"
    values = ds.info[split][attr]
    values = values[:, 0, 0, 0].abs() if attr == "velocities" else values[:, 0]
    assert ((values <= below + 1e-9) | ((values >= lo) & (values <= hi))).all()
    assert (values <= below).any() and (values >= lo).any()  # both sides of the training range
    assert ds.info[split]["x"].shape == (60, 16, 1, 32, 32)


def test_clip_files_round_trip_and_bad_files_are_one_line_errors(tmp_path):
    ds = genlab.datasets.load("balls_collision", n_train=4, n_test=2, seed=0)
    write_video(ds.train[0], tmp_path / "clip.gif")
    back = read_video(tmp_path / "clip.gif")
    assert back.shape == (16, 3, 32, 32) and np.abs(back[:, :1] - ds.train[0].numpy()).max() <= 1 / 255 + 1e-6
    (tmp_path / "broken.gif").write_bytes(b"GIF89a not really")
    with pytest.raises(DataError, match="could not read .*broken.gif as a video") as err:
        read_video(tmp_path / "broken.gif")
    assert "\n" not in str(err.value)
    with pytest.raises(DataError, match=r"frames of shape \(1, 16, 16\) do not match the run's \(1, 32, 32\)"):
        ds.encoder.encode(torch.zeros(16, 1, 16, 16))
