"""``convcalc solve SPEC --input 3,1..100000000,1..100000000``: a range of any length cuts the
closed form without listing it, the conditions' products are written with their parentheses,
and CSV cells are quoted by the csv module.

The oracles: PyTorch's modules on the meta device (the smallest accepted size found by trying
every size up to 40, and the sizes at the range's top run), counts worked by hand from those
ends, brute force over small sets for the cut sets' arithmetic, and Python's ``csv`` reader.
"""

from __future__ import annotations

import csv
import io
import json
import re
from dataclasses import replace
from types import SimpleNamespace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from convcalc.solve.sizes import SizeSet, Within
from tests.budget import examples
from tests.test_solve_input_cli import VGG, accepts, vgg_model

TOP = 100_000_000
BIG = f"1..{TOP}"


@pytest.mark.torch
def test_vgg_and_resnet18_over_a_hundred_million_sizes(run) -> None:
    """The VGG-style net's smallest size, from PyTorch, is 8 and its largest asked 10⁸ runs:
    (10⁸ − 8 + 1)² pairs. ResNet-18 runs at 1 and at 10⁸ in each dimension: 10¹⁶ pairs."""
    from tests.independent import zoo_model

    model = vgg_model()
    least = min(n for n in range(1, 41) if accepts(model, (3, n, 40)))
    assert least == 8 and accepts(model, (3, TOP, TOP)) and accepts(model, (3, least, TOP))
    result = run("solve", VGG, "--input", f"3,{BIG},{BIG}")
    assert result.exit_code == 0, result.stderr
    count = (TOP - least + 1) ** 2
    assert result.stdout.splitlines()[1] == (
        f"within H {BIG} · W {BIG}: {least} ≤ H ≤ {TOP} and {least} ≤ W ≤ {TOP}, {count:,} sizes"
    )
    asked = ("solve", VGG, "--input", f"3,{BIG},{BIG}", "--format", "json")
    data = json.loads(run(*asked, "--count").stdout)
    assert data["count"] == data["within"]["count"] == count and "solutions" not in data
    refused = run(*asked)  # one JSON document cannot hold 10¹⁶ tuples: said, not tried
    assert refused.exit_code == 2 and "too many to list in one JSON document" in refused.output
    resnet, _ = zoo_model("resnet18")
    resnet.eval()
    assert all(accepts(resnet, (3, h, w)) for h, w in [(1, 1), (TOP, 1), (1, TOP)])
    result = run("solve", "resnet18", "--input", f"3,{BIG},{BIG}")
    assert result.exit_code == 0, result.stderr
    assert f", {TOP**2:,} sizes" in result.stdout


@pytest.mark.torch
@pytest.mark.full
def test_unet_over_a_hundred_million_sizes(run) -> None:
    """The U-Net runs at the multiples of 16 (PyTorch, small sizes and at the top): the last
    below 10⁸ is 99,999,984 (the sizes above it refused), 6,250,000 per dimension."""
    from tests.independent import zoo_model

    model, _ = zoo_model("unet")
    model.eval()
    assert [h for h in range(1, 49) if accepts(model, (3, h, 16))] == [16, 32, 48]
    top = [h for h in range(TOP - 16, TOP + 1) if accepts(model, (3, h, 16))]
    assert top == [99_999_984, TOP]
    per_dim = sum(1 for _ in range(16, TOP + 1, 16))
    result = run("solve", "unet", "--input", f"3,{BIG},1..{TOP - 1}", "--near", f"{TOP - 1}")
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[1] == (
        f"within H {BIG} · W 1..{TOP - 1}: H ∈ {{16, 32, …, {TOP}}} and "
        f"W ∈ {{16, 32, …, 99999984}}, {per_dim * (per_dim - 1):,} sizes"
    )
    assert f"nearest to {TOP - 1}×{TOP - 1}: 99999984×99999984 below, none above" in lines


@pytest.mark.torch
@pytest.mark.full
def test_a_listing_streams_from_a_large_range(run) -> None:
    """The first tuples of 10¹⁶ listed at once, the ones PyTorch runs, in order."""
    model = vgg_model()
    rows = run(
        "solve", VGG, "--input", f"3,{TOP - 2}..{TOP},{BIG}", "--format", "csv", "--limit", "4"
    ).stdout.splitlines()
    tried = [(h, w) for h in range(TOP - 2, TOP + 1) for w in range(1, 13)]
    expected = [p for p in tried if accepts(model, (3, *p))][:4]
    assert [tuple(map(int, r.split(",")[:2])) for r in rows[1:]] == expected


# --- the cut sets, against brute force -----------------------------------------------------


@st.composite
def cut_sets(draw: st.DrawFn) -> tuple[SizeSet, tuple[tuple[int, int], ...]]:
    period = draw(st.integers(1, 12))
    residues = draw(st.sets(st.integers(0, period - 1)))
    threshold = draw(st.integers(1, 30))
    below = draw(st.sets(st.integers(1, 30)))
    sizes = SizeSet.build(
        lambda n: n in below if n < threshold else n % period in residues, threshold, period
    )
    cuts = sorted(draw(st.sets(st.integers(1, 200), min_size=2, max_size=6)))
    spans = tuple((a, b - 1) for a, b in zip(cuts[::2], cuts[1::2], strict=False) if b > a)
    return sizes, spans or ((1, 1),)


@settings(max_examples=examples(400), deadline=None)
@given(cut_sets(), st.integers(0, 210))
def test_cut_sets_match_brute_force(case: tuple[SizeSet, tuple[tuple[int, int], ...]], n: int):
    sizes, spans = case
    members = [m for lo, hi in spans for m in range(lo, hi + 1) if m in sizes]
    cut = Within(sizes, spans)
    assert list(cut) == members and cut.count() == len(members)
    assert bool(cut) == bool(members)
    assert cut.next_from(n) == min((m for m in members if m >= n), default=None)
    assert cut.last_to(n) == max((m for m in members if m <= n), default=None)
    assert cut.upto(n) == [m for m in members if m <= n]
    assert (n in cut) == (n in members)
    if len(members) <= 64:  # few: written as its members, which the parser reads back
        assert list(SizeSet.parse(cut.describe("H"))) == members


def test_a_cut_of_ten_to_the_eighth_costs_its_residues() -> None:
    """The multiples of 16 up to 10⁸, counted as ⌊10⁸ / 16⌋, and the text of the rest."""
    sixteen = SizeSet.progression(0, 16, 16)
    cut = Within(sixteen, ((1, TOP),))
    assert cut.count() == TOP // 16 and cut.largest() == TOP and cut.smallest() == 16
    lower = SizeSet.build(lambda n: n % 16 < 8, 1, 16)
    cut = Within(lower, ((9, TOP),))
    assert cut.count() == sum(len(range(9 + (r - 9) % 16, TOP + 1, 16)) for r in range(8))
    assert cut.describe("H").endswith(", 16 ≤ H ≤ 100000000")


# --- the products' parentheses -------------------------------------------------------------


def evaluate(product: str, h: int, w: int) -> int:
    """A product as convcalc writes it, evaluated by Python: ⌊a / b⌋ as (a) // (b)."""
    text = product.replace("·", "*").replace("−", "-").replace("H", str(h)).replace("W", str(w))
    text = re.sub(r"⌊([^⌋]*) / (\d+)⌋", r"((\1) // \2)", text)
    return int(eval(text, {"__builtins__": {}}))


def test_the_product_is_written_with_its_parentheses(run) -> None:
    """LeNet-5's linear: (⌊H/4⌋ − 3)·(⌊W/4⌋ − 3) = 25 (16·H'·W' = 400 by hand); the text the
    table and the JSON write, evaluated, is that product at every size."""
    table = run("solve", "lenet5", "--input", "1,?,?").stdout.splitlines()
    meet = next(line for line in table if line.startswith("the dimensions meet: "))
    shown, _, value = meet.removeprefix("the dimensions meet: ").rpartition(" = ")
    assert value == "25"
    data = json.loads(run("solve", "lenet5", "--input", "1,?,?", "--format", "json").stdout)
    (product,) = data["accepted"]["products"]
    assert product["product"] == shown
    for h, w in [(16, 112), (33, 35), (50, 77), (200, 20)]:
        assert evaluate(shown, h, w) == (h // 4 - 3) * (w // 4 - 3)


# --- CSV -----------------------------------------------------------------------------------


ODD = ['layers[0],"a"', "=1+1"]


def test_csv_labels_with_commas_and_quotes_read_back() -> None:
    """Labels holding a comma, a quote and a formula: Python's csv reader reads each back as
    one cell (the formula guarded by a leading quote), in both writers."""
    from convcalc.solve import inputs_format, stack
    from convcalc.solve.closed import answer, ask

    question = ask("hw3-q3", [3, "127..128", 128], stack.Target())
    assert question is not None
    dims = (replace(question.dims[0], label=ODD[0]), *question.dims[1:])
    found = answer(replace(question, dims=dims))
    assert not isinstance(found, inputs_format.MixedAnswer)
    out: list[str] = []
    inputs_format.write_csv(out.append, found, inputs_format.Options(fmt="csv"))
    rows = list(csv.reader(io.StringIO("".join(out))))
    assert rows[0] == [ODD[0], "output_shape"]
    assert [r[0] for r in rows[1:]] == ["127", "128"]

    result = SimpleNamespace(
        unknowns=[SimpleNamespace(label=label) for label in ODD],
        ranges={},
        target=stack.Target(),
        solutions=[((1, 2), (4, 5))],
        shape=lambda shape: shape,
    )
    out.clear()
    stack.write(out.append, result, "csv", True)  # type: ignore[arg-type]
    assert list(csv.reader(io.StringIO("".join(out)))) == [
        [ODD[0], "'" + ODD[1], "output_shape"],
        ["1", "2", "4x5"],
    ]
