"""The README's table of the torchvision zoo: the one ``zoo/table.py`` writes, covering every
classification and segmentation model of torchvision 0.28, with the figures torchvision
publishes with each model's weights.

torchvision's weights carry ``num_params`` and ``_ops`` (giga multiply-adds at the weights'
evaluation size, to three decimals): the table's parameters and multiply-adds must be those.
Where a published figure describes another model than the spec (an auxiliary classifier the
spec leaves out; ViT-H/14's default weights, made for 518×518 inputs), the reason is written
here and the figure of the weights that match is used. The leaf-for-leaf comparison with the
models themselves is test_zoo.py's; the multiply-adds against FlopCounterMode,
test_convention_convcalc.py's.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.zoo_scripts import load

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")
ROW = re.compile(
    r"^\| `(?P<name>[\w.-]+)` \| (?P<family>[^|]+) \| (?P<input>[\d×]+) \| "
    r"(?P<params>[\d,]+) \| (?P<macs>[\d,]+) \|$",
    re.M,
)

# the models with no spec yet, and why: the issue stays open while this is not empty
MISSING: dict[str, str] = {}

# the figures torchvision publishes for another model than the spec: what the spec is instead
AUX = (
    "inception_v3",
    "fcn_resnet50",
    "fcn_resnet101",
    "deeplabv3_resnet50",
    "deeplabv3_resnet101",
    "deeplabv3_mobilenet_v3_large",
)


def load_table_script():  # type: ignore[no-untyped-def]
    return load("table")


def readme_rows() -> dict[str, dict[str, str]]:
    script = load_table_script()
    section = README[README.index(script.BEGIN) : README.index(script.END)]
    return {m["name"]: m.groupdict() for m in ROW.finditer(section)}


@pytest.mark.full
def test_the_readme_table_is_the_scripts() -> None:
    script = load_table_script()
    start = README.index(script.BEGIN)
    end = README.index(script.END) + len(script.END)
    assert README[start:end] == script.table(), "run: python zoo/table.py --write"


@pytest.mark.torch
def test_the_table_covers_torchvision() -> None:
    """Every classification model of torchvision (``list_models``) and every segmentation
    model has its row, but those :data:`MISSING` says are not written yet."""
    from tests.torchvision_oracle import import_torchvision

    torchvision = import_torchvision()
    models = set(torchvision.models.list_models(module=torchvision.models))
    models |= set(torchvision.models.list_models(module=torchvision.models.segmentation))
    assert len(models) == 80 + 6
    assert sorted(models - set(readme_rows())) == sorted(MISSING)


@pytest.mark.torch
def test_the_table_has_torchvisions_published_figures() -> None:
    """Parameters = the weights' ``num_params``, giga multiply-adds = their ``_ops``."""
    from tests.torchvision_oracle import import_torchvision

    torchvision = import_torchvision()
    checked = 0
    for name, row in readme_rows().items():
        weights = torchvision.models.get_model_weights(name).DEFAULT
        if name == "vit_h_14":  # DEFAULT is SWAG_E2E_V1, for 518×518: a longer position table
            weights = torchvision.models.ViT_H_14_Weights.IMAGENET1K_SWAG_LINEAR_V1
        transform = weights.transforms()  # classification: the crop; segmentation: the resize
        sizes = getattr(transform, "crop_size", None) or transform.resize_size
        assert int(row["input"].split("×")[-1]) == sizes[-1], name
        params = int(row["params"].replace(",", ""))
        if name in AUX:  # published with the auxiliary classifier the spec leaves out
            assert params < weights.meta["num_params"], name
        else:
            assert params == weights.meta["num_params"], name
        macs = int(row["macs"].replace(",", ""))
        if name not in AUX or name == "inception_v3":
            assert round(macs / 1e9, 3) == pytest.approx(weights.meta["_ops"], abs=1e-3), name
        checked += 1
    assert checked == 80 + 6 - len(MISSING)
