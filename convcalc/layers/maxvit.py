"""MaxViT's layers (torchvision.models.maxvit): the partition reshapes and the attention
between them.

``window_partition`` (torchvision's ``WindowPartition``, called with ``p``) cuts [C, H, W] into
p×p windows and lists each window's tokens: [(H/p)·(W/p), p², C]. ``window_departition``
(``WindowDepartition``, called with ``p``, ``h_partitions``, ``w_partitions``) puts them back:
[G, p², C] → [C, h_partitions·p, w_partitions·p]. MaxViT's grid attention is the same
partition with p = H / partition_size, then its two middle axes swapped (a ``permute``).
``relative_position_attention`` (``RelativePositionalMultiHeadAttention(feat_dim, head_dim,
max_seq_len)``) is self-attention inside each of the G groups of [G, P, D] with a learned
bias per relative offset. torchvision passes the partition sizes at call time, and the
attention's forward reshapes its q, k, v itself, so none of these is made of convcalc's
other layers.
"""

import math
from typing import Literal

from convcalc.arith import Refusal
from convcalc.layers.base import Layer, WithParameters, listed
from convcalc.layers.fields import PositiveInt
from convcalc.records import Layout, Shape, Step, Tensors


def _rank(shape: Shape, kind: str, layout: str) -> None:
    """torchvision unpacks exactly four sizes (the batch one of them): refuse any other rank."""
    if len(shape) != 3:
        raise Refusal(f"{kind} needs an input {layout} (batch excluded), not {listed(shape)}")


class WindowPartition(Layer):
    """torchvision's ``WindowPartition()(x, p)``: [C, H, W] → [(H/p)·(W/p), p·p, C], by
    ``x.reshape(B, C, H // p, p, W // p, p)``, which needs p to divide H and W."""

    type: Literal["window_partition"]
    p: PositiveInt

    def forward(self, shape: Shape) -> Step:
        _rank(shape, self.type, "[C, H, W]")
        channels, height, width = shape
        for name, size in (("height", height), ("width", width)):
            if size % self.p:
                raise Refusal(
                    f"p {self.p} does not divide the {name} {size} (torchvision's reshape into "
                    "p×p windows fails)",
                    "p",
                )
        windows = (height // self.p) * (width // self.p)
        note = f"the {height}×{width} grid cut into {windows} windows of {self.p}×{self.p} tokens"
        return Step((windows, self.p * self.p, channels), {}, None, note=note)

    def layout(self, shape: Shape) -> Layout:
        """[C, H, W] → [(H/p)·(W/p), p², C]: H and W each divided by p (which must divide
        them), multiplied; p² set; C moved last."""
        _rank(shape, self.type, "[C, H, W]")
        p = self.p
        return Layout(((1, 2), (), (0,)), (None, p * p, None), (1, p, p))

    def describe(self, shape: Shape) -> str:
        return f"window partition {self.p}×{self.p}"


class WindowDepartition(Layer):
    """torchvision's ``WindowDepartition()(x, p, h_partitions, w_partitions)``: [G, PP, C] →
    [C, h_partitions·p, w_partitions·p], by ``x.reshape(B, HP, WP, p, p, C)``, which needs
    G·PP = HP·WP·p² (torch's reshape checks the count alone)."""

    type: Literal["window_departition"]
    p: PositiveInt
    h_partitions: PositiveInt
    w_partitions: PositiveInt

    def forward(self, shape: Shape) -> Step:
        _rank(shape, self.type, "[G, P·P, C]")
        groups, tokens, channels = shape
        held = self.h_partitions * self.w_partitions * self.p * self.p
        if groups * tokens != held:
            raise Refusal(
                f"the input's {groups}·{tokens} tokens cannot be {self.h_partitions}·"
                f"{self.w_partitions} windows of {self.p}×{self.p} ({held} tokens)",
                "h_partitions",
            )
        out = (channels, self.h_partitions * self.p, self.w_partitions * self.p)
        note = f"the {groups} windows of {tokens} tokens put back as one {out[1]}×{out[2]} grid"
        return Step(out, {}, None, note=note)

    def layout(self, shape: Shape) -> Layout:
        """[G, P, C] → [C, h_partitions·p, w_partitions·p], holding the input's G·P·C values."""
        _rank(shape, self.type, "[G, P·P, C]")
        sizes = (None, self.h_partitions * self.p, self.w_partitions * self.p)
        return Layout(((2,), (), ()), sizes, same_count=True)

    def describe(self, shape: Shape) -> str:
        return f"window departition {self.h_partitions}×{self.w_partitions} of {self.p}×{self.p}"


class RelativePositionAttention(WithParameters):
    """torchvision's ``RelativePositionalMultiHeadAttention(feat_dim, head_dim, max_seq_len)``
    on [G, P, D], feat_dim the input's D: H = D / head_dim heads attend within each group of
    P tokens. Parameters: to_qkv Linear D → 3D, merge Linear D → D (both with bias), and the
    relative position bias table, (2s − 1)² × H with s = ⌊√max_seq_len⌋."""

    type: Literal["relative_position_attention"]
    from_input = ("feat_dim",)
    head_dim: PositiveInt
    max_seq_len: PositiveInt

    def built_sizes(self, shape: Shape) -> tuple[tuple[str, int], ...]:
        return (("feat_dim", shape[-1]),)

    def side(self) -> int:
        """s = int(math.sqrt(max_seq_len)), as torchvision computes the table's side."""
        return int(math.sqrt(self.max_seq_len))

    def forward(self, shape: Shape) -> Step:
        _rank(shape, self.type, "[G, P, D]")
        _, tokens, features = shape
        if features % self.head_dim:
            raise Refusal(
                f"head_dim {self.head_dim} does not divide feat_dim {features} (the input's "
                "last size)",
                "head_dim",
            )
        heads, length, side = features // self.head_dim, self.max_seq_len, self.side()
        # the bias: table[index] (s⁴ × H values) viewed as (S, S, -1), added to the scores
        # (H, P, P): S² must divide s⁴·H, and the heads it gives be H or 1
        if (side**4 * heads) % (length * length) or side**4 * heads not in (
            length * length * heads,
            length * length,
        ):
            raise Refusal(
                f"max_seq_len {length} is not a square: torchvision's {side**4}-entry "
                f"relative_position_index cannot be viewed as its {length}×{length} position "
                f"bias for {heads} head{'s' if heads != 1 else ''}",
                "max_seq_len",
            )
        if tokens != length and length != 1:
            raise Refusal(
                f"the input has {tokens} tokens a group, but max_seq_len is {length}: the "
                f"{length}×{length} position bias is added to the {tokens}×{tokens} scores",
                "max_seq_len",
            )
        note = (
            f"attention inside each of the {shape[0]} groups: each of its {tokens} tokens mixes "
            f"all {tokens} ({heads} heads of {self.head_dim}, a learned bias per relative "
            "position); shape kept"
        )
        return Step(shape, self.tensors(features, heads), None, note=note)

    def tensors(self, features: int, heads: int) -> Tensors:
        """to_qkv: 3D × D + 3D, merge: D × D + D, the table: (2s − 1)² × H."""
        rows = (2 * self.side() - 1) ** 2
        return {
            "to_qkv.weight": (3 * features, features),
            "to_qkv.bias": (3 * features,),
            "merge.weight": (features, features),
            "merge.bias": (features,),
            "relative_position_bias_table": (rows, heads),
        }

    def describe(self, shape: Shape) -> str:
        heads = shape[-1] // self.head_dim
        return f"relative attention {heads} heads × {self.head_dim}, {self.max_seq_len} tokens"
