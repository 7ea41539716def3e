"""Every class of bad input: exit 2, a located message on stderr, no traceback."""

from __future__ import annotations

import json
import time

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.budget import examples

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
    "in_channels written wrong": (  # written as PyTorch's code does, it must be the input's
        LAYER + "  - {type: conv, in_channels: 4, out_channels: 8, kernel_size: 3}\n",
        ["net.yaml:3", "layers[0] (conv)", "field in_channels", "given 3 channels"],
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


@pytest.mark.every_case
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


@pytest.mark.full
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
    assert "1,000,000,000 values to try, more than the search's 1,000,000 steps" in result.stderr
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


# --- upsample past 2^63 − 1: PyTorch's own arithmetic ------------------------------------------


UPSAMPLE = "input: [1, 8]\nlayers:\n  - {type: relu}\n  - {type: upsample, scale_factor: %s}\n"


def _torch_upsample(scale: float) -> tuple[int, ...] | None:
    """torch's output shape for ``scale_factor`` on an input [1, 8] (no memory: the meta device,
    one byte per value so that its storage fits whenever the count does), None if it raises."""
    torch = pytest.importorskip("torch")
    x = torch.zeros(1, 1, 8, dtype=torch.uint8, device="meta")
    try:
        return tuple(torch.nn.Upsample(scale_factor=scale)(x).shape[1:])
    except RuntimeError:
        return None


@pytest.mark.torch
@pytest.mark.parametrize(
    "scale",
    [
        1.0e160,  # 8e160: torch "cannot be converted to type int64_t without overflow"
        1.0e308,  # 8·1e308 is infinite in double precision
        2.0**60,  # 8·2^60 = 2^63 exactly: one past the largest int64
        2.0**60 * (1 - 2**-53),  # the double below: 2^63 − 1024, an int64
        1.15e18,  # 9.2e18 < 2^63
        1.0e18,
        2.5,
    ],
)
def test_an_upsample_is_refused_past_2_to_the_63_exactly_where_torch_refuses_it(
    run, write, scale: float
) -> None:
    expected = _torch_upsample(scale)
    result = run("shape", write(UPSAMPLE % repr(scale)), "--format", "json")
    if expected is None:
        assert result.exit_code == 2
        assert "internal error" not in result.stderr
        assert "net.yaml:4: layers[1] (upsample), field scale_factor:" in result.stderr
        assert "beyond 2^63 − 1" in result.stderr
    else:
        assert result.exit_code == 0, result.stderr
        assert tuple(json.loads(result.stdout)["output_shape"]) == expected


@pytest.mark.torch
@settings(max_examples=examples(500))
@given(exponent=st.floats(17.0, 19.0))
def test_upsample_sizes_near_2_to_the_63_are_torchs(exponent: float) -> None:
    from convcalc.analysis import analyse
    from convcalc.errors import SpecError
    from convcalc.spec.validate import load_spec

    scale = 10.0**exponent
    expected = _torch_upsample(scale)
    spec = load_spec(UPSAMPLE % repr(scale))
    if expected is None:
        with pytest.raises(SpecError, match="beyond 2"):
            analyse(spec)
    else:
        assert analyse(spec).output_shape == expected


@pytest.mark.parametrize("scale", ["1.0e160", "1.0e308", "[1.0e100, 1.0e100]"])
@pytest.mark.parametrize("command", ["shape", "lint", "costs", "report", "draw", "export"])
def test_every_command_refuses_an_overflowing_upsample_located(
    run, write, command: str, scale: str
) -> None:
    """8·10¹⁶⁰ (an integer of 534 bits) and 8·10³⁰⁸ (infinity as a double) are far past
    2^63 − 1 ≈ 9.2·10¹⁸; so is 8·10¹⁰⁰ in each of two dimensions (a product of 10²⁰² values)."""
    path = write(f"input: [3, 8, 8]\nlayers:\n  - {{type: upsample, scale_factor: {scale}}}\n")
    result = run(command, path)
    assert result.exit_code == 2
    assert result.stdout == "" and "internal error" not in result.stderr
    message = result.stderr.replace(path, "net.yaml")
    assert message.startswith("Error: net.yaml:3: layers[0] (upsample), field scale_factor:")
    assert "beyond 2^63 − 1" in message and "(dimension 1)" in message


def test_check_refuses_an_overflowing_upsample_in_an_inline_spec(run, write) -> None:
    answers = (
        "spec:\n  input: [3, 8, 8]\n  layers:\n    - {type: upsample, scale_factor: 1.0e160}\n"
        "answers:\n  - {at: 'layers[0]', output_shape: [3, 16, 16]}\n"
    )
    result = run("check", write(answers))
    assert result.exit_code == 2
    assert "internal error" not in result.stderr
    assert "layers[0] (upsample), field scale_factor:" in result.stderr
    assert "beyond 2^63 − 1" in result.stderr


# --- integer options past 2^63 − 1 --------------------------------------------------------------

TOO_BIG = "99999999999999999999999"  # 10²³ > 2^63 − 1 = 9,223,372,036,854,775,807


@pytest.mark.parametrize(
    "args",
    [
        ["shape", "hw3-q3", "--batch", TOO_BIG],
        ["shape", "hw3-q3", "--batch", str(2**63)],
        ["costs", "hw3-q3", "--batch", TOO_BIG],
        ["report", "hw3-q3", "--batch", TOO_BIG],
        ["mlp", "--inputs", TOO_BIG, "--hidden", "2", "--classes", "2", "--explain"],
        ["mlp", "--inputs", "2", "--hidden", TOO_BIG, "--classes", "2", "--explain"],
        ["mlp", "--inputs", "2", "--hidden", "2", "--classes", TOO_BIG, "--explain"],
        ["mlp", "--inputs", "2", "--hidden", "2", "--classes", "2", "--checks", TOO_BIG],
        ["mlp", "--inputs", "2", "--hidden", "2", "--classes", "2", "--seed", TOO_BIG],
        ["mlp", "--inputs", "2", "--hidden", "2", "--classes", "2", "--seed", "-" + TOO_BIG],
        ["identities", "--seed", TOO_BIG],
        ["shape", "hw3-q3", "--depth", TOO_BIG],
        ["draw", "hw3-q3", "--depth", TOO_BIG],
        ["solve", "--in", TOO_BIG, "--out", "4"],
        ["solve", "--in", "64", "--out", "4", "--limit", TOO_BIG],
        ["solve", "hw3-q3", "--out-size", TOO_BIG],
        ["quiz", "--seed", TOO_BIG],
        ["quiz", "--seed", "-" + TOO_BIG],
    ],
)
def test_integer_options_past_2_to_the_63_are_refused(run, args: list[str]) -> None:
    result = run(*args)
    assert result.exit_code == 2
    assert "9223372036854775807" in result.stderr  # the range, with the limit
    assert result.stdout == ""


def test_a_size_past_the_limit_is_named_so_and_cut(run) -> None:
    result = run("solve", "--in", "64", "--out", "9" * 5000)
    assert result.exit_code == 2
    assert "is beyond 2^63 − 1" in result.stderr
    assert len(result.stderr) < 200  # the 5,000 digits are not echoed whole


def test_integer_options_up_to_2_to_the_63_are_taken(run) -> None:
    assert run("shape", "hw3-q3", "--batch", str(2**63 - 1)).exit_code == 0
    assert run("identities", "--points", "10", "--seed", str(-(2**63))).exit_code == 0


def test_an_mlp_of_more_than_2_to_the_63_parameters_is_refused(run) -> None:
    # n = d_h·d + d_h + d_o·d_h + d_o: d = 2^62 − 3, d_h = 2, d_o = 1 gives
    # 2^63 − 6 + 2 + 2 + 1 = 2^63 − 1, the most; d = 2^62 gives 2^63 + 5, one tensor too many
    most = run("mlp", "--inputs", str(2**62 - 3), "--hidden", "2", "--classes", "1", "--explain")
    assert most.exit_code == 0
    assert "= 9,223,372,036,854,775,807" in most.stdout
    past = run("mlp", "--inputs", str(2**62), "--hidden", "2", "--classes", "1", "--explain")
    assert past.exit_code == 2
    assert "9,223,372,036,854,775,813 parameters: beyond 2^63 − 1" in past.stderr


# --- values shown as written: YAML's forms, never a Python repr --------------------------------


@pytest.mark.parametrize(
    ("written", "shown"),
    [
        ("<<", "<<"),  # a merge key where a value goes: the text written
        ("[1, {a: 2}]", "[1, {a: 2}]"),
        ("null", "null"),
        ("true", "true"),
        ("2024-01-01", "2024-01-01"),
        (".inf", ".inf"),
    ],
)
def test_an_unknown_type_is_named_as_written(run, write, written: str, shown: str) -> None:
    path = write(f"input: [3, 8, 8]\nlayers:\n  - {{type: {written}}}\n")
    result = run("shape", path)
    assert result.exit_code == 2
    message = result.stderr.replace(path, "net.yaml")
    assert message.startswith(
        f"Error: net.yaml:3: layers[0] ({shown}): unknown layer type '{shown}';"
    )
    assert " at 0x" not in message and "datetime" not in message
    if written != "<<":  # read back by YAML itself, the name shown is the value written
        assert yaml.safe_load(f"[{shown}]") == yaml.safe_load(f"[{written}]")


@pytest.mark.parametrize(
    ("field", "shown"),
    [
        ("padding_mode: <<", "'<<'"),
        ("padding_mode: 2024-01-01", "2024-01-01"),
        ("padding_mode: [1, {a: null}]", "[1, {a: null}]"),
        ("padding_mode: null", "null"),
        ("padding_mode: true", "true"),
        ("padding_mode: 1.0e400", ".inf"),
    ],
)
def test_a_wrong_choice_is_shown_as_written(run, write, field: str, shown: str) -> None:
    layer = f"{{type: conv, out_channels: 2, kernel_size: 3, {field}}}"
    result = run("shape", write(f"input: [3, 8, 8]\nlayers:\n  - {layer}\n"))
    assert result.exit_code == 2
    assert (
        f"field padding_mode: must be 'zeros', 'reflect', 'replicate' or 'circular', not {shown}\n"
        in (result.stderr)
    )
    written = field.removeprefix("padding_mode: ")
    if written not in ("<<", "1.0e400"):  # YAML 1.1 reads those as a merge key and as text
        assert yaml.safe_load(shown) == yaml.safe_load(written)


@pytest.mark.parametrize(
    ("key", "shown"),
    [("null", "null"), ("true", "true"), ("7", "7"), ("2.5", "2.5"), ("2024-01-01", "2024-01-01")],
)
def test_a_field_name_that_is_not_text_is_named_as_written(
    run, write, key: str, shown: str
) -> None:
    path = write(f"input: [3, 8, 8]\nlayers:\n  - type: relu\n    {key}: 1\n")
    result = run("shape", path)
    assert result.exit_code == 2
    assert result.stderr.replace(path, "net.yaml").startswith(
        f"Error: net.yaml:4: layers[0] (relu), field {shown}: a field's name must be text, not "
    )
    assert "datetime" not in result.stderr and "None" not in result.stderr


@pytest.mark.parametrize(
    ("text", "shown"),
    [("2024-01-01\n", "the date 2024-01-01"), ("'x'\n", "the text 'x'"), ("- 1\n", "a list")],
)
def test_a_top_level_that_is_not_a_mapping_is_named(run, write, text: str, shown: str) -> None:
    result = run("shape", write(text))
    assert result.exit_code == 2
    assert result.stderr.endswith(f"must be a mapping with 'input' and 'layers', not {shown}\n")


def test_a_merge_key_in_a_value_or_a_list_is_the_text_written(run, write) -> None:
    result = run("shape", write("input: [3, 8, 8]\nlayers: [<<]\n"))
    assert result.exit_code == 2 and "layers[0]: a layer must be a mapping" in result.stderr
    result = run("shape", write("input: [3, 8, 8]\nlayers:\n  - {type: relu, <<: <<}\n"))
    assert result.exit_code == 2 and "'<<' must merge a mapping" in result.stderr
    merged = write("input: [3, 8, 8]\nlayers:\n  - &r {type: relu}\n  - {<<: *r, name: x}\n")
    assert run("shape", merged).exit_code == 0  # the merge key itself still merges


# --- work in proportion to a number written, not to its size ----------------------------------


def _convcalc(tmp_path, text: str, *args: str) -> tuple[int, str]:
    """``convcalc shape`` (or ``args``) on ``text`` in a child process, under a timeout of a
    minute: each attack below took minutes or hours, or all the memory, before its fix."""
    import subprocess
    import sys

    path = tmp_path / "net.yaml"
    path.write_text(text, encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-m", "convcalc", *(args or ("shape",)), str(path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    return done.returncode, done.stderr.replace(str(path), "net.yaml")


@pytest.mark.full
def test_a_reshape_of_a_hundred_thousand_huge_sizes_is_refused_at_once(tmp_path) -> None:
    # 100,000 sizes of 2^63 − 1 multiply far past the 3·8·8 = 192 values (exactly: a product
    # of 6.3 million bits, which took 1 min 47 s to work out and print)
    sizes = ", ".join([str(2**63 - 1)] * 100_000)
    code, err = _convcalc(
        tmp_path, f"input: [3, 8, 8]\nlayers:\n  - {{type: reshape, shape: [{sizes}]}}\n"
    )
    assert code == 2
    assert err.startswith(
        "Error: net.yaml:3: layers[0] (reshape), field shape: [9223372036854775807"
    )
    assert "…] holds more than 2^63 − 1 values, not the 192 given" in err
    assert len(err) < 1000


@pytest.mark.torch
@pytest.mark.parametrize("sizes", [[2**62, 2**62, 3], [2**62, 2**62, -1], [-1, 2**63 - 1, 2]])
def test_a_reshape_past_2_to_the_63_is_refused_as_torch_refuses_it(run, write, sizes) -> None:
    torch = pytest.importorskip("torch")
    with pytest.raises(RuntimeError, match="is invalid for input of size 192"):
        torch.zeros(192, device="meta").reshape(sizes)
    result = run(
        "shape", write(f"input: [3, 8, 8]\nlayers:\n  - {{type: reshape, shape: {sizes}}}\n")
    )
    assert result.exit_code == 2 and "field shape:" in result.stderr


@pytest.mark.full
def test_a_residual_hint_on_a_huge_input_is_worked_out_not_searched(tmp_path) -> None:
    # the body gives 3×1; a 1×1 conv maps 10¹² to ⌊(10¹² − 1)/s⌋ + 1 = 1 exactly when s ≥ 10¹²,
    # so the least such stride is 10¹² (the strides once tried one by one: hours)
    body = "[{type: conv, out_channels: 3, kernel_size: 1, stride: 1000000000000}]"
    code, err = _convcalc(
        tmp_path, f"input: [2, 1000000000000]\nlayers:\n  - type: residual\n    body: {body}\n"
    )
    assert code == 2
    assert err == (
        "Error: net.yaml:3: layers[0] (residual): body gives 3×1 but shortcut gives "
        "2×1000000000000: to be added, each dimension must be equal or 1 in one of them — "
        "a 1×1 conv with out_channels 3 "
        "(stride 1000000000000) in the shortcut would match\n"
    )


@settings(max_examples=examples(2000))
@given(
    x=st.lists(st.integers(1, 40), min_size=1, max_size=3),
    body=st.lists(st.integers(1, 45), min_size=1, max_size=3),
)
def test_the_residual_hint_is_the_least_stride_tried_one_by_one(x, body) -> None:
    from convcalc.arith import conv_out
    from convcalc.layers.blocks import _shortcut_hint

    # the oracle: every stride from 1 to the largest input size, in turn
    if len(x) == len(body):
        strides = [
            s
            for s in range(1, max(x) + 1)
            if all(conv_out(n, 1, s, 0, 1) == m for n, m in zip(x, body, strict=True))
        ]
    else:
        strides = []
    hint = _shortcut_hint((4, *x), (5, *body))
    assert hint == (
        f" — a 1×1 conv with out_channels 5 (stride {strides[0]}) in the shortcut would match"
        if strides
        else ""
    )


@pytest.mark.full
@pytest.mark.parametrize(
    ("times", "where", "count"),
    [
        # 1 (the repeat) + times · 1 (its relu)
        pytest.param(
            100_000_000,
            "net.yaml:6: layers[1].layers[0] (repeat), field times",
            "100,000,001",
            marks=pytest.mark.full,
        ),
        pytest.param(
            2**63 - 1,
            "net.yaml:6: layers[1].layers[0] (repeat), field times",
            f"{2**63:,}",
            marks=pytest.mark.full,
        ),
        # 999,999 relus and their repeat fit, but not with the sequential around them
        (999_999, "net.yaml:4: layers[1] (sequential)", "1,000,001"),
    ],
)
def test_a_repeat_that_unrolls_past_a_million_layers_is_refused_first(
    tmp_path, times: int, where: str, count: str
) -> None:
    text = (
        "input: [3, 8, 8]\nlayers:\n  - {type: relu}\n  - type: sequential\n    layers:\n"
        f"      - {{type: repeat, times: {times}, layers: [{{type: relu}}]}}\n"
    )
    for command in ("shape", "lint"):
        code, err = _convcalc(tmp_path, text, command)
        assert code == 2
        assert err == (
            f"Error: {where}: unrolls to {count} layers, more than the 1,000,000 a network "
            "may hold\n"
        )


@pytest.mark.parametrize(
    ("keys", "shown"), [("null: 1, ~: 2", "null"), ("2024-01-01: 1, 2024-01-01: 2", "2024-01-01")]
)
def test_a_duplicate_key_is_named_as_written(run, write, keys: str, shown: str) -> None:
    result = run("shape", write(f"input: [3, 8, 8]\nlayers:\n  - {{type: relu, {keys}}}\n"))
    assert result.exit_code == 2
    assert result.stderr.endswith(f":3: duplicate key {shown}\n")
    assert yaml.safe_load(f"[{shown}]") == yaml.safe_load(f"[{keys.split(':')[0]}]")


@pytest.mark.full
def test_a_reshape_of_huge_sizes_is_refused_at_once_by_the_input_solver(tmp_path) -> None:
    # the same reshape with the input's height unknown: the input-size solver multiplied the
    # 100,000 sizes out (30 s), then failed to print the product (an internal error, exit 1)
    sizes = ", ".join([str(2**63 - 1)] * 100_000)
    code, err = _convcalc(
        tmp_path, f'input: [3, "?", 8]\nlayers:\n  - {{type: reshape, shape: [{sizes}]}}\n', "solve"
    )
    assert code == 0 and "internal error" not in err
