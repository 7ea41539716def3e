"""Multiply-adds under ptflops 0.7.5's convention (``backend="pytorch"``, default arguments)
against ptflops itself, on every zoo network it can run, and on single layers by hand.

ptflops runs the real model: a batch of one it builds itself, on the model's device. Models
with an ``nn.Linear`` run on the CPU (built on the meta device, then ``to_empty``: the values are
never read), because on the meta device ptflops counts every ``nn.Linear`` twice: meta's
``addmm`` is a Python decomposition calling ``torch.mm``, which ptflops wraps
(``test_meta_device_counts_linear_twice``). The two without one (squeezenet1_0, unet) run on
the meta device, where the count is the CPU's (checked once by hand: equal).

Every zoo spec with a PyTorch model runs: the eight torchvision models of TORCHVISION_MODELS,
alexnet, vgg16, the reference U-Net, and lenet5 and hw3-q3 written here as ``nn.Sequential`` as
their specs describe them. five-stages and hw3-mlp are not in the zoo list. The convention's
total equals ptflops' exactly on each: the leaves torchvision calls as functions (``F.relu``,
``F.*pool2d``, ``torch.flatten``) are marked ``functional: true`` in the specs and counted as
ptflops' patched function alone.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import pytest

import convcalc
from convcalc.analysis import Entry
from convcalc.views.conventions import ptflops as convention
from tests.budget import spec_params

pytestmark = pytest.mark.torch

# ptflops' own totals at a batch of one (the ResNet-50 figure is the published one); convcalc's
# sum of ``mult_adds`` over each spec must equal them exactly
TOTALS: dict[str, int] = {
    "resnet18": 1_825_313_768,
    "resnet50": 4_132_436_968,
    "mobilenet_v2": 320_300_008,
    "googlenet": 1_513_907_448,
    "densenet121": 2_899_843_048,
    "squeezenet1_0": 836_821_960,
    "efficientnet_b0": 410_196_896,
    "inception_v3": 5_747_660_552,
    "alexnet": 716_441_128,
    "vgg16": 15_523_225_576,
    "unet": 193_292_926_976,
    "lenet5": 435_646,
    "hw3-q3": 31_164_384,
}


@pytest.fixture(scope="module")
def ptflops() -> Any:
    from tests.torchvision_oracle import import_torchvision

    import_torchvision()  # ptflops imports torchvision.ops: the shim must come first
    return pytest.importorskip("ptflops")


def _count(ptflops: Any, model: Any, input_shape: Sequence[int]) -> int:
    import torch

    with torch.no_grad():
        macs, _ = ptflops.get_model_complexity_info(
            model,
            tuple(input_shape),
            as_strings=False,
            backend="pytorch",
            print_per_layer_stat=False,
        )
    assert macs is not None, "ptflops failed (it prints why)"
    return int(macs)


def _small_model(name: str) -> Any:
    from torch import nn

    if name == "lenet5":
        return nn.Sequential(
            nn.Conv2d(1, 6, 5), nn.Tanh(), nn.AvgPool2d(2),
            nn.Conv2d(6, 16, 5), nn.Tanh(), nn.AvgPool2d(2), nn.Flatten(),
            nn.Linear(400, 120), nn.Tanh(), nn.Linear(120, 84), nn.Tanh(), nn.Linear(84, 10),
        )  # fmt: skip
    return nn.Sequential(
        nn.Conv2d(3, 32, 8, stride=2), nn.MaxPool2d(5), nn.Conv2d(32, 128, 4, 1, 1)
    )


@pytest.mark.full
@pytest.mark.parametrize("name", spec_params(TOTALS, quick={"hw3-q3", "lenet5", "alexnet"}))
def test_total_equals_ptflops(ptflops: Any, name: str) -> None:
    import torch

    from tests.torchvision_oracle import TORCHVISION_MODELS, import_torchvision

    report = convcalc.analyse(convcalc.load_spec(name))
    if name in ("lenet5", "hw3-q3"):
        model = _small_model(name)
    else:
        with torch.device("meta"):
            if name == "unet":
                from tests.unet_reference import build_unet

                model = build_unet()
            else:
                constructor, kwargs, _ = TORCHVISION_MODELS.get(name, (name, {}, ()))
                model = getattr(import_torchvision().models, constructor)(weights=None, **kwargs)
        if any(isinstance(m, torch.nn.Linear) for m in model.modules()):
            model = model.to_empty(device="cpu")
    tool = _count(ptflops, model, report.input_shape)
    assert tool == TOTALS[name]
    assert sum(convention.mult_adds(e, 1) for e in report.leaves()) == tool


def _leaf(layer: dict[str, Any], shape: Sequence[int] = (4, 6, 6)) -> Entry:
    report = convcalc.analyse(convcalc.load_spec({"input": list(shape), "layers": [layer]}))
    (entry,) = report.leaves()
    return entry


Module = Callable[[Any], Any]  # torch.nn -> the module

# (spec layer, the same layer in torch, ptflops' count) on a 4×6×6 input: 144 elements
BY_HAND: list[tuple[dict[str, Any], Module, int]] = [
    # weight 8·4·3·3 = 288 × 36 output positions + bias: 8·36 output elements
    (
        {"type": "conv", "out_channels": 8, "kernel_size": 3, "padding": 1},
        lambda nn: nn.Conv2d(4, 8, 3, padding=1),
        288 * 36 + 8 * 36,
    ),
    # the weight's own kernel, not the dilated one: 8·2·3·3 = 144 × 2·2 output positions,
    # + bias: 8·2·2 output elements
    (
        {"type": "conv", "out_channels": 8, "kernel_size": 3, "dilation": 2, "groups": 2},
        lambda nn: nn.Conv2d(4, 8, 3, dilation=2, groups=2),
        144 * 4 + 8 * 2 * 2,
    ),
    # weight 4·2·3·3 = 72 × 36 *input* positions + bias: 2·13·13 output elements
    (
        {"type": "conv_transpose", "out_channels": 2, "kernel_size": 3, "stride": 2},
        lambda nn: nn.ConvTranspose2d(4, 2, 3, stride=2),
        72 * 36 + 2 * 13 * 13,
    ),
    # (6·5 + 5) × every leading dimension, 4·6
    ({"type": "linear", "out_features": 5}, lambda nn: nn.Linear(6, 5), 35 * 24),
    ({"type": "batchnorm"}, lambda nn: nn.BatchNorm2d(4), 2 * 144),  # affine: × 2
    ({"type": "batchnorm", "affine": False}, lambda nn: nn.BatchNorm2d(4, affine=False), 144),
    ({"type": "groupnorm", "num_groups": 2}, lambda nn: nn.GroupNorm(2, 4), 2 * 144),
    ({"type": "instancenorm"}, lambda nn: nn.InstanceNorm2d(4), 144),  # affine=False
    # LayerNorm has elementwise_affine, not the ``affine`` ptflops asks for: × 1
    ({"type": "layernorm", "normalized_shape": [6]}, lambda nn: nn.LayerNorm([6]), 144),
    # hook (output elements) + the wrapped F.relu inside forward (input elements)
    ({"type": "relu"}, lambda nn: nn.ReLU(), 2 * 144),
    ({"type": "gelu"}, lambda nn: nn.GELU(), 2 * 144),
    ({"type": "elu"}, lambda nn: nn.ELU(), 2 * 144),
    ({"type": "prelu"}, lambda nn: nn.PReLU(), 2 * 144),  # its one weight does not count
    ({"type": "relu6"}, lambda nn: nn.ReLU6(), 144),  # hook only: forward calls F.hardtanh
    ({"type": "leaky_relu"}, lambda nn: nn.LeakyReLU(), 144),  # F.leaky_relu is not wrapped
    ({"type": "silu"}, lambda nn: nn.SiLU(), 144),  # no hook: the wrapped F.silu only
    ({"type": "softmax", "dim": 0}, lambda nn: nn.Softmax(dim=1), 144),  # F.softmax only
    ({"type": "hardswish"}, lambda nn: nn.Hardswish(), 0),
    ({"type": "sigmoid"}, lambda nn: nn.Sigmoid(), 0),
    # hook (input elements) + the wrapped F.max_pool2d (input elements again)
    ({"type": "maxpool", "kernel_size": 2}, lambda nn: nn.MaxPool2d(2), 2 * 144),
    (
        {"type": "adaptive_avgpool", "output_size": 1},
        lambda nn: nn.AdaptiveAvgPool2d(1),
        2 * 144,
    ),
    # output elements 4·12·12 + F.interpolate: input elements × 2²
    ({"type": "upsample", "scale_factor": 2}, lambda nn: nn.Upsample(scale_factor=2), 576 + 576),
    # with a size, F.interpolate counts the output elements (4·9·9) too
    ({"type": "upsample", "size": 9}, lambda nn: nn.Upsample(size=9), 2 * 324),
    # output 4·9·9 + input elements × int(1.5)·int(1.5) (numpy's int64 cast of each factor)
    (
        {"type": "upsample", "scale_factor": [1.5, 1.5]},
        lambda nn: nn.Upsample(scale_factor=(1.5, 1.5)),
        324 + 144,
    ),
    # 3 wrapped Tensor.mul/add × 144 + F.avg_pool3d over (4 + 3 − 1) channels × 36 positions
    (
        {"type": "local_response_norm", "size": 3},
        lambda nn: nn.LocalResponseNorm(3),
        3 * 144 + 6 * 36,
    ),
]


@pytest.mark.every_case
@pytest.mark.parametrize(
    ("layer", "module", "count"),
    BY_HAND,
    ids=[f"{i}-{case[0]['type']}" for i, case in enumerate(BY_HAND)],
)
def test_single_layer_by_hand(
    ptflops: Any, layer: dict[str, Any], module: Module, count: int
) -> None:
    from torch import nn

    entry = _leaf(layer)
    assert convention.mult_adds(entry, 1) == count
    assert convention.mult_adds(entry, 3) == 3 * count
    assert _count(ptflops, module(nn), entry.input_shape) == count


def test_functional_calls_by_hand(ptflops: Any) -> None:
    import torch
    import torch.nn.functional as F
    from torch import nn

    class Functional(nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            x = F.interpolate(F.relu(F.max_pool2d(x, 2)), scale_factor=2)
            return torch.flatten(F.local_response_norm(x, 3), 1)

    layers: list[dict[str, Any]] = [
        {"type": "maxpool", "kernel_size": 2},
        {"type": "relu"},
        {"type": "upsample", "scale_factor": 2},
        {"type": "local_response_norm", "size": 3},
        {"type": "flatten"},
    ]
    marked = [{**layer, "functional": True} for layer in layers]
    functional = list(
        convcalc.analyse(convcalc.load_spec({"input": [4, 6, 6], "layers": marked})).leaves()
    )
    # F.max_pool2d: 144 input elements; F.relu: 4·3·3 = 36; F.interpolate: 36 input elements
    # × 2²; F.local_response_norm: 3 × 144 + (4 + 3 − 1) · 36 (as the module: it has no hook);
    # torch.flatten is not wrapped
    counts = [144, 36, 144, 3 * 144 + 6 * 36, 0]
    assert [convention.mult_adds(e, 1) for e in functional] == counts
    assert [convention.functional_mult_adds(e, 1) for e in functional] == counts
    assert _count(ptflops, Functional(), (4, 6, 6)) == sum(counts)

    class Modules(nn.Sequential):
        def __init__(self) -> None:
            super().__init__(
                nn.MaxPool2d(2), nn.ReLU(), nn.Upsample(scale_factor=2), nn.LocalResponseNorm(3),
                nn.Flatten(),
            )  # fmt: skip

    modules = list(
        convcalc.analyse(convcalc.load_spec({"input": [4, 6, 6], "layers": layers})).leaves()
    )
    # as modules: hook + wrapped function for the pool, the ReLU and the upsample (its hook
    # counts the 144 output elements); the LRN alike; nn.Flatten 0
    assert [convention.mult_adds(e, 1) for e in modules] == [288, 72, 288, 648, 0]
    assert _count(ptflops, Modules(), (4, 6, 6)) == 288 + 72 + 288 + 648


def test_merges_count_nothing(ptflops: Any) -> None:
    import torch
    from torch import nn

    class Residual(nn.Module):
        def __init__(self, add: bool) -> None:
            super().__init__()
            self.conv = nn.Conv2d(4, 4, 1, bias=False)
            self.add = add

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return torch.add(x, self.conv(x)) if self.add else x + self.conv(x)

    conv_1x1 = {"type": "conv", "out_channels": 4, "kernel_size": 1, "bias": False}
    spec = {"type": "residual", "body": [conv_1x1]}
    report = convcalc.analyse(convcalc.load_spec({"input": [4, 6, 6], "layers": [spec]}))
    conv = 16 * 36  # weight 4·4 × 36 positions
    assert sum(convention.mult_adds(e, 1) for e in report.leaves()) == conv
    assert _count(ptflops, Residual(add=False), (4, 6, 6)) == conv  # `+`: not wrapped
    # torch.add is wrapped: one per output element (no torchvision zoo model calls it)
    assert _count(ptflops, Residual(add=True), (4, 6, 6)) == conv + 144


def test_meta_device_counts_linear_twice(ptflops: Any) -> None:
    import torch
    from torch import nn

    entry = _leaf({"type": "linear", "out_features": 5}, (6,))
    assert convention.mult_adds(entry, 1) == 6 * 5 + 5
    with torch.device("meta"):
        model = nn.Linear(6, 5)
    # + 6·5 from the torch.mm inside meta's Python addmm, which ptflops wraps
    assert _count(ptflops, model, (6,)) == 6 * 5 + 5 + 6 * 5
    assert _count(ptflops, model.to_empty(device="cpu"), (6,)) == 6 * 5 + 5


def test_notes() -> None:
    assert convention.NOTES
    assert all(note and "\n" not in note for note in convention.NOTES)
    assert set(convention.FUNCTIONAL_RULES) <= set(convention.RULES)
