"""Activations: element-wise functions (and softmaxes along one dimension)."""

from typing import Literal

from convcalc.arith import Refusal
from convcalc.layers.base import Layer, WithParameters, dim_index
from convcalc.layers.fields import (
    AnyInt,
    Flag,
    Number,
    PositiveInt,
)
from convcalc.records import Shape, Step, elementwise


class PReLU(WithParameters):
    type: Literal["prelu"]
    num_parameters: PositiveInt = 1
    init: Number = 0.25

    def forward(self, shape: Shape) -> Step:
        n = self.num_parameters
        if n != 1 and n != shape[0]:
            raise Refusal(f"{n} must be 1 or the number of channels, {shape[0]}", "num_parameters")
        return elementwise(shape, {"weight": (n,)})


class _InPlace(Layer):
    inplace: Flag = False


class ReLU(_InPlace):
    type: Literal["relu"]


class ReLU6(_InPlace):
    type: Literal["relu6"]


class SiLU(_InPlace):
    type: Literal["silu"]


class Hardswish(_InPlace):
    type: Literal["hardswish"]


class Hardsigmoid(_InPlace):
    type: Literal["hardsigmoid"]


class Mish(_InPlace):
    type: Literal["mish"]


class ELU(_InPlace):
    type: Literal["elu"]
    alpha: Number = 1.0


class LeakyReLU(_InPlace):
    type: Literal["leaky_relu"]
    negative_slope: Number = 0.01


class Sigmoid(Layer):
    type: Literal["sigmoid"]


class Tanh(Layer):
    type: Literal["tanh"]


class _SoftmaxLike(Layer):
    """softmax and log_softmax over ``dim``. Code is written for batched inputs (``dim=1``, the
    channels) and for single ones (``dim=0``): any dim valid with the batch is accepted."""

    dim: AnyInt | None = None

    def forward(self, shape: Shape) -> Step:
        if self.dim is not None:
            dim_index(self.dim, len(shape) + 1, "dim", "counting the batch")
        # without dim, PyTorch picks 0 for 0, 1 or 3 dimensions (the batch counted), else 1
        dim = self.dim if self.dim is not None else int(len(shape) + 1 not in (0, 1, 3))
        log = self.type == "log_softmax"
        what = "the logarithm of a softmax" if log else "a softmax"
        sums = "their exponentials summing to 1" if log else "to sum to 1"
        note = (
            f"{what} along dimension {dim} (counting the batch): the values of each line along "
            f"it normalised together, {sums}; shape kept"
        )
        return elementwise(shape, note=note)


class Softmax(_SoftmaxLike):
    type: Literal["softmax"]


class LogSoftmax(_SoftmaxLike):
    type: Literal["log_softmax"]


class Softplus(Layer):
    type: Literal["softplus"]
    beta: Number = 1.0
    threshold: Number = 20.0


class GELU(Layer):
    type: Literal["gelu"]
    approximate: Literal["none", "tanh"] = "none"
