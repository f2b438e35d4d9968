"""The physics metric of ball videos: velocity error of a continuation (Kang et al. 2024, "How Far is Video
Generation from World Model: A Physical Law Perspective", arXiv 2411.02385, Sec. 2.3), for the ``balls`` data
(:mod:`genlab.data.balls`).

**Parsing.** Each frame (H, W) of intensities is cut into connected components of pixels above ``threshold``
(8-connectivity); a ball is a component, grown by one pixel to take in its anti-aliased rim, and its centre the
intensity-weighted centroid (not parsed, NaN, when a pixel on the frame's edge holds more than half the ball's peak
intensity: a cut ball's centroid is biased), converted to world units (x right, y up; pixel (i, j) has centre
((j + 1/2) W / size, W - (i + 1/2) W / size) with W = 10). With two balls (``collision``) ball 1 (intensity 1) is
the component with the brightest pixel (if above the midpoint 0.775 of the two intensities; otherwise ball 1 is out of
view) and ball 2 (intensity 0.55) the heaviest other one; when the two touch and
form one component, ball 1 is its pixels above the midpoint 0.775 (grown by one pixel) and ball 2 the rest.
A ball that is not found gives NaN.

**Velocity.** From the parsed centres of the generated frames only (frames k..T-1 after k given frames), by least
squares in time: a line for ``uniform`` (one velocity), a quadratic for ``parabola`` (v(t) = b + 2 c t, the
acceleration 2 c), and for ``collision`` two lines, before and after the break (the collision) that fits best
(each through at least two parsed frames). Frames whose ball was not parsed are left out of the fit. The **velocity error** of a clip is Kang et al.'s: the mean over the generated
frames (and balls) of |v_gen(t) - v_true(t)| (Euclidean norm, world units per unit time), against the true states.
The **parser floor** is the same number for the true continuation: the error of the parser itself.

**Baselines.** ``copy_last`` repeats the last given frame (its error is the true speed);
``constant_velocity`` extrapolates the parsed centres of the given frames with their least-squares velocity (exact
for uniform motion up to the parser's error; blind to gravity and collisions).
"""

from __future__ import annotations

import math

import numpy as np
import torch
from scipy import ndimage

from genlab.data.balls import DT, WORLD
from genlab.errors import ConfigError

__all__ = ["parse_centres", "estimate_velocities", "velocity_errors", "clip_velocity_error", "copy_last",
           "constant_velocity", "baseline_centres", "summarize", "BALLS", "SHADES"]

BALLS = {"uniform": 1, "parabola": 1, "collision": 2}
SHADES = (1.0, 0.55)  # the intensities of ball 1 and ball 2 (genlab.data.balls.render_clip)
_EIGHT = np.ones((3, 3), bool)


def _cut(w: np.ndarray) -> bool:
    """Whether a ball's pixels ``w`` reach the frame's edge with more than half its peak intensity."""
    rim = np.concatenate([w[0], w[-1], w[:, 0], w[:, -1]])
    return bool(rim.max() > 0.5 * w.max())


def _centre(img: np.ndarray, region: np.ndarray) -> tuple[float, float]:
    w = img * region
    total = w.sum()
    if total <= 0 or _cut(w):  # a ball cut by the frame's edge has a biased centroid: not parsed
        return math.nan, math.nan
    size = img.shape[0]
    rows, cols = np.indices(img.shape)
    r, c = (w * rows).sum() / total, (w * cols).sum() / total
    return (c + 0.5) * WORLD / size, WORLD - (r + 0.5) * WORLD / size


def _parse_frame(img: np.ndarray, balls: int, threshold: float) -> np.ndarray:
    out = np.full((balls, 2), np.nan)
    labels, n = ndimage.label(img > threshold, structure=_EIGHT)
    if n == 0:
        return out
    ids = np.arange(1, n + 1)
    mass = ndimage.sum(img, labels, ids)
    grow = lambda region: ndimage.binary_dilation(region, _EIGHT)  # noqa: E731 - the anti-aliased rim
    if balls == 1:
        out[0] = _centre(img, grow(labels == ids[np.argmax(mass)]))
        return out
    peak = np.asarray(ndimage.maximum(img, labels, ids))
    first = ids[np.argmax(peak)]
    others = ids[ids != first]
    split = (SHADES[0] + SHADES[1]) / 2
    if peak.max() <= split:  # ball 1 is out of view: the heaviest component is ball 2
        out[1] = _centre(img, grow(labels == ids[np.argmax(mass)]))
        return out
    if len(others):
        one = grow(labels == first)
        out[0] = _centre(img, one)
        two = grow(labels == others[np.argmax(mass[others - 1])]) & ~one
        out[1] = _centre(img, two)
        return out
    comp = labels == first  # the two balls touch: split the component by intensity
    one = grow(comp & (img > split)) & comp
    out[0] = _centre(img, one)
    out[1] = _centre(img, comp & ~one)
    return out


def parse_centres(clips, balls: int = 1, *, threshold: float = 0.2) -> np.ndarray:
    """Ball centres (N, T, balls, 2) in world units from clips (N, T, 1, H, W) or one clip (T, 1, H, W)."""
    x = np.asarray(torch.as_tensor(clips).detach().cpu(), dtype=np.float64)
    if x.ndim == 4:
        x = x[None]
    if x.ndim != 5 or x.shape[2] != 1 or x.shape[3] != x.shape[4]:
        raise ConfigError(f"parse_centres needs grey square clips (N, T, 1, H, W), got shape {x.shape}")
    if balls not in (1, 2):
        raise ConfigError(f"parse_centres parses 1 or 2 balls, got {balls}")
    n, t = x.shape[:2]
    out = np.empty((n, t, balls, 2))
    for i in range(n):
        for f in range(t):
            out[i, f] = _parse_frame(x[i, f, 0], balls, threshold)
    return out


def _lstsq_poly(times: np.ndarray, pos: np.ndarray, degree: int) -> np.ndarray:
    """Velocities (len(times), 2) of the least-squares polynomial of ``degree`` through pos (F, 2) (NaN rows skipped)."""
    ok = np.isfinite(pos).all(1)
    if ok.sum() <= degree:
        return np.full((len(times), 2), np.nan)
    coef = np.polynomial.polynomial.polyfit(times[ok], pos[ok], degree)  # (degree + 1, 2), lowest power first
    deriv = np.polynomial.polynomial.polyder(coef)
    return np.polynomial.polynomial.polyval(times, deriv).T


def _two_lines(times: np.ndarray, pos: np.ndarray) -> np.ndarray:
    """Velocities (F, 2) of the best least-squares fit of two lines, before and after one break (each >= 2 frames)."""
    best, out = math.inf, np.full((len(times), 2), np.nan)
    ok = np.isfinite(pos).all(1)
    for s in range(1, len(times)):
        if ok[:s].sum() < 2 or ok[s:].sum() < 2:
            continue
        sse, vel = 0.0, []
        for part in (np.arange(len(times)) < s, np.arange(len(times)) >= s):
            coef, (res, *_) = np.polynomial.polynomial.polyfit(times[part & ok], pos[part & ok], 1, full=True)
            sse += float(np.sum(res)) if len(res) else 0.0
            vel.append(np.broadcast_to(coef[1], (int(part.sum()), 2)))
        if sse < best:
            best, out = sse, np.concatenate(vel)
    return out


def estimate_velocities(centres: np.ndarray, scenario: str, *, dt: float = DT) -> np.ndarray:
    """Velocities (N, F, B, 2) at each of the F frames of ``centres`` (N, F, B, 2) (see the module docstring)."""
    if scenario not in BALLS:
        raise ConfigError(f"unknown scenario {scenario!r}; choose from {', '.join(BALLS)}")
    c = np.asarray(centres, dtype=np.float64)
    n, f, b, _ = c.shape
    times = np.arange(f) * dt
    out = np.full(c.shape, np.nan)
    for i in range(n):
        for j in range(b):
            if scenario == "collision":
                out[i, :, j] = _two_lines(times, c[i, :, j])
            else:
                out[i, :, j] = _lstsq_poly(times, c[i, :, j], 1 if scenario == "uniform" else 2)
    return out


def velocity_errors(centres: np.ndarray, true_velocities, scenario: str, *, dt: float = DT) -> np.ndarray:
    """Per-clip velocity error (N,): mean over frames and balls of |v_est - v_true| from centres (N, F, B, 2) of the
    continuation against the true velocities (N, F, B, 2) of the same frames; NaN where a clip cannot be parsed."""
    v = estimate_velocities(centres, scenario, dt=dt)
    truth = np.asarray(torch.as_tensor(true_velocities).cpu(), dtype=np.float64)
    if truth.shape != v.shape:
        raise ConfigError(f"true velocities have shape {truth.shape}, centres {v.shape}")
    err = np.linalg.norm(v - truth, axis=-1)
    bad = ~np.isfinite(err).reshape(len(err), -1).all(1)
    out = err.reshape(len(err), -1).mean(1)
    out[bad] = np.nan
    return out


def clip_velocity_error(clips, velocities, given: int, scenario: str, *, dt: float = DT) -> np.ndarray:
    """Per-clip velocity error (N,) of the frames ``given..T-1`` of clips (N, T, 1, H, W), parsed, against the true
    velocities (N, T, B, 2)."""
    centres = parse_centres(torch.as_tensor(clips)[:, given:], BALLS[scenario])
    return velocity_errors(centres, torch.as_tensor(velocities)[:, given:], scenario, dt=dt)


def copy_last(clips, given: int) -> torch.Tensor:
    """The baseline continuation that repeats the last given frame: clips (N, T, ...) with frames given.. replaced."""
    x = torch.as_tensor(clips).clone()
    x[:, given:] = x[:, given - 1 : given]
    return x


def constant_velocity(centres: np.ndarray, given: int, frames: int, *, dt: float = DT) -> np.ndarray:
    """Centres (N, frames - given, B, 2) extrapolated from the first ``given`` parsed centres (N, >= given, B, 2) by
    their least-squares line in time (with one given frame: the ball stands still)."""
    c = np.asarray(centres, dtype=np.float64)[:, :given]
    times, future = np.arange(given) * dt, np.arange(given, frames) * dt
    out = np.full((len(c), len(future), c.shape[2], 2), np.nan)
    for i in range(len(c)):
        for j in range(c.shape[2]):
            ok = np.isfinite(c[i, :, j]).all(1)
            if not ok.any():
                continue
            deg = 1 if ok.sum() > 1 else 0
            coef = np.polynomial.polynomial.polyfit(times[ok], c[i, ok, j], deg)
            out[i, :, j] = np.polynomial.polynomial.polyval(future, coef).T
    return out


def baseline_centres(clips, given: int, scenario: str) -> dict[str, np.ndarray]:
    """The baselines' continuation centres (N, T - given, B, 2): ``copy_last`` and ``constant_velocity``."""
    x = torch.as_tensor(clips)
    c = parse_centres(x[:, :given], BALLS[scenario])
    last = np.repeat(c[:, given - 1 : given], x.shape[1] - given, 1)
    return {"copy_last": last, "constant_velocity": constant_velocity(c, given, x.shape[1])}


def summarize(errors: np.ndarray) -> dict[str, float]:
    """{"mean": the mean over parsed clips, "failed": the fraction of clips that could not be parsed}."""
    e = np.asarray(errors, dtype=np.float64)
    ok = np.isfinite(e)
    return {"mean": float(e[ok].mean()) if ok.any() else math.nan, "failed": float(1 - ok.mean()) if len(e) else 0.0}
