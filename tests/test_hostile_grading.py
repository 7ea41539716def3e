"""``convcalc check --key`` and ``convcalc quiz --format latex`` used as a hostile or careless
user would: each test pins one fault found by probing (it failed before its fix). Expected
values come from the inputs written here (file names, ids, points summed by hand), from
splitting the CSV text as a spreadsheet would, and from pdflatex's log — never from convcalc."""

from __future__ import annotations

import csv
import io
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from convcalc import escape
from convcalc.teach.gradebook import feedback_markdown
from convcalc.teach.key import grade_all_keyed, load_key
from tests.latex import compiles, needs_pdflatex

REPO = Path(__file__).parent.parent
EXAMPLE = REPO / "examples" / "hw3-grading"
ANN = (EXAMPLE / "class" / "ann.yaml").read_text(encoding="utf-8")
FORMULA = ("=", "+", "-", "@", "\uff1d", "\uff0b", "\uff0d", "\uff20")


def _class(tmp_path: Path) -> Path:
    """The shipped key and its variant spec in ``tmp_path``; an empty ``class`` folder."""
    shutil.copy(EXAMPLE / "key.yaml", tmp_path / "key.yaml")
    shutil.copy(EXAMPLE / "hw3-q3-pool-padding.yaml", tmp_path)
    (tmp_path / "class").mkdir()
    return tmp_path / "class"


def _student(folder: Path, name: str, head: str) -> Path:
    """Ann's answers (all right: 9 points) under another ``student:``/``student_id:`` head."""
    body = ANN.split("answers:", 1)[1]
    path = folder / f"{name}.yaml"
    path.write_text(f"{head}\nanswers:{body}", encoding="utf-8")
    return path


# --- work that grew faster than the input -------------------------------------------------------


@pytest.mark.full
def test_a_question_of_many_parts_is_marked_in_linear_time(tmp_path: Path) -> None:
    """10⁴ parts of one claim and 10⁴ answers to them: each answer used to scan every part
    twice (10⁸ steps, minutes); now a second or two. Every answer is total_params, right
    only for 71,840 (hw3-q3's 6,176 + 65,664), so exactly one part earns its share."""
    n = 10_000
    (tmp_path / "key.yaml").write_text(
        "spec: hw3-q3\nquestions:\n  - id: a\n    points: 1\n    parts:\n"
        + "      - {claim: total_params}\n" * n,
        encoding="utf-8",
    )
    (tmp_path / "a.yaml").write_text(
        "answers:\n"
        + "".join(f"  - {{question: a, total_params: {71830 + i}}}\n" for i in range(n)),
        encoding="utf-8",
    )
    key = load_key(str(tmp_path / "key.yaml"))  # no wall time asserted: quadratic, minutes
    (graded,) = grade_all_keyed(key, [str(tmp_path / "a.yaml")])
    assert not graded.error and graded.score == pytest.approx(1 / n)


@pytest.mark.full
def test_feedback_for_a_key_of_many_questions_is_linear(tmp_path: Path) -> None:
    """2·10⁴ questions: the feedback looked every question's items up in all the items
    (4·10⁸ steps); now each question's lines are found once."""
    n = 20_000
    (tmp_path / "key.yaml").write_text(
        "spec: hw3-q3\nquestions:\n"
        + "".join(f"  - {{id: q{i}, claim: total_params}}\n" for i in range(n)),
        encoding="utf-8",
    )
    (tmp_path / "a.yaml").write_text("answers:\n  - {question: q7, total_params: 71840}\n")
    key = load_key(str(tmp_path / "key.yaml"))
    (graded,) = grade_all_keyed(key, [str(tmp_path / "a.yaml")])
    text = feedback_markdown(graded, key)  # no wall time asserted: quadratic, minutes
    assert text.count("## Question q") == n and "Score: 1 / 20000 points" in text


# --- CSV: formulas wherever a spreadsheet may start a cell --------------------------------------

HOSTILE = [
    'x;=HYPERLINK("http://evil","x")',
    "eve;@SUM(1+1)",
    "a; +cmd|' /C calc'!A0",
    " =1+1",
    "\uff1d1+1",
    "ok;\uff0b1",
]


def _cells_anywhere(text: str) -> list[str]:
    """Every cell a spreadsheet could see: the cells as RFC 4180 reads them (commas outside
    quotes), and each line split at every semicolon (the separator where the decimal mark is
    a comma; a quote inside a cell is no quote there), spaces and a quote at a cell's start
    dropped."""
    pieces = [cell.lstrip(" ") for row in csv.reader(io.StringIO(text)) for cell in row]
    for line in text.splitlines():
        pieces += [p.lstrip(' "') for p in line.split(";")]
    return pieces


@pytest.mark.parametrize("style", ["plain", "moodle", "canvas"])
def test_no_gradebook_cell_is_a_formula_under_either_separator(run, tmp_path, style) -> None:
    folder = _class(tmp_path)
    for i, text in enumerate(HOSTILE):
        _student(folder, f"s{i}", f"student: {escape.yaml_str(text)}\n"
                 f"student_id: {escape.yaml_str(text + str(i))}")  # fmt: skip
    out = tmp_path / "grades.csv"
    result = run("check", "--key", str(tmp_path / "key.yaml"), str(folder), "--summary",
                 "--csv", str(out), "--csv-format", style)  # fmt: skip
    assert result.exit_code == 0, result.output
    text = out.read_text(encoding="utf-8")
    assert not [p for p in _cells_anywhere(text) if p.startswith(FORMULA)], text
    rows = list(csv.reader(io.StringIO(text)))
    assert len(rows) == len(HOSTILE) + 1 + (style == "canvas")


@given(st.text(alphabet=st.sampled_from(list("ab ;,=+-@'\"\t\uff1d")), max_size=12))
@example(';"=')  # a quote between the ';' and the '=': dropped by a spreadsheet splitting at ';'
@example('"=1')  # the same at the start of a row's first cell
def test_a_csv_cell_starts_no_formula_after_a_semicolon(text: str) -> None:
    buffer = io.StringIO()
    csv.writer(buffer).writerow(["x", escape.csv_cell(text)])
    assert not [p for p in _cells_anywhere(buffer.getvalue()) if p.startswith(FORMULA)]


# --- files the gradebook must not write over, files graded twice, ids claimed twice ------------


def test_the_gradebook_never_replaces_a_spec_the_key_reads(run, tmp_path: Path) -> None:
    folder = _class(tmp_path)
    _student(folder, "ann", "student_id: ann.lee")
    variant = tmp_path / "hw3-q3-pool-padding.yaml"
    before = variant.read_bytes()
    result = run("check", "--key", str(tmp_path / "key.yaml"), str(folder), "--csv", str(variant))
    assert result.exit_code == 2 and "--csv names the input" in result.stderr
    assert variant.read_bytes() == before


def test_a_file_named_twice_is_one_row(run, tmp_path: Path) -> None:
    folder = _class(tmp_path)
    ann = _student(folder, "ann", "student_id: ann.lee")
    result = run("check", "--key", str(tmp_path / "key.yaml"), str(folder), str(ann),
                 str(folder / "." / "ann.yaml"), "--summary")  # fmt: skip
    assert result.exit_code == 0, result.output
    assert result.stdout.count("ann.lee") == 1


def test_two_files_claiming_one_student_id_are_both_held_back(run, tmp_path: Path) -> None:
    """Eve writes Ann's id (another case, a trailing space): an import would give Ann Eve's row
    (or both). Both rows are held back, each naming the other file; Ben is marked."""
    folder = _class(tmp_path)
    _student(folder, "ann", "student_id: ann.lee")
    _student(folder, "eve", 'student_id: "Ann.Lee "')
    _student(folder, "ben", "student_id: ben")
    out = tmp_path / "g.csv"
    result = run("check", "--key", str(tmp_path / "key.yaml"), str(folder), "--summary",
                 "--csv", str(out), "--csv-format", "moodle")  # fmt: skip
    assert result.exit_code == 2 and "Traceback" not in result.stderr
    assert "ann.yaml: student_id 'ann.lee' is also the id in" in result.stderr
    assert re.search(
        r"eve\.yaml: student_id 'Ann\.Lee ' is also the id in \S*ann\.yaml", result.stderr
    )
    totals = {row[0]: row[-1] for row in csv.reader(io.StringIO(out.read_text("utf-8")))}
    assert totals["ben"] == "9" and totals["ann.lee"] == totals["Ann.Lee "] == "0"


def test_the_key_among_the_answers_files(run, tmp_path: Path) -> None:
    """Kept in the class folder, the key and its variant spec are no students; named as an
    answers file, the key is a row that says what it is."""
    folder = _class(tmp_path)
    for name in ("key.yaml", "hw3-q3-pool-padding.yaml"):
        shutil.move(tmp_path / name, folder / name)
    _student(folder, "ann", "student_id: ann.lee")
    key = str(folder / "key.yaml")
    result = run("check", "--key", key, str(folder), "--summary")
    assert result.exit_code == 0, result.output
    rows = result.stdout.splitlines()
    assert len(rows) == 2 and "ann.yaml" in rows[1]  # the header and Ann's row only
    result = run("check", "--key", key, key)
    assert result.exit_code == 2
    assert f"{key}: the answer key itself (--key), not an answers file" in result.stderr


def test_csv_to_standard_output_is_the_gradebook_alone(run, tmp_path: Path) -> None:
    folder = _class(tmp_path)
    _student(folder, "ann", "student: Ann Lee\nstudent_id: ann.lee")
    result = run("check", "--key", str(tmp_path / "key.yaml"), str(folder), "--csv", "-")
    assert result.exit_code == 0, result.output
    rows = list(csv.reader(io.StringIO(result.stdout)))
    assert rows[0][:3] == ["student_id", "student", "file"] and len(rows) == 2
    assert rows[1][:2] == ["ann.lee", "Ann Lee"] and rows[1][-4:-1] == ["9", "9", "100.0"]


# --- a careless key: every mistake located, none silently changing the points -------------------

BAD_KEYS = [
    ('  - {id: "  ", claim: total_params}\n', "questions[0], field id"),
    ("  - {id: a, claim: total_params, unit: true}\n", "questions[0], field unit"),
    ("  - {id: a, claim: total_params, unit: 1.0}\n", "questions[0], field unit"),
    ("  - {id: a, parts: [{claim: total_params, points: 5}, {claim: output_size}]}\n",
     "questions[0].parts[0], field points: points for some parts but not all"),
    ("  - {id: a, points: 2, parts: [{claim: total_params, points: 5}]}\n",
     "questions[0], field points: points 2, but its parts' points add up to 5"),
    ("  - {id: a, at: 'layers[2]', claim: receptive_field, accept: [{value: [.nan]}]}\n",
     "questions[0].accept[0], field value"),
    ("  - {id: a, at: 'layers[2]', claim: receptive_field, accept: [{value: {x: 1}}]}\n",
     "questions[0].accept[0], field value"),
]  # fmt: skip


@pytest.mark.parametrize(("question", "where"), BAD_KEYS)
def test_a_careless_key_is_refused_and_located(run, tmp_path, question: str, where: str) -> None:
    (tmp_path / "key.yaml").write_text(f"spec: hw3-q3\nquestions:\n{question}", encoding="utf-8")
    (tmp_path / "a.yaml").write_text("answers: []\n", encoding="utf-8")
    result = run("check", "--key", str(tmp_path / "key.yaml"), str(tmp_path / "a.yaml"))
    assert result.exit_code == 2 and "Traceback" not in result.stderr
    assert f"key.yaml:3: {where}" in result.stderr, result.stderr


def test_an_unknown_top_level_key_names_its_line(run, tmp_path: Path) -> None:
    (tmp_path / "key.yaml").write_text(
        "spec: hw3-q3\nquestions: [{id: a, claim: total_params}]\nquestion: []\n", "utf-8"
    )
    (tmp_path / "a.yaml").write_text("answers: []\nanswer: []\n", encoding="utf-8")
    result = run("check", "--key", str(tmp_path / "key.yaml"), str(tmp_path / "a.yaml"))
    assert result.exit_code == 2 and "key.yaml:3: field question: unknown key" in result.stderr
    shutil.copy(EXAMPLE / "key.yaml", tmp_path / "key.yaml")
    shutil.copy(EXAMPLE / "hw3-q3-pool-padding.yaml", tmp_path)
    result = run("check", "--key", str(tmp_path / "key.yaml"), str(tmp_path / "a.yaml"))
    assert result.exit_code == 2 and "a.yaml:2: unknown key 'answer'" in result.stderr
    (tmp_path / "b.yaml").write_text("spec: hw3-q3\nanswers: []\n\nanswer: []\n", "utf-8")
    result = run("check", str(tmp_path / "b.yaml"))
    assert result.exit_code == 2 and "b.yaml:4: unknown key 'answer'" in result.stderr


# --- the LaTeX quiz -----------------------------------------------------------------------------


@pytest.mark.full
def test_solutions_written_where_the_exam_goes_are_refused(tmp_path: Path) -> None:
    """``--solutions exam.tex > exam.tex`` wrote the exam over the solutions sheet."""
    exam = tmp_path / "exam.tex"
    with exam.open("w") as out:
        done = subprocess.run(
            [sys.executable, "-m", "convcalc", "quiz", "--count", "1", "--format", "latex",
             "--solutions", str(exam)],
            stdout=out, stderr=subprocess.PIPE, text=True, timeout=120,
        )  # fmt: skip
    assert done.returncode == 2, done.stderr
    assert "--solutions names the file standard output goes to" in done.stderr


@pytest.mark.full
@needs_pdflatex
def test_a_title_of_long_words_stays_inside_the_margins(run, tmp_path: Path) -> None:
    """A 140-character word (and TeX's own syntax) in the title: no overfull line, nothing
    read from /etc/passwd."""
    word = "_".join(["Supercalifragilisticexpialidocious"] * 4)
    title = f"{word} \\input{{/etc/passwd}} ^^5cinput %{{"
    key = tmp_path / "key.tex"
    result = run("quiz", "--count", "1", "--format", "latex", "--solutions", str(key),
                 "--title", title)  # fmt: skip
    assert result.exit_code == 0, result.output
    compiles(result.stdout, tmp_path, "exam")
    compiles(key.read_text("utf-8"), tmp_path, "key")
    assert "root:" not in (tmp_path / "exam.log").read_text("utf-8", errors="replace")


def test_feedback_never_replaces_a_file_convcalc_did_not_write(run, tmp_path) -> None:
    # a student whose id is README would have replaced the folder's own README.md; a file the
    # feedback wrote before (its first line the mark) is replaced, as a second run expects
    folder = _class(tmp_path)
    student = _student(folder, "someone", "student_id: README")
    out = tmp_path / "out"
    out.mkdir()
    (out / "README.md").write_text("the course's own notes\n")
    key = str(tmp_path / "key.yaml")
    done = run("check", "--key", key, str(student), "--feedback", str(out))
    assert done.exit_code == 2 and "convcalc did not write it" in done.stderr
    assert (out / "README.md").read_text() == "the course's own notes\n"
    (out / "README.md").unlink()
    for _ in range(2):  # written, then replaced
        done = run("check", "--key", key, str(student), "--feedback", str(out))
        assert done.exit_code == 0, done.stderr
    assert (out / "README.md").read_text().startswith("<!-- convcalc check --feedback -->\n")
