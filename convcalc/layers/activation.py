"""Activations: element-wise functions (and softmaxes along one dimension)."""

from typing import Literal

from convcalc.arith import Refusal
from convcalc.layers.base import KerasWords, Layer, WithParameters, dim_index, keras_call
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


class KerasPReLU(KerasWords, PReLU):
    """Keras' PReLU where PyTorch's cannot express it: max(x, 0) + alpha · min(x, 0) with alpha
    of the input's shape (Keras' order, batch excluded) reduced to 1 along ``shared_axes``;
    ``alpha`` is that shape as Keras writes it (the dialect reads it from the spec)."""

    alpha: tuple[int, ...]

    def forward(self, shape: Shape) -> Step:
        return elementwise(shape, {"alpha": self.alpha})

    def describe(self, shape: Shape) -> str:
        return self.call_label() or keras_call("PReLU")


class _InPlace(Layer):
    inplace: Flag = False


class ReLU(_InPlace):
    type: Literal["relu"]


class ReLU6(_InPlace):
    type: Literal["relu6"]


class SiLU(_InPlace):
    type: Literal["silu"]


class Hardtanh(_InPlace):
    """nn.Hardtanh: clamp(x, min_val, max_val), shape kept, no parameters; PyTorch requires
    max_val > min_val."""

    type: Literal["hardtanh"]
    min_val: Number = -1.0
    max_val: Number = 1.0

    def forward(self, shape: Shape) -> Step:
        if self.max_val <= self.min_val:
            raise Refusal(
                f"max_val ({self.max_val}) must be greater than min_val ({self.min_val})",
                "max_val",
            )
        return elementwise(shape)


class KerasReLU(KerasWords, ReLU):
    """Keras' ReLU where no PyTorch module is it: x above ``threshold`` (else 0), clipped at
    ``max_value``, minus negative_slope · max(threshold − x, 0); shape kept, no parameters."""

    max_value: Number | None = None
    negative_slope: Number = 0.0
    threshold: Number = 0.0

    def describe(self, shape: Shape) -> str:
        fields = ("max_value", "negative_slope", "threshold")
        written = {f: getattr(self, f) for f in fields if getattr(self, f) not in (None, 0.0)}
        return self.call_label() or keras_call("ReLU", **written)


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
