"""``convcalc.html_report``: a self-contained page, checked as text and in headless Chromium
(console, the blocks' expand/collapse self-test, a screenshot for docs/images/)."""

from __future__ import annotations

import html
import re
import shutil
from pathlib import Path

import pytest

import convcalc
from convcalc.analysis import Costing
from convcalc.html_report import to_html
from convcalc.lint import lint
from tests.budget import CI
from tests.test_draw import IMAGES, ROOT, chromium, needs_chromium, png_colours, screenshot


def page(name: str, costing: Costing | None = None) -> tuple[str, str]:
    spec_text = (ROOT / "specs" / f"{name}.yaml").read_text(encoding="utf-8")
    report = convcalc.analyse(convcalc.load_spec(name))
    return to_html(report, spec_text, costing=costing), spec_text


@pytest.mark.parametrize("name", ["resnet18", "hw3-q3", "unet", "googlenet"])
def test_the_page_holds_everything(name: str) -> None:
    text, spec_text = page(name)
    report = convcalc.analyse(convcalc.load_spec(name))
    assert not re.search(r"""(src|href)\s*=\s*["']?\s*(https?:)?//""", text), "a network resource"
    assert "<link" not in text and "@import" not in text
    assert text.count("<svg") == 2  # the diagram, blocks and flow
    for entry in report.layers:
        assert f'data-path="{html.escape(entry.path)}"' in text
    for finding in lint(report):
        assert f'data-code="{finding.code}"' in text
    assert html.escape(spec_text) in text
    assert f"{report.total_params:,}" in text


def test_ids_are_unique_and_every_reference_resolves() -> None:
    text, _ = page("resnet18")
    ids = re.findall(r'\sid="([^"]*)"', text)
    assert len(ids) == len(set(ids)), "an id used twice on the page"
    assert {"convcalc-arrow-blocks", "convcalc-arrow-flow"} <= set(ids)
    for target in set(re.findall(r"url\(#([^)]*)\)", text)):
        assert target in ids
    # each figure's arrows point at its own marker
    blocks, flow = re.findall(r"<svg.*?</svg>", text, re.S)
    assert set(re.findall(r"url\(#([^)]*)\)", blocks)) == {"convcalc-arrow-blocks"}
    assert set(re.findall(r"url\(#([^)]*)\)", flow)) == {"convcalc-arrow-flow"}


def test_every_entry_is_a_row_and_blocks_are_details() -> None:
    text, _ = page("resnet18")
    report = convcalc.analyse(convcalc.load_spec("resnet18"))
    blocks = [e for e in report.walk() if e.is_block]
    assert text.count('<details class="block" open') == len(blocks)
    for entry in report.walk():
        assert f'data-path="{entry.path}"' in text
    assert text.count("<details") == text.count("</details>")


def test_text_is_escaped_and_costing_is_used() -> None:
    name = "'</pre><script>x()</script>'"
    layer = f"{{type: conv, out_channels: 4, kernel_size: 3, name: {name}}}"
    spec_text = f"input: [3, 8, 8]\nlayers:\n  - {layer}\n"
    report = convcalc.analyse(convcalc.load_spec(spec_text))
    text = to_html(report, spec_text, costing=Costing(batch=4, convention="fvcore"))
    assert "<script>x()" not in text
    assert "&lt;/pre&gt;&lt;script&gt;x()" in text
    assert "fvcore's convention" in text and "multiply-adds (batch 4)" in text


def test_a_deeply_nested_spec_builds_without_recursion() -> None:
    layers: list[object] = [{"type": "relu"}]
    for _ in range(500):
        layers = [{"type": "sequential", "layers": layers}]
    spec = {"input": [4, 8, 8], "layers": layers}
    text = to_html(convcalc.analyse(convcalc.load_spec(spec)), "(spec)")
    assert text.count('<details class="block"') == 500
    assert text.count("<details") == text.count("</details>")


@needs_chromium
def test_in_chromium(tmp_path: Path, update_golden: bool) -> None:
    """No console output at all (the page logs nothing, so any line is an error or a warning);
    the self-test collapses and expands every block; the page renders."""
    text, _ = page("resnet18")
    source = tmp_path / "resnet18.html"
    source.write_text(text, encoding="utf-8")
    result = chromium(
        "--enable-logging=stderr", "--v=0", "--dump-dom", source.as_uri() + "#test", tmp=tmp_path
    )
    console = [line for line in result.stderr.splitlines() if ":CONSOLE" in line]
    assert console == []
    body = re.search(r"<body[^>]*>", result.stdout)
    assert body is not None, result.stderr[-2000:]
    assert 'data-selftest="ok"' in body.group(0)
    assert 'data-blocks="12"' in body.group(0)
    assert "data-errors" not in body.group(0)
    out = tmp_path / "resnet18-report.png"
    screenshot(source.as_uri(), out, 1300, 5200, tmp_path)
    width, _, colours = png_colours(out, max_rows=400)
    assert width == 1300 and len(colours) > 20
    if update_golden:
        IMAGES.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(out, IMAGES / "resnet18-report.png")


@needs_chromium
def test_chromium_reports_console_errors(tmp_path: Path) -> None:
    """The console check above can see errors: a page that throws shows up in stderr."""
    source = tmp_path / "bad.html"
    source.write_text("<!DOCTYPE html><body><script>missing();</script></body>", encoding="utf-8")
    result = chromium(
        "--enable-logging=stderr", "--v=0", "--dump-dom", source.as_uri(), tmp=tmp_path
    )
    assert any(":CONSOLE" in line and "missing" in line for line in result.stderr.splitlines())


def test_ci_has_chromium() -> None:
    if CI:
        assert Path("/usr/bin/chromium").exists(), "CI installs Debian's chromium"


def test_the_report_command(run, tmp_path) -> None:
    page = tmp_path / "net.html"
    result = run("report", "hw3-q3", "-o", str(page))
    assert result.exit_code == 0
    text = page.read_text(encoding="utf-8")
    assert text.startswith("<!DOCTYPE html>") and "floor-drops-input" in text
    assert "layers[2]" in text and "<svg" in text
