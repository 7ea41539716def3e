"""thop 0.1.1's convention (``thop.profile``: ``register_hooks`` in ``thop/profile.py``, the
rules in ``thop/vision/basic_hooks.py`` and ``calc_func.py``).

Per leaf, by layer type (``N`` the batch; "elements" count the batch; bias never counted):

- conv, conv_transpose: output elements × in_channels / groups × kernel_size (the weight's own
  kernel, not the dilated one); for a transposed convolution too, over its *output* grid
  (about stride² above the work it does), as torchinfo;
- linear: in_features × output elements (every leading dimension counts);
- batchnorm, instancenorm, layernorm: 2 × input elements, doubled (4 ×) when ``affine`` /
  ``elementwise_affine``; groupnorm and local_response_norm have no rule: 0;
- avgpool: 1 per output element, whatever the kernel;
- adaptive_avgpool: (∏ input size / output size, a float per spatial dimension, + 1) × output
  elements, truncated to an integer;
- upsample: output elements × 1 (nearest), 5 (linear), 11 (bilinear), 259 (bicubic);
  0 for trilinear and nearest-exact (thop warns and counts nothing);
- softmax: (3 · n − 1) per softmax of n features (n exps, n − 1 adds, n divisions);
- prelu: 1 per input element (thop profiles in eval mode);
- 0: relu, relu6, leaky_relu, maxpool, adaptive_maxpool, dropout, pad (ZeroPad2d has the
  zero rule); every other type (silu, sigmoid, hardswish, gelu, tanh, elu, flatten,
  stochastic_depth, channel_shuffle, identity, multihead_attention, layernorm2d (a subclass of
  ``nn.LayerNorm``), pixel_shuffle, pixel_unshuffle, unfold, fold, max_unpool, ...) has no
  rule, and thop counts a module without a rule as 0; the class token, position embedding,
  select, select_channels (``x[:, channels]``) and layer scale are no modules at all, nor is a
  split block's cut or merge (its branches' modules count by their rules);
- shifted_window_attention: 0 (no rule for torchvision's class, and its qkv and proj Linears
  never run as modules: its forward calls ``F.linear`` with their weights);
  shifted_window_attention_v2: its position-bias MLP's Linear modules, once per forward on the
  (2·Wh − 1)(2·Ww − 1) relative offsets whatever the batch: offsets × 512 × (2 + heads);
- patch_merging(_v2): its LayerNorm's 4 × input elements, output tokens × 4C (v2: 2C), and its
  Linear's 4C × output elements, N × output tokens × 4C × 2C;
- relative_position_attention on [G, P, D] (MaxViT): its to_qkv and merge Linear modules,
  N × G·P·D × (3D + D), bias not counted; thop has no rule for the attention module itself,
  whose einsums it never sees;
- 0: any leaf marked ``functional: true`` (the model calls ``F.relu``, ``F.avg_pool2d``,
  ``F.adaptive_avg_pool2d``, ``torch.flatten``... instead of a module): thop counts modules
  through hooks only and never sees a function call.

Every call of a module counts (its hook adds each time). thop looks a module up by its exact
class (a subclass of ``nn.Conv2d`` would count 0), hooks every module of a known class and, from
the root down, takes a hooked module's own count without looking inside it (``nn.Sequential``,
whose rule is 0, is looked into): for stock layers that is counting the leaves. Nothing is
counted at a block's merge (``+``, ``torch.cat``, ``*`` are not modules), nor for a function call:
in the zoo, where it matters, DenseNet-121's and MobileNetV2's final ``F.adaptive_avg_pool2d``
and Inception v3's ``F.avg_pool2d`` inside its blocks, which the specs mark ``functional: true``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING

from convcalc.layers.windowed import CPB_HIDDEN

if TYPE_CHECKING:
    from convcalc.records import Entry

Rule = Callable[["Entry", int], int]

# thop's per-element cost of each interpolation mode (calculate_upsample); a mode missing here
# is one thop's count_upsample refuses ("not implemented yet") and counts as 0
_UPSAMPLE = {"nearest": 1, "linear": 5, "bilinear": 11, "bicubic": 224 + 35}


def _elements(shape: tuple[int, ...], batch: int) -> int:
    return batch * math.prod(shape)


def _conv(entry: Entry, batch: int) -> int:
    # calculate_conv2d_flops: prod(y.shape) * (x.shape[1] // groups) * prod(weight.shape[2:]);
    # ConvTranspose's weight is (in, out / groups, *k): the same kernel dimensions
    groups: int = getattr(entry.layer, "groups", 1)
    kernel = math.prod(entry.tensors["weight"][2:])
    return _elements(entry.output_shape, batch) * (entry.input_shape[0] // groups) * kernel


def _linear(entry: Entry, batch: int) -> int:
    return entry.input_shape[-1] * _elements(entry.output_shape, batch)


def _norm(entry: Entry, batch: int) -> int:
    affine = getattr(entry.layer, "affine", False) or getattr(
        entry.layer, "elementwise_affine", False
    )
    return (4 if affine else 2) * _elements(entry.input_shape, batch)


def _avgpool(entry: Entry, batch: int) -> int:
    return _elements(entry.output_shape, batch)


def _adaptive_avgpool(entry: Entry, batch: int) -> int:
    # float64 throughout, as thop: torch.prod(in / out) + 1, times the output elements, int()
    kernel = 1.0
    for size_in, size_out in zip(entry.input_shape[1:], entry.output_shape[1:], strict=True):
        kernel *= size_in / size_out
    return int((kernel + 1) * _elements(entry.output_shape, batch))


def _upsample(entry: Entry, batch: int) -> int:
    mode: str = getattr(entry.layer, "mode", "nearest")
    return _UPSAMPLE.get(mode, 0) * _elements(entry.output_shape, batch)


def _softmax(entry: Entry, batch: int) -> int:
    shape = (batch, *entry.input_shape)
    dim: int | None = getattr(entry.layer, "dim", None)
    if dim is None:  # thop fails here (x.size()[None]); torch's implicit choice instead
        dim = 0 if len(shape) in (0, 1, 3) else 1
    features = shape[dim]
    return math.prod(shape) // features * (3 * features - 1)


def _prelu(entry: Entry, batch: int) -> int:
    return _elements(entry.input_shape, batch)


def _position_mlp(entry: Entry, batch: int) -> int:
    """Swin v2's cpb_mlp Linear(2, 512) and Linear(512, heads) on every relative offset,
    whatever the batch."""
    heads: int = entry.layer.num_heads  # type: ignore[attr-defined]
    return entry.layer.offsets() * CPB_HIDDEN * (2 + heads)  # type: ignore[attr-defined,no-any-return]


def _patch_merging(entry: Entry, batch: int) -> int:
    """N × output tokens × (4 × norm width + 4C × 2C): the LayerNorm (affine) and the Linear."""
    channels = entry.input_shape[-1]
    width: int = entry.layer.norm_width(channels)  # type: ignore[attr-defined]
    return batch * math.prod(entry.output_shape[:-1]) * (4 * width + 8 * channels * channels)


def _relative_attention(entry: Entry, batch: int) -> int:
    """N × G·P·D × 4D: to_qkv (D → 3D) and merge (D → D), in_features × output elements."""
    features = entry.input_shape[-1]
    return 4 * features * _elements(entry.input_shape, batch)


RULES: dict[str, Rule] = {
    "conv": _conv,
    "conv_transpose": _conv,
    "linear": _linear,
    "batchnorm": _norm,
    "instancenorm": _norm,
    "layernorm": _norm,
    "avgpool": _avgpool,
    "adaptive_avgpool": _adaptive_avgpool,
    "upsample": _upsample,
    "softmax": _softmax,
    "prelu": _prelu,
    "shifted_window_attention_v2": _position_mlp,
    "patch_merging": _patch_merging,
    "patch_merging_v2": _patch_merging,
    "relative_position_attention": _relative_attention,
}
"""The types thop counts as nonzero; every other type counts 0 (a zero rule or no rule)."""

NOTES: tuple[str, ...] = (
    "conv: no bias term (torchinfo adds the bias tensor × output positions); the rest agrees,"
    " a transposed conv over its output grid in both",
    "linear: in_features × output elements, no bias (torchinfo: weight + bias sizes × batch)",
    "batchnorm, instancenorm, layernorm: 2 per input element, 4 with affine (torchinfo: the"
    " parameter count × batch, not × positions); groupnorm 0 (no rule; torchinfo 2·C·batch)",
    "avgpool: 1 per output element; adaptive_avgpool: (input/output size ratio + 1) per output"
    " element (torchinfo: 0 for layers without parameters)",
    "upsample: 1/5/11/259 per output element for nearest/linear/bilinear/bicubic, 0 otherwise;"
    " softmax: 3n − 1 per softmax of n (torchinfo: 0)",
    "prelu: 1 per input element (torchinfo: its weight size × batch)",
    "avgpool/adaptive_avgpool marked functional: true (F.avg_pool2d, F.adaptive_avg_pool2d):"
    " 0 like every functional leaf, as thop hooks modules only (torchinfo: 0 too)",
)
"""How thop's figure differs from torchinfo's, one line per difference."""


ZERO: frozenset[str] = frozenset(
    {
        *("flatten", "unflatten", "reshape", "permute", "select", "select_channels"),
        *("channel_shuffle", "pixel_shuffle", "pixel_unshuffle", "identity", "pad"),
        *("dropout", "dropout1d", "dropout2d", "dropout3d", "stochastic_depth"),
        *("relu", "relu6", "leaky_relu", "maxpool", "adaptive_maxpool", "silu", "sigmoid"),
        *("hardswish", "hardsigmoid", "gelu", "tanh", "elu", "mish", "softplus", "log_softmax"),
        *("groupnorm", "local_response_norm", "embedding", "class_token", "position_embedding"),
        *("layer_scale", "unfold", "fold", "max_unpool", "layernorm2d", "multihead_attention"),
        *("shifted_window_attention", "window_partition", "window_departition"),
        "hardtanh",
    }
)
"""The layer types thop counts as 0: a zero rule, or no rule for their module."""


REASONS: dict[str, str] = {
    "conv_transpose": "thop counts a transposed conv over its output grid, not its input",
    "batchnorm": "thop counts 2 per element for a norm, 4 with affine",
    "layernorm": "thop counts 2 per element for a norm, 4 with affine",
    "instancenorm": "thop counts 2 per element for a norm, 4 with affine",
    "avgpool": "thop counts 1 per output element of an average pool",
    "adaptive_avgpool": "thop counts (kernel + 1) per output element of an adaptive pool",
    "upsample": "thop counts 1, 5, 11 or 259 per output element by mode",
    "softmax": "thop counts 3n − 1 per softmax of n",
}
"""Why thop's count of a layer type differs from convcalc's, where it does."""


def mult_adds(entry: Entry, batch: int) -> int:
    """thop's count for a leaf: its module's rule, or 0 for a function call (``functional``)."""
    if entry.layer.functional or entry.step is None:
        return 0
    rule = RULES.get(entry.type)
    return rule(entry, batch) if rule is not None else 0
