"""Attention: ``nn.MultiheadAttention`` used as self-attention on a token sequence [L, E], and
Keras' ``MultiHeadAttention`` (its own weights, any key and value width) likewise."""

from typing import Literal

from convcalc.arith import Refusal
from convcalc.layers.base import KerasWords, WithParameters, listed
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


class KerasMultiHeadAttention(KerasWords, MultiheadAttention):
    """Keras' ``MultiHeadAttention(num_heads, key_dim, value_dim, output_shape)`` as
    self-attention, ``mha(x, x)``: [L, E] → [L, E_out] (E_out = ``output_shape``, else E).
    Weights, h heads, dk = key_dim, dv = value_dim (else dk): query and key kernels E×h×dk,
    the value kernel E×h×dv, biases h×dk, h×dk, h×dv (with ``bias``), the output kernel
    h×dv×E_out and its bias E_out: E·h·(2·dk + dv) + h·dv·E_out (+ h·(2·dk + dv) + E_out).
    With h·dk = E, dv = dk and E_out = E it is PyTorch's count, 4E² + 4E."""

    key_dim: PositiveInt
    value_dim: PositiveInt | None = None
    output_shape: PositiveInt | None = None

    def sizes(self, embed: int) -> tuple[int, int, int, int]:
        """(h, dk, dv, E_out) for an input of width ``embed``."""
        value = self.value_dim or self.key_dim
        return self.num_heads, self.key_dim, value, self.output_shape or embed

    def pytorch_like(self, embed: int) -> bool:
        """PyTorch's nn.MultiheadAttention(E, h) has the same weights: h·dk = E, dv = dk,
        E_out = E."""
        heads, key, value, out = self.sizes(embed)
        return heads * key == embed and value == key and out == embed

    def forward(self, shape: Shape) -> Step:
        if len(shape) != 2:
            raise Refusal(
                "MultiHeadAttention is read on a sequence (steps, features) only, not "
                f"{listed(shape)}"
            )
        length, embed = shape
        heads, key, value, out = self.sizes(embed)
        tensors: Tensors = {}
        for name, width in (("query", key), ("key", key), ("value", value)):
            tensors[f"{name}/kernel"] = (embed, heads, width)
            if self.bias:
                tensors[f"{name}/bias"] = (heads, width)
        tensors["attention_output/kernel"] = (heads, value, out)
        if self.bias:
            tensors["attention_output/bias"] = (out,)
        note = f"self-attention: each of the {length} positions mixes all {length} "
        note += f"({heads} heads, keys of {key}, values of {value}), {out} features out"
        return Step((length, out), tensors, None, note=note)

    def describe(self, shape: Shape) -> str:
        heads, key, _, out = self.sizes(shape[-1])
        return f"attention {heads} heads × {key} → {out}"
