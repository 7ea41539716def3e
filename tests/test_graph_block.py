"""The graph block against PyTorch: named paths, each on the block's input or on an earlier
path's output, joined by add, multiply (broadcast) or concat.

The oracles are PyTorch itself: a small interpreter (test_torch_blocks' one, taught the graph
here: each path run on x or on the output of the path it names, then ``+``, ``*`` or
``torch.cat`` of the joined outputs) runs random graphs on a batch of two, and convcalc must
agree on every entry's path, output shape and parameters, and refuse exactly where torch
refuses, at the same path; torchvision's own ``LRASPPHead`` on small widths; brute force for
the receptive field (the support of an output position's gradient); the four counting tools
and FlopCounterMode run live on the exported module. Malformed graphs are refused at load with
the file, line, layer and field.
"""

from __future__ import annotations

import contextlib
import functools
import io
import json
import logging
import operator
import os
import warnings
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import convcalc
from convcalc.analysis import LayerRefusal, analyse, summarise
from convcalc.errors import SpecError
from convcalc.spec.validate import load_spec
from tests.budget import examples
from tests.test_fuzz import values
from tests.test_torch_blocks import (
    Interpreter,
    Outcome,
    TorchRefused,
    convcalc_outcome,
    stacks,
)

torch = pytest.importorskip("torch")
nn = torch.nn

pytestmark = pytest.mark.torch

Layer = dict[str, Any]


def conv(out: int, k: int = 1, **more: Any) -> Layer:
    return {"type": "conv", "out_channels": out, "kernel_size": k, **more}


def graph(join: str, *paths: Layer, output: list[str] | None = None) -> Layer:
    block: Layer = {"type": "graph", "join": join, "paths": list(paths)}
    if output is not None:
        block["output"] = output
    return block


def path(name: str, *layers: Layer, source: str | None = None) -> Layer:
    written: Layer = {"name": name, "layers": list(layers)}
    if source is not None:
        written["from"] = source
    return written


# --- torch runs the graph ------------------------------------------------------------------


def joined_names(block: Layer) -> list[str]:
    """The paths ``output`` names, or those no path reads."""
    read = {p.get("from") for p in block["paths"]}
    return block.get("output") or [p["name"] for p in block["paths"] if p["name"] not in read]


JOIN = {
    "add": lambda outs: functools.reduce(operator.add, outs),
    "multiply": lambda outs: functools.reduce(operator.mul, outs),
    "concat": lambda outs: torch.cat(outs, dim=1),
}


class GraphInterpreter(Interpreter):
    """test_torch_blocks' interpreter, with the graph: each path on x or on the output of the
    path it names, then the joined outputs added, multiplied or concatenated, as torch does."""

    def one(self, layer: Layer, x: Any, where: str) -> Any:
        if layer["type"] != "graph":
            return super().one(layer, x, where)
        at = len(self.records)
        self.records.append(((where, [], 0), False))
        outs: dict[str, Any] = {}
        for i, route in enumerate(layer["paths"]):
            given = outs[route["from"]] if "from" in route else x
            outs[route["name"]] = self.run(route["layers"], given, f"{where}.paths[{i}].layers")
        joined = [outs[name] for name in joined_names(layer)]
        y = self.merge(where, lambda: JOIN[layer["join"]](joined))
        params = sum(entry[2] for entry, leaf in self.records[at + 1 :] if leaf)
        self.records[at] = ((where, list(y.shape[1:]), params), False)
        return y

    def leaf(self, layer: Layer, x: Any, where: str) -> Any:
        """Also nn.Upsample (to a size) and nn.Flatten (the spec's default, from the first
        dimension after the batch)."""
        if layer["type"] == "upsample":
            module = nn.Upsample(size=tuple(layer["size"]), mode=layer["mode"])
        elif layer["type"] == "flatten":
            module = nn.Flatten()
        else:
            return super().leaf(layer, x, where)
        y = module(x)
        self.records.append(((where, list(y.shape[1:]), 0), True))
        return y


def torch_outcome(input_shape: list[int], layers: list[Layer]) -> Outcome:
    interpreter = GraphInterpreter()
    try:
        y = interpreter.run(layers, torch.zeros(2, *input_shape), "layers")
    except TorchRefused as exc:
        return Outcome(None, None, exc.path)
    return Outcome(interpreter.entries, list(y.shape[1:]), None)


def check(input_shape: list[int], layers: list[Layer]) -> Outcome:
    expected = torch_outcome(input_shape, layers)
    got = convcalc_outcome(input_shape, layers)
    spec = json.dumps({"input": input_shape, "layers": layers})
    assert got == expected, f"{spec}:\n  convcalc {got}\n  torch    {expected}"
    return got


# --- hand-picked cases: valid and refused, every join -------------------------------------

POOL1 = {"type": "adaptive_avgpool", "output_size": 1}
CASES: dict[str, tuple[list[int], Layer, bool]] = {
    # LR-ASPP's head: x = cbr(high) · scale(high), resized; low_classifier(low) + high_cls(x)
    "lraspp-like": (
        [3, 16, 16],
        graph(
            "add",
            path("low", conv(8, 3, stride=2, padding=1)),
            path("high", conv(12, 3, stride=2, padding=1), source="low"),
            path(
                "x",
                graph(
                    "multiply",
                    path("cbr", conv(6, bias=False), {"type": "batchnorm"}, {"type": "relu"}),
                    path("scale", POOL1, conv(6, bias=False), {"type": "sigmoid"}),
                ),
                {"type": "upsample", "size": [8, 8], "mode": "bilinear"},
                source="high",
            ),
            path("low_classifier", conv(5), source="low"),
            path("high_classifier", conv(5), source="x"),
        ),
        True,
    ),
    # [C, 1, 1] · [1, H, W]: each grows the other, as torch broadcasts
    "multiply grows both": (
        [4, 6, 6],
        graph("multiply", path("c", POOL1), path("hw", conv(1))),
        True,
    ),
    "add broadcasts a gate": ([4, 6, 6], graph("add", path("x"), path("g", POOL1)), True),
    "concat three, one empty": (
        [4, 6, 6],
        graph("concat", path("a", conv(2)), path("b"), path("c", conv(3, 3, padding=1))),
        True,
    ),
    "explicit output, an unjoined path": (
        [4, 6, 6],
        graph("add", path("a", conv(4)), path("b", conv(4), source="a"), output=["b", "a"]),
        True,
    ),
    "an output named twice": ([4, 6, 6], graph("multiply", path("a"), output=["a", "a"]), True),
    "one path": ([4, 6, 6], graph("concat", path("a", conv(2))), True),
    # refused by torch: the joined shapes do not agree
    "add: channels differ": (
        [4, 6, 6],
        graph("add", path("a", conv(3)), path("b", conv(5))),
        False,
    ),
    "multiply: sizes differ": (
        [4, 6, 6],
        graph("multiply", path("a", conv(4, 3)), path("b", conv(4))),
        False,
    ),
    "concat: sizes differ": (
        [4, 6, 6],
        graph("concat", path("a", conv(4, 3)), path("b", conv(4)), path("c", conv(4))),
        False,
    ),
    # refused by torch inside a path that reads an earlier one: 2×2 from a 1×1 output
    "a leaf refused on an earlier path's output": (
        [4, 6, 6],
        graph("add", path("a", POOL1), path("b", conv(4, 2), source="a")),
        False,
    ),
}


@pytest.mark.parametrize("name", list(CASES))
def test_cases_against_torch(name: str) -> None:
    shape, block, valid = CASES[name]
    outcome = check(shape, [block])
    assert (outcome.refused is None) == valid, outcome


@pytest.mark.full
def test_lraspp_like_numbers() -> None:
    """The hand-picked LR-ASPP head, its numbers from torch: 12×4×4 features, 6 channels."""
    shape, block, _ = CASES["lraspp-like"]
    outcome = torch_outcome(shape, [block])
    assert outcome.output == [5, 8, 8]
    assert outcome.entries is not None
    assert outcome.entries[0] == ("layers[0]", [5, 8, 8], 224 + 876 + 72 + 12 + 72 + 45 + 35)


def test_ranks_that_differ_are_refused_as_torch_depends_on_the_batch() -> None:
    """[5] + [4, 5]: with the batch, torch lines [N, 5] up against [N, 4, 5] from the last
    dimension, so it adds them for a batch of 1 or 4 and refuses a batch of 2: convcalc,
    counting no batch, refuses."""
    a, b = torch.zeros(1, 5), torch.zeros(1, 4, 5)
    assert (a + b).shape == (1, 4, 5)
    with pytest.raises(RuntimeError):
        _ = torch.zeros(2, 5) + torch.zeros(2, 4, 5)
    layers = [graph("add", path("flat", {"type": "flatten"}), path("rows"))]
    with pytest.raises(LayerRefusal, match="as many dimensions") as refused:
        analyse(load_spec({"input": [4, 5], "layers": layers}))
    assert refused.value.path == "layers[0]"


@st.composite
def graphs(draw: st.DrawFn) -> tuple[list[int], list[Layer]]:
    """A graph of 1 to 4 paths of small stacks (blocks inside them too), each on x or on an
    earlier path's output; any join; the default or a drawn output."""
    channels = draw(st.integers(1, 4))
    shape = [channels, draw(st.integers(1, 8)), draw(st.integers(1, 8))]
    count = draw(st.integers(1, 4))
    paths: list[Layer] = []
    for i in range(count):
        source = draw(st.sampled_from([None, *range(i)]))
        layers = draw(stacks(channels, 1))
        paths.append(path(f"p{i}", *layers, source=None if source is None else f"p{source}"))
    join = draw(st.sampled_from(["add", "multiply", "concat"]))
    output = None
    if draw(st.booleans()):
        output = draw(st.lists(st.sampled_from([p["name"] for p in paths]), min_size=1, max_size=3))
    return shape, [graph(join, *paths, output=output)]


@pytest.mark.full
@settings(max_examples=examples(1000), deadline=None)
@given(spec=graphs())
def test_random_graphs_match_torch(spec: tuple[list[int], list[Layer]]) -> None:
    check(*spec)


# --- torchvision's LRASPPHead ------------------------------------------------------------


def test_torchvisions_lraspp_head() -> None:
    """torchvision's own LRASPPHead (low 6, high 10, 3 classes, inter 4) after two convs that
    give it its low and high features, on the meta device: every leaf in its call order, the
    parameters and the output, against the graph written as the bundled spec writes it."""
    from tests.torchvision_oracle import import_torchvision, match, torch_leaves, total_params

    lraspp = import_torchvision().models.segmentation.lraspp

    class Net(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.low = nn.Conv2d(3, 6, 3, stride=2, padding=1)
            self.high = nn.Conv2d(6, 10, 3, stride=2, padding=1)
            self.head = lraspp.LRASPPHead(6, 10, 3, 4)

        def forward(self, x: Any) -> Any:
            low = self.low(x)
            return self.head({"low": low, "high": self.high(low)})

    with torch.device("meta"):
        model = Net()
    spec = {
        "input": [3, 20, 20],
        "layers": [
            graph(
                "add",
                path("low", conv(6, 3, stride=2, padding=1)),
                path("high", conv(10, 3, stride=2, padding=1), source="low"),
                path(
                    "x",
                    graph(
                        "multiply",
                        path("cbr", conv(4, bias=False), {"type": "batchnorm"}, {"type": "relu"}),
                        path("scale", POOL1, conv(4, bias=False), {"type": "sigmoid"}),
                    ),
                    {"type": "upsample", "size": [10, 10], "mode": "bilinear", "functional": True},
                    source="high",
                ),
                path("low_classifier", conv(3), source="low"),
                path("high_classifier", conv(3), source="x"),
                output=["low_classifier", "high_classifier"],
            )
        ],
    }
    report = analyse(load_spec(spec))
    assert match(list(report.leaves()), torch_leaves(model, (3, 20, 20))) == []
    assert report.total_params == total_params(model)
    with torch.no_grad():
        assert tuple(report.output_shape) == tuple(
            model(torch.empty(1, 3, 20, 20, device="meta")).shape[1:]
        )


# --- refusals at load: file, line, layer, field ----------------------------------------------

WRITTEN = """\
input: [4, 6, 6]
layers:
  - {type: relu}
  - type: graph
    join: add
    paths:
      - name: a
        layers: [{type: conv, out_channels: 4, kernel_size: 1}]
      - name: b
        from: FROM
        layers: []
"""


@pytest.mark.parametrize(
    ("edit", "line", "field", "message"),
    [
        (("FROM", "c"), 10, "paths", "from 'c' names no earlier path: a path reads"),
        (("FROM", "b"), 10, "paths", "from 'b' names this path itself"),
        (("name: b", "name: a"), 9, "paths", "the name 'a' is already paths[0]'s"),
        (("join: add", "join: sum"), 5, "join", "must be"),
        (("    join: add\n", ""), 4, "join", "is required but missing"),
        (("join: add", "join: add\n    output: [a, z]"), 6, "output", "'z' names no path"),
        (("FROM", "a\n        source: a"), 11, "source", "unknown field"),
    ],
)
def test_refused_at_load(
    tmp_path: Path, edit: tuple[str, str], line: int, field: str, message: str
) -> None:
    file = tmp_path / "net.yaml"
    text = WRITTEN.replace(*edit)
    file.write_text(text.replace("FROM", "a") if edit[0] != "FROM" else text, encoding="utf-8")
    with pytest.raises(SpecError) as refused:
        load_spec(str(file))
    error = refused.value
    assert (error.file, error.line, error.path, error.layer_type) == (
        str(file),
        line,
        "layers[1]",
        "graph",
    ), str(error)
    assert error.field == field and message in error.message, str(error)


def test_a_later_path_is_named_as_such(tmp_path: Path) -> None:
    text = WRITTEN.replace("from: FROM", "").replace("name: a", "name: a\n        from: b")
    file = tmp_path / "net.yaml"
    file.write_text(text, encoding="utf-8")
    with pytest.raises(SpecError, match=r"names no earlier path \(a later path, paths\[1\]\)"):
        load_spec(str(file))


def test_empty_paths_are_refused(tmp_path: Path) -> None:
    file = tmp_path / "net.yaml"
    file.write_text("input: [4, 6, 6]\nlayers:\n  - {type: graph, join: add, paths: []}\n")
    with pytest.raises(SpecError) as refused:
        load_spec(str(file))
    assert str(refused.value) == (f"{file}:3: layers[0] (graph), field paths: must not be empty")


def test_a_join_that_refuses_names_the_paths_and_shapes(tmp_path: Path) -> None:
    file = tmp_path / "net.yaml"
    text = WRITTEN.replace("FROM", "a").replace("join: add", "join: add\n    output: [a, b]")
    text = text.replace("layers: []", "layers: [{type: conv, out_channels: 3, kernel_size: 1}]")
    file.write_text(text, encoding="utf-8")
    with pytest.raises(LayerRefusal) as refused:
        analyse(load_spec(str(file)))
    assert str(refused.value) == (
        f"{file}:4: layers[1] (graph): 'a' gives 4×6×6 but 'b' gives 3×6×6: to be added, each "
        "dimension must be equal or 1 in one of them"
    )


# --- the views: receptive field, JSON, tables ----------------------------------------------


def brute_force_field(model: Any, input_shape: tuple[int, ...]) -> int:
    """How many input rows one output position in the middle sees: the rows where the gradient
    of that output (every weight 1, every bias 0: no cancellation) is not zero."""
    with torch.no_grad():
        for name, tensor in model.named_parameters():
            tensor.fill_(0.0 if name.endswith("bias") else 1.0)
    x = torch.ones(1, *input_shape, requires_grad=True)
    y = model(x)
    y[0, 0, y.shape[2] // 2, y.shape[3] // 2].backward()
    rows = x.grad[0].abs().sum(dim=(0, 2)).nonzero().flatten()
    return int(rows.max() - rows.min() + 1)


@pytest.mark.full
def test_receptive_field_continues_through_an_earlier_path(tmp_path: Path) -> None:
    """A path reading an earlier path's output continues its field (3 → 7 → 15 rows); the
    joined field is the largest of the joined paths', as the gradient's support says."""
    from convcalc.views.receptive import receptive_fields
    from tests.test_export import Generated

    block = graph(
        "add",
        path("a", conv(2, 3, stride=2, padding=1)),
        path("b", conv(2, 3, stride=2, padding=1), source="a"),
        path("c", conv(2, 3, padding=1), source="b"),
        path("d", conv(2, 3, stride=4, padding=1)),
        output=["c", "d"],
    )
    report = analyse(load_spec({"name": "rf", "input": [1, 64, 64], "layers": [block]}))
    model = Generated(report, tmp_path).build()
    fields = receptive_fields(report)
    entry = report.layers[0]
    assert fields[id(entry)].size == (brute_force_field(model, (1, 64, 64)),) * 2 == (15.0,) * 2
    assert fields[id(entry)].aligned


def test_json_names_each_path_and_what_it_reads() -> None:
    shape, block, _ = CASES["lraspp-like"]
    data = convcalc.analyse(load_spec({"input": shape, "layers": [block]})).to_dict()
    paths = data["layers"][0]["paths"]
    assert [(p["name"], p.get("from"), len(p["layers"])) for p in paths] == [
        ("low", None, 1),
        ("high", "low", 1),
        ("x", "high", 2),
        ("low_classifier", "low", 1),
        ("high_classifier", "x", 1),
    ]


@pytest.mark.full
def test_every_view_renders_the_bundled_lraspp(tmp_path: Path) -> None:
    """Table (the paths headed by name and source), explanations, lint, diagrams, the report."""
    from click.testing import CliRunner

    from convcalc.cli import cli

    runner = CliRunner()
    name = "lraspp_mobilenet_v3_large"
    table = runner.invoke(cli, ["shape", name, "--depth", "2", "--rf"])
    assert table.exit_code == 0, table.output
    assert "└─high_classifier ← x: conv 1×1" in table.output
    assert "lraspp: graph low_classifier + high_classifier  21×65×65" in table.output
    for fmt in ("text", "markdown", "latex"):
        explained = runner.invoke(cli, ["shape", name, "--explain", "--format", fmt])
        assert explained.exit_code == 0, explained.output
        assert "added element-wise, broadcast to 21" in explained.output
        if fmt == "text":
            assert "low_classifier 21×65×65, high_classifier 21×65×65: added" in explained.output
    assert runner.invoke(cli, ["lint", name]).exit_code in (0, 1)
    for style in ("flow", "blocks"):
        drawn = runner.invoke(cli, ["draw", name, "--style", style, "-o", str(tmp_path / "d.svg")])
        assert drawn.exit_code == 0, drawn.output
    report = runner.invoke(cli, ["report", name, "-o", str(tmp_path / "r.html")])
    assert report.exit_code == 0, report.output
    assert "high_classifier ← x:" in (tmp_path / "r.html").read_text(encoding="utf-8")


# --- the exports -------------------------------------------------------------------------


def test_pytorch_round_trip(tmp_path: Path) -> None:
    """Export, exec, run: every leaf's shape and parameters in order, and the total; every
    module's arguments as written."""
    from tests.test_export import check_ruff, round_trip

    shape, block, _ = CASES["lraspp-like"]
    frozen = {
        **graph("concat", path("a", conv(2)), path("b"), path("c", source="a")),
        "trainable": False,
    }
    layers = [block, frozen]
    report = analyse(load_spec({"name": "graphs", "input": shape, "layers": layers}))
    generated = round_trip(report, tmp_path, ("cpu", "meta"), layers=layers)
    check_ruff([generated.path], tmp_path / "cache")
    model = generated.build()
    assert sum(p.numel() for p in model.parameters() if p.requires_grad) == report.trainable_params


@pytest.mark.full
@pytest.mark.filterwarnings("ignore::DeprecationWarning:keras")  # numpy 2's copy keyword
def test_keras_round_trip_and_values(tmp_path: Path) -> None:
    """Keras' shapes and trainable weights per leaf, and the same values as the PyTorch export
    with PyTorch's weights copied across."""
    os.environ.setdefault("KERAS_BACKEND", "torch")  # as test_export_keras runs Keras
    pytest.importorskip("keras")
    from tests.test_export_keras import compare_values, round_trip

    shape, block, _ = CASES["lraspp-like"]
    report = analyse(load_spec({"name": "graphs", "input": shape, "layers": [block]}))
    round_trip(report, tmp_path)
    compare_values(report, tmp_path)


# --- the join's multiply-adds under every convention, each tool run live ----------------------


def tool_counts(model: Any, input_shape: tuple[int, ...]) -> dict[str, int]:
    """torchinfo, fvcore, ptflops and thop on one module (a batch of one, on the CPU), and
    FlopCounterMode ÷ 2."""
    from torch.utils.flop_counter import FlopCounterMode

    from tests.torchvision_oracle import import_torchvision

    torchinfo = pytest.importorskip("torchinfo")
    fvcore_nn = pytest.importorskip("fvcore.nn")
    thop = pytest.importorskip("thop")
    import_torchvision()  # ptflops imports torchvision.ops: the shim first
    ptflops = pytest.importorskip("ptflops")
    logging.getLogger("fvcore").setLevel(logging.ERROR)
    x = torch.zeros(1, *input_shape)
    counts: dict[str, int] = {}
    quiet = io.StringIO()
    with torch.no_grad(), warnings.catch_warnings(), contextlib.redirect_stdout(quiet):
        warnings.simplefilter("ignore")
        counts["torchinfo"] = int(torchinfo.summary(model, input_data=x, verbose=0).total_mult_adds)
        analysis = fvcore_nn.FlopCountAnalysis(model, x)
        analysis.unsupported_ops_warnings(False)
        counts["fvcore"] = int(analysis.total())
        with contextlib.redirect_stderr(quiet):
            macs, _ = ptflops.get_model_complexity_info(
                model, input_shape, as_strings=False, backend="pytorch", print_per_layer_stat=False
            )
        counts["ptflops"] = int(macs)
        macs, _ = thop.profile(model, inputs=(x,), verbose=False)
        counts["thop"] = int(macs)
        with FlopCounterMode(display=False) as flops:
            model(x)
        counts["convcalc"] = flops.get_total_flops() // 2
    return counts


@pytest.mark.full
def test_every_convention_counts_the_exported_graph(tmp_path: Path) -> None:
    """The adds, multiplies and concatenations of graph joins count nothing in any tool (they
    are no modules, and no wrapped or handled functions): each tool's count of the exported
    module is convcalc's under its convention."""
    from tests.test_export import Generated

    layers = [
        CASES["lraspp-like"][1],
        graph("concat", path("a", conv(2)), path("b", conv(3), source="a"), path("c")),
        graph("multiply", path("c", POOL1), path("hw", conv(1))),
    ]
    report = analyse(load_spec({"name": "joins", "input": [3, 16, 16], "layers": layers}))
    model = Generated(report, tmp_path).build()
    counts = tool_counts(model, tuple(report.input_shape))
    ours = {name: report.total_mult_adds(1, name) for name in counts}
    assert counts == ours


@pytest.mark.full
def test_the_schema_validates_a_graphs_paths() -> None:
    """The bundled LR-ASPP passes the JSON Schema; a bad layer inside a path, or a field a path
    does not take, fails it."""
    jsonschema = pytest.importorskip("jsonschema")
    import yaml

    from convcalc.spec.schema import spec_schema

    validator = jsonschema.Draft202012Validator(spec_schema())
    spec = Path(__file__).resolve().parent.parent / "specs" / "lraspp_mobilenet_v3_large.yaml"
    assert list(validator.iter_errors(yaml.safe_load(spec.read_text(encoding="utf-8")))) == []
    for route in ({"name": "a", "layers": [{"type": "nope"}]}, {"name": "a", "source": "b"}):
        bad = {"input": [3, 8, 8], "layers": [graph("add", route)]}
        assert list(validator.iter_errors(bad)) != []


@st.composite
def written_graphs(draw: st.DrawFn) -> Layer:
    """A graph as a student might get it wrong: any values for its fields and its paths'."""
    names = st.sampled_from(["a", "b", "c", "", "input"])
    route = st.fixed_dictionaries(
        {},
        optional={
            "name": names | values,
            "from": names | values,
            "layers": st.lists(st.just(conv(2)) | st.just({"type": "relu"}), max_size=2) | values,
            "bogus": values,
        },
    )
    block: Layer = {"type": "graph"}
    block |= draw(
        st.fixed_dictionaries(
            {},
            optional={
                "join": st.sampled_from(["add", "multiply", "concat", "sum"]) | values,
                "paths": st.lists(route, max_size=4) | values,
                "output": st.lists(names, max_size=3) | values,
            },
        )
    )
    return block


@settings(max_examples=examples(400), deadline=None)
@given(block=written_graphs())
def test_written_graphs_load_or_are_refused_with_their_place(
    tmp_path_factory: Any, block: Layer
) -> None:
    file = tmp_path_factory.mktemp("g") / "net.yaml"
    file.write_text(json.dumps({"input": [3, 8, 8], "layers": [block]}, default=str))
    message, where = f"{file}:", "layers[0]"
    try:
        summarise(str(file))
    except SpecError as exc:
        message, where = str(exc), exc.path or where
    assert message.startswith(f"{file}:") and where.startswith("layers[0]"), message
