"""``convcalc shape``, ``zoo``, ``schema``: formats, several specs, stdin, golden tables."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from convcalc.cli import cli
from tests.budget import FULL

GOLDEN = Path(__file__).parent / "golden"
BUNDLED = ["hw3-q3", "lenet5", "hw3-mlp"]


@pytest.mark.parametrize("name", BUNDLED)
@pytest.mark.parametrize("fmt", ["table", "markdown"])
def test_golden_tables(run, update_golden: bool, name: str, fmt: str) -> None:
    result = run("shape", name, "--format", fmt)
    assert result.exit_code == 0
    golden = GOLDEN / f"{name}.{'md' if fmt == 'markdown' else 'txt'}"
    if update_golden:
        golden.write_text(result.stdout, encoding="utf-8")
    assert result.stdout == golden.read_text(encoding="utf-8")


def test_table_rows_for_the_seed(run) -> None:
    lines = run("shape", "hw3-q3", "--convention", "torchinfo").stdout.splitlines()
    assert lines[0] == "hw3-q3: input 3×128×128"
    # the seed's shapes and parameters, then each layer's multiply-adds as the seed counts them,
    # torchinfo's way: parameters (bias included) × positions
    assert lines[4].split() == ["0", "conv", "8×8", "/2", "32×61×61", "6,176", "22,980,896"]
    assert lines[5].split() == ["1", "maxpool", "5×5", "/5", "32×12×12", "0", "0"]
    assert lines[6].split() == ["2", "conv", "4×4", "p1", "128×11×11", "65,664", "7,945,344"]
    assert "Total params: 71,840" in lines
    assert "Output size: 15,488 (128×11×11)" in lines


def test_json_report_has_the_contract_keys(run) -> None:
    report = json.loads(run("shape", "hw3-q3", "--format", "json").stdout)
    for key in (
        "name",
        "input_shape",
        "output_shape",
        "output_size",
        "total_params",
        "trainable_params",
        "layers",
    ):
        assert key in report
    first = report["layers"][0]
    assert first == first | {
        "index": 0,
        "type": "conv",
        "path": "layers[0]",
        "input_shape": [3, 128, 128],
        "output_shape": [32, 61, 61],
        "params": 32 * 3 * 8 * 8 + 32,
        "tensors": {"weight": [32, 3, 8, 8], "bias": [32]},
    }


def test_several_specs_give_an_array_in_order(run) -> None:
    result = run("shape", "lenet5", "hw3-q3", "--format", "json")
    assert result.exit_code == 0
    assert [r["name"] for r in json.loads(result.stdout)] == ["lenet5", "hw3-q3"]


def test_a_failing_spec_among_several(run, write) -> None:
    bad = write("input: [3, 8, 8]\nlayers:\n  - {type: conv, out_channels: 4, kernel_size: 9}\n")
    result = run("shape", "hw3-q3", bad, "lenet5", "--format", "json")
    assert result.exit_code == 2
    reports = json.loads(result.stdout)
    assert reports[0]["name"] == "hw3-q3" and reports[2]["name"] == "lenet5"
    assert reports[1]["spec"] == bad
    assert "kernel 9 is larger than the padded input 8" in reports[1]["error"]
    assert result.stderr.startswith(f"Error: {bad}:3: layers[0] (conv)")


def test_a_failing_spec_in_table_mode_still_prints_the_others(run, write) -> None:
    bad = write("input: [3, 8, 8]\nlayers: 5\n")
    result = run("shape", bad, "hw3-q3")
    assert result.exit_code == 2
    assert "Total params: 71,840" in result.stdout
    assert bad in result.stderr


def test_stdin(run) -> None:
    text = "name: piped\ninput: [1, 28, 28]\nlayers:\n"
    text += "  - {type: conv, out_channels: 4, kernel_size: 3}\n"
    result = run("shape", "-", "--format", "json", input=text)
    assert result.exit_code == 0
    report = json.loads(result.stdout)
    assert report["name"] == "piped" and report["output_shape"] == [4, 26, 26]


def test_stdin_errors_name_stdin(run) -> None:
    text = "input: [3, 8]\nlayers:\n  - {type: conv, out_channels: 2, kernel_size: 9}\n"
    result = run("shape", "-", input=text)
    assert result.exit_code == 2
    assert result.stderr == (
        "Error: <stdin>:3: layers[0] (conv), field kernel_size: "
        "kernel 9 is larger than the padded input 8\n"
        "accepted nearby: L = 9 (L ≥ 9)\n"  # PyTorch's rule: a kernel of 9 needs 9 positions
    )


def test_name_defaults_to_the_file_stem(run, write) -> None:
    path = write("input: [4]\nlayers: []\n", name="tiny-net.yaml")
    report = json.loads(run("shape", path, "--format", "json").stdout)
    assert report["name"] == "tiny-net"
    assert report["output_shape"] == [4] and report["output_size"] == 4


def test_a_file_wins_over_a_bundled_name(run, tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    Path("hw3-q3").write_text("name: mine\ninput: [2]\nlayers: []\n", encoding="utf-8")
    assert json.loads(run("shape", "hw3-q3", "--format", "json").stdout)["name"] == "mine"


def test_anchors_and_merge_keys_reuse_blocks(run, write) -> None:
    text = (
        "block: &block {type: conv, out_channels: 8, kernel_size: 3, padding: 1}\n"
        "input: [3, 16, 16]\n"
        "layers:\n  - *block\n  - {<<: *block, stride: 2}\n"
    )
    result = run("shape", write(text))
    # 'block' is not a spec field: anchors must live where the schema allows them
    assert result.exit_code == 2 and "field block" in result.stderr
    text = (
        "input: [3, 16, 16]\n"
        "layers:\n  - &block {type: conv, out_channels: 8, kernel_size: 3, padding: 1}\n"
        "  - *block\n  - {<<: *block, stride: 2}\n"
    )
    report = json.loads(run("shape", write(text), "--format", "json").stdout)
    assert [r["output_shape"] for r in report["layers"]] == [[8, 16, 16], [8, 16, 16], [8, 8, 8]]


def test_zoo_lists_every_bundled_spec(run) -> None:
    result = run("zoo")
    assert result.exit_code == 0
    names = [line.split()[0] for line in result.stdout.splitlines()]
    files = (Path(__file__).parent.parent / "specs").glob("*.yaml")
    assert sorted(names) == sorted(path.stem for path in files)


def test_zoo_lines_are_aligned_first_sentences(run) -> None:
    """The names in a column as wide as the longest (deeplabv3_mobilenet_v3_large, 28) and two
    spaces; then the first sentence of the spec's first comment paragraph, joined across its
    lines and cut after "parameters." (not at "et al." nor mid-line)."""
    lines = {line.split()[0]: line for line in run("zoo").stdout.splitlines()}
    assert {line.index(line.split()[1]) for line in lines.values()} == {28 + 2}
    assert lines["densenet161"] == (
        "densenet161                   DenseNet-161 (torchvision.models.densenet161, Huang et al."
        " 2017), 3×224×224: 28,681,000 parameters."
    )
    assert lines["googlenet"].endswith(
        "without the auxiliary classifiers, 3×224×224: 6,624,904 parameters."
    )
    assert lines["vit_b_16"].endswith(
        "ViT-B/16 (torchvision.models.vit_b_16, Dosovitskiy et al. 2021), 3×224×224."
    )


def test_shape_on_a_spec_with_unknowns_points_to_solve(run) -> None:
    result = run("shape", "five-stages")
    assert result.exit_code == 2
    assert "layers[0] (conv), field stride" in result.stderr
    assert "convcalc solve" in result.stderr


def test_schema_is_json_schema_for_the_spec(run) -> None:
    schema = json.loads(run("schema").stdout)
    assert set(schema["required"]) == {"input", "layers"}
    layers = json.dumps(schema["$defs"])
    for name in ("conv", "conv_transpose", "maxpool", "adaptive_avgpool", "batchnorm", "gelu"):
        assert f'"{name}"' in layers


@pytest.mark.full  # ~9 s: every bundled spec, each layer checked against its own type only
def test_every_bundled_spec_is_valid_under_the_schema(run) -> None:
    jsonschema = pytest.importorskip("jsonschema")
    import yaml

    schema = json.loads(run("schema").stdout)
    validator = jsonschema.Draft202012Validator(schema)
    keras_schema = json.loads(run("schema", "--framework", "keras").stdout)
    keras = jsonschema.Draft202012Validator(keras_schema)
    folder = Path(__file__).parent.parent / "specs"
    quick = ["five-stages.yaml", "hw3-q3-keras.yaml"]
    names = sorted(folder.glob("*.yaml")) if FULL else [folder / name for name in quick]
    for path in names:  # five-stages writes unknowns: "1..4", "0,1"; the full run, every spec
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        if data.get("framework") == "keras":  # Keras specs: the Keras schema, not PyTorch's
            assert list(keras.iter_errors(data)) == [], path.name
            assert not validator.is_valid(data), path.name  # its first error only: quick
            continue
        errors = list(validator.iter_errors(data))
        assert errors == [], path.name
        assert not keras.is_valid(data), path.name
    bad = {"input": [3, 8, 8], "layers": [{"type": "conv", "out_channels": 4, "kernel_size": 2.5}]}
    assert list(validator.iter_errors(bad)) != []
    nested = {"input": [3, 8, 8], "layers": [{"type": "residual", "body": [{"type": "nope"}]}]}
    assert list(validator.iter_errors(nested)) != []


@pytest.mark.full  # ~1.7 s: the Keras schema built and every case validated
def test_the_keras_schema_refuses_what_the_reader_refuses(run) -> None:
    """A Keras spec the dialect refuses for its classes or arguments fails the Keras schema
    too (an unknown class, a PyTorch name, a bad value, deep in a block); unknowns pass."""
    jsonschema = pytest.importorskip("jsonschema")
    from convcalc.errors import SpecError
    from convcalc.spec.validate import load_spec

    schema = json.loads(run("schema", "--framework", "keras").stdout)
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(schema)
    conv = {"type": "Conv2D", "filters": 4, "kernel_size": 3}

    def spec(*layers: dict) -> dict:
        return {"framework": "keras", "input": [8, 8, 3], "layers": list(layers)}

    good = [
        spec(conv, {"type": "repeat", "times": 2, "layers": [{"type": "ReLU"}]}),
        spec({"type": "Add", "body": [{**conv, "padding": "same", "filters": 3}]}),
        spec({"type": "Concatenate", "branches": [[], [conv | {"padding": "same"}]]}),
        spec({**conv, "strides": "?"}),  # an unknown, as convcalc solve reads it
    ]
    for data in good:
        assert list(validator.iter_errors(data)) == [], data
    bad = [
        spec({"type": "Conv2d", "filters": 4, "kernel_size": 3}),  # no such class
        spec({"type": "conv", "out_channels": 4, "kernel_size": 3}),  # PyTorch's type
        spec({**conv, "stride": 2}),  # PyTorch's name
        spec({**conv, "padding": "full"}),
        spec({**conv, "filters": 0}),
        spec({"type": "Dense"}),  # units missing
        spec({"type": "Sequential", "layers": [{"type": "Add", "body": [{"type": "Relu"}]}]}),
        {"framework": "keras", "input": [8, 8, 3], "layers": [], "extra": 1},
    ]
    for data in bad:
        assert list(validator.iter_errors(data)) != [], data
        if data["layers"]:
            with pytest.raises(SpecError):
                load_spec(data)


def test_version(run) -> None:
    from convcalc import __version__

    result = run("--version")
    assert result.exit_code == 0 and __version__ in result.stdout


def test_every_command_has_help(run) -> None:
    for name, command in cli.commands.items():
        assert command.help, name
        result = run(name, "--help")
        assert result.exit_code == 0 and "Usage:" in result.stdout


def test_unknown_format_is_a_usage_error(run) -> None:
    result = run("shape", "hw3-q3", "--format", "xml")
    assert result.exit_code == 2 and "xml" in result.stderr


@pytest.mark.full
def test_twenty_thousand_layers_need_no_recursion(write) -> None:
    from convcalc.analysis import summarise

    kinds = ["{type: conv, out_channels: 4, kernel_size: 3, padding: 1}", "{type: relu}"]
    body = "".join(f"  - {kinds[i % 2]}\n" for i in range(20_000))
    summary = summarise(write("input: [4, 9, 9]\nlayers:\n" + body))
    assert len(summary.layers) == 20_000
    assert summary.output_shape == (4, 9, 9)  # padding 1 keeps 9: (9 + 2 − 3) // 1 + 1
    assert summary.total_params == 10_000 * (4 * 4 * 3 * 3 + 4)


def test_arguments_copied_from_pytorch_code_are_accepted(run, write) -> None:
    text = (
        "input: [3, 16, 16]\nlayers:\n"
        "  - {type: conv, out_channels: 8, kernel_size: 3, padding_mode: reflect, device: cpu,"
        " dtype: float32}\n"
        "  - {type: batchnorm, eps: 0.001, momentum: null, affine: true}\n"
        "  - {type: relu, inplace: true}\n"
        "  - {type: maxpool, kernel_size: 2, return_indices: false, stride: null}\n"
        "  - {type: avgpool, kernel_size: 2, count_include_pad: false, divisor_override: 3}\n"
        "  - {type: flatten}\n  - {type: dropout, p: 0.2, inplace: false}\n"
        "  - {type: linear, out_features: 4, device: cpu}\n  - {type: softmax, dim: 1}\n"
    )
    report = json.loads(run("shape", write(text), "--format", "json").stdout)
    # conv 3→8 (3×3) gives 8×14×14, the pools 8×7×7 then 8×3×3; batchnorm 2·8; linear 72 → 4
    assert report["total_params"] == (8 * 3 * 9 + 8) + 2 * 8 + (8 * 3 * 3 * 4 + 4)
    assert report["output_shape"] == [4]
    bad = run("shape", write(text.replace("padding_mode: reflect", "padding_mode: mirror")))
    assert bad.exit_code == 2
    assert "field padding_mode" in bad.stderr
