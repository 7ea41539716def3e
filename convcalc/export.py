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
level, so the file's docstring says how far to raise the recursion limit for deep networks.

Everything is walked with explicit stacks, never recursion.
"""

from __future__ import annotations

import keyword
import math
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeAlias

from convcalc.errors import ConvcalcError, SpecError, shown
from convcalc.spec.registry import KINDS

if TYPE_CHECKING:
    from convcalc.analysis import Entry, Report
    from convcalc.spec.step import Shape

WIDTH = 100  # the project's line length: the file passes `ruff format --check` and `ruff check`
HOIST_AT = 36  # a block starting further in than this is built first, as a local variable
INDENT = 4
CLASS_LIMIT = 60  # characters of a class name given: the file's lines stay within WIDTH
NAME_LIMIT = 22  # characters of a sanitised name: with HOIST_AT, every line fits in WIDTH
DEEP = 50  # blocks nested deeper than this need a higher recursion limit in PyTorch


class ExportError(SpecError):
    """A layer that the PyTorch export cannot write exactly, located by its path."""


# --- the expressions of the file -----------------------------------------------------------


@dataclass(frozen=True)
class _Item:
    """One item of a bracketed expression: ``prefix`` (``kernel_size=``, ``"fc1": `` or
    nothing), the value, and a comment for the end of its line."""

    prefix: str
    expr: Expr
    comment: str = ""


@dataclass
class _Group:
    """A call, tuple or dict: written on one line (``flat``) where that fits, else one item a
    line with a trailing comma (``trailing``: except a call's sole argument). A ``block``
    (a list of layers, a block of them, or the dict of a named list) is always one item a
    line; ``flat`` is None for it. A ``movable`` one (not the dict) may be built first, as a
    variable named after the spec's ``name`` for it."""

    open: str
    items: list[_Item]
    close: str = ")"
    flat: str | None = None
    trailing: bool = True
    block: bool = False
    movable: bool = False
    name: str | None = None


Expr: TypeAlias = str | _Group


def _call(open_: str, items: list[_Item], *, one_tuple: bool = False) -> _Group:
    """A call or tuple of atoms and flat groups, with its one-line form (``(3,)`` for a
    1-tuple)."""
    parts = [item.prefix + _flat(item.expr) for item in items]
    comma = "," if one_tuple and len(items) == 1 else ""
    return _Group(open_, items, flat=open_ + ", ".join(parts) + comma + ")")


def _flat(expr: Expr) -> str:
    """The one-line form of an atom or of a group of atoms."""
    return expr if isinstance(expr, str) else expr.flat or ""


# --- values --------------------------------------------------------------------------------


@dataclass
class _Uses:
    """What the file needs besides the main class: ``math``, helper classes and functions."""

    math: bool = False
    helpers: set[str] = field(default_factory=set)


def _value(value: Any, uses: _Uses) -> Expr:
    """A Python literal for a spec value (tuples as tuples, floats exactly, inf via math)."""
    if isinstance(value, tuple):
        items = [_Item("", _value(v, uses)) for v in value]
        return _call("(", items, one_tuple=True)
    if isinstance(value, bool) or value is None:
        return repr(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isfinite(value):
            return repr(value)
        uses.math = True
        return "math.nan" if math.isnan(value) else ("-" if value < 0 else "") + "math.inf"
    text = str(value).replace("\\", "\\\\").replace('"', '\\"')
    return f'"{text}"'


def _batched(dim: int) -> int:
    """A spec dimension (batch excluded) as PyTorch counts it (batch included)."""
    return dim + 1 if dim >= 0 else dim


def _shape_text(shape: Shape) -> str:
    return "x".join(str(n) for n in shape)


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
_FIRST_LEAF = re.compile(r"layers\[0\](\.layers\[0\])*")


def _flatten(layer: Any, uses: _Uses) -> list[_Item]:
    """nn.Flatten: the dimensions counted with the batch; (1, -1) is PyTorch's default."""
    start, end = _batched(layer.start_dim), _batched(layer.end_dim)
    items = [_Item("start_dim=", str(start))] if start != 1 else []
    return items + ([_Item("end_dim=", str(end))] if end != -1 else [])


def _unflatten(layer: Any, uses: _Uses) -> list[_Item]:
    """nn.Unflatten(dim, sizes), the dimension counted with the batch."""
    return [_Item("", str(_batched(layer.dim))), _Item("", _value(layer.unflattened_size, uses))]


def _reshape(layer: Any, uses: _Uses) -> list[_Item]:
    """Reshape(*shape): the batch is kept in front by the module itself."""
    return [_Item("", str(n)) for n in layer.shape]


def _permute(layer: Any, uses: _Uses) -> list[_Item]:
    """Permute(*dims), PyTorch's dims: the batch first, then the spec's, counted with it."""
    return [_Item("", str(d)) for d in (0, *(_batched(d) for d in layer.dims))]


def _pad(layer: Any, uses: _Uses) -> list[_Item]:
    """ConstantPad{n}d(padding, value) (value has no default); the other modes take none."""
    items = [_Item("", _value(layer.padding, uses))]
    return items + ([_Item("", _value(layer.value, uses))] if layer.mode == "constant" else [])


# layer types written by their own function: the function and the fields it reads
CONVERTED: dict[str, tuple[Callable[[Any, _Uses], list[_Item]], tuple[str, ...]]] = {
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


def _keyword(name: str, value: Any, uses: _Uses) -> _Item:
    """``name=value``; a dtype as the torch attribute (``dtype=torch.float16``)."""
    if name == "dtype":
        return _Item("dtype=", f"torch.{value.removeprefix('torch.')}")
    return _Item(f"{name}=", _value(value, uses))


def _arguments(entry: Entry, uses: _Uses) -> list[_Item]:
    """The arguments of a leaf's module (see :data:`LEAVES` and :data:`CONVERTED`)."""
    layer, shape = entry.layer, entry.input_shape
    if entry.type in CONVERTED:
        return CONVERTED[entry.type][0](layer, uses)
    leaf = LEAVES[entry.type]
    inferred = {CHANNELS: shape[0], FEATURES: shape[-1]}
    items = [
        _Item("", _value(inferred[name] if name in inferred else getattr(layer, name), uses))
        for name in leaf.positional
    ]
    for name in leaf.keywords:
        value = getattr(layer, name)
        if _written(layer, name, value):
            items.append(_keyword(name, value, uses))
    return items


def _refuse(entry: Entry, message: str, field_name: str | None = None) -> ExportError:
    return ExportError(
        f"cannot be exported to PyTorch: {message}",
        path=entry.path,
        layer_type=entry.type,
        field=field_name,
    )


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
    if entry.type == "embedding" and not (first and _FIRST_LEAF.fullmatch(entry.path)):
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


def _module(entry: Entry, first: bool, uses: _Uses) -> _Group:
    """The constructor call of a leaf's module."""
    _check(entry, first)
    cls = HELPER_CLASSES.get(entry.type)
    if cls is not None:
        uses.helpers.add(cls)
    return _call((cls or _torch_class(entry)) + "(", _arguments(entry, uses))


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
# names pycodestyle finds ambiguous (E741, E742): never a class's or a variable's
AMBIGUOUS = frozenset({"l", "O", "I"})
# the file's own global names
GLOBALS = frozenset(
    {"torch", "nn", "math", "sequential", "Residual", "Concat", "Scale", "Reshape", "Permute"}
    | {"StochasticDepth"}
)


def _identifier(name: str | None) -> str | None:
    """A spec name as a Python identifier (ASCII letters, digits, underscores), or None."""
    if name is None:
        return None
    text = re.sub(r"[^0-9A-Za-z]+", "_", name).strip("_")[:NAME_LIMIT].rstrip("_")
    if not text:
        return None
    return "_" + text if text[0].isdigit() else text


class _Names:
    """Unique identifiers in one namespace, none of them reserved or a keyword."""

    def __init__(self, reserved: frozenset[str]) -> None:
        self.reserved = reserved
        self.taken: set[str] = set()

    def add(self, base: str) -> str:
        """``base``, or ``base_`` if it is reserved or a keyword; then ``base_2``, ``base_3``,
        ... for the next ones."""
        name = base + "_" if keyword.iskeyword(base) or base in self.reserved else base
        count = 1
        while name in self.taken or name in self.reserved:
            count += 1
            name = f"{base}_{count}"
        self.taken.add(name)
        return name


def _keys(entries: tuple[Entry, ...]) -> list[str | None]:
    """Each entry's name in its nn.Sequential, None where it has no name (its index then)."""
    names = _Names(SEQUENTIAL_ATTRIBUTES)
    keys: list[str | None] = []
    for entry in entries:
        base = _identifier(entry.name)
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
    return "" if entry.is_block else _shape_text(entry.output_shape)


def _chain(entries: tuple[Entry, ...], built: dict[int, Expr], uses: _Uses) -> Expr:
    """A list of layers: nn.Sequential, or sequential({...}) where some have names."""
    if not entries:
        return EMPTY
    keys = _keys(entries)
    exprs = [built.pop(id(entry)) for entry in entries]
    if all(key is None for key in keys):
        items = [_Item("", e, _comment(entry)) for e, entry in zip(exprs, entries, strict=True)]
        return _Group("nn.Sequential(", items, block=True, movable=True)
    uses.helpers.add("sequential")
    named = [
        _Item(f'"{key if key is not None else i}": ', e, _comment(entry))
        for i, (key, e, entry) in enumerate(zip(keys, exprs, entries, strict=True))
    ]
    mapping = _Group("{", named, "}", block=True)
    return _Group("sequential(", [_Item("", mapping)], trailing=False, block=True, movable=True)


def _composite(entry: Entry, built: dict[int, Expr], uses: _Uses) -> Expr:
    """A block: its chain (sequential, repeat), or its class called with its chains."""
    chains = [_chain(children, built, uses) for _, children in entry.children]
    if entry.type in ("sequential", "repeat"):
        chain = chains[0]
        if isinstance(chain, _Group):
            chain.name = entry.name
        return chain
    cls = BLOCK_CLASSES[entry.type]
    uses.helpers.add(cls)
    identity = "identity" if entry.type != "scale" else ""
    items = [_Item("", chain, identity if chain == EMPTY else "") for chain in chains]
    return _Group(cls + "(", items, block=True, movable=True, name=entry.name)


def _expressions(report: Report, uses: _Uses) -> list[Expr]:
    """Every top-level layer's expression, built children first without recursion."""
    order = list(report.walk())
    leaves = [entry for entry in order if not entry.is_block]
    first = leaves[0] if leaves else None
    built: dict[int, Expr] = {}
    for entry in reversed(order):
        if entry.is_block:
            built[id(entry)] = _composite(entry, built, uses)
        else:
            built[id(entry)] = _module(entry, entry is first, uses)
    return [built.pop(id(entry)) for entry in report.layers]


# --- layout --------------------------------------------------------------------------------

_Place = tuple[Expr, int, str, str, str]  # expression, indent, prefix, suffix, comment
Definition = tuple[str, _Group]  # a block built first: its variable and its expression


def _commented(line: str, comment: str) -> str:
    """The line with its comment, where both fit."""
    text = f"{line}  # {comment}" if comment else line
    return text if len(text) <= WIDTH else line


class _Layout:
    """Lays statements out as ruff formats them: a bracketed expression on one line where it
    fits, else one item a line with a trailing comma (which keeps ruff from joining them); a
    block that would start beyond HOIST_AT columns is assigned to a local variable first."""

    def __init__(self, reserved: frozenset[str]) -> None:
        self.locals = _Names(reserved)
        self.count = 0

    def _local(self, name: str | None) -> str:
        base = _identifier(name)
        if base is not None:
            return self.locals.add(base)
        while True:
            self.count += 1
            candidate = f"block_{self.count}"
            if candidate not in self.locals.taken and candidate not in self.locals.reserved:
                return self.locals.add(candidate)

    def _lines(self, place: _Place) -> tuple[list[str], list[Definition]]:
        """One statement's lines, and the blocks it uses that are to be built first."""
        lines: list[str] = []
        hoisted: list[Definition] = []
        stack: list[_Place | str] = [place]
        while stack:
            top = stack.pop()
            if isinstance(top, str):
                lines.append(top)
                continue
            expr, indent, prefix, suffix, comment = top
            if isinstance(expr, _Group) and expr.movable and indent > HOIST_AT:
                local = self._local(expr.name)
                hoisted.append((local, expr))
                expr = local
            pad = " " * indent
            flat = expr if isinstance(expr, str) else expr.flat
            if flat is not None:
                line = pad + prefix + flat + suffix
                if isinstance(expr, str) or len(line) <= WIDTH:  # an atom cannot be split
                    lines.append(_commented(line, comment))
                    continue
            if isinstance(expr, _Group):
                lines.append(pad + prefix + expr.open)
                stack.append(pad + expr.close + suffix)
                comma = "," if expr.trailing else ""
                for item in reversed(expr.items):
                    stack.append((item.expr, indent + INDENT, item.prefix, comma, item.comment))
        return lines, hoisted

    def statement(self, prefix: str, expr: Expr, comment: str, indent: int) -> list[str]:
        """The statement ``prefix + expr``, after the statements building its hoisted blocks
        (each after those of its own), without recursion."""
        lines, hoisted = self._lines((expr, indent, prefix, "", comment))
        stack: list[tuple[list[str], list[Definition], int]] = [(lines, hoisted, 0)]
        out: list[str] = []
        while stack:
            lines, hoisted, next_ = stack.pop()
            if next_ < len(hoisted):
                stack.append((lines, hoisted, next_ + 1))
                local, group = hoisted[next_]
                stack.append((*self._lines((group, indent, f"{local} = ", "", "")), 0))
                continue
            out.extend(lines)
        return out


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


def _docstring_text(text: str, limit: int = 36) -> str:
    """Text as a docstring may show it: printable characters but quotes and backslashes (each
    shown as ?), cut to ``limit`` columns (a wide character takes two) with ``...``."""
    out: list[str] = []
    width = 0
    for char in text:
        shown_char = char if char.isprintable() and char not in '"\\' else "?"
        width += 2 if unicodedata.east_asian_width(shown_char) in "WF" else 1
        if width > limit:
            return "".join(out) + "..."
        out.append(shown_char)
    return "".join(out)


def _header(report: Report, depth: int) -> list[str]:
    """The module docstring: what was generated from what, the shapes and the totals."""
    name = _docstring_text(report.name)
    lines = [
        f'"""A PyTorch module generated by convcalc from the spec {name}.',
        "",
        _docstring_text(f"Input: {_shape_text(report.input_shape)} (one sample).", WIDTH - 3),
        _docstring_text(f"Output: {_shape_text(report.output_shape)}.", WIDTH - 3),
        f"Parameters: {report.total_params:,} (all trainable).",
        "PyTorch adds the batch dimension in front; the comments give each layer's output shape",
        "without it.",
    ]
    if depth > DEEP:
        limit = 1000 + FRAMES_PER_LEVEL * depth
        lines += [
            f"Blocks nest {depth} deep, and PyTorch walks and runs modules recursively (eval(),",
            f"parameters(), forward): call sys.setrecursionlimit({limit}) before using them.",
        ]
    return [*lines, '"""']


def _main_class(report: Report, class_name: str, uses: _Uses) -> list[str]:
    """The network's class: an nn.Sequential of the top-level layers, built in __init__."""
    exprs = _expressions(report, uses)
    layout = _Layout(GLOBALS | AMBIGUOUS | {"self", "super", class_name})
    lines = [
        f"class {class_name}(nn.Sequential):",
        f'    """The network {_docstring_text(report.name)}, as convcalc analysed it."""',
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


def _appended(expr: Expr, comment: str) -> _Group:
    """``self.append(expr)``: on one line where it fits; a block, always one item a line,
    as ruff writes a sole argument (no trailing comma)."""
    if isinstance(expr, _Group) and expr.flat is None:
        return _Group("self.append(", [_Item("", expr, comment)], trailing=False)
    return _call("self.append(", [_Item("", expr, comment)])


def _needs_two(entry: Entry) -> bool:
    """A batchnorm that takes its statistics from the batch even in eval mode, over one value
    per channel and sample: one sample is refused ("Expected more than 1 value per channel")."""
    layer = entry.layer
    return (
        entry.type == "batchnorm"
        and not getattr(layer, "track_running_stats", True)
        and math.prod(entry.input_shape[1:]) == 1
    )


def _smoke_test(report: Report, class_name: str) -> list[str]:
    """The ``__main__`` block: one sample of zeros through the network."""
    leaves = list(report.leaves())
    tokens = bool(leaves) and leaves[0].type == "embedding"
    batch = 2 if any(_needs_two(entry) for entry in leaves) else 1
    sizes = ", ".join(str(n) for n in (batch, *report.input_shape))
    zeros = f"torch.zeros({sizes}, dtype=torch.long)" if tokens else f"torch.zeros({sizes})"
    note = ["    # two samples: a batchnorm without running statistics needs 2 values a channel"]
    return [
        'if __name__ == "__main__":',
        f"    model = {class_name}().eval()",
        *(note if batch == 2 else []),
        "    with torch.no_grad():",
        f"        output = model({zeros})",
        '    print("output shape:", tuple(output.shape))',
        '    print(f"parameters: {sum(p.numel() for p in model.parameters()):,}")',
    ]


def _check_class_name(name: str) -> None:
    """A class name given must be usable: an identifier, short, and no name of the file's."""
    if (
        not name.isidentifier()
        or keyword.iskeyword(name)
        or name in GLOBALS | AMBIGUOUS
        or len(name) > CLASS_LIMIT
    ):
        raise ConvcalcError(
            f"{shown(name)!r} cannot name the class: it must be a Python identifier of at most "
            f"{CLASS_LIMIT} characters, neither a keyword, an ambiguous l, O or I, nor one of "
            f"the file's own names ({', '.join(sorted(GLOBALS))})"
        )


def to_pytorch(report: Report, class_name: str | None = None) -> str:
    """The source of a Python file defining the analysed network as an ``nn.Sequential``
    subclass (default name: the spec's, CamelCased), with an ``if __name__ == "__main__"``
    block that runs one sample of zeros through it. Raises :class:`ExportError` at a layer
    no PyTorch module writes exactly, :class:`ConvcalcError` for an unusable class name."""
    if class_name is None:
        class_name = class_name_of(report.name)
    else:
        _check_class_name(class_name)
    uses = _Uses()
    body = _main_class(report, class_name, uses)
    depth = 1 + max((e.depth for e in report.walk() if e.is_block), default=-1)
    imports = ["import math", ""] if uses.math else []
    imports += ["import torch", "import torch.nn as nn"]
    sections = [
        "\n".join([*_header(report, depth), "", *imports]),
        *(HELPERS[name].strip() for name in HELPERS if name in uses.helpers),
        "\n".join(body),
        "\n".join(_smoke_test(report, class_name)),
    ]
    return "\n\n\n".join(sections) + "\n"
