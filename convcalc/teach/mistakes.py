"""The common mistakes, by name: what a student gets who makes one.

Each function takes the records convcalc computed (a report entry, its rules and tensors) and
returns the values each named mistake would give instead, with a sentence saying what went
wrong. The grader (:mod:`convcalc.teach.grade`) recognises a wrong answer by finding it here; the
quiz builds its distractors from the same list, so a wrong choice teaches something.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from importlib import import_module
from typing import Any

from convcalc import arith
from convcalc.records import Costing, Entry, Report, shape_text
from convcalc.views.conventions import CONVENTIONS
from convcalc.views.costs import REFERENCE, rule

DEFAULT_CONVENTION = Costing().convention
"""Whose multiply-adds are right unless an answers file (or the quiz) names another: the
default count of ``convcalc shape``, every multiply-add of every matrix product."""

FORGOT_BIAS = "forgot the bias"
COUNTED_BIAS = "counted the bias"
COUNTED_KERAS_BIAS = "counted the bias (use_bias): Keras' weights are layer.weights but the bias"
FORGOT_BETA = "forgot beta (Keras' offset of a normalization)"
FORGOT_GROUPS = "forgot the groups"
BN_BUFFERS = "counted BatchNorm's buffers as parameters"
CEIL = "ceil instead of floor"
FLOOR = "floor instead of ceil (ceil_mode)"
KEPT_PADDING_WINDOW = "kept a last window that starts in the right padding (ceil_mode drops it)"
PADDING_ONCE = "padding applied once instead of on both sides"
NO_PADDING = "forgot the padding"
NO_DILATION = "forgot the dilation"
NO_PLUS_ONE = "forgot the + 1"
NO_MINUS_ONE = "forgot the − 1 after d·(k − 1)"
NO_STRIDE = "forgot the stride"
FLOPS = "FLOPs (2 per multiply-add) given as multiply-adds"
NO_JUMPS = "added the kernels without the strides between them"


@dataclass(frozen=True)
class Mistake:
    """A named mistake and the value it gives."""

    name: str
    value: Any
    detail: str = ""


# --- one dimension's size --------------------------------------------------------------------


def size_variants(applied: Any) -> dict[str, int]:
    """What each mistake makes of one dimension's size rule (a ``Step.rules`` entry: conv's or
    a pool's), by running the same rule on the wrong arguments: the padding on one side only
    (the input p shorter), no padding, no dilation, no stride, no + 1, no − 1 (the input one
    longer), and the other rounding (⌈⌉ for floor, ⌊⌋ for a ceil-mode pool). A ceil-mode pool
    also drops a last window that would start in the right padding, (out − 1)·s ≥ L + p; a
    student who ignores that rule gives ⌈(L + 2p − d·(k − 1) − 1) / s⌉ + 1 itself."""
    rule, args = applied.rule, applied.args
    if rule is not arith.conv_out and rule is not arith.pool_out:
        return {}
    length, k, s, p, d = args[:5]
    ceil_mode = rule is arith.pool_out and args[5]

    def run(n: int, stride: int, padding: int, dilation: int, ceil: bool = ceil_mode) -> int:
        try:
            extra = (ceil,) if rule is arith.pool_out else ()
            return int(rule(n, k, stride, padding, dilation, *extra))
        except arith.Refusal:
            return 0

    right = run(length, s, p, d)
    found: dict[str, int] = {}
    if ceil_mode:  # the student used floor where PyTorch rounds up (the commonest first)
        found[FLOOR] = run(length, s, p, d, False)
        found[KEPT_PADDING_WINDOW] = -(-(length + 2 * p - d * (k - 1) - 1) // s) + 1
    else:  # or rounded up where it floors
        found[CEIL] = -(-(length + 2 * p - d * (k - 1) - 1) // s) + 1
    found[PADDING_ONCE] = run(length - p, s, p, d) if p and length > p else 0
    found[NO_PADDING] = run(length, s, 0, d) if p else 0
    found[NO_DILATION] = run(length, s, p, 1) if d > 1 else 0
    found[NO_STRIDE] = run(length, 1, p, d) if s > 1 else 0
    found[NO_PLUS_ONE] = right - 1
    found[NO_MINUS_ONE] = run(length + 1, s, p, d)
    return {name: value for name, value in found.items() if value > 0 and value != right}


KERAS_FLOOR_SAME = "floor instead of ceil: Keras' same gives ⌈N/s⌉"
KERAS_TORCH_SAME = (
    "PyTorch's rule ⌊(N + 2p − d·(k − 1) − 1)/s⌋ + 1 with p = ⌊(d·(k − 1) + 1)/2⌋ (k // 2) for "
    "Keras' same (⌈N/s⌉ for any kernel)"
)
KERAS_VALID_FOR_SAME = "valid's rule (no padding) for Keras' same"
KERAS_SAME_FOR_VALID = "same's rule ⌈N/s⌉ for Keras' valid (no padding)"
KERAS_TORCH_TRANSPOSE = (
    "PyTorch's rule (N − 1)·s + d·(k − 1) + 1 for Keras' valid, (N − 1)·s + max(d·(k − 1) + 1, s)"
)
KERAS_TRANSPOSE_AS_CONV = "the convolution's rule: a transposed convolution multiplies by s"


def keras_size_variants(applied: Any) -> dict[str, int]:
    """What each mistake makes of one dimension's Keras size rule (a ``Step.rules`` entry).
    Conv and pools, valid: :func:`size_variants` of PyTorch's rule with p = 0, and same's
    ⌈N/s⌉; same (⌈N/s⌉): ⌊N/s⌋, no stride (N), valid's ⌊(N − k_eff)/s⌋ + 1 and PyTorch's floor
    rule with p = ⌊k_eff/2⌋ (⌊N/s⌋ + 1 for an even k_eff). Conv*DTranspose (valid
    (N − 1)·s + max(k_eff, s), same N·s): PyTorch's (N − 1)·s + k_eff, the other padding's
    rule, and the convolution's rule (⌊(N − k_eff)/s⌋ + 1, ⌈N/s⌉)."""
    rule, args = applied.rule, applied.args
    found: dict[str, int] = {}
    try:
        rule(*args)
    except arith.Refusal:  # no right size to be mistaken about
        return {}
    if rule is arith.conv_out or rule is arith.pool_out:
        length, k, s, _, d = args[:5]
        found = size_variants(applied)
        found[KERAS_SAME_FOR_VALID] = -(-length // s)
        right = rule(*args)
    elif rule is arith.keras_same_out:
        length, k, s, d = args
        k_eff, right = arith.effective_kernel(k, d), -(-length // s)
        found[KERAS_FLOOR_SAME] = length // s
        found[NO_STRIDE] = length if s > 1 else 0
        found[KERAS_VALID_FOR_SAME] = (length - k_eff) // s + 1 if length >= k_eff else 0
        found[KERAS_TORCH_SAME] = (length + 2 * (k_eff // 2) - k_eff) // s + 1
    elif rule is arith.keras_transpose_out and args[5] is None:
        length, k, s, d, is_same = args[:5]
        k_eff = arith.effective_kernel(k, d)
        right = rule(*args)
        found[KERAS_TORCH_TRANSPOSE] = (length - 1) * s + k_eff
        other = "valid's rule for same" if is_same else "same's rule N·s for valid"
        found[other] = arith.keras_transpose_out(length, k, s, d, not is_same, None)
        conv = -(-length // s) if is_same else (length - k_eff) // s + 1
        found[KERAS_TRANSPOSE_AS_CONV] = conv if length >= k_eff or is_same else 0
    else:
        return {}
    return {name: value for name, value in found.items() if value > 0 and value != right}


def shape_mistakes(entry: Entry) -> list[Mistake]:
    """Output shapes a student gets from each mistake at this leaf (its input right)."""
    if entry.step is None or not entry.step.rules:
        return []
    rules = entry.step.rules
    right = entry.output_shape
    per_dim = [size_variants(applied) for applied in rules]
    # by name; the ceil-mode rule first: where ignoring it gives what another mistake gives,
    # the rule this very layer has is the likelier one
    names = sorted(
        {name for found in per_dim for name in found}, key=lambda n: (n != KEPT_PADDING_WINDOW, n)
    )
    mistakes = []
    for name in names:
        dims = [found.get(name, n) for found, n in zip(per_dim, right[-len(rules) :], strict=True)]
        shape = (*right[: len(right) - len(rules)], *dims)
        if shape != right:
            mistakes.append(Mistake(name, shape, f"{name}: {shape_text(shape)}"))
    conv = hasattr(entry.layer, "out_channels")  # the rule below is conv's
    if conv and right[0] != entry.input_shape[0] and len(right) == len(entry.input_shape):
        kept = (entry.input_shape[0], *right[1:])
        mistakes.append(Mistake("kept the input's channels", kept, "the channels are out_channels"))
    return mistakes


# --- parameters --------------------------------------------------------------------------------


def params_mistakes(entry: Entry) -> list[Mistake]:
    """Parameter counts a student gets from each mistake at this leaf."""
    tensors = entry.tensors
    right = entry.params
    found: list[Mistake] = []
    if "bias" in tensors:
        value = right - math.prod(tensors["bias"])
        found.append(Mistake(FORGOT_BIAS, value, f"the weights alone: {value:,}"))
    groups = getattr(entry.layer, "groups", 1)
    if groups > 1 and "weight" in tensors:
        weight = tensors["weight"]
        full = weight[0] * weight[1] * groups * math.prod(weight[2:])
        value = right - math.prod(weight) + full
        found.append(
            Mistake(FORGOT_GROUPS, value, f"each filter sees all {weight[1] * groups} channels")
        )
    if entry.type == "batchnorm":
        channels = entry.input_shape[0]
        found.append(Mistake(BN_BUFFERS, right + 2 * channels, "running mean and variance"))
        found.append(
            Mistake(BN_BUFFERS, right + 2 * channels + 1, "running mean, variance and the count")
        )
    return [m for m in found if m.value != right]


def total_params_mistakes(
    report: Report, per_layer: Callable[[Entry], list[Mistake]] | None = None
) -> list[Mistake]:
    """The network's parameter count with each mistake made at every layer it applies to
    (``per_layer``: a leaf's mistakes, :func:`params_mistakes` unless given)."""
    per_layer = per_layer or params_mistakes
    totals: dict[str, set[int]] = {}
    right = report.total_params
    found = {id(entry): per_layer(entry) for entry in report.leaves()}
    first = (FORGOT_BIAS, FORGOT_GROUPS, BN_BUFFERS)  # where two give one value, the first
    names = dict.fromkeys([*first, *(m.name for ms in found.values() for m in ms)])
    for name in names:
        values = {right}
        for entry in report.leaves():
            changes = {m.value - entry.params for m in found[id(entry)] if m.name == name}
            values = {v + c for v in values for c in changes} or values
        totals[name] = values - {right}
    return [Mistake(name, value) for name, values in totals.items() for value in sorted(values)]


# --- a layer's weights in its framework's words ------------------------------------------------


@dataclass(frozen=True)
class Weight:
    """One parameter tensor of a leaf as the layer's framework names and shapes it
    (:meth:`~convcalc.layers.base.Layer.shown_tensors`, the words ``convcalc shape --explain``
    uses: Keras' ``kernel`` 4×4×32×128 for PyTorch's ``weight`` 128×32×4×4), with the name the
    records give it (PyTorch's, ``torch``) and whether it trains."""

    name: str
    shape: tuple[int, ...]
    torch: str
    trains: bool

    @property
    def size(self) -> int:
        return math.prod(self.shape)

    @property
    def is_bias(self) -> bool:
        """A bias by its framework's name: ``bias``, or a Keras sublayer's ``query/bias``."""
        return self.name.rsplit("/", 1)[-1] == "bias"

    @property
    def text(self) -> str:
        return f"{self.name} {shape_text(self.shape)}"


def weights_of(entry: Entry, trains: bool = True) -> list[Weight]:
    """Every parameter tensor of ``entry``'s leaves, in execution order and in the layer's
    framework's words: the shown tensors paired in order with the recorded ones (each
    ``shown_tensors`` keeps their order). A tensor trains unless its step lists it
    ``untrained`` (BatchNormalization's moving mean and variance: Keras'
    non_trainable_weights) or its layer, or a block around it, is written trainable: false."""
    found: list[Weight] = []
    todo = [(entry, trains)]  # an explicit stack: blocks nest a thousand deep
    while todo:
        leaf, trains = todo.pop()
        trains = trains and leaf.layer.trainable
        if leaf.step is None:
            inside = [e for _, entries in leaf.children for e in entries]
            todo += [(e, trains) for e in reversed(inside)]
            continue
        recorded = list(leaf.step.tensors)
        shown = list(leaf.layer.shown_tensors(leaf.step.tensors).items())
        if len(shown) != len(recorded):  # no pairing: the shown names stand for themselves
            recorded = [name for name, _ in shown]
        untrained = set(leaf.step.untrained)
        found += [
            Weight(name, tuple(shape), torch, trains and torch not in untrained)
            for (name, shape), torch in zip(shown, recorded, strict=True)
        ]
    return found


def weights_count(entry: Entry) -> int:
    """A layer's weights, biases left out: Σ the sizes of its tensors but those its framework
    names ``bias`` (:func:`weights_of`). PyTorch's: every parameter but the biases. What a
    Keras user counts: ``layer.weights`` (trainable and not: count_params()) but use_bias's
    bias, so BatchNormalization's gamma, beta, moving_mean and moving_variance (4·C, its Param
    #), a Conv2D's kernel alone."""
    return sum(w.size for w in weights_of(entry) if not w.is_bias)


def keras_weights_mistakes(entry: Entry) -> list[Mistake]:
    """Weights counts a Keras student gets from each mistake at this layer: the bias counted
    (use_bias), the non-trainable weights left out (the trainable_weights alone), an offset
    Keras does not call a bias (beta) left out as PyTorch's bias, and PyTorch's count (both)."""
    weights = weights_of(entry)
    right = weights_count(entry)
    biases = [w for w in weights if w.is_bias]
    frozen = [w for w in weights if not w.is_bias and not w.trains]
    offsets = [w for w in weights if not w.is_bias and w.torch == "bias"]
    found: list[Mistake] = []
    if biases:
        found.append(Mistake(COUNTED_KERAS_BIAS, entry.params, _listed(biases)))
    if frozen:
        names = ", ".join(dict.fromkeys(w.name for w in frozen))
        value = right - sum(w.size for w in frozen)
        name = f"left out the non-trainable weights ({names}): layer.weights holds them"
        found.append(Mistake(name, value, _listed(frozen)))
    if offsets:
        names = ", ".join(dict.fromkeys(w.name for w in offsets))
        value = right - sum(w.size for w in offsets)
        name = f"left out {names} as PyTorch's bias: in Keras {names} is one of layer.weights"
        found.append(Mistake(name, value, _listed(offsets)))
    if frozen and offsets:
        kept = [w for w in weights if w.trains and w.torch != "bias"]
        value = sum(w.size for w in kept)
        names = ", ".join(dict.fromkeys(w.name for w in kept)) or "nothing"
        found.append(Mistake(f"PyTorch's count: {names} alone", value, _listed(kept)))
    seen: set[int] = {right}
    unique = []
    for mistake in found:
        if mistake.value not in seen:
            seen.add(mistake.value)
            unique.append(mistake)
    return unique


def keras_params_mistakes(entry: Entry) -> list[Mistake]:
    """Parameter counts (Keras' Param #) a Keras student gets from each mistake at this leaf:
    the bias forgotten (what Keras names ``bias``), beta forgotten (the offset PyTorch calls a
    bias), the groups forgotten; never BatchNorm's buffers (Keras counts its moving mean and
    variance)."""
    weights = weights_of(entry)
    found = [m for m in params_mistakes(entry) if m.name not in (FORGOT_BIAS, BN_BUFFERS)]
    for name, kept in (
        (FORGOT_BIAS, [w for w in weights if w.is_bias]),
        (FORGOT_BETA, [w for w in weights if not w.is_bias and w.torch == "bias"]),
    ):
        if kept:
            value = entry.params - sum(w.size for w in kept)
            found.append(Mistake(name, value, "without " + _listed(kept)))
    return [m for m in found if m.value != entry.params]


def _listed(weights: list[Weight]) -> str:
    """``bias 128`` or ``moving_mean 4, moving_variance 4``."""
    return ", ".join(w.text for w in weights)


# --- costs and fields --------------------------------------------------------------------------


def mult_adds_by_type(leaves: Iterable[Entry]) -> dict[str, dict[str, int]]:
    """The multiply-adds of ``leaves`` (batch 1) under every convention, by layer type:
    convention → type → Σ the convention's rule over the leaves of that type."""
    counts: dict[str, dict[str, int]] = {name: {} for name in CONVENTIONS}
    for entry in leaves:
        for name, by_type in counts.items():
            by_type[entry.type] = by_type.get(entry.type, 0) + rule(name)(entry, 1)
    return counts


def mult_adds_mistakes(
    counts: dict[str, dict[str, int]], convention: str = DEFAULT_CONVENTION
) -> list[Mistake]:
    """Multiply-adds a student gets by counting FLOPs (2 × the right count), or by another
    tool's convention (``counts``: :func:`mult_adds_by_type`; ``convention``: whose count is
    right), each named with why it differs on the types where it does."""
    value = sum(counts[convention].values())
    found = [Mistake(FLOPS, 2 * value, "a multiply-add is one operation here, not two")]
    for other, by_type in counts.items():
        count = sum(by_type.values())
        if other != convention and count != value:
            name = convention_mistake(other, convention, counts)
            found.append(Mistake(name, count, f"{other} counts {count:,}"))
    return found


def convention_mistake(other: str, convention: str, counts: dict[str, dict[str, int]]) -> str:
    """The name of ``other``'s count taken for ``convention``'s, with why on the two types
    whose counts differ most: "torchinfo's convention: adds the bias at every output
    position". Each
    convention's ``REASONS`` say how it departs from the reference's count of a type, so a
    type is explained by ``other``'s reason where ``other`` departs from the reference, and
    by ``convention``'s ("unlike torchinfo, which ...") where the right count does."""
    ours, theirs, reference = counts[convention], counts[other], counts[REFERENCE]
    gaps = sorted(
        (t for t in ours if ours[t] != theirs[t]), key=lambda t: -abs(ours[t] - theirs[t])
    )
    own, right = _reasons(other), _reasons(convention)
    reasons: list[str] = []
    for kind in gaps:
        if theirs[kind] != reference[kind] and kind in own:
            reasons.append(own[kind].removeprefix(f"{other} "))
        if ours[kind] != reference[kind] and kind in right:
            reasons.append(
                f"unlike {convention}, which {right[kind].removeprefix(convention + ' ')}"
            )
    unique = list(dict.fromkeys(reasons))[:2]
    return f"{other}'s convention" + (": " + "; ".join(unique) if unique else "")


def _reasons(convention: str) -> dict[str, str]:
    """A convention's reasons by layer type, why it counts that type as it does."""
    found: dict[str, str] = getattr(import_module(CONVENTIONS[convention]), "REASONS", {})
    return found


def receptive_mistakes(report: Report, entry: Entry) -> list[Mistake]:
    """For a chain without blocks: the field size with the strides' jumps left out,
    1 + Σ (k_eff − 1) over the layers up to ``entry``."""
    if any(e.is_block for e in report.walk()):
        return []
    rank = len(report.input_shape) - 1
    size = [1] * rank
    for leaf in report.leaves():
        windows = leaf.step.windows if leaf.step is not None else None
        if windows is None or len(windows) != rank:
            return []
        size = [r + w.kernel - 1 for r, w in zip(size, windows, strict=True)]
        if leaf is entry:
            return [Mistake(NO_JUMPS, tuple(size), "each layer's kernel spreads by the jump")]
    return []


def recognise(claimed: Any, mistakes: Iterable[Mistake]) -> Mistake | None:
    """The first mistake whose value is the claimed one."""
    return next((mistake for mistake in mistakes if mistake.value == claimed), None)
