"""The accepted input sizes of every bundled network, in closed form, against the enumeration
they replace.

1. ``accepted_inputs`` (every spatial dimension, exact for every size) on each bundled spec
   in one process: the time per network, the best of three.
2. The enumeration: ``solve_stack(spec, input_shape=[C, "1..1024", "1..1024"])`` tries sizes
   one by one and answers only up to 1024. On a few networks it runs whole within its work
   budget (the separable ones: one pass per dimension); for every network it is also timed
   over 1..64 × 1..64, and the ratio printed is enumeration time / closed-form time, the
   enumeration over the smaller range: a lower bound on the ratio for 1..1024² (which tries
   at least 16 times as many sizes: 1,024 per dimension instead of 64 when separable,
   1,048,576 pairs instead of 4,096 when not).

Run: ``python benchmarks/bench_inputs.py [NAME...]``. Nothing here is asserted; it prints.
"""

from __future__ import annotations

import statistics
import sys
import time

from timing import best_of, machine_note

from convcalc.budget import WorkLimit
from convcalc.errors import ConvcalcError
from convcalc.solve.accepted import accepted_inputs
from convcalc.solve.stack import solve_stack
from convcalc.spec.validate import Spec, bundled_specs, load_spec

WHOLE = ("unet", "resnet18", "vgg16", "mobilenet_v2")  # 1..1024² tried whole, if it fits


def enumerate_sizes(name: str, spec: Spec, top: int) -> tuple[float, int | str]:
    """The enumeration over 1..top in each spatial dimension: seconds and the count found
    (or why it stopped)."""
    spatial = [f"1..{top}"] * (len(spec.input) - 1)
    start = time.perf_counter()
    try:
        result = solve_stack(name, None, input_shape=[spec.input[0], *spatial])
        found: int | str = result.count
    except WorkLimit:
        found = "passed the work budget"
    except ConvcalcError as exc:
        found = f"refused: {str(exc)[:50]}"
    return time.perf_counter() - start, found


def main(names: list[str]) -> None:
    print(machine_note())
    ratios, total = [], 0.0
    for name in names:
        try:
            spec = load_spec(name)
        except ConvcalcError:
            continue  # a spec with unknowns: for convcalc solve
        if len(spec.input) < 2:
            continue
        closed = best_of(lambda spec=spec: accepted_inputs(spec), 3)
        total += closed
        answer = "; ".join(a.describe() for a in accepted_inputs(spec)) or "(no closed form)"
        t_small, n_small = enumerate_sizes(name, spec, 64)
        ratio = t_small / closed if closed else float("inf")
        if isinstance(n_small, int) and answer != "(no closed form)":  # both answered
            ratios.append(ratio)
        line = (
            f"{name:<30} closed form {closed * 1e3:7.1f} ms  {answer[:44]:<44}  "
            f"1..64²: {t_small * 1e3:8.0f} ms ({n_small}), ratio ≥ {ratio:6.1f}×"
        )
        if name in WHOLE:
            t_whole, n_whole = enumerate_sizes(name, spec, 1024)
            whole = f"{t_whole / closed:.0f}×" if isinstance(n_whole, int) else "no answer"
            line += f"  1..1024²: {t_whole * 1e3:.0f} ms ({n_whole}), {whole}"
        print(line, flush=True)
    if ratios:
        print(
            f"{len(ratios)} networks: closed form {total:.2f} s in all; enumeration over 1..64² / "
            f"closed form: median {statistics.median(ratios):.1f}×, min {min(ratios):.1f}×"
        )


if __name__ == "__main__":
    main(sys.argv[1:] or list(bundled_specs()))
