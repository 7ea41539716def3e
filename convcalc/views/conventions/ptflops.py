"""ptflops 0.7.5's convention with ``backend="pytorch"`` and its default arguments
(``get_model_complexity_info``: ``pytorch_engine.py``, the rules in ``pytorch_ops.py``).

ptflops adds two kinds of count. A forward hook on every module whose *exact* class is in
``MODULES_MAPPING``; and, because ``backend_specific_config={"count_functional": True}`` is the
default, wrappers around some ``torch.nn.functional`` functions (``F.relu``, ``F.prelu``,
``F.elu``, ``F.relu6``, ``F.gelu``, ``F.silu``, ``F.softmax``, ``F.max_pool{1,2,3}d``,
``F.avg_pool{1,2,3}d``, ``F.adaptive_max_pool{1,2,3}d``, ``F.adaptive_avg_pool{1,2,3}d``,
``F.interpolate``, ``F.upsample``; not ``F.linear``) and tensor ops (``torch.add``,
``Tensor.add``, ``torch.mul``, ``Tensor.mul``, matmul, mm, bmm, addmm, baddbmm). A module
whose ``forward`` calls a wrapped function is counted by both: ``nn.ReLU`` (``F.relu``),
``nn.ELU``, ``nn.PReLU``, ``nn.GELU``, every pooling module, ``nn.Upsample``
(``F.interpolate``).

Per leaf, written as its module (as the spec type names it), per sample, × batch:

- conv: weight size × output positions, + output elements with a bias (the weight's own
  kernel: dilation does not count);
- conv_transpose: weight size × *input* positions (the work it does), + output elements with
  a bias;
- linear: (in_features × out_features, + out_features with a bias) × every leading dimension;
- batchnorm, groupnorm, instancenorm: input elements, × 2 with ``affine``; layernorm: input
  elements (ptflops asks for ``affine``, which LayerNorm does not have);
- relu, elu, prelu, gelu: 2 × elements (hook + wrapped function); relu6 (``F.hardtanh``
  inside), leaky_relu: 1 × (hook only); silu, softmax: 1 × (wrapped function only, no hook);
- maxpool, avgpool, adaptive_maxpool, adaptive_avgpool: 2 × *input* elements;
- upsample: output elements (hook) + ``F.interpolate``'s count: with ``size``, output
  elements again; with a scalar factor s, input elements × sⁿ (a float: ptflops truncates only
  its total, so a fractional count is exact here only up to that truncation); with one factor
  per dimension, input elements × ∏ int(sᵢ) (numpy casts each factor to int64);
- local_response_norm (no hook, but ``F.local_response_norm`` calls the wrapped ``Tensor.mul``
  twice, ``Tensor.add`` once and ``F.avg_pool2d``/``3d`` over the channel-padded squares):
  3 × elements + (channels + size − 1) × spatial positions;
- multihead_attention on [L, E] with h heads (``multihead_attention_counter_hook``, which
  reads the positional query, key and value): L·E (scaling q) + 3·L·E² (projections)
  + 3·L·E with a bias + h·(2·L²·E/h + L²) (q·kᵀ, softmax, attn·v) + L·E·(E + 1) (the output
  projection, its bias always counted); ``add_bias_kv`` and ``add_zero_attn`` change nothing;
- shifted_window_attention on [H, W, C], its grid padded to T = ⌈H/Wh⌉·Wh·⌈W/Ww⌉·Ww tokens
  in windows of N = Wh·Ww, h heads: no hook (torchvision's class is not mapped, and its forward
  calls ``F.linear``, not wrapped, with its Linears' weights); the wrapped ``Tensor.matmul``
  of q·kᵀ and attn·v, 2·T·N·C, and ``F.softmax`` over the scores, h·T·N; v2 writes q·kᵀ with
  ``@`` (not wrapped): T·N·C + h·T·N, and, once per forward whatever the batch, its
  position-bias MLP's modules on the (2·Wh − 1)(2·Ww − 1) offsets: Linear(2, 512) 3·512, its
  ReLU 2·512 (hook + ``F.relu``), Linear(512, h) 512·h: offsets × 512 × (5 + h);
- patch_merging(_v2): its LayerNorm's input elements, output tokens × 4C (v2: 2C), + its Linear
  4C → 2C without bias, output tokens × 8C²;
- relative_position_attention on [G, P, D] (MaxViT), H heads: its to_qkv and merge Linear
  modules' hooks, G·P·(4D² + 4D) (biases included), and ``F.softmax`` over the G·H·P²
  scores; its einsums, ``*`` and ``+`` are not wrapped;
- 0: layernorm2d (torchvision's subclass of ``nn.LayerNorm``: the mapping matches exact classes,
  and ``F.layer_norm`` is not wrapped), class_token, position_embedding, select, layer_scale
  (a ``torch.cat``, ``+``, indexing and ``*`` in their owners' forward),
  sigmoid, tanh, hardswish, hardsigmoid, mish, softplus, log_softmax, dropout*, pad,
  flatten, unflatten, reshape, permute, embedding, channel_shuffle, stochastic_depth (the
  identity in eval), identity; pixel_shuffle, pixel_unshuffle, unfold, fold, max_unpool (no
  hook for their classes, no wrapped function inside) and select_channels (indexing). A split
  block's ``x.split``/``x.chunk`` and ``torch.cat`` are not wrapped: 0, its branches' modules
  counted by their rules.

A leaf marked ``functional: true`` (the model calls ``F.relu``, ``F.max_pool2d``,
``torch.flatten``... instead of a module) has no hook and counts as the patched function alone
(:func:`functional_mult_adds`): relu, elu, prelu, gelu, relu6, silu, softmax: 1 × elements;
maxpool, avgpool, adaptive_maxpool, adaptive_avgpool: 1 × *input* elements; upsample
(``F.interpolate``): its count above without the hook's; local_response_norm: as above (the
module has no hook, so the same calls); 0 for every function ptflops does not wrap
(``torch.flatten``, ``F.dropout``, ``F.conv2d``, ``F.linear``, ``F.batch_norm``, ...). In the
zoo: GoogLeNet's and Inception v3's ReLUs (``F.relu`` in ``BasicConv2d``), Inception v3's pools
in its blocks, DenseNet-121's final ``F.relu`` and adaptive pool, MobileNetV2's final adaptive
pool, and every model's ``torch.flatten``.

Every call of a module counts. Nothing is counted at a block's merge as torchvision writes it:
``+``, ``+=`` and ``*`` are operators, not the wrapped ``torch.add``/``Tensor.add``/
``torch.mul``/``Tensor.mul`` (which would count one per output element), and ``torch.cat`` is not
wrapped.

ptflops runs a batch of one (it builds the input itself) on the model's device; on the *meta*
device it also counts each ``nn.Linear`` a second time (in × out), through the Python
decomposition of ``addmm`` calling the wrapped ``torch.mm``. The rules here are CPU's.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING

from convcalc.layers.windowed import CPB_HIDDEN

if TYPE_CHECKING:
    from convcalc.records import Entry

Rule = Callable[["Entry"], int]
"""A leaf's count for one sample."""


def _inputs(entry: Entry) -> int:
    return math.prod(entry.input_shape)


def _outputs(entry: Entry) -> int:
    return math.prod(entry.output_shape)


def _conv(entry: Entry) -> int:
    # conv_flops_counter_hook: prod(kernel) × in × (out // groups) per position (the weight's
    # size), over the output positions, or the input positions for a transposed conv
    grid = entry.input_shape if entry.type == "conv_transpose" else entry.output_shape
    work = math.prod(entry.tensors["weight"]) * math.prod(grid[1:])
    return work + (_outputs(entry) if "bias" in entry.tensors else 0)


def _linear(entry: Entry) -> int:
    # linear_flops_counter_hook: (in × out + out with a bias) × prod(input.shape[:-1])
    inner, outer = entry.input_shape[-1], entry.output_shape[-1]
    bias = outer if "bias" in entry.tensors else 0
    return (inner * outer + bias) * math.prod(entry.input_shape[:-1])


def _norm(entry: Entry) -> int:
    # bn_flops_counter_hook: input elements, × 2 if the module has a true ``affine``
    affine = bool(getattr(entry.layer, "affine", False))
    return _inputs(entry) * (2 if affine else 1)


def _twice(entry: Entry) -> int:
    # the module's hook (relu_flops_counter_hook: output elements; pool_flops_counter_hook:
    # input elements) + the wrapped function its forward calls (input.numel())
    return 2 * _inputs(entry)


def _interpolate(entry: Entry) -> float:
    # _interpolate_functional_flops_hook, as nn.Upsample calls it (size, scale_factor positional)
    if getattr(entry.layer, "size", None) is not None:
        return _outputs(entry)
    scale: float | tuple[float, ...] = entry.layer.scale_factor  # type: ignore[attr-defined]
    if isinstance(scale, tuple):
        return _inputs(entry) * math.prod(int(factor) for factor in scale)
    return _inputs(entry) * float(scale) ** (len(entry.input_shape) - 1)


def _interpolate_only(entry: Entry) -> int:
    return math.floor(_interpolate(entry))


def _upsample(entry: Entry) -> int:
    # upsample_flops_counter_hook: output elements, + F.interpolate inside nn.Upsample.forward
    return _outputs(entry) + _interpolate_only(entry)


def _attention(entry: Entry) -> int:
    """ptflops' hook: L·E + 3L·E² (+ 3L·E) + h·(2L²·E/h + L²) + L·E·(E + 1)."""
    length, embed = entry.input_shape
    heads = int(getattr(entry.layer, "num_heads", 1))
    bias = 3 * length * embed if getattr(entry.layer, "bias", True) else 0
    scores = heads * (2 * length * length * (embed // heads) + length * length)
    projections = 3 * length * embed * embed + length * embed * (embed + 1)
    return length * embed + projections + bias + scores


def _local_response_norm(entry: Entry) -> int:
    # x.mul(x), div.mul(alpha), div.add(k): 1 per element each; avg_pool over the squares
    # padded by size − 1 channels: its input elements
    size: int = entry.layer.size  # type: ignore[attr-defined]
    channels, *spatial = entry.input_shape
    return 3 * _inputs(entry) + (channels + size - 1) * math.prod(spatial)


def _window_attention(entry: Entry) -> int:
    """Tensor.matmul twice, 2·T·N·C (v2: once, T·N·C), and F.softmax over h·T·N scores."""
    grid: tuple[int, int] = entry.layer.windows(entry.input_shape)  # type: ignore[attr-defined]
    tokens, window = grid
    heads: int = entry.layer.num_heads  # type: ignore[attr-defined]
    products = 1 if entry.type == "shifted_window_attention_v2" else 2
    return products * tokens * window * entry.input_shape[-1] + heads * tokens * window


def _position_mlp(entry: Entry) -> int:
    """Swin v2's cpb_mlp modules on every relative offset: 512 × (3 + 2 + heads)."""
    heads: int = entry.layer.num_heads  # type: ignore[attr-defined]
    return entry.layer.offsets() * CPB_HIDDEN * (5 + heads)  # type: ignore[attr-defined,no-any-return]


def _patch_merging(entry: Entry) -> int:
    """Output tokens × (norm width + 4C × 2C): the LayerNorm's elements and the Linear."""
    channels = entry.input_shape[-1]
    width: int = entry.layer.norm_width(channels)  # type: ignore[attr-defined]
    return math.prod(entry.output_shape[:-1]) * (width + 8 * channels * channels)


def _relative_attention(entry: Entry) -> int:
    """G·P·(4D² + 4D) for to_qkv and merge (with their biases) + G·H·P² for F.softmax."""
    groups, tokens, features = entry.input_shape
    head_dim: int = entry.layer.head_dim  # type: ignore[attr-defined]
    heads = features // head_dim
    linears = groups * tokens * 4 * (features * features + features)
    return linears + groups * heads * tokens * tokens


RULES: dict[str, Rule] = {
    "conv": _conv,
    "conv_transpose": _conv,
    "linear": _linear,
    "batchnorm": _norm,
    "groupnorm": _norm,
    "instancenorm": _norm,
    "layernorm": _inputs,
    "relu": _twice,
    "elu": _twice,
    "prelu": _twice,
    "gelu": _twice,
    "relu6": _inputs,
    "leaky_relu": _inputs,
    "silu": _inputs,
    "softmax": _inputs,
    "maxpool": _twice,
    "avgpool": _twice,
    "adaptive_maxpool": _twice,
    "adaptive_avgpool": _twice,
    "upsample": _upsample,
    "local_response_norm": _local_response_norm,
    "multihead_attention": _attention,
    "shifted_window_attention": _window_attention,
    "shifted_window_attention_v2": _window_attention,
    "patch_merging": _patch_merging,
    "patch_merging_v2": _patch_merging,
    "relative_position_attention": _relative_attention,
}
"""The types ptflops counts as nonzero when written as modules; every other type counts 0."""

ONCE: dict[str, Rule] = {"shifted_window_attention_v2": _position_mlp}
"""What ptflops counts once per forward, whatever the batch, besides :data:`RULES`."""

FUNCTIONAL_RULES: dict[str, Rule] = {
    "relu": _inputs,
    "elu": _inputs,
    "prelu": _inputs,
    "gelu": _inputs,
    "relu6": _inputs,
    "silu": _inputs,
    "softmax": _inputs,
    "maxpool": _inputs,
    "avgpool": _inputs,
    "adaptive_maxpool": _inputs,
    "adaptive_avgpool": _inputs,
    "upsample": _interpolate_only,
    "local_response_norm": _local_response_norm,
}
"""The types ptflops counts when the model calls ``torch.nn.functional`` instead of a module
(``F.relu``, ``F.max_pool2d``, ...); every other type, or function, counts 0."""

NOTES: tuple[str, ...] = (
    "conv_transpose: weight size × input positions (torchinfo: × output positions, about"
    " stride² more); conv agrees with torchinfo",
    "linear: weight + bias sizes × every leading dimension (torchinfo: × batch only); equal on a"
    " flat input",
    "batchnorm, groupnorm, instancenorm: 1 per input element, 2 with affine; layernorm: 1"
    " (torchinfo: parameter count × batch, not × positions)",
    "relu, elu, prelu, gelu modules: 2 per element (ptflops' hook and its wrapped F.relu/F.elu/"
    "F.prelu/F.gelu both count); relu6, leaky_relu, silu, softmax: 1 (torchinfo: 0; prelu its"
    " weight size × batch)",
    "maxpool, avgpool and adaptive pools: 2 per input element (hook + wrapped F.*pool*d)"
    " (torchinfo: 0)",
    "upsample: output elements + F.interpolate's count; local_response_norm: 3 per element +"
    " (C + size − 1) per position, via wrapped Tensor.mul/add and F.avg_pool (torchinfo: 0)",
    "leaves marked functional: true count once, as ptflops' patched F.relu/F.*pool*d/F.silu..."
    " alone (no hook); torch.flatten and unpatched functions 0 (torchinfo: 0 for these kinds)",
    "multihead_attention: its hook's count (projections, biases, q·kᵀ, softmax, attn·v);"
    " layernorm2d 0 (a subclass; exact classes only); torchinfo 0 for the attention",
    "block merges: 0 in both (+, +=, * and torch.cat are not wrapped; torch.add/torch.mul calls"
    " would count 1 per output element)",
)
"""How ptflops' figure differs from torchinfo's, one line per difference."""


ZERO: frozenset[str] = frozenset(
    {
        *("flatten", "unflatten", "reshape", "permute", "select", "select_channels"),
        *("channel_shuffle", "pixel_shuffle", "pixel_unshuffle", "identity", "pad"),
        *("dropout", "dropout1d", "dropout2d", "dropout3d", "stochastic_depth"),
        *("sigmoid", "tanh", "hardswish", "hardsigmoid", "mish", "softplus", "log_softmax"),
        *("embedding", "class_token", "position_embedding", "layer_scale", "unfold", "fold"),
        *("max_unpool", "layernorm2d", "window_partition", "window_departition"),
        "hardtanh",
    }
)
"""The layer types ptflops counts as 0 as modules: no hook, no wrapped function inside."""


REASONS: dict[str, str] = {
    "conv": "ptflops adds the bias at every output position",
    "linear": "ptflops adds the bias at every position",
    "relu": "ptflops counts 2 per element for a relu module (hook + F.relu)",
    "maxpool": "ptflops counts 2 per input element for a pool (hook + F.max_pool)",
    "avgpool": "ptflops counts 2 per input element for a pool (hook + F.avg_pool)",
    "adaptive_avgpool": "ptflops counts 2 per input element for a pool",
    "batchnorm": "ptflops counts 1 per element for a norm, 2 with affine",
    "layernorm": "ptflops counts 1 per element for a layernorm",
    "upsample": "ptflops counts the output elements twice (hook + F.interpolate)",
}
"""Why ptflops' count of a layer type differs from convcalc's, where it does."""


def mult_adds(entry: Entry, batch: int) -> int:
    """ptflops' count for a leaf: as its module (the spec type's PyTorch class), or as the
    function the model calls when the leaf is marked ``functional: true``."""
    if entry.layer.functional:
        return functional_mult_adds(entry, batch)
    if entry.step is None:
        return 0
    rule, once = RULES.get(entry.type), ONCE.get(entry.type)
    return (batch * rule(entry) if rule is not None else 0) + (once(entry) if once else 0)


def functional_mult_adds(entry: Entry, batch: int) -> int:
    """ptflops' count for a leaf the model calls as a function (``F.relu(x)``, ``F.max_pool2d``,
    ``torch.flatten``...) instead of a module, marked or not: only ptflops' wrapped functions
    count."""
    if entry.step is None:
        return 0
    rule = FUNCTIONAL_RULES.get(entry.type)
    return batch * rule(entry) if rule is not None else 0
