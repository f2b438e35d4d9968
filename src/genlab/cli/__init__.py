"""genlab's command line: ``genlab list | train | sample | eval | impute | demo``.

``main(argv)`` runs the command line and returns the exit status (it never raises): 0 on success,
2 for bad input or usage (one line ``genlab: error: ...`` on stderr, no traceback), 1 for an internal
error (one line; the traceback too when the environment variable ``GENLAB_DEBUG`` is set).

Layout: :mod:`genlab.cli.app` holds the click group, the error mapping and the list of commands;
each command lives in its own module (``listing``, ``train``, ``sample``, ``evaluate``, ``impute``, ``bench``,
``demo``, ...).
To add a command, write ``genlab/cli/<name>.py`` with a ``click.command`` and add it to ``COMMANDS`` in ``app.py``.
"""

from genlab.cli.app import cli, main

__all__ = ["cli", "main"]
