"""The figure: a report's entries as nodes, measured and placed on a :class:`Canvas`.

- :func:`make_canvas`: a report's whole figure (title, notes, every node placed, legend), its
  nesting bounded by :data:`MAX_NEST`, :data:`MAX_ENTRIES` and :data:`MAX_TOP`.
- The figure: :class:`Node`, and :func:`_chain` making nodes of entries (a leaf is a box; a
  residual, concat or scale block runs its non-empty paths as parallel lanes joining at ⊕, "C" or
  ⊗, its identity paths drawn as arcs over them; a sequential or repeat block is a frame around
  its children, and so are runs of identical consecutive blocks, :func:`_runs`).
- The palette: a box's colour is its layer type's ``category`` in
  :data:`convcalc.layers.registry.KINDS` (:data:`KIND_OF`, :data:`PALETTE`); the spacings.
- :class:`Painter`: measures every node (its width, and its extents above and below the main
  line) and places it on the canvas as items, wires and bands; :class:`Boxes` draws the boxes
  of leaves, collapsed blocks and the input and output, in the "flow" or "blocks" style.

The sizing rule of the "blocks" style (:func:`tensor_size`), one for tensors of every rank:

- Area by count: a tensor of n values is drawn with the silhouette area side(n)², the
  silhouette being the front face w·h with the top and side faces (w + h)·d of its depth d.
  side(n) = 8 + 76·log₂ n / log₂ N on the log scale (N: the figure's largest count), or
  max(8, 84·√(n / N)) on the linear one (area ∝ n). Two tensors holding as many values are
  drawn as large, whatever their shapes: 768×14×14 and its flatten 768×196 alike.
- Aspect by shape: width : height : depth = ℓ(shape[0]) : ℓ(shape[1]) : 0.4·ℓ(∏ shape[2:]),
  ℓ(s) = 3 + log₂ s, the depth drawn at 45° (none for rank 2); a vector (n,) is drawn as 1 × n.
  So a permute, which keeps the count, swaps the axes it swaps: 196×768 is 768×196 turned,
  and it carries its own glyph (a transpose's mirror line crossed by a double arrow).
- Norm, activation and dropout layers keep the shape: a slice of their tensor, 7 wide.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from itertools import pairwise
from typing import NamedTuple

from convcalc.layers.blocks import JOINS
from convcalc.layers.registry import KINDS
from convcalc.records import Costing, Entry, Report
from convcalc.render.draw.layout import (
    ROW_WIDTH,
    Band,
    Canvas,
    Item,
    Poly,
    R,
    Rect,
    Shape,
    Stroke,
    Text,
    Wire,
    text_width,
)

MAX_NEST = 8  # block levels drawn; deeper ones are drawn as boxes
MAX_ENTRIES = 600  # entries drawn at most; past that, blocks are collapsed
MAX_TOP = 120  # top-level nodes drawn; past that, the middle of the chain is left out


def make_canvas(
    report: Report,
    depth: int | None,
    style: str,
    costs: bool,
    log: bool,
    costing: Costing | None = None,
) -> Canvas:
    """The figure of ``report`` in ``style`` ("blocks" or "flow"), ``depth`` levels deep (all
    where None), ready to be cut into rows and rendered."""
    if depth is not None and depth < 1:
        raise ValueError(f"depth must be at least 1, not {depth}")
    limit, notes = _limit(report, depth)
    nodes = _chain(report.layers, limit)
    if len(nodes) > MAX_TOP:
        nodes, left_out = _shorten(nodes)
        notes.append(f"{left_out:,} top-level entries in the middle left out")
    painter = Painter(report, style, costs, log, costing or Costing())
    canvas = Canvas(title=_title(report, painter), notes=notes)
    first = Node("io", None, title="input")
    last = [Node("io", None, title="output")] if style == "flow" else []
    painter.layout(canvas, [first, *nodes, *last])
    canvas.legend = painter.legend()
    return canvas


def _title(report: Report, painter: Painter) -> str:
    total = sum(painter.counts[id(entry)] for entry in report.layers)
    return (
        f"{report.name}: input {report.shown(report.input_shape)} → "
        f"{report.shown(report.output_shape)} · {report.total_params:,} parameters · "
        f"{total:,} multiply-adds"
    )


# --- the figure ------------------------------------------------------------------------------


@dataclass(eq=False)
class Node:
    """One thing drawn in a chain: ``kind`` is "leaf", "box" (a collapsed block), "io" (the
    input or output), "more" (entries left out), "group" (a frame around ``lanes[0]``, drawn
    ``times`` over) or "par" (``lanes`` side by side, ``skips`` identity arcs over them)."""

    kind: str
    entry: Entry | None
    lanes: list[list[Node]] = field(default_factory=list)
    skips: int = 0
    times: int = 1
    title: str = ""
    entries: tuple[Entry, ...] = ()  # what a group stands for, for its costs
    # a graph's lanes: the earlier lane each starts from (None: the split), those joined
    starts: list[int | None] = field(default_factory=list)
    joined: frozenset[int] | None = None
    offsets: list[float] = field(default_factory=list)  # measured: each lane's start
    w: float = 0.0  # measured: width, extent above and below the main line
    up: float = 0.0
    down: float = 0.0
    lead: float = 0.0  # where the incoming wire ends, from the left edge
    tail: float = 0.0  # where the outgoing wire starts, from the right edge
    arrow: bool = True  # does the incoming wire end in an arrowhead


def _limit(report: Report, depth: int | None) -> tuple[int, list[str]]:
    """The depth drawn: the one asked for (or all), less while the figure would be too big."""
    levels = Counter(entry.depth for entry in report.walk())
    deepest = max(levels, default=0) + 1
    wanted = deepest if depth is None else min(depth, deepest)
    limit = wanted
    while limit > 1 and (limit > MAX_NEST or sum(levels[d] for d in range(limit)) > MAX_ENTRIES):
        limit -= 1
    if limit == wanted:
        return limit, []
    return limit, [f"collapsed to depth {limit} of {deepest} to stay readable (--depth sets it)"]


def _chain(entries: Sequence[Entry], limit: int) -> list[Node]:
    """The nodes of a list of entries; runs of identical blocks fold into one framed copy."""
    nodes = []
    for period, times, run in _runs(entries):
        if times > 1:
            head, last = period[0], run[-len(period)]
            title = head.name or head.type
            if head.name and last.name and last.name != head.name:
                title = f"{head.name} – {last.name}"
            inner = _chain(period, limit)
            nodes.append(Node("group", None, [inner], times=times, title=title, entries=run))
        else:
            nodes.append(_node(period[0], limit))
    return nodes


def _node(entry: Entry, limit: int) -> Node:
    if not entry.is_block:
        return Node("leaf", entry)
    if entry.depth + 1 >= limit:
        return Node("box", entry)
    lists = [children for _, children in entry.children]
    if entry.type == "graph" and len(lists) > 1:  # every path a lane, each where it starts
        block = entry.layer
        starts = [block.reads(i) for i in range(len(lists))]  # type: ignore[attr-defined]
        joined = frozenset(block.joined())  # type: ignore[attr-defined]
        lanes = [_chain(children, limit) for children in lists]
        title = entry.name or ""
        return Node("par", entry, lanes, title=title, starts=starts, joined=joined)
    if len(lists) == 1 and not entry.paths > 1:  # sequential, repeat
        times = int(getattr(entry.layer, "times", 1))
        first = lists[0][: len(lists[0]) // times]
        # a Keras layer built as several steps: its call, SeparableConv2D(16, 3)
        title = entry.name or entry.layer.call_label() or entry.type
        return Node("group", entry, [_chain(first, limit)], times=times, title=title)
    lanes = [_chain(children, limit) for children in lists if children]
    skips = entry.paths - len(lanes)
    if not lanes:
        lanes, skips = [[]], skips - 1
    return Node("par", entry, lanes, skips=skips, title=entry.name or "")


def _runs(entries: Sequence[Entry]) -> list[tuple[list[Entry], int, tuple[Entry, ...]]]:
    """The entries as (period, times, every entry of the run): a period of up to 4 entries,
    one a block, repeated identically, is one run."""
    prints: dict[int, tuple[object, ...]] = {}

    def same(a: Entry, b: Entry) -> bool:
        return a.type == b.type and _fingerprint(a, prints) == _fingerprint(b, prints)

    out = []
    i = 0
    while i < len(entries):
        for p in range(1, 5):
            period = entries[i : i + p]
            if len(period) < p or not any(e.is_block for e in period):
                continue
            times = 1
            while all(
                i + times * p + k < len(entries)
                and same(entries[i + k], entries[i + times * p + k])
                for k in range(p)
            ):
                times += 1
            if times > 1:
                out.append((list(period), times, tuple(entries[i : i + times * p])))
                i += times * p
                break
        else:
            out.append(([entries[i]], 1, (entries[i],)))
            i += 1
    return out


def _fingerprint(entry: Entry, prints: dict[int, tuple[object, ...]]) -> tuple[object, ...]:
    """What makes two blocks draw alike: every entry inside, its place, shapes and label."""
    if id(entry) not in prints:
        prints[id(entry)] = tuple(
            (
                e.depth - entry.depth,
                e.path.count("."),
                e.type,
                e.description,
                e.input_shape,
                e.output_shape,
                e.params,
                e.name if e is not entry else None,
            )
            for e in entry.walk()
        )
    return prints[id(entry)]


def _shorten(nodes: list[Node]) -> tuple[list[Node], int]:
    """The first and last top-level nodes, and a box saying how many are left out between."""
    head, tail = MAX_TOP * 2 // 3, MAX_TOP // 6
    middle = nodes[head:-tail]
    count = sum(max(1, len(n.entries)) for n in middle)
    return [
        *nodes[:head],
        Node("more", None, title=f"⋯ {count:,} not drawn ⋯"),
        *nodes[-tail:],
    ], count


# --- palette ---------------------------------------------------------------------------------

KIND_OF = {name: kind.category for name, kind in KINDS.items()}  # the palette key of a type
PALETTE = {  # fill, stroke
    "conv": ("#d4e4f7", "#3a6ea5"),
    "pool": ("#fbdcc0", "#c8702a"),
    "norm": ("#d5edd0", "#4a8f42"),
    "activation": ("#fbeeb0", "#b58d12"),
    "linear": ("#e4d9f2", "#6f52a0"),
    "attention": ("#f3d3ec", "#9b3f86"),  # multihead, window and relative attention
    "token": ("#dfe9d2", "#5f7f3a"),  # class token, position embedding, select, layer scale
    "reshape": ("#d3ecec", "#3a8b8b"),
    "dropout": ("#e6e6e6", "#808080"),
    "block": ("#f5dbe7", "#a04c74"),
    "io": ("#f2f2f2", "#666666"),
}
SLIM = {"norm", "activation", "dropout"}  # narrow boxes: they keep the shape
SHORT = {"batchnorm": "BN", "groupnorm": "GN", "instancenorm": "IN", "layernorm": "LN"}
SHORT |= {"local_response_norm": "LRN", "stochastic_depth": "sdepth", "dropout": "drop"}
SHORT |= {"multihead_attention": "MHA", "class_token": "cls", "position_embedding": "pos"}
SHORT |= {"layer_scale": "LS", "layernorm2d": "LN2d"}
SHORT |= {"window_partition": "part", "window_departition": "depart"}
SHORT |= {"relative_position_attention": "relMHA"}
SYMBOLS = {"residual": "add", "concat": "cat", "scale": "mul", "split": "cat"}
GAP, SLIM_GAP = 24.0, 14.0  # between boxes of a chain
PAD, TITLE, STACK = 8.0, 16.0, 4.0  # frames: padding, title line, offset of the copies behind
ARC = 12.0  # spacing of identity arcs (R, the join circles' radius, is the layout's)
LANE_IN, LANE_GAP = 22.0, 16.0  # from the split to the lanes; between lanes


def _symbol(entry: Entry) -> str:
    """The join a block's lanes meet at: "add", "cat", "mul", ... (a graph's or a residual's
    by its ``join``, :data:`~convcalc.layers.blocks.JOINS`)."""
    if entry.type in ("graph", "residual"):
        return JOINS[entry.layer.join].symbol  # type: ignore[attr-defined]
    return SYMBOLS.get(entry.type, "add")


def kind(node: Node) -> str:
    """The palette key of a node."""
    if node.kind in ("io", "more"):
        return "io"
    if node.entry is None or node.entry.is_block:
        return "block"
    return KIND_OF.get(node.entry.type, "reshape")


class Painter:
    """Measures and places nodes on a :class:`Canvas` in one style."""

    def __init__(
        self, report: Report, style: str, costs: bool, log: bool, costing: Costing
    ) -> None:
        from convcalc.views.costs import subtotals

        self.report, self.style, self.costs = report, style, costs
        self.counts = subtotals(report.walk(), costing.batch, costing.convention)
        self.boxes = Boxes(report, style, log, self)
        self.kinds: set[str] = set()
        self.joins: set[str] = set()

    # measuring ------------------------------------------------------------------------------

    def measure(self, node: Node) -> None:
        """Set the node's size and ports (its children's first)."""
        if node.kind == "group":
            self._measure_group(node)
        elif node.kind == "par":
            self._measure_par(node)
        else:
            node.w, node.up, node.down, node.lead, node.tail = self.boxes.size(node)
            node.arrow = True

    def _measure_chain(self, nodes: list[Node]) -> tuple[float, float, float]:
        for node in nodes:
            self.measure(node)
        width = sum(n.w for n in nodes) + sum(self.gap(a, b) for a, b in pairwise(nodes))
        return (
            width,
            max((n.up for n in nodes), default=0.0),
            max((n.down for n in nodes), default=0.0),
        )

    def _measure_group(self, node: Node) -> None:
        inner = node.lanes[0]
        width, up, down = self._measure_chain(inner)
        label = self.group_title(node)
        stack = STACK if node.times > 1 else 0.0
        node.w = max(width, text_width(label, 11, bold=True)) + 2 * PAD + stack
        node.up, node.down = up + PAD + TITLE, down + PAD + stack
        node.lead = PAD + (inner[0].lead if inner else 0.0)
        node.tail = PAD + stack + (inner[-1].tail if inner else 0.0)
        node.arrow = inner[0].arrow if inner else False

    def _measure_par(self, node: Node) -> None:
        sizes = [self._measure_chain(lane) for lane in node.lanes]
        out = self.join_label(node)
        node.offsets = []  # a lane reading an earlier lane starts a lane's gap after its end
        for i in range(len(sizes)):
            source = node.starts[i] if node.starts else None
            node.offsets.append(
                0.0 if source is None else node.offsets[source] + sizes[source][0] + LANE_IN
            )
        span = max(o + w for o, (w, _, _) in zip(node.offsets, sizes, strict=True))
        node.w = LANE_IN + span + LANE_IN + 2 * R + text_width(out, 10)
        label = self.par_label(node)
        node.w = max(node.w, 4 + text_width(label, 11, bold=True))
        node.up = sizes[0][1] + node.skips * ARC + (TITLE if label else 0.0) + 2
        node.down = sizes[0][2] + sum(LANE_GAP + up + down for _, up, down in sizes[1:])
        node.up = max(node.up, R + 2 + (12 if out else 0))
        node.down = max(node.down, R + 2)
        node.lead, node.tail, node.arrow = 4.0, text_width(out, 10), False

    def gap(self, a: Node, b: Node) -> float:
        """The space between two neighbours of a chain: none to speak of before an activation
        drawn to scale (it sticks to the activation before it)."""
        if self.style == "blocks" and kind(b) in SLIM and a.kind in ("leaf", "box", "io"):
            return 3.0
        return SLIM_GAP if kind(b) in SLIM or kind(a) in SLIM else GAP

    # labels ---------------------------------------------------------------------------------

    def cost_text(self, entries: Iterable[Entry]) -> str:
        entries = list(entries)
        params = sum(e.params for e in entries)
        madds = sum(self.counts[id(e)] for e in entries)
        return f"{compact(params)} params · {compact(madds)} MACs"

    def group_title(self, node: Node) -> str:
        title = node.title + (f" ×{node.times}" if node.times > 1 else "")
        if self.costs:
            entries = node.entries or ((node.entry,) if node.entry else ())
            title += " · " + self.cost_text(entries)
        return title

    def par_label(self, node: Node) -> str:
        assert node.entry is not None  # a par is always a block entry
        label = node.title
        if self.costs:
            label = (label + " · " if label else "") + self.cost_text([node.entry])
        return label

    def join_label(self, node: Node) -> str:
        """The output shape beside a concat's join (where the channels change)."""
        entry = node.entry
        joined = entry is not None and _symbol(entry) == "cat"
        return self.report.shown(entry.output_shape) if entry is not None and joined else ""

    # placing --------------------------------------------------------------------------------

    def layout(self, canvas: Canvas, nodes: list[Node]) -> None:
        """Measure and place the top-level chain on the canvas, main line at y = 0."""
        self._measure_chain(nodes)
        widest = max(node.w for node in nodes)
        if ROW_WIDTH < widest <= 1.45 * ROW_WIDTH:  # every top-level node on a row of its own
            canvas.row_width = widest + 2 * GAP
        self.place_chain(canvas, nodes, 0.0, 0.0, 0)

    def place_chain(
        self, canvas: Canvas, nodes: list[Node], x: float, y: float, safe: int
    ) -> float:
        """Place nodes side by side from ``x``; with ``safe`` ≥ 0 the gaps between them are
        places to cut the strip (``safe`` is how nested they are)."""
        for i, node in enumerate(nodes):
            if i:
                prev, gap = nodes[i - 1], self.gap(nodes[i - 1], node)
                if gap > 6:
                    start = (x - prev.tail, y)
                    canvas.wires.append(Wire([start, (x + gap + node.lead, y)], node.arrow))
                if safe >= 0 and gap > 10:
                    canvas.cuts.append((x + gap / 2, safe))
                x += gap
            self.place(canvas, node, x, y, safe)
            x += node.w
        return x

    def place(self, canvas: Canvas, node: Node, x: float, y: float, safe: int) -> None:
        """Draw one node with its left edge at ``x`` and its main line at ``y``."""
        if node.kind == "group":
            self._place_group(canvas, node, x, y, safe)
        elif node.kind == "par":
            self._place_par(canvas, node, x, y, safe)
        else:
            item = self.boxes.draw(node, x, y)
            self.kinds.add(kind(node))
            canvas.items.append(item)

    def _place_group(self, canvas: Canvas, node: Node, x: float, y: float, safe: int) -> None:
        stack = STACK if node.times > 1 else 0.0
        top, bottom = y - node.up, y + node.down - stack
        fill, stroke = "#fafafa", "#9a9a9a"
        if node.times > 1:
            canvas.bands.append(
                Band(x + stack, top + stack, x + node.w, bottom + stack, fill, stroke, True)
            )
        canvas.bands.append(Band(x, top, x + node.w - stack, bottom, fill, stroke, True))
        title = self.group_title(node)
        path = node.entry.path if node.entry else ""
        canvas.items.append(Item.label(x + PAD, top + 13, title, 11, "#555", True, path))
        inner = node.lanes[0]
        self.place_chain(canvas, inner, x + PAD, y, safe + 1 if safe >= 0 else -1)
        if not inner:
            canvas.wires.append(Wire([(x, y), (x + node.w, y)], False))

    def _place_par(self, canvas: Canvas, node: Node, x: float, y: float, safe: int) -> None:
        assert node.entry is not None  # a par is always a block entry
        split, left = x + 4, x + LANE_IN
        join = x + node.w - node.tail - R
        inner_safe = safe + 1 if safe >= 0 and len(node.lanes) == 1 else -1
        lane_y = y
        ends: list[tuple[float, float]] = []  # where each lane's output leaves it
        for i, lane in enumerate(node.lanes):
            if i:
                prev = node.lanes[i - 1]
                lane_y += max((n.down for n in prev), default=0.0) + LANE_GAP
                lane_y += max((n.up for n in lane), default=0.0)
            arrow = lane[0].arrow if lane else False
            lead = lane[0].lead if lane else 0.0
            start = left + node.offsets[i]
            source = node.starts[i] if node.starts else None
            if source is None:
                wire = [(split, y), (split, lane_y), (start + lead, lane_y)]
            else:  # from the end of the lane it reads, forking there
                (sx, sy), fork = ends[source], ends[source][0] + 4
                wire = [(sx, sy), (fork, sy), (fork, lane_y), (start + lead, lane_y)]
                canvas.items.append(Item.dot(fork, sy))
            canvas.wires.append(Wire(wire, arrow))
            end = self.place_chain(canvas, lane, start, lane_y, inner_safe)
            tail = lane[-1].tail if lane else 0.0
            ends.append((end - tail, lane_y))
            if node.joined is not None and i not in node.joined:
                continue  # read by later lanes only
            target = (join - R, y) if i == 0 else (join, y + R)
            canvas.wires.append(Wire([(end - tail, lane_y), (join, lane_y), target], True))
        top = y - max((n.up for n in node.lanes[0]), default=0.0)
        label = self.par_label(node)
        name = node.title or f"{node.entry.type} {node.entry.path}"
        for k in range(node.skips):
            arc = top - ARC * (k + 1)
            points = [(split, y), (split, arc), (join, arc), (join, y - R)]
            tag = label if k == node.skips - 1 else ""
            canvas.wires.append(Wire(points, True, tag, name))
        symbol = _symbol(node.entry)
        self.joins.add(symbol)
        tip = f"{node.entry.label}: {self.report.shown(node.entry.output_shape)}"
        out = self.join_label(node)
        canvas.items.append(Item.join(join, y, R, symbol, out, node.entry.path, tip))
        canvas.items.append(Item.dot(split, y))
        if label and not node.skips:
            canvas.items.append(Item.label(split, top - 5, label, 11, "#555", True, ""))

    # legend ---------------------------------------------------------------------------------

    def legend(self) -> list[tuple[str, str, str]]:
        """(kind, fill, stroke) of every kind drawn, then the joins drawn."""
        shown = [(k, *PALETTE[k]) for k in PALETTE if k in self.kinds and k != "io"]
        names = {op.symbol: op.name for op in JOINS.values()}
        order = ("add", "cat", "mul", "sub", "avg", "max", "min")
        return shown + [(names[j], "join", j) for j in order if j in self.joins]


# --- boxes -----------------------------------------------------------------------------------


class Line(NamedTuple):
    """One label of a box; ``role`` is "head", "args", "shape" or "costs"."""

    text: str
    size: float
    bold: bool
    colour: str
    role: str


LINE = 14.0  # line height of box labels


class Boxes:
    """The boxes of leaves, collapsed blocks and the input/output: labelled rounded boxes
    ("flow") or activations drawn to scale ("blocks")."""

    def __init__(self, report: Report, style: str, log: bool, painter: Painter) -> None:
        self.style, self.log, self.painter = style, log, painter
        self.report = report
        shapes = [report.input_shape, *(e.output_shape for e in report.walk())]
        self.most = max(max((math.prod(s) for s in shapes), default=1), 2)  # values, largest

    def shape(self, node: Node) -> tuple[int, ...]:
        if node.entry is not None:
            return node.entry.output_shape
        return self.report.input_shape if node.title == "input" else self.report.output_shape

    def lines(self, node: Node) -> list[Line]:
        """The labels of a box: what it is, its arguments, its output shape, its costs."""
        entry = node.entry
        shape = Line(self.report.shown(self.shape(node)), 10.5, False, "#555", "shape")
        if entry is None:
            title = Line(node.title, 11.5, True, "#222", "head")
            return [title] if node.kind == "more" else [title, shape]
        slim = kind(node) in SLIM
        written = entry.type  # a Keras spec: the class written, its call's arguments below
        if self.report.dialect is not None:
            written = self.report.dialect.classes.get(entry.source, written)
            call = re.fullmatch(r"(\w+)\(.*\)", entry.description)
            if written == entry.type and call:  # a step of a Keras layer: pointwise(16)
                written = call.group(1)
        head = entry.name or (SHORT.get(written, written) if slim else written)
        args = entry.description
        if args.startswith(f"{written}(") and args.endswith(")"):
            args = args[len(written) + 1 : -1]
        elif args.startswith(written) and (not entry.name or written in entry.name.lower()):
            args = args[len(written) :].strip()
        if entry.is_block:
            count = sum(1 for e in entry.walk() if not e.is_block)
            args = f"{args} · {count} layers" if args else f"{count} layers"
        out = [Line(head, 11.5, True, "#222", "head")]
        if args:
            out.append(Line(args, 10.5, False, "#333", "args"))
        if not slim or entry.output_shape != entry.input_shape:
            out.append(shape)
        if self.painter.costs and (entry.params or not slim):
            costs = self.painter.cost_text([entry]) if not slim else f"{compact(entry.params)} p"
            out.append(Line(costs, 9.5, False, "#8a5a00", "costs"))
        return out

    def size(self, node: Node) -> tuple[float, float, float, float, float]:
        """Width, extents above and below the main line, and the wires' ports."""
        lines = self.lines(node)
        widest = max(text_width(line.text, line.size, line.bold) for line in lines)
        if self.style == "flow" or node.kind == "more":
            height = 10 + LINE * len(lines)
            return max(widest + 16, 30.0), height / 2, height / 2, 0.0, 0.0
        w, h, d = self.tensor(node)
        above = any(line.role == "shape" for line in lines)
        width = max(widest, w + d) + 4
        lead = (width - w - d) / 2
        up = h / 2 + d + (LINE if above else 0) + 2
        return width, up, h / 2 + LINE * (len(lines) - above) + 4, lead, width - lead - w

    def tensor(self, node: Node) -> tuple[float, float, float]:
        """Width, height and depth of an activation, by the sizing rule of :func:`tensor_size`;
        a layer drawn slim (it keeps the shape) is a slice of its tensor, :data:`SLICE` wide."""
        w, h, d = tensor_size(self.shape(node), self.most, self.log)
        return (SLICE if kind(node) in SLIM else w), h, d

    def draw(self, node: Node, x: float, y: float) -> Item:
        """The box's shapes, its left edge at ``x`` and the main line at ``y``."""
        fill, stroke = PALETTE[kind(node)]
        lines = self.lines(node)
        path = node.entry.path if node.entry else ""
        tip = " · ".join(line.text for line in lines)
        cls = "box" if node.entry else node.kind
        if self.style == "flow" or node.kind == "more":
            top = y - node.up
            radius = 12.0 if node.kind == "io" else 5.0
            dash = node.kind == "more" or kind(node) == "block"
            height = node.up + node.down
            shapes: list[Shape] = [Rect(x, top, node.w, height, fill, stroke, radius, dash)]
            for i, line in enumerate(lines):
                base = top + 5 + LINE * (i + 1) - 3.5
                shapes.append(
                    Text(
                        x + node.w / 2, base, line.text, line.size, "middle", line.bold, line.colour
                    )
                )
            return Item.of(shapes, cls, path, tip)
        w, h, d = self.tensor(node)
        left, top = x + node.lead, y - h / 2
        shapes = _cuboid(left, top, w, h, d, fill, stroke, kind(node) == "block")
        if node.entry is not None and node.entry.type in TRANSPOSED:
            shapes += _transposed(left, top, w, h, stroke)
        centre = left + (w + d) / 2
        below = top + h + 2
        for line in lines:
            if line.role == "shape":
                shapes.append(
                    Text(
                        centre, top - d - 4, line.text, line.size, "middle", line.bold, line.colour
                    )
                )
            else:
                below += LINE
                shapes.append(
                    Text(centre, below - 3, line.text, line.size, "middle", line.bold, line.colour)
                )
        return Item.of(shapes, cls, path, tip)


SLICE = 7.0  # the width of a slim layer's slice of its tensor
MIN_SIDE, MAX_SIDE = 8.0, 84.0  # √(drawn area) of one value and of the largest tensor
DEPTH = 0.4  # the depth axis, drawn at 45°, at this fraction of its length


def axis_length(size: int) -> float:
    """An axis of ``size`` values, in proportion to the others: ℓ(s) = 3 + log₂ s."""
    return 3 + math.log2(max(size, 1))


def tensor_size(shape: Sequence[int], most: int, log: bool = True) -> tuple[float, float, float]:
    """Width, height and depth of a tensor of any rank drawn to scale, for a figure whose
    largest tensor has ``most`` values (see the module's docstring).

    Aspect: the width is ℓ(shape[0]), the height ℓ(shape[1]), the depth DEPTH·ℓ(∏ shape[2:])
    (none for rank 2), with ℓ(s) = 3 + log₂ s; a vector (n,) is drawn as 1 × n.
    Area: the silhouette w·h + (w + h)·d (front face, top and side) is side(n)² for n values,
    side(n) = MIN + (MAX − MIN)·log₂ n / log₂ most on the log scale, or
    max(MIN, MAX·√(n / most)) on the linear one (area ∝ n)."""
    dims = [1] * (2 - len(shape)) + list(shape)  # a vector (n,) as 1 × n
    w0, h0 = axis_length(dims[0]), axis_length(dims[1])
    d0 = DEPTH * axis_length(math.prod(dims[2:])) if len(dims) > 2 else 0.0
    n = max(math.prod(shape), 1)
    if log:
        side = MIN_SIDE + (MAX_SIDE - MIN_SIDE) * math.log2(n) / math.log2(max(most, 2))
    else:
        side = max(MIN_SIDE, MAX_SIDE * math.sqrt(n / max(most, 1)))
    scale = side / math.sqrt(w0 * h0 + (w0 + h0) * d0)
    return w0 * scale, h0 * scale, d0 * scale


def _cuboid(
    x: float, y: float, w: float, h: float, d: float, fill: str, stroke: str, dash: bool
) -> list[Shape]:
    """A box seen from the front, above and right: front face at (x, y), w × h, depth d."""
    front: list[Shape] = [Rect(x, y, w, h, fill, stroke, 0.0, dash)]
    if d <= 0:
        return front
    top = ((x, y), (x + d, y - d), (x + w + d, y - d), (x + w, y))
    side = ((x + w, y), (x + w + d, y - d), (x + w + d, y + h - d), (x + w, y + h))
    return [
        Poly(top, _mix(fill, "#ffffff", 0.45), stroke),
        Poly(side, _mix(fill, stroke, 0.3), stroke),
        *front,
    ]


TRANSPOSED = {"permute"}  # drawn with the transposition's glyph


def _transposed(x: float, y: float, w: float, h: float, colour: str) -> list[Shape]:
    """The glyph of a permute on its front face (x, y, w × h): the mirror line (the face's
    diagonal) and a double arrow across it, as a transpose mirrors (i, j) to (j, i)."""
    cx, cy = x + w / 2, y + h / 2
    norm = math.hypot(w, h)
    vx, vy = -h / norm, w / norm  # across the diagonal
    arm, head = 0.3 * min(w, h), 0.12 * min(w, h)
    ends = [(cx + vx * arm * k, cy + vy * arm * k) for k in (-1, 1)]
    glyph: list[Shape] = [Stroke(((x, y), (x + w, y + h)), colour, 1.0)]
    glyph.append(Stroke(tuple(ends), colour))
    for (px, py), k in zip(ends, (-1, 1), strict=True):
        ex, ey = vx * k, vy * k  # outwards
        left = (px - ex * head - ey * head * 0.7, py - ey * head + ex * head * 0.7)
        right = (px - ex * head + ey * head * 0.7, py - ey * head - ex * head * 0.7)
        glyph.append(Stroke((left, (px, py), right), colour))
    return glyph


def _mix(a: str, b: str, t: float) -> str:
    """The colour a fraction ``t`` of the way from ``a`` to ``b`` (#rrggbb)."""
    pa = [int(a[i : i + 2], 16) for i in (1, 3, 5)]
    pb = [int(b[i : i + 2], 16) for i in (1, 3, 5)]
    return "#" + "".join(f"{round(u + (v - u) * t):02x}" for u, v in zip(pa, pb, strict=True))


def compact(n: int) -> str:
    """12,345,678 → ``12.3M``: three significant digits; a count that rounds up to 1,000 of a
    unit is written in the next (999,999 → ``1M``), past the largest in whole ones."""
    units = (("G", 10**9), ("M", 10**6), ("k", 10**3))
    for i, (unit, size) in enumerate(units):
        if n >= size:
            value = n / size
            if value < 999.5:  # :.3g would round 999.5 and up to 1e+03
                return f"{value:.3g}{unit}"
            if i == 0:
                return f"{value:,.0f}{unit}"
            bigger, above = units[i - 1]
            return f"{n / above:.3g}{bigger}"
    return str(n)
