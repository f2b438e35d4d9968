"""Short probes of prompt following on shapes (issue 27 diagnosis): train a caption-conditioned diffusion model for a
few minutes and judge 100 seen / 100 held-out prompts at guidance 0 and 2 (joint, held-out joint, Frechet,
per-attribute accuracy on seen prompts).

    python benchmarks/prompt_probe.py dit 240 '{}'                      # DiT, per-pixel standardisation
    python benchmarks/prompt_probe.py dit 240 '{"global": true}'        # one mean and scale for all pixels
    python benchmarks/prompt_probe.py unet 240 '{}'
    python benchmarks/prompt_probe.py dit 240 '{"P_mean": 0.0}'         # more training draws at high noise
    python benchmarks/prompt_probe.py dit 300 '{"batch": 32, "P_mean": 0.5, "sample_sigma_max": 80,
        "backbone_options": {"patch": 4, "hidden": 96, "depth": 4, "heads": 4}}'   # + "text_encoder": {...}

The first four ran when the caption encoder was trained jointly with the denoiser (today: add
``"text_encoder": {"pretrain_steps": 0}``); since then it is pre-trained first and frozen by default.

The third argument: model options as JSON ("family", "batch" and "global" are read here). The 2026-12-06 outputs are
in benchmarks/results/prompt_probes_2026-12-06.txt.
"""
import json
import sys
import time

import torch

import genlab
from genlab.apps.captions import evaluate_captions

torch.set_num_threads(2)
backbone, budget = sys.argv[1], float(sys.argv[2])
extra = json.loads(sys.argv[3]) if len(sys.argv) > 3 else {}
fam = extra.pop("family", "edm")
batch = extra.pop("batch", 128)
if extra.pop("global", False):
    from genlab.data.transforms import Standardizer

    def fit(self, x, enabled=True):
        self.mean.fill_(float(x.mean()))
        self.std.fill_(float(x.std()))
        return self

    Standardizer.fit = torch.no_grad()(fit)
ds = genlab.datasets.load("shapes", n_train=20000, seed=0)
opts = {"backbone": backbone, "patience": 0, **extra}
if backbone == "dit" and "backbone_options" not in opts:
    opts["backbone_options"] = {"patch": 4, "hidden": 96, "depth": 4, "heads": 4}
m = genlab.create(fam, ds.shape, **opts)
print("params", sum(p.numel() for p in m.net.parameters()) if hasattr(m, "net") else "?", flush=True)
t0 = time.time()
m.fit(ds.train, ds.labels_train, time_budget=budget, batch_size=batch, seed=0, progress=False)
print("steps", m.trained_steps, "fit s", round(time.time() - t0), flush=True)
for w in (0.0, 2.0):
    r = evaluate_captions(m, n=100, guidance=w, seed=0)
    print(w, round(r["joint_accuracy_seen"], 3), round(r["joint_accuracy_heldout"], 3), round(r["frechet"], 1), {k: round(v, 2) for k, v in r["seen"].items()}, flush=True)
m.save(f"/tmp/probe_{backbone}_{fam}")  # for a look at the denoiser afterwards
