"""Answer keys: the questions a course asks, their points, the accepted variants, and every
student marked against every question (``convcalc check --key KEY ANSWERS...``).

A key (its JSON schema: :func:`key_schema`, ``convcalc schema --key``)::

    title: Homework 3, Question 3
    spec: hw3-q3                      # the network asked about (a question may name its own)
    convention: convcalc              # whose multiply-adds are right (optional)
    credit: {carried: 0.5, incomplete: share}   # partial credit (these are the defaults)
    questions:
      - id: 3.1a
        points: 3                     # split evenly among its parts
        accept: [{spec: hw3-q3-pool-padding.yaml}]   # a variant's values are right too
        parts:
          - {at: "layers[0]", claim: output_shape}
          - {at: "layers[1]", claim: output_shape}
      - {id: 3.1b, points: 1, at: "layers[2]", claim: weights}
      - {id: 3.1c, at: "layers[0]", claim: mult_adds, unit: million,
         tolerance: {absolute: 50000}}
      - {id: 3.2a, claim: solutions, solve: {in: 64, out: 4, padding: 0, dilation: 1}}

A student's answers file names the question (``question: 3.1a``) and claims the value, as
without a key (:mod:`convcalc.teach.grade`); ``at`` picks the part when a question has several
of one claim. Each part earns its points × the answer's credit: 1 right (or equal to an
accepted variant's value, an explicit ``value``, or within the ``tolerance``), the carried
credit for a value worked right from the student's own wrong one, the share of a complete set
of solutions; 0 wrong or unanswered. An answer to a question the key does not ask is listed,
never marked. The score is the points earned of the key's total, and its percentage.
"""

from __future__ import annotations

import math
import os
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, replace
from fractions import Fraction
from pathlib import Path
from typing import Any

from convcalc.errors import ConvcalcError, SpecError
from convcalc.records import Report
from convcalc.spec.document import Document
from convcalc.spec.validate import bundled_specs
from convcalc.teach import grade as marking
from convcalc.teach.answers import (
    Fail,
    answer_sources,
    convention_of,
    failing,
    parsed,
    question_label,
    read_answers,
    spec_report,
    student_of,
)
from convcalc.teach.grade import CLAIMS, KEYS, Mark, Marker, Refused, quoted

KEY_FIELDS = ("title", "spec", "convention", "credit", "questions")
PART_FIELDS = ("at", "claim", "solve", "complete", "accept", "tolerance", "unit", "points")
QUESTION_FIELDS = ("id", "spec", "parts", *PART_FIELDS)
COUNTS = (
    "output_size", "params", "weights", "total_params", "mult_adds", "total_mult_adds",
    "trainable_params", "non_trainable_params",
)  # fmt: skip
UNITS = {"thousand": 10**3, "million": 10**6, "billion": 10**9}
INCOMPLETE = ("share", "all")


@dataclass(frozen=True)
class Part:
    """One value a question asks for: ``claim`` at ``at`` (a layer's path or name; the network
    without it), or the ``solutions`` of ``solve``; its points, and what else is right."""

    claim: str
    what: str
    points: float
    at: str | int | None = None
    path: str = ""  # the layer's path at ``at`` ("" for the network)
    solve: dict[str, Any] | None = None
    complete: bool = False
    values: tuple[Any, ...] = ()  # explicit accepted values, as the key wrote them
    tolerance: tuple[str, float] | None = None  # ("absolute", n) or ("relative", r)
    unit: int = 1  # the student writes the value in units of this (10⁶: "in millions")


@dataclass(frozen=True)
class Question:
    """A question of the key: its id, its points (split among its parts), the spec it asks
    about and the variants whose values are right too (indices into :attr:`Key.reports`)."""

    id: str
    points: float
    spec: int
    variants: tuple[int, ...]
    parts: tuple[Part, ...]


@dataclass(frozen=True)
class Key:
    """An answer key, read and checked: every spec analysed, every part's layer found."""

    file: str
    title: str
    convention: str
    carried: float
    incomplete: str
    reports: tuple[Report, ...]
    names: tuple[str, ...]  # each report's spec as the key names it
    questions: tuple[Question, ...]
    read: tuple[str, ...] = ()  # the spec files the key named (never to be written over)

    @property
    def total(self) -> float:
        """Σ of the questions' points."""
        return sum(q.points for q in self.questions)


@dataclass(frozen=True)
class Item:
    """One part of one question for one student: the mark (None: unanswered), the points it
    earns, and a note (an accepted variant, the tolerance)."""

    question: str
    part: Part
    mark: Mark | None
    earned: float
    note: str = ""

    @property
    def right(self) -> bool:
        return self.mark is not None and self.earned == self.part.points


@dataclass(frozen=True)
class Graded:
    """One answers file marked against a key; with ``error``, a file that could not be marked
    (its located reason): every question 0, and the row kept in every gradebook."""

    student: str
    student_id: str
    file: str
    out_of: float
    items: tuple[Item, ...] = ()
    extras: tuple[str, ...] = ()  # answers not marked: not in the key, twice, not asked
    error: str = ""

    @property
    def score(self) -> float:
        return sum(item.earned for item in self.items)

    @property
    def percent(self) -> float:
        return 100 * self.score / self.out_of if self.out_of else 0.0

    @property
    def full(self) -> bool:
        return not self.error and all(item.right for item in self.items)

    def by_question(self, key: Key) -> dict[str, float]:
        """Points earned per question id, in the key's order (an invalid file's: 0 each)."""
        earned = {q.id: 0.0 for q in key.questions}
        for item in self.items:
            earned[item.question] += item.earned
        return earned


# --- reading a key -------------------------------------------------------------------------------


def load_key(path: str) -> Key:
    """The key in the file at ``path`` (an instructor's, named on the command line); a
    :class:`SpecError` naming its line, question and field when anything in it is wrong."""
    from convcalc.spec.document import read_source

    text, file, name = read_source(path, {})
    return read_key(parsed(text, file, name))


def read_key(doc: Document) -> Key:
    """A key from its document; spec paths are read below the key's folder (or bundled)."""
    data, fail = doc.data, failing(doc)
    if not isinstance(data, dict):
        raise fail("an answer key is a mapping with spec: and questions:", [])
    unknown = sorted(set(data) - set(KEY_FIELDS), key=str)
    if unknown:
        message = f"unknown key: expected one of {', '.join(KEY_FIELDS)}"
        raise fail(message, [], str(unknown[0]), [unknown[0]])
    questions = data.get("questions")
    if not isinstance(questions, list) or not questions:
        raise fail("questions: a non-empty list of questions", ["questions"], "questions")
    title = data.get("title", Path(doc.file).stem)
    if not isinstance(title, str) or not title.strip():
        raise fail(f"a title is text, not {quoted(title)}", [], "title", ["title"])
    convention = convention_of(doc, fail)
    carried, incomplete = _credit(data.get("credit", {}), fail)
    folder = Path(doc.file).parent
    reports: list[Report] = []
    names: list[str] = []
    seen: dict[str, int] = {}
    read: list[str] = []
    markers: dict[int, Marker] = {}  # one per report, built once: a part only looks layers up

    def spec_index(value: Any, keys: list[str | int]) -> int:
        label = value if isinstance(value, str) else f"the spec of {_where(keys)}"
        if isinstance(value, str) and value in seen:
            return seen[value]

        def located(message: str, _keys: list[str | int], *rest: Any) -> SpecError:
            return fail(message, keys, "spec", [*keys, "spec"])

        reports.append(spec_report(value, doc, folder, located))
        names.append(label)
        if isinstance(value, str) and value not in bundled_specs():
            read.append(str(folder / value))
        if isinstance(value, str):
            seen[value] = len(reports) - 1
        return len(reports) - 1

    default = spec_index(data["spec"], []) if "spec" in data else None
    marked: list[Question] = []
    ids: set[str] = set()
    for i, question in enumerate(questions):
        keys: list[str | int] = ["questions", i]
        if not isinstance(question, dict):
            raise fail("a question is a mapping such as {id: 3.1b, at: ..., claim: ...}", keys)
        extra = sorted(map(str, set(question) - set(QUESTION_FIELDS)))
        if extra:
            raise fail(f"unknown key: expected one of {', '.join(QUESTION_FIELDS)}", keys, extra[0])
        qid = _question_id(doc, question, keys, fail)
        if qid in ids:
            raise fail(f"a second question {quoted(qid)}: ids are unique", keys, "id")
        ids.add(qid)
        if "spec" in question:
            spec = spec_index(question["spec"], keys)
        elif default is None:
            raise fail("no spec: give the key's spec: or the question's", keys, "spec")
        else:
            spec = default
        points = _points(question.get("points", 1), fail, keys)
        accept = _list(question.get("accept", []), fail, keys, "accept")
        variants = tuple(
            spec_index(alt["spec"], [*keys, "accept", j])
            for j, alt in enumerate(accept)
            if isinstance(alt, dict) and "spec" in alt
        )
        if "parts" in question:
            shared = sorted(set(question) & {"at", "claim", "solve", "complete"})
            if shared:
                raise fail(
                    "a question with parts: gives at, claim, solve in each part", keys, shared[0]
                )
            written = _list(question["parts"], fail, keys, "parts")
            if not written:
                raise fail("parts: a non-empty list", keys, "parts")
            places = [[*keys, "parts", j] for j in range(len(written))]
        else:
            written, places = [question], [keys]
        given = [p.get("points") if isinstance(p, dict) else None for p in written]
        parts: list[Part] = []
        for part, at in zip(written, places, strict=True):
            if not isinstance(part, dict):
                raise fail('a part is a mapping such as {at: "layers[0]", claim: output_shape}', at)
            bad = sorted(map(str, set(part) - set(PART_FIELDS))) if at != keys else []
            if bad:
                raise fail(f"unknown key: expected one of {', '.join(PART_FIELDS)}", at, bad[0])
            share = points / len(written) if any(g is None for g in given) or at == keys else None
            if at != keys and share is not None and given[len(parts)] is not None:
                raise fail(
                    "points for some parts but not all: give every part its points (the "
                    "question's are their sum), or none (the question's split evenly)",
                    at,
                    "points",
                    [*at, "points"],
                )
            part_points = share if share is not None else _points(part["points"], fail, at)
            inherited = accept if at != keys else []
            parts.append(
                _part(doc, part, at, part_points, [*inherited], reports, spec, variants, markers)
            )
        total = sum(p.points for p in parts)
        if "points" in question and "parts" in question and not math.isclose(total, points):
            raise fail(
                f"points {points:g}, but its parts' points add up to {total:g}: give one or "
                "the other",
                keys,
                "points",
                [*keys, "points"],
            )
        marked.append(Question(qid, total, spec, variants, tuple(parts)))
    return Key(
        doc.file,
        title,
        convention,
        carried,
        incomplete,
        tuple(reports),
        tuple(names),
        tuple(marked),
        tuple(read),
    )


def _where(keys: list[str | int]) -> str:
    return "".join(f"[{k}]" if isinstance(k, int) else f".{k}" for k in keys).lstrip(".") or "key"


def _credit(value: Any, fail: Fail) -> tuple[float, str]:
    """``credit: {carried: C, incomplete: share|all}``: the credit of a value carried forward
    (0 to 1, :data:`~convcalc.teach.grade.CARRIED` by default) and how an incomplete set of
    solutions counts (``share``: the share found less the share wrong, as without a key;
    ``all``: all or nothing)."""
    if not isinstance(value, dict):
        raise fail("credit: a mapping such as {carried: 0.5, incomplete: share}", [], "credit")
    extra = sorted(map(str, set(value) - {"carried", "incomplete"}))
    if extra:
        raise fail("unknown key: expected carried, incomplete", ["credit"], extra[0])
    carried = value.get("carried", marking.CARRIED)
    if isinstance(carried, bool) or not isinstance(carried, int | float) or not 0 <= carried <= 1:
        raise fail(f"a credit from 0 to 1, not {quoted(carried)}", ["credit"], "carried")
    incomplete = value.get("incomplete", "share")
    if incomplete not in INCOMPLETE:
        raise fail(f"share or all, not {quoted(incomplete)}", ["credit"], "incomplete")
    return float(carried), str(incomplete)


def _question_id(doc: Document, question: dict[str, Any], keys: list[str | int], fail: Fail) -> str:
    """A question's id as written (``3.10`` is not ``3.1``), as the students' labels are."""
    if "id" not in question:
        raise fail("a question needs its id: (the label students answer it with)", keys, "id")
    value = question["id"]
    if isinstance(value, str) and value.strip():
        return value
    if value is None or isinstance(value, str | dict | list):  # a blank id is no label
        raise fail(f"an id is text or a number such as 3.1a, not {quoted(value)}", keys, "id")
    return doc.written_as([*keys, "id"]) or str(value)


def _points(value: Any, fail: Fail, keys: list[str | int]) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise fail(f"points are a number, not {quoted(value)}", keys, "points")
    if value < 0 or value > 1e9:
        raise fail(f"points from 0 to 10⁹, not {quoted(value)}", keys, "points")
    return float(value)


def _list(value: Any, fail: Fail, keys: list[str | int], name: str) -> list[Any]:
    if not isinstance(value, list):
        raise fail(f"{name}: a list, not {quoted(value)}", keys, name)
    return value


def _part(
    doc: Document,
    part: dict[str, Any],
    keys: list[str | int],
    points: float,
    inherited: list[Any],
    reports: list[Report],
    spec: int,
    variants: tuple[int, ...],
    markers: dict[int, Marker],
) -> Part:
    """One part checked against its spec (and each variant): the claim one of
    :data:`~convcalc.teach.grade.CLAIMS`, the layer found, a solve question the solver takes."""
    fail = failing(doc)
    claim = part.get("claim")
    if not isinstance(claim, str) or claim not in CLAIMS:
        raise fail(f"one of {', '.join(CLAIMS)}, not {quoted(claim)}", keys, "claim")
    own = _list(part.get("accept", []), fail, keys, "accept")
    values = []
    for j, alt in enumerate([*inherited, *own]):
        if not isinstance(alt, dict) or len(alt) != 1 or not {"spec", "value"} & set(alt):
            raise fail("an alternative is {spec: S} or {value: V}", keys, "accept")
        if "value" in alt:
            values.append(_accepted_value(claim, alt["value"], fail, [*keys, "accept", j]))
    tolerance = _tolerance(part.get("tolerance"), claim, fail, keys)
    unit = _unit(part.get("unit", 1), claim, fail, keys)
    complete = part.get("complete", False)
    if not isinstance(complete, bool):
        raise fail(f"true or false, not {quoted(complete)}", keys, "complete")
    if claim == "solutions":
        if "at" in part:
            raise fail("a solve question asks of no layer: leave at out", keys, "at")
        solve = part.get("solve")
        probe = {"solve": solve, "solutions": [[1, 1]], "complete": complete}
        try:
            what = marking.mark_solutions("", probe).what
        except Refused as exc:
            raise fail(str(exc), [*keys, *exc.under], exc.field_name) from None
        except ConvcalcError as exc:
            raise fail(str(exc), keys, "solve") from None
        return Part(claim, what, points, solve=solve, complete=complete)
    if "solve" in part or complete:
        raise fail(f"solve and complete go with claim: solutions, not {claim}", keys, "solve")
    at = part.get("at")
    path, where = "", ""
    for index in (spec, *variants):
        if index not in markers:
            markers[index] = Marker(reports[index])
        try:
            entry = markers[index].entry_at(at)
        except Refused as exc:
            raise fail(str(exc), keys, "at") from None
        if index == spec:
            path, where = (entry.path if entry else ""), markers[index].where(entry)
        elif (entry.path if entry else "") != path:
            raise fail(f"{quoted(at)} is another layer in an accepted variant", keys, "at")
    if claim in ("params", "weights") and at is None:
        raise fail(f"{claim} needs at: a layer (total_params is the network's)", keys, "at")
    what = f"{where or 'network'} {claim}"
    return Part(claim, what, points, at, path, None, False, tuple(values), tolerance, unit)


def _accepted_value(claim: str, value: Any, fail: Fail, keys: list[str | int]) -> Any:
    """An explicit accepted value, in the form the claim is compared in."""
    try:
        if claim == "output_shape":
            return marking.read_shape(value)
        if claim in COUNTS:
            return marking.read_count(value)
    except ConvcalcError as exc:
        raise fail(str(exc), keys, "value") from None
    if claim == "receptive_field":  # global, a size, or one per dimension, as students write
        sizes = value if isinstance(value, list) else [] if value == "global" else [value]
        for v in sizes if sizes or value == "global" else [value]:
            if not (isinstance(v, float) and math.isfinite(v) and v > 0):
                try:
                    marking.read_count(v, "a receptive field (global, a size or a list of sizes)")
                except ConvcalcError as exc:
                    raise fail(str(exc), keys, "value") from None
        return tuple(value) if isinstance(value, list) else value
    raise fail("solutions are marked by the layer's rule: accept no values", keys, "value")


def _tolerance(
    value: Any, claim: str, fail: Fail, keys: list[str | int]
) -> tuple[str, float] | None:
    if value is None:
        return None
    if claim not in COUNTS:
        raise fail(f"a tolerance is for counts ({', '.join(COUNTS)})", keys, "tolerance")
    if not isinstance(value, dict) or len(value) != 1 or not {"absolute", "relative"} & set(value):
        raise fail("{absolute: N} or {relative: R}", keys, "tolerance")
    ((kind, amount),) = value.items()
    if isinstance(amount, bool) or not isinstance(amount, int | float) or not 0 <= amount < 1e30:
        raise fail(f"a number from 0, not {quoted(amount)}", [*keys, "tolerance"], kind)
    return str(kind), float(amount)


def _unit(value: Any, claim: str, fail: Fail, keys: list[str | int]) -> int:
    if value == 1 and not isinstance(value, bool | float):  # true and 1.0 are not the number 1
        return 1
    if claim not in COUNTS:
        raise fail(f"a unit is for counts ({', '.join(COUNTS)})", keys, "unit")
    if isinstance(value, str) and value in UNITS:
        return UNITS[value]
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 10**18:
        raise fail(
            f"thousand, million, billion or a whole number, not {quoted(value)}", keys, "unit"
        )
    return value


# --- marking against a key -----------------------------------------------------------------------


def grade_all_keyed(
    key: Key, sources: Sequence[str], specs_dir: str | Path | None = None
) -> list[Graded]:
    """Every answers file of ``sources`` marked against ``key``, one :class:`Graded` each, in
    order: an invalid file is a row with its error and 0 points, never a missing one."""
    markers = [Marker(report, key.convention) for report in key.reports]
    results = []
    for file, folder in answer_sources(sources):
        # the key, or a spec it names, kept among the answers files: no student's
        if any(_same_file(file, own) for own in (key.file, *key.read)):
            if folder is None:
                what = (
                    "the answer key itself (--key)"
                    if _same_file(file, key.file)
                    else ("a spec the answer key names")
                )
                error = f"{file}: {what}, not an answers file: not marked"
                results.append(
                    Graded(Path(file).stem, Path(file).stem, file, key.total, (), (), error)
                )
            continue
        results.append(grade_file_keyed(key, file, markers, found_in=folder))
    return _one_row_per_id(results, key.total)


def _same_file(one: str, other: str) -> bool:
    try:
        return os.path.samefile(one, other)
    except (OSError, ValueError):
        return False


def id_folded(student_id: str) -> str:
    """A student id as a learning platform matches it: compatibility forms folded (NFKC),
    case folded, spaces at the ends dropped (``Ann.Lee `` is ``ann.lee``)."""
    return unicodedata.normalize("NFKC", student_id).casefold().strip()


def _one_row_per_id(results: list[Graded], out_of: float) -> list[Graded]:
    """The results, with every file whose ``student_id`` another file claims too made invalid
    (each error naming the other files): a gradebook import maps rows to students by the id,
    so one student would get both rows' points — or a student another's, by writing their id."""
    files: dict[str, list[str]] = {}
    for r in results:
        if not r.error:
            files.setdefault(id_folded(r.student_id), []).append(r.file)
    out = []
    for r in results:
        others = [f for f in files.get(id_folded(r.student_id), []) if f != r.file]
        if r.error or not others:
            out.append(r)
            continue
        listed = ", ".join(others[:3]) + (f" and {len(others) - 3} more" if len(others) > 3 else "")
        message = (
            f"{r.file}: student_id {quoted(r.student_id)} is also the id in {listed}: one "
            "student, two rows in a gradebook import; not marked until each file has its own id"
        )
        out.append(Graded(r.student, r.student_id, r.file, out_of, error=message))
    return out


def grade_file_keyed(
    key: Key, path: str, markers: list[Marker] | None = None, *, found_in: Path | None = None
) -> Graded:
    """One answers file against the key; its error (located) in the result if it is invalid."""
    student, student_id = Path(path).stem, Path(path).stem
    markers = markers or [Marker(report, key.convention) for report in key.reports]
    try:
        doc = read_answers(path, found_in)
        fail = failing(doc)
        student = student_of(doc, fail)
        student_id = id_of(doc, fail)
        return _grade_keyed(key, doc, markers, student, student_id)
    except ConvcalcError as exc:
        located = str(exc) if getattr(exc, "file", None) else f"{path}: {exc}"
        return Graded(student, student_id, path, key.total, error=located)


def id_of(doc: Document, fail: Fail) -> str:
    """The ``student_id:`` as written (a login, an e-mail address, a number), the file's name
    without one: what a learning platform's import matches the student by."""
    data = doc.data
    value = data.get("student_id") if isinstance(data, dict) else None
    if value is None or value == "":
        return Path(doc.file).stem
    if isinstance(value, dict | list | bool):
        raise fail(f"an identifier is text or a number, not {quoted(value)}", [], "student_id")
    return value if isinstance(value, str) else doc.written_as(["student_id"]) or str(value)


def _grade_keyed(
    key: Key, doc: Document, markers: list[Marker], student: str, student_id: str
) -> Graded:
    data, fail = doc.data, failing(doc)
    if not isinstance(data, dict):
        raise fail("an answers file is a mapping with answers:", [])
    fields = {"student", "student_id", "convention", "spec", "answers"}
    unknown = sorted(set(data) - fields, key=str)
    if unknown:
        message = f"unknown key {quoted(str(unknown[0]))}: expected {', '.join(sorted(fields))}"
        raise fail(message, [], None, [unknown[0]])
    answers = data.get("answers", [])
    if not isinstance(answers, list):
        raise fail("answers must be a list", ["answers"])
    questions = {q.id: q for q in key.questions}
    chosen: dict[tuple[str, int], tuple[int, dict[str, Any]]] = {}
    slots: dict[tuple[str, str, str | None], list[Any]] = {}  # _part_of's lists of parts
    extras: list[str] = []
    for i, answer in enumerate(answers):
        keys: list[str | int] = ["answers", i]
        if not isinstance(answer, dict):
            raise fail("an answer is a mapping such as {question: 3.1b, weights: 65536}", keys)
        bad = sorted(map(str, set(answer) - KEYS))
        if bad:
            raise fail(f"unknown key: expected one of {', '.join(sorted(KEYS))}", keys, bad[0])
        claims = [c for c in CLAIMS if c in answer]
        if len(claims) != 1:
            raise fail(
                f"claims {len(claims)} values: give exactly one of {', '.join(CLAIMS)}", keys
            )
        label = question_label(doc, answer, i)
        if label is None or "question" not in answer:
            raise fail(
                "with a key, each answer names its question: question: 3.1a", keys, "question"
            )
        question = questions.get(label)
        if question is None:
            extras.append(f"{label}: not a question of the key, not marked")
            continue
        try:
            found = _part_of(question, claims[0], answer, markers[question.spec], chosen, slots)
        except Refused as exc:
            raise fail(str(exc), keys, exc.field_name, [*keys, exc.field_name]) from None
        if isinstance(found, str):
            extras.append(f"{label}: {found}")
            continue
        chosen[(question.id, found)] = (i, answer)
    items = []
    for marker in markers:
        marker.claimed = {}  # the student's own shapes, for the carried credit
    for question in key.questions:
        for j, part in enumerate(question.parts):
            if (question.id, j) not in chosen:
                items.append(Item(question.id, part, None, 0.0))
                continue
            i, answer = chosen[(question.id, j)]
            keys = ["answers", i]
            try:
                items.append(_mark_part(key, question, part, answer, markers))
            except Refused as exc:
                at = [*keys, *exc.under]
                raise fail(str(exc), at, exc.field_name, [*at, exc.field_name]) from None
            except ConvcalcError as exc:
                claim = next(c for c in CLAIMS if c in answer)
                raise fail(str(exc), keys, claim) from None
    return Graded(student, student_id, doc.file, key.total, tuple(items), tuple(extras))


def _part_of(
    question: Question,
    claim: str,
    answer: dict[str, Any],
    marker: Marker,
    chosen: dict[tuple[str, int], Any],
    slots: dict[tuple[str, str, str | None], list[Any]],
) -> int | str:
    """The index of the part an answer answers, or why it answers none: a part with this claim
    at the answer's layer (its ``at`` resolved as the key's), else the first one unanswered.
    ``slots`` keeps, per question, claim and layer, the parts' indices and how many are taken
    (each answer costs O(1), not O(parts): a key of 10⁵ parts is marked in linear time)."""
    path = None
    if "at" in answer and claim != "solutions":
        entry = marker.entry_at(answer["at"])
        path = entry.path if entry else ""
    slot = slots.get((question.id, claim, path))
    if slot is None:
        same = [
            j
            for j, p in enumerate(question.parts)
            if p.claim == claim and (path is None or p.path == path)
        ]
        why = ""
        if not same and (path is None or not any(p.claim == claim for p in question.parts)):
            asked = ", ".join(dict.fromkeys(p.claim for p in question.parts))
            why = f"{claim} is not asked (the question asks for {asked}), not marked"
        elif not same:
            why = f"{claim} of {path or 'the network'} is not asked, not marked"
        slot = slots[(question.id, claim, path)] = [same, 0, why]
    same, first, why = slot
    if why:
        return str(why)
    while first < len(same) and (question.id, same[first]) in chosen:
        first += 1  # taken by this list's answers or by another list's (with or without at)
    slot[1] = first
    if first == len(same):
        return f"{claim} answered twice: the first answer is marked"
    return int(same[first])


def _mark_part(
    key: Key, question: Question, part: Part, answer: dict[str, Any], markers: list[Marker]
) -> Item:
    """One answer marked as the key's part asks: on the question's spec, then each accepted
    variant and value and the tolerance; the key's credit rules applied."""
    claim = part.claim
    value = answer[claim]
    if part.unit != 1:
        value = _in_units(value, part.unit)
    asked: dict[str, Any] = {claim: value}
    if part.at is not None:
        asked["at"] = part.at
    if part.solve is not None:
        asked["solve"] = part.solve
        asked["complete"] = part.complete
    mark = markers[question.spec].mark(asked, claim, question.id)
    note = ""
    for index in question.variants:  # every variant sees every answer: its carried shapes
        try:
            other = markers[index].mark(asked, claim, question.id)
        except ConvcalcError:
            continue
        if other.right and not mark.right:
            mark, note = _accepted(mark), f"accepted: {key.names[index]}"
        elif other.credit > mark.credit:  # carried over from the student's variant shapes
            mark = other
    if not mark.right and claim in (*COUNTS, "output_shape", "receptive_field"):
        claimed = _compared(claim, value)
        if any(claimed == v for v in part.values):
            mark, note = _accepted(mark), "accepted: an answer the key accepts"
        elif part.tolerance is not None and claim in COUNTS:
            right = int(mark.correct.replace(",", ""))
            kind, amount = part.tolerance
            allowed = amount if kind == "absolute" else amount * abs(right)
            if abs(claimed - right) <= allowed:
                mark = _accepted(mark)
                note = f"within the tolerance (± {allowed:,.6g} of {right:,})"
    credit = key.carried if mark.carried and not mark.right else mark.credit
    if part.complete and key.incomplete == "all" and credit < 1:
        credit = 0.0
    return Item(question.id, part, mark, round(credit * part.points, 6), note)


def _accepted(mark: Mark) -> Mark:
    """A mark given full credit by the key: no mistake, nothing to work out."""
    return replace(mark, credit=1.0, carried=False, mistake="", explanation=())


def _compared(claim: str, value: Any) -> Any:
    if claim == "output_shape":
        return marking.read_shape(value)
    if claim in COUNTS:
        return marking.read_count(value)
    return tuple(value) if isinstance(value, list) else value


def _in_units(value: Any, unit: int) -> int:
    """A count written in units (22.86 million): the whole number it stands for, rounded."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ConvcalcError(f"expected a number (in units of {unit:,}), not {quoted(value)}")
    if abs(value) > 2**63 / unit:
        raise ConvcalcError(f"{quoted(value)} is beyond any size (2^63 − 1 at most)")
    return round(Fraction(str(value)) * unit)


# --- the schema ----------------------------------------------------------------------------------


def key_schema() -> dict[str, Any]:
    """The JSON Schema of answer keys, for editors that validate YAML (``convcalc schema
    --key``); :func:`read_key` checks the same and more (the layers exist, the specs load)."""
    number = {"type": "number", "minimum": 0}
    label = {"anyOf": [{"type": "string", "minLength": 1}, {"type": "number"}]}
    spec = {
        "description": "a bundled spec's name, a path below the key's folder, or a spec",
        "anyOf": [{"type": "string"}, {"type": "object"}],
    }
    alternative = {
        "oneOf": [
            {"type": "object", "properties": {"spec": spec}, "required": ["spec"],
             "additionalProperties": False},
            {"type": "object", "properties": {"value": {}}, "required": ["value"],
             "additionalProperties": False},
        ]
    }  # fmt: skip
    part_properties: dict[str, Any] = {
        "at": {"description": "a layer's path or name; the network without it",
               "anyOf": [{"type": "string"}, {"type": "integer"}]},
        "claim": {"enum": list(CLAIMS)},
        "solve": {"type": "object", "properties": {k: {} for k in marking.SOLVE_KEYS},
                  "required": ["in", "out"], "additionalProperties": False},
        "complete": {"type": "boolean"},
        "accept": {"type": "array", "items": {"$ref": "#/$defs/Alternative"}},
        "tolerance": {"oneOf": [
            {"type": "object", "properties": {"absolute": number}, "required": ["absolute"],
             "additionalProperties": False},
            {"type": "object", "properties": {"relative": number}, "required": ["relative"],
             "additionalProperties": False},
        ]},
        "unit": {"anyOf": [{"enum": list(UNITS)}, {"type": "integer", "minimum": 1}]},
        "points": number,
    }  # fmt: skip
    part = {
        "type": "object",
        "properties": part_properties,
        "required": ["claim"],
        "additionalProperties": False,
    }
    question = {
        "type": "object",
        "properties": {
            "id": label,
            "spec": spec,
            "parts": {"type": "array", "minItems": 1, "items": {"$ref": "#/$defs/Part"}},
            **part_properties,
        },
        "required": ["id"],
        "oneOf": [{"required": ["claim"]}, {"required": ["parts"]}],
        "additionalProperties": False,
    }
    from convcalc.views.conventions import CONVENTIONS

    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "convcalc answer key",
        "type": "object",
        "properties": {
            "title": {"type": "string", "minLength": 1},
            "spec": spec,
            "convention": {"enum": list(CONVENTIONS)},
            "credit": {
                "type": "object",
                "properties": {
                    "carried": {"type": "number", "minimum": 0, "maximum": 1},
                    "incomplete": {"enum": list(INCOMPLETE)},
                },
                "additionalProperties": False,
            },
            "questions": {"type": "array", "minItems": 1, "items": {"$ref": "#/$defs/Question"}},
        },
        "required": ["questions"],
        "additionalProperties": False,
        "$defs": {"Question": question, "Part": part, "Alternative": alternative},
    }
