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
from tests.budget import FULL, QUICK_SPECS, examples, spec_params
from tests.latex import compiles, needs_pdflatex
from tests.oracle import out_size
from tests.torchvision_oracle import import_torchvision

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


@pytest.mark.every_case
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
    for name in names if FULL else [n for n in names if n in QUICK_SPECS]:
        result = run("shape", name, "--explain")
        assert result.exit_code == 0, name
        assert check_every_step(result.output) > 0, name


def test_explain_options_that_do_not_fit(run) -> None:
    result = run("shape", "hw3-q3", "--format", "latex")
    assert result.exit_code == 2 and "--format latex is for --explain" in result.stderr
    result = run("shape", "hw3-q3", "--explain", "--format", "json")
    assert result.exit_code == 2 and "not json" in result.stderr


# --- LaTeX compiles ------------------------------------------------------------------------


@pytest.mark.full
@needs_pdflatex
@pytest.mark.parametrize(
    "name",
    spec_params(["hw3-q3", "resnet18", "googlenet", "unet", "inception_v3"], quick={"hw3-q3"}),
)
def test_latex_compiles_with_pdflatex(run, tmp_path, name: str) -> None:
    """A real TeX engine builds each document, with no error and no line running into the
    margin."""
    compiles(run("shape", name, "--explain", "--format", "latex").output, tmp_path, name)


@pytest.mark.full
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


# --- what each layer does to the shape, said truly ---------------------------------------------


def explained(shape: list[int], layers: list[dict[str, Any]], fmt: str = "text") -> list[str]:
    """The text of each leaf's section (its heading's line dropped), in order."""
    report = analyse(load_spec({"input": shape, "layers": layers}))
    sections = [s for s in explain(report) if s.path]
    if fmt != "text":
        return [render(report, sections, fmt)]
    from convcalc.views.explain import render_lines

    return ["\n".join(render_lines(section)) for section in sections]


def worked(text: str) -> dict[str, Fraction | float]:
    """Each size's ``Q = … = v`` line: its quantity and value, every numeric step checked
    first (the parameters left out)."""
    check_every_step(text)
    return {q: evaluate(steps[-1]) for q, steps in worked_lines(text) if q != "parameters"}


def test_the_new_size_rules_derive_their_own_values() -> None:
    """Each new rule's derivation evaluates to the rule's value; ⌈L/2⌉ is the number of
    positions x[0::2] keeps of L padded to an even size, counted by range."""
    from convcalc import arith

    for n in range(1, 40):
        assert arith.ceil_half(n) == len(range(0, n + n % 2, 2))
        cases = [
            (arith.ceil_half, (n,)),
            (arith.scaled, (n, 2)),
            (arith.extended, (n, 1)),
            (arith.kept, (n,)),
            (arith.set_by, (n, 7, "out_features")),
        ]
        for rule, args in cases:
            assert arith.derive(rule, "H", args).expr.evaluate() == rule(*args)


SWIN = [  # on an odd channels-last grid: the windows padded, the merging pads too
    {"type": "layernorm", "normalized_shape": 8},
    {
        "type": "shifted_window_attention",
        "window_size": [4, 4],
        "shift_size": [2, 2],
        "num_heads": 2,
    },
    {
        "type": "shifted_window_attention",
        "window_size": [8, 12],
        "shift_size": [3, 3],
        "num_heads": 2,
    },
    {"type": "patch_merging"},
    {"type": "patch_merging_v2"},
]


@pytest.mark.torch
def test_swin_layers_are_explained_as_torchvision_computes_them() -> None:
    """Patch merging's H, W, C worked out equal torchvision's PatchMerging on a 7×9 grid; the
    window attention keeps torchvision's shape and says the padding and roll it does
    (torchvision skips the roll where one window spans the padded side)."""
    torch = pytest.importorskip("torch")
    swin = import_torchvision().models.swin_transformer
    texts = explained([7, 9, 8], SWIN)
    x = torch.zeros(1, 7, 9, 8)
    assert "63 groups of 8, each by its own mean and variance" in texts[0]
    assert tuple(torch.nn.LayerNorm(8)(x).shape) == (1, 7, 9, 8)
    attention = swin.ShiftedWindowAttention(8, [4, 4], [2, 2], 2)
    assert tuple(attention(x).shape) == (1, 7, 9, 8)
    # the grid padded to whole 4×4 windows: the least multiples of 4 from 7 and 9
    padded = [next(m for m in range(n, n + 4) if m % 4 == 0) for n in (7, 9)]
    count = (padded[0] // 4) * (padded[1] // 4)
    assert f"attention inside {count} windows of 4×4" in texts[1]
    assert f"padded to {padded[0]}×{padded[1]}" in texts[1] and "rolled by 2×2" in texts[1]
    assert "at most the 16 tokens" in texts[1]
    # one 8×12 window covers the padded grid: torchvision rolls nothing
    assert "1 window of 8×12" in texts[2] and "rolled" not in texts[2]
    assert "each token mixes the 96 tokens" in texts[2]
    merging = swin.PatchMerging(8)
    merged = merging(x)
    assert worked(texts[3]) == dict(zip("HWC", merged.shape[1:], strict=True))
    count = sum(p.numel() for p in merging.parameters())
    assert f"parameters = 16·32 + 32 + 32 = {count:,}" in texts[3]
    assert "⌈H_in / 2⌉ = ⌈7 / 2⌉ = 4" in texts[3] and "odd: padded by one to 8" in texts[3]
    assert "then LayerNorm and a linear 4·C → 2·C" in texts[3]
    again = swin.PatchMergingV2(16)(merged)
    assert worked(texts[4]) == dict(zip("HWC", again.shape[1:], strict=True))
    assert "then a linear 4·C → 2·C and LayerNorm" in texts[4]
    for text in texts:
        assert "each value on its own" not in text


VIT = [
    {"type": "class_token"},
    {"type": "position_embedding"},
    {"type": "multihead_attention", "num_heads": 2},
    {"type": "layernorm", "normalized_shape": 8},
    {"type": "select", "dim": 0, "index": 0},
    {"type": "linear", "out_features": 3},
]


@pytest.mark.torch
def test_vit_layers_are_explained_as_torch_computes_them() -> None:
    """The class token's L and E, the linear's features, against torch's own ops; attention's
    note is true: changing one token changes every token's output (and only the shape is
    kept); the layernorm's groups are those torch normalises (one changed value moves its own
    group alone)."""
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    texts = explained([5, 8], VIT)
    x = torch.randn(1, 5, 8)
    with_token = torch.cat([torch.zeros(1, 1, 8), x], dim=1)
    assert worked(texts[0]) == {"L": with_token.shape[1], "E": with_token.shape[2]}
    assert "a learned class token put before the 5 tokens" in texts[0]
    assert "a learned 6×8 embedding added" in texts[1]
    attention = torch.nn.MultiheadAttention(8, 2, batch_first=True).eval()
    with torch.no_grad():
        out = attention(with_token, with_token, with_token)[0]
        moved = with_token.clone()
        moved[0, 0, 0] += 1
        changed = (attention(moved, moved, moved)[0] - out).abs().amax(dim=2)[0]
    assert out.shape == with_token.shape and bool((changed > 0).all())
    assert (
        f"each of the {with_token.shape[1]} positions mixes all {with_token.shape[1]}" in (texts[2])
    )
    norm = torch.nn.LayerNorm(8)
    moved = with_token.clone()
    moved[0, 2, 3] += 1
    rows = (norm(moved) - norm(with_token)).abs().amax(dim=2)[0] > 0
    assert rows.tolist() == [i == 2 for i in range(6)]  # one group: one row of 8 values
    assert "normalised over the last 8 values: 6 groups of 8" in texts[3]
    picked = torch.select(with_token, 1, 0)
    assert "that dimension is removed" in texts[4] and picked.shape[1:] == (8,)
    assert worked(texts[5]) == {"features": torch.nn.Linear(8, 3)(picked).shape[-1]}
    assert "features = out_features = 3" in texts[5]


ELEMENTWISE = [{"type": t} for t in ("relu", "gelu", "sigmoid", "hardswish", "identity")]
MIXING = [
    ({"type": "groupnorm", "num_groups": 2}, "in 2 groups of 3"),
    ({"type": "channel_shuffle", "groups": 2}, "2 groups of 3 interleaved"),
    ({"type": "softmax", "dim": 1}, "along dimension 1"),
    ({"type": "layer_scale", "layer_scale": 0.5}, "multiplied by its learned factor"),
]


@pytest.mark.torch
def test_only_layers_that_work_on_each_value_alone_say_so() -> None:
    """Brute force on PyTorch's modules: a layer said to work on each value on its own changes
    one output value when one input value changes; the layers that mix say how instead, and
    do what they say (groupnorm moves the group's values, channel_shuffle puts the value in
    another channel, softmax moves its line along dim 1)."""
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    x = torch.randn(1, 6, 3, 3)
    moved = x.clone()
    moved[0, 1, 1, 1] += 1
    modules = {
        "relu": torch.nn.ReLU(),
        "gelu": torch.nn.GELU(),
        "sigmoid": torch.nn.Sigmoid(),
        "hardswish": torch.nn.Hardswish(),
        "identity": torch.nn.Identity(),
        "groupnorm": torch.nn.GroupNorm(2, 6),
        "channel_shuffle": torch.nn.ChannelShuffle(2),
        "softmax": torch.nn.Softmax(dim=1),
    }
    for layer, text in zip(ELEMENTWISE, explained([6, 3, 3], ELEMENTWISE), strict=True):
        assert text == "shape: unchanged: the layer works on each value on its own"
        module = modules[layer["type"]]
        assert int(((module(moved) - module(x)) != 0).sum()) == 1, layer
    layers = [layer for layer, _ in MIXING]
    for (layer, said), text in zip(MIXING, explained([6, 3, 3], layers), strict=True):
        assert said in text and "shape kept" in text and "each value on its own" not in text
        if layer["type"] == "layer_scale":
            continue  # a per-channel factor: torchvision's CNBlock, no module of its own
        module = modules[layer["type"]]
        with torch.no_grad():
            diff = (module(moved) - module(x)) != 0
        assert module(x).shape == x.shape
        if layer["type"] == "groupnorm":  # channel 1 is in the first group of 3
            assert diff[0, :3].all() and not diff[0, 3:].any()
        elif layer["type"] == "channel_shuffle":
            # channels 0 3 1 4 2 5 out: input channel 1, moved, is output channel 2
            assert int(diff.sum()) == 1 and diff[0, 2, 1, 1]
        else:  # softmax along dim 1: the 6 channels at that position
            assert diff[0, :, 1, 1].all() and int(diff.sum()) == 6


def test_block_sums_group_their_thousands(run) -> None:
    """ViT-B/16's encoder layer, by the published formulas (E = 768, MLP 3072): attention
    4E² + 4E with its LayerNorm 2E, the MLP 2·E·3072 + 3072 + E with its LayerNorm 2E."""
    e, m = 768, 3072
    first, second = 4 * e * e + 4 * e + 2 * e, 2 * e * m + m + e + 2 * e
    text = run("shape", "vit_b_16", "--explain", "--depth", "3").output
    assert f"parameters = {first:,} + {second:,} = {first + second:,}" in text
    assert text.rstrip().splitlines()[-2].endswith(" = 86,567,656")  # torchvision's figure
    equations = [line.split("   (")[0] for line in text.splitlines() if " = " in line]
    assert not [e for e in equations if re.search(r"(?<![\d.,])\d{4,}(?![\d.,])", e)]


@pytest.mark.full
@needs_pdflatex
def test_the_new_layers_explained_in_markdown_and_latex(tmp_path) -> None:
    """Markdown lists each note as a bullet; the LaTeX document compiles, the notes in it."""
    (markdown,) = explained([7, 9, 8], SWIN, "markdown")
    assert "- shape: attention inside 6 windows of 4×4" in markdown
    assert "- `H = ⌈H_in / 2⌉ = ⌈7 / 2⌉ = 4   (H_in = 7 is odd: padded by one to 8)`" in markdown
    (latex,) = explained([7, 9, 8], SWIN, "latex")
    assert "\\left\\lceil \\frac{H_{\\mathrm{in}}}{2} \\right\\rceil" in latex
    assert "C &= 2 \\cdot C_{\\mathrm{in}}" in latex
    compiles(latex, tmp_path, "swin")
    (latex,) = explained([5, 8], VIT, "latex")
    assert "L &= L_{\\mathrm{in}} + 1" in latex and "self-attention" in latex
    compiles(latex, tmp_path, "vit")
