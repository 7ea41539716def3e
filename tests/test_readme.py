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


def test_every_example_is_the_real_output(run, tmp_path, monkeypatch) -> None:
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
