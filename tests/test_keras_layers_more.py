"""Keras layers and arguments the dialect reads exactly: ReLU's max_value, threshold and
negative_slope, PReLU's shared_axes, BatchNormalization's and LayerNormalization's axis on any
axis (a list for LayerNormalization), each compared with Keras 3 built live (shapes, trainable
and non-trainable counts, the weights' shapes; a refusal where Keras refuses); PyTorch's
nn.Hardtanh, which Keras' ReLU(max_value=m) is, compared with PyTorch; model.summary()'s rows
for a repeat; the PyTorch export of a Keras spec computing what Keras computes."""

from __future__ import annotations

import math
import types
from typing import Any

import pytest

from convcalc.analysis import analyse
from convcalc.errors import ConvcalcError, SpecError
from convcalc.frameworks.keras.export import to_keras
from convcalc.frameworks.torch.export import to_pytorch
from convcalc.render.keras import rows
from convcalc.spec.validate import load_spec
from tests.keras_oracle import KERAS_MARKS, keras

pytestmark = KERAS_MARKS


def keras_layer(shape: tuple[int, ...], item: dict[str, Any]) -> Any:
    """The Keras layer built on ``shape`` from a fresh session (its error where Keras refuses)."""
    keras.backend.clear_session()
    args = {k: v for k, v in item.items() if k != "type"}
    model = keras.Sequential([keras.Input(shape), getattr(keras.layers, item["type"])(**args)])
    return model.layers[-1]


def keras_facts(layer: Any) -> tuple[tuple[int, ...], int, int, list[tuple[int, ...]]]:
    """Output shape (batch left out), trainable and non-trainable counts, trainable weights'
    shapes."""
    trainable = sum(math.prod(w.shape) for w in layer.trainable_weights)
    frozen = sum(math.prod(w.shape) for w in layer.non_trainable_weights)
    shapes = [tuple(w.shape) for w in layer.trainable_weights]
    return tuple(layer.output.shape[1:]), trainable, frozen, shapes


def convcalc_facts(
    shape: tuple[int, ...], item: dict[str, Any]
) -> tuple[tuple[int, ...], int, int, list[tuple[int, ...]]]:
    report = analyse(load_spec({"framework": "keras", "input": list(shape), "layers": [item]}))
    assert report.dialect is not None
    (entry,) = report.layers
    steps = [e.step for e in entry.walk() if e.step is not None]
    frozen = sum(step.untrained_params for step in steps)
    shapes = [
        tuple(t) for step in steps for name, t in step.tensors.items() if name not in step.untrained
    ]
    return report.dialect.shape(entry.output_shape), entry.params - frozen, frozen, shapes


def compare(shape: tuple[int, ...], item: dict[str, Any], exact_weights: bool) -> None:
    """Keras and convcalc agree, or both refuse; ``exact_weights``: each trainable weight's
    shape too (PyTorch's prelu holds Keras' (1, 1, C) alpha as (C,): counts alone)."""
    try:
        layer = keras_layer(shape, item)
    except (ValueError, IndexError):
        with pytest.raises(ConvcalcError):
            convcalc_facts(shape, item)
        return
    expected, got = keras_facts(layer), convcalc_facts(shape, item)
    assert got[:3] == expected[:3]
    if exact_weights:
        assert got[3] == expected[3]


IMAGE = (4, 5, 3)
CASES = [
    # ReLU: PyTorch's relu6 / hardtanh(0, m) / Keras' own formula; negatives refused by both
    *(
        (IMAGE, {"type": "ReLU", **kw}, True)
        for kw in (
            {"max_value": 3.0},
            {"max_value": 6},
            {"max_value": 0},
            {"threshold": 0.5},
            {"threshold": 2.0, "negative_slope": 0.2},
            {"negative_slope": 0.1, "max_value": 2.0},
            {"max_value": -1},
            {"threshold": -1},
        )
    ),
    # PReLU: alpha of the input's shape, 1 along shared_axes (Keras counts the batch)
    *(
        (IMAGE, {"type": "PReLU", **kw}, kw.get("shared_axes") not in ([1, 2], [1, 2, 3]))
        for kw in (
            {},
            {"shared_axes": [1]},
            {"shared_axes": [2]},
            {"shared_axes": [3]},
            {"shared_axes": [1, 2]},
            {"shared_axes": [1, 2, 3]},
            {"shared_axes": 0},
            {"shared_axes": -1},
            {"shared_axes": [1, 1]},
            {"shared_axes": [4]},
            {"shared_axes": [-3]},
        )
    ),
    ((7,), {"type": "PReLU"}, True),
    ((6, 4), {"type": "PReLU", "shared_axes": [2]}, True),
    ((6, 4), {"type": "PReLU", "shared_axes": [1]}, False),
    # BatchNormalization over any axis: 4·n, 2·n never training; the batch refused
    *(
        (IMAGE, {"type": "BatchNormalization", **kw}, True)
        for kw in (
            {"axis": 1},
            {"axis": 2},
            {"axis": -3},
            {"axis": 3},
            {"axis": 1, "center": False},
            {"axis": 0},
            {"axis": 4},
            {"axis": -4},
        )
    ),
    ((6, 4), {"type": "BatchNormalization", "axis": 1}, True),
    ((2, 3, 4, 2), {"type": "BatchNormalization", "axis": 2}, True),
    # LayerNormalization over an axis or a list (sorted by Keras: gamma of their sizes)
    *(
        (IMAGE, {"type": "LayerNormalization", **kw}, True)
        for kw in (
            {"axis": 1},
            {"axis": 2},
            {"axis": [1, 2]},
            {"axis": [2, 1]},
            {"axis": [1, 2, 3]},
            {"axis": [-1, 1]},
            {"axis": [1, 3], "center": False, "scale": False},
            {"axis": 0},
            {"axis": 4},
        )
    ),
    ((6, 4), {"type": "LayerNormalization", "axis": 1}, True),
    ((2, 3, 4, 2), {"type": "LayerNormalization", "axis": [2, 3]}, True),
]


@pytest.mark.parametrize(("shape", "item", "exact_weights"), CASES)
def test_layer_is_keras(shape: tuple[int, ...], item: dict[str, Any], exact_weights: bool) -> None:
    """Each layer as Keras builds it on ``shape``: its output, both counts, its weights'
    shapes (where the records hold Keras' shape), or a refusal where Keras refuses."""
    compare(shape, item, exact_weights)


@pytest.mark.full
def test_channels_first_axes_are_keras() -> None:
    """A channels-first spec: the axes are Keras' as written, on (C, H, W)."""
    for item in (
        {"type": "BatchNormalization", "axis": 2},
        {"type": "LayerNormalization", "axis": [2, 3]},
        {"type": "PReLU", "shared_axes": [2, 3]},
        {"type": "PReLU", "shared_axes": [1]},
    ):
        layer = keras_layer((3, 4, 5), item)
        spec = {
            "framework": "keras",
            "data_format": "channels_first",
            "input": [3, 4, 5],
            "layers": [item],
        }
        report = analyse(load_spec(spec))
        assert report.total_params == sum(keras_facts(layer)[1:3])
        assert report.output_shape == tuple(layer.output.shape[1:])


@pytest.mark.full
def test_what_keras_builds_but_nothing_computes_is_refused() -> None:
    """LayerNormalization(axis=[1, 1]): Keras builds gamma (4, 4), which normalises nothing
    the records compute; refused at ``axis``, located."""
    item = {"type": "LayerNormalization", "axis": [1, 1]}
    assert keras_facts(keras_layer(IMAGE, item))[3] == [(4, 4), (4, 4)]
    with pytest.raises(SpecError, match="twice") as caught:
        load_spec({"framework": "keras", "input": list(IMAGE), "layers": [item]})
    assert (caught.value.path, caught.value.field) == ("layers[0]", "axis")


def run_source(source: str, function: str) -> Any:
    module = types.ModuleType("exported")
    exec(compile(source, "<exported>", "exec"), module.__dict__)
    return getattr(module, function)


@pytest.mark.full
def test_pytorch_export_computes_what_keras_computes() -> None:
    """The PyTorch export of ReLU with a threshold and a slope, a clipped ReLU, PReLU over
    (H, C) shared along W, BatchNormalization over H and LayerNormalization over (C, H):
    given Keras' weights, it gives Keras' output (eval mode), and holds as many values."""
    torch = pytest.importorskip("torch")
    layers = [
        {"type": "ReLU", "threshold": 0.3, "negative_slope": 0.2, "max_value": 1.5},
        {"type": "PReLU", "shared_axes": [2]},
        {"type": "ReLU", "max_value": 0.8},
        {"type": "BatchNormalization", "axis": 1},
        {"type": "LayerNormalization", "axis": [-1, 1]},
    ]
    spec = load_spec({"framework": "keras", "input": list(IMAGE), "layers": layers})
    keras.backend.clear_session()
    model = keras.Sequential(
        [keras.Input(IMAGE)]
        + [
            getattr(keras.layers, i["type"])(**{k: v for k, v in i.items() if k != "type"})
            for i in layers
        ]
    )
    alpha = torch.rand(4, 1, 3) - 0.5
    model.layers[1].alpha.assign(alpha.numpy())
    module = run_source(to_pytorch(analyse(spec), "Net", spec), "Net")().eval()
    state = {k: v for k, v in module.state_dict().items() if "num_batches" not in k}
    assert sum(v.numel() for v in state.values()) == model.count_params()
    (name,) = [k for k in state if k.endswith("alpha")]
    with torch.no_grad():
        module.get_parameter(name).copy_(alpha.permute(2, 0, 1))
    x = torch.randn(2, *IMAGE) * 2
    expected = keras.ops.convert_to_numpy(model(x.numpy(), training=False))
    with torch.no_grad():
        got = module(x.permute(0, 3, 1, 2)).permute(0, 2, 3, 1).numpy()
    assert abs(got - expected).max() < 1e-4


# --- PyTorch's nn.Hardtanh ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("min_val", "max_val"), [(-1.0, 1.0), (0.0, 3.0), (-2.5, -0.5), (1.0, 1.0), (2.0, 1.0)]
)
def test_hardtanh_is_pytorchs(min_val: float, max_val: float) -> None:
    """nn.Hardtanh: the shape kept, no parameters; refused exactly where PyTorch asserts
    max_val > min_val, at ``max_val``; the PyTorch export builds the same module."""
    torch = pytest.importorskip("torch")
    layer = {"type": "hardtanh", "min_val": min_val, "max_val": max_val}
    try:
        module = torch.nn.Hardtanh(min_val, max_val)
    except AssertionError:
        with pytest.raises(ConvcalcError, match="must be greater than min_val") as caught:
            analyse(load_spec({"input": [3, 4, 4], "layers": [layer]}))
        assert getattr(caught.value, "field", None) == "max_val"
        return
    spec = load_spec({"input": [3, 4, 4], "layers": [layer]})
    report = analyse(spec)
    assert report.output_shape == tuple(module(torch.zeros(1, 3, 4, 4)).shape[1:])
    assert report.total_params == sum(p.numel() for p in module.parameters()) == 0
    exported = run_source(to_pytorch(report, "Net", spec), "Net")()
    (leaf,) = [m for m in exported.modules() if isinstance(m, torch.nn.Hardtanh)]
    assert (leaf.min_val, leaf.max_val) == (min_val, max_val)


@pytest.mark.full
def test_hardtanh_to_keras_is_relu_max_value() -> None:
    """hardtanh(0, m) is Keras' ReLU(max_value=m), hardtanh(−1, 1) (PyTorch's default) its
    hard_tanh activation (the Keras export computes PyTorch's clamp); another min_val is
    refused at ``min_val``."""
    torch = pytest.importorskip("torch")
    x = torch.linspace(-3, 3, 6).reshape(1, 6)
    for bounds in ({"min_val": 0, "max_val": 2}, {}):
        spec = load_spec({"input": [6], "layers": [{"type": "hardtanh", **bounds}]})
        keras.backend.clear_session()
        model = run_source(to_keras(analyse(spec)), "build")()
        got = keras.ops.convert_to_numpy(model(x.numpy()))
        assert (abs(got - torch.nn.Hardtanh(**bounds)(x).numpy()) < 1e-6).all()
    refused = load_spec({"input": [6], "layers": [{"type": "hardtanh", "min_val": -2}]})
    with pytest.raises(ConvcalcError, match="min_val"):
        to_keras(analyse(refused))


# --- model.summary()'s rows, the labels ------------------------------------------------------


@pytest.mark.full
def test_repeat_rows_are_keras_summary() -> None:
    """A repeat is its copies in Keras' summary: each a fresh layer, named as Keras numbers
    them, with Keras' shapes and counts; the activation of ``activation=`` is
    Activation("relu") in the nested rows."""
    body = [{"type": "Conv2D", "filters": 4, "kernel_size": 1}, {"type": "BatchNormalization"}]
    head = [{"type": "Conv2D", "filters": 4, "kernel_size": 3, "activation": "relu"}]
    spec = {"type": "repeat", "times": 2, "layers": body}
    report = analyse(load_spec({"framework": "keras", "input": [8, 8, 3], "layers": [*head, spec]}))
    keras.backend.clear_session()
    built = [
        getattr(keras.layers, i["type"])(**{k: v for k, v in i.items() if k != "type"})
        for i in [*head, *body, *body]
    ]
    model = keras.Sequential([keras.Input((8, 8, 3)), *built])
    expected = [
        (
            layer.name,
            type(layer).__name__,
            f"(None, {', '.join(map(str, layer.output.shape[1:]))})",
            layer.count_params(),
        )
        for layer in model.layers
    ]
    assert rows(report) == expected
    (conv,) = [e for e in report.walk() if e.type == "relu"]
    assert conv.layer.describe(conv.input_shape) == 'Activation("relu")'
