"""Reading spec files: safe YAML with line numbers, without recursion.

PyYAML's composer is recursive and its constructor forgets where things were written. Here the
document is built from the parser's *events* with an explicit stack, so that

- every mapping key and list item keeps the line it was written on (:class:`Document.line_of`),
- nesting depth, alias expansion and file size are bounded before anything else sees the data,
- only YAML's plain types exist: a tag that would build a Python object is an error.
"""

from __future__ import annotations

import datetime
import math
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from convcalc.errors import SpecError
from convcalc.paths import MAX_BYTES, decode

MAX_DEPTH = 2_000  # YAML nesting: a block nested 500 deep is about 1,000 levels
MAX_NODES = 1_000_000
_YAML = "tag:yaml.org,2002:"
_DECIMAL = re.compile(r"^[-+]?(0|[1-9][0-9_]*)$")
_FLOAT_1_2 = re.compile(r"^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)[eE][-+]?[0-9]+$")
_STARTS = (yaml.MappingStartEvent, yaml.SequenceStartEvent)
_ENDS = (yaml.MappingEndEvent, yaml.SequenceEndEvent)
_STD_TAGS = {f"{_YAML}{name}" for name in ("map", "seq", "str", "int", "float", "bool", "null")}

Container = dict[Any, Any] | list[Any]
Fail = Callable[[str, int | None], SpecError]  # builds the error for a message and a line


@dataclass
class Document:
    """A parsed YAML document and where each of its parts was written."""

    file: str
    name: str
    data: Any
    # id(container) -> {key or index: 1-based line}
    lines: dict[int, dict[Any, int]] = field(default_factory=dict)
    # id(container) -> {key or index: the text written}, for the plain scalars YAML read as
    # something other than text (``3.10`` read as 3.1, ``yes`` as True)
    written: dict[int, dict[Any, str]] = field(default_factory=dict)

    def copy(self, container: Container) -> Any:
        """A shallow copy that keeps the lines where its parts were written."""
        duplicate = dict(container) if isinstance(container, dict) else list(container)
        self.lines[id(duplicate)] = dict(self.lines.get(id(container), {}))
        self.written[id(duplicate)] = dict(self.written.get(id(container), {}))
        return duplicate

    def written_as(self, path: list[str | int]) -> str | None:
        """The text a plain scalar at ``path`` was written as, where YAML read it as something
        other than text (a number, a boolean, a date, null); None for text and containers."""
        node: Any = self.data
        for key in path[:-1]:
            node = node[key]
        return self.written.get(id(node), {}).get(path[-1])

    def line_of(self, path: list[str | int]) -> int | None:
        """The line of the deepest part of ``path`` (keys and indices from the root) written."""
        node, line = self.data, None
        for key in path:
            marks = self.lines.get(id(node), {})
            if key not in marks:
                break
            line = marks[key]
            node = node[key]
        return line


def read_source(
    source: str, bundled: dict[str, Path], medium: str = "YAML text"
) -> tuple[str, str, str]:
    """(text, file label, default name) for a path, ``-`` or a bundled spec's name, decoded as
    ``medium`` (:func:`~convcalc.paths.decode`)."""
    if source == "-":
        if sys.stdin is None or sys.stdin.closed:
            raise SpecError("standard input is closed: nothing to read", file="<stdin>")
        raw = sys.stdin.buffer.read(MAX_BYTES + 1)
        return decode(raw, "<stdin>", medium), "<stdin>", "stdin"
    path = Path(source)
    if not path.exists() and source in bundled:
        path = bundled[source]
    try:
        with path.open("rb") as fh:
            raw = fh.read(MAX_BYTES + 1)
    except FileNotFoundError:
        if not bundled:
            raise SpecError("no such file", file=source) from None
        names = ", ".join(sorted(bundled))
        raise SpecError(
            f"no such file, and no bundled spec of that name (bundled: {names})", file=source
        ) from None
    except IsADirectoryError:
        raise SpecError(f"is a directory, not {medium}", file=source) from None
    except OSError as exc:
        raise SpecError(f"cannot read: {exc.strerror}", file=source) from None
    return decode(raw, source, medium), source, path.stem


@dataclass
class _Frame:
    """A mapping or list being built: for a mapping, the key awaiting its value (with its line)
    and the ``<<`` merges; the anchor it will be known by; the line it starts on."""

    container: Container
    anchor: str | None
    line: int
    key: Any = None
    merges: Any = None
    lines: dict[Any, int] = field(default_factory=dict)  # key or index -> its line
    written: dict[Any, str] = field(default_factory=dict)  # key or index -> its text (Document)

    def __post_init__(self) -> None:
        self.key = _NO_KEY
        self.is_list = isinstance(self.container, list)


def parse_yaml(text: str, file: str, name: str) -> Document:
    """Build the document from parser events; see the module docstring for what it refuses."""
    try:
        return _parse(text, file, name, getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except SpecError as exc:
        # libyaml stops at 1,000 levels of nesting; PyYAML's own parser keeps an explicit
        # stack, so a deeper document (blocks nested 500 deep) is read by it instead
        if "maximum nesting depth" not in exc.message or _flow_depth(text) > 500:
            raise  # PyYAML's scanner is slow on deep [[[...]]]: refuse those at once
        return _parse(text, file, name, yaml.SafeLoader)


def _flow_depth(text: str) -> int:
    """The deepest nesting of flow brackets ([ and {), not counting quoted text roughly."""
    depth = deepest = 0
    for char in text:
        if char in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "]}":
            depth -= 1
    return deepest


def _parse(text: str, file: str, name: str, loader_cls: Any) -> Document:
    helper = yaml.SafeLoader("")  # resolves and constructs plain scalars
    doc = Document(file=file, name=name, data=None)
    anchors: dict[str, Any] = {}
    texts: dict[str, str | None] = {}  # an anchored scalar's text, as Document.written keeps it
    stack: list[_Frame] = []
    documents = aliases = values = 0
    root: list[Any] = []
    scalars: dict[tuple[Any, ...], Any] = {}

    def fail(message: str, line: int | None) -> SpecError:
        return SpecError(message, file=file, line=line)

    def attach(value: Any, line: int, plain: str | None = None) -> None:
        if value is _MERGE and (not stack or stack[-1].is_list or stack[-1].key is not _NO_KEY):
            value = "<<"  # a merge only as a mapping's key; anywhere else, the text written
        if not stack:
            root.append(value)
            return
        frame = stack[-1]
        container = frame.container
        if frame.is_list:
            frame.lines[len(container)] = line
            if plain is not None:
                frame.written[len(container)] = plain
            container.append(value)  # type: ignore[union-attr]  # is_list says it is a list
        elif frame.key is _NO_KEY:
            if isinstance(value, dict | list):
                raise fail("a mapping key must be a plain value, not a list or mapping", line)
            if value in container or (value is _MERGE and frame.merges is not None):
                raise fail(f"duplicate key {'<<' if value is _MERGE else written(value)}", line)
            frame.key = (value, line)
        else:
            key, key_line = frame.key
            frame.key = _NO_KEY
            if key == _MERGE:
                frame.merges = value
            else:
                frame.lines[key] = key_line
                if plain is not None:
                    frame.written[key] = plain
                container[key] = value

    parser = loader_cls(text)
    scalar_event, starts, ends = yaml.ScalarEvent, _STARTS, _ENDS
    try:
        while (event := parser.get_event()) is not None:
            kind = type(event)
            if kind in ends:  # the most frequent events after scalars: nothing to count
                done = stack.pop()
                if done.merges is not None and isinstance(done.container, dict):
                    _merge(done.container, done.merges, doc, fail, done.line)
                if done.anchor:
                    anchors[done.anchor] = done.container
                attach(done.container, done.line)
                continue
            line = event.start_mark.line + 1 if event.start_mark else 0
            if kind is scalar_event or kind in starts or kind is yaml.AliasEvent:
                values += 1
                if values > MAX_NODES:
                    raise fail(f"holds more than {MAX_NODES:,} values: not a spec file", line)
            if kind is scalar_event:
                key = (event.tag, event.value, event.implicit, event.style)
                if key in scalars:  # specs repeat the same words and numbers: build each once
                    value = scalars[key]
                else:
                    value = scalars[key] = _scalar(helper, event, line, fail)
                # a plain scalar read as something other than text keeps its text too
                plain = event.value if value.__class__ is not str and event.implicit[0] else None
                if event.anchor:
                    anchors[event.anchor] = value
                    texts[event.anchor] = plain
                attach(value, line, plain)
            elif kind is yaml.AliasEvent:
                aliases += 1
                if event.anchor not in anchors:
                    open_anchors = {frame.anchor for frame in stack}
                    reason = (
                        "refers to itself" if event.anchor in open_anchors else "is not defined"
                    )
                    raise fail(f"alias *{event.anchor} {reason}", line)
                attach(anchors[event.anchor], line, texts.get(event.anchor))
            elif kind in starts:
                _check_tag(event.tag, line, fail)
                if len(stack) >= MAX_DEPTH:
                    raise fail(f"nested more than {MAX_DEPTH} levels deep", line)
                frame = _Frame({} if kind is yaml.MappingStartEvent else [], event.anchor, line)
                doc.lines[id(frame.container)] = frame.lines
                doc.written[id(frame.container)] = frame.written
                stack.append(frame)
            elif kind is yaml.DocumentStartEvent:
                documents += 1
                if documents > 1:
                    raise fail("holds more than one YAML document", line)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        problem = getattr(exc, "problem", None) or str(exc)
        raise fail(f"YAML syntax error: {problem}", mark.line + 1 if mark else None) from None
    finally:
        parser.dispose()
    doc.data = root[0] if root else None
    if aliases:  # without aliases the values are the events, bounded by the file's size
        _check_size(doc.data, fail)
    return doc


def _scalar(helper: yaml.SafeLoader, event: yaml.ScalarEvent, line: int, fail: Fail) -> Any:
    """A plain scalar as YAML's safe schema reads it (``3`` an int, ``true`` a bool, ...)."""
    _check_tag(event.tag, line, fail)
    tag = event.tag
    if tag in (None, "!"):
        tag = helper.resolve(yaml.ScalarNode, event.value, event.implicit)  # type: ignore[no-untyped-call]
    if tag == "tag:yaml.org,2002:merge":
        return _MERGE
    if tag == f"{_YAML}str" and event.implicit[0] and _FLOAT_1_2.match(event.value):
        return float(event.value)  # YAML 1.2 reads 1e-3 as a number; YAML 1.1 as text
    if tag == f"{_YAML}int" and not _DECIMAL.match(event.value):
        raise fail(
            f"{event.value!r} is an integer only in YAML 1.1's odd forms (octal 010 is 8, "
            "1:30 is 90, 0x10 is 16): write it in decimal, or quote it if it is text",
            line,
        )
    try:
        return helper.construct_object(yaml.ScalarNode(tag, event.value, style=event.style))
    except ValueError:  # Python refuses to read integers of more than 4,300 digits
        raise fail(f"a number of {len(event.value):,} digits is beyond any size", line) from None


def _check_tag(tag: str | None, line: int, fail: Fail) -> None:
    """Only YAML's plain types: a tag that would build a Python object is refused, unrun."""
    if tag is not None and tag != "!" and tag not in _STD_TAGS:
        shown = tag.replace(_YAML, "!!")
        raise fail(f"the tag {shown} is not allowed in a spec file (nothing was run)", line)


def yaml_text(value: Any, room: int = 60) -> str:
    """A value read from a spec as YAML writes it in flow style, for messages: ``null``,
    ``true``, ``2.5``, ``.inf``, ``2024-01-01``, ``[1, {a: 2}]`` (text as it is), never a
    Python repr; a list or mapping is cut with ``…`` once about ``room`` characters are shown."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if math.isnan(value):
            return ".nan"
        return (".inf" if value > 0 else "-.inf") if math.isinf(value) else repr(value)
    if isinstance(value, int):  # Python refuses to write an integer of over 4,300 digits
        bits = value.bit_length()
        return str(value) if bits <= 256 else f"an integer of {bits:,} bits"
    if isinstance(value, str):
        return value
    if isinstance(value, datetime.datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, datetime.date):
        return value.isoformat()
    if isinstance(value, dict | list | tuple):
        if room <= 0:  # each level of nesting takes room: deep nesting ends here
            return "…"
        pairs = value.items() if isinstance(value, dict) else ((None, v) for v in value)
        parts: list[str] = []
        shown = 0
        for key, item in pairs:
            if shown >= room:
                parts.append("…")
                break
            left = room - shown - 1
            text = yaml_text(item, left)
            if isinstance(value, dict):
                text = f"{yaml_text(key, left)}: {text}"
            parts.append(text)
            shown += len(text) + 2
        inside = ", ".join(parts)
        return f"{{{inside}}}" if isinstance(value, dict) else f"[{inside}]"
    return f"a {type(value).__name__}"


def written(value: Any) -> str:
    """A value (or a mapping key) in a message: text quoted (``'out_channels'``), any other
    value as YAML writes it (``null``, ``2024-01-01``)."""
    return repr(value) if isinstance(value, str) else yaml_text(value)


class _Merge:
    """The ``<<`` merge key, until its mapping is complete."""


_MERGE = _Merge()
_NO_KEY = object()


def _merge(container: dict[Any, Any], merges: Any, doc: Document, fail: Fail, line: int) -> None:
    """``<<: *base`` (or a list of them): copy the keys that are not written here."""
    sources = merges if isinstance(merges, list) else [merges]
    for source in sources:
        if not isinstance(source, dict):
            raise fail("'<<' must merge a mapping (or a list of mappings)", line)
        marks = doc.lines.setdefault(id(container), {})
        texts = doc.written.setdefault(id(container), {})
        for key, value in source.items():
            if key not in container:
                container[key] = value
                marks[key] = doc.lines.get(id(source), {}).get(key, line)
                if key in doc.written.get(id(source), {}):
                    texts[key] = doc.written[id(source)][key]


def _check_size(data: Any, fail: Fail) -> None:
    """Refuse a document whose aliases expand past MAX_NODES values (a "billion laughs")."""
    sizes: dict[int, int] = {}
    todo: list[tuple[Any, bool]] = [(data, False)]
    while todo:
        node, children_done = todo.pop()
        if id(node) in sizes or not isinstance(node, dict | list):
            continue
        children = list(node.values()) if isinstance(node, dict) else node
        if children_done:
            total = 1 + sum(sizes.get(id(c), 1) for c in children)
            if total > MAX_NODES:
                raise fail(
                    f"expands to more than {MAX_NODES:,} values through aliases: refused", None
                )
            sizes[id(node)] = total
        else:
            todo.append((node, True))
            todo.extend((c, False) for c in children if isinstance(c, dict | list))
