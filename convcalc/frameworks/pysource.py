"""Writing Python source as ruff formats it, for the exported files (PyTorch and Keras).

Expressions are atoms (strings) or bracketed groups of items (:class:`Group`); a
:class:`Layout` lays a statement out on one line where it fits, else one item a line with a
trailing comma, and builds a block that would start too far in first, as a local variable.
Spec values become Python literals (:func:`literal`), spec names identifiers
(:func:`identifier`, :class:`Names`), and a name given for the file's class or function is
checked (:func:`check_name`). Nothing here knows a framework.
"""

from __future__ import annotations

import builtins
import keyword
import math
import re
import unicodedata
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeAlias

from convcalc.errors import ConvcalcError, SpecError, shown
from convcalc.escape import identifier_fold, python_comment, python_str

if TYPE_CHECKING:
    from collections.abc import Callable

    from convcalc.records import Entry, Shape

WIDTH = 100  # the project's line length: the file passes `ruff format --check` and `ruff check`
HOIST_AT = 36  # a block starting further in than this is built first, as a local variable
INDENT = 4
NAME_LIMIT = 22  # characters of a sanitised name: with HOIST_AT, every line fits in WIDTH


@dataclass(frozen=True)
class Item:
    """One item of a bracketed expression: ``prefix`` (``kernel_size=``, ``"fc1": `` or
    nothing), the value, and a comment for the end of its line."""

    prefix: str
    expr: Expr
    comment: str = ""


@dataclass
class Group:
    """A call, tuple or dict: written on one line (``flat``) where that fits, else one item a
    line with a trailing comma (``trailing``: except a call's sole argument). A ``block``
    (a list of layers, a block of them, or the dict of a named list) is always one item a
    line; ``flat`` is None for it. A ``movable`` one (not the dict) may be built first, as a
    variable named after the spec's ``name`` for it."""

    open: str
    items: list[Item]
    close: str = ")"
    flat: str | None = None
    trailing: bool = True
    block: bool = False
    movable: bool = False
    name: str | None = None


Expr: TypeAlias = str | Group


def call(open_: str, items: list[Item], *, one_tuple: bool = False) -> Group:
    """A call or tuple of atoms and flat groups, with its one-line form (``(3,)`` for a
    1-tuple)."""
    parts = [item.prefix + flat(item.expr) for item in items]
    comma = "," if one_tuple and len(items) == 1 else ""
    return Group(open_, items, flat=open_ + ", ".join(parts) + comma + ")")


def flat(expr: Expr) -> str:
    """The one-line form of an atom or of a group of atoms."""
    return expr if isinstance(expr, str) else expr.flat or ""


@dataclass
class Uses:
    """What the file needs besides its main class or function: ``math``, helper classes and
    functions."""

    math: bool = False
    helpers: set[str] = field(default_factory=set)


def literal(value: Any, uses: Uses) -> Expr:
    """A Python literal for a spec value (tuples as tuples, floats exactly, inf via math)."""
    if isinstance(value, tuple):
        items = [Item("", literal(v, uses)) for v in value]
        return call("(", items, one_tuple=True)
    if isinstance(value, bool) or value is None:
        return repr(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isfinite(value):
            return repr(value)
        uses.math = True
        return "math.nan" if math.isnan(value) else ("-" if value < 0 else "") + "math.inf"
    return python_str(str(value))


def sizes_text(shape: Shape) -> str:
    return "x".join(str(n) for n in shape)


# names pycodestyle finds ambiguous (E741, E742): never a class's or a variable's
AMBIGUOUS = frozenset({"l", "O", "I"})


def identifier(name: str | None) -> str | None:
    """A spec name as a Python identifier (ASCII letters, digits, underscores), or None. Being
    ASCII, it is its own NFKC form: what Python reads (``ｎｎ`` has no letter that survives, so
    it cannot turn into ``nn``)."""
    if name is None:
        return None
    text = re.sub(r"[^0-9A-Za-z]+", "_", name).strip("_")[:NAME_LIMIT].rstrip("_")
    if not text:
        return None
    return "_" + text if text[0].isdigit() else text


class Names:
    """Unique identifiers in one namespace, none of them reserved or a keyword, compared as
    Python reads them (NFKC: ``ｔｏｒｃｈ`` is ``torch``); for variables (``variables``), no
    builtin either. A count is kept per base, so that 20,000 layers of one name cost no more
    than one each."""

    def __init__(self, reserved: frozenset[str], *, variables: bool = False) -> None:
        self.reserved = frozenset(identifier_fold(name) for name in reserved)
        self.variables = variables
        self.taken: set[str] = set()
        self.counts: dict[str, int] = {}

    def add(self, base: str) -> str:
        """``base`` (as Python reads it), or ``base_`` if it is reserved, a keyword or (for
        variables) a builtin; then ``base_2``, ``base_3``, ... for the next ones."""
        base = identifier_fold(base)
        taken = base in self.reserved or (self.variables and hasattr(builtins, base))
        name = base + "_" if keyword.iskeyword(base) or taken else base
        count = self.counts.get(base, 1)
        while name in self.taken or name in self.reserved:
            count += 1
            name = f"{base}_{count}"
        self.counts[base] = count
        self.taken.add(name)
        return name


_Place = tuple[Expr, int, str, str, str]  # expression, indent, prefix, suffix, comment
Definition = tuple[str, Group]  # a block built first: its variable and its expression


def commented(line: str, comment: str) -> str:
    """The line with its comment, where both fit."""
    text = f"{line}  # {python_comment(comment)}" if comment else line
    return text if len(text) <= WIDTH else line


class Layout:
    """Lays statements out as ruff formats them: a bracketed expression on one line where it
    fits, else one item a line with a trailing comma (which keeps ruff from joining them); a
    block that would start beyond HOIST_AT columns is assigned to a local variable first."""

    def __init__(self, reserved: frozenset[str]) -> None:
        self.locals = Names(reserved, variables=True)
        self.count = 0

    def _local(self, name: str | None) -> str:
        base = identifier(name)
        if base is not None:
            return self.locals.add(base)
        while True:
            self.count += 1
            candidate = f"block_{self.count}"
            if candidate not in self.locals.taken and candidate not in self.locals.reserved:
                return self.locals.add(candidate)

    def _lines(self, place: _Place) -> tuple[list[str], list[Definition]]:
        """One statement's lines, and the blocks it uses that are to be built first."""
        lines: list[str] = []
        hoisted: list[Definition] = []
        stack: list[_Place | str] = [place]
        while stack:
            top = stack.pop()
            if isinstance(top, str):
                lines.append(top)
                continue
            expr, indent, prefix, suffix, comment = top
            if isinstance(expr, Group) and expr.movable and indent > HOIST_AT:
                local = self._local(expr.name)
                hoisted.append((local, expr))
                expr = local
            pad = " " * indent
            one_line = expr if isinstance(expr, str) else expr.flat
            if one_line is not None:
                line = pad + prefix + one_line + suffix
                if isinstance(expr, str) or len(line) <= WIDTH:  # an atom cannot be split
                    lines.append(commented(line, comment))
                    continue
            if isinstance(expr, Group):
                lines.append(pad + prefix + expr.open)
                stack.append(pad + expr.close + suffix)
                comma = "," if expr.trailing else ""
                for item in reversed(expr.items):
                    stack.append((item.expr, indent + INDENT, item.prefix, comma, item.comment))
        return lines, hoisted

    def statement(self, prefix: str, expr: Expr, comment: str, indent: int) -> list[str]:
        """The statement ``prefix + expr``, after the statements building its hoisted blocks
        (each after those of its own), without recursion."""
        lines, hoisted = self._lines((expr, indent, prefix, "", comment))
        stack: list[tuple[list[str], list[Definition], int]] = [(lines, hoisted, 0)]
        out: list[str] = []
        while stack:
            lines, hoisted, next_ = stack.pop()
            if next_ < len(hoisted):
                stack.append((lines, hoisted, next_ + 1))
                local, group = hoisted[next_]
                stack.append((*self._lines((group, indent, f"{local} = ", "", "")), 0))
                continue
            out.extend(lines)
        return out


def _columns(text: str) -> int:
    """The columns ``text`` takes (a wide character two)."""
    return sum(2 if unicodedata.east_asian_width(char) in "WF" else 1 for char in text)


def docstring_text(text: str, limit: int = 36) -> str:
    """Text as a docstring may show it (:func:`convcalc.escape.python_comment`: controls,
    backslashes and runs of quotes escaped), cut to ``limit`` columns (a wide character takes
    two) with ``...``. The text is cut before it is escaped, so no escape is cut in two."""
    head = text[: limit + 1]  # every character takes a column at least
    if len(head) == len(text) and _columns(python_comment(text)) <= limit:
        return python_comment(text)
    for end in range(len(head), -1, -1):
        shown_head = python_comment(head[:end])
        if _columns(shown_head) <= limit:
            return shown_head + "..."
    return "..."  # pragma: no cover - the empty head always fits


def check_name(name: str, what: str, limit: int, reserved: frozenset[str]) -> None:
    """A name given for the file's class or function must be usable: an identifier of at most
    ``limit`` columns (a wide character takes two: the file's lines stay within WIDTH), no
    keyword, no ambiguous letter, no builtin (the file calls ``print`` and ``tuple``), no dunder
    (``__name__`` guards the smoke test), and none of ``reserved`` (the file's own names); each
    checked on the name as Python reads it (NFKC: ``ｔｏｒｃｈ`` is ``torch``, ``ｐｒｉｎｔ`` the
    builtin)."""
    read = identifier_fold(name)
    if (
        not name.isidentifier()
        or not read.isidentifier()
        or keyword.iskeyword(read)
        or read in {identifier_fold(own) for own in reserved} | AMBIGUOUS
        or hasattr(builtins, read)
        or (read.startswith("__") and read.endswith("__"))
        or _columns(name) > limit
        or _columns(read) > limit
    ):
        raise ConvcalcError(
            f"'{shown(name)}' cannot name the {what}: it must be a Python identifier of at most "
            f"{limit} characters, neither a keyword, a builtin, a dunder, an ambiguous l, O or I, "
            f"nor one of the file's own names ({', '.join(sorted(reserved))})"
        )


# --- shared by the PyTorch and Keras exports -------------------------------------------------


class ExportError(SpecError):
    """A layer that an export cannot write exactly, located by its path (and, with
    :meth:`locate`, by its file and line)."""

    def __init__(self, message: str, entry: Entry, field: str | None = None) -> None:
        super().__init__(message, path=entry.path, layer_type=entry.type, field=field)
        self.source = entry.source

    def locate(self, file: str | None, line_of: Callable[[list[str | int]], int | None]) -> None:
        """Fill in the spec's file and the line where the layer (or its field) is written."""
        self.file = file
        self.line = line_of([*self.source, *([self.field] if self.field else [])])


_FIRST_LEAF = re.compile(r"layers\[0\](\.layers\[0\])*")


def fed_the_input(entry: Entry, first: bool) -> bool:
    """Whether a leaf (the network's first, ``first``) is fed the network's input itself:
    the first layer, at the top or first in nested sequential lists (where an embedding may
    take the integer input)."""
    return first and _FIRST_LEAF.fullmatch(entry.path) is not None
