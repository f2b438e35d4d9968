"""Train the digits classifier behind ``genlab.metrics.frechet_digits`` and write its weights into the package.

Deterministic: one CPU thread, deterministic algorithms, every draw from generators seeded by ``--seed``; the same
command writes the same file. Trains :class:`genlab.frechet.DigitsCNN` on the training split of ``digits``
(seed 0, 1257 images) with Adam, light augmentation (random shifts by up to one pixel) and dropout, then reports
test accuracy and the metric's floor: the Frechet distance of an equal-size sample of the training split
(vs. the test split), next to that of uniform noise on [0, 17)^64.

    python benchmarks/train_digits_cnn.py                  # writes src/genlab/assets/digits_cnn.safetensors
    python benchmarks/train_digits_cnn.py --epochs 2 --out /tmp/cnn.safetensors   # quick check
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch
from safetensors.torch import save_file
from torch.nn import functional as F

import genlab
from genlab.frechet import FEATURES, DigitsCNN, feature_stats, frechet_distance
from genlab.rng import forked

DEFAULT_OUT = Path(__file__).resolve().parents[1] / "src" / "genlab" / "assets" / "digits_cnn.safetensors"


def shift(x: torch.Tensor, g: torch.Generator) -> torch.Tensor:
    """Shift each image by (dy, dx) in {-1, 0, 1}^2, filling with zeros (the digits background)."""
    out = torch.zeros_like(x)
    d = torch.randint(-1, 2, (len(x), 2), generator=g)
    padded = F.pad(x, (1, 1, 1, 1))
    for i, (dy, dx) in enumerate(d.tolist()):
        out[i] = padded[i, :, 1 + dy : 9 + dy, 1 + dx : 9 + dx]
    return out


def train(epochs: int, seed: int) -> tuple[DigitsCNN, dict]:
    ds = genlab.datasets.load("digits", seed=0)
    g = torch.Generator().manual_seed(seed)
    with forked(seed):  # parameter initialisation and dropout
        net = DigitsCNN()
        opt = torch.optim.Adam(net.parameters(), lr=2e-3, weight_decay=1e-4)
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, epochs)
        for _ in range(epochs):
            net.train()
            perm = torch.randperm(len(ds.train), generator=g)
            for i in range(0, len(perm), 64):
                b = perm[i : i + 64]
                loss = F.cross_entropy(net(shift(ds.train[b], g)), ds.labels_train[b])
                opt.zero_grad()
                loss.backward()
                opt.step()
            sched.step()
    net.eval()
    with torch.no_grad():
        acc = float((net(ds.test).argmax(1) == ds.labels_test).float().mean())
        ftest = net.features(ds.test).double()
        n = len(ds.test)
        ftrain = net.features(ds.train[torch.randperm(len(ds.train), generator=g)[:n]]).double()
        fnoise = net.features(torch.rand(n, 1, 8, 8, generator=g) * 17).double()
    ref = feature_stats(ftest)
    report = {"test_accuracy": acc, "features": FEATURES, "n_test": n,
              "frechet_train_sample": frechet_distance(*feature_stats(ftrain), *ref),
              "frechet_uniform_noise": frechet_distance(*feature_stats(fnoise), *ref)}
    return net, report


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, default=40)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = ap.parse_args()
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    net, report = train(args.epochs, args.seed)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    tensors = {k: v.contiguous() for k, v in net.state_dict().items()}
    save_file(tensors, str(args.out), metadata={k: str(v) for k, v in report.items()})
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
