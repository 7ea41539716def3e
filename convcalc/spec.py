"""What a spec file may say: one pydantic model per layer type, and what each layer does to a shape.

A layer is one class: its fields (PyTorch's names and defaults), ``forward`` (the output shape and
the parameter tensors for an input shape, using :mod:`convcalc.arith` for every size rule) and
``describe`` (a compact label for tables). Adding a layer type means adding one class here and
naming it in :data:`AnyLayer`.

Shapes never include the batch dimension: ``(channels, *spatial)`` or ``(features,)``.
"""

import math
from typing import Annotated, Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, PlainValidator, WithJsonSchema
from pydantic_core import PydanticCustomError

from convcalc import arith
from convcalc.arith import Refusal

Shape = tuple[int, ...]
Tensors = dict[str, Shape]


# --- field types: one clear message per field, never a list of union branches ---------------


def _error(message: str) -> PydanticCustomError:
    return PydanticCustomError("convcalc", "{message}", {"message": message})


def _show(value: Any) -> str:
    if isinstance(value, bool):
        return "a boolean (true/false)"
    if isinstance(value, float):
        return f"the decimal {value!r}"
    if isinstance(value, str):
        if value.strip() == "?" or value.replace("..", "").replace(",", "").strip().isdigit():
            return f'{value!r}: unknowns ("?" and ranges) are for `convcalc solve SPEC`'
        return f"the text {value!r}"
    if value is None:
        return "null"
    if isinstance(value, int):
        return str(value)
    return f"a {type(value).__name__}"


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _integer(minimum: int) -> Any:
    word = "a positive integer" if minimum == 1 else f"an integer ≥ {minimum}"

    def check(value: Any) -> int:
        if not _is_int(value) or value < minimum:
            raise _error(f"must be {word}, not {_show(value)}")
        return int(value)

    return check


def _dims(minimum: int) -> Any:
    word = "a positive integer" if minimum == 1 else f"an integer ≥ {minimum}"

    def check(value: Any) -> int | tuple[int, ...]:
        if isinstance(value, list | tuple):
            if not 1 <= len(value) <= 3:
                raise _error(
                    f"a list must give 1 to 3 values (one per dimension), not {len(value)}"
                )
            for item in value:
                if not _is_int(item) or item < minimum:
                    raise _error(f"every entry must be {word}, not {_show(item)}")
            return tuple(value)
        if not _is_int(value) or value < minimum:
            raise _error(f"must be {word} or a list of them, not {_show(value)}")
        return int(value)

    return check


def _conv_padding(value: Any) -> int | tuple[int, ...] | str:
    if value in ("same", "valid"):
        return str(value)
    if isinstance(value, list | tuple):
        return _dims(0)(value)  # type: ignore[no-any-return]
    if not _is_int(value) or value < 0:
        raise _error(
            f"must be an integer ≥ 0, a list of them, 'same' or 'valid', not {_show(value)}"
        )
    return int(value)


def _number(minimum: float | None = None, maximum: float | None = None) -> Any:
    def check(value: Any) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float) or math.isnan(value):
            raise _error(f"must be a number, not {_show(value)}")
        if (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
            raise _error(f"must be between {minimum} and {maximum}, not {value}")
        return float(value)

    return check


def _flag(value: Any) -> bool:
    if not isinstance(value, bool):
        raise _error(f"must be true or false, not {_show(value)}")
    return value


def _output_size(value: Any) -> int | tuple[int | None, ...]:
    if isinstance(value, list | tuple):
        if not 1 <= len(value) <= 3:
            raise _error(f"a list must give 1 to 3 sizes (one per dimension), not {len(value)}")
        for item in value:
            if item is not None and (not _is_int(item) or item < 1):
                raise _error(f"every entry must be a positive integer or null, not {_show(item)}")
        return tuple(value)
    if not _is_int(value) or value < 1:
        raise _error(f"must be a positive integer or a list of them, not {_show(value)}")
    return int(value)


def _input_shape(value: Any) -> tuple[int, ...]:
    if not isinstance(value, list | tuple) or not 1 <= len(value) <= 4:
        raise _error(
            "must be a list [channels, *spatial] with 1 to 3 spatial sizes, or [features]"
            f", not {_show(value)}"
        )
    for item in value:
        if not _is_int(item) or item < 1:
            raise _error(f"every size must be a positive integer, not {_show(item)}")
    return tuple(value)


_INT = {"type": "integer"}


def _ints(minimum: int) -> dict[str, Any]:
    return {**_INT, "minimum": minimum}


def _dims_schema(minimum: int) -> dict[str, Any]:
    item = _ints(minimum)
    return {"anyOf": [item, {"type": "array", "items": item, "minItems": 1, "maxItems": 3}]}


PositiveInt = Annotated[int, PlainValidator(_integer(1)), WithJsonSchema(_ints(1))]
AnyInt = Annotated[int, PlainValidator(_integer(-(2**63))), WithJsonSchema(_INT)]
PositiveDims = Annotated[
    int | tuple[int, ...], PlainValidator(_dims(1)), WithJsonSchema(_dims_schema(1))
]
NonNegDims = Annotated[
    int | tuple[int, ...], PlainValidator(_dims(0)), WithJsonSchema(_dims_schema(0))
]
ConvPadding = Annotated[
    int | tuple[int, ...] | Literal["same", "valid"],
    PlainValidator(_conv_padding),
    WithJsonSchema({"anyOf": [*_dims_schema(0)["anyOf"], {"enum": ["same", "valid"]}]}),
]
Flag = Annotated[bool, PlainValidator(_flag), WithJsonSchema({"type": "boolean"})]
Number = Annotated[float, PlainValidator(_number()), WithJsonSchema({"type": "number"})]
Probability = Annotated[
    float,
    PlainValidator(_number(0.0, 1.0)),
    WithJsonSchema({"type": "number", "minimum": 0, "maximum": 1}),
]
OutputSize = Annotated[
    int | tuple[int | None, ...],
    PlainValidator(_output_size),
    WithJsonSchema(
        {
            "anyOf": [
                _ints(1),
                {
                    "type": "array",
                    "items": {"anyOf": [_ints(1), {"type": "null"}]},
                    "minItems": 1,
                    "maxItems": 3,
                },
            ]
        }
    ),
]
InputShape = Annotated[
    tuple[int, ...],
    PlainValidator(_input_shape),
    WithJsonSchema({"type": "array", "items": _ints(1), "minItems": 1, "maxItems": 4}),
]


# --- helpers shared by the layers ----------------------------------------------------------


def per_dim(value: int | tuple[Any, ...], rank: int, field: str) -> tuple[Any, ...]:
    """An int for every dimension, or a list checked against the input's spatial rank."""
    if isinstance(value, tuple):
        if len(value) != rank:
            raise Refusal(
                f"gives {len(value)} values but the input has {rank} spatial "
                f"dimension{'s' if rank != 1 else ''}",
                field,
            )
        return value
    return (value,) * rank


def split_spatial(shape: Shape, kind: str) -> tuple[int, Shape]:
    """(channels, spatial) for layers that need 1 to 3 spatial dimensions."""
    if not 2 <= len(shape) <= 4:
        raise Refusal(
            f"{kind} needs an input [channels, *spatial] with 1 to 3 spatial dimensions, "
            f"but gets {list(shape)}"
        )
    return shape[0], shape[1:]


def each_dim(rule: Any, *columns: tuple[Any, ...]) -> Shape:
    """Apply a per-dimension rule, naming the dimension (1-based) when it refuses."""
    out = []
    for i, args in enumerate(zip(*columns, strict=True)):
        try:
            out.append(rule(*args))
        except Refusal as exc:
            suffix = f" (dimension {i + 1})" if len(columns[0]) > 1 else ""
            raise Refusal(exc.message + suffix, exc.field) from None
    return tuple(out)


def label(value: tuple[Any, ...], *, every: bool = False) -> str:
    """``2`` when every dimension agrees, else ``2×1``; ``every`` always lists all (kernels)."""
    if not every and len(set(value)) == 1:
        value = value[:1]
    return "×".join("·" if v is None else str(v) for v in value)


# --- the layers ----------------------------------------------------------------------------


class Layer(BaseModel):
    """What every layer has: a ``type`` and a rule from input shape to output shape."""

    # each layer type builds its validator the first time a spec uses it (convcalc.validate)
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)
    type: str

    def forward(self, shape: Shape) -> tuple[Shape, Tensors]:
        """The output shape and each parameter tensor's shape; :class:`Refusal` if invalid."""
        return shape, {}

    def describe(self, shape: Shape) -> str:
        """A compact label for tables, e.g. ``conv 8×8 /2``."""
        return self.type


class _WithParameters(Layer):
    """Layers with parameter tensors also take PyTorch's ``device`` and ``dtype`` (ignored)."""

    device: str | None = None
    dtype: str | None = None


class Conv(_WithParameters):
    type: Literal["conv"]
    out_channels: PositiveInt
    kernel_size: PositiveDims
    stride: PositiveDims | None = 1
    padding: ConvPadding = 0
    dilation: PositiveDims = 1
    groups: PositiveInt = 1
    bias: Flag = True
    padding_mode: Literal["zeros", "reflect", "replicate", "circular"] = "zeros"

    def _geometry(self, rank: int) -> tuple[tuple[int, ...], ...]:
        k = per_dim(self.kernel_size, rank, "kernel_size")
        s = per_dim(self.stride or 1, rank, "stride")
        d = per_dim(self.dilation, rank, "dilation")
        if self.padding == "same":
            if any(x != 1 for x in s):
                raise Refusal("padding 'same' needs stride 1", "padding")
            p = tuple(arith.conv_same_padding(ki, di)[0] for ki, di in zip(k, d, strict=True))
        else:
            p = per_dim(0 if self.padding == "valid" else self.padding, rank, "padding")
        return k, s, p, d

    def forward(self, shape: Shape) -> tuple[Shape, Tensors]:
        channels, spatial = split_spatial(shape, "conv")
        k, s, p, d = self._geometry(len(spatial))
        _check_groups(self.groups, channels, self.out_channels)
        # 'same' pads d·(k−1) in all, so the output is the input: nothing can be refused
        out = spatial if self.padding == "same" else each_dim(arith.conv_out, spatial, k, s, p, d)
        tensors = {"weight": (self.out_channels, channels // self.groups, *k)}
        if self.bias:
            tensors["bias"] = (self.out_channels,)
        return (self.out_channels, *out), tensors

    def describe(self, shape: Shape) -> str:
        k, s, p, d = self._geometry(len(shape) - 1)
        return _window_label("conv", k, s, p, d, self.groups, same=self.padding == "same")


def _check_groups(groups: int, channels: int, out_channels: int) -> None:
    if channels % groups:
        raise Refusal(f"groups {groups} does not divide the {channels} input channels", "groups")
    if out_channels % groups:
        raise Refusal(
            f"groups {groups} does not divide the {out_channels} output channels", "groups"
        )


def _window_label(
    kind: str,
    k: tuple[int, ...],
    s: tuple[int, ...],
    p: tuple[int, ...],
    d: tuple[int, ...],
    groups: int = 1,
    *,
    same: bool = False,
    extra: str = "",
) -> str:
    text = f"{kind} {label(k, every=True)}"
    if any(x != 1 for x in s):
        text += f" /{label(s)}"
    if same:
        text += " same"
    elif any(p):
        text += f" p{label(p)}"
    if any(x != 1 for x in d):
        text += f" d{label(d)}"
    if groups != 1:
        text += f" g{groups}"
    return text + extra


class ConvTranspose(_WithParameters):
    type: Literal["conv_transpose"]
    out_channels: PositiveInt
    kernel_size: PositiveDims
    stride: PositiveDims | None = 1
    padding: NonNegDims = 0
    output_padding: NonNegDims = 0
    dilation: PositiveDims = 1
    groups: PositiveInt = 1
    bias: Flag = True
    padding_mode: Literal["zeros"] = "zeros"

    def _geometry(self, rank: int) -> tuple[tuple[int, ...], ...]:
        k = per_dim(self.kernel_size, rank, "kernel_size")
        s = per_dim(self.stride or 1, rank, "stride")
        p = per_dim(self.padding, rank, "padding")
        d = per_dim(self.dilation, rank, "dilation")
        op = per_dim(self.output_padding, rank, "output_padding")
        return k, s, p, d, op

    def forward(self, shape: Shape) -> tuple[Shape, Tensors]:
        channels, spatial = split_spatial(shape, "conv_transpose")
        k, s, p, d, op = self._geometry(len(spatial))
        _check_groups(self.groups, channels, self.out_channels)
        out = each_dim(arith.conv_transpose_out, spatial, k, s, p, d, op)
        tensors = {"weight": (channels, self.out_channels // self.groups, *k)}
        if self.bias:
            tensors["bias"] = (self.out_channels,)
        return (self.out_channels, *out), tensors

    def describe(self, shape: Shape) -> str:
        k, s, p, d, op = self._geometry(len(shape) - 1)
        extra = f" op{label(op)}" if any(op) else ""
        return _window_label("conv_transpose", k, s, p, d, self.groups, extra=extra)


class _Pool(Layer):
    kernel_size: PositiveDims
    stride: PositiveDims | None = None
    padding: NonNegDims = 0
    ceil_mode: Flag = False

    def _geometry(self, rank: int) -> tuple[tuple[int, ...], ...]:
        k = per_dim(self.kernel_size, rank, "kernel_size")
        s = k if self.stride is None else per_dim(self.stride, rank, "stride")
        p = per_dim(self.padding, rank, "padding")
        d = per_dim(getattr(self, "dilation", 1), rank, "dilation")
        return k, s, p, d

    def forward(self, shape: Shape) -> tuple[Shape, Tensors]:
        channels, spatial = split_spatial(shape, self.type)
        k, s, p, d = self._geometry(len(spatial))
        ceil = (self.ceil_mode,) * len(k)
        return (channels, *each_dim(arith.pool_out, spatial, k, s, p, d, ceil)), {}

    def describe(self, shape: Shape) -> str:
        k, s, p, d = self._geometry(len(shape) - 1)
        return _window_label(self.type, k, s, p, d, extra=" ceil" if self.ceil_mode else "")


class MaxPool(_Pool):
    type: Literal["maxpool"]
    dilation: PositiveDims = 1
    return_indices: Flag = False


class AvgPool(_Pool):
    type: Literal["avgpool"]
    count_include_pad: Flag = True
    divisor_override: PositiveInt | None = None

    def forward(self, shape: Shape) -> tuple[Shape, Tensors]:
        result = super().forward(shape)
        if len(shape) == 4:  # 3-D average pooling checks the unpadded input too
            k = per_dim(self.kernel_size, 3, "kernel_size")
            each_dim(arith.avgpool3d_check, shape[1:], k)
        return result


class _AdaptivePool(Layer):
    output_size: OutputSize

    def forward(self, shape: Shape) -> tuple[Shape, Tensors]:
        channels, spatial = split_spatial(shape, self.type)
        sizes = per_dim(self.output_size, len(spatial), "output_size")
        if len(spatial) == 1 and sizes == (None,):
            raise Refusal("null (keep the input size) works only in 2-D and 3-D", "output_size")
        return (channels, *each_dim(arith.adaptive_out, spatial, sizes)), {}

    def describe(self, shape: Shape) -> str:
        sizes = per_dim(self.output_size, len(shape) - 1, "output_size")
        return f"{self.type} → {label(sizes, every=True)}"


class AdaptiveAvgPool(_AdaptivePool):
    type: Literal["adaptive_avgpool"]


class AdaptiveMaxPool(_AdaptivePool):
    type: Literal["adaptive_maxpool"]
    return_indices: Flag = False


class BatchNorm(_WithParameters):
    type: Literal["batchnorm"]
    affine: Flag = True
    track_running_stats: Flag = True
    eps: Number = 1e-5
    momentum: Number | None = 0.1

    def forward(self, shape: Shape) -> tuple[Shape, Tensors]:
        # [C], [C, L], [C, H, W] and [C, D, H, W]: BatchNorm1d, 2d and 3d, over channels
        return shape, {"weight": shape[:1], "bias": shape[:1]} if self.affine else {}


class Linear(_WithParameters):
    type: Literal["linear"]
    out_features: PositiveInt
    bias: Flag = True

    def forward(self, shape: Shape) -> tuple[Shape, Tensors]:
        tensors: Tensors = {"weight": (self.out_features, shape[-1])}
        if self.bias:
            tensors["bias"] = (self.out_features,)
        return (*shape[:-1], self.out_features), tensors

    def describe(self, shape: Shape) -> str:
        return f"linear {shape[-1]} → {self.out_features}"


class Flatten(Layer):
    type: Literal["flatten"]
    start_dim: AnyInt = 0
    end_dim: AnyInt = -1

    def forward(self, shape: Shape) -> tuple[Shape, Tensors]:
        rank = len(shape)
        start, end = self.start_dim, self.end_dim
        for value, field in ((start, "start_dim"), (end, "end_dim")):
            if not -rank <= value < rank:
                raise Refusal(
                    f"{value} is out of range for an input of {rank} dimensions "
                    f"(from {-rank} to {rank - 1}, batch excluded)",
                    field,
                )
        start, end = start % rank, end % rank
        if start > end:
            raise Refusal(f"start_dim {self.start_dim} comes after end_dim {self.end_dim}")
        return (*shape[:start], math.prod(shape[start : end + 1]), *shape[end + 1 :]), {}


class Dropout(Layer):
    type: Literal["dropout"]
    p: Probability = 0.5
    inplace: Flag = False

    def describe(self, shape: Shape) -> str:
        return f"dropout {self.p:g}"


class ReLU(Layer):
    type: Literal["relu"]
    inplace: Flag = False


class ELU(Layer):
    type: Literal["elu"]
    alpha: Number = 1.0
    inplace: Flag = False


class Sigmoid(Layer):
    type: Literal["sigmoid"]


class Tanh(Layer):
    type: Literal["tanh"]


class Softmax(Layer):
    type: Literal["softmax"]
    dim: AnyInt | None = None


class Softplus(Layer):
    type: Literal["softplus"]
    beta: Number = 1.0
    threshold: Number = 20.0


class LeakyReLU(Layer):
    type: Literal["leaky_relu"]
    negative_slope: Number = 0.01
    inplace: Flag = False


class GELU(Layer):
    type: Literal["gelu"]
    approximate: Literal["none", "tanh"] = "none"


class Identity(Layer):
    type: Literal["identity"]


AnyLayer = Annotated[
    Conv
    | ConvTranspose
    | MaxPool
    | AvgPool
    | AdaptiveAvgPool
    | AdaptiveMaxPool
    | BatchNorm
    | Linear
    | Flatten
    | Dropout
    | ReLU
    | ELU
    | Sigmoid
    | Tanh
    | Softmax
    | Softplus
    | LeakyReLU
    | GELU
    | Identity,
    Field(discriminator="type"),
]


class Spec(BaseModel):
    """A whole spec file; its JSON Schema is what ``convcalc schema`` prints.

    Specs are validated in two steps (:mod:`convcalc.validate`): :class:`SpecHead`, then each
    layer by its own class, built on first use. Building the validator of the whole union
    at start-up would cost more than the rest of ``convcalc shape`` together.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)
    name: str | None = None
    input: InputShape
    layers: list[AnyLayer]


class SpecHead(BaseModel):
    """A spec's top level, its layers left for their own classes to validate."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    name: str | None = None
    input: InputShape
    layers: list[Any]


def layer_types() -> dict[str, type[Layer]]:
    """Every layer type by its ``type`` name, in the order of :data:`AnyLayer`."""
    union = get_args(AnyLayer)[0]
    return {get_args(cls.model_fields["type"].annotation)[0]: cls for cls in get_args(union)}
