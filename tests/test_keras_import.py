"""``convcalc import model.json``: a Keras spec from ``model.to_json()``, against Keras itself.

Small Sequential and functional models are built live with Keras 3 (torch backend); their JSON
is imported and analysed, and every Keras layer's output shape, trainable and non-trainable
parameters must be convcalc's (the layers Keras' applications need beyond the dialect's first
table among them: Rescaling, Normalization, LayerScale, ``x + 3.0``). Graphs blocks cannot
express, and hostile JSON, are refused with the layer named, exit code 2, never a traceback.
MultiHeadAttention called on one tensor (a pre-norm transformer encoder, recorded from Keras
in tests/golden/keras/encoder*.json for the quick run) is one layer; cross-attention, masks
and attention scores are refused at the layer.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from convcalc.analysis import analyse
from convcalc.budget import Budget, WorkLimit
from convcalc.cli import cli
from convcalc.errors import SpecError
from convcalc.frameworks.keras.importer import KerasImportError, from_json, to_yaml
from convcalc.spec.validate import load_spec
from tests.keras_oracle import keras, layers  # imported at first use; the full run only
from tests.test_keras_zoo import convcalc_rows, keras_rows

pytestmark = [
    pytest.mark.torch,
    pytest.mark.filterwarnings("ignore::DeprecationWarning"),
    pytest.mark.filterwarnings("ignore::UserWarning"),
]


def same(model: Any) -> dict[str, Any]:
    """The model's JSON imported: layer for layer Keras' rows, and the YAML loads back."""
    spec = from_json(model.to_json(), "net")
    report = analyse(load_spec(spec))
    assert convcalc_rows(report) == keras_rows(model)
    assert analyse(load_spec(to_yaml(spec))).total_params == model.count_params()
    return spec


def functional(shape: tuple[int, ...], build: Any) -> Any:
    keras.backend.clear_session()
    x = keras.Input(shape)
    return keras.Model(x, build(x))


# --- models Keras builds, imported ------------------------------------------------------------


def test_sequential() -> None:
    model = keras.Sequential(
        [
            keras.Input((32, 32, 3)),
            layers.Rescaling(1 / 255),
            layers.Conv2D(8, 3, strides=2, activation="relu"),
            layers.BatchNormalization(),
            layers.MaxPooling2D(),
            layers.Flatten(),
            layers.Dense(10, activation="softmax"),
        ]
    )
    spec = same(model)
    assert spec["input"] == [32, 32, 3] and spec["framework"] == "keras"


def test_residual_concat_scale_and_a_nested_model() -> None:
    def build(x: Any) -> Any:
        stem = keras.Sequential([layers.Conv2D(8, 3, padding="same"), layers.ReLU()], name="stem")
        x = stem(x)
        y = layers.Conv2D(8, 3, padding="same")(x)
        x = layers.Add()([x, y])  # identity shortcut
        a = layers.Conv2D(4, 1)(x)
        b = layers.MaxPooling2D(3, 1, padding="same")(x)
        x = layers.Concatenate()([a, x, b])
        g = layers.GlobalAveragePooling2D(keepdims=True)(x)
        g = layers.Conv2D(20, 1, activation="sigmoid")(g)
        g = layers.ReLU(6.0)(g + 3.0) * (1 / 6)
        x = layers.Multiply()([x, g])
        x = x + layers.LayerNormalization()(x)  # an op between tensors: a residual
        return layers.Dense(3)(layers.GlobalAveragePooling2D()(x))

    spec = same(functional((16, 16, 3), build))
    kinds = [item["type"] for item in spec["layers"]]
    assert kinds == [
        "Sequential",
        "Add",
        "Concatenate",
        "Multiply",
        "Add",
        "GlobalAveragePooling2D",
        "Dense",
    ]


@pytest.mark.every_case
@pytest.mark.parametrize(
    "norm",
    [
        {"axis": -1},
        {"axis": None},
        {"axis": 1},
        {"axis": (1, 3)},
        {"mean": [1.0, 2.0, 3.0], "variance": [1.0, 1.0, 1.0]},
        {"axis": None, "mean": 2.0, "variance": 1.0},
    ],
)
def test_normalization(norm: dict[str, Any]) -> None:
    """Adapted statistics are non-trainable weights (mean and variance over the kept axes,
    and a count); given ones are constants."""
    same(keras.Sequential([keras.Input((5, 6, 3)), layers.Normalization(**norm)]))


def test_normalization_refusals_are_keras() -> None:
    for wrong in ({"mean": [1.0, 2.0, 3.0]}, {"mean": [1.0, 2.0], "variance": [1.0, 1.0]}):
        with pytest.raises((ValueError, RuntimeError)):
            keras.Sequential([keras.Input((5, 6, 3)), layers.Normalization(**wrong)])
        spec = {
            "framework": "keras",
            "input": [5, 6, 3],
            "layers": [{"type": "Normalization", **wrong}],
        }
        with pytest.raises(Exception, match=r"mean|values"):
            load_spec(spec)


@pytest.mark.full
@pytest.mark.parametrize("dim", [4, 3])
def test_layer_scale(dim: int) -> None:
    """ConvNeXt's LayerScale: projection_dim learned factors, refused by both on a mismatch."""
    from keras.src.applications.convnext import LayerScale

    def build(x: Any) -> Any:
        return LayerScale(1e-6, dim)(x)

    if dim == 4:
        same(functional((5, 6, 4), build))
        return
    with pytest.raises(Exception, match="size"):
        functional((5, 6, 4), build)
    spec = {
        "framework": "keras",
        "input": [5, 6, 4],
        "layers": [{"type": "LayerScale", "init_values": 1e-6, "projection_dim": dim}],
    }
    with pytest.raises(Exception, match="projection_dim"):
        load_spec(spec)


# --- general graphs: graph blocks where the nest of blocks does not fit ----------------------


def diamond(x: Any) -> Any:
    """A fork inside the merge's region: a's output read by b and c, three tensors added."""
    a = layers.Conv2D(4, 1, name="a")(x)
    b = layers.Conv2D(6, 3, padding="same", name="b")(a)
    c = layers.BatchNormalization(name="c")(layers.Conv2D(6, 1, name="c0")(a))
    d = layers.Conv2D(6, 1, name="d")(x)
    m = layers.Add(name="join")([b, c, d])
    return layers.Maximum(name="mx")([m, layers.ReLU(name="r")(m)])


def two_level_skip(x: Any) -> Any:
    """c1 joined and read on by c2 → c3; the input joined too: c3 + c1 + x."""
    c1 = layers.Conv2D(4, 1, name="c1")(x)
    c2 = layers.Conv2D(4, 3, padding="same", name="c2")(c1)
    c3 = layers.Conv2D(4, 3, padding="same", name="c3")(c2)
    return layers.Subtract(name="out")([layers.Add(name="sum")([c3, c1, x]), x])


def reused_branch(x: Any) -> Any:
    """A branch starting from an earlier branch's layer (b1), concatenated with x."""
    b1 = layers.Conv2D(4, 1, name="b1")(x)
    b2 = layers.DepthwiseConv2D(3, padding="same", name="b2")(b1)
    b3 = layers.MaxPooling2D(3, 1, padding="same", name="b3")(b1)
    y = layers.Concatenate(name="cat")([b2, b3, x])
    z = layers.Average(name="avg")([layers.Conv2D(12, 1, name="e")(y), y])
    return layers.Minimum(name="min")([z, layers.Conv2D(12, 1, name="f")(z)])


@pytest.mark.parametrize(
    ("build", "kinds"),
    [
        pytest.param(diamond, ["graph", "Maximum"], id="diamond"),
        pytest.param(two_level_skip, ["Subtract"], id="two-level", marks=pytest.mark.full),
        pytest.param(
            reused_branch, ["graph", "Average", "Minimum"], id="reuse", marks=pytest.mark.full
        ),
    ],
)
def test_general_graphs_import_as_graph_blocks(build: Any, kinds: list[str]) -> None:
    """Keras' own rows, layer for layer, equal convcalc's; the YAML reads back."""
    spec = same(functional((8, 8, 4), build))
    assert [item["type"] for item in spec["layers"]] == kinds
    assert '"type": "graph"' in json.dumps(spec)  # at the top, or nested in a body


def test_a_graph_block_in_a_keras_spec_is_located() -> None:
    """A path reading a later path, or a Keras class refused inside a path: file, path, field."""
    bad = {
        "framework": "keras",
        "input": [8, 8, 4],
        "layers": [
            {
                "type": "graph",
                "join": "add",
                "paths": [{"name": "a", "from": "b", "layers": []}, {"name": "b", "layers": []}],
            }
        ],
    }
    with pytest.raises(SpecError, match="names no earlier path") as caught:
        load_spec(bad)
    assert caught.value.path == "layers[0].paths[0].from"
    bad["layers"][0]["paths"] = [{"name": "a", "layers": [{"type": "Conv2D", "filter": 3}]}]
    with pytest.raises(SpecError, match="filters") as caught:
        load_spec(bad)
    assert caught.value.path == "layers[0].paths[0].layers[0]"


@pytest.mark.full
def test_nasnet_mobile_is_refused_with_its_reason() -> None:
    """NASNetMobile's cells add pairs of branches that share their inputs with other adds,
    then concatenate the sums: crossing paths, refused at the first shared layer.
    (keras.applications.NASNetMobile refuses the torch backend, so its own NASNet call.)"""
    from keras.src.applications.nasnet import NASNet

    keras.backend.clear_session()
    model = NASNet(
        (224, 224, 3),
        penultimate_filters=1056,
        num_blocks=4,
        stem_block_filters=32,
        skip_reduction=False,
        filter_multiplier=2,
        weights=None,
        default_size=224,
    )
    text = refused(model.to_json(), "paths shared by two merges that do not nest")
    assert "'reduction_bn_1_stem_1' (BatchNormalization)" in text


# --- refusals -----------------------------------------------------------------------------------


def refused(model_json: str, match: str) -> str:
    with pytest.raises(KerasImportError, match=match) as caught:
        from_json(model_json, "net")
    return str(caught.value)


def test_crossing_paths_are_refused_at_the_layer() -> None:
    """Two merges whose paths share a layer without nesting (c is read by both): no block,
    graph or nested, has one input and one output around either."""

    def build(x: Any) -> Any:
        a = layers.Conv2D(4, 1, name="a")(x)
        m1 = layers.Add(name="m1")([x, a])
        b = layers.Conv2D(4, 1, name="b")(m1)
        return layers.Add(name="m2")([b, a])

    text = refused(functional((8, 8, 4), build).to_json(), "outside the block that 'm1' closes")
    assert text.startswith("layers[1] 'a' (Conv2D): ")


def test_two_outputs_are_refused_naming_them() -> None:
    keras.backend.clear_session()
    x = keras.Input((8, 8, 4))
    a = layers.Conv2D(4, 1, name="head_a")(x)
    b = layers.Conv2D(2, 1, name="head_b")(x)
    refused(keras.Model(x, [a, b]).to_json(), "2 outputs \\('head_a', and 'head_b' besides\\)")


@pytest.mark.full
def test_a_shared_layer_and_two_inputs_are_refused() -> None:
    keras.backend.clear_session()
    conv = layers.Conv2D(4, 1, name="shared")
    x = keras.Input((8, 8, 4))
    text = refused(keras.Model(x, layers.Add()([conv(x), conv(x)])).to_json(), "called 2 times")
    assert "'shared' (Conv2D)" in text
    a, b = keras.Input((4,)), keras.Input((4,))
    refused(keras.Model([a, b], layers.Add()([a, b])).to_json(), "2 inputs")


def test_unknown_class_and_argument() -> None:
    model = keras.Sequential([keras.Input((4, 3)), layers.GRU(2)])
    refused(model.to_json(), "unknown Keras layer 'GRU'")
    data = json.loads(keras.Sequential([keras.Input((4,)), layers.Dense(2)]).to_json())
    data["config"]["layers"][1]["config"]["spline"] = 3
    assert "layers[1] 'dense" in refused(json.dumps(data), "argument spline = 3")


def graph(layers_: list[dict[str, Any]]) -> str:
    config = {"layers": layers_, "input_layers": ["in", 0, 0], "output_layers": ["b", 0, 0]}
    return json.dumps({"class_name": "Functional", "config": config})


def call(*sources: str) -> list[dict[str, Any]]:
    tensors = [
        {"class_name": "__keras_tensor__", "config": {"keras_history": [s, 0, 0]}} for s in sources
    ]
    return [{"args": tensors, "kwargs": {}}]


def relu(name: str, source: str) -> dict[str, Any]:
    return {
        "class_name": "ReLU",
        "name": name,
        "config": {"name": name},
        "inbound_nodes": call(source),
    }


INPUT = {"class_name": "InputLayer", "name": "in", "config": {"batch_shape": [None, 4]}}


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("{", "not JSON"),
        ("[" * 100_000 + "]" * 100_000, "not a Keras model|nested too deeply"),
        (
            '{"class_name": "Sequential", "config": {"layers": [], "x": ' + "9" * 5000 + "}}",
            "not JSON",
        ),
        ('{"class_name": "Dense", "config": {}}', "not a Keras model"),
        (graph([INPUT, relu("a", "b"), relu("b", "a")]), "cycle"),
        (graph([INPUT, relu("a", "in"), relu("b", "in")]), "does not lead to the model's output"),
        (graph([INPUT, relu("b", "nowhere")]), "no layer"),
        (graph([{**INPUT, "config": {"batch_shape": [None, None]}}, relu("b", "in")]), "--input"),
    ],
    ids=[
        "truncated",
        "deep",
        "huge-number",
        "not-a-model",
        "cycle",
        "dangling",
        "unknown-source",
        "open-input",
    ],
)
def test_hostile_json_is_refused(text: str, match: str) -> None:
    refused(text, match)


NOT_OBJECTS = ["x", 3, True, 1.5, [1, 2], None]


def nested_functional(input_layer: dict[str, Any]) -> dict[str, Any]:
    """A functional model ``sub`` (its input, a ReLU) used as a layer on the outer input."""
    config = {
        "name": "sub",
        "layers": [input_layer, relu("r", "in2")],
        "input_layers": ["in2", 0, 0],
        "output_layers": ["r", 0, 0],
    }
    return {
        "class_name": "Functional",
        "name": "sub",
        "config": config,
        "inbound_nodes": call("in"),
    }


@pytest.mark.every_case
@pytest.mark.parametrize("config", NOT_OBJECTS, ids=[type(v).__name__ for v in NOT_OBJECTS])
def test_an_input_layer_whose_config_is_no_object_is_refused_at_the_layer(
    config: Any, tmp_path: Path
) -> None:
    """An InputLayer's config that is a string, a number, true, a list or null: the top
    model's input is refused at its layer (exit 2), as Sequential's is; a nested model's input
    (not read: the outer tensor is its input) needs its name, at the layer or in its config."""
    text = graph([{**INPUT, "config": config}, relu("b", "in")])
    refused(text, "^layers.0. 'in' .InputLayer.: an InputLayer needs its batch_shape$")
    source = tmp_path / "model.json"
    source.write_text(text, encoding="utf-8")
    result = CliRunner().invoke(cli, ["import", str(source)])
    assert result.exit_code == 2 and result.exception is not None
    assert result.output == (
        f"Error: {source}: layers[0] 'in' (InputLayer): an InputLayer needs its batch_shape\n"
    )
    inner = {"class_name": "InputLayer", "name": "in2", "config": config}
    spec = from_json(graph([INPUT, nested_functional(inner), relu("b", "sub")]), "net")
    assert [item["type"] for item in spec["layers"]] == ["Sequential", "ReLU"]
    del inner["name"]
    refused(
        graph([INPUT, nested_functional(inner), relu("b", "sub")]),
        "^layers.1. 'sub' .Functional. › layers.0. .InputLayer.: a layer needs its name$",
    )


def hostile_paths(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every node of a JSON value, as the keys and indices leading to it (an explicit stack)."""
    found, todo = [], [(value, path)]
    while todo:
        node, at = todo.pop()
        found.append(at)
        if isinstance(node, dict):
            todo.extend((v, (*at, k)) for k, v in node.items())
        elif isinstance(node, list):
            todo.extend((v, (*at, i)) for i, v in enumerate(node))
    return found[1:]


HOSTILE: list[Any] = [None, -1, "x", [], {}, True, 1.5, {"class_name": "__keras_tensor__"}]


def test_every_node_replaced_by_a_hostile_value_is_refused_or_read() -> None:
    """A model with a merge, a nested functional model and a Sequential, each of its JSON
    nodes in turn replaced by null, -1, a string, an empty list and object, true, 1.5 or a
    tensor without history: the import gives a spec or refuses (ConvcalcError: a located
    KerasImportError, SpecError or WorkLimit), never another exception."""
    from convcalc.errors import ConvcalcError

    seq = {
        "class_name": "Sequential",
        "name": "seq",
        "config": {"name": "seq", "layers": [{"class_name": "ReLU", "config": {"name": "q"}}]},
        "inbound_nodes": call("sub"),
    }
    add: dict[str, Any] = {"class_name": "Add", "name": "b", "config": {"name": "b"}}
    add["inbound_nodes"] = [{"args": [call("in", "seq")[0]["args"]], "kwargs": {}}]
    inner = {"class_name": "InputLayer", "name": "in2", "config": {"batch_shape": [None, 4]}}
    model = json.loads(graph([INPUT, nested_functional(inner), seq, add]))
    assert from_json(json.dumps(model), "net")["layers"][0]["type"] == "Add"
    outcomes = {"read": 0, "refused": 0}
    for path in hostile_paths(model):
        for value in HOSTILE:
            mutated = json.loads(json.dumps(model))
            node = mutated
            for key in path[:-1]:
                node = node[key]
            node[path[-1]] = value
            try:
                from_json(json.dumps(mutated), "net")
            except ConvcalcError:
                outcomes["refused"] += 1
            else:
                outcomes["read"] += 1
    assert outcomes["refused"] > outcomes["read"] > 0


def wide_add(filters: list[int]) -> str:
    """A functional model adding one 1×1 Conv2D on the input per entry of ``filters``."""
    convs = [
        {
            "class_name": "Conv2D",
            "name": f"c{i}",
            "config": {"name": f"c{i}", "filters": f, "kernel_size": [1, 1]},
            "inbound_nodes": call("in"),
        }
        for i, f in enumerate(filters)
    ]
    tensors = call(*(f"c{i}" for i in range(len(filters))))[0]["args"]
    add: dict[str, Any] = {"class_name": "Add", "name": "b", "config": {"name": "b"}}
    add["inbound_nodes"] = [{"args": [tensors], "kwargs": {}}]
    top = {**INPUT, "config": {"batch_shape": [None, 8, 8, 3]}}
    return graph([top, *convs, add])


def test_a_wide_add_costs_work_linear_in_its_branches(monkeypatch: pytest.MonkeyPatch) -> None:
    """An Add of n branches (a 3-filter Conv2D broadcast with 1-filter ones, as Keras'
    element-wise merges broadcast) imports to one graph block, its parameters Keras'
    1·1·3·f + f per Conv2D; the names the join shows while it merges grow with n, not n²
    (doubling the branches doubles them: the join named every path before each one)."""
    from convcalc.errors import shown
    from convcalc.layers import blocks

    shown_calls = 0

    def counted(*args: Any, **kwargs: Any) -> str:
        nonlocal shown_calls
        shown_calls += 1
        return shown(*args, **kwargs)

    monkeypatch.setattr(blocks, "shown", counted)
    calls = {}
    for n in (100, 200):
        filters = [3] + [1] * (n - 1)
        shown_calls = 0
        spec = from_json(wide_add(filters), "net")
        calls[n] = shown_calls
        assert [item["type"] for item in spec["layers"]] == ["graph"]
        report = analyse(load_spec(spec))
        assert report.output_shape == (3, 8, 8)
        assert report.total_params == sum(3 * f + f for f in filters)
    assert calls[200] <= 2.2 * calls[100], calls


def test_a_wide_add_that_clashes_names_the_first_paths_and_counts_the_rest() -> None:
    """Keras refuses adding 8×8×2 to 8×8×3 (neither is 1); the refusal names three paths and
    counts the others, so its length does not grow with the branches."""
    text = refused(wide_add([3, 3, 3, 3, 2]), "to be added")
    assert "'c0' and 'c1' and 'c2' and 1 more give 8×8×3 but 'c4' gives 8×8×2" in text


@pytest.mark.full
def test_a_long_chain_within_the_budget() -> None:
    """50,000 layers import in one pass; a budget too small stops with WorkLimit."""
    chain = [INPUT, *(relu(f"r{i}", "in" if i == 0 else f"r{i - 1}") for i in range(50_000))]
    chain[-1] = relu("b", "r49998")
    text = graph(chain)
    with pytest.raises(WorkLimit):
        from_json(text, "net", budget=Budget(1000, "smaller"))


# --- the command ----------------------------------------------------------------------------


def test_convcalc_import_routes_json_to_keras(tmp_path: Path) -> None:
    model = keras.Sequential([keras.Input((8, 8, 3)), layers.Conv2D(4, 3), layers.Flatten()])
    source = tmp_path / "model.json"
    source.write_text(model.to_json(), encoding="utf-8")
    runner = CliRunner()
    out = tmp_path / "net.yaml"
    result = runner.invoke(cli, ["import", str(source), "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert analyse(load_spec(str(out))).total_params == model.count_params()
    source.write_text(graph([INPUT, relu("a", "b"), relu("b", "a")]), encoding="utf-8")
    result = runner.invoke(cli, ["import", str(source)])
    assert result.exit_code == 2 and "model.json: layers[1] 'a' (ReLU)" in result.output
    assert "Traceback" not in result.output
    text = tmp_path / "model.txt"
    text.write_text("Sequential(\n  (0): ReLU()\n)\n", encoding="utf-8")
    result = runner.invoke(cli, ["import", str(text)])
    assert result.exit_code == 2 and "--input is required" in result.output


# --- edge cases: sizes, JSON that is no model, a spec too large to read back -------------------


def sequential(shape: list[Any], count: int) -> str:
    """The JSON Keras writes for a Sequential of ``count`` ReLUs on ``shape`` (batch first)."""
    input_layer = {"class_name": "InputLayer", "config": {"batch_shape": shape, "name": "in"}}
    relus = [{"class_name": "ReLU", "config": {"name": f"r{i}"}} for i in range(count)]
    return json.dumps({"class_name": "Sequential", "config": {"layers": [input_layer, *relus]}})


def test_a_size_too_large_is_refused_as_such() -> None:
    """10^30 is a size, but too large; 0 and -1 are no sizes."""
    text = refused(sequential([None, 10**30, 8, 3], 1), "is too large")
    assert "1000000000000000000000000000000 is too large" in text and "≥ 1" not in text
    assert "at most 2^31 − 1 = 2,147,483,647" in text
    refused(sequential([None, 0, 8, 3], 1), "must be sizes ≥ 1")
    assert from_json(sequential([None, 2**31 - 1, 8, 3], 1), "net")["input"][0] == 2**31 - 1


@pytest.mark.parametrize(
    ("text", "kind"), [("[]", "a list"), ("42", "a number"), ('"x"', "a string"), ("null", "null")]
)
def test_json_that_is_no_object_is_no_keras_model(tmp_path: Path, text: str, kind: str) -> None:
    """Any JSON document goes to the Keras reader, which says it is no Keras model (not that
    print(model) text needs --input)."""
    source = tmp_path / "model.json"
    source.write_text(text, encoding="utf-8")
    result = CliRunner().invoke(cli, ["import", str(source)])
    assert result.exit_code == 2, result.output
    assert result.output == (
        f"Error: {source}: not a Keras model: model.to_json() writes an object whose "
        f"class_name is Sequential, Functional, Model; this JSON is {kind}, not an object\n"
    )


def yaml_values(text: str) -> int:
    """The values of a YAML text as the reader counts them, by PyYAML's own parser: one per
    scalar (keys among them), list, mapping and alias."""
    import yaml

    kinds = (yaml.ScalarEvent, yaml.SequenceStartEvent, yaml.MappingStartEvent, yaml.AliasEvent)
    return sum(isinstance(event, kinds) for event in yaml.parse(text))


def test_a_spec_too_large_to_read_back_is_refused_at_import(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The importer refuses exactly the specs the reader would refuse to read back: one limit
    (convcalc.spec.document.MAX_NODES), lowered here to the spec's own count (PyYAML's events
    of the written YAML) and to one less."""
    import convcalc.spec.document as document

    text = sequential([None, 4], 100)
    written = to_yaml(from_json(text, "net"))
    held = yaml_values(written)
    assert held > 100 * 2
    monkeypatch.setattr(document, "MAX_NODES", held)
    assert analyse(load_spec(to_yaml(from_json(text, "net")))).output_shape == (4,)
    monkeypatch.setattr(document, "MAX_NODES", held - 1)
    with pytest.raises(SpecError, match=f"holds more than {held - 1:,} values"):
        load_spec(written)
    refused(text, f"would hold more than {held - 1:,} values .100 layers at the top.")


# --- self-attention: MultiHeadAttention called on one tensor ---------------------------------

GOLDEN = Path(__file__).resolve().parent / "golden" / "keras"
ENCODER, ENCODER_ROWS = GOLDEN / "encoder.json", GOLDEN / "encoder_rows.json"


def encoder() -> Any:
    """A pre-norm transformer encoder classifier: token embedding, x + MHA(LN(x)),
    x + Dense(Dense(LN(x))), then LN, average over the steps and a Dense head."""
    keras.backend.clear_session()
    ids = keras.Input((7,), dtype="int32", name="ids")
    x = layers.Embedding(50, 8, name="embed")(ids)
    h = layers.LayerNormalization(epsilon=1e-6, name="ln1")(x)
    h = layers.MultiHeadAttention(2, 4, dropout=0.1, name="mha")(h, h)
    x = layers.Add(name="res1")([x, h])
    h = layers.LayerNormalization(epsilon=1e-6, name="ln2")(x)
    h = layers.Dense(32, activation="gelu", name="mlp1")(h)
    h = layers.Dense(8, name="mlp2")(h)
    x = layers.Add(name="res2")([x, h])
    x = layers.LayerNormalization(epsilon=1e-6, name="ln3")(x)
    x = layers.GlobalAveragePooling1D(name="pool")(x)
    return keras.Model(ids, layers.Dense(3, name="head")(x), name="encoder")


def recorded_rows() -> dict[str, tuple[tuple[int, ...], int, int]]:
    table = json.loads(ENCODER_ROWS.read_text(encoding="utf-8"))
    return {name: (tuple(shape), t, n) for name, (shape, t, n) in table.items()}


def encoder_json(call: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """The recorded encoder's JSON, the attention layer's inbound node replaced by ``call``."""
    data = json.loads(ENCODER.read_text(encoding="utf-8"))
    if call is not None:
        (mha,) = [e for e in data["config"]["layers"] if e["name"] == "mha"]
        mha["inbound_nodes"] = call
    return data


def tensor(name: str) -> dict[str, Any]:
    """A tensor as Keras 3 writes it in a call: the layer it comes from."""
    return {"class_name": "__keras_tensor__", "config": {"keras_history": [name, 0, 0]}}


def test_recorded_encoder_imports_to_kerass_rows() -> None:
    """Keras' recorded rows (Keras 3.15.1, tests/golden/keras/encoder_rows.json), layer for
    layer: the attention a leaf of the first residual's body, the feed-forward the second's."""
    spec = from_json(ENCODER.read_text(encoding="utf-8"), "encoder")
    assert convcalc_rows(analyse(load_spec(spec))) == recorded_rows()
    assert convcalc_rows(analyse(load_spec(to_yaml(spec)))) == recorded_rows()
    assert [item["type"] for item in spec["layers"]] == [
        *("Embedding", "Add", "Add", "LayerNormalization", "GlobalAveragePooling1D", "Dense")
    ]
    first = spec["layers"][1]
    assert "shortcut" not in first and [item["name"] for item in first["body"]] == ["ln1", "mha"]
    assert first["body"][1] == {
        **{"type": "MultiHeadAttention", "name": "mha", "num_heads": 2, "key_dim": 4},
        "dropout": 0.1,
    }  # Keras' value_dim = key_dim and attention_axes = [1] are its defaults, left out


@pytest.mark.every_case
@pytest.mark.parametrize(
    "call",
    [
        {"args": [tensor("ln1"), tensor("ln1")], "kwargs": {}},
        {"args": [tensor("ln1"), tensor("ln1"), tensor("ln1")], "kwargs": {}},
        {"args": [], "kwargs": {"query": tensor("ln1"), "value": tensor("ln1")}},
        {"args": [tensor("ln1")], "kwargs": {"value": tensor("ln1"), "key": tensor("ln1")}},
        {"args": [tensor("ln1"), tensor("ln1")], "kwargs": {"use_causal_mask": True}},
        {"args": [tensor("ln1"), tensor("ln1"), None, None], "kwargs": {"training": False}},
        {"args": [tensor("ln1"), tensor("ln1")], "kwargs": {"return_attention_scores": False}},
    ],
    ids=["x-x", "x-x-x", "keywords", "mixed", "causal", "none-masks", "no-scores"],
)
def test_self_attention_calls_are_one_layer(call: dict[str, Any]) -> None:
    """Every way of calling MultiHeadAttention on one tensor reads as that one layer: the
    recorded rows (the forms Keras writes are checked live in the full run)."""
    spec = from_json(json.dumps(encoder_json([call])), "encoder")
    assert convcalc_rows(analyse(load_spec(spec))) == recorded_rows()


def test_a_tf_keras_self_attention_call() -> None:
    """tf.keras writes the call as ``[[query, node, index, kwargs]]``, value and key in the
    kwargs as ``[layer, node, index]``: self-attention read, cross-attention refused."""
    call = [[["ln1", 0, 0, {"value": ["ln1", 0, 0], "key": ["ln1", 0, 0]}]]]
    spec = from_json(json.dumps(encoder_json(call)), "encoder")
    assert convcalc_rows(analyse(load_spec(spec))) == recorded_rows()
    call = [[["ln1", 0, 0, {"value": ["embed", 0, 0]}]]]
    text = refused(json.dumps(encoder_json(call)), "cross-attention is not read")
    assert "query 'ln1' and value 'embed'" in text


@pytest.mark.every_case
@pytest.mark.parametrize(
    ("call", "match"),
    [
        (
            {"args": [tensor("ln1"), tensor("embed")], "kwargs": {}},
            r"\(query 'ln1' and value 'embed'\): convcalc's MultiHeadAttention is "
            r"self-attention, query = value = key one tensor",
        ),
        (
            {"args": [tensor("ln1"), tensor("ln1"), tensor("embed")], "kwargs": {}},
            r"query 'ln1' and value 'ln1' and key 'embed'.*cross-attention is not read",
        ),
        (
            {"args": [tensor("ln1"), tensor("ln1")], "kwargs": {"return_attention_scores": True}},
            "the attention scores are a second output",
        ),
        (
            {"args": [tensor("ln1"), tensor("ln1")], "kwargs": {"attention_mask": tensor("embed")}},
            "is given attention_mask= .a tensor besides the query.",
        ),
        (
            {"args": [tensor("ln1"), tensor("ln1"), None, tensor("embed")], "kwargs": {}},
            "is given query_mask=",
        ),
        ({"args": [tensor("ln1")], "kwargs": {}}, "without its query and value"),
        ({"args": [tensor("ln1"), 3.0], "kwargs": {}}, "is given 3.0 as its value: not a tensor"),
        (
            {"args": [tensor("ln1"), tensor("ln1")], "kwargs": {"value": tensor("ln1")}},
            "is given value twice",
        ),
        (
            {"args": [tensor("ln1"), tensor("ln1")], "kwargs": {"mask": tensor("ln1")}},
            "is given mask=, which MultiHeadAttention's call does not take",
        ),
        (
            {"args": [tensor("ln1"), tensor("ln1")], "kwargs": {"use_causal_mask": "yes"}},
            "use_causal_mask = 'yes': true or false",
        ),
    ],
    ids=[
        "cross",
        "cross-key",
        "scores",
        "mask",
        "positional-mask",
        "no-value",
        "number",
        "twice",
        "unknown",
        "flag",
    ],
)
def test_attention_calls_convcalc_cannot_read_are_refused_at_the_layer(
    call: dict[str, Any], match: str
) -> None:
    text = refused(json.dumps(encoder_json([call])), match)
    assert text.startswith("layers[3] 'mha' (MultiHeadAttention): ")
    assert "joins tensors with" not in text


def test_attention_arguments_the_dialect_refuses_are_refused_at_the_layer() -> None:
    """A gated attention, or attention over another axis than the steps: located refusals."""
    for key, value, match in [
        ("use_gate", True, "the gated variant is not read by convcalc"),
        ("attention_axes", [2], "convcalc attends over the steps only"),
    ]:
        data = encoder_json()
        (mha,) = [e for e in data["config"]["layers"] if e["name"] == "mha"]
        mha["config"][key] = value
        text = refused(json.dumps(data), match)
        assert f"layer 'mha' (MultiHeadAttention), argument {key}" in text


@pytest.mark.full
def test_the_encoder_recording_is_what_keras_writes() -> None:
    """Keras, built live, writes the recorded JSON and prints the recorded rows."""
    model = encoder()
    assert json.loads(model.to_json()) == encoder_json()
    rows = {k: [list(s), t, n] for k, (s, t, n) in keras_rows(model).items()}
    assert rows == json.loads(ENCODER_ROWS.read_text(encoding="utf-8"))


def test_encoder_block_imports_to_keras_rows() -> None:
    """The pre-norm encoder, built live, imports layer for layer to Keras' own rows."""
    spec = same(encoder())
    assert [item["type"] for item in spec["layers"]][1:3] == ["Add", "Add"]


@pytest.mark.full
@pytest.mark.parametrize(
    ("args", "call"),
    [
        ({}, lambda mha, x: mha(x, x, x)),
        ({}, lambda mha, x: mha(query=x, value=x, key=x)),
        ({}, lambda mha, x: mha(x, x, use_causal_mask=True, training=False)),
        ({"value_dim": 5, "output_shape": 6, "use_bias": False}, lambda mha, x: mha(x, x)),
        ({"output_shape": (6,), "attention_axes": -2}, lambda mha, x: mha(x, value=x)),
    ],
    ids=["x-x-x", "keywords", "causal", "sizes", "axes"],
)
def test_self_attention_calls_import_to_keras_rows(args: dict[str, Any], call: Any) -> None:
    """Keras' own rows for each call form and the arguments that change a size."""
    keras.backend.clear_session()
    x = keras.Input((7, 8))
    same(keras.Model(x, call(layers.MultiHeadAttention(3, 4, **args), x)))


@pytest.mark.full
def test_cross_attention_and_scores_are_refused_live() -> None:
    keras.backend.clear_session()
    x = keras.Input((7, 8))
    y = layers.Dense(8, name="memory")(x)
    model = keras.Model(x, layers.MultiHeadAttention(2, 4, name="cross")(x, y))
    text = refused(model.to_json(), "query 'input_layer' and value 'memory'")
    assert text.startswith("layers[2] 'cross' (MultiHeadAttention): ")
    keras.backend.clear_session()
    x = keras.Input((7, 8))
    out, _ = layers.MultiHeadAttention(2, 4, name="mha")(x, x, return_attention_scores=True)
    refused(keras.Model(x, out).to_json(), "the attention scores are a second output")
    keras.backend.clear_session()
    x = keras.Input((4, 5, 8))
    model = keras.Model(x, layers.MultiHeadAttention(2, 4, name="mha")(x, x))
    refused(model.to_json(), "self-attention on a sequence .steps, features., not .None, 4, 5, 8.")


if __name__ == "__main__":  # KERAS_BACKEND=torch python tests/test_keras_import.py: record
    built = encoder()
    ENCODER.write_text(json.dumps(json.loads(built.to_json()), indent=1) + "\n", encoding="utf-8")
    table = {k: [list(s), t, n] for k, (s, t, n) in keras_rows(built).items()}
    ENCODER_ROWS.write_text(json.dumps(table, indent=1) + "\n", encoding="utf-8")
