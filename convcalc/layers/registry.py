"""Every layer type and its facts, in one table that every command reads.

The table is plain data (it imports nothing), so that ``convcalc solve`` and ``--help`` can ask
which layers are solvable without loading pydantic. The classes themselves are looked up by name
when a spec uses them (:func:`layer_class`).

Adding a layer type: the checklist in docs/architecture.md ("Adding a layer type").
"""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib import import_module
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from convcalc.layers.base import Layer
    from convcalc.layers.blocks import Block


CATEGORIES = (
    "conv",
    "pool",
    "norm",
    "activation",
    "linear",
    "attention",
    "token",
    "reshape",
    "dropout",
    "block",
)


@dataclass(frozen=True)
class Kind:
    """The facts of one layer type.

    ``cls``: its class name; ``torch``: PyTorch's class (``{n}`` is the number of spatial
    dimensions), empty where PyTorch has no module; ``category``: what sort of layer it is, one
    of :data:`CATEGORIES` (the diagrams colour by it, lint reads its norms and activations);
    ``family``: the module of ``convcalc.layers`` its class is in, where that is not its
    category's (a network's own pieces kept together: ``windowed`` for Swin's, ``maxvit``);
    ``solvable``: ``convcalc solve --layer`` accepts it; ``centres``: a norm subtracting each
    channel's own mean, so that a per-channel bias just before it cancels (batch and instance
    norm; group and layer norm subtract means shared by several channels); ``dims_apart``: it
    treats every spatial dimension alike and on its own, so that whether a size is valid in one
    dimension does not depend on the others (the input-size solver's shortcut relies on it).
    """

    cls: str
    torch: str = ""
    category: str = field(kw_only=True)
    family: str = field(default="", kw_only=True)
    solvable: bool = False
    centres: bool = False
    dims_apart: bool = True

    def __post_init__(self) -> None:
        if self.category not in CATEGORIES:
            raise ValueError(f"{self.cls}: category {self.category!r} is not one of {CATEGORIES}")

    @property
    def pool(self) -> bool:
        """A pooling layer: stride defaults to the kernel, padding at most half of it."""
        return self.category == "pool"

    @property
    def block(self) -> bool:
        """A composite holding lists of layers."""
        return self.category == "block"

    @property
    def module(self) -> str:
        """The module of its class: its family's, else its category's (blocks: ``blocks``)."""
        return f"convcalc.layers.{self.family or ('blocks' if self.block else self.category)}"


KINDS: dict[str, Kind] = {
    "conv": Kind("Conv", "Conv{n}d", category="conv", solvable=True),
    "conv_transpose": Kind("ConvTranspose", "ConvTranspose{n}d", category="conv", solvable=True),
    "maxpool": Kind("MaxPool", "MaxPool{n}d", category="pool", solvable=True),
    "avgpool": Kind("AvgPool", "AvgPool{n}d", category="pool", solvable=True),
    "max_unpool": Kind("MaxUnpool", "MaxUnpool{n}d", category="pool"),
    "adaptive_avgpool": Kind("AdaptiveAvgPool", "AdaptiveAvgPool{n}d", category="pool"),
    "adaptive_maxpool": Kind("AdaptiveMaxPool", "AdaptiveMaxPool{n}d", category="pool"),
    "batchnorm": Kind("BatchNorm", "BatchNorm{n}d", category="norm", centres=True),
    "groupnorm": Kind("GroupNorm", "GroupNorm", category="norm"),
    "instancenorm": Kind(
        "InstanceNorm", "InstanceNorm{n}d", category="norm", centres=True, dims_apart=False
    ),
    "layernorm": Kind("LayerNorm", "LayerNorm", category="norm", dims_apart=False),
    "layernorm2d": Kind("LayerNorm2d", category="norm"),  # over C alone: H, W kept apart
    "local_response_norm": Kind("LocalResponseNorm", "LocalResponseNorm", category="norm"),
    "linear": Kind("Linear", "Linear", category="linear", dims_apart=False),
    "multihead_attention": Kind(
        "MultiheadAttention", "MultiheadAttention", category="attention", dims_apart=False
    ),
    "class_token": Kind("ClassToken", category="token", dims_apart=False),
    "position_embedding": Kind("PositionEmbedding", category="token", dims_apart=False),
    "select": Kind("Select", category="token", dims_apart=False),
    "layer_scale": Kind("LayerScale", category="token"),
    # torchvision's Swin Transformer (convcalc.layers.windowed), channels-last [H, W, C]
    "shifted_window_attention": Kind(
        "ShiftedWindowAttention", category="attention", family="windowed", dims_apart=False
    ),
    "shifted_window_attention_v2": Kind(
        "ShiftedWindowAttentionV2", category="attention", family="windowed", dims_apart=False
    ),
    "patch_merging": Kind("PatchMerging", category="linear", family="windowed", dims_apart=False),
    "patch_merging_v2": Kind(
        "PatchMergingV2", category="linear", family="windowed", dims_apart=False
    ),
    # torchvision's MaxViT (convcalc.layers.maxvit): partitions [C, H, W] ↔ [G, P·P, C]
    "window_partition": Kind(
        "WindowPartition", category="reshape", family="maxvit", dims_apart=False
    ),
    "window_departition": Kind(
        "WindowDepartition", category="reshape", family="maxvit", dims_apart=False
    ),
    "relative_position_attention": Kind(
        "RelativePositionAttention", category="attention", family="maxvit", dims_apart=False
    ),
    "flatten": Kind("Flatten", "Flatten", category="reshape", dims_apart=False),
    "unflatten": Kind("Unflatten", "Unflatten", category="reshape", dims_apart=False),
    "reshape": Kind("Reshape", category="reshape", dims_apart=False),
    "permute": Kind("Permute", category="reshape", dims_apart=False),
    "embedding": Kind("Embedding", "Embedding", category="linear", dims_apart=False),
    "channel_shuffle": Kind("ChannelShuffle", "ChannelShuffle", category="reshape"),
    "pixel_shuffle": Kind("PixelShuffle", "PixelShuffle", category="reshape", dims_apart=False),
    "pixel_unshuffle": Kind(
        "PixelUnshuffle", "PixelUnshuffle", category="reshape", dims_apart=False
    ),
    "unfold": Kind("Unfold", "Unfold", category="reshape", dims_apart=False),
    "fold": Kind("Fold", "Fold", category="reshape", dims_apart=False),
    "select_channels": Kind("SelectChannels", category="reshape"),
    "pad": Kind("Pad", "ConstantPad{n}d", category="reshape", dims_apart=False),
    "upsample": Kind("Upsample", "Upsample", category="reshape"),
    "dropout": Kind("Dropout", "Dropout", category="dropout"),
    "dropout1d": Kind("Dropout1d", "Dropout1d", category="dropout"),
    "dropout2d": Kind("Dropout2d", "Dropout2d", category="dropout"),
    "dropout3d": Kind("Dropout3d", "Dropout3d", category="dropout"),
    "stochastic_depth": Kind("StochasticDepth", category="dropout"),
    "relu": Kind("ReLU", "ReLU", category="activation"),
    "relu6": Kind("ReLU6", "ReLU6", category="activation"),
    "prelu": Kind("PReLU", "PReLU", category="activation"),
    "leaky_relu": Kind("LeakyReLU", "LeakyReLU", category="activation"),
    "elu": Kind("ELU", "ELU", category="activation"),
    "gelu": Kind("GELU", "GELU", category="activation"),
    "silu": Kind("SiLU", "SiLU", category="activation"),
    "mish": Kind("Mish", "Mish", category="activation"),
    "hardtanh": Kind("Hardtanh", "Hardtanh", category="activation"),
    "hardswish": Kind("Hardswish", "Hardswish", category="activation"),
    "hardsigmoid": Kind("Hardsigmoid", "Hardsigmoid", category="activation"),
    "sigmoid": Kind("Sigmoid", "Sigmoid", category="activation"),
    "tanh": Kind("Tanh", "Tanh", category="activation"),
    "softplus": Kind("Softplus", "Softplus", category="activation"),
    "softmax": Kind("Softmax", "Softmax", category="activation"),
    "log_softmax": Kind("LogSoftmax", "LogSoftmax", category="activation"),
    "identity": Kind("Identity", "Identity", category="reshape"),
    "sequential": Kind("Sequential", "Sequential", category="block"),
    "repeat": Kind("Repeat", category="block"),
    "residual": Kind("Residual", category="block"),
    "concat": Kind("Concat", category="block"),
    "split": Kind("Split", category="block"),
    "scale": Kind("Scale", category="block"),
    "graph": Kind("Graph", category="block"),
}

SOLVABLE = tuple(name for name, kind in KINDS.items() if kind.solvable)


def layer_class(name: str) -> type[Layer]:
    """The class of the layer type ``name`` (a key of :data:`KINDS`)."""
    kind = KINDS[name]
    cls: type[Layer] = getattr(import_module(kind.module), kind.cls)
    return cls


def block_class(name: str) -> type[Block] | None:
    """The class of a composite type (its ``LISTS`` name its lists of layers), None otherwise."""
    kind = KINDS.get(name)
    if kind is None or not kind.block:
        return None
    cls: type[Block] = getattr(import_module(kind.module), kind.cls)
    return cls
