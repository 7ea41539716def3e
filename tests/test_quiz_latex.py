"""``convcalc quiz --format latex``: an exam sheet on standard output and its solutions sheet in
``--solutions``, both compiled by pdflatex (skipped without it, outside CI), read back against
the questions, with the user's text escaped."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from convcalc.teach.quiz import quiz
from convcalc.teach.quiz_formats import Choice, Question, to_latex
from tests.latex import compiles, needs_pdflatex

HOSTILE = "Quiz \\input{/etc/passwd} $x$ & 50% #1 a_b {c} ~ ^ < > | ` -- ü\nline"


# the only LaTeX in the texts convcalc's questions hold: symbols as formulas, escaped specials
_DETEX = {
    r"$\times$": "×",
    r"$\cdot$": "·",
    r"$-$": "−",
    r"$\lfloor$": "⌊",
    r"$\rfloor$": "⌋",
    r"$\lceil$": "⌈",
    r"$\rceil$": "⌉",
    r"$\geq$": "≥",
    r"$\theta$": "θ",
    r"\_": "_",
    "-{}": "-",
}


def detex(tex: str) -> str:
    """The plain text of a LaTeX line written from convcalc's own questions."""
    for code, char in _DETEX.items():
        tex = tex.replace(code, char)
    assert "\\" not in tex and "$" not in tex, tex
    return tex


def test_exam_and_solutions_on_the_command_line(run, tmp_path: Path) -> None:
    """The exam (standard output) asks each question with its choices lettered in order and
    no answer; the solutions sheet (--solutions) gives each answer's letter and text and each
    wrong choice's own mistake; read back line by line."""
    key = tmp_path / "key.tex"
    args = ["quiz", "--seed", "4", "--count", "12", "--difficulty", "3", "--format", "latex"]
    result = run(*args, "--solutions", str(key))
    assert result.exit_code == 0, result.output
    exam, solutions = result.stdout, key.read_text("utf-8")
    questions = quiz(4, 12, difficulty=3)
    assert (exam, solutions) == to_latex(questions, "convcalc quiz")
    assert "Answer" not in exam and "\\section*{convcalc quiz: solutions}" in solutions
    asked = re.split(r"^\\item \\textbf\{", exam, flags=re.MULTILINE)[1:]
    answered = re.split(r"^\\item \\textbf\{", solutions, flags=re.MULTILINE)[1:]
    assert len(asked) == len(answered) == len(questions)
    for q, shown, solved in zip(questions, asked, answered, strict=True):
        choices = [detex(x) for x in re.findall(r"^\\item (.*)$", shown, flags=re.MULTILINE)]
        assert choices == [c.text for c in q.choices], q.id
        letter = "ABCDE"[[c.correct for c in q.choices].index(True)]
        answer = re.search(r"^\\textbf\{Answer:\} ([A-E])\) (.*)$", solved, flags=re.MULTILINE)
        assert answer and (answer[1], detex(answer[2])) == (letter, q.answer), q.id
        wrong = dict(re.findall(r"^\\item\[([A-E])\)\] (.*)$", solved, flags=re.MULTILINE))
        expected = {
            x: f"{c.text}: {c.feedback}"
            for x, c in zip("ABCDE", q.choices, strict=False)
            if not c.correct
        }
        assert {x: detex(t) for x, t in wrong.items()} == expected, q.id


def test_latex_needs_its_solutions_file(run, tmp_path: Path) -> None:
    """Two documents or none: --format latex without --solutions, --solutions with another
    format, and --solutions - (both on standard output) are refused."""
    for args in (
        ["--format", "latex"],
        ["--format", "markdown", "--solutions", str(tmp_path / "key.tex")],
        ["--format", "latex", "--solutions", "-"],
    ):
        result = run("quiz", "--count", "2", *args)
        assert result.exit_code == 2 and "--solutions" in result.stderr, args
    assert not (tmp_path / "key.tex").exists()


@pytest.mark.full
@needs_pdflatex
@pytest.mark.parametrize("difficulty", [1, 2, 3])
def test_both_sheets_compile(run, tmp_path: Path, difficulty: int) -> None:
    """Every topic twice, under both conventions' wordings, with a hostile title."""
    key = tmp_path / "key.tex"
    args = ["quiz", "--seed", str(difficulty), "--count", "12", "--difficulty", str(difficulty)]
    convention = ["--convention", "torchinfo"] if difficulty == 2 else []
    result = run(
        *args, *convention, "--format", "latex", "--solutions", str(key), "--title", HOSTILE
    )
    assert result.exit_code == 0, result.output
    assert (
        "\\input{" not in result.stdout
        and "\\textbackslash{}input\\{/etc/passwd\\}" in result.stdout
    )
    compiles(result.stdout, tmp_path, "exam")
    compiles(key.read_text("utf-8"), tmp_path, "key")


@pytest.mark.full
@needs_pdflatex
def test_hand_made_questions_compile(tmp_path: Path) -> None:
    """What convcalc's own questions never hold: a line starting with [, code blocks (indented
    and fenced), specials in choices and feedback, an open question with accepted answers."""
    text = "[a] first line\n\n  code:  x = {1}\n    indented % more\n\n```\nfenced $ & #\n```\nend"
    questions = [
        Question(
            "h1",
            "shape",
            1,
            "Odd_title & 100%",
            text,
            "a\\b",
            "why: [x]\nnext ~ line",
            (Choice("a\\b", True, ""), Choice("{c}", False, "# no"), Choice("[d]", False, "^_^")),
        ),
        Question("h2", "mlp", 2, "Open", "How many?", "42", "six sevens", numeric=42),
        Question("h3", "rf", 3, "Words", "Say it", "yes", "", accepted=("yes", "y*s")),
    ]
    exam, solutions = to_latex(questions, HOSTILE)
    compiles(exam, tmp_path, "exam")
    compiles(solutions, tmp_path, "key")
    assert "Answer: \\hrulefill" in exam and "Accepted: yes; y*s" in solutions


def test_a_blank_title_is_refused() -> None:
    with pytest.raises(ValueError, match="title"):
        to_latex(quiz(0, 1), " \n")
