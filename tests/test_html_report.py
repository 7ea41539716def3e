"""``convcalc.render.html``: a self-contained page, checked as text and in headless Chromium
(console, the blocks' expand/collapse self-test, a screenshot for docs/images/).

The numbers the page shows (totals, every row of the layer table, the costs table, the
receptive fields) are read back from it and compared with numbers from outside convcalc: the
homework's answer for hw3-q3 worked by hand, and PyTorch, autograd, torchinfo, fvcore, ptflops
and thop on each network's PyTorch model (tests/independent.py).
"""

from __future__ import annotations

import contextlib
import copy
import html
import io
import logging
import math
import re
import shutil
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

import convcalc
from convcalc.analysis import Costing
from convcalc.render.html import to_html
from convcalc.views.lint import lint
from tests.budget import CI, spec_params
from tests.conftest import Invoke
from tests.independent import (
    HW3_Q3_MACS,
    HW3_Q3_MULT_ADDS,
    HW3_Q3_OUTPUTS,
    HW3_Q3_PARAMS,
    HW3_Q3_SHAPES,
    HW3_Q3_TOTAL,
    PLAIN_SPECS,
    pair,
    parse_count,
    parse_shape,
    plain_model,
    torch_numbers,
    torchinfo_megabytes,
)
from tests.test_draw import (
    IMAGES,
    ROOT,
    check_against_torch,
    chromium,
    needs_chromium,
    png_colours,
    screenshot,
)


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


# --- the numbers on the page ------------------------------------------------------------------

ROW = re.compile(
    r'data-path="(?P<path>[^"]*)">(?:<summary class="row">)?<div class="layer"[^>]*>'
    r"(?:<span[^>]*></span>)?(?P<layer>.*?)</div><div class=\"mono\">(?P<shape>.*?)</div>"
    r'<div class="n">(?P<params>.*?)</div><div class="n">(?P<macs>.*?)</div>'
    r'<div class="n">(?P<rf>.*?)</div><div class="n">(?P<jump>.*?)</div>'
    r'<div class="path mono">(?P<cell>.*?)</div>'
)
TOTAL = re.compile(r'<div class="total"><b>(?P<value>[^<]*)</b><span>(?P<label>[^<]*)</span>')
RF_SENTENCE = re.compile(
    r"<p>Receptive field: at (?P<path>\S+) \(.*?\) (?P<size>\d+) input positions, "
    r"(?P<jump>\d+) apart(?P<after>; after it, every output value sees the whole input)?\.</p>"
)


def rows(text: str) -> dict[str, dict[str, str]]:
    """The layer table: path → its cells (layer, shape, params, macs, rf, jump), unescaped."""
    found = {
        match["path"]: {key: html.unescape(value) for key, value in match.groupdict().items()}
        for match in ROW.finditer(text)
    }
    for path, cells in found.items():  # the path cell shows the path, in spans broken at dots
        assert re.sub(r"<span>|</span>|<wbr>", "", cells.pop("cell")) == html.unescape(path)
    assert len(found) == text.count('class="path mono"'), "a row the pattern does not read"
    return found


def totals(text: str) -> dict[str, str]:
    """The totals at the top: label → value (``"parameters": "71,840"``)."""
    return {html.unescape(m["label"]): m["value"] for m in TOTAL.finditer(text)}


def megabytes(shown: str) -> Decimal:
    """``2,302.67 MB`` → Decimal("2302.67")."""
    match = re.fullmatch(r"(\d{1,3}(?:,\d{3})*\.\d\d) MB", shown)
    assert match, shown
    return Decimal(match.group(1).replace(",", ""))


def costs_table(text: str) -> dict[str, dict[str, int]]:
    """The costs table: layer type (and "Total") → convention → count."""
    table = re.search(r'<table class="costs">(.*?)</table>', text, re.S)
    assert table
    head = re.findall(r"<th>(.*?)</th>", table.group(1))
    assert head[0] == "Layer type"
    out = {}
    for row in re.findall(r"<tr>(.*?)</tr>", table.group(1).split("</thead>")[1]):
        cells = [re.sub(r"</?b>", "", c) for c in re.findall(r"<td>(.*?)</td>", row)]
        out[cells[0]] = {c: parse_count(v) for c, v in zip(head[1:], cells[1:], strict=True)}
    return out


def test_hw3_q3_page_is_the_homeworks() -> None:
    """Every number of hw3-q3's page against the homework's answer, worked by hand."""
    text, _ = page("hw3-q3")
    table = rows(text)
    assert sorted(table) == ["layers[0]", "layers[1]", "layers[2]"]
    # receptive field and jump, by hand: size r and jump j start at 1 and 1; a layer of kernel
    # k and stride s makes r + (k − 1)·j and j·s: 8, 2; 8 + 4·2 = 16, 10; 16 + 3·10 = 46, 10
    fields = [(8, 2), (16, 10), (46, 10)]
    for i, (shape, params, macs, (rf, jump)) in enumerate(
        zip(HW3_Q3_SHAPES, HW3_Q3_PARAMS, HW3_Q3_MULT_ADDS, fields, strict=True)
    ):
        row = table[f"layers[{i}]"]
        assert parse_shape(row["shape"]) == shape
        assert parse_count(row["params"]) == params
        assert parse_count(row["macs"]) == macs
        assert (parse_count(row["rf"]), parse_count(row["jump"])) == (rf, jump)
    shown = totals(text)
    assert parse_count(shown["parameters"]) == HW3_Q3_TOTAL
    assert parse_count(shown["trainable parameters"]) == HW3_Q3_TOTAL
    assert parse_count(shown["multiply-adds"]) == sum(HW3_Q3_MULT_ADDS)
    assert parse_count(shown["output values (128×11×11)"]) == HW3_Q3_OUTPUTS == 128 * 11 * 11
    # float32, MB of 10⁶ bytes: 71,840 · 4; the input 3·128·128 · 4; torchinfo's estimate,
    # the outputs of the layers with parameters twice (values and gradients); the peak, the
    # largest input + output of one layer (the first conv: 3·128·128 + 32·61·61 values)
    assert shown["parameters (float32)"] == f"{71_840 * 4 / 1e6:.2f} MB" == "0.29 MB"
    assert shown["input (float32)"] == f"{3 * 128 * 128 * 4 / 1e6:.2f} MB" == "0.20 MB"
    fwd = 2 * (32 * 61 * 61 + 128 * 11 * 11) * 4
    assert shown["forward/backward (torchinfo's estimate)"] == f"{fwd / 1e6:.2f} MB"
    peak = max(3 * 128 * 128 + 32 * 61 * 61, 32 * 61 * 61 + 32 * 12 * 12, 32 * 12 * 12 + 15_488)
    assert shown["peak activations (inference)"] == f"{peak * 4 / 1e6:.2f} MB" == "0.67 MB"
    # thop and fvcore: no bias term, output elements · in_channels · k² (the pool 0):
    # 32·61·61 · 3·64 and 128·11·11 · 32·16; ptflops: torchinfo's conv, and 2 per input
    # element of the max pool (its hook and the F.max_pool2d it wraps): 2 · 32·61·61; convcalc:
    # every weight once per output position, as thop and fvcore here
    conv_no_bias = 32 * 61 * 61 * 3 * 64 + 128 * 11 * 11 * 32 * 16
    assert conv_no_bias == sum(HW3_Q3_MULT_ADDS)
    pool = 2 * 32 * 61 * 61
    assert costs_table(text) == {
        "conv": {
            "convcalc": conv_no_bias,
            "torchinfo": sum(HW3_Q3_MACS),
            "fvcore": conv_no_bias,
            "ptflops": sum(HW3_Q3_MACS),
            "thop": conv_no_bias,
        },
        "maxpool": {"convcalc": 0, "torchinfo": 0, "fvcore": 0, "ptflops": pool, "thop": 0},
        "Total": {
            "convcalc": conv_no_bias,
            "torchinfo": sum(HW3_Q3_MACS),
            "fvcore": conv_no_bias,
            "ptflops": sum(HW3_Q3_MACS) + pool,
            "thop": conv_no_bias,
        },
    }
    sentence = RF_SENTENCE.search(text)
    assert sentence and (sentence["path"], sentence["size"], sentence["jump"]) == (
        "layers[2]",
        "46",
        "10",
    )
    assert sentence["after"] is None


@pytest.mark.torch
@pytest.mark.parametrize("name", ["hw3-q3", "lenet5", "resnet18", "googlenet", "unet"])
def test_every_number_on_the_page_is_torchs(name: str) -> None:
    """The totals and every row of the layer table against PyTorch and torchinfo: a leaf's row
    is the torch call it stands for (shape, parameters, FlopCounterMode's multiply-adds), a block's
    row the sums over the calls of the leaves it holds; the figures on the page show torch's
    numbers too. torchinfo prints the memory figures itself."""
    text, _ = page(name)
    numbers = torch_numbers(name)
    report = convcalc.analyse(convcalc.load_spec(name))
    calls = pair(list(report.leaves()), numbers.leaves)
    table = rows(text)
    assert set(table) == {entry.path for entry in report.walk()}
    checked = 0
    for entry in report.walk():
        row, where = table[entry.path], f"{name} {entry.path}"
        if entry.is_block:
            inside = [c for p, c in calls.items() if p.startswith(entry.path + ".")]
            assert parse_count(row["params"]) == sum(c.params for c in inside), where
            assert parse_count(row["macs"]) == sum(c.flops for c in inside), where
        elif entry.path in calls:
            call = calls[entry.path]
            assert parse_shape(row["shape"]) == call.output_shape, where
            assert parse_count(row["params"]) == call.params, where
            assert parse_count(row["macs"]) == call.flops, where
            checked += 1
        else:
            assert entry.layer.functional, where
    assert checked == len(numbers.leaves)
    shown = totals(text)
    assert parse_count(shown["parameters"]) == numbers.params
    assert parse_count(shown["trainable parameters"]) == numbers.trainable
    assert parse_count(shown["multiply-adds"]) == numbers.flops
    outputs = "×".join(str(n) for n in numbers.output_shape)
    assert parse_count(shown[f"output values ({outputs})"]) == math.prod(numbers.output_shape)
    torchinfo_mb = {k: Decimal(v) for k, v in torchinfo_megabytes(numbers.summary).items()}
    assert megabytes(shown["parameters (float32)"]) == torchinfo_mb["Params size"]
    assert megabytes(shown["input (float32)"]) == torchinfo_mb["Input size"]
    fwd = torchinfo_mb["Forward/backward pass size"]
    assert megabytes(shown["forward/backward (torchinfo's estimate)"]) == fwd
    if name in PLAIN_SPECS:  # a chain: the peak is the largest input + output of one layer
        values = max(math.prod(c.input_shape) + math.prod(c.output_shape) for c in numbers.leaves)
        peak = megabytes(shown["peak activations (inference)"])
        assert peak == Decimal(f"{values * 4 / 1e6:.2f}")
    figures = re.findall(r"<svg.*?</svg>", text, re.S)
    assert len(figures) == 2
    for figure in figures:
        check_against_torch(figure, name)


def _tool_counts(name: str) -> dict[str, dict[str, int]]:
    """A plain network's multiply-adds by layer type under each tool, each leaf module run
    alone through PyTorch's FlopCounterMode (÷ 2, convcalc's convention), torchinfo, fvcore,
    ptflops and thop (on the CPU, weights zero) with the input
    torch gave it; the types every tool counts 0 left out, and the totals under "Total"."""
    torch = pytest.importorskip("torch")
    pytest.importorskip("fvcore")
    pytest.importorskip("thop")
    from tests.torchvision_oracle import import_torchvision, kind_of

    import_torchvision()  # ptflops imports torchvision.ops: the shim must come first
    ptflops = pytest.importorskip("ptflops")
    from fvcore.nn import FlopCountAnalysis  # type: ignore[import-untyped]
    from torch.utils.flop_counter import FlopCounterMode

    from tests.test_convention_thop import thop_calls

    logging.getLogger("fvcore").setLevel(logging.ERROR)
    model, input_shape = plain_model(name)
    model = model.to_empty(device="cpu").eval()
    with torch.no_grad():
        for tensor in model.parameters():
            tensor.zero_()
    x = torch.zeros(1, *input_shape)
    by_type: dict[str, dict[str, int]] = {}
    for module in model:
        alone = torch.nn.Sequential(module)
        with torch.no_grad():
            analysis = FlopCountAnalysis(alone, x)
            analysis.unsupported_ops_warnings(False)
            analysis.uncalled_modules_warnings(False)
            quiet = io.StringIO()
            with contextlib.redirect_stdout(quiet), contextlib.redirect_stderr(quiet):
                pt, _ = ptflops.get_model_complexity_info(
                    alone, tuple(x.shape[1:]), as_strings=False, print_per_layer_stat=False
                )
        meta = copy.deepcopy(alone).to_empty(device="meta")
        counter = FlopCounterMode(display=False)
        with counter, torch.no_grad():
            alone(x)
        counts = {
            "convcalc": counter.get_total_flops() // 2,
            "torchinfo": _torchinfo_count(alone, x),
            "fvcore": int(analysis.total()),
            "ptflops": int(pt),
            "thop": thop_calls(meta, tuple(x.shape[1:]))[0],
        }
        kind = by_type.setdefault(kind_of(module), dict.fromkeys(counts, 0))
        for tool, n in counts.items():
            kind[tool] += n
        with torch.no_grad():
            x = module(x)
    by_type = {k: v for k, v in by_type.items() if any(v.values())}
    by_type["Total"] = {
        t: sum(v[t] for v in by_type.values()) for t in next(iter(by_type.values()))
    }
    return by_type


def _torchinfo_count(model: Any, x: Any) -> int:
    torchinfo = pytest.importorskip("torchinfo")
    return int(torchinfo.summary(model, input_data=x, verbose=0).total_mult_adds)


@pytest.mark.full
@pytest.mark.torch
@pytest.mark.filterwarnings("ignore:`torch.jit.script` is deprecated:DeprecationWarning")
@pytest.mark.parametrize("name", ["hw3-q3", "lenet5"])
def test_the_costs_table_is_the_tools(name: str) -> None:
    """The costs table's every cell is what FlopCounterMode ÷ 2, torchinfo, fvcore, ptflops and
    thop count."""
    text, _ = page(name)
    assert costs_table(text) == _tool_counts(name)


def _field(model: Any, input_shape: tuple[int, ...], position: int) -> tuple[int, int]:
    """The first and last input row an output value at (``position``, ``position``) of channel
    0 depends on, by autograd."""
    import torch

    x = torch.zeros(1, *input_shape, requires_grad=True)
    y = model(x)
    index = (0, 0, *([position] * (y.dim() - 2)))
    y[index].backward()
    assert x.grad is not None
    rows_read = torch.nonzero(
        x.grad[0].abs().sum(dim=tuple(i for i in range(x.dim() - 1) if i != 1))
    )
    return int(rows_read.min()), int(rows_read.max())


@pytest.mark.full
@pytest.mark.torch
@pytest.mark.parametrize("name", spec_params(["hw3-q3", "lenet5"], quick={"hw3-q3"}))
def test_receptive_fields_are_autograds(name: str) -> None:
    """Each row's receptive field and jump, found by autograd on the model's prefix up to that
    layer: weights one, biases zero, an input of zeros (so every tanh passes gradients at
    slope 1), each max pool replaced by an average pool of the same window (its gradient
    reaches the whole window, not one winner). The field is the rows one output value in the
    middle reads; the jump is how far the first of them moves for the next output value. A
    row after the linear layers reads "global": every input row is read."""
    torch = pytest.importorskip("torch")
    nn = torch.nn
    model, input_shape = plain_model(name)
    model = model.to_empty(device="cpu").eval()
    with torch.no_grad():
        for param in model.parameters():
            param.copy_(torch.zeros_like(param) if param.dim() == 1 else torch.ones_like(param))
    layers = [
        nn.AvgPool2d(m.kernel_size, m.stride, m.padding) if isinstance(m, nn.MaxPool2d) else m
        for m in model
    ]
    text, _ = page(name)
    table = rows(text)
    compared = 0
    for i in range(len(layers)):
        row = table[f"layers[{i}]"]
        prefix = nn.Sequential(*layers[: i + 1])
        if row["rf"] == "global":
            if isinstance(layers[i], nn.Flatten):
                # 'global' is the README's convention for flatten; a flattened value reads
                # one position's field (lenet5: 16 of the 32 rows): autograd cannot confirm it
                continue
            first, last = _field(prefix, input_shape, 0)
            assert (first, last) == (0, input_shape[1] - 1), f"layers[{i}]"
            assert row["jump"] == ""
            compared += 1
            continue
        size = prefix(torch.zeros(1, *input_shape)).shape[-1]
        middle = (size - 1) // 2
        first, last = _field(prefix, input_shape, middle)
        next_first, _ = _field(prefix, input_shape, middle + 1)
        shown = (parse_count(row["rf"]), parse_count(row["jump"]))
        assert shown == (last - first + 1, next_first - first), f"layers[{i}]"
        compared += 1
    assert compared >= 3


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


@pytest.mark.full
def test_a_deeply_nested_spec_builds_without_recursion() -> None:
    layers: list[object] = [{"type": "relu"}]
    for _ in range(500):
        layers = [{"type": "sequential", "layers": layers}]
    spec = {"input": [4, 8, 8], "layers": layers}
    text = to_html(convcalc.analyse(convcalc.load_spec(spec)), "(spec)")
    assert text.count('<details class="block"') == 500
    assert text.count("<details") == text.count("</details>")


@needs_chromium
@pytest.mark.full  # one Chromium check by default: test_draw.py's
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
    # resnet18's blocks: layer1 (a repeat of two residuals), layer2 to layer4 (a sequential of
    # two residuals each): 4 + 4·2 = 12, as torchvision's 4 layers of 2 BasicBlocks each
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
@pytest.mark.full
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


def test_the_report_command(run: Invoke, tmp_path: Path) -> None:
    page = tmp_path / "net.html"
    result = run("report", "hw3-q3", "-o", str(page))
    assert result.exit_code == 0
    text = page.read_text(encoding="utf-8")
    assert text.startswith("<!DOCTYPE html>") and "floor-drops-input" in text
    assert "layers[2]" in text and "<svg" in text
