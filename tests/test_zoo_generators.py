"""Every zoo/ generator through zoo/common.py: the shipped specs are its output (``--check``
passes on specs/), a hand edit is caught (``--check`` fails naming the file, in a copy), an
unknown name is refused, and the shared YAML scalars read back as written.

Which numbers each generator's specs hold is checked against torchvision elsewhere
(test_zoo.py leaf for leaf, test_zoo_cnn/mobile/transformers.py their headers and inputs).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from tests.zoo_scripts import GENERATORS, KERAS_GENERATORS, ZOO, load

SPECS = ZOO.parent / "specs"
common = load("common")


def test_every_script_that_writes_specs_is_listed() -> None:
    """A script of zoo/ writing a spec (``Written by zoo/<script>`` in some spec) is here."""
    writers = {
        line.split("zoo/", 1)[1].split(".py", 1)[0]
        for path in SPECS.glob("*.yaml")
        for line in path.read_text(encoding="utf-8").splitlines()[:6]
        if line.startswith("# Written by zoo/")
    }
    assert writers == set(GENERATORS) | set(KERAS_GENERATORS)


@pytest.mark.parametrize("script", GENERATORS)
def test_check_passes_on_the_shipped_specs(script: str) -> None:
    module = load(script)
    assert common.main(module.GENERATED, ["--check"], script=f"{script}.py") == 0


@pytest.mark.parametrize("script", GENERATORS)
def test_check_fails_on_a_hand_edited_copy(
    script: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The last spec of the script, copied to tmp_path and edited: ``--check`` names it (and a
    missing file), writing nothing; a run without ``--check`` writes it back."""
    module = load(script)
    names = list(module.GENERATED)
    edited, missing = names[-1], names[0]
    for name in names:
        shutil.copy(SPECS / f"{name}.yaml", tmp_path)
    path = tmp_path / f"{edited}.yaml"
    edit = path.read_text(encoding="utf-8").replace("kernel_size: ", "kernel_size: 1", 1)
    path.write_text(edit, encoding="utf-8")
    if missing != edited:
        (tmp_path / f"{missing}.yaml").unlink()
    before = path.read_text(encoding="utf-8")
    assert common.main(module.GENERATED, ["--check"], tmp_path, script=f"{script}.py") == 1
    err = capsys.readouterr().err
    assert f"{edited}.yaml" in err and f"zoo/{script}.py" in err
    assert f"{missing}.yaml" in err  # missing (or, for a one-spec script, edited)
    assert path.read_text(encoding="utf-8") == before  # --check writes nothing
    assert common.main(module.GENERATED, [edited], tmp_path) == 0
    assert path.read_text(encoding="utf-8") == (SPECS / f"{edited}.yaml").read_text("utf-8")
    assert common.main(module.GENERATED, ["--check", edited], tmp_path) == 0


def test_an_unknown_name_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    module = load("swin")
    with pytest.raises(SystemExit) as caught:
        common.main(module.GENERATED, ["swin_x"], script="swin.py")
    assert caught.value.code == 2
    assert "unknown model swin_x" in capsys.readouterr().err


@pytest.mark.parametrize("script", GENERATORS)
def test_headers_are_uniform(script: str) -> None:
    """Each spec opens with its title sentence, then says which script wrote it from which
    torchvision source, and not to edit it."""
    for name, render in load(script).GENERATED.items():
        comments = []
        for line in render().splitlines():
            if not line.startswith("#"):
                break
            comments.append(line[2:])
        text = " ".join(comments)
        assert f"Written by zoo/{script}.py from torchvision 0.28's " in text, name
        assert "; edit the script, not this file." in text, name
        assert text.index("Written by") > text.index("torchvision.models."), name


@pytest.mark.full
def test_no_leaf_is_named_with_its_own_type() -> None:
    """``flatten: flatten`` in a table says nothing more than ``flatten``: such names are left
    out (a dotted path such as ``encoder.dropout`` is kept)."""
    for script in GENERATORS:
        for name, render in load(script).GENERATED.items():
            data = yaml.safe_load(render())
            stack = list(data["layers"])
            while stack:
                node = stack.pop()
                if isinstance(node, list):
                    stack += node
                elif isinstance(node, dict):
                    assert node.get("name") is None or node["name"] != node.get("type"), name
                    stack += [v for v in node.values() if isinstance(v, list | dict)]


@pytest.mark.parametrize(
    "value", [0.001, 1e-05, 1e-6, 0.0, 1e20, 0.018181818181818184, 3, True, "features.1.0"]
)
def test_scalars_read_back_as_written(value: object) -> None:
    """YAML 1.1 (PyYAML) reads 1e-05 as a string: floats keep a point in the mantissa and a
    signed exponent; names needing quotes ("0", "yes", "0.0") are quoted."""
    assert yaml.safe_load(common.scalar(value)) == value
    for name in ("0", "yes", "0.0", "it's"):
        assert yaml.safe_load(common.scalar(name)) == name
    assert common.scalar(1e-6) == "1.0e-6" and common.scalar(0.2 * 7 / 16, 12) == "0.0875"


@pytest.mark.torch
def test_make_divisible_is_torchvisions() -> None:
    """common.make_divisible against torchvision's own _make_divisible, over widths a model
    asks for (multiplied by the width multipliers of the zoo) and three divisors."""
    pytest.importorskip("torch")
    from tests.torchvision_oracle import import_torchvision

    theirs = import_torchvision().models._utils._make_divisible
    for divisor in (4, 8, 16):
        for width in range(1, 400):
            for multiplier in (0.25, 0.5, 0.75, 1.0, 1.1, 1.3, 1.4):
                value = width * multiplier
                assert common.make_divisible(value, divisor) == theirs(value, divisor), value
                assert common.make_divisible(value, divisor, 16) == theirs(value, divisor, 16)
