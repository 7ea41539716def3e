"""Attention: ``nn.MultiheadAttention`` used as self-attention on a token sequence [L, E]."""

from typing import Literal

from convcalc.arith import Refusal
from convcalc.layers.base import WithParameters, listed
from convcalc.layers.fields import Flag, PositiveInt, Probability
from convcalc.records import Shape, Step, Tensors


class MultiheadAttention(WithParameters):
    """Self-attention, ``attn(x, x, x)``: a sequence [L, E] in, [L, E] out; ``embed_dim`` is
    the input's E (as a linear's in_features). Parameters: in_proj_weight 3E×E, in_proj_bias 3E,
    out_proj E×E + E (4E² + 4E with bias), and bias_k, bias_v 1×1×E with ``add_bias_kv``.

    ``kdim``/``vdim`` other than E give separate q/k/v weights (E×kdim, E×vdim) that take a key
    and a value of another width: one input cannot be all three, so they are refused here.
    """

    type: Literal["multihead_attention"]
    from_input = ("embed_dim",)
    num_heads: PositiveInt
    dropout: Probability = 0.0
    bias: Flag = True
    add_bias_kv: Flag = False
    add_zero_attn: Flag = False
    kdim: PositiveInt | None = None
    vdim: PositiveInt | None = None
    batch_first: Flag = False

    def built_sizes(self, shape: Shape) -> tuple[tuple[str, int], ...]:
        return (("embed_dim", shape[-1]),)

    def forward(self, shape: Shape) -> Step:
        if len(shape) != 2:
            raise Refusal(
                f"multihead_attention needs a sequence [length, embed_dim], not {listed(shape)}"
            )
        embed = shape[-1]
        if embed % self.num_heads:
            raise Refusal(
                f"{self.num_heads} heads do not divide embed_dim {embed} (the input's last size)",
                "num_heads",
            )
        for field in ("kdim", "vdim"):
            size = getattr(self, field)
            if size is not None and size != embed:
                raise Refusal(
                    f"{size} differs from embed_dim {embed}: the keys and values would then come "
                    "from another input, and self-attention has one (use the default, null)",
                    field,
                )
        tensors: Tensors = {"in_proj_weight": (3 * embed, embed)}
        if self.bias:
            tensors["in_proj_bias"] = (3 * embed,)
        tensors["out_proj.weight"] = (embed, embed)
        if self.bias:
            tensors["out_proj.bias"] = (embed,)
        if self.add_bias_kv:
            tensors["bias_k"] = tensors["bias_v"] = (1, 1, embed)
        heads = f"{self.num_heads} heads of {embed // self.num_heads}"
        length = shape[0]
        note = f"self-attention: each of the {length} positions mixes all {length} ({heads})"
        note += "; shape kept"
        return Step(shape, tensors, None, note=note)

    def describe(self, shape: Shape) -> str:
        return f"attention {self.num_heads} heads × {shape[-1] // self.num_heads}"
