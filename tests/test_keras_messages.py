"""A Keras spec's errors, JSON and lint fixes in Keras' words and order.

The messages are compared exactly; what they claim is checked against Keras 3 itself (on its
torch backend: which layers it refuses, the shapes and weights it builds, the output sizes a
lint fix promises) or against PyTorch (the 64-bit sizes), never against convcalc.
"""

from __future__ import annotations

import json
import math
from typing import Any

import pytest

from convcalc.analysis import analyse
from convcalc.arith import Refusal
from convcalc.errors import SpecError
from convcalc.layers.conv import KerasConv, KerasDepthwiseConv
from convcalc.spec.validate import load_spec
from convcalc.views.lint import lint, render_text

KERAS_WARNINGS = [
    pytest.mark.torch,
    pytest.mark.filterwarnings("ignore::DeprecationWarning"),
    pytest.mark.filterwarnings("ignore::UserWarning"),
]


@pytest.fixture(scope="module")
def keras() -> Any:
    """Keras 3 on its torch backend (tests/keras_oracle.py), or the test skipped."""
    from tests.keras_oracle import keras

    return keras


def keras_spec(shape: list[int], *layers: str, head: str = "") -> str:
    """A Keras spec's YAML text, one flow-style layer a line (layer i on line 4 + i)."""
    lines = [f"  - {{{layer}}}" for layer in layers]
    return "\n".join(["framework: keras", f"input: {shape}", *head.splitlines(), "layers:", *lines])


def refusal(text: str) -> SpecError:
    with pytest.raises(SpecError) as caught:
        analyse(load_spec(text))
    return caught.value


# --- 1. a bad head: its errors alone, in Keras' words ----------------------------------------

LIMIT = "9,223,372,036,854,775,807"


@pytest.mark.every_case
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            keras_spec([0, 4, 3], "type: Conv2D, filters: 8, kernel_size: 3"),
            "<text>:2: field input: every size must be a positive integer, not 0",
        ),
        (
            keras_spec([2**63, 4, 3], "type: Conv2D, filters: 8, kernel_size: 3"),
            f"<text>:2: field input: 9,223,372,036,854,775,808 is beyond 2^63 − 1 ({LIMIT}), "
            "the largest size a tensor of Keras' backends holds",
        ),
        (
            keras_spec([1, 2, 3, 4, 5], "type: ReLU"),
            "<text>:2: field input: must be Keras' input shape without the batch: [height, "
            "width, channels], [steps, features] or [features] (channels first with "
            "data_format: channels_first); 1 to 4 sizes, not 5",
        ),
        (  # two head errors, the unknown field first; the layers are not read
            keras_spec([0, 4], "type: Conv2D, filters: 8, kernel_size: 3", head="nmae: net"),
            "<text>:3: field nmae: unknown field: did you mean 'name'? a spec takes name, "
            "framework, data_format, input, layers\n"
            "<text>:2: field input: every size must be a positive integer, not 0",
        ),
    ],
)
def test_a_bad_head_reports_the_head_alone(text: str, expected: str) -> None:
    error = refusal(text)
    assert str(error) == expected
    assert "PyTorch" not in str(error) and "layers[" not in str(error)


def test_the_head_limits_are_the_backends() -> None:
    """2^63 − 1 is the largest size PyTorch (Keras' backend here) unpacks; 0 sizes a layer
    Keras refuses (checked in :func:`test_keras_refuses_what_the_messages_refuse`)."""
    torch = pytest.importorskip("torch")
    assert torch.zeros(0, 2**63 - 1, device="meta").shape[1] == 2**63 - 1
    with pytest.raises(TypeError, match="Overflow"):
        torch.zeros(0, 2**63, device="meta")


# --- 2. the JSON in Keras' order ---------------------------------------------------------------


def test_json_is_in_keras_order_exactly(run: Any) -> None:
    """The shapes channels-last and the tensors Keras' (kernel (k, k, in, filters)), with the
    layout said; the sizes are Keras' own (test_json_shapes_and_weights_are_keras)."""
    text = keras_spec([5, 5, 1], "type: Conv2D, filters: 8, kernel_size: 3")
    report = json.loads(run("shape", "-", "--format", "json", input=text).stdout)
    assert {k: report[k] for k in ("framework", "layout", "input_shape", "output_shape")} == {
        "framework": "keras",
        "layout": "channels_last",
        "input_shape": [5, 5, 1],
        "output_shape": [3, 3, 8],
    }
    (layer,) = report["layers"]
    assert {k: layer[k] for k in ("input_shape", "output_shape", "params", "tensors")} == {
        "input_shape": [5, 5, 1],
        "output_shape": [3, 3, 8],
        "params": 80,
        "tensors": {"kernel": [3, 3, 1, 8], "bias": [8]},
    }


def test_pytorch_json_is_unchanged(run: Any) -> None:
    """A PyTorch spec's JSON has no layout key, its shapes and tensors PyTorch's own."""
    torch = pytest.importorskip("torch")
    conv = torch.nn.Conv2d(1, 8, 3, device="meta")
    out = conv(torch.empty(1, 1, 5, 5, device="meta"))
    text = "input: [1, 5, 5]\nlayers:\n  - {type: conv, out_channels: 8, kernel_size: 3}\n"
    report = json.loads(run("shape", "-", "--format", "json", input=text).stdout)
    assert "layout" not in report and "framework" not in report
    (layer,) = report["layers"]
    assert layer["output_shape"] == report["output_shape"] == list(out.shape[1:])
    assert layer["tensors"] == {n: list(p.shape) for n, p in conv.named_parameters()}


@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
def test_json_shapes_and_weights_are_keras(keras: Any, data_format: str) -> None:
    """Every layer's input and output shape, and its weights by name and shape, as Keras
    builds the model."""
    first = data_format == "channels_first"
    shape = [2, 9, 9] if first else [9, 9, 2]
    layers: list[dict[str, Any]] = [
        {"type": "Conv2D", "filters": 4, "kernel_size": 3, "strides": 2},
        {"type": "BatchNormalization", "axis": 1 if first else -1},
        {"type": "DepthwiseConv2D", "kernel_size": 2, "depth_multiplier": 2},
        {"type": "GlobalAveragePooling2D"},
        {"type": "Dense", "units": 3},
    ]
    built = [
        getattr(keras.layers, item["type"])(
            **{k: v for k, v in item.items() if k != "type"},
            **({"data_format": data_format} if "Conv" in item["type"] else {}),
            **({"data_format": data_format} if "Global" in item["type"] else {}),
        )
        for item in layers
    ]
    model = keras.Sequential([keras.Input(tuple(shape)), *built])
    spec = {"framework": "keras", "data_format": data_format, "input": shape, "layers": layers}
    report = analyse(load_spec(spec)).to_dict()
    assert report["layout"] == data_format
    assert report["input_shape"] == shape
    assert report["output_shape"] == list(model.layers[-1].output.shape[1:])
    for item, layer in zip(report["layers"], model.layers, strict=True):
        assert item["input_shape"] == list(layer.input.shape[1:])
        assert item["output_shape"] == list(layer.output.shape[1:])
        if item["type"] != "sequential":  # a global pool is two steps: pool, flatten
            assert item["tensors"] == {w.name: list(w.shape) for w in layer.weights}


# --- 3. refusals in Keras' words and order -------------------------------------------------------

VALID = '(padding "valid" pads nothing)'
REFUSED = [
    (
        [4, 4, 3],
        "type: MaxPooling2D, pool_size: 5",
        "pool_size",
        f"pool_size 5 is larger than the input's height, 4 {VALID}",
    ),
    (
        [4, 6, 3],
        "type: AveragePooling2D, pool_size: [2, 7]",
        "pool_size",
        f"pool_size 7 is larger than the input's width, 6 {VALID}",
    ),
    (
        [4, 3],
        "type: Conv1D, filters: 2, kernel_size: 5",
        "kernel_size",
        f"kernel_size 5 is larger than the input's steps, 4 {VALID}",
    ),
    (
        [4, 4, 3],
        "type: Conv2D, filters: 2, kernel_size: 3, dilation_rate: 2",
        "kernel_size",
        "kernel_size 3 dilated by dilation_rate 2 spans 5, which is larger than the input's "
        f"height, 4 {VALID}",
    ),
    (
        [31],
        "type: Reshape, target_shape: [5, 2, -1]",
        None,
        "31 values cannot be shaped as [5, 2, -1]",
    ),
    (
        [10, 3],
        "type: Reshape, target_shape: [4, 4, 2]",
        None,
        "[4, 4, 2] holds 32 values, not the 30 given",
    ),
    (
        [9, 9, 3],
        "type: Conv2D, filters: 2, kernel_size: 3, strides: 2, dilation_rate: 2",
        "strides",
        "strides > 1 not supported in conjunction with dilation_rate > 1 (strides 2, "
        "dilation_rate 2)",
    ),
]


@pytest.mark.every_case
@pytest.mark.parametrize(("shape", "layer", "field", "message"), REFUSED)
def test_refusals_in_keras_words(
    shape: list[int], layer: str, field: str | None, message: str
) -> None:
    error = refusal(keras_spec(shape, layer))
    assert (error.message, error.field, error.line, error.path) == (message, field, 4, "layers[0]")


@pytest.mark.full
@pytest.mark.parametrize(("shape", "layer", "field", "message"), REFUSED)
@pytest.mark.every_case
def test_keras_refuses_what_the_messages_refuse(
    keras: Any, shape: list[int], layer: str, field: str | None, message: str
) -> None:
    """Keras refuses each layer of :data:`REFUSED` on its input."""
    import yaml

    args = yaml.safe_load("{" + layer + "}")
    kind = args.pop("type")
    with pytest.raises(ValueError, match=r"zero or negative|must be unchanged|dilation_rate > 1"):
        keras.Sequential([keras.Input(tuple(shape)), getattr(keras.layers, kind)(**args)])


@pytest.mark.full
def test_a_zero_input_is_refused_by_keras_too(keras: Any) -> None:
    with pytest.raises(ValueError, match="zero or negative"):
        keras.Sequential([keras.Input((0, 4, 3)), keras.layers.Conv2D(8, 3)])


def test_pytorch_reshape_keeps_its_words() -> None:
    """PyTorch's reshape: the sizes as written (PyTorch refuses view(7, -1) of 30 values)."""
    torch = pytest.importorskip("torch")
    with pytest.raises(RuntimeError):
        torch.empty(30, device="meta").view(7, -1)
    error = refusal("input: [30]\nlayers:\n  - {type: reshape, shape: [7, -1]}\n")
    assert (error.message, error.field) == ("30 values cannot be shaped as [7, -1]", "shape")


# --- 4. Keras' Conv owns its strides-with-dilation refusal ---------------------------------------


def test_keras_conv_refuses_strides_with_dilation_itself() -> None:
    """KerasConv.forward refuses it (Keras' Conv does), its depthwise variant does not."""
    args: dict[str, Any] = {"type": "conv", "kernel_size": 3, "stride": [1, 2], "dilation": [2, 1]}
    with pytest.raises(Refusal, match="strides > 1 not supported") as caught:
        KerasConv(out_channels=4, **args).forward((3, 9, 9))
    assert caught.value.field == "stride"
    depthwise = KerasDepthwiseConv(out_channels=3, groups=3, **args).forward((3, 9, 9))
    assert depthwise.output == (3, 5, 4)


@pytest.mark.full
def test_strides_with_dilation_is_keras(keras: Any) -> None:
    """Keras' Conv2D refuses strides (1, 2) with dilation_rate (2, 1); its DepthwiseConv2D
    builds (3, 9, 9) → (5, 4, 3), the shape above."""
    with pytest.raises(ValueError, match="dilation_rate"):
        keras.layers.Conv2D(4, 3, strides=(1, 2), dilation_rate=(2, 1))(keras.Input((9, 9, 3)))
    layer = keras.layers.DepthwiseConv2D(3, strides=(1, 2), dilation_rate=(2, 1))
    assert tuple(layer(keras.Input((9, 9, 3))).shape[1:]) == (5, 4, 3)


# --- lint's formulas and fixes in Keras' words ---------------------------------------------------


LINTED = [
    (
        [5, 5, 1],
        ["type: Conv2D, filters: 2, kernel_size: 2, strides: 2"],
        """\
layers[0] <layer> [floor-drops-input]
  <layer> never reads the last 1 row and the last 1 column of its 5×5×1 input: \
the last window ends before the input does
  (5 − 2) mod 2 = 1 ≠ 0
  fix: kernel_size 3 (output 2) reads to the end
""",
    ),
    (
        [7, 7, 1],
        ["type: Conv2D, filters: 2, kernel_size: 3, strides: 3"],
        """\
layers[0] <layer> [floor-drops-input]
  <layer> never reads the last 1 row and the last 1 column of its 7×7×1 input: \
the last window ends before the input does
  (7 − 3) mod 3 = 1 ≠ 0
  fix: kernel_size 4 (output 2) or ZeroPadding2D(1) before it (output 3) reads to the end
""",
    ),
    (
        [8, 8, 1],
        ["type: MaxPooling2D, pool_size: 3, strides: 5"],
        """\
layers[0] <layer> [stride-skips-input]
  <layer> never reads 2 of its 8 rows and 2 of its 8 columns (8×8×1 input): \
its stride is longer than its window
  strides 5 − window 3 = 2 rows and columns unread after each window
  fix: pool_size 5 (a window as long as the strides) or strides 3
""",
    ),
]


def lint_blocks(shape: list[int], layers: list[str]) -> str:
    """The lint text's layer findings (the input-size one left out), the layer's label (its
    Keras call, whose form is not lint's) written ``<layer>``."""
    report = analyse(load_spec(keras_spec(shape, *layers)))
    found = [f for f in lint(report) if f.path != "input"]
    text = render_text("net", found).split("\n", 2)[2]
    return text.replace(report.layers[0].label, "<layer>")


@pytest.mark.every_case
@pytest.mark.parametrize(("shape", "layers", "expected"), LINTED)
def test_lint_fixes_in_keras_words(shape: list[int], layers: list[str], expected: str) -> None:
    assert lint_blocks(shape, layers) == expected


def read(length: int, k: int, s: int, out: int) -> set[int]:
    """The positions windows i·s … i·s + k − 1 (i < out) read: brute force."""
    return {i * s + j for i in range(out) for j in range(k)} & set(range(length))


@pytest.mark.full
def test_lint_numbers_are_keras(keras: Any) -> None:
    """The sizes the findings and fixes state, by Keras' own output sizes and a brute-force
    count of the positions read."""
    layers = keras.layers

    def size(n: int, *stack: Any) -> int:
        return int(keras.Sequential([keras.Input((n, n, 1)), *stack]).layers[-1].output.shape[1])

    # Conv2D(2, 2, strides=2) on 5: the last position unread; kernel_size 3 gives 2, reads all
    assert read(5, 2, 2, size(5, layers.Conv2D(2, 2, strides=2))) == set(range(4))
    assert size(5, layers.Conv2D(2, 3, strides=2)) == 2
    assert read(5, 3, 2, 2) == set(range(5))
    # Conv2D(2, 3, strides=3) on 7: kernel_size 4 gives 2, ZeroPadding2D(1) before it 3
    assert read(7, 3, 3, size(7, layers.Conv2D(2, 3, strides=3))) == set(range(6))
    assert size(7, layers.Conv2D(2, 4, strides=3)) == 2 and read(7, 4, 3, 2) == set(range(7))
    padded = size(7, layers.ZeroPadding2D(1), layers.Conv2D(2, 3, strides=3))
    assert padded == 3 and read(9, 3, 3, padded) == set(range(9))
    # MaxPooling2D(3, strides=5) on 8: 2 of 8 unread, 2 after each window; pool_size 5 or
    # strides 3 leave no gap between windows
    out = size(8, layers.MaxPooling2D(3, strides=5))
    assert set(range(8)) - read(8, 3, 5, out) == {3, 4}
    pooled = size(8, layers.MaxPooling2D(5, strides=5))
    assert read(8, 5, 5, pooled) == set(range(5 * pooled))
    pooled = size(8, layers.MaxPooling2D(3, strides=3))
    assert read(8, 3, 3, pooled) == set(range(3 * pooled))


# --- 5. an analysis refusal names the Keras class and argument written ---------------------------

BACKENDS = "beyond 2^63 − 1, the most a tensor of Keras' backends holds"
# (input, layers, the Keras class and argument named, the tensor and its Keras shape: Keras'
# own, test_overflowing_shapes_are_keras)
OVERFLOWS = [
    (
        [10, 10, 3],
        ["type: ZeroPadding2D, padding: 4611686018427387904"],
        "layers[0] (ZeroPadding2D), field padding",
        ("output", (2**63 + 10, 2**63 + 10, 3)),
    ),
    (
        [1000, 1000, 3],
        ["type: Flatten", "type: Dense, units: 9223372036854775807"],
        "layers[1] (Dense), field units",
        ("weight", (3_000_000, 2**63 - 1)),
    ),
    (  # the activation is a step of the Dense written: the Dense is named
        [1000, 1000, 3],
        ["type: Flatten", "type: Dense, units: 9223372036854775807, activation: relu"],
        "layers[1] (Dense), field units",
        ("weight", (3_000_000, 2**63 - 1)),
    ),
    (
        [10, 10, 1],
        ["type: DepthwiseConv2D, kernel_size: 3, depth_multiplier: 4611686018427387904"],
        "layers[0] (DepthwiseConv2D), field depth_multiplier",
        ("output", (8, 8, 2**62)),
    ),
    (  # no one argument alone is to blame: the layer's line, no field
        [10, 10, 3],
        [
            "type: Conv2D, filters: 4611686018427387904, kernel_size: 4611686018427387904, "
            "padding: same"
        ],
        "layers[0] (Conv2D)",
        ("output", (10, 10, 2**62)),
    ),
]


@pytest.mark.every_case
@pytest.mark.parametrize(("shape", "layers", "where", "tensor"), OVERFLOWS)
def test_an_overflow_names_the_keras_class_and_argument(
    run: Any, shape: list[int], layers: list[str], where: str, tensor: tuple[str, tuple[int, ...]]
) -> None:
    """Exit 2; the Keras class written, the argument to blame in Keras' word, the limit
    without PyTorch's name; the count that of the Keras tensor's shape."""
    what, sizes = tensor
    result = run("shape", "-", input=keras_spec(shape, *layers))
    assert result.exit_code == 2
    line = 3 + len(layers)
    count = f"{math.prod(sizes):.3g}"
    expected = f"Error: <stdin>:{line}: {where}: the {what} would hold {count} values, {BACKENDS}"
    assert result.stderr.strip() == expected
    assert "PyTorch" not in result.stderr


@pytest.mark.full
@pytest.mark.parametrize(("shape", "layers", "where", "tensor"), OVERFLOWS)
def test_overflowing_shapes_are_keras(
    keras: Any, shape: list[int], layers: list[str], where: str, tensor: tuple[str, tuple[int, ...]]
) -> None:
    """Keras' own shapes (compute_output_shape, the Dense kernel (in, units)) of each layer
    of :data:`OVERFLOWS`; and their tensors pass 2^63 − 1 values, so PyTorch (Keras'
    backend here) refuses to hold them; the argument named, written 1, gives a tensor it
    holds."""
    import yaml

    torch = pytest.importorskip("torch")
    args = yaml.safe_load("{" + layers[-1] + "}")
    kind = args.pop("type")
    layer = getattr(keras.layers, kind)(**args)
    given = (None, math.prod(shape)) if len(layers) > 1 else (None, *shape)
    what, sizes = tensor
    if what == "output":
        assert tuple(layer.compute_output_shape(given)[1:]) == sizes
    else:
        assert (given[1], args["units"]) == sizes
    assert math.prod(sizes) > 2**63 - 1
    with pytest.raises((RuntimeError, TypeError), match=r"(?i)overflow"):  # a size past int64
        torch.empty(sizes, device="meta")
    blamed = where.partition("field ")[2]
    if blamed:
        lowered = getattr(keras.layers, kind)(**{**args, blamed: 1})
        if what == "output":
            assert math.prod(lowered.compute_output_shape(given)[1:]) <= 2**63 - 1
        else:
            assert given[1] * 1 <= 2**63 - 1
