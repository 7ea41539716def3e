"""Every class of bad input: exit 2, a located message on stderr, no traceback."""

from __future__ import annotations

import time

import pytest

LAYER = "input: [3, 32, 32]\nlayers:\n"

CASES = {
    # name: (file text, fragments the message must hold)
    "empty": ("", ["net.yaml", "empty"]),
    "yaml syntax": (
        LAYER + "  - {type: conv, out_channels: 8, kernel_size: [3, 3}\n",
        ["net.yaml:3", "YAML syntax"],
    ),
    "top level a list": ("- 1\n- 2\n", ["net.yaml:1", "top level must be a mapping"]),
    "missing input": ("layers: []\n", ["net.yaml", "field input", "missing"]),
    "missing layers": ("input: [3, 32, 32]\n", ["net.yaml", "field layers", "missing"]),
    "unknown type": (
        LAYER + "  - {type: relu}\n  - {type: convv, out_channels: 8}\n",
        [
            "net.yaml:4",
            "layers[1] (convv)",
            "unknown layer type 'convv'",
            "did you mean 'conv'",
            "maxpool",
        ],
    ),
    "misspelt field": (
        LAYER + "  - type: conv\n    out_channels: 8\n    kernal_size: 3\n",
        ["net.yaml:5", "layers[0] (conv)", "field kernal_size", "did you mean 'kernel_size'"],
    ),
    "in_channels written": (
        LAYER + "  - {type: conv, in_channels: 3, out_channels: 8, kernel_size: 3}\n",
        ["layers[0] (conv)", "in_channels", "previous layer"],
    ),
    "zero": (
        LAYER + "  - type: conv\n    out_channels: 8\n    kernel_size: 0\n",
        ["net.yaml:5", "field kernel_size", "positive integer", "not 0"],
    ),
    "negative": (
        LAYER + "  - {type: conv, out_channels: -8, kernel_size: 3}\n",
        ["net.yaml:3", "field out_channels", "not -8"],
    ),
    "negative padding": (
        LAYER + "  - {type: conv, out_channels: 8, kernel_size: 3, padding: -1}\n",
        ["field padding", "≥ 0"],
    ),
    "bool": (
        LAYER + "  - {type: conv, out_channels: true, kernel_size: 3}\n",
        ["field out_channels", "boolean"],
    ),
    "float": (
        LAYER + "  - {type: conv, out_channels: 8, kernel_size: 2.5}\n",
        ["field kernel_size", "2.5"],
    ),
    "float in a list": (
        LAYER + "  - {type: conv, out_channels: 8, kernel_size: [3, 3.0]}\n",
        ["field kernel_size", "3.0"],
    ),
    "wrong list length": (
        LAYER + "  - {type: conv, out_channels: 8, kernel_size: [3, 3, 3]}\n",
        ["net.yaml:3", "field kernel_size", "3 values", "2 spatial dimensions"],
    ),
    "collapsing stack": (
        LAYER
        + "  - {type: conv, out_channels: 8, kernel_size: 3}\n"
        + "  - type: conv\n    out_channels: 8\n    kernel_size: 31\n",
        [
            "net.yaml:6",
            "layers[1] (conv)",
            "kernel 31 is larger than the padded input 30 (dimension 1)",
        ],
    ),
    "groups": (
        LAYER + "  - {type: conv, out_channels: 8, kernel_size: 3, groups: 2}\n",
        ["layers[0] (conv)", "field groups", "does not divide the 3 input channels"],
    ),
    "same with stride 2": (
        LAYER + "  - {type: conv, out_channels: 8, kernel_size: 3, padding: same, stride: 2}\n",
        ["field padding", "'same' needs stride 1"],
    ),
    "pool padding": (
        LAYER + "  - {type: maxpool, kernel_size: 3, padding: 2}\n",
        ["layers[0] (maxpool)", "field padding", "half the kernel"],
    ),
    "output_padding": (
        LAYER
        + "  - {type: conv_transpose, out_channels: 3, kernel_size: 3,"
        + " stride: 2, output_padding: 2}\n",
        ["layers[0] (conv_transpose)", "field output_padding", "max(stride, dilation)"],
    ),
    "dropout p": (
        LAYER + "  - {type: dropout, p: 1.5}\n",
        ["layers[0] (dropout)", "field p", "between 0"],
    ),
    "unknown padding word": (
        LAYER + "  - {type: conv, out_channels: 8, kernel_size: 3, padding: full}\n",
        ["field padding", "full"],
    ),
    "unknown top-level key": (
        "input: [3, 8, 8]\nlayers: []\nlayer: []\n",
        ["net.yaml:3", "field layer", "did you mean 'layers'"],
    ),
    "bad input": ("input: [3, 0]\nlayers: []\n", ["field input", "positive integer"]),
    "conv on a vector": (
        "input: [10]\nlayers:\n  - {type: conv, out_channels: 2, kernel_size: 1}\n",
        ["layers[0] (conv)", "spatial"],
    ),
    "layer not a mapping": (LAYER + "  - relu\n", ["layers[0]", "mapping"]),
    "layer without type": (LAYER + "  - {out_channels: 3}\n", ["layers[0]", "needs a 'type'"]),
    "python tag": (
        "input: !!python/object/apply:os.system ['echo pwned']\nlayers: []\n",
        ["net.yaml:1", "!!python/object/apply:os.system", "not allowed"],
    ),
    "python name tag": (
        "input: !!python/name:os.system ''\nlayers: []\n",
        ["!!python/name:os.system"],
    ),
    "two documents": ("input: [3]\nlayers: []\n---\ninput: [3]\n", ["net.yaml:3", "more than one"]),
    "duplicate key": (
        LAYER + "  - {type: conv, out_channels: 8, out_channels: 4, kernel_size: 3}\n",
        ["net.yaml:3", "duplicate key 'out_channels'"],
    ),
    "undefined alias": ("input: *nothing\nlayers: []\n", ["alias", "not defined"]),
}


@pytest.mark.parametrize("name", list(CASES))
def test_bad_input_exits_2_with_a_located_message(run, write, name: str) -> None:
    text, fragments = CASES[name]
    path = write(text)
    result = run("shape", path)
    assert result.exit_code == 2, result.output
    assert result.stdout == ""
    assert "Traceback" not in result.stderr
    assert result.stderr.startswith(f"Error: {path}")
    message = result.stderr.replace(path, "net.yaml")
    for fragment in fragments:
        assert fragment in message, (fragment, message)
    assert len(result.stderr.strip().splitlines()) <= 4


def test_python_tag_runs_nothing(run, write, tmp_path) -> None:
    marker = tmp_path / "pwned"
    path = write(f"input: !!python/object/apply:os.system ['touch {marker}']\nlayers: []\n")
    assert run("shape", path).exit_code == 2
    assert not marker.exists()


def test_missing_file(run) -> None:
    result = run("shape", "no/such/file.yaml")
    assert result.exit_code == 2
    assert "no/such/file.yaml" in result.stderr and "no such file" in result.stderr
    assert "hw3-q3" in result.stderr  # lists the bundled names


def test_directory(run, tmp_path) -> None:
    result = run("shape", str(tmp_path))
    assert result.exit_code == 2
    assert "is a directory" in result.stderr


def test_binary_file(run, tmp_path) -> None:
    path = tmp_path / "model.pt"
    path.write_bytes(bytes(range(256)) * 4)
    result = run("shape", str(path))
    assert result.exit_code == 2
    assert "binary" in result.stderr


def test_not_utf8(run, tmp_path) -> None:
    path = tmp_path / "latin1.yaml"
    path.write_bytes("input: [3]\nname: caf\xe9\nlayers: []\n".encode("latin-1"))
    result = run("shape", str(path))
    assert result.exit_code == 2
    assert "UTF-8" in result.stderr


def test_alias_bomb_ends_quickly(run, write) -> None:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]" for i in range(1, 10)]
    path = write("\n".join([*lines, "input: [3]", "layers: *a9"]) + "\n")
    start = time.perf_counter()
    result = run("shape", path)
    assert time.perf_counter() - start < 5  # generous: a bomb would take hours
    assert result.exit_code == 2
    assert "aliases" in result.stderr


def test_deep_nesting_ends_quickly(run, write) -> None:
    path = write("input: [3]\nlayers: " + "[" * 5000 + "]" * 5000 + "\n")
    start = time.perf_counter()
    result = run("shape", path)
    assert time.perf_counter() - start < 5
    assert result.exit_code == 2
    # our own limit, or libyaml's (newer PyYAML wheels stop the parser first)
    assert "nested more than" in result.stderr or "nesting depth" in result.stderr


def test_recursive_alias(run, write) -> None:
    result = run("shape", write("input: [3]\nlayers: &x [*x]\n"))
    assert result.exit_code == 2
    assert "refers to itself" in result.stderr


def test_several_errors_are_listed_briefly(run, write) -> None:
    text = LAYER + "".join(
        f"  - {{type: conv, out_channels: 0, kernel_size: {k}}}\n" for k in range(1, 8)
    )
    result = run("shape", write(text))
    assert result.exit_code == 2
    assert "... and 4 more" in result.stderr
    assert len(result.stderr.splitlines()) == 4


def test_only_ascii_digits_are_numbers(run, write) -> None:
    # int() reads '٣' and '１２', str.isdigit() accepts '²': none of them is a size here
    assert run("solve", "--in", "64", "--out", "²").exit_code == 2
    assert run("solve", "five-stages", "--out", "７").exit_code == 2
    path = write('input: [1, 8]\nlayers:\n  - {type: conv, out_channels: 1, kernel_size: "٣"}\n')
    result = run("solve", path, "--out", "6")
    assert result.exit_code == 2
    assert "not the text '٣'" in result.stderr


def _shell(command: str, **env: str) -> tuple[int, str, str]:
    """Run ``convcalc`` through a shell (closed and full streams need real file descriptors)."""
    import os
    import subprocess
    import sys

    full = f"{sys.executable} -m convcalc {command}"
    done = subprocess.run(
        ["sh", "-c", full], capture_output=True, text=True, env={**os.environ, **env}
    )
    return done.returncode, done.stdout, done.stderr


def test_streams_that_cannot_be_used_are_said_so() -> None:
    code, _, err = _shell("shape - <&-")
    assert (code, err.strip()) == (2, "Error: <stdin>: standard input is closed: nothing to read")
    code, _, err = _shell("shape hw3-q3 >&-")
    assert (code, err.strip()) == (2, "convcalc: standard output is closed: nothing can be written")
    code, _, err = _shell("shape hw3-q3 > /dev/full")
    assert (code, err.strip()) == (2, "convcalc: cannot write the output: No space left on device")
    code, out, _ = _shell("solve --in 64 --out 4 --count", PYTHONIOENCODING="ascii")
    assert code == 0 and out.startswith("conv: 64 \\u2192 4: 171 solutions")
    code, out, err = _shell("shape resnet50 | head -1")
    assert (code, out, err) == (0, "resnet50: input 3×224×224\n", "")


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("010", "'010' is an integer only in YAML 1.1's odd forms"),
        ("1:30", "'1:30' is an integer only in YAML 1.1's odd forms"),
        ("0x10", "'0x10' is an integer only in YAML 1.1's odd forms"),
        ("9" * 5000, "a number of 5,000 digits is beyond any size"),
        (str(2**63), "is beyond 2^63 − 1 (9,223,372,036,854,775,807)"),
    ],
)
def test_integers_a_person_did_not_mean_or_pytorch_cannot_hold(
    run, write, value: str, message: str
) -> None:
    path = write(
        f"input: [3, 8, 8]\nlayers:\n  - {{type: conv, out_channels: {value}, kernel_size: 3}}\n"
    )
    result = run("shape", path)
    assert result.exit_code == 2
    assert message in result.stderr


def test_sizes_past_2_to_the_63_are_refused_where_they_arise(run, write) -> None:
    # 2^40 channels of 2^12 × 2^12 positions: 2^64 values in one output
    text = (
        "input: [1, 4096, 4096]\nlayers:\n"
        "  - {type: conv, out_channels: 1099511627776, kernel_size: 1}\n"
    )
    result = run("shape", write(text))
    assert result.exit_code == 2
    assert "beyond 2^63 − 1, the most PyTorch can count" in result.stderr


def test_huge_questions_are_refused_up_front(run, write) -> None:
    layer = '{type: conv_transpose, out_channels: 2, kernel_size: "?"}'
    path = write(f"input: [3, 1000000000]\nlayers:\n  - {layer}\n")
    result = run("solve", path, "--out", "5")
    assert result.exit_code == 2
    assert "1,000,000,000 values to try, more than the search's 1,000,000 trials" in result.stderr
    # a conv is one single-layer question per output size, and the target fixes that size:
    # (10⁹ − k) // 1 + 1 = 5 only for k = 10⁹ − 4
    path = write(
        'input: [3, 1000000000]\nlayers:\n  - {type: conv, out_channels: 2, kernel_size: "?"}\n'
    )
    result = run("solve", path, "--out", "5", "--format", "csv")
    assert result.exit_code == 0
    assert result.output.splitlines()[1:] == ["999999996,2x5"]
    result = run("solve", path)  # any output: a billion of them, refused before trying
    assert result.exit_code == 2
    assert "1,000,000,000 output sizes to consider" in result.stderr
    result = run("solve", "--in", "64", "--out", "4", "--kernel", "9" * 30)
    assert result.exit_code == 2 and "beyond any size" in result.stderr
    result = run("mlp", "--inputs", "100000", "--hidden", "100000", "--classes", "2")
    assert result.exit_code == 2 and "at most 1,000,000" in result.stderr
    assert run("identities", "--points", "100000000").exit_code == 2


def test_a_signed_size_reads_as_click_reads_the_input(run) -> None:
    assert run("solve", "--in", "+64", "--out", "+4", "--count").stdout.startswith(
        "conv: 64 → 4: 171 solutions"
    )


def test_names_from_the_input_cannot_add_lines_to_an_error(run, write) -> None:
    layer = '{type: conv, out_channels: 2, kernel_size: 3, "a\\nError: x": 1}'
    path = write(f"input: [3, 8, 8]\nlayers:\n  - {layer}\n")
    result = run("shape", path)
    assert result.exit_code == 2
    assert result.stderr.count("\n") == 1  # one line, the newline shown as \n
    assert "field a\\nError: x: unknown field" in result.stderr
    long = "y" * 500
    result = run("shape", write(f"input: [3, 8, 8]\nlayers:\n  - {{type: {long}}}\n"))
    assert result.exit_code == 2 and long not in result.stderr and "y…" in result.stderr


@pytest.mark.parametrize(
    ("field", "message"),
    [
        # torch.device's own list of device types; parameters must be able to require gradients
        ("device: banana", "field device: must be a PyTorch device"),
        ("device: 'cpu:x'", "field device: must be a PyTorch device"),
        ("dtype: int8", "field dtype: must be a floating-point or complex dtype"),
        ("dtype: banana", "field dtype: must be a floating-point or complex dtype"),
    ],
)
def test_ignored_arguments_are_type_checked_as_pytorch_would(
    run, write, field: str, message: str
) -> None:
    def spec(extra: str) -> str:
        layer = f"{{type: conv, out_channels: 2, kernel_size: 3, {extra}}}"
        return f"input: [3, 8, 8]\nlayers:\n  - {layer}\n"

    result = run("shape", write(spec(field)))
    assert result.exit_code == 2 and message in result.stderr
    for good in ("device: cpu", "device: 'cuda:1'", "dtype: float16", "dtype: torch.bfloat16"):
        assert run("shape", write(spec(good))).exit_code == 0, good


def test_an_export_refusal_names_the_line(run, tmp_path) -> None:
    spec = tmp_path / "pooled.yaml"
    spec.write_text(
        "input: [3, 8, 8]\nlayers:\n  - {type: relu}\n"
        "  - {type: maxpool, kernel_size: 2, return_indices: true}\n",
        "utf-8",
    )
    result = run("export", str(spec))
    assert result.exit_code == 2
    assert result.stderr.startswith(f"Error: {spec}:4: layers[1] (maxpool), field return_indices:")
    # the first refused is the first written: the repeat's layers[1], line 7
    spec.write_text(
        "input: [3, 8, 8]\nlayers:\n  - type: repeat\n    times: 2\n    layers:\n"
        "      - {type: relu}\n      - {type: maxpool, kernel_size: 1, return_indices: true}\n",
        "utf-8",
    )
    result = run("export", str(spec))
    assert result.exit_code == 2
    assert result.stderr.startswith(
        f"Error: {spec}:7: layers[0].layers[1] (maxpool), field return_indices:"
    )
