"""Pooling: max and average windows, the adaptive pools that choose their own windows, and
max-unpooling."""

from typing import ClassVar, Literal

from convcalc import arith
from convcalc.arith import Derived, Refusal
from convcalc.layers.base import (
    KerasWords,
    Layer,
    each_dim,
    keras_call,
    label,
    per_dim,
    sized,
    split_spatial,
    worded,
)
from convcalc.layers.conv import window_label
from convcalc.layers.fields import (
    Flag,
    IntList,
    NonNegDims,
    OutputSize,
    PositiveDims,
    PositiveInt,
)
from convcalc.records import Applied, Shape, Step, Window


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
        return window_label(self.type, k, s, p, d, extra=" ceil" if self.ceil_mode else "")


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


class MaxUnpool(Layer):
    """nn.MaxUnpool{n}d: the inverse of a max-pool, each value put back where its index says.

    out = (L − 1)·s − 2p + k per dimension (the transposed convolution's rule with d = 1 and no
    output padding), or ``output_size`` as its forward takes it: one size per spatial
    dimension (or with the batch and channels in front, which it drops), each strictly
    between out − s and out + s."""

    type: Literal["max_unpool"]
    kernel_size: PositiveDims
    stride: PositiveDims | None = None
    padding: NonNegDims = 0
    output_size: IntList | None = None

    def geometry(self, rank: int) -> tuple[tuple[int, ...], ...]:
        """(k, s, p) per dimension; the stride defaults to the kernel."""
        k = per_dim(self.kernel_size, rank, "kernel_size", expand=True)
        s = k if self.stride is None else per_dim(self.stride, rank, "stride", expand=True)
        return k, s, per_dim(self.padding, rank, "padding", expand=True)

    def forward(self, shape: Shape) -> Step:
        channels, spatial = split_spatial(shape, "max_unpool")
        k, s, p = self.geometry(len(spatial))
        windows = tuple(
            Window(ki, si, pi, pi, transposed=True) for ki, si, pi in zip(k, s, p, strict=True)
        )
        default = [
            (n - 1) * si - 2 * pi + ki for n, ki, si, pi in zip(spatial, k, s, p, strict=True)
        ]
        if self.output_size is None:
            ones = (1,) * len(k)
            out, rules = sized(arith.conv_transpose_out, spatial, k, s, p, ones, (0,) * len(k))
            return Step((channels, *out), {}, windows, rules)
        size = self.output_size
        if len(size) == len(k) + 2:
            size = size[2:]
        if len(size) != len(k):
            raise Refusal(
                f"gives {len(self.output_size)} sizes, but the input has {len(k)} spatial "
                f"dimension{'s' if len(k) != 1 else ''} (give those, or with the batch and "
                "channels in front)",
                "output_size",
            )
        for i, (n, d, si) in enumerate(zip(size, default, s, strict=True)):
            where = f" (dimension {i + 1})" if len(k) > 1 else ""
            if not d - si < n < d + si:
                raise Refusal(
                    f"{n} must be between {d - si} and {d + si}, both excluded{where}",
                    "output_size",
                )
            if n < 1:
                raise Refusal(f"{n} leaves the output empty{where}", "output_size")
        return Step((channels, *size), {}, windows)

    def describe(self, shape: Shape) -> str:
        k, s, p = self.geometry(len(shape) - 1)
        text = window_label("max_unpool", k, s, p, (1,) * len(k))
        if self.output_size is not None:
            text += f" → {label(self.output_size[-len(k) :], every=True)}"
        return text


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


# --- Keras' rules (the Keras dialect, convcalc.spec.keras, builds these on channels-first shapes)


def _keras_pool(layer: "KerasMaxPool | KerasAvgPool", shape: Shape) -> Step:
    """Keras' pools: ``valid`` out = ⌊(n − k)/s⌋ + 1, refused when the pool is longer than the
    input; ``same`` out = ⌈n/s⌉, padded as Keras' convolutions, the extra one at the end."""
    channels, spatial = split_spatial(shape, layer.type)
    k, s, _, _ = layer.geometry(len(spatial))
    ones = (1,) * len(k)
    if layer.padding == "valid":
        arith.keras_valid_fits(spatial, k, ones, "pool_size")
        zero = (0,) * len(k)
        out, rules = sized(arith.pool_out, spatial, k, s, zero, ones, (False,) * len(k))
        pads = [(0, 0)] * len(k)
    else:
        out, rules = sized(arith.keras_same_out, spatial, k, s, ones)
        pads = [arith.keras_same_padding(*a) for a in zip(spatial, k, s, ones, strict=True)]
    windows = tuple(Window(ki, si, a, b) for ki, si, (a, b) in zip(k, s, pads, strict=True))
    return Step((channels, *out), {}, windows, rules)


class _KerasPool(KerasWords):
    """What Keras' pools share: their label, Keras' call, and their formulas' words
    (``pool_size`` for the kernel, no dilation)."""

    WORDS: ClassVar[dict[str, str]] = KerasWords.WORDS | {"k": "pool_size"}
    kind: ClassVar[str]

    def derived(self, applied: Applied, name: str) -> Derived:
        """Keras' ``valid`` has no padding to write: ⌊(L − pool_size)/strides⌋ + 1; ``same``
        pads max((out − 1)·strides + pool_size − L, 0)."""
        if applied.rule is arith.pool_out:
            length, k, s, *_ = applied.args
            return worded(arith.keras_valid_out_derived(name, length, k, s, None), self.word)
        if applied.rule is arith.keras_same_out:  # a pool has no dilation to write
            length, k, s, d = applied.args
            found = arith.keras_same_out_derived(name, length, k, s, d, pool=True)
            return worded(found, self.word)
        return super().derived(applied, name)  # type: ignore[misc, no-any-return]

    def describe(self, shape: Shape) -> str:
        """``MaxPooling2D(3, strides=2, padding="same")`` (strides shown where they are not
        the pool size, Keras' default)."""
        k, s, _, _ = self.geometry(len(shape) - 1)  # type: ignore[attr-defined]
        options: dict[str, object] = {}
        if s != k:
            options["strides"] = s
        if self.padding != "valid":  # type: ignore[attr-defined]
            options["padding"] = self.padding  # type: ignore[attr-defined]
        return keras_call(f"{self.kind}{len(k)}D", k, **options)


class KerasMaxPool(_KerasPool, MaxPool):
    """Keras' MaxPooling1D/2D/3D (:func:`_keras_pool`)."""

    kind: ClassVar[str] = "MaxPooling"
    padding: Literal["valid", "same"] = "valid"  # type: ignore[assignment]

    def forward(self, shape: Shape) -> Step:
        return _keras_pool(self, shape)


class KerasAvgPool(_KerasPool, AvgPool):
    """Keras' AveragePooling1D/2D/3D (:func:`_keras_pool`; ``same`` averages the values
    inside the input only)."""

    kind: ClassVar[str] = "AveragePooling"
    padding: Literal["valid", "same"] = "valid"  # type: ignore[assignment]

    def forward(self, shape: Shape) -> Step:
        return _keras_pool(self, shape)
