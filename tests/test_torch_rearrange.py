"""pixel_shuffle, pixel_unshuffle, unfold, fold, max_unpool and select_channels against PyTorch.

Each test draws an input shape and a layer; torch builds the module (``nn.PixelShuffle``,
``nn.Unfold``, ``nn.MaxUnpool{n}d`` given indices of zeros, ``x[:, channels]``, ...) and runs it
at batch 2 and at batch 3. A layer counts as accepted only where both runs accept it, keep the
batch dimension and agree on the per-sample shape; convcalc must then give torch's shape (and no
parameters), and refuse exactly where torch refuses. The multiply-add conventions are checked
against the tools themselves on the same modules.
"""

from __future__ import annotations

import warnings
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from tests.budget import examples
from tests.test_torch_layers import TORCH_REFUSALS, convcalc_run

torch = pytest.importorskip("torch")
nn = torch.nn

pytestmark = pytest.mark.torch

Layer = dict[str, Any]
BATCHES = (2, 3)


def _tuple(value: Any) -> Any:
    return tuple(value) if isinstance(value, list) else value


def torch_call(layer: Layer, x: Any) -> tuple[Any, Any]:
    """The spec layer applied by torch to the batch ``x``: (output, module or None)."""
    kind = layer["type"]
    args = {k: _tuple(v) for k, v in layer.items() if k != "type"}
    if kind == "pixel_shuffle":
        module = nn.PixelShuffle(**args)
    elif kind == "pixel_unshuffle":
        module = nn.PixelUnshuffle(**args)
    elif kind == "unfold":
        module = nn.Unfold(**args)
    elif kind == "fold":
        module = nn.Fold(**args)
    elif kind == "select_channels":
        return x[:, list(args["channels"])], None
    elif kind == "max_unpool":
        rank = x.dim() - 2
        if rank not in (1, 2, 3):
            raise RuntimeError(f"no MaxUnpool{rank}d")
        output_size = args.pop("output_size", None)
        module = getattr(nn, f"MaxUnpool{rank}d")(**args)
        indices = torch.zeros(x.shape, dtype=torch.long)  # position 0: valid in any output
        return module(x, indices, output_size=output_size), module
    else:
        raise KeyError(kind)
    return module(x), module


def torch_run(shape: list[int], layer: Layer) -> tuple[list[tuple[list[int], int]], int | None]:
    """[(output shape, params)] and None, or [] and 0 where torch refuses at any batch."""
    seen = []
    for batch in BATCHES:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                y, module = torch_call(layer, torch.zeros(batch, *shape))
        except TORCH_REFUSALS:
            return [], 0
        if y.dim() == 0 or y.shape[0] != batch or 0 in y.shape:
            return [], 0
        params = sum(p.numel() for p in module.parameters()) if module is not None else 0
        seen.append((list(y.shape[1:]), params))
    if seen[0] != seen[1]:
        return [], 0
    return [seen[0]], None


def check(shape: list[int], layer: Layer) -> bool:
    """convcalc gives torch's shape and parameters, and refuses where torch refuses."""
    expected = torch_run(shape, layer)
    got = convcalc_run(shape, [layer])
    assert got == expected, (
        f"input {shape}, layer {layer}:\n  convcalc {got}\n  torch    {expected}"
    )
    return expected[1] is None


@st.composite
def shapes(draw: st.DrawFn, ranks: tuple[int, ...] = (0, 1, 2, 3), top: int = 9) -> list[int]:
    rank = draw(st.sampled_from(ranks))
    return [draw(st.integers(1, 12))] + [draw(st.integers(1, top)) for _ in range(rank)]


def pair(draw: st.DrawFn, low: int, high: int) -> Any:
    """An int, or a list of one to three (two is the only length unfold and fold take)."""
    if draw(st.booleans()):
        return draw(st.integers(low, high))
    return [draw(st.integers(low, high)) for _ in range(draw(st.sampled_from([2, 2, 2, 1, 3])))]


# --- pixel shuffle ------------------------------------------------------------------------


@settings(max_examples=examples(500))  # each example runs torch: CI's 500
@given(shape=shapes(), factor=st.integers(1, 3))
@example(shape=[8, 2, 3], factor=2)  # 8 channels: not divisible by 4
@example(shape=[3, 8, 2, 3], factor=2)  # four dimensions: the last three shuffled
def test_pixel_shuffle(shape: list[int], factor: int) -> None:
    check(shape, {"type": "pixel_shuffle", "upscale_factor": factor})


@settings(max_examples=examples(500))  # each example runs torch: CI's 500
@given(shape=shapes(), factor=st.integers(1, 3))
@example(shape=[2, 4, 6], factor=2)
@example(shape=[2, 4, 6, 2], factor=2)
def test_pixel_unshuffle(shape: list[int], factor: int) -> None:
    check(shape, {"type": "pixel_unshuffle", "downscale_factor": factor})


def test_pixel_shuffle_examples() -> None:
    assert check([12, 3, 5], {"type": "pixel_shuffle", "upscale_factor": 2})
    assert convcalc_run([12, 3, 5], [{"type": "pixel_shuffle", "upscale_factor": 2}])[0] == [
        ([3, 6, 10], 0)
    ]
    assert not check([12, 3, 5], {"type": "pixel_shuffle", "upscale_factor": 3})
    assert not check([12, 3], {"type": "pixel_shuffle", "upscale_factor": 2})
    assert check([12, 3], {"type": "pixel_shuffle", "upscale_factor": 1})  # as torch: [N, 12, 3]
    assert check([3, 6, 10], {"type": "pixel_unshuffle", "downscale_factor": 2})
    assert not check([3, 6, 9], {"type": "pixel_unshuffle", "downscale_factor": 2})


# --- unfold and fold ----------------------------------------------------------------------


@st.composite
def sliding(draw: st.DrawFn, kind: str) -> Layer:
    layer: Layer = {"type": kind, "kernel_size": pair(draw, 1, 4)}
    for key, low, high in (("dilation", 1, 2), ("padding", 0, 2), ("stride", 1, 3)):
        if draw(st.booleans()):
            layer[key] = pair(draw, low, high)
    return layer


@settings(max_examples=examples(500))  # each example runs torch: CI's 500
@given(shape=shapes(), layer=sliding("unfold"))
@example(shape=[2, 4, 4], layer={"type": "unfold", "kernel_size": 5})
@example(shape=[2, 4, 4], layer={"type": "unfold", "kernel_size": 3, "padding": 2})
def test_unfold(shape: list[int], layer: Layer) -> None:
    check(shape, layer)


@st.composite
def fold_cases(draw: st.DrawFn) -> tuple[list[int], Layer]:
    """A fold whose input is mostly the [C·∏k, L] its output_size asks for, sometimes not."""
    layer = draw(sliding("fold"))
    layer["output_size"] = pair(draw, 1, 8)
    rows, columns = draw(st.integers(1, 3)), draw(st.integers(1, 40))
    if draw(st.integers(0, 3)):  # the size unfold gives for [C, *output_size]: accepted
        unfold = {k: v for k, v in layer.items() if k not in ("type", "output_size")}
        size = layer["output_size"]
        size = size if isinstance(size, list) else [size, size]
        try:
            y = nn.Unfold(**{k: _tuple(v) for k, v in unfold.items()})(torch.zeros(1, rows, *size))
            rows, columns = int(y.shape[1]), int(y.shape[2])
        except TORCH_REFUSALS:
            pass
    shape = [rows, columns] if draw(st.integers(0, 5)) else [rows, columns, 2]
    return shape, layer


@settings(max_examples=examples(500))  # each example runs torch: CI's 500
@given(case=fold_cases())
@example(case=([12, 9], {"type": "fold", "output_size": 4, "kernel_size": 2}))
@example(case=([13, 9], {"type": "fold", "output_size": 4, "kernel_size": 2}))
@example(case=([12, 8], {"type": "fold", "output_size": 4, "kernel_size": 2}))
@example(case=([12, 8], {"type": "fold", "output_size": 1, "kernel_size": 2}))
def test_fold(case: tuple[list[int], Layer]) -> None:
    check(*case)


def test_unfold_and_fold_examples() -> None:
    """[3, 8, 8], 3×3 blocks with stride 2: 3·9 = 27 rows, 3·3 = 9 blocks, and back."""
    layer = {"type": "unfold", "kernel_size": 3, "stride": 2}
    assert check([3, 8, 8], layer)
    assert convcalc_run([3, 8, 8], [layer])[0] == [([27, 9], 0)]
    fold = {"type": "fold", "output_size": [8, 8], "kernel_size": 3, "stride": 2}
    assert check([27, 9], fold)
    assert not check([27, 10], fold)
    assert not check([3, 8], {"type": "unfold", "kernel_size": 2})


# --- max_unpool ---------------------------------------------------------------------------


@st.composite
def unpool_cases(draw: st.DrawFn) -> tuple[list[int], Layer]:
    shape = draw(shapes(ranks=(0, 1, 2, 3, 3), top=5))
    rank = len(shape) - 1
    layer: Layer = {"type": "max_unpool", "kernel_size": draw(st.integers(1, 3))}
    if draw(st.booleans()):
        layer["kernel_size"] = [draw(st.integers(1, 3)) for _ in range(max(rank, 1))]
    if draw(st.booleans()):
        layer["stride"] = draw(st.integers(1, 3))
    if draw(st.booleans()):
        layer["padding"] = draw(st.integers(0, 2))
    if draw(st.booleans()):
        near = [draw(st.integers(0, 14)) for _ in range(max(rank, 1))]
        if draw(st.integers(0, 3)) == 0:
            near = [draw(st.integers(1, 3)), draw(st.integers(1, 3)), *near]
        layer["output_size"] = near
    return shape, layer


@settings(max_examples=examples(500))  # each example runs torch: CI's 500
@given(case=unpool_cases())
@example(case=([3, 4, 4], {"type": "max_unpool", "kernel_size": 2, "output_size": [9, 9]}))
@example(case=([3, 4, 4], {"type": "max_unpool", "kernel_size": 2, "output_size": [10, 6]}))
@example(case=([3, 4, 4], {"type": "max_unpool", "kernel_size": 2, "output_size": [2, 3, 9, 7]}))
@example(case=([3, 1, 1], {"type": "max_unpool", "kernel_size": 2, "padding": 2}))
@example(case=([3, 1, 1], {"type": "max_unpool", "kernel_size": 2, "padding": 1}))
def test_max_unpool(case: tuple[list[int], Layer]) -> None:
    check(*case)


def test_max_unpool_undoes_a_max_pool() -> None:
    """With the indices of the max-pool it inverts (torch's own pair), the pool's input shape."""
    pool, unpool = nn.MaxPool2d(2, return_indices=True), nn.MaxUnpool2d(2)
    x = torch.randn(1, 3, 9, 7)
    y, indices = pool(x)
    back = unpool(y, indices, output_size=x.shape)
    layers = [
        {"type": "maxpool", "kernel_size": 2},
        {"type": "max_unpool", "kernel_size": 2, "output_size": [9, 7]},
    ]
    assert convcalc_run([3, 9, 7], layers)[0][-1] == (list(back.shape[1:]), 0)
    plain = [layers[0], {"type": "max_unpool", "kernel_size": 2}]
    default = unpool(y, torch.zeros_like(indices))  # 8×6: the odd row and column are lost
    assert convcalc_run([3, 9, 7], plain)[0][-1] == (list(default.shape[1:]), 0) == ([3, 8, 6], 0)


# --- select_channels ----------------------------------------------------------------------


@settings(max_examples=examples(500))  # each example runs torch: CI's 500
@given(shape=shapes(), data=st.data())
def test_select_channels(shape: list[int], data: st.DataObject) -> None:
    c = shape[0]
    channels = data.draw(st.lists(st.integers(-c - 2, c + 1), min_size=1, max_size=8))
    check(shape, {"type": "select_channels", "channels": channels})
