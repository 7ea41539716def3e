"""The command line: thin click wrappers over the library.

Each command parses its options, calls one library function and formats the result. Library
errors (:class:`~convcalc.errors.ConvcalcError`) become exit code 2 with a one-line message.
Heavy modules (pydantic, YAML) are imported inside the commands that need them, so that
``convcalc --help`` and ``convcalc solve`` start fast.
"""

from __future__ import annotations

import contextlib
import errno
import os
import sys

import click

from convcalc import __version__
from convcalc.cli.analyse import costs, draw, lint, report, schema, shape, zoo
from convcalc.cli.frameworks import export, import_model
from convcalc.cli.solve import solve
from convcalc.cli.teach import check, identities, mlp, quiz


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="convcalc")
def cli() -> None:
    """Exact shapes, parameters and inverse solutions for convolutional layer stacks.

    Specs are YAML files (see the README); bundled ones are used by name (`convcalc zoo`).
    """


_IO_ERRORS = {errno.ENOSPC, errno.EIO, errno.EBADF, errno.EDQUOT, errno.EFBIG}


def _prepare_streams() -> None:
    """Output that cannot be written is said at once: a closed standard output, or one whose
    encoding cannot show "→" and "×" (they are escaped rather than failing half-way)."""
    if sys.stdout is None:
        if sys.stderr is not None:
            sys.stderr.write("convcalc: standard output is closed: nothing can be written\n")
        sys.exit(2)
    for stream in (sys.stdout, sys.stderr):
        encoding = (getattr(stream, "encoding", None) or "").lower().replace("-", "")
        if stream is not None and encoding != "utf8" and hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="backslashreplace")


def main() -> None:
    """The console script: a bug (anything not a ConvcalcError) exits 1 with one line; a full
    disk, a closed stream or exhausted memory exit 2 with what happened."""
    _prepare_streams()
    code: int | str | None = 0
    try:
        try:
            cli.main(prog_name="convcalc")
        except SystemExit as exc:
            code = exc.code
        sys.stdout.flush()
    except BrokenPipeError:  # `convcalc ... | head`: the reader has what it wanted
        _silence_stdout()
    except MemoryError:
        click.echo("convcalc: out of memory: ask a smaller question", err=True)
        code = 2
    except OSError as exc:
        if exc.errno not in _IO_ERRORS or os.environ.get("CONVCALC_DEBUG"):
            raise
        _silence_stdout()
        click.echo(f"convcalc: cannot write the output: {exc.strerror}", err=True)
        code = 2
    except Exception as exc:
        if os.environ.get("CONVCALC_DEBUG"):
            raise
        click.echo(
            f"convcalc: internal error: {exc!r}. This is a bug; "
            "set CONVCALC_DEBUG=1 for the traceback and please report it.",
            err=True,
        )
        code = 1
    sys.exit(code)


def _silence_stdout() -> None:
    """After a failed write, point standard output at the null device so that the interpreter's
    last flush does not fail again."""
    with contextlib.suppress(OSError, ValueError):
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


# the commands, one module per group: analyse, solve, frameworks, teach (click lists them sorted)
for _command in (costs, draw, lint, report, schema, shape, zoo, solve, export, import_model):
    cli.add_command(_command)
for _command in (check, identities, mlp, quiz):
    cli.add_command(_command)
