"""Reading answers files: which files to grade, each file's YAML document, its student, its
questions' labels as written, and the report of the spec it names.

Answers files are written by students, so everything is checked before it is used: a ``spec:``
path is read under :func:`convcalc.paths.resolve` (a bundled name, or a regular file below the
answers file's folder or the instructor's ``specs_dir``), and a spec may unroll to at most
:data:`MAX_LAYERS` layers. Marking is :mod:`convcalc.teach.grade`.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from convcalc.analysis import analyse
from convcalc.errors import ConvcalcError, SpecError, shown
from convcalc.paths import PathRefused, resolve
from convcalc.records import Report
from convcalc.spec.document import Document, parse_yaml, read_source, written
from convcalc.spec.validate import bundled_specs, load_spec, validate
from convcalc.teach.mistakes import DEFAULT_CONVENTION
from convcalc.views.conventions import CONVENTIONS

# the most layers a spec in (or named by) an answers file may unroll to: a real network's few
# hundred, many times over, while a two-line file cannot make one student's marking take minutes
MAX_LAYERS = 100_000


def answer_files(sources: Sequence[str]) -> list[str]:
    """The files to grade: each path, or each folder's ``*.yaml`` and ``*.yml``, sorted."""
    return [file for file, _ in answer_sources(sources)]


def answer_sources(sources: Sequence[str]) -> list[tuple[str, Path | None]]:
    """Each file to grade with the folder it was found in (None: named on the command line);
    a file named twice (``a.yaml a.yaml``, or a file and its folder) is graded once."""
    files: list[tuple[str, Path | None]] = []
    seen: set[object] = set()

    def add(file: str, folder: Path | None) -> None:
        try:
            info = os.stat(file)
            identity: object = (info.st_dev, info.st_ino)
        except (OSError, ValueError):  # missing or unreadable: its own error row, once
            identity = file
        if identity not in seen:
            seen.add(identity)
            files.append((file, folder))

    for source in sources:
        path = Path(source)
        if path.is_dir():
            found = sorted([*path.glob("*.yaml"), *path.glob("*.yml")])
            if not found:
                raise ConvcalcError(f"{source}: a folder with no .yaml answers files")
            for p in found:
                add(str(p), path)
        else:
            add(source, None)
    return files


def read_answers(path: str, found_in: Path | None) -> Document:
    """An answers file's document: a file named on the command line as given, one found in a
    folder under the path policy; a YAML error with the quoting hint (:func:`parsed`)."""
    if found_in is None:
        text, file, name = read_source(path, {})
        return parsed(text, file, name)
    try:
        named_file = resolve(Path(path).name, found_in, frozenset())
    except PathRefused:
        raise SpecError(
            "not a regular file inside the folder (a link leading out of it, a FIFO or a "
            "device): not read",
            file=path,
        ) from None
    text = named_file.text or ""
    return parsed(text, path, Path(path).stem)


# a plain scalar holding [ inside a flow mapping, ``{at: layers[1], ...}``: YAML reads the [
# as the start of a list, and stops at "did not find expected ',' or '}'"
_UNQUOTED_BRACKET = re.compile(r"[{,]\s*(\w+):\s*([A-Za-z_][\w.]*\[[^\]\s,{}]*\][\w.\[\]]*)")


def parsed(text: str, file: str, name: str) -> Document:
    """:func:`~convcalc.spec.document.parse_yaml`, whose error on an unquoted path inside
    ``{ }`` (``{at: layers[1], ...}``) says to quote it: ``at: "layers[1]"``."""
    try:
        return parse_yaml(text, file, name)
    except SpecError as exc:
        lines = text.splitlines()
        line = lines[exc.line - 1] if exc.line and 0 < exc.line <= len(lines) else ""
        found = _UNQUOTED_BRACKET.search(line)
        if found is None or "did not find expected" not in exc.message:
            raise
        key, value = shown(found.group(1), 20), shown(found.group(2), 40)
        hint = f'; inside {{ }} quote a path with brackets: {key}: "{value}"'
        raise SpecError(exc.message + hint, file=exc.file, line=exc.line) from None


Fail = Callable[..., SpecError]


def failing(doc: Document) -> Fail:
    """The located error for a message, the keys of where it was written (from the file's
    top), and the field."""

    def fail(
        message: str,
        keys: list[str | int],
        field_name: str | None = None,
        line_keys: list[str | int] | None = None,
    ) -> SpecError:
        where = "".join(f"[{k}]" if isinstance(k, int) else f".{k}" for k in keys).lstrip(".")
        line = doc.line_of(keys if line_keys is None else line_keys)
        return SpecError(message, file=doc.file, line=line, path=where or None, field=field_name)

    return fail


def student_of(doc: Document, fail: Fail) -> str:
    """The ``student:`` as written (the file's name without it)."""
    data = doc.data
    value = data.get("student") if isinstance(data, dict) else None
    if value is None or value == "":
        return Path(doc.file).stem
    if isinstance(value, str):
        return value
    if isinstance(value, dict | list):
        raise fail("a name, not a list or a mapping", ["student"])
    return doc.written_as(["student"]) or str(value)


def convention_of(doc: Document, fail: Fail) -> str:
    """The ``convention:`` whose multiply-adds are right (a course that teaches a tool's count
    names it), :data:`~convcalc.teach.mistakes.DEFAULT_CONVENTION` without one."""
    data = doc.data
    value = data.get("convention") if isinstance(data, dict) else None
    if value is None:
        return DEFAULT_CONVENTION
    if not isinstance(value, str) or value not in CONVENTIONS:
        shown_value = shown(written(value))
        raise fail(
            f"one of {', '.join(CONVENTIONS)}, not {shown_value}", ["convention"], "convention"
        )
    return value


def question_label(doc: Document, answer: dict[str, Any], index: int) -> str | None:
    """An answer's question label as written (``3.10`` is "3.10", not the number 3.1: two
    questions with ``3.1``), its place in the list (from 1) without one, None for a value that
    is not a label (empty, a list, a mapping)."""
    if "question" not in answer:
        return f"{index + 1}"
    value = answer["question"]
    if isinstance(value, str):
        return value
    if value is None or isinstance(value, dict | list):
        return None
    return doc.written_as(["answers", index, "question"]) or str(value)


def spec_report(spec: Any, doc: Document, folder: Path, fail: Fail) -> Report:
    if isinstance(spec, dict):  # validated with the answers file's own lines
        inline = Document(doc.file, "spec", doc.copy(spec), doc.lines)
        return analyse(validate(inline, max_layers=MAX_LAYERS))
    if not isinstance(spec, str):
        raise fail("spec is a bundled spec's name, a path or a mapping", ["spec"])
    bundled = bundled_specs()
    try:
        named_spec = resolve(spec, folder, frozenset(bundled))
    except PathRefused as exc:
        raise fail(str(exc), ["spec"]) from None
    if named_spec.bundled is not None:  # the package's own file, whatever the folder holds
        return analyse(load_spec(bundled[named_spec.bundled]))
    text = named_spec.text or ""
    named = parse_yaml(text, str(folder / spec), Path(spec).stem)
    return analyse(validate(named, max_layers=MAX_LAYERS))
