"""Normalisation layers: batch, group, instance, layer (and torchvision's channels-first
LayerNorm2d) and local response norms."""

import math
from typing import Literal

from convcalc.arith import Refusal
from convcalc.layers.base import (
    KerasWords,
    Layer,
    WithParameters,
    keras_call,
    label,
    listed,
    split_spatial,
)
from convcalc.layers.fields import (
    Flag,
    NonNegative,
    Number,
    PositiveInt,
    PositiveInts,
)
from convcalc.records import Shape, Step, Tensors, elementwise


def _affine(channels: int, affine: bool) -> Tensors:
    return {"weight": (channels,), "bias": (channels,)} if affine else {}


class BatchNorm(WithParameters):
    type: Literal["batchnorm"]
    from_input = ("num_features",)
    affine: Flag = True
    track_running_stats: Flag = True
    eps: NonNegative = 1e-5  # PyTorch: "batch_norm eps must be non-negative"
    momentum: Number | None = 0.1

    def forward(self, shape: Shape) -> Step:
        # [C], [C, L], [C, H, W] and [C, D, H, W]: BatchNorm1d, 2d and 3d, over channels
        note = (
            f"each of the {shape[0]} channels normalised by its mean and variance over the "
            "batch and its positions (the running ones in eval); shape kept"
        )
        return elementwise(shape, _affine(shape[0], self.affine), note)

    def built_sizes(self, shape: Shape) -> tuple[tuple[str, int], ...]:
        # without weights or running statistics PyTorch takes any number of channels
        kept = self.affine or self.track_running_stats
        return (("num_features", shape[0]),) if kept else ()


class GroupNorm(WithParameters):
    type: Literal["groupnorm"]
    from_input = ("num_channels",)
    num_groups: PositiveInt
    eps: Number = 1e-5
    affine: Flag = True

    def forward(self, shape: Shape) -> Step:
        if shape[0] % self.num_groups:
            raise Refusal(
                f"num_groups {self.num_groups} does not divide the {shape[0]} channels",
                "num_groups",
            )
        size = shape[0] // self.num_groups
        note = (
            f"the {shape[0]} channels normalised in {self.num_groups} groups of {size}, each "
            "group over its channels and positions; shape kept"
        )
        return elementwise(shape, _affine(shape[0], self.affine), note)

    def describe(self, shape: Shape) -> str:
        return f"groupnorm {self.num_groups} groups"

    def built_sizes(self, shape: Shape) -> tuple[tuple[str, int], ...]:
        return (("num_channels", shape[0]),) if self.affine else ()

    def check_written(self, shape: Shape) -> None:
        """A written num_channels must also be divisible by num_groups (PyTorch's
        constructor checks it, even without affine, where the input may have other
        channels)."""
        for name, value in self._written:
            if value % self.num_groups:
                raise Refusal(f"num_groups {self.num_groups} does not divide {name} {value}", name)
        super().check_written(shape)


class InstanceNorm(WithParameters):
    type: Literal["instancenorm"]
    from_input = ("num_features",)
    eps: Number = 1e-5
    momentum: Number | None = 0.1
    affine: Flag = False
    track_running_stats: Flag = False

    def forward(self, shape: Shape) -> Step:
        channels, spatial = split_spatial(shape, "instancenorm")
        if math.prod(spatial) == 1 and not self.track_running_stats:
            raise Refusal(
                "needs more than one spatial value per channel to take statistics over "
                f"(the input is {label(spatial, every=True)})"
            )
        note = f"each of the {channels} channels normalised over its own positions; shape kept"
        return elementwise(shape, _affine(channels, self.affine), note)

    def built_sizes(self, shape: Shape) -> tuple[tuple[str, int], ...]:
        kept = self.affine or self.track_running_stats
        return (("num_features", shape[0]),) if kept else ()


class LayerNorm(WithParameters):
    type: Literal["layernorm"]
    normalized_shape: PositiveInts
    eps: Number = 1e-5
    elementwise_affine: Flag = True
    bias: Flag = True

    def forward(self, shape: Shape) -> Step:
        norm = self.normalized_shape
        dims = norm if isinstance(norm, tuple) else (norm,)
        if len(dims) > len(shape) or shape[len(shape) - len(dims) :] != dims:
            raise Refusal(
                f"normalized_shape {listed(dims)} must equal the input's trailing dimensions "
                f"({listed(shape)})",
                "normalized_shape",
            )
        tensors: Tensors = {}
        if self.elementwise_affine:
            tensors["weight"] = dims
            if self.bias:
                tensors["bias"] = dims
        count, size = math.prod(shape) // math.prod(dims), math.prod(dims)
        note = (
            f"normalised over the last {label(dims, every=True)} values: {count:,} groups of "
            f"{size:,}, each by its own mean and variance; shape kept"
        )
        return elementwise(shape, tensors, note)


class LayerNorm2d(LayerNorm):
    """torchvision's ``LayerNorm2d`` (ConvNeXt): a layer norm over the channels of [C, H, W],
    each position on its own; it permutes to [H, W, C], normalises the trailing
    ``normalized_shape`` (C) and permutes back. 2·C parameters with affine and bias."""

    type: Literal["layernorm2d"]  # type: ignore[assignment]

    def forward(self, shape: Shape) -> Step:
        if len(shape) != 3:
            raise Refusal(
                f"layernorm2d needs an input [channels, height, width], not {listed(shape)}"
            )
        step = super().forward((*shape[1:], shape[0]))
        note = (
            f"each of the {shape[1] * shape[2]:,} positions normalised over its {shape[0]} "
            "channels; shape kept"
        )
        return elementwise(shape, step.tensors, note)


class LocalResponseNorm(Layer):
    type: Literal["local_response_norm"]
    size: PositiveInt
    alpha: Number = 1e-4
    beta: Number = 0.75
    k: Number = 1.0

    def forward(self, shape: Shape) -> Step:
        if len(shape) < 2:
            raise Refusal(f"needs an input [channels, *spatial], not {listed(shape)}")
        note = (
            f"each value divided by a power of the sum of squares over {self.size} neighbouring "
            "channels (its own among them); shape kept"
        )
        return elementwise(shape, note=note)


class KerasBatchNorm(KerasWords, BatchNorm):
    """Keras' BatchNormalization over the channels (axis −1 channels-last): gamma (with
    ``scale``) and beta (with ``center``) train, and the moving mean and variance, C each,
    are parameters that never train: Keras counts 4·C where PyTorch counts 2·C."""

    center: Flag = True
    scale: Flag = True
    eps: Number = 1e-5  # Keras takes any epsilon (BatchNormalization(epsilon=-1) builds)

    def forward(self, shape: Shape) -> Step:
        step = super().forward(shape)
        c = (shape[0],)
        tensors: Tensors = {}
        if self.scale:
            tensors["weight"] = c
        if self.center:
            tensors["bias"] = c
        tensors |= {"moving_mean": c, "moving_variance": c}
        return Step(step.output, tensors, step.windows, note=step.note, untrained=MOVING)

    def describe(self, shape: Shape) -> str:
        """``BatchNormalization()`` (``center=False`` or ``scale=False`` where written)."""
        options = {name: False for name in ("center", "scale") if not getattr(self, name)}
        return keras_call("BatchNormalization", **options)

    def shown_tensors(self, tensors: Tensors) -> Tensors:
        """Keras' gamma (the scale), beta (the offset), moving_mean and moving_variance."""
        names = {"weight": "gamma", "bias": "beta"}
        return {names.get(name, name): shape for name, shape in tensors.items()}


class _KerasLayerNormWords(KerasWords):
    """Keras' LayerNormalization in its words: its call, and gamma (the scale) and beta (the
    offset) for PyTorch's weight and bias (``layer.weights`` of the built Keras layer)."""

    def describe(self, shape: Shape) -> str:
        """``LayerNormalization()`` (``center=False``, ``scale=False`` where written)."""
        options: dict[str, object] = {}
        if not self.elementwise_affine:  # type: ignore[attr-defined]
            options = {"center": False, "scale": False}
        elif not self.bias:  # type: ignore[attr-defined]
            options = {"center": False}
        if self.eps != 1e-3:  # type: ignore[attr-defined]  # Keras' default epsilon
            options["epsilon"] = self.eps  # type: ignore[attr-defined]
        return keras_call("LayerNormalization", **options)

    def shown_tensors(self, tensors: Tensors) -> Tensors:
        names = {"weight": "gamma", "bias": "beta"}
        return {names.get(name, name): shape for name, shape in tensors.items()}


class KerasLayerNorm(_KerasLayerNormWords, LayerNorm):
    """Keras' LayerNormalization over the last axis of a [features] or channels-first input
    (or of the channels moved last): PyTorch's layer norm."""


class KerasLayerNorm2d(_KerasLayerNormWords, LayerNorm2d):
    """Keras' LayerNormalization over the channels of a channels-last (H, W, C): the records'
    channels-only layer norm."""


MOVING = ("moving_mean", "moving_variance")
