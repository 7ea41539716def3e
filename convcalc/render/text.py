"""Formatting a :class:`~convcalc.analysis.Report` as a table, Markdown or JSON. Pure strings.

Blocks show as a row with their children indented beneath them; ``depth`` hides the rows
nested deeper than that many levels (as torchinfo's ``depth``). The names in them (the spec's,
each layer's) are the user's text: the table shows them through :func:`convcalc.escape.terminal`,
Markdown through :func:`convcalc.escape.markdown` (and ``markdown_code`` in the layer column's
code spans); JSON's encoder escapes its own strings.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from convcalc import escape
from convcalc.records import Costing, Entry, Report

if TYPE_CHECKING:
    from convcalc.views.costs import Comparison, Divergence
    from convcalc.views.receptive import Field

Row = tuple[str, ...]


def _dims(values: tuple[float, ...]) -> str:
    """(196, 196) → ``196``; (3.5, 7) → ``3.5×7``."""
    shown = [f"{v:g}" for v in values]
    return shown[0] if len(set(shown)) == 1 else "×".join(shown)


def _columns(
    report: Report, costing: Costing, rf: bool, counts: dict[int, int]
) -> dict[int, tuple[str, ...]]:
    """The extra cells of every entry: multiply-adds (``counts``), and with ``rf`` the
    receptive field's size, jump and start (``global`` where every input position is seen)."""
    fields: dict[int, Field] = {}
    if rf:
        from convcalc.views.receptive import receptive_fields

        fields = receptive_fields(report)
    cells: dict[int, tuple[str, ...]] = {}
    for entry in report.walk():
        extra: tuple[str, ...] = (f"{counts[id(entry)]:,}",)
        if rf:
            field = fields[id(entry)]
            if field.size is None:
                extra += ("global", "", "")
            else:
                mark = "" if field.aligned else " (misaligned)"
                extra += (_dims(field.size) + mark, _dims(field.jump), _dims(field.start))
        cells[id(entry)] = extra
    return cells


def _rows(
    report: Report, depth: int | None, costing: Costing, rf: bool, counts: dict[int, int]
) -> list[Row]:
    """(#, layer, output shape, params, mult-adds[, rf, jump, start]) per shown entry, in
    execution order. Where a block runs several lists, the first row of each is named
    (``└─shortcut: conv 1×1``) and an empty one shows as ``identity``."""
    cells = _columns(report, costing, rf, counts)
    rows: list[Row] = []
    # each item: an entry and the name of the list it starts, or an empty list's (depth, name,
    # block, what it passes on: the block's input, or a split's slice of it)
    stack: list[tuple[Entry, str | None] | tuple[int, str, Entry, str]] = [
        (entry, None) for entry in reversed(report.layers)
    ]
    while stack:
        item = stack.pop()
        if len(item) == 4:  # an empty list inside a block: the identity
            level, name, block, shape = item
            if depth is None or level < depth:
                lead = "  " * (level - 1) + "└─"
                blank = ("",) * (len(cells[id(block)]) - 1)
                rows.append(("", f"{lead}{name}: identity", shape, "0", "0", *blank))
            continue
        entry, starts = item
        if depth is None or entry.depth < depth:
            label = written_label(report, entry)
            if entry.depth > 0:
                lead = "  " * (entry.depth - 1) + "└─"
                label = f"{lead}{starts}: {label}" if starts else lead + label
            number = str(entry.index) if entry.depth == 0 else ""
            shape = report.shown(entry.output_shape)
            rows.append((number, label, shape, f"{entry.params:,}", *cells[id(entry)]))
        named = len(entry.children) > 1
        layer: Any = entry.layer  # a block, where it has children
        for i, (keys, children) in reversed(list(enumerate(entry.children))):
            name = layer.list_name(keys)
            if not children:
                if named:
                    given = layer.path_outputs(entry.input_shape, entry.children)[i]
                    stack.append((entry.depth + 1, name, entry, report.shown(given)))
                continue
            stack.extend((child, None) for child in reversed(children[1:]))
            stack.append((children[0], name if named else None))
    return rows


def _shown(rows: list[Row], medium: Callable[[str], str]) -> list[Row]:
    """The rows with each layer cell (the only one holding names) written for ``medium``."""
    return [(row[0], medium(row[1]), *row[2:]) for row in rows]


def _code_cell(text: str) -> str:
    return escape.markdown_code(text, cell=True)


def _counts(report: Report, costing: Costing) -> dict[int, int]:
    """Every entry's multiply-adds, worked out once for the rows and the total."""
    from convcalc.views.costs import subtotals

    return subtotals(report.walk(), costing.batch, costing.convention)


def _totals(report: Report, costing: Costing, counts: dict[int, int]) -> list[tuple[str, str]]:
    from convcalc.views.memory import human, memory

    batch, dtype, convention = costing.batch, costing.dtype, costing.convention
    per = f" (batch {batch})" if batch != 1 else ""
    bytes_ = memory(report, batch, dtype)
    mult_adds = sum(counts[id(entry)] for entry in report.layers)
    return [
        ("Total params", f"{report.total_params:,}"),
        ("Trainable params", f"{report.trainable_params:,}"),
        ("Non-trainable params", f"{report.total_params - report.trainable_params:,}"),
        ("Total mult-adds", f"{mult_adds:,}{per} ({convention}'s convention)"),
        ("Output size", f"{report.output_size:,} ({report.shown(report.output_shape)})"),
        (f"Input size ({dtype})", human(bytes_.input_bytes)),
        ("Params size", human(bytes_.params_bytes)),
        ("Forward/backward pass size (torchinfo's estimate)", human(bytes_.forward_backward_bytes)),
        ("Peak activations (inference estimate)", human(bytes_.peak_activation_bytes)),
    ]


def _ratio(theirs: int, ours: int) -> str:
    """How ``theirs`` compares with ``ours``: ``101× fewer``, ``12 % more``, ``none counted``."""
    if theirs == 0:
        return "none counted"
    if ours == 0:
        return "where convcalc counts none"
    word = "fewer" if theirs < ours else "more"
    factor = max(theirs, ours) / min(theirs, ours)
    if factor >= 2:
        return f"{factor:.3g}× {word}"
    return f"{abs(theirs - ours) / ours:.0%} {word}".replace("%", " %")


def divergence_lines(found: Divergence, medium: Callable[[str], str]) -> list[str]:
    """Why a convention's total strays from convcalc's: the totals, then one line per layer
    type that makes the gap, with its convention's reason."""
    lines = [
        f"{_ratio(found.theirs, found.ours)} than convcalc's {found.ours:,} (every "
        "multiply-add, PyTorch's FlopCounterMode ÷ 2):"
    ]
    for kind, ours, theirs, why in found.types:
        gap = f"{medium(kind)}: {theirs:,} against {ours:,} ({_ratio(theirs, ours)})"
        lines.append(f"{gap}; {why}" if why else gap)
    return lines


def _divergence_lines(report: Report, costing: Costing, medium: Callable[[str], str]) -> list[str]:
    from convcalc.views.costs import divergence

    found = divergence(report, costing.batch, costing.convention)
    if found is None:
        return []
    first, *rest = divergence_lines(found, medium)
    return [first, *(f"  {line}" for line in rest)]


def _header(rf: bool) -> Row:
    return (
        "#",
        "Layer",
        "Output shape",
        "Params",
        "Mult-adds",
        *(("RF", "Jump", "Start") if rf else ()),
    )


# columns aligned to the right: the numbers
_RIGHT = {0, 3, 4}


def table(
    report: Report, depth: int | None = None, costing: Costing | None = None, rf: bool = False
) -> str:
    """A plain-text table: one row per layer (blocks, then their children), then the totals."""
    costing = costing or Costing()
    counts = _counts(report, costing)
    header = _header(rf)
    rows = [header, *_shown(_rows(report, depth, costing, rf, counts), escape.terminal)]
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    rule = "─" * (sum(widths) + 2 * (len(header) - 1))

    def line(row: Row) -> str:
        cells = [
            c.rjust(w) if i in _RIGHT else c.ljust(w)
            for i, (c, w) in enumerate(zip(row, widths, strict=True))
        ]
        return "  ".join(cells).rstrip()

    title = f"{escape.terminal(report.name)}: input {report.shown(report.input_shape)}"
    out = [title, rule, line(header), rule]
    out += [line(row) for row in rows[1:]]
    out.append(rule)
    for name, value in _totals(report, costing, counts):
        out.append(f"{name}: {value}")
        if name == "Total mult-adds":
            out += [f"  {line}" for line in _divergence_lines(report, costing, escape.terminal)]
    return "\n".join(out)


def markdown(
    report: Report, depth: int | None = None, costing: Costing | None = None, rf: bool = False
) -> str:
    """A GitHub-flavoured Markdown table and the totals as a list."""
    costing = costing or Costing()
    counts = _counts(report, costing)
    header = _header(rf)
    align = [("--:" if i in _RIGHT else ":--") for i in range(len(header))]
    out = [
        f"### {escape.markdown(report.name)}",
        "",
        f"Input: `{report.shown(report.input_shape)}`",
        "",
        "| " + " | ".join(header) + " |",
        "|" + "|".join(align) + "|",
    ]
    for row in _shown(_rows(report, depth, costing, rf, counts), _code_cell):
        out.append("| " + " | ".join(row) + " |")
    out.append("")
    for name, value in _totals(report, costing, counts):
        out.append(f"- **{name}**: {value}")
        if name == "Total mult-adds":
            out += [f"  - {line}" for line in _divergence_lines(report, costing, escape.markdown)]
    return "\n".join(out)


def to_json(value: Any) -> str:
    """JSON with the non-ASCII labels kept readable.

    The standard encoder recurses once per nesting level; a spec nested 500 blocks deep makes
    about 2,000 levels, so the limit is raised for the call (the encoder's frames are small).
    """
    import json

    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(max(limit, 20_000))
    try:
        return escape.json_text(json.dumps(value, indent=2, ensure_ascii=False))
    finally:
        sys.setrecursionlimit(limit)


def costs_table(comparison: Comparison) -> str:
    """The conventions side by side: per layer type and in total, then why they differ."""
    names = comparison.conventions
    header = ("Layer type", *names)
    rows = [header]
    for kind, counts in sorted(comparison.by_type.items()):
        if any(counts.values()):
            rows.append((kind, *(f"{counts[n]:,}" for n in names)))
    total = ("Total", *(f"{comparison.totals[n]:,}" for n in names))
    widths = [max(len(row[i]) for row in [*rows, total]) for i in range(len(header))]
    rule = "─" * (sum(widths) + 2 * (len(header) - 1))

    def line(row: tuple[str, ...]) -> str:
        cells = [
            c.ljust(w) if i == 0 else c.rjust(w)
            for i, (c, w) in enumerate(zip(row, widths, strict=True))
        ]
        return "  ".join(cells).rstrip()

    per = f", batch {comparison.batch}" if comparison.batch != 1 else ""
    title = f"{escape.terminal(comparison.name)}: multiply-adds by each tool's rules{per}"
    out = [title, rule, line(header), rule]
    out += [line(row) for row in rows[1:]]
    out += [rule, line(total), rule, "FLOPs = 2 × multiply-adds (a multiply and an add each)."]
    out.append("Layer types that every convention counts as 0 are left out.")
    for name in names:
        for note in comparison.notes[name]:
            out.append(f"- {name}: {note}")
    return "\n".join(out)


def written_label(report: Report, entry: Entry) -> str:
    """The entry's label; in a Keras spec, after the class written where the label is not
    that class's call (``ZeroPadding2D: pad 1,1 1,1``, but ``Conv2D(8, 3)``)."""
    written = report.dialect.classes if report.dialect is not None else {}
    kind = written.get(entry.source)
    if kind is None or entry.description.startswith(f"{kind}("):
        return entry.label
    return f"{kind}: {entry.label}"
