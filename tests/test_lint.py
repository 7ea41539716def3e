"""``convcalc.views.lint``: each warning on a case worked by hand and on a near miss, and the window
warnings against autograd.

The oracle: each conv (weights of ones) or average pool alone in torch, on its own input (the
stack's earlier layers run in torch to get it), the sum of its outputs backpropagated. With no
zero weight and no max, an input row has a zero gradient exactly when no window reads it.
Counts are read back from the messages, so the test checks what a student reads.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import assume, example, given, settings
from hypothesis import strategies as st

from convcalc.analysis import LayerRefusal, Report, analyse
from convcalc.errors import ConvcalcError
from convcalc.spec.validate import load_spec
from convcalc.views.lint import Finding, lint, render_text, to_json
from tests.budget import examples, spec_params

SPECS = Path(__file__).resolve().parent.parent / "specs"


def report_of(input_shape: list[int], layers: list[dict[str, Any]], name: str = "net") -> Report:
    return analyse(load_spec({"name": name, "input": input_shape, "layers": layers}))


def findings(input_shape: list[int], layers: list[dict[str, Any]]) -> list[Finding]:
    return lint(report_of(input_shape, layers))


def codes(found: list[Finding]) -> list[tuple[str, str]]:
    return [(f.code, f.path) for f in found]


def conv(k: int, **more: Any) -> dict[str, Any]:
    return {"type": "conv", "out_channels": more.pop("out_channels", 2), "kernel_size": k, **more}


# --- the homework ------------------------------------------------------------------------------


def test_homework_maxpool_drops_a_row_and_a_column() -> None:
    # conv 8/2 on 128: (128 − 8)/2 + 1 = 61, and 120 mod 2 = 0 (nothing dropped). maxpool 5/5 on
    # 61: (61 − 5) mod 5 = 56 mod 5 = 1, so the windows 0–4, …, 55–59 never read row 60 (nor
    # column 60). The last conv is stride 1. A kernel of 6: (61 − 6)/5 + 1 = 12 windows reading
    # 0–59… 55–60; padding 2: (61 + 4 − 5)/5 + 1 = 13.
    report = analyse(load_spec("hw3-q3"))
    found = lint(report)
    assert codes(found) == [("input-size-drops", "input"), ("floor-drops-input", "layers[1]")]
    drop = found[1]
    assert drop.layer == "maxpool 5×5 /5"
    assert "the last 1 row and the last 1 column of its 32×61×61 input" in drop.message
    assert drop.formula == "(61 + 2·0 − 5) mod 5 = 1 ≠ 0"
    assert drop.fix == "kernel 6 (output 12) or padding 2 (output 13) reads to the end"
    # the input: 128 → conv → (128 − 8)/2 + 1 must be ≡ 1 (mod 5) and 128 − 8 even, so
    # (L − 8)/2 ≡ 4 (mod 5): L ≡ 6 (mod 10): 126 and 136. The total stride is 2·5 = 10.
    size = found[0]
    assert "the total stride reaches 10×10 at layers[1]" in size.message
    assert size.formula == "128 mod 10 = 8"
    assert size.fix == "an input of 126 or 136 drops nothing"


# --- the autograd oracle -------------------------------------------------------------------------


@st.composite
def window_stacks(draw: Any, dilated: bool = False) -> tuple[list[int], list[dict[str, Any]]]:
    """1 to 3 convs (ones) or average pools, in 1-D or 2-D, each dimension drawn apart."""
    rank = draw(st.integers(1, 2))
    layers = []
    for _ in range(draw(st.integers(1, 3))):
        k = [draw(st.integers(1, 5)) for _ in range(rank)]
        s = [draw(st.integers(1, 4)) for _ in range(rank)]
        if draw(st.booleans()):
            p = [draw(st.integers(0, 3)) for _ in range(rank)]
            d = [draw(st.integers(1, 2 if dilated else 1)) for _ in range(rank)]
            layers.append(conv(k, stride=s, padding=p, dilation=d, bias=False, out_channels=1))
        else:
            p = [draw(st.integers(0, n // 2)) for n in k]
            ceil = draw(st.booleans())
            layers.append({"type": "avgpool", "kernel_size": k, "stride": s, "padding": p})
            layers[-1]["ceil_mode"] = ceil
    size = [draw(st.integers(1, 30)) for _ in range(rank)]
    return [1, *size], layers


def torch_layer(torch: Any, x: Any, layer: dict[str, Any]) -> Any:
    F = torch.nn.functional
    rank = x.dim() - 2
    k = layer["kernel_size"]
    if layer["type"] == "conv":
        weight = torch.ones(1, x.shape[1], *k, dtype=x.dtype)
        f = {1: F.conv1d, 2: F.conv2d}[rank]
        return f(
            x, weight, stride=layer["stride"], padding=layer["padding"], dilation=layer["dilation"]
        )
    f = {1: F.avg_pool1d, 2: F.avg_pool2d}[rank]
    return f(x, k, layer["stride"], layer["padding"], ceil_mode=layer["ceil_mode"])


def unread_rows(torch: Any, x: Any, layer: dict[str, Any]) -> list[list[int]]:
    """Per spatial dimension, the input indices whose gradient is exactly 0."""
    x = x.detach().clone().requires_grad_(True)
    torch_layer(torch, x, layer).sum().backward()
    grad = x.grad[0].abs().sum(0)
    zero = []
    for axis in range(grad.dim()):
        other = tuple(a for a in range(grad.dim()) if a != axis)
        per = grad.sum(other) if other else grad
        zero.append([i for i, g in enumerate(per.tolist()) if g == 0])
    return zero


NOUNS = {1: ["position"], 2: ["row", "column"]}


def counts(found: list[Finding], code: str, path: str, rank: int, pattern: str) -> list[int]:
    """The number per dimension in a message (0 where that dimension is not mentioned)."""
    hits = [f for f in found if f.code == code and f.path == path]
    if not hits:
        return [0] * rank
    (message,) = [f.message for f in hits]
    result = []
    for noun in NOUNS[rank]:
        match = re.search(pattern.format(noun=noun), message)
        result.append(int(match.group(1)) if match else 0)
    assert any(result), message
    return result


def analysed(shape: list[int], layers: list[dict[str, Any]]) -> Report:
    try:
        return report_of(shape, layers)
    except ConvcalcError:
        assume(False)
        raise


def check_against_autograd(stack: tuple[list[int], list[dict[str, Any]]], exact: bool) -> None:
    torch = pytest.importorskip("torch")
    shape, layers = stack
    report = analysed(shape, layers)
    found = lint(report)
    rank = len(shape) - 1
    x = torch.rand(1, *shape, dtype=torch.float64) + 0.5  # positive: no cancellation
    for i, layer in enumerate(layers):
        path = f"layers[{i}]"
        zero = unread_rows(torch, x, layer)
        sizes = shape[1:] if i == 0 else list(x.shape[2:])
        if all(len(z) == n for z, n in zip(zero, sizes, strict=True)):  # nothing read at all
            assert not exact or any(  # (in the holes of a dilated kernel, unreported)
                f" {n} of its {n} {noun}" in f.message or f"the last {n} {noun}" in f.message
                for f in found
                for n, noun in zip(sizes, NOUNS[rank], strict=True)
                if f.path == path
            ), found
            with torch.no_grad():
                x = torch_layer(torch, x, layer)
            continue
        dropped = counts(found, "floor-drops-input", path, rank, r"the last (\d+) {noun}")
        skipped = counts(found, "stride-skips-input", path, rank, r"(\d+) of its \d+ {noun}")
        for axis in range(rank):
            n = sizes[axis]
            trailing = 0
            while trailing < n and n - 1 - trailing in zero[axis]:
                trailing += 1
            reported = dropped[axis] + skipped[axis]
            assert not (dropped[axis] and skipped[axis])
            if exact:
                assert reported == len(zero[axis]), (layer, axis, zero[axis], found)
                if dropped[axis]:  # the dropped rows are exactly the trailing unread ones
                    assert dropped[axis] == trailing
            else:  # dilation's holes are unread too, and not reported: the reported are fewer
                assert reported <= len(zero[axis])
                assert dropped[axis] <= trailing
        with torch.no_grad():
            x = torch_layer(torch, x, layer)
        assert tuple(x.shape[1:]) == report.layers[i].output_shape


@pytest.mark.full
@pytest.mark.torch
@settings(max_examples=examples(1000))
@given(stack=window_stacks())
def test_drops_and_skips_are_the_rows_autograd_never_reaches(stack: Any) -> None:
    check_against_autograd(stack, exact=True)


@pytest.mark.torch
@settings(max_examples=examples(500))
@given(
    n=st.integers(1, 40),
    k=st.integers(1, 6),
    s=st.integers(2, 5),
    p=st.integers(0, 3),
    d=st.integers(1, 3),
)
# a dilated kernel whose fix is rem / d taps longer: one the random draws rarely meet
@example(n=3, k=2, s=4, p=2, d=3)
@example(n=10, k=3, s=3, p=0, d=2)  # the fix's kernel rem / d taps longer, not rem
def test_the_suggested_fixes_read_to_the_end(n: int, k: int, s: int, p: int, d: int) -> None:
    """Each fix lint suggests for a dropped end (a longer kernel, more padding), applied to the
    layer and run in torch: the output has the size the fix states, and the last window's span
    (first tap at i·s, last at i·s + d·(k − 1), in padded positions) reaches the last input
    position (with a dilation the span counts, its holes are the kernel's design); the least
    kernel whose window spans the stride is checked by its definition."""
    torch = pytest.importorskip("torch")
    layer = conv([k], stride=[s], padding=[p], dilation=[d], bias=False, out_channels=1)
    report = analysed([1, n], [layer])
    x = torch.rand(1, 1, n, dtype=torch.float64) + 0.5
    for finding in lint(report):
        if finding.code == "floor-drops-input":
            fixes = re.findall(r"(kernel|padding) (\d+) \(output (\d+)\)", finding.fix)
            for what, value, size in fixes:
                kernel, padding = (int(value), p) if what == "kernel" else (k, int(value))
                fixed = {**layer, "kernel_size": [kernel], "padding": [padding]}
                out = torch_layer(torch, x, fixed).shape[-1]
                assert out == int(size), finding.fix
                assert (out - 1) * s + d * (kernel - 1) >= padding + n - 1, (finding.fix, fixed)
        if finding.code == "stride-skips-input":
            least = int(re.match(r"kernel (\d+) \(a window", finding.fix).group(1))
            assert d * (least - 1) + 1 >= s > d * (least - 2) + 1, finding.fix


@pytest.mark.full
@pytest.mark.torch
@settings(max_examples=examples(500))
@given(stack=window_stacks(dilated=True))
def test_with_dilation_the_reported_rows_are_never_reached(stack: Any) -> None:
    check_against_autograd(stack, exact=False)


@pytest.mark.torch
@settings(max_examples=examples(500))
@given(stack=window_stacks())
def test_an_input_row_never_reached_is_always_reported(stack: Any) -> None:
    """The whole stack: a network-input row with no gradient means some layer reads less than
    all of its input, and lint says so somewhere."""
    torch = pytest.importorskip("torch")
    shape, layers = stack
    report = analysed(shape, layers)
    x = torch.rand(1, *shape, dtype=torch.float64, requires_grad=True)
    y = x + 0.5
    for layer in layers:
        y = torch_layer(torch, y, layer)
    y.sum().backward()
    unreached = bool((x.grad == 0).any())
    window_codes = {"floor-drops-input", "stride-skips-input"}
    reported = any(f.code in window_codes for f in lint(report))
    # unreached implies reported; not the converse: rows a later layer never reads may still
    # reach the input through an earlier layer's overlapping windows
    assert reported or not unreached


@pytest.mark.full
@pytest.mark.torch
@settings(max_examples=examples(500))
@given(
    size=st.integers(1, 6),
    k=st.integers(1, 5),
    s=st.integers(1, 3),
    p=st.integers(0, 4),
    d=st.integers(1, 2),
    rank=st.integers(1, 2),
)
def test_unused_taps_are_the_weights_autograd_never_reaches(size, k, s, p, d, rank) -> None:
    """A conv on a small map: the weight taps with zero gradient (input of ones) never meet
    the input; lint's count of used taps is the number with a gradient."""
    torch = pytest.importorskip("torch")
    layer = conv(k, stride=s, padding=p, dilation=d, out_channels=1)
    report = analysed([1, *[size] * rank], [layer])
    x = torch.ones(1, 1, *[size] * rank, dtype=torch.float64)
    weight = torch.ones(1, 1, *[k] * rank, dtype=torch.float64, requires_grad=True)
    f = {1: torch.nn.functional.conv1d, 2: torch.nn.functional.conv2d}[rank]
    f(x, weight, stride=s, padding=p, dilation=d).sum().backward()
    used = int((weight.grad != 0).sum())
    found = [f for f in lint(report) if f.code == "kernel-taps-unused"]
    if used == k**rank:
        assert not found
    else:
        (finding,) = found
        assert f"only {used} of the {k**rank} taps" in finding.message
        assert f"{k**rank - used:,} of its {k**rank:,} weights never do" in finding.message


@pytest.mark.full
@pytest.mark.torch
@settings(max_examples=examples(500))
@given(size=st.integers(1, 30), k=st.integers(1, 5), s=st.integers(1, 4), data=st.data())
def test_ceil_mode_warns_when_torch_gives_an_extra_window(size, k, s, data) -> None:
    """torch's sizes in both modes, and the sum-pool's last value (input of ones, padding 0, the
    part past the end left out): how many input positions the extra window holds."""
    torch = pytest.importorskip("torch")
    p = data.draw(st.integers(0, k // 2))
    layer = {"type": "avgpool", "kernel_size": k, "stride": s, "padding": p, "ceil_mode": True}
    report = analysed([1, size], [layer])
    x = torch.ones(1, 1, 1, size, dtype=torch.float64)

    def pool(ceil: bool) -> Any:
        return torch.nn.functional.avg_pool2d(
            x, (1, k), (1, s), (0, p), ceil_mode=ceil, divisor_override=1
        )

    found = [f for f in lint(report) if f.code == "ceil-mode-extra-window"]
    ceil = pool(True)
    try:
        floor = pool(False).shape[-1]
    except RuntimeError:  # "Output size is too small": the window is longer than the input
        floor = 0
    if ceil.shape[-1] == floor:
        assert not found
    else:
        (finding,) = found
        held = int(ceil[0, 0, 0, -1])
        assert f"an output of {ceil.shape[-1]} where floor mode gives {floor}" in finding.message
        assert f"holds only {held} of its {k} position" in finding.message


@pytest.mark.torch
@settings(max_examples=examples(500))
@given(size=st.integers(1, 12), k=st.integers(1, 4), s=st.integers(1, 3), p=st.integers(0, 6))
def test_padding_only_outputs_are_the_zeros_of_a_conv_of_ones(size, k, s, p) -> None:
    torch = pytest.importorskip("torch")
    report = analysed([1, size], [conv(k, stride=s, padding=p, out_channels=1, bias=False)])
    x = torch.ones(1, 1, size, dtype=torch.float64)
    y = torch.nn.functional.conv1d(x, torch.ones(1, 1, k, dtype=torch.float64), stride=s, padding=p)
    values = y[0, 0].tolist()
    first = next((i for i, v in enumerate(values) if v), len(values))
    last = next((i for i, v in enumerate(reversed(values)) if v), len(values))
    found = [f for f in lint(report) if f.code == "padding-only-zeros"]
    if not first and not last:
        assert not found
        return
    (finding,) = found
    match = re.search(r"the first (\d+) and the last (\d+) output position", finding.message)
    assert match, finding.message
    said = int(match.group(1)), int(match.group(2))
    if first == len(values):  # every output is zero: which side each is on, torch cannot say
        assert sum(said) == len(values)
    else:
        assert said == (first, last)


# --- each warning, worked by hand, and a near miss -----------------------------------------------


def test_stride_skips_input_in_a_resnet_shortcut() -> None:
    # conv 1×1 /2 on 56: windows at 0, 2, …, 54 read 28 rows; 28 (1, 3, …, 55) are never read
    found = findings([64, 56, 56], [conv(1, stride=2, out_channels=128)])
    (skip,) = found
    assert (skip.code, skip.path) == ("stride-skips-input", "layers[0]")
    assert "never reads 28 of its 56 rows and 28 of its 56 columns" in skip.message
    assert skip.formula == "stride 2 − window 1 = 1 row and column unread after each window"
    assert skip.fix == "kernel 2 (a window as long as the stride) or stride 1"
    # near miss: a 2×2 window at stride 2 reads every row (56 is even)
    assert findings([64, 56, 56], [conv(2, stride=2)]) == []


def test_floor_drop_counts_only_real_input() -> None:
    # conv 3 /3 p1 on 10: (10 + 2 − 3) mod 3 = 0: nothing. On 11: (11 + 2 − 3) mod 3 = 1 ≤ the
    # padding 1: the one unread position is padding. On 12: 11 mod 3 = 2, less 1 padding: 1
    assert findings([1, 10], [conv(3, stride=3, padding=1)]) == []
    assert findings([1, 11], [conv(3, stride=3, padding=1)]) == []
    (drop, *_) = [f for f in findings([1, 12], [conv(3, stride=3, padding=1)]) if f.path != "input"]
    assert "the last 1 position" in drop.message
    assert drop.formula == "(12 + 2·1 − 3) mod 3 = 2 ≠ 0, less the padding 1: 1"


def test_ceil_mode_extra_window_by_hand() -> None:
    # maxpool 3/2 ceil on 8: floor ⌊5/2⌋ + 1 = 3 (windows 0–2, 2–4, 4–6; 7 unread), ceil
    # ⌈5/2⌉ + 1 = 4 and (4 − 1)·2 = 6 < 8: kept, window 6–8 holds 6 and 7, 2 of its 3
    pool = {"type": "maxpool", "kernel_size": 3, "stride": 2, "ceil_mode": True}
    (extra,) = findings([1, 8], [pool])
    assert extra.code == "ceil-mode-extra-window"
    assert "gives an output of 4 where floor mode gives 3" in extra.message
    assert "holds only 2 of its 3 positions" in extra.message
    assert extra.fix == "ceil_mode false gives 3 and leaves the last 1 position unread"
    # near miss: on 9, (9 − 3) mod 2 = 0, both modes give 4; kernel 2 /2 p1 on 5: ⌈5/2⌉ + 1 = 4
    # but (4 − 1)·2 = 6 ≥ 5 + 1, so PyTorch drops that window: 3, as ⌊5/2⌋ + 1
    assert findings([1, 9], [pool]) == []
    pool2 = {"type": "maxpool", "kernel_size": 2, "stride": 2, "padding": 1, "ceil_mode": True}
    assert findings([1, 5], [pool2]) == []


def test_padding_that_only_sees_zeros() -> None:
    # conv 3 p3 on 8: 12 outputs, window i spans i … i + 2 of the padded 14, input at 3 … 10:
    # window 0 (0–2) and window 11 (11–13) hold padding only
    (zeros,) = findings([1, 8], [conv(3, padding=3)])
    assert (zeros.code, zeros.path) == ("padding-only-zeros", "layers[0]")
    assert "the first 1 and the last 1 output position from padding alone" in zeros.message
    assert zeros.formula == "padding 3 ≥ window 3"
    assert zeros.fix == "padding at most 2 (padding 1 keeps the size)"
    assert findings([1, 8], [conv(3, padding=2)]) == []  # window 0 (0–2) holds input 0 at 2
    # reflected padding holds input values
    assert findings([1, 8], [conv(3, padding=3, padding_mode="reflect")]) == []


def test_a_three_by_three_conv_on_a_one_by_one_map() -> None:
    # 1×1 input, padding 1: each output (one) reads padded 0, 1, 2, input only at the centre
    # tap: 1 of 9 taps; weights 16·8·3·3 = 1,152, of which 16·8·8 = 1,024 never meet data
    found = findings([8, 1, 1], [conv(3, padding=1, out_channels=16)])
    (taps,) = [f for f in found if f.code != "receptive-field-exceeds-input"]  # 3 > 1
    assert (taps.code, taps.path) == ("kernel-taps-unused", "layers[0]")
    assert "only 1 of the 9 taps of each 3×3 filter" in taps.message
    assert "1,024 of its 1,152 weights never do" in taps.message
    assert taps.formula == "1 of 3 taps"
    assert taps.fix == "kernel 1×1 with padding 0×0 gives the same output"
    # near miss: on 2×2, output 0 reads pad, x0, x1 (taps 1, 2), output 1 x0, x1, pad (0, 1)
    assert "kernel-taps-unused" not in [f.code for f in findings([8, 2, 2], [conv(3, padding=1)])]


def test_receptive_field_larger_than_the_input_reported_once() -> None:
    # convs 5 p2 keep 16: r = 1 + 4·4 = 17 > 16 at the 4th, and only there (21 after the 5th)
    layers = [conv(5, padding=2) for _ in range(5)]
    (wide,) = findings([1, 16], layers)
    assert (wide.code, wide.path) == ("receptive-field-exceeds-input", "layers[3]")
    assert "the receptive field is 17 after conv 5 p2, larger than the 16 input" in wide.message
    assert "; it is 21 at the output" in wide.message  # 17 + 4
    assert wide.formula == "r = 17 > 16"
    assert findings([1, 16], layers[:3]) == []  # 13


def test_misaligned_concat() -> None:
    # k 3 p 1: centred, start (3 − 1)/2 − 1 = 0; k 2 'same' pads 0 before, 1 after: start
    # (2 − 1)/2 − 0 = 0.5
    branches = [[conv(3, padding=1)], [conv(2, padding="same")]]
    found = findings([1, 32], [{"type": "concat", "branches": branches}])
    assert codes(found) == [
        ("misaligned-paths", "layers[0]"),
        ("even-kernel-same", "layers[0].branches[1][0]"),
    ]
    assert found[0].formula == "branches[0]: jump 1, start 0; branches[1]: jump 1, start 0.5"
    assert found[1].formula == "d·(k − 1) = 1: 0 before, 1 after"
    aligned = [[conv(3, padding=1)], [conv(5, padding=2)]]
    assert findings([1, 32], [{"type": "concat", "branches": aligned}]) == []


def test_bias_before_batchnorm() -> None:
    (bias,) = findings([3, 8, 8], [conv(3, out_channels=16), {"type": "batchnorm"}])
    assert (bias.code, bias.path) == ("bias-before-norm", "layers[0]")
    assert "adds a bias of 16 values" in bias.message  # one per output channel
    assert bias.fix == "bias: false (16 fewer parameters)"
    assert findings([3, 8, 8], [conv(3, bias=False), {"type": "batchnorm"}]) == []
    assert findings([3, 8, 8], [conv(3), {"type": "relu"}, {"type": "batchnorm"}]) == []
    (inorm,) = findings([3, 8, 8], [conv(3, out_channels=4), {"type": "instancenorm"}])
    assert inorm.code == "bias-before-norm"
    # a mean shared by several channels leaves most of a per-channel bias in place
    shared = [{"type": "groupnorm", "num_groups": 2}, {"type": "layernorm", "normalized_shape": 6}]
    assert all(findings([3, 8, 8], [conv(3, out_channels=4), norm]) == [] for norm in shared)


def test_dropout_before_batchnorm() -> None:
    layers = [conv(3, bias=False), {"type": "dropout", "p": 0.5}, {"type": "batchnorm"}]
    (drop,) = findings([3, 8, 8], layers)
    assert (drop.code, drop.path) == ("dropout-before-batchnorm", "layers[1]")
    assert "scaled by 1/(1 − 0.5) = 2 in training" in drop.message
    assert findings([3, 8, 8], [layers[0], layers[2], layers[1]]) == []


def test_two_activations_in_a_row() -> None:
    (twice,) = findings([4], [{"type": "relu"}, {"type": "relu"}])
    assert (twice.code, twice.path) == ("double-activation", "layers[0]")
    assert twice.formula == "relu(relu(x)) = relu(x)"
    (mixed,) = findings([4], [{"type": "relu"}, {"type": "sigmoid"}])
    assert mixed.formula == "sigmoid(relu(x))"
    assert findings([4], [{"type": "relu"}, {"type": "linear", "out_features": 4}]) == []
    # softmax normalises across the classes: a classifier's relu → softmax is no doubled activation
    assert findings([4], [{"type": "relu"}, {"type": "softmax"}]) == []
    assert findings([4], [{"type": "softmax"}, {"type": "log_softmax"}]) == []


def test_even_kernel_with_padding_same() -> None:
    # k 4: d·(k − 1) = 3 padded, 1 before and 2 after
    (even,) = findings([1, 10], [conv(4, padding="same")])
    assert even.code == "even-kernel-same"
    assert "pads 1 before and 2 after" in even.message
    assert findings([1, 10], [conv(3, padding="same")]) == []


def test_a_linear_on_a_flattened_map() -> None:
    # 8×10×10 flattened: 800 → 10: 800·10 + 10 = 8,010 parameters, all of them; after a global
    # pool: 8·10 + 10 = 90
    layers = [{"type": "flatten"}, {"type": "dropout"}, {"type": "linear", "out_features": 10}]
    (big,) = findings([8, 10, 10], layers)
    assert (big.code, big.path) == ("large-linear", "layers[2]")
    assert "holds 8,010 parameters, 100% of the network's 8,010" in big.message
    assert big.fix == "a global average pool before the flatten leaves 8 features: 90 parameters"
    pooled = [{"type": "adaptive_avgpool", "output_size": 1}, *layers]
    assert findings([8, 10, 10], pooled) == []
    # LeNet-5: 156 + 2,416 (convs) + 48,120 + 10,164 + 850 (linears) = 61,706; 400·120 + 120
    found = lint(analyse(load_spec("lenet5")))
    assert [f.code for f in found] == ["large-linear"]
    assert "48,120 parameters, 78% of the network's 61,706" in found[0].message


# --- U-Net and the input size ------------------------------------------------------------------


def unet(size: int) -> dict[str, Any]:
    spec = yaml.safe_load((SPECS / "unet.yaml").read_text(encoding="utf-8"))
    spec["input"] = [3, size, size]
    return spec


def test_unet_at_512_has_no_warnings_and_at_500_cannot_be_built() -> None:
    # 512 = 2^9: every max-pool 2/2 halves an even size (512, 256, 128, 64), no bias before a
    # batchnorm (bias: false), padded 3×3 convs on at least 32×32
    assert lint(analyse(load_spec(unet(512)))) == []
    # 500 → 250 → 125 → ⌊125/2⌋ = 62 → 31 → up 62 → up 124 ≠ 125: the concat refuses before
    # lint could say anything (convcalc shape reports it)
    with pytest.raises(LayerRefusal, match=r"256×125×125 but branches\[1\] gives 256×124×124"):
        analyse(load_spec(unet(500)))


def test_a_unet_encoder_at_500_suggests_multiples_of_16() -> None:
    # four levels of (3×3 conv, max-pool 2/2): 500 → 250 → 125 (odd: the pool drops row 124)
    # → 62 → 31. Nothing is dropped iff L, L/2, L/4, L/8 are even: L a multiple of 16 = 2^4
    level = [
        conv(3, padding=1, bias=False),
        {"type": "relu"},
        {"type": "maxpool", "kernel_size": 2},
    ]
    found = findings([3, 500, 500], level * 4)
    assert codes(found) == [("input-size-drops", "input"), ("floor-drops-input", "layers[8]")]
    assert found[0].formula == "500 mod 16 = 4"
    assert found[0].fix == "an input of 496 or 512 (multiples of 16) drops nothing"
    assert "the last 1 row and the last 1 column of its 2×125×125 input" in found[1].message
    assert findings([3, 512, 512], level * 4) == []


# --- the bundled specs, long chains, rendering ---------------------------------------------------


@pytest.mark.parametrize(
    "path",
    spec_params(p for p in sorted(SPECS.glob("*.yaml")) if p.name != "five-stages.yaml"),
    ids=str,
)
def test_every_bundled_spec_lints(path: Path) -> None:
    found = lint(analyse(load_spec(str(path))))
    assert all(f.code and f.path and f.message and f.formula and f.fix for f in found)
    assert json.loads(json.dumps(to_json(path.stem, found)))["count"] == len(found)


@pytest.mark.full
def test_deep_nesting_and_long_chains_take_linear_time() -> None:
    nested: list[dict[str, Any]] = [{"type": "relu"}, {"type": "relu"}]
    for _ in range(500):
        nested = [{"type": "residual", "body": nested}]
    found = findings([2, 4, 4], nested)
    assert [f.code for f in found] == ["double-activation"]
    chain = [conv(1, out_channels=1) for _ in range(20_000)]
    assert findings([1, 4], chain) == []  # no recursion; linear (1 s here, timed by hand)


def test_render_text_and_json() -> None:
    # maxpool 2/2 on 7: (7 − 2) mod 2 = 1: position 6 unread; kernel 3: (7 − 3)/2 + 1 = 3 and
    # no padding divides (2x + 1 is odd); inputs 6 and 8 (even) drop nothing
    found = lint(report_of([1, 7], [{"type": "maxpool", "kernel_size": 2}], name="tiny"))
    assert render_text("tiny", found) == (
        "tiny: 2 warnings\n"
        "\n"
        "input 1×7 [input-size-drops]\n"
        "  the 1×7 input loses its last positions in 1 layer, first at layers[0]; the total "
        "stride reaches 2 at layers[0]\n"
        "  7 mod 2 = 1\n"
        "  fix: an input of 6 or 8 (multiples of 2) drops nothing\n"
        "\n"
        "layers[0] maxpool 2 /2 [floor-drops-input]\n"
        "  maxpool 2 /2 never reads the last 1 position of its 1×7 input: the last window ends "
        "before the input does\n"
        "  (7 + 2·0 − 2) mod 2 = 1 ≠ 0\n"
        "  fix: kernel 3 (output 3) reads to the end\n"
    )
    assert to_json("tiny", found)["warnings"][1] == {
        "code": "floor-drops-input",
        "path": "layers[0]",
        "layer": "maxpool 2 /2",
        "message": "maxpool 2 /2 never reads the last 1 position of its 1×7 input: the last "
        "window ends before the input does",
        "formula": "(7 + 2·0 − 2) mod 2 = 1 ≠ 0",
        "fix": "kernel 3 (output 3) reads to the end",
    }
    assert to_json("tiny", found)["count"] == 2
    assert render_text("tiny", []) == "tiny: no warnings\n"
    assert to_json("tiny", []) == {"name": "tiny", "count": 0, "warnings": []}


# --- the command ---------------------------------------------------------------------------


def test_the_command_exits_by_strictness(run, write) -> None:
    clean = write("input: [1, 16]\nlayers:\n  - {type: conv, out_channels: 2, kernel_size: 3}\n")
    assert run("lint", clean).exit_code == 0
    assert run("lint", clean, "--strict").exit_code == 0
    result = run("lint", "hw3-q3", "--strict")
    assert result.exit_code == 1
    assert "[floor-drops-input]" in result.output
    assert run("lint", "hw3-q3").exit_code == 0
    report = json.loads(run("lint", "hw3-q3", "--format", "json").output)
    assert report["count"] == len(report["warnings"]) == 2
    assert {w["path"] for w in report["warnings"]} == {"input", "layers[1]"}
    bad = run("lint", write("input: [1, 16]\nlayers:\n  - {type: conv}\n"))
    assert bad.exit_code == 2 and "out_channels" in bad.stderr


# --- limits: taps in closed form, the input-size search within the work budget ------------------


def listed_taps(dim: Any) -> list[int]:
    """The brute-force oracle: every tap j tried in turn (the enumeration lint once ran, a list
    as long as the kernel): j meets the input if some window i < out puts it at an input
    position, 0 ≤ i·s + j·d − pl < L."""
    return [
        j
        for j in range(dim.kernel)
        if any(
            0 <= i * dim.stride + j * dim.dilation - dim.left < dim.length for i in range(dim.out)
        )
    ]


@settings(max_examples=examples(3000))
@given(
    size=st.integers(1, 40),
    k=st.integers(1, 14),
    s=st.integers(1, 14),
    p=st.integers(0, 40),
    d=st.integers(1, 5),
    kind=st.sampled_from(["conv", "same", "maxpool", "maxpool-ceil"]),
)
def test_taps_in_closed_form_are_the_taps_tried_one_by_one(size, k, s, p, d, kind) -> None:
    from convcalc.views.lint import _dims, _taps

    if kind == "conv":
        layer = conv(k, stride=s, padding=p, dilation=d)
    elif kind == "same":
        layer = conv(k, padding="same", dilation=d)
    else:
        layer = {"type": "maxpool", "kernel_size": k, "stride": s, "padding": p % (k // 2 + 1)}
        layer |= {"dilation": d, "ceil_mode": kind == "maxpool-ceil"}
    (dim,) = _dims(analysed([1, size], [layer]).layers[0])
    listed = listed_taps(dim)
    taps = _taps(dim)
    assert (taps.used, taps.first, taps.last) == (
        (len(listed), listed[0], listed[-1]) if listed else (0, -1, -1)
    )


@pytest.mark.full
def test_a_kernel_of_a_hundred_million_taps_lints_in_little_memory(write) -> None:
    """Lint and the report on a kernel of 3·10⁸ taps (the taps listed took 8.8 GB): under a
    2 GB address-space limit. By hand: one window (out = (L + 2p − k)/s + 1 = 0/s + 1 = 1)
    puts tap j at input position j − p, so the taps p … p + L − 1 meet the input: L = 10⁸ of
    3·10⁸, and 2·10⁸ of the 3·10⁸ weights (1 channel in, 1 out) never do; the kernel of the
    used taps alone, 10⁸ with padding 0, gives (10⁸ − 10⁸)/s + 1 = 1 too."""
    import resource
    import subprocess
    import sys

    path = write(
        "input: [1, 100000000]\nlayers:\n"
        "  - {type: conv, out_channels: 1, kernel_size: 300000000, padding: 100000000,"
        " stride: 300000000}\n"
    )

    def limited() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (2 * 2**30, 2 * 2**30))

    def convcalc(*args: str) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-m", "convcalc", *args]
        return subprocess.run(
            command, capture_output=True, text=True, preexec_fn=limited, timeout=600
        )

    done = convcalc("lint", path, "--format", "json")
    assert done.returncode == 0, done.stderr
    warnings = json.loads(done.stdout)["warnings"]
    assert [w["code"] for w in warnings] == [
        "kernel-taps-unused",
        "receptive-field-exceeds-input",  # 3·10⁸ > 10⁸
    ]
    taps = warnings[0]
    assert "only 100000000 of the 300000000 taps" in taps["message"]
    assert "200,000,000 of its 300,000,000 weights never do" in taps["message"]
    assert taps["fix"] == "kernel 100000000 with padding 0 gives the same output"
    done = convcalc("report", path, "-o", path + ".html")
    assert done.returncode == 0, done.stderr
    assert "kernel-taps-unused" in Path(path + ".html").read_text(encoding="utf-8")


def test_the_input_size_search_spends_from_the_work_budget() -> None:
    """maxpool 100/100 on 150 drops 50 positions; the nearest sizes that drop nothing are 100
    and 200, 50 trials each way, each trial analysing the network's 1 + 99 entries again:
    10,000 steps. With a budget of 1,000 the search stops and says so, within one trial's
    cost of the limit; with the default budget it finds them."""
    from convcalc.budget import Budget

    layers = [{"type": "maxpool", "kernel_size": 100}] + [{"type": "dropout"}] * 99
    report = report_of([1, 150], layers)
    budget = Budget(1_000)
    (size, _) = lint(report, budget)
    assert size.code == "input-size-drops"
    assert size.fix.startswith("not known near 150: the search passed 1,000 steps")
    assert 1_000 < budget.spent <= 1_000 + 100
    budget = Budget()
    assert lint(report, budget)[0].fix == "an input of 100 or 200 (multiples of 100) drops nothing"
    assert budget.spent == 100 * 100  # and no trial past the first size found each way
