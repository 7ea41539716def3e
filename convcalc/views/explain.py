"""Worked explanations: every number of a report with its formula and its numbers.

Nothing here computes a size. A leaf's sizes come from the rules its ``forward`` applied
(``Step.rules``), each derived by the function next to it in :mod:`convcalc.arith`; a block's
join from its own ``merge_derived``; parameters from the step's tensors. This module only puts
those records in order (:func:`explain`) and renders them as text, Markdown or LaTeX, the
names in them (the spec's and the layers') through the medium's function of
:mod:`convcalc.escape` (``tex_text`` uses :func:`convcalc.escape.latex`).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass

from convcalc import escape
from convcalc.expr import Expr, equation, lift, product, sym, total
from convcalc.records import Entry, Report, Shape, Step, shape_text
from convcalc.tex import tex_document, tex_text

FORMATS = ("text", "markdown", "latex")
# the names of the spatial dimensions, by their number
DIMS = {1: ("L",), 2: ("H", "W"), 3: ("D", "H", "W")}


@dataclass(frozen=True)
class Line:
    """One explained number: ``quantity = expr`` worked out, or a sentence (``expr`` None)."""

    quantity: str
    expr: Expr | None
    note: str = ""
    same_as: str = ""  # another dimension with the same numbers: only the value is shown


@dataclass(frozen=True)
class Section:
    """One layer or block: where it is, what it does to the shape, and its numbers."""

    path: str
    label: str
    input_shape: Shape
    output_shape: Shape
    depth: int
    lines: tuple[Line, ...]


def explain(report: Report, depth: int | None = None) -> list[Section]:
    """A section per entry (nested at most ``depth`` levels deep), in execution order, then
    the totals (path ``""``)."""
    shape_of = report.dialect.shape if report.dialect is not None else _same
    walked = report.walk()
    sections = [_section(e, shape_of) for e in walked if depth is None or e.depth < depth]
    terms = [entry.params for entry in report.layers if entry.params]
    summed = [Line("parameters", total(terms))] if len(terms) > 1 else []
    values = Line("values", product(shape_of(report.output_shape)), "the output's size")
    sections.append(
        Section("", "total", report.input_shape, report.output_shape, 0, (*summed, values))
    )
    return sections


def _same(shape: Shape) -> Shape:
    return shape


def _section(entry: Entry, shape_of: Callable[[Shape], Shape] = _same) -> Section:
    """An entry's section; ``shape_of`` gives a shape in the spec's framework's order."""
    step = entry.step
    lines = _block_lines(entry) if step is None else _leaf_lines(entry, step, shape_of)
    if entry.params:
        tensors = entry.layer.shown_tensors(entry.tensors)  # in the layer's framework's words
        parts = [product(shape) for shape in tensors.values()]
        named = ", ".join(f"{name} {shape_text(shape)}" for name, shape in tensors.items())
        if entry.step is None:
            children = [e.params for _, es in entry.children for e in es if e.params]
            parts = [lift(n) for n in children]
            named = "the sum of the layers inside"
        lines.append(Line("parameters", total(parts), named))
    return Section(
        entry.path,
        entry.label,
        entry.input_shape,
        entry.output_shape,
        entry.depth,
        tuple(lines),
    )


def _leaf_lines(entry: Entry, step: Step, shape_of: Callable[[Shape], Shape] = _same) -> list[Line]:
    """The sizes the step's rules computed, each worked out; else what became of the values
    (kept in place, or rearranged, in the order ``shape_of`` writes shapes); then the step's
    note, what it does in words."""
    lines: list[Line] = []
    shape_in, shape_out, rules = entry.input_shape, entry.output_shape, step.rules
    if rules:
        names = ("C", *DIMS.get(len(shape_in) - 1, ()))[-len(rules) :]
        if len(names) != len(rules):
            names = tuple(f"dim{i + 1}" for i in range(len(rules)))
        seen: dict[tuple[object, ...], str] = {}
        for name, applied in zip(names, rules, strict=True):
            name = applied.dim or name
            key = (applied.rule, *applied.args)
            derived = entry.layer.derived(applied, name)
            lines.append(Line(name, derived.expr, derived.note, seen.get(key, "")))
            seen.setdefault(key, name)
        if shape_out[0] != shape_in[0] and hasattr(entry.layer, "out_channels"):
            lines.insert(0, Line("C", sym(entry.layer.word("out_channels"), shape_out[0])))
    elif shape_out == shape_in and not step.note:
        lines.append(Line("shape", None, "unchanged: the layer works on each value on its own"))
    elif shape_out != shape_in and math.prod(shape_out) == math.prod(shape_in):
        note = f"the same values, rearranged as {shape_text(shape_of(shape_out))}"
        lines.append(Line("values", product(shape_of(shape_in)), note))
    elif not step.note:
        lines.append(Line("shape", None, "set by the layer's fields and its input's shape"))
    if step.note:
        lines.append(Line("shape", None, step.note))
    return lines


def _block_lines(entry: Entry) -> list[Line]:
    from convcalc.layers.blocks import Block

    if not isinstance(entry.layer, Block):
        return []
    paths = entry.layer.paths()
    block, shape = entry.layer, entry.input_shape
    given = block.path_outputs(shape, entry.children)
    outputs = {keys: out for (keys, _), out in zip(entry.children, given, strict=True)}
    pairs = [(path, outputs.get(path.keys, shape)) for path in paths]
    derived = entry.layer.merge_derived(entry.input_shape, pairs)
    if derived is None:
        return [Line("shape", None, "the output of its last layer")]
    return [Line(derived.quantity or "values", derived.expr, derived.note)]


# --- rendering -------------------------------------------------------------------------------


def render(report: Report, sections: list[Section], fmt: str = "text") -> str:
    """The explanation as ``text``, ``markdown`` or ``latex`` (a complete document)."""
    if fmt == "latex":
        return _latex(report, sections)
    markdown = fmt == "markdown"
    shown = escape.markdown if markdown else escape.terminal  # for the names, the user's text
    out = []
    title = (
        f"{shown(report.name)}: {report.shown(report.input_shape)} → "
        f"{report.shown(report.output_shape)}"
    )
    out.append(f"# {title}\n" if markdown else f"{title}\n")
    for section in sections:
        heading = (
            f"{section.path} {shown(section.label)}: {report.shown(section.input_shape)} → "
            f"{report.shown(section.output_shape)}"
            if section.path
            else "total"
        )
        indent = "" if markdown else "  " * section.depth
        out.append(f"\n## {heading}\n" if markdown else f"\n{indent}{heading}\n")
        for line in section.lines:
            text = _line(line)
            if not markdown:
                out.append(f"{indent}  {text}\n")
            elif line.expr is None:  # words, which may hold x[:, i] or a_b: Markdown's escaping
                out.append(f"- {escape.markdown(text)}\n")
            else:
                out.append(f"- `{text}`\n")
    return "".join(out)


def render_lines(section: Section) -> list[str]:
    """A section's lines as text, one per explained number (for the grader's feedback)."""
    return [_line(line) for line in section.lines]


def _line(line: Line) -> str:
    if line.expr is None:
        return f"{line.quantity}: {line.note}"
    if line.same_as:
        return f"{line.quantity} = {line.expr.evaluate():,}   (the same numbers as {line.same_as})"
    text = equation(line.quantity, line.expr)
    text = grouped_digits(text)
    return f"{text}   ({line.note})" if line.note else text


def grouped_digits(text: str) -> str:
    """Every whole number with thousands separators, the terms of a sum as its value:
    ``1,536 + 2,362,368 = 2,363,904`` (a decimal, as a scale 1.5, is left as written)."""
    return _WHOLE.sub(lambda m: f"{int(m.group()):,}", text)


_WHOLE = re.compile(r"(?<![\d.,])\d{4,}(?![\d.,])")


def _tex_shape(shape: Shape) -> str:
    return " \\times ".join(str(n) for n in shape)


def _latex(report: Report, sections: list[Section]) -> str:
    out = tex_document(tex_text(report.name))
    out.append(
        f"Input ${_tex_shape(report.input_shape)}$, output ${_tex_shape(report.output_shape)}$.\n"
    )
    for section in sections:
        path = re.sub(r"([.\]])", r"\1\\allowbreak{}", tex_text(section.path))
        title = f"{path} {tex_text(section.label)}" if section.path else "Total"
        out.append(
            f"\n\\subsection*{{{title}}}\n${_tex_shape(section.input_shape)} \\to "
            f"{_tex_shape(section.output_shape)}$\n"
        )
        rows = [_tex_equation(line, line.expr) for line in section.lines if line.expr is not None]
        if rows:
            out.append("\\begin{align*}\n" + " \\\\\n".join(rows) + "\n\\end{align*}\n")
        notes = [f"{line.quantity}: {line.note}" for line in section.lines if line.note]
        for note in notes:
            out.append(tex_text(note) + "\n\n")
    out.append("\\end{document}\n")
    return "".join(out)


def _tex_equation(line: Line, expr: Expr) -> str:
    """A line as rows of ``align*``; a long sum of numbers (a block's parameters) wraps."""
    quantity = _tex_quantity(line.quantity)
    if line.same_as:
        return f"{quantity} &= {expr.evaluate()} \\quad \\text{{(as {line.same_as})}}"
    terms = [expr]
    while terms[0].op == "+":
        terms[:1] = list(terms[0].args)
    if len(terms) <= 6 or any(t.op != "num" for t in terms):
        return equation(quantity, expr, latex=True)
    numbers = [str(t.value) for t in terms]
    rows = [" + ".join(numbers[i : i + 6]) for i in range(0, len(numbers), 6)]
    return f"{quantity} &= " + " \\\\\n  &\\quad + ".join(rows) + f" \\\\\n  &= {expr.evaluate()}"


def _tex_quantity(name: str) -> str:
    return name if len(name) == 1 else f"\\text{{{tex_text(name)}}}"
