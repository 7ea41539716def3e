"""The escaping functions, each read back by its medium's own parser (XML, CSV, YAML, Python,
Markdown's rules), on hostile text."""

from __future__ import annotations

import ast
import csv
import io
import os
import random
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from convcalc import escape
from convcalc.budget import Budget, WorkLimit
from convcalc.errors import shown
from convcalc.paths import PathRefused, resolve
from tests.latex import compiles, needs_pdflatex

HOSTILE = [
    "\x1b]0;pwned\x07\x1b[2J",
    "a\nb",
    "nul\x00del\x7f\x01",
    '=HYPERLINK("http://x")',
    "<img src=x onerror=alert(1)>",
    "| a | b |",
    "`code`",
    "1e3",
    "2e-3",
    "line\u2028sep\x85next",
    "\\textbf{x}$^_&%#~",
    "'''\"\"\"",
    "\u202eevil",
    "",
]
TEXT = st.text(st.characters(codec="utf-8"), max_size=40) | st.sampled_from(HOSTILE)


@given(TEXT)
def test_terminal_text_has_no_control_characters(text: str) -> None:
    out = escape.terminal(text)
    assert all(ord(c) >= 0x20 and not 0x7F <= ord(c) <= 0x9F for c in out)
    assert "\u2028" not in out and "\u202e" not in out
    if text.isprintable() and text.isascii():
        assert out == text


@given(TEXT)
def test_xml_text_parses_as_one_text_node_and_attribute(text: str) -> None:
    out = escape.xml(text)
    root = ET.fromstring(f"<a b=\"{out}\" c='{out}'>{out}</a>")
    assert root.attrib["b"] == root.attrib["c"] == (root.text or "")
    assert len(root) == 0
    if all(c.isprintable() or c in "\t\n\r" for c in text) and "\ufffe" not in text:
        assert (root.text or "") == text


@given(TEXT)
def test_csv_cells_are_never_formulas_and_read_back(text: str) -> None:
    buffer = io.StringIO()
    csv.writer(buffer).writerow([escape.csv_cell(text), "x"])
    [row] = list(csv.reader(io.StringIO(buffer.getvalue())))
    assert len(row) == 2
    assert not row[0].startswith(("=", "+", "-", "@", "\t", "\r"))


@given(TEXT)
def test_yaml_scalars_read_back_as_the_string(text: str) -> None:
    assert yaml.safe_load(f"name: {escape.yaml_str(text)}") == {"name": text}


@given(TEXT)
def test_python_literals_evaluate_to_the_text(text: str) -> None:
    assert ast.literal_eval(escape.python_str(text)) == text


@given(TEXT)
def test_python_comments_stay_on_their_line(text: str) -> None:
    comment = escape.python_comment(text)
    source = f"x = 1  # {comment}\ny = '''{comment}'''\nz = \"\"\"{comment}\"\"\"\n"
    tree = ast.parse(source)
    assert [type(node).__name__ for node in tree.body] == ["Assign"] * 3


@pytest.mark.parametrize("text", HOSTILE)
def test_markdown_leaves_no_markup(text: str) -> None:
    out = escape.markdown(text)
    assert "<" not in out and "\n" not in out
    # every | and backtick is escaped: none can end a table cell or open a code span
    for i, c in enumerate(out):
        if c in "|`":
            assert out[i - 1] == "\\"


@pytest.mark.full
@needs_pdflatex
def test_latex_text_compiles_for_any_text(tmp_path: Path) -> None:
    """The hostile texts and 300 random ones (any code point, short enough for a line) in one
    document: pdflatex builds it without an error."""
    rng = random.Random(1)
    texts = [*HOSTILE]
    for _ in range(300):
        texts.append(
            "".join(
                chr(rng.choice([rng.randrange(0x20, 0x7F), rng.randrange(0x110000)]))
                for _ in range(rng.randrange(1, 12))
            )
        )
    body = "".join(f"{escape.latex(t)}\\par\n" for t in texts)
    compiles(
        "\\documentclass{article}\n\\begin{document}\n\\sloppy\n" + body + "\\end{document}\n",
        tmp_path,
    )


def test_full_width_names_fold_as_python_reads_them() -> None:
    assert escape.identifier_fold("ｔｏｒｃｈ") == "torch"
    namespace: dict[str, object] = {}
    exec("ｔｏｒｃｈ = 1", namespace)  # Python itself folds the name
    assert "torch" in namespace


def test_budget_stops_past_its_limit() -> None:
    budget = Budget(3, "narrow it")
    budget.spend(3)
    assert not budget.allows(1)
    with pytest.raises(WorkLimit, match="passed 3 steps: narrow it"):
        budget.spend()


def test_paths_allow_bundled_names_and_regular_files_below(tmp_path: Path) -> None:
    (tmp_path / "net.yaml").write_text("input: [1, 4]\nlayers: []\n")
    (tmp_path / "sub").mkdir()
    assert resolve("hw3-q3", tmp_path, {"hw3-q3"}).bundled == "hw3-q3"
    assert resolve("net.yaml", tmp_path, set()).text == "input: [1, 4]\nlayers: []\n"
    assert resolve("sub/../net.yaml", tmp_path, set()).text is not None


def test_paths_refuse_everything_else_alike(tmp_path: Path) -> None:
    outside = tmp_path / "secret.yaml"
    outside.write_text("input: [1, 4]\nlayers: []\n# the secret\n")
    folder = tmp_path / "answers"
    folder.mkdir()
    (folder / "link.yaml").symlink_to(outside)
    (folder / "dir").mkdir()
    os.mkfifo(folder / "fifo.yaml")
    messages = set()
    for written in [
        "../secret.yaml",
        str(outside),
        "link.yaml",
        "dir",
        "fifo.yaml",
        "/dev/stdin",
        "/proc/self/environ",
        "missing.yaml",
        "../missing.yaml",
        "~/x",
        "a\x00b",
    ]:
        with pytest.raises(PathRefused) as caught:
            resolve(written, folder, set())
        message = str(caught.value)
        assert "secret" not in message.replace("secret.yaml", "")
        assert message.startswith(f"'{shown(written)}' is neither")
        messages.add(message.partition("' is neither")[2])
    assert len(messages) == 1  # nothing tells an existing target from a missing one
