"""``convcalc solve`` on Keras: a Keras spec's unknowns, its accepted input sizes, and the
single-layer question with Keras' ``valid`` and ``same`` (``--framework keras``).

Every answer is compared with Keras 3 itself (torch backend): each candidate setting is built
by Keras, which gives its output shape or refuses it, and the settings it accepts with the
wanted output are the solutions. Nothing on the expected side comes from convcalc.
"""

from __future__ import annotations

import itertools
import json
from typing import Any

import pytest
from click.testing import CliRunner

from convcalc.budget import WorkLimit
from convcalc.cli import cli as main
from convcalc.solve.layer import blocks, problem, tally
from convcalc.solve.stack import solve_stack
from tests.budget import FULL
from tests.keras_oracle import KERAS_MARKS, keras

pytestmark = KERAS_MARKS


def keras_out(shape: tuple[int, ...], layers: list[dict[str, Any]]) -> tuple[int, ...] | None:
    """The output shape Keras gives the stack (channels-last, batch left out), or None where
    Keras refuses to build it."""
    try:
        current: Any = (None, *shape)
        for item in layers:
            args = {k: v for k, v in item.items() if k != "type"}
            layer = getattr(keras.layers, item["type"])(**args)
            current = layer.compute_output_shape(current)
            if any(n is not None and n <= 0 for n in current):
                return None
    except (ValueError, TypeError):
        return None
    return tuple(current[1:])


# --- the single-layer question ---------------------------------------------------------------


@pytest.mark.full
@pytest.mark.parametrize(
    ("cls", "layer", "padding", "n", "m"),
    [
        ("Conv1D", "conv", "same", 24, 12),
        ("Conv1D", "conv", "same", 17, 5),
        ("Conv1D", "conv", "valid", 24, 11),
        ("Conv1D", "conv", "valid", 13, 1),
        ("MaxPooling1D", "maxpool", "same", 20, 7),
        ("AveragePooling1D", "avgpool", "valid", 20, 6),
    ],
)
def test_single_layer_is_keras(cls: str, layer: str, padding: str, n: int, m: int) -> None:
    """Every (kernel, stride[, dilation]) in the searched ranges Keras maps n to m."""
    pool = layer != "conv"
    kernels, strides = range(1, 7), range(1, n + 1)
    dilations = (1,) if pool else (1, 2)
    expected = set()
    for k, s, d in itertools.product(kernels, strides, dilations):
        args: dict[str, Any] = {"type": cls, "strides": s, "padding": padding}
        if pool:
            args["pool_size"] = k
        else:
            args |= {"filters": 1, "kernel_size": k, "dilation_rate": d}
        out = keras_out((n, 1), [args])
        if out is not None and out[0] == m:
            expected.add((k, s, d))
    pb = problem(
        layer,
        n,
        m,
        kernel_size="1..6",
        stride=f"1..{n}",
        dilation=None if pool else "1..2",
        padding=padding,
        framework="keras",
    )
    found = {(k, s, d) for k, s, _, d in pb.solutions()}
    assert found == expected
    assert pb.count() == len(expected)


def test_single_layer_cli_in_keras_words() -> None:
    """The homework's 64 → 32 with Keras' same: stride 2 and any kernel (here 3)."""
    runner = CliRunner()
    args = ["solve", "--framework", "keras", "--in", "64", "--out", "32", "--padding", "same"]
    result = runner.invoke(main, [*args, "--kernel", "3", "--format", "csv"])
    assert result.exit_code == 0, result.output
    assert result.output == "kernel_size,strides,padding,dilation_rate\n3,2,same,1\n"
    result = runner.invoke(main, [*args, "--kernel", "3"])
    assert result.output.splitlines()[:2] == [
        "conv (Keras, padding same): 64 → 32: 1 solution",
        "searched: kernel_size 3 · strides 1..64 · padding same · dilation_rate 1",
    ]
    refused = runner.invoke(main, [*args[:-1], "2"])
    assert refused.exit_code != 0
    assert "Keras' padding is valid or same, not '2'" in refused.output
    refused = runner.invoke(main, [*args[:-2], "--output-padding", "1"])
    assert refused.exit_code != 0
    assert "--output-padding: Keras' conv has none" in refused.output


def keras_transpose_out(n: int, k: int, s: int, d: int, padding: str, op: int | None) -> int | None:
    """Keras' Conv1DTranspose output length for an input of n, or None where Keras refuses."""
    try:
        layer = keras.layers.Conv1DTranspose(
            1, k, strides=s, padding=padding, dilation_rate=d, output_padding=op
        )
        out = layer.compute_output_shape((None, n, 1))[1]
    except ValueError:
        return None
    return int(out) if out > 0 else None


TRANSPOSE_CASES = [
    (33, 66, "valid", False),
    (4, 9, "valid", True),
    (3, 9, "same", False),
    (3, 10, "same", True),
    (1, 4, "valid", False),
    (1, 3, "same", True),
]


@pytest.mark.parametrize(
    ("n", "m", "padding", "op"),
    [
        TRANSPOSE_CASES[0],
        *(pytest.param(*case, marks=pytest.mark.full) for case in TRANSPOSE_CASES[1:]),
    ],
)
def test_single_conv_transpose_is_keras(n: int, m: int, padding: str, op: bool) -> None:
    """Keras' Conv*DTranspose (valid (n − 1)·s + max(k_eff, s), same n·s, or with an
    output_padding below the stride): every (kernel, stride, dilation[, output_padding]) in
    the searched ranges that Keras builds with output m, found by building each."""
    kernels, strides, dilations = range(1, 10), range(1, 11), (1, 2)
    pads: tuple[int | None, ...] = (0, 1, 2, 3) if op else (None,)
    expected = set()
    for k, s, d, o in itertools.product(kernels, strides, dilations, pads):
        if keras_transpose_out(n, k, s, d, padding, o) == m:
            expected.add((k, s, d) if o is None else (k, s, d, o))
    pb = problem(
        "conv_transpose", n, m, kernel_size="1..9", stride="1..10", dilation="1..2",
        padding=padding, output_padding="0..3" if op else None, framework="keras",
    )  # fmt: skip
    found = {(t[0], t[1], *t[3:]) for t in pb.solutions()}
    assert found == expected
    assert pb.count() == len(expected)


def test_conv_transpose_defaults_are_complete() -> None:
    """Without ranges, the search's bounds hold every solution Keras gives (valid: kernels
    up to M, strides up to ⌊(M − 1)/(N − 1)⌋): brute force over wider ranges finds no other."""
    n, m = 5, 13
    expected = {
        (k, s)
        for k, s in itertools.product(range(1, 20), range(1, 20))
        if keras_transpose_out(n, k, s, 1, "valid", None) == m
    }
    pb = problem("conv_transpose", n, m, framework="keras")
    assert {(k, s) for k, s, _, _ in pb.solutions()} == expected
    result = CliRunner().invoke(
        main, ["solve", "--framework", "keras", "--layer", "conv_transpose", "--in", "33",
               "--out", "66", "--format", "csv"],
    )  # fmt: skip
    rows = result.output.splitlines()
    assert rows[0] == "kernel_size,strides,padding,dilation_rate"
    for row in rows[1:]:
        k, s = int(row.split(",")[0]), int(row.split(",")[1])
        assert keras_transpose_out(33, k, s, 1, "valid", None) == 66
    assert len(rows) == 4  # k 1 and 2 at stride 2, k 34 at stride 1


# --- Keras' same: every kernel takes the same strides, listed as ranges ------------------------


def same_out(n: int, k: int, s: int, d: int, layer: str) -> int | None:
    """Keras' ``same`` written out here, the oracle of the brute force below (its rule is the
    one Keras builds by, test_single_layer_is_keras): ⌈n/s⌉ for any kernel, None where Keras
    refuses (a Conv's or ConvTranspose's strides > 1 with dilation_rate > 1)."""
    if layer == "conv" and s > 1 and d > 1:
        return None
    return (n + s - 1) // s


def same_strides(n: int, m: int) -> tuple[int, int] | None:
    """The strides s ≤ n with ⌈n/s⌉ = m, by bisection on ⌈n/s⌉ (non-increasing in s), for
    sizes no brute force can walk: the first s with ⌈n/s⌉ ≤ m up to the last with ⌈n/s⌉ ≥ m."""

    def first(pred: Any) -> int:  # the least s in 1..n + 1 with pred(s), pred monotone
        lo, hi = 1, n + 1
        while lo < hi:
            mid = (lo + hi) // 2
            lo, hi = (lo, mid) if pred(mid) else (mid + 1, hi)
        return lo

    lo, hi = first(lambda s: (n + s - 1) // s <= m), first(lambda s: (n + s - 1) // s < m) - 1
    return (lo, min(hi, n)) if lo <= min(hi, n) else None


def expanded(pb: Any, limit: int | None = None) -> list[tuple[int, int, int]]:
    """The listing's rows (consecutive blocks with the same kernels: each kernel takes each
    block's strides) as (k, s, d), kernel by kernel."""
    rows = itertools.groupby(blocks(pb, limit), key=lambda b: (b.k_lo, b.k_hi, b.dilation))
    found = []
    for (k_lo, k_hi, d), row in rows:
        spans = [(b.s_lo, b.s_hi) for b in row]
        for k in range(k_lo, k_hi + 1):
            found.extend((k, s, d) for lo, hi in spans for s in range(lo, hi + 1))
    return found


SAME_OPTIONS = [
    {},
    {"stride": "1,3..4,6..9,12"},
    {"no_gaps": True},
    {"no_gaps": True, "stride": "2..3,5,7..20", "kernel_size": "1..4,6..30"},
]


def brute_same(n: int, layer: str, options: dict[str, Any]) -> dict[int, list[tuple[int, ...]]]:
    """Every (k, s, d) of the default ranges (kernels and strides 1..n, dilations 1..3 for a
    Conv) or those given, by output size, in the listing's order (d, k, s)."""
    dilations = range(1, 4) if layer == "conv" else range(1, 2)
    kernels = _values(options.get("kernel_size"), n)
    strides = _values(options.get("stride"), n)
    found: dict[int, list[tuple[int, ...]]] = {}
    for d, k, s in itertools.product(dilations, kernels, strides):
        out = same_out(n, k, s, d, layer)
        if out is not None and (not options.get("no_gaps") or s <= d * (k - 1) + 1):
            found.setdefault(out, []).append((k, s, d))
    return found


def _values(text: str | None, n: int) -> list[int]:
    if text is None:
        return list(range(1, n + 1))
    values = []
    for part in text.split(","):
        lo, _, hi = part.partition("..")
        values.extend(range(int(lo), int(hi or lo) + 1))
    return values


@pytest.mark.parametrize("options", SAME_OPTIONS)
@pytest.mark.parametrize("layer", ["conv", "maxpool", "avgpool"])
def test_same_is_brute_force(layer: str, options: dict[str, Any]) -> None:
    """Every (kernel, stride[, dilation]) Keras' same maps n to m, for every n ≤ 60 (20 in the
    quick run) and every m ≤ n + 1, found by trying each: the solutions, the listing's blocks
    (and any first ``limit`` of them), and the count; each block a whole kernel range × stride
    range, in a few rows however many kernels."""
    top = 60 if FULL else 20
    for n in range(1, top + 1):
        found = brute_same(n, layer, options)
        for m in range(1, n + 2):
            expected = found.get(m, [])
            given = {k: v for k, v in options.items() if k != "no_gaps"}
            pb = problem(
                layer, n, m, padding="same", framework="keras", no_gaps="no_gaps" in options,
                dilation="1..3" if layer == "conv" else None, **given,
            )  # fmt: skip
            assert [(k, s, d) for k, s, _, d in pb.solutions()] == expected, (n, m)
            assert expanded(pb) == expected, (n, m)
            total = tally(pb)
            assert (total.value, total.complete) == (len(expected), True), (n, m)
            for limit in {0, 1, len(expected) // 3, len(expected) - 1} if expected else ():
                assert expanded(pb, limit) == expected[:limit], (n, m, limit)
            rows = {(b.k_lo, b.k_hi, b.dilation) for b in blocks(pb)}
            strides = len({s for _, s, _ in expected}) if "no_gaps" in options else 0
            assert len(rows) <= 3 * 2 + strides, (n, m, rows)  # dilations × kernel intervals


BIG = [
    ("conv", 100_000_000, 50_000_000),
    ("conv", 2**63 - 1, 1),
    ("maxpool", 2**63 - 1, 1),
    ("avgpool", 2**63 - 1, 1),
    ("maxpool", 100_000_000, 3),
    ("avgpool", 2**63 - 1, 2**62),
    ("conv", 1_000_000, 1_000_000),
]


@pytest.mark.every_case
@pytest.mark.parametrize(("layer", "n", "m"), BIG)
def test_same_answers_big_sizes_in_a_few_steps(layer: str, n: int, m: int) -> None:
    """Keras' same on sizes up to 2^63 − 1 (which printed a line per kernel, 9.2e18 of them):
    the count takes a few budget steps, the listing is one row (kernels 1..n by the strides
    bisection finds with ⌈n/s⌉ = m, checked at both ends and sampled inside), in text, CSV and
    JSON alike, and the listing stays within a budget of 10 idle steps."""
    strides = same_strides(n, m)
    assert strides is not None
    lo, hi = strides
    for s in (lo, hi, (lo + hi) // 2, lo + (hi - lo) // 7):
        assert same_out(n, 3, s, 1, layer) == m
    assert lo == 1 or same_out(n, 3, lo - 1, 1, layer) != m
    assert hi == n or same_out(n, 3, hi + 1, 1, layer) != m
    pb = problem(layer, n, m, padding="same", framework="keras")
    total = tally(pb)
    assert (total.value, total.complete) == (n * (hi - lo + 1), True)
    assert total.steps <= 10
    listed = list(blocks(pb, idle_limit=10))
    assert [(b.k_lo, b.k_hi, b.s_lo, b.s_hi, b.dilation) for b in listed] == [(1, n, lo, hi, 1)]
    # --no-gaps (s ≤ k): kernel k in lo..hi takes k − lo + 1 strides, each above hi all c
    c = hi - lo + 1
    gapless = problem(layer, n, m, padding="same", framework="keras", no_gaps=True)
    assert tally(gapless).value == c * (c + 1) // 2 + (n - hi) * c
    assert tally(gapless).steps <= 10
    strides_text = str(lo) if lo == hi else f"{lo}..{hi}"
    args = ["solve", "--framework", "keras", "--layer", layer, "--in", str(n), "--out", str(m),
            "--padding", "same"]  # fmt: skip
    runner = CliRunner()
    table = runner.invoke(main, args)
    assert table.exit_code == 0, table.output
    lines = table.output.splitlines()
    assert lines[0].endswith(f": {n * (hi - lo + 1):,} solutions")
    assert lines[-1].split() == [f"1..{n}", strides_text] and len(lines) <= 9
    csv = runner.invoke(main, [*args, "--format", "csv"]).output.splitlines()
    assert csv[1:] == [f"1..{n},{strides_text},same" + (",1" if layer == "conv" else "")]
    data = json.loads(runner.invoke(main, [*args, "--format", "json"]).output)
    assert data["count"] == n * (hi - lo + 1) and data["count_complete"]
    item = data["solutions"]
    assert len(item) == 1 and item[0]["padding"] == "same"
    assert (item[0].get("kernel_size") or item[0]["pool_size"]) == f"1..{n}"
    assert item[0]["strides"] == (lo if lo == hi else strides_text)
    # --limit 5: the first ⌊5 / c⌋ kernels whole (c strides each), then 5 mod c strides
    tail = csv[1].split(",", 2)[2]
    whole = min(n, 5 // c)
    cut = [f"{span(1, whole)},{strides_text},{tail}"] if whole else []
    if 5 % c and whole < n:
        cut.append(f"{whole + 1},{span(lo, lo + 5 % c - 1)},{tail}")
    first = runner.invoke(main, [*args, "--limit", "5", "--format", "csv"]).output.splitlines()
    assert first[1:] == cut


def span(lo: int, hi: int) -> str:
    return str(lo) if lo == hi else f"{lo}..{hi}"


def test_same_dilations_and_transpose_in_few_steps() -> None:
    """A Conv's dilation_rate above 1 takes stride 1 only (Keras refuses others): 10 → 5 over
    dilations 1..10^12 is the dilation 1 row, the others passed in one step; 10 → 10 takes
    stride 1 at every dilation. ConvTranspose's same (N·s, no output_padding) is one row of
    kernels; with an output_padding the parity of k_eff counts, and rows stay per kernel."""
    pb = problem("conv", 10, 5, padding="same", framework="keras", dilation=f"1..{10**12}")
    assert [tuple(b) for b in blocks(pb, idle_limit=10)] == [(1, 10, 0, 1, 2, 2, 0)]
    assert tally(pb).value == 10 and tally(pb).steps <= 10
    same = problem("conv", 10, 10, padding="same", framework="keras", dilation=f"1..{10**12}")
    assert tally(same).value == 10 * 10**12  # every kernel and dilation, stride 1
    assert [tuple(b) for b in itertools.islice(blocks(same), 2)] == [
        (1, 10, 0, 1, 1, 1, 0), (1, 10, 0, 2, 1, 1, 0)
    ]  # fmt: skip
    with pytest.raises(WorkLimit):  # a listing of 10^12 rows is long, but never idle
        list(itertools.islice(blocks(same, idle_limit=1), 10))
    up = problem("conv_transpose", 1, 10**8, padding="same", framework="keras")
    assert [tuple(b) for b in blocks(up, idle_limit=10)] == [(1, 10**8, 0, 1, 10**8, 10**8, 0)]
    assert tally(up).value == 10**8  # kernels 1..M (the bound listed), the stride s = M / N
    odd = problem("conv_transpose", 3, 6, padding="same", framework="keras", output_padding="0..1")
    listed = list(blocks(odd))
    assert listed and all(b.k_lo == b.k_hi for b in listed)


def test_a_same_count_out_of_budget_is_a_true_lower_bound() -> None:
    """10 → 10 with Keras' same over 60,000 odd kernels (one interval each) and dilation_rate
    1..2: ⌈10/s⌉ = 10 only at s = 1, whatever the kernel (``same_out``, which ignores k), so
    60,000 × #{(s, d): s in 1..10, d in 1..2, ⌈10/s⌉ = 10} = 120,000 solutions. The count
    passes its 100,000 steps after dilation 1's 60,000 kernels: its partial sum is kept, a
    lower bound in [60,000, 120,000] (it said "at least 0" above 1,000 listed rows); with a
    budget of 10^6 steps it is complete, and equal to the brute force."""
    from convcalc.solve import format as solve_format
    from convcalc.solve.layer import COUNT_LIMIT

    kernels = range(1, 120_000, 2)
    hits = sum(same_out(10, 1, s, d, "conv") == 10 for s in range(1, 11) for d in (1, 2))
    true = len(kernels) * hits
    assert true == 120_000
    ks = ",".join(map(str, kernels))
    pb = problem("conv", 10, 10, padding="same", framework="keras", kernel_size=ks, dilation="1..2")
    found = tally(pb)
    assert not found.complete and found.steps == COUNT_LIMIT + 1
    assert len(kernels) <= found.value <= true
    assert tally(pb, 10**6)[:2] == (true, True)
    out: list[str] = []
    solve_format.write(out.append, pb, "table", listing=True, limit=None)
    text = "".join(out)
    assert text.startswith(f"conv (Keras, padding same): 10 → 10: at least {found.value:,} ")
    assert f"at least {found.value - 1000:,} more solutions not listed" in text


GRADED = [  # (the question, a claim, the layer): right where Keras' rule gives M
    ({"in": 10**8, "out": 5 * 10**7, "padding": "same"}, [3, 2], "conv"),
    ({"in": 10**8, "out": 5 * 10**7, "padding": "same"}, [3, 3], "conv"),
    ({"in": 2**63 - 1, "out": 1, "padding": "same", "layer": "maxpool"}, [9, 2**63 - 1],
     "maxpool"),
    ({"in": 2**63 - 1, "out": 1, "padding": "same", "layer": "avgpool"}, [9, 2**62], "avgpool"),
]  # fmt: skip


def test_check_marks_big_same_questions() -> None:
    """``convcalc check``'s Keras solve questions on the sizes that used to list a row a kernel:
    each claim is right exactly where ⌈n/s⌉ = m, and ``complete`` asks for the whole set, whose
    size (n kernels × the strides bisection finds) the grader counts in full."""
    from convcalc.teach.grade import mark_solutions

    for ask, claim, layer in GRADED:
        n, m = ask["in"], ask["out"]
        right = same_out(n, claim[0], claim[1], 1, layer) == m
        answer = {"solve": {**ask, "framework": "keras"}, "solutions": [claim]}
        assert mark_solutions("q", answer).credit == float(right), (ask, claim)
        lo, hi = same_strides(n, m) or (1, 0)
        whole = mark_solutions("q", {**answer, "complete": True})
        assert whole.correct == f"the {n * (hi - lo + 1):,} solutions"
        assert whole.credit == (round(1 / (n * (hi - lo + 1)), 4) if right else 0.0)
    up = {"in": 1, "out": 10**8, "layer": "conv_transpose", "padding": "same"}
    answer = {"solve": {**up, "framework": "keras"}, "solutions": [[7, 10**8]], "complete": True}
    assert mark_solutions("q", answer).correct == f"the {10**8:,} solutions"  # k 1..M, s = M


# --- a Keras spec's unknowns -----------------------------------------------------------------

SAME_NET = [
    {"type": "Conv2D", "filters": "8,16", "kernel_size": 3, "strides": "1..6", "padding": "same"},
    {"type": "DepthwiseConv2D", "kernel_size": "2..3", "padding": "valid"},
    {"type": "MaxPooling2D", "pool_size": "2,3", "padding": "same"},
]


def test_spec_unknowns_are_keras() -> None:
    """Keras' same for every stride, a depthwise convolution that follows the filters, a pool
    whose strides default to its pool_size: the solutions are the settings Keras builds with
    the wanted output, and the output shapes are Keras' (channels-last)."""
    spec = {"name": "k", "framework": "keras", "input": [24, 24, 3], "layers": SAME_NET}
    names = [("filters", 0), ("strides", 0), ("kernel_size", 1), ("pool_size", 2)]
    expected = []
    for f, s, k, p in itertools.product((8, 16), range(1, 7), (2, 3), (2, 3)):
        layers = [dict(item) for item in SAME_NET]
        for (name, at), value in zip(names, (f, s, k, p), strict=True):
            layers[at][name] = value
        out = keras_out((24, 24, 3), layers)
        if out is not None and out[:2] == (2, 2):
            expected.append(((f, s, k, p), out))
    result = solve_stack(json.loads(json.dumps(spec)), (2,))
    found = [(values, result.shape(shape)) for values, shape in result.solutions]
    assert sorted(found) == sorted(expected)
    assert result.count == len(expected) > 0
    labels = [u.label for u in result.unknowns]
    assert labels == [
        "layers[0].filters",
        "layers[0].strides",
        "layers[1].kernel_size",
        "layers[2].pool_size",
    ]


def test_spec_refusals_are_keras() -> None:
    """Keras refuses strides > 1 with dilation_rate > 1 in a Conv: only stride 1 is kept with
    a dilation of 2; ``?`` in a stride takes the default range of the layer's input."""
    layers = [
        {"type": "Conv2D", "filters": 4, "kernel_size": 3, "strides": "?", "dilation_rate": "1,2"}
    ]
    spec = {"name": "d", "framework": "keras", "input": [16, 16, 1], "layers": layers}
    result = solve_stack(spec)
    expected = []
    for s, d in itertools.product(range(1, 17), (1, 2)):
        one = [{**layers[0], "strides": s, "dilation_rate": d}]
        out = keras_out((16, 16, 1), one)
        if out is not None:
            expected.append(((s, d), out))
    assert sorted((v, result.shape(o)) for v, o in result.solutions) == sorted(expected)


@pytest.mark.full
def test_blocks_and_input_unknowns() -> None:
    """An Add whose body's filters must agree with the Conv before it, and the input's height
    unknown (written Keras' way, H first): Keras' functional model decides."""
    spec = {
        "name": "r",
        "framework": "keras",
        "input": ["20..23", 16, 3],
        "layers": [
            {"type": "Conv2D", "filters": "4,8", "kernel_size": 3, "strides": 2, "padding": "same"},
            {"type": "Add", "body": [{"type": "Conv2D", "filters": "4..8", "kernel_size": 1}]},
        ],
    }
    expected = []
    for h, f, g in itertools.product(range(20, 24), (4, 8), range(4, 9)):
        x = inp = keras.Input((h, 16, 3))
        x = keras.layers.Conv2D(f, 3, strides=2, padding="same")(x)
        try:
            y = keras.layers.Add()([keras.layers.Conv2D(g, 1)(x), x])
        except ValueError:
            continue
        del inp
        expected.append(((h, f, g), tuple(y.shape[1:])))
    result = solve_stack(json.loads(json.dumps(spec)), None)
    found = sorted((v, result.shape(o)) for v, o in result.solutions)
    assert found == sorted(expected)
    assert result.unknowns[0].label == "input[0]"


def test_cli_table_and_closed_form_in_keras_order() -> None:
    """``solve SPEC``'s table shows Keras' shapes; ``--input ?,?,3`` answers in Keras' order:
    the homework's Question 3 network accepts H, W ≥ 26 (checked with Keras at 25 and 26)."""
    runner = CliRunner()
    result = runner.invoke(main, ["solve", "hw3-q3-keras", "--input", "?,?,3", "--explain"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == "hw3-q3-keras accepts H×W×3 for H ≥ 26 and W ≥ 26"
    assert "spec's input 128×128×3" in lines[1]
    assert "  layers[3] Conv2D: ⌊(H + 4) / 10⌋ + 1 ≥ 4 ⇔ H ≥ 26 (W alike)" in lines
    hw3 = [
        {"type": "Conv2D", "filters": 32, "kernel_size": 8, "strides": 2},
        {"type": "MaxPooling2D", "pool_size": 5, "strides": 5},
        {"type": "ZeroPadding2D", "padding": 1},
        {"type": "Conv2D", "filters": 128, "kernel_size": 4, "strides": 1},
    ]
    assert keras_out((25, 25, 3), hw3) is None
    assert keras_out((26, 26, 3), hw3) == (1, 1, 128)
    listed = runner.invoke(main, ["solve", "hw3-q3-keras", "--input", "26..27,30,3"])
    assert listed.exit_code == 0, listed.output
    csv = runner.invoke(
        main, ["solve", "hw3-q3-keras", "--input", "26..27,30,3", "--format", "csv"]
    )
    assert csv.output == "input[0],output_shape\n26,1x1x128\n27,1x1x128\n"
    assert keras_out((27, 30, 3), hw3) == (1, 1, 128)


def test_unknown_outside_integers_refused_in_keras_words(tmp_path: Any) -> None:
    spec = tmp_path / "k.yaml"
    spec.write_text(
        "framework: keras\ninput: [16, 16, 3]\nlayers:\n"
        "  - {type: Conv2D, filters: '?', kernel_size: 3}\n"
    )
    result = CliRunner().invoke(main, ["solve", str(spec)])
    assert result.exit_code != 0
    assert "layers[0] (Conv2D), field filters" in result.output
    assert '"?" has no default range for filters' in result.output


# --- the views of a Keras spec: every shape in Keras' order -----------------------------------

VIEWED = [
    {"type": "Conv2D", "filters": 8, "kernel_size": 3, "strides": 2},
    {"type": "Conv2D", "filters": 8, "kernel_size": 2, "strides": 3},
    {"type": "Flatten"},
    {"type": "Dense", "units": 10},
]


def test_views_show_keras_shapes() -> None:
    """``--explain``'s headings, lint's messages, the diagram and the HTML report show each
    shape as Keras gives it (channels-last), the shapes themselves from Keras."""
    from convcalc.analysis import analyse
    from convcalc.render.draw import to_svg
    from convcalc.render.html import to_html
    from convcalc.spec.validate import load_spec
    from convcalc.views.explain import explain, render
    from convcalc.views.lint import lint

    first = keras_out((31, 31, 3), VIEWED[:1])
    second = keras_out((31, 31, 3), VIEWED[:2])
    assert (first, second) == ((15, 15, 8), (5, 5, 8))
    report = analyse(load_spec({"name": "kc", "framework": "keras", "input": [31, 31, 3],
                                "layers": VIEWED}))  # fmt: skip
    text = render(report, explain(report)).splitlines()
    assert text[0] == "kc: 31×31×3 → 10"
    assert "layers[1] Conv2D(8, 2, strides=3): 15×15×8 → 5×5×8" in text
    messages = [f.message for f in lint(report)]
    assert any("(15×15×8 input)" in m for m in messages), messages
    assert any("the flattened 5×5×8 map" in m for m in messages), messages
    svg = to_svg(report)
    assert "5×5×8" in svg and "8×5×5" not in svg
    page = to_html(report, "")
    assert "input 31×31×3 → output 10 · Keras 3's size rules" in page
    assert ">15×15×8<" in page and "8×15×15" not in page
