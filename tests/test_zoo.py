"""The zoo specs against the real PyTorch models, leaf module by leaf module.

Each torchvision model (and the reference U-Net in unet_reference.py) is built on the meta
device and run once with a forward hook on every leaf module; convcalc's report leaves for the
matching spec must agree with those calls in order, kind, output shape and parameter count (see
torchvision_oracle.match), and the totals must equal both torch's count and the published figure.
A spec leaf has no module call exactly when it is marked ``functional: true`` (the model calls it
as a function: ``torch.flatten``, ``F.relu``, ...).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

import pytest

pytest.importorskip("torch")

import torch

import convcalc
from tests.budget import spec_params
from tests.torchvision_oracle import (
    TORCHVISION_MODELS,
    Leaf,
    build_torchvision,
    import_torchvision,
    kind_of,
    match,
    run_model,
    torch_leaves,
    total_params,
)
from tests.unet_reference import INPUT_SHAPE as UNET_INPUT
from tests.unet_reference import build_unet

pytestmark = pytest.mark.torch

SPECS = Path(__file__).resolve().parent.parent / "specs"

# Published parameter counts, independent of both convcalc and this oracle: torchvision's model
# documentation (num_params) and, for U-Net, the common padded U-Net with batch norm.
PUBLISHED = {
    "resnet18": 11_689_512,
    "shufflenet_v2_x0_5": 1_366_792,
    "shufflenet_v2_x1_0": 2_278_604,
    "shufflenet_v2_x1_5": 3_503_624,
    "shufflenet_v2_x2_0": 7_393_996,
    "resnet50": 25_557_032,
    "mobilenet_v2": 3_504_872,
    "googlenet": 6_624_904,
    "densenet121": 7_978_856,
    "squeezenet1_0": 1_248_424,
    "efficientnet_b0": 5_288_548,
    "inception_v3": 23_834_568,  # without the auxiliary classifier
    # Swin_*_Weights and Swin_V2_*_Weights meta num_params (Swin-T: 28,288,354)
    "swin_t": 28_288_354,
    "swin_s": 49_606_258,
    "swin_b": 87_768_224,
    "swin_v2_t": 28_351_570,
    "swin_v2_s": 49_737_442,
    "swin_v2_b": 87_930_848,
    "maxvit_t": 30_919_624,  # MaxVit_T_Weights meta num_params
    "vgg11": 132_863_336,
    "vgg11_bn": 132_868_840,
    "vgg13": 133_047_848,
    "vgg13_bn": 133_053_736,
    "vgg16_bn": 138_365_992,
    "vgg19": 143_667_240,
    "vgg19_bn": 143_678_248,
    "resnet34": 21_797_672,
    "resnet101": 44_549_160,
    "resnet152": 60_192_808,
    "resnext50_32x4d": 25_028_904,
    "resnext101_32x8d": 88_791_336,
    "resnext101_64x4d": 83_455_272,
    "wide_resnet50_2": 68_883_240,
    "wide_resnet101_2": 126_886_696,
    "densenet161": 28_681_000,
    "densenet169": 14_149_480,
    "densenet201": 20_013_928,
    "squeezenet1_1": 1_235_496,
    "lraspp_mobilenet_v3_large": 3_221_538,
    "vit_b_16": 86_567_656,
    "vit_b_32": 88_224_232,
    "vit_l_16": 304_326_632,
    "vit_l_32": 306_535_400,
    # IMAGENET1K_SWAG_LINEAR_V1, at 224 as built here; the SWAG_E2E weights' 633,470,440 are
    # for 518×518 inputs, whose position embedding has 37² + 1 = 1,370 rows, not 16² + 1 = 257
    "vit_h_14": 632_045_800,
    "convnext_tiny": 28_589_128,
    "convnext_small": 50_223_688,
    "convnext_base": 88_591_464,
    "convnext_large": 197_767_336,
    "mobilenet_v3_small": 2_542_856,
    "mobilenet_v3_large": 5_483_032,
    "mnasnet0_5": 2_218_512,
    "mnasnet0_75": 3_170_208,
    "mnasnet1_0": 4_383_312,
    "mnasnet1_3": 6_282_256,
    "efficientnet_b1": 7_794_184,
    "efficientnet_b2": 9_109_994,
    "efficientnet_b3": 12_233_232,
    "efficientnet_b4": 19_341_616,
    "efficientnet_b5": 30_389_784,
    "efficientnet_b6": 43_040_704,
    "efficientnet_b7": 66_347_960,
    "efficientnet_v2_s": 21_458_488,
    "efficientnet_v2_m": 54_139_356,
    "efficientnet_v2_l": 118_515_272,
    "regnet_x_400mf": 5_495_976,
    "regnet_x_800mf": 7_259_656,
    "regnet_x_1_6gf": 9_190_136,
    "regnet_x_3_2gf": 15_296_552,
    "regnet_x_8gf": 39_572_648,
    "regnet_x_16gf": 54_278_536,
    "regnet_x_32gf": 107_811_560,
    "regnet_y_400mf": 4_344_144,
    "regnet_y_800mf": 6_432_512,
    "regnet_y_1_6gf": 11_202_430,
    "regnet_y_3_2gf": 19_436_338,
    "regnet_y_8gf": 39_381_472,
    "regnet_y_16gf": 83_590_140,
    "regnet_y_32gf": 145_046_770,
    # IMAGENET1K_SWAG_E2E_V1 (its DEFAULT; there are no IMAGENET1K_V1 weights)
    "regnet_y_128gf": 644_812_894,
    "unet": 31_037_698,
}
# torchvision's num_params for these segmentation weights count the auxiliary classifier, which
# the models built here (weights=None: aux_loss off) and the specs (the `out` head) lack: each
# figure is checked on the model built with aux_loss=True, the spec against the model without
PUBLISHED_WITH_AUX = {
    "fcn_resnet50": 35_322_218,
    "fcn_resnet101": 54_314_346,
    "deeplabv3_resnet50": 42_004_074,
    "deeplabv3_resnet101": 60_996_202,
    "deeplabv3_mobilenet_v3_large": 11_029_328,
}
MODELS = [*TORCHVISION_MODELS, "unet"]


@dataclass(frozen=True)
class TorchSide:
    leaves: list[Leaf]
    output_shape: tuple[int, ...]
    total_params: int
    input_shape: tuple[int, ...]


@functools.cache
def torch_side(name: str) -> TorchSide:
    """The model's leaf calls, output shape and parameter total (built once per session)."""
    if name == "unet":
        with torch.device("meta"):
            model = build_unet()
        input_shape: tuple[int, ...] = UNET_INPUT
    else:
        model, input_shape = build_torchvision(name)
    leaves, output_shape = run_model(model, input_shape)
    return TorchSide(leaves, output_shape, total_params(model), tuple(input_shape))


@pytest.mark.parametrize("name", spec_params(MODELS))
def test_torch_model_has_the_published_parameter_count(name: str) -> None:
    """The oracle's side alone: the model built here is the one the figures describe."""
    side = torch_side(name)
    if name in PUBLISHED_WITH_AUX:
        assert with_aux_params(name) == PUBLISHED_WITH_AUX[name]
        assert side.total_params < PUBLISHED_WITH_AUX[name]
    else:
        assert side.total_params == PUBLISHED[name]
    assert sum(leaf.params for leaf in side.leaves) == side.total_params


def with_aux_params(name: str) -> int:
    """The parameters of a segmentation model built with its auxiliary classifier."""
    constructor, kwargs, _ = TORCHVISION_MODELS[name]
    builder = getattr(import_torchvision().models.segmentation, constructor.split(".")[-1])
    with torch.device("meta"):
        return total_params(builder(weights=None, aux_loss=True, **kwargs))


@pytest.mark.parametrize("name", spec_params(MODELS))
def test_spec_matches_torch(name: str) -> None:
    path = SPECS / f"{name}.yaml"
    if not path.exists():
        pytest.skip(f"specs/{name}.yaml does not exist yet")
    side = torch_side(name)
    report = convcalc.analyse(convcalc.load_spec(str(path)))
    spec_leaves = list(report.leaves())
    assert spec_leaves, f"{name}: the report has no leaves"
    assert tuple(spec_leaves[0].input_shape) == side.input_shape
    problems = match(spec_leaves, side.leaves)
    assert problems == [], "\n".join(problems)
    assert report.total_params == side.total_params
    if name not in PUBLISHED_WITH_AUX:  # those: the test above
        assert report.total_params == PUBLISHED[name]
    assert tuple(report.output_shape) == side.output_shape


# --- the matcher itself -------------------------------------------------------------------


@dataclass(frozen=True)
class FakeSpecLeaf:
    """A stand-in for a convcalc report leaf, and for its spec layer (``functional``)."""

    type: str
    path: str
    output_shape: tuple[int, ...]
    params: int
    functional: bool = False

    @property
    def layer(self) -> FakeSpecLeaf:
        return self


Row = tuple[str, tuple[int, ...], int] | tuple[str, tuple[int, ...], int, bool]


def tiny_torch_leaves() -> list[Leaf]:
    """conv (2×2×2, 20 params), relu, flatten (8), linear (3, 27 params) on a 1×4×4 input."""
    nn = torch.nn
    with torch.device("meta"):
        model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU(), nn.Flatten(), nn.Linear(8, 3))
    return torch_leaves(model, (1, 4, 4))


def spec(*rows: Row) -> list[FakeSpecLeaf]:
    return [FakeSpecLeaf(row[0], f"layers.{i}", *row[1:]) for i, row in enumerate(rows)]


def functional(row: Row) -> Row:
    """The same leaf, marked ``functional: true``."""
    return (*row[:3], True)


CONV = ("conv", (2, 2, 2), 20)
RELU = ("relu", (2, 2, 2), 0)
FLATTEN = ("flatten", (8,), 0)
LINEAR = ("linear", (3,), 27)


def test_torch_leaves_of_a_tiny_model() -> None:
    assert [
        (leaf.kind, leaf.torch_class, leaf.output_shape, leaf.params, leaf.name)
        for leaf in tiny_torch_leaves()
    ] == [
        ("conv", "Conv2d", (2, 2, 2), 20, "0"),
        ("relu", "ReLU", (2, 2, 2), 0, "1"),
        ("flatten", "Flatten", (8,), 0, "2"),
        ("linear", "Linear", (3,), 27, "3"),
    ]


def test_torch_leaves_records_a_module_each_time_it_runs() -> None:
    class Twice(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv = torch.nn.Conv1d(2, 2, 1)
            self.act = torch.nn.ReLU()

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            out: torch.Tensor = self.act(self.conv(self.act(x)))
            return out

    with torch.device("meta"):
        model = Twice()
    assert [leaf.name for leaf in torch_leaves(model, (2, 5))] == ["act", "conv", "act"]


def test_match_accepts_equal_leaves_and_skips_function_calls() -> None:
    leaves = tiny_torch_leaves()
    assert match(spec(CONV, RELU, FLATTEN, LINEAR), leaves) == []
    # a dropout and a trailing flatten that torch ran as functions, marked so: skipped
    dropout, flatten = ("dropout", (2, 2, 2), 0), ("flatten", (3,), 0)
    extra = spec(CONV, RELU, functional(dropout), FLATTEN, LINEAR, functional(flatten))
    assert match(extra, leaves) == []


def test_match_never_skips_an_unmarked_leaf() -> None:
    dropout, flatten = ("dropout", (2, 2, 2), 0), ("flatten", (3,), 0)
    problems = match(spec(CONV, RELU, dropout, FLATTEN, LINEAR), tiny_torch_leaves())
    assert len(problems) == 1
    assert "Flatten" in problems[0] and "layers.2" in problems[0] and "functional" in problems[0]
    problems = match(spec(CONV, RELU, FLATTEN, LINEAR, flatten), tiny_torch_leaves())
    assert len(problems) == 1
    assert "left over" in problems[0] and "layers.4" in problems[0]


def test_match_never_pairs_a_marked_leaf_with_a_module() -> None:
    # torch ran nn.ReLU, but the spec says F.relu: the ReLU module has no counterpart
    problems = match(spec(CONV, functional(RELU), FLATTEN, LINEAR), tiny_torch_leaves())
    assert len(problems) == 1
    assert "ReLU" in problems[0] and "layers.1" in problems[0]
    assert "marked `functional: true`" in problems[0]
    # the same at the end: a marked trailing linear leaves torch's Linear unmatched
    problems = match(spec(CONV, RELU, FLATTEN, functional(LINEAR)), tiny_torch_leaves())
    assert len(problems) == 1 and "Linear" in problems[0] and "layers.3" in problems[0]


def test_match_reports_a_wrong_parameter_count() -> None:
    problems = match(spec(CONV, RELU, FLATTEN, ("linear", (3,), 24)), tiny_torch_leaves())
    assert len(problems) == 1
    assert "layers.3" in problems[0] and "24" in problems[0] and "27" in problems[0]
    assert "Linear" in problems[0]


def test_match_reports_a_wrong_shape() -> None:
    problems = match(spec(("conv", (2, 3, 3), 20), RELU, FLATTEN, LINEAR), tiny_torch_leaves())
    assert len(problems) == 1
    assert "layers.0" in problems[0] and "(2, 3, 3)" in problems[0] and "(2, 2, 2)" in problems[0]


def test_match_never_skips_a_torch_leaf() -> None:
    problems = match(spec(CONV, FLATTEN, LINEAR), tiny_torch_leaves())  # torch's ReLU missing
    assert len(problems) == 1
    assert "ReLU" in problems[0] and "layers.1" in problems[0]
    # nor when the leaves it would need to pass over are marked functional
    problems = match(spec(CONV, functional(FLATTEN), LINEAR), tiny_torch_leaves())
    assert len(problems) == 1
    assert "ReLU" in problems[0] and "layers.2" in problems[0]


def test_match_never_skips_a_spec_leaf_with_parameters() -> None:
    extra_bn = spec(CONV, ("batchnorm", (2, 2, 2), 4), RELU, FLATTEN, LINEAR)
    assert len(match(extra_bn, tiny_torch_leaves())) == 1
    extra_linear = spec(CONV, RELU, FLATTEN, LINEAR, ("linear", (3,), 12))
    problems = match(extra_linear, tiny_torch_leaves())
    assert len(problems) == 1 and "left over" in problems[0] and "layers.4" in problems[0]


def test_match_reports_missing_spec_leaves() -> None:
    problems = match(spec(CONV, RELU), tiny_torch_leaves())
    assert len(problems) == 1 and "Flatten" in problems[0]


def test_kind_of_refuses_an_unknown_class() -> None:
    with pytest.raises(KeyError, match="Bilinear"):
        kind_of(torch.nn.Bilinear(2, 2, 2))


# --- modules with children recorded as one leaf, and parameters held by non-leaf modules ----


def test_multihead_attention_is_one_leaf_with_all_its_parameters() -> None:
    """out_proj is a child that never runs as a module: the attention is recorded whole."""

    class SelfAttention(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.norm = torch.nn.LayerNorm(8)
            self.attention = torch.nn.MultiheadAttention(8, 2, batch_first=True)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            x = self.norm(x)
            out: torch.Tensor = self.attention(x, x, x, need_weights=False)[0]
            return out

    with torch.device("meta"):
        model = SelfAttention()
    leaves = torch_leaves(model, (5, 8))
    assert [(leaf.kind, leaf.output_shape, leaf.name) for leaf in leaves] == [
        ("layernorm", (5, 8), "norm"),
        ("multihead_attention", (5, 8), "attention"),
    ]
    assert leaves[1].params == total_params(model.attention) == 4 * 8 * 8 + 4 * 8
    assert sum(leaf.params for leaf in leaves) == total_params(model)


def test_parameters_of_non_leaf_modules_are_leaves_where_they_are_applied() -> None:
    """ViT's class token (before the encoder) and position embedding (first in the encoder)."""
    torchvision = import_torchvision()
    with torch.device("meta"):
        model = torchvision.models.VisionTransformer(
            image_size=32, patch_size=16, num_layers=1, num_heads=2, hidden_dim=8, mlp_dim=16
        )
    leaves = torch_leaves(model, (3, 32, 32))
    assert [(leaf.kind, leaf.output_shape, leaf.params) for leaf in leaves[:4]] == [
        ("conv", (8, 2, 2), 3 * 16 * 16 * 8 + 8),
        ("class_token", (5, 8), 8),
        ("position_embedding", (5, 8), 5 * 8),
        ("dropout", (5, 8), 0),
    ]
    assert [leaf.name for leaf in leaves[1:3]] == ["class_token", "encoder.pos_embedding"]
    assert sum(leaf.params for leaf in leaves) == total_params(model)


def test_layer_scale_is_recorded_after_the_block_before_stochastic_depth() -> None:
    torchvision = import_torchvision()
    with torch.device("meta"):
        model = torchvision.models.convnext.CNBlock(8, 1e-6, 0.0)
    leaves = torch_leaves(model, (8, 7, 7))
    assert [leaf.kind for leaf in leaves] == [
        *("conv", "permute", "layernorm", "linear", "gelu", "linear", "permute"),
        *("layer_scale", "stochastic_depth"),
    ]
    assert (leaves[-2].output_shape, leaves[-2].params, leaves[-2].name) == (
        (8, 7, 7),
        8,
        "layer_scale",
    )
    assert sum(leaf.params for leaf in leaves) == total_params(model)


def test_an_unknown_parameter_of_a_non_leaf_module_is_refused() -> None:
    class Gated(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv = torch.nn.Conv1d(2, 2, 1)
            self.gate = torch.nn.Parameter(torch.ones(2, 1))

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            out: torch.Tensor = self.gate * self.conv(x)
            return out

    with torch.device("meta"):
        model = Gated()
    with pytest.raises(KeyError, match="Gated holds parameter 'gate'"):
        torch_leaves(model, (2, 5))
