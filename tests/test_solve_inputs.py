"""The closed-form input sizes (convcalc.solve.inputs) against brute force.

The set algebra is checked against plain Python sets over finite ranges; the maps against their
own definition evaluated point by point. The solver is checked against PyTorch: random chains
and nested blocks (conv with padding, dilation and stride, pools with ceil mode and padding,
transposed convolutions, upsampling, padding, H and W exchanged, window partitions and
departitions, residual, concat, scale, graph, U-Net levels, a flatten into a linear; Swin's
shifted window attention, patch merging and linears channels-last) are run by a small torch
interpreter on the meta device, its modules built once for the declared input (and, for
``rebuild=True``, rebuilt for each input): per dimension for every size 1..N, N well past the
set's threshold, and jointly on a grid, the sizes torch accepts must be exactly the closed
form's. Bundled networks likewise against their torchvision models.
"""

from __future__ import annotations

import contextlib
import functools
import importlib.util
import json
import operator
import re
from pathlib import Path
from typing import Any

import hypothesis
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument

from convcalc.budget import WorkLimit
from convcalc.solve.inputs import NotSolvable, SizeMap, SizeSet, accepted_sizes, solve_input
from convcalc.spec.validate import load_spec
from tests.budget import examples, spec_params

HAS_TORCH = importlib.util.find_spec("torch") is not None


def event(value: str) -> None:
    """Hypothesis' event inside a property test; nothing in a plain test."""
    with contextlib.suppress(InvalidArgument):
        hypothesis.event(value)


# --- the sets against Python sets ---------------------------------------------------------

N = 400  # the finite range the sets are compared on: past every threshold and period drawn


@st.composite
def size_sets(draw: st.DrawFn) -> tuple[SizeSet, set[int]]:
    """A set built from a random pattern, and its members in 1..N as a Python set."""
    threshold = draw(st.integers(1, 40))
    period = draw(st.integers(1, 12))
    pattern = draw(st.lists(st.booleans(), min_size=period, max_size=period))
    below = draw(st.sets(st.integers(1, threshold), max_size=12))

    def member(n: int) -> bool:
        return n in below if n < threshold else pattern[n % period]

    return SizeSet.build(member, threshold, period), {n for n in range(1, N) if member(n)}


@given(size_sets())
@settings(max_examples=examples(1000))  # pure arithmetic: ~3 ms an example
def test_membership_iteration_and_neighbours(drawn: tuple[SizeSet, set[int]]) -> None:
    sizes, brute = drawn
    assert {n for n in range(1, N) if n in sizes} == brute
    assert 0 not in sizes and -3 not in sizes
    ordered = sorted(brute)
    first = [n for _, n in zip(range(len(ordered)), sizes, strict=False)]
    assert [n for n in first if n < N] == ordered
    assert bool(sizes) == bool(brute)
    assert sizes.smallest() == (ordered[0] if ordered else None)
    for n in (1, 2, 5, 17, 40, 99, 150):
        above = [m for m in ordered if m >= n]
        below = [m for m in ordered if m <= n]
        assert sizes.next_from(n) == (above[0] if above else None)
        assert sizes.last_to(n) == (below[-1] if below else None)


@given(size_sets(), size_sets())
@settings(max_examples=examples(1000))  # pure arithmetic: ~3 ms an example
def test_intersection_union_difference(a: Any, b: Any) -> None:
    (x, xs), (y, ys) = a, b
    for result, expected in ((x & y, xs & ys), (x | y, xs | ys), (x - y, xs - ys)):
        assert {n for n in range(1, N) if n in result} == expected
    assert (x & y).issubset(x) and x.issubset(x | y)
    assert (x | y) == (y | x) and (x & y) == (y & x)


@pytest.mark.full
@given(size_sets())
@settings(max_examples=examples(1000))  # pure arithmetic: ~3 ms an example
def test_descriptions_read_back(drawn: tuple[SizeSet, set[int]]) -> None:
    sizes, _ = drawn
    text = sizes.describe("H")
    assert SizeSet.parse(text) == sizes, text


def test_canonical_values_are_equal() -> None:
    even = SizeSet.build(lambda n: n % 2 == 0, 1, 2)
    assert SizeSet.build(lambda n: n % 2 == 0, 9, 8) == even
    assert SizeSet.build(lambda n: n >= 8, 8, 1) == SizeSet.at_least(8)
    assert SizeSet.progression(0, 2, 2) == even
    assert SizeSet.finite([]) == SizeSet.empty() and not SizeSet.empty()


@pytest.mark.every_case
@pytest.mark.parametrize(
    ("sizes", "text"),
    [
        (SizeSet.at_least(8), "H ≥ 8"),
        (SizeSet.at_least(1), "H ≥ 1"),
        (SizeSet.progression(0, 16, 16), "H = 16k, k ≥ 1"),
        (SizeSet.finite(range(218, 225)), "H ∈ {218, …, 224}"),
        (SizeSet.progression(1, 32, 33), "H ≡ 1 (mod 32), H ≥ 33"),
        (SizeSet.finite([3]) | SizeSet.at_least(8), "H = 3 or H ≥ 8"),
        (SizeSet.finite([1, 2, 5]), "H ∈ {1, 2, 5}"),
        (SizeSet.empty(), "H ∈ ∅"),
        (
            SizeSet.progression(0, 4, 4) | SizeSet.progression(1, 4, 9),
            "H = 4k, k ≥ 1 or H ≡ 1 (mod 4), H ≥ 9",
        ),
    ],
)
def test_descriptions(sizes: SizeSet, text: str) -> None:
    assert sizes.describe("H") == text
    assert SizeSet.parse(text) == sizes


def test_the_parser_reads_ascii_and_refuses_nonsense() -> None:
    assert SizeSet.parse("W >= 8") == SizeSet.at_least(8)
    assert SizeSet.parse("W ∈ {1, ..., 4}") == SizeSet.finite([1, 2, 3, 4])
    for bad in ("H > 8", "H ∈ {…, 4}", "H ≡ 1 (mod 0), H ≥ 1", "sizes"):
        with pytest.raises(ValueError, match=r"cannot read|ellipsis"):
            SizeSet.parse(bad)


def test_iteration_is_lazy() -> None:
    sizes = SizeSet.progression(3, 7, 10)
    it = iter(sizes)
    assert [next(it) for _ in range(4)] == [10, 17, 24, 31]


# --- the maps against their definition ----------------------------------------------------


@st.composite
def size_maps(draw: st.DrawFn) -> SizeMap:
    period = draw(st.integers(1, 6))
    slope = draw(st.integers(0, 4))
    offsets = draw(st.lists(st.integers(-5, 12), min_size=period, max_size=period))
    return SizeMap(period, slope, tuple(offsets))


def _naive(f: SizeMap, n: int) -> int:
    return f.slope * (n // f.period) + f.offsets[n % f.period]


@given(size_maps(), size_maps())
@settings(max_examples=examples(1000))  # pure arithmetic: ~3 ms an example
def test_composition_and_refinement(f: SizeMap, g: SizeMap) -> None:
    h = f.then(g)
    assert all(h(n) == _naive(g, _naive(f, n)) for n in range(-20, 200))
    wider = f.refine(f.period * 3)
    assert all(wider(n) == f(n) for n in range(-20, 200))


@given(size_maps(), size_sets())
@settings(max_examples=examples(1000))  # pure arithmetic: ~3 ms an example
def test_preimage_and_image(f: SizeMap, drawn: tuple[SizeSet, set[int]]) -> None:
    sizes, brute = drawn
    pre = f.preimage(sizes)
    limit = 60  # f(n) < N for n < 60: slope ≤ 4, offsets ≤ 12
    assert {n for n in range(1, limit) if n in pre} == {n for n in range(1, limit) if f(n) in brute}
    image = f.image(sizes)
    # every m < 60 that is f(n) for some member n comes from an n < N
    expected = {f(n) for n in brute if 1 <= f(n) < limit}
    assert {m for m in range(1, limit) if m in image} == expected


@given(size_maps(), size_maps())
@settings(max_examples=examples(1000))  # pure arithmetic: ~3 ms an example
def test_agreement(f: SizeMap, g: SizeMap) -> None:
    both = f.agree(g)
    assert {n for n in range(1, N) if n in both} == {n for n in range(1, N) if f(n) == g(n)}


# --- the solver against PyTorch -----------------------------------------------------------
#
# Random networks are drawn as spec dicts and run by PyTorch modules on the meta device. Built
# for the declared input (the solver's default), each module is constructed once, for what the
# declared input gives it (a linear's in_features, a window departition's grid), and then run
# on every other size; rebuilt (``rebuild=True``), each is constructed for what each input gives
# it. torch accepts a size where no module raises and no shape holds a 0.

C = 2  # every conv keeps two channels, so that residuals and scales join
REFUSALS = (RuntimeError, ValueError, IndexError, TypeError, AssertionError)
SWAP = {"type": "permute", "dims": [0, 2, 1]}  # H and W exchanged: later layers act on the other


@st.composite
def leaves(draw: st.DrawFn) -> dict[str, Any]:
    kind = draw(
        st.sampled_from(
            [
                *["conv", "conv", "maxpool", "avgpool", "conv_transpose", "upsample", "pad"],
                *["relu", "swap"],
            ]
        )
    )
    if kind == "conv":
        return {
            "type": "conv",
            "out_channels": C,
            "kernel_size": draw(st.integers(1, 5)),
            "stride": draw(st.integers(1, 3)),
            "padding": draw(st.integers(0, 2)),
            "dilation": draw(st.integers(1, 2)),
        }
    if kind in ("maxpool", "avgpool"):
        k = draw(st.integers(1, 4))
        layer = {
            "type": kind,
            "kernel_size": k,
            "stride": draw(st.integers(1, 3)),
            "padding": draw(st.integers(0, k // 2)),
            "ceil_mode": draw(st.booleans()),
        }
        if kind == "maxpool":
            layer["dilation"] = draw(st.integers(1, 2))
        return layer
    if kind == "conv_transpose":
        s, d = draw(st.integers(1, 3)), draw(st.integers(1, 2))
        return {
            "type": "conv_transpose",
            "out_channels": C,
            "kernel_size": draw(st.integers(1, 4)),
            "stride": s,
            "padding": draw(st.integers(0, 3)),
            "dilation": d,
            "output_padding": draw(st.integers(0, max(s, d) - 1)),
        }
    if kind == "upsample":
        return {"type": "upsample", "scale_factor": draw(st.sampled_from([2, 0.5, 1.5, 3, 0.75]))}
    if kind == "pad":
        mode = draw(st.sampled_from(["constant", "reflect", "circular"]))
        low = -2 if mode == "constant" else 0
        top, bottom = draw(st.integers(low, 3)), draw(st.integers(low, 3))
        return {"type": "pad", "padding": [0, 0, top, bottom], "mode": mode}
    if kind == "swap":
        return SWAP
    return {"type": "relu"}


@st.composite
def swin(draw: st.DrawFn, merging: bool = True) -> dict[str, Any]:
    """Swin's channels-last stretch: [C, H, W] permuted to [H, W, C], shifted window attention
    (padded to whole windows, rolled), patch merging (⌈H/2⌉, ⌈W/2⌉, 2C; unless not
    ``merging``), a linear back to C, an attention in a residual; permuted back."""
    attention = st.builds(
        lambda window, shift, heads: {
            "type": "shifted_window_attention",
            "window_size": window,
            "shift_size": shift,
            "num_heads": heads,
        },
        st.lists(st.integers(1, 4), min_size=2, max_size=2),
        st.lists(st.integers(0, 3), min_size=2, max_size=2),
        st.sampled_from([1, 2]),
    )
    item = st.one_of(
        attention,
        st.just({"type": "patch_merging" if merging else "gelu"}),
        st.just({"type": "linear", "out_features": C}),
        attention.map(lambda layer: {"type": "residual", "body": [layer]}),
    )
    inner = draw(st.lists(item, min_size=1, max_size=2))
    ends = ({"type": "permute", "dims": [1, 2, 0]}, {"type": "permute", "dims": [2, 0, 1]})
    return {"type": "sequential", "layers": [ends[0], *inner, ends[1]]}


@st.composite
def windows(draw: st.DrawFn) -> dict[str, Any]:
    """MaxViT's window (or, swapped, grid) partition: [C, H, W] → [(H/p)·(W/p), p², C], a
    linear on the channels, and back to [C, HP·p, WP·p] with the grid HP × WP the declared
    input gives (filled in by :func:`materialize`): the count must be kept, a product."""
    p = draw(st.integers(1, 3))
    inner = draw(st.sampled_from([[], [{"type": "linear", "out_features": C}], [{"type": "relu"}]]))
    if draw(st.booleans()):
        swap = {"type": "permute", "dims": [1, 0, 2]}
        inner = [swap, *inner, swap]
    back = {"type": "window_departition", "p": p, "h_partitions": 0, "w_partitions": 0}
    return {"type": "sequential", "layers": [{"type": "window_partition", "p": p}, *inner, back]}


def chains(depth: int) -> Any:
    item = (
        st.one_of(leaves(), leaves(), leaves(), windows())
        if depth == 0
        else st.one_of(leaves(), leaves(), blocks(depth - 1), levels(depth - 1), windows())
    )
    return st.lists(item, min_size=1, max_size=4)


@st.composite
def levels(draw: st.DrawFn, depth: int) -> dict[str, Any]:
    """A U-Net level: the input joined (concat or residual) with itself taken down by a stride
    s and back up by s, with more inside, so that the join holds only on residue classes."""
    s = draw(st.integers(2, 3))
    k = draw(st.integers(s, s + 1))
    down = draw(
        st.sampled_from(
            [
                {
                    "type": "maxpool",
                    "kernel_size": k,
                    "stride": s,
                    "ceil_mode": draw(st.booleans()),
                },
                {"type": "conv", "out_channels": C, "kernel_size": k, "stride": s},
                {"type": "avgpool", "kernel_size": s, "padding": draw(st.integers(0, s // 2))},
            ]
        )
    )
    up = draw(
        st.sampled_from(
            [
                {"type": "upsample", "scale_factor": s},
                {"type": "conv_transpose", "out_channels": C, "kernel_size": s, "stride": s},
            ]
        )
    )
    inner = draw(st.one_of(st.just([]), chains(depth)))
    same = {"type": "conv", "out_channels": C, "kernel_size": 3, "padding": 1}
    path = [down, *inner, up]
    if draw(st.booleans()):
        return {"type": "concat", "branches": [[same], path]}
    return {"type": "residual", "body": path, "shortcut": draw(st.sampled_from([[], [same]]))}


@st.composite
def keeping(draw: st.DrawFn) -> list[dict[str, Any]]:
    """A few layers that keep most sizes (odd kernels padded by half, stride 1), mixed with
    any: so that a block's paths agree on some sizes more often than by chance."""
    k, d = draw(st.sampled_from([1, 3, 5])), draw(st.integers(1, 2))
    same = {"type": "conv", "out_channels": C, "kernel_size": k, "padding": d * (k // 2)}
    pool = {"type": "maxpool", "kernel_size": k, "stride": 1, "padding": k // 2}
    items = st.one_of(st.sampled_from([same | {"dilation": d}, pool]), leaves())
    return draw(st.lists(items, min_size=1, max_size=3))


# a squeeze-and-excitation gate: one value per channel, broadcast over H and W
GATE = [
    {"type": "adaptive_avgpool", "output_size": 1},
    {"type": "conv", "out_channels": C, "kernel_size": 1},
    {"type": "sigmoid"},
]


@st.composite
def graphs(draw: st.DrawFn, depth: int) -> dict[str, Any]:
    """A graph block: two or three named paths, each on the block's input or on an earlier
    path's output, the outputs named (or those no path reads) added, multiplied (broadcasting
    a 1) or concatenated."""
    paths: list[dict[str, Any]] = []
    for i in range(draw(st.integers(2, 3))):
        layers = draw(st.one_of(chains(depth), keeping(), st.just([]), st.just(GATE)))
        path: dict[str, Any] = {"name": f"p{i}", "layers": layers}
        if i and draw(st.booleans()):
            path["from"] = f"p{draw(st.integers(0, i - 1))}"
        paths.append(path)
    block = {"type": "graph", "join": draw(st.sampled_from(["add", "multiply", "concat"]))}
    block["paths"] = paths
    if draw(st.booleans()):
        names = [p["name"] for p in paths]
        block["output"] = draw(st.lists(st.sampled_from(names), min_size=1, max_size=3))
    return block


@st.composite
def blocks(draw: st.DrawFn, depth: int) -> dict[str, Any]:
    kind = draw(st.sampled_from(["residual", "concat", "scale", "sequential", "graph"]))
    if kind == "graph":
        return draw(graphs(depth))
    paths = st.one_of(chains(depth), keeping())
    if kind == "residual":
        return {
            "type": "residual",
            "body": draw(paths),
            "shortcut": draw(st.one_of(st.just([]), paths)),
        }
    if kind == "concat":
        return {"type": "concat", "branches": draw(st.lists(paths, min_size=2, max_size=3))}
    if kind == "scale":
        return {"type": "scale", "body": draw(st.one_of(paths, st.just(GATE)))}
    return {"type": "sequential", "layers": draw(chains(depth))}


LINEAR = {"type": "linear", "out_features": 3}
TAILS = [
    [],
    [{"type": "flatten"}, LINEAR],  # in_features = C·H'·W': the dimensions meet
    [{"type": "flatten", "start_dim": 1}, LINEAR],  # [C, H'·W'], a linear on H'·W'
    [{"type": "flatten", "start_dim": 1}, {"type": "permute", "dims": [1, 0]}, LINEAR],  # tokens
    [{"type": "adaptive_avgpool", "output_size": 1}, {"type": "flatten"}, LINEAR],
]


def networks(depth: int) -> Any:
    """A chain of layers and blocks, then a head (:data:`TAILS`) that may join H and W."""
    return st.tuples(chains(depth), st.sampled_from(TAILS)).map(lambda t: [*t[0], *t[1]])


def swin_networks() -> Any:
    """A Swin stretch (alone, in a residual or gating a scale) between a few leaves, then a
    head: few layers, since torch's window attention is slow on the meta device."""
    stretch = st.one_of(
        swin(),
        swin(merging=False).map(lambda s: {"type": "residual", "body": [s]}),
        swin(merging=False).map(lambda s: {"type": "scale", "body": [s]}),
    )
    few = st.lists(leaves(), max_size=2)
    parts = st.tuples(few, stretch, few, st.sampled_from(TAILS[:2]))
    return parts.map(lambda t: [*t[0], t[1], *t[2], *t[3]])


class Refused(Exception):
    pass


class TorchNet:
    """Runs spec dicts with torch modules on the meta device.

    ``rebuild``: each module constructed for what each input gives it (cached by what its
    constructor reads: the channels, the last size). Otherwise :meth:`declare` constructs them
    for one input and every later run reuses them. A window departition takes the grid from
    ``grids`` (one per departition, in the order run), else from its own partition's input."""

    def __init__(self, rebuild: bool = True, grids: list[tuple[int, int]] | None = None) -> None:
        import torch

        self.torch = torch
        self.rebuild = rebuild
        self.grids = grids
        self.modules: dict[Any, Any] = {}
        self.found: list[tuple[int, int]] = []  # the grids the declared input gives
        self.building = False
        self.answers: dict[tuple[int, int, int], bool] = {}
        self.index = 0
        self.partitions: list[tuple[int, int]] = []
        self.departed = 0

    def declare(self, layers: list[dict[str, Any]], sizes: list[tuple[int, int]]) -> Any:
        """The first of ``sizes`` torch accepts, each module constructed for it; None if none."""
        for h, w in sizes:
            self.modules, self.found, self.building = {}, [], True
            try:
                accepted = self.accepts(layers, h, w)
            finally:
                self.building = False
            if accepted:
                self.answers = {}
                return h, w
        return None

    def accepts(self, layers: list[dict[str, Any]], h: int, w: int) -> bool:
        key = (id(layers), h, w)
        if key not in self.answers or self.building:
            self.index, self.partitions, self.departed = 0, [], 0
            try:
                with self.torch.no_grad():
                    self.run(layers, self.torch.empty((1, C, h, w), device="meta"))
                self.answers[key] = True
            except Refused:
                self.answers[key] = False
        return self.answers[key]

    def run(self, layers: list[dict[str, Any]], x: Any) -> Any:
        for layer in layers:
            x = self.one(layer, x)
        return x

    def one(self, layer: dict[str, Any], x: Any) -> Any:
        kind = layer["type"]
        if kind == "sequential":
            return self.run(layer["layers"], x)
        if kind == "residual":
            body, short = self.run(layer["body"], x), self.run(layer.get("shortcut", []), x)
            return self.guard(lambda: body + short)  # torch broadcasts them
        if kind == "concat":
            outs = [self.run(b, x) for b in layer["branches"]]
            return self.guard(lambda: self.torch.cat(outs, dim=1))
        if kind == "scale":
            gate = self.run(layer["body"], x)
            y = self.guard(lambda: x * gate)
            if y.shape != x.shape:
                raise Refused
            return y
        if kind == "graph":
            return self.graph(layer, x)
        module = self.module(layer, x)
        y = self.guard(lambda: module(x))
        if 0 in y.shape:
            raise Refused
        return y

    def graph(self, layer: dict[str, Any], x: Any) -> Any:
        """Each path on x or on the output of the path it names, in order; the outputs named
        (or those no path reads) summed, multiplied (torch broadcasting) or concatenated."""
        outs: dict[str, Any] = {}
        for path in layer["paths"]:
            given = outs[path["from"]] if "from" in path else x
            outs[path["name"]] = self.run(path["layers"], given)
        read = {path.get("from") for path in layer["paths"]}
        names = layer.get("output") or [p["name"] for p in layer["paths"] if p["name"] not in read]
        values = [outs[name] for name in names]
        if layer["join"] == "concat":
            return self.guard(lambda: self.torch.cat(values, dim=1))
        join = operator.add if layer["join"] == "add" else operator.mul
        return self.guard(lambda: functools.reduce(join, values))

    def module(self, layer: dict[str, Any], x: Any) -> Any:
        index = self.index
        self.index += 1
        key = (index, reads(layer, x)) if self.rebuild else index
        if key not in self.modules:
            assert self.rebuild or self.building, "a module the declared input never reached"
            self.modules[key] = self.guard(lambda: self.build(layer, x))
        return self.modules[key]

    def build(self, layer: dict[str, Any], x: Any) -> Any:
        torch, nn = self.torch, self.torch.nn
        args = {k: v for k, v in layer.items() if k != "type"}
        kind = layer["type"]
        with torch.device("meta"):
            if kind == "conv":
                return nn.Conv2d(x.shape[1], **args)
            if kind == "conv_transpose":
                return nn.ConvTranspose2d(x.shape[1], **args)
            if kind == "maxpool":
                return nn.MaxPool2d(**args)
            if kind == "avgpool":
                return nn.AvgPool2d(**args)
            if kind == "upsample":
                return nn.Upsample(**args)
            if kind == "adaptive_avgpool":
                return nn.AdaptiveAvgPool2d(args["output_size"])
            if kind == "linear":
                return nn.Linear(x.shape[-1], args["out_features"])
            if kind == "relu":
                return nn.ReLU()
            if kind == "gelu":
                return nn.GELU()
            if kind == "sigmoid":
                return nn.Sigmoid()
            if kind == "shifted_window_attention":
                return torchvision("swin_transformer").ShiftedWindowAttention(
                    x.shape[-1], args["window_size"], args["shift_size"], args["num_heads"]
                )
            if kind == "patch_merging":
                return torchvision("swin_transformer").PatchMerging(x.shape[-1])
        if kind == "pad":
            pads, mode = tuple(args["padding"]), args["mode"]
            return lambda y: torch.nn.functional.pad(y, pads, mode=mode)
        if kind == "permute":
            return lambda y: y.permute(0, *(d + 1 for d in args["dims"]))
        if kind == "flatten":
            return lambda y: torch.flatten(y, args.get("start_dim", 0) + 1)
        if kind == "window_partition":
            return self.partition(args["p"])
        if kind == "window_departition":
            return self.departition(args["p"])
        raise AssertionError(f"no torch module for {kind}")

    def partition(self, p: int) -> Any:
        op = torchvision("maxvit").WindowPartition()

        def run(y: Any) -> Any:
            self.partitions.append((y.shape[2] // p, y.shape[3] // p))
            return op(y, p)

        return run

    def departition(self, p: int) -> Any:
        op = torchvision("maxvit").WindowDepartition()

        def run(y: Any) -> Any:
            live = self.partitions.pop()
            if self.building:
                self.found.append(live)
            grids = self.grids if self.grids is not None or self.rebuild else self.found
            if self.building or grids is None:
                grid = live
            else:  # materialize's grid where the declared input never reached it
                grid = grids[self.departed] if self.departed < len(grids) else (1, 1)
            self.departed += 1
            return op(y, p, *grid)

        return run

    @staticmethod
    def guard(op: Any) -> Any:
        try:
            return op()
        except REFUSALS as exc:
            raise Refused from exc


def reads(layer: dict[str, Any], x: Any) -> int:
    """The size a layer's module takes from its input when constructed: a conv's channels, a
    linear's (a window attention's, a patch merging's) last size; 0 for none."""
    kind = layer["type"]
    if kind in ("conv", "conv_transpose"):
        return int(x.shape[1])
    if kind in ("linear", "shifted_window_attention", "patch_merging"):
        return int(x.shape[-1])
    return 0


def torchvision(name: str) -> Any:
    """torchvision.models.<name>, imported as tests.torchvision_oracle imports it."""
    from tests.torchvision_oracle import import_torchvision

    import_torchvision()
    return importlib.import_module(f"torchvision.models.{name}")


def materialize(layers: list[dict[str, Any]], grids: list[tuple[int, int]]) -> list[Any]:
    """The spec's layers: each window departition given its grid, in the order torch ran them
    (residual: body, then shortcut), the declared input's."""
    left = iter(grids)

    def copy(layer: dict[str, Any]) -> dict[str, Any]:
        kind = layer["type"]
        if kind == "window_departition":
            h, w = next(left, (1, 1))
            return layer | {"h_partitions": h, "w_partitions": w}
        if kind in ("sequential", "scale"):
            key = "layers" if kind == "sequential" else "body"
            return layer | {key: [copy(x) for x in layer[key]]}
        if kind == "residual":
            body = [copy(x) for x in layer["body"]]
            short = [copy(x) for x in layer.get("shortcut", [])]
            return layer | {"body": body, "shortcut": short}
        if kind == "concat":
            return layer | {"branches": [[copy(x) for x in b] for b in layer["branches"]]}
        if kind == "graph":
            paths = [p | {"layers": [copy(x) for x in p["layers"]]} for p in layer["paths"]]
            return layer | {"paths": paths}
        return layer

    return [copy(layer) for layer in layers]


def spans(sizes: SizeSet, cap: int) -> int:
    """Past the set's threshold by two periods and more (at most ``cap``)."""
    return min(cap, max(24, 2 * (sizes.threshold + sizes.period) + 12))


def grid(declared: tuple[int, int], side: int) -> list[tuple[int, int]]:
    """Every (h, w) up to ``side``, and the sizes around the declared input (±2, or ±1 on a
    small grid)."""
    h0, w0 = declared
    reach = range(-2, 3) if side >= 6 else range(-1, 2)
    around = {(h0 + a, w0 + b) for a in reach for b in reach}
    square = {(h, w) for h in range(1, side + 1) for w in range(1, side + 1)}
    return sorted(p for p in around | square if min(p) >= 1)


def compare(answer: Any, net: TorchNet, layers: list[Any], cap: int, side: int) -> None:
    """Per dimension (the other declared) over 1..N past the threshold, and jointly on a grid:
    the closed form's members are exactly the sizes torch accepts."""
    h0, w0 = answer.declared
    sweeps = ((answer.per_dim[0], lambda n: (n, w0)), (answer.per_dim[1], lambda n: (h0, n)))
    for accepted, at in sweeps:
        top = spans(accepted.sizes, cap)
        brute = {n for n in range(1, top) if net.accepts(layers, *at(n))}
        got = {n for n in range(1, top) if n in accepted.sizes}
        assert got == brute, (accepted.name, accepted.describe(), sorted(brute ^ got)[:6])
    points = grid((h0, w0), side)
    brute_grid = {p for p in points if net.accepts(layers, *p)}
    got_grid = {p for p in points if p in answer}
    assert got_grid == brute_grid, (answer.joint.describe(), sorted(brute_grid ^ got_grid)[:6])


def check_network(layers: list[Any], h: int, w: int, cap: int, side: int) -> None:
    """Declared at the first of (h, w) and a few sizes torch accepts; the closed form, as
    built and rebuilt, against torch's modules as built and rebuilt. Where no module reads a
    spatial size when constructed (no flatten before a linear), the rebuilt modules are the
    declared ones, and so are torch's answers. Where torch refuses every declared input tried,
    nothing is built for it: the rebuilt network alone is compared (departitions on a 1×1
    grid)."""
    if not HAS_TORCH:
        pytest.skip("torch is not installed")
    net = TorchNet(rebuild=False)
    tried = [(h, w), (h, 36), (36, w), (36, 36), (72, 72), (48, 48), (64, 64)]
    declared = net.declare(layers, tried)
    if declared is None:
        event("torch refuses every declared input tried: rebuilt only")
        spec = load_spec({"input": [C, h, w], "layers": materialize(layers, [])})
        alone = TorchNet(grids=[])
        rebuilt = solved(spec, True, alone, layers)
        if rebuilt is not None:
            compare(rebuilt, alone, layers, cap, side // 2)
        return
    spec = load_spec({"input": [C, *declared], "layers": materialize(layers, net.found)})
    answer = solved(spec, False, net, layers)
    if answer is None:
        return
    event("meets" if not answer.separable else "separable")
    assert declared in answer
    for accepted in answer.per_dim:
        assert SizeSet.parse(accepted.describe()) == accepted.sizes
    compare(answer, net, layers, cap, side)
    top = {layer["type"] for layer in layers}  # a head reads H·W unless pooled to 1×1 first
    spatial = "flatten" in top and "adaptive_avgpool" not in top
    again = TorchNet(rebuild=True, grids=net.found) if spatial else net
    rebuilt = solved(spec, True, again, layers)
    if rebuilt is not None:
        compare(rebuilt, again, layers, *((cap, side) if not spatial else (cap // 2, side // 2)))


def solved(spec: Any, rebuild: bool, net: TorchNet, layers: list[Any]) -> Any:
    """``solve_input``'s answer, or None where it says why it gives none: past its work budget
    (an upsampling chain's period), a broadcast whose output is piecewise, or a condition
    joining H and W in no finite union of boxes (a path that exchanges them joined with one
    that does not: H = W), where torch's accepted sizes must be no box (but a single size)."""
    try:
        return solve_input(spec, rebuild=rebuild)
    except WorkLimit:
        event("past the work budget")
        return None
    except NotSolvable as exc:
        why = str(exc)
    if "broadcast output" in why:  # each of two sizes 1 where the other is not: piecewise
        event("not solvable: a broadcast output now one size, now the other")
        return None
    if "a broadcast across the dimensions" in why:  # H = f(W) or 1 with W = g(H) or 1: only
        # the two together are finite; the closed form leaves it to the search (below)
        event("not solvable: a broadcast joining H and W")
        return None
    assert re.search(r"join(s|ing) the dimensions", why), why
    event("not solvable: H and W joined in no box")
    taken = {p for p in grid(tuple(spec.input[1:]), 8) if net.accepts(layers, *p)}
    box = {(a, b) for a, _ in taken for _, b in taken}
    assert len(taken) < 2 or taken != box, (why, "torch's accepted sizes are a box")
    return None


@pytest.mark.full
@pytest.mark.torch
@given(
    networks(2),
    st.one_of(st.sampled_from([36, 72]), st.integers(1, 40)),  # sizes most levels divide
    st.one_of(st.sampled_from([36, 72]), st.integers(1, 40)),
)
@settings(max_examples=examples(60), deadline=None)  # each example runs torch ~200 times
def test_random_networks_match_torch(layers: list[Any], h: int, w: int) -> None:
    """Convolutions, pools (ceil mode, padding), transposed convolutions, upsampling, padding,
    H and W exchanged, window partitions, residual, concat, scale, graph and U-Net levels
    nested, a flatten into a linear: the closed form, declared and rebuilt, against torch."""
    check_network(layers, h, w, 240, 8)


HALF, DOUBLE = {"type": "upsample", "scale_factor": 0.5}, {"type": "upsample", "scale_factor": 2}
POOL = {"type": "maxpool", "kernel_size": 2}
EXCHANGED = {"type": "residual", "body": [POOL, SWAP, DOUBLE]}  # body ⌊H/2⌋ = 2·⌊W/4⌋ shortcut


@pytest.mark.torch
@pytest.mark.parametrize(
    "layers",
    [
        # a join of H and W no box holds, cut to a finite set by the linear after it (a case
        # Hypothesis found): torch accepts the box {36, 37}²
        [HALF, EXCHANGED, {"type": "flatten"}, LINEAR],
        # the same join before a product that leaves it infinite: no answer, by name
        [HALF, EXCHANGED],
        # a gate of H and W exchanged, cut by the linear: the gate equal to the input or 1
        [{"type": "scale", "body": [SWAP]}, {"type": "flatten"}, LINEAR],
    ],
    ids=["cut-by-linear", "left-infinite", "gate"],
)
def test_a_join_of_the_dimensions_waits_for_a_finite_set(layers: list[Any]) -> None:
    """A condition joining H and W that is no union of boxes by itself (a path that exchanges
    them joined with one that does not) is kept until the other conditions have cut the sizes
    to finitely many values of its sides; then it is boxes, and the answer is torch's (on the
    meta device, built for 36×36 and run per size); where it stays infinite, the solver says
    so (``solved`` checks that torch's sizes are then no box)."""
    check_network(layers, 36, 36, 240, 8)
    spec = load_spec({"input": [C, 36, 36], "layers": layers})
    if layers[-1] is LINEAR and layers[0] is HALF:
        answer = solve_input(spec)
        assert answer.joint.boxes and not answer.separable
        taken = {(h, w) for h in range(1, 80) for w in range(1, 80) if (h, w) in answer}
        net = TorchNet(rebuild=False)
        assert net.declare(layers, [(36, 36)]) == (36, 36)
        brute = {(h, w) for h in range(30, 44) for w in range(30, 44) if net.accepts(layers, h, w)}
        assert taken == brute == {(h, w) for h in (36, 37) for w in (36, 37)}
    elif layers[-1] is not LINEAR:
        with pytest.raises(NotSolvable, match="joining the dimensions"):
            solve_input(spec)


@pytest.mark.torch
def test_a_broadcast_joining_the_dimensions_is_left_to_the_search(run: Any, write: Any) -> None:
    """A broadcast join of H with a path that exchanges H and W (H = f(W) or 1, and W = g(H)
    or 1: finite only together, a case Hypothesis found) is not solved in closed form, by
    name; the search over ranges gives torch's sizes (run per size, rebuilt)."""
    one = {"type": "conv", "out_channels": 2, "kernel_size": 1}
    two = {**one, "stride": 2}
    p1 = [one, two, SWAP, {**two, "padding": 1}]
    paths = [{"name": "p0", "layers": [one]}, {"name": "p1", "layers": p1}]
    layers = [one, {"type": "graph", "join": "add", "paths": paths}]
    spec = {"input": [C, 2, 2], "layers": layers}
    with pytest.raises(NotSolvable, match="a broadcast across the dimensions"):
        solve_input(load_spec(spec), rebuild=True)
    net = TorchNet(rebuild=True)
    brute = {(h, w) for h in range(1, 13) for w in range(1, 13) if net.accepts(layers, h, w)}
    assert brute == {(h, w) for h in (1, 2) for w in (1, 2)}
    path = write(json.dumps(spec))  # JSON is YAML
    out = run("solve", path, "--input", f"{C},1..12,1..12", "--rebuild", "--format", "csv").output
    rows = {tuple(int(v) for v in line.split(",")[:2]) for line in out.splitlines()[1:]}
    assert rows == brute


@pytest.mark.torch
@pytest.mark.full  # window attention: ~10 ms a run
@given(swin_networks(), st.sampled_from([7, 8, 12, 16, 23]), st.sampled_from([8, 9, 16, 20]))
@settings(max_examples=examples(10), deadline=None)  # window attention: ~10 ms a run
def test_swin_stretches_match_torch(layers: list[Any], h: int, w: int) -> None:
    """Shifted window attention, patch merging and linears channels-last between permutes,
    inside residuals and scales: the closed form against torchvision's own modules."""
    check_network(layers, h, w, 32, 4)


# --- worked cases -------------------------------------------------------------------------


def _solve(layers: list[dict[str, Any]], shape: list[int] | None = None) -> str:
    return accepted_sizes(
        load_spec({"input": shape or [C, 32, 32], "layers": layers}), 1
    ).describe()


def test_worked_answers() -> None:
    pool = {"type": "maxpool", "kernel_size": 2}
    up = {"type": "upsample", "scale_factor": 2}
    assert _solve([pool] * 3) == "H ≥ 8"
    # a U-Net level: pooled, upsampled and joined with its input needs an even size
    level = {"type": "concat", "branches": [[], [pool, up]]}
    assert _solve([level]) == "H = 2k, k ≥ 1"
    assert _solve([{"type": "concat", "branches": [[], [pool, level, up]]}]) == "H = 4k, k ≥ 1"
    conv = {"type": "conv", "out_channels": C, "kernel_size": 3, "stride": 2, "padding": 1}
    assert _solve([{"type": "residual", "body": [conv], "shortcut": [conv]}]) == "H ≥ 1"
    # a crop that removes what a 7-wide kernel needs
    assert _solve([{"type": "conv", "out_channels": C, "kernel_size": 7}]) == "H ≥ 7"


def test_joins_of_sizes_no_longer_depending_on_the_input() -> None:
    """Sizes a layer fixed (a pool to 1×1 and one to 2×2, a departition to the declared
    grid): two that differ are refused (torch.cat refuses 1×1 beside 2×2, whatever the input),
    and an input size made equal to a fixed gate's is taken (worked by hand: the departition
    keeps 36·36 values only for H = 36 at W = 36, and the gate then is the input's size)."""
    pools = [[{"type": "adaptive_avgpool", "output_size": n}] for n in (1, 2)]
    assert _solve([{"type": "concat", "branches": pools}]) == "H ∈ ∅"
    grid = [
        {"type": "window_partition", "p": 1},
        {"type": "window_departition", "p": 1, "h_partitions": 36, "w_partitions": 36},
    ]
    assert _solve([{"type": "scale", "body": grid}], [C, 36, 36]) == "H = 36"


def test_other_dimensions_are_the_declared_ones() -> None:
    conv = {"type": "conv", "out_channels": C, "kernel_size": 5}
    assert _solve([conv], [C, 32, 4]) == "H ∈ ∅"  # W = 4 is too small whatever H
    answer = accepted_sizes(load_spec({"input": [C, 32, 4], "layers": [conv]}), 1)
    assert answer.limits[0].path == "layers[0]" and "kernel" in answer.limits[0].note


@pytest.mark.full
def test_lenet5_meets_at_its_linear() -> None:
    """16·H'·W' = 400 with H' = ⌊(⌊(H − 4)/2⌋ − 4)/2⌋: H'·W' = 25, so (H', W') is (1, 25),
    (5, 5) or (25, 1); H' = 5 ⇔ ⌊(H − 4)/2⌋ ∈ {14, 15} ⇔ H ∈ 32..35, H' = 1 ⇔ H ∈ 16..19,
    H' = 25 ⇔ H ∈ 112..115 (worked by hand)."""
    answer = solve_input(load_spec("lenet5"))
    assert answer.per_dim[0].describe() == "H ∈ {32, …, 35}"
    box = {(h, w) for h in range(1, 200) for w in range(1, 200) if (h, w) in answer}
    hand = {
        (h, w)
        for a, b in ((1, 25), (5, 5), (25, 1))
        for h in range(1, 200)
        for w in range(1, 200)
        if ((h - 4) // 2 - 4) // 2 == a and ((w - 4) // 2 - 4) // 2 == b and h >= 12 and w >= 12
    }
    assert box == hand and not answer.separable
    assert answer.nearest((500, 500)) == ((115, 19), None)
    assert answer.nearest((30, 30)) == (None, (32, 32))
    # rebuilt for each input, the linear's in_features follows: any H, W ≥ 16
    assert solve_input(load_spec("lenet5"), rebuild=True).joint.describe() == "H ≥ 16 and W ≥ 16"
    limit = next(lim for lim in answer.limits if lim.dims == ("H", "W"))
    assert limit.path == "layers[7]" and limit.type == "linear"
    assert [s.label for s in limit.sides] == ["in_features", "input"]
    assert limit.sides[1].text == "16·(⌊H / 4⌋ − 3)·(⌊W / 4⌋ − 3)"


def test_a_network_without_spatial_dimensions_takes_its_input() -> None:
    answer = solve_input(load_spec("hw3-mlp"))
    assert answer.per_dim == () and () in answer and answer.describe().endswith("declared input")


BUNDLED = sorted(
    p.stem
    for p in (Path(__file__).parent.parent / "specs").glob("*.yaml")
    if p.stem != "five-stages"
)


@pytest.mark.every_case
@pytest.mark.parametrize("name", spec_params(BUNDLED))
def test_every_bundled_network_answers(name: str) -> None:
    """No NotSolvable, the declared input a member, each dimension's set its slice."""
    spec = load_spec(name)
    answer = solve_input(spec)
    assert answer.declared in answer
    for accepted, n in zip(answer.per_dim, answer.declared, strict=True):
        assert n in accepted.sizes
        assert SizeSet.parse(accepted.describe()) == accepted.sizes
    assert answer.to_dict()["joint"]["text"] == answer.joint.describe()


def test_an_upsampling_factor_without_a_short_binary_fraction_is_refused_by_name() -> None:
    spec = load_spec({"input": [C, 32, 32], "layers": [{"type": "upsample", "scale_factor": 0.29}]})
    with pytest.raises(WorkLimit, match=r"layers\[0\] \(upsample\)"):
        accepted_sizes(spec, 1)


def test_a_spatial_dimension_is_asked() -> None:
    with pytest.raises(ValueError, match="not a spatial dimension"):
        accepted_sizes(load_spec("resnet18"), 0)


# --- bundled networks against their PyTorch models ----------------------------------------


ZOO = [
    ("resnet18", "H ≥ 1", 1, 40),
    ("vgg16", "H ≥ 32", 1, 70),
    ("alexnet", "H ≥ 63", 1, 90),
    ("unet", "H = 16k, k ≥ 1", 1, 70),
    ("inception_v3", "H ≥ 75", 72, 79),
]


@pytest.mark.full
@pytest.mark.torch
@pytest.mark.parametrize(("name", "text", "lo", "hi"), spec_params(ZOO, quick={"vgg16", "alexnet"}))
def test_bundled_networks_against_their_models(name: str, text: str, lo: int, hi: int) -> None:
    answer = accepted_sizes(load_spec(name), 1)
    assert answer.describe() == text
    torch = pytest.importorskip("torch")
    from tests.independent import zoo_model

    model, shape = zoo_model(name)
    model.eval()

    def accepts(h: int) -> bool:
        x = torch.empty((1, shape[0], h, shape[2]), device="meta")
        try:
            out = model(x)
        except (RuntimeError, ValueError):
            return False
        out = out if isinstance(out, torch.Tensor) else next(iter(out.values()))
        return 0 not in out.shape

    assert {h for h in range(lo, hi) if accepts(h)} == {
        h for h in range(lo, hi) if h in answer.sizes
    }


@pytest.mark.torch
@pytest.mark.full
def test_lraspp_graph_against_torchvision() -> None:
    """LR-ASPP's graph: low_classifier(low) + high_classifier(x), x resized to the declared
    input's 65×65. torchvision's own modules run with those sizes fixed, as the spec fixes
    them: low (⌈H/8⌉) must be 65 or 1 (broadcast), so H is 513…520 or 1…8."""
    torch = pytest.importorskip("torch")
    from tests.independent import zoo_model

    model = zoo_model("lraspp_mobilenet_v3_large")[0].model.eval()
    resize = torch.nn.functional.interpolate

    def accepts(h: int, w: int) -> bool:
        try:
            parts = model.backbone(torch.empty((1, 3, h, w), device="meta"))
            head = model.classifier
            x = head.cbr(parts["high"]) * head.scale(parts["high"])
            x = resize(x, size=(65, 65), mode="bilinear", align_corners=False)
            out = head.low_classifier(parts["low"]) + head.high_classifier(x)
        except RuntimeError:
            return False
        return 0 not in out.shape

    answer = solve_input(load_spec("lraspp_mobilenet_v3_large"))
    for h, w in [(1, 520), (8, 520), (9, 520), (512, 520), (513, 520), (520, 520), (521, 520)]:
        assert accepts(h, w) == ((h, w) in answer), (h, w)
    assert answer.per_dim[0].describe() == "H ∈ {1, …, 8, 513, …, 520}"


def test_cifar_style_network() -> None:
    """Three conv-conv-pool stages and a global pool: any H ≥ 8, as the issue says."""
    stage = [
        {"type": "conv", "out_channels": 8, "kernel_size": 3, "padding": 1},
        {"type": "relu"},
        {"type": "conv", "out_channels": 8, "kernel_size": 3, "padding": 1},
        {"type": "maxpool", "kernel_size": 2},
    ]
    layers = [
        *stage * 3,
        {"type": "adaptive_avgpool", "output_size": 1},
        {"type": "flatten"},
        {"type": "linear", "out_features": 10},
    ]
    answer = accepted_sizes(load_spec({"input": [3, 32, 32], "layers": layers}), 1)
    assert answer.describe() == "H ≥ 8"
    assert [limit.path for limit in answer.limits] == ["layers[3]", "layers[7]", "layers[11]"]


# --- networks whose dimensions meet, against their PyTorch models -------------------------


def _accepts(run: Any, shape: tuple[int, ...]) -> bool:
    torch = pytest.importorskip("torch")
    try:
        out = run(torch.empty((1, *shape), device="meta"))
    except (RuntimeError, ValueError, AssertionError):
        return False
    out = out if isinstance(out, torch.Tensor) else next(iter(out.values()))
    return 0 not in out.shape


def _around(answer: Any, boxes: int) -> list[tuple[int, int]]:
    """Sizes around the first boxes' corners (members and not), and the declared input's."""
    picks = set()
    for box in answer.joint.boxes[:boxes]:
        lo = [s.smallest() for s in box]
        hi = [s.last_to(s.smallest() + 4000) for s in box]
        for h in {lo[0] - 1, lo[0], hi[0], hi[0] + 1}:
            for w in {lo[1] - 1, lo[1], hi[1], hi[1] + 1}:
                picks.add((h, w))
    h, w = answer.declared
    picks |= {(h + a, w + b) for a in (-1, 0, 1, 16) for b in (-1, 0, 1)}
    return sorted(p for p in picks if min(p) >= 1 and max(p) <= 2000)


@pytest.mark.torch
@pytest.mark.parametrize(
    "name",
    spec_params(["lenet5", "swin_t", "convnext_tiny", "maxvit_t", "vit_b_16"], quick={"lenet5"}),
)
def test_meeting_networks_against_their_models(name: str) -> None:
    torch = pytest.importorskip("torch")
    from tests.independent import zoo_model

    model, shape = zoo_model(name)
    model.eval()
    run = model
    if name == "vit_b_16":
        # torchvision's forward asserts H = W = image_size; the spec models its layers, so the
        # oracle runs them: patchify, flatten, class token, encoder (pos_embedding added), head
        def run(x: Any) -> Any:
            y = model.conv_proj(x).flatten(2).transpose(1, 2)
            y = torch.cat([model.class_token.expand(y.shape[0], -1, -1), y], dim=1)
            return model.heads(model.encoder(y)[:, 0])

    answer = solve_input(load_spec(name))
    for h, w in _around(answer, 1 if name == "maxvit_t" else 3):  # maxvit: slow on meta
        assert _accepts(run, (shape[0], h, w)) == ((h, w) in answer), (h, w)
