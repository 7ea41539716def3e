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


def _label(entry: Entry, first_of: str | None) -> str:
    if entry.depth == 0:
        return entry.label
    lead = "  " * (entry.depth - 1) + "└─"
    return f"{lead}{first_of}: {entry.label}" if first_of else lead + entry.label


def _rows(report: Report, depth: int | None) -> list[tuple[str, str, str, str]]:
    """(#, layer, output shape, params) per shown entry; a block's lists named where it has
    several (``└─shortcut: conv 1×1``)."""
    starts: dict[int, str] = {}  # id(first entry of a list) -> the list's name
    rows = []
    for entry in report.walk():
        if len(entry.children) > 1:
            for keys, children in entry.children:
                if children:
                    name = str(keys[0]) if len(keys) == 1 else f"{keys[0]}[{keys[1]}]"
                    starts[id(children[0])] = name
        if depth is not None and entry.depth >= depth:
            continue
        rows.append(
            (
                str(entry.index) if entry.depth == 0 else "",
                _label(entry, starts.get(id(entry))),
                shape_text(entry.output_shape),
                f"{entry.params:,}",
            )
        )
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

    def line(row: tuple[str, str, str, str]) -> str:
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
