"""``genlab distill``: a consistency model or a rectified flow distilled from a trained diffusion or flow run."""

from __future__ import annotations

import click

from genlab.cli.common import POSITIVE_FLOAT, POSITIVE_INT, SETTINGS, say
from genlab.cli.rundir import check_target, load_run, save_run

__all__ = ["distill"]


@click.command("distill", context_settings=SETTINGS)
@click.argument("run_dir")
@click.option("--to", "to", required=True, type=click.Choice(["consistency", "reflow"]),
              help="consistency: consistency distillation; reflow: a rectified flow on the teacher's ODE pairs.")
@click.option("--steps", type=POSITIVE_INT, default=None, metavar="N", help="Training steps of the student.")
@click.option("--time-budget", type=POSITIVE_FLOAT, default=None, metavar="SECONDS",
              help="Wall-clock budget for drawing the teacher's samples and training.")
@click.option("--out", required=True, metavar="RUN_DIR", help="Run directory to write the student to.")
@click.option("--n-samples", type=POSITIVE_INT, default=None, metavar="N",
              help="Teacher ODE draws to train on (default 10000).")
@click.option("--seed", type=int, default=0, metavar="N", help="Seed of the teacher's draws and of training.")
@click.option("--quiet", is_flag=True, help="No progress bar and no summary.")
@click.option("--force", is_flag=True, help="Overwrite a run directory that already holds a checkpoint.")
def distill(run_dir, to, steps, time_budget, out, n_samples, seed, quiet, force):
    """Distil the diffusion or flow model in RUN_DIR into a few-step student saved to --out.

    Needs no data: the student trains on draws of the teacher's probability-flow ODE.

    \b
    Examples:
      genlab distill runs/fm --to reflow --time-budget 60 --out runs/fm_reflow
      genlab distill runs/edm --to consistency --steps 5000 --out runs/edm_cd
      genlab sample runs/edm_cd -n 1000 --sampler onestep --out s.npy
    """
    from genlab.distillation import distill as run_distill

    if steps is None and time_budget is None:
        raise click.UsageError("give --steps N or --time-budget SECONDS (or both)")
    target = check_target(out, force=force)
    teacher, info = load_run(run_dir)
    student = run_distill(teacher, to=to, steps=steps, time_budget=time_budget, seed=seed, n_samples=n_samples,
                          progress=not quiet)
    facts = {"teacher_run": str(run_dir), "teacher": teacher.name, "distill_to": to, "seed": seed,
             "requested_steps": steps, "time_budget_s": time_budget, "n_samples": n_samples,
             **{k: info[k] for k in ("data", "data_path") if k in info}}
    save_run(target, student, facts)
    say(f"distilled {teacher.name} -> {student.name} ({len(student.history)} steps, {student.fit_time:.1f} s) "
        f"-> {target}", quiet)
