"""The leaf layers a spec may use: one pydantic model per type, and what it does to a shape.

A layer is one class: its fields (PyTorch's names and defaults), ``forward`` (a
:class:`~convcalc.records.Step` for an input shape: output shape, parameter tensors and the
window of each spatial dimension, using :mod:`convcalc.arith` for every size rule) and
``describe`` (a compact label for tables). Adding a layer type means adding one class here and
one row to :mod:`convcalc.layers.registry`.

Shapes never include the batch dimension: ``(channels, *spatial)`` or ``(features,)``.
"""

import math
from collections.abc import Iterable
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from convcalc import arith
from convcalc.arith import Refusal
from convcalc.layers.fields import (
    AnyInt,
    ConvPadding,
    Device,
    Flag,
    IntList,
    NewShape,
    NonNegative,
    NonNegDims,
    Number,
    OutputSize,
    PositiveDims,
    PositiveInt,
    PositiveInts,
    Probability,
    Scale,
    Sides,
    Text,
    TorchDtype,
)
from convcalc.records import Applied, Shape, Step, Tensors, Window, elementwise
from convcalc.spec.document import yaml_text

# --- helpers shared by the layers ----------------------------------------------------------


def per_dim(
    value: int | tuple[Any, ...], rank: int, field: str, *, expand: bool = False
) -> tuple[Any, ...]:
    """An int for every dimension, or a list checked against the input's spatial rank; with
    ``expand``, a one-value list stands for every dimension, as PyTorch reads strides,
    paddings and dilations (and a pool's kernel)."""
    if isinstance(value, tuple):
        if expand and len(value) == 1:
            return value * rank
        if len(value) != rank:
            raise Refusal(
                f"gives {len(value)} value{'s' if len(value) != 1 else ''} but the input has "
                f"{rank} spatial "
                f"dimension{'s' if rank != 1 else ''}",
                field,
            )
        return value
    return (value,) * rank


def _listed(values: tuple[int, ...]) -> str:
    """Sizes in a message, ``[3, 8, 8]``, cut with ``…`` when a list written in the spec (or
    the shape it made) is long."""
    return yaml_text(list(values), 200)


def split_spatial(shape: Shape, kind: str) -> tuple[int, Shape]:
    """(channels, spatial) for layers that need 1 to 3 spatial dimensions."""
    if not 2 <= len(shape) <= 4:
        raise Refusal(
            f"{kind} needs an input [channels, *spatial] with 1 to 3 spatial dimensions, "
            f"but gets {_listed(shape)}"
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


def sized(rule: Any, *columns: tuple[Any, ...]) -> tuple[Shape, tuple[Applied, ...]]:
    """:func:`each_dim`'s sizes, and the rule applied in each dimension (for explanations)."""
    out = each_dim(rule, *columns)
    return out, tuple(Applied(rule, args) for args in zip(*columns, strict=True))


def label(value: tuple[Any, ...], *, every: bool = False) -> str:
    """``2`` when every dimension agrees, else ``2×1``; ``every`` always lists all (kernels)."""
    if not every and len(set(value)) == 1:
        value = value[:1]
    return "×".join("·" if v is None else str(v) for v in value)


# --- the layers ----------------------------------------------------------------------------


class Layer(BaseModel):
    """What every layer has: a ``type``, an optional ``name``, and a rule for shapes.

    The default rule is an element-wise layer: same shape, no parameters, each output position
    looking at its own input position.
    """

    # each layer type builds its validator the first time a spec uses it (spec.validate)
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)
    type: str
    name: Text | None = None
    # the PyTorch code calls it as a function (F.relu, torch.flatten), not as a module: the
    # same arithmetic, but tools that count modules through hooks never see it
    functional: Flag = False

    def forward(self, shape: Shape) -> Step:
        """What the layer does to ``shape``; :class:`Refusal` where PyTorch would refuse it."""
        return elementwise(shape)

    def describe(self, shape: Shape) -> str:
        """A compact label for tables, e.g. ``conv 8×8 /2``."""
        return self.type

    def built_sizes(self, shape: Shape) -> tuple[tuple[str, int], ...]:
        """The sizes PyTorch's module takes from its input ``shape`` when it is constructed
        (those ``convcalc export`` writes) and checks against every input it is given after:
        a conv's in_channels, say. Sizes written in the spec are the layer's own rule."""
        return ()


class _WithParameters(Layer):
    """Layers with parameter tensors also take PyTorch's ``device`` and ``dtype`` (ignored)."""

    device: Device | None = None
    dtype: TorchDtype | None = None


# --- convolutions ----------------------------------------------------------------------------


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


class _Convolution(_WithParameters):
    """What conv and conv_transpose share: channels, kernel, stride, dilation, groups, bias."""

    out_channels: PositiveInt
    kernel_size: PositiveDims
    stride: PositiveDims | None = 1
    dilation: PositiveDims = 1
    groups: PositiveInt = 1
    bias: Flag = True

    def _ksd(self, rank: int) -> tuple[tuple[int, ...], tuple[int, ...], tuple[int, ...]]:
        k = per_dim(self.kernel_size, rank, "kernel_size")
        s = per_dim(self.stride or 1, rank, "stride", expand=True)
        d = per_dim(self.dilation, rank, "dilation", expand=True)
        return k, s, d

    def _tensors(self, weight: Shape) -> Tensors:
        tensors = {"weight": weight}
        if self.bias:
            tensors["bias"] = (self.out_channels,)
        return tensors

    def built_sizes(self, shape: Shape) -> tuple[tuple[str, int], ...]:
        return (("in_channels", shape[0]),)


class Conv(_Convolution):
    type: Literal["conv"]
    padding: ConvPadding = 0
    padding_mode: Literal["zeros", "reflect", "replicate", "circular"] = "zeros"

    def geometry(self, rank: int) -> tuple[tuple[int, ...], ...]:
        """The arguments PyTorch reads, per dimension: (k, s, left padding, right padding, d)
        (``same`` split as PyTorch splits it)."""
        k, s, d = self._ksd(rank)
        if self.padding == "same":
            if any(x != 1 for x in s):
                raise Refusal("padding 'same' needs stride 1", "padding")
            pads = [arith.conv_same_padding(ki, di) for ki, di in zip(k, d, strict=True)]
            return k, s, tuple(a for a, _ in pads), tuple(b for _, b in pads), d
        p = per_dim(0 if self.padding == "valid" else self.padding, rank, "padding", expand=True)
        return k, s, p, p, d

    def forward(self, shape: Shape) -> Step:
        channels, spatial = split_spatial(shape, "conv")
        k, s, left, right, d = self.geometry(len(spatial))
        _check_groups(self.groups, channels, self.out_channels)
        if self.padding_mode != "zeros":  # PyTorch pads with F.pad first: its limits apply
            modes = (self.padding_mode,) * len(spatial)
            each_dim(arith.pad_out, spatial, left, right, modes)
        # 'same' pads d·(k−1) in all, so the output is the input: nothing can be refused
        if self.padding == "same":
            out, rules = sized(arith.conv_same_out, spatial, k, d)
        else:
            out, rules = sized(arith.conv_out, spatial, k, s, left, d)
        windows = tuple(
            Window(arith.effective_kernel(ki, di), si, a, b)
            for ki, di, si, a, b in zip(k, d, s, left, right, strict=True)
        )
        weight = (self.out_channels, channels // self.groups, *k)
        return Step((self.out_channels, *out), self._tensors(weight), windows, rules)

    def describe(self, shape: Shape) -> str:
        k, s, p, _, d = self.geometry(len(shape) - 1)
        return _window_label("conv", k, s, p, d, self.groups, same=self.padding == "same")


class ConvTranspose(_Convolution):
    type: Literal["conv_transpose"]
    padding: NonNegDims = 0
    output_padding: NonNegDims = 0
    padding_mode: Literal["zeros"] = "zeros"

    def geometry(self, rank: int) -> tuple[tuple[int, ...], ...]:
        """The arguments PyTorch reads, per dimension: (k, s, p, d, output_padding)."""
        k, s, d = self._ksd(rank)
        p = per_dim(self.padding, rank, "padding", expand=True)
        op = per_dim(self.output_padding, rank, "output_padding", expand=True)
        return k, s, p, d, op

    def forward(self, shape: Shape) -> Step:
        channels, spatial = split_spatial(shape, "conv_transpose")
        k, s, p, d, op = self.geometry(len(spatial))
        _check_groups(self.groups, channels, self.out_channels)
        out, rules = sized(arith.conv_transpose_out, spatial, k, s, p, d, op)
        windows = tuple(
            Window(arith.effective_kernel(ki, di), si, pi, pi - opi, transposed=True)
            for ki, si, pi, di, opi in zip(k, s, p, d, op, strict=True)
        )
        weight = (channels, self.out_channels // self.groups, *k)
        return Step((self.out_channels, *out), self._tensors(weight), windows, rules)

    def describe(self, shape: Shape) -> str:
        k, s, p, d, op = self.geometry(len(shape) - 1)
        extra = f" op{label(op)}" if any(op) else ""
        return _window_label("conv_transpose", k, s, p, d, self.groups, extra=extra)


# --- pooling ---------------------------------------------------------------------------------


class _Pool(Layer):
    kernel_size: PositiveDims
    stride: PositiveDims | None = None
    padding: NonNegDims = 0
    ceil_mode: Flag = False

    def geometry(self, rank: int) -> tuple[tuple[int, ...], ...]:
        """The arguments PyTorch reads, per dimension: (k, s, p, d); the stride defaults to
        the kernel, the dilation is 1 where the pool has none."""
        k = per_dim(self.kernel_size, rank, "kernel_size", expand=True)
        s = k if self.stride is None else per_dim(self.stride, rank, "stride", expand=True)
        p = per_dim(self.padding, rank, "padding", expand=True)
        d = per_dim(getattr(self, "dilation", 1), rank, "dilation", expand=True)
        return k, s, p, d

    def forward(self, shape: Shape) -> Step:
        channels, spatial = split_spatial(shape, self.type)
        k, s, p, d = self.geometry(len(spatial))
        ceil = (self.ceil_mode,) * len(k)
        out, rules = sized(arith.pool_out, spatial, k, s, p, d, ceil)
        windows = tuple(
            Window(arith.effective_kernel(ki, di), si, pi, pi)
            for ki, si, pi, di in zip(k, s, p, d, strict=True)
        )
        return Step((channels, *out), {}, windows, rules)

    def describe(self, shape: Shape) -> str:
        k, s, p, d = self.geometry(len(shape) - 1)
        return _window_label(self.type, k, s, p, d, extra=" ceil" if self.ceil_mode else "")


class MaxPool(_Pool):
    type: Literal["maxpool"]
    dilation: PositiveDims = 1
    return_indices: Flag = False


class AvgPool(_Pool):
    type: Literal["avgpool"]
    count_include_pad: Flag = True
    divisor_override: PositiveInt | None = None

    def forward(self, shape: Shape) -> Step:
        step = super().forward(shape)
        if len(shape) == 4:  # 3-D average pooling checks the unpadded input too
            k = per_dim(self.kernel_size, 3, "kernel_size", expand=True)
            each_dim(arith.avgpool3d_check, shape[1:], k)
        return step


class _AdaptivePool(Layer):
    output_size: OutputSize

    def forward(self, shape: Shape) -> Step:
        channels, spatial = split_spatial(shape, self.type)
        sizes = per_dim(self.output_size, len(spatial), "output_size")
        if len(spatial) == 1 and sizes == (None,):
            raise Refusal("null (keep the input size) works only in 2-D and 3-D", "output_size")
        out, rules = sized(arith.adaptive_out, spatial, sizes)
        return Step((channels, *out), {}, None, rules)

    def describe(self, shape: Shape) -> str:
        sizes = per_dim(self.output_size, len(shape) - 1, "output_size")
        return f"{self.type} → {label(sizes, every=True)}"


class AdaptiveAvgPool(_AdaptivePool):
    type: Literal["adaptive_avgpool"]


class AdaptiveMaxPool(_AdaptivePool):
    type: Literal["adaptive_maxpool"]
    return_indices: Flag = False


# --- normalisation ---------------------------------------------------------------------------


def _affine(channels: int, affine: bool) -> Tensors:
    return {"weight": (channels,), "bias": (channels,)} if affine else {}


class BatchNorm(_WithParameters):
    type: Literal["batchnorm"]
    affine: Flag = True
    track_running_stats: Flag = True
    eps: NonNegative = 1e-5  # PyTorch: "batch_norm eps must be non-negative"
    momentum: Number | None = 0.1

    def forward(self, shape: Shape) -> Step:
        # [C], [C, L], [C, H, W] and [C, D, H, W]: BatchNorm1d, 2d and 3d, over channels
        return elementwise(shape, _affine(shape[0], self.affine))

    def built_sizes(self, shape: Shape) -> tuple[tuple[str, int], ...]:
        # without weights or running statistics PyTorch takes any number of channels
        kept = self.affine or self.track_running_stats
        return (("num_features", shape[0]),) if kept else ()


class GroupNorm(_WithParameters):
    type: Literal["groupnorm"]
    num_groups: PositiveInt
    eps: Number = 1e-5
    affine: Flag = True

    def forward(self, shape: Shape) -> Step:
        if shape[0] % self.num_groups:
            raise Refusal(
                f"num_groups {self.num_groups} does not divide the {shape[0]} channels",
                "num_groups",
            )
        return elementwise(shape, _affine(shape[0], self.affine))

    def describe(self, shape: Shape) -> str:
        return f"groupnorm {self.num_groups} groups"

    def built_sizes(self, shape: Shape) -> tuple[tuple[str, int], ...]:
        return (("num_channels", shape[0]),) if self.affine else ()


class InstanceNorm(_WithParameters):
    type: Literal["instancenorm"]
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
        return elementwise(shape, _affine(channels, self.affine))

    def built_sizes(self, shape: Shape) -> tuple[tuple[str, int], ...]:
        kept = self.affine or self.track_running_stats
        return (("num_features", shape[0]),) if kept else ()


class LayerNorm(_WithParameters):
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
                f"normalized_shape {_listed(dims)} must equal the input's trailing dimensions "
                f"({_listed(shape)})",
                "normalized_shape",
            )
        tensors: Tensors = {}
        if self.elementwise_affine:
            tensors["weight"] = dims
            if self.bias:
                tensors["bias"] = dims
        return elementwise(shape, tensors)


class LocalResponseNorm(Layer):
    type: Literal["local_response_norm"]
    size: PositiveInt
    alpha: Number = 1e-4
    beta: Number = 0.75
    k: Number = 1.0

    def forward(self, shape: Shape) -> Step:
        if len(shape) < 2:
            raise Refusal(f"needs an input [channels, *spatial], not {_listed(shape)}")
        return elementwise(shape)


# --- fully connected and reshaping -----------------------------------------------------------


class Linear(_WithParameters):
    type: Literal["linear"]
    out_features: PositiveInt
    bias: Flag = True

    def built_sizes(self, shape: Shape) -> tuple[tuple[str, int], ...]:
        return (("in_features", shape[-1]),)

    def forward(self, shape: Shape) -> Step:
        tensors: Tensors = {"weight": (self.out_features, shape[-1])}
        if self.bias:
            tensors["bias"] = (self.out_features,)
        return Step((*shape[:-1], self.out_features), tensors, None)

    def describe(self, shape: Shape) -> str:
        return f"linear {shape[-1]} → {self.out_features}"


def _dim(value: int, rank: int, field: str, batch: str = "batch excluded") -> int:
    """A dimension index over ``rank`` dimensions, negative ones counted from the end."""
    if not -rank <= value < rank:
        raise Refusal(
            f"{value} is out of range for an input of {rank} dimensions "
            f"(from {-rank} to {rank - 1}, {batch})",
            field,
        )
    return value % rank


class Flatten(Layer):
    type: Literal["flatten"]
    start_dim: AnyInt = 0
    end_dim: AnyInt = -1

    def forward(self, shape: Shape) -> Step:
        rank = len(shape)
        start = _dim(self.start_dim, rank, "start_dim")
        end = _dim(self.end_dim, rank, "end_dim")
        if start > end:
            raise Refusal(f"start_dim {self.start_dim} comes after end_dim {self.end_dim}")
        return Step(
            (*shape[:start], math.prod(shape[start : end + 1]), *shape[end + 1 :]), {}, None
        )


def _product(sizes: Iterable[int]) -> int:
    """The product of positive sizes, or 2^63 (past any count) once it passes 2^63 − 1: a
    list written in the spec may hold many sizes, and their exact product would take time
    quadratic in its length."""
    product = 1
    for n in sizes:
        product *= n
        if product > arith.LIMIT:
            return arith.LIMIT + 1
    return product


def _fill(sizes: tuple[int, ...], total: int, field: str) -> Shape:
    """Sizes with at most one -1, which takes what is left of ``total`` values."""
    if sizes.count(-1) > 1:
        raise Refusal("only one size may be -1", field)
    known = _product(n for n in sizes if n != -1)
    if -1 in sizes:
        if total % known:
            raise Refusal(f"{total} values cannot be shaped as {_listed(sizes)}", field)
        sizes = tuple(total // known if n == -1 else n for n in sizes)
    if (held := _product(sizes)) != total:
        count = str(held) if held <= arith.LIMIT else "more than 2^63 − 1"
        raise Refusal(f"{_listed(sizes)} holds {count} values, not the {total} given", field)
    return sizes


class Unflatten(Layer):
    type: Literal["unflatten"]
    dim: AnyInt
    unflattened_size: NewShape

    def forward(self, shape: Shape) -> Step:
        at = _dim(self.dim, len(shape), "dim")
        sizes = _fill(self.unflattened_size, shape[at], "unflattened_size")
        return Step((*shape[:at], *sizes, *shape[at + 1 :]), {}, None)


class Reshape(Layer):
    type: Literal["reshape"]
    shape: NewShape

    def forward(self, shape: Shape) -> Step:
        return Step(_fill(self.shape, math.prod(shape), "shape"), {}, None)

    def describe(self, shape: Shape) -> str:
        return f"reshape {label(self.shape, every=True)}"


class Permute(Layer):
    type: Literal["permute"]
    dims: IntList

    def forward(self, shape: Shape) -> Step:
        rank = len(shape)
        dims = tuple(_dim(d, rank, "dims") for d in self.dims)
        if sorted(dims) != list(range(rank)):
            raise Refusal(
                f"{_listed(self.dims)} is not an ordering of the input's {rank} dimensions "
                "(batch excluded)",
                "dims",
            )
        return Step(tuple(shape[d] for d in dims), {}, None)


class Embedding(_WithParameters):
    """Token indices in, one vector per token out: input [L] gives [L, embedding_dim]."""

    type: Literal["embedding"]
    num_embeddings: PositiveInt
    embedding_dim: PositiveInt
    padding_idx: AnyInt | None = None
    max_norm: Number | None = None
    norm_type: Number = 2.0
    scale_grad_by_freq: Flag = False
    sparse: Flag = False

    def forward(self, shape: Shape) -> Step:
        n = self.num_embeddings
        if self.padding_idx is not None and not -n <= self.padding_idx < n:
            raise Refusal(f"must be within num_embeddings ({-n} to {n - 1})", "padding_idx")
        tensors: Tensors = {"weight": (n, self.embedding_dim)}
        return Step((*shape, self.embedding_dim), tensors, None)


class ChannelShuffle(Layer):
    type: Literal["channel_shuffle"]
    groups: PositiveInt

    def forward(self, shape: Shape) -> Step:
        channels, _ = split_spatial(shape, "channel_shuffle")
        if channels % self.groups:
            raise Refusal(f"groups {self.groups} does not divide the {channels} channels", "groups")
        return elementwise(shape)  # channels reordered: each position still sees itself


class Pad(Layer):
    """Padding per side in PyTorch's order, last dimension first: (left, right, top, bottom,
    front, back), as F.pad reads it: n pairs pad the last n dimensions (the channels too, in
    constant mode). An integer pads every spatial dimension on both sides. Negative values
    crop."""

    type: Literal["pad"]
    padding: Sides
    mode: Literal["constant", "reflect", "replicate", "circular"] = "constant"
    value: Number = 0.0

    def sides(self, rank: int) -> list[tuple[int, int]]:
        """(before, after) for each padded dimension, the last ``len`` of the input's, in
        order; ``rank`` is the number of dimensions without the batch."""
        if isinstance(self.padding, int):
            return [(self.padding, self.padding)] * (rank - 1)
        pads = self.padding
        if self.mode == "constant" and len(pads) == 2 * (rank + 1):
            # F.pad pads the batch too: by (0, 0) the sample is unchanged, else it is no
            # per-sample layer
            if tuple(pads[-2:]) != (0, 0):
                raise Refusal(
                    f"its last pair ({pads[-2]}, {pads[-1]}) pads the batch dimension: only "
                    "(0, 0) keeps each sample a sample",
                    "padding",
                )
            pads = pads[:-2]
        # F.pad: constant mode pads any of the last dimensions; the other modes the spatial
        # ones, or one more (torch then reads the batch as the channels), at most three
        allowed = (
            range(1, rank + 1)
            if self.mode == "constant"
            else range(max(rank - 1, 1), min(rank, 3) + 1)
        )
        if len(pads) % 2 or len(pads) // 2 not in allowed:
            what = " or ".join(str(2 * k) for k in allowed) or "no"
            raise Refusal(
                f"gives {len(pads)} values, but {self.mode} padding of an input of {rank} "
                f"dimensions takes {what} (pairs before, after; last dimension first)",
                "padding",
            )
        pairs = [(pads[i], pads[i + 1]) for i in range(0, len(pads), 2)]
        return pairs[::-1]

    def forward(self, shape: Shape) -> Step:
        split_spatial(shape, "pad")  # no spatial dimension: PyTorch has no ConstantPad0d
        if self.value != 0 and self.mode != "constant":
            raise Refusal(f"only constant padding has a fill value, not {self.mode}", "value")
        sides = self.sides(len(shape))
        first = len(shape) - len(sides)
        lengths = shape[first:]
        befores, afters = tuple(a for a, _ in sides), tuple(b for _, b in sides)
        modes = (self.mode,) * len(sides)
        out, rules = sized(arith.pad_out, lengths, befores, afters, modes)
        padded = dict(zip(range(first, len(shape)), sides, strict=True))
        windows = tuple(Window(1, 1, *padded.get(d, (0, 0))) for d in range(1, len(shape)))
        return Step((*shape[:first], *out), {}, windows, rules)

    def describe(self, shape: Shape) -> str:
        sides = self.sides(len(shape))
        return f"pad {' '.join(f'{a},{b}' for a, b in sides)}"


class Upsample(Layer):
    """``size`` or ``scale_factor`` (exactly one); with a factor, out = floor(L · scale)."""

    type: Literal["upsample"]
    size: OutputSize | None = None
    scale_factor: Scale | None = None
    mode: Literal["nearest", "linear", "bilinear", "bicubic", "trilinear", "nearest-exact"] = (
        "nearest"
    )
    align_corners: Flag | None = None
    recompute_scale_factor: Flag | None = None

    def forward(self, shape: Shape) -> Step:
        channels, spatial = split_spatial(shape, "upsample")
        rank = len(spatial)
        scale = self.scale_factor or None  # as nn.Upsample: a factor of 0 is no factor
        if (self.size is None) == (scale is None):
            raise Refusal("give exactly one of size and scale_factor", "size")
        need = {"linear": 1, "bilinear": 2, "bicubic": 2, "trilinear": 3}.get(self.mode)
        if need is not None and need != rank:
            raise Refusal(
                f"mode {self.mode} needs {need} spatial dimension{'s' if need > 1 else ''}, "
                f"the input has {rank}",
                "mode",
            )
        if self.align_corners is not None and need is None:
            raise Refusal("align_corners applies only to the interpolating modes", "align_corners")
        if self.size is not None and self.recompute_scale_factor:
            raise Refusal("has no meaning with an explicit size", "recompute_scale_factor")
        rules: tuple[Applied, ...] = ()
        if self.size is not None:
            out = per_dim(self.size, rank, "size")
            if None in out:
                raise Refusal("every size must be given", "size")
        else:
            scales = per_dim(scale, rank, "scale_factor")  # type: ignore[arg-type]
            out, rules = sized(arith.upsample_out, spatial, scales)
        return Step((channels, *out), {}, _upsample_windows(spatial, out), rules)

    def describe(self, shape: Shape) -> str:
        if self.size is not None:
            return f"upsample → {label(per_dim(self.size, len(shape) - 1, 'size'), every=True)}"
        factors = per_dim(self.scale_factor, len(shape) - 1, "scale_factor")  # type: ignore[arg-type]
        return f"upsample ×{label(tuple(f'{f:g}' for f in factors))} {self.mode}"


def _upsample_windows(spatial: Shape, out: Shape) -> tuple[Window, ...] | None:
    """An integer factor repeats (or interpolates) each input position: a transposed window of
    that stride. Any other resize has no fixed window."""
    if all(o % n == 0 for n, o in zip(spatial, out, strict=True)):
        return tuple(
            Window(1, o // n, 0, 0, transposed=True) for n, o in zip(spatial, out, strict=True)
        )
    return None


# --- element-wise: activations, dropout ------------------------------------------------------


class PReLU(_WithParameters):
    type: Literal["prelu"]
    num_parameters: PositiveInt = 1
    init: Number = 0.25

    def forward(self, shape: Shape) -> Step:
        n = self.num_parameters
        if n != 1 and n != shape[0]:
            raise Refusal(f"{n} must be 1 or the number of channels, {shape[0]}", "num_parameters")
        return elementwise(shape, {"weight": (n,)})


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
            raise Refusal(f"dropout1d needs an input [channels, length], not {_listed(shape)}")
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
            _dim(self.dim, len(shape) + 1, "dim", "counting the batch")
        return elementwise(shape)


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


class Identity(Layer):
    type: Literal["identity"]
