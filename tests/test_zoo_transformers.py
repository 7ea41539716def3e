"""zoo/transformers.py, the generator of the ViT and ConvNeXt specs.

The specs themselves are checked leaf for leaf against torchvision in test_zoo.py. That the
shipped YAML is exactly what the generator writes is test_zoo_generators.py's. Here: the
generator's configurations are torchvision's own (read from the models it builds), the
stochastic depth of every ConvNeXt block is torchvision's (to the 4 decimals written), and the
multiply-adds (convcalc's convention: every multiply-add of a matrix product) are the GFLOPS
figure torchvision publishes with the weights (``_ops``, to its 3 decimals).
"""

from __future__ import annotations

import types
from pathlib import Path

import pytest

import convcalc
from tests.zoo_scripts import load

ROOT = Path(__file__).resolve().parent.parent


zoo = load("transformers")
NAMES = [*zoo.VITS, *zoo.CONVNEXTS]


def _torchvision() -> types.ModuleType:
    from tests.torchvision_oracle import import_torchvision

    return import_torchvision()


@pytest.mark.torch
@pytest.mark.parametrize("name", list(zoo.VITS))
def test_vit_configurations_are_torchvisions(name: str) -> None:
    torch = pytest.importorskip("torch")
    with torch.device("meta"):
        model = getattr(_torchvision().models, name)(weights=None)
    block = model.encoder.layers[0]
    found = (
        model.patch_size,
        len(model.encoder.layers),
        block.self_attention.num_heads,
        model.hidden_dim,
        model.mlp_dim,
    )
    assert found == zoo.VITS[name]
    assert model.image_size == zoo.SIZE


@pytest.mark.torch
@pytest.mark.parametrize("name", list(zoo.CONVNEXTS))
def test_convnext_configurations_are_torchvisions(name: str) -> None:
    torch = pytest.importorskip("torch")
    convnext = _torchvision().models.convnext
    with torch.device("meta"):
        model = getattr(_torchvision().models, name)(weights=None)
    stages = [m for m in model.features if isinstance(m[0], convnext.CNBlock)]
    widths, depths, _ = zoo.CONVNEXTS[name]
    assert tuple(stage[0].layer_scale.shape[0] for stage in stages) == widths
    assert tuple(len(stage) for stage in stages) == depths
    drops = [block.stochastic_depth.p for stage in stages for block in stage]
    report = convcalc.analyse(convcalc.load_spec(name))
    written = [e.layer.p for e in report.leaves() if e.type == "stochastic_depth"]
    assert written == [round(p, 4) for p in drops]


WEIGHTS = {
    "vit_b_16": "ViT_B_16_Weights.IMAGENET1K_V1",
    "vit_b_32": "ViT_B_32_Weights.IMAGENET1K_V1",
    "vit_l_16": "ViT_L_16_Weights.IMAGENET1K_V1",
    "vit_l_32": "ViT_L_32_Weights.IMAGENET1K_V1",
    "vit_h_14": "ViT_H_14_Weights.IMAGENET1K_SWAG_LINEAR_V1",  # the 224 weights
    "convnext_tiny": "ConvNeXt_Tiny_Weights.IMAGENET1K_V1",
    "convnext_small": "ConvNeXt_Small_Weights.IMAGENET1K_V1",
    "convnext_base": "ConvNeXt_Base_Weights.IMAGENET1K_V1",
    "convnext_large": "ConvNeXt_Large_Weights.IMAGENET1K_V1",
}


@pytest.mark.torch
@pytest.mark.parametrize("name", NAMES)
def test_multiply_adds_are_torchvisions_published_gflops(name: str) -> None:
    pytest.importorskip("torch")
    group, member = WEIGHTS[name].split(".")
    weights = getattr(getattr(_torchvision().models, group), member)
    assert weights.transforms.keywords["crop_size"] == zoo.SIZE
    report = convcalc.analyse(convcalc.load_spec(name))
    assert round(report.total_mult_adds(1, "convcalc") / 1e9, 3) == weights.meta["_ops"]
