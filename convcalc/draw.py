"""Network diagrams drawn by convcalc itself: a :class:`~convcalc.analysis.Report` as SVG or TikZ.

Three steps, each pure strings and numbers (stdlib only):

1. The figure: the report's entries as nodes. A leaf is a box; a residual, concat or scale block
   runs its non-empty paths as parallel lanes joining at ⊕, "C" or ⊗, its identity paths
   drawn as arcs over them; a sequential or repeat block is a frame around its children (a
   repeat's first repetition only, "×N"), and so are runs of identical consecutive blocks.
   Blocks nested ``depth`` levels deep are drawn as one box, as ``convcalc shape --depth`` hides
   their rows.
2. The layout: every node measured and placed along one long strip, around a main line at
   y = 0. Boxes and labels are never cut; wires and frames are, so the strip is cut into rows
   where only wires cross (between the boxes of a chain), the main line continuing below.
3. The rendering of the rows: SVG or TikZ.

The figure's nesting is bounded: a spec nested 500 deep, or 20,000 layers long, is drawn
collapsed to :data:`MAX_NEST` levels and :data:`MAX_ENTRIES` entries (the figure says so), so the
recursion of measuring and placing never goes deeper than a few dozen frames.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from itertools import pairwise
from typing import NamedTuple
from xml.sax.saxutils import escape

from convcalc.analysis import Costing, Entry, Report
from convcalc.spec.step import shape_text

MAX_NEST = 8  # block levels drawn; deeper ones are drawn as boxes
MAX_ENTRIES = 600  # entries drawn at most; past that, blocks are collapsed
MAX_TOP = 120  # top-level nodes drawn; past that, the middle of the chain is left out
ROW_WIDTH = 1150.0  # strip length per row


def to_svg(
    report: Report,
    *,
    depth: int | None = None,
    style: str = "blocks",
    costs: bool = False,
    log_scale: bool = True,
    costing: Costing | None = None,
) -> str:
    """The report as an SVG document: ``style`` "blocks" draws every activation to scale (height
    ∝ spatial size, width ∝ channels, on a log scale unless ``log_scale`` is false); "flow" draws
    labelled boxes with arrows. ``costs`` adds parameters and multiply-adds per box, counted
    as ``costing`` says (batch and convention; torchinfo's for one sample by default)."""
    if style not in ("blocks", "flow"):
        raise ValueError(f"unknown style {style!r}: choose 'blocks' or 'flow'")
    return render_svg(_canvas(report, depth, style, costs, log_scale, costing))


def to_tikz(
    report: Report,
    *,
    depth: int | None = None,
    costs: bool = False,
    costing: Costing | None = None,
) -> str:
    """The report as a LaTeX document (``article`` and ``tikz``, the page cut to the figure)
    drawing what :func:`to_svg` draws in the "flow" style."""
    return render_tikz(_canvas(report, depth, "flow", costs, True, costing))


def _canvas(
    report: Report,
    depth: int | None,
    style: str,
    costs: bool,
    log: bool,
    costing: Costing | None = None,
) -> Canvas:
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
        f"{report.name}: input {shape_text(report.input_shape)} → "
        f"{shape_text(report.output_shape)} · {report.total_params:,} parameters · "
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
    if len(lists) == 1 and not entry.paths > 1:  # sequential, repeat
        times = int(getattr(entry.layer, "times", 1))
        first = lists[0][: len(lists[0]) // times]
        title = entry.name or entry.type
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
        return a.type == b.type and _print(a, prints) == _print(b, prints)

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


def _print(entry: Entry, prints: dict[int, tuple[object, ...]]) -> tuple[object, ...]:
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

KINDS = {
    "conv": ("conv", "conv_transpose"),
    "pool": ("maxpool", "avgpool", "adaptive_avgpool", "adaptive_maxpool"),
    "norm": ("batchnorm", "groupnorm", "instancenorm", "layernorm", "local_response_norm"),
    "activation": (
        *("relu", "relu6", "leaky_relu", "elu", "gelu", "silu", "mish", "hardswish", "prelu"),
        *("hardsigmoid", "sigmoid", "tanh", "softplus", "softmax", "log_softmax"),
    ),
    "linear": ("linear", "embedding"),
    "reshape": (
        *("flatten", "unflatten", "reshape", "permute", "pad", "upsample", "channel_shuffle"),
        "identity",
    ),
    "dropout": ("dropout", "dropout1d", "dropout2d", "dropout3d", "stochastic_depth"),
}
KIND_OF = {t: kind for kind, types in KINDS.items() for t in types}
PALETTE = {  # fill, stroke
    "conv": ("#d4e4f7", "#3a6ea5"),
    "pool": ("#fbdcc0", "#c8702a"),
    "norm": ("#d5edd0", "#4a8f42"),
    "activation": ("#fbeeb0", "#b58d12"),
    "linear": ("#e4d9f2", "#6f52a0"),
    "reshape": ("#d3ecec", "#3a8b8b"),
    "dropout": ("#e6e6e6", "#808080"),
    "block": ("#f5dbe7", "#a04c74"),
    "io": ("#f2f2f2", "#666666"),
}
SLIM = {"norm", "activation", "dropout"}  # narrow boxes: they keep the shape
SHORT = {"batchnorm": "BN", "groupnorm": "GN", "instancenorm": "IN", "layernorm": "LN"}
SHORT |= {"local_response_norm": "LRN", "stochastic_depth": "sdepth", "dropout": "drop"}
SYMBOLS = {"residual": "add", "concat": "cat", "scale": "mul"}
GAP, SLIM_GAP = 24.0, 14.0  # between boxes of a chain
PAD, TITLE, STACK = 8.0, 16.0, 4.0  # frames: padding, title line, offset of the copies behind
R, ARC = 9.0, 12.0  # join circles; spacing of identity arcs
LANE_IN, LANE_GAP = 22.0, 16.0  # from the split to the lanes; between lanes


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
        from convcalc.costs import subtotals

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
        node.w = LANE_IN + max(w for w, _, _ in sizes) + LANE_IN + 2 * R + text_width(out, 10)
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
        return shape_text(entry.output_shape) if entry and entry.type == "concat" else ""

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
        for i, lane in enumerate(node.lanes):
            if i:
                prev = node.lanes[i - 1]
                lane_y += max((n.down for n in prev), default=0.0) + LANE_GAP
                lane_y += max((n.up for n in lane), default=0.0)
            arrow = lane[0].arrow if lane else False
            lead = lane[0].lead if lane else 0.0
            canvas.wires.append(Wire([(split, y), (split, lane_y), (left + lead, lane_y)], arrow))
            end = self.place_chain(canvas, lane, left, lane_y, inner_safe)
            tail = lane[-1].tail if lane else 0.0
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
        symbol = SYMBOLS.get(node.entry.type, "add")
        self.joins.add(symbol)
        tip = f"{node.entry.label}: {shape_text(node.entry.output_shape)}"
        out = self.join_label(node)
        canvas.items.append(Item.join(join, y, R, symbol, out, node.entry.path, tip))
        canvas.items.append(Item.dot(split, y))
        if label and not node.skips:
            canvas.items.append(Item.label(split, top - 5, label, 11, "#555", True, ""))

    # legend ---------------------------------------------------------------------------------

    def legend(self) -> list[tuple[str, str, str]]:
        """(kind, fill, stroke) of every kind drawn, then the joins drawn."""
        shown = [(k, *PALETTE[k]) for k in PALETTE if k in self.kinds and k != "io"]
        names = {"add": "add", "cat": "concat", "mul": "multiply"}
        return shown + [(names[j], "join", j) for j in ("add", "cat", "mul") if j in self.joins]


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
        self.max_size = max((max(s[1:], default=1) for s in shapes), default=1)
        self.max_channels = max((s[0] for s in shapes), default=1)

    def shape(self, node: Node) -> tuple[int, ...]:
        if node.entry is not None:
            return node.entry.output_shape
        return self.report.input_shape if node.title == "input" else self.report.output_shape

    def lines(self, node: Node) -> list[Line]:
        """The labels of a box: what it is, its arguments, its output shape, its costs."""
        entry = node.entry
        shape = Line(shape_text(self.shape(node)), 10.5, False, "#555", "shape")
        if entry is None:
            title = Line(node.title, 11.5, True, "#222", "head")
            return [title] if node.kind == "more" else [title, shape]
        slim = kind(node) in SLIM
        head = entry.name or (SHORT.get(entry.type, entry.type) if slim else entry.type)
        args = entry.description
        if args.startswith(entry.type) and (not entry.name or entry.type in entry.name.lower()):
            args = args[len(entry.type) :].strip()
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
        """Width (channels), height (first spatial size) and depth (second) of an activation."""
        shape = self.shape(node)
        if len(shape) == 1:
            return 9.0, self._px(shape[0], self.max_channels, 110), 0.0
        h = self._px(shape[1], self.max_size, 120)
        d = 0.3 * self._px(shape[2], self.max_size, 120) if len(shape) > 2 else 0.0
        w = 7.0 if kind(node) in SLIM else 3 + self._px(shape[0], self.max_channels, 52)
        return w, h, d

    def _px(self, n: int, most: int, span: float) -> float:
        if self.log:
            return 6 + span * math.log2(max(n, 1)) / math.log2(max(most, 2))
        return max(3.0, span * n / max(most, 1))

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


def _mix(a: str, b: str, t: float) -> str:
    """The colour a fraction ``t`` of the way from ``a`` to ``b`` (#rrggbb)."""
    pa = [int(a[i : i + 2], 16) for i in (1, 3, 5)]
    pb = [int(b[i : i + 2], 16) for i in (1, 3, 5)]
    return "#" + "".join(f"{round(u + (v - u) * t):02x}" for u, v in zip(pa, pb, strict=True))


# --- shapes and the strip --------------------------------------------------------------------

Point = tuple[float, float]


class Rect(NamedTuple):
    x: float
    y: float
    w: float
    h: float
    fill: str
    stroke: str
    radius: float = 0.0
    dash: bool = False


class Poly(NamedTuple):
    points: tuple[Point, ...]
    fill: str
    stroke: str


class Text(NamedTuple):
    x: float
    y: float  # the baseline
    text: str
    size: float
    anchor: str = "middle"  # "start", "middle" or "end"
    bold: bool = False
    colour: str = "#222"


class Circle(NamedTuple):
    x: float
    y: float
    r: float
    fill: str
    stroke: str


class Stroke(NamedTuple):
    points: tuple[Point, ...]
    colour: str
    width: float = 1.4


Shape = Rect | Poly | Text | Circle | Stroke
WIRE = "#6b6b6b"


_NARROW = set("ijl.,:;'|!")
_THIN = set("rtf()[]/ I-")
_WIDE = set("mwMW×→⊕⊗@%⋯—")


def text_width(text: str, size: float, bold: bool = False) -> float:
    """An estimate of the width of ``text`` in a sans-serif font (measured on DejaVu Sans, the
    widest of the usual ones, so that boxes hold their labels)."""
    units = sum(
        0.3
        if c in _NARROW
        else 0.4
        if c in _THIN
        else 0.9
        if c in _WIDE
        else 0.64
        if c.isdigit()
        else 0.7
        if c.isupper()
        else 0.6
        for c in text
    )
    return units * size * (1.1 if bold else 1.0)


def _bounds(shape: Shape) -> tuple[float, float, float, float]:
    if isinstance(shape, Rect):
        return shape.x, shape.y, shape.x + shape.w, shape.y + shape.h
    if isinstance(shape, Circle):
        return shape.x - shape.r, shape.y - shape.r, shape.x + shape.r, shape.y + shape.r
    if isinstance(shape, Text):
        width = text_width(shape.text, shape.size, shape.bold)
        left = shape.x - {"start": 0.0, "middle": 0.5, "end": 1.0}[shape.anchor] * width
        return left, shape.y - 0.8 * shape.size, left + width, shape.y + 0.25 * shape.size
    xs, ys = [p[0] for p in shape.points], [p[1] for p in shape.points]
    return min(xs), min(ys), max(xs), max(ys)


@dataclass
class Item:
    """Shapes drawn together and never cut: a box and its labels, a join, a title. ``path`` is
    the entry it draws (``data-path`` in the SVG), ``tip`` its tooltip."""

    shapes: list[Shape]
    cls: str = ""
    path: str = ""
    tip: str = ""
    x0: float = 0.0
    y0: float = 0.0
    x1: float = 0.0
    y1: float = 0.0

    @classmethod
    def of(cls, shapes: list[Shape], kind: str = "", path: str = "", tip: str = "") -> Item:
        boxes = [_bounds(shape) for shape in shapes]
        x0, y0 = min(b[0] for b in boxes), min(b[1] for b in boxes)
        x1, y1 = max(b[2] for b in boxes), max(b[3] for b in boxes)
        return cls(shapes, kind, path, tip, x0, y0, x1, y1)

    @classmethod
    def label(
        cls, x: float, y: float, text: str, size: float, colour: str, bold: bool, path: str
    ) -> Item:
        return cls.of([Text(x, y, text, size, "start", bold, colour)], "label", path)

    @classmethod
    def dot(cls, x: float, y: float) -> Item:
        return cls.of([Circle(x, y, 2.6, WIRE, WIRE)], "split")

    @classmethod
    def join(
        cls, x: float, y: float, r: float, symbol: str, out: str = "", path: str = "", tip: str = ""
    ) -> Item:
        shapes: list[Shape] = [Circle(x, y, r, "#ffffff", "#444444")]
        arm = r * 0.55
        if symbol == "add":
            shapes += [
                Stroke(((x - arm, y), (x + arm, y)), "#444"),
                Stroke(((x, y - arm), (x, y + arm)), "#444"),
            ]
        elif symbol == "mul":
            a = arm * 0.8
            shapes += [
                Stroke(((x - a, y - a), (x + a, y + a)), "#444"),
                Stroke(((x - a, y + a), (x + a, y - a)), "#444"),
            ]
        else:
            shapes.append(Text(x, y + 4, "C", 11, "middle", True, "#444"))
        if out:
            shapes.append(Text(x + r + 3, y - 5, out, 10, "start", False, "#555"))
        return cls.of(shapes, "join", path, tip)


@dataclass
class Wire:
    """A line from point to point, cut where the strip is; an arrowhead at its end."""

    points: list[Point]
    arrow: bool = True
    tag: str = ""  # an identity arc's label, shown over it
    name: str = ""  # set on identity arcs: shown at both ends where the arc is cut


@dataclass
class Band:
    """A frame (a filled, dashed rectangle), cut where the strip is."""

    x0: float
    y0: float
    x1: float
    y1: float
    fill: str
    stroke: str
    dash: bool = False


@dataclass
class Canvas:
    """Everything drawn, on one long strip around the main line y = 0, and the places where the
    strip may be cut into rows (x, how nested)."""

    title: str
    notes: list[str]
    legend: list[tuple[str, str, str]] = field(default_factory=list)
    items: list[Item] = field(default_factory=list)
    wires: list[Wire] = field(default_factory=list)
    bands: list[Band] = field(default_factory=list)
    cuts: list[tuple[float, int]] = field(default_factory=list)
    row_width: float = ROW_WIDTH


def compact(n: int) -> str:
    """12,345,678 → ``12.3M``: three significant digits."""
    for unit, size in (("G", 10**9), ("M", 10**6), ("k", 10**3)):
        if n >= size:
            value = n / size
            return f"{value:.3g}{unit}" if value < 1000 else f"{value:,.0f}{unit}"
    return str(n)


# --- rows ------------------------------------------------------------------------------------

MARGIN, ROW_GAP, TURN = 20.0, 34.0, 12.0
Piece = tuple[list[Point], bool]  # a wire's part within a row, with its arrowhead or not


@dataclass
class Row:
    """The strip from ``a`` to ``b``, drawn shifted by (dx, dy); ``sides`` says which of each
    band's left and right borders are within the row."""

    a: float
    b: float
    items: list[Item]
    wires: list[Piece]
    bands: list[tuple[Band, bool, bool]]
    top: float = 0.0
    bottom: float = 0.0
    dx: float = 0.0
    dy: float = 0.0


def rows(canvas: Canvas, start: float) -> list[Row]:
    """The strip cut into rows, each placed below the last from ``start`` down."""
    left = min(item.x0 for item in canvas.items)
    right = max(item.x1 for item in canvas.items)
    bounds = _bounds_of_rows(canvas, left, right)
    out = []
    y = start
    for i, (a, b) in enumerate(pairwise(bounds)):
        row = _row(canvas, a, b, last=i == len(bounds) - 2)
        row.dx, row.dy = MARGIN + TURN - a, y - row.top
        y += row.bottom - row.top + ROW_GAP
        out.append(row)
    return out


def _bounds_of_rows(canvas: Canvas, left: float, right: float) -> list[float]:
    """Where to cut: as late as a row allows, at the least nested place in its last 60%."""
    spans = sorted((item.x0 - 3, item.x1 + 3) for item in canvas.items)
    blocked: list[list[float]] = []
    for x0, x1 in spans:
        if blocked and x0 <= blocked[-1][1]:
            blocked[-1][1] = max(blocked[-1][1], x1)
        else:
            blocked.append([x0, x1])
    cuts = sorted(
        (x, level)
        for x, level in set(canvas.cuts)
        if not any(x0 < x < x1 for x0, x1 in blocked[_first_above(blocked, x) :][:1])
    )
    bounds, width = [left], canvas.row_width
    while right - bounds[-1] > width * 1.2:
        here = bounds[-1]
        fits = [c for c in cuts if here < c[0] <= here + width]
        late = [c for c in fits if c[0] >= here + 0.4 * width] or fits
        if not late:
            later = [c for c in cuts if c[0] > here]
            if not later:
                break
            late = later[:1]
        bounds.append(min(late, key=lambda c: (c[1], -c[0]))[0])
    return [*bounds, right]


def _first_above(blocked: list[list[float]], x: float) -> int:
    """The index of the last blocked span starting before ``x`` (0 if none)."""
    lo, hi = 0, len(blocked)
    while lo < hi:
        mid = (lo + hi) // 2
        if blocked[mid][0] < x:
            lo = mid + 1
        else:
            hi = mid
    return max(0, lo - 1)


def _row(canvas: Canvas, a: float, b: float, last: bool) -> Row:
    items = [i for i in canvas.items if a <= (i.x0 + i.x1) / 2 < b or (last and i.x1 <= b + 1)]
    items = [i for i in items if (i.x0 + i.x1) / 2 >= a]
    wires: list[Piece] = []
    labels: list[Item] = []
    for wire in canvas.wires:
        if wire.name:
            pieces, tags = _arc(canvas, wire, a, b)
            wires += pieces
            labels += tags
        else:
            wires += _clip(wire, a, b)
    bands = [
        (
            Band(max(n.x0, a), n.y0, min(n.x1, b), n.y1, n.fill, n.stroke, n.dash),
            n.x0 >= a,
            n.x1 <= b,
        )
        for n in canvas.bands
        if n.x0 < b and n.x1 > a
    ]
    items += labels
    ys = [y for i in items for y in (i.y0, i.y1)] + [y for n, _, _ in bands for y in (n.y0, n.y1)]
    ys += [p[1] for points, _ in wires for p in points]
    return Row(a, b, items, wires, bands, min(ys), max(ys))


STUB = 30.0  # the length of a cut arc's ends


def _arc(canvas: Canvas, wire: Wire, a: float, b: float) -> tuple[list[Piece], list[Item]]:
    """An identity arc within a row: whole, with its label over it, or where the row cuts it,
    its ends alone (each named, just over what is below it)."""
    (sx, main), (_, top), (jx, _), end = wire.points
    if a <= sx and jx <= b:
        tags = [Item.label(sx, top - 5, wire.tag, 11, "#555", True, "")] if wire.tag else []
        return [(wire.points, True)], tags
    pieces: list[Piece] = []
    tags = []
    length = max(STUB, text_width(wire.name, 10) + 8)
    if a <= sx < b:
        hi = min(b, sx + length)
        y = _clear(canvas, wire, sx - 1, hi, main)
        pieces.append(([(sx, main), (sx, y), (hi, y)], True))
        tags.append(Item.label(sx + 3, y - 4, wire.name, 10, "#555", False, ""))
    if a < jx <= b:
        lo = max(a, jx - length)
        y = _clear(canvas, wire, lo, jx + 1, main)
        pieces.append(([(lo, y), (jx, y), end], True))
        tags.append(Item.label(lo, y - 4, wire.name, 10, "#555", False, ""))
    return pieces, tags


def _clear(canvas: Canvas, wire: Wire, lo: float, hi: float, main: float) -> float:
    """A height just over every box, label and wire between x = lo and x = hi."""
    tops = [main - R - 4]
    tops += [i.y0 for i in canvas.items if i.x1 > lo and i.x0 < hi]
    tops += [y for w in canvas.wires if w is not wire for x, y in w.points if lo <= x <= hi]
    return min(tops) - 14


def _clip(wire: Wire, a: float, b: float) -> list[Piece]:
    """The parts of a wire between x = a and x = b."""
    pieces: list[list[Point]] = []
    for p, q in pairwise(wire.points):
        (px, py), (qx, qy) = p, q
        lo, hi = max(a, min(px, qx)), min(b, max(px, qx))
        if lo > hi or (px == qx and not a <= px <= b):
            continue
        if px == qx:
            s, t = p, q
        else:
            ends = [(x, py + (qy - py) * (x - px) / (qx - px)) for x in (lo, hi)]
            s, t = ends if px < qx else ends[::-1]
        if pieces and pieces[-1][-1] == s:
            pieces[-1].append(t)
        else:
            pieces.append([s, t])
    out = [(piece, False) for piece in pieces if piece[0] != piece[-1]]
    if out and wire.arrow and out[-1][0][-1] == wire.points[-1]:
        out[-1] = (out[-1][0], True)
    return out


def _connectors(rows_: list[Row]) -> list[Wire]:
    """The main line from the end of each row to the start of the next, round the gap."""
    wires = []
    for row, nxt in pairwise(rows_):
        x0, y0 = row.b + row.dx, row.dy
        x1, y1 = nxt.a + nxt.dx, nxt.dy
        mid = (row.bottom + row.dy + nxt.top + nxt.dy) / 2
        points = [(x0, y0), (x0 + TURN, y0), (x0 + TURN, mid), (x1 - TURN, mid), (x1 - TURN, y1)]
        wires.append(Wire([*points, (x1, y1)], False))
    return wires


# --- header ----------------------------------------------------------------------------------


def _header(canvas: Canvas) -> tuple[list[Item], float, float]:
    """The title, notes and legend as items; their height and width."""
    items = [Item.of([Text(MARGIN, 30, canvas.title, 16, "start", True, "#222")])]
    y = 30.0
    for note in canvas.notes:
        y += 18
        items.append(Item.of([Text(MARGIN, y, note, 12, "start", False, "#a0522d")]))
    y += 26
    x = MARGIN
    for name, fill, stroke in canvas.legend:
        if fill == "join":
            item = Item.join(x + 7, y - 4, 6.5, stroke)
            item.cls = "legend"
            items.append(item)
        else:
            items.append(Item.of([Rect(x, y - 10, 16, 11, fill, stroke, 2.0)], "legend"))
        items.append(Item.of([Text(x + 21, y, name, 11.5, "start", False, "#333")], "legend"))
        x += 21 + text_width(name, 11.5) + 18
    width = max(item.x1 for item in items) + MARGIN
    return items, y + 12, width


# --- SVG -------------------------------------------------------------------------------------


def _n(value: float) -> str:
    return f"{value:.1f}".removesuffix(".0")


def _attr(text: str) -> str:
    return escape(text, {'"': "&quot;"})


def _svg_shape(shape: Shape) -> str:
    if isinstance(shape, Rect):
        dash = ' stroke-dasharray="4 3"' if shape.dash else ""
        return (
            f'<rect x="{_n(shape.x)}" y="{_n(shape.y)}" width="{_n(shape.w)}" '
            f'height="{_n(shape.h)}" rx="{_n(shape.radius)}" fill="{shape.fill}" '
            f'stroke="{shape.stroke}" stroke-width="1.2"{dash}/>'
        )
    if isinstance(shape, Text):
        weight = ' font-weight="bold"' if shape.bold else ""
        return (
            f'<text x="{_n(shape.x)}" y="{_n(shape.y)}" font-size="{_n(shape.size)}" '
            f'text-anchor="{shape.anchor}" fill="{shape.colour}"{weight}>'
            f"{escape(shape.text)}</text>"
        )
    if isinstance(shape, Circle):
        return (
            f'<circle cx="{_n(shape.x)}" cy="{_n(shape.y)}" r="{_n(shape.r)}" '
            f'fill="{shape.fill}" stroke="{shape.stroke}" stroke-width="1.3"/>'
        )
    points = " ".join(f"{_n(x)},{_n(y)}" for x, y in shape.points)
    if isinstance(shape, Poly):
        return (
            f'<polygon points="{points}" fill="{shape.fill}" stroke="{shape.stroke}" '
            'stroke-width="1" stroke-linejoin="round"/>'
        )
    return (
        f'<polyline points="{points}" fill="none" stroke="{shape.colour}" '
        f'stroke-width="{_n(shape.width)}" stroke-linecap="round"/>'
    )


def _svg_item(item: Item) -> str:
    path = f' data-path="{_attr(item.path)}"' if item.path else ""
    tip = f"<title>{escape(item.tip)}</title>" if item.tip else ""
    shapes = "".join(_svg_shape(shape) for shape in item.shapes)
    return f'<g class="{item.cls}"{path}>{tip}{shapes}</g>'


def _svg_wire(points: list[Point], arrow: bool) -> str:
    """A path through the points, its corners rounded."""
    d = [f"M{_n(points[0][0])},{_n(points[0][1])}"]
    for (ax, ay), (bx, by), (cx, cy) in zip(points, points[1:], points[2:], strict=False):
        r = min(6.0, math.dist((ax, ay), (bx, by)) / 2, math.dist((bx, by), (cx, cy)) / 2)
        ux, uy = _unit(ax, ay, bx, by)
        vx, vy = _unit(bx, by, cx, cy)
        d.append(f"L{_n(bx - ux * r)},{_n(by - uy * r)}")
        d.append(f"Q{_n(bx)},{_n(by)} {_n(bx + vx * r)},{_n(by + vy * r)}")
    d.append(f"L{_n(points[-1][0])},{_n(points[-1][1])}")
    marker = ' marker-end="url(#convcalc-arrow)"' if arrow else ""
    return f'<path d="{" ".join(d)}" fill="none" stroke="{WIRE}" stroke-width="1.3"{marker}/>'


def _unit(ax: float, ay: float, bx: float, by: float) -> Point:
    length = math.dist((ax, ay), (bx, by)) or 1.0
    return (bx - ax) / length, (by - ay) / length


def _svg_band(band: Band, left: bool, right: bool) -> str:
    x0, y0, x1, y1 = band.x0, band.y0, band.x1, band.y1
    dash = ' stroke-dasharray="5 3"' if band.dash else ""
    sides = [((x0, y0), (x1, y0)), ((x0, y1), (x1, y1))]
    sides += [((x0, y0), (x0, y1))] * left + [((x1, y0), (x1, y1))] * right
    lines = "".join(
        f'<line x1="{_n(a[0])}" y1="{_n(a[1])}" x2="{_n(b[0])}" y2="{_n(b[1])}"/>' for a, b in sides
    )
    return (
        f'<rect x="{_n(x0)}" y="{_n(y0)}" width="{_n(x1 - x0)}" height="{_n(y1 - y0)}" '
        f'fill="{band.fill}"/><g stroke="{band.stroke}" stroke-width="1"{dash}>{lines}</g>'
    )


def _page(canvas: Canvas) -> tuple[list[Item], list[Row], list[Wire], float, float]:
    header, top, width = _header(canvas)
    placed = rows(canvas, top + 20)
    width = max([width, *(r.b + r.dx + TURN + MARGIN for r in placed)])
    height = placed[-1].bottom + placed[-1].dy + MARGIN
    return header, placed, _connectors(placed), width, height


def render_svg(canvas: Canvas) -> str:
    """The canvas as a standalone SVG document."""
    header, placed, connectors, width, height = _page(canvas)
    out = [
        '<svg xmlns="http://www.w3.org/2000/svg" '
        f'width="{math.ceil(width)}" height="{math.ceil(height)}" '
        f'viewBox="0 0 {math.ceil(width)} {math.ceil(height)}" font-family="sans-serif" '
        'role="img" class="convcalc-figure">',
        f"<title>{escape(canvas.title)}</title>",
        '<defs><marker id="convcalc-arrow" viewBox="0 0 10 10" refX="9" refY="5" '
        'markerWidth="7" markerHeight="7" orient="auto-start-reverse">'
        f'<path d="M0,1 L9,5 L0,9 z" fill="{WIRE}"/></marker></defs>',
        '<rect width="100%" height="100%" fill="#ffffff"/>',
        *(_svg_item(item) for item in header),
        *(_svg_wire(wire.points, wire.arrow) for wire in connectors),
    ]
    for row in placed:
        out.append(f'<g transform="translate({_n(row.dx)},{_n(row.dy)})">')
        out += [_svg_band(band, left, right) for band, left, right in row.bands]
        out += [_svg_wire(points, arrow) for points, arrow in row.wires]
        out += [_svg_item(item) for item in row.items]
        out.append("</g>")
    out.append("</svg>\n")
    return "\n".join(out)


# --- TikZ ------------------------------------------------------------------------------------


class _Tikz:
    """TikZ commands for shapes, with the colours they use defined once."""

    def __init__(self) -> None:
        self.colours: dict[str, str] = {}

    def colour(self, hex_: str) -> str:
        hex_ = hex_.lstrip("#").upper()
        if len(hex_) == 3:
            hex_ = "".join(c * 2 for c in hex_)
        return self.colours.setdefault(hex_, f"cc{len(self.colours)}")

    def shape(self, shape: Shape) -> str:
        if isinstance(shape, Rect):
            style = f"fill={self.colour(shape.fill)}, draw={self.colour(shape.stroke)}"
            style += f", rounded corners={_n(shape.radius * 0.75)}pt" + ", dashed" * shape.dash
            corner = f"({_n(shape.x + shape.w)},{_n(shape.y + shape.h)})"
            return f"\\filldraw[{style}] {_at(shape.x, shape.y)} rectangle {corner};"
        if isinstance(shape, Text):
            from convcalc.explain import tex_text

            anchor = {"start": "base west", "middle": "base", "end": "base east"}[shape.anchor]
            size = next(cmd for limit, cmd in _TEX_SIZES if shape.size >= limit)
            font = f"\\sffamily{size}" + "\\bfseries" * shape.bold
            text = tex_text(shape.text.replace("⋯", "…"))
            style = f"anchor={anchor}, inner sep=0pt, font={font}, text={self.colour(shape.colour)}"
            return f"\\node[{style}] at {_at(shape.x, shape.y)} {{{text}}};"
        if isinstance(shape, Circle):
            style = f"fill={self.colour(shape.fill)}, draw={self.colour(shape.stroke)}"
            radius = f"circle[radius={_n(shape.r * 0.75)}pt]"
            return f"\\filldraw[{style}] {_at(shape.x, shape.y)} {radius};"
        points = " -- ".join(_at(x, y) for x, y in shape.points)
        if isinstance(shape, Poly):
            style = f"fill={self.colour(shape.fill)}, draw={self.colour(shape.stroke)}"
            return f"\\filldraw[{style}] {points} -- cycle;"
        return (
            f"\\draw[{self.colour(shape.colour)}, line width={_n(shape.width * 0.75)}pt] {points};"
        )

    def wire(self, points: list[Point], arrow: bool) -> str:
        path = " -- ".join(f"({_n(x)},{_n(y)})" for x, y in points)
        tip = ", -stealth" if arrow else ""
        return f"\\draw[{self.colour(WIRE)}, line width=0.9pt, rounded corners=3pt{tip}] {path};"

    def band(self, band: Band, left: bool, right: bool) -> str:
        x0, y0, x1, y1 = (_n(v) for v in (band.x0, band.y0, band.x1, band.y1))
        out = f"\\fill[{self.colour(band.fill)}] ({x0},{y0}) rectangle ({x1},{y1});"
        style = f"{self.colour(band.stroke)}" + ", dashed" * band.dash
        out += f"\n\\draw[{style}] ({x0},{y0}) -- ({x1},{y0}) ({x0},{y1}) -- ({x1},{y1});"
        for shown, x in ((left, x0), (right, x1)):
            if shown:
                out += f"\n\\draw[{style}] ({x},{y0}) -- ({x},{y1});"
        return out


def _at(x: float, y: float) -> str:
    return f"({_n(x)},{_n(y)})"


_TEX_SIZES = ((15, "\\large"), (12, "\\small"), (10.5, "\\footnotesize"), (0, "\\scriptsize"))


def render_tikz(canvas: Canvas) -> str:
    """The canvas as a LaTeX document whose page is the figure (pdflatex, tikz only)."""
    header, placed, connectors, width, height = _page(canvas)
    tikz = _Tikz()
    body = [f"\\useasboundingbox (0,0) rectangle ({_n(width)},{_n(height)});"]
    body += [tikz.shape(shape) for item in header for shape in item.shapes]
    body += [tikz.wire(wire.points, wire.arrow) for wire in connectors]
    for row in placed:
        body.append(f"\\begin{{scope}}[shift={{({_n(row.dx)},{_n(row.dy)})}}]")
        body += [tikz.band(band, left, right) for band, left, right in row.bands]
        body += [tikz.wire(points, arrow) for points, arrow in row.wires]
        body += [tikz.shape(shape) for item in row.items for shape in item.shapes]
        body.append("\\end{scope}")
    colours = [f"\\definecolor{{{name}}}{{HTML}}{{{hex_}}}" for hex_, name in tikz.colours.items()]
    return "\n".join(
        [
            "\\documentclass{article}",
            "\\usepackage{tikz}",
            *colours,
            "\\pagestyle{empty}",
            "\\newsavebox\\convcalcfigure",
            "\\begin{document}",
            "\\begin{lrbox}{\\convcalcfigure}%",
            "\\begin{tikzpicture}[x=0.75pt, y=-0.75pt, line join=round]",
            *body,
            "\\end{tikzpicture}%",
            "\\end{lrbox}%",
            "\\pdfpagewidth=\\wd\\convcalcfigure",
            "\\pdfpageheight=\\dimexpr\\ht\\convcalcfigure+\\dp\\convcalcfigure\\relax",
            "\\hoffset=-1in \\voffset=-1in",
            "\\shipout\\box\\convcalcfigure",
            "\\end{document}",
            "",
        ]
    )
