"""The Keras export against Keras itself, and against the PyTorch export for the values.

Each test exports a report, writes the source to a file, imports it and builds the model
(Keras 3, the torch backend unless KERAS_BACKEND says otherwise). For every leaf of convcalc's
report, the Keras layers that :func:`leaf_layers` names must give the leaf's output shape (the
last one's, without the batch) and hold the leaf's parameter count as trainable weights; the
model's output shape and trainable total must be the report's, its non-trainable weights
BatchNormalization's moving statistics, and every other layer of the model a merge (Add,
Concatenate, Multiply). Every number on the Keras side comes from Keras.

The values prove "exactly": the PyTorch export (checked against PyTorch by test_export.py) and
the Keras export of the same spec are built, PyTorch's weights (random, running statistics
too) are copied into the Keras layers, kernels transposed, and both run the same random batch
in inference: the outputs must agree. Where an argument means something else in Keras
(BatchNormalization's momentum, the weight of the old statistics), one training step from the
same statistics on the same batch must move Keras' moving statistics as PyTorch moves its
running ones (the variance as written out in the test: biased in Keras); dropout keeps and
scales as PyTorch's p says. Random specs (every leaf type, stacks and blocks, drawn as
test_export.py draws them) either export and pass both checks, or are refused with an
ExportError at a leaf, for a field that this file lists as refusable for that type.
"""

from __future__ import annotations

import ast
import copy
import dataclasses
import inspect
import itertools
import math
import os
import runpy
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import assume, example, given, settings
from hypothesis import strategies as st

from convcalc.analysis import Report, analyse
from convcalc.errors import ConvcalcError
from convcalc.frameworks.keras.export import HELPERS, LEAVES, leaf_layers, to_keras
from convcalc.frameworks.torch.export import ExportError, to_pytorch
from convcalc.layers.registry import KINDS
from convcalc.spec.validate import load_spec
from tests.budget import FULL, examples
from tests.keras_oracle import keras  # imported at first use; the full run only
from tests.test_export import (
    DOCSTRING_NAMES,
    Generated,
    accepted,
    any_chain,
    check_ruff,
    deep_report,
    import_file,
    leaf_modules,
)
from tests.test_torch_blocks import BLOCKS
from tests.test_torch_blocks import specs as block_specs
from tests.test_torch_shapes import stacks

np = pytest.importorskip("numpy")
torch = pytest.importorskip("torch")

pytestmark = [
    pytest.mark.torch,
    # Keras' numpy conversion (numpy 2's copy keyword); softmax without dim, dropout2d on 1-D
    pytest.mark.filterwarnings("ignore::DeprecationWarning:keras"),
    pytest.mark.filterwarnings("ignore::UserWarning"),
]

LONG = pytest.mark.full  # long: only the full run (CI, pytest --full) takes it

ROOT = Path(__file__).resolve().parent.parent
SPECS = sorted(
    path
    for path in (ROOT / "specs").glob("*.yaml")
    if path.stem not in ("five-stages", "hw3-q3-keras") and not path.stem.startswith("keras_")
)
# built in every run; the others (seconds each: Keras spends ~3 ms a layer) in the full run
QUICK = {"hw3-q3", "resnet18", "lenet5_c3", "shufflenet_v2_x0_5"}  # channel selections; splits
# the bundled networks the Keras export refuses, and why: Swin's first window attention
_SWIN = (
    "layers[3].layers[0].body[{i}] ({kind}): cannot be exported to Keras: {kind} is "
    "torchvision's Swin layer, which Keras has no layer for; export the network to PyTorch "
    "(convcalc export --to pytorch), which writes it"
)
REFUSED: dict[str, str] = {
    **{f"swin_{s}": _SWIN.format(i=1, kind="shifted_window_attention") for s in "tsb"},
    **{f"swin_v2_{s}": _SWIN.format(i=0, kind="shifted_window_attention_v2") for s in "tsb"},
}
# MaxViT's first window partition, after the first MBConv
REFUSED["maxvit_t"] = (
    "layers[1].layers[0].layers[1].layers[0] (window_partition): cannot be exported to Keras: "
    "window_partition is torchvision's MaxViT layer, which Keras has no layer for; export the "
    "network to PyTorch (convcalc export --to pytorch), which writes it"
)
# ViT's class token, ConvNeXt's LayerNorm2d stem norm: their first leaves Keras has no layer for
_PIECE = (
    "{path} ({kind}): cannot be exported to Keras: {kind} is {what}, which the Keras export "
    "does not write; export the network to PyTorch (convcalc export --to pytorch), which writes it"
)
_VIT = _PIECE.format(path="layers[3]", kind="class_token", what="torchvision ViT's class token")
_CONVNEXT = _PIECE.format(
    path="layers[1]", kind="layernorm2d", what="torchvision ConvNeXt's LayerNorm2d"
)
REFUSED |= {f"vit_{size}": _VIT for size in ("b_16", "b_32", "l_16", "l_32", "h_14")}
REFUSED |= {f"convnext_{size}": _CONVNEXT for size in ("tiny", "small", "base", "large")}
# its bilinear F.interpolate from the 33×33 features (520 at output stride 16) to the input
REFUSED["deeplabv3_mobilenet_v3_large"] = (
    "layers[2] (upsample), field size: cannot be exported to Keras: Keras upsamples only by "
    "whole factors, and 33x33 → 520x520 is not one (or PyTorch's scale_factor is not the ratio "
    "of the sizes, which places its samples elsewhere)"
)
# its bilinear F.interpolate of x (33×33) to the low-level features' 65×65
REFUSED["lraspp_mobilenet_v3_large"] = (
    "layers[0].paths[2].layers[1] (upsample), field size: cannot be exported to Keras: Keras "
    "upsamples only by whole factors, and 33x33 → 65x65 is not one (or PyTorch's scale_factor "
    "is not the ratio of the sizes, which places its samples elsewhere)"
)
MERGES = {"Add", "Concatenate", "Multiply"}
CUTS = {"ChannelSlice"}  # the head of each branch of a split block: no leaf of the report
# the fields for which a layer type may be refused (anything else is a bug of the export)
REFUSABLE: dict[str, set[str | None]] = {
    "conv": {"dilation"},
    "conv_transpose": {"groups", "dilation", "output_padding"},
    "maxpool": {"dilation", "return_indices"},
    "avgpool": {"ceil_mode", "count_include_pad", "divisor_override"},
    "adaptive_maxpool": {"return_indices"},
    "batchnorm": {"track_running_stats", "momentum"},
    "instancenorm": {"track_running_stats"},
    "leaky_relu": {"negative_slope"},
    "hardtanh": {"min_val"},  # Keras clips from 0 (ReLU) or to [−1, 1] (hard_tanh) only
    "softplus": {"beta", "threshold"},
    "embedding": {None, "padding_idx", "max_norm", "scale_grad_by_freq"},
    "pad": {"padding"},
    "upsample": {"mode", "align_corners", "scale_factor", "size"},
    # torchvision's Swin layers: no Keras layer, refused whole
    "shifted_window_attention": {None},
    "shifted_window_attention_v2": {None},
    "patch_merging": {None},
    "patch_merging_v2": {None},
    # torchvision's MaxViT layers: no Keras layer, refused whole
    "window_partition": {None},
    "window_departition": {None},
    "relative_position_attention": {None},
    # the vision-transformer pieces: refused whole
    "multihead_attention": {None},
    "class_token": {None},
    "position_embedding": {None},
    "select": {None},
    "layer_scale": {None},
    "layernorm2d": {None},
    # unfold, fold, max-unpooling: refused whole
    **{kind: {None} for kind in ("unfold", "fold", "max_unpool")},
}

Layer = dict[str, Any]
Record = tuple[str, tuple[int, ...], int]  # leaf path, output shape, trainable parameters


# --- the Keras side ---------------------------------------------------------------------------


class KerasGenerated:
    """An exported file, imported: its source, path and module."""

    _count = itertools.count()

    def __init__(self, report: Report, folder: Path, name: str | None = None) -> None:
        self.report = report
        self.source = to_keras(report, name)
        self.path = folder / f"keras_{next(self._count)}.py"
        self.module = import_file(self.source, self.path)
        self.name = name or "build"

    def build(self, device: str = "cpu") -> Any:
        """The model; on the meta device (torch only) its weights take no memory and no
        initialisation."""
        if keras.backend.backend() != "torch":
            device = "cpu"
        with keras.device(device):
            return getattr(self.module, self.name)()


def count(weights: list[Any]) -> int:
    return sum(math.prod(weight.shape) for weight in weights)


def keras_records(model: Any, report: Report) -> list[Record]:
    """Each leaf's Keras layers, as Keras built them: the last one's output shape and their
    trainable weights; then the model's output shape and trainable total."""
    records: list[Record] = []
    for path, names in leaf_layers(report):
        layers = [model.get_layer(name) for name in names]
        params = sum(count(layer.trainable_weights) for layer in layers)
        records.append((path, tuple(layers[-1].output.shape[1:]), params))
    output = ("output", tuple(model.output.shape[1:]), count(model.trainable_weights))
    return [*records, output]


def frozen_leaves(report: Report) -> set[str]:
    """The paths of the leaves written ``trainable: false`` or inside a block so written."""
    frozen: set[str] = set()
    stack = [(entry, False) for entry in report.layers]
    while stack:
        entry, inside = stack.pop()
        inside = inside or not entry.layer.trainable
        if entry.step is not None and inside:
            frozen.add(entry.path)
        stack.extend((child, inside) for _, children in entry.children for child in children)
    return frozen


def expected(report: Report) -> list[Record]:
    """Each leaf's output shape and trainable parameters (none for a frozen one), then the
    network's output shape and trainable total."""
    frozen = frozen_leaves(report)
    leaves = [
        (e.path, tuple(e.output_shape), 0 if e.path in frozen else e.params)
        for e in report.leaves()
    ]
    return [*leaves, ("output", tuple(report.output_shape), report.trainable_params)]


def check_model(model: Any, report: Report) -> None:
    """Per leaf and in total, Keras' shapes and trainable parameters are convcalc's; nothing
    else but merges, a split's slices and the input is in the model; the non-trainable weights
    are BatchNormalization's moving mean and variance and the frozen layers' parameters."""
    assert keras_records(model, report) == expected(report)
    named = {name for _, names in leaf_layers(report) for name in names}
    others = [layer for layer in model.layers if layer.name not in named]
    kinds = {type(layer).__name__ for layer in others}
    assert kinds <= MERGES | CUTS | {"InputLayer"}, kinds
    assert all(not layer.weights for layer in others)
    moving = sum(2 * e.input_shape[0] for e in report.leaves() if e.type == "batchnorm")
    frozen = report.total_params - report.trainable_params
    assert count(model.non_trainable_weights) == moving + frozen


def round_trip(report: Report, folder: Path, device: str = "cpu") -> KerasGenerated:
    generated = KerasGenerated(report, folder)
    check_model(generated.build(device), report)
    return generated


def check_refusal(error: ExportError, report: Report) -> None:
    """A refusal names a leaf of the report, says why, and is for a refusable field."""
    types = {entry.path: entry.type for entry in report.leaves()}
    assert error.path in types and error.layer_type == types[error.path]
    assert error.field in REFUSABLE.get(error.layer_type, set()), str(error)
    assert str(error).startswith(f"{error.path} ({error.layer_type})")
    assert ": cannot be exported to Keras: " in str(error)


# --- values against the PyTorch export ---------------------------------------------------------

SOURCES = {  # Keras weight name -> the PyTorch tensor it takes
    "kernel": "weight",
    "bias": "bias",
    "gamma": "weight",
    "beta": "bias",
    "moving_mean": "running_mean",
    "moving_variance": "running_var",
    "alpha": "weight",
    "embeddings": "weight",
}


def randomise(model: Any, seed: int) -> None:
    """Random affine parameters, biases and running statistics (a variance in [0.5, 1.5]); the
    kernels of convolutions, linear layers and embeddings keep PyTorch's initialisation, scaled
    to their inputs, so that values stay in range through deep networks."""
    generator = torch.Generator().manual_seed(seed)
    scaled = (torch.nn.modules.conv._ConvNd, torch.nn.Linear, torch.nn.Embedding)
    with torch.no_grad():
        for module in model.modules():
            tensors = itertools.chain(
                module.named_parameters(recurse=False), module.named_buffers(recurse=False)
            )
            for name, tensor in tensors:
                if not tensor.is_floating_point() or (
                    isinstance(module, scaled) and name == "weight"
                ):
                    continue
                values = torch.rand(tensor.shape, generator=generator)
                positive = name in ("weight", "running_var")  # scales, slopes, variances
                tensor.copy_(values + 0.5 if positive else values - 0.5)


def copy_weights(torch_model: Any, keras_model: Any, report: Report) -> None:
    """Every leaf module's tensors into its Keras layers: kernels transposed (Dense: (in,
    out); convolutions: (*kernel, in, out)), the rest reshaped."""
    modules = leaf_modules(torch_model)
    leaves = list(zip(report.leaves(), leaf_layers(report), strict=True))
    assert len(modules) == len(leaves)
    for module, (entry, (_, names)) in zip(modules, leaves, strict=True):
        tensors = dict(itertools.chain(module.named_parameters(), module.named_buffers()))
        for layer in (keras_model.get_layer(name) for name in names):
            values = []
            for weight in layer.weights:
                array = tensors[SOURCES[weight.name]].detach().numpy()
                if weight.name == "kernel":
                    order = (1, 0) if entry.type == "linear" else (*range(2, array.ndim), 1, 0)
                    array = array.transpose(order)
                values.append(array.reshape(weight.shape))
            layer.set_weights(values)


def conditioning(torch_model: Any, x: Any) -> float:
    """The largest E[x²] / (Var[x] + eps) over the groups that a group, instance or layer norm
    of the model normalises, in a float64 run on x: 1 for centred values, large for a few
    nearly equal ones.

    Keras computes those norms' variance as E[x²] − E[x]² in float32 (``ops.moments``), which
    loses about that factor in digits; PyTorch's two-pass variance does not."""
    worst = [1.0]

    def record(module: Any, inputs: tuple[Any, ...]) -> None:
        (value,) = inputs
        if isinstance(module, torch.nn.GroupNorm):
            groups = value.reshape(*value.shape[:1], module.num_groups, -1)
        elif isinstance(module, torch.nn.modules.instancenorm._InstanceNorm):
            groups = value.reshape(*value.shape[:2], -1)
        else:  # LayerNorm; LayerNorm2d normalises the channels
            if type(module).__name__ == "LayerNorm2d":
                value = value.movedim(1, -1)
            count = len(module.normalized_shape)
            groups = value.reshape(*value.shape[: value.ndim - count], -1)
        ratio = (groups**2).mean(-1) / (groups.var(-1, unbiased=False) + module.eps)
        worst.append(float(ratio.max()))

    norms = (torch.nn.GroupNorm, torch.nn.modules.instancenorm._InstanceNorm, torch.nn.LayerNorm)
    model = copy.deepcopy(torch_model).double()
    hooks = [m.register_forward_pre_hook(record) for m in model.modules() if isinstance(m, norms)]
    try:
        with torch.no_grad():
            model(torch.from_numpy(x).double() if x.dtype.kind == "f" else torch.from_numpy(x))
    finally:
        for hook in hooks:
            hook.remove()
    return max(worst)


def compare_values(report: Report, folder: Path, seed: int = 0, batch: int = 2) -> None:
    """The PyTorch export and the Keras export, with the same weights, on the same input."""
    with torch.random.fork_rng():  # the kernels PyTorch initialises: the same on every run
        torch.manual_seed(seed)
        torch_model = Generated(report, folder).build()
    keras_model = KerasGenerated(report, folder).build()
    randomise(torch_model, seed)
    copy_weights(torch_model, keras_model, report)
    rng = np.random.default_rng(seed)
    leaves = list(report.leaves())
    if leaves and leaves[0].type == "embedding":
        high = leaves[0].layer.num_embeddings  # type: ignore[attr-defined]
        x = rng.integers(0, high, (batch, *report.input_shape))
    else:
        x = rng.standard_normal((batch, *report.input_shape)).astype("float32")
    kappa = conditioning(torch_model, x.copy())
    with torch.no_grad():
        want = torch_model(torch.from_numpy(x.copy())).numpy()  # inplace layers write it
    got = keras.ops.convert_to_numpy(keras_model(x, training=False))
    assert got.shape == want.shape
    scale = float(np.nanmax(np.abs(want), initial=1.0, where=np.isfinite(want)))
    # two float32 computations of the same network agree to 1e-3 (of the largest output, near
    # zero), a wrong argument or layer by far more; a norm over a few nearly equal values loses
    # digits in proportion to kappa in Keras (see conditioning): 64 float32 roundings (2^-24)
    # per unit of kappa is a bound with room. CI met kappa 3,000 (an instance norm of nine
    # values 4e-3 apart after hardsigmoid and two 1×1 convolutions) and Keras 1.3e-3 away.
    lost = 64 * 2.0**-24 * kappa
    np.testing.assert_allclose(
        got, want, rtol=1e-3 + lost, atol=(1e-5 + lost) * scale, equal_nan=True
    )


# --- the bundled specs ----------------------------------------------------------------------


EXPORTED = [path for path in SPECS if path.stem not in REFUSED]  # test_bundled_specs_refused


@pytest.mark.parametrize(
    "path",
    [path if path.stem in QUICK else pytest.param(path, marks=LONG) for path in EXPORTED],
    ids=[path.stem for path in EXPORTED],
)
def test_bundled_spec_round_trip(path: Path, tmp_path: Path) -> None:
    """Built on the meta device: shapes and weights' shapes, no weights."""
    round_trip(analyse(load_spec(str(path))), tmp_path, "meta")


@LONG
def test_bundled_specs_refused(tmp_path: Path) -> None:
    """Which bundled networks the export refuses (none), and the others' files pass ruff."""
    refused: dict[str, str] = {}
    paths = []
    for path in SPECS:
        try:
            source = to_keras(analyse(load_spec(str(path))))
        except ExportError as error:
            refused[path.stem] = str(error)
            continue
        paths.append(tmp_path / f"{path.stem.replace('-', '_')}.py")
        paths[-1].write_text(source, encoding="utf-8")
    assert refused == REFUSED
    check_ruff(paths, tmp_path / "cache")


HW3_Q3 = '''\
"""A Keras 3 model generated by convcalc from the spec hw3-q3.

Input: 3x128x128 (one sample).
Output: 128x11x11.
Parameters: 71,840 (all trainable).
build() builds it with the functional API, every tensor laid out as in PyTorch
(batch, channels, *spatial): each layer is given data_format="channels_first" where it
takes one, so that PyTorch's weights copy across (kernels transposed). The comments give
each layer's output shape without the batch. Run it on the PyTorch backend, as
convcalc's tests do: KERAS_BACKEND=torch python this_file.py (TensorFlow's CPU
convolutions take channels-last tensors only).
"""

import keras


def build() -> keras.Model:
    """The network hw3-q3, as convcalc analysed it."""
    inputs = keras.Input(shape=(3, 128, 128), name="input")
    x = keras.layers.Conv2D(32, 8, strides=2, data_format="channels_first", name="conv")(inputs)
    x = keras.layers.MaxPooling2D(5, data_format="channels_first", name="maxpool")(x)  # 32x12x12
    x = keras.layers.ZeroPadding2D(1, data_format="channels_first", name="conv_2_pad")(x)
    x = keras.layers.Conv2D(128, 4, data_format="channels_first", name="conv_2")(x)  # 128x11x11
    return keras.Model(inputs, x, name="hw3_q3")


if __name__ == "__main__":
    model = build()
    model.summary()
    print("output shape:", tuple(model.output.shape))
'''


def test_hw3_q3_exactly() -> None:
    assert to_keras(analyse(load_spec("hw3-q3"))) == HW3_Q3


def test_main_block_runs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    generated = KerasGenerated(analyse(load_spec("hw3-q3")), tmp_path)
    runpy.run_path(str(generated.path), run_name="__main__")
    out = capsys.readouterr().out
    assert "Total params: 71,840" in out
    assert out.endswith("output shape: (None, 128, 11, 11)\n")


def test_file_imports_only_keras_and_math() -> None:
    """keras always; math only for an infinite value (a max-pool's padding is −inf)."""
    pooled = {"input": [2, 5, 5], "layers": [{"type": "maxpool", "kernel_size": 3, "padding": 1}]}
    for spec, wanted in (("hw3-q3", ["keras"]), (pooled, ["math", "keras"])):
        tree = ast.parse(to_keras(analyse(load_spec(spec))))
        imports = [
            alias.name
            for node in ast.walk(tree)
            if isinstance(node, ast.Import | ast.ImportFrom)
            for alias in node.names
        ]
        assert imports == wanted


def test_every_leaf_type_is_mapped() -> None:
    assert set(LEAVES) == {name for name, kind in KINDS.items() if not kind.block}


@pytest.mark.full
def test_names_and_structure(tmp_path: Path) -> None:
    """Leaves named after the spec's names or their types, unique; merges after their blocks."""
    resnet = KerasGenerated(analyse(load_spec("resnet18")), tmp_path).build("meta")
    assert type(resnet.get_layer("conv1")).__name__ == "Conv2D"
    assert type(resnet.get_layer("maxpool")).__name__ == "MaxPooling2D"
    assert type(resnet.get_layer("maxpool_pad")).__name__ == "Pad"
    assert type(resnet.get_layer("fc")).__name__ == "Dense"
    names = [layer.name for layer in resnet.layers]
    assert len(names) == len(set(names))
    relu = {"type": "relu"}
    spec_names = ["features.1.0", "input", "relu", "relu", "9 lives", "→", "x" * 80]
    layers = [{**relu, "name": name} for name in spec_names] + [relu]
    report = analyse(load_spec({"input": [2, 3], "layers": layers}))
    assert [names for _, names in leaf_layers(report)] == [
        ("features_1_0",),
        ("input_",),  # the Input layer has "input"
        ("relu",),
        ("relu_2",),
        ("_9_lives",),
        ("relu_3",),
        ("x" * 22,),
        ("relu_4",),
    ]
    round_trip(report, tmp_path)


def test_function_name(tmp_path: Path) -> None:
    generated = KerasGenerated(analyse(load_spec("hw3-mlp")), tmp_path, "make_mlp")
    assert "def make_mlp() -> keras.Model:" in generated.source
    assert generated.build().name == "hw3_mlp"


@pytest.mark.parametrize(
    "name",
    ["1abc", "class", "keras", "Pad", "a-b", "", "n" * 61, "l", "print", "tuple", "__name__"],
)
def test_unusable_function_names_are_refused(name: str) -> None:
    with pytest.raises(ConvcalcError, match="cannot name the function"):
        to_keras(analyse(load_spec("hw3-q3")), name)


def test_empty_network(tmp_path: Path) -> None:
    generated = round_trip(analyse(load_spec({"input": [3, 4], "layers": []})), tmp_path)
    assert "return keras.Model(inputs, inputs," in generated.source


@pytest.mark.full
def test_helpers_are_registered_for_saving(tmp_path: Path) -> None:
    """A model using every helper layer of the file saves and loads back."""
    layers = [
        {"type": "pad", "padding": [1, -1, 2, 0], "mode": "reflect"},
        {"type": "local_response_norm", "size": 3},
        {"type": "channel_shuffle", "groups": 2},
        {"type": "log_softmax", "dim": 1},
        {"type": "gelu", "approximate": "tanh"},
        {"type": "pad", "padding": [0, 1, 0, 1]},  # 4x8x6
        {"type": "pixel_unshuffle", "downscale_factor": 2},
        {"type": "pixel_shuffle", "upscale_factor": 2},
        {"type": "select_channels", "channels": [3, 1, 0]},
        {
            "type": "split",
            "sizes": [1, 2],
            "branches": [[{"type": "batchnorm", "trainable": False}], []],
        },
    ]
    generated = round_trip(analyse(load_spec({"input": [4, 5, 5], "layers": layers})), tmp_path)
    assert all(f"class {helper}(" in generated.source for helper in HELPERS)
    model = generated.build()
    model.save(tmp_path / "model.keras")
    loaded = keras.saving.load_model(tmp_path / "model.keras")
    x = np.random.default_rng(0).standard_normal((2, 4, 5, 5)).astype("float32")
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(loaded(x)), keras.ops.convert_to_numpy(model(x)), rtol=1e-6
    )


# --- refusals -------------------------------------------------------------------------------

CONV = {"type": "conv", "out_channels": 2, "kernel_size": 3}
EMBEDDING = {"type": "embedding", "num_embeddings": 4, "embedding_dim": 3}
UP = {"type": "upsample", "scale_factor": 2}


@pytest.mark.every_case
@pytest.mark.parametrize(
    ("shape", "layer", "where", "why"),
    [
        ([2, 9, 9], {**CONV, "stride": 2, "dilation": 2}, "field dilation", "strides > 1"),
        ([2, 9, 9], {**CONV, "stride": [2, 1], "dilation": [1, 2]}, "field dilation", "together"),
        (
            [2, 5, 5],
            {"type": "conv_transpose", "out_channels": 2, "kernel_size": 3, "groups": 2},
            "field groups",
            "no groups",
        ),
        (
            [2, 5, 5],
            {
                "type": "conv_transpose",
                "out_channels": 2,
                "kernel_size": 3,
                "dilation": 3,
                "output_padding": 1,
            },
            "field output_padding",
            "below the stride",
        ),
        ([2, 9, 9], {"type": "maxpool", "kernel_size": 2, "dilation": 2}, "field dilation", ""),
        (
            [2, 8, 8],
            {"type": "maxpool", "kernel_size": 2, "return_indices": True},
            "field return_indices",
            "(values, indices)",
        ),
        (
            [2, 8, 8],
            {"type": "adaptive_maxpool", "output_size": 3, "return_indices": True},
            "field return_indices",
            "(values, indices)",
        ),
        (
            [2, 6, 6],
            {"type": "avgpool", "kernel_size": 3, "stride": 2, "ceil_mode": True},
            "field ceil_mode",
            "part of it",
        ),
        # a kernel longer than the input: floor mode has no window, ceil_mode's only one is
        # partly outside (PyTorch averages the one value inside)
        (
            [1, 1],
            {"type": "avgpool", "kernel_size": 2, "ceil_mode": True},
            "field ceil_mode",
            "part of it",
        ),
        (
            [2, 6, 6],
            {"type": "avgpool", "kernel_size": 2, "padding": 1, "count_include_pad": False},
            "field count_include_pad",
            "'same'",
        ),
        (
            [2, 6],
            {"type": "avgpool", "kernel_size": 2, "divisor_override": 3},
            "field divisor_override",
            "AvgPool1d",
        ),
        ([2, 4], {"type": "batchnorm", "track_running_stats": False}, "field track", "batch's"),
        ([2, 4], {"type": "batchnorm", "momentum": None}, "field momentum", "cumulative"),
        (
            [2, 4],
            {"type": "instancenorm", "track_running_stats": True},
            "field track_running_stats",
            "running statistics",
        ),
        ([2, 4], {"type": "leaky_relu", "negative_slope": -0.1}, "field negative_slope", ""),
        ([2, 4], {"type": "softplus", "beta": 2}, "field beta", "no beta"),
        ([2, 4], {"type": "softplus", "threshold": 10}, "field threshold", "no threshold"),
        (
            [2, 6],
            {"type": "pad", "padding": [2, -1], "mode": "circular"},
            "field padding",
            "crops",
        ),
        ([2, 4, 4], {**UP, "align_corners": True, "mode": "bilinear"}, "field align_corners", ""),
        ([2, 4, 4], {**UP, "mode": "bicubic"}, "field mode", "bicubic"),
        ([2, 4, 4, 4], {**UP, "mode": "trilinear"}, "field mode", "trilinear"),
        ([2, 4, 4], {**UP, "scale_factor": 1.5}, "field scale_factor", "whole factors"),
        ([2, 3, 4], {"type": "upsample", "size": [5, 8]}, "field size", "whole factors"),
        (
            [2, 3],
            {"type": "upsample", "scale_factor": 2.2, "recompute_scale_factor": False},
            "field scale_factor",
            "ratio of the sizes",
        ),
    ],
)
def test_refused(shape: list[int], layer: Layer, where: str, why: str) -> None:
    """What Keras cannot compute as PyTorch does is refused at the layer, saying why."""
    report = analyse(load_spec({"input": shape, "layers": [{"type": "relu"}, layer]}))
    with pytest.raises(ExportError) as refusal:
        to_keras(report)
    text = str(refusal.value)
    assert text.startswith(f"layers[1] ({layer['type']}), {where}"), text
    assert ": cannot be exported to Keras: " in text and why in text
    check_refusal(refusal.value, report)


@pytest.mark.parametrize(
    ("layers", "path", "field"),
    [
        ([{**EMBEDDING, "padding_idx": 0}], "layers[0]", "padding_idx"),
        ([{**EMBEDDING, "max_norm": 1.0}], "layers[0]", "max_norm"),
        ([{**EMBEDDING, "scale_grad_by_freq": True}], "layers[0]", "scale_grad_by_freq"),
        ([{"type": "relu"}, EMBEDDING], "layers[1]", None),
        ([{"type": "sequential", "layers": [EMBEDDING, EMBEDDING]}], "layers[0].layers[1]", None),
    ],
)
def test_embedding_refusals(layers: list[Layer], path: str, field: str | None) -> None:
    report = analyse(load_spec({"input": [5], "layers": layers}))
    with pytest.raises(ExportError) as refusal:
        to_keras(report)
    assert (refusal.value.path, refusal.value.field) == (path, field)
    check_refusal(refusal.value, report)


def test_keras_refuses_what_is_refused() -> None:
    """The reasons hold in this Keras: strides with dilation, output_padding from the stride,
    no pooling dilation, no negative LeakyReLU slope; and Keras' own 1-D upsampling and
    cropping, and Flatten with channels_first, would act on the wrong axes."""
    layers = keras.layers
    with pytest.raises(ValueError, match="dilation_rate"):
        layers.Conv2D(2, 3, strides=(2, 1), dilation_rate=(1, 2))
    with pytest.raises(ValueError, match="output_padding"):
        layers.Conv2DTranspose(2, 3, strides=1, dilation_rate=2, output_padding=1)
    assert "dilation_rate" not in inspect.signature(layers.MaxPooling2D).parameters
    assert "groups" not in inspect.signature(layers.Conv2DTranspose).parameters
    with pytest.raises(ValueError, match="negative"):
        layers.LeakyReLU(negative_slope=-0.1)
    for cls in (layers.UpSampling1D, layers.Cropping1D):
        assert "data_format" not in inspect.signature(cls).parameters
    x = np.arange(8, dtype="float32").reshape(1, 2, 2, 2)
    moved = keras.ops.convert_to_numpy(layers.Flatten(data_format="channels_first")(x))
    assert moved.tolist() != x.reshape(1, -1).tolist()


# --- values ---------------------------------------------------------------------------------


@pytest.mark.every_case
@pytest.mark.parametrize(
    ("shape", "layers"),
    [
        ([4, 9, 8], [{**CONV, "out_channels": 6, "padding": [2, 1], "dilation": 2, "groups": 2}]),
        ([3, 7, 8], [{**CONV, "kernel_size": [4, 2], "padding": "same", "dilation": [1, 2]}]),
        ([2, 7, 6], [{**CONV, "padding": 2, "padding_mode": "reflect", "stride": 2}]),
        ([2, 7], [{**CONV, "padding": "same", "kernel_size": 4, "padding_mode": "circular"}]),
        ([2, 5, 4, 4], [{**CONV, "padding": 1, "padding_mode": "replicate", "bias": False}]),
        ([4, 6, 6], [{**CONV, "out_channels": 8, "groups": 4, "padding": 1, "stride": 2}]),
        ([3, 9, 9], [{"type": "maxpool", "kernel_size": 3, "stride": 2, "padding": 1}]),
        ([3, 8, 8], [{"type": "maxpool", "kernel_size": 3, "stride": 2, "ceil_mode": True}]),
        ([3, 7], [{"type": "maxpool", "kernel_size": 2, "padding": 1, "ceil_mode": True}]),
        ([3, 1, 3], [{"type": "maxpool", "kernel_size": 2, "ceil_mode": True}]),  # no floor window
        ([3, 7, 7], [{"type": "avgpool", "kernel_size": 3, "stride": 1, "padding": 1}]),
        (
            [3, 7, 7],
            [
                {
                    "type": "avgpool",
                    "kernel_size": 3,
                    "stride": [1, 2],
                    "padding": 1,
                    "count_include_pad": False,
                }
            ],
        ),
        (
            [3, 6, 6],
            [
                {
                    "type": "avgpool",
                    "kernel_size": 3,
                    "stride": 2,
                    "padding": 1,
                    "ceil_mode": True,
                    "divisor_override": 2,
                }
            ],
        ),
        ([3, 6, 6], [{"type": "avgpool", "kernel_size": 2, "stride": 2, "ceil_mode": True}]),
        (
            [4, 5, 5],
            [
                {
                    "type": "conv_transpose",
                    "out_channels": 3,
                    "kernel_size": 3,
                    "stride": 2,
                    "padding": 1,
                    "output_padding": 1,
                }
            ],
        ),
        (
            [4, 5],
            [
                {
                    "type": "conv_transpose",
                    "out_channels": 3,
                    "kernel_size": 2,
                    "stride": 3,
                    "padding": 1,
                    "output_padding": 2,
                }
            ],
        ),
        ([2, 4, 4], [{**CONV, "type": "conv_transpose", "dilation": 2, "padding": 2}]),
        ([3, 6, 6], [{"type": "batchnorm", "momentum": 0.3, "eps": 0.01}, {"type": "relu"}]),
        ([3, 6], [{"type": "batchnorm", "affine": False}]),
        (
            [3, 4, 4],
            [
                {**CONV, "out_channels": 5},
                {"type": "flatten"},
                {"type": "linear", "out_features": 7},
                {"type": "log_softmax", "dim": 1},
            ],
        ),
        ([3, 4, 5], [{"type": "flatten", "start_dim": 1}, {"type": "linear", "out_features": 2}]),
        ([4, 7, 5], [{"type": "adaptive_avgpool", "output_size": [3, None]}]),
        ([4, 7, 5], [{"type": "adaptive_maxpool", "output_size": [2, 4]}]),
        ([4, 8, 6], [{"type": "adaptive_avgpool", "output_size": [2, 3]}]),
        ([2, 3, 4], [UP, {**UP, "mode": "bilinear"}]),
        ([2, 5], [{**UP, "mode": "linear"}, {"type": "upsample", "size": 20}]),
        ([2, 2, 3, 2], [{**UP, "scale_factor": [1, 2, 3], "mode": "nearest-exact"}]),
        ([4, 3, 3], [{"type": "pad", "padding": [-1, 2, 1, -2], "mode": "reflect"}]),
        ([4, 3, 3], [{"type": "pad", "padding": [2, -1, 0, 3], "value": -2.5}]),
        ([4, 3, 3], [{"type": "pad", "padding": [1, 1, 1, 1, -1, 2]}]),
        ([4, 3, 3], [{"type": "pad", "padding": [3, -1, 1, 2], "mode": "replicate"}]),
        ([4, 3], [{"type": "pad", "padding": [3, 2], "mode": "circular"}]),
        ([6, 3, 3], [{"type": "local_response_norm", "size": 4, "alpha": 0.5, "k": 2}]),
        ([6, 3], [{"type": "channel_shuffle", "groups": 3}]),
        ([6, 3, 3], [{"type": "groupnorm", "num_groups": 3}, {"type": "instancenorm"}]),
        ([6, 3, 3], [{"type": "instancenorm", "affine": True, "eps": 0.1}]),
        ([6, 3, 4], [{"type": "layernorm", "normalized_shape": [3, 4], "bias": False}]),
        ([6, 3, 4], [{"type": "prelu", "num_parameters": 6}, {"type": "prelu"}]),
        ([5], [{"type": "prelu", "num_parameters": 5}, {"type": "softmax"}]),
        ([3, 4], [{"type": "softmax"}, {"type": "softmax", "dim": -2}]),
        (
            [2, 3, 4],
            [
                {"type": "permute", "dims": [2, 0, 1]},
                {"type": "unflatten", "dim": 2, "unflattened_size": [1, -1]},
            ],
        ),
        (
            [3, 4],
            [
                *({"type": kind} for kind in ("hardswish", "hardsigmoid", "mish", "silu")),
                *({"type": kind} for kind in ("relu6", "sigmoid", "tanh", "softplus", "elu")),
                {"type": "gelu"},
                {"type": "gelu", "approximate": "tanh"},
                {"type": "leaky_relu", "negative_slope": 0.2},
                {"type": "leaky_relu"},  # PyTorch's slope 0.01, not Keras' 0.3
                {"type": "elu", "alpha": 0.5},
            ],
        ),
        (
            [3, 4, 4],
            [
                {"type": "dropout", "p": 0.3},
                {"type": "dropout2d"},
                {"type": "dropout3d"},
                {"type": "stochastic_depth", "p": 0.5, "mode": "row"},
            ],
        ),
        ([7], [{"type": "embedding", "num_embeddings": 9, "embedding_dim": 3}]),
        ([8, 4, 5], [{"type": "pixel_shuffle", "upscale_factor": 2}]),
        ([3, 18, 2, 3], [{"type": "pixel_shuffle", "upscale_factor": 3}]),  # a leading dim
        ([3, 4], [{"type": "pixel_shuffle", "upscale_factor": 1}]),  # [N, C, L]: unchanged
        ([2, 4, 6], [{"type": "pixel_unshuffle", "downscale_factor": 2}]),
        ([2, 3, 6, 3], [{"type": "pixel_unshuffle", "downscale_factor": 3}]),
        (
            [5, 4, 4],
            [
                {"type": "pixel_unshuffle", "downscale_factor": 2},
                {**CONV, "out_channels": 8, "padding": 1},
                {"type": "pixel_shuffle", "upscale_factor": 2},
            ],
        ),
        ([4, 3, 3], [{"type": "select_channels", "channels": [3, -4, 1, 1]}]),
        ([4, 5], [{"type": "select_channels", "channels": [2]}, {**CONV, "out_channels": 2}]),
        (
            [7, 6, 6],
            [
                {
                    "type": "split",
                    "sizes": [3, 4],
                    "branches": [
                        [{"type": "select_channels", "channels": [2, 0]}, {**CONV, "padding": 1}],
                        [{"type": "relu"}, {"type": "batchnorm"}],
                    ],
                },
                {"type": "split", "chunks": 2, "branches": [[], [{**CONV, "padding": 1}]]},
                {"type": "split", "sizes": 2, "branches": [[{"type": "sigmoid"}], [], []]},
            ],
        ),
        (  # empty slices, passed on
            [4, 5, 5],
            [{"type": "split", "sizes": [0, 4, 0], "branches": [[], [{**CONV, "padding": 1}], []]}],
        ),
    ],
)
def test_values_equal_pytorchs(shape: list[int], layers: list[Layer], tmp_path: Path) -> None:
    """PyTorch's weights in the Keras layers: the same outputs, in inference."""
    report = analyse(load_spec({"input": shape, "layers": layers}))
    round_trip(report, tmp_path)
    compare_values(report, tmp_path)


ZOO_VALUES = ["squeezenet1_0", "resnet18", "googlenet", "efficientnet_b0", "unet"]
ZOO_VALUES += ["shufflenet_v2_x0_5"]  # split blocks


@LONG  # Keras against PyTorch on small cases: test_values_equal_pytorchs
@pytest.mark.parametrize("name", ZOO_VALUES)
def test_zoo_values(name: str, tmp_path: Path) -> None:
    """Blocks, ceil-mode pools, padding and the rest in real networks, at a small input."""
    spec = load_spec(name)
    size = {"unet": 32, "googlenet": 96}.get(name, 64)
    report = analyse(dataclasses.replace(spec, input=(spec.input[0], size, size)))
    compare_values(report, tmp_path, batch=1)


def _varies(kept: Any) -> tuple[bool, ...]:
    """For each axis of a dropout's kept-mask, whether it changes along that axis."""
    return tuple(not (kept == kept.take([0], axis=axis)).all() for axis in range(kept.ndim))


@pytest.mark.full
def test_training_noise_shapes(tmp_path: Path) -> None:
    """Dropout masks in training vary along the axes PyTorch's do, and only those: the
    PyTorch export of the same spec, run in training, is the oracle (dropout1d on [C, L] and
    dropout2d drop channels, dropout1d on [C] and dropout3d on [C, H, W] whole samples,
    stochastic depth per sample or per batch). Sizes of 8 or more with p = 0.5 make a mask
    that should vary but does not about 2⁻⁷ likely per line; the seeds are fixed."""
    cases = [
        ([8, 9], {"type": "dropout1d"}),
        ([8], {"type": "dropout1d"}),
        ([8, 9], {"type": "dropout2d"}),
        ([8, 9, 9], {"type": "dropout2d"}),
        ([8, 9, 9], {"type": "dropout3d"}),
        ([8, 4, 9, 9], {"type": "dropout3d"}),
        ([8, 9], {"type": "dropout"}),
        ([8, 9], {"type": "stochastic_depth", "p": 0.5, "mode": "row"}),
        ([8, 9], {"type": "stochastic_depth", "p": 0.5, "mode": "batch"}),
    ]
    for shape, layer in cases:
        report = analyse(load_spec({"input": shape, "layers": [layer]}))
        x = np.ones((8, *shape), dtype="float32")
        torch.manual_seed(0)
        module = Generated(report, tmp_path).build().train()
        with torch.no_grad():
            expected = _varies(module(torch.from_numpy(x)).numpy() != 0)
        keras.utils.set_random_seed(0)
        model = round_trip(report, tmp_path).build()
        kept = keras.ops.convert_to_numpy(model(x, training=True)) != 0
        assert _varies(kept) == expected, layer
        assert np.array_equal(keras.ops.convert_to_numpy(model(x, training=False)), x)


# --- the arguments whose meaning differs ---------------------------------------------------------


@pytest.mark.parametrize(
    ("shape", "layer"),
    [
        ([3, 4, 5], {"type": "batchnorm", "momentum": 0.3, "eps": 0.01}),
        ([4, 6], {"type": "batchnorm"}),
        ([5], {"type": "batchnorm", "momentum": 0.75, "eps": 0.5, "affine": False}),
        ([2, 3, 2, 2], {"type": "batchnorm", "momentum": 1, "eps": 1e-7}),
    ],
)
def test_batchnorm_training_step_is_pytorchs(
    shape: list[int], layer: Layer, tmp_path: Path
) -> None:
    """Momentum means the opposite in Keras (the weight of the old statistics) and in PyTorch
    (the weight of the batch's). One training step on the same batch, from the same running
    statistics: both normalise with the batch's statistics and eps (the same outputs), and move
    their running mean alike. Written out here, with m PyTorch's momentum and the batch's
    variance over all but the channel axis, n values a channel: the mean becomes
    (1 − m)·old + m·mean; the variance (1 − m)·old + m·var, var biased (÷ n) in Keras and
    unbiased (÷ (n − 1)) in PyTorch."""
    report = analyse(load_spec({"input": shape, "layers": [layer]}))
    torch_model = Generated(report, tmp_path).build()
    keras_model = KerasGenerated(report, tmp_path).build()
    randomise(torch_model, seed=3)
    copy_weights(torch_model, keras_model, report)
    (module,) = leaf_modules(torch_model)
    (names,) = [names for _, names in leaf_layers(report)]
    norm = keras_model.get_layer(names[-1])
    old_mean = module.running_mean.clone().numpy().astype("float64")
    old_var = module.running_var.clone().numpy().astype("float64")
    x = np.random.default_rng(3).standard_normal((6, *shape)).astype("float32")
    torch_model.train()
    with torch.no_grad():
        want = torch_model(torch.from_numpy(x)).numpy()
    got = keras.ops.convert_to_numpy(keras_model(x, training=True))
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)

    m = layer.get("momentum", 0.1)  # PyTorch's default momentum
    axes = tuple(i for i in range(x.ndim) if i != 1)
    n = x.size // x.shape[1]
    batch = x.astype("float64")
    mean, biased = batch.mean(axis=axes), batch.var(axis=axes)
    unbiased = biased * n / (n - 1)
    moved = (1 - m) * old_mean + m * mean
    torch_mean, torch_var = module.running_mean.numpy(), module.running_var.numpy()
    np.testing.assert_allclose(torch_mean, moved, rtol=1e-5, atol=1e-6)  # the derivation holds
    np.testing.assert_allclose(torch_var, (1 - m) * old_var + m * unbiased, rtol=1e-5, atol=1e-6)
    keras_mean = keras.ops.convert_to_numpy(norm.moving_mean)
    keras_var = keras.ops.convert_to_numpy(norm.moving_variance)
    np.testing.assert_allclose(keras_mean, torch_mean, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(keras_var, (1 - m) * old_var + m * biased, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize(
    ("shape", "layer"),
    [
        ([8, 9], {"type": "dropout", "p": 0.3}),
        ([8, 9], {"type": "dropout"}),
        ([8, 9], {"type": "dropout1d", "p": 0.2}),
        ([8, 9, 9], {"type": "dropout2d", "p": 0.7}),
        ([8, 4, 9, 9], {"type": "dropout3d", "p": 0.25}),
        ([8, 9], {"type": "stochastic_depth", "p": 0.4, "mode": "row"}),
    ],
)
def test_dropout_rate_is_pytorchs_p(shape: list[int], layer: Layer, tmp_path: Path) -> None:
    """Keras' rate and PyTorch's p are both the probability of dropping: in training, what is
    kept is scaled by 1 / (1 − p) in both (ones in: every value out 0 or 1 / (1 − p), both
    seen in a batch of 64)."""
    report = analyse(load_spec({"input": shape, "layers": [layer]}))
    p = layer.get("p", 0.5)  # PyTorch's default p
    x = np.ones((64, *shape), dtype="float32")
    torch.manual_seed(0)
    module = Generated(report, tmp_path).build().train()
    with torch.no_grad():
        torch_values = set(np.unique(module(torch.from_numpy(x)).numpy()).tolist())
    keras.utils.set_random_seed(0)
    model = KerasGenerated(report, tmp_path).build()
    keras_values = set(np.unique(keras.ops.convert_to_numpy(model(x, training=True))).tolist())
    kept = float(np.float32(1 / (1 - p)))
    assert torch_values == {0.0, kept}
    assert {float(np.float32(v)) for v in keras_values} == {0.0, kept}


@pytest.mark.full
def test_lenet5_c3_values(tmp_path: Path) -> None:
    """LeNet-5's C3 connection table: 16 channel selections, each through its own conv."""
    compare_values(analyse(load_spec("lenet5_c3")), tmp_path)


def test_frozen_layers(tmp_path: Path) -> None:
    """``trainable: false`` on a leaf and on a block: Keras' own trainable weights are the
    report's trainable parameters (and torchinfo's, tests/test_split.py), the frozen ones
    non-trainable; the same values as PyTorch's in inference."""
    from tests.test_split import FROZEN, torch_frozen

    report = analyse(load_spec(FROZEN))
    generated = round_trip(report, tmp_path)
    model = generated.build()
    assert count(model.trainable_weights) == report.trainable_params < report.total_params
    expected_model = torch_frozen()
    assert count(model.trainable_weights) == sum(
        p.numel() for p in expected_model.parameters() if p.requires_grad
    )
    frozen = {name for path, names in leaf_layers(report) for name in names
              if path in frozen_leaves(report)}  # fmt: skip
    assert {layer.name for layer in model.layers if not layer.trainable} == frozen - {
        "batchnorm_2"  # frozen by its weights: trainable=False would run it in inference mode
    }
    assert type(model.get_layer("batchnorm_2")).__name__ == "FrozenBatchNormalization"
    assert "trainable=False" in generated.source
    compare_values(report, tmp_path)


@pytest.mark.parametrize("affine", [True, False])
def test_frozen_batchnorm_trains_as_pytorchs(affine: bool, tmp_path: Path) -> None:
    """A frozen BatchNorm in training: PyTorch (requires_grad False) still normalises with the
    batch's statistics and moves its running mean; so does the Keras layer, whose gamma and
    beta are non-trainable weights."""
    layer = {"type": "batchnorm", "momentum": 0.3, "affine": affine, "trainable": False}
    report = analyse(load_spec({"input": [3, 4, 4], "layers": [layer]}))
    torch_model = Generated(report, tmp_path).build()
    keras_model = KerasGenerated(report, tmp_path).build()
    randomise(torch_model, seed=5)
    copy_weights(torch_model, keras_model, report)
    (module,) = leaf_modules(torch_model)
    assert not any(p.requires_grad for p in module.parameters())
    assert keras_model.trainable_weights == []
    assert count(keras_model.non_trainable_weights) == 6 + (6 if affine else 0)
    x = np.random.default_rng(5).standard_normal((6, 3, 4, 4)).astype("float32")
    torch_model.train()
    with torch.no_grad():
        want = torch_model(torch.from_numpy(x)).numpy()
    got = keras.ops.convert_to_numpy(keras_model(x, training=True))
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)
    norm = keras_model.get_layer(leaf_layers(report)[0][1][-1])
    keras_mean = keras.ops.convert_to_numpy(norm.moving_mean)
    np.testing.assert_allclose(keras_mean, module.running_mean.numpy(), rtol=1e-5, atol=1e-6)


def test_prelu_init_is_pytorchs(tmp_path: Path) -> None:
    """PReLU's init is the starting slope in both: Keras' alpha and PyTorch's weight, built
    and not copied, hold it everywhere."""
    for num_parameters in (1, 3):
        layer = {"type": "prelu", "num_parameters": num_parameters, "init": 0.1}
        report = analyse(load_spec({"input": [3, 4], "layers": [layer]}))
        (module,) = leaf_modules(Generated(report, tmp_path).build())
        (names,) = [names for _, names in leaf_layers(report)]
        alpha = KerasGenerated(report, tmp_path).build().get_layer(names[-1]).weights[0]
        slope = np.float32(0.1)
        assert (module.weight.detach().numpy() == slope).all()
        assert (keras.ops.convert_to_numpy(alpha) == slope).all()


# --- random specs ---------------------------------------------------------------------------


def export_or_refuse(report: Report, folder: Path) -> KerasGenerated | None:
    """The checked export, or None after checking the refusal."""
    try:
        return round_trip(report, folder)
    except ExportError as error:
        check_refusal(error, report)
        return None


@pytest.mark.full
@settings(max_examples=examples(150))
@given(spec=any_chain())
@example(  # the ill-conditioned cases CI met: see conditioning
    spec=(
        [2],
        [{"type": "hardswish"}, {"type": "hardsigmoid"}, {"type": "groupnorm", "num_groups": 1}],
    )
)
@example(
    spec=(
        [1, 3, 3],
        [
            {"type": "hardsigmoid"},
            {"type": "conv", "kernel_size": 1, "out_channels": 1, "padding": 0},
            {"type": "conv", "kernel_size": 1, "out_channels": 1},
            {"type": "instancenorm", "track_running_stats": False},
        ],
    )
)
def test_random_layers(spec: tuple[list[int], list[Layer]], tmp_path_factory: Any) -> None:
    """Every leaf type, arguments away from their defaults: shapes, parameters and values."""
    report = accepted(*spec)
    assert report is not None
    folder = tmp_path_factory.mktemp("keras")
    if export_or_refuse(report, folder) is None:
        return
    try:
        to_pytorch(report)
    except ExportError:
        return
    compare_values(report, folder)


@pytest.mark.full
@settings(max_examples=examples(80))
@given(stack=stacks())
def test_random_stacks(stack: tuple[list[int], list[Layer]], tmp_path_factory: Any) -> None:
    report = accepted(*stack)
    assume(report is not None)
    assert report is not None
    folder = tmp_path_factory.mktemp("keras")
    if export_or_refuse(report, folder) is not None:
        compare_values(report, folder)


@pytest.mark.full
@settings(max_examples=examples(80))
@given(spec=block_specs())
def test_random_blocks(spec: tuple[list[int], list[Layer]], tmp_path_factory: Any) -> None:
    report = accepted(*spec)
    assume(report is not None)
    assert report is not None
    folder = tmp_path_factory.mktemp("keras")
    if export_or_refuse(report, folder) is not None:
        compare_values(report, folder)


@pytest.mark.full
@settings(max_examples=15 if FULL else 3)  # the bundled specs and deep nests run ruff too
@given(
    specs=st.lists(st.one_of(any_chain(), stacks(), block_specs()), min_size=6, max_size=6),
    names=st.lists(st.text(max_size=40), min_size=6, max_size=6),
)
def test_random_exports_pass_ruff(
    specs: list[tuple[list[int], list[Layer]]], names: list[str], tmp_path_factory: Any
) -> None:
    """Six files at a time (ruff runs once for them): any name, any layers, any nesting."""
    folder = tmp_path_factory.mktemp("ruff")
    paths = []
    for i, ((shape, layers), name) in enumerate(zip(specs, names, strict=True)):
        named = [{**layer, "name": name} if j % 2 else layer for j, layer in enumerate(layers)]
        report = accepted(shape, named) or accepted(shape, layers)
        if report is None:
            continue
        try:
            source = to_keras(dataclasses.replace(report, name=name))
        except ExportError:
            continue
        paths.append(folder / f"net_{i}.py")
        paths[-1].write_text(source, encoding="utf-8")
    assume(paths)
    check_ruff(paths, folder / "cache")


# --- depth and length -------------------------------------------------------------------------


@pytest.mark.full
@pytest.mark.parametrize(
    "depth", [12, pytest.param(500, marks=LONG)], ids=lambda depth: f"depth{depth}"
)
@pytest.mark.parametrize("kinds", [["residual"], list(BLOCKS)], ids=["residual", "all"])
def test_deep_nesting(kinds: list[str], depth: int, tmp_path: Path) -> None:
    """Straight-line code at any depth: a block's lists have their own variables, the file
    keeps its indentation and line length, and Keras builds the model."""
    report = deep_report(kinds, depth)
    generated = round_trip(report, tmp_path, "meta")
    lines = generated.source.splitlines()
    assert max(len(line) for line in lines) <= 100
    indents = {len(line) - len(line.lstrip()) for line in lines if line.strip()}
    assert max(indents) <= 12  # a call's arguments one a line, at most
    check_ruff([generated.path], tmp_path / "cache")


@pytest.mark.full
def test_500_deep_exports(tmp_path: Path, recursion_limit: None) -> None:
    """Exporting (not building) blocks nested 500 deep needs no recursion; the file compiles
    in the default recursion limit."""
    for kinds in (["residual"], list(BLOCKS)):
        report = deep_report(kinds, 500)
        sys.setrecursionlimit(200)  # some frames above the test's own
        source = to_keras(report)
        sys.setrecursionlimit(1000)
        compile(source, "deep.py", "exec")
        assert f"body{500 if kinds == ['residual'] else 498} = " in source


@LONG
def test_chain_of_20000_layers(tmp_path: Path) -> None:
    """10,000 top-level layers and as many in one repeat: each name counted on from the last
    (no quadratic search), the file compiles and passes ruff."""
    layers: list[Layer] = [
        {"type": "conv", "out_channels": 4, "kernel_size": 1} if i % 2 == 0 else {"type": "relu"}
        for i in range(10_000)
    ]
    repeat = {"type": "repeat", "times": 5_000, "layers": layers[:2]}
    report = analyse(load_spec({"input": [4, 6, 6], "layers": [*layers, repeat]}))
    source = to_keras(report)
    assert source.count("keras.layers.Conv2D(") == 10_000
    assert 'name="conv_10000")' in source and 'name="relu_10000")' in source
    compile(source, "chain.py", "exec")
    path = tmp_path / "chain.py"
    path.write_text(source, encoding="utf-8")
    check_ruff([path], tmp_path / "cache")


def test_the_command(run, tmp_path: Path) -> None:
    """`convcalc export --to keras` writes the file (or stdout) and refuses with the layer's
    location and exit code 2."""
    out = tmp_path / "q3.py"
    result = run("export", "hw3-q3", "--to", "keras", "-o", str(out))
    assert result.exit_code == 0
    assert out.read_text("utf-8") == HW3_Q3
    named = run("export", "hw3-q3", "--to", "keras", "--class-name", "make")
    assert named.exit_code == 0 and "def make() -> keras.Model:" in named.output
    spec = tmp_path / "dilated.yaml"
    spec.write_text(
        "input: [3, 32, 32]\nlayers:\n"
        "  - {type: conv, out_channels: 4, kernel_size: 3, stride: 2, dilation: 2}\n",
        "utf-8",
    )
    refused = run("export", str(spec), "--to", "keras")
    assert refused.exit_code == 2
    assert refused.stderr.startswith(f"Error: {spec}:3: layers[0] (conv), field dilation: ")
    assert "strides > 1 together with dilation_rate > 1" in refused.stderr


# --- hostile names ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "ascii_name"),
    [("ｋｅｒａｓ", "keras"), ("ｐｒｉｎｔ", "print"), ("ｓｕｐｅｒ", "super"), ("ｓｙｓ", "sys"),
     ("ｍａｔｈ", "math"), ("Ｐａｄ", "Pad"), ("ｔｕｐｌｅ", "tuple"), ("ｌ", "l")],
)  # fmt: skip
def test_function_names_python_reads_as_reserved_are_refused(name: str, ascii_name: str) -> None:
    namespace: dict[str, Any] = {}
    exec(f"{name} = 1", namespace)  # Python itself takes the full-width name as the ASCII one
    assert namespace[ascii_name] == 1
    with pytest.raises(ConvcalcError, match="cannot name the function"):
        to_keras(analyse(load_spec("hw3-q3")), name)


def test_full_width_function_name_that_is_free(tmp_path: Path) -> None:
    generated = KerasGenerated(analyse(load_spec("hw3-mlp")), tmp_path, "ｍａｋｅ")
    assert generated.module.make().name == "hw3_mlp"  # Python's name for it: make


@pytest.mark.parametrize(("name", "shown"), DOCSTRING_NAMES)
def test_hostile_names_in_the_docstrings(name: str, shown: str, tmp_path: Path) -> None:
    """The spec's name (and its layers') in the module's and the function's docstrings: the
    file parses, its docstrings say the name, and Keras builds the network analysed."""
    layers = [{"type": "relu", "name": name}, {"type": "sequential", "name": name, "layers": []}]
    report = analyse(load_spec({"name": name, "input": [3, 4], "layers": layers}))
    generated = round_trip(report, tmp_path)
    tree = ast.parse(generated.source)
    module_doc = (ast.get_docstring(tree) or "").splitlines()[0]
    assert module_doc == f"A Keras 3 model generated by convcalc from the spec {shown}."
    function_doc = ast.get_docstring(next(n for n in tree.body if isinstance(n, ast.FunctionDef)))
    assert function_doc == f"The network {shown}, as convcalc analysed it."


def _run_main(source: str, path: Path) -> subprocess.CompletedProcess[str]:
    """The file run by Python on Keras' PyTorch backend, in a process of its own (its default
    recursion limit)."""
    path.write_text(source, encoding="utf-8")
    env = {**os.environ, "KERAS_BACKEND": "torch"}
    return subprocess.run(
        [sys.executable, str(path)], capture_output=True, text=True, timeout=600, env=env
    )


@LONG
def test_main_block_runs_400_deep(tmp_path: Path) -> None:
    result = _run_main(to_keras(deep_report(list(BLOCKS), 400)), tmp_path / "deep.py")
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.endswith("output shape: (None, 4, 6, 6)\n")


@LONG
def test_main_block_runs_1200_layers_in_a_row(tmp_path: Path) -> None:
    """Keras walks the model's graph recursively (a frame a layer): 1,200 layers in a row
    overflow the default limit of 1,000, so the file's __main__ raises it."""
    report = analyse(load_spec({"input": [4, 6, 6], "layers": [{"type": "relu"}] * 1200}))
    source = to_keras(report)
    result = _run_main(source, tmp_path / "long.py")
    assert result.returncode == 0, result.stderr[-3000:]
    assert "sys.setrecursionlimit(3400)  # 1,200 layers" in source  # 1,000 + 2 · 1,200
    assert "Total params: 0" in result.stdout
    assert result.stdout.endswith("output shape: (None, 4, 6, 6)\n")


def test_batchnorm_momentum_is_keras_own() -> None:
    """PyTorch updates running = (1 − m)·running + m·batch (torch.nn.BatchNorm2d's
    documentation), Keras moving = m·moving + (1 − m)·batch (keras.layers.BatchNormalization's):
    PyTorch's momentum 0.25 is Keras' 0.75. Read from the source, so the quick run (no Keras)
    checks it too."""
    spec = load_spec({"input": [3, 8, 8], "layers": [{"type": "batchnorm", "momentum": 0.25}]})
    lines = [line.strip() for line in to_keras(analyse(spec)).splitlines()]
    assert "momentum=0.75," in lines and "momentum=0.25," not in lines
