"""The split block, channel selection (LeNet-5's C3) and frozen parameters, against PyTorch.

A split block cuts its input's channels as ``x.chunk`` or ``x.split`` does and runs one branch
per slice; torch runs the same network written by hand here (its slices from torch itself),
and convcalc must agree on every shape and parameter and refuse where torch does. LeNet-5's C3
(LeCun et al. 1998, Table I) has 1,516 parameters (the published figure) and torch, building
the same connection table, counts as many. ``trainable: false`` freezes a layer or a block:
torchinfo 1.8 counts the trainable parameters of the same model with ``requires_grad_(False)``.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

import convcalc
from convcalc.analysis import analyse
from convcalc.errors import SpecError
from convcalc.spec.validate import load_spec
from tests.budget import examples
from tests.independent import C3_PUBLISHED, C3_TABLE

torch = pytest.importorskip("torch")
nn = torch.nn

pytestmark = pytest.mark.torch

Layer = dict[str, Any]
SPECS = Path(__file__).resolve().parent.parent / "specs"


# --- the split block against torch ------------------------------------------------------------


class TorchSplit(nn.Module):
    """torch's own cut (x.chunk or x.split along the channels), one branch per slice."""

    def __init__(self, how: Layer, branches: list[nn.Module]) -> None:
        super().__init__()
        self.how = how
        self.branches = nn.ModuleList(branches)

    def forward(self, x: Any) -> Any:
        if "chunks" in self.how:
            slices = x.chunk(self.how["chunks"], dim=1)
        else:
            sizes = self.how["sizes"]
            slices = x.split(sizes if isinstance(sizes, int) else list(sizes), dim=1)
        return torch.cat([b(s) for b, s in zip(self.branches, slices, strict=True)], dim=1)


def torch_branch(layers: list[Layer], channels: int) -> nn.Module:
    modules = []
    for layer in layers:
        if layer["type"] == "conv":
            k, p = layer["kernel_size"], layer.get("padding", 0)
            modules.append(nn.Conv2d(channels, layer["out_channels"], k, padding=p))
            channels = layer["out_channels"]
        else:
            modules.append(nn.ReLU())
    return nn.Sequential(*modules)


def torch_side(shape: list[int], split: Layer) -> tuple[list[int], int] | None:
    """The split's output shape and parameters in torch, None where torch refuses."""
    x = torch.zeros(2, *shape)
    how = {k: split[k] for k in ("chunks", "sizes") if k in split}
    if len(how) != 1:
        return None  # exactly one way to cut
    try:
        if "chunks" in how:
            widths = [s.shape[1] for s in x.chunk(how["chunks"], dim=1)]
        else:
            sizes = how["sizes"]
            widths = [s.shape[1] for s in x.split(sizes, 1)]
        widths += [1] * (len(split["branches"]) - len(widths))  # too many: forward refuses
        branches = [torch_branch(b, w) for b, w in zip(split["branches"], widths, strict=False)]
        module = TorchSplit(how, branches)
        with torch.no_grad():
            y = module(x)
    except (RuntimeError, ValueError):
        return None
    return list(y.shape[1:]), sum(p.numel() for p in module.parameters())


def convcalc_side(shape: list[int], split: Layer) -> tuple[list[int], int] | None:
    try:
        report = analyse(load_spec({"input": shape, "layers": [split]}))
    except SpecError as exc:
        where = exc.path
    else:
        return list(report.output_shape), report.total_params
    assert where is not None and where.startswith("layers[0]"), where
    return None


@st.composite
def splits(draw: st.DrawFn) -> tuple[list[int], Layer]:
    c = draw(st.integers(1, 9))
    shape = [c, draw(st.integers(1, 5)), draw(st.integers(1, 5))]
    split: Layer = {"type": "split"}
    way = draw(st.sampled_from(["chunks", "sizes", "size", "both"]))
    if way in ("chunks", "both"):
        split["chunks"] = draw(st.integers(1, 5))
    if way == "size":
        split["sizes"] = draw(st.integers(1, 5))
    if way in ("sizes", "both"):
        split["sizes"] = draw(st.lists(st.integers(1, 4), min_size=1, max_size=4))
    conv = st.builds(
        lambda o, k: {"type": "conv", "out_channels": o, "kernel_size": k, "padding": k // 2},
        st.integers(1, 3),
        st.sampled_from([1, 3, 2]),
    )
    branch = st.lists(st.one_of(conv, st.just({"type": "relu"})), max_size=2)
    split["branches"] = draw(st.lists(branch, min_size=1, max_size=5))
    return shape, split


@settings(max_examples=examples(500))  # each example runs torch: CI's 500
@given(case=splits())
@example(case=([6, 2, 2], {"type": "split", "chunks": 4, "branches": [[], [], []]}))
@example(case=([5, 2, 2], {"type": "split", "chunks": 3, "branches": [[], [], []]}))
@example(case=([5, 2, 2], {"type": "split", "sizes": [2, 2], "branches": [[], []]}))
@example(
    case=(
        [4, 3, 3],
        {
            "type": "split",
            "chunks": 2,
            "branches": [[], [{"type": "conv", "out_channels": 1, "kernel_size": 2}]],
        },
    )
)
def test_split_against_torch(case: tuple[list[int], Layer]) -> None:
    shape, split = case
    assert convcalc_side(shape, split) == torch_side(shape, split), (shape, split)


def test_split_examples() -> None:
    """ShuffleNetV2's stride-1 unit: 116 channels, the second half through a 1×1 conv."""
    conv = {"type": "conv", "out_channels": 58, "kernel_size": 1}
    split = {"type": "split", "chunks": 2, "branches": [[], [conv]]}
    report = analyse(load_spec({"input": [116, 28, 28], "layers": [split]}))
    (block,) = report.layers
    (_, first), (_, second) = block.children
    assert first == () and second[0].input_shape == (58, 28, 28)
    assert report.output_shape == (116, 28, 28) and report.total_params == 58 * 58 + 58
    assert block.description == "split 58+58"


def test_split_refusals_are_located() -> None:
    with pytest.raises(SpecError) as refused:
        analyse(
            load_spec(
                {
                    "input": [6, 4],
                    "layers": [
                        {"type": "relu"},
                        {"type": "split", "chunks": 4, "branches": [[], []]},
                    ],
                }
            )
        )
    text = str(refused.value)
    assert "layers[1] (split), field chunks" in text and "3 slices (2 + 2 + 2)" in text
    with pytest.raises(SpecError) as refused:
        analyse(
            load_spec(
                {
                    "input": [6, 4],
                    "layers": [{"type": "split", "sizes": [2, 3], "branches": [[], []]}],
                }
            )
        )
    assert "add up to 5, not to the input's 6 channels" in str(refused.value)


@pytest.mark.parametrize(
    ("shape", "sizes"),
    [([4, 3, 3], [0, 4]), ([4, 3, 3], [4, 0]), ([5, 2, 1], [0, 2, 0, 3, 0]), ([3, 1, 2], [0, 3])],
)
def test_split_with_an_empty_slice(shape: list[int], sizes: list[int]) -> None:
    """torch's x.split accepts a size of 0, an empty slice of shape [N, 0, ...], which torch.cat
    joins as nothing: each empty slice's branch left empty passes it on, as in torch; the
    others run as usual."""
    conv = {"type": "conv", "out_channels": 2, "kernel_size": 1}
    branches = [[] if n == 0 else [conv, {"type": "relu"}] for n in sizes]
    split = {"type": "split", "sizes": sizes, "branches": branches}
    expected = torch_side(shape, split)
    assert expected is not None
    assert convcalc_side(shape, split) == expected
    report = analyse(load_spec({"input": shape, "layers": [split]}))
    assert report.layers[0].description == "split " + "+".join(map(str, sizes))


def test_split_empty_slice_refusals() -> None:
    """An integer size 0 is refused, as torch refuses it (split_size 0 on channels); a list
    with a negative size too; an empty slice through layers is refused at the split's sizes
    (torch runs a ReLU on 0 channels but refuses a batchnorm: convcalc does not follow each)."""
    x = torch.zeros(2, 4, 3, 3)
    with pytest.raises(RuntimeError):
        x.split(0, 1)
    with pytest.raises(RuntimeError):
        x.split([-1, 5], 1)
    with pytest.raises(IndexError):
        nn.BatchNorm2d(0).eval()(x.split([0, 4], 1)[0])
    assert nn.ReLU()(x.split([0, 4], 1)[0]).shape == (2, 0, 3, 3)
    for sizes, field, why in (
        (0, "sizes", "must be"),
        ([-1, 5], "sizes", "every entry must be an integer ≥ 0, not -1"),
        ([0, 4], "sizes", "slice 0 is empty (no channels), but branch 0 has layers"),
    ):
        with pytest.raises(SpecError) as refused:
            analyse(
                load_spec(
                    {
                        "input": [4, 3, 3],
                        "layers": [
                            {"type": "split", "sizes": sizes, "branches": [[{"type": "relu"}], []]}
                        ],
                    }
                )
            )
        text = str(refused.value)
        assert f"layers[0] (split), field {field}" in text and why in text, text


def test_split_with_an_empty_slice_exports(tmp_path: Path) -> None:
    """The PyTorch export runs the empty slice as torch does, leaf by leaf."""
    from tests.test_export import round_trip

    conv = {"type": "conv", "out_channels": 3, "kernel_size": 3, "padding": 1}
    spec = {
        "input": [4, 5, 5],
        "layers": [{"type": "split", "sizes": [0, 4, 0], "branches": [[], [conv], []]}],
    }
    report = analyse(load_spec(spec))
    assert report.output_shape == (3, 5, 5)
    round_trip(report, tmp_path, ("cpu", "meta"), 2, spec["layers"])


def test_split_views() -> None:
    """Explain, memory, receptive fields and the figure read each branch's own slice."""
    from convcalc.render.draw import figure
    from convcalc.views import explain, memory, receptive

    conv = {"type": "conv", "out_channels": 2, "kernel_size": 3, "padding": 1}
    spec = {
        "input": [6, 8, 8],
        "layers": [{"type": "split", "chunks": 2, "branches": [[], [conv]]}],
    }
    report = analyse(load_spec(spec))
    assert report.output_shape == (5, 8, 8)
    fields = receptive.receptive_fields(report)
    assert fields[id(report.layers[0])].size == (3.0, 3.0)
    text = explain.render(report, explain.explain(report))
    assert "cut into 3 + 3" in text
    # the input (384 values) and the first slice passed on (192) are held while the conv
    # reads its 192 and writes 128: 896 (a whole input for the empty branch would be 1,088)
    assert memory._peak_values(report) == 384 + 192 + 192 + 128
    assert figure.SYMBOLS["split"] == "cat"


# --- LeNet-5's C3 ------------------------------------------------------------------------------


class C3(nn.Module):
    """The connection table in torch: one 5×5 conv per C3 map over its listed S2 maps."""

    def __init__(self) -> None:
        super().__init__()
        self.maps = nn.ModuleList(nn.Conv2d(len(m), 1, 5) for m in C3_TABLE)

    def forward(self, x: Any) -> Any:
        return torch.cat([conv(x[:, m]) for conv, m in zip(self.maps, C3_TABLE, strict=True)], 1)


@pytest.mark.full
def test_lenet5_c3_has_the_published_parameter_count() -> None:
    report = convcalc.analyse(convcalc.load_spec(str(SPECS / "lenet5_c3.yaml")))
    (c3,) = [entry for entry in report.layers if entry.name == "C3"]
    assert c3.params == C3_PUBLISHED
    assert c3.input_shape == (6, 14, 14) and c3.output_shape == (16, 10, 10)
    torch_c3 = C3()
    assert sum(p.numel() for p in torch_c3.parameters()) == C3_PUBLISHED
    assert tuple(torch_c3(torch.zeros(1, 6, 14, 14)).shape[1:]) == c3.output_shape
    # the rest is lenet5.yaml's: its total less a full conv's 16·(6·25 + 1) = 2,416
    full = convcalc.analyse(convcalc.load_spec(str(SPECS / "lenet5.yaml")))
    assert report.total_params == full.total_params - 2_416 + C3_PUBLISHED


# --- frozen parameters ------------------------------------------------------------------------

FROZEN: Layer = {
    "input": [3, 8, 8],
    "layers": [
        {"type": "conv", "out_channels": 4, "kernel_size": 3, "trainable": False},
        {"type": "batchnorm"},
        {"type": "relu"},
        {
            "type": "sequential",
            "trainable": False,
            "layers": [
                {"type": "conv", "out_channels": 5, "kernel_size": 3},
                {"type": "batchnorm", "trainable": True},
            ],
        },
        {"type": "flatten"},
        {"type": "linear", "out_features": 10},
    ],
}


def torch_frozen() -> Any:
    model = nn.Sequential(
        nn.Conv2d(3, 4, 3),
        nn.BatchNorm2d(4),
        nn.ReLU(),
        nn.Sequential(nn.Conv2d(4, 5, 3), nn.BatchNorm2d(5)),
        nn.Flatten(),
        nn.Linear(5 * 4 * 4, 10),
    )
    model[0].requires_grad_(False)
    model[3].requires_grad_(False)
    return model


def test_trainable_params_equal_torchinfo(run: Any, tmp_path: Path) -> None:
    torchinfo = pytest.importorskip("torchinfo")
    stats = torchinfo.summary(torch_frozen(), input_size=(1, 3, 8, 8), verbose=0)
    report = analyse(load_spec(FROZEN))
    assert report.total_params == stats.total_params
    assert report.trainable_params == stats.trainable_params
    assert report.trainable_params < report.total_params
    path = tmp_path / "frozen.yaml"
    path.write_text(json.dumps(FROZEN), encoding="utf-8")
    table = run("shape", str(path)).stdout
    assert f"Trainable params: {stats.trainable_params:,}" in table
    frozen = stats.total_params - stats.trainable_params
    assert f"Non-trainable params: {frozen:,}" in table
    data = json.loads(run("shape", str(path), "--format", "json").stdout)
    assert data["trainable_params"] == stats.trainable_params
    assert data["non_trainable_params"] == frozen


def test_trainable_must_be_a_flag() -> None:
    with pytest.raises(SpecError) as refused:
        load_spec({"input": [3], "layers": [{"type": "relu", "trainable": "no"}]})
    assert re.search(r"trainable", str(refused.value))


# --- the PyTorch export -------------------------------------------------------------------------


def test_split_and_selection_round_trip(tmp_path: Path) -> None:
    """Exported, imported and run: every leaf's shape and parameters are the report's."""
    from tests.test_export import round_trip

    conv = {"type": "conv", "out_channels": 3, "kernel_size": 3, "padding": 1}
    spec = {
        "input": [7, 6, 6],
        "layers": [
            {
                "type": "split",
                "sizes": [3, 4],
                "branches": [
                    [{"type": "select_channels", "channels": [2, 0]}, conv],
                    [{"type": "relu"}],
                ],
            },
            {"type": "split", "chunks": 2, "branches": [[], [conv]]},
            {"type": "pixel_unshuffle", "downscale_factor": 2},
            {"type": "pixel_shuffle", "upscale_factor": 2},
            {"type": "unfold", "kernel_size": 2},
            {"type": "fold", "output_size": 6, "kernel_size": 2},
        ],
    }
    report = analyse(load_spec(spec))
    assert report.output_shape == (7, 6, 6)
    generated = round_trip(report, tmp_path, ("cpu", "meta"), 2, spec["layers"])
    assert "Split(" in generated.source  # the slices' sizes, x.chunk(2)'s of 7 channels 4 + 3
    assert "(3, 4)," in generated.source and "(4, 3)," in generated.source


@pytest.mark.full
def test_lenet5_c3_round_trip(tmp_path: Path) -> None:
    from tests.test_export import round_trip

    report = convcalc.analyse(convcalc.load_spec(str(SPECS / "lenet5_c3.yaml")))
    model = round_trip(report, tmp_path).build()
    assert sum(p.numel() for p in model[3].parameters()) == C3_PUBLISHED


def test_frozen_layers_are_exported_frozen(tmp_path: Path) -> None:
    """``trainable: false`` is ``frozen(module)``: requires_grad False on every parameter of
    the leaf or block, and the trainable total is the report's (and torchinfo's)."""
    from tests.test_export import round_trip

    report = analyse(load_spec(FROZEN))
    generated = round_trip(report, tmp_path)
    model = generated.build()
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    assert trainable == report.trainable_params
    expected = torch_frozen()
    assert [p.requires_grad for p in model.parameters()] == [
        p.requires_grad for p in expected.parameters()
    ]
    assert "frozen: trainable false" in generated.source
