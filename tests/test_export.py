"""The PyTorch export against PyTorch itself: every exported network, run, is the one convcalc
analysed.

Each test exports a report, writes the source to a file, imports it, builds the module and
runs one batch of zeros in eval mode with a forward hook on every leaf module (a module with no
children that is not an empty ``nn.Sequential``, the identity). In execution order, each leaf's
kind, output shape (without the batch) and own parameter count must equal those of convcalc's
report leaves, and the totals and the output shape the report's. The numbers on the PyTorch
side come from PyTorch alone. Shapes and counts say nothing of the arguments that change only
values (Softplus' beta, a norm's eps, LeakyReLU's slope), so every leaf module must also keep
each argument the spec wrote, read back from its attributes, and PyTorch's default for every
one it left out: :data:`ARGUMENTS`, a table written here, says where each field goes.

The bundled specs (but five-stages, which has unknowns) and random specs are checked so: random
stacks and blocks drawn as test_torch_shapes.py and test_torch_blocks.py draw them, and random
chains of every leaf type with non-default arguments, run on the CPU and on the meta device.
The big zoo networks run on the meta device (shapes without the arithmetic). Every generated
file must pass the project's ``ruff check`` and ``ruff format --check``.
"""

from __future__ import annotations

import ast
import builtins
import dataclasses
import importlib.util
import inspect
import itertools
import math
import os
import runpy
import shutil
import subprocess
import sys
import unicodedata
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import assume, example, given, settings
from hypothesis import strategies as st

from convcalc.analysis import Report, analyse
from convcalc.errors import ConvcalcError, SpecError
from convcalc.frameworks.torch.export import (
    CONVERTED,
    LEAVES,
    SEQUENTIAL_ATTRIBUTES,
    ExportError,
    class_name_of,
    to_pytorch,
)
from convcalc.layers.registry import KINDS, layer_class
from convcalc.spec.validate import load_spec
from tests.budget import examples, spec_params
from tests.test_torch_blocks import BLOCKS, nest
from tests.test_torch_blocks import specs as block_specs
from tests.test_torch_layers import maybe, pad_layers, shapes, upsample_layers
from tests.test_torch_shapes import dims, stacks
from tests.torchvision_oracle import TORCH_KINDS, import_torchvision

torch = pytest.importorskip("torch")
nn = torch.nn

pytestmark = pytest.mark.torch

LONG = pytest.mark.full  # long: only the full run (CI, pytest --full) takes it

ROOT = Path(__file__).resolve().parent.parent
SPECS = sorted(
    path
    for path in (ROOT / "specs").glob("*.yaml")
    if path.stem not in ("five-stages", "hw3-q3-keras") and not path.stem.startswith("keras_")
)
# run on the meta device: on the CPU each takes seconds (U-Net at 512² most of all)
BIG = {"resnet50", "vgg16", "inception_v3", "densenet121", "unet"}
BIG |= {"swin_t", "swin_s", "swin_b", "swin_v2_t", "swin_v2_s", "swin_v2_b"}
BIG |= {"maxvit_t"}
# the mobile and efficient families' heavier members (zoo/mobile.py), 3 GMACs or more each
BIG |= {f"efficientnet_b{n}" for n in range(4, 8)} | {"efficientnet_v2_s", "efficientnet_v2_m"}
BIG |= {"efficientnet_v2_l", "regnet_y_128gf"}
BIG |= {f"regnet_{xy}_{size}" for xy in "xy" for size in ("3_2gf", "8gf", "16gf", "32gf")}
# the classic families and the segmentation models (zoo/cnn.py), all 3.6 GFLOPs or more at
# their sizes but squeezenet1_1
BIG |= {f"vgg{n}{bn}" for n in (11, 13, 16, 19) for bn in ("", "_bn")}
BIG |= {"resnet34", "resnet101", "resnet152", "resnext50_32x4d", "resnext101_32x8d"}
BIG |= {"resnext101_64x4d", "wide_resnet50_2", "wide_resnet101_2"}
BIG |= {"densenet161", "densenet169", "densenet201", "fcn_resnet50", "fcn_resnet101"}
BIG |= {"deeplabv3_resnet50", "deeplabv3_resnet101", "deeplabv3_mobilenet_v3_large"}
BIG |= {"lraspp_mobilenet_v3_large"}
# the vision transformers and ConvNeXts (zoo/transformers.py), 4.4 GFLOPs and more
BIG |= {"vit_b_16", "vit_b_32", "vit_l_16", "vit_l_32", "vit_h_14"}
BIG |= {"convnext_tiny", "convnext_small", "convnext_base", "convnext_large"}
# torch class -> spec type, for the classes the export writes besides torchvision's
KIND_OF = {
    **TORCH_KINDS,
    "SelfAttention": "multihead_attention",  # the file's nn.MultiheadAttention, called (x, x, x)
    "ClassToken": "class_token",
    "PositionEmbedding": "position_embedding",
    "Select": "select",
    "LayerScale": "layer_scale",
    "Unflatten": "unflatten",
    "Embedding": "embedding",
    "Reshape": "reshape",
    "Permute": "permute",
    "SelectChannels": "select_channels",
}

Layer = dict[str, Any]
Record = tuple[str, tuple[int, ...], int]  # spec type, output shape, own parameters


# --- the PyTorch side ---------------------------------------------------------------------


def import_file(source: str, path: Path) -> Any:
    """``source`` written to ``path`` and imported as a module."""
    path.write_text(source, encoding="utf-8")
    spec = importlib.util.spec_from_file_location(path.stem, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class Generated:
    """An exported file, imported: its source, path, module and class."""

    _count = itertools.count()

    def __init__(self, report: Report, folder: Path, class_name: str | None = None) -> None:
        self.report = report
        self.source = to_pytorch(report, class_name)
        self.path = folder / f"exported_{next(self._count)}.py"
        self.module = import_file(self.source, self.path)
        self.class_name = class_name or class_name_of(report.name)

    def build(self, device: str = "cpu") -> Any:
        with torch.device(device):
            return getattr(self.module, self.class_name)().eval()


# the file's classes that hold a module they call in their own way: one leaf each
WHOLE = frozenset({"SelfAttention", "RelativePositionalMultiHeadAttention"})


def leaf_modules(model: Any) -> list[Any]:
    """Modules with no children, but for empty nn.Sequential (an identity: no leaf of the spec),
    and the WHOLE ones, with nothing inside them."""
    inside = {
        id(sub)
        for module in model.modules()
        if type(module).__name__ in WHOLE
        for sub in module.modules()
        if sub is not module
    }
    return [
        module
        for module in model.modules()
        if id(module) not in inside
        and (type(module).__name__ in WHOLE or next(module.children(), None) is None)
        and not isinstance(module, nn.Sequential)
    ]


def run(model: Any, report: Report, device: str = "cpu", batch: int = 1) -> list[Record]:
    """Every leaf module's call, in order, and the output shape as the last record."""
    records: list[Record] = []

    def hook(module: Any, args: Any, output: Any) -> None:
        params = sum(int(p.numel()) for p in module.parameters())
        records.append((KIND_OF[type(module).__name__], tuple(output.shape[1:]), params))

    leaves = list(report.leaves())
    tokens = bool(leaves) and leaves[0].type == "embedding"
    dtype = torch.long if tokens else torch.float32
    handles = [module.register_forward_hook(hook) for module in leaf_modules(model)]
    try:
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # softmax without dim, dropout2d on 1-D, ...
            output = model(torch.zeros(batch, *report.input_shape, dtype=dtype, device=device))
    finally:
        for handle in handles:
            handle.remove()
    assert output.shape[0] == batch
    return [*records, ("output", tuple(output.shape[1:]), 0)]


def expected(report: Report) -> list[Record]:
    leaves = [(e.type, tuple(e.output_shape), e.params) for e in report.leaves()]
    return [*leaves, ("output", tuple(report.output_shape), 0)]


def round_trip(
    report: Report,
    folder: Path,
    devices: tuple[str, ...] = ("cpu",),
    batch: int = 1,
    layers: list[Layer] | None = None,
) -> Generated:
    """Export, import, build and run the report's network; PyTorch must agree with it. Given
    the spec's ``layers`` as written, every module's arguments must be theirs too."""
    generated = Generated(report, folder)
    for device in devices:
        model = generated.build(device)
        assert run(model, report, device, batch) == expected(report), device
        assert sum(int(p.numel()) for p in model.parameters()) == report.total_params
        if layers is not None:
            check_arguments(model, layers, device)
    return generated


# --- every argument, read back from the modules ------------------------------------------------
#
# Shapes and parameter counts say nothing of the arguments that change only values (Softplus'
# beta, a norm's eps and momentum, LeakyReLU's slope, ...). For each spec type, ARGUMENTS says
# how each field the spec may write reaches the module PyTorch builds: which attribute keeps it,
# how the spec's value is PyTorch's argument (dimensions that leave out the batch shifted by
# one, as the spec format's documentation says), and how PyTorch keeps its argument (its own
# rules, copied from torch.nn's source: an int once per dimension in a convolution, a pool's
# stride of None as its kernel, ...). A field the spec leaves out is PyTorch's default: the
# module class's own signature says which.

SIGNATURE = object()  # Arg.default: the default in the module class's signature
UNSEEN = object()  # what a module keeps nowhere (the dtype of a module without tensors)


@dataclasses.dataclass(frozen=True)
class Built:
    """A spec leaf as written, and the module built from it on ``device``."""

    layer: Layer
    module: Any
    device: str

    @property
    def rank(self) -> int:
        """The spatial dimensions the module's class is made for (Conv2d: 2), 0 for none."""
        name = type(self.module).__name__
        return int(name[-2]) if name.endswith("d") and name[-2].isdigit() else 0


def _as_is(value: Any) -> Any:
    return value


def _kept_as_is(value: Any, built: Built) -> Any:
    return value


@dataclasses.dataclass(frozen=True)
class Arg:
    """One spec field: ``read`` from the module (an attribute's name, or a function of the
    Built), ``given`` as PyTorch's argument from the spec's value, ``kept`` as the module keeps
    PyTorch's argument, and PyTorch's ``default`` argument where the spec leaves it out."""

    read: str | Callable[[Built], Any]
    given: Callable[[Any], Any] = _as_is
    kept: Callable[[Any, Built], Any] = _kept_as_is
    default: Any = SIGNATURE

    def actual(self, built: Built) -> Any:
        if isinstance(self.read, str):
            return getattr(built.module, self.read)
        return self.read(built)

    def wanted(self, field: str, built: Built) -> Any:
        if field in built.layer:
            argument = self.given(built.layer[field])
        elif self.default is SIGNATURE:
            argument = torch_default(type(built.module), field)
        else:
            argument = self.default
        return self.kept(argument, built)


def torch_default(cls: type, name: str) -> Any:
    """The default of a constructor argument of a module class, or of the first class it
    derives from that has one (nn.UpsamplingBilinear2d takes no recompute_scale_factor but
    keeps nn.Upsample's)."""
    for base in cls.__mro__:
        parameters = inspect.signature(base).parameters
        if name in parameters:
            return parameters[name].default
    raise KeyError(f"{cls.__name__} has no argument {name}")


def _each_dim(value: Any, built: Built) -> Any:
    """torch's _ntuple: a list or tuple as a tuple, an int once per spatial dimension."""
    return tuple(value) if isinstance(value, list | tuple) else (value,) * built.rank


def _conv_padding(value: Any, built: Built) -> Any:
    return value if isinstance(value, str) else _each_dim(value, built)


def _conv_stride(value: Any) -> Any:
    return 1 if value is None else value  # the spec's `stride: null` is the default


def _pool_stride(value: Any, built: Built) -> Any:
    """A pool keeps its kernel as its stride where the stride is None."""
    return _each_dim(built.layer["kernel_size"] if value is None else value, built)


def _pool_dims(name: str) -> Callable[[Built], Any]:
    """A pool's per-dimension attribute, an int read as one per dimension (MaxPool2d keeps
    what it is given, AvgPool1d a tuple; an adaptive pool's output_size either)."""
    return lambda built: _each_dim(getattr(built.module, name), built)


def _divisor_override(built: Built) -> Any:
    return getattr(built.module, "divisor_override", None)


def _batched(dim: int) -> int:
    """A spec dimension counts without the batch; PyTorch's with it (negative ones alike)."""
    return dim + 1 if dim >= 0 else dim


def _tensor(built: Built) -> Any:
    """The module's first floating-point (or complex) parameter or buffer, None if none."""
    tensors = itertools.chain(built.module.parameters(), built.module.buffers())
    return next((t for t in tensors if t.is_floating_point() or t.is_complex()), None)


def _dtype(built: Built) -> Any:
    tensor = _tensor(built)
    return UNSEEN if tensor is None else tensor.dtype


def _device(built: Built) -> Any:
    tensor = _tensor(built)
    return UNSEEN if tensor is None else tensor.device


def _initial_scale(built: Built) -> Any:
    """A layer scale's initial value, every entry of its tensor (unseen on the meta device)."""
    if built.device == "meta":
        return UNSEEN
    values = set(built.module.layer_scale.detach().flatten().tolist())
    assert len(values) == 1, values
    return values.pop()


def _as_float32(value: Any, built: Built) -> Any:
    return torch.tensor(float(value), dtype=torch.float32).item()


def _dtype_kept(value: Any, built: Built) -> Any:
    return torch.get_default_dtype() if value is None else getattr(torch, value.split(".")[-1])


def _device_kept(value: Any, built: Built) -> Any:
    return torch.device(built.device if value is None else value)


def _normalized_shape(value: Any, built: Built) -> Any:
    """nn.LayerNorm keeps a tuple, an int as a tuple of one."""
    return tuple(value) if isinstance(value, list | tuple) else (value,)


def _embed_dim(value: Any, built: Built) -> Any:
    """nn.MultiheadAttention keeps kdim/vdim None as embed_dim."""
    return built.module.attention.embed_dim if value is None else value


def _as_tuple(value: Any) -> Any:
    """nn.Unfold and nn.Fold keep an int as it is, a pair as the tuple the file writes."""
    return tuple(value) if isinstance(value, list) else value


def _has_bias(built: Built) -> bool:
    return built.module.bias is not None


def _layernorm_bias(built: Built) -> Any:
    """LayerNorm keeps no bias argument without elementwise_affine (no weight, no bias)."""
    return _has_bias(built) if built.module.elementwise_affine else UNSEEN


def _upsample_scale(value: Any, built: Built) -> Any:
    """nn.Upsample: a tuple of floats, a float, or None for no (or a zero) factor."""
    if isinstance(value, list | tuple):
        return tuple(float(f) for f in value)
    return float(value) if value else None


def _padding_idx(value: Any, built: Built) -> Any:
    """nn.Embedding keeps a negative padding_idx counted from the front."""
    if value is not None and value < 0:
        return value + built.layer["num_embeddings"]
    return value


def _pad_sides(value: Any, built: Built) -> Any:
    """The pad modules keep a tuple of sides: an int on both sides of every spatial dimension."""
    return tuple(value) if isinstance(value, list | tuple) else (value,) * (2 * built.rank)


PAD_MODES = {
    "Constant": "constant",
    "Zero": "constant",
    "Reflection": "reflect",
    "Replication": "replicate",
    "Circular": "circular",
}


def _pad_mode(built: Built) -> str:
    return PAD_MODES[type(built.module).__name__.split("Pad")[0]]


def _pad_value(built: Built) -> Any:
    """The fill value: only the constant pads keep one."""
    return getattr(built.module, "value", UNSEEN)


_PARAMETERS = {
    "device": Arg(_device, kept=_device_kept),
    "dtype": Arg(_dtype, kept=_dtype_kept),
}
_WINDOWED = {
    "window_size": Arg("window_size", list),
    "shift_size": Arg("shift_size", list),
    "num_heads": Arg("num_heads"),
    "qkv_bias": Arg(lambda built: built.module.qkv_bias is not None),
    "proj_bias": Arg(lambda built: built.module.proj_bias is not None),
    "attention_dropout": Arg("attention_dropout"),
    "dropout": Arg("dropout"),
    **_PARAMETERS,
}
_CONV = {
    "out_channels": Arg("out_channels"),
    "kernel_size": Arg("kernel_size", kept=_each_dim),
    "stride": Arg("stride", _conv_stride, _each_dim),
    "padding": Arg("padding", kept=_conv_padding),
    "dilation": Arg("dilation", kept=_each_dim),
    "groups": Arg("groups"),
    "bias": Arg(_has_bias),
    "padding_mode": Arg("padding_mode"),
    **_PARAMETERS,
}
_POOL = {
    "kernel_size": Arg(_pool_dims("kernel_size"), kept=_each_dim),
    "stride": Arg(_pool_dims("stride"), kept=_pool_stride),
    "padding": Arg(_pool_dims("padding"), kept=_each_dim),
    "ceil_mode": Arg("ceil_mode"),
}
_OUTPUT_SIZE = Arg(_pool_dims("output_size"), kept=_each_dim)
_NORM = {
    "eps": Arg("eps"),
    "momentum": Arg("momentum"),
    "affine": Arg("affine"),
    "track_running_stats": Arg("track_running_stats"),
    **_PARAMETERS,
}
_DROPOUT = {"p": Arg("p"), "inplace": Arg("inplace")}
_INPLACE = {"inplace": Arg("inplace")}
_DIM = {"dim": Arg("dim")}  # softmax's dim counts the batch already

# spec type -> spec field -> how the module keeps it
ARGUMENTS: dict[str, dict[str, Arg]] = {
    "conv": _CONV,
    "conv_transpose": {**_CONV, "output_padding": Arg("output_padding", kept=_each_dim)},
    "maxpool": {
        **_POOL,
        "dilation": Arg(_pool_dims("dilation"), kept=_each_dim),
        "return_indices": Arg("return_indices"),
    },
    "avgpool": {
        **_POOL,
        "count_include_pad": Arg("count_include_pad"),
        # nn.AvgPool1d has none (the export refuses one there): None, the others' default
        "divisor_override": Arg(_divisor_override, default=None),
    },
    "adaptive_avgpool": {"output_size": _OUTPUT_SIZE},
    "adaptive_maxpool": {
        "output_size": _OUTPUT_SIZE,
        "return_indices": Arg("return_indices"),
    },
    "batchnorm": _NORM,
    "instancenorm": _NORM,
    "groupnorm": {
        "num_groups": Arg("num_groups"),
        "eps": Arg("eps"),
        "affine": Arg("affine"),
        **_PARAMETERS,
    },
    "layernorm": {
        "normalized_shape": Arg("normalized_shape", kept=_normalized_shape),
        "eps": Arg("eps"),
        "elementwise_affine": Arg("elementwise_affine"),
        "bias": Arg(_layernorm_bias),
        **_PARAMETERS,
    },
    "local_response_norm": {key: Arg(key) for key in ("size", "alpha", "beta", "k")},
    "linear": {"out_features": Arg("out_features"), "bias": Arg(_has_bias), **_PARAMETERS},
    "flatten": {"start_dim": Arg("start_dim", _batched), "end_dim": Arg("end_dim", _batched)},
    "unflatten": {"dim": Arg("dim", _batched), "unflattened_size": Arg("unflattened_size")},
    "reshape": {"shape": Arg("shape")},  # the file's Reshape(*shape)
    "permute": {"dims": Arg("dims", lambda dims: (0, *map(_batched, dims)))},  # Permute(*dims)
    # the file's copies of torchvision's Swin classes (window and shift kept as lists)
    **dict.fromkeys(("shifted_window_attention", "shifted_window_attention_v2"), _WINDOWED),
    **dict.fromkeys(("patch_merging", "patch_merging_v2"), _PARAMETERS),
    # the file's copies of torchvision's MaxViT classes (sizes given at construction)
    "window_partition": {"p": Arg("p")},
    "window_departition": {key: Arg(key) for key in ("p", "h_partitions", "w_partitions")},
    "relative_position_attention": {
        "head_dim": Arg("head_dim"),
        "max_seq_len": Arg("max_seq_len"),
        **_PARAMETERS,
    },
    "embedding": {
        "num_embeddings": Arg("num_embeddings"),
        "embedding_dim": Arg("embedding_dim"),
        "padding_idx": Arg("padding_idx", kept=_padding_idx),
        "max_norm": Arg("max_norm"),
        "norm_type": Arg("norm_type"),
        "scale_grad_by_freq": Arg("scale_grad_by_freq"),
        "sparse": Arg("sparse"),
        **_PARAMETERS,
    },
    "channel_shuffle": {"groups": Arg("groups")},
    "pad": {
        "padding": Arg("padding", kept=_pad_sides),
        "mode": Arg(_pad_mode, default="constant"),  # F.pad's default mode
        "value": Arg(_pad_value, default=0.0),  # F.pad's default, None, fills with 0
    },
    "upsample": {
        "size": Arg("size"),
        "scale_factor": Arg("scale_factor", kept=_upsample_scale),
        "mode": Arg("mode"),
        "align_corners": Arg("align_corners"),
        "recompute_scale_factor": Arg("recompute_scale_factor"),
    },
    "dropout": _DROPOUT,
    "dropout1d": _DROPOUT,
    "dropout2d": _DROPOUT,
    "dropout3d": _DROPOUT,
    "stochastic_depth": {"p": Arg("p"), "mode": Arg("mode")},  # torchvision's, required
    "relu": _INPLACE,
    "relu6": _INPLACE,
    "silu": _INPLACE,
    "hardswish": _INPLACE,
    "hardsigmoid": _INPLACE,
    "mish": _INPLACE,
    "elu": {"alpha": Arg("alpha"), **_INPLACE},
    "leaky_relu": {"negative_slope": Arg("negative_slope"), **_INPLACE},
    "hardtanh": {"min_val": Arg("min_val"), "max_val": Arg("max_val"), **_INPLACE},
    "prelu": {"num_parameters": Arg("num_parameters"), "init": Arg("init"), **_PARAMETERS},
    "sigmoid": {},
    "tanh": {},
    "softplus": {"beta": Arg("beta"), "threshold": Arg("threshold")},
    "softmax": _DIM,
    "log_softmax": _DIM,
    "gelu": {"approximate": Arg("approximate")},
    "identity": {},
    "pixel_shuffle": {"upscale_factor": Arg("upscale_factor")},
    "pixel_unshuffle": {"downscale_factor": Arg("downscale_factor")},
    "unfold": {
        key: Arg(key, _as_tuple) for key in ("kernel_size", "dilation", "padding", "stride")
    },
    "fold": {
        key: Arg(key, _as_tuple)
        for key in ("output_size", "kernel_size", "dilation", "padding", "stride")
    },
    "select_channels": {"channels": Arg("channels", list)},  # the file's SelectChannels
    "multihead_attention": {
        "num_heads": Arg(lambda built: built.module.attention.num_heads),
        "dropout": Arg(lambda built: built.module.attention.dropout, default=0.0),
        "bias": Arg(lambda built: built.module.attention.in_proj_bias is not None, default=True),
        "add_bias_kv": Arg(lambda built: built.module.attention.bias_k is not None, default=False),
        "add_zero_attn": Arg(lambda built: built.module.attention.add_zero_attn, default=False),
        "kdim": Arg(lambda built: built.module.attention.kdim, kept=_embed_dim, default=None),
        "vdim": Arg(lambda built: built.module.attention.vdim, kept=_embed_dim, default=None),
        # the file's SelfAttention takes the batch first, whatever the spec says
        "batch_first": Arg(
            lambda built: built.module.attention.batch_first, lambda _: True, default=True
        ),
        "device": Arg(_device, kept=_device_kept, default=None),
        "dtype": Arg(_dtype, kept=_dtype_kept, default=None),
    },
    "class_token": {},
    "position_embedding": {},
    "select": {"dim": Arg("dim", _batched, default=1), "index": Arg("index", default=0)},
    "layer_scale": {"layer_scale": Arg(_initial_scale, kept=_as_float32, default=1e-6)},
    "layernorm2d": {
        "normalized_shape": Arg("normalized_shape", kept=_normalized_shape),
        "eps": Arg("eps"),
        "elementwise_affine": Arg("elementwise_affine"),
        "bias": Arg(_layernorm_bias),
        **_PARAMETERS,
    },
}
# what a spec type means, kept by its module whatever the spec writes
FIXED: dict[str, dict[str, Any]] = {"relu6": {"min_val": 0.0, "max_val": 6.0}}


def _plain(value: Any) -> Any:
    """Lists as tuples, all the way down (the spec writes lists, PyTorch keeps tuples)."""
    if isinstance(value, list | tuple):
        return tuple(_plain(v) for v in value)
    return value


def same(actual: Any, wanted: Any) -> bool:
    """Equal as arguments: lists and tuples alike, numbers by value (2 is 2.0), but a boolean
    only a boolean."""
    actual, wanted = _plain(actual), _plain(wanted)
    if isinstance(actual, tuple) or isinstance(wanted, tuple):
        return (
            isinstance(actual, tuple)
            and isinstance(wanted, tuple)
            and len(actual) == len(wanted)
            and all(same(a, w) for a, w in zip(actual, wanted, strict=True))
        )
    if isinstance(actual, bool) or isinstance(wanted, bool):
        return type(actual) is type(wanted) and actual == wanted
    return bool(actual == wanted)


def written_leaves(layers: list[Layer]) -> list[Layer]:
    """The spec's leaves as written, in the order the exported module registers them: a
    residual's body before its shortcut, a concat's branches in order, a repeat's layers once
    for each repetition (an explicit stack, however deep)."""
    leaves: list[Layer] = []
    stack = list(reversed(layers))
    while stack:
        layer = stack.pop()
        kind = layer["type"]
        if kind in ("sequential", "repeat"):
            inner = list(layer["layers"]) * layer.get("times", 1)
        elif kind == "residual":
            inner = [*layer["body"], *layer.get("shortcut", [])]
        elif kind in ("concat", "split"):
            inner = [item for branch in layer["branches"] for item in branch]
        elif kind == "scale":
            inner = list(layer["body"])
        elif kind == "graph":  # the paths in the order written, as they run
            inner = [item for path in layer["paths"] for item in path.get("layers", [])]
        else:
            leaves.append(layer)
            continue
        stack.extend(reversed(inner))
    return leaves


def argument_mismatches(built: Built) -> list[tuple[str, Any, Any]]:
    """Each (field, module's value, the spec's) that differ for one leaf."""
    wrong = []
    for field, arg in ARGUMENTS[built.layer["type"]].items():
        actual = arg.actual(built)
        if actual is UNSEEN:
            continue
        wanted = arg.wanted(field, built)
        if not same(actual, wanted):
            wrong.append((field, actual, wanted))
    for name, wanted in FIXED.get(built.layer["type"], {}).items():
        if not same(getattr(built.module, name), wanted):
            wrong.append((name, getattr(built.module, name), wanted))
    return wrong


def check_arguments(model: Any, layers: list[Layer], device: str = "cpu") -> None:
    """Every leaf module, in order, keeps every argument the spec's leaf gives it, and PyTorch's
    default for every one it leaves out."""
    written, modules = written_leaves(layers), leaf_modules(model)
    assert len(written) == len(modules)
    for i, (layer, module) in enumerate(zip(written, modules, strict=True)):
        assert KIND_OF[type(module).__name__] == layer["type"], (i, layer)
        wrong = argument_mismatches(Built(layer, module, device))
        assert not wrong, (i, layer, wrong)


# --- ruff -----------------------------------------------------------------------------------


def ruff_command() -> list[str] | None:
    if importlib.util.find_spec("ruff") is not None:
        return [sys.executable, "-m", "ruff"]
    found = shutil.which("ruff")
    return [found] if found else None


def check_ruff(paths: list[Path], cache: Path) -> None:
    """``ruff check`` and ``ruff format --check`` with the project's configuration."""
    command = ruff_command()
    if command is None:
        pytest.skip("ruff is not installed")
    config = ["--config", str(ROOT / "pyproject.toml")]
    env = {**os.environ, "RUFF_CACHE_DIR": str(cache)}  # nothing written into the project
    for args in (["check", *config], ["format", "--check", *config]):
        result = subprocess.run(
            [*command, *args, *map(str, paths)], capture_output=True, text=True, env=env, cwd=ROOT
        )
        assert result.returncode == 0, result.stdout + result.stderr


# --- the bundled specs ----------------------------------------------------------------------


@pytest.mark.parametrize("path", spec_params(SPECS), ids=[path.stem for path in SPECS])
def test_bundled_spec_round_trip(path: Path, tmp_path: Path) -> None:
    report = analyse(load_spec(str(path)))
    device = "meta" if path.stem in BIG else "cpu"
    written = yaml.safe_load(path.read_text(encoding="utf-8"))["layers"]  # YAML's own reading
    generated = round_trip(report, tmp_path, (device,), layers=written)
    check_ruff([generated.path], tmp_path / "cache")


HW3_Q3 = '''\
"""A PyTorch module generated by convcalc from the spec hw3-q3.

Input: 3x128x128 (one sample).
Output: 128x11x11.
Parameters: 71,840 (all trainable).
PyTorch adds the batch dimension in front; the comments give each layer's output shape
without it.
"""

import torch
import torch.nn as nn


class Hw3Q3(nn.Sequential):
    """The network hw3-q3, as convcalc analysed it."""

    def __init__(self) -> None:
        super().__init__()
        self.append(nn.Conv2d(3, 32, kernel_size=8, stride=2))  # 32x61x61
        self.append(nn.MaxPool2d(kernel_size=5, stride=5))  # 32x12x12
        self.append(nn.Conv2d(32, 128, kernel_size=4, padding=1))  # 128x11x11


if __name__ == "__main__":
    model = Hw3Q3().eval()
    with torch.no_grad():
        output = model(torch.zeros(1, 3, 128, 128))
    print("output shape:", tuple(output.shape))
    print(f"parameters: {sum(p.numel() for p in model.parameters()):,}")
'''


def test_hw3_q3_exactly() -> None:
    """The whole file: written arguments only where they differ from PyTorch's defaults
    (the spec's ``padding: 0`` and ``stride: 1`` are not)."""
    assert to_pytorch(analyse(load_spec("hw3-q3"))) == HW3_Q3


def test_main_block_runs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    generated = Generated(analyse(load_spec("hw3-q3")), tmp_path)
    runpy.run_path(str(generated.path), run_name="__main__")
    assert capsys.readouterr().out == "output shape: (1, 128, 11, 11)\nparameters: 71,840\n"


def test_main_block_takes_two_samples_where_one_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A batchnorm without running statistics over one value a channel: PyTorch refuses one
    sample even in eval mode, so the __main__ block runs two."""
    layers = [
        {"type": "linear", "out_features": 3},
        {"type": "batchnorm", "track_running_stats": False},
    ]
    generated = Generated(analyse(load_spec({"input": [5], "layers": layers})), tmp_path)
    assert "model(torch.zeros(2, 5))" in generated.source
    runpy.run_path(str(generated.path), run_name="__main__")
    assert capsys.readouterr().out == "output shape: (2, 3)\nparameters: 24\n"
    with pytest.raises(ValueError, match="Expected more than 1 value per channel"):
        generated.build()(torch.zeros(1, 5))


def test_file_imports_only_torch_and_math(tmp_path: Path) -> None:
    """torch and torch.nn as nn always; math only for an infinite argument."""
    spec = {"input": [4, 5], "layers": [{"type": "batchnorm", "eps": math.inf}]}
    for report in (analyse(load_spec("resnet18")), analyse(load_spec(spec))):
        tree = ast.parse(to_pytorch(report))
        imports = [
            (alias.name, alias.asname)
            for node in ast.walk(tree)
            if isinstance(node, ast.Import | ast.ImportFrom)
            for alias in node.names
        ]
        wanted = [("torch", None), ("torch.nn", "nn")]
        assert imports == (wanted if report.name == "resnet18" else [("math", None), *wanted])
    assert "eps=math.inf" in to_pytorch(analyse(load_spec(spec)))


def test_names_and_structure(tmp_path: Path) -> None:
    """Names from the spec, indices elsewhere; blocks hold nn.Sequential lists."""
    resnet = Generated(analyse(load_spec("resnet18")), tmp_path).build("meta")
    assert isinstance(resnet.conv1, nn.Conv2d) and isinstance(resnet[2], nn.ReLU)
    first = resnet.layer1[0]
    assert type(first).__name__ == "Residual" and isinstance(first.body[0], nn.Conv2d)
    assert isinstance(first.shortcut, nn.Sequential) and len(first.shortcut) == 0
    assert isinstance(resnet.layer2[0].shortcut[0], nn.Conv2d)
    assert isinstance(resnet.fc, nn.Linear) and isinstance(resnet[9], nn.Flatten)
    efficient = Generated(analyse(load_spec("efficientnet_b0")), tmp_path).build("meta")
    se = efficient.features_2_1.body.block.se
    assert type(se).__name__ == "Scale" and se.body.fc1.out_channels == 6
    assert type(efficient.features_2_1.body.stochastic_depth).__name__ == "StochasticDepth"
    keys = efficient.state_dict().keys()
    assert "features_2_1.body.block.se.body.fc1.weight" in keys
    unet = Generated(analyse(load_spec("unet")), tmp_path).build("meta")
    concat = unet.level_128
    assert type(concat).__name__ == "Concat" and len(concat.branches[0]) == 0
    assert isinstance(concat.branches[1].level_256.branches[1].up_128, nn.ConvTranspose2d)


def test_names_are_sanitised_and_unique(tmp_path: Path) -> None:
    relu = {"type": "relu"}
    names = ["features.1.0", "forward", "forward", "class", "9 lives", "→", "x" * 80, "append"]
    spec = {"input": [2, 3], "layers": [{**relu, "name": name} for name in names]}
    model = round_trip(analyse(load_spec(spec)), tmp_path).build()
    assert [name for name, _ in model.named_children()] == [
        "features_1_0",
        "forward_",
        "forward_2",
        "class_",
        "_9_lives",
        "5",
        "x" * 22,
        "append_",
    ]
    nested = {"input": [2, 3], "layers": [{"type": "sequential", "layers": spec["layers"]}]}
    model = round_trip(analyse(load_spec(nested)), tmp_path).build()
    assert [name for name, _ in model[0].named_children()][:3] == [
        "features_1_0",
        "forward_",
        "forward_2",
    ]


def test_sequential_attributes_are_reserved() -> None:
    """Every public attribute of this torch's nn.Sequential is a name no module may take."""
    public = {name for name in dir(nn.Sequential()) if not name.startswith("_")}
    assert public <= SEQUENTIAL_ATTRIBUTES


@pytest.mark.parametrize(
    ("spec_name", "class_name"),
    [
        ("hw3-q3", "Hw3Q3"),
        ("resnet18", "Resnet18"),
        ("efficientnet_b0", "EfficientnetB0"),
        ("3d net", "Net3dNet"),
        ("residual", "ResidualNet"),
        ("…", "Net"),
        ("o", "ONet"),
    ],
)
def test_class_names(spec_name: str, class_name: str) -> None:
    assert class_name_of(spec_name) == class_name


@pytest.mark.parametrize(
    "name",
    ["1abc", "class", "nn", "Residual", "a-b", "", "N" * 61, "I", "print", "tuple", "__name__"],
)
def test_unusable_class_names_are_refused(name: str) -> None:
    with pytest.raises(ConvcalcError, match="cannot name the class"):
        to_pytorch(analyse(load_spec("hw3-q3")), name)


def test_empty_network(tmp_path: Path) -> None:
    """No layers: an empty nn.Sequential, the identity."""
    generated = round_trip(analyse(load_spec({"input": [3, 4], "layers": []})), tmp_path)
    assert "        super().__init__()\n\n\nif __name__" in generated.source


def test_class_name_given(tmp_path: Path) -> None:
    generated = Generated(analyse(load_spec("hw3-mlp")), tmp_path, "Mlp")
    assert "class Mlp(nn.Sequential):" in generated.source
    assert isinstance(generated.build(), nn.Sequential)


# --- refusals -------------------------------------------------------------------------------


@pytest.mark.every_case
@pytest.mark.parametrize(
    ("shape", "layers", "path", "why"),
    [
        (
            [2, 8, 8],
            [{"type": "relu"}, {"type": "maxpool", "kernel_size": 2, "return_indices": True}],
            "layers[1] (maxpool), field return_indices",
            "returns (values, indices)",
        ),
        (
            [2, 8, 8],
            [{"type": "adaptive_maxpool", "output_size": 2, "return_indices": True}],
            "layers[0] (adaptive_maxpool), field return_indices",
            "returns (values, indices)",
        ),
        (
            [2, 8],
            [{"type": "avgpool", "kernel_size": 2, "divisor_override": 3}],
            "layers[0] (avgpool), field divisor_override",
            "nn.AvgPool1d has no divisor_override",
        ),
        (
            [5],
            [{"type": "relu"}, {"type": "embedding", "num_embeddings": 4, "embedding_dim": 3}],
            "layers[1] (embedding)",
            "integer indices",
        ),
        (
            [5],
            [
                {
                    "type": "repeat",
                    "times": 2,
                    "layers": [{"type": "embedding", "num_embeddings": 4, "embedding_dim": 1}],
                }
            ],
            "layers[0].layers[1] (embedding)",
            "first layer",
        ),
        (
            [5],
            [
                {
                    "type": "concat",
                    "branches": [[{"type": "embedding", "num_embeddings": 4, "embedding_dim": 1}]],
                }
            ],
            "layers[0].branches[0][0] (embedding)",
            "first layer",
        ),
        (
            [2, 4, 4],
            [{"type": "reshape", "shape": [2, 2, 2, 2, 2]}, {"type": "batchnorm"}],
            "layers[1] (batchnorm)",
            "no BatchNorm4d",
        ),
        (
            [2, 4, 4],
            [{"type": "maxpool", "kernel_size": 2}, {"type": "max_unpool", "kernel_size": 2}],
            "layers[1] (max_unpool)",
            "takes the indices a max-pool with return_indices gives",
        ),
    ],
)
def test_refused(shape: list[int], layers: list[Layer], path: str, why: str) -> None:
    """What no PyTorch module writes exactly is refused at the layer, saying why."""
    report = analyse(load_spec({"input": shape, "layers": layers}))
    with pytest.raises(ExportError) as refusal:
        to_pytorch(report)
    assert str(refusal.value).startswith(f"{path}: cannot be exported to PyTorch: ")
    assert why in str(refusal.value)


def test_pytorch_refuses_what_is_refused() -> None:
    """The reasons hold in this PyTorch: no divisor_override in AvgPool1d, no BatchNorm4d, a
    tuple from a pool with return_indices, and integer indices for an embedding."""
    assert "divisor_override" not in inspect.signature(nn.AvgPool1d).parameters
    assert not hasattr(nn, "BatchNorm4d")
    assert isinstance(nn.MaxPool2d(2, return_indices=True)(torch.zeros(1, 1, 4, 4)), tuple)
    with pytest.raises(RuntimeError):
        nn.Embedding(4, 3)(torch.zeros(1, 5))


def test_embedding_first(tmp_path: Path) -> None:
    """An embedding fed the input itself (integer indices), nested in chains or not."""
    embedding = {
        "type": "embedding",
        "num_embeddings": 7,
        "embedding_dim": 4,
        "padding_idx": -1,
        "max_norm": 1.0,
    }
    for layers in (
        [embedding, {"type": "layernorm", "normalized_shape": 4}, {"type": "flatten"}],
        [{"type": "sequential", "layers": [{"type": "repeat", "times": 1, "layers": [embedding]}]}],
    ):
        report = analyse(load_spec({"input": [3, 5], "layers": layers}))
        generated = round_trip(report, tmp_path, ("cpu", "meta"), layers=layers)
        assert "torch.zeros(1, 3, 5, dtype=torch.long)" in generated.source


# --- arguments ------------------------------------------------------------------------------

LEAF_TYPES = sorted(name for name, kind in KINDS.items() if not kind.block)
COMMON = {"type", "name", "functional", "trainable"}  # every layer's fields, no module's
REFUSED = {"max_unpool"}  # no chain of modules passes a max-pool's indices on: test_refused
# fields the export leaves out: the file's SelfAttention always takes the batch first
NOT_WRITTEN = {"multihead_attention": {"batch_first"}}


def test_every_leaf_type_is_written() -> None:
    """Every field of every leaf type is written by the export (but type, name, functional)."""
    assert set(LEAVES) | set(CONVERTED) == set(LEAF_TYPES)
    for name in LEAF_TYPES:
        fields = set(layer_class(name).model_fields) - COMMON
        if name in CONVERTED:
            assert fields == set(CONVERTED[name][1]), name
        else:
            leaf = LEAVES[name]
            written = [f for f in (*leaf.positional, *leaf.keywords) if not f.startswith("=")]
            assert sorted(written) == sorted(fields - NOT_WRITTEN.get(name, set())), name


def _torch_class(name: str) -> Any:
    template = KINDS[name].torch
    if not template:
        torchvision = import_torchvision()
        own = {"stochastic_depth": torchvision.ops.StochasticDepth}
        own["layernorm2d"] = torchvision.models.convnext.LayerNorm2d
        return own.get(name)
    return getattr(nn, template.format(n=2))


@pytest.mark.every_case
@pytest.mark.parametrize("name", sorted(LEAVES))
def test_keyword_defaults_are_pytorchs(name: str) -> None:
    """A keyword left out because it equals convcalc's default leaves PyTorch's: they agree."""
    cls = _torch_class(name)
    if cls is None:  # parameters in torchvision's forward code: the file's classes (ClassToken)
        assert LEAVES[name].keywords in ((), ("layer_scale",)), name  # CNBlock's: no default
        return
    parameters = inspect.signature(cls).parameters
    fields = layer_class(name).model_fields
    for keyword in LEAVES[name].keywords:
        assert keyword in parameters, (name, keyword)
        if not fields[keyword].is_required():
            assert fields[keyword].default == parameters[keyword].default, (name, keyword)


# every field of every leaf type away from its default in some layer (but the fields with a
# single value the export writes: conv_transpose's padding_mode, a pool's return_indices)
AWAY: list[tuple[list[int], Layer]] = [
    (
        [4, 9, 9],
        {"type": "conv", "out_channels": 6, "kernel_size": [3, 2], "stride": [2, 1],
         "padding": [1, 2], "dilation": [1, 2], "groups": 2, "bias": False,
         "padding_mode": "reflect", "device": "meta", "dtype": "float64"},
    ),
    ([4, 9, 9], {"type": "conv", "out_channels": 4, "kernel_size": 3, "padding": "same",
                 "stride": None, "dtype": "torch.float16"}),
    (
        [4, 5, 5],
        {"type": "conv_transpose", "out_channels": 6, "kernel_size": [3, 2], "stride": 2,
         "padding": 1, "output_padding": [1, 0], "groups": 2, "bias": False, "dilation": [1, 2],
         "device": "meta", "dtype": "bfloat16"},
    ),
    ([2, 9, 9], {"type": "maxpool", "kernel_size": [3, 2], "stride": [2, 1], "padding": 1,
                 "dilation": 2, "ceil_mode": True}),
    ([2, 9], {"type": "maxpool", "kernel_size": 3, "stride": None}),
    ([2, 9, 9], {"type": "avgpool", "kernel_size": 3, "stride": 2, "padding": 1,
                 "ceil_mode": True, "count_include_pad": False, "divisor_override": 2}),
    ([2, 9], {"type": "avgpool", "kernel_size": 2, "stride": 1, "padding": 1}),
    ([2, 9, 9], {"type": "adaptive_avgpool", "output_size": [3, None]}),
    ([2, 9, 9], {"type": "adaptive_maxpool", "output_size": [2, 4]}),
    ([3, 4, 4], {"type": "batchnorm", "eps": 0.01, "momentum": 0.3, "affine": False,
                 "track_running_stats": False}),
    ([3], {"type": "batchnorm", "eps": 1e-3, "momentum": None, "device": "meta",
           "dtype": "float64"}),
    ([3, 4, 4], {"type": "instancenorm", "eps": 0.1, "momentum": 0.2, "affine": True,
                 "track_running_stats": True, "device": "meta", "dtype": "float16"}),
    ([6, 4, 4], {"type": "groupnorm", "num_groups": 3, "eps": 0.01, "affine": False}),
    ([6, 4], {"type": "groupnorm", "num_groups": 2, "device": "meta", "dtype": "float64"}),
    ([3, 4, 4], {"type": "layernorm", "normalized_shape": [4, 4], "eps": 1e-3, "bias": False,
                 "device": "meta", "dtype": "float64"}),
    ([3, 4, 4], {"type": "layernorm", "normalized_shape": 4, "elementwise_affine": False}),
    ([4, 3, 3], {"type": "layernorm2d", "normalized_shape": 4, "eps": 1e-3, "bias": False,
                 "device": "meta", "dtype": "float64"}),
    ([4, 3, 3], {"type": "layernorm2d", "normalized_shape": [4], "elementwise_affine": False}),
    ([6, 4], {"type": "local_response_norm", "size": 3, "alpha": 0.01, "beta": 0.5, "k": 2}),
    ([5], {"type": "linear", "out_features": 3, "bias": False, "device": "meta",
           "dtype": "bfloat16"}),
    ([2, 3, 4, 5], {"type": "flatten", "start_dim": 1, "end_dim": 2}),
    ([2, 3, 4, 5], {"type": "flatten", "start_dim": -2}),
    ([6, 4], {"type": "unflatten", "dim": 0, "unflattened_size": [2, -1]}),
    ([6, 4], {"type": "unflatten", "dim": -1, "unflattened_size": [2, 2]}),
    ([2, 3, 4], {"type": "reshape", "shape": [4, -1]}),
    ([2, 3, 4], {"type": "permute", "dims": [2, 0, -2]}),
    (
        [5],
        {"type": "embedding", "num_embeddings": 7, "embedding_dim": 3, "padding_idx": -2,
         "max_norm": 1.5, "norm_type": 3, "scale_grad_by_freq": True, "sparse": True,
         "device": "meta", "dtype": "float64"},
    ),
    ([6, 2, 2], {"type": "channel_shuffle", "groups": 3}),
    ([2, 5, 5], {"type": "pad", "padding": 2, "value": -1.5}),
    ([2, 5, 5], {"type": "pad", "padding": [1, 0, 2, 3], "mode": "reflect"}),
    ([2, 5], {"type": "pad", "padding": [2, 1], "mode": "replicate"}),
    ([2, 3, 5, 5], {"type": "pad", "padding": 1, "mode": "circular"}),
    ([2, 4, 4], {"type": "upsample", "scale_factor": [2, 1.5], "mode": "bilinear",
                 "align_corners": True, "recompute_scale_factor": True}),
    ([2, 4, 4], {"type": "upsample", "size": [8, 6], "mode": "nearest-exact"}),
    ([2, 4], {"type": "upsample", "scale_factor": 0, "size": 9, "mode": "linear",
              "align_corners": False, "recompute_scale_factor": False}),
    *(([3, 4, 4], {"type": kind, "p": 0.2, "inplace": True})
      for kind in ("dropout", "dropout2d", "dropout3d")),
    ([3, 4], {"type": "dropout1d", "p": 0, "inplace": True}),
    ([3, 4], {"type": "stochastic_depth", "p": 0.3, "mode": "batch"}),
    *(([3, 4], {"type": kind, "inplace": True})
      for kind in ("relu", "relu6", "silu", "hardswish", "hardsigmoid", "mish")),
    ([3, 4], {"type": "elu", "alpha": 0.5, "inplace": True}),
    ([3, 4], {"type": "leaky_relu", "negative_slope": 0.2, "inplace": True}),
    ([3, 4], {"type": "hardtanh", "min_val": 0.5, "max_val": 2.5, "inplace": True}),
    ([3, 4], {"type": "prelu", "num_parameters": 3, "init": 0.1, "device": "meta",
              "dtype": "float64"}),
    ([3, 4], {"type": "softplus", "beta": 2, "threshold": 10}),
    ([3, 4], {"type": "softmax", "dim": 1}),
    ([3, 4], {"type": "log_softmax", "dim": -2}),
    ([3, 4], {"type": "gelu", "approximate": "tanh"}),
    *(([3, 4], {"type": kind}) for kind in ("sigmoid", "tanh", "identity")),
    ([8, 2, 3], {"type": "pixel_shuffle", "upscale_factor": 2}),
    ([2, 4, 6], {"type": "pixel_unshuffle", "downscale_factor": 2}),
    ([2, 7, 6], {"type": "unfold", "kernel_size": [3, 2], "dilation": [1, 2], "padding": 1,
                 "stride": [2, 1]}),
    ([18, 24], {"type": "fold", "output_size": [7, 6], "kernel_size": [3, 2],
                "dilation": [1, 2], "padding": 1, "stride": [2, 1]}),
    ([5, 3, 3], {"type": "select_channels", "channels": [4, 0, -1, 0]}),
    ([3, 4, 4], {"type": "layer_scale", "layer_scale": 0.5}),
    ([5, 8], {"type": "multihead_attention", "num_heads": 2, "dropout": 0.25, "bias": False,
              "add_bias_kv": True, "add_zero_attn": True, "kdim": 8, "vdim": 8,
              "batch_first": True, "device": "meta", "dtype": "float64"}),
    ([5, 8], {"type": "select", "dim": 1, "index": -1}),
    ([4, 6, 8], {"type": "shifted_window_attention", "window_size": [2, 3], "shift_size": [1, 1],
                 "num_heads": 2, "qkv_bias": False, "proj_bias": False,
                 "attention_dropout": 0.25, "dropout": 0.5, "device": "meta",
                 "dtype": "float64"}),
    ([4, 6, 8], {"type": "shifted_window_attention_v2", "window_size": [2, 3],
                 "shift_size": [1, 1], "num_heads": 2, "qkv_bias": False, "proj_bias": False,
                 "attention_dropout": 0.25, "dropout": 0.5, "device": "meta",
                 "dtype": "float64"}),
    ([4, 6, 8], {"type": "patch_merging", "device": "meta", "dtype": "float64"}),
    ([4, 6, 8], {"type": "patch_merging_v2", "device": "meta", "dtype": "float64"}),
    ([4, 6, 8], {"type": "window_partition", "p": 2}),
    ([6, 4, 5], {"type": "window_departition", "p": 2, "h_partitions": 2, "w_partitions": 3}),
    ([3, 4, 8], {"type": "relative_position_attention", "head_dim": 4, "max_seq_len": 4,
                 "device": "meta", "dtype": "float64"}),
]  # fmt: skip
ONE_VALUE = {("conv_transpose", "padding_mode"), ("maxpool", "return_indices"),
             ("adaptive_maxpool", "return_indices")}  # fmt: skip


def test_the_argument_table_covers_every_field() -> None:
    """ARGUMENTS reads back every field of every leaf type, and AWAY writes each one away from
    its default (the ones with a single value exported aside)."""
    assert set(ARGUMENTS) == set(LEAF_TYPES) - REFUSED
    away: dict[str, set[str]] = {name: set() for name in LEAF_TYPES}
    for _, layer in AWAY:
        fields = layer_class(layer["type"]).model_fields
        away[layer["type"]] |= {
            key for key, value in layer.items() if key != "type" and value != fields[key].default
        }
    for name in sorted(set(LEAF_TYPES) - REFUSED):
        fields = set(layer_class(name).model_fields) - COMMON
        assert set(ARGUMENTS[name]) == fields, name
        assert away[name] | {f for kind, f in ONE_VALUE if kind == name} == fields, name


@pytest.mark.parametrize(("shape", "layer"), AWAY, ids=[layer["type"] for _, layer in AWAY])
def test_every_argument_reaches_the_module(shape: list[int], layer: Layer, tmp_path: Path) -> None:
    """Each field away from its default, as the module PyTorch builds keeps it (read back from
    its attributes, its tensors' dtype and device); every other field PyTorch's default."""
    report = analyse(load_spec({"input": shape, "layers": [layer]}))
    generated = Generated(report, tmp_path)
    for device in ("cpu", "meta"):
        check_arguments(generated.build(device), [layer], device)


@pytest.mark.parametrize(
    ("layer", "written"),
    [
        (
            {"type": "conv", "out_channels": 4, "kernel_size": [3, 3], "stride": None},
            "nn.Conv2d(2, 4, kernel_size=(3, 3))",
        ),
        (
            {"type": "conv", "out_channels": 4, "kernel_size": 1, "stride": [1], "dilation": [1]},
            "nn.Conv2d(2, 4, kernel_size=1, stride=(1,), dilation=(1,))",
        ),
        (
            {
                "type": "conv",
                "out_channels": 4,
                "kernel_size": 3,
                "padding": "same",
                "padding_mode": "circular",
            },
            'nn.Conv2d(2, 4, kernel_size=3, padding="same", padding_mode="circular")',
        ),
        (
            {"type": "linear", "out_features": 3, "device": "cpu", "dtype": "float"},
            'nn.Linear(4, 3, device="cpu", dtype=torch.float)',
        ),
        (
            {"type": "batchnorm", "momentum": None, "eps": 0.001, "affine": False},
            "nn.BatchNorm2d(2, eps=0.001, momentum=None, affine=False)",
        ),
        (
            {
                "type": "avgpool",
                "kernel_size": 2,
                "count_include_pad": False,
                "divisor_override": 3,
            },
            "nn.AvgPool2d(kernel_size=2, count_include_pad=False, divisor_override=3)",
        ),
        (
            {
                "type": "maxpool",
                "kernel_size": 3,
                "stride": 1,
                "ceil_mode": True,
                "return_indices": False,
            },
            "nn.MaxPool2d(kernel_size=3, stride=1, ceil_mode=True)",
        ),
        ({"type": "flatten"}, "nn.Flatten()"),
        ({"type": "flatten", "start_dim": 1, "end_dim": 2}, "nn.Flatten(start_dim=2, end_dim=3)"),
        ({"type": "flatten", "start_dim": -2}, "nn.Flatten(start_dim=-2)"),
        ({"type": "unflatten", "dim": 0, "unflattened_size": [1, -1]}, "nn.Unflatten(1, (1, -1))"),
        ({"type": "permute", "dims": [2, 0, -2]}, "Permute(0, 3, 1, -2)"),
        ({"type": "reshape", "shape": [-1]}, "Reshape(-1)"),
        ({"type": "pad", "padding": 1}, "nn.ConstantPad2d(1, 0.0)"),
        (
            {"type": "pad", "padding": [1, 0, 2, 3], "value": -1},
            "nn.ConstantPad2d((1, 0, 2, 3), -1.0)",
        ),
        (
            {"type": "pad", "padding": [1, 1, 0, 2], "mode": "reflect"},
            "nn.ReflectionPad2d((1, 1, 0, 2))",
        ),
        ({"type": "pad", "padding": 2, "mode": "replicate"}, "nn.ReplicationPad2d(2)"),
        ({"type": "pad", "padding": 1, "mode": "circular"}, "nn.CircularPad2d(1)"),
        (
            {"type": "upsample", "scale_factor": 0.5, "mode": "bilinear", "align_corners": True},
            'nn.Upsample(scale_factor=0.5, mode="bilinear", align_corners=True)',
        ),
        (
            {"type": "upsample", "size": [3, 9], "scale_factor": 0},
            "nn.Upsample(size=(3, 9), scale_factor=0.0)",
        ),
        (
            {"type": "stochastic_depth", "p": 0.0, "mode": "row"},
            'StochasticDepth(p=0.0, mode="row")',
        ),
        ({"type": "dropout", "p": 0.5, "inplace": True}, "nn.Dropout(inplace=True)"),
        ({"type": "leaky_relu", "negative_slope": 0.2}, "nn.LeakyReLU(negative_slope=0.2)"),
        ({"type": "elu", "alpha": 1}, "nn.ELU()"),
        ({"type": "softmax", "dim": -3}, "nn.Softmax(dim=-3)"),
        ({"type": "gelu", "approximate": "tanh"}, 'nn.GELU(approximate="tanh")'),
        (
            {"type": "prelu", "num_parameters": 2, "init": 0.1},
            "nn.PReLU(num_parameters=2, init=0.1)",
        ),
        ({"type": "groupnorm", "num_groups": 1, "eps": 1e-06}, "nn.GroupNorm(1, 2, eps=1e-06)"),
        (
            {"type": "layernorm", "normalized_shape": [4, 4], "bias": False},
            "nn.LayerNorm((4, 4), bias=False)",
        ),
        ({"type": "instancenorm", "affine": True}, "nn.InstanceNorm2d(2, affine=True)"),
        ({"type": "local_response_norm", "size": 2, "k": 2}, "nn.LocalResponseNorm(2, k=2.0)"),
        ({"type": "channel_shuffle", "groups": 2}, "nn.ChannelShuffle(2)"),
        ({"type": "linear", "out_features": 3, "bias": False}, "nn.Linear(4, 3, bias=False)"),
        (
            {
                "type": "conv_transpose",
                "out_channels": 2,
                "kernel_size": 2,
                "stride": 2,
                "output_padding": 1,
            },
            "nn.ConvTranspose2d(2, 2, kernel_size=2, stride=2, output_padding=1)",
        ),
    ],
)
def test_arguments_written(layer: Layer, written: str, tmp_path: Path) -> None:
    """Exactly the arguments that differ from PyTorch's defaults, as written; dimensions
    counted with the batch; each one then round-trips through PyTorch."""
    report = analyse(load_spec({"input": [2, 4, 4], "layers": [layer]}))
    assert f"self.append({written})" in to_pytorch(report)
    round_trip(report, tmp_path, layers=[layer])


# --- the generated helpers --------------------------------------------------------------------


def test_blocks_compute_their_values(tmp_path: Path) -> None:
    """Residual adds, Concat joins along the channels, Scale multiplies, Reshape and Permute
    keep the batch first: the values, not just the shapes."""
    x = torch.arange(24.0).reshape(1, 2, 3, 4)
    identity = {"type": "identity"}
    cases = [
        ({"type": "residual", "body": [identity]}, x + x),
        ({"type": "concat", "branches": [[], [identity], []]}, torch.cat([x, x, x], dim=1)),
        ({"type": "scale", "body": [identity]}, x * x),
        ({"type": "reshape", "shape": [3, -1]}, x.reshape(1, 3, 8)),
        ({"type": "permute", "dims": [2, -3, 1]}, x.permute(0, 3, 1, 2)),
    ]
    for layer, value in cases:
        report = analyse(load_spec({"input": [2, 3, 4], "layers": [layer]}))
        model = Generated(report, tmp_path).build()
        with torch.no_grad():
            assert torch.equal(model(x), value), layer


def test_each_example_draws_the_same_weights() -> None:
    """An exported module initialises its weights from torch's generator, which conftest
    registers with Hypothesis: each example starts from the same state, so an example that
    Hypothesis replays (to shrink it, or to check it fails again) builds the same weights."""
    drawn: list[float] = []

    @settings(max_examples=5, database=None)
    @given(st.integers())
    def draw(n: int) -> None:
        drawn.append(nn.Linear(2, 1).weight.sum().item())

    draw()
    assert len(drawn) == 5 and len(set(drawn)) == 1


def test_a_permuted_tensor_reaches_a_local_response_norm(tmp_path: Path) -> None:
    """torch's LocalResponseNorm views a 5-D input as (N, 1, C, D, -1), which a tensor whose
    last two dimensions were swapped refuses; the export's Permute hands on a contiguous one."""
    spec = {"input": [2, 3, 4, 5], "layers": [{"type": "permute", "dims": [0, 1, 3, 2]}]}
    spec["layers"].append({"type": "local_response_norm", "size": 2})
    model = Generated(analyse(load_spec(spec)), tmp_path).build()
    x = torch.randn(2, 2, 3, 4, 5)
    with pytest.raises(RuntimeError, match="view size is not compatible"):
        nn.LocalResponseNorm(2)(x.transpose(3, 4))
    with torch.no_grad():
        got = model(x)
    torch.testing.assert_close(got, nn.LocalResponseNorm(2)(x.transpose(3, 4).contiguous()))


@pytest.mark.parametrize("mode", ["row", "batch"])
@pytest.mark.parametrize("p", [0.0, 0.3, 1.0])
def test_stochastic_depth_is_torchvisions(mode: str, p: float, tmp_path: Path) -> None:
    """The generated StochasticDepth draws the same noise as torchvision's, in training."""
    ops = import_torchvision().ops
    spec = {"input": [3, 4], "layers": [{"type": "stochastic_depth", "p": p, "mode": mode}]}
    ours = Generated(analyse(load_spec(spec)), tmp_path).module.StochasticDepth(p, mode).train()
    theirs = ops.StochasticDepth(p, mode).train()
    x = torch.ones(64, 3, 4)
    torch.manual_seed(7)
    mine = ours(x)
    torch.manual_seed(7)
    assert torch.equal(mine, theirs(x))
    assert torch.equal(ours.eval()(x), x)


# --- random specs ---------------------------------------------------------------------------


def accepted(shape: list[int], layers: list[Layer]) -> Report | None:
    try:
        return analyse(load_spec({"input": shape, "layers": layers}))
    except SpecError:  # refused while validating or analysing
        return None


def refused(report: Report) -> str | None:
    """Why the export refuses the report, or None if it writes it."""
    try:
        to_pytorch(report)
    except ExportError as refusal:
        return str(refusal)
    return None


def _divisors(n: int) -> list[int]:
    return [d for d in range(1, n + 1) if n % d == 0]


EPS = st.sampled_from([1e-5, 1e-3, 0.1, 1e-12])
FRACTION = st.floats(0, 1)
WINDOWED = ("conv", "conv_transpose", "maxpool", "avgpool", "adaptive_avgpool")
DRAWN = [
    *WINDOWED,
    *("adaptive_maxpool", "batchnorm", "groupnorm", "instancenorm", "layernorm"),
    *("local_response_norm", "linear", "flatten", "unflatten", "reshape", "permute"),
    *("channel_shuffle", "pad", "upsample", "dropout", "dropout1d", "dropout2d", "dropout3d"),
    *("stochastic_depth", "relu", "relu6", "prelu", "leaky_relu", "elu", "gelu", "silu"),
    *("mish", "hardswish", "hardsigmoid", "sigmoid", "tanh", "softplus", "softmax"),
    *("log_softmax", "identity", "hardtanh"),
    *("pixel_shuffle", "pixel_unshuffle", "unfold", "fold", "select_channels"),
    *("multihead_attention", "class_token", "position_embedding", "select", "layer_scale"),
    "layernorm2d",
    *("window_partition", "window_departition", "relative_position_attention"),
    *("shifted_window_attention", "shifted_window_attention_v2"),
    *("patch_merging", "patch_merging_v2"),
]


def _window(draw: st.DrawFn, kind: str, shape: list[int], layer: Layer) -> None:
    rank, channels = len(shape) - 1, shape[0]
    if kind == "adaptive_avgpool" or kind == "adaptive_maxpool":
        sizes = [draw(st.one_of(st.none(), st.integers(1, 3))) for _ in range(rank)]
        layer["output_size"] = sizes if draw(st.booleans()) else draw(st.integers(1, 3))
        return
    layer["kernel_size"] = dims(draw, rank, 1, 3)
    maybe(draw, layer, "stride", st.integers(1, 2))
    if kind in ("conv", "conv_transpose"):
        groups = draw(st.sampled_from(_divisors(channels)))
        layer["out_channels"] = groups * draw(st.integers(1, 2))
        if groups > 1:
            layer["groups"] = groups
        maybe(draw, layer, "dilation", st.integers(1, 2))
        maybe(draw, layer, "bias", st.booleans())
    if kind == "conv":
        maybe(draw, layer, "padding", st.sampled_from([0, 1, 2, "same", "valid"]))
        maybe(draw, layer, "padding_mode", st.sampled_from(["reflect", "replicate", "circular"]))
    elif kind == "conv_transpose":
        maybe(draw, layer, "padding", st.integers(0, 1))
        maybe(draw, layer, "output_padding", st.integers(0, 1))
    else:
        maybe(draw, layer, "padding", st.integers(0, 1))
        maybe(draw, layer, "ceil_mode", st.booleans())
    if kind == "maxpool":
        maybe(draw, layer, "dilation", st.integers(1, 2))
        maybe(draw, layer, "return_indices", st.just(False))
    if kind == "avgpool":
        maybe(draw, layer, "count_include_pad", st.booleans())
        if rank > 1:
            maybe(draw, layer, "divisor_override", st.integers(1, 5))


def _norm(draw: st.DrawFn, kind: str, shape: list[int], layer: Layer) -> None:
    if kind == "groupnorm":
        layer["num_groups"] = draw(st.sampled_from(_divisors(shape[0])))
    if kind == "layernorm2d":  # the trailing sizes of [H, W, C]: C, or (W, C)
        moved = [*shape[1:], shape[0]]
        trailing = moved[len(moved) - draw(st.integers(1, min(2, len(moved)))) :]
        layer["normalized_shape"] = trailing[0] if len(trailing) == 1 else trailing
        maybe(draw, layer, "elementwise_affine", st.booleans())
        maybe(draw, layer, "bias", st.booleans())
    if kind == "layernorm":
        trailing = shape[len(shape) - draw(st.integers(1, len(shape))) :]
        layer["normalized_shape"] = trailing[0] if len(trailing) == 1 else trailing
        maybe(draw, layer, "elementwise_affine", st.booleans())
        maybe(draw, layer, "bias", st.booleans())
    if kind == "local_response_norm":
        layer["size"] = draw(st.integers(1, 4))
        for key in ("alpha", "beta", "k"):
            maybe(draw, layer, key, st.floats(0.5, 2))
        return
    maybe(draw, layer, "eps", EPS)
    if kind in ("batchnorm", "instancenorm"):
        maybe(draw, layer, "momentum", st.one_of(st.none(), FRACTION))
        maybe(draw, layer, "track_running_stats", st.booleans())
    if kind not in ("layernorm", "layernorm2d"):
        maybe(draw, layer, "affine", st.booleans())


def _reshaping(draw: st.DrawFn, kind: str, shape: list[int], layer: Layer) -> None:
    rank = len(shape)
    if kind == "flatten":
        maybe(draw, layer, "start_dim", st.integers(-rank, rank - 1))
        maybe(draw, layer, "end_dim", st.integers(-rank, rank - 1))
    elif kind == "unflatten":
        dim = draw(st.integers(-rank, rank - 1))
        n = shape[dim]
        layer["dim"] = dim
        layer["unflattened_size"] = draw(st.sampled_from([[n, 1], [-1, 1], [1, -1], [n]]))
    elif kind == "reshape":
        total = math.prod(shape)
        d = draw(st.sampled_from(_divisors(total)))
        layer["shape"] = draw(st.sampled_from([[-1], [d, -1], [total // d, d], [1, d, -1]]))
    else:
        order = draw(st.permutations(range(rank)))
        layer["dims"] = [d - rank if draw(st.booleans()) else d for d in order]


NEEDED = {("linear", "out_features"), ("multihead_attention", "num_heads")}  # required fields


def _others(draw: st.DrawFn, kind: str, shape: list[int], layer: Layer) -> None:
    if kind in ("relu", "relu6", "silu", "mish", "hardswish", "hardsigmoid", "elu"):
        maybe(draw, layer, "inplace", st.booleans())
    if kind.startswith("dropout"):
        maybe(draw, layer, "p", FRACTION)
        maybe(draw, layer, "inplace", st.booleans())
    extra = {
        "stochastic_depth": {"p": FRACTION, "mode": st.sampled_from(["row", "batch"])},
        "prelu": {"num_parameters": st.sampled_from([1, shape[0]]), "init": FRACTION},
        "leaky_relu": {"negative_slope": st.floats(0, 1), "inplace": st.booleans()},
        "hardtanh": {"min_val": st.floats(-2, 0), "max_val": st.floats(0.5, 2)},
        "elu": {"alpha": st.floats(0.1, 2)},
        "gelu": {"approximate": st.sampled_from(["none", "tanh"])},
        "softplus": {"beta": st.floats(0.5, 2), "threshold": st.floats(1, 30)},
        "softmax": {"dim": st.integers(-len(shape) - 1, len(shape))},
        "log_softmax": {"dim": st.integers(-len(shape) - 1, len(shape))},
        "channel_shuffle": {"groups": st.sampled_from(_divisors(shape[0]))},
        "pixel_shuffle": {"upscale_factor": st.integers(1, 2)},
        "pixel_unshuffle": {"downscale_factor": st.integers(1, 2)},
        "unfold": {"kernel_size": st.integers(1, 2), "stride": st.integers(1, 2)},
        # a 1×1 kernel on [R, L]: L blocks fill an L×1 output
        "fold": {"kernel_size": st.just(1), "output_size": st.just([shape[-1], 1])},
        "select_channels": {
            "channels": st.lists(st.integers(-shape[0], shape[0] - 1), min_size=1, max_size=4)
        },
        "linear": {"out_features": st.integers(1, 4), "bias": st.booleans()},
        "multihead_attention": {
            "num_heads": st.sampled_from(_divisors(shape[-1])),
            "dropout": FRACTION,
            "bias": st.booleans(),
            "add_bias_kv": st.booleans(),
            "add_zero_attn": st.booleans(),
            "kdim": st.just(shape[-1]),
            "vdim": st.just(shape[-1]),
            "batch_first": st.booleans(),
        },
        "select": {"dim": st.integers(-len(shape), len(shape) - 1), "index": st.integers(-2, 1)},
        "layer_scale": {"layer_scale": st.floats(0.5, 2)},
        # MaxViT's: sizes that fit a [C, H, W] or a [G, P, D] input (not every draw does)
        "window_partition": {"p": st.integers(1, 2)},
        "window_departition": {
            "p": st.just(1),
            "h_partitions": st.just(shape[0]),
            "w_partitions": st.just(shape[1] if len(shape) > 1 else 1),
        },
        "relative_position_attention": {
            "head_dim": st.sampled_from(_divisors(shape[-1])),
            "max_seq_len": st.sampled_from([1, shape[1] if len(shape) > 1 else 1]),
        },
        # Swin's, on a channels-last [H, W, C] input (not every draw is one)
        **{
            kind: {
                "window_size": st.lists(st.integers(1, 3), min_size=2, max_size=2),
                "shift_size": st.lists(st.integers(0, 2), min_size=2, max_size=2),
                "num_heads": st.sampled_from(_divisors(shape[-1])),
                "qkv_bias": st.booleans(),
                "proj_bias": st.booleans(),
                "attention_dropout": FRACTION,
                "dropout": FRACTION,
            }
            for kind in ("shifted_window_attention", "shifted_window_attention_v2")
        },
    }.get(kind, {})
    required = {"stochastic_depth", "channel_shuffle", "pixel_shuffle", "pixel_unshuffle"}
    required |= {"unfold", "fold", "select_channels"}
    required |= {"window_partition", "window_departition", "relative_position_attention"}
    required |= {"shifted_window_attention", "shifted_window_attention_v2"}
    for key, values in extra.items():
        if kind in required or (kind, key) in NEEDED:
            layer[key] = draw(values)
        else:
            maybe(draw, layer, key, values)


NORMS = ("batchnorm", "groupnorm", "instancenorm", "layernorm", "layernorm2d")
NORMS += ("local_response_norm",)


@st.composite
def any_layer(draw: st.DrawFn, shape: list[int]) -> Layer:
    """A layer of any leaf type (but embedding) for an input ``shape``, most arguments drawn
    away from their defaults; not every draw fits the shape (the caller tries again)."""
    kind = draw(st.sampled_from(DRAWN))
    layer: Layer = {"type": kind}
    rank = len(shape) - 1
    if kind in WINDOWED or kind == "adaptive_maxpool":
        _window(draw, kind, shape, layer)
    elif kind in NORMS:
        _norm(draw, kind, shape, layer)
    elif kind in ("flatten", "unflatten", "reshape", "permute"):
        _reshaping(draw, kind, shape, layer)
    elif kind == "pad":
        mode = draw(st.sampled_from([None, "constant", "reflect", "replicate", "circular"]))
        layer = draw(pad_layers(rank, mode))
    elif kind == "upsample":
        layer = draw(upsample_layers(rank))
    else:
        _others(draw, kind, shape, layer)
    return layer


@st.composite
def any_chain(draw: st.DrawFn) -> tuple[list[int], list[Layer]]:
    """An input and 1 to 6 layers of any types that convcalc accepts, drawn one at a time."""
    shape = draw(shapes(channels=4))
    layers: list[Layer] = []
    current = shape
    for _ in range(draw(st.integers(1, 6))):
        for _ in range(5):  # a few tries for a layer that fits
            layer = draw(any_layer(current))
            report = accepted(shape, [*layers, layer])
            if report is not None:
                layers.append(layer)
                current = list(report.output_shape)
                break
    assume(layers)
    return shape, layers


@pytest.mark.full
@settings(max_examples=examples(500))
@given(spec=any_chain())
@example(  # drawn once: a batchnorm on [1, 1, 1, 1, 1], refused (no BatchNorm4d)
    spec=(
        [1, 1, 1],
        [
            {"type": "unflatten", "dim": 0, "unflattened_size": [1, 1]},
            {"type": "unflatten", "dim": 0, "unflattened_size": [1, 1]},
            {"type": "batchnorm"},
        ],
    )
)
@example(spec=([3, 4], [{"type": "softplus", "beta": 2, "threshold": 10}]))
def test_random_layers_round_trip(
    spec: tuple[list[int], list[Layer]], tmp_path_factory: Any
) -> None:
    """Every leaf type, arguments away from their defaults, on the CPU and on meta (batch 2: a
    batchnorm without running statistics needs two values a channel): the shapes, the
    parameters and every argument. A batchnorm on more than four dimensions (after a reshape)
    has no PyTorch class: test_refused's part."""
    report = accepted(*spec)
    assert report is not None
    refusal = refused(report)
    if refusal is not None:
        assert "PyTorch has no BatchNorm" in refusal, refusal
        assume(False)
    round_trip(report, tmp_path_factory.mktemp("export"), ("cpu", "meta"), 2, spec[1])


def test_random_layers_cover_every_leaf_type() -> None:
    assert set(DRAWN) | {"embedding"} | REFUSED == set(LEAF_TYPES)


@pytest.mark.full
@settings(max_examples=examples(300))
@given(stack=stacks())
def test_random_stacks_round_trip(
    stack: tuple[list[int], list[Layer]], tmp_path_factory: Any
) -> None:
    report = accepted(*stack)
    assume(report is not None)
    assert report is not None
    round_trip(report, tmp_path_factory.mktemp("export"), batch=2, layers=stack[1])


@pytest.mark.full
@settings(max_examples=examples(300))
@given(spec=block_specs())
def test_random_blocks_round_trip(
    spec: tuple[list[int], list[Layer]], tmp_path_factory: Any
) -> None:
    report = accepted(*spec)
    assume(report is not None)
    assert report is not None
    round_trip(report, tmp_path_factory.mktemp("export"), batch=2, layers=spec[1])


@pytest.mark.full
@settings(max_examples=examples(40))
@given(
    specs=st.lists(st.one_of(any_chain(), stacks(), block_specs()), min_size=6, max_size=6),
    names=st.lists(st.text(max_size=40), min_size=6, max_size=6),
)
def test_random_exports_pass_ruff(
    specs: list[tuple[list[int], list[Layer]]], names: list[str], tmp_path_factory: Any
) -> None:
    """Six files at a time (ruff runs once for them): any name, any layers, any nesting."""
    folder = tmp_path_factory.mktemp("ruff")
    paths = []
    for i, ((shape, layers), name) in enumerate(zip(specs, names, strict=True)):
        report = accepted(shape, layers)
        if report is None:
            continue
        named = [{**layer, "name": name} if j % 2 else layer for j, layer in enumerate(layers)]
        report = accepted(shape, named) or report
        report = dataclasses.replace(report, name=name)
        try:
            source = to_pytorch(report)
        except ExportError:  # a layer no module writes (BatchNorm4d): test_refused's part
            continue
        path = folder / f"net_{i}.py"
        path.write_text(source, encoding="utf-8")
        paths.append(path)
    assume(paths)
    check_ruff(paths, folder / "cache")


# --- depth and length -------------------------------------------------------------------------


def deep_report(kinds: list[str], depth: int) -> Report:
    order = [kinds[i % len(kinds)] for i in range(depth)]
    layer, _, _ = nest(order, {"type": "conv", "out_channels": 4, "kernel_size": 3, "padding": 1})
    return analyse(load_spec({"name": "deep", "input": [4, 6, 6], "layers": [layer]}))


@pytest.mark.full
@pytest.mark.parametrize("depth", [12, 500])
@pytest.mark.parametrize("kinds", [["residual"], ["sequential", "residual"], list(BLOCKS)])
def test_deep_nesting(kinds: list[str], depth: int, tmp_path: Path, recursion_limit: None) -> None:
    """Blocks nested beyond HOIST_AT columns are built first as variables: the file keeps
    within the line length and parses at any depth, and the module is the same."""
    report = deep_report(kinds, depth)
    sys.setrecursionlimit(1000 + 12 * depth)
    generated = round_trip(report, tmp_path)
    assert "block_1 = " in generated.source
    assert (f"Blocks nest {depth} deep" in generated.source) == (depth > 50)
    check_ruff([generated.path], tmp_path / "cache")


def _name_everything(layer: Layer, name: str) -> Layer:
    """The layer and every layer inside it named ``name``, without recursion."""
    stack = [layer]
    while stack:
        item = stack.pop()
        item["name"] = name
        for key in ("layers", "body", "shortcut"):
            stack.extend(item.get(key, []))
        for branch in item.get("branches", []):
            stack.extend(branch)
    return layer


@pytest.mark.full
@pytest.mark.parametrize("kinds", [["sequential"], list(BLOCKS), ["concat", "scale"]])
def test_long_names_deep_in_fit_the_line_length(
    kinds: list[str], tmp_path: Path, recursion_limit: None
) -> None:
    """The longest names, on every block nested 30 deep, the widest leaf innermost: every line
    of the file still fits in the project's line length (ruff check's E501)."""
    order = [kinds[i % len(kinds)] for i in range(30)]
    leaf = {
        "type": "conv_transpose",
        "out_channels": 4,
        "kernel_size": [3, 3],
        "stride": [1, 1],
        "padding": [1, 1],
        "dilation": [1, 1],
        "output_padding": [0, 0],
        "bias": False,
        "dtype": "torch.complex128",
    }
    layer, _, _ = nest(order, leaf)
    spec = {"name": "ｎ" * 80, "input": [4, 6, 6], "layers": [_name_everything(layer, "n" * 80)]}
    generated = Generated(analyse(load_spec(spec)), tmp_path)
    assert max(len(line) for line in generated.source.splitlines()) <= 100
    check_ruff([generated.path], tmp_path / "cache")


@pytest.mark.full
def test_long_shapes_in_the_docstring(tmp_path: Path) -> None:
    spec = {"input": [2, 3], "layers": [{"type": "reshape", "shape": [1] * 60 + [-1]}]}
    generated = round_trip(analyse(load_spec(spec)), tmp_path)
    assert "Output: 1x1x1x" in generated.source and "..." in generated.source
    check_ruff([generated.path], tmp_path / "cache")


@LONG
def test_chain_of_20000_layers(tmp_path: Path) -> None:
    """20,000 top-level layers, and as many in one repeat: the file compiles and passes ruff
    (building 10,000 convs takes PyTorch itself several seconds, run or not)."""
    layers: list[Layer] = [
        {"type": "conv", "out_channels": 4, "kernel_size": 1} if i % 2 == 0 else {"type": "relu"}
        for i in range(20_000)
    ]
    repeat = {"type": "repeat", "times": 10_000, "layers": layers[:2]}
    paths = []
    for i, spec_layers in enumerate([layers, [repeat]]):
        report = analyse(load_spec({"input": [4, 6, 6], "layers": spec_layers}))
        source = to_pytorch(report)
        assert source.count("nn.Conv2d(4, 4, kernel_size=1)") == 10_000
        assert source.count("nn.ReLU()") == 10_000
        compile(source, "chain.py", "exec")
        paths.append(tmp_path / f"chain_{i}.py")
        paths[-1].write_text(source, encoding="utf-8")
    check_ruff(paths, tmp_path / "cache")


def test_the_export_command(run, tmp_path) -> None:
    out = tmp_path / "net.py"
    result = run("export", "hw3-q3", "--to", "pytorch", "-o", str(out))
    assert result.exit_code == 0
    assert out.read_text(encoding="utf-8") == HW3_Q3
    named = run("export", "hw3-q3", "--class-name", "Homework").output
    assert "class Homework(nn.Sequential):" in named
    bad = run("export", "hw3-q3", "--class-name", "not a name")
    assert bad.exit_code == 2 and "Traceback" not in bad.stderr


# --- hostile names ------------------------------------------------------------------------

# full-width spellings of the file's own names, of builtins it calls, of a keyword, a dunder and
# an ambiguous letter: Python reads identifiers in NFKC, so each is that very name
FULL_WIDTH = ["ｔｏｒｃｈ", "ｎｎ", "ｓｕｐｅｒ", "ｐｒｉｎｔ", "ｔｕｐｌｅ", "ｓｙｓ",
              "ｍａｔｈ", "Ｒｅｓｉｄｕａｌ", "ｓｅｑｕｅｎｔｉａｌ", "ｃｌａｓｓ", "__ｎａｍｅ__",
              "Ｉ"]  # fmt: skip
ASCII_OF = ["torch", "nn", "super", "print", "tuple", "sys", "math", "Residual", "sequential",
            "class", "__name__", "I"]  # fmt: skip


@pytest.mark.parametrize(("name", "ascii_name"), list(zip(FULL_WIDTH, ASCII_OF, strict=True)))
def test_class_names_python_reads_as_reserved_are_refused(name: str, ascii_name: str) -> None:
    namespace: dict[str, Any] = {}
    exec(f"{name} = 1", namespace)  # Python itself takes the full-width name as the ASCII one
    assert namespace[ascii_name] == 1
    with pytest.raises(ConvcalcError, match="cannot name the class"):
        to_pytorch(analyse(load_spec("hw3-q3")), name)


def test_full_width_class_name_that_is_free(tmp_path: Path) -> None:
    """A full-width name that folds to no name of the file is taken, and the file runs (its
    class is, to Python, the ASCII name)."""
    generated = Generated(analyse(load_spec("hw3-q3")), tmp_path, "Ｈｏｍｅｗｏｒｋ")
    model = generated.module.Homework().eval()
    assert run(model, generated.report) == expected(generated.report)


SPEC_NAMES = ["ｎｎ", "nn", "ｔｏｒｃｈ", "torch", "ｓｕｐｅｒ", "super", "self", "ｐｒｉｎｔ",
              "print", "input", "sys", "math", "ｃｏｎｖ", "conv", "Ｒｅｓｉｄｕａｌ", "sequential",
              "Ｈｗ３Ｑ３", "Hw3Q3"]  # fmt: skip


@pytest.mark.parametrize("name", SPEC_NAMES)
def test_spec_names_never_become_the_files_own_names(
    name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], recursion_limit: None
) -> None:
    """Layer names (attributes) and block names 20 deep (built first, as local variables of
    __init__) that Python reads (NFKC) as the file's own names, builtins, the class or one
    another: every local is a name of its own, and the file imports, builds and runs."""
    order = [list(BLOCKS)[i % len(BLOCKS)] for i in range(20)]
    layer, _, _ = nest(order, {"type": "conv", "out_channels": 4, "kernel_size": 3, "padding": 1})
    leaves = [{"type": "relu", "name": other} for other in SPEC_NAMES]
    blocks = _name_everything(layer, name)
    spec = {"name": "Hw3Q3", "input": [4, 6, 6], "layers": [*leaves, blocks]}
    generated = round_trip(analyse(load_spec(spec)), tmp_path)
    tree = ast.parse(generated.source)
    assigned = [
        unicodedata.normalize("NFKC", target.id)
        for node in ast.walk(tree)
        if isinstance(node, ast.Assign)
        for target in node.targets
        if isinstance(target, ast.Name)
    ]
    locals_ = [local for local in assigned if local not in ("model", "output")]  # __main__'s
    assert len(locals_) >= 2 and len(set(locals_)) == len(locals_)
    python_names = {"torch", "nn", "super", "self", "sys", "math", "Residual", "Hw3Q3"}
    assert not (python_names | set(dir(builtins))) & set(locals_), locals_
    runpy.run_path(str(generated.path), run_name="__main__")
    assert capsys.readouterr().out.startswith("output shape: (1, 4, 6, 6)\n")


# a name as written, and as the generated docstrings must read back (written by hand): control
# characters shown as their escapes, quotes and backslashes as themselves
DOCSTRING_NAMES = [
    ("a\nb", "a\\nb"),
    ("nul\x00", "nul\\x00"),
    ("ls\u2028x", "ls\\u2028x"),
    ("nel\x85", "nel\\x85"),
    ('x"""y', 'x"""y'),
    ('a"""""b', 'a"""""b'),
    ("'''''", "'''''"),
    ('q"', 'q"'),
    ("back\\", "back\\"),
    ("\\x41\\N{BULLET}", "\\x41\\N{BULLET}"),
]


@pytest.mark.parametrize(("name", "shown"), DOCSTRING_NAMES)
def test_hostile_names_in_the_docstrings(name: str, shown: str, tmp_path: Path) -> None:
    """The spec's name (and its layers') in the module's and the class's docstrings: the file
    parses, its docstrings say the name, and the network is the one analysed."""
    layers = [{"type": "relu", "name": name}, {"type": "sequential", "name": name, "layers": []}]
    report = analyse(load_spec({"name": name, "input": [3, 4], "layers": layers}))
    generated = round_trip(report, tmp_path)
    tree = ast.parse(generated.source)
    module_doc = (ast.get_docstring(tree) or "").splitlines()[0]
    assert module_doc == f"A PyTorch module generated by convcalc from the spec {shown}."
    class_doc = ast.get_docstring(next(n for n in tree.body if isinstance(n, ast.ClassDef)))
    assert class_doc == f"The network {shown}, as convcalc analysed it."


@pytest.mark.full
@pytest.mark.parametrize("name", ['"' * 80, "'" * 80, "\\" * 80, "\x1b" * 80, "ｎ\\" * 40])
def test_long_hostile_names_are_cut_between_escapes(name: str, tmp_path: Path) -> None:
    """Cut to the docstring's width before escaping: no escape is cut in two, the file parses."""
    report = analyse(load_spec({"name": name, "input": [3, 4], "layers": []}))
    generated = round_trip(report, tmp_path)
    doc = (ast.get_docstring(ast.parse(generated.source)) or "").splitlines()[0]
    assert doc.endswith("...")
    check_ruff([generated.path], tmp_path / "cache")


@LONG
@pytest.mark.parametrize("kinds", [list(BLOCKS), ["concat"]], ids=["all", "concat"])
def test_main_block_runs_400_deep(kinds: list[str], tmp_path: Path) -> None:
    """The file's own __main__, run by Python with the default recursion limit, raises the
    limit it needs (PyTorch recurses about 9 frames a block: 400 levels overflow 1,000). One
    conv of 4 to 4 channels, kernel 3, inside: 4·4·9 + 4 = 148 parameters."""
    path = tmp_path / "deep.py"
    path.write_text(to_pytorch(deep_report(kinds, 400)), encoding="utf-8")
    result = subprocess.run(
        [sys.executable, str(path)], capture_output=True, text=True, timeout=600, check=False
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout == "output shape: (1, 4, 6, 6)\nparameters: 148\n"


def test_the_export_command_refuses_to_overwrite_its_input(run, tmp_path) -> None:
    """-o naming the spec itself (as written, through ./, a symbolic or a hard link): exit 2,
    and the spec untouched."""
    spec = tmp_path / "net.yaml"
    text = (ROOT / "specs" / "hw3-q3.yaml").read_text(encoding="utf-8")
    spec.write_text(text, encoding="utf-8")
    (tmp_path / "link.yaml").symlink_to(spec)
    os.link(spec, tmp_path / "hard.yaml")
    outputs = [spec, f"{tmp_path}/./net.yaml", tmp_path / "link.yaml", tmp_path / "hard.yaml"]
    for target in ("pytorch", "keras"):
        for output in outputs:
            result = run("export", str(spec), "--to", target, "-o", str(output))
            assert result.exit_code == 2
            assert "-o names the input" in result.stderr and "Traceback" not in result.stderr
            assert spec.read_text(encoding="utf-8") == text
    assert run("export", str(spec), "-o", str(tmp_path / "net.py")).exit_code == 0


@pytest.mark.full
def test_wide_class_names_fit_the_line_length(tmp_path: Path) -> None:
    """A full-width letter takes two columns: 30 of them are 60 columns, the most a class name
    may take (ruff measures width, not characters); 31 are refused."""
    generated = Generated(analyse(load_spec("hw3-q3")), tmp_path, "Ｎ" * 30)
    check_ruff([generated.path], tmp_path / "cache")
    with pytest.raises(ConvcalcError, match="cannot name the class"):
        to_pytorch(analyse(load_spec("hw3-q3")), "Ｎ" * 31)
