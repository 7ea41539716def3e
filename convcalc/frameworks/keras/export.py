"""``convcalc export SPEC --to keras``: the analysed network as the source of a Keras 3 model.

:func:`to_keras` turns a :class:`~convcalc.analysis.Report` into a self-contained Python file
(it imports ``keras`` and, only for an infinite argument, ``math``) that
defines one function, ``build()`` by default, building exactly the network convcalc analysed
with Keras' functional API. Every tensor keeps PyTorch's layout, (batch, channels, *spatial):
each layer that takes a ``data_format`` is given ``"channels_first"``, ``Dense`` acts on the
last axis as ``nn.Linear`` does, normalisations and concatenations use axis 1, and every
dimension a spec counts is PyTorch's, so PyTorch's weights copy across (kernels transposed).

Every leaf of ``report.leaves()`` becomes one Keras layer, or a few where Keras needs them
(a padding layer before a convolution or a pool, a crop after a transposed convolution), named
after the leaf's ``name`` (sanitised as for the PyTorch export) or its type, unique in the
model (``conv``, ``conv_2``, ``conv_2_pad``, ...). Each leaf's last layer has convcalc's output
shape and the leaf's layers have convcalc's parameter count as trainable weights;
:func:`leaf_layers` lists them. Chains (the top level, ``sequential``, ``repeat`` unrolled) are
calls in order; ``residual`` is ``Add`` (its ``join``'s ``Subtract``, ``Multiply``,
``Average``, ``Maximum``, ``Minimum``), ``concat`` ``Concatenate(axis=1)``, ``scale``
``Multiply`` (the gate broadcast over x), named after the block; ``graph`` writes each path
from the block's input or from the variable of the path it reads, then its join's merge layer
(``Add``, ``Subtract``, ... or ``Concatenate(axis=1)``) of the joined paths' outputs; ``split`` is a
``ChannelSlice`` layer of the file at the head of each branch (``x[:, start:stop]``, the
slices PyTorch's ``x.split``/``x.chunk`` cuts), then ``Concatenate(axis=1)``. A leaf written
``trainable: false``, or inside a block so written, is given ``trainable=False``; a frozen
``batchnorm`` is the file's ``FrozenBatchNormalization``, whose gamma and beta do not train
but which, as PyTorch's frozen BatchNorm, still normalises with the batch's statistics in
training and updates its moving ones (Keras' ``trainable=False`` would run it in inference
mode). The mapping (:data:`LEAVES`, one row a layer type):

- ``conv``: ``Conv{n}D`` (``groups``, ``dilation_rate``, ``use_bias``); explicit padding is a
  ``ZeroPadding{n}D`` before it (``padding="valid"``); ``padding: same`` is Keras' ``"same"``,
  which splits an odd total as PyTorch does (the extra one after); a ``padding_mode`` other
  than zeros is the file's ``Pad`` layer in that mode. ``conv_transpose``:
  ``Conv{n}DTranspose`` with ``output_padding`` written where PyTorch's differs from Keras'
  default, then ``Cropping{n}D`` of ``padding`` each side (a ``Pad`` cropping in 1-D, where
  ``Cropping1D`` would crop the channels).
- ``maxpool``: ``MaxPooling{n}D``, after a ``Pad`` with −inf where PyTorch pads, or where
  ``ceil_mode`` adds a last window (PyTorch's windows take only real values: −inf never wins).
  ``avgpool``: ``AveragePooling{n}D``, after a ``ZeroPadding{n}D`` where the padding counts
  (``count_include_pad``); without it, Keras' ``"same"`` where that pads exactly as PyTorch
  (an average over the real values only); ``divisor_override`` d is the pool of the
  zero-padded input times k/d (``Rescaling``). Adaptive pools whose windows are all alike
  (every size divisible by the output's) are plain pools; the others
  ``AdaptiveAveragePooling{n}D``/``AdaptiveMaxPooling{n}D`` (PyTorch's windows, in recent
  Keras 3 releases).
- ``batchnorm``: ``BatchNormalization(axis=1)`` with Keras' momentum 1 − PyTorch's;
  ``affine: false`` is ``center=False, scale=False``. The moving mean and variance are
  non-trainable weights (PyTorch's buffers); Keras updates the moving variance with the batch's
  biased variance, PyTorch its running_var with the unbiased one, as the file's docstring says.
  ``groupnorm`` and ``instancenorm``: ``GroupNormalization(axis=1)`` (C groups: instance norm);
  ``layernorm``: ``LayerNormalization`` over the last axes.
- ``linear``: ``Dense``; ``flatten``, ``unflatten``, ``reshape``: ``Reshape`` to the output
  shape (row-major, as PyTorch: ``Flatten(data_format="channels_first")`` would move the
  channels last first); ``permute``: ``Permute``; ``embedding`` (the first layer, the input
  integer): ``Embedding``; ``upsample`` by whole factors: ``UpSampling2D``/``3D``, 1-D through
  a ``Reshape`` to 2-D and back (``UpSampling1D`` would repeat the channels).
- Dropout: ``Dropout``, ``SpatialDropout2D``/``3D``, or ``Dropout`` with the ``noise_shape``
  of PyTorch's mask where PyTorch reads the input differently (``dropout1d`` on ``[C]`` drops
  whole samples, ``dropout3d`` on ``[C, H, W]`` too); ``stochastic_depth``: ``Dropout`` with a
  mask per sample (``row``) or one for the batch. All are the identity in inference.
- Activations: ``ReLU``, ``LeakyReLU``, ``ELU``, ``PReLU`` (``shared_axes`` for one weight or
  one a channel), ``Softmax(axis)`` (PyTorch's dimension, its implicit one for ``dim: null``),
  ``Activation`` for the others.
- ``local_response_norm``, ``channel_shuffle``, ``log_softmax`` over another axis than the last
  and tanh-approximated ``gelu`` are small layers written into the file, as is ``Pad``
  (PyTorch's ``F.pad`` in all four modes); so are ``pixel_shuffle`` and ``pixel_unshuffle``
  (PyTorch's channel order, c·r² + i·r + j for the output's (c, h·r + i, w·r + j), by a
  reshape and a transpose: ``depth_to_space`` orders the channels (i·r + j)·C + c instead)
  and ``select_channels`` (``keras.ops.take`` along axis 1); each is registered for saving.

Refused, with an :class:`~convcalc.frameworks.pysource.ExportError` naming the layer, the field
and what to do, where Keras cannot do what PyTorch does: strides > 1 with dilation > 1 in a
convolution (Keras refuses them together), ``groups`` in ``conv_transpose``, an
``output_padding`` not below the stride, a dilated max-pool, a pool's ``return_indices``, an
average pool's ``ceil_mode`` last window that PyTorch averages over part of the kernel,
``count_include_pad: false`` that Keras' ``"same"`` does not match, ``divisor_override`` in
1-D, batchnorm without running statistics or with ``momentum: null``, instancenorm with
running statistics, a negative ``leaky_relu`` slope, softplus' ``beta``/``threshold``,
embedding's ``padding_idx``, ``max_norm`` and ``scale_grad_by_freq`` (they change training),
an embedding not fed the input, circular padding that crops, and upsampling that is not by
whole factors (or ``align_corners``, ``bicubic`` and ``trilinear``, whose Keras forms differ);
``unfold``, ``fold`` and ``max_unpool`` (which takes a max-pool's indices) whole;
and, whole, the vision-transformer pieces (multihead attention, class token, position
embedding, select, layer scale, LayerNorm2d), which only the PyTorch export writes.

The file is straight-line code (each list of a block has its own variable, ``body2``,
``branch1_3``, so a spec nested 500 deep costs no indentation), laid out as ruff formats it.
Keras itself walks the model's graph recursively, a frame a layer: for more than ``LONG``
layers the file's docstring says how far to raise the recursion limit, and its ``__main__``
block raises it.
The tests run the files on Keras' PyTorch backend, and the files say to: TensorFlow's CPU
kernels take channels-last convolutions only, and the JAX backend is not tested.

Everything is walked with explicit stacks, never recursion; the library never prints.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from convcalc import arith
from convcalc.errors import ConvcalcError
from convcalc.escape import python_str
from convcalc.frameworks.pysource import (
    WIDTH,
    ExportError,
    Group,
    Item,
    Layout,
    Names,
    Uses,
    check_name,
    commented,
    docstring_text,
    fed_the_input,
    flat,
    identifier,
    literal,
    sizes_text,
)

if TYPE_CHECKING:
    from convcalc.records import Entry, Report
    from convcalc.spec.validate import Spec

CHANNELS_FIRST = '"channels_first"'
FUNCTION_LIMIT = 60  # characters of a function name given


class _Code(str):
    """An argument written as code, not as a literal (``keras.initializers.Constant(0.25)``)."""


@dataclass
class _Needs(Uses):
    """What the file needs: ``math``, helper classes, and notes for its docstring."""

    notes: set[str] = field(default_factory=set)


@dataclass(frozen=True)
class _Call:
    """One Keras layer of a leaf: the class (``Conv2D`` for ``keras.layers.Conv2D``, or a
    helper class of the file) and its arguments but the name. ``role`` is empty for the
    leaf's own layer, else what the layer does for it (``pad``, ``crop``, ...), which names
    it after the leaf's."""

    cls: str
    items: tuple[Item, ...]
    role: str = ""


def _expr(value: Any, uses: Uses) -> str | Group:
    return str(value) if isinstance(value, _Code) else literal(value, uses)


def _layer(
    cls: str,
    uses: _Needs,
    *positional: Any,
    role: str = "",
    channels_first: bool = False,
    **keywords: Any,
) -> _Call:
    """A layer call: positional arguments, then keywords, then ``data_format``."""
    items = [Item("", _expr(value, uses)) for value in positional]
    items += [Item(f"{key}=", _expr(value, uses)) for key, value in keywords.items()]
    if channels_first:
        items.append(Item("data_format=", CHANNELS_FIRST))
    return _Call(cls, tuple(items), role)


def _refuse(entry: Entry, message: str, field_name: str | None = None) -> ExportError:
    return ExportError(f"cannot be exported to Keras: {message}", entry, field_name)


# --- geometry --------------------------------------------------------------------------------

Ints = tuple[int, ...]


def _rank(entry: Entry) -> int:
    """The number of spatial dimensions of the leaf's input."""
    return len(entry.input_shape) - 1


def _dims(values: Ints) -> int | Ints:
    """One int where every dimension agrees, else one a dimension."""
    return values[0] if len(set(values)) == 1 else values


def _sides(rank: int, before: Ints, after: Ints) -> Any:
    """ZeroPadding/Cropping's argument: an int, one a dimension (both sides alike), or pairs
    (in 1-D, a pair is (before, after))."""
    if before == after:
        return _dims(before)
    pairs = tuple(zip(before, after, strict=True))
    return pairs[0] if rank == 1 else pairs


def _strided_dilation(entry: Entry, s: Ints, d: Ints, cls: str) -> None:
    if max(s) > 1 and max(d) > 1:
        raise _refuse(
            entry,
            f"Keras' {cls} refuses strides > 1 together with dilation_rate > 1 (stride "
            f"{sizes_text(s)}, dilation {sizes_text(d)}); use stride 1 and subsample "
            "afterwards, or dilation 1",
            "dilation",
        )


def _pad_call(
    uses: _Needs,
    before: Ints,
    after: Ints,
    mode: str = "constant",
    value: Any = 0.0,
    role: str = "pad",
) -> _Call:
    """The file's Pad layer over the spatial dimensions (the channels kept)."""
    uses.helpers.add("Pad")
    pads = ((0, 0), *zip(before, after, strict=True))
    keywords: dict[str, Any] = {}
    if mode != "constant":
        keywords["mode"] = mode
    if value != 0:
        keywords["value"] = float(value)
    return _layer("Pad", uses, pads, role=role, **keywords)


def _zero_padding(uses: _Needs, rank: int, before: Ints, after: Ints) -> _Call:
    return _layer(
        f"ZeroPadding{rank}D", uses, _sides(rank, before, after), role="pad", channels_first=True
    )


# --- leaves ----------------------------------------------------------------------------------

Convert = Callable[["Entry", _Needs], list[_Call]]


def _conv(entry: Entry, uses: _Needs) -> list[_Call]:
    layer: Any = entry.layer
    rank = _rank(entry)
    k, s, left, right, d = layer.geometry(rank)
    _strided_dilation(entry, s, d, f"Conv{rank}D")
    calls: list[_Call] = []
    keywords: dict[str, Any] = {}
    if any(x != 1 for x in s):
        keywords["strides"] = _dims(s)
    if layer.padding_mode != "zeros":  # PyTorch pads in that mode first, then convolves
        if any(left) or any(right):
            calls.append(_pad_call(uses, left, right, layer.padding_mode))
    elif layer.padding == "same":  # Keras splits d·(k − 1) as PyTorch: the odd one after
        keywords["padding"] = "same"
    elif any(left):
        calls.append(_zero_padding(uses, rank, left, right))
    if any(x != 1 for x in d):
        keywords["dilation_rate"] = _dims(d)
    if layer.groups != 1:
        keywords["groups"] = layer.groups
    if not layer.bias:
        keywords["use_bias"] = False
    conv = _layer(
        f"Conv{rank}D", uses, layer.out_channels, _dims(k), channels_first=True, **keywords
    )
    return [*calls, conv]


def _conv_transpose(entry: Entry, uses: _Needs) -> list[_Call]:
    layer: Any = entry.layer
    rank = _rank(entry)
    k, s, p, d, op = layer.geometry(rank)
    cls = f"Conv{rank}DTranspose"
    if layer.groups != 1:
        raise _refuse(
            entry, f"Keras' {cls} has no groups; split the channels into convolutions", "groups"
        )
    _strided_dilation(entry, s, d, cls)
    if any(o >= si for o, si in zip(op, s, strict=True)):
        raise _refuse(
            entry,
            f"Keras' {cls} needs output_padding below the stride (PyTorch allows up to "
            f"max(stride, dilation) − 1): output_padding {sizes_text(op)}, stride "
            f"{sizes_text(s)}",
            "output_padding",
        )
    keywords: dict[str, Any] = {}
    if any(x != 1 for x in s):
        keywords["strides"] = _dims(s)
    span = tuple(di * (ki - 1) + 1 for ki, di in zip(k, d, strict=True))
    # without output_padding Keras adds stride − span where the stride is the longer
    if any(op) or any(si > e for si, e in zip(s, span, strict=True)):
        keywords["output_padding"] = _dims(op)
    if any(x != 1 for x in d):
        keywords["dilation_rate"] = _dims(d)
    if not layer.bias:
        keywords["use_bias"] = False
    calls = [_layer(cls, uses, layer.out_channels, _dims(k), channels_first=True, **keywords)]
    if any(p):
        if rank == 1:  # Cropping1D crops axis 1, the channels here
            negative = tuple(-x for x in p)
            calls.append(_pad_call(uses, negative, negative, role="crop"))
        else:
            calls.append(
                _layer(f"Cropping{rank}D", uses, _dims(p), role="crop", channels_first=True)
            )
    return calls


def _windows(entry: Entry) -> tuple[Ints, Ints, Ints, Ints | None, Ints]:
    """A pool's kernel, stride and padding, its floor-mode output (None where floor mode has
    no window at all: the kernel is longer than the padded input, and only ceil_mode's last
    window, partly outside it, is there), and how far past the padded input ceil_mode's last
    window reaches."""
    layer: Any = entry.layer
    k, s, p, d = layer.geometry(_rank(entry))
    spatial, out = entry.input_shape[1:], entry.output_shape[1:]
    floor: Ints | None
    try:
        floor = tuple(map(arith.pool_out, spatial, k, s, p, d, (False,) * len(k)))
    except arith.Refusal:
        floor = None
    extra = tuple(  # the last window's end, past the padded input
        max(0, (o - 1) * si + arith.effective_kernel(ki, di) - n - 2 * pi)
        for n, o, ki, si, pi, di in zip(spatial, out, k, s, p, d, strict=True)
    )
    return k, s, p, floor, extra


def _pool(cls: str, uses: _Needs, k: Ints, s: Ints, **keywords: Any) -> _Call:
    if s != k:
        keywords = {"strides": _dims(s), **keywords}
    return _layer(cls, uses, _dims(k), channels_first=True, **keywords)


def _maxpool(entry: Entry, uses: _Needs) -> list[_Call]:
    layer: Any = entry.layer
    rank = _rank(entry)
    _, _, _, d = layer.geometry(rank)
    if any(x != 1 for x in d):
        raise _refuse(
            entry, f"Keras' MaxPooling{rank}D has no dilation; use dilation 1", "dilation"
        )
    k, s, p, _, extra = _windows(entry)
    calls: list[_Call] = []
    if any(p) or any(extra):  # PyTorch's windows see only the input: −inf never wins a max
        after = tuple(pi + e for pi, e in zip(p, extra, strict=True))
        calls.append(_pad_call(uses, p, after, value=-math.inf))
    return [*calls, _pool(f"MaxPooling{rank}D", uses, k, s)]


def _keras_same(entry: Entry, k: Ints, s: Ints, p: Ints) -> bool:
    """Whether Keras' "same" pooling has PyTorch's windows: ceil(L / s) of them, padded by
    the same p on both sides (Keras puts an odd total's extra one after)."""
    for n, o, ki, si, pi in zip(
        entry.input_shape[1:], entry.output_shape[1:], k, s, p, strict=True
    ):
        count = -(-n // si)
        if count != o or max((count - 1) * si + ki - n, 0) != 2 * pi:
            return False
    return True


def _avgpool(entry: Entry, uses: _Needs) -> list[_Call]:
    layer: Any = entry.layer
    rank = _rank(entry)
    k, s, p, floor, extra = _windows(entry)
    cls = f"AveragePooling{rank}D"
    if layer.divisor_override:
        if rank == 1:
            raise _refuse(entry, "PyTorch's AvgPool1d has no divisor_override", "divisor_override")
        # every window sums what the zero-padded input holds under it, divided by d
        after = tuple(pi + e for pi, e in zip(p, extra, strict=True))
        calls = [_zero_padding(uses, rank, p, after)] if any(p) or any(extra) else []
        scale = _layer("Rescaling", uses, math.prod(k) / layer.divisor_override, role="scale")
        return [*calls, _pool(cls, uses, k, s), scale]
    if entry.output_shape[1:] != floor:
        raise _refuse(
            entry,
            "ceil_mode adds a last window that PyTorch averages over the part of it inside "
            "the padded input, which no Keras pooling does; pad the input (pad layer) so that "
            "the windows fit, or use ceil_mode false",
            "ceil_mode",
        )
    if not any(p):
        return [_pool(cls, uses, k, s)]
    if layer.count_include_pad:
        return [_zero_padding(uses, rank, p, p), _pool(cls, uses, k, s)]
    if _keras_same(entry, k, s, p):
        return [_pool(cls, uses, k, s, padding="same")]
    raise _refuse(
        entry,
        "averaging over the real values only (count_include_pad false) pads as Keras' "
        "'same' pooling only where that adds the same padding on both sides; use "
        "count_include_pad true, or a kernel and stride for which it does",
        "count_include_pad",
    )


def _adaptive(entry: Entry, uses: _Needs) -> list[_Call]:
    rank = _rank(entry)
    average = entry.type == "adaptive_avgpool"
    spatial, out = entry.input_shape[1:], entry.output_shape[1:]
    if all(n % o == 0 for n, o in zip(spatial, out, strict=True)):  # alike windows
        window = tuple(n // o for n, o in zip(spatial, out, strict=True))
        cls = "AveragePooling" if average else "MaxPooling"
        return [_pool(f"{cls}{rank}D", uses, window, window)]
    uses.notes.add("adaptive")
    cls = "AdaptiveAveragePooling" if average else "AdaptiveMaxPooling"
    return [_layer(f"{cls}{rank}D", uses, _dims(out), channels_first=True)]


def _batchnorm(entry: Entry, uses: _Needs) -> list[_Call]:
    layer: Any = entry.layer
    if not layer.track_running_stats:
        raise _refuse(
            entry,
            "without running statistics PyTorch normalises with the batch's even in "
            "inference, Keras' BatchNormalization always with its moving ones; use "
            "track_running_stats true",
            "track_running_stats",
        )
    if layer.momentum is None:
        raise _refuse(
            entry,
            "momentum null keeps a cumulative average, Keras' BatchNormalization only an "
            "exponential one; give a momentum",
            "momentum",
        )
    uses.notes.add("batchnorm")
    keywords: dict[str, Any] = {"momentum": 1 - layer.momentum, "epsilon": layer.eps}
    if not layer.affine:
        keywords |= {"center": False, "scale": False}
    return [_layer("BatchNormalization", uses, axis=1, **keywords)]


def _groupnorm(entry: Entry, uses: _Needs) -> list[_Call]:
    layer: Any = entry.layer
    if entry.type == "instancenorm":
        if layer.track_running_stats:
            raise _refuse(
                entry,
                "with running statistics PyTorch normalises with them in inference; Keras has "
                "no such instance normalisation; use track_running_stats false",
                "track_running_stats",
            )
        groups = entry.input_shape[0]
    else:
        groups = layer.num_groups
    keywords: dict[str, Any] = {"groups": groups, "axis": 1, "epsilon": layer.eps}
    if not layer.affine:
        keywords |= {"center": False, "scale": False}
    return [_layer("GroupNormalization", uses, **keywords)]


def _layernorm(entry: Entry, uses: _Needs) -> list[_Call]:
    layer: Any = entry.layer
    norm = layer.normalized_shape
    count = len(norm) if isinstance(norm, tuple) else 1
    ndim = len(entry.input_shape) + 1
    axes = tuple(range(ndim - count, ndim))
    keywords: dict[str, Any] = {"axis": axes[0] if count == 1 else axes, "epsilon": layer.eps}
    if not layer.elementwise_affine:
        keywords |= {"center": False, "scale": False}
    elif not layer.bias:
        keywords["center"] = False
    return [_layer("LayerNormalization", uses, **keywords)]


def _local_response_norm(entry: Entry, uses: _Needs) -> list[_Call]:
    layer: Any = entry.layer
    uses.helpers.add("LocalResponseNorm")
    defaults = {"alpha": 1e-4, "beta": 0.75, "k": 1.0}  # PyTorch's, and the helper's
    written = {key: getattr(layer, key) for key in defaults if getattr(layer, key) != defaults[key]}
    return [_layer("LocalResponseNorm", uses, layer.size, **written)]


def _linear(entry: Entry, uses: _Needs) -> list[_Call]:
    layer: Any = entry.layer
    keywords: dict[str, Any] = {} if layer.bias else {"use_bias": False}
    return [_layer("Dense", uses, layer.out_features, **keywords)]


def _reshape(entry: Entry, uses: _Needs) -> list[_Call]:
    """flatten, unflatten and reshape: the output shape, row-major as PyTorch reads it."""
    return [_layer("Reshape", uses, tuple(entry.output_shape))]


def _permute(entry: Entry, uses: _Needs) -> list[_Call]:
    layer: Any = entry.layer
    rank = len(entry.input_shape)
    return [_layer("Permute", uses, tuple(d % rank + 1 for d in layer.dims))]


def _embedding(entry: Entry, uses: _Needs) -> list[_Call]:
    layer: Any = entry.layer
    for name, why in (
        ("padding_idx", "PyTorch never trains that row; Keras' Embedding has no such row"),
        ("max_norm", "PyTorch renormalises the rows it looks up; Keras' Embedding does not"),
    ):
        if getattr(layer, name) is not None:
            raise _refuse(entry, f"{why}; remove it", name)
    if layer.scale_grad_by_freq:
        raise _refuse(
            entry,
            "Keras' Embedding does not scale gradients by frequency; remove it",
            "scale_grad_by_freq",
        )
    return [_layer("Embedding", uses, layer.num_embeddings, layer.embedding_dim)]


def _channel_shuffle(entry: Entry, uses: _Needs) -> list[_Call]:
    uses.helpers.add("ChannelShuffle")
    return [_layer("ChannelShuffle", uses, entry.layer.groups)]  # type: ignore[attr-defined]


def _pad(entry: Entry, uses: _Needs) -> list[_Call]:
    layer: Any = entry.layer
    ndim = len(entry.input_shape)
    sides = layer.sides(ndim)
    if layer.mode == "circular" and min(min(pair) for pair in sides) < 0:
        raise _refuse(
            entry,
            "circular padding that also crops wraps around the cropped input in a way the "
            "file's Pad does not; crop and pad in two pad layers",
            "padding",
        )
    pads = ((0, 0),) * (ndim - len(sides)) + tuple(sides)
    keywords: dict[str, Any] = {}
    if layer.mode != "constant":
        keywords["mode"] = layer.mode
    elif layer.value != 0:
        keywords["value"] = float(layer.value)
    uses.helpers.add("Pad")
    return [_layer("Pad", uses, pads, **keywords)]


def _upsample(entry: Entry, uses: _Needs) -> list[_Call]:
    layer: Any = entry.layer
    rank = _rank(entry)
    spatial, out = entry.input_shape[1:], entry.output_shape[1:]
    if layer.mode in ("bicubic", "trilinear"):
        raise _refuse(
            entry,
            f"Keras has no {layer.mode} upsampling that computes PyTorch's values on every "
            "backend (UpSampling3D only repeats; UpSampling2D's bicubic is the backend's, "
            "another cubic on TensorFlow and JAX); use nearest, or bilinear in 2-D",
            "mode",
        )
    if layer.align_corners:
        raise _refuse(entry, "Keras' UpSampling2D has no align_corners; use false", "align_corners")
    factors = tuple(o // n for n, o in zip(spatial, out, strict=True))
    whole = all(o % n == 0 for n, o in zip(spatial, out, strict=True))
    if layer.size is None and not layer.recompute_scale_factor:  # PyTorch samples by 1 / scale
        scales = layer.scale_factor
        scales = scales if isinstance(scales, tuple) else (scales,) * rank
        whole = whole and all(float(f) == sc for f, sc in zip(factors, scales, strict=True))
    if not whole:
        raise _refuse(
            entry,
            f"Keras upsamples only by whole factors, and {sizes_text(spatial)} → "
            f"{sizes_text(out)} is not one (or PyTorch's scale_factor is not the ratio of "
            "the sizes, which places its samples elsewhere)",
            "scale_factor" if layer.size is None else "size",
        )
    interpolation = "nearest" if layer.mode in ("nearest", "nearest-exact") else "bilinear"
    if rank == 3:
        return [_layer("UpSampling3D", uses, _dims(factors), channels_first=True)]
    keywords: dict[str, Any] = {}
    if interpolation != "nearest":
        keywords["interpolation"] = interpolation
    if rank == 2:
        return [_layer("UpSampling2D", uses, _dims(factors), channels_first=True, **keywords)]
    channels, length = entry.input_shape
    return [  # UpSampling1D repeats axis 1, the channels here: 1-D as 2-D of width 1
        _layer("Reshape", uses, (channels, length, 1), role="2d"),
        _layer("UpSampling2D", uses, (factors[0], 1), channels_first=True, **keywords),
        _layer("Reshape", uses, tuple(entry.output_shape), role="1d"),
    ]


def _noise(entry: Entry) -> tuple[int | None, ...] | None:
    """PyTorch's dropout mask as Keras' noise_shape (None: the batch's size), or None for an
    element-wise one. dropout2d masks channels of any input (element-wise on [C]);
    dropout1d channels of [C, L], and of [C] whole samples (it reads [N, C] as one [C, L]);
    dropout3d channels of [C, D, H, W], and of any other input whole samples."""
    shape, kind = entry.input_shape, entry.type
    ndim = len(shape) + 1
    per_sample = (None, *([1] * (ndim - 1)))
    if kind == "dropout" or (kind == "dropout2d" and ndim == 2):
        return None
    if (kind == "dropout1d" and ndim == 2) or (kind == "dropout3d" and ndim != 5):
        return per_sample
    return (None, shape[0], *([1] * (ndim - 2)))


def _dropout(entry: Entry, uses: _Needs) -> list[_Call]:
    layer: Any = entry.layer
    noise = _noise(entry)
    ndim = len(entry.input_shape) + 1
    if ndim == {"dropout2d": 4, "dropout3d": 5}.get(entry.type):  # Keras' own channel dropout
        return [_layer(f"SpatialDropout{ndim - 2}D", uses, layer.p, channels_first=True)]
    keywords: dict[str, Any] = {} if noise is None else {"noise_shape": noise}
    return [_layer("Dropout", uses, layer.p, **keywords)]


def _stochastic_depth(entry: Entry, uses: _Needs) -> list[_Call]:
    """torchvision's StochasticDepth is dropout of whole samples (row) or of the whole batch:
    kept with probability 1 − p and scaled by 1 / (1 − p); the identity in inference."""
    layer: Any = entry.layer
    ndim = len(entry.input_shape) + 1
    noise = (None if layer.mode == "row" else 1, *([1] * (ndim - 1)))
    return [_layer("Dropout", uses, layer.p, noise_shape=noise)]


def _relu6(entry: Entry, uses: _Needs) -> list[_Call]:
    return [_layer("ReLU", uses, max_value=6.0)]


def _hardtanh(entry: Entry, uses: _Needs) -> list[_Call]:
    """clamp(x, min_val, max_val): Keras' ReLU(max_value=max_val) where min_val is 0, its
    hard_tanh activation where the bounds are PyTorch's defaults, −1 and 1."""
    layer: Any = entry.layer
    if (layer.min_val, layer.max_val) == (-1, 1):
        return [_layer("Activation", uses, activation="hard_tanh")]
    if layer.min_val != 0:
        raise _refuse(
            entry,
            "Keras clips only from 0 (ReLU's max_value) or to [−1, 1] (hard_tanh): min_val "
            "must be 0, or the bounds −1 and 1",
            "min_val",
        )
    return [_layer("ReLU", uses, max_value=float(layer.max_val))]


def _leaky_relu(entry: Entry, uses: _Needs) -> list[_Call]:
    slope = entry.layer.negative_slope  # type: ignore[attr-defined]
    if slope < 0:
        raise _refuse(
            entry, "Keras' LeakyReLU refuses a negative slope; use prelu", "negative_slope"
        )
    return [_layer("LeakyReLU", uses, negative_slope=float(slope))]


def _elu(entry: Entry, uses: _Needs) -> list[_Call]:
    alpha = entry.layer.alpha  # type: ignore[attr-defined]
    keywords: dict[str, Any] = {"alpha": float(alpha)} if alpha != 1 else {}
    return [_layer("ELU", uses, **keywords)]


def _prelu(entry: Entry, uses: _Needs) -> list[_Call]:
    layer: Any = entry.layer
    ndim = len(entry.input_shape) + 1
    shared = list(range(1 if layer.num_parameters == 1 else 2, ndim))
    init = _Code(f"keras.initializers.Constant({literal(float(layer.init), uses)})")
    keywords: dict[str, Any] = {"alpha_initializer": init}
    if shared:
        keywords["shared_axes"] = tuple(shared)
    return [_layer("PReLU", uses, **keywords)]


def _gelu(entry: Entry, uses: _Needs) -> list[_Call]:
    if entry.layer.approximate == "tanh":  # type: ignore[attr-defined]
        uses.helpers.add("TanhGelu")
        return [_layer("TanhGelu", uses)]
    return [_layer("Activation", uses, "gelu")]  # keras.activations.gelu: exact by default


def _softplus(entry: Entry, uses: _Needs) -> list[_Call]:
    layer: Any = entry.layer
    for name, default in (("beta", 1.0), ("threshold", 20.0)):
        if getattr(layer, name) != default:
            raise _refuse(
                entry,
                f"Keras' softplus has no {name}; use PyTorch's default, {default:g}",
                name,
            )
    return [_layer("Activation", uses, "softplus")]


def _softmax_axis(entry: Entry) -> int:
    """PyTorch's dimension, counting the batch; for dim null, nn.Softmax's implicit one (0
    for inputs of 1 or 3 dimensions with the batch, else 1)."""
    dim: int | None = entry.layer.dim  # type: ignore[attr-defined]
    ndim = len(entry.input_shape) + 1
    if dim is None:
        return 0 if ndim in (1, 3) else 1
    return dim


def _softmax(entry: Entry, uses: _Needs) -> list[_Call]:
    return [_layer("Softmax", uses, axis=_softmax_axis(entry))]


def _log_softmax(entry: Entry, uses: _Needs) -> list[_Call]:
    axis, ndim = _softmax_axis(entry), len(entry.input_shape) + 1
    if axis % ndim == ndim - 1:
        return [_layer("Activation", uses, "log_softmax")]
    uses.helpers.add("LogSoftmax")
    return [_layer("LogSoftmax", uses, axis=axis)]


def _fixed(cls: str, *positional: Any) -> Convert:
    """A layer type always written the same way."""

    def convert(entry: Entry, uses: _Needs) -> list[_Call]:
        return [_layer(cls, uses, *positional)]

    return convert


def _activation(name: str) -> Convert:
    return _fixed("Activation", name)


# the layer types the Keras export refuses, and what each is: Keras has no layer for them (or,
# for multihead_attention, none with the same weights); the PyTorch export writes them all
NOT_IN_KERAS = {
    **dict.fromkeys(
        ("shifted_window_attention", "shifted_window_attention_v2", "patch_merging",
         "patch_merging_v2"),
        "torchvision's Swin layer, which Keras has no layer for",
    ),
    **dict.fromkeys(
        ("window_partition", "window_departition", "relative_position_attention"),
        "torchvision's MaxViT layer, which Keras has no layer for",
    ),
    "multihead_attention": "nn.MultiheadAttention (Keras' MultiHeadAttention splits its weights "
    "by head and has no add_bias_kv or add_zero_attn), which the Keras export does not write",
    "class_token": "torchvision ViT's class token, which the Keras export does not write",
    "position_embedding": "torchvision ViT's position embedding, which the Keras export does "
    "not write",
    "select": "an indexing x[:, i], which the Keras export does not write",
    "layer_scale": "torchvision ConvNeXt's layer scale, which the Keras export does not write",
    "layernorm2d": "torchvision ConvNeXt's LayerNorm2d, which the Keras export does not write",
    "unfold": "PyTorch's Unfold (im2col), which the Keras export does not write",
    "fold": "PyTorch's Fold (col2im), which the Keras export does not write",
    "max_unpool": "PyTorch's MaxUnpool, which takes a max-pool's indices, which the Keras "
    "export does not write",
}  # fmt: skip


def _not_in_keras(entry: Entry, uses: _Needs) -> list[_Call]:
    """Refused, located: a layer type of :data:`NOT_IN_KERAS`."""
    raise _refuse(
        entry,
        f"{entry.type} is {NOT_IN_KERAS[entry.type]}; export the network to PyTorch "
        "(convcalc export --to pytorch), which writes it",
    )


def _pixel_shuffle(entry: Entry, uses: _Needs) -> list[_Call]:
    """The file's PixelShuffle / PixelUnshuffle: PyTorch's channel order, by a reshape and a
    transpose of the last three dimensions; r = 1 is ``Identity`` (PyTorch takes any input of
    two dimensions or more then, unchanged)."""
    layer: Any = entry.layer
    cls = "PixelShuffle" if entry.type == "pixel_shuffle" else "PixelUnshuffle"
    factor = layer.upscale_factor if cls == "PixelShuffle" else layer.downscale_factor
    if factor == 1:
        return [_layer("Identity", uses)]
    uses.helpers.add(cls)
    return [_layer(cls, uses, factor)]


def _select_channels(entry: Entry, uses: _Needs) -> list[_Call]:
    """The file's SelectChannels: ``x[:, channels]``, negative indices counted from the end."""
    uses.helpers.add("SelectChannels")
    count = entry.input_shape[0]
    channels = tuple(i % count for i in entry.layer.channels)  # type: ignore[attr-defined]
    return [_layer("SelectChannels", uses, channels)]


LEAVES: dict[str, Convert] = {
    "conv": _conv,
    "conv_transpose": _conv_transpose,
    "maxpool": _maxpool,
    "avgpool": _avgpool,
    "adaptive_avgpool": _adaptive,
    "adaptive_maxpool": _adaptive,
    "batchnorm": _batchnorm,
    "groupnorm": _groupnorm,
    "instancenorm": _groupnorm,
    "layernorm": _layernorm,
    "local_response_norm": _local_response_norm,
    "linear": _linear,
    "flatten": _reshape,
    "unflatten": _reshape,
    "reshape": _reshape,
    "permute": _permute,
    "embedding": _embedding,
    "channel_shuffle": _channel_shuffle,
    "pixel_shuffle": _pixel_shuffle,
    "pixel_unshuffle": _pixel_shuffle,
    "select_channels": _select_channels,
    "pad": _pad,
    "upsample": _upsample,
    "dropout": _dropout,
    "dropout1d": _dropout,
    "dropout2d": _dropout,
    "dropout3d": _dropout,
    "stochastic_depth": _stochastic_depth,
    "relu": _fixed("ReLU"),
    "relu6": _relu6,
    "hardtanh": _hardtanh,
    "leaky_relu": _leaky_relu,
    "elu": _elu,
    "prelu": _prelu,
    "gelu": _gelu,
    "silu": _activation("silu"),
    "mish": _activation("mish"),
    "hardswish": _activation("hard_swish"),
    "hardsigmoid": _activation("hard_sigmoid"),
    "sigmoid": _activation("sigmoid"),
    "tanh": _activation("tanh"),
    "softplus": _softplus,
    "softmax": _softmax,
    "log_softmax": _log_softmax,
    "identity": _fixed("Identity"),
    **dict.fromkeys(NOT_IN_KERAS, _not_in_keras),
}


def _calls(entry: Entry, first: bool, uses: _Needs) -> list[_Call]:
    """The Keras layers of a leaf, or an ExportError where none computes what PyTorch does."""
    if entry.type == "embedding" and not fed_the_input(entry, first):
        raise _refuse(
            entry,
            "an Embedding takes integer indices, so it can only be the network's first layer, "
            "fed the input itself (every other layer gives floats)",
        )
    if getattr(entry.layer, "return_indices", False):
        raise _refuse(
            entry,
            "with return_indices PyTorch's pool returns (values, indices), which no Keras "
            "layer does and the next layer cannot take; remove it",
            "return_indices",
        )
    return LEAVES[entry.type](entry, uses)


# --- the function's statements ------------------------------------------------------------


@dataclass
class _Chain:
    """A list of layers being written: the variable it assigns, and the one holding its
    latest output (its input until a layer writes)."""

    target: str
    current: str


@dataclass
class _Open:
    """A merging block (residual, concat, split, scale) whose lists are being written."""

    entry: Entry
    chain: _Chain
    lists: list[_Chain]


@dataclass
class _Start:
    """A graph's path about to be written: it starts from its source's latest output."""

    chain: _Chain
    source: _Chain


_Todo = tuple["Entry", _Chain, bool]  # an entry, the chain it writes to, whether it is frozen


ROLES = {"body": "body", "shortcut": "shortcut", "branches": "branch", "paths": "path"}
MERGES = {
    "residual": "keras.layers.Add(",
    "concat": "keras.layers.Concatenate(axis=1, ",
    "split": "keras.layers.Concatenate(axis=1, ",
    "scale": "keras.layers.Multiply(",
}
GRAPH_JOINS = {
    "add": "keras.layers.Add(",
    "subtract": "keras.layers.Subtract(",
    "multiply": "keras.layers.Multiply(",
    "average": "keras.layers.Average(",
    "maximum": "keras.layers.Maximum(",
    "minimum": "keras.layers.Minimum(",
    "concat": "keras.layers.Concatenate(axis=1, ",
}
Statement = tuple[str, "Group", str]  # ``target = ``, the call, the comment


def _variable(entry: Entry, keys: tuple[str | int, ...]) -> str:
    """A list's variable: its role and the block's level (``body1``, ``branch2_0``; a
    scale's body is its ``gate``). Only one block a level is open at a time."""
    role = "gate" if entry.type == "scale" else ROLES[str(keys[0])]
    suffix = "".join(f"_{key}" for key in keys[1:] if isinstance(key, int))
    return f"{role}{entry.depth + 1}{suffix}"


def _quoted(text: str) -> str:
    return python_str(text)


class _Program:
    """The statements of ``build()`` and the Keras layers of every leaf, in order."""

    def __init__(self, report: Report) -> None:
        self.uses = _Needs()
        self.names = Names(frozenset({"input"}))  # the Input layer's name
        self.statements: list[Statement] = []
        self.leaves: list[tuple[Entry, tuple[str, ...]]] = []
        leaves = [entry for entry in report.walk() if not entry.is_block]
        self.first = leaves[0] if leaves else None
        self.output = self._walk(report)

    def _walk(self, report: Report) -> str:
        root = _Chain("x", "inputs")
        stack: list[_Todo | _Open | _Start] = [(e, root, False) for e in reversed(report.layers)]
        while stack:
            top = stack.pop()
            if isinstance(top, _Open):
                self._merge(top)
                continue
            if isinstance(top, _Start):
                top.chain.current = top.source.current
                continue
            entry, chain, frozen = top
            frozen = frozen or not entry.layer.trainable  # a frozen block freezes its layers
            if not entry.is_block:
                self._leaf(entry, chain, frozen)
            elif entry.type in ("sequential", "repeat"):  # the chain goes on through it
                stack.extend((child, chain, frozen) for child in reversed(entry.children[0][1]))
            else:
                lists = [
                    _Chain(_variable(entry, keys), chain.current) for keys, _ in entry.children
                ]
                if entry.type == "split":
                    self._slices(entry, lists)
                stack.append(_Open(entry, chain, lists))
                for i, ((_, children), sub) in reversed(
                    list(enumerate(zip(entry.children, lists, strict=True)))
                ):
                    stack.extend((child, sub, frozen) for child in reversed(children))
                    source = entry.layer.reads(i)  # type: ignore[attr-defined]
                    if source is not None:  # a graph's path reading an earlier one's output
                        stack.append(_Start(sub, lists[source]))
        return root.current

    def _slices(self, entry: Entry, lists: list[_Chain]) -> None:
        """A split's cut: each branch starts with its slice of the channels, x[:, a:b]."""
        self.uses.helpers.add("ChannelSlice")
        base = identifier(entry.name) or entry.type
        sizes: list[int] = entry.layer.slices(entry.input_shape)  # type: ignore[attr-defined]
        start = 0
        for size, chain in zip(sizes, lists, strict=True):
            name = self.names.add(f"{base}_slice")
            bounds = (str(start), str(start + size))
            items = [*(Item("", bound) for bound in bounds), Item("name=", _quoted(name))]
            text = "ChannelSlice(" + ", ".join(item.prefix + flat(item.expr) for item in items)
            close = f")({chain.current})"
            group = Group("ChannelSlice(", items, close, flat=text + close)
            self._assign(chain, group, sizes_text((size, *entry.input_shape[1:])))
            start += size

    def _assign(self, chain: _Chain, call: Group, comment: str) -> None:
        self.statements.append((f"{chain.target} = ", call, comment))
        chain.current = chain.target

    def _leaf(self, entry: Entry, chain: _Chain, frozen: bool) -> None:
        calls = _calls(entry, entry is self.first, self.uses)
        main = self.names.add(identifier(entry.name) or entry.type)
        names = []
        for i, call in enumerate(calls):
            name = self.names.add(f"{main}_{call.role}") if call.role else main
            names.append(name)
            items = [*call.items, Item("name=", _quoted(name))]
            if frozen and call.cls == "BatchNormalization":  # batch statistics in training
                self.uses.helpers.add("FrozenBatchNormalization")
                call = dataclasses.replace(call, cls="FrozenBatchNormalization")
            elif frozen and not call.role:  # the leaf's own layer, which holds its weights
                items.append(Item("trainable=", "False"))
            cls = call.cls if call.cls in HELPERS else f"keras.layers.{call.cls}"
            close = f")({chain.current})"
            text = f"{cls}(" + ", ".join(item.prefix + flat(item.expr) for item in items)
            group = Group(f"{cls}(", items, close, flat=text + close)
            last = i == len(calls) - 1
            self._assign(chain, group, sizes_text(entry.output_shape) if last else "")
        self.leaves.append((entry, tuple(names)))

    def _merge(self, block: _Open) -> None:
        entry = block.entry
        inputs = [chain.current for chain in block.lists]
        if entry.type == "scale":
            inputs.insert(0, block.chain.current)
        merge = MERGES.get(entry.type, "")
        if entry.type == "residual":  # body and shortcut, added unless join says otherwise
            merge = GRAPH_JOINS[entry.layer.join]  # type: ignore[attr-defined]
        if entry.type == "graph":  # the joined paths' outputs
            inputs = [inputs[i] for i in entry.layer.joined()]  # type: ignore[attr-defined]
            merge = GRAPH_JOINS[entry.layer.join]  # type: ignore[attr-defined]
        name = self.names.add(identifier(entry.name) or entry.type)
        ctor = f"{merge}name={_quoted(name)})"
        listed = Group("[", [Item("", v) for v in inputs], "]", flat=f"[{', '.join(inputs)}]")
        group = Group(
            ctor + "(", [Item("", listed)], ")", flat=f"{ctor}({listed.flat})", trailing=False
        )
        self._assign(block.chain, group, sizes_text(entry.output_shape))


def leaf_layers(report: Report) -> list[tuple[str, tuple[str, ...]]]:
    """Every leaf's path and the names of its Keras layers in the exported model, in the order
    of ``report.leaves()`` (the last one gives the leaf's output). Raises ExportError as
    :func:`to_keras` does."""
    return [(entry.path, names) for entry, names in _Program(report).leaves]


# --- the file ------------------------------------------------------------------------------

_REGISTER = '@keras.saving.register_keras_serializable(package="convcalc")'
HELPERS: dict[str, str] = {
    "Pad": f'''
{_REGISTER}
class Pad(keras.layers.Layer):
    """PyTorch's F.pad: pads[i] = (before, after) for dimension i + 1 (never the batch), a
    negative value cropping. Mode "constant" fills with value; "reflect", "replicate" and
    "circular" read each new position from the input as PyTorch does."""

    def __init__(self, pads, mode="constant", value=0.0, **kwargs):
        super().__init__(**kwargs)
        self.pads = tuple((int(before), int(after)) for before, after in pads)
        self.mode = mode
        self.value = value

    def _read(self, position, size):
        """The input position read at ``position`` (counted from the input's start)."""
        if self.mode == "reflect":
            return -position if position < 0 else min(position, 2 * (size - 1) - position)
        if self.mode == "replicate":
            return min(max(position, 0), size - 1)
        return position % size  # circular

    def call(self, x):
        for axis, (before, after) in enumerate(self.pads, start=1):
            size = x.shape[axis]
            if self.mode != "constant":
                positions = range(-before, size + after)
                x = keras.ops.take(x, [self._read(i, size) for i in positions], axis=axis)
            elif before < 0 or after < 0:
                kept = range(max(-before, 0), size - max(-after, 0))
                x = keras.ops.take(x, list(kept), axis=axis)
        if self.mode == "constant":
            widths = [(0, 0)] + [(max(before, 0), max(after, 0)) for before, after in self.pads]
            x = keras.ops.pad(x, widths, constant_values=self.value)
        return x

    def compute_output_shape(self, input_shape):
        pairs = zip(input_shape[1:], self.pads, strict=True)
        return (input_shape[0], *(n + before + after for n, (before, after) in pairs))

    def get_config(self):
        config = {{"pads": self.pads, "mode": self.mode, "value": self.value}}
        return {{**super().get_config(), **config}}
''',
    "LocalResponseNorm": f'''
{_REGISTER}
class LocalResponseNorm(keras.layers.Layer):
    """PyTorch's nn.LocalResponseNorm: x / (k + alpha · mean of x² over the size channels
    around each one)^beta, size // 2 before it and (size - 1) // 2 after (zeros beyond)."""

    def __init__(self, size, alpha=1e-4, beta=0.75, k=1.0, **kwargs):
        super().__init__(**kwargs)
        self.size = size
        self.alpha = alpha
        self.beta = beta
        self.k = k

    def call(self, x):
        widths = [(0, 0)] * len(x.shape)
        widths[1] = (self.size // 2, (self.size - 1) // 2)
        squares = keras.ops.pad(keras.ops.square(x), widths)
        channels = x.shape[1]
        total = squares[:, :channels]
        for start in range(1, self.size):
            total = total + squares[:, start : start + channels]
        return x / keras.ops.power(total / self.size * self.alpha + self.k, self.beta)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = {{"size": self.size, "alpha": self.alpha, "beta": self.beta, "k": self.k}}
        return {{**super().get_config(), **config}}
''',
    "ChannelShuffle": f'''
{_REGISTER}
class ChannelShuffle(keras.layers.Layer):
    """PyTorch's nn.ChannelShuffle: the channels as groups x (C / groups), transposed."""

    def __init__(self, groups, **kwargs):
        super().__init__(**kwargs)
        self.groups = groups

    def call(self, x):
        channels, spatial = x.shape[1], tuple(x.shape[2:])
        x = keras.ops.reshape(x, (-1, self.groups, channels // self.groups, *spatial))
        x = keras.ops.swapaxes(x, 1, 2)
        return keras.ops.reshape(x, (-1, channels, *spatial))

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {{**super().get_config(), "groups": self.groups}}
''',
    "PixelShuffle": f'''
{_REGISTER}
class PixelShuffle(keras.layers.Layer):
    """PyTorch's nn.PixelShuffle: the last three dimensions (C·r², H, W) → (C, H·r, W·r),
    output (c, h·r + i, w·r + j) read from channel c·r² + i·r + j."""

    def __init__(self, upscale_factor, **kwargs):
        super().__init__(**kwargs)
        self.upscale_factor = upscale_factor

    def call(self, x):
        r = self.upscale_factor
        *lead, channels, height, width = x.shape[1:]
        x = keras.ops.reshape(x, (-1, *lead, channels // (r * r), r, r, height, width))
        n = len(lead) + 1  # the batch and the leading dimensions
        x = keras.ops.transpose(x, (*range(n + 1), n + 3, n + 1, n + 4, n + 2))
        return keras.ops.reshape(x, (-1, *lead, channels // (r * r), height * r, width * r))

    def compute_output_shape(self, input_shape):
        r = self.upscale_factor
        *lead, channels, height, width = input_shape
        return (*lead, channels // (r * r), height * r, width * r)

    def get_config(self):
        return {{**super().get_config(), "upscale_factor": self.upscale_factor}}
''',
    "PixelUnshuffle": f'''
{_REGISTER}
class PixelUnshuffle(keras.layers.Layer):
    """PyTorch's nn.PixelUnshuffle: the last three dimensions (C, H·r, W·r) → (C·r², H, W),
    channel c·r² + i·r + j read from (c, h·r + i, w·r + j)."""

    def __init__(self, downscale_factor, **kwargs):
        super().__init__(**kwargs)
        self.downscale_factor = downscale_factor

    def call(self, x):
        r = self.downscale_factor
        *lead, channels, height, width = x.shape[1:]
        x = keras.ops.reshape(x, (-1, *lead, channels, height // r, r, width // r, r))
        n = len(lead) + 1  # the batch and the leading dimensions
        x = keras.ops.transpose(x, (*range(n + 1), n + 2, n + 4, n + 1, n + 3))
        return keras.ops.reshape(x, (-1, *lead, channels * r * r, height // r, width // r))

    def compute_output_shape(self, input_shape):
        r = self.downscale_factor
        *lead, channels, height, width = input_shape
        return (*lead, channels * r * r, height // r, width // r)

    def get_config(self):
        return {{**super().get_config(), "downscale_factor": self.downscale_factor}}
''',
    "SelectChannels": f'''
{_REGISTER}
class SelectChannels(keras.layers.Layer):
    """x[:, channels]: the listed channels, in that order (repeats allowed)."""

    def __init__(self, channels, **kwargs):
        super().__init__(**kwargs)
        self.channels = tuple(int(i) for i in channels)

    def call(self, x):
        return keras.ops.take(x, list(self.channels), axis=1)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], len(self.channels), *input_shape[2:])

    def get_config(self):
        return {{**super().get_config(), "channels": self.channels}}
''',
    "ChannelSlice": f'''
{_REGISTER}
class ChannelSlice(keras.layers.Layer):
    """x[:, start:stop]: one slice of PyTorch's x.split(sizes, dim=1) or x.chunk(n, dim=1)."""

    def __init__(self, start, stop, **kwargs):
        super().__init__(**kwargs)
        self.start = start
        self.stop = stop

    def call(self, x):
        return x[:, self.start : self.stop]

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.stop - self.start, *input_shape[2:])

    def get_config(self):
        return {{**super().get_config(), "start": self.start, "stop": self.stop}}
''',
    "FrozenBatchNormalization": f'''
{_REGISTER}
class FrozenBatchNormalization(keras.layers.BatchNormalization):
    """PyTorch's BatchNorm with requires_grad False: gamma and beta do not train, but in
    training it still normalises with the batch's statistics and updates its moving ones
    (Keras' trainable=False would run it in inference mode)."""

    def build(self, input_shape):
        super().build(input_shape)
        for weight in (self.gamma, self.beta):
            if weight is not None:
                weight.trainable = False
''',
    "LogSoftmax": f'''
{_REGISTER}
class LogSoftmax(keras.layers.Layer):
    """log(softmax(x)) along axis (the batch counted), as PyTorch's nn.LogSoftmax(dim)."""

    def __init__(self, axis=-1, **kwargs):
        super().__init__(**kwargs)
        self.axis = axis

    def call(self, x):
        return keras.ops.log_softmax(x, axis=self.axis)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {{**super().get_config(), "axis": self.axis}}
''',
    "TanhGelu": f'''
{_REGISTER}
class TanhGelu(keras.layers.Layer):
    """GELU's tanh approximation, as PyTorch's nn.GELU(approximate="tanh")."""

    def call(self, x):
        return keras.ops.gelu(x, approximate=True)

    def compute_output_shape(self, input_shape):
        return input_shape
''',
}
# the file's own global names: the function given cannot take one
GLOBALS = frozenset({"keras", "math", "sys", *HELPERS})
LONG = 600  # layers beyond which building the model may need a higher recursion limit (~950)
FRAMES_PER_LAYER = 2  # Keras' graph walk (Function._build_map_helper): about 1 a layer, measured


def recursion_limit(layers: int) -> int | None:
    """The recursion limit Keras needs to build a model of ``layers`` layers (its graph walk
    recurses along the chain: 1,200 layers in a row overflow the default 1,000), None where the
    default is enough."""
    return 1000 + FRAMES_PER_LAYER * layers if layers > LONG else None


NOTES = {
    "batchnorm": [
        "BatchNormalization keeps PyTorch's running mean and variance as non-trainable weights",
        "(momentum = 1 - PyTorch's); in training Keras updates the moving variance with the",
        "batch's biased variance, PyTorch with the unbiased one.",
    ],
    "adaptive": [
        "Adaptive pools with unequal windows use keras.layers.AdaptiveAveragePooling*D /",
        "AdaptiveMaxPooling*D (PyTorch's windows), which only recent Keras 3 releases have.",
    ],
}


def _non_trainable(report: Report) -> int:
    """BatchNormalization's moving mean and variance, 2·C a layer, and the parameters of the
    frozen layers (``trainable: false``)."""
    moving = sum(2 * entry.input_shape[0] for entry in report.leaves() if entry.type == "batchnorm")
    return moving + report.total_params - report.trainable_params


def _header(report: Report, function: str, uses: _Needs, layers: int) -> list[str]:
    name = docstring_text(report.name)
    frozen = _non_trainable(report)
    trainable = report.trainable_params
    params = f"Parameters: {trainable:,} (all trainable)."
    if frozen:
        params = f"Parameters: {trainable:,} trainable, {frozen:,} non-trainable."
    lines = [
        f'"""A Keras 3 model generated by convcalc from the spec {name}.',
        "",
        docstring_text(f"Input: {sizes_text(report.input_shape)} (one sample).", WIDTH - 3),
        docstring_text(f"Output: {sizes_text(report.output_shape)}.", WIDTH - 3),
        params,
        f"{function}() builds it with the functional API, every tensor laid out as in PyTorch",
        '(batch, channels, *spatial): each layer is given data_format="channels_first" where it',
        "takes one, so that PyTorch's weights copy across (kernels transposed). The comments give",
        "each layer's output shape without the batch. Run it on the PyTorch backend, as",
        "convcalc's tests do: KERAS_BACKEND=torch python this_file.py (TensorFlow's CPU",
        "convolutions take channels-last tensors only).",
    ]
    for note in sorted(uses.notes):
        lines += NOTES[note]
    limit = recursion_limit(layers)
    if limit is not None:
        lines += [
            f"The model has {layers:,} layers, and Keras walks its graph recursively: call",
            f"sys.setrecursionlimit({limit}) before building it (the __main__ block below does).",
        ]
    return [*lines, '"""']


def _function(report: Report, function: str, program: _Program) -> list[str]:
    tokens = program.first is not None and program.first.type == "embedding"
    shape = literal(tuple(report.input_shape), program.uses)
    dtype = ', dtype="int32"' if tokens else ""
    model = identifier(report.name) or "network"
    layout = Layout(frozenset())
    lines = [
        f"def {function}() -> keras.Model:",
        f'    """The network {docstring_text(report.name)}, as convcalc analysed it."""',
        f'    inputs = keras.Input(shape={flat(shape)}{dtype}, name="input")',
    ]
    for prefix, call, comment in program.statements:
        written = layout.statement(prefix, call, "", 4)
        written[-1] = commented(written[-1], comment)
        lines += written
    lines.append(f"    return keras.Model(inputs, {program.output}, name={python_str(model)})")
    return lines


def _smoke_test(function: str, layers: int) -> list[str]:
    limit = recursion_limit(layers)
    long = [f"    sys.setrecursionlimit({limit})  # {layers:,} layers"] if limit else []
    return [
        'if __name__ == "__main__":',
        *long,
        f"    model = {function}()",
        "    model.summary()",
        '    print("output shape:", tuple(model.output.shape))',
    ]


def to_keras(report: Report, name: str | None = None, spec: Spec | None = None) -> str:
    """The source of a Python file defining a function (``name``, default ``build``) that
    builds the analysed network as a ``keras.Model``, with an ``if __name__ == "__main__"``
    block that builds it and prints its summary. A Keras spec (``report.dialect``) is written
    as Keras writes it, from its ``spec`` (:func:`~convcalc.frameworks.keras.source.
    keras_to_keras`); a PyTorch spec channels-first. Raises :class:`ExportError` at a layer
    that no Keras layer computes exactly as PyTorch, :class:`ConvcalcError` for an unusable
    name or a Keras spec's report without its spec."""
    if report.dialect is not None:
        if spec is None or spec.doc is None:
            raise ConvcalcError(
                f"{report.name} is a Keras spec (framework: keras): its Keras export needs "
                "the spec itself (to_keras(report, spec=spec))"
            )
        from convcalc.frameworks.keras.source import keras_to_keras

        return keras_to_keras(spec, report, name)
    if name is None:
        name = "build"
    else:
        check_name(name, "function", FUNCTION_LIMIT, GLOBALS)
    program = _Program(report)
    body = _function(report, name, program)
    uses = program.uses
    layers = len(program.statements)
    long = recursion_limit(layers) is not None
    standard = [module for module, used in (("math", uses.math), ("sys", long)) if used]
    imports = [*(f"import {module}" for module in standard), *([""] if standard else [])]
    sections = [
        "\n".join([*_header(report, name, uses, layers), "", *imports, "import keras"]),
        *(HELPERS[helper].strip() for helper in HELPERS if helper in uses.helpers),
        "\n".join(body),
        "\n".join(_smoke_test(name, layers)),
    ]
    return "\n\n\n".join(sections) + "\n"
