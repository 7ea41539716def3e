"""Network diagrams drawn by convcalc itself: a :class:`~convcalc.analysis.Report` as SVG or TikZ.

Three steps, each pure strings and numbers (stdlib only), each in its own module:

1. :mod:`convcalc.render.draw.figure`: the report's entries as nodes. A leaf is a box; a residual,
   concat or scale block runs its non-empty paths as parallel lanes joining at ⊕, "C" or ⊗, its
   identity paths drawn as arcs over them; a sequential or repeat block is a frame around its
   children (a repeat's first repetition only, "×N"), and so are runs of identical consecutive
   blocks. Blocks nested ``depth`` levels deep are drawn as one box, as ``convcalc shape
   --depth`` hides their rows. There too: the palette (a box's colour is its layer type's
   ``category`` in :data:`convcalc.layers.registry.KINDS`), and the ``Painter`` measuring every
   node and placing it on a canvas.
2. :mod:`convcalc.render.draw.layout`: the shapes, and the canvas: one long strip around a main
   line at y = 0. Boxes and labels are never cut; wires and frames are, so the strip is cut into
   rows where only wires cross (between the boxes of a chain), the main line continuing below; a
   header of title, notes and legend above them.
3. The rendering of the rows: :mod:`convcalc.render.draw.svg` (:func:`render_svg`) or
   :mod:`convcalc.render.draw.tikz` (:func:`render_tikz`).

The figure's nesting is bounded: a spec nested 500 deep, or 20,000 layers long, is drawn
collapsed to :data:`MAX_NEST` levels and :data:`MAX_ENTRIES` entries (the figure says so), so the
recursion of measuring and placing never goes deeper than a few dozen frames.

This module is the public API: :func:`to_svg` and :func:`to_tikz`, and the palette
(:data:`KIND_OF`, :data:`PALETTE`) that the HTML report colours its table with.
"""

from __future__ import annotations

from convcalc.records import Costing, Report
from convcalc.render.draw.figure import (
    KIND_OF,
    MAX_ENTRIES,
    MAX_NEST,
    MAX_TOP,
    PALETTE,
    make_canvas,
)
from convcalc.render.draw.layout import Canvas
from convcalc.render.draw.svg import ARROW_ID, render_svg
from convcalc.render.draw.tikz import render_tikz

__all__ = [
    "ARROW_ID",
    "KIND_OF",
    "MAX_ENTRIES",
    "MAX_NEST",
    "MAX_TOP",
    "PALETTE",
    "Canvas",
    "make_canvas",
    "render_svg",
    "render_tikz",
    "to_svg",
    "to_tikz",
]


def to_svg(
    report: Report,
    *,
    depth: int | None = None,
    style: str = "blocks",
    costs: bool = False,
    log_scale: bool = True,
    costing: Costing | None = None,
    arrow_id: str = ARROW_ID,
) -> str:
    """The report as an SVG document: ``style`` "blocks" draws every activation to scale (its
    area by its number of values, on a log scale unless ``log_scale`` is false, its aspect by
    its shape: :func:`~convcalc.render.draw.figure.tensor_size`); "flow" draws labelled boxes
    with arrows. ``costs`` adds parameters and multiply-adds per box, counted
    as ``costing`` says (batch and convention; convcalc's for one sample by default).
    ``arrow_id`` is the id of the arrowhead marker: give each figure of one HTML page its own."""
    if style not in ("blocks", "flow"):
        raise ValueError(f"unknown style {style!r}: choose 'blocks' or 'flow'")
    canvas = make_canvas(report, depth, style, costs, log_scale, costing)
    return render_svg(canvas, arrow_id=arrow_id)


def to_tikz(
    report: Report,
    *,
    depth: int | None = None,
    costs: bool = False,
    costing: Costing | None = None,
) -> str:
    """The report as a LaTeX document (``article`` and ``tikz``, the page cut to the figure)
    drawing what :func:`to_svg` draws in the "flow" style."""
    return render_tikz(make_canvas(report, depth, "flow", costs, True, costing))
