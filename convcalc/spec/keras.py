"""The Keras dialect: a spec written with ``framework: keras`` (Keras 3's class and argument
names, Keras' input shape without the batch, channels-last by default) read into the same
records as a PyTorch spec.

Every Keras layer becomes the layer class that holds its arithmetic (``filters`` is a conv's
``out_channels``, ``strides`` its ``stride``, ``units`` a linear's ``out_features``); where
Keras' rule differs from PyTorch's, the class's Keras variant owns it (``KerasConv``'s ``same``
for every stride, ``KerasConvTranspose``, ``KerasMaxPool``/``KerasAvgPool``, ``KerasBatchNorm``'s
moving statistics, parameters that never train). The records hold every tensor channels-first,
as PyTorch's: a channels-last shape (H, W, C) is read as (C, H, W), and shown back as Keras
writes it through the report's :class:`~convcalc.records.Dialect`. So a Keras ``Dense`` on the
last axis of (H, W, C) (or of a sequence (steps, features)) is a 1×1 convolution of the
channels-first records, a ``LayerNormalization`` over the channels of (H, W, C) the channels-only
layer norm; blocks are written as convcalc's (``Add`` is a residual with ``body`` and
``shortcut``, ``Concatenate`` a concat of ``branches`` along the channels, ``Multiply`` a
scale). The walk here follows the shapes from the input, since some Keras layers are built from
their input (a depthwise convolution's channels, a Dense's rank); a layer Keras refuses is
refused here, located in the file with Keras' words.
"""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Callable
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, ValidationError

from convcalc.arith import Refusal
from convcalc.errors import SpecError, format_path
from convcalc.layers.base import Layer
from convcalc.layers.conv import KerasConv, KerasConvTranspose, keras_strides
from convcalc.layers.fields import (
    Flag,
    IntList,
    NewShape,
    NonNegDims,
    Number,
    PositiveDims,
    PositiveInt,
    Probability,
    Text,
    show,
)
from convcalc.layers.norm import KerasBatchNorm
from convcalc.layers.pool import KerasAvgPool, KerasMaxPool
from convcalc.layers.registry import layer_class
from convcalc.layers.reshape import KerasNormalization
from convcalc.records import Dialect, Shape
from convcalc.spec.document import Document, yaml_text

Keys = tuple[str | int, ...]
MAX_DEPTH = 100  # blocks nested in a Keras spec (the walk here recurses)

# PyTorch's argument names and the Keras names a Keras spec writes instead
TORCH_NAMES = {
    "out_channels": "filters",
    "stride": "strides",
    "dilation": "dilation_rate",
    "bias": "use_bias",
    "out_features": "units",
    "p": "rate",
    "eps": "epsilon",
    "scale_factor": "size",
    "start_dim": "data_format",
}
# the Keras names of internal fields, for refusals raised by the layer classes
KERAS_FIELDS = {k: v for k, v in TORCH_NAMES.items() if k != "start_dim"}


def snake(name: str) -> str:
    """Keras' default layer name for a class: ``BatchNormalization`` → ``batch_normalization``,
    ``ReLU`` → ``re_lu`` (keras.src.utils.naming.to_snake_case)."""
    name = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub(r"([a-z])([A-Z])", r"\1_\2", name).lower()


class Args(BaseModel):
    """What every Keras layer takes: its ``name``, ``trainable``, ``dtype``, and the
    initializers, regularizers and constraints, which change no number and are not read."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    type: str
    name: Text | None = None
    trainable: Flag = True
    dtype: Any = None
    kernel_initializer: Any = None
    bias_initializer: Any = None
    kernel_regularizer: Any = None
    bias_regularizer: Any = None
    activity_regularizer: Any = None
    kernel_constraint: Any = None
    bias_constraint: Any = None


DataFormat = Literal["channels_last", "channels_first"] | None


class ConvArgs(Args):
    filters: PositiveInt
    kernel_size: PositiveDims
    strides: PositiveDims = 1
    padding: Literal["valid", "same", "causal"] = "valid"
    data_format: DataFormat = None
    dilation_rate: PositiveDims = 1
    groups: PositiveInt = 1
    activation: Text | None = None
    use_bias: Flag = True


class TransposeArgs(Args):
    filters: PositiveInt
    kernel_size: PositiveDims
    strides: PositiveDims = 1
    padding: Literal["valid", "same"] = "valid"
    output_padding: NonNegDims | None = None
    data_format: DataFormat = None
    dilation_rate: PositiveDims = 1
    activation: Text | None = None
    use_bias: Flag = True


class DepthwiseArgs(Args):
    kernel_size: PositiveDims
    strides: PositiveDims = 1
    padding: Literal["valid", "same"] = "valid"
    depth_multiplier: PositiveInt = 1
    data_format: DataFormat = None
    dilation_rate: PositiveDims = 1
    activation: Text | None = None
    use_bias: Flag = True
    depthwise_initializer: Any = None
    depthwise_regularizer: Any = None
    depthwise_constraint: Any = None


class SeparableArgs(DepthwiseArgs):
    filters: PositiveInt
    pointwise_initializer: Any = None
    pointwise_regularizer: Any = None
    pointwise_constraint: Any = None


class PoolArgs(Args):
    pool_size: PositiveDims = 2
    strides: PositiveDims | None = None
    padding: Literal["valid", "same"] = "valid"
    data_format: DataFormat = None


class GlobalPoolArgs(Args):
    data_format: DataFormat = None
    keepdims: Flag = False


class DenseArgs(Args):
    units: PositiveInt
    activation: Text | None = None
    use_bias: Flag = True


class FlattenArgs(Args):
    data_format: DataFormat = None


class BatchNormArgs(Args):
    axis: int = -1
    momentum: Number = 0.99
    epsilon: Number = 1e-3
    center: Flag = True
    scale: Flag = True
    beta_initializer: Any = None
    gamma_initializer: Any = None
    moving_mean_initializer: Any = None
    moving_variance_initializer: Any = None
    beta_regularizer: Any = None
    gamma_regularizer: Any = None
    beta_constraint: Any = None
    gamma_constraint: Any = None
    synchronized: Flag = False


class LayerNormArgs(Args):
    axis: int = -1
    epsilon: Number = 1e-3
    center: Flag = True
    scale: Flag = True
    rms_scaling: Flag = False
    beta_initializer: Any = None
    gamma_initializer: Any = None
    beta_regularizer: Any = None
    gamma_regularizer: Any = None
    beta_constraint: Any = None
    gamma_constraint: Any = None


class DropoutArgs(Args):
    rate: Probability
    noise_shape: Any = None
    seed: Any = None


class SpatialDropoutArgs(Args):
    rate: Probability
    data_format: DataFormat = None
    seed: Any = None


class ActivationArgs(Args):
    activation: Text


class ReLUArgs(Args):
    max_value: Number | None = None
    negative_slope: Number = 0.0
    threshold: Number = 0.0


class LeakyReLUArgs(Args):
    negative_slope: Number = 0.3


class ELUArgs(Args):
    alpha: Number = 1.0


class SoftmaxArgs(Args):
    axis: int = -1


class PaddingArgs(Args):
    padding: Any = 1
    data_format: DataFormat = None


class CroppingArgs(Args):
    cropping: Any = 1
    data_format: DataFormat = None


class UpSamplingArgs(Args):
    size: PositiveDims = 2
    data_format: DataFormat = None
    interpolation: Literal["nearest", "bilinear"] = "nearest"


class ReshapeArgs(Args):
    target_shape: NewShape


class PermuteArgs(Args):
    dims: IntList


class SequentialArgs(Args):
    layers: list[Any]


class AddArgs(Args):
    body: list[Any]
    shortcut: list[Any] = []


class ConcatenateArgs(Args):
    branches: list[list[Any]]
    axis: int = -1


class MultiplyArgs(Args):
    body: list[Any]


class RescalingArgs(Args):
    scale: Any
    offset: Any = 0.0


class NormalizationArgs(Args):
    axis: int | list[int] | None = -1
    mean: Any = None
    variance: Any = None
    invert: Flag = False


class LayerScaleArgs(Args):
    """keras.applications.convnext's LayerScale: a learned factor per channel."""

    init_values: Number
    projection_dim: PositiveInt


class ConstantArgs(Args):
    """``x + value`` or ``x * value`` (keras.ops.add, keras.ops.multiply) with a number."""

    value: Number


# Keras' class → (its arguments, the spatial rank it takes or None for any, a builder kind)
CLASSES: dict[str, tuple[type[Args], int | None, str]] = {
    **{f"Conv{n}D": (ConvArgs, n, "conv") for n in (1, 2, 3)},
    **{f"Conv{n}DTranspose": (TransposeArgs, n, "transpose") for n in (1, 2, 3)},
    **{f"DepthwiseConv{n}D": (DepthwiseArgs, n, "depthwise") for n in (1, 2)},
    **{f"SeparableConv{n}D": (SeparableArgs, n, "separable") for n in (1, 2)},
    **{f"MaxPooling{n}D": (PoolArgs, n, "maxpool") for n in (1, 2, 3)},
    **{f"AveragePooling{n}D": (PoolArgs, n, "avgpool") for n in (1, 2, 3)},
    **{f"GlobalAveragePooling{n}D": (GlobalPoolArgs, n, "global_avg") for n in (1, 2, 3)},
    **{f"GlobalMaxPooling{n}D": (GlobalPoolArgs, n, "global_max") for n in (1, 2, 3)},
    **{f"ZeroPadding{n}D": (PaddingArgs, n, "pad") for n in (1, 2, 3)},
    **{f"Cropping{n}D": (CroppingArgs, n, "crop") for n in (1, 2, 3)},
    **{f"UpSampling{n}D": (UpSamplingArgs, n, "upsample") for n in (1, 2, 3)},
    **{f"SpatialDropout{n}D": (SpatialDropoutArgs, n, "spatial_dropout") for n in (1, 2, 3)},
    "Dense": (DenseArgs, None, "dense"),
    "Flatten": (FlattenArgs, None, "flatten"),
    "BatchNormalization": (BatchNormArgs, None, "batchnorm"),
    "LayerNormalization": (LayerNormArgs, None, "layernorm"),
    "Dropout": (DropoutArgs, None, "dropout"),
    "Activation": (ActivationArgs, None, "activation"),
    "ReLU": (ReLUArgs, None, "relu"),
    "LeakyReLU": (LeakyReLUArgs, None, "leaky_relu"),
    "ELU": (ELUArgs, None, "elu"),
    "Softmax": (SoftmaxArgs, None, "softmax"),
    "Reshape": (ReshapeArgs, None, "reshape"),
    "Permute": (PermuteArgs, None, "permute"),
    "Sequential": (SequentialArgs, None, "sequential"),
    "Add": (AddArgs, None, "residual"),
    "Concatenate": (ConcatenateArgs, None, "concat"),
    "Multiply": (MultiplyArgs, None, "scale"),
    "Rescaling": (RescalingArgs, None, "rescaling"),
    "Normalization": (NormalizationArgs, None, "normalization"),
    "LayerScale": (LayerScaleArgs, None, "layer_scale"),
    "ops.add": (ConstantArgs, None, "constant"),
    "ops.multiply": (ConstantArgs, None, "constant"),
}
# the class Keras shows for a spec's type, where the two differ (an op on a number)
SHOWN = {"ops.add": "Add", "ops.multiply": "Multiply"}

# Keras' activation names (keras.activations) → convcalc's types
ACTIVATIONS = {
    "relu": "relu",
    "relu6": "relu6",
    "sigmoid": "sigmoid",
    "tanh": "tanh",
    "softmax": "softmax",
    "log_softmax": "log_softmax",
    "gelu": "gelu",
    "silu": "silu",
    "swish": "silu",
    "elu": "elu",
    "softplus": "softplus",
    "mish": "mish",
    "hard_sigmoid": "hardsigmoid",
    "hard_silu": "hardswish",
    "hard_swish": "hardswish",
    "leaky_relu": "leaky_relu",
    "linear": "identity",
}


class _Walk:
    """One Keras spec being read: the document, the data format, the classes written."""

    def __init__(self, doc: Document, channels_last: bool) -> None:
        self.doc = doc
        self.channels_last = channels_last
        self.classes: dict[Keys, str] = {}
        self.names: dict[Keys, str] = {}

    # --- errors -----------------------------------------------------------------------------

    def error(
        self, message: str, keys: Keys, item: Any = None, field: str | None = None
    ) -> SpecError:
        """A located error: the file, the line of the field (or the layer), the layer's path
        and Keras class, the field in Keras' name."""
        kind = item.get("type") if isinstance(item, dict) else None
        line = self.doc.line_of([*keys, field] if field else list(keys))
        return SpecError(
            message,
            file=self.doc.file,
            line=line,
            path=format_path(list(keys)),
            layer_type=yaml_text(kind) if kind is not None else None,
            field=field,
        )

    def refused(self, exc: Refusal, keys: Keys, item: Any) -> SpecError:
        field = KERAS_FIELDS.get(exc.field, exc.field) if exc.field else None
        if field == "kernel_size" and "pool_size" in item:
            field = "pool_size"
        if field is not None and field not in item:  # a default at fault: the layer's line
            field = None
        return self.error(exc.message, keys, item, field)

    # --- shapes -----------------------------------------------------------------------------

    def keras_shape(self, shape: Shape) -> Shape:
        if self.channels_last and len(shape) > 1:
            return (*shape[1:], shape[0])
        return shape

    def internal(self, shape: tuple[int, ...]) -> tuple[int, ...]:
        """A shape Keras writes, channels-first: (H, W, C) → (C, H, W)."""
        if self.channels_last and len(shape) > 1:
            return (shape[-1], *shape[:-1])
        return shape

    # --- the walk ---------------------------------------------------------------------------

    def chain(self, items: Any, keys: Keys, shape: Shape, depth: int) -> tuple[list[Layer], Shape]:
        """The layers of a list, and the shape it gives."""
        if not isinstance(items, list):
            raise self.error("must be a list of layers", keys)
        if depth > MAX_DEPTH:
            raise self.error(f"blocks nest more than {MAX_DEPTH} deep in a Keras spec", keys)
        layers: list[Layer] = []
        for i, item in enumerate(items):
            layer, shape = self.one(item, (*keys, i), shape, depth)
            layers.append(layer)
        return layers, shape

    def one(self, item: Any, keys: Keys, shape: Shape, depth: int) -> tuple[Layer, Shape]:
        """One Keras layer read: its layer object (a block for a Keras layer that is several
        steps of the records) and its output shape."""
        if not isinstance(item, dict):
            raise self.error("a layer must be a mapping such as {type: ReLU}", keys)
        kind = item.get("type")
        if kind is None:
            raise self.error(
                "a layer needs a 'type', a Keras class such as Conv2D or Dense", keys, item
            )
        if not isinstance(kind, str) or kind not in CLASSES:
            raise self.error(_unknown_class(kind), keys, item, "type")
        cls, rank, builder = CLASSES[kind]
        try:
            args = cls.model_validate(item)
        except ValidationError as exc:
            raise self._invalid(exc, keys, item, cls) from None
        fmt = getattr(args, "data_format", None)
        if fmt is not None and (fmt == "channels_last") != self.channels_last:
            spec = "channels_last" if self.channels_last else "channels_first"
            raise self.error(
                f"is {fmt}, but the spec is {spec}: convcalc reads a whole spec in one "
                "data_format (write data_format at the top)",
                keys,
                item,
                "data_format",
            )
        if rank is not None and len(shape) != rank + 1:
            raise self.error(
                f"{kind} needs an input of {rank + 1} dimensions (batch excluded), but gets "
                f"{_keras_text(self.keras_shape(shape))}",
                keys,
                item,
            )
        try:
            if builder in ("sequential", "residual", "concat", "scale"):
                layer, out = self.block(builder, args, item, keys, shape, depth)
            else:
                layer = BUILDERS[builder](self, args, shape)
                out = _run(layer, shape)
        except Refusal as exc:
            raise self.refused(exc, keys, item) from None
        self.classes[keys] = SHOWN.get(kind, kind)
        if args.name is not None:
            self.names[keys] = args.name
        return layer, out

    def block(
        self, builder: str, args: Any, item: Any, keys: Keys, shape: Shape, depth: int
    ) -> tuple[Layer, Shape]:
        """A Keras Sequential, Add, Concatenate or Multiply, as convcalc's block."""
        extra: dict[str, Any] = {"name": args.name, "trainable": args.trainable}
        if builder == "sequential":
            inner, out = self.chain(item["layers"], (*keys, "layers"), shape, depth + 1)
            return _make("sequential", layers=inner, **extra), out
        if builder == "concat":
            if not isinstance(item["branches"], list) or not item["branches"]:
                raise self.error("must be a non-empty list of branches", keys, item, "branches")
            channels = (-1, len(shape)) if self.channels_last else (1,)
            if args.axis not in channels:
                raise self.error(
                    f"axis {args.axis}: convcalc joins along the channels only (axis "
                    f"{-1 if self.channels_last else 1})",
                    keys,
                    item,
                    "axis",
                )
            branches, outs = [], []
            for i, branch in enumerate(item["branches"]):
                layers, out = self.chain(branch, (*keys, "branches", i), shape, depth + 1)
                branches.append(layers)
                outs.append(out)
            block = _make("concat", branches=branches, **extra)
        else:
            lists = ("body", "shortcut") if builder == "residual" else ("body",)
            made, outs = {}, []
            for name in lists:
                layers, out = self.chain(item.get(name, []), (*keys, name), shape, depth + 1)
                made[name] = layers
                outs.append(out)
            block = _make(builder, **made, **extra)
        paths = block.paths()  # type: ignore[attr-defined]
        merged = block.merge(shape, list(zip(paths, outs, strict=True)))  # type: ignore[attr-defined]
        return block, merged

    def _invalid(
        self, exc: ValidationError, keys: Keys, item: dict[str, Any], cls: type[Args]
    ) -> SpecError:
        err = exc.errors()[0]
        for candidate in exc.errors():  # an unknown argument explains a missing one
            if candidate["type"] == "extra_forbidden":
                err = candidate
                break
        field = str(err["loc"][0]) if err["loc"] else None
        kind = err["type"]
        if kind == "extra_forbidden":
            valid = [f for f in cls.model_fields if f != "type" and not _rare(f)]
            message = _unknown_argument(yaml_text(field), item["type"], valid)
        elif kind == "missing":
            message = "is required but missing"
        elif kind == "convcalc":
            message = str(err["ctx"]["message"])
        elif kind == "literal_error":
            message = f"must be {err['ctx']['expected']}, not {show(err['input'])}"
        elif kind == "int_type":
            message = f"must be an integer, not {show(err['input'])}"
        else:
            message = str(err["msg"])
        return self.error(message, keys, item, field)


def _rare(field: str) -> bool:
    return field in ("name", "trainable", "dtype") or field.endswith(
        ("_initializer", "_regularizer", "_constraint")
    )


def _unknown_class(kind: Any) -> str:
    """An unknown Keras class: PyTorch's type named as such, or the closest Keras class."""
    from convcalc.layers.registry import KINDS

    text = yaml_text(kind)
    names = list(CLASSES)
    if text in KINDS:
        close = difflib.get_close_matches(text, [n.lower() for n in names], n=3, cutoff=0.3)
        near = [n for n in names if n.lower() in close]
        hint = f" (write {' or '.join(near)})" if near else ""
        return (
            f"'{text}' is a PyTorch type, but this is a Keras spec (framework: keras): write "
            f"Keras' class names{hint}"
        )
    close = difflib.get_close_matches(text, names, n=1) if len(text) <= 40 else []
    hint = f" (did you mean '{close[0]}'?)" if close else ""
    return f"unknown Keras layer '{text}'{hint}; convcalc reads: {', '.join(names)}"


def _unknown_argument(name: str, kind: str, valid: list[str]) -> str:
    if name in TORCH_NAMES and TORCH_NAMES[name] in valid:
        return f"'{name}' is PyTorch's name: Keras' {kind} calls it '{TORCH_NAMES[name]}'"
    if name in ("in_channels", "in_features", "num_features", "input_shape"):
        return f"{name} is never written: it comes from the previous layer's output"
    close = difflib.get_close_matches(name, valid, n=1) if len(name) <= 40 else []
    hint = f"did you mean '{close[0]}'? " if close else ""
    return f"unknown argument: {hint}{kind} takes {', '.join(valid) or 'no arguments'}"


def _keras_text(shape: Shape) -> str:
    """A shape as Keras prints it: ``(None, 61, 61, 32)``."""
    return "(" + ", ".join(["None", *(str(n) for n in shape)]) + ")"


def _run(layer: Layer, shape: Shape) -> Shape:
    """The output of a leaf, or of the sequential a Keras layer became."""
    inner = getattr(layer, "layers", None)
    if inner is None:
        return layer.forward(shape).output
    for piece in inner:
        shape = piece.forward(shape).output
    return shape


def _make(kind: str, **fields: Any) -> Layer:
    return layer_class(kind).model_validate({"type": kind, **fields})


def _with_activation(layer: Layer, activation: str | None, name: str | None) -> Layer:
    """A layer with Keras' ``activation`` argument: the layer, then the activation."""
    if activation is None or activation == "linear":
        return layer
    if activation not in ACTIVATIONS:
        raise Refusal(
            f"activation '{activation}' is not one convcalc reads: "
            f"{', '.join(sorted(ACTIVATIONS))}",
            "activation",
        )
    then = _make(ACTIVATIONS[activation], **({"dim": 0} if "softmax" in activation else {}))
    return _make("sequential", layers=[layer, then], name=name)


def _spatial(value: int | tuple[int, ...], rank: int, field: str) -> tuple[int, ...]:
    """Keras' int-or-tuple argument for each spatial dimension (a tuple of ``rank``)."""
    if isinstance(value, int):
        return (value,) * rank
    if len(value) != rank:
        raise Refusal(f"must be an integer or a tuple of {rank} integers, not {len(value)}", field)
    return value


def _conv(w: _Walk, a: ConvArgs, shape: Shape) -> Layer:
    rank = len(shape) - 1
    if a.padding == "causal" and rank != 1:
        raise Refusal("'causal' padding is only for Conv1D", "padding")
    layer = KerasConv(
        type="conv",
        out_channels=a.filters,
        kernel_size=_spatial(a.kernel_size, rank, "kernel_size"),
        stride=_spatial(a.strides, rank, "strides"),
        dilation=_spatial(a.dilation_rate, rank, "dilation_rate"),
        groups=a.groups,
        bias=a.use_bias,
        padding=a.padding,
        name=a.name,
        trainable=a.trainable,
    )
    keras_strides(_spatial(a.strides, rank, "strides"), _spatial(a.dilation_rate, rank, "d"))
    if a.filters % a.groups:
        raise Refusal(
            f"the number of filters {a.filters} must be evenly divisible by groups {a.groups}",
            "groups",
        )
    return _with_activation(layer, a.activation, a.name)


def _transpose(w: _Walk, a: TransposeArgs, shape: Shape) -> Layer:
    rank = len(shape) - 1
    op = None if a.output_padding is None else _spatial(a.output_padding, rank, "output_padding")
    layer = KerasConvTranspose(
        type="conv_transpose",
        out_channels=a.filters,
        kernel_size=_spatial(a.kernel_size, rank, "kernel_size"),
        stride=_spatial(a.strides, rank, "strides"),
        dilation=_spatial(a.dilation_rate, rank, "dilation_rate"),
        bias=a.use_bias,
        padding=a.padding,
        output_padding=op,
        name=a.name,
        trainable=a.trainable,
    )
    return _with_activation(layer, a.activation, a.name)


def _depthwise(w: _Walk, a: DepthwiseArgs, shape: Shape, bias: bool | None = None) -> KerasConv:
    rank, channels = len(shape) - 1, shape[0]
    return KerasConv(
        type="conv",
        out_channels=channels * a.depth_multiplier,
        kernel_size=_spatial(a.kernel_size, rank, "kernel_size"),
        stride=_spatial(a.strides, rank, "strides"),
        dilation=_spatial(a.dilation_rate, rank, "dilation_rate"),
        groups=channels,
        bias=a.use_bias if bias is None else bias,
        padding=a.padding,
        trainable=a.trainable,
    )


def _depthwise_layer(w: _Walk, a: DepthwiseArgs, shape: Shape) -> Layer:
    layer = _depthwise(w, a, shape).model_copy(update={"name": a.name})
    return _with_activation(layer, a.activation, a.name)


def _separable(w: _Walk, a: SeparableArgs, shape: Shape) -> Layer:
    """SeparableConv: a depthwise convolution without bias, then a pointwise one (1×1)."""
    depthwise = _depthwise(w, a, shape, bias=False)
    ones = (1,) * (len(shape) - 1)
    pointwise = KerasConv(type="conv", out_channels=a.filters, kernel_size=ones, bias=a.use_bias)
    layers: list[Layer] = [depthwise, pointwise]
    if a.activation not in (None, "linear"):
        layers.append(_with_activation(pointwise, a.activation, None).layers[1])  # type: ignore[attr-defined]
    return _make("sequential", layers=layers, name=a.name, trainable=a.trainable)


def _pool(kind: str) -> Callable[[_Walk, PoolArgs, Shape], Layer]:
    cls = KerasMaxPool if kind == "maxpool" else KerasAvgPool

    def build(w: _Walk, a: PoolArgs, shape: Shape) -> Layer:
        rank = len(shape) - 1
        k = _spatial(a.pool_size, rank, "pool_size")
        s = k if a.strides is None else _spatial(a.strides, rank, "strides")
        fields = {"kernel_size": k, "stride": s, "padding": a.padding, "name": a.name}
        return cls.model_validate({"type": kind, **fields})

    return build


def _global(kind: str) -> Callable[[_Walk, GlobalPoolArgs, Shape], Layer]:
    def build(w: _Walk, a: GlobalPoolArgs, shape: Shape) -> Layer:
        pool = _make(kind, output_size=1)
        if a.keepdims:
            return pool.model_copy(update={"name": a.name})
        return _make("sequential", layers=[pool, _make("flatten")], name=a.name)

    return build


def _dense(w: _Walk, a: DenseArgs, shape: Shape) -> Layer:
    """Dense acts on the last axis: the features of [features], else, channels-last, the
    channels of the channels-first records (a 1×1 convolution)."""
    if len(shape) == 1 or not w.channels_last:
        layer: Layer = _make("linear", out_features=a.units, bias=a.use_bias, name=a.name)
    else:
        layer = KerasConv(
            type="conv",
            out_channels=a.units,
            kernel_size=(1,) * (len(shape) - 1),
            bias=a.use_bias,
            name=a.name,
        )
    return _with_activation(layer, a.activation, a.name)


def _flatten(w: _Walk, a: FlattenArgs, shape: Shape) -> Layer:
    return _make("flatten", name=a.name)


def _channel_axis(w: _Walk, axis: int, shape: Shape) -> None:
    rank = len(shape) + 1  # with the batch, as Keras counts axes
    channel = rank - 1 if w.channels_last else 1
    if axis % rank != channel or axis < -rank or axis >= rank:
        raise Refusal(
            f"axis {axis}: convcalc reads this layer over the channels only (axis "
            f"{-1 if w.channels_last else 1})",
            "axis",
        )


def _batchnorm(w: _Walk, a: BatchNormArgs, shape: Shape) -> Layer:
    _channel_axis(w, a.axis, shape)
    return KerasBatchNorm(
        type="batchnorm",
        eps=a.epsilon,
        momentum=1 - a.momentum,
        center=a.center,
        scale=a.scale,
        name=a.name,
        trainable=a.trainable,
    )


def _layernorm(w: _Walk, a: LayerNormArgs, shape: Shape) -> Layer:
    """LayerNormalization over the last axis: [features] and channels-first specs directly;
    channels-last (H, W, C) the channels-only norm; a sequence or a volume moved channels
    last, normalised and moved back."""
    if a.axis not in (-1, len(shape)):
        raise Refusal(f"axis {a.axis}: convcalc reads LayerNormalization over axis -1", "axis")
    if a.center and not a.scale:
        raise Refusal("center without scale: convcalc reads both or scale alone", "center")
    if a.rms_scaling:
        raise Refusal("rms_scaling is not read by convcalc", "rms_scaling")
    affine = {"elementwise_affine": a.scale, "bias": a.center, "eps": a.epsilon}
    if len(shape) == 1 or not w.channels_last:
        return _make("layernorm", normalized_shape=shape[-1], name=a.name, **affine)
    if len(shape) == 3:
        return _make("layernorm2d", normalized_shape=shape[0], name=a.name, **affine)
    rank = len(shape)
    last = [*range(1, rank), 0]
    back = [rank - 1, *range(rank - 1)]
    layers = [
        _make("permute", dims=last),
        _make("layernorm", normalized_shape=shape[0], **affine),
        _make("permute", dims=back),
    ]
    return _make("sequential", layers=layers, name=a.name)


def _dropout(w: _Walk, a: DropoutArgs, shape: Shape) -> Layer:
    return _make("dropout", p=a.rate, name=a.name)


def _spatial_dropout(w: _Walk, a: SpatialDropoutArgs, shape: Shape) -> Layer:
    return _make(f"dropout{len(shape) - 1}d", p=a.rate, name=a.name)


def _activation(w: _Walk, a: ActivationArgs, shape: Shape) -> Layer:
    if a.activation not in ACTIVATIONS:
        raise Refusal(
            f"'{a.activation}' is not an activation convcalc reads: "
            f"{', '.join(sorted(ACTIVATIONS))}",
            "activation",
        )
    kind = ACTIVATIONS[a.activation]
    dim = {"dim": 0 if w.channels_last else -1} if "softmax" in kind else {}
    return _make(kind, name=a.name, **dim)


def _relu(w: _Walk, a: ReLUArgs, shape: Shape) -> Layer:
    if a.threshold != 0:
        raise Refusal("a threshold other than 0 is not read by convcalc", "threshold")
    if a.max_value is None:
        if a.negative_slope:
            return _make("leaky_relu", negative_slope=a.negative_slope, name=a.name)
        return _make("relu", name=a.name)
    if a.max_value == 6 and not a.negative_slope:
        return _make("relu6", name=a.name)
    raise Refusal("convcalc reads max_value 6 (ReLU6) or none", "max_value")


def _leaky(w: _Walk, a: LeakyReLUArgs, shape: Shape) -> Layer:
    return _make("leaky_relu", negative_slope=a.negative_slope, name=a.name)


def _elu(w: _Walk, a: ELUArgs, shape: Shape) -> Layer:
    return _make("elu", alpha=a.alpha, name=a.name)


def _softmax(w: _Walk, a: SoftmaxArgs, shape: Shape) -> Layer:
    rank = len(shape)
    if not -rank - 1 <= a.axis <= rank or a.axis == 0 or a.axis == -rank - 1:
        raise Refusal(f"axis {a.axis} is out of range for {rank + 1} dimensions", "axis")
    keras_axis = (a.axis % (rank + 1)) - 1  # without the batch
    dim = keras_axis
    if w.channels_last and rank > 1:
        dim = 0 if keras_axis == rank - 1 else keras_axis + 1
    return _make("softmax", dim=dim, name=a.name)


def _pairs(value: Any, rank: int, field: str, what: str) -> list[tuple[int, int]]:
    """Keras' padding or cropping: an int, a tuple (one per dimension, both sides), or a tuple
    of (before, after) pairs; one pair per spatial dimension."""

    def count(v: Any) -> int:
        if isinstance(v, bool) or not isinstance(v, int) or v < 0:
            raise Refusal(f"every {what} must be an integer ≥ 0, not {show(v)}", field)
        return v

    if isinstance(value, list | tuple):
        if rank == 1 and len(value) == 2 and all(isinstance(v, int) for v in value):
            return [(count(value[0]), count(value[1]))]
        if len(value) != rank:
            raise Refusal(f"must give {rank} entries (one per spatial dimension)", field)
        out = []
        for v in value:
            if isinstance(v, list | tuple):
                if len(v) != 2:
                    raise Refusal(f"each pair must be (before, after), not {len(v)} values", field)
                out.append((count(v[0]), count(v[1])))
            else:
                out.append((count(v), count(v)))
        return out
    return [(count(value), count(value))] * rank


def _flat(pairs: list[tuple[int, int]], sign: int) -> list[int]:
    """F.pad's order: the last dimension's pair first."""
    return [sign * v for a, b in reversed(pairs) for v in (a, b)]


def _pad(w: _Walk, a: PaddingArgs, shape: Shape) -> Layer:
    pairs = _pairs(a.padding, len(shape) - 1, "padding", "padding")
    return _make("pad", padding=_flat(pairs, 1), name=a.name)


def _crop(w: _Walk, a: CroppingArgs, shape: Shape) -> Layer:
    pairs = _pairs(a.cropping, len(shape) - 1, "cropping", "cropping")
    for n, (x, y) in zip(shape[1:], pairs, strict=True):
        if x + y >= n:
            raise Refusal(
                f"crops {x} + {y} from a dimension of {n}: the cropping must be smaller than "
                "the input",
                "cropping",
            )
    return _make("pad", padding=_flat(pairs, -1), name=a.name)


def _upsample(w: _Walk, a: UpSamplingArgs, shape: Shape) -> Layer:
    size = _spatial(a.size, len(shape) - 1, "size")
    if a.interpolation == "bilinear" and len(shape) != 3:
        raise Refusal("bilinear is for UpSampling2D", "interpolation")
    mode = "nearest" if a.interpolation == "nearest" else "bilinear"
    return _make("upsample", scale_factor=[float(s) for s in size], mode=mode, name=a.name)


def _reshape(w: _Walk, a: ReshapeArgs, shape: Shape) -> Layer:
    return _make("reshape", shape=list(w.internal(a.target_shape)), name=a.name)


def _permute(w: _Walk, a: PermuteArgs, shape: Shape) -> Layer:
    """Keras' dims (1-based, batch excluded, over the Keras shape) as a permute of the
    channels-first records."""
    rank = len(shape)
    if sorted(a.dims) != list(range(1, rank + 1)):
        raise Refusal(
            f"{list(a.dims)} is not an ordering of 1 … {rank} (the input's axes, batch excluded)",
            "dims",
        )
    if not w.channels_last or rank == 1:
        return _make("permute", dims=[d - 1 for d in a.dims], name=a.name)

    def at(axis: int) -> int:  # Keras' axis (1-based) in the channels-first records
        return 0 if axis == rank else axis

    dims = [at(a.dims[-1]), *(at(d) for d in a.dims[:-1])]
    return _make("permute", dims=dims, name=a.name)


def _numbers(value: Any, field: str) -> list[float]:
    """A number or a list of numbers (Keras broadcasts it over the last axis)."""
    items = value if isinstance(value, list | tuple) else [value]
    if not items or any(isinstance(v, bool) or not isinstance(v, int | float) for v in items):
        raise Refusal(f"must be a number or a list of numbers, not {show(value)}", field)
    return [float(v) for v in items]


def _rescaling(w: _Walk, a: RescalingArgs, shape: Shape) -> Layer:
    """Rescaling, x · scale + offset: the shape kept, no parameters (a list broadcasts over
    the last axis when the model runs; Keras builds it unchecked, and so does convcalc)."""
    for field in ("scale", "offset"):
        _numbers(getattr(a, field), field)
    return _make("identity", name=a.name)


def _normalization(w: _Walk, a: NormalizationArgs, shape: Shape) -> Layer:
    """Normalization over the axes ``axis`` keeps (None: one mean, one variance); without
    ``mean`` and ``variance`` Keras holds them, and a count, as weights that never train."""
    rank = len(shape) + 1  # with the batch, as Keras counts axes
    given = [] if a.axis is None else a.axis if isinstance(a.axis, list) else [a.axis]
    axes = []
    for axis in given:
        if not -rank < axis < rank or axis % rank == 0:
            raise Refusal(
                f"axis {axis} is out of range for {rank} dimensions (not the batch)", "axis"
            )
        i = axis % rank - 1  # in Keras' shape, batch excluded
        channels_last = w.channels_last and len(shape) > 1
        axes.append((0 if i == len(shape) - 1 else i + 1) if channels_last else i)
    if len(set(axes)) != len(axes):
        raise Refusal("an axis is given twice", "axis")
    if (a.mean is None) != (a.variance is None):
        raise Refusal("give both mean and variance, or neither (to adapt them)", "mean")
    if a.mean is not None:
        size = math.prod(shape[d] for d in axes)
        for field in ("mean", "variance"):
            values = _numbers(getattr(a, field), field)
            if len(values) not in (1, size):
                raise Refusal(
                    f"{len(values)} values do not broadcast over the {size} positions of the "
                    "axes kept",
                    field,
                )
    layer = KerasNormalization(
        type="identity", name=a.name, adapted=a.mean is None, axes=tuple(axes)
    )
    return layer


def _layer_scale(w: _Walk, a: LayerScaleArgs, shape: Shape) -> Layer:
    """LayerScale: each channel times its learned factor, projection_dim of them."""
    if a.projection_dim != shape[0]:
        raise Refusal(
            f"projection_dim {a.projection_dim} factors do not match the input's {shape[0]} "
            "channels",
            "projection_dim",
        )
    return _make("layer_scale", layer_scale=a.init_values, name=a.name)


def _constant(w: _Walk, a: ConstantArgs, shape: Shape) -> Layer:
    """An op on a number (``x + 3.0``): the shape kept, no parameters."""
    return _make("identity", name=a.name)


BUILDERS: dict[str, Callable[[_Walk, Any, Shape], Layer]] = {
    "conv": _conv,
    "transpose": _transpose,
    "depthwise": _depthwise_layer,
    "separable": _separable,
    "maxpool": _pool("maxpool"),
    "avgpool": _pool("avgpool"),
    "global_avg": _global("adaptive_avgpool"),
    "global_max": _global("adaptive_maxpool"),
    "dense": _dense,
    "flatten": _flatten,
    "batchnorm": _batchnorm,
    "layernorm": _layernorm,
    "dropout": _dropout,
    "spatial_dropout": _spatial_dropout,
    "activation": _activation,
    "relu": _relu,
    "leaky_relu": _leaky,
    "elu": _elu,
    "softmax": _softmax,
    "pad": _pad,
    "crop": _crop,
    "upsample": _upsample,
    "reshape": _reshape,
    "permute": _permute,
    "rescaling": _rescaling,
    "normalization": _normalization,
    "layer_scale": _layer_scale,
    "constant": _constant,
}


# --- the solver's view (convcalc.solve.stack): unknowns written in Keras' arguments ---------

# Keras' integer arguments → the field whose default range "?" takes (solve's README table)
SOLVER_FIELDS = {
    "kernel_size": "kernel_size",
    "pool_size": "kernel_size",
    "strides": "stride",
    "dilation_rate": "dilation",
    "output_padding": "output_padding",
    "padding": "padding",
    "cropping": "padding",
}


def block_type(kind: Any) -> str | None:
    """convcalc's block type of a Keras class that holds layers (``Add`` → ``residual``)."""
    found = CLASSES.get(kind) if isinstance(kind, str) else None
    if found is None or found[2] not in ("sequential", "residual", "concat", "scale"):
        return None
    return found[2]


def records_dim(rank: int, dim: int, channels_last: bool) -> int:
    """The records' index of the input's axis ``dim`` as Keras writes it (batch excluded):
    channels-last (H, W, C) is (C, H, W), so H → 1, W → 2, C → 0."""
    return (dim + 1) % rank if channels_last and rank > 1 else dim


def keras_dim(rank: int, dim: int, channels_last: bool) -> int:
    """The inverse of :func:`records_dim`: the records' axis as Keras writes it."""
    return (dim - 1) % rank if channels_last and rank > 1 else dim


def integer_argument(item: dict[str, Any], field: str) -> bool:
    """Whether a Keras layer's argument ``field`` holds integers once read (an unknown may
    stand there): ``filters``, ``strides``, a ZeroPadding's ``padding``; not ``momentum``."""
    found = CLASSES.get(item.get("type"))  # type: ignore[arg-type]
    if found is None:
        return False
    value = getattr(found[0].model_validate(item), field, None)
    items = value if isinstance(value, tuple | list) else (value,)
    return all(isinstance(v, int) and not isinstance(v, bool) for v in items)


def read_layer(
    doc: Document, channels_last: bool, item: Any, keys: Keys, shape: Shape
) -> tuple[Layer, Shape]:
    """One Keras layer (a block with everything in it) read again on the input ``shape``, as
    Keras builds it there: a depthwise convolution's channels, a LayerNormalization's follow
    that input. The solver's trials: a :class:`SpecError` where Keras refuses."""
    return _Walk(doc, channels_last).one(item, keys, shape, 0)


def read_keras(
    doc: Document, written: tuple[int, ...], data_format: str | None
) -> tuple[Shape, list[Layer], Dialect]:
    """A Keras spec's input (channels-first), layers and dialect; a :class:`SpecError` naming
    file, line, layer and field (in Keras' words) where Keras would refuse."""
    channels_last = data_format != "channels_first"
    walk = _Walk(doc, channels_last)
    shape = walk.internal(written)
    layers, _ = walk.chain(doc.data["layers"], ("layers",), shape, 0)
    return shape, layers, Dialect("keras", channels_last, walk.classes, walk.names)
