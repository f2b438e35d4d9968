"""``genlab list``: the registered models, the built-in data sets, the samplers of score-based models."""

from __future__ import annotations

import json

import click

from genlab.cli.common import SETTINGS

__all__ = ["list_", "sampler_names", "sampler_rows", "model_rows", "dataset_rows"]

KINDS = ("models", "datasets", "samplers")
#: per-sample sizes at which a model's likelihood label is read: some families are exact only in low dimension
LOW_D, HIGH_D = (2,), (64,)


def sampler_rows() -> list[dict]:
    """One record per sampler: name, kind (a registry kind, or "own" for a family's own method), tags, default steps
    (None for "own") and the models that can use it (each model class's ``samplers()``)."""
    import genlab  # noqa: F401  (registers every model)
    from genlab.diffusion.samplers import SAMPLERS
    from genlab.registry import MODELS

    users: dict[str, list[str]] = {}
    for name in MODELS.names():
        for sampler in MODELS[name].samplers():
            users.setdefault(sampler, []).append(name)
    rows = [{"name": s.name, "kind": s.kind, "tags": sorted(s.tags), "default_steps": s.default_steps,
             "models": users.get(s.name, [])} for s in (SAMPLERS[n] for n in SAMPLERS.names())]
    return rows + [{"name": n, "kind": "own", "tags": [], "default_steps": None, "models": users[n]}
                   for n in sorted(set(users) - set(SAMPLERS))]


def sampler_names() -> list[str]:
    """The sampler records as aligned text lines."""
    return [f"{r['name']:<18} {r['kind']:<11} {','.join(r['tags']):<24} {' '.join(r['models'])}".rstrip()
            for r in sampler_rows()]


def _likelihood(cls, shape) -> str:
    """The likelihood label an instance of ``cls`` reports for samples of ``shape``; the class's own label for a
    family that cannot be built for that shape (e.g. a video model given a vector shape)."""
    from genlab.errors import GenlabError

    try:
        return cls(shape).likelihood
    except GenlabError:
        return cls.likelihood


def model_rows() -> list[dict]:
    """One record per registered model: its likelihood label as an instance reports it, in low and high dimension."""
    import genlab

    rows = []
    for name in genlab.models.names():
        cls = genlab.models.get(name)
        doc = (cls.__doc__ or "").strip().splitlines()
        low, high = (_likelihood(cls, shape) for shape in (LOW_D, HIGH_D))
        rows.append({"name": name, "likelihood": low, "likelihood_high_dim": high, "conditional": bool(cls.conditional),
                     "kinds": list(cls.kinds), "description": doc[0] if doc else ""})
    return rows


def dataset_rows() -> list[dict]:
    import genlab

    return [{"name": n, "source": genlab.datasets.source(n), "kind": genlab.datasets.kind(n)}
            for n in genlab.datasets.names()]


def _models() -> list[str]:
    lines = []
    for r in model_rows():
        label = r["likelihood"] if r["likelihood"] == r["likelihood_high_dim"] else \
            f"{r['likelihood']}/{r['likelihood_high_dim']}"
        lines.append(f"{r['name']:<12} {label:<15} {r['description']}".rstrip())
    return [*lines, "(exact/estimate: exact divergence up to 16 dimensions by default, Hutchinson's estimate above)"]


def _datasets() -> list[str]:
    return [f"{r['name']:<16} {r['source']}" for r in dataset_rows()]


@click.command("list", context_settings=SETTINGS)
@click.argument("kind", required=False, type=click.Choice(KINDS))
@click.option("--json", "as_json", is_flag=True, help="Print JSON (records for models and data sets) instead of text.")
def list_(kind, as_json):
    """List models (name, likelihood, method), data sets (name, source) or samplers; all three when KIND is left out.

    \b
    Examples:
      genlab list
      genlab list models --json
      genlab list datasets
    """
    if as_json:
        records = {"models": model_rows, "datasets": dataset_rows, "samplers": sampler_rows}
        out = records[kind]() if kind is not None else {k: fn() for k, fn in records.items()}
        click.echo(json.dumps(out))
        return
    sections = {"models": _models, "datasets": _datasets, "samplers": sampler_names}
    if kind is not None:
        for line in sections[kind]():
            click.echo(line)
        return
    for i, (title, fn) in enumerate(sections.items()):
        click.echo(("\n" if i else "") + f"{title}:")
        for line in fn():
            click.echo(f"  {line}")
