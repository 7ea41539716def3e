"""convcalc.frameworks.torch.importer: specs from the text print(model) shows, checked against
PyTorch itself.

Real torch models are printed (``str(model)``), imported, and analysed by convcalc; every leaf's
output shape and parameter count, the total and the output must equal what torch gives when the
model runs on zeros (forward hooks on every leaf module). Random ``nn.Sequential`` stacks do the
same as a property. Every argument the print shows is in the spec as the module keeps it, and
the spec exported back to PyTorch builds modules keeping the same (test_export's table of
arguments). What cannot be recovered exactly (custom modules, ModuleList, input counts
that disagree with the shapes, hidden arguments that matter) is refused at its line, and
anything else, garbage included, is an :class:`ImportRefusal` with a line, never a traceback.

Tests that need torch skip where it is absent; the texts written out here are those torch
2.13 prints (checked against it where torch is present).
"""

from __future__ import annotations

import math
import os
import re
import warnings
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from convcalc.analysis import Report, analyse
from convcalc.errors import ConvcalcError
from convcalc.frameworks.torch.importer import (
    SUPPORTED,
    TORCH_NN,
    ImportRefusal,
    from_print,
    to_yaml,
)
from convcalc.spec.validate import load_spec
from tests.budget import examples
from tests.torchvision_oracle import (
    Leaf,
    import_torchvision,
    kind_of,
    match,
    torch_leaves,
    total_params,
)

Draw = Callable[..., Any]

LENET_TEXT = """\
Sequential(
  (0): Conv2d(1, 6, kernel_size=(5, 5), stride=(1, 1))
  (1): Tanh()
  (2): AvgPool2d(kernel_size=2, stride=2, padding=0)
  (3): Conv2d(6, 16, kernel_size=(5, 5), stride=(1, 1))
  (4): Tanh()
  (5): AvgPool2d(kernel_size=2, stride=2, padding=0)
  (6): Flatten(start_dim=1, end_dim=-1)
  (7): Linear(in_features=400, out_features=120, bias=True)
  (8): Tanh()
  (9): Linear(in_features=120, out_features=84, bias=True)
  (10): Tanh()
  (11): Linear(in_features=84, out_features=10, bias=True)
)"""

LENET_LAYERS = [
    {"type": "conv", "out_channels": 6, "kernel_size": 5},
    {"type": "tanh"},
    {"type": "avgpool", "kernel_size": 2},
    {"type": "conv", "out_channels": 16, "kernel_size": 5},
    {"type": "tanh"},
    {"type": "avgpool", "kernel_size": 2},
    {"type": "flatten"},
    {"type": "linear", "out_features": 120},
    {"type": "tanh"},
    {"type": "linear", "out_features": 84},
    {"type": "tanh"},
    {"type": "linear", "out_features": 10},
]

LENET_YAML_BODY = """\
name: lenet5
input: [1, 32, 32]
layers:
  - {type: conv, out_channels: 6, kernel_size: 5}
  - {type: tanh}
  - {type: avgpool, kernel_size: 2}
  - {type: conv, out_channels: 16, kernel_size: 5}
  - {type: tanh}
  - {type: avgpool, kernel_size: 2}
  - {type: flatten}
  - {type: linear, out_features: 120}
  - {type: tanh}
  - {type: linear, out_features: 84}
  - {type: tanh}
  - {type: linear, out_features: 10}
"""


# --- helpers -----------------------------------------------------------------------------


@pytest.fixture
def nn() -> Any:
    """torch.nn, or a skip where torch is absent."""
    return pytest.importorskip("torch").nn


def refusal(text: str, shape: tuple[int, ...] = (3, 32, 32), **options: Any) -> ImportRefusal:
    """The refusal of importing ``text``; fails if it imports."""
    with pytest.raises(ImportRefusal) as info:
        from_print(text, shape, **options)
    return info.value


def outcome(text: str, shape: tuple[int, ...], **options: Any) -> dict[str, Any] | ImportRefusal:
    """The spec of ``text``, or its refusal."""
    try:
        return from_print(text, shape, **options)
    except ImportRefusal as exc:
        return exc


def line_of(text: str, fragment: str) -> int:
    """The 1-based number of the first line holding ``fragment``."""
    return next(i for i, line in enumerate(text.split("\n"), 1) if fragment in line)


UNKNOWN_TO_ORACLE = {"Unflatten": "unflatten", "Embedding": "embedding"}


def cpu_run(model: Any, input_shape: tuple[int, ...], batch: int = 2) -> tuple[list[Leaf], Any]:
    """Every leaf module call of a forward pass on zeros (CPU), and the batch-less output
    shape: what torch itself says, module by module."""
    import torch

    leaves: list[Leaf] = []
    names = {id(module): name for name, module in model.named_modules()}

    def hook(module: Any, _inputs: Any, output: Any) -> None:
        own = sum(int(p.numel()) for p in module.parameters(recurse=False))
        shape = tuple(int(n) for n in output.shape[1:])
        kind = UNKNOWN_TO_ORACLE.get(type(module).__name__) or kind_of(module)
        leaves.append(Leaf(kind, type(module).__name__, shape, own, names[id(module)]))

    handles = [
        module.register_forward_hook(hook)
        for module in model.modules()
        if next(iter(module.children()), None) is None
        and not isinstance(module, torch.nn.Sequential)  # an empty one
    ]
    try:
        model.eval()
        with torch.no_grad():
            output = model(torch.zeros(batch, *input_shape))
    finally:
        for handle in handles:
            handle.remove()
    return leaves, tuple(int(n) for n in output.shape[1:])


def analysed(spec: dict[str, Any], *, deep: bool = False) -> Report:
    """The spec through load_spec and analyse, and its YAML text too: both must agree
    (``deep``: PyYAML's own loader, recursive, is not asked)."""
    report = analyse(load_spec(spec))
    text = to_yaml(spec)
    again = load_spec(text)
    assert (again.name, again.input) == (spec["name"], report.input_shape)
    if deep:  # PyYAML's loader and pydantic's equality recurse: compare the analyses
        rows = [(e.path, e.type, e.output_shape, e.params) for e in analyse(again).walk()]
        assert rows == [(e.path, e.type, e.output_shape, e.params) for e in report.walk()]
    else:
        assert yaml.safe_load(text) == spec
        assert again.layers == load_spec(spec).layers
    return report


def assert_like_torch(spec: dict[str, Any], model: Any, input_shape: tuple[int, ...]) -> Report:
    """Every leaf's shape and parameters, the total and the output equal torch's."""
    report = analysed(spec)
    leaves, output = cpu_run(model, input_shape)
    assert match(list(report.leaves()), leaves) == []
    assert report.total_params == total_params(model)
    assert report.output_shape == output
    return report


# --- round trips with real models --------------------------------------------------------


@pytest.mark.torch
def test_lenet5_round_trip(nn: Any) -> None:
    model = nn.Sequential(
        nn.Conv2d(1, 6, 5), nn.Tanh(), nn.AvgPool2d(2),
        nn.Conv2d(6, 16, 5), nn.Tanh(), nn.AvgPool2d(2),
        nn.Flatten(), nn.Linear(400, 120), nn.Tanh(), nn.Linear(120, 84), nn.Tanh(),
        nn.Linear(84, 10),
    )  # fmt: skip
    assert str(model) == LENET_TEXT
    spec = from_print(str(model), (1, 32, 32), "lenet5")
    assert spec == {"name": "lenet5", "input": [1, 32, 32], "layers": LENET_LAYERS}
    report = assert_like_torch(spec, model, (1, 32, 32))
    assert report.total_params == 61_706
    assert report.total_params == analyse(load_spec("lenet5")).total_params


def test_lenet5_yaml() -> None:
    text = to_yaml(from_print(LENET_TEXT, (1, 32, 32), "lenet5"))
    header, body = text.split("name:", 1)
    assert "name:" + body == LENET_YAML_BODY
    comments = header.splitlines()
    assert all(line.startswith("# ") for line in comments)
    assert "print(model)" in comments[0]
    for hidden in ("forward", "ModuleList", "ceil_mode", "shared", "F.relu"):
        assert hidden in header
    assert "functional" not in header  # nothing was assumed
    assert load_spec(text).layers == load_spec(LENET_YAML_BODY).layers


@pytest.mark.torch
def test_nested_sequentials_keep_their_names(nn: Any) -> None:
    features = nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(inplace=True), nn.MaxPool2d(2)
    )
    classifier = nn.Sequential(nn.Dropout(0.25), nn.Linear(8 * 16 * 16, 10))
    model = nn.Sequential(OrderedDict(features=features, flat=nn.Flatten(), classifier=classifier))
    spec = from_print(str(model), (3, 32, 32))
    assert spec["layers"] == [
        {
            "name": "features",
            "type": "sequential",
            "layers": [
                {"type": "conv", "out_channels": 8, "kernel_size": 3, "padding": 1},
                {"type": "batchnorm"},
                {"type": "relu"},
                {"type": "maxpool", "kernel_size": 2},
            ],
        },
        {"name": "flat", "type": "flatten"},
        {
            "name": "classifier",
            "type": "sequential",
            "layers": [{"type": "dropout", "p": 0.25}, {"type": "linear", "out_features": 10}],
        },
    ]
    assert_like_torch(spec, model, (3, 32, 32))
    text = to_yaml(spec)
    assert "  - name: features\n    type: sequential\n    layers:\n      - {type: conv," in text


@pytest.mark.full
@pytest.mark.torch
def test_many_layer_kinds(nn: Any) -> None:
    """One model with most supported classes, nested and named, in 1-D, 2-D and 3-D."""
    model = nn.Sequential(
        nn.Conv2d(3, 8, 3, stride=2, padding="valid", dilation=1, bias=False),
        nn.BatchNorm2d(8, momentum=None, eps=1e-3),
        nn.LeakyReLU(0.2, inplace=True),
        nn.ReflectionPad2d((1, 2, 0, 1)),
        nn.Conv2d(8, 8, 3, padding="same", padding_mode="reflect", groups=4),
        nn.GroupNorm(2, 8),
        nn.GELU(approximate="tanh"),
        nn.ConvTranspose2d(8, 4, 3, stride=2, padding=1, output_padding=1, dilation=1),
        nn.Upsample(scale_factor=(2, 1.5), mode="nearest"),
        nn.UpsamplingBilinear2d(size=(20, 24)),
        nn.ZeroPad2d(1),
        nn.MaxPool2d((2, 3), stride=(2, 1), padding=(1, 1), dilation=(1, 2), ceil_mode=True),
        nn.Dropout2d(0.1),
        nn.InstanceNorm2d(4, affine=True),
        nn.LocalResponseNorm(3, k=2.0),
        nn.ChannelShuffle(2),
        nn.AdaptiveMaxPool2d((None, 5)),
        nn.ConstantPad2d((0, 1, 1, 0), 3.5),
        nn.Sequential(nn.SiLU(), nn.Hardswish(), nn.Mish(), nn.ReLU6(), nn.Hardsigmoid()),
        nn.ELU(alpha=2.0),
        nn.PReLU(4),
        nn.Unflatten(1, (2, 2)),
        nn.Flatten(1, 2),
        nn.Softplus(beta=2, threshold=10),
        nn.LayerNorm([13, 6]),
        nn.Flatten(start_dim=2),
        nn.Conv1d(4, 6, 3, padding=2, padding_mode="circular"),
        nn.MaxPool1d(2),
        nn.BatchNorm1d(6, affine=False),
        nn.AvgPool1d(3, stride=1, padding=1),
        nn.Unflatten(2, (1, 2, 20)),
        nn.Conv3d(6, 4, (1, 2, 3), stride=(1, 1, 2)),
        nn.Dropout3d(),
        nn.ReplicationPad3d((1, 1, 0, 0, 0, 0)),
        nn.AdaptiveAvgPool3d((1, 1, 2)),
        nn.Flatten(),
        nn.Sigmoid(),
        nn.Linear(8, 5, bias=False),
        nn.Identity(),
        nn.Softmax(dim=1),
        nn.LogSoftmax(dim=-1),
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        spec = from_print(str(model), (3, 35, 33))
        assert_like_torch(spec, model, (3, 35, 33))


@pytest.mark.torch
def test_rearranging_layers(nn: Any) -> None:
    """PixelUnshuffle, PixelShuffle, Unfold and Fold as print(model) shows them (keyword
    arguments, tuples and ints mixed) import to the network torch runs."""
    model = nn.Sequential(
        nn.PixelUnshuffle(2),
        nn.Conv2d(12, 16, 3, padding=1),
        nn.PixelShuffle(upscale_factor=2),
        nn.Unfold(kernel_size=(2, 3), padding=(0, 1), stride=2),
        nn.Fold(output_size=(8, 8), kernel_size=(2, 3), padding=(0, 1), stride=2),
        nn.PixelShuffle(2),
        nn.Unfold(3, dilation=2),
        nn.Fold(output_size=[16, 16], kernel_size=3, dilation=(2, 2)),
    )
    text = str(model)
    assert "PixelShuffle(upscale_factor=2)" in text and "Fold(output_size=(8, 8)" in text
    spec = from_print(text, (3, 8, 8))
    assert [layer["type"] for layer in spec["layers"]] == [
        *("pixel_unshuffle", "conv", "pixel_shuffle", "unfold", "fold", "pixel_shuffle"),
        *("unfold", "fold"),
    ]
    assert_like_torch(spec, model, (3, 8, 8))


@pytest.mark.torch
@pytest.mark.parametrize(
    ("make", "shape"),
    [
        (lambda nn: nn.MaxUnpool1d(3), (2, 4)),
        (lambda nn: nn.MaxUnpool2d((2, 3), stride=(1, 2), padding=1), (3, 4, 5)),
        (lambda nn: nn.MaxUnpool2d(2), (3, 4, 5)),
        (lambda nn: nn.MaxUnpool3d(2, stride=1), (2, 2, 3, 4)),
    ],
)
def test_max_unpool(nn: Any, make: Callable[[Any], Any], shape: tuple[int, ...]) -> None:
    """MaxUnpool{n}d as printed imports to torch's output shape (run with the indices of
    zeros, which any output admits: a Sequential cannot hand it a pool's indices)."""
    torch = pytest.importorskip("torch")
    module = make(nn)
    text = str(nn.Sequential(module))
    report = analysed(from_print(text, shape))
    x = torch.zeros(2, *shape)
    y = module(x, torch.zeros(x.shape, dtype=torch.long))
    assert report.output_shape == tuple(y.shape[1:])
    assert report.total_params == 0


# --- the arguments that change values --------------------------------------------------------

try:  # PyTorch's side of the round trip: the export's tests (skipped where torch is absent)
    import tests.test_export as _export_tests
except pytest.skip.Exception:
    _export_tests = None


def torch_side() -> Any:
    """tests.test_export, imported with this module (never inside a Hypothesis test)."""
    assert _export_tests is not None, "torch is absent: the torch-marked tests skip"
    return _export_tests


# print(model) shows inplace, and the import leaves it out on purpose: it changes no value
NOT_IMPORTED = {"inplace"}
# what print(model) does not show (README, "From PyTorch"), by spec type
HIDDEN = {"avgpool": {"ceil_mode", "count_include_pad", "divisor_override"}}


def imported_argument_mismatches(
    spec: dict[str, Any], model: Any, hidden: dict[str, set[str]] | None = None
) -> list[Any]:
    """Each leaf of the imported spec against the module it was printed from: every field
    test_export's ARGUMENTS reads (the spec's value, or PyTorch's default where it is left out)
    must be what the module keeps, but inplace and the ``hidden`` fields of each type."""
    export = torch_side()
    Built, leaf_modules = export.Built, export.leaf_modules
    written, modules = export.written_leaves(spec["layers"]), leaf_modules(model)
    assert len(written) == len(modules)
    wrong = []
    for layer, module in zip(written, modules, strict=True):
        skip = NOT_IMPORTED | (hidden or {}).get(layer["type"], set())
        differ = export.argument_mismatches(Built(layer, module, "cpu"))
        wrong += [(layer, *d) for d in differ if d[0] not in skip]
    return wrong


def exported_argument_mismatches(
    spec: dict[str, Any], model: Any, folder: Any, hidden: dict[str, set[str]] | None = None
) -> list[Any]:
    """The imported spec exported to PyTorch and built: each module against the original one,
    attribute for attribute (every field ARGUMENTS reads for the leaf's type, but inplace and
    the ``hidden`` ones)."""
    export = torch_side()
    Built, leaf_modules = export.Built, export.leaf_modules
    rebuilt = export.Generated(analyse(load_spec(spec)), folder).build()
    written = export.written_leaves(spec["layers"])
    triples = zip(written, leaf_modules(model), leaf_modules(rebuilt), strict=True)
    wrong = []
    for layer, original, module in triples:
        skip = NOT_IMPORTED | (hidden or {}).get(layer["type"], set())
        for field, arg in export.ARGUMENTS[layer["type"]].items():
            want = arg.actual(Built(layer, original, "cpu"))
            got = arg.actual(Built(layer, module, "cpu"))
            if field not in skip and want is not export.UNSEEN and not export.same(got, want):
                wrong.append((type(original).__name__, field, got, want))
    return wrong


def argument_model(nn: Any) -> Any:
    """Every class the import reads, each printed argument away from its default (those print
    does not show left at theirs), in 2-D, 1-D and on a vector."""
    ops = import_torchvision().ops
    return nn.Sequential(
        nn.Conv2d(4, 8, (3, 2), stride=(1, 2), padding=(2, 1), dilation=(2, 1), groups=2,
                  bias=False, padding_mode="reflect"),
        nn.BatchNorm2d(8, eps=1e-3, momentum=0.3, affine=False),
        nn.LeakyReLU(0.2, inplace=True),
        nn.ReflectionPad2d((1, 2, 0, 1)),
        nn.MaxPool2d((2, 3), stride=(2, 1), padding=(1, 1), dilation=(1, 2), ceil_mode=True),
        nn.InstanceNorm2d(8, eps=0.01, momentum=0.2, affine=True, track_running_stats=True),
        nn.GroupNorm(4, 8, eps=0.01, affine=False),
        nn.ELU(alpha=0.5),
        nn.ConvTranspose2d(8, 6, 3, stride=2, padding=1, output_padding=1, groups=2, bias=False),
        nn.GELU(approximate="tanh"),
        nn.Upsample(scale_factor=(2, 1.5), mode="bilinear"),
        nn.UpsamplingBilinear2d(scale_factor=0.5),
        nn.UpsamplingNearest2d(size=(12, 10)),
        nn.Dropout2d(p=0.1),
        nn.LocalResponseNorm(3, alpha=1e-3, beta=0.5, k=2.0),
        nn.ChannelShuffle(2),
        nn.ConstantPad2d((0, 1, 1, 0), 3.5),
        nn.ZeroPad2d(1),
        nn.ReplicationPad2d((1, 0, 0, 1)),
        nn.CircularPad2d(1),
        nn.AdaptiveMaxPool2d((None, 8)),
        nn.AdaptiveAvgPool2d((10, 7)),
        nn.Softplus(beta=2, threshold=10),
        nn.PReLU(6),
        nn.Hardswish(), nn.SiLU(inplace=True), nn.Mish(), nn.ReLU6(inplace=True),
        nn.Hardsigmoid(), nn.Sigmoid(), nn.Tanh(), nn.Identity(),
        nn.Softmax(dim=1),
        nn.LogSoftmax(dim=-1),
        nn.Dropout(p=0.3),
        ops.StochasticDepth(0.3, "batch"),
        nn.Unflatten(1, (2, 3)),
        nn.Flatten(1, 2),
        nn.LayerNorm([10, 7], eps=1e-3, bias=False),
        nn.Flatten(start_dim=2),
        nn.Conv1d(6, 4, 3, padding=2, padding_mode="circular"),
        nn.BatchNorm1d(4, momentum=None, eps=0.1),
        nn.AvgPool1d(3, stride=1, padding=1),
        nn.Dropout1d(0.2),
        nn.Upsample(size=80, mode="linear"),
        nn.Flatten(),
        nn.Linear(320, 5, bias=False),
        nn.BatchNorm1d(5, affine=False, track_running_stats=False),
        nn.Dropout(0.4),
    )  # fmt: skip


@pytest.mark.torch
def test_imported_arguments_are_the_modules(nn: Any, tmp_path: Any) -> None:
    """Every argument print(model) shows (eps, momentum, negative_slope, beta, threshold, alpha,
    approximate, dim, p, ...) is in the imported spec as the module keeps it, and the export of
    that spec builds modules keeping the same: the round trip keeps what changes values, not
    only the shapes. An embedding's arguments too, in a network of its own (integer input)."""
    embedding = nn.Sequential(
        nn.Embedding(7, 3, padding_idx=-2, max_norm=1.5, norm_type=3.0, scale_grad_by_freq=True,
                     sparse=True),
        nn.LayerNorm(3, eps=0.1, elementwise_affine=False),
    )  # fmt: skip
    for model, shape in ((argument_model(nn), (4, 12, 12)), (embedding, (5,))):
        spec = from_print(str(model), shape)
        assert imported_argument_mismatches(spec, model) == []
        assert exported_argument_mismatches(spec, model, tmp_path) == []
    leaky = from_print(str(argument_model(nn)), (4, 12, 12))["layers"][2]
    assert leaky == {"type": "leaky_relu", "negative_slope": 0.2}  # written by hand


@pytest.mark.torch
def test_a_layer_printed_alone(nn: Any) -> None:
    model = nn.Conv2d(3, 4, 3)
    spec = from_print(str(model), (3, 8, 8))
    assert spec["layers"] == [{"type": "conv", "out_channels": 4, "kernel_size": 3}]
    assert_like_torch(spec, model, (3, 8, 8))


@pytest.mark.torch
def test_lazy_modules(nn: Any) -> None:
    """Lazy modules print in_features=0 until they run: nothing to check, the rest exact."""
    model = nn.Sequential(nn.LazyConv2d(8, 3), nn.LazyBatchNorm2d(), nn.Flatten(), nn.LazyLinear(4))
    assert "in_features=0" in str(model)
    spec = from_print(str(model), (3, 10, 10))
    assert_like_torch(spec, model, (3, 10, 10))  # the run materialises the lazy modules
    assert from_print(str(model), (3, 10, 10)) == spec  # as the regular classes now


@pytest.mark.torch
def test_torchvision_sequential_subclass(nn: Any) -> None:
    """torchvision's Conv2dNormActivation is an nn.Sequential: its forward is Sequential's."""
    ops = import_torchvision().ops
    model = nn.Sequential(ops.Conv2dNormActivation(3, 16, stride=2), nn.AdaptiveAvgPool2d(1))
    spec = from_print(str(model), (3, 16, 16))
    assert spec["layers"][0]["type"] == "sequential"
    assert_like_torch(spec, model, (3, 16, 16))


@pytest.mark.torch
@pytest.mark.parametrize(("model_name", "bundled"), [("alexnet", "alexnet"), ("vgg16", "vgg16"),
                                                     ("vgg11_bn", None)])  # fmt: skip
def test_alexnet_and_vgg_need_assume_sequential(model_name: str, bundled: str | None) -> None:
    """torchvision's AlexNet and VGG are custom classes whose forward runs features, avgpool,
    torch.flatten, classifier: refused by default (line 1), imported with assume_sequential,
    the flatten inserted where the first Linear's in_features asks for it, marked functional
    (no module hook sees it), and then every leaf is torch's."""
    torch = pytest.importorskip("torch")

    torchvision = import_torchvision()
    with torch.device("meta"):
        model = getattr(torchvision.models, model_name)(weights=None)
    text = str(model)
    refused = refusal(text, (3, 224, 224))
    assert refused.line == 1
    assert refused.text == text.split("\n")[0]
    assert "assume_sequential=True" in str(refused)
    spec = from_print(text, (3, 224, 224), model_name, assume_sequential=True)
    names = [layer.get("name") for layer in spec["layers"]]
    assert names == ["features", "avgpool", None, "classifier"]
    assert spec["layers"][2] == {"type": "flatten", "functional": True}
    report = analysed(spec)
    assert match(list(report.leaves()), torch_leaves(model, (3, 224, 224))) == []
    assert report.total_params == total_params(model)
    if bundled is not None:
        assert report.total_params == analyse(load_spec(bundled)).total_params
    yaml_text = to_yaml(spec)
    assert "assume_sequential" in yaml_text.split("name:")[0]
    assert "  - {type: flatten, functional: true}  # assumed: torch.flatten(x, 1)" in yaml_text


@pytest.mark.torch
def test_assume_sequential_with_a_plain_custom_class(nn: Any) -> None:
    """A custom LeNet class whose forward calls F.relu and torch.flatten: activations change
    no shape, the flatten is inserted before fc1."""

    class Net(nn.Module):  # type: ignore[misc]
        def __init__(self) -> None:
            super().__init__()
            self.conv1 = nn.Conv2d(1, 6, 5)
            self.pool = nn.MaxPool2d(2)
            self.conv2 = nn.Conv2d(6, 16, 5)
            self.pool2 = nn.MaxPool2d(2)
            self.fc1 = nn.Linear(16 * 5 * 5, 120)
            self.fc2 = nn.Linear(120, 10)

        def forward(self, x: Any) -> Any:
            import torch

            x = self.pool(torch.relu(self.conv1(x)))
            x = self.pool2(torch.relu(self.conv2(x)))
            return self.fc2(torch.relu(self.fc1(torch.flatten(x, 1))))

    model = Net()
    assert refusal(str(model), (1, 32, 32)).line == 1
    spec = from_print(str(model), (1, 32, 32), assume_sequential=True)
    assert [layer.get("name") for layer in spec["layers"]] == [
        "conv1", "pool", "conv2", "pool2", None, "fc1", "fc2"
    ]  # fmt: skip
    assert_like_torch(spec, model, (1, 32, 32))


@pytest.mark.torch
def test_assume_sequential_cannot_hide_a_functional_pool(nn: Any) -> None:
    """The PyTorch tutorial's Net pools with F.max_pool2d in forward: print(model) shows no
    pool, so fc1's in_features does not match even flattened, and the import is refused."""

    class Net(nn.Module):  # type: ignore[misc]
        def __init__(self) -> None:
            super().__init__()
            self.conv1 = nn.Conv2d(1, 6, 5)
            self.conv2 = nn.Conv2d(6, 16, 5)
            self.fc1 = nn.Linear(16 * 5 * 5, 120)

    text = str(Net())
    refused = refusal(text, (1, 32, 32), assume_sequential=True)
    assert refused.line == line_of(text, "(fc1)")
    assert str(refused) == (
        f"line {refused.line}: Linear(in_features=400, ...) but the layer before gives "
        "16×24×24: a Linear takes the last dimension, 24, so PyTorch refuses it too "
        "(flattened, 16×24×24 is 9216 values)"
    )


@pytest.mark.torch
def test_collapsed_repeats_in_a_sequential(nn: Any) -> None:
    """PyTorch collapses repeated modules ((0-2): 3 x ...) in a ModuleList's print, not in a
    Sequential's; text written that way inside a Sequential is read as a repeat."""
    text = """\
Sequential(
  (0): Conv2d(3, 8, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1))
  (1-3): 3 x Conv2d(8, 8, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1))
  (4-5): 2 x Sequential(
    (0): Conv2d(8, 8, kernel_size=(3, 3), stride=(1, 1))
    (1): ReLU()
  )
)"""
    spec = from_print(text, (3, 12, 12))
    conv = {"type": "conv", "out_channels": 8, "kernel_size": 3}
    assert spec["layers"][1:] == [
        {"type": "repeat", "times": 3, "layers": [{**conv, "padding": 1}]},
        {"type": "repeat", "times": 2, "layers": [conv, {"type": "relu"}]},
    ]
    block = [nn.Conv2d(8, 8, 3), nn.ReLU()]
    model = nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1), *[nn.Conv2d(8, 8, 3, padding=1) for _ in range(3)],
        *block, nn.Conv2d(8, 8, 3), nn.ReLU(),
    )  # fmt: skip
    assert_like_torch(spec, model, (3, 12, 12))
    # each repetition sees its own input: the third 3×3 conv on 4×4 gives 2×2
    assert analyse(load_spec(spec)).output_shape == (8, 8, 8)
    refused = refusal(text, (3, 4, 4))  # the second repetition of (4-5) gets 2×2
    assert refused.line == 5
    assert "kernel 3 is larger than the padded input 2" in str(refused)


@pytest.mark.torch
def test_avgpool_ceil_mode_is_not_printed(nn: Any) -> None:
    model = nn.Sequential(nn.AvgPool2d(2, ceil_mode=True), nn.AvgPool2d(3, ceil_mode=True))
    text = str(model)
    assert "ceil_mode" not in text
    refused = refusal(text, (3, 7, 7))
    assert (refused.line, refused.text) == (
        2,
        "  (0): AvgPool2d(kernel_size=2, stride=2, padding=0)",
    )
    assert str(refused) == (
        "line 2: print(model) does not show AvgPool2d's ceil_mode, and here it changes the "
        "output (3×3×3 with ceil_mode=False; 3×4×4 with True); import with "
        "avgpool_ceil_mode=False (PyTorch's default) or avgpool_ceil_mode=True to say which"
    )
    spec = from_print(text, (3, 7, 7), avgpool_ceil_mode=True)
    assert spec["layers"][0] == {"type": "avgpool", "kernel_size": 2, "ceil_mode": True}
    assert_like_torch(spec, model, (3, 7, 7))
    # where ceil_mode changes nothing (12 → 6 → 2 either way), nothing is asked
    spec = from_print(text, (3, 12, 12))
    assert_like_torch(spec, model, (3, 12, 12))
    floor = nn.Sequential(nn.AvgPool2d(2), nn.AvgPool2d(3))
    assert_like_torch(from_print(text, (3, 7, 7), avgpool_ceil_mode=False), floor, (3, 7, 7))


# --- refusals ----------------------------------------------------------------------------


@pytest.mark.torch
def test_custom_module_refused_at_its_line(nn: Any) -> None:
    class BasicBlock(nn.Module):  # type: ignore[misc]
        def __init__(self) -> None:
            super().__init__()
            self.conv1 = nn.Conv2d(8, 8, 3, padding=1)
            self.conv2 = nn.Conv2d(8, 8, 3, padding=1)

        def forward(self, x: Any) -> Any:
            return x + self.conv2(self.conv1(x))

    class Scale(nn.Module):  # type: ignore[misc]
        def forward(self, x: Any) -> Any:
            return 2 * x

    model = nn.Sequential(
        nn.Conv2d(3, 8, 3), nn.Sequential(nn.ReLU(), BasicBlock()), Scale(), nn.ReLU()
    )
    text = str(model)
    refused = refusal(text)
    assert refused.line == line_of(text, "BasicBlock(")
    assert refused.text == "    (1): BasicBlock("
    assert str(refused) == (
        f"line {refused.line}: BasicBlock is a custom module holding (conv1): Conv2d, (conv2): "
        "Conv2d (2 Conv2d; 8 channels kept): print(model) does not show its forward (how its "
        "children are combined), so the network cannot be recovered; write it as a residual "
        "block in the spec"
    )
    # the same with assume_sequential: that flag is about the top level only
    assert refusal(text, assume_sequential=True).line == refused.line
    text = str(nn.Sequential(nn.Conv2d(3, 8, 3), Scale()))
    refused = refusal(text)
    assert (refused.line, refused.text) == (3, "  (1): Scale()")
    assert "Scale is a custom module" in str(refused)
    assert "what it does to the shape cannot be recovered" in str(refused)


@pytest.mark.torch
@pytest.mark.parametrize("model_name", ["resnet18", "squeezenet1_0", "mobilenet_v2"])
def test_torchvision_blocks_refused(model_name: str) -> None:
    """Past the top level (assume_sequential), the first custom block is refused, with the
    convcalc block that would express it: MobileNetV2's first InvertedResidual takes 32
    channels to 16 (use_res_connect false), so not a residual one."""
    torch = pytest.importorskip("torch")

    with torch.device("meta"):
        model = getattr(import_torchvision().models, model_name)(weights=None)
    text = str(model)
    block, hint = {
        "resnet18": ("BasicBlock", "residual"),
        "squeezenet1_0": ("Fire", "concat"),
        "mobilenet_v2": ("InvertedResidual", "sequential"),
    }[model_name]
    refused = refusal(text, (3, 224, 224), assume_sequential=True)
    assert refused.line == line_of(text, f"{block}(")
    assert f"{block} is a custom module" in str(refused)
    assert f"write it as a {hint} block in the spec" in str(refused)


@pytest.mark.torch
@pytest.mark.parametrize(
    ("cls", "hint"),
    [
        ("Fire", "concat block in the spec (a split block if each branch takes a slice"),
        ("ShuffleUnit", "split block in the spec (x.split or x.chunk along the channels"),
        ("Net2", "(a residual, concat, split, scale or graph block, or a sequential"),
        ("LRASPPHead", "graph block in the spec (named paths, each on the input or on an"),
    ],
)
def test_custom_module_hints_name_split(nn: Any, cls: str, hint: str) -> None:
    """Where the hint names concat, it names split too: a custom module that cuts the channels
    into slices is a split block."""
    custom = type(cls, (nn.Module,), {"forward": lambda self, x: x})()
    custom.add_module("conv", nn.Conv2d(3, 3, 1))
    refused = refusal(str(nn.Sequential(custom)))
    assert hint in str(refused)


@pytest.mark.torch
def test_module_list_and_dict_refused(nn: Any) -> None:
    model = nn.Sequential(
        nn.Conv2d(3, 4, 3), nn.ModuleList([nn.ReLU(), nn.ReLU(), nn.ReLU(), nn.Tanh()])
    )
    text = str(model)
    assert "(0-2): 3 x ReLU()" in text  # PyTorch collapses a ModuleList's repeats
    refused = refusal(text)
    assert (refused.line, refused.text) == (3, "  (1): ModuleList(")
    assert str(refused) == (
        "line 3: ModuleList: print(model) lists its modules but not how forward uses them "
        "(which ones, in what order, how many times), so the network cannot be recovered; "
        "write the layers in the spec in the order forward runs them"
    )
    text = str(nn.Sequential(nn.ModuleDict({"a": nn.ReLU()})))
    assert refusal(text).line == 2
    assert "ModuleDict:" in str(refusal(text))
    assert refusal(str(nn.ModuleList([nn.ReLU()]))).line == 1


@pytest.mark.torch
def test_wrong_in_features_names_the_line(nn: Any) -> None:
    model = nn.Sequential(
        nn.Conv2d(3, 16, 5), nn.MaxPool2d(2), nn.ReLU(), nn.Flatten(), nn.Linear(500, 10)
    )
    refused = refusal(str(model), (3, 14, 14))
    assert (
        str(refused) == "line 6: Linear(in_features=500, ...) but the layer before gives 400 values"
    )
    assert refused.text == "  (4): Linear(in_features=500, out_features=10, bias=True)"
    # the same model takes a 3×24×24 input... and then 16·10·10 = 1600 ≠ 500
    assert "gives 1600 values" in str(refusal(str(model), (3, 24, 24)))
    # with no Flatten, a Linear takes the last dimension, as PyTorch does
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.Linear(6, 2))
    assert_like_torch(from_print(str(model), (3, 8, 8)), model, (3, 8, 8))
    refused = refusal(str(nn.Sequential(nn.Conv2d(3, 4, 3), nn.Linear(144, 2))), (3, 8, 8))
    assert str(refused) == (
        "line 3: Linear(in_features=144, ...) but the layer before gives 4×6×6: a Linear takes "
        "the last dimension, 6, so PyTorch refuses it too (flattened, 4×6×6 is 144 values)"
    )


@pytest.mark.torch
def test_wrong_channels_names_the_line(nn: Any) -> None:
    text = str(nn.Sequential(nn.Conv2d(3, 8, 3), nn.BatchNorm2d(6)))
    assert str(refusal(text)) == (
        "line 3: BatchNorm2d(6, ...) expects 6 channels but the layer before gives 8×30×30 "
        "(8 channels)"
    )
    assert str(refusal(str(nn.Conv2d(1, 8, 3)))) == (
        "line 1: Conv2d(1, ...) expects 1 channels but the input is 3×32×32 (3 channels)"
    )
    text = str(nn.Sequential(nn.Conv2d(3, 8, 3), nn.GroupNorm(2, 4)))
    assert "GroupNorm(num_channels=4, ...) expects 4 channels" in str(refusal(text))


@pytest.mark.torch
def test_dimensionality_is_checked(nn: Any) -> None:
    """A 2-D class on a flat input: PyTorch refuses (or reads the batch as channels)."""
    text = str(nn.Sequential(nn.Flatten(), nn.BatchNorm2d(3072)))
    assert str(refusal(text)) == (
        "line 3: BatchNorm2d needs an input with 2 spatial dimensions [channels, height, "
        "width], but the layer before gives 3072 values"
    )
    assert "MaxPool1d needs an input with 1 spatial dimension" in str(refusal(str(nn.MaxPool1d(2))))


@pytest.mark.torch
def test_what_the_spec_cannot_say_is_refused(nn: Any) -> None:
    text = str(nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4, bias=False)))
    assert "convcalc's batchnorm has no bias option" in str(refusal(text))
    assert "affine=False" in str(nn.BatchNorm2d(4, affine=False, bias=False))
    from_print(str(nn.BatchNorm2d(3, affine=False, bias=False)), (3, 4, 4))  # nothing lost
    assert str(refusal(str(nn.Flatten(0)))) == (
        "line 1: Flatten(start_dim=0, ...) reshapes the batch dimension; convcalc's shapes "
        "have no batch"
    )
    assert "Threshold is a PyTorch layer convcalc has no spec type for" in str(
        refusal(str(nn.Sequential(nn.Threshold(0.1, 20.0))))
    )
    assert "LSTM is a PyTorch layer" in str(refusal(str(nn.LSTM(3, 4))))
    text = str(nn.Sequential(nn.Conv2d(3, 4, 3), nn.MaxPool2d(40)))
    assert str(refusal(text)) == (
        "line 3: MaxPool2d on an input 4×30×30: kernel_size: kernel 40 is larger than the "
        "padded input 30 (dimension 1)"
    )


def test_top_level_custom_class_line_1() -> None:
    text = "\n\nNet(\n  (fc): Linear(in_features=4, out_features=2, bias=True)\n)\n"
    refused = refusal(text, (4,))
    assert (refused.line, refused.text) == (3, "Net(")
    assert "Net is a custom module" in str(refused)
    assert from_print(text, (4,), assume_sequential=True)["layers"] == [
        {"name": "fc", "type": "linear", "out_features": 2}
    ]
    for childless in ("Net()", "Net(\n)"):
        refused = refusal(childless, (4,), assume_sequential=True)
        assert refused.line == 1
        assert "Net is a custom module with no children" in str(refused)


def test_structure_errors() -> None:
    cases = {
        "": (1, "the text is empty"),
        "   \n\n": (1, "the text is empty"),
        "hello world": (1, "'hello world' is not a line print(model) writes"),
        ")": (1, "is not a line print(model) writes"),
        "Sequential(\n  (0): ReLU()\n": (2, "the text ends inside Sequential (opened on line 1)"),
        "Sequential(\n  (0): ReLU()\n)\n)": (4, "text after the model's closing ')'"),
        "Sequential(\n  (0): ReLU()\n)\nReLU()": (4, "text after the model's closing ')'"),
        "Sequential(\n  ReLU()\n)": (2, "every line is a child (key): Module"),
        "Sequential(\n  (0): Conv2d(3, 4, kernel_size=(3, 3)\n)": (
            2,
            "the arguments of Conv2d are not balanced",
        ),
        "Sequential(\n  (0): Conv2d(3, 4, kernel_size=(3, 3), str": (
            2,
            "Conv2d's arguments do not end with ')'",
        ),
        "Sequential(\n  (0): None\n)": (2, "(0) is None"),
        "  (0): ReLU()\n)": (1, "a child module before the module holding it"),
        "Sequential(\n  (0-1): 3 x ReLU()\n)": (2, "is not how PyTorch collapses"),
        "Sequential(\n  (0-999999999): 1000000000 x ReLU()\n)": (2, "more than 100,000 layers"),
        "Sequential(\n  (0-999): 1000 x Sequential(\n    (0-999): 1000 x ReLU()\n  )\n)": (
            3,
            "more than 100,000 layers",
        ),
        "Sequential(3)": (1, "Sequential prints no arguments"),
        "Conv2d(\n  (0): ReLU()\n)": (1, "it is a custom module of that name"),
        "ReLU(3)": (1, "print(model) names each of its arguments"),
        "Conv2d(3, 4, 5, kernel_size=(3, 3))": (1, "shows 2 arguments without a name"),
        "ReLU(slope=3)": (1, "ReLU has no argument 'slope'"),
        "Linear(in_features=3, in_features=3, out_features=2)": (1, "gives in_features twice"),
        "Conv2d(3, 4, stride=(1, 1))": (1, "kernel_size: not on this line"),
        "Conv2d(3, 4, kernel_size=(0, 3))": (1, "kernel_size: every entry must be a positive"),
        "Linear(in_features=3, out_features=__import__('os').getcwd())": (1, "cannot read"),
        "Linear(in_features=3, out_features={1: 2})": (1, "cannot read"),
        "Dropout(p=[[0.5]])": (1, "cannot read"),
        "Dropout(p=" + "(" * 50 + ")" * 50 + ")": (1, "not balanced"),
    }
    for text, (line, message) in cases.items():
        refused = refusal(text, (3, 8, 8))
        assert refused.line == line, text
        assert message in str(refused), (text, str(refused))
        lines = text.split("\n")
        assert refused.text == (lines[line - 1].rstrip() if line <= len(lines) else "")


def test_pasted_text_is_read_loosely() -> None:
    """Indented, with CRLF line ends, blank lines and trailing spaces: the same spec, and the
    line numbers are those of the text as given."""
    indented = "\r\n\r\n" + "\r\n".join("    " + line + "  " for line in LENET_TEXT.split("\n"))
    assert from_print(indented, (1, 32, 32)) == from_print(LENET_TEXT, (1, 32, 32))
    refused = refusal(indented.replace("400", "500"), (1, 32, 32))
    assert refused.line == 11
    assert refused.text == "      (7): Linear(in_features=500, out_features=120, bias=True)"


def test_input_shape_and_name_are_checked() -> None:
    with pytest.raises(ConvcalcError, match="name must be text"):
        from_print(LENET_TEXT, (1, 32, 32), 3)  # type: ignore[arg-type]
    for bad in [(), (1, 2, 3, 4, 5), (3, 0, 4), (3, 2.0), [True, 4], "3,32,32"]:
        with pytest.raises(ConvcalcError) as info:
            from_print(LENET_TEXT, bad)  # type: ignore[arg-type]
        assert not isinstance(info.value, ImportRefusal)


def nested(depth: int) -> str:
    """A Conv2d inside ``depth`` Sequentials, as print(model) writes it."""
    return "\n".join(
        [*(" " * (2 * i) + ("(0): " if i else "") + "Sequential(" for i in range(depth)),
         " " * (2 * depth) + "(0): Conv2d(3, 4, kernel_size=(3, 3), stride=(1, 1))",
         *(" " * (2 * i) + ")" for i in reversed(range(depth)))]
    )  # fmt: skip


@pytest.mark.full
def test_deep_nesting_costs_no_recursion() -> None:
    depth = 500
    spec = from_print(nested(depth), (3, 8, 8))
    report = analysed(spec, deep=True)
    assert report.output_shape == (4, 6, 6)
    assert to_yaml(spec).count("type: sequential") == depth - 1
    refused = refusal(nested(depth + 1), (3, 8, 8))
    assert (refused.line, str(refused)) == (501, "line 501: modules nest more than 500 deep here")


def test_to_yaml_writes_any_block() -> None:
    """to_yaml is not limited to what the importer makes: residual, concat (lists of lists,
    an empty branch), scale, repeat, names needing quotes."""
    spec = {
        "name": "blocks: a test",
        "input": [8, 8, 8],
        "layers": [
            {
                "name": "yes",
                "type": "residual",
                "body": [{"type": "conv", "out_channels": 8, "kernel_size": 3, "padding": 1}],
                "shortcut": [],
            },
            {
                "type": "concat",
                "branches": [[], [{"type": "conv", "out_channels": 4, "kernel_size": 1}]],
            },
            {"type": "scale", "body": [{"type": "adaptive_avgpool", "output_size": [1, 1]}]},
            {"type": "repeat", "times": 2, "layers": [{"name": "a, b", "type": "relu"}]},
            {"type": "upsample", "scale_factor": 1.5, "mode": "nearest-exact"},
            {"type": "batchnorm", "eps": 1e-05, "momentum": None},
        ],
    }
    text = to_yaml(spec)
    assert yaml.safe_load(text) == spec
    assert load_spec(text).layers == load_spec(spec).layers
    assert "  - {type: upsample, scale_factor: 1.5, mode: nearest-exact}" in text
    assert "functional" not in text
    assert to_yaml({"name": "x", "input": [3], "layers": []}).endswith("layers: []\n")


def test_supported_classes() -> None:
    assert "Conv2d" in SUPPORTED and "Sequential" in SUPPORTED and "ModuleList" not in SUPPORTED
    assert {"ZeroPad2d", "ReflectionPad1d", "UpsamplingBilinear2d", "LazyLinear"} <= set(SUPPORTED)
    for name in SUPPORTED:  # each one imports, or is refused for its arguments only
        result = outcome(f"{name}()", (4, 6, 6))
        message = str(result) if isinstance(result, ImportRefusal) else ""
        assert "custom module" not in message and "no spec type" not in message, name


@pytest.mark.torch
def test_torch_nn_names_are_current(nn: Any) -> None:
    """TORCH_NN tells a standard layer from a custom module: it must hold torch.nn's own."""
    modules = {
        name
        for name in nn.modules.__all__
        if isinstance(getattr(nn, name, None), type) and issubclass(getattr(nn, name), nn.Module)
    }
    assert modules <= TORCH_NN
    torchvision_only = {"ConvNormActivation", "Conv2dNormActivation", "Conv3dNormActivation",
                        "StochasticDepth", "LayerNorm2d"}  # fmt: skip
    assert set(SUPPORTED) - torchvision_only <= modules


# --- garbage never escapes as a traceback -------------------------------------------------


def _assert_refused_or_imported(text: str, shape: tuple[int, ...] = (3, 16, 16)) -> None:
    result = outcome(text, shape)
    if isinstance(result, ImportRefusal):
        lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
        assert 1 <= result.line <= len(lines)
        assert result.text == lines[result.line - 1].rstrip()
        assert str(result).startswith(f"line {result.line}: ")
        assert "\n" not in str(result)
    else:
        analysed(result)


@settings(max_examples=examples(500), deadline=None)
@given(st.text(max_size=200))
def test_random_text(text: str) -> None:
    _assert_refused_or_imported(text)


MODULE_LINES = [line.strip() for line in LENET_TEXT.split("\n")] + [
    "  (x): Sequential(",
    "    (0-1): 2 x Conv2d(3, 3, kernel_size=(1, 1), stride=(1, 1))",
    "  (y): MaxPool2d(kernel_size=2, stride=2, padding=0, dilation=1, ceil_mode=False)",
    "  (z): Linear(in_features=768, out_features=2, bias=True)",
    "    (0): BasicBlock(",
    "  (1): ModuleList(",
    "  Flatten(start_dim=1, end_dim=-1)",
]


@settings(max_examples=examples(500), deadline=None)
@given(st.lists(st.sampled_from(MODULE_LINES) | st.text(max_size=30), max_size=12))
def test_random_lines(lines: list[str]) -> None:
    _assert_refused_or_imported("\n".join(lines))


@settings(max_examples=examples(300), deadline=None)
@given(st.integers(0, len(LENET_TEXT)), st.text(max_size=3), st.integers(0, 3))
def test_truncated_and_garbled(cut: int, noise: str, drop: int) -> None:
    _assert_refused_or_imported(LENET_TEXT[:cut], (1, 32, 32))
    _assert_refused_or_imported(LENET_TEXT[:cut] + noise + LENET_TEXT[cut + drop :], (1, 32, 32))


SCALARS = (
    st.integers(-3, 70)
    | st.sampled_from([0, 2**63, 10**400, -1, True, False, None, 1e-05, 0.5, 2.0, 1e308])
    | st.sampled_from(["'nearest'", "same", "valid", "reflect", "'tanh'", "zeros", "row", "'x'"])
)


@st.composite
def argument_text(draw: Draw) -> str:
    """One printed argument: name=value or a bare value, the value a scalar or a tuple."""
    value = draw(SCALARS | st.lists(SCALARS, max_size=4).map(lambda v: "(" + ", ".join(
        map(str, v)) + ",)"))  # fmt: skip
    names = ["kernel_size", "stride", "padding", "dilation", "output_size", "scale_factor",
             "size", "mode", "p", "dim", "start_dim", "end_dim", "in_features", "out_features",
             "bias", "affine", "groups", "padding_mode", "ceil_mode", "output_padding",
             "unflattened_size", "num_parameters", "eps", "momentum", "value"]  # fmt: skip
    name = draw(st.none() | st.sampled_from(names))
    return f"{value}" if name is None else f"{name}={value}"


@pytest.mark.full
@settings(max_examples=examples(1000), deadline=None,
          suppress_health_check=[HealthCheck.too_slow])  # fmt: skip
@given(
    st.lists(st.sampled_from(SUPPORTED), min_size=1, max_size=4),
    st.data(),
    st.sampled_from([(3, 9, 9), (4,), (2, 7), (2, 3, 4, 5)]),
)
def test_random_arguments(classes: list[str], data: st.DataObject, shape: Any) -> None:
    """Known classes with arbitrary printed arguments: imported (then valid) or refused at a
    line, never an exception of another kind."""
    lines = ["Sequential("]
    for i, cls in enumerate(classes):
        args = data.draw(st.lists(argument_text(), max_size=5))
        lines.append(f"  ({i}): {cls}({', '.join(args)})")
    lines.append(")")
    _assert_refused_or_imported("\n".join(lines), shape)


# --- the property: random Sequential stacks against torch ---------------------------------


def _dims(draw: Draw, low: int, high: int, rank: int) -> Any:
    """An int, or a tuple of ``rank`` ints (PyTorch's two ways of writing a size)."""
    if draw(st.booleans()):
        return draw(st.integers(low, high))
    return tuple(draw(st.integers(low, high)) for _ in range(rank))


def _draw_module(draw: Draw, nn: Any, shape: tuple[int, ...], avg_ceil: bool) -> Any:
    """A random standard module that fits ``shape`` by its class (not necessarily by sizes)."""
    rank = len(shape) - 1
    channels = shape[0]
    flat = ["linear", "relu", "dropout", "batchnorm", "leaky_relu", "tanh"]
    kinds = flat if rank == 0 else [*flat, "conv", "conv", "maxpool", "avgpool", "flatten",
                                    "adaptive", "conv_transpose", "pad", "upsample", "groupnorm",
                                    "channel_dropout"]  # fmt: skip
    kind = draw(st.sampled_from(kinds))
    if kind == "linear":
        return nn.Linear(shape[-1], draw(st.integers(1, 8)), bias=draw(st.booleans()))
    if kind == "relu":
        return nn.ReLU(inplace=draw(st.booleans()))
    if kind == "leaky_relu":
        return nn.LeakyReLU(draw(st.sampled_from([0.01, 0.2])))
    if kind == "tanh":
        return nn.Tanh()
    if kind == "dropout":
        return nn.Dropout(draw(st.sampled_from([0.0, 0.25, 0.5])))
    if kind == "batchnorm":
        cls = getattr(nn, f"BatchNorm{max(rank, 1)}d")
        return cls(channels, affine=draw(st.booleans()), track_running_stats=draw(st.booleans()))
    if kind == "channel_dropout":
        return getattr(nn, f"Dropout{rank}d")(0.5)
    if kind == "groupnorm":
        groups = draw(st.sampled_from([g for g in (1, 2, 3) if channels % g == 0]))
        return nn.GroupNorm(groups, channels, affine=draw(st.booleans()))
    if kind == "flatten":
        start = draw(st.integers(1, rank + 1))
        end = draw(st.sampled_from([-1, *range(start, rank + 2)]))
        return nn.Flatten(start, end)
    if kind == "adaptive":
        cls = getattr(nn, f"Adaptive{draw(st.sampled_from(['Avg', 'Max']))}Pool{rank}d")
        return cls(_dims(draw, 1, 3, rank))
    if kind == "pad":
        prefix = draw(st.sampled_from(["Zero", "Constant", "Reflection", "Replication"]))
        padding = _dims(draw, 0, 2, 2 * rank)
        cls = getattr(nn, f"{prefix}Pad{rank}d")
        return cls(padding, 1.5) if prefix == "Constant" else cls(padding)
    if kind == "upsample":
        return nn.Upsample(scale_factor=draw(st.sampled_from([1, 2, 1.5, 0.75])))
    if kind == "maxpool":
        k = draw(st.integers(1, 3))
        return getattr(nn, f"MaxPool{rank}d")(
            k,
            stride=draw(st.none() | st.integers(1, 3)),
            padding=draw(st.integers(0, k // 2)),
            dilation=draw(st.integers(1, 2)),
            ceil_mode=draw(st.booleans()),
        )
    if kind == "avgpool":
        k = draw(st.integers(1, 3))
        return getattr(nn, f"AvgPool{rank}d")(
            k,
            stride=draw(st.none() | st.integers(1, 3)),
            padding=draw(st.integers(0, k // 2)),
            ceil_mode=avg_ceil,
            count_include_pad=draw(st.booleans()),
        )
    groups = draw(st.sampled_from([g for g in (1, 2, 3) if channels % g == 0]))
    out = groups * draw(st.integers(1, 3))
    if kind == "conv_transpose":
        stride = draw(st.integers(1, 2))
        return getattr(nn, f"ConvTranspose{rank}d")(
            channels,
            out,
            _dims(draw, 1, 3, rank),
            stride=stride,
            padding=draw(st.integers(0, 1)),
            output_padding=draw(st.integers(0, stride - 1)),
            groups=groups,
            bias=draw(st.booleans()),
        )
    same = draw(st.booleans()) and draw(st.booleans())
    return getattr(nn, f"Conv{rank}d")(
        channels,
        out,
        _dims(draw, 1, 4, rank),
        stride=1 if same else _dims(draw, 1, 3, rank),
        padding="same" if same else _dims(draw, 0, 2, rank),
        dilation=_dims(draw, 1, 2, rank),
        groups=groups,
        bias=draw(st.booleans()),
        padding_mode=draw(st.sampled_from(["zeros", "zeros", "reflect", "replicate", "circular"])),
    )


@st.composite
def torch_stacks(draw: Draw) -> tuple[Any, tuple[int, ...], bool]:
    """A random nn.Sequential that torch runs (at batch 2), sometimes with a nested, named
    Sequential, the input shape, and the ceil_mode of its average pools."""
    import torch

    nn = torch.nn
    rank = draw(st.sampled_from([0, 1, 2, 2, 2, 3]))
    high = {0: 12, 1: 20, 2: 14, 3: 6}[rank]
    shape = (draw(st.integers(1, 4)), *(draw(st.integers(2, high)) for _ in range(rank)))
    avg_ceil = draw(st.booleans())
    x = torch.zeros(2, *shape)
    modules: list[Any] = []
    for _ in range(draw(st.integers(1, 6))):
        module = _draw_module(draw, nn, tuple(x.shape[1:]), avg_ceil)
        module.eval()
        try:
            with warnings.catch_warnings(), torch.no_grad():
                warnings.simplefilter("ignore")
                y = module(x)
        except (RuntimeError, ValueError, IndexError):
            break
        if 0 in y.shape or math.prod(y.shape) > 200_000:
            break  # convcalc refuses an empty dimension by design
        modules.append(module)
        x = y
    if len(modules) >= 2 and draw(st.booleans()):
        start = draw(st.integers(0, len(modules) - 1))
        end = draw(st.integers(start + 1, len(modules)))
        inner = nn.Sequential(*modules[start:end])
        if draw(st.booleans()):
            inner = nn.Sequential(OrderedDict((f"m{i}", m) for i, m in enumerate(inner)))
        modules[start:end] = [inner]
    model = nn.Sequential(*modules)
    if draw(st.booleans()):
        model = nn.Sequential(OrderedDict((f"layer{i}", m) for i, m in enumerate(modules)))
    return model, shape, avg_ceil


@pytest.mark.full
@pytest.mark.torch
@settings(max_examples=examples(1000), deadline=None,
          suppress_health_check=[HealthCheck.too_slow])  # fmt: skip
@given(data=st.data())
def test_random_stacks_match_torch(data: st.DataObject, tmp_path_factory: Any) -> None:
    """Shapes and parameters as torch's, and every argument the modules keep (but AvgPool's
    ceil_mode and count_include_pad, drawn away from their defaults: print does not show
    them)."""
    pytest.importorskip("torch")
    model, shape, avg_ceil = data.draw(torch_stacks())
    text = str(model)
    spec = outcome(text, shape)
    if isinstance(spec, ImportRefusal):  # only where the hidden ceil_mode changes a shape
        assert "does not show" in spec.message and "ceil_mode" in spec.message, (text, str(spec))
        spec = from_print(text, shape, avgpool_ceil_mode=avg_ceil)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert_like_torch(spec, model, shape)
    assert imported_argument_mismatches(spec, model, HIDDEN) == [], text
    folder = tmp_path_factory.mktemp("imported")
    assert exported_argument_mismatches(spec, model, folder, HIDDEN) == [], text
    # the YAML holds one line per leaf
    leaves = sum(1 for _ in analyse(load_spec(spec)).leaves())
    assert len(re.findall(r"^ *- \{", to_yaml(spec), re.MULTILINE)) == leaves


# --- the command ---------------------------------------------------------------------------


def test_the_command_writes_a_spec_that_analyses(run, tmp_path) -> None:
    """LeNet-5's print text (as PyTorch 2.13 prints it) to a spec of 61,706 parameters, the
    count PyTorch gives: 156 + 2,416 + 48,120 + 10,164 + 850."""
    source = tmp_path / "lenet.txt"
    source.write_text(LENET_TEXT, encoding="utf-8")
    spec = tmp_path / "lenet.yaml"
    result = run("import", str(source), "--input", "1,32,32", "-o", str(spec))
    assert result.exit_code == 0, result.output
    shown = run("shape", str(spec))
    assert "Total params: 61,706" in shown.output
    from_stdin = run("import", "-", "--input", "1,32,32", "--name", "lenet", input=LENET_TEXT)
    assert from_stdin.exit_code == 0
    assert "name: lenet" in from_stdin.output


def test_the_command_names_the_line_it_refuses(run) -> None:
    text = "Net(\n  (conv1): Conv2d(3, 6, kernel_size=(5, 5), stride=(1, 1))\n)\n"
    result = run("import", "-", "--input", "3,32,32", input=text)
    assert result.exit_code == 2
    assert result.stderr.startswith("Error: <stdin>:1: Net is a custom module")
    assert result.stderr.rstrip().endswith("import it with --assume-sequential")
    pools = "Sequential(\n  (0): AvgPool2d(kernel_size=2, stride=2, padding=0)\n)\n"
    result = run("import", "-", "--input", "3,7,7", input=pools)
    assert result.exit_code == 2
    assert result.stderr.rstrip().endswith(
        "import with --avgpool-ceil-mode false (PyTorch's default) or --avgpool-ceil-mode true "
        "to say which"
    )
    settled = run("import", "-", "--input", "3,7,7", "--avgpool-ceil-mode", "true", input=pools)
    assert settled.exit_code == 0 and "ceil_mode: true" in settled.output
    bad = LENET_TEXT.replace("in_features=400", "in_features=500")
    result = run("import", "-", "--input", "1,32,32", input=bad)
    assert result.exit_code == 2
    assert "<stdin>:9: Linear(in_features=500, ...) but the layer before gives 400" in result.stderr
    assert run("import", "-", "--input", "1,x", input=LENET_TEXT).exit_code == 2


# --- hostile input -------------------------------------------------------------------------

# names PyTorch takes for modules (any text without "." but the empty one) that YAML would read
# as something else unless quoted: numbers in YAML 1.2 (1e3, 2e-3), booleans and null, anchors,
# aliases, quotes, comments, separators; and characters a YAML writer folds into spaces (U+2028,
# U+0085) or an escape a terminal acts on
HOSTILE_NAMES = ["1e3", "2e-3", "true", "null", "~", "&a", "*a", '"', "#", ": ", "a\u2028b",
                 "a\x85b", "e\x1bc", "yes", "0x10", "1:30", "- x", "[a]", "{a}", "a,b", "'",
                 "!tag", "|", ">", "?", "  lead", "trail ", "a\tb", "\\", "%t", "@x",
                 "`x"]  # fmt: skip
# what print(model) shows for an nn.Sequential of a ReLU under each name: "(name): ReLU()",
# one line each (none of the names holds a line feed or a carriage return)
HOSTILE_TEXT = "Sequential(\n" + "".join(f"  ({n}): ReLU()\n" for n in HOSTILE_NAMES) + ")"


def test_hostile_names_read_back_as_written() -> None:
    """Every name written in the print(model) text, and the spec's own name, is the name the
    written spec holds when convcalc reads it back (and PyYAML too): none becomes a number,
    a boolean, null, an alias or a space."""
    for spec_name in ("1e3", "2e-3", "true", "a\u2028b", "a\x85b"):
        text = to_yaml(from_print(HOSTILE_TEXT, (3, 4, 4), spec_name))
        again = load_spec(text)
        assert again.name == spec_name
        assert [layer.name for layer in again.layers] == HOSTILE_NAMES
        assert yaml.safe_load(text)["name"] == spec_name
        assert [layer["name"] for layer in yaml.safe_load(text)["layers"]] == HOSTILE_NAMES


def test_hostile_block_names_read_back_as_written() -> None:
    text = "Sequential(\n  (1e3): Sequential(\n    (true): ReLU()\n  )\n  (0): ReLU()\n)"
    again = load_spec(to_yaml(from_print(text, (3, 4, 4), "null")))
    assert again.name == "null"
    assert again.layers[0].name == "1e3"
    assert again.layers[0].layers[0].name == "true"  # type: ignore[union-attr]


@pytest.mark.torch
def test_hostile_names_are_what_torch_prints(nn: Any) -> None:
    """The text above is what PyTorch prints for modules of those names."""
    model = nn.Sequential(OrderedDict((name, nn.ReLU()) for name in HOSTILE_NAMES))
    assert str(model) == HOSTILE_TEXT


@settings(max_examples=examples(300), deadline=None)
@given(st.text(st.characters(codec="utf-8", exclude_characters="\n\r."), min_size=1, max_size=12))
def test_any_name_reads_back(name: str) -> None:
    """Any name a spec takes (a layer's and the spec's) comes back from the written YAML."""
    spec = {"name": name, "input": [3], "layers": [{"name": name, "type": "relu"}]}
    try:
        load_spec(spec)
    except ConvcalcError:
        return  # a name the spec itself refuses
    again = load_spec(to_yaml(spec))
    assert (again.name, again.layers[0].name) == (name, name)
    assert yaml.safe_load(to_yaml(spec)) == spec


@pytest.mark.parametrize("scale", ["1e160", "1e308", "inf", "1e400", "(2.0, 1e200)"])
def test_huge_upsample_is_refused_at_its_line(run, scale: str) -> None:
    """An output size no double or int64 holds: exit 2 with the line, no OverflowError."""
    text = f"Sequential(\n  (0): Upsample(scale_factor={scale}, mode='nearest')\n)\n"
    result = run("import", "-", "--input", "3,8,8", input=text)
    assert result.exit_code == 2
    assert result.stderr.startswith("Error: <stdin>:2: Upsample")
    assert "Traceback" not in result.stderr and "internal error" not in result.stderr


def test_counts_beyond_a_double_are_written_without_one(monkeypatch: pytest.MonkeyPatch) -> None:
    """The importer's own message about a count beyond 2^63 − 1 writes the count without
    converting it to a float: an output of 3 · (8·10^160)² = 1.92·10^322 values (a layer
    whose sizes are not capped, as Upsample's were not) is 10^322, not an OverflowError."""
    from convcalc import arith

    monkeypatch.setattr(arith, "upsample_out", lambda length, scale: int(length * scale))
    text = "Sequential(\n  (0): Upsample(scale_factor=1e160, mode='nearest')\n)\n"
    refused = refusal(text, (3, 8, 8))
    assert refused.line == 2
    assert "would hold 10^322 values, beyond 2^63 − 1" in refused.message


def test_the_command_refuses_to_overwrite_its_input(run, tmp_path) -> None:
    """-o naming the model text itself (as written, through ./, a symbolic or a hard link):
    exit 2 and the text untouched."""
    source = tmp_path / "model.txt"
    source.write_text(LENET_TEXT, encoding="utf-8")
    (tmp_path / "link.txt").symlink_to(source)
    os.link(source, tmp_path / "hard.txt")
    for output in [source, f"{tmp_path}/./model.txt", tmp_path / "link.txt", tmp_path / "hard.txt"]:
        result = run("import", str(source), "--input", "1,32,32", "-o", str(output))
        assert result.exit_code == 2
        assert "-o names the input" in result.stderr and "Traceback" not in result.stderr
        assert source.read_text(encoding="utf-8") == LENET_TEXT
    elsewhere = tmp_path / "lenet.yaml"
    assert run("import", str(source), "--input", "1,32,32", "-o", str(elsewhere)).exit_code == 0
    assert load_spec(str(elsewhere)).name == "model"


def test_refusals_show_names_without_their_control_characters(run) -> None:
    """A child's name holding a terminal's escape sequences (retitle the window, clear the
    screen) is shown as text in the refusal, escapes and all."""
    text = "Sequential(\n  (\x1b]0;pwned\x07\x1b[2J): None\n)\n"
    result = run("import", "-", "--input", "3", input=text)
    assert result.exit_code == 2
    assert "\x1b" not in result.stderr and "\x07" not in result.stderr
    assert result.stderr.startswith("Error: <stdin>:2: (\\x1b]0;pwned\\x07\\x1b[2J) is None")
    value = "Sequential(\n  (0): Conv1d('\\x1b]0;pwned\\x07', 4, kernel_size=(1,))\n)\n"
    result = run("import", "-", "--input", "3,4", input=value)
    assert result.exit_code == 2
    assert "\x1b" not in result.stderr and "\x07" not in result.stderr


# --- tuples of another length than the input's dimensions: torch's forward decides ------------

# (module, input without the batch, the field at fault where torch refuses): PyTorch builds
# each of these; running it decides. A tuple of equal sizes is one size only where it has one
# per spatial dimension (two per dimension for a pad: ZeroPad2d((1, 1)) pads the width alone)
WRONG_LENGTHS: list[tuple[str, Callable[[Any], Any], tuple[int, ...], str | None]] = [
    ("conv2d-kernel-4", lambda nn: nn.Conv2d(3, 8, kernel_size=(3, 3, 3, 3)), (3, 9, 9), "kernel"),
    ("conv2d-stride-4", lambda nn: nn.Conv2d(3, 8, 3, stride=(2, 2, 2, 2)), (3, 9, 9), "stride"),
    ("conv2d-padding-3", lambda nn: nn.Conv2d(3, 8, 3, padding=(1, 1, 1)), (3, 9, 9), "padding"),
    ("conv2d-kernel-1", lambda nn: nn.Conv2d(3, 8, kernel_size=(3,)), (3, 9, 9), "kernel"),
    ("conv2d-stride-1", lambda nn: nn.Conv2d(3, 8, 3, stride=(2,)), (3, 9, 9), None),
    ("conv1d-kernel-2", lambda nn: nn.Conv1d(3, 8, kernel_size=(3, 3)), (3, 9), "kernel"),
    ("conv3d-kernel-2", lambda nn: nn.Conv3d(3, 4, kernel_size=(3, 3)), (3, 5, 5, 5), "kernel"),
    ("convt2d-outpad-3",
     lambda nn: nn.ConvTranspose2d(3, 4, 3, stride=2, output_padding=(1, 1, 1)), (3, 5, 5),
     "output_padding"),
    ("maxpool2d-kernel-3", lambda nn: nn.MaxPool2d((3, 3, 3)), (3, 9, 9), "kernel"),
    ("maxpool2d-kernel-1", lambda nn: nn.MaxPool2d((3,)), (3, 9, 9), None),
    ("avgpool1d-kernel-2", lambda nn: nn.AvgPool1d((3, 3)), (3, 9), "kernel"),
    ("adaptive2d-3", lambda nn: nn.AdaptiveAvgPool2d((1, 1, 1)), (3, 9, 9), "output_size"),
    ("upsample-3", lambda nn: nn.Upsample(scale_factor=(2.0, 2.0, 2.0)), (3, 4, 4), "scale"),
    ("zeropad2d-2", lambda nn: nn.ZeroPad2d((1, 1)), (3, 9, 9), None),
    ("zeropad2d-2-uneven", lambda nn: nn.ZeroPad2d((1, 2)), (3, 9, 9), None),
    ("zeropad2d-3", lambda nn: nn.ZeroPad2d((1, 1, 1)), (3, 9, 9), "padding"),
    ("zeropad2d-4", lambda nn: nn.ZeroPad2d((1, 1, 1, 1)), (3, 9, 9), None),
    ("zeropad1d-2", lambda nn: nn.ZeroPad1d((2, 2)), (3, 9), None),
]  # fmt: skip


@pytest.mark.torch
@pytest.mark.every_case
@pytest.mark.parametrize(
    ("make", "shape", "field"),
    [case[1:] for case in WRONG_LENGTHS],
    ids=[case[0] for case in WRONG_LENGTHS],
)
def test_tuples_of_another_length_are_read_as_torch_runs_them(
    nn: Any, make: Callable[[Any], Any], shape: tuple[int, ...], field: str | None
) -> None:
    """PyTorch builds a 2-d module with a 4-tuple kernel and refuses it when it runs: the
    import refuses it at its line, naming the field, never shortening the tuple to one size;
    where torch runs it (a stride of one value expands, ZeroPad2d((1, 1)) pads the width
    only), the imported layer gives torch's output."""
    model = nn.Sequential(make(nn))
    text = str(model)
    try:
        _, output = cpu_run(model, shape)
    except (RuntimeError, ValueError):
        refused = refusal(text, shape)
        assert refused.line == 2 and field is not None and field in refused.message
        return
    assert field is None, f"torch runs {text}"
    spec = from_print(text, shape)
    assert analysed(spec).output_shape == output


def test_a_binary_or_undecodable_model_text_is_named_as_what_import_reads(run, tmp_path) -> None:
    """A NUL byte or bytes that are not UTF-8 in the text given to import, or a folder: refused
    as not print(model) text or a Keras model's JSON (what import reads), not as YAML; a spec
    file with a NUL byte is still not YAML text."""
    medium = "print(model) text or a Keras model's JSON"
    source = tmp_path / "model.txt"
    source.write_bytes(LENET_TEXT.replace("Tanh()", "Tanh()\0", 1).encode())
    result = run("import", str(source), "--input", "1,32,32")
    assert result.exit_code == 2
    assert result.stderr == f"Error: {source}: is a binary file, not {medium}\n"
    result = run("import", "-", "--input", "1,32,32", input=b"Sequential(\0)")
    assert result.stderr == f"Error: <stdin>: is a binary file, not {medium}\n"
    raw = b"Sequential(\n  (0): ReLU()\xff\n)\n"
    source.write_bytes(raw)
    result = run("import", str(source), "--input", "3,4,4")
    assert result.exit_code == 2
    at = raw.index(b"\xff")  # where Python's UTF-8 decoder stops
    assert result.stderr == f"Error: {source}: is not UTF-8 text (byte {at}): not {medium}\n"
    result = run("import", str(tmp_path), "--input", "3,4,4")
    assert result.stderr == f"Error: {tmp_path}: is a directory, not {medium}\n"
    spec = tmp_path / "net.yaml"
    spec.write_bytes(b"input: [3]\0\nlayers: []\n")
    assert run("shape", str(spec)).stderr == f"Error: {spec}: is a binary file, not YAML text\n"
