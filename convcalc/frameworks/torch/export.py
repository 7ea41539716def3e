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
  is an ``nn.Sequential``, and an empty one (shortcut, branch) is the identity.
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
    line for line: the identity in eval mode).

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
    identifier,
    literal,
    sizes_text,
)
from convcalc.layers.registry import KINDS

if TYPE_CHECKING:
    from convcalc.records import Entry, Report

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
}
# layer types with no module in torch.nn: the file defines one (HELPERS)
HELPER_CLASSES = {"reshape": "Reshape", "permute": "Permute", "stochastic_depth": "StochasticDepth"}
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


# layer types written by their own function: the function and the fields it reads
CONVERTED: dict[str, tuple[Callable[[Any, Uses], list[Item]], tuple[str, ...]]] = {
    "flatten": (_flatten, ("start_dim", "end_dim")),
    "unflatten": (_unflatten, ("dim", "unflattened_size")),
    "reshape": (_reshape, ("shape",)),
    "permute": (_permute, ("dims",)),
    "pad": (_pad, ("padding", "mode", "value")),
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
        return CONVERTED[entry.type][0](layer, uses)
    leaf = LEAVES[entry.type]
    inferred = {CHANNELS: shape[0], FEATURES: shape[-1]}
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
    cls = HELPER_CLASSES.get(entry.type)
    if cls is not None:
        uses.helpers.add(cls)
    return call((cls or _torch_class(entry)) + "(", _arguments(entry, uses))


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
    | {"Permute", "StochasticDepth"}
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
BLOCK_CLASSES = {"residual": "Residual", "concat": "Concat", "scale": "Scale"}


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
    cls = BLOCK_CLASSES[entry.type]
    uses.helpers.add(cls)
    identity = "identity" if entry.type != "scale" else ""
    items = [Item("", chain, identity if chain == EMPTY else "") for chain in chains]
    return Group(cls + "(", items, block=True, movable=True, name=entry.name)


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
            built[id(entry)] = _composite(entry, built, uses)
        else:
            built[id(entry)] = _module(entry, uses)
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
    "Scale": '''
class Scale(nn.Module):
    """x * body(x), the body's output broadcast over x (squeeze-and-excitation)."""

    def __init__(self, body: nn.Module) -> None:
        super().__init__()
        self.body = body

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.body(x)
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
    "Permute": '''
class Permute(nn.Module):
    """x.permute(*dims): dims count the batch dimension, which stays first."""

    def __init__(self, *dims: int) -> None:
        super().__init__()
        self.dims = dims

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.permute(*self.dims)

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
        f"Parameters: {report.total_params:,} (all trainable).",
        "PyTorch adds the batch dimension in front; the comments give each layer's output shape",
        "without it.",
    ]
    limit = recursion_limit(depth)
    if limit is not None:
        lines += [
            f"Blocks nest {depth} deep, and PyTorch walks and runs modules recursively (eval(),",
            f"parameters(), forward): call sys.setrecursionlimit({limit}) before using them",
            "(the __main__ block below does).",
        ]
    return [*lines, '"""']


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


def to_pytorch(report: Report, class_name: str | None = None) -> str:
    """The source of a Python file defining the analysed network as an ``nn.Sequential``
    subclass (default name: the spec's, CamelCased), with an ``if __name__ == "__main__"``
    block that runs one sample of zeros through it. Raises :class:`ExportError` at a layer
    no PyTorch module writes exactly, :class:`ConvcalcError` for an unusable class name."""
    if class_name is None:
        class_name = class_name_of(report.name)
    else:
        check_name(class_name, "class", CLASS_LIMIT, GLOBALS)
    uses = Uses()
    body = _main_class(report, class_name, uses)
    depth = 1 + max((e.depth for e in report.walk() if e.is_block), default=-1)
    standard = [name for name, used in (("math", uses.math), ("sys", depth > DEEP)) if used]
    imports = [*(f"import {name}" for name in standard), *([""] if standard else [])]
    imports += ["import torch", "import torch.nn as nn"]
    sections = [
        "\n".join([*_header(report, depth), "", *imports]),
        *(HELPERS[name].strip() for name in HELPERS if name in uses.helpers),
        "\n".join(body),
        "\n".join(_smoke_test(report, class_name, depth)),
    ]
    return "\n\n\n".join(sections) + "\n"
