"""The arithmetic of one spatial dimension, exactly as PyTorch 2.13 does it.

This is the single source of truth for every layer's size rule. The forward calculator
(:mod:`convcalc.spec`) and the inverse solvers (:mod:`convcalc.solve`) all
call these functions; nothing else writes a size formula.

Notation (per dimension): ``L`` input size, ``k`` kernel, ``s`` stride, ``p`` padding,
``d`` dilation, ``k_eff = d·(k−1) + 1``. ``//`` is floor division (toward −∞), as in Python.

Each forward function returns the output size or raises :class:`Refusal` where PyTorch refuses
the layer (or, for an empty dimension, where convcalc does: see docs/size-rules.md). Each inverse
function answers "which strides give output ``M``?" in O(1), as intervals
``(lo, hi)`` with ``hi = None`` for "and every larger stride".

Next to each forward rule, its derivation: the same rule built as a :class:`~convcalc.expr.Expr`
from the same arguments (plus the name of the dimension), which ``--explain`` renders with its
numbers. :data:`DERIVATIONS` maps each rule to its derivation; the tests check that every
derivation evaluates to its rule's value.

This module imports nothing but :mod:`math` and :mod:`convcalc.expr`, so that ``convcalc solve``
starts fast.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, NamedTuple

from convcalc.expr import Expr, ceil, floor, render, sym

Interval = tuple[int, int | None]
# a range as written: 5, 1,3,5, 0..4, 1..3,7 (ASCII digits only: int() reads others too)
RANGE = r"[0-9]+\s*(\.\.\s*[0-9]+\s*)?(,\s*[0-9]+\s*(\.\.\s*[0-9]+\s*)?)*"
LIMIT = 2**63 - 1  # PyTorch holds sizes and counts as signed 64-bit integers


class Refusal(ValueError):
    """A layer setting PyTorch would refuse, in words a student understands.

    ``field`` names the spec field at fault, where one is.
    """

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


def effective_kernel(k: int, d: int) -> int:
    """k_eff = d·(k − 1) + 1: the span of a dilated kernel."""
    return d * (k - 1) + 1


class Derived(NamedTuple):
    """A rule's derivation: the expression of the output size, and a sentence on anything the
    expression does not show (which side gets the odd padding, a dropped last window)."""

    expr: Expr
    note: str = ""
    quantity: str = ""  # what the expression counts, where the caller cannot tell


def _in(name: str, length: int) -> Expr:
    """The input size of dimension ``name`` (H, W, L…): ``H_in``."""
    return sym(f"{name}_in", length, f"{name}_{{\\mathrm{{in}}}}")


def _ksd(k: int, s: int, p: int, d: int) -> tuple[Expr, Expr, Expr, Expr]:
    return sym("k", k), sym("s", s), sym("p", p), sym("d", d)


# --- forward -------------------------------------------------------------------------------


def conv_out(length: int, k: int, s: int, p: int, d: int) -> int:
    """out = (L + 2p − k_eff) // s + 1; refused when L + 2p < k_eff."""
    k_eff = effective_kernel(k, d)
    if length + 2 * p < k_eff:
        what = f"kernel {k}" if d == 1 else f"dilated kernel {k_eff} (kernel {k}, dilation {d})"
        return _refuse(f"{what} is larger than the padded input {length + 2 * p}", "kernel_size")
    return (length + 2 * p - k_eff) // s + 1


def conv_out_derived(name: str, length: int, k: int, s: int, p: int, d: int) -> Derived:
    k_, s_, p_, d_ = _ksd(k, s, p, d)
    return Derived(floor(_in(name, length) + 2 * p_ - d_ * (k_ - 1) - 1, s_) + 1)


def conv_same_out(length: int, k: int, d: int) -> int:
    """padding='same' (stride 1): the output is the input, whatever the kernel."""
    return length


def conv_same_out_derived(name: str, length: int, k: int, d: int) -> Derived:
    left, right = conv_same_padding(k, d)
    k_, d_ = sym("k", k), sym("d", d)
    expr = _in(name, length) + sym("p_left", left) + sym("p_right", right) - d_ * (k_ - 1)
    note = f"padding 'same' pads d·(k − 1) = {left + right} in all: {left} before, {right} after"
    return Derived(expr, note + (" (the odd one after)" if left != right else ""))


def conv_same_padding(k: int, d: int) -> tuple[int, int]:
    """padding='same' (stride 1 only): total d·(k − 1), left = total // 2, right = the rest."""
    total = d * (k - 1)
    return total // 2, total - total // 2


def conv_transpose_out(length: int, k: int, s: int, p: int, d: int, op: int) -> int:
    """out = (L − 1)·s − 2p + d·(k − 1) + output_padding + 1; needs output_padding < max(s, d)."""
    if op >= max(s, d):
        return _refuse(
            f"output_padding {op} must be smaller than max(stride, dilation) = {max(s, d)}",
            "output_padding",
        )
    out = (length - 1) * s - 2 * p + d * (k - 1) + op + 1
    if out <= 0:
        return _refuse(
            f"the output size would be {out}: padding {p} removes more than the layer produces",
            "padding",
        )
    return out


def conv_transpose_out_derived(
    name: str, length: int, k: int, s: int, p: int, d: int, op: int
) -> Derived:
    k_, s_, p_, d_ = _ksd(k, s, p, d)
    op_ = sym("output_padding", op, "\\mathit{op}")
    return Derived((_in(name, length) - 1) * s_ - 2 * p_ + d_ * (k_ - 1) + op_ + 1)


def pool_out(length: int, k: int, s: int, p: int, d: int, ceil_mode: bool) -> int:
    """out = (L + 2p − k_eff + (s − 1 if ceil_mode else 0)) // s + 1.

    In ceil_mode, if (out − 1)·s ≥ L + p, out −= 1 (the last window may not start in the right
    padding). Padding must be at most half the raw kernel: p ≤ k // 2. Refused when out ≤ 0.
    """
    if p > k // 2:
        return _refuse(
            f"padding {p} is more than half the kernel {k} (at most {k // 2})", "padding"
        )
    k_eff = effective_kernel(k, d)
    out = (length + 2 * p - k_eff + (s - 1 if ceil_mode else 0)) // s + 1
    if ceil_mode and (out - 1) * s >= length + p:
        out -= 1
    if out <= 0:
        what = f"kernel {k}" if d == 1 else f"dilated kernel {k_eff} (kernel {k}, dilation {d})"
        return _refuse(f"{what} is larger than the padded input {length + 2 * p}", "kernel_size")
    return out


def pool_out_derived(
    name: str, length: int, k: int, s: int, p: int, d: int, ceil_mode: bool
) -> Derived:
    k_, s_, p_, d_ = _ksd(k, s, p, d)
    span = _in(name, length) + 2 * p_ - d_ * (k_ - 1) - 1
    if not ceil_mode:
        return Derived(floor(span, s_) + 1)
    expr = ceil(span, s_) + 1
    out = int(expr.evaluate())
    if (out - 1) * s < length + p:
        return Derived(
            expr, "ceil_mode: the last window starts inside the input or its left padding"
        )
    note = (
        f"ceil_mode: the last window would start at (out − 1)·s = {(out - 1) * s} ≥ "
        f"{name}_in + p = {length + p}, in the right padding, so it is dropped (− 1)"
    )
    return Derived(expr - 1, note)


def avgpool3d_check(length: int, k: int) -> None:
    """3-D average pooling also refuses an unpadded input smaller than the kernel."""
    if length < k:
        _refuse(
            f"3-D avgpool needs the input {length} to be at least the kernel {k}", "kernel_size"
        )


def adaptive_out(length: int, size: int | None) -> int:
    """Any output size; ``None`` keeps the input size. Window i covers
    [floor(i·L/O), ceil((i+1)·L/O))."""
    return length if size is None else size


def adaptive_out_derived(name: str, length: int, size: int | None) -> Derived:
    if size is None:
        return Derived(_in(name, length), "output_size null keeps the input size")
    return Derived(sym("output_size", size, "\\mathit{output\\_size}"), "the size asked for")


def upsample_out(length: int, scale: float) -> int:
    """out = floor(L · scale), in double precision as PyTorch computes it (100 × 0.29 → 28);
    refused when it is 0, and, as PyTorch refuses it ("value cannot be converted to type
    int64_t without overflow"), when the double is 2^63 or more (infinity included)."""
    exact = float(length) * scale
    if not exact < 2.0**63:
        shown = f"{math.floor(exact):,}" if exact < 1e20 else f"{exact:.3g}"
        value = "overflows a double: it is" if math.isinf(exact) else f"= {shown} is"
        return _refuse(
            f"the output size ⌊{length} · {scale:g}⌋ {value} beyond 2^63 − 1, the largest size "
            "PyTorch takes",
            "scale_factor",
        )
    out = math.floor(exact)
    if out <= 0:
        return _refuse(f"the output size would be {out}", "scale_factor")
    return out


def upsample_out_derived(name: str, length: int, scale: float) -> Derived:
    expr = floor(_in(name, length) * sym("scale", float(scale)))
    exact = float(length) * scale
    if exact.is_integer():
        return Derived(expr)
    return Derived(expr, "in double precision, as PyTorch computes it")


def pad_out(length: int, a: int, b: int, mode: str) -> int:
    """out = L + a + b (a before, b after; negative values crop), with each mode's limits:
    constant crops at most L in all (L + min(a, 0) + min(b, 0) ≥ 0); reflect needs a < L and
    b < L; circular a ≤ L and b ≤ L, and its copies must fit (:func:`_circular_fits`)."""
    out = length + a + b
    if mode == "constant" and length + min(a, 0) + min(b, 0) < 0:
        return _refuse(
            f"the crops {min(a, 0)}, {min(b, 0)} remove more than the input {length}", "padding"
        )
    if mode == "reflect" and max(a, b) >= length:
        return _refuse(
            f"reflect padding {max(a, b)} must be smaller than the input {length}", "padding"
        )
    if mode == "circular" and max(a, b) > length:
        return _refuse(
            f"circular padding {max(a, b)} wraps around the input {length} more than once",
            "padding",
        )
    if out <= 0:
        return _refuse(
            f"the output size would be {out}: the padding crops the whole input {length}",
            "padding",
        )
    if mode == "circular" and not _circular_fits(length, a, b):
        return _refuse(
            f"circular padding {a}, {b} crops past the input {length} on one side", "padding"
        )
    return out


def pad_out_derived(name: str, length: int, a: int, b: int, mode: str) -> Derived:
    note = "negative padding crops" if min(a, b) < 0 else ""
    return Derived(_in(name, length) + sym("before", a) + sym("after", b), note)


def ceil_half(length: int) -> int:
    """out = ⌈L / 2⌉ = (L + 1) // 2: each pair of neighbours merged into one, an odd size first
    padded by one zero (Swin's patch merging: ``F.pad`` to an even size, then ``x[0::2]``)."""
    return -(-length // 2)


def ceil_half_derived(name: str, length: int) -> Derived:
    note = f"{name}_in = {length} is odd: padded by one to {length + 1}" if length % 2 else ""
    return Derived(ceil(_in(name, length), 2), note)


def scaled(length: int, factor: int) -> int:
    """out = factor · L (patch merging's channels: 2·C, its linear's 4C → 2C)."""
    return factor * length


def scaled_derived(name: str, length: int, factor: int) -> Derived:
    return Derived(factor * _in(name, length))


def extended(length: int, count: int) -> int:
    """out = L + count: tokens put into the sequence (ViT's class token, count 1)."""
    return length + count


def extended_derived(name: str, length: int, count: int) -> Derived:
    return Derived(_in(name, length) + count)


def kept(length: int) -> int:
    """out = L: a dimension the layer keeps, beside one it changes (the E of [L, E])."""
    return length


def kept_derived(name: str, length: int) -> Derived:
    return Derived(_in(name, length), "kept")


def set_by(length: int, size: int, field: str) -> int:
    """out = ``size``, the layer's field named ``field`` (a linear's out_features), whatever
    the input's L."""
    return size


def set_by_derived(name: str, length: int, size: int, field: str) -> Derived:
    return Derived(sym(field, size))


def _circular_fits(length: int, a: int, b: int) -> bool:
    """PyTorch's circular padding copies the kept input into place, then each wrapped side from
    the output itself, as slices (Python's rules: a negative start counts from the end); each
    source slice must have the length of its destination or be 1 (broadcast)."""
    out = length + a + b

    def fits(dst: range, src: range) -> bool:
        return len(src) in (len(dst), 1)

    grid, kept = range(out), range(length)
    if not fits(grid[max(a, 0) : out - max(b, 0)], kept[max(-a, 0) : length - max(-b, 0)]):
        return False
    if a > 0 and not fits(grid[0:a], grid[out - a - max(b, 0) : out - max(b, 0)]):
        return False
    return not (b > 0 and not fits(grid[out - b : out], grid[max(a, 0) : max(a, 0) + b]))


# --- Keras' rules (the Keras dialect: convcalc.spec.keras) ------------------------------------


def keras_same_padding(length: int, k: int, s: int, d: int) -> tuple[int, int]:
    """Keras' (TensorFlow's) ``same`` for any stride: out = ⌈L/s⌉, total padding
    T = max((out − 1)·s + d·(k − 1) + 1 − L, 0), T // 2 before and the rest (the extra one)
    after."""
    out = -(-length // s)
    total = max((out - 1) * s + effective_kernel(k, d) - length, 0)
    return total // 2, total - total // 2


KERAS_DIMS = {
    1: ("steps",),
    2: ("height", "width"),
    3: ("spatial_dim1", "spatial_dim2", "spatial_dim3"),
}


def keras_valid_fits(
    spatial: tuple[int, ...], k: tuple[int, ...], d: tuple[int, ...], kernel: str
) -> None:
    """Keras' ``valid`` pads nothing: refused where a window, d·(k − 1) + 1 long, is longer
    than the input size L, named as Keras' documentation names the dimensions (steps;
    height, width; spatial_dim1 to 3) and its argument ``kernel`` (kernel_size, pool_size)."""
    for i, (length, ki, di) in enumerate(zip(spatial, k, d, strict=True)):
        k_eff = effective_kernel(ki, di)
        if length < k_eff:
            what = f"{kernel} {ki}"
            if di != 1:
                what += f" dilated by dilation_rate {di} spans {k_eff}, which"
            name = KERAS_DIMS[len(spatial)][i]
            _refuse(
                f'{what} is larger than the input\'s {name}, {length} (padding "valid" pads '
                "nothing)",
                "kernel_size",
            )


def keras_same_out(length: int, k: int, s: int, d: int) -> int:
    """Keras' ``same`` (and Conv1D's ``causal``): out = ⌈L/s⌉, never refused."""
    return -(-length // s)


def keras_same_strides(n: int, m: int) -> list[Interval]:
    """Strides s with Keras' ``same`` ⌈N/s⌉ = M, whatever the kernel and dilation:
    (M − 1)·s < N ≤ M·s, so ⌈N/M⌉ ≤ s ≤ ⌊(N − 1)/(M − 1)⌋ (M = 1: s ≥ N)."""
    if m < 1 or n < 1:
        return []
    if m == 1:
        return [(n, None)]
    lo, hi = -(-n // m), (n - 1) // (m - 1)
    return [(lo, hi)] if lo <= hi else []


def keras_same_strides_why(n: int, m: int) -> str:
    """Why :func:`keras_same_strides` gives its strides: ``⌈64 / s⌉ = 32 ⇔ 31·s < 64 ≤ 32·s``."""
    found = _interval_text(keras_same_strides(n, m))
    if m == 1:
        return f"Keras' same: ⌈{n} / s⌉ = 1 ⇔ s ≥ {n} ⇔ {found} (any kernel)"
    return (
        f"Keras' same: ⌈{n} / s⌉ = {m} ⇔ {m - 1}·s < {n} ≤ {m}·s ⇔ {found} (any kernel, "
        "padded as it needs)"
    )


def keras_same_out_derived(
    name: str, length: int, k: int, s: int, d: int, pool: bool = False
) -> Derived:
    """Keras' ``same``: out = ⌈L/s⌉, and the padding it takes, the odd one after; a pool
    (``pool``, no dilation) writes its padding max((out − 1)·s + k − L, 0)."""
    left, right = keras_same_padding(length, k, s, d)
    out = -(-length // s)
    span = "k" if pool else "d·(k − 1) + 1"
    note = (
        f"Keras' same: out = ⌈{name}_in / s⌉; it pads max((out − 1)·s + {span} − "
        f"{name}_in, 0) = {left + right} in all: {left} before, {right} after"
    )
    if left != right:
        note += " (the extra one at the end)"
    return Derived(ceil(_in(name, length), sym("s", s)), note if out else "")


def keras_valid_out_derived(name: str, length: int, k: int, s: int, d: int | None) -> Derived:
    """Keras' ``valid`` (no padding to write): ⌊(L − d·(k − 1) − 1)/s⌋ + 1, PyTorch's rule
    with p = 0 (:func:`conv_out`); a pool (``d`` None) ⌊(L − k)/s⌋ + 1."""
    k_, s_ = sym("k", k), sym("s", s)
    if d is None:
        return Derived(floor(_in(name, length) - k_, s_) + 1)
    return Derived(floor(_in(name, length) - sym("d", d) * (k_ - 1) - 1, s_) + 1)


def keras_transpose_crop(k: int, s: int, d: int, same: bool, op: int | None) -> tuple[int, int]:
    """What Keras' Conv{n}DTranspose cuts from the uncropped output ((L − 1)·s + k_eff, PyTorch's
    with no padding) at its start and its end: T = k_eff − out_extra in all, where Keras' out is
    (L − 1)·s + out_extra (valid: max(k_eff, s), or k_eff + op; same: s, or k_eff mod 2 + op);
    ⌊T/2⌋ at the start (none where T < 0) and the rest, the odd one, at the end, where a negative
    rest appends zeros (TensorFlow's placement, as Keras' torch backend crops)."""
    k_eff = effective_kernel(k, d)
    if not same:
        extra = max(k_eff, s) if op is None else k_eff + op
    else:
        extra = s if op is None else k_eff % 2 + op
    total = k_eff - extra
    start = max(total // 2, 0)
    return start, total - start


def keras_transpose_out(length: int, k: int, s: int, d: int, same: bool, op: int | None) -> int:
    """Keras' Conv{n}DTranspose: valid (L − 1)·s + max(k_eff, s), or + k_eff + output_padding
    when given; same L·s, or (L − 1)·s + k_eff mod 2 + output_padding when given; output_padding
    must be smaller than the stride."""
    if op is not None and op >= s:
        return _refuse(
            f"output_padding {op} must be strictly less than strides {s}", "output_padding"
        )
    k_eff = effective_kernel(k, d)
    if not same:
        out = (length - 1) * s + (max(k_eff, s) if op is None else k_eff + op)
    else:
        out = length * s if op is None else (length - 1) * s + k_eff % 2 + op
    if out <= 0:
        return _refuse(f"the output size would be {out}", "output_padding")
    return out


def keras_transpose_out_derived(
    name: str, length: int, k: int, s: int, d: int, same: bool, op: int | None
) -> Derived:
    k_, s_, d_ = sym("k", k), sym("s", s), sym("d", d)
    k_eff = effective_kernel(k, d)
    if same and op is None:
        return Derived(_in(name, length) * s_, f"Keras' same: out = {name}_in · s")
    op_ = sym("output_padding", 0 if op is None else op, "\\mathit{op}")
    if not same:
        if op is None:
            last = sym("max(k_eff, s)", max(k_eff, s), "\\max(k_{\\mathrm{eff}}, s)")
            note = "Keras' valid: the last window, or the stride if longer"
            return Derived((_in(name, length) - 1) * s_ + last, note)
        return Derived((_in(name, length) - 1) * s_ + d_ * (k_ - 1) + 1 + op_, "Keras' valid")
    odd = sym("k_eff mod 2", k_eff % 2, "(k_{\\mathrm{eff}} \\bmod 2)")
    return Derived((_in(name, length) - 1) * s_ + odd + op_, "Keras' same with output_padding")


def _refuse(message: str, field: str | None) -> int:
    raise Refusal(message, field)


# each forward rule and its derivation (see Derived)
DERIVATIONS: dict[Callable[..., int], Callable[..., Derived]] = {
    conv_out: conv_out_derived,
    conv_same_out: conv_same_out_derived,
    conv_transpose_out: conv_transpose_out_derived,
    pool_out: pool_out_derived,
    adaptive_out: adaptive_out_derived,
    upsample_out: upsample_out_derived,
    pad_out: pad_out_derived,
    ceil_half: ceil_half_derived,
    scaled: scaled_derived,
    extended: extended_derived,
    kept: kept_derived,
    set_by: set_by_derived,
    keras_same_out: keras_same_out_derived,
    keras_transpose_out: keras_transpose_out_derived,
}


def derive(rule: Callable[..., int], name: str, args: tuple[Any, ...]) -> Derived:
    """The derivation of ``rule(*args)`` in the dimension called ``name``."""
    return DERIVATIONS[rule](name, *args)


# --- inverse: which strides give M? --------------------------------------------------------


def conv_strides(n: int, m: int, k: int, p: int, d: int) -> list[Interval]:
    """Strides s with (N + 2p − k_eff) // s + 1 = M.

    With A = N + 2p − k_eff ≥ 0 and q = M − 1: q = 0 needs s > A; q ≥ 1 needs
    A // (q+1) < s ≤ A // q.
    """
    a = n + 2 * p - effective_kernel(k, d)
    q = m - 1
    if a < 0 or q < 0:
        return []
    if q == 0:
        return [(a + 1, None)]
    lo, hi = a // (q + 1) + 1, a // q
    return [(lo, hi)] if lo <= hi else []


def _interval_text(intervals: list[Interval]) -> str:
    parts = [
        f"s ≥ {lo}" if hi is None else f"s = {lo}" if lo == hi else f"{lo} ≤ s ≤ {hi}"
        for lo, hi in intervals
    ]
    return " or ".join(parts) or "no stride"


def _forward_text(n: int, m: int, k: int, p: int, d: int, bracket: str) -> str:
    """``⌊(64 + 2·0 − 1·(49 − 1) − 1) / s⌋ + 1 = 4``, the size rule with its numbers."""
    k_, s_, p_, d_ = _ksd(k, 1, p, d)
    rounded = floor if bracket == "floor" else ceil
    expr = rounded(_in("N", n) + 2 * p_ - d_ * (k_ - 1) - 1, s_) + 1
    return f"{render(expr, keep=frozenset('s'))} = {m}"


def conv_strides_why(n: int, m: int, k: int, p: int, d: int) -> str:
    """Why :func:`conv_strides` gives its strides: ``… = 4 ⇔ ⌊15 / s⌋ = 3 ⇔ 15/4 < s ≤ 15/3``."""
    a, q = n + 2 * p - effective_kernel(k, d), m - 1
    head = _forward_text(n, m, k, p, d, "floor")
    if a < 0:
        return f"{head}: refused, the kernel spans {effective_kernel(k, d)} > N + 2p = {n + 2 * p}"
    found = _interval_text(conv_strides(n, m, k, p, d))
    if q == 0:
        return f"{head} ⇔ ⌊{a} / s⌋ = 0 ⇔ s > {a} ⇔ {found}"
    return f"{head} ⇔ ⌊{a} / s⌋ = {q} ⇔ {a}/{q + 1} < s ≤ {a}/{q} ⇔ {found}"


def conv_kernels(n: int, m: int, s: int, p: int, d: int) -> tuple[int, int] | None:
    """Kernels k with (N + 2p − k_eff) // s + 1 = M at a given stride, for M ≥ 2 (conv's rule,
    and floor-mode pooling's before its padding check).

    With A = N + 2p − 1 − d·(k − 1) and q = M − 1: q·s ≤ A ≤ q·s + s − 1, an interval of k.
    """
    q, span = m - 1, n + 2 * p - 1
    lo = -(-(span - q * s - s + 1) // d) + 1
    hi = (span - q * s) // d + 1
    lo = max(lo, 1)
    return (lo, hi) if q >= 1 and lo <= hi else None


def pool_strides(n: int, m: int, k: int, p: int, d: int, ceil_mode: bool) -> list[Interval]:
    """Strides s for which :func:`pool_out` gives M (empty if the padding is refused).

    floor mode is conv's rule. ceil mode: out₀ = ⌈A/s⌉ + 1 then one less if (out₀−1)·s ≥ N + p,
    so M comes from ⌈A/s⌉ = M with M·s ≥ N + p, or from ⌈A/s⌉ = M − 1 with (M−1)·s < N + p.
    """
    if p > k // 2 or m < 1:
        return []
    if not ceil_mode:
        return conv_strides(n, m, k, p, d)
    a = n + 2 * p - effective_kernel(k, d)
    np_ = n + p
    # ⌈A/s⌉ = M and M·s ≥ N + p  (strides below those of the second case)
    first = _intersect(_ceil_quotient_strides(a, m), (-(-np_ // m), None))
    # ⌈A/s⌉ = M − 1 and (M − 1)·s < N + p
    bound = None if m == 1 else (np_ - 1) // (m - 1)
    second = _intersect(_ceil_quotient_strides(a, m - 1), (1, bound))
    return [iv for iv in (first, second) if iv is not None]


def pool_strides_why(n: int, m: int, k: int, p: int, d: int, ceil_mode: bool) -> str:
    """Why :func:`pool_strides` gives its strides (floor mode: conv's reasoning)."""
    if p > k // 2:
        return f"padding {p} > k // 2 = {k // 2}: refused"
    if not ceil_mode:
        return conv_strides_why(n, m, k, p, d)
    a = n + 2 * p - effective_kernel(k, d)
    head = _forward_text(n, m, k, p, d, "ceil")
    found = _interval_text(pool_strides(n, m, k, p, d, ceil_mode))
    return (
        f"{head} (− 1 if the last window starts at (out − 1)·s ≥ N + p = {n + p}) ⇔ "
        f"⌈{a} / s⌉ = {m} with {m}·s ≥ {n + p}, or ⌈{a} / s⌉ = {m - 1} with "
        f"{m - 1}·s < {n + p} ⇔ {found}"
    )


def _ceil_quotient_strides(a: int, c: int) -> Interval | None:
    """Strides s ≥ 1 with ⌈a / s⌉ = c (c ≥ 0): s·(c − 1) < a ≤ s·c."""
    if c == 0:
        return (1 - a, None) if a <= 0 else None
    if c == 1:
        return (a, None) if a >= 1 else None
    lo, hi = max(1, -(-a // c)), (a - 1) // (c - 1)
    return (lo, hi) if lo <= hi else None


def conv_transpose_strides(n: int, m: int, k: int, p: int, d: int) -> list[Interval]:
    """Strides s for which some output_padding op gives M; op = R − (N − 1)·s.

    R = M − 1 + 2p − d·(k − 1) = (N − 1)·s + op, with 0 ≤ op < max(s, d).
    For N = 1, op = R and every stride above R − 1 (or every stride, if R < d) works.
    """
    r = m - 1 + 2 * p - d * (k - 1)
    if r < 0 or m < 1:
        return []
    if n == 1:
        return [(1, None)] if r < d else [(r + 1, None)]
    hi = r // (n - 1)  # op ≥ 0
    lo = max(1, min(r // n + 1, (r - d) // (n - 1) + 1))  # op < s or op < d
    return [(lo, hi)] if lo <= hi else []


def conv_transpose_strides_why(n: int, m: int, k: int, p: int, d: int) -> str:
    """Why :func:`conv_transpose_strides` gives its strides: output_padding fills the rest."""
    r = m - 1 + 2 * p - d * (k - 1)
    head = f"({n} − 1)·s − 2·{p} + {d}·({k} − 1) + op + 1 = {m}"
    found = _interval_text(conv_transpose_strides(n, m, k, p, d))
    return (
        f"{head} ⇔ {n - 1}·s + op = {r} with 0 ≤ op < max(s, {d}) ⇔ {found}, op = {r} − {n - 1}·s"
    )


def conv_transpose_output_padding(n: int, m: int, k: int, s: int, p: int, d: int) -> int:
    """The output_padding that completes a conv_transpose to size M: R − (N − 1)·s."""
    return m - 1 + 2 * p - d * (k - 1) - (n - 1) * s


def _intersect(a: Interval | None, b: Interval) -> Interval | None:
    if a is None:
        return None
    lo = max(a[0], b[0])
    his = [h for h in (a[1], b[1]) if h is not None]
    hi = min(his) if his else None
    return (lo, hi) if hi is None or lo <= hi else None


def floor_sum(n: int, m: int, a: int, b: int) -> int:
    """Σ_{i=0}^{n−1} ⌊(a·i + b) / m⌋ for n ≥ 0, m ≥ 1 and any integers a, b, in O(log m) steps:
    a and b brought into 0 … m − 1 first, then the Euclid-like reduction that swaps the roles
    of a and m (the AtCoder Library's ``floor_sum``). The solver counts settings with it, lint
    the taps that reach the input."""
    qa, a = divmod(a, m)
    qb, b = divmod(b, m)
    total = qa * n * (n - 1) // 2 + qb * n
    while True:
        if a >= m:
            total += n * (n - 1) // 2 * (a // m)
            a %= m
        if b >= m:
            total += n * (b // m)
            b %= m
        top = a * n + b
        if top < m:
            return total
        n, b = divmod(top, m)
        m, a = a, m
