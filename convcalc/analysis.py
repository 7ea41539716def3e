"""The forward calculator: a spec in, one :class:`Report` tree out. It never prints.

Every leaf's rule is its own ``forward`` (a :class:`~convcalc.records.Step`); every block
says which lists of layers it runs and how their outputs join. This module only walks the tree,
with an explicit stack rather than recursion (a 20,000-layer chain and blocks nested 500 deep
cost the same stack), and adds up: :func:`analyse` builds the report, :func:`output_shape` is
the same walk for the solver's many trials, keeping only the shape.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from convcalc.arith import LIMIT, Refusal
from convcalc.errors import SpecError, format_path
from convcalc.records import Costing, Entry, Keys, Report, Shape, Step

__all__ = ["Costing", "Entry", "LayerRefusal", "Report", "analyse", "output_shape", "summarise"]

if TYPE_CHECKING:
    from convcalc.budget import Budget
    from convcalc.layers.base import Layer
    from convcalc.layers.blocks import Block, Path
    from convcalc.spec.validate import Spec


class LayerRefusal(SpecError):
    """A layer that PyTorch would refuse for this input, located in the spec; ``spec`` is the
    spec refused (for the CLI's suggestion of accepted input sizes); ``input_hint``, a line
    of the message saying what looks wrong with the spec's input (then no such suggestion)."""

    spec: Spec | None = None
    input_hint: str = ""


@dataclass
class _Chain:
    """A list of layers being run: ``keys`` name it in the report, ``source`` in the file."""

    items: list[Layer]
    keys: Keys
    source: Keys
    period: int
    shape: Shape
    depth: int
    label: str  # the list's path, e.g. layers[3].body: each entry's is label[i]
    entries: list[Entry] = field(default_factory=list)
    next: int = 0


@dataclass
class _Open:
    """A block whose lists are being run on ``shape``."""

    block: Block
    index: int
    keys: Keys
    source: Keys
    shape: Shape
    depth: int
    path: str
    paths: list[Path]
    results: list[tuple[Path, Shape, tuple[Entry, ...]]] = field(default_factory=list)
    outs: list[Shape] = field(default_factory=list)  # each result's shape, for path_input


def analyse(spec: Spec, *, blame: bool = True) -> Report:
    """Walk the tree once; raise :class:`LayerRefusal` at the first layer PyTorch refuses (on a
    Keras spec, a tensor too large names the argument to blame, found by trial: ``blame``)."""
    from convcalc.layers.blocks import Block

    seen: dict[tuple[Layer, Shape], tuple[Step, str, int]] = {}
    root = _Chain(spec.layers, ("layers",), ("layers",), len(spec.layers), spec.input, 0, "layers")
    stack: list[_Chain | _Open] = [root]
    while stack:
        frame = stack[-1]
        if isinstance(frame, _Open):
            if len(frame.results) < len(frame.paths):
                path = frame.paths[len(frame.results)]
                keys, source = frame.keys + path.keys, frame.source + path.keys
                label = f"{frame.path}.{path.label}"
                try:
                    given = frame.block.path_input(frame.shape, path.keys, frame.outs)
                except Refusal as exc:
                    raise _refused(spec, exc, frame.block, frame.keys, frame.source) from None
                stack.append(
                    _Chain(path.layers, keys, source, path.period, given, frame.depth + 1, label)
                )
                continue
            stack.pop()
            outputs = [(path, out) for path, out, _ in frame.results]
            try:
                out = frame.block.merge(frame.shape, outputs)
            except Refusal as exc:
                raise _refused(spec, exc, frame.block, frame.keys, frame.source) from None
            children = tuple((path.keys, entries) for path, _, entries in frame.results)
            parent = stack[-1]
            assert isinstance(parent, _Chain)  # a block is always opened by a list
            parent.entries.append(
                Entry(
                    index=frame.index,
                    path=frame.path,
                    type=frame.block.type,
                    name=frame.block.name,
                    description=frame.block.describe(frame.shape),
                    input_shape=frame.shape,
                    output_shape=out,
                    depth=frame.depth,
                    layer=frame.block,
                    children=children,
                    params=sum(e.params for _, entries in children for e in entries),
                    source=frame.source,
                )
            )
            parent.shape, parent.next = out, parent.next + 1
            continue
        if frame.next == len(frame.items):
            stack.pop()
            if stack:
                owner = stack[-1]
                assert isinstance(owner, _Open)  # a nested list belongs to a block
                path = owner.paths[len(owner.results)]
                owner.results.append((path, frame.shape, tuple(frame.entries)))
                owner.outs.append(frame.shape)
            continue
        layer, i = frame.items[frame.next], frame.next
        keys, source = (*frame.keys, i), (*frame.source, i % frame.period)
        where = f"{frame.label}[{i}]"
        if isinstance(layer, Block):
            stack.append(
                _Open(layer, i, keys, source, frame.shape, frame.depth, where, layer.paths())
            )
            continue
        try:  # equal layers on equal shapes (repeats, aliases, long chains) are worked out once
            step, description, params = seen[layer, frame.shape]
        except KeyError:
            try:
                layer.check_written(frame.shape)
                step = layer.forward(frame.shape)
                _within_limits(step, spec.dialect is None)
                # a dialect's call (ZeroPadding2D(1)) where the layer was built for one
                description = layer.call_label() or layer.describe(frame.shape)
            except Refusal as exc:
                refusal = _refused(spec, exc, layer, keys, source, frame, blame)
                if not seen and frame.shape == spec.input:  # the first layer refuses
                    refusal.input_hint = _input_hint(spec, layer)
                    refusal.message += f"\n{refusal.input_hint}" if refusal.input_hint else ""
                raise refusal from None
            params = step.params
            seen[layer, frame.shape] = step, description, params
        frame.entries.append(
            Entry(
                index=i,
                path=where,
                type=layer.type,
                name=layer.name,
                description=description,
                input_shape=frame.shape,
                output_shape=step.output,
                depth=frame.depth,
                layer=layer,
                step=step,
                params=params,
                source=source,
            )
        )
        frame.shape, frame.next = step.output, i + 1
    return Report(spec.name, spec.input, root.shape, tuple(root.entries), spec.dialect)


class _Overflow(Refusal):
    """A tensor of more than 2^63 − 1 values: the written argument to blame is found by trial
    (:func:`_blame`) on a spec of another framework."""


def _within_limits(step: Step, pytorch: bool = True) -> None:
    """PyTorch refuses a tensor whose size or number of elements passes 2^63 − 1 (and so do
    the int64 shapes of Keras' backends: ``pytorch`` False says so in Keras' words)."""
    most = "the most PyTorch can count" if pytorch else "the most a tensor of Keras' backends holds"
    for what, shape in [("output", step.output), *step.tensors.items()]:
        if math.prod(shape) > LIMIT:
            raise _Overflow(
                f"the {what} would hold {math.prod(shape):.3g} values, beyond 2^63 − 1, {most}"
            )


# the layers that read their input as [C, *spatial] whatever its rank: a refusal by one of
# them, first in the network, may come from an input written in another order
_CHANNELS_FIRST = ("conv", "pool")
_CHANNELS_FIRST_TYPES = ("batchnorm", "groupnorm", "instancenorm")
_NAMES = {2: "[C, L]", 3: "[C, H, W]", 4: "[C, D, H, W]"}


def _input_hint(spec: Spec, layer: Layer) -> str:
    """What looks wrong with an input that the network's first layer refuses, where that
    layer reads [C, *spatial]: a batch dimension (``[1, 3, 128, 128]``: a leading 1 the
    layer accepts the input without) or channels last (``[128, 128, 3]``: a last size of 1, 3
    or 4 after a larger first one, which the layer accepts moved first); empty otherwise,
    and for a spec written in another framework's terms (Keras' are channels-last)."""
    from convcalc.layers.registry import KINDS

    data = spec.doc.data if spec.doc is not None else None
    framework = data.get("framework", "pytorch") if isinstance(data, dict) else "pytorch"
    kind = KINDS.get(layer.type)
    if spec.dialect is not None or framework != "pytorch" or kind is None:
        return ""
    if kind.category not in _CHANNELS_FIRST and layer.type not in _CHANNELS_FIRST_TYPES:
        return ""
    shape, line = spec.input, spec.line_of(["input"])
    where = f"line {line}: " if line is not None else ""
    tried: list[tuple[Shape, str]] = []
    if len(shape) >= 3 and shape[0] == 1:
        tried.append((shape[1:], "starts with a batch dimension"))
    if len(shape) in _NAMES and shape[-1] in (1, 3, 4) and shape[0] > 4 * shape[-1]:
        tried.append(((shape[-1], *shape[:-1]), "looks channels-last"))
    for meant, looks in tried:
        try:
            layer.check_written(meant)
            layer.forward(meant)
        except Refusal:
            continue
        return (
            f"hint: {where}input {list(shape)} {looks}; input is {_NAMES[len(meant)]} "
            f"without the batch; did you mean {list(meant)}?"
        )
    return ""


def _refused(
    spec: Spec,
    exc: Refusal,
    layer: Layer,
    keys: Keys,
    source: Keys,
    chain: _Chain | None = None,
    blame: bool = False,
) -> LayerRefusal:
    """The refusal located: file, line (of the field, if one is at fault), path, type."""
    message = exc.message
    if chain is not None and chain.period < len(chain.items):  # inside a repeat
        times = len(chain.items) // chain.period
        message += f" (repetition {chain.next // chain.period + 1} of {times})"
    field, layer_type = exc.field, layer.type
    if spec.dialect is not None:  # the layer as written: its class and argument (Keras')
        from convcalc.spec.keras import keras_field

        n = _written(spec.dialect.classes, source)
        keys, source = keys[:n], source[:n]
        layer_type = spec.dialect.classes.get(source, layer_type)
        item = _item(spec, source)
        field = keras_field(field, item)
        if field is None and blame and isinstance(exc, _Overflow):
            field = _blame(spec, source, item, format_path(list(keys)))
    where = [*source, field] if field else list(source)
    refusal = LayerRefusal(
        message,
        file=spec.file,
        line=spec.line_of(where),
        path=format_path(list(keys)),
        layer_type=layer_type,
        field=field,
    )
    refusal.spec = spec
    return refusal


def _written(classes: dict[Keys, str], source: Keys) -> int:
    """How many of ``source``'s keys name the layer written in a dialect's spec: the longest
    prefix with a class of its own (a step of a Keras layer, such as the activation of
    ``Dense(activation=...)``, is the Keras layer)."""
    return next((n for n in range(len(source), 0, -1) if source[:n] in classes), len(source))


def _item(spec: Spec, source: Keys) -> Any:
    """The mapping written at ``source`` in the spec's document, or None."""
    node = spec.doc.data if spec.doc is not None else None
    for key in source:
        try:
            node = node[key]  # type: ignore[index]
        except (KeyError, IndexError, TypeError):
            return None
    return node


def _blame(spec: Spec, source: Keys, item: Any, path: str) -> str | None:
    """The argument written in ``item`` that makes a tensor pass 2^63 − 1: the one (the
    largest first) that, written 1 instead, lets the spec pass this layer (analysed again, not
    blaming, every other argument as written); None where no one argument alone does."""
    if spec.doc is None or not isinstance(item, dict):
        return None
    from convcalc.spec.document import Document
    from convcalc.spec.validate import validate

    sizes = {name: _largest(value) for name, value in item.items() if name != "type"}
    for name in sorted((n for n in sizes if sizes[n] > 1), key=lambda n: -sizes[n])[:_TRIES]:
        data = _replaced(spec.doc.data, [*source, name], 1)
        try:
            analyse(validate(Document(spec.doc.file, spec.doc.name, data)), blame=False)
        except SpecError as exc:
            if exc.path in (path, None):
                continue  # still refused here, or 1 is not a value it takes
        return str(name)
    return None


_TRIES = 4  # the written arguments _blame tries at most (each a whole analysis)


def _largest(value: Any) -> int:
    """The largest integer in a written value (a size, or nested lists of sizes); 0 if none."""
    largest, todo = 0, [value]
    while todo:
        value = todo.pop()
        if isinstance(value, list | tuple):
            todo += value
        elif isinstance(value, int) and not isinstance(value, bool):
            largest = max(largest, value)
    return largest


def _replaced(data: Any, keys: list[str | int], value: Any) -> Any:
    """``data`` with the part at ``keys`` replaced by ``value``: each container on the way
    copied, the rest shared (a loop: the path may be thousands of keys deep)."""
    if not keys:
        return value
    top = dict(data) if isinstance(data, dict) else list(data)
    node = top
    for key in keys[:-1]:
        inner = node[key]  # type: ignore[index]
        node[key] = dict(inner) if isinstance(inner, dict) else list(inner)  # type: ignore[index]
        node = node[key]  # type: ignore[index]
    node[keys[-1]] = value  # type: ignore[index]
    return top


def summarise(source: str) -> Report:
    """Read, validate and analyse one spec (a path, ``-``, a bundled name or YAML text)."""
    from convcalc.spec.validate import load_spec

    return analyse(load_spec(source))


# the steps of the one work budget (convcalc.budget) a walk for the solver spends: VISIT for
# each layer or block visited, FORWARD more for each leaf's rule worked out (its sizes, tensors
# and windows take about ten times a visit's time) and for each block's paths listed and joined
VISIT, FORWARD = 1, 10


def output_shape(
    layers: list[Layer],
    shape: Shape,
    swap: dict[int, Layer] | None = None,
    memo: dict[tuple[int, Shape], Shape | None] | None = None,
) -> Shape | None:
    """The output of ``layers`` on ``shape``, or None where PyTorch would refuse: the same walk
    as :func:`analyse` without the report, for the solver's many trials.

    ``swap`` replaces layers by id (a trial's values for the unknowns); ``memo`` remembers each
    leaf's answer for an input shape across trials (for the spec's own layers, which outlive
    the trials, by their id).
    """
    out = output_shapes(layers, (shape,), swap, memo)
    return None if out is None else out[0]


def output_shapes(
    layers: list[Layer],
    shapes: tuple[Shape, ...],
    swap: dict[int, Layer] | None = None,
    memo: dict[tuple[int, Shape], Shape | None] | None = None,
    *,
    budget: Budget | None = None,
    check: Callable[[Layer, tuple[Shape, ...]], bool] | None = None,
) -> tuple[Shape, ...] | None:
    """:func:`output_shape` for several inputs run through the same layers side by side (the
    solver's trial input and the spec's declared one): their outputs, or None where PyTorch
    would refuse any of them, or where ``check`` refuses a leaf given its inputs on every side
    (a module built for one input and given another).

    Each layer or block visited spends :data:`VISIT` steps of ``budget``, and each leaf's rule
    worked out or block's paths listed :data:`FORWARD` more: a walk over a long chain or deep
    nesting costs its length.
    """
    from convcalc.layers.blocks import Block

    swap = swap or {}
    memo = {} if memo is None else memo
    # frames: [layers, next index, shapes] for lists; [block, inputs, paths, outputs] for blocks
    lists: list[list[Any]] = [[layers, 0, shapes]]
    blocks: list[list[Any]] = []
    owners: list[int] = []  # for each open list beyond the first, the index of its block
    while True:
        frame = lists[-1]
        items, i, current = frame
        if i == len(items):
            lists.pop()
            if not lists:
                return current  # type: ignore[no-any-return]
            block_frame = blocks[owners.pop()]
            block_frame[3].append((block_frame[2][len(block_frame[3])], current))
            if len(block_frame[3]) < len(block_frame[2]):
                path = block_frame[2][len(block_frame[3])]
                owners.append(len(blocks) - 1)
                given = _path_inputs(block_frame[0], block_frame[1], path, block_frame[3])
                if given is None:
                    return None
                lists.append([path.layers, 0, given])
                continue
            blocks.pop()
            block, start, _, outputs = block_frame
            try:
                out = tuple(
                    block.merge(given, [(path, outs[side]) for path, outs in outputs])
                    for side, given in enumerate(start)
                )
            except Refusal:
                return None
            parent = lists[-1]
            parent[1], parent[2] = parent[1] + 1, out
            continue
        if budget is not None:
            budget.spend(VISIT)
        swapped = id(items[i]) in swap
        layer = swap[id(items[i])] if swapped else items[i]
        if isinstance(layer, Block):
            if budget is not None:  # listing its paths and joining them: a rule's work
                budget.spend(FORWARD)
            paths = layer.paths()  # every block runs at least one list
            given = _path_inputs(layer, current, paths[0], [])
            if given is None:
                return None
            blocks.append([layer, current, paths, []])
            owners.append(len(blocks) - 1)
            lists.append([paths[0].layers, 0, given])
            continue
        outs = []
        for given in current:
            key = (id(layer), given)
            if swapped or key not in memo:  # a trial's own copy may not outlive it: no memo
                if budget is not None:
                    budget.spend(FORWARD)
                try:
                    layer.check_written(given)
                    step = layer.forward(given)
                    _within_limits(step)
                    result: Shape | None = step.output
                except Refusal:
                    result = None
                if not swapped:
                    memo[key] = result
            else:
                result = memo[key]
            if result is None:
                return None
            outs.append(result)
        if check is not None and not check(layer, current):
            return None
        frame[1], frame[2] = i + 1, tuple(outs)


def _path_inputs(
    block: Block,
    shapes: tuple[Shape, ...],
    path: Path,
    done: list[tuple[Path, tuple[Shape, ...]]],
) -> tuple[Shape, ...] | None:
    """What ``path`` of ``block`` is given on every side (a split's slice, a graph's earlier
    output), the paths ``done`` before it; None where the block refuses an input."""
    try:
        return tuple(
            block.path_input(shape, path.keys, [outs[side] for _, outs in done])
            for side, shape in enumerate(shapes)
        )
    except Refusal:
        return None
