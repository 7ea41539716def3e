"""What every zoo generator shares: the command line, the header, and the YAML scalars.

A generator is a table of ``name -> function returning the spec's text``; ``main`` writes
those texts into specs/ (or only the names given), or with ``--check`` writes nothing and exits
1 naming each shipped file that differs from what it would write. Plain Python, no convcalc,
no torch: a generator only prints text.
"""

from __future__ import annotations

import argparse
import re
import sys
import textwrap
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SPECS = ROOT / "specs"
TORCHVISION = "torchvision 0.28"
WIDTH = 96  # a header comment's text, after its "# "

_PLAIN = re.compile(r"[A-Za-z_][A-Za-z0-9_.\-]*")
_RESERVED = {"true", "false", "null", "yes", "no", "on", "off", "y", "n", "~"}


def scalar(value: object, digits: int | None = None) -> str:
    """One YAML scalar or flow sequence: bools lower case, ints as written, floats with a point
    in the mantissa and a signed exponent (YAML 1.1 reads ``1e-05`` as a string, ``1.0e-5`` as
    a float), shortest round trip or ``digits`` significant; names plain, else single-quoted."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        text = repr(value) if digits is None else f"{value:.{digits}g}"
        mantissa, _, exponent = text.partition("e")
        if "." not in mantissa:
            mantissa += ".0"
        if not exponent:
            return mantissa
        return f"{mantissa}e{'-' if exponent.startswith('-') else '+'}{int(exponent.lstrip('+-'))}"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(scalar(v, digits) for v in value) + "]"
    text = str(value)
    if _PLAIN.fullmatch(text) and text.lower() not in _RESERVED:
        return text
    return "'" + text.replace("'", "''") + "'"


def mapping(fields: Mapping[str, object], digits: int | None = None) -> str:
    """A YAML flow mapping of ``fields`` in their order, ``{name: .., type: .., k: v}``: fields
    given as None are left out (PyTorch's default), and so is a name equal to the type (a
    label ``flatten: flatten`` says nothing more than ``flatten``)."""
    items = [
        f"{k}: {scalar(v, digits)}"
        for k, v in fields.items()
        if v is not None and not (k == "name" and v == fields.get("type"))
    ]
    return "{" + ", ".join(items) + "}"


def flow(type_: str, /, *, name: str | None = None, **fields: object) -> str:
    """One leaf as a flow mapping: ``flow("conv", name="conv1", out_channels=64)`` is
    ``{name: conv1, type: conv, out_channels: 64}`` (see :func:`mapping`)."""
    return mapping({"name": name, "type": type_, **fields})


def make_divisible(value: float, divisor: int = 8, min_value: int | None = None) -> int:
    """torchvision's ``_make_divisible``: max(min_value, ⌊value + divisor/2⌋ rounded down to a
    multiple of divisor), one divisor more if that lost over 10 % of value; min_value defaults
    to divisor."""
    lowest = divisor if min_value is None else min_value
    new = max(lowest, int(value + divisor / 2) // divisor * divisor)
    return new + divisor if new < 0.9 * value else new


def comment(text: str, width: int = WIDTH) -> list[str]:
    """Prose as ``# `` comment lines wrapped at ``width`` (an empty line stays ``#``)."""
    lines = []
    for paragraph in text.split("\n"):
        lines += [f"# {line}" for line in textwrap.wrap(paragraph, width)] or ["#"]
    return lines


def header(title: str, script: str, source: str, notes: str = "") -> str:
    """The comment a generated spec opens with: its title sentence (what ``convcalc zoo``
    lists), "Written by zoo/<script> from torchvision 0.28's <source>; edit the script, not
    this file.", then the notes, each line as given (already wrapped)."""
    written = (
        f"Written by zoo/{script} from {TORCHVISION}'s {source}; edit the script, not this file."
    )
    lines = comment(title) + comment(written)
    lines += [f"# {line}".rstrip() for line in notes.strip("\n").splitlines()]
    return "\n".join(lines) + "\n"


def main(
    models: Mapping[str, Callable[[], str]],
    argv: Sequence[str] | None = None,
    out: Path = SPECS,
    *,
    script: str = "",
    about: str = "",
) -> int:
    """The command of a generator: write each model's spec to ``out``/<name>.yaml (every model,
    or the names given); with ``--check`` write nothing and return 1, naming on stderr every
    file that is missing or differs from what would be written. ``--out DIR`` overrides ``out``."""
    parser = argparse.ArgumentParser(prog=f"zoo/{script}" if script else None, description=about)
    parser.add_argument("names", nargs="*", metavar="NAME", help="models to write (default: all)")
    parser.add_argument("--check", action="store_true", help="write nothing; fail on a difference")
    parser.add_argument("--out", type=Path, default=out, help="folder (default: specs/)")
    args = parser.parse_args(argv)
    unknown = [n for n in args.names if n not in models]
    if unknown:
        parser.error(f"unknown model {unknown[0]}; known: {', '.join(models)}")
    stale = []
    for name in args.names or list(models):
        path, text = args.out / f"{name}.yaml", models[name]()
        if args.check:
            if not path.exists() or path.read_text(encoding="utf-8") != text:
                stale.append(path.name)
            continue
        path.write_text(text, encoding="utf-8")
        print(f"wrote {path}")
    if stale:
        where = f"zoo/{script}'s output" if script else "the generator's output"
        print(f"differ from {where}: {', '.join(stale)}", file=sys.stderr)
        return 1
    return 0


def run(models: Mapping[str, Callable[[], str]], script: str, about: str) -> None:
    """``main`` on the command line's arguments, exiting with its status."""
    sys.exit(main(models, sys.argv[1:], script=script, about=about))
