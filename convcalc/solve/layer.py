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

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from convcalc import arith
from convcalc.errors import ConvcalcError
from convcalc.spec.registry import KINDS, SOLVABLE

LAYERS = SOLVABLE
FIELDS = ("kernel_size", "stride", "padding", "dilation", "output_padding")
# a range as written: 5, 1,3,5, 0..4, 1..3,7 (ASCII digits only: int() reads others too)
RANGE = r"[0-9]+\s*(\.\.\s*[0-9]+\s*)?(,\s*[0-9]+\s*(\.\.\s*[0-9]+\s*)?)*"
_RANGE = re.compile(rf"^\s*{RANGE}$")


def is_size(text: str) -> bool:
    """ASCII digits only (``int()`` also reads ``٣`` and ``１２``, ``isdigit()`` also ``²``),
    an optional ``+`` (as click reads ``--in +64``), and no more than 2^63's 19 digits."""
    text = text.removeprefix("+")
    return text.isascii() and text.isdigit() and len(text) <= 19


class RangeError(ConvcalcError):
    """A range flag that cannot be read, or does not apply."""


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

    @property
    def fields(self) -> tuple[str, ...]:
        return FIELDS if self.layer == "conv_transpose" else FIELDS[:4]

    def bounds(self) -> dict[str, str]:
        return {name: str(getattr(self, name)) for name in self.fields}

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
) -> Problem:
    """Parse the ranges, check what applies to ``layer``, and fill in documented defaults.

    Defaults: padding 0, dilation 1; kernels, every size that can fit (conv and pools) or reach
    M (conv_transpose); strides, every one that can matter; output_padding, every valid one.
    Where the solution set is infinite (M = 1; conv_transpose with N = 1) the bound is a note.
    """
    if layer not in LAYERS:
        raise RangeError(f"--layer must be one of {', '.join(LAYERS)}, not {layer!r}")
    if n < 1 or m < 1:
        raise RangeError("--in and --out must be positive sizes")
    if ceil_mode and not KINDS[layer].pool:
        raise RangeError(f"--ceil applies to maxpool and avgpool, not {layer}")
    if output_padding is not None and layer != "conv_transpose":
        raise RangeError(f"--output-padding applies to conv_transpose only, not {layer}")
    if exact and layer == "conv_transpose":
        raise RangeError("--exact applies to conv and the pools (conv_transpose drops nothing)")
    given = {
        "kernel_size": kernel_size,
        "stride": stride,
        "padding": padding,
        "dilation": dilation,
        "output_padding": output_padding,
    }
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

    notes: list[str] = []
    padding_r = ranges.get("padding", Range.span(0, 0))
    dilation_r = ranges.get("dilation", Range.span(1, 1))
    p_max, d_min, d_max = padding_r.hi, dilation_r.lo, dilation_r.hi
    if layer == "conv_transpose":
        kernel_default = Range.span(1, (m - 1 + 2 * p_max) // d_min + 1)
        stride_top = max(1, (m - 1 + 2 * p_max) // (n - 1)) if n > 1 else m + 2 * p_max
        if n == 1 and "stride" not in ranges:
            notes.append(
                f"with --in 1 the stride does not change the output: strides listed up to "
                f"{stride_top} (give --stride for others)"
            )
    else:
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
    kernel_r = ranges.get("kernel_size", kernel_default)
    stride_r = ranges.get("stride", Range.span(1, stride_top))
    op_default = Range.span(0, max(stride_r.hi, d_max) - 1)
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


def _stride_intervals(pb: Problem, k: int, p: int, d: int) -> list[arith.Interval]:
    if pb.layer == "conv":
        return arith.conv_strides(pb.n, pb.m, k, p, d)
    if pb.layer == "conv_transpose":
        return arith.conv_transpose_strides(pb.n, pb.m, k, p, d)
    return arith.pool_strides(pb.n, pb.m, k, p, d, pb.ceil_mode)


def _kernels(pb: Problem, p: int, d: int) -> Range:
    """Kernels worth trying at (p, d): pools need p ≤ k // 2 (k ≥ 2p); conv and floor-mode pools
    need A = N + 2p − k_eff ≥ M − 1, which bounds k from above."""
    lo, hi = 1, None
    if KINDS[pb.layer].pool:
        lo = 2 * p
    if pb.layer != "conv_transpose" and not pb.ceil_mode:
        hi = (pb.n + 2 * p - 1 - (pb.m - 1)) // d + 1
    return Range(tuple(pb.kernel_size.within(lo, hi)))


class Run(NamedTuple):
    """Solutions with consecutive strides ``s_lo..s_hi`` and everything else equal."""

    kernel_size: int
    padding: int
    dilation: int
    s_lo: int
    s_hi: int
    output_padding: int


def runs(pb: Problem) -> Iterator[Run]:
    """Solutions in runs of consecutive strides: (kernel_size, padding, dilation, s_lo, s_hi,
    output_padding), in the order of :func:`solutions` (for conv_transpose each run is one
    stride; output_padding is 0 for the other layers)."""
    transpose = pb.layer == "conv_transpose"
    strides = pb.stride
    for d in pb.dilation:
        for p in pb.padding:
            for k in _kernels(pb, p, d):
                k_eff = arith.effective_kernel(k, d)
                for lo, hi in _stride_intervals(pb, k, p, d):
                    if pb.no_gaps:
                        hi = k_eff if hi is None else min(hi, k_eff)
                    for s_lo, s_hi in strides.within(lo, hi):
                        if transpose:
                            for s in range(s_lo, s_hi + 1):
                                op = arith.conv_transpose_output_padding(pb.n, pb.m, k, s, p, d)
                                if op in pb.output_padding:
                                    yield Run(k, p, d, s, s, op)
                        elif pb.exact:
                            a = pb.n + 2 * p - k_eff
                            for s in range(s_lo, s_hi + 1):
                                if a % s == 0:
                                    yield Run(k, p, d, s, s, 0)
                        else:
                            yield Run(k, p, d, s_lo, s_hi, 0)


def solutions(pb: Problem) -> Iterator[tuple[int, ...]]:
    """Every solution, as (kernel_size, stride, padding, dilation[, output_padding]), sorted by
    (dilation, padding, kernel_size, stride[, output_padding])."""
    if pb.layer == "conv_transpose":
        for k, p, d, s, _, op in runs(pb):
            yield (k, s, p, d, op)
        return
    for k, p, d, s_lo, s_hi, _ in runs(pb):
        for s in range(s_lo, s_hi + 1):
            yield (k, s, p, d)


def count(pb: Problem) -> int:
    """The number of solutions, without generating them where the arithmetic allows.

    For conv and floor-mode pools with M ≥ 2, the loop runs over strides instead of kernels:
    for each (d, p, s) the kernels that give M form one interval (``arith.conv_kernels``),
    counted in O(1).
    """
    if pb.layer == "conv_transpose" or pb.ceil_mode or pb.exact or pb.m < 2:
        return sum(run.s_hi - run.s_lo + 1 for run in runs(pb))
    total = 0
    for d in pb.dilation:
        for p in pb.padding:
            kernels = _kernels(pb, p, d)
            top = (pb.n + 2 * p - 1) // (pb.m - 1)  # s ≤ A / (M − 1) ≤ (N + 2p − 1) / (M − 1)
            for s_lo, s_hi in pb.stride.within(1, top):
                for s in range(s_lo, s_hi + 1):
                    found = arith.conv_kernels(pb.n, pb.m, s, p, d)
                    if found is None:
                        continue
                    k_lo, k_hi = found
                    if pb.no_gaps:  # s ≤ k_eff = d·(k − 1) + 1
                        k_lo = max(k_lo, -(-(s - 1) // d) + 1)
                    total += kernels.count_within(k_lo, k_hi)
    return total
