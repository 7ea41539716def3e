"""Multiply-adds against torchinfo 1.8.0 itself, on every zoo network, and by hand.

torchinfo runs the real model (on the meta device: shapes only) and counts with its own rules;
convcalc counts from its records alone. The totals must be equal to the last multiply-add.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

import convcalc
from convcalc.views.costs import compare
from convcalc.views.memory import memory
from tests.budget import spec_params


def test_by_hand(run) -> None:
    # hw3-q3: conv 3→32 8×8 to 61×61 has 6,176 parameters, each used at 61·61 positions;
    # the pool has none; conv 32→128 4×4 to 11×11 has 65,664, at 11·11 positions
    args = ("--format", "json", "--batch", "3", "--convention", "torchinfo")
    report = json.loads(run("shape", "hw3-q3", *args).stdout)
    assert [e["mult_adds"] for e in report["layers"]] == [
        3 * 6176 * 61 * 61,
        0,
        3 * 65664 * 11 * 11,
    ]
    assert report["total_mult_adds"] == 3 * (6176 * 61 * 61 + 65664 * 11 * 11)
    assert report["batch"] == 3
    assert report["convention"] == "torchinfo"
    # a linear layer counts its parameters once per sample, whatever else the shape holds
    spec = {"input": [5, 7], "layers": [{"type": "linear", "out_features": 4}]}
    linear = convcalc.analyse(convcalc.load_spec(spec))
    assert linear.total_mult_adds(2, "torchinfo") == 2 * (4 * 7 + 4)


def test_memory_by_hand(run) -> None:
    report = json.loads(
        run("shape", "hw3-q3", "--format", "json", "--batch", "2", "--dtype", "float16").stdout
    )
    # 2 samples × 3·128·128 values × 2 bytes; 71,840 parameters × 2 bytes; torchinfo keeps the
    # outputs of the two convs (32·61·61 and 128·11·11 values), twice (values and gradients)
    assert report["input_bytes"] == 2 * 3 * 128 * 128 * 2
    assert report["params_bytes"] == 71840 * 2
    assert report["forward_backward_bytes"] == 2 * (32 * 61 * 61 + 128 * 11 * 11) * 2 * 2
    # inference peak: the first conv's input and output alive together
    assert report["peak_activation_bytes"] == (3 * 128 * 128 + 32 * 61 * 61) * 2 * 2
    assert report["dtype"] == "float16"


def test_peak_keeps_a_residual_input_until_the_merge() -> None:
    spec = {
        "input": [4, 10],
        "layers": [
            {
                "type": "residual",
                "body": [
                    {"type": "conv", "out_channels": 8, "kernel_size": 1},
                    {"type": "conv", "out_channels": 4, "kernel_size": 1},
                ],
            }
        ],
    }
    report = convcalc.analyse(convcalc.load_spec(spec))
    # the second conv runs while x (40 values) is held for the shortcut: 40 + 80 in + 40 out
    assert memory(report).peak_activation_bytes == (40 + 80 + 40) * 4


def test_peak_holds_a_concats_finished_branches() -> None:
    # input 1×10 (10 values); branches conv 1→2 and conv 1→3 (k 1): 20 and 30 values
    branch = {"type": "conv", "kernel_size": 1}
    spec = {
        "input": [1, 10],
        "layers": [
            {
                "type": "concat",
                "branches": [[{**branch, "out_channels": 2}], [{**branch, "out_channels": 3}]],
            }
        ],
    }
    report = convcalc.analyse(convcalc.load_spec(spec))
    # the second branch runs holding x (10) and the first branch's output (20): 10 + 20 + its
    # input 10 + its output 30 = 70; at the join both outputs (20 + 30) and the joined 50: 100
    assert memory(report).peak_activation_bytes == (20 + 30 + 50) * 4
    spec["layers"][0]["branches"].append([{**branch, "out_channels": 40}])
    report = convcalc.analyse(convcalc.load_spec(spec))
    # the third branch runs holding x and both earlier outputs: 10 + 20 + 30 + 10 in + 400 out
    # = 470; the join holds the three outputs and the joined 450: 900, the peak
    assert memory(report).peak_activation_bytes == (20 + 30 + 400 + 450) * 4


def test_peak_inside_nested_blocks_holds_every_enclosing_blocks_values() -> None:
    # a concat whose second branch is a residual with a wide body: while the body's conv runs,
    # alive are x (10, for the concat), the first branch's output (20), the residual's input
    # (10, for its shortcut), the conv's input (10) and output (10 · 50 = 500)
    spec = {
        "input": [1, 10],
        "layers": [
            {
                "type": "concat",
                "branches": [
                    [{"type": "conv", "out_channels": 2, "kernel_size": 1}],
                    [
                        {
                            "type": "residual",
                            "body": [
                                {"type": "conv", "out_channels": 50, "kernel_size": 1},
                                {"type": "conv", "out_channels": 1, "kernel_size": 1},
                            ],
                        }
                    ],
                ],
            }
        ],
    }
    report = convcalc.analyse(convcalc.load_spec(spec))
    first_conv = 10 + 20 + 10 + 10 + 500
    second_conv = 10 + 20 + 10 + 500 + 10
    join = 20 + 10 + 30
    assert memory(report).peak_activation_bytes == max(first_conv, second_conv, join) * 4


def test_blocks_count_their_leaves(run) -> None:
    args = ("--format", "json", "--convention", "torchinfo")
    report = json.loads(run("shape", "resnet18", *args).stdout)
    layer1 = next(e for e in report["layers"] if e.get("name") == "layer1")
    # two basic blocks: four 3×3 convs 64→64 without bias at 56×56 (36,864 weights × 3,136
    # positions each) and four batchnorms (128 parameters each, once per sample)
    assert layer1["mult_adds"] == 4 * 36864 * 56 * 56 + 4 * 128


# published by torchinfo's own tests and documentation for 3×224×224
PUBLISHED = {"resnet50": 4_089_238_376, "vgg16": 15_483_821_032, "alexnet": 714_682_664}


@pytest.mark.torch
@pytest.mark.parametrize(
    "name",
    spec_params(
        [
            *("resnet18", "resnet50", "mobilenet_v2", "googlenet", "densenet121"),
            *("squeezenet1_0", "efficientnet_b0", "inception_v3", "alexnet", "vgg16", "unet"),
        ],
        quick={"resnet18", "squeezenet1_0", "alexnet", "vgg16", "unet"},
    ),
)
def test_total_mult_adds_equal_torchinfo(name: str) -> None:
    torch = pytest.importorskip("torch")
    torchinfo = pytest.importorskip("torchinfo")
    from tests.torchvision_oracle import TORCHVISION_MODELS, import_torchvision

    report = convcalc.analyse(convcalc.load_spec(name))
    if name == "unet":
        from tests.unet_reference import build_unet

        with torch.device("meta"):
            model = build_unet()
    else:
        constructor, kwargs, _ = TORCHVISION_MODELS.get(name, (name, {}, ()))
        with torch.device("meta"):
            model = getattr(import_torchvision().models, constructor)(weights=None, **kwargs)
    x = torch.zeros(1, *report.input_shape, device="meta")
    stats = torchinfo.summary(model, input_data=x, device="meta", verbose=0)
    assert report.total_mult_adds(convention="torchinfo") == stats.total_mult_adds
    if name in PUBLISHED:
        assert report.total_mult_adds(convention="torchinfo") == PUBLISHED[name]
    # torchinfo's memory figures, float32: parameters, and its forward/backward estimate
    bytes_ = memory(report)
    assert bytes_.params_bytes == stats.total_param_bytes
    assert bytes_.forward_backward_bytes == stats.total_output_bytes


def _torch_model_on_meta(torch: Any, name: str) -> Any:
    """The PyTorch model of a bundled spec, built on the meta device: hw3-q3 written here as
    the homework writes it, the torchvision models by their constructors, the U-Net by the
    reference implementation."""
    nn = torch.nn
    with torch.device("meta"):
        if name == "hw3-q3":
            return nn.Sequential(
                nn.Conv2d(3, 32, 8, stride=2), nn.MaxPool2d(5, 5), nn.Conv2d(32, 128, 4, padding=1)
            )
        if name == "unet":
            from tests.unet_reference import build_unet

            return build_unet()
    from tests.torchvision_oracle import build_torchvision

    return build_torchvision(name)[0]


@pytest.mark.torch
@pytest.mark.parametrize("name", ["hw3-q3", "resnet18", "inception_v3", "unet"])
def test_the_worked_mult_adds_are_the_counted_ones(name: str) -> None:
    """torchinfo's rule written as an expression (the quiz's working) evaluates, leaf by leaf
    and at batch 1 and 3, to torchinfo's own count for that layer (``LayerInfo.macs`` of each
    leaf module torchinfo ran, in the order it ran them); a leaf the model calls as a function
    (``functional: true``: no module, so nothing torchinfo counts) works out to 0."""
    torch = pytest.importorskip("torch")
    torchinfo_package = pytest.importorskip("torchinfo")
    from convcalc.views.conventions import torchinfo
    from tests.torchvision_oracle import kind_of

    report = convcalc.analyse(convcalc.load_spec(name))
    leaves = [e for e in report.walk() if not e.is_block]
    modules = [e for e in leaves if not e.layer.functional]
    model = _torch_model_on_meta(torch, name)
    for batch in (1, 3):
        x = torch.zeros(batch, *report.input_shape, device="meta")
        stats = torchinfo_package.summary(model, input_data=x, device="meta", verbose=0)
        counted = [layer for layer in stats.summary_list if layer.is_leaf_layer]
        assert len(counted) == len(modules), (len(counted), len(modules))
        for entry, layer in zip(modules, counted, strict=True):
            where = f"{name} {entry.path} / torchinfo {layer.class_name} (batch {batch})"
            assert kind_of(layer.module) == entry.type, where
            assert tuple(layer.output_size) == (batch, *entry.output_shape), where
            worked = torchinfo.mult_adds_derived(entry, batch).evaluate()
            assert worked == layer.macs, where
            assert torchinfo.mult_adds(entry, batch) == layer.macs, where
        for entry in leaves:
            if entry.layer.functional:
                assert torchinfo.mult_adds_derived(entry, batch).evaluate() == 0, entry.path


def test_convention_flag_and_costs_command(run) -> None:
    # thop: output elements × in_channels / groups × kernel, no bias: conv 3→32 8×8 to 61×61,
    # then conv 32→128 4×4 to 11×11; the max pool counts 0
    thop = 32 * 61 * 61 * 3 * 64 + 128 * 11 * 11 * 32 * 16
    shown = json.loads(run("shape", "hw3-q3", "--format", "json", "--convention", "thop").stdout)
    assert shown["total_mult_adds"] == thop
    assert shown["convention"] == "thop"
    compared = json.loads(run("costs", "hw3-q3", "--format", "json").stdout)
    assert compared["totals"]["thop"] == thop
    assert compared["totals"]["torchinfo"] == 6176 * 61 * 61 + 65664 * 11 * 11
    assert compared["by_type"]["conv"]["thop"] == thop
    table = run("costs", "hw3-q3").stdout
    assert "FLOPs = 2 × multiply-adds" in table
    assert f"{thop:,}" in table
    assert run("costs", "nope").exit_code == 2


def test_notes_are_those_of_the_layer_types_shown() -> None:
    """A note about a layer type comes with a table that has it: ViT-B/16 has no batch norm or
    upsampling, ResNet-18 no attention; general notes come with every table."""
    vit = compare(convcalc.analyse(convcalc.load_spec("vit_b_16")))
    resnet = compare(convcalc.analyse(convcalc.load_spec("resnet18")))
    vit_notes = [note for notes in vit.notes.values() for note in notes]
    resnet_notes = [note for notes in resnet.notes.values() for note in notes]
    assert not [n for n in vit_notes if n.split(":")[0] in ("batchnorm", "upsample", "prelu")]
    assert [n for n in resnet_notes if n.startswith("batchnorm")]
    assert [n for n in vit_notes if "multihead_attention" in n.split(":")[0]]
    assert not [n for n in resnet_notes if "multihead_attention" in n.split(":")[0]]
    assert [n for n in resnet_notes if n.startswith("block merges")]  # a general note
