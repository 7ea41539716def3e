"""The grader: a spec, questions and a student's answers in one YAML file, marked.

An answers file::

    student: Alice Martin           # optional; the file's name otherwise
    spec: hw3-q3                    # a bundled spec, a path (from this file's folder), or a mapping
    answers:
      - {question: 3.1a, at: layers[0], output_shape: [32, 61, 61]}
      - {question: 3.1b, at: layers[2], weights: 65536}
      - {question: 3.2a, solve: {in: 64, out: 4}, solutions: [[49, 5]]}

Each answer claims one value — ``output_shape``, ``output_size``, ``params``, ``weights``,
``mult_adds``, ``receptive_field`` at a layer (``at``: a path or a layer's name; the whole
network without it), ``total_params``, ``total_mult_adds``, or ``solutions`` of a single-layer
``solve`` question (``complete: true`` when the whole set is asked for: partial credit). Every
correct value comes from convcalc's own computation; a wrong one is named when it is what one of
:mod:`convcalc.mistakes` gives, and shown with its worked explanation.
"""

from __future__ import annotations

import csv
import functools
import io
import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from convcalc import arith
from convcalc import mistakes as named
from convcalc.analysis import Entry, Report, analyse, output_shape
from convcalc.errors import ConvcalcError, SpecError
from convcalc.explain import Section, explain, render_lines
from convcalc.spec.document import parse_yaml, read_source
from convcalc.spec.step import Applied, shape_text
from convcalc.spec.validate import bundled_specs, load_spec

CLAIMS = (
    "output_shape",
    "output_size",
    "params",
    "weights",
    "mult_adds",
    "receptive_field",
    "total_params",
    "total_mult_adds",
    "solutions",
)
KEYS = {"question", "at", "solve", "complete", *CLAIMS}
SOLVE_KEYS = ("in", "out", "layer", "kernel_size", "stride", "padding", "dilation", "ceil_mode")


@dataclass(frozen=True)
class Mark:
    """One answer marked: what was claimed, what is right, the credit, the mistake's name."""

    question: str
    what: str
    claimed: str
    correct: str
    credit: float
    mistake: str = ""
    explanation: tuple[str, ...] = ()
    carried: bool = False  # worked right from the student's own wrong answer before it

    @property
    def right(self) -> bool:
        return self.credit == 1.0


@dataclass(frozen=True)
class Result:
    """One student's file, marked."""

    student: str
    file: str
    marks: tuple[Mark, ...] = field(default=())

    @property
    def score(self) -> float:
        return sum(m.credit for m in self.marks)

    @property
    def all_right(self) -> bool:
        return all(m.right for m in self.marks)


# --- reading an answers file -----------------------------------------------------------------


def answer_files(sources: Sequence[str]) -> list[str]:
    """The files to grade: each path, or each folder's ``*.yaml`` and ``*.yml``, sorted."""
    files: list[str] = []
    for source in sources:
        path = Path(source)
        if path.is_dir():
            found = sorted([*path.glob("*.yaml"), *path.glob("*.yml")])
            if not found:
                raise ConvcalcError(f"{source}: a folder with no .yaml answers files")
            files.extend(str(p) for p in found)
        else:
            files.append(source)
    return files


def grade(path: str) -> Result:
    """Mark every answer of the file at ``path``; :class:`SpecError` if the file is invalid."""
    text, file, name = read_source(path, {})
    doc = parse_yaml(text, file, name)
    data = doc.data

    def fail(message: str, keys: list[str | int], field_name: str | None = None) -> SpecError:
        where = "".join(f"[{k}]" if isinstance(k, int) else f".{k}" for k in keys).lstrip(".")
        return SpecError(
            message, file=file, line=doc.line_of(keys), path=where or None, field=field_name
        )

    if not isinstance(data, dict):
        raise fail("an answers file is a mapping with spec: and answers:", [])
    unknown = set(data) - {"student", "spec", "answers"}
    if unknown:
        raise fail(
            f"unknown key {sorted(map(str, unknown))[0]!r}: expected student, spec, answers", []
        )
    if "spec" not in data or "answers" not in data:
        raise fail("needs spec: (a bundled name, a path or a mapping) and answers: (a list)", [])
    answers = data["answers"]
    if not isinstance(answers, list) or not answers:
        raise fail("answers must be a non-empty list", ["answers"])
    report = _report(data["spec"], Path(file).parent, fail)
    marker = _Marker(report)
    marks = []
    for i, answer in enumerate(answers):
        keys: list[str | int] = ["answers", i]
        if not isinstance(answer, dict):
            raise fail(
                "an answer is a mapping such as {at: layers[0], output_shape: [32, 61, 61]}", keys
            )
        extra = set(answer) - KEYS
        if extra:
            bad = sorted(map(str, extra))[0]
            raise fail(f"unknown key: expected one of {', '.join(sorted(KEYS))}", keys, bad)
        claims = [c for c in CLAIMS if c in answer]
        if len(claims) != 1:
            raise fail(
                f"claims {len(claims)} values: give exactly one of {', '.join(CLAIMS)}", keys
            )
        try:
            marks.append(marker.mark(answer, claims[0], i))
        except ConvcalcError as exc:
            raise fail(str(exc), keys, claims[0]) from None
    student = str(data.get("student") or Path(file).stem)
    return Result(student, file, tuple(marks))


def _report(spec: Any, folder: Path, fail: Callable[..., SpecError]) -> Report:
    if isinstance(spec, dict):
        return analyse(load_spec(spec))
    if not isinstance(spec, str):
        raise fail("spec is a bundled spec's name, a path or a mapping", ["spec"])
    if spec in bundled_specs() or Path(spec).is_absolute():
        return analyse(load_spec(spec))
    return analyse(load_spec(str(folder / spec)))


# --- marking ---------------------------------------------------------------------------------


class _Marker:
    """Marks answers against one report (and the reports of the spec-wide mistakes)."""

    def __init__(self, report: Report) -> None:
        self.report = report
        self.entries = {e.path: e for e in report.walk()}
        self.named: dict[str, list[Entry]] = {}
        for e in report.walk():
            if e.name:
                self.named.setdefault(e.name, []).append(e)
        # the entry whose output is each entry's input: the one before it in its list; for
        # the first of a block's list (every list of a block starts from the block's input)
        # the one before the block. walk() gives a block before its layers.
        self.before: dict[str, str] = {}
        for entries in [report.layers] + [es for e in report.walk() for _, es in e.children]:
            for previous, entry in itertools.pairwise(entries):
                self.before[entry.path] = previous.path
        for block in report.walk():
            for _, entries in block.children:
                if entries and block.path in self.before:
                    self.before[entries[0].path] = self.before[block.path]
        self.claimed: dict[str, tuple[int, ...]] = {}  # output shapes the student gave

    def _carried(self, entry: Entry | None, shape: tuple[int, ...]) -> str:
        """A wrong shape that the layer gives from the student's own (wrong) shape before it:
        "error carried forward". A block is run whole on it."""
        if entry is None:
            return ""
        before = self.before.get(entry.path)
        if before is None or before not in self.claimed:
            return ""
        given = self.claimed[before]
        if given == self.entries[before].output_shape:
            return ""
        try:
            out = (
                entry.layer.forward(given).output
                if entry.step is not None
                else output_shape([entry.layer], given)
            )
        except ArithmeticError:
            return ""
        except ValueError:  # refused for that input
            return ""
        return (
            f"carried over from your {before} ({shape_text(given)}), worked right"
            if out == shape
            else ""
        )

    def mark(self, answer: dict[str, Any], claim: str, index: int) -> Mark:
        question = str(answer.get("question", f"{index + 1}"))
        if claim == "solutions":
            return _mark_solutions(question, answer)
        entry = self._entry(answer.get("at"))
        what = f"{entry.path if entry else 'network'} {claim}"
        value = answer[claim]
        if claim == "output_shape":
            right = entry.output_shape if entry else self.report.output_shape
            found = named.shape_mistakes(entry) if entry else []
            shape = _shape(value)
            last = entry or self.report.layers[-1]  # the network's output is its last layer's
            carried = self._carried(last, shape)
            self.claimed[last.path] = shape
            return self._compare(
                question, what, shape, tuple(right), found, entry, shape_text, _sizes, carried
            )
        if claim == "output_size":
            right_size = self._size(entry)
            size = _count(value)
            given = self.claimed.get(entry.path if entry else self.report.layers[-1].path)
            carried = ""
            if given is not None and _prod(given) == size and size != right_size:
                carried = "carried over: the size of your own output shape"
            return self._compare(
                question, what, size, right_size, [], entry, _num, _values, carried
            )
        if claim in ("params", "weights"):
            if entry is None:
                raise ConvcalcError(f"{claim} needs at: a layer (total_params is the network's)")
            target = entry
            right_params = target.params
            found = named.params_mistakes(target)
            if claim == "weights":
                right_params -= sum(
                    _prod(s) for e in target.walk() for n, s in e.tensors.items() if n == "bias"
                )
                found = [named.Mistake("counted the bias", target.params)]
            return self._compare(
                question, what, _count(value), right_params, found, target, _num, _params
            )
        if claim == "total_params":
            right_total = self.report.total_params
            found = named.total_params_mistakes(self.report)
            return self._compare(
                question, what, _count(value), right_total, found, None, _num, _params
            )
        if claim in ("mult_adds", "total_mult_adds"):
            return self._mult_adds(
                question, what, _count(value), entry if claim == "mult_adds" else None
            )
        return self._receptive(question, what, value, entry)

    def _entry(self, at: Any) -> Entry | None:
        """The entry at a path (``layers[2]``, or ``2`` for a top-level index) or a name."""
        if at is None:
            return None
        key = f"layers[{at}]" if isinstance(at, int) and not isinstance(at, bool) else str(at)
        if key in self.entries:
            return self.entries[key]
        found = self.named.get(key, [])
        if len(found) > 1:
            paths = ", ".join(e.path for e in found[:4])
            raise ConvcalcError(f"{key!r} names {len(found)} layers ({paths}…): give the path")
        if not found:
            raise ConvcalcError(f"no layer at {at!r}: give a path such as layers[0] or a name")
        return found[0]

    def _size(self, entry: Entry | None) -> int:
        shape = entry.output_shape if entry else self.report.output_shape
        return _prod(shape)

    def _compare(
        self,
        question: str,
        what: str,
        claimed: Any,
        right: Any,
        found: list[named.Mistake],
        entry: Entry | None,
        show: Callable[[Any], str],
        about: Callable[[str], bool] = bool,
        carried: str = "",
    ) -> Mark:
        if claimed == right:
            return Mark(question, what, show(claimed), show(right), 1.0)
        working = self._explained(entry, about)
        if carried:  # worked right from the student's own wrong answer before it
            return Mark(question, what, show(claimed), show(right), CARRIED, carried, working, True)
        mistake = named.recognise(claimed, found)
        name = mistake.name if mistake else ""
        return Mark(question, what, show(claimed), show(right), 0.0, name, working)

    @functools.cached_property
    def sections(self) -> dict[str, Section]:
        """The report's worked explanation by path (the totals at ``""``), made once, when a
        first answer is wrong."""
        return {section.path: section for section in explain(self.report)}

    def _explained(self, entry: Entry | None, about: Callable[[str], bool]) -> tuple[str, ...]:
        section = self.sections.get(entry.path if entry else "")
        if section is None:
            return ()
        lines = [line for line in section.lines if about(line.quantity)]
        return tuple(render_lines(replace(section, lines=tuple(lines))))

    def _mult_adds(self, question: str, what: str, claimed: int, entry: Entry | None) -> Mark:
        from convcalc.conventions import CONVENTIONS
        from convcalc.costs import rule

        leaves = list(entry.walk()) if entry else list(self.report.walk())
        counts = {c: sum(rule(c)(e, 1) for e in leaves if not e.is_block) for c in CONVENTIONS}
        right = counts["torchinfo"]
        others = {c: n for c, n in counts.items() if c != "torchinfo"}
        found = named.mult_adds_mistakes(right, others)
        what += " (torchinfo's convention)"
        return self._compare(question, what, claimed, right, found, entry, _num, _nothing)

    def _receptive(self, question: str, what: str, value: Any, entry: Entry | None) -> Mark:
        from convcalc.receptive import receptive_fields

        target = entry or self.report.layers[-1]
        found_field = receptive_fields(self.report)[id(target)]
        if found_field.size is None:  # every output value sees the whole input
            claimed_text = str(value)
            return self._compare(question, what, claimed_text, "global", [], target, str, _nothing)
        if value == "global":
            right_text = shape_text(tuple(int(v) for v in found_field.size))
            return self._compare(question, what, value, right_text, [], target, str, _nothing)
        right = tuple(int(v) if float(v).is_integer() else v for v in found_field.size)
        if isinstance(value, list):
            claimed = tuple(value)
        elif isinstance(value, int) and not isinstance(value, bool):
            claimed = (value,) * len(right)
        else:
            raise ConvcalcError(f"a receptive field is a size or a list of sizes, not {value!r}")
        found = named.receptive_mistakes(self.report, target)
        return self._compare(question, what, claimed, right, found, target, shape_text, _nothing)


def _mark_solutions(question: str, answer: dict[str, Any]) -> Mark:
    """A single-layer solve question: each claimed (k, s[, p, d]) checked by the layer's own
    size rule; with ``complete``, credit for the share of the whole set (counted, not listed)."""
    from convcalc.solve.layer import LAYERS, problem, tally

    ask = answer.get("solve")
    if not isinstance(ask, dict) or "in" not in ask or "out" not in ask:
        raise ConvcalcError(
            "solutions need solve: {in: N, out: M[, layer, padding, dilation, ...]}"
        )
    extra = set(ask) - set(SOLVE_KEYS)
    if extra:
        raise ConvcalcError(f"solve: unknown key {sorted(map(str, extra))[0]!r}")
    layer = str(ask.get("layer", "conv"))
    if layer not in LAYERS or layer == "conv_transpose":
        raise ConvcalcError(f"solve: layer is conv, maxpool or avgpool, not {layer!r}")
    ceil = ask.get("ceil_mode", False)
    if not isinstance(ceil, bool):
        raise ConvcalcError(f"solve: ceil_mode is true or false, not {ceil!r}")
    n, m = _count(ask["in"]), _count(ask["out"])
    p, d = _count(ask.get("padding", 0)), _count(ask.get("dilation", 1))
    ranges = {key: ask[key] for key in ("kernel_size", "stride") if key in ask}
    for key, text in ranges.items():
        if not isinstance(text, int | str) or isinstance(text, bool):
            raise ConvcalcError(f"solve: {key} is a number or a range such as '1..7'")
    pb = problem(
        layer,
        n,
        m,
        kernel_size=None if "kernel_size" not in ranges else str(ranges["kernel_size"]),
        stride=None if "stride" not in ranges else str(ranges["stride"]),
        padding=str(p),
        dilation=str(d),
        ceil_mode=ceil,
    )
    claimed = answer["solutions"]
    if not isinstance(claimed, list) or not claimed:
        raise ConvcalcError("solutions: a list of [k, s] or [k, s, p, d]")
    tuples = []
    for item in claimed:
        if not isinstance(item, list) or len(item) not in (2, 4):
            raise ConvcalcError(f"solutions: {item!r} is not [k, s] or [k, s, p, d]")
        values = tuple(_count(v) for v in item)
        tuples.append(values if len(values) == 4 else (values[0], values[1], p, d))
    sizes = {t: _solution_size(pb, t) for t in tuples}
    wrong = [t for t in tuples if sizes[t] != m]
    right = {t for t in tuples if sizes[t] == m}
    complete = bool(answer.get("complete", False))
    counted = tally(pb)
    every = counted.value
    if complete and not counted.complete:
        raise ConvcalcError("solve: too many solutions to ask for all of them: narrow the ranges")
    credit = len(right) / every if complete and every else float(not wrong)
    if complete and wrong:
        credit = max(0.0, credit - len(wrong) / max(1, every))
    mistakes = [_solve_mistake(pb, t) for t in wrong]
    what = f"solve {n} → {m} ({layer}{' ceil_mode' if ceil else ''}, p {p}, d {d})"
    correct = f"the {every:,} solutions" if complete else f"any of the {every:,} solutions"
    return Mark(
        question,
        what,
        ", ".join(f"(k {t[0]}, s {t[1]})" for t in tuples),
        correct if credit < 1 or complete else "all valid",
        round(credit, 4),
        "; ".join(text for text in mistakes if text),
        tuple(f"(k {t[0]}, s {t[1]}) gives {sizes[t] or 'nothing'}, not {m}" for t in wrong),
    )


def _rule(pb: Any, t: tuple[int, ...]) -> Applied:
    """The size rule of the question's layer for one claimed (k, s, p, d)."""
    k, s, p, d = t
    if pb.layer == "conv":
        return Applied(arith.conv_out, (pb.n, k, s, p, d))
    return Applied(arith.pool_out, (pb.n, k, s, p, d, pb.ceil_mode))


def _solution_size(pb: Any, t: tuple[int, ...]) -> int | None:
    """The output size for a claimed setting, None where PyTorch refuses it (or it lies
    outside the question's ranges: another question's answer)."""
    k, s, p, d = t
    if k not in pb.kernel_size or s not in pb.stride or p not in pb.padding or d not in pb.dilation:
        return None
    applied = _rule(pb, t)
    try:
        return applied.rule(*applied.args)
    except arith.Refusal:
        return None


def _solve_mistake(pb: Any, t: tuple[int, ...]) -> str:
    """The named mistake under which this wrong setting would give M."""
    for name, value in named.size_variants(_rule(pb, t)).items():
        if value == pb.m:
            return f"(k {t[0]}, s {t[1]}): {name}"
    return ""


# --- values ------------------------------------------------------------------------------------


CARRIED = 0.5  # credit for a value worked right from the student's own earlier mistake


def _sizes(quantity: str) -> bool:
    return quantity not in ("parameters", "values")


def _nothing(quantity: str) -> bool:
    return False


def _values(quantity: str) -> bool:
    return quantity == "values"


def _params(quantity: str) -> bool:
    return quantity == "parameters"


def _prod(shape: Sequence[int]) -> int:
    total = 1
    for n in shape:
        total *= n
    return total


def _shape(value: Any) -> tuple[int, ...]:
    if not isinstance(value, list) or not all(isinstance(n, int) for n in value):
        raise ConvcalcError(f"a shape is a list of integers such as [32, 61, 61], not {value!r}")
    return tuple(value)


def _count(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConvcalcError(f"expected an integer, not {value!r}")
    return value


def _num(value: Any) -> str:
    return f"{value:,}"


# --- rendering ---------------------------------------------------------------------------------


def render_text(result: Result) -> str:
    """One student's marks: ✓ or ✗ per answer, the right value, the mistake, the working."""
    lines = [f"{result.student} ({result.file}): {result.score:g} / {len(result.marks)}"]
    for mark in result.marks:
        sign = "✓" if mark.right else "✗" if mark.credit == 0 else "◐"
        head = f"  {sign} {mark.question}  {mark.what}: {mark.claimed}"
        if not mark.right:
            head += f" — right: {mark.correct}"
            if mark.credit:
                head += f" (credit {mark.credit:g})"
        lines.append(head)
        if mark.mistake:
            lines.append(f"      {'note' if mark.carried else 'mistake'}: {mark.mistake}")
        lines.extend(f"      {line}" for line in mark.explanation if not mark.right)
    return "\n".join(lines) + "\n"


def summary(results: Sequence[Result]) -> str:
    """A table of every student's score."""
    width = max([len("student"), *(len(r.student) for r in results)])
    rows = [f"{'student':<{width}}  score  of  right  file"]
    for r in results:
        right = sum(m.right for m in r.marks)
        rows.append(f"{r.student:<{width}}  {r.score:5g}  {len(r.marks):>2}  {right:>5}  {r.file}")
    return "\n".join(rows) + "\n"


def to_csv(results: Sequence[Result]) -> str:
    """A gradebook: one row per student, a column per question (its credit), and the total."""
    questions: list[str] = []
    for r in results:
        for m in r.marks:
            if m.question not in questions:
                questions.append(m.question)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["student", "file", *questions, "score", "out_of"])
    for r in results:
        credit: dict[str, float] = {}
        for m in r.marks:
            credit[m.question] = credit.get(m.question, 0.0) + m.credit
        row = [f"{credit[q]:g}" if q in credit else "" for q in questions]
        writer.writerow([r.student, r.file, *row, f"{r.score:g}", len(r.marks)])
    return out.getvalue()


def to_json(results: Sequence[Result]) -> list[dict[str, Any]]:
    return [
        {
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
