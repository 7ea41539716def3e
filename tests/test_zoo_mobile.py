"""zoo/mobile.py, the generator of the MobileNetV3, MNASNet, EfficientNet and RegNet specs.

The specs themselves are checked leaf for leaf against torchvision in test_zoo.py. That the
shipped YAML is exactly what the generator writes is test_zoo_generators.py's. Here: each input
is the crop of the DEFAULT weights' evaluation transform, the multiply-adds are the ``_ops``
torchvision publishes, and the RegNet stage tables the generator derives in float64 are
torchvision's own (float32).
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tests.budget import spec_params
from tests.zoo_scripts import load

ROOT = Path(__file__).resolve().parent.parent


mobile = load("mobile")
NAMES = list(mobile.BY_NAME)
REGNETS = [name for name in NAMES if name.startswith("regnet")]


def test_every_model_of_the_families_is_written() -> None:
    """torchvision 0.28's models of the four families, b0 and mobilenet_v2 bundled apart."""
    assert len(NAMES) == 31
    assert sum(name.startswith("efficientnet") for name in NAMES) == 10
    assert len(REGNETS) == 15


def test_scalars_read_back_as_written() -> None:
    """YAML 1.1 (PyYAML) reads 1e-05 as a string: floats keep a point in the mantissa. Floats
    are written to 12 significant digits: torchvision's p = 0.2 × 7 / 16 is 0.0875 here."""
    for value in (0.001, 1e-05, 0.0, 1e20, 3, True, "features.1.0", "0", "yes"):
        assert yaml.safe_load(mobile.scalar(value)) == value
    assert yaml.safe_load(mobile.scalar(0.2 * 7 / 16)) == 0.0875


def test_anchors_are_written_once_and_aliased_after() -> None:
    bn = mobile.Anchor("bn", {"type": "batchnorm"})
    text = mobile.document(
        "# h\n", "n", 8, [bn, {"name": "b", "type": "sequential", "layers": [bn]}]
    )
    assert text.count("&bn") == 1 and text.count("*bn") == 1
    data = yaml.safe_load(text)
    assert data["layers"][1]["layers"][0] == {"type": "batchnorm"}


# --- against torchvision -------------------------------------------------------------------


@pytest.mark.torch
@pytest.mark.parametrize("name", NAMES)
def test_input_is_the_default_weights_crop(name: str) -> None:
    """The spec's input and the generator's size and weights name, against torchvision's
    DEFAULT weights for the model (regnet_y_128gf: IMAGENET1K_SWAG_E2E_V1 at 384)."""
    from tests.torchvision_oracle import import_torchvision

    torchvision = import_torchvision()
    weights = torchvision.models.get_model_weights(name).DEFAULT
    crop = weights.transforms().crop_size
    spec = yaml.safe_load((ROOT / "specs" / f"{name}.yaml").read_text(encoding="utf-8"))
    assert len(crop) == 1 and spec["input"] == [3, crop[0], crop[0]]
    model = mobile.BY_NAME[name]
    assert (model.size, model.weights, model.num_params) == (
        crop[0],
        weights.name,
        weights.meta["num_params"],
    )


@pytest.mark.torch
@pytest.mark.parametrize("name", NAMES)
def test_multiply_adds_are_the_published_ops(name: str) -> None:
    """convcalc's multiply-adds (the default convention, PyTorch's FlopCounterMode ÷ 2) against
    the ``_ops`` torchvision publishes with the DEFAULT weights: GMACs to three decimals
    (regnet_y_128gf 374.57, efficientnet_b7 37.746, mobilenet_v3_small 0.057)."""
    import convcalc
    from tests.torchvision_oracle import import_torchvision

    ops = import_torchvision().models.get_model_weights(name).DEFAULT.meta["_ops"]
    report = convcalc.analyse(convcalc.load_spec(name))
    assert round(report.total_mult_adds() / 1e9, 3) == ops


@pytest.mark.torch
@pytest.mark.parametrize("name", spec_params(REGNETS, quick={"regnet_x_400mf", "regnet_y_400mf"}))
def test_regnet_stages_are_torchvisions(name: str) -> None:
    """``regnet_stages`` (float64) against ``BlockParams.from_init_params`` (float32), called
    with the generator's arguments, and those arguments against the model torchvision builds."""
    torch = pytest.importorskip("torch")
    from tests.torchvision_oracle import build_torchvision, import_torchvision

    torchvision = import_torchvision()
    settings = mobile.BY_NAME[name].settings
    args = {k: settings[k] for k in ("depth", "w_0", "w_a", "w_m", "group_width")}
    params = torchvision.models.regnet.BlockParams.from_init_params(**args)
    stages = mobile.regnet_stages(**args)
    assert [(s.width, s.depth, s.group_width) for s in stages] == list(
        zip(params.widths, params.depths, params.group_widths, strict=True)
    )
    model, _ = build_torchvision(name)
    trunk = list(model.trunk_output.children())
    assert [len(stage) for stage in trunk] == [s.depth for s in stages]
    first = [next(iter(stage.children())) for stage in trunk]
    assert [block.f.c[0].out_channels for block in first] == [s.width for s in stages]
    assert [block.f.b[0].groups for block in first] == [s.width // s.group_width for s in stages]
    assert (getattr(first[0].f, "se", None) is not None) == ("se_ratio" in settings)
    assert isinstance(model.fc, torch.nn.Linear)
