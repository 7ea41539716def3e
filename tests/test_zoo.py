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
from tests.torchvision_oracle import (
    TORCHVISION_MODELS,
    Leaf,
    build_torchvision,
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
    "resnet50": 25_557_032,
    "mobilenet_v2": 3_504_872,
    "googlenet": 6_624_904,
    "densenet121": 7_978_856,
    "squeezenet1_0": 1_248_424,
    "efficientnet_b0": 5_288_548,
    "inception_v3": 23_834_568,  # without the auxiliary classifier
    "unet": 31_037_698,
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


@pytest.mark.parametrize("name", MODELS)
def test_torch_model_has_the_published_parameter_count(name: str) -> None:
    """The oracle's side alone: the model built here is the one the figures describe."""
    side = torch_side(name)
    assert side.total_params == PUBLISHED[name]
    assert sum(leaf.params for leaf in side.leaves) == side.total_params


@pytest.mark.parametrize("name", MODELS)
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
