"""convcalc's fvcore convention against fvcore 0.1.5 itself (``FlopCountAnalysis(...).total()``).

fvcore traces with ``torch.jit``, which fails on the meta device (torch's meta shape checks
receive traced tensors), so every model is built on meta, moved to the CPU with
``to_empty`` and zero-filled (fvcore reads shapes only; this skips the weight initialisation),
and traced in ``eval()`` mode on a batch of one. Every zoo spec runs: the ten torchvision
models, the reference U-Net (the slowest, about 9 s of real convolutions at 3×512×512) and
the small bundled nets, written here as ``nn.Sequential``.
"""

from __future__ import annotations

import logging
from typing import Any

import pytest

import convcalc
from convcalc.errors import ConvcalcError
from convcalc.views.conventions import fvcore as convention
from tests.budget import spec_params

torch = pytest.importorskip("torch")
pytest.importorskip("fvcore.nn")
from fvcore.nn import FlopCountAnalysis  # noqa: E402

pytestmark = pytest.mark.torch
nn = torch.nn

# the torchvision models of the zoo: constructor and keyword arguments besides weights=None
TORCHVISION = {
    "resnet18": ("resnet18", {}),
    "resnet50": ("resnet50", {}),
    "mobilenet_v2": ("mobilenet_v2", {}),
    "googlenet": ("googlenet", {"aux_logits": False, "init_weights": False}),
    "densenet121": ("densenet121", {}),
    "squeezenet1_0": ("squeezenet1_0", {}),
    "efficientnet_b0": ("efficientnet_b0", {}),
    "inception_v3": ("inception_v3", {"aux_logits": False, "init_weights": False}),
    "alexnet": ("alexnet", {}),
    "vgg16": ("vgg16", {}),
}

# fvcore's own totals, as it printed them here (batch 1); the test recomputes each one
EXPECTED = {
    "resnet18": 1_819_065_856,
    "resnet50": 4_111_512_576,  # fvcore's published ResNet-50 figure
    "mobilenet_v2": 314_193_216,
    "googlenet": 1_504_878_688,
    "densenet121": 2_865_546_752,
    "squeezenet1_0": 819_093_576,
    "efficientnet_b0": 401_659_392,
    "inception_v3": 5_731_282_144,
    "alexnet": 714_197_696,
    "vgg16": 15_470_289_408,
    "unet": 192_942_178_304,
    "lenet5": 416_520,
    "hw3-q3": 30_791_680,
    "hw3-mlp": 203_264,
}


def small_net(name: str) -> Any:
    """The bundled small specs as PyTorch writes them."""
    if name == "lenet5":
        return nn.Sequential(
            nn.Conv2d(1, 6, 5), nn.Tanh(), nn.AvgPool2d(2),
            nn.Conv2d(6, 16, 5), nn.Tanh(), nn.AvgPool2d(2),
            nn.Flatten(),
            nn.Linear(400, 120), nn.Tanh(), nn.Linear(120, 84), nn.Tanh(), nn.Linear(84, 10),
        )  # fmt: skip
    if name == "hw3-q3":
        return nn.Sequential(
            nn.Conv2d(3, 32, 8, stride=2), nn.MaxPool2d(5, 5), nn.Conv2d(32, 128, 4, padding=1)
        )
    assert name == "hw3-mlp"
    return nn.Sequential(nn.Linear(784, 256), nn.ELU(), nn.Linear(256, 10), nn.Softmax(dim=0))


def build(name: str) -> Any:
    """The PyTorch model of a zoo spec, on the CPU, weights zero."""
    with torch.device("meta"):
        if name in TORCHVISION:
            from tests.torchvision_oracle import import_torchvision

            constructor, kwargs = TORCHVISION[name]
            model = getattr(import_torchvision().models, constructor)(weights=None, **kwargs)
        elif name == "unet":
            from tests.unet_reference import build_unet

            model = build_unet()
        else:
            model = small_net(name)
    model = model.to_empty(device="cpu")
    with torch.no_grad():
        for tensor in [*model.parameters(), *model.buffers()]:
            tensor.zero_()
    return model


def fvcore_total(model: Any, input_shape: tuple[int, ...], batch: int = 1) -> int:
    """fvcore's total for one forward pass in eval mode, its warnings off."""
    model.eval()
    logging.getLogger("fvcore").setLevel(logging.ERROR)
    with torch.no_grad():
        analysis = FlopCountAnalysis(model, torch.zeros(batch, *input_shape))
        analysis.unsupported_ops_warnings(False)
        analysis.uncalled_modules_warnings(False)
        return int(analysis.total())


def convcalc_total(spec: Any, batch: int = 1) -> int:
    report = convcalc.analyse(convcalc.load_spec(spec))
    return sum(convention.mult_adds(entry, batch) for entry in report.leaves())


# fvcore traces real convolutions on the CPU: the torchvision networks only in the full run
@pytest.mark.full
@pytest.mark.parametrize(
    "name", spec_params(EXPECTED, quick={"alexnet", "lenet5", "hw3-q3", "hw3-mlp"})
)
def test_zoo_totals_equal_fvcore(name: str) -> None:
    report = convcalc.analyse(convcalc.load_spec(name))
    ours = sum(convention.mult_adds(entry, 1) for entry in report.leaves())
    theirs = fvcore_total(build(name), report.input_shape)
    assert ours == theirs
    assert ours == EXPECTED[name]


def one(input_shape: list[int], layer: dict[str, Any]) -> dict[str, Any]:
    return {"name": "one", "input": input_shape, "layers": [layer]}


# (spec input, spec layer, the same layer in torch, fvcore's count derived by hand)
SINGLE = [
    # conv 3→8 3×3 p1 on 3×10×10: weight 8·3·3·3 = 216 × 10·10 output positions; no bias
    ([3, 10, 10], {"type": "conv", "out_channels": 8, "kernel_size": 3, "padding": 1},
     lambda: nn.Conv2d(3, 8, 3, padding=1), 21_600),
    # padding 'same' traces aten::_convolution_mode, which fvcore has no handle for
    ([3, 10, 10], {"type": "conv", "out_channels": 8, "kernel_size": 3, "padding": "same"},
     lambda: nn.Conv2d(3, 8, 3, padding="same"), 0),
    # ... but with reflect padding torch pads first and traces aten::_convolution: 21,600
    ([3, 10, 10], {"type": "conv", "out_channels": 8, "kernel_size": 3, "padding": "same",
                   "padding_mode": "reflect"},
     lambda: nn.Conv2d(3, 8, 3, padding="same", padding_mode="reflect"), 21_600),
    # conv_transpose 4→6 3×3 /2 g2 on 4×5×5: weight 4·3·3·3 = 108 × 5·5 *input* positions
    ([4, 5, 5], {"type": "conv_transpose", "out_channels": 6, "kernel_size": 3, "stride": 2,
                 "groups": 2},
     lambda: nn.ConvTranspose2d(4, 6, 3, stride=2, groups=2), 2_700),
    # linear 10→7 on [4, 5, 10]: 4·5·10 input values × 7 outputs; no bias
    ([4, 5, 10], {"type": "linear", "out_features": 7}, lambda: nn.Linear(10, 7), 1_400),
    # batchnorm (eval, running statistics) on 4×5×5: 100 elements × 2 (affine)
    ([4, 5, 5], {"type": "batchnorm"}, lambda: nn.BatchNorm2d(4), 200),
    # ... without affine: × 1
    ([4, 5, 5], {"type": "batchnorm", "affine": False},
     lambda: nn.BatchNorm2d(4, affine=False), 100),
    # ... batch statistics even in eval: fvcore's training rule, × 5
    ([4, 5, 5], {"type": "batchnorm", "track_running_stats": False},
     lambda: nn.BatchNorm2d(4, track_running_stats=False), 500),
    # layernorm(5) on 4×5×5: 100 elements × 5 (it has a weight)
    ([4, 5, 5], {"type": "layernorm", "normalized_shape": 5}, lambda: nn.LayerNorm(5), 500),
    # groupnorm without affine: 100 elements × 4
    ([4, 5, 5], {"type": "groupnorm", "num_groups": 2, "affine": False},
     lambda: nn.GroupNorm(2, 4, affine=False), 400),
    # instancenorm1d (no affine by default) on 4×5: 20 elements × 4
    ([4, 5], {"type": "instancenorm"}, lambda: nn.InstanceNorm1d(4), 80),
    # bilinear ×2 on 4×5×5: 4·10·10 = 400 output elements × 4
    ([4, 5, 5], {"type": "upsample", "scale_factor": 2, "mode": "bilinear"},
     lambda: nn.Upsample(scale_factor=2, mode="bilinear"), 1_600),
    # nearest in 1-D: aten::upsample_nearest1d has no handle
    ([4, 5], {"type": "upsample", "scale_factor": 2}, lambda: nn.Upsample(scale_factor=2), 0),
    # adaptive average pooling to 2×2 on 4×5×5: one per *input* element, 100
    ([4, 5, 5], {"type": "adaptive_avgpool", "output_size": 2},
     lambda: nn.AdaptiveAvgPool2d(2), 100),
    # ... in 3-D: aten::adaptive_avg_pool3d has no handle
    ([4, 3, 3, 3], {"type": "adaptive_avgpool", "output_size": 2},
     lambda: nn.AdaptiveAvgPool3d(2), 0),
    # activations, pooling, prelu: no handle
    ([4, 5, 5], {"type": "prelu"}, lambda: nn.PReLU(), 0),
    ([4, 5, 5], {"type": "maxpool", "kernel_size": 2}, lambda: nn.MaxPool2d(2), 0),
    ([4, 5, 5], {"type": "silu"}, lambda: nn.SiLU(), 0),
]  # fmt: skip


@pytest.mark.every_case
@pytest.mark.parametrize(("shape", "layer", "module", "count"), SINGLE)
def test_single_layers(shape: list[int], layer: dict[str, Any], module: Any, count: int) -> None:
    assert convcalc_total(one(shape, layer)) == count
    assert fvcore_total(module(), tuple(shape)) == count


def test_batch_multiplies_every_rule() -> None:
    # conv 21,600 + batchnorm 2·8·10·10 = 1,600 + bilinear 4·8·20·20 = 12,800, each × 3
    spec = {
        "name": "three",
        "input": [3, 10, 10],
        "layers": [
            {"type": "conv", "out_channels": 8, "kernel_size": 3, "padding": 1},
            {"type": "batchnorm"},
            {"type": "upsample", "scale_factor": 2, "mode": "bilinear"},
        ],
    }
    model = nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1),
        nn.BatchNorm2d(8),
        nn.Upsample(scale_factor=2, mode="bilinear"),
    )
    assert convcalc_total(spec, batch=3) == 3 * (21_600 + 1_600 + 12_800)
    assert fvcore_total(model, (3, 10, 10), batch=3) == 3 * (21_600 + 1_600 + 12_800)


def test_norm_beyond_five_dimensions_fails_as_fvcore_does() -> None:
    # groupnorm on [4, 2, 2, 2, 2] (a reshape gets there) is 6-D with the batch: fvcore's norm
    # handler asserts 2 to 5 dimensions
    spec = {
        "name": "deep",
        "input": [64],
        "layers": [
            {"type": "reshape", "shape": [4, 2, 2, 2, 2]},
            {"type": "groupnorm", "num_groups": 2},
        ],
    }
    with pytest.raises(ConvcalcError, match="fvcore"):
        convcalc_total(spec)
    with pytest.raises(AssertionError):
        fvcore_total(nn.GroupNorm(2, 4), (4, 2, 2, 2, 2))
