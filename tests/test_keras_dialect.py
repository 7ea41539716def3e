"""The Keras dialect (``framework: keras``) against Keras 3 itself, on its torch backend.

Random stacks of Keras layers are built with Keras and read by convcalc: layer for layer, the
output shape (Keras' own, channels-last), the trainable and the non-trainable parameter counts
must be Keras' (BatchNormalization's moving statistics among the non-trainable ones), and
convcalc must refuse exactly the stacks Keras refuses to build. Every number on the Keras side
comes from Keras; ``--format keras`` is compared with ``model.summary()``'s text.
"""

from __future__ import annotations

import contextlib
import io
import re
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from convcalc.analysis import analyse
from convcalc.errors import ConvcalcError, SpecError
from convcalc.render.keras import rows, summary
from convcalc.spec.validate import load_spec
from tests.budget import examples
from tests.keras_oracle import KERAS_MARKS, keras

pytestmark = KERAS_MARKS


def keras_model(shape: tuple[int, ...], layers: list[dict[str, Any]]) -> Any:
    """The stack built by Keras: each layer by its class and arguments as written."""
    built = []
    for item in layers:
        args = {k: v for k, v in item.items() if k != "type"}
        built.append(getattr(keras.layers, item["type"])(**args))
    return keras.Sequential([keras.Input(shape), *built])


def keras_counts(layer: Any) -> tuple[int, int]:
    """(trainable, non-trainable) parameters of one Keras layer."""
    trainable = sum(int(w.numpy().size) for w in layer.trainable_weights)
    frozen = sum(int(w.numpy().size) for w in layer.non_trainable_weights)
    return trainable, frozen


def convcalc_rows(shape: tuple[int, ...], layers: list[dict[str, Any]]) -> list[Any]:
    spec = {"framework": "keras", "input": list(shape), "layers": layers}
    report = analyse(load_spec(spec))
    assert report.dialect is not None
    out = []
    for entry in report.layers:
        frozen = sum(e.step.untrained_params for e in entry.walk() if e.step is not None)
        out.append((report.dialect.shape(entry.output_shape), entry.params - frozen, frozen))
    return out


def compare(shape: tuple[int, ...], layers: list[dict[str, Any]]) -> None:
    """Keras and convcalc agree layer for layer, or both refuse; where Keras builds a layer
    whose output has a size 0 (a transposed same convolution of 1 with output_padding 0),
    convcalc refuses it, saying so, as it refuses every empty tensor."""
    try:
        model = keras_model(shape, layers)
    except ValueError:
        with pytest.raises(ConvcalcError):
            convcalc_rows(shape, layers)
        return
    expected = [(tuple(layer.output.shape[1:]), *keras_counts(layer)) for layer in model.layers]
    if any(0 in out for out, *_ in expected):  # Keras builds an empty tensor; convcalc refuses
        with pytest.raises(ConvcalcError, match="would be 0"):
            convcalc_rows(shape, layers)
        return
    assert convcalc_rows(shape, layers) == expected


SIZES = st.integers(1, 3)
PAD = st.sampled_from(["valid", "same"])


@st.composite
def conv2d(draw: st.DrawFn) -> dict[str, Any]:
    layer: dict[str, Any] = {"type": draw(st.sampled_from(["Conv2D", "DepthwiseConv2D"]))}
    if layer["type"] == "Conv2D":
        layer["filters"] = draw(st.integers(1, 6))
    else:
        layer["depth_multiplier"] = draw(st.integers(1, 2))
    layer["kernel_size"] = draw(st.integers(1, 5) | st.tuples(st.integers(1, 4), SIZES))
    layer["strides"] = draw(SIZES)
    layer["dilation_rate"] = draw(st.sampled_from([1, 1, 2]))
    layer["padding"] = draw(PAD)
    layer["use_bias"] = draw(st.booleans())
    return layer


@st.composite
def other2d(draw: st.DrawFn) -> dict[str, Any]:
    kind = draw(
        st.sampled_from(
            [
                "Conv2DTranspose",
                "SeparableConv2D",
                "MaxPooling2D",
                "AveragePooling2D",
                "BatchNormalization",
                "LayerNormalization",
                "ZeroPadding2D",
                "Cropping2D",
                "UpSampling2D",
                "ReLU",
                "Dropout",
                "Dense",
            ]
        )
    )
    layer: dict[str, Any] = {"type": kind}
    if kind == "Conv2DTranspose":
        layer |= {"filters": draw(st.integers(1, 4)), "kernel_size": draw(st.integers(1, 4))}
        layer |= {"strides": draw(SIZES), "padding": draw(PAD)}
        layer["dilation_rate"] = draw(st.sampled_from([1, 1, 2]))
        layer["output_padding"] = draw(st.none() | st.integers(0, 2))
    elif kind == "SeparableConv2D":
        layer |= {"filters": draw(st.integers(1, 4)), "kernel_size": draw(st.integers(1, 3))}
        layer |= {"strides": draw(SIZES), "padding": draw(PAD)}
        layer["depth_multiplier"] = draw(st.integers(1, 2))
    elif kind.endswith("Pooling2D"):
        layer |= {"pool_size": draw(st.integers(1, 4)), "padding": draw(PAD)}
        layer["strides"] = draw(st.none() | SIZES)
    elif kind == "BatchNormalization":
        layer |= {"center": draw(st.booleans()), "scale": draw(st.booleans())}
    elif kind == "ZeroPadding2D":
        layer["padding"] = draw(st.integers(0, 2) | st.tuples(st.integers(0, 2), SIZES))
    elif kind == "Cropping2D":
        pair = st.tuples(st.integers(0, 2), st.integers(0, 2))
        layer["cropping"] = draw(st.integers(0, 2) | st.tuples(pair, pair))
    elif kind == "UpSampling2D":
        layer["size"] = draw(st.integers(1, 2) | st.tuples(SIZES, SIZES))
    elif kind == "Dropout":
        layer["rate"] = 0.5
    elif kind == "Dense":
        layer["units"] = draw(st.integers(1, 5))
    return layer


TAILS = [
    [],
    [{"type": "GlobalAveragePooling2D"}, {"type": "Dense", "units": 3}],
    [{"type": "Flatten"}, {"type": "Dense", "units": 2, "activation": "softmax"}],
    [{"type": "GlobalMaxPooling2D", "keepdims": True}],
]


@settings(max_examples=examples(150), deadline=None)
@given(
    st.tuples(st.integers(1, 12), st.integers(1, 12), st.integers(1, 4)),
    st.lists(conv2d() | other2d(), min_size=1, max_size=3),
    st.sampled_from(TAILS),
)
@example(  # Keras builds the transposed layer's 0×0 output; convcalc refuses it
    (9, 9, 1),
    [
        {"type": "Conv2D", "filters": 1, "kernel_size": 5, "dilation_rate": 2},
        {
            "type": "Conv2DTranspose",
            "filters": 1,
            "kernel_size": 2,
            "padding": "same",
            "output_padding": 0,
        },
    ],
    [],
)
def test_random_2d_stacks_are_keras(
    shape: tuple[int, ...], layers: list[dict[str, Any]], tail: list[dict[str, Any]]
) -> None:
    compare(shape, [*layers, *tail])


@settings(max_examples=examples(60), deadline=None)
@given(
    st.integers(1, 14),
    st.integers(1, 4),
    st.integers(1, 5),
    st.integers(1, 4),
    st.sampled_from(["valid", "same", "causal"]),
    st.sampled_from([1, 2]),
)
def test_conv1d_is_keras(length: int, channels: int, k: int, s: int, padding: str, d: int) -> None:
    """Conv1D on (steps, channels): valid, same and causal for every stride."""
    conv = {"type": "Conv1D", "filters": 3, "kernel_size": k, "strides": s}
    conv |= {"padding": padding, "dilation_rate": d}
    compare(
        (length, channels), [conv, {"type": "LayerNormalization"}, {"type": "Dense", "units": 2}]
    )


@pytest.mark.parametrize("n", range(1, 8))
@pytest.mark.parametrize("s", range(1, 5))
@pytest.mark.parametrize("k", range(1, 6))
def test_same_for_every_stride(n: int, s: int, k: int) -> None:
    """Keras' same: ⌈n/s⌉ for convolutions and pools, and their transposes' n·s."""
    layers = [{"type": "Conv2D", "filters": 2, "kernel_size": k, "strides": s, "padding": "same"}]
    compare((n, n + 1, 2), layers)
    compare((n, 3, 2), [{"type": "MaxPooling2D", "pool_size": k, "strides": s, "padding": "same"}])
    compare(
        (n, 2, 1),
        [
            {
                "type": "Conv2DTranspose",
                "filters": 1,
                "kernel_size": k,
                "strides": s,
                "padding": "same",
            }
        ],
    )


def test_blocks_and_3d() -> None:
    """Add, Concatenate and Multiply as convcalc's blocks; Conv3D and the 3-D pools."""
    x = keras.Input((9, 9, 4))
    a = keras.layers.Conv2D(4, 3, padding="same")(x)
    b = keras.layers.Add()([a, x])
    c = keras.layers.Conv2D(3, 1)(b)
    d = keras.layers.Concatenate()([b, c])
    g = keras.layers.GlobalAveragePooling2D(keepdims=True)(d)
    g = keras.layers.Dense(7, activation="sigmoid")(g)
    e = keras.layers.Multiply()([d, g])
    model = keras.Model(x, e)
    spec = {
        "framework": "keras",
        "input": [9, 9, 4],
        "layers": [
            {
                "type": "Add",
                "body": [{"type": "Conv2D", "filters": 4, "kernel_size": 3, "padding": "same"}],
            },
            {
                "type": "Concatenate",
                "branches": [[], [{"type": "Conv2D", "filters": 3, "kernel_size": 1}]],
            },
            {
                "type": "Multiply",
                "body": [
                    {"type": "GlobalAveragePooling2D", "keepdims": True},
                    {"type": "Dense", "units": 7, "activation": "sigmoid"},
                ],
            },
        ],
    }
    report = analyse(load_spec(spec))
    assert report.dialect is not None
    assert report.dialect.shape(report.output_shape) == tuple(model.output.shape[1:])
    assert report.total_params == model.count_params()
    compare(
        (6, 6, 5, 2),
        [
            {"type": "Conv3D", "filters": 2, "kernel_size": 2, "padding": "same", "strides": 2},
            {"type": "AveragePooling3D", "pool_size": 2},
        ],
    )


def keras_summary(model: Any) -> str:
    """``model.summary()`` as Keras prints it (rich's 80 columns: long names wrap)."""
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        model.summary()
    return buffer.getvalue()


def numbers(text: str) -> list[tuple[str, ...]]:
    """(class, output shape, params) of each row, its cells joined across wrapped lines, and
    the totals' lines."""
    found, cells = [], None
    for line in text.splitlines():
        if line.startswith(("├", "└")) and cells is not None:
            kind = re.search(r"\((\w+)\)", cells[0])
            found.append((kind.group(1) if kind else "", *(" ".join(c.split()) for c in cells[1:])))
            cells = None
        elif line.startswith("│"):
            parts = [part.strip() for part in line.strip("│").split("│")][:3]
            cells = (
                parts if cells is None else [f"{a} {b}" for a, b in zip(cells, parts, strict=False)]
            )
    totals = [(line.strip(),) for line in text.splitlines() if "params:" in line]
    return [*found, *totals]


@pytest.mark.parametrize(
    ("spec", "layers"),
    [
        ("hw3-q3-keras", None),
        (
            None,
            [
                {
                    "type": "Conv2D",
                    "filters": 32,
                    "kernel_size": 3,
                    "strides": 2,
                    "padding": "same",
                },
                {"type": "BatchNormalization"},
                {"type": "ReLU"},
                {"type": "SeparableConv2D", "filters": 16, "kernel_size": 3},
                {"type": "GlobalAveragePooling2D"},
                {"type": "Dense", "units": 10},
            ],
        ),
    ],
)
def test_format_keras_is_model_summary(spec: str | None, layers: Any) -> None:
    """``--format keras``: every row's class, shape and count and the three totals (with
    Keras' sizes) as ``model.summary()`` prints them."""
    if spec is not None:
        report = analyse(load_spec(spec))
        written = load_spec(spec).doc
        assert written is not None
        layers = written.data["layers"]
        shape = tuple(written.data["input"])
    else:
        shape = (128, 128, 3)
        report = analyse(load_spec({"framework": "keras", "input": list(shape), "layers": layers}))
    ours = summary(report)
    theirs = keras_summary(keras_model(shape, layers))
    assert numbers(ours) == numbers(theirs)
    assert len(rows(report)) == len(layers)


def test_homework_question_3_in_keras() -> None:
    """specs/hw3-q3-keras.yaml: Keras' shapes and parameters, and PyTorch's network's."""
    written = load_spec("hw3-q3-keras").doc
    assert written is not None
    compare(tuple(written.data["input"]), written.data["layers"])
    keras_report, torch_report = analyse(load_spec("hw3-q3-keras")), analyse(load_spec("hw3-q3"))
    assert keras_report.total_params == torch_report.total_params == 71_840
    assert keras_report.output_shape == torch_report.output_shape


@pytest.mark.every_case
@pytest.mark.parametrize(
    ("layer", "field", "words"),
    [
        ({"type": "conv", "out_channels": 3, "kernel_size": 3}, "type", "PyTorch type"),
        ({"type": "Conv2D", "out_channels": 3, "kernel_size": 3}, "out_channels", "'filters'"),
        ({"type": "Conv2D", "filters": 3, "kernel_size": 3, "stride": 2}, "stride", "'strides'"),
        ({"type": "Conv2D", "filters": 3, "kernel_sise": 3}, "kernel_sise", "did you mean"),
        ({"type": "Conv2d", "filters": 3, "kernel_size": 3}, "type", "did you mean 'Conv2D'"),
        ({"type": "Conv2D", "filters": 3, "kernel_size": 9}, "kernel_size", "larger"),
        (
            {"type": "Conv2D", "filters": 3, "kernel_size": 3, "strides": 2, "dilation_rate": 2},
            "strides",
            "dilation_rate",
        ),
        ({"type": "Conv1D", "filters": 3, "kernel_size": 3}, None, "needs an input of 2"),
        (
            {"type": "Conv2D", "filters": 3, "kernel_size": 3, "padding": "full"},
            "padding",
            "'valid'",
        ),
    ],
)
def test_located_errors_in_keras_words(
    tmp_path: Any, layer: dict[str, Any], field: str | None, words: str
) -> None:
    path = tmp_path / "net.yaml"
    path.write_text(
        "framework: keras\ninput: [8, 8, 3]\nlayers:\n  - {type: ReLU}\n"
        f"  - {{{', '.join(f'{k}: {v}' for k, v in layer.items())}}}\n"
    )
    with pytest.raises(SpecError) as caught:
        analyse(load_spec(str(path)))
    error = caught.value
    assert error.line == 5 and error.path == "layers[1]"
    assert error.field == field
    assert words in str(error)


def test_pytorch_specs_keep_their_rules() -> None:
    """data_format belongs to Keras; a PyTorch spec's report has no dialect."""
    with pytest.raises(SpecError, match="framework: keras"):
        load_spec({"input": [3, 8, 8], "data_format": "channels_last", "layers": []})
    assert analyse(load_spec("hw3-q3")).dialect is None


# --- the reader's structure: deep nesting, convcalc's repeat, arguments read or refused --------


def nested(depth: int, leaf: dict[str, Any]) -> dict[str, Any]:
    """A Keras spec whose one layer is ``leaf`` inside ``depth`` Add blocks."""
    layers: list[dict[str, Any]] = [leaf]
    for _ in range(depth):
        layers = [{"type": "Add", "body": layers}]
    return {"framework": "keras", "input": [4, 4, 2], "layers": layers}


def test_ten_thousand_deep_is_refused_at_the_limit() -> None:
    """The walk holds an explicit stack: 10,000 blocks deep is refused where it passes the
    limit of 1,000, located, never a RecursionError."""
    with pytest.raises(SpecError, match="blocks nest more than 1,000 deep") as caught:
        load_spec(nested(10_000, {"type": "ReLU"}))
    assert caught.value.path is not None
    assert caught.value.path.startswith("layers[0].body[0].body[0]")
    assert caught.value.path.count("body") == 1_001


@pytest.mark.full
def test_a_thousand_deep_is_read(recursion_limit: None) -> None:
    """1,000 Add blocks around a 1×1 Conv2D: x + (x + (… + conv(x))) keeps the shape, and
    holds the conv's 2·2 + 2 parameters (Keras' count of a 1×1 Conv2D from 2 to 2 filters)."""
    conv = {"type": "Conv2D", "filters": 2, "kernel_size": 1}
    expected = keras_model((4, 4, 2), [conv]).count_params()
    report = analyse(load_spec(nested(1_000, conv)))
    assert report.dialect is not None
    assert report.dialect.shape(report.output_shape) == (4, 4, 2)
    assert report.total_params == expected == 6


REPEATED = [
    [{"type": "Conv2D", "filters": 4, "kernel_size": 3, "padding": "same", "strides": 2}],
    [{"type": "Conv2D", "filters": 3, "kernel_size": 2}, {"type": "BatchNormalization"}],
    [{"type": "DepthwiseConv2D", "kernel_size": 3, "padding": "same"}, {"type": "ReLU"}],
    [{"type": "ZeroPadding2D", "padding": 1}, {"type": "LayerNormalization"}],
]


@pytest.mark.parametrize("times", [1, 3])
@pytest.mark.parametrize("body", REPEATED)
def test_repeat_is_keras_building_each_copy(times: int, body: list[dict[str, Any]]) -> None:
    """convcalc's repeat in a Keras spec: Keras builds ``times`` copies of the layers, each a
    layer of its own; shapes and both parameter counts are Keras' totals."""
    model = keras_model((9, 9, 3), body * times)
    spec = {"type": "repeat", "times": times, "layers": body}
    report = analyse(load_spec({"framework": "keras", "input": [9, 9, 3], "layers": [spec]}))
    assert report.dialect is not None
    frozen = sum(int(w.numpy().size) for w in model.non_trainable_weights)
    assert report.dialect.shape(report.output_shape) == tuple(model.layers[-1].output.shape[1:])
    assert (report.total_params, report.total_params - report.trainable_params) == (
        model.count_params(),
        frozen,
    )


def test_a_repeat_built_differently_per_copy_is_refused() -> None:
    """Keras builds each copy for its own input: a depthwise convolution after a Conv2D that
    changes the channels is a different layer in the second copy, which one repeat cannot
    hold; refused at the repeat's ``times``. Keras itself builds the copies."""
    body = [
        {"type": "DepthwiseConv2D", "kernel_size": 3},
        {"type": "Conv2D", "filters": 4, "kernel_size": 1},
    ]
    keras_model((9, 9, 3), body * 2)  # Keras builds it
    spec = {
        "framework": "keras",
        "input": [9, 9, 3],
        "layers": [{"type": "repeat", "times": 2, "layers": body}],
    }
    with pytest.raises(SpecError, match="copy 2 of the layers is built differently") as caught:
        load_spec(spec)
    assert (caught.value.path, caught.value.field) == ("layers[0]", "times")


@pytest.mark.parametrize(
    ("layer", "keras_builds"),
    [
        ({"type": "ReLU", "max_value": 6}, True),
        ({"type": "ReLU", "negative_slope": 0.1}, True),
        ({"type": "ReLU", "max_value": -1}, False),
        ({"type": "ReLU", "negative_slope": -1}, False),
        ({"type": "ReLU", "threshold": -1}, False),
        ({"type": "LeakyReLU", "negative_slope": 0.2}, True),
        ({"type": "LeakyReLU", "negative_slope": -1}, False),
        ({"type": "ELU", "alpha": 0.5}, True),
        ({"type": "Softmax", "axis": 1}, True),
        ({"type": "Softmax", "axis": -1}, True),
        ({"type": "BatchNormalization", "axis": 3}, True),
        ({"type": "LayerNormalization", "axis": 3}, True),
    ],
)
def test_activation_and_norm_arguments_are_keras(layer: dict[str, Any], keras_builds: bool) -> None:
    """Each argument as Keras reads it: the same shape and counts where Keras builds the
    layer, a refusal where Keras refuses it."""
    try:
        keras_model((4, 5, 3), [layer])
    except ValueError:
        assert not keras_builds
    else:
        assert keras_builds
    compare((4, 5, 3), [layer])


@pytest.mark.parametrize(
    ("layer", "field"),
    [
        (
            {"type": "Conv2D", "filters": 2, "kernel_size": 1, "data_format": "channels_first"},
            "data_format",
        ),
        ({"type": "LayerNormalization", "axis": [1, 1]}, "axis"),
        ({"type": "Concatenate", "axis": 1, "branches": [[], []]}, "axis"),
    ],
)
def test_arguments_keras_builds_but_convcalc_does_not_read(
    tmp_path: Any, layer: dict[str, Any], field: str
) -> None:
    """What Keras builds but the records do not model is a located refusal naming the layer
    and the argument, never a different network (Keras builds each of these)."""
    if layer["type"] == "Concatenate":
        x = keras.Input((4, 5, 3))
        assert tuple(keras.layers.Concatenate(axis=1)([x, x]).shape) == (None, 8, 5, 3)
    else:
        keras_model((4, 5, 3), [layer])
    spec = {"framework": "keras", "input": [4, 5, 3], "layers": [{"type": "ReLU"}, layer]}
    with pytest.raises(SpecError) as caught:
        load_spec(spec)
    assert (caught.value.path, caught.value.field) == ("layers[1]", field)
