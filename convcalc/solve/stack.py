"""Solving a whole stack: integer fields written ``"?"`` or as a range are the unknowns.

The search never guesses a whole assignment and checks it. It walks the stack forward once,
recording for every reachable input shape of every layer which values of that layer's unknowns
are valid and where they lead (each layer's own ``forward`` decides: one source of truth). Then
it keeps, walking backward, only the shapes from which the target size is still reachable.
Listing is a depth-first walk over those shapes alone, so every step leads to a solution, and
counting is a sum over them without listing anything.
"""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from convcalc.arith import Refusal
from convcalc.errors import ConvcalcError, SpecError, format_path
from convcalc.solve.layer import Range, RangeError
from convcalc.spec.document import Document
from convcalc.spec.layers import Layer
from convcalc.spec.step import Shape
from convcalc.spec.validate import Spec

MAX_STEPS = 1_000_000  # about 7 s of layer evaluations
_UNKNOWN = re.compile(r"^\s*(\?|\d+\s*(\.\.\s*\d+\s*)?(,\s*\d+\s*(\.\.\s*\d+\s*)?)*)$")
# fields whose "?" has a default range (relative to the layer's input size; see the README)
DEFAULTED = ("kernel_size", "stride", "padding", "dilation", "output_padding")


@dataclass(frozen=True)
class Unknown:
    """One unknown: a whole field (``dim`` None) or one dimension of a per-dimension list."""

    label: str
    layer: int
    field: str
    dim: int | None
    values: Range | None  # None: "?", the default range for the layer's input


@dataclass
class StackResult:
    name: str
    target: tuple[int, ...]
    unknowns: list[Unknown]
    count: int
    solutions: Iterator[tuple[tuple[int, ...], Shape]]
    notes: list[str] = field(default_factory=list)


def parse_target(text: str) -> tuple[int, ...]:
    """``7`` or ``7,5``: the output's spatial size(s)."""
    parts = [p.strip() for p in text.split(",")]
    if not 1 <= len(parts) <= 3 or not all(p.isdigit() and int(p) > 0 for p in parts):
        raise RangeError(f"--out: expected 1 to 3 positive sizes such as 7 or 7,5, not {text!r}")
    return tuple(int(p) for p in parts)


def solve_stack(source: str, target: tuple[int, ...], limit: int | None = None) -> StackResult:
    """Every assignment of the unknowns of ``source`` for which the stack ends at ``target``."""
    from convcalc.spec.validate import read_document, validate

    doc = read_document(source)
    file = doc.file
    unknowns = _find_unknowns(doc)
    if not unknowns:
        raise SpecError(
            'has no unknowns: write a field as "?" or as a range such as "1..7"', file=file
        )
    try:  # each unknown holds the least value of its range: the models check that one
        spec = validate(doc)
    except SpecError as exc:
        for u in unknowns:
            if exc.path == f"layers[{u.layer}]" and exc.field == u.field and u.values is not None:
                exc.message = f"the range {u.values} does not fit: {exc.message}"
        raise
    for unknown in unknowns:
        _check_unknown(spec, unknown, file, doc.line_of)
    rank = len(spec.input) - 1
    if len(target) not in (1, rank):
        raise RangeError(f"--out gives {len(target)} sizes but the input has {rank} spatial")
    want = target * rank if len(target) == 1 else target
    search = _Search(spec, unknowns, want)
    search.forward()
    search.backward()
    solutions = search.paths()
    if limit is not None:
        solutions = itertools.islice(solutions, limit)
    return StackResult(
        name=spec.name,
        target=want,
        unknowns=unknowns,
        count=search.count(),
        solutions=solutions,
    )


def _find_unknowns(doc: Document) -> list[Unknown]:
    """Find "?" and range strings in the top-level layers, replacing them with placeholders.

    A layer written once and reused through an alias (``*block``) is one dict in many places:
    each place gets its own copy first, so that each has its own unknowns.
    """
    found: list[Unknown] = []
    layers = doc.data.get("layers") if isinstance(doc.data, dict) else None
    if not isinstance(layers, list):
        return found
    for i, original in enumerate(layers):
        if not isinstance(original, dict):
            continue
        layers[i] = layer = doc.copy(original)
        for name, value in list(layer.items()):
            if isinstance(value, list):
                layer[name] = value = doc.copy(value)
            spots = [(None, value)] if not isinstance(value, list) else list(enumerate(value))
            for dim, item in spots:
                if name == "type" or not isinstance(item, str) or not _UNKNOWN.match(item):
                    continue
                label = format_path(["layers", i, name, *([] if dim is None else [dim])])
                line = doc.line_of(["layers", i, name])
                try:
                    values = None if item.strip() == "?" else Range.parse(item, label)
                except RangeError as exc:
                    raise SpecError(str(exc), file=doc.file, line=line) from None
                found.append(Unknown(label, i, name, dim, values))
                placeholder = values.lo if values is not None else (0 if "padding" in name else 1)
                if dim is None:
                    layer[name] = placeholder
                else:
                    value[dim] = placeholder
    return found


def _check_unknown(
    spec: Spec, unknown: Unknown, file: str, line_of: Callable[..., int | None]
) -> None:
    layer = spec.layers[unknown.layer]
    value = getattr(layer, unknown.field)
    items = value if isinstance(value, tuple) else (value,)
    problem = None
    if not all(isinstance(v, int) and not isinstance(v, bool) for v in items):
        problem = "only integer fields can be unknown"
    elif unknown.values is None and unknown.field not in DEFAULTED:
        problem = f'"?" has no default range for {unknown.field}: write one such as "16,32,64"'
    if problem:
        raise SpecError(
            problem,
            file=file,
            line=line_of(["layers", unknown.layer, unknown.field]),
            path=f"layers[{unknown.layer}]",
            layer_type=layer.type,
            field=unknown.field,
        )


class _Search:
    """Forward reachability with edges, then backward pruning: see the module docstring."""

    def __init__(self, spec: Spec, unknowns: list[Unknown], want: tuple[int, ...]) -> None:
        self.spec = spec
        self.want = want
        self.by_layer: dict[int, list[Unknown]] = {}
        for u in unknowns:
            self.by_layer.setdefault(u.layer, []).append(u)
        # edges[i][shape] = [(values of layer i's unknowns, output shape)]
        self.edges: list[dict[Shape, list[tuple[tuple[int, ...], Shape]]]] = []
        self.good: list[set[Shape]] = []
        self.steps = 0

    def forward(self) -> None:
        frontier: set[Shape] = {self.spec.input}
        for i, layer in enumerate(self.spec.layers):
            edges: dict[Shape, list[tuple[tuple[int, ...], Shape]]] = {}
            for shape in sorted(frontier):
                edges[shape] = list(self._moves(i, layer, shape))
            self.edges.append(edges)
            frontier = {out for moves in edges.values() for _, out in moves}
        self.last = frontier

    def _moves(self, i: int, layer: Layer, shape: Shape) -> Iterator[tuple[tuple[int, ...], Shape]]:
        unknowns = self.by_layer.get(i, [])
        choices = [_candidates(layer, unknowns, u, shape) for u in unknowns]
        for values in itertools.product(*choices):
            self.steps += 1
            if self.steps > MAX_STEPS:
                raise ConvcalcError(
                    f"the search passed {MAX_STEPS:,} layer evaluations: narrow the ranges"
                )
            try:
                out = _assign(layer, unknowns, values).forward(shape).output
            except Refusal:
                continue
            yield values, out

    def backward(self) -> None:
        good = {s for s in self.last if s[1:] == self.want}
        self.good = [set() for _ in self.edges] + [good]
        for i in range(len(self.edges) - 1, -1, -1):
            nxt = self.good[i + 1]
            self.good[i] = {
                s for s, moves in self.edges[i].items() if any(out in nxt for _, out in moves)
            }

    def count(self) -> int:
        ways: dict[Shape, int] = {s: 1 for s in self.good[-1]}
        for i in range(len(self.edges) - 1, -1, -1):
            ways = {s: sum(ways.get(out, 0) for _, out in self.edges[i][s]) for s in self.good[i]}
        return ways.get(self.spec.input, 0)

    def paths(self) -> Iterator[tuple[tuple[int, ...], Shape]]:
        """Depth-first over good shapes only, in the order of the unknowns' values."""
        if self.spec.input not in self.good[0]:
            return
        n = len(self.edges)
        stack: list[tuple[int, Shape, tuple[int, ...]]] = [(0, self.spec.input, ())]
        while stack:
            i, shape, chosen = stack.pop()
            if i == n:
                yield chosen, shape
                continue
            nxt = self.good[i + 1]
            moves = [(v, out) for v, out in self.edges[i][shape] if out in nxt]
            stack.extend((i + 1, out, chosen + v) for v, out in reversed(moves))


def _assign(layer: Layer, unknowns: list[Unknown], values: tuple[int, ...]) -> Layer:
    if not unknowns:
        return layer
    update: dict[str, Any] = {}
    for u, v in zip(unknowns, values, strict=True):
        if u.dim is None:
            update[u.field] = v
        else:
            current = list(update.get(u.field, getattr(layer, u.field)))
            current[u.dim] = v
            update[u.field] = tuple(current)
    return layer.model_copy(update=update)


def _known_max(layer: Layer, unknowns: list[Unknown], name: str, dim: int | None) -> int | None:
    """The largest value a field can take, or None while it is a "?" (its default unknown)."""
    value = getattr(layer, name, None)
    if value is None or isinstance(value, str):
        return None
    items = list(value) if isinstance(value, tuple) else [value] * max(1, (dim or 0) + 1)
    for u in unknowns:  # the placeholders stand for whole ranges
        if u.field == name:
            for j in range(len(items)) if u.dim is None else [u.dim]:
                items[j] = None if u.values is None else u.values.hi
    chosen = items if dim is None or dim >= len(items) else [items[dim]]
    return None if None in chosen else max(chosen)


def _candidates(layer: Layer, unknowns: list[Unknown], u: Unknown, shape: Shape) -> list[int]:
    """The values to try: the written range, or the default for this input (README table)."""
    if u.values is not None:
        return list(u.values)
    spatial = shape[1:]
    size = spatial[u.dim] if u.dim is not None and u.dim < len(spatial) else max(spatial or (1,))

    def known(name: str, default: int) -> int:
        value = _known_max(layer, unknowns, name, u.dim)
        return default if value is None else value

    pad = known("padding", 0)
    if u.field in ("kernel_size", "stride"):
        return list(range(1, size + 2 * pad + 1))
    if u.field == "padding":
        kernel = known("kernel_size", size)
        if layer.type in ("maxpool", "avgpool"):
            return list(range(0, kernel // 2 + 1))
        return list(range(0, known("dilation", 1) * (kernel - 1) // 2 + 1))
    if u.field == "dilation":
        return list(range(1, max(1, size + 2 * pad - 1) + 1))
    return list(range(0, max(known("stride", size), known("dilation", 1))))  # output_padding


def write(out: Callable[[str], object], result: StackResult, fmt: str, listing: bool) -> None:
    """Render a :class:`StackResult` as a table, CSV or JSON, streaming the solutions."""
    labels = [u.label for u in result.unknowns]
    ranges = {u.label: str(u.values) if u.values is not None else "?" for u in result.unknowns}
    if fmt == "json":
        head = {
            "name": result.name,
            "out": list(result.target),
            "count": result.count,
            "unknowns": labels,
            "ranges": ranges,
        }
        if not listing:
            out(json.dumps(head, indent=2) + "\n")
            return
        items = (
            json.dumps({**dict(zip(labels, values, strict=True)), "output_shape": list(shape)})
            for values, shape in result.solutions
        )
        out(json.dumps(head, indent=2)[:-2] + ',\n  "solutions": [')
        first = True
        for item in items:
            out(("\n    " if first else ",\n    ") + item)
            first = False
        out("]\n}\n" if first else "\n  ]\n}\n")
        return
    if fmt == "csv":
        if not listing:
            out(f"{result.count}\n")
            return
        out(",".join([*labels, "output_shape"]) + "\n")
        for values, shape in result.solutions:
            out(",".join([*map(str, values), "×".join(map(str, shape))]) + "\n")
        return
    plural = "" if result.count == 1 else "s"
    out(f"{result.name} → {'×'.join(map(str, result.target))}: {result.count:,} solution{plural}\n")
    out("unknowns: " + " · ".join(f"{k} {v}" for k, v in ranges.items()) + "\n")
    if not listing:
        return
    widths = [max(len(label), 4) for label in labels]
    out("\n" + "  ".join(lbl.rjust(w) for lbl, w in zip(labels, widths, strict=True)))
    out("  output_shape\n")
    for values, shape in result.solutions:
        cells = "  ".join(str(v).rjust(w) for v, w in zip(values, widths, strict=True))
        out(f"{cells}  {'×'.join(map(str, shape))}\n")
