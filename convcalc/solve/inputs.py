"""Which input sizes a network accepts along one dimension, exactly and in closed form.

Along one spatial dimension every size rule of :mod:`convcalc.arith` is, on each residue class
of its input modulo a period P, affine: ``out(P·t + r) = c·t + e_r`` (a convolution's
⌊(n + 2p − d(k − 1) − 1)/s⌋ + 1 with P = s, c = 1; a ceil-mode pool the same, its dropped last
window a matter of n mod s; a transposed convolution P = 1, c = s; an upsampling by p/q,
P = q, c = p). Such maps compose into maps of the same form (:class:`SizeMap`), and the sizes
a layer accepts are all those from a bound on, with finitely many below. So the set of input
sizes for which every layer is valid and every join agrees is *eventually periodic*: finitely
many members below a threshold T, then residue classes modulo a period
(:class:`SizeSet`). :func:`accepted_sizes` computes it for one dimension of a spec, with work
that grows with the number of layers, the strides' product and the kernels, never with the
sizes asked about.

The layers' own records drive it: each leaf's ``forward`` gives its :class:`~convcalc.records.Step`,
whose ``rules`` name the size rule applied in each dimension and its arguments; the period and
slope are read from those arguments, the offsets e_r from the rule itself, and the sizes a
layer refuses from its own ``forward`` below the bound past which it refuses none.

Exactness: sizes are unbounded integers here, while PyTorch stores them in 64 bits, and an
upsampling factor is the binary fraction its double holds (0.5, 1.5, 2): the answer is exact
for every size whose products stay below 2^53.
"""

from __future__ import annotations

import math
import re
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from fractions import Fraction
from itertools import count
from typing import TYPE_CHECKING, Any

from convcalc import arith
from convcalc.arith import Refusal, effective_kernel
from convcalc.budget import Budget, WorkLimit
from convcalc.errors import ConvcalcError
from convcalc.expr import Expr, floor, lift, render, sym

if TYPE_CHECKING:
    from convcalc.layers.base import Layer
    from convcalc.layers.blocks import Block, Path
    from convcalc.records import Layout, Shape
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


def _budget(budget: Budget | None) -> Budget:
    return budget if budget is not None else Budget(what="the sets' thresholds are too large")


# --- the sets -----------------------------------------------------------------------------


@dataclass(frozen=True)
class SizeSet:
    """A set of positive integers that is eventually periodic: the members ``below`` the
    ``threshold`` T, and from T on every n with n mod ``period`` in ``residues``.

    Always canonical (the smallest period, then the smallest threshold), so that two equal
    sets are equal values. Build one with :meth:`at_least`, :meth:`finite`,
    :meth:`progression`, :meth:`parse` or the operations.
    """

    threshold: int = 1
    period: int = 1
    residues: tuple[int, ...] = (0,)
    below: tuple[int, ...] = ()

    # -- building

    @classmethod
    def build(
        cls,
        member: Callable[[int], bool],
        threshold: int,
        period: int,
        budget: Budget | None = None,
    ) -> SizeSet:
        """The set of n ≥ 1 with ``member(n)``, where ``member`` is periodic with ``period`` from
        ``threshold`` on: ``member`` is asked T + P − 1 times."""
        threshold, period = max(1, threshold), max(1, period)
        _budget(budget).spend(threshold + period)
        below = [n for n in range(1, threshold) if member(n)]
        residues = {n % period for n in range(threshold, threshold + period) if member(n)}
        return cls._canonical(threshold, period, residues, below, budget)

    @classmethod
    def _canonical(
        cls,
        threshold: int,
        period: int,
        residues: set[int],
        below: list[int],
        budget: Budget | None = None,
    ) -> SizeSet:
        """The smallest period whose pattern the residues repeat, then the smallest threshold
        below which the members no longer follow the pattern."""
        _budget(budget).spend(period + threshold)
        for d in range(1, period + 1):
            if period % d == 0 and all(
                (r in residues) == ((r + d) % period in residues) for r in range(period)
            ):
                residues = {r % d for r in residues}
                period = d
                break
        kept = sorted(set(below))
        while threshold > 1:
            n = threshold - 1
            inside = bool(kept) and kept[-1] == n
            if inside != (n % period in residues):
                break
            if inside:
                kept.pop()
            threshold = n
        return cls(threshold, period, tuple(sorted(residues)), tuple(kept))

    @classmethod
    def at_least(cls, n: int) -> SizeSet:
        """Every size ≥ n (every size, for n ≤ 1)."""
        return cls(max(1, n), 1, (0,), ())

    @classmethod
    def finite(cls, members: Iterable[int]) -> SizeSet:
        """The positive integers among ``members``."""
        kept = sorted({n for n in members if n >= 1})
        return cls._canonical(kept[-1] + 1 if kept else 1, 1, set(), kept)

    @classmethod
    def progression(cls, residue: int, period: int, start: int = 1) -> SizeSet:
        """Every n ≥ start with n ≡ residue (mod period)."""
        return cls.build(lambda n: n >= start and n % period == residue % period, start, period)

    @classmethod
    def empty(cls) -> SizeSet:
        return cls(1, 1, (), ())

    # -- questions

    def __contains__(self, n: object) -> bool:
        if not isinstance(n, int) or n < 1:
            return False
        if n < self.threshold:
            i = bisect_left(self.below, n)
            return i < len(self.below) and self.below[i] == n
        return n % self.period in self.residues

    def __bool__(self) -> bool:
        return bool(self.below or self.residues)

    @property
    def is_finite(self) -> bool:
        return not self.residues

    def __iter__(self) -> Iterator[int]:
        """The members in increasing order, lazily (without end unless the set is finite)."""
        yield from self.below
        if not self.residues:
            return
        base = self.threshold - self.threshold % self.period
        for start in count(base, self.period):
            for r in self.residues:
                if start + r >= self.threshold:
                    yield start + r

    def smallest(self) -> int | None:
        """The smallest member, None for the empty set."""
        return self.next_from(1)

    def next_from(self, n: int) -> int | None:
        """The smallest member ≥ n (the nearest accepted size at or above n), or None."""
        n = max(n, 1)
        if n < self.threshold:
            i = bisect_left(self.below, n)
            if i < len(self.below):
                return self.below[i]
            n = self.threshold
        if not self.residues:
            return None
        base, r = n - n % self.period, n % self.period
        i = bisect_left(self.residues, r)
        if i < len(self.residues):
            return base + self.residues[i]
        return base + self.period + self.residues[0]

    def last_to(self, n: int) -> int | None:
        """The largest member ≤ n (the nearest accepted size at or below n), or None."""
        if n >= self.threshold and self.residues:
            base, r = n - n % self.period, n % self.period
            i = bisect_right(self.residues, r)
            found = base + self.residues[i - 1] if i else base - self.period + self.residues[-1]
            if found >= self.threshold:
                return found
        i = bisect_right(self.below, min(n, self.threshold - 1))
        return self.below[i - 1] if i else None

    # -- algebra

    def _combine(self, other: SizeSet, keep: Callable[[bool, bool], bool]) -> SizeSet:
        period = math.lcm(self.period, other.period)
        threshold = max(self.threshold, other.threshold)
        return SizeSet.build(lambda n: keep(n in self, n in other), threshold, period)

    def __and__(self, other: SizeSet) -> SizeSet:
        if self.is_finite or other.is_finite:  # the finite one's members, filtered
            few, many = (self, other) if self.is_finite else (other, self)
            return SizeSet.finite(n for n in few.below if n in many)
        return self._combine(other, lambda a, b: a and b)

    def __or__(self, other: SizeSet) -> SizeSet:
        return self._combine(other, lambda a, b: a or b)

    def __sub__(self, other: SizeSet) -> SizeSet:
        return self._combine(other, lambda a, b: a and not b)

    def issubset(self, other: SizeSet) -> bool:
        return not (self - other)

    # -- words

    def describe(self, name: str = "n") -> str:
        """The set as a person writes it: ``H ≥ 8``, ``H = 16k, k ≥ 1``,
        ``H ∈ {218, …, 224}``, ``H ≡ 1 (mod 32), H ≥ 33``, clauses joined by ``or``;
        :meth:`parse` reads it back."""
        if not self:
            return f"{name} ∈ ∅"
        members = set(self.below)
        clauses: list[tuple[int, str]] = []
        for r in self.residues:
            start = self.threshold + (r - self.threshold) % self.period
            while start - self.period >= 1 and start - self.period in members:
                start -= self.period
                members.discard(start)
            if self.period == 1:
                text = f"{name} ≥ {start}"
            elif r == 0:
                text = f"{name} = {self.period}k, k ≥ {start // self.period}"
            else:
                text = f"{name} ≡ {r} (mod {self.period}), {name} ≥ {start}"
            clauses.append((start, text))
        clauses.sort()
        if members:
            clauses.insert(0, (0, _finite_text(name, sorted(members))))
        return " or ".join(text for _, text in clauses)

    @classmethod
    def parse(cls, text: str) -> SizeSet:
        """The set :meth:`describe` wrote (``>=`` and ``...`` also read as ``≥`` and ``…``);
        :class:`ValueError` for text it cannot read."""
        result = cls.empty()
        norm = text.replace(">=", "≥").replace("...", "…").strip()
        for clause in norm.split(" or "):
            result = result | _parse_clause(clause.strip(), text)
        return result


def _finite_text(name: str, members: list[int]) -> str:
    """``H = 5`` or ``H ∈ {1, 2, 218, …, 224}``: runs of three or more with an ellipsis."""
    if len(members) == 1:
        return f"{name} = {members[0]}"
    parts, i = [], 0
    while i < len(members):
        j = i
        while j + 1 < len(members) and members[j + 1] == members[j] + 1:
            j += 1
        if j - i >= 2:
            parts.append(f"{members[i]}, …, {members[j]}")
        else:
            parts.extend(str(n) for n in members[i : j + 1])
        i = j + 1
    return f"{name} ∈ {{{', '.join(parts)}}}"


_NAME = r"(?P<name>[^\s=≥≡∈]+)"
_CLAUSES = [
    (re.compile(rf"{_NAME} ∈ ∅"), "empty"),
    (re.compile(rf"{_NAME} ≥ (?P<a>\d+)"), "at_least"),
    (re.compile(rf"{_NAME} = (?P<a>\d+)"), "one"),
    (re.compile(rf"{_NAME} ∈ \{{(?P<items>[\d,\s…]+)\}}"), "list"),
    (re.compile(rf"{_NAME} = (?P<p>\d+)k, k ≥ (?P<a>\d+)"), "multiples"),
    (re.compile(rf"{_NAME} ≡ (?P<r>\d+) \(mod (?P<p>\d+)\), (?P=name) ≥ (?P<a>\d+)"), "class"),
]


def _parse_clause(clause: str, text: str) -> SizeSet:
    for pattern, kind in _CLAUSES:
        match = pattern.fullmatch(clause)
        if match is None:
            continue
        if kind == "empty":
            return SizeSet.empty()
        if kind == "at_least":
            return SizeSet.at_least(int(match["a"]))
        if kind == "one":
            return SizeSet.finite([int(match["a"])])
        if kind == "list":
            return SizeSet.finite(_items(match["items"], text))
        period = int(match["p"])
        if period < 1:
            break
        if kind == "multiples":
            return SizeSet.progression(0, period, period * int(match["a"]))
        return SizeSet.progression(int(match["r"]), period, int(match["a"]))
    raise ValueError(f"cannot read {clause!r} of {text!r} as a set of sizes")


def _items(items: str, text: str) -> list[int]:
    """``1, 2, 218, …, 224`` → the members (an ellipsis fills the run between its neighbours)."""
    parts = [p.strip() for p in items.split(",")]
    out: list[int] = []
    for i, part in enumerate(parts):
        if part == "…":
            if not out or i + 1 >= len(parts) or not parts[i + 1].isdigit():
                raise ValueError(f"an ellipsis needs a size on each side in {text!r}")
            out.extend(range(out[-1] + 1, int(parts[i + 1])))
        elif part.isdigit():
            out.append(int(part))
        else:
            raise ValueError(f"cannot read {part!r} of {text!r} as a size")
    return out


# --- the maps -----------------------------------------------------------------------------


@dataclass(frozen=True)
class SizeMap:
    """A size map of one dimension, affine on each residue class of its input:
    ``f(P·t + r) = slope·t + offsets[r]`` for 0 ≤ r < P (t = n // P, r = n mod P)."""

    period: int = 1
    slope: int = 1
    offsets: tuple[int, ...] = (0,)

    @classmethod
    def constant(cls, value: int) -> SizeMap:
        return cls(1, 0, (value,))

    def __call__(self, n: int) -> int:
        t, r = divmod(n, self.period)
        return self.slope * t + self.offsets[r]

    @property
    def value(self) -> int | None:
        """The one value of a constant map, None if the map is not constant."""
        if self.slope == 0 and len(set(self.offsets)) == 1:
            return self.offsets[0]
        return None

    def then(self, after: SizeMap, budget: Budget | None = None) -> SizeMap:
        """``after ∘ self``: with g = gcd(slope, P_after) and k = P_after / g, the period is
        P·k, the slope slope_after·slope/g, and the offset of r + P·v is after(slope·v + e_r)."""
        g = math.gcd(self.slope, after.period)
        k = after.period // g
        _budget(budget).spend(self.period * k)
        offsets = [0] * (self.period * k)
        for v in range(k):
            for r, e in enumerate(self.offsets):
                offsets[r + self.period * v] = after(self.slope * v + e)
        return SizeMap(self.period * k, after.slope * (self.slope // g), tuple(offsets))

    def refine(self, period: int) -> SizeMap:
        """The same map written with a multiple of its period: the offset of P·q + r is
        slope·q + e_r, the slope scaled by period / P."""
        k = period // self.period
        offsets = tuple(self.slope * q + e for q in range(k) for e in self.offsets)
        return SizeMap(period, self.slope * k, offsets)

    def preimage(self, sizes: SizeSet, budget: Budget | None = None) -> SizeSet:
        """{n ≥ 1 : f(n) ∈ sizes}. Periodic with P·Q/gcd(slope, Q) once every class's
        f(n) ≥ the set's threshold."""
        if self.slope == 0:
            return SizeSet.build(lambda n: self(n) in sizes, 1, self.period, budget)
        if sizes.is_finite and self.slope > 0:  # each value met once per class: solve for t
            _budget(budget).spend(len(sizes.below) * self.period)
            return SizeSet.finite(
                self.period * ((v - e) // self.slope) + r
                for v in sizes.below
                for r, e in enumerate(self.offsets)
                if (v - e) % self.slope == 0 and v >= e
            )
        step = sizes.period // math.gcd(self.slope, sizes.period)
        reach = -(-(sizes.threshold - min(self.offsets)) // self.slope)
        threshold = self.period * (max(0, reach) + 1)
        return SizeSet.build(lambda n: self(n) in sizes, threshold, self.period * step, budget)

    def image(self, sizes: SizeSet, budget: Budget | None = None) -> SizeSet:
        """{f(n) : n ∈ sizes} ∩ positive integers. With L = lcm(P, Q), each class of n mod L
        in the set's periodic part gives a progression of difference slope·L/P from the image
        of its first member; the members below the threshold give single points."""
        budget = _budget(budget)
        period = math.lcm(self.period, sizes.period)
        points = {self(n) for n in sizes.below}
        budget.spend(len(sizes.below) + period)
        firsts = [n for n in range(sizes.threshold, sizes.threshold + period) if n in sizes]
        step = self.slope * period // self.period
        if step == 0:
            return SizeSet.finite(points | {self(n) for n in firsts})
        starts = [self(n) for n in firsts]
        top = max([*points, *starts, 0]) + 1
        members = set(points)
        for first in starts:
            budget.spend(max(0, top - first) // step + 1)
            members.update(range(first, top, step))
        return SizeSet.build(
            lambda m: (
                m in members
                if m < top
                else any(m >= first and (m - first) % step == 0 for first in starts)
            ),
            top,
            step,
            budget,
        )

    def agree(self, other: SizeMap, budget: Budget | None = None) -> SizeSet:
        """{n ≥ 1 : f(n) = g(n)}: on a common period, each class is wholly in (equal slopes and
        offsets), out, or holds the one t = (b − a)/(c_f − c_g) where the lines cross."""
        period = math.lcm(self.period, other.period)
        f, g = self.refine(period), other.refine(period)
        _budget(budget).spend(period)
        classes, points = set(), []
        for r, (a, b) in enumerate(zip(f.offsets, g.offsets, strict=True)):
            if f.slope == g.slope:
                if a == b:
                    classes.add(r)
            elif (b - a) % (f.slope - g.slope) == 0:
                t = (b - a) // (f.slope - g.slope)
                if period * t + r >= 1 and t >= 0:
                    points.append(period * t + r)
        whole = SizeSet.build(lambda n: n % period in classes, 1, period, budget)
        return whole | SizeSet.finite(points) if points else whole


# --- the maps of the size rules -----------------------------------------------------------


def _upsample_shape(length: int, scale: float) -> tuple[int, int, int]:
    frac = Fraction(scale)
    return frac.denominator, frac.numerator, -(-frac.denominator // frac.numerator)


# rule → (its arguments but the length) → (period, slope, bound): the rule is affine on each
# class of its input modulo the period, with that slope, and refuses no input ≥ the bound
SHAPES: dict[Callable[..., int], Callable[..., tuple[int, int, int]]] = {
    arith.conv_out: lambda n, k, s, p, d: (s, 1, max(1, effective_kernel(k, d) - 2 * p)),
    arith.conv_same_out: lambda n, k, d: (1, 1, 1),
    arith.conv_transpose_out: lambda n, k, s, p, d, op: (1, s, 2 * p // s + 2),
    arith.pool_out: lambda n, k, s, p, d, c: (s, 1, max(1, effective_kernel(k, d) - 2 * p)),
    arith.adaptive_out: lambda n, size: (1, 1 if size is None else 0, 1),
    arith.upsample_out: _upsample_shape,
    arith.pad_out: lambda n, a, b, mode: (1, 1, 2 * (abs(a) + abs(b)) + 2),
    arith.ceil_half: lambda n: (2, 1, 1),
    arith.scaled: lambda n, factor: (1, factor, 1),
    arith.extended: lambda n, extra: (1, 1, 1),
    arith.kept: lambda n: (1, 1, 1),
    arith.set_by: lambda n, size, field: (1, 0, 1),
}


def rule_map(
    rule: Callable[..., int], args: tuple[Any, ...], budget: Budget | None = None
) -> tuple[SizeMap, int]:
    """The :class:`SizeMap` of ``rule`` with ``args`` (the first, the length, ignored) and the
    bound from which it refuses no input: period and slope read from the arguments, the
    offsets e_r = rule(m) − slope·(m // P) from the rule at P consecutive sizes m ≥ the bound."""
    period, slope, bound = SHAPES[rule](*args)
    _budget(budget).spend(period)
    start = period * -(-bound // period)
    offsets = [0] * period
    for m in range(start, start + period):
        offsets[m % period] = rule(m, *args[1:]) - slope * (m // period)
    return SizeMap(period, slope, tuple(offsets)), bound


# --- sizes as functions of the input's sizes ----------------------------------------------


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


# --- the conditions -----------------------------------------------------------------------


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
    ``dims`` each), and ``sizes`` the slice through the declared input."""

    path: str
    type: str
    sizes: SizeSet
    note: str = ""
    dims: tuple[str, ...] = ()
    sides: tuple[Side, ...] = ()
    relation: str = "valid"
    boxes: tuple[tuple[SizeSet, ...], ...] | None = None

    def describe(self) -> str:
        """``layers[3] maxpool: input ⌊H/2⌋ ∈ {H ≥ 2} → H ≥ 4``, in plain text."""
        sides = self.sides
        if self.relation == "valid" and sides and sides[0].accepts is not None:
            what = f"{sides[0].text} must be in {sides[0].accepts.describe('m')}"
        elif sides:
            what = " = ".join(f"{s.label} {s.text}" for s in sides)
        else:
            what = self.note
        name = self.dims[0] if len(self.dims) == 1 else "n"
        result = self.sizes.describe(name) if len(self.dims) <= 1 else _boxes_text(self)
        return f"{self.path} {self.type}: {what}: {result}"


def _boxes_text(limit: Limit) -> str:
    boxes = limit.boxes or ()
    return " or ".join(_box_text(box, limit.dims) for box in boxes) or "none"


def _box_text(box: tuple[SizeSet, ...], names: tuple[str, ...]) -> str:
    return "(" + " and ".join(s.describe(n) for s, n in zip(box, names, strict=True)) + ")"


class NotSolvable(ConvcalcError):
    """A network whose accepted sizes this solver cannot put in closed form: a layer without
    a rule along a dimension that still depends on the input, a condition joining dimensions
    in a way that is no finite union of boxes."""


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
class Meet:
    """A condition joining dimensions: ``∏ f_d(n_d)`` over ``maps`` is one of ``products``
    (a finite set), from the layer or join ``limit`` names."""

    maps: tuple[tuple[int, SizeMap], ...]
    products: tuple[int, ...]
    path: str
    type: str
    sides: tuple[Side, ...]
    note: str


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
                lists = [[n for n in _upto(s, m)] for s in box]
                if all(lists) and any(m in s for s in box):
                    for combo in _product_lists(lists):
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
            factors = "·".join(Term.of(d, f).text(self.names) if True else "" for d, f in meet.maps)
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
        return " or ".join(_box_text(box, self.names) for box in self.boxes)

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


def _upto(s: SizeSet, m: int) -> list[int]:
    out = []
    n = s.next_from(1)
    while n is not None and n <= m:
        out.append(n)
        n = s.next_from(n + 1)
    return out


def _product_lists(lists: list[list[int]]) -> Iterator[Sizes]:
    from itertools import product

    return product(*lists)


def _union(sets: list[SizeSet]) -> SizeSet:
    out = SizeSet.empty()
    for s in sets:
        out = out | s
    return out


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
    return {
        "path": limit.path,
        "type": limit.type,
        "dims": list(limit.dims),
        "relation": limit.relation,
        "note": limit.note,
        "sides": [
            {"label": s.label, "size": s.text}
            | ({"accepts": s.accepts.describe("m")} if s.accepts is not None else {})
            for s in limit.sides
        ],
        "sizes": limit.describe(),
    }


# --- the solver ---------------------------------------------------------------------------


PROBE = 2**20 * 3**2 * 5 * 7 * 11 * 13  # a size past any kernel that most windows divide
JOINS = ("sequential", "repeat", "residual", "concat", "split", "scale")
Terms = tuple[Term, ...]


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


class _Empty(Exception):
    """No size is accepted: a layer or join refuses whatever the size."""


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
    solver = _Solver(budget, names, declared, rebuild)
    start = (Term.const(spec.input[0]), *(Term.of(d, SizeMap()) for d in range(1, rank)))
    empty = False
    try:
        solver.walk(spec.layers, start)
    except _Empty:
        empty = True
    joint = solver.joint(empty)
    declared_sizes = tuple(spec.input[1:])
    per_dim = []
    for d, name in enumerate(names, start=1):
        sizes = joint.slice(d, declared_sizes) if names else SizeSet.empty()
        per_dim.append(Accepted(d, name, sizes, solver.limits_for(d, declared_sizes)))
    limits = tuple(
        replace(limit, boxes=tuple(solver.boxes_of(limit))) if len(limit.dims) > 1 else limit
        for limit in solver.limits
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


class _Solver:
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
        self.limits: list[Limit] = []
        self.memo: dict[tuple[int, tuple[int | None, ...]], Any] = {}

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
    ) -> None:
        """Keep only the sizes ``sizes`` of input dimension ``dim``, recording the condition
        where it removes any."""
        if self.sep[dim].issubset(sizes):
            return
        self.sep[dim] = self.sep[dim] & sizes
        name = self.names[dim - 1]
        self.limits.append(Limit(where[0], where[1], sizes, note, (name,), sides(), relation))
        if not self.sep[dim]:
            raise _Empty

    def refuse(self, where: tuple[str, str], note: str) -> None:
        self.limits.append(Limit(where[0], where[1], SizeSet.empty(), note, (), (), "valid"))
        raise _Empty

    def equal(
        self,
        term: Term,
        values: SizeSet,
        where: tuple[str, str],
        sides: Callable[[], tuple[Side, ...]],
        relation: str,
        note: str = "",
    ) -> Term:
        """The condition ``term ∈ values``: on one dimension its preimage; on a product, a
        :class:`Meet` (``values`` finite); the term after it (one value: that constant)."""
        value = term.value
        if value is not None:
            if value not in values:
                self.refuse(where, note or f"{value} is not in {values.describe('m')}")
            return term
        if len(term.maps) == 1:
            d, f = term.maps[0]
            self.restrict(d, f.preimage(values, self.budget), where, sides, relation, note)
        else:
            if not values.is_finite:
                if values == SizeSet.at_least(1):
                    return term
                raise NotSolvable(
                    f"the condition {term.text(self.names)} ∈ {values.describe('m')} joins "
                    "the dimensions in no finite union of boxes"
                )
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
                raise _Empty
        only = values.below[0] if values.is_finite and len(values.below) == 1 else None
        return Term.const(only) if only is not None else term

    # -- leaves

    def leaf(self, layer: Layer, label: str, terms: Terms) -> Terms:
        where = (label, layer.type)
        if not self.rebuild:
            terms = self.built(layer, where, terms)
        if all(t.value is not None for t in terms):
            shape = tuple(t.value or 0 for t in terms)
            try:
                out = layer.forward(shape).output
            except Refusal as exc:
                self.refuse(where, exc.message)
            return tuple(Term.const(n) for n in out)
        try:
            layout = layer.layout(self.probe(terms))
        except Refusal as exc:
            self.refuse(where, exc.message)
        if layout is not None:
            return self.arrange(layout, where, terms)
        return self.ruled(layer, where, terms)

    def probe(self, terms: Terms, scale: int = 1) -> Shape:
        """A concrete shape: constants as they are, each size still depending on the input
        a distinct large size (past every kernel, divisible by most windows)."""
        return tuple(
            t.value if t.value is not None else PROBE * scale * (i + 1) for i, t in enumerate(terms)
        )

    def built(self, layer: Layer, where: tuple[str, str], terms: Terms) -> Terms:
        """The sizes the declared input built the layer with (``built_sizes``): a size still
        depending on the input must be the one it has at the declared input."""
        marked = self.probe(terms)
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

    def ruled(self, layer: Layer, where: tuple[str, str], terms: Terms) -> Terms:
        """A layer whose output size i is its input's i through the step's size rule: each
        size depending on the input composed with the rule's map, the sizes the layer takes
        there pulled back."""
        key = (id(layer), tuple(t.value for t in terms))
        found = self.memo.get(key)
        if found is None:
            found = self.memo[key] = self.read(layer, where, terms)
        rules, out_probe = found
        out = []
        for i, t in enumerate(terms):
            if t.value is not None:
                out.append(Term.const(out_probe[i]))
                continue
            g, valid, refusal = rules[i]

            def side(t: Term = t, valid: SizeSet = valid) -> tuple[Side, ...]:
                return (self.expr_side("input", t, valid),)

            if valid != SizeSet.at_least(1):
                t = self.equal(t, valid, where, side, "valid", refusal)
            out.append(t.then(g, self.budget) if g is not None else t)
        return tuple(out)

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
            raise _Empty
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
            self.budget.spend(bound + g.period)
            rules[i] = (g, *self._valid(layer, shape, i, g, bound))
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
        """What a path of a block is given: the block's input (a split's slice of channels)."""
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
        """The block's output: its paths' sizes must agree (a residual's body and shortcut, a
        concat's branches), or a scale's gate be the input's size or 1; the block's own merge
        checks the constant sizes."""
        block, results, where = join.block, join.results, (join.label, join.block.type)
        if block.type in ("sequential", "repeat"):
            return results[-1][1] if results else join.terms
        if block.type == "scale":
            (path, gate), terms = results[0], join.terms
            for i, (t, g) in enumerate(zip(terms, gate, strict=False)):
                if t == g or g.value == 1 or (t.value is not None and g.value is not None):
                    continue
                self.agree(t, g, where, ("input", "gate"), gate_one=True, dim=i)
            base = self.probe(terms)
            sizes = tuple(
                g.value if g.value is not None else base[i] if i < len(base) else 0
                for i, g in enumerate(gate)
            )
            outputs = [(path, sizes)]
            return self.merged(join, outputs, terms)
        first_path, first = results[0]
        for path, other in results[1:]:
            if len(other) != len(first):
                break  # the merge refuses it
            for i, (a, b) in enumerate(zip(first, other, strict=True)):
                if a == b or (a.value is not None and b.value is not None):
                    continue
                if i == 0 and block.type in ("concat", "split") and a.value is None:
                    raise NotSolvable(f"{join.label}: joins sizes depending on the input")
                if i == 0 and block.type != "residual":
                    continue
                self.agree(a, b, where, (first_path.label, path.label), dim=i)
        same = list(first)  # a size some path has constant is that constant on every path
        for _, out in results:
            for i, t in enumerate(out[: len(same)]):
                if t.value is not None and same[i].value is None and i > 0:
                    same[i] = t
        base = self.probe(tuple(same))
        outputs = [
            (
                p,
                tuple(
                    t.value
                    if t.value is not None and (i == 0 or same[i].value is None)
                    else base[i]
                    if i < len(base)
                    else 0
                    for i, t in enumerate(out)
                ),
            )
            for p, out in results
        ]
        return self.merged(join, outputs, tuple(same))

    def merged(self, join: _Join, outputs: list[tuple[Path, Shape]], terms: Terms) -> Terms:
        try:
            out = join.block.merge(self.probe(join.terms), outputs)
        except Refusal as exc:
            self.refuse((join.label, join.block.type), exc.message)
        if len(out) != len(terms):
            raise NotSolvable(f"{join.label} ({join.block.type}): changes the rank")
        return tuple(
            t if t.value is None else Term.const(n) for t, n in zip(terms, out, strict=True)
        )

    def agree(
        self,
        a: Term,
        b: Term,
        where: tuple[str, str],
        labels: tuple[str, str],
        gate_one: bool = False,
        dim: int = 0,
    ) -> None:
        """The condition a = b (or b = 1, for a gate) on two sizes of the same place."""

        def sides() -> tuple[Side, ...]:
            return (self.expr_side(labels[0], a), self.expr_side(labels[1], b))

        note = f"{labels[0]} and {labels[1]} must agree along dimension {dim}"
        if gate_one:
            note = "the gate must be the input's size or 1"
        relation = "gate" if gate_one else "equal"
        if a.value is not None or b.value is not None:
            const, other = (a, b) if a.value is not None else (b, a)
            assert const.value is not None
            allowed = {const.value, 1} if gate_one and other is b else {const.value}
            self.equal(other, SizeSet.finite(allowed), where, sides, relation, note)
            return
        if len(a.maps) == 1 and len(b.maps) == 1 and a.dims == b.dims:
            d, f = a.maps[0]
            _, g = b.maps[0]
            sizes = f.agree(g, self.budget)
            if gate_one:
                sizes = sizes | g.agree(SizeMap.constant(1), self.budget)
            self.restrict(d, sizes, where, sides, relation, note)
            return
        raise NotSolvable(
            f"{where[0]} ({where[1]}): {labels[0]} {a.text(self.names)} and {labels[1]} "
            f"{b.text(self.names)} must agree, a condition joining the dimensions in no box"
        )

    # -- the answer

    def joint(self, empty: bool) -> Joint:
        """The union of boxes: each product condition's factorizations, intersected."""
        names = self.names
        if empty:
            return Joint(names, (), not self.meets, tuple(self.meets))
        base = tuple(self.sep[d] for d in range(1, len(names) + 1))
        boxes: list[tuple[SizeSet, ...]] = [base]
        for meet in self.meets:
            found: list[tuple[SizeSet, ...]] = []
            for product in meet.products:
                for factors in _factorizations(product, len(meet.maps), self.budget):
                    parts = {
                        d: f.preimage(SizeSet.finite([a]), self.budget)
                        for (d, f), a in zip(meet.maps, factors, strict=True)
                    }
                    for box in boxes:
                        self.budget.spend(len(names))
                        cut = tuple(
                            s & parts[i + 1] if i + 1 in parts else s for i, s in enumerate(box)
                        )
                        if all(cut):
                            found.append(cut)
            boxes = found
        return Joint(names, tuple(boxes), not self.meets, tuple(self.meets))

    def limits_for(self, dim: int, declared: Sizes) -> tuple[Limit, ...]:
        """The conditions on dimension ``dim`` with the others declared: its own, the joint
        ones sliced there, and any other dimension's that its declared size fails."""
        name = self.names[dim - 1]
        out: list[Limit] = []
        failing: list[Limit] = []  # another dimension's declared size refused: first
        for limit in self.limits:
            if limit.dims == (name,) or not limit.dims:
                out.append(limit)
            elif len(limit.dims) == 1:
                other = self.names.index(limit.dims[0])
                if declared[other] not in limit.sizes:
                    note = f"{limit.dims[0]} = {declared[other]} is refused" + (
                        f": {limit.note}" if limit.note else ""
                    )
                    failing.append(replace(limit, sizes=SizeSet.empty(), note=note, dims=(name,)))
            elif name in limit.dims:
                meet = next(
                    m for m in self.meets if m.path == limit.path and m.sides == limit.sides
                )
                sliced = Joint(
                    self.names,
                    tuple(self._meet_boxes(meet)),
                    False,
                ).slice(dim, declared)
                out.append(replace(limit, sizes=sliced, boxes=tuple(self.boxes_of(limit))))
        return (*failing, *out)

    def boxes_of(self, limit: Limit) -> list[tuple[SizeSet, ...]]:
        """The tuples a condition joining dimensions accepts, as boxes."""
        meet = next(m for m in self.meets if m.path == limit.path and m.sides == limit.sides)
        return [tuple(box[d - 1] for d, _ in meet.maps) for box in self._meet_boxes(meet)]

    def _meet_boxes(self, meet: Meet) -> list[tuple[SizeSet, ...]]:
        boxes = []
        for product in meet.products:
            for factors in _factorizations(product, len(meet.maps), self.budget):
                box = [SizeSet.at_least(1)] * len(self.names)
                for (d, f), a in zip(meet.maps, factors, strict=True):
                    box[d - 1] = f.preimage(SizeSet.finite([a]), self.budget)
                boxes.append(tuple(box))
        return boxes


def _factorizations(n: int, parts: int, budget: Budget) -> Iterator[tuple[int, ...]]:
    """Every ordered tuple of ``parts`` positive integers whose product is ``n``."""
    if parts == 1:
        yield (n,)
        return
    budget.spend(math.isqrt(n) + 1)
    divisors = [d for d in range(1, math.isqrt(n) + 1) if n % d == 0]
    divisors += [n // d for d in reversed(divisors) if d * d != n]
    for d in divisors:
        for rest in _factorizations(n // d, parts - 1, budget):
            yield (d, *rest)
