"""``convcalc check``: answers marked against independent values, mistakes named, partial credit,
gradebooks, and located errors."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from convcalc.errors import ConvcalcError, shown
from convcalc.teach.grade import CARRIED, grade
from tests.budget import examples
from tests.oracle import out_size

# the seed's Question 3: the answers the solution gives (3.1b counts the weights only)
SEED = """\
student: Seed
spec: hw3-q3
answers:
  - {question: 3.1a, at: "layers[0]", output_shape: [32, 61, 61]}
  - {question: 3.1a, at: "layers[1]", output_shape: [32, 12, 12]}
  - {question: 3.1a, at: "layers[2]", output_shape: [128, 11, 11]}
  - {question: 3.1a, output_size: 15488}
  - {question: 3.1b, at: "layers[2]", weights: 65536}
  - {question: 3.2a, solve: {in: 64, out: 4, padding: 0, dilation: 1}, solutions: [[49, 5]]}
  - {question: 3.2b, solve: {in: 64, out: 4, padding: 2, dilation: 2}, solutions: [[27, 5]]}
  - {question: 3.2c, solve: {in: 64, out: 4, padding: 1, dilation: 1}, solutions: [[51, 5]]}
"""


def answers(tmp_path: Path, text: str, name: str = "answers.yaml") -> str:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_the_seed_solution_is_all_right(run, tmp_path) -> None:
    result = run("check", answers(tmp_path, SEED))
    assert result.exit_code == 0, result.output
    assert result.output.startswith("Seed (")
    assert result.output.count("✓") == 8


def test_named_mistakes_on_the_homework(run, tmp_path) -> None:
    text = """\
student: Bob
spec: hw3-q3
answers:
  - {question: a, at: "layers[1]", output_shape: [32, 13, 13]}
  - {question: b, at: "layers[2]", output_shape: [128, 12, 12]}
  - {question: c, output_size: 18432}
  - {question: d, at: "layers[2]", params: 65536}
  - {question: e, at: "layers[0]", mult_adds: 45723648}
  - {question: f, total_params: 71360}
"""
    result = run("check", answers(tmp_path, text))
    assert result.exit_code == 1
    out = result.output
    # ⌈56/5⌉ + 1 = 13 where ⌊56/5⌋ + 1 = 12
    assert "layers[1] output_shape: 32×13×13 — right: 32×12×12" in out
    assert "mistake: ceil instead of floor" in out
    # from 13: ⌊(13 + 2 − 3 − 1)/1⌋ + 1 = 12, right from the wrong input: half credit
    assert "note: carried over from your layers[1] (32×13×13), worked right" in out
    assert "carried over: the size of your own output shape" in out  # 128·12·12 = 18,432
    assert "mistake: forgot the bias" in out  # 128·32·4·4 without the 128 biases
    # every multiply-add of the first conv, 32·3·8·8·61·61 = 22,861,824, doubled
    assert "mistake: FLOPs (2 per multiply-add) given as multiply-adds" in out
    # 71,840 − 32 − 128 biases = 71,680; 71,360 is neither: no name, just the right value
    assert "network total_params: 71,360 — right: 71,840" in out
    marks = json.loads(run("check", answers(tmp_path, text), "--format", "json").output)
    assert [m["credit"] for m in marks[0]["marks"]] == [0, 0.5, 0.5, 0, 0, 0]


def _mult_adds_file(tmp_path: Path, convention: str, values: list[tuple[str, int]]) -> str:
    """An answers file on hw3-q3 claiming each (at, multiply-adds); at "" is the total."""
    lines = [f"convention: {convention}"] if convention else []
    lines += ["spec: hw3-q3", "answers:"]
    for at, value in values:
        claim = f'at: "{at}", mult_adds' if at else "total_mult_adds"
        lines.append(f"  - {{{claim}: {value}}}")
    return answers(tmp_path, "\n".join(lines) + "\n", f"m{convention}.yaml")


def test_multiply_adds_are_convcalc_shape_s_by_default(run, tmp_path) -> None:
    """The default convention's count is right, the one `convcalc shape` shows (a student who
    copies it is right); torchinfo's, a bias added at every output position, is a named
    mistake. Both worked by hand in tests/independent.py."""
    from tests.independent import HW3_Q3_MACS, HW3_Q3_MULT_ADDS

    shown_by_shape = json.loads(run("shape", "hw3-q3", "--format", "json").stdout)
    assert [layer["mult_adds"] for layer in shown_by_shape["layers"]] == list(HW3_Q3_MULT_ADDS)
    right = [(f"layers[{i}]", n) for i, n in enumerate(HW3_Q3_MULT_ADDS)]
    path = _mult_adds_file(tmp_path, "", [*right, ("", sum(HW3_Q3_MULT_ADDS))])
    marks = grade(path).marks
    assert all(m.right for m in marks), marks
    assert marks[0].what == "layers[0] mult_adds (convcalc's convention)"
    tools = [("layers[0]", HW3_Q3_MACS[0]), ("layers[2]", HW3_Q3_MACS[2])]
    marks = grade(_mult_adds_file(tmp_path, "", [*tools, ("", sum(HW3_Q3_MACS))])).marks
    assert [m.correct for m in marks] == ["22,861,824", "7,929,856", "30,791,680"]
    assert {m.mistake for m in marks} == {
        "torchinfo's convention: adds the bias at every output position"
    }
    # a pool multiplies nothing; ptflops counts 2 per input element of a pool (hook + F.max_pool)
    pool = [("layers[1]", 2 * 32 * 61 * 61), ("layers[1]", 12345)]
    ptflops, other = grade(_mult_adds_file(tmp_path, "", pool)).marks
    assert ptflops.correct == other.correct == "0" and other.mistake == ""
    assert (
        ptflops.mistake
        == "ptflops's convention: counts 2 per input element for a pool (hook + F.max_pool)"
    )


def test_an_answers_file_may_teach_torchinfo_s_count(tmp_path) -> None:
    """``convention: torchinfo``: torchinfo's count (each parameter once per output position,
    by hand) is right, the default's a named mistake, FLOPs still FLOPs."""
    from tests.independent import HW3_Q3_MACS, HW3_Q3_MULT_ADDS

    values = [("layers[0]", HW3_Q3_MACS[0]), ("", sum(HW3_Q3_MACS))]
    values += [("layers[0]", HW3_Q3_MULT_ADDS[0]), ("layers[2]", 2 * HW3_Q3_MACS[2])]
    marks = grade(_mult_adds_file(tmp_path, "torchinfo", values)).marks
    assert [m.right for m in marks] == [True, True, False, False]
    assert marks[0].what == "layers[0] mult_adds (torchinfo's convention)"
    assert marks[2].correct == f"{HW3_Q3_MACS[0]:,}"
    assert marks[2].mistake == (
        "convcalc's convention: unlike torchinfo, which adds the bias at every output position"
    )
    assert marks[3].mistake == "FLOPs (2 per multiply-add) given as multiply-adds"


@pytest.mark.torch
@pytest.mark.parametrize("convention", ["", "torchinfo"])
def test_the_right_multiply_adds_are_what_torch_and_torchinfo_count(tmp_path, convention) -> None:
    """hw3-q3's PyTorch model run under FlopCounterMode (÷ 2: the default) and torchinfo,
    layer by layer and in all: the convention's count is right, the other's named."""
    from tests.independent import torch_numbers

    numbers = torch_numbers("hw3-q3")
    flops = [leaf.flops for leaf in numbers.leaves]
    macs = [leaf.macs for leaf in numbers.leaves]
    assert flops[0] != macs[0] and sum(flops) == numbers.flops
    ours, theirs = (macs, flops) if convention else (flops, macs)
    at = [f"layers[{i}]" for i in range(3)]
    values = [*zip(at, ours, strict=True), ("", sum(ours))]
    values += [*zip(at, theirs, strict=True), ("", sum(theirs))]
    marks = grade(_mult_adds_file(tmp_path, convention, values)).marks
    assert [m.right for m in marks] == [True] * 4 + [False, True, False, False]
    named = "convcalc's convention: unlike torchinfo, which" if convention else "torchinfo's"
    assert all(m.mistake.startswith(named) for m in marks if not m.right), marks


@pytest.mark.parametrize("value", ["flops", "[torchinfo]", "3", "''"])
def test_an_unknown_convention_is_located(run, tmp_path, value: str) -> None:
    path = answers(
        tmp_path,
        f"student: A\nconvention: {value}\nspec: hw3-q3\nanswers:\n  - {{total_mult_adds: 1}}\n",
    )
    result = run("check", path)
    assert result.exit_code == 2 and "Traceback" not in result.stderr
    assert f"{path}:2:" in result.stderr and "field convention" in result.stderr
    assert "one of convcalc, torchinfo, fvcore, ptflops, thop, not " in result.stderr


def test_partial_credit_for_an_incomplete_solution_set(tmp_path) -> None:
    """The complete set for 64 → 4 with kernels 49..51 (brute force below): half of it given."""
    every = [
        (k, s) for k in (49, 50, 51) for s in range(1, 65) if out_size("conv", 64, k, s, 0, 1) == 4
    ]
    assert len(every) == 4  # (49, 4), (49, 5), (50, 4), (51, 4)
    given_half = every[:2]
    text = (
        "spec: hw3-q3\nanswers:\n  - solve: {in: 64, out: 4, kernel_size: '49..51'}\n"
        f"    solutions: {[list(t) for t in given_half]}\n    complete: true\n"
    )
    (mark,) = grade(answers(tmp_path, text)).marks
    assert mark.credit == 0.5
    assert mark.correct == "the 4 solutions"
    wrong = text.replace(str([list(t) for t in given_half]), "[[49, 4], [49, 5], [50, 5]]")
    (mark,) = grade(answers(tmp_path, wrong)).marks
    assert mark.credit == 0.25  # 2 right of 4, one wrong taken off
    assert "(k 50, s 5): ceil instead of floor" in mark.mistake  # ⌈14/5⌉ + 1 = 4


# --- property: right answers are right; each mistake is named ------------------------------


@st.composite
def window_layers(draw: Any) -> tuple[int, dict[str, Any]]:
    n = draw(st.integers(4, 60))
    kind = draw(st.sampled_from(["conv", "maxpool", "avgpool"]))
    k, s = draw(st.integers(1, 7)), draw(st.integers(1, 4))
    p = draw(st.integers(0, k // 2))
    layer: dict[str, Any] = {"type": kind, "kernel_size": k, "stride": s, "padding": p}
    if kind == "conv":
        layer |= {"out_channels": draw(st.integers(1, 8)), "dilation": draw(st.integers(1, 3))}
        layer["bias"] = draw(st.booleans())
    elif kind == "maxpool":
        layer["dilation"] = draw(st.integers(1, 3))
    return n, layer


def _spec(n: int, layer: dict[str, Any]) -> dict[str, Any]:
    return {"name": "net", "input": [3, n, n], "layers": [layer]}


def _file(tmp_path: Path, n: int, layer: dict[str, Any], claims: list[dict[str, Any]]) -> str:
    body = {"spec": _spec(n, layer), "answers": claims}
    return answers(tmp_path, yaml.safe_dump(body, sort_keys=False), "p.yaml")


@settings(max_examples=examples(300), deadline=None)
@given(case=window_layers())
def test_right_answers_are_never_marked_wrong(case, tmp_path_factory) -> None:
    """Shapes from the independent oracle, parameters from the layer's formula written here."""
    n, layer = case
    d = layer.get("dilation", 1)
    size = out_size(layer["type"], n, layer["kernel_size"], layer["stride"], layer["padding"], d)
    assume(size is not None)
    channels = layer.get("out_channels", 3)
    claims: list[dict[str, Any]] = [
        {"at": "layers[0]", "output_shape": [channels, size, size]},
        {"output_size": channels * size * size},
    ]
    if layer["type"] == "conv":
        weights = layer["out_channels"] * 3 * layer["kernel_size"] ** 2
        bias = layer["out_channels"] if layer["bias"] else 0
        claims += [
            {"at": "layers[0]", "params": weights + bias},
            {"at": "layers[0]", "weights": weights},
            {"total_params": weights + bias},
        ]
    result = grade(_file(tmp_path_factory.mktemp("g"), n, layer, claims))
    assert all(m.right for m in result.marks), result.marks


@settings(max_examples=examples(300), deadline=None)
@given(case=window_layers(), mistake=st.sampled_from(["ceil", "once", "dilation", "plus", "bias"]))
def test_every_named_mistake_is_recognised(case, mistake, tmp_path_factory) -> None:
    """A wrong answer made with one mistake, by a formula written here, is given that name
    (when no other mistake gives the same number)."""
    n, layer = case
    k, s, p = layer["kernel_size"], layer["stride"], layer["padding"]
    d = layer.get("dilation", 1)
    a = n + 2 * p - d * (k - 1) - 1
    assume(a >= 0)
    right = a // s + 1
    wrong_sizes = {
        "ceil": -(-a // s) + 1,
        "once": (n + p - d * (k - 1) - 1) // s + 1,
        "dilation": (n + 2 * p - (k - 1) - 1) // s + 1,
        "plus": a // s,
    }
    names = {
        "ceil": "ceil instead of floor",
        "once": "padding applied once instead of on both sides",
        "dilation": "forgot the dilation",
        "plus": "forgot the + 1",
        "bias": "forgot the bias",
    }
    channels = layer.get("out_channels", 3)
    if mistake == "bias":
        assume(layer["type"] == "conv" and layer["bias"])
        claim = {"at": "layers[0]", "params": layer["out_channels"] * 3 * k * k}
    else:
        wrong = wrong_sizes[mistake]
        others = [v for key, v in wrong_sizes.items() if key != mistake]
        assume(wrong != right and wrong > 0 and wrong not in others)
        claim = {"at": "layers[0]", "output_shape": [channels, wrong, wrong]}
    (mark,) = grade(_file(tmp_path_factory.mktemp("g"), n, layer, [claim])).marks
    assert not mark.right
    fair = {names[mistake]}
    if mistake != "bias":  # where another mistake gives the same number, its name is fair too
        claimed = claim["output_shape"][1]
        alike = {
            "forgot the − 1 after d·(k − 1)": (a + 1) // s + 1,
            "forgot the stride": a + 1,
            "forgot the padding": (n - d * (k - 1) - 1) // s + 1,
        }
        fair |= {name for name, value in alike.items() if value == claimed}
    assert mark.mistake in fair, (mark.mistake, fair)


@settings(max_examples=examples(200), deadline=None)
@given(
    layers=st.lists(
        st.tuples(st.integers(1, 5), st.integers(1, 3), st.integers(1, 2)), min_size=1, max_size=4
    )
)
def test_a_field_without_the_jumps_is_named(layers, tmp_path_factory) -> None:
    """The receptive field of a chain of convs added up without the strides' jumps, by the
    formula written here (1 + Σ d·(k − 1)), is recognised by name; the right one (Σ of each
    d·(k − 1) times the product of the strides before it) is marked right."""
    spec_layers = [
        {"type": "conv", "out_channels": 2, "kernel_size": k, "stride": s, "dilation": d}
        for k, s, d in layers
    ]
    right = no_jumps = jump = 1
    for k, s, d in layers:
        right += d * (k - 1) * jump
        no_jumps += d * (k - 1)
        jump *= s
    assume(right != no_jumps)
    spec = {"name": "net", "input": [1, 400], "layers": spec_layers}
    at = f"layers[{len(layers) - 1}]"
    body = {
        "spec": spec,
        "answers": [{"at": at, "receptive_field": no_jumps}, {"at": at, "receptive_field": right}],
    }
    path = answers(tmp_path_factory.mktemp("g"), yaml.safe_dump(body, sort_keys=False), "r.yaml")
    wrong, fine = grade(path).marks
    assert not wrong.right and wrong.mistake == "added the kernels without the strides between them"
    assert fine.right


# --- gradebooks and errors -----------------------------------------------------------------


def test_a_folder_of_students_gives_a_summary_and_a_gradebook(run, tmp_path) -> None:
    folder = tmp_path / "class"
    folder.mkdir()
    (folder / "ann.yaml").write_text(SEED.replace("Seed", "Ann"), encoding="utf-8")
    wrong = SEED.replace("Seed", "Ben").replace("weights: 65536", "weights: 65664")
    (folder / "ben.yaml").write_text(wrong, encoding="utf-8")
    book = tmp_path / "book.csv"
    result = run("check", str(folder), "--summary", "--csv", str(book))
    assert result.exit_code == 1
    lines = result.output.splitlines()
    assert lines[0].split() == ["student", "score", "of", "right", "file"]
    assert lines[1].split()[:4] == ["Ann", "8", "8", "8"]
    assert lines[2].split()[:4] == ["Ben", "7", "8", "7"]
    rows = list(csv.reader(io.StringIO(book.read_text(encoding="utf-8"))))
    assert rows[0] == ["student", "file", "3.1a", "3.1b", "3.2a", "3.2b", "3.2c", "score", "out_of"]
    assert rows[2][:4] == ["Ben", str(folder / "ben.yaml"), "4", "0"]


@pytest.mark.every_case
@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("spec: hw3-q3\nanswers:\n  - {at: 'layers[9]', output_shape: [1]}\n", "no layer at"),
        ("spec: hw3-q3\nanswers:\n  - {output_size: 1, total_params: 2}\n", "claims 2 values"),
        ("spec: hw3-q3\nanswers:\n  - {output_size: 1, colour: red}\n", "field colour"),
        ("spec: hw3-q3\nanswers:\n  - {output_size: 1.5}\n", "expected an integer"),
        ("spec: hw3-q3\nanswers: []\n", "non-empty list"),
        ("answers:\n  - {output_size: 1}\n", "needs spec:"),
        ("spec: nowhere.yaml\nanswers:\n  - {output_size: 1}\n", "nowhere.yaml"),
    ],
)
def test_invalid_answers_files_are_located(run, tmp_path, text: str, fragment: str) -> None:
    path = answers(tmp_path, text)
    result = run("check", path)
    assert result.exit_code == 2
    assert fragment in result.stderr
    assert "Traceback" not in result.stderr
    if "answers:\n  -" in text and "spec: hw3" in text:
        assert f"{path}:3:" in result.stderr  # the answer's own line


def test_grade_raises_for_the_library(tmp_path) -> None:
    with pytest.raises(ConvcalcError, match="no layer at"):
        grade(answers(tmp_path, "spec: hw3-q3\nanswers:\n  - {at: x, output_shape: [1]}\n"))


def test_review_cases_blocks_names_and_layers(tmp_path) -> None:
    spec = """\
spec:
  input: [2, 8, 8]
  layers:
    - type: residual
      name: res
      body:
        - {type: conv, out_channels: 4, kernel_size: 3, padding: 1, name: inner}
        - {type: relu}
      shortcut:
        - {type: conv, out_channels: 4, kernel_size: 1, name: inner}
    - {type: flatten}
answers:
"""
    claims = """\
  - {at: res, weights: 80}
  - {at: "layers[0].body[0]", output_shape: [4, 9, 9]}
  - {at: "layers[0].shortcut[0]", output_shape: [4, 9, 9]}
  - {at: "layers[1]", receptive_field: global}
"""
    # weights of the block: 4·2·3·3 + 4·2·1·1 = 72 + 8 = 80 (biases 4 + 4 left out)
    marks = grade(answers(tmp_path, spec + claims)).marks
    assert [m.credit for m in marks] == [1.0, 0.0, 0.0, 1.0]
    assert not marks[2].carried  # the shortcut's input is the block's, not the body's output
    with pytest.raises(ConvcalcError, match="names 2 layers"):
        grade(answers(tmp_path, spec + "  - {at: inner, params: 1}\n"))


def test_an_error_is_carried_into_a_block_and_out_of_it(tmp_path) -> None:
    """A branch's first layer takes the block's input, the block and the layer after it its
    output: a wrong size carried across either boundary, worked right, gets the carried
    credit."""
    text = """\
spec:
  input: [1, 16, 16]
  layers:
    - {type: conv, out_channels: 2, kernel_size: 3}
    - type: concat
      branches:
        - [{type: conv, out_channels: 2, kernel_size: 3, padding: 1}]
        - [{type: maxpool, kernel_size: 1}]
    - {type: conv, out_channels: 1, kernel_size: 3}
answers:
  - {at: "layers[0]", output_shape: [2, 15, 15]}
  - {at: "layers[1].branches[0][0]", output_shape: [2, 15, 15]}
  - {at: "layers[1]", output_shape: [4, 15, 15]}
  - {at: "layers[2]", output_shape: [1, 13, 13]}
"""
    # right: 16 − 3 + 1 = 14, so 2×14×14, then 2×14×14 (padding 1), 4×14×14, 1×12×12; the
    # student's 15 goes on as 15 + 2 − 3 + 1 = 15, 2 + 2 channels, and 15 − 3 + 1 = 13
    marks = grade(answers(tmp_path, text)).marks
    assert [m.credit for m in marks] == [0.0, CARRIED, CARRIED, CARRIED]
    assert [m.carried for m in marks] == [False, True, True, True]
    assert "carried over from your layers[0] (2×15×15)" in marks[1].mistake
    assert "carried over from your layers[0] (2×15×15)" in marks[2].mistake  # the whole block
    assert "carried over from your layers[1] (4×15×15)" in marks[3].mistake


def test_solve_questions_use_their_own_layer(tmp_path) -> None:
    # maxpool 7 → 3 in ceil mode: (k 2, s 2) gives ⌈5/2⌉ + 1 = 4 (the 4th window starts at
    # 6 < 7); (k 3, s 2) gives ⌈4/2⌉ + 1 = 3, then 2·2 = 4 < 7: kept, so 3
    text = (
        "spec: hw3-q3\nanswers:\n  - solve: {in: 7, out: 3, layer: maxpool, ceil_mode: true}\n"
        "    solutions: [[2, 2], [3, 2]]\n"
    )
    (mark,) = grade(answers(tmp_path, text)).marks
    assert mark.credit == 0.0
    assert mark.explanation == ("(k 2, s 2) gives 4, not 3",)


@pytest.mark.parametrize(
    "solve",
    [
        "{in: seven, out: 3}",
        "{in: 7, out: 3, ceil_mode: 'no'}",
        "{in: 7, out: 3, layer: conv_transpose}",
        "{in: 7, out: 3, padding: '0..2'}",
    ],
)
def test_bad_solve_questions_are_located(run, tmp_path, solve: str) -> None:
    path = answers(
        tmp_path, f"spec: hw3-q3\nanswers:\n  - solve: {solve}\n    solutions: [[2, 2]]\n"
    )
    result = run("check", path)
    assert result.exit_code == 2, result.output
    assert f"{path}:3:" in result.stderr and "Traceback" not in result.stderr
    bad = answers(
        tmp_path, "spec: hw3-q3\nanswers:\n  - solve: {in: 7, out: 3}\n    solutions: [['a', 2]]\n"
    )
    assert run("check", bad).exit_code == 2


# --- hostile answers files: each test below is the attack that found a defect ----------------

# a YAML mapping: a spec reader would quote its key back ("unknown field hunter2_password")
SECRET = "hunter2_password: [1, 2]\n"
REFUSED = "is neither a bundled spec nor a file below"
REPO = Path(__file__).parent.parent


def _beside_a_secret(tmp_path: Path) -> Path:
    """tmp/class/, the graded folder, with tmp/private/secret.yaml beside it."""
    (tmp_path / "private").mkdir()
    (tmp_path / "private" / "secret.yaml").write_text(SECRET, encoding="utf-8")
    folder = tmp_path / "class"
    (folder / "sub").mkdir(parents=True)
    (folder / "link.yaml").symlink_to(tmp_path / "private" / "secret.yaml")
    return folder


@pytest.mark.parametrize(
    "written",
    [
        "ABSOLUTE",  # the secret's absolute path
        "../private/secret.yaml",
        "sub/../../private/secret.yaml",
        "link.yaml",  # a link in the folder that leads out of it
        "/proc/self/environ",
        "/dev/stdin",
    ],
)
def test_a_spec_path_leading_out_of_the_folder_is_refused_unread(
    run, tmp_path, written: str
) -> None:
    folder = _beside_a_secret(tmp_path)
    if written == "ABSOLUTE":
        written = str(tmp_path / "private" / "secret.yaml")
    path = answers(folder, f"spec: {written}\nanswers:\n  - {{output_size: 1}}\n", "eve.yaml")
    result = run("check", path, input=SECRET)  # what /dev/stdin would give
    assert result.exit_code == 2
    assert f"{path}:1: spec: '{shown(written)}' {REFUSED}" in result.stderr
    assert "hunter2" not in result.stdout + result.stderr
    assert "Traceback" not in result.stderr


def test_a_refusal_says_nothing_of_whether_the_target_exists(run, tmp_path) -> None:
    folder = _beside_a_secret(tmp_path)
    errors = []
    for written in ("../private/secret.yaml", "../private/nothing.yaml"):
        path = answers(folder, f"spec: {written}\nanswers:\n  - {{output_size: 1}}\n")
        errors.append(run("check", path).stderr.replace(written, "X"))
    assert errors[0] == errors[1]


def test_a_bundled_name_is_the_bundled_spec_whatever_the_folder_holds(
    run, tmp_path, monkeypatch
) -> None:
    """A file named like a bundled spec in the working folder is not read in its place."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "hw3-q3").write_text(SECRET, encoding="utf-8")
    result = run("check", answers(tmp_path, SEED))
    assert result.exit_code == 0, result.stderr
    assert "hunter2" not in result.stderr


def test_specs_dir_names_the_folder_spec_paths_are_read_from(run, tmp_path) -> None:
    specs = tmp_path / "specs"
    (specs / "sub").mkdir(parents=True)
    net = "input: [1, 8, 8]\nlayers:\n  - {type: conv, out_channels: 2, kernel_size: 3}\n"
    (specs / "q.yaml").write_text(net, encoding="utf-8")
    folder = tmp_path / "class"
    (folder / "sub").mkdir(parents=True)
    (folder / "sub" / "q.yaml").write_text(net, encoding="utf-8")
    claim = "answers:\n  - {output_shape: [2, 6, 6]}\n"  # 8 − 3 + 1 = 6
    beside = answers(folder, "spec: sub/q.yaml\n" + claim, "ann.yaml")
    assert run("check", beside).exit_code == 0  # below the answers' own folder
    named = answers(folder, "spec: q.yaml\n" + claim, "ben.yaml")
    assert run("check", named, "--specs-dir", str(specs)).exit_code == 0
    assert REFUSED in run("check", named).stderr  # class/q.yaml does not exist
    up = answers(folder, "spec: ../specs/q.yaml\n" + claim, "cat.yaml")
    assert REFUSED in run("check", up).stderr  # '..' leads out of the folder
    assert REFUSED in run("check", beside, "--specs-dir", str(specs / "sub")).stderr


@pytest.mark.full
@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs on this system")
def test_a_fifo_in_the_graded_folder_hangs_nothing(tmp_path) -> None:
    """A FIFO as a spec and as an answers file: opening either for reading would wait for a
    writer forever; the run ends, Ann is marked, the other two are invalid rows."""
    folder = tmp_path / "class"
    folder.mkdir()
    os.mkfifo(folder / "pipe.yaml")
    (folder / "ann.yaml").write_text(SEED.replace("Seed", "Ann"), encoding="utf-8")
    (folder / "eve.yaml").write_text(
        "spec: pipe.yaml\nanswers:\n  - {output_size: 15488}\n", encoding="utf-8"
    )
    done = subprocess.run(
        [sys.executable, "-m", "convcalc", "check", str(folder), "--summary"],
        capture_output=True,
        encoding="utf-8",
        timeout=120,
        cwd=REPO,
        env={**os.environ, "PYTHONIOENCODING": "utf-8"},
        check=False,
    )
    assert done.returncode == 2, done.stderr
    rows = done.stdout.splitlines()
    assert len(rows) == 4
    assert rows[1].split()[:4] == ["Ann", "8", "8", "8"]
    assert rows[2].startswith("eve ") and f"'pipe.yaml' {REFUSED}" in rows[2]
    assert rows[3].startswith("pipe ") and "invalid: " in rows[3]


def test_user_text_is_never_a_formula_nor_a_terminal_command(run, tmp_path, monkeypatch) -> None:
    """Student names, file names and labels that a spreadsheet would run or a terminal would
    obey: each CSV cell gets OWASP's leading quote, each text line shows controls as escapes."""
    folder = tmp_path / "class"
    folder.mkdir()
    formula = '=HYPERLINK("http://evil.example","click")'
    ann = SEED.replace("student: Seed", f"student: '{formula}'").replace("3.2c", "'@SUM(A1)'")
    (folder / "ann.yaml").write_text(ann, encoding="utf-8")
    # a newline and spaces that would fake a row of the summary; ESC sequences
    fake = "Ben\\nMallory      8   8      8  mallory.yaml"
    (folder / "-2+3.yaml").write_text(SEED.replace("Seed", f'"{fake}"'), encoding="utf-8")
    (folder / "esc.yaml").write_text(
        SEED.replace("Seed", '"\\e[2J\\e]0;owned\\a"'), encoding="utf-8"
    )
    (folder / "\x1b[31mred.yaml").write_text("spec: hw3-q3\n", encoding="utf-8")  # invalid
    monkeypatch.chdir(folder)
    result = run("check", ".", "--summary", "--csv", "book.csv")
    assert result.exit_code == 2
    for text in (result.stdout, result.stderr):
        assert not any(c in text for c in "\x1b\x07")
    rows = result.stdout.splitlines()
    assert len(rows) == 5  # the header and one row per file, however the names are made
    assert any(r.startswith("Ben\\nMallory") for r in rows)
    book = list(csv.reader(io.StringIO(Path("book.csv").read_text(encoding="utf-8"))))
    cells = [cell for row in book for cell in row]
    assert not [c for c in cells if c[:1] in ("=", "+", "-", "@")]
    assert "'@SUM(A1)" in book[0]
    by_file = {row[1]: row for row in book[1:]}
    assert by_file["'-2+3.yaml"][0] == "Ben\\nMallory      8   8      8  mallory.yaml"
    assert by_file["ann.yaml"][0] == "'" + formula
    assert by_file["esc.yaml"][0] == "\\x1b[2J\\x1b]0;owned\\x07"
    single = run("check", "esc.yaml")
    assert single.stdout.startswith("\\x1b[2J\\x1b]0;owned\\x07 (esc.yaml): 8 / 8")


def test_one_students_crash_never_stops_the_others_marking(run, tmp_path) -> None:
    """A claimed stride of 0 (and a kernel of 0, a dilation of 0) is a wrong answer, marked
    as such: PyTorch refuses each ("non-positive stride is not supported")."""
    folder = tmp_path / "class"
    folder.mkdir()
    (folder / "ann.yaml").write_text(SEED.replace("Seed", "Ann"), encoding="utf-8")
    zed = (
        "student: Zed\nspec: hw3-q3\nanswers:\n"
        "  - solve: {in: 7, out: 3}\n    solutions: [[2, 0], [0, 2], [3, 2, 0, 0]]\n"
    )
    (folder / "zed.yaml").write_text(zed, encoding="utf-8")
    result = run("check", str(folder))
    assert result.exit_code == 1, result.output
    assert "(k 2, s 0) gives nothing, not 3" in result.stdout
    assert "(k 0, s 2) gives nothing, not 3" in result.stdout
    assert "(k 3, s 2, p 0, d 0) gives nothing, not 3" in result.stdout
    assert "mistake:" not in result.stdout.split("Zed")[1]  # no mistake gives M from those
    summary = result.stdout.splitlines()[-2:]
    assert summary[0].split()[:4] == ["Ann", "8", "8", "8"]
    assert summary[1].split()[:4] == ["Zed", "0", "1", "0"]


@pytest.mark.parametrize("answer", ["solutions: [[2, 0]]", "solutions: [[3, 1, 0, 0]]"])
def test_pytorch_refuses_what_the_grader_marks_as_giving_nothing(answer: str) -> None:
    torch = pytest.importorskip("torch")
    k, s, p, d = [*yaml.safe_load(answer)["solutions"][0], 0, 1][:4]
    with pytest.raises(RuntimeError):
        torch.nn.functional.conv1d(torch.zeros(1, 1, 7), torch.zeros(1, 1, k), None, s, p, d)


@pytest.mark.parametrize("value", ['"false"', "'true'", "1", "null", "[true]"])
def test_complete_is_a_boolean(run, tmp_path, value: str) -> None:
    path = answers(
        tmp_path,
        "spec: hw3-q3\nanswers:\n  - solve: {in: 7, out: 3}\n    solutions: [[2, 2]]\n"
        f"    complete: {value}\n",
    )
    result = run("check", path)
    assert result.exit_code == 2
    assert f"{path}:5: answers[0], field complete: true or false, not " in result.stderr


LABELLED = """\
spec: hw3-q3
answers:
  - &a {question: 3.10, at: "layers[0]", output_shape: [32, 61, 61]}
  - {question: 3.1, at: "layers[2]", weights: 65536}
  - {question: 3.1, at: "layers[1]", output_shape: [32, 13, 13]}
  - {<<: *a}
  - *a
  - {question: &q 2.50, output_size: 15488}
  - {question: *q, total_params: 71840}
  - {question: 1_0, at: "layers[1]", output_shape: [32, 12, 12]}
  - {question: 2024-01-01, at: "layers[2]", output_shape: [128, 11, 11]}
  - {question: yes, total_params: 1}
"""


def test_labels_are_kept_as_written(run, tmp_path) -> None:
    """``3.10`` and ``3.1`` are two questions, through anchors, aliases and merges too.
    The right values: hw3-q3's 32×61×61, 32×12×12 and 128×11×11 (the seed's), 128·32·4·4 =
    65,536 weights, 128·11·11 = 15,488 values, 32·3·8·8 + 32 + 65,536 + 128 = 71,840
    parameters; 32×13×13 is wrong."""
    path = answers(tmp_path, LABELLED)
    marks = grade(path).marks
    assert [m.question for m in marks] == [
        "3.10", "3.1", "3.1", "3.10", "3.10", "2.50", "2.50", "1_0", "2024-01-01", "yes"
    ]  # fmt: skip
    assert [m.credit for m in marks] == [1, 1, 0, 1, 1, 1, 1, 1, 1, 0]
    book = tmp_path / "book.csv"
    run("check", path, "--csv", str(book))
    rows = list(csv.reader(io.StringIO(book.read_text(encoding="utf-8"))))
    labels = ["3.10", "3.1", "2.50", "1_0", "2024-01-01", "yes"]
    assert rows[0] == ["student", "file", *labels, "score", "out_of"]
    assert rows[1][2:8] == ["3", "1", "2", "1", "1", "0"]


@settings(max_examples=examples(200), deadline=None)
@given(
    label=st.from_regex(
        r"[1-9][0-9]?\.[0-9]{1,3}0|[1-9][0-9_]{0,4}[0-9]|0\.[0-9]*[1-9]e[1-9]", fullmatch=True
    )
)
def test_a_numeric_label_is_its_text(label: str, tmp_path_factory) -> None:
    """Whatever number YAML reads a plain label as, the label is the text written."""
    folder = tmp_path_factory.mktemp("l")
    path = answers(folder, f"spec: hw3-q3\nanswers:\n  - {{question: {label}, output_size: 1}}\n")
    (mark,) = grade(path).marks
    assert mark.question == label


HUGE = "x" * 2_000_000


@pytest.mark.parametrize(
    "answer",
    [
        '{at: "layers[0]", receptive_field: "%s"}',
        '{output_size: "%s"}',
        '{at: "%s", output_size: 1}',
        'solve: {in: 7, out: 3, kernel_size: "%s"}\n    solutions: [[2, 2]]',
        'solve: {in: 7, out: 3, layer: "%s"}\n    solutions: [[2, 2]]',
        "solve: {in: 7, out: 3}\n    solutions: [[2, '%s']]",
        'output_size: 1\n    ? "%s"\n    : 2',  # an unknown key
    ],
)
def test_a_huge_value_is_never_echoed_whole(run, tmp_path, answer: str) -> None:
    path = answers(tmp_path, "spec: hw3-q3\nanswers:\n  - " + answer % HUGE + "\n")
    result = run("check", path)
    assert result.exit_code == 2
    assert f"{path}:3: answers[0]" in result.stderr
    assert len(result.stdout) + len(result.stderr) < 1_000


def test_a_huge_receptive_field_claim_at_a_global_field_is_refused(run, tmp_path) -> None:
    """Past a linear layer every output sees the whole input: the claim was shown whole."""
    spec = "spec:\n  input: [1, 4, 4]\n  layers:\n    - {type: flatten}\n"
    spec += "    - {type: linear, out_features: 2}\n"
    path = answers(tmp_path, spec + f'answers:\n  - {{at: "layers[1]", receptive_field: {HUGE}}}\n')
    result = run("check", path)
    assert result.exit_code == 2
    assert len(result.stdout) + len(result.stderr) < 1_000


@pytest.mark.parametrize("label", ["[1, 2]", "{a: 1}", "null", "~", ""])
def test_a_label_is_text_or_a_number(run, tmp_path, label: str) -> None:
    path = answers(tmp_path, f"spec: hw3-q3\nanswers:\n  - {{question: {label}, output_size: 1}}\n")
    result = run("check", path)
    assert result.exit_code == 2
    assert f"{path}:3: answers[0], field question: a question's label is text" in result.stderr


def test_every_value_of_a_claimed_setting_is_shown(tmp_path) -> None:
    """[3, 21, 1, 0]: dilation 0, which PyTorch refuses ("dilation should be greater than
    zero"), so it gives nothing; p and d are shown, not hidden behind (k 3, s 21)."""
    text = "spec: hw3-q3\nanswers:\n  - solve: {in: 7, out: 3}\n    solutions: [[3, 21, 1, 0]]\n"
    (mark,) = grade(answers(tmp_path, text)).marks
    assert mark.claimed == "(k 3, s 21, p 1, d 0)"
    assert mark.explanation == ("(k 3, s 21, p 1, d 0) gives nothing, not 3",)


def test_an_invalid_file_keeps_its_row_in_every_gradebook(run, tmp_path) -> None:
    folder = tmp_path / "class"
    folder.mkdir()
    (folder / "ann.yaml").write_text(SEED.replace("Seed", "Ann"), encoding="utf-8")
    (folder / "bob.yaml").write_text("student: Bob\nspec: hw3-q3\nanswers: []\n", encoding="utf-8")
    book = tmp_path / "book.csv"
    result = run("check", str(folder), "--summary", "--csv", str(book))
    assert result.exit_code == 2
    rows = result.stdout.splitlines()
    assert len(rows) == 3
    assert rows[1].split()[:4] == ["Ann", "8", "8", "8"]
    assert rows[2].startswith("Bob ") and "invalid: " in rows[2] and "non-empty list" in rows[2]
    gradebook = list(csv.reader(io.StringIO(book.read_text(encoding="utf-8"))))
    assert gradebook[0][-3:] == ["score", "out_of", "error"]
    assert gradebook[1][-3:] == ["8", "8", ""]
    assert gradebook[2][:2] == ["Bob", str(folder / "bob.yaml")]
    assert gradebook[2][-3:-1] == ["invalid", ""] and "non-empty list" in gradebook[2][-1]
    marks = json.loads(run("check", str(folder), "--format", "json").stdout)
    assert [m["student"] for m in marks] == ["Ann", "Bob"]
    assert "non-empty list" in marks[1]["error"] and marks[1]["score"] is None
    assert "error" not in marks[0]  # a valid file's entry is as it was


@pytest.mark.parametrize(
    ("answer", "where"),
    [
        ("solve: {in: 1e23, out: 3}\n    solutions: [[2, 2]]", "answers[0].solve, field in"),
        (
            "solve: {in: 100000000000000000000000, out: 3}\n    solutions: [[2, 2]]",
            "answers[0].solve, field in",
        ),
        (
            "solve: {in: 7, out: 3, stride: 0}\n    solutions: [[2, 2]]",
            "answers[0].solve, field stride",
        ),
        (
            "solve: {in: 7, out: 3, kernel_size: 9223372036854775808}\n    solutions: [[2, 2]]",
            "answers[0].solve, field kernel_size",
        ),
        (
            "solve: {in: 7, out: 3}\n    solutions: [[2, 9223372036854775808]]",
            "answers[0], field solutions",
        ),
        ("{output_size: 9223372036854775808}", "answers[0], field output_size"),
        ("{total_params: 1e3}", "answers[0], field total_params"),
        ("{at: 'layers[0]', output_shape: [32, 61.0, 61]}", "answers[0], field output_shape"),
        ("{at: 'layers[0]', output_shape: [32, true, 61]}", "answers[0], field output_shape"),
        ("{at: 'layers[0]', receptive_field: [8, true]}", "answers[0], field receptive_field"),
    ],
)
def test_integers_are_integers_within_two_to_the_63(run, tmp_path, answer: str, where: str) -> None:
    path = answers(tmp_path, "spec: hw3-q3\nanswers:\n  - " + answer + "\n")
    result = run("check", path)
    assert result.exit_code == 2, result.output
    assert f"{path}:3: {where}: " in result.stderr


def test_the_largest_integer_is_a_claim_like_any_other(run, tmp_path) -> None:
    path = answers(tmp_path, "spec: hw3-q3\nanswers:\n  - {output_size: 9223372036854775807}\n")
    result = run("check", path)
    assert result.exit_code == 1  # 2⁶³ − 1: wrong, but a claim
    assert "9,223,372,036,854,775,807 — right: 15,488" in result.stdout


@pytest.mark.full
@pytest.mark.parametrize("inline", [True, False])
def test_a_short_file_cannot_make_marking_take_minutes(run, tmp_path, inline) -> None:
    # a 999,990-times repeat unrolls to about 2,000,000 layers (a minute and 1 GB to analyse
    # and explain); an answers file's spec may unroll to 100,000 at most, refused before any work
    spec = "input: [1, 8]\nlayers:\n  - {type: repeat, times: 999990, layers: [{type: relu}]}\n"
    if inline:
        text = "spec:\n" + "".join(f"  {line}\n" for line in spec.splitlines())
    else:
        (tmp_path / "net.yaml").write_text(spec, encoding="utf-8")
        text = "spec: net.yaml\n"
    path = answers(tmp_path, text + "answers:\n  - {total_params: 1}\n", "a.yaml")
    done = subprocess.run(
        [sys.executable, "-m", "convcalc", "check", path],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2, done.stderr
    assert "unrolls to 999,991 layers, more than the 100,000" in done.stderr
    assert "field times" in done.stderr


def test_a_fractional_receptive_field_is_marked_alone_or_in_a_list(tmp_path) -> None:
    # hw3-q3's first conv: kernel 8, so its field is 8 (an integer): 1.5 is a wrong claim,
    # written alone or once per dimension, never an invalid file
    for claim in ("1.5", "[1.5, 1.5]"):
        text = f'spec: hw3-q3\nanswers:\n  - {{at: "layers[0]", receptive_field: {claim}}}\n'
        (mark,) = grade(answers(tmp_path, text, "r.yaml")).marks
        assert not mark.right, claim


@pytest.mark.torch
def test_the_other_named_mistakes_are_what_torch_counts_with_them(tmp_path) -> None:
    """Each wrong value made by torch itself with the mistake in the module: a grouped conv
    counted as if ungrouped (groups=1), BatchNorm counted with its buffers (the state dict,
    with and without the batch counter), a ceil-mode pool's size taken in floor mode."""
    torch = pytest.importorskip("torch")
    nn = torch.nn
    ungrouped = sum(p.numel() for p in nn.Conv2d(8, 16, 3, groups=1).parameters())
    norm = nn.BatchNorm2d(16)
    with_count = sum(t.numel() for t in norm.state_dict().values())
    without_count = with_count - norm.num_batches_tracked.numel()
    floor = nn.MaxPool2d(3, 2, ceil_mode=False)(torch.zeros(1, 16, 12, 12)).shape[-1]
    assert nn.MaxPool2d(3, 2, ceil_mode=True)(torch.zeros(1, 16, 12, 12)).shape[-1] != floor
    text = (
        "spec:\n  input: [8, 12, 12]\n  layers:\n"
        "    - {type: conv, out_channels: 16, kernel_size: 3, groups: 4, padding: 1}\n"
        "    - {type: batchnorm}\n"
        "    - {type: maxpool, kernel_size: 3, stride: 2, ceil_mode: true}\n"
        "answers:\n"
        f'  - {{at: "layers[0]", params: {ungrouped}}}\n'
        f'  - {{at: "layers[1]", params: {with_count}}}\n'
        f'  - {{at: "layers[1]", params: {without_count}}}\n'
        f'  - {{at: "layers[2]", output_shape: [16, {floor}, {floor}]}}\n'
    )
    marks = grade(answers(tmp_path, text, "m.yaml")).marks
    assert [m.mistake for m in marks] == [
        "forgot the groups",
        "counted BatchNorm's buffers as parameters",
        "counted BatchNorm's buffers as parameters",
        "floor instead of ceil (ceil_mode)",
    ]
    assert not any(m.right for m in marks)
