"""``convcalc.render.draw``: golden SVGs, every bundled spec in both styles, huge specs, escaping,
and real renderings: Chromium screenshots (read back by a small PNG decoder) and pdflatex for TikZ.

The numbers a figure shows (its header, every box's shape and costs, every frame's and lane's
costs) are read back from the SVG and compared with numbers from outside convcalc: the
homework's own answer for hw3-q3, and PyTorch (its FlopCounterMode for the multiply-adds) on
each bundled network's model (tests/independent.py).

``pytest --update-golden`` rewrites tests/golden/draw/ and the pictures in docs/images/.
"""

from __future__ import annotations

import re
import shutil
import struct
import subprocess
import sys
import xml.etree.ElementTree as ET
import zlib
from dataclasses import dataclass
from pathlib import Path

import pytest

import convcalc
from convcalc.analysis import Report
from convcalc.render.draw import to_svg, to_tikz
from tests.budget import CI, spec_params
from tests.conftest import Invoke
from tests.independent import (
    HW3_Q3_MULT_ADDS,
    HW3_Q3_PARAMS,
    HW3_Q3_SHAPES,
    HW3_Q3_TOTAL,
    TorchLeaf,
    assert_three_digits,
    pair,
    parse_count,
    parse_shape,
    torch_numbers,
)

ROOT = Path(__file__).parent.parent
GOLDEN = Path(__file__).parent / "golden" / "draw"
IMAGES = ROOT / "docs" / "images"
SPECS = sorted(  # PyTorch's: the Keras applications (keras_*) have no torch model to compare
    p.stem
    for p in (ROOT / "specs").glob("*.yaml")
    if p.stem not in ("five-stages", "hw3-q3-keras") and not p.stem.startswith("keras_")
)
SMALL = ["hw3-q3", "lenet5", "alexnet"]
BIG = ["resnet18", "unet", "googlenet"]
PLAIN = ["hw3-q3", "lenet5", "alexnet", "vgg16", "hw3-mlp", "googlenet"]
SVG = "{http://www.w3.org/2000/svg}"
CHROMIUM = "/usr/bin/chromium"
HAS_CHROMIUM = Path(CHROMIUM).exists()
needs_chromium = pytest.mark.skipif(
    not HAS_CHROMIUM and not CI, reason="Chromium is not installed (CI must have it)"
)


def report(name: str) -> Report:
    return convcalc.analyse(convcalc.load_spec(name))


def drawn_paths(svg: str) -> list[str]:
    """The ``data-path`` of every element of a well-formed SVG."""
    root = ET.fromstring(svg)
    return [el.attrib["data-path"] for el in root.iter() if "data-path" in el.attrib]


def texts(svg: str) -> list[str]:
    return ["".join(el.itertext()) for el in ET.fromstring(svg).iter(f"{SVG}text")]


# --- the numbers a figure shows --------------------------------------------------------------

HEADER = re.compile(
    r"(?P<name>.+): input (?P<input>\S+) → (?P<output>\S+) · (?P<params>\S+) parameters · "
    r"(?P<macs>\S+) multiply-adds"
)
COSTS = re.compile(r"(?:(?P<title>.*) · )?(?P<params>\S+) params · (?P<macs>\S+) MACs")
SLIM_COSTS = re.compile(r"(?P<params>\S+) p")
# a box's lines are told apart by their colour: head, arguments, output shape, costs
LINE_FILLS = {"#222": "head", "#333": "args", "#555": "shape", "#8a5a00": "costs"}


@dataclass(frozen=True)
class Box:
    """One box of a figure (``<g class="box">`` or ``"io"``) as its lines read."""

    cls: str
    path: str
    lines: dict[str, str]


def boxes(svg: str) -> list[Box]:
    out = []
    for group in ET.fromstring(svg).iter(f"{SVG}g"):
        if group.attrib.get("class") not in ("box", "io"):
            continue
        lines: dict[str, str] = {}
        for text in group.iter(f"{SVG}text"):
            role = LINE_FILLS[text.attrib["fill"]]
            assert role not in lines, f"two {role} lines in one box"
            lines[role] = "".join(text.itertext())
        out.append(Box(group.attrib["class"], group.attrib.get("data-path", ""), lines))
    return out


def labels(svg: str) -> list[tuple[str, str]]:
    """(data-path or "", text) of every frame title and lane label (``<g class="label">``)."""
    return [
        (group.attrib.get("data-path", ""), "".join(group.itertext()))
        for group in ET.fromstring(svg).iter(f"{SVG}g")
        if group.attrib.get("class") == "label"
    ]


def _siblings(path: str) -> tuple[str, int]:
    """``layers[4].body[2]`` → (``layers[4].body[``, 2)."""
    match = re.fullmatch(r"(.*\[)(\d+)\]", path)
    assert match, path
    return match.group(1), int(match.group(2))


def check_costs(shown: str, exact: tuple[int, int], where: str) -> None:
    match = COSTS.fullmatch(shown)
    assert match, f"{where}: {shown!r} is not a costs line"
    for part, value in zip(("params", "macs"), exact, strict=True):
        try:
            assert_three_digits(match.group(part), value)
        except AssertionError as error:
            raise AssertionError(f"{where}: {error}") from None


def check_against_torch(svg: str, name: str) -> int:
    """Every number of a bundled network's figure against PyTorch: the header (input and
    output shapes, parameters, FlopCounterMode's multiply-adds); every leaf box's output
    shape, parameters and multiply-adds (the leaf's torch call: tests/independent.py's
    ``pair``), a box without a shape line keeping its input's shape in torch; every frame's
    and lane's costs, the sums over the torch calls of the leaves it holds. Leaves the model
    computes with a function (``functional: true``) have no torch call: their boxes are
    counted, not checked. Returns how many numbers were compared."""
    numbers = torch_numbers(name)
    report = convcalc.analyse(convcalc.load_spec(name))
    entries = {entry.path: entry for entry in report.walk()}
    calls = pair(list(report.leaves()), numbers.leaves)
    compared = 0

    def held(paths: list[str]) -> tuple[int, int]:
        inside = [
            call
            for path, call in calls.items()
            if any(path == p or path.startswith(p + ".") for p in paths)
        ]
        return sum(c.params for c in inside), sum(c.flops for c in inside)

    header = HEADER.fullmatch(texts(svg)[0])
    assert header, texts(svg)[0]
    assert parse_shape(header["input"]) == numbers.input_shape
    assert parse_shape(header["output"]) == numbers.output_shape
    assert parse_count(header["params"]) == numbers.params
    assert parse_count(header["macs"]) == numbers.flops
    compared += 4
    for box in boxes(svg):
        where = f"{name}: box {box.path or box.lines.get('head')}"
        shape = box.lines.get("shape")
        if box.cls == "io":
            expected = numbers.input_shape if box.lines["head"] == "input" else numbers.output_shape
            assert box.lines["head"] in ("input", "output") and shape, where
            assert parse_shape(shape) == expected, where
            compared += 1
            continue
        entry = entries[box.path]
        costs = box.lines.get("costs")
        if entry.is_block:  # a block drawn as one box: its costs (torch has no block shape)
            if costs is not None:
                check_costs(costs, held([box.path]), where)
                compared += 2
            continue
        call: TorchLeaf | None = calls.get(box.path)
        if call is None:
            assert entry.layer.functional, where
            continue
        if shape is None:
            assert call.input_shape == call.output_shape, f"{where}: no shape line"
        else:
            assert parse_shape(shape) == call.output_shape, where
            compared += 1
        if costs is None:
            continue
        slim = SLIM_COSTS.fullmatch(costs)
        if slim:
            assert_three_digits(slim["params"], call.params)
            compared += 1
        else:
            check_costs(costs, (call.params, call.flops), where)
            compared += 2
    names = {entry.name for entry in entries.values() if entry.is_block}
    names |= {f"{entry.type} {entry.path}" for entry in entries.values() if entry.is_block}
    for path, text in labels(svg):
        costs_match = COSTS.fullmatch(text)
        if costs_match is None:  # a frame's title without costs, or a lane's name alone
            base = re.sub(r" ×\d+$", "", text)
            assert path or base in names or " – " in base, f"{name}: label {text!r}"
            continue
        where = f"{name}: label {text!r}"
        if path:  # a frame around a sequential or repeat block: the whole block
            check_costs(text, held([path]), where)
            compared += 2
            continue
        title = costs_match["title"] or ""
        fold = re.fullmatch(r"(?P<first>.+) – (?P<last>.+) ×(?P<times>\d+)", title)
        if fold:  # a run of identical blocks drawn once: from the first through the last
            (first,) = [p for p, e in entries.items() if e.name == fold["first"]]
            (last,) = [p for p, e in entries.items() if e.name == fold["last"]]
            (parent, i), (parent_last, j) = _siblings(first), _siblings(last)
            times = int(fold["times"])
            assert parent == parent_last and (j - i) % (times - 1) == 0, where
            period = (j - i) // (times - 1)
            candidates = [[f"{parent}{k}]" for k in range(i, j + period)]]
        else:  # a lane label or a shortcut's: a block of that name
            candidates = [[p] for p, e in entries.items() if e.is_block and (e.name or "") == title]
        assert candidates, where
        errors = []
        for paths in candidates:
            try:
                check_costs(text, held(paths), where)
                break
            except AssertionError as error:
                errors.append(str(error))
        else:
            raise AssertionError(f"{where}: no block {title!r} has these costs: {errors[:3]}")
        compared += 2
    return compared


def shown_shapes(svg: str, name: str) -> int:
    """How many boxes show a shape torch gives: the input, the output, and the leaves the
    model runs as modules."""
    functional = {e.path for e in report(name).leaves() if e.layer.functional}
    blocks = {e.path for e in report(name).walk() if e.is_block}
    return sum(
        1 for box in boxes(svg) if "shape" in box.lines and box.path not in functional | blocks
    )


def check_hw3_q3(svg: str) -> None:
    """hw3-q3's figure against the homework's answer, worked by hand (tests/independent.py):
    shapes, parameters and, where shown, multiply-adds."""
    header = HEADER.fullmatch(texts(svg)[0])
    assert header
    assert parse_shape(header["input"]) == (3, 128, 128)
    assert parse_shape(header["output"]) == HW3_Q3_SHAPES[-1]
    assert parse_count(header["params"]) == HW3_Q3_TOTAL
    assert parse_count(header["macs"]) == sum(HW3_Q3_MULT_ADDS) == 30_791_680
    drawn = {box.path: box for box in boxes(svg) if box.cls == "box"}
    assert sorted(drawn) == ["layers[0]", "layers[1]", "layers[2]"]
    for i, (shape, params, mult_adds) in enumerate(
        zip(HW3_Q3_SHAPES, HW3_Q3_PARAMS, HW3_Q3_MULT_ADDS, strict=True)
    ):
        box = drawn[f"layers[{i}]"]
        assert parse_shape(box.lines["shape"]) == shape
        if "costs" in box.lines:
            check_costs(box.lines["costs"], (params, mult_adds), f"layers[{i}]")


# --- Chromium and PNG helpers (test_html_report uses them too) ------------------------------


def chromium(*args: str, tmp: Path, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Run headless Chromium once, with a profile of its own under ``tmp``."""
    assert HAS_CHROMIUM, f"{CHROMIUM} is missing: CI installs Debian's chromium"
    command = [
        CHROMIUM,
        "--headless",
        "--disable-gpu",
        "--no-sandbox",
        "--hide-scrollbars",
        "--no-first-run",
        f"--user-data-dir={tmp / 'chromium-profile'}",
        *args,
    ]
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)


def screenshot(url: str, out: Path, width: int, height: int, tmp: Path) -> None:
    result = chromium(f"--screenshot={out}", f"--window-size={width},{height}", url, tmp=tmp)
    assert out.exists(), f"no screenshot of {url}: {result.stderr[-2000:]}"


def png_colours(path: Path, max_rows: int = 700) -> tuple[int, int, set[bytes]]:
    """Width, height and the distinct colours of the first ``max_rows`` rows of an 8-bit RGB or
    RGBA PNG, decoded with zlib and the PNG chunk format alone."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat, header = 8, bytearray(), b""
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]
        if kind == b"IHDR":
            header = body
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    width, height, depth, colour_type, _, _, interlace = struct.unpack(">IIBBBBB", header)
    assert depth == 8 and colour_type in (2, 6) and interlace == 0, "an unexpected PNG format"
    bpp = 4 if colour_type == 6 else 3
    raw = zlib.decompress(bytes(idat))
    stride = width * bpp
    prev = bytearray(stride)
    colours: set[bytes] = set()
    for y in range(min(height, max_rows)):
        kind, line = (
            raw[y * (stride + 1)],
            bytearray(raw[y * (stride + 1) + 1 : (y + 1) * (stride + 1)]),
        )
        _unfilter(kind, line, prev, bpp)
        colours.update(bytes(line[i : i + bpp]) for i in range(0, stride, bpp * 3))
        prev = line
    return width, height, colours


def _unfilter(kind: int, line: bytearray, prev: bytearray, bpp: int) -> None:
    if kind == 1:
        for i in range(bpp, len(line)):
            line[i] = (line[i] + line[i - bpp]) & 0xFF
    elif kind == 2:
        line[:] = bytes((a + b) & 0xFF for a, b in zip(line, prev, strict=True))
    elif kind == 3:
        for i in range(len(line)):
            left = line[i - bpp] if i >= bpp else 0
            line[i] = (line[i] + (left + prev[i]) // 2) & 0xFF
    elif kind == 4:
        for i in range(len(line)):
            a = line[i - bpp] if i >= bpp else 0
            b, c = prev[i], prev[i - bpp] if i >= bpp else 0
            p = a + b - c
            pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
            line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 0xFF


def svg_size(svg: str) -> tuple[int, int]:
    root = ET.fromstring(svg)
    return int(root.attrib["width"]), int(root.attrib["height"])


# --- golden files ----------------------------------------------------------------------------


@pytest.mark.parametrize("name", SMALL)
@pytest.mark.parametrize("style", ["blocks", "flow"])
def test_golden_svgs(update_golden: bool, name: str, style: str) -> None:
    svg = to_svg(report(name), style=style)
    golden = GOLDEN / f"{name}.{style}.svg"
    if update_golden:
        golden.parent.mkdir(parents=True, exist_ok=True)
        golden.write_text(svg, encoding="utf-8")
        if (name, style) == ("hw3-q3", "blocks"):
            IMAGES.mkdir(parents=True, exist_ok=True)
            (IMAGES / "hw3-q3.svg").write_text(svg, encoding="utf-8")
    assert svg == golden.read_text(encoding="utf-8")


@pytest.mark.parametrize("name", SMALL)
@pytest.mark.parametrize("style", ["blocks", "flow"])
def test_the_golden_figures_numbers(name: str, style: str) -> None:
    """The goldens' numbers: hw3-q3's are the homework's (no torch needed); every golden's are
    torch's where torch is installed."""
    svg = (GOLDEN / f"{name}.{style}.svg").read_text(encoding="utf-8")
    if name == "hw3-q3":
        check_hw3_q3(svg)
    pytest.importorskip("torch")
    assert check_against_torch(svg, name) >= 4 + shown_shapes(svg, name)


def test_golden_tikz(update_golden: bool) -> None:
    tex = to_tikz(report("hw3-q3"), costs=True)
    golden = GOLDEN / "hw3-q3.tex"
    if update_golden:
        golden.write_text(tex, encoding="utf-8")
    assert tex == golden.read_text(encoding="utf-8")


# --- every bundled spec ----------------------------------------------------------------------


@pytest.mark.every_case
@pytest.mark.parametrize("name", spec_params(SPECS))
@pytest.mark.parametrize("style", ["blocks", "flow"])
def test_every_bundled_spec_draws(name: str, style: str) -> None:
    rep = report(name)
    svg = to_svg(rep, style=style)
    paths = drawn_paths(svg)  # parses: the SVG is well-formed
    every = {entry.path for entry in rep.walk()}
    assert len(paths) == len(set(paths)), "an entry drawn twice"
    assert set(paths) <= every
    if name in PLAIN:  # no repeat and no run of identical blocks: every entry has its box
        assert set(paths) == every
    root = ET.fromstring(svg)
    assert root.attrib["viewBox"] == f"0 0 {root.attrib['width']} {root.attrib['height']}"
    assert root.attrib["font-family"] == "sans-serif"
    assert HEADER.fullmatch(texts(svg)[0]), texts(svg)[0]


@pytest.mark.torch
@pytest.mark.parametrize("name", spec_params(SPECS))
@pytest.mark.parametrize("style", ["blocks", "flow"])
def test_every_number_drawn_is_torchs(name: str, style: str) -> None:
    """With costs, every number of every bundled network's figure is PyTorch's
    (``check_against_torch``): the boxes of the leaves the model runs as modules each give
    their shape, or keep their input's, and their costs."""
    svg = to_svg(report(name), style=style, costs=True)
    assert check_against_torch(svg, name) >= 4 + shown_shapes(svg, name)


def test_a_repeat_is_drawn_once_with_its_count() -> None:
    svg = to_svg(report("resnet18"), style="flow")
    paths = set(drawn_paths(svg))
    # layer1: a repeat ×2 of (residual, relu), as torchvision's layer1 holds two BasicBlocks:
    # the first repetition only
    assert {"layers[4]", "layers[4].layers[0]", "layers[4].layers[1]"} <= paths
    assert not {"layers[4].layers[2]", "layers[4].layers[3]"} & paths
    assert "layer1 ×2" in texts(svg)


def test_identical_consecutive_blocks_fold() -> None:
    block = {"type": "residual", "body": [{"type": "conv", "out_channels": 8, "kernel_size": 1}]}
    spec = {"input": [8, 4, 4], "layers": [block, block, block, {"type": "relu"}]}
    svg = to_svg(convcalc.analyse(convcalc.load_spec(spec)), style="flow")
    assert "residual ×3" in texts(svg)
    assert set(drawn_paths(svg)) == {"layers[0]", "layers[0].body[0]", "layers[3]"}


def test_depth_collapses_blocks_into_boxes() -> None:
    rep = report("resnet18")
    svg = to_svg(rep, style="flow", depth=1)
    assert set(drawn_paths(svg)) == {entry.path for entry in rep.layers}
    # torchvision's layer1: two BasicBlocks, each conv, bn, relu, conv, bn and the ReLU after
    # the add: 2 × 6 layers
    assert "repeat ×2 · 12 layers" in texts(svg)


@pytest.mark.full
@pytest.mark.torch
@pytest.mark.parametrize("name", ["resnet18", "googlenet", "unet"])
def test_collapsed_boxes_show_torchs_costs(name: str) -> None:
    """A block drawn as one box (``depth``) costs what the torch calls of its leaves add up to;
    each leaf still drawn shows its own."""
    svg = to_svg(report(name), style="flow", depth=1, costs=True)
    blocks = {entry.path for entry in report(name).walk() if entry.is_block}
    collapsed = [box for box in boxes(svg) if box.path in blocks]
    assert len(collapsed) >= 3 and all("costs" in box.lines for box in collapsed)
    assert check_against_torch(svg, name) >= 4 + 2 * len(collapsed)


def test_costs_and_joins() -> None:
    svg = to_svg(report("hw3-q3"), style="flow", costs=True)
    assert "6.18k params · 22.9M MACs" in texts(svg)  # 6,144 weights × 61·61 = 22,861,824
    check_hw3_q3(svg)  # every box's costs, the homework's numbers to three digits
    for name, symbol in (
        ("resnet18", "add"),
        ("googlenet", "concat"),
        ("efficientnet_b0", "multiply"),
    ):
        assert symbol in texts(to_svg(report(name)))


def test_a_count_rounding_into_the_next_unit() -> None:
    """linear 998 → 1001: 1001 · (998 + 1) = 999,999 parameters, to three digits 1.00M:
    ``1M``; 998 · 1001 = 998,998 multiply-adds (the weights once each): ``999k``."""
    spec = {"input": [998], "layers": [{"type": "linear", "out_features": 1001}]}
    svg = to_svg(convcalc.analyse(convcalc.load_spec(spec)), style="flow", costs=True)
    (box,) = [box for box in boxes(svg) if box.cls == "box"]
    check_costs(box.lines["costs"], (999_999, 998_998), "layers[0]")


def test_log_and_linear_scales_differ() -> None:
    rep = report("alexnet")
    assert to_svg(rep, log_scale=False) != to_svg(rep)
    ET.fromstring(to_svg(rep, log_scale=False))


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="style"):
        to_svg(report("hw3-q3"), style="boxes")
    with pytest.raises(ValueError, match="depth"):
        to_svg(report("hw3-q3"), depth=0)
    with pytest.raises(ValueError, match="arrow_id"):
        to_svg(report("hw3-q3"), arrow_id='a" onload="x()')


def test_the_arrowhead_id_is_the_callers() -> None:
    rep = report("hw3-q3")
    default, named = to_svg(rep, style="flow"), to_svg(rep, style="flow", arrow_id="net-arrow")
    assert 'id="convcalc-arrow"' in default and "url(#convcalc-arrow)" in default
    assert 'id="net-arrow"' in named and "url(#net-arrow)" in named
    assert "convcalc-arrow" not in named
    assert named == default.replace("convcalc-arrow", "net-arrow")


def test_text_is_escaped() -> None:
    name = "a<b & c>\"d'e"
    spec = {
        "input": [3, 8, 8],
        "layers": [{"type": "conv", "out_channels": 4, "kernel_size": 3, "name": name}],
    }
    rep = convcalc.analyse(convcalc.load_spec(spec))
    for style in ("blocks", "flow"):
        svg = to_svg(rep, style=style, costs=True)
        assert any(name in text for text in texts(svg))
    tex = to_tikz(rep)
    assert r"a$<$b \& c$>$" in tex  # text mode's < and > are other glyphs in OT1


# --- huge specs ------------------------------------------------------------------------------


def _bounded_recursion() -> int:
    """A recursion limit a little above the current depth: deep recursion would fail."""
    frame, depth = sys._getframe(), 0
    while frame is not None:
        frame, depth = frame.f_back, depth + 1  # type: ignore[assignment]
    return depth + 150


@pytest.mark.full
def test_a_20000_layer_chain_draws_shortened() -> None:
    conv = {"type": "conv", "out_channels": 4, "kernel_size": 3, "padding": 1}
    rep = convcalc.analyse(convcalc.load_spec({"input": [4, 16, 16], "layers": [conv] * 20_000}))
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(_bounded_recursion())
    try:
        svgs = [to_svg(rep, style=style) for style in ("blocks", "flow")]
        tex = to_tikz(rep)
    finally:
        sys.setrecursionlimit(limit)
    for svg in svgs:
        assert len(drawn_paths(svg)) < 200
        assert any("left out" in text for text in texts(svg))
        assert any("not drawn" in text for text in texts(svg))
    assert "not drawn" in tex


@pytest.mark.full
def test_500_deep_nesting_draws_collapsed() -> None:
    layers: list[object] = [{"type": "relu"}]
    for i in range(500):
        conv = {"type": "conv", "out_channels": 4, "kernel_size": 1}
        block = (
            {"type": "residual", "body": [*layers, conv]}
            if i % 2
            else {"type": "sequential", "layers": layers}
        )
        layers = [block]
    rep = convcalc.analyse(convcalc.load_spec({"input": [4, 8, 8], "layers": layers}))
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(_bounded_recursion())
    try:
        svgs = [to_svg(rep, style=style) for style in ("blocks", "flow")]
        to_tikz(rep)
    finally:
        sys.setrecursionlimit(limit)
    for svg in svgs:
        assert any(text.startswith("collapsed to depth") for text in texts(svg))
        assert len(drawn_paths(svg)) < 60


# --- real renderings -------------------------------------------------------------------------


@needs_chromium
@pytest.mark.parametrize(
    ("name", "style"),
    [
        pytest.param(n, s, marks=() if (n, s) == ("hw3-q3", "blocks") else pytest.mark.full)
        for n in SMALL + BIG
        for s in ("blocks", "flow")
    ],
)
def test_chromium_renders(tmp_path: Path, update_golden: bool, name: str, style: str) -> None:
    svg = (GOLDEN / f"{name}.{style}.svg").read_text(encoding="utf-8") if name in SMALL else None
    svg = svg or to_svg(report(name), style=style)
    source = tmp_path / f"{name}.svg"
    source.write_text(svg, encoding="utf-8")
    out = tmp_path / f"{name}-{style}.png"
    width, height = svg_size(svg)
    screenshot(source.as_uri(), out, width, height, tmp_path)
    png_width, _, colours = png_colours(out)
    assert png_width == width
    assert len(colours) > 20, "a blank or nearly blank rendering"
    conv_fill = bytes.fromhex("d4e4f7")
    assert any(c[:3] == conv_fill for c in colours), "no conv box rendered"
    if update_golden and name in BIG:
        IMAGES.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(out, IMAGES / f"{name}-{style}.png")


KPSE = shutil.which("kpsewhich")
HAS_TIKZ = bool(
    KPSE
    and subprocess.run(
        [KPSE, "tikz.sty"], capture_output=True, text=True, check=False
    ).stdout.strip()
)


@pytest.mark.full
@pytest.mark.skipif(
    not HAS_TIKZ and not CI, reason="tikz.sty is missing (Debian: texlive-pictures)"
)
@pytest.mark.parametrize("name", spec_params(["hw3-q3", "resnet18", "unet"], quick={"hw3-q3"}))
def test_tikz_compiles_with_pdflatex(tmp_path: Path, name: str) -> None:
    assert HAS_TIKZ, "CI must install texlive-pictures (tikz.sty) besides texlive-latex-base"
    (tmp_path / "net.tex").write_text(to_tikz(report(name), costs=True), encoding="utf-8")
    result = subprocess.run(
        ["pdflatex", "-interaction=nonstopmode", "-halt-on-error", "net.tex"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-3000:]
    assert (tmp_path / "net.pdf").read_bytes().startswith(b"%PDF")
    assert "(1 page," in result.stdout  # the page is the figure


def test_the_readme_figure_is_current() -> None:
    """docs/images/hw3-q3.svg, shown in docs/diagrams.md, is what convcalc draws today."""
    drawn = to_svg(report("hw3-q3"), style="blocks")
    assert (IMAGES / "hw3-q3.svg").read_text(encoding="utf-8") == drawn
    check_hw3_q3(drawn)


def test_the_draw_command(run: Invoke, tmp_path: Path) -> None:
    out = tmp_path / "net.svg"
    assert run("draw", "hw3-q3", "-o", str(out)).exit_code == 0
    assert out.read_text(encoding="utf-8") == to_svg(report("hw3-q3"), style="blocks")
    check_hw3_q3(out.read_text(encoding="utf-8"))
    flow = run("draw", "lenet5", "--style", "flow", "--costs").output
    assert ET.fromstring(flow).tag.endswith("svg")
    assert run("draw", "hw3-q3", "--format", "tikz").output.startswith("\\documentclass")
    bad = run("draw", "nowhere.yaml")
    assert bad.exit_code == 2 and "nowhere.yaml" in bad.stderr
