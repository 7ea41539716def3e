"""Every layer type and its facts, in one table that every command reads.

The table is plain data (it imports nothing), so that ``convcalc solve`` and ``--help`` can ask
which layers are solvable without loading pydantic. The classes themselves are looked up by name
when a spec uses them (:func:`layer_class`).

Adding a layer type: its class in :mod:`convcalc.spec.layers` (or ``blocks``) and one row here.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import import_module
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from convcalc.spec.blocks import Block
    from convcalc.spec.layers import Layer


@dataclass(frozen=True)
class Kind:
    """The facts of one layer type.

    ``cls``: its class name; ``torch``: PyTorch's class (``{n}`` is the number of spatial
    dimensions), empty where PyTorch has no module; ``solvable``: ``convcalc solve --layer``
    accepts it; ``pool``: a pooling layer (stride defaults to the kernel, padding at most half
    of it); ``block``: a composite holding lists of layers; ``dims_apart``: it treats every
    spatial dimension alike and on its own, so that whether a size is valid in one dimension
    does not depend on the others (the input-size solver's shortcut relies on it).
    """

    cls: str
    torch: str = ""
    solvable: bool = False
    pool: bool = False
    block: bool = False
    dims_apart: bool = True

    @property
    def module(self) -> str:
        return "convcalc.spec.blocks" if self.block else "convcalc.spec.layers"


KINDS: dict[str, Kind] = {
    "conv": Kind("Conv", "Conv{n}d", solvable=True),
    "conv_transpose": Kind("ConvTranspose", "ConvTranspose{n}d", solvable=True),
    "maxpool": Kind("MaxPool", "MaxPool{n}d", solvable=True, pool=True),
    "avgpool": Kind("AvgPool", "AvgPool{n}d", solvable=True, pool=True),
    "adaptive_avgpool": Kind("AdaptiveAvgPool", "AdaptiveAvgPool{n}d", pool=True),
    "adaptive_maxpool": Kind("AdaptiveMaxPool", "AdaptiveMaxPool{n}d", pool=True),
    "batchnorm": Kind("BatchNorm", "BatchNorm{n}d"),
    "groupnorm": Kind("GroupNorm", "GroupNorm"),
    "instancenorm": Kind("InstanceNorm", "InstanceNorm{n}d", dims_apart=False),
    "layernorm": Kind("LayerNorm", "LayerNorm", dims_apart=False),
    "local_response_norm": Kind("LocalResponseNorm", "LocalResponseNorm"),
    "linear": Kind("Linear", "Linear", dims_apart=False),
    "flatten": Kind("Flatten", "Flatten", dims_apart=False),
    "unflatten": Kind("Unflatten", "Unflatten", dims_apart=False),
    "reshape": Kind("Reshape", dims_apart=False),
    "permute": Kind("Permute", dims_apart=False),
    "embedding": Kind("Embedding", "Embedding", dims_apart=False),
    "channel_shuffle": Kind("ChannelShuffle", "ChannelShuffle"),
    "pad": Kind("Pad", "ConstantPad{n}d", dims_apart=False),
    "upsample": Kind("Upsample", "Upsample"),
    "dropout": Kind("Dropout", "Dropout"),
    "dropout1d": Kind("Dropout1d", "Dropout1d"),
    "dropout2d": Kind("Dropout2d", "Dropout2d"),
    "dropout3d": Kind("Dropout3d", "Dropout3d"),
    "stochastic_depth": Kind("StochasticDepth"),
    "relu": Kind("ReLU", "ReLU"),
    "relu6": Kind("ReLU6", "ReLU6"),
    "prelu": Kind("PReLU", "PReLU"),
    "leaky_relu": Kind("LeakyReLU", "LeakyReLU"),
    "elu": Kind("ELU", "ELU"),
    "gelu": Kind("GELU", "GELU"),
    "silu": Kind("SiLU", "SiLU"),
    "mish": Kind("Mish", "Mish"),
    "hardswish": Kind("Hardswish", "Hardswish"),
    "hardsigmoid": Kind("Hardsigmoid", "Hardsigmoid"),
    "sigmoid": Kind("Sigmoid", "Sigmoid"),
    "tanh": Kind("Tanh", "Tanh"),
    "softplus": Kind("Softplus", "Softplus"),
    "softmax": Kind("Softmax", "Softmax"),
    "log_softmax": Kind("LogSoftmax", "LogSoftmax"),
    "identity": Kind("Identity", "Identity"),
    "sequential": Kind("Sequential", "Sequential", block=True),
    "repeat": Kind("Repeat", block=True),
    "residual": Kind("Residual", block=True),
    "concat": Kind("Concat", block=True),
    "scale": Kind("Scale", block=True),
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
