"""The README's examples are real: its table is the CLI's output and its Python example runs."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.conftest import Invoke

README = (Path(__file__).parent.parent / "README.md").read_text(encoding="utf-8")


def blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", README, flags=re.DOTALL)


def test_quick_start_has_exactly_two_commands() -> None:
    section = README.split("## Quick start", 1)[1]
    commands = blocks("sh")[0].strip().splitlines()
    assert section.index("```sh") < section.index("##")
    assert commands == [
        "pip install . && convcalc shape hw3-q3",
        "pip install -e '.[test]' && pytest",
    ]


def test_the_shape_example_is_the_real_output(run: Invoke) -> None:
    example = next(b for b in blocks("text") if b.startswith("$ convcalc shape hw3-q3\n"))
    assert example.split("\n", 1)[1] == run("shape", "hw3-q3").stdout


def test_the_python_example_runs(capsys: pytest.CaptureFixture[str]) -> None:
    code = next(b for b in blocks("python") if "from convcalc.reference import" in b)
    exec(compile(code, "README.md", "exec"), {})
    assert capsys.readouterr().out.splitlines()[0] == "67"


def examples() -> tuple[dict[str, str], list[tuple[str, str]]]:
    """The README's spec files (```yaml blocks that start with ``# file: NAME``) and every
    ``$ convcalc ...`` command of its ```text blocks with the output shown under it."""
    files = {}
    for block in blocks("yaml"):
        first, _, rest = block.partition("\n")
        if first.startswith("# file: "):
            files[first.removeprefix("# file: ").strip()] = rest
    commands = []
    for block in blocks("text"):
        for part in re.split(r"^(?=\$ convcalc )", block, flags=re.MULTILINE):
            if part.startswith("$ convcalc "):
                command, _, output = part.partition("\n")
                commands.append((command.removeprefix("$ "), output))
    return files, commands


def test_every_example_is_the_real_output(
    run: Invoke, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import shlex

    files, commands = examples()
    for name, text in files.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    checked = 0
    for command, shown in commands:
        args, _, pipe = command.partition(" | ")
        words = shlex.split(args)[1:]
        if any(w.endswith(".yaml") and w not in files for w in words):
            continue  # a file the README describes but does not give (an error example)
        output = run(*words).output
        if pipe:  # only `| head -N`
            lines = int(pipe.split()[-1].lstrip("-"))
            output = "".join(output.splitlines(keepends=True)[:lines])
        assert output == shown, command
        checked += 1
    assert checked >= 10


# --- the README's key numbers against sources outside convcalc ---------------------------------

SHAPE_ROW = re.compile(
    r"(?P<index>\d+)\s+(?P<layer>.+?)\s{2,}(?P<shape>\d+(?:×\d+)*)\s+(?P<params>[\d,]+)\s+"
    r"(?P<macs>[\d,]+)"
)
ZOO_ROW = re.compile(
    r"\| `(?P<name>[\w-]+)` \| (?P<network>.*?) \| (?P<shapes>[^|]*?) \| ?(?P<params>[\d,]*) ?\|"
)


def quick_start() -> tuple[list[dict[str, str]], dict[str, str]]:
    """The Quick start's ``convcalc shape hw3-q3`` table: its rows, and its footer lines
    (``"Total params": "71,840"``)."""
    example = next(b for b in blocks("text") if b.startswith("$ convcalc shape hw3-q3\n"))
    table_rows = [m.groupdict() for m in map(SHAPE_ROW.fullmatch, example.splitlines()) if m]
    footer = dict(
        line.split(": ", 1) for line in example.splitlines()[1:] if ": " in line and "─" not in line
    )
    return table_rows, footer


def zoo_table() -> dict[str, dict[str, str]]:
    """The examples' table (torchvision's, below it, is tests/test_zoo_table.py's)."""
    section = README.split("### The zoo", 1)[1].split("<!-- the torchvision zoo", 1)[0]
    return {m["name"]: m.groupdict() for m in ZOO_ROW.finditer(section)}


def shape(text: str) -> tuple[int, ...]:
    return tuple(int(n) for n in text.split("×"))


def count(text: str) -> int:
    assert re.fullmatch(r"\d{1,3}(?:,\d{3})*", text), text
    return int(text.replace(",", ""))


def test_the_quick_start_table_is_the_homeworks() -> None:
    """The Quick start's numbers against the homework's answer worked by hand
    (tests/independent.py) and the memory figures' definitions (MB of 10⁶ bytes, float32)."""
    from tests.independent import (
        HW3_Q3_MULT_ADDS,
        HW3_Q3_OUTPUTS,
        HW3_Q3_PARAMS,
        HW3_Q3_SHAPES,
        HW3_Q3_TOTAL,
    )

    table_rows, footer = quick_start()
    assert [int(r["index"]) for r in table_rows] == [0, 1, 2]
    assert [shape(r["shape"]) for r in table_rows] == list(HW3_Q3_SHAPES)
    assert [count(r["params"]) for r in table_rows] == list(HW3_Q3_PARAMS)
    assert [count(r["macs"]) for r in table_rows] == list(HW3_Q3_MULT_ADDS)
    assert count(footer["Total params"]) == HW3_Q3_TOTAL
    assert count(footer["Trainable params"]) == HW3_Q3_TOTAL
    assert count(footer["Non-trainable params"]) == 0
    assert footer["Total mult-adds"] == f"{sum(HW3_Q3_MULT_ADDS):,} (convcalc's convention)"
    assert footer["Output size"] == f"{HW3_Q3_OUTPUTS:,} (128×11×11)"
    assert footer["Input size (float32)"] == f"{3 * 128 * 128 * 4 / 1e6:.2f} MB"
    assert footer["Params size"] == f"{HW3_Q3_TOTAL * 4 / 1e6:.2f} MB"
    # torchinfo's estimate: the outputs of the layers with parameters, values and gradients
    fwd = 2 * (32 * 61 * 61 + 128 * 11 * 11) * 4
    assert footer["Forward/backward pass size (torchinfo's estimate)"] == f"{fwd / 1e6:.2f} MB"
    # the largest input + output of one layer: the first conv, 3·128·128 + 32·61·61 values
    peak = (3 * 128 * 128 + 32 * 61 * 61) * 4
    assert footer["Peak activations (inference estimate)"] == f"{peak / 1e6:.2f} MB"


@pytest.mark.torch
def test_the_quick_start_table_is_torchs() -> None:
    """The same numbers from PyTorch (FlopCounterMode ÷ 2 for the multiply-adds) and torchinfo,
    on the model made from the spec file."""
    from tests.independent import torch_numbers, torchinfo_megabytes

    numbers = torch_numbers("hw3-q3")
    table_rows, footer = quick_start()
    assert len(table_rows) == len(numbers.leaves)
    for row, call in zip(table_rows, numbers.leaves, strict=True):
        assert row["layer"].split()[0] == call.kind
        assert shape(row["shape"]) == call.output_shape
        assert (count(row["params"]), count(row["macs"])) == (call.params, call.flops)
    assert count(footer["Total params"]) == numbers.params
    assert count(footer["Trainable params"]) == numbers.trainable
    assert footer["Total mult-adds"] == f"{numbers.flops:,} (convcalc's convention)"
    megabytes = torchinfo_megabytes(numbers.summary)
    assert footer["Input size (float32)"] == f"{megabytes['Input size']} MB"
    assert footer["Params size"] == f"{megabytes['Params size']} MB"
    fwd = footer["Forward/backward pass size (torchinfo's estimate)"]
    assert fwd == f"{megabytes['Forward/backward pass size']} MB"


def test_the_zoo_table_by_hand() -> None:
    """The zoo's plain networks, counted by hand: a conv has out·(in/groups·k² + 1) parameters,
    a linear out·(in + 1)."""
    table = zoo_table()
    assert count(table["hw3-q3"]["params"]) == 32 * (3 * 64 + 1) + 128 * (32 * 16 + 1)
    assert table["hw3-q3"]["shapes"] == "3×128×128 → 128×11×11"
    # hw3-mlp: 784 → 256 (ELU) → 10 (softmax)
    assert count(table["hw3-mlp"]["params"]) == 256 * (784 + 1) + 10 * (256 + 1)
    assert table["hw3-mlp"]["shapes"] == "784 → 10"
    # lenet5: conv 1→6 5×5, conv 6→16 5×5, linear 400→120→84→10
    lenet5 = 6 * (25 + 1) + 16 * (6 * 25 + 1) + 120 * 401 + 84 * 121 + 10 * 85
    assert count(table["lenet5"]["params"]) == lenet5
    assert table["lenet5"]["shapes"] == "1×32×32 → 10"
    # lenet5_c3: C3 as LeCun et al. (1998) connect it, 1,516 parameters (60 of the 6·16 maps
    # connected, 25 weights each, and 16 biases) in place of the full 6 → 16 convolution
    assert 60 * 25 + 16 == 1_516
    assert count(table["lenet5_c3"]["params"]) == lenet5 - 16 * (6 * 25 + 1) + 1_516
    assert table["lenet5_c3"]["shapes"] == "1×32×32 → 10"


@pytest.mark.torch
def test_the_zoo_table_is_torchs() -> None:
    """Every example of the zoo table against its PyTorch model (tests/independent.py: the
    reference U-Net, the plain stacks made from their spec files): input and output shapes and
    the parameter count. LeNet-5's C3 table is the hand count's (test_the_zoo_table_by_hand);
    torchvision's models are tests/test_zoo_table.py's."""
    pytest.importorskip("torch")
    from tests.independent import torch_numbers

    table = zoo_table()
    assert "five-stages" in table and table["five-stages"]["params"] == ""  # no model
    named = [name for name in table if name not in ("five-stages", "lenet5_c3")]
    assert named == ["hw3-q3", "hw3-mlp", "lenet5", "unet"]
    for name in named:
        row = table[name]
        numbers = torch_numbers(name)
        assert row["shapes"] == (
            f"{'×'.join(map(str, numbers.input_shape))} → "
            f"{'×'.join(map(str, numbers.output_shape))}"
        ), name
        assert count(row["params"]) == numbers.params, name
