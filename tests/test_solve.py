"""``convcalc solve`` for one layer: the seed's answers, brute force, torch, and the CLI."""

from __future__ import annotations

import csv
import io
import itertools
import json
import re

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from convcalc.arith import floor_sum
from convcalc.budget import Budget, WorkLimit
from convcalc.solve.layer import (
    Range,
    RangeError,
    SearchLimit,
    count,
    problem,
    runs,
    solutions,
    tally,
    why,
)
from convcalc.tex import tex_inline
from tests.budget import examples
from tests.latex import compiles, needs_pdflatex
from tests.oracle import out_size
from tests.test_explain import evaluate


def brute(layer: str, n: int, m: int, ks, ss, ps, ds, ops=(0,), ceil=False) -> list[tuple]:
    """Every combination tried one by one, in the contract's order."""
    found = []
    for d, p, k, s in itertools.product(ds, ps, ks, ss):
        for op in ops:
            if op >= max(s, d):  # refused, as every larger one (ops ascend): not tried
                break
            if out_size(layer, n, k, s, p, d, op, ceil) == m:
                found.append((k, s, p, d, op) if layer == "conv_transpose" else (k, s, p, d))
    return found


def filtered(found: list[tuple], n: int, no_gaps: bool, exact: bool) -> list[tuple]:
    """--no-gaps keeps s ≤ d·(k − 1) + 1; --exact keeps s dividing N + 2p − d·(k − 1) − 1."""
    return [
        (k, s, p, d, *rest)
        for k, s, p, d, *rest in found
        if (not no_gaps or s <= d * (k - 1) + 1)
        and (not exact or (n + 2 * p - d * (k - 1) - 1) % s == 0)
    ]


# --- the seed's Question 3.2 ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("padding", "dilation", "seed_answer"),
    [(0, 1, (49, 5)), (2, 2, (27, 5)), (1, 1, (51, 5))],  # (a), (b), (c)
)
def test_seed_answers_are_in_the_complete_sets(padding: int, dilation: int, seed_answer) -> None:
    pb = problem("conv", 64, 4, padding=str(padding), dilation=str(dilation))
    found = list(solutions(pb))
    k, s = seed_answer
    assert (k, s, padding, dilation) in found
    # the complete set: every kernel that fits, every stride up to the padded input
    expected = brute("conv", 64, 4, range(1, 200), range(1, 200), [padding], [dilation])
    assert found == expected
    assert count(pb) == len(expected)


def test_the_seed_question_has_171_solutions_with_p0_d1(run) -> None:
    expected = brute("conv", 64, 4, range(1, 100), range(1, 100), [0], [1])
    result = run("solve", "--in", "64", "--out", "4", "--format", "json")
    assert result.exit_code == 0
    report = json.loads(result.stdout)
    assert report["in"] == 64 and report["out"] == 4
    assert report["count"] == len(expected) == 171
    assert [tuple(s.values()) for s in report["solutions"]] == expected
    assert set(report["bounds"]) == {"kernel_size", "stride", "padding", "dilation"}


# --- property tests against brute force ----------------------------------------------------

layers = st.sampled_from(["conv", "maxpool", "avgpool", "conv_transpose"])


@pytest.mark.full
@settings(max_examples=examples(600))  # a wide brute force each: 3,000 took 190 s of CI
@given(
    layer=layers,
    n=st.integers(1, 16),
    m=st.integers(1, 16),
    p_hi=st.integers(0, 3),
    d_hi=st.integers(1, 3),
    ceil=st.booleans(),
)
def test_default_ranges_find_every_solution(layer, n, m, p_hi, d_hi, ceil) -> None:
    """With padding and dilation fixed, the defaults miss nothing (M ≥ 2; M = 1 is bounded)."""
    ceil = ceil and layer in ("maxpool", "avgpool")
    d_hi = 1 if layer == "avgpool" else d_hi
    pb = problem(layer, n, m, padding=f"0..{p_hi}", dilation=f"1..{d_hi}", ceil_mode=ceil)
    found = list(solutions(pb))
    wide = range(1, 2 * (n + m + 2 * p_hi) + 4)
    ops = range(0, max(wide.stop, d_hi)) if layer == "conv_transpose" else (0,)
    strides = wide if (m > 1 and not (layer == "conv_transpose" and n == 1)) else pb.stride
    kernels = wide if not (m == 1 and ceil) else pb.kernel_size
    expected = brute(layer, n, m, kernels, strides, range(p_hi + 1), range(1, d_hi + 1), ops, ceil)
    assert found == expected
    assert count(pb) == len(expected)


@given(
    layer=layers,
    n=st.integers(1, 40),
    m=st.integers(1, 12),
    k=st.tuples(st.integers(1, 30), st.integers(0, 12)),
    s=st.tuples(st.integers(1, 12), st.integers(0, 8)),
    p=st.tuples(st.integers(0, 4), st.integers(0, 3)),
    d=st.tuples(st.integers(1, 3), st.integers(0, 2)),
    ceil=st.booleans(),
    no_gaps=st.booleans(),
    exact=st.booleans(),
)
def test_given_ranges_exactly(layer, n, m, k, s, p, d, ceil, no_gaps, exact) -> None:
    ceil = ceil and layer in ("maxpool", "avgpool")
    exact = exact and layer != "conv_transpose"
    if layer == "avgpool":
        d = (1, 0)
    ks, ss = range(k[0], sum(k) + 1), range(s[0], sum(s) + 1)
    ps, ds = range(p[0], sum(p) + 1), range(d[0], sum(d) + 1)
    text = {n: f"{r.start}..{r.stop - 1}" for n, r in {"k": ks, "s": ss, "p": ps, "d": ds}.items()}
    pb = problem(
        layer,
        n,
        m,
        kernel_size=text["k"],
        stride=text["s"],
        padding=text["p"],
        dilation=text["d"],
        output_padding="0..4" if layer == "conv_transpose" else None,
        ceil_mode=ceil,
        no_gaps=no_gaps,
        exact=exact,
    )
    ops = range(5) if layer == "conv_transpose" else (0,)
    expected = filtered(brute(layer, n, m, ks, ss, ps, ds, ops, ceil), n, no_gaps, exact)
    assert list(solutions(pb)) == expected
    assert count(pb) == len(expected)


def _holey(lo: int, gap: int, width: int, more: int) -> tuple[list[int], str]:
    """Two intervals with a gap between: [lo, lo + width] and, after ``gap``, ``more`` values."""
    first = list(range(lo, lo + width + 1))
    second = list(range(first[-1] + gap + 1, first[-1] + gap + 1 + more))
    text = f"{first[0]}..{first[-1]}" + (f",{second[0]}..{second[-1]}" if second else "")
    return first + second, text


@given(
    layer=layers,
    n=st.integers(1, 60),
    m=st.integers(1, 30),
    k=st.tuples(st.integers(1, 20), st.integers(1, 12), st.integers(0, 6), st.integers(0, 6)),
    s=st.tuples(st.integers(1, 8), st.integers(1, 12), st.integers(0, 6), st.integers(0, 6)),
    p=st.tuples(st.integers(0, 3), st.integers(1, 8), st.integers(0, 3), st.integers(0, 3)),
    d=st.tuples(st.integers(1, 3), st.integers(1, 6), st.integers(0, 2), st.integers(0, 2)),
    op=st.tuples(st.integers(0, 2), st.integers(1, 5), st.integers(0, 2), st.integers(0, 3)),
    ceil=st.booleans(),
    no_gaps=st.booleans(),
    exact=st.booleans(),
)
def test_ranges_with_holes(layer, n, m, k, s, p, d, op, ceil, no_gaps, exact) -> None:
    """Ranges with a gap (``1..3,9..12``) prune each loop by intervals: nothing is lost or
    repeated, listing and counting agree, for large M (the stride walk) as for small."""
    ceil = ceil and layer in ("maxpool", "avgpool")
    exact = exact and layer != "conv_transpose"
    (ks, kt), (ss, st_), (ps, pt) = _holey(*k), _holey(*s), _holey(*p)
    ds, dt = ((1,), "1") if layer == "avgpool" else _holey(*d)
    ops, ot = _holey(*op) if layer == "conv_transpose" else ((0,), None)
    pb = problem(
        layer,
        n,
        m,
        kernel_size=kt,
        stride=st_,
        padding=pt,
        dilation=dt,
        output_padding=ot,
        ceil_mode=ceil,
        no_gaps=no_gaps,
        exact=exact,
    )
    expected = filtered(brute(layer, n, m, ks, ss, ps, ds, ops, ceil), n, no_gaps, exact)
    assert list(solutions(pb)) == expected
    assert count(pb) == len(expected)


@given(n=st.integers(0, 40), m=st.integers(1, 40), a=st.integers(-60, 60), b=st.integers(-300, 300))
def test_floor_sum_is_the_sum_it_names(n, m, a, b) -> None:
    assert floor_sum(n, m, a, b) == sum((a * i + b) // m for i in range(n))


# --- hostile sizes: the work follows the answer, not N or the ranges -----------------------


@pytest.mark.parametrize("n", [10, 11, 40, 41, 10**15])
def test_a_huge_input_to_two_is_counted_in_closed_form(n) -> None:
    """conv N → 2 (defaults): kernel k leaves A = N − k, and strides A//2 < s ≤ A give 2, so
    the count is Σ_{A=1}^{N−1} ⌈A/2⌉ = ⌊N/2⌋·⌈N/2⌉ (pairs of equal terms, worked by hand)."""
    pb = problem("conv", n, 2)
    found = tally(pb, limit=100)
    assert found.complete
    assert found.value == (n // 2) * (n - n // 2)
    if n < 100:
        assert found.value == len(brute("conv", n, 2, range(1, n + 1), range(1, n + 1), [0], [1]))


def test_conv_transpose_counts_per_kernel_not_per_stride() -> None:
    """N = 2 → M: k + s + op = M with 0 ≤ op < s, so Σ_s min(s, M − s) solutions."""
    m = 10_000
    found = tally(problem("conv_transpose", 2, m), limit=20_000)
    assert found.complete
    assert found.value == sum(min(s, m - s) for s in range(1, m))


def test_exact_counts_in_closed_form() -> None:
    """N = 10⁶ → 4 exactly: A = N − k must be 3·s with s ≥ 1, so A ∈ {3, 6, …, 999999}."""
    found = tally(problem("conv", 10**6, 4, exact=True), limit=100)
    assert found.complete
    assert found.value == 999_999 // 3


@pytest.mark.parametrize(
    ("layer", "n", "m", "options"),
    [
        ("conv", 10**15, 2, {}),
        ("conv", 64, 4, {"padding": "0..1000000000000"}),
        ("conv", 64, 4, {"dilation": "1..1000000000000"}),
        ("conv", 64, 4, {"kernel_size": "3", "dilation": "1..1000000000000"}),
        ("conv", 10**12, 5 * 10**11, {}),
        ("conv_transpose", 1, 5, {"stride": "1..1000000000000"}),
        ("conv_transpose", 2, 10**9, {}),
        ("maxpool", 10**12, 3, {"ceil_mode": True}),
        ("avgpool", 10**12, 10**6, {"padding": "0..1000000"}),
    ],
)
def test_hostile_ranges_list_their_first_solutions_at_once(layer, n, m, options) -> None:
    """The first solutions of a huge search come after a few steps (the search would raise
    SearchLimit after ``idle_limit`` settings without one), each one checked by the oracle,
    and the count either finishes or stops with a lower bound, never loops over N."""
    pb = problem(layer, n, m, **options)
    first = list(itertools.islice(runs(pb, idle_limit=1_000), 3))
    assert first
    for k, p, d, s_lo, s_hi, op in first:
        for s in {s_lo, s_hi}:
            assert out_size(layer, n, k, s, p, d, op, pb.ceil_mode) == m
    found = tally(pb, limit=1_000)
    assert found.steps <= 1_001 + 1 or found.complete
    assert found.value >= len(first)


@pytest.mark.full
def test_a_count_that_stops_says_so(run) -> None:
    result = run("solve", "--in", "64", "--out", "4", "--padding", "0..1000000000000", "--count")
    assert result.exit_code == 0
    assert "at least" in result.output.splitlines()[0]
    assert "counting stopped after" in result.output
    flags = ("--count", "--format", "json")
    result = run("solve", "--in", "64", "--out", "4", "--dilation", "1..1000000000000", *flags)
    report = json.loads(result.output)
    assert report["count_complete"] is False and report["count"] > 0
    result = run("solve", "--in", "64", "--out", "4", *flags)
    assert json.loads(result.output)["count_complete"] is True


@pytest.mark.full
def test_the_listing_and_the_count_spend_from_the_one_work_budget(run) -> None:
    """conv 10¹² → 3 with --no-gaps: stride s gives 3 where A // 3 < s ≤ A // 2 (A = N − k),
    and no gaps needs s ≤ k = N − A, so s < N / 3 + 1. The listing walks the strides from
    N / 2 down (the strides are fewer than the kernels): 1.7·10¹¹ strides without a solution
    come first. Both the listing and a count stop with the budget's own error."""
    pb = problem("conv", 10**12, 3, no_gaps=True)
    with pytest.raises(WorkLimit, match=r"passed 1,000 steps: none of them gave another solution"):
        next(runs(pb, idle_limit=1_000))
    assert SearchLimit is WorkLimit  # the name callers knew still catches it
    result = run("solve", "--in", str(10**12), "--out", "3", "--no-gaps")
    assert result.exit_code == 2
    assert "Error: the search passed 100,000 steps: none of them gave another solution" in (
        result.stderr
    )
    # a count inside a larger search spends from that search's budget, and stops with it:
    # 64 → 4 with padding 0..10¹² has a (dilation, padding) step for each of 10¹² paddings
    budget = Budget(500)
    with pytest.raises(WorkLimit, match="passed 500 steps"):
        tally(problem("conv", 64, 4, padding="0..1000000000000"), budget=budget)
    assert budget.spent == 501


def test_the_benchmarks_counts() -> None:
    # the figure benchmarks/bench_solve.py's question has, from an independent brute force
    pb = problem(
        "conv", 2048, 16, kernel_size="1..2080", stride="1..140", padding="0..16", dilation="1..4"
    )
    assert count(pb) == 315_380


# --- torch ---------------------------------------------------------------------------------


@pytest.mark.torch
@given(layer=layers, n=st.integers(1, 30), m=st.integers(1, 30), ceil=st.booleans(), data=st.data())
def test_solutions_give_m_in_torch(layer, n, m, ceil, data) -> None:
    torch = pytest.importorskip("torch")
    ceil = ceil and layer in ("maxpool", "avgpool")
    pb = problem(
        layer, n, m, padding="0..2", dilation="1" if layer == "avgpool" else "1..2", ceil_mode=ceil
    )
    found = list(itertools.islice(solutions(pb), 200))
    assume(found)
    sol = data.draw(st.sampled_from(found))
    k, s, p, d = sol[:4]
    nn = torch.nn
    if layer == "conv":
        module = nn.Conv1d(1, 1, k, s, p, d)
    elif layer == "conv_transpose":
        module = nn.ConvTranspose1d(1, 1, k, s, p, output_padding=sol[4], dilation=d)
    elif layer == "maxpool":
        module = nn.MaxPool1d(k, s, p, d, ceil_mode=ceil)
    else:
        module = nn.AvgPool1d(k, s, p, ceil_mode=ceil)
    with torch.no_grad():
        assert module(torch.zeros(1, 1, n)).shape[-1] == m


# --- ranges and the CLI --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "values"),
    [
        ("5", [5]),
        ("1,3,5", [1, 3, 5]),
        ("0..4", [0, 1, 2, 3, 4]),
        ("1..3,7", [1, 2, 3, 7]),
        (" 2 .. 3 , 3..4", [2, 3, 4]),
    ],
)
def test_ranges(text: str, values: list[int]) -> None:
    assert list(Range.parse(text, "--x")) == values


@pytest.mark.parametrize("text", ["", "a", "-1", "1.5", "3..1", "1,,2", "..3", "1..", "1..2..3"])
def test_bad_ranges(text: str) -> None:
    with pytest.raises(RangeError):
        Range.parse(text, "--x")


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["--kernel", "3..1"], "reversed"),
        (["--kernel", "0..3"], "at least 1"),
        (["--stride", "-2"], "cannot read"),
        (["--padding", "1.5"], "cannot read"),
        (["--padding", ""], "cannot read"),
        (["--ceil"], "--ceil applies to maxpool and avgpool"),
        (["--output-padding", "1"], "conv_transpose only"),
        (["--layer", "avgpool", "--dilation", "2"], "avgpool has no dilation"),
        (["--layer", "conv_transpose", "--exact"], "--exact applies"),
        (["--out", "0"], "positive"),
        (["--out", "4,4"], "one size"),
        (["--layer", "pool"], "pool"),
    ],
)
def test_bad_flags_exit_2(run, args: list[str], fragment: str) -> None:
    base = ["solve", "--in", "64", "--out", "4"]
    result = run(*base, *args)
    assert result.exit_code == 2, result.output
    assert fragment in result.stderr
    assert "Traceback" not in result.output


def test_missing_in(run) -> None:
    result = run("solve", "--out", "4")
    assert result.exit_code == 2
    assert "--in" in result.stderr


@pytest.mark.parametrize(
    ("layer", "ceil"),
    [(layer, False) for layer in ("conv", "maxpool", "avgpool", "conv_transpose")]
    + [("maxpool", True), ("avgpool", True)],
)
def test_count_equals_the_listed_solutions_in_every_format(run, layer: str, ceil: bool) -> None:
    args = ["solve", "--in", "20", "--out", "6", "--layer", layer, "--padding", "0..2"]
    args += ["--ceil"] if ceil else []
    counted = int(run(*args, "--count", "--format", "csv").stdout)
    rows = list(csv.reader(io.StringIO(run(*args, "--format", "csv").stdout)))
    report = json.loads(run(*args, "--format", "json").stdout)
    assert counted == len(rows) - 1 == report["count"] == len(report["solutions"])
    expected = brute(
        layer,
        20,
        6,
        range(1, 60),
        range(1, 60),
        range(3),
        [1],
        range(0, 60) if layer == "conv_transpose" else (0,),
        ceil,
    )
    assert [tuple(map(int, r)) for r in rows[1:]] == expected
    assert rows[0][:4] == ["kernel_size", "stride", "padding", "dilation"]
    table = run(*args).stdout
    assert table.splitlines()[0].endswith(f"{counted:,} solutions")


def test_table_groups_by_padding_and_dilation(run) -> None:
    result = run("solve", "--in", "64", "--out", "4", "--padding", "0..2", "--dilation", "1..2")
    assert result.exit_code == 0
    heads = [line for line in result.stdout.splitlines() if line.startswith("padding ")]
    assert heads == [f"padding {p}, dilation {d}" for d in (1, 2) for p in (0, 1, 2)]
    # the seed's (a), k = 49 with s = 5: its row in the first group lists every stride for k = 49
    first_group = result.stdout.split("padding 1, dilation 1")[0]
    strides = [s for k, s, _, _ in brute("conv", 64, 4, [49], range(1, 70), [0], [1])]
    assert 5 in strides
    assert f"      49  {strides[0]}..{strides[-1]}\n" in first_group


def test_limit_and_count(run) -> None:
    listed = run("solve", "--in", "64", "--out", "4", "--limit", "5", "--format", "json")
    report = json.loads(listed.stdout)
    assert report["count"] == 171 and len(report["solutions"]) == 5
    assert "first 5 shown" in run("solve", "--in", "64", "--out", "4", "--limit", "5").stdout
    counted = json.loads(
        run("solve", "--in", "64", "--out", "4", "--count", "--format", "json").stdout
    )
    assert counted["count"] == 171 and "solutions" not in counted


def test_no_gaps_and_exact(run) -> None:
    rows = run("solve", "--in", "64", "--out", "4", "--no-gaps", "--exact", "--format", "csv")
    sols = [tuple(map(int, r.split(","))) for r in rows.stdout.split()[1:]]
    expected = [
        (k, s, p, d)
        for k, s, p, d in brute("conv", 64, 4, range(1, 70), range(1, 70), [0], [1])
        if s <= k and (64 - k) % s == 0
    ]
    assert sols == expected and expected  # e.g. (49, 5): 64 − 49 = 15 = 3·5


def test_unbounded_cases_say_which_bound_applied(run) -> None:
    out1 = json.loads(run("solve", "--in", "10", "--out", "1", "--format", "json").stdout)
    assert any("--out 1" in note for note in out1["notes"])
    t1 = json.loads(
        run(
            "solve", "--in", "1", "--out", "5", "--layer", "conv_transpose", "--format", "json"
        ).stdout
    )
    assert any("--in 1" in note for note in t1["notes"])
    assert all("output_padding" in s for s in t1["solutions"])


@pytest.mark.full
def test_solve_needs_neither_pydantic_nor_yaml() -> None:
    """Nor a convention's rules, which the CLI's options never need (only their names)."""
    import subprocess
    import sys

    heavy = ("pydantic", "yaml", "convcalc.views.conventions.torchinfo")
    code = (
        "import sys; from convcalc.cli import main; sys.argv = ['convcalc'] + sys.argv[1:]\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        f"print(sorted(m for m in {heavy!r} if m in sys.modules))"
    )
    for args in (["solve", "--in", "64", "--out", "4", "--count"], ["--help"]):
        out = subprocess.run(
            [sys.executable, "-c", code, *args], capture_output=True, text=True, check=True
        ).stdout
        assert out.strip().splitlines()[-1] == "[]", args


@pytest.mark.full
def test_a_reader_that_stops_early_is_not_an_error() -> None:
    import subprocess
    import sys

    args = ["--in", "8192", "--out", "64", "--padding", "0..64", "--format", "csv"]
    with subprocess.Popen(
        [sys.executable, "-m", "convcalc", "solve", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    ) as proc:
        assert proc.stdout is not None and proc.stderr is not None
        assert proc.stdout.readline() == b"kernel_size,stride,padding,dilation\n"
        proc.stdout.close()  # like `| head -1`
        assert proc.wait(timeout=60) == 0
        assert proc.stderr.read() == b""


# --- --explain -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("padding", "dilation", "kernel", "reduced"),
    [(0, 1, 49, 15), (2, 2, 27, 15), (1, 1, 51, 15)],  # the seed: 64 − k, 69 − 2k, 66 − k
)
def test_explain_works_the_seed_equations(run, padding, dilation, kernel, reduced) -> None:
    args = ["solve", "--in", "64", "--out", "4", "--padding", str(padding)]
    result = run(*args, "--dilation", str(dilation), "--kernel", str(kernel), "--explain")
    assert result.exit_code == 0
    text = result.output
    assert f"⌊{reduced} / s⌋ = 3 ⇔ {reduced}/4 < s ≤ {reduced}/3 ⇔ 4 ≤ s ≤ 5" in text
    assert "why no others" in text and "(the listing is cut short)" not in text


SEED_EXPLAINED = ("solve", "--in", "64", "--out", "4", "--padding", "0..2", "--dilation", "1..2")


def test_explain_in_markdown_lists_the_table_rows_with_their_equations(run) -> None:
    """Markdown: a section per (padding, dilation) and an item per kernel, the same rows as
    the table's, each with the seed's equation; then the bounds argument."""
    table = run(*SEED_EXPLAINED, "--explain").output
    markdown = run(*SEED_EXPLAINED, "--explain", "--format", "markdown")
    assert markdown.exit_code == 0
    text = markdown.output
    rows = re.findall(r"^\s+(\d+)  ([\d., ]+)$", table, re.MULTILINE)
    items = re.findall(r"^- kernel \*\*(\d+)\*\*, strides ([\d., ]+): `(.*)`$", text, re.MULTILINE)
    assert [(k, s) for k, s, _ in items] == rows and len(rows) > 10
    # the seed's three families: 64 − k, 69 − 2k and 66 − k reduce to 15 at 49, 27 and 51
    for k, reduced in (("49", 15), ("27", 15), ("51", 15)):
        worked = [eq for kernel, _, eq in items if kernel == k]
        assert any(f"⌊{reduced} / s⌋ = 3 ⇔ {reduced}/4 < s ≤ {reduced}/3" in eq for eq in worked)
    assert text.startswith("# conv: 64 → 4: ")
    assert "\n## padding 2, dilation 2\n" in text and "\n## Why no others\n" in text


def test_explain_in_latex(run) -> None:
    """LaTeX: each kernel an item with its equation as math, the listing's words as text."""
    result = run(
        "solve", "--in", "64", "--out", "4", "--kernel", "49", "--explain", "--format", "latex"
    )
    assert result.exit_code == 0
    text = result.output
    assert text.startswith("\\documentclass{article}") and text.endswith("\\end{document}\n")
    assert "\\item kernel 49, strides 4..5\\\\\n" in text
    assert "\\lfloor 15 / s\\rfloor  = 3 \\Leftrightarrow  15/4 < s \\leq  15/3" in text
    assert "\\subsection*{Why no others}" in text


@pytest.mark.full
@needs_pdflatex
@pytest.mark.parametrize(
    "args",
    [
        SEED_EXPLAINED,
        ("solve", "--in", "100", "--out", "9", "--layer", "maxpool", "--ceil", "--padding", "0..3"),
        ("solve", "--in", "7", "--out", "20", "--layer", "conv_transpose", "--padding", "0..1"),
        ("solve", "--in", "64", "--out", "4", "--exact", "--no-gaps", "--limit", "5"),
        ("solve", "--in", "5", "--out", "1"),  # notes on the infinite set
        ("solve", "--in", "1", "--out", "7", "--layer", "conv_transpose"),
        ("solve", "--in", "2000", "--out", "1"),  # cut after 1,000 rows, and says so
    ],
)
def test_explain_latex_compiles(run, tmp_path, args: tuple[str, ...]) -> None:
    compiles(run(*args, "--explain", "--format", "latex").output, tmp_path)


def test_latex_lines_set_formulas_as_math_and_words_as_text() -> None:
    line = "so k ≤ ⌊(64 + 2·2 − 1) / 2⌋ + 1 = 34 for each kernel's strides; --no-gaps (give a p)"
    assert tex_inline(line) == (
        r"so $k \leq  \lfloor (64 + 2\cdot 2 - 1) / 2\rfloor  + 1 = 34$ for each kernel's "
        r"strides; \texttt{-{}-{}no-{}gaps} (give a $p$)"
    )


def test_explain_formats_need_explain(run) -> None:
    for fmt in ("text", "markdown", "latex"):
        result = run("solve", "--in", "64", "--out", "4", "--format", fmt)
        assert result.exit_code == 2
        assert f"--format {fmt} is for a single layer's --explain" in result.stderr
        result = run("solve", "hw3-q3", "--out", "4", "--format", fmt)
        assert result.exit_code == 2
        assert f"--format {fmt} is for a single layer's --explain" in result.stderr
    result = run("solve", "--in", "64", "--out", "4", "--explain", "--format", "csv")
    assert result.exit_code == 2 and "not with --format csv" in result.stderr
    result = run("solve", "--in", "64", "--out", "4", "--explain", "--count", "--format", "latex")
    assert result.exit_code == 2 and "not with --count" in result.stderr


def _interval(text: str, top: int) -> set[int]:
    """The strides an explanation states: ``a ≤ s ≤ b``, ``s = a``, or ``s ≥ a`` (up to top)."""
    tail = text.split(" ⇔ ")[-1].split(",")[0]
    found: set[int] = set()
    for part in tail.split(" or "):
        if m := re.fullmatch(r"(\d+) ≤ s ≤ (\d+)", part):
            found |= set(range(int(m[1]), int(m[2]) + 1))
        elif m := re.fullmatch(r"s = (\d+)", part):
            found.add(int(m[1]))
        elif m := re.fullmatch(r"s ≥ (\d+)", part):
            found |= set(range(int(m[1]), top + 1))
    return found


@given(
    layer=layers,
    n=st.integers(1, 30),
    m=st.integers(2, 10),
    p=st.integers(0, 2),
    d=st.integers(1, 2),
    ceil=st.booleans(),
)
def test_each_explained_row_states_exactly_its_strides(layer, n, m, p, d, ceil) -> None:
    """The interval each row's equation solves to is the brute force's set of strides for
    that kernel (within the searched strides), and substituting a listed stride into the
    equation with numbers gives M."""
    ceil = ceil and layer in ("maxpool", "avgpool")
    d = 1 if layer == "avgpool" else d
    pb = problem(layer, n, m, padding=str(p), dilation=str(d), ceil_mode=ceil)
    ops = range(0, 40) if layer == "conv_transpose" else (0,)
    expected: dict[int, set[int]] = {}
    for sol in brute(layer, n, m, pb.kernel_size, pb.stride, [p], [d], ops, ceil):
        expected.setdefault(sol[0], set()).add(sol[1])
    for k, strides in expected.items():
        text = why(pb, k, p, d)
        stated = _interval(text, pb.stride.hi)
        assert {s for s in stated if s in pb.stride} == strides, text
        if layer != "conv_transpose" and not ceil:
            equation = text.split(" ⇔ ")[0]
            left, right = equation.rsplit(" = ", 1)
            for s in strides:
                assert evaluate(left.replace("s⌋", f"{s}⌋")) == int(right)


# --- a listing without --limit stops after 1,000 rows ----------------------------------------

BILLION = 10**9
LEFT_OUT = re.compile(
    r"listing cut after ([\d,]+) (rows?|strides): (?:at least )?([\d,]+) more solutions"
)


def _table_rows(text: str) -> list[tuple[str, str]]:
    """A table's rows as (kernel, strides) cells."""
    return re.findall(r"^ {2}\s*(\d[\d.]*) {2}(\d.*)$", text, flags=re.MULTILINE)


def _cut_note(text: str) -> tuple[int, str, int]:
    found = LEFT_OUT.search(text)
    assert found is not None, text[-500:]
    return int(found[1].replace(",", "")), found[2], int(found[3].replace(",", ""))


def test_a_billion_to_one_lists_1000_rows_and_says_what_it_left_out(run) -> None:
    """conv 10⁹ → 1: PyTorch's ⌊(N − k)/s⌋ + 1 = 1 ⇔ s > N − k, so kernel k takes the k
    strides N − k + 1..N of the searched 1..N, N(N + 1)/2 solutions in all. Without --limit
    the listing stops after 1,000 rows (table: kernels 1..1000, Σk = 500,500 solutions;
    CSV and JSON: 1,000 solutions) and its last line says how many it left out."""
    n, total = BILLION, BILLION * (BILLION + 1) // 2
    table = run("solve", "--in", str(n), "--out", "1")
    assert table.exit_code == 0
    rows = _table_rows(table.stdout)
    assert [int(k) for k, _ in rows] == list(range(1, 1001))
    for k, strides in rows[::111] + rows[-1:]:
        lo, hi = (int(v) for v in (strides.split("..") * 2)[:2])
        assert (lo, hi) == (n - int(k) + 1, n)
        assert out_size("conv", n, int(k), lo, 0, 1) == 1 == out_size("conv", n, int(k), hi, 0, 1)
        assert out_size("conv", n, int(k), lo - 1, 0, 1) != 1
    assert table.stdout.splitlines()[-1].startswith("… listing cut after 1,000 rows")
    assert _cut_note(table.stdout) == (1000, "rows", total - 500_500)
    assert "--limit N" in table.stdout.splitlines()[-1]

    listed = run("solve", "--in", str(n), "--out", "1", "--format", "csv")
    lines = listed.stdout.splitlines()
    assert len(lines) == 1 + 1000 and lines[0] == "kernel_size,stride,padding,dilation"
    assert all(out_size("conv", n, *map(int, line.split(","))) == 1 for line in lines[1:])
    assert _cut_note(listed.stderr) == (1000, "rows", total - 1000)

    report = json.loads(run("solve", "--in", str(n), "--out", "1", "--format", "json").stdout)
    assert report["count"] == total and len(report["solutions"]) == 1000
    assert report["listed"] == 1000 and report["listing_complete"] is False
    assert _cut_note(report["note"]) == (1000, "rows", total - 1000)
    assert list(report)[-4:] == ["solutions", "listed", "listing_complete", "note"]


def test_a_cut_explanation_says_so_before_why_no_others(run) -> None:
    args = ("solve", "--in", str(BILLION), "--out", "1", "--explain")
    text = run(*args, "--format", "markdown").stdout
    note = text.index("… listing cut after 1,000 rows")
    assert note < text.index("## Why no others (the listing is cut short)")
    assert text.count("\n- kernel **") == 1000


@pytest.mark.full
def test_a_cut_explanation_in_latex_says_so(run) -> None:
    args = ("solve", "--in", str(BILLION), "--out", "1", "--explain", "--format", "latex")
    latex = run(*args).stdout
    assert latex.count("\\item kernel ") == 1000 and "listing cut after $1,000$ rows" in latex
    assert latex.index("listing cut after") < latex.index("Why no others (the listing is cut")


def test_the_default_cut_against_brute_force(run) -> None:
    """conv 1000 → 1 with kernels 999..1000, every (k, s) tried by PyTorch's formula: 1,999
    solutions, the CSV lists the first 1,000 and says 999 were left out; kernel 1000 alone
    has exactly 1,000 (listed whole, nothing said); --limit 1500 lists 1,500, unsaid."""
    n = 1000
    expected = [
        (k, s, 0, 1)
        for k in (999, 1000)
        for s in range(1, n + 1)
        if out_size("conv", n, k, s, 0, 1) == 1
    ]
    assert len(expected) == 1999

    def csv_rows(*extra: str) -> tuple[list[tuple[int, ...]], str]:
        result = run("solve", "--in", str(n), "--out", "1", "--format", "csv", *extra)
        rows = [tuple(map(int, line.split(","))) for line in result.stdout.splitlines()[1:]]
        return rows, result.stderr

    rows, note = csv_rows("--kernel", "999..1000")
    assert rows == expected[:1000] and _cut_note(note) == (1000, "rows", 999)
    rows, note = csv_rows("--kernel", "999..1000", "--limit", "1500")
    assert rows == expected[:1500] and note == ""
    rows, note = csv_rows("--kernel", "1000")
    assert rows == [r for r in expected if r[0] == 1000] and len(rows) == 1000 and note == ""
    whole = json.loads(
        run("solve", "--in", str(n), "--out", "1", "--kernel", "1000", "--format", "json").stdout
    )
    assert len(whole["solutions"]) == 1000 and "listed" not in whole and "note" not in whole
    table = run("solve", "--in", str(n), "--out", "1", "--kernel", "999..1000").stdout
    assert _table_rows(table) == [("999", "2..1000"), ("1000", "1..1000")]
    assert "listing cut" not in table


def test_an_explicit_limit_beyond_the_default_lists_that_many(run) -> None:
    args = ("solve", "--in", str(BILLION), "--out", "1", "--limit", "1500")
    lines = run(*args, "--format", "csv").stdout.splitlines()[1:]
    assert len(lines) == 1500
    assert all(out_size("conv", BILLION, *map(int, line.split(","))) == 1 for line in lines)
    table = run(*args).stdout
    assert "first 1,500 shown" in table.splitlines()[0] and "listing cut" not in table
    # kernels 1..54 hold Σk = 1,485 solutions, kernel 55 the first 15 of its 55 strides
    assert _table_rows(table)[-1] == ("55", f"{BILLION - 54}..{BILLION - 40}")
    report = json.loads(run(*args, "--format", "json").stdout)
    assert len(report["solutions"]) == 1500 and "listing_complete" not in report


def test_keras_same_without_gaps_over_a_wide_stride_interval_is_cut(run) -> None:
    """Keras' same, ⌈N/s⌉ = 2 for N = 2^63 − 1: s in ⌈N/2⌉..N − 1, with --no-gaps s ≤ k:
    kernel k ≥ ⌈N/2⌉ takes ⌈N/2⌉..min(k, N − 1), one row each (~4.6·10¹⁸ rows)."""
    n = 2**63 - 1
    args = ("solve", "--framework", "keras", "--in", str(n), "--out", "2", "--padding", "same")
    table = run(*args, "--no-gaps").stdout
    rows = _table_rows(table)
    assert len(rows) == 1000 and _cut_note(table)[:2] == (1000, "rows")
    half = -(-n // 2)
    for k, strides in rows[:3] + rows[-1:]:
        lo, hi = (int(v) for v in (strides.split("..") * 2)[:2])
        assert (lo, hi) == (half, int(k)) and -(-n // lo) == 2 == -(-n // hi) != -(-n // (lo - 1))
    listed = run(*args, "--no-gaps", "--format", "csv")
    assert len(listed.stdout.splitlines()) == 1001 and _cut_note(listed.stderr)[:2] == (
        1000,
        "rows",
    )


@pytest.mark.full
def test_keras_conv_transpose_same_with_an_output_padding_is_cut(run) -> None:
    """Keras' ConvTranspose same with output_padding: (N − 1)·s + k − 2·⌊k/2⌋ + op (op < s),
    one row per kernel with its (stride, output_padding)."""
    n, m = 10**6, 2 * 10**6
    args = ("solve", "--layer", "conv_transpose", "--framework", "keras", "--in", str(n))
    table = run(*args, "--out", str(m), "--padding", "same", "--output-padding", "0..1").stdout
    rows = _table_rows(table)
    assert len(rows) == 1000 and "listing cut after 1,000 rows" in table.splitlines()[-1]
    for k, cells in rows:
        for s, op in re.findall(r"(\d+) \((\d+)\)", cells):
            k_, s_, op_ = int(k), int(s), int(op)
            assert op_ < s_ and (n - 1) * s_ + k_ - 2 * (k_ // 2) + op_ == m


def test_a_search_past_its_budget_after_the_rows_ends_the_listing(monkeypatch) -> None:
    """The search for row 1,001 spends the listing's budget like any other: where it runs out
    (here a stand-in search: 1,000 one-solution rows, then WorkLimit) the listing ends with
    its note instead of an error; before the 1,000th row the error stands."""
    from convcalc.solve import format as solve_format
    from convcalc.solve.layer import Block, Tally

    def search(rows: int):
        def blocks(pb, limit=None):
            yield from (Block(k, k, 0, 1, 7, 7, 0) for k in range(1, rows + 1))
            raise WorkLimit("the search passed 100,000 steps: narrow the ranges")

        return blocks

    monkeypatch.setattr(solve_format, "tally", lambda pb: Tally(1000, False, 100_000))
    pb = problem("conv", 64, 4)
    monkeypatch.setattr(solve_format, "blocks", search(1000))
    for fmt in ("table", "csv", "json"):
        out: list[str] = []
        note = solve_format.write(out.append, pb, fmt, listing=True, limit=None)
        assert "listing cut after 1,000 rows: perhaps more solutions" in "".join(out) + str(note)
    monkeypatch.setattr(solve_format, "blocks", search(999))
    with pytest.raises(WorkLimit):
        solve_format.write([].append, pb, "table", listing=True, limit=None)


def test_the_library_returns_csv_s_note_and_the_cli_writes_it_on_stderr(run, capfd) -> None:
    """conv 2,000 → 1: kernel k takes the strides 2,001 − k..2,000 (⌊(N − k)/s⌋ + 1 = 1 ⇔
    s > N − k), N(N + 1)/2 = 2,001,000 solutions. The library writes only through ``write``:
    CSV's note (1,000 rows listed, 2,000,000 left out) is returned, nothing reaches the
    process's standard error; the CLI writes it there, the rows on standard output."""
    from convcalc.solve import format as solve_format

    n, total = 2000, 2000 * 2001 // 2
    out: list[str] = []
    note = solve_format.write(out.append, problem("conv", n, 1), "csv", listing=True, limit=None)
    assert capfd.readouterr() == ("", "")
    lines = "".join(out).splitlines()
    assert len(lines) == 1 + 1000 and note is not None and note.startswith("note: ")
    assert all(out_size("conv", n, *map(int, line.split(","))) == 1 for line in lines[1:])
    assert _cut_note(note) == (1000, "rows", total - 1000) and "\n" not in note
    for fmt in ("table", "json"):
        assert (
            solve_format.write([].append, problem("conv", n, 1), fmt, listing=True, limit=None)
            is None
        )
    cli = run("solve", "--in", str(n), "--out", "1", "--format", "csv")
    assert cli.stdout.splitlines() == lines and cli.stderr == note + "\n"


def test_the_cells_cap_cuts_inside_a_row_or_between_rows(monkeypatch) -> None:
    """A stand-in search: kernel 1's row of ``cells`` one-stride blocks, then kernel 2's one,
    under a cap of 10 cells (the default 100,000, made small). At exactly the cap row 1 is
    whole and the cut falls between rows (counted in rows); one cell more and row 1 itself is
    cut, ending in "…" (counted in strides)."""
    from convcalc.solve import format as solve_format
    from convcalc.solve.layer import Block, Tally

    def search(cells: int):
        def blocks(pb, limit=None):
            yield from (Block(1, 1, 0, 1, s, s, 0) for s in range(1, cells + 1))
            yield Block(2, 2, 0, 1, 1, 1, 0)

        return blocks

    pb = problem("conv", 64, 4)
    monkeypatch.setattr(solve_format, "CELLS", 10)
    for cells, shown, cut in (
        (10, 10, "cut after 1 row: 1 more solution not"),
        (11, 11, "cut after 10 strides: 2 more solutions"),
    ):
        monkeypatch.setattr(solve_format, "tally", lambda pb, t=cells + 1: Tally(t, True, 1))
        monkeypatch.setattr(solve_format, "blocks", search(cells))
        out: list[str] = []
        solve_format.write(out.append, pb, "table", listing=True, limit=None)
        rows = _table_rows("".join(out))
        assert rows == [("1", ", ".join([*map(str, range(1, 11)), "…"][:shown]))]
        assert cut in "".join(out)


@pytest.mark.full
def test_a_table_row_ending_at_the_cells_cap_is_cut_between_rows(run) -> None:
    """conv_transpose 2 → 200,001: (2 − 1)·s + (k − 1) + op + 1 = M with op < s, so kernel
    1 takes s = 100,001..200,000 and kernel 2 s = 100,000..199,999 (brute force over s, op
    derived and checked): 200,000 solutions, each kernel's row 100,000 cells. Row 1 ends at
    exactly the 100,000-cell cap: it is whole (no "…") and the listing is cut between rows,
    counted in rows, with the 100,000 solutions of kernel 2 left out."""
    m = 200_001
    found = {1: [], 2: []}  # kernel: [(stride, output_padding)]
    for k, s in itertools.product((1, 2), range(1, m)):
        op = m - out_size("conv_transpose", 2, k, s, 0, 1, 0)
        if 0 <= op < s and out_size("conv_transpose", 2, k, s, 0, 1, op) == m:
            found[k].append((s, op))
    assert [len(v) for v in found.values()] == [100_000, 100_000]
    result = run(
        "solve", "--layer", "conv_transpose", "--in", "2", "--out", str(m), "--kernel", "1..2"
    )
    assert result.stdout.splitlines()[0].endswith(": 200,000 solutions")
    rows = _table_rows(result.stdout)
    assert len(rows) == 1 and rows[0][0] == "1" and not rows[0][1].endswith("…")
    cells = [(int(s), int(op)) for s, op in re.findall(r"(\d+) \((\d+)\)", rows[0][1])]
    assert cells == found[1]
    assert _cut_note(result.stdout) == (1, "row", len(found[2]))
    assert "cut after 1 row: 100,000 more solutions not listed" in result.stdout


@pytest.mark.full
def test_a_table_row_of_100000_strides_is_cut_inside(run) -> None:
    """conv_transpose 2 → 300,001, kernel 1: (2 − 1)·s + op + 1 = M for each s ≥ M/2 (op <
    s), 150,000 strides on one row: the row stops at 100,000 cells, ending in "…"."""
    m = 300_001
    result = run("solve", "--layer", "conv_transpose", "--in", "2", "--out", str(m))
    rows = _table_rows(result.stdout)
    assert rows[0][0] == "1" and len(rows) == 1 and rows[0][1].endswith(", …")
    cells = re.findall(r"(\d+) \((\d+)\)", rows[0][1])
    assert len(cells) == 100_000
    assert all(out_size("conv_transpose", 2, 1, int(s), 0, 1, int(op)) == m for s, op in cells)
    assert _cut_note(result.stdout)[:2] == (100_000, "strides")
