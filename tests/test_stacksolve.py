"""``convcalc solve SPEC``: whole stacks with unknowns, against an independent brute force."""

from __future__ import annotations

import itertools
import json
from typing import Any

import pytest
import yaml
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from convcalc.analysis import LayerRefusal
from convcalc.solve.stack import solve_stack
from tests.budget import examples
from tests.oracle import out_size

KINDS = ["conv", "maxpool", "avgpool", "conv_transpose"]


def layer_out(layer: dict[str, Any], size: int, dim: int) -> int | None:
    def get(name: str, default: int) -> int:
        value = layer.get(name, default)
        return value[dim] if isinstance(value, list) else value

    k = get("kernel_size", 1)
    s = get("stride", k if layer["type"] in ("maxpool", "avgpool") else 1)
    return out_size(
        layer["type"], size, k, s, get("padding", 0), get("dilation", 1), get("output_padding", 0)
    )


def brute(input_shape: list[int], layers: list[dict[str, Any]], target: int | None) -> list[tuple]:
    """Try every assignment of every unknown; keep those whose every dimension ends at target
    (None: every valid one)."""
    spots = []  # (layer index, field, dim or None, values)
    for i, layer in enumerate(layers):
        for name, value in layer.items():
            if isinstance(value, str) and name != "type":
                spots.append((i, name, None, _expand(value)))
            elif isinstance(value, list):
                spots += [
                    (i, name, j, _expand(v)) for j, v in enumerate(value) if isinstance(v, str)
                ]
    found = []
    for values in itertools.product(*(spot[3] for spot in spots)):
        concrete = [dict(layer) for layer in layers]
        for (i, name, dim, _), v in zip(spots, values, strict=True):
            if dim is None:
                concrete[i][name] = v
            else:
                concrete[i][name] = list(concrete[i][name])
                concrete[i][name][dim] = v
        sizes: list[int | None] = list(input_shape[1:])
        for layer in concrete:
            sizes = [None if n is None else layer_out(layer, n, j) for j, n in enumerate(sizes)]
        if all(n is not None and target in (None, n) for n in sizes):
            found.append(values)
    return found


def _expand(text: str) -> list[int]:
    values: list[int] = []
    for piece in text.split(","):
        lo, _, hi = piece.partition("..")
        values += range(int(lo), int(hi) + 1) if hi else [int(lo)]
    return sorted(set(values))


@st.composite
def stacks(draw: Any) -> tuple[list[int], list[dict[str, Any]]]:
    rank = draw(st.integers(1, 2))
    shape = [2] + [draw(st.integers(4, 30)) for _ in range(rank)]
    layers = []
    for _ in range(draw(st.integers(1, 3))):
        kind = draw(st.sampled_from(KINDS))
        layer: dict[str, Any] = {"type": kind}
        if kind in ("conv", "conv_transpose"):
            layer["out_channels"] = 2
        for name, lo, hi in [
            ("kernel_size", 1, 5),
            ("stride", 1, 3),
            ("padding", 0, 2),
            ("dilation", 1, 2),
            ("output_padding", 0, 1),
        ]:
            if name == "dilation" and kind == "avgpool":
                continue
            if name == "output_padding" and kind != "conv_transpose":
                continue
            a = draw(st.integers(lo, hi))
            choice = draw(st.sampled_from(["fixed", "range", "range", "per-dim"]))
            if choice == "fixed" or (choice == "per-dim" and rank == 1):
                layer[name] = a
            elif choice == "range":
                layer[name] = f"{a}..{a + draw(st.integers(0, 2))}"
            else:
                layer[name] = [a, f"{a}..{a + 2}"]
        layers.append(layer)
    return shape, layers


@settings(max_examples=examples(150))
@given(stack=stacks(), target=st.integers(1, 12))
def test_stack_solutions_equal_brute_force(stack, target, tmp_path_factory) -> None:
    input_shape, layers = stack
    expected = brute(input_shape, layers, target)
    assume(  # unknowns were drawn
        any(
            isinstance(v, str) or (isinstance(v, list) and any(isinstance(x, str) for x in v))
            for layer in layers
            for v in layer.values()
            if v is not layer["type"]
        )
    )
    path = tmp_path_factory.mktemp("s") / "net.yaml"
    path.write_text(
        yaml.safe_dump({"input": input_shape, "layers": layers}, sort_keys=False), encoding="utf-8"
    )
    result = solved_or_faulty(str(path), target, input_shape, layers)
    if result is not None:
        assert [values for values, _ in result.solutions] == expected
        assert result.count == len(expected)


def solved_or_faulty(
    path: str, target: int, input_shape: list[int], layers: list[dict[str, Any]]
) -> Any:
    """The solver's answer, or None where it names the spec's own fault (a pool padded by more
    than half its fixed kernel) instead of answering "0 solutions": then no assignment may be
    valid at any output size, on this input nor on a larger one."""
    try:
        return solve_stack(path, (target,))
    except LayerRefusal:
        larger = [input_shape[0], *(1024 * n + 7 for n in input_shape[1:])]
        assert not brute(input_shape, layers, None) and not brute(larger, layers, None)
        return None


def test_question_marks_match_the_single_layer_solver(write) -> None:
    # a single conv with kernel and stride unknown is the seed's Question 3.2 (a): 171 solutions
    path = write(
        "input: [1, 64]\nlayers:\n  - {type: conv, out_channels: 1, "
        'kernel_size: "?", stride: "?"}\n'
    )
    result = solve_stack(path, (4,))
    expected = [(k, s) for k in range(1, 80) for s in range(1, 80) if (64 - k) // s + 1 == 4]
    assert [v for v, _ in result.solutions] == expected
    assert result.count == 171


@pytest.mark.full
def test_five_stages_example(run) -> None:
    result = run("solve", "five-stages", "--out", "7", "--format", "json")
    assert result.exit_code == 0
    report = json.loads(result.stdout)
    spec = yaml.safe_load(run_text("five-stages"))
    expected = brute(spec["input"], spec["layers"], 7)
    assert report["count"] == len(expected) > 0
    assert [tuple(s[u] for u in report["unknowns"]) for s in report["solutions"]] == expected
    assert all(s["output_shape"] == [512, 7, 7] for s in report["solutions"])
    assert report["unknowns"][0] == "layers[0].stride"


def run_text(name: str) -> str:
    from convcalc.spec.validate import bundled_specs

    return bundled_specs()[name].read_text(encoding="utf-8")


def test_per_dimension_out(run, write) -> None:
    path = write(
        "input: [1, 20, 12]\nlayers:\n  - {type: conv, out_channels: 1, "
        'kernel_size: 3, stride: ["1..4", "1..4"]}\n'
    )
    report = json.loads(run("solve", path, "--out", "6,5", "--format", "json").stdout)
    expected = [
        (a, b)
        for a in range(1, 5)
        for b in range(1, 5)
        if (20 - 3) // a + 1 == 6 and (12 - 3) // b + 1 == 5
    ]
    assert report["unknowns"] == ["layers[0].stride[0]", "layers[0].stride[1]"]
    assert [
        (s["layers[0].stride[0]"], s["layers[0].stride[1]"]) for s in report["solutions"]
    ] == expected


@pytest.mark.full
def test_count_limit_and_csv(run) -> None:
    counted = run("solve", "five-stages", "--out", "7", "--count", "--format", "csv")
    listed = run("solve", "five-stages", "--out", "7", "--format", "csv")
    assert int(counted.stdout) == len(listed.stdout.splitlines()) - 1
    limited = run("solve", "five-stages", "--out", "7", "--limit", "3", "--format", "csv")
    assert limited.stdout.splitlines() == listed.stdout.splitlines()[:4]


def test_stack_errors(run, write) -> None:
    cases = [
        (
            "input: [1, 8]\nlayers:\n  - {type: conv, out_channels: 1, kernel_size: 3}\n",
            "no unknowns",
        ),
        (
            'input: [1, 8]\nlayers:\n  - {type: conv, out_channels: "?", kernel_size: 3}\n',
            "no default range for out_channels",
        ),
        (
            'input: [1, 8]\nlayers:\n  - {type: conv, out_channels: 1, kernel_size: "0..3"}\n',
            "the range 0..3 does not fit: must be a positive integer",
        ),
        (
            'input: [1, 8]\nlayers:\n  - {type: conv, out_channels: 1, kernel_size: "3..1"}\n',
            "reversed",
        ),
        (
            "input: [1, 8]\nlayers:\n"
            '  - {type: conv, out_channels: 1, kernel_size: 3, bias: "1..2"}\n',
            "field bias",
        ),
        (
            'input: [1, 8]\nlayers:\n  - {type: conv, out_channels: 1, kernal_size: "?"}\n',
            "did you mean 'kernel_size'",
        ),
        (
            'input: [1, 8]\nlayers:\n  - {type: maxpool, kernel_size: 2, ceil_mode: "?"}\n',
            'field ceil_mode: "?" stands for an integer, and this field is not one',
        ),
        (  # a fault elsewhere is reported, not hidden behind "no unknowns"
            "input: [1, 8]\nlayers:\n  - {type: conv, out_channels: 1, kernel_size: 3.5}\n",
            "field kernel_size: must be a positive integer",
        ),
    ]
    for text, fragment in cases:
        result = run("solve", write(text), "--out", "2")
        assert result.exit_code == 2, (text, result.output)
        assert fragment in result.stderr, (fragment, result.stderr)
    assert (
        "--in: for a single layer" in run("solve", "five-stages", "--in", "5", "--out", "7").stderr
    )
    assert (
        "--layer: for a single layer"
        in run("solve", "five-stages", "--out", "7", "--layer", "maxpool").stderr
    )
    assert "--out" in run("solve", "five-stages", "--out", "7,7,7,7").stderr


@pytest.mark.full
def test_no_solution_is_not_an_error(run) -> None:
    result = run("solve", "five-stages", "--out", "500")
    assert result.exit_code == 0
    assert "0 solutions" in result.stdout


def test_question_mark_defaults_follow_the_documented_table(write) -> None:
    path = write(
        "input: [1, 20]\nlayers:\n"
        '  - {type: conv, out_channels: 1, kernel_size: "?", stride: 2, padding: "?"}\n'
        '  - {type: maxpool, kernel_size: "2..3", stride: "?", padding: "?"}\n'
    )
    expected = []
    # README: kernel 1..L + 2P with P = 0 (padding is "?"); conv padding 0..D·(K − 1)//2 with
    # K = L (kernel is "?"); pool stride 1..L + 2P (P = 0), pool padding 0..K//2 with K = 3
    for k0 in range(1, 21):
        for p0 in range(0, (20 - 1) // 2 + 1):
            size = out_size("conv", 20, k0, 2, p0, 1)
            if size is None:
                continue
            for k1 in (2, 3):
                for s1 in range(1, size + 1):
                    for p1 in range(0, 3 // 2 + 1):
                        if out_size("maxpool", size, k1, s1, p1, 1) == 3:
                            expected.append((k0, p0, k1, s1, p1))
    result = solve_stack(path, (3,))
    assert [v for v, _ in result.solutions] == expected
    assert result.count == len(expected)


def test_a_block_reused_through_an_alias_has_its_own_unknowns(write) -> None:
    path = write(
        "input: [1, 32]\nlayers:\n"
        '  - &block {type: conv, out_channels: 1, kernel_size: 3, stride: "1,2"}\n'
        "  - *block\n"
    )
    result = solve_stack(path, (7,))
    expected = [
        (a, b)
        for a in (1, 2)
        for b in (1, 2)
        if out_size("conv", out_size("conv", 32, 3, a, 0, 1) or 0, 3, b, 0, 1) == 7
    ]
    assert [u.label for u in result.unknowns] == ["layers[0].stride", "layers[1].stride"]
    assert [v for v, _ in result.solutions] == expected


# --- unknowns inside blocks and in the input ----------------------------------------------


def test_unknowns_inside_a_residual_block_equal_brute_force(write) -> None:
    text = (
        "input: [4, 20, 20]\nlayers:\n  - type: residual\n    body:\n"
        '      - {type: conv, out_channels: 8, kernel_size: 3, stride: "?", padding: 1}\n'
        "    shortcut:\n"
        '      - {type: conv, out_channels: 8, kernel_size: 1, stride: "1..4"}\n'
    )
    for target in (None, 10):
        result = solve_stack(write(text), None if target is None else (target,))
        expected = []
        for s_body in range(1, 20 + 2 + 1):  # "?": 1..L + 2P for a stride
            for s_short in range(1, 5):
                body = out_size("conv", 20, 3, s_body, 1, 1)
                short = out_size("conv", 20, 1, s_short, 0, 1)
                if body is None or (body != short and 1 not in (body, short)):
                    continue  # torch's + refuses them: neither equal nor one of them 1
                out = max(body, short)  # broadcast
                if target in (None, out):
                    expected.append(((s_body, s_short), (8, out, out)))
        assert list(result.solutions) == expected
        assert result.count == len(expected)
        # "?" for a stride: 1..L + 2P (the README's table), L = 20 and P = 1
        assert result.ranges["layers[0].body[0].stride"] == "1..22"


@st.composite
def input_stacks(draw: Any) -> tuple[list[Any], list[dict[str, Any]], int | None]:
    layers = []
    for _ in range(draw(st.integers(1, 3))):
        kind = draw(st.sampled_from(["conv", "maxpool"]))
        k = draw(st.integers(1, 4))
        layer: dict[str, Any] = {"type": kind, "kernel_size": k, "stride": draw(st.integers(1, 3))}
        layer["padding"] = draw(st.integers(0, k // 2))
        if kind == "conv":
            layer["out_channels"] = 2
        layers.append(layer)
    if draw(st.booleans()):  # a per-dimension list that differs: the general search
        layers[0]["kernel_size"] = [layers[0]["kernel_size"], 1]
    hi = draw(st.integers(1, 24))
    target = draw(st.one_of(st.none(), st.integers(1, 6)))
    return [2, f"1..{hi}", f"2..{hi + 2}"], layers, target


@settings(max_examples=examples(60))
@given(stack=input_stacks())
def test_input_sizes_equal_brute_force(stack, tmp_path_factory) -> None:
    input_shape, layers, target = stack
    path = tmp_path_factory.mktemp("s") / "net.yaml"
    path.write_text(yaml.safe_dump({"input": input_shape, "layers": layers}), encoding="utf-8")
    hi = int(input_shape[1].split("..")[1])

    def through(sizes: list[int | None]) -> list[int | None]:
        for layer in layers:
            sizes = [None if n is None else layer_out(layer, n, j) for j, n in enumerate(sizes)]
        return sizes

    try:
        result = solve_stack(str(path), None if target is None else (target,))
    except LayerRefusal:
        # the spec's own fault (a pool padded by more than half its kernel in one dimension):
        # no size is valid, in the ranges nor a thousand times larger
        for h, w in ((1, 2), (hi, hi + 2), (1024 * hi + 7, 1024 * hi + 9)):
            assert None in through([h, w])
        return
    expected = []
    for h in range(1, hi + 1):
        for w in range(2, hi + 3):
            sizes = through([h, w])
            if None not in sizes and target in (
                None,
                *([sizes[0]] if sizes[0] == sizes[1] else []),
            ):
                expected.append((h, w))
    assert [values for values, _ in result.solutions] == expected
    assert result.count == len(expected)


@pytest.mark.full
def test_unet_accepts_the_multiples_of_16(run) -> None:
    # four 2×2 poolings with padded convs and 2×2 stride-2 up-convolutions: the skips line up
    # exactly when 2⁴ divides the size
    result = run("solve", "unet", "--input", "3,1..200,1..200", "--format", "json")
    report = json.loads(result.stdout)
    sizes = range(16, 201, 16)
    assert report["count"] == len(sizes) ** 2
    assert [tuple(s[k] for k in ("input[1]", "input[2]")) for s in report["solutions"]] == [
        (h, w) for h in sizes for w in sizes
    ]
    assert report["solutions"][0]["output_shape"] == [2, 16, 16]


def test_out_size_targets_the_number_of_values(run, write) -> None:
    path = write(
        "input: [3, 32, 32]\nlayers:\n"
        '  - {type: conv, out_channels: 8, kernel_size: 3, stride: "1..3"}\n  - {type: flatten}\n'
    )
    # 8 channels of ((32 − 3) // s + 1)²: 7,200 (s 1), 1,800 (s 2), 800 (s 3)
    for values, stride in ((7200, 1), (1800, 2), (800, 3)):
        result = run("solve", path, "--out-size", str(values), "--format", "csv")
        assert result.stdout.splitlines() == ["layers[0].stride,output_shape", f"{stride},{values}"]
    flat = run("solve", path, "--out", "7")
    assert flat.exit_code == 2
    assert "has no spatial dimensions, so --out cannot apply: give --out-size N" in flat.stderr


def test_an_unknown_layer_written_like_another_is_its_own(write) -> None:
    # the first conv's kernel 1, 2, 3 takes 8 to 8, 7, 6; the second (kernel 1) keeps the size
    text = (
        "input: [1, 8]\nlayers:\n"
        '  - {type: conv, out_channels: 1, kernel_size: "1..3"}\n'
        "  - {type: conv, out_channels: 1, kernel_size: 1}\n"
    )
    result = solve_stack(write(text))
    assert [(v, s) for v, s in result.solutions] == [((1,), (1, 8)), ((2,), (1, 7)), ((3,), (1, 6))]


def test_a_layer_tying_dimensions_together_is_searched_in_full(write) -> None:
    # instancenorm needs more than one value per channel: 1×5 has five, so every size passes
    text = 'input: [1, "1..3", 5]\nlayers:\n  - {type: instancenorm}\n'
    result = solve_stack(write(text))
    assert [v for v, _ in result.solutions] == [(1,), (2,), (3,)]


@st.composite
def solvable_layers(draw: Any) -> tuple[list[int], dict[str, Any]]:
    """One conv or floor-mode pool on a square input, its fields in a random order, some of
    them unknown ranges (with holes), the rest fixed."""
    kind = draw(st.sampled_from(["conv", "maxpool", "avgpool"]))
    rank = draw(st.integers(1, 2))
    size = draw(st.integers(1, 40))
    names = ["kernel_size", "stride", "padding"] + ([] if kind == "avgpool" else ["dilation"])
    names = draw(st.permutations(names))
    layer: dict[str, Any] = {"type": kind}
    if kind == "conv":
        layer["out_channels"] = 3
    for name in names:
        lo = 0 if name == "padding" else 1
        a = draw(st.integers(lo, lo + 6))
        if draw(st.booleans()):
            layer[name] = a
        else:
            b, gap, more = draw(st.integers(0, 6)), draw(st.integers(1, 4)), draw(st.integers(0, 3))
            text = f"{a}..{a + b}" + (f",{a + b + gap + 1}..{a + b + gap + 1 + more}")
            layer[name] = text
    return [2] + [size] * rank, layer


@settings(max_examples=examples(300))
@given(stack=solvable_layers(), target=st.integers(1, 12))
def test_a_layer_solved_in_closed_form_equals_brute_force(stack, target, tmp_path_factory) -> None:
    """A conv or pool whose unknowns are its own kernel, stride, padding and dilation is solved
    once per output size by the single-layer solver: same solutions, in the unknowns' order."""
    input_shape, layer = stack
    assume(any(isinstance(v, str) and k != "type" for k, v in layer.items()))
    expected = brute(input_shape, [layer], target)
    path = tmp_path_factory.mktemp("s") / "net.yaml"
    path.write_text(
        yaml.safe_dump({"input": input_shape, "layers": [layer]}, sort_keys=False),
        encoding="utf-8",
    )
    result = solved_or_faulty(str(path), target, input_shape, [layer])
    if result is not None:
        assert [values for values, _ in result.solutions] == expected
        assert result.count == len(expected)


def test_three_question_marks_on_a_square_input(write) -> None:
    """The defaults of the README for an L×L input (L = 40): kernel 1..L, stride 1..L (P = 0
    while the padding is "?"), padding 0..(K − 1)//2 with K = L; brute force over them."""
    path = write(
        "input: [3, 40, 40]\nlayers:\n"
        '  - {type: conv, out_channels: 8, stride: "?", kernel_size: "?", padding: "?"}\n'
    )
    expected = [
        (s, k, p)
        for s in range(1, 41)
        for k in range(1, 41)
        for p in range(0, 39 // 2 + 1)
        if out_size("conv", 40, k, s, p, 1) == 5
    ]
    result = solve_stack(path, (5,))
    assert [v for v, _ in result.solutions] == expected
    assert result.count == len(expected)
    assert {shape for _, shape in solve_stack(path, (5,)).solutions} == {(8, 5, 5)}


def test_the_closed_form_path_answers_what_trials_would_refuse(write) -> None:
    """224×224 with three "?" is 5.6 million trials, over the search's million; one problem per
    output size counts it instead. The count is checked against the single-layer solver's own
    brute force on one dimension (the same candidate ranges, tried one by one)."""
    path = write(
        "input: [3, 224, 224]\nlayers:\n"
        '  - {type: conv, out_channels: 8, kernel_size: "?", stride: "?", padding: "?"}\n'
    )
    result = solve_stack(path, (4,), 3)
    # (224 + 2p − k) // s + 1 = 4 over k, s in 1..224 and p in 0..111: counted per (p, k), the
    # strides with ⌊A/4⌋ < s ≤ ⌊A/3⌋ (A = 224 + 2p − k)
    expected = 0
    for p in range(112):
        for k in range(1, 225):
            a = 224 + 2 * p - k
            if a >= 0:
                expected += max(0, min(a // 3, 224) - a // 4)
    assert result.count == expected
    first = list(result.solutions)
    assert len(first) == 3
    for (k, s, p), shape in first:
        assert out_size("conv", 224, k, s, p, 1) == 4 and shape == (8, 4, 4)


# --- one work budget: the attacks on the input-size search, each bounded --------------------

BUDGET = 'the search passed 1,000,000 steps: narrow the ranges, or write ranges such as "1..7"'


def convcalc_process(*args: str) -> Any:
    """``convcalc ARGS`` in a process of its own, under a generous timeout and 1.5 GB of address
    space: a search that is not bounded fails the test by passing one or the other."""
    import resource
    import subprocess
    import sys

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (1_500_000_000, 1_500_000_000))

    return subprocess.run(
        [sys.executable, "-m", "convcalc", *args],
        capture_output=True,
        text=True,
        timeout=120,
        preexec_fn=limit,
    )


@pytest.mark.full
def test_three_unknown_input_sizes_are_not_tried_as_their_product(write) -> None:
    # a relu keeps the shape, so 1×h×w×d has h·w·d values: --out-size 8 asks for the ordered
    # factorisations of 8 into three sizes, found here from its divisors; trying the product
    # of the sizes would be 1024³ ≈ 10⁹ combinations
    path = write('input: [1, "?", "?", "?"]\nlayers:\n  - {type: relu}\n')
    done = convcalc_process("solve", path, "--out-size", "8", "--format", "csv")
    assert done.returncode == 0, done.stderr
    divisors = [1, 2, 4, 8]
    expected = [(a, b, c) for a in divisors for b in divisors for c in divisors if a * b * c == 8]
    rows = [line.split(",")[:3] for line in done.stdout.splitlines()[1:]]
    assert [tuple(map(int, row)) for row in rows] == expected
    assert len(expected) == 10
    # the same sizes where a layer ties the dimensions together (no dimension-by-dimension
    # answer): 1024³ choices of the input, refused before any is tried
    path = write('input: [1, "?", "?", "?"]\nlayers:\n  - {type: relu}\n  - {type: instancenorm}\n')
    done = convcalc_process("solve", path, "--out", "8")
    assert done.returncode == 2 and BUDGET in done.stderr


@pytest.mark.full
def test_a_long_spec_spends_a_step_per_layer_of_each_trial(tmp_path) -> None:
    # 20,000 layers tried on 1,024 sizes are 2·10⁷ layer runs (minutes, and gigabytes of
    # remembered shapes): the budget stops the search after a fraction of them
    path = tmp_path / "long.yaml"
    path.write_text('input: [8, "?", "?"]\nlayers:\n' + "  - {type: relu}\n" * 20_000)
    done = convcalc_process("solve", str(path), "--out", "8", "--count")
    assert done.returncode == 2 and BUDGET in done.stderr


@pytest.mark.full
def test_an_unknown_input_size_and_kernel_are_answered_per_kernel(write) -> None:
    # tried size by size this was every kernel up to max(h, 32) for each of 1,024 heights (half
    # a million trials, past the budget); now each kernel 1..32 (W = 32 bounds it) has its
    # heights in closed form: 32 − k + 1 = 28 needs k = 5, and then H = 32
    path = write(
        'input: [3, "?", 32]\nlayers:\n  - {type: conv, out_channels: 4, kernel_size: "?"}\n'
    )
    done = convcalc_process("solve", path, "--out", "28")
    assert done.returncode == 0, done.stderr
    assert done.stdout.endswith(
        "layers[0].kernel_size  input sizes\n                    5  H = 32\n"
    )


@pytest.mark.full
def test_a_huge_range_with_few_solutions_ends_its_listing_at_the_last(write) -> None:
    # kernels 1..10¹² with the stride's default range on 64 × 64: only k ≤ 64 fit, and the
    # listing must not go on to try the other 10¹² kernels one by one
    path = write(
        "input: [1, 64, 64]\nlayers:\n"
        '  - {type: conv, out_channels: 1, kernel_size: "1..1000000000000", stride: "?"}\n'
    )
    done = convcalc_process("solve", path, "--out", "4", "--format", "csv")
    assert done.returncode == 0, done.stderr
    expected = [
        (k, s) for k in range(1, 65) for s in range(1, 65) if out_size("conv", 64, k, s, 0, 1) == 4
    ]
    rows = [tuple(map(int, line.split(",")[:2])) for line in done.stdout.splitlines()[1:]]
    assert rows == expected


# --- the network the spec's input builds, against PyTorch ----------------------------------


def torch_network(layers: list[dict[str, Any]], shape: tuple[int, ...]) -> Any:
    """The spec's layers as PyTorch modules, their input sizes taken by PyTorch itself from a
    first run on ``shape`` (lazy modules), as a PyTorch model declared for that input is."""
    import torch
    from torch import nn

    modules: list[nn.Module] = []
    channels = shape[0]
    for layer in layers:
        kind = layer["type"]
        if kind == "conv":
            modules.append(nn.LazyConv2d(layer["out_channels"], layer["kernel_size"]))
        elif kind == "linear":
            modules.append(nn.LazyLinear(layer["out_features"]))
        elif kind == "avgpool":
            modules.append(nn.AvgPool2d(layer["kernel_size"]))
        elif kind == "maxpool":
            modules.append(nn.MaxPool2d(layer["kernel_size"]))
        elif kind == "flatten":
            modules.append(nn.Flatten())
        elif kind == "tanh":
            modules.append(nn.Tanh())
        elif kind == "relu":
            modules.append(nn.ReLU())
        elif kind == "batchnorm":  # the first layer here: the declared input's channels
            flags = {k: layer[k] for k in ("affine", "track_running_stats") if k in layer}
            modules.append(nn.BatchNorm2d(channels, **flags))
        elif kind == "groupnorm":
            affine = layer.get("affine", True)
            modules.append(nn.GroupNorm(layer["num_groups"], channels, affine=affine))
        elif kind == "instancenorm":
            modules.append(nn.InstanceNorm2d(channels, affine=layer.get("affine", False)))
        else:
            raise AssertionError(kind)
    net = nn.Sequential(*modules).eval()
    with torch.no_grad():
        net(torch.zeros(1, *shape))
    return net


def torch_runs(net: Any, shape: tuple[int, ...]) -> bool:
    import warnings

    import torch

    try:
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # instance norm warns of a channel count it ignores
            net(torch.zeros(1, *shape))
    except (RuntimeError, ValueError):
        return False
    return True


def listed(run, *args: str) -> tuple[list[tuple[int, ...]], dict[str, Any]]:
    result = run("solve", *args, "--format", "json")
    assert result.exit_code == 0, result.stderr
    report = json.loads(result.stdout)
    rows = [tuple(s[u] for u in report["unknowns"]) for s in report["solutions"]]
    return rows, report


@pytest.mark.torch
@pytest.mark.full  # 800 PyTorch runs, most of them refused (seconds each hundred)
@pytest.mark.parametrize("width", [28, 32])
def test_lenet5_accepts_the_heights_pytorch_runs_it_on(run, width: int) -> None:
    """LeNet-5 as declared (1×32×32: its first linear takes 16·5·5 = 400 features) run on
    1×h×width for h in 1..400: the heights convcalc accepts are exactly those PyTorch runs the
    declared network on (none for width 28, whose features are a multiple of 16·4 = 64; four
    for width 32). The linear must not re-size itself to each input."""
    pytest.importorskip("torch")
    spec = yaml.safe_load(run_text("lenet5"))
    net = torch_network(spec["layers"], tuple(spec["input"]))
    expected = [(h,) for h in range(1, 401) if torch_runs(net, (1, h, width))]
    rows, report = listed(run, "lenet5", "--input", f"1,1..400,{width}")
    assert rows == expected
    assert len(expected) == (0 if width == 28 else 4)
    assert any("built for the spec's input 1×32×32" in note for note in report["notes"])


@pytest.mark.torch
@pytest.mark.full
def test_a_layer_unknown_changes_the_declared_network_too(run, write) -> None:
    """With a kernel unknown, each kernel builds its own network at the declared 1×32×32 (the
    linear's in_features follows the kernel), and each is run on 1×h×32 in PyTorch."""
    pytest.importorskip("torch")
    layers = [
        {"type": "conv", "out_channels": 6, "kernel_size": "3,5,7"},
        {"type": "maxpool", "kernel_size": 2},
        {"type": "flatten"},
        {"type": "linear", "out_features": 10},
    ]
    path = write(yaml.safe_dump({"input": [1, 32, 32], "layers": layers}))
    expected = []
    for h in range(20, 41):
        for k in (3, 5, 7):
            concrete = [{**layers[0], "kernel_size": k}, *layers[1:]]
            if torch_runs(torch_network(concrete, (1, 32, 32)), (1, h, 32)):
                expected.append((h, k))
    rows, _ = listed(run, path, "--input", "1,20..40,32")
    assert rows == expected


@pytest.mark.torch
@pytest.mark.parametrize(
    "first",
    [
        {"type": "conv", "out_channels": 4, "kernel_size": 3},
        {"type": "batchnorm"},
        {"type": "batchnorm", "affine": False},
        {"type": "batchnorm", "affine": False, "track_running_stats": False},
        {"type": "groupnorm", "num_groups": 2},
        {"type": "groupnorm", "num_groups": 2, "affine": False},
        {"type": "instancenorm"},
        {"type": "instancenorm", "affine": True},
    ],
)
def test_input_channels_are_those_pytorch_accepts(run, write, first: dict[str, Any]) -> None:
    """A first layer built for the declared 4 channels, given 1..8: PyTorch refuses another
    count where the module holds weights or running statistics of 4, and takes any other (a
    group norm still needs its groups to divide the channels)."""
    pytest.importorskip("torch")
    path = write(yaml.safe_dump({"input": [4, 6, 6], "layers": [first]}))
    net = torch_network([first], (4, 6, 6))
    expected = [(c,) for c in range(1, 9) if torch_runs(net, (c, 6, 6))]
    rows, _ = listed(run, path, "--input", "1..8,6,6")
    assert rows == expected


@pytest.mark.torch
@pytest.mark.full
def test_undeclared_input_sizes_build_one_network_per_size(run, write) -> None:
    """Where the spec's input writes a range, no size is declared: each height builds its own
    LeNet-5 (the linear takes whatever the flatten gives), and a note says so."""
    pytest.importorskip("torch")
    spec = yaml.safe_load(run_text("lenet5"))
    path = write(yaml.safe_dump({"input": [1, "1..40", 32], "layers": spec["layers"]}))
    expected = []
    for h in range(1, 41):
        try:
            torch_network(spec["layers"], (1, h, 32))
        except RuntimeError:  # too small for the first conv or pool
            continue
        expected.append((h,))
    rows, report = listed(run, path)
    assert rows == expected
    assert any(
        "declares no size" in note and "layers[7] (linear) takes its in_features" in note
        for note in report["notes"]
    )


def test_a_declared_input_that_cannot_build_the_network_is_its_error(run, write) -> None:
    # a kernel of 5 on the declared 4 × 4: the network the spec declares does not exist, so no
    # input is asked about; the error is `convcalc shape`'s for the spec, with what to change
    path = write("input: [1, 4, 4]\nlayers:\n  - {type: conv, out_channels: 2, kernel_size: 5}\n")
    shaped = run("shape", path)
    solved = run("solve", path, "--input", "1,1..9,1..9")
    assert solved.exit_code == shaped.exit_code == 2
    first = shaped.stderr.splitlines()[0]  # then shape suggests the accepted sizes nearby
    assert solved.stderr.startswith(first + " (at the spec's input 1×4×4")
    assert 'write "?" in it' in solved.stderr


def test_an_input_of_another_rank_than_the_declared_is_refused(run) -> None:
    result = run("solve", "lenet5", "--input", "1,1..40")
    assert result.exit_code == 2
    assert "--input gives 2 sizes but the spec's input 1×32×32 has 3" in result.stderr


# --- a fault of the spec, whatever its unknowns ----------------------------------------------


@pytest.mark.parametrize(
    ("input_shape", "first"),
    [
        ('[1, "?", "?"]', "{type: conv, out_channels: 4, kernel_size: [3, 3, 3]}"),
        ("[1, 16, 16]", '{type: conv, out_channels: 4, kernel_size: [3, 3, 3], stride: "?"}'),
        (
            '[1, "1..9", 16]',
            "{type: residual, body: [{type: maxpool, kernel_size: 1, padding: 1}]}",
        ),
    ],
)
def test_a_spec_no_unknown_can_fix_is_refused_as_shape_refuses_it(
    run, tmp_path, input_shape: str, first: str
) -> None:
    """A 3-element kernel on a 2-D input, a pool padded by more than half its kernel: no value
    of the unknowns makes the network valid. The error is `convcalc shape`'s for the same spec
    with the unknowns filled in (the same file, line, layer and field)."""
    text = f"input: {input_shape}\nlayers:\n  - {first}\n  - {{type: relu}}\n"
    (tmp_path / "net.yaml").write_text(text)
    filled = text.replace('"?"', "1").replace('"1..9"', "9")
    (tmp_path / "filled.yaml").write_text(filled)
    solved = run("solve", str(tmp_path / "net.yaml"))
    shaped = run("shape", str(tmp_path / "filled.yaml"))
    assert solved.exit_code == shaped.exit_code == 2
    assert solved.stderr == shaped.stderr.replace("filled.yaml", "net.yaml")
    assert solved.stdout == ""


def test_sizes_too_small_for_every_network_are_zero_solutions_not_a_fault(run, write) -> None:
    # a kernel of 5 on inputs of 1..3: each is refused for its size, and a larger one would
    # do, so the answer is none (brute force agrees), not an error
    path = write(
        'input: [1, "1..3", "1..3"]\nlayers:\n  - {type: conv, out_channels: 2, kernel_size: 5}\n'
    )
    assert [
        (h, w) for h in range(1, 4) for w in range(1, 4) if out_size("conv", h, 5, 1, 0, 1)
    ] == []
    result = run("solve", path)
    assert result.exit_code == 0
    assert "within H 1..3 · W 1..3: none, 0 sizes" in result.stdout  # in closed form
