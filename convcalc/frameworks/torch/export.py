"""``convcalc export SPEC --to pytorch``: the analysed network as the source of a PyTorch module.

:func:`to_pytorch` turns a :class:`~convcalc.analysis.Report` into a self-contained Python file
(it imports ``torch``, ``torch.nn as nn`` and, only for an infinite argument, ``math``) that
defines one ``nn.Sequential`` subclass building exactly the network convcalc analysed, layer for
layer, in the order of ``report.leaves()``:

- Chains are ``nn.Sequential``: the top level (the class itself), ``sequential`` blocks and
  ``repeat`` blocks (unrolled, as the report holds them: each repetition its own modules). A
  layer with a ``name`` is registered under it, sanitised to an identifier (``features.1.0`` →
  ``features_1_0``; a name PyTorch's ``nn.Sequential`` already uses, such as ``forward``, or a
  Python keyword gets a trailing ``_``; a repeated one ``_2``, ``_3``, ...), the others under
  their index, as ``nn.Sequential`` numbers them. A list with names is built by the file's
  ``sequential({...})`` helper (``nn.Sequential`` itself would need an ``OrderedDict``).
- ``residual``, ``concat`` and ``scale`` are small classes written into the file, one per kind
  used: ``Residual(body, shortcut)`` gives ``body(x) + shortcut(x)``, ``Concat(*branches)``
  ``torch.cat`` of the branches along dimension 1, ``Scale(body)`` ``x * body(x)``; each list
  is an ``nn.Sequential``, and an empty one (shortcut, branch) is the identity. ``graph`` is
  ``Graph(join, output, sources, paths)``: its paths in an ``nn.ModuleDict`` under their
  names (sanitised as layer names are), run in order, each on x or on the output of the path
  ``sources`` names, the ``output`` paths' outputs then added, multiplied or concatenated.
- Every leaf is its PyTorch module (the registry's class, ``{n}`` the input's spatial rank),
  with ``in_channels``/``in_features``/``num_features``/``num_channels`` from the shape it
  receives and every other argument that differs from PyTorch's default, exactly as written,
  those convcalc accepts and ignores included (``eps``, ``momentum``, ``inplace``,
  ``count_include_pad``, ``device``, ``dtype``, ...). ``functional: true`` leaves are modules
  too: the arithmetic is the same. Where convcalc's reading differs from the module's:

  - ``batchnorm`` on a feature vector ``[C]`` is ``nn.BatchNorm1d`` (as PyTorch takes it);
  - ``flatten``'s ``start_dim``/``end_dim`` and ``unflatten``'s ``dim`` count without the
    batch in a spec, with it in PyTorch: a dimension d ≥ 0 becomes d + 1 (``nn.Flatten()`` is
    the spec's default ``flatten``); negative ones count from the end either way;
  - ``pad`` is ``nn.ConstantPad{n}d(padding, value)``, ``nn.ReflectionPad{n}d``,
    ``nn.ReplicationPad{n}d`` or ``nn.CircularPad{n}d`` by ``mode``, its ``padding`` as
    written (those modules hand a list to ``F.pad`` as it is: last dimension first);
  - ``upsample`` is ``nn.Upsample`` with its arguments as written;
  - ``reshape``, ``permute`` and ``stochastic_depth`` have no module in ``torch.nn``: the file
    defines ``Reshape(*shape)`` (``x.reshape(x.shape[0], *shape)``), ``Permute(*dims)``
    (``x.permute(*dims)``, dims counting the batch: the spec's ``[1, 2, 0]`` is
    ``Permute(0, 2, 3, 1)``) and ``StochasticDepth(p, mode)`` (torchvision.ops.StochasticDepth
    line for line: the identity in eval mode);
  - ``multihead_attention`` is ``SelfAttention(embed_dim, num_heads, ...)``, a module holding
    ``nn.MultiheadAttention(..., batch_first=True)`` and calling it as torchvision's ViT does,
    ``attention(x, x, x, need_weights=False)[0]``: the batch comes first, as everywhere in the
    file, whatever the spec's ``batch_first`` (accepted and ignored: it changes no shape);
  - ``class_token``, ``position_embedding``, ``select`` and ``layer_scale``, parameters or
    indexing in torchvision's forward code, and ``layernorm2d`` are small classes written into
    the file: ``ClassToken(E)`` (``cat([class_token, x], 1)``), ``PositionEmbedding(L, E)``
    (``x + pos_embedding``), ``Select(dim, index)`` (``x.select(dim, index)``, dim counting the
    batch), ``LayerScale(C, rank)`` (``layer_scale * x``, a C×1×…×1 factor) and
    torchvision's ``LayerNorm2d`` line for line.
  - ``shifted_window_attention``, ``patch_merging`` and their ``_v2`` are torchvision's Swin
    classes (``torchvision.models.swin_transformer``), which the file defines line for line,
    ``dim`` the input's last size: ``ShiftedWindowAttention(dim, window_size, shift_size,
    num_heads, ...)``, ``PatchMerging(dim)``; each holds its parameters itself, named as
    torchvision's state dict with ``_`` for ``.`` (``qkv_weight`` for ``qkv.weight``).
  - ``window_partition``, ``window_departition`` and ``relative_position_attention`` are
    torchvision's MaxViT classes (``torchvision.models.maxvit``), which the file defines line
    for line: ``WindowPartition(p)`` and ``WindowDepartition(p, h_partitions, w_partitions)``
    take at construction what torchvision's take at each call, and
    ``RelativePositionalMultiHeadAttention(feat_dim, head_dim, max_seq_len)``, feat_dim the
    input's last size, has torchvision's state dict.

Refused, with an :class:`ExportError` naming the layer: a max-pool with ``return_indices: true``
(the module returns a tuple that no next layer takes), a 1-D average pool with
``divisor_override`` (``nn.AvgPool1d`` has none), an ``embedding`` anywhere but the network's
first layer fed the input itself (``nn.Embedding`` takes integer indices, every other layer
gives floats), and a layer whose PyTorch class would need a rank it does not have (a
``batchnorm`` after a ``reshape`` to five dimensions: there is no ``BatchNorm4d``).

Nesting: lists are written as nested expressions, in ruff's format. A block that would start
more than ``HOIST_AT`` columns in is built first as a local variable of ``__init__`` (named after
the block, or ``block_N``) and used by that name: the module tree is the same, and a spec
nested 500 deep gives a file of bounded indentation that Python parses. PyTorch itself walks
modules recursively (``eval()``, ``parameters()``, the forward pass), about ten Python frames a
level, so for deep networks the file's docstring says how far to raise the recursion limit,
and its ``__main__`` block raises it.

Everything is walked with explicit stacks, never recursion.
"""

from __future__ import annotations

import keyword
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from convcalc.errors import ConvcalcError
from convcalc.escape import python_str
from convcalc.frameworks.pysource import (
    AMBIGUOUS,
    NAME_LIMIT,
    WIDTH,
    ExportError,
    Expr,
    Group,
    Item,
    Layout,
    Names,
    Uses,
    call,
    check_name,
    docstring_text,
    fed_the_input,
    flat,
    identifier,
    literal,
    sizes_text,
)
from convcalc.frameworks.torch.keras_spec import KERAS_HELPERS, KerasUses, keras_pieces
from convcalc.layers.blocks import GraphPath
from convcalc.layers.registry import KINDS

if TYPE_CHECKING:
    from convcalc.records import Entry, Report
    from convcalc.spec.validate import Spec

CLASS_LIMIT = 60  # characters of a class name given: the file's lines stay within WIDTH
DEEP = 50  # blocks nested deeper than this need a higher recursion limit in PyTorch


# --- the expressions of the file -----------------------------------------------------------


# --- values --------------------------------------------------------------------------------


def _batched(dim: int) -> int:
    """A spec dimension (batch excluded) as PyTorch counts it (batch included)."""
    return dim + 1 if dim >= 0 else dim


# --- leaves --------------------------------------------------------------------------------

CHANNELS = "=channels"  # the input's first size
FEATURES = "=features"  # the input's last size
SPATIAL = "=spatial"  # how many sizes follow the first
PARAMETERS = ("device", "dtype")


@dataclass(frozen=True)
class _Leaf:
    """How a layer type is written: the arguments always written, positionally (fields, or
    CHANNELS/FEATURES read from the input), and the keyword arguments in PyTorch's order,
    written where they differ from the default."""

    positional: tuple[str, ...] = ()
    keywords: tuple[str, ...] = ()


_INPLACE = _Leaf(keywords=("inplace",))
_DROPOUT = _Leaf(keywords=("p", "inplace"))
_NORM = _Leaf((CHANNELS,), ("eps", "momentum", "affine", "track_running_stats", *PARAMETERS))
_POOLED = ("kernel_size", "stride", "padding")

LEAVES: dict[str, _Leaf] = {
    "conv": _Leaf(
        (CHANNELS, "out_channels"),
        (*_POOLED, "dilation", "groups", "bias", "padding_mode", *PARAMETERS),
    ),
    "conv_transpose": _Leaf(
        (CHANNELS, "out_channels"),
        (*_POOLED, "output_padding", "groups", "bias", "dilation", "padding_mode", *PARAMETERS),
    ),
    "maxpool": _Leaf(keywords=(*_POOLED, "dilation", "return_indices", "ceil_mode")),
    "avgpool": _Leaf(keywords=(*_POOLED, "ceil_mode", "count_include_pad", "divisor_override")),
    "adaptive_avgpool": _Leaf(("output_size",)),
    "adaptive_maxpool": _Leaf(("output_size",), ("return_indices",)),
    "batchnorm": _NORM,
    "groupnorm": _Leaf(("num_groups", CHANNELS), ("eps", "affine", *PARAMETERS)),
    "instancenorm": _NORM,
    "layernorm": _Leaf(("normalized_shape",), ("eps", "elementwise_affine", "bias", *PARAMETERS)),
    "local_response_norm": _Leaf(("size",), ("alpha", "beta", "k")),
    "linear": _Leaf((FEATURES, "out_features"), ("bias", *PARAMETERS)),
    "embedding": _Leaf(
        ("num_embeddings", "embedding_dim"),
        ("padding_idx", "max_norm", "norm_type", "scale_grad_by_freq", "sparse", *PARAMETERS),
    ),
    "channel_shuffle": _Leaf(("groups",)),
    "pixel_shuffle": _Leaf(("upscale_factor",)),
    "pixel_unshuffle": _Leaf(("downscale_factor",)),
    "unfold": _Leaf(("kernel_size",), ("dilation", "padding", "stride")),
    "fold": _Leaf(("output_size", "kernel_size"), ("dilation", "padding", "stride")),
    "upsample": _Leaf(
        keywords=("size", "scale_factor", "mode", "align_corners", "recompute_scale_factor")
    ),
    "dropout": _DROPOUT,
    "dropout1d": _DROPOUT,
    "dropout2d": _DROPOUT,
    "dropout3d": _DROPOUT,
    "stochastic_depth": _Leaf(keywords=("p", "mode")),
    "relu": _INPLACE,
    "relu6": _INPLACE,
    "silu": _INPLACE,
    "hardtanh": _Leaf(keywords=("min_val", "max_val", "inplace")),
    "hardswish": _INPLACE,
    "hardsigmoid": _INPLACE,
    "mish": _INPLACE,
    "elu": _Leaf(keywords=("alpha", "inplace")),
    "leaky_relu": _Leaf(keywords=("negative_slope", "inplace")),
    "prelu": _Leaf(keywords=("num_parameters", "init", *PARAMETERS)),
    "sigmoid": _Leaf(),
    "tanh": _Leaf(),
    "softplus": _Leaf(keywords=("beta", "threshold")),
    "softmax": _Leaf(keywords=("dim",)),
    "log_softmax": _Leaf(keywords=("dim",)),
    "gelu": _Leaf(keywords=("approximate",)),
    "identity": _Leaf(),
    "multihead_attention": _Leaf(
        (FEATURES, "num_heads"),
        ("dropout", "bias", "add_bias_kv", "add_zero_attn", "kdim", "vdim", *PARAMETERS),
    ),
    "class_token": _Leaf((FEATURES,)),
    "position_embedding": _Leaf((CHANNELS, FEATURES)),  # [L, E]: L is the first size
    "layer_scale": _Leaf((CHANNELS, SPATIAL), ("layer_scale",)),
    "layernorm2d": _Leaf(("normalized_shape",), ("eps", "elementwise_affine", "bias", *PARAMETERS)),
    "window_partition": _Leaf(("p",)),
    "window_departition": _Leaf(("p", "h_partitions", "w_partitions")),
}
# layer types with no module in torch.nn: the file defines one (HELPERS)
HELPER_CLASSES = {"reshape": "Reshape", "permute": "Permute", "stochastic_depth": "StochasticDepth"}
HELPER_CLASSES["select_channels"] = "SelectChannels"
SWIN_CLASSES = {
    "shifted_window_attention": "ShiftedWindowAttention",
    "shifted_window_attention_v2": "ShiftedWindowAttentionV2",
    "patch_merging": "PatchMerging",
    "patch_merging_v2": "PatchMergingV2",
}
HELPER_CLASSES |= SWIN_CLASSES
MAXVIT_CLASSES = {
    "window_partition": "WindowPartition",
    "window_departition": "WindowDepartition",
    "relative_position_attention": "RelativePositionalMultiHeadAttention",
}
HELPER_CLASSES |= MAXVIT_CLASSES
HELPER_CLASSES |= {
    "multihead_attention": "SelfAttention",
    "class_token": "ClassToken",
    "position_embedding": "PositionEmbedding",
    "select": "Select",
    "layer_scale": "LayerScale",
    "layernorm2d": "LayerNorm2d",
}
PAD_CLASSES = {
    "constant": "ConstantPad",
    "reflect": "ReflectionPad",
    "replicate": "ReplicationPad",
    "circular": "CircularPad",
}


def _flatten(layer: Any, uses: Uses) -> list[Item]:
    """nn.Flatten: the dimensions counted with the batch; (1, -1) is PyTorch's default."""
    start, end = _batched(layer.start_dim), _batched(layer.end_dim)
    items = [Item("start_dim=", str(start))] if start != 1 else []
    return items + ([Item("end_dim=", str(end))] if end != -1 else [])


def _unflatten(layer: Any, uses: Uses) -> list[Item]:
    """nn.Unflatten(dim, sizes), the dimension counted with the batch."""
    return [Item("", str(_batched(layer.dim))), Item("", literal(layer.unflattened_size, uses))]


def _reshape(layer: Any, uses: Uses) -> list[Item]:
    """Reshape(*shape): the batch is kept in front by the module itself."""
    return [Item("", str(n)) for n in layer.shape]


def _permute(layer: Any, uses: Uses) -> list[Item]:
    """Permute(*dims), PyTorch's dims: the batch first, then the spec's, counted with it."""
    return [Item("", str(d)) for d in (0, *(_batched(d) for d in layer.dims))]


def _pad(layer: Any, uses: Uses) -> list[Item]:
    """ConstantPad{n}d(padding, value) (value has no default); the other modes take none."""
    items = [Item("", literal(layer.padding, uses))]
    return items + ([Item("", literal(layer.value, uses))] if layer.mode == "constant" else [])


def _select_channels(layer: Any, uses: Uses) -> list[Item]:
    """SelectChannels(*channels): ``x[:, channels]``."""
    return [Item("", str(c)) for c in layer.channels]


def _select(layer: Any, uses: Uses) -> list[Item]:
    """Select(dim, index), the dimension counted with the batch."""
    return [Item("", str(_batched(layer.dim))), Item("", str(layer.index))]


def _max_unpool(layer: Any, uses: Uses) -> list[Item]:
    """Never written: nn.MaxUnpool{n}d takes the indices of a max-pool (refused in _check)."""
    return [Item("", literal(layer.kernel_size, uses))]


_WINDOWS = ("window_size", "shift_size", "num_heads")
_WINDOW_KEYWORDS = ("qkv_bias", "proj_bias", "attention_dropout", "dropout", *PARAMETERS)


def _window_attention(layer: Any, uses: Uses) -> list[Item]:
    """ShiftedWindowAttention(V2)(window_size, shift_size, num_heads, ...), after ``dim``
    (:func:`_arguments` writes it); V2 is a subclass, so the file defines both."""
    uses.helpers.add("ShiftedWindowAttention")
    uses.math = True  # math.log(100.0), v2's largest logit scale
    items = [Item("", literal(getattr(layer, name), uses)) for name in _WINDOWS]
    keywords = [name for name in _WINDOW_KEYWORDS if _written(layer, name, getattr(layer, name))]
    return items + [_keyword(name, getattr(layer, name), uses) for name in keywords]


def _patch_merging(layer: Any, uses: Uses) -> list[Item]:
    """PatchMerging(V2)(device=..., dtype=...), after ``dim``; V2 is a subclass."""
    uses.helpers.add("PatchMerging")
    written = [name for name in PARAMETERS if _written(layer, name, getattr(layer, name))]
    return [_keyword(name, getattr(layer, name), uses) for name in written]


def _relative_attention(layer: Any, uses: Uses) -> list[Item]:
    """RelativePositionalMultiHeadAttention(head_dim, max_seq_len, ...), after ``feat_dim``
    (:func:`_arguments` writes it); ``math.sqrt`` gives its table's side, as torchvision's."""
    uses.math = True
    items = [Item("", str(layer.head_dim)), Item("", str(layer.max_seq_len))]
    written = [name for name in PARAMETERS if _written(layer, name, getattr(layer, name))]
    return items + [_keyword(name, getattr(layer, name), uses) for name in written]


# layer types written by their own function: the function and the fields it reads
CONVERTED: dict[str, tuple[Callable[[Any, Uses], list[Item]], tuple[str, ...]]] = {
    "flatten": (_flatten, ("start_dim", "end_dim")),
    "unflatten": (_unflatten, ("dim", "unflattened_size")),
    "reshape": (_reshape, ("shape",)),
    "permute": (_permute, ("dims",)),
    "pad": (_pad, ("padding", "mode", "value")),
    "select_channels": (_select_channels, ("channels",)),
    "select": (_select, ("dim", "index")),
    "max_unpool": (_max_unpool, ("kernel_size", "stride", "padding", "output_size")),
    "shifted_window_attention": (_window_attention, (*_WINDOWS, *_WINDOW_KEYWORDS)),
    "shifted_window_attention_v2": (_window_attention, (*_WINDOWS, *_WINDOW_KEYWORDS)),
    "patch_merging": (_patch_merging, PARAMETERS),
    "patch_merging_v2": (_patch_merging, PARAMETERS),
    "relative_position_attention": (_relative_attention, ("head_dim", "max_seq_len", *PARAMETERS)),
}


def _written(layer: Any, name: str, value: Any) -> bool:
    """Whether a keyword argument is written: required, or not PyTorch's default (which is
    the spec's). ``stride: null`` means the default."""
    info = type(layer).model_fields[name]
    if info.is_required():
        return True
    if name == "stride" and value is None:
        return False
    default = info.default
    return type(value) is not type(default) or value != default


def _keyword(name: str, value: Any, uses: Uses) -> Item:
    """``name=value``; a dtype as the torch attribute (``dtype=torch.float16``)."""
    if name == "dtype":
        return Item("dtype=", f"torch.{value.removeprefix('torch.')}")
    return Item(f"{name}=", literal(value, uses))


def _arguments(entry: Entry, uses: Uses) -> list[Item]:
    """The arguments of a leaf's module (see :data:`LEAVES` and :data:`CONVERTED`)."""
    layer, shape = entry.layer, entry.input_shape
    if entry.type in CONVERTED:
        items = CONVERTED[entry.type][0](layer, uses)
        # Swin's classes and MaxViT's attention take dim, the input's last size, first
        first = entry.type in SWIN_CLASSES or entry.type == "relative_position_attention"
        return [Item("", str(shape[-1])), *items] if first else items
    leaf = LEAVES[entry.type]
    inferred = {CHANNELS: shape[0], FEATURES: shape[-1], SPATIAL: len(shape) - 1}
    items = [
        Item("", literal(inferred[name] if name in inferred else getattr(layer, name), uses))
        for name in leaf.positional
    ]
    for name in leaf.keywords:
        value = getattr(layer, name)
        if _written(layer, name, value):
            items.append(_keyword(name, value, uses))
    return items


def _refuse(entry: Entry, message: str, field_name: str | None = None) -> ExportError:
    return ExportError(f"cannot be exported to PyTorch: {message}", entry, field_name)


def _check(entry: Entry, first: bool) -> None:
    """Refuse what no PyTorch module writes exactly (see the module's docstring)."""
    layer = entry.layer
    if getattr(layer, "return_indices", False):
        raise _refuse(
            entry,
            "with return_indices the module returns (values, indices), which the next layer "
            "cannot take; remove it",
            "return_indices",
        )
    if entry.type == "max_unpool":
        raise _refuse(
            entry,
            "nn.MaxUnpool{n}d takes the indices a max-pool with return_indices gives, as a second "
            "argument, which a chain of modules cannot pass from one layer to another",
        )
    one_d = len(entry.input_shape) == 2
    if entry.type == "avgpool" and one_d and getattr(layer, "divisor_override", None):
        raise _refuse(entry, "nn.AvgPool1d has no divisor_override", "divisor_override")
    if entry.type == "embedding" and not fed_the_input(entry, first):
        raise _refuse(
            entry,
            "nn.Embedding takes integer indices, so it can only be the network's first layer, "
            "fed the input itself (every other layer gives floats)",
        )


def _torch_class(entry: Entry) -> str:
    """``nn.Conv2d`` and so on: the registry's class for the input's spatial rank."""
    template, rank = KINDS[entry.type].torch, len(entry.input_shape) - 1
    if entry.type == "pad":
        mode: str = entry.layer.mode  # type: ignore[attr-defined]  # a Pad layer
        template = PAD_CLASSES[mode] + "{n}d"
    if "{n}" not in template:
        return f"nn.{template}"
    if entry.type == "batchnorm" and rank == 0:  # [C]: BatchNorm1d takes (N, C)
        rank = 1
    if not 1 <= rank <= 3:
        raise _refuse(
            entry, f"PyTorch has no {template.format(n=rank)} for an input of {rank + 1} sizes"
        )
    return f"nn.{template.format(n=rank)}"


def _module(entry: Entry, uses: Uses) -> Group:
    """The constructor call of a leaf's module (checked by :func:`_check`)."""
    if isinstance(uses, KerasUses):  # a Keras spec: its leaves in PyTorch's terms
        pieces = keras_pieces(entry, uses)
        if pieces is not None:
            return _pieces(pieces, uses)
    return _leaf_call(entry, uses)


def _leaf_call(entry: Entry, uses: Uses) -> Group:
    """The module of the registry's class (or the file's helper class) for a leaf."""
    cls = HELPER_CLASSES.get(entry.type)
    if cls is not None:
        uses.helpers.add(cls)
    return call((cls or _torch_class(entry)) + "(", _arguments(entry, uses))


def _pieces(pieces: list[Any], uses: KerasUses) -> Group:
    """A Keras leaf's PyTorch modules (:func:`keras_pieces`): one, or an nn.Sequential of
    them in order (a padding before its conv or pool, permutes around a reshape)."""
    exprs: list[Group] = []
    for piece in pieces:
        if isinstance(piece, Group):
            exprs.append(piece)
        elif isinstance(piece, tuple):  # ("keras_affine", the batchnorm, center, scale)
            _, norm, center, scale = piece
            items = [
                Item("", _leaf_call(norm, uses)),
                Item("center=", repr(center)),
                Item("scale=", repr(scale)),
            ]
            exprs.append(call("keras_affine(", items))
        else:
            exprs.append(_leaf_call(piece, uses))
    if len(exprs) == 1:
        return exprs[0]
    return call("nn.Sequential(", [Item("", e) for e in exprs])


# --- names ---------------------------------------------------------------------------------

# the public attributes of an nn.Sequential (torch 2.13): a module registered under one of these
# names would hide it (add_module refuses them)
_SEQUENTIAL_NAMES = """
    T_destination add_module append apply bfloat16 buffers call_super_init children compile
    cpu cuda double dump_patches eval extend extra_repr float forward get_buffer
    get_extra_state get_parameter get_submodule half insert ipu load_state_dict modules mtia
    named_buffers named_children named_modules named_parameters parameters pop
    register_backward_hook register_buffer register_forward_hook register_forward_pre_hook
    register_full_backward_hook register_full_backward_pre_hook
    register_load_state_dict_post_hook register_load_state_dict_pre_hook register_module
    register_parameter register_state_dict_post_hook register_state_dict_pre_hook
    requires_grad_ set_extra_state set_submodule share_memory state_dict to to_empty train
    training type xpu zero_grad
"""
SEQUENTIAL_ATTRIBUTES = frozenset(_SEQUENTIAL_NAMES.split())
# the file's own global names
GLOBALS = frozenset(
    {"torch", "nn", "math", "sys", "sequential", "Residual", "Concat", "Scale", "Reshape"}
    | {"Permute", "StochasticDepth", "SelectChannels", "Split", "frozen", "Graph"}
    | set(SWIN_CLASSES.values())
    | set(MAXVIT_CLASSES.values())
    | {"SelfAttention", "ClassToken", "PositionEmbedding", "Select", "LayerScale", "LayerNorm2d"}
    | {"keras_affine", "Rescaling", "Normalization", "_kept"}
)


def _keys(entries: tuple[Entry, ...]) -> list[str | None]:
    """Each entry's name in its nn.Sequential, None where it has no name (its index then)."""
    names = Names(SEQUENTIAL_ATTRIBUTES)
    keys: list[str | None] = []
    for entry in entries:
        base = identifier(entry.name)
        keys.append(None if base is None else names.add(base))
    return keys


def class_name_of(spec_name: str) -> str:
    """The default class name: the spec's name CamelCased (``hw3-q3`` → ``Hw3Q3``)."""
    parts = re.split(r"[^0-9A-Za-z]+", spec_name)
    name = "".join(part[0].upper() + part[1:] for part in parts if part)[:NAME_LIMIT]
    if not name or name[0].isdigit():
        name = "Net" + name
    return name + "Net" if name in GLOBALS | AMBIGUOUS or keyword.iskeyword(name) else name


# --- blocks --------------------------------------------------------------------------------

EMPTY = "nn.Sequential()"  # an empty list of layers: the identity
BLOCK_CLASSES = {"residual": "Residual", "concat": "Concat", "scale": "Scale", "split": "Split"}
BLOCK_CLASSES["graph"] = "Graph"
# the attributes of an nn.ModuleDict besides an nn.Sequential's: a graph's path may not be one
_MODULE_DICT_NAMES = frozenset({"keys", "items", "values", "update", "clear"})


def _comment(entry: Entry) -> str:
    """A leaf's output shape, for the end of its line."""
    return "" if entry.is_block else sizes_text(entry.output_shape)


def _chain(entries: tuple[Entry, ...], built: dict[int, Expr], uses: Uses) -> Expr:
    """A list of layers: nn.Sequential, or sequential({...}) where some have names."""
    if not entries:
        return EMPTY
    keys = _keys(entries)
    exprs = [built.pop(id(entry)) for entry in entries]
    if all(key is None for key in keys):
        items = [Item("", e, _comment(entry)) for e, entry in zip(exprs, entries, strict=True)]
        return Group("nn.Sequential(", items, block=True, movable=True)
    uses.helpers.add("sequential")
    named = [
        Item(f"{python_str(key if key is not None else str(i))}: ", e, _comment(entry))
        for i, (key, e, entry) in enumerate(zip(keys, exprs, entries, strict=True))
    ]
    mapping = Group("{", named, "}", block=True)
    return Group("sequential(", [Item("", mapping)], trailing=False, block=True, movable=True)


def _composite(entry: Entry, built: dict[int, Expr], uses: Uses) -> Expr:
    """A block: its chain (sequential, repeat), or its class called with its chains."""
    chains = [_chain(children, built, uses) for _, children in entry.children]
    if entry.type in ("sequential", "repeat"):
        chain = chains[0]
        if isinstance(chain, Group):
            chain.name = entry.name
        return chain
    if entry.type == "graph" or getattr(entry.layer, "join", "add") != "add":
        uses.helpers.add("Graph")  # a residual joined by another op: a graph of its two paths
        return _graph(entry, chains)
    cls = BLOCK_CLASSES[entry.type]
    uses.helpers.add(cls)
    identity = "identity" if entry.type != "scale" else ""
    items = [Item("", chain, identity if chain == EMPTY else "") for chain in chains]
    if entry.type == "split":  # the slices' sizes first, as x.split takes them
        sizes = entry.layer.slices(entry.input_shape)  # type: ignore[attr-defined]
        items.insert(0, Item("", literal(tuple(sizes), uses)))
    return Group(cls + "(", items, block=True, movable=True, name=entry.name)


def _graph(entry: Entry, chains: list[Expr]) -> Expr:
    """``Graph(join, output, sources, paths)``: the paths' names as identifiers (the keys of
    an nn.ModuleDict), the joined ones, what each path reads where it is not the block's
    input, and the paths' chains in order."""
    routes = getattr(entry.layer, "routes", None)
    if routes is None:  # a residual: body and shortcut, both joined, both on the input
        routes = [GraphPath(name=key) for key in ("body", "shortcut")]
    names = Names(SEQUENTIAL_ATTRIBUTES | _MODULE_DICT_NAMES)
    keys = [names.add(identifier(route.name) or "path") for route in routes]
    key_of = {route.name: key for route, key in zip(routes, keys, strict=True)}
    order = entry.layer.joined() or range(len(keys))  # type: ignore[attr-defined]
    joined = [Item("", python_str(keys[i])) for i in order]
    read = [
        Item(f"{python_str(key)}: ", python_str(key_of[route.source]))
        for route, key in zip(routes, keys, strict=True)
        if route.source is not None
    ]
    flat_read = "{" + ", ".join(item.prefix + flat(item.expr) for item in read) + "}"
    paths = [
        Item(f"{python_str(key)}: ", chain, "identity" if chain == EMPTY else "")
        for key, chain in zip(keys, chains, strict=True)
    ]
    items = [
        Item("", python_str(entry.layer.join)),  # type: ignore[attr-defined]
        Item("", call("(", joined, one_tuple=True)),
        Item("", Group("{", read, "}", flat=flat_read)),
        Item("", Group("{", paths, "}", block=True)),
    ]
    return Group("Graph(", items, block=True, movable=True, name=entry.name)


def _frozen(entry: Entry, expr: Expr, uses: Uses) -> Expr:
    """``frozen(module)`` for a layer or block written ``trainable: false``: the module with
    ``requires_grad_(False)`` on every parameter."""
    if entry.layer.trainable:
        return expr
    uses.helpers.add("frozen")
    if isinstance(expr, Group) and expr.flat is None:
        return Group("frozen(", [Item("", expr)], trailing=False)
    return call("frozen(", [Item("", expr)])


def _expressions(report: Report, uses: Uses) -> list[Expr]:
    """Every top-level layer's expression, built children first without recursion."""
    order = list(report.walk())
    leaves = [entry for entry in order if not entry.is_block]
    first = leaves[0] if leaves else None
    for leaf in leaves:  # the first layer that cannot be written is the one refused
        _check(leaf, leaf is first)
    built: dict[int, Expr] = {}
    for entry in reversed(order):
        if entry.is_block:
            built[id(entry)] = _frozen(entry, _composite(entry, built, uses), uses)
        else:
            built[id(entry)] = _frozen(entry, _module(entry, uses), uses)
    return [built.pop(id(entry)) for entry in report.layers]


# --- the file ------------------------------------------------------------------------------

HELPERS: dict[str, str] = {
    "sequential": '''
def sequential(modules: dict[str, nn.Module]) -> nn.Sequential:
    """nn.Sequential of the modules in order, each under its name."""
    chain = nn.Sequential()
    for name, module in modules.items():
        chain.add_module(name, module)
    return chain
''',
    "Residual": '''
class Residual(nn.Module):
    """body(x) + shortcut(x); an empty shortcut is the identity."""

    def __init__(self, body: nn.Module, shortcut: nn.Module) -> None:
        super().__init__()
        self.body = body
        self.shortcut = shortcut

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x) + self.shortcut(x)
''',
    "Concat": '''
class Concat(nn.Module):
    """The branches' outputs joined along the channels; an empty branch passes x itself."""

    def __init__(self, *branches: nn.Module) -> None:
        super().__init__()
        self.branches = nn.ModuleList(branches)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([branch(x) for branch in self.branches], dim=1)
''',
    "Split": '''
class Split(nn.Module):
    """x's channels cut into slices of the given sizes (x.split(sizes, dim=1)), each through
    its branch, the outputs joined along the channels; an empty branch passes its slice on."""

    def __init__(self, sizes: tuple[int, ...], *branches: nn.Module) -> None:
        super().__init__()
        self.sizes = sizes
        self.branches = nn.ModuleList(branches)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        slices = x.split(self.sizes, dim=1)
        return torch.cat([b(s) for b, s in zip(self.branches, slices, strict=True)], dim=1)
''',
    "Scale": '''
class Scale(nn.Module):
    """x * body(x), the body's output broadcast over x (squeeze-and-excitation)."""

    def __init__(self, body: nn.Module) -> None:
        super().__init__()
        self.body = body

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.body(x)
''',
    "Graph": '''
class Graph(nn.Module):
    """Named paths run in order, each on the block's input or, where sources names one, on
    an earlier path's output; the outputs of the paths in output are added, multiplied or
    joined along the channels, as join ("add", "subtract", "multiply", "average", "maximum",
    "minimum", "concat") says: the first minus the others, (a + b) / 2 for two."""

    def __init__(
        self,
        join: str,
        output: tuple[str, ...],
        sources: dict[str, str],
        paths: dict[str, nn.Module],
    ) -> None:
        super().__init__()
        self.join, self.output, self.sources = join, output, sources
        self.paths = nn.ModuleDict(paths)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        outputs: dict[str, torch.Tensor] = {}
        for name, path in self.paths.items():
            source = self.sources.get(name)
            outputs[name] = path(x if source is None else outputs[source])
        joined = [outputs[name] for name in self.output]
        if self.join == "concat":
            return torch.cat(joined, dim=1)
        out = joined[0]
        for other in joined[1:]:
            if self.join in ("add", "average"):
                out = out + other
            elif self.join == "subtract":
                out = torch.sub(out, other)
            elif self.join == "multiply":
                out = out * other
            elif self.join == "maximum":
                out = torch.maximum(out, other)
            else:
                out = torch.minimum(out, other)
        return out / len(joined) if self.join == "average" else out
''',
    "Reshape": '''
class Reshape(nn.Module):
    """x.reshape(batch, *shape): each sample to shape (one size may be -1)."""

    def __init__(self, *shape: int) -> None:
        super().__init__()
        self.shape = shape

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.reshape(x.shape[0], *self.shape)

    def extra_repr(self) -> str:
        return ", ".join(str(n) for n in self.shape)
''',
    "SelectChannels": '''
class SelectChannels(nn.Module):
    """x[:, channels]: the listed channels, in that order."""

    def __init__(self, *channels: int) -> None:
        super().__init__()
        self.channels = list(channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x[:, self.channels]

    def extra_repr(self) -> str:
        return ", ".join(str(c) for c in self.channels)
''',
    "SelfAttention": '''
class SelfAttention(nn.Module):
    """nn.MultiheadAttention as self-attention on a batch of sequences (N, L, E), called as
    torchvision's ViT calls it: attention(x, x, x, need_weights=False), the output alone."""

    def __init__(self, embed_dim: int, num_heads: int, **kwargs: float | bool | None) -> None:
        super().__init__()
        self.attention = nn.MultiheadAttention(embed_dim, num_heads, batch_first=True, **kwargs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.attention(x, x, x, need_weights=False)[0]
''',
    "ClassToken": '''
class ClassToken(nn.Module):
    """torchvision ViT's class token: a learnt (1, 1, E) vector put before the sequence."""

    def __init__(self, embed_dim: int) -> None:
        super().__init__()
        self.class_token = nn.Parameter(torch.zeros(1, 1, embed_dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.class_token.expand(x.shape[0], -1, -1), x], dim=1)
''',
    "PositionEmbedding": '''
class PositionEmbedding(nn.Module):
    """torchvision ViT's position embedding: a learnt (1, L, E) tensor added to the sequence."""

    def __init__(self, length: int, embed_dim: int) -> None:
        super().__init__()
        self.pos_embedding = nn.Parameter(torch.empty(1, length, embed_dim).normal_(std=0.02))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.pos_embedding
''',
    "Select": '''
class Select(nn.Module):
    """x.select(dim, index) (x[:, index] for dim 1): dim counts the batch dimension."""

    def __init__(self, dim: int, index: int) -> None:
        super().__init__()
        self.dim = dim
        self.index = index

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.select(self.dim, self.index)

    def extra_repr(self) -> str:
        return f"dim={self.dim}, index={self.index}"
''',
    "LayerScale": '''
class LayerScale(nn.Module):
    """ConvNeXt's layer scale (torchvision CNBlock's): a learnt factor per channel, C×1×…×1
    over the spatial dimensions, initialised to layer_scale."""

    def __init__(self, channels: int, spatial: int, layer_scale: float = 1e-6) -> None:
        super().__init__()
        self.layer_scale = nn.Parameter(torch.ones(channels, *[1] * spatial) * layer_scale)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layer_scale * x
''',
    "LayerNorm2d": '''
class LayerNorm2d(nn.LayerNorm):
    """torchvision's LayerNorm2d (ConvNeXt): a layer norm over the channels of (N, C, H, W)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.permute(0, 2, 3, 1)
        x = nn.functional.layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)
        return x.permute(0, 3, 1, 2)
''',
    "frozen": '''
def frozen(module: nn.Module) -> nn.Module:
    """The module with every parameter frozen (requires_grad False): it does not train."""
    return module.requires_grad_(False)
''',
    "Permute": '''
class Permute(nn.Module):
    """x.permute(*dims): dims count the batch dimension, which stays first. Made contiguous,
    as a layer that views its input (LocalResponseNorm of 4 or more dimensions) needs."""

    def __init__(self, *dims: int) -> None:
        super().__init__()
        self.dims = dims

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.permute(*self.dims).contiguous()

    def extra_repr(self) -> str:
        return ", ".join(str(d) for d in self.dims)
''',
    "StochasticDepth": '''
class StochasticDepth(nn.Module):
    """torchvision.ops.StochasticDepth: in training, drops the input with probability p, per
    sample ("row") or for the whole batch ("batch"), scaling what is kept by 1 / (1 - p); in
    eval mode, the identity."""

    def __init__(self, p: float, mode: str) -> None:
        super().__init__()
        self.p = p
        self.mode = mode

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0.0:
            return x
        size = [1] * x.ndim
        if self.mode == "row":
            size[0] = x.shape[0]
        survival = 1.0 - self.p
        noise = torch.empty(size, dtype=x.dtype, device=x.device).bernoulli_(survival)
        if survival > 0.0:
            noise.div_(survival)
        return x * noise

    def extra_repr(self) -> str:
        return f"p={self.p}, mode={self.mode}"
''',
}
HELPERS |= {
    "ShiftedWindowAttention": '''
class ShiftedWindowAttention(nn.Module):
    """torchvision's ShiftedWindowAttention on [N, H, W, C], its parameters held directly
    (qkv_weight is torchvision's qkv.weight, and so on): self-attention within windows of
    window_size tokens, the grid padded to whole windows and rolled by shift_size."""

    def __init__(
        self,
        dim: int,
        window_size: tuple[int, int],
        shift_size: tuple[int, int],
        num_heads: int,
        qkv_bias: bool = True,
        proj_bias: bool = True,
        attention_dropout: float = 0.0,
        dropout: float = 0.0,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        made: dict = {"device": device, "dtype": dtype}
        self.window_size, self.shift_size = list(window_size), list(shift_size)
        self.num_heads = num_heads
        self.attention_dropout, self.dropout = attention_dropout, dropout
        self.qkv_weight = nn.Parameter(torch.empty(3 * dim, dim, **made))
        self.qkv_bias = nn.Parameter(torch.zeros(3 * dim, **made)) if qkv_bias else None
        self.proj_weight = nn.Parameter(torch.empty(dim, dim, **made))
        self.proj_bias = nn.Parameter(torch.zeros(dim, **made)) if proj_bias else None
        nn.init.trunc_normal_(self.qkv_weight, std=0.02)
        nn.init.trunc_normal_(self.proj_weight, std=0.02)
        self.define_bias(made)
        wh, ww = self.window_size
        grid = torch.meshgrid(torch.arange(wh), torch.arange(ww), indexing="ij")
        coords = torch.stack(grid).flatten(1)
        relative = (coords[:, :, None] - coords[:, None, :]).permute(1, 2, 0)
        index = (relative[:, :, 0] + wh - 1) * (2 * ww - 1) + relative[:, :, 1] + ww - 1
        self.register_buffer("relative_position_index", index.flatten())

    def define_bias(self, made: dict) -> None:
        """The relative position bias table: one row per offset, one column per head."""
        wh, ww = self.window_size
        table = torch.empty((2 * wh - 1) * (2 * ww - 1), self.num_heads, **made)
        self.relative_position_bias_table = nn.Parameter(nn.init.trunc_normal_(table, std=0.02))

    def bias_table(self) -> torch.Tensor:
        return self.relative_position_bias_table

    def position_bias(self) -> torch.Tensor:
        n = self.window_size[0] * self.window_size[1]
        bias = self.bias_table()[self.relative_position_index].view(n, n, -1)
        return bias.permute(2, 0, 1).contiguous().unsqueeze(0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        logit_scale = getattr(self, "logit_scale", None)
        b, h, w, c = x.shape
        (wh, ww), heads = self.window_size, self.num_heads
        x = nn.functional.pad(x, (0, 0, 0, (ww - w % ww) % ww, 0, (wh - h % wh) % wh))
        _, ph, pw, _ = x.shape
        shift = list(self.shift_size)
        if wh >= ph:  # no shift where one window covers the padded grid
            shift[0] = 0
        if ww >= pw:
            shift[1] = 0
        if sum(shift) > 0:
            x = torch.roll(x, shifts=(-shift[0], -shift[1]), dims=(1, 2))
        windows = (ph // wh) * (pw // ww)
        x = x.view(b, ph // wh, wh, pw // ww, ww, c).permute(0, 1, 3, 2, 4, 5)
        x = x.reshape(b * windows, wh * ww, c)
        qkv_bias = self.qkv_bias
        if logit_scale is not None and qkv_bias is not None:
            qkv_bias = qkv_bias.clone()
            qkv_bias[c : 2 * c].zero_()
        qkv = nn.functional.linear(x, self.qkv_weight, qkv_bias)
        qkv = qkv.reshape(x.size(0), x.size(1), 3, heads, c // heads).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]
        if logit_scale is not None:  # v2: cosine attention
            normalize = nn.functional.normalize
            attn = normalize(q, dim=-1) @ normalize(k, dim=-1).transpose(-2, -1)
            attn = attn * torch.clamp(logit_scale, max=math.log(100.0)).exp()
        else:
            attn = (q * (c // heads) ** -0.5).matmul(k.transpose(-2, -1))
        attn = attn + self.position_bias()
        if sum(shift) > 0:
            mask = x.new_zeros((ph, pw))
            rows = ((0, -wh), (-wh, -shift[0]), (-shift[0], None))
            columns = ((0, -ww), (-ww, -shift[1]), (-shift[1], None))
            for count, (r, s) in enumerate((r, s) for r in rows for s in columns):
                mask[r[0] : r[1], s[0] : s[1]] = count
            mask = mask.view(ph // wh, wh, pw // ww, ww).permute(0, 2, 1, 3)
            mask = mask.reshape(windows, wh * ww)
            mask = mask.unsqueeze(1) - mask.unsqueeze(2)
            mask = mask.masked_fill(mask != 0, -100.0).masked_fill(mask == 0, 0.0)
            attn = attn.view(x.size(0) // windows, windows, heads, x.size(1), x.size(1))
            attn = attn + mask.unsqueeze(1).unsqueeze(0)
            attn = attn.view(-1, heads, x.size(1), x.size(1))
        attn = nn.functional.softmax(attn, dim=-1)
        attn = nn.functional.dropout(attn, p=self.attention_dropout, training=self.training)
        x = attn.matmul(v).transpose(1, 2).reshape(x.size(0), x.size(1), c)
        x = nn.functional.linear(x, self.proj_weight, self.proj_bias)
        x = nn.functional.dropout(x, p=self.dropout, training=self.training)
        x = x.view(b, ph // wh, pw // ww, wh, ww, c).permute(0, 1, 3, 2, 4, 5)
        x = x.reshape(b, ph, pw, c)
        if sum(shift) > 0:
            x = torch.roll(x, shifts=(shift[0], shift[1]), dims=(1, 2))
        return x[:, :h, :w, :].contiguous()
''',
    "ShiftedWindowAttentionV2": '''
class ShiftedWindowAttentionV2(ShiftedWindowAttention):
    """torchvision's ShiftedWindowAttentionV2: cosine attention scaled by logit_scale, the
    position bias 16·sigmoid of an MLP over the relative offsets (cpb_mlp_0_weight is
    torchvision's cpb_mlp.0.weight, and so on), the keys' third of the qkv bias kept at 0."""

    def define_bias(self, made: dict) -> None:
        """logit_scale, the MLP Linear(2, 512), ReLU, Linear(512, heads, no bias), and the
        table of relative offsets it reads, log-spaced."""
        wh, ww = self.window_size
        heads = self.num_heads
        self.logit_scale = nn.Parameter(torch.log(10 * torch.ones((heads, 1, 1), **made)))
        self.cpb_mlp_0_weight = nn.Parameter(torch.empty(512, 2, **made))
        self.cpb_mlp_0_bias = nn.Parameter(torch.zeros(512, **made))
        self.cpb_mlp_2_weight = nn.Parameter(torch.empty(heads, 512, **made))
        nn.init.trunc_normal_(self.cpb_mlp_0_weight, std=0.02)
        nn.init.trunc_normal_(self.cpb_mlp_2_weight, std=0.02)
        rows = torch.arange(-(wh - 1), wh, dtype=torch.float32)
        columns = torch.arange(-(ww - 1), ww, dtype=torch.float32)
        table = torch.stack(torch.meshgrid([rows, columns], indexing="ij"))
        table = table.permute(1, 2, 0).contiguous().unsqueeze(0)
        table[:, :, :, 0] /= wh - 1
        table[:, :, :, 1] /= ww - 1
        table *= 8
        table = torch.sign(table) * torch.log2(torch.abs(table) + 1.0) / 3.0
        self.register_buffer("relative_coords_table", table)

    def bias_table(self) -> torch.Tensor:
        linear = nn.functional.linear
        hidden = linear(self.relative_coords_table, self.cpb_mlp_0_weight, self.cpb_mlp_0_bias)
        out = linear(nn.functional.relu(hidden), self.cpb_mlp_2_weight)
        return out.view(-1, self.num_heads)

    def position_bias(self) -> torch.Tensor:
        return 16 * torch.sigmoid(super().position_bias())
''',
    "PatchMerging": '''
class PatchMerging(nn.Module):
    """torchvision's PatchMerging on [..., H, W, C], its parameters held directly
    (reduction_weight is torchvision's reduction.weight, and so on): each 2x2 block of tokens
    side by side (odd sizes padded by one), LayerNorm(4C), Linear 4C -> 2C without bias."""

    def __init__(
        self,
        dim: int,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        made: dict = {"device": device, "dtype": dtype}
        self.reduction_weight = nn.Parameter(torch.empty(2 * dim, 4 * dim, **made))
        nn.init.trunc_normal_(self.reduction_weight, std=0.02)
        self.norm_weight = nn.Parameter(torch.ones(self.norm_width(dim), **made))
        self.norm_bias = nn.Parameter(torch.zeros(self.norm_width(dim), **made))

    def norm_width(self, dim: int) -> int:
        return 4 * dim

    def merge(self, x: torch.Tensor) -> torch.Tensor:
        h, w = x.shape[-3], x.shape[-2]
        x = nn.functional.pad(x, (0, 0, 0, w % 2, 0, h % 2))
        parts = [x[..., i::2, j::2, :] for j in (0, 1) for i in (0, 1)]
        return torch.cat(parts, -1)

    def norm(self, x: torch.Tensor) -> torch.Tensor:
        shape = self.norm_weight.shape
        return nn.functional.layer_norm(x, shape, self.norm_weight, self.norm_bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return nn.functional.linear(self.norm(self.merge(x)), self.reduction_weight)
''',
    "PatchMergingV2": '''
class PatchMergingV2(PatchMerging):
    """torchvision's PatchMergingV2: the Linear 4C -> 2C first, then LayerNorm(2C)."""

    def norm_width(self, dim: int) -> int:
        return 2 * dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.norm(nn.functional.linear(self.merge(x), self.reduction_weight))
''',
}
HELPERS |= {
    "WindowPartition": '''
class WindowPartition(nn.Module):
    """torchvision's MaxViT WindowPartition, given p at construction: [N, C, H, W] ->
    [N, (H/p)*(W/p), p*p, C], the tokens of each p x p window."""

    def __init__(self, p: int) -> None:
        super().__init__()
        self.p = p

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, h, w = x.shape
        p = self.p
        x = x.reshape(b, c, h // p, p, w // p, p).permute(0, 2, 4, 3, 5, 1)
        return x.reshape(b, (h // p) * (w // p), p * p, c)

    def extra_repr(self) -> str:
        return f"p={self.p}"
''',
    "WindowDepartition": '''
class WindowDepartition(nn.Module):
    """torchvision's MaxViT WindowDepartition, given its sizes at construction:
    [N, HP*WP, p*p, C] -> [N, C, HP*p, WP*p]."""

    def __init__(self, p: int, h_partitions: int, w_partitions: int) -> None:
        super().__init__()
        self.p, self.h_partitions, self.w_partitions = p, h_partitions, w_partitions

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, _, _, c = x.shape
        p, hp, wp = self.p, self.h_partitions, self.w_partitions
        x = x.reshape(b, hp, wp, p, p, c).permute(0, 5, 1, 3, 2, 4)
        return x.reshape(b, c, hp * p, wp * p)

    def extra_repr(self) -> str:
        return f"p={self.p}, h_partitions={self.h_partitions}, w_partitions={self.w_partitions}"
''',
    "RelativePositionalMultiHeadAttention": '''
class RelativePositionalMultiHeadAttention(nn.Module):
    """torchvision's MaxViT attention on [N, G, P, D], with its state dict: heads of
    head_dim attend within each of the G groups of P tokens, a learned bias added for each
    relative offset of two tokens in a side x side square (side = int(sqrt(max_seq_len)))."""

    def __init__(
        self,
        feat_dim: int,
        head_dim: int,
        max_seq_len: int,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        if feat_dim % head_dim != 0:
            raise ValueError(f"feat_dim: {feat_dim} must be divisible by head_dim: {head_dim}")
        made: dict = {"device": device, "dtype": dtype}
        self.n_heads, self.head_dim = feat_dim // head_dim, head_dim
        self.size, self.max_seq_len = int(math.sqrt(max_seq_len)), max_seq_len
        self.to_qkv = nn.Linear(feat_dim, self.n_heads * self.head_dim * 3, **made)
        self.scale_factor = feat_dim**-0.5
        self.merge = nn.Linear(self.head_dim * self.n_heads, feat_dim, **made)
        rows = (2 * self.size - 1) * (2 * self.size - 1)
        table = torch.empty(rows, self.n_heads, **made)
        self.relative_position_bias_table = nn.Parameter(nn.init.trunc_normal_(table, std=0.02))
        s = self.size
        grid = torch.meshgrid(torch.arange(s), torch.arange(s), indexing="ij")
        coords = torch.stack(grid).flatten(1)
        relative = (coords[:, :, None] - coords[:, None, :]).permute(1, 2, 0)
        index = (relative[:, :, 0] + s - 1) * (2 * s - 1) + relative[:, :, 1] + s - 1
        self.register_buffer("relative_position_index", index)

    def position_bias(self) -> torch.Tensor:
        index = self.relative_position_index.view(-1)
        bias = self.relative_position_bias_table[index].view(self.max_seq_len, self.max_seq_len, -1)
        return bias.permute(2, 0, 1).contiguous().unsqueeze(0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, g, p, d = x.shape
        h, dh = self.n_heads, self.head_dim
        q, k, v = torch.chunk(self.to_qkv(x), 3, dim=-1)
        q = q.reshape(b, g, p, h, dh).permute(0, 1, 3, 2, 4)
        k = k.reshape(b, g, p, h, dh).permute(0, 1, 3, 2, 4)
        v = v.reshape(b, g, p, h, dh).permute(0, 1, 3, 2, 4)
        k = k * self.scale_factor
        scores = torch.einsum("B G H I D, B G H J D -> B G H I J", q, k)
        scores = nn.functional.softmax(scores + self.position_bias(), dim=-1)
        out = torch.einsum("B G H I J, B G H J D -> B G H I D", scores, v)
        return self.merge(out.permute(0, 1, 3, 2, 4).reshape(b, g, p, d))
''',
}
HELPERS |= KERAS_HELPERS  # a Keras spec's: keras_affine, Rescaling, Normalization
FRAMES_PER_LEVEL = 10  # Python frames PyTorch spends per nested block (about 9, measured)


def recursion_limit(depth: int) -> int | None:
    """The recursion limit PyTorch needs for blocks nested ``depth`` deep (None: the default
    of 1,000 is enough)."""
    return 1000 + FRAMES_PER_LEVEL * depth if depth > DEEP else None


def _header(report: Report, depth: int) -> list[str]:
    """The module docstring: what was generated from what, the shapes and the totals."""
    name = docstring_text(report.name)
    lines = [
        f'"""A PyTorch module generated by convcalc from the spec {name}.',
        "",
        docstring_text(f"Input: {sizes_text(report.input_shape)} (one sample).", WIDTH - 3),
        docstring_text(f"Output: {sizes_text(report.output_shape)}.", WIDTH - 3),
        _params_line(report),
        "PyTorch adds the batch dimension in front; the comments give each layer's output shape",
        "without it.",
    ]
    if report.dialect is not None:
        written = report.dialect.shape(report.input_shape)
        lines += [
            "Written from a Keras spec: the input is channels-first, (C, *spatial), PyTorch's",
            docstring_text(
                f"layout ({sizes_text(report.input_shape)} for Keras' {sizes_text(written)}).",
                WIDTH - 3,
            ),
            "Each layer computes what Keras' does: its same padding (an uneven one explicit),",
            "BatchNormalization's epsilon and momentum (1 - Keras'), Dense on the last axis.",
        ]
    limit = recursion_limit(depth)
    if limit is not None:
        lines += [
            f"Blocks nest {depth} deep, and PyTorch walks and runs modules recursively (eval(),",
            f"parameters(), forward): call sys.setrecursionlimit({limit}) before using them",
            "(the __main__ block below does).",
        ]
    return [*lines, '"""']


def _params_line(report: Report) -> str:
    """The docstring's parameter count: all trainable, or how many are frozen."""
    frozen = report.total_params - report.trainable_params
    if not frozen:
        return f"Parameters: {report.total_params:,} (all trainable)."
    return f"Parameters: {report.total_params:,} ({frozen:,} frozen: trainable false)."


def _main_class(report: Report, class_name: str, uses: Uses) -> list[str]:
    """The network's class: an nn.Sequential of the top-level layers, built in __init__."""
    exprs = _expressions(report, uses)
    layout = Layout(GLOBALS | AMBIGUOUS | {"self", "super", class_name})
    lines = [
        f"class {class_name}(nn.Sequential):",
        f'    """The network {docstring_text(report.name)}, as convcalc analysed it."""',
        "",
        "    def __init__(self) -> None:",
        "        super().__init__()",
    ]
    for entry, key, expr in zip(report.layers, _keys(report.layers), exprs, strict=True):
        if key is not None:  # self.conv1 = nn.Conv2d(...)
            lines += layout.statement(f"self.{key} = ", expr, _comment(entry), 8)
        else:  # self.append(nn.Conv2d(...)): registered under its index
            lines += layout.statement("", _appended(expr, _comment(entry)), _comment(entry), 8)
    return lines


def _appended(expr: Expr, comment: str) -> Group:
    """``self.append(expr)``: on one line where it fits; a block, always one item a line,
    as ruff writes a sole argument (no trailing comma)."""
    if isinstance(expr, Group) and expr.flat is None:
        return Group("self.append(", [Item("", expr, comment)], trailing=False)
    return call("self.append(", [Item("", expr, comment)])


def _needs_two(entry: Entry) -> bool:
    """A batchnorm that takes its statistics from the batch even in eval mode, over one value
    per channel and sample: one sample is refused ("Expected more than 1 value per channel")."""
    layer = entry.layer
    return (
        entry.type == "batchnorm"
        and not getattr(layer, "track_running_stats", True)
        and math.prod(entry.input_shape[1:]) == 1
    )


def _smoke_test(report: Report, class_name: str, depth: int) -> list[str]:
    """The ``__main__`` block: one sample of zeros through the network (after raising the
    recursion limit, for deep blocks)."""
    leaves = list(report.leaves())
    tokens = bool(leaves) and leaves[0].type == "embedding"
    batch = 2 if any(_needs_two(entry) for entry in leaves) else 1
    sizes = ", ".join(str(n) for n in (batch, *report.input_shape))
    zeros = f"torch.zeros({sizes}, dtype=torch.long)" if tokens else f"torch.zeros({sizes})"
    note = ["    # two samples: a batchnorm without running statistics needs 2 values a channel"]
    limit = recursion_limit(depth)
    deep = [f"    sys.setrecursionlimit({limit})  # blocks nest {depth} deep"] if limit else []
    return [
        'if __name__ == "__main__":',
        *deep,
        f"    model = {class_name}().eval()",
        *(note if batch == 2 else []),
        "    with torch.no_grad():",
        f"        output = model({zeros})",
        '    print("output shape:", tuple(output.shape))',
        '    print(f"parameters: {sum(p.numel() for p in model.parameters()):,}")',
    ]


def to_pytorch(report: Report, class_name: str | None = None, spec: Spec | None = None) -> str:
    """The source of a Python file defining the analysed network as an ``nn.Sequential``
    subclass (default name: the spec's, CamelCased), with an ``if __name__ == "__main__"``
    block that runs one sample of zeros through it. A Keras spec (``report.dialect``) needs
    its ``spec`` (the arguments the records do not keep: Rescaling's, Normalization's): its
    leaves are written in PyTorch's terms by :func:`keras_pieces`, channels-first. Raises
    :class:`ExportError` at a layer no PyTorch module writes exactly, :class:`ConvcalcError`
    for an unusable class name."""
    dialect = report.dialect
    if dialect is not None and (spec is None or spec.doc is None):
        raise ConvcalcError(
            f"{report.name} is a Keras spec (framework: keras): its PyTorch export needs the "
            "spec itself (to_pytorch(report, spec=spec))"
        )
    if class_name is None:
        class_name = class_name_of(report.name)
    else:
        check_name(class_name, "class", CLASS_LIMIT, GLOBALS)
    uses: Uses = Uses()
    if dialect is not None:
        uses = KerasUses(spec=spec, channels_last=dialect.channels_last)
    body = _main_class(report, class_name, uses)
    depth = 1 + max((e.depth for e in report.walk() if e.is_block), default=-1)
    needs_math = uses.math or "Normalization" in uses.helpers
    standard = [name for name, used in (("math", needs_math), ("sys", depth > DEEP)) if used]
    imports = [*(f"import {name}" for name in standard), *([""] if standard else [])]
    imports += ["import torch", "import torch.nn as nn"]
    sections = [
        "\n".join([*_header(report, depth), "", *imports]),
        *(HELPERS[name].strip() for name in HELPERS if name in uses.helpers),
        "\n".join(body),
        "\n".join(_smoke_test(report, class_name, depth)),
    ]
    return "\n\n\n".join(sections) + "\n"
