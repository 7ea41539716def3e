"""Every number of the seed's Question 3.1, through the library and the CLI.

Expected values are the course solution's own (the homework the project grew from), not convcalc's.
"""

from __future__ import annotations

import json

from convcalc.analysis import summarise

# Question 3.1 (a): 3×128×128 → 32×61×61 → 32×12×12 → 128×11×11 = 15488 values
SEED_SHAPES = [[32, 61, 61], [32, 12, 12], [128, 11, 11]]
SEED_OUTPUT_SIZE = 15488
# Question 3.1 (b): the last layer has 128 × 4 × 4 × 32 = 65536 weights (+128 biases)
SEED_LAST_WEIGHTS = 128 * 4 * 4 * 32
SEED_LAST_WITH_BIAS = SEED_LAST_WEIGHTS + 128


def test_seed_network_through_the_library() -> None:
    summary = summarise("hw3-q3")
    assert [list(layer.output_shape) for layer in summary.layers] == SEED_SHAPES
    assert summary.output_size == SEED_OUTPUT_SIZE
    last = summary.layers[-1]
    assert last.tensors["weight"] == (128, 32, 4, 4)
    assert last.params - 128 == SEED_LAST_WEIGHTS == 65536
    assert last.params == SEED_LAST_WITH_BIAS == 65664


def test_seed_network_through_the_cli(run) -> None:
    result = run("shape", "hw3-q3", "--format", "json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["input_shape"] == [3, 128, 128]
    assert [layer["output_shape"] for layer in report["layers"]] == SEED_SHAPES
    assert report["output_shape"] == SEED_SHAPES[-1]
    assert report["output_size"] == SEED_OUTPUT_SIZE
    assert report["layers"][2]["params"] == SEED_LAST_WITH_BIAS
    assert report["layers"][2]["tensors"] == {"weight": [128, 32, 4, 4], "bias": [128]}


def test_seed_without_bias_counts_only_the_weights(run, write) -> None:
    path = write(
        "input: [32, 12, 12]\n"
        "layers:\n  - {type: conv, out_channels: 128, kernel_size: 4, padding: 1, bias: false}\n"
    )
    report = json.loads(run("shape", path, "--format", "json").stdout)
    assert report["total_params"] == SEED_LAST_WEIGHTS
    assert report["output_shape"] == [128, 11, 11]


def test_seed_alternative_answer_with_padding_two_in_the_pool(run, write) -> None:
    # "we accept ... adding a padding = 2 in the max-pooling layer, to turn the fraction into
    # an integer": (61 + 2·2 − 5) / 5 + 1 = 13 exactly.
    path = write(
        "input: [32, 61, 61]\nlayers:\n  - {type: maxpool, kernel_size: 5, stride: 5, padding: 2}\n"
    )
    report = json.loads(run("shape", path, "--format", "json").stdout)
    side = (61 + 2 * 2 - 5) // 5 + 1
    assert report["output_shape"] == [32, side, side]


def test_seed_mlp_parameter_count() -> None:
    # Question 2.E: n_θ = d_h·d + d_h + d_o·d_h + d_o, with the bundled d=784, d_h=256, d_o=10
    d, d_h, d_o = 784, 256, 10
    summary = summarise("hw3-mlp")
    assert summary.total_params == d_h * d + d_h + d_o * d_h + d_o
    assert summary.output_shape == (d_o,)
    assert [layer.type for layer in summary.layers] == ["linear", "elu", "linear", "softmax"]


def test_lenet5_matches_the_published_total() -> None:
    # LeNet-5 as usually written for 32×32 inputs: 61,706 parameters (widely published figure)
    assert summarise("lenet5").total_params == 61706


def test_torchvision_published_totals() -> None:
    # torchvision's model documentation: vgg16 138,357,544 and alexnet 61,100,840 parameters
    assert summarise("vgg16").total_params == 138_357_544
    assert summarise("alexnet").total_params == 61_100_840
    assert summarise("vgg16").layers[30].output_shape == (512, 7, 7)  # 224 / 2⁵
