"""torchinfo 1.8.0's convention (``LayerInfo.calculate_macs``), the figure most tables quote.

Per leaf, by layer type:

- a PyTorch class named ``*Conv*`` (conv, conv_transpose): each parameter tensor's size
  × batch × output positions (the *output* grid for a transposed convolution too, about
  stride² above the work it does);
- any other layer with parameters (linear, batchnorm, layernorm, prelu, embedding, ...): each
  parameter tensor's size × batch (not × the other output dimensions);
- a layer without parameters: 0 (pools, activations, and the layers that only move values:
  pixel_shuffle, pixel_unshuffle, unfold, fold, max_unpool, select_channels; a split block's
  cut and merge are no modules);
- 0 also for the types whose parameters PyTorch holds in a module with children, which
  torchinfo never counts (it sums leaf modules only): multihead_attention (its ``out_proj``
  child), and the class token, position embedding and layer scale (parameters of ViT's
  ``VisionTransformer`` and ``Encoder`` and of ConvNeXt's ``CNBlock``; as parameters they have
  no module of their own either, and their names hold neither "weight" nor "bias").
- shifted_window_attention: 0 (its forward calls ``F.linear`` with its qkv's and proj's weights:
  no leaf module runs); shifted_window_attention_v2: its position-bias MLP's Linear modules
  alone (``cpb_mlp``, 2·512 + 512 + 512·heads), run once per forward on the table of relative
  offsets: × 1, whatever the batch (torchinfo multiplies by the output's first size).
- relative_position_attention (MaxViT): its ``to_qkv`` and ``merge`` Linear modules, which
  run as modules: (3D·D + 3D + D·D + D) × batch; its relative position bias table, held by the
  attention module itself (not a leaf), is not counted.

Bias included. Every call of a layer counts (a layer run twice counts twice).

Its forward/backward pass size (``ModelStatistics.total_output_bytes``, read by
``views/memory.py``) is 2 × the output bytes of every call of a leaf module (one without
children) that has parameters: :func:`kept_values` gives, per layer type, the output values it
keeps.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from convcalc.expr import Expr, product, total
from convcalc.layers.registry import KINDS

if TYPE_CHECKING:
    from convcalc.records import Entry


REASONS: dict[str, str] = {
    "linear": "torchinfo counts a linear once per sample, not at each position it acts on",
    "multihead_attention": "torchinfo counts 0: attention is no leaf module (out_proj is its "
    "child)",
    "conv": "torchinfo adds the bias at every output position",
    "conv_transpose": "torchinfo counts a transposed conv over its output grid, not its input",
    "batchnorm": "torchinfo counts a norm's parameters once per sample",
    "groupnorm": "torchinfo counts a norm's parameters once per sample",
    "layernorm": "torchinfo counts a norm's parameters once per sample",
    "instancenorm": "torchinfo counts a norm's parameters once per sample",
    "embedding": "torchinfo counts an embedding's table once per sample",
    "prelu": "torchinfo counts prelu's weight once per sample",
}
"""Why torchinfo's count of a layer type differs from convcalc's, where it does."""


UNSEEN = frozenset({"multihead_attention", "class_token", "position_embedding", "layer_scale"})
"""Types whose parameters are no leaf module's: torchinfo counts neither their multiply-adds nor
their outputs in its forward/backward pass size."""


ONCE: dict[str, tuple[str, ...]] = {
    "shifted_window_attention": (),
    "shifted_window_attention_v2": ("cpb_mlp.0.weight", "cpb_mlp.0.bias", "cpb_mlp.2.weight"),
}
"""Types of which torchinfo counts only some tensors, once per forward whatever the batch: the
modules that run inside Swin's window attention (its v2's position-bias MLP) on no batch."""


PARTLY: dict[str, tuple[str, ...]] = {
    "relative_position_attention": ("to_qkv.weight", "to_qkv.bias", "merge.weight", "merge.bias"),
}
"""Types of which torchinfo counts only some tensors (each size × batch): those of the child
modules that run, not those the module holds itself."""


COUNTED: frozenset[str] = frozenset(
    {
        *("conv", "conv_transpose", "linear", "embedding", "prelu", "batchnorm", "groupnorm"),
        *("instancenorm", "layernorm", "layernorm2d", "patch_merging", "patch_merging_v2"),
        *("relative_position_attention",),  # in part: PARTLY
    }
)
"""The types torchinfo's parameter rule counts (each tensor's size × batch, × output positions
for a ``*Conv*`` class); :data:`ONCE` the types it counts in part."""

ZERO: frozenset[str] = UNSEEN | {
    *("maxpool", "avgpool", "max_unpool", "adaptive_avgpool", "adaptive_maxpool"),
    *("local_response_norm", "select", "select_channels", "flatten", "unflatten", "reshape"),
    *("permute", "channel_shuffle", "pixel_shuffle", "pixel_unshuffle", "unfold", "fold"),
    *("pad", "upsample", "identity", "dropout", "dropout1d", "dropout2d", "dropout3d"),
    *("window_partition", "window_departition"),
    *("stochastic_depth", "relu", "relu6", "leaky_relu", "elu", "gelu", "silu", "mish"),
    *("hardswish", "hardsigmoid", "sigmoid", "tanh", "softplus", "softmax", "log_softmax"),
    "hardtanh",
}
"""The types torchinfo counts as 0: no parameters, or none in a leaf module (:data:`UNSEEN`)."""


CHILD_OUTPUTS: dict[str, tuple[str, ...]] = {
    "shifted_window_attention": (),  # F.linear with its qkv's and proj's weights: none runs
    "shifted_window_attention_v2": (),  # the same; its cpb_mlp runs on no batch: TABLE_OUTPUTS
    "patch_merging": ("norm.weight", "reduction.weight"),  # LayerNorm(4C), then Linear → 2C
    "patch_merging_v2": ("reduction.weight", "norm.weight"),  # Linear → 2C, then LayerNorm(2C)
    "relative_position_attention": ("to_qkv.weight", "merge.weight"),  # Linear → 3D, → D
}
"""Types that PyTorch writes as modules with children, which torchinfo never sees as leaves: per
child leaf module that runs on the layer's tokens, the weight whose first size is the last size
of that child's output (its other sizes the layer's output's: its tokens)."""


TABLE_OUTPUTS: dict[str, tuple[str, ...]] = {
    "shifted_window_attention_v2": ("cpb_mlp.0.weight", "cpb_mlp.2.weight"),
}
"""Types whose child modules run once per forward on the (2·Wh − 1)·(2·Ww − 1) relative
offsets, whatever the batch (Swin v2's position-bias MLP): each child's output width, as in
:data:`CHILD_OUTPUTS`."""


def kept_values(entry: Entry) -> tuple[int, int]:
    """The output values torchinfo's forward/backward pass size keeps for one leaf, as (per
    sample, per forward): each call of a leaf module with parameters keeps its output. So
    (output values, 0) for a type with tensors; (0, 0) without, or for :data:`UNSEEN`; for
    :data:`CHILD_OUTPUTS`, tokens × Σ the children's widths (patch merging: ⌈H/2⌉·⌈W/2⌉ ·
    (4C + 2C)); for :data:`TABLE_OUTPUTS`, offsets × Σ widths once (Swin v2: (2·Wh − 1)·(2·Ww
    − 1)·(512 + heads))."""
    if entry.step is None or not entry.tensors or entry.type in UNSEEN:
        return 0, 0
    if entry.type not in CHILD_OUTPUTS:
        return math.prod(entry.output_shape), 0
    tokens = math.prod(entry.output_shape[:-1])
    per_sample = tokens * sum(entry.tensors[name][0] for name in CHILD_OUTPUTS[entry.type])
    table = TABLE_OUTPUTS.get(entry.type, ())
    offsets = entry.layer.offsets() if table else 0  # type: ignore[attr-defined]
    return per_sample, offsets * sum(entry.tensors[name][0] for name in table)


def mult_adds(entry: Entry, batch: int) -> int:
    if entry.step is None or not entry.tensors or entry.type in UNSEEN:
        return 0
    if entry.type in ONCE:
        return sum(math.prod(entry.tensors[name]) for name in ONCE[entry.type])
    if entry.type in PARTLY:
        return sum(math.prod(entry.tensors[name]) for name in PARTLY[entry.type]) * batch
    positions = batch
    if "Conv" in KINDS[entry.type].torch:
        positions *= math.prod(entry.output_shape[1:])
    return sum(math.prod(shape) for shape in entry.tensors.values()) * positions


def mult_adds_derived(entry: Entry, batch: int) -> Expr:
    """:func:`mult_adds` as the expression it computes, (Σ tensor sizes) · batch · output
    positions: ``(8·3·3·3 + 8)·13·13`` for a conv (the batch shown only when it is not 1)."""
    if entry.type in UNSEEN:
        return total([0])
    if entry.type in ONCE:
        return total([product(entry.tensors[name]) for name in ONCE[entry.type]] or [0])
    names = PARTLY.get(entry.type, tuple(entry.tensors))
    tensors = total([product(entry.tensors[name]) for name in names] or [0])
    positions = [batch] if batch != 1 else []
    if "Conv" in KINDS[entry.type].torch:
        positions.extend(entry.output_shape[1:])
    return tensors * product(positions) if positions else tensors
