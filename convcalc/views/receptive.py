"""Receptive fields: where in the input each output position looks, per spatial dimension.

Computed from the layers' windows (:class:`~convcalc.records.Window`) alone, forward through
the report tree (Araujo, Norris & Sim, "Computing Receptive Fields of Convolutional Neural
Networks", Distill 2019). Per dimension, starting from the input with size r = 1, jump j = 1
and start c = 0, a window of effective kernel k, stride s and left padding p gives

    r += (k − 1)·j        c += ((k − 1)/2 − p)·j        j *= s

r is how many input positions an output position sees, j how far apart in the input two
neighbouring outputs are, c the input coordinate of the centre of output position 0 (output
position i is centred on c + i·j). Padding does not change r.

A transposed window (conv_transpose, upsampling by an integer factor) moves s output positions
per input position: the same rules with the jump divided instead, j /= s, and the window read on
the output grid, r += ((k − 1)/s)·j_in, c += ((p − (k − 1)/2)/s)·j_in: jumps may become
fractions.

A layer whose outputs each depend on the whole input (linear, flatten, adaptive pools) makes
the field ``"global"``, and everything after it stays global. Where a block runs several paths,
the field is the largest over them (a scale block's input is one of them); the paths are
*aligned* when they agree in jump and centre, and otherwise the block's output is not
shift-equivariant: :class:`Field.aligned` says so.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from convcalc.errors import format_path
from convcalc.records import Entry, Report, Window


@dataclass(frozen=True)
class Field:
    """The receptive field after one layer or block, per spatial dimension; ``None`` sizes mean
    global. ``misaligned`` lists, for a block whose paths disagree, each path with its jump and
    start."""

    size: tuple[float, ...] | None
    jump: tuple[float, ...] = ()
    start: tuple[float, ...] = ()
    misaligned: tuple[tuple[str, tuple[float, ...], tuple[float, ...]], ...] = field(default=())

    @property
    def is_global(self) -> bool:
        return self.size is None

    @property
    def aligned(self) -> bool:
        return not self.misaligned

    def to_json(self) -> Any:
        if self.size is None:
            return "global"
        return {
            "size": [_number(v) for v in self.size],
            "jump": [_number(v) for v in self.jump],
            "start": [_number(v) for v in self.start],
        }


GLOBAL = Field(None)


def _number(value: float) -> float | int:
    return int(value) if float(value).is_integer() else value


def after(before: Field, windows: tuple[Window, ...] | None) -> Field:
    """The field after a layer with these windows, from the field before it."""
    # global stays global; so does a layer that mixes everything or changes the spatial rank
    if before.size is None or windows is None or len(windows) != len(before.size):
        return GLOBAL
    size, jump, start = [], [], []
    for w, r, j, c in zip(windows, before.size, before.jump, before.start, strict=True):
        if w.transposed:
            size.append(r + (w.kernel - 1) / w.stride * j)
            start.append(c + (w.pad_left - (w.kernel - 1) / 2) / w.stride * j)
            jump.append(j / w.stride)
        else:
            size.append(r + (w.kernel - 1) * j)
            start.append(c + ((w.kernel - 1) / 2 - w.pad_left) * j)
            jump.append(j * w.stride)
    return Field(tuple(size), tuple(jump), tuple(start))


def merge(paths: list[tuple[str, Field]]) -> Field:
    """The field after a block: the largest over its paths, misaligned where they disagree."""
    if any(f.is_global for _, f in paths):
        return GLOBAL
    widest = max(paths, key=lambda item: sum(item[1].size or ()))[1]
    first = paths[0][1]
    agree = all(f.jump == first.jump and f.start == first.start for _, f in paths)
    size = tuple(max(dims) for dims in zip(*(f.size or () for _, f in paths), strict=True))
    misaligned = () if agree else tuple((name, f.jump, f.start) for name, f in paths)
    return Field(size, widest.jump, widest.start, misaligned)


def receptive_fields(report: Report) -> dict[int, Field]:
    """The field after every entry of the report, by ``id(entry)``, in one walk (no recursion)."""
    rank = len(report.input_shape) - 1
    start = Field((1.0,) * rank, (1.0,) * rank, (0.0,) * rank) if rank else GLOBAL
    fields: dict[int, Field] = {}
    # frames: the entries of a list still to do, and the field flowing through the list
    for entry, before in _inputs(report.layers, start, fields):
        if not entry.is_block:
            assert entry.step is not None  # a leaf has its step
            fields[id(entry)] = after(before, entry.step.windows)
    return fields


def _inputs(
    entries: tuple[Entry, ...], start: Field, fields: dict[int, Field]
) -> Iterator[tuple[Entry, Field]]:
    """Each leaf with the field before it, filling in blocks' fields once their paths are done.

    The caller stores each leaf's field in ``fields`` before asking for the next one.
    """
    # a frame: [entries, next index, the field before the next entry, the fields of the
    #           paths done so far of the block at that index]
    stack: list[list[Any]] = [[entries, 0, start, []]]
    while stack:
        frame = stack[-1]
        items, i, current = frame[0], frame[1], frame[2]
        if i == len(items):
            stack.pop()
            if not stack:
                return
            owner = stack[-1]
            block: Entry = owner[0][owner[1]]
            done = owner[3]
            done.append((_path_name(block, len(done)), current))
            if len(done) < len(block.children):  # a graph's path may read an earlier one's
                source = block.layer.reads(len(done))  # type: ignore[attr-defined]
                begin = owner[2] if source is None else done[source][1]
                stack.append([block.children[len(done)][1], 0, begin, []])
                continue
            joined = block.layer.joined()  # type: ignore[attr-defined]
            if joined is not None:  # a graph joins the paths it names
                done = [done[i] for i in joined]
            if block.paths > len(done):  # a scale: its input joins the merge
                done.append((f"{block.path} input", owner[2]))
            fields[id(block)] = merged = merge(done)
            owner[1], owner[2], owner[3] = owner[1] + 1, merged, []
            continue
        entry = items[i]
        if entry.is_block:  # every block runs at least one list
            stack.append([entry.children[0][1], 0, current, []])
            continue
        yield entry, current
        frame[1], frame[2] = i + 1, fields[id(entry)]


def _path_name(block: Entry, index: int) -> str:
    keys = block.children[index][0]
    return f"{block.path}.{format_path(list(keys))}"
