"""convcalc's own convention against PyTorch's FLOP counter, ``FlopCounterMode``, run live.

FlopCounterMode (``torch.utils.flop_counter``) counts 2 FLOPs per multiply-add of every matrix
product and convolution of one forward pass; convcalc's convention must be exactly half of it.
Every model runs on the meta device, where FlopCounterMode sees the attention products too (on
the CPU, PyTorch 2.13's flash-attention kernel for ``scaled_dot_product_attention`` has no
formula). The bundled specs (all of specs/ but five-stages, whatever it holds when the test
runs) are built without convcalc: torchvision's constructors, the reference U-Net, LeNet-5 with
its C3 table and the plain stacks (tests/independent.py). Random specs (every leaf type,
stacks, nested blocks, as test_export.py draws them) run as their export, which
tests/test_export.py checks leaf by leaf.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import convcalc
from convcalc.analysis import Report
from convcalc.layers.registry import KINDS
from convcalc.records import Costing
from convcalc.views.conventions import CONVENTIONS
from convcalc.views.conventions import convcalc as convention
from convcalc.views.costs import compare, divergence
from tests.budget import examples, spec_params

torch = pytest.importorskip("torch")
from torch.utils.flop_counter import FlopCounterMode  # noqa: E402

from tests.test_export import Generated, accepted, any_chain, refused  # noqa: E402
from tests.test_torch_blocks import specs as block_specs  # noqa: E402
from tests.test_torch_shapes import stacks  # noqa: E402

pytestmark = pytest.mark.torch
nn = torch.nn

ROOT = Path(__file__).resolve().parent.parent
SPECS = sorted(
    path.stem
    for path in (ROOT / "specs").glob("*.yaml")
    if path.stem not in ("five-stages", "hw3-q3-keras") and not path.stem.startswith("keras_")
)
LEAF_TYPES = sorted(name for name, kind in KINDS.items() if not kind.block)


def flop_counter(model: Any, input_shape: tuple[int, ...], batch: int = 1, **kwargs: Any) -> int:
    """FlopCounterMode's total for one forward pass of ``batch`` zero samples, in eval mode on
    the model's device (meta for every model here)."""
    model.eval()
    device = next(iter(model.parameters()), torch.empty(0, device="meta")).device
    x = torch.zeros(batch, *input_shape, device=device)
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        model(x, **kwargs)
    return int(counter.get_total_flops())


def ours(report: Report, batch: int = 1) -> int:
    return sum(convention.mult_adds(entry, batch) for entry in report.leaves())


def exported(report: Report, folder: Path) -> Any:
    """convcalc's PyTorch export of ``report``, built on the meta device."""
    return Generated(report, folder).build("meta")


def bundled_model(name: str, folder: Path) -> tuple[Any, tuple[int, ...]]:
    """The PyTorch model of a bundled spec, built without convcalc (tests/independent.py), on
    the meta device: a bundled spec without an independent model fails here."""
    from tests.independent import zoo_model

    return zoo_model(name)


# --- the bundled networks ----------------------------------------------------------------------


@pytest.mark.parametrize("name", spec_params(SPECS))
def test_bundled_specs_equal_flop_counter(name: str, tmp_path: Path) -> None:
    report = convcalc.analyse(convcalc.load_spec(name))
    model, input_shape = bundled_model(name, tmp_path)
    assert tuple(input_shape) == report.input_shape
    assert 2 * ours(report) == flop_counter(model, input_shape)
    assert report.total_mult_adds() == ours(report)  # the default


# FlopCounterMode's totals, ÷ 2, as it printed them here (torch 2.13, torchvision 0.28)
PUBLISHED_HERE = {
    "resnet50": 4_089_184_256,
    "vit_b_16": 17_563_828_224,
    "lenet5": 416_520,
    "hw3-q3": 30_791_680,
}


@pytest.mark.parametrize("name", sorted(PUBLISHED_HERE))
def test_pinned_totals(name: str) -> None:
    if not (ROOT / "specs" / f"{name}.yaml").exists():
        pytest.skip(f"{name} is not bundled")
    assert convcalc.analyse(convcalc.load_spec(name)).total_mult_adds() == PUBLISHED_HERE[name]


def test_batch_multiplies_the_count() -> None:
    from tests.independent import zoo_model

    report = convcalc.analyse(convcalc.load_spec("resnet18"))
    model, input_shape = zoo_model("resnet18")
    assert 2 * ours(report, 3) == flop_counter(model, input_shape, batch=3) == 6 * ours(report)


# --- single layers, by hand and against FlopCounterMode ------------------------------------------


def one(shape: list[int], layer: dict[str, Any]) -> Report:
    return convcalc.analyse(convcalc.load_spec({"name": "one", "input": shape, "layers": [layer]}))


# (spec input, spec layer, the same layer in torch, the count derived by hand)
SINGLE = [
    # conv 3→8 3×3 'same': weight 8·3·3·3 = 216 × 10·10 output positions; no bias
    ([3, 10, 10], {"type": "conv", "out_channels": 8, "kernel_size": 3, "padding": "same"},
     lambda: nn.Conv2d(3, 8, 3, padding="same"), 21_600),
    # dilated 2, 'valid': 216 × 6·6
    ([3, 10, 10], {"type": "conv", "out_channels": 8, "kernel_size": 3, "dilation": 2},
     lambda: nn.Conv2d(3, 8, 3, dilation=2), 7_776),
    # reflect padding: padded first, 216 × 10·10
    ([3, 10, 10], {"type": "conv", "out_channels": 8, "kernel_size": 3, "padding": 1,
                   "padding_mode": "reflect"},
     lambda: nn.Conv2d(3, 8, 3, padding=1, padding_mode="reflect"), 21_600),
    # grouped 1-D: weight 6·2·3 = 36 × 7 positions
    ([4, 9], {"type": "conv", "out_channels": 6, "kernel_size": 3, "groups": 2},
     lambda: nn.Conv1d(4, 6, 3, groups=2), 252),
    # transposed /2 g2 on 4×5×5: weight 4·3·3·3 = 108 × 5·5 *input* positions
    ([4, 5, 5], {"type": "conv_transpose", "out_channels": 6, "kernel_size": 3, "stride": 2,
                 "groups": 2},
     lambda: nn.ConvTranspose2d(4, 6, 3, stride=2, groups=2), 2_700),
    # linear 10→7 on [4, 5, 10]: 20 positions × 10 × 7
    ([4, 5, 10], {"type": "linear", "out_features": 7}, lambda: nn.Linear(10, 7), 1_400),
    ([10], {"type": "linear", "out_features": 7, "bias": False},
     lambda: nn.Linear(10, 7, bias=False), 70),
    # no matrix product: 0
    ([4, 5, 5], {"type": "batchnorm"}, lambda: nn.BatchNorm2d(4), 0),
    ([4, 5, 5], {"type": "upsample", "scale_factor": 2, "mode": "bilinear"},
     lambda: nn.Upsample(scale_factor=2, mode="bilinear"), 0),
    ([4, 5, 5], {"type": "adaptive_avgpool", "output_size": 1}, lambda: nn.AdaptiveAvgPool2d(1), 0),
    ([4, 5, 5], {"type": "gelu"}, lambda: nn.GELU(), 0),
]  # fmt: skip


@pytest.mark.every_case
@pytest.mark.parametrize(("shape", "layer", "module", "count"), SINGLE)
def test_single_layers(shape: list[int], layer: dict[str, Any], module: Any, count: int) -> None:
    assert ours(one(shape, layer)) == count
    with torch.device("meta"):
        assert flop_counter(module(), tuple(shape)) == 2 * count


ATTENTION = [
    # L = 5 tokens, E = 16: 4·5·16² projections + 2·5·5·16 for q·kᵀ and attn·v
    ({}, 5 * 4 * 16 * 16 + 2 * 5 * 5 * 16),
    # a bias key and a zero key: S = 7 keys
    ({"add_bias_kv": True, "add_zero_attn": True}, 5 * 4 * 16 * 16 + 2 * 5 * 7 * 16),
    ({"bias": False}, 5 * 4 * 16 * 16 + 2 * 5 * 5 * 16),
]


@pytest.mark.parametrize(("fields", "count"), ATTENTION)
@pytest.mark.parametrize("need_weights", [True, False])
def test_multihead_attention(fields: dict[str, Any], count: int, need_weights: bool) -> None:
    if "multihead_attention" not in KINDS:
        pytest.skip("no multihead_attention type")
    report = one([5, 16], {"type": "multihead_attention", "num_heads": 4, **fields})
    assert ours(report) == count
    with torch.device("meta"):
        module = nn.MultiheadAttention(16, 4, batch_first=True, **fields).eval()
        x = torch.zeros(2, 5, 16)
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        module(x, x, x, need_weights=need_weights)
    assert counter.get_total_flops() == 2 * 2 * count


def _torchvision_swin() -> Any:
    from tests.torchvision_oracle import import_torchvision

    import_torchvision()
    return importlib.import_module("torchvision.models.swin_transformer")


# (spec layer on [H, W, C], torchvision class, its arguments)
WINDOWED = [
    # 7×7 windows on 14×14 (4 windows of 49 tokens), C = 32, 2 heads
    ({"type": "shifted_window_attention", "window_size": [7, 7], "shift_size": [3, 3],
      "num_heads": 2}, [14, 14, 32], "ShiftedWindowAttention", (32, [7, 7], [3, 3], 2)),
    # 10×9 padded to 14×14 tokens
    ({"type": "shifted_window_attention", "window_size": [7, 7], "shift_size": [0, 0],
      "num_heads": 4}, [10, 9, 32], "ShiftedWindowAttention", (32, [7, 7], [0, 0], 4)),
    ({"type": "shifted_window_attention_v2", "window_size": [4, 4], "shift_size": [2, 2],
      "num_heads": 2}, [9, 8, 16], "ShiftedWindowAttentionV2", (16, [4, 4], [2, 2], 2)),
    ({"type": "patch_merging"}, [7, 8, 16], "PatchMerging", (16,)),
    ({"type": "patch_merging_v2"}, [8, 8, 16], "PatchMergingV2", (16,)),
]  # fmt: skip


def _windowed_by_hand(layer: dict[str, Any], shape: list[int], batch: int) -> int:
    """4·T·C² + 2·T·N·C per sample (T padded tokens, N a window's), v2's bias MLP once; patch
    merging: ⌈H/2⌉·⌈W/2⌉ tokens × 4C × 2C."""
    height, width, channels = shape
    if layer["type"].startswith("patch_merging"):
        return batch * -(-height // 2) * -(-width // 2) * 4 * channels * 2 * channels
    rows, columns = layer["window_size"]
    tokens = -(-height // rows) * rows * -(-width // columns) * columns
    count = batch * (4 * tokens * channels**2 + 2 * tokens * rows * columns * channels)
    if layer["type"].endswith("_v2"):
        count += (2 * rows - 1) * (2 * columns - 1) * (2 * 512 + 512 * layer["num_heads"])
    return count


@pytest.mark.every_case
@pytest.mark.parametrize(("layer", "shape", "cls", "args"), WINDOWED)
def test_windowed_layers(layer: dict[str, Any], shape: list[int], cls: str, args: Any) -> None:
    if layer["type"] not in KINDS:
        pytest.skip(f"no {layer['type']} type")
    report = one(shape, layer)
    swin = _torchvision_swin()
    with torch.device("meta"):
        module = getattr(swin, cls)(*args)
    for batch in (1, 3):
        count = _windowed_by_hand(layer, shape, batch)
        assert ours(report, batch) == count
        assert flop_counter(module, tuple(shape), batch) == 2 * count


# --- random specs --------------------------------------------------------------------------------


def _check_random(spec: tuple[list[int], list[dict[str, Any]]], folder: Path) -> None:
    report = accepted(*spec)
    assume(report is not None)
    assert report is not None
    assume(refused(report) is None)  # a layer no PyTorch module writes: test_export's part
    leaves = list(report.leaves())
    assume(not (leaves and leaves[0].type == "embedding"))  # token input, not floats
    model = exported(report, folder)
    assert 2 * ours(report, 2) == flop_counter(model, report.input_shape, batch=2)
    # every convention's explicit zero rows count 0 here
    for name in CONVENTIONS:
        module = importlib.import_module(CONVENTIONS[name])
        for entry in leaves:
            if entry.type in module.ZERO and not entry.layer.functional:
                assert module.mult_adds(entry, 2) == 0, (name, entry.type)


@settings(max_examples=examples(300), deadline=None)
@given(spec=any_chain())
def test_random_layers_equal_flop_counter(
    spec: tuple[list[int], list[dict[str, Any]]], tmp_path_factory: Any
) -> None:
    _check_random(spec, tmp_path_factory.mktemp("convcalc"))


@settings(max_examples=examples(200), deadline=None)
@given(spec=st.one_of(stacks(), block_specs()))
def test_random_stacks_and_blocks_equal_flop_counter(
    spec: tuple[list[int], list[dict[str, Any]]], tmp_path_factory: Any
) -> None:
    _check_random(spec, tmp_path_factory.mktemp("convcalc"))


# --- every type has a row in every convention ------------------------------------------------


def rows(name: str) -> tuple[set[str], set[str]]:
    """A convention's rows: the types it has a rule for, and its explicit zeros."""
    module = importlib.import_module(CONVENTIONS[name])
    ruled = set(getattr(module, "RULES", {})) | set(getattr(module, "COUNTED", ()))
    ruled |= set(getattr(module, "ONCE", {})) | set(getattr(module, "BATCHED", {}))
    return ruled, set(module.ZERO)


@pytest.mark.every_case
@pytest.mark.parametrize("name", list(CONVENTIONS))
def test_every_type_has_a_row(name: str) -> None:
    ruled, zero = rows(name)
    missing = [kind for kind in LEAF_TYPES if kind not in ruled | zero]
    assert not missing, f"{name} has no rule nor explicit zero for {', '.join(missing)}"
    assert not ruled & zero, f"{name}: both a rule and a zero for {sorted(ruled & zero)}"
    unknown = (ruled | zero) - set(LEAF_TYPES)
    assert not unknown, f"{name}: rows for unknown types {sorted(unknown)}"


# --- the default, the divergence note and the costs command --------------------------------


def test_convcalc_is_the_default_and_first() -> None:
    assert next(iter(CONVENTIONS)) == "convcalc"
    assert Costing().convention == "convcalc"
    report = convcalc.analyse(convcalc.load_spec("lenet5"))
    assert report.total_mult_adds() == ours(report) == 416_520
    assert report.to_dict()["convention"] == "convcalc"


def test_divergence_names_the_types() -> None:
    # lenet5: torchinfo adds the biases, 6·28·28 + 16·10·10 + 120 + 84 + 10 = 6,518 more than
    # convcalc's 416,520, within 10 %: no note
    lenet = convcalc.analyse(convcalc.load_spec("lenet5"))
    assert divergence(lenet, 1, "torchinfo") is None
    assert divergence(lenet, 1, "convcalc") is None
    # a linear on 100 tokens: torchinfo counts it once per sample (8·8 + 8 = 72), convcalc at
    # each of the 100 (100·8·8 = 6,400)
    tokens = one([100, 8], {"type": "linear", "out_features": 8})
    found = divergence(tokens, 1, "torchinfo")
    assert found is not None
    assert (found.ours, found.theirs) == (6_400, 72)
    assert [row[:3] for row in found.types] == [("linear", 6_400, 72)]
    assert "once per sample" in found.types[0][3]


def test_shape_says_why_a_convention_differs(run: Any) -> None:
    spec = '{"name": "t", "input": [100, 8], "layers": [{"type": "linear", "out_features": 8}]}'
    result = run("shape", "-", "--convention", "torchinfo", input=spec)
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    at = next(i for i, line in enumerate(lines) if line.startswith("Total mult-adds"))
    assert lines[at] == "Total mult-adds: 72 (torchinfo's convention)"
    assert lines[at + 1].startswith("  88.9× fewer than convcalc's 6,400")
    assert lines[at + 2].startswith("    linear: 72 against 6,400 (88.9× fewer); torchinfo counts")
    default = run("shape", "-", input=spec)
    assert "Total mult-adds: 6,400 (convcalc's convention)" in default.output
    assert "fewer than" not in default.output
    markdown = run("shape", "-", "--convention", "torchinfo", "--format", "markdown", input=spec)
    assert "  - 88.9× fewer than convcalc's 6,400" in markdown.output


def test_costs_shows_five_conventions(run: Any) -> None:
    report = convcalc.analyse(convcalc.load_spec("hw3-q3"))
    comparison = compare(report)
    assert comparison.conventions == ("convcalc", "torchinfo", "fvcore", "ptflops", "thop")
    assert comparison.totals["convcalc"] == 30_791_680
    result = run("costs", "hw3-q3")
    assert result.exit_code == 0, result.output
    header = next(line for line in result.output.splitlines() if line.startswith("Layer type"))
    assert header.split() == ["Layer", "type", "convcalc", "torchinfo", "fvcore", "ptflops", "thop"]


def test_notes_are_one_line_each() -> None:
    assert all("\n" not in note for note in convention.NOTES)
