"""torchinfo 1.8.0's convention (``LayerInfo.calculate_macs``), the figure most tables quote.

Per leaf, by layer type:

- a PyTorch class named ``*Conv*`` (conv, conv_transpose): each parameter tensor's size
  × batch × output positions (the *output* grid for a transposed convolution too, about
  stride² above the work it does);
- any other layer with parameters (linear, batchnorm, layernorm, prelu, embedding, ...): each
  parameter tensor's size × batch (not × the other output dimensions);
- a layer without parameters: 0.

Bias included. Every call of a layer counts (a layer run twice counts twice).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from convcalc.expr import Expr, product, total
from convcalc.layers.registry import KINDS

if TYPE_CHECKING:
    from convcalc.records import Entry


def mult_adds(entry: Entry, batch: int) -> int:
    if entry.step is None or not entry.tensors:
        return 0
    positions = batch
    if "Conv" in KINDS[entry.type].torch:
        positions *= math.prod(entry.output_shape[1:])
    return sum(math.prod(shape) for shape in entry.tensors.values()) * positions


def mult_adds_derived(entry: Entry, batch: int) -> Expr:
    """:func:`mult_adds` as the expression it computes, (Σ tensor sizes) · batch · output
    positions: ``(8·3·3·3 + 8)·13·13`` for a conv (the batch shown only when it is not 1)."""
    tensors = total([product(shape) for shape in entry.tensors.values()] or [0])
    positions = [batch] if batch != 1 else []
    if "Conv" in KINDS[entry.type].torch:
        positions.extend(entry.output_shape[1:])
    return tensors * product(positions) if positions else tensors
