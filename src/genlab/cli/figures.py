"""``genlab figures``: draw the figures of the theory (:mod:`genlab.figures`) as NAME.png + NAME.json."""

from __future__ import annotations

import click

from genlab.cli.common import SETTINGS, say

__all__ = ["figures"]


@click.command("figures", context_settings=SETTINGS)
@click.option("--out", "out", default="figs", type=click.Path(file_okay=False), help="output folder")
@click.option("--only", "only", default=None, metavar="NAME[,NAME...]", help="draw only these figures")
@click.option("--threads", type=click.IntRange(min=1), default=1,
              help="torch threads (the figures' networks are small: one thread is fastest)")
@click.option("--quiet", is_flag=True, help="print nothing but errors")
def figures(out, only, threads, quiet):
    """Draw every figure (or --only some) into OUT: each computed by the library on a 2-D mixture with a known
    score, or on digits, from small shipped weights.

    \b
    Names: score_field, langevin, perturbation, sde_paths, reverse_paths, likelihood, inpainting, colorization,
           guidance, score_matching, classifier_guidance
    """
    import torch

    from genlab.figures import run

    names = None if only is None else [n.strip() for n in only.split(",") if n.strip()]
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        results = run(names, out, log=None if quiet else (lambda line: say(line)))
    finally:
        torch.set_num_threads(before)
    say(f"{len(results)} figure{'s' if len(results) != 1 else ''} in {out}", quiet)
