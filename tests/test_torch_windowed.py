"""Swin Transformer's layers against torchvision's own modules, run live on the CPU.

Each test draws an input shape and one layer; torchvision builds its module
(``ShiftedWindowAttention``, ``ShiftedWindowAttentionV2``, ``PatchMerging``,
``PatchMergingV2`` from ``torchvision.models.swin_transformer``) for the input's channels and
runs a batch of 2 and one of 3. A layer counts as accepted only where both runs succeed and keep
the batch; then convcalc's output shape and parameter count must equal torch's, and wherever
torch refuses (its constructor or its forward raises, or the batch changes) convcalc must
refuse too.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from convcalc.analysis import analyse
from convcalc.errors import SpecError
from convcalc.spec.validate import load_spec
from tests.budget import examples
from tests.torchvision_oracle import import_torchvision

torch = pytest.importorskip("torch")

pytestmark = pytest.mark.torch

BATCHES = (2, 3)
TORCH_REFUSALS = (RuntimeError, ValueError, IndexError, TypeError)
ATTENTION = {
    "shifted_window_attention": "ShiftedWindowAttention",
    "shifted_window_attention_v2": "ShiftedWindowAttentionV2",
}
MERGING = {"patch_merging": "PatchMerging", "patch_merging_v2": "PatchMergingV2"}


def swin() -> Any:
    import_torchvision()
    return importlib.import_module("torchvision.models.swin_transformer")


def torch_module(layer: dict[str, Any], channels: int) -> Any:
    """torchvision's module for a spec layer, built for ``channels`` (its ``dim``)."""
    kind = layer["type"]
    if kind in MERGING:
        return getattr(swin(), MERGING[kind])(channels)
    options = {k: v for k, v in layer.items() if k in ("qkv_bias", "proj_bias")}
    options |= {k: v for k, v in layer.items() if k in ("attention_dropout", "dropout")}
    return getattr(swin(), ATTENTION[kind])(
        channels,
        list(layer["window_size"]),
        list(layer["shift_size"]),
        layer["num_heads"],
        **options,
    )


Result = tuple[tuple[int, ...], int] | None
Build = Callable[[dict[str, Any], int], Any]


def torch_result(
    layer: dict[str, Any],
    shape: list[int],
    build: Build = torch_module,
    refusals: tuple[type[Exception], ...] = TORCH_REFUSALS,
) -> Result:
    """(output shape, parameters) as torchvision gives them, or None where it refuses (any of
    ``refusals``); ``build`` makes the module from the layer and the input's last size."""
    try:
        module = build(layer, shape[-1]).eval()
    except refusals:
        return None
    outputs = set()
    for batch in BATCHES:
        try:
            with torch.no_grad():
                out = module(torch.randn(batch, *shape))
        except refusals:
            return None
        if out.shape[0] != batch:
            return None  # the batch was read as a dimension of the sample
        outputs.add(tuple(out.shape[1:]))
    if len(outputs) != 1:
        return None
    return outputs.pop(), sum(p.numel() for p in module.parameters())


def convcalc_result(layer: dict[str, Any], shape: list[int]) -> tuple[tuple[int, ...], int] | None:
    try:
        report = analyse(load_spec({"input": shape, "layers": [layer]}))
    except SpecError:
        return None
    (leaf,) = report.leaves()
    return tuple(leaf.output_shape), leaf.params


def check(
    layer: dict[str, Any],
    shape: list[int],
    build: Build = torch_module,
    refusals: tuple[type[Exception], ...] = TORCH_REFUSALS,
) -> Result:
    """convcalc's (output shape, parameters) equal torchvision's, or both refuse."""
    theirs = torch_result(layer, shape, build, refusals)
    ours = convcalc_result(layer, shape)
    assert ours == theirs, (layer, shape)
    return ours


sizes = st.integers(1, 9)


@st.composite
def attention(draw: st.DrawFn) -> tuple[dict[str, Any], list[int]]:
    """A window attention layer and an input: mostly [H, W, C], sometimes another rank; window
    and shift lists of 2 entries mostly, sometimes of 1 or 3."""
    lengths = st.sampled_from([2, 2, 2, 2, 2, 1, 3])
    heads = draw(st.integers(1, 4))
    channels = draw(st.sampled_from([heads, 2 * heads, 3 * heads, heads + 1, 5]))
    rank = draw(st.sampled_from([3, 3, 3, 3, 2, 4]))
    shape = [draw(sizes) for _ in range(rank - 1)] + [channels]
    layer: dict[str, Any] = {
        "type": draw(st.sampled_from(sorted(ATTENTION))),
        "window_size": draw(st.lists(st.integers(1, 5), min_size=2, max_size=2)),
        "shift_size": draw(st.lists(st.integers(-3, 6), min_size=2, max_size=2)),
        "num_heads": heads,
        "qkv_bias": draw(st.booleans()),
        "proj_bias": draw(st.booleans()),
    }
    for field in ("window_size", "shift_size"):
        length = draw(lengths)
        layer[field] = (layer[field] * 2)[:length]
    return layer, shape


@settings(max_examples=examples(500))  # each example runs torch: CI's 500
@given(attention())
def test_window_attention(case: tuple[dict[str, Any], list[int]]) -> None:
    check(*case)


@pytest.mark.full
@settings(max_examples=examples(500))  # each example runs torch: CI's 500
@given(
    st.sampled_from(sorted(MERGING)),
    st.lists(sizes, min_size=1, max_size=3),
    st.integers(1, 8),
)
def test_patch_merging(kind: str, spatial: list[int], channels: int) -> None:
    check({"type": kind}, [*spatial, channels])


@pytest.mark.full
@pytest.mark.parametrize("kind", sorted(ATTENTION))
def test_swin_t_stage_one(kind: str) -> None:
    """Swin-T's first stage, 56×56×96, 7×7 windows, 3 heads, shifted by 3: the parameters by
    hand. v1: qkv 288·96 + 288, proj 96·96 + 96, table 13·13·3 = 37,755. v2 (8×8 windows at
    64×64): the same linears, logit_scale 3, cpb_mlp 2·512 + 512 + 512·3: 40,323."""
    window, side = ([7, 7], 56) if kind == "shifted_window_attention" else ([8, 8], 64)
    layer = {"type": kind, "window_size": window, "shift_size": [3, 3], "num_heads": 3}
    expected = 37_755 if kind == "shifted_window_attention" else 40_323
    assert check(layer, [side, side, 96]) == ((side, side, 96), expected)


@pytest.mark.parametrize(
    ("layer", "shape"),
    [
        # C not divisible by the heads: qkv's reshape into (3, heads, C / heads) fails
        ({"num_heads": 3}, [7, 7, 8]),
        # window_size and shift_size must have 2 entries each (torchvision's ValueError)
        ({"window_size": [7]}, [7, 7, 8]),
        ({"shift_size": [3, 3, 3]}, [7, 7, 8]),
        # not [H, W, C]: torchvision unpacks B, H, W, C = input.shape
        ({}, [7, 8]),
        ({}, [2, 7, 7, 8]),
    ],
)
@pytest.mark.parametrize("kind", sorted(ATTENTION))
def test_window_attention_refusals(kind: str, layer: dict[str, Any], shape: list[int]) -> None:
    base = {"type": kind, "window_size": [7, 7], "shift_size": [3, 3], "num_heads": 2}
    assert check(base | layer, shape) is None


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("window_size", [0, 7], "every entry must be an integer ≥ 1"),
        ("window_size", 7, "must be a list"),
        ("num_heads", 0, "must be a positive integer"),
        ("dropout", 1.5, "between 0 and 1"),
        ("attention_dropout", -0.1, "between 0 and 1"),
    ],
)
def test_window_attention_field_errors(field: str, value: Any, message: str) -> None:
    """Fields torchvision cannot take: located messages naming the field, never a traceback."""
    layer = {"type": "shifted_window_attention", "window_size": [7, 7], "shift_size": [3, 3]}
    layer |= {"num_heads": 2, field: value}
    with pytest.raises(SpecError) as caught:
        analyse(load_spec({"input": [7, 7, 8], "layers": [layer]}))
    assert field in str(caught.value) and message in str(caught.value)
    if field in ("window_size", "num_heads"):
        # torchvision fails on these too: a window of 0 divides by zero, 0 heads as well
        with pytest.raises((ZeroDivisionError, *TORCH_REFUSALS)):
            torch_module(layer, 8).eval()(torch.randn(1, 7, 7, 8))


def test_refusal_messages_name_the_layer_and_field() -> None:
    layer = {"type": "shifted_window_attention", "window_size": [7, 7], "shift_size": [3, 3]}
    layer |= {"num_heads": 3}
    with pytest.raises(SpecError) as caught:
        analyse(load_spec({"input": [7, 7, 8], "layers": [layer]}))
    text = str(caught.value)
    assert "layers[0] (shifted_window_attention), field num_heads" in text
    assert "does not divide the 8 channels" in text
    with pytest.raises(SpecError) as caught:
        analyse(load_spec({"input": [8, 7], "layers": [{"type": "patch_merging"}]}))
    assert "[..., H, W, C]" in str(caught.value)


# --- multiply-adds: each convention against its tool, run on torchvision's modules ----------

SWA, SWA2 = "shifted_window_attention", "shifted_window_attention_v2"
CASES = [  # (layer, heads, input)
    ({"type": SWA, "window_size": [7, 7], "shift_size": [3, 3]}, 3, [14, 14, 96]),
    ({"type": SWA, "window_size": [3, 3], "shift_size": [1, 1]}, 2, [5, 7, 8]),
    ({"type": SWA2, "window_size": [4, 4], "shift_size": [0, 0]}, 3, [8, 8, 12]),
    ({"type": SWA2, "window_size": [3, 3], "shift_size": [1, 1]}, 2, [5, 7, 8]),
    ({"type": "patch_merging"}, 0, [5, 7, 8]),
    ({"type": "patch_merging_v2"}, 0, [4, 6, 8]),
]


def tool_counts(module: Any, shape: list[int], batch: int) -> dict[str, int]:
    """torchinfo's, fvcore's and thop's totals at ``batch``; ptflops' (a batch of one)."""
    import logging

    torchinfo = pytest.importorskip("torchinfo")
    fvcore = pytest.importorskip("fvcore.nn")
    thop = pytest.importorskip("thop")
    ptflops = pytest.importorskip("ptflops")
    logging.getLogger("fvcore").setLevel(logging.ERROR)
    x = torch.zeros(batch, *shape)
    counts = {"torchinfo": torchinfo.summary(module, input_data=x, verbose=0).total_mult_adds}
    with torch.no_grad():
        analysis = fvcore.FlopCountAnalysis(module, x)
        analysis.unsupported_ops_warnings(False)
        analysis.uncalled_modules_warnings(False)
        counts["fvcore"] = int(analysis.total())
        counts["thop"] = int(thop.profile(module, inputs=(x,), verbose=False)[0])
    if batch == 1:
        counts["ptflops"] = ptflops.get_model_complexity_info(
            module, tuple(shape), as_strings=False, print_per_layer_stat=False, backend="pytorch"
        )[0]
    return counts


@pytest.mark.full
@pytest.mark.parametrize(("layer", "heads", "shape"), CASES)
@pytest.mark.parametrize("batch", [1, 3])
def test_conventions_equal_the_tools(
    layer: dict[str, Any], heads: int, shape: list[int], batch: int
) -> None:
    """Each convention's count of one Swin layer is its tool's, at batch 1 and 3 (v2's
    position-bias MLP counted once per forward, whatever the batch)."""
    from convcalc.views.costs import rule

    layer = layer | ({"num_heads": heads} if heads else {})
    (entry,) = analyse(load_spec({"input": shape, "layers": [layer]})).leaves()
    for tool, count in tool_counts(torch_module(layer, shape[-1]).eval(), shape, batch).items():
        assert rule(tool)(entry, batch) == count, (tool, layer, batch)


def test_torchinfos_worked_count_is_its_count() -> None:
    from convcalc.views.conventions import torchinfo

    report = analyse(load_spec("swin_v2_t"))
    for entry in report.leaves():
        for batch in (1, 3):
            worked = torchinfo.mult_adds_derived(entry, batch).evaluate()
            assert worked == torchinfo.mult_adds(entry, batch), entry.path


# the tools' own totals for the whole networks (batch 1), as they printed them; recomputed here
WHOLE = {
    "swin_t": {"torchinfo": 34_368_232, "fvcore": 4_509_232_128, "ptflops": 3_128_183_416,
               "thop": 2_978_099_712},
    "swin_v2_t": {"torchinfo": 38_970_472, "fvcore": 5_962_349_568, "ptflops": 4_045_391_848,
                  "thop": 3_906_813_696},
}  # fmt: skip


@pytest.mark.full
@pytest.mark.parametrize("name", sorted(WHOLE))
def test_whole_swin_equals_the_tools(name: str) -> None:
    """Every convention's total for Swin-T and SwinV2-T equals its tool's on torchvision's
    model (on the CPU, weights zero: the tools read shapes only; seconds each)."""
    from convcalc.views.costs import rule

    report = analyse(load_spec(name))
    ours = {tool: sum(rule(tool)(e, 1) for e in report.leaves()) for tool in WHOLE[name]}
    assert ours == WHOLE[name]
    with torch.device("meta"):
        model = getattr(import_torchvision().models, name)()
    model = model.to_empty(device="cpu").eval()
    with torch.no_grad():
        for tensor in [*model.parameters(), *model.buffers()]:
            tensor.zero_()
    assert tool_counts(model, list(report.input_shape), 1) == WHOLE[name]


# --- the PyTorch export: the file's classes compute what torchvision's do -------------------


@pytest.mark.full
@pytest.mark.parametrize(("layer", "heads", "shape"), CASES)
def test_exported_classes_equal_torchvisions(
    layer: dict[str, Any], heads: int, shape: list[int], tmp_path: Any
) -> None:
    """The exported file's class, given torchvision's module's weights (its state dict with
    ``_`` for ``.``), gives the same output to the last bit."""
    import importlib.util

    from convcalc.frameworks.torch.export import to_pytorch

    layer = layer | ({"num_heads": heads} if heads else {})
    report = analyse(load_spec({"name": "one", "input": shape, "layers": [layer]}))
    path = tmp_path / "one.py"
    path.write_text(to_pytorch(report), encoding="utf-8")
    spec = importlib.util.spec_from_file_location("one", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    ours = module.One().eval()[0]
    theirs = torch_module(layer, shape[-1]).eval()
    with torch.no_grad():
        for tensor in theirs.parameters():
            tensor.normal_()
    state = theirs.state_dict()
    ours.load_state_dict(
        {k if k.startswith("relative") else k.replace(".", "_"): v for k, v in state.items()}
    )
    x = torch.randn(2, *shape)
    with torch.no_grad():
        assert torch.equal(ours(x), theirs(x))
