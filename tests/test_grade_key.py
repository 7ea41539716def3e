"""``convcalc check --key``: answer keys with points and accepted variants, a gradebook that keeps
every student, Moodle's and Canvas's CSV imports, feedback files; and the grader's fixes (``at``
errors, the quoting hint, ``weights`` worked with its own formula, the ceil-mode window dropped
in the right padding). Every expected score is summed here from the key's points and values
worked by hand or by tests/oracle.py, never taken from convcalc."""

from __future__ import annotations

import csv
import io
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from convcalc.teach.gradebook import csv_keyed
from convcalc.teach.key import grade_all_keyed, load_key
from tests.budget import examples
from tests.oracle import out_size

REPO = Path(__file__).parent.parent
EXAMPLE = REPO / "examples" / "hw3-grading"
# the grading section is on the site's teaching page (the README links to it)
README = (REPO / "docs" / "teaching.md").read_text(encoding="utf-8")


def rows(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text)))


# --- the shipped key and class, and the documentation's grading section ----------------------


def _expected_class() -> dict[str, float]:
    """The shipped class's scores, worked by hand from the homework's solution and the key's
    points (read from the key's YAML here): 3.1a is 4 points over 4 parts, 3.1b 2, each 3.2 1."""
    key = yaml.safe_load((EXAMPLE / "key.yaml").read_text(encoding="utf-8"))
    pts = {str(q["id"]): q.get("points", 1) for q in key["questions"]}
    part = pts["3.1a"] / 4
    # Ben: 32×13×13, 128×12×12 and 18,432 are the padded variant's ((61 + 4 − 5)/5 + 1 = 13,
    # 13 + 2 − 4 + 1 = 12, 128·12·12): accepted; 65,664 counts the 128 biases: 0
    assert out_size("maxpool", 61, 5, 5, 2, 1) == 13 and out_size("conv", 13, 4, 1, 1, 1) == 12
    ben = 4 * part + 0 + pts["3.2a"] + pts["3.2b"] + pts["3.2c"]
    # Cho: 128×9×9 forgets the padding (12 − 4 + 1 = 9): 0; 10,368 = 128·9·9 carried: half;
    # (k 50, s 5) gives ⌊14/5⌋ + 1 = 3, not 4: 0
    assert out_size("conv", 12, 4, 1, 0, 1) == 9 and out_size("conv", 64, 50, 5, 0, 1) == 3
    cho = 2 * part + 0.5 * part + pts["3.1b"] + pts["3.2b"] + pts["3.2c"]
    # Dev: stride forgotten, (128 − 8)/1 + 1 = 121: 0; the pool on it, ⌊116/5⌋ + 1 = 24,
    # carried: half; two parts and two questions unanswered: 0; 3.3 is not in the key
    assert out_size("conv", 128, 8, 1, 0, 1) == 121 and out_size("maxpool", 121, 5, 5, 0, 1) == 24
    dev = 0.5 * part + pts["3.1b"] + pts["3.2a"]
    total = sum(pts.values())
    return {"ann": total, "ben": ben, "cho": cho, "dev": dev, "eve": 0, "": total}


def test_the_readme_grading_section_runs_end_to_end(run, tmp_path, monkeypatch) -> None:
    """The documentation's command on the shipped key and class folder: its output is the shown one,
    exit 2 (Eve's file cannot be read), and the Canvas gradebook holds every student once with
    the scores worked by hand."""
    block = next(b for b in re.findall(r"```text\n(.*?)```", README, flags=re.DOTALL)
                 if b.startswith("$ convcalc check --key "))  # fmt: skip
    command, _, shown = block.partition("\n")
    shutil.copytree(EXAMPLE, tmp_path / "examples" / "hw3-grading")
    monkeypatch.chdir(tmp_path)
    result = run(*command.split()[2:])
    assert result.exit_code == 2
    assert result.stdout == shown
    assert "eve.yaml:5: YAML syntax error" in result.stderr and "quote a path" in result.stderr
    book = rows((tmp_path / "grades.csv").read_text(encoding="utf-8"))
    expected = _expected_class()
    assert book[1] == ["Points Possible", "", "", "", "", f"{expected['']:g}"]
    scores = {row[2].split(".")[0]: float(row[5]) for row in book[2:]}
    assert scores == {name: value for name, value in expected.items() if name}
    assert len(book) == 2 + 5


def test_the_shipped_key_validates_against_its_schema(run) -> None:
    jsonschema = pytest.importorskip("jsonschema")
    import json

    schema = json.loads(run("schema", "--key").stdout)
    jsonschema.Draft202012Validator.check_schema(schema)
    key = yaml.safe_load((EXAMPLE / "key.yaml").read_text(encoding="utf-8"))
    jsonschema.validate(key, schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({**key, "accept": []}, schema)  # what the old grader refused


def test_the_seed_solution_scores_every_point_and_the_variant_too(tmp_path) -> None:
    """The seed's own answers (32×12×12) and the announced variant (32×13×13, a max-pool
    padding of 2) both earn 3.1a's points."""
    key = load_key(str(EXAMPLE / "key.yaml"))
    seed, variant = (EXAMPLE / "class" / "ann.yaml"), tmp_path / "v.yaml"
    variant.write_text(
        (EXAMPLE / "class" / "ben.yaml").read_text(encoding="utf-8").replace("65664", "65536"),
        encoding="utf-8",
    )
    for graded in grade_all_keyed(key, [str(seed), str(variant)]):
        assert graded.score == graded.out_of == 9, graded


# --- property: random keys and answers files ------------------------------------------------


@st.composite
def classes(draw: Any) -> tuple[dict[str, Any], list[dict[str, Any]], list[str]]:
    """A chain of 2–4 conv or max-pool layers on a square input, a key asking random claims
    of it with random points, and students answering each question right, wrong by a named
    mistake, not at all, or with a question the key lacks; some files invalid."""
    size, channels = draw(st.integers(24, 48)), draw(st.integers(1, 4))
    layers, shapes, params = [], [], []
    n, c = size, channels
    for _ in range(draw(st.integers(2, 4))):
        kind = draw(st.sampled_from(["conv", "maxpool"]))
        k, s = draw(st.integers(1, 4)), draw(st.integers(1, 2))
        p = draw(st.integers(0, k // 2))
        out = out_size(kind, n, k, s, p, 1)
        if out is None or out < 2:
            break
        if kind == "conv":
            oc = draw(st.integers(1, 8))
            layers.append({"type": "conv", "out_channels": oc, "kernel_size": k, "stride": s,
                           "padding": p})  # fmt: skip
            params.append((oc * c * k * k + oc, oc))  # weights and biases, by hand
            c = oc
        else:
            layers.append({"type": "maxpool", "kernel_size": k, "stride": s, "padding": p})
            params.append((0, 0))
        shapes.append((c, out, out))
        n = out
    questions = []
    for i in range(len(layers)):
        claims = ["output_shape"] + (["params"] if params[i][0] else [])
        for claim in draw(st.lists(st.sampled_from(claims), unique=True)):
            questions.append({"id": f"q{len(questions) + 1}", "points": draw(st.integers(0, 5)),
                              "at": f"layers[{i}]", "claim": claim})  # fmt: skip
    if not questions:
        questions.append({"id": "q1", "points": 2, "claim": "total_params"})
    key = {"title": "Quiz", "spec": {"input": [channels, size, size], "layers": layers},
           "questions": questions}  # fmt: skip
    right = {}
    for q in questions:
        if q["claim"] == "total_params":
            right[q["id"]] = sum(w for w, _ in params)
        else:
            i = int(q["at"][7:-1])
            right[q["id"]] = list(shapes[i]) if q["claim"] == "output_shape" else params[i][0]
    students, expected = [], []
    for j in range(draw(st.integers(1, 5))):
        answers, score, claimed = [], 0.0, {}
        invalid = draw(st.booleans()) and draw(st.booleans())
        for q in questions:
            how = draw(st.sampled_from(["right", "wrong", "missing"]))
            if how == "missing":
                continue
            value = right[q["id"]]
            if how == "wrong":  # forgot the + 1 (a shape), forgot the bias (a count)
                if q["claim"] == "output_shape":
                    value = [value[0], value[1] - 1, value[2] - 1]
                else:
                    value = value - sum(b for _, b in params) if q["claim"] == "total_params" \
                        else value - params[int(q["at"][7:-1])][1]  # fmt: skip
            answer = {"question": q["id"], q["claim"]: value}
            if "at" in q:
                answer["at"] = q["at"]
            answers.append(answer)
            if value == right[q["id"]]:
                score += q["points"]
            elif q["claim"] == "output_shape" and value[1] > 0:
                i = int(q["at"][7:-1])  # carried: the layer's rule on the student's own shape
                before = claimed.get(i - 1)
                if before is not None and before != list(shapes[i - 1]):
                    layer = layers[i]
                    out = out_size(layer["type"], before[1], layer["kernel_size"],
                                   layer["stride"], layer["padding"], 1)  # fmt: skip
                    if out is not None and out == value[1]:
                        score += 0.5 * q["points"]
            if q["claim"] == "output_shape":
                claimed[int(q["at"][7:-1])] = value
        if draw(st.booleans()):
            answers.append({"question": "not-asked", "total_params": 1})
        if invalid:
            answers.append({"question": "q1", "colour": "red"})
        students.append({"student": f"S{j}", "student_id": f"s{j}", "answers": answers})
        expected.append("invalid" if invalid else score)
    return key, students, [str(e) for e in expected]


@settings(max_examples=examples(200), deadline=None)
@given(case=classes())
def test_random_keys_give_the_points_summed_here(case, tmp_path_factory) -> None:
    key_data, students, expected = case
    folder = tmp_path_factory.mktemp("k")
    (folder / "key.yaml").write_text(yaml.safe_dump(key_data), encoding="utf-8")
    (folder / "class").mkdir()
    for student in students:
        name = f"{student['student_id']}.yaml"
        (folder / "class" / name).write_text(yaml.safe_dump(student), encoding="utf-8")
    key = load_key(str(folder / "key.yaml"))
    results = grade_all_keyed(key, [str(folder / "class")])
    total = sum(q["points"] for q in key_data["questions"])
    assert [r.out_of for r in results] == [total] * len(students)
    for r, want in zip(results, expected, strict=True):
        if want == "invalid":
            assert r.error and "field colour" in r.error and r.score == 0
        else:
            assert not r.error and r.score == pytest.approx(float(want)), r
            answered = {a["question"] for a in students[int(r.student_id[1:])]["answers"]}
            unanswered = [i for i in r.items if i.mark is None]
            assert {i.question for i in unanswered}.isdisjoint(answered)
            assert ("not-asked" in answered) == any("not-asked" in e for e in r.extras)
    book = rows(csv_keyed(results, key))
    ids = [str(q["id"]) for q in key_data["questions"]]
    assert book[0] == ["student_id", "student", "file", *ids, "score", "out_of", "percent", "error"]
    assert sorted(row[0] for row in book[1:]) == sorted(s["student_id"] for s in students)
    for row, want in zip(book[1:], expected, strict=True):
        score = float(row[-4])
        assert score == (0 if want == "invalid" else pytest.approx(float(want), abs=0.01))
        assert sum(float(v) for v in row[3:-4]) == pytest.approx(score, abs=0.05)
        assert bool(row[-1]) == (want == "invalid")


# --- Moodle's and Canvas's imports ------------------------------------------------------------


def test_moodle_and_canvas_read_the_gradebook(run, tmp_path) -> None:
    """Each platform's documented import columns.

    Moodle (MoodleDocs, "Grade import", https://docs.moodle.org/311/en/Grade_import): a CSV
    whose first row names the columns; on import one column is mapped to a user field ("Map
    from" / "Map to": "ID number" to useridnumber, or "Email address" to useremail) and each
    other column to a grade item; grades are numbers.

    Canvas (Ohio State's CarmenCanvas guide, "Import a CSV File into Carmen Grades",
    https://teaching.resources.osu.edu/toolsets/carmencanvas/guides/calculating-final-grades/import-csv-file-carmen-grades,
    after Canvas's own gradebook export): columns Student, ID, SIS User ID, SIS Login ID and
    Section (one of Student, ID, SIS User ID identifies the student), then one column per
    assignment; a new assignment's column creates it. Canvas's export puts a "Points
    Possible" row under the header."""
    key = str(EXAMPLE / "key.yaml")
    folder = str(EXAMPLE / "class")
    expected = _expected_class()
    moodle, canvas = tmp_path / "moodle.csv", tmp_path / "canvas.csv"
    assert run("check", "--key", key, folder, "--csv", str(moodle), "--csv-format", "moodle",
               "--summary").exit_code == 2  # fmt: skip
    run("check", "--key", key, folder, "--csv", str(canvas), "--csv-format", "canvas")
    book = rows(moodle.read_text(encoding="utf-8"))
    assert book[0] == ["ID number", "Full name", "3.1a", "3.1b", "3.2a", "3.2b", "3.2c", "Total"]
    by_id = {row[0]: row for row in book[1:]}
    assert len(by_id) == len(book) - 1 == 5  # each student once, Eve's invalid file too
    for ident, row in by_id.items():
        assert all(re.fullmatch(r"\d+(\.\d+)?", cell) for cell in row[2:])
        assert float(row[-1]) == expected[ident.split(".")[0]]
        assert sum(map(float, row[2:-1])) == float(row[-1])
    book = rows(canvas.read_text(encoding="utf-8"))
    assert book[0][:5] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section"]
    assert book[0][5] == "Homework 3, Question 3" and len(book[0]) == 6
    assert book[1][0] == "Points Possible" and float(book[1][5]) == expected[""]
    assert {row[2] for row in book[2:]} == {"ann.lee", "ben.okafor", "cho.park", "dev.shah", "eve"}


# --- feedback files ---------------------------------------------------------------------------


def test_feedback_files_are_named_by_the_policy_and_escaped(run, tmp_path) -> None:
    """One Markdown file per student: a hostile id cannot lead out of the folder, two alike get
    two files, a name cannot inject HTML; each file holds the mark, the mistake and working."""
    shutil.copy(EXAMPLE / "key.yaml", tmp_path / "key.yaml")
    shutil.copy(EXAMPLE / "hw3-q3-pool-padding.yaml", tmp_path)
    folder = tmp_path / "class"
    folder.mkdir()
    cho = (EXAMPLE / "class" / "cho.yaml").read_text(encoding="utf-8")
    (folder / "a.yaml").write_text(
        cho.replace("student: Cho Park", "student: <img src=x onerror=alert(1)>").replace(
            "student_id: cho.park", "student_id: ../../escape"
        ),
        encoding="utf-8",
    )
    # another id (two ids alike but for case are one student: both held back), the same name
    (folder / "b.yaml").write_text(cho.replace("cho.park", "'..//escape'"), encoding="utf-8")
    out = tmp_path / "feedback"
    result = run("check", "--key", str(tmp_path / "key.yaml"), str(folder), "--feedback", str(out))
    assert result.exit_code == 1, result.output
    names = sorted(p.name for p in out.iterdir())
    assert names == ["escape-2.md", "escape.md"] or names == ["Escape-2.md", "escape.md"]
    assert not list(tmp_path.glob("escape*")) and not list(tmp_path.parent.glob("escape*"))
    text = (out / "escape.md").read_text(encoding="utf-8")
    assert "<img" not in text and "&lt;img" in text
    assert "mistake: forgot the padding" in text  # 12 − 4 + 1 = 9 where 12 + 2 − 4 + 1 = 11
    assert "⌊10 / 1⌋ + 1 = 11" in text
    assert "Score: 6.5 / 9 points" in text


# --- the key's options: tolerance, units, explicit values, credit rules -----------------------


def test_millions_within_a_tolerance_explicit_values_and_credit_rules(tmp_path) -> None:
    """hw3-q3's first conv: 32·3·8·8·61·61 = 22,861,824 multiply-adds, so 22.86 million is
    right within 5,000; 45.72 million (FLOPs) is not. 32×13×13 accepted as a value."""
    right = 32 * 3 * 8 * 8 * 61 * 61
    (tmp_path / "key.yaml").write_text(
        "spec: hw3-q3\ncredit: {carried: 0, incomplete: all}\nquestions:\n"
        "  - {id: m, at: 'layers[0]', claim: mult_adds, unit: million,"
        " tolerance: {absolute: 5000}, points: 2}\n"
        "  - {id: s, at: 'layers[1]', claim: output_shape, accept: [{value: [32, 13, 13]}]}\n"
        "  - {id: c, at: 'layers[2]', claim: output_shape}\n"
        "  - {id: k, claim: solutions, complete: true,"
        " solve: {in: 64, out: 4, kernel_size: '49..51'}}\n",
        encoding="utf-8",
    )
    key = load_key(str(tmp_path / "key.yaml"))

    def score(answers: str) -> float:
        (tmp_path / "a.yaml").write_text("answers:\n" + answers, encoding="utf-8")
        (graded,) = grade_all_keyed(key, [str(tmp_path / "a.yaml")])
        assert not graded.error, graded.error
        return graded.score

    assert round(right / 1e6, 2) == 22.86
    assert score("  - {question: m, mult_adds: 22.86}\n") == 2
    assert score(f"  - {{question: m, mult_adds: {round(2 * right / 1e6, 2)}}}\n") == 0
    # 13 + 2 − 4 + 1 = 12 from the accepted 13: carried, but the key gives carried 0
    assert score("  - {question: s, output_shape: [32, 13, 13]}\n"
                 "  - {question: c, output_shape: [128, 12, 12]}\n") == 1  # fmt: skip
    # the whole set for 64 → 4 with k in 49..51 (brute force): half of it is 0 under `all`
    every = [(k, s) for k in (49, 50, 51) for s in range(1, 65)
             if out_size("conv", 64, k, s, 0, 1) == 4]  # fmt: skip
    assert score(f"  - {{question: k, solutions: {[list(t) for t in every]}}}\n") == 1
    assert score(f"  - {{question: k, solutions: {[list(t) for t in every[:2]]}}}\n") == 0


@pytest.mark.every_case
@pytest.mark.parametrize(
    ("question", "field"),
    [
        ("{id: a, at: conv1, claim: output_shape}", "field at: no layer at 'conv1'"),
        ("{id: a, at: 'layers[0]', claim: shape}", "field claim: one of output_shape"),
        ("{at: 'layers[0]', claim: output_shape}", "field id: a question needs its id"),
        ("{id: a, claim: solutions, solve: {in: 7}}", "field solve"),
        ("{id: a, claim: params}", "field at: params needs at"),
        ("{id: a, claim: output_shape, tolerance: {absolute: 1}}", "field tolerance"),
        ("{id: a, claim: output_size, points: -1}", "field points"),
    ],
)
def test_a_bad_key_is_located(run, tmp_path, question: str, field: str) -> None:
    (tmp_path / "key.yaml").write_text(
        f"spec: hw3-q3\nquestions:\n  - {question}\n", encoding="utf-8"
    )
    (tmp_path / "a.yaml").write_text("answers: []\n", encoding="utf-8")
    result = run("check", "--key", str(tmp_path / "key.yaml"), str(tmp_path / "a.yaml"))
    assert result.exit_code == 2 and "Traceback" not in result.stderr
    assert f"key.yaml:3: questions[0], {field}" in result.stderr, result.stderr


def test_key_only_options_need_a_key(run, tmp_path) -> None:
    path = tmp_path / "a.yaml"
    path.write_text("spec: hw3-q3\nanswers:\n  - {total_params: 71840}\n", encoding="utf-8")
    result = run("check", str(path), "--feedback", str(tmp_path / "f"))
    assert result.exit_code == 2 and "--feedback needs --key" in result.stderr


# --- the fixes ----------------------------------------------------------------------------------


def test_an_unknown_at_is_reported_against_at(run, tmp_path) -> None:
    path = tmp_path / "a.yaml"
    path.write_text("spec: hw3-q3\nanswers:\n  - {at: conv1, output_shape: [1]}\n", "utf-8")
    result = run("check", str(path))
    assert result.exit_code == 2
    assert f"{path}:3: answers[0], field at: no layer at 'conv1'" in result.stderr


def test_an_unquoted_path_in_braces_gets_the_quoting_hint(run, tmp_path) -> None:
    path = tmp_path / "a.yaml"
    path.write_text("spec: hw3-q3\nanswers:\n  - {at: layers[1], params: 0}\n", "utf-8")
    result = run("check", str(path))
    assert result.exit_code == 2
    assert "did not find expected ',' or '}'" in result.stderr
    assert 'quote a path with brackets: at: "layers[1]"' in result.stderr
    path.write_text("spec: hw3-q3\nanswers:\n  - {at: 'layers[1]' params: 0}\n", "utf-8")
    assert "quote a path" not in run("check", str(path)).stderr  # another mistake: no hint


def test_weights_are_worked_with_their_own_formula(run, tmp_path) -> None:
    """3.1b asks for the parameters without biases: 128·32·4·4 = 65,536 is right as weights;
    65,664 (with the 128 biases) is wrong and worked out as the weights, not the parameters."""
    path = tmp_path / "a.yaml"
    path.write_text(
        "spec: hw3-q3\nanswers:\n  - {at: 'layers[2]', weights: 65536}\n"
        "  - {at: 'layers[2]', weights: 65664}\n",
        "utf-8",
    )
    out = run("check", str(path)).stdout
    assert f"weights: 65,664 — right: {128 * 32 * 4 * 4:,}" in out
    assert "mistake: counted the bias" in out
    assert f"weights = 128·32·4·4 = {128 * 32 * 4 * 4:,}" in out
    assert "parameters =" not in out and "65,664   (" not in out


def test_the_ceil_mode_window_in_the_right_padding_is_a_named_mistake(tmp_path) -> None:
    """MaxPool(2, stride 2, padding 1, ceil_mode) on 5: ⌈(5 + 2 − 2)/2⌉ + 1 = 4 windows, but
    the 4th would start at 3·2 = 6 ≥ 5 + 1, in the right padding, and is dropped: 3 (the
    oracle, and torch where installed). 4 is that rule ignored, not a forgotten − 1."""
    assert out_size("maxpool", 5, 2, 2, 1, 1, ceil=True) == 3
    try:
        import torch
    except ImportError:
        pass
    else:
        pool = torch.nn.MaxPool1d(2, 2, padding=1, ceil_mode=True)
        assert pool(torch.zeros(1, 1, 5)).shape[-1] == 3
    from convcalc.teach.grade import grade

    path = tmp_path / "a.yaml"
    path.write_text(
        "spec:\n  input: [1, 5]\n  layers:\n"
        "    - {type: maxpool, kernel_size: 2, stride: 2, padding: 1, ceil_mode: true}\n"
        "answers:\n  - {at: 'layers[0]', output_shape: [1, 4]}\n",
        "utf-8",
    )
    (mark,) = grade(str(path)).marks
    assert mark.mistake.startswith("kept a last window that starts in the right padding")
