"""Which input sizes a network accepts, exactly and in closed form: :func:`solve_input`.

Along one spatial dimension every size rule is, on each residue class of its input modulo a
period, affine; such maps compose, and the sizes a layer accepts are all those from a bound on,
with finitely many below. So the sizes for which every layer is valid and every join agrees are
*eventually periodic*: finitely many members below a threshold, then residue classes modulo a
period. Where dimensions meet (a flatten into a linear, tokens into a position embedding) the
tuples accepted are a finite union of boxes. The work grows with the number of layers, the
strides' product and the kernels, never with the sizes asked about.

The parts, bottom to top:

- :mod:`convcalc.solve.sizes`: the sets (:class:`SizeSet`) and the maps (:class:`SizeMap`,
  :func:`rule_map`), pure arithmetic;
- :mod:`convcalc.solve.terms`: a size inside the network as a function of the input's sizes;
- :mod:`convcalc.solve.conditions`: the conditions as data (:class:`Limit`, :class:`Side`,
  :class:`Meet`);
- :mod:`convcalc.solve.joint`: the union of boxes (:class:`Joint`);
- :mod:`convcalc.solve.walk`: the walk over the spec, leaf by leaf and join by join;
- this module: the answer (:class:`InputSizes`, :class:`Accepted`) and its entry points.

Exactness: sizes are unbounded integers here, while PyTorch stores them in 64 bits, and an
upsampling factor is the binary fraction its double holds (0.5, 1.5, 2): the answer is exact
for every size whose products stay below 2^53.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from convcalc.budget import Budget
from convcalc.solve.conditions import Limit as Limit
from convcalc.solve.conditions import Meet as Meet
from convcalc.solve.conditions import Pending as Pending
from convcalc.solve.conditions import Side as Side
from convcalc.solve.joint import BOXES_SHOWN as BOXES_SHOWN
from convcalc.solve.joint import Joint as Joint
from convcalc.solve.joint import Sizes as Sizes
from convcalc.solve.joint import joint_boxes, meet_boxes, settle
from convcalc.solve.sizes import SHAPES as SHAPES
from convcalc.solve.sizes import SizeMap as SizeMap
from convcalc.solve.sizes import SizeSet as SizeSet
from convcalc.solve.sizes import rule_map as rule_map
from convcalc.solve.terms import NotSolvable as NotSolvable
from convcalc.solve.terms import Term as Term
from convcalc.solve.terms import map_expr as map_expr
from convcalc.solve.terms import map_text as map_text
from convcalc.solve.walk import JOINS as JOINS
from convcalc.solve.walk import PROBE as PROBE
from convcalc.solve.walk import Empty, Walk
from convcalc.solve.walk import Terms as Terms

if TYPE_CHECKING:
    from convcalc.spec.validate import Spec

__all__ = [
    "Accepted",
    "InputSizes",
    "Joint",
    "Limit",
    "NotSolvable",
    "Side",
    "SizeMap",
    "SizeSet",
    "accepted_sizes",
    "solve_input",
]


@dataclass(frozen=True)
class Accepted:
    """The input sizes of one dimension a network accepts (the others at their declared
    sizes), and the conditions that make it."""

    dim: int
    name: str
    sizes: SizeSet
    limits: tuple[Limit, ...] = ()

    def describe(self) -> str:
        return self.sizes.describe(self.name)


@dataclass(frozen=True)
class InputSizes:
    """Every input size a spec's network accepts, by :func:`solve_input`.

    ``per_dim``: for each spatial dimension its :class:`Accepted` (the others at their
    declared sizes); ``joint``: the tuples of spatial sizes (:class:`Joint`), the product of
    the per-dimension sets where ``separable``; ``limits``: every condition, in the order the
    network meets them; ``rebuild``: the layers rebuilt for each input size (a linear's
    in_features follows it) rather than the network the declared input builds."""

    name: str
    input: Sizes
    names: tuple[str, ...]
    per_dim: tuple[Accepted, ...]
    joint: Joint
    limits: tuple[Limit, ...]
    rebuild: bool = False

    @property
    def separable(self) -> bool:
        return self.joint.separable

    @property
    def declared(self) -> Sizes:
        """The declared input's spatial sizes."""
        return tuple(self.input[1:]) if len(self.input) > 1 else ()

    def __contains__(self, sizes: object) -> bool:
        return sizes in self.joint

    def nearest(self, sizes: Sizes | int) -> tuple[Sizes | None, Sizes | None]:
        """The accepted tuples nearest below and above ``sizes`` (:meth:`Joint.nearest`); an
        integer stands for that size in every dimension."""
        if isinstance(sizes, int):
            sizes = (sizes,) * len(self.names)
        return self.joint.nearest(sizes)

    def describe(self) -> str:
        """The joint set, then each dimension's set with the others declared."""
        lines = [f"{self.name}: {self.joint.describe()}"]
        if not self.joint.separable:
            for accepted in self.per_dim:
                others = ", ".join(
                    f"{m} = {v}"
                    for m, v in zip(self.names, self.declared, strict=True)
                    if m != accepted.name
                )
                lines.append(f"  with {others}: {accepted.describe()}")
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "input": list(self.input),
            "rebuild": self.rebuild,
            "separable": self.separable,
            "joint": self.joint.to_dict(),
            "per_dim": {a.name: a.describe() for a in self.per_dim},
            "limits": [_limit_dict(limit) for limit in self.limits],
        }


def _limit_dict(limit: Limit) -> dict[str, Any]:
    return limit.data() | {"sizes": limit.describe()}


def solve_input(spec: Spec, *, rebuild: bool = False, budget: Budget | None = None) -> InputSizes:
    """Every spatial input size ``spec`` accepts, exactly: per dimension and jointly.

    The network is the one the spec's declared input builds (a linear's in_features, a
    norm's channels, a position embedding's length taken from it, as PyTorch's modules are
    built once): an input that changes one is refused, as PyTorch refuses it. With
    ``rebuild`` the layers are rebuilt for each input size instead, those sizes following it.
    Work grows with the layers, the strides' product and the kernels, never with the sizes;
    ``budget`` bounds it (:class:`~convcalc.budget.WorkLimit` past it). :class:`NotSolvable`
    names a layer whose sizes this solver cannot put in closed form."""
    budget = budget if budget is not None else Budget(what="the network's thresholds are large")
    rank = len(spec.input)
    names = tuple(_dim_name(d, rank) for d in range(1, rank))
    declared = {d: spec.input[d] for d in range(1, rank)}
    walk = Walk(budget, names, declared, rebuild)
    start = (Term.const(spec.input[0]), *(Term.of(d, SizeMap()) for d in range(1, rank)))
    empty = False
    try:
        walk.walk(spec.layers, start)
    except Empty:
        empty = True
    joint = _joint(walk, empty)
    declared_sizes = tuple(spec.input[1:])
    per_dim = []
    for d, name in enumerate(names, start=1):
        sizes = joint.slice(d, declared_sizes) if names else SizeSet.empty()
        per_dim.append(Accepted(d, name, sizes, _limits_for(walk, d, declared_sizes)))
    limits = tuple(
        replace(limit, boxes=tuple(_boxes_of(walk, limit, joint)))
        if len(limit.dims) > 1 and not limit.always
        else limit
        for limit in walk.limits
    )
    return InputSizes(spec.name, tuple(spec.input), names, tuple(per_dim), joint, limits, rebuild)


def accepted_sizes(
    spec: Spec,
    dim: int,
    name: str | None = None,
    budget: Budget | None = None,
    *,
    rebuild: bool = False,
) -> Accepted:
    """The sizes of dimension ``dim`` (an index into the spec's input, 1 for H of [C, H, W])
    for which every layer of ``spec`` is valid and every join agrees, the other dimensions
    being those of the spec's declared input (:func:`solve_input`'s ``per_dim``)."""
    rank = len(spec.input)
    if not 1 <= dim < rank:
        raise ValueError(f"dimension {dim} is not a spatial dimension of {list(spec.input)}")
    found = solve_input(spec, rebuild=rebuild, budget=budget).per_dim[dim - 1]
    if name is not None:
        found = replace(found, name=name)
    return found


def _dim_name(dim: int, rank: int) -> str:
    """H, W of [C, H, W]; D, H, W of [C, D, H, W]; L of [C, L]."""
    names = {2: "L", 3: "HW", 4: "DHW"}.get(rank, "")
    return names[dim - 1] if names else f"n{dim}"


def _joint(walk: Walk, empty: bool) -> Joint:
    """The union of boxes: each dimension's own sets, cut by every product condition, then
    by the conditions kept pending (:func:`settle`: a join of dimensions that is a union of
    boxes only where the others have made the sizes finite)."""
    meets, pending = tuple(walk.meets), tuple(walk.pending)
    joined = not meets and not pending
    if empty:
        return Joint(walk.names, (), joined, meets, pending)
    base = tuple(walk.sep[d] for d in range(1, len(walk.names) + 1))
    boxes = joint_boxes(base, walk.meets, walk.budget)
    boxes = settle(boxes, walk.pending, walk.budget)
    return Joint(walk.names, tuple(boxes), joined, meets, pending)


def _limits_for(walk: Walk, dim: int, declared: Sizes) -> tuple[Limit, ...]:
    """The conditions on dimension ``dim`` with the others declared: its own, the joint ones
    sliced there, and any other dimension's that its declared size fails (those first); not
    the joins that hold always."""
    names = walk.names
    name = names[dim - 1]
    out: list[Limit] = []
    failing: list[Limit] = []
    for limit in walk.limits:
        if limit.always:  # a join that holds whatever the sizes: no condition on them
            continue
        if limit.dims == (name,) or not limit.dims:
            out.append(limit)
        elif len(limit.dims) == 1:
            other = names.index(limit.dims[0])
            if declared[other] not in limit.sizes:
                note = f"{limit.dims[0]} = {declared[other]} is refused" + (
                    f": {limit.note}" if limit.note else ""
                )
                failing.append(replace(limit, sizes=SizeSet.empty(), note=note, dims=(name,)))
        elif name in limit.dims:
            pending = _pending_of(walk, limit)
            if pending is not None:
                sliced = _pending_slice(walk, pending, dim, declared)
            else:
                boxes = meet_boxes(_meet_of(walk, limit), len(names), walk.budget)
                sliced = Joint(names, tuple(boxes), False).slice(dim, declared)
            out.append(replace(limit, sizes=sliced, boxes=tuple(_boxes_of(walk, limit))))
    return (*failing, *out)


def _boxes_of(walk: Walk, limit: Limit, joint: Joint | None = None) -> list[tuple[SizeSet, ...]]:
    """The tuples a condition joining dimensions accepts, as boxes over its own dimensions;
    for one kept pending (no union of boxes by itself), those it leaves of the accepted set
    (``joint``, solved first), its dimensions' sets of each box."""
    pending = _pending_of(walk, limit)
    if pending is not None:
        joint = joint if joint is not None else _joint(walk, False)
        found: list[tuple[SizeSet, ...]] = []
        for box in joint.boxes:
            cut = tuple(box[d - 1] for d in pending.dims)
            if cut not in found:
                found.append(cut)
        return found
    meet = _meet_of(walk, limit)
    boxes = meet_boxes(meet, len(walk.names), walk.budget)
    return [tuple(box[d - 1] for d, _ in meet.maps) for box in boxes]


def _meet_of(walk: Walk, limit: Limit) -> Meet:
    return next(m for m in walk.meets if m.path == limit.path and m.sides == limit.sides)


def _pending_of(walk: Walk, limit: Limit) -> Pending | None:
    return next((p for p in walk.pending if p.path == limit.path and p.sides == limit.sides), None)


def _pending_slice(walk: Walk, pending: Pending, dim: int, declared: Sizes) -> SizeSet:
    """The sizes of dimension ``dim`` a pending condition accepts, the others at their
    declared sizes: each side with those sizes put in (:meth:`Term.fix`), a condition on one
    dimension: a = b where both vary (:meth:`SizeMap.agree`), else a preimage."""
    fixed = {d: n for d, n in enumerate(declared, start=1) if d != dim}
    a = pending.a.fix(fixed)
    every = SizeSet.at_least(1)

    def where(t: Term, values: SizeSet) -> SizeSet:
        if t.value is not None:
            return every if t.value in values else SizeSet.empty()
        return t.maps[0][1].preimage(values, walk.budget)

    if pending.b is None:
        return where(a, pending.values or SizeSet.empty())
    b = pending.b.fix(fixed)
    if a.value is None and b.value is None:
        sizes = a.maps[0][1].agree(b.maps[0][1], walk.budget)
    elif a.value is None or b.value is None:
        const, other = (a, b) if a.value is not None else (b, a)
        assert const.value is not None
        sizes = where(other, SizeSet.finite([const.value]) if const.value >= 1 else SizeSet.empty())
    else:
        sizes = every if a.value == b.value else SizeSet.empty()
    if pending.relation == "gate":
        sizes = sizes | where(b, SizeSet.finite([1]))
    return sizes
