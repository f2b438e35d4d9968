"""``genlab sample``: draw samples from a trained run and save them as .npy, .csv or a .png image grid."""

from __future__ import annotations

import json
import time

import click

from genlab.cli.common import POSITIVE_FLOAT, POSITIVE_INT, SETTINGS, check_suffix, device_option, say
from genlab.cli.plotting import check_plottable, plot_samples
from genlab.cli.rundir import load_run, training_source
from genlab.cli.text_io import is_text_run, reject_text_options, sample_text, write_texts

__all__ = ["sample", "OUT_SUFFIXES"]

OUT_SUFFIXES = (".npy", ".csv", ".png", ".txt")


def _check_out(out, model) -> None:
    """DataError when ``out`` is a .png but the model does not make images (C, H, W) with C in (1, 3), a table
    run's rows go anywhere but a .csv, or a text run's samples anywhere but a .txt (and only they go there)."""
    from genlab.errors import DataError

    if is_text_run(model) and out.suffix.lower() != ".txt":
        raise DataError(f"model '{model.name}' makes text: write its samples to a .txt, not {out.suffix}")
    if not is_text_run(model) and out.suffix.lower() == ".txt":
        raise DataError(f"--out .txt holds text, but model '{model.name}' makes samples of shape "
                        f"{tuple(model.shape)}; write .npy or .csv (.png takes images)")
    if getattr(model.data_encoder, "kind", None) == "table" and out.suffix.lower() != ".csv":
        raise DataError(f"model '{model.name}' makes table rows: write them to a .csv, not {out.suffix}")
    shape = tuple(model.shape)
    if out.suffix.lower() == ".png" and not (len(shape) == 3 and shape[0] in (1, 3)):
        raise DataError(f"--out .png writes an image grid, but model '{model.name}' makes samples of shape "
                        f"{shape}, not images (C, H, W); write .npy or .csv (and --plot for a 2-D scatter)")


def _write(x, out, model) -> None:
    """.npy: (n, *shape); .csv: one row per sample, flattened, columns x0..x{D-1}; .png: an image grid."""
    from genlab import plots
    from genlab.cli.impute import write_array

    suffix = out.suffix.lower()
    if suffix == ".png":
        _check_out(out, model)
        out.parent.mkdir(parents=True, exist_ok=True)
        plots.image_grid(x, out, title=f"{model.name}: {len(x)} samples")
        return
    if type(x).__name__ == "DataFrame":  # a table run: the table's own columns and types
        write_array(x, out)
        return
    flat = x.reshape(len(x), -1) if suffix == ".csv" else x
    write_array(flat, out, [f"x{i}" for i in range(flat.shape[1])] if suffix == ".csv" else None)


def _check_prompt(prompt: str, label, model, run_dir) -> None:
    """One-line errors (exit 2) for a prompt the run cannot take: with --label, to a run trained neither on text (the
    prompt begins each sample) nor on captions (the prompt is the caption), an empty caption, or characters the
    run's tokenizer never saw (a text run's char vocabulary, or a captioned run's caption tokenizer)."""
    from genlab.checks import not_both
    from genlab.errors import ConfigError, DataError

    not_both("--label", label is not None, "--prompt", True)
    tokenizer = model.data_encoder if is_text_run(model) else getattr(model, "label_encoder", None)
    if tokenizer is None:
        how = "unconditional" if model.num_classes is None else "trained on class labels (use --label)"
        raise ConfigError(f"run '{run_dir}' ({model.name}) is {how}, not on captions or text: --prompt needs a run "
                          "trained on text (gpt, mdlm, ngram) or with --conditional on a captioned set (e.g. shapes)")
    if not prompt.strip() and not is_text_run(model):
        raise ConfigError("--prompt is empty; omit --prompt to sample with the null caption (unconditionally)")
    unknown = tokenizer.unknown(prompt)
    if unknown:
        raise DataError(f"--prompt has character{'s' if len(unknown) > 1 else ''} the run's tokenizer never saw: "
                        f"{', '.join(map(repr, unknown))}")


@click.command("sample", context_settings=SETTINGS)
@click.argument("run_dir")
@click.option("-n", "n", type=POSITIVE_INT, default=None, metavar="N", help="Number of samples (required unless "
              "--given-frames continues a clip).")
@click.option("--sampler", default=None, help="One of the model's samplers (see 'genlab list samplers'); "
              "default: the model's own.")
@click.option("--steps", type=POSITIVE_INT, default=None, metavar="K", help="Sampler steps, where the sampler has steps.")
@click.option("--out", default=None, metavar="FILE", help="Where to write the samples: .npy (n, *shape), .csv (one "
              "flattened sample per row, header x0,x1,...), .png (an image grid; image models only) or .txt (text "
              "runs, each sample under a '=== sample i of n ===' line; without --out they are printed). Required "
              "except for text runs.")
@click.option("--plot", default=None, metavar="FILE.png", help="Also draw them: scatter (2-D) or image grid.")
@click.option("--label", type=click.IntRange(min=0), default=None, metavar="Y",
              help="Class to generate, for a model trained with --conditional.")
@click.option("--prompt", default=None, metavar="TEXT",
              help="Text runs (gpt, mdlm, ngram): the text each sample continues. Runs trained on a captioned set "
              "(e.g. shapes): the caption to generate; an empty caption is refused (omit --prompt to sample with "
              "the null caption, i.e. unconditionally).")
@click.option("--max-new-tokens", type=POSITIVE_INT, default=None, metavar="T", help="Text runs: tokens drawn after "
              "the prompt (default 256); past the model's context the window slides.")
@click.option("--temperature", type=POSITIVE_FLOAT, default=None, metavar="TAU", help="Text runs: softmax "
              "temperature (default 1); table_ar / table_diffusion runs: sampling temperature (below 1: rows "
              "contracted toward the modes).")
@click.option("--top-k", type=POSITIVE_INT, default=None, metavar="K", help="Text runs: draw from the K most "
              "probable tokens only.")
@click.option("--top-p", type=click.FloatRange(0, 1, min_open=True), default=None, metavar="P",
              help="Text runs: nucleus sampling, the most probable tokens whose probability reaches P.")
@click.option("--guidance", type=float, default=None, metavar="W",
              help="Classifier-free guidance weight (>= 0) with --label or --prompt (score models; 0 = none).")
@click.option("--given", "given", multiple=True, metavar="COLUMN=VALUE",
              help="Table runs: generate rows with this column set to this value (repeatable).")
@click.option("--given-frames", "given_frames", type=POSITIVE_INT, default=None, metavar="K",
              help="Video runs: continue the first K frames of --input or of the run's test clips (the rest generated); "
              "--out .gif or .mp4.")
@click.option("--input", "input_clip", default=None, metavar="CLIP",
              help="With --given-frames: the clip (.gif, .mp4); without it, the first -n clips (default 1) of the "
              "run's test split, side by side.")
@click.option("--seed", type=int, default=0, help="Seed of the sampler.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON summary (n, shape, files, seconds) on stdout.")
@click.option("--quiet", is_flag=True, help="No summary line.")
@device_option
def sample(run_dir, n, sampler, steps, out, plot, label, prompt, guidance, given, given_frames, input_clip, seed,
           as_json, quiet, device, **text_options):
    """Draw N samples from the model saved in RUN_DIR.

    \b
    Examples:
      genlab sample runs/gmm -n 1000 --out samples.npy
      genlab sample runs/gmm -n 1000 --out samples.csv
      genlab sample runs/vp_digits -n 64 --out grid.png
      genlab sample runs/vp -n 2000 --sampler pc --steps 500 --out s.npy --plot s.png
      genlab sample runs/vp_digits -n 64 --label 3 --guidance 1 --out threes.npy --plot threes.png
      genlab sample runs/edm_shapes -n 16 --prompt "a blue triangle at the bottom right" --guidance 2 --out grid.png
      genlab sample runs/patients -n 500 --given diagnosis=diabetes --out synth.csv
      genlab sample runs/balls --given-frames 3 --input clip.gif --out continued.gif
      genlab sample runs/balls --given-frames 3 -n 4 --out clip.gif     # 4 test clips of the run's data, continued
      genlab sample runs/gpt --prompt "The model" --max-new-tokens 300 -n 3 --out stories.txt
    """
    from genlab.checks import available
    from genlab.errors import ConfigError

    if given_frames is not None or input_clip is not None:  # continue a clip (genlab.apps.video)
        from genlab.apps.video import continue_file
        from genlab.data.kinds.video import VIDEO_SUFFIXES

        if given_frames is None:
            raise click.UsageError("--input needs --given-frames K (the frames of the clip to keep)")
        out = check_suffix(out, VIDEO_SUFFIXES, "--out")
        if input_clip is None:  # the first n clips of the run's own test split
            from genlab.apps.video import continue_test_clips

            model, info = load_run(run_dir, device)
            result = continue_test_clips(model, training_source(info, run_dir), int(info.get("seed", 0)),
                                         given_frames, n or 1, out, seed=seed, steps=steps, sampler=sampler)
            input_clip = result["input"]
        else:
            result = continue_file(lambda: load_run(run_dir, device)[0], input_clip, given_frames, out, seed=seed,
                                   steps=steps, sampler=sampler)
        if as_json:
            click.echo(json.dumps(result))
        else:
            say(f"wrote {result['frames']} frames ({given_frames} given from {input_clip}) to {out}", quiet)
        return
    if n is None:
        raise click.UsageError("missing option '-n' (the number of samples)")

    out = None if out is None else check_suffix(out, OUT_SUFFIXES, "--out")
    if out is not None and out.is_dir():
        raise click.BadParameter(f"'{out}' is a directory; give a file name", param_hint="--out")
    plot = check_suffix(plot, (".png",), "--plot") if plot else None
    model, _ = load_run(run_dir, device)
    if is_text_run(model):  # continuations of --prompt (genlab.cli.text_io)
        for flag, value in (("--plot", plot), ("--label", label), ("--guidance", guidance), ("--given", given)):
            if value not in (None, ()):
                raise ConfigError(f"{flag} does not apply to text runs; model '{model.name}' continues --prompt")
        if out is not None:
            _check_out(out, model)
        if prompt is not None:
            _check_prompt(prompt, label, model, run_dir)
        record = sample_text(model, n, prompt=prompt or "", out=out, seed=seed, steps=steps, sampler=sampler,
                             **text_options)
        if as_json:
            click.echo(json.dumps(record))
        elif out is None:
            click.echo(write_texts(record["samples"], None), nl=False)
        else:
            say(f"wrote {n} samples of {record['max_new_tokens']} new tokens to {out}", quiet)
        return
    temperature = text_options.pop("temperature") if model.takes_sample_option("temperature") else None
    reject_text_options(text_options, model)
    if out is None:
        raise click.UsageError("missing option '--out' (where to write the samples)")
    if sampler is not None:
        available("sampler", sampler, sorted(model.samplers()), model.name)
    if plot is not None:
        check_plottable(model.shape)
    _check_out(out, model)  # before any sampling
    if guidance is not None and guidance < 0:
        raise ConfigError(f"--guidance must be >= 0, got {guidance:g}")
    if prompt is not None:
        _check_prompt(prompt, label, model, run_dir)
        label = prompt
    if guidance is not None and label is None:
        raise ConfigError("--guidance needs --label or --prompt")
    options = {k: v for k, v in (("sampler", sampler), ("steps", steps), ("guidance", guidance),
                                 ("temperature", temperature)) if v is not None}
    if given:
        if getattr(model.data_encoder, "kind", None) != "table":
            raise ConfigError(f"--given applies to table runs; '{run_dir}' models {'x'.join(map(str, model.shape))} "
                              "tensors")
        from genlab.data.kinds.given import parse_given

        options["given"] = parse_given(model.data_encoder, given)
    t0 = time.perf_counter()
    x = model.sample(n, y=label, seed=seed, **options)
    seconds = time.perf_counter() - t0
    _write(x if type(x).__name__ == "DataFrame" else x.numpy(), out, model)
    if plot is not None:
        plot_samples(x, plot, title=f"{model.name}: {n} samples")
    if as_json:
        click.echo(json.dumps({"model": model.name, "n": n, "shape": list(model.shape), "out": str(out),
                               "plot": None if plot is None else str(plot), "seed": seed, "sample_time_s": seconds}))
        return
    what = (f"rows of {len(x.columns)} columns" if type(x).__name__ == "DataFrame"
            else f"samples of shape {tuple(model.shape)}")
    say(f"wrote {n} {what} to {out}" + (f" and {plot}" if plot else ""), quiet)
