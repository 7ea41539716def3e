"""The rough edges a newcomer hits first: PyTorch's input counts written in a spec, an input
written channels-last or with a batch, a linear without its flatten, a torchvision model's
print(model) text, and ``--help``.

Every number here comes from PyTorch or torchvision run live, or from the homework's own
figures; the written sizes are checked against what PyTorch's constructors build and run.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Callable
from functools import partial
from typing import Any

import pytest

from convcalc.analysis import LayerRefusal, analyse
from convcalc.errors import ConvcalcError, SpecError
from convcalc.spec.validate import load_spec
from convcalc.views.lint import lint
from tests.torchvision_oracle import import_torchvision

HW3_LAYERS = [  # the homework's Question 3.1 network (specs/hw3-q3.yaml)
    {"type": "conv", "out_channels": 32, "kernel_size": 8, "stride": 2, "padding": 0},
    {"type": "maxpool", "kernel_size": 5, "stride": 5},
    {"type": "conv", "out_channels": 128, "kernel_size": 4, "stride": 1, "padding": 1},
]


def accepted(spec: dict[str, Any]) -> bool:
    """Whether convcalc validates and analyses the spec."""
    try:
        analyse(load_spec(spec))
    except ConvcalcError:
        return False
    return True


def refusal(spec: dict[str, Any] | str) -> SpecError:
    with pytest.raises(SpecError) as caught:
        analyse(load_spec(spec))
    return caught.value


# --- 1. in_channels, in_features, num_features ... as PyTorch's code writes them -------------


Case = tuple[str, dict[str, Any], tuple[int, ...], Callable[[], None]]


def _runs(build: Callable[[], Any], shape: tuple[int, ...], call: Any = None) -> Callable[[], None]:
    """Build a PyTorch module and run it (training mode) on a batch of one ``shape``."""

    def go() -> None:
        import torch

        module = build()
        x = torch.zeros(1, *shape)
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # InstanceNorm warns of a count it ignores, and runs
            module.train()
            call(module, x) if call else module(x)

    return go


def _torch_cases() -> list[Case]:
    """(case, convcalc layer, input without the batch, PyTorch's module built and run)."""
    nn = pytest.importorskip("torch.nn")
    tv = import_torchvision()
    swin, maxvit = tv.models.swin_transformer, tv.models.maxvit
    cases: list[Case] = []

    def add(
        case: str, layer: dict[str, Any], shape: tuple[int, ...], build: Any, call: Any = None
    ) -> None:
        cases.append((case, layer, shape, _runs(build, shape, call)))

    for w in (3, 4):
        conv = {"type": "conv", "in_channels": w, "out_channels": 8, "kernel_size": 3}
        add(f"conv {w}", conv, (3, 8, 8), partial(nn.Conv2d, w, 8, 3))
        tconv = {**conv, "type": "conv_transpose"}
        add(f"conv_transpose {w}", tconv, (3, 5), partial(nn.ConvTranspose1d, w, 8, 3))
    # the groups divide the written in_channels too (PyTorch's constructor checks it)
    grouped = {"type": "conv", "in_channels": 6, "out_channels": 8, "kernel_size": 1, "groups": 4}
    add("conv groups", grouped, (6, 4, 4), partial(nn.Conv2d, 6, 8, 1, groups=4))
    for w, shape in ((16, (16,)), (15, (16,)), (4, (2, 3, 4)), (3, (2, 3, 4))):
        linear = {"type": "linear", "in_features": w, "out_features": 5}
        add(f"linear {w} on {shape}", linear, shape, partial(nn.Linear, w, 5))
    for affine, track in ((True, True), (False, True), (False, False)):
        for w in (8, 6):
            flags = {"affine": affine, "track_running_stats": track}
            bn = {"type": "batchnorm", "num_features": w, **flags}
            add(f"batchnorm {w} {flags}", bn, (8, 4, 4), partial(nn.BatchNorm2d, w, **flags))
            inorm = {**bn, "type": "instancenorm"}
            add(
                f"instancenorm {w} {flags}",
                inorm,
                (8, 4, 4),
                partial(nn.InstanceNorm2d, w, **flags),
            )
    for affine in (True, False):
        for w in (8, 6, 5):
            gn = {"type": "groupnorm", "num_groups": 2, "num_channels": w, "affine": affine}
            add(
                f"groupnorm {w} {affine}", gn, (8, 4, 4), partial(nn.GroupNorm, 2, w, affine=affine)
            )
    for w in (8, 16, 6):
        mha = {"type": "multihead_attention", "embed_dim": w, "num_heads": 4}
        build = partial(nn.MultiheadAttention, w, 4, batch_first=True)
        add(f"multihead_attention {w}", mha, (5, 8), build, lambda m, x: m(x, x, x))
    for w in (8, 16):
        attn = {"type": "shifted_window_attention", "dim": w, "num_heads": 2}
        attn |= {"window_size": [2, 2], "shift_size": [0, 0]}
        build = partial(swin.ShiftedWindowAttention, w, [2, 2], [0, 0], 2)
        add(f"shifted_window_attention {w}", attn, (4, 4, 8), build)
        merge = {"type": "patch_merging", "dim": w}
        add(f"patch_merging {w}", merge, (4, 4, 8), partial(swin.PatchMerging, w))
        rel = {"type": "relative_position_attention", "feat_dim": w, "head_dim": 4}
        rel["max_seq_len"] = 4
        build = partial(maxvit.RelativePositionalMultiHeadAttention, w, 4, 4)
        add(f"relative_position_attention {w}", rel, (3, 4, 8), build)
    return cases


@pytest.mark.full
@pytest.mark.torch
def test_written_input_sizes_are_accepted_exactly_where_torch_builds_and_runs() -> None:
    """Each PyTorch constructor argument that convcalc reads from the input, written in the
    spec: convcalc accepts the layer exactly where PyTorch's module, built with that argument,
    runs on the input (a norm without weights or statistics takes any count, as PyTorch's;
    GroupNorm's constructor wants the groups to divide it all the same)."""
    disagree, counts = [], {True: 0, False: 0}
    for case, layer, shape, torch_run in _torch_cases():
        try:
            torch_run()
            torch_ok = True
        except Exception:
            torch_ok = False
        counts[torch_ok] += 1
        ours = accepted({"input": list(shape), "layers": [layer]})
        if ours != torch_ok:
            disagree.append(f"{case}: torch {'runs' if torch_ok else 'refuses'}")
    assert not disagree, disagree
    assert counts[True] >= 15 and counts[False] >= 15  # both sides really exercised


def test_a_wrong_written_size_names_the_layer_line_and_the_right_value() -> None:
    text = (
        "input: [3, 32, 32]\n"
        "layers:\n"
        "  - {type: conv, in_channels: 3, out_channels: 64, kernel_size: 3}\n"
        "  - {type: batchnorm, num_features: 64}\n"
        "  - {type: conv, in_channels: 3, out_channels: 64, kernel_size: 3}\n"
    )
    error = refusal(text)
    assert (error.line, error.path, error.layer_type, error.field) == (
        5, "layers[2]", "conv", "in_channels",
    )  # fmt: skip
    assert error.message == "in_channels 3, but the layer is given 64 channels"
    error = refusal(
        {"input": [16, 1, 1], "layers": [{"type": "linear", "in_features": 16, "out_features": 2}]}
    )
    assert error.message == (
        "in_features 16, but the layer is given 1 features (its input [16, 1, 1]: it acts on "
        "the last dimension)"
    )


def test_a_written_size_is_a_positive_integer_and_only_where_the_type_takes_it() -> None:
    spec = {
        "input": [3, 8, 8],
        "layers": [{"type": "conv", "in_channels": 1.5, "out_channels": 2, "kernel_size": 1}],
    }
    error = refusal(spec)
    assert (error.field, error.message) == (
        "in_channels",
        "must be a positive integer, not the decimal 1.5",
    )
    error = refusal(
        {"input": [3, 8, 8], "layers": [{"type": "maxpool", "kernel_size": 2, "in_channels": 3}]}
    )
    assert error.field == "in_channels" and error.message.startswith(
        "unknown field: a maxpool layer takes"
    )


def test_the_schema_allows_the_written_sizes() -> None:
    from convcalc.spec.schema import spec_schema

    defs = spec_schema()["$defs"]
    written = [
        ("Conv", "in_channels"),
        ("Linear", "in_features"),
        ("BatchNorm", "num_features"),
        ("GroupNorm", "num_channels"),
        ("MultiheadAttention", "embed_dim"),
    ]
    for cls, name in written:
        assert defs[cls]["properties"][name]["type"] == "integer", (cls, name)
    assert "in_channels" not in defs["MaxPool"]["properties"]


@pytest.mark.full
@pytest.mark.torch
def test_the_input_solver_keeps_a_written_in_features() -> None:
    """conv 3×3, flatten, linear with in_features 128 written: PyTorch runs it exactly where
    8·(H − 2)·(W − 2) = 128, even with the layers rebuilt for each input (the written size does
    not follow the input); the closed form says the same, H and W from 1 to 20."""
    torch = pytest.importorskip("torch")
    from convcalc.solve.inputs import solve_input

    layers = [
        {"type": "conv", "out_channels": 8, "kernel_size": 3},
        {"type": "flatten"},
        {"type": "linear", "in_features": 128, "out_features": 2},
    ]
    model = torch.nn.Sequential(
        torch.nn.Conv2d(3, 8, 3), torch.nn.Flatten(), torch.nn.Linear(128, 2)
    )
    runs = set()
    for h in range(1, 21):
        for w in range(1, 21):
            try:
                with torch.no_grad():
                    model(torch.zeros(1, 3, h, w))
                runs.add((h, w))
            except RuntimeError:
                pass
    assert runs == {(3, 18), (4, 10), (6, 6), (10, 4), (18, 3)}
    answer = solve_input(load_spec({"input": [3, 6, 6], "layers": layers}), rebuild=True)
    assert {(h, w) for h in range(1, 21) for w in range(1, 21) if (h, w) in answer} == runs


# --- 2. an input written channels-last, or with the batch -------------------------------------


@pytest.mark.torch
def test_a_channels_last_or_batched_input_gets_a_hint() -> None:
    """PyTorch's Conv2d(3, 32, 8, 2) refuses [128, 128, 3] read channels-first and runs on
    [3, 128, 128]; the spec refused at its first layer says which input was meant."""
    torch = pytest.importorskip("torch")
    conv = torch.nn.Conv2d(3, 32, 8, 2)
    with pytest.raises(RuntimeError):
        conv(torch.zeros(1, 128, 128, 3))
    assert conv(torch.zeros(1, 3, 128, 128)).shape == (1, 32, 61, 61)
    text = "input: [128, 128, 3]\nlayers:\n" + "".join(f"  - {layer}\n" for layer in HW3_LAYERS)
    error = refusal(text)
    assert isinstance(error, LayerRefusal)
    assert error.path == "layers[0]" and error.message.startswith("kernel 8 is larger")
    assert error.message.endswith(
        "\nhint: line 1: input [128, 128, 3] looks channels-last; input is [C, H, W] without the "
        "batch; did you mean [3, 128, 128]?"
    )
    error = refusal({"input": [1, 3, 128, 128], "layers": HW3_LAYERS})
    assert error.message.endswith(
        "hint: input [1, 3, 128, 128] starts with a batch dimension; input is [C, H, W] "
        "without the batch; did you mean [3, 128, 128]?"
    )
    # a 2-D kernel on the batched input: PyTorch's Conv2d refuses the 5-D batch, takes the 4-D
    with pytest.raises(RuntimeError):
        torch.nn.Conv2d(3, 8, (3, 3))(torch.zeros(1, 1, 3, 32, 32))
    error = refusal(
        {
            "input": [1, 3, 32, 32],
            "layers": [{"type": "conv", "out_channels": 8, "kernel_size": [3, 3]}],
        }
    )
    assert "did you mean [3, 32, 32]?" in error.message


def test_the_input_hint_only_where_the_reading_is_clear(run, write) -> None:
    # accepted as written: nothing said
    assert accepted({"input": [3, 128, 128], "layers": HW3_LAYERS})
    # refused further on, not at the first layer
    late = [
        {"type": "conv", "out_channels": 4, "kernel_size": 1},
        {"type": "conv", "out_channels": 4, "kernel_size": 9},
    ]
    assert "hint" not in refusal({"input": [32, 32, 3], "layers": late}).message
    # a first layer that does not read [C, *spatial]
    flat = [{"type": "linear", "in_features": 3, "out_features": 2}, {"type": "flatten"}]
    assert accepted({"input": [32, 32, 3], "layers": flat})
    bad = [{"type": "linear", "in_features": 32, "out_features": 2}]
    assert "hint" not in refusal({"input": [32, 32, 3], "layers": bad}).message
    # moving the channels would not help either
    assert (
        "hint"
        not in refusal(
            {
                "input": [128, 128, 3],
                "layers": [{"type": "conv", "out_channels": 2, "kernel_size": 200}],
            }
        ).message
    )
    # the CLI prints the hint instead of the nearby accepted sizes
    path = write("input: [128, 128, 3]\nlayers:\n" + "".join(f"  - {x}\n" for x in HW3_LAYERS))
    result = run("shape", path)
    assert result.exit_code == 2
    assert "did you mean [3, 128, 128]?" in result.output and "accepted nearby" not in result.output


def test_a_keras_spec_is_channels_last_by_design(run, write) -> None:
    """framework: keras reads [H, W, C]: its refusals get no channels-first hint."""
    text = (
        "framework: keras\ninput: [6, 6, 3]\nlayers:\n"
        "  - {type: Conv2D, filters: 4, kernel_size: 8}\n"
    )
    result = run("shape", write(text))
    assert result.exit_code == 2, result.output
    assert "did you mean" not in result.output


# --- 3. lint: a linear without its flatten --------------------------------------------------


def _codes(layers: list[dict[str, Any]], shape: list[int]) -> list[Any]:
    return [f for f in lint(analyse(load_spec({"input": shape, "layers": layers})))]


@pytest.mark.torch
def test_a_linear_on_a_pooled_map_without_flatten() -> None:
    """nn.Linear(1, 10) after AdaptiveAvgPool2d(1) on 16 channels gives 16×1×10 (PyTorch
    runs it); with a flatten first, Linear(16, 10) holds 170 parameters."""
    torch = pytest.importorskip("torch")
    pooled = torch.nn.AdaptiveAvgPool2d(1)(torch.zeros(1, 16, 8, 8))
    assert torch.nn.Linear(1, 10)(pooled).shape == (1, 16, 1, 10)
    assert sum(p.numel() for p in torch.nn.Linear(16, 10).parameters()) == 170
    layers = [
        {"type": "conv", "out_channels": 16, "kernel_size": 3, "padding": 1},
        {"type": "relu"},
        {"type": "adaptive_avgpool", "output_size": 1},
        {"type": "linear", "out_features": 10},
    ]
    (found,) = _codes(layers, [3, 8, 8])
    assert (found.code, found.path) == ("linear-without-flatten", "layers[3]")
    assert found.message.startswith("linear 1 → 10 on 16×1×1 after adaptive_avgpool")
    assert "(16×1×10)" in found.message and found.fix.endswith("linear 16 → 10, 170 parameters")
    flattened = [*layers[:3], {"type": "flatten"}, layers[3]]
    assert [f.code for f in _codes(flattened, [3, 8, 8])] == []


@pytest.mark.torch
def test_a_linear_on_every_row_of_a_map() -> None:
    """nn.Linear(16, 10) on a 16×16×16 map runs on each of its 16·16 rows: 16×16×10."""
    torch = pytest.importorskip("torch")
    assert torch.nn.Linear(16, 10)(torch.zeros(1, 16, 16, 16)).shape == (1, 16, 16, 10)
    layers = [
        {"type": "conv", "out_channels": 16, "kernel_size": 3, "padding": 1},
        {"type": "maxpool", "kernel_size": 2},
        {"type": "linear", "out_features": 10},
    ]
    (found,) = _codes(layers, [3, 32, 32])
    assert found.code == "linear-on-positions"
    assert "16×16 = 256 (C, H) rows" in found.message
    assert "4,096" in found.fix  # 16·16·16 values, flattened


def test_a_linear_on_a_token_sequence_is_the_design() -> None:
    sequence = [
        {"type": "linear", "out_features": 32},
        {"type": "gelu"},
        {"type": "linear", "out_features": 16},
    ]
    assert _codes(sequence, [10, 16]) == []
    for name in ("vit_b_16", "swin_t", "maxvit_t", "lenet5", "resnet18"):
        codes = {f.code for f in lint(analyse(load_spec(name)))}
        assert not codes & {"linear-without-flatten", "linear-on-positions"}, name


# --- 4. convcalc import on torchvision's own models --------------------------------------------


@pytest.mark.torch
def test_import_says_what_mobilenet_v2s_first_block_holds_and_points_to_the_zoo() -> None:
    """MobileNetV2's first InvertedResidual has no skip (use_res_connect false: 32 channels in,
    16 out): the refusal says so, and names the bundled spec of the model."""
    torch = pytest.importorskip("torch")
    from convcalc.frameworks.torch.importer import ImportRefusal, from_print

    with torch.device("meta"):
        model = import_torchvision().models.mobilenet_v2(weights=None)
    block = model.features[1]
    assert not block.use_res_connect
    convs = [m for m in block.modules() if isinstance(m, torch.nn.Conv2d)]
    assert (convs[0].in_channels, convs[-1].out_channels) == (32, 16)
    text = str(model)
    with pytest.raises(ImportRefusal) as caught:
        from_print(text, (3, 224, 224), assume_sequential=True)
    message = caught.value.message
    assert caught.value.line == 1 + text.split("\n").index("    (1): InvertedResidual(")
    assert message.startswith(
        "InvertedResidual is a custom module holding (conv): Sequential (2 Conv2d, 2 BatchNorm2d, "
        "1 ReLU6; 32 → 16 channels)"
    )
    assert "write it as a sequential block in the spec" in message
    assert "residual block" not in message
    assert message.endswith(
        "; this is the model of the bundled spec mobilenet_v2: `convcalc shape mobilenet_v2` "
        "analyses it, `convcalc zoo mobilenet_v2 > mine.yaml` gives its spec to edit"
    )
    with pytest.raises(ImportRefusal) as caught:  # the top level refused first, without the flag
        from_print(text, (3, 224, 224))
    assert caught.value.line == 1 and "convcalc shape mobilenet_v2" in caught.value.message


@pytest.mark.torch
@pytest.mark.parametrize("name", ["resnet34", "vgg11_bn", "vit_b_32", "efficientnet_b1"])
def test_import_names_the_bundled_spec_among_its_siblings(name: str) -> None:
    torch = pytest.importorskip("torch")
    from convcalc.frameworks.torch.importer import ImportRefusal, from_print

    with torch.device("meta"):
        model = getattr(import_torchvision().models, name)(weights=None)
    with pytest.raises(ImportRefusal) as caught:
        from_print(str(model), (3, 224, 224))  # a custom top-level class: refused at line 1
    assert f"this is the model of the bundled spec {name}:" in caught.value.message


@pytest.mark.full
@pytest.mark.torch
def test_import_of_a_model_not_in_the_zoo_points_nowhere() -> None:
    nn = pytest.importorskip("torch.nn")
    from convcalc.frameworks.torch.importer import ImportRefusal, from_print

    class ResNet(nn.Module):  # type: ignore[misc]  # a zoo class name, other layers
        def __init__(self) -> None:
            super().__init__()
            self.conv = nn.Conv2d(3, 8, 3)

    with pytest.raises(ImportRefusal) as caught:
        from_print(str(ResNet()), (3, 32, 32))
    assert "bundled" not in caught.value.message


# --- 5. --help ----------------------------------------------------------------------------------


def test_every_command_summary_is_whole(run) -> None:
    result = run("--help")
    commands = result.output.split("Commands:\n", 1)[1].rstrip().split("\n")
    assert len(commands) >= 14
    for line in commands:
        assert not line.rstrip().endswith("..."), line
        assert re.fullmatch(r"  [a-z]+ +\S.*\.", line), line


def test_shape_format_help_says_text_and_latex_need_explain(run) -> None:
    text = " ".join(run("shape", "--help").output.split())
    assert "text and latex only with --explain" in text


def test_check_help_shows_an_answers_file_that_checks(run, write) -> None:
    """The example in ``check --help`` is a valid answers file: marking it gives the homework's
    right values for the claims it gets right (PyTorch: 32×61×61 after the first conv)."""
    output = run("check", "--help").output
    lines = output.split("\n")
    start = next(i for i, line in enumerate(lines) if line.strip().startswith("student:"))
    end = next(i for i in range(start, len(lines)) if not lines[i].strip())
    example = "\n".join(line[4:] for line in lines[start:end]) + "\n"
    result = run("check", write(example, "bob.yaml"))
    assert result.exit_code in (0, 1), result.output  # marked, not refused
    assert "✓ 3.1a  layers[0] output_shape: 32×61×61" in result.output
