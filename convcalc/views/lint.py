"""Lint: the silent traps of a layer stack that a careful reviewer points out. It never prints.

Nothing here computes a size: a conv's or pool's numbers per spatial dimension come from the
rule its ``forward`` applied (``Step.rules``) and its window (``Step.windows``), receptive fields
from :mod:`convcalc.views.receptive`. Per dimension: ``L`` the input size,
``k_eff = d·(k − 1) + 1`` the window's span, ``s`` the stride, ``p`` the padding (``pl``, ``pr``
where the sides differ), ``out`` the output size. Window i spans the padded positions
i·s … i·s + k_eff − 1; the input is at pl … pl + L − 1. A span counts as read: the holes of a
dilated kernel are its design.

- ``input-size-drops``: some layer drops input (next item); the input sizes nearest L that drop
  nothing, found by analysing the layers again, and J, the total stride at the deepest point
  (the receptive field's largest jump: 2^levels for a U-Net).
- ``floor-drops-input`` (s ≤ k_eff): the windows stop before the input ends: the last
  (L + 2p − k_eff) mod s padded positions are never read, all but pr of them input.
- ``stride-skips-input`` (s > k_eff): s − k_eff positions after each window are never read.
- ``ceil-mode-extra-window``: ⌈(L + 2p − k_eff)/s⌉ + 1 > ⌊(L + 2p − k_eff)/s⌋ + 1 (the last window
  starts before L + p, so PyTorch keeps it): an extra window, partly past the input.
- ``padding-only-zeros``: p ≥ k_eff: the first (pl − k_eff) // s + 1 outputs, and the last
  out − ⌈(pl + L)/s⌉, see nothing but zero padding.
- ``kernel-taps-unused``: tap j meets the input only if 0 ≤ i·s + j·d − pl < L for some output
  i < out; the weights of the other taps never do (a 3×3 conv on a 1×1 map uses 1 tap of 9).
- ``receptive-field-exceeds-input``: the first layer whose receptive field r is larger than L.
- ``misaligned-paths``: a block whose paths disagree in jump or centre (``Field.misaligned``).
- ``residual-broadcasts``: a residual whose body and shortcut give different shapes that
  broadcast (each dimension equal, or 1 in one of them): legal, as torch and Keras broadcast,
  but a shortcut usually gives the body's shape, so a size 1 repeated is often a mistake.
- ``bias-before-norm``: a bias b, then batch or instance norm: (x + b) − mean(x + b) = x − mean(x).
- ``dropout-before-batchnorm``: dropout multiplies E[x²] by 1/(1 − p) in training only, so the
  norm's running variance is wrong at evaluation (the variance shift, Li et al. 2019).
- ``double-activation``: two activations in a row; relu(relu(x)) = relu(x).
- ``even-kernel-same``: padding 'same' pads ⌊d·(k − 1)/2⌋ before and the rest after: an even
  k_eff shifts the output half a position.
- ``large-linear``: a linear on a flattened C×H×W map holding half the parameters or more.
- ``linear-without-flatten``: a linear straight after a pool to [C, 1, …, 1]: it maps the last
  size 1 → n for each channel alone (C·n outputs), where a flatten first gives C → n.
- ``linear-on-positions``: a linear straight after a conv or pool on [C, *spatial]: the same
  weights on each of the prod(shape[:-1]) rows (not for sequences [L, E]: the design there).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, replace
from dataclasses import field as dc_field
from typing import TYPE_CHECKING, Any, NamedTuple

from convcalc import arith
from convcalc.analysis import analyse
from convcalc.budget import Budget, WorkLimit
from convcalc.errors import ConvcalcError
from convcalc.layers.registry import KINDS
from convcalc.records import Entry, Report, Window, shape_text
from convcalc.views.receptive import Field, receptive_fields

if TYPE_CHECKING:
    from convcalc.solve.inputs import Accepted, Limit, SizeSet

Names = tuple[tuple[str, str], ...]  # each spatial dimension's name and what it counts
NAMES: dict[int, Names] = {1: (("L", "position"),), 2: (("H", "row"), ("W", "column"))}
NAMES[3] = (("D", "slice"), *NAMES[2])
# the registry's activations but softmax and log_softmax: those normalise across a dimension (a
# classifier's output) rather than act on each value alone, so relu → softmax is not the doubled
# element-wise non-linearity that double-activation is about
ACTIVATIONS = frozenset(
    name
    for name, kind in KINDS.items()
    if kind.category == "activation" and name not in ("softmax", "log_softmax")
)
IDEMPOTENT = {"relu", "relu6"}  # f(f(x)) = f(x)
NORMS = frozenset(name for name, kind in KINDS.items() if kind.centres)  # each channel's mean
SEARCH = 64  # input sizes tried on either side of the given one, at most
SEARCH_STOPPED = "lint stopped trying input sizes"  # what the budget's message says it stopped
Found = tuple[str, str, str, str]  # code, message, formula, fix
Hit = tuple[str, str, str] | None  # one dimension's part of the message, formula, fix


@dataclass(frozen=True)
class Finding:
    """One warning: what (``code``), where (``path`` and ``layer``, the entry's label; for the
    input-size warning ``"input"`` and the input's shape), the numbers, and a fix."""

    code: str
    path: str
    layer: str
    message: str
    formula: str
    fix: str
    data: dict[str, Any] | None = dc_field(default=None, compare=False)  # the numbers, for JSON

    def to_dict(self) -> dict[str, Any]:
        """The fields; ``data`` only for the findings that carry numbers as data."""
        found = asdict(self)
        if self.data is None:
            del found["data"]
        return found


@dataclass(frozen=True)
class Dim:
    """A conv or pool in one spatial dimension: L, k, k_eff, s, pl, pr, d, out."""

    length: int
    kernel: int
    span: int
    stride: int
    left: int
    right: int
    dilation: int
    out: int
    pool: bool
    ceil: bool
    keras: bool = False  # a layer of a Keras spec: fixes in Keras' words
    rank: int = 1  # the layer's spatial dimensions (Keras' ZeroPadding{rank}D)


def _dims(entry: Entry) -> list[Dim]:
    """The spatial dimensions of a conv or pool; none for any other entry."""
    step = entry.step
    if step is None or step.windows is None or len(step.rules) != len(step.windows):
        return []
    found = []
    for i, (applied, w) in enumerate(zip(step.rules, step.windows, strict=True)):
        rule, a = applied.rule, applied.args  # (L, k, s, p, d[, ceil]); 'same': (L, k, d)
        if rule not in (arith.conv_out, arith.conv_same_out, arith.pool_out):
            return []
        d = a[2] if rule is arith.conv_same_out else a[4]
        pool, out = rule is arith.pool_out, entry.output_shape[i + 1]
        sides = (w.kernel, w.stride, w.pad_left, w.pad_right, d, out)
        keras = entry.layer.word("stride") != "stride"  # Keras' words: strides
        rank = len(step.windows)
        found.append(Dim(a[0], a[1], *sides, pool, pool and bool(a[5]), keras, rank))
    return found


def _covered(dim: Dim, stop: int) -> int:
    """How many padded positions before ``stop`` some window spans."""
    if stop <= 0:
        return 0
    if dim.stride <= dim.span:  # the windows touch: one run from 0
        return min(stop, (dim.out - 1) * dim.stride + dim.span)
    q, r = divmod(stop, dim.stride)
    return min(q, dim.out) * dim.span + (min(r, dim.span) if q < dim.out else 0)


def _unread(dim: Dim) -> int:
    """Input positions no window spans: after the last one if s ≤ k_eff, else also between."""
    return dim.length - _covered(dim, dim.left + dim.length) + _covered(dim, dim.left)


def _floor(dim: Dim) -> int:
    """⌊(L + pl + pr − k_eff) / s⌋ + 1: the output size in floor mode."""
    return (dim.length + dim.left + dim.right - dim.span) // dim.stride + 1


class Taps(NamedTuple):
    """The taps of one dimension that meet the input: how many, the first and the last (−1
    when none does)."""

    used: int
    first: int
    last: int


def _taps(dim: Dim) -> Taps:
    """The taps j that meet the input: some i < out with pl − j·d ≤ i·s ≤ pl − j·d + L − 1.

    Worked out in O(log) arithmetic, however long the kernel. Tap j's positions j·d − pl + i·s
    (i = 0 … out − 1) can reach the input only for j·d in [pl − (out − 1)·s, pl + L − 1]; there
    they reach it exactly when (j·d − pl) mod s < L (the multiple of s nearest above pl − j·d
    is then at most L − 1 past it, and 0 or (out − 1)·s bounds it when the range is clipped).
    """
    lo = max(0, -(-(dim.left - (dim.out - 1) * dim.stride) // dim.dilation))
    hi = min(dim.kernel - 1, (dim.left + dim.length - 1) // dim.dilation)
    used = _meeting(dim, lo, hi)
    if not used:
        return Taps(0, -1, -1)
    # the first and the last: the least j with a tap in [lo, j], the most with one in [j, hi]
    first, top = lo, hi
    while first < top:
        mid = (first + top) // 2
        first, top = (first, mid) if _meeting(dim, lo, mid) else (mid + 1, top)
    bottom, last = lo, hi
    while bottom < last:
        mid = (bottom + last + 1) // 2
        bottom, last = (mid, last) if _meeting(dim, mid, hi) else (bottom, mid - 1)
    return Taps(used, first, last)


def _meeting(dim: Dim, lo: int, hi: int) -> int:
    """How many j in lo … hi (within the range where a tap can reach the input) have
    (j·d − pl) mod s < L: Σ ⌊x/s⌋ − ⌊(x − L)/s⌋ over x = j·d − pl, each term 1 or 0 when L < s."""
    n = hi - lo + 1
    if n <= 0 or dim.length >= dim.stride:
        return max(n, 0)
    start = lo * dim.dilation - dim.left
    return arith.floor_sum(n, dim.stride, dim.dilation, start) - arith.floor_sum(
        n, dim.stride, dim.dilation, start - dim.length
    )


def _resized(dim: Dim, kernel: int, padding: int) -> int | None:
    """The output size with another kernel or (symmetric) padding, by the layer's own rule;
    a Keras layer's padding is a ZeroPadding before it: ⌊(L + 2p − k_eff)/s⌋ + 1."""
    try:
        if dim.keras:
            return arith.conv_out(dim.length + 2 * padding, kernel, dim.stride, 0, dim.dilation)
        if dim.pool:
            return arith.pool_out(dim.length, kernel, dim.stride, padding, dim.dilation, dim.ceil)
        return arith.conv_out(dim.length, kernel, dim.stride, padding, dim.dilation)
    except arith.Refusal:
        return None


def _n(count: int, what: str = "") -> str:
    """``3 {nouns}``: :func:`_spread` fills in the noun, one dimension's or several."""
    return f"{count} {what}{{noun}}" if count == 1 else f"{count} {what}{{nouns}}"


def _spread(names: Names, texts: dict[str, str], listing: bool = False) -> str:
    """Per-dimension texts as one: ``1 row and column`` when every dimension says the same,
    else ``H: …; W: …``; ``listing`` lists them: ``the last 1 row and the last 2 columns``."""
    nouns = dict(names)
    if not listing and len(texts) == len(names) and len(set(texts.values())) == 1:
        return _nouns(next(iter(texts.values())), list(nouns.values()))
    each = {name: _nouns(text, [nouns[name]]) for name, text in texts.items()}
    return _and(list(each.values())) if listing else "; ".join(f"{n}: {t}" for n, t in each.items())


def _nouns(text: str, nouns: list[str]) -> str:
    plural = _and([noun + "s" for noun in nouns])
    return text.replace("{nouns}", plural).replace("{noun}", _and(nouns))


def _and(parts: list[str]) -> str:
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]


def _sum(dim: Dim) -> str:
    """``L + 2·p − k_eff``; a Keras layer's ``L − k_eff`` where it pads nothing (``valid``)."""
    if dim.keras and not dim.left and not dim.right:
        return f"{dim.length} − {dim.span}"
    pad = f"2·{dim.left}" if dim.left == dim.right else f"{dim.left} + {dim.right}"
    return f"{dim.length} + {pad} − {dim.span}"


def _kernel(dim: Dim) -> str:
    """The kernel's name in a fix: PyTorch's ``kernel``; Keras' ``kernel_size`` or
    ``pool_size``."""
    if not dim.keras:
        return "kernel"
    return "pool_size" if dim.pool else "kernel_size"


def _padding(dim: Dim, padding: int) -> str:
    """Symmetric padding in a fix: PyTorch's ``padding p``; Keras pads a ``valid`` layer by a
    ZeroPadding layer before it."""
    if not dim.keras:
        return f"padding {padding}"
    return f"ZeroPadding{dim.rank}D({padding}) before it"


def _zero_padded(entry: Entry) -> bool:
    return getattr(entry.layer, "padding_mode", "zeros") == "zeros"


def _num(values: tuple[float, ...]) -> str:
    return "×".join(f"{v:g}" for v in values)


# --- a conv or pool, one dimension at a time ----------------------------------------------------


def floor_drops(dim: Dim) -> Hit:
    n = _unread(dim)
    if dim.stride > dim.span or not n:
        return None
    s, rem = dim.stride, (dim.length + dim.left + dim.right - dim.span) % dim.stride
    formula = f"({_sum(dim)}) mod {s} = {rem} ≠ 0"
    formula += f", less the padding {dim.right}: {n}" if dim.right else ""
    # a kernel rem/d longer, or padding x more with rem + 2x ≡ 0 (mod s), reads to the end
    x = (s - rem) * (s + 1) // 2 % s if s % 2 else (s - rem) // 2 if rem % 2 == 0 else 0
    kernel, padding = dim.kernel + rem // dim.dilation, dim.left + x
    options = [(f"{_kernel(dim)} {kernel}", kernel, dim.left)] if rem % dim.dilation == 0 else []
    if x and dim.left == dim.right:
        extra = padding - dim.left  # a Keras layer's ZeroPadding adds to what it pads
        options.append((_padding(dim, extra if dim.keras else padding), dim.kernel, padding))
    shown = [f"{text} (output {size})" for text, k, p in options if (size := _resized(dim, k, p))]
    fix = " or ".join(shown) + " reads to the end" if shown else f"make {_sum(dim)} divide by {s}"
    return f"the last {_n(n)}", formula, fix


def stride_skips(dim: Dim) -> Hit:
    n, gap = _unread(dim), dim.stride - dim.span
    if gap <= 0 or not n:
        return None
    k = -(-(dim.stride - 1) // dim.dilation) + 1  # the least k with d·(k − 1) + 1 ≥ s
    stride = "strides" if dim.keras else "stride"
    return (
        f"{n} of its {_n(dim.length)}",
        f"{stride} {dim.stride} − window {dim.span} = {_n(gap)} unread after each window",
        f"{_kernel(dim)} {k} (a window as long as the {stride}) or {stride} {dim.span}",
    )


def ceil_window(dim: Dim) -> Hit:
    floor, start = _floor(dim), (dim.out - 1) * dim.stride
    if not dim.ceil or dim.out <= floor:
        return None
    real = max(0, min(start + dim.span, dim.left + dim.length) - max(start, dim.left))
    left = _unread(replace(dim, out=floor)) if floor > 0 else 0
    fix = f"ceil_mode false gives {floor}" + (
        f" and leaves the last {_n(left)} unread" if left else ", reading every input"
    )
    padded = dim.length + dim.left + dim.right
    return (
        f"{real} of its {_n(dim.span)}",
        f"⌈({_sum(dim)}) / {dim.stride}⌉ + 1 = {dim.out} > ⌊…⌋ + 1 = {floor}",
        fix if floor > 0 else f"ceil_mode false is refused: the window {dim.span} > {padded}",
    )


def padding_only(dim: Dim) -> Hit:
    first = (dim.left - dim.span) // dim.stride + 1 if dim.left >= dim.span else 0
    last = max(0, dim.out + -(dim.left + dim.length) // dim.stride)  # out − ⌈(pl + L)/s⌉
    if not first and not last:
        return None
    keep = f" (padding {dim.span // 2} keeps the size)" if dim.stride == 1 and dim.span % 2 else ""
    return (
        f"the first {first} and the last {_n(last, 'output ')}",
        f"padding {max(dim.left, dim.right)} ≥ window {dim.span}",
        f"padding at most {dim.span - 1}{keep}",
    )


WINDOW_CHECKS: list[tuple[str, Callable[[Dim], Hit], str]] = [
    ("floor-drops-input", floor_drops, "never reads {parts} of its {shape} input: the last "
     "window ends before the input does"),
    ("stride-skips-input", stride_skips, "never reads {parts} ({shape} input): its stride is "
     "longer than its window"),
    ("ceil-mode-extra-window", ceil_window, "gives an output of {out} where floor mode gives "
     "{floor}: the extra last window holds only {parts} from the input, the rest is padding or "
     "past the end"),
    ("padding-only-zeros", padding_only, "computes {parts} from padding alone: they hold zeros "
     "(or the bias), whatever the input"),
]  # fmt: skip


Shown = Callable[[tuple[int, ...]], str]  # a shape as the report's spec writes it


def window_checks(entry: Entry, ds: list[Dim], shown: Shown = shape_text) -> Iterator[Found]:
    names, shape = NAMES[len(ds)], shown(entry.input_shape)
    out, floor = shape_text(entry.output_shape[1:]), shape_text(tuple(map(_floor, ds)))
    for code, check, template in WINDOW_CHECKS:
        pairs = zip(names, ds, strict=True)
        hits = {name: hit for (name, _), dim in pairs if (hit := check(dim)) is not None}
        if hits and (code != "padding-only-zeros" or _zero_padded(entry)):
            parts = _spread(names, {n: h[0] for n, h in hits.items()}, listing=True)
            message = template.format(parts=parts, shape=shape, out=out, floor=floor)
            formula, fix = (_spread(names, {n: h[i] for n, h in hits.items()}) for i in (1, 2))
            yield code, f"{entry.label} {message}", formula, fix


def unused_taps(entry: Entry, ds: list[Dim], shown: Shown = shape_text) -> Iterator[Found]:
    taps = [_taps(dim) for dim in ds]
    used, total = math.prod(t.used for t in taps), math.prod(dim.kernel for dim in ds)
    if used == total or not _zero_padded(entry):
        return  # (reflected or repeated padding holds input values)
    kernel, names = shape_text(tuple(dim.kernel for dim in ds)), NAMES[len(ds)]
    weights = math.prod(entry.tensors.get("weight", ()))
    what = (
        f"filter meet the input: {weights // total * (total - used):,} of its {weights:,} "
        "weights never do"
        if entry.tensors
        else "window ever hold input"
    )
    rows = zip(names, ds, taps, strict=True)
    formula = _spread(names, {n: f"{t.used} of {d.kernel} taps" for (n, _), d, t in rows})
    # the used taps j0 … j1 alone: kernel j1 − j0 + 1 and padding pl − j0·d, the same windows
    smaller = [
        (t.last - t.first + 1, d.left - t.first * d.dilation)
        for d, t in zip(ds, taps, strict=True)
        if t.used
    ]
    fix = "a smaller kernel or a larger input"
    if (
        entry.type == "conv"
        and all(t.used for t in taps)
        and all(_resized(d, k, p) == d.out for d, (k, p) in zip(ds, smaller, strict=True))
    ):
        kernels, pads = (shape_text(column) for column in zip(*smaller, strict=True))
        fix = f"kernel {kernels} with padding {pads} gives the same output"
    message = f"{entry.label} on {shown(entry.input_shape)}: only {used} of the {total} taps"
    yield "kernel-taps-unused", f"{message} of each {kernel} {what} ({formula})", formula, fix


# --- a layer, and the next one in the same list --------------------------------------------------


def _shift(w: Window) -> str:
    """How far an uneven window moves each footprint or output from centred: (right − left)/2
    positions, to the end where the end gets more."""
    half = abs(w.pad_right - w.pad_left)
    amount = "half a position" if half == 1 else f"{half / 2:g} positions"
    return f"{amount} to the {'end' if w.pad_right > w.pad_left else 'start'}"


def _uneven_same(entry: Entry, w: Window) -> Found:
    """Keras' ``same`` with a stride. A transposed window of span k_eff crops T = k_eff − s
    (k_eff − k_eff mod 2 − output_padding where given) from PyTorch's uncropped output, ⌊T/2⌋ at
    the start and the rest at the end (appending zeros where T < 0), so input i's footprint
    lands (T − 2·⌊T/2⌋)/2 late; a strided one pads T = (out − 1)·s + k_eff − n, the odd one at
    the end, so output i centres on s·i + (k_eff − 1)/2 − ⌊T/2⌋."""
    if w.transposed:
        total = w.pad_left + w.pad_right
        cut = (
            f"crops {w.pad_left} at the start and {w.pad_right} at the end"
            if w.pad_right >= 0
            else f"crops nothing and appends {-w.pad_right} zeros at the end"
        )
        given = getattr(entry.layer, "output_padding", None) is not None
        why = (
            f"the crop T = k_eff − k_eff mod 2 − output_padding = {total}"
            if given
            else f"the crop T = k_eff − s = {w.kernel} − {w.stride} = {total}"
        )
        return (
            "even-kernel-same",
            f"{entry.label}: 'same' {cut} (Keras' output): each input's footprint is "
            f"shifted {_shift(w)}",
            f"{why}, {'odd' if total % 2 else 'below 0'}: ⌊T/2⌋ at the start, the rest at the end",
            f"a kernel with k − s even and at least 0 (kernel_size "
            f"{w.kernel + 1 if total % 2 and total >= -1 else w.stride} with strides "
            f"{w.stride}) crops both sides equally"
            if not given
            else "an output_padding that makes the crop T even and at least 0",
        )
    total = w.pad_left + w.pad_right
    return (
        "even-kernel-same",
        f"{entry.label}: 'same' pads {total} in all, {w.pad_left} before and {w.pad_right} "
        "after: the output is shifted half a position to the end",
        f"(out − 1)·s + k_eff − n = {total}, odd: the extra one at the end",
        "an input size and kernel that make the total padding even, or ZeroPadding with "
        "padding 'valid'",
    )


def layer_checks(
    entry: Entry, after: Entry | None, flat: Entry | None, total: int, shown: Shown = shape_text
) -> Iterator[Found]:
    """The checks of one layer that are not about windows; ``flat`` is the last layer before it
    in the same list to change the shape."""
    kind, nxt = entry.type, after.type if after is not None else ""
    where = f"{after.label} at {after.path}" if after is not None else ""
    if kind == "residual" and len(entry.children) == 2:
        yield from broadcast_residual(entry, shown)
    bias = math.prod(entry.tensors.get("bias", (0,)))
    if bias and kind in ("conv", "conv_transpose", "linear") and nxt in NORMS:
        yield (
            "bias-before-norm",
            f"{entry.label} adds a bias of {bias:,} values that {where} removes with each "
            f"channel's mean: {bias:,} parameters with no effect",
            "(x + b) − mean(x + b) = x − mean(x)",
            f"{entry.layer.word('bias')}: false ({bias:,} fewer parameters)",
        )
    if kind.startswith("dropout") and nxt == "batchnorm":
        p = float(getattr(entry.layer, "p", 0.5))
        yield (
            "dropout-before-batchnorm",
            f"{entry.label} feeds {where}, whose running variance is learnt from values scaled "
            f"by 1/(1 − {p:g}) = {1 / (1 - p) if p < 1 else math.inf:.3g} in training but used "
            "on unscaled ones at evaluation (the variance shift)",
            f"E[y²] = E[x²] / (1 − {p:g}) in training, E[x²] at evaluation",
            "put the dropout after the batchnorm",
        )
    if kind in ACTIVATIONS and nxt in ACTIVATIONS and after is not None:
        same = kind == nxt and kind in IDEMPOTENT
        what = "the second changes nothing" if same else "two non-linearities, no layer between"
        yield (
            "double-activation",
            f"{where} comes straight after {entry.label}: {what}",
            f"{nxt}({kind}(x))" + (f" = {nxt}(x)" if same else ""),
            f"remove one of them (likely {after.path})",
        )
    windows = entry.step.windows or () if entry.step is not None else ()
    uneven = [w for w in windows if w.pad_left != w.pad_right]
    if getattr(entry.layer, "padding", None) == "same" and uneven:
        w = uneven[0]
        if w.transposed or w.stride > 1:
            yield _uneven_same(entry, w)
            return
        yield (
            "even-kernel-same",
            f"{entry.label}: padding 'same' with the even window {w.kernel} pads {w.pad_left} "
            f"before and {w.pad_right} after: the output is shifted half a position to the end",
            f"d·(k − 1) = {w.kernel - 1}: {w.pad_left} before, {w.pad_right} after",
            "an odd kernel pads both sides equally",
        )
    if kind == "linear" and flat is not None and KINDS[flat.type].category in ("conv", "pool"):
        yield from linear_on_map(entry, flat)
    flat = flat if flat is not None and flat.type == "flatten" else None
    if (
        kind == "linear"
        and flat
        and math.prod(flat.input_shape[1:]) > 1
        and 2 * entry.params >= total
    ):
        c, out, share = flat.input_shape[0], entry.output_shape[-1], entry.params / total
        alt = c * out + (out if "bias" in entry.tensors else 0)
        yield (
            "large-linear",
            f"{entry.label} holds {entry.params:,} parameters, {share:.0%} of the network's "
            f"{total:,}: it reads the flattened {shown(flat.input_shape)} map ({flat.path})",
            f"{entry.params:,} / {total:,} = {share:.1%}",
            f"a global average pool before the flatten leaves {c} features: {alt:,} parameters",
        )


_ROWS = {3: "(C, H) ", 4: "(C, D, H) "}  # what a row of a map is indexed by


def broadcast_residual(entry: Entry, shown: Shown = shape_text) -> Iterator[Found]:
    """A residual whose body and shortcut outputs differ but broadcast to its output (each
    dimension equal, or 1 in one and the output's in the other): the values of a size-1
    dimension are repeated along the output's, which a shortcut meant to match does not do."""
    body, short = entry.children[0][1], entry.children[1][1]
    outs = [es[-1].output_shape if es else entry.input_shape for es in (body, short)]
    if outs[0] == outs[1]:
        return
    op = getattr(entry.layer, "join", "add")
    sign = {"add": " + ", "subtract": " − ", "multiply": " · "}.get(op, f" {op} ")
    out = entry.output_shape
    grown = [
        name + (" (its missing leading axes too)" if len(s) < len(out) else "")
        for name, s in zip(("body", "shortcut"), outs, strict=True)
        if s != out
    ]
    yield (
        "residual-broadcasts",
        f"{entry.label}: body gives {shown(outs[0])} but shortcut gives {shown(outs[1])}; "
        f"they are broadcast to {shown(out)}, the values of {_and(grown)} repeated along each "
        "dimension of size 1: legal, but a shortcut usually gives the body's shape",
        f"{shown(outs[0])}{sign}{shown(outs[1])} → {shown(out)}",
        "make the shortcut give the body's shape; where the broadcast is meant (a gate, a "
        "bias per channel), a graph join or a scale says so",
    )


def linear_on_map(entry: Entry, made: Entry) -> Iterator[Found]:
    """A linear on a conv's or pool's map [C, *spatial] (``made`` by that layer), without a
    flatten between: it acts on the last dimension alone, the same weights on every row of
    the others (PyTorch runs it). On a pooled map [C, 1, …, 1]: linear 1 → n per channel."""
    shape, out = entry.input_shape, entry.output_shape[-1]
    if len(shape) < 2:
        return
    bias = out if "bias" in entry.tensors else 0
    flat, rows = math.prod(shape), math.prod(shape[:-1])
    after = f"after {made.label} ({made.path})"
    if all(n == 1 for n in shape[1:]):
        if shape[0] > 1:
            yield (
                "linear-without-flatten",
                f"{entry.label} on {shape_text(shape)} {after} acts on the last dimension only: "
                f"each of the {shape[0]} channels gets its own {out} outputs "
                f"({shape_text(entry.output_shape)}), none mixes the channels",
                f"{shape_text(shape)} → {shape_text(entry.output_shape)}: weight {out}×{shape[-1]}",
                f"a flatten before it: linear {shape[0]} → {out}, "
                f"{shape[0] * out + bias:,} parameters",
            )
        return
    if len(shape) >= 3:
        yield (
            "linear-on-positions",
            f"{entry.label} on {shape_text(shape)} {after} acts on the last dimension "
            f"alone, the same weights applied to each of its {shape_text(shape[:-1])} = "
            f"{rows:,} {_ROWS.get(len(shape), '')}rows: legal, but a linear usually reads "
            "every value",
            f"{shape_text(shape)} → {shape_text(entry.output_shape)}: "
            f"{rows:,} rows × ({shape[-1]} → {out})",
            f"a flatten before it reads all {flat:,} values (linear {flat:,} → {out}); for "
            "features per position, a 1×1 conv (or a permute putting them last)",
        )


# --- the whole network ---------------------------------------------------------------------------


def lint(
    report: Report, budget: Budget | None = None, accepted: Sequence[Accepted] = ()
) -> list[Finding]:
    """Every warning, in execution order (the input's first), in one walk: linear time. The
    search for input sizes that drop nothing spends from ``budget`` (by default the one work
    budget's :data:`~convcalc.budget.STEPS`): one step per entry analysed again. ``accepted``:
    the input sizes the network accepts per spatial dimension, from the solver
    (:func:`convcalc.solve.accepted.accepted_inputs`; the views do not import it)."""
    fields = receptive_fields(report)
    place: dict[int, tuple[Entry | None, Entry | None]] = {}  # the next, the last reshaper
    for entries in [report.layers, *(es for e in report.walk() for _, es in e.children)]:
        reshaper = None
        for entry, after in zip(entries, (*entries[1:], None), strict=False):
            place[id(entry)] = (after, reshaper)
            reshaper = entry if entry.input_shape != entry.output_shape else reshaper
    found: list[Finding] = []
    drops: dict[str, list[int]] = {}  # the paths dropping input → in which dimensions
    wide, total = False, report.total_params
    for entry in report.walk():
        ds = _dims(entry)
        shown = report.shown  # every shape in the spec's own order (Keras: channels-last)
        results = [*window_checks(entry, ds, shown), *unused_taps(entry, ds, shown)] if ds else []
        results += layer_checks(entry, *place[id(entry)], total, shown)
        if axes := [axis for axis, dim in enumerate(ds) if floor_drops(dim)]:
            drops[entry.path] = axes
        field = fields[id(entry)]
        if field.misaligned:
            results.append(misaligned(entry, field))
        size = () if wide or entry.is_block or field.size is None else field.size
        if any(r > n for r, n in zip(size, report.input_shape[1:], strict=False)):
            wide = True
            results.append(too_wide(report, entry, field, fields[id(report.layers[-1])]))
        found += (Finding(c, entry.path, entry.label, m, f, x) for c, m, f, x in results)
    found = ([input_size(report, fields, drops, budget)] if drops else []) + found
    restricted = only_some_sizes(report, accepted)
    return [restricted, *found] if restricted is not None else found


def misaligned(entry: Entry, field: Field) -> Found:
    paths = [(p.removeprefix(entry.path).strip(". "), j, s) for p, j, s in field.misaligned]
    return (
        "misaligned-paths",
        f"the {len(paths)} paths of {entry.label} are not centred on the same input positions, "
        "so each output joins values that look at different places",
        "; ".join(f"{p}: jump {_num(j)}, start {_num(s)}" for p, j, s in paths),
        "odd kernels with padding (k − 1)/2 and equal strides in every path keep them centred",
    )


def too_wide(report: Report, entry: Entry, field: Field, last: Field) -> Found:
    size, spatial = field.size or (), report.input_shape[1:]
    names = NAMES[len(spatial)]
    end = f"; it is {_num(last.size)} at the output" if last.size and last.size != size else ""
    rows = zip(names, size, spatial, strict=True)
    return (
        "receptive-field-exceeds-input",
        f"the receptive field is {_num(size)} after {entry.label}, larger than the "
        f"{shape_text(spatial)} input: every output from here on sees past its edges{end}",
        _spread(names, {n: f"r = {r:g} > {m}" for (n, _), r, m in rows if r > m}),
        "none if each output should see the whole image; else fewer strided or large layers",
    )


def input_size(
    report: Report,
    fields: dict[int, Field],
    drops: dict[str, list[int]],
    budget: Budget | None = None,
) -> Finding:
    """The input sizes nearest the given one at which no layer drops input, per dimension;
    each trial analyses the network again, spending a step per entry from ``budget``."""
    budget = budget or Budget(what=SEARCH_STOPPED)
    cost = sum(1 for _ in report.walk())  # the entries one trial analyses
    spatial, names = report.input_shape[1:], NAMES[len(report.input_shape) - 1]
    deepest = [(1, "")] * len(spatial)  # the largest whole jump per dimension, and where
    for entry in report.walk():
        for axis, j in enumerate(fields[id(entry)].jump):
            if j.is_integer() and j > deepest[axis][0]:
                deepest[axis] = (int(j), entry.path)
    formulas, fixes, dropping = {}, {}, sorted({axis for axes in drops.values() for axis in axes})
    for size in dict.fromkeys(spatial[axis] for axis in dropping):
        axes = [axis for axis in dropping if spatial[axis] == size]
        stride = max(deepest[axis][0] for axis in axes)
        limit = min(max(stride, 2), SEARCH)
        try:
            near = _nearest(report, axes, size, limit, budget, cost)
        except WorkLimit as exc:
            near, stopped = [], f"not known near {size}: {exc}"
        else:
            stopped = f"no input within {limit} of {size} drops nothing"
        every = stride > 1 and all(n % stride == 0 for n in near)
        fix = f"an input of {' or '.join(map(str, near))}"
        fix += f" (multiples of {stride}) drops nothing" if every else " drops nothing"
        formula = f"{size} mod {stride} = {size % stride}"
        for axis in axes:
            formulas[names[axis][0]] = formula if size % stride else f"{formula}, yet input is lost"
            fixes[names[axis][0]] = fix if near else stopped
    at, paths = max(deepest)[1], list(drops)
    return Finding(
        "input-size-drops",
        "input",
        report.shown(report.input_shape),
        f"the {report.shown(report.input_shape)} input loses its last "
        f"{_and([names[axis][1] + 's' for axis in dropping])} in {len(paths)} "
        f"layer{'s' if len(paths) != 1 else ''}, first at {paths[0]}; the total stride reaches "
        f"{shape_text(tuple(j for j, _ in deepest))}" + (f" at {at}" if at else ""),
        _spread(names, formulas),
        _spread(names, fixes),
    )


def _nearest(
    report: Report, axes: list[int], size: int, limit: int, budget: Budget, cost: int
) -> list[int]:
    """The nearest sizes below and above ``size`` (within ``limit``) at which nothing drops;
    :class:`~convcalc.budget.WorkLimit` once the trials pass ``budget``."""
    found = []
    for sign in (-1, 1):
        trials = (size + sign * d for d in range(1, limit + 1))
        hits = (n for n in trials if n >= 1 and _drops_nothing(report, axes, n, budget, cost))
        found += [n for n in [next(hits, None)] if n is not None]
    return found


def _drops_nothing(report: Report, axes: list[int], size: int, budget: Budget, cost: int) -> bool:
    """Whether the same layers, on an input of ``size`` in ``axes``, read their inputs' ends."""
    from convcalc.spec.validate import Spec

    budget.spend(cost)
    shape = tuple(size if i - 1 in axes else n for i, n in enumerate(report.input_shape))
    try:
        trial = analyse(Spec(report.name, shape, [entry.layer for entry in report.layers]))
    except ConvcalcError:
        return False
    return not any(
        floor_drops(dim) for e in trial.walk() for axis, dim in enumerate(_dims(e)) if axis in axes
    )


# --- the input sizes the network accepts ---------------------------------------------------------


def only_some_sizes(report: Report, accepted: Sequence[Accepted]) -> Finding | None:
    """``only-some-input-sizes``: the declared input is accepted, but in some dimension the
    network refuses sizes above the smallest it accepts (a U-Net's joins: H = 16k, k ≥ 1; a
    fixed upsampling: a few sizes only). Names a refused size next to the declared one, the
    accepted sizes nearest it, and the layers or joins whose conditions make the gaps. Nothing
    for sets of the form H ≥ T (resnet18: H ≥ 1), nor for a finite set that only the layers
    built for the declared input impose (LeNet-5's linear of 400: H ∈ {32, …, 35}), which is
    what such a network is: ``convcalc solve`` says it."""
    gapped = [a for a in accepted if a.sizes and a.sizes != _from_smallest(a.sizes)]
    gapped = [a for a in gapped if not a.sizes.is_finite or _by_joins_or_windows(a)]
    if not gapped:
        return None
    spatial = report.input_shape
    rows = [_gap_row(a, spatial[a.dim]) for a in gapped]
    groups: dict[tuple[SizeSet, int], list[str]] = {}
    for a in gapped:
        groups.setdefault((a.sizes, spatial[a.dim]), []).append(a.name)
    clauses, fixes = [], []
    for (sizes, declared), names in groups.items():
        refused, low, high = _refused_near(sizes, declared)
        also = f" (and {_and(names[1:])} likewise)" if len(names) > 1 else ""
        near = " and ".join(str(n) for n in (low, high) if n is not None)
        clauses.append(
            f"{sizes.describe(names[0])}{also}: {refused} would be refused, the nearest "
            f"accepted {'are' if low is not None and high is not None else 'is'} {near}"
        )
        fixes.append(f"{_and(names)}: pad or crop to an accepted size ({refused} → {high or low})")
    limits = [(a.name, limit) for a in gapped for limit in _binding(a)]
    joins = sorted({limit.path for _, limit in limits if limit.type in JOINS})
    fix = "; ".join(fixes)
    if joins:
        fix += f"; or pad the shorter path to the other's size before {_and(joins)}"
    needs: dict[tuple[str, str, SizeSet], list[str]] = {}  # a condition → its dimensions
    for name, limit in limits:
        needs.setdefault((limit.path, limit.type, limit.sizes), []).append(name)
    formula = "; ".join(
        f"{path} ({kind}) needs {condition(sizes, names[0])}"
        + (f" (and {_and(names[1:])} likewise)" if len(names) > 1 else "")
        for (path, kind, sizes), names in needs.items()
    )
    return Finding(
        "only-some-input-sizes",
        "input",
        shape_text(spatial),
        f"this network accepts only {'; only '.join(clauses)}",
        formula,
        fix,
        {"dimensions": rows},
    )


JOINS = ("residual", "concat", "split", "scale", "graph")  # blocks whose paths must agree in size


def _by_joins_or_windows(accepted: Accepted) -> bool:
    """Whether a join or a layer's own size rule (not a size the declared input builds, such
    as a linear's in_features) shapes the set."""
    built = {"linear", "position_embedding", "class_token", "layernorm", "multihead_attention"}
    built |= {"reshape", "unflatten"}  # sizes written for the declared input
    return any(limit.type not in built for limit in _binding(accepted))


def _from_smallest(sizes: SizeSet) -> SizeSet:
    """Every size from the set's smallest on: what a set without gaps is."""
    return type(sizes).at_least(sizes.smallest() or 1)


def _refused_near(sizes: SizeSet, declared: int) -> tuple[int, int | None, int | None]:
    """A refused size next to the declared one (the first above it; the last below the
    threshold when every size from there on is accepted), with the accepted sizes nearest it
    below and above."""
    if sizes.residues == (0,) and sizes.period == 1 and declared >= sizes.threshold:
        n = sizes.threshold - 1  # canonical: the threshold's predecessor is refused
    else:
        n = declared + 1
        while n in sizes:  # at most a period's worth, or past the last of a finite set
            n += 1
    return n, sizes.last_to(n), sizes.next_from(n)


def _binding(accepted: Accepted) -> list[Limit]:
    """The conditions with gaps that shape the set: those without which the others allow
    more (all of them with gaps when none alone does)."""
    gapped = [limit for limit in accepted.limits if limit.sizes != _from_smallest(limit.sizes)]
    binding = []
    for limit in gapped:
        allowed = type(limit.sizes).at_least(1)
        for other in accepted.limits:
            allowed = allowed & other.sizes if other is not limit else allowed
        if allowed != accepted.sizes:
            binding.append(limit)
    return binding or gapped


def condition(sizes: SizeSet, name: str) -> str:
    """A condition as short as it reads: ``H = 2k, k ≥ 1``, or by residues
    ``H mod 16 ∈ {0, …, 7}`` where the description would list many classes."""
    if len(sizes.residues) <= 1 or sizes.below or sizes.threshold > sizes.period:
        return sizes.describe(name)
    residues, parts, i = list(sizes.residues), list[str](), 0
    while i < len(residues):
        j = i
        while j + 1 < len(residues) and residues[j + 1] == residues[j] + 1:
            j += 1
        run = residues[i : j + 1]
        parts += [f"{run[0]}, …, {run[-1]}"] if len(run) >= 3 else map(str, run)
        i = j + 1
    return f"{name} mod {sizes.period} ∈ {{{', '.join(parts)}}}"


def _gap_row(accepted: Accepted, declared: int) -> dict[str, Any]:
    """One dimension's set as data: its description, its canonical parts, the declared size,
    a refused size next to it and the accepted sizes nearest that, and every condition."""
    sizes = accepted.sizes
    refused, low, high = _refused_near(sizes, declared)
    return {
        "dimension": accepted.name,
        "accepted": accepted.describe(),
        "threshold": sizes.threshold,
        "period": sizes.period,
        "residues": list(sizes.residues),
        "below": list(sizes.below),
        "declared": declared,
        "refused": refused,
        "nearest": [n for n in (low, high) if n is not None],
        "limits": [
            {"path": x.path, "type": x.type, "accepted": x.sizes.describe(accepted.name)}
            for x in accepted.limits
        ],
    }


# --- rendering -----------------------------------------------------------------------------------


def render_text(name: str, findings: list[Finding]) -> str:
    """One block per finding: where, the code, the message, the formula and the fix; every
    part through :func:`convcalc.escape.terminal` (the names in them are the user's text)."""
    from convcalc.escape import terminal

    if not findings:
        return f"{terminal(name)}: no warnings\n"
    count = f"{len(findings)} warning{'s' if len(findings) != 1 else ''}"
    blocks = (
        f"\n{terminal(f.path)} {terminal(f.layer)} [{f.code}]\n  {terminal(f.message)}\n"
        f"  {terminal(f.formula)}\n  fix: {terminal(f.fix)}\n"
        for f in findings
    )
    return f"{terminal(name)}: {count}\n" + "".join(blocks)


def to_json(name: str, findings: list[Finding]) -> dict[str, Any]:
    """``{"name", "count", "warnings": [...]}``, each warning as :meth:`Finding.to_dict`."""
    return {"name": name, "count": len(findings), "warnings": [f.to_dict() for f in findings]}
