"""Formatting a :class:`~convcalc.analysis.Report` as a table, Markdown or JSON. Pure strings.

Blocks show as a row with their children indented beneath them; ``depth`` hides the rows
nested deeper than that many levels (as torchinfo's ``depth``).
"""

from __future__ import annotations

import sys
from typing import Any

from convcalc.analysis import Entry, Report


def shape_text(shape: tuple[int, ...]) -> str:
    """(128, 11, 11) → ``128×11×11``."""
    return "×".join(str(n) for n in shape)


Row = tuple[str, str, str, str]


def _rows(report: Report, depth: int | None) -> list[Row]:
    """(#, layer, output shape, params) per shown entry, in execution order. Where a block runs
    several lists, the first row of each is named (``└─shortcut: conv 1×1``) and an empty one
    shows as ``identity``."""
    rows: list[Row] = []
    # each item: an entry and the name of the list it starts, or an empty list's (depth, name)
    stack: list[tuple[Entry, str | None] | tuple[int, str, Entry]] = [
        (entry, None) for entry in reversed(report.layers)
    ]
    while stack:
        item = stack.pop()
        if len(item) == 3:  # an empty list inside a block: the identity
            level, name, block = item
            if depth is None or level < depth:
                lead = "  " * (level - 1) + "└─"
                shape = shape_text(block.input_shape)
                rows.append(("", f"{lead}{name}: identity", shape, "0"))
            continue
        entry, starts = item
        if depth is None or entry.depth < depth:
            label = entry.label
            if entry.depth > 0:
                lead = "  " * (entry.depth - 1) + "└─"
                label = f"{lead}{starts}: {label}" if starts else lead + label
            number = str(entry.index) if entry.depth == 0 else ""
            rows.append((number, label, shape_text(entry.output_shape), f"{entry.params:,}"))
        named = len(entry.children) > 1
        for keys, children in reversed(entry.children):
            name = str(keys[0]) if len(keys) == 1 else f"{keys[0]}[{keys[1]}]"
            if not children:
                if named:
                    stack.append((entry.depth + 1, name, entry))
                continue
            stack.extend((child, None) for child in reversed(children[1:]))
            stack.append((children[0], name if named else None))
    return rows


def _totals(report: Report) -> list[tuple[str, str]]:
    return [
        ("Total params", f"{report.total_params:,}"),
        ("Trainable params", f"{report.trainable_params:,}"),
        ("Non-trainable params", f"{report.total_params - report.trainable_params:,}"),
        ("Output size", f"{report.output_size:,} ({shape_text(report.output_shape)})"),
    ]


def table(report: Report, depth: int | None = None) -> str:
    """A plain-text table: one row per layer (blocks, then their children), then the totals."""
    header = ("#", "Layer", "Output shape", "Params")
    rows = [header, *_rows(report, depth)]
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    rule = "─" * (sum(widths) + 6)

    def line(row: Row) -> str:
        cells = [
            row[0].rjust(widths[0]),
            row[1].ljust(widths[1]),
            row[2].ljust(widths[2]),
            row[3].rjust(widths[3]),
        ]
        return "  ".join(cells).rstrip()

    out = [f"{report.name}: input {shape_text(report.input_shape)}", rule, line(header), rule]
    out += [line(row) for row in rows[1:]]
    out.append(rule)
    out += [f"{name}: {value}" for name, value in _totals(report)]
    return "\n".join(out)


def markdown(report: Report, depth: int | None = None) -> str:
    """A GitHub-flavoured Markdown table and the totals as a list."""
    out = [
        f"### {report.name}",
        "",
        f"Input: `{shape_text(report.input_shape)}`",
        "",
        "| # | Layer | Output shape | Params |",
        "|--:|:------|:-------------|-------:|",
    ]
    out += [f"| {i} | `{d}` | {s} | {p} |" for i, d, s, p in _rows(report, depth)]
    out.append("")
    out += [f"- **{name}**: {value}" for name, value in _totals(report)]
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
        return json.dumps(value, indent=2, ensure_ascii=False)
    finally:
        sys.setrecursionlimit(limit)
