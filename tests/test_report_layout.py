"""The layer table of ``convcalc report`` as Chromium lays it out: one font size in every column
(the output shapes and paths as large as the rest), and a long path broken only after a dot.

The page is the report itself with a script added at its end that measures it (computed
styles, and each character's line by a DOM Range) and writes what it found into ``<body>``
attributes, which ``chromium --dump-dom`` shows.
"""

from __future__ import annotations

import html
import json
import re
from pathlib import Path
from typing import Any

import pytest

import convcalc
from convcalc.render.html import to_html
from tests.test_draw import chromium, needs_chromium

MEASURE = """
<script>
(function () {
  var rows = document.querySelectorAll("#layers .row:not(.head)");
  var sizes = {};
  rows.forEach(function (row) {
    Array.prototype.forEach.call(row.children, function (cell, column) {
      [cell].concat(Array.prototype.slice.call(cell.querySelectorAll("*"))).forEach(function (e) {
        var text = Array.prototype.some.call(e.childNodes, function (n) {
          return n.nodeType === 3 && n.textContent.trim();
        });
        if (text) { (sizes[column] = sizes[column] || {})[getComputedStyle(e).fontSize] = 1; }
      });
    });
  });
  var before = [], lines = 0;
  document.querySelectorAll("#layers .path").forEach(function (cell) {
    var walker = document.createTreeWalker(cell, NodeFilter.SHOW_TEXT), node, last = null;
    var previous = "", count = 1;
    while ((node = walker.nextNode())) {
      for (var i = 0; i < node.textContent.length; i++) {
        var range = document.createRange();
        range.setStart(node, i);
        range.setEnd(node, i + 1);
        var top = range.getClientRects()[0].top;
        if (last !== null && top > last + 2) { before.push(previous); count++; }
        last = top;
        previous = node.textContent[i];
      }
    }
    lines = Math.max(lines, count);
  });
  var out = {};
  Object.keys(sizes).forEach(function (c) { out[c] = Object.keys(sizes[c]); });
  document.body.dataset.sizes = JSON.stringify(out);
  document.body.dataset.before = JSON.stringify(before);
  document.body.dataset.lines = String(lines);
})();
</script>
"""


def measured(tmp_path: Path, spec: Any, width: int) -> dict[str, Any]:
    """What the measuring script found on the report of ``spec`` in a window ``width`` wide."""
    page = to_html(convcalc.analyse(convcalc.load_spec(spec)), "(spec)")
    source = tmp_path / "page.html"
    source.write_text(page.replace("</body>", MEASURE + "</body>"), encoding="utf-8")
    result = chromium(f"--window-size={width},3000", "--dump-dom", source.as_uri(), tmp=tmp_path)
    body = re.search(r"<body[^>]*>", result.stdout)
    assert body is not None and "data-lines" in body.group(0), result.stderr[-2000:]
    found = dict(re.findall(r'data-(sizes|before|lines)="([^"]*)"', body.group(0)))
    return {key: json.loads(html.unescape(value)) for key, value in found.items()}


def nested(levels: int) -> dict[str, Any]:
    layers: list[Any] = [{"type": "conv", "out_channels": 4, "kernel_size": 3}]
    for _ in range(levels):
        layers = [{"type": "sequential", "layers": [{"type": "relu"}, *layers]}]
    return {"input": [3, 64, 64], "layers": layers}


@pytest.mark.full
@needs_chromium
def test_every_column_has_one_font_size(tmp_path: Path) -> None:
    found = measured(tmp_path, "resnet18", 1300)
    sizes = found["sizes"]
    assert sorted(sizes, key=int) == [str(c) for c in range(7)], sizes  # all seven columns
    assert len({size for column in sizes.values() for size in column}) == 1, sizes


@pytest.mark.full
@needs_chromium
def test_a_long_path_breaks_only_after_dots(tmp_path: Path) -> None:
    """A path 13 steps deep (``layers[1].layers[1]…``, 130-odd characters) in a column about
    220 pixels wide wraps onto several lines, each break after a dot."""
    found = measured(tmp_path, nested(12), 1000)
    assert found["lines"] >= 3, found
    assert found["before"] and set(found["before"]) == {"."}, found
