"""The ``genlab`` click group, and the mapping of every failure to an exit status and one line on stderr.

Exit statuses: 0 success; 2 bad input or usage (every :class:`genlab.errors.GenlabError` and every click usage
error); 1 internal error; 130 when interrupted. Messages are one line, ``genlab: error: <message>``; the traceback
of an internal error is printed only when ``GENLAB_DEBUG`` is set. Warnings raised while a command runs are
collected and, when it succeeds, printed once each as ``genlab: warning: ...``.
"""

from __future__ import annotations

import os
import sys
import traceback
import warnings

import click

from genlab import __version__
from genlab.cli.common import SETTINGS
from genlab.errors import GenlabError

__all__ = ["cli", "main", "COMMANDS", "EXIT_OK", "EXIT_INTERNAL", "EXIT_USAGE"]

_NoArgsIsHelp = getattr(click.exceptions, "NoArgsIsHelpError", ())  # click >= 8.2; older click prints help itself
EXIT_OK, EXIT_INTERNAL, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def _error(message: str) -> None:
    click.echo(f"genlab: error: {_one_line(message)}", err=True)


def _usage_message(exc: click.ClickException) -> str:
    msg = exc.format_message()
    ctx = getattr(exc, "ctx", None)
    if isinstance(exc, click.UsageError) and ctx is not None:
        msg += f" (see '{ctx.command_path} --help')"
    return msg


class GenlabGroup(click.Group):
    """A click group whose ``main`` never lets an exception or a usage message escape (see the module docstring)."""

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):
        code = self._run(args, prog_name or "genlab", complete_var, **extra)
        if standalone_mode:
            sys.exit(code)
        return code

    def _run(self, args, prog_name, complete_var, **extra) -> int:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("default")
            try:
                rv = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
            except _NoArgsIsHelp as exc:  # plain 'genlab': the help, as a success
                click.echo(exc.ctx.get_help())
                return EXIT_OK
            except click.ClickException as exc:  # UsageError, BadParameter, NoSuchOption, MissingParameter, ...
                _error(_usage_message(exc))
                return EXIT_USAGE
            except GenlabError as exc:
                _error(str(exc) or type(exc).__name__)
                return EXIT_USAGE
            except (click.Abort, KeyboardInterrupt) as exc:  # click wraps a KeyboardInterrupt (and its message)
                _error(str(exc.__cause__ if isinstance(exc, click.Abort) else exc or "") or "interrupted")
                return EXIT_INTERRUPTED
            except Exception as exc:
                if os.environ.get("GENLAB_DEBUG"):
                    traceback.print_exc()
                _error(f"internal error: {type(exc).__name__}: {exc} (set GENLAB_DEBUG=1 to see the traceback)")
                return EXIT_INTERNAL
        seen = set()
        for w in caught:
            text = _one_line(f"{w.category.__name__}: {w.message}")
            if text not in seen:
                seen.add(text)
                click.echo(f"genlab: warning: {text}", err=True)
        return rv if isinstance(rv, int) else EXIT_OK


@click.group(cls=GenlabGroup, context_settings=SETTINGS)
@click.version_option(__version__, prog_name="genlab")
def cli():
    """genlab: generative models of every family behind one interface.

    \b
    Quick start:
      genlab demo                                   # train, sample, plot and evaluate on a 2-D set
      genlab list models
      genlab train nsf --data eight_gaussians --time-budget 60 --out runs/nsf
      genlab sample runs/nsf -n 2000 --out samples.npy --plot samples.png
      genlab eval runs/nsf --data eight_gaussians

    Exit status: 0 success, 2 bad input or usage, 1 internal error (GENLAB_DEBUG=1 shows the traceback).
    """


def _commands():
    from genlab.cli import apps, bench, demo, distill, evaluate, figures, impute, listing, sample, train

    return [listing.list_, train.train, sample.sample, evaluate.eval_, impute.impute, bench.bench_command, apps.classify,
            apps.anomaly, distill.distill, demo.demo, figures.figures]


COMMANDS = _commands()  # add new commands (bench, classify, anomaly) to _commands()
for _command in COMMANDS:
    cli.add_command(_command)


def main(argv=None) -> int:
    """Run the command line with ``argv`` (default: ``sys.argv[1:]``) and return the exit status.

    A torchrun worker (``WORLD_SIZE`` > 1, run as a program) ends here with ``os._exit`` once its output is flushed:
    its files are committed and the process group is gone, but gloo's C++ threads could still abort the interpreter's
    own shutdown ("terminate called without an active exception", SIGABRT) in about 1 run in 10."""
    code = cli.main(argv, prog_name="genlab", standalone_mode=False)
    if argv is None and int(os.environ.get("WORLD_SIZE", "1")) > 1:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    return code
