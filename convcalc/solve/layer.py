"""The inverse problem for one layer: every (kernel, stride, padding, dilation[, output_padding])
that maps a size-N dimension to size M.

The size rules are :mod:`convcalc.arith`'s; this module only enumerates. For each
(dilation, padding, kernel) the valid strides form at most two intervals, found in O(1) by
``arith.*_strides``; nothing loops over strides to test them. Solutions are generated lazily in
the order (dilation, padding, kernel_size, stride[, output_padding]), so a million of them stream
in constant memory; :func:`count` counts without generating them.

This module imports no third-party package: ``convcalc solve`` starts as fast as click.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from typing import Any, NamedTuple

from convcalc import arith
from convcalc.arith import RANGE
from convcalc.budget import Budget, WorkLimit
from convcalc.errors import ConvcalcError
from convcalc.layers.registry import KINDS, SOLVABLE

LAYERS = SOLVABLE
FIELDS = ("kernel_size", "stride", "padding", "dilation", "output_padding")
_RANGE = re.compile(rf"^\s*{RANGE}$")


def is_size(text: str) -> bool:
    """ASCII digits only (``int()`` also reads ``٣`` and ``１２``, ``isdigit()`` also ``²``),
    an optional ``+`` (as click reads ``--in +64``), and no more than 2^63's 19 digits."""
    text = text.removeprefix("+")
    return text.isascii() and text.isdigit() and len(text) <= 19


class RangeError(ConvcalcError):
    """A range flag that cannot be read, or does not apply."""


# a search that would take too long: the one work budget's error (convcalc.budget)
SearchLimit = WorkLimit

# how many settings the listing examines in a row without a solution, and how many steps a
# count may take, before saying so (each is well under a second): budgets of these sizes
IDLE_LIMIT = 100_000
COUNT_LIMIT = 100_000
IDLE_WHAT = (
    "none of them gave another solution; narrow the ranges (--kernel, --stride, --padding, "
    "--dilation)"
)


@dataclass(frozen=True)
class Range:
    """Sorted, disjoint, closed intervals of non-negative integers: ``1..3,7``."""

    intervals: tuple[tuple[int, int], ...]

    @classmethod
    def parse(cls, text: str, what: str) -> Range:
        """``5``, ``1,3,5``, ``0..4`` or ``1..3,7``; anything else is a :class:`RangeError`."""
        if not _RANGE.match(text):
            raise RangeError(
                f"{what}: cannot read {text!r}: expected non-negative integers and ranges "
                "such as 5, 1,3,5, 0..4 or 1..3,7"
            )
        parts = []
        for piece in text.split(","):
            lo, _, hi = piece.partition("..")
            if max(len(lo.strip()), len(hi.strip())) > 19:  # 2^63 has 19 digits
                raise RangeError(f"{what}: {piece.strip()} is beyond any size (2^63 − 1 at most)")
            start, end = int(lo), int(hi) if hi else int(lo)
            if start > end:
                raise RangeError(
                    f"{what}: the range {piece.strip()} is reversed (write {end}..{start})"
                )
            parts.append((start, end))
        return cls.of(parts)

    @classmethod
    def of(cls, parts: list[tuple[int, int]]) -> Range:
        merged: list[tuple[int, int]] = []
        for lo, hi in sorted(parts):
            if merged and lo <= merged[-1][1] + 1:
                merged[-1] = (merged[-1][0], max(merged[-1][1], hi))
            else:
                merged.append((lo, hi))
        return cls(tuple(merged))

    @classmethod
    def span(cls, lo: int, hi: int) -> Range:
        return cls(((lo, hi),) if lo <= hi else ())

    @property
    def lo(self) -> int:
        return self.intervals[0][0]

    @property
    def hi(self) -> int:
        return self.intervals[-1][1]

    def __iter__(self) -> Iterator[int]:
        for lo, hi in self.intervals:
            yield from range(lo, hi + 1)

    def __contains__(self, value: object) -> bool:
        return any(lo <= value <= hi for lo, hi in self.intervals)  # type: ignore[operator]

    def __len__(self) -> int:
        return self.size

    @property
    def size(self) -> int:
        """How many values (``len()`` cannot say past 2^63)."""
        return sum(hi - lo + 1 for lo, hi in self.intervals)

    def within(self, lo: int, hi: int | None) -> Iterator[tuple[int, int]]:
        """The parts of this range inside [lo, hi] (hi ``None``: unbounded)."""
        for a, b in self.intervals:
            start, end = max(a, lo), b if hi is None else min(b, hi)
            if start <= end:
                yield start, end

    def count_within(self, lo: int, hi: int | None) -> int:
        return sum(end - start + 1 for start, end in self.within(lo, hi))

    def __str__(self) -> str:
        return ",".join(str(lo) if lo == hi else f"{lo}..{hi}" for lo, hi in self.intervals)


@dataclass(frozen=True)
class Problem:
    """A fully bounded single-layer question; build it with :func:`problem`."""

    layer: str
    n: int
    m: int
    kernel_size: Range
    stride: Range
    padding: Range
    dilation: Range
    output_padding: Range
    ceil_mode: bool = False
    no_gaps: bool = False
    exact: bool = False
    notes: tuple[str, ...] = field(default=())
    keras: str | None = None  # a Keras layer's padding, "valid" or "same"; None: PyTorch's
    keras_op: bool = False  # a Keras Conv*DTranspose given an output_padding (else None)

    @property
    def fields(self) -> tuple[str, ...]:
        """The settings a solution gives: conv_transpose's output_padding too (a Keras one's
        only when asked with --output-padding: Keras' default is None, not a number)."""
        if self.layer != "conv_transpose" or (self.keras is not None and not self.keras_op):
            return FIELDS[:4]
        return FIELDS

    @property
    def names(self) -> tuple[str, ...]:
        """The fields as the framework names them: Keras' kernel_size (a pool's pool_size),
        strides, padding and dilation_rate (a pool has none)."""
        if self.keras is None:
            return self.fields
        if KINDS[self.layer].pool:
            return ("pool_size", "strides", "padding")
        return ("kernel_size", "strides", "padding", "dilation_rate", *self.fields[4:])

    def padding_text(self, p: int) -> str:
        """A solution's padding as the framework writes it: Keras' word, else the number."""
        return self.keras if self.keras is not None else str(p)

    def bounds(self) -> dict[str, str]:
        values = {name: str(getattr(self, name)) for name in self.fields}
        if self.keras is not None:
            values["padding"] = self.keras
        return dict(zip(self.names, values.values(), strict=False))

    def solutions(self) -> Iterator[tuple[int, ...]]:
        """Every solution: see :func:`solutions`."""
        return solutions(self)

    def count(self) -> int:
        """How many solutions there are: see :func:`count`."""
        return count(self)


def solve_layer(layer: str, n: int, m: int, **options: Any) -> Problem:
    """The question "which settings of ``layer`` take size ``n`` to size ``m``?", ready to be
    answered with ``.solutions()`` or ``.count()``. ``options`` are :func:`problem`'s: ranges
    as text (``kernel_size="1..7"``), ``ceil_mode``, ``no_gaps``, ``exact``."""
    return problem(layer, n, m, **options)


def problem(
    layer: str,
    n: int,
    m: int,
    *,
    kernel_size: str | None = None,
    stride: str | None = None,
    padding: str | None = None,
    dilation: str | None = None,
    output_padding: str | None = None,
    ceil_mode: bool = False,
    no_gaps: bool = False,
    exact: bool = False,
    framework: str = "pytorch",
) -> Problem:
    """Parse the ranges, check what applies to ``layer``, and fill in documented defaults.

    Defaults: padding 0, dilation 1; kernels, every size that can fit (conv and pools) or reach
    M (conv_transpose); strides, every one that can matter; output_padding, every valid one.
    Where the solution set is infinite (M = 1; conv_transpose with N = 1) the bound is a note.
    ``framework="keras"``: Keras' Conv and pools, ``padding`` ``valid`` (the default) or
    ``same`` (:func:`keras_problem`).
    """
    if framework == "keras":
        return keras_problem(
            layer, n, m, kernel_size, stride, padding, dilation, output_padding,
            ceil_mode, no_gaps, exact,
        )  # fmt: skip
    given = {
        "kernel_size": kernel_size,
        "stride": stride,
        "padding": padding,
        "dilation": dilation,
        "output_padding": output_padding,
    }
    _check_applies(layer, n, m, ceil_mode, output_padding is not None, exact)
    ranges = _parse_ranges(layer, given)
    padding_r = ranges.get("padding", Range.span(0, 0))
    dilation_r = ranges.get("dilation", Range.span(1, 1))
    kernel_default, stride_top, notes = _defaults(layer, n, m, ranges, ceil_mode)
    kernel_r = ranges.get("kernel_size", kernel_default)
    stride_r = ranges.get("stride", Range.span(1, stride_top))
    op_default = Range.span(0, max(stride_r.hi, dilation_r.hi) - 1)
    op_r = ranges.get(
        "output_padding", op_default if layer == "conv_transpose" else Range.span(0, 0)
    )
    return Problem(
        layer=layer,
        n=n,
        m=m,
        kernel_size=kernel_r,
        stride=stride_r,
        padding=padding_r,
        dilation=dilation_r,
        output_padding=op_r,
        ceil_mode=ceil_mode,
        no_gaps=no_gaps,
        exact=exact,
        notes=tuple(notes),
    )


def keras_problem(
    layer: str,
    n: int,
    m: int,
    kernel_size: str | None,
    stride: str | None,
    padding: str | None,
    dilation: str | None,
    output_padding: str | None,
    ceil_mode: bool,
    no_gaps: bool,
    exact: bool,
) -> Problem:
    """A Keras layer's question: Conv (padding ``valid``, PyTorch's rule without padding, or
    ``same``, ⌈N/s⌉ for any kernel), MaxPooling/AveragePooling (the same two, no
    dilation) and ConvTranspose (:func:`_keras_transpose_strides`); Keras' Conv and
    ConvTranspose refuse a stride above 1 with a dilation above 1. Defaults as PyTorch's;
    with ``same`` every kernel works, listed up to N (a ConvTranspose's up to M)."""
    if layer not in ("conv", "maxpool", "avgpool", "conv_transpose"):
        raise RangeError(
            f"--framework keras solves conv, maxpool, avgpool and conv_transpose (Keras' Conv, "
            f"pooling and ConvTranspose layers), not {layer}"
        )
    if ceil_mode or (output_padding is not None and layer != "conv_transpose"):
        flag = "--ceil" if ceil_mode else "--output-padding"
        raise RangeError(f"{flag}: Keras' {layer} has none (its padding is valid or same)")
    mode = "valid" if padding is None else padding.strip()
    if mode not in ("valid", "same"):
        raise RangeError(f"--padding: Keras' padding is valid or same, not {padding!r}")
    if exact and mode == "same":
        raise RangeError("--exact: Keras' same pads to ⌈N/s⌉, so it applies to valid only")
    if KINDS[layer].pool and dilation is not None and dilation.strip() != "1":
        raise RangeError("--dilation: Keras' pooling layers have no dilation")
    if layer == "conv_transpose":
        return _keras_transpose_problem(
            n, m, kernel_size, stride, dilation, output_padding, mode, no_gaps, exact
        )
    base = problem(
        layer, n, m, kernel_size=kernel_size, stride=stride, dilation=dilation,
        no_gaps=no_gaps, exact=exact,
    )  # fmt: skip
    if mode == "valid":
        return replace(base, keras=mode)
    notes = [note for note in base.notes if not note.startswith("--out 1: every stride")]
    if m == 1 and stride is None:
        notes.append(
            f"--out 1: every stride s ≥ {n} works; strides listed up to {base.stride.hi} "
            "(give --stride for others)"
        )
    kernels = base.kernel_size
    if kernel_size is None:
        kernels = Range.span(1, n)
        notes.append(
            f"Keras' same pads any kernel: kernels listed up to {n} (give --kernel for others)"
        )
    return replace(base, kernel_size=kernels, keras=mode, notes=tuple(notes))


def _keras_transpose_problem(
    n: int,
    m: int,
    kernel_size: str | None,
    stride: str | None,
    dilation: str | None,
    output_padding: str | None,
    mode: str,
    no_gaps: bool,
    exact: bool,
) -> Problem:
    """Keras' Conv*DTranspose question. Strides searched up to ⌊(M − 1)/(N − 1)⌋ (valid:
    (N − 1)·s ≤ M − k_eff; same: N·s = M, or (N − 1)·s ≤ M with an output_padding), M for
    N = 1; kernels up to ⌊(M − 1)/d⌋ + 1 (valid: k_eff ≤ M), or up to M (same: any kernel);
    an output_padding given is kept below the stride, as Keras requires."""
    op = output_padding is not None
    base = problem(
        "conv_transpose", n, m, kernel_size=kernel_size, stride=stride, dilation=dilation,
        output_padding=output_padding, no_gaps=no_gaps, exact=exact,
    )  # fmt: skip
    stride_top = m if n == 1 else (m if mode == "same" and op else m - 1) // (n - 1)
    strides = base.stride if stride is not None else Range.span(1, max(1, stride_top))
    notes = [note for note in base.notes if not note.startswith("with --in 1")]
    if n == 1 and op and stride is None:  # K + op = M (or K mod 2 + op): any stride above op
        notes.append(
            f"with --in 1 the stride only bounds the output_padding (op < s): strides listed "
            f"up to {strides.hi} (give --stride for others)"
        )
    kernels = base.kernel_size
    if mode == "same" and kernel_size is None:
        kernels = Range.span(1, m)
        notes.append(
            f"Keras' same: the kernel does not change N·s (with an output_padding only its "
            f"parity counts): kernels listed up to {m} (give --kernel for others)"
        )
    return replace(
        base, kernel_size=kernels, stride=strides, keras=mode, keras_op=op, notes=tuple(notes)
    )


def _check_applies(
    layer: str, n: int, m: int, ceil_mode: bool, output_padding: bool, exact: bool
) -> None:
    """Refuse a layer convcalc cannot solve, sizes below 1, and flags for another layer."""
    if layer not in LAYERS:
        raise RangeError(f"--layer must be one of {', '.join(LAYERS)}, not {layer!r}")
    if n < 1 or m < 1:
        raise RangeError("--in and --out must be positive sizes")
    if ceil_mode and not KINDS[layer].pool:
        raise RangeError(f"--ceil applies to maxpool and avgpool, not {layer}")
    if output_padding and layer != "conv_transpose":
        raise RangeError(f"--output-padding applies to conv_transpose only, not {layer}")
    if exact and layer == "conv_transpose":
        raise RangeError("--exact applies to conv and the pools (conv_transpose drops nothing)")


def _parse_ranges(layer: str, given: dict[str, str | None]) -> dict[str, Range]:
    """The ranges given, parsed and checked (kernel, stride and dilation at least 1)."""
    ranges = {
        name: Range.parse(text, f"--{name.replace('_size', '').replace('_', '-')}")
        for name, text in given.items()
        if text is not None
    }
    for name in ("kernel_size", "stride", "dilation"):
        if name in ranges and ranges[name].lo < 1:
            raise RangeError(f"--{name.replace('_size', '')}: values must be at least 1")
    if layer == "avgpool" and "dilation" in ranges and set(ranges["dilation"]) != {1}:
        raise RangeError("--dilation: avgpool has no dilation (only 1 is allowed)")
    return ranges


def _defaults(
    layer: str, n: int, m: int, ranges: dict[str, Range], ceil_mode: bool
) -> tuple[Range, int, list[str]]:
    """The kernels and the largest stride searched where none are given, and the notes that
    say where an infinite solution set was cut."""
    notes: list[str] = []
    p_max = ranges["padding"].hi if "padding" in ranges else 0
    d_min = ranges["dilation"].lo if "dilation" in ranges else 1
    if layer == "conv_transpose":
        kernel_default = Range.span(1, (m - 1 + 2 * p_max) // d_min + 1)
        stride_top = max(1, (m - 1 + 2 * p_max) // (n - 1)) if n > 1 else m + 2 * p_max
        if n == 1 and "stride" not in ranges:
            notes.append(
                f"with --in 1 the stride does not change the output: strides listed up to "
                f"{stride_top} (give --stride for others)"
            )
        return kernel_default, stride_top, notes
    kernel_default = Range.span(1, (n + 2 * p_max - 1) // d_min + 1)
    stride_top = n + 2 * p_max
    if m == 1 and "stride" not in ranges:
        notes.append(
            f"--out 1: every stride larger than the padded input minus the kernel works; "
            f"strides listed up to {stride_top} (give --stride for others)"
        )
    if m == 1 and ceil_mode and "kernel_size" not in ranges:
        notes.append(
            "--out 1 in ceil mode: kernels larger than the input also work with a large "
            f"enough stride; kernels listed up to {kernel_default.hi}"
        )
    return kernel_default, stride_top, notes


# --- where solutions can be ---------------------------------------------------------------
#
# Every layer's size rule depends on (k, p, d) only through one number,
#   E = base + 2p − d·(k − 1):   A = N + 2p − k_eff (base N − 1) for conv and the pools,
#                                R = M − 1 + 2p − d·(k − 1) (base M − 1) for conv_transpose.
# The searched strides bound E (a "band"), and the band bounds each loop: dilations, then
# paddings at a dilation, then kernels at both. The windows may hold settings without a
# solution (the band is necessary, not sufficient); those spend from the listing's budget of
# settings in a row without a solution (IDLE_LIMIT).


def _base(pb: Problem) -> int:
    return pb.m - 1 if pb.layer == "conv_transpose" else pb.n - 1


def _band(pb: Problem) -> tuple[int, int]:
    """[lo, hi] holding E for every solution, from the stride range [s_a, s_b]."""
    s_a, s_b, m, n = pb.stride.lo, pb.stride.hi, pb.m, pb.n
    if pb.layer == "conv_transpose":  # R = (N − 1)·s + op, 0 ≤ op < max(s, d)
        return (n - 1) * s_a, (n - 1) * s_b + max(s_b, pb.dilation.hi) - 1
    if pb.ceil_mode:  # ⌈A/s⌉ is M or M − 1: s·(M − 2) < A ≤ s·M
        return (1 - s_b if m == 1 else (m - 2) * s_a + 1), m * s_b
    return (m - 1) * s_a, m * s_b - 1  # A // s = M − 1


def _ceil_div(a: int, b: int) -> int:
    return -(-a // b)


def _dilations(pb: Problem) -> Range:
    """Dilations at which some kernel and padding in range put E in the band (Keras' same:
    all, its size does not depend on E)."""
    if pb.keras == "same":
        return pb.dilation
    lo, hi = _band(pb)
    base, parts = _base(pb), list[tuple[int, int]]()
    if len(pb.kernel_size.intervals) * len(pb.padding.intervals) > 10_000:
        return pb.dilation
    for ka, kb in pb.kernel_size.intervals:
        for pa, pb_ in pb.padding.intervals:
            # E falls as d grows: it is largest at (pb_, ka) and smallest at (pa, kb)
            most, least = base + 2 * pb_, base + 2 * pa
            if (ka == 1 and most < lo) or (kb == 1 and least > hi):
                continue  # a 1-wide kernel ignores d: the band is missed at every dilation
            d_hi = None if ka == 1 else (most - lo) // (ka - 1)
            d_lo = 1 if kb == 1 else max(1, _ceil_div(least - hi, kb - 1))
            parts.extend(pb.dilation.within(d_lo, d_hi))
    return Range.of(parts)


def _paddings(pb: Problem, d: int) -> Range:
    """Paddings at dilation d at which some kernel in range puts E in the band."""
    if pb.keras == "same":
        return pb.padding
    lo, hi = _band(pb)
    base, parts = _base(pb), list[tuple[int, int]]()
    for ka, kb in pb.kernel_size.intervals:
        p_lo = max(0, _ceil_div(lo - base + d * (ka - 1), 2))
        p_hi = (hi - base + d * (kb - 1)) // 2
        if KINDS[pb.layer].pool:
            p_hi = min(p_hi, kb // 2)
        if p_lo <= p_hi:
            parts.extend(pb.padding.within(p_lo, p_hi))
    return Range.of(parts)


def _kernels(pb: Problem, p: int, d: int) -> Range:
    """Kernels at (p, d) that put E in the band; pools also need p ≤ k // 2 (k ≥ 2p)."""
    if pb.keras == "same":
        return pb.kernel_size
    lo, hi = _band(pb)
    e = _base(pb) + 2 * p  # E = e − d·(k − 1)
    k_lo = max(1, _ceil_div(e - hi, d) + 1, 2 * p if KINDS[pb.layer].pool else 1)
    k_hi = (e - lo) // d + 1
    return Range(tuple(pb.kernel_size.within(k_lo, k_hi)))


def _candidate_kernels(pb: Problem, p: int, d: int, idle: Budget) -> Iterator[int]:
    """The kernels worth trying at (p, d), ascending. Where the strides that can give M are
    fewer than the kernels (large M), walk the strides instead: for each stride the kernels
    giving M form one interval (``arith.conv_kernels``), and as the stride falls they rise."""
    kernels = _kernels(pb, p, d)
    if not kernels.intervals:
        return
    floor_mode = pb.layer != "conv_transpose" and not pb.ceil_mode and pb.keras != "same"
    top = (pb.n - 1 + 2 * p - d * (kernels.lo - 1)) // (pb.m - 1) if pb.m > 1 else 0
    if not floor_mode or pb.m < 2 or pb.stride.count_within(1, top) >= kernels.size:
        for k in kernels:
            idle.spend()
            yield k
        return
    done = 0  # every kernel up to here has been yielded
    for a, b in reversed(tuple(pb.stride.within(1, top))):
        for s in range(b, a - 1, -1):
            idle.spend()
            found = arith.conv_kernels(pb.n, pb.m, s, p, d)
            if found is None:
                continue
            for lo, hi in kernels.within(max(found[0], done + 1), found[1]):
                yield from range(lo, hi + 1)
            done = max(done, found[1])


def why(pb: Problem, k: int, p: int, d: int, k_hi: int | None = None) -> str:
    """Why the strides listed for (k, p, d) are the solutions: the size rule with its numbers,
    solved for s (the derivations next to ``arith.*_strides``); ``k_hi``: a row of kernels
    k..k_hi (:func:`blocks`), whose rule does not depend on the kernel."""
    if pb.keras is not None and pb.layer == "conv_transpose":
        text = _keras_transpose_why(pb, k, d)
        if d > 1:
            text += "; Keras' ConvTranspose takes a dilation_rate above 1 with strides 1 only"
    elif pb.keras is not None:
        text = (
            arith.keras_same_strides_why(pb.n, pb.m)
            if pb.keras == "same"
            else arith.conv_strides_why(pb.n, pb.m, k, p, d)
        )
        if d > 1 and pb.layer == "conv":
            text += "; Keras' Conv takes a dilation_rate above 1 with strides 1 only"
    elif pb.layer == "conv":
        text = arith.conv_strides_why(pb.n, pb.m, k, p, d)
    elif pb.layer == "conv_transpose":
        return arith.conv_transpose_strides_why(pb.n, pb.m, k, p, d)
    else:
        text = arith.pool_strides_why(pb.n, pb.m, k, p, d, pb.ceil_mode)
    a, k_eff = pb.n + 2 * p - arith.effective_kernel(k, d), arith.effective_kernel(k, d)
    if pb.no_gaps and k_hi is not None and k_hi > k:
        top = arith.effective_kernel(k_hi, d)
        text += f"; --no-gaps keeps s ≤ k_eff = {d}·(k − 1) + 1, {k_eff}..{top} in this row"
    elif pb.no_gaps:
        text += f"; --no-gaps keeps s ≤ k_eff = {k_eff}"
    if pb.exact:
        text += f"; --exact keeps the strides that divide N + 2p − k_eff = {a}"
    return text


def completeness(pb: Problem) -> list[str]:
    """Why there are no solutions outside the list: the bounds that the searched ranges cover
    (each kernel's strides are then exactly the interval its equation gives)."""
    n, m = pb.n, pb.m
    p_max, d_min = pb.padding.hi, pb.dilation.lo
    lines = []
    if pb.keras is not None and pb.layer == "conv_transpose":
        lines.extend(_keras_transpose_bounds(pb))
    elif pb.keras == "same":
        lines.append("kernel: Keras' same pads any kernel, ⌈N/s⌉ does not depend on it")
        if m > 1:
            lines.append(
                f"stride: (M − 1)·s < N, so s ≤ ⌊({n} − 1) / {m - 1}⌋ = {(n - 1) // (m - 1)}"
            )
    elif pb.layer == "conv_transpose":
        lines.append(
            f"kernel: d·(k − 1) = M − 1 + 2p − (N − 1)·s − op ≤ M − 1 + 2p, so k ≤ "
            f"⌊({m} − 1 + 2·{p_max}) / {d_min}⌋ + 1 = {(m - 1 + 2 * p_max) // d_min + 1}"
        )
        if n > 1:
            top = (m - 1 + 2 * p_max) // (n - 1)
            lines.append(
                f"stride: (N − 1)·s ≤ M − 1 + 2p, so s ≤ ⌊({m} − 1 + 2·{p_max}) / {n - 1}⌋ = {top}"
            )
    else:
        lines.append(
            f"kernel: the window must fit the padded input, d·(k − 1) + 1 ≤ N + 2p, so k ≤ "
            f"⌊({n} + 2·{p_max} − 1) / {d_min}⌋ + 1 = {(n + 2 * p_max - 1) // d_min + 1}"
        )
        if KINDS[pb.layer].pool and pb.padding.hi > 0:
            lines.append("padding: a pool needs p ≤ k // 2, so k ≥ 2p")
        if m > 1 and pb.ceil_mode:
            lines.append(
                f"stride: ⌈A/s⌉ ≥ M − 1 = {m - 1} with A ≤ {n + 2 * p_max - 1}, so s ≤ "
                f"{n + 2 * p_max - 1}, within the searched strides"
            )
        elif m > 1:
            lines.append(
                f"stride: M − 1 = {m - 1} steps of s fit in N + 2p − d·(k − 1) − 1 ≤ "
                f"{n + 2 * p_max - 1}, so s ≤ {(n + 2 * p_max - 1) // (m - 1)}"
            )
    lines.append(
        f"searched: {' · '.join(f'{k} {v}' for k, v in pb.bounds().items())}; within these "
        "bounds each kernel's strides are exactly those its equation gives"
        + (" (then filtered as each row says)" if pb.exact or pb.no_gaps else "")
        + ", so no other setting in these ranges works"
    )
    return lines


def _keras_transpose_bounds(pb: Problem) -> list[str]:
    """The bounds of a Keras ConvTranspose's search: the kernel's and the stride's."""
    n, m, d_min = pb.n, pb.m, pb.dilation.lo
    if pb.keras == "same":
        kernel = "kernel: Keras' same: N·s does not depend on it" + (
            "; with an output_padding only k_eff mod 2 counts" if pb.keras_op else ""
        )
        if pb.keras_op:
            top = m // (n - 1) if n > 1 else None
            stride = f"stride: (N − 1)·s ≤ M, so s ≤ ⌊{m} / {n - 1}⌋ = {top}" if top else ""
        else:
            stride = f"stride: N·s = M, so s = {m} / {n}"
        return [kernel] + ([stride] if stride else [])
    lines = [
        f"kernel: out = (N − 1)·s + {'k_eff + op' if pb.keras_op else 'max(k_eff, s)'} ≥ k_eff = "
        f"d·(k − 1) + 1, so k ≤ ⌊({m} − 1) / {d_min}⌋ + 1 = {(m - 1) // d_min + 1}"
    ]
    if n > 1:
        lines.append(
            f"stride: (N − 1)·s ≤ M − 1, so s ≤ ⌊({m} − 1) / {n - 1}⌋ = {(m - 1) // (n - 1)}"
        )
    elif not pb.keras_op:
        lines.append(f"stride: with N = 1 the output is max(k_eff, s) = {m}, so s ≤ {m}")
    return lines


def _stride_intervals(pb: Problem, k: int, p: int, d: int) -> list[arith.Interval]:
    """The strides giving M at (k, p, d): the rule of the framework's layer
    (:data:`STRIDE_RULES`)."""
    return STRIDE_RULES[pb.keras is not None, pb.keras == "same", pb.layer](pb, k, p, d)


def _keras_conv(found: list[arith.Interval], pb: Problem, d: int) -> list[arith.Interval]:
    """Keras' Conv and ConvTranspose refuse strides above 1 with a dilation_rate above 1."""
    if d == 1 or pb.layer not in ("conv", "conv_transpose"):
        return found
    return [(1, 1) for lo, hi in found if lo <= 1 and (hi is None or hi >= 1)]


def _keras_transpose_rest(pb: Problem, k: int, d: int) -> int:
    """What the strides and the output_padding op must make up in Keras' ConvTranspose with
    an output_padding: R = (N − 1)·s + op, R = M − k_eff (valid) or M − k_eff mod 2 (same)."""
    k_eff = arith.effective_kernel(k, d)
    return pb.m - (k_eff % 2 if pb.keras == "same" else k_eff)


def _keras_transpose_strides(pb: Problem, k: int, d: int) -> list[arith.Interval]:
    """The strides that give M in Keras' Conv*DTranspose at (k, d), k_eff = d·(k − 1) + 1.

    Without an output_padding: valid (N − 1)·s + max(k_eff, s) = M, so s = (M − k_eff)/(N − 1)
    with s ≤ k_eff, or s = M/N with s > k_eff (N = 1: M = k_eff and any s ≤ k_eff, or s = M);
    same N·s = M, s = M/N. With one, 0 ≤ op = R − (N − 1)·s < s: R/N < s ≤ R/(N − 1), so
    ⌊R/N⌋ + 1 ≤ s ≤ ⌊R/(N − 1)⌋ (N = 1: s ≥ R + 1)."""
    n, m = pb.n, pb.m
    k_eff = arith.effective_kernel(k, d)
    if pb.keras_op:
        r = _keras_transpose_rest(pb, k, d)
        if r < 0:
            return []
        if n == 1:
            return [(r + 1, None)]
        lo, hi = r // n + 1, r // (n - 1)
        return [(lo, hi)] if lo <= hi else []
    whole: list[arith.Interval] = [(m // n, m // n)] if m % n == 0 else []
    if pb.keras == "same":
        return whole
    if n == 1:
        return [(1, k_eff)] if m == k_eff else [(m, m)] if m > k_eff else []
    below: list[arith.Interval] = []
    if m > k_eff and (m - k_eff) % (n - 1) == 0 and (m - k_eff) // (n - 1) <= k_eff:
        below = [((m - k_eff) // (n - 1),) * 2]
    return below + [(s, t) for s, t in whole if s > k_eff]


def _keras_transpose_why(pb: Problem, k: int, d: int) -> str:
    """Why :func:`_keras_transpose_strides` gives its strides, with the numbers."""
    n, m = pb.n, pb.m
    k_eff = arith.effective_kernel(k, d)
    found = ", ".join(f"s = {lo}" if lo == hi else f"s in {lo}..{hi or '∞'}"
                      for lo, hi in _keras_transpose_strides(pb, k, d)) or "no stride"  # fmt: skip
    if pb.keras_op:
        r = _keras_transpose_rest(pb, k, d)
        kept = f"{k_eff} mod 2" if pb.keras == "same" else f"{k_eff}"
        return (
            f"Keras' {pb.keras} with output_padding: ({n} − 1)·s + {kept} + op = {m} ⇔ "
            f"{n - 1}·s + op = {r} with 0 ≤ op < s ⇔ {found}, op = {r} − {n - 1}·s"
        )
    if pb.keras == "same":
        return f"Keras' same: {n}·s = {m} ⇔ {found} (any kernel)"
    return (
        f"Keras' valid: ({n} − 1)·s + max(k_eff, s) = {m} with k_eff = {d}·({k} − 1) + 1 = "
        f"{k_eff} ⇔ {found}"
    )


StrideRule = Callable[[Problem, int, int, int], list[arith.Interval]]
# (Keras, Keras' same, layer) → the strides that give M at (k, p, d)
STRIDE_RULES: dict[tuple[bool, bool, str], StrideRule] = {
    (False, False, "conv"): lambda pb, k, p, d: arith.conv_strides(pb.n, pb.m, k, p, d),
    (False, False, "conv_transpose"): lambda pb, k, p, d: arith.conv_transpose_strides(
        pb.n, pb.m, k, p, d
    ),
    **{
        (False, False, pool): lambda pb, k, p, d: arith.pool_strides(
            pb.n, pb.m, k, p, d, pb.ceil_mode
        )
        for pool in ("maxpool", "avgpool")
    },
    **{
        (True, False, kind): lambda pb, k, p, d: _keras_conv(
            arith.conv_strides(pb.n, pb.m, k, 0, d), pb, d
        )
        for kind in ("conv", "maxpool", "avgpool")
    },
    **{
        (True, True, kind): lambda pb, k, p, d: _keras_conv(
            arith.keras_same_strides(pb.n, pb.m), pb, d
        )
        for kind in ("conv", "maxpool", "avgpool")
    },
    **{
        (True, same, "conv_transpose"): lambda pb, k, p, d: _keras_conv(
            _keras_transpose_strides(pb, k, d), pb, d
        )
        for same in (False, True)
    },
}


def _spans(pb: Problem, k: int, p: int, d: int) -> Iterator[tuple[int, int]]:
    """The searched strides that solve the problem at (k, p, d), as ascending intervals; for
    conv_transpose, the strides whose output_padding is also in range. O(1) per interval."""
    k_eff = arith.effective_kernel(k, d)
    for lo, hi in _stride_intervals(pb, k, p, d):
        if pb.no_gaps:
            hi = k_eff if hi is None else min(hi, k_eff)
            if lo > hi:
                continue
        if pb.exact:
            found = _exact_stride(pb.n + 2 * p - k_eff, lo, hi, pb.ceil_mode)
            if found is None:
                continue
            lo, hi = found
        if "output_padding" in pb.fields:
            r = _transpose_rest(pb, k, p, d)  # op = r − (N−1)·s
            for s_lo, s_hi in pb.stride.within(lo, hi):
                yield from _with_output_padding(pb, r, s_lo, s_hi)
        else:
            yield from pb.stride.within(lo, hi)


def _exact_stride(a: int, lo: int, hi: int | None, ceil: bool) -> tuple[int, int | None] | None:
    """Strides in [lo, hi] that divide A = N + 2p − k_eff. On one interval the quotient c is
    fixed (⌊A/s⌋, or ⌈A/s⌉ in ceil mode), so s divides A only as s = A / c; if c = 0, only
    A = 0 is divisible, and then by every stride."""
    c = _ceil_div(a, lo) if ceil else a // lo
    if c == 0:
        return (lo, hi) if a == 0 else None
    s = a // c
    if a % c == 0 and lo <= s and (hi is None or s <= hi):
        return s, s
    return None


def _with_output_padding(pb: Problem, r: int, s_lo: int, s_hi: int) -> Iterator[tuple[int, int]]:
    """Strides in [s_lo, s_hi] whose output_padding r − (N − 1)·s is in range."""
    if pb.n == 1:
        if r in pb.output_padding:
            yield s_lo, s_hi
        return
    step = pb.n - 1  # op falls as s rises: walk the output_padding intervals downwards
    for oa, ob in reversed(pb.output_padding.intervals):
        lo, hi = max(s_lo, _ceil_div(r - ob, step)), min(s_hi, (r - oa) // step)
        if lo <= hi:
            yield lo, hi


def _transpose_rest(pb: Problem, k: int, p: int, d: int) -> int:
    """R = (N − 1)·s + op, what the stride and the output_padding make up at (k, p, d)."""
    if pb.keras is not None:
        return _keras_transpose_rest(pb, k, d)
    return arith.conv_transpose_output_padding(pb.n, pb.m, k, 0, p, d)


class Run(NamedTuple):
    """Solutions with consecutive strides ``s_lo..s_hi`` and everything else equal."""

    kernel_size: int
    padding: int
    dilation: int
    s_lo: int
    s_hi: int
    output_padding: int


def runs(pb: Problem, *, idle_limit: int | None = None) -> Iterator[Run]:
    """Solutions in runs of consecutive strides: (kernel_size, padding, dilation, s_lo, s_hi,
    output_padding), in the order of :func:`solutions` (for conv_transpose each run is one
    stride; output_padding is 0 for the other layers).

    The work between two runs is bounded: a :class:`~convcalc.budget.Budget` of ``idle_limit``
    (default :data:`IDLE_LIMIT`) settings, spent since the last run, raises
    :class:`~convcalc.budget.WorkLimit` past it."""
    idle = Budget(IDLE_LIMIT if idle_limit is None else idle_limit, IDLE_WHAT)
    if kernel_free(pb):
        for ka, kb, d, spans in _free_rows(pb, idle):
            for k in range(ka, kb + 1):
                idle.reset()
                yield from (Run(k, 0, d, lo, hi, 0) for lo, hi in spans)
        return
    transpose = "output_padding" in pb.fields
    for d in _dilations(pb):
        idle.spend()
        for p in _paddings(pb, d):
            idle.spend()
            for k in _candidate_kernels(pb, p, d, idle):
                r = _transpose_rest(pb, k, p, d)
                for s_lo, s_hi in _spans(pb, k, p, d):
                    idle.reset()
                    if transpose:
                        for s in range(s_lo, s_hi + 1):
                            yield Run(k, p, d, s, s, r - (pb.n - 1) * s)
                    else:
                        yield Run(k, p, d, s_lo, s_hi, 0)


class Block(NamedTuple):
    """Solutions with every kernel of ``k_lo..k_hi`` and every stride of ``s_lo..s_hi``,
    everything else equal: a listing's row (of :func:`blocks`) is one or more blocks with the
    same kernels."""

    k_lo: int
    k_hi: int
    padding: int
    dilation: int
    s_lo: int
    s_hi: int
    output_padding: int


def blocks(
    pb: Problem, limit: int | None = None, *, idle_limit: int | None = None
) -> Iterator[Block]:
    """The solutions grouped as they are listed, the first ``limit`` of :func:`solutions`:
    each of :func:`runs` as a one-kernel block, or, where every kernel takes the same strides
    (:func:`kernel_free`), one row per range of kernels, so the listing's length does not
    grow with the kernels (N = 2^63 − 1 is one row). A row cut by ``limit`` keeps its first
    ⌊left / c⌋ kernels (c solutions a kernel) and the first strides of the next."""
    left = limit
    if left is not None and left <= 0:
        return
    idle = Budget(IDLE_LIMIT if idle_limit is None else idle_limit, IDLE_WHAT)
    if kernel_free(pb):
        for ka, kb, d, spans in _free_rows(pb, idle):
            idle.reset()
            each = sum(hi - lo + 1 for lo, hi in spans)
            whole = kb - ka + 1 if left is None else min(kb - ka + 1, left // each)
            if whole:
                yield from (Block(ka, ka + whole - 1, 0, d, lo, hi, 0) for lo, hi in spans)
            if left is None:
                continue
            left -= whole * each
            if left <= 0:
                return
            if ka + whole <= kb:  # the first strides of one more kernel, then stop
                for lo, hi in spans:
                    hi = min(hi, lo + left - 1)
                    yield Block(ka + whole, ka + whole, 0, d, lo, hi, 0)
                    left -= hi - lo + 1
                    if left <= 0:
                        return
        return
    for run in runs(pb, idle_limit=idle_limit):
        k, p, d, s_lo, s_hi, op = run
        if left is not None:
            s_hi = min(s_hi, s_lo + left - 1)
            left -= s_hi - s_lo + 1
        yield Block(k, k, p, d, s_lo, s_hi, op)
        if left is not None and left <= 0:
            return


# --- Keras' same: the strides do not depend on the kernel -------------------------------------


def kernel_free(pb: Problem) -> bool:
    """Whether the strides that give M are the same for every kernel: Keras' ``same``, ⌈N/s⌉
    (Conv and the pools) or N·s (ConvTranspose without an output_padding, whose k_eff mod 2
    would count)."""
    return pb.keras == "same" and not pb.keras_op


def _free_spans(pb: Problem, d: int) -> list[tuple[int, int]]:
    """The searched strides giving M at dilation d for every kernel (:func:`kernel_free`):
    the rule's intervals (any kernel stands for all) within ``--stride``'s, ascending."""
    return [
        part
        for lo, hi in _stride_intervals(pb, pb.kernel_size.lo, 0, d)
        for part in pb.stride.within(lo, hi)
    ]


def _free_rows(pb: Problem, idle: Budget) -> Iterator[tuple[int, int, int, list[tuple[int, int]]]]:
    """A kernel-free problem's solutions as rows (k_lo, k_hi, d, strides): every kernel in
    k_lo..k_hi takes every stride of the intervals ``strides`` at dilation d; ordered as
    :func:`solutions`. Every dilation d ≥ 2 has the same strides (Keras takes stride 1 only
    there), so a dilation range without a solution is passed in one step; ``--no-gaps``
    (s ≤ k_eff = d·(k − 1) + 1) splits the kernels where a stride joins."""
    for da, db in pb.dilation.intervals:
        d = da
        while d <= db:
            idle.spend()
            spans = _free_spans(pb, d)
            if not spans and d >= 2:
                break
            for ka, kb in pb.kernel_size.intervals if spans else ():
                idle.spend()
                yield from _free_kernel_rows(pb, ka, kb, d, spans, idle)
            d += 1


def _free_kernel_rows(
    pb: Problem, ka: int, kb: int, d: int, spans: list[tuple[int, int]], idle: Budget
) -> Iterator[tuple[int, int, int, list[tuple[int, int]]]]:
    """The rows of kernels ka..kb at dilation d: one (every stride in ``spans``), or with
    ``--no-gaps`` one per set of strides s ≤ k_eff, a new row from k = ⌈(s − 1)/d⌉ + 1 on
    for each stride s that joins."""
    if not pb.no_gaps:
        yield ka, kb, d, spans
        return
    k = ka
    while k <= kb:
        idle.spend()
        k_eff = arith.effective_kernel(k, d)
        kept = [(lo, min(hi, k_eff)) for lo, hi in spans if lo <= k_eff]
        joins = next((max(lo, k_eff + 1) for lo, hi in spans if hi > k_eff), None)
        last = kb if joins is None else min(kb, _ceil_div(joins - 1, d))
        if kept:
            yield k, last, d, kept
        k = last + 1


def _free_counts(pb: Problem, steps: Budget) -> Iterator[int]:
    """A kernel-free problem's count in closed form, in parts (their sum is the count, a
    partial sum a lower bound): per dilation interval, d = 1's strides and those of every
    d ≥ 2 (the same), times the dilations, for each kernel interval (:func:`_free_count`)."""
    for da, db in pb.dilation.intervals:
        steps.spend()
        for lo, hi, d in ((da, min(db, 1), 1), (max(da, 2), db, 2)):
            if lo > hi:
                continue
            steps.spend()
            spans = _free_spans(pb, d)
            for ka, kb in pb.kernel_size.intervals:
                yield (hi - lo + 1) * _free_count(pb, ka, kb, d, spans, steps)


def _free_count(
    pb: Problem, ka: int, kb: int, d: int, spans: list[tuple[int, int]], steps: Budget
) -> int:
    """Solutions with kernels ka..kb and the strides ``spans`` at dilation d: (kb − ka + 1)
    times the strides; with ``--no-gaps`` (s ≤ k_eff = d·(k − 1) + 1) stride interval [a, b]
    gives k_eff − a + 1 strides, capped at b − a + 1, to each kernel with k_eff ≥ a, summed
    over k in closed form (at d ≥ 2 only s = 1 is left, which every kernel takes)."""
    total = 0
    for a, b in spans:
        steps.spend()
        width = b - a + 1
        if not pb.no_gaps or d >= 2:  # at d ≥ 2 only s = 1 ≤ k_eff is left
            total += (kb - ka + 1) * width
            continue
        # d = 1: k_eff = k; k in [a, b] takes k − a + 1 strides, k > b all of them
        lo, hi = max(ka, a), min(kb, b)
        if lo <= hi:
            total += (lo - a + 1 + hi - a + 1) * (hi - lo + 1) // 2
        total += max(0, kb - max(ka, b + 1) + 1) * width
    return total


def solutions(pb: Problem) -> Iterator[tuple[int, ...]]:
    """Every solution, as (kernel_size, stride, padding, dilation[, output_padding]), sorted by
    (dilation, padding, kernel_size, stride[, output_padding])."""
    if "output_padding" in pb.fields:
        for k, p, d, s, _, op in runs(pb):
            yield (k, s, p, d, op)
        return
    for k, p, d, s_lo, s_hi, _ in runs(pb):
        for s in range(s_lo, s_hi + 1):
            yield (k, s, p, d)


# --- counting ------------------------------------------------------------------------------


class Tally(NamedTuple):
    """A count, and whether it is complete (else it is a lower bound: counting stopped after
    ``steps`` steps)."""

    value: int
    complete: bool
    steps: int


def count(pb: Problem) -> int:
    """The number of solutions; :class:`SearchLimit` if it cannot be counted within
    :data:`COUNT_LIMIT` steps (see :func:`tally` for a lower bound instead)."""
    found = tally(pb)
    if not found.complete:
        raise SearchLimit(
            f"more than {found.value:,} solutions: counting stopped after {found.steps:,} steps"
        )
    return found.value


def tally(pb: Problem, limit: int | None = None, *, budget: Budget | None = None) -> Tally:
    """Count the solutions in at most ``limit`` steps (default :data:`COUNT_LIMIT`), or
    spending from a search's ``budget`` (whose :class:`~convcalc.budget.WorkLimit` then
    propagates: the count is part of a larger search).

    A step is one (dilation, padding), one interval pair summed in closed form, or one kernel
    where no closed form is used. Conv and floor-mode pools sum each kernel interval × stride
    interval with :func:`~convcalc.arith.floor_sum` (plain) or an arithmetic progression
    (``exact``); ceil mode, ``no_gaps`` and conv_transpose add O(1) per kernel from
    :func:`_spans`.
    """
    own = budget is None
    steps = Budget(COUNT_LIMIT if limit is None else limit) if budget is None else budget
    start = steps.spent
    closed = pb.layer != "conv_transpose" and not pb.ceil_mode and not pb.no_gaps
    total = 0
    try:
        if kernel_free(pb):
            for part in _free_counts(pb, steps):  # a partial sum stays a true lower bound
                total += part
            return Tally(total, True, steps.spent - start)
        for d in _dilations(pb):
            for p in _paddings(pb, d):
                steps.spend()
                kernels = _kernels(pb, p, d)
                for ka, kb in kernels.intervals:
                    if closed and (pb.keras is None or d == 1):  # Keras: d > 1 needs s = 1
                        for sa, sb in pb.stride.intervals:
                            steps.spend()
                            total += _closed_count(pb, ka, kb, sa, sb, p, d)
                        continue
                    for k in range(ka, kb + 1):
                        steps.spend()
                        total += sum(hi - lo + 1 for lo, hi in _spans(pb, k, p, d))
    except WorkLimit:
        if not own:
            raise
        return Tally(total, False, steps.spent - start)
    return Tally(total, True, steps.spent - start)


def _closed_count(pb: Problem, ka: int, kb: int, sa: int, sb: int, p: int, d: int) -> int:
    """Solutions with k in [ka, kb] and s in [sa, sb] for conv and floor-mode pools (whose
    kernel window already holds p ≤ k // 2).

    With A = B − d·(k − 1), B = N − 1 + 2p and q = M − 1, stride s gives M when
    A // (q + 1) < s ≤ A // q (q = 0: s > A). For A in [q·sa, (q + 1)·sb − 1] the kernel's
    count is U − L + 1 with U = min(A // q, sb) and L = max(A // (q + 1) + 1, sa); outside, 0.
    """
    q, b = pb.m - 1, pb.n - 1 + 2 * p
    k1, k2 = _kernels_giving(b, d, max(q * sa, 0), (q + 1) * sb - 1, ka, kb)
    if k1 > k2:
        return 0
    if pb.exact:
        return _exact_count(b, d, q, k1, k2, sa, sb)
    # U: sb where A ≥ q·sb (always when q = 0), else A // q
    upper = _sum_capped(b, d, k1, k2, q * sb, sb, q)
    # L − 1: sa − 1 where A ≤ (q + 1)·sa − 1, else A // (q + 1)
    a_small = _kernels_giving(b, d, 0, (q + 1) * sa - 1, k1, k2)
    n_small = max(0, a_small[1] - a_small[0] + 1)
    big = _kernels_giving(b, d, (q + 1) * sa, None, k1, k2)
    lower = n_small * (sa - 1) + _sum_floor(b, d, big[0], big[1], q + 1)
    return upper - lower


def _kernels_giving(
    b: int, d: int, a_lo: int, a_hi: int | None, k1: int, k2: int
) -> tuple[int, int]:
    """The kernels in [k1, k2] with a_lo ≤ A = b − d·(k − 1) ≤ a_hi (maybe empty: lo > hi)."""
    lo = k1 if a_hi is None else max(k1, _ceil_div(b - a_hi, d) + 1)
    return lo, min(k2, (b - a_lo) // d + 1)


def _sum_capped(b: int, d: int, k1: int, k2: int, at: int, cap: int, q: int) -> int:
    """Σ over k in [k1, k2] of (cap if A ≥ at else A // q)."""
    capped = _kernels_giving(b, d, at, None, k1, k2)
    rest = _kernels_giving(b, d, 0, at - 1, k1, k2)
    n_capped = max(0, capped[1] - capped[0] + 1)
    return n_capped * cap + (_sum_floor(b, d, rest[0], rest[1], q) if q > 0 else 0)


def _sum_floor(b: int, d: int, k1: int, k2: int, m: int) -> int:
    """Σ over k in [k1, k2] of (b − d·(k − 1)) // m, for A ≥ 0 throughout."""
    if k1 > k2:
        return 0
    # in reverse, i = k2 − k: A = (b − d·(k2 − 1)) + d·i
    return arith.floor_sum(k2 - k1 + 1, m, d, b - d * (k2 - 1))


def _exact_count(b: int, d: int, q: int, k1: int, k2: int, sa: int, sb: int) -> int:
    """Exact solutions (A = q·s) with k in [k1, k2] and s in [sa, sb]: the strides with
    q·s in [A(k2), A(k1)] and q·s ≡ b (mod d), an arithmetic progression (q = 0: A = 0 and
    every stride)."""
    a_lo, a_hi = b - d * (k2 - 1), b - d * (k1 - 1)
    if q == 0:
        return (sb - sa + 1) if a_lo <= 0 <= a_hi and b % d == 0 else 0
    lo, hi = max(sa, _ceil_div(a_lo, q)), min(sb, a_hi // q)
    g = math.gcd(q, d)
    if lo > hi or b % g:
        return 0
    step = d // g
    first = (b // g) * pow(q // g, -1, step) % step if step > 1 else 0  # q·s ≡ b (mod d)
    start = lo + (first - lo) % step
    return 0 if start > hi else (hi - start) // step + 1
