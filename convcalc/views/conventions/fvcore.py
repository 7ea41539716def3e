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
- everything else: 0 (max/avg pooling, adaptive max pooling, every activation, softmax,
  dropout, stochastic depth, pad, flatten, reshape, local_response_norm, prelu, embedding, ...).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING

from convcalc.errors import ConvcalcError

if TYPE_CHECKING:
    from convcalc.records import Entry

Rule = Callable[["Entry"], int]  # one sample's count; every rule is linear in the batch

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


def _upsample(entry: Entry) -> int:
    if len(entry.output_shape) != 3:
        return 0  # only aten::upsample_nearest2d and upsample_bilinear2d have handles
    per_element = {"nearest": 1, "bilinear": 4}.get(str(getattr(entry.layer, "mode", "")), 0)
    return _elements(entry) * per_element


def _adaptive_avgpool(entry: Entry) -> int:
    # aten::adaptive_avg_pool2d only; 1-D and 3-D have no handle
    return math.prod(entry.input_shape) if len(entry.input_shape) == 3 else 0


RULES: dict[str, Rule] = {
    "conv": _conv,
    "conv_transpose": _conv_transpose,
    "linear": _linear,
    "batchnorm": _batchnorm,
    "groupnorm": _norm,
    "layernorm": _norm,
    "instancenorm": _norm,
    "upsample": _upsample,
    "adaptive_avgpool": _adaptive_avgpool,
}
"""The layer types fvcore counts; any other counts 0."""


def mult_adds(entry: Entry, batch: int) -> int:
    if entry.step is None:
        return 0
    count = RULES.get(entry.type)
    return batch * count(entry) if count is not None else 0
