"""The JSON Schema of spec files, for editors that validate YAML (``convcalc schema``).

Assembled from each layer class's own schema, with every block's lists pointing back at the
definition of a layer, so nested blocks validate too. A layer is dispatched on its ``type``
(:func:`dispatch`) and checked in depth against its own type's definition only: validation is
linear in the spec's layers, and an editor shows the wrong field, not a failure per type.
"""

from __future__ import annotations

from typing import Any

from convcalc.arith import RANGE
from convcalc.layers.registry import KINDS, block_class, layer_class

_LAYER = {"$ref": "#/$defs/Layer"}
# what `convcalc solve SPEC` reads as an unknown in place of an integer: "?", 5, 1..7, 1,3,5
UNKNOWN = {"type": "string", "pattern": rf"^\s*(\?|{RANGE})$"}


def dispatch(refs: dict[str, str], what: str) -> dict[str, Any]:
    """The definition of a layer: an object whose ``type`` is one of ``refs``' keys, checked
    against its own type's definition ``refs[type]`` only, found by :func:`_by_type`. A layer
    without a ``type``, not an object, or of an unknown type fails once (``required``, ``type``,
    or ``enum`` listing the types); the ``if`` repeats the list (a ``$ref`` costs more)."""
    known = {"enum": list(refs)}
    return {
        "description": f"{what}: its type, then that type's fields",
        "type": "object",
        "required": ["type"],
        "properties": {"type": known},
        "if": {"type": "object", "required": ["type"], "properties": {"type": known}},
        "then": _by_type(list(refs.items())),
    }


def _by_type(refs: list[tuple[str, str]]) -> dict[str, Any]:
    """A decision tree on a known ``type``: if it is one of the first half of ``refs``, the
    first half's tree, else the second's; at a leaf, the type's definition. A layer costs
    ⌈log₂ types⌉ tests of its type (``allOf`` rows, ``if type is T then T``, would cost one a
    type; a ``oneOf`` of the types checks each in depth, and descends into the lists of every
    block type with the same field name, ``layers`` or ``body``: twice the work a level)."""
    if len(refs) == 1:
        return {"$ref": refs[0][1]}
    half = len(refs) // 2
    return {
        "if": {"properties": {"type": {"enum": [name for name, _ in refs[:half]]}}},
        "then": _by_type(refs[:half]),
        "else": _by_type(refs[half:]),
    }


def _allow_unknowns(schema: dict[str, Any]) -> None:
    """Let every integer be written as an unknown too, as ``convcalc solve SPEC`` reads it:
    ``{"anyOf": [integer, unknown]}``, or both alternatives in the ``anyOf`` it is already
    one alternative of (one level of alternatives, not two: fewer checks)."""

    def is_integer(value: Any) -> bool:
        return isinstance(value, dict) and value.get("type") == "integer"

    def wrap(value: Any) -> Any:
        if is_integer(value):
            return {"anyOf": [value, UNKNOWN]}  # done: not walked again
        todo.append(value)
        return value

    def spread(options: list[Any]) -> list[Any]:
        kept = [v if is_integer(v) else wrap(v) for v in options]
        return [*kept, UNKNOWN] if any(map(is_integer, options)) else kept

    todo: list[Any] = [schema]
    while todo:
        node = todo.pop()
        if isinstance(node, dict):
            for key, value in list(node.items()):
                if key == "anyOf" and isinstance(value, list):
                    node[key] = spread(value)
                elif isinstance(value, list):
                    node[key] = [wrap(v) for v in value]
                else:
                    node[key] = wrap(value)


def spec_schema() -> dict[str, Any]:
    """The schema of a whole spec file."""
    from convcalc.spec.validate import SpecHead

    defs: dict[str, Any] = {}
    mapping: dict[str, str] = {}
    for name, kind in KINDS.items():
        schema = layer_class(name).model_json_schema(ref_template="#/$defs/{model}")
        defs.update(schema.pop("$defs", {}))
        props = schema.get("properties", {})
        block = block_class(name)
        for field in block.LISTS if block else ():  # a block's lists: of any layer type
            items = {"type": "array", "items": _LAYER} if block and block.NESTED else _LAYER
            props[field] = {"type": "array", "items": items}
        for part, fields in block.PART_LISTS.items() if block else ():  # a graph's paths'
            for field in fields:
                defs[part]["properties"][field] = {"type": "array", "items": _LAYER}
        defs[kind.cls] = schema
        mapping[name] = f"#/$defs/{kind.cls}"
    defs["Layer"] = dispatch(mapping, "a layer")  # only its type's fields checked
    _allow_unknowns(defs)
    for name, kind in KINDS.items():  # in_channels...: optional, checked, never unknowns
        for size in layer_class(name).from_input:
            defs[kind.cls]["properties"][size] = {
                "type": "integer",
                "minimum": 1,
                "description": "read from the input; if written, it must be that size",
            }
    head = SpecHead.model_json_schema()["properties"]
    _allow_unknowns(head)
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "convcalc spec",
        "type": "object",
        "properties": {
            "name": {"type": "string"},
            "input": head["input"],
            "layers": {"type": "array", "items": _LAYER},
        },
        "required": ["input", "layers"],
        "additionalProperties": False,
        "$defs": defs,
    }


_KERAS_LAYER = {"$ref": "#/$defs/KerasLayer"}
# the arguments of the Keras dialect's blocks that hold lists of layers (branches: lists of lists)
KERAS_LISTS = ("layers", "body", "shortcut")


def keras_schema() -> dict[str, Any]:
    """The schema of a Keras spec (``framework: keras``), from the dialect's own argument
    models (:data:`convcalc.spec.keras.CLASSES`): one definition per Keras class, its ``type``
    that class's name, a layer checked by the definition of the class its ``type`` names only
    (:func:`dispatch`: a wrong layer deep in blocks costs the same few checks a level), its
    blocks' lists pointing back at the layers' definition."""
    from convcalc.spec.keras import CLASSES
    from convcalc.spec.validate import SpecHead

    defs: dict[str, Any] = {}
    mapping: dict[str, str] = {}
    for name, (args, _, _) in CLASSES.items():
        schema = args.model_json_schema(ref_template="#/$defs/{model}")
        defs.update(schema.pop("$defs", {}))
        schema["title"] = name
        props = schema["properties"]
        props["type"] = {"const": name}
        for field in KERAS_LISTS:
            if field in props:
                props[field] = {"type": "array", "items": _KERAS_LAYER}
        if "branches" in props:
            lists = {"type": "array", "items": _KERAS_LAYER}
            props["branches"] = {"type": "array", "minItems": 1, "items": lists}
        key = "Keras_" + name.replace(".", "_")
        defs[key] = schema
        mapping[name] = f"#/$defs/{key}"
    defs["KerasLayer"] = dispatch(mapping, "a Keras layer")
    _allow_unknowns(defs)  # convcalc solve reads a Keras spec's unknowns too
    head = SpecHead.model_json_schema()["properties"]
    _allow_unknowns(head)
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "convcalc Keras spec",
        "type": "object",
        "properties": {
            "name": {"type": "string"},
            "framework": {"const": "keras"},
            "data_format": head["data_format"],
            "input": head["input"],
            "layers": {"type": "array", "items": _KERAS_LAYER},
        },
        "required": ["framework", "input", "layers"],
        "additionalProperties": False,
        "$defs": defs,
    }
