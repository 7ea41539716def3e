"""The gradebook: marked answers files as text for the terminal, a summary table, CSV and JSON;
each writer escapes every student's text for its medium (:mod:`convcalc.escape`)."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from typing import Any

from convcalc import escape
from convcalc.errors import shown
from convcalc.teach.grade import Result


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
