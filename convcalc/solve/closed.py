"""``convcalc solve SPEC`` where the input's spatial sizes are the unknowns: answered in closed
form by :func:`convcalc.solve.inputs.solve_input`, never by trying sizes.

:func:`ask` reads the question (the spec, ``--input`` in place of its input, the target and
``--rebuild``) and says whether it is one for the closed form: the input's spatial sizes
unknown (``"?"``: any positive size; a range: those sizes; a number: that size), no output
target and no layer unknown, or layer unknowns beside them (a *mixed* question: the layer
unknowns enumerated, each setting's input sizes in closed form). Everything else stays with
:func:`convcalc.solve.stack.solve_stack`'s search. :func:`answer` answers it.

The accepted set is a finite union of disjoint boxes (:class:`~convcalc.solve.inputs.Joint`);
the question keeps of each box what the asked sizes allow: a number fixes its dimension
(kept where the box holds it), a range cuts the box's set to it, ``"?"`` keeps it whole.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from typing import Any

from convcalc.analysis import output_shapes
from convcalc.budget import STEPS, Budget, WorkLimit
from convcalc.errors import format_path
from convcalc.records import Shape, shape_text
from convcalc.solve.inputs import InputSizes, Limit, NotSolvable, SizeSet, solve_input
from convcalc.solve.layer import Range, RangeError
from convcalc.solve.sizes import Within
from convcalc.solve.stack import (
    Built,
    Target,
    Unknown,
    candidate_range,
    check_declared,
    declared_input,
    following_layer,
    layer_at,
    least_value,
    other_value,
    prepare,
    spec_fault,
    write_value,
)
from convcalc.spec.document import Document
from convcalc.spec.validate import Spec

__all__ = ["Dim", "InputAnswer", "MixedAnswer", "Question", "Setting", "answer", "ask"]

SETTINGS = 4096  # the most settings of a mixed question's layer unknowns, each solved
WHAT = "the input sizes' sets are too large to work out: narrow the ranges"
Cut = SizeSet | Within  # one dimension of a box asked: whole ("?"), one size, or a range's
Box = tuple[Cut, ...]


@dataclass(frozen=True)
class Dim:
    """One spatial dimension of the question: its name (``H``), its label (``input[1]``),
    and what is asked of it: ``fixed`` a number, ``values`` a range, neither: any size."""

    name: str
    label: str
    fixed: int | None = None
    values: Range | None = None

    @property
    def asked(self) -> str:
        """``?``, ``1..64`` or ``32``, as the question wrote it."""
        if self.fixed is not None:
            return str(self.fixed)
        return "?" if self.values is None else str(self.values)

    @property
    def bounded(self) -> bool:
        return self.fixed is not None or self.values is not None

    def cut(self, sizes: SizeSet, budget: Budget | None = None) -> Cut | None:
        """``sizes`` within what is asked (None: a fixed size the set does not hold; a fixed
        size held is kept as the set of that size; a range, as the set cut to its intervals,
        :class:`Within`, in closed form whatever the range's length)."""
        if self.fixed is not None:
            # {n} in canonical form, built directly: a large n costs nothing
            return SizeSet(self.fixed + 1, 1, (), (self.fixed,)) if self.fixed in sizes else None
        if self.values is None:
            return sizes
        spans = tuple(self.values.intervals)
        if budget is not None:  # each span's count and ends: a step per residue
            budget.spend(len(spans) * (len(sizes.residues) + 1))
        return Within(sizes, spans)


@dataclass(frozen=True)
class Question:
    """A question for the closed form: ``spec`` is the network solved (built for
    ``declared``, or rebuilt for each size where ``declared`` is None), ``channels`` the
    input's, ``dims`` its spatial dimensions as asked. ``layer_unknowns``: a mixed question's;
    ``target``: a mixed question's output sizes."""

    name: str
    spec: Spec
    channels: int
    dims: tuple[Dim, ...]
    declared: Shape | None
    rebuilt_by: str  # "spec" (its input writes "?"), "option" (--rebuild), or ""
    doc: Document
    layer_unknowns: tuple[Unknown, ...] = ()
    target: Target = field(default_factory=Target)
    refused: str = ""  # the declared network refuses the asked channels: what it takes
    input_unknowns: tuple[Unknown, ...] = ()
    following: str = ""  # rebuilt: the first layer whose built sizes follow the input

    @property
    def rebuild(self) -> bool:
        return self.declared is None

    @property
    def unknown_dims(self) -> tuple[Dim, ...]:
        return tuple(d for d in self.dims if d.fixed is None)

    def written(self, shape: tuple[Any, ...]) -> tuple[Any, ...]:
        """A records' shape (sizes or names) in the spec's order: Keras' (H, W, C) for a
        channels-last Keras spec, else as it is."""
        dialect = self.spec.dialect
        if dialect is not None and dialect.channels_last and len(shape) > 1:
            return (*shape[1:], shape[0])
        return shape

    def kind(self, path: str, kind: str) -> str:
        """The type of the layer at ``path`` as the spec writes it: a Keras spec's class
        (``Conv2D``) for the records' ``conv``."""
        dialect = self.spec.dialect
        if dialect is None:
            return kind
        written = {format_path(list(keys)): name for keys, name in dialect.classes.items()}
        return written.get(path, kind)

    def network(self) -> str:
        """One line: which network answers (built for the declared input, or rebuilt)."""
        if self.rebuilt_by == "spec":
            text = (
                'the spec\'s input declares no size where it writes "?" or a range, so the '
                "layers follow each input size"
            )
            return text + (f" ({self.following} from it)" if self.following else "")
        if self.rebuilt_by == "option":
            return "--rebuild: the layers are rebuilt for each input size"
        assert self.declared is not None
        shown = shape_text(self.written(self.declared))
        return f"the layers are built for the spec's input {shown}"


@dataclass(frozen=True)
class InputAnswer:
    """The accepted input sizes (``sizes``), and of them the boxes within what is asked
    (``boxes``, one set per spatial dimension, a fixed one as its one size); ``count`` the
    tuples in them, None where infinitely many."""

    question: Question
    sizes: InputSizes | None  # None: the network refuses the asked channels
    boxes: tuple[Box, ...]
    count: int | None
    spec: Spec | None = (
        None  # the network solved (a mixed question's setting's), if not the question's
    )

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(d.name for d in self.question.dims)

    def tuples(self) -> Iterator[tuple[int, ...]]:
        """The accepted tuples within what is asked: in lexicographic order where they are
        finitely many, else by their largest size, then lexicographically (every tuple is
        reached)."""
        boxes = self.boxes
        if not boxes:
            return iter(())
        if self.count is not None:
            return _lexicographic(boxes)
        return _by_largest(boxes)

    def nearest(self, sizes: tuple[int, ...]) -> tuple[tuple[int, ...] | None, ...]:
        """The accepted tuples within what is asked nearest ``sizes`` below and above it
        (each dimension ≤, resp. ≥; of those the largest, resp. smallest, sum)."""
        lows: list[tuple[int, ...]] = []
        highs: list[tuple[int, ...]] = []
        for box in self.boxes:
            low: list[int | None] = [s.last_to(n) for s, n in zip(box, sizes, strict=True)]
            high = [s.next_from(n) for s, n in zip(box, sizes, strict=True)]
            if all(v is not None for v in low):
                lows.append(tuple(v or 0 for v in low))
            if all(v is not None for v in high):
                highs.append(tuple(v or 0 for v in high))
        below = max(lows, key=lambda t: (sum(t), t), default=None)
        above = min(highs, key=lambda t: (sum(t), t), default=None)
        return below, above

    def per_dim(self, index: int) -> Cut:
        """The sizes of dimension ``index`` (0-based) in some accepted tuple asked (the boxes'
        sets of one dimension are all cut alike: all :class:`Within` the same ranges, or
        none)."""
        sets = [box[index] for box in self.boxes]
        if sets and all(isinstance(s, Within) for s in sets):
            cuts = [s for s in sets if isinstance(s, Within)]
            within = cuts[0]
            for more in cuts[1:]:
                within = within | more
            return within
        out = SizeSet.empty()
        for s in sets:
            out = out | (s.sizes if isinstance(s, Within) else s)
        return out


@dataclass(frozen=True)
class Setting:
    """One setting of a mixed question's layer unknowns and its answer."""

    values: tuple[int, ...]
    answer: InputAnswer


@dataclass(frozen=True)
class MixedAnswer:
    """A mixed question: every setting of the layer unknowns whose network accepts some input
    asked (``settings``), ``tried`` the values each unknown took."""

    question: Question
    settings: tuple[Setting, ...]
    tried: dict[str, str]

    @property
    def count(self) -> int | None:
        counts = [s.answer.count for s in self.settings]
        return None if None in counts else sum(c or 0 for c in counts)


def _lexicographic(boxes: tuple[Box, ...]) -> Iterator[tuple[int, ...]]:
    """Every tuple of finite boxes, in lexicographic order (disjoint boxes merged), lazily:
    no set is listed whole (a range of 10⁸ sizes streams)."""
    import heapq

    return heapq.merge(*(_product(box) for box in boxes))


def _product(box: Box) -> Iterator[tuple[int, ...]]:
    """The tuples of one finite box in lexicographic order, each set walked again for every
    prefix (lazily) rather than listed."""
    if not box:
        yield ()
        return
    for first in box[0]:
        for rest in _product(box[1:]):
            yield (first, *rest)


def size_count(sizes: Cut) -> int:
    """How many members a finite cut holds."""
    return sizes.count() if isinstance(sizes, Within) else len(sizes.below)


def _by_largest(boxes: tuple[Box, ...]) -> Iterator[tuple[int, ...]]:
    """Every tuple of the boxes ordered by its largest size, then lexicographically."""
    m = 0
    top = None
    if all(all(s.is_finite for s in box) for box in boxes):
        top = max(_largest(s) for box in boxes for s in box)
    while top is None or m < top:
        m += 1
        found: set[tuple[int, ...]] = set()
        for box in boxes:
            lists = [s.upto(m) for s in box]
            if all(lists) and any(m in s for s in box):
                found.update(c for c in itertools.product(*lists) if max(c) == m)
        yield from sorted(found)


def _largest(sizes: Cut) -> int:
    """The largest member of a finite cut (0 for none)."""
    if isinstance(sizes, Within):
        return sizes.largest() or 0
    return max(sizes.below, default=0)


# --- the question --------------------------------------------------------------------------


def ask(
    source: str | dict[str, Any],
    input_shape: list[int | str] | None,
    target: Target,
    *,
    rebuild: bool = False,
    every_size: bool = False,
) -> Question | None:
    """The question, if it is one for the closed form (module docstring), else None.
    ``every_size``: without ``input_shape``, ask every spatial size of the spec's declared
    input (``--near`` or ``--rebuild`` alone)."""
    if target.size is not None:
        return None
    if input_shape is None and every_size:
        written = _written_input(source)
        if written is not None and all(isinstance(n, int) for n in written):
            input_shape = [written[0], *("?" for _ in written[1:])]
    doc, written, unknowns, spec = prepare(source, input_shape, need_unknowns=False)
    inputs = [u for u in unknowns if u.top is None]
    layer_unknowns = tuple(u for u in unknowns if u.top is not None)
    if any(u.dim == 0 for u in inputs) or len(spec.input) < 2:
        return None
    if not inputs and (layer_unknowns or input_shape is None):
        return None
    if target.spatial is not None and not (inputs and layer_unknowns):
        return None
    declared = declared_input(written, spec, doc) if input_shape is not None else None
    rebuilt_by = "spec" if declared is None else "option" if rebuild else ""
    rank = len(spec.input)
    names = _names(rank)
    by_dim = {u.dim: u for u in inputs}
    dims = []
    for d in range(1, rank):
        u = by_dim.get(d)
        label = u.label if u is not None else format_path(["input", _written_dim(spec, d)])
        if u is None:
            dims.append(Dim(names[d - 1], label, fixed=spec.input[d]))
        elif u.values is not None and u.values.size == 1:
            dims.append(Dim(names[d - 1], label, fixed=u.values.lo))
        else:
            dims.append(Dim(names[d - 1], label, values=u.values))
    for dim in dims:
        if dim.values is not None and dim.values.lo < 1:
            raise RangeError(f"{dim.label}: the range {dim.values} holds 0, not a size")
        if dim.fixed is not None and dim.fixed < 1:
            raise RangeError(f"{dim.label}: {dim.fixed} is not a size")
    channels = spec.input[0]
    base = spec
    refused = ""
    if declared is not None and not rebuild:
        if not layer_unknowns:
            check_declared(spec, declared, Budget(STEPS, WHAT))
        base = replace(spec, input=(channels, *declared[1:]))
        if channels != declared[0]:
            built = Built(declared)
            trial = (channels, *declared[1:])
            if output_shapes(spec.layers, built.sides(trial), check=built.check) is None:
                refused = built.refused or f"the declared input's {declared[0]} channels"
    if spatial := target.spatial:
        if len(spatial) not in (1, rank - 1):
            raise RangeError(
                f"--out gives {len(spatial)} sizes but the input has {rank - 1} spatial "
                f"dimension{'s' if rank != 2 else ''}"
            )
        target = Target(spatial * (rank - 1) if len(spatial) == 1 else spatial)
    return Question(
        spec.name,
        base,
        channels,
        tuple(dims),
        None if rebuild or declared is None else declared,
        rebuilt_by,
        doc,
        layer_unknowns,
        target,
        refused,
        tuple(inputs),
        following_layer(spec, inputs) if rebuilt_by == "spec" else "",
    )


def _written_dim(spec: Spec, d: int) -> int:
    """The index of the records' input axis ``d`` as the spec writes it (Keras' H of
    (H, W, C) is the records' axis 1 and written 0)."""
    if spec.dialect is None:
        return d
    from convcalc.spec.keras import keras_dim

    return keras_dim(len(spec.input), d, spec.dialect.channels_last)


def _written_input(source: str | dict[str, Any]) -> list[Any] | None:
    from convcalc.spec.validate import load_document

    doc = load_document(source)
    written = doc.data.get("input") if isinstance(doc.data, dict) else None
    return list(written) if isinstance(written, list) else None


def _names(rank: int) -> tuple[str, ...]:
    """H, W of [C, H, W]; D, H, W of [C, D, H, W]; L of [C, L] (as the solver names them)."""
    names = {2: "L", 3: "HW", 4: "DHW"}.get(rank, "")
    return tuple(names) if names else tuple(f"n{d}" for d in range(1, rank))


# --- the answer ----------------------------------------------------------------------------


def answer(question: Question) -> InputAnswer | MixedAnswer:
    """The question answered: :class:`InputAnswer`, or :class:`MixedAnswer` for a mixed one.
    :class:`~convcalc.solve.inputs.NotSolvable` where the solver has no closed form."""
    if question.layer_unknowns:
        return _mixed(question)
    found = _inputs(question, question.spec)
    if found.sizes is not None and not found.sizes.joint and question.input_unknowns:
        # no size at all: the spec's own fault (the same whatever the sizes) is its error
        least = [(u, least_value(u)) for u in question.input_unknowns]
        error = spec_fault(question.doc, (least, [other_value(u, v) for u, v in least]))
        if error is not None:
            raise error
    return found


def _inputs(question: Question, spec: Spec) -> InputAnswer:
    budget = Budget(STEPS, WHAT)
    if question.refused:
        return InputAnswer(question, None, (), 0, spec)
    sizes = solve_input(spec, rebuild=question.rebuild, budget=budget)
    boxes = []
    for box in sizes.joint.boxes:
        cut = [dim.cut(s, budget) for dim, s in zip(question.dims, box, strict=True)]
        if all(c for c in cut):
            boxes.append(tuple(c for c in cut if c is not None))
    if any(not all(s.is_finite for s in box) for box in boxes):
        count = None
    else:
        count = sum(math.prod(size_count(s) for s in box) for box in boxes)
    return InputAnswer(question, sizes, tuple(boxes), count, spec)


def _mixed(question: Question) -> MixedAnswer:
    """Each setting of the layer unknowns (their written ranges, or for "?" the default range
    at the layer's input, :func:`_candidates`), its network's accepted sizes in closed form;
    with a target, only those whose output is it (a concat added at the end, of the identity
    and a pool to the target: a concat's sizes must be equal, with no broadcast)."""
    from convcalc.spec.validate import validate

    doc = question.doc
    unknowns = question.layer_unknowns
    choices = [_candidates(question, u) for u in unknowns]
    total = math.prod(len(c) for c in choices)
    if total > SETTINGS:
        raise WorkLimit(
            f"{total:,} settings of the layer unknowns, each solved for the input sizes, more "
            f"than {SETTINGS:,}: narrow their ranges"
        )
    tried = {
        u.label: str(u.values) if u.values is not None else _span(c)
        for u, c in zip(unknowns, choices, strict=True)
    }
    data = doc.data
    extra = None
    if question.target.spatial is not None:
        pooled = {"type": "adaptive_avgpool", "output_size": list(question.target.spatial)}
        extra = {"type": "concat", "branches": [[], [pooled]]}  # equal sizes, no broadcast
        data["layers"] = [*data["layers"], extra]
    settings = []
    try:
        for values in itertools.product(*choices):
            for u, v in zip(unknowns, values, strict=True):
                write_value(data, u, v)
            try:
                spec = validate(doc, share=False)
            except Exception:  # a value the field refuses (a padding past the kernel)
                continue
            spec = replace(spec, input=question.spec.input)
            if question.declared is not None:
                built = Built(question.declared)
                if (
                    output_shapes(spec.layers, built.sides(question.declared), check=built.check)
                    is None
                ):
                    continue  # this setting's network does not exist at the declared input
            try:
                found = _inputs(question, spec)
            except NotSolvable:
                raise
            if found.boxes:
                settings.append(Setting(values, found))
    finally:
        if extra is not None:
            data["layers"] = data["layers"][:-1]
    return MixedAnswer(question, tuple(settings), tried)


def _span(values: list[int]) -> str:
    return f"{values[0]}..{values[-1]}" if values else "none"


def _candidates(question: Question, u: Unknown) -> list[int]:
    """The values a layer unknown takes: its written range, or for "?" the README's default
    range at the input of the top-level layer holding it, computed with each asked size at
    its largest; a dimension asked as "?" has none, so it bounds a kernel or dilation not at
    all (they must fit the other dimensions) and leaves a stride, a padding or an
    output_padding without a range: then one must be written."""
    if u.values is not None:
        if u.values.size > SETTINGS:
            raise WorkLimit(f"{u.label}: {u.values.size:,} values: narrow the range")
        return list(u.values)
    spec = question.spec
    top = u.top
    assert top is not None
    layer = layer_at(spec, u.keys)
    mine = [w for w in question.layer_unknowns if w.keys == u.keys]

    def at(probe: int) -> Range | None:
        shape = (
            question.channels,
            *(
                d.fixed if d.fixed is not None else d.values.hi if d.values is not None else probe
                for d in question.dims
            ),
        )
        out = output_shapes(spec.layers[:top], (shape,))
        if out is None:
            return None
        return candidate_range(layer, mine, u, out[0])

    small, large, larger = at(0), at(2**20), at(2**21)
    chosen = large if large is not None and large == larger else None
    if chosen is None and u.field in ("kernel_size", "dilation") and small and small.intervals:
        chosen = small
    if chosen is None:
        free = ", ".join(d.label for d in question.dims if not d.bounded)
        raise RangeError(
            f'{u.label}: "?" takes its range from the layer\'s input, which has no largest '
            f'size where the input is "?" ({free}): write a range such as "1..7"'
        )
    if chosen.size > SETTINGS:
        raise WorkLimit(f"{u.label}: {chosen.size:,} values: narrow the range")
    return list(chosen)


# --- the conditions shown ------------------------------------------------------------------


def binding(limits: tuple[Limit, ...]) -> list[Limit]:
    """The conditions without which the answer would be larger: for one dimension, those the
    intersection of the others does not already imply; every condition joining dimensions,
    and every refusal; never a join that holds always."""
    kept = []
    by_dim: dict[str, list[Limit]] = {}
    for limit in limits:
        if len(limit.dims) == 1 and not limit.always:
            by_dim.setdefault(limit.dims[0], []).append(limit)
    for limit in limits:
        if limit.always:  # holds whatever the sizes: binds nothing
            continue
        if len(limit.dims) != 1:
            kept.append(limit)
            continue
        others = SizeSet.at_least(1)
        for other in by_dim[limit.dims[0]]:
            if other is not limit:
                others = others & other.sizes
        if not others.issubset(limit.sizes):
            kept.append(limit)
    return kept
