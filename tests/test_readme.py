"""The README's examples are real: its table is the CLI's output and its Python example runs."""

from __future__ import annotations

import re
from pathlib import Path

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


def test_the_shape_example_is_the_real_output(run) -> None:
    example = next(b for b in blocks("text") if b.startswith("$ convcalc shape hw3-q3\n"))
    assert example.split("\n", 1)[1] == run("shape", "hw3-q3").stdout


def test_the_python_example_runs(capsys) -> None:
    code = next(b for b in blocks("python") if "from convcalc.reference import" in b)
    exec(compile(code, "README.md", "exec"), {})
    assert capsys.readouterr().out.splitlines()[0] == "67"
