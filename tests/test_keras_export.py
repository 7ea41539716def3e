"""Exporting a Keras spec (``framework: keras``) to Keras and to PyTorch, against Keras 3.15.1
(torch backend) and PyTorch themselves.

To Keras: each bundled keras.applications spec's file builds a model equal to
``keras.applications.X(weights=None)`` operation for operation (by name: output shape,
trainable and non-trainable weights); random Keras stacks build to Keras' own shapes and counts.
To PyTorch: the module's parameters plus its buffers (BatchNorm's running statistics, the
adapted Normalization's) are Keras' count, and its output on a tensor is the spec's shape,
channels-first. The header and the refusals are compared with exact text.
"""

from __future__ import annotations

import math
import random
import types
from typing import Any

import pytest
from click.testing import CliRunner

from convcalc.analysis import analyse
from convcalc.cli import cli
from convcalc.errors import ConvcalcError
from convcalc.frameworks.keras.source import keras_to_keras
from convcalc.frameworks.torch.export import to_pytorch
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
