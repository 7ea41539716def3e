"""What the commands share: option decorators, the integer types, and how a failure is said
(exit code 2, one inert message) and where output is written."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from typing import Any, TypeVar

import click

from convcalc.errors import ConvcalcError
from convcalc.views.conventions import CONVENTIONS
from convcalc.views.memory import DTYPES

FORMATS = ["table", "json", "markdown", "text", "latex", "keras"]  # text, latex: --explain;
# keras: model.summary() of a Keras spec


# every integer is at most 2^63 − 1, PyTorch's own limit (the README's Limits; arith.LIMIT,
# not imported here so that --help starts fast): the types of the integer options
INT_LIMIT = 2**63 - 1


COUNT = click.IntRange(1, INT_LIMIT)


SEED = click.IntRange(-INT_LIMIT - 1, INT_LIMIT)


BATCH = click.option(
    "--batch",
    type=COUNT,
    default=1,
    show_default=True,
    help="Samples per batch: multiply-adds and memory count them all.",
)


CONVENTION = click.option(
    "--convention",
    type=click.Choice(list(CONVENTIONS)),
    default="convcalc",
    show_default=True,
    help="Whose rules count the multiply-adds: convcalc's (every multiply-add, PyTorch's "
    "FlopCounterMode ÷ 2) or a tool's.",
)


F = TypeVar("F", bound=Callable[..., Any])


def framework(help: str, default: str | None = "pytorch") -> Callable[[F], F]:
    """``--framework pytorch|keras``: the dialect a command without a spec speaks (a spec says
    its own, ``framework: keras``); no default where the command must see it left out."""
    return click.option(
        "--framework",
        type=click.Choice(["pytorch", "keras"]),
        default=default,
        show_default=default is not None,
        help=help,
    )


OUTPUT = click.option(
    "-o", "--output", type=click.Path(dir_okay=False), help="The file (default: stdout)."
)


DTYPE = click.option(
    "--dtype",
    type=click.Choice(list(DTYPES)),
    default="float32",
    show_default=True,
    help="The values' type, for the memory figures.",
)


def located(exc: ConvcalcError, source: str) -> str:
    """A spec error names its file (<stdin> for '-'); anything else gets the argument. An input
    the layers refuse for its sizes gets one more line: the accepted sizes nearby."""
    text = str(exc) if getattr(exc, "file", None) else f"{source}: {exc}"
    if getattr(exc, "input_hint", ""):  # the input looks miswritten: its hint is the message's
        return text
    if getattr(exc, "spec", None) is not None:  # a layer refused the input: the library's hint
        from convcalc.solve.accepted import nearby

        hint = nearby(exc)
        text += f"\n{hint}" if hint else ""
    return text


def inert(message: str) -> str:
    """A message for the terminal: each line's control characters shown as escapes, so that a
    file's, layer's or student's name cannot act on the terminal; the message's own line
    breaks kept."""
    from convcalc.escape import terminal

    return "\n".join(terminal(line) for line in message.split("\n"))


def echo_error(message: str) -> None:
    """One failure among several (the others go on): ``Error: MESSAGE`` on stderr."""
    click.echo(f"Error: {inert(message)}", err=True)


class Failure(click.ClickException):
    """Invalid input: the message on stderr (made inert, :func:`inert`), exit code 2."""

    exit_code = 2

    def __init__(self, message: str) -> None:
        super().__init__(inert(message))


def same_file(one: str, other: str) -> bool:
    """Whether two paths name one file (links and spellings such as ``./net.yaml`` followed);
    False where either does not exist or cannot be examined."""
    try:
        samefile = getattr(os.path, "samefile", None)
        if samefile is None:  # pragma: no cover - every platform of Python 3.11 has it
            return os.path.exists(one) and os.path.realpath(one) == os.path.realpath(other)
        return bool(samefile(one, other))
    except (OSError, ValueError):  # missing, unreadable, a NUL in the name
        return False


def refuse_overwrite(output: str, inputs: tuple[str, ...], what: str, flag: str = "-o") -> None:
    """A failure when the file ``output`` is one of the command's ``inputs``: writing the
    ``what`` there would destroy what was read."""
    for source in inputs:
        if source != "-" and same_file(source, output):
            raise Failure(
                f"{output}: {flag} names the input {source} itself: writing the {what} there "
                "would replace it; choose another file"
            )


def write_out(text: str, output: str | None, what: str, *, inputs: tuple[str, ...]) -> None:
    """``text`` to the file ``output``, or to standard output. An output that is one of the
    command's ``inputs`` (files it read) is refused: writing would destroy what it read."""
    if output is None or output == "-":
        click.echo(text.rstrip("\n"))
        return
    refuse_overwrite(output, inputs, what)
    try:
        with open(output, "w", encoding="utf-8") as handle:
            handle.write(text)
    except OSError as exc:
        raise Failure(f"{output}: cannot write the {what}: {exc.strerror}") from None


def reader_gone() -> None:
    """``convcalc solve ... | head``: the reader has what it wanted; that is a success."""
    os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no error when flushing
    sys.exit(0)
