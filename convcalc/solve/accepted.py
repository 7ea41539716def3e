"""The accepted input sizes where other commands use them: lint, the HTML report, and the
line an analysing command adds when the declared input is refused.

:func:`accepted_inputs` is the one adapter over :func:`convcalc.solve.inputs.accepted_sizes`:
every spatial dimension of a spec, or nothing where the solver cannot answer in closed form
(:class:`~convcalc.solve.inputs.NotSolvable`) or within its budget. :func:`nearby` turns the
sets into the nearest accepted sizes below and above a refused input.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from convcalc.analysis import LayerRefusal, analyse
from convcalc.budget import WorkLimit
from convcalc.errors import ConvcalcError
from convcalc.layers.registry import KINDS
from convcalc.solve.inputs import Accepted, NotSolvable, accepted_sizes
from convcalc.spec.validate import Spec

if TYPE_CHECKING:
    from convcalc.records import Report, Shape

__all__ = ["accepted_inputs", "nearby", "spec_of"]

# sizes the other dimensions are held at when their declared ones are refused too (a square
# input a U-Net refuses in both): a power of two meets "n = 2^j·k", one more "n ≡ 1 (mod 2^j)"
SEEDS = (1024, 1025)


def spec_of(report: Report) -> Spec:
    """The spec a report analysed: its name, input and top-level layers."""
    return Spec(report.name or "spec", report.input_shape, [e.layer for e in report.layers])


def accepted_inputs(spec: Spec | Report) -> tuple[Accepted, ...]:
    """The accepted sizes of each spatial dimension (H, W of [C, H, W]), the others held at
    sizes they accept: the declared ones where accepted, else the nearest accepted to them.
    Empty when some dimension has no closed form (a flatten before a linear, a layer without
    a per-dimension rule) or passes the work budget: then nothing is said."""
    if not isinstance(spec, Spec):
        spec = spec_of(spec)
    declared = spec.input
    dims = range(1, len(declared))
    try:
        found = {d: _solve(spec, declared, d) for d in dims}
        if all(a.sizes for a in found.values()):
            return tuple(found.values())
        # a refused size in one dimension empties the others' sets: hold each at an accepted
        # size (found with the others at a seed if need be), then solve every one again
        for seed in SEEDS:
            for d in dims:
                if not found[d].sizes:
                    held = tuple(seed if 0 < i != d else n for i, n in enumerate(declared))
                    found[d] = _solve(spec, held, d)
        near = [_near(found[d], declared[d]) for d in dims]
        if None in near:
            return ()
        held = (declared[0], *(n for n in near if n is not None))
        found = {d: _solve(spec, held, d) for d in dims}
    except (NotSolvable, WorkLimit, ValueError, ArithmeticError):  # no answer: nothing said
        return ()
    return tuple(found.values()) if all(a.sizes for a in found.values()) else ()


def _solve(spec: Spec, shape: Shape, dim: int) -> Accepted:
    return accepted_sizes(replace(spec, input=shape), dim)


def _near(accepted: Accepted, n: int) -> int | None:
    """``n`` if accepted, else the nearest accepted size at or above it (below if none is)."""
    sizes = accepted.sizes
    if n in sizes:
        return n
    return sizes.next_from(n) or sizes.last_to(n)


def nearby(error: ConvcalcError) -> str | None:
    """For an input a layer refuses for its sizes (a window that does not fit, a join whose
    paths disagree): each refused dimension's nearest accepted sizes below and above the
    declared one, ``H = 496 or 512 (H = 16k, k ≥ 1)``. None for any other error, a layer
    that refuses for another reason (channels that do not match, a reshape's count), or sets
    not known. Each size suggested is checked by analysing the network with it."""
    spec = error.spec if isinstance(error, LayerRefusal) else None
    kind = KINDS.get(error.layer_type or "") if isinstance(error, LayerRefusal) else None
    if spec is None or kind is None or not (kind.dims_apart or kind is KINDS.get("pad")):
        return None
    found = accepted_inputs(spec)
    declared = spec.input
    parts, below, above = [], list(declared), list(declared)
    for accepted in found:
        n = declared[accepted.dim]
        if n in accepted.sizes:
            continue
        low, high = accepted.sizes.last_to(n), accepted.sizes.next_from(n)
        below[accepted.dim] = low or high or n
        above[accepted.dim] = high or low or n
        sizes = " or ".join(str(m) for m in (low, high) if m is not None)
        parts.append(f"{accepted.name} = {sizes} ({accepted.describe()})")
    if not parts or not all(_analyses(spec, tuple(s)) for s in (below, above)):
        return None
    return "accepted nearby: " + "; ".join(parts)


def _analyses(spec: Spec, shape: Shape) -> bool:
    try:
        analyse(replace(spec, input=shape))
    except ConvcalcError:
        return False
    return True
