"""fvcore 0.1.5's convention (``fvcore.nn.FlopCountAnalysis(model, inputs).total()``).

fvcore traces the model with ``torch.jit`` and prices each traced aten op with a handle
(``fvcore/nn/flop_count.py``, ``_DEFAULT_SUPPORTED_OPS``; the handles in ``jit_handles.py``).
One "flop" is one fused multiply-add. An op without a handle counts 0: silently for the ops in
``jit_analysis._IGNORED_OPS`` (relu, dropout, flatten, cat, ...), with an "unsupported
operator" warning for the rest (max_pool2d, avg_pool2d, hardtanh, silu, sigmoid, add, mul, ...).
Being a tracer it sees functional calls (``F.adaptive_avg_pool2d``) as well as modules, and
the ``+``, ``cat`` and ``*`` at a block's merge, which all count 0. The model is taken in
``eval()`` mode, as fvcore's published figures are (batch statistics change batchnorm's rule).

Per leaf, by layer type, B the batch:

- conv (``aten::_convolution``): B × weight size × output positions; bias not counted.
  With ``padding='same'`` or ``'valid'`` and ``padding_mode='zeros'`` torch traces
  ``aten::_convolution_mode`` instead, which has no handle: 0. (Other padding modes pad with
  ``F.pad`` first and trace ``aten::_convolution``: counted.)
- conv_transpose (``aten::_convolution``, transposed): B × weight size × *input* positions.
- linear (``aten::linear``): B × input size × out_features (every leading dimension); no bias.
- batchnorm (``aten::batch_norm``): B × elements × 2 (1 without ``affine``) with running
  statistics; where torch uses batch statistics even in eval (``track_running_stats: false``),
  fvcore's training rule: × 5 (4 without ``affine``).
- groupnorm, layernorm, instancenorm (``aten::group_norm`` / ``layer_norm`` /
  ``instance_norm``): B × elements × 5 with a weight (``affine`` / ``elementwise_affine``),
  × 4 without. fvcore asserts the batched input has 2 to 5 dimensions: it fails on more.
- upsample, 2 spatial dimensions only: ``nearest`` (``aten::upsample_nearest2d``) B × output
  elements; ``bilinear`` (``aten::upsample_bilinear2d``) B × output elements × 4. Any other
  mode or rank (nearest 1-D/3-D, linear, bicubic, trilinear, nearest-exact): 0.
- adaptive_avgpool, 2 spatial dimensions only (``aten::adaptive_avg_pool2d``): B × *input*
  elements. 1-D and 3-D: 0.
- layernorm2d (torchvision's, ``F.layer_norm`` between two permutes): as layernorm.
- multihead_attention on [L, E] (``F.multi_head_attention_forward``, ``need_weights=False`` as
  torchvision calls it, run with gradients on as fvcore traces): its in-projection and
  out-projection ``aten::linear`` ops, B × L × 4·E²; no bias; the attention itself is
  ``aten::scaled_dot_product_attention``, which has no handle: 0.
- shifted_window_attention(_v2) on [H, W, C], its grid padded to T = ⌈H/Wh⌉·Wh·⌈W/Ww⌉·Ww
  tokens in windows of N = Wh·Ww: B × (4·T·C² for the qkv and proj ``aten::linear``, no bias
  + 2·T·N·C for q·kᵀ and attn·v, ``aten::matmul``; v2 writes q·kᵀ with ``@``, the same op);
  v2 adds, once per forward whatever the batch, its position-bias MLP's ``aten::linear`` on
  the (2·Wh − 1)(2·Ww − 1) offsets: offsets × 512 × (2 + heads).
- patch_merging(_v2): B × output tokens × (5 × the norm's width, 4C (v2: 2C), for its
  ``aten::layer_norm`` + 4C × 2C for its ``aten::linear``).
- relative_position_attention on [G, P, D] (MaxViT), H heads of Dh = D / H: B × 4·G·P·D² for
  its to_qkv and merge ``aten::linear`` (no bias), + its two ``aten::einsum`` (q·kᵀ, attn·v),
  which fvcore prices through ``numpy.einsum_path``: each ⌊c / 2⌋ with c the 2·B·G·H·P²·Dh
  numpy prints, rounded to 4 significant digits (``%.3e``) before fvcore reads it back; the
  rounding makes this one rule not linear in the batch.
- everything else: 0 (max/avg pooling, adaptive max pooling, every activation, softmax,
  dropout, stochastic depth, pad, flatten, reshape, local_response_norm, prelu, embedding, ...),
  and the layers that only move values: pixel_shuffle, pixel_unshuffle (``aten::pixel_shuffle``
  and ``pixel_unshuffle``), unfold, fold (``aten::im2col``, ``col2im``), select_channels
  (``aten::index``), max_unpool (``aten::max_unpool2d``; without ``output_size`` the trace fails
  under torch 2.13, see :data:`ZERO`). A split block's cut (``aten::split_with_sizes``,
  ``chunk``) and its ``cat`` count 0; its branches' layers count by their rules.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING

from convcalc.errors import ConvcalcError
from convcalc.layers.windowed import CPB_HIDDEN

if TYPE_CHECKING:
    from convcalc.records import Entry

Rule = Callable[["Entry"], int]  # one sample's count, times the batch but for BATCHED rows

NOTES: tuple[str, ...] = (
    "conv: weight × output positions, no bias term; torchinfo adds the bias at every position",
    "conv with padding 'same'/'valid' (zeros mode): 0, fvcore has no handle for the "
    "aten::_convolution_mode torch traces there; torchinfo counts it like any conv",
    "conv_transpose: weight × input positions (the work done); torchinfo × output positions",
    "linear: input size × out_features, over every leading dimension, no bias; torchinfo "
    "counts weight + bias once per sample",
    "batchnorm: 2 per element (1 without affine; 5/4 with batch statistics); torchinfo counts "
    "its 2·C parameters once per sample",
    "groupnorm, layernorm, instancenorm: 5 per element with a weight, 4 without; torchinfo "
    "counts the parameters once per sample, and 0 without affine",
    "upsample: 1 per output element (nearest 2-D), 4 (bilinear 2-D), else 0; torchinfo 0",
    "adaptive_avgpool: 1 per input element in 2-D (functional calls too, as it traces); "
    "torchinfo 0",
    "prelu, embedding: 0, no handle for their aten ops; torchinfo counts their parameters",
    "multihead_attention: its two projections' aten::linear, 4·L·E² per sample, no bias; the"
    " attention (scaled_dot_product_attention) 0; torchinfo 0 (no leaf module)",
)


def _elements(entry: Entry) -> int:
    return math.prod(entry.output_shape)


def _conv(entry: Entry) -> int:
    layer = entry.layer
    string_padding = getattr(layer, "padding", 0) in ("same", "valid")
    if string_padding and getattr(layer, "padding_mode", "zeros") == "zeros":
        return 0  # aten::_convolution_mode: no handle
    return math.prod(entry.tensors["weight"]) * math.prod(entry.output_shape[1:])


def _conv_transpose(entry: Entry) -> int:
    return math.prod(entry.tensors["weight"]) * math.prod(entry.input_shape[1:])


def _linear(entry: Entry) -> int:
    return math.prod(entry.input_shape) * entry.output_shape[-1]


def _batchnorm(entry: Entry) -> int:
    affine = bool(getattr(entry.layer, "affine", True))
    if getattr(entry.layer, "track_running_stats", True):
        return _elements(entry) * (2 if affine else 1)
    return _norm(entry)  # batch statistics in eval too: aten::batch_norm with training=True


def _norm(entry: Entry) -> int:
    if len(entry.input_shape) > 4:
        raise ConvcalcError(
            f"fvcore 0.1.5 fails on {entry.path} ({entry.type} on "
            f"{len(entry.input_shape) + 1} dimensions with the batch): its norm handler "
            "asserts 2 to 5"
        )
    affine = entry.tensors.get("weight") is not None
    return _elements(entry) * (5 if affine else 4)


def _attention(entry: Entry) -> int:
    """In- and out-projections: L × E × (3E + E)."""
    return math.prod(entry.input_shape) * 4 * entry.input_shape[-1]


def _upsample(entry: Entry) -> int:
    if len(entry.output_shape) != 3:
        return 0  # only aten::upsample_nearest2d and upsample_bilinear2d have handles
    per_element = {"nearest": 1, "bilinear": 4}.get(str(getattr(entry.layer, "mode", "")), 0)
    return _elements(entry) * per_element


def _adaptive_avgpool(entry: Entry) -> int:
    # aten::adaptive_avg_pool2d only; 1-D and 3-D have no handle
    return math.prod(entry.input_shape) if len(entry.input_shape) == 3 else 0


def _window_attention(entry: Entry) -> int:
    """qkv and proj on the T padded tokens, 4·T·C²; q·kᵀ and attn·v in windows of N, 2·T·N·C."""
    grid: tuple[int, int] = entry.layer.windows(entry.input_shape)  # type: ignore[attr-defined]
    tokens, window = grid
    channels = entry.input_shape[-1]
    return 4 * tokens * channels * channels + 2 * tokens * window * channels


def _position_mlp(entry: Entry) -> int:
    """Swin v2's cpb_mlp, Linear(2, 512) and Linear(512, heads), on every relative offset."""
    heads: int = entry.layer.num_heads  # type: ignore[attr-defined]
    return entry.layer.offsets() * CPB_HIDDEN * (2 + heads)  # type: ignore[attr-defined,no-any-return]


def _patch_merging(entry: Entry) -> int:
    """Output tokens × (5 × norm width + 4C × 2C): the LayerNorm and the Linear 4C → 2C."""
    channels = entry.input_shape[-1]
    width: int = entry.layer.norm_width(channels)  # type: ignore[attr-defined]
    return math.prod(entry.output_shape[:-1]) * (5 * width + 8 * channels * channels)


RULES: dict[str, Rule] = {
    "conv": _conv,
    "conv_transpose": _conv_transpose,
    "linear": _linear,
    "batchnorm": _batchnorm,
    "groupnorm": _norm,
    "layernorm": _norm,
    "layernorm2d": _norm,
    "instancenorm": _norm,
    "multihead_attention": _attention,
    "upsample": _upsample,
    "adaptive_avgpool": _adaptive_avgpool,
    "shifted_window_attention": _window_attention,
    "shifted_window_attention_v2": _window_attention,
    "patch_merging": _patch_merging,
    "patch_merging_v2": _patch_merging,
}
"""The layer types fvcore counts; any other counts 0."""

ONCE: dict[str, Rule] = {"shifted_window_attention_v2": _position_mlp}
"""What fvcore counts once per forward, whatever the batch, besides :data:`RULES`."""


def _einsum(flops: int) -> int:
    """fvcore's price of one einsum numpy says costs ``flops``: ⌊float('%.3e' % flops) / 2⌋."""
    return math.floor(float(f"{flops:.3e}") / 2)


def _relative_attention(entry: Entry, batch: int) -> int:
    """B × 4·G·P·D² (to_qkv and merge) + 2 einsums of 2·B·G·P²·D numpy flops each."""
    groups, tokens, features = entry.input_shape
    linears = batch * 4 * groups * tokens * features * features
    return linears + 2 * _einsum(2 * batch * groups * tokens * tokens * features)


BATCHED: dict[str, Callable[[Entry, int], int]] = {
    "relative_position_attention": _relative_attention
}
"""The types whose count is not the batch times one sample's (their rule takes the batch)."""


ZERO: frozenset[str] = frozenset(
    {
        *("flatten", "unflatten", "reshape", "permute", "select", "select_channels"),
        *("channel_shuffle", "pixel_shuffle", "pixel_unshuffle", "identity", "pad"),
        *("dropout", "dropout1d", "dropout2d", "dropout3d", "stochastic_depth"),
        *("maxpool", "avgpool", "adaptive_maxpool", "local_response_norm", "prelu"),
        *("embedding", "class_token", "position_embedding", "layer_scale", "unfold", "fold"),
        *("max_unpool", "window_partition", "window_departition"),
        *("relu", "relu6", "leaky_relu", "elu", "gelu", "silu", "mish", "hardswish"),
        *("hardsigmoid", "sigmoid", "tanh", "softplus", "softmax", "log_softmax"),
        "hardtanh",
    }
)
"""The layer types fvcore counts as 0: no handle for their ops, or ignored ops. (max_unpool:
``aten::max_unpool{1,2,3}d`` has no handle, but under torch 2.13 fvcore's trace fails before,
in ``F.max_unpool``'s output-size check, which receives traced tensors.)"""


REASONS: dict[str, str] = {
    "conv": "fvcore counts 0 for a conv with padding 'same' or 'valid' (no handle)",
    "batchnorm": "fvcore counts 2 per element for a batchnorm (5 with batch statistics)",
    "groupnorm": "fvcore counts 5 per element for a norm (4 without affine)",
    "layernorm": "fvcore counts 5 per element for a norm (4 without affine)",
    "instancenorm": "fvcore counts 5 per element for a norm (4 without affine)",
    "upsample": "fvcore counts 1 per output element (nearest), 4 (bilinear)",
    "adaptive_avgpool": "fvcore counts 1 per input element of a 2-D adaptive average pool",
    "multihead_attention": "fvcore counts the projections only: scaled_dot_product_attention "
    "has no handle",
}
"""Why fvcore's count of a layer type differs from convcalc's, where it does."""


def mult_adds(entry: Entry, batch: int) -> int:
    if entry.step is None:
        return 0
    if entry.type in BATCHED:
        return BATCHED[entry.type](entry, batch)
    count, once = RULES.get(entry.type), ONCE.get(entry.type)
    return (batch * count(entry) if count is not None else 0) + (once(entry) if once else 0)
