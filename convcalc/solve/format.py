"""Writing single-layer solutions as a table, CSV or JSON, streaming: nothing is held in memory.

Each writer takes a ``write`` callable (a file's write) and the problem, and reads the solutions
lazily from :func:`convcalc.solve.layer.blocks`. Output is buffered in chunks of a few thousand
lines.

Where every kernel takes the same strides (Keras' ``same``,
:func:`~convcalc.solve.layer.kernel_free`) the solutions are written grouped, in every format: a
row holds a range of kernels and a range of strides (``1..64`` in the table, a CSV cell or a JSON
string; a single value as a number), so the answer's length does not grow with N.

Without ``--limit`` a listing stops after :data:`ROWS` rows (a table's kernel rows, CSV's
rows, JSON's items; a row may hold a range), and says last how many solutions it left out;
``--limit N`` lists the first N solutions instead, however many rows they take.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable, Iterator

from convcalc.budget import WorkLimit
from convcalc.layers.registry import KINDS
from convcalc.solve.layer import (
    Block,
    Problem,
    Tally,
    blocks,
    completeness,
    kernel_free,
    tally,
    why,
)
from convcalc.tex import tex_document, tex_inline, tex_text

Write = Callable[[str], object]
CHUNK = 4096
ROWS = 1_000  # a listing's rows without --limit
CELLS = 100 * ROWS  # a table's stride cells without --limit (conv_transpose: one a stride)


class Shown:
    """What a listing has shown: its rows (``rows_listed``, in the listing's own unit), its
    stride cells (a table's), its solutions, and whether the default length (``rows`` rows)
    cut it, between two rows or (``mid_row``) inside one, or (``unsure``) where the search
    for the next row stopped."""

    def __init__(self, rows: int | None) -> None:
        self.rows, self.rows_listed, self.cells, self.solutions = rows, 0, 0, 0
        self.cut = self.mid_row = self.unsure = False


def _shown(pb: Problem, limit: int | None, shown: Shown, unit: str) -> Iterator[Block]:
    """:func:`blocks`, stopping after ``shown.rows`` rows (``None``: never) where a row is
    one per ``unit``: ``kernel`` (:func:`_kernel_rows`), ``block`` (:func:`_block_rows`) or
    ``solution`` (:func:`_solution_rows`). A cut is seen, not guessed: the next row's first
    block was found (or a block was cut short), so more solutions exist; where the search for
    it passed its work budget (:class:`~convcalc.budget.WorkLimit`) once the rows are listed,
    the listing ends there, ``unsure`` whether any follow."""
    found = _searched(blocks(pb, limit), shown)
    if shown.rows is None:
        listed = found
    else:
        cut = {"kernel": _kernel_rows, "block": _block_rows, "solution": _solution_rows}[unit]
        listed = cut(found, shown, shown.rows)
    for block in listed:
        shown.solutions += (block.k_hi - block.k_lo + 1) * (block.s_hi - block.s_lo + 1)
        yield block


def _searched(found: Iterator[Block], shown: Shown) -> Iterator[Block]:
    """``found``, ending (``cut`` and ``unsure``) where the search passes its work budget once
    ``shown.rows`` rows are listed; before that (or without a row limit) the
    :class:`~convcalc.budget.WorkLimit` stands."""
    while True:
        try:
            block = next(found)
        except StopIteration:
            return
        except WorkLimit:
            if shown.rows is None or shown.rows_listed < shown.rows:
                raise
            shown.cut = shown.unsure = True
            return
        yield block


def _kernel_rows(found: Iterator[Block], shown: Shown, rows: int) -> Iterator[Block]:
    """A table's rows: all the blocks of one kernel range at one padding and dilation, at most
    ``rows`` rows and :data:`CELLS` blocks in all. A block past the cells' cap at the start of a
    new row cuts between rows; inside a row it cuts the row (``mid_row``)."""
    last = None
    for block in found:
        if block[:4] != last:
            if shown.rows_listed == rows or shown.cells == CELLS:
                shown.cut = True
                return
            shown.rows_listed, last = shown.rows_listed + 1, block[:4]
        elif shown.cells == CELLS:
            shown.cut = shown.mid_row = True
            return
        shown.cells += 1
        yield block


def _block_rows(found: Iterator[Block], shown: Shown, rows: int) -> Iterator[Block]:
    """One row a block (a kernel-free problem's CSV and JSON), at most ``rows`` rows."""
    for block in found:
        if shown.rows_listed == rows:
            shown.cut = True
            return
        shown.rows_listed += 1
        yield block


def _solution_rows(found: Iterator[Block], shown: Shown, rows: int) -> Iterator[Block]:
    """One row a solution (CSV and JSON): a block's strides cut to the ``rows`` rows left."""
    for block in found:
        if shown.rows_listed == rows:
            shown.cut = True
            return
        left = rows - shown.rows_listed
        if block.s_hi - block.s_lo + 1 > left:
            block = block._replace(s_hi=block.s_lo + left - 1)
            shown.cut = True
        shown.rows_listed += block.s_hi - block.s_lo + 1
        yield block
        if shown.cut:
            return


def _left_out(total: Tally, shown: Shown) -> str:
    """The last line of a listing cut at its default length: how many solutions it left out
    (the count minus those listed; "at least" where the count stopped short) and how to see
    them."""
    left = total.value - shown.solutions
    if shown.unsure and left <= 0:
        more = "perhaps more solutions (the search for the next passed its steps)"
    elif total.complete or left > 0:
        more = f"{'' if total.complete else 'at least '}{left:,} more solution"
        more += "" if left == 1 and total.complete else "s"
    else:
        more = "more solutions"
    what = f"{shown.rows_listed:,} row{'' if shown.rows_listed == 1 else 's'}"
    if shown.mid_row:
        what = f"{shown.cells:,} strides"
    return (
        f"listing cut after {what}: {more} not listed (--limit N lists the first N "
        "solutions; --count counts them without listing)"
    )


def write(
    out: Write,
    pb: Problem,
    fmt: str,
    *,
    listing: bool,
    limit: int | None,
    explain: bool = False,
) -> str | None:
    """The answer to ``pb`` as ``table``, ``json`` or ``csv`` (the count alone unless listing),
    or explained as ``markdown`` or ``latex`` (always listing).

    The count comes first (:func:`tally`); where it is complete it also ends the listing, so no
    search runs on past the last solution. An incomplete count is shown as "at least". Without
    ``limit`` the listing stops after :data:`ROWS` rows and says what it left out: in the
    output, except CSV's note (``note: …``, no newline), which is returned for the caller to
    show apart from the rows (the CLI: on standard error); otherwise ``None``."""
    total = tally(pb)
    shown = Shown(ROWS if limit is None else None)
    if total.complete and (limit is None or total.value < limit):
        limit = total.value
    if fmt == "csv":
        if listing:
            write_csv(out, pb, limit, shown)
            if shown.cut:
                return f"note: {_left_out(total, shown)}"
        else:
            out(f"{total.value}\n" if total.complete else f"at least {total.value}\n")
    elif fmt == "json":
        write_json(out, pb, total, limit, listing, shown)
    elif fmt == "markdown":
        write_markdown(out, pb, total, limit, shown)
    elif fmt == "latex":
        write_latex(out, pb, total, limit, shown)
    else:
        write_table(out, pb, total, limit, listing, explain, shown)
    return None


def _counted(total: Tally) -> str:
    return f"{total.value:,}" if total.complete else f"at least {total.value:,}"


def _stopped(total: Tally) -> str:
    steps = f"{total.steps:,}"
    return f"note: counting stopped after {steps} steps (narrow the ranges for an exact count)"


def _span(lo: int, hi: int) -> str:
    """``7``, or ``1..64``: a range as ``--kernel`` and ``--stride`` read it."""
    return str(lo) if lo == hi else f"{lo}..{hi}"


def _title(pb: Problem) -> str:
    mode = " ceil_mode" if pb.ceil_mode else ""
    if pb.keras is not None:
        mode = f" (Keras, padding {pb.keras})"
    return f"{pb.layer}{mode}: {pb.n} → {pb.m}"


def _setting(pb: Problem, p: int, d: int) -> str:
    """A group's heading: ``padding 1, dilation 2``; Keras' ``padding same, dilation_rate 2``
    (a Keras pool's ``padding valid``)."""
    if pb.keras is None:
        return f"padding {p}, dilation {d}"
    if KINDS[pb.layer].pool:
        return f"padding {pb.keras}"
    return f"padding {pb.keras}, dilation_rate {d}"


def write_csv(write: Write, pb: Problem, limit: int | None, shown: Shown | None = None) -> None:
    """One row a solution (kernel-free problems: one row a block of kernel and stride
    ranges), at most ``shown.rows`` rows."""
    transpose = "output_padding" in pb.fields
    write(",".join(pb.names) + "\n")
    width = len(pb.names)
    buffer: list[str] = []
    grouped = kernel_free(pb)
    unit = "block" if grouped else "solution"
    for k, k_hi, p, d, s_lo, s_hi, op in _shown(pb, limit, shown or Shown(None), unit):
        if transpose:
            buffer.append(f"{k},{s_lo},{p},{d},{op}\n")
        elif grouped:  # one row a block: kernel and stride ranges
            tail = ",".join([pb.padding_text(p), str(d)][: width - 2])
            buffer.append(f"{_span(k, k_hi)},{_span(s_lo, s_hi)},{tail}\n")
        else:
            head, tail = f"{k},", "," + ",".join([pb.padding_text(p), str(d)][: width - 2]) + "\n"
            buffer.extend(f"{head}{s}{tail}" for s in range(s_lo, s_hi + 1))
        if len(buffer) >= CHUNK:
            write("".join(buffer))
            buffer.clear()
    write("".join(buffer))


def write_json(
    write: Write,
    pb: Problem,
    total: Tally,
    limit: int | None,
    listing: bool,
    shown: Shown | None = None,
) -> None:
    """The count and the problem's bounds, then (listing) the solutions, one item a solution
    (kernel-free: a block); a listing cut at its default length ends with ``"listed"`` (the
    solutions listed), ``"listing_complete": false`` and a ``"note"``."""
    shown = shown or Shown(None)
    head = {
        "layer": pb.layer,
        **({"framework": "keras", "padding": pb.keras} if pb.keras is not None else {}),
        "in": pb.n,
        "out": pb.m,
        "ceil_mode": pb.ceil_mode,
        "count": total.value,
        "count_complete": total.complete,
        "bounds": pb.bounds(),
        "notes": list(pb.notes),
    }
    text = json.dumps(head, indent=2)
    if not listing:
        write(text + "\n")
        return
    write(text[:-2] + ',\n  "solutions": [')
    names = pb.names
    first = True
    buffer: list[str] = []
    grouped = kernel_free(pb)
    unit = "block" if grouped else "solution"
    for k, k_hi, p, d, s_lo, s_hi, op in _shown(pb, limit, shown, unit):
        # grouped: one item a block, a range written as a string ("1..64")
        listed = [(s_lo, s_hi)] if grouped else [(s, s) for s in range(s_lo, s_hi + 1)]
        for s, s_top in listed:
            kernel = json.dumps(_span(k, k_hi)) if k < k_hi else k
            stride = json.dumps(_span(s, s_top)) if s < s_top else s
            values = (kernel, stride, json.dumps(pb.padding_text(p)) if pb.keras else p, d, op)
            item = ", ".join(f'"{n}": {v}' for n, v in zip(names, values, strict=False))
            buffer.append(("\n    {" if first else ",\n    {") + item + "}")
            first = False
        if len(buffer) >= CHUNK:
            write("".join(buffer))
            buffer.clear()
    end = "\n  ]" if not first else "]"
    if shown.cut:
        note = json.dumps(_left_out(total, shown))
        end += f',\n  "listed": {shown.solutions},\n  "listing_complete": false,\n  "note": {note}'
    write("".join(buffer) + end + "\n}\n")


def _groups(
    pb: Problem, limit: int | None, shown: Shown
) -> Iterator[tuple[int, int, Iterator[tuple[tuple[int, int], list[str]]]]]:
    """The listing as shown: per (padding, dilation), each kernel (or range of kernels, where
    all take the same strides) with its strides' cells (``4..5``, or ``3 (1)`` with
    conv_transpose's output_padding), lazily; a row cut inside (:data:`CELLS`) ends in ``…``."""
    transpose = "output_padding" in pb.fields

    def cells(by_kernel: Iterator[Block]) -> list[str]:
        if transpose:
            listed = [f"{r.s_lo} ({r.output_padding})" for r in by_kernel]
        else:
            listed = [_span(r.s_lo, r.s_hi) for r in by_kernel]
        return [*listed, "…"] if shown.mid_row else listed

    listed = _shown(pb, limit, shown, "kernel")
    by_setting = itertools.groupby(listed, key=lambda r: (r.padding, r.dilation))
    for (p, d), group in by_setting:
        by_kernel = itertools.groupby(group, key=lambda r: (r.k_lo, r.k_hi))
        yield p, d, ((k, cells(rows)) for k, rows in by_kernel)


def _head(pb: Problem, total: Tally, limit: int | None, listing: bool) -> tuple[str, list[str]]:
    """The title (``conv: 64 → 4: 3,201 solutions``) and the lines under it: the searched
    ranges, the problem's notes, and a note if the count stopped short."""
    more = ""
    if listing and limit is not None and (limit < total.value or not total.complete):
        more = f" (first {limit:,} shown)"
    plural = "" if total.value == 1 and total.complete else "s"
    lines = ["searched: " + " · ".join(f"{k} {v}" for k, v in pb.bounds().items())]
    lines.extend(f"note: {note}" for note in pb.notes)
    if not total.complete:
        lines.append(_stopped(total))
    return f"{_title(pb)}: {_counted(total)} solution{plural}{more}", lines


def _others(pb: Problem, total: Tally, limit: int | None, shown: Shown) -> str:
    """The heading of the bounds argument, saying when the listing does not reach it."""
    complete = total.complete and (limit is None or limit >= total.value) and not shown.cut
    return "why no others" + ("" if complete else " (the listing is cut short)")


def write_table(
    write: Write,
    pb: Problem,
    total: Tally,
    limit: int | None,
    listing: bool,
    explain: bool = False,
    shown: Shown | None = None,
) -> None:
    """Solutions grouped by (padding, dilation); one row per kernel with its strides (with
    ``explain``, each row's equation under it, and why there are no others at the end); a
    listing cut at its default length ends with what it left out."""
    shown = shown or Shown(None)
    title, lines = _head(pb, total, limit, listing)
    write(f"{title}\n" + "".join(f"{line}\n" for line in lines))
    if not listing:
        return
    transpose = "output_padding" in pb.fields
    for p, d, rows in _groups(pb, limit, shown):
        write(f"\n{_setting(pb, p, d)}\n")
        write(f"  {'kernel':>6}  {'stride (output_padding)' if transpose else 'strides'}\n")
        for (k, k_hi), cells in rows:
            write(f"  {_span(k, k_hi):>6}  {', '.join(cells)}\n")
            if explain:
                write(f"          {why(pb, k, p, d, k_hi)}\n")
    if shown.cut:
        write(f"\n… {_left_out(total, shown)}\n")
    if explain:
        write(f"\n{_others(pb, total, limit, shown)}\n")
        for line in completeness(pb):
            write(f"  {line}\n")


def write_markdown(
    write: Write, pb: Problem, total: Tally, limit: int | None, shown: Shown | None = None
) -> None:
    """The explained listing in Markdown: a section per (padding, dilation), a list item per
    kernel with its equation in a code span, what a cut listing left out, and why there are
    no others."""
    shown = shown or Shown(None)
    title, lines = _head(pb, total, limit, listing=True)
    write(f"# {title}\n\n" + "".join(f"{line}  \n" for line in lines))
    strides = "stride (output_padding)" if "output_padding" in pb.fields else "strides"
    for p, d, rows in _groups(pb, limit, shown):
        write(f"\n## {_setting(pb, p, d)}\n\n")
        for (k, k_hi), cells in rows:
            kernel, explained = _span(k, k_hi), why(pb, k, p, d, k_hi)
            write(f"- kernel **{kernel}**, {strides} {', '.join(cells)}: `{explained}`\n")
    if shown.cut:
        write(f"\n… {_left_out(total, shown)}\n")
    write(f"\n## {_others(pb, total, limit, shown).capitalize()}\n\n")
    write("".join(f"- {line}\n" for line in completeness(pb)))


def write_latex(
    write: Write, pb: Problem, total: Tally, limit: int | None, shown: Shown | None = None
) -> None:
    """The explained listing as a complete LaTeX document (itemize lists, which break across
    pages however long the listing), with what a cut listing left out."""
    shown = shown or Shown(None)
    title, lines = _head(pb, total, limit, listing=True)
    write("".join(tex_document(tex_text(title))))
    write("".join(f"{tex_inline(line)}\\par\n" for line in lines))
    strides = "stride (output\\_padding)" if "output_padding" in pb.fields else "strides"
    for p, d, rows in _groups(pb, limit, shown):
        heading = tex_text(_setting(pb, p, d).capitalize())
        write(f"\n\\subsection*{{{heading}}}\n\\begin{{itemize}}\n")
        for (k, k_hi), cells in rows:
            listed, kernel = tex_text(", ".join(cells)), tex_text(_span(k, k_hi))
            explained = tex_inline(why(pb, k, p, d, k_hi))
            write(f"\\item kernel {kernel}, {strides} {listed}\\\\\n{explained}\n")
        write("\\end{itemize}\n")
    if shown.cut:
        write(f"\n{tex_inline('… ' + _left_out(total, shown))}\\par\n")
    others = _others(pb, total, limit, shown).capitalize()
    write(f"\n\\subsection*{{{others}}}\n\\begin{{itemize}}\n")
    write("".join(f"\\item {tex_inline(line)}\n" for line in completeness(pb)))
    write("\\end{itemize}\n\\end{document}\n")
