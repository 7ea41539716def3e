"""Dropout of every kind, and torchvision's stochastic depth: the shape is kept."""

from typing import Literal

from convcalc.arith import Refusal
from convcalc.layers.base import Layer, listed
from convcalc.layers.fields import (
    Flag,
    Probability,
)
from convcalc.records import Shape, Step, elementwise


class _Dropout(Layer):
    p: Probability = 0.5
    inplace: Flag = False

    def describe(self, shape: Shape) -> str:
        return f"{self.type} {self.p:g}"


class Dropout(_Dropout):
    type: Literal["dropout"]


class Dropout1d(_Dropout):
    """Zeroes whole channels of [C, L] (PyTorch also reads [C] as one unbatched sample)."""

    type: Literal["dropout1d"]

    def forward(self, shape: Shape) -> Step:
        if len(shape) > 2:
            raise Refusal(f"dropout1d needs an input [channels, length], not {listed(shape)}")
        return elementwise(shape)


class Dropout2d(_Dropout):
    """Any input: PyTorch warns outside [C, H, W] but runs (the shape is kept)."""

    type: Literal["dropout2d"]


class Dropout3d(_Dropout):
    """Any input: PyTorch warns outside [C, D, H, W] (and [C, H, W]) but runs."""

    type: Literal["dropout3d"]


class StochasticDepth(Layer):
    """torchvision.ops.StochasticDepth: drops the whole input per sample ('row') or per batch."""

    type: Literal["stochastic_depth"]
    p: Probability
    mode: Literal["row", "batch"]

    def describe(self, shape: Shape) -> str:
        return f"stochastic_depth {self.p:g}"
