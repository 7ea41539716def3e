"""Writing the closed-form answers of :mod:`convcalc.solve.closed`: a table (plain text, the
default), JSON, CSV, and with ``--explain`` Markdown or LaTeX.

Every form says the accepted set, the part of it asked (its count), which network answers
(built for the declared input, or rebuilt), and why: each condition names the layer or join
that imposes it and its arithmetic (``layers[30] maxpool: ⌊H / 16⌋ ≥ 2 ⇔ H ≥ 32``). Without
``--explain`` only the conditions that bind are shown, a few at most; with it, every one.
"""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from convcalc import escape
from convcalc.analysis import output_shapes
from convcalc.budget import STEPS
from convcalc.errors import ConvcalcError
from convcalc.expr import render
from convcalc.records import Shape, shape_text
from convcalc.solve.closed import InputAnswer, MixedAnswer, Question, binding
from convcalc.solve.inputs import Limit, SizeSet
from convcalc.solve.sizes import Within, runs_text
from convcalc.solve.stack import csv_row
from convcalc.tex import tex_document, tex_text

Write = Callable[[str], object]
SHOWN = 4  # conditions shown without --explain


@dataclass(frozen=True)
class Options:
    """What the command line asked for beyond the question."""

    fmt: str = "table"
    explain: bool = False
    limit: int | None = None
    near: tuple[int, ...] | None = None
    count_only: bool = False


# --- sets in words -------------------------------------------------------------------------


def compact(sizes: SizeSet | Within, name: str) -> str:
    """A set as a person writes it, shorter than :meth:`SizeSet.describe` where that lists
    many residues (``H mod 16 ∈ {0, …, 7}``) or a long progression (``H ∈ {16, 32, …, 1024}``,
    ``8 ≤ H ≤ 64``); a set cut to a range, by :meth:`Within.describe` with these words."""
    if isinstance(sizes, Within):
        return sizes.describe(name, compact)
    if sizes.is_finite:
        members = list(sizes.below)
        if len(members) >= 3:
            step = members[1] - members[0]
            if all(b - a == step for a, b in itertools.pairwise(members)):
                if step == 1:
                    return f"{members[0]} ≤ {name} ≤ {members[-1]}"
                return f"{name} ∈ {{{members[0]}, {members[1]}, …, {members[-1]}}}"
        return sizes.describe(name)
    if len(sizes.residues) == 1 or sizes.period == 1:
        return sizes.describe(name)
    start = sizes.threshold
    below = list(sizes.below)
    while start > 1 and ((start - 1) in below) == ((start - 1) % sizes.period in sizes.residues):
        start -= 1
        if below and below[-1] == start:
            below.pop()
    text = f"{name} mod {sizes.period} ∈ {{{runs_text(list(sizes.residues))}}}"
    if start > 1:
        text += f", {name} ≥ {start}"
    if below:
        text = SizeSet.finite(below).describe(name) + " or " + text
    return text


def boxes_text(boxes: tuple[tuple[SizeSet | Within, ...], ...], names: tuple[str, ...]) -> str:
    """``H ≥ 8 and W ≥ 8``, or boxes joined by ``or``; ``none`` for no box."""
    if not boxes:
        return "none"
    parts = [" and ".join(compact(s, n) for s, n in zip(box, names, strict=True)) for box in boxes]
    return parts[0] if len(parts) == 1 else " or ".join(f"({p})" for p in parts)


def _shape(question: Question, sizes: tuple[int | str, ...]) -> str:
    return shape_text(question.written((question.channels, *sizes)))


def _count(n: int | None, noun: str = "size") -> str:
    if n is None:
        return f"infinitely many {noun}s"
    return f"{n:,} {noun}{'' if n == 1 else 's'}"


# --- the conditions ------------------------------------------------------------------------


@dataclass(frozen=True)
class Line:
    """A condition as shown: where (``layers[30] maxpool``), what it asks (``⌊H / 16⌋ ≥
    2``), what that means for the input (``H ≥ 32``), and the other dimensions it holds for
    alike (``W``); ``tex`` what it asks in LaTeX."""

    where: str
    path: str
    type: str
    asks: str
    means: str
    alike: tuple[str, ...]
    tex: str
    always: str = ""

    def text(self) -> str:
        alike = f" ({', '.join(self.alike)} alike)" if self.alike else ""
        asks = f"{self.asks} ⇔ " if self.asks and self.asks != self.means else ""
        return f"{self.where}: {asks}{self.means}{alike}"


def _target_path(question: Question) -> str:
    return f"layers[{len(question.spec.layers)}]"


def _asks(limit: Limit, latex: bool = False) -> str:
    """What the condition compares, from its sides: ``⌊H / 16⌋ ≥ 2`` (a layer's own), or
    ``branches[0] ⌊H / 8⌋ = branches[1] 2·⌊H / 16⌋`` (a join, or a size built in)."""
    sides = limit.sides

    def size(i: int) -> str:
        side = sides[i]
        if latex:
            if side.expr is not None:
                return render(side.expr, symbols=True, latex=True)
            return _tex_math(side.text)
        return side.text

    def label(i: int) -> str:
        return rf"\text{{{escape.latex(sides[i].label)}}}\ " if latex else f"{sides[i].label} "

    if limit.relation == "valid" and sides and sides[0].accepts is not None:
        described = sides[0].accepts.describe("m")
        if latex:
            return _tex_math(described).replace("m", size(0), 1) if described else ""
        return described.replace("m", size(0), 1)
    if len(sides) == 2:
        tail = r" \text{ or } 1" if latex else " or 1"
        joined = f"{label(0)}{size(0)} = {label(1)}{size(1)}"
        return joined + (tail if limit.relation == "gate" else "")
    return ""


def lines(question: Question, limits: list[Limit]) -> list[Line]:
    """The conditions as lines, one per condition, the same condition on other dimensions
    (the same place, arithmetic and set, with the other dimension's name) merged into it."""
    out: list[Line] = []
    merged: set[int] = set()
    names = tuple(d.name for d in question.dims)
    target = _target_path(question) if question.target.spatial is not None else None
    for i, limit in enumerate(limits):
        if i in merged:
            continue
        alike = []
        if len(limit.dims) == 1:
            for j in range(i + 1, len(limits)):
                other = limits[j]
                if j not in merged and _same(limit, other):
                    alike.append(other.dims[0])
                    merged.add(j)
        if limit.always:
            means = f"always ({limit.always})"
        elif len(limit.dims) == 1:
            means = compact(limit.sizes, limit.dims[0])
        elif limit.dims:
            means = boxes_text(limit.boxes or (), limit.dims)
            if limit.check is not None:  # no box by itself: cut by the others first
                means += ", of the sizes the other conditions leave"
        else:
            means = f"no size ({limit.note})"
        kind = question.kind(limit.path, limit.type)
        where = f"{limit.path} {kind}"
        if target is not None and limit.path == target:
            where = "the output target"
        asks = _asks(limit)
        tex = _asks(limit, True)
        out.append(Line(where, limit.path, kind, asks, means, tuple(alike), tex, limit.always))
    del names
    return out


def _same(a: Limit, b: Limit) -> bool:
    """The same condition on another dimension: same place and relation, the same sides with
    the dimension renamed, the same set."""
    if len(b.dims) != 1 or (a.path, a.type, a.relation) != (b.path, b.type, b.relation):
        return False
    x, y = a.dims[0], b.dims[0]
    if x == y or a.sizes != b.sizes or len(a.sides) != len(b.sides):
        return False
    if a.always.replace(x, y) != b.always:
        return False
    return all(
        s.label == t.label and s.accepts == t.accepts and s.text.replace(x, y) == t.text
        for s, t in zip(a.sides, b.sides, strict=True)
    )


def _limits(answer: InputAnswer) -> tuple[Limit, ...]:
    return answer.sizes.limits if answer.sizes is not None else ()


def _restricting(answer: InputAnswer) -> list[Limit]:
    """The conditions but the joins that hold always (which restrict no size)."""
    return [limit for limit in _limits(answer) if not limit.always]


def _built_limits(answer: InputAnswer) -> list[Limit]:
    return [
        limit for limit in _limits(answer) if limit.note.startswith("the declared input builds its")
    ]


def network_line(answer: InputAnswer) -> str:
    """Which network answers, in one line; for a declared one, what its layers fix."""
    question = answer.question
    text = question.network()
    if question.declared is None:
        return text
    if question.refused:
        return f"{text}: it refuses {question.channels} channels ({question.refused})"
    fixed = _built_limits(answer)
    if fixed:
        what = "; ".join(
            f"{lim.path} {question.kind(lim.path, lim.type)}'s {lim.sides[0].label} "
            f"{lim.sides[0].text} is fixed"
            for lim in fixed
            if lim.sides
        )
        return f"{text}: {what} (--rebuild rebuilds the layers for each input size)"
    return f"{text} (no layer takes a size from the input's spatial sizes)"


# --- the answer in words -------------------------------------------------------------------


def _head(answer: InputAnswer) -> list[str]:
    """The answer's lines: the accepted set, the part asked and its count (or the verdict on
    a fixed input), the network."""
    question = answer.question
    names = tuple(d.name for d in question.dims)
    unknown = question.unknown_dims
    sizes = answer.sizes
    symbolic = tuple(d.name if d.fixed is None else d.fixed for d in question.dims)
    out = []
    if not unknown:
        fixed = tuple(d.fixed or 0 for d in question.dims)
        verdict = "accepts" if answer.boxes else "refuses"
        out.append(f"{question.name} {verdict} {_shape(question, fixed)}")
    else:
        shown = tuple(d.name for d in unknown)
        keep = [i for i, d in enumerate(question.dims) if d.fixed is None]
        boxes = tuple(tuple(box[i] for i in keep) for box in answer.boxes)
        if not answer.boxes and all(d.values is None for d in unknown):
            out.append(f"{question.name} accepts no input {_shape(question, symbolic)}")
        elif all(d.values is None for d in unknown):
            out.append(
                f"{question.name} accepts {_shape(question, symbolic)} for "
                f"{boxes_text(boxes, shown)}"
            )
            if answer.count is not None and answer.boxes:
                out[-1] += f": {_count(answer.count)}"
        else:
            whole = _whole(answer)
            out.append(f"{question.name} accepts {_shape(question, symbolic)} for {whole}")
            asked = " · ".join(f"{d.name} {d.asked}" for d in unknown)
            out.append(f"within {asked}: {boxes_text(boxes, shown)}, {_count(answer.count)}")
    if sizes is not None and not sizes.separable and unknown:
        out.append(f"the dimensions meet: {_products(answer)}")
    out.append(network_line(answer))
    del names
    return out


def _products(answer: InputAnswer) -> str:
    """The conditions joining dimensions, ``(⌊H / 4⌋ − 3)·(⌊W / 4⌋ − 3) = 25``."""
    assert answer.sizes is not None
    return answer.sizes.joint.product_text()


def _whole(answer: InputAnswer) -> str:
    """The accepted set before the ranges cut it (the fixed sizes still fixed)."""
    question, sizes = answer.question, answer.sizes
    if sizes is None:
        return "no size"
    keep = [i for i, d in enumerate(question.dims) if d.fixed is None]
    boxes = []
    for box in sizes.joint.boxes:
        if all(d.fixed in s for d, s in zip(question.dims, box, strict=True) if d.fixed):
            boxes.append(tuple(box[i] for i in keep))
    return boxes_text(tuple(boxes), tuple(question.dims[i].name for i in keep))


FREE = "no layer or join restricts the input's sizes (each takes any size, every join agrees)"


def _near_at(answer: InputAnswer, options: Options) -> tuple[int, ...] | None:
    """Where the nearest sizes are asked: ``--near``, or a fixed input refused."""
    if options.near is not None:
        return options.near
    question = answer.question
    if not question.unknown_dims and not answer.boxes and answer.sizes is not None:
        return tuple(d.fixed or 0 for d in question.dims)
    return None


def _near_lines(answer: InputAnswer, near: tuple[int, ...] | None) -> list[str]:
    """The nearest accepted sizes below and above ``near`` (a fixed dimension at its size):
    per dimension where the dimensions are apart, and as tuples."""
    if near is None:
        return []
    question = answer.question
    at = tuple(
        d.fixed if d.fixed is not None else n for d, n in zip(question.dims, near, strict=True)
    )
    if not question.unknown_dims:  # a refused input: the nearest the whole set holds
        answer = _unfixed(answer)
    below, above = answer.nearest(at)

    def shown(t: tuple[int, ...] | None) -> str:
        return "none" if t is None else "×".join(map(str, t))

    out = [f"nearest to {shown(at)}: {shown(below)} below, {shown(above)} above"]
    sizes = answer.sizes
    if sizes is not None and sizes.separable and len(question.unknown_dims) > 1:
        parts = []
        for i, d in enumerate(question.dims):
            if d.fixed is not None:
                continue
            each = answer.per_dim(i)
            lo, hi = each.last_to(at[i]), each.next_from(at[i])
            parts.append(f"{d.name}: {lo or 'none'} below, {hi or 'none'} above")
        out.append("  " + " · ".join(parts))
    return out


def _unfixed(answer: InputAnswer) -> InputAnswer:
    """The answer with every dimension any size (a fixed input's neighbours)."""
    from dataclasses import replace

    sizes = answer.sizes
    if sizes is None:
        return answer
    return replace(answer, boxes=sizes.joint.boxes, count=None)


def _listed(answer: InputAnswer, limit: int | None) -> Iterator[tuple[tuple[int, ...], Shape]]:
    """The accepted tuples asked (the unknown dimensions' sizes) with their output shapes, in
    the spec's order (Keras' channels-last)."""
    question = answer.question
    memo: dict[Any, Any] = {}
    for i, sizes in enumerate(answer.tuples()):
        if limit is not None and i >= limit:
            return
        shape = (question.channels, *sizes)
        spec = answer.spec if answer.spec is not None else question.spec
        out = output_shapes(spec.layers, (shape,), None, memo)
        memo.clear() if len(memo) > 100_000 else None
        unknown = tuple(n for n, d in zip(sizes, question.dims, strict=True) if d.fixed is None)
        yield unknown, question.written(out[0]) if out is not None else ()  # as the spec writes


# --- the forms -----------------------------------------------------------------------------


def write(out: Write, answer: InputAnswer | MixedAnswer, options: Options) -> None:
    """``answer`` in the form ``options`` asks for."""
    if isinstance(answer, MixedAnswer):
        write_mixed(out, answer, options)
    elif options.fmt == "json":
        write_json(out, answer, options)
    elif options.fmt == "csv":
        write_csv(out, answer, options)
    elif options.fmt == "markdown":
        write_markdown(out, answer, options)
    elif options.fmt == "latex":
        write_latex(out, answer, options)
    else:
        write_table(out, answer, options)


def _listing_limit(answer: InputAnswer | MixedAnswer, options: Options) -> int | None:
    """How many tuples a listing shows: ``--limit``, else all where finitely many."""
    if options.limit is not None:
        return options.limit
    if answer.count is None:
        raise ConvcalcError(
            "the accepted sizes are infinitely many: give ranges (--input 3,1..64,1..64) or "
            "--limit N to list the first N"
        )
    return None


def _refusing(answer: InputAnswer, limits: list[Limit]) -> list[Limit]:
    """For a fixed input, the conditions its sizes fail."""
    question = answer.question
    at = {d.name: d.fixed for d in question.dims}
    out = []
    for limit in limits:
        sizes = tuple(at[n] for n in limit.dims)
        if not all(n is not None for n in sizes):
            continue
        if not limit.holds(tuple(n for n in sizes if n is not None)):
            out.append(limit)
    return out


def _shown_lines(answer: InputAnswer, every: bool) -> tuple[list[Line], int]:
    """The condition lines shown, and how many more there are: every condition (the joins
    that hold always too), or those that bind (for a fixed input, those it fails)."""
    limits = list(_limits(answer))
    if every:
        return lines(answer.question, limits), 0
    if not answer.question.unknown_dims:
        if answer.boxes:  # an accepted input: nothing to show without --explain
            return [], 0
        chosen = lines(answer.question, _refusing(answer, limits))
    else:
        chosen = lines(answer.question, binding(tuple(limits)))
    total = len(lines(answer.question, [limit for limit in limits if not limit.always]))
    return chosen[:SHOWN], total - len(chosen[:SHOWN])


def write_table(out: Write, answer: InputAnswer, options: Options) -> None:
    question = answer.question
    text = [escape.terminal(line) for line in _head(answer)]
    text += _near_lines(answer, _near_at(answer, options))
    shown, more = _shown_lines(answer, options.explain)
    if not _restricting(answer) and answer.sizes is not None:
        text.append(f"because: {FREE}")
    if options.explain and shown:
        text.append("")
        text.append("why (every condition, in the order the network meets it):")
    elif shown:
        text.append("refused by:" if not answer.question.unknown_dims else "because:")
    text += [f"  {escape.terminal(line.text())}" for line in shown]
    if more:
        text.append(f"  … and {more} more condition{'s' if more != 1 else ''} (--explain)")
    out("\n".join(text) + "\n")
    if options.limit is None or options.count_only:
        return
    labels = [d.label for d in question.unknown_dims]
    widths = [max(len(label), 4) for label in labels]
    out("\n" + "  ".join(lbl.rjust(w) for lbl, w in zip(labels, widths, strict=True)))
    out("  output_shape\n")
    for values, shape in _listed(answer, options.limit):
        cells = "  ".join(str(v).rjust(w) for v, w in zip(values, widths, strict=True))
        out(f"{cells}  {shape_text(shape)}\n")


def write_csv(out: Write, answer: InputAnswer, options: Options) -> None:
    if options.count_only:
        out(f"{'inf' if answer.count is None else answer.count}\n")
        return
    limit = _listing_limit(answer, options)
    labels = [d.label for d in answer.question.unknown_dims]
    out(csv_row([*labels, "output_shape"]))
    for values, shape in _listed(answer, limit):
        out(csv_row([*values, "x".join(map(str, shape))]))


def _limit_data(limit: Limit, binds: bool, kind: str) -> dict[str, Any]:
    data = limit.data(kind) | {"binds": binds}
    if limit.always:  # "always" says why, and every size meets it
        return data
    if len(limit.dims) == 1:
        data["sizes"] = limit.sizes.describe(limit.dims[0])
    elif limit.dims:
        data["boxes"] = [
            {n: s.describe(n) for n, s in zip(limit.dims, box, strict=True)}
            for box in limit.boxes or ()
        ]
    return data


def answer_data(answer: InputAnswer, options: Options) -> dict[str, Any]:
    """The answer as data: the accepted set (boxes, products), the part asked and its count,
    the network, every condition (which bind), the nearest sizes."""
    question, sizes = answer.question, answer.sizes
    names = tuple(d.name for d in question.dims)
    binds = binding(_limits(answer))
    data: dict[str, Any] = {
        "name": question.name,
        "count": answer.count,
        "unknowns": [d.label for d in question.unknown_dims],
        "input": list(question.written((question.channels, *(d.asked for d in question.dims)))),
        "dims": list(names),
        "network": {
            "built_for": (
                list(question.written(question.declared)) if question.declared is not None else None
            ),
            "rebuild": question.rebuild,
            "text": network_line(answer),
        },
        "accepted": sizes.joint.to_dict() if sizes is not None else None,
        "within": {
            "boxes": [
                {n: s.describe(n) for n, s in zip(names, box, strict=True)} for box in answer.boxes
            ],
            "text": boxes_text(answer.boxes, names),
            "count": answer.count,
        },
        "limits": [
            _limit_data(limit, limit in binds, question.kind(limit.path, limit.type))
            for limit in _limits(answer)
        ],
        "notes": [network_line(answer)],
    }
    if not question.unknown_dims:
        data["accepts"] = bool(answer.boxes)
    if options.near is not None:
        at = tuple(
            d.fixed if d.fixed is not None else n
            for d, n in zip(question.dims, options.near, strict=True)
        )
        below, above = answer.nearest(at)
        data["nearest"] = {
            "to": list(at),
            "below": list(below) if below else None,
            "above": list(above) if above else None,
        }
    return data


def _json_listable(count: int | None, options: Options) -> None:
    """Refuse, with what to ask instead, to list more than :data:`STEPS` tuples in one JSON
    document (which is built whole: CSV streams)."""
    if count is not None and count > STEPS and options.limit is None:
        raise ConvcalcError(
            f"{count:,} solutions are too many to list in one JSON document: give --limit N "
            "to list the first N, --count for the count, or --format csv to stream them"
        )


def write_json(out: Write, answer: InputAnswer, options: Options) -> None:
    """The answer as one JSON document, with every tuple asked listed where finitely many
    (the first ``--limit``); past :data:`~convcalc.budget.STEPS` of them, which one document
    cannot hold, an error asks for ``--limit``, ``--count`` or CSV (which streams)."""
    data = answer_data(answer, options)
    listing = options.limit is not None or answer.count is not None
    if listing and not options.count_only:
        _json_listable(answer.count, options)
    if listing and not options.count_only:
        labels = [d.label for d in answer.question.unknown_dims]
        data["solutions"] = [
            {**dict(zip(labels, values, strict=True)), "output_shape": list(shape)}
            for values, shape in _listed(answer, options.limit)
        ]
    out(escape.json_text(json.dumps(data, indent=2, ensure_ascii=False)) + "\n")


def write_markdown(out: Write, answer: InputAnswer, options: Options) -> None:
    """A heading, the answer's lines, and a list item per condition (the arithmetic in a code
    span)."""
    question = answer.question
    out(f"# {escape.markdown(question.name)}: accepted input sizes\n\n")
    head = _head(answer)
    head += _near_lines(answer, _near_at(answer, options))
    out("".join(f"{escape.markdown(line.strip())}  \n" for line in head))
    shown, more = _shown_lines(answer, options.explain)
    out("\n## Why\n\n")
    if not _restricting(answer) and answer.sizes is not None:
        out(f"- {escape.markdown(FREE)}\n")
    for line in shown:
        alike = f" ({', '.join(line.alike)} alike)" if line.alike else ""
        same = line.asks == line.means
        asks = f"{escape.markdown_code(line.asks)} ⇔ " if line.asks and not same else ""
        out(
            f"- {escape.markdown(line.where)}: {asks}{escape.markdown_code(line.means)}"
            f"{escape.markdown(alike)}\n"
        )
    if more:
        out(f"- … and {more} more (--explain)\n")


_TEX_SET = {
    "∈": r"\in ",
    "≡": r"\equiv ",
    "∅": r"\emptyset ",
    "≥": r"\geq ",
    "≤": r"\leq ",
    "…": r"\ldots ",
    "·": r"\cdot ",
    "⌊": r"\lfloor ",
    "⌋": r"\rfloor ",
    "⌈": r"\lceil ",
    "⌉": r"\rceil ",
    "−": "-",
    "{": r"\{",
    "}": r"\}",
    "×": r"\times ",
}
_TEX_TOKEN = re.compile(r"[A-Za-z]{2,}|.", re.DOTALL)


def _tex_math(text: str) -> str:
    """A formula of convcalc's plain text (a set, a size) in LaTeX math: its symbols as
    commands, ``mod`` as ``\\bmod``, other words as text, a break allowed after each
    ``or``, ``and`` and comma."""
    out = []
    for token in _TEX_TOKEN.findall(text):
        if token == "mod":
            out.append(r"\bmod ")
        elif len(token) > 1:
            out.append(rf"\text{{ {escape.latex(token)} }}\allowbreak ")
        elif token in _TEX_SET:
            out.append(_TEX_SET[token])
        elif token == ",":
            out.append(r",\allowbreak ")
        elif token.isascii() and token not in "&%$#_~^\\":
            out.append(token)
        else:
            out.append(escape.latex(token))
    return "".join(out)


def _tex_path(path: str) -> str:
    """A layer's path as text that may break after each ``.`` and ``]``."""
    return re.sub(r"([.\]])", r"\1\\allowbreak{}", escape.latex(path))


def write_latex(out: Write, answer: InputAnswer, options: Options) -> None:
    """A complete document: the answer's lines, then an itemize of the conditions, each with
    its arithmetic typeset as math."""
    question = answer.question
    out("".join(tex_document(tex_text(f"{question.name}: accepted input sizes"))))
    head = _head(answer)
    head += _near_lines(answer, _near_at(answer, options))
    for said in head:
        out(f"{_tex_line(said, question.name)}\\par\n")
    shown, more = _shown_lines(answer, options.explain)
    out("\n\\subsection*{Why}\n\\begin{itemize}\n")
    if (not _restricting(answer) and answer.sizes is not None) or not shown:
        out(f"\\item {tex_text(FREE)}\n")
    for line in shown:
        alike = f" ({', '.join(line.alike)} alike)" if line.alike else ""
        where = _tex_path(line.path) + " " + escape.latex(line.type)
        if line.where == "the output target":
            where = "the output target"
        same = line.asks == line.means
        asks = f"${line.tex}$ $\\Leftrightarrow$ " if line.tex and not same else ""
        means = f"${_tex_math(line.means)}$"
        if line.always:
            means = tex_text(f"always ({line.always})")
        out(f"\\item {where}: {asks}{means}{escape.latex(alike)}\n")
    if more:
        out(f"\\item \\ldots{{}} and {more} more (\\texttt{{-{{}}-explain}})\n")
    out("\\end{itemize}\n\\end{document}\n")


def _tex_line(line: str, name: str) -> str:
    """An answer line: prose, with the sets (after ``accepts … for`` or ``within …:``, ``the
    dimensions meet:``) as math, a count after them as prose."""
    if line.startswith(f"{name} accepts ") and " for " in line:
        words, sep, rest = line.partition(" for ")
    elif line.startswith(("within ", "the dimensions meet: ")):
        words, sep, rest = line.partition(": ")
    else:
        return tex_text(line)
    count = ""
    head, comma, tail = rest.rpartition(", " if line.startswith("within ") else ": ")
    if comma and re.fullmatch(r"[\d,]+ sizes?|infinitely many sizes", tail):
        rest, count = head, tex_text(comma + tail)
    return f"{tex_text(words)}{tex_text(sep)}${_tex_math(rest)}${count}"


# --- mixed questions -----------------------------------------------------------------------


def write_mixed(out: Write, answer: MixedAnswer, options: Options) -> None:
    """Per setting of the layer unknowns, the input sizes it accepts (table, JSON), or the
    (setting, input) tuples (CSV)."""
    question = answer.question
    labels = [u.label for u in question.layer_unknowns]
    inputs = [d.label for d in question.unknown_dims]
    names = tuple(d.name for d in question.unknown_dims)
    keep = [i for i, d in enumerate(question.dims) if d.fixed is None]

    def sets(found: InputAnswer) -> str:
        boxes = tuple(tuple(box[i] for i in keep) for box in found.boxes)
        return boxes_text(boxes, names)

    target = question.target
    ranges = {d.label: d.asked for d in question.unknown_dims} | answer.tried
    if options.fmt == "json":
        data: dict[str, Any] = {"name": question.name}
        if target.spatial is not None:
            data["out"] = list(target.spatial)
        data |= {
            "count": answer.count,
            "settings_count": len(answer.settings),
            "unknowns": [*inputs, *labels],
            "ranges": ranges,
            "notes": [question.network()],
            "settings": [
                {
                    **dict(zip(labels, s.values, strict=True)),
                    "inputs": sets(s.answer),
                    "count": s.answer.count,
                }
                for s in answer.settings
            ],
        }
        if (options.limit is not None or answer.count is not None) and not options.count_only:
            _json_listable(answer.count, options)
            data["solutions"] = [
                {**dict(zip([*inputs, *labels], values, strict=True)), "output_shape": list(shape)}
                for values, shape in _mixed_rows(answer, options.limit)
            ]
        out(escape.json_text(json.dumps(data, indent=2, ensure_ascii=False)) + "\n")
        return
    if options.fmt == "csv":
        if options.count_only:
            out(f"{'inf' if answer.count is None else answer.count}\n")
            return
        limit = _listing_limit(answer, options)
        out(csv_row([*inputs, *labels, "output_shape"]))
        for values, shape in _mixed_rows(answer, limit):
            out(csv_row([*values, "x".join(map(str, shape))]))
        return
    goal = "any valid output" if target.spatial is None else shape_text(target.spatial)
    n = len(answer.settings)
    plural = "" if n == 1 else "s"
    tail = f" ({_count(answer.count, 'solution')})" if answer.count is not None else ""
    out(f"{escape.terminal(question.name)} → {goal}: {n:,} setting{plural}{tail}\n")
    out("unknowns: " + " · ".join(f"{k} {v}" for k, v in ranges.items()) + "\n")
    out(f"network: {question.network()}\n")
    if options.count_only:
        return
    settings = answer.settings[: options.limit] if options.limit is not None else answer.settings
    widths = [max(len(label), 4) for label in labels]
    out("\n" + "  ".join(lbl.rjust(w) for lbl, w in zip(labels, widths, strict=True)))
    out("  input sizes\n")
    for s in settings:
        cells = "  ".join(str(v).rjust(w) for v, w in zip(s.values, widths, strict=True))
        out(f"{cells}  {sets(s.answer)}\n")


def _mixed_rows(answer: MixedAnswer, limit: int | None) -> Iterator[tuple[tuple[int, ...], Shape]]:
    """The (input sizes, layer values) tuples with their output shapes, sorted as the search
    sorts them (the input's first): all of them where finitely many, else the first
    ``limit`` of each setting's, merged."""
    import heapq

    def rows(setting: Any) -> Iterator[tuple[tuple[int, ...], Shape]]:
        for values, shape in _listed(setting.answer, limit):
            yield (*values, *setting.values), shape

    merged = heapq.merge(*(rows(s) for s in answer.settings), key=lambda row: row[0])
    return itertools.islice(merged, limit) if limit is not None else merged
