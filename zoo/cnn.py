"""Write the bundled specs of torchvision's classic CNN families and segmentation models.

``python zoo/cnn.py`` writes every model below into specs/ (``python zoo/cnn.py vgg11 resnet34``
only those; ``--out DIR`` elsewhere; ``--check`` writes nothing and fails if a file differs from
what it would write). It needs neither torch nor torchvision: the architectures are
transcribed from torchvision 0.28's source (models/vgg.py, resnet.py, densenet.py,
squeezenet.py, mobilenetv3.py and segmentation/), and tests/test_zoo.py compares every written
spec with the torchvision model itself, leaf module by leaf module.

The YAML is written by hand, not dumped, so that it reads like the hand-written specs: one flow
mapping per leaf, anchors (``&bn``) for the leaves that recur, ``repeat`` blocks for runs of
equal blocks, and a header comment naming the source and the published parameter count.

lraspp_mobilenet_v3_large is one ``graph`` block whose paths are torchvision's tensors, in its
call order: ``low`` (features.0-4), ``high`` read from ``low`` (features.5-16), ``x`` read from
``high`` (``cbr(high) · scale(high)``, a nested graph joined by multiply, then resized to low's
size), ``low_classifier`` read from ``low`` and ``high_classifier`` from ``x``, their outputs
added. No tree of sequential/residual/concat/scale blocks calls the modules in that order: two
functions of one tensor multiplied, and a path reading a tensor saved while another is half done.
"""

from __future__ import annotations

import textwrap
from collections.abc import Iterator
from dataclasses import dataclass
from functools import partial

from common import flow as leaf
from common import header as common_header
from common import make_divisible, run
from common import scalar as value

FUNCTIONAL_NOTE = (
    "# `functional: true` marks a leaf torchvision calls as a function, not a module (no module"
    " hook\n# sees it): {what}.\n"
)


def conv(
    out: int,
    k: int,
    *,
    stride: int = 1,
    padding: int = 0,
    dilation: int = 1,
    groups: int = 1,
    bias: bool = True,
    name: str | None = None,
) -> str:
    """A conv leaf, writing only the arguments that differ from nn.Conv2d's defaults."""
    return leaf(
        "conv",
        name=name,
        out_channels=out,
        kernel_size=k,
        stride=stride if stride != 1 else None,
        padding=padding or None,
        dilation=dilation if dilation != 1 else None,
        groups=groups if groups != 1 else None,
        bias=None if bias else False,
    )


class Anchors:
    """YAML anchors in document order: a leaf's first use defines ``&name``, later ones
    are ``*name``."""

    def __init__(self) -> None:
        self.defined: set[str] = set()

    def __call__(self, name: str, text: str) -> str:
        if name in self.defined:
            return f"*{name}"
        self.defined.add(name)
        return f"&{name} {text}"


class Doc:
    """Lines of a YAML document, with the indentation of block lists kept by the caller."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def add(self, indent: int, text: str) -> None:
        self.lines.append(" " * indent + text if text else "")

    def item(self, indent: int, text: str, comment: str = "") -> None:
        """``- text`` at ``indent``, with an optional trailing comment."""
        self.add(indent, f"- {text}" + (f"  # {comment}" if comment else ""))

    def items(self, indent: int, texts: list[str]) -> None:
        for text in texts:
            self.item(indent, text)

    def block(
        self,
        indent: int,
        head: dict[str, object],
        key: str = "layers",
        comment: str = "",
        flow: str = "",
    ) -> int:
        """``- name: ..`` / ``type: ..`` / other fields / ``key:``; the indent of its list
        (or ``key: flow`` on one line, when the list is given as a flow sequence)."""
        for n, (k, v) in enumerate(head.items()):
            note = f"  # {comment}" if comment and n == 0 else ""
            self.add(indent, ("  " if n else "- ") + f"{k}: {value(v)}{note}")
        self.add(indent + 2, f"{key}: {flow}" if flow else f"{key}:")
        return indent + 4

    def text(self) -> str:
        return "\n".join(self.lines) + "\n"


def header(
    title: str, source: str, input_shape: tuple[int, ...], params: int, notes: list[str]
) -> tuple[str, str]:
    """The header's title sentence (what the model is, where from, its parameter count) and
    its notes, wrapped."""
    size = "×".join(map(str, input_shape))
    first = f"{title} ({source}), {size}: {params:,} parameters."
    return first, "\n".join(textwrap.wrap(" ".join(notes), 96))


# the torchvision source each family is transcribed from, by name prefix
ORIGINS = {
    "vgg": "models/vgg.py",
    "res": "models/resnet.py",
    "wide": "models/resnet.py",
    "dense": "models/densenet.py",
    "squeeze": "models/squeezenet.py",
    "fcn": "models/segmentation/fcn.py and models/resnet.py",
    "deeplabv3_res": "models/segmentation/deeplabv3.py and models/resnet.py",
    "deeplabv3_mob": "models/segmentation/deeplabv3.py and models/mobilenetv3.py",
    "lraspp": "models/segmentation/lraspp.py and models/mobilenetv3.py",
}


def document(
    name: str, head: tuple[str, str], functional: str, input_shape: tuple[int, ...], body: Doc
) -> str:
    """A whole spec file: header, the functional-leaf note, name, input and the layers."""
    origin = next(source for prefix, source in ORIGINS.items() if name.startswith(prefix))
    top = common_header(head[0], "cnn.py", origin, head[1])
    top += FUNCTIONAL_NOTE.format(what=functional)
    top += f"name: {name}\ninput: {value(list(input_shape))}\nlayers:\n"
    return top + body.text()


# --- VGG ------------------------------------------------------------------------------------

# torchvision's cfgs: convolutions per stage (64, 128, 256, 512, 512 channels), a pool after each
VGG_STAGES = {"vgg11": (1, 1, 2, 2, 2), "vgg13": (2, 2, 2, 2, 2), "vgg19": (2, 2, 4, 4, 4)}
VGG_STAGES["vgg16"] = (2, 2, 3, 3, 3)
VGG_PARAMS = {
    "vgg11": 132_863_336,
    "vgg11_bn": 132_868_840,
    "vgg13": 133_047_848,
    "vgg13_bn": 133_053_736,
    "vgg16_bn": 138_365_992,
    "vgg19": 143_667_240,
    "vgg19_bn": 143_678_248,
}


def vgg(name: str) -> str:
    """VGG (torchvision.models.vgg*): 3×3 convs (bias even before a batch norm), 2×2 pools,
    a 7×7 adaptive average pool and three linear layers with dropout."""
    batch_norm = name.endswith("_bn")
    stages = VGG_STAGES[name.removesuffix("_bn")]
    doc = Doc()
    indent = doc.block(2, {"name": "features", "type": "sequential"})
    first = Anchors()
    for width, convs in zip((64, 128, 256, 512, 512), stages, strict=True):
        c = conv(width, 3, padding=1)
        unit = [first(f"conv{width}", c) if width == 512 else c]
        if batch_norm:
            unit.append(first("bn", leaf("batchnorm")))
        unit.append(first("relu", leaf("relu", inplace=True)))
        if convs == 1:
            doc.items(indent, unit)
        else:
            doc.items(doc.block(indent, {"type": "repeat", "times": convs}), unit)
        doc.item(indent, first("pool", leaf("maxpool", kernel_size=2, stride=2)))
    doc.item(2, leaf("adaptive_avgpool", name="avgpool", output_size=[7, 7]))
    doc.item(2, leaf("flatten", functional=True), "torch.flatten(x, 1)")
    indent = doc.block(2, {"name": "classifier", "type": "sequential"})
    doc.item(indent, leaf("linear", out_features=4096))
    doc.item(indent, "*relu")
    doc.item(indent, "&drop " + leaf("dropout", p=0.5))
    doc.items(indent, [leaf("linear", out_features=4096), "*relu", "*drop"])
    doc.item(indent, leaf("linear", out_features=1000))
    depth = sum(stages) + 3
    title = f"VGG-{depth}" + (" with batch normalisation" if batch_norm else "")
    notes = [
        f"Convolutions per stage {', '.join(map(str, stages))} (64, 128, 256, 512, 512 channels),",
        "each a 3×3 conv" + (" (with its bias) + batch norm" if batch_norm else "") + " + ReLU;",
        "a 2×2 max pool ends each stage.",
    ]
    source = f"torchvision.models.{name}, Simonyan & Zisserman 2014"
    head = header(title, source, INPUT, VGG_PARAMS[name], notes)
    return document(name, head, "here only the torch.flatten before the classifier", INPUT, doc)


INPUT = (3, 224, 224)
SEG_INPUT = (3, 520, 520)


# --- ResNet, ResNeXt, Wide ResNet ------------------------------------------------------------


@dataclass(frozen=True)
class ResNetArch:
    """torchvision's ResNet arguments: block type, blocks per stage, groups, width per group."""

    bottleneck: bool
    blocks: tuple[int, int, int, int]
    groups: int = 1
    width_per_group: int = 64
    title: str = ""
    source: str = ""
    params: int = 0


RESNETS = {
    "resnet34": ResNetArch(False, (3, 4, 6, 3), title="ResNet-34", params=21_797_672),
    "resnet101": ResNetArch(True, (3, 4, 23, 3), title="ResNet-101", params=44_549_160),
    "resnet152": ResNetArch(True, (3, 8, 36, 3), title="ResNet-152", params=60_192_808),
    "resnext50_32x4d": ResNetArch(
        True, (3, 4, 6, 3), 32, 4, "ResNeXt-50 32×4d", "Xie et al. 2017", 25_028_904
    ),
    "resnext101_32x8d": ResNetArch(
        True, (3, 4, 23, 3), 32, 8, "ResNeXt-101 32×8d", "Xie et al. 2017", 88_791_336
    ),
    "resnext101_64x4d": ResNetArch(
        True, (3, 4, 23, 3), 64, 4, "ResNeXt-101 64×4d", "Xie et al. 2017", 83_455_272
    ),
    "wide_resnet50_2": ResNetArch(
        True, (3, 4, 6, 3), 1, 128, "Wide ResNet-50-2", "Zagoruyko & Komodakis 2016", 68_883_240
    ),
    "wide_resnet101_2": ResNetArch(
        True, (3, 4, 23, 3), 1, 128, "Wide ResNet-101-2", "Zagoruyko & Komodakis 2016", 126_886_696
    ),
}
RESNET50 = ResNetArch(True, (3, 4, 6, 3))
RESNET101 = RESNETS["resnet101"]


@dataclass(frozen=True)
class Unit:
    """One residual block as torchvision builds it."""

    width: int  # channels of the 3×3 conv(s)
    out: int
    stride: int
    dilation: int
    downsample: bool


def stage_units(arch: ResNetArch, dilate: tuple[bool, bool, bool]) -> Iterator[list[Unit]]:
    """Each stage's blocks, as ResNet._make_layer makes them: with ``dilate`` (torchvision's
    replace_stride_with_dilation) a stage's stride becomes dilation, its first block keeping
    the previous dilation; a downsample where stride ≠ 1 or the channels change."""
    inplanes, dilation = 64, 1
    expansion = 4 if arch.bottleneck else 1
    for index, (planes, count) in enumerate(zip((64, 128, 256, 512), arch.blocks, strict=True)):
        stride = 1 if index == 0 else 2
        previous = dilation
        if index > 0 and dilate[index - 1]:
            dilation *= stride
            stride = 1
        width = planes * arch.width_per_group // 64 * arch.groups if arch.bottleneck else planes
        out = planes * expansion
        down = stride != 1 or inplanes != out
        units = [Unit(width, out, stride, previous, down)]
        units += [Unit(width, out, 1, dilation, False)] * (count - 1)
        inplanes = out
        yield units


def resnet_body(arch: ResNetArch, unit: Unit, ref: Anchors) -> list[str]:
    """A block's body: Bottleneck conv1x1-bn-relu-conv3x3-bn-relu-conv1x1-bn, BasicBlock
    conv3x3-bn-relu-conv3x3-bn (the 3×3 convs padded by their dilation)."""
    bn = ref("bn", leaf("batchnorm"))
    d = unit.dilation
    if arch.bottleneck:
        return [
            conv(unit.width, 1, bias=False),
            bn,
            "*relu",
            conv(
                unit.width,
                3,
                stride=unit.stride,
                padding=d,
                dilation=d,
                groups=arch.groups,
                bias=False,
            ),
            "*bn",
            "*relu",
            conv(unit.out, 1, bias=False),
            "*bn",
        ]
    return [
        conv(unit.width, 3, stride=unit.stride, padding=d, dilation=d, bias=False),
        bn,
        "*relu",
        conv(unit.width, 3, padding=d, dilation=d, bias=False),
        "*bn",
    ]


def residual(
    doc: Doc, indent: int, arch: ResNetArch, unit: Unit, ref: Anchors, body: str = ""
) -> None:
    """``- type: residual`` with its body (and downsample shortcut), then the block's ReLU;
    ``body`` names the body (``&name``, or ``*name`` for a body written before)."""
    doc.add(indent, "- type: residual")
    if body.startswith("*"):
        doc.add(indent + 2, f"body: {body}")
    else:
        doc.add(indent + 2, f"body: {body}".rstrip())
        doc.items(indent + 4, resnet_body(arch, unit, ref))
    if unit.downsample:
        doc.add(indent + 2, "shortcut:  # downsample")
        doc.items(indent + 4, [conv(unit.out, 1, stride=unit.stride, bias=False), "*bn"])
    doc.item(indent, "*relu")


def resnet_trunk(
    doc: Doc, indent: int, arch: ResNetArch, dilate: tuple[bool, bool, bool] = (False,) * 3
) -> None:
    """conv1, bn1, relu, maxpool and layer1..layer4 (a first block, then a repeat of the rest)."""
    doc.item(indent, conv(64, 7, stride=2, padding=3, bias=False, name="conv1"))
    doc.item(indent, leaf("batchnorm", name="bn1"))
    doc.item(indent, "&relu " + leaf("relu", inplace=True))
    doc.item(indent, leaf("maxpool", name="maxpool", kernel_size=3, stride=2, padding=1))
    anchors = Anchors()
    for index, units in enumerate(stage_units(arch, dilate)):
        doc.add(0, "")
        first, rest = units[0], units[1:]
        name = f"layer{index + 1}"
        if rest and first == rest[0]:  # every block alike: one repeat
            inner = doc.block(indent, {"name": name, "type": "repeat", "times": len(units)})
            residual(doc, inner, arch, first, anchors)
            continue
        inner = doc.block(indent, {"name": name, "type": "sequential"})
        same = bool(rest) and (first.stride, first.dilation) == (rest[0].stride, rest[0].dilation)
        residual(doc, inner, arch, first, anchors, f"&{name}_body" if same else "")
        if rest:
            deeper = doc.block(inner, {"type": "repeat", "times": len(rest)})
            residual(doc, deeper, arch, rest[0], anchors, f"*{name}_body" if same else "")


def resnet_notes(arch: ResNetArch) -> list[str]:
    if not arch.bottleneck:
        return [
            "BasicBlock: conv3x3-bn-relu-conv3x3-bn, + identity (or downsample), then the block's",
            "same ReLU module again after the add (hence the relu after each residual).",
        ]
    if arch.groups > 1:
        width = f"the 3×3 conv is {arch.groups} groups of {arch.width_per_group} channels per 64"
        width += " planes (the cardinality)."
    elif arch.width_per_group != 64:
        width = f"The bottleneck is {arch.width_per_group // 64}× as wide as ResNet's."
    else:
        width = ""
    return [
        "Bottleneck (v1.5: stride on the 3×3 conv): conv1x1-bn-relu-conv3x3-bn-relu-conv1x1(×4)-bn",
        "+ identity (or downsample), then the block's same ReLU module again after the add"
        + ("; " + width if arch.groups > 1 else ". " + width).rstrip(),
    ]


def resnet(name: str) -> str:
    """ResNet, ResNeXt and Wide ResNet classifiers (torchvision.models.resnet)."""
    arch = RESNETS[name]
    doc = Doc()
    resnet_trunk(doc, 2, arch)
    doc.add(0, "")
    doc.item(2, leaf("adaptive_avgpool", name="avgpool", output_size=[1, 1]))
    doc.item(2, leaf("flatten", functional=True), "torch.flatten(x, 1)")
    doc.item(2, leaf("linear", name="fc", out_features=1000))
    source = f"torchvision.models.{name}, " + (arch.source or "He et al. 2015")
    head = header(arch.title, source, INPUT, arch.params, resnet_notes(arch))
    return document(name, head, "here only the torch.flatten before the fc", INPUT, doc)


# --- DenseNet -------------------------------------------------------------------------------

DENSENETS = {  # growth rate, blocks, initial features, published parameters
    "densenet161": (48, (6, 12, 36, 24), 96, 28_681_000),
    "densenet169": (32, (6, 12, 32, 32), 64, 14_149_480),
    "densenet201": (32, (6, 12, 48, 32), 64, 20_013_928),
}


def densenet(name: str) -> str:
    """DenseNet (torchvision.models.densenet*): dense layers concatenate their input with
    ``growth`` new maps (bottleneck 4·growth); transitions halve channels and size."""
    growth, blocks, features, params = DENSENETS[name]
    doc = Doc()
    doc.item(2, conv(features, 7, stride=2, padding=3, bias=False, name="conv0"))
    doc.item(2, "&norm " + leaf("batchnorm"))
    doc.item(2, "&relu " + leaf("relu", inplace=True))
    doc.item(2, leaf("maxpool", name="pool0", kernel_size=3, stride=2, padding=1))
    size = 56
    for index, count in enumerate(blocks):
        doc.add(0, "")
        total = features + count * growth
        note = f"  # {features} + {count}·{growth} = {total} channels, {size}×{size}"
        if index == 0:
            doc.add(2, f"- name: denseblock1{note}")
            doc.add(2, "  type: repeat")
            doc.add(2, f"  times: {count}")
            doc.add(2, "  layers:")
            doc.add(6, "- &dense_layer")
            doc.add(6, "  name: denselayer")
            doc.add(6, "  type: concat")
            doc.add(6, "  branches:")
            doc.add(10, "- []  # the layer's input, passed on")
            bottleneck = conv(4 * growth, 1, bias=False)
            new = conv(growth, 3, padding=1, bias=False)
            doc.add(10, f"- [*norm, *relu, {bottleneck},")
            doc.add(10, f"   *norm, *relu, {new}]")
        else:
            doc.add(
                2,
                f"- {{name: denseblock{index + 1}, type: repeat, times: {count}, "
                f"layers: [*dense_layer]}}{note}",
            )
        features = total
        if index < len(blocks) - 1:
            features //= 2
            size //= 2
            squeeze = conv(features, 1, bias=False)
            pool = "&pool " + leaf("avgpool", kernel_size=2, stride=2) if index == 0 else "*pool"
            doc.add(2, f"- name: transition{index + 1}  # {features} channels, {size}×{size}")
            doc.add(2, "  type: sequential")
            doc.add(2, f"  layers: [*norm, *relu, {squeeze},")
            doc.add(2, f"           {pool}]")
    doc.item(2, leaf("batchnorm", name="norm5"))
    doc.add(0, "")
    doc.item(2, "{<<: *relu, functional: true}", "F.relu in DenseNet.forward")
    doc.item(
        2, leaf("adaptive_avgpool", output_size=[1, 1], functional=True), "F.adaptive_avg_pool2d"
    )
    doc.item(2, leaf("flatten", functional=True), "torch.flatten(x, 1)")
    doc.item(2, leaf("linear", name="classifier", out_features=1000))
    depth = 5 + 2 * sum(blocks)
    notes = [
        f"A dense layer concatenates its input (the empty branch) with {growth} new feature maps"
        f" (growth rate {growth},",
        f"bottleneck 4·{growth}); dense blocks of {', '.join(map(str, blocks))} layers; each"
        " transition halves the channels",
        "with a 1×1 conv and the spatial size with a 2×2 average pool.",
    ]
    head = header(
        f"DenseNet-{depth}", f"torchvision.models.{name}, Huang et al. 2017", INPUT, params, notes
    )
    what = "the F.relu, F.adaptive_avg_pool2d and torch.flatten in DenseNet.forward"
    return document(name, head, what, INPUT, doc)


# --- SqueezeNet 1.1 -------------------------------------------------------------------------


def fire(doc: Doc, indent: int, squeeze: int, expand: int) -> None:
    """Fire module: squeeze conv1x1 + relu, then [expand1x1 + relu] ‖ [expand3x3 + relu]."""
    doc.item(indent, conv(squeeze, 1, name="squeeze"))
    doc.item(indent, "*relu")
    doc.item(indent, "type: concat")
    doc.add(indent + 2, "branches:")
    doc.item(indent + 4, f"[{conv(expand, 1, name='expand1x1')}, *relu]")
    doc.item(indent + 4, f"[{conv(expand, 3, padding=1, name='expand3x3')}, *relu]")


def squeezenet1_1(name: str) -> str:
    """SqueezeNet 1.1: a 3×3/2 conv of 64, pools after fire3 and fire5 (not 4 and 8)."""
    doc = Doc()
    indent = doc.block(2, {"name": "features", "type": "sequential"})
    doc.item(indent, conv(64, 3, stride=2))
    doc.item(indent, "&relu " + leaf("relu", inplace=True))
    doc.item(indent, "&maxpool " + leaf("maxpool", kernel_size=3, stride=2, ceil_mode=True))
    doc.add(
        indent,
        "# Fire module: squeeze conv1x1 + relu, then [expand1x1 + relu] ‖ [expand3x3 + relu]"
        " joined",
    )
    doc.add(indent, "# along channels; two alike between pools (fire2-3, 4-5, 6-7, 8-9).")
    for number, (squeeze, expand) in enumerate(((16, 64), (32, 128), (48, 192), (64, 256))):
        if number:
            doc.add(indent, "")
        label = f"fire{2 * number + 2}-{2 * number + 3}"
        inner = doc.block(indent, {"name": label, "type": "repeat", "times": 2})
        fire(doc, inner, squeeze, expand)
        if number < 2:
            doc.item(indent, "*maxpool")
    indent = doc.block(2, {"name": "classifier", "type": "sequential"})
    doc.item(indent, leaf("dropout", p=0.5))
    doc.item(indent, conv(1000, 1, name="final_conv"))
    doc.item(indent, "*relu")
    doc.item(indent, leaf("adaptive_avgpool", output_size=[1, 1]))
    doc.item(2, leaf("flatten", functional=True), "torch.flatten(x, 1)")
    head = header(
        "SqueezeNet 1.1",
        "torchvision.models.squeezenet1_1, Iandola et al. 2016",
        INPUT,
        1_235_496,
        ["2.4× less computation than 1.0 for the same accuracy: 3×3 first conv, earlier pools."],
    )
    return document(name, head, "here only the torch.flatten after the classifier", INPUT, doc)


# --- segmentation ---------------------------------------------------------------------------

CLASSES = 21  # torchvision's default without weights: Pascal VOC's 20 classes and background
SEG_PUBLISHED = {  # torchvision's num_params, auxiliary classifier included
    "fcn_resnet50": 35_322_218,
    "fcn_resnet101": 54_314_346,
    "deeplabv3_resnet50": 42_004_074,
    "deeplabv3_resnet101": 60_996_202,
    "deeplabv3_mobilenet_v3_large": 11_029_328,
}


def upsample(size: int) -> str:
    """F.interpolate(x, size, mode="bilinear", align_corners=False): a functional leaf."""
    return leaf(
        "upsample", size=[size, size], mode="bilinear", align_corners=False, functional=True
    )


def seg_output(doc: Doc) -> None:
    """The model's own F.interpolate of the head's output to the input size."""
    doc.add(2, '# F.interpolate(x, size=input_shape, mode="bilinear", align_corners=False)')
    doc.item(2, upsample(SEG_INPUT[1]))


def deeplab_head(doc: Doc, feature: int) -> None:
    """DeepLabHead: ASPP (1×1, three 3×3 at rates 12, 24, 36, image pooling; concatenated and
    projected to 256, dropout 0.5), then a 3×3 conv-bn-relu and the 1×1 classifier."""
    indent = doc.block(2, {"name": "classifier", "type": "sequential"})
    doc.add(indent, "- name: aspp")
    doc.add(indent, "  type: concat")
    doc.add(indent, "  branches:")
    branch = indent + 4
    doc.item(
        branch,
        f"[&c256 {conv(256, 1, bias=False)},",
    )
    doc.add(branch, f"   &bn256 {leaf('batchnorm')}, &head_relu {leaf('relu')}]")
    for rate in (12, 24, 36):
        doc.item(branch, f"[{conv(256, 3, padding=rate, dilation=rate, bias=False)},")
        doc.add(branch, "   *bn256, *head_relu]")
    doc.add(branch, "# image pooling, then F.interpolate back to the features' size")
    doc.add(branch, f"- [{leaf('adaptive_avgpool', output_size=1)}, *c256, *bn256, *head_relu,")
    doc.add(branch, f"   {upsample(feature)}]")
    doc.item(indent, "*c256", "project")
    doc.items(indent, ["*bn256", "*head_relu", leaf("dropout", p=0.5)])
    doc.item(indent, conv(256, 3, padding=1, bias=False))
    doc.items(indent, ["*bn256", "*head_relu", conv(CLASSES, 1)])


def fcn_head(doc: Doc, channels: int) -> None:
    """FCNHead: 3×3 conv to a quarter of the channels, bn, relu, dropout 0.1, 1×1 classifier."""
    indent = doc.block(2, {"name": "classifier", "type": "sequential"})
    doc.item(indent, conv(channels // 4, 3, padding=1, bias=False))
    doc.items(indent, [leaf("batchnorm"), leaf("relu"), leaf("dropout", p=0.1)])
    doc.item(indent, conv(CLASSES, 1))


SEG_NOTE = [
    "The `out` head only: built with weights=None, aux_loss is off, so no auxiliary classifier;",
    "torchvision's published count ({published:,}) includes it.",
    "{classes} classes (VOC's 20 and background).",
]


def seg_resnet(name: str) -> str:
    """FCN and DeepLabV3 on a ResNet-50/101 whose layer3 and layer4 trade stride for dilation
    (output stride 8: 520 → 65), then the head and a bilinear resize to the input."""
    arch = RESNET101 if name.endswith("101") else RESNET50
    doc = Doc()
    indent = doc.block(2, {"name": "backbone", "type": "sequential"})
    resnet_trunk(doc, indent, arch, (False, True, True))
    doc.add(0, "")
    feature = SEG_INPUT[1] // 8
    if name.startswith("fcn"):
        fcn_head(doc, 2048)
        title, paper, head_note = "FCN", "Long et al. 2015", "FCNHead on layer4's 2048 maps."
    else:
        deeplab_head(doc, feature)
        title, paper = "DeepLabV3", "Chen et al. 2017"
        head_note = "DeepLabHead (ASPP) on layer4's 2048 maps."
    seg_output(doc)
    depth = 101 if name.endswith("101") else 50
    published = SEG_PUBLISHED[name]
    own = seg_params(name)
    notes = [
        f"ResNet-{depth} backbone with replace_stride_with_dilation=[False, True, True]:"
        " layer3 and layer4",
        f"keep {feature}×{feature} (dilation 2, then 4); no avgpool or fc. {head_note}",
        *(note.format(published=published, classes=CLASSES) for note in SEG_NOTE),
    ]
    source = f"torchvision.models.segmentation.{name}, {paper}"
    head = header(f"{title} ResNet-{depth}", source, SEG_INPUT, own, notes)
    what = "the F.interpolate calls" + (" (ASPP pooling and output)" if title != "FCN" else "")
    return document(name, head, what, SEG_INPUT, doc)


# MobileNetV3-Large, dilated as the segmentation models build it: input channels, kernel,
# expanded, out, squeeze-and-excitation, hardswish, stride, dilation (mobilenetv3.py)
MOBILENET_V3_LARGE = (
    (16, 3, 16, 16, False, False, 1, 1),
    (16, 3, 64, 24, False, False, 2, 1),
    (24, 3, 72, 24, False, False, 1, 1),
    (24, 5, 72, 40, True, False, 2, 1),
    (40, 5, 120, 40, True, False, 1, 1),
    (40, 5, 120, 40, True, False, 1, 1),
    (40, 3, 240, 80, False, True, 2, 1),
    (80, 3, 200, 80, False, True, 1, 1),
    (80, 3, 184, 80, False, True, 1, 1),
    (80, 3, 184, 80, False, True, 1, 1),
    (80, 3, 480, 112, True, True, 1, 1),
    (112, 3, 672, 112, True, True, 1, 1),
    (112, 5, 672, 160, True, True, 2, 2),
    (160, 5, 960, 160, True, True, 1, 2),
    (160, 5, 960, 160, True, True, 1, 2),
)


def mobilenet_v3_features(
    doc: Doc, indent: int, ref: Anchors | None = None, stages: range = range(17)
) -> None:
    """features.0..16 (those in ``stages``): the stem, 15 inverted residuals (expand 1×1,
    depthwise k×k, optional squeeze-and-excitation, project 1×1; + input where stride 1 and
    channels kept), the 1×1 to 960. A dilated block keeps stride 1; a k×k conv is padded by
    (k − 1)/2 · dilation. ``ref`` holds the anchors already defined in the document."""
    ref = ref or Anchors()
    bn = leaf("batchnorm", eps=0.001, momentum=0.01)
    if 0 in stages:
        doc.item(indent, conv(16, 3, stride=2, padding=1, bias=False), "features.0")
        doc.items(indent, [ref("bn", bn), ref("hardswish", leaf("hardswish"))])
    for index, (cin, k, exp, out, se, hs, stride, dilation) in enumerate(MOBILENET_V3_LARGE):
        if index + 1 not in stages:
            continue
        act = ("hardswish", leaf("hardswish")) if hs else ("relu", leaf("relu", inplace=True))
        layers = [conv(exp, 1, bias=False), "*bn", ref(*act)] if exp != cin else []
        depthwise = conv(
            exp,
            k,
            stride=1 if dilation > 1 else stride,
            padding=(k - 1) // 2 * dilation,
            dilation=dilation,
            groups=exp,
            bias=False,
        )
        layers += [depthwise, "*bn", ref(*act)]
        what = f"{cin} -> {out}, k{k}"
        what += f", stride {stride}" if dilation == 1 and stride > 1 else ""
        what += f", dilation {dilation}" if dilation > 1 else ""
        res = stride == 1 and cin == out
        head: dict[str, object] = {"name": f"features.{index + 1}"}
        head["type"] = "residual" if res else "sequential"
        inner = doc.block(indent, head, "body" if res else "layers", comment=what)
        doc.items(inner, layers)
        if se:
            body = doc.block(inner, {"name": "se", "type": "scale"}, "body")
            doc.item(body, ref("se_pool", leaf("adaptive_avgpool", output_size=1)))
            doc.item(body, conv(make_divisible(exp // 4), 1, name="fc1"))
            doc.item(body, ref("se_relu", leaf("relu")))
            doc.item(body, conv(exp, 1, name="fc2"))
            doc.item(body, ref("hardsigmoid", leaf("hardsigmoid")))
        doc.items(inner, [conv(out, 1, bias=False), "*bn"])
    if 16 in stages:
        doc.item(indent, conv(960, 1, bias=False), "features.16")
        doc.items(indent, ["*bn", "*hardswish"])


def deeplabv3_mobilenet(name: str) -> str:
    doc = Doc()
    indent = doc.block(2, {"name": "backbone", "type": "sequential"})
    mobilenet_v3_features(doc, indent)
    doc.add(0, "")
    feature = 33  # 520 → 260 → 130 → 65 → 33; the last stage dilated instead of strided
    deeplab_head(doc, feature)
    seg_output(doc)
    published = SEG_PUBLISHED[name]
    notes = [
        "MobileNetV3-Large features, dilated=True: the last stage (features.13-15) has dilation 2",
        f"and stride 1, so the features stay {feature}×{feature} (output stride 16); no pooling or"
        " classifier.",
        "Inverted residual: [expand 1×1-bn-act], depthwise k×k-bn-act, [squeeze-and-excitation",
        "x · hardsigmoid(fc2(relu(fc1(avgpool(x)))))], project 1×1-bn; + input only when stride 1",
        "and in == out channels. Batch norms eps 0.001, momentum 0.01. DeepLabHead (ASPP) on 960.",
        *(note.format(published=published, classes=CLASSES) for note in SEG_NOTE),
    ]
    source = f"torchvision.models.segmentation.{name}, Chen et al. 2017, Howard et al. 2019"
    head = header("DeepLabV3 MobileNetV3-Large", source, SEG_INPUT, seg_params(name), notes)
    return document(name, head, "the F.interpolate calls (ASPP pooling and output)", SEG_INPUT, doc)


def lraspp_mobilenet(name: str) -> str:
    """LR-ASPP (LRASPP and LRASPPHead) on the dilated MobileNetV3-Large features: one graph
    whose paths are torchvision's tensors, in its call order. ``low`` is features.0-4 (40×65×65,
    output stride 8), ``high`` features.5-16 from it (960×33×33); ``x`` from ``high`` is
    cbr(high) · scale(high) (a nested graph multiplying its two paths), resized to low's
    65×65; the classifiers read ``low`` and ``x``, and their outputs are added."""
    doc = Doc()
    ref = Anchors()
    head = {"name": "lraspp", "type": "graph", "join": "add"}
    head["output"] = ["low_classifier", "high_classifier"]
    paths = doc.block(2, head, "paths")
    low = doc.block(paths, {"name": "low"}, comment="backbone features.0-4: 40×65×65")
    mobilenet_v3_features(doc, low, ref, range(5))
    high = doc.block(paths, {"name": "high", "from": "low"}, comment="features.5-16: 960×33×33")
    mobilenet_v3_features(doc, high, ref, range(5, 17))
    x = doc.block(paths, {"name": "x", "from": "high"}, comment="x = cbr(high) * scale(high)")
    inner = doc.block(x, {"type": "graph", "join": "multiply"}, "paths")
    cbr = doc.block(inner, {"name": "cbr"}, comment="classifier.cbr")
    doc.items(cbr, [conv(128, 1, bias=False), leaf("batchnorm"), leaf("relu", inplace=True)])
    scale = doc.block(inner, {"name": "scale"}, comment="classifier.scale")
    doc.item(scale, leaf("adaptive_avgpool", output_size=1))
    doc.items(scale, [conv(128, 1, bias=False), leaf("sigmoid")])
    feature = 65  # low's size: 520 → 260 → 130 → 65
    doc.add(x, '# F.interpolate(x, size=low.shape[-2:], mode="bilinear", align_corners=False)')
    doc.item(x, upsample(feature))
    low_classifier = doc.block(paths, {"name": "low_classifier", "from": "low"})
    doc.item(low_classifier, conv(CLASSES, 1))
    high_classifier = doc.block(paths, {"name": "high_classifier", "from": "x"})
    doc.item(high_classifier, conv(CLASSES, 1))
    doc.add(0, "")
    seg_output(doc)
    notes = [
        "MobileNetV3-Large features, dilated=True (features.13-15 dilation 2, stride 1): low is",
        "features.4's output (40×65×65), high features.16's (960×33×33). LRASPPHead: x =",
        "cbr(high) · scale(high), cbr a 1×1 conv to 128, batch norm and ReLU, scale an adaptive",
        "average pool to 1×1, a 1×1 conv to 128 and a sigmoid; x resized to 65×65; then",
        "low_classifier(low) + high_classifier(x), 1×1 convs to 21 classes (VOC's 20 and",
        "background). The graph's paths run in torchvision's call order. No auxiliary classifier:",
        "torchvision's published count is this spec's.",
    ]
    source = f"torchvision.models.segmentation.{name}, Howard et al. 2019"
    head_line = header("LR-ASPP MobileNetV3-Large", source, SEG_INPUT, LRASPP_PARAMS, notes)
    what = "the F.interpolate calls (x to low's size, and the output)"
    return document(name, head_line, what, SEG_INPUT, doc)


LRASPP_PARAMS = 3_221_538  # LRASPP_MobileNet_V3_Large_Weights meta num_params (no aux)


# Parameters of the `out` model, aux classifier left out: torchvision's num_params less its
# FCNHead(1024 or 40 channels → 21): 3×3 conv to in/4, batch norm, 1×1 conv with bias.
def aux_params(channels: int) -> int:
    inter = channels // 4
    return channels * inter * 9 + 2 * inter + inter * CLASSES + CLASSES


def seg_params(name: str) -> int:
    aux = 40 if "mobilenet" in name else 1024
    return SEG_PUBLISHED[name] - aux_params(aux)


# --- the table and the command --------------------------------------------------------------

MODELS = {
    **dict.fromkeys(VGG_PARAMS, vgg),
    **dict.fromkeys(RESNETS, resnet),
    **dict.fromkeys(DENSENETS, densenet),
    "squeezenet1_1": squeezenet1_1,
    "fcn_resnet50": seg_resnet,
    "fcn_resnet101": seg_resnet,
    "deeplabv3_resnet50": seg_resnet,
    "deeplabv3_resnet101": seg_resnet,
    "deeplabv3_mobilenet_v3_large": deeplabv3_mobilenet,
    "lraspp_mobilenet_v3_large": lraspp_mobilenet,
}


def render(name: str) -> str:
    """The spec file of one model, as written to specs/<name>.yaml."""
    return MODELS[name](name)


GENERATED = {name: partial(render, name) for name in MODELS}

if __name__ == "__main__":
    run(GENERATED, "cnn.py", __doc__.splitlines()[0])
