"""Exporting a Keras spec (``framework: keras``) to Keras and to PyTorch, against Keras 3.15.1
(torch backend) and PyTorch themselves.

To Keras: each bundled keras.applications spec's file builds a model equal to
``keras.applications.X(weights=None)`` operation for operation (by name: output shape,
trainable and non-trainable weights); random Keras stacks build to Keras' own shapes and counts.
To PyTorch: the module's parameters plus its buffers (BatchNorm's running statistics, the
adapted Normalization's) are Keras' count, and its output on a tensor is the spec's shape,
channels-first. The header and the refusals are compared with exact text.

Every class of the dialect (:data:`convcalc.spec.keras.CLASSES`, each block also frozen)
exports to a file Keras builds with convcalc's output shape and trainable and non-trainable
counts; the merges join in the dialect's order (values against numpy); 1,000 nested blocks
export without recursion; a functional model with a fork and Subtract, imported from its JSON
and exported back, is the original layer for layer (rows and wiring, from Keras' own JSON).
"""

from __future__ import annotations

import json
import math
import random
import sys
import types
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner

from convcalc.analysis import analyse
from convcalc.cli import cli
from convcalc.errors import ConvcalcError
from convcalc.frameworks.keras.importer import from_json, to_yaml
from convcalc.frameworks.keras.source import keras_to_keras
from convcalc.frameworks.torch.export import to_pytorch
from convcalc.spec.keras import BLOCKS, CLASSES
from convcalc.spec.validate import load_spec
from tests.keras_oracle import KERAS_MARKS, keras, keras_rows
from tests.zoo_scripts import load

torch = pytest.importorskip("torch")
pytestmark = KERAS_MARKS

apps = load("keras_apps")
QUICK = {"keras_mobilenet_v3_small"}  # ops, Rescaling, squeeze-and-excitation, hard-swish
NAMES = [pytest.param(name, marks=() if name in QUICK else pytest.mark.full) for name in apps.APPS]


def run_source(source: str, function: str) -> Any:
    module = types.ModuleType("exported")
    exec(compile(source, "<exported>", "exec"), module.__dict__)
    return getattr(module, function)


def build_keras(spec: Any) -> Any:
    """The model of the Keras export of ``spec``, built from a clear session on the meta
    device (Keras' automatic names start afresh, as keras.applications' did)."""
    source = keras_to_keras(spec, analyse(spec))
    keras.backend.clear_session()
    with keras.device("meta"):
        return run_source(source, "build")()


def torch_count(module: Any) -> int:
    """What the module keeps (its state dict: parameters and persistent buffers, BatchNorm's
    running statistics among them), but BatchNorm's num_batches_tracked (Keras has none)."""
    state = module.state_dict()
    return sum(v.numel() for k, v in state.items() if not k.endswith("num_batches_tracked"))


def build_torch(spec: Any, device: str = "cpu") -> Any:
    report = analyse(spec)
    cls_name = "Net"
    source = to_pytorch(report, cls_name, spec)
    with torch.device(device):
        return run_source(source, cls_name)().eval()


# --- the bundled keras.applications --------------------------------------------------------


@pytest.mark.parametrize("name", NAMES)
def test_application_to_keras(name: str) -> None:
    ours = build_keras(load_spec(name))
    assert keras_rows(ours) == keras_rows(apps.build(name))


@pytest.mark.parametrize("name", NAMES)
def test_application_to_pytorch(name: str) -> None:
    spec = load_spec(name)
    report = analyse(spec)
    module = build_torch(spec, "meta")
    assert torch_count(module) == report.total_params == apps.APPS[name][2]
    with torch.no_grad():
        out = module(torch.zeros(1, *report.input_shape, device="meta"))
    assert tuple(out.shape[1:]) == report.output_shape


# --- random Keras stacks --------------------------------------------------------------------


def random_layer(rng: random.Random) -> dict[str, Any]:
    """One Keras layer of the dialect, drawn among those that keep (H, W, C) an image."""
    k, s = rng.randint(1, 4), rng.randint(1, 3)
    pad = rng.choice(["valid", "same"])
    kind = rng.choice(
        [
            "Conv2D",
            "DepthwiseConv2D",
            "SeparableConv2D",
            "Conv2DTranspose",
            "MaxPooling2D",
            "AveragePooling2D",
            "BatchNormalization",
            "ZeroPadding2D",
            "Cropping2D",
            "Dense",
            "Activation",
            "ReLU",
            "UpSampling2D",
            "Add",
            "Concatenate",
            "Multiply",
        ]
    )
    conv = {"kernel_size": k, "strides": s, "padding": pad}
    if kind in ("Conv2D", "SeparableConv2D", "Conv2DTranspose"):
        return {"type": kind, "filters": rng.randint(1, 6), **conv}
    if kind == "DepthwiseConv2D":
        return {"type": kind, "depth_multiplier": rng.randint(1, 2), **conv}
    if kind in ("MaxPooling2D", "AveragePooling2D"):
        return {"type": kind, "pool_size": k, "strides": s, "padding": pad}
    if kind == "BatchNormalization":
        return {"type": kind, "center": rng.random() < 0.7, "scale": rng.random() < 0.7}
    if kind in ("ZeroPadding2D", "Cropping2D"):
        field = "padding" if kind == "ZeroPadding2D" else "cropping"
        return {"type": kind, field: [[rng.randint(0, 2), rng.randint(0, 2)]] * 2}
    if kind == "Dense":
        return {"type": kind, "units": rng.randint(1, 6), "activation": "relu"}
    if kind == "Activation":
        return {"type": kind, "activation": rng.choice(["gelu", "swish", "hard_sigmoid"])}
    if kind == "ReLU":
        return {"type": kind, "max_value": 6}
    if kind == "UpSampling2D":
        return {"type": kind, "size": 2}
    inner = {"type": "Conv2D", "filters": 4, "kernel_size": 3, "padding": "same"}
    if kind == "Add":
        return {"type": kind, "body": [inner, {"type": "ReLU"}], "shortcut": [dict(inner)]}
    if kind == "Concatenate":
        return {
            "type": kind,
            "branches": [
                [inner],
                [{"type": "MaxPooling2D", "pool_size": 3, "strides": 1, "padding": "same"}],
            ],
        }
    return {"type": kind, "body": [{"type": "GlobalAveragePooling2D", "keepdims": True}]}


def random_spec(seed: int) -> Any:
    """A Keras spec of a few random layers that convcalc reads (drawn again where it refuses,
    as Keras would)."""
    rng = random.Random(seed)
    layers: list[dict[str, Any]] = []
    size = rng.randint(8, 20)
    data = {"name": f"random{seed}", "framework": "keras", "input": [size, size + 1, 3]}
    while len(layers) < 5:
        item = random_layer(rng)
        try:
            spec = load_spec({**data, "layers": [*layers, item]})
            analyse(spec)
        except ConvcalcError:
            continue
        layers.append(item)
    return load_spec({**data, "layers": layers})


SEEDS = [pytest.param(seed, marks=() if seed == 0 else pytest.mark.full) for seed in range(40)]


@pytest.mark.parametrize("seed", SEEDS)
def test_random_stack(seed: int) -> None:
    spec = random_spec(seed)
    report = analyse(spec)
    assert report.dialect is not None
    model = build_keras(spec)
    assert tuple(model.output.shape[1:]) == report.dialect.shape(report.output_shape)
    assert model.count_params() == report.total_params
    assert sum(math.prod(w.shape) for w in model.trainable_weights) == report.trainable_params
    try:
        module = build_torch(spec)
    except ConvcalcError as exc:  # only the refusal the export documents
        refusal = str(exc)
        assert "AvgPool pads evenly" in refusal
        return
    assert torch_count(module) == report.total_params
    with torch.no_grad():
        out = module(torch.randn(2, *report.input_shape))
    assert tuple(out.shape[1:]) == report.output_shape


@pytest.mark.full
def test_pytorch_computes_what_keras_computes() -> None:
    """Keras' uneven same padding, pools and BatchNormalization in eval mode: the PyTorch
    module, given Keras' weights, gives Keras' output."""
    layers = [
        {"type": "Conv2D", "filters": 4, "kernel_size": 3, "strides": 2, "padding": "same"},
        {"type": "BatchNormalization", "scale": False},
        {"type": "MaxPooling2D", "pool_size": 2, "strides": 2, "padding": "same"},
        {"type": "AveragePooling2D", "pool_size": 3, "strides": 2, "padding": "same"},
    ]
    spec = load_spec({"framework": "keras", "input": [12, 12, 3], "layers": layers})
    keras.backend.clear_session()
    model = run_source(keras_to_keras(spec, analyse(spec)), "build")()
    module = build_torch(spec)
    conv, norm = model.layers[1], model.layers[2]
    torch_conv, torch_norm = module[0][1], module[1]
    kernel, bias = (torch.as_tensor(keras.ops.convert_to_numpy(w)) for w in conv.weights)
    beta, mean, variance = (torch.as_tensor(keras.ops.convert_to_numpy(w)) for w in norm.weights)
    with torch.no_grad():
        torch_conv.weight.copy_(kernel.permute(3, 2, 0, 1))
        torch_conv.bias.copy_(bias)
        torch_norm.bias.copy_(beta + 0.5)
        norm.weights[0].assign(keras.ops.convert_to_tensor((beta + 0.5).numpy()))
        torch_norm.running_mean.copy_(mean + 0.25)
        norm.weights[1].assign(keras.ops.convert_to_tensor((mean + 0.25).numpy()))
        torch_norm.running_var.copy_(variance)
    x = torch.randn(2, 12, 12, 3)
    expected = keras.ops.convert_to_numpy(model(x.numpy(), training=False))
    with torch.no_grad():
        got = module(x.permute(0, 3, 1, 2)).permute(0, 2, 3, 1).numpy()
    assert got.shape == expected.shape
    assert abs(got - expected).max() < 1e-5


# --- every class of the dialect: exported, built by Keras, equal counts ---------------------

IMAGE = [8, 8, 3]  # a spec's input by the rank a class takes (None: any; an image here)
INPUTS = {1: [16, 3], 2: IMAGE, 3: [6, 6, 6, 3], None: IMAGE}
CONV = {"kernel_size": 3, "strides": 2, "padding": "same"}
SAME = {"filters": 3, "kernel_size": 1}
EXAMPLES: dict[str, dict[str, Any]] = {
    **{f"Conv{n}D": {"filters": 4, **CONV} for n in (1, 2, 3)},
    **{f"Conv{n}DTranspose": {"filters": 4, "kernel_size": 3, "strides": 2} for n in (1, 2, 3)},
    **{f"DepthwiseConv{n}D": {"kernel_size": 3, "depth_multiplier": 2} for n in (1, 2)},
    **{f"SeparableConv{n}D": {"filters": 5, "kernel_size": 3, "padding": "same"} for n in (1, 2)},
    **{f"MaxPooling{n}D": {"pool_size": 2} for n in (1, 2, 3)},
    **{f"AveragePooling{n}D": {"pool_size": 3, "strides": 2, "padding": "same"} for n in (1, 2, 3)},
    **{f"GlobalAveragePooling{n}D": {} for n in (1, 2, 3)},
    **{f"GlobalMaxPooling{n}D": {"keepdims": True} for n in (1, 2, 3)},
    **{f"ZeroPadding{n}D": {"padding": 1} for n in (1, 2, 3)},
    "Cropping1D": {"cropping": [1, 2]},
    "Cropping2D": {"cropping": [[1, 0], [0, 2]]},
    "Cropping3D": {"cropping": 1},
    "UpSampling1D": {"size": 3},
    "UpSampling2D": {"size": 2, "interpolation": "bilinear"},
    "UpSampling3D": {"size": 2},
    **{f"SpatialDropout{n}D": {"rate": 0.2} for n in (1, 2, 3)},
    "Dense": {"units": 5, "activation": "relu"},
    "Flatten": {},
    "BatchNormalization": {"center": False},
    "LayerNormalization": {},
    "Dropout": {"rate": 0.5},
    "Activation": {"activation": "gelu"},
    "ReLU": {"max_value": 6},
    "LeakyReLU": {"negative_slope": 0.2},
    "PReLU": {"shared_axes": [1, 2]},
    "ELU": {},
    "Softmax": {},
    "Reshape": {"target_shape": [64, 3]},
    "Permute": {"dims": [2, 1, 3]},
    "Sequential": {"name": "seq", "layers": [{"type": "Conv2D", **SAME}, {"type": "ReLU"}]},
    "Add": {"body": [{"type": "Conv2D", **SAME}]},
    "Concatenate": {"branches": [[{"type": "Conv2D", **SAME}], [{"type": "ReLU"}]]},
    "Multiply": {"body": [{"type": "GlobalAveragePooling2D", "keepdims": True}]},
    **{
        kind: {"body": [{"type": "ReLU"}], "shortcut": [{"type": "Conv2D", **SAME}]}
        for kind in ("Subtract", "Average", "Maximum", "Minimum")
    },
    "graph": {
        "join": "maximum",
        "paths": [
            {"name": "a", "layers": [{"type": "Conv2D", **SAME}]},
            {"name": "b", "from": "a", "layers": [{"type": "BatchNormalization"}]},
            {"name": "c", "layers": [{"type": "Conv2D", **SAME, "use_bias": False}]},
        ],
        "output": ["c", "b", "a"],
    },
    "repeat": {
        "times": 3,
        "layers": [{"type": "Conv2D", **SAME}, {"type": "BatchNormalization"}],
    },
    "Rescaling": {"scale": 0.5, "offset": 1},
    "Normalization": {"mean": [1, 2, 3], "variance": [1, 4, 9]},
    "LayerScale": {"init_values": 0.1, "projection_dim": 3},
    "ops.add": {"value": 1},
    "ops.multiply": {"value": 2},
    "Embedding": {"input_dim": 50, "output_dim": 8},
    "MultiHeadAttention": {"num_heads": 2, "key_dim": 3, "value_dim": 5, "output_shape": 6},
}
# the classes whose input is not their rank's: token ids (L,), a sequence (L, E)
EXAMPLE_INPUTS = {"Embedding": [7], "MultiHeadAttention": [7, 8]}


def test_every_class_has_an_example() -> None:
    assert set(EXAMPLES) == set(CLASSES)


def counts(model: Any) -> tuple[tuple[int | None, ...], int, int]:
    """Keras' own output shape (batch left out), trainable and non-trainable parameters."""
    trainable = sum(math.prod(w.shape) for w in model.trainable_weights)
    frozen = sum(math.prod(w.shape) for w in model.non_trainable_weights)
    return tuple(model.output.shape[1:]), trainable, frozen


def report_counts(report: Any) -> tuple[tuple[int, ...], int, int]:
    shape = report.dialect.shape(report.output_shape)
    return shape, report.trainable_params, report.total_params - report.trainable_params


BLOCK_KINDS = [kind for kind, (_, _, builder) in CLASSES.items() if builder in BLOCKS]


@pytest.mark.parametrize(
    ("kind", "trainable"),
    [
        *(pytest.param(k, True, marks=() if k == "graph" else pytest.mark.full) for k in CLASSES),
        *(pytest.param(k, False, marks=pytest.mark.full) for k in BLOCK_KINDS),
    ],
)
def test_every_class_builds_as_counted(kind: str, trainable: bool) -> None:
    """Each class of the dialect (each block also written ``trainable: false``, which Keras
    has its layers written with): the file Keras builds has convcalc's output shape,
    trainable and non-trainable counts."""
    layer = {"type": kind, **EXAMPLES[kind], **({} if trainable else {"trainable": False})}
    shape = EXAMPLE_INPUTS.get(kind, INPUTS[CLASSES[kind][1]])
    data = {"framework": "keras", "input": shape, "layers": [layer]}
    spec = load_spec(data)
    assert counts(build_keras(spec)) == report_counts(analyse(spec))


# --- merges in order, deep nests, an imported model back to Keras ----------------------------


def test_merges_join_in_the_dialects_order() -> None:
    """Subtract is body − shortcut, a graph's subtract its first output minus the others, a
    lone Multiply the input times its body (with a shortcut: body times shortcut), a repeat
    its copies one after the other: Keras' values on a random input are those
    computed here with numpy from the dialect's definitions."""
    times = [{"type": "ops.multiply", "value": 3}]
    layers = [
        {"type": "Subtract", "body": times},  # 3x − x
        {
            "type": "graph",
            "join": "subtract",
            "paths": [
                {"name": "a", "layers": [{"type": "ops.add", "value": 1}]},
                {"name": "b", "from": "a", "layers": [{"type": "ops.multiply", "value": 2}]},
            ],
            "output": ["b", "a"],
        },
        {"type": "Multiply", "body": [{"type": "ops.add", "value": 1}]},
        {"type": "Multiply", "body": [{"type": "ops.add", "value": 1}], "shortcut": times},
        {"type": "Average", "body": [{"type": "ops.add", "value": 2}], "shortcut": times},
        {"type": "Maximum", "body": [{"type": "ops.multiply", "value": -1}]},
        {
            "type": "repeat",
            "times": 2,
            "layers": [{"type": "Minimum", "body": [{"type": "ops.add", "value": -1}]}],
        },
    ]
    spec = load_spec({"framework": "keras", "input": [3, 4, 2], "layers": layers})
    keras.backend.clear_session()
    model = run_source(keras_to_keras(spec, analyse(spec)), "build")()
    x = np.random.default_rng(0).normal(size=(2, 3, 4, 2)).astype("float32")
    y = 3 * x - x
    y = 2 * (y + 1) - (y + 1)
    y = y * (y + 1)
    y = (y + 1) * (3 * y)
    y = ((y + 2) + 3 * y) / 2
    y = np.maximum(-y, y)
    for _ in range(2):  # the repeat's copies, each on the one before
        y = np.minimum(y - 1, y)
    got = keras.ops.convert_to_numpy(model(x))
    assert np.allclose(got, y, atol=1e-5)


def nested_adds(depth: int) -> dict[str, Any]:
    """``depth`` Add blocks, each the body of the next, a ReLU innermost; a 1×1 Conv2D in the
    shortcut of every 100th."""
    item: dict[str, Any] = {"type": "ReLU"}
    for i in range(depth):
        short = [{"type": "Conv2D", "filters": 3, "kernel_size": 1}] if i % 100 == 0 else []
        item = {"type": "Add", "body": [item], "shortcut": short}
    return {"name": f"adds{depth}", "framework": "keras", "input": [4, 4, 3], "layers": [item]}


def test_nested_blocks_export_without_recursion() -> None:
    """400 nested Adds (past the depth where a recursive writer fails): one statement per
    layer, the file compiles."""
    spec = load_spec(nested_adds(400))
    source = keras_to_keras(spec, analyse(spec))
    assert source.count("keras.layers.Add(") == 400
    compile(source, "<exported>", "exec")


@pytest.mark.full
def test_a_thousand_nested_blocks_build() -> None:
    """1,000 nested Adds, as deep as the reader takes: Keras builds the file (its own graph
    walk recurses per layer: given a deeper recursion limit) to convcalc's counts."""
    spec = load_spec(nested_adds(1000))
    report = analyse(spec)
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(20_000)
    try:
        model = build_keras(spec)
    finally:
        sys.setrecursionlimit(limit)
    assert len(model.layers) == 1 + 1 + 1000 + 10  # input, ReLU, the Adds, the Conv2Ds
    assert counts(model) == report_counts(report)


# Keras' merges whose inputs may come in any order (Subtract's and Concatenate's may not)
COMMUTATIVE = {"Add", "Average", "Maximum", "Minimum", "Multiply"}


def wiring(model: Any) -> dict[str, tuple[str, list[str]]]:
    """Keras' own JSON of a functional model: each layer's class and the layers it is called
    on, in order (the input layer named ``<input>``; sorted for a commutative merge)."""
    config = json.loads(model.to_json())["config"]
    inputs = {layer["name"] for layer in config["layers"] if layer["class_name"] == "InputLayer"}
    out: dict[str, tuple[str, list[str]]] = {}
    for layer in config["layers"]:
        if layer["class_name"] == "InputLayer":
            continue
        called: list[str] = []
        stack: list[Any] = [layer["inbound_nodes"]]
        while stack:
            node = stack.pop()
            if isinstance(node, dict) and "keras_history" in node.get("config", {}):
                name = node["config"]["keras_history"][0]
                called.append("<input>" if name in inputs else name)
            elif isinstance(node, dict):
                stack.extend(reversed(list(node.values())))
            elif isinstance(node, list):
                stack.extend(reversed(node))
        if layer["class_name"] in COMMUTATIVE:
            called.sort()
        out[layer["name"]] = (layer["class_name"], called)
    return out


def test_imported_graph_and_subtract_round_trip() -> None:
    """A functional Keras model with a fork (imported as a graph block) and Subtract,
    Average, Maximum, Minimum: its JSON imported, the YAML exported back to Keras, built;
    layer for layer Keras' rows and wiring (which layer is called on which, in order where
    the order counts: Subtract's first minus its second) are the original's."""
    layers = keras.layers
    keras.backend.clear_session()
    x = keras.Input((8, 8, 4))
    a = layers.Conv2D(4, 1, name="a")(x)
    b = layers.Conv2D(4, 3, padding="same", name="b")(a)
    c = layers.BatchNormalization(name="c")(a)
    d = layers.Conv2D(4, 1, name="d")(x)
    m = layers.Add(name="join")([b, c, d])
    s = layers.Subtract(name="sub")([layers.Conv2D(4, 1, name="e")(m), m])
    s = layers.Subtract(name="sub2")([s, layers.ReLU(name="r")(s)])
    v = layers.Average(name="avg")([s, layers.Conv2D(4, 1, name="f")(s)])
    v = layers.Minimum(name="min")([layers.ReLU(name="g")(v), v])
    out = layers.Maximum(name="max")([layers.DepthwiseConv2D(3, padding="same", name="h")(v), v])
    original = keras.Model(x, out, name="m")
    spec = from_json(original.to_json(), "m")
    kinds = [item["type"] for item in spec["layers"]]
    assert "graph" in kinds and "Subtract" in kinds
    exported = build_keras(load_spec(to_yaml(spec)))
    assert keras_rows(exported) == keras_rows(original)
    assert wiring(exported) == wiring(original)


# --- exact text: the headers and the refusals ----------------------------------------------


def test_keras_header() -> None:
    result = CliRunner().invoke(cli, ["export", "hw3-q3-keras", "--to", "keras"])
    assert result.exit_code == 0
    assert result.output.split("\nimport keras\n")[0] == (
        '"""A Keras 3 model generated by convcalc from the Keras spec hw3-q3-keras.\n'
        "\n"
        "Input: 128x128x3 (one sample, channels-last).\n"
        "Output: 11x11x128.\n"
        "Parameters: 71,840 (71,840 trainable, 0 non-trainable).\n"
        "build() builds it with the functional API, layer for layer as the spec writes it:\n"
        "the same Keras classes, arguments and names, Keras' defaults for the others. The\n"
        "comments give each layer's output shape without the batch.\n"
        '"""\n'
    )
    assert (
        "    x = keras.layers.Conv2D(filters=32, kernel_size=8, strides=2)(inputs)  # 61x61x32\n"
        in result.output
    )


def test_pytorch_header() -> None:
    result = CliRunner().invoke(cli, ["export", "hw3-q3-keras", "--to", "pytorch"])
    assert result.exit_code == 0
    assert result.output.split("\nimport torch\n")[0] == (
        '"""A PyTorch module generated by convcalc from the spec hw3-q3-keras.\n'
        "\n"
        "Input: 3x128x128 (one sample).\n"
        "Output: 128x11x11.\n"
        "Parameters: 71,840 (all trainable).\n"
        "PyTorch adds the batch dimension in front; the comments give each layer's output shape\n"
        "without it.\n"
        "Written from a Keras spec: the input is channels-first, (C, *spatial), PyTorch's\n"
        "layout (3x128x128 for Keras' 128x128x3).\n"
        "Each layer computes what Keras' does: its same padding (an uneven one explicit),\n"
        "BatchNormalization's epsilon and momentum (1 - Keras'), Dense on the last axis.\n"
        '"""\n'
    )


def test_refusals(tmp_path: Any) -> None:
    avg = tmp_path / "avg.yaml"
    avg.write_text(
        "framework: keras\ninput: [8, 8, 3]\nlayers:\n"
        "  - {type: AveragePooling2D, pool_size: 2, strides: 1, padding: same}\n"
    )
    result = CliRunner().invoke(cli, ["export", str(avg), "--to", "pytorch"])
    assert result.exit_code == 2
    assert result.output == (
        f"Error: {avg}:4: layers[0] (avgpool), field padding: cannot be exported to PyTorch: "
        "Keras' same pads [0, 0] before and [1, 1] after and averages the real values only; "
        "PyTorch's AvgPool pads evenly, and its ceil_mode last window does not give Keras' "
        "size here (stride 1 with an even pool_size)\n"
    )
    scale = tmp_path / "scale.yaml"
    scale.write_text(
        "framework: keras\ndata_format: channels_first\ninput: [4, 8, 8]\nlayers:\n"
        "  - {type: LayerScale, init_values: 0.1, projection_dim: 4}\n"
    )
    result = CliRunner().invoke(cli, ["export", str(scale), "--to", "keras"])
    assert result.exit_code == 2
    assert result.output == (
        f"Error: {scale}:5: layers[0] (layer_scale): cannot be exported to Keras: LayerScale "
        "scales the last axis, the channels only channels-last\n"
    )


def test_keras_refusals(tmp_path: Any) -> None:
    """A name of a Sequential's own model that its inline writing (it holds an op) puts in
    the outer model's is refused by the reader, as Keras refuses it (written as
    keras.Sequential, the same names build); a merge of one tensor, which the reader takes,
    is refused by the export."""
    layers = [
        {"type": "ReLU", "name": "r"},
        {"type": "Sequential", "layers": [{"type": "ReLU", "name": "r"}]},
    ]
    spec = load_spec({"framework": "keras", "input": [8, 8, 3], "layers": layers})
    assert [layer.name for layer in build_keras(spec).layers][1:] == ["r", "sequential"]
    twice = tmp_path / "twice.yaml"
    twice.write_text(
        "framework: keras\ninput: [8, 8, 3]\nlayers:\n"
        "  - {type: ReLU, name: r}\n"
        "  - type: Sequential\n    layers:\n"
        "      - {type: ops.add, value: 1}\n"
        "      - {type: ReLU, name: r}\n"
    )
    result = CliRunner().invoke(cli, ["export", str(twice), "--to", "keras"])
    assert result.exit_code == 2
    assert result.output == (
        f"Error: {twice}:8: layers[1].layers[1] (ReLU), field name: the name 'r' is already "
        "the name of layers[0]: Keras refuses a name used twice in a model (all names must be "
        "unique)\n"
    )
    one = tmp_path / "one.yaml"
    one.write_text(
        "framework: keras\ninput: [8, 8, 3]\nlayers:\n"
        "  - type: graph\n    join: subtract\n    paths:\n"
        "      - {name: a, layers: [{type: ReLU}]}\n"
        "      - {name: b, from: a, layers: [{type: ReLU}]}\n"
    )
    result = CliRunner().invoke(cli, ["export", str(one), "--to", "keras"])
    assert result.exit_code == 2
    assert result.output == (
        f"Error: {one}:4: layers[0] (graph): cannot be exported to Keras: Keras' Subtract "
        "joins two tensors or more, and this block joins 1\n"
    )
