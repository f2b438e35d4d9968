"""``genlab train``: fit a model to a built-in set or a data file and write a run directory.

The run is durable: ``--checkpoint-every N`` commits the full training state every N steps (and Ctrl-C commits
one and exits 130), ``--resume`` continues exactly from the last one, a lock keeps a second writer out of the
directory, and the directory is checked for writability before any data is loaded. Under
``torchrun --nproc_per_node=N`` the same command trains data-parallel; rank 0 alone writes and reports.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json

import click

from genlab.cli.common import POSITIVE_FLOAT, POSITIVE_INT, SETTINGS, device_option, parse_sets, say
from genlab.cli.rundir import RunWriter, check_target, data_reference, load_resume
from genlab.data.kinds.tokenizers import TOKENIZERS

__all__ = ["train", "fit_model", "read_config"]


def read_config(path, config_cls, model: str) -> dict:
    """Model config keys from the TOML file ``path`` (top-level ``key = value``), checked against ``config_cls``."""
    from pathlib import Path

    from genlab import registry
    from genlab.errors import ConfigError

    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib
    try:
        values = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"--config {path}: cannot read it ({exc.strerror or exc})") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"--config {path}: not valid TOML ({exc})") from None
    tables = sorted(k for k, v in values.items() if isinstance(v, dict))
    if tables:
        raise ConfigError(f"--config {path}: tables ({', '.join(tables)}) are not supported; write the model's config "
                          "keys at the top level, as with --set")
    try:
        registry.make_config(config_cls, values, model=model)
    except ConfigError as exc:
        raise ConfigError(f"--config {path}: {exc}") from None
    return values


def fit_model(name: str, ds, overrides: dict, *, steps=None, time_budget=None, batch_size=None, lr=None, seed=0,
              quiet=False, conditional=False, checkpoint=None, model=None, device=None, precision="fp32"):
    """Create ``name`` for ``ds`` (or take ``model``) and fit it on the training split (on its labels too when
    ``conditional``) on ``device`` at ``precision``; ``checkpoint`` (a :class:`genlab.training.Checkpointer`) makes
    the run durable."""
    import genlab
    from genlab.checks import no_labels
    from genlab.errors import DataError

    cls = genlab.models.get(name)
    labels = None
    # a captioned set (text labels) trains on its captions wherever the model can take them: no flag needed
    conditional = conditional or (getattr(ds, "label_encoder", None) is not None and cls.conditional
                                  and bool(getattr(cls, "takes_captions", False)))
    if conditional:
        no_labels(name, not cls.conditional, "train it without --conditional")
        if ds.labels_train is None:
            raise DataError("--conditional needs labelled data (a built-in labelled set, .npz with 'y', or --label-column)")
        labels = ds.labels_train
    model = model if model is not None else genlab.create(name, ds.shape, **overrides)
    return model.fit(ds.train, labels, steps=steps, time_budget=time_budget, batch_size=batch_size, lr=lr,
                     seed=seed, progress=not quiet, dequantize=ds.discrete_levels is not None, checkpoint=checkpoint,
                     device=device, precision=precision)


@contextlib.contextmanager
def _run_directory(out, *, force: bool, resume: bool, main: bool):
    """Rank 0 checks that ``out`` is writable and holds its lock for the whole run; the others only read.
    A directory this run created is removed again when the run fails before committing anything."""
    from pathlib import Path

    from genlab.manifest import LOCK, check_writable, run_lock

    if not main:
        yield check_target(out, force=force, resume=resume)
        return
    out = Path(out)
    created = not out.exists()
    check_writable(out)
    try:
        with run_lock(out):
            yield check_target(out, force=force, resume=resume)
    except BaseException:
        if created and {p.name for p in out.iterdir()} <= {LOCK}:
            (out / LOCK).unlink(missing_ok=True)
            out.rmdir()
        raise


@click.command("train", context_settings=SETTINGS)
@click.argument("model")
@click.option("--data", required=True, metavar="NAME_OR_PATH",
              help="Built-in data set (see 'genlab list datasets') or a .npy/.npz/.csv file or PNG folder.")
@click.option("--steps", type=POSITIVE_INT, default=None, metavar="N", help="Training steps (with --time-budget: whichever ends first).")
@click.option("--time-budget", type=POSITIVE_FLOAT, default=None, metavar="SECONDS", help="Wall-clock training budget.")
@click.option("--out", required=True, metavar="RUN_DIR", help="Run directory to write.")
@click.option("--set", "overrides", multiple=True, callback=parse_sets, metavar="KEY=VALUE",
              help="Model config override; repeat for several (e.g. --set n_components=8).")
@click.option("--config", "config_file", default=None, metavar="FILE.toml",
              help="Model config keys from a TOML file (top-level KEY = VALUE, as with --set; --set wins).")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON summary (steps, seconds, run directory).")
@click.option("--label-column", default=None, help="CSV column (name or 0-based index) holding class labels.")
@click.option("--tokenizer", type=click.Choice(TOKENIZERS.names()), default=None,
              help="Text data: characters (default) or byte-level BPE fitted on the training split.")
@click.option("--vocab-size", type=POSITIVE_INT, default=None, metavar="N",
              help="Text data with --tokenizer bpe: tokens in the BPE vocabulary (default 1024).")
@click.option("--seed", type=int, default=0, metavar="N", help="Seed of the data split and of training.")
@click.option("--batch-size", type=POSITIVE_INT, default=None, metavar="B",
              help="Batch size per process (default: the model's config).")
@click.option("--lr", type=POSITIVE_FLOAT, default=None, metavar="LR", help="Learning rate (default: the model's config).")
@click.option("--conditional", is_flag=True, help="Train p(x | label) on the data's labels (score models, flows); "
              "captioned data (e.g. shapes) trains on its captions without it.")
@click.option("--checkpoint-every", type=POSITIVE_INT, default=None, metavar="N",
              help="Commit a resumable checkpoint every N steps (Ctrl-C also commits one).")
@click.option("--resume", is_flag=True, help="Continue the run in --out from its last checkpoint (same command).")
@click.option("--quiet", is_flag=True, help="No progress bar and no summary.")
@click.option("--force", is_flag=True, help="Overwrite a run directory that already holds a checkpoint.")
@device_option
@click.option("--precision", type=click.Choice(["fp32", "bf16"]), default="fp32",
              help="bf16: training forward passes under a bfloat16 autocast (CUDA; also the CPU).")
def train(model, data, steps, time_budget, out, overrides, config_file, as_json, label_column, tokenizer, vocab_size,
          seed, batch_size, lr, conditional, checkpoint_every, resume, quiet, force, device, precision):
    """Train MODEL on --data and save it to --out (checkpoint, history.json, train.json).

    Give --steps, --time-budget or both. With --conditional, a conditional model (score models, flows)
    learns p(x | label) from the data's labels; otherwise labels are not used. Runs under
    'torchrun --nproc_per_node=N' as data-parallel training (--batch-size is per process).

    \b
    Examples:
      genlab train gmm --data eight_gaussians --steps 1 --out runs/gmm
      genlab train nsf --data eight_gaussians --time-budget 60 --out runs/nsf --set hidden_features=128
      genlab train gmm --data wine --steps 1 --out runs/wine --config gmm.toml --set max_iter=50
      genlab train vp_sde --data points.csv --label-column class --conditional --steps 5000 --out runs/vp --force
      genlab train realnvp --data moons --steps 5000 --checkpoint-every 500 --out runs/nvp   # then, after a crash:
      genlab train realnvp --data moons --steps 5000 --checkpoint-every 500 --out runs/nvp --resume
      genlab train edm --data digits --time-budget 300 --out runs/edm --device cuda --precision bf16
      genlab train gpt --data story.txt --tokenizer bpe --vocab-size 512 --time-budget 180 --out runs/gpt
    """
    import genlab
    from genlab import registry
    from genlab.device import check_precision, resolve_device
    from genlab.training import Checkpointer, TrainingDiverged
    from genlab.training import distributed as dist

    if steps is None and time_budget is None:
        raise click.UsageError("give --steps N or --time-budget SECONDS (or both)")
    if resume and force:
        raise click.UsageError("--resume continues a run and --force overwrites it: give one of them")
    if vocab_size is not None and TOKENIZERS.get(tokenizer or "char").fixed_vocabulary:
        learned = " or ".join(TOKENIZERS.names(where=lambda cls: not cls.fixed_vocabulary))
        raise click.UsageError(f"--vocab-size sizes a learned vocabulary: give it with --tokenizer {learned}")
    text = {k: v for k, v in (("tokenizer", tokenizer), ("vocab_size", vocab_size)) if v is not None}
    if config_file is not None:
        overrides = {**read_config(config_file, genlab.models.get(model).Config, model), **overrides}
    registry.make_config(genlab.models.get(model).Config, overrides, model=model)  # fail fast, before loading data
    multi = dist.init_from_env()
    main = dist.is_main()
    device = resolve_device(device)  # after init_from_env: under torchrun "cuda" is this process's GPU
    check_precision(precision, device)
    try:
        with _run_directory(out, force=force, resume=resume, main=main) as target:
            ds = genlab.datasets.load(data, seed=seed, label_column=label_column, **text)
            net = genlab.create(model, ds, **overrides)
            info = {**data_reference(data), "label_column": label_column, "conditional": conditional,
                    "seed": seed, "requested_steps": steps, "time_budget_s": time_budget, "batch_size": batch_size,
                    "lr": lr, "overrides": overrides, "config_file": config_file, "n_train": int(ds.train.shape[0]), "processes": dist.world(),
                    **text}
            fingerprint = {"model": model, "shape": list(ds.shape), "config": dataclasses.asdict(net.config),
                           "data": data, "label_column": label_column, "conditional": conditional, "seed": seed,
                           "batch_size": batch_size, "lr": lr, "n_train": int(ds.train.shape[0]),
                           "processes": dist.world(), **text}
            writer = RunWriter(target, info, fingerprint, fresh=not resume)
            state = load_resume(target, fingerprint) if resume else None
            ckpt = Checkpointer(save=lambda s: writer.checkpoint(net, s), every=checkpoint_every, state=state)
            try:
                fitted = fit_model(model, ds, overrides, steps=steps, time_budget=time_budget, batch_size=batch_size,
                                   lr=lr, seed=seed, quiet=quiet or not main, conditional=conditional,
                                   checkpoint=ckpt, model=net, device=device, precision=precision)
            except TrainingDiverged as exc:
                raise TrainingDiverged(f"{exc} (run directory '{target}')") from None
            except KeyboardInterrupt as exc:
                raise KeyboardInterrupt(f"{exc} in '{target}'" if str(exc) else "") from None
            if main:
                writer.final(fitted)
    finally:
        if multi:
            dist.shutdown()
    if as_json and main:
        click.echo(json.dumps({"model": model, "data": data, "out": str(target), "steps": len(fitted.history),
                               "time_s": fitted.fit_time, "seed": seed}))
        return
    say(f"trained {model} on {data} ({len(fitted.history)} steps, {fitted.fit_time:.1f} s) -> {target}",
        quiet or not main)
