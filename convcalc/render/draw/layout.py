"""The layout: the shapes drawn, the long strip they are placed on, and its cutting into rows.

- Shapes: :class:`Rect`, :class:`Poly`, :class:`Text`, :class:`Circle` and :class:`Stroke`, all
  a renderer draws, and :func:`text_width`, the estimate every box is sized by.
- The strip: :class:`Item` (shapes drawn together and never cut: a box and its labels, a join),
  :class:`Wire` and :class:`Band` (lines and frames, cut where the strip is), on a
  :class:`Canvas` around the main line y = 0, as
  :class:`~convcalc.render.draw.figure.Painter` places them.
- Rows: :func:`rows` cuts the strip where only wires cross (between the boxes of a chain), the
  main line continuing below; an identity arc cut by a row keeps its two ends, each named.
- The header (title, notes, legend) and :func:`page`: the header, the rows placed one below the
  other and the wires joining them, which :mod:`~convcalc.render.draw.svg` and
  :mod:`~convcalc.render.draw.tikz` draw.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import pairwise
from typing import NamedTuple

from convcalc.escape import terminal

ROW_WIDTH = 1150.0  # strip length per row
R = 9.0  # the radius of join circles: cut arcs keep clear of them

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
    widest of the usual ones, so that boxes hold their labels), as the writers show it: a
    control character as its escape (``\\x1b``, :mod:`convcalc.escape`)."""
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
        for c in terminal(text)
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
        elif symbol == "sub":  # ⊖
            shapes.append(Stroke(((x - arm, y), (x + arm, y)), "#444"))
        elif symbol in ("avg", "max", "min"):
            size = round(r * 0.8, 1)  # the word inside the circle
            shapes.append(Text(x, y + size * 0.35, symbol, size, "middle", True, "#444"))
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
    # the frames too: a frame ending the figure (a repeat of residuals) keeps its right border
    left = min([item.x0 for item in canvas.items] + [band.x0 for band in canvas.bands])
    right = max([item.x1 for item in canvas.items] + [band.x1 for band in canvas.bands])
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


# --- the page --------------------------------------------------------------------------------


def page(canvas: Canvas) -> tuple[list[Item], list[Row], list[Wire], float, float]:
    """The header's items, the rows placed, the wires joining them, the width and height."""
    header, top, width = _header(canvas)
    placed = rows(canvas, top + 20)
    width = max([width, *(r.b + r.dx + TURN + MARGIN for r in placed)])
    height = placed[-1].bottom + placed[-1].dy + MARGIN
    return header, placed, _connectors(placed), width, height


def num(value: float) -> str:
    """A coordinate as written: one decimal, none for a whole number."""
    return f"{value:.1f}".removesuffix(".0")
