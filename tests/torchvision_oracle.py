"""Test-side oracle: a convcalc spec against a real PyTorch model, leaf module by leaf module.

Nothing here is a test. ``torch_leaves`` runs a model once on the meta device with a forward
hook on every leaf module (a module with no children, or one of the ``ATOMIC`` classes, whose
children never run as modules) and records, in execution order, the spec type each module
corresponds to, its batch-less output shape and its parameter count. A parameter held directly by
a module that is not a leaf (ViT's ``class_token``, its encoder's ``pos_embedding``, ConvNeXt's
``layer_scale``) is a leaf of its own, of the spec type ``OWNED_PARAMETERS`` gives it, recorded
where the owner's forward uses it (a forward pre- or post-hook on the owner or on one of its
children), so that the leaves' parameters add up to the model's, none unaccounted for.
``match`` walks those records alongside convcalc's report leaves. torchvision calls some
operations as functions (``torch.flatten`` in ResNet, ``F.relu`` in GoogLeNet's BasicConv2d,
``F.avg_pool2d`` in Inception3), which leave no module behind; the spec marks those leaves
``functional: true``. A spec leaf is skipped if and only if it is so marked: a marked leaf may
never pair with a torch module, an unmarked one must pair, and a torch leaf is never skipped.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import sys
import types
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import pytest

__all__ = [
    "ATOMIC",
    "OWNED_PARAMETERS",
    "TORCHVISION_MODELS",
    "TORCH_KINDS",
    "Leaf",
    "SpecLayer",
    "SpecLeaf",
    "build_torchvision",
    "format_leaves",
    "import_torchvision",
    "kind_of",
    "leaf_modules",
    "match",
    "run_model",
    "torch_leaves",
    "total_params",
]

# spec name -> (torchvision constructor, keyword arguments besides weights=None, input shape)
TORCHVISION_MODELS: dict[str, tuple[str, dict[str, Any], tuple[int, ...]]] = {
    "resnet18": ("resnet18", {}, (3, 224, 224)),
    # ShuffleNet_V2_*_Weights.DEFAULT: crop_size 224 (zoo/shufflenet.py)
    "shufflenet_v2_x0_5": ("shufflenet_v2_x0_5", {}, (3, 224, 224)),
    "shufflenet_v2_x1_0": ("shufflenet_v2_x1_0", {}, (3, 224, 224)),
    "shufflenet_v2_x1_5": ("shufflenet_v2_x1_5", {}, (3, 224, 224)),
    "shufflenet_v2_x2_0": ("shufflenet_v2_x2_0", {}, (3, 224, 224)),
    "resnet50": ("resnet50", {}, (3, 224, 224)),
    "mobilenet_v2": ("mobilenet_v2", {}, (3, 224, 224)),
    "googlenet": ("googlenet", {"aux_logits": False, "init_weights": False}, (3, 224, 224)),
    "densenet121": ("densenet121", {}, (3, 224, 224)),
    "squeezenet1_0": ("squeezenet1_0", {}, (3, 224, 224)),
    "efficientnet_b0": ("efficientnet_b0", {}, (3, 224, 224)),
    "inception_v3": ("inception_v3", {"aux_logits": False, "init_weights": False}, (3, 299, 299)),
    "swin_t": ("swin_t", {}, (3, 224, 224)),
    "swin_s": ("swin_s", {}, (3, 224, 224)),
    "swin_b": ("swin_b", {}, (3, 224, 224)),
    "swin_v2_t": ("swin_v2_t", {}, (3, 256, 256)),  # Swin_V2_*_Weights: crop_size 256
    "swin_v2_s": ("swin_v2_s", {}, (3, 256, 256)),
    "swin_v2_b": ("swin_v2_b", {}, (3, 256, 256)),
    "maxvit_t": ("maxvit_t", {}, (3, 224, 224)),  # MaxVit_T_Weights: crop_size 224
    "vgg11": ("vgg11", {}, (3, 224, 224)),
    "vgg11_bn": ("vgg11_bn", {}, (3, 224, 224)),
    "vgg13": ("vgg13", {}, (3, 224, 224)),
    "vgg13_bn": ("vgg13_bn", {}, (3, 224, 224)),
    "vgg16_bn": ("vgg16_bn", {}, (3, 224, 224)),
    "vgg19": ("vgg19", {}, (3, 224, 224)),
    "vgg19_bn": ("vgg19_bn", {}, (3, 224, 224)),
    "resnet34": ("resnet34", {}, (3, 224, 224)),
    "resnet101": ("resnet101", {}, (3, 224, 224)),
    "resnet152": ("resnet152", {}, (3, 224, 224)),
    "resnext50_32x4d": ("resnext50_32x4d", {}, (3, 224, 224)),
    "resnext101_32x8d": ("resnext101_32x8d", {}, (3, 224, 224)),
    "resnext101_64x4d": ("resnext101_64x4d", {}, (3, 224, 224)),
    "wide_resnet50_2": ("wide_resnet50_2", {}, (3, 224, 224)),
    "wide_resnet101_2": ("wide_resnet101_2", {}, (3, 224, 224)),
    "densenet161": ("densenet161", {}, (3, 224, 224)),
    "densenet169": ("densenet169", {}, (3, 224, 224)),
    "densenet201": ("densenet201", {}, (3, 224, 224)),
    "squeezenet1_1": ("squeezenet1_1", {}, (3, 224, 224)),
    # segmentation: the `out` output of models built without weights, so without the auxiliary
    # classifier (aux_loss off) and without the ImageNet backbone weights (weights_backbone=None)
    **{
        name: (f"segmentation.{name}", {"weights_backbone": None}, (3, 520, 520))
        for name in (
            "fcn_resnet50",
            "fcn_resnet101",
            "deeplabv3_resnet50",
            "deeplabv3_resnet101",
            "deeplabv3_mobilenet_v3_large",
            "lraspp_mobilenet_v3_large",
        )
    },
    "vit_b_16": ("vit_b_16", {}, (3, 224, 224)),
    "vit_b_32": ("vit_b_32", {}, (3, 224, 224)),
    "vit_l_16": ("vit_l_16", {}, (3, 224, 224)),
    "vit_l_32": ("vit_l_32", {}, (3, 224, 224)),
    "vit_h_14": ("vit_h_14", {}, (3, 224, 224)),
    "convnext_tiny": ("convnext_tiny", {}, (3, 224, 224)),
    "convnext_small": ("convnext_small", {}, (3, 224, 224)),
    "convnext_base": ("convnext_base", {}, (3, 224, 224)),
    "convnext_large": ("convnext_large", {}, (3, 224, 224)),
    # the mobile and efficient families at their DEFAULT weights' evaluation crop (zoo/mobile.py)
    "mobilenet_v3_small": ("mobilenet_v3_small", {}, (3, 224, 224)),
    "mobilenet_v3_large": ("mobilenet_v3_large", {}, (3, 224, 224)),
    "mnasnet0_5": ("mnasnet0_5", {}, (3, 224, 224)),
    "mnasnet0_75": ("mnasnet0_75", {}, (3, 224, 224)),
    "mnasnet1_0": ("mnasnet1_0", {}, (3, 224, 224)),
    "mnasnet1_3": ("mnasnet1_3", {}, (3, 224, 224)),
    "efficientnet_b1": ("efficientnet_b1", {}, (3, 240, 240)),
    "efficientnet_b2": ("efficientnet_b2", {}, (3, 288, 288)),
    "efficientnet_b3": ("efficientnet_b3", {}, (3, 300, 300)),
    "efficientnet_b4": ("efficientnet_b4", {}, (3, 380, 380)),
    "efficientnet_b5": ("efficientnet_b5", {}, (3, 456, 456)),
    "efficientnet_b6": ("efficientnet_b6", {}, (3, 528, 528)),
    "efficientnet_b7": ("efficientnet_b7", {}, (3, 600, 600)),
    "efficientnet_v2_s": ("efficientnet_v2_s", {}, (3, 384, 384)),
    "efficientnet_v2_m": ("efficientnet_v2_m", {}, (3, 480, 480)),
    "efficientnet_v2_l": ("efficientnet_v2_l", {}, (3, 480, 480)),
    "regnet_x_400mf": ("regnet_x_400mf", {}, (3, 224, 224)),
    "regnet_x_800mf": ("regnet_x_800mf", {}, (3, 224, 224)),
    "regnet_x_1_6gf": ("regnet_x_1_6gf", {}, (3, 224, 224)),
    "regnet_x_3_2gf": ("regnet_x_3_2gf", {}, (3, 224, 224)),
    "regnet_x_8gf": ("regnet_x_8gf", {}, (3, 224, 224)),
    "regnet_x_16gf": ("regnet_x_16gf", {}, (3, 224, 224)),
    "regnet_x_32gf": ("regnet_x_32gf", {}, (3, 224, 224)),
    "regnet_y_400mf": ("regnet_y_400mf", {}, (3, 224, 224)),
    "regnet_y_800mf": ("regnet_y_800mf", {}, (3, 224, 224)),
    "regnet_y_1_6gf": ("regnet_y_1_6gf", {}, (3, 224, 224)),
    "regnet_y_3_2gf": ("regnet_y_3_2gf", {}, (3, 224, 224)),
    "regnet_y_8gf": ("regnet_y_8gf", {}, (3, 224, 224)),
    "regnet_y_16gf": ("regnet_y_16gf", {}, (3, 224, 224)),
    "regnet_y_32gf": ("regnet_y_32gf", {}, (3, 224, 224)),
    "regnet_y_128gf": ("regnet_y_128gf", {}, (3, 384, 384)),
}


def _nd(prefix: str, kind: str) -> dict[str, str]:
    return {f"{prefix}{n}d": kind for n in (1, 2, 3)}


# torch class name -> convcalc spec type
TORCH_KINDS: dict[str, str] = {
    **_nd("Conv", "conv"),
    **_nd("ConvTranspose", "conv_transpose"),
    **_nd("MaxPool", "maxpool"),
    **_nd("AvgPool", "avgpool"),
    **_nd("AdaptiveAvgPool", "adaptive_avgpool"),
    **_nd("AdaptiveMaxPool", "adaptive_maxpool"),
    **_nd("BatchNorm", "batchnorm"),
    **_nd("InstanceNorm", "instancenorm"),
    **_nd("ZeroPad", "pad"),
    **_nd("ConstantPad", "pad"),
    **_nd("ReflectionPad", "pad"),
    **_nd("ReplicationPad", "pad"),
    **_nd("CircularPad", "pad"),
    "Dropout": "dropout",
    "Dropout1d": "dropout1d",
    "Dropout2d": "dropout2d",
    "Dropout3d": "dropout3d",
    "Linear": "linear",
    "Flatten": "flatten",
    "ReLU": "relu",
    "ReLU6": "relu6",
    "SiLU": "silu",
    "Sigmoid": "sigmoid",
    "Hardswish": "hardswish",
    "Hardtanh": "hardtanh",
    "Hardsigmoid": "hardsigmoid",
    "GELU": "gelu",
    "Tanh": "tanh",
    "ELU": "elu",
    "Softplus": "softplus",
    "LeakyReLU": "leaky_relu",
    "PReLU": "prelu",
    "Mish": "mish",
    "Softmax": "softmax",
    "LogSoftmax": "log_softmax",
    "Identity": "identity",
    "StochasticDepth": "stochastic_depth",
    "LocalResponseNorm": "local_response_norm",
    "GroupNorm": "groupnorm",
    "LayerNorm": "layernorm",
    "ChannelShuffle": "channel_shuffle",
    "PixelShuffle": "pixel_shuffle",
    "PixelUnshuffle": "pixel_unshuffle",
    "Unfold": "unfold",
    "Fold": "fold",
    **_nd("MaxUnpool", "max_unpool"),
    "Upsample": "upsample",
    "UpsamplingNearest2d": "upsample",
    "UpsamplingBilinear2d": "upsample",
    "Permute": "permute",  # torchvision.ops.misc.Permute
    "LayerNorm2d": "layernorm2d",  # torchvision.models.convnext.LayerNorm2d
    "MultiheadAttention": "multihead_attention",
    # torchvision.models.swin_transformer
    "ShiftedWindowAttention": "shifted_window_attention",
    "ShiftedWindowAttentionV2": "shifted_window_attention_v2",
    "PatchMerging": "patch_merging",
    "PatchMergingV2": "patch_merging_v2",
    # torchvision.models.maxvit (its SwapAxes(-2, -3) swaps the two middle axes of [G, P, C])
    "WindowPartition": "window_partition",
    "WindowDepartition": "window_departition",
    "SwapAxes": "permute",
    "RelativePositionalMultiHeadAttention": "relative_position_attention",
}

# torch classes recorded as one leaf (all their parameters, children's included) although they
# have children: their forward uses the children's tensors in function calls, never running them
# (nn.MultiheadAttention's out_proj)
ATOMIC: set[str] = {"MultiheadAttention"}
# Swin's attention calls F.linear with its qkv and proj weights; its patch merging pads and
# regroups the input before running its norm and reduction
ATOMIC |= {"ShiftedWindowAttention", "ShiftedWindowAttentionV2", "PatchMerging", "PatchMergingV2"}
# MaxViT's attention holds its relative position bias table itself, beside its two Linears
ATOMIC |= {"RelativePositionalMultiHeadAttention"}


@dataclass(frozen=True)
class Owned:
    """Where a module's forward applies a parameter it holds directly: just before (``pre``) or
    just after (``post``) its child ``child`` runs, or the owner itself when ``child`` is empty.
    The leaf's output shape is the tensor's there: the child's input (pre) or output (post)."""

    kind: str  # the convcalc spec type of the parameter's leaf
    at: str  # "pre" or "post"
    child: str = ""


# (torch class, parameter name) -> the spec leaf of a parameter held by a module with children
OWNED_PARAMETERS: dict[tuple[str, str], Owned] = {
    # torch.cat([class_token, x]) just before self.encoder(x)
    ("VisionTransformer", "class_token"): Owned("class_token", "pre", "encoder"),
    # input + self.pos_embedding, first thing in Encoder.forward
    ("Encoder", "pos_embedding"): Owned("position_embedding", "pre"),
    # self.layer_scale * self.block(input), then stochastic depth
    ("CNBlock", "layer_scale"): Owned("layer_scale", "post", "block"),
}

# stop comparing after this many messages: one misalignment makes every later leaf differ
MAX_MESSAGES = 12


@dataclass(frozen=True)
class Leaf:
    """One call of one torch leaf module."""

    kind: str  # the convcalc spec type
    torch_class: str
    output_shape: tuple[int, ...]  # without the batch dimension
    params: int  # the module's own parameters, each tensor once; buffers excluded
    name: str = ""  # qualified name from model.named_modules()


class SpecLayer(Protocol):
    """What ``match`` reads from a report leaf's spec layer."""

    @property
    def functional(self) -> bool: ...


class SpecLeaf(Protocol):
    """What ``match`` reads from a convcalc report leaf."""

    @property
    def type(self) -> str: ...
    @property
    def layer(self) -> SpecLayer: ...
    @property
    def path(self) -> Any: ...
    @property
    def output_shape(self) -> Sequence[int]: ...
    @property
    def params(self) -> int: ...


class _NumpyPlaceholder(types.ModuleType):
    """Stands in for numpy while torchvision imports, where numpy is not installed.

    torchvision imports numpy at module level (datasets, transforms, utils) but its model code
    never calls it; a name looked up here is an empty class, enough for annotations.
    """

    def __getattr__(self, name: str) -> type:
        if name.startswith("__"):
            raise AttributeError(name)
        placeholder = type(name, (), {})
        setattr(self, name, placeholder)
        return placeholder


def import_torchvision() -> types.ModuleType:
    """torchvision's pure-Python model code, or a pytest skip where torch/torchvision are absent.

    torchvision's compiled ops do not load against this CPU torch; an empty
    ``torchvision._meta_registrations`` module keeps torchvision from trying. Where numpy is
    missing (torchvision needs it only outside the model code), a placeholder numpy is present
    during the import alone and removed afterwards, so nothing else sees it.
    """
    pytest.importorskip("torch")
    loaded = sys.modules.get("torchvision")
    if loaded is not None:
        return loaded
    if importlib.util.find_spec("torchvision") is None:
        pytest.skip("torchvision is not installed")
    sys.modules.setdefault(
        "torchvision._meta_registrations", types.ModuleType("torchvision._meta_registrations")
    )
    placeholder = None
    if importlib.util.find_spec("numpy") is None:
        # torchvision pulls in torch._dynamo, whose import probes numpy's spec: import it first
        importlib.import_module("torch._dynamo")
        placeholder = sys.modules["numpy"] = _NumpyPlaceholder("numpy")
    try:
        return importlib.import_module("torchvision")
    finally:
        if placeholder is not None and sys.modules.get("numpy") is placeholder:
            del sys.modules["numpy"]


def kind_of(module: Any) -> str:
    """The convcalc spec type for a torch module, by class name."""
    name = type(module).__name__
    try:
        return TORCH_KINDS[name]
    except KeyError:
        raise KeyError(
            f"no convcalc spec type is known for torch class {name} "
            f"({type(module).__module__}.{name}); add it to TORCH_KINDS"
        ) from None


def total_params(model: Any) -> int:
    """The model's parameter count as torch reports it (shared tensors once)."""
    return sum(int(p.numel()) for p in model.parameters())


def build_torchvision(spec_name: str) -> tuple[Any, tuple[int, ...]]:
    """The torchvision model for a spec name, built on the meta device, and its input shape."""
    import torch

    torchvision = import_torchvision()
    constructor, kwargs, input_shape = TORCHVISION_MODELS[spec_name]
    builder: Any = torchvision.models
    for part in constructor.split("."):  # "segmentation.fcn_resnet50"
        builder = getattr(builder, part)
    with torch.device("meta"), _regnet_widths_on_the_cpu(torchvision):
        model = builder(weights=None, **kwargs)
    if constructor.startswith("segmentation."):
        model = _segmentation_out(model)
    return model, input_shape


@contextlib.contextmanager
def _regnet_widths_on_the_cpu(torchvision: Any) -> Iterator[None]:
    """RegNet's ``BlockParams.from_init_params`` computes its widths as tensors and reads them
    back (``.tolist()``), which a meta tensor cannot: while a model is built, it runs on the
    CPU (an inner device context wins), and the model's own tensors stay on the meta device."""
    import torch

    params = torchvision.models.regnet.BlockParams
    original = params.__dict__["from_init_params"]

    def on_the_cpu(cls: Any, *args: Any, **kwargs: Any) -> Any:
        with torch.device("cpu"):
            return original.__func__(cls, *args, **kwargs)

    params.from_init_params = classmethod(on_the_cpu)
    try:
        yield
    finally:
        params.from_init_params = original


def _segmentation_out(model: Any) -> Any:
    """A segmentation model returning its ``out`` tensor, not the dict ``{"out": ...}``; the
    wrapper has no parameters and no leaf of its own (its module names gain a ``model.``)."""
    import torch

    class Out(torch.nn.Module):
        def __init__(self, model: Any) -> None:
            super().__init__()
            self.model = model

        def forward(self, x: Any) -> Any:
            return self.model(x)["out"]

    return Out(model)


def torch_leaves(model: Any, input_shape: Sequence[int]) -> list[Leaf]:
    """Every leaf-module call of one forward pass of a batch of one, in execution order.

    The model must live on the meta device (build it under ``with torch.device("meta"):``), so
    the pass computes shapes only. A module called twice is recorded twice.
    """
    return run_model(model, input_shape)[0]


def run_model(model: Any, input_shape: Sequence[int]) -> tuple[list[Leaf], tuple[int, ...]]:
    """``torch_leaves`` and the model's own batch-less output shape, from one forward pass."""
    import torch

    off_meta = [
        name
        for name, tensor in [*model.named_parameters(), *model.named_buffers()]
        if tensor.device.type != "meta"
    ]
    if off_meta:
        raise ValueError(
            f"torch_leaves needs a model on the meta device; {off_meta[0]} is on "
            'another device (build the model under `with torch.device("meta"):`)'
        )
    names = {id(module): name for name, module in model.named_modules()}
    leaves: list[Leaf] = []

    def hook(module: Any, _inputs: Any, output: Any) -> None:
        if type(module).__name__ in ATOMIC and isinstance(output, tuple):
            output = output[0]  # nn.MultiheadAttention: (output, weights or None)
        if not isinstance(output, torch.Tensor):
            raise TypeError(f"{names[id(module)]} ({type(module).__name__}) returned no tensor")
        atomic = type(module).__name__ in ATOMIC
        own = sum(int(p.numel()) for p in module.parameters(recurse=atomic))
        leaves.append(
            Leaf(
                kind=kind_of(module),
                torch_class=type(module).__name__,
                output_shape=tuple(int(n) for n in output.shape[1:]),
                params=own,
                name=names[id(module)],
            )
        )

    handles = []
    for module in leaf_modules(model):
        kind_of(module)  # fail before running on an unknown class
        handles.append(module.register_forward_hook(hook))
    for owner, parameter, owned in _owned_parameters(model):
        handles.append(_hook_owned(owner, parameter, owned, f"{names[id(owner)]}", leaves))
    try:
        model.eval()
        with torch.no_grad():
            output = model(torch.empty((1, *input_shape), device="meta"))
    finally:
        for handle in handles:
            handle.remove()
    return leaves, tuple(int(n) for n in output.shape[1:])


def leaf_modules(model: Any) -> list[Any]:
    """The modules recorded as leaves: those without children, and the ``ATOMIC`` ones (whose
    descendants are then not recorded)."""
    found: list[Any] = []
    seen: set[int] = set()
    stack = [model]
    while stack:
        module = stack.pop()
        if id(module) in seen:
            continue  # a module shared by two parents is hooked once, as model.modules() has it
        seen.add(id(module))
        children = list(module.children())
        if not children and type(module).__name__ == "Sequential":
            continue  # an empty nn.Sequential: no layer (ShuffleNetV2's unused branch1)
        if not children or type(module).__name__ in ATOMIC:
            found.append(module)
        else:
            stack.extend(reversed(children))
    return found


def _owned_parameters(model: Any) -> list[tuple[Any, str, Owned]]:
    """Every parameter held directly by a module that is not a leaf, with its place in the
    owner's forward; a ``KeyError`` for one that ``OWNED_PARAMETERS`` does not know."""
    leaves = {id(module) for module in leaf_modules(model)}
    inside_atomic = {
        id(sub)
        for module in model.modules()
        if type(module).__name__ in ATOMIC
        for sub in module.modules()
    }
    found = []
    for module in model.modules():
        if id(module) in leaves or id(module) in inside_atomic:
            continue
        for parameter, _ in module.named_parameters(recurse=False):
            key = (type(module).__name__, parameter)
            if key not in OWNED_PARAMETERS:
                raise KeyError(
                    f"{type(module).__name__} holds parameter {parameter!r} itself, and "
                    "OWNED_PARAMETERS does not say which spec leaf applies it, nor where; add it"
                )
            found.append((module, parameter, OWNED_PARAMETERS[key]))
    return found


def _hook_owned(owner: Any, parameter: str, owned: Owned, name: str, leaves: list[Leaf]) -> Any:
    """A hook recording the leaf of ``owner``'s ``parameter`` where its forward applies it."""
    target = owner.get_submodule(owned.child) if owned.child else owner
    size = int(getattr(owner, parameter).numel())

    def record(tensor: Any) -> None:
        leaves.append(
            Leaf(
                kind=owned.kind,
                torch_class=f"{type(owner).__name__}.{parameter}",
                output_shape=tuple(int(n) for n in tensor.shape[1:]),
                params=size,
                name=f"{name}.{parameter}" if name else parameter,
            )
        )

    if owned.at == "pre":
        return target.register_forward_pre_hook(lambda _module, inputs: record(inputs[0]))
    return target.register_forward_hook(lambda _module, _inputs, output: record(output))


def _describe_spec(leaf: SpecLeaf) -> str:
    return (
        f"spec {leaf.path} ({leaf.type}, output {tuple(leaf.output_shape)}, {leaf.params} params)"
    )


def _describe_torch(index: int, leaf: Leaf) -> str:
    where = f" {leaf.name}" if leaf.name else ""
    return (
        f"torch leaf #{index}{where} ({leaf.torch_class} → {leaf.kind}, "
        f"output {leaf.output_shape}, {leaf.params} params)"
    )


def _functional(leaf: SpecLeaf) -> bool:
    """Whether the spec marks the leaf as a function call (``functional: true``): no module."""
    return bool(leaf.layer.functional)


def _unmarked_hint(leaf: SpecLeaf) -> str:
    return (
        f" (if the model calls {leaf.path} as a function, mark it `functional: true`; "
        "otherwise the spec and the model differ here)"
    )


def match(spec_leaves: Sequence[SpecLeaf], torch_leaves: Sequence[Leaf]) -> list[str]:
    """Mismatch messages between spec leaves and torch leaves (empty: they agree).

    The spec leaves marked ``functional: true`` (the model calls them as functions) are passed
    over: none may pair with a torch leaf. Each torch leaf pairs with the next spec leaf *not* so
    marked, which must be of the same kind and agree on output shape and parameters. A same-kind
    pair that disagrees is reported and the walk goes on; a torch leaf whose next unmarked spec
    leaf is of another kind, or that has none left, ends the walk. Spec leaves left at the end
    must all be marked functional.
    """
    messages: list[str] = []
    position = 0
    for index, tleaf in enumerate(torch_leaves):
        if len(messages) >= MAX_MESSAGES:
            messages.append(f"... comparison stopped after {MAX_MESSAGES} mismatches")
            return messages
        scan = position
        while scan < len(spec_leaves) and _functional(spec_leaves[scan]):
            scan += 1
        # a leaf marked functional that torch ran as a module is the likeliest culprit
        marked = [leaf for leaf in spec_leaves[position:scan] if leaf.type == tleaf.kind]
        hint = (
            f"; {_describe_spec(marked[0])} is marked `functional: true`, but torch ran a module"
            " for it"
            if marked
            else ""
        )
        if scan == len(spec_leaves):
            rest = len(torch_leaves) - index
            messages.append(
                f"{_describe_torch(index, tleaf)} has no counterpart: the spec has no leaf left "
                f"that is not marked functional ({rest} torch leaves unmatched){hint}"
            )
            return messages
        candidate = spec_leaves[scan]
        if candidate.type != tleaf.kind:
            messages.append(
                f"{_describe_torch(index, tleaf)} has no counterpart: the next spec leaf not "
                f"marked functional is {_describe_spec(candidate)}"
                f"{hint or _unmarked_hint(candidate)}; comparison stopped"
            )
            return messages
        problems = []
        if tuple(candidate.output_shape) != tleaf.output_shape:
            problems.append(
                f"output {tuple(candidate.output_shape)} in the spec, {tleaf.output_shape} in torch"
            )
        if candidate.params != tleaf.params:
            problems.append(f"{candidate.params} params in the spec, {tleaf.params} in torch")
        if problems:
            messages.append(
                f"spec {candidate.path} ({candidate.type}) vs torch leaf #{index} "
                f"{tleaf.name} ({tleaf.torch_class}): " + "; ".join(problems)
            )
        position = scan + 1
    for leaf in spec_leaves[position:]:
        if not _functional(leaf):
            messages.append(
                f"{_describe_spec(leaf)} is left over after the last torch leaf"
                + _unmarked_hint(leaf)
            )
            if len(messages) >= MAX_MESSAGES:
                messages.append(f"... comparison stopped after {MAX_MESSAGES} mismatches")
                break
    return messages


def format_leaves(leaves: Sequence[Leaf]) -> str:
    """One line per leaf: index, torch class, spec type, output shape, params, qualified name."""
    return "\n".join(
        f"{i:4d}  {leaf.torch_class:<18} {leaf.kind:<17} {leaf.output_shape!s:<18} "
        f"{leaf.params:>10}  {leaf.name}"
        for i, leaf in enumerate(leaves)
    )
