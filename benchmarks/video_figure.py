"""The figure of docs/video.md (issue 28): true vs generated ball trajectories, in and out of distribution.

Trains ``edm_frames`` (trained frame conditioning, video_physics.py's backbone) on ``balls`` (uniform motion) for
``--budget`` seconds, or loads ``--run``; continues the first ``--clips`` test clips of the in-distribution split and
of ``ood_velocity`` (speeds 0-0.8 and 4.5-6) after ``--given`` frames; parses the ball centres of the true and the
generated clips (``genlab.metrics.physics.parse_centres``) and plots them: one panel per clip, x and y against time,
the given frames marked. Also a strip of true and generated frames of the first clip of each split.

    python benchmarks/video_figure.py --budget 300 --out benchmarks/results/video_trajectories
Writes ``<out>.png`` and ``<out>.json`` (the centres, the per-clip velocity errors).
"""

from __future__ import annotations

import argparse
import datetime
import json
import sys
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

import genlab  # noqa: E402
from genlab.apps.video import continue_clips  # noqa: E402
from genlab.data.balls import load_balls  # noqa: E402
from genlab.metrics import physics  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from video_physics import MODELS  # noqa: E402


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--budget", type=float, default=300.0)
    p.add_argument("--run", default=None, help="a saved edm_frames run on balls instead of training")
    p.add_argument("--clips", type=int, default=3)
    p.add_argument("--given", type=int, default=3)
    p.add_argument("--n-train", type=int, default=2000)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default="benchmarks/results/video_trajectories")
    a = p.parse_args(argv)
    torch.set_num_threads(a.threads)
    ds = load_balls("balls", n_train=a.n_train, n_test=a.clips, seed=a.seed)
    t0 = time.perf_counter()
    if a.run:
        m = genlab.load(a.run)
    else:
        config, _ = MODELS["edm_frames"]
        m = genlab.create("edm_frames", ds, batch_size=32, given_frames=a.given, **config)
        m.fit(ds.train, time_budget=a.budget, seed=a.seed, progress=False)
    fit_s = time.perf_counter() - t0
    splits = {"in distribution": (ds.test[: a.clips], ds.info["states_test"]["velocities"][: a.clips]),
              "out of distribution (speed)": (ds.info["ood_velocity"]["x"][: a.clips],
                                              ds.info["ood_velocity"]["velocities"][: a.clips])}
    T = ds.test.shape[1]
    times = np.arange(T) * physics.DT
    fig, axes = plt.subplots(2, a.clips + 1, figsize=(3.2 * (a.clips + 1), 6.0), squeeze=False)
    record = {"command": "python " + " ".join(sys.argv), "date": datetime.date.today().isoformat(),
              "trained_steps": m.trained_steps, "fit_s": round(fit_s, 1), "splits": {}}
    for row, (name, (clips, vel)) in enumerate(splits.items()):
        made = continue_clips(m, clips, a.given, seed=a.seed)
        true_c, gen_c = physics.parse_centres(clips)[:, :, 0], physics.parse_centres(made)[:, :, 0]
        errors = physics.clip_velocity_error(made, vel, a.given, "uniform")
        record["splits"][name] = {"true_centres": true_c.tolist(), "generated_centres": gen_c.tolist(),
                                  "velocity_error": [float(e) for e in errors]}
        for i in range(a.clips):
            ax = axes[row, i]
            for k, (label, colour) in enumerate((("x", "tab:blue"), ("y", "tab:orange"))):
                ax.plot(times, true_c[i, :, k], "-", color=colour, label=f"true {label}")
                ax.plot(times, gen_c[i, :, k], "o--", color=colour, ms=3, label=f"generated {label}")
            ax.axvspan(times[0], times[a.given - 1], color="0.9")
            speed = float(np.linalg.norm(np.asarray(vel)[i, 0]))
            ax.set_title(f"{name}\nspeed {speed:.1f}, error {errors[i]:.2f}", fontsize=8)
            ax.set_xlabel("time")
            if i == 0:
                ax.set_ylabel("centre (world units)")
        strip = torch.cat([torch.as_tensor(clips[0])[:, 0], made[0][:, 0]], 1)  # (T, 2H, W): true above generated
        axes[row, -1].imshow(torch.cat(list(strip[:: max(1, T // 6)]), 1).numpy(), cmap="gray", vmin=0, vmax=1)
        axes[row, -1].set_title("true (top) / generated (bottom)\nframes, clip 1", fontsize=8)
        axes[row, -1].axis("off")
    axes[0, 0].legend(fontsize=6)
    fig.suptitle(f"edm_frames on balls, {m.trained_steps} steps ({fit_s:.0f} s, {a.threads} threads): shaded = given frames",
                 fontsize=9)
    fig.tight_layout()
    out = Path(a.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out.with_suffix(".png"), dpi=110)
    out.with_suffix(".json").write_text(json.dumps(record, indent=1) + "\n")
    print(f"wrote {out.with_suffix('.png')} and {out.with_suffix('.json')}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
