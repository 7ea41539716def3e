"""Layers that move values without computing new ones: flatten, unflatten, reshape, permute,
channel shuffle, pixel (un)shuffle, unfold and fold, channel selection, padding, upsampling and
the identity."""

import math
from collections.abc import Callable, Iterable
from typing import Literal

from convcalc import arith
from convcalc.arith import Refusal
from convcalc.layers.base import (
    Layer,
    dim_index,
    each_dim,
    label,
    listed,
    per_dim,
    sized,
    split_spatial,
)
from convcalc.layers.conv import window_label
from convcalc.layers.fields import (
    AnyInt,
    Flag,
    IntList,
    NewShape,
    NonNegDims,
    Number,
    OutputSize,
    PositiveDims,
    PositiveInt,
    Scale,
    Sides,
)
from convcalc.records import Applied, Layout, Shape, Step, Window, elementwise


class Flatten(Layer):
    type: Literal["flatten"]
    start_dim: AnyInt = 0
    end_dim: AnyInt = -1

    def forward(self, shape: Shape) -> Step:
        rank = len(shape)
        start = dim_index(self.start_dim, rank, "start_dim")
        end = dim_index(self.end_dim, rank, "end_dim")
        if start > end:
            raise Refusal(f"start_dim {self.start_dim} comes after end_dim {self.end_dim}")
        return Step(
            (*shape[:start], math.prod(shape[start : end + 1]), *shape[end + 1 :]), {}, None
        )

    def layout(self, shape: Shape) -> Layout:
        """The dimensions start_dim … end_dim multiplied into one, the others kept."""
        rank = len(shape)
        start = dim_index(self.start_dim, rank, "start_dim")
        end = dim_index(self.end_dim, rank, "end_dim")
        if start > end:  # as forward refuses it
            raise Refusal(f"start_dim {self.start_dim} comes after end_dim {self.end_dim}")
        merged = tuple(range(start, end + 1))
        kept_after = ((i,) for i in range(end + 1, rank))
        return Layout((*((i,) for i in range(start)), merged, *kept_after))


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


def _fill(
    sizes: tuple[int, ...], total: int, field: str, shown: Callable[[Shape], Shape] = tuple
) -> Shape:
    """Sizes with at most one -1, which takes what is left of ``total`` values; a refusal
    shows the sizes as ``shown`` gives them (a Keras Reshape's target as written)."""
    if sizes.count(-1) > 1:
        raise Refusal("only one size may be -1", field)
    known = _product(n for n in sizes if n != -1)
    if -1 in sizes:
        if total % known:
            raise Refusal(f"{total} values cannot be shaped as {listed(shown(sizes))}", field)
        sizes = tuple(total // known if n == -1 else n for n in sizes)
    if (held := _product(sizes)) != total:
        count = str(held) if held <= arith.LIMIT else "more than 2^63 − 1"
        written = listed(shown(sizes))
        raise Refusal(f"{written} holds {count} values, not the {total} given", field)
    return sizes


class Unflatten(Layer):
    type: Literal["unflatten"]
    dim: AnyInt
    unflattened_size: NewShape

    def forward(self, shape: Shape) -> Step:
        at = dim_index(self.dim, len(shape), "dim")
        sizes = _fill(self.unflattened_size, shape[at], "unflattened_size")
        return Step((*shape[:at], *sizes, *shape[at + 1 :]), {}, None)


class Reshape(Layer):
    type: Literal["reshape"]
    shape: NewShape

    def forward(self, shape: Shape) -> Step:
        """The sizes written, a -1 filled; refused (the sizes in the order the spec wrote
        them, :meth:`shown_shape`) where they cannot hold the input's count."""
        return Step(_fill(self.shape, math.prod(shape), "shape", self.shown_shape), {}, None)

    def layout(self, shape: Shape) -> Layout | None:
        """Written sizes: the output is set, and must hold the input's count (with a -1 the
        size depends on the count: no layout)."""
        if -1 in self.shape:
            return None
        if _product(self.shape) > arith.LIMIT:  # no input holds that many values
            written = listed(self.shown_shape(self.shape))
            raise Refusal(f"{written} holds more than 2^63 − 1 values", "shape")
        return Layout(((),) * len(self.shape), tuple(self.shape), same_count=True)

    def describe(self, shape: Shape) -> str:
        return f"reshape {label(self.shape, every=True)}"


class Permute(Layer):
    type: Literal["permute"]
    dims: IntList

    def forward(self, shape: Shape) -> Step:
        rank = len(shape)
        dims = tuple(dim_index(d, rank, "dims") for d in self.dims)
        if sorted(dims) != list(range(rank)):
            raise Refusal(
                f"{listed(self.dims)} is not an ordering of the input's {rank} dimensions "
                "(batch excluded)",
                "dims",
            )
        return Step(tuple(shape[d] for d in dims), {}, None)

    def layout(self, shape: Shape) -> Layout:
        """Output dimension j is the input's ``dims[j]``."""
        return Layout(tuple((dim_index(d, len(shape), "dims"),) for d in self.dims))


class ChannelShuffle(Layer):
    type: Literal["channel_shuffle"]
    groups: PositiveInt

    def forward(self, shape: Shape) -> Step:
        channels, _ = split_spatial(shape, "channel_shuffle")
        if channels % self.groups:
            raise Refusal(f"groups {self.groups} does not divide the {channels} channels", "groups")
        # channels reordered: each position still sees itself
        size = channels // self.groups
        note = (
            f"the {channels} channels reordered, {self.groups} groups of {size} interleaved "
            "(one from each group in turn); shape kept"
        )
        return elementwise(shape, note=note)


class PixelShuffle(Layer):
    """nn.PixelShuffle: the last three dimensions (C·r², H, W) → (C, H·r, W·r)."""

    type: Literal["pixel_shuffle"]
    upscale_factor: PositiveInt

    def forward(self, shape: Shape) -> Step:
        r = self.upscale_factor
        if len(shape) == 2 and r == 1:  # torch reads [N, C, L] as one [C, H, W]: unchanged
            return elementwise(shape)
        if len(shape) < 3:
            raise Refusal(
                f"pixel_shuffle needs an input [channels, height, width] (or more leading "
                f"dimensions), but gets {listed(shape)}"
            )
        *lead, c, h, w = shape
        if c % (r * r):
            raise Refusal(
                f"the {c} channels are not divisible by upscale_factor² = {r * r}",
                "upscale_factor",
            )
        out = (*lead, c // (r * r), h * r, w * r)
        # each output position reads the input position it came from: a transposed window
        windows = (Window(1, r, 0, 0, transposed=True),) * 2 if len(shape) == 3 else None
        return Step(out, {}, windows)

    def describe(self, shape: Shape) -> str:
        return f"pixel_shuffle ×{self.upscale_factor}"


class PixelUnshuffle(Layer):
    """nn.PixelUnshuffle: the last three dimensions (C, H·r, W·r) → (C·r², H, W)."""

    type: Literal["pixel_unshuffle"]
    downscale_factor: PositiveInt

    def forward(self, shape: Shape) -> Step:
        r = self.downscale_factor
        if len(shape) == 2 and r == 1:  # torch reads [N, C, L] as one [C, H, W]: unchanged
            return elementwise(shape)
        if len(shape) < 3:
            raise Refusal(
                f"pixel_unshuffle needs an input [channels, height, width] (or more leading "
                f"dimensions), but gets {listed(shape)}"
            )
        *lead, c, h, w = shape
        for name, n in (("height", h), ("width", w)):
            if n % r:
                raise Refusal(
                    f"the {name} {n} is not divisible by downscale_factor {r}", "downscale_factor"
                )
        out = (*lead, c * r * r, h // r, w // r)
        windows = (Window(r, r, 0, 0),) * 2 if len(shape) == 3 else None
        return Step(out, {}, windows)

    def describe(self, shape: Shape) -> str:
        return f"pixel_unshuffle /{self.downscale_factor}"


def _sliding(layer: "Unfold | Fold") -> tuple[tuple[int, ...], ...]:
    """(k, d, p, s) per dimension of the two spatial ones nn.Unfold and nn.Fold take: an
    integer for both, or a pair."""
    return tuple(
        per_dim(getattr(layer, name), 2, name)
        for name in ("kernel_size", "dilation", "padding", "stride")
    )


def _blocks(spatial: Shape, layer: "Unfold | Fold") -> Shape:
    """The number of sliding blocks along each dimension: ⌊(L + 2p − d·(k − 1) − 1)/s⌋ + 1,
    the convolution's rule; refused where one would be below 1."""
    k, d, p, s = _sliding(layer)
    return each_dim(arith.conv_out, spatial, k, s, p, d)


class Unfold(Layer):
    """nn.Unfold: [C, H, W] → [C·kh·kw, L], L the number of k×k blocks (the conv's rule per
    dimension, multiplied)."""

    type: Literal["unfold"]
    kernel_size: PositiveDims
    dilation: PositiveDims = 1
    padding: NonNegDims = 0
    stride: PositiveDims = 1

    def forward(self, shape: Shape) -> Step:
        k, d, p, s = _sliding(self)
        if len(shape) == 2 and k == (1, 1):
            # torch reads [N, C, L] as one [channels N, height C, width L]: a 1×1 kernel keeps
            # the N rows, each sample's values the blocks of its own [C, L]
            blocks = _blocks(shape, self)
            return Step((blocks[0] * blocks[1],), {}, None)
        if len(shape) != 3:
            raise Refusal(
                f"unfold needs an input [channels, height, width], but gets {listed(shape)}"
            )
        blocks = _blocks(shape[1:], self)
        windows = tuple(
            Window(arith.effective_kernel(ki, di), si, pi, pi)
            for ki, di, pi, si in zip(k, d, p, s, strict=True)
        )
        return Step((shape[0] * k[0] * k[1], blocks[0] * blocks[1]), {}, windows)

    def describe(self, shape: Shape) -> str:
        k, d, p, s = _sliding(self)
        return window_label("unfold", k, s, p, d)


class Fold(Layer):
    """nn.Fold: [C·kh·kw, L] → [C, *output_size], L the number of blocks output_size holds."""

    type: Literal["fold"]
    output_size: PositiveDims
    kernel_size: PositiveDims
    dilation: PositiveDims = 1
    padding: NonNegDims = 0
    stride: PositiveDims = 1

    def forward(self, shape: Shape) -> Step:
        size = per_dim(self.output_size, 2, "output_size")
        k, _, _, _ = _sliding(self)
        vector = len(shape) == 1 and k == (1, 1)
        if vector:
            shape = (1, *shape)  # torch reads [N, L] as one [N, L]: a 1×1 kernel keeps N
        elif len(shape) != 2:
            raise Refusal(
                f"fold needs an input [channels × kernel positions, blocks], but gets "
                f"{listed(shape)}"
            )
        rows, columns = shape
        if rows % (k[0] * k[1]):
            raise Refusal(
                f"the input's {rows} rows are not divisible by the kernel's {k[0] * k[1]} "
                "positions",
                "kernel_size",
            )
        try:
            blocks = _blocks(size, self)
        except Refusal:
            blocks = (0, 0)  # torch counts 0 blocks, which no input matches
        if blocks[0] * blocks[1] != columns:
            raise Refusal(
                f"output_size {label(size, every=True)} holds {blocks[0]}·{blocks[1]} = "
                f"{blocks[0] * blocks[1]} blocks, but the input has {columns}",
                "output_size",
            )
        if vector:
            return Step(size, {}, None)
        return Step((rows // (k[0] * k[1]), *size), {}, None)

    def describe(self, shape: Shape) -> str:
        k, d, p, s = _sliding(self)
        size = per_dim(self.output_size, 2, "output_size")
        return window_label("fold", k, s, p, d) + f" → {label(size, every=True)}"


class SelectChannels(Layer):
    """``x[:, channels]``: the listed channels, in that order (repeats allowed; negative
    indices count from the end)."""

    type: Literal["select_channels"]
    channels: IntList

    def forward(self, shape: Shape) -> Step:
        if not shape:
            raise Refusal("select_channels needs an input with channels")
        c = shape[0]
        for i in self.channels:
            if not -c <= i < c:
                raise Refusal(
                    f"channel {i} is out of range for an input of {c} channels (from {-c} to "
                    f"{c - 1})",
                    "channels",
                )
        listed_ = ", ".join(str(i) for i in self.channels)
        note = f"channels {listed_} of the {c} taken, in that order"
        return elementwise((len(self.channels), *shape[1:]), note=note)

    def describe(self, shape: Shape) -> str:
        return f"select {len(self.channels)} of {shape[0]} channels"


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


class Identity(Layer):
    type: Literal["identity"]


class KerasNormalization(Identity):
    """Keras' Normalization, (x − mean) / √variance over the axes ``axes`` keeps (dimensions
    of the records; none: one mean over everything): the shape kept. Built without ``mean`` and
    ``variance`` (to be adapted), Keras holds them as weights that never train, one value for
    each position of the kept axes, and the count of samples seen, one value: 2·∏ sizes + 1
    untrained parameters; given them, none."""

    adapted: bool = True
    axes: tuple[int, ...] = (0,)

    def forward(self, shape: Shape) -> Step:
        if not self.adapted:
            return elementwise(shape)
        kept = tuple(shape[d] for d in self.axes) or (1,)  # Keras' scalars: one value each
        tensors = {"mean": kept, "variance": kept, "count": (1,)}
        return Step(shape, tensors, elementwise(shape).windows, untrained=tuple(tensors))
