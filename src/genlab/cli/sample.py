"""``genlab sample``: draw samples from a trained run and save them as .npy (and optionally a PNG)."""

from __future__ import annotations

import click

from genlab.cli.common import POSITIVE_INT, SETTINGS, check_suffix, say
from genlab.cli.plotting import check_plottable, plot_samples
from genlab.cli.rundir import load_run

__all__ = ["sample"]


@click.command("sample", context_settings=SETTINGS)
@click.argument("run_dir")
@click.option("-n", "n", type=POSITIVE_INT, required=True, metavar="N", help="Number of samples.")
@click.option("--sampler", default=None, help="Sampler of score-based models (see 'genlab list samplers'); "
              "default: the model's own.")
@click.option("--steps", type=POSITIVE_INT, default=None, metavar="K", help="Sampler steps, where the sampler has steps.")
@click.option("--out", required=True, metavar="FILE.npy", help="Where to write the samples, (n, *shape).")
@click.option("--plot", default=None, metavar="FILE.png", help="Also draw them: scatter (2-D) or image grid.")
@click.option("--label", type=click.IntRange(min=0), default=None, metavar="Y",
              help="Class to generate, for a model trained with --conditional.")
@click.option("--guidance", type=float, default=None, metavar="W",
              help="Classifier-free guidance weight with --label (score models; 0 = none).")
@click.option("--seed", type=int, default=0, help="Seed of the sampler.")
@click.option("--quiet", is_flag=True, help="No summary line.")
def sample(run_dir, n, sampler, steps, out, plot, label, guidance, seed, quiet):
    """Draw N samples from the model saved in RUN_DIR.

    \b
    Examples:
      genlab sample runs/gmm -n 1000 --out samples.npy
      genlab sample runs/vp -n 2000 --sampler pc --steps 500 --out s.npy --plot s.png
      genlab sample runs/vp_digits -n 64 --label 3 --guidance 1 --out threes.npy --plot threes.png
    """
    import numpy as np

    from genlab.cli.listing import sampler_names
    from genlab.errors import ConfigError

    out = check_suffix(out, (".npy",), "--out")
    if out.is_dir():
        raise click.BadParameter(f"'{out}' is a directory; give a file name", param_hint="--out")
    plot = check_suffix(plot, (".png",), "--plot") if plot else None
    if sampler is not None and sampler not in sampler_names():
        raise ConfigError(f"unknown sampler '{sampler}'; choose from: {', '.join(sampler_names())}")
    model, _ = load_run(run_dir)
    if plot is not None:
        check_plottable(model.shape)
    if guidance is not None and label is None:
        raise ConfigError("--guidance needs --label")
    options = {k: v for k, v in (("sampler", sampler), ("steps", steps), ("guidance", guidance)) if v is not None}
    x = model.sample(n, y=label, seed=seed, **options)
    out.parent.mkdir(parents=True, exist_ok=True)
    np.save(out, x.numpy())
    if plot is not None:
        plot_samples(x, plot, title=f"{model.name}: {n} samples")
    say(f"wrote {n} samples of shape {tuple(model.shape)} to {out}" + (f" and {plot}" if plot else ""), quiet)
