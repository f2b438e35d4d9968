"""``balls``: videos of balls that obey closed-form physics (procedural, seeded, offline), after Kang et al. 2024
("How Far is Video Generation from World Model: A Physical Law Perspective", arXiv 2411.02385).

A 10 x 10 world seen as ``size`` x ``size`` grey frames (black background), ``frames`` frames ``DT`` apart; balls are
discs drawn anti-aliased (4 x 4 supersampling). Three scenarios:

- ``uniform``: one ball (intensity 1) in uniform motion along x at height y, x(t) = x_0 + v t;
- ``collision``: two balls along the same horizontal line moving toward each other, masses proportional to r^2
  (discs), a perfectly elastic collision: v_1' = ((m_1 - m_2) v_1 + 2 m_2 v_2) / (m_1 + m_2) and symmetrically;
  ball 1 has intensity 1, ball 2 intensity 0.55;
- ``parabola``: one ball thrown with (v_x, v_y) under gravity ``G`` (y up in the world, down in the image).

In distribution (Kang et al.'s ranges): speed |v| in [1, 4], radius in [0.7, 1.5]. Out of distribution:
``ood_velocity`` (|v| in [0, 0.8] or [4.5, 6]) and ``ood_radius`` (radius in [0.3, 0.6] or [1.5, 2.0]).
``info`` holds each split's true states: ``positions`` (N, T, balls, 2) and ``velocities`` (N, T, balls, 2) in
world units (x right, y up), ``radii`` (N, balls), and the OOD splits as clips with their states.
"""

from __future__ import annotations

import numpy as np
import torch

from genlab.data.dataset import Dataset
from genlab.data.kinds.video import VideoEncoder
from genlab.data.split import rng_for

__all__ = ["SCENARIOS", "WORLD", "DT", "G", "simulate", "render_clip", "load_balls", "load_balls_small", "SOURCE"]

SCENARIOS = ("uniform", "collision", "parabola")
WORLD, DT, G = 10.0, 0.1, 2.0
SPEED_ID, RADIUS_ID = ((1.0, 4.0),), ((0.7, 1.5),)
SPEED_OOD, RADIUS_OOD = ((0.0, 0.8), (4.5, 6.0)), ((0.3, 0.6), (1.5, 2.0))
SOURCE = ("made by genlab: 16-frame 1 x 32 x 32 videos of balls in uniform motion (also balls_collision, "
          "balls_parabola), closed-form physics after Kang et al. 2024, with out-of-distribution splits")


def _uniform_in(ranges, n: int, rng: np.random.Generator) -> np.ndarray:
    """Draws uniform over a union of intervals (chosen in proportion to their lengths)."""
    lo, hi = np.asarray(ranges, dtype=np.float64).T
    k = rng.choice(len(lo), size=n, p=(hi - lo) / (hi - lo).sum())
    return lo[k] + (hi[k] - lo[k]) * rng.random(n)


def simulate(scenario: str, n: int, rng: np.random.Generator, *, frames: int = 16, speeds=SPEED_ID, radii=RADIUS_ID):
    """True states: positions (n, T, B, 2), velocities (n, T, B, 2), radii (n, B) (see the module docstring)."""
    t = np.arange(frames) * DT
    span = t[-1]
    if scenario == "uniform":
        r = _uniform_in(radii, n, rng)[:, None]
        v = _uniform_in(speeds, n, rng) * rng.choice([-1.0, 1.0], n)
        room = np.maximum(WORLD - 2 * r[:, 0] - np.abs(v) * span, 0.0)  # start so that the ball stays in view
        x0 = np.where(v >= 0, r[:, 0] + room * rng.random(n), WORLD - r[:, 0] - room * rng.random(n))
        y0 = r[:, 0] + (WORLD - 2 * r[:, 0]) * rng.random(n)
        pos = np.stack([x0[:, None] + v[:, None] * t, np.repeat(y0[:, None], frames, 1)], -1)[:, :, None]
        vel = np.broadcast_to(np.stack([v, np.zeros(n)], -1)[:, None, None], pos.shape).copy()
        return pos, vel, r
    if scenario == "parabola":
        r = _uniform_in(radii, n, rng)[:, None]
        speed = _uniform_in(speeds, n, rng)
        angle = rng.uniform(0.1, 0.5, n) * np.pi / 2  # launched 9-45 degrees upward, rightward or leftward
        side = rng.choice([-1.0, 1.0], n)
        vx, vy = side * speed * np.cos(angle), speed * np.sin(angle)
        x0 = np.where(side > 0, r[:, 0] + 0.5, WORLD - r[:, 0] - 0.5)
        y0 = WORLD / 2 + rng.uniform(-1.0, 1.0, n)
        x = x0[:, None] + vx[:, None] * t
        y = y0[:, None] + vy[:, None] * t - G * t**2 / 2
        pos = np.stack([x, y], -1)[:, :, None]
        vel = np.stack([np.broadcast_to(vx[:, None], x.shape), vy[:, None] - G * t], -1)[:, :, None]
        return pos, vel, r
    if scenario != "collision":
        raise ValueError(f"unknown scenario {scenario!r}")
    r = np.stack([_uniform_in(radii, n, rng), _uniform_in(radii, n, rng)], 1)
    v1, v2 = _uniform_in(speeds, n, rng), -_uniform_in(speeds, n, rng)
    m1, m2 = r[:, 0] ** 2, r[:, 1] ** 2
    tc = span * rng.uniform(0.3, 0.7, n)  # the collision happens within the clip
    xc = WORLD / 2 + rng.uniform(-1.0, 1.0, n)  # where the balls touch
    y0 = WORLD / 2 + rng.uniform(-2.0, 2.0, n)
    w1 = ((m1 - m2) * v1 + 2 * m2 * v2) / (m1 + m2)
    w2 = ((m2 - m1) * v2 + 2 * m1 * v1) / (m1 + m2)
    after = t[None] > tc[:, None]
    dt = t[None] - tc[:, None]
    x1 = xc[:, None] - r[:, :1] + np.where(after, w1[:, None], v1[:, None]) * dt
    x2 = xc[:, None] + r[:, 1:] + np.where(after, w2[:, None], v2[:, None]) * dt
    y = np.repeat(y0[:, None], frames, 1)
    pos = np.stack([np.stack([x1, y], -1), np.stack([x2, y], -1)], 2)
    vx = np.stack([np.where(after, w1[:, None], v1[:, None]), np.where(after, w2[:, None], v2[:, None])], -1)
    vel = np.stack([vx, np.zeros_like(vx)], -1)
    return pos, vel, r


def render_clip(pos: np.ndarray, r: np.ndarray, size: int = 32) -> np.ndarray:
    """Frames (T, 1, size, size) of discs at world positions pos (T, B, 2) with radii r (B,)."""
    ss = 4 * size
    grid = (np.arange(ss) + 0.5) * WORLD / ss
    gx, gy = grid[None, :], WORLD - grid[:, None]  # image rows run downward, world y upward
    out = np.zeros((len(pos), ss, ss))
    shades = (1.0, 0.55)
    for f, balls in enumerate(pos):
        for b, (x, y) in enumerate(balls):
            disc = (gx - x) ** 2 + (gy - y) ** 2 <= r[b] ** 2
            out[f] = np.maximum(out[f], shades[b] * disc)
    return out.reshape(len(pos), size, 4, size, 4).mean((2, 4))[:, None].astype(np.float32)


def _split(scenario, n, seed, stream, size, frames, **ranges):
    rng = rng_for(seed, 6, stream)
    pos, vel, r = simulate(scenario, n, rng, frames=frames, **ranges)
    clips = np.stack([render_clip(p, rr, size) for p, rr in zip(pos, r, strict=True)]) if n else \
        np.zeros((0, frames, 1, size, size), np.float32)
    states = {"positions": torch.from_numpy(pos), "velocities": torch.from_numpy(vel), "radii": torch.from_numpy(r)}
    return torch.from_numpy(clips), states


def load_balls(name: str = "balls", *, n_train=None, n_test=None, seed: int = 0, size: int = 32,
               frames: int = 16) -> Dataset:
    """``n_train`` (default 2,000) training and ``n_test`` (default 200) test clips in distribution, and ``n_test``
    clips of each out-of-distribution split in ``info`` (``name``: balls = uniform, balls_collision,
    balls_parabola)."""
    scenario = {"balls": "uniform", "balls_collision": "collision", "balls_parabola": "parabola"}.get(name, "uniform")
    n_train = 2_000 if n_train is None else n_train
    n_test = 200 if n_test is None else n_test
    train, s_train = _split(scenario, n_train, seed, 0, size, frames)
    test, s_test = _split(scenario, n_test, seed, 1, size, frames)
    ood_v, s_v = _split(scenario, n_test, seed, 2, size, frames, speeds=SPEED_OOD)
    ood_r, s_r = _split(scenario, n_test, seed, 3, size, frames, radii=RADIUS_OOD)
    info = {"scenario": scenario, "dt": DT, "world": WORLD, "gravity": G, "states_train": s_train,
            "states_test": s_test, "ood_velocity": {"x": ood_v, **s_v}, "ood_radius": {"x": ood_r, **s_r}}
    return Dataset(name=name, train=train, test=test, kind="video", encoder=VideoEncoder().fit(train), info=info)


def load_balls_small(name: str = "balls_small", *, n_train=None, n_test=None, seed: int = 0) -> Dataset:
    """Uniform motion at 8 frames of 16 x 16 (256 training and 32 test clips by default): quick runs and tests."""
    return load_balls("balls", n_train=256 if n_train is None else n_train, n_test=32 if n_test is None else n_test,
                      seed=seed, size=16, frames=8)
