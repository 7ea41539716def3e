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

:data:`WRITERS` is the table of the leaf classes written otherwise, keyed by the Keras class:
``Sequential`` of plain layers (and of such Sequentials, each a ``keras.Sequential`` in its list)
is ``keras.Sequential([...])`` (a model of its own: its names are its own);
``ops.add``/``ops.multiply`` are ``keras.ops.add(x, value)``/``keras.ops.multiply(x, value)``;
``LayerScale`` (keras.applications' ConvNeXt, not public API) is a small layer of the
file. :data:`BLOCK_WRITERS` is the table of the blocks, keyed by the dialect's builder kind
(:data:`convcalc.spec.keras.BLOCKS`): each plans its paths, chains of statements from the
block's input or an earlier path's output, and closes them with its merge, the functional API's
layer in the dialect's order (``Add``/``Subtract``/``Average``/``Maximum``/``Minimum`` of body
then shortcut: Subtract is body − shortcut; ``Multiply`` of the input then the gate;
``Concatenate`` of the branches; a graph's join layer, :data:`convcalc.layers.blocks.JOINS`,
of its ``output`` paths). A ``repeat`` (convcalc's) is written copy by copy, fresh layers; a
Sequential holding a block, an op or a MultiHeadAttention (called on (x, x)), directly or through
the Sequentials it holds, is written inline (keras.Sequential takes none); a block
written ``trainable: false`` gives each of its layers ``trainable=False``. The blocks are walked
with an explicit stack, so they nest as deep as the reader takes. Each layer's comment is its
output shape as Keras writes it (batch excluded), from convcalc's report.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from dataclasses import field as default
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
from convcalc.layers.blocks import JOINS
from convcalc.spec.keras import CLASSES, inlined

if TYPE_CHECKING:
    from convcalc.records import Entry, Report
    from convcalc.spec.validate import Spec

Keys = tuple[str | int, ...]
FUNCTION_LIMIT = 60  # characters of a function name given
# the fields of the dialect's blocks that hold lists of layers (and a graph's joined paths)
BLOCK_FIELDS = frozenset({"layers", "body", "shortcut", "branches", "paths", "output"})
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


@dataclass(frozen=True)
class _At:
    """Where a layer is written: its keys in the spec, its report entry (None where the report
    has none to match), the copies of the repeats around it (0-based, outermost first), and
    whether a block around it is written ``trainable: false``."""

    keys: Keys
    entry: Entry | None
    copies: tuple[int, ...]
    frozen: bool

    @property
    def suffix(self) -> str:
        """What the layer's name is given, that each copy of a repeat be a layer of its own:
        nothing in the first copies, else ``_`` and each copy's number (from 1): ``_2``,
        ``_1_2`` for the second copy of an inner repeat in the first of an outer one."""
        if not any(self.copies):
            return ""
        return "_" + "_".join(str(k + 1) for k in self.copies)


@dataclass
class _Path:
    """One list of layers a block runs: its items, its report entries (one per item, or none
    where the report has no such list), the earlier path whose output it reads (None: the
    block's input), the variable its layers are assigned to, the repeat copies it is in."""

    items: list[Any]
    keys: Keys
    entries: Sequence[Entry]
    reads: int | None
    target: str
    copies: tuple[int, ...]


@dataclass
class _Chain:
    """A list of layers being written: the next item, the variable of the tensor so far."""

    path: _Path
    current: str
    frozen: bool
    owner: _Open | None = None
    next: int = 0


@dataclass
class _Open:
    """A block whose paths are being written, each chained on the block's input (``source``)
    or an earlier path's output, then merged into ``target``; ``outs``: each path's output."""

    item: dict[str, Any]
    at: _At
    source: str
    target: str
    parent: _Chain
    paths: list[_Path] = default(default_factory=list)
    outs: list[str] = default(default_factory=list)


def _aligned(entries: Sequence[Entry], count: int) -> Sequence[Entry]:
    """The report's entries of a list of ``count`` items, or none if they do not match."""
    return entries if len(entries) == count else ()


def _children(at: _At, keys: Keys, count: int) -> Sequence[Entry]:
    """The block's report entries for its list ``keys``: ``count`` of them, or none."""
    if at.entry is not None:
        for child_keys, entries in at.entry.children:
            if child_keys == keys:
                return _aligned(entries, count)
    return ()


def _builder(item: Any) -> str:
    """The dialect's builder kind of a Keras class (:data:`CLASSES`): ``residual``, ``graph``,
    ``conv``, ..."""
    return CLASSES[item["type"]][2]


def _opens(item: dict[str, Any]) -> bool:
    """A block written as its paths then its merge. A Sequential holding only plain layers and
    such Sequentials is one ``keras.Sequential`` call; one that
    :func:`~convcalc.spec.keras.inlined` says is a stretch of its parent is written inline."""
    kind = _builder(item)
    return kind in BLOCK_WRITERS and (kind != "sequential" or inlined(item))


class _Writer:
    """The statements of ``build()``, written from the spec's Keras layers with an explicit
    stack of open lists and blocks (no recursion: blocks nest as deep as the reader takes)."""

    def __init__(self, spec: Spec, report: Report) -> None:
        self.channels_last = report.dialect is None or report.dialect.channels_last
        self.report = report
        self.entries: dict[Keys, Entry] = {e.source: e for e in report.walk()}
        self.uses = Uses()
        self.variables = Names(frozenset({"keras", "inputs", "LayerScale"}), variables=True)
        self.statements: list[tuple[str, Group | str, str]] = []
        self.names: set[str] = set()  # the Keras names written: Keras takes each once
        assert spec.doc is not None
        items = spec.doc.data["layers"]
        top = _Path(items, ("layers",), _aligned(report.layers, len(items)), None, "x", ())
        self.output = self.drive(_Chain(top, "inputs", False))

    def drive(self, top: _Chain) -> str:
        """Write ``top`` and every block in it; the variable of its output. A leaf is written
        where it is met; a block is opened (its paths planned), its paths written one after
        the other, then closed by its merge (:data:`BLOCK_WRITERS`)."""
        stack: list[_Chain | _Open] = [top]
        while True:
            frame = stack[-1]
            if isinstance(frame, _Open):
                if len(frame.outs) < len(frame.paths):
                    path = frame.paths[len(frame.outs)]
                    start = frame.source if path.reads is None else frame.outs[path.reads]
                    frozen = frame.at.frozen or frame.item.get("trainable") is False
                    stack.append(_Chain(path, start, frozen, frame))
                    continue
                stack.pop()
                close = BLOCK_WRITERS[_builder(frame.item)][1]
                frame.parent.current = close(self, frame)
                continue
            path = frame.path
            if frame.next == len(path.items):
                stack.pop()
                if frame.owner is None:
                    return frame.current
                frame.owner.outs.append(frame.current)
                continue
            i = frame.next
            frame.next += 1
            item = path.items[i]
            entry = path.entries[i] if path.entries else None
            at = _At((*path.keys, i), entry, path.copies, frame.frozen)
            if _opens(item):
                opened = _Open(item, at, frame.current, path.target, frame)
                opened.paths = BLOCK_WRITERS[_builder(item)][0](self, opened)
                stack.append(opened)
                continue
            writer = WRITERS.get(item["type"], _leaf)
            frame.current = writer(self, item, at, frame.current, path.target)

    def shown(self, at: _At) -> str:
        """A layer's output shape as Keras writes it, for its comment."""
        if at.entry is None or self.report.dialect is None:
            return ""
        return sizes_text(self.report.dialect.shape(at.entry.output_shape))

    def arguments(
        self, item: dict[str, Any], at: _At, skip: frozenset[str] = frozenset()
    ) -> list[Item]:
        """The layer's arguments as written (the block lists and ``skip`` aside), then
        ``data_format`` where a channels-first spec leaves it out, ``trainable=False`` inside a
        block written so, then ``name`` (suffixed in a repeat's later copies)."""
        kind = item["type"]
        args_model = CLASSES[kind][0]
        left_out = BLOCK_FIELDS | skip | {"name"} | ({"trainable"} if at.frozen else set())
        items = [
            Item(f"{field}=", literal(_value(value), self.uses))
            for field, value in item.items()
            if not _skipped(field) and field not in left_out
        ]
        for field in WRITTEN:  # Keras requires it, or defaults to another value
            if field in args_model.model_fields and field not in item:
                value = getattr(args_model.model_validate(item), field)
                items.append(Item(f"{field}=", literal(_value(value), self.uses)))
        fields = args_model.model_fields
        if not self.channels_last and "data_format" in fields and "data_format" not in item:
            items.append(Item("data_format=", python_str("channels_first")))
        if at.frozen and "trainable" not in skip:
            items.append(Item("trainable=", "False"))
        if "name" in item:
            name = f"{item['name']}{at.suffix}"
            if name in self.names:
                raise self.refuse(
                    at.keys,
                    f"the name {name!r} would be written twice in one Keras model (a Sequential "
                    "holding a merge or an op is written inline, its names among the model's)",
                    "name",
                )
            self.names.add(name)
            items.append(Item("name=", python_str(name)))
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


# --- leaves: one statement each ------------------------------------------------------------


def _leaf(w: _Writer, item: dict[str, Any], at: _At, source: str, target: str) -> str:
    """``keras.layers.<Class>(arguments)(x)``: every class the dialect reads but the rows of
    :data:`WRITERS` and the blocks."""
    cls = f"keras.layers.{item['type']}"
    return w.assign(target, cls, w.arguments(item, at), source, w.shown(at))


def _layer_scale(w: _Writer, item: dict[str, Any], at: _At, source: str, target: str) -> str:
    """ConvNeXt's LayerScale, the file's class (its factor on the last axis: channels-last)."""
    if not w.channels_last:
        raise w.refuse(at.keys, "LayerScale scales the last axis, the channels only channels-last")
    w.uses.helpers.add("LayerScale")
    return w.assign(target, "LayerScale", w.arguments(item, at), source, w.shown(at))


def _op(w: _Writer, item: dict[str, Any], at: _At, source: str, target: str) -> str:
    """``keras.ops.add(x, value)``: an operation of the functional graph (Keras names it)."""
    value = literal(float(item["value"]), w.uses)
    line = f"{OPS[item['type']]}({source}, {flat(value)})"
    w.statements.append((f"{target} = ", line, w.shown(at)))
    return target


def _sequential(w: _Writer, item: dict[str, Any], at: _At, source: str, target: str) -> str:
    """``keras.Sequential([...], name=...)(x)``, a model used as a layer, of plain layers and
    the keras.Sequential models it holds (a Sequential holding a block or a keras.ops call is
    written inline: :func:`_inline`)."""
    listed = _listed(_sequential_calls(w, item, at))
    items = [Item("", listed), *w.arguments(item, at, frozenset({"trainable"}))]
    return w.assign(target, "keras.Sequential", items, source, w.shown(at))


def _sequential_calls(w: _Writer, item: dict[str, Any], at: _At) -> list[Item]:
    """The calls listed in a keras.Sequential: each plain layer's, and each Sequential it
    holds as a ``keras.Sequential([...])`` of its own, built innermost first (an explicit
    stack: nesting is deep). Each model's layers' names are its own."""
    order: list[tuple[dict[str, Any], _At]] = []
    todo = [(item, at)]
    while todo:  # every Sequential after the one holding it
        node, node_at = todo.pop()
        order.append((node, node_at))
        todo += [
            (layer, sub) for layer, sub in _held(node, node_at) if layer["type"] == "Sequential"
        ]
    built: dict[Keys, list[Item]] = {}
    for node, node_at in reversed(order):  # innermost first
        calls = []
        outer, w.names = w.names, set()  # a model of its own: its layers' names are its own
        for layer, sub in _held(node, node_at):
            if layer["type"] == "Sequential":
                cls = "keras.Sequential"
                args = [Item("", _listed(built[sub.keys]))]
                args += w.arguments(layer, sub, frozenset({"trainable"}))
            else:
                cls = (
                    "LayerScale"
                    if layer["type"] == "LayerScale"
                    else f"keras.layers.{layer['type']}"
                )
                if layer["type"] == "LayerScale":
                    if not w.channels_last:
                        raise w.refuse(
                            sub.keys,
                            "LayerScale scales the last axis, the channels only channels-last",
                        )
                    w.uses.helpers.add("LayerScale")
                args = w.arguments(layer, sub)
            text = f"{cls}(" + ", ".join(a.prefix + flat(a.expr) for a in args) + ")"
            calls.append(Item("", Group(f"{cls}(", args, ")", flat=text), w.shown(sub)))
        w.names = outer
        built[node_at.keys] = calls
    return built[at.keys]


def _held(item: dict[str, Any], at: _At) -> list[tuple[dict[str, Any], _At]]:
    """A Sequential's layers, each with where it is written."""
    inner = item["layers"]
    entries = _children(at, ("layers",), len(inner))
    frozen = at.frozen or item.get("trainable") is False
    return [
        (layer, _At((*at.keys, "layers", i), entries[i] if entries else None, at.copies, frozen))
        for i, layer in enumerate(inner)
    ]


def _listed(calls: list[Item]) -> Group:
    """``[call, call, ...]``."""
    return Group("[", calls, "]", flat="[" + ", ".join(flat(c.expr) for c in calls) + "]")


def _self_attention(w: _Writer, item: dict[str, Any], at: _At, source: str, target: str) -> str:
    """``keras.layers.MultiHeadAttention(...)(x, x)``: self-attention, query and value x."""
    cls = f"keras.layers.{item['type']}"
    return w.assign(target, cls, w.arguments(item, at), f"{source}, {source}", w.shown(at))


Write = Callable[[_Writer, dict[str, Any], _At, str, str], str]
# the leaf classes written otherwise than keras.layers.<Class>(arguments)(x)
WRITERS: dict[str, Write] = {
    "Sequential": _sequential,
    "ops.add": _op,
    "ops.multiply": _op,
    "LayerScale": _layer_scale,
    "MultiHeadAttention": _self_attention,
}


# --- blocks: their paths planned, written by the stack, then merged ------------------------


def _path(block: _Open, keys: Keys, target: str, reads: int | None = None) -> _Path:
    """The block's list ``keys`` (relative to it, an absent one empty) as a path whose layers
    are assigned to ``target``."""
    node: Any = block.item
    for key in keys[:-1]:
        node = node[key]
    items = (node.get(keys[-1]) if isinstance(node, dict) else node[keys[-1]]) or []
    entries = _children(block.at, keys, len(items))
    return _Path(items, (*block.at.keys, *keys), entries, reads, target, block.at.copies)


def _plan_inline(w: _Writer, block: _Open) -> list[_Path]:
    """A Sequential holding a block or a keras.ops call, which keras.Sequential cannot take:
    its layers inline (a comment says so)."""
    name = block.item.get("name", "Sequential")
    w.statements.append(("", f"# {name}: its layers inline (it holds a merge or an op)", ""))
    return [_path(block, ("layers",), block.target)]


def _close_chain(w: _Writer, block: _Open) -> str:
    """A chain's output: its last path's (an inline Sequential's, a repeat's last copy's)."""
    return block.outs[-1]


def _plan_repeat(w: _Writer, block: _Open) -> list[_Path]:
    """convcalc's repeat, which Keras has not: ``times`` copies of its layers, each a fresh
    layer (its name suffixed, :attr:`_At.suffix`) on the previous copy's output."""
    items = block.item["layers"]
    times = int(block.item["times"])
    unrolled = _children(block.at, ("layers",), times * len(items))
    return [
        _Path(
            items,
            (*block.at.keys, "layers"),
            unrolled[k * len(items) : (k + 1) * len(items)],
            k - 1 if k else None,
            block.target,
            (*block.at.copies, k),
        )
        for k in range(times)
    ]


def _plan_pair(w: _Writer, block: _Open) -> list[_Path]:
    """Add, Subtract, Average, Maximum, Minimum (and Multiply of a body and a shortcut):
    body then shortcut, each from the block's input (an empty one: the input itself)."""
    return [_path(block, (name,), w.fresh(name)) for name in ("body", "shortcut")]


def _plan_scale(w: _Writer, block: _Open) -> list[_Path]:
    """Multiply of a body alone: the gate, from the block's input; with a shortcut, as Add."""
    if block.item.get("shortcut") is not None:
        return _plan_pair(w, block)
    return [_path(block, ("body",), w.fresh("body"))]


def _plan_branches(w: _Writer, block: _Open) -> list[_Path]:
    """Concatenate: each branch from the block's input."""
    return [
        _path(block, ("branches", i), w.fresh("branch")) for i in range(len(block.item["branches"]))
    ]


def _plan_graph(w: _Writer, block: _Open) -> list[_Path]:
    """convcalc's graph: each named path from the block's input or the earlier path it
    reads (``from``)."""
    index: dict[str, int] = {}
    paths = []
    for i, written in enumerate(block.item["paths"]):
        source = written.get("from")
        target = w.fresh(identifier(str(written["name"])) or "path")
        paths.append(_path(block, ("paths", i, "layers"), target, index.get(source)))
        index.setdefault(written["name"], i)
    return paths


def _merge_class(item: dict[str, Any]) -> str:
    """The Keras merge layer of a block: a graph's join's (:data:`JOINS`), else its class."""
    if item["type"] == "graph":
        return JOINS[item["join"]].keras
    return str(item["type"])


def _close_merge(w: _Writer, block: _Open) -> str:
    """The merge layer called on the joined outputs, in the dialect's order: body then
    shortcut (Subtract: body − shortcut), the input then the gate (Multiply of a body alone),
    the branches, or a graph's ``output`` (by default the paths no other path reads)."""
    item, outs = block.item, block.outs
    if _builder(item) == "scale" and len(outs) == 1:
        inputs = [block.source, *outs]
    elif item["type"] == "graph":
        names = {str(p["name"]): i for i, p in reversed(list(enumerate(item["paths"])))}
        read = {p.get("from") for p in item["paths"]}
        output = item.get("output") or [p["name"] for p in item["paths"] if p["name"] not in read]
        inputs = [outs[names[str(name)]] for name in output]
    else:
        inputs = outs
    cls = _merge_class(item)
    if len(inputs) < 2 and cls != "Concatenate":
        raise w.refuse(
            block.at.keys,
            f"Keras' {cls} joins two tensors or more, and this block joins {len(inputs)}",
        )
    skip = {"trainable", "join", "times"} | ({"axis"} if cls != "Concatenate" else set())
    args = w.arguments(item, replace(block.at, frozen=False), frozenset(skip))
    listed = "[" + ", ".join(inputs) + "]"
    return w.assign(block.target, f"keras.layers.{cls}", args, listed, w.shown(block.at))


Plan = Callable[[_Writer, _Open], list[_Path]]
Close = Callable[[_Writer, _Open], str]
# the dialect's blocks (its builder kinds, :data:`convcalc.spec.keras.BLOCKS`): how each is
# planned (its paths) and closed (its merge)
BLOCK_WRITERS: dict[str, tuple[Plan, Close]] = {
    "sequential": (_plan_inline, _close_chain),
    "repeat": (_plan_repeat, _close_chain),
    "residual": (_plan_pair, _close_merge),
    "scale": (_plan_scale, _close_merge),
    "concat": (_plan_branches, _close_merge),
    "graph": (_plan_graph, _close_merge),
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
