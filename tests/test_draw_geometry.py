"""The geometry of ``convcalc draw``'s figures, read back from the SVG with ElementTree.

- A join (⊕, C, ⊗) lies strictly inside every frame drawn around it, and a frame that ends the
  figure has both its side borders (a repeat of residuals last used to end on its ⊕, its right
  border left out); Chromium's rendering shows that border.
- One sizing rule for tensors of every rank: the drawn area (front, top and side faces) is a
  function of the value count alone, growing with it, proportional to it on the linear scale;
  the aspect is the shape's, so a permute's axes are the flatten's swapped, and a permute
  carries its glyph.
"""

from __future__ import annotations

import math
import re
import struct
import xml.etree.ElementTree as ET
import zlib
from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest

import convcalc
from convcalc.layers.registry import KINDS
from convcalc.render.draw import to_svg
from tests.test_draw import _unfilter, needs_chromium, screenshot, svg_size

SVG = "{http://www.w3.org/2000/svg}"
FRAME_STROKE = "#9a9a9a"


@dataclass
class Frame:
    """A frame as drawn: its rectangle on the page, and which side borders are drawn."""

    x0: float
    y0: float
    x1: float
    y1: float
    left: bool
    right: bool


@dataclass
class Join:
    x: float
    y: float
    r: float
    path: str


@dataclass
class Box:
    """A tensor drawn to scale: its front face, the other faces' polygons, its glyph strokes."""

    path: str
    front: tuple[float, float, float, float]  # x, y, w, h
    faces: list[list[tuple[float, float]]] = field(default_factory=list)
    strokes: int = 0

    @property
    def area(self) -> float:
        """The silhouette: the front face plus the top and side faces (they do not overlap)."""
        return self.front[2] * self.front[3] + sum(shoelace(face) for face in self.faces)


def shoelace(points: list[tuple[float, float]]) -> float:
    pairs = pairwise([*points, points[0]])
    return abs(sum(x0 * y1 - x1 * y0 for (x0, y0), (x1, y1) in pairs)) / 2


def _floats(element: ET.Element, *names: str) -> tuple[float, ...]:
    return tuple(float(element.attrib[name]) for name in names)


def _points(text: str) -> list[tuple[float, float]]:
    return [(float(x), float(y)) for x, y in (p.split(",") for p in text.split())]


def read(svg: str) -> tuple[list[Frame], list[Join], list[Box]]:
    """The frames, joins and to-scale boxes of a figure, in page coordinates."""
    frames, joins, boxes = [], [], []
    for row in ET.fromstring(svg).findall(f"{SVG}g"):
        match = re.fullmatch(r"translate\(([-\d.]+),([-\d.]+)\)", row.attrib.get("transform", ""))
        if not match:
            continue
        dx, dy = float(match[1]), float(match[2])
        kids = list(row)
        for rect, lines in pairwise(kids):
            if rect.tag != f"{SVG}rect" or lines.attrib.get("stroke") != FRAME_STROKE:
                continue
            x, y, w, h = _floats(rect, "x", "y", "width", "height")
            verticals = [_floats(line, "x1", "y1", "x2", "y2") for line in lines]
            verticals = [v for v in verticals if v[0] == v[2]]

            def drawn(at: float, verticals: list[tuple[float, ...]] = verticals) -> bool:
                return any(abs(v[0] - at) < 0.15 for v in verticals)

            frames.append(Frame(x + dx, y + dy, x + w + dx, y + h + dy, drawn(x), drawn(x + w)))
        for item in row.findall(f"{SVG}g"):
            path = item.attrib.get("data-path", "")
            if item.attrib.get("class") == "join":
                circle = item.find(f"{SVG}circle")
                assert circle is not None
                cx, cy, r = _floats(circle, "cx", "cy", "r")
                joins.append(Join(cx + dx, cy + dy, r, path))
            elif item.attrib.get("class") in ("box", "io"):
                rect = item.find(f"{SVG}rect")
                assert rect is not None
                x, y, w, h = _floats(rect, "x", "y", "width", "height")
                faces = [_points(p.attrib["points"]) for p in item.findall(f"{SVG}polygon")]
                strokes = len(item.findall(f"{SVG}polyline"))
                boxes.append(Box(path, (x + dx, y + dy, w, h), faces, strokes))
    return frames, joins, boxes


def report(spec: Any) -> Any:
    return convcalc.analyse(convcalc.load_spec(spec))


CONV = {"type": "conv", "out_channels": 16, "kernel_size": 3, "padding": 1}
RESIDUAL = {"type": "residual", "body": [CONV, {"type": "relu"}, CONV]}
ENDINGS = {
    "repeat of residuals": {"type": "repeat", "times": 3, "layers": [RESIDUAL]},
    "repeat of two": {"type": "repeat", "times": 2, "layers": [RESIDUAL, RESIDUAL]},
    "sequential scale": {
        "type": "sequential",
        "layers": [{"type": "scale", "body": [{"type": "sigmoid"}]}],
    },
    "nested": {
        "type": "sequential",
        "layers": [{"type": "repeat", "times": 2, "layers": [RESIDUAL]}],
    },
}


@pytest.mark.parametrize("style", ["blocks", "flow"])
@pytest.mark.parametrize("ending", sorted(ENDINGS))
def test_a_join_lies_inside_the_frames_drawn_around_it(ending: str, style: str) -> None:
    spec = {"input": [16, 32, 32], "layers": [CONV, ENDINGS[ending]]}
    frames, joins, _ = read(to_svg(report(spec), style=style))
    assert joins and frames
    for join in joins:
        around = [f for f in frames if f.x0 <= join.x <= f.x1 and f.y0 <= join.y <= f.y1]
        assert around, f"{join.path}: no frame around it"
        for frame in around:
            assert frame.x0 < join.x - join.r and join.x + join.r < frame.x1, (join, frame)
            assert frame.y0 < join.y - join.r and join.y + join.r < frame.y1, (join, frame)
            assert frame.left and frame.right, f"{join.path}: a side of its frame is not drawn"


@pytest.mark.parametrize("name", ["resnet18", "resnet50", "mobilenet_v3_small", "googlenet"])
def test_every_join_of_a_bundled_network_lies_inside_its_frames(name: str) -> None:
    frames, joins, _ = read(to_svg(report(name)))
    assert joins
    for join in joins:
        for frame in frames:
            if frame.x0 <= join.x <= frame.x1 and frame.y0 <= join.y <= frame.y1:
                assert frame.x0 < join.x - join.r and join.x + join.r < frame.x1, (join, frame)


def png_pixels(path: Path) -> tuple[int, int, list[bytearray], int]:
    """Width, height, rows and bytes per pixel of an 8-bit RGB(A) PNG (zlib and the chunks)."""
    data = path.read_bytes()
    pos, idat, header = 8, bytearray(), b""
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]
        header = body if kind == b"IHDR" else header
        idat += body if kind == b"IDAT" else b""
        pos += 12 + length
    width, height, depth, colour_type, _, _, interlace = struct.unpack(">IIBBBBB", header)
    assert depth == 8 and colour_type in (2, 6) and interlace == 0
    bpp = 4 if colour_type == 6 else 3
    raw, stride = zlib.decompress(bytes(idat)), width * bpp
    rows, prev = [], bytearray(stride)
    for y in range(height):
        start = y * (stride + 1)
        line = bytearray(raw[start + 1 : start + 1 + stride])
        _unfilter(raw[start], line, prev, bpp)
        rows.append(line)
        prev = line
    return width, height, rows, bpp


@needs_chromium
@pytest.mark.full
def test_chromium_draws_the_border_right_of_the_join(tmp_path: Path) -> None:
    """Rendered: between the ⊕ of a repeat of residuals ending the figure and the page's right
    edge, a column of the frame's grey border runs over most of the frame's height."""
    spec = {"input": [16, 32, 32], "layers": [CONV, ENDINGS["repeat of residuals"]]}
    svg = to_svg(report(spec))
    frames, joins, _ = read(svg)
    (join,) = joins
    source = tmp_path / "figure.svg"
    source.write_text(svg, encoding="utf-8")
    out = tmp_path / "figure.png"
    width, height = svg_size(svg)
    screenshot(source.as_uri(), out, width, height, tmp_path)
    png_width, _, rows, bpp = png_pixels(out)
    assert png_width == width
    grey = bytes.fromhex(FRAME_STROKE[1:])
    frame = min((f for f in frames if f.x0 < join.x < f.x1), key=lambda f: f.x1)

    def near(pixel: bytes) -> bool:
        return all(abs(a - b) <= 40 for a, b in zip(pixel[:3], grey, strict=True))

    columns = []
    for x in range(math.ceil(join.x + join.r) + 1, width):
        ys = range(round(frame.y0) + 2, round(frame.y1) - 2)
        grey_rows = sum(near(bytes(rows[y][x * bpp : x * bpp + 3])) for y in ys)
        columns.append(grey_rows / len(ys))
    # a dashed border (5 on, 3 off) antialiased over a pixel or two: about half its rows grey
    assert max(columns) > 0.4, f"no border right of the join at x > {join.x + join.r}"


# --- sizes ------------------------------------------------------------------------------------

SLIM = {"norm", "activation", "dropout"}  # drawn as slices of their tensor


def boxes_by_path(svg: str) -> dict[str, Box]:
    return {box.path: box for box in read(svg)[2]}


TOKENS = {
    "input": [3, 224, 224],
    "layers": [
        {"name": "patches", "type": "conv", "out_channels": 768, "kernel_size": 16, "stride": 16},
        {"name": "flat", "type": "flatten", "start_dim": 1},
        {"name": "tokens", "type": "permute", "dims": [1, 0]},
        {"name": "norm", "type": "layernorm", "normalized_shape": 768},
        {"name": "first", "type": "select", "dim": 0},
        {"name": "head", "type": "linear", "out_features": 150528},
    ],
}


@pytest.mark.parametrize("log", [True, False])
def test_equal_counts_are_drawn_with_equal_areas(log: bool) -> None:
    """768×14×14 (16×16 patches of 224×224: 224 / 16 = 14), its flatten 768×196 and their
    permute 196×768 hold 150,528 values each, as the input 3×224×224 and the head's 150,528."""
    svg = to_svg(report(TOKENS), log_scale=log)
    boxes = boxes_by_path(svg)
    shown = {"layers[0]": "768×14×14", "layers[1]": "768×196", "layers[2]": "196×768"}
    texts = ["".join(t.itertext()) for t in ET.fromstring(svg).iter(f"{SVG}text")]
    assert all(shape in texts for shape in shown.values())
    same = [boxes[p].area for p in ("layers[0]", "layers[1]", "layers[2]", "layers[5]")]
    inputs = [b.area for b in read(svg)[2] if b.path == ""]  # the input's box has no path
    for area in same + inputs:
        assert area == pytest.approx(same[0], rel=0.01)
    # and the 768 values selected are drawn smaller
    assert boxes["layers[4]"].area < 0.9 * same[0]


@pytest.mark.parametrize("name", ["resnet18", "vgg16", "vit_b_16", "unet"])
@pytest.mark.parametrize("log", [True, False])
def test_area_grows_with_the_count(name: str, log: bool) -> None:
    """Across a network: more values, a larger area (on the linear scale, in proportion, for
    every box above the smallest drawn size)."""
    net = report(name)
    entries = {e.path: e for e in net.walk()}
    drawn = []
    for box in read(to_svg(net, log_scale=log))[2]:
        entry = entries.get(box.path)
        if entry is None or entry.is_block or KINDS[entry.type].category in SLIM:
            continue
        drawn.append((math.prod(entry.output_shape), box.area))
    assert len(drawn) > 5
    drawn.sort()
    for (n0, a0), (n1, a1) in pairwise(drawn):  # areas read to 0.1 px: within 3%
        if n0 == n1:
            assert a0 == pytest.approx(a1, rel=0.03), (n0, a0, a1)
        assert a0 < a1 * 1.03, (n0, a0, n1, a1)  # never smaller (the smallest all 8 × 8)
        if log and n1 >= 2 * n0:  # twice the values: larger, visibly
            assert a0 < a1 * 0.99, (n0, a0, n1, a1)
    if not log:
        n_max, a_max = drawn[-1]
        for n, area in drawn:
            if area > 1.2 * 8.0**2:
                assert area / a_max == pytest.approx(n / n_max, rel=0.03)


def test_a_permute_and_a_flatten_look_different() -> None:
    """The permute's front face is the flatten's turned (196×768 against 768×196: equal counts,
    the axes swapped), and the permute alone carries a glyph."""
    boxes = boxes_by_path(to_svg(report(TOKENS)))
    flat, tokens = boxes["layers[1]"], boxes["layers[2]"]
    assert flat.front[2] > flat.front[3]  # 768 across, 196 high
    assert tokens.front[2] == pytest.approx(flat.front[3], abs=0.15)
    assert tokens.front[3] == pytest.approx(flat.front[2], abs=0.15)
    assert flat.strokes == 0 and tokens.strokes >= 2
    assert boxes["layers[0]"].strokes == 0
