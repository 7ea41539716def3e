"""Convolutions and transposed convolutions (``nn.Conv{1,2,3}d``, ``nn.ConvTranspose{1,2,3}d``)."""

from typing import ClassVar, Literal

from convcalc import arith
from convcalc.arith import Derived, Refusal
from convcalc.layers.base import (
    KerasWords,
    WithParameters,
    each_dim,
    keras_call,
    label,
    per_dim,
    sized,
    split_spatial,
    worded,
)
from convcalc.layers.fields import (
    ConvPadding,
    Flag,
    NonNegDims,
    PositiveDims,
    PositiveInt,
)
from convcalc.records import Applied, Shape, Step, Tensors, Window


def _check_groups(groups: int, channels: int, out_channels: int) -> None:
    if channels % groups:
        raise Refusal(f"groups {groups} does not divide the {channels} input channels", "groups")
    if out_channels % groups:
        raise Refusal(
            f"groups {groups} does not divide the {out_channels} output channels", "groups"
        )


def window_label(
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


class _Convolution(WithParameters):
    """What conv and conv_transpose share: channels, kernel, stride, dilation, groups, bias."""

    from_input = ("in_channels",)
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
        return self._step(channels, out, rules, (k, s, left, right, d))

    def _step(
        self,
        channels: int,
        out: Shape,
        rules: tuple[Applied, ...],
        geometry: tuple[tuple[int, ...], ...],
    ) -> Step:
        """The step giving ``(out_channels, *out)`` from ``channels``: in each dimension a
        window of the effective kernel d·(k − 1) + 1, stride s and pads (left, right), from
        ``geometry`` = (k, s, left, right, d); weight (out_channels, channels / groups, *k)."""
        k, s, left, right, d = geometry
        windows = tuple(
            Window(arith.effective_kernel(ki, di), si, a, b)
            for ki, di, si, a, b in zip(k, d, s, left, right, strict=True)
        )
        weight = (self.out_channels, channels // self.groups, *k)
        return Step((self.out_channels, *out), self._tensors(weight), windows, rules)

    def describe(self, shape: Shape) -> str:
        k, s, p, _, d = self.geometry(len(shape) - 1)
        return window_label("conv", k, s, p, d, self.groups, same=self.padding == "same")


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
        return window_label("conv_transpose", k, s, p, d, self.groups, extra=extra)


# --- Keras' rules (the Keras dialect, convcalc.spec.keras, builds these on channels-first shapes)


def keras_strides(s: tuple[int, ...], d: tuple[int, ...]) -> None:
    """Keras' Conv and ConvTranspose (not its depthwise and separable convolutions) refuse a
    stride above 1 together with a dilation above 1."""
    if any(x > 1 for x in s) and any(x > 1 for x in d):
        raise Refusal(
            f"strides > 1 not supported in conjunction with dilation_rate > 1 (strides "
            f"{label(s)}, dilation_rate {label(d)})",
            "stride",
        )


class KerasConv(KerasWords, Conv):
    """Keras' Conv1D/2D/3D and DepthwiseConv2D (out_channels C·depth_multiplier, groups C) on
    the channels-first records. ``valid``: PyTorch's rule without padding, refused where the
    dilated kernel is longer than the input; ``same`` for every stride: out = ⌈n/s⌉, padding
    max((out − 1)·s + d·(k − 1) + 1 − n, 0), the extra one at the end; Conv1D's ``causal``:
    d·(k − 1) before, none after, out = ⌈n/s⌉ likewise."""

    padding: Literal["valid", "same", "causal"] = "valid"  # type: ignore[assignment]
    # Keras' Conv refuses strides > 1 with dilation_rate > 1; its depthwise convolutions not
    strided_dilation: ClassVar[bool] = False

    def keras_geometry(self, spatial: Shape) -> tuple[tuple[int, ...], ...]:
        """(k, s, left padding, right padding, d) per dimension, for the input ``spatial``."""
        k, s, d = self._ksd(len(spatial))
        if self.padding == "valid":
            zero = (0,) * len(k)
            return k, s, zero, zero, d
        if self.padding == "causal":
            left = tuple((ki - 1) * di for ki, di in zip(k, d, strict=True))
            return k, s, left, (0,) * len(k), d
        pads = [arith.keras_same_padding(*a) for a in zip(spatial, k, s, d, strict=True)]
        return k, s, tuple(a for a, _ in pads), tuple(b for _, b in pads), d

    def forward(self, shape: Shape) -> Step:
        """Keras' refusals first (strides with dilation, :func:`keras_strides`; a ``valid``
        window longer than the input, :func:`arith.keras_valid_fits`), then the sizes."""
        channels, spatial = split_spatial(shape, "conv")
        k, s, left, right, d = self.keras_geometry(spatial)
        if not self.strided_dilation:
            keras_strides(s, d)
        _check_groups(self.groups, channels, self.out_channels)
        if self.padding == "valid":
            arith.keras_valid_fits(spatial, k, d, "kernel_size")
            out, rules = sized(arith.conv_out, spatial, k, s, left, d)
        else:
            out, rules = sized(arith.keras_same_out, spatial, k, s, d)
        return self._step(channels, out, rules, (k, s, left, right, d))

    def derived(self, applied: Applied, name: str) -> Derived:
        """Keras' ``valid`` has no padding to write: ⌊(L − d·(k − 1) − 1)/s⌋ + 1."""
        if applied.rule is arith.conv_out:
            length, k, s, _, d = applied.args
            return worded(arith.keras_valid_out_derived(name, length, k, s, d), self.word)
        return super().derived(applied, name)

    def keras_options(self, shape: Shape) -> dict[str, object]:
        """The keyword arguments a Keras call writes where they are not the default."""
        _, s, d = self._ksd(len(shape) - 1)
        options: dict[str, object] = {}
        if any(x != 1 for x in s):
            options["strides"] = s
        if self.padding != "valid":
            options["padding"] = self.padding
        if any(x != 1 for x in d):
            options["dilation_rate"] = d
        return options

    def describe(self, shape: Shape) -> str:
        """``Conv2D(8, 3, strides=2, padding="same")``."""
        k, _, _ = self._ksd(len(shape) - 1)
        options = self.keras_options(shape)
        if self.groups != 1:
            options["groups"] = self.groups
        if not self.bias:
            options["use_bias"] = False
        return keras_call(f"Conv{len(k)}D", self.out_channels, k, **options)

    def shown_tensors(self, tensors: Tensors) -> Tensors:
        """Keras' kernel (*k, in / groups, filters) and bias (filters)."""
        out, per_group, *k = tensors["weight"]
        return _keras_bias({"kernel": (*k, per_group, out)}, tensors)


def _keras_bias(kernels: Tensors, tensors: Tensors) -> Tensors:
    """Keras' kernels, then the bias where the layer has one."""
    return kernels | ({"bias": tensors["bias"]} if "bias" in tensors else {})


class KerasDepthwiseConv(KerasConv):
    """Keras' DepthwiseConv1D/2D: groups = C, filters C·depth_multiplier; Keras' kernel is
    (*k, C, depth_multiplier)."""

    WORDS: ClassVar[dict[str, str]] = KerasConv.WORDS | {"out_channels": "C_in·depth_multiplier"}
    strided_dilation: ClassVar[bool] = True

    def describe(self, shape: Shape) -> str:
        """``DepthwiseConv2D(3, strides=2, depth_multiplier=2)``."""
        k, _, _ = self._ksd(len(shape) - 1)
        options = self.keras_options(shape)
        if self.out_channels != self.groups:
            options["depth_multiplier"] = self.out_channels // self.groups
        if not self.bias:
            options["use_bias"] = False
        return keras_call(f"DepthwiseConv{len(k)}D", k, **options)

    def shown_tensors(self, tensors: Tensors) -> Tensors:
        out, _, *k = tensors["weight"]
        return _keras_bias({"kernel": (*k, self.groups, out // self.groups)}, tensors)


class KerasSeparableDepthwise(KerasDepthwiseConv):
    """The depthwise half of Keras' SeparableConv1D/2D: ``depthwise_kernel`` (*k, C,
    depth_multiplier), no bias."""

    def describe(self, shape: Shape) -> str:
        """``depthwise 3×3 strides=2 same``: the Keras layer's first step."""
        k, _, _ = self._ksd(len(shape) - 1)
        options = self.keras_options(shape)
        if self.out_channels != self.groups:
            options["depth_multiplier"] = self.out_channels // self.groups
        return keras_call("depthwise", k, **options)

    def shown_tensors(self, tensors: Tensors) -> Tensors:
        out, _, *k = tensors["weight"]
        return {"depthwise_kernel": (*k, self.groups, out // self.groups)}


class KerasPointwise(KerasConv):
    """The pointwise half of Keras' SeparableConv1D/2D: ``pointwise_kernel`` (1, …, C·m,
    filters) and the layer's bias."""

    def derived(self, applied: Applied, name: str) -> Derived:
        """A 1×1 step keeps each spatial size: H = H_in."""
        return arith.kept_derived(name, applied.args[0])

    def describe(self, shape: Shape) -> str:
        """``pointwise(16)``: the Keras layer's second step, a 1×1 convolution."""
        return keras_call("pointwise", self.out_channels)

    def shown_tensors(self, tensors: Tensors) -> Tensors:
        out, per_group, *k = tensors["weight"]
        return _keras_bias({"pointwise_kernel": (*k, per_group, out)}, tensors)


class KerasDense(KerasConv):
    """Keras' Dense on the channels of a channels-last map (H, W, C): a 1×1 convolution of
    the channels-first records; Keras' kernel is (C, units)."""

    WORDS: ClassVar[dict[str, str]] = KerasConv.WORDS | {"out_channels": "units"}

    def derived(self, applied: Applied, name: str) -> Derived:
        """Dense acts on the channels alone: H = H_in."""
        return arith.kept_derived(name, applied.args[0])

    def describe(self, shape: Shape) -> str:
        """``Dense(16)``."""
        options = {} if self.bias else {"use_bias": False}
        return keras_call("Dense", self.out_channels, **options)

    def shown_tensors(self, tensors: Tensors) -> Tensors:
        out, features, *_ = tensors["weight"]
        return _keras_bias({"kernel": (features, out)}, tensors)


class KerasConvTranspose(KerasWords, ConvTranspose):
    """Keras' Conv1D/2D/3DTranspose on the channels-first records: valid (n − 1)·s +
    max(k_eff, s), same n·s, or with ``output_padding`` (smaller than the stride) (n − 1)·s +
    k_eff + op (valid), (n − 1)·s + k_eff mod 2 + op (same); the window crops PyTorch's
    uncropped output as Keras does (:func:`convcalc.arith.keras_transpose_crop`: the odd one at
    the end)."""

    padding: Literal["valid", "same"] = "valid"  # type: ignore[assignment]
    output_padding: NonNegDims | None = None  # type: ignore[assignment]

    def forward(self, shape: Shape) -> Step:
        channels, spatial = split_spatial(shape, "conv_transpose")
        k, s, d = self._ksd(len(spatial))
        keras_strides(s, d)
        rank = len(spatial)
        ops = (None,) * rank
        if self.output_padding is not None:
            ops = per_dim(self.output_padding, rank, "output_padding", expand=True)
        same = (self.padding == "same",) * rank
        out, rules = sized(arith.keras_transpose_out, spatial, k, s, d, same, ops)
        windows = []
        for ki, si, di, op in zip(k, s, d, ops, strict=True):
            start, end = arith.keras_transpose_crop(ki, si, di, self.padding == "same", op)
            k_eff = arith.effective_kernel(ki, di)
            windows.append(Window(k_eff, si, start, end, transposed=True))
        weight = (channels, self.out_channels // self.groups, *k)
        return Step((self.out_channels, *out), self._tensors(weight), tuple(windows), rules)

    def describe(self, shape: Shape) -> str:
        """``Conv2DTranspose(4, 3, strides=2, padding="same")``."""
        k, s, d = self._ksd(len(shape) - 1)
        options: dict[str, object] = {}
        if any(x != 1 for x in s):
            options["strides"] = s
        if self.padding != "valid":
            options["padding"] = self.padding
        if self.output_padding is not None:
            options["output_padding"] = per_dim(self.output_padding, len(k), "output_padding")
        if any(x != 1 for x in d):
            options["dilation_rate"] = d
        if not self.bias:
            options["use_bias"] = False
        return keras_call(f"Conv{len(k)}DTranspose", self.out_channels, k, **options)

    def shown_tensors(self, tensors: Tensors) -> Tensors:
        """Keras' kernel (*k, filters, in) and bias (filters)."""
        channels, out, *k = tensors["weight"]
        return _keras_bias({"kernel": (*k, out, channels)}, tensors)
