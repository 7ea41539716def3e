"""From a YAML document to a validated :class:`Spec`, with errors a student reads.

Pydantic's errors carry a location such as ``('layers', 1, 'body', 0, 'kernel_size')``; here
that becomes ``net.yaml:4: layers[1].body[0] (conv), field kernel_size: must be ...``.

Each layer is validated by its own class, built the first time a spec uses it; blocks are
walked with an explicit stack, so a spec nested 500 deep costs no recursion. A layer written
once and reused through a YAML alias is validated once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, PlainValidator, ValidationError, WithJsonSchema
from pydantic_core import PydanticCustomError

from convcalc.arith import LIMIT
from convcalc.errors import SpecError, format_path, shown
from convcalc.layers.base import Layer
from convcalc.layers.blocks import Block, Repeat
from convcalc.layers.fields import InputShape, Text, show
from convcalc.layers.registry import KINDS, layer_class
from convcalc.records import Dialect, Shape
from convcalc.spec.document import (
    MAX_NODES,
    Document,
    parse_yaml,
    read_source,
    written,
    yaml_text,
)

MAX_REPORTED = 3


@dataclass(frozen=True)
class Spec:
    """A validated spec: its name, input shape and layers, and where it was written."""

    name: str
    input: Shape
    layers: list[Layer]
    file: str | None = None
    doc: Document | None = field(default=None, repr=False, compare=False)
    dialect: Dialect | None = None  # written in Keras' terms (convcalc.spec.keras)

    def line_of(self, keys: list[str | int]) -> int | None:
        """The line where the part of the spec at ``keys`` was written, if known."""
        return self.doc.line_of(keys) if self.doc is not None else None


class SpecHead(BaseModel):
    """A spec's top level, its layers left for their own classes to validate."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    name: Text | None = None
    # keras: Keras 3's classes and arguments, its input shape (convcalc.spec.keras)
    framework: Literal["pytorch", "keras"] = "pytorch"
    data_format: Literal["channels_last", "channels_first"] | None = None
    input: InputShape
    layers: list[Any]


def _keras_input(value: Any) -> tuple[int, ...]:
    """Keras' ``input_shape`` without the batch: 1 to 4 positive sizes, each at most
    2^63 − 1 (the sizes of the backends' int64 shapes)."""
    form = (
        "Keras' input shape without the batch: [height, width, channels], [steps, features] "
        "or [features] (channels first with data_format: channels_first)"
    )
    if not isinstance(value, list | tuple):
        raise _keras_error(f"must be {form}, not {show(value)}")
    if not 1 <= len(value) <= 4:
        raise _keras_error(f"must be {form}; 1 to 4 sizes, not {len(value)}")
    for item in value:
        if isinstance(item, bool) or not isinstance(item, int) or item < 1:
            raise _keras_error(f"every size must be a positive integer, not {show(item)}")
        if item > LIMIT:
            raise _keras_error(
                f"{item:,} is beyond 2^63 − 1 ({LIMIT:,}), the largest size a tensor of "
                "Keras' backends holds"
            )
    return tuple(value)


def _keras_error(message: str) -> PydanticCustomError:
    return PydanticCustomError("convcalc", "{message}", {"message": message})


class KerasHead(SpecHead):
    """A ``framework: keras`` spec's top level: its input is Keras' ``input_shape``."""

    input: Annotated[
        tuple[int, ...],
        PlainValidator(_keras_input),
        WithJsonSchema({"type": "array", "items": {"type": "integer", "minimum": 1}}),
    ]


def bundled_specs() -> dict[str, Path]:
    """The specs that ship with convcalc (the package's specs/, a link to the repo's), by name."""
    folder = Path(__file__).parent.parent / "specs"
    return {path.stem: path for path in sorted(folder.glob("*.yaml"))}


def read_document(source: str | Path) -> Document:
    """The YAML document of a path, ``-`` (standard input) or a bundled spec's name."""
    text, file, name = read_source(str(source), bundled_specs())
    return parse_yaml(text, file, name)


def load_spec(source: str | Path | dict[str, Any]) -> Spec:
    """A validated spec from a path, ``-``, a bundled spec's name, YAML text or a dict.

    Text is read as YAML when it is not the name of an existing file or bundled spec and holds
    a newline or a colon.
    """
    return validate(load_document(source))


def load_document(source: str | Path | dict[str, Any]) -> Document:
    """The document of any source :func:`load_spec` takes, not yet validated."""
    if isinstance(source, dict):
        data = dict(source)  # the solver replaces its unknowns: never the caller's
        return Document(file="<dict>", name=str(source.get("name") or "spec"), data=data)
    text = str(source)
    if isinstance(source, str) and ("\n" in text or ":" in text) and not _names_a_file(text):
        return parse_yaml(text, "<text>", "spec")
    return read_document(source)


def _names_a_file(text: str) -> bool:
    try:
        return Path(text).exists() or text in bundled_specs()
    except OSError:  # a name too long for the file system is YAML text
        return False


def validate(doc: Document, *, share: bool = True, max_layers: int = MAX_NODES) -> Spec:
    """The spec in ``doc``, or a :class:`SpecError` naming file, line, layer and field.

    With ``share``, leaves written alike are one object (cheaper on long specs); the solver
    turns it off, since it tells the places of its unknowns apart by object. ``max_layers``:
    the most layers the network may unroll to (:data:`MAX_LAYERS` by default; the grader,
    marking files others wrote, allows fewer).
    """
    data = doc.data
    if data is None:
        raise SpecError("is empty: a spec needs 'input' and 'layers'", file=doc.file)
    if not isinstance(data, dict):
        raise SpecError(
            f"the top level must be a mapping with 'input' and 'layers', not {show(data)}",
            file=doc.file,
            line=1,
        )
    if data.get("framework") == "keras":
        return _keras_spec(doc, max_layers)
    head, errors = None, list[dict[str, Any]]()
    try:
        head = SpecHead.model_validate(data)
    except ValidationError as exc:
        errors += [dict(err) for err in exc.errors()]
    if head is not None and head.data_format is not None:
        raise SpecError(
            "data_format is Keras' argument: PyTorch's shapes are channels-first; for a Keras "
            "spec write framework: keras",
            file=doc.file,
            line=doc.line_of(["data_format"]),
            field="data_format",
        )
    raw = data.get("layers")
    layers = _layers(raw, errors, share) if isinstance(raw, list) else []
    if head is not None and not errors:
        _check_unrolled(layers, doc, max_layers)
        return Spec(head.name or doc.name, head.input, layers, doc.file, doc)
    raise _first(doc, errors)


def _keras_spec(doc: Document, max_layers: int) -> Spec:
    """A ``framework: keras`` spec: its head validated in Keras' words (:class:`KerasHead`),
    and, only once the head is valid, its layers read by the dialect; a head's errors are
    the spec's only errors (its layers are Keras classes, not PyTorch types)."""
    from convcalc.spec.keras import read_keras

    try:
        head = KerasHead.model_validate(doc.data)
    except ValidationError as exc:
        raise _first(doc, [dict(err) for err in exc.errors()]) from None
    shape, keras_layers, dialect = read_keras(doc, head.input, head.data_format)
    _check_unrolled(keras_layers, doc, max_layers)
    return Spec(head.name or doc.name, shape, keras_layers, doc.file, doc, dialect)


def _first(doc: Document, errors: list[dict[str, Any]]) -> SpecError:
    """The first of ``errors`` located, the next ones (up to :data:`MAX_REPORTED`) after
    its message."""
    # an unknown field explains a missing one (a typo), so it goes first
    errors.sort(key=lambda err: err["type"] != "extra_forbidden")
    located = [_locate(doc, err) for err in errors]
    first = located[0]
    if len(located) > 1:
        more = [str(e) for e in located[1:MAX_REPORTED]]
        if len(located) > MAX_REPORTED:
            more.append(f"... and {len(located) - MAX_REPORTED} more")
        first.message += "\n" + "\n".join(more)
    return first


MAX_LAYERS = MAX_NODES  # layers (blocks included) once every repeat is unrolled


def _check_unrolled(layers: list[Layer], doc: Document, limit: int) -> None:
    """Refuse a network whose repeats unroll past ``limit`` layers, before anything
    lists them: the deepest block past the limit is named (its ``times`` if a repeat).

    Each layer's unrolled count, 1 + times × its lists' counts, is worked out once (a layer
    reused through an alias is one object), bottom up, without recursion."""
    counts: dict[int, int] = {}
    todo: list[tuple[Layer, tuple[str | int, ...], bool]] = [
        (layer, ("layers", i), False) for i, layer in enumerate(layers)
    ]
    while todo:
        layer, keys, children_done = todo.pop()
        if id(layer) in counts:
            continue
        if not isinstance(layer, Block):
            counts[id(layer)] = 1
            continue
        lists = [((*keys, *place), items) for place, items in layer.lists()]
        if not children_done:
            todo.append((layer, keys, True))
            todo.extend(
                (child, (*place, i), False)
                for place, items in lists
                for i, child in enumerate(items)
            )
            continue
        inner = sum(counts[id(child)] for _, items in lists for child in items)
        count = 1 + (layer.times if isinstance(layer, Repeat) else 1) * inner
        if count > limit:
            field = "times" if isinstance(layer, Repeat) else None
            raise SpecError(
                f"unrolls to {count:,} layers, more than the {limit:,} a network may hold",
                file=doc.file,
                line=doc.line_of([*keys, *([field] if field else [])]),
                path=format_path(list(keys)),
                layer_type=layer.type,
                field=field,
            )
        counts[id(layer)] = count
    total = 0
    for i, layer in enumerate(layers):
        total += counts[id(layer)]
        if total > limit:
            raise SpecError(
                f"the network unrolls to more than {limit:,} layers by this one",
                file=doc.file,
                line=doc.line_of(["layers", i]),
                path=f"layers[{i}]",
                layer_type=layer.type,
            )


@dataclass
class _List:
    """A list of raw layers being validated into ``out``."""

    items: list[Any]
    keys: tuple[str | int, ...]
    out: list[Any]
    next: int = 0


@dataclass
class _Open:
    """A block whose lists are being validated; ``into`` is where it goes when complete."""

    block: Block
    raw: Any
    keys: tuple[str | int, ...]
    into: list[Any]
    lists: list[tuple[tuple[str | int, ...], list[Any]]]
    outs: list[list[Any]] = field(default_factory=list)


def _layers(raw: list[Any], errors: list[dict[str, Any]], share: bool) -> list[Layer]:
    """Validate a list of layers and every block's lists, depth first, without recursion."""
    top: list[Layer] = []
    done: dict[int, Layer] = {}  # id(raw mapping) -> its layer: aliases are validated once
    same: dict[Any, Layer] = {}
    stack: list[_List | _Open] = [_List(raw, ("layers",), top)]
    while stack:
        frame = stack[-1]
        if isinstance(frame, _Open):
            if len(frame.outs) < len(frame.lists):
                keys, items = frame.lists[len(frame.outs)]
                frame.outs.append([])
                stack.append(_List(items, frame.keys + keys, frame.outs[-1]))
            else:
                stack.pop()
                done[id(frame.raw)] = block = frame.block.rebuild(frame.outs)
                frame.into.append(block)
            continue
        if frame.next == len(frame.items):
            stack.pop()
            continue
        item, keys = frame.items[frame.next], (*frame.keys, frame.next)
        frame.next += 1
        if id(item) in done:
            frame.out.append(done[id(item)])
            continue
        layer = _one(item, keys, errors, same if share else None)
        if isinstance(layer, Block):
            stack.append(_Open(layer, item, keys, frame.out, layer.lists()))
        elif layer is not None:
            done[id(item)] = layer
            frame.out.append(layer)
    return top


def _one(
    item: Any,
    keys: tuple[str | int, ...],
    errors: list[dict[str, Any]],
    same: dict[Any, Layer] | None,
) -> Layer | None:
    """One layer validated by its own class (a block's lists still raw), or None on errors.

    ``same`` remembers valid leaves by their written content, so that a chain repeating the
    same few layers validates each once.
    """
    kind = _not_a_layer(item)
    if kind:  # our own error kinds, located like pydantic's
        errors.append({"type": kind, "loc": keys, "input": item})
        return None
    leaf = not KINDS[item["type"]].block  # a block's repr would walk all it holds
    content = _content(item) if same is not None and leaf else None
    if same is not None and content in same:
        return same[content]
    try:
        layer = layer_class(item["type"]).model_validate(item)
    except ValidationError as exc:
        errors.extend({**err, "loc": (*keys, *err["loc"])} for err in exc.errors())
        return None
    if same is not None and content is not None and not isinstance(layer, Block):
        same[content] = layer
    return layer


def _content(item: dict[Any, Any]) -> str | None:
    """A leaf as written, as text (``repr`` tells ``true`` from ``1`` and ``1`` from ``1.0``);
    None when a value nests deeper than a list of scalars (its repr could recurse too far)."""
    for value in item.values():
        if isinstance(value, dict) or (
            isinstance(value, list) and any(isinstance(v, dict | list) for v in value)
        ):
            return None
    return repr(item)


def _not_a_layer(item: Any) -> str | None:
    """Why a list item cannot be validated as a layer, or None if it names a known type."""
    if not isinstance(item, dict):
        return "not_a_mapping"
    if "type" not in item:
        return "no_type"
    return None if isinstance(item["type"], str) and item["type"] in KINDS else "unknown_type"


def _locate(doc: Document, err: Any) -> SpecError:
    """Walk pydantic's location through the data (skipping any key that is not in it) to find
    the layer, the field and the line."""
    node: Any = doc.data
    path: list[str | int] = []
    layer_path: list[str | int] | None = None
    layer: dict[str, Any] | None = None
    kind = err["type"]
    loc = err["loc"]
    if kind == "invalid_key":  # pydantic's location holds a repr of the key: use the key
        loc = (*loc[:-1], err["input"])
    for key in loc:
        in_dict = isinstance(node, dict) and key in node
        in_list = isinstance(node, list) and isinstance(key, int) and key < len(node)
        if not (in_dict or in_list):
            continue  # a missing field: the place is its layer
        node = node[key]
        path.append(key)
        if isinstance(node, dict) and "type" in node and path[0] == "layers":
            layer_path, layer = list(path), node
    if layer_path is not None:
        where = format_path(layer_path)
        field = path[len(layer_path)] if len(path) > len(layer_path) else None
    elif len(path) > 1:  # inside a list of layers, but not a layer with a type
        where, field = format_path(path), None
    else:
        where, field = None, path[0] if path else None
    message = _message(kind, err, layer)
    if kind == "extra_forbidden":
        field = err["loc"][-1]
        message = _unknown_field(yaml_text(field), layer)
    elif kind in ("missing", "invalid_key"):
        field = loc[-1]
    line = doc.line_of(path)
    return SpecError(
        message,
        file=doc.file,
        line=line,
        path=where,
        layer_type=yaml_text(layer.get("type")) if layer is not None else None,
        field=yaml_text(field) if field is not None or kind == "invalid_key" else None,
    )


def _message(kind: str, err: Any, layer: dict[str, Any] | None) -> str:
    if kind == "convcalc":
        return str(err["ctx"]["message"])
    if kind == "missing":
        return "is required but missing"
    if kind == "unknown_type":
        import difflib

        names = list(KINDS)
        wrong = yaml_text(err["input"]["type"])
        close = difflib.get_close_matches(wrong, names, n=1) if len(wrong) <= 40 else []
        hint = f" (did you mean '{close[0]}'?)" if close else ""
        return f"unknown layer type '{shown(wrong)}'{hint}; valid types: {', '.join(names)}"
    if kind == "no_type":
        return "a layer needs a 'type', e.g. {type: conv, out_channels: 16, kernel_size: 3}"
    if kind == "not_a_mapping":
        return "a layer must be a mapping such as {type: relu}"
    if kind == "list_type":
        return "must be a list"
    if kind == "too_short":
        return "must not be empty"
    if kind == "string_type":
        return "must be text"
    if kind == "literal_error":
        return f"must be {err['ctx']['expected']}, not {shown(written(err['input']))}"
    if kind == "invalid_key":
        return f"a field's name must be text, not {show(err['input'])}"
    return str(err["msg"])


def _unknown_field(name: str, layer: dict[str, Any] | None) -> str:
    if layer is None:
        valid = list(SpecHead.model_fields)
        where = "a spec"
    else:
        kind = yaml_text(layer.get("type"))
        cls = layer_class(kind) if kind in KINDS else None
        fields = [f for f in cls.model_fields if f != "type"] if cls else []
        rare = ("name", "functional", "trainable", "device", "dtype")
        valid = sorted(fields, key=lambda f: f in rare)  # the usual ones first
        where = f"{'an' if kind[:1] in 'aeiou' else 'a'} {kind} layer"
    import difflib

    close = difflib.get_close_matches(name, valid, n=1) if len(name) <= 40 else []
    hint = f"did you mean '{close[0]}'? " if close else ""
    return f"unknown field: {hint}{where} takes {', '.join(valid) or 'no fields'}"
