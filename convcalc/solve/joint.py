"""The tuples of input sizes a network accepts where its dimensions meet: a finite union of
boxes (:class:`Joint`), each a product of one :class:`~convcalc.solve.sizes.SizeSet` per
dimension. A product condition ``∏ f_d(n_d) ∈ {v, …}`` (a :class:`~convcalc.solve.conditions.Meet`)
becomes one box per ordered factorization of each v, each factor's preimage in its dimension
(:func:`meet_boxes`); the conditions together, the boxes intersected (:func:`joint_boxes`).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import product
from typing import Any

from convcalc.budget import Budget
from convcalc.solve.conditions import Meet, Pending, box_text
from convcalc.solve.sizes import SizeMap, SizeSet
from convcalc.solve.terms import NotSolvable, Term

__all__ = [
    "BOXES_SHOWN",
    "Joint",
    "Sizes",
    "factorizations",
    "joint_boxes",
    "meet_boxes",
    "settle",
]

Sizes = tuple[int, ...]


@dataclass(frozen=True)
class Joint:
    """The tuples of spatial input sizes a network accepts: a finite union of disjoint boxes,
    each a product of one :class:`SizeSet` per dimension (in ``names``' order).

    Order: tuples are ordered by their largest size, then lexicographically (so that
    iteration reaches every member of an infinite set). ``separable``: no condition joins the
    dimensions, so the set is one box, the product of the per-dimension sets."""

    names: tuple[str, ...]
    boxes: tuple[tuple[SizeSet, ...], ...]
    separable: bool
    meets: tuple[Meet, ...] = ()
    pending: tuple[Pending, ...] = ()

    def __contains__(self, sizes: object) -> bool:
        if not isinstance(sizes, tuple) or len(sizes) != len(self.names):
            return False
        return any(all(n in s for n, s in zip(sizes, box, strict=True)) for box in self.boxes)

    def __bool__(self) -> bool:
        return bool(self.boxes)

    def __iter__(self) -> Iterator[Sizes]:
        """The members in the order above, lazily: for each largest size m, the tuples whose
        largest size is m, in lexicographic order (m runs without end unless every box is
        finite)."""
        if not self.boxes:
            return
        if not self.names:
            yield ()
            return
        top = None
        if all(all(s.is_finite for s in box) for box in self.boxes):
            top = max(max(s.below, default=0) for box in self.boxes for s in box)
        m = 0
        while top is None or m < top:
            m += 1
            found = set()
            for box in self.boxes:
                lists = [s.upto(m) for s in box]
                if all(lists) and any(m in s for s in box):
                    for combo in product(*lists):
                        if max(combo) == m:
                            found.add(combo)
            yield from sorted(found)

    def smallest(self) -> Sizes | None:
        return next(iter(self), None)

    def nearest(self, sizes: Sizes) -> tuple[Sizes | None, Sizes | None]:
        """The accepted tuples nearest ``sizes`` below and above it: among the members ≤ it in
        every dimension, the one of the largest sum (the nearest in the sum of the
        differences; ties to the lexicographically larger), and among those ≥ it, the one of
        the smallest sum (ties to the smaller). Per box the best is each dimension's own
        nearest (:meth:`SizeSet.last_to`, :meth:`SizeSet.next_from`): work of the boxes'
        number, not of the sizes."""
        if len(sizes) != len(self.names):
            raise ValueError(f"{len(sizes)} sizes for the {len(self.names)} dimensions")
        lows: list[Sizes] = []
        highs: list[Sizes] = []
        for box in self.boxes:
            low = [s.last_to(n) for s, n in zip(box, sizes, strict=True)]
            high = [s.next_from(n) for s, n in zip(box, sizes, strict=True)]
            if all(v is not None for v in low):
                lows.append(tuple(v for v in low if v is not None))
            if all(v is not None for v in high):
                highs.append(tuple(v for v in high if v is not None))
        below = max(lows, key=lambda t: (sum(t), t), default=None)
        above = min(highs, key=lambda t: (sum(t), t), default=None)
        return below, above

    def slice(self, dim: int, sizes: Sizes) -> SizeSet:
        """The sizes of dimension ``dim`` (1-based) accepted with the others at ``sizes``."""
        out = SizeSet.empty()
        for box in self.boxes:
            if all(n in s for i, (n, s) in enumerate(zip(sizes, box, strict=True)) if i != dim - 1):
                out = out | box[dim - 1]
        return out

    def product_text(self) -> str:
        """The conditions joining dimensions as products, ``⌊H / 16⌋·⌊W / 16⌋ = 196``,
        ``(⌊H / 4⌋ − 3)·(⌊W / 4⌋ − 3) = 25``, joined by ``and``: the one text of them, for
        every form."""
        parts = []
        for meet in self.meets:
            factors = self.product_text_of(meet)
            values = ", ".join(f"{p:,}" for p in meet.products)
            parts.append(
                f"{factors} = {values}" if len(meet.products) == 1 else f"{factors} ∈ {{{values}}}"
            )
        parts += [pending_text(p, self.names) for p in self.pending]
        return " and ".join(parts)

    def describe(self) -> str:
        """In words: one box as its sets (``H ≥ 1 and W ≥ 1``); a union of more than
        :data:`BOXES_SHOWN` boxes from products as the product condition, then the sets each
        dimension needs whatever the product; else the boxes, one by one."""
        if not self.names:
            return "no spatial dimension: only the declared input"
        if not self.boxes:
            return "no input size"
        if len(self.boxes) == 1:
            return " and ".join(
                s.describe(n) for s, n in zip(self.boxes[0], self.names, strict=True)
            )
        if (self.meets or self.pending) and len(self.boxes) > BOXES_SHOWN:
            each = [_union([box[i] for box in self.boxes]) for i in range(len(self.names))]
            bounds = " and ".join(s.describe(n) for s, n in zip(each, self.names, strict=True))
            return f"{self.product_text()} ({len(self.boxes)} boxes), within {bounds}"
        return " or ".join(box_text(box, self.names) for box in self.boxes)

    def to_dict(self) -> dict[str, Any]:
        return {
            "dims": list(self.names),
            "separable": self.separable,
            "boxes": [
                {n: s.describe(n) for n, s in zip(self.names, box, strict=True)}
                for box in self.boxes
            ],
            "products": [
                {
                    "dims": [self.names[d - 1] for d, _ in meet.maps],
                    "product": self.product_text_of(meet),
                    "values": list(meet.products),
                    "at": meet.path,
                }
                for meet in self.meets
            ],
            "text": self.describe(),
        } | ({"joins": self.joins_data()} if self.pending else {})

    def joins_data(self) -> list[dict[str, Any]]:
        """The conditions joining dimensions that are no product (kept pending, then
        settled): their dimensions, text and place."""
        return [
            {
                "dims": [self.names[d - 1] for d in p.dims],
                "condition": pending_text(p, self.names),
                "at": p.path,
            }
            for p in self.pending
        ]

    def product_text_of(self, meet: Meet) -> str:
        """The product ∏ f_d(n_d) of a condition, written as one expression (a factor with a
        sum in parentheses: ``(⌊H / 4⌋ − 3)·(⌊W / 4⌋ − 3)``, never ``⌊H / 4⌋ − 3·…``)."""
        if len(meet.maps) == 1:
            d, f = meet.maps[0]
            return Term.of(d, f).text(self.names)
        return Term(tuple(meet.maps), 1, 0).text(self.names)


BOXES_SHOWN = 4  # more boxes than this, from products, are described by their product


def _union(sets: list[SizeSet]) -> SizeSet:
    out = SizeSet.empty()
    for s in sets:
        out = out | s
    return out


def joint_boxes(
    base: tuple[SizeSet, ...], meets: list[Meet], budget: Budget
) -> list[tuple[SizeSet, ...]]:
    """The union of boxes where every product condition holds: ``base`` (each dimension's own
    sets) cut by each condition's boxes in turn, empty cuts dropped."""
    boxes = [base]
    for meet in meets:
        found: list[tuple[SizeSet, ...]] = []
        dims = {d - 1 for d, _ in meet.maps}
        for box in meet_boxes(meet, len(base), budget):
            for held in boxes:
                budget.spend(len(base))
                cut = tuple(s & box[i] if i in dims else s for i, s in enumerate(held))
                if all(cut):
                    found.append(cut)
        boxes = found
    return boxes


def meet_boxes(meet: Meet, rank: int, budget: Budget) -> list[tuple[SizeSet, ...]]:
    """The boxes of one product condition over ``rank`` dimensions: for each value v and each
    ordered factorization v = a_1·…·a_k, dimension d_i's preimage of a_i (the others free)."""
    boxes = []
    for value in meet.products:
        boxes += _product_boxes(meet.maps, value, rank, budget)
    return boxes


def _product_boxes(
    maps: tuple[tuple[int, SizeMap], ...], value: int, rank: int, budget: Budget
) -> list[tuple[SizeSet, ...]]:
    """The boxes where ∏ f_d(n_d) = value: one per ordered factorization of the value, each
    factor's preimage in its dimension (the others free)."""
    boxes = []
    for factors in factorizations(value, len(maps), budget):
        box = [SizeSet.at_least(1)] * rank
        for (d, f), a in zip(maps, factors, strict=True):
            box[d - 1] = f.preimage(SizeSet.finite([a]), budget)
        boxes.append(tuple(box))
    return boxes


def pending_text(pending: Pending, names: tuple[str, ...]) -> str:
    """A condition kept pending, ``⌊H / 2⌋ = 2·⌊W / 4⌋`` (``… or … = 1`` for a gate,
    ``… ∈ {…}`` for a set of sizes)."""
    a = pending.a.text(names)
    if pending.b is None:
        values = pending.values.describe("m") if pending.values is not None else "∅"
        return f"{a} ∈ {{m : {values}}}"
    b = pending.b.text(names)
    return f"{a} = {b}" + (f" or {b} = 1" if pending.relation == "gate" else "")


def settle(
    boxes: list[tuple[SizeSet, ...]], pending: list[Pending], budget: Budget
) -> list[tuple[SizeSet, ...]]:
    """``boxes`` cut by the conditions kept pending, each where every box gives one of its
    sides finitely many values over it (:func:`_values`): then ``a = b`` is the union over
    those values v of the boxes ``a = v`` and ``b = v`` (:func:`_term_boxes`), intersected
    with the box. A condition that some box leaves infinite waits for the others; when none
    can be settled, :class:`NotSolvable` with the first's message."""
    left = list(pending)
    while left:
        for i, condition in enumerate(left):
            cut = _settle_one(boxes, condition, budget)
            if cut is not None:
                boxes = cut
                del left[i]
                break
        else:
            raise NotSolvable(left[0].message)
    return boxes


def _settle_one(
    boxes: list[tuple[SizeSet, ...]], condition: Pending, budget: Budget
) -> list[tuple[SizeSet, ...]] | None:
    """The boxes where one pending condition holds, None where a box leaves it infinite."""
    out: list[tuple[SizeSet, ...]] = []
    a, b = condition.a, condition.b
    for box in boxes:
        rank = len(box)
        found = _values(a, box, budget)
        if b is None:
            if found is None or condition.values is None:
                return None
            for v in found:
                if v in condition.values:
                    out += _within(box, _term_boxes(a, v, rank, budget), budget)
            continue
        other = _values(b, box, budget)
        if condition.relation == "gate":
            out += _within(box, _term_boxes(b, 1, rank, budget), budget)
        if found is None and other is None:
            return None
        if found is not None and other is not None:
            common = sorted(set(found) & set(other))
        else:
            common = found if found is not None else other or []
        for v in common:
            if condition.relation == "gate" and v == 1:
                continue  # b = 1 above
            both = _meet(_term_boxes(a, v, rank, budget), _term_boxes(b, v, rank, budget), budget)
            out += _within(box, both, budget)
    return out


def _values(term: Term, box: tuple[SizeSet, ...], budget: Budget) -> list[int] | None:
    """The values ``term`` takes over ``box``, where finitely many (None otherwise): each
    factor's image of its dimension's set, the products scaled and shifted."""
    if term.value is not None:
        return [term.value]
    images = []
    for d, f in term.maps:
        image = f.image(box[d - 1], budget)
        if not image.is_finite:
            return None
        images.append(image.below)
    count = math.prod(len(i) for i in images)
    budget.spend(count + 1)
    return sorted({term.scale * math.prod(p) + term.offset for p in product(*images)})


def _term_boxes(term: Term, value: int, rank: int, budget: Budget) -> list[tuple[SizeSet, ...]]:
    """The boxes where ``term`` is ``value``: every box for a constant equal to it; else the
    product ∏ f_d(n_d) = (value − offset)/scale, where a positive integer."""
    if term.value is not None:
        return [(SizeSet.at_least(1),) * rank] if term.value == value else []
    rest = value - term.offset
    if rest % term.scale or rest // term.scale < 1:
        return []
    return _product_boxes(term.maps, rest // term.scale, rank, budget)


def _meet(
    xs: list[tuple[SizeSet, ...]], ys: list[tuple[SizeSet, ...]], budget: Budget
) -> list[tuple[SizeSet, ...]]:
    """The pairwise intersections of two unions of boxes, empty ones dropped."""
    out = []
    for x in xs:
        for y in ys:
            budget.spend(len(x))
            cut = tuple(s & t for s, t in zip(x, y, strict=True))
            if all(cut):
                out.append(cut)
    return out


def _within(
    box: tuple[SizeSet, ...], parts: list[tuple[SizeSet, ...]], budget: Budget
) -> list[tuple[SizeSet, ...]]:
    return _meet([box], parts, budget)


def factorizations(n: int, parts: int, budget: Budget) -> Iterator[tuple[int, ...]]:
    """Every ordered tuple of ``parts`` positive integers whose product is ``n``."""
    if parts == 1:
        yield (n,)
        return
    budget.spend(math.isqrt(n) + 1)
    divisors = [d for d in range(1, math.isqrt(n) + 1) if n % d == 0]
    divisors += [n // d for d in reversed(divisors) if d * d != n]
    for d in divisors:
        for rest in factorizations(n // d, parts - 1, budget):
            yield (d, *rest)
