"""The walk over a spec for the input-size solver: each size of each shape inside the network
as a :class:`~convcalc.solve.terms.Term` of the input's sizes, from the input to the output.

A leaf's sizes go through its :class:`~convcalc.records.Step`'s size rules (each rule's
:class:`~convcalc.solve.sizes.SizeMap`, read at a large probe size), the sizes it refuses read
from its own ``forward`` below the bound past which it refuses none; a layer that moves values
(a permute, a window partition, a flatten) says how by its :class:`~convcalc.records.Layout`.
A join's paths must agree (a residual's body and shortcut, a concat's branches), a scale's gate
be the input's size or 1. Each condition restricts one dimension's :class:`SizeSet`, or, where
dimensions meet in a product, is kept as a :class:`~convcalc.solve.conditions.Meet`; every
condition that removes sizes is recorded as a :class:`~convcalc.solve.conditions.Limit`.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from convcalc.arith import Refusal
from convcalc.budget import Budget, WorkLimit
from convcalc.expr import lift
from convcalc.solve.conditions import Limit, Meet, Pending, Side
from convcalc.solve.sizes import SizeMap, SizeSet, rule_map
from convcalc.solve.terms import NotSolvable, Term

if TYPE_CHECKING:
    from convcalc.layers.base import Layer
    from convcalc.layers.blocks import Block, Path
    from convcalc.records import Layout, Shape

__all__ = ["JOINS", "PROBE", "Empty", "Terms", "Walk"]

PROBE = 2**20 * 3**2 * 5 * 7 * 11 * 13  # a size past any kernel that most windows divide
JOINS = ("sequential", "repeat", "residual", "concat", "split", "scale", "graph")
Terms = tuple[Term, ...]
EVERY = SizeSet.at_least(1)
UNSIZED = frozenset({"name", "functional", "trainable"})  # fields no size depends on


@dataclass
class _List:
    items: list[Any]
    label: str
    terms: Terms
    next: int = 0


@dataclass
class _Join:
    block: Block
    label: str
    terms: Terms
    paths: list[Path]
    results: list[tuple[Path, Terms]] = field(default_factory=list)


class Empty(Exception):
    """No size is accepted: a layer or join refuses whatever the size."""


class Walk:
    """The walk's state: the sizes each dimension still accepts, the conditions joining
    dimensions, and every condition met so far."""

    def __init__(
        self, budget: Budget, names: tuple[str, ...], declared: dict[int, int], rebuild: bool
    ) -> None:
        self.budget = budget
        self.names = names
        self.declared = declared
        self.rebuild = rebuild
        self.sep = {d: SizeSet.at_least(1) for d in declared}
        self.meets: list[Meet] = []
        self.pending: list[Pending] = []
        self.limits: list[Limit] = []
        self.memo: dict[tuple[Hashable, Shape], Any] = {}
        self.contents: dict[int, Hashable] = {}
        self.valids: dict[Hashable, tuple[SizeSet, str]] = {}

    # -- the walk

    def walk(self, layers: list[Any], start: Terms) -> Terms:
        from convcalc.layers.blocks import Block

        stack: list[_List | _Join] = [_List(layers, "layers", start)]
        out = start
        while stack:
            frame = stack[-1]
            if isinstance(frame, _Join):
                if len(frame.results) < len(frame.paths):
                    path = frame.paths[len(frame.results)]
                    terms = self.path_terms(frame, path)
                    stack.append(_List(path.layers, f"{frame.label}.{path.label}", terms))
                    continue
                stack.pop()
                merged = self.join(frame)
                parent = stack[-1]
                assert isinstance(parent, _List)
                parent.terms, parent.next = merged, parent.next + 1
                continue
            if frame.next == len(frame.items):
                stack.pop()
                if stack:
                    owner = stack[-1]
                    assert isinstance(owner, _Join)
                    owner.results.append((owner.paths[len(owner.results)], frame.terms))
                else:
                    out = frame.terms
                continue
            layer = frame.items[frame.next]
            label = f"{frame.label}[{frame.next}]"
            self.budget.spend()
            if isinstance(layer, Block):
                if layer.type not in JOINS:
                    raise NotSolvable(f"{label} ({layer.type}): its join has no rule here yet")
                stack.append(_Join(layer, label, frame.terms, layer.paths()))
                continue
            try:
                frame.terms = self.leaf(layer, label, frame.terms)
            except WorkLimit as exc:
                raise WorkLimit(f"{label} ({layer.type}): {exc}") from None
            except NotSolvable as exc:
                if str(exc).startswith(label):
                    raise
                raise NotSolvable(f"{label} ({layer.type}): {exc}") from None
            frame.next += 1
        return out

    # -- conditions

    def expr_side(self, label: str, term: Term, accepts: SizeSet | None = None) -> Side:
        return Side(label, term.text(self.names), term.expr(self.names, self.declared), accepts)

    def restrict(
        self,
        dim: int,
        sizes: SizeSet,
        where: tuple[str, str],
        sides: Callable[[], tuple[Side, ...]],
        relation: str,
        note: str = "",
        join: bool = False,
    ) -> None:
        """Keep only the sizes ``sizes`` of input dimension ``dim``, recording the condition
        where it removes any; a ``join``'s that removes none, as holding always (every size
        the conditions before it leave meets it)."""
        if self.sep[dim].issubset(sizes):
            if join:
                name = self.names[dim - 1]
                why = f"every {name} the conditions before it leave meets it"
                if self.sep[dim] == EVERY:
                    why = f"it holds for every {name}"
                self.limits.append(
                    Limit(where[0], where[1], EVERY, note, (name,), sides(), relation, always=why)
                )
            return
        self.sep[dim] = self.sep[dim] & sizes
        name = self.names[dim - 1]
        self.limits.append(Limit(where[0], where[1], sizes, note, (name,), sides(), relation))
        if not self.sep[dim]:
            raise Empty

    def refuse(self, where: tuple[str, str], note: str) -> None:
        self.limits.append(Limit(where[0], where[1], SizeSet.empty(), note, (), (), "valid"))
        raise Empty

    def equal(
        self,
        term: Term,
        values: SizeSet,
        where: tuple[str, str],
        sides: Callable[[], tuple[Side, ...]],
        relation: str,
        note: str = "",
        join: bool = False,
    ) -> Term:
        """The condition ``term ∈ values``: on one dimension its preimage (a ``join``'s kept
        where it removes no size, :meth:`restrict`); on a product, a :class:`Meet` (``values``
        finite); the term after it (one value: that constant)."""
        value = term.value
        if value is not None:
            if value not in values:
                self.refuse(where, note or f"{value} is not in {values.describe('m')}")
            return term
        if len(term.maps) == 1:
            d, f = term.maps[0]
            self.restrict(d, f.preimage(values, self.budget), where, sides, relation, note, join)
        else:
            if not values.is_finite:
                if values == SizeSet.at_least(1):
                    return term
                message = (
                    f"the condition {term.text(self.names)} ∈ {values.describe('m')} joins "
                    "the dimensions in no finite union of boxes"
                )
                self.defer(Pending(term, None, values, relation, *where, sides(), note, message))
                return term
            products = sorted(
                (v - term.offset) // term.scale
                for v in values.below
                if (v - term.offset) % term.scale == 0 and (v - term.offset) // term.scale >= 1
            )
            self.budget.spend(len(products) + 1)
            shown = sides()
            meet = Meet(term.maps, tuple(products), where[0], where[1], shown, note)
            self.meets.append(meet)
            dims = tuple(self.names[d - 1] for d in term.dims)
            limit = Limit(where[0], where[1], SizeSet.empty(), note, dims, shown, relation)
            self.limits.append(limit)
            if not products:
                raise Empty
        only = values.below[0] if values.is_finite and len(values.below) == 1 else None
        return Term.const(only) if only is not None else term

    # -- leaves

    def leaf(self, layer: Layer, label: str, terms: Terms) -> Terms:
        """A leaf's output sizes: constants through its ``forward``, the others through its
        layout (a layer that moves values) or its size rules."""
        where = (label, layer.type)
        shape = self.probe(terms)
        if not self.rebuild:
            built = self.built(layer, where, terms, shape)
            if built != terms:
                terms, shape = built, self.probe(built)
        if layer.written_sizes():
            terms = self.written(layer, where, terms, shape)
            shape = self.probe(terms)
            try:
                layer.check_written(shape)
            except Refusal as exc:
                self.refuse(where, exc.message)
        if all(not t.maps for t in terms):
            try:
                out = layer.forward(shape).output
            except Refusal as exc:
                self.refuse(where, exc.message)
            return tuple(Term.const(n) for n in out)
        try:
            layout = layer.layout(shape)
        except Refusal as exc:
            self.refuse(where, exc.message)
        if layout is not None:
            return self.arrange(layout, where, terms)
        return self.ruled(layer, where, terms, shape)

    def probe(self, terms: Terms, scale: int = 1) -> Shape:
        """A concrete shape: constants as they are, each size still depending on the input
        a distinct large size (past every kernel, divisible by most windows)."""
        return tuple(PROBE * scale * (i + 1) if t.maps else t.offset for i, t in enumerate(terms))

    def built(self, layer: Layer, where: tuple[str, str], terms: Terms, marked: Shape) -> Terms:
        """The sizes the declared input built the layer with (``built_sizes``, read at the
        probe ``marked``): a size still depending on the input must be the one it has at the
        declared input."""
        try:
            read = layer.built_sizes(marked)
        except Refusal:
            return terms
        out = list(terms)
        for field_name, value in read:
            for i, t in enumerate(out):
                if t.value is None and marked[i] == value:
                    want = t.at(self.declared)

                    def side(
                        t: Term = t, want: int = want, name: str = field_name
                    ) -> tuple[Side, ...]:
                        return (Side(name, f"{want:,}", lift(want)), self.expr_side("input", t))

                    note = (
                        f"the declared input builds its {field_name} {want:,}; the input gives "
                        f"{t.text(self.names)}"
                    )
                    out[i] = self.equal(t, SizeSet.finite([want]), where, side, "equal", note)
        return tuple(out)

    def written(self, layer: Layer, where: tuple[str, str], terms: Terms, marked: Shape) -> Terms:
        """The sizes the spec writes for the layer (a conv's ``in_channels: 3``): a size
        still depending on the input that the layer reads there (``built_sizes`` at the probe
        ``marked``) must be the one written."""
        try:
            read = dict(layer.built_sizes(marked))
        except Refusal:
            return terms
        out = list(terms)
        for field_name, want in layer.written_sizes():
            for i, t in enumerate(out):
                if field_name in read and t.value is None and marked[i] == read[field_name]:

                    def side(
                        t: Term = t, want: int = want, name: str = field_name
                    ) -> tuple[Side, ...]:
                        return (Side(name, f"{want:,}", lift(want)), self.expr_side("input", t))

                    note = f"{field_name} is written {want:,}; the input gives {t.text(self.names)}"
                    out[i] = self.equal(t, SizeSet.finite([want]), where, side, "equal", note)
        return tuple(out)

    def arrange(self, layout: Layout, where: tuple[str, str], terms: Terms) -> Terms:
        """A layer that moves values: divided sizes, then each output size the product of
        its sources (or the layer's own), and a kept count where the layer keeps it."""
        inputs = list(terms)
        for i, p in enumerate(layout.divisors):
            if p == 1:
                continue
            t = inputs[i]
            multiples = SizeSet.progression(0, p, p)

            def side(t: Term = t, multiples: SizeSet = multiples) -> tuple[Side, ...]:
                return (self.expr_side("input", t, multiples),)

            note = f"{p} must divide the size"
            inputs[i] = self.equal(t, multiples, where, side, "valid", note)
            inputs[i] = inputs[i].then(SizeMap(p, 1, (0,) * p), self.budget)
        out: list[Term] = []
        for j, sources in enumerate(layout.sources):
            if not sources:
                size = layout.sizes[j]
                assert size is not None
                out.append(Term.const(size))
                continue
            term = Term.const(1)
            for i in sources:
                term = term.times(inputs[i])
            out.append(term)
        if layout.same_count:
            held = Term.const(1)
            for t in terms:
                held = held.times(t)
            given = Term.const(1)
            for t in out:
                given = given.times(t)
            if given != held:
                count = given.value
                if count is None:
                    raise NotSolvable("keeps a count of values that depends on the input")

                def sides(held: Term = held, count: int = count) -> tuple[Side, ...]:
                    return (
                        Side("output", f"{count:,}", lift(count)),
                        self.expr_side("input", held),
                    )

                note = f"the output holds {count:,} values; the input {held.text(self.names)}"
                self.equal(held, SizeSet.finite([count]), where, sides, "equal", note)
        return tuple(out)

    def ruled(self, layer: Layer, where: tuple[str, str], terms: Terms, shape: Shape) -> Terms:
        """A layer whose output size i is its input's i through the step's size rule: each
        size depending on the input composed with the rule's map, the sizes the layer takes
        there pulled back. What the layer does at the probe ``shape`` is read once per layer
        (equal layers alike) and probe."""
        key = (self.content(layer), shape)
        found = self.memo.get(key)
        if found is None:
            found = self.memo[key] = self.read(layer, where, terms)
        rules, out_probe = found
        out = []
        for i, t in enumerate(terms):
            if not t.maps:
                out.append(Term.const(out_probe[i]))
                continue
            g, valid, refusal = rules[i]

            def side(t: Term = t, valid: SizeSet = valid) -> tuple[Side, ...]:
                return (self.expr_side("input", t, valid),)

            if valid != EVERY:
                t = self.equal(t, valid, where, side, "valid", refusal)
            out.append(t.then(g, self.budget) if g is not None else t)
        return tuple(out)

    def content(self, layer: Layer) -> Hashable:
        """What a layer's sizes depend on: its class and fields but its name (two layers equal
        there answer alike), or the layer itself where a field holds no hashable value."""
        key = self.contents.get(id(layer))
        if key is None:
            fields = tuple(kv for kv in layer.__dict__.items() if kv[0] not in UNSIZED)
            key = (type(layer), fields)
            try:
                hash(key)
            except TypeError:
                key = (type(layer), id(layer))
            self.contents[id(layer)] = key
        return key

    def read(
        self, layer: Layer, where: tuple[str, str], terms: Terms
    ) -> tuple[dict[int, tuple[SizeMap | None, SizeSet, str]], Shape]:
        """The layer's map along each size depending on the input and the sizes m it takes
        there (the others at the probe): from its rule at the probe, its refusals from
        ``forward`` below the rule's bound (and over one period past it)."""
        from convcalc.layers.registry import KINDS

        shape = self.probe(terms)
        step = None
        for scale in (1, 2**10):
            try:
                shape = self.probe(terms, scale)
                step = layer.forward(shape)
                break
            except Refusal as exc:
                message = exc.message
        if step is None:
            self.refuse(where, message)
            raise Empty
        if len(step.output) != len(shape):
            raise NotSolvable(
                "changes the number of dimensions of a shape whose sizes depend on the input"
            )
        rules: dict[int, tuple[SizeMap | None, SizeSet, str]] = {}
        for i, t in enumerate(terms):
            if t.value is not None:
                continue
            index = i - (len(shape) - len(step.rules))
            if 0 <= index < len(step.rules):
                applied = step.rules[index]
                g, bound = rule_map(applied.rule, applied.args, self.budget)
                ints = [abs(a) for a in applied.args[1:] if isinstance(a, int)]
                bound = max(bound, 2 * max(ints, default=0) + 2)
            elif step.output[i] == shape[i]:
                rules[i] = (None, SizeSet.at_least(1), "")
                continue
            else:
                other = self._output(layer, terms, i)
                if other is None or other != step.output[i]:
                    raise NotSolvable(f"has no size rule along dimension {i} of its input")
                g, bound = SizeMap.constant(step.output[i]), 1
            apart = KINDS[layer.type].dims_apart  # its sizes along i: the same whatever else
            key = (self.content(layer), len(shape), i, g)
            taken = self.valids.get(key) if apart else None
            if taken is None:
                self.budget.spend(bound + g.period)
                taken = self._valid(layer, shape, i, g, bound)
                if apart:
                    self.valids[key] = taken
            rules[i] = (g, *taken)
        if not KINDS[layer.type].dims_apart and sum(t.value is None for t in terms) > 1:
            corner = list(shape)
            for i, (_, valid, _) in rules.items():
                corner[i] = valid.smallest() or 1
            try:
                layer.forward(tuple(corner))
            except Refusal:
                raise NotSolvable(
                    "its condition on the sizes joins the dimensions (it refuses their "
                    "smallest sizes together)"
                ) from None
        return rules, step.output

    def _output(self, layer: Layer, terms: Terms, i: int) -> int | None:
        try:
            return layer.forward(self.probe(terms, 3)).output[i]
        except Refusal:
            return None

    def _valid(
        self, layer: Layer, shape: Shape, i: int, g: SizeMap, bound: int
    ) -> tuple[SizeSet, str]:
        """The sizes m the layer takes at place i, and its refusal of the largest it refuses
        below the bound (in its own words)."""
        refused = [""]

        def member(m: int) -> bool:
            try:
                got = layer.forward((*shape[:i], m, *shape[i + 1 :])).output[i]
            except Refusal as exc:
                refused[0] = exc.message
                return False
            if got != g(m):  # the rule's closed form disagrees with the layer: a bug
                raise AssertionError(f"{layer.type}: size {m} gives {got}, the map {g(m)}")
            return True

        return SizeSet.build(member, bound, g.period, self.budget), refused[0]

    # -- joins

    def path_terms(self, join: _Join, path: Path) -> Terms:
        """What a path of a block is given: the block's input (a split's slice of channels), or
        the output of the earlier path it reads (a graph's)."""
        source = join.block.reads(len(join.results))
        if source is not None:
            return join.results[source][1]
        terms = join.terms
        try:
            shape = join.block.path_input(self.probe(terms), path.keys)
        except Refusal as exc:
            self.refuse((join.label, join.block.type), exc.message)
        if len(shape) != len(terms):
            raise NotSolvable(f"{join.label} ({join.block.type}): its paths change the rank")
        return tuple(
            t if t.value is None else Term.const(n) for t, n in zip(terms, shape, strict=True)
        )

    def join(self, join: _Join) -> Terms:
        """The block's output: its paths' sizes must agree (a concat's branches), or broadcast
        (a residual's body and shortcut, a graph's element-wise join: equal, or one of them 1),
        or a scale's gate be the input's size or 1; the block's own merge checks the constant
        sizes."""
        block, results, where = join.block, join.results, (join.label, join.block.type)
        if block.type in ("sequential", "repeat"):
            return results[-1][1] if results else join.terms
        if block.type == "scale":
            (path, gate), kept = results[0], list(join.terms)
            for i, (t, g) in enumerate(zip(join.terms, gate, strict=False)):
                if t == g or g.value == 1 or (t.value is not None and g.value is not None):
                    if t.value is None:
                        why = self.same(t) if t == g else "the gate's is 1"
                        self.always(t, g, where, ("input", "gate"), i, why, "gate")
                    continue
                self.agree(t, g, where, ("input", "gate"), gate_one=True, dim=i)
                if g.value is not None:  # the input's size is the gate's from here on
                    kept[i] = g
            terms = tuple(kept)
            base = self.probe(terms)
            sizes = tuple(
                g.value if g.value is not None else base[i] if i < len(base) else 0
                for i, g in enumerate(gate)
            )
            return self.merged(join, [(path, sizes)], terms, base)
        chosen = results
        if block.type == "graph":
            picked = block.joined()
            chosen = results if picked is None else [results[i] for i in picked]
        # element-wise joins broadcast (Block.broadcast): a graph's but concat, a residual's
        broadcast = block.type in ("graph", "residual") and getattr(block, "join", "") != "concat"
        stacked = block.type in ("concat", "split", "graph") and not broadcast  # C summed
        same = list(chosen[0][1]) if chosen else list(join.terms)
        if chosen:
            first_path, first = chosen[0]
            first_label = block.list_name(first_path.keys)
        for path, other in chosen[1:]:
            if len(other) != len(first):
                break  # the merge refuses it
            labels = (first_label, block.list_name(path.keys))
            for i, (a, b) in enumerate(zip(first, other, strict=True)):
                if broadcast:
                    same[i] = self.broadcast(same[i], b, where, labels, i)
                    continue
                if a == b or (a.value is not None and b.value is not None):
                    if a == b and a.value is None:
                        why = self.same(a)
                        self.always(a, b, where, labels, i, why, "equal")
                    continue
                if i == 0 and stacked:
                    raise NotSolvable(f"{join.label}: joins channels depending on the input")
                self.agree(a, b, where, labels, dim=i)
        if not broadcast:  # a size some path has constant is that constant on every path
            for _, out in chosen:
                for i, t in enumerate(out[: len(same)]):
                    if t.value is not None and same[i].value is None and i > 0:
                        same[i] = t
        # the merge sees each path's constants as they are (two that differ are refused there)
        # and every size depending on the input at one probe, the constant it agreed with
        base = self.probe(tuple(same))
        outputs = [
            (
                p,
                tuple(
                    t.value if t.value is not None else base[i] if i < len(base) else 0
                    for i, t in enumerate(out)
                ),
            )
            for p, out in results
        ]
        return self.merged(join, outputs, tuple(same))

    def broadcast(
        self, a: Term, b: Term, where: tuple[str, str], labels: tuple[str, str], dim: int
    ) -> Term:
        """One size of an element-wise join that broadcasts (a residual's, a graph's add): the
        two equal, or one of them 1 (the output the other). Beside a fixed c ≠ 1, a size
        depending on the input must be c or 1, and the output is c. Two sizes f, g of one
        dimension: f = g, or f = 1, or g = 1; the output is g where f = 1, f where g = 1, one
        term as long as only one of them is 1 where they differ (else :class:`NotSolvable`).
        Sizes of different dimensions (H = f(W)): where the first path's f is never 1
        (:meth:`may_be_one`), f = g or g = 1, output f, kept pending as a join of the
        dimensions (:meth:`agree`); where f may be 1, :class:`NotSolvable`."""
        if a == b or b.value == 1 or a.value == 1:
            if a.value is None or b.value is None:
                why = self.same(a) if a == b else "one of them is 1"
                self.always(a, b, where, labels, dim, why, "equal")
            return b if a.value == 1 and a != b else a
        if a.value is not None and b.value is not None:
            return a  # the merge refuses two fixed sizes that differ, neither 1

        def sides() -> tuple[Side, ...]:
            return (self.expr_side(labels[0], a), self.expr_side(labels[1], b))

        note = f"{labels[0]} and {labels[1]} must agree along dimension {dim}, or one be 1"
        if a.value is not None or b.value is not None:
            const, other = (a, b) if a.value is not None else (b, a)
            assert const.value is not None
            self.equal(other, SizeSet.finite([const.value, 1]), where, sides, "equal", note, True)
            return const
        if not (len(a.maps) == 1 and len(b.maps) == 1 and a.dims == b.dims):
            if self.may_be_one(a):
                # NotSolvable: dimensions joined, and a = b would drop the sizes where a is 1
                # (the output b's there: a term of other dimensions than the first path's)
                self.agree(a, b, where, labels, dim=dim, defer=False)
            b_one = self.may_be_one(b)  # a = b, or b = 1: the output is a's either way
            self.agree(a, b, where, labels, b_one, dim, note=note, spread=b_one)
            return a
        (d, f), (_, g) = a.maps[0], b.maps[0]
        one, held = SizeSet.finite([1]), self.sep[d]
        equal = f.agree(g, self.budget)
        f_one = (f.preimage(one, self.budget) - equal) & held  # the output g there
        g_one = (g.preimage(one, self.budget) - equal) & held  # the output f there
        if f_one and g_one:
            raise NotSolvable(
                f"{labels[0]} {a.text(self.names)} is 1 where {labels[1]} "
                f"{b.text(self.names)} is not, and the other way round: the broadcast output "
                "is now one, now the other"
            )
        self.restrict(d, equal | f_one | g_one, where, sides, "equal", note, True)
        return b if f_one else a

    def may_be_one(self, term: Term) -> bool:
        """Whether a size depending on the input may be 1 at the sizes held so far: f(n) = 1
        for some held n (a term of several dimensions: assumed so)."""
        if len(term.maps) != 1:
            return True
        d, f = term.maps[0]
        return bool(f.preimage(SizeSet.finite([1]), self.budget) & self.sep[d])

    def merged(
        self,
        join: _Join,
        outputs: list[tuple[Path, Shape]],
        terms: Terms,
        given: Shape | None = None,
    ) -> Terms:
        """The block's own merge of the paths' outputs at the probe (the block given ``given``,
        by default its input at the probe): the constants it refuses, and the output terms."""
        try:
            out = join.block.merge(given or self.probe(join.terms), outputs)
        except Refusal as exc:
            self.refuse((join.label, join.block.type), exc.message)
        if len(out) != len(terms):
            raise NotSolvable(f"{join.label} ({join.block.type}): changes the rank")
        return tuple(
            t if t.value is None else Term.const(n) for t, n in zip(terms, out, strict=True)
        )

    def same(self, term: Term) -> str:
        """Why two equal sizes always agree: ``the same function of H``."""
        return f"the same function of {', '.join(self.names[d - 1] for d in term.dims)}"

    def always(
        self,
        a: Term,
        b: Term,
        where: tuple[str, str],
        labels: tuple[str, str],
        dim: int,
        why: str,
        relation: str,
    ) -> None:
        """Record a join's condition that holds whatever the input's sizes (two paths whose
        sizes are the same function of them, a gate's size 1), with ``why``, so that the
        explanation accounts for every join; its sets are every size."""
        names = tuple(self.names[d - 1] for d in sorted({*a.dims, *b.dims}))
        sides = (self.expr_side(labels[0], a), self.expr_side(labels[1], b))
        note = f"{labels[0]} and {labels[1]} must agree along dimension {dim}"
        if relation == "gate":
            note = "the gate must be the input's size or 1"
        boxes = None if len(names) == 1 else ((EVERY,) * len(names),)
        self.limits.append(
            Limit(where[0], where[1], EVERY, note, names, sides, relation, boxes, why)
        )

    def agree(
        self,
        a: Term,
        b: Term,
        where: tuple[str, str],
        labels: tuple[str, str],
        gate_one: bool = False,
        dim: int = 0,
        defer: bool = True,
        note: str = "",
        spread: bool = False,
    ) -> None:
        """The condition a = b (or b = 1, for a gate or a broadcast) on two sizes of the same
        place; one joining dimensions in no box by itself is kept pending (:meth:`defer`)
        unless not ``defer``. ``note`` says what the condition is (by default, by the labels);
        ``spread``: a broadcast, named as such where it stays unsolved."""

        def sides() -> tuple[Side, ...]:
            return (self.expr_side(labels[0], a), self.expr_side(labels[1], b))

        note = note or f"{labels[0]} and {labels[1]} must agree along dimension {dim}"
        if gate_one and labels[1] == "gate":
            note = "the gate must be the input's size or 1"
        relation = "gate" if gate_one else "equal"
        if a.value is not None or b.value is not None:
            const, other = (a, b) if a.value is not None else (b, a)
            assert const.value is not None
            allowed = {const.value, 1} if gate_one and other is b else {const.value}
            self.equal(other, SizeSet.finite(allowed), where, sides, relation, note, True)
            return
        if len(a.maps) == 1 and len(b.maps) == 1 and a.dims == b.dims:
            d, f = a.maps[0]
            _, g = b.maps[0]
            sizes = f.agree(g, self.budget)
            if gate_one:
                sizes = sizes | g.agree(SizeMap.constant(1), self.budget)
            self.restrict(d, sizes, where, sides, relation, note, True)
            return
        message = (
            f"{where[0]} ({where[1]}): {labels[0]} {a.text(self.names)} and {labels[1]} "
            f"{b.text(self.names)} must agree, a condition joining the dimensions in no box"
        )
        if not defer or spread:  # a broadcast: a side may also be 1, in another dimension
            message += " (a broadcast across the dimensions, unsolved)"
        if not defer:
            raise NotSolvable(message)
        self.defer(Pending(a, b, None, relation, *where, sides(), note, message))

    def defer(self, pending: Pending) -> None:
        """Keep a condition joining dimensions that is no finite union of boxes by itself
        until the others have made it one (:func:`~convcalc.solve.joint.settle`), recorded
        as a :class:`Limit` over its dimensions that tests each tuple with it."""
        self.pending.append(pending)
        dims = tuple(self.names[d - 1] for d in pending.dims)

        def check(sizes: tuple[int, ...], at: tuple[int, ...] = pending.dims) -> bool:
            return pending.holds(dict(zip(at, sizes, strict=True)))

        self.limits.append(
            Limit(
                pending.path,
                pending.type,
                SizeSet.empty(),
                pending.note,
                dims,
                pending.sides,
                pending.relation,
                check=check,
            )
        )
