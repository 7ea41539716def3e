"""Solving a whole spec: integer fields written ``"?"`` or as a range are the unknowns.

Unknowns may sit in any layer, inside blocks at any depth, and in the input's sizes. The search
never guesses a whole assignment and checks it. It walks the top-level layers forward once,
recording for every reachable input shape of every layer which values of that layer's unknowns
(its own, or those of the layers inside it) are valid and where they lead; the layers' own
``forward`` and the blocks' ``merge`` decide, one source of truth. Then it keeps, walking
backward, only the shapes from which the target is still reachable. Listing is a depth-first
walk over those shapes alone, so every step leads to a solution, and counting is a sum over
them without listing anything.

When the input's spatial sizes are the only unknowns and every layer treats the spatial
dimensions alike and apart (no flatten, linear or reshaping; no per-dimension list whose values
differ), a size is valid in one dimension independently of the others: one pass over the sizes
in one dimension answers every dimension, and the solutions are the product of those sets.
"""

from __future__ import annotations

import csv
import heapq
import io
import itertools
import json
import math
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from typing import Any

from convcalc import escape
from convcalc.analysis import output_shapes
from convcalc.arith import RANGE
from convcalc.budget import STEPS, Budget, WorkLimit
from convcalc.errors import SpecError, format_path
from convcalc.layers.base import Layer
from convcalc.layers.registry import KINDS, block_class
from convcalc.records import Dialect, Shape, shape_text
from convcalc.solve.layer import Problem, Range, RangeError, is_size, problem, tally
from convcalc.spec.document import Document
from convcalc.spec.validate import Spec

SEARCH_WHAT = 'narrow the ranges, or write ranges such as "1..7" for "?"'
COPY = 10  # budget steps for a layer copied with a trial's values (about ten visits' time)
INPUT_DEFAULT = Range.span(1, 1024)  # "?" in the input: sizes searched
_UNKNOWN = re.compile(rf"^\s*(\?|{RANGE})$")
# fields whose "?" has a default range (relative to the layer's input size; see the README)
DEFAULTED = ("kernel_size", "stride", "padding", "dilation", "output_padding")


@dataclass(frozen=True)
class Unknown:
    """One unknown: a whole field (``dim`` None) or one entry of a per-dimension list.

    ``keys`` locate the layer in the spec (``("layers", 3, "body", 1)``), or are ``("input",)``
    for one of the input's sizes (``dim`` its index).
    """

    label: str
    keys: tuple[str | int, ...]
    field: str
    dim: int | None
    values: Range | None  # None: "?", the default range
    # a Keras spec's (convcalc.spec.keras): the keys, argument and index as written, where
    # ``field`` names the default range ("strides" → stride) and ``dim`` the records' axis
    written: tuple[tuple[str | int, ...], str, int | None] | None = None

    @property
    def place(self) -> tuple[tuple[str | int, ...], str, int | None]:
        """Where the unknown is written: keys, field (as written), index."""
        return self.written if self.written is not None else (self.keys, self.field, self.dim)

    @property
    def top(self) -> int | None:
        """The index of the top-level layer it belongs to (None for the input)."""
        return int(self.keys[1]) if self.keys[0] == "layers" else None

    @property
    def shown(self) -> str:
        """The range searched, as written or as the default for "?"."""
        if self.values is not None:
            return str(self.values)
        return str(INPUT_DEFAULT) if self.top is None else "?"


@dataclass(frozen=True)
class Target:
    """What the output must be: spatial sizes (one value: every dimension), a number of values,
    or anything valid (both None)."""

    spatial: tuple[int, ...] | None = None
    size: int | None = None

    def accepts(self, shape: Shape) -> bool:
        if self.size is not None and math.prod(shape) != self.size:
            return False
        if self.spatial is None:
            return True
        want = self.spatial * (len(shape) - 1) if len(self.spatial) == 1 else self.spatial
        return len(shape) >= 2 and shape[1:] == want

    def __str__(self) -> str:
        parts = []
        if self.spatial is not None:
            parts.append(shape_text(self.spatial))
        if self.size is not None:
            parts.append(f"{self.size:,} values")
        return ", ".join(parts) or "any valid output"


@dataclass
class StackResult:
    name: str
    target: Target
    unknowns: list[Unknown]
    count: int
    solutions: Iterator[tuple[tuple[int, ...], Shape]]
    notes: list[str] = field(default_factory=list)
    searched: dict[str, str] = field(default_factory=dict)  # "?" label -> the values tried
    dialect: Dialect | None = None  # a Keras spec's: its shapes shown in Keras' order

    def shape(self, shape: Shape) -> Shape:
        """An output shape as the spec's framework writes it."""
        return self.dialect.shape(shape) if self.dialect is not None else shape

    @property
    def ranges(self) -> dict[str, str]:
        """Each unknown's range as written, or for "?" the values searched."""
        return {u.label: self.searched.get(u.label, u.shown) for u in self.unknowns}


def parse_target(text: str) -> tuple[int, ...]:
    """``7`` or ``7,5``: the output's spatial size(s)."""
    parts = [p.strip() for p in text.split(",")]
    if not 1 <= len(parts) <= 3 or not all(is_size(p) and int(p) > 0 for p in parts):
        raise RangeError(f"--out: expected 1 to 3 positive sizes such as 7 or 7,5, not {text!r}")
    return tuple(int(p) for p in parts)


def parse_input(text: str) -> list[int | str]:
    """``3,1..1024,1..1024``: the input shape, each size a number or a range ``a..b``."""
    parts: list[int | str] = []
    for part in (p.strip() for p in text.split(",")):
        if is_size(part):
            parts.append(int(part))
        elif re.fullmatch(r"[0-9]+\s*\.\.\s*[0-9]+|\?", part):
            parts.append(part)
        else:
            raise RangeError(
                f"--input: cannot read {part!r}: give each size as a number, a range such as "
                "1..1024, or ?, separated by commas (e.g. 3,1..1024,1..1024)"
            )
    return parts


def solve_stack(
    source: str | dict[str, Any],
    target: tuple[int, ...] | Target | None = None,
    limit: int | None = None,
    *,
    input_shape: list[int | str] | None = None,
    rebuild: bool = False,
) -> StackResult:
    """Every assignment of the unknowns of ``source`` for which the stack is valid and its
    output meets ``target`` (spatial sizes, a :class:`Target`, or None for any output).

    ``input_shape`` gives the input sizes to try in place of the spec's own input. Where the
    spec's input declares its sizes, the network is the one built for them: a size PyTorch's
    constructors take from the input (a conv's in_channels, a linear's in_features, a norm's
    num_features) is fixed there, and an input that changes one is refused, as PyTorch
    refuses it. Only where the spec's input writes "?" (or a range) do the layers follow each
    input tried, or with ``rebuild``. The whole search spends from one
    :class:`~convcalc.budget.Budget`.
    """
    goal = target if isinstance(target, Target) else Target(spatial=target)
    doc, written, unknowns, spec = prepare(source, input_shape)
    rank = len(spec.input) - 1
    if goal.spatial is not None and len(goal.spatial) not in (1, rank):
        raise RangeError(
            f"--out gives {len(goal.spatial)} sizes but the input has {rank} spatial "
            f"dimension{'s' if rank != 1 else ''}"
        )
    if goal.spatial is not None and len(goal.spatial) == 1 and rank > 1:
        goal = Target(goal.spatial * rank, goal.size)  # one value: every dimension
    notes = []
    if any(u.top is None and u.values is None for u in unknowns):
        notes.append(f'"?" in the input: sizes {INPUT_DEFAULT} searched (write a range for others)')
    budget = Budget(STEPS, SEARCH_WHAT)
    declared = declared_input(written, spec, doc) if input_shape is not None else None
    if rebuild:
        declared = None
    built = Built(declared)
    if declared is None and any(u.top is None for u in unknowns):
        following = following_layer(spec, unknowns)
        if following:
            notes.append(
                'the spec\'s input declares no size where it writes "?" or a range, so the '
                f"layers follow each input tried ({following} from it): one network per input"
            )
    elif declared is not None and not any(u.top is not None for u in unknowns):
        check_declared(spec, declared, budget)
    searched: dict[str, str] = {}
    if all(u.top is None for u in unknowns) and _separable(spec, unknowns):
        count, solutions, fault = _separable_search(spec, unknowns, goal, budget, built)
    else:
        search = _Search(spec, unknowns, goal, budget, built, doc)
        search.forward()
        search.backward()
        count, solutions = search.count(), search.paths()
        searched = {label: f"{lo}..{hi}" for label, (lo, hi) in search.tried.items()}
        fault = search.representative
    if count == 0:
        try:
            chosen = fault()
        except WorkLimit:  # too long to tell: the answer stands
            chosen = None
        error = spec_fault(doc, chosen)
        if error is not None:
            raise error
    if declared is not None and built.refused:
        notes.append(
            f"the layers are built for the spec's input {shape_text(declared)}, and PyTorch "
            f"refuses an input that changes a size they take from it ({built.refused})"
        )
    if limit is not None:
        solutions = itertools.islice(solutions, limit)
    return StackResult(spec.name, goal, unknowns, count, solutions, notes, searched, spec.dialect)


def prepare(
    source: str | dict[str, Any],
    input_shape: list[int | str] | None,
    need_unknowns: bool = True,
) -> tuple[Document, Any, list[Unknown], Spec]:
    """The spec read with ``input_shape`` in place of its input: its document, the input it
    wrote itself, its unknowns (each holding a placeholder: its range's least value, or 0 or 1
    for "?") and the spec validated with them. Without unknowns (and ``need_unknowns``), the
    spec's fault if it has one, else an error saying there is nothing to solve."""
    from convcalc.spec.validate import load_document, validate

    doc = load_document(source)
    written = doc.data.get("input") if isinstance(doc.data, dict) else None
    if input_shape is not None and isinstance(doc.data, dict):
        doc.data["input"] = input_shape
    unknowns = _find_unknowns(doc)
    keras = _keras_format(doc)
    if keras is not None:  # Keras' words as written; the records' axes and default ranges
        unknowns = [_in_records(u, doc, keras) for u in unknowns]
    if not unknowns and need_unknowns:
        validate(doc, share=False)  # a fault in the spec comes first
        raise SpecError(
            'has no unknowns: write a field as "?" or as a range such as "1..7"', file=doc.file
        )
    try:  # each unknown holds a placeholder (its range's least value, or 0 or 1 for "?")
        if keras is not None:
            _keras_placeholders(doc, written, unknowns)
        spec = validate(doc, share=False)
    except SpecError as exc:
        for u in unknowns:
            keys, name, _ = u.place
            if exc.path != format_path(list(keys)) or exc.field != name:
                continue
            if exc.message.startswith("unknown field"):
                continue
            if u.values is None:  # the placeholder is not what was written: say what is wrong
                exc.message = '"?" stands for an integer, and this field is not one'
            else:
                exc.message = f"the range {u.values} does not fit: {exc.message}"
        raise
    for unknown in unknowns:
        if unknown.top is not None and keras is not None:
            _check_keras_unknown(doc, unknown)
        elif unknown.top is not None:
            _check_unknown(spec, unknown, doc.file, doc.line_of)
    return doc, written, unknowns, spec


def _keras_format(doc: Document) -> bool | None:
    """For a Keras spec (``framework: keras``), whether it is channels-last; else None."""
    data = doc.data
    if not isinstance(data, dict) or data.get("framework") != "keras":
        return None
    return bool(data.get("data_format") != "channels_first")


def _in_records(u: Unknown, doc: Document, channels_last: bool) -> Unknown:
    """A Keras spec's unknown with the records' input axis (H of (H, W, C) is the records'
    axis 1) and, for a layer's, the field whose default range it takes (``strides`` →
    stride); where it is written stays in :attr:`Unknown.written`."""
    from convcalc.spec.keras import SOLVER_FIELDS, records_dim

    if u.top is None:
        assert u.dim is not None  # input unknowns always have a dimension
        rank = len(doc.data["input"])
        dim = records_dim(rank, u.dim, channels_last)
        return replace(u, dim=dim, written=(u.keys, u.field, u.dim))
    return replace(u, field=SOLVER_FIELDS.get(u.field, u.field), written=u.place)


PLACEHOLDERS = (32, 64, 224, 256, 1024)  # a Keras input unknown's sizes to read the spec at


def _keras_placeholders(doc: Document, written: Any, unknowns: list[Unknown]) -> None:
    """A Keras spec is read following the shapes from its input, so an unknown input size
    needs a placeholder the layers take: the size the spec's own input writes there, else the
    first of its range's least and largest, then of :data:`PLACEHOLDERS`, that reads (left at
    its least if none does: its error is the spec's)."""
    from convcalc.spec.validate import validate

    sizes = [u for u in unknowns if u.top is None]
    if not sizes:
        _keras_layer_placeholders(doc, unknowns)
        return
    options: list[list[int]] = []
    for u in sizes:
        _, _, at = u.place
        assert at is not None  # input unknowns always have a dimension
        declared = written[at] if isinstance(written, list) and at < len(written) else None
        mine = [int(str(declared))] if is_size(str(declared)) else []
        values = u.values or INPUT_DEFAULT
        mine += [n for n in (values.lo, values.hi, *PLACEHOLDERS) if n in values]
        options.append(mine)
    tries = [
        [opts[min(j, len(opts) - 1)] for opts in options] for j in range(len(PLACEHOLDERS) + 3)
    ]
    for chosen in tries:
        for u, n in zip(sizes, chosen, strict=True):
            write_value(doc.data, u, n)
        try:
            validate(doc, share=False)
            return
        except SpecError:
            if _keras_layer_placeholders(doc, unknowns):
                return
    for u, n in zip(sizes, tries[0], strict=True):
        write_value(doc.data, u, n)


KERAS_TRIES = 256  # the most placeholder choices tried for one Keras layer's unknowns


def _keras_layer_placeholders(doc: Document, unknowns: list[Unknown]) -> bool:
    """Placeholders for a Keras spec's layer unknowns that read together (a spec is read
    following its shapes, so a filters range and an Add's body must agree): each top-level
    layer in turn takes the first choice of its unknowns' values (each range's from its least,
    "?" from 1) that Keras reads on the previous layers' output. False where some layer reads
    with none of the first :data:`KERAS_TRIES`: the placeholders stay, and so does the spec's
    error."""
    from convcalc.spec.keras import read_layer

    layered = [u for u in unknowns if u.top is not None]
    data = doc.data
    if not layered or not isinstance(data.get("input"), list):
        return False
    channels_last = bool(_keras_format(doc))
    written = tuple(data["input"])
    shape = (written[-1], *written[:-1]) if channels_last and len(written) > 1 else written
    for i, item in enumerate(data["layers"]):
        mine = [u for u in layered if u.top == i]
        choices = [list(itertools.islice(u.values or range(1, KERAS_TRIES + 1), 16)) for u in mine]
        for values in itertools.islice(itertools.product(*choices), KERAS_TRIES):
            for u, v in zip(mine, values, strict=True):
                write_value(item, u, v, skip=2)
            try:
                shape = read_layer(doc, channels_last, item, ("layers", i), shape)[1]
                break
            except SpecError:
                continue
        else:
            return False
    return True


def _check_keras_unknown(doc: Document, unknown: Unknown) -> None:
    """A Keras argument may be unknown where it holds integers, and "?" where it has a
    default range (kernel_size, pool_size, strides, dilation_rate, output_padding, a
    ZeroPadding's padding)."""
    from convcalc.spec.keras import integer_argument

    keys, name, _ = unknown.place
    node: Any = doc.data
    for key in keys:
        node = node[key]
    problem = None if integer_argument(node, name) else "only integer arguments can be unknown"
    line = doc.line_of([*keys, name])
    _refuse_unknown(problem, unknown, name, (doc.file, line, keys, str(node.get("type"))))


def _refuse_unknown(
    problem: str | None,
    unknown: Unknown,
    name: str,
    where: tuple[str | None, int | None, tuple[str | int, ...], str],
) -> None:
    """Refuse an unknown field, named with ``where`` (file, line, keys, layer type): for
    ``problem`` where there is one, else for a "?" on a field without a default range."""
    if problem is None and unknown.values is None and unknown.field not in DEFAULTED:
        problem = f'"?" has no default range for {name}: write one such as "16,32,64"'
    if problem:
        file, line, keys, layer_type = where
        raise SpecError(
            problem,
            file=file,
            line=line,
            path=format_path(list(keys)),
            layer_type=layer_type,
            field=name,
        )


# --- the network the spec's input builds ---------------------------------------------------


class Built:
    """The check of every leaf of a trial against the network the spec's input builds: with a
    ``declared`` input, each trial runs beside it, and a leaf whose ``built_sizes`` (the sizes
    its PyTorch module is constructed with) differ between the two is refused. ``refused``
    says what the first such leaf took (for a note)."""

    def __init__(self, declared: Shape | None) -> None:
        self.declared = declared
        self.refused = ""

    def sides(self, shape: Shape) -> tuple[Shape, ...]:
        """The inputs a trial runs on: its own, and the declared one if there is one."""
        return (shape,) if self.declared is None else (shape, self.declared)

    @property
    def check(self) -> Callable[[Layer, tuple[Shape, ...]], bool] | None:
        return None if self.declared is None else self._same

    def _same(self, layer: Layer, shapes: tuple[Shape, ...]) -> bool:
        trial, declared = shapes
        if trial == declared:
            return True
        wanted = layer.built_sizes(declared)
        if layer.built_sizes(trial) == wanted:
            return True
        if not self.refused:
            taken = " and ".join(f"{k} {v}" for k, v in wanted)
            self.refused = f"such as a {layer.type}'s {taken}"
        return False


def declared_input(written: Any, spec: Spec, doc: Document) -> Shape | None:
    """The input the spec's own file declares (read before ``input_shape`` replaced it), or
    None where it writes "?" or a range in any place: then the layers follow each input."""
    if not isinstance(written, list) or any(
        isinstance(item, str) and _UNKNOWN.match(item) for item in written
    ):
        return None
    from pydantic import ValidationError

    from convcalc.spec.validate import SpecHead

    try:
        declared: Shape = SpecHead.model_validate({"input": written, "layers": []}).input
    except ValidationError as exc:
        error = exc.errors()[0]
        message = error.get("ctx", {}).get("message") or error["msg"]
        raise SpecError(
            str(message), file=doc.file, line=doc.line_of(["input"]), field="input"
        ) from None
    if spec.dialect is not None and spec.dialect.channels_last and len(declared) > 1:
        declared = (declared[-1], *declared[:-1])  # Keras' (H, W, C): the records' (C, H, W)
    if len(declared) != len(spec.input):
        raise RangeError(
            f"--input gives {len(spec.input)} sizes but the spec's input "
            f"{shape_text(declared)} has {len(declared)}: the network is the one built for the "
            'spec\'s input (write "?" in it for the sizes its layers should follow)'
        )
    return declared


def check_declared(spec: Spec, declared: Shape, budget: Budget) -> None:
    """Refuse, as ``convcalc shape`` would, a network that its own declared input cannot build
    (there are no layer unknowns that could change it)."""
    if output_shapes(spec.layers, (declared,), budget=budget) is not None:
        return
    from convcalc.analysis import analyse

    try:
        analyse(replace(spec, input=declared))
    except SpecError as exc:
        exc.message += (
            f" (at the spec's input {shape_text(declared)}, for which the network is built: "
            'write "?" in it for the sizes its layers should follow)'
        )
        raise


def following_layer(spec: Spec, unknowns: list[Unknown]) -> str:
    """The first layer whose ``built_sizes`` may follow the input's unknown sizes, as
    ``layers[7] (linear) takes its in_features``; empty if none can.

    Channels follow an unknown channel count (or a flat input's features); spatial sizes reach
    a layer's built sizes only through a layer that mixes the dimensions (flatten, reshape,
    ...), or a linear on an unknown last dimension."""
    last = len(spec.input) - 1
    mixed = len(spec.input) == 1 or any(u.dim == 0 for u in unknowns if u.top is None)
    last_unknown = any(u.dim == last for u in unknowns if u.top is None)
    for keys, layer in _written_leaves(spec):
        names = [name for name, _ in layer.built_sizes((1,))]
        if names and (mixed or (layer.type == "linear" and last_unknown)):
            return f"{format_path(list(keys))} ({layer.type}) takes its {' and '.join(names)}"
        if not KINDS[layer.type].dims_apart:
            mixed = True
    return ""


def _written_leaves(spec: Spec) -> Iterator[tuple[tuple[str | int, ...], Layer]]:
    """Every leaf as written (a repeat's layers once), in order, with its keys."""
    from convcalc.layers.blocks import Block

    todo: list[tuple[tuple[str | int, ...], Any]] = [
        (("layers", i), layer) for i, layer in reversed(list(enumerate(spec.layers)))
    ]
    while todo:
        keys, layer = todo.pop()
        if not isinstance(layer, Block):
            yield keys, layer
            continue
        inner = [
            ((*keys, *path_keys, j), child)
            for path_keys, children in layer.lists()
            for j, child in enumerate(children)
        ]
        todo.extend(reversed(inner))


# --- a spec's fault, whatever the unknowns ---------------------------------------------------


# an assignment of the unknowns, and another with other values where the refusal could depend
# on them (the input's sizes, the refusing layer's own unknowns): see spec_fault
Filling = tuple[list[tuple["Unknown", int]], list[tuple["Unknown", int]]]
LARGE = 2**20  # a spatial size no kernel, padding or stride of a fault's probe is near


def spec_fault(doc: Document, filling: Filling | None) -> SpecError | None:
    """Where no network at all is valid: the error ``convcalc shape`` gives for the spec with
    its unknowns filled (the first of ``filling``; the unknowns not in it at their least), if
    it is the spec's own fault, the same whatever the unknowns: the layer that refuses refuses
    the same way with every spatial size of its input large, and the second filling gives the
    same error (a 3-element kernel on a 2-D input, a pool padded by more than half its fixed
    kernel). A refusal that depends on the sizes or on the unknowns' values (a kernel larger
    than the input, a padding range holding no valid padding) is an answer, 0 solutions."""
    if filling is None:
        return None
    first = _filled_error(doc, filling[0])
    if first is None or not first[1]:
        return None
    again = _filled_error(doc, filling[1])
    return first[0] if again is not None and str(again[0]) == str(first[0]) else None


def least_value(u: Unknown) -> int:
    """The value an unknown holds until one is chosen: its range's least, or for "?" 1 (0
    for a padding; 1 is also the input's least)."""
    return u.values.lo if u.values is not None else (0 if "padding" in u.field else 1)


def other_value(u: Unknown, value: int) -> tuple[Unknown, int]:
    """The unknown at a value other than ``value`` where its range has one."""
    values = u.values if u.values is not None else INPUT_DEFAULT if u.top is None else None
    if values is None:  # "?" in a layer: its range follows the layer's input, from 1 (or 0) up
        return u, value + 1
    return u, values.hi if value != values.hi else values.lo


def _filled_error(
    doc: Document, chosen: list[tuple[Unknown, int]]
) -> tuple[SpecError, bool] | None:
    """The error of the spec with ``chosen`` values written in, and whether the layer that
    refuses refuses any size alike (:func:`_refuses_any_size`); None if the spec is valid."""
    from convcalc.analysis import analyse
    from convcalc.spec.validate import validate

    for u, value in chosen:
        write_value(doc.data, u, value)
    try:
        spec = validate(doc, share=False)
    except SpecError as exc:  # a value past what the field takes: not the layer's refusal
        return exc, False
    try:
        analyse(spec)
    except SpecError as exc:
        return exc, _refuses_any_size(spec)
    return None


def write_value(data: Any, u: Unknown, value: int, skip: int = 0) -> None:
    """Write ``value`` where ``u`` is written in the spec's ``data`` (the keys past the
    first ``skip``: ``data`` is then the layer at ``u``'s first ``skip`` keys)."""
    keys, name, dim = u.place
    if u.top is None:
        assert dim is not None  # input unknowns always have a dimension
        data["input"][dim] = value
        return
    node: Any = data
    for key in keys[skip:]:
        node = node[key]
    if dim is None:
        node[name] = value
    else:
        node[name][dim] = value


def _refuses_any_size(spec: Spec) -> bool:
    """Whether the first leaf that refuses its input (inside blocks too) refuses it the same
    way with every spatial size of that input :data:`LARGE`: a fault of ranks, of the layer's
    own values, of channels, not of the sizes. A block whose lists all run but whose join
    refuses depends on their sizes: False."""
    from convcalc.arith import Refusal
    from convcalc.layers.blocks import Block

    memo: dict[tuple[int, Shape], Shape | None] = {}
    layers, shape = list(spec.layers), spec.input
    while True:
        for layer in layers:
            out = output_shapes([layer], (shape,), None, memo)
            if out is not None:
                shape = out[0]
                continue
            if isinstance(layer, Block):
                # what each path is given: a split refuses channels, not sizes; a graph's
                # path may read an earlier path's output
                try:
                    inputs: list[tuple[Any, Shape]] = []
                    outs: list[Shape] = []
                    for p in layer.paths():
                        inputs.append((p, layer.path_input(shape, p.keys, outs)))
                        done = output_shapes(p.layers, (inputs[-1][1],))
                        if done is None:
                            break
                        outs.append(done[0])
                except Refusal:
                    return True
                failing = [(p, g) for p, g in inputs if output_shapes(p.layers, (g,)) is None]
                if not failing:
                    return False
                layers, shape = failing[0][0].layers, failing[0][1]  # from the path's input
                break
            large = (shape[0], *(LARGE,) * (len(shape) - 1))
            refusals = []
            for given in (shape, large):
                try:
                    layer.forward(given)
                except Refusal as exc:
                    refusals.append((exc.message, exc.field))
            return len(refusals) == 2 and refusals[0] == refusals[1]
        else:
            return False


def _find_unknowns(doc: Document) -> list[Unknown]:
    """Find "?" and range strings in the input and in every layer at any depth, replacing them
    with placeholders (the least value of the range).

    A layer written once and reused through an alias (``*block``) is one mapping in many places:
    every mapping and list on the way is copied first, so that each place has its own unknowns.
    """
    found: list[Unknown] = []
    data = doc.data
    if not isinstance(data, dict):
        return found
    if isinstance(data.get("input"), list):
        data["input"] = sizes = doc.copy(data["input"])
        for at, item in enumerate(sizes):
            if isinstance(item, str) and _UNKNOWN.match(item):
                label = format_path(["input", at])
                values = _parse(item, label, doc, ["input", at])
                found.append(Unknown(label, ("input",), "", at, values))
                sizes[at] = values.lo if values is not None else INPUT_DEFAULT.lo
    if not isinstance(data.get("layers"), list):
        return found
    data["layers"] = doc.copy(data["layers"])
    # depth first, in the order written: [list, its keys, the next index]
    todo: list[list[Any]] = [[data["layers"], ("layers",), 0]]
    while todo:
        frame = todo[-1]
        items, keys, i = frame
        if i == len(items):
            todo.pop()
            continue
        frame[2] = i + 1
        nested: list[list[Any]] = []
        original = items[i]
        if isinstance(original, dict):
            items[i] = layer = doc.copy(original)
            here = (*keys, i)
            for name, value in list(layer.items()):
                if name == "type":
                    continue
                block = block_class(_block_type(data, layer.get("type")))
                if block is not None and name in block.LISTS and isinstance(value, list):
                    layer[name] = value = doc.copy(value)
                    if block.NESTED:
                        for b, branch in enumerate(value):
                            if isinstance(branch, list):
                                value[b] = doc.copy(branch)
                                nested.append([value[b], (*here, name, b), 0])
                    else:
                        nested.append([value, (*here, name), 0])
                    continue
                if isinstance(value, list):
                    layer[name] = value = doc.copy(value)
                spots: list[tuple[int | None, Any]] = (
                    list(enumerate(value)) if isinstance(value, list) else [(None, value)]
                )
                for dim, item in spots:
                    if not isinstance(item, str) or not _UNKNOWN.match(item):
                        continue
                    label = format_path([*here, name, *([] if dim is None else [dim])])
                    values = _parse(item, label, doc, [*here, name])
                    found.append(Unknown(label, here, name, dim, values))
                    placeholder = (
                        values.lo if values is not None else (0 if "padding" in name else 1)
                    )
                    if dim is None:
                        layer[name] = placeholder
                    else:
                        value[dim] = placeholder
        todo.extend(reversed(nested))
    return found


def _block_type(data: dict[str, Any], kind: Any) -> str:
    """The block type of a layer's ``type``: a Keras class's (``Add`` → ``residual``) in a
    Keras spec."""
    if data.get("framework") == "keras":
        from convcalc.spec.keras import block_type

        return block_type(kind) or ""
    return str(kind)


def _parse(item: str, label: str, doc: Document, keys: list[str | int]) -> Range | None:
    try:
        return None if item.strip() == "?" else Range.parse(item, label)
    except RangeError as exc:
        raise SpecError(str(exc), file=doc.file, line=doc.line_of(keys)) from None


def layer_at(spec: Spec, keys: tuple[str | int, ...]) -> Layer:
    """The validated layer at ``keys`` (``("layers", 3, "branches", 1, 0)``)."""
    node: Any = spec
    for key in keys:
        node = node[key] if isinstance(key, int) else getattr(node, key)
    layer: Layer = node
    return layer


def _check_unknown(
    spec: Spec, unknown: Unknown, file: str, line_of: Callable[..., int | None]
) -> None:
    layer = layer_at(spec, unknown.keys)
    written = dict(layer.written_sizes())
    value = written.get(unknown.field) or getattr(layer, unknown.field)
    items = value if isinstance(value, tuple) else (value,)
    problem = None
    if unknown.field in written:
        problem = f"{unknown.field} is read from the input: leave it out rather than solve for it"
    elif not all(isinstance(v, int) and not isinstance(v, bool) for v in items):
        problem = "only integer fields can be unknown"
    line = line_of([*unknown.keys, unknown.field])
    _refuse_unknown(problem, unknown, unknown.field, (file, line, unknown.keys, layer.type))


# --- inputs alone: one dimension at a time ---------------------------------------------------


def _separable(spec: Spec, unknowns: list[Unknown]) -> bool:
    """True when every layer treats the spatial dimensions alike and apart (module docstring)."""
    if len(spec.input) < 2 or any(u.dim == 0 for u in unknowns):
        return False
    from convcalc.layers.blocks import Block

    stack: list[Any] = list(spec.layers)
    while stack:
        layer = stack.pop()
        if isinstance(layer, Block):
            for path in layer.paths():
                stack.extend(path.layers)
            continue
        if not KINDS[layer.type].dims_apart:
            return False
        for name in type(layer).model_fields:
            value = getattr(layer, name)
            if isinstance(value, tuple) and len(set(value)) > 1:
                return False
    return True


def _separable_search(
    spec: Spec, unknowns: list[Unknown], goal: Target, budget: Budget, built: Built
) -> tuple[int, Iterator[tuple[tuple[int, ...], Shape]], Callable[[], Filling | None]]:
    """Sizes valid in one dimension (trying n in every dimension at once), combined; and where
    no size is valid, the assignment whose error :func:`spec_fault` reads (the largest sizes)."""
    rank = len(spec.input) - 1
    ranges: list[list[int]] = [[n] for n in spec.input[1:]]
    for u in unknowns:
        assert u.dim is not None  # input unknowns always have a dimension
        ranges[u.dim - 1] = _listed(INPUT_DEFAULT if u.values is None else u.values, u, budget)
    memo: dict[tuple[int, Shape], Shape | None] = {}
    outputs: dict[int, Shape] = {}
    for n in sorted({n for sizes in ranges for n in sizes}):
        shape = (spec.input[0], *(n,) * rank)
        out = output_shapes(
            spec.layers, built.sides(shape), None, memo, budget=budget, check=built.check
        )
        if out is not None:
            outputs[n] = out[0]

    def largest() -> Filling | None:
        sizes = [(u, ranges[u.dim - 1][-1]) for u in unknowns if u.dim]
        return None if outputs else (sizes, [(u, ranges[u.dim - 1][0]) for u in unknowns if u.dim])

    want = goal.spatial
    if want is not None and len(want) == 1:
        want = want * rank
    per_dim = []
    for d, sizes in enumerate(ranges):
        per_dim.append(
            [n for n in sizes if n in outputs and (want is None or outputs[n][1 + d] == want[d])]
        )
    channels = next(iter(outputs.values()))[0] if outputs else 0

    def shape_of(sizes: tuple[int, ...]) -> Shape:
        return (channels, *(outputs[n][1 + d] for d, n in enumerate(sizes)))

    chosen = [u.dim - 1 for u in unknowns if u.dim is not None]
    if goal.size is None:
        count = math.prod(len(sizes) for sizes in per_dim)
        combos: Iterator[tuple[int, ...]] = itertools.product(*per_dim)
    else:
        values, extra = divmod(goal.size, channels) if channels else (0, 1)
        count, combos = (0, iter(())) if extra else _of_size(per_dim, outputs, values, budget)
    solutions = ((tuple(sizes[d] for d in chosen), shape_of(sizes)) for sizes in combos)
    return count, solutions, largest


def _of_size(
    per_dim: list[list[int]], outputs: dict[int, Shape], values: int, budget: Budget
) -> tuple[int, Iterator[tuple[int, ...]]]:
    """The choices of a size in each dimension whose outputs multiply to ``values``: counted
    over the products that divide it, dimension by dimension from the last, and listed
    depth-first taking only sizes from which the rest can still reach it (never trying the
    whole product of the dimensions' sizes)."""
    rank = len(per_dim)
    # reach[d]: for each product of dimensions d.. that divides ``values``, in how many ways
    reach: list[dict[int, int]] = [{} for _ in range(rank)] + [{1: 1}]
    for d in reversed(range(rank)):
        sizes: dict[int, int] = {}
        for n in per_dim[d]:
            sizes[outputs[n][1 + d]] = sizes.get(outputs[n][1 + d], 0) + 1
        budget.spend(len(per_dim[d]) + len(sizes) * len(reach[d + 1]))
        for out, ways in sizes.items():
            for rest, more in reach[d + 1].items():
                if values % (out * rest) == 0:
                    reach[d][out * rest] = reach[d].get(out * rest, 0) + ways * more

    def combos(d: int, left: int, chosen: tuple[int, ...]) -> Iterator[tuple[int, ...]]:
        if d == rank:
            yield chosen
            return
        for n in per_dim[d]:
            out = outputs[n][1 + d]
            if left % out == 0 and reach[d + 1].get(left // out):
                yield from combos(d + 1, left // out, (*chosen, n))  # at most 3 deep

    return reach[0].get(values, 0), combos(0, values, ())


# --- the general search ----------------------------------------------------------------------


SOLVED = ("kernel_size", "stride", "padding", "dilation")  # a single-layer solution's order


@dataclass(frozen=True)
class _Solved:
    """The values of one layer's unknowns that take size N to M, as a single-layer problem:
    counted in closed form, listed only when a path through it is."""

    problem: Problem
    picks: tuple[int, ...]  # for each unknown, its place in a solution (k, s, p, d)
    size: int

    def values(self) -> Iterator[tuple[int, ...]]:
        """The values in the unknowns' order, sorted: the unknowns are fixed one at a time,
        each value kept only if the rest still has a solution (a closed-form count), and the
        last one read from the problem's own solutions.

        The work between two values spends from a budget begun again at each (a range may
        hold long stretches without a solution), and the listing ends at the last of the
        ``size`` values, never trying the rest of the ranges."""
        idle = Budget(STEPS, SEARCH_WHAT)
        left = self.size
        names = [SOLVED[j] for j in self.picks]
        last = self.picks[-1]
        stack: list[tuple[Problem, tuple[int, ...], Iterator[int]]] = []
        stack.append((self.problem, (), iter(getattr(self.problem, names[0]))))
        while stack and left > 0:
            pb, chosen, values = stack[-1]
            depth = len(chosen)
            if depth == len(names) - 1:
                stack.pop()
                for solution in pb.solutions():
                    yield (*chosen, solution[last])
                    idle.reset()
                    left -= 1
                    if left == 0:
                        return
                continue
            value = next(values, None)
            if value is None:
                stack.pop()
                continue
            idle.spend()
            change: dict[str, Any] = {names[depth]: Range.span(value, value)}
            fixed = replace(pb, **change)
            if tally(fixed, budget=idle).value:
                following = iter(getattr(fixed, names[depth + 1]))
                stack.append((fixed, (*chosen, value), following))


# what a step of the search reaches: the trial's shape, and beside it (with a declared input)
# the shape the spec's own input has there
State = tuple[Shape, ...]
# the values of a step's unknowns (or all of them that lead to one state), and where they lead
Move = tuple[tuple[int, ...] | _Solved, State]


def _weight(values: tuple[int, ...] | _Solved) -> int:
    return values.size if isinstance(values, _Solved) else 1


def _expanded(moves: list[Move]) -> Iterator[tuple[tuple[int, ...], State]]:
    for values, out in moves:
        if isinstance(values, _Solved):
            yield from ((v, out) for v in values.values())
        else:
            yield values, out


def _solvable(layer: Layer, unknowns: list[Unknown], shape: Shape) -> bool:
    """Whether a top-level layer's trials can be replaced by single-layer problems: a conv
    (zero padding) or a floor-mode pool, whose unknowns are among its own kernel, stride,
    padding and dilation, each one value for every dimension, on an input whose spatial sizes
    are equal and with every written value the same in every dimension."""
    if layer.type not in ("conv", "maxpool", "avgpool") or len(shape) < 2:
        return False
    if len(set(shape[1:])) != 1 or (layer.type == "avgpool" and len(shape) == 4):
        return False
    if getattr(layer, "ceil_mode", False) or getattr(layer, "padding_mode", "zeros") != "zeros":
        return False
    for u in unknowns:
        if len(u.keys) != 2 or u.field not in SOLVED or (u.dim is not None and len(shape) > 2):
            return False
    fields = {u.field for u in unknowns}
    for name in SOLVED:
        if name in fields or not hasattr(layer, name):
            continue
        value = getattr(layer, name)
        if (
            not isinstance(value, int | tuple)
            or len(set(value if isinstance(value, tuple) else (value,))) != 1
        ):
            return (
                False  # a pool's stride None (the kernel), padding "same", or per-dimension values
            )
    return True


class _Search:
    """Forward reachability with edges, then backward pruning: see the module docstring.

    Step 0 chooses the input's unknown sizes; step i + 1 runs top-level layer i. Every trial
    spends from ``budget``: a layer copied with its values :data:`COPY` steps, and its walk
    a step per layer it visits (``analysis.output_shapes``); a loop over choices whose number
    is known first is refused before it starts if they cannot all fit.
    """

    def __init__(
        self,
        spec: Spec,
        unknowns: list[Unknown],
        goal: Target,
        budget: Budget,
        built: Built,
        doc: Document | None = None,
    ) -> None:
        self.spec = spec
        self.keras = _KerasLayers(spec, doc) if spec.dialect is not None and doc else None
        self.goal = goal
        self.budget = budget
        self.built = built
        self.inputs = [u for u in unknowns if u.top is None]
        self.by_layer: dict[int, list[Unknown]] = {}
        for u in unknowns:
            if u.top is not None:
                self.by_layer.setdefault(u.top, []).append(u)
        # edges[i][state] = the moves from that state; step 0 starts from the empty state
        self.edges: list[dict[State, list[Move]]] = []
        self.good: list[set[State]] = []
        self.memo: dict[tuple[int, Shape], Shape | None] = {}
        self.tried: dict[str, tuple[int, int]] = {}  # "?" label -> least and largest value tried
        self.last: set[State] = set()

    def _walk(
        self, layer: Layer, state: State, swap: dict[int, Layer] | None = None
    ) -> State | None:
        return output_shapes(
            [layer], state, swap, self.memo, budget=self.budget, check=self.built.check
        )

    def forward(self) -> None:
        start: list[Move] = []
        choices = [
            _listed(INPUT_DEFAULT if u.values is None else u.values, u, self.budget)
            for u in self.inputs
        ]
        self.budget.spend(math.prod(len(c) for c in choices))  # refused here if they cannot fit
        for values in itertools.product(*choices):
            shape = list(self.spec.input)
            for u, v in zip(self.inputs, values, strict=True):
                assert u.dim is not None  # input unknowns always have a dimension
                shape[u.dim] = v
            start.append((values, self.built.sides(tuple(shape))))
        self.edges.append({(): start})
        frontier = {out for _, out in start}
        for i, layer in enumerate(self.spec.layers):
            edges = {state: list(self._moves(i, layer, state)) for state in sorted(frontier)}
            self.edges.append(edges)
            frontier = {out for moves in edges.values() for _, out in moves}
        self.last = frontier

    def _moves(self, i: int, layer: Layer, state: State, target: bool = True) -> Iterator[Move]:
        unknowns = self.by_layer.get(i, [])
        shape = state[0]
        if self.keras is not None:
            yield from self._keras_moves(i, layer, state, unknowns, shape)
            return
        if not unknowns:
            out = self._walk(layer, state)
            if out is not None:
                yield (), out
            return
        if _solvable(layer, unknowns, shape) and all(side == shape for side in state):
            last = i == len(self.spec.layers) - 1 and target
            wanted = None if not last or self.goal.spatial is None else set(self.goal.spatial)
            yield from self._solved_moves(layer, unknowns, state, wanted)
            return
        leaves, choices = self._choices(unknowns, shape)
        for values in itertools.product(*choices):
            swap = {}
            for keys, leaf in leaves.items():
                mine = [(u, v) for u, v in zip(unknowns, values, strict=True) if u.keys == keys]
                swap[id(leaf)] = _assign(leaf, mine)
            out = self._walk(layer, state, swap)  # the block's other layers: memo
            if out is not None:
                yield values, out

    def _keras_moves(
        self, i: int, layer: Layer, state: State, unknowns: list[Unknown], shape: Shape
    ) -> Iterator[Move]:
        """A Keras layer's moves: for each choice of its unknowns, the layer read again with
        them on the state's input (the declared one where there is one), as Keras builds it."""
        assert self.keras is not None
        choices = self._choices(unknowns, shape)[1]
        for values in itertools.product(*choices):
            chosen = list(zip(unknowns, values, strict=True))
            rebuilt = self.keras.layer(i, state[-1], chosen)
            if rebuilt is None:
                continue
            swap = {} if rebuilt is layer else {id(layer): rebuilt}
            out = self._walk(layer, state, swap)
            if out is not None:
                yield values, out

    def _choices(
        self, unknowns: list[Unknown], shape: Shape
    ) -> tuple[dict[tuple[str | int, ...], Layer], list[list[int]]]:
        """The leaves the unknowns sit in (by their keys) and each unknown's values to try
        (:func:`_candidates`), the range tried noted per label; the product of their counts is
        spent up front, so a search too large is refused before it starts."""
        leaves = {u.keys: layer_at(self.spec, u.keys) for u in unknowns}
        choices = [
            _candidates(
                leaves[u.keys], [w for w in unknowns if w.keys == u.keys], u, shape, self.budget
            )
            for u in unknowns
        ]
        for u, tried in zip(unknowns, choices, strict=True):
            if u.values is None and tried:
                lo, hi = self.tried.get(u.label, (tried[0], tried[-1]))
                self.tried[u.label] = (min(lo, tried[0]), max(hi, tried[-1]))
        self.budget.spend(COPY * math.prod(len(c) for c in choices))  # or refused up front
        return leaves, choices

    def _solved_moves(
        self, layer: Layer, unknowns: list[Unknown], state: State, wanted: set[int] | None
    ) -> Iterator[Move]:
        """The moves of a layer that :func:`_solvable` accepts: for each output size M (only
        the target's, for the last layer: ``wanted``), the single-layer problem N → M over the
        same candidate ranges, counted in closed form and listed only if a path uses it."""
        shape = state[0]
        ranges: dict[str, Range] = {}
        for name in SOLVED:
            mine = [u for u in unknowns if u.field == name]
            if mine:
                ranges[name] = candidate_range(layer, unknowns, mine[0], shape)
                if mine[0].values is None and ranges[name].intervals:
                    lo, hi = self.tried.get(mine[0].label, (ranges[name].lo, ranges[name].hi))
                    self.tried[mine[0].label] = (min(lo, ranges[name].lo), max(hi, ranges[name].hi))
            elif hasattr(layer, name):
                value = getattr(layer, name)
                value = value[0] if isinstance(value, tuple) else value
                ranges[name] = Range.span(value, value)
        if not all(r.intervals for r in ranges.values()):
            return
        picks = tuple(SOLVED.index(u.field) for u in unknowns)
        n = shape[1]
        sizes = range(1, n + 2 * ranges["padding"].hi + 1)  # k = 1, s = 1 gives the most
        if wanted is not None:  # a square output: one size in every dimension
            sizes = range(0) if len(wanted) > 1 else range(min(wanted), min(wanted) + 1)
        if not self.budget.allows(len(sizes)):
            raise WorkLimit(
                f"{unknowns[0].label}: {len(sizes):,} output sizes to consider, more than the "
                f"search's {self.budget.limit:,} steps: narrow the ranges"
            )
        base = problem(
            layer.type,
            n,
            1,
            kernel_size=str(ranges["kernel_size"]),
            stride=str(ranges["stride"]),
            padding=str(ranges["padding"]),
            dilation=str(ranges["dilation"]) if "dilation" in ranges else None,
        )
        for m in sizes:
            self.budget.spend()
            pb = replace(base, m=m)
            found = tally(pb, budget=self.budget)
            if found.value == 0:
                continue
            first = next(pb.solutions())
            trial = _assign(layer, [(u, first[j]) for u, j in zip(unknowns, picks, strict=True)])
            out = self._walk(layer, state, {id(layer): trial})
            if out is not None:  # else refused whatever the sizes (channels, groups)
                yield _Solved(pb, picks, found.value), out

    def backward(self) -> None:
        final = {s for s in self.last if self.goal.accepts(s[0])}
        flat = all(len(s[0]) < 2 for s in self.last)
        if self.last and not final and self.goal.spatial is not None and flat:
            example = shape_text(next(iter(self.last))[0])
            raise RangeError(
                f"the stack's output ({example}) has no spatial dimensions, so --out cannot "
                "apply: give --out-size N, the number of output values"
            )
        self.good = [set() for _ in self.edges] + [final]
        for i in range(len(self.edges) - 1, -1, -1):
            nxt = self.good[i + 1]
            self.good[i] = {
                s for s, moves in self.edges[i].items() if any(out in nxt for _, out in moves)
            }

    def count(self) -> int:
        ways: dict[State, int] = {s: 1 for s in self.good[-1]}
        for i in range(len(self.edges) - 1, -1, -1):
            ways = {
                s: sum(ways.get(out, 0) * _weight(v) for v, out in self.edges[i][s])
                for s in self.good[i]
            }
        return ways.get((), 0)

    def paths(self) -> Iterator[tuple[tuple[int, ...], Shape]]:
        """Depth-first over good states only, in the order of the unknowns' values."""
        if () not in self.good[0]:
            return
        n = len(self.edges)

        def moves(i: int, state: State) -> Iterator[tuple[tuple[int, ...], State]]:
            nxt = self.good[i + 1]
            kept = [(v, out) for v, out in self.edges[i][state] if out in nxt]
            if not any(isinstance(v, _Solved) for v, _ in kept):
                return iter(kept)  # type: ignore[arg-type]  # plain values, in order
            # several problems (one per output size), each listing in order: merge them
            return heapq.merge(*(_expanded([move]) for move in kept))

        stack: list[tuple[int, tuple[int, ...], Iterator[tuple[tuple[int, ...], State]]]]
        stack = [(0, (), moves(0, ()))]
        while stack:
            i, chosen, pending = stack[-1]
            move = next(pending, None)
            if move is None:
                stack.pop()
            elif i + 1 == n:
                yield chosen + move[0], move[1][0]
            else:
                stack.append((i + 1, chosen + move[0], moves(i + 1, move[1])))

    def representative(self) -> Filling | None:
        """Where no network is valid, whatever the target: the values of the unknowns on a
        path to the first top-level layer that refuses every state reaching it (the input's
        sizes and the earlier layers' values, that layer's own at their least and, in the
        second filling, at others), for :func:`spec_fault`; None if some network is valid."""
        if self.last:
            return None
        dead = max(j for j, edges in enumerate(self.edges) if edges)  # edges[j]: step j's moves
        if dead == 0:
            return None
        layer = self.spec.layers[dead - 1]
        for state in self.edges[dead]:  # the target may be what refused the last layer
            if next(self._moves(dead - 1, layer, state, target=False), None) is not None:
                return None
        state = min(self.edges[dead])
        chosen: list[tuple[Unknown, int]] = []
        for j in range(dead - 1, -1, -1):
            found = next(
                (
                    (before, v)
                    for before, moves in self.edges[j].items()
                    for v, out in moves
                    if out == state
                ),
                None,
            )
            assert found is not None  # every state reached came from one before it
            before, hit = found
            values = next(hit.values()) if isinstance(hit, _Solved) else hit
            mine = self.inputs if j == 0 else self.by_layer.get(j - 1, [])
            chosen.extend(zip(mine, values, strict=True))
            state = before
        first = chosen + [(u, least_value(u)) for u in self.by_layer.get(dead - 1, [])]
        varied = {id(u) for u in [*self.inputs, *self.by_layer.get(dead - 1, [])]}
        return first, [other_value(u, v) if id(u) in varied else (u, v) for u, v in first]


class _KerasLayers:
    """A Keras spec's top-level layers as the search meets them: the layer read with the
    spec where its input and values are those it was read with, else read again from the
    spec's item with the values written in (:func:`convcalc.spec.keras.read_layer`), so that
    what Keras builds from a layer's input (a depthwise convolution's channels) follows it,
    and Keras' own refusals of the values hold; None where Keras refuses."""

    def __init__(self, spec: Spec, doc: Document) -> None:
        assert spec.dialect is not None
        self.spec, self.doc = spec, doc
        self.channels_last = spec.dialect.channels_last
        self.cache: dict[tuple[int, Shape, tuple[tuple[str, int], ...]], Layer | None] = {}
        self.read: list[Shape | None] = []  # each layer's input when the spec was read
        shape: Shape | None = spec.input
        for layer in spec.layers:
            self.read.append(shape)
            out = None if shape is None else output_shapes([layer], (shape,))
            shape = None if out is None else out[0]

    def layer(self, i: int, shape: Shape, chosen: list[tuple[Unknown, int]]) -> Layer | None:
        if not chosen and shape == self.read[i]:
            return self.spec.layers[i]
        key = (i, shape, tuple((u.label, v) for u, v in chosen))
        if key not in self.cache:
            import copy

            from convcalc.spec.keras import read_layer

            item = copy.deepcopy(self.doc.data["layers"][i])
            for u, v in chosen:
                write_value(item, u, v, skip=2)
            try:
                self.cache[key] = read_layer(
                    self.doc, self.channels_last, item, ("layers", i), shape
                )[0]
            except SpecError:
                self.cache[key] = None
        return self.cache[key]


def _assign(layer: Layer, chosen: list[tuple[Unknown, int]]) -> Layer:
    update: dict[str, Any] = {}
    for u, v in chosen:
        if u.dim is None:
            update[u.field] = v
        else:
            current = list(update.get(u.field, getattr(layer, u.field)))
            current[u.dim] = v
            update[u.field] = tuple(current)
    return layer.model_copy(update=update)


def _known_max(layer: Layer, unknowns: list[Unknown], name: str, dim: int | None) -> int | None:
    """The largest value a field can take, or None while it is a "?" (its default unknown)."""
    value = getattr(layer, name, None)
    if value is None or isinstance(value, str):
        return None
    items = list(value) if isinstance(value, tuple) else [value] * max(1, (dim or 0) + 1)
    for u in unknowns:  # the placeholders stand for whole ranges
        if u.field == name:
            for j in range(len(items)) if u.dim is None else [u.dim]:
                items[j] = None if u.values is None else u.values.hi
    chosen = items if dim is None or dim >= len(items) else [items[dim]]
    return None if None in chosen else max(chosen)


def _listed(values: Range | range, u: Unknown, budget: Budget) -> list[int]:
    """The values of a range as a list, refused up front when there are more of them than the
    search's budget could ever try."""
    size = values.size if isinstance(values, Range) else max(0, values.stop - values.start)
    if not budget.allows(size):
        raise WorkLimit(
            f"{u.label}: {size:,} values to try, more than the search's {budget.limit:,}"
            " steps: narrow the range"
        )
    return list(values)


def _candidates(
    layer: Layer, unknowns: list[Unknown], u: Unknown, shape: Shape, budget: Budget
) -> list[int]:
    """The values to try, as a list (see :func:`candidate_range`)."""
    return _listed(candidate_range(layer, unknowns, u, shape), u, budget)


def candidate_range(layer: Layer, unknowns: list[Unknown], u: Unknown, shape: Shape) -> Range:
    """The values to try: the written range, or the default for this input (the README's
    default ranges).

    ``shape`` is the input of the top-level layer the unknown is in: for a layer inside a block,
    the block's input stands for the layer's own."""
    if u.values is not None:
        return u.values
    spatial = shape[1:]
    size = spatial[u.dim] if u.dim is not None and u.dim < len(spatial) else max(spatial or (1,))

    def known(name: str, default: int) -> int:
        value = _known_max(layer, unknowns, name, u.dim)
        return default if value is None else value

    pad = known("padding", 0)
    if u.field in ("kernel_size", "stride"):
        return Range.span(1, size + 2 * pad)
    if u.field == "padding":
        kernel = known("kernel_size", size)
        if KINDS[layer.type].pool:
            return Range.span(0, kernel // 2)
        return Range.span(0, known("dilation", 1) * (kernel - 1) // 2)
    if u.field == "dilation":
        return Range.span(1, max(1, size + 2 * pad - 1))
    return Range.span(0, max(known("stride", size), known("dilation", 1)) - 1)  # output_padding


def csv_row(cells: Iterable[object]) -> str:
    """One CSV line, ending in a newline: each cell's text through :func:`escape.csv_cell`
    (no formula, controls shown), then quoted by the ``csv`` module where it holds a comma, a
    quote or a line end (a quote doubled)."""
    line = io.StringIO()
    csv.writer(line, lineterminator="\n").writerow([escape.csv_cell(str(c)) for c in cells])
    return line.getvalue()


def write(out: Callable[[str], object], result: StackResult, fmt: str, listing: bool) -> None:
    """Render a :class:`StackResult` as a table, CSV or JSON, streaming the solutions."""
    labels = [u.label for u in result.unknowns]
    ranges = result.ranges
    goal = result.target
    if fmt == "json":
        head: dict[str, Any] = {"name": result.name}
        if goal.spatial is not None:
            head["out"] = list(goal.spatial)
        if goal.size is not None:
            head["out_size"] = goal.size
        head.update(count=result.count, unknowns=labels, ranges=ranges, notes=result.notes)
        if not listing:
            out(escape.json_text(json.dumps(head, indent=2)) + "\n")
            return
        items = (
            json.dumps(
                {
                    **dict(zip(labels, values, strict=True)),
                    "output_shape": list(result.shape(shape)),
                }
            )
            for values, shape in result.solutions
        )
        out(escape.json_text(json.dumps(head, indent=2))[:-2] + ',\n  "solutions": [')
        first = True
        for item in items:
            out(("\n    " if first else ",\n    ") + item)
            first = False
        out("]\n}\n" if first else "\n  ]\n}\n")
        return
    if fmt == "csv":
        if not listing:
            out(f"{result.count}\n")
            return
        out(csv_row([*labels, "output_shape"]))
        for values, shape in result.solutions:
            out(csv_row([*values, "x".join(map(str, result.shape(shape)))]))
        return
    plural = "" if result.count == 1 else "s"
    out(f"{escape.terminal(result.name)} → {goal}: {result.count:,} solution{plural}\n")
    out("unknowns: " + " · ".join(f"{k} {v}" for k, v in ranges.items()) + "\n")
    for note in result.notes:
        out(f"note: {escape.terminal(note)}\n")
    if not listing:
        return
    widths = [max(len(label), 4) for label in labels]
    out("\n" + "  ".join(lbl.rjust(w) for lbl, w in zip(labels, widths, strict=True)))
    out("  output_shape\n")
    for values, shape in result.solutions:
        cells = "  ".join(str(v).rjust(w) for v, w in zip(values, widths, strict=True))
        out(f"{cells}  {shape_text(result.shape(shape))}\n")
