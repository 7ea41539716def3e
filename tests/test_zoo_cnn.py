"""zoo/cnn.py, the generator of the VGG, ResNet, ResNeXt, Wide ResNet, DenseNet, SqueezeNet 1.1 and
segmentation (FCN, DeepLabV3, LR-ASPP) specs.

The specs themselves are checked leaf for leaf against torchvision in test_zoo.py. That the
shipped YAML is exactly what the generator writes is test_zoo_generators.py's. Here: each input
is the size of the DEFAULT weights' evaluation transform, and the parameter count each header
states is torchvision's published one (for FCN and DeepLabV3, less the auxiliary classifier the
spec leaves out, as torch counts it; LR-ASPP has none).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from tests.zoo_scripts import load

ROOT = Path(__file__).resolve().parent.parent


cnn = load("cnn")
NAMES = list(cnn.MODELS)
SEGMENTATION = [name for name in NAMES if name.startswith(("fcn_", "deeplabv3_"))]


def test_every_model_of_the_families_is_written() -> None:
    """torchvision 0.28's models of these families but those bundled by hand (vgg16,
    resnet18/50, densenet121, squeezenet1_0)."""
    assert len(NAMES) == 25
    assert sum(name.startswith("vgg") for name in NAMES) == 7
    assert len(SEGMENTATION) == 5
    assert "lraspp_mobilenet_v3_large" in NAMES


def header_params(name: str) -> int:
    """The parameter count the spec's header comment states."""
    text = (ROOT / "specs" / f"{name}.yaml").read_text(encoding="utf-8")
    comment = " ".join(line[2:] for line in text.splitlines() if line.startswith("# "))
    found = re.search(r"([\d,]+) parameters\.", comment)
    assert found, name
    return int(found.group(1).replace(",", ""))


@pytest.mark.torch
@pytest.mark.parametrize("name", NAMES)
def test_input_and_header_are_torchvisions(name: str) -> None:
    """The input is the DEFAULT weights' evaluation size (crop_size; resize_size for the
    segmentation models, 520) and the header's count their num_params, less the auxiliary
    classifier for FCN and DeepLabV3: torch's count of ``aux_classifier`` with
    aux_loss=True."""
    torch = pytest.importorskip("torch")
    from tests.torchvision_oracle import import_torchvision, total_params

    models = import_torchvision().models
    weights = models.get_model_weights(name).DEFAULT
    transform = weights.transforms()
    published = weights.meta["num_params"]
    data = yaml.safe_load((ROOT / "specs" / f"{name}.yaml").read_text(encoding="utf-8"))
    if name == "lraspp_mobilenet_v3_large":  # no auxiliary classifier to leave out
        (side,) = transform.resize_size
        assert header_params(name) == published
    elif name in SEGMENTATION:
        (side,) = transform.resize_size
        with torch.device("meta"):
            model = models.get_model(name, weights=None, weights_backbone=None, aux_loss=True)
        assert header_params(name) == published - total_params(model.aux_classifier)
    else:
        (side,) = transform.crop_size
        assert header_params(name) == published
    assert data["input"] == [3, side, side]
