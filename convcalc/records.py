"""What one layer does to one input: the record every view of a network is computed from.

A layer's ``forward(shape)`` returns a :class:`Step`: the output shape, the shapes of its
parameter tensors, and for each spatial dimension the :class:`Window` through which the output
looks at the input. Parameter counts (here), multiply-adds (:mod:`convcalc.views.costs`) and
receptive fields (:mod:`convcalc.views.receptive`) are functions over these records, written once,
not methods repeated on every layer.

Shapes never include the batch dimension: ``(channels, *spatial)`` or ``(features,)``.
This module imports nothing, so that any command may use it cheaply.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NamedTuple

Shape = tuple[int, ...]
Tensors = dict[str, Shape]


class Applied(NamedTuple):
    """A size rule of :mod:`convcalc.arith` applied to one spatial dimension: the rule and its
    arguments, from which ``--explain`` derives the size (``arith.derive``)."""

    rule: Callable[..., int]
    args: tuple[Any, ...]


@dataclass(frozen=True)
class Window:
    """How one spatial dimension of the output is computed from the input.

    ``kernel`` is the effective span d·(k − 1) + 1 of the window on the input, ``stride`` how
    far it moves per output position, ``pad_left``/``pad_right`` the padding on either side.
    A transposed window (conv_transpose, upsample) moves ``stride`` output positions per input
    position instead: its kernel and padding are on the output grid.
    """

    kernel: int = 1
    stride: int = 1
    pad_left: int = 0
    pad_right: int = 0
    transposed: bool = False


IDENTITY = Window()


@dataclass(frozen=True)
class Step:
    """One layer applied to one input shape.

    ``windows`` has one :class:`Window` per spatial dimension of the input, or is ``None`` when
    every output value depends on the whole input (linear, flatten, adaptive and global pools).
    ``rules`` has the size rule applied to each of the shape's last dimensions, where one was
    (conv, pools, upsample: the spatial ones; pad: those it pads, the channels too if it pads
    them); layers that keep the shape or set it from their fields have none.
    """

    output: Shape
    tensors: Tensors
    windows: tuple[Window, ...] | None
    rules: tuple[Applied, ...] = ()

    @property
    def params(self) -> int:
        """The number of learnable parameters: the sum of the tensors' sizes."""
        return sum(math.prod(shape) for shape in self.tensors.values())


def shape_text(shape: Shape) -> str:
    """(128, 11, 11) → ``128×11×11``."""
    return "×".join(str(n) for n in shape)


def elementwise(shape: Shape, tensors: Tensors | None = None) -> Step:
    """A layer that keeps the shape and looks at each position alone (activations, norms)."""
    return Step(shape, tensors or {}, (IDENTITY,) * max(0, len(shape) - 1))
