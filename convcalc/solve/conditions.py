"""The conditions an input size meets, as data: each :class:`Limit` says which layer or join
imposes what (its two :class:`Side` s, the sizes it accepts); a :class:`Meet` is a condition
joining dimensions, a product of one size per dimension in a finite set of values (a flatten
into a linear's in_features, tokens into a position embedding's length).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from convcalc.expr import Expr
from convcalc.solve.sizes import SizeMap, SizeSet

if TYPE_CHECKING:
    from convcalc.solve.terms import Term

__all__ = ["Limit", "Meet", "Pending", "Side", "box_text", "boxes_text"]


@dataclass(frozen=True)
class Side:
    """One side of a condition: what it is (``body``, ``in_features``, ``input``), the size
    as an expression of the input's sizes where it has one (rendered as text, Markdown or
    LaTeX by :func:`convcalc.expr.render`), the same in plain text, and for a layer's own
    condition the sizes ``accepts`` it takes there."""

    label: str
    text: str
    expr: Expr | None = None
    accepts: SizeSet | None = None


@dataclass(frozen=True)
class Limit:
    """One condition on the input's sizes: the layer or join at ``path`` (of ``type``)
    accepts exactly the input sizes ``sizes`` of the dimension ``dims[0]`` (the other
    dimensions at their declared sizes); ``note`` says in words what it compares, ``sides``
    the two sides as data; ``relation`` is ``valid`` (a layer takes its input), ``equal``
    (a join's paths, a size the declared input built, a count kept) or ``gate`` (a scale's
    gate is the input's size or 1). A condition where the dimensions meet (``dims`` of more
    than one) has the tuples it accepts in ``boxes`` (one :class:`SizeSet` per dimension of
    ``dims`` each), and ``sizes`` the slice through the declared input. A join that holds
    whatever the sizes (two paths that always agree) says why in ``always``; its ``sizes``
    (``boxes``) are every size."""

    path: str
    type: str
    sizes: SizeSet
    note: str = ""
    dims: tuple[str, ...] = ()
    sides: tuple[Side, ...] = ()
    relation: str = "valid"
    boxes: tuple[tuple[SizeSet, ...], ...] | None = None
    always: str = ""
    check: Callable[[tuple[int, ...]], bool] | None = field(default=None, compare=False, repr=False)

    def holds(self, sizes: tuple[int, ...]) -> bool:
        """Whether the sizes of ``dims`` (in that order) meet the condition: its own test
        where it has one (a :class:`Pending` join, whose boxes are those it leaves of the
        accepted set), else membership in ``sizes`` or ``boxes``."""
        if self.always:
            return True
        if self.check is not None:
            return self.check(sizes)
        if len(self.dims) == 1:
            return sizes[0] in self.sizes
        if not self.dims:
            return False
        return any(all(n in s for n, s in zip(sizes, box, strict=True)) for box in self.boxes or ())

    def describe(self) -> str:
        """``layers[3] maxpool: input ⌊H/2⌋ ∈ {H ≥ 2} → H ≥ 4``, in plain text."""
        sides = self.sides
        if self.relation == "valid" and sides and sides[0].accepts is not None:
            what = f"{sides[0].text} must be in {sides[0].accepts.describe('m')}"
        elif sides:
            what = " = ".join(f"{s.label} {s.text}" for s in sides)
        else:
            what = self.note
        if self.always:
            result = f"always ({self.always})"
        elif len(self.dims) <= 1:
            result = self.sizes.describe(self.dims[0] if self.dims else "n")
        else:
            result = boxes_text(self.boxes or (), self.dims)
        return f"{self.path} {self.type}: {what}: {result}"

    def data(self, kind: str | None = None) -> dict[str, Any]:
        """Its place and relation as JSON data: path, type (``kind`` in its place when given),
        dims, relation, note, and each side's label and size, with the sizes it accepts
        (described as ``m``'s) where it has them."""
        return {
            "path": self.path,
            "type": self.type if kind is None else kind,
            "dims": list(self.dims),
            "relation": self.relation,
            "note": self.note,
            **({"always": self.always} if self.always else {}),
            "sides": [
                {"label": s.label, "size": s.text}
                | ({"accepts": s.accepts.describe("m")} if s.accepts is not None else {})
                for s in self.sides
            ],
        }


def boxes_text(boxes: tuple[tuple[SizeSet, ...], ...], names: tuple[str, ...]) -> str:
    """The boxes joined by ``or`` (``none`` for no box)."""
    return " or ".join(box_text(box, names) for box in boxes) or "none"


def box_text(box: tuple[SizeSet, ...], names: tuple[str, ...]) -> str:
    """``(H ∈ {32, …, 35} and W ∈ {32, …, 35})``: each dimension's set."""
    return "(" + " and ".join(s.describe(n) for s, n in zip(box, names, strict=True)) + ")"


@dataclass(frozen=True)
class Meet:
    """A condition joining dimensions: ``∏ f_d(n_d)`` over ``maps`` is one of ``products``
    (a finite set): the condition of the layer or join at ``path`` (of ``type``), with its
    ``sides`` and ``note`` as its :class:`Limit` has them."""

    maps: tuple[tuple[int, SizeMap], ...]
    products: tuple[int, ...]
    path: str
    type: str
    sides: tuple[Side, ...]
    note: str


@dataclass(frozen=True)
class Pending:
    """A condition joining dimensions that is no finite union of boxes by itself (a path that
    exchanges H and W joined with one that does not: ``⌊H/2⌋ = 2·⌊W/4⌋``), kept until the
    other conditions have cut the sizes to boxes where it is one
    (:func:`~convcalc.solve.joint.settle`):

    - ``relation`` ``equal``: ``a = b``; ``gate``: ``a = b`` or ``b = 1``;
    - ``valid`` (``b`` None): ``a ∈ values``, an infinite set of sizes.

    ``message`` says why no answer is given where the condition stays unsettled."""

    a: Term
    b: Term | None
    values: SizeSet | None
    relation: str
    path: str
    type: str
    sides: tuple[Side, ...]
    note: str
    message: str

    @property
    def dims(self) -> tuple[int, ...]:
        """The input dimensions it joins (1-based), in increasing order."""
        b = self.b.dims if self.b is not None else ()
        return tuple(sorted({*self.a.dims, *b}))

    def holds(self, sizes: dict[int, int]) -> bool:
        """Whether the input sizes (dimension → size) meet it."""
        a = self.a.at(sizes)
        if self.b is None:
            return self.values is not None and a in self.values
        b = self.b.at(sizes)
        return a == b or (self.relation == "gate" and b == 1)
