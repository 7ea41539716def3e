"""The Keras dialect's reader and ``--format keras`` against Keras 3.15.1 itself (torch backend):
activations with Keras' defaults (on values), the summary's rows and default names as
``model.summary()`` prints them, names refused where Keras refuses them, 1-D padding and
cropping, PyTorch's argument names answered with Keras', and labels that are Keras calls
(each label, evaluated as Python, builds the layer the spec writes)."""

from __future__ import annotations

import contextlib
import inspect
import io
import types
from typing import Any

import pytest

from convcalc.analysis import analyse
from convcalc.errors import SpecError
from convcalc.frameworks.torch.export import to_pytorch
from convcalc.layers.base import KERAS_ARGUMENTS
from convcalc.render.keras import summary
from convcalc.spec.keras import ACTIVATIONS
from convcalc.spec.validate import load_spec
from tests.keras_oracle import KERAS_MARKS, keras

torch = pytest.importorskip("torch")
pytestmark = KERAS_MARKS

Item = dict[str, Any]


def spec(shape: list[int], layers: list[Item], name: str = "net") -> Any:
    return load_spec({"name": name, "framework": "keras", "input": shape, "layers": layers})


# --- 1. activations: Keras' defaults, on values ------------------------------------------------


def test_every_activation_computes_keras_function() -> None:
    """Each activation name the dialect reads, as a layer and as Dense's ``activation=``,
    exported to PyTorch, computes ``keras.activations.get(name)`` (leaky_relu's slope is
    Keras' 0.2, not PyTorch's 0.01)."""
    x = torch.linspace(-4, 4, 24).reshape(1, 4, 6)  # (batch, steps, features): last axis
    for name in ACTIVATIONS:
        expected = torch.as_tensor(keras.ops.convert_to_numpy(keras.activations.get(name)(x)))
        written = spec([4, 6], [{"type": "Activation", "activation": name}])
        source = to_pytorch(analyse(written), "Net", written)
        namespace = types.ModuleType("exported")
        exec(compile(source, "<exported>", "exec"), namespace.__dict__)
        got = namespace.Net().eval()(x.transpose(1, 2)).transpose(1, 2)  # channels-first
        assert torch.allclose(got, expected, atol=1e-5), name
    leaky = analyse(spec([6], [{"type": "Dense", "units": 3, "activation": "leaky_relu"}]))
    slope = leaky.layers[0].layer.layers[1].negative_slope  # type: ignore[attr-defined]
    assert (
        slope
        == inspect.signature(keras.activations.leaky_relu).parameters["negative_slope"].default
    )


# --- 2. --format keras: model.summary()'s rows ------------------------------------------------

MERGES = ("Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum")


def keras_layer(item: Item) -> Any:
    """A Keras layer object for a leaf or a Sequential, made as Python makes it: a
    Sequential's layers before the Sequential."""
    args = {k: v for k, v in item.items() if k not in ("type", "layers")}
    if item["type"] == "Sequential":
        return keras.Sequential([keras_layer(i) for i in item["layers"]], **args)
    return getattr(keras.layers, item["type"])(**args)


def keras_chain(items: list[Item], x: Any) -> Any:
    """The functional model's tensors: a merge's paths made before the merge."""
    for item in items:
        if item["type"] in MERGES:
            body = keras_chain(item["body"], x)
            shortcut = keras_chain(item.get("shortcut", []), x)
            args = {k: v for k, v in item.items() if k not in ("type", "body", "shortcut")}
            x = getattr(keras.layers, item["type"])(**args)([body, shortcut])
        else:
            x = keras_layer(item)(x)
    return x


def keras_summary(shape: list[int], layers: list[Item], name: str) -> str:
    keras.backend.clear_session()  # default names counted from a fresh session
    inputs = keras.Input(tuple(shape))
    model = keras.Model(inputs, keras_chain(layers, inputs), name=name)
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        model.summary()
    return buffer.getvalue()


def cells(text: str) -> list[tuple[str, ...]]:
    """Each row's name (type), shape and count, cells joined across wrapped lines; the totals;
    the "Connected to" column Keras adds to a functional model left out."""
    found: list[tuple[str, ...]] = []
    row: list[str] | None = None
    for line in [*text.splitlines(), "└"]:
        if line.startswith(("├", "└")) and row is not None:
            found.append(tuple(" ".join(c.split()) for c in row))
            row = None
        elif line.startswith("│"):
            parts = [p.strip() for p in line.strip().strip("│").split("│")][:3]
            row = parts if row is None else [f"{a} {b}" for a, b in zip(row, parts, strict=True)]
    return found + [(line.strip(),) for line in text.splitlines() if "params:" in line]


CONV = {"type": "Conv2D", "filters": 4, "kernel_size": 1}


@pytest.mark.parametrize(
    "layers",
    [
        # every merge's body rows before it; the standalone conv after an inner Sequential's
        [
            {"type": "Sequential", "layers": [CONV, {"type": "Sequential", "layers": [CONV]}]},
            CONV,
            *({"type": m, "body": [CONV, {"type": "ReLU"}]} for m in MERGES[1:]),
            {"type": "Add", "body": [CONV, {"type": "Subtract", "body": [CONV]}]},
            {"type": "Dense", "units": 3, "activation": "relu"},
        ],
        pytest.param(
            [
                {"type": "Sequential", "name": "s", "layers": [CONV]},
                {**CONV, "name": "c"},
                CONV,
                {"type": "Maximum", "name": "m", "body": [CONV], "shortcut": [CONV]},
            ],
            marks=pytest.mark.full,
        ),
    ],
)
def test_format_keras_rows_and_names(layers: list[Item]) -> None:
    """--format keras: every row's name, class, shape and count, and the totals, as Keras'
    own model.summary() of the model built from the spec's items."""
    ours = summary(analyse(spec([8, 8, 4], layers, "m")))
    assert cells(ours) == cells(keras_summary([8, 8, 4], layers, "m"))


def test_format_keras_escapes_control_characters() -> None:
    """A newline in a name is shown as ``\\n``: every line of the table is as wide."""
    text = summary(analyse(spec([6], [{"type": "Dense", "units": 2, "name": "a\nb\x1b[2J"}])))
    table = [line for line in text.splitlines() if line[:1] in "┏┃┡│├└"]
    assert len({len(line) for line in table}) == 1
    assert "a\\nb\\x1b[2J (Dense)" in text


def test_graph_is_labelled_as_its_merge() -> None:
    """A graph block joined by add is ``Add()`` (Keras' merge takes no join argument)."""
    paths = [{"name": "a", "layers": [CONV]}, {"name": "b", "from": "a", "layers": [CONV]}]
    for join, merge in (("add", "Add"), ("maximum", "Maximum"), ("concat", "Concatenate")):
        report = analyse(spec([8, 8, 4], [{"type": "graph", "join": join, "paths": paths}]))
        assert report.layers[0].description == f"{merge}()"
        assert merge in dir(keras.layers)


# --- 4, 5, 8: refused where Keras refuses, built where it builds --------------------------------


def keras_builds(shape: list[int], layers: list[Item]) -> tuple[int, ...] | None:
    """The output shape Keras builds (batch left out), or None where it refuses."""
    try:
        inputs = keras.Input(tuple(shape))
        out = keras_chain(layers, inputs)
        keras.Model(inputs, out)
    except (ValueError, TypeError):
        return None
    return tuple(out.shape[1:])


def convcalc_builds(shape: list[int], layers: list[Item]) -> tuple[int, ...] | None:
    try:
        report = analyse(spec(shape, layers))
    except SpecError as error:
        refused = error
    else:
        refused = None
    if refused is not None:
        assert refused.path, str(refused)  # located at the layer
        return None
    assert report.dialect is not None
    return report.dialect.shape(report.output_shape)


PAD1 = {"type": "ZeroPadding1D"}
CROP1 = {"type": "Cropping1D"}


@pytest.mark.parametrize(
    ("shape", "layers"),
    [
        ([8, 3], [{**PAD1, "padding": [3]}]),
        pytest.param([8, 3], [{**PAD1, "padding": [[1, 2]]}], marks=pytest.mark.full),
        pytest.param([8, 3], [{**PAD1, "padding": [1, 2]}], marks=pytest.mark.full),
        pytest.param([8, 3], [{**PAD1, "padding": 2}], marks=pytest.mark.full),
        pytest.param([8, 3], [{**CROP1, "cropping": [3]}], marks=pytest.mark.full),
        pytest.param([8, 3], [{**CROP1, "cropping": [1, 2]}], marks=pytest.mark.full),
        pytest.param([8, 3], [{**CROP1, "cropping": [1, 2, 3]}], marks=pytest.mark.full),
        pytest.param(
            [8, 8, 3], [{"type": "ZeroPadding2D", "padding": [[1, 2], 3]}], marks=pytest.mark.full
        ),
        # names: twice in one model refused; a Sequential is a model of its own; no '/'
        pytest.param([8, 3], [{**CONV, "type": "Conv1D", "name": "x"}] * 2, marks=pytest.mark.full),
        pytest.param(
            [8, 8, 3],
            [{**CONV, "name": "x"}, {"type": "Sequential", "layers": [{**CONV, "name": "x"}]}],
            marks=pytest.mark.full,
        ),
        pytest.param(
            [8, 8, 3],
            [{**CONV, "name": "x"}, {"type": "Add", "body": [{**CONV, "name": "x"}]}],
            marks=pytest.mark.full,
        ),
        pytest.param([8, 8, 3], [{"type": "ReLU", "name": "a/b"}], marks=pytest.mark.full),
        pytest.param([8, 8, 3], [{"type": "ReLU", "name": "a b:é"}], marks=pytest.mark.full),
        # strides with dilation (KerasConv's own refusal now)
        pytest.param(
            [9, 9, 3],
            [{**CONV, "kernel_size": 3, "strides": 2, "dilation_rate": 2}],
            marks=pytest.mark.full,
        ),
        pytest.param(
            [9, 3],
            [{"type": "Conv1D", "filters": 2, "kernel_size": 3, "strides": 2, "dilation_rate": 2}],
            marks=pytest.mark.full,
        ),
        pytest.param(
            [9, 9, 3],
            [{"type": "DepthwiseConv2D", "kernel_size": 3, "strides": 2, "dilation_rate": 2}],
            marks=pytest.mark.full,
        ),
    ],
)
def test_refused_where_keras_refuses(shape: list[int], layers: list[Item]) -> None:
    keras.backend.clear_session()
    assert convcalc_builds(shape, layers) == keras_builds(shape, layers)


def test_repeat_of_a_named_layer_is_a_name_used_twice() -> None:
    """A loop that makes ReLU(name="r") twice: Keras refuses the model; a repeat of 1 is
    one layer."""
    keras.backend.clear_session()
    twice = [{"type": "ReLU", "name": "r"}] * 2
    assert keras_builds([4], twice) is None
    with pytest.raises(SpecError, match="used 2 times"):
        analyse(spec([4], [{"type": "repeat", "times": 2, "layers": twice[:1]}]))
    assert convcalc_builds([4], [{"type": "repeat", "times": 1, "layers": twice[:1]}]) == (4,)


# --- 6. PyTorch's names answered with Keras' ---------------------------------------------------

WHERE = {
    "filters": "Conv2D",
    "units": "Dense",
    "use_bias": "Conv2D",
    "strides": "Conv2D",
    "dilation_rate": "Conv2D",
    "epsilon": "BatchNormalization",
    "rate": "Dropout",
    "size": "UpSampling2D",
}


@pytest.mark.parametrize("torch_name", list(KERAS_ARGUMENTS))
def test_pytorch_names_get_keras_names(torch_name: str) -> None:
    """Each PyTorch name of the one table is a Keras argument of the class it is written in
    (Keras' signature), and a spec writing PyTorch's name is told Keras'."""
    name = KERAS_ARGUMENTS[torch_name]
    kind = WHERE[name]
    assert name in inspect.signature(getattr(keras.layers, kind)).parameters
    with pytest.raises(SpecError, match=f"calls it '{name}'"):
        analyse(spec([8, 8, 3], [{"type": kind, torch_name: 1}]))


# --- 7. one rule for labels: the Keras call, which builds the layer written -------------------


@pytest.mark.parametrize(
    "item",
    [
        {"type": "BatchNormalization", "epsilon": 1e-5, "momentum": 0.9},
        {"type": "BatchNormalization", "axis": 1, "center": False},
        {"type": "LayerNormalization", "epsilon": 0.01, "center": False, "scale": False},
        {"type": "LayerNormalization", "axis": [1, 2]},
        {"type": "MaxPooling2D", "pool_size": 3, "strides": 3},
        {"type": "MaxPooling2D", "pool_size": 3, "strides": 2, "padding": "same"},
        {"type": "AveragePooling2D", "pool_size": [2, 1]},
        {"type": "Conv2D", "filters": 4, "kernel_size": 3, "strides": 2, "use_bias": False},
        {"type": "Conv2D", "filters": 4, "kernel_size": 1, "activation": "leaky_relu"},
        {"type": "DepthwiseConv2D", "kernel_size": 3, "depth_multiplier": 2},
        {"type": "SeparableConv2D", "filters": 4, "kernel_size": 3, "padding": "same"},
        {"type": "Dense", "units": 4, "use_bias": False},
        {"type": "ReLU", "max_value": 6},
        {"type": "ReLU", "threshold": 0.5},
        {"type": "LeakyReLU", "negative_slope": 0.1},
        {"type": "ELU"},
        {"type": "PReLU", "shared_axes": [1, 2]},
        {"type": "Dropout", "rate": 0.5},
        {"type": "UpSampling2D", "size": 2, "interpolation": "bilinear"},
        {"type": "ZeroPadding2D", "padding": [[1, 2], [0, 1]]},
        {"type": "Activation", "activation": "gelu"},
        {"type": "GlobalAveragePooling2D"},
    ],
)
def test_label_builds_the_layer_written(item: Item) -> None:
    """The label, evaluated with Keras' layer classes, gives the configuration of the layer
    the spec's arguments build (the name aside): no argument that changes it left out."""
    report = analyse(spec([8, 8, 4], [item]))
    label = report.layers[0].description
    made = eval(label, {"__builtins__": {}}, vars(keras.layers))
    written = getattr(keras.layers, item["type"])(**{k: v for k, v in item.items() if k != "type"})
    assert {**made.get_config(), "name": ""} == {**written.get_config(), "name": ""}, label
