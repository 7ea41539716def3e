"""Writing single-layer solutions as a table, CSV or JSON, streaming: nothing is held in memory.

Each writer takes a ``write`` callable (a file's write) and the problem, and reads the solutions
lazily from :func:`convcalc.solve.layer.runs`. Output is buffered in chunks of a few thousand lines.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable, Iterator

from convcalc.solve.layer import Problem, Run, Tally, completeness, runs, tally, why

Write = Callable[[str], object]
CHUNK = 4096


def write(
    out: Write, pb: Problem, fmt: str, *, listing: bool, limit: int | None, explain: bool = False
) -> None:
    """The answer to ``pb`` as ``table``, ``json`` or ``csv`` (the count alone unless listing).

    The count comes first (:func:`tally`); where it is complete it also ends the listing, so no
    search runs on past the last solution. An incomplete count is shown as "at least"."""
    total = tally(pb)
    if total.complete and (limit is None or total.value < limit):
        limit = total.value
    if fmt == "csv":
        if listing:
            write_csv(out, pb, limit)
        else:
            out(f"{total.value}\n" if total.complete else f"at least {total.value}\n")
    elif fmt == "json":
        write_json(out, pb, total, limit, listing)
    else:
        write_table(out, pb, total, limit, listing, explain)


def _counted(total: Tally) -> str:
    return f"{total.value:,}" if total.complete else f"at least {total.value:,}"


def _stopped(total: Tally) -> str:
    steps = f"{total.steps:,}"
    return f"note: counting stopped after {steps} steps (narrow the ranges for an exact count)\n"


def _limited(pb: Problem, limit: int | None) -> Iterator[Run]:
    """The runs, cut so that at most ``limit`` solutions come out."""
    left = limit
    if left == 0:
        return
    for run in runs(pb):
        size = run.s_hi - run.s_lo + 1
        if left is not None:
            if left <= 0:
                return
            if size > left:
                run = run._replace(s_hi=run.s_lo + left - 1)
                size = left
            left -= size
        yield run


def _title(pb: Problem) -> str:
    mode = " ceil_mode" if pb.ceil_mode else ""
    return f"{pb.layer}{mode}: {pb.n} → {pb.m}"


def write_csv(write: Write, pb: Problem, limit: int | None) -> None:
    transpose = pb.layer == "conv_transpose"
    write(",".join(pb.fields) + "\n")
    buffer: list[str] = []
    for k, p, d, s_lo, s_hi, op in _limited(pb, limit):
        if transpose:
            buffer.append(f"{k},{s_lo},{p},{d},{op}\n")
        else:
            head, tail = f"{k},", f",{p},{d}\n"
            buffer.extend(f"{head}{s}{tail}" for s in range(s_lo, s_hi + 1))
        if len(buffer) >= CHUNK:
            write("".join(buffer))
            buffer.clear()
    write("".join(buffer))


def write_json(write: Write, pb: Problem, total: Tally, limit: int | None, listing: bool) -> None:
    head = {
        "layer": pb.layer,
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
    names = pb.fields
    first = True
    buffer: list[str] = []
    for k, p, d, s_lo, s_hi, op in _limited(pb, limit):
        for s in range(s_lo, s_hi + 1):
            values = (k, s, p, d, op)
            item = ", ".join(f'"{n}": {v}' for n, v in zip(names, values, strict=False))
            buffer.append(("\n    {" if first else ",\n    {") + item + "}")
            first = False
        if len(buffer) >= CHUNK:
            write("".join(buffer))
            buffer.clear()
    write("".join(buffer) + ("\n  ]\n}\n" if not first else "]\n}\n"))


def write_table(
    write: Write,
    pb: Problem,
    total: Tally,
    limit: int | None,
    listing: bool,
    explain: bool = False,
) -> None:
    """Solutions grouped by (padding, dilation); one row per kernel with its strides (with
    ``explain``, each row's equation under it, and why there are no others at the end)."""
    more = ""
    if listing and limit is not None and (limit < total.value or not total.complete):
        more = f" (first {limit:,} shown)"
    plural = "" if total.value == 1 and total.complete else "s"
    write(f"{_title(pb)}: {_counted(total)} solution{plural}{more}\n")
    write("searched: " + " · ".join(f"{k} {v}" for k, v in pb.bounds().items()) + "\n")
    for note in pb.notes:
        write(f"note: {note}\n")
    if not total.complete:
        write(_stopped(total))
    if not listing:
        return
    transpose = pb.layer == "conv_transpose"
    for (p, d), group in itertools.groupby(_limited(pb, limit), key=lambda r: (r[1], r[2])):
        write(f"\npadding {p}, dilation {d}\n")
        write(f"  {'kernel':>6}  {'stride (output_padding)' if transpose else 'strides'}\n")
        for k, by_kernel in itertools.groupby(group, key=lambda r: r[0]):
            if transpose:
                cells = [f"{r[3]} ({r[5]})" for r in by_kernel]
            else:
                cells = [str(r[3]) if r[3] == r[4] else f"{r[3]}..{r[4]}" for r in by_kernel]
            write(f"  {k:>6}  {', '.join(cells)}\n")
            if explain:
                write(f"          {why(pb, k, p, d)}\n")
    if explain:
        complete = total.complete and (limit is None or limit >= total.value)
        write("\nwhy no others" + ("" if complete else " (the listing is cut short)") + "\n")
        for line in completeness(pb):
            write(f"  {line}\n")
