"""Formatting a :class:`~convcalc.calc.Summary` as a table, Markdown or JSON. Pure strings."""

from __future__ import annotations

from typing import Any

from convcalc.calc import Summary


def shape_text(shape: tuple[int, ...]) -> str:
    """(128, 11, 11) → ``128×11×11``."""
    return "×".join(str(n) for n in shape)


def _rows(summary: Summary) -> list[tuple[str, str, str, str]]:
    return [
        (str(r.index), r.description, shape_text(r.output_shape), f"{r.params:,}")
        for r in summary.layers
    ]


def _totals(summary: Summary) -> list[tuple[str, str]]:
    return [
        ("Total params", f"{summary.total_params:,}"),
        ("Trainable params", f"{summary.trainable_params:,}"),
        ("Non-trainable params", f"{summary.total_params - summary.trainable_params:,}"),
        ("Output size", f"{summary.output_size:,} ({shape_text(summary.output_shape)})"),
    ]


def table(summary: Summary) -> str:
    """A plain-text table: one row per layer, then the totals."""
    header = ("#", "Layer", "Output shape", "Params")
    rows = [header, *_rows(summary)]
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

    out = [f"{summary.name}: input {shape_text(summary.input_shape)}", rule, line(header), rule]
    out += [line(row) for row in rows[1:]]
    out.append(rule)
    out += [f"{name}: {value}" for name, value in _totals(summary)]
    return "\n".join(out)


def markdown(summary: Summary) -> str:
    """A GitHub-flavoured Markdown table and the totals as a list."""
    out = [
        f"### {summary.name}",
        "",
        f"Input: `{shape_text(summary.input_shape)}`",
        "",
        "| # | Layer | Output shape | Params |",
        "|--:|:------|:-------------|-------:|",
    ]
    out += [f"| {i} | `{d}` | {s} | {p} |" for i, d, s, p in _rows(summary)]
    out.append("")
    out += [f"- **{name}**: {value}" for name, value in _totals(summary)]
    return "\n".join(out)


def to_json(value: Any) -> str:
    """JSON with the non-ASCII labels kept readable."""
    import json

    return json.dumps(value, indent=2, ensure_ascii=False)
