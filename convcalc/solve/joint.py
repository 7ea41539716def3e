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
from convcalc.solve.conditions import Meet, box_text
from convcalc.solve.sizes import SizeSet
from convcalc.solve.terms import Term

__all__ = ["BOXES_SHOWN", "Joint", "Sizes", "factorizations", "joint_boxes", "meet_boxes"]

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
        """The conditions joining dimensions as products, ``⌊H/16⌋·⌊W/16⌋ = 196``."""
        parts = []
        for meet in self.meets:
            factors = self.product_text_of(meet)
            values = ", ".join(str(p) for p in meet.products)
            parts.append(
                f"{factors} = {values}" if len(meet.products) == 1 else f"{factors} ∈ {{{values}}}"
            )
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
        if self.meets and len(self.boxes) > BOXES_SHOWN:
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
        }

    def product_text_of(self, meet: Meet) -> str:
        return "·".join(Term.of(d, f).text(self.names) for d, f in meet.maps)


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
        for factors in factorizations(value, len(meet.maps), budget):
            box = [SizeSet.at_least(1)] * rank
            for (d, f), a in zip(meet.maps, factors, strict=True):
                box[d - 1] = f.preimage(SizeSet.finite([a]), budget)
            boxes.append(tuple(box))
    return boxes


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
