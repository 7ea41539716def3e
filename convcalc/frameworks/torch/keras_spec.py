"""``convcalc export SPEC --to pytorch`` of a Keras spec: each leaf of the channels-first records
in PyTorch's terms, where Keras' rule is not PyTorch's.

:func:`keras_pieces` gives, for one leaf, the PyTorch leaves (plain convcalc layers, written by
the PyTorch export as any spec's) or helper-module calls that compute what Keras computes, or
None where the leaf is PyTorch's already (a Dense is the records' linear or 1×1 convolution, an
activation its module):

- ``same``/``causal`` convolutions: Keras pads max((out − 1)·s + d·(k − 1) + 1 − n, 0), half
  before and the rest after (``causal``: d·(k − 1) before). An even total is the conv's own
  symmetric ``padding``; an odd one a zero ``pad`` (nn.ConstantPad{n}d(..., 0.0), F.pad's order)
  before a conv without padding. Transposed convolutions crop as Keras does, ⌊T/2⌋ at the start
  and the rest at the end: PyTorch's padding and output padding, and a negative pad where the
  end crops one more.
- Pools: ``same`` max pools pad −inf (no window takes a pad), symmetric totals the pool's own
  padding; average pools average the real values only (``count_include_pad=False``), an odd
  total as the pool's ``ceil_mode`` last window where that gives Keras' size (stride ≥ 2), else
  refused.
- BatchNormalization: nn.BatchNorm{n}d(eps=Keras' epsilon, momentum=1 − Keras' momentum);
  without ``center`` or ``scale`` (not both) the file's ``keras_affine`` drops β or γ.
- Flatten reads the values in Keras' order (H, W, C) in either layout (Keras transposes a
  channels-first input first), and so does a channels-last spec's Reshape: permuted
  channels-last first (and, for a Reshape, back after), so the element order is Keras'.
- Softmax is the records' leaf: the dialect gives its dim, Keras' axis counted with the batch
  in PyTorch's layout.
- Rescaling, ``ops.add``/``ops.multiply`` (x·scale + offset) and Normalization ((x − mean) /
  max(√variance, 1e-7), or with ``invert`` mean + x·max(√variance, 1e-7); adapted: mean,
  variance and count as buffers) are helper modules, their values read as the dialect reads
  them (convcalc/spec/keras.py).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from convcalc.frameworks.pysource import ExportError, Group, Item, Uses, call, literal
from convcalc.layers.activation import KerasPReLU, KerasReLU
from convcalc.layers.attention import KerasMultiHeadAttention
from convcalc.layers.conv import Conv, KerasConv, KerasConvTranspose
from convcalc.layers.norm import KerasBatchNorm
from convcalc.layers.pool import KerasAvgPool, KerasMaxPool
from convcalc.layers.registry import layer_class
from convcalc.spec import keras as keras_dialect

if TYPE_CHECKING:
    from convcalc.records import Entry, Window
    from convcalc.spec.validate import Spec


@dataclass
class KerasUses(Uses):
    """What the file needs, and the Keras spec it is written from (its layers' arguments)."""

    spec: Spec | None = None
    channels_last: bool = True
    notes: set[str] = field(default_factory=set)

    def written(self, entry: Entry) -> dict[str, Any]:
        """The Keras layer written where ``entry`` comes from."""
        node: Any = self.spec.doc.data if self.spec and self.spec.doc else {}
        try:
            for key in entry.source:
                node = node[key]
        except (KeyError, IndexError, TypeError):  # a step of a Keras layer (activation=)
            return {}
        return node if isinstance(node, dict) else {}


def _short(value: Any) -> Any:
    """A per-dimension tuple of one value as that value (``(3, 3)`` → 3), as PyTorch takes
    it, so that a default one is not written."""
    if isinstance(value, tuple) and value and all(v == value[0] for v in value):
        return value[0]
    return value


def _plain(entry: Entry, kind: str, at: tuple[int, ...] | None = None, **fields: Any) -> Entry:
    """A leaf of PyTorch's class ``kind`` (the registry's) in place of a Keras one, on the
    input ``at`` (default: the entry's)."""
    short = {key: _short(value) for key, value in fields.items()}
    layer = layer_class(kind).model_validate({"type": kind, **short})
    return replace(entry, type=kind, layer=layer, input_shape=at or entry.input_shape)


def _refuse(entry: Entry, message: str, field_name: str | None = None) -> ExportError:
    return ExportError(f"cannot be exported to PyTorch: {message}", entry, field_name)


def _windows(entry: Entry) -> tuple[Window, ...]:
    """The leaf's windows, one per spatial dimension (a conv's or a pool's always has them)."""
    assert entry.step is not None and entry.step.windows is not None
    return entry.step.windows


def _pads(entry: Entry) -> tuple[list[int], list[int]]:
    windows = _windows(entry)
    return [w.pad_left for w in windows], [w.pad_right for w in windows]


def _flat(before: list[int], after: list[int], sign: int = 1) -> list[int]:
    """F.pad's order: the last dimension's pair first."""
    return [
        sign * v for a, b in zip(reversed(before), reversed(after), strict=True) for v in (a, b)
    ]


def _padded(entry: Entry, before: list[int], after: list[int], value: float = 0.0) -> Entry:
    """A ``pad`` leaf on the entry's input."""
    return _plain(entry, "pad", padding=_flat(before, after), value=value)


def _grown(shape: tuple[int, ...], before: list[int], after: list[int]) -> tuple[int, ...]:
    return (shape[0], *(n + a + b for n, a, b in zip(shape[1:], before, after, strict=True)))


def _conv(entry: Entry, uses: KerasUses) -> list[Any]:
    layer: Any = entry.layer
    fields = {k: v for k, v in layer.model_dump().items() if k in Conv.model_fields}
    fields = {k: v for k, v in fields.items() if k not in ("type", "padding", "name")}
    before, after = _pads(entry)
    if before == after:
        return [_plain(entry, "conv", **fields, padding=tuple(before))]
    pad = _padded(entry, before, after)
    inner = _grown(entry.input_shape, before, after)
    return [pad, _plain(entry, "conv", inner, **fields, padding=0)]


def _conv_transpose(entry: Entry, uses: KerasUses) -> list[Any]:
    """Keras crops the uncropped output a at the start and b at the end (the window's sides,
    b ≥ a or b < 0): conv_transpose with padding a and output padding max(a − b, 0) (PyTorch
    crops a − output_padding at the end), then, where b > a, a pad of a − b at the end."""
    layer: Any = entry.layer
    fields = layer.model_dump(exclude={"type", "padding", "output_padding", "name"})
    windows = _windows(entry)
    pads = tuple(w.pad_left for w in windows)
    extra = tuple(max(w.pad_left - w.pad_right, 0) for w in windows)
    conv = _plain(entry, "conv_transpose", **fields, padding=pads, output_padding=extra)
    cut = [min(w.pad_left - w.pad_right, 0) for w in windows]
    if not any(cut):
        return [conv]
    longer = tuple(n - c for n, c in zip(entry.output_shape[1:], cut, strict=True))
    at = (entry.output_shape[0], *longer)  # the conv_transpose's output
    return [conv, _plain(entry, "pad", at, padding=_flat([0] * len(cut), cut))]


def _geometry(entry: Entry) -> tuple[tuple[int, ...], tuple[int, ...]]:
    layer: Any = entry.layer
    k, s, _, _ = layer.geometry(len(entry.input_shape) - 1)
    return tuple(k), tuple(s)


def _maxpool(entry: Entry, uses: KerasUses) -> list[Any]:
    k, s = _geometry(entry)
    before, after = _pads(entry)
    if before == after and all(2 * p <= ki for p, ki in zip(before, k, strict=True)):
        return [_plain(entry, "maxpool", kernel_size=k, stride=s, padding=tuple(before))]
    pad = _padded(entry, before, after, value=-math.inf)
    inner = _grown(entry.input_shape, before, after)
    return [pad, _plain(entry, "maxpool", inner, kernel_size=k, stride=s)]


def _avgpool(entry: Entry, uses: KerasUses) -> list[Any]:
    k, s = _geometry(entry)
    before, after = _pads(entry)
    if before == after == [0] * len(k):
        return [_plain(entry, "avgpool", kernel_size=k, stride=s)]
    fields: dict[str, Any] = {"kernel_size": k, "stride": s, "padding": tuple(before)}
    fields["count_include_pad"] = False
    fits = all(2 * p <= ki for p, ki in zip(before, k, strict=True))
    if fits and before == after:
        return [_plain(entry, "avgpool", **fields)]
    if fits:  # an odd total: PyTorch's ceil-mode last window, clipped to the input
        plain = _plain(entry, "avgpool", **fields, ceil_mode=True)
        if plain.layer.forward(entry.input_shape).output == entry.output_shape:
            return [plain]
    raise _refuse(
        entry,
        f"Keras' same pads {before} before and {after} after and averages the real values "
        "only; PyTorch's AvgPool pads evenly, and its ceil_mode last window does not give "
        "Keras' size here (stride 1 with an even pool_size)",
        "padding",
    )


def _batchnorm(entry: Entry, uses: KerasUses) -> list[Any]:
    """BatchNorm with Keras' eps and momentum (1 − Keras', rounded as written)."""
    layer: Any = entry.layer
    if layer.eps < 0:  # Keras builds it; PyTorch: "batch_norm eps must be non-negative"
        raise _refuse(entry, f"PyTorch's BatchNorm takes an eps ≥ 0, not {layer.eps:g}", "epsilon")
    momentum = float(f"{layer.momentum:.12g}")
    affine = layer.center or layer.scale
    plain = _plain(
        entry, "batchnorm", eps=layer.eps, momentum=momentum, affine=affine, name=layer.name
    )
    if affine and not (layer.center and layer.scale):
        uses.helpers.add("keras_affine")
        return [("keras_affine", plain, layer.center, layer.scale)]
    return [plain]


def _helper(uses: KerasUses, cls: str, items: list[Item]) -> Group:
    uses.helpers.add(cls)
    return call(cls + "(", items)


def _broadcast(values: list[float], uses: KerasUses) -> Any:
    """A number, or a tuple of numbers (one for each position of Keras' last axis)."""
    if len(values) == 1:
        return literal(values[0], uses)
    return literal(tuple(values), uses)


def _arguments(entry: Entry, uses: KerasUses) -> Any:
    """The Keras arguments of the layer ``entry`` comes from, as the dialect reads them (its
    defaults), or None where the entry is a step of a Keras layer."""
    item = uses.written(entry)
    kind = item.get("type")
    if not isinstance(kind, str) or kind not in keras_dialect.CLASSES:
        return None
    return keras_dialect.CLASSES[kind][0].model_validate(item)


def _numbers(args: Any, name: str) -> list[float]:
    """The dialect's reading of a number-or-list argument."""
    return keras_dialect.read_numbers(getattr(args, name), name)


def _identity(entry: Entry, uses: KerasUses) -> list[Any] | None:
    """Rescaling, ops.add/ops.multiply and Normalization, which the records hold as
    identities (their shape is kept): helper modules with the values written."""
    args = _arguments(entry, uses)
    kind = args.type if args is not None else None
    rank = len(entry.input_shape)
    axis = 1 if uses.channels_last and rank > 1 else rank  # Keras' last axis, batch counted
    if kind in ("Rescaling", "ops.add", "ops.multiply"):
        if kind == "Rescaling":
            scale, offset = _numbers(args, "scale"), _numbers(args, "offset")
        elif kind == "ops.add":
            scale, offset = [1.0], _numbers(args, "value")
        else:
            scale, offset = _numbers(args, "value"), [0.0]
        items = [
            Item("", _broadcast(scale, uses)),
            Item("", _broadcast(offset, uses)),
            Item("axis=", str(axis)),
        ]
        return [_helper(uses, "Rescaling", items)]
    if kind == "Normalization":
        layer: Any = entry.layer
        kept = [entry.input_shape[d] if d in layer.axes else 1 for d in range(rank)]
        items = [Item("", literal(tuple(kept), uses))]
        if not layer.adapted:
            items.append(Item("mean=", _broadcast(_numbers(args, "mean"), uses)))
            items.append(Item("variance=", _broadcast(_numbers(args, "variance"), uses)))
        if args.invert:
            items.append(Item("invert=", "True"))
        return [_helper(uses, "Normalization", items)]
    return None


def _reordered(entry: Entry, uses: KerasUses) -> list[Any] | None:
    """Flatten and Reshape in Keras' element order. Flatten reads (*spatial, C) in either
    layout (Keras transposes a channels-first input to channels-last first); a channels-last
    spec's Reshape reads and writes channels-last values. So: channels-last before, and, for a
    Reshape to more than one axis, channels-first after (the records' shapes are
    channels-first). A channels-first spec's Reshape is PyTorch's own."""
    shape_in, shape_out = entry.input_shape, entry.output_shape
    flatten = entry.type == "flatten"
    if not (uses.channels_last or flatten) or (len(shape_in) == 1 and len(shape_out) == 1):
        return None
    if len(shape_out) == 1 and math.prod(shape_in[1:]) == 1:  # (C, 1, 1) → (C): one order
        return None
    pieces: list[Any] = []
    current = shape_in
    if len(shape_in) > 1:
        last = [*range(1, len(shape_in)), 0]
        pieces.append(_plain(entry, "permute", current, dims=last))
        current = (*shape_in[1:], shape_in[0])
    keras_out = (*shape_out[1:], shape_out[0]) if len(shape_out) > 1 else shape_out
    pieces.append(_plain(entry, "reshape", current, shape=list(keras_out)))
    if len(shape_out) > 1:
        back = [len(shape_out) - 1, *range(len(shape_out) - 1)]
        pieces.append(_plain(entry, "permute", keras_out, dims=back))
    return pieces


def _keras_relu(entry: Entry, uses: KerasUses) -> list[Any]:
    """Keras' ReLU with a threshold (or a slope and a max_value): the file's KerasReLU."""
    layer: Any = entry.layer
    items = [
        Item("max_value=", literal(layer.max_value, uses)),
        Item("negative_slope=", literal(float(layer.negative_slope), uses)),
        Item("threshold=", literal(float(layer.threshold), uses)),
    ]
    return [_helper(uses, "KerasReLU", items)]


def _keras_prelu(entry: Entry, uses: KerasUses) -> list[Any]:
    """Keras' PReLU with alpha of a shape PyTorch's PReLU cannot hold: the file's KerasPReLU,
    alpha channels-first (the records' layout)."""
    alpha = tuple(entry.layer.alpha)  # type: ignore[attr-defined]
    if uses.channels_last and len(alpha) > 1:
        alpha = (alpha[-1], *alpha[:-1])
    return [_helper(uses, "KerasPReLU", [Item("", literal(alpha, uses))])]


# the Keras variants of the layer classes (subclasses too, DepthwiseConv's), in PyTorch's terms
def _attention(entry: Entry, uses: KerasUses) -> list[Any] | None:
    """MultiHeadAttention is PyTorch's self-attention where h·key_dim = E, value_dim = key_dim
    and output_shape = E (the records' multihead_attention); refused otherwise."""
    layer: KerasMultiHeadAttention = entry.layer  # type: ignore[assignment]
    if layer.pytorch_like(entry.input_shape[-1]):
        return None
    raise _refuse(
        entry,
        "nn.MultiheadAttention has num_heads·head_dim = embed_dim features throughout; "
        "write num_heads·key_dim equal to the input's features, value_dim and output_shape "
        "left out",
        "key_dim",
    )


KERAS_LEAVES: tuple[tuple[type, Any], ...] = (
    (KerasMultiHeadAttention, _attention),
    (KerasReLU, _keras_relu),
    (KerasPReLU, _keras_prelu),
    (KerasConvTranspose, _conv_transpose),
    (KerasConv, _conv),
    (KerasMaxPool, _maxpool),
    (KerasAvgPool, _avgpool),
    (KerasBatchNorm, _batchnorm),
)


def keras_pieces(entry: Entry, uses: KerasUses) -> list[Any] | None:
    """The PyTorch leaves (or helper calls) of a Keras spec's leaf, None where the records'
    leaf is PyTorch's own."""
    for cls, convert in KERAS_LEAVES:
        if isinstance(entry.layer, cls):
            return convert(entry, uses)  # type: ignore[no-any-return]
    if entry.type == "identity":
        return _identity(entry, uses)
    if entry.type in ("flatten", "reshape"):
        return _reordered(entry, uses)
    return None


KERAS_HELPERS: dict[str, str] = {
    "KerasReLU": '''
class KerasReLU(nn.Module):
    """keras.layers.ReLU: x where x > threshold (else 0), clipped at max_value, minus
    negative_slope * max(threshold - x, 0)."""

    def __init__(self, max_value: float | None, negative_slope: float, threshold: float) -> None:
        super().__init__()
        self.max_value, self.slope, self.threshold = max_value, negative_slope, threshold

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = torch.where(x > self.threshold, x, torch.zeros_like(x))
        if self.max_value is not None:
            y = torch.clamp(y, max=self.max_value)
        return y - self.slope * torch.relu(self.threshold - x)''',
    "KerasPReLU": '''
class KerasPReLU(nn.Module):
    """keras.layers.PReLU: max(x, 0) + alpha * min(x, 0), alpha (zeros, as Keras starts it)
    of the sample's shape with 1 along the shared axes."""

    def __init__(self, shape: tuple[int, ...]) -> None:
        super().__init__()
        self.alpha = nn.Parameter(torch.zeros(shape))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(x) - self.alpha * torch.relu(-x)''',
    "keras_affine": '''
def keras_affine(norm: nn.Module, center: bool, scale: bool) -> nn.Module:
    """Keras' BatchNormalization without beta (center=False) or gamma (scale=False): the
    module's bias or weight dropped (F.batch_norm takes either as None)."""
    if not center:
        norm.register_parameter("bias", None)
    if not scale:
        norm.register_parameter("weight", None)
    return norm''',
    "Rescaling": '''
class Rescaling(nn.Module):
    """keras.layers.Rescaling (and x + value, x * value): x * scale + offset, each a number or
    one value for each position of Keras' last axis (axis, batch counted, in this layout)."""

    def __init__(self, scale: object, offset: object, axis: int) -> None:
        super().__init__()
        self.scale, self.offset, self.axis = scale, offset, axis

    def _along(self, value: object, x: torch.Tensor) -> object:
        if not isinstance(value, tuple):
            return value
        shape = [1] * x.dim()
        shape[self.axis] = len(value)
        return torch.tensor(value, dtype=x.dtype, device=x.device).reshape(shape)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self._along(self.scale, x) + self._along(self.offset, x)''',
    "Normalization": '''
def _kept(values: object, kept: tuple[int, ...]) -> torch.Tensor:
    """A number, or one value for each position of the axes kept, in the shape kept."""
    tensor = torch.tensor(values, dtype=torch.float32).reshape(-1)
    if tensor.numel() == 1:
        return tensor.expand(math.prod(kept)).reshape(kept)
    return tensor.reshape(kept)


class Normalization(nn.Module):
    """keras.layers.Normalization: (x - mean) / max(sqrt(variance), 1e-7), or, with invert,
    mean + x * max(sqrt(variance), 1e-7); mean and variance of shape kept (one value each for
    the positions of the axes Keras keeps). Without them (adapted from data in Keras) they are
    buffers, with the count of samples seen, as Keras' non-trainable weights; given, they are
    constants."""

    def __init__(
        self,
        kept: tuple[int, ...],
        mean: object = None,
        variance: object = None,
        invert: bool = False,
    ) -> None:
        super().__init__()
        self.invert = invert
        adapted = mean is None
        mean = torch.zeros(kept) if adapted else _kept(mean, kept)
        variance = torch.ones(kept) if adapted else _kept(variance, kept)
        self.register_buffer("mean", mean, persistent=adapted)
        self.register_buffer("variance", variance, persistent=adapted)
        if adapted:
            self.register_buffer("count", torch.zeros(()))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        std = torch.clamp(torch.sqrt(self.variance), min=1e-7)
        return self.mean + x * std if self.invert else (x - self.mean) / std''',
}
