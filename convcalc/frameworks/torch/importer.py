"""A spec from the text ``print(model)`` shows: what ``convcalc import model.txt`` does.

Students paste what PyTorch prints for a model (``torch.nn.Module.__repr__``)::

    Sequential(
      (0): Conv2d(1, 6, kernel_size=(5, 5), stride=(1, 1))
      (1): Tanh()
      (2): AvgPool2d(kernel_size=2, stride=2, padding=0)
      ...
    )

and :func:`from_print` gives the equivalent spec (a dict in convcalc's format), which
:func:`to_yaml` writes as a readable spec file. The text is read by a small line parser:
nothing in it is ever evaluated (each argument value goes through :func:`ast.literal_eval`, or is
a bare word such as ``same``). Each PyTorch class maps to its convcalc type through
:data:`convcalc.layers.registry.KINDS` (``Conv{n}d`` → ``conv``), and its printed arguments to the
spec's fields, which carry PyTorch's names; the input counts (``in_channels``, ``in_features``,
``num_features``) are not written, since convcalc infers them, but checked against the shapes the
layers before give: where they disagree the import is refused at that line.

What ``print(model)`` cannot show, and so what is never guessed:

- **a custom module's forward.** The text lists a module's children, not how ``forward``
  combines them (a residual add, a concatenation, channels cut into slices with ``x.split`` or
  ``x.chunk``, a squeeze-and-excitation product, or children left unused), so ``BasicBlock(``,
  ``Bottleneck(``, ``Inception(`` and any other class that is not a standard ``torch.nn``
  layer or ``nn.Sequential`` are refused at their line, with the convcalc block that would
  express them. The model's own top-level class (``Net(``,
  ``AlexNet(``) is refused too, unless the caller says its forward runs the children in order
  (``assume_sequential=True``): then a flatten that ``forward`` calls as a function
  (``torch.flatten(x, 1)``, ``x.view(x.size(0), -1)``) is inserted, marked
  ``functional: true``, between two top-level children exactly where the next ``Linear``'s
  ``in_features`` asks for one, as in AlexNet and VGG;
- **functions forward calls** (``F.relu``, ``F.max_pool2d``, ``torch.flatten``): apart from
  the flatten above, they are not in the text; one that changes the shape shows up as a
  mismatch at the next layer that checks its input, and is refused there;
- **nn.MultiheadAttention**, which prints only its ``out_proj``: not its ``num_heads``, nor
  how forward calls it (self-attention or not); refused at its line;
- **ModuleList and ModuleDict**, whose modules forward may use in any order, any number of
  times: refused;
- **arguments the print leaves out**: AvgPool's ``ceil_mode`` (refused where it changes the
  output, unless ``avgpool_ceil_mode`` says which it is), ``count_include_pad`` and
  ``divisor_override``, MaxPool's ``return_indices``, Upsample's ``align_corners``, the
  initial values, ``dtype`` and ``device`` (none of these changes a shape or a parameter
  count);
- **shared modules**: a child listed twice may be one module, whose parameters PyTorch counts
  once; the spec counts each listing;
- **frozen parameters** (``requires_grad=False``): every parameter counts as trainable.

Everything is read with explicit stacks, never recursion, so nesting depth costs nothing.
"""

from __future__ import annotations

import ast
import functools
import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import yaml
from pydantic import ValidationError

from convcalc.arith import Refusal
from convcalc.errors import ConvcalcError, SpecError, shown
from convcalc.escape import yaml_str
from convcalc.layers.base import Layer
from convcalc.layers.registry import KINDS, block_class, layer_class
from convcalc.records import Shape, shape_text

__all__ = ["MEDIUM", "SUPPORTED", "ImportRefusal", "Remedy", "from_print", "to_yaml"]

Spec = dict[str, Any]
MEDIUM = "print(model) text or a Keras model's JSON"  # what `convcalc import` reads
Value = Any  # what a printed argument reads as: a scalar, or a tuple of scalars
Args = list[tuple[str | None, Value]]


def keyword(option: str, value: bool) -> str:
    """How :func:`from_print`'s caller sets an option: ``assume_sequential=True``."""
    return f"{option}={value}"


@dataclass(frozen=True)
class Remedy:
    """An option of :func:`from_print` that would let a refused import go on: ``how`` with
    ``{0}``, ``{1}``, ... standing for ``option`` set to each of ``values``, spelled by the
    caller (a keyword argument here, a command-line flag in the CLI)."""

    how: str
    option: str
    values: tuple[bool, ...]

    def text(self, spell: Callable[[str, bool], str] = keyword) -> str:
        return self.how.format(*(spell(self.option, value) for value in self.values))


class ImportRefusal(ConvcalcError):
    """A line of ``print(model)`` text that cannot be turned into a spec exactly.

    ``line`` is its number in the text (1-based), ``text`` the line as written, ``message``
    why, with the ``remedy`` (an option that would let the import go on, if there is one)
    spelled as keyword arguments; ``str()`` gives ``line N: MESSAGE``.
    """

    def __init__(self, line: int, text: str, reason: str, remedy: Remedy | None = None) -> None:
        self.line = line
        self.text = text
        self.reason = reason
        self.remedy = remedy
        self.flattens = False  # a Linear that a flatten before its top-level child would fix
        self.custom = False  # a custom module with children (what it holds can be read on)
        self.bundled = ""  # "; this is the model of the bundled spec ...", where it is one
        super().__init__(str(self))

    def explained(self, spell: Callable[[str, bool], str] = keyword) -> str:
        """The reason and the remedy, its option spelled by ``spell``."""
        remedy = f"; {self.remedy.text(spell)}" if self.remedy else ""
        return self.reason + remedy + self.bundled

    @property
    def message(self) -> str:
        return self.explained()

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}"


# --- which PyTorch classes are which --------------------------------------------------------


def _torch_classes() -> dict[str, tuple[str, int | None]]:
    """PyTorch class name → (convcalc type, number of spatial dimensions the class needs, or
    None for any), from the registry and the classes the registry does not name."""
    classes: dict[str, tuple[str, int | None]] = {}
    for name, kind in KINDS.items():
        if not kind.torch or kind.block:
            continue
        if "{n}" in kind.torch:
            classes.update({kind.torch.format(n=n): (name, n) for n in (1, 2, 3)})
        else:
            classes[kind.torch] = (name, None)
    for prefix in ("ZeroPad", "ReflectionPad", "ReplicationPad", "CircularPad"):
        classes.update({f"{prefix}{n}d": ("pad", n) for n in (1, 2, 3)})
    for n in (1, 2, 3):  # lazy modules: the same layers, the input count not yet known
        for lazy in ("Conv", "ConvTranspose", "BatchNorm", "InstanceNorm"):
            classes[f"Lazy{lazy}{n}d"] = classes[f"{lazy}{n}d"]
    classes["LazyLinear"] = ("linear", None)
    classes["SyncBatchNorm"] = ("batchnorm", None)
    classes["UpsamplingNearest2d"] = ("upsample", None)
    classes["UpsamplingBilinear2d"] = ("upsample", None)
    classes["StochasticDepth"] = ("stochastic_depth", None)  # torchvision.ops
    classes["LayerNorm2d"] = ("layernorm2d", None)  # torchvision.models.convnext
    return classes


CLASSES = _torch_classes()

# nn.Sequential, and torchvision's subclasses of it that keep its forward
SEQUENTIAL = frozenset({"Sequential", "ConvNormActivation", "Conv2dNormActivation",
                        "Conv3dNormActivation"})  # fmt: skip

#: Every class name the importer turns into a spec layer or block.
SUPPORTED: tuple[str, ...] = tuple(sorted({*CLASSES, *SEQUENTIAL}))

UNORDERED = frozenset({"ModuleList", "ModuleDict", "ParameterList", "ParameterDict"})

# nn.MultiheadAttention prints only its out_proj (a NonDynamicallyQuantizableLinear that its
# forward never calls as a module): neither num_heads nor how forward is called
_ATTENTION = (
    "{cls} cannot be imported: print(model) shows neither its num_heads nor whether forward "
    "calls it as self-attention, attention(x, x, x), the only use a spec has; write it in the "
    "spec as {{type: multihead_attention, num_heads: N}}"
)
ATTENTION = {cls: _ATTENTION.format(cls=cls) for cls in ("MultiheadAttention",)}
ATTENTION["NonDynamicallyQuantizableLinear"] = (
    "NonDynamicallyQuantizableLinear is nn.MultiheadAttention's out_proj, which its forward never "
    "calls as a module; write the attention in the spec as {type: multihead_attention, "
    "num_heads: N}"
)

# torchvision's Swin and MaxViT classes: print(model) shows none of the settings their forward
# uses (window and shift sizes, heads, the partition sizes passed at each call), nor how the
# composite ones combine their children; each names what the spec writes instead
_VISION = "{cls} is torchvision's {family} class, whose settings print(model) does not show"
_LEAF_HINT = "; write it in the spec as {{type: {kind}, {fields}}}"
_WHOLE_HINT = "; the bundled spec {spec} writes the whole network (convcalc shape {spec})"
TORCHVISION_LAYERS: dict[str, str] = {
    cls: _VISION.format(cls=cls, family=family) + _LEAF_HINT.format(kind=kind, fields=fields)
    for cls, family, kind, fields in (
        ("ShiftedWindowAttention", "Swin", "shifted_window_attention",
         "window_size: [Wh, Ww], shift_size: [Sh, Sw], num_heads: N"),
        ("ShiftedWindowAttentionV2", "Swin", "shifted_window_attention_v2",
         "window_size: [Wh, Ww], shift_size: [Sh, Sw], num_heads: N"),
        ("PatchMerging", "Swin", "patch_merging", "on [H, W, C]"),
        ("PatchMergingV2", "Swin", "patch_merging_v2", "on [H, W, C]"),
        ("WindowPartition", "MaxViT", "window_partition", "p: P"),
        ("WindowDepartition", "MaxViT", "window_departition",
         "p: P, h_partitions: HP, w_partitions: WP"),
        ("SwapAxes", "MaxViT", "permute", "dims: [1, 0, 2]"),
        ("RelativePositionalMultiHeadAttention", "MaxViT", "relative_position_attention",
         "head_dim: D, max_seq_len: S"),
    )
}  # fmt: skip
TORCHVISION_LAYERS |= {
    cls: _VISION.format(cls=cls, family=family) + _WHOLE_HINT.format(spec=spec)
    for cls, family, spec in (
        ("SwinTransformer", "Swin", "swin_t"),
        ("SwinTransformerBlock", "Swin", "swin_t"),
        ("SwinTransformerBlockV2", "Swin", "swin_v2_t"),
        ("MaxVit", "MaxViT", "maxvit_t"),
        ("MaxVitBlock", "MaxViT", "maxvit_t"),
        ("MaxVitLayer", "MaxViT", "maxvit_t"),
        ("MBConv", "MaxViT", "maxvit_t"),
        ("PartitionAttentionLayer", "MaxViT", "maxvit_t"),
    )
}

# torch.nn's modules (torch 2.13's torch.nn.modules.__all__): a name here that convcalc cannot
# import is a standard layer without a convcalc type, not a custom module
_TORCH_NN = """
    AdaptiveAvgPool1d AdaptiveAvgPool2d AdaptiveAvgPool3d AdaptiveLogSoftmaxWithLoss
    AdaptiveMaxPool1d AdaptiveMaxPool2d AdaptiveMaxPool3d AlphaDropout AvgPool1d AvgPool2d
    AvgPool3d BCELoss BCEWithLogitsLoss BatchNorm1d BatchNorm2d BatchNorm3d Bilinear CELU CTCLoss
    ChannelShuffle CircularPad1d CircularPad2d CircularPad3d ConstantPad1d ConstantPad2d
    ConstantPad3d Container Conv1d Conv2d Conv3d ConvTranspose1d ConvTranspose2d ConvTranspose3d
    CosineEmbeddingLoss CosineSimilarity CrossEntropyLoss CrossMapLRN2d Dropout Dropout1d
    Dropout2d Dropout3d ELU Embedding EmbeddingBag FeatureAlphaDropout Flatten Fold
    FractionalMaxPool2d FractionalMaxPool3d GELU GLU GRU GRUCell GaussianNLLLoss GroupNorm
    Hardshrink Hardsigmoid Hardswish Hardtanh HingeEmbeddingLoss HuberLoss Identity
    InstanceNorm1d InstanceNorm2d InstanceNorm3d KLDivLoss L1Loss LPPool1d LPPool2d LPPool3d LSTM
    LSTMCell LayerNorm LazyBatchNorm1d LazyBatchNorm2d LazyBatchNorm3d LazyConv1d LazyConv2d
    LazyConv3d LazyConvTranspose1d LazyConvTranspose2d LazyConvTranspose3d LazyInstanceNorm1d
    LazyInstanceNorm2d LazyInstanceNorm3d LazyLinear LeakyReLU Linear LinearCrossEntropyLoss
    LocalResponseNorm LogSigmoid LogSoftmax MSELoss MarginRankingLoss MaxPool1d MaxPool2d
    MaxPool3d MaxUnpool1d MaxUnpool2d MaxUnpool3d Mish Module ModuleDict ModuleList
    MultiLabelMarginLoss MultiLabelSoftMarginLoss MultiMarginLoss MultiheadAttention NLLLoss
    NLLLoss2d PReLU PairwiseDistance ParameterDict ParameterList PixelShuffle PixelUnshuffle
    PoissonNLLLoss RMSNorm RNN RNNBase RNNCell RNNCellBase RReLU ReLU ReLU6 ReflectionPad1d
    ReflectionPad2d ReflectionPad3d ReplicationPad1d ReplicationPad2d ReplicationPad3d SELU
    Sequential SiLU Sigmoid SmoothL1Loss SoftMarginLoss Softmax Softmax2d Softmin Softplus
    Softshrink Softsign SyncBatchNorm Tanh Tanhshrink Threshold Transformer TransformerDecoder
    TransformerDecoderLayer TransformerEncoder TransformerEncoderLayer TripletMarginLoss
    TripletMarginWithDistanceLoss Unflatten Unfold Upsample UpsamplingBilinear2d
    UpsamplingNearest2d ZeroPad1d ZeroPad2d ZeroPad3d
"""
TORCH_NN = frozenset(_TORCH_NN.split())

# the arguments extra_repr prints without a name, in order, for each convcalc type
POSITIONAL: dict[str, tuple[str, ...]] = {
    "conv": ("in_channels", "out_channels"),
    "conv_transpose": ("in_channels", "out_channels"),
    "batchnorm": ("num_features",),
    "instancenorm": ("num_features",),
    "groupnorm": ("num_groups", "num_channels"),
    "layernorm": ("normalized_shape",),
    "layernorm2d": ("normalized_shape",),
    "local_response_norm": ("size",),
    "embedding": ("num_embeddings", "embedding_dim"),
    "pad": ("padding",),
}

# the input count each type prints, checked against the shape and not written
INPUT_COUNT = {"conv": "in_channels", "conv_transpose": "in_channels", "linear": "in_features",
               "batchnorm": "num_features", "instancenorm": "num_features",
               "groupnorm": "num_channels"}  # fmt: skip
# spec fields that change nothing convcalc reports: accepted, not written
DROPPED = {"inplace", "count_include_pad", "divisor_override", "return_indices"}
# fields with one value per spatial dimension: a tuple of equal values is written as one
PER_DIM = {"kernel_size", "stride", "padding", "dilation", "output_padding", "output_size",
           "scale_factor", "size"}  # fmt: skip
NORMS = {"batchnorm", "instancenorm", "groupnorm"}  # PyTorch 2.13 prints their `bias`

LAYOUT = {1: "[channels, length]", 2: "[channels, height, width]",
          3: "[channels, depth, height, width]"}  # fmt: skip

MAX_NESTING = 16  # brackets inside one argument value
MAX_DEPTH = 500  # modules inside modules: a spec file holds blocks nested 500 deep
MAX_LAYERS = 100_000  # layers run, repetitions unrolled: beyond any real network
LIMIT = 2**63 - 1  # PyTorch's sizes and counts are signed 64-bit integers


def _hint(name: str) -> str:
    """Which convcalc block would express a custom module, guessed from its class name."""
    lower = name.lower()
    if any(word in lower for word in ("shuffle", "split", "chunk")):
        return (
            "write it as a split block in the spec (x.split or x.chunk along the channels, "
            "one branch a slice), or a concat block if each branch sees the whole input"
        )
    if any(word in lower for word in ("inception", "fire", "dense")):
        return (
            "write it as a concat block in the spec (a split block if each branch takes a "
            "slice of the channels)"
        )
    if "squeeze" in lower or "excit" in lower or re.fullmatch(r"se(block|layer|module)?", lower):
        return "write it as a scale block in the spec"
    if any(word in lower for word in ("graph", "aspp", "fpn")):
        return (
            "write it as a graph block in the spec (named paths, each on the input or on an "
            "earlier path's output, joined by add, multiply or concat)"
        )
    if any(word in lower for word in ("block", "bottleneck", "res", "mbconv")):
        return "write it as a residual block in the spec"
    return (
        "write it in the spec by hand (a residual, concat, split, scale or graph block, or a "
        "sequential if its forward runs its children in order)"
    )


# --- reading the text -----------------------------------------------------------------------


@dataclass
class _Node:
    """One module as printed: a leaf with its arguments, or a container with its children."""

    cls: str | None  # None: the child is printed as None
    line: int
    text: str
    key: str | None = None
    times: int = 1  # "(0-2): 3 x Conv2d(...)": PyTorch's collapsed repeats
    args: Args | None = None  # None: an opener, "Name(" alone on its line
    children: list[_Node] = field(default_factory=list)

    @property
    def name(self) -> str | None:
        """The child's name as a spec name; numbered children (0, 1, ...) have none."""
        return None if self.key is None or re.fullmatch(r"\d+(-\d+)?", self.key) else self.key

    def refuse(self, reason: str, remedy: Remedy | None = None) -> ImportRefusal:
        """The refusal of this module's line."""
        return ImportRefusal(self.line, self.text, reason, remedy)


_CHILD = re.compile(r"\((?P<key>.+?)\): (?P<body>.+)")
_COLLAPSED = re.compile(r"(?P<times>\d+) x (?P<body>.+)")
_RANGE = re.compile(r"(?P<first>\d+)-(?P<last>\d+)")
_MODULE = re.compile(r"(?P<cls>[A-Za-z_][A-Za-z0-9_]*)\((?P<rest>.*)")
_KEYWORD = re.compile(r"(?P<key>[A-Za-z_][A-Za-z0-9_]*)=(?P<value>.*)", re.DOTALL)
_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_\-]*")
_TORCH_SIZE = re.compile(r"torch\.Size\((?P<inner>.*)\)")
_NOT_PRINTED = (
    "is not a line print(model) writes (a module such as Sequential( or Conv2d(...), a child "
    "such as (0): ReLU(), or a closing ')')"
)


def _parse(text: str, assume_sequential: bool) -> _Node:
    """The module tree of the text, refusing what it cannot be: classes that are not
    standard layers or Sequential, unordered containers, and anything not written as
    ``print(model)`` writes. An explicit stack, whatever the nesting."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    stack: list[_Node] = []
    root: _Node | None = None
    last = (1, "")
    for number, raw in enumerate(lines, 1):
        stripped = raw.strip()
        if not stripped:
            continue
        raw = raw.rstrip()
        last = (number, raw)
        if root is not None and not stack:
            raise ImportRefusal(
                number,
                raw,
                "text after the model's closing ')': paste what one print(model) shows",
            )
        if stripped == ")":
            if not stack:
                raise ImportRefusal(number, raw, f"'{shown(stripped)}' {_NOT_PRINTED}")
            stack.pop()
            continue
        if stack:
            node = _child(stripped, number, raw, stack[-1])
        elif _CHILD.fullmatch(stripped):
            raise ImportRefusal(
                number,
                raw,
                "a child module before the module holding it: paste print(model) from its "
                "first line (such as Sequential( or Net()",
            )
        else:
            node = _module(stripped, number, raw)
            root = node
        try:
            _admit(node, root=not stack, assume_sequential=assume_sequential)
        except ImportRefusal as exc:
            if exc.custom:
                exc.reason = _custom(node, lines)
            raise
        if stack:
            stack[-1].children.append(node)
        if node.cls is not None and node.args is None:
            if len(stack) == MAX_DEPTH:
                raise node.refuse(f"modules nest more than {MAX_DEPTH} deep here")
            stack.append(node)
    if root is None:
        raise ImportRefusal(last[0], last[1], "the text is empty: paste what print(model) shows")
    if stack:
        raise ImportRefusal(
            last[0],
            last[1],
            f"the text ends inside {stack[-1].cls} (opened on line {stack[-1].line}): is it cut "
            "short? print(model) closes every module with ')'",
        )
    return root


def _custom(node: _Node, lines: list[str]) -> str:
    """Why a custom module with children is refused: its class, what it holds (read on in
    ``lines``) and the block that would express it, from what it holds where that tells (a
    shortcut child; channels or sizes an added input would not fit), else from its name."""
    from convcalc.frameworks.torch.recognise import holding

    held, advice = holding(lines, node.line, _arguments)
    hint = _hint(node.cls or "")
    if advice and hint.startswith(("write it as a residual", "write it in the spec by hand")):
        hint = advice
    return (
        f"{node.cls} is a custom module{held}: print(model) does not show its forward (how its "
        f"children are combined), so the network cannot be recovered; {hint}"
    )


def _child(stripped: str, number: int, raw: str, parent: _Node) -> _Node:
    """A line inside a container: ``(key): Module...``, ``(0-2): 3 x Module...``, or None."""
    match = _CHILD.fullmatch(stripped)
    if match is None:
        raise ImportRefusal(
            number,
            raw,
            f"'{shown(stripped)}' {_NOT_PRINTED}; inside {parent.cls} (line {parent.line}) "
            "every line is a child (key): Module",
        )
    key, body = match["key"], match["body"]
    times = 1
    collapsed = _COLLAPSED.fullmatch(body)
    if collapsed is not None:
        span = _RANGE.fullmatch(key)
        times = int(collapsed["times"])
        if span is None or int(span["last"]) - int(span["first"]) + 1 != times or times < 2:
            raise ImportRefusal(
                number,
                raw,
                f"({shown(key)}): {times} x ... is not how PyTorch collapses repeated modules "
                "((0-2): 3 x Module, the range holding as many as the count)",
            )
        body = collapsed["body"]
    if body == "None":
        return _Node(None, number, raw, key)
    node = _module(body, number, raw)
    node.key, node.times = key, times
    return node


def _module(body: str, number: int, raw: str) -> _Node:
    """``Name(`` (a container, its children on the next lines) or ``Name(arguments)``."""
    match = _MODULE.fullmatch(body)
    if match is None:
        raise ImportRefusal(number, raw, f"'{shown(body)}' {_NOT_PRINTED}")
    cls, rest = match["cls"], match["rest"]
    if not rest:
        return _Node(cls, number, raw)
    if not rest.endswith(")"):
        raise ImportRefusal(
            number,
            raw,
            f"{cls}'s arguments do not end with ')' on this line: is the line cut short?",
        )
    return _Node(cls, number, raw, args=_arguments(rest[:-1], cls, number, raw))


def _arguments(text: str, cls: str, number: int, raw: str) -> Args:
    """``3, 32, kernel_size=(8, 8)`` → ``[(None, 3), (None, 32), ("kernel_size", (8, 8))]``."""
    parts = _split(text)
    if parts is None:
        raise ImportRefusal(
            number, raw, f"the arguments of {cls} are not balanced: brackets or quotes left open"
        )
    args: Args = []
    for part in parts:
        match = _KEYWORD.fullmatch(part)
        key, value = (match["key"], match["value"].strip()) if match else (None, part)
        try:
            args.append((key, _value(value)))
        except ValueError:
            raise ImportRefusal(
                number,
                raw,
                f"cannot read {shown(part)} among the arguments of {cls}: print(model) writes "
                "numbers, True/False/None, quoted text, bare words and tuples of them",
            ) from None
    return args


def _split(text: str) -> list[str] | None:
    """Top-level comma-separated parts (brackets and quotes respected); None if unbalanced."""
    if not text.strip():
        return []
    parts: list[str] = []
    depth, quote, start, i = 0, "", 0, 0
    while i < len(text):
        char = text[i]
        if quote:
            if char == "\\":
                i += 1
            elif char == quote:
                quote = ""
        elif char in "'\"":
            quote = char
        elif char in "([{":
            depth += 1
            if depth > MAX_NESTING:
                return None
        elif char in ")]}":
            depth -= 1
            if depth < 0:
                return None
        elif char == "," and depth == 0:
            parts.append(text[start:i].strip())
            start = i + 1
        i += 1
    if quote or depth:
        return None
    parts.append(text[start:].strip())
    return parts


def _value(text: str) -> Value:
    """One printed value: a Python literal (a scalar, or a flat tuple or list of them),
    ``torch.Size([...])`` or a bare word (``same``, ``reflect``); :class:`ValueError` for
    anything else."""
    size = _TORCH_SIZE.fullmatch(text)
    try:
        value = ast.literal_eval(size["inner"] if size else text)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        if size is None and _WORD.fullmatch(text):
            return text
        raise ValueError(text) from None
    if size is not None and not isinstance(value, list | tuple):
        raise ValueError(text)
    items = value if isinstance(value, list | tuple) else (value,)
    if not all(v is None or isinstance(v, bool | int | float | str) for v in items):
        raise ValueError(text)
    return tuple(value) if isinstance(value, list) else value


_CHILDLESS = (
    "{cls} is a custom module with no children: its forward, which print(model) does not show, "
    "is all it does"
)


def _admit(node: _Node, *, root: bool, assume_sequential: bool) -> None:
    """Refuse a module whose class cannot be imported exactly, at its line."""
    cls = node.cls
    if cls is None:
        raise node.refuse(
            f"({shown(node.key or '')}) is None: nn.Sequential cannot run a None child, and "
            "another module's forward may skip it"
        )
    if cls in SEQUENTIAL:
        if node.args:
            raise node.refuse(f"{cls} prints no arguments: this is not PyTorch's {cls}")
        return
    if cls in ATTENTION:
        raise node.refuse(ATTENTION[cls])
    if cls in TORCHVISION_LAYERS:
        raise node.refuse(TORCHVISION_LAYERS[cls])
    if cls in CLASSES:
        if node.args is None:
            raise node.refuse(
                f"{cls} has lines of its own here, which PyTorch's {cls} never prints: it is a "
                f"custom module of that name, whose forward print(model) does not show"
            )
        return
    if cls in UNORDERED:
        raise node.refuse(
            f"{cls}: print(model) lists its modules but not how forward uses them (which ones, "
            "in what order, how many times), so the network cannot be recovered; write the "
            "layers in the spec in the order forward runs them"
        )
    if cls in TORCH_NN:
        raise node.refuse(
            f"{cls} is a PyTorch layer convcalc has no spec type for, so the network cannot be "
            "imported"
        )
    if root and node.args is None and assume_sequential:
        return  # its children are checked once read (from_print)
    if root and assume_sequential:
        raise node.refuse(_CHILDLESS.format(cls=cls))
    if root and node.args is None:
        raise node.refuse(
            f"{cls} is a custom module: print(model) does not show its forward, so whether it "
            "runs its children in the order listed cannot be known",
            Remedy(
                "if it does (as AlexNet's and VGG's: features, avgpool, a flatten, classifier), "
                "import it with {0}",
                "assume_sequential",
                (True,),
            ),
        )
    if node.args is None:
        refusal = node.refuse(
            f"{cls} is a custom module: print(model) does not show its forward (how its "
            f"children are combined), so the network cannot be recovered; {_hint(cls)}"
        )
        refusal.custom = True
        raise refusal
    raise node.refuse(
        f"{cls} is a custom module: print(model) does not show its forward, so what it does "
        "to the shape cannot be recovered; write the layers it stands for in the spec by hand"
    )


# --- from the tree to the spec, shape by shape ----------------------------------------------


def _shown_shape(shape: Shape) -> str:
    """``400 values`` for a vector, ``16×5×5`` otherwise."""
    if len(shape) == 1:
        return f"{shape[0]} value{'s' if shape[0] != 1 else ''}"
    return shape_text(shape)


@dataclass
class _Walk:
    """What converting a leaf needs besides the leaf: the caller's choices, and whether any
    layer ran before (for "the input is" rather than "the layer before gives")."""

    avgpool_ceil_mode: bool | None
    seen: bool = False
    runs: int = 0  # leaves run so far, repetitions counted
    done: dict[tuple[int, Shape], tuple[Spec, Shape]] = field(default_factory=dict)

    def before(self, shape: Shape) -> str:
        """Where ``shape`` comes from, with it: ``the layer before gives 400 values``."""
        what = "the layer before gives" if self.seen else "the input is"
        return f"{what} {_shown_shape(shape)}"


@dataclass
class _Frame:
    """A list of printed modules being converted; ``out`` is None on a repeat's later runs."""

    nodes: list[_Node]
    out: list[Spec] | None
    times: int = 1
    done: int = 0
    next: int = 0


def _convert(nodes: list[_Node], shape: Shape, walk: _Walk) -> tuple[list[Spec], Shape]:
    """The spec layers of ``nodes`` run in order on ``shape``, and the output shape."""
    top: list[Spec] = []
    stack = [_Frame(nodes, top)]
    while stack:
        frame = stack[-1]
        if frame.next == len(frame.nodes):
            frame.done += 1
            if frame.done < frame.times:  # (0-2): 3 x Sequential(...): run it again
                frame.next, frame.out = 0, None
            else:
                stack.pop()
            continue
        node = frame.nodes[frame.next]
        frame.next += 1
        if node.cls in SEQUENTIAL:
            block: Spec = {"name": node.name} if node.name else {}
            block.update(type="sequential", layers=[])
            inner: list[Spec] | None = None
            if frame.out is not None:
                if node.times > 1:
                    block = {"type": "repeat", "times": node.times, "layers": []}
                frame.out.append(block)
                inner = block["layers"]
            stack.append(_Frame(node.children, inner, node.times))
            continue
        layer: Spec = {}
        for _ in range(node.times):
            layer, shape = _leaf(node, shape, walk)
        if frame.out is not None:
            repeated = {"type": "repeat", "times": node.times, "layers": [layer]}
            frame.out.append(layer if node.times == 1 else repeated)
    return top, shape


def _bind(node: _Node, kind: str) -> dict[str, Value]:
    """The printed arguments by name: positional ones named as extra_repr prints them."""
    positional = POSITIONAL.get(kind, ())
    values: dict[str, Value] = {}
    allowed = set(positional) | set(_fields(kind))
    allowed |= {INPUT_COUNT[kind]} if kind in INPUT_COUNT else set()
    allowed |= {"bias"} if kind in NORMS else set()
    count = 0
    for key, value in node.args or []:
        if key is None:
            if count >= len(positional):
                if not positional:
                    raise node.refuse(
                        f"{node.cls}: print(model) names each of its arguments (name=value), "
                        f"but {shown(repr(value))} has no name"
                    )
                raise node.refuse(
                    f"{node.cls}: print(model) shows {len(positional)} argument"
                    f"{'s' if len(positional) > 1 else ''} without a name "
                    f"({', '.join(positional)}), not "
                    f"{sum(k is None for k, _ in node.args or [])}"
                )
            key = positional[count]
            count += 1
        if key not in allowed:
            raise node.refuse(f"{node.cls} has no argument {key!r} as print(model) shows it")
        if key in values:
            raise node.refuse(f"{node.cls} gives {key} twice")
        values[key] = value
    return values


@functools.cache
def _fields(kind: str) -> dict[str, Any]:
    """The spec fields of a type and their defaults (PydanticUndefined where required)."""
    skip = {"type", "name", "functional", "device", "dtype"}
    cls = layer_class(kind)
    return {name: info.default for name, info in cls.model_fields.items() if name not in skip}


def _same(a: Any, b: Any) -> bool:
    """Equal, telling booleans from numbers (``bias: true`` is not ``groups: 1``)."""
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b
    return bool(a == b)


def _written(key: str, value: Value, length: int) -> Any:
    """A printed value as the spec writes it: tuples as lists, one per-dimension value for a
    tuple of ``length`` equal ones (``(8, 8)`` → ``8`` on a 2-d input). A tuple of another
    length stays a list, which the layer reads as PyTorch does or refuses at its field:
    ``kernel_size=(3, 3, 3)`` on a 2-d input is not 3, ``ZeroPad2d((1, 1))`` pads the width
    only."""
    if not isinstance(value, tuple):
        return value
    equal = value and value[0] is not None and all(_same(v, value[0]) for v in value)
    if key in PER_DIM and equal and len(value) == length:
        return value[0]
    return list(value)


def _check_rank(node: _Node, kind: str, rank: int | None, shape: Shape, walk: _Walk) -> None:
    """A class made for n spatial dimensions (Conv2d, BatchNorm1d) must get that many: on any
    other input PyTorch refuses it or reads the batch as the channels."""
    if rank is None:
        return
    if kind == "batchnorm" and rank == 1:
        if len(shape) in (1, 2):
            return
        need = "an input [features] or [channels, length]"
    else:
        if len(shape) == rank + 1:
            return
        need = f"an input with {rank} spatial dimension{'s' if rank > 1 else ''} {LAYOUT[rank]}"
    raise node.refuse(f"{node.cls} needs {need}, but {walk.before(shape)}")


def _check_inputs(node: _Node, values: dict[str, Value], shape: Shape, walk: _Walk) -> None:
    """The printed input counts against the shape the layers before give (0: a lazy module
    that has not run yet, which takes whatever comes)."""
    for key in ("in_channels", "num_features", "num_channels"):
        if key not in values or _same(values[key], 0):
            continue
        given = values[key]
        if not _same(given, shape[0]):
            channels = f" ({shape[0]} channels)" if len(shape) > 1 else ""
            shows = f"{key}={given}" if key == "num_channels" else str(given)
            raise node.refuse(
                f"{node.cls}({shows}, ...) expects {given} channels but "
                f"{walk.before(shape)}{channels}"
            )
    if "in_features" in values and not _same(values["in_features"], 0):
        given = values["in_features"]
        if _same(given, shape[-1]):
            return
        head = f"{node.cls}(in_features={given}, ...) but {walk.before(shape)}"
        if len(shape) == 1:
            raise node.refuse(head)
        refusal = node.refuse(
            f"{head}: a Linear takes the last dimension, {shape[-1]}, so PyTorch refuses it "
            f"too (flattened, {shape_text(shape)} is {math.prod(shape)} values)"
        )
        refusal.flattens = True
        raise refusal


def _leaf(node: _Node, shape: Shape, walk: _Walk) -> tuple[Spec, Shape]:
    """One printed layer as a spec layer, checked against the shape it gets, and its output."""
    assert node.cls is not None
    walk.runs += 1
    if walk.runs > MAX_LAYERS:
        raise node.refuse(
            f"the model runs more than {MAX_LAYERS:,} layers (repetitions counted), more than "
            "convcalc imports"
        )
    if (id(node), shape) in walk.done:  # a repetition on the shape it had before
        return walk.done[id(node), shape]
    kind, rank = CLASSES[node.cls]
    values = _bind(node, kind)
    _check_rank(node, kind, rank, shape, walk)
    _check_inputs(node, values, shape, walk)
    affine = values.get("affine", kind != "instancenorm") is True
    if kind in NORMS and affine and values.get("bias") is False:
        raise node.refuse(
            f"{node.cls}(..., affine=True, bias=False): convcalc's {kind} has no bias "
            "option (its affine parameters are a weight and a bias)"
        )
    defaults = _fields(kind)
    layer: Spec = {"name": node.name} if node.name else {}
    layer["type"] = kind
    for key, value in values.items():
        if key == INPUT_COUNT.get(kind) or key in DROPPED or (key == "bias" and kind in NORMS):
            continue
        sides = 2 if kind == "pad" and key == "padding" else 1  # (left, right, top, ...)
        layer[key] = _written(key, value, sides * (len(shape) - 1))
    _special(node, kind, layer)
    for key in list(layer):
        if key in defaults and _same(layer[key], defaults[key]):
            del layer[key]
    pool = kind in ("maxpool", "avgpool") and "stride" in layer
    if pool and _same(layer["stride"], layer.get("kernel_size")):
        del layer["stride"]  # the spec's default stride is the kernel
    unseen = kind == "avgpool" and "ceil_mode" not in values  # 2.13 never prints it
    if unseen and walk.avgpool_ceil_mode:
        layer["ceil_mode"] = True
    model = _validated(node, layer)
    if unseen and walk.avgpool_ceil_mode is None:
        output = _ceil_unseen(node, model, shape)
    else:
        output = _forward(node, model, shape)
    walk.seen = True
    walk.done[id(node), shape] = layer, output
    return layer, output


def _special(node: _Node, kind: str, layer: Spec) -> None:
    """What differs from a field-for-field copy: dimensions counted with the batch, the pad
    mode in the class name, the align_corners a class implies."""
    cls = node.cls or ""
    for key in ("start_dim", "end_dim", "dim"):
        if kind not in ("flatten", "unflatten") or key not in layer:
            continue
        value = layer[key]
        if isinstance(value, int) and not isinstance(value, bool):
            if value == 0:
                raise node.refuse(
                    f"{cls}({key}=0, ...) reshapes the batch dimension; convcalc's shapes "
                    "have no batch"
                )
            if value > 0:
                layer[key] = value - 1  # PyTorch counts the batch, the spec does not
    if kind == "pad":
        mode = next(
            (m for p, m in (("Reflection", "reflect"), ("Replication", "replicate"),
                            ("Circular", "circular")) if cls.startswith(p)),
            "constant",
        )  # fmt: skip
        if mode != "constant":
            layer["mode"] = mode
    if cls == "UpsamplingBilinear2d":
        layer["align_corners"] = True


def _validated(node: _Node, layer: Spec) -> Layer:
    """The spec layer validated by its own class, or a refusal naming the field."""
    try:
        return layer_class(layer["type"]).model_validate(layer)
    except ValidationError as exc:
        error = exc.errors()[0]
        where = ".".join(str(k) for k in error["loc"])
        message = error.get("ctx", {}).get("message") or error["msg"]
        if error["type"] == "missing":
            message = "not on this line, though print(model) always shows it"
        raise node.refuse(f"{node.cls}: {where + ': ' if where else ''}{message}") from None


def _magnitude(count: int) -> str:
    """A count of any size in a few characters: ``1.84e+19``, or ``10^161`` where a float
    cannot hold it."""
    return f"{count:.3g}" if count.bit_length() <= 1000 else f"10^{math.floor(math.log10(count))}"


def _forward(node: _Node, model: Layer, shape: Shape) -> Shape:
    """The layer's output on ``shape``, or a refusal where PyTorch would refuse it."""
    try:
        step = model.forward(shape)
    except Refusal as exc:
        where = f"{exc.field}: " if exc.field else ""
        raise node.refuse(
            f"{node.cls} on an input {shape_text(shape)}: {where}{exc.message}"
        ) from None
    for what, size in [("output", step.output), *step.tensors.items()]:
        if math.prod(size) > LIMIT:
            raise node.refuse(
                f"{node.cls}: the {what} would hold {_magnitude(math.prod(size))} values, beyond "
                "2^63 − 1, the most PyTorch can count"
            )
    return step.output


def _ceil_unseen(node: _Node, model: Layer, shape: Shape) -> Shape:
    """AvgPool's output where its print leaves ceil_mode out: refused where ceil_mode would
    change it (or decide whether PyTorch accepts the layer at all)."""
    try:
        ceiled = _forward(node, model.model_copy(update={"ceil_mode": True}), shape)
    except ImportRefusal:  # then floor mode, which gives no more, is refused too
        return _forward(node, model, shape)
    try:  # within PyTorch's limits, as the larger ceil-mode output is
        output = model.forward(shape).output
    except Refusal as exc:
        floor = f"PyTorch refuses ceil_mode=False: {exc.message}"
    else:
        if output == ceiled:
            return output
        floor = f"{shape_text(output)} with ceil_mode=False"
    raise node.refuse(
        f"print(model) does not show {node.cls}'s ceil_mode, and here it changes the output "
        f"({floor}; {shape_text(ceiled)} with True)",
        Remedy(
            "import with {0} (PyTorch's default) or {1} to say which",
            "avgpool_ceil_mode",
            (False, True),
        ),
    )


# --- the public API -------------------------------------------------------------------------


def from_print(
    text: str,
    input_shape: tuple[int, ...],
    name: str = "imported",
    *,
    assume_sequential: bool = False,
    avgpool_ceil_mode: bool | None = None,
) -> dict[str, Any]:
    """The spec (``{"name", "input", "layers"}``) of the model whose ``print(model)`` is
    ``text``, for inputs of ``input_shape`` (``[channels, *spatial]`` or ``[features]``, no
    batch).

    ``nn.Sequential`` becomes a list of layers; a nested one a ``sequential`` block named after
    its key (``features``); a named leaf keeps its key as ``name``. ``assume_sequential``
    accepts a custom top-level class (``Net(``, ``AlexNet(``) as if its forward ran its
    children in order, flattening (``functional: true``) between two of them where the next
    ``Linear`` needs it. ``avgpool_ceil_mode`` says what AvgPool's unprinted ``ceil_mode`` is,
    where it matters (None: refuse there).

    Raises :class:`ImportRefusal` (with the line) for anything that cannot be recovered
    exactly, and :class:`~convcalc.errors.ConvcalcError` for an invalid ``input_shape``.
    """
    shape = given = _input(input_shape)
    if not isinstance(name, str):
        raise ConvcalcError(f"the spec's name must be text, not {name!r}")
    walk = _Walk(avgpool_ceil_mode)
    try:
        root = _parse(text, assume_sequential)
    except ImportRefusal as exc:
        from convcalc.frameworks.torch.recognise import pointer

        exc.bundled = pointer(
            text.replace("\r\n", "\n").replace("\r", "\n").split("\n"), _arguments
        )
        raise
    if root.cls in SEQUENTIAL:
        layers, _ = _convert(root.children, shape, walk)
    elif root.args is not None:  # one layer printed on its own
        layers, _ = _convert([root], shape, walk)
    elif not root.children:
        raise root.refuse(_CHILDLESS.format(cls=root.cls))
    else:  # a custom class, taken as sequential at the caller's word
        layers = []
        for child in root.children:
            try:
                part, out = _convert([child], shape, walk)
            except ImportRefusal as exc:
                if not exc.flattens or len(shape) < 2:
                    raise
                try:
                    part, out = _convert([child], (math.prod(shape),), walk)
                except ImportRefusal:
                    raise exc from None
                layers.append({"type": "flatten", "functional": True})
            layers.extend(part)
            shape = out
    spec = {"name": name, "input": list(given), "layers": layers}
    _confirm(spec, root)
    return spec


def _input(input_shape: Any) -> Shape:
    form = "a list [channels, *spatial] with 1 to 3 spatial sizes, or [features]"
    if not isinstance(input_shape, list | tuple) or not 1 <= len(input_shape) <= 4:
        raise ConvcalcError(f"the input shape must be {form}, not {input_shape!r}")
    for size in input_shape:
        if isinstance(size, bool) or not isinstance(size, int) or not 1 <= size <= LIMIT:
            raise ConvcalcError(f"every input size must be a positive integer, not {size!r}")
    return tuple(input_shape)


def _confirm(spec: Spec, root: _Node) -> None:
    """The whole spec through convcalc's own validation and analysis: each layer was already
    checked on its own, so this only guards the two from drifting apart."""
    from convcalc.analysis import analyse
    from convcalc.spec.validate import load_spec

    try:
        analyse(load_spec(spec))
    except SpecError as exc:  # pragma: no cover - every layer was checked as it was read
        raise root.refuse(f"convcalc refuses the imported spec: {exc}") from None


HEADER = """\
# Imported by convcalc from print(model) text. That text lists each module and the arguments
# it was built with, not what forward does, so this spec cannot recover (and never guesses):
# - custom modules' forward (residual adds, concatenations) and the order forward uses a
#   ModuleList or ModuleDict in: such modules are refused;
# - functions forward calls (F.relu, F.max_pool2d, torch.flatten, x.view): not in the spec;
# - which children are one shared module (PyTorch counts its parameters once);
# - arguments the text leaves out: AvgPool's ceil_mode (asked for where it matters),
#   count_include_pad and divisor_override, MaxPool's return_indices, Upsample's
#   align_corners;
# - frozen parameters (all count as trainable), dtype and device.
"""
ASSUMED = """\
# `functional: true` marks a flatten that is not in the text: the top-level module was taken
# to run its children in order (assume_sequential), flattening where the next Linear's
# in_features asks for it, as torch.flatten(x, 1) in forward does.
"""
INSERTED = "  # assumed: torch.flatten(x, 1) in forward"
WIDTH = 1 << 30  # never fold a line


def to_yaml(spec: dict[str, Any]) -> str:
    """The spec as YAML text: a comment header (imported from ``print(model)``, and what that
    text cannot show), ``name``, ``input``, then one layer per line in flow style
    (``{type: conv, out_channels: 32, kernel_size: 8, stride: 2}``), blocks in block style with
    their layers indented beneath. Loads back with :func:`convcalc.spec.validate.load_spec`
    to the same spec."""
    assumed = _any_functional(spec.get("layers", []))
    return spec_yaml(spec, HEADER + (ASSUMED if assumed else ""))


def spec_yaml(
    spec: dict[str, Any],
    header: str,
    lists: Callable[[Any], tuple[str, ...]] | None = None,
    note: Callable[[Any], str] | None = None,
) -> str:
    """``header``'s comment lines, the spec's fields but ``layers`` one ``key: value`` a line,
    then its layers as :func:`_layer_lines` writes them (``lists`` and ``note`` passed on when
    given); the Keras import's ``to_yaml`` shares it."""
    lines = header.splitlines()
    lines += [_pair(key, value) for key, value in spec.items() if key != "layers"]
    layers = spec.get("layers", [])
    lines.append("layers: []" if not layers else "layers:")
    lines += _layer_lines(layers, 2, lists or _lists, note or _inserted_note)
    return "\n".join(lines) + "\n"


def _pair(key: str, value: Any) -> str:
    """``key: value`` on one line, the value quoted as YAML needs."""
    return f"{yaml_str(key)}: {_inline(value)}"


def _inline(value: Any) -> str:
    """A value in flow style (valid in a block context too): text through
    :func:`convcalc.escape.yaml_str` (a name such as ``1e3``, ``true`` or one holding U+2028
    reads back as itself), mappings and lists of them in braces and brackets, numbers, booleans
    and null as PyYAML writes them."""
    if isinstance(value, str):
        return yaml_str(value)
    if isinstance(value, dict):
        return "{" + ", ".join(_pair(str(k), v) for k, v in value.items()) + "}"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_inline(v) for v in value) + "]"
    text = yaml.safe_dump(
        [value], default_flow_style=True, sort_keys=False, width=WIDTH, allow_unicode=True
    )
    return text.strip()[1:-1]


def _lists(layer: Any) -> tuple[str, ...]:
    """The fields of a block that hold layers (concat's hold lists of lists)."""
    kind = layer.get("type") if isinstance(layer, dict) else None
    cls = block_class(kind) if isinstance(kind, str) else None
    return () if cls is None else cls.LISTS


def _any_functional(layers: list[Any]) -> bool:
    """Whether any layer, at any depth, is marked ``functional: true``."""
    stack = [layers]
    while stack:
        for item in stack.pop():
            if isinstance(item, list):
                stack.append(item)
            elif isinstance(item, dict):
                if item.get("functional") is True:
                    return True
                fields = _lists(item)
                stack.extend(item[f] for f in fields if isinstance(item.get(f), list))
    return False


def _layer_lines(
    layers: list[Any],
    indent: int,
    lists: Callable[[Any], tuple[str, ...]],
    note: Callable[[Any], str],
) -> list[str]:
    """A list of layers, one line per leaf (a comment ``note(leaf)`` after it), blocks
    (``lists(item)`` names their lists of layers) opened beneath; an explicit stack of tasks
    (a line to write, or a list to write from its ``next`` item)."""
    out: list[str] = []
    tasks: list[tuple[str, Any, int, int]] = [("list", layers, 0, indent)]
    while tasks:
        what, payload, start, pad = tasks.pop()
        if what == "line":
            out.append(payload)
            continue
        if start == len(payload):
            continue
        tasks.append(("list", payload, start + 1, pad))
        item = payload[start]
        dash = " " * pad + "- "
        if isinstance(item, list):  # a branch of a concat: a list of layers of its own
            if not item:
                out.append(dash + "[]")
            else:
                out.append(dash.rstrip())
                tasks.append(("list", item, 0, pad + 2))
            continue
        fields = lists(item)
        if not fields:
            out.append(dash + _inline(item) + note(item))
            continue
        scalars = [_pair(k, v) for k, v in item.items() if k not in fields]
        out.append(dash + scalars[0])
        out.extend(" " * (pad + 2) + text for text in scalars[1:])
        pending: list[tuple[str, Any, int, int]] = []
        for key in fields:
            if key not in item:
                continue
            value = item[key]
            if not isinstance(value, list) or not value:
                pending.append(("line", " " * (pad + 2) + _pair(key, value), 0, 0))
                continue
            pending.append(("line", " " * (pad + 2) + f"{key}:", 0, 0))
            pending.append(("list", value, 0, pad + 4))
        tasks.extend(reversed(pending))
    return out


def _is_inserted(layer: Spec) -> bool:
    """The flatten :func:`from_print` inserts under ``assume_sequential``."""
    return layer == {"type": "flatten", "functional": True}


def _inserted_note(layer: Any) -> str:
    """The comment after a layer :func:`from_print` inserted (:data:`INSERTED`), else none."""
    return INSERTED if _is_inserted(layer) else ""
