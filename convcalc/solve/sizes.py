"""Eventually periodic sets of sizes and the floor-affine maps between them: the arithmetic of
the input-size solver (:mod:`convcalc.solve.inputs`), without layers.

Along one spatial dimension every size rule of :mod:`convcalc.arith` is, on each residue class
of its input modulo a period P, affine: ``out(P·t + r) = c·t + e_r`` (a convolution's
⌊(n + 2p − d(k − 1) − 1)/s⌋ + 1 with P = s, c = 1; a ceil-mode pool the same, its dropped last
window a matter of n mod s; a transposed convolution P = 1, c = s; an upsampling by p/q,
P = q, c = p). Such maps compose into maps of the same form (:class:`SizeMap`, built from a
rule by :func:`rule_map`), and the sizes a layer accepts are all those from a bound on, with
finitely many below. So every set of sizes met is *eventually periodic*: finitely many members
below a threshold T, then residue classes modulo a period (:class:`SizeSet`), closed under
intersection, union, difference, and preimages and images by the maps.
"""

from __future__ import annotations

import math
import re
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from fractions import Fraction
from itertools import count
from typing import Any

from convcalc import arith
from convcalc.arith import effective_kernel
from convcalc.budget import Budget

__all__ = ["SHAPES", "SizeMap", "SizeSet", "Within", "rule_map"]


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

    def count_between(self, lo: int, hi: int) -> int:
        """How many members lie in lo … hi, in closed form: those below the threshold by
        bisection, and per residue r the n ≡ r (mod P) in [a, b], ⌊(b − r)/P⌋ − ⌊(a − 1 − r)/P⌋."""
        lo = max(lo, 1)
        if hi < lo:
            return 0
        top = min(hi, self.threshold - 1)
        found = bisect_right(self.below, top) - bisect_left(self.below, lo) if top >= lo else 0
        a = max(lo, self.threshold)
        if a <= hi:
            p = self.period
            found += sum((hi - r) // p - (a - 1 - r) // p for r in self.residues)
        return found

    def upto(self, m: int) -> list[int]:
        """The members ≤ m, in increasing order (each the :meth:`next_from` the one before)."""
        out = []
        n = self.next_from(1)
        while n is not None and n <= m:
            out.append(n)
            n = self.next_from(n + 1)
        return out

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


LISTED = 64  # a cut set of at most this many members is written as its members


@dataclass(frozen=True)
class Within:
    """The members of ``sizes`` inside ``spans`` (inclusive, increasing, disjoint): a set cut
    to a range of sizes asked (``--input 3,1..100000000,?``), kept in closed form, so that
    counting, membership and the nearest members cost the set's residues and the spans'
    number, never the range's length; listing is lazy."""

    sizes: SizeSet
    spans: tuple[tuple[int, int], ...]

    @property
    def is_finite(self) -> bool:
        return True

    def __contains__(self, n: object) -> bool:
        return (
            isinstance(n, int) and any(lo <= n <= hi for lo, hi in self.spans) and n in self.sizes
        )

    def count(self) -> int:
        """How many members: Σ over the spans of :meth:`SizeSet.count_between`."""
        return sum(self.sizes.count_between(lo, hi) for lo, hi in self.spans)

    def __bool__(self) -> bool:
        return self.smallest() is not None

    def next_from(self, n: int) -> int | None:
        """The smallest member ≥ n: the set's next member from n in the first span it meets."""
        for lo, hi in self.spans:
            if hi < n:
                continue
            found = self.sizes.next_from(max(n, lo))
            if found is not None and found <= hi:
                return found
        return None

    def last_to(self, n: int) -> int | None:
        """The largest member ≤ n: the set's last member to n in the last span it meets."""
        for lo, hi in reversed(self.spans):
            if lo > n:
                continue
            found = self.sizes.last_to(min(n, hi))
            if found is not None and found >= lo:
                return found
        return None

    def smallest(self) -> int | None:
        return self.next_from(1)

    def largest(self) -> int | None:
        return self.last_to(self.spans[-1][1]) if self.spans else None

    def __iter__(self) -> Iterator[int]:
        """The members in increasing order, lazily."""
        n = self.next_from(1)
        while n is not None:
            yield n
            n = self.next_from(n + 1)

    def upto(self, m: int) -> list[int]:
        """The members ≤ m, in increasing order."""
        out = []
        for n in self:
            if n > m:
                break
            out.append(n)
        return out

    def __or__(self, other: Within) -> Within:
        """The union of two cuts of the same spans (the boxes of one asked dimension)."""
        if other.spans != self.spans:
            raise ValueError("a union of sets cut to different ranges")
        return Within(self.sizes | other.sizes, self.spans)

    def describe(self, name: str = "n", inner: Callable[[SizeSet, str], str] | None = None) -> str:
        """In words, as :meth:`SizeSet.describe` writes the members (``H ∈ {16, …, 19}``)
        where they are few or a progression (``H ∈ {16, 32, …, 99999984}``), else the set's
        own words and the members' bounds: ``H mod 16 ∈ {0, …, 7}, 16 ≤ H ≤ 99999991``.
        With ``inner`` (the words of a set, as ``compact`` writes them), a progression first,
        by its ends: ``8 ≤ H ≤ 100000000``."""
        total = self.count()
        first, last = self.smallest(), self.largest()
        if total == 0 or first is None or last is None:
            return f"{name} ∈ ∅"
        second = self.next_from(first + 1)
        step = 0 if second is None else second - first
        progression = total >= 3 and last - first == (total - 1) * step
        if progression and inner is not None:
            if step == 1:
                return f"{first} ≤ {name} ≤ {last}"
            return f"{name} ∈ {{{first}, {second}, …, {last}}}"
        if total <= LISTED:
            return SizeSet.finite(self).describe(name)
        if progression:
            return f"{name} ∈ {{{first}, {'' if step == 1 else f'{second}, '}…, {last}}}"
        words = (inner or SizeSet.describe)(self.sizes, name)
        if " or " in words:
            words = f"({words})"
        spans = [
            (max(lo, first), min(hi, last)) for lo, hi in self.spans if hi >= first and lo <= last
        ]
        bounds = " or ".join(f"{lo} ≤ {name} ≤ {hi}" for lo, hi in spans)
        return f"{words}, {bounds if len(spans) == 1 else f'({bounds})'}"


def _finite_text(name: str, members: list[int]) -> str:
    """``H = 5`` or ``H ∈ {1, 2, 218, …, 224}``: runs of three or more with an ellipsis."""
    if len(members) == 1:
        return f"{name} = {members[0]}"
    return f"{name} ∈ {{{runs_text(members)}}}"


def runs_text(values: list[int]) -> str:
    """Sorted integers joined by commas, each run of three or more consecutive ones as
    ``first, …, last`` (``1, 2, 218, …, 224``)."""
    parts, i = [], 0
    while i < len(values):
        j = i
        while j + 1 < len(values) and values[j + 1] == values[j] + 1:
            j += 1
        if j - i >= 2:
            parts.append(f"{values[i]}, …, {values[j]}")
        else:
            parts.extend(str(v) for v in values[i : j + 1])
        i = j + 1
    return ", ".join(parts)


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
    def is_identity(self) -> bool:
        """f(n) = n: period 1, slope 1, offset 0 (a same-padded convolution's map)."""
        return self.period == 1 and self.slope == 1 and self.offsets == (0,)

    @property
    def value(self) -> int | None:
        """The one value of a constant map, None if the map is not constant."""
        if self.slope == 0 and len(set(self.offsets)) == 1:
            return self.offsets[0]
        return None

    def then(self, after: SizeMap, budget: Budget | None = None) -> SizeMap:
        """``after ∘ self``: with g = gcd(slope, P_after) and k = P_after / g, the period is
        P·k, the slope slope_after·slope/g, and the offset of r + P·v is after(slope·v + e_r).
        The identity on either side gives the other map itself, without work."""
        if after.is_identity:
            return self
        if self.is_identity:
            return after
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
    # Keras' rules (convcalc.spec.keras): ⌈n/s⌉, never refused; the transposed n·s + c
    arith.keras_same_out: lambda n, k, s, d: (s, 1, 1),
    arith.keras_transpose_out: lambda n, k, s, d, same, op: (1, s, 2),
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
