"""``--explain``: every worked number, read back and evaluated, equals the reported one."""

from __future__ import annotations

import math
import re
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from convcalc.analysis import analyse
from convcalc.errors import ConvcalcError
from convcalc.spec.validate import load_spec
from convcalc.views.explain import explain, render
from tests.budget import CI, examples
from tests.latex import compiles, needs_pdflatex
from tests.oracle import out_size

GOLDEN = Path(__file__).parent / "golden"


def evaluate(text: str) -> Fraction | float:
    """A rendered step read back by an evaluator of its own: ⌊a / b⌋ and ⌈a / b⌉ on exact
    fractions, ``·`` a product, ``−`` a minus, a decimal a double (as PyTorch's scale)."""
    source = text.replace("·", "*").replace("−", "-").replace(",", "")
    source = source.replace("⌊", "_floor(").replace("⌋", ")")
    source = source.replace("⌈", "_ceil(").replace("⌉", ")")
    if not re.fullmatch(r"(?:[0-9.+\-*/() ]|_floor|_ceil)*", source):
        raise ValueError(f"not a number expression: {text!r}")
    source = re.sub(r"(?<![\d.])(\d+)(?![\d.])", r"_F(\1)", source)
    names = {"_F": Fraction, "_floor": math.floor, "_ceil": math.ceil, "__builtins__": {}}
    return eval(source, names)  # type: ignore[no-any-return]  # digits, operators, 3 names


def worked_lines(text: str) -> list[tuple[str, list[str]]]:
    """Each ``Q = a = b = value`` line of a text explanation: the quantity and its steps."""
    found = []
    for raw in text.splitlines():
        line = raw.strip().split("   (")[0]
        if " = " not in line:
            continue
        quantity, *steps = line.split(" = ")
        found.append((quantity, steps))
    return found


def check_every_step(text: str) -> int:
    """Every step that holds only numbers evaluates to the line's value; returns how many."""
    checked = 0
    for quantity, steps in worked_lines(text):
        value = evaluate(steps[-1])
        for step in steps[:-1]:
            if re.search(r"[A-Za-z_]", step.replace("_floor", "")):
                continue  # the symbolic form
            assert evaluate(step) == value, f"{quantity}: {step} ≠ {steps[-1]}"
            checked += 1
    return checked


# --- the seed ------------------------------------------------------------------------------


def test_the_homework_question_3_worked_as_the_solution_writes_it(run) -> None:
    result = run("shape", "hw3-q3", "--explain")
    assert result.exit_code == 0
    text = result.output
    # the seed: ⌊(128 + 2(0) − 1(8−1) − 1)/2⌋ + 1 = 61, ⌊(61 + 2(0) − 1(5−1) − 1)/5⌋ + 1 = 12,
    # ⌊(12 + 2(1) − 1(4−1) − 1)/1⌋ + 1 = 11; 128 × 4 × 4 × 32 = 65,536 weights (+ 128 biases)
    assert "⌊(128 + 2·0 − 1·(8 − 1) − 1) / 2⌋ + 1 = ⌊120 / 2⌋ + 1 = 61" in text
    assert "⌊(61 + 2·0 − 1·(5 − 1) − 1) / 5⌋ + 1 = ⌊56 / 5⌋ + 1 = 12" in text
    assert "⌊(12 + 2·1 − 1·(4 − 1) − 1) / 1⌋ + 1 = ⌊10 / 1⌋ + 1 = 11" in text
    assert "parameters = 128·32·4·4 + 128 = 65,664" in text
    assert "values = 128·11·11 = 15,488" in text  # the seed's 15488 dimensions
    assert check_every_step(text) >= 8


@pytest.mark.parametrize("fmt", ["table", "markdown", "latex"])
def test_golden_explanations(run, update_golden: bool, fmt: str) -> None:
    result = run("shape", "hw3-q3", "--explain", "--format", fmt)
    golden = GOLDEN / f"hw3-q3.explain.{ {'table': 'txt', 'markdown': 'md', 'latex': 'tex'}[fmt] }"
    if update_golden:
        golden.write_text(result.stdout, encoding="utf-8")
    assert result.stdout == golden.read_text(encoding="utf-8")


# --- every rule, read back -----------------------------------------------------------------


@st.composite
def windowed_layers(draw: Any) -> tuple[list[int], dict[str, Any]]:
    rank = draw(st.integers(1, 3))
    shape = [draw(st.integers(1, 4))] + [draw(st.integers(1, 40)) for _ in range(rank)]
    kinds = ["conv", "conv_same", "conv_transpose", "maxpool", "avgpool", "adaptive_avgpool"]
    kind = draw(st.sampled_from([*kinds, "pad", "upsample"]))
    k, s = draw(st.integers(1, 7)), draw(st.integers(1, 4))
    p, d = draw(st.integers(0, 3)), draw(st.integers(1, 3))
    layer: dict[str, Any]
    if kind == "conv":
        layer = {"type": "conv", "out_channels": 2, "kernel_size": k, "stride": s}
        layer |= {"padding": p, "dilation": d}
    elif kind == "conv_same":
        layer = {"type": "conv", "out_channels": 2, "kernel_size": k, "padding": "same"}
        layer["dilation"] = d
    elif kind == "conv_transpose":
        op = draw(st.integers(0, max(s, d) - 1))
        layer = {"type": "conv_transpose", "out_channels": 2, "kernel_size": k, "stride": s}
        layer |= {"padding": p, "dilation": d, "output_padding": op}
    elif kind in ("maxpool", "avgpool"):
        layer = {"type": kind, "kernel_size": k, "stride": s, "padding": min(p, k // 2)}
        layer["ceil_mode"] = draw(st.booleans())
        if kind == "maxpool":
            layer["dilation"] = d
    elif kind == "adaptive_avgpool":
        layer = {"type": kind, "output_size": draw(st.integers(1, 9))}
    elif kind == "pad":
        pairs = draw(st.integers(1, rank + 1))  # the channels too, when it pads every dimension
        layer = {
            "type": "pad",
            "padding": draw(st.lists(st.integers(-2, 3), min_size=2 * pairs, max_size=2 * pairs)),
        }
    else:
        scale = draw(st.sampled_from([0.5, 1.5, 2.0, 0.29, 3.0, 1.7]))
        layer = {"type": "upsample", "scale_factor": scale}
    return shape, layer


@settings(max_examples=examples(600))
@given(case=windowed_layers())
def test_every_worked_size_evaluates_to_the_reported_size(case) -> None:
    """For random layers of every sized kind: each step of each worked line, parsed back by the
    test's own evaluator, equals the line's value, and each dimension's value equals the
    reported output size (and, for conv and the pools, the independent oracle's)."""
    shape, layer = case
    try:
        report = analyse(load_spec({"input": shape, "layers": [layer]}))
    except ConvcalcError:
        assume(False)
        return
    text = render(report, explain(report), "text")
    check_every_step(text)
    entry = report.layers[0]
    names = {1: ["L"], 2: ["H", "W"], 3: ["D", "H", "W"]}[len(shape) - 1]
    dims = dict(zip(names, entry.output_shape[1:], strict=True))
    pads = layer["padding"] if layer["type"] == "pad" else []
    if len(pads) == 2 * len(shape):  # the channels padded too: pairs run last dimension first
        dims["C"] = shape[0] + pads[-2] + pads[-1]
    worked = {q: evaluate(steps[-1]) for q, steps in worked_lines(text) if q in dims}
    assert worked  # pad may work out only the dimensions it pads (the last ones)
    assert worked == {q: dims[q] for q in worked}
    if layer["type"] == "pad":  # it works out the dimensions it pads: the last ones
        assert set(worked) == set(["C", *names][-(len(layer["padding"]) // 2) :])
    else:
        assert set(worked) == set(dims)
    if layer["type"] in ("conv", "maxpool", "avgpool") and layer.get("padding") != "same":
        for name, n in zip(names, shape[1:], strict=True):
            expected = out_size(
                layer["type"],
                n,
                layer["kernel_size"],
                layer["stride"],
                layer["padding"],
                layer.get("dilation", 1),
                0,
                layer.get("ceil_mode", False),
            )
            assert worked[name] == expected


def test_ceil_mode_says_when_the_last_window_is_dropped(run, write) -> None:
    # 6 → ceil mode, k 2, s 2, p 1: ⌈(6 + 2 − 1 − 1)/2⌉ + 1 = 4, but the 4th window would
    # start at 3·2 = 6 ≥ 6 + 1? no: 6 < 7, kept. With L = 5: ⌈5/2⌉ + 1 = 4, start 6 ≥ 5 + 1: dropped
    path = write(
        "input: [1, 5]\nlayers:\n  - {type: maxpool, kernel_size: 2, stride: 2, padding: 1, "
        "ceil_mode: true}\n"
    )
    text = run("shape", path, "--explain").output
    assert "L = ⌈(L_in + 2·p − d·(k − 1) − 1) / s⌉ + 1 − 1" in text
    assert "(out − 1)·s = 6 ≥ L_in + p = 6" in text
    assert "= 3" in text


def test_blocks_explain_their_joins(run) -> None:
    text = run("shape", "googlenet", "--explain", "--depth", "2").output
    assert "C = 64 + 128 + 32 + 32 = 256" in text  # inception 3a, as published
    check_every_step(text)
    text = run("shape", "resnet18", "--explain", "--depth", "2").output
    assert "shortcut the input itself (identity): added element-wise" in text
    check_every_step(text)


def test_every_zoo_explanation_reads_back(run) -> None:
    specs = sorted((Path(__file__).parents[1] / "specs").glob("*.yaml"))
    names = [p.stem for p in specs if p.stem != "five-stages"]  # that one has unknowns
    assert len(names) >= 14
    for name in names[:: 1 if CI else 4]:
        result = run("shape", name, "--explain")
        assert result.exit_code == 0, name
        assert check_every_step(result.output) > 0, name


def test_explain_options_that_do_not_fit(run) -> None:
    result = run("shape", "hw3-q3", "--format", "latex")
    assert result.exit_code == 2 and "--format latex is for --explain" in result.stderr
    result = run("shape", "hw3-q3", "--explain", "--format", "json")
    assert result.exit_code == 2 and "not json" in result.stderr


# --- LaTeX compiles ------------------------------------------------------------------------


@needs_pdflatex
@pytest.mark.parametrize("name", ["hw3-q3", "resnet18", "googlenet", "unet", "inception_v3"])
def test_latex_compiles_with_pdflatex(run, tmp_path, name: str) -> None:
    """A real TeX engine builds each document, with no error and no line running into the
    margin."""
    if name != "hw3-q3" and not CI:
        pytest.skip("long; CI runs it")
    compiles(run("shape", name, "--explain", "--format", "latex").output, tmp_path, name)


def test_a_long_network_is_explained_without_recursion() -> None:
    """3,000 layers in one block: its parameters are one long sum (a flat expression)."""
    one = {"type": "conv", "out_channels": 1, "kernel_size": 1}
    spec = {"input": [1, 8, 8], "layers": [{"type": "sequential", "layers": [one] * 3000}]}
    report = analyse(load_spec(spec))
    text = render(report, explain(report), "text")
    assert "parameters = 2 + 2 + 2" in text and "= 6,000" in text
    assert render(report, explain(report), "latex").count("align*") == 2 * 3002


def test_text_is_the_explanations_plain_form(run) -> None:
    """`--format text` for --explain: the same as the table form."""
    for command in (["shape", "hw3-q3"], ["solve", "--in", "64", "--out", "4", "--kernel", "49"]):
        text = run(*command, "--explain", "--format", "text")
        assert text.exit_code == 0
        assert text.output == run(*command, "--explain").output
        refused = run(*command, "--format", "text")
        assert refused.exit_code == 2 and "--format text is for " in refused.stderr
    mlp = ("mlp", "--inputs", "3", "--hidden", "2", "--classes", "2")
    assert run(*mlp, "--explain", "--format", "text").output == run(*mlp, "--explain").output
    assert run(*mlp, "--format", "text").exit_code == 2
