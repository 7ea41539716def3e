"""The gradebook: marked answers files as text for the terminal, a summary table, CSV and JSON;
each writer escapes every student's text for its medium (:mod:`convcalc.escape`)."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Sequence
from typing import Any

from convcalc import escape
from convcalc.errors import shown
from convcalc.teach.grade import Result
from convcalc.teach.key import Graded, Item, Key


def render_text(result: Result) -> str:
    """One student's marks: ✓ or ✗ per answer, the right value, the mistake, the working; for
    an invalid file, its error. Every line's user text is escaped for a terminal."""
    student, file = shown(result.student), escape.terminal(result.file)
    if result.error:
        return escape.terminal(f"{student} ({file}): invalid: {result.error}") + "\n"
    lines = [f"{student} ({file}): {result.score:g} / {len(result.marks)}"]
    for mark in result.marks:
        sign = "✓" if mark.right else "✗" if mark.credit == 0 else "◐"
        head = f"  {sign} {shown(mark.question)}  {mark.what}: {mark.claimed}"
        if not mark.right:
            head += f" — right: {mark.correct}"
            if mark.credit:
                head += f" (credit {mark.credit:g})"
        lines.append(head)
        if mark.mistake:
            lines.append(f"      {'note' if mark.carried else 'mistake'}: {mark.mistake}")
        lines.extend(f"      {line}" for line in mark.explanation if not mark.right)
    return "\n".join(escape.terminal(line) for line in lines) + "\n"


def summary(results: Sequence[Result]) -> str:
    """A table of every student's score, one row each (an invalid file's row says so, with its
    error); names cut and escaped (:func:`~convcalc.errors.shown`), so that none can break the
    table or act on the terminal."""
    names = [shown(r.student) for r in results]
    width = max([len("student"), *(len(name) for name in names)])
    rows = [f"{'student':<{width}}  score  of  right  file"]
    for r, name in zip(results, names, strict=True):
        file = escape.terminal(r.file)
        if r.error:
            error = escape.terminal(r.error)
            rows.append(f"{name:<{width}}  {'-':>5}  {'-':>2}  {'-':>5}  {file}  invalid: {error}")
            continue
        right = sum(m.right for m in r.marks)
        rows.append(f"{name:<{width}}  {r.score:5g}  {len(r.marks):>2}  {right:>5}  {file}")
    return "\n".join(rows) + "\n"


def to_csv(results: Sequence[Result]) -> str:
    """A gradebook: one row per student, a column per question (its credit), and the total;
    with an ``error`` column when a file is invalid (its row's score is ``invalid``). Every
    user text cell (student, file, question) is a cell no spreadsheet reads as a formula."""
    questions: list[str] = []
    seen: set[str] = set()
    for r in results:
        for m in r.marks:
            if m.question not in seen:
                seen.add(m.question)
                questions.append(m.question)
    invalid = any(r.error for r in results)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    header = ["student", "file", *(escape.csv_cell(q) for q in questions), "score", "out_of"]
    writer.writerow([*header, "error"] if invalid else header)
    for r in results:
        credit: dict[str, float] = {}
        for m in r.marks:
            credit[m.question] = credit.get(m.question, 0.0) + m.credit
        row = [f"{credit[q]:g}" if q in credit else "" for q in questions]
        cells = [escape.csv_cell(r.student), escape.csv_cell(r.file), *row]
        if r.error:
            writer.writerow([*cells, "invalid", "", escape.csv_cell(r.error)])
        else:
            writer.writerow([*cells, f"{r.score:g}", len(r.marks), *([""] if invalid else [])])
    return out.getvalue()


def to_json(results: Sequence[Result]) -> list[dict[str, Any]]:
    """Every result as data; an invalid file's has its ``error``, a null score and no marks."""
    return [
        {
            "student": r.student,
            "file": r.file,
            "score": None,
            "out_of": None,
            "marks": [],
            "error": r.error,
        }
        if r.error
        else {
            "student": r.student,
            "file": r.file,
            "score": r.score,
            "out_of": len(r.marks),
            "marks": [
                {
                    "question": m.question,
                    "what": m.what,
                    "claimed": m.claimed,
                    "correct": m.correct,
                    "right": m.right,
                    "credit": m.credit,
                    "mistake": "" if m.carried else m.mistake,
                    "carried": m.mistake if m.carried else "",
                    "explanation": list(m.explanation),
                }
                for m in r.marks
            ],
        }
        for r in results
    ]


# --- against an answer key (convcalc check --key) ---------------------------------------------


def points(value: float) -> str:
    """Points as a gradebook shows them: at most two decimals, no trailing zeros (2.5, 0.33)."""
    return f"{round(value, 2):g}"


def _sign(item: Item) -> str:
    if item.mark is None:
        return "–"
    return "✓" if item.right else "◐" if item.earned else "✗"


def _item_lines(item: Item) -> list[str]:
    """One part's lines (user text raw; each writer escapes): the head with the points, the
    note or the mistake, the working of a wrong answer."""
    score = f"{points(item.earned)} / {points(item.part.points)}"
    if item.mark is None:
        return [f"{item.question}  {item.part.what}: unanswered  ({score})"]
    mark = item.mark
    head = f"{item.question}  {mark.what}: {mark.claimed}"
    if not mark.right or item.note:
        head += f" — right: {mark.correct}"
    lines = [f"{head}  ({score})"]
    if item.note:
        lines.append(f"note: {item.note}")
    if mark.mistake:
        lines.append(f"{'note' if mark.carried else 'mistake'}: {mark.mistake}")
    if not item.right:
        lines.extend(mark.explanation)
    return lines


def render_keyed(result: Graded) -> str:
    """One student's marks against the key: every question's parts, answered or not, with the
    points each earns; the answers not marked (not in the key, twice, not asked) listed."""
    student, file = shown(result.student), escape.terminal(result.file)
    total = f"{points(result.score)} / {points(result.out_of)} points ({result.percent:.1f} %)"
    if result.error:
        return escape.terminal(f"{student} ({file}): invalid: {result.error}; {total}") + "\n"
    lines = [f"{student} ({file}): {total}"]
    for item in result.items:
        first, *rest = _item_lines(item)
        lines.append(f"  {_sign(item)} {first}")
        lines.extend(f"      {line}" for line in rest)
    lines.extend(f"  not marked: {extra}" for extra in result.extras)
    return "\n".join(escape.terminal(line) for line in lines) + "\n"


def summary_keyed(results: Sequence[Graded]) -> str:
    """Every student's points of the key's total and percentage, one row each (an invalid
    file's row: 0 points and its error)."""
    names = [shown(r.student) for r in results]
    ids = [shown(r.student_id, 30) for r in results]
    width = max([len("student"), *(len(n) for n in names)])
    id_width = max([len("id"), *(len(i) for i in ids)])
    rows = [f"{'student':<{width}}  {'id':<{id_width}}  points     of       %  file"]
    for r, name, ident in zip(results, names, ids, strict=True):
        row = f"{name:<{width}}  {ident:<{id_width}}  {points(r.score):>6}  {points(r.out_of):>5}"
        row += f"  {r.percent:6.1f}  {escape.terminal(r.file)}"
        if r.error:
            row += f"  invalid: {escape.terminal(r.error)}"
        rows.append(row)
    return "\n".join(rows) + "\n"


CSV_STYLES = ("plain", "moodle", "canvas")


def csv_keyed(results: Sequence[Graded], key: Key, style: str = "plain") -> str:
    """The gradebook against a key: a row per answers file (an invalid one with 0 points), a
    column per question in the key's order. ``plain``: id, name, file, the questions, score,
    out_of, percent, error. ``moodle``: Moodle's CSV grade import, an ``ID number`` column to
    map users by, the questions and ``Total``. ``canvas``: Canvas's gradebook import,
    ``Student, ID, SIS User ID, SIS Login ID, Section`` then one assignment (the key's title),
    under a ``Points Possible`` row. Every user text is a cell no spreadsheet runs."""
    ids = [q.id for q in key.questions]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    cell = escape.csv_cell
    if style == "canvas":
        writer.writerow(
            ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", cell(key.title)]
        )
        writer.writerow(["Points Possible", "", "", "", "", points(key.total)])
        for r in results:
            writer.writerow([cell(r.student), "", cell(r.student_id), "", "", points(r.score)])
        return out.getvalue()
    if style == "moodle":
        writer.writerow(["ID number", "Full name", *map(cell, ids), "Total"])
    else:
        header = ["student_id", "student", "file", *map(cell, ids)]
        writer.writerow([*header, "score", "out_of", "percent", "error"])
    for r in results:
        earned = [points(v) for v in r.by_question(key).values()]
        if style == "moodle":
            writer.writerow([cell(r.student_id), cell(r.student), *earned, points(r.score)])
            continue
        row = [cell(r.student_id), cell(r.student), cell(r.file), *earned, points(r.score)]
        writer.writerow([*row, points(r.out_of), f"{r.percent:.1f}", cell(r.error)])
    return out.getvalue()


def json_keyed(results: Sequence[Graded], key: Key) -> dict[str, Any]:
    """The key's questions and every student's marks as data."""
    return {
        "key": {
            "title": key.title,
            "out_of": key.total,
            "questions": [{"id": q.id, "points": q.points} for q in key.questions],
        },
        "students": [
            {
                "student": r.student,
                "student_id": r.student_id,
                "file": r.file,
                "score": r.score,
                "out_of": r.out_of,
                "percent": round(r.percent, 4),
                "error": r.error,
                "questions": r.by_question(key),
                "marks": [
                    {
                        "question": i.question,
                        "what": i.mark.what if i.mark else i.part.what,
                        "points": i.part.points,
                        "earned": i.earned,
                        "answered": i.mark is not None,
                        "claimed": i.mark.claimed if i.mark else None,
                        "correct": i.mark.correct if i.mark else None,
                        "mistake": i.mark.mistake if i.mark and not i.mark.carried else "",
                        "carried": i.mark.mistake if i.mark and i.mark.carried else "",
                        "note": i.note,
                        "explanation": list(i.mark.explanation) if i.mark else [],
                    }
                    for i in r.items
                ],
                "not_marked": list(r.extras),
            }
            for r in results
        ],
    }


FEEDBACK_MARK = "<!-- convcalc check --feedback -->"  # the first line: a file convcalc wrote


def feedback_markdown(result: Graded, key: Key) -> str:
    """One student's feedback as Markdown: the score, then each question with each answer,
    its mark, the named mistake and the worked explanation (in a code block); every user text
    escaped for Markdown (:func:`convcalc.escape.markdown`)."""
    md = escape.markdown
    total = f"{points(result.score)} / {points(result.out_of)} points ({result.percent:.1f} %)"
    lines = [
        FEEDBACK_MARK,
        f"# {md(key.title)}: {md(result.student)}",
        "",
        f"**Score: {total}**",
        "",
    ]
    if result.error:
        lines += ["Your answers file could not be marked:", "", *_fenced([result.error]), ""]
    earned = result.by_question(key)
    items: dict[str, list[Item]] = {}
    for item in result.items:  # grouped once: a key of 10⁵ questions stays linear
        items.setdefault(item.question, []).append(item)
    for question in key.questions:
        of = f"{points(earned[question.id])} / {points(question.points)} points"
        lines += [f"## Question {md(question.id)} ({of})", ""]
        for item in items.get(question.id, []):
            first, *rest = _item_lines(item)
            lines.append(f"- {_sign(item)} {md(first.removeprefix(item.question).strip())}")
            notes = [line for line in rest if line.startswith(("note: ", "mistake: "))]
            lines.extend(f"  - {md(line)}" for line in notes)
            working = [line for line in rest if line not in notes]
            if working:
                lines += ["", *(f"  {line}" for line in _fenced(working))]
        lines.append("")
    if result.extras:
        lines += ["## Not marked", "", *(f"- {md(extra)}" for extra in result.extras), ""]
    return "\n".join(lines).rstrip("\n") + "\n"


def _fenced(lines: Sequence[str]) -> list[str]:
    """Lines in a fenced code block, the fence longer than any run of backticks they hold;
    controls shown as escapes."""
    body = [escape.terminal(line) for line in lines]
    run = max((len(m) for line in body for m in re.findall("`+", line)), default=0)
    fence = "`" * max(3, run + 1)
    return [f"{fence}text", *body, fence]


def feedback_files(results: Sequence[Graded], key: Key) -> list[tuple[str, str]]:
    """(file name, Markdown) per student: the name from the student's id through the path
    policy (:func:`convcalc.paths.file_name`), unique in the folder."""
    from convcalc.paths import file_name

    taken: set[str] = set()
    return [(file_name(r.student_id, ".md", taken), feedback_markdown(r, key)) for r in results]
