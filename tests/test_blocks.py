"""Composite blocks through the CLI and the library: the report tree, merges and their errors.

Expected shapes and counts are worked out by hand in each test from the size rules (a padded
3×3 conv keeps the size; a 1×1 conv with stride 2 halves 56 to 28; weights are out·in·k·k).
"""

from __future__ import annotations

import json

import pytest

import convcalc

BLOCK = """\
input: [64, 56, 56]
layers:
  - type: residual
    name: block
    body:
      - {type: conv, out_channels: 64, kernel_size: 3, padding: 1, bias: false}
      - {type: batchnorm}
      - {type: relu}
  - type: concat
    branches:
      - []
      - [{type: conv, out_channels: 32, kernel_size: 1}]
  - type: scale
    body:
      - {type: adaptive_avgpool, output_size: 1}
      - {type: conv, out_channels: 96, kernel_size: 1}
      - {type: sigmoid}
  - {type: repeat, times: 2, layers: [{type: conv, out_channels: 16, kernel_size: 3, stride: 2}]}
"""


def test_report_tree_shapes_and_params(run, write) -> None:
    report = json.loads(run("shape", write(BLOCK), "--format", "json").stdout)
    residual, concat, scale, repeat = report["layers"]
    assert residual["output_shape"] == [64, 56, 56]
    assert residual["params"] == 64 * 64 * 9 + 2 * 64
    assert [e["path"] for e in residual["body"]] == [f"layers[0].body[{i}]" for i in range(3)]
    assert residual["shortcut"] == []
    # the identity branch passes 64 channels, the 1×1 conv adds 32
    assert concat["output_shape"] == [96, 56, 56]
    assert concat["branches"][0] == []
    assert concat["branches"][1][0]["path"] == "layers[1].branches[1][0]"
    assert scale["output_shape"] == [96, 56, 56]
    assert scale["body"][1]["output_shape"] == [96, 1, 1]
    # repeat unrolled: 56 → 27 → 13 with 3×3 stride 2, 96 → 16 → 16 channels
    assert [e["output_shape"] for e in repeat["layers"]] == [[16, 27, 27], [16, 13, 13]]
    assert repeat["params"] == (16 * 96 * 9 + 16) + (16 * 16 * 9 + 16)
    assert report["total_params"] == 64 * 64 * 9 + 2 * 64 + 64 * 32 + 32 + 96 * 96 + 96 + (
        16 * 96 * 9 + 16
    ) + (16 * 16 * 9 + 16)


def test_table_indents_children_and_depth_collapses(run, write) -> None:
    path = write(BLOCK)
    full = run("shape", path).stdout
    assert "   └─body: conv 3×3 p1" in full
    assert "   └─shortcut: identity" in full
    assert "   └─branches[0]: identity" in full
    top = run("shape", path, "--depth", "1").stdout
    assert "└─" not in top
    assert [line.split()[0] for line in top.splitlines()[4:8]] == ["0", "1", "2", "3"]
    assert top.splitlines()[-4:] == full.splitlines()[-4:]  # the same totals


@pytest.mark.every_case
@pytest.mark.parametrize(
    ("block", "message"),
    [
        (
            "{type: residual, body: [{type: conv, out_channels: 128, kernel_size: 3, stride: 2,"
            " padding: 1}]}",
            "layers[0] (residual): body gives 128×28×28 but shortcut gives 64×56×56: to be "
            "added, each dimension must be equal or 1 in one of them — a 1×1 conv with "
            "out_channels 128 (stride 2) in the shortcut would match",
        ),
        (
            "{type: concat, branches: [[], [{type: maxpool, kernel_size: 2}]]}",
            "layers[0] (concat): branches[0] gives 64×56×56 but branches[1] gives 64×28×28: "
            "branches are joined along channels, so every other dimension must be equal",
        ),
        (
            "{type: scale, body: [{type: adaptive_avgpool, output_size: 2}]}",
            "layers[0] (scale): body gives 64×2×2, which does not broadcast to the input "
            "64×56×56: each dimension must equal the input's or be 1",
        ),
        (
            "{type: concat, branches: []}",
            "layers[0] (concat), field branches: must not be empty",
        ),
    ],
)
def test_merge_errors_name_both_paths_and_shapes(run, write, block: str, message: str) -> None:
    path = write(f"input: [64, 56, 56]\nlayers:\n  - {block}\n")
    result = run("shape", path)
    assert result.exit_code == 2
    assert result.stderr == f"Error: {path}:3: {message}\n"


def test_errors_inside_blocks_name_the_nested_path_and_line(run, write) -> None:
    text = (
        "input: [3, 8, 8]\nlayers:\n  - type: residual\n    body:\n"
        "      - {type: conv, out_channels: 3, kernel_size: 9}\n"
    )
    result = run("shape", write(text))
    assert result.exit_code == 2
    assert "net.yaml:5: layers[0].body[0] (conv), field kernel_size: kernel 9 is larger" in (
        result.stderr
    )
    typo = text.replace("kernel_size: 9", "kernal_size: 3")
    result = run("shape", write(typo))
    assert "net.yaml:5: layers[0].body[0] (conv), field kernal_size: unknown field" in (
        result.stderr
    )


def test_a_refusal_inside_a_repeat_names_the_repetition(run, write) -> None:
    text = (
        "input: [1, 10, 10]\nlayers:\n"
        "  - {type: repeat, times: 4, layers: [{type: conv, out_channels: 1, kernel_size: 4}]}\n"
    )
    result = run("shape", write(text))
    # 10 → 7 → 4 → 1, then a 4×4 kernel no longer fits
    assert result.exit_code == 2
    assert "layers[0].layers[3] (conv), field kernel_size: kernel 4 is larger than the " in (
        result.stderr
    )
    assert "(dimension 1) (repetition 4 of 4)" in result.stderr


@pytest.mark.full
def test_deep_nesting_and_long_chains_need_no_recursion() -> None:
    depth = 500
    spec: dict = {"input": [2, 4, 4], "layers": [{"type": "relu"}]}
    for _ in range(depth):
        spec = {"input": [2, 4, 4], "layers": [{"type": "residual", "body": spec["layers"]}]}
    report = convcalc.analyse(convcalc.load_spec(spec))
    assert report.output_shape == (2, 4, 4)
    assert len(list(report.walk())) == depth + 1
    from convcalc.render.text import table, to_json

    text = to_json(report.to_dict())
    assert text.count('"body"') == depth
    assert table(report).count("\n") > depth


@pytest.mark.full
def test_nested_yaml_500_blocks_deep(run, write) -> None:
    text = "input: [2, 4, 4]\nlayers:\n"
    indent = "  "
    for _ in range(500):
        text += f"{indent}- type: sequential\n{indent}  layers:\n"
        indent += "    "
    text += f"{indent}- {{type: conv, out_channels: 3, kernel_size: 1}}\n"
    result = run("shape", write(text), "--depth", "1")
    assert result.exit_code == 0, result.stderr
    assert "Total params: 9\n" in result.stdout  # a 1×1 conv from 2 to 3 channels


def test_yaml_anchors_reuse_blocks(run, write) -> None:
    text = (
        "input: [4, 8, 8]\nlayers:\n"
        "  - &res {type: residual, body: [{type: conv, out_channels: 4, kernel_size: 3,"
        " padding: 1}]}\n  - *res\n  - {<<: *res, name: third}\n"
    )
    report = json.loads(run("shape", write(text), "--format", "json").stdout)
    assert [e.get("name") for e in report["layers"]] == [None, None, "third"]
    assert report["total_params"] == 3 * (4 * 4 * 9 + 4)


def test_library_api() -> None:
    spec = convcalc.load_spec(
        "input: [3, 32, 32]\nlayers:\n  - {type: conv, out_channels: 8, kernel_size: 3}\n"
    )
    report = convcalc.analyse(spec)
    assert report.output_shape == (8, 30, 30)
    assert report.to_dict()["layers"][0]["tensors"] == {"weight": [8, 3, 3, 3], "bias": [8]}
    assert "| 0 | `conv 3×3` | 8×30×30 | 224 |" in report._repr_markdown_()
    assert convcalc.load_spec("hw3-q3").name == "hw3-q3"
    assert convcalc.solve_layer("conv", 64, 4).count() == 171  # the README's and the seed's set
    first = next(iter(convcalc.solve_stack("five-stages", (7,)).solutions))
    assert first[1] == (512, 7, 7)
