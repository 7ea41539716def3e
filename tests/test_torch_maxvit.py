"""MaxViT's layers against torchvision's own modules, run live on the CPU.

torchvision (``torchvision.models.maxvit``) builds ``RelativePositionalMultiHeadAttention``,
``WindowPartition`` and ``WindowDepartition`` for each drawn layer and runs a batch of 2 and one
of 3. A layer counts as accepted only where both runs succeed and keep the batch; then
convcalc's output shape and parameter count must equal torch's, and wherever torch refuses
(its constructor or forward raises) convcalc must refuse too. The multiply-adds of each
convention are checked against its tool run on torchvision's module, the exported classes
against torchvision's outputs, and the importer's refusals of torchvision's classes.
"""

from __future__ import annotations

import importlib
import math
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from convcalc.analysis import analyse
from convcalc.errors import SpecError
from convcalc.spec.validate import load_spec
from tests import test_torch_windowed as windowed
from tests.budget import examples
from tests.torchvision_oracle import import_torchvision

torch = pytest.importorskip("torch")

pytestmark = pytest.mark.torch

LONG = pytest.mark.full  # long: only the full run (CI, pytest --full) takes it
BATCHES = (2, 3)
TORCH_REFUSALS = (RuntimeError, ValueError, IndexError, TypeError, ZeroDivisionError)


def maxvit() -> Any:
    import_torchvision()
    return importlib.import_module("torchvision.models.maxvit")


class Called(torch.nn.Module):
    """torchvision's WindowPartition or WindowDepartition, called with the spec's sizes."""

    def __init__(self, layer: dict[str, Any]) -> None:
        super().__init__()
        if layer["type"] == "window_partition":
            self.op, self.args = maxvit().WindowPartition(), (layer["p"],)
        else:
            self.op = maxvit().WindowDepartition()
            self.args = (layer["p"], layer["h_partitions"], layer["w_partitions"])

    def forward(self, x: Any) -> Any:
        return self.op(x, *self.args)


def torch_module(layer: dict[str, Any], features: int) -> Any:
    """torchvision's module for a spec layer (the attention built for ``features``)."""
    if layer["type"] == "relative_position_attention":
        cls = maxvit().RelativePositionalMultiHeadAttention
        return cls(features, layer["head_dim"], layer["max_seq_len"])
    return Called(layer)


def torch_result(layer: dict[str, Any], shape: list[int]) -> windowed.Result:
    """(output shape, parameters) as torchvision gives them, or None where it refuses."""
    return windowed.torch_result(layer, shape, torch_module, TORCH_REFUSALS)


def check(layer: dict[str, Any], shape: list[int]) -> windowed.Result:
    """convcalc's (output shape, parameters) equal torchvision's, or both refuse."""
    return windowed.check(layer, shape, torch_module, TORCH_REFUSALS)


# --- shapes, parameters and refusals ---------------------------------------------------------

ATTENTION = "relative_position_attention"


@settings(max_examples=examples(500))  # each example runs torch: CI's 500
@given(
    head_dim=st.integers(1, 5),
    features=st.integers(1, 10),
    max_seq_len=st.integers(1, 17),
    tokens=st.sampled_from([1, 2, 3, 4, 8, 9, 16]),
    groups=st.integers(1, 3),
    rank=st.sampled_from([3, 3, 3, 3, 2, 4]),
)
# accepted although max_seq_len is no square: s⁴·H = 1·4 = S², the bias viewed with 1 head
@example(head_dim=1, features=4, max_seq_len=2, tokens=2, groups=3, rank=3)
@example(head_dim=2, features=8, max_seq_len=8, tokens=8, groups=1, rank=3)  # 16·4 = 64
# max_seq_len 1: a 1×1 bias broadcast over any number of tokens
@example(head_dim=1, features=3, max_seq_len=1, tokens=4, groups=2, rank=3)
# one token but a 2×2 bias: the scores broadcast to 2×2, the reshape back fails
@example(head_dim=1, features=2, max_seq_len=4, tokens=1, groups=2, rank=3)
def test_relative_attention(
    head_dim: int, features: int, max_seq_len: int, tokens: int, groups: int, rank: int
) -> None:
    layer = {"type": ATTENTION, "head_dim": head_dim, "max_seq_len": max_seq_len}
    shape = [groups, tokens, features][3 - rank :] if rank <= 3 else [2, groups, tokens, features]
    check(layer, shape)


# how many of those torchvision runs (counted by running it): max_seq_len 1, 4 or 9 with
# matching tokens (1 with any), and the non-squares 2 and 8 where s⁴·heads = max_seq_len²
ACCEPTED = 116


@LONG
def test_relative_attention_exhaustive() -> None:
    """Every head_dim ≤ 4, feat_dim ≤ 8, max_seq_len ≤ 10, on 2 groups of 1, 2, 4, 8 or 9
    tokens: accepted exactly where torchvision runs, with its shape and parameters."""
    accepted = 0
    for head_dim in range(1, 5):
        for features in range(1, 9):
            for length in range(1, 11):
                for tokens in (1, 2, 4, 8, 9):
                    layer = {"type": ATTENTION, "head_dim": head_dim, "max_seq_len": length}
                    accepted += check(layer, [2, tokens, features]) is not None
    assert accepted == ACCEPTED


@pytest.mark.full
def test_maxvit_t_attention_parameters() -> None:
    """maxvit_t's first attention, 64 channels in heads of 32, 7×7 windows: to_qkv 192·64 +
    192, merge 64·64 + 64, table 13·13·2 = 338; 16,978 in all (torchvision's own count)."""
    layer = {"type": ATTENTION, "head_dim": 32, "max_seq_len": 49}
    assert check(layer, [64, 49, 64]) == ((64, 49, 64), 16_978)


@settings(max_examples=examples(500))  # each example runs torch: CI's 500
@given(
    p=st.integers(1, 4),
    channels=st.integers(1, 3),
    height=st.integers(1, 9),
    width=st.integers(1, 9),
    rank=st.sampled_from([3, 3, 3, 2, 4]),
)
def test_window_partition(p: int, channels: int, height: int, width: int, rank: int) -> None:
    shape = [channels, height, width][3 - rank :] if rank <= 3 else [2, channels, height, width]
    check({"type": "window_partition", "p": p}, shape)


@settings(max_examples=examples(500))  # each example runs torch: CI's 500
@given(
    p=st.integers(1, 3),
    h_partitions=st.integers(1, 3),
    w_partitions=st.integers(1, 3),
    groups=st.integers(1, 9),
    tokens=st.sampled_from([1, 2, 4, 9]),
    channels=st.integers(1, 3),
    rank=st.sampled_from([3, 3, 3, 2, 4]),
)
# 3 groups of 4 tokens read as 1×1 windows... of 12 tokens: torch checks the count alone
@example(p=2, h_partitions=1, w_partitions=3, groups=2, tokens=6, channels=1, rank=3)
def test_window_departition(
    p: int,
    h_partitions: int,
    w_partitions: int,
    groups: int,
    tokens: int,
    channels: int,
    rank: int,
) -> None:
    layer = {"type": "window_departition", "p": p}
    layer |= {"h_partitions": h_partitions, "w_partitions": w_partitions}
    full = [groups, tokens, channels]
    shape = full[3 - rank :] if rank <= 3 else [2, *full]
    check(layer, shape)


@pytest.mark.parametrize(
    ("layer", "field", "message"),
    [
        ({"type": "window_partition", "p": 0}, "p", "must be a positive integer"),
        ({"type": ATTENTION, "head_dim": 0, "max_seq_len": 4}, "head_dim", "positive integer"),
        ({"type": ATTENTION, "head_dim": 2, "max_seq_len": 0}, "max_seq_len", "positive"),
        ({"type": "window_departition", "p": 2, "h_partitions": 0, "w_partitions": 1},
         "h_partitions", "positive integer"),
    ],
)  # fmt: skip
def test_field_errors(layer: dict[str, Any], field: str, message: str) -> None:
    """Values torchvision cannot take: located messages naming the field, never a traceback;
    torchvision fails on each too."""
    with pytest.raises(SpecError) as caught:
        analyse(load_spec({"input": [4, 4, 4], "layers": [layer]}))
    text = str(caught.value)
    assert f"field {field}" in text and message in text
    assert torch_result(layer, [4, 4, 4]) is None


def test_refusal_messages_name_the_layer_and_field() -> None:
    cases = [
        ({"type": "window_partition", "p": 3}, [8, 6, 7], "field p", "does not divide the width 7"),
        ({"type": ATTENTION, "head_dim": 3, "max_seq_len": 4}, [2, 4, 8], "field head_dim",
         "does not divide feat_dim 8"),
        ({"type": ATTENTION, "head_dim": 2, "max_seq_len": 5}, [2, 5, 8], "field max_seq_len",
         "is not a square"),
        ({"type": ATTENTION, "head_dim": 2, "max_seq_len": 4}, [2, 9, 8], "field max_seq_len",
         "9 tokens a group"),
        ({"type": "window_departition", "p": 2, "h_partitions": 2, "w_partitions": 2},
         [3, 4, 5], "field h_partitions", "cannot be 2·2 windows"),
        ({"type": "window_partition", "p": 1}, [8, 6], "", "needs an input [C, H, W]"),
    ]  # fmt: skip
    for layer, shape, where, why in cases:
        with pytest.raises(SpecError) as caught:
            analyse(load_spec({"input": shape, "layers": [layer]}))
        text = str(caught.value)
        assert f"layers[0] ({layer['type']})" in text and where in text and why in text, text
        assert torch_result(layer, shape) is None


# --- multiply-adds: each convention against its tool, run on torchvision's modules ----------

CASES = [  # (layer, input)
    ({"type": ATTENTION, "head_dim": 32, "max_seq_len": 49}, [3, 49, 64]),
    ({"type": ATTENTION, "head_dim": 4, "max_seq_len": 4}, [5, 4, 8]),
    ({"type": ATTENTION, "head_dim": 4, "max_seq_len": 9}, [2, 9, 12]),
    ({"type": ATTENTION, "head_dim": 1, "max_seq_len": 2}, [3, 2, 4]),  # Dh = 1
    ({"type": ATTENTION, "head_dim": 2, "max_seq_len": 1}, [4, 1, 4]),  # P = 1
    ({"type": "window_partition", "p": 4}, [5, 8, 12]),
    ({"type": "window_departition", "p": 4, "h_partitions": 2, "w_partitions": 3}, [6, 16, 5]),
]


def tool_counts(module: Any, shape: list[int], batch: int) -> dict[str, int]:
    """torchinfo's, fvcore's and thop's totals at ``batch``; ptflops' (a batch of one)."""
    from tests.test_torch_windowed import tool_counts as counts

    return counts(module, shape, batch)


@pytest.mark.full
@pytest.mark.parametrize(("layer", "shape"), CASES)
@pytest.mark.parametrize("batch", [1, 3])
def test_conventions_equal_the_tools(layer: dict[str, Any], shape: list[int], batch: int) -> None:
    """Each convention's count of one MaxViT layer is its tool's, at batch 1 and 3; convcalc's
    is FlopCounterMode's half."""
    from torch.utils.flop_counter import FlopCounterMode

    from convcalc.views.costs import rule

    (entry,) = analyse(load_spec({"input": shape, "layers": [layer]})).leaves()
    module = torch_module(layer, shape[-1]).eval()
    for tool, count in tool_counts(module, shape, batch).items():
        assert rule(tool)(entry, batch) == count, (tool, layer, batch)
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        module(torch.zeros(batch, *shape))
    assert 2 * rule("convcalc")(entry, batch) == counter.get_total_flops()


def test_convcalc_rule_equals_the_flop_counter_everywhere() -> None:
    """convcalc's count of every small accepted attention, against FlopCounterMode: the einsums
    that contract a dimension of size 1 (Dh = 1, or P = 1) count nothing."""
    from torch.utils.flop_counter import FlopCounterMode

    from convcalc.views.costs import rule

    for head_dim, features, length in [(1, 3, 4), (2, 4, 1), (1, 1, 1), (3, 6, 9), (2, 8, 16)]:
        for tokens in {1, length}:
            layer = {"type": ATTENTION, "head_dim": head_dim, "max_seq_len": length}
            try:
                spec = {"input": [2, tokens, features], "layers": [layer]}
                (entry,) = analyse(load_spec(spec)).leaves()
            except SpecError:
                continue
            module = torch_module(layer, features).eval()
            counter = FlopCounterMode(display=False)
            with counter, torch.no_grad():
                module(torch.zeros(2, 2, tokens, features))
            assert 2 * rule("convcalc")(entry, 2) == counter.get_total_flops(), layer


def test_fvcore_rounds_numpys_printed_count() -> None:
    """fvcore reads numpy's einsum cost back from ``%.3e``: maxvit_t's first attention's
    2·3·2·49²·32 = 921,984 flops print as 9.220e+05, 461,000 a product instead of 460,992."""
    from convcalc.views.conventions.fvcore import _einsum

    assert _einsum(921_984) == 461_000
    assert _einsum(96) == 48


# --- the PyTorch export: the file's classes compute what torchvision's do -------------------


@pytest.mark.parametrize(("layer", "shape"), CASES)
def test_exported_classes_equal_torchvisions(
    layer: dict[str, Any], shape: list[int], tmp_path: Any
) -> None:
    """The exported file's class, given torchvision's module's state dict, gives the same
    output to the last bit."""
    import importlib.util

    from convcalc.frameworks.torch.export import to_pytorch

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
    ours.load_state_dict(theirs.state_dict())
    x = torch.randn(2, *shape)
    with torch.no_grad():
        assert torch.equal(ours(x), theirs(x))


@LONG
def test_exported_maxvit_t_equals_torchvisions() -> None:
    """convcalc's export of maxvit_t, loaded with torchvision's maxvit_t state dict (keys
    renamed by position), computes torchvision's output on a 224×224 input."""
    import convcalc
    from convcalc.frameworks.torch.export import to_pytorch

    report = convcalc.analyse(convcalc.load_spec("maxvit_t"))
    namespace: dict[str, Any] = {"__name__": "maxvit_t_export"}
    exec(compile(to_pytorch(report), "maxvit_t.py", "exec"), namespace)
    torch.manual_seed(0)
    ours = namespace["MaxvitT"]().eval()
    theirs = import_torchvision().models.maxvit_t().eval()
    mine, given = ours.state_dict(), theirs.state_dict()
    assert [tuple(t.shape) for t in mine.values()] == [tuple(t.shape) for t in given.values()]
    ours.load_state_dict(dict(zip(mine, given.values(), strict=True)))
    x = torch.randn(1, 3, 224, 224)
    with torch.no_grad():
        assert torch.allclose(ours(x), theirs(x), atol=1e-5, rtol=1e-4)


# --- the importer: torchvision's classes, refused at their line, named -----------------------


@pytest.mark.full
@pytest.mark.parametrize(
    ("name", "path", "cls", "hint"),
    [
        ("maxvit_t", "blocks.0.layers.0.layers.window_attention.partition_op",
         "WindowPartition", "type: window_partition"),
        ("maxvit_t", "blocks.0.layers.0.layers.window_attention.attn_layer",
         "RelativePositionalMultiHeadAttention", "type: relative_position_attention"),
        ("maxvit_t", "blocks.0.layers.0.layers", "MBConv", "convcalc shape maxvit_t"),
        ("maxvit_t", "", "MaxVit", "convcalc shape maxvit_t"),
        ("swin_t", "features.1.0.attn", "ShiftedWindowAttention",
         "type: shifted_window_attention"),
        ("swin_t", "features.2", "PatchMerging", "type: patch_merging"),
        ("swin_v2_t", "", "SwinTransformer", "convcalc shape swin_t"),
    ],
)  # fmt: skip
def test_importer_refuses_torchvisions_classes(name: str, path: str, cls: str, hint: str) -> None:
    """print(model) of torchvision's MaxViT and Swin (or a part of it): refused at the line
    of the first of their classes, which the message names with what a spec writes instead."""
    from convcalc.frameworks.torch.importer import ImportRefusal, from_print

    with torch.device("meta"):
        model = getattr(import_torchvision().models, name)()
    part = model.get_submodule(path) if path else model
    text = str(part)
    line = next(i for i, row in enumerate(text.splitlines(), 1) if f"{cls}(" in row)
    with pytest.raises(ImportRefusal) as caught:
        from_print(text, [64, 56, 56])
    message = str(caught.value)
    assert f"line {line}" in message and f"{cls} is torchvision's" in message, message
    assert hint in message and "print(model) does not show" in message


def test_maxvit_t_matches_its_publication() -> None:
    """30,919,624 parameters (MaxVit_T_Weights meta num_params), and torchvision's input crop."""
    import convcalc

    report = convcalc.analyse(convcalc.load_spec("maxvit_t"))
    assert report.total_params == 30_919_624
    weights = import_torchvision().models.MaxVit_T_Weights.DEFAULT
    assert math.prod(report.input_shape) == 3 * weights.transforms().crop_size[0] ** 2
