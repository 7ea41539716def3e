"""SVG: a canvas as a standalone SVG document (:func:`render_svg`).

Every item is a ``<g>`` of class "box", "join", "label" and so on, with the entry's path as
``data-path`` and its description as a ``<title>`` tooltip; wires are paths with rounded corners
ending in the arrowhead marker, whose id (:data:`ARROW_ID` unless told) is the document's one id.
Every text (names, labels, tooltips, paths) is written through :func:`convcalc.escape.xml`, so
the document is well-formed XML whatever the names hold.
"""

from __future__ import annotations

import math
import re

from convcalc.escape import xml
from convcalc.render.draw.layout import (
    WIRE,
    Band,
    Canvas,
    Circle,
    Item,
    Point,
    Poly,
    Rect,
    Shape,
    Text,
    num,
    page,
)

ARROW_ID = "convcalc-arrow"  # the arrowhead marker's id
_ID = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]*")


def _svg_shape(shape: Shape) -> str:
    if isinstance(shape, Rect):
        dash = ' stroke-dasharray="4 3"' if shape.dash else ""
        return (
            f'<rect x="{num(shape.x)}" y="{num(shape.y)}" width="{num(shape.w)}" '
            f'height="{num(shape.h)}" rx="{num(shape.radius)}" fill="{shape.fill}" '
            f'stroke="{shape.stroke}" stroke-width="1.2"{dash}/>'
        )
    if isinstance(shape, Text):
        weight = ' font-weight="bold"' if shape.bold else ""
        return (
            f'<text x="{num(shape.x)}" y="{num(shape.y)}" font-size="{num(shape.size)}" '
            f'text-anchor="{shape.anchor}" fill="{shape.colour}"{weight}>'
            f"{xml(shape.text)}</text>"
        )
    if isinstance(shape, Circle):
        return (
            f'<circle cx="{num(shape.x)}" cy="{num(shape.y)}" r="{num(shape.r)}" '
            f'fill="{shape.fill}" stroke="{shape.stroke}" stroke-width="1.3"/>'
        )
    points = " ".join(f"{num(x)},{num(y)}" for x, y in shape.points)
    if isinstance(shape, Poly):
        return (
            f'<polygon points="{points}" fill="{shape.fill}" stroke="{shape.stroke}" '
            'stroke-width="1" stroke-linejoin="round"/>'
        )
    return (
        f'<polyline points="{points}" fill="none" stroke="{shape.colour}" '
        f'stroke-width="{num(shape.width)}" stroke-linecap="round"/>'
    )


def _svg_item(item: Item) -> str:
    path = f' data-path="{xml(item.path)}"' if item.path else ""
    tip = f"<title>{xml(item.tip)}</title>" if item.tip else ""
    shapes = "".join(_svg_shape(shape) for shape in item.shapes)
    return f'<g class="{item.cls}"{path}>{tip}{shapes}</g>'


def _svg_wire(points: list[Point], arrow: bool, arrow_id: str) -> str:
    """A path through the points, its corners rounded."""
    d = [f"M{num(points[0][0])},{num(points[0][1])}"]
    for (ax, ay), (bx, by), (cx, cy) in zip(points, points[1:], points[2:], strict=False):
        r = min(6.0, math.dist((ax, ay), (bx, by)) / 2, math.dist((bx, by), (cx, cy)) / 2)
        ux, uy = _unit(ax, ay, bx, by)
        vx, vy = _unit(bx, by, cx, cy)
        d.append(f"L{num(bx - ux * r)},{num(by - uy * r)}")
        d.append(f"Q{num(bx)},{num(by)} {num(bx + vx * r)},{num(by + vy * r)}")
    d.append(f"L{num(points[-1][0])},{num(points[-1][1])}")
    marker = f' marker-end="url(#{arrow_id})"' if arrow else ""
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
        f'<line x1="{num(a[0])}" y1="{num(a[1])}" x2="{num(b[0])}" y2="{num(b[1])}"/>'
        for a, b in sides
    )
    return (
        f'<rect x="{num(x0)}" y="{num(y0)}" width="{num(x1 - x0)}" height="{num(y1 - y0)}" '
        f'fill="{band.fill}"/><g stroke="{band.stroke}" stroke-width="1"{dash}>{lines}</g>'
    )


def render_svg(canvas: Canvas, *, arrow_id: str = ARROW_ID) -> str:
    """The canvas as a standalone SVG document; ``arrow_id`` is the id of its arrowhead marker,
    to be unique among the figures of one HTML page."""
    if not _ID.fullmatch(arrow_id):
        raise ValueError(f"arrow_id {arrow_id!r} is not an XML name (a letter, then a-z0-9_.-)")
    header, placed, connectors, width, height = page(canvas)
    out = [
        '<svg xmlns="http://www.w3.org/2000/svg" '
        f'width="{math.ceil(width)}" height="{math.ceil(height)}" '
        f'viewBox="0 0 {math.ceil(width)} {math.ceil(height)}" font-family="sans-serif" '
        'role="img" class="convcalc-figure">',
        f"<title>{xml(canvas.title)}</title>",
        f'<defs><marker id="{arrow_id}" viewBox="0 0 10 10" refX="9" refY="5" '
        'markerWidth="7" markerHeight="7" orient="auto-start-reverse">'
        f'<path d="M0,1 L9,5 L0,9 z" fill="{WIRE}"/></marker></defs>',
        '<rect width="100%" height="100%" fill="#ffffff"/>',
        *(_svg_item(item) for item in header),
        *(_svg_wire(wire.points, wire.arrow, arrow_id) for wire in connectors),
    ]
    for row in placed:
        out.append(f'<g transform="translate({num(row.dx)},{num(row.dy)})">')
        out += [_svg_band(band, left, right) for band, left, right in row.bands]
        out += [_svg_wire(points, arrow, arrow_id) for points, arrow in row.wires]
        out += [_svg_item(item) for item in row.items]
        out.append("</g>")
    out.append("</svg>\n")
    return "\n".join(out)
