"""TikZ: a canvas as a LaTeX document whose page is the figure (:func:`render_tikz`).

The same page as :mod:`~convcalc.render.draw.svg` draws, in TikZ's coordinates (1 unit = 0.75pt, y
downwards), every colour defined once; pdflatex with the tikz package alone builds it.
"""

from __future__ import annotations

from convcalc.render.draw.layout import (
    WIRE,
    Band,
    Canvas,
    Circle,
    Point,
    Poly,
    Rect,
    Shape,
    Text,
    num,
    page,
)
from convcalc.tex import tex_text


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
            style += f", rounded corners={num(shape.radius * 0.75)}pt" + ", dashed" * shape.dash
            corner = f"({num(shape.x + shape.w)},{num(shape.y + shape.h)})"
            return f"\\filldraw[{style}] {_at(shape.x, shape.y)} rectangle {corner};"
        if isinstance(shape, Text):
            anchor = {"start": "base west", "middle": "base", "end": "base east"}[shape.anchor]
            size = next(cmd for limit, cmd in _TEX_SIZES if shape.size >= limit)
            font = f"\\sffamily{size}" + "\\bfseries" * shape.bold
            text = tex_text(shape.text.replace("⋯", "…"))
            style = f"anchor={anchor}, inner sep=0pt, font={font}, text={self.colour(shape.colour)}"
            return f"\\node[{style}] at {_at(shape.x, shape.y)} {{{text}}};"
        if isinstance(shape, Circle):
            style = f"fill={self.colour(shape.fill)}, draw={self.colour(shape.stroke)}"
            radius = f"circle[radius={num(shape.r * 0.75)}pt]"
            return f"\\filldraw[{style}] {_at(shape.x, shape.y)} {radius};"
        points = " -- ".join(_at(x, y) for x, y in shape.points)
        if isinstance(shape, Poly):
            style = f"fill={self.colour(shape.fill)}, draw={self.colour(shape.stroke)}"
            return f"\\filldraw[{style}] {points} -- cycle;"
        return (
            f"\\draw[{self.colour(shape.colour)}, line width={num(shape.width * 0.75)}pt] {points};"
        )

    def wire(self, points: list[Point], arrow: bool) -> str:
        path = " -- ".join(f"({num(x)},{num(y)})" for x, y in points)
        tip = ", -stealth" if arrow else ""
        return f"\\draw[{self.colour(WIRE)}, line width=0.9pt, rounded corners=3pt{tip}] {path};"

    def band(self, band: Band, left: bool, right: bool) -> str:
        x0, y0, x1, y1 = (num(v) for v in (band.x0, band.y0, band.x1, band.y1))
        out = f"\\fill[{self.colour(band.fill)}] ({x0},{y0}) rectangle ({x1},{y1});"
        style = f"{self.colour(band.stroke)}" + ", dashed" * band.dash
        out += f"\n\\draw[{style}] ({x0},{y0}) -- ({x1},{y0}) ({x0},{y1}) -- ({x1},{y1});"
        for shown, x in ((left, x0), (right, x1)):
            if shown:
                out += f"\n\\draw[{style}] ({x},{y0}) -- ({x},{y1});"
        return out


def _at(x: float, y: float) -> str:
    return f"({num(x)},{num(y)})"


_TEX_SIZES = ((15, "\\large"), (12, "\\small"), (10.5, "\\footnotesize"), (0, "\\scriptsize"))


def render_tikz(canvas: Canvas) -> str:
    """The canvas as a LaTeX document whose page is the figure (pdflatex, tikz only)."""
    header, placed, connectors, width, height = page(canvas)
    tikz = _Tikz()
    body = [f"\\useasboundingbox (0,0) rectangle ({num(width)},{num(height)});"]
    body += [tikz.shape(shape) for item in header for shape in item.shapes]
    body += [tikz.wire(wire.points, wire.arrow) for wire in connectors]
    for row in placed:
        body.append(f"\\begin{{scope}}[shift={{({num(row.dx)},{num(row.dy)})}}]")
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
