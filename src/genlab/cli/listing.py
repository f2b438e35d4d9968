"""``genlab list``: the registered models, the built-in data sets, the samplers of score-based models."""

from __future__ import annotations

import click

from genlab.cli.common import SETTINGS

__all__ = ["list_", "sampler_names"]

KINDS = ("models", "datasets", "samplers")


def sampler_names() -> list[str]:
    """Names accepted by ``sampler=`` of score-based models (and the consistency models' own)."""
    from genlab.diffusion.samplers import SAMPLERS
    from genlab.families.consistency import CONSISTENCY_SAMPLERS

    return list(SAMPLERS) + list(CONSISTENCY_SAMPLERS)


def _models() -> list[str]:
    import genlab

    rows = []
    for name in genlab.models.names():
        cls = genlab.models.get(name)
        doc = (cls.__doc__ or "").strip().splitlines()
        rows.append(f"{name:<12} {cls.likelihood:<9} {doc[0] if doc else ''}".rstrip())
    return rows


def _datasets() -> list[str]:
    import genlab

    return genlab.datasets.names()


@click.command("list", context_settings=SETTINGS)
@click.argument("kind", required=False, type=click.Choice(KINDS))
def list_(kind):
    """List models (name, likelihood, method), data sets or samplers; all three when KIND is left out.

    \b
    Examples:
      genlab list
      genlab list models
      genlab list datasets
    """
    sections = {"models": _models, "datasets": _datasets, "samplers": sampler_names}
    if kind is not None:
        for line in sections[kind]():
            click.echo(line)
        return
    for i, (title, fn) in enumerate(sections.items()):
        click.echo(("\n" if i else "") + f"{title}:")
        for line in fn():
            click.echo(f"  {line}")
