"""Composite blocks against PyTorch: random nests of sequential, repeat, residual, concat and
scale around small stacks of conv, pooling, batchnorm and activations, up to three levels deep.

A tiny interpreter here runs the spec dicts with torch (residual = body(x) + shortcut(x),
concat = torch.cat along channels, scale = x * body(x)), building each leaf module for the shape
it actually sees, on a batch of two. Every entry of convcalc's report, blocks and leaves in
execution order, must have torch's path, output shape and parameters, and the final shape must
match; where torch refuses (a leaf, or a merge: shapes that do not add, concatenate or
multiply) convcalc must refuse at the same path.

A residual broadcasts its body and shortcut as torch's + does ([C, 1, 1] against [C, H, W]).
One merge is stricter in the spec than torch's operator, as the README says: a scale's body
must broadcast to x's own shape (torch's * would also grow x). The interpreter checks that
rule itself, after torch has run the operation.

The deep-nesting tests need no torch: blocks nested 500 deep and a 20,000-layer chain analyse,
load from YAML text and render through the CLI without a RecursionError.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

from convcalc.analysis import LayerRefusal, analyse
from convcalc.cli import cli
from convcalc.spec.validate import load_spec

# long: the full run takes them; tests/test_blocks.py covers both sizes in every run
LONG = pytest.mark.full  # long: only the full run (CI, pytest --full) takes it

torch: Any = importlib.import_module("torch") if importlib.util.find_spec("torch") else None
needs_torch = [
    pytest.mark.torch,
    pytest.mark.skipif(torch is None, reason="torch is not installed"),
]

Layer = dict[str, Any]
Draw = Callable[..., Any]  # st.DrawFn or DataObject.draw, for helpers of strategies
Entry = tuple[str, list[int], int]  # path, output shape, parameters
BLOCKS = ("sequential", "repeat", "residual", "concat", "scale")
TORCH_REFUSALS = (RuntimeError, ValueError, IndexError, TypeError, NotImplementedError)


# --- the torch interpreter ----------------------------------------------------------------


class TorchRefused(Exception):
    """torch (or the spec's merge rule) refused the layer or block at ``path``."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason


def _tuple(value: Any) -> Any:
    return tuple(value) if isinstance(value, list) else value


def torch_leaf(layer: Layer, shape: tuple[int, ...]) -> Any:
    """The torch module of one leaf layer, given the batch-less input shape torch produced."""
    nn = torch.nn
    kind = layer["type"]
    args = {k: _tuple(v) for k, v in layer.items() if k != "type"}
    rank = len(shape) - 1
    by_rank = {
        "conv": "Conv",
        "maxpool": "MaxPool",
        "avgpool": "AvgPool",
        "adaptive_avgpool": "AdaptiveAvgPool",
        "batchnorm": "BatchNorm",
    }
    if kind in by_rank:
        if rank not in (1, 2, 3):
            raise ValueError(f"no {by_rank[kind]}{rank}d")
        cls = getattr(nn, f"{by_rank[kind]}{rank}d")
        return cls(shape[0], **args) if kind in ("conv", "batchnorm") else cls(**args)
    simple = {"relu": nn.ReLU, "sigmoid": nn.Sigmoid, "identity": nn.Identity}
    return simple[kind](**args)


class Interpreter:
    """Runs spec layers with torch and records every entry as convcalc's report walks them:
    a block before its children, a repeat unrolled, a residual's body before its shortcut."""

    def __init__(self) -> None:
        self.records: list[tuple[Entry, bool]] = []  # (entry, is a leaf)

    @property
    def entries(self) -> list[Entry]:
        return [entry for entry, _ in self.records]

    def run(self, layers: list[Layer], x: Any, prefix: str) -> Any:
        for i, layer in enumerate(layers):
            x = self.one(layer, x, f"{prefix}[{i}]")
        return x

    def one(self, layer: Layer, x: Any, path: str) -> Any:
        kind = layer["type"]
        if kind not in BLOCKS:
            return self.leaf(layer, x, path)
        at = len(self.records)
        self.records.append(((path, [], 0), False))  # filled in once the block is merged
        if kind == "sequential":
            y = self.run(layer["layers"], x, f"{path}.layers")
        elif kind == "repeat":
            y = self.run(layer["layers"] * layer["times"], x, f"{path}.layers")
        elif kind == "residual":
            body = self.run(layer["body"], x, f"{path}.body")
            shortcut = self.run(layer.get("shortcut", []), x, f"{path}.shortcut")
            y = self.merge(path, lambda: body + shortcut)
        elif kind == "concat":
            outs = [
                self.run(b, x, f"{path}.branches[{j}]") for j, b in enumerate(layer["branches"])
            ]
            y = self.merge(path, lambda: torch.cat(outs, dim=1))
        else:  # scale
            gate = self.run(layer["body"], x, f"{path}.body")
            y = self.merge(path, lambda: x * gate)
            if y.shape != x.shape:  # torch grew x; the spec broadcasts the gate to x's shape
                raise TorchRefused(path, f"* broadcast {x.shape} to {y.shape}")
        # a block's parameters are its leaves': every leaf recorded since it opened
        params = sum(entry[2] for entry, leaf in self.records[at + 1 :] if leaf)
        self.records[at] = ((path, list(y.shape[1:]), params), False)
        return y

    @staticmethod
    def merge(path: str, op: Any) -> Any:
        try:
            return op()
        except TORCH_REFUSALS as exc:
            raise TorchRefused(path, str(exc).splitlines()[0]) from None

    def leaf(self, layer: Layer, x: Any, path: str) -> Any:
        try:
            module = torch_leaf(layer, tuple(x.shape[1:])).eval()
            with torch.no_grad():
                y = module(x)
        except TORCH_REFUSALS as exc:
            raise TorchRefused(path, str(exc).splitlines()[0]) from None
        if 0 in y.shape:  # convcalc refuses an empty dimension where it appears
            raise TorchRefused(path, f"empty output {tuple(y.shape)}")
        params = sum(int(p.numel()) for p in module.parameters())
        self.records.append(((path, list(y.shape[1:]), params), True))
        return y


@dataclass(frozen=True)
class Outcome:
    """What one side made of a spec: every entry and the final shape, or the refused path."""

    entries: list[Entry] | None
    output: list[int] | None
    refused: str | None


def torch_outcome(input_shape: list[int], layers: list[Layer]) -> Outcome:
    interpreter = Interpreter()
    try:
        y = interpreter.run(layers, torch.zeros(2, *input_shape), "layers")
    except TorchRefused as exc:
        return Outcome(None, None, exc.path)
    return Outcome(interpreter.entries, list(y.shape[1:]), None)


def convcalc_outcome(input_shape: list[int], layers: list[Layer]) -> Outcome:
    try:
        report = analyse(load_spec({"input": input_shape, "layers": layers}))
    except LayerRefusal as exc:
        return Outcome(None, None, exc.path)
    entries = [(e.path, list(e.output_shape), e.params) for e in report.walk()]
    assert report.total_params == sum(e.params for e in report.leaves())
    return Outcome(entries, list(report.output_shape), None)


# --- strategies ---------------------------------------------------------------------------


@st.composite
def leaves(draw: st.DrawFn, channels: int) -> Layer:
    """A leaf that usually keeps the shape (so that merges often fit), sometimes not."""
    kind = draw(
        st.sampled_from(
            [
                *("conv", "conv", "conv", "maxpool", "avgpool", "batchnorm", "relu", "sigmoid"),
                *("identity", "adaptive_avgpool"),
            ]
        )
    )
    if kind == "conv":
        k = draw(st.sampled_from([1, 1, 3, 3, 2]))
        out = draw(st.sampled_from([channels, channels, channels, 2 * channels, 1, 3]))
        layer: Layer = {"type": "conv", "out_channels": out, "kernel_size": k}
        stride = draw(st.sampled_from([1, 1, 1, 2]))
        if stride > 1:
            layer["stride"] = stride
        if k == 3 and draw(st.integers(0, 3)):
            layer["padding"] = 1
        if out == channels and draw(st.integers(0, 4)) == 0:
            layer["groups"] = channels  # depthwise
        if draw(st.integers(0, 3)) == 0:
            layer["bias"] = False
        return layer
    if kind in ("maxpool", "avgpool"):
        k = draw(st.sampled_from([1, 2, 3]))
        layer = {"type": kind, "kernel_size": k, "stride": draw(st.sampled_from([1, 2, k]))}
        if k == 3 and draw(st.booleans()):
            layer["padding"] = 1
        return layer
    if kind == "batchnorm" and draw(st.booleans()):
        return {"type": kind, "affine": False}
    if kind == "adaptive_avgpool":
        return {"type": kind, "output_size": draw(st.sampled_from([1, 1, 2]))}
    return {"type": kind}


def squeeze_excite(channels: int, draw: Draw) -> list[Layer]:
    """The usual scale body: pool to 1, a 1×1 conv (two, with a squeeze), a sigmoid."""
    body: list[Layer] = [{"type": "adaptive_avgpool", "output_size": 1}]
    if draw(st.booleans()):
        body += [
            {"type": "conv", "out_channels": max(1, channels // 2), "kernel_size": 1},
            {"type": "relu"},
        ]
    gate = draw(st.sampled_from([channels, channels, channels, 1, channels + 1]))
    return [*body, {"type": "conv", "out_channels": gate, "kernel_size": 1}, {"type": "sigmoid"}]


@st.composite
def stacks(draw: st.DrawFn, channels: int, depth: int, min_size: int = 0) -> list[Layer]:
    """0 to 3 layers; with ``depth`` left, some of them blocks holding stacks of their own."""
    layers: list[Layer] = []
    for _ in range(draw(st.integers(min_size, 3))):
        if depth > 0 and draw(st.booleans()):
            layers.append(draw(blocks(channels, depth - 1)))
        else:
            layers.append(draw(leaves(channels)))
    return layers


@st.composite
def blocks(draw: st.DrawFn, channels: int, depth: int) -> Layer:
    kind = draw(st.sampled_from(BLOCKS))
    inner = stacks(channels, depth)
    if kind == "sequential":
        return {"type": kind, "layers": draw(inner)}
    if kind == "repeat":
        return {"type": kind, "times": draw(st.integers(1, 3)), "layers": draw(inner)}
    if kind == "residual":
        which = draw(st.sampled_from(["identity", "identity", "projection", "projection", "any"]))
        if which != "projection":
            body = draw(stacks(channels, depth, min_size=1))
            shortcut = draw(inner) if which == "any" else []
        else:  # a downsampling body (3×3, padding 1) and the 1×1 conv that matches it
            out = draw(st.sampled_from([channels, 2 * channels]))
            stride = draw(st.sampled_from([1, 2]))
            first = {"type": "conv", "out_channels": out, "kernel_size": 3, "padding": 1}
            body = [{**first, "stride": stride}, *draw(stacks(out, depth))]
            shortcut = [{"type": "conv", "out_channels": out, "kernel_size": 1, "stride": stride}]
        block: Layer = {"type": kind, "body": body}
        written = draw(st.booleans())
        if shortcut or written:  # an identity shortcut, written or not
            block["shortcut"] = shortcut
        return block
    if kind == "concat":
        count = draw(st.integers(2, 3))
        branches = [draw(inner) if draw(st.integers(0, 2)) else [] for _ in range(count)]
        return {"type": kind, "branches": branches}
    body = squeeze_excite(channels, draw) if draw(st.integers(0, 2)) else draw(inner)
    return {"type": "scale", "body": body}


@st.composite
def specs(draw: st.DrawFn) -> tuple[list[int], list[Layer]]:
    rank = draw(st.integers(1, 3))
    channels = draw(st.integers(1, 4))
    top = {1: 12, 2: 8, 3: 5}[rank]
    shape = [channels] + [draw(st.integers(1, top)) for _ in range(rank)]
    layers = [draw(blocks(channels, 2))]  # a block holding blocks holding blocks: 3 levels
    if draw(st.booleans()):
        layers = draw(stacks(channels, 2)) + layers + draw(stacks(channels, 2))
    return shape, layers


# --- the differential tests ---------------------------------------------------------------


def check(input_shape: list[int], layers: list[Layer]) -> Outcome:
    expected = torch_outcome(input_shape, layers)
    got = convcalc_outcome(input_shape, layers)
    spec = json.dumps({"input": input_shape, "layers": layers})
    assert got == expected, f"{spec}:\n  convcalc {got}\n  torch    {expected}"
    return got


@pytest.mark.full
@pytest.mark.torch
@pytest.mark.skipif(torch is None, reason="torch is not installed")
@given(spec=specs())
def test_random_blocks_match_torch(spec: tuple[list[int], list[Layer]]) -> None:
    check(*spec)


def conv(out: int, k: int = 1, **more: Any) -> Layer:
    return {"type": "conv", "out_channels": out, "kernel_size": k, **more}


RELU: Layer = {"type": "relu"}
BOTTLENECK: Layer = {
    "type": "residual",
    "body": [conv(4), {"type": "batchnorm"}, RELU, conv(4, 3, stride=2, padding=1), conv(16)],
    "shortcut": [conv(16, stride=2), {"type": "batchnorm"}],
}
INCEPTION: Layer = {
    "type": "concat",
    "branches": [
        [conv(4)],
        [conv(2), conv(4, 3, padding=1)],
        [{"type": "maxpool", "kernel_size": 3, "stride": 1, "padding": 1}, conv(2)],
        [],
    ],
}


def squeeze_excitation(channels: int) -> Layer:
    return {
        "type": "scale",
        "body": [
            {"type": "adaptive_avgpool", "output_size": 1},
            conv(2),
            RELU,
            conv(channels),
            {"type": "sigmoid"},
        ],
    }


@pytest.mark.torch
@pytest.mark.skipif(torch is None, reason="torch is not installed")
@pytest.mark.parametrize(
    ("shape", "layers", "refused"),
    [
        ([8, 9, 9], [BOTTLENECK, INCEPTION, squeeze_excitation(26)], None),
        ([8, 6], [{"type": "repeat", "times": 3, "layers": [INCEPTION, conv(8)]}], None),
        (
            [8, 4, 4, 4],
            [{"type": "sequential", "layers": [BOTTLENECK, squeeze_excitation(16)]}],
            None,
        ),
        ([8, 9, 9], [{**BOTTLENECK, "shortcut": []}], "layers[0]"),  # 16×5×5 + 8×9×9
        ([8, 9, 9], [RELU, {**BOTTLENECK, "shortcut": [conv(16)]}], "layers[1]"),
        # torch's + broadcasts [8, 1, 1] over [8, 9, 9], and so does the residual
        (
            [8, 9, 9],
            [{"type": "residual", "body": [{"type": "adaptive_avgpool", "output_size": 1}]}],
            None,
        ),
        ([8, 9, 9], [{"type": "concat", "branches": [[conv(4, 3)], []]}], "layers[0]"),
        ([8, 9, 9], [{"type": "concat", "branches": [[], [BOTTLENECK]]}], "layers[0]"),
        ([8, 9, 9], [{"type": "scale", "body": [conv(4)]}], "layers[0]"),
        (
            [8, 9, 9],
            [{"type": "scale", "body": [{"type": "adaptive_avgpool", "output_size": [1, 3]}]}],
            "layers[0]",
        ),
        (
            [8, 9, 9],
            [
                {
                    "type": "scale",
                    "body": [{"type": "adaptive_avgpool", "output_size": [1, 9]}, conv(1)],
                }
            ],
            None,
        ),
        # torch's * would grow x [1, 9, 9] to [8, 9, 9]; the spec broadcasts the gate to x
        ([1, 9, 9], [{"type": "scale", "body": [conv(8, 9)]}], "layers[0]"),
        (
            [8, 9, 9],
            [{"type": "concat", "branches": [[], [RELU, {"type": "scale", "body": [conv(3)]}]]}],
            "layers[0].branches[1][1]",
        ),
        (
            [8, 5],
            [{"type": "repeat", "times": 3, "layers": [RELU, conv(8, 3)]}],  # 5 → 3 → 1 → ✗
            "layers[0].layers[5]",
        ),
        (
            [8, 5],
            [{"type": "residual", "body": [], "shortcut": [RELU, conv(8, 6)]}],
            "layers[0].shortcut[1]",
        ),
    ],
)
def test_blocks(shape: list[int], layers: list[Layer], refused: str | None) -> None:
    """Known blocks (ResNet bottleneck, Inception, squeeze-and-excitation) and known refusals:
    convcalc names the merging block, or the leaf inside it."""
    assert check(shape, layers).refused == refused


# --- depth without recursion --------------------------------------------------------------

DEPTH = 500
# each block as YAML block style: its head at an indent, and how far its child list is indented
HEADS = {
    "sequential": ("- type: sequential\n  layers:\n", 2),
    "residual": ("- type: residual\n  body:\n", 2),
    "concat": ("- type: concat\n  branches:\n  -\n", 4),
    "scale": ("- type: scale\n  body:\n", 2),
    "repeat": ("- type: repeat\n  times: 1\n  layers:\n", 2),
}
KEYS = {
    "sequential": ".layers[0]",
    "residual": ".body[0]",
    "concat": ".branches[0][0]",
    "scale": ".body[0]",
    "repeat": ".layers[0]",
}


def wrap(kind: str, layer: Layer) -> Layer:
    if kind == "concat":
        return {"type": kind, "branches": [[layer]]}
    if kind == "repeat":
        return {"type": kind, "times": 1, "layers": [layer]}
    key = {"sequential": "layers", "residual": "body", "scale": "body"}[kind]
    return {"type": kind, key: [layer]}


def nest(order: list[str], leaf: Layer) -> tuple[Layer, str, str]:
    """The leaf inside blocks of the kinds in ``order`` (outermost first): as a dict, as a YAML
    spec in block style (indented, as people write them: deep flow brackets are refused), and
    the leaf's path. Built with loops, not recursion."""
    layer = leaf
    for kind in reversed(order):
        layer = wrap(kind, layer)
    lines, indent = ["input: [4, 6, 6]\nlayers:\n"], 0
    for kind in order:
        head, step = HEADS[kind]
        lines += [" " * indent + line + "\n" for line in head.splitlines()]
        indent += step
    fields = ", ".join(f"{key}: {value}" for key, value in leaf.items())
    lines.append(" " * indent + f"- {{{fields}}}\n")
    return layer, "".join(lines), "layers[0]" + "".join(KEYS[kind] for kind in order)


@pytest.mark.parametrize(
    "kinds", [["sequential"], ["residual"], ["sequential", "residual"], list(BLOCKS)]
)
@LONG
def test_nesting_500_deep(kinds: list[str], tmp_path: Path) -> None:
    """Every block kind keeps the shape here (one branch, an identity shortcut, x · x, once), so
    the 500 levels all hold one conv: its path names all of them."""
    order = [kinds[i % len(kinds)] for i in range(DEPTH)]
    layer, yaml_text, leaf_path = nest(order, conv(4, 3, padding=1))
    flat = []
    for source in ({"input": [4, 6, 6], "layers": [layer]}, yaml_text):
        report = analyse(load_spec(source))
        assert report.output_shape == (4, 6, 6)
        assert report.total_params == 4 * 4 * 9 + 4
        (leaf,) = report.leaves()
        assert leaf.path == leaf_path and leaf.depth == DEPTH
        assert len(list(report.walk())) == DEPTH + 1
        assert len(report.to_dict()["layers"]) == 1
        flat.append([(e.path, e.output_shape, e.params) for e in report.walk()])
    assert flat[0] == flat[1]
    # the same nest with a kernel too large for the input: refused at the innermost leaf
    big, big_text, big_path = nest(order, conv(4, 7))
    for source in ({"input": [4, 6, 6], "layers": [big]}, big_text):
        with pytest.raises(LayerRefusal) as refusal:
            analyse(load_spec(source))
        assert refusal.value.path == big_path
        if isinstance(source, str):  # on the last line, where the conv is written
            assert refusal.value.line == source.count("\n")
    # and through the CLI, table and JSON
    path = tmp_path / "deep.yaml"
    path.write_text(yaml_text, encoding="utf-8")
    result = CliRunner().invoke(cli, ["shape", str(path)])
    assert result.exit_code == 0 and "Total params: 148" in result.output, result.output[-500:]
    if kinds == list(BLOCKS):
        result = CliRunner().invoke(cli, ["shape", str(path), "--format", "json"])
        assert result.exit_code == 0 and '"total_params": 148' in result.output


@LONG
def test_chain_of_20000_layers() -> None:
    count = 20_000
    layers = [conv(4) if i % 2 == 0 else dict(RELU) for i in range(count)]
    text = "input: [4, 6, 6]\nlayers:\n" + "".join(
        "- {type: conv, out_channels: 4, kernel_size: 1}\n" if i % 2 == 0 else "- {type: relu}\n"
        for i in range(count)
    )
    for source in ({"input": [4, 6, 6], "layers": layers}, text):
        report = analyse(load_spec(source))
        assert len(report.layers) == count and report.output_shape == (4, 6, 6)
        assert report.total_params == count // 2 * (4 * 4 + 4)
        assert report.layers[-1].path == f"layers[{count - 1}]"
    # one repeat unrolled to as many layers
    report = analyse(
        load_spec(
            {
                "input": [4, 6, 6],
                "layers": [{"type": "repeat", "times": count // 2, "layers": layers[:2]}],
            }
        )
    )
    assert sum(1 for _ in report.leaves()) == count
    assert report.total_params == count // 2 * (4 * 4 + 4)
    assert math.prod(report.output_shape) == report.output_size == 144
