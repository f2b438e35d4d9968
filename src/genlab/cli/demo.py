"""``genlab demo``: train the best available model on ``eight_gaussians`` for about a minute, then sample, plot
and evaluate it, writing everything into ``runs/demo/``."""

from __future__ import annotations

import math
import time
from pathlib import Path

import click

from genlab.cli.common import POSITIVE_FLOAT, SETTINGS, say, write_json
from genlab.cli.rundir import save_run

__all__ = ["demo", "DEMO_MODEL", "DEMO_DATA", "pick_model", "plan_evaluation"]

DEMO_MODEL = ("vp_sde", "nsf", "maf", "gmm")  # the first registered name is trained
DEMO_DATA = "eight_gaussians"
EVAL_SECONDS = 30.0  # rough budget of log-density evaluations after training (test NLL, KL, density grid)


def pick_model(candidates=DEMO_MODEL) -> str:
    """The first of ``candidates`` that is registered."""
    import genlab
    from genlab.errors import ConfigError

    registered = set(genlab.models.names())
    for name in candidates:
        if name in registered:
            return name
    raise ConfigError(f"none of the demo models {', '.join(candidates)} is registered")


def plan_evaluation(model, x, seconds: float = EVAL_SECONDS) -> dict[str, int]:
    """Sizes of the test set, the KL sample and the density grid that fit ``seconds`` of ``model.log_prob``,
    judged from one timed call on 256 points (slow likelihoods, e.g. an ODE, get smaller sizes)."""
    t0 = time.perf_counter()
    model.log_prob(x[:256], seed=0)
    per_point = max((time.perf_counter() - t0) / min(256, len(x)), 1e-7)
    share = seconds / 3 / per_point  # a third each for the test NLL, the KL estimate and the grid

    def clamp(v, lo, hi):
        return int(min(max(v, lo), hi))

    return {"n_test": clamp(share // 100 * 100, 256, len(x)), "n_samples": clamp(share, 200, 1000), "grid": clamp(math.sqrt(share), 40, 150)}


@click.command("demo", context_settings=SETTINGS)
@click.option("--out", default="runs/demo", metavar="DIR", help="Where to write the run (overwritten).")
@click.option("--model", "model_name", default=None, help=f"Model to train (default: the first registered of {', '.join(DEMO_MODEL)}).")
@click.option("--time-budget", type=POSITIVE_FLOAT, default=60.0, metavar="SECONDS", help="Training time.")
@click.option("--seed", type=int, default=0, help="Seed of the data and of training.")
@click.option("--quiet", is_flag=True, help="No progress bar and no summary.")
def demo(out, model_name, time_budget, seed, quiet):
    """Train a model on the 2-D 'eight_gaussians' set, then sample, plot and evaluate it (< 3 minutes).

    Writes DIR/ with the checkpoint, history.json, train.json, samples.png (samples over the test data),
    density.png (model density beside the true one) and metrics.json, and prints a summary.

    \b
    Examples:
      genlab demo
      genlab demo --model nsf --time-budget 30 --out runs/nsf-demo
    """
    import genlab
    from genlab import plots
    from genlab.cli.evaluate import evaluate_run
    from genlab.cli.train import fit_model

    name = model_name or pick_model()
    genlab.models.get(name)
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise click.BadParameter(f"'{out}' is a file, not a directory", param_hint="--out")
    ds = genlab.datasets.load(DEMO_DATA, seed=seed)
    say(f"genlab demo: training '{name}' on {DEMO_DATA} ({ds.train.shape[0]} points) for {time_budget:g} s ...", quiet)
    model = fit_model(name, ds, {}, time_budget=time_budget, seed=seed, quiet=quiet)
    save_run(out, model, {"data": DEMO_DATA, "seed": seed, "time_budget_s": time_budget, "n_train": int(ds.train.shape[0])})

    lim = round(1.15 * float(ds.test.abs().max()), 1)
    samples = model.sample(1000, seed=seed)
    plots.scatter_samples(samples, out / "samples.png", title=f"{name}: samples over the test data",
                          reference=ds.test[:2000], lim=lim)
    has_density = model.likelihood != "none"
    plan = plan_evaluation(model, ds.test) if has_density else {"n_test": len(ds.test), "n_samples": 1000, "grid": 0}
    if has_density:
        plots.density_comparison(lambda p: model.log_prob(p, seed=seed), ds.log_prob, out / "density.png", lim=lim,
                                 grid=plan["grid"], title=f"{name} ({model.likelihood} likelihood) vs. truth")
    metrics = evaluate_run(model, ds, seed=seed, n_samples=plan["n_samples"], n_test=plan["n_test"])
    test = ds.test[: plan["n_test"]]
    metrics.update(model=name, data=DEMO_DATA, steps=len(model.history), train_time_s=model.fit_time,
                   true_nll=float(-ds.log_prob(test).mean()))
    write_json(out / "metrics.json", metrics)
    if quiet:
        return
    say(f"  model        {name} ({model.likelihood} likelihood), {len(model.history)} steps in {model.fit_time:.1f} s")
    if "nll" in metrics:
        say(f"  test NLL     {metrics['nll']:.3f} nats  (true entropy of the {len(test)} test points: "
            f"{metrics['true_nll']:.3f} nats)")
    if "kl_to_truth" in metrics:
        say(f"  KL to truth  {metrics['kl_to_truth']:.3f} +- {metrics['kl_stderr']:.3f} nats")
    say(f"  sliced W1    {metrics['sliced_wasserstein']:.3f}   MMD^2 {metrics['mmd']:.2g}")
    files = ["model.safetensors", "config.json", "history.json", "train.json", "samples.png",
             *(["density.png"] if has_density else []), "metrics.json"]
    say(f"  wrote        {out}/: {', '.join(files)}")
    say(f"next: genlab sample {out} -n 1000 --out samples.npy --plot samples.png;  genlab eval {out} --data {DEMO_DATA}")
