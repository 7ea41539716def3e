"""convcalc.views.conventions.thop against thop 0.1.1's own ``thop.profile``.

For every zoo spec with a PyTorch model, each leaf of convcalc's report counts what thop counts
for the module call it stands for, and the sums equal thop's total for that model, exactly; and
a few single layers, each number derived by hand from thop's rule, equal both the convention and
thop on the same module. thop works on the meta device (its rules read shapes only), so the
models are built there with a batch of one.

The models come from outside convcalc (tests/independent.py): the torchvision ones (with alexnet
and vgg16), the reference U-Net (tests/unet_reference.py), and lenet5, hw3-q3 and hw3-mlp,
which have no model of their own: an ``nn.Sequential`` made from the spec file's YAML, each
module sized by the tensor torch produced before it. Where a model calls an operation as a function
(``F.adaptive_avg_pool2d`` before DenseNet-121's and MobileNetV2's classifier, ``F.avg_pool2d``
in Inception v3's InceptionA/C/E blocks, ``F.relu``, ``torch.flatten``), thop (module hooks)
never sees it; the spec marks that leaf ``functional: true`` and the convention counts it 0, so
the totals are equal on every spec."""

from __future__ import annotations

import dataclasses
import warnings
from collections.abc import Callable
from typing import Any

import pytest

import convcalc
from convcalc.analysis import Entry
from convcalc.views.conventions import thop as convention
from tests.budget import spec_params
from tests.independent import zoo_model

pytestmark = pytest.mark.torch

ZOO = [
    "resnet18",
    "resnet50",
    "mobilenet_v2",
    "googlenet",
    "densenet121",
    "squeezenet1_0",
    "efficientnet_b0",
    "inception_v3",
    "alexnet",
    "vgg16",
    "unet",
    "lenet5",
    "hw3-q3",
    "hw3-mlp",
]
# thop's own totals at a batch of one, for the record (the test compares with thop live)
THOP_TOTALS = {
    "resnet18": 1_824_033_792,
    "resnet50": 4_133_742_592,
    "mobilenet_v2": 327_486_720,
    "googlenet": 1_511_332_032,
    "densenet121": 2_897_007_104,
    "squeezenet1_0": 819_094_576,
    "efficientnet_b0": 415_145_024,
    "inception_v3": 5_749_219_168,
    "alexnet": 714_206_912,
    "vgg16": 15_470_314_496,
    "unet": 218_967_834_624,
    "lenet5": 418_096,
    "hw3-q3": 30_791_680,
    # by hand: linear 784 · 256 and 256 · 10 (no bias term), ELU no rule, one softmax of 10:
    # 3·10 − 1
    "hw3-mlp": 784 * 256 + 256 * 10 + 29,
}
# what the functional marks change: the leaves so marked that thop would count if they were
# modules (every other marked leaf is a ReLU, max pool or flatten: 0 either way). The final
# 7×7 → 1×1 adaptive pools: (49 + 1) per output element; Inception v3's F.avg_pool2d, 1 per
# output element: InceptionA over 192, 256, 288 channels at 35×35, InceptionC's four over 768 at
# 17×17, InceptionE over 1280 and 2048 at 8×8
FUNCTIONAL_POOLS = {
    "densenet121": 1024 * (49 + 1),
    "mobilenet_v2": 1280 * (49 + 1),
    "inception_v3": 35 * 35 * (192 + 256 + 288) + 4 * 17 * 17 * 768 + 8 * 8 * (1280 + 2048),
}


def thop_total(model: Any, input_shape: tuple[int, ...], batch: int = 1) -> int:
    """thop.profile's multiply-adds for one forward pass on the meta device."""
    return thop_calls(model, input_shape, batch)[0]


def thop_calls(
    model: Any, input_shape: tuple[int, ...], batch: int = 1
) -> tuple[int, list[tuple[str, str, int]]]:
    """thop.profile's total, and what its rules counted for each call of a leaf module, in the
    order the model ran them: (spec type of the module's class, its name in the model, count).

    thop adds each call's count to a buffer of the module (``total_ops``) and sums the buffers
    at the end; here every rule of thop's table is wrapped to hand the amount it adds to the
    call being run (a forward hook on every leaf, registered before thop's, opens the call's
    record), so a module run twice (ResNet's shared ReLU) has a count per call. A leaf with no
    rule in thop's table counts 0. The calls must add up to thop's own total.
    """
    torch = pytest.importorskip("torch")
    thop = pytest.importorskip("thop")
    from thop.profile import register_hooks  # type: ignore[import-untyped]

    from tests.torchvision_oracle import kind_of

    names = {id(module): name for name, module in model.named_modules()}
    calls: list[list[Any]] = []

    def opened(module: Any, _inputs: Any, _output: Any) -> None:
        calls.append([module, 0])

    def wrapped(rule: Callable[..., None]) -> Callable[..., None]:
        def counted(module: Any, inputs: Any, output: Any) -> None:
            before = float(module.total_ops.item())
            rule(module, inputs, output)
            added = float(module.total_ops.item()) - before
            if next(iter(module.children()), None) is not None:
                assert added == 0, f"thop counted the container {names[id(module)]}"
                return
            assert calls and calls[-1][0] is module, "a rule ran outside its module's call"
            calls[-1][1] += added

        return counted

    handles = [
        module.register_forward_hook(opened)
        for module in model.modules()
        if next(iter(module.children()), None) is None
    ]
    x = torch.empty((batch, *input_shape), device="meta")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            macs, _params = thop.profile(
                model,
                inputs=(x,),
                custom_ops={kind: wrapped(rule) for kind, rule in register_hooks.items()},
                verbose=False,
            )
    finally:
        for handle in handles:
            handle.remove()
    total = int(macs)
    assert total == macs
    counted = [(kind_of(module), names[id(module)], int(count)) for module, count in calls]
    assert all(count == int(count) for _module, count in calls)
    assert sum(count for *_, count in counted) == total
    return total, counted


def leaf_as_module(entry: Entry) -> Entry:
    """The same leaf as if the model ran it as a module (its ``functional`` mark dropped)."""
    return dataclasses.replace(entry, layer=entry.layer.model_copy(update={"functional": False}))


@pytest.mark.full
@pytest.mark.parametrize(
    "name", spec_params(ZOO, quick={"resnet18", "alexnet", "lenet5", "hw3-q3"})
)
def test_zoo_equals_thop_leaf_by_leaf(name: str) -> None:
    """The PyTorch model is built without convcalc (tests/independent.py: torchvision's, the
    reference U-Net, or the plain stack made from the spec file's own YAML); thop counts each
    leaf module's call, and convcalc's leaf standing for it (the next one not marked
    functional, of the same kind) must count the same, the functional ones 0."""
    pytest.importorskip("thop")
    model, input_shape = zoo_model(name)
    tool, calls = thop_calls(model, input_shape)
    assert tool == THOP_TOTALS[name]
    report = convcalc.analyse(convcalc.load_spec(name))
    assert tuple(report.input_shape) == input_shape
    leaves = list(report.leaves())
    modules = [entry for entry in leaves if not entry.layer.functional]
    assert len(modules) == len(calls), (len(modules), len(calls))
    wrong = [
        f"{entry.path} ({entry.type}): {convention.mult_adds(entry, 1)}, thop {count} "
        f"for {where} ({kind})"
        for entry, (kind, where, count) in zip(modules, calls, strict=True)
        if (entry.type, convention.mult_adds(entry, 1)) != (kind, count)
    ]
    assert wrong == [], "\n".join(wrong[:12])
    functional = [e.path for e in leaves if e.layer.functional and convention.mult_adds(e, 1)]
    assert functional == [], "a leaf thop never sees is counted"
    assert sum(convention.mult_adds(entry, 1) for entry in leaves) == tool
    # the functional leaves count 0; as modules, the pools among them would count
    total = sum(convention.mult_adds(entry, 1) for entry in leaves)
    as_modules = sum(convention.mult_adds(leaf_as_module(e), 1) for e in leaves)
    assert as_modules - total == FUNCTIONAL_POOLS.get(name, 0)


# --- single layers, by hand -------------------------------------------------------------------

# (spec input, spec layer, batch, thop's count derived from its rule, the torch module)
HAND: dict[str, tuple[list[int], dict[str, Any], int, int, Callable[[Any], Any]]] = {
    # count_convNd: prod(y.shape) · (in_c // groups) · prod(weight kernel) (dilation and bias
    # ignored): y = 2×6×10×10 = 1200, in_c // groups = 4 // 2 = 2, kernel 3·3 → 1200·2·9
    "conv": (
        [4, 10, 10],
        {
            "type": "conv",
            "out_channels": 6,
            "kernel_size": 3,
            "padding": 2,
            "dilation": 2,
            "groups": 2,
        },
        2,
        21_600,
        lambda nn: nn.Conv2d(4, 6, 3, padding=2, dilation=2, groups=2),
    ),
    # the same rule over the transposed conv's output: y = 2×4×10×10 = 800, in_c 8, 2·2 → 800·8·4
    "conv_transpose": (
        [8, 5, 5],
        {"type": "conv_transpose", "out_channels": 4, "kernel_size": 2, "stride": 2},
        2,
        25_600,
        lambda nn: nn.ConvTranspose2d(8, 4, 2, stride=2),
    ),
    # count_linear: in_features · prod(y.shape) = 7 · (2·5·3); no bias term
    "linear": (
        [5, 7],
        {"type": "linear", "out_features": 3},
        2,
        210,
        lambda nn: nn.Linear(7, 3),
    ),
    # count_normalization: 2 · x.numel(), doubled with affine: 2 · 2 · (2·3·4·4 = 96)
    "batchnorm": ([3, 4, 4], {"type": "batchnorm"}, 2, 384, lambda nn: nn.BatchNorm2d(3)),
    # without affine: 2 · 96
    "batchnorm_plain": (
        [3, 4, 4],
        {"type": "batchnorm", "affine": False},
        2,
        192,
        lambda nn: nn.BatchNorm2d(3, affine=False),
    ),
    # LayerNorm's elementwise_affine doubles too: 4 · (2·5·4 = 40)
    "layernorm": (
        [5, 4],
        {"type": "layernorm", "normalized_shape": [4]},
        2,
        160,
        lambda nn: nn.LayerNorm(4),
    ),
    # InstanceNorm2d is not affine by default: 2 · 96
    "instancenorm": ([3, 4, 4], {"type": "instancenorm"}, 2, 192, lambda nn: nn.InstanceNorm2d(3)),
    # GroupNorm has no rule: 0
    "groupnorm": (
        [4, 4, 4],
        {"type": "groupnorm", "num_groups": 2},
        2,
        0,
        lambda nn: nn.GroupNorm(2, 4),
    ),
    # count_avgpool: y.numel() = 2·2·4·4, the 3×3 window ignored
    "avgpool": (
        [2, 9, 9],
        {"type": "avgpool", "kernel_size": 3, "stride": 2},
        2,
        64,
        lambda nn: nn.AvgPool2d(3, 2),
    ),
    # count_adap_avgpool: int((prod(in / out) + 1) · y.numel()) in float64:
    # (2/1)·(11/3) = 7.333333333333333, + 1 → 8.333333333333332, · 3 = 24.999999999999996 → 24
    # (not 25 = 2·11 + 1·3: truncation after rounding)
    "adaptive_avgpool": (
        [1, 2, 11],
        {"type": "adaptive_avgpool", "output_size": [1, 3]},
        1,
        24,
        lambda nn: nn.AdaptiveAvgPool2d((1, 3)),
    ),
    # count_upsample: y.nelement() · 11 for bilinear = 11 · (2·1·6·6)
    "upsample_bilinear": (
        [1, 3, 3],
        {"type": "upsample", "scale_factor": 2, "mode": "bilinear"},
        2,
        792,
        lambda nn: nn.Upsample(scale_factor=2, mode="bilinear"),
    ),
    # nearest: y.nelement() = 2·1·6·6
    "upsample_nearest": (
        [1, 3, 3],
        {"type": "upsample", "scale_factor": 2},
        2,
        72,
        lambda nn: nn.Upsample(scale_factor=2),
    ),
    # trilinear is not in count_upsample's list: a warning and 0
    "upsample_trilinear": (
        [1, 2, 2, 2],
        {"type": "upsample", "scale_factor": 2, "mode": "trilinear"},
        2,
        0,
        lambda nn: nn.Upsample(scale_factor=2, mode="trilinear"),
    ),
    # count_softmax: (numel / n) softmaxes of n = 5, each 5 exp + 4 add + 5 div: (2·3) · 14
    "softmax": ([3, 5], {"type": "softmax", "dim": -1}, 2, 84, lambda nn: nn.Softmax(dim=-1)),
    # count_prelu in eval mode: x.numel() = 2·3·4
    "prelu": ([3, 4], {"type": "prelu"}, 2, 24, lambda nn: nn.PReLU()),
    # zero_ops (ReLU, MaxPool) and no rule (SiLU): 0
    "relu": ([3, 4, 4], {"type": "relu"}, 2, 0, lambda nn: nn.ReLU()),
    "maxpool": ([3, 4, 4], {"type": "maxpool", "kernel_size": 2}, 2, 0, lambda nn: nn.MaxPool2d(2)),
    "silu": ([3, 4, 4], {"type": "silu"}, 2, 0, lambda nn: nn.SiLU()),
}


def one_leaf(spec_input: list[int], layer: dict[str, Any]) -> Any:
    report = convcalc.analyse(convcalc.load_spec({"input": spec_input, "layers": [layer]}))
    (leaf,) = report.leaves()
    return leaf


@pytest.mark.every_case
@pytest.mark.parametrize("case", HAND)
def test_single_layer_by_hand(case: str) -> None:
    spec_input, layer, batch, expected, _module = HAND[case]
    assert convention.mult_adds(one_leaf(spec_input, layer), batch) == expected


@pytest.mark.every_case
@pytest.mark.parametrize("case", HAND)
def test_single_layer_equals_thop(case: str) -> None:
    torch = pytest.importorskip("torch")
    pytest.importorskip("thop")
    spec_input, _layer, batch, expected, module = HAND[case]
    with torch.device("meta"):
        model = module(torch.nn)
    assert thop_total(model, tuple(spec_input), batch) == expected


def test_functional_leaves_count_zero() -> None:
    """F.avg_pool2d, F.relu and torch.flatten: thop sees only the conv and the linear."""
    pytest.importorskip("torch")
    pytest.importorskip("thop")
    import torch
    import torch.nn.functional as F
    from torch import nn

    class Functional(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv = nn.Conv2d(1, 2, 3)
            self.fc = nn.Linear(8, 3)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            out: torch.Tensor = self.fc(torch.flatten(F.relu(F.avg_pool2d(self.conv(x), 2)), 1))
            return out

    layers: list[dict[str, Any]] = [
        {"type": "conv", "out_channels": 2, "kernel_size": 3},
        {"type": "avgpool", "kernel_size": 2, "functional": True},
        {"type": "relu", "functional": True},
        {"type": "flatten", "functional": True},
        {"type": "linear", "out_features": 3},
    ]
    spec = {"input": [1, 6, 6], "layers": layers}
    leaves = list(convcalc.analyse(convcalc.load_spec(spec)).leaves())
    # conv: 2·4·4 output elements · 1 input channel · 3·3 = 288; linear: 8 · 3 = 24; the rest 0
    assert [convention.mult_adds(e, 1) for e in leaves] == [288, 0, 0, 0, 24]
    # as a module the avg pool would count its 2·2·2 output elements
    assert convention.mult_adds(leaf_as_module(leaves[1]), 1) == 8
    with torch.device("meta"):
        model = Functional()
    assert thop_total(model, (1, 6, 6)) == 288 + 24


def test_blocks_count_their_leaves_only() -> None:
    """A residual add counts nothing: the block is the sum of its two convolutions."""
    spec = {
        "input": [2, 4, 4],
        "layers": [
            {"type": "residual", "body": [{"type": "conv", "out_channels": 2, "kernel_size": 1}]}
        ],
    }
    leaves = list(convcalc.analyse(convcalc.load_spec(spec)).leaves())
    # one 1×1 conv, 2 → 2 channels on 4×4: 2·4·4 · 2 · 1 = 64; no shortcut layer, no add
    assert sum(convention.mult_adds(e, 1) for e in leaves) == 64


def test_notes_one_line_each() -> None:
    assert convention.NOTES
    assert all(note and "\n" not in note for note in convention.NOTES)
