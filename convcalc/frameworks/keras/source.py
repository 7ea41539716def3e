"""``convcalc export SPEC --to keras`` of a Keras spec (``framework: keras``): the Keras 3 model
the spec describes, written in Keras' own terms.

The spec already names Keras classes and arguments, so the file is written from that Keras-side
description (the dialect's argument models, :data:`convcalc.spec.keras.CLASSES`), not from the
channels-first records: a ``keras.Input`` of the spec's input as written (channels-last unless
the spec says ``data_format: channels_first``, which every layer taking a ``data_format`` is then
given), then every layer as ``keras.layers.<Class>(arguments as written, name=...)`` called on
the tensor before it, with Keras' own defaults for the arguments the spec leaves out (``same`` at
any stride, BatchNormalization's momentum 0.99 and epsilon 0.001, Dense on the last axis). The
initializers, regularizers, constraints and dtypes, which change no number, are left out.

:data:`WRITERS` is the one table of the classes written otherwise, keyed by the Keras class:
the merges (``Add``, ``Concatenate``, ``Multiply``) are the functional API's, each path a chain
of statements from the block's input; ``Sequential`` is ``keras.Sequential([...])`` (its layers
inline where it holds a merge, which keras.Sequential cannot); ``ops.add``/``ops.multiply`` are
``keras.ops.add(x, value)``/``keras.ops.multiply(x, value)``; ``LayerScale`` (keras.applications'
ConvNeXt, not public API) is a small layer of the file. Each layer's comment is its output shape
as Keras writes it (batch excluded), from convcalc's report.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from convcalc.escape import python_str
from convcalc.frameworks.pysource import (
    WIDTH,
    ExportError,
    Group,
    Item,
    Layout,
    Names,
    Uses,
    check_name,
    commented,
    docstring_text,
    flat,
    identifier,
    literal,
    sizes_text,
)
from convcalc.spec.keras import CLASSES

if TYPE_CHECKING:
    from convcalc.records import Entry, Report
    from convcalc.spec.validate import Spec

Keys = tuple[str | int, ...]
FUNCTION_LIMIT = 60  # characters of a function name given
MERGES = {"Add": ("body", "shortcut"), "Multiply": ("body",)}
BLOCK_FIELDS = {"layers", "body", "shortcut", "branches"}
# a class written as a keras.ops function on the tensor and a number
# arguments always written: AveragePooling's pool_size has no default in Keras, and Cropping's
# is 0 in Keras, 1 in the dialect
WRITTEN = ("pool_size", "cropping")
OPS = {"ops.add": "keras.ops.add", "ops.multiply": "keras.ops.multiply"}

LAYER_SCALE = '''
@keras.saving.register_keras_serializable(package="convcalc")
class LayerScale(keras.layers.Layer):
    """keras.applications.convnext's LayerScale: x times a learnt factor per channel (the last
    axis), projection_dim of them, each starting at init_values."""

    def __init__(self, init_values: float, projection_dim: int, **kwargs: object) -> None:
        super().__init__(**kwargs)
        self.init_values = init_values
        self.projection_dim = projection_dim

    def build(self, input_shape: tuple[int | None, ...]) -> None:
        self.gamma = self.add_weight(
            shape=(self.projection_dim,),
            initializer=keras.initializers.Constant(self.init_values),
            trainable=True,
        )

    def call(self, x: keras.KerasTensor) -> keras.KerasTensor:
        return x * self.gamma

    def get_config(self) -> dict[str, object]:
        config = super().get_config()
        return {**config, "init_values": self.init_values, "projection_dim": self.projection_dim}
'''


def _value(value: Any) -> Any:
    """A YAML value as the Python literal written: lists as tuples, all the way down."""
    if isinstance(value, list):
        return tuple(_value(v) for v in value)
    return value


def _skipped(field: str) -> bool:
    """Arguments that change no number, left out of the file."""
    return field in ("type", "dtype") or field.endswith(
        ("_initializer", "_regularizer", "_constraint")
    )


class _Writer:
    """The statements of ``build()``, written from the spec's Keras layers."""

    def __init__(self, spec: Spec, report: Report) -> None:
        self.channels_last = report.dialect is None or report.dialect.channels_last
        self.report = report
        self.entries: dict[Keys, Entry] = {e.source: e for e in report.walk()}
        self.uses = Uses()
        self.variables = Names(frozenset({"keras", "inputs", "LayerScale"}), variables=True)
        self.statements: list[tuple[str, Group | str, str]] = []
        assert spec.doc is not None
        self.output = self.chain(spec.doc.data["layers"], ("layers",), "inputs", "x")

    def shown(self, keys: Keys) -> str:
        """A layer's output shape as Keras writes it, for its comment."""
        entry = self.entries.get(keys)
        if entry is None or self.report.dialect is None:
            return ""
        return sizes_text(self.report.dialect.shape(entry.output_shape))

    def chain(self, items: list[Any], keys: Keys, source: str, target: str) -> str:
        """The layers of a list applied in order to ``source``, each assigned to ``target``;
        the variable holding the list's output (``source`` for an empty list)."""
        current = source
        for i, item in enumerate(items):
            current = self.one(item, (*keys, i), current, target)
        return current

    def one(self, item: dict[str, Any], keys: Keys, source: str, target: str) -> str:
        kind = item["type"]
        writer = WRITERS.get(kind, _leaf)
        return writer(self, item, keys, source, target)

    def arguments(self, item: dict[str, Any], keys: Keys) -> list[Item]:
        """The layer's arguments as written (the block lists aside), then ``data_format``
        where a channels-first spec leaves it out, then ``name``."""
        kind = item["type"]
        args_model = CLASSES[kind][0]
        items = [
            Item(f"{field}=", literal(_value(value), self.uses))
            for field, value in item.items()
            if not _skipped(field) and field not in BLOCK_FIELDS and field != "name"
        ]
        for field in WRITTEN:  # Keras requires it, or defaults to another value
            if field in args_model.model_fields and field not in item:
                value = getattr(args_model.model_validate(item), field)
                items.append(Item(f"{field}=", literal(_value(value), self.uses)))
        fields = args_model.model_fields
        if not self.channels_last and "data_format" in fields and "data_format" not in item:
            items.append(Item("data_format=", python_str("channels_first")))
        if "name" in item:
            items.append(Item("name=", python_str(str(item["name"]))))
        return items

    def assign(self, target: str, cls: str, items: list[Item], inputs: str, comment: str) -> str:
        text = f"{cls}(" + ", ".join(item.prefix + flat(item.expr) for item in items)
        close = f")({inputs})"
        self.statements.append(
            (f"{target} = ", Group(f"{cls}(", items, close, flat=text + close), comment)
        )
        return target

    def fresh(self, base: str) -> str:
        return self.variables.add(base)

    def refuse(self, keys: Keys, message: str, field: str | None = None) -> ExportError:
        return ExportError(f"cannot be exported to Keras: {message}", self.entries[keys], field)


def _leaf(w: _Writer, item: dict[str, Any], keys: Keys, source: str, target: str) -> str:
    """``keras.layers.<Class>(arguments)(x)``: every class the dialect reads but the rows of
    :data:`WRITERS`."""
    cls = f"keras.layers.{item['type']}"
    return w.assign(target, cls, w.arguments(item, keys), source, w.shown(keys))


def _layer_scale(w: _Writer, item: dict[str, Any], keys: Keys, source: str, target: str) -> str:
    """ConvNeXt's LayerScale, the file's class (its factor on the last axis: channels-last)."""
    if not w.channels_last:
        raise w.refuse(keys, "LayerScale scales the last axis, the channels only channels-last")
    w.uses.helpers.add("LayerScale")
    return w.assign(target, "LayerScale", w.arguments(item, keys), source, w.shown(keys))


def _op(w: _Writer, item: dict[str, Any], keys: Keys, source: str, target: str) -> str:
    """``keras.ops.add(x, value)``: an operation of the functional graph (Keras names it)."""
    value = literal(float(item["value"]), w.uses)
    line = f"{OPS[item['type']]}({source}, {flat(value)})"
    w.statements.append((f"{target} = ", line, w.shown(keys)))
    return target


def _sequential(w: _Writer, item: dict[str, Any], keys: Keys, source: str, target: str) -> str:
    """``keras.Sequential([...], name=...)(x)``, a model used as a layer; its layers inline
    (a comment says so) where it holds a merge, which keras.Sequential cannot take."""
    inner = item["layers"]
    if any(
        isinstance(i, dict)
        and i.get("type") in WRITERS
        and i["type"] != "LayerScale"
        and i["type"] not in OPS
        for i in inner
    ):
        name = item.get("name", "Sequential")
        w.statements.append(("", f"# {name}: its layers inline (it holds a merge)", ""))
        return w.chain(inner, (*keys, "layers"), source, target)
    calls = []
    for i, layer in enumerate(inner):
        sub = (*keys, "layers", i)
        cls = "LayerScale" if layer["type"] == "LayerScale" else f"keras.layers.{layer['type']}"
        if layer["type"] == "LayerScale":
            w.uses.helpers.add("LayerScale")
        args = w.arguments(layer, sub)
        text = f"{cls}(" + ", ".join(a.prefix + flat(a.expr) for a in args) + ")"
        calls.append(Item("", Group(f"{cls}(", args, ")", flat=text), w.shown(sub)))
    listed = Group("[", calls, "]", flat="[" + ", ".join(flat(c.expr) for c in calls) + "]")
    items = [Item("", listed)]
    if "name" in item:
        items.append(Item("name=", python_str(str(item["name"]))))
    return w.assign(target, "keras.Sequential", items, source, w.shown(keys))


def _merge(w: _Writer, item: dict[str, Any], keys: Keys, source: str, target: str) -> str:
    """Add (body and shortcut), Multiply (x and body): each path from the block's input,
    then the merge layer of their outputs."""
    kind = item["type"]
    outputs = [source] if kind == "Multiply" else []
    for field in MERGES[kind]:
        path = item.get(field, [])
        outputs.append(w.chain(path, (*keys, field), source, w.fresh(field)))
    return _join(w, item, keys, outputs, target)


def _concatenate(w: _Writer, item: dict[str, Any], keys: Keys, source: str, target: str) -> str:
    """Concatenate: each branch from the block's input, then their outputs joined."""
    outputs = [
        w.chain(branch, (*keys, "branches", i), source, w.fresh("branch"))
        for i, branch in enumerate(item["branches"])
    ]
    return _join(w, item, keys, outputs, target)


def _join(w: _Writer, item: dict[str, Any], keys: Keys, outputs: list[str], target: str) -> str:
    cls = f"keras.layers.{item['type']}"
    listed = "[" + ", ".join(outputs) + "]"
    return w.assign(target, cls, w.arguments(item, keys), listed, w.shown(keys))


Write = Callable[[_Writer, dict[str, Any], Keys, str, str], str]
# the Keras classes written otherwise than keras.layers.<Class>(arguments)(x)
WRITERS: dict[str, Write] = {
    "Sequential": _sequential,
    "Add": _merge,
    "Multiply": _merge,
    "Concatenate": _concatenate,
    "ops.add": _op,
    "ops.multiply": _op,
    "LayerScale": _layer_scale,
}


def _header(report: Report, function: str, channels_last: bool) -> list[str]:
    dialect = report.dialect
    assert dialect is not None
    frozen = report.total_params - report.trainable_params
    layout = "channels-last" if channels_last else "channels-first"
    name = report.name
    return [
        f'"""A Keras 3 model generated by convcalc from the Keras spec {docstring_text(name)}.',
        "",
        docstring_text(
            f"Input: {sizes_text(dialect.shape(report.input_shape))} (one sample, {layout}).",
            WIDTH - 3,
        ),
        docstring_text(f"Output: {sizes_text(dialect.shape(report.output_shape))}.", WIDTH - 3),
        f"Parameters: {report.total_params:,} ({report.trainable_params:,} trainable, "
        f"{frozen:,} non-trainable).",
        f"{function}() builds it with the functional API, layer for layer as the spec writes it:",
        "the same Keras classes, arguments and names, Keras' defaults for the others. The",
        "comments give each layer's output shape without the batch.",
        '"""',
    ]


def keras_to_keras(spec: Spec, report: Report, name: str | None = None) -> str:
    """The source of a Python file defining a function (``name``, default ``build``) that
    builds the Keras spec's model with Keras' functional API, and a ``__main__`` block that
    prints its summary. Raises :class:`ExportError` at a layer the file cannot write."""
    if name is None:
        name = "build"
    else:
        check_name(name, "function", FUNCTION_LIMIT, frozenset({"keras", "LayerScale"}))
    writer = _Writer(spec, report)
    channels_last = writer.channels_last
    shape = literal(
        tuple(report.dialect.shape(report.input_shape) if report.dialect else report.input_shape),
        writer.uses,
    )
    model = identifier(report.name) or "network"
    layout = Layout(frozenset({"keras", "inputs", "LayerScale"}))
    lines = [
        f"def {name}() -> keras.Model:",
        f'    """The Keras spec {docstring_text(report.name)}, as Keras builds it."""',
        f"    inputs = keras.Input(shape={flat(shape)})",
    ]
    for prefix, expr, comment in writer.statements:
        written = layout.statement(prefix, expr, "", 4)
        written[-1] = commented(written[-1], comment)
        lines += written
    lines.append(f"    return keras.Model(inputs, {writer.output}, name={python_str(model)})")
    imports = ["import math", ""] if writer.uses.math else []
    sections = [
        "\n".join([*_header(report, name, channels_last), "", *imports, "import keras"]),
        *([LAYER_SCALE.strip()] if "LayerScale" in writer.uses.helpers else []),
        "\n".join(lines),
        "\n".join(
            [
                'if __name__ == "__main__":',
                f"    model = {name}()",
                "    model.summary()",
                '    print("output shape:", tuple(model.output.shape))',
            ]
        ),
    ]
    return "\n\n\n".join(sections) + "\n"
