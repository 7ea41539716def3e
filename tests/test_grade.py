"""``convcalc check``: answers marked against independent values, mistakes named, partial credit,
gradebooks, and located errors."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from convcalc.errors import ConvcalcError
from convcalc.grade import CARRIED, grade
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
  - {question: e, at: "layers[0]", mult_adds: 45961792}
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
    # torchinfo's 22,980,896 for the first conv (the README's table), doubled
    assert "mistake: FLOPs (2 per multiply-add) given as multiply-adds" in out
    # 71,840 − 32 − 128 biases = 71,680; 71,360 is neither: no name, just the right value
    assert "network total_params: 71,360 — right: 71,840" in out
    marks = json.loads(run("check", answers(tmp_path, text), "--format", "json").output)
    assert [m["credit"] for m in marks[0]["marks"]] == [0, 0.5, 0.5, 0, 0, 0]


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
    if mistake != "bias" and (a + 1) // s + 1 == claim["output_shape"][1]:
        return  # "forgot the − 1" gives the same number: either name is fair
    if mistake != "bias" and a + 1 == claim["output_shape"][1]:
        return  # so does "forgot the stride"
    if mistake != "bias" and (n - d * (k - 1) - 1) // s + 1 == claim["output_shape"][1]:
        return  # and "forgot the padding"
    assert mark.mistake == names[mistake]


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
