"""Swin Transformer's layers (torchvision.models.swin_transformer), channels-last on [H, W, C].

``shifted_window_attention`` (and ``_v2``): self-attention inside non-overlapping windows of
``window_size`` tokens, the grid first padded on the bottom and right to whole windows and
cyclically shifted by ``shift_size``; the shape is kept. ``patch_merging`` (and ``_v2``): every
2×2 block of tokens concatenated (odd sizes padded by one), then a LayerNorm and a Linear
4C → 2C: [H, W, C] → [⌈H/2⌉, ⌈W/2⌉, 2C]. torchvision writes these as modules whose forward
calls its children's tensors through functions (``F.linear(x, self.qkv.weight, ...)``), or
rearranges the input between them, so none can be composed of convcalc's other layers.
"""

import math
from typing import Annotated, Literal

from pydantic import PlainValidator, WithJsonSchema

from convcalc.arith import Refusal, ceil_half, scaled
from convcalc.layers.base import WithParameters, listed
from convcalc.layers.fields import Flag, PositiveInt, Probability, int_list
from convcalc.records import Applied, Shape, Step, Tensors

# a list of integers ≥ 1 (window_size) or of any integers (shift_size); torchvision indexes
# both as lists, and its constructor checks that each has 2 entries
Sizes = Annotated[
    tuple[int, ...],
    PlainValidator(int_list(1)),
    WithJsonSchema({"type": "array", "items": {"type": "integer", "minimum": 1}}),
]
Shifts = Annotated[
    tuple[int, ...],
    PlainValidator(int_list(None)),
    WithJsonSchema({"type": "array", "items": {"type": "integer"}}),
]

CPB_HIDDEN = 512  # the hidden width of ShiftedWindowAttentionV2's continuous position bias MLP


def _channels_last(shape: Shape, kind: str) -> tuple[int, int, int]:
    """(H, W, C) of an input [H, W, C]: torchvision unpacks ``B, H, W, C = input.shape``."""
    if len(shape) != 3:
        raise Refusal(
            f"{kind} needs a channels-last input [H, W, C] (a permute after the patch "
            f"embedding gives it), not {listed(shape)}"
        )
    return shape[0], shape[1], shape[2]


class ShiftedWindowAttention(WithParameters):
    """torchvision's ``ShiftedWindowAttention(dim, window_size, shift_size, num_heads)``, dim
    the input's last size C. Parameters: qkv Linear C → 3C, proj Linear C → C and the
    relative position bias table, (2·Wh − 1)·(2·Ww − 1) × heads."""

    type: Literal["shifted_window_attention"]
    from_input = ("dim",)
    window_size: Sizes
    shift_size: Shifts
    num_heads: PositiveInt
    qkv_bias: Flag = True
    proj_bias: Flag = True
    attention_dropout: Probability = 0.0
    dropout: Probability = 0.0

    def built_sizes(self, shape: Shape) -> tuple[tuple[str, int], ...]:
        return (("dim", shape[-1]),)

    def forward(self, shape: Shape) -> Step:
        for field in ("window_size", "shift_size"):
            if len(getattr(self, field)) != 2:
                raise Refusal(
                    f"must give 2 values (height, width), not {len(getattr(self, field))}",
                    field,
                )
        _, _, channels = _channels_last(shape, self.type)
        if channels % self.num_heads:
            raise Refusal(
                f"num_heads {self.num_heads} does not divide the {channels} channels "
                "(each head takes C / num_heads of them)",
                "num_heads",
            )
        return Step(shape, self.tensors(channels), None, note=self.what(shape))

    def what(self, shape: Shape) -> str:
        """In words: windows of Wh×Ww tokens over the grid padded to whole windows, rolled by
        the shift unless one window spans that side (torchvision then sets it to 0)."""
        (height, width), tokens = self.window_size, self.windows(shape)[1]
        padded = (-(-shape[0] // height) * height, -(-shape[1] // width) * width)
        count = (padded[0] // height) * (padded[1] // width)
        sides = zip(self.window_size, padded, self.shift_size, strict=True)
        shift = [0 if w >= p else s for w, p, s in sides]
        parts = [f"attention inside {count} window{'s' if count != 1 else ''} of {height}×{width}"]
        if padded != shape[:2]:
            parts.append(f"the grid padded to {padded[0]}×{padded[1]} first, cut back after")
        if any(shift):
            parts.append(f"the grid rolled by {shift[0]}×{shift[1]} first, rolled back after")
        # a shifted window holds pieces from apart, masked from each other: at most all of it
        most = "at most " if any(shift) else ""
        parts.append(f"each token mixes {most}the {tokens} tokens of its window; shape kept")
        return ", ".join(parts[:-1]) + ": " + parts[-1]

    def tensors(self, channels: int) -> Tensors:
        """qkv: 3C × C (+ 3C), proj: C × C (+ C), and the position bias's own tensors."""
        found: Tensors = {"qkv.weight": (3 * channels, channels)}
        if self.qkv_bias:
            found["qkv.bias"] = (3 * channels,)
        found["proj.weight"] = (channels, channels)
        if self.proj_bias:
            found["proj.bias"] = (channels,)
        return found | self.bias_tensors()

    def bias_tensors(self) -> Tensors:
        """The relative position bias table: one row per relative offset, (2·Wh − 1)·(2·Ww −
        1), one column per head."""
        return {"relative_position_bias_table": (self.offsets(), self.num_heads)}

    def offsets(self) -> int:
        """How many relative offsets two tokens of a window can have: (2·Wh − 1)·(2·Ww − 1)."""
        height, width = self.window_size
        return (2 * height - 1) * (2 * width - 1)

    def windows(self, shape: Shape) -> tuple[int, int]:
        """(T, N): the tokens of the grid padded to whole windows, ⌈H/Wh⌉·Wh · ⌈W/Ww⌉·Ww, and
        the tokens of one window, Wh·Ww."""
        height, width = self.window_size
        rows, columns = -(-shape[0] // height), -(-shape[1] // width)
        return rows * height * columns * width, height * width

    def describe(self, shape: Shape) -> str:
        height, width = self.window_size
        shift = "×".join(str(s) for s in self.shift_size)
        return f"window attention {height}×{width} shift {shift}, {self.num_heads} heads"


class ShiftedWindowAttentionV2(ShiftedWindowAttention):
    """torchvision's ``ShiftedWindowAttentionV2``: cosine attention scaled by ``logit_scale``
    (heads × 1 × 1), and a position bias computed by a small MLP (Linear 2 → 512 with bias,
    ReLU, Linear 512 → heads without) from the (2·Wh − 1)·(2·Ww − 1) relative offsets instead
    of a table. The qkv bias keeps its 3C entries, the keys' third held at zero."""

    type: Literal["shifted_window_attention_v2"]  # type: ignore[assignment]

    def bias_tensors(self) -> Tensors:
        return {
            "logit_scale": (self.num_heads, 1, 1),
            "cpb_mlp.0.weight": (CPB_HIDDEN, 2),
            "cpb_mlp.0.bias": (CPB_HIDDEN,),
            "cpb_mlp.2.weight": (self.num_heads, CPB_HIDDEN),
        }

    def describe(self, shape: Shape) -> str:
        return super().describe(shape).replace("window attention", "window attention v2")


class PatchMerging(WithParameters):
    """torchvision's ``PatchMerging(dim)``, dim the input's last size C: the 2×2 neighbours
    side by side (4C; an odd H or W padded by one row or column of zeros), LayerNorm(4C),
    Linear 4C → 2C without bias. [..., H, W, C] → [..., ⌈H/2⌉, ⌈W/2⌉, 2C]."""

    type: Literal["patch_merging"]
    from_input = ("dim",)

    def built_sizes(self, shape: Shape) -> tuple[tuple[str, int], ...]:
        return (("dim", shape[-1]),)

    def forward(self, shape: Shape) -> Step:
        if len(shape) < 3:
            raise Refusal(
                f"{self.type} needs an input [..., H, W, C] (batch excluded), not "
                f"{listed(shape)}: on fewer dimensions torchvision would merge the batch"
            )
        *lead, height, width, channels = shape
        rules = (
            Applied(ceil_half, (height,), "H"),
            Applied(ceil_half, (width,), "W"),
            Applied(scaled, (channels, 2), "C"),
        )
        out = (*lead, *(applied.rule(*applied.args) for applied in rules))
        steps = ("LayerNorm", "a linear 4·C → 2·C")
        order = steps if self.norm_width(1) == 4 else steps[::-1]
        note = f"each 2×2 block of tokens side by side (4·C channels), then {' and '.join(order)}"
        return Step(out, self.tensors(channels), None, rules, note)

    def norm_width(self, channels: int) -> int:
        """The LayerNorm's size: 4C, before the reduction."""
        return 4 * channels

    def tensors(self, channels: int) -> Tensors:
        width = self.norm_width(channels)
        return {
            "reduction.weight": (2 * channels, 4 * channels),
            "norm.weight": (width,),
            "norm.bias": (width,),
        }

    def tokens(self, shape: Shape) -> int:
        """The output tokens, every dimension but the last: ⌈H/2⌉·⌈W/2⌉ (× any leading)."""
        return math.prod(shape[:-1])

    def describe(self, shape: Shape) -> str:
        return f"patch merging {shape[-1]} → {2 * shape[-1]}"


class PatchMergingV2(PatchMerging):
    """torchvision's ``PatchMergingV2``: the Linear 4C → 2C first, then LayerNorm(2C)."""

    type: Literal["patch_merging_v2"]  # type: ignore[assignment]

    def norm_width(self, channels: int) -> int:
        """The LayerNorm's size: 2C, after the reduction."""
        return 2 * channels

    def describe(self, shape: Shape) -> str:
        return f"patch merging v2 {shape[-1]} → {2 * shape[-1]}"
