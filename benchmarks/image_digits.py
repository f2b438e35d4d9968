"""Sample quality on ``digits`` (1, 8, 8) at an equal training budget: U-Net / DiT diffusion vs GAN vs VAE (issue 13).

Every model is fitted with ``fit(train, time_budget=B, seed=s, dequantize=True)`` on the digits training split
(integer levels 0..16 plus fresh U[0, 1) noise per batch), in its own process slot with ``--threads`` threads.
Samples are mapped back to data units with ``(x - 0.5).clamp(0, 16)`` (the figures' convention) and scored with
:func:`genlab.metrics.frechet_digits` (Frechet distance to the test split in the features of the shipped digits
CNN) on as many samples as the test split has images. The floor is the distance of an equal-size draw of the
training split; uniform noise is the ceiling.

Also, for the diffusion models:
- class-conditional training (label dropout ``p_uncond``) and samples with classifier-free guidance weight w,
  judged by the same CNN (:func:`genlab.metrics.classify_digits`): accuracy on the requested label;
- inpainting a centre 4x4 box of each test digit with ``impute`` (replacement method, mean of 4 draws), judged by
  the same CNN: accuracy on the filled images vs on the clean ones.

Nothing here is tuned on the test split: the configurations are the families' defaults plus the backbone and a
batch of 128 for the image backbones, picked by a 120 s probe on a validation split (20% of the training split as
the Frechet reference; U-Net 35.3, DiT 96.1, MLP 52.1, validation floor 10.9; docs/benchmarks.md).

    python benchmarks/image_digits.py --budget 600 --models unet,gan --out benchmarks/results/image_digits_a
    python benchmarks/image_digits.py --budget 2 --models unet,dit,gan,vae --out /tmp/imgd    # smoke check
"""

from __future__ import annotations

import argparse
import time

import torch
from common import write_results

import genlab
from genlab.inverse import box_mask
from genlab.metrics import classify_digits, frechet_digits

#: name -> (registered model, config, conditional training)
MODELS = {
    "unet": ("edm", {"backbone": "unet", "batch_size": 128}, False),
    "dit": ("edm", {"backbone": "dit", "batch_size": 128}, False),
    "unet_cond": ("edm", {"backbone": "unet", "batch_size": 128}, True),
    "dit_cond": ("edm", {"backbone": "dit", "batch_size": 128}, True),
    "gan": ("gan", {}, False),
    "vae": ("vae", {}, False),
}
GUIDANCE = (0.0, 1.0, 2.0)


def undeq(x: torch.Tensor) -> torch.Tensor:
    return (x - 0.5).clamp(0.0, 16.0)


def evaluate(key: str, args, ds) -> dict:
    name, config, conditional = MODELS[key]
    m = genlab.create(name, ds.shape, **config)
    t0 = time.perf_counter()
    m.fit(ds.train, ds.labels_train if conditional else None, time_budget=args.budget, seed=args.seed,
          progress=False, dequantize=True)
    if args.save:
        m.save(f"{args.save}/{key}")
    row = {"model": key, "family": name, "config": config, "fit_s": round(time.perf_counter() - t0, 1),
           "steps": len(m.history)}
    n = len(ds.test)
    diffusion = "dpmpp_2m" in (m.samplers() or {})
    opts = {"steps": args.steps} if diffusion else {}
    t0 = time.perf_counter()
    if conditional:  # the marginal: labels drawn with the training split's class frequencies, no guidance
        y = ds.labels_train[torch.randperm(len(ds.labels_train), generator=torch.Generator().manual_seed(args.seed))[:n]]
        x = undeq(m.sample(n, y=y, seed=args.seed, **opts))
    else:
        x = undeq(m.sample(n, seed=args.seed, **opts))
    row.update(sample_s=round(time.perf_counter() - t0, 1), frechet=frechet_digits(x), nfe=getattr(m, "last_nfe", None))
    if conditional:
        labels = torch.arange(10).repeat_interleave(args.per_class)
        row["guided_accuracy"] = {}
        for w in GUIDANCE:
            xs = undeq(m.sample(len(labels), y=labels, guidance=w, seed=args.seed, **opts))
            row["guided_accuracy"][str(w)] = float((classify_digits(xs) == labels).float().mean())
    if diffusion and not conditional:
        row["inpaint_centre4x4"] = inpaint_centre(m, ds, seed=args.seed, fill="mean", n_samples=4, **opts)
    print(row, flush=True)
    return row


def inpaint_centre(m, ds, *, seed: int, **options) -> dict:
    """Fill the centre 4x4 box of every test digit with ``m.impute`` and judge the fills with the digits CNN.

    ``m`` was fitted with ``dequantize=True``: its ``impute`` reads and returns integer levels itself (observed
    entries at their cell centres, fills as cell value - 1/2), so the test digits go in as they are and the fills
    come back in data units; only the clamp to the levels' range [0, 16] is applied here.
    """
    x_test = ds.test
    mask = box_mask(ds.shape, (2, 2, 4, 4)).expand_as(x_test)  # the centre 4x4 box, as inverse_digits.py
    filled = m.impute(x_test, mask, seed=seed, **options).clamp(0.0, 16.0)
    truth = ds.labels_test
    mean_fill = torch.where(mask, x_test, ds.train.mean(0, keepdim=True))
    return {
        "accuracy_clean": float((classify_digits(x_test) == truth).float().mean()),
        "accuracy_filled": float((classify_digits(filled) == truth).float().mean()),
        "accuracy_mean_fill": float((classify_digits(mean_fill) == truth).float().mean()),
        "rmse_missing": float((filled - x_test)[~mask].pow(2).mean().sqrt()),
        "bias_missing": float((filled - x_test)[~mask].mean()),
    }


def table(rows: list[dict], floor: float, noise: float, budget: float) -> str:
    lines = [f"Equal training budget {budget:g} s per model; Frechet floor (training draw) {floor:.2f}, "
             f"2x floor {2 * floor:.2f}, uniform noise {noise:.1f}.", "",
             "| model | Frechet | / floor | steps | fit s | sample s | NFE | guided accuracy (w: acc) | centre 4x4 inpaint acc / clean |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        g = ", ".join(f"{w}: {a:.3f}" for w, a in r.get("guided_accuracy", {}).items()) or "-"
        ip = r.get("inpaint_centre4x4")
        ip_s = (f"{ip['accuracy_filled']:.3f} / {ip['accuracy_clean']:.3f} (mean fill {ip['accuracy_mean_fill']:.3f})"
                if ip else "-")
        lines.append(f"| {r['model']} | {r['frechet']:.2f} | {r['frechet'] / floor:.2f} | {r['steps']} | {r['fit_s']} | "
                     f"{r['sample_s']} | {r['nfe'] if r['nfe'] is not None else '-'} | {g} | {ip_s} |")
    return "\n".join(lines)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--budget", type=float, default=600.0, help="training seconds per model")
    p.add_argument("--models", default="unet,unet_cond,gan,vae", help=f"comma-separated subset of {', '.join(MODELS)}")
    p.add_argument("--steps", type=int, default=32, help="sampler steps of the diffusion models")
    p.add_argument("--per-class", type=int, default=50, help="guided samples per class")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--save", default=None, help="save each trained model under SAVE/NAME")
    p.add_argument("--out", default=None, help="results stem (writes STEM.json and STEM.md)")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    ds = genlab.datasets.load("digits", seed=args.seed)
    g = torch.Generator().manual_seed(args.seed)
    n = len(ds.test)
    floor = frechet_digits(ds.train[torch.randperm(len(ds.train), generator=g)[:n]])
    noise = frechet_digits(torch.rand((n, 1, 8, 8), generator=g) * 17)
    rows = [evaluate(k, args, ds) for k in args.models.split(",")]
    md = table(rows, floor, noise, args.budget)
    print(md)
    if args.out:
        write_results(args.out, args, {"floor": floor, "uniform_noise": noise, "rows": rows}, md)


if __name__ == "__main__":
    main()
