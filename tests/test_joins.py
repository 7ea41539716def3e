"""The join ops of convcalc's merge blocks (convcalc.layers.blocks.JOINS) against PyTorch.

A graph joined by subtract, average, maximum or minimum: shapes and parameters per entry, and
refusals exactly where torch refuses (test_graph_block's interpreter, taught ``torch.sub``,
``(a + b) / 2``, ``torch.maximum``, ``torch.minimum``); a residual with ``join``: the op on
equal shapes, refused on shapes torch does not broadcast (tests/test_broadcast.py: those it
does). The PyTorch export runs
them (shapes and parameters per leaf, ruff-clean), and the four counting tools, run live on
the exported module, count what convcalc's conventions count for them: nothing for the join.
"""

from __future__ import annotations

import functools
import re
from pathlib import Path
from typing import Any

import pytest

from convcalc.analysis import analyse
from convcalc.errors import SpecError
from convcalc.layers.blocks import JOINS
from convcalc.spec.validate import load_spec

torch = pytest.importorskip("torch")

from tests.test_graph_block import JOIN, check, conv, graph, path, tool_counts  # noqa: E402

pytestmark = pytest.mark.torch

# the interpreter's joins, as torch computes them (the exported Graph's forward)
TORCH_JOINS = {
    "subtract": lambda outs: functools.reduce(torch.sub, outs),
    "average": lambda outs: functools.reduce(torch.add, outs) / len(outs),
    "maximum": lambda outs: functools.reduce(torch.maximum, outs),
    "minimum": lambda outs: functools.reduce(torch.minimum, outs),
}
for _name, _op in TORCH_JOINS.items():
    JOIN.setdefault(_name, _op)

NEW = tuple(TORCH_JOINS)


def test_the_table_names_every_join_a_block_takes() -> None:
    from convcalc.layers.blocks import Graph, Residual

    graph_joins = set(Graph.model_fields["join"].annotation.__args__)  # type: ignore[union-attr]
    residual_joins = set(Residual.model_fields["join"].annotation.__args__)  # type: ignore[union-attr]
    assert graph_joins == set(JOINS)
    assert residual_joins == set(JOINS) - {"concat"}
    assert all(op.macs == 0 for op in JOINS.values())


@pytest.mark.parametrize("join", NEW)
@pytest.mark.parametrize(
    ("widths", "refused"),
    [((4, 4, 4), False), ((4, 1), False), ((1, 4, 1), False), ((4, 3), True), ((2, 4), True)],
)
def test_graph_joins_against_torch(join: str, widths: tuple[int, ...], refused: bool) -> None:
    """Paths of 1×1 convs of the given widths, one reading another's output: torch
    broadcasts a width of 1 and refuses two different widths, and so must convcalc."""
    paths = [path("p0", conv(widths[0]))]
    paths += [
        path(f"p{i}", conv(w), source="p0" if i == 1 else None) for i, w in enumerate(widths[1:], 1)
    ]
    output = [f"p{i}" for i in range(len(widths))]
    got = check([3, 5, 5], [graph(join, *paths, output=output)])
    assert (got.refused is not None) == refused


@pytest.mark.parametrize("join", ["subtract", "multiply", "average", "maximum", "minimum"])
def test_residual_joins(join: str) -> None:
    """body ∘ shortcut on equal shapes as torch computes it; shapes torch does not broadcast
    refused with the join's verb."""
    body = [conv(3, 3, padding=1)]
    spec = {"input": [3, 6, 6], "layers": [{"type": "residual", "join": join, "body": body}]}
    report = analyse(load_spec(spec))
    x = torch.randn(1, 3, 6, 6)
    y = {
        "subtract": torch.sub,
        "multiply": torch.mul,
        "average": lambda a, b: (a + b) / 2,
        "maximum": torch.maximum,
        "minimum": torch.minimum,
    }[join](torch.nn.Conv2d(3, 3, 3, padding=1)(x), x)
    assert report.output_shape == tuple(y.shape[1:])
    assert report.total_params == 3 * 3 * 9 + 3
    spec["layers"][0]["body"] = [conv(4)]
    with pytest.raises(RuntimeError):  # 4 channels against 3
        _ = torch.nn.Conv2d(3, 4, 1)(x) + x
    verb = JOINS[join].verb
    with pytest.raises(SpecError, match=re.escape(f"to be {verb}, each dimension must be equal")):
        analyse(load_spec(spec))


def spec_of_every_join() -> dict[str, Any]:
    layers: list[dict[str, Any]] = [conv(4, 3, padding=1)]
    for join in NEW:
        layers.append(
            graph(join, path("a", conv(4)), path("b", conv(1), source="a"), path("c", conv(4)))
        )
        layers.append({"type": "residual", "join": join, "body": [conv(4, 3, padding=1)]})
    return {"name": "joins", "input": [3, 8, 8], "layers": layers}


def test_pytorch_round_trip_and_tool_counts(tmp_path: Path) -> None:
    """The export runs every join (torch.sub, (a + b) / 2, torch.maximum, torch.minimum):
    shapes and parameters per leaf; each tool counts the exported module as convcalc's
    convention of its name does."""
    from tests.test_export import check_ruff, round_trip

    spec = spec_of_every_join()
    report = analyse(load_spec(spec))
    generated = round_trip(report, tmp_path, layers=spec["layers"])
    check_ruff([generated.path], tmp_path / "cache")
    counts = tool_counts(generated.build(), tuple(report.input_shape))
    assert counts == {name: report.total_mult_adds(1, name) for name in counts}


@pytest.mark.parametrize(
    ("layers", "where", "field"),
    [
        ([{"type": "residual", "join": "divide", "body": []}], "layers[0]", "join"),
        ([graph("max", path("a"))], "layers[0]", "join"),
    ],
)
def test_an_unknown_join_is_refused_at_its_field(
    layers: list[dict[str, Any]], where: str, field: str
) -> None:
    with pytest.raises(SpecError) as caught:
        load_spec({"input": [3, 4, 4], "layers": layers})
    assert caught.value.path == where and caught.value.field == field
