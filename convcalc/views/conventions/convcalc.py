"""convcalc's own convention, the default: every multiply-add of every matrix product, which is
PyTorch's own count, ``torch.utils.flop_counter.FlopCounterMode``, divided by 2.

FlopCounterMode (``torch/utils/flop_counter.py``) prices the aten ops of one forward pass with
a formula each and counts 0 for every other op: ``mm``, ``addmm`` (its added bias not counted),
``bmm``, ``baddbmm``: 2·m·k·n per product; ``convolution``: 2 × batch × the weight's size × the
output positions (the *input* positions for a transposed convolution, the work it does); the
scaled-dot-product attention kernels: 2 × (q·kᵀ + attn·v). So, halved, a multiply and an add
each time two values are multiplied into a sum, over every position a layer acts on; nothing
for a bias add, a norm, a pool, an activation, a softmax, a reshape or a merge.

Per leaf, by layer type, B the batch:

- conv: B × weight size × output positions (dilation, groups and padding mode included by the
  weight's shape and the output grid; bias not counted);
- conv_transpose: B × weight size × *input* positions;
- linear: B × input elements × out_features (every position along the leading dimensions);
- multihead_attention on [L, E] (S = L keys, + 1 with ``add_bias_kv``, + 1 with
  ``add_zero_attn``): B × (3·L·E² in-projections + L·S·E for q·kᵀ + L·S·E for attn·v + L·E² out);
- shifted_window_attention(_v2) on [H, W, C], the grid padded to T = ⌈H/Wh⌉·Wh·⌈W/Ww⌉·Ww
  tokens in windows of N = Wh·Ww: B × (3·T·C² qkv + T·N·C + T·N·C + T·C² proj); v2 adds, once
  per forward whatever the batch, its position-bias MLP on the (2·Wh − 1)(2·Ww − 1) offsets:
  offsets × (2·512 + 512·heads);
- patch_merging(_v2): B × output tokens × 4C × 2C (its Linear);
- relative_position_attention on [G, P, D] (MaxViT), H heads of Dh = D / H: B × (4·G·P·D² for
  to_qkv and merge, + G·P²·D for q·kᵀ when Dh > 1, + G·P²·D for attn·v when P > 1): torch's
  ``einsum`` contracting a dimension of size 1 multiplies element-wise, which FlopCounterMode
  does not count;
- 0 for every other type (the explicit :data:`ZERO` rows), among them the layers that only
  move values: pixel_shuffle, pixel_unshuffle, unfold and fold (``im2col``/``col2im``),
  max_unpool, select_channels; a split block's cut and merge count 0, its branches' layers by
  their rules.

Every call of a layer counts. FlopCounterMode run on the meta device, or on a GPU, sees these
products; on the CPU, PyTorch 2.13 runs ``scaled_dot_product_attention`` (``need_weights=False``,
as torchvision's ViT calls it) through ``_scaled_dot_product_flash_attention_for_cpu`` and the
inference fast path of ``nn.MultiheadAttention`` through ``_native_multi_head_attention``, neither
of which has a formula: there it undercounts attention, which convcalc does not copy.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from convcalc.records import Entry

Rule = Callable[["Entry", int], int]

CPB_HIDDEN = 512  # ShiftedWindowAttentionV2's position-bias MLP: Linear(2, 512), Linear(512, heads)


def _positions(shape: tuple[int, ...]) -> int:
    return math.prod(shape[1:])


def _conv(entry: Entry, batch: int) -> int:
    """B × weight size (out · in/groups · ∏k) × output positions."""
    return batch * math.prod(entry.tensors["weight"]) * _positions(entry.output_shape)


def _conv_transpose(entry: Entry, batch: int) -> int:
    """B × weight size (in · out/groups · ∏k) × input positions."""
    return batch * math.prod(entry.tensors["weight"]) * _positions(entry.input_shape)


def _linear(entry: Entry, batch: int) -> int:
    """B × input elements × out_features: in · out at every leading position."""
    return batch * math.prod(entry.input_shape) * entry.output_shape[-1]


def _multihead_attention(entry: Entry, batch: int) -> int:
    """B × (4·L·E² + 2·L·S·E) on [L, E]: q, k, v and out projections, q·kᵀ and attn·v over
    S = L (+ 1 with add_bias_kv, + 1 with add_zero_attn) keys."""
    length, embed = entry.input_shape
    if "query/kernel" in entry.tensors:  # Keras' weights: _keras_attention
        return _keras_attention(entry, batch)
    keys = length + bool(getattr(entry.layer, "add_bias_kv", False))
    keys += bool(getattr(entry.layer, "add_zero_attn", False))
    return batch * (4 * length * embed * embed + 2 * length * keys * embed)


def _keras_attention(entry: Entry, batch: int) -> int:
    """Keras' MultiHeadAttention on [L, E], h heads, keys dk, values dv: B × (L × (its four
    kernels' sizes, E·h·dk twice, E·h·dv, h·dv·E_out) + L·L·h·(dk + dv)), q·kᵀ and attn·v;
    4·L·E² + 2·L²·E where h·dk = E = E_out and dv = dk, as PyTorch's."""
    length = entry.input_shape[0]
    kernels = ("query/kernel", "key/kernel", "value/kernel", "attention_output/kernel")
    projections = length * sum(math.prod(entry.tensors[name]) for name in kernels)
    _, heads, key = entry.tensors["query/kernel"]
    value = entry.tensors["value/kernel"][2]
    return batch * (projections + length * length * heads * (key + value))


def _window_tokens(entry: Entry) -> tuple[int, int, int]:
    """(T, N, C): the tokens of [H, W, C] padded to whole windows, a window's tokens, C."""
    height, width, channels = entry.input_shape
    rows, columns = entry.layer.window_size  # type: ignore[attr-defined]
    padded = -(-height // rows) * rows * -(-width // columns) * columns
    return padded, rows * columns, channels


def _window_attention(entry: Entry, batch: int) -> int:
    """B × (4·T·C² + 2·T·N·C): qkv and proj linears on the T padded tokens, q·kᵀ and attn·v
    within each window of N tokens."""
    tokens, window, channels = _window_tokens(entry)
    return batch * (4 * tokens * channels * channels + 2 * tokens * window * channels)


def _window_attention_v2(entry: Entry, batch: int) -> int:
    """:func:`_window_attention`, + offsets × (2·512 + 512·heads) once per forward: the
    position-bias MLP on the (2·Wh − 1)(2·Ww − 1) relative offsets, whatever the batch."""
    window: tuple[int, int] = entry.layer.window_size  # type: ignore[attr-defined]
    heads: int = entry.layer.num_heads  # type: ignore[attr-defined]
    rows, columns = window
    offsets = (2 * rows - 1) * (2 * columns - 1)
    return _window_attention(entry, batch) + offsets * CPB_HIDDEN * (2 + heads)


def _patch_merging(entry: Entry, batch: int) -> int:
    """B × output tokens × 4C × 2C: the Linear 4C → 2C on each merged token."""
    channels = entry.input_shape[-1]
    return batch * math.prod(entry.output_shape[:-1]) * 4 * channels * 2 * channels


def _relative_attention(entry: Entry, batch: int) -> int:
    """B × (4·G·P·D² + G·P²·D·([Dh > 1] + [P > 1])): the two Linears, and each einsum that
    contracts a dimension longer than 1 (q·kᵀ over Dh, attn·v over the P keys)."""
    groups, tokens, features = entry.input_shape
    head_dim: int = entry.layer.head_dim  # type: ignore[attr-defined]
    products = (head_dim > 1) + (tokens > 1)
    scores = groups * tokens * tokens * features
    return batch * (4 * groups * tokens * features * features + products * scores)


RULES: dict[str, Rule] = {
    "conv": _conv,
    "conv_transpose": _conv_transpose,
    "linear": _linear,
    "multihead_attention": _multihead_attention,
    "shifted_window_attention": _window_attention,
    "shifted_window_attention_v2": _window_attention_v2,
    "patch_merging": _patch_merging,
    "patch_merging_v2": _patch_merging,
    "relative_position_attention": _relative_attention,
}
"""The layer types with matrix products."""

ZERO: frozenset[str] = frozenset(
    {
        *("maxpool", "avgpool", "adaptive_avgpool", "adaptive_maxpool"),
        *("batchnorm", "groupnorm", "instancenorm", "layernorm", "layernorm2d"),
        *("local_response_norm", "embedding", "class_token", "position_embedding"),
        *("select", "layer_scale", "flatten", "unflatten", "reshape", "permute"),
        *("channel_shuffle", "pad", "upsample", "identity", "max_unpool", "pixel_shuffle"),
        *("pixel_unshuffle", "unfold", "fold", "select_channels"),
        *("window_partition", "window_departition"),
        *("dropout", "dropout1d", "dropout2d", "dropout3d", "stochastic_depth"),
        *("relu", "relu6", "prelu", "leaky_relu", "elu", "gelu", "silu", "mish"),
        *("hardswish", "hardsigmoid", "sigmoid", "tanh", "softplus", "softmax", "log_softmax"),
        "hardtanh",
    }
)
"""The layer types without a matrix product: 0 (an element-wise op, a gather, a copy)."""

NOTES: tuple[str, ...] = (
    "every multiply-add of a matrix product, at every position: PyTorch's FlopCounterMode ÷ 2",
    "conv: weight × output positions; conv_transpose: weight × input positions; no bias adds",
    "linear: in × out at every leading position (a token sequence's every token)",
    "attention: the q/k/v/out projections and q·kᵀ, attn·v per head (windowed: per window)",
    "0 for norms, pools, activations, softmax, embeddings, reshapes and block merges",
)


def mult_adds(entry: Entry, batch: int) -> int:
    """convcalc's count for a leaf: its type's rule, 0 for a type without a matrix product."""
    if entry.step is None:
        return 0
    rule = RULES.get(entry.type)
    return rule(entry, batch) if rule is not None else 0
