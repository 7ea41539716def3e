"""The Keras dialect: a spec written with ``framework: keras`` (Keras 3's class and argument
names, Keras' input shape without the batch, channels-last by default) read into the same
records as a PyTorch spec.

Every Keras layer becomes the layer class that holds its arithmetic (``filters`` is a conv's
``out_channels``, ``strides`` its ``stride``, ``units`` a linear's ``out_features``); where
Keras' rule differs from PyTorch's, the class's Keras variant owns it (``KerasConv``'s ``same``
for every stride, ``KerasConvTranspose``, ``KerasMaxPool``/``KerasAvgPool``, ``KerasBatchNorm``'s
moving statistics, parameters that never train). The records hold every tensor channels-first,
as PyTorch's: a channels-last shape (H, W, C) is read as (C, H, W), and shown back as Keras
writes it through the report's :class:`~convcalc.records.Dialect`. So a Keras ``Dense`` on the
last axis of (H, W, C) (or of a sequence (steps, features)) is a 1×1 convolution of the
channels-first records, a ``LayerNormalization`` over the channels of (H, W, C) the channels-only
layer norm; blocks are written as convcalc's (``Add`` is a residual with ``body`` and
``shortcut``, ``Concatenate`` a concat of ``branches`` along the channels, ``Multiply`` a
scale). The walk here follows the shapes from the input, since some Keras layers are built from
their input (a depthwise convolution's channels, a Dense's rank); a layer Keras refuses is
refused here, located in the file with Keras' words.
"""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass
from dataclasses import field as default
from typing import Any, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

from convcalc.arith import LIMIT, Refusal
from convcalc.errors import SpecError, format_path
from convcalc.layers.activation import KerasPReLU, KerasReLU
from convcalc.layers.attention import KerasMultiHeadAttention
from convcalc.layers.base import KERAS_ARGUMENTS, Layer, keras_call
from convcalc.layers.blocks import JOINS
from convcalc.layers.conv import (
    KerasConv,
    KerasConvTranspose,
    KerasDense,
    KerasDepthwiseConv,
    KerasPointwise,
    KerasSeparableDepthwise,
)
from convcalc.layers.fields import (
    Flag,
    IntList,
    NewShape,
    NonNegDims,
    Number,
    PositiveDims,
    PositiveInt,
    Probability,
    Text,
    show,
)
from convcalc.layers.linear import KerasLinear
from convcalc.layers.norm import KerasBatchNorm, KerasLayerNorm, KerasLayerNorm2d
from convcalc.layers.pool import KerasAvgPool, KerasMaxPool
from convcalc.layers.registry import layer_class
from convcalc.layers.reshape import KerasNormalization
from convcalc.layers.token import KerasEmbedding
from convcalc.records import Dialect, Shape
from convcalc.spec.document import MAX_NODES, Document, yaml_text

Keys = tuple[str | int, ...]
# blocks nested in a Keras spec given as data; a YAML file holds fewer: 998 in block style (its
# 2,000 levels, two a block: a mapping and its list), 498 in flow style (1,000 brackets)
MAX_DEPTH = 1_000


def snake(name: str) -> str:
    """Keras' default layer name for a class: ``BatchNormalization`` → ``batch_normalization``,
    ``ReLU`` → ``re_lu`` (keras.src.utils.naming.to_snake_case)."""
    name = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub(r"([a-z])([A-Z])", r"\1_\2", name).lower()


class Args(BaseModel):
    """What every Keras layer takes: its ``name``, ``trainable``, ``dtype``, and the
    initializers, regularizers and constraints, which change no number and are not read."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    type: str
    name: Text | None = None
    trainable: Flag = True
    dtype: Any = None
    kernel_initializer: Any = None
    bias_initializer: Any = None
    kernel_regularizer: Any = None
    bias_regularizer: Any = None
    activity_regularizer: Any = None
    kernel_constraint: Any = None
    bias_constraint: Any = None

    def implied(self) -> dict[str, Any]:
        """Arguments whose default (None) stands for another's value, by name: that value."""
        return {}


DataFormat = Literal["channels_last", "channels_first"] | None


class ConvArgs(Args):
    filters: PositiveInt
    kernel_size: PositiveDims
    strides: PositiveDims = 1
    padding: Literal["valid", "same", "causal"] = "valid"
    data_format: DataFormat = None
    dilation_rate: PositiveDims = 1
    groups: PositiveInt = 1
    activation: Text | None = None
    use_bias: Flag = True


class TransposeArgs(Args):
    filters: PositiveInt
    kernel_size: PositiveDims
    strides: PositiveDims = 1
    padding: Literal["valid", "same"] = "valid"
    output_padding: NonNegDims | None = None
    data_format: DataFormat = None
    dilation_rate: PositiveDims = 1
    activation: Text | None = None
    use_bias: Flag = True


class DepthwiseArgs(Args):
    kernel_size: PositiveDims
    strides: PositiveDims = 1
    padding: Literal["valid", "same"] = "valid"
    depth_multiplier: PositiveInt = 1
    data_format: DataFormat = None
    dilation_rate: PositiveDims = 1
    activation: Text | None = None
    use_bias: Flag = True
    depthwise_initializer: Any = None
    depthwise_regularizer: Any = None
    depthwise_constraint: Any = None


class SeparableArgs(DepthwiseArgs):
    filters: PositiveInt
    pointwise_initializer: Any = None
    pointwise_regularizer: Any = None
    pointwise_constraint: Any = None


class PoolArgs(Args):
    pool_size: PositiveDims = 2
    strides: PositiveDims | None = None
    padding: Literal["valid", "same"] = "valid"
    data_format: DataFormat = None

    def implied(self) -> dict[str, Any]:
        """strides=None is the pool_size: strides written equal to it are the default."""
        return {"strides": self.pool_size}


class AvgPoolArgs(PoolArgs):
    """AveragePooling*D: as MaxPooling*D, but Keras has no default pool_size."""

    pool_size: PositiveDims


class GlobalPoolArgs(Args):
    data_format: DataFormat = None
    keepdims: Flag = False


class DenseArgs(Args):
    units: PositiveInt
    activation: Text | None = None
    use_bias: Flag = True


class EmbeddingArgs(Args):
    """Embedding: integer ids in, an output_dim vector each out; mask_zero changes no size,
    input_length is Keras 2's (Keras 3 warns and drops it)."""

    input_dim: PositiveInt
    output_dim: PositiveInt
    embeddings_initializer: Any = None
    embeddings_regularizer: Any = None
    embeddings_constraint: Any = None
    mask_zero: Flag = False
    input_length: Any = None
    lora_rank: PositiveInt | None = None
    lora_alpha: Number | None = None


class MultiHeadAttentionArgs(Args):
    """MultiHeadAttention used as self-attention, ``mha(x, x)``: query = key = value = x."""

    num_heads: PositiveInt
    key_dim: PositiveInt
    value_dim: PositiveInt | None = None
    dropout: Probability = 0.0
    use_bias: Flag = True
    output_shape: PositiveInt | list[PositiveInt] | None = None
    attention_axes: Any = None
    sliding_window: Any = None
    flash_attention: Flag | None = None
    use_gate: Flag = False
    seed: Any = None


class FlattenArgs(Args):
    data_format: DataFormat = None


class BatchNormArgs(Args):
    axis: int = -1
    momentum: Number = 0.99
    epsilon: Number = 1e-3
    center: Flag = True
    scale: Flag = True
    beta_initializer: Any = None
    gamma_initializer: Any = None
    moving_mean_initializer: Any = None
    moving_variance_initializer: Any = None
    beta_regularizer: Any = None
    gamma_regularizer: Any = None
    beta_constraint: Any = None
    gamma_constraint: Any = None
    synchronized: Flag = False


class LayerNormArgs(Args):
    axis: int | list[int] = -1
    epsilon: Number = 1e-3
    center: Flag = True
    scale: Flag = True
    rms_scaling: Flag = False
    beta_initializer: Any = None
    gamma_initializer: Any = None
    beta_regularizer: Any = None
    gamma_regularizer: Any = None
    beta_constraint: Any = None
    gamma_constraint: Any = None


class DropoutArgs(Args):
    rate: Probability
    noise_shape: Any = None
    seed: Any = None


class SpatialDropoutArgs(Args):
    rate: Probability
    data_format: DataFormat = None
    seed: Any = None


class ActivationArgs(Args):
    activation: Text


class ReLUArgs(Args):
    max_value: Number | None = None
    negative_slope: Number = 0.0
    threshold: Number = 0.0


class PReLUArgs(Args):
    alpha_initializer: Any = None
    alpha_regularizer: Any = None
    alpha_constraint: Any = None
    shared_axes: int | list[int] | None = None


class LeakyReLUArgs(Args):
    negative_slope: Number = 0.3


class ELUArgs(Args):
    alpha: Number = 1.0


class SoftmaxArgs(Args):
    axis: int = -1


class PaddingArgs(Args):
    padding: Any = 1
    data_format: DataFormat = None


class CroppingArgs(Args):
    """Cropping3D's (Cropping1D and Cropping2D differ: :data:`CLASSES`)."""

    cropping: Any = 1
    data_format: DataFormat = None


class Cropping2DArgs(CroppingArgs):
    cropping: Any = 0


class Cropping1DArgs(Args):
    cropping: Any = 1


class UpSamplingArgs(Args):
    size: PositiveDims = 2
    data_format: DataFormat = None
    interpolation: Literal["nearest", "bilinear"] = "nearest"


class UpSampling1DArgs(Args):
    size: PositiveDims = 2


class UpSampling3DArgs(Args):
    size: PositiveDims = 2
    data_format: DataFormat = None


class ReshapeArgs(Args):
    target_shape: NewShape


class PermuteArgs(Args):
    dims: IntList


class SequentialArgs(Args):
    layers: list[Any]


class AddArgs(Args):
    body: list[Any]
    shortcut: list[Any] = []


class ConcatenateArgs(Args):
    branches: list[list[Any]]
    axis: int = -1


class MultiplyArgs(Args):
    """A gate on the input (``body`` alone: a scale block), or ``body`` times ``shortcut``."""

    body: list[Any]
    shortcut: list[Any] | None = None


class GraphArgs(Args):
    """convcalc's graph block in a Keras spec: named ``paths`` of Keras layers, each on the
    block's input or on an earlier path's output (``from``), joined as ``join`` says and shown
    as its Keras merge layer (Add, Subtract, Multiply, Average, Maximum, Minimum, Concatenate;
    ``axis``: Concatenate's, the channels only)."""

    join: Literal["add", "subtract", "multiply", "average", "maximum", "minimum", "concat"]
    paths: list[Any]
    output: list[Text] | None = None
    axis: int = -1


class RepeatArgs(Args):
    """convcalc's repeat (Keras has no such class): ``layers``, ``times`` times over, each copy
    a layer of its own, as a loop in Keras builds them."""

    times: PositiveInt
    layers: list[Any]


class RescalingArgs(Args):
    scale: Any
    offset: Any = 0.0


class NormalizationArgs(Args):
    axis: int | list[int] | None = -1
    mean: Any = None
    variance: Any = None
    invert: Flag = False


class LayerScaleArgs(Args):
    """keras.applications.convnext's LayerScale: a learned factor per channel."""

    init_values: Number
    projection_dim: PositiveInt


class ConstantArgs(Args):
    """``x + value`` or ``x * value`` (keras.ops.add, keras.ops.multiply) with a number."""

    value: Number


# Keras' class → (its arguments, the spatial rank it takes or None for any, a builder kind)
CLASSES: dict[str, tuple[type[Args], int | None, str]] = {
    **{f"Conv{n}D": (ConvArgs, n, "conv") for n in (1, 2, 3)},
    **{f"Conv{n}DTranspose": (TransposeArgs, n, "transpose") for n in (1, 2, 3)},
    **{f"DepthwiseConv{n}D": (DepthwiseArgs, n, "depthwise") for n in (1, 2)},
    **{f"SeparableConv{n}D": (SeparableArgs, n, "separable") for n in (1, 2)},
    **{f"MaxPooling{n}D": (PoolArgs, n, "maxpool") for n in (1, 2, 3)},
    **{f"AveragePooling{n}D": (AvgPoolArgs, n, "avgpool") for n in (1, 2, 3)},
    **{f"GlobalAveragePooling{n}D": (GlobalPoolArgs, n, "global_avg") for n in (1, 2, 3)},
    **{f"GlobalMaxPooling{n}D": (GlobalPoolArgs, n, "global_max") for n in (1, 2, 3)},
    **{f"ZeroPadding{n}D": (PaddingArgs, n, "pad") for n in (1, 2, 3)},
    "Cropping1D": (Cropping1DArgs, 1, "crop"),  # Keras' defaults: 1, 0, 1; no data_format in 1D
    "Cropping2D": (Cropping2DArgs, 2, "crop"),
    "Cropping3D": (CroppingArgs, 3, "crop"),
    "UpSampling1D": (UpSampling1DArgs, 1, "upsample"),  # size only
    "UpSampling2D": (UpSamplingArgs, 2, "upsample"),
    "UpSampling3D": (UpSampling3DArgs, 3, "upsample"),  # no interpolation
    **{f"SpatialDropout{n}D": (SpatialDropoutArgs, n, "spatial_dropout") for n in (1, 2, 3)},
    "Dense": (DenseArgs, None, "dense"),
    "Embedding": (EmbeddingArgs, None, "embedding"),
    "MultiHeadAttention": (MultiHeadAttentionArgs, None, "attention"),
    "Flatten": (FlattenArgs, None, "flatten"),
    "BatchNormalization": (BatchNormArgs, None, "batchnorm"),
    "LayerNormalization": (LayerNormArgs, None, "layernorm"),
    "Dropout": (DropoutArgs, None, "dropout"),
    "Activation": (ActivationArgs, None, "activation"),
    "ReLU": (ReLUArgs, None, "relu"),
    "LeakyReLU": (LeakyReLUArgs, None, "leaky_relu"),
    "PReLU": (PReLUArgs, None, "prelu"),
    "ELU": (ELUArgs, None, "elu"),
    "Softmax": (SoftmaxArgs, None, "softmax"),
    "Reshape": (ReshapeArgs, None, "reshape"),
    "Permute": (PermuteArgs, None, "permute"),
    "Sequential": (SequentialArgs, None, "sequential"),
    "Add": (AddArgs, None, "residual"),
    "Concatenate": (ConcatenateArgs, None, "concat"),
    "Multiply": (MultiplyArgs, None, "scale"),
    **{kind: (AddArgs, None, "residual") for kind in ("Subtract", "Average", "Maximum", "Minimum")},
    "graph": (GraphArgs, None, "graph"),
    "repeat": (RepeatArgs, None, "repeat"),
    "Rescaling": (RescalingArgs, None, "rescaling"),
    "Normalization": (NormalizationArgs, None, "normalization"),
    "LayerScale": (LayerScaleArgs, None, "layer_scale"),
    "ops.add": (ConstantArgs, None, "constant"),
    "ops.multiply": (ConstantArgs, None, "constant"),
}
# the class Keras shows for a spec's type, where the two differ (an op on a number)
SHOWN = {"ops.add": "Add", "ops.multiply": "Multiply"}
# what a Keras call's label leaves out: what every layer takes, the layout (the spec's), the
# lists of layers a block holds, a graph's join (its class: Add())
UNLABELLED = {"data_format", "layers", "body", "shortcut", "branches", "paths", "output", "join"}
# the order of Keras' first, positional arguments (SeparableConv2D(filters, kernel_size))
_POSITIONAL = {"filters": 0, "units": 1, "kernel_size": 2}
# optional arguments Keras takes first, written first where given: MaxPooling2D(3)
_LEADING = {"pool_size"}


# arguments a label writes as given (a tuple of equal sizes kept whole: Reshape((4, 4)))
_AS_WRITTEN = {"target_shape", "dims", "padding", "cropping"}


class _Written:
    """A tuple (or nested pairs) shown as Keras writes it: ``((1, 2), (0, 0))``."""

    def __init__(self, value: Any) -> None:
        self.value = value

    def __str__(self) -> str:
        def text(v: Any) -> str:
            if isinstance(v, list | tuple):
                inner = ", ".join(text(x) for x in v)
                return f"({inner},)" if len(v) == 1 else f"({inner})"
            return str(v)

        return text(self.value)


def _sizes(value: Any, like: Any = None) -> tuple[Any, ...]:
    """An int-or-tuple argument as a tuple (an int repeated as often as ``like`` has sizes)."""
    if isinstance(value, list | tuple):
        return tuple(value)
    return (value,) * (len(like) if isinstance(like, list | tuple) else 1)


def keras_label(shown: str, args: Args, first: str | None = None) -> str:
    """The Keras call as written, the one rule for every Keras layer's label: its required
    arguments in order (and ``first``, the argument a leaf shows first even at its default:
    ZeroPadding2D's padding; a pool_size given), then each argument whose value is not Keras'
    default (nor the value a None default stands for: a pool's strides equal to its
    pool_size): ``SeparableConv2D(16, 3, strides=2, padding="same")``, ``Add()``,
    ``ZeroPadding2D(1)``, ``Reshape((4, 4))``, ``BatchNormalization(epsilon=1e-05)``."""
    left = set(Args.model_fields) | UNLABELLED
    fields = {n: f for n, f in type(args).model_fields.items() if n not in left}
    required = [
        n
        for n, f in fields.items()
        if f.is_required() or n == first or (n in _LEADING and getattr(args, n) != f.default)
    ]
    required.sort(key=lambda n: _POSITIONAL.get(n, len(_POSITIONAL)))

    def value(n: str) -> Any:
        v = getattr(args, n)
        return _Written(v) if n in _AS_WRITTEN and isinstance(v, list | tuple) else v

    positional = [value(n) for n in required]
    implied = args.implied()

    def default(n: str, f: Any) -> bool:
        v = getattr(args, n)
        return v == f.default or (n in implied and _sizes(v, implied[n]) == _sizes(implied[n], v))

    keywords = {n: value(n) for n, f in fields.items() if n not in required and not default(n, f)}
    return keras_call(shown, *positional, **keywords)


# Keras' activation names (keras.activations) → convcalc's types
ACTIVATIONS = {
    "relu": "relu",
    "relu6": "relu6",
    "sigmoid": "sigmoid",
    "tanh": "tanh",
    "softmax": "softmax",
    "log_softmax": "log_softmax",
    "gelu": "gelu",
    "silu": "silu",
    "swish": "silu",
    "elu": "elu",
    "softplus": "softplus",
    "mish": "mish",
    "hard_sigmoid": "hardsigmoid",
    "hard_silu": "hardswish",
    "hard_swish": "hardswish",
    "leaky_relu": "leaky_relu",
    "linear": "identity",
}
# where keras.activations' default differs from the PyTorch module's: leaky_relu's
# negative_slope is 0.2 in Keras (nn.LeakyReLU's 0.01); elu's alpha (1.0), gelu's exact form
# and the others' are the modules' own
ACTIVATION_FIELDS: dict[str, dict[str, Any]] = {"leaky_relu": {"negative_slope": 0.2}}


def activation_layer(name: str, dim: int, layer_name: str | None = None) -> Layer:
    """Keras' activation ``name`` as convcalc's layer, with Keras' defaults
    (:data:`ACTIVATION_FIELDS`); a softmax along the records' ``dim``."""
    fields = dict(ACTIVATION_FIELDS.get(name, {}))
    if "softmax" in name:
        fields["dim"] = dim
    return _make(ACTIVATIONS[name], name=layer_name, **fields)


# the builders of blocks: the Keras layers (and convcalc's repeat) that hold lists of layers
BLOCKS = ("sequential", "residual", "concat", "scale", "repeat", "graph")
# layers called on their input twice, (x, x), which keras.Sequential cannot call
SELF_CALLED = frozenset({"MultiHeadAttention"})
# keras.ops calls on a number: operations of the functional graph, not keras.layers
OP_TYPES = frozenset({"ops.add", "ops.multiply"})
# the layers a layer's build makes inside it, each taking a fresh name of its class (Keras
# 3.15.1, every class read here built live: only MultiHeadAttention makes any)
SUBLAYERS = {"MultiHeadAttention": ("Softmax", "Dropout")}


def plain_layer(item: dict[str, Any]) -> bool:
    """A layer keras.Sequential takes as it is: neither a block nor a keras.ops call nor a
    layer called on (x, x)."""
    kind = item["type"]
    return CLASSES[kind][2] not in BLOCKS and kind not in OP_TYPES and kind not in SELF_CALLED


def inlined(item: dict[str, Any]) -> bool:
    """A Sequential that is no keras.Sequential model but a stretch of its parent model, its
    layers among the model's (its own names in the model's scope, no input layer nor name of
    its own): one holding a layer keras.Sequential cannot take (:func:`plain_layer`), directly
    or through the Sequentials it holds. One holding only plain layers and such Sequentials is
    a keras.Sequential model, as Python writes it (an explicit stack: nesting is deep)."""
    if item["type"] != "Sequential":
        return False
    todo = [item]
    while todo:
        for layer in todo.pop()["layers"]:
            if layer["type"] == "Sequential":
                todo.append(layer)
            elif not plain_layer(layer):
                return True
    return False


Node = TypeVar("Node")


@dataclass(frozen=True)
class Made(Generic[Node]):
    """One Keras layer that takes a name in a fresh session: ``node`` (None: a model's input
    layer), ``scope`` the model it is a layer of (``()`` the top, else a Sequential's keys),
    its ``name`` (the one ``written``, else the one Keras gives)."""

    node: Node | None
    scope: Keys
    name: str
    written: bool


def fresh_names(
    top: Sequence[Node],
    keys: Callable[[Node], Keys],
    lists: Callable[[Node], Sequence[Sequence[Node]]],
    classes: Mapping[Keys, str],
    names: Mapping[Keys, str],
    inline: Collection[Keys],
) -> Iterator[Made[Node]]:
    """Each Keras layer's name in the order a fresh session makes it, as the Keras export
    builds the spec: the model's input layer first; a block's layers (``lists``: a repeat's
    copies one after another) before the block; a Sequential's input layer as it is built,
    before its layers; an inlined Sequential (:func:`inlined`) only its layers, in its parent's
    scope. An unnamed layer of class C is ``snake(C)`` then ``snake(C)_n``, n counted per class
    over the whole session (named layers take no number; a layer's own sublayers,
    :data:`SUBLAYERS`, take theirs). Stops past :data:`MAX_NODES` layers."""
    counts: dict[str, int] = {}

    def given(cls: str) -> str:
        base = "input_layer" if cls == "InputLayer" else snake(cls)
        n = counts[base] = counts.get(base, -1) + 1
        return base if n == 0 else f"{base}_{n}"

    yield Made(None, (), given("InputLayer"), False)
    todo: list[tuple[Node, Keys, bool]] = [(node, (), False) for node in reversed(top)]
    made = 0
    while todo and made <= MAX_NODES:
        node, scope, done = todo.pop()
        at = keys(node)
        cls = classes.get(at)
        own = cls == "Sequential" and at not in inline  # a model of its own
        parts = () if done else lists(node)
        if parts:
            inner = at if own else scope
            if own:
                yield Made(None, inner, given("InputLayer"), False)
            todo.append((node, scope, True))
            todo.extend(
                (child, inner, False) for part in reversed(parts) for child in reversed(part)
            )
            continue
        if cls is None or cls == "repeat" or (cls == "Sequential" and not own):
            continue  # a step of a Keras layer, convcalc's repeat, an inlined Sequential
        made += 1
        written = names.get(at)
        yield Made(node, scope, written if written is not None else given(cls), written is not None)
        for sub in SUBLAYERS.get(cls, ()):
            given(sub)


@dataclass
class _KList:
    """A list of layers being read: the next item's index, the layers built, the shape so far
    (the input it was given first). ``named``: one item, named by ``keys`` itself."""

    items: list[Any]
    keys: Keys
    shape: Shape
    depth: int
    owner: _KOpen | None = None
    named: bool = False
    next: int = 0
    layers: list[Layer] = default(default_factory=list)
    given: Shape = ()

    def __post_init__(self) -> None:
        self.given = self.shape

    def keys_of(self, i: int) -> Keys:
        return self.keys if self.named else (*self.keys, i)


@dataclass
class _KOpen:
    """A block whose lists are being read; ``outs`` holds each list's layers and output.
    A repeat reads its one list again on each copy's output, until ``times`` copies, or a copy
    that keeps its input's shape (every later copy is then the same)."""

    builder: str
    kind: str
    args: Any
    item: Any
    keys: Keys
    input: Shape
    depth: int
    lists: list[tuple[Keys, Any]]
    parent: _KList | None = None
    outs: list[tuple[list[Layer], Shape]] = default(default_factory=list)
    shape: Shape = ()  # a repeat: the last copy's output
    copies: int = 0
    start: int = 0  # a repeat: where its copy's trace starts in the walk's ``built``
    trace: list[Any] = default(default_factory=list)
    done: bool = False
    reads: list[int | None] = default(default_factory=list)  # a graph: the path each reads

    def following(self, walk: _Walk) -> _KList | None:
        """The next list to read, or None when the block's lists are all read."""
        if self.builder == "repeat":
            if self.done:
                return None
            self.start = len(walk.built)
            given = self.shape if self.copies else self.input
            return walk.open_list(
                self.lists[0][1], (*self.keys, "layers"), given, self.depth + 1, self
            )
        if len(self.outs) == len(self.lists):
            return None
        keys, items = self.lists[len(self.outs)]
        source = self.reads[len(self.outs)] if self.reads else None
        given = self.input if source is None else self.outs[source][1]
        return walk.open_list(items, (*self.keys, *keys), given, self.depth + 1, self)

    def read(self, walk: _Walk, frame: _KList) -> None:
        """A list read: kept (a repeat's first copy), or checked against the first copy."""
        if self.builder != "repeat":
            self.outs.append((frame.layers, frame.shape))
            return
        copy = walk.built[self.start :]
        if not self.copies:
            self.outs.append((frame.layers, frame.shape))
            self.trace = copy
            if self.args.times * max(len(copy), 1) > MAX_NODES:
                raise walk.error(
                    f"unrolls to more than the {MAX_NODES:,} layers a network may hold",
                    self.keys,
                    self.item,
                    "times",
                )
        else:
            if copy != self.trace:
                raise walk.error(
                    f"copy {self.copies + 1} of the layers is built differently from the first "
                    f"(its input is {_keras_text(walk.keras_shape(frame.given))}, the first's "
                    f"{_keras_text(walk.keras_shape(self.input))}): Keras builds each copy for "
                    "its own input, and a repeat holds one copy; write the copies out",
                    self.keys,
                    self.item,
                    "times",
                )
            del walk.built[self.start + len(self.trace) :]
        self.copies += 1
        self.done = self.copies == self.args.times or frame.shape == frame.given
        self.shape = frame.shape


def keras_field(field: str | None, item: Any) -> str | None:
    """A refusal's field (a layer object's, PyTorch's name) as the Keras argument written in
    ``item``: ``out_channels`` → ``filters``, a pool's ``kernel_size`` → ``pool_size``; None
    where the argument is not written (a default at fault: the layer's line is named)."""
    word = KERAS_ARGUMENTS.get(field, field) if field else None
    if word == "kernel_size" and isinstance(item, dict) and "pool_size" in item:
        word = "pool_size"
    return word if isinstance(item, dict) and word in item else None


class _Walk:
    """One Keras spec being read: the document, the data format, the classes written."""

    def __init__(self, doc: Document, channels_last: bool) -> None:
        self.doc = doc
        self.channels_last = channels_last
        self.classes: dict[Keys, str] = {}
        self.names: dict[Keys, str] = {}
        self.built: list[Any] = []  # every leaf built, and each block's kind, in order
        self.types: dict[Keys, str] = {}  # the type written, by where it is written
        self.repeats: dict[Keys, int] = {}  # each repeat's copies
        self.validated: dict[int, Args] = {}  # id(mapping) → its arguments
        self.children: dict[Keys, list[tuple[Keys, int]]] = {}  # a block's lists: keys, length
        self.inline: set[Keys] = set()  # the Sequentials the export writes inline (inlined)

    # --- errors -----------------------------------------------------------------------------

    def error(
        self, message: str, keys: Keys, item: Any = None, field: str | None = None
    ) -> SpecError:
        """A located error: the file, the line of the field (or the layer), the layer's path
        and Keras class, the field in Keras' name."""
        kind = item.get("type") if isinstance(item, dict) else None
        line = self.doc.line_of([*keys, field] if field else list(keys))
        return SpecError(
            message,
            file=self.doc.file,
            line=line,
            path=format_path(list(keys)),
            layer_type=yaml_text(kind) if kind is not None else None,
            field=field,
        )

    def refused(self, exc: Refusal, keys: Keys, item: Any) -> SpecError:
        return self.error(exc.message, keys, item, keras_field(exc.field, item))

    # --- shapes -----------------------------------------------------------------------------

    def keras_shape(self, shape: Shape) -> Shape:
        if self.channels_last and len(shape) > 1:
            return (*shape[1:], shape[0])
        return shape

    def internal(self, shape: tuple[int, ...]) -> tuple[int, ...]:
        """A shape Keras writes, channels-first: (H, W, C) → (C, H, W)."""
        if self.channels_last and len(shape) > 1:
            return (shape[-1], *shape[:-1])
        return shape

    # --- the walk: blocks read with an explicit stack, depth first, however deep -----------

    def chain(self, items: Any, keys: Keys, shape: Shape, depth: int) -> tuple[list[Layer], Shape]:
        """The layers of a list, and the shape it gives."""
        top = self.open_list(items, keys, shape, depth)
        self.drive(top)
        return top.layers, top.shape

    def one(self, item: Any, keys: Keys, shape: Shape, depth: int) -> tuple[Layer, Shape]:
        """One Keras layer read: its layer object (a block for a Keras layer that is several
        steps of the records) and its output shape."""
        top = _KList([item], keys, shape, depth, named=True)
        self.drive(top)
        return top.layers[0], top.shape

    def open_list(
        self, items: Any, keys: Keys, shape: Shape, depth: int, owner: _KOpen | None = None
    ) -> _KList:
        """A list of layers to read on ``shape``: refused if it is not a list, or nests past
        :data:`MAX_DEPTH`."""
        if not isinstance(items, list):
            raise self.error("must be a list of layers", keys)
        if depth > MAX_DEPTH:
            raise self.error(
                f"blocks nest more than {MAX_DEPTH:,} deep in a Keras spec (a YAML file holds "
                "998 in block style, 498 in flow style)",
                keys,
            )
        return _KList(items, keys, shape, depth, owner=owner)

    def drive(self, top: _KList) -> None:
        """Read ``top`` and every block in it: a stack of open lists and blocks, no recursion.
        A leaf is built and run where it is met; a block is opened, its lists read one after
        the other (each on the input its kind gives it), then merged into its output."""
        stack: list[_KList | _KOpen] = [top]
        while stack:
            frame = stack[-1]
            if isinstance(frame, _KOpen):
                following = frame.following(self)
                if following is not None:
                    stack.append(following)
                    continue
                stack.pop()
                try:
                    layer, out = self.close(frame)
                except Refusal as exc:
                    raise self.refused(exc, frame.keys, frame.item) from None
                except ValidationError as exc:
                    raise self.refused(_refusal(exc), frame.keys, frame.item) from None
                self.record(frame.keys, frame.kind, frame.args)
                if inlined(frame.item):
                    self.inline.add(frame.keys)
                self.built.append(frame.builder)  # a block, in a repeat's trace
                assert frame.parent is not None
                frame.parent.layers.append(layer)
                frame.parent.shape = out
                continue
            if frame.next == len(frame.items):
                stack.pop()
                if frame.owner is not None:
                    frame.owner.read(self, frame)
                continue
            i = frame.next
            frame.next += 1
            keys = frame.keys_of(i)
            opened = self.open(frame.items[i], keys, frame.shape, frame.depth)
            if isinstance(opened, _KOpen):
                opened.parent = frame
                stack.append(opened)
            else:
                layer, out = opened
                frame.layers.append(layer)
                frame.shape = out
                self.built.append(layer)

    def shown_class(self, kind: str, args: Args) -> str:
        """The Keras class shown for a spec's ``type`` (a graph's: its join's)."""
        return JOINS[args.join].keras if isinstance(args, GraphArgs) else SHOWN.get(kind, kind)

    def record(self, keys: Keys, kind: str, args: Args) -> None:
        self.classes[keys] = self.shown_class(kind, args)
        self.types[keys] = kind
        if isinstance(args, RepeatArgs):
            self.repeats[keys] = args.times
        if args.name is not None:
            self.names[keys] = args.name

    def check_names(self) -> None:
        """Each name written once in its model, as Keras requires ('The name "x" is used 2
        times in the model'): a model is the spec's top level or a Sequential (its own model,
        whose layers' names are its own, unless the export writes it inline: :func:`inlined`);
        a named layer in a repeat of 2 copies or more is the name used once per copy.
        convcalc's repeat has no Keras name of its own."""
        seen: dict[tuple[Keys, str], Keys] = {}
        for keys, name in self.names.items():
            if self.types[keys] == "repeat":
                continue
            scope = next(
                (
                    keys[:n]
                    for n in range(len(keys) - 1, 0, -1)
                    if keys[:n] in self.types
                    and (
                        (self.types[keys[:n]] == "Sequential" and keys[:n] not in self.inline)
                        or self.repeats.get(keys[:n], 1) > 1
                    )
                ),
                (),
            )
            item = {"type": self.types[keys]}
            if scope in self.repeats:
                raise self.error(
                    f"the name {yaml_text(name)!r} is used {self.repeats[scope]} times, once by "
                    "each copy of the repeat: Keras refuses a name used twice in a model (leave "
                    "the name out, or write the copies out)",
                    keys,
                    item,
                    "name",
                )
            first = seen.setdefault((scope, name), keys)
            if first != keys:
                raise self.error(
                    f"the name {yaml_text(name)!r} is already the name of "
                    f"{format_path(list(first))}: Keras refuses a name used twice in a model "
                    "(all names must be unique)",
                    keys,
                    item,
                    "name",
                )

    def check_given_names(self, count: int) -> None:
        """Each name written differs from the names Keras gives the unnamed layers of its model
        (Keras' auto-naming does not skip a name taken: Conv2D(name="conv2d_1") then two unnamed
        Conv2D are conv2d_1, conv2d, conv2d_1, and Keras refuses the model). The names given
        are a fresh session's (:func:`snake` of the class, then ``_1``, ``_2``, … per class) in
        the order the layers are made (:meth:`made`); each model also has an input layer,
        ``input_layer`` at the top, ``input_layer_n`` for a Sequential, in the order they are
        built. Refused at the later of the two layers, field name; only run when a name written
        could be one Keras gives."""
        if not self.names:
            return
        bases = {snake(c) for c in set(self.classes.values())} | {"input_layer"}

        def given(name: str) -> bool:
            base, _, n = name.rpartition("_")
            return name in bases or (base in bases and n.isdigit())

        if not any(given(name) for name in self.names.values()):
            return
        seen: dict[tuple[Keys, str], Keys | None] = {}  # (model, name) → who has it (None: input)
        for made in self.made(count):
            keys, scope, name, written = made.node, made.scope, made.name, made.written
            if (scope, name) not in seen:
                seen[scope, name] = keys
                continue
            first = seen[scope, name]
            later = keys if keys is not None else scope  # a model's input is made first
            item = {"type": self.types[later]} if later else None
            if first is None:
                where = f"the Sequential {format_path(list(scope))}" if scope else "the model"
                earlier = f"the input layer of {where}"
            else:
                earlier = format_path(list(first))
                earlier += "" if first in self.names else f" (unnamed {self.classes[first]})"
            if not written:
                message = (
                    f"Keras names this unnamed {self.classes[later]} {name!r} in a fresh "
                    f"session, already the name of {earlier}: Keras refuses a name used twice "
                    "in a model (all names must be unique); give this layer a name, or rename "
                    "the other"
                )
            else:
                message = (
                    f"the name {yaml_text(name)!r} is the name Keras gives {earlier} in a fresh "
                    "session: Keras refuses a name used twice in a model (all names must be "
                    "unique); choose another name"
                )
            raise self.error(message, later, item, "name")

    def made(self, count: int) -> Iterator[Made[Keys]]:
        """The names of the spec's Keras layers in a fresh session (:func:`fresh_names`), each
        layer by where it is written."""

        def lists(keys: Keys) -> list[list[Keys]]:
            parts = [[(*at, i) for i in range(n)] for at, n in self.children.get(keys, [])]
            return parts * self.repeats.get(keys, 1)

        top = [("layers", i) for i in range(count)]
        return fresh_names(top, lambda k: k, lists, self.classes, self.names, self.inline)

    def open(self, item: Any, keys: Keys, shape: Shape, depth: int) -> tuple[Layer, Shape] | _KOpen:
        """A leaf read (its layer and output), or a block opened for its lists to be read."""
        if not isinstance(item, dict):
            raise self.error("a layer must be a mapping such as {type: ReLU}", keys)
        kind = item.get("type")
        if kind is None:
            raise self.error(
                "a layer needs a 'type', a Keras class such as Conv2D or Dense", keys, item
            )
        if not isinstance(kind, str) or kind not in CLASSES:
            raise self.error(unknown_class(kind), keys, item, "type")
        cls, rank, builder = CLASSES[kind]
        args = self.validated.get(id(item))  # a repeat's copies read the same mapping again
        if args is None:
            try:
                args = self.validated[id(item)] = cls.model_validate(item)
            except ValidationError as exc:
                raise self._invalid(exc, keys, item, cls) from None
            if args.name is not None and "/" in args.name:
                raise self.error(
                    f"{yaml_text(args.name)!r} cannot be a name: Keras' names cannot contain "
                    "the character '/'",
                    keys,
                    item,
                    "name",
                )
        fmt = getattr(args, "data_format", None)
        if fmt is not None and (fmt == "channels_last") != self.channels_last:
            spec = "channels_last" if self.channels_last else "channels_first"
            raise self.error(
                f"is {fmt}, but the spec is {spec}: convcalc reads a whole spec in one "
                "data_format (write data_format at the top)",
                keys,
                item,
                "data_format",
            )
        if rank is not None and len(shape) != rank + 1:
            raise self.error(
                f"{kind} needs an input of {rank + 1} dimensions (batch excluded), but gets "
                f"{_keras_text(self.keras_shape(shape))}",
                keys,
                item,
            )
        if builder in BLOCKS:
            return self.open_block(builder, kind, args, item, keys, shape, depth)
        try:
            layer = BUILDERS[builder](self, args, shape)
            if layer.call_label() is None and kind not in SHOWN:
                # every Keras layer labelled by one rule, its call as written (keras_label):
                # the required arguments, then those that differ from Keras' defaults
                first = {"pad": "padding", "crop": "cropping"}.get(builder)
                label = keras_label(self.shown_class(kind, args), args, first)
                layer = layer.as_call(label, self.channels_last)
            out = _run(layer, shape)
        except Refusal as exc:
            raise self.refused(exc, keys, item) from None
        except ValidationError as exc:  # a layer object's field stricter than Keras' argument
            raise self.refused(_refusal(exc), keys, item) from None
        self.record(keys, kind, args)
        return layer, out

    def open_block(
        self, builder: str, kind: str, args: Any, item: Any, keys: Keys, shape: Shape, depth: int
    ) -> _KOpen:
        """A Keras Sequential, Add, Concatenate or Multiply (or convcalc's repeat) opened: the
        lists it reads, each read on the block's input (a repeat's copies one after another)."""
        if builder == "concat":
            if not isinstance(item["branches"], list) or not item["branches"]:
                raise self.error("must be a non-empty list of branches", keys, item, "branches")
            self.check_join_axis(args.axis, keys, item, shape)
            lists: list[tuple[Keys, Any]] = [
                (("branches", i), b) for i, b in enumerate(item["branches"])
            ]
        elif builder in ("sequential", "repeat"):
            if builder == "sequential" and item["layers"] == []:
                raise self.error(
                    "a Sequential with no layers: Keras refuses to build it ('cannot be built "
                    "because it has no layers'); give it a layer or leave it out",
                    keys,
                    item,
                    "layers",
                )
            lists = [(("layers",), item["layers"])]
        elif builder == "graph":
            return self.open_graph(args, item, keys, shape, depth)
        elif builder == "residual" or item.get("shortcut") is not None:
            lists = [(("body",), item["body"]), (("shortcut",), item.get("shortcut", []))]
        else:
            lists = [(("body",), item["body"])]
        self.remember(keys, lists)
        return _KOpen(builder, kind, args, item, keys, shape, depth, lists)

    def remember(self, keys: Keys, lists: list[tuple[Keys, Any]]) -> None:
        """A block's lists (where, and how many layers), for the names Keras gives."""
        self.children[keys] = [
            ((*keys, *at), len(items) if isinstance(items, list) else 0) for at, items in lists
        ]

    def check_join_axis(self, axis: int, keys: Keys, item: Any, shape: Shape) -> None:
        """A concatenation's ``axis`` must be the channels': -1 (or the last axis) channels-last,
        1 channels-first (Keras counts the batch)."""
        if axis not in ((-1, len(shape)) if self.channels_last else (1,)):
            last = -1 if self.channels_last else 1
            message = f"axis {axis}: convcalc joins along the channels only (axis {last})"
            raise self.error(message, keys, item, "axis")

    def open_graph(
        self, args: GraphArgs, item: Any, keys: Keys, shape: Shape, depth: int
    ) -> _KOpen:
        """A graph opened: each path a mapping of ``name``, ``from`` (an earlier path's name)
        and ``layers``, read on the block's input or on the output of the path it reads."""
        if args.join == "concat":
            self.check_join_axis(args.axis, keys, item, shape)
        if not args.paths:
            raise self.error("must be a non-empty list of paths", keys, item, "paths")
        lists: list[tuple[Keys, Any]] = []
        reads: list[int | None] = []
        seen: dict[str, int] = {}
        for i, path in enumerate(args.paths):
            where = (*keys, "paths", i)
            if not isinstance(path, dict) or not isinstance(path.get("name"), str):
                raise self.error("a path must be a mapping with a name, from and layers", where)
            extra = sorted(str(k) for k in path if k not in ("name", "from", "layers"))
            if extra:
                raise self.error(f"a path takes name, from and layers, not {extra[0]!r}", where)
            source = path.get("from")
            if source is not None and source not in seen:
                raise self.error(
                    f"from {yaml_text(source)!r} names no earlier path: a path reads the "
                    "block's input or an earlier path's output",
                    (*where, "from"),
                )
            reads.append(None if source is None else seen[source])
            seen.setdefault(path["name"], i)
            lists.append((("paths", i, "layers"), path.get("layers", [])))
        self.remember(keys, lists)
        return _KOpen("graph", "graph", args, item, keys, shape, depth, lists, reads=reads)

    def close(self, frame: _KOpen) -> tuple[Layer, Shape]:
        """A block whose lists are read: convcalc's block, and its output merged."""
        extra: dict[str, Any] = {"name": frame.args.name, "trainable": frame.args.trainable}
        layers = [made for made, _ in frame.outs]
        label = keras_label(self.shown_class(frame.kind, frame.args), frame.args)
        if frame.builder == "sequential":
            block = _make("sequential", layers=layers[0], **extra)
            return block.as_call(label, self.channels_last), frame.outs[0][1]
        if frame.builder == "repeat":
            return _make("repeat", times=frame.args.times, layers=layers[0], **extra), frame.shape
        if frame.builder == "concat":
            block = _make("concat", branches=layers, **extra)
        elif frame.builder == "graph":
            block = self.make_graph(frame, layers, extra)
        elif frame.builder == "residual" or len(layers) == 2:  # Multiply of body and shortcut
            join = "add" if frame.kind == "Add" else snake(frame.kind)
            body, shortcut = layers
            block = _make("residual", body=body, shortcut=shortcut, join=join, **extra)
        else:
            names = ("body", "shortcut")[: len(layers)]
            block = _make(frame.builder, **dict(zip(names, layers, strict=True)), **extra)
        block = block.as_call(label, self.channels_last)
        outs = [out for _, out in frame.outs]
        paths = block.paths()  # type: ignore[attr-defined]
        merged = block.merge(frame.input, list(zip(paths, outs, strict=True)))  # type: ignore[attr-defined]
        return block, merged

    def make_graph(self, frame: _KOpen, layers: list[list[Layer]], extra: dict[str, Any]) -> Layer:
        """convcalc's graph block of a graph whose paths are read; its own checks (each
        name once, each output a path's) located at the field at fault."""
        args = frame.args
        paths = [
            {**{k: v for k, v in written.items() if k != "layers"}, "layers": made}
            for written, made in zip(args.paths, layers, strict=True)
        ]
        fields: dict[str, Any] = {"join": args.join, "paths": paths}
        if args.output is not None:
            fields["output"] = args.output
        try:
            return _make("graph", **fields, **extra)
        except ValidationError as exc:
            err = exc.errors()[0]
            loc = tuple(err["loc"])
            message = str((err.get("ctx") or {}).get("message", err["msg"]))
            keys = (*frame.keys, *loc[:-1]) if len(loc) > 1 else frame.keys
            field = str(loc[-1]) if loc else None
            raise self.error(message, keys, frame.item if len(loc) == 1 else None, field) from None

    def _invalid(
        self, exc: ValidationError, keys: Keys, item: dict[str, Any], cls: type[Args]
    ) -> SpecError:
        err = exc.errors()[0]
        for candidate in exc.errors():  # an unknown argument explains a missing one
            if candidate["type"] == "extra_forbidden":
                err = candidate
                break
        field = str(err["loc"][0]) if err["loc"] else None
        kind = err["type"]
        if kind == "extra_forbidden":
            valid = [f for f in cls.model_fields if f != "type" and not _rare(f)]
            message = _unknown_argument(yaml_text(field), item["type"], valid)
        elif kind == "missing":
            message = "is required but missing"
        elif kind == "convcalc":
            message = str(err["ctx"]["message"])
        elif kind == "literal_error":
            message = f"must be {err['ctx']['expected']}, not {show(err['input'])}"
        elif kind == "int_type":
            message = f"must be an integer, not {show(err['input'])}"
        else:
            message = str(err["msg"])
        return self.error(message, keys, item, field)


def _refusal(exc: ValidationError) -> Refusal:
    """A pydantic error of a layer object a builder makes (its PyTorch-side fields may be
    stricter than the Keras arguments they come from) as a :class:`Refusal` of its field, which
    :meth:`_Walk.refused` names in Keras' words (``eps`` → ``epsilon``) where the spec wrote
    it, else locates at the layer: never an internal error."""
    err = exc.errors()[0]
    loc = err["loc"]
    message = str((err.get("ctx") or {}).get("message", err["msg"]))
    return Refusal(message, str(loc[0]) if loc else None)


def _rare(field: str) -> bool:
    return field in ("name", "trainable", "dtype") or field.endswith(
        ("_initializer", "_regularizer", "_constraint")
    )


def unknown_class(kind: Any) -> str:
    """An unknown Keras class: PyTorch's type named as such, or the closest Keras class."""
    from convcalc.layers.registry import KINDS

    text = yaml_text(kind)
    names = list(CLASSES)
    if text in KINDS:
        close = difflib.get_close_matches(text, [n.lower() for n in names], n=3, cutoff=0.3)
        near = [n for n in names if n.lower() in close]
        hint = f" (write {' or '.join(near)})" if near else ""
        return (
            f"'{text}' is a PyTorch type, but this is a Keras spec (framework: keras): write "
            f"Keras' class names{hint}"
        )
    close = difflib.get_close_matches(text, names, n=1) if len(text) <= 40 else []
    hint = f" (did you mean '{close[0]}'?)" if close else ""
    return f"unknown Keras layer '{text}'{hint}; convcalc reads: {', '.join(names)}"


def _unknown_argument(name: str, kind: str, valid: list[str]) -> str:
    if KERAS_ARGUMENTS.get(name) in valid:
        return f"'{name}' is PyTorch's name: Keras' {kind} calls it '{KERAS_ARGUMENTS[name]}'"
    if name in ("in_channels", "in_features", "num_features", "input_shape"):
        return f"{name} is never written: it comes from the previous layer's output"
    close = difflib.get_close_matches(name, valid, n=1) if len(name) <= 40 else []
    hint = f"did you mean '{close[0]}'? " if close else ""
    return f"unknown argument: {hint}{kind} takes {', '.join(valid) or 'no arguments'}"


def _keras_text(shape: Shape) -> str:
    """A shape as Keras prints it: ``(None, 61, 61, 32)``."""
    return "(" + ", ".join(["None", *(str(n) for n in shape)]) + ")"


def _run(layer: Layer, shape: Shape) -> Shape:
    """The output of a leaf, or of the sequential a Keras layer became."""
    inner = getattr(layer, "layers", None)
    if inner is None:
        return layer.forward(shape).output
    for piece in inner:
        shape = piece.forward(shape).output
    return shape


def _make(kind: str, **fields: Any) -> Layer:
    return layer_class(kind).model_validate({"type": kind, **fields})


def _last_axis(w: _Walk, shape: Shape) -> int:
    """Keras' last axis (where its softmax acts by default) as the records' softmax ``dim``,
    which counts the batch as PyTorch's does: records_dim(rank, rank − 1) + 1, so the
    channels (1) of a channels-last image or sequence, the features (1) of a vector, the
    last spatial dimension (rank) channels-first."""
    return records_dim(len(shape), len(shape) - 1, w.channels_last) + 1


def _with_activation(
    w: _Walk, layer: Layer, activation: str | None, name: str | None, dim: int
) -> Layer:
    """A layer with Keras' ``activation`` argument: the layer, then the activation (a
    softmax along ``dim``, Keras' last axis: :func:`_last_axis`), labelled as the Keras
    call it is, ``Activation("relu")``."""
    if activation is None or activation == "linear":
        return layer
    if activation not in ACTIVATIONS:
        raise Refusal(
            f"activation '{activation}' is not one convcalc reads: "
            f"{', '.join(sorted(ACTIVATIONS))}",
            "activation",
        )
    then = activation_layer(activation, dim)
    then = then.as_call(keras_call("Activation", activation), w.channels_last)
    return _make("sequential", layers=[layer, then], name=name)


def _spatial(value: int | tuple[int, ...], rank: int, field: str) -> tuple[int, ...]:
    """Keras' int-or-tuple argument for each spatial dimension (a tuple of ``rank``)."""
    if isinstance(value, int):
        return (value,) * rank
    if len(value) != rank:
        raise Refusal(f"must be an integer or a tuple of {rank} integers, not {len(value)}", field)
    return value


def _conv(w: _Walk, a: ConvArgs, shape: Shape) -> Layer:
    rank = len(shape) - 1
    if a.padding == "causal" and rank != 1:
        raise Refusal("'causal' padding is only for Conv1D", "padding")
    layer = KerasConv(
        type="conv",
        out_channels=a.filters,
        kernel_size=_spatial(a.kernel_size, rank, "kernel_size"),
        stride=_spatial(a.strides, rank, "strides"),
        dilation=_spatial(a.dilation_rate, rank, "dilation_rate"),
        groups=a.groups,
        bias=a.use_bias,
        padding=a.padding,
        name=a.name,
        trainable=a.trainable,
    )
    if a.filters % a.groups:
        raise Refusal(
            f"the number of filters {a.filters} must be evenly divisible by groups {a.groups}",
            "groups",
        )
    return _with_activation(w, layer, a.activation, a.name, _last_axis(w, shape))


def _transpose(w: _Walk, a: TransposeArgs, shape: Shape) -> Layer:
    rank = len(shape) - 1
    op = None if a.output_padding is None else _spatial(a.output_padding, rank, "output_padding")
    layer = KerasConvTranspose(
        type="conv_transpose",
        out_channels=a.filters,
        kernel_size=_spatial(a.kernel_size, rank, "kernel_size"),
        stride=_spatial(a.strides, rank, "strides"),
        dilation=_spatial(a.dilation_rate, rank, "dilation_rate"),
        bias=a.use_bias,
        padding=a.padding,
        output_padding=op,
        name=a.name,
        trainable=a.trainable,
    )
    return _with_activation(w, layer, a.activation, a.name, _last_axis(w, shape))


def _depthwise(
    w: _Walk, a: DepthwiseArgs, shape: Shape, cls: type[KerasDepthwiseConv] = KerasDepthwiseConv
) -> KerasConv:
    rank, channels = len(shape) - 1, shape[0]
    if channels * a.depth_multiplier > LIMIT:
        raise Refusal(
            f"{channels} input channels × depth_multiplier {a.depth_multiplier:,} = "
            f"{channels * a.depth_multiplier:,} output channels, beyond 2^63 − 1 ({LIMIT:,}), "
            "the largest size a tensor of Keras' backends holds",
            "depth_multiplier",
        )
    return cls(
        type="conv",
        out_channels=channels * a.depth_multiplier,
        kernel_size=_spatial(a.kernel_size, rank, "kernel_size"),
        stride=_spatial(a.strides, rank, "strides"),
        dilation=_spatial(a.dilation_rate, rank, "dilation_rate"),
        groups=channels,
        bias=a.use_bias and cls is KerasDepthwiseConv,  # a separable's depthwise: no bias
        padding=a.padding,
        trainable=a.trainable,
    )


def _depthwise_layer(w: _Walk, a: DepthwiseArgs, shape: Shape) -> Layer:
    layer = _depthwise(w, a, shape).model_copy(update={"name": a.name})
    return _with_activation(w, layer, a.activation, a.name, _last_axis(w, shape))


def _separable(w: _Walk, a: SeparableArgs, shape: Shape) -> Layer:
    """SeparableConv: a depthwise convolution without bias, then a pointwise one (1×1)."""
    depthwise = _depthwise(w, a, shape, KerasSeparableDepthwise)
    ones = (1,) * (len(shape) - 1)
    pointwise = KerasPointwise(
        type="conv", out_channels=a.filters, kernel_size=ones, bias=a.use_bias
    )
    layers: list[Layer] = [depthwise, pointwise]
    if a.activation not in (None, "linear"):
        then = _with_activation(w, pointwise, a.activation, None, _last_axis(w, shape))
        layers.append(then.layers[1])  # type: ignore[attr-defined]
    return _make("sequential", layers=layers, name=a.name, trainable=a.trainable)


def _pool(kind: str) -> Callable[[_Walk, PoolArgs, Shape], Layer]:
    cls = KerasMaxPool if kind == "maxpool" else KerasAvgPool

    def build(w: _Walk, a: PoolArgs, shape: Shape) -> Layer:
        rank = len(shape) - 1
        k = _spatial(a.pool_size, rank, "pool_size")
        s = k if a.strides is None else _spatial(a.strides, rank, "strides")
        fields = {"kernel_size": k, "stride": s, "padding": a.padding, "name": a.name}
        return cls.model_validate({"type": kind, **fields})

    return build


def _global(kind: str) -> Callable[[_Walk, GlobalPoolArgs, Shape], Layer]:
    def build(w: _Walk, a: GlobalPoolArgs, shape: Shape) -> Layer:
        pool = _make(kind, output_size=1)
        if a.keepdims:
            return pool.model_copy(update={"name": a.name})
        # Keras' words for the two steps: the pool keeping its 1×1, then the flatten
        pool = pool.as_call(f"{a.type}(keepdims=True)", w.channels_last)
        flatten = _make("flatten").as_call("Flatten()", w.channels_last)
        return _make("sequential", layers=[pool, flatten], name=a.name)

    return build


def _dense(w: _Walk, a: DenseArgs, shape: Shape) -> Layer:
    """Dense acts on the last axis: the features of [features], else, channels-last, the
    channels of the channels-first records (a 1×1 convolution)."""
    if len(shape) == 1 or not w.channels_last:
        layer: Layer = KerasLinear(
            type="linear", out_features=a.units, bias=a.use_bias, name=a.name
        )
    else:
        layer = KerasDense(
            type="conv",
            out_channels=a.units,
            kernel_size=(1,) * (len(shape) - 1),
            bias=a.use_bias,
            name=a.name,
        )
    return _with_activation(w, layer, a.activation, a.name, _last_axis(w, shape))


def _embedding(w: _Walk, a: EmbeddingArgs, shape: Shape) -> Layer:
    """Embedding on integer ids (the spec's input, so the first layer): ids of Keras' shape
    (L,) give (L, output_dim), input_dim·output_dim parameters. Channels-last records hold
    the vectors first, (output_dim, L): PyTorch's embedding, then a permute."""
    if w.built:
        raise Refusal(
            "an Embedding reads integer token ids, so it must be the first layer, fed the "
            "spec's input (the ids' shape, such as input: [L])"
        )
    if a.lora_rank is not None:
        raise Refusal("LoRA weights are not read by convcalc (leave lora_rank out)", "lora_rank")
    table = KerasEmbedding(type="embedding", num_embeddings=a.input_dim, embedding_dim=a.output_dim)
    n = len(shape)
    if not w.channels_last:
        return table.model_copy(update={"name": a.name})
    return _make("sequential", layers=[table, _keras_permute(w, [n, *range(1, n), 0])], name=a.name)


def _attention(w: _Walk, a: MultiHeadAttentionArgs, shape: Shape) -> Layer:
    """MultiHeadAttention as self-attention on a sequence (steps, features): Keras' weights
    (:class:`~convcalc.layers.attention.KerasMultiHeadAttention`); channels-last records
    (features, steps) are permuted to (steps, features) and back around it."""
    if len(shape) != 2:
        raise Refusal(
            "convcalc reads MultiHeadAttention as self-attention on a sequence (steps, "
            f"features), not {_keras_text(w.keras_shape(shape))}"
        )
    if a.attention_axes is not None:
        raise Refusal("convcalc attends over the steps only (leave it out)", "attention_axes")
    if a.use_gate:
        raise Refusal("the gated variant is not read by convcalc", "use_gate")
    out = a.output_shape
    if isinstance(out, list):
        if len(out) != 1:
            raise Refusal(
                f"convcalc reads one output size, not {len(out)} (the output is then "
                "(steps, output_shape))",
                "output_shape",
            )
        out = out[0]
    layer = KerasMultiHeadAttention(
        type="multihead_attention",
        num_heads=a.num_heads,
        key_dim=a.key_dim,
        value_dim=a.value_dim,
        output_shape=out,
        bias=a.use_bias,
        dropout=a.dropout,
        batch_first=True,
    )
    if not w.channels_last:
        return layer.model_copy(update={"name": a.name})
    return _around(w, [1, 0], layer, a.name)


def _flatten(w: _Walk, a: FlattenArgs, shape: Shape) -> Layer:
    return _make("flatten", name=a.name)


def _records_axis(w: _Walk, axis: int, shape: Shape) -> int:
    """Keras' ``axis`` (counting the batch, negative from the end) as the records' dimension;
    refused where Keras refuses it: the batch (a variable of unknown size), or out of range."""
    rank = len(shape) + 1  # with the batch, as Keras counts axes
    if not -rank <= axis < rank:
        raise Refusal(f"axis {axis} is out of range for {rank} dimensions", "axis")
    if axis % rank == 0:
        raise Refusal(
            f"axis {axis} is the batch, whose size Keras does not know: its weights cannot be "
            "built",
            "axis",
        )
    return records_dim(len(shape), axis % rank - 1, w.channels_last)


def _around(w: _Walk, dims: list[int], layer: Layer, name: str | None) -> Layer:
    """``layer`` on the records permuted by ``dims``, then permuted back: permute, layer,
    permute (each permute labelled as the Keras Permute it is)."""
    if dims == sorted(dims):
        return layer.model_copy(update={"name": name})
    back = [dims.index(d) for d in range(len(dims))]
    layers = [_keras_permute(w, dims), layer, _keras_permute(w, back)]
    return _make("sequential", layers=layers, name=name)


def _batchnorm(w: _Walk, a: BatchNormArgs, shape: Shape) -> Layer:
    """BatchNormalization over ``axis``: the channels directly, another axis of size n moved
    first, normalised (4·n parameters, 2·n of them never train) and moved back."""
    d = _records_axis(w, a.axis, shape)
    norm = KerasBatchNorm(
        type="batchnorm",
        eps=a.epsilon,
        momentum=1 - a.momentum,
        center=a.center,
        scale=a.scale,
        name=a.name,
        trainable=a.trainable,
    )
    if d == 0:
        return norm
    others = [i for i in range(len(shape)) if i != d]
    return _around(w, [d, *others], norm.model_copy(update={"name": None}), a.name)


def _layernorm(w: _Walk, a: LayerNormArgs, shape: Shape) -> Layer:
    """LayerNormalization over ``axis`` (a list: Keras sorts it, and gamma and beta have the
    sizes of its axes in that order, ∏ sizes each): over the records' last dimension, a
    PyTorch layer norm; over the channels of (H, W, C), the channels-only norm; else the axes
    moved last (in Keras' order), normalised together and moved back."""
    given = sorted(a.axis) if isinstance(a.axis, list) else [a.axis]
    if not given:
        raise Refusal("must name at least one axis", "axis")
    axes = [_records_axis(w, axis, shape) for axis in given]
    for i, d in enumerate(axes):
        if d in axes[:i]:
            raise Refusal(
                f"names the axis {given[i]} twice (as {given[axes.index(d)]}): Keras builds "
                "gamma and beta with that size twice over, which normalises nothing "
                "convcalc can compute",
                "axis",
            )
    if a.center and not a.scale:
        raise Refusal("center without scale: convcalc reads both or scale alone", "center")
    if a.rms_scaling:
        raise Refusal("rms_scaling is not read by convcalc", "rms_scaling")
    affine = {"elementwise_affine": a.scale, "bias": a.center, "eps": a.epsilon}
    rank = len(shape)
    if axes == [rank - 1]:
        fields = {"normalized_shape": shape[-1], "name": a.name, **affine}
        return KerasLayerNorm.model_validate({"type": "layernorm", **fields})
    if axes == [0] and rank == 3 and w.channels_last:
        fields = {"normalized_shape": shape[0], "name": a.name, **affine}
        return KerasLayerNorm2d.model_validate({"type": "layernorm2d", **fields})
    sizes = [shape[d] for d in axes]
    norm = {"type": "layernorm", "normalized_shape": sizes if len(sizes) > 1 else sizes[0]}
    layer = KerasLayerNorm.model_validate({**norm, **affine})
    others = [i for i in range(rank) if i not in axes]
    return _around(w, [*others, *axes], layer, a.name)


def _keras_permute(w: _Walk, dims: list[int]) -> Layer:
    """A permute of the records labelled as the Keras Permute that gives the shapes shown
    (channels-last): Keras' output axis j is the records' r = records_dim(j); it takes the
    records' input axis dims[r], Keras' keras_dim(dims[r]); Keras counts from 1."""
    rank = len(dims)
    keras = tuple(
        keras_dim(rank, dims[records_dim(rank, j, w.channels_last)], w.channels_last) + 1
        for j in range(rank)
    )
    label = keras_call("Permute", _Written(keras))
    return _make("permute", dims=dims).as_call(label, w.channels_last)


def _dropout(w: _Walk, a: DropoutArgs, shape: Shape) -> Layer:
    return _make("dropout", p=a.rate, name=a.name)


def _spatial_dropout(w: _Walk, a: SpatialDropoutArgs, shape: Shape) -> Layer:
    return _make(f"dropout{len(shape) - 1}d", p=a.rate, name=a.name)


def _activation(w: _Walk, a: ActivationArgs, shape: Shape) -> Layer:
    if a.activation not in ACTIVATIONS:
        raise Refusal(
            f"'{a.activation}' is not an activation convcalc reads: "
            f"{', '.join(sorted(ACTIVATIONS))}",
            "activation",
        )
    return activation_layer(a.activation, _last_axis(w, shape), a.name)


def _relu(w: _Walk, a: ReLUArgs, shape: Shape) -> Layer:
    """ReLU(max_value, negative_slope, threshold), each ≥ 0 as Keras requires. PyTorch's
    modules where one computes it: relu, relu6 (max_value 6), leaky_relu (a negative_slope
    alone), hardtanh(0, m) (a max_value m > 0 alone); else Keras' own (:class:`KerasReLU`):
    x where x > threshold (else 0), clipped at max_value, minus negative_slope · max(threshold
    − x, 0). Shape kept, no parameters."""
    for field in ("max_value", "negative_slope", "threshold"):
        value = getattr(a, field)
        if value is not None and value < 0:
            raise Refusal(
                f"{field} of a ReLU layer cannot be a negative value, {show(value)}", field
            )
    m, slope, t = a.max_value, a.negative_slope, a.threshold
    if not t and m is None:
        if slope:
            return _make("leaky_relu", negative_slope=slope, name=a.name)
        return _make("relu", name=a.name)
    if not t and not slope and m == 6:
        return _make("relu6", name=a.name)
    if not t and not slope and m:
        return _make("hardtanh", min_val=0.0, max_val=float(m), name=a.name)
    return KerasReLU(type="relu", name=a.name, max_value=m, negative_slope=slope, threshold=t)


def _prelu(w: _Walk, a: PReLUArgs, shape: Shape) -> Layer:
    """PReLU, max(x, 0) + alpha · min(x, 0): alpha has the input's shape as Keras writes it
    (batch excluded), 1 along each of ``shared_axes`` (counted with the batch: axis i sets
    size i − 1, Python's index, so 0 is the last). PyTorch's prelu where alpha is one value
    or one per channel, else :class:`KerasPReLU` with alpha as Keras shapes it."""
    alpha = list(w.keras_shape(shape))
    given = [] if a.shared_axes is None else a.shared_axes
    for axis in given if isinstance(given, list) else [given]:
        if not -len(alpha) <= axis - 1 < len(alpha):
            raise Refusal(
                f"shared axis {axis} is out of range for {len(shape) + 1} dimensions",
                "shared_axes",
            )
        alpha[axis - 1] = 1
    inner = w.internal(tuple(alpha))
    if math.prod(inner) == 1 or (inner[0] == shape[0] and math.prod(inner) == shape[0]):
        return _make("prelu", num_parameters=math.prod(inner), init=0.0, name=a.name)
    return KerasPReLU(type="prelu", alpha=tuple(alpha), init=0.0, name=a.name)


def _leaky(w: _Walk, a: LeakyReLUArgs, shape: Shape) -> Layer:
    if a.negative_slope < 0:
        raise Refusal(
            f"the negative_slope of a LeakyReLU cannot be negative, {show(a.negative_slope)}",
            "negative_slope",
        )
    return _make("leaky_relu", negative_slope=a.negative_slope, name=a.name)


def _elu(w: _Walk, a: ELUArgs, shape: Shape) -> Layer:
    return _make("elu", alpha=a.alpha, name=a.name)


def _softmax(w: _Walk, a: SoftmaxArgs, shape: Shape) -> Layer:
    rank = len(shape)
    if not -rank - 1 <= a.axis <= rank or a.axis == 0 or a.axis == -rank - 1:
        raise Refusal(f"axis {a.axis} is out of range for {rank + 1} dimensions", "axis")
    keras_axis = (a.axis % (rank + 1)) - 1  # without the batch
    # the records' dim counts the batch (PyTorch's): the records' index, plus 1
    dim = records_dim(rank, keras_axis, w.channels_last) + 1
    return _make("softmax", dim=dim, name=a.name)


def _pairs(value: Any, rank: int, field: str, what: str) -> list[tuple[int, int]]:
    """Keras' padding or cropping: an int, a tuple (one per dimension, both sides), or a tuple
    of (before, after) pairs; one pair per spatial dimension. In 1-D, an int or one pair of 2
    integers only, as ZeroPadding1D and Cropping1D take."""

    def count(v: Any) -> int:
        if isinstance(v, bool) or not isinstance(v, int) or v < 0:
            raise Refusal(f"every {what} must be an integer ≥ 0, not {show(v)}", field)
        if v > LIMIT:
            raise Refusal(
                f"{v:,} is beyond 2^63 − 1 ({LIMIT:,}), the largest size a tensor of Keras' "
                "backends holds",
                field,
            )
        return v

    if isinstance(value, list | tuple):
        if rank == 1:
            if len(value) != 2 or any(isinstance(v, list | tuple) for v in value):
                raise Refusal(f"must be a tuple of 2 integers, not {show(value)}", field)
            return [(count(value[0]), count(value[1]))]
        if len(value) != rank:
            raise Refusal(f"must give {rank} entries (one per spatial dimension)", field)
        out = []
        for v in value:
            if isinstance(v, list | tuple):
                if len(v) != 2:
                    raise Refusal(f"each pair must be (before, after), not {len(v)} values", field)
                out.append((count(v[0]), count(v[1])))
            else:
                out.append((count(v), count(v)))
        return out
    return [(count(value), count(value))] * rank


def _flat(pairs: list[tuple[int, int]], sign: int) -> list[int]:
    """F.pad's order: the last dimension's pair first."""
    return [sign * v for a, b in reversed(pairs) for v in (a, b)]


def _pad(w: _Walk, a: PaddingArgs, shape: Shape) -> Layer:
    pairs = _pairs(a.padding, len(shape) - 1, "padding", "padding")
    return _make("pad", padding=_flat(pairs, 1), name=a.name)


def _crop(w: _Walk, a: CroppingArgs | Cropping1DArgs, shape: Shape) -> Layer:
    pairs = _pairs(a.cropping, len(shape) - 1, "cropping", "cropping")
    for n, (x, y) in zip(shape[1:], pairs, strict=True):
        if x + y >= n:
            raise Refusal(
                f"crops {x} + {y} from a dimension of {n}: the cropping must be smaller than "
                "the input",
                "cropping",
            )
    return _make("pad", padding=_flat(pairs, -1), name=a.name)


def _upsample(
    w: _Walk, a: UpSamplingArgs | UpSampling1DArgs | UpSampling3DArgs, shape: Shape
) -> Layer:
    """UpSampling*D: each spatial size times ``size``; interpolation is UpSampling2D's only."""
    size = _spatial(a.size, len(shape) - 1, "size")
    mode = getattr(a, "interpolation", "nearest")
    return _make("upsample", scale_factor=[float(s) for s in size], mode=mode, name=a.name)


def _reshape(w: _Walk, a: ReshapeArgs, shape: Shape) -> Layer:
    return _make("reshape", shape=list(w.internal(a.target_shape)), name=a.name)


def _permute(w: _Walk, a: PermuteArgs, shape: Shape) -> Layer:
    """Keras' dims (1-based, batch excluded, over the Keras shape) as a permute of the
    channels-first records."""
    rank = len(shape)
    if sorted(a.dims) != list(range(1, rank + 1)):
        raise Refusal(
            f"{list(a.dims)} is not an ordering of 1 … {rank} (the input's axes, batch excluded)",
            "dims",
        )
    if not w.channels_last or rank == 1:
        return _make("permute", dims=[d - 1 for d in a.dims], name=a.name)

    def at(axis: int) -> int:  # Keras' axis (1-based) in the channels-first records
        return 0 if axis == rank else axis

    dims = [at(a.dims[-1]), *(at(d) for d in a.dims[:-1])]
    return _make("permute", dims=dims, name=a.name)


def read_numbers(value: Any, field: str) -> list[float]:
    """A number or a list of numbers (Keras broadcasts it over the last axis)."""
    items = value if isinstance(value, list | tuple) else [value]
    if not items or any(isinstance(v, bool) or not isinstance(v, int | float) for v in items):
        raise Refusal(f"must be a number or a list of numbers, not {show(value)}", field)
    return [float(v) for v in items]


def _rescaling(w: _Walk, a: RescalingArgs, shape: Shape) -> Layer:
    """Rescaling, x · scale + offset: the shape kept, no parameters (a list broadcasts over
    the last axis when the model runs; Keras builds it unchecked, and so does convcalc)."""
    for field in ("scale", "offset"):
        read_numbers(getattr(a, field), field)
    return _make("identity", name=a.name)


def _normalization(w: _Walk, a: NormalizationArgs, shape: Shape) -> Layer:
    """Normalization over the axes ``axis`` keeps (None: one mean, one variance); without
    ``mean`` and ``variance`` Keras holds them, and a count, as weights that never train."""
    rank = len(shape) + 1  # with the batch, as Keras counts axes
    given = [] if a.axis is None else a.axis if isinstance(a.axis, list) else [a.axis]
    axes = []
    for axis in given:
        if not -rank < axis < rank or axis % rank == 0:
            raise Refusal(
                f"axis {axis} is out of range for {rank} dimensions (not the batch)", "axis"
            )
        i = axis % rank - 1  # in Keras' shape, batch excluded
        channels_last = w.channels_last and len(shape) > 1
        axes.append((0 if i == len(shape) - 1 else i + 1) if channels_last else i)
    if len(set(axes)) != len(axes):
        raise Refusal("an axis is given twice", "axis")
    if (a.mean is None) != (a.variance is None):
        raise Refusal("give both mean and variance, or neither (to adapt them)", "mean")
    if a.mean is not None:
        size = math.prod(shape[d] for d in axes)
        for field in ("mean", "variance"):
            values = read_numbers(getattr(a, field), field)
            if len(values) not in (1, size):
                raise Refusal(
                    f"{len(values)} values do not broadcast over the {size} positions of the "
                    "axes kept",
                    field,
                )
    layer = KerasNormalization(
        type="identity", name=a.name, adapted=a.mean is None, axes=tuple(axes)
    )
    return layer


def _layer_scale(w: _Walk, a: LayerScaleArgs, shape: Shape) -> Layer:
    """LayerScale: each channel times its learned factor, projection_dim of them."""
    if a.projection_dim != shape[0]:
        raise Refusal(
            f"projection_dim {a.projection_dim} factors do not match the input's {shape[0]} "
            "channels",
            "projection_dim",
        )
    return _make("layer_scale", layer_scale=a.init_values, name=a.name)


def _constant(w: _Walk, a: ConstantArgs, shape: Shape) -> Layer:
    """An op on a number (``x + 3.0``): the shape kept, no parameters."""
    return _make("identity", name=a.name)


BUILDERS: dict[str, Callable[[_Walk, Any, Shape], Layer]] = {
    "conv": _conv,
    "transpose": _transpose,
    "depthwise": _depthwise_layer,
    "separable": _separable,
    "maxpool": _pool("maxpool"),
    "avgpool": _pool("avgpool"),
    "global_avg": _global("adaptive_avgpool"),
    "global_max": _global("adaptive_maxpool"),
    "dense": _dense,
    "embedding": _embedding,
    "attention": _attention,
    "flatten": _flatten,
    "batchnorm": _batchnorm,
    "layernorm": _layernorm,
    "dropout": _dropout,
    "spatial_dropout": _spatial_dropout,
    "activation": _activation,
    "relu": _relu,
    "leaky_relu": _leaky,
    "prelu": _prelu,
    "elu": _elu,
    "softmax": _softmax,
    "pad": _pad,
    "crop": _crop,
    "upsample": _upsample,
    "reshape": _reshape,
    "permute": _permute,
    "rescaling": _rescaling,
    "normalization": _normalization,
    "layer_scale": _layer_scale,
    "constant": _constant,
}


# --- the solver's view (convcalc.solve.stack): unknowns written in Keras' arguments ---------

# Keras' integer arguments → the field whose default range "?" takes (solve's README table)
SOLVER_FIELDS = {
    "kernel_size": "kernel_size",
    "pool_size": "kernel_size",
    "strides": "stride",
    "dilation_rate": "dilation",
    "output_padding": "output_padding",
    "padding": "padding",
    "cropping": "padding",
}


def block_type(kind: Any) -> str | None:
    """convcalc's block type of a Keras class that holds layers (``Add`` → ``residual``)."""
    found = CLASSES.get(kind) if isinstance(kind, str) else None
    if found is None or found[2] not in BLOCKS:
        return None
    return found[2]


def records_dim(rank: int, dim: int, channels_last: bool) -> int:
    """The records' index of the input's axis ``dim`` as Keras writes it (batch excluded):
    channels-last (H, W, C) is (C, H, W), so H → 1, W → 2, C → 0."""
    return (dim + 1) % rank if channels_last and rank > 1 else dim


def keras_dim(rank: int, dim: int, channels_last: bool) -> int:
    """The inverse of :func:`records_dim`: the records' axis as Keras writes it."""
    return (dim - 1) % rank if channels_last and rank > 1 else dim


def integer_argument(item: dict[str, Any], field: str) -> bool:
    """Whether a Keras layer's argument ``field`` holds integers once read (an unknown may
    stand there): ``filters``, ``strides``, a ZeroPadding's ``padding``; not ``momentum``."""
    found = CLASSES.get(item.get("type"))  # type: ignore[arg-type]
    if found is None:
        return False
    value = getattr(found[0].model_validate(item), field, None)
    items = value if isinstance(value, tuple | list) else (value,)
    return all(isinstance(v, int) and not isinstance(v, bool) for v in items)


def read_layer(
    doc: Document, channels_last: bool, item: Any, keys: Keys, shape: Shape
) -> tuple[Layer, Shape]:
    """One Keras layer (a block with everything in it) read again on the input ``shape``, as
    Keras builds it there: a depthwise convolution's channels, a LayerNormalization's follow
    that input. The solver's trials: a :class:`SpecError` where Keras refuses."""
    return _Walk(doc, channels_last).one(item, keys, shape, 0)


def read_keras(
    doc: Document, written: tuple[int, ...], data_format: str | None
) -> tuple[Shape, list[Layer], Dialect]:
    """A Keras spec's input (channels-first), layers and dialect; a :class:`SpecError` naming
    file, line, layer and field (in Keras' words) where Keras would refuse."""
    channels_last = data_format != "channels_first"
    walk = _Walk(doc, channels_last)
    shape = walk.internal(written)
    layers, _ = walk.chain(doc.data["layers"], ("layers",), shape, 0)
    walk.check_names()
    walk.check_given_names(len(doc.data["layers"]))
    inline = frozenset(walk.inline)
    return shape, layers, Dialect("keras", channels_last, walk.classes, walk.names, inline)
