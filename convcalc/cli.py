"""The command line: thin click wrappers over the library.

Each command parses its options, calls one library function and formats the result. Library
errors (:class:`~convcalc.errors.ConvcalcError`) become exit code 2 with a one-line message.
Heavy modules (pydantic, YAML) are imported inside the commands that need them, so that
``convcalc --help`` and ``convcalc solve`` start fast.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from typing import Any

import click

from convcalc import __version__
from convcalc.errors import ConvcalcError

FORMATS = ["table", "json", "markdown"]


class Failure(click.ClickException):
    """Invalid input: the message on stderr, exit code 2."""

    exit_code = 2


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="convcalc")
def cli() -> None:
    """Exact shapes, parameters and inverse solutions for convolutional layer stacks.

    Specs are YAML files (see the README); bundled ones are used by name (`convcalc zoo`).
    """


@cli.command()
@click.argument("specs", nargs=-1, required=True, metavar="SPEC...")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="table", show_default=True)
def shape(specs: tuple[str, ...], fmt: str) -> None:
    """Output shape and parameters of every layer of each SPEC.

    SPEC is a path, '-' for standard input, or the name of a bundled spec.
    """
    from convcalc import render
    from convcalc.calc import summarise

    results: list[Any] = []
    texts: list[str] = []
    failed = False
    for source in specs:
        try:
            summary = summarise(source)
        except ConvcalcError as exc:
            failed = True
            message = str(exc)
            if not message.startswith(source):
                message = f"{source}: {message}"
            click.echo(f"Error: {message}", err=True)
            results.append({"spec": source, "error": message})
            continue
        results.append(summary.to_dict())
        texts.append(render.table(summary) if fmt == "table" else render.markdown(summary))
    if fmt == "json":
        click.echo(render.to_json(results[0] if len(specs) == 1 else results))
    elif texts:
        click.echo("\n\n".join(texts))
    if failed:
        sys.exit(2)


@cli.command()
def zoo() -> None:
    """List the bundled specs, usable by name wherever a SPEC is expected."""
    from convcalc.calc import bundled_specs

    for name, path in bundled_specs().items():
        click.echo(f"{name:<16} {_first_comment(path.read_text(encoding='utf-8'))}")


def _first_comment(text: str) -> str:
    for line in text.splitlines():
        if line.startswith("#"):
            return line.lstrip("# ").strip()
    return ""


@cli.command()
def schema() -> None:
    """Print the JSON Schema of spec files, for editors that validate YAML."""
    from convcalc import render
    from convcalc.spec import Spec

    click.echo(render.to_json(Spec.model_json_schema()))


def _run(command: Callable[..., Any]) -> Callable[..., Any]:
    """Turn library errors into exit code 2."""

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except ConvcalcError as exc:
            raise Failure(str(exc)) from None

    wrapper.__name__ = command.__name__
    wrapper.__doc__ = command.__doc__
    return wrapper


def main() -> None:
    """The console script: a bug (anything not a ConvcalcError) exits 1 with one line."""
    try:
        cli.main(prog_name="convcalc")
    except Exception as exc:
        if os.environ.get("CONVCALC_DEBUG"):
            raise
        click.echo(
            f"convcalc: internal error: {exc!r}. This is a bug; "
            "set CONVCALC_DEBUG=1 for the traceback and please report it.",
            err=True,
        )
        sys.exit(1)
