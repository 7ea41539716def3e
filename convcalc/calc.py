"""The forward calculator: a spec in, one :class:`Summary` out. It never prints.

Every layer's rule is its own ``forward`` (:mod:`convcalc.spec`); this module only walks the
stack, with a loop rather than recursion, and adds up.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from convcalc.arith import Refusal
from convcalc.errors import SpecError, format_path
from convcalc.spec import Shape, Spec, Tensors


@dataclass(frozen=True)
class LayerReport:
    """One layer: where it is, what it does to the shape, and its parameters."""

    index: int
    path: str
    type: str
    description: str
    input_shape: Shape
    output_shape: Shape
    tensors: Tensors
    children: dict[str, Any] = field(default_factory=dict)

    @property
    def params(self) -> int:
        return sum(math.prod(shape) for shape in self.tensors.values())

    def to_dict(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "path": self.path,
            "type": self.type,
            "description": self.description,
            "input_shape": list(self.input_shape),
            "output_shape": list(self.output_shape),
            "params": self.params,
            "tensors": {name: list(shape) for name, shape in self.tensors.items()},
        }


@dataclass(frozen=True)
class Summary:
    """The analysis of a whole spec: what ``convcalc shape`` renders."""

    name: str
    input_shape: Shape
    layers: tuple[LayerReport, ...]

    @property
    def output_shape(self) -> Shape:
        return self.layers[-1].output_shape if self.layers else self.input_shape

    @property
    def output_size(self) -> int:
        return math.prod(self.output_shape)

    @property
    def total_params(self) -> int:
        return sum(layer.params for layer in self.layers)

    @property
    def trainable_params(self) -> int:
        return self.total_params  # every learnable tensor of these layers trains

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "input_shape": list(self.input_shape),
            "output_shape": list(self.output_shape),
            "output_size": self.output_size,
            "total_params": self.total_params,
            "trainable_params": self.trainable_params,
            "non_trainable_params": self.total_params - self.trainable_params,
            "layers": [layer.to_dict() for layer in self.layers],
        }


class LayerRefusal(SpecError):
    """A layer that PyTorch would refuse for this input; ``keys`` locates it in the data."""

    def __init__(self, refusal: Refusal, keys: list[str | int], layer_type: str) -> None:
        super().__init__(
            refusal.message, path=format_path(keys), layer_type=layer_type, field=refusal.field
        )
        self.keys = keys


def analyse(spec: Spec, name: str) -> Summary:
    """Walk the stack once; raise :class:`LayerRefusal` at the first layer PyTorch refuses."""
    shape = spec.input
    reports = []
    for index, layer in enumerate(spec.layers):
        try:
            out, tensors = layer.forward(shape)
            description = layer.describe(shape)
        except Refusal as exc:
            raise LayerRefusal(exc, ["layers", index], layer.type) from None
        reports.append(
            LayerReport(
                index=index,
                path=format_path(["layers", index]),
                type=layer.type,
                description=description,
                input_shape=shape,
                output_shape=out,
                tensors=tensors,
            )
        )
        shape = out
    return Summary(name=spec.name or name, input_shape=spec.input, layers=tuple(reports))


def bundled_specs() -> dict[str, Path]:
    """The specs that ship with convcalc (the package's specs/, a link to the repo's), by name."""
    folder = Path(__file__).parent / "specs"
    return {path.stem: path for path in sorted(folder.glob("*.yaml"))}


def summarise(source: str) -> Summary:
    """Read, validate and analyse one spec (a path, ``-`` or a bundled name)."""
    from convcalc.loader import parse_yaml, read_source
    from convcalc.validate import validate

    text, file, name = read_source(source, bundled_specs())
    doc = parse_yaml(text, file, name)
    spec = validate(doc)
    try:
        return analyse(spec, doc.name)
    except LayerRefusal as exc:
        exc.file = doc.file
        layer_keys: list[str | int] = list(exc.keys)
        if exc.field:
            layer_keys.append(exc.field)
        exc.line = doc.line_of(layer_keys)
        raise
