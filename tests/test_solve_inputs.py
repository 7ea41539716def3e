"""The closed-form input sizes (convcalc.solve.inputs) against brute force.

The set algebra is checked against plain Python sets over finite ranges; the maps against their
own definition evaluated point by point. The solver is checked against PyTorch: random chains
and nested blocks (conv with padding, dilation and stride, pools with ceil mode and padding,
transposed convolutions, upsampling, padding, residual, concat, scale) are run by a small torch
interpreter on the meta device for every height 1..N, N well past the set's threshold, and the
heights torch accepts must be exactly the closed form's; bundled networks likewise against their
torchvision models.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from convcalc.budget import WorkLimit
from convcalc.solve.inputs import NotSolvable, SizeMap, SizeSet, accepted_sizes, solve_input
from convcalc.spec.validate import load_spec
from tests.budget import examples

HAS_TORCH = importlib.util.find_spec("torch") is not None

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
@settings(max_examples=examples(2000))
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
@settings(max_examples=examples(2000))
def test_intersection_union_difference(a: Any, b: Any) -> None:
    (x, xs), (y, ys) = a, b
    for result, expected in ((x & y, xs & ys), (x | y, xs | ys), (x - y, xs - ys)):
        assert {n for n in range(1, N) if n in result} == expected
    assert (x & y).issubset(x) and x.issubset(x | y)
    assert (x | y) == (y | x) and (x & y) == (y & x)


@given(size_sets())
@settings(max_examples=examples(2000))
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
@settings(max_examples=examples(2000))
def test_composition_and_refinement(f: SizeMap, g: SizeMap) -> None:
    h = f.then(g)
    assert all(h(n) == _naive(g, _naive(f, n)) for n in range(-20, 200))
    wider = f.refine(f.period * 3)
    assert all(wider(n) == f(n) for n in range(-20, 200))


@given(size_maps(), size_sets())
@settings(max_examples=examples(2000))
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
@settings(max_examples=examples(2000))
def test_agreement(f: SizeMap, g: SizeMap) -> None:
    both = f.agree(g)
    assert {n for n in range(1, N) if n in both} == {n for n in range(1, N) if f(n) == g(n)}


# --- the solver against PyTorch -----------------------------------------------------------

C = 2  # every layer keeps two channels, so that residuals and scales join


@st.composite
def leaves(draw: st.DrawFn) -> dict[str, Any]:
    kind = draw(
        st.sampled_from(
            ["conv", "conv", "maxpool", "avgpool", "conv_transpose", "upsample", "pad", "relu"]
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
    return {"type": "relu"}


def chains(depth: int) -> Any:
    item = (
        leaves()
        if depth == 0
        else st.one_of(leaves(), leaves(), blocks(depth - 1), levels(depth - 1))
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
def blocks(draw: st.DrawFn, depth: int) -> dict[str, Any]:
    kind = draw(st.sampled_from(["residual", "concat", "scale", "sequential"]))
    if kind == "residual":
        return {
            "type": "residual",
            "body": draw(chains(depth)),
            "shortcut": draw(st.one_of(st.just([]), chains(depth))),
        }
    if kind == "concat":
        return {"type": "concat", "branches": draw(st.lists(chains(depth), min_size=2, max_size=3))}
    if kind == "scale":
        return {"type": "scale", "body": draw(chains(depth))}
    return {"type": "sequential", "layers": draw(chains(depth))}


class Refused(Exception):
    pass


class TorchNet:
    """Runs spec dicts with torch modules on the meta device; a concat's branches change the
    channels, so modules are built for the channels they see (the same at every height)."""

    def __init__(self) -> None:
        import torch

        self.torch = torch
        self.modules: dict[tuple[int, int], Any] = {}

    def module(self, layer: dict[str, Any], channels: int) -> Any:
        key = (id(layer), channels)
        if key not in self.modules:
            nn = self.torch.nn
            args = {k: v for k, v in layer.items() if k != "type"}
            kind = layer["type"]
            with self.torch.device("meta"):
                if kind == "conv":
                    module = nn.Conv2d(channels, **args)
                elif kind == "conv_transpose":
                    module = nn.ConvTranspose2d(channels, **args)
                elif kind == "maxpool":
                    module = nn.MaxPool2d(**args)
                elif kind == "avgpool":
                    module = nn.AvgPool2d(**args)
                elif kind == "upsample":
                    module = nn.Upsample(**args)
                elif kind == "pad":
                    pads, mode = tuple(args["padding"]), args["mode"]
                    module = lambda x: self.torch.nn.functional.pad(x, pads, mode=mode)  # noqa: E731
                else:
                    module = nn.ReLU()
            self.modules[key] = module
        return self.modules[key]

    def run(self, layers: list[dict[str, Any]], x: Any) -> Any:
        for layer in layers:
            x = self.one(layer, x)
        return x

    def one(self, layer: dict[str, Any], x: Any) -> Any:
        kind = layer["type"]
        if kind == "sequential":
            return self.run(layer["layers"], x)
        if kind == "residual":
            body, short = self.run(layer["body"], x), self.run(layer["shortcut"], x)
            if body.shape != short.shape:
                raise Refused
            return body + short
        if kind == "concat":
            outs = [self.run(b, x) for b in layer["branches"]]
            return self.guard(lambda: self.torch.cat(outs, dim=1))
        if kind == "scale":
            gate = self.run(layer["body"], x)
            y = self.guard(lambda: x * gate)
            if y.shape != x.shape:
                raise Refused
            return y
        y = self.guard(lambda: self.module(layer, x.shape[1])(x))
        if 0 in y.shape:
            raise Refused
        return y

    @staticmethod
    def guard(op: Any) -> Any:
        try:
            return op()
        except (RuntimeError, ValueError) as exc:
            raise Refused from exc

    def accepts(self, layers: list[dict[str, Any]], h: int, w: int) -> bool:
        try:
            self.run(layers, self.torch.empty((1, C, h, w), device="meta"))
        except Refused:
            return False
        return True


@pytest.mark.torch
@given(
    st.one_of(st.sampled_from([36, 72]), st.integers(1, 40)),  # a W most levels divide
    st.integers(1, 64),
    st.one_of(chains(0), chains(1), chains(2)),
)
@settings(max_examples=examples(300), deadline=None)
def test_random_networks_match_torch(w: int, declared: int, layers: Any) -> None:
    if not HAS_TORCH:
        pytest.skip("torch is not installed")
    spec = load_spec({"input": [C, declared, w], "layers": layers})
    try:
        answer = accepted_sizes(spec, 1)
    except WorkLimit:
        return  # an upsampling chain whose period passed the budget: said so, not guessed
    sizes = answer.sizes
    assert SizeSet.parse(answer.describe()) == sizes
    top = min(600, max(80, 2 * (sizes.threshold + sizes.period) + 24))
    net = TorchNet()
    brute = {h for h in range(1, top) if net.accepts(layers, h, w)}
    got = {h for h in range(1, top) if h in sizes}
    assert got == brute, (answer.describe(), sorted(brute - got)[:5], sorted(got - brute)[:5])


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


def test_other_dimensions_are_the_declared_ones() -> None:
    conv = {"type": "conv", "out_channels": C, "kernel_size": 5}
    assert _solve([conv], [C, 32, 4]) == "H ∈ ∅"  # W = 4 is too small whatever H
    answer = accepted_sizes(load_spec({"input": [C, 32, 4], "layers": [conv]}), 1)
    assert answer.limits[0].path == "layers[0]" and "kernel" in answer.limits[0].note


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


@pytest.mark.parametrize("name", BUNDLED)
def test_every_bundled_network_answers(name: str) -> None:
    """No NotSolvable, the declared input a member, each dimension's set its slice."""
    spec = load_spec(name)
    try:
        answer = solve_input(spec)
    except NotSolvable as exc:
        if "(graph)" in str(exc):
            pytest.xfail("a graph block: its joins have no rule in the solver yet")
        raise
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


@pytest.mark.torch
@pytest.mark.parametrize(("name", "text", "lo", "hi"), ZOO)
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
@pytest.mark.parametrize("name", ["lenet5", "swin_t", "convnext_tiny", "maxvit_t", "vit_b_16"])
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
