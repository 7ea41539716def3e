"""From a YAML document to a validated :class:`~convcalc.spec.Spec`, with errors a student reads.

Pydantic's errors carry a location such as ``('layers', 1, 'conv', 'kernel_size')``; here that
becomes ``net.yaml:4: layers[1] (conv), field kernel_size: must be a positive integer ...``.
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from convcalc.errors import SpecError, format_path
from convcalc.loader import Document
from convcalc.spec import Layer, Spec, SpecHead, layer_types

MAX_REPORTED = 3


def validate(doc: Document) -> Spec:
    """The spec in ``doc``, or a :class:`SpecError` naming file, line, layer and field."""
    data = doc.data
    if data is None:
        raise SpecError("is empty: a spec needs 'input' and 'layers'", file=doc.file)
    if not isinstance(data, dict):
        raise SpecError(
            "the top level must be a mapping with 'input' and 'layers', "
            f"not a {type(data).__name__}",
            file=doc.file,
            line=1,
        )
    head, errors = None, list[dict[str, Any]]()
    try:
        head = SpecHead.model_validate(data)
    except ValidationError as exc:
        errors += [dict(err) for err in exc.errors()]
    layers, raw, types = [], data.get("layers"), layer_types()
    for index, item in enumerate(raw if isinstance(raw, list) else []):
        kind = _not_a_layer(item, types)
        if kind:  # our own error kinds, located like pydantic's
            errors.append({"type": kind, "loc": ("layers", index), "input": item})
            continue
        try:
            layers.append(types[item["type"]].model_validate(item))
        except ValidationError as exc:
            errors += [{**err, "loc": ("layers", index, *err["loc"])} for err in exc.errors()]
    if head is not None and not errors:
        return Spec.model_construct(name=head.name, input=head.input, layers=layers)
    # an unknown field explains a missing one (a typo), so it goes first
    errors.sort(key=lambda err: err["type"] != "extra_forbidden")
    located = [_locate(doc, err) for err in errors]
    first = located[0]
    if len(located) > 1:
        more = [str(e) for e in located[1:MAX_REPORTED]]
        if len(located) > MAX_REPORTED:
            more.append(f"... and {len(located) - MAX_REPORTED} more")
        first.message += "\n" + "\n".join(more)
    raise first


def _not_a_layer(item: Any, types: dict[str, type[Layer]]) -> str | None:
    """Why a list item cannot be validated as a layer, or None if it names a known type."""
    if not isinstance(item, dict):
        return "not_a_mapping"
    if "type" not in item:
        return "no_type"
    return None if isinstance(item["type"], str) and item["type"] in types else "unknown_type"


def _locate(doc: Document, err: Any) -> SpecError:
    """Walk pydantic's location through the data (skipping any key that is not in it) to find
    the layer, the field and the line."""
    node: Any = doc.data
    path: list[str | int] = []
    layer_path: list[str | int] | None = None
    layer: dict[str, Any] | None = None
    for key in err["loc"]:
        in_dict = isinstance(node, dict) and key in node
        in_list = isinstance(node, list) and isinstance(key, int) and key < len(node)
        if not (in_dict or in_list):
            continue  # a missing field: the place is its layer
        node = node[key]
        path.append(key)
        if isinstance(node, dict) and "type" in node:
            layer_path, layer = list(path), node
    kind = err["type"]
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
        message = _unknown_field(str(field), layer)
    elif kind == "missing":
        field = err["loc"][-1]
    line = doc.line_of(path)
    return SpecError(
        message,
        file=doc.file,
        line=line,
        path=where,
        layer_type=str(layer.get("type")) if layer is not None else None,
        field=str(field) if field is not None else None,
    )


def _message(kind: str, err: Any, layer: dict[str, Any] | None) -> str:
    if kind == "convcalc":
        return str(err["ctx"]["message"])
    if kind == "missing":
        return "is required but missing"
    if kind == "unknown_type":
        import difflib

        names = list(layer_types())
        wrong = str(err["input"]["type"])
        close = difflib.get_close_matches(wrong, names, n=1)
        hint = f" (did you mean '{close[0]}'?)" if close else ""
        return f"unknown layer type '{wrong}'{hint}; valid types: {', '.join(names)}"
    if kind == "no_type":
        return "a layer needs a 'type', e.g. {type: conv, out_channels: 16, kernel_size: 3}"
    if kind == "not_a_mapping":
        return "a layer must be a mapping such as {type: relu}"
    if kind == "list_type":
        return "must be a list"
    if kind == "string_type":
        return "must be text"
    if kind == "literal_error":
        return f"must be {err['ctx']['expected']}, not {err['input']!r}"
    return str(err["msg"])


def _unknown_field(name: str, layer: dict[str, Any] | None) -> str:
    if name in ("in_channels", "in_features", "num_features"):
        return f"{name} is never written: it comes from the previous layer's output"
    if layer is None:
        valid = list(Spec.model_fields)
        where = "a spec"
    else:
        cls = layer_types().get(str(layer.get("type")))
        fields = [f for f in cls.model_fields if f != "type"] if cls else []
        valid = sorted(fields, key=lambda f: f in ("device", "dtype"))  # the usual ones first
        where = f"a {layer.get('type')} layer"
    import difflib

    close = difflib.get_close_matches(name, valid, n=1)
    hint = f"did you mean '{close[0]}'? " if close else ""
    return f"unknown field: {hint}{where} takes {', '.join(valid) or 'no fields'}"
