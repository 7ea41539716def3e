"""Sizes inside a network as functions of its input's sizes: :class:`Term`, a product of one
:class:`~convcalc.solve.sizes.SizeMap` per input dimension, scaled and shifted (a flatten
multiplies sizes, a linear's in_features compares their product with a number), with its
closed form as an expression (:func:`map_expr`) or as text (:func:`map_text`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from convcalc.budget import Budget
from convcalc.errors import ConvcalcError
from convcalc.expr import Expr, floor, lift, render, sym
from convcalc.solve.sizes import SizeMap

__all__ = ["NotSolvable", "Term", "map_expr", "map_text"]


class NotSolvable(ConvcalcError):
    """A network whose accepted sizes this solver cannot put in closed form: a layer without
    a rule along a dimension that still depends on the input, a condition joining dimensions
    in a way that is no finite union of boxes."""


@dataclass(frozen=True)
class Term:
    """One size of a shape inside the network as a function of the input's spatial sizes n:
    ``scale·∏ f_d(n_d) + offset`` over ``maps`` (input dimension d, its :class:`SizeMap`),
    distinct dimensions. No map: the constant ``offset``; one map: scale and offset folded
    into it (scale 1, offset 0), so that equal functions are equal values."""

    maps: tuple[tuple[int, SizeMap], ...] = ()
    scale: int = 1
    offset: int = 0

    @classmethod
    def const(cls, value: int) -> Term:
        return cls((), 0, value)

    @classmethod
    def of(cls, dim: int, f: SizeMap, scale: int = 1, offset: int = 0) -> Term:
        if scale != 1 or offset != 0:
            f = SizeMap(f.period, f.slope * scale, tuple(e * scale + offset for e in f.offsets))
        value = f.value
        return cls.const(value) if value is not None else cls(((dim, f),))

    @property
    def value(self) -> int | None:
        return self.offset if not self.maps else None

    @property
    def dims(self) -> tuple[int, ...]:
        return tuple(d for d, _ in self.maps)

    def at(self, sizes: dict[int, int]) -> int:
        """The size at the input sizes ``sizes`` (input dimension → size)."""
        return self.scale * math.prod(f(sizes[d]) for d, f in self.maps) + self.offset

    def fix(self, sizes: dict[int, int]) -> Term:
        """The term with the input dimensions of ``sizes`` at those sizes: their factors'
        product c = ∏ f_e(n_e) into the scale, ``scale·c·∏ f_d(n_d) + offset`` over the rest."""
        if self.value is not None:
            return self
        c, rest = self.scale, []
        for d, f in self.maps:
            if d in sizes:
                c *= f(sizes[d])
            else:
                rest.append((d, f))
        if not rest or c == 0:
            return Term.const(self.offset)
        if len(rest) == 1:
            return Term.of(*rest[0], c, self.offset)
        return Term(tuple(rest), c, self.offset)

    def times(self, other: Term) -> Term:
        """The product of two sizes (a flatten's): a constant scales; two functions of
        different dimensions multiply, as long as neither has an offset."""
        if self.value is not None or other.value is not None:
            c, t = (self.value, other) if self.value is not None else (other.value, self)
            assert c is not None
            if t.value is not None:
                return Term.const(c * t.value)
            if len(t.maps) == 1:
                d, f = t.maps[0]
                return Term.of(d, f, c)
            return Term(t.maps, t.scale * c, t.offset * c)
        if set(self.dims) & set(other.dims) or self.offset or other.offset:
            raise NotSolvable("a product of sizes that is no product of one size per dimension")
        scale, maps = self.scale * other.scale, []
        for d, f in sorted(self.maps + other.maps):
            g = math.gcd(f.slope, *f.offsets)  # each factor's content into the scale
            if g > 1:
                f = SizeMap(f.period, f.slope // g, tuple(e // g for e in f.offsets))
                scale *= g
            maps.append((d, f))
        return Term(tuple(maps), scale, 0)

    def then(self, g: SizeMap, budget: Budget) -> Term:
        """``g`` applied to this size: composed per dimension; on a product, only an affine g."""
        if g.is_identity:
            return self
        if self.value is not None:
            return Term.const(g(self.value))
        if len(self.maps) == 1:
            d, f = self.maps[0]
            return Term.of(d, f.then(g, budget))
        if g.value is not None:
            return Term.const(g.value)
        if g.period != 1:
            raise NotSolvable("a size rule that is not affine on a product of sizes")
        return Term(self.maps, self.scale * g.slope, self.offset * g.slope + g.offsets[0])

    def expr(self, names: tuple[str, ...], values: dict[int, int]) -> Expr | None:
        """The size as an expression of the input's sizes (:mod:`convcalc.expr`), None where a
        map has no closed form of one floor (:func:`map_expr`)."""
        if self.value is not None:
            return lift(self.value)
        parts = [map_expr(f, names[d - 1], values.get(d, 0)) for d, f in self.maps]
        if any(p is None for p in parts):
            return None
        exprs = [p for p in parts if p is not None]
        body = exprs[0] if len(exprs) == 1 else Expr("*", tuple(exprs))
        if self.scale != 1:
            body = lift(self.scale) * body
        return body + self.offset if self.offset else body

    def text(self, names: tuple[str, ...]) -> str:
        """The size in plain text: the expression with the dimensions' names, or a map's
        period, slope and offsets where it has no one-floor form."""
        found = self.expr(names, {})
        if found is not None:
            return render(found, symbols=True)
        parts = [map_text(f, names[d - 1]) for d, f in self.maps]
        return (
            f"{self.scale}·" * (self.scale != 1)
            + "·".join(parts)
            + (f" + {self.offset}" if self.offset else "")
        )


def map_expr(f: SizeMap, name: str, value: int = 0) -> Expr | None:
    """``f`` as ``⌊(a·X + b) / P⌋ + c`` (or ``a·X + c`` for period 1) in the input size X
    called ``name``, where one floor writes it: searched over b in 0 … P − 1, since
    f(P·t + r) = a·t + e_r holds for that form iff e_r − ⌊(a·r + b)/P⌋ is one c for all r."""
    x = sym(name, value)
    g = math.gcd(f.slope, *(e - f.offsets[0] for e in f.offsets))
    if g > 1:  # g·h + e_0, h with coprime steps
        inner = SizeMap(f.period, f.slope // g, tuple((e - f.offsets[0]) // g for e in f.offsets))
        found = map_expr(inner, name, value)
        if found is None:
            return None
        body = lift(g) * found
        return (
            body + f.offsets[0]
            if f.offsets[0] > 0
            else body - (-f.offsets[0])
            if f.offsets[0]
            else body
        )
    if f.period == 1:
        body = x if f.slope == 1 else lift(f.slope) * x
        e = f.offsets[0]
        return body + e if e > 0 else body - (-e) if e < 0 else body
    if f.period > 4096:
        return None
    g = math.gcd(f.slope, f.period)
    for b in range(f.period):
        c = f.offsets[0] - (b // f.period)
        if all(e - (f.slope * r + b) // f.period == c for r, e in enumerate(f.offsets)):
            slope, period, shift = f.slope // g, f.period // g, b // g
            top = x if slope == 1 else lift(slope) * x
            out = floor(top + shift if shift else top, period)
            return out + c if c > 0 else out - (-c) if c < 0 else out
    return None


def map_text(f: SizeMap, name: str) -> str:
    """A map without a one-floor form: ``a·⌊X/P⌋ + (e_0, …, e_{P−1})[X mod P]``."""
    offsets = ", ".join(str(e) for e in f.offsets)
    return f"({f.slope}·⌊{name}/{f.period}⌋ + ({offsets})[{name} mod {f.period}])"
