"""The Keras dialect's reader against hostile input: every argument value ends in a result or a
located error, never an internal one; names, empty models and nesting are refused where Keras
refuses them.

The layer objects a Keras layer becomes have PyTorch's fields, some stricter than Keras'
arguments (``eps`` ≥ 0, sizes ≤ 2^63 − 1): a value they refuse is a located error on the Keras
argument it came from (or a value read as Keras reads it: ``BatchNormalization(epsilon=-1)``
builds in Keras). Where Keras decides (what it builds, what it refuses, the names it gives), the
full run asks Keras 3 itself, on its torch backend (tests/keras_oracle.py).
"""

from __future__ import annotations

import contextlib
import json
import re
import types
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from convcalc.analysis import analyse
from convcalc.cli import cli
from convcalc.errors import ConvcalcError, SpecError
from convcalc.frameworks.keras.importer import from_json
from convcalc.frameworks.keras.source import keras_to_keras
from convcalc.render.keras import default_names, keras_layers
from convcalc.spec import keras as dialect
from convcalc.spec.validate import load_spec
from tests.keras_oracle import KERAS_MARKS, keras, layers

pytestmark = KERAS_MARKS

HUGE = 2**70  # beyond 2^63 − 1, the largest size convcalc (and PyTorch) holds


def spec(shape: list[int], *items: dict[str, Any]) -> dict[str, Any]:
    return {"framework": "keras", "input": shape, "layers": list(items)}


def refusal(data: dict[str, Any] | str) -> SpecError:
    with pytest.raises(SpecError) as caught:
        load_spec(data)
    return caught.value


def counts(data: dict[str, Any]) -> tuple[int, int]:
    report = analyse(load_spec(data))
    return report.total_params, report.trainable_params


# --- a value a layer object refuses, but Keras takes ------------------------------------------


def test_batchnorm_epsilon_below_zero_is_read_as_keras_builds_it() -> None:
    """Keras builds BatchNormalization(epsilon=-1) (the full run checks it); epsilon changes
    no shape or count, so the spec counts as the one with Keras' default epsilon, labelled with
    the epsilon written."""
    bn = {"type": "BatchNormalization", "epsilon": -1}
    report = analyse(load_spec(spec([10, 10, 3], bn)))
    assert (report.total_params, report.trainable_params) == counts(
        spec([10, 10, 3], {"type": "BatchNormalization"})
    )
    assert "epsilon=-1" in str(report.layers[0].layer.call_label())


def test_batchnorm_epsilon_below_zero_is_refused_by_the_pytorch_export() -> None:
    """PyTorch's BatchNorm refuses eps < 0 ("batch_norm eps must be non-negative"): the
    PyTorch export of that Keras spec says so at the argument, never an internal error."""
    text = (
        "framework: keras\ninput: [4, 4, 2]\nlayers:\n  - {type: BatchNormalization, epsilon: -1}\n"
    )
    result = CliRunner().invoke(cli, ["export", "-", "--to", "pytorch"], input=text)
    assert result.exit_code == 2, result.output
    assert "field epsilon" in result.output and "eps ≥ 0" in result.output


def test_an_imported_batchnorm_with_epsilon_below_zero_is_read(tmp_path: Path) -> None:
    """The import reads model.to_json() through the same reader: epsilon -1 imports, and the
    command exits 0 (the full run imports Keras' own JSON)."""
    model = {
        "class_name": "Sequential",
        "config": {
            "name": "s",
            "layers": [
                {"class_name": "InputLayer", "config": {"batch_shape": [None, 8, 8, 3]}},
                {"class_name": "BatchNormalization", "config": {"name": "bn", "epsilon": -1}},
            ],
        },
    }
    imported = from_json(json.dumps(model), "s")
    assert (
        analyse(load_spec(imported)).total_params
        == counts(spec([8, 8, 3], {"type": "BatchNormalization"}))[0]
    )
    path = tmp_path / "model.json"
    path.write_text(json.dumps(model))
    result = CliRunner().invoke(cli, ["import", str(path)])
    assert result.exit_code == 0, result.output
    assert "epsilon: -1" in result.output


def test_a_builders_validation_error_is_located_at_the_keras_argument(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """One place turns a pydantic error of any layer object a builder makes into a located
    error: the field in Keras' words (PyTorch's ``p`` is Keras' ``rate``) where the spec
    wrote it, else the layer's line."""

    def strict(w: Any, a: Any, shape: Any) -> Any:
        return dialect._make("dropout", p=2.0, name=a.name)  # dropout's p is at most 1

    monkeypatch.setitem(dialect.BUILDERS, "dropout", strict)
    text = "framework: keras\ninput: [8]\nlayers:\n  - type: Dropout\n    rate: 0.5\n"
    error = refusal(text)
    assert (error.line, error.path, error.layer_type, error.field) == (
        5,
        "layers[0]",
        "Dropout",
        "rate",
    )

    def unwritten(w: Any, a: Any, shape: Any) -> Any:
        return dialect._make("relu", inplace=3)  # a field the spec never wrote

    monkeypatch.setitem(dialect.BUILDERS, "relu", unwritten)
    error = refusal("framework: keras\ninput: [8]\nlayers:\n  - {type: ReLU}\n")
    assert (error.line, error.path, error.field) == (4, "layers[0]", None)


# the smallest valid arguments of each leaf class, and the input it takes
LEAVES: dict[str, tuple[list[int], dict[str, Any]]] = {
    "Conv": ([6, 6, 2], {"filters": 2, "kernel_size": 1}),
    "DepthwiseConv": ([6, 6, 2], {"kernel_size": 1}),
    "SeparableConv": ([6, 6, 2], {"filters": 2, "kernel_size": 1}),
    "MaxPooling": ([6, 6, 2], {}),
    "AveragePooling": ([6, 6, 2], {"pool_size": 2}),
    "Global": ([6, 6, 2], {}),
    "ZeroPadding": ([6, 6, 2], {}),
    "Cropping": ([6, 6, 2], {}),
    "UpSampling": ([6, 6, 2], {}),
    "SpatialDropout": ([6, 6, 2], {"rate": 0.1}),
    "Dense": ([6, 6, 2], {"units": 2}),
    "Embedding": ([5], {"input_dim": 4, "output_dim": 2}),
    "MultiHeadAttention": ([5, 4], {"num_heads": 2, "key_dim": 2}),
    "Flatten": ([6, 6, 2], {}),
    "BatchNormalization": ([6, 6, 2], {}),
    "LayerNormalization": ([6, 6, 2], {}),
    "Dropout": ([6, 6, 2], {"rate": 0.1}),
    "Activation": ([6, 6, 2], {"activation": "relu"}),
    "ReLU": ([6, 6, 2], {}),
    "LeakyReLU": ([6, 6, 2], {}),
    "PReLU": ([6, 6, 2], {}),
    "ELU": ([6, 6, 2], {}),
    "Softmax": ([6, 6, 2], {}),
    "Reshape": ([6, 6, 2], {"target_shape": [36, 2]}),
    "Permute": ([6, 6, 2], {"dims": [2, 1, 3]}),
    "Rescaling": ([6, 6, 2], {"scale": 0.5}),
    "Normalization": ([6, 6, 2], {}),
    "LayerScale": ([6, 6, 2], {"init_values": 0.1, "projection_dim": 2}),
    "ops.": ([6, 6, 2], {"value": 1.0}),
}
HOSTILE = [
    -1,
    0,
    2,
    2**63 - 1,
    2**63,
    HUGE,
    -HUGE,
    0.5,
    -1e308,
    1e308,
    True,
    [HUGE, 1],
    [-1, 2, 3],
    "x",
    None,
]
UNREAD = set(dialect.Args.model_fields)


def leaf(kind: str) -> tuple[list[int], dict[str, Any]]:
    """A valid item of the leaf class ``kind`` and its input (the rank its class takes)."""
    shape, args = next(v for k, v in LEAVES.items() if kind.startswith(k))
    rank = dialect.CLASSES[kind][1]
    if rank is not None:
        shape = [6] * rank + [2]
    if kind == "Cropping1D":
        args = {}
    return shape, {"type": kind, **args}


@pytest.mark.parametrize(
    "kind", [k for k, (_, _, builder) in dialect.CLASSES.items() if builder not in dialect.BLOCKS]
)
def test_no_argument_value_gives_an_internal_error(kind: str) -> None:
    """Each argument of each leaf class set to a hostile value (negative, zero, 2^63, 2^70,
    huge floats, a flag, a list, text, null): the spec is read and analysed, or refused with a
    convcalc error; nothing else escapes (a pydantic ValidationError would be an internal
    error)."""
    shape, item = leaf(kind)
    analyse(load_spec(spec(shape, item)))  # the base item is valid
    fields = [f for f in dialect.CLASSES[kind][0].model_fields if f not in UNREAD]
    fields = [f for f in fields if f != "data_format"]
    for field in fields:
        for value in HOSTILE:
            with contextlib.suppress(ConvcalcError):
                analyse(load_spec(spec(shape, {**item, field: value})))


# --- sizes past 2^63 − 1 are located at the argument --------------------------------------------


@pytest.mark.every_case
@pytest.mark.parametrize(
    ("kind", "shape", "extra"),
    [
        ("DepthwiseConv2D", [10, 10, 3], {}),
        ("DepthwiseConv1D", [10, 3], {}),
        ("SeparableConv2D", [10, 10, 3], {"filters": 2}),
        ("SeparableConv1D", [10, 3], {"filters": 2}),
    ],
)
def test_a_huge_depth_multiplier_is_located(
    kind: str, shape: list[int], extra: dict[str, Any]
) -> None:
    """3 channels × depth_multiplier 2^63 − 1 output channels pass 2^63 − 1: exit 2, located
    at depth_multiplier (an argument Keras' classes take alone is checked on its input)."""
    layer = {"type": kind, "kernel_size": 3, "depth_multiplier": 2**63 - 1, **extra}
    text = f"framework: keras\ninput: {shape}\nlayers:\n  - {json.dumps(layer)}\n"
    result = CliRunner().invoke(cli, ["shape", "-"], input=text)
    assert result.exit_code == 2, result.output
    assert (
        f"<stdin>:4: layers[0] ({kind}), field depth_multiplier: 3 input channels" in result.output
    )
    assert "internal error" not in result.output


@pytest.mark.every_case
@pytest.mark.parametrize(
    ("kind", "shape", "padding"),
    [
        ("ZeroPadding2D", [32, 32, 3], 1180591620717411303424),
        ("ZeroPadding1D", [32, 3], [1, HUGE]),
        ("ZeroPadding3D", [4, 4, 4, 3], [[0, 0], [HUGE, 0], [1, 1]]),
        ("Cropping2D", [32, 32, 3], HUGE),
    ],
)
def test_a_huge_padding_is_located(kind: str, shape: list[int], padding: Any) -> None:
    field = "cropping" if kind.startswith("Cropping") else "padding"
    error = refusal(spec(shape, {"type": kind, field: padding}))
    assert (error.path, error.layer_type, error.field) == ("layers[0]", kind, field)
    assert "beyond 2^63 − 1" in error.message


# --- a name written that Keras gives another layer ----------------------------------------------

CONV = {"type": "Conv2D", "filters": 3, "kernel_size": 1}


def conv(name: str | None = None) -> dict[str, Any]:
    return {**CONV, "name": name} if name else dict(CONV)


def seq(*items: dict[str, Any], name: str | None = None) -> dict[str, Any]:
    return {"type": "Sequential", "layers": list(items), **({"name": name} if name else {})}


def add(body: list[dict[str, Any]], name: str | None = None) -> dict[str, Any]:
    return {"type": "Add", "body": body, **({"name": name} if name else {})}


def repeat(times: int, *items: dict[str, Any]) -> dict[str, Any]:
    return {"type": "repeat", "times": times, "layers": list(items)}


def mha() -> dict[str, Any]:
    return {"type": "MultiHeadAttention", "num_heads": 2, "key_dim": 2}


def softmax(name: str | None = None) -> dict[str, Any]:
    return {"type": "Softmax", **({"name": name} if name else {})}


def dropout(name: str | None = None) -> dict[str, Any]:
    return {"type": "Dropout", "rate": 0.1, **({"name": name} if name else {})}


# (layers, where the refusal is, or None where Keras builds the model)
NAMES: list[tuple[list[dict[str, Any]], str | None]] = [
    ([conv("conv2d_1"), conv(), conv()], "layers[2]"),  # conv2d_1, conv2d, conv2d_1
    ([conv(), conv(), conv("conv2d_1")], "layers[2]"),
    ([conv("conv2d_1"), conv()], None),
    ([{"type": "Dense", "units": 2, "name": "conv2d"}, conv()], "layers[1]"),
    ([conv("input_layer")], "layers[0]"),  # the model's input layer
    ([seq(conv("input_layer"))], None),  # the Sequential's is input_layer_1
    ([seq(conv("input_layer_1"))], "layers[0].layers[0]"),
    ([conv("conv2d_1"), seq(conv(), conv())], None),  # a Sequential is a model of its own
    ([conv("conv2d_1"), seq(conv(), conv()), conv()], None),  # the last is conv2d_2
    ([seq(conv()), conv("sequential")], "layers[1]"),
    ([repeat(3, conv()), conv("conv2d_2")], "layers[1]"),
    ([repeat(2, conv()), conv("conv2d_2")], None),
    ([add([conv()]), conv("add")], "layers[1]"),
    ([conv("conv2d_1"), add([conv(), conv()])], "layers[1].body[1]"),
    # a Sequential holding a Sequential is a model holding a model: the inner one's input
    # layer is input_layer_2
    ([seq(seq(conv("input_layer_2")))], "layers[0].layers[0].layers[0]"),
    ([seq(seq(conv("input_layer_1")))], None),
    # a Sequential holding a block is written inline: its layers are the model's
    ([seq(conv("input_layer_2"), seq(conv()))], None),
    ([conv("conv2d_1"), seq(conv(), add([conv()]))], "layers[1].layers[1].body[0]"),
    ([conv("conv2d_1"), seq(conv(), seq(conv()))], None),  # the inner one is a model
    ([seq(conv(), add([conv()])), conv("conv2d_1")], "layers[1]"),
    ([seq(conv(), conv()), conv("conv2d_1")], None),  # a Sequential of its own: its scope
]
# self-attention on a sequence (5, 4): MultiHeadAttention's build makes a Softmax and a
# Dropout of its own, which take the names softmax and dropout
SEQUENCE_NAMES: list[tuple[list[dict[str, Any]], str | None]] = [
    ([mha(), softmax("softmax"), softmax()], None),  # softmax, softmax_1
    ([mha(), softmax("softmax_1"), softmax()], "layers[2]"),
    ([mha(), softmax(), softmax("softmax_1")], "layers[2]"),
    ([softmax(), mha(), softmax("softmax_2")], None),  # softmax, then softmax_1 in the layer
    ([softmax(), mha(), softmax(), softmax("softmax_2")], "layers[3]"),
    ([mha(), dropout("dropout"), dropout()], None),
    ([mha(), dropout("dropout_1"), dropout()], "layers[2]"),
    ([seq(mha(), softmax()), softmax("softmax_1")], "layers[1]"),  # inline: one scope
]
CASES = [
    *(pytest.param([8, 8, 3], *case, id=f"image{i}") for i, case in enumerate(NAMES)),
    *(pytest.param([5, 4], *case, id=f"sequence{i}") for i, case in enumerate(SEQUENCE_NAMES)),
]


@pytest.mark.every_case
@pytest.mark.parametrize(("shape", "items", "where"), CASES)
def test_a_name_keras_gives_another_layer_is_refused(
    shape: list[int], items: list[dict[str, Any]], where: str | None
) -> None:
    """Keras' auto-naming counts per class in a fresh session and does not skip a name taken,
    so a name written can be the one Keras gives an unnamed layer of the same model: refused
    at the later of the two, field name (the full run builds each case in the file the Keras
    export writes)."""
    data = spec(shape, *items)
    if where is None:
        load_spec(data)
        return
    error = refusal(data)
    assert (error.path, error.field) == (where, "name")
    assert "Keras refuses a name used twice in a model" in error.message


def test_an_unnamed_layer_given_a_written_name_is_refused_by_every_command() -> None:
    text = (
        "framework: keras\ninput: [32, 32, 3]\nlayers:\n"
        "  - {type: Conv2D, filters: 4, kernel_size: 3, name: conv2d_1}\n"
        "  - {type: Conv2D, filters: 4, kernel_size: 3}\n"
        "  - {type: Conv2D, filters: 4, kernel_size: 3}\n"
    )
    for args in (
        ["shape", "-"],
        ["shape", "-", "--format", "keras"],
        ["export", "-", "--to", "keras"],
    ):
        result = CliRunner().invoke(cli, args, input=text)
        assert result.exit_code == 2, result.output
        assert (
            "<stdin>:6: layers[2] (Conv2D), field name: Keras names this unnamed Conv2D 'conv2d_1'"
            in result.output
        )


# (shape, layers, the names Keras 3.15.1 gives them in the file the export writes: the full
# run's test_keras_gives_the_names_the_summary_shows checks them live)
SUMMARIES = [
    ([5, 4], [mha(), softmax(), softmax()], ["multi_head_attention", "softmax_1", "softmax_2"]),
    (
        [5, 4],
        [mha(), dropout(), dropout("dropout")],
        ["multi_head_attention", "dropout_1", "dropout"],
    ),
    (
        [8, 8, 3],
        [conv("conv2d_2"), seq(conv(), add([conv()]))],
        ["input_layer", "conv2d_2", "conv2d", "conv2d_1", "add"],
    ),
    ([8, 8, 3], [conv(), seq(conv(), conv())], ["conv2d", "sequential"]),
]


@pytest.mark.parametrize(("shape", "items", "names"), SUMMARIES)
def test_the_summary_shows_the_names_keras_gives(
    shape: list[int], items: list[dict[str, Any]], names: list[str]
) -> None:
    """``--format keras`` names each unnamed layer as Keras does: after a MultiHeadAttention,
    whose own Softmax and Dropout took ``softmax`` and ``dropout``; an inlined Sequential's
    layers in the model's rows and counters."""
    report = analyse(load_spec(spec(shape, *items)))
    assert [name for name, _, _ in keras_layers(report)] == names


# --- empty Sequential, nesting ----------------------------------------------------------------


@pytest.mark.every_case
@pytest.mark.parametrize(
    ("items", "where"),
    [
        ([seq()], "layers[0]"),
        ([{"type": "Dense", "units": 2}, seq(seq())], "layers[1].layers[0]"),
        ([add([seq()])], "layers[0].body[0]"),
    ],
)
def test_an_empty_sequential_is_refused(items: list[dict[str, Any]], where: str) -> None:
    """Keras refuses to build a Sequential without layers, wherever it is (the full run
    checks it): refused at its field layers."""
    error = refusal(spec([8, 8, 3], *items))
    assert (error.path, error.layer_type, error.field) == (where, "Sequential", "layers")
    assert "no layers" in error.message


def block_style(depth: int) -> str:
    lines, indent = ["framework: keras", "input: [4]", "layers:"], "  "
    for _ in range(depth):
        lines += [f"{indent}- type: Sequential", f"{indent}  layers:"]
        indent += "    "
    return "\n".join([*lines, f"{indent}- {{type: Dense, units: 2}}"]) + "\n"


def flow_style(depth: int) -> str:
    text = "{type: Dense, units: 2}"
    for _ in range(depth):
        text = "{type: Sequential, layers: [" + text + "]}"
    return f"framework: keras\ninput: [4]\nlayers: [{text}]\n"


def doc_depths() -> dict[str, int]:
    """docs/keras.md's numbers: how deep Sequentials nest in each YAML style."""
    doc = (Path(__file__).parent.parent / "docs" / "keras.md").read_text()
    found = re.search(r"(\d+) deep in block style .*?, (\d+) in flow style", doc, re.S)
    assert found is not None
    return {"block": int(found[1]), "flow": int(found[2])}


@pytest.mark.every_case
@pytest.mark.parametrize(
    "style",
    [pytest.param("block", marks=pytest.mark.full), "flow"],  # block: ~10 s (PyYAML)
)
def test_the_nesting_the_doc_states_is_the_nesting_read(style: str) -> None:
    """Sequentials nest as deep as docs/keras.md says (998 in block-style YAML, two YAML
    levels a block; 498 in flow style), and one more is refused, located (YAML's limits)."""
    deepest = doc_depths()[style]
    write = block_style if style == "block" else flow_style
    assert deepest == {"block": 998, "flow": 498}[style]
    load_spec(write(deepest))
    assert refusal(write(deepest + 1)).line is not None


def test_the_doc_says_the_summary_leaves_out_connected_to() -> None:
    doc = (Path(__file__).parent.parent / "docs" / "keras.md").read_text()
    assert '"Connected to"' in doc


# --- against Keras 3 itself (the full run) ----------------------------------------------------


def keras_counts(model: Any) -> tuple[int, int]:
    trainable = sum(int(w.numpy().size) for w in model.trainable_weights)
    return model.count_params(), trainable


@pytest.mark.full
def test_keras_builds_batchnorm_with_epsilon_below_zero() -> None:
    """Keras 3.15.1 builds BatchNormalization(epsilon=-1): convcalc's counts are Keras'
    (total and trainable), from the spec and from the model's own to_json() imported."""
    keras.backend.clear_session()
    model = keras.Sequential([keras.Input((10, 10, 3)), layers.BatchNormalization(epsilon=-1)])
    assert keras_counts(model) == counts(
        spec([10, 10, 3], {"type": "BatchNormalization", "epsilon": -1})
    )
    imported = from_json(model.to_json(), "bn")
    assert keras_counts(model) == counts(imported)


def keras_build(items: list[dict[str, Any]]) -> Any:
    """The functional model of ``items`` in a fresh session, each layer made where the Keras
    export makes it (a Sequential's layers before it, a merge's paths before the merge)."""
    keras.backend.clear_session()

    def make(item: dict[str, Any]) -> Any:
        args = {k: v for k, v in item.items() if k != "type"}
        if item["type"] == "Sequential":
            return keras.Sequential(
                [make(i) for i in item["layers"]], **{k: v for k, v in args.items() if k == "name"}
            )
        return getattr(layers, item["type"])(**args)

    def chain(items: list[dict[str, Any]], x: Any) -> Any:
        for item in items:
            if item["type"] == "repeat":
                for _ in range(item["times"]):
                    x = chain(item["layers"], x)
            elif item["type"] == "Add":
                body = chain(item["body"], x)
                x = layers.Add(**({"name": item["name"]} if "name" in item else {}))([body, x])
            else:
                x = make(item)(x)
        return x

    inputs = keras.Input((8, 8, 3))
    return keras.Model(inputs, chain(items, inputs))


def keras_names(model: Any) -> list[str]:
    """Every layer's name, nested models' layers too, input layers left out."""
    names, todo = [], list(model.layers)
    while todo:
        layer = todo.pop()
        if not isinstance(layer, layers.InputLayer):
            names.append(layer.name)
        todo.extend(getattr(layer, "layers", []))
    return sorted(names)


def exported(shape: list[int], items: list[dict[str, Any]]) -> Any:
    """The model that build() in the Keras export of the spec makes in a fresh session; the
    spec is read with the check of Keras' auto-names off, so that a spec convcalc refuses is
    written (and built) too."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(dialect._Walk, "check_given_names", lambda self, count: None)
        data = load_spec(spec(shape, *items))
        source = keras_to_keras(data, analyse(data))
    keras.backend.clear_session()
    module = types.ModuleType("exported")
    exec(compile(source, "<exported>", "exec"), module.__dict__)
    return module.build()


@pytest.mark.full
@pytest.mark.parametrize(("shape", "items", "where"), CASES)
def test_keras_refuses_the_names_convcalc_refuses(
    shape: list[int], items: list[dict[str, Any]], where: str | None
) -> None:
    """Keras builds the exported file of each case or refuses it ('The name "conv2d_1" is used
    2 times in the model'), as convcalc does; where it builds, the names convcalc gives
    (--format keras) are Keras'."""
    if where is not None:
        with pytest.raises(ValueError, match=r"used 2 times|unique names"):
            exported(shape, items)
        return
    model = exported(shape, items)
    report = analyse(load_spec(spec(shape, *items)))
    assert sorted(default_names(report).values()) == keras_names(model)


@pytest.mark.full
@pytest.mark.parametrize(("shape", "items", "names"), SUMMARIES)
def test_keras_gives_the_names_the_summary_shows(
    shape: list[int], items: list[dict[str, Any]], names: list[str]
) -> None:
    model = exported(shape, items)
    shown = [layer.name for layer in model.layers if not isinstance(layer, layers.InputLayer)]
    assert shown == [name for name in names if name != "input_layer"]


@pytest.mark.full
def test_only_multi_head_attention_makes_named_layers_of_its_own() -> None:
    """Each leaf class the dialect reads, built alone from the export in a fresh session:
    the names it uses up besides its own (and the input's) are :data:`dialect.SUBLAYERS`'."""
    pytest.importorskip("torch")
    from keras.src.backend.common import global_state

    from tests.test_keras_export import EXAMPLE_INPUTS, EXAMPLES, INPUTS

    keras.backend.clear_session()  # Keras imported, on the torch backend (tests/keras_oracle)
    import keras as loaded

    classes = {  # the names of Keras' layers and ops (seed generators, variables left out)
        dialect.snake(name)
        for module in (loaded.layers, loaded.ops)
        for name, value in vars(module).items()
        if isinstance(value, type)
    }
    for kind, (_, rank, builder) in dialect.CLASSES.items():
        if builder in dialect.BLOCKS:
            continue  # their layers' names are their layers'
        shape = EXAMPLE_INPUTS.get(kind, INPUTS[rank])
        exported(shape, [{"type": kind, **EXAMPLES[kind]}])
        used = set(global_state.get_global_attribute("object_name_uids"))
        own = {"input_layer", dialect.snake(dialect.SHOWN.get(kind, kind))}
        inner = {dialect.snake(c) for c in dialect.SUBLAYERS.get(kind, ())}
        assert (used & classes) - own == inner, kind


@pytest.mark.full
def test_keras_refuses_an_empty_sequential_wherever_it_is() -> None:
    for items in (
        [seq()],
        [{"type": "Dense", "units": 2}, seq(seq(), {"type": "Dense", "units": 2})],
    ):
        with pytest.raises(ValueError, match="cannot be built because it has no layers"):
            keras_build(items)
        refusal(spec([8, 8, 3], *items))


@pytest.mark.full
def test_keras_refuses_a_huge_depth_multiplier() -> None:
    """Keras cannot build the kernel (its storage size overflows); convcalc refuses it first."""
    keras.backend.clear_session()
    with pytest.raises(RuntimeError, match="overflow"):
        keras.Sequential(
            [keras.Input((10, 10, 3)), layers.DepthwiseConv2D(3, depth_multiplier=2**63 - 1)]
        )
    refusal(
        spec(
            [10, 10, 3],
            {"type": "DepthwiseConv2D", "kernel_size": 3, "depth_multiplier": 2**63 - 1},
        )
    )
