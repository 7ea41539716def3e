"""Test-side oracle: a convcalc spec against a real PyTorch model, leaf module by leaf module.

Nothing here is a test. ``torch_leaves`` runs a model once on the meta device with a forward
hook on every leaf module (a module with no children) and records, in execution order, the
spec type each module corresponds to, its batch-less output shape and its own parameter count.
``match`` walks those records alongside convcalc's report leaves. torchvision calls some
operations as functions (``torch.flatten`` in ResNet, ``F.relu`` in GoogLeNet's BasicConv2d,
``F.avg_pool2d`` in Inception3), which leave no module behind; the spec marks those leaves
``functional: true``. A spec leaf is skipped if and only if it is so marked: a marked leaf may
never pair with a torch module, an unmarked one must pair, and a torch leaf is never skipped.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import types
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import pytest

__all__ = [
    "TORCHVISION_MODELS",
    "TORCH_KINDS",
    "Leaf",
    "SpecLayer",
    "SpecLeaf",
    "build_torchvision",
    "format_leaves",
    "import_torchvision",
    "kind_of",
    "match",
    "run_model",
    "torch_leaves",
    "total_params",
]

# spec name -> (torchvision constructor, keyword arguments besides weights=None, input shape)
TORCHVISION_MODELS: dict[str, tuple[str, dict[str, Any], tuple[int, ...]]] = {
    "resnet18": ("resnet18", {}, (3, 224, 224)),
    "resnet50": ("resnet50", {}, (3, 224, 224)),
    "mobilenet_v2": ("mobilenet_v2", {}, (3, 224, 224)),
    "googlenet": ("googlenet", {"aux_logits": False, "init_weights": False}, (3, 224, 224)),
    "densenet121": ("densenet121", {}, (3, 224, 224)),
    "squeezenet1_0": ("squeezenet1_0", {}, (3, 224, 224)),
    "efficientnet_b0": ("efficientnet_b0", {}, (3, 224, 224)),
    "inception_v3": ("inception_v3", {"aux_logits": False, "init_weights": False}, (3, 299, 299)),
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
    "Upsample": "upsample",
    "UpsamplingNearest2d": "upsample",
    "UpsamplingBilinear2d": "upsample",
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
    with torch.device("meta"):
        model = getattr(torchvision.models, constructor)(weights=None, **kwargs)
    return model, input_shape


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
        if not isinstance(output, torch.Tensor):
            raise TypeError(f"{names[id(module)]} ({type(module).__name__}) returned no tensor")
        own = sum(int(p.numel()) for p in module.parameters(recurse=False))
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
    for module in model.modules():
        if next(iter(module.children()), None) is None:
            kind_of(module)  # fail before running on an unknown class
            handles.append(module.register_forward_hook(hook))
    try:
        model.eval()
        with torch.no_grad():
            output = model(torch.empty((1, *input_shape), device="meta"))
    finally:
        for handle in handles:
            handle.remove()
    return leaves, tuple(int(n) for n in output.shape[1:])


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
