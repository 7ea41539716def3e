"""Writes the bundled specs of torchvision's mobile and efficient families from their tables.

    python zoo/mobile.py                  # (re)write every spec below into specs/
    python zoo/mobile.py --check          # exit 1 if a shipped spec differs from its table
    python zoo/mobile.py regnet_y_8gf     # one or more names only

The families: MobileNetV3 (``_mobilenet_v3_conf``), MNASNet (``_get_depths`` and the stacks of
``MNASNet.__init__``), EfficientNet B1-B7 and V2 (``_efficientnet_conf``) and RegNet X and Y
(``BlockParams.from_init_params``), transcribed from torchvision 0.28's source so that this
script needs neither torch nor torchvision. Each spec's input is the crop of the evaluation
transform of the model's DEFAULT weights, and its header quotes those weights' ``num_params``.
The YAML is what ships and what the tests check against torchvision; this script is how it was
written. Plain Python, no convcalc: it only prints text.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from common import header as common_header
from common import make_divisible, mapping, run
from common import scalar as common_scalar

# --- the YAML emitter ----------------------------------------------------------------------
# A leaf is a dict of scalars (and short lists of ints), written in flow style on one line; a
# block is a dict holding lists of nodes, written in block style. ``Anchor`` names a node: the
# first time it is written it carries ``&name``, afterwards it is ``*name``. A dict's "#" entry
# is a comment at the end of its first line; ``Note`` items are comment lines in a list.


@dataclass(frozen=True)
class Anchor:
    name: str
    node: dict[str, Any]


@dataclass(frozen=True)
class Note:
    text: str
    blank: bool = True  # an empty line before it


Node = dict[str, Any] | Anchor | Note


def scalar(value: Any) -> str:
    """One YAML scalar (common.scalar), floats to 12 significant digits: torchvision's
    p = 0.2 × 7 / 16 is written 0.0875."""
    return common_scalar(value, 12)


def _holds_nodes(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and isinstance(value[0], dict | Anchor | Note)


def _is_block(node: dict[str, Any]) -> bool:
    return any(_holds_nodes(v) for v in node.values())


def _flow(node: dict[str, Any]) -> str:
    return mapping({k: v for k, v in node.items() if k != "#"}, 12)


def _comment(node: dict[str, Any]) -> str:
    return f"  # {node['#']}" if "#" in node else ""


class Emitter:
    """Writes nodes as YAML lines, remembering which anchors it has written."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.anchored: dict[str, dict[str, Any]] = {}

    def items(self, nodes: list[Node], indent: int) -> None:
        pad = " " * indent
        for node in nodes:
            if isinstance(node, Note):  # an empty one is only the empty line
                if node.blank and self.lines[-1].strip():
                    self.lines.append("")
                self.lines.extend(f"{pad}# {line}".rstrip() for line in node.text.splitlines())
                continue
            prefix = f"{pad}- "
            if isinstance(node, Anchor):
                if node.name in self.anchored:
                    if self.anchored[node.name] != node.node:
                        raise ValueError(f"anchor {node.name} names two different nodes")
                    self.lines.append(f"{prefix}*{node.name}")
                    continue
                self.anchored[node.name] = node.node
                if not _is_block(node.node):
                    self.lines.append(
                        f"{prefix}&{node.name} {_flow(node.node)}{_comment(node.node)}"
                    )
                    continue
                self.lines.append(f"{prefix}&{node.name}{_comment(node.node)}")
                self.mapping(node.node, indent + 2, first=None)
                continue
            if not _is_block(node):
                self.lines.append(f"{prefix}{_flow(node)}{_comment(node)}")
                continue
            self.mapping(node, indent + 2, first=prefix)

    def mapping(self, node: dict[str, Any], indent: int, first: str | None) -> None:
        """A block node's keys, one a line; ``first`` starts its first line (``- ``)."""
        pad = " " * indent
        comment = _comment(node)
        for key, value in node.items():
            if key == "#":
                continue
            start = first if first is not None else pad
            first = None
            if _holds_nodes(value):
                self.lines.append(f"{start}{key}:{comment}")
                self.items(value, indent + 2)
            else:
                self.lines.append(f"{start}{key}: {scalar(value)}{comment}")
            comment = ""


def document(header: str, name: str, size: int, layers: list[Node]) -> str:
    """The whole spec file: header comment, name, input and layers."""
    emitter = Emitter()
    emitter.lines.extend(header.splitlines())
    emitter.lines += [f"name: {name}", f"input: [3, {size}, {size}]", "layers:"]
    emitter.items(layers, 2)
    return "\n".join(emitter.lines) + "\n"


# --- shared pieces -------------------------------------------------------------------------


def conv(
    out: int, kernel: int, stride: int = 1, groups: int = 1, name: str | None = None
) -> dict[str, Any]:
    """A bias-free Conv2d with torchvision's same-size padding, (k − 1) // 2."""
    node: dict[str, Any] = {} if name is None else {"name": name}
    node.update(type="conv", out_channels=out, kernel_size=kernel)
    if stride != 1:
        node["stride"] = stride
    if kernel > 1:
        node["padding"] = (kernel - 1) // 2
    if groups != 1:
        node["groups"] = groups
    node["bias"] = False
    return node


def named(name: str, node: dict[str, Any]) -> dict[str, Any]:
    return {"name": name, **node}


def squeeze_excitation(
    channels: int, squeeze: int, activation: Node, gate: Node, pool: Node
) -> dict[str, Any]:
    """torchvision's SqueezeExcitation: x · gate(fc2(activation(fc1(avgpool(x)))))."""
    return {
        "name": "se",
        "type": "scale",
        "body": [
            pool,
            {"name": "fc1", "type": "conv", "out_channels": squeeze, "kernel_size": 1},
            activation,
            {"name": "fc2", "type": "conv", "out_channels": channels, "kernel_size": 1},
            gate,
        ],
    }


def batchnorm(eps: float | None = None, momentum: float | None = None) -> Anchor:
    node: dict[str, Any] = {"type": "batchnorm"}
    if eps is not None:
        node["eps"] = eps
    if momentum is not None:
        node["momentum"] = momentum
    return Anchor("bn", node)


def act(kind: str, inplace: bool = True) -> Anchor:
    return Anchor(kind, {"type": kind, "inplace": True} if inplace else {"type": kind})


FLATTEN = {"type": "flatten", "functional": True, "#": "torch.flatten(x, 1)"}
POOL = Anchor("se_pool", {"type": "adaptive_avgpool", "output_size": 1})
HEAD_POOL = {"name": "avgpool", "type": "adaptive_avgpool", "output_size": 1}
FUNCTIONAL_NOTE = (
    "`functional: true` marks a leaf torchvision calls as a function, not a module (no module\n"
    "hook sees it): {what}."
)


@dataclass(frozen=True)
class Model:
    name: str
    title: str
    paper: str
    size: int  # the DEFAULT weights' evaluation crop
    weights: str  # which weights those are
    num_params: int  # their meta["num_params"]
    settings: dict[str, Any] = field(default_factory=dict)


def header(model: Model, source: str, notes: str) -> str:
    """The header comment: the model and its parameter count, where it was written from, the
    input (the DEFAULT weights' evaluation crop) and the notes."""
    title = (
        f"{model.title} (torchvision.models.{model.name}, {model.paper}), "
        f"3×{model.size}×{model.size}: {model.num_params:,} parameters."
    )
    swag = "\n(SWAG, fine-tuned end to end at 384: the model has no IMAGENET1K_V1 weights)."
    notes = (
        f"Input: the crop of the evaluation transform of the DEFAULT weights, {model.weights}"
        + (swag if "SWAG" in model.weights else ".")
        + "\n"
        + notes
    )
    return common_header(title, "mobile.py", source, notes)


# --- MobileNetV3 ---------------------------------------------------------------------------

# _mobilenet_v3_conf: (input, kernel, expanded, out, use_se, activation, stride), dilation 1
V3_LARGE = [
    (16, 3, 16, 16, False, "RE", 1),
    (16, 3, 64, 24, False, "RE", 2),
    (24, 3, 72, 24, False, "RE", 1),
    (24, 5, 72, 40, True, "RE", 2),
    (40, 5, 120, 40, True, "RE", 1),
    (40, 5, 120, 40, True, "RE", 1),
    (40, 3, 240, 80, False, "HS", 2),
    (80, 3, 200, 80, False, "HS", 1),
    (80, 3, 184, 80, False, "HS", 1),
    (80, 3, 184, 80, False, "HS", 1),
    (80, 3, 480, 112, True, "HS", 1),
    (112, 3, 672, 112, True, "HS", 1),
    (112, 5, 672, 160, True, "HS", 2),
    (160, 5, 960, 160, True, "HS", 1),
    (160, 5, 960, 160, True, "HS", 1),
]
V3_SMALL = [
    (16, 3, 16, 16, True, "RE", 2),
    (16, 3, 72, 24, False, "RE", 2),
    (24, 3, 88, 24, False, "RE", 1),
    (24, 5, 96, 40, True, "HS", 2),
    (40, 5, 240, 40, True, "HS", 1),
    (40, 5, 240, 40, True, "HS", 1),
    (40, 5, 120, 48, True, "HS", 1),
    (48, 5, 144, 48, True, "HS", 1),
    (48, 5, 288, 96, True, "HS", 2),
    (96, 5, 576, 96, True, "HS", 1),
    (96, 5, 576, 96, True, "HS", 1),
]


def _runs(items: list[Any]) -> Iterator[tuple[int, int]]:
    """(start, length) of each run of equal consecutive items."""
    start = 0
    for i in range(1, len(items) + 1):
        if i == len(items) or items[i] != items[start]:
            yield start, i - start
            start = i


def mobilenet_v3(model: Model) -> str:
    """MobileNetV3: stem 3×3/2 hardswish, inverted residuals, 1×1 to 6 × the last width, then
    avgpool, Linear, hardswish, dropout, Linear (width multiplier 1: channels as tabled)."""
    table, last_channel = model.settings["table"], model.settings["last_channel"]
    bn = batchnorm(eps=0.001, momentum=0.01)
    acts = {"RE": act("relu"), "HS": act("hardswish")}
    se_relu, gate = Anchor("se_relu", {"type": "relu"}), act("hardsigmoid", inplace=False)
    layers: list[Node] = [
        Note("features.0: Conv2dNormActivation 3x3, stride 2", blank=False),
        conv(table[0][0], 3, 2),
        bn,
        acts["HS"],
        Note(
            "InvertedResidual: [expand 1x1-bn-act] (absent when expanded == input channels),\n"
            "depthwise k×k-bn-act, [squeeze-and-excitation: x · hardsigmoid(fc2(relu(fc1(\n"
            "avgpool(x)))))], project 1x1-bn; x + block(x) only when stride 1 and in == out."
        ),
    ]
    for start, length in _runs(table):
        cin, kernel, expanded, out, use_se, activation, stride = table[start]
        a = acts[activation]
        body: list[Node] = []
        if expanded != cin:
            body += [conv(expanded, 1), bn, a]
        body += [conv(expanded, kernel, stride, groups=expanded), bn, a]
        if use_se:
            squeeze = make_divisible(expanded // 4, 8)
            body.append(squeeze_excitation(expanded, squeeze, se_relu, gate, POOL))
        body += [conv(out, 1), bn]
        index = start + 1
        what = f"k{kernel}, {cin} -> {out}" + (f", stride {stride}" if stride > 1 else "")
        if stride == 1 and cin == out:
            block: dict[str, Any] = {"type": "residual", "body": [named("block", _seq(body))]}
            if length == 1:
                layers.append({"name": f"features.{index}", "#": what, **block})
            else:
                layers.append(
                    {
                        "name": f"features.{index}-{index + length - 1}",
                        "#": what,
                        "type": "repeat",
                        "times": length,
                        "layers": [block],
                    }
                )
        else:
            assert length == 1
            layers.append({"name": f"features.{index}", "#": what, **_seq(body)})
    last_in = table[-1][3]
    layers += [
        Note(f"features.{len(table) + 1}: Conv2dNormActivation 1x1 to 6 × {last_in}"),
        conv(6 * last_in, 1),
        bn,
        acts["HS"],
        Note(""),
        HEAD_POOL,
        FLATTEN,
        {
            "name": "classifier",
            "type": "sequential",
            "layers": [
                {"type": "linear", "out_features": last_channel},
                acts["HS"],
                {"type": "dropout", "p": 0.2, "inplace": True},
                {"type": "linear", "out_features": 1000},
            ],
        },
    ]
    notes = FUNCTIONAL_NOTE.format(what="here only the torch.flatten before the classifier")
    notes += "\nBatchNorm2d(eps=0.001, momentum=0.01) throughout, as MobileNetV3 builds it."
    return document(header(model, "_mobilenet_v3_conf", notes), model.name, model.size, layers)


def _seq(layers: list[Node]) -> dict[str, Any]:
    return {"type": "sequential", "layers": layers}


# --- MNASNet -------------------------------------------------------------------------------


def round_to_multiple_of(value: float, divisor: int, round_up_bias: float = 0.9) -> int:
    """torchvision's ``_round_to_multiple_of``: the nearest multiple, one up if that nearest
    is below ``round_up_bias`` × value."""
    new = max(divisor, int(value + divisor / 2) // divisor * divisor)
    return new if new >= round_up_bias * value else new + divisor


# MNASNet.__init__'s stacks: (kernel, stride, expansion, repeats), from depths[i] to depths[i+1]
MNAS_STACKS = [(3, 2, 3, 3), (5, 2, 3, 3), (5, 2, 6, 3), (3, 1, 6, 2), (5, 2, 6, 4), (3, 1, 6, 1)]


def mnasnet(model: Model) -> str:
    """MNASNet-B1: stem conv 3×3/2, depthwise separable 3×3, six stacks of inverted residuals,
    1×1 to 1280, mean over H and W, dropout, Linear."""
    alpha = model.settings["alpha"]
    depths = [round_to_multiple_of(d * alpha, 8) for d in [32, 16, 24, 40, 80, 96, 192, 320]]
    bn = batchnorm(momentum=0.0003)
    relu = act("relu")
    layers: list[Node] = [
        Note("layers.0-7: conv 3x3 stride 2, then a depthwise separable 3x3 (no skip)", False),
        conv(depths[0], 3, 2),
        bn,
        relu,
        conv(depths[0], 3, groups=depths[0]),
        bn,
        relu,
        conv(depths[1], 1),
        bn,
        Note(
            "_InvertedResidual: 1x1-bn-relu, depthwise k×k-bn-relu, 1x1-bn; x + layers(x) when\n"
            "stride 1 and in == out (every block of a stack but the first)."
        ),
    ]

    def block(cin: int, out: int, kernel: int, stride: int, expansion: int) -> list[Node]:
        mid = cin * expansion
        return [
            conv(mid, 1),
            bn,
            relu,
            conv(mid, kernel, stride, groups=mid),
            bn,
            relu,
            conv(out, 1),
            bn,
        ]

    for i, (kernel, stride, expansion, repeats) in enumerate(MNAS_STACKS):
        cin, out = depths[i + 1], depths[i + 2]
        first = block(cin, out, kernel, stride, expansion)
        stack: list[Node] = []
        if stride == 1 and cin == out:
            stack.append({"name": f"layers.{8 + i}.0", "type": "residual", "body": first})
        else:
            stack.append({"name": f"layers.{8 + i}.0", **_seq(first)})
        if repeats > 1:
            rest = {"type": "residual", "body": block(out, out, kernel, 1, expansion)}
            stack.append(
                {
                    "name": f"layers.{8 + i}.1" + (f"-{repeats - 1}" if repeats > 2 else ""),
                    "type": "repeat",
                    "times": repeats - 1,
                    "layers": [rest],
                }
            )
        what = f"k{kernel}, ×{expansion}, {cin} -> {out}" + (
            f", stride {stride}" if stride > 1 else ""
        )
        layers.append({"name": f"layers.{8 + i}", "#": what, **_seq(stack)})
    layers += [
        Note("layers.14-16: 1x1 to 1280"),
        conv(1280, 1),
        bn,
        relu,
        Note(""),
        {
            "type": "adaptive_avgpool",
            "output_size": 1,
            "functional": True,
            "#": "x.mean([2, 3]) ...",
        },
        {"type": "flatten", "functional": True, "#": "... which also drops H and W"},
        {
            "name": "classifier",
            "type": "sequential",
            "layers": [
                {"type": "dropout", "p": 0.2, "inplace": True},
                {"type": "linear", "out_features": 1000},
            ],
        },
    ]
    notes = FUNCTIONAL_NOTE.format(
        what="here the x.mean([2, 3]) before the classifier, an average over H and W\n"
        "written as the pool and flatten it equals"
    )
    notes += (
        f"\nwidth multiplier {alpha}: channels {depths} (_get_depths);"
        "\nBatchNorm2d(momentum=1 - 0.9997) throughout."
    )
    return document(header(model, "MNASNet", notes), model.name, model.size, layers)


# --- EfficientNet --------------------------------------------------------------------------

# _efficientnet_conf: (fused, expand_ratio, kernel, stride, input, out, num_layers)
B_TABLE = [
    (False, 1, 3, 1, 32, 16, 1),
    (False, 6, 3, 2, 16, 24, 2),
    (False, 6, 5, 2, 24, 40, 2),
    (False, 6, 3, 2, 40, 80, 3),
    (False, 6, 5, 1, 80, 112, 3),
    (False, 6, 5, 2, 112, 192, 4),
    (False, 6, 3, 1, 192, 320, 1),
]
V2_TABLES = {
    "s": [
        (True, 1, 3, 1, 24, 24, 2),
        (True, 4, 3, 2, 24, 48, 4),
        (True, 4, 3, 2, 48, 64, 4),
        (False, 4, 3, 2, 64, 128, 6),
        (False, 6, 3, 1, 128, 160, 9),
        (False, 6, 3, 2, 160, 256, 15),
    ],
    "m": [
        (True, 1, 3, 1, 24, 24, 3),
        (True, 4, 3, 2, 24, 48, 5),
        (True, 4, 3, 2, 48, 80, 5),
        (False, 4, 3, 2, 80, 160, 7),
        (False, 6, 3, 1, 160, 176, 14),
        (False, 6, 3, 2, 176, 304, 18),
        (False, 6, 3, 1, 304, 512, 5),
    ],
    "l": [
        (True, 1, 3, 1, 32, 32, 4),
        (True, 4, 3, 2, 32, 64, 7),
        (True, 4, 3, 2, 64, 96, 7),
        (False, 4, 3, 2, 96, 192, 10),
        (False, 6, 3, 1, 192, 224, 19),
        (False, 6, 3, 2, 224, 384, 25),
        (False, 6, 3, 1, 384, 640, 7),
    ],
}


def efficientnet_stages(model: Model) -> list[tuple[bool, float, int, int, int, int, int]]:
    """The stage table with widths and depths scaled (V1) as MBConvConfig scales them:
    channels by ``make_divisible(c × width, 8)``, layers by ``ceil(n × depth)``."""
    settings = model.settings
    if "v2" not in settings:
        width, depth = settings["width"], settings["depth"]
        return [
            (
                fused,
                ratio,
                k,
                s,
                make_divisible(cin * width, 8),
                make_divisible(out * width, 8),
                math.ceil(n * depth),
            )
            for fused, ratio, k, s, cin, out, n in B_TABLE
        ]
    return list(V2_TABLES[settings["v2"]])


def efficientnet(model: Model) -> str:
    """EfficientNet B1-B7 and V2: stem 3×3/2 silu, stages of MBConv and FusedMBConv blocks,
    1×1 to 4 × the last width (V1) or 1280 (V2), avgpool, dropout, Linear."""
    settings = model.settings
    stages = efficientnet_stages(model)
    v2 = "v2" in settings
    bn = batchnorm(eps=settings.get("eps"), momentum=settings.get("momentum"))
    silu = act("silu")
    sigmoid = Anchor("sigmoid", {"type": "sigmoid"})
    total = sum(stage[-1] for stage in stages)
    layers: list[Node] = [
        Note("features.0: Conv2dNormActivation 3x3, stride 2", blank=False),
        conv(stages[0][4], 3, 2),
        bn,
        silu,
        Note(
            "MBConv: [expand 1x1-bn-silu] (absent when the ratio is 1), depthwise k×k-bn-silu,\n"
            "squeeze-and-excitation (x · sigmoid(fc2(silu(fc1(avgpool(x)))))), project 1x1-bn.\n"
            + (
                "FusedMBConv: k×k-bn-silu (to the expanded width), then 1x1-bn when the ratio\n"
                "is not 1; no squeeze-and-excitation.\n"
                if v2
                else ""
            )
            + "Only blocks with stride 1 and in == out channels add the input back, after\n"
            f"StochasticDepth (p = 0.2 × block index / {total}); the others never call theirs."
        ),
    ]
    block_id = 0
    for s, (fused, ratio, kernel, stride, cin0, out, n) in enumerate(stages, start=1):
        layers.append(Note(f"features.{s}: {n} × {'FusedMBConv' if fused else 'MBConv'}"))
        for i in range(n):
            cin, st = (cin0, stride) if i == 0 else (out, 1)
            expanded = make_divisible(cin * ratio, 8)
            body: list[Node] = []
            if fused:
                if expanded != cin:
                    body += [conv(expanded, kernel, st), bn, silu, conv(out, 1), bn]
                else:
                    body += [conv(out, kernel, st), bn, silu]
            else:
                if expanded != cin:
                    body += [conv(expanded, 1), bn, silu]
                body += [conv(expanded, kernel, st, groups=expanded), bn, silu]
                squeeze = max(1, cin // 4)
                body.append(squeeze_excitation(expanded, squeeze, silu, sigmoid, POOL))
                body += [conv(out, 1), bn]
            p = 0.2 * float(block_id) / total
            block_id += 1
            what = f"k{kernel}, {cin} -> {out}" + (f", stride {st}" if st > 1 else "")
            if ratio != 1:
                what = f"×{ratio}, " + what
            name = f"features.{s}.{i}"
            if st == 1 and cin == out:
                block = named("block", _seq(body))
                inner: Node = block
                if n - (0 if cin0 == out and stride == 1 else 1) > 1:
                    inner = Anchor(f"block{s}", block)  # the stage's blocks differ in p only
                depth = {
                    "name": "stochastic_depth",
                    "type": "stochastic_depth",
                    "p": p,
                    "mode": "row",
                }
                layers.append({"name": name, "#": what, "type": "residual", "body": [inner, depth]})
            else:
                layers.append({"name": name, "#": what, **_seq(body)})
    last_in = stages[-1][5]
    last = 1280 if v2 else 4 * last_in
    layers += [
        Note(f"features.{len(stages) + 1}: Conv2dNormActivation 1x1 to {last}"),
        conv(last, 1),
        bn,
        silu,
        Note(""),
        HEAD_POOL,
        FLATTEN,
        {
            "name": "classifier",
            "type": "sequential",
            "layers": [
                {"type": "dropout", "p": settings["dropout"], "inplace": True},
                {"type": "linear", "out_features": 1000},
            ],
        },
    ]
    notes = FUNCTIONAL_NOTE.format(what="here only the torch.flatten before the classifier")
    if v2:
        notes += "\nBatchNorm2d(eps=1e-3) throughout, as EfficientNetV2 builds it."
    elif "eps" in settings:
        notes += "\nBatchNorm2d(eps=0.001, momentum=0.01) throughout, as B5-B7 build it."
    else:
        notes += "\nPlain BatchNorm2d (eps 1e-5), as B0-B4 build it."
    if not v2:
        notes += f"\nwidth × {settings['width']}, depth × {settings['depth']} (MBConvConfig)."
    return document(header(model, "_efficientnet_conf", notes), model.name, model.size, layers)


# --- RegNet --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Stage:
    width: int
    depth: int
    group_width: int


def regnet_stages(depth: int, w_0: int, w_a: float, w_m: float, group_width: int) -> list[Stage]:
    """``BlockParams.from_init_params`` with bottleneck multiplier 1: block j's width is
    w_0 · w_m^round(log((j·w_a + w_0) / w_0) / log w_m), rounded to a multiple of 8; runs of
    equal widths are the stages; each stage's group width is min(group_width, width) and its
    width a multiple of that. (torchvision computes in float32; float64 gives the same
    integers for every model here, which the tests check against torchvision.)"""
    block_widths = []
    for j in range(depth):
        capacity = round(math.log((j * w_a + w_0) / w_0) / math.log(w_m))
        block_widths.append(round(w_0 * w_m**capacity / 8) * 8)
    stages: list[list[int]] = []
    for w in block_widths:
        if stages and stages[-1][0] == w:
            stages[-1][1] += 1
        else:
            stages.append([w, 1])
    result = []
    for w, d in stages:
        g = min(group_width, w)
        result.append(Stage(make_divisible(w, g), d, g))
    return result


def regnet(model: Model) -> str:
    """RegNet X and Y: stem 3×3/2, four stages of residual bottlenecks (1×1, grouped 3×3 [+SE],
    1×1, a 1×1 projection where the shape changes, ReLU after the add), avgpool, Linear."""
    settings = model.settings
    stages = regnet_stages(
        settings["depth"],
        settings["w_0"],
        settings["w_a"],
        settings["w_m"],
        settings["group_width"],
    )
    se = settings.get("se_ratio")
    bn, relu = batchnorm(), act("relu")
    se_relu, gate = Anchor("se_relu", {"type": "relu"}), Anchor("sigmoid", {"type": "sigmoid"})

    def transform(cin: int, out: int, stride: int, g: int) -> list[Node]:
        layers: list[Node] = [
            conv(out, 1, name="a"),
            bn,
            relu,
            conv(out, 3, stride, groups=out // g, name="b"),
            bn,
            relu,
        ]
        if se:
            layers.append(squeeze_excitation(out, round(se * cin), se_relu, gate, POOL))
        return [*layers, conv(out, 1, name="c"), bn]

    layers: list[Node] = [
        Note("stem: Conv2dNormActivation 3x3, stride 2", blank=False),
        conv(32, 3, 2),
        bn,
        relu,
        Note(
            "ResBottleneckBlock: f = a 1x1-bn-relu, b grouped 3x3 (stride)-bn-relu, "
            + ("se, " if se else "")
            + "c 1x1-bn;\n"
            "relu(proj(x) + f(x)) where the width or the size changes (proj: 1x1 (stride)-bn),\n"
            "relu(x + f(x)) otherwise. torchvision computes proj(x) before f(x), so proj is the\n"
            "residual's body there and f its shortcut: the sum is the same, and the order too."
            + (
                "\nse: squeeze-and-excitation x · sigmoid(fc2(relu(fc1(avgpool(x))))), its\n"
                f"squeeze width round({se} × the block's input width)."
                if se
                else ""
            )
        ),
    ]
    cin = 32
    for i, stage in enumerate(stages, start=1):
        w, g = stage.width, stage.group_width
        first = {
            "name": f"block{i}-0",
            "type": "residual",
            "body": [named("proj", _seq([conv(w, 1, 2), bn]))],
            "shortcut": [named("f", _seq(transform(cin, w, 2, g)))],
        }
        blocks: list[Node] = [first, relu]
        if stage.depth > 1:
            rest = {"type": "residual", "body": [named("f", _seq(transform(w, w, 1, g)))]}
            last = stage.depth - 1
            blocks.append(
                {
                    "name": f"block{i}-1" + (f"..{last}" if last > 1 else ""),
                    "type": "repeat",
                    "times": last,
                    "layers": [rest, relu],
                }
            )
        blocks_text = f"{stage.depth} block" + ("s" if stage.depth > 1 else "")
        what = f"{blocks_text}, {cin} -> {w}, groups of {g}, stride 2"
        layers.append({"name": f"trunk_output.block{i}", "#": what, **_seq(blocks)})
        cin = w
    layers += [
        Note(""),
        HEAD_POOL,
        {"type": "flatten", "functional": True, "#": "x.flatten(start_dim=1)"},
        {"name": "fc", "type": "linear", "out_features": 1000},
    ]
    notes = FUNCTIONAL_NOTE.format(what="here only the x.flatten before the fc")
    notes += (
        f"\nBlockParams.from_init_params(depth={settings['depth']}, w_0={settings['w_0']}, "
        f"w_a={settings['w_a']}, w_m={settings['w_m']},\ngroup_width={settings['group_width']}"
        + (f", se_ratio={se}" if se else "")
        + "): widths "
        + ", ".join(str(s.width) for s in stages)
        + "; depths "
        + ", ".join(str(s.depth) for s in stages)
        + "."
    )
    return document(
        header(model, "BlockParams.from_init_params", notes), model.name, model.size, layers
    )


# --- the models ----------------------------------------------------------------------------

V1 = "IMAGENET1K_V1"
V2 = "IMAGENET1K_V2"
B57 = {"eps": 0.001, "momentum": 0.01}

MODELS = [
    Model(
        "mobilenet_v3_small",
        "MobileNetV3-Small",
        "Howard et al. 2019",
        224,
        V1,
        2_542_856,
        {"table": V3_SMALL, "last_channel": 1024},
    ),
    Model(
        "mobilenet_v3_large",
        "MobileNetV3-Large",
        "Howard et al. 2019",
        224,
        V2,
        5_483_032,
        {"table": V3_LARGE, "last_channel": 1280},
    ),
    *(
        Model(f"mnasnet{tag}", f"MNASNet-B1 {a}", "Tan et al. 2018", 224, V1, n, {"alpha": a})
        for tag, a, n in [
            ("0_5", 0.5, 2_218_512),
            ("0_75", 0.75, 3_170_208),
            ("1_0", 1.0, 4_383_312),
            ("1_3", 1.3, 6_282_256),
        ]
    ),
    *(
        Model(
            f"efficientnet_b{b}",
            f"EfficientNet-B{b}",
            "Tan & Le 2019",
            size,
            weights,
            n,
            {"width": width, "depth": depth, "dropout": dropout, **(B57 if b >= 5 else {})},
        )
        for b, width, depth, dropout, size, weights, n in [
            (1, 1.0, 1.1, 0.2, 240, V2, 7_794_184),
            (2, 1.1, 1.2, 0.3, 288, V1, 9_109_994),
            (3, 1.2, 1.4, 0.3, 300, V1, 12_233_232),
            (4, 1.4, 1.8, 0.4, 380, V1, 19_341_616),
            (5, 1.6, 2.2, 0.4, 456, V1, 30_389_784),
            (6, 1.8, 2.6, 0.5, 528, V1, 43_040_704),
            (7, 2.0, 3.1, 0.5, 600, V1, 66_347_960),
        ]
    ),
    *(
        Model(
            f"efficientnet_v2_{v}",
            f"EfficientNetV2-{v.upper()}",
            "Tan & Le 2021",
            size,
            V1,
            n,
            {"v2": v, "eps": 0.001, "dropout": dropout},
        )
        for v, dropout, size, n in [
            ("s", 0.2, 384, 21_458_488),
            ("m", 0.3, 480, 54_139_356),
            ("l", 0.4, 480, 118_515_272),
        ]
    ),
    *(
        Model(
            f"regnet_{name}",
            f"RegNet{name[0].upper()}-{name[2:].replace('_', '.').upper()}",
            "Radosavovic et al. 2020",
            size,
            weights,
            n,
            {"depth": d, "w_0": w0, "w_a": wa, "w_m": wm, "group_width": g}
            | ({"se_ratio": 0.25} if name.startswith("y") else {}),
        )
        for name, d, w0, wa, wm, g, size, weights, n in [
            ("x_400mf", 22, 24, 24.48, 2.54, 16, 224, V2, 5_495_976),
            ("x_800mf", 16, 56, 35.73, 2.28, 16, 224, V2, 7_259_656),
            ("x_1_6gf", 18, 80, 34.01, 2.25, 24, 224, V2, 9_190_136),
            ("x_3_2gf", 25, 88, 26.31, 2.25, 48, 224, V2, 15_296_552),
            ("x_8gf", 23, 80, 49.56, 2.88, 120, 224, V2, 39_572_648),
            ("x_16gf", 22, 216, 55.59, 2.1, 128, 224, V2, 54_278_536),
            ("x_32gf", 23, 320, 69.86, 2.0, 168, 224, V2, 107_811_560),
            ("y_400mf", 16, 48, 27.89, 2.09, 8, 224, V2, 4_344_144),
            ("y_800mf", 14, 56, 38.84, 2.4, 16, 224, V2, 6_432_512),
            ("y_1_6gf", 27, 48, 20.71, 2.65, 24, 224, V2, 11_202_430),
            ("y_3_2gf", 21, 80, 42.63, 2.66, 24, 224, V2, 19_436_338),
            ("y_8gf", 17, 192, 76.82, 2.19, 56, 224, V2, 39_381_472),
            ("y_16gf", 18, 200, 106.23, 2.48, 112, 224, V2, 83_590_140),
            ("y_32gf", 20, 232, 115.89, 2.53, 232, 224, V2, 145_046_770),
            # no IMAGENET1K_V1: DEFAULT is SWAG end-to-end fine-tuned, evaluated at 384
            ("y_128gf", 27, 456, 160.83, 2.52, 264, 384, "IMAGENET1K_SWAG_E2E_V1", 644_812_894),
        ]
    ),
]
BY_NAME = {model.name: model for model in MODELS}


def render(name: str) -> str:
    """The spec text of one model."""
    model = BY_NAME[name]
    if name.startswith("mobilenet_v3"):
        return mobilenet_v3(model)
    if name.startswith("mnasnet"):
        return mnasnet(model)
    if name.startswith("efficientnet"):
        return efficientnet(model)
    return regnet(model)


GENERATED = {name: partial(render, name) for name in BY_NAME}

if __name__ == "__main__":
    run(GENERATED, "mobile.py", __doc__.split("\n\n")[0])
