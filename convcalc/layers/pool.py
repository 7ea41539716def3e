"""Pooling: max and average windows, and the adaptive pools that choose their own windows."""

from typing import Literal

from convcalc import arith
from convcalc.arith import Refusal
from convcalc.layers.base import Layer, each_dim, label, per_dim, sized, split_spatial
from convcalc.layers.conv import _window_label
from convcalc.layers.fields import (
    Flag,
    NonNegDims,
    OutputSize,
    PositiveDims,
    PositiveInt,
)
from convcalc.records import Shape, Step, Window


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
