"""An independent oracle for the size rules, written from PyTorch 2.13's arithmetic alone.

It shares no code with convcalc: the solver and stack-solver tests compare convcalc's answers
with brute-force searches over these functions (and, where torch is present, with torch).
"""

from __future__ import annotations


def out_size(
    layer: str, n: int, k: int, s: int, p: int, d: int, op: int = 0, ceil: bool = False
) -> int | None:
    """The output size of one dimension, or None where PyTorch (or convcalc) refuses."""
    k_eff = d * (k - 1) + 1
    if layer == "conv":
        if n + 2 * p < k_eff:
            return None
        out = (n + 2 * p - k_eff) // s + 1
    elif layer == "conv_transpose":
        if op >= max(s, d):
            return None
        out = (n - 1) * s - 2 * p + d * (k - 1) + op + 1
    else:
        if layer == "avgpool" and d != 1:
            return None
        if p > k // 2:
            return None
        out = (n + 2 * p - k_eff + (s - 1 if ceil else 0)) // s + 1
        if ceil and (out - 1) * s >= n + p:
            out -= 1
    return out if out > 0 else None
