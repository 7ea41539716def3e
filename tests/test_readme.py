"""The documents' examples are real: README.md's and every page's of docs/ (the MkDocs site).

Every ``$ convcalc ...`` command of a ```text block is run and must print what is shown under
it; every ```python block runs; the README's Quick start keeps the two commands CI runs; the
README's key numbers are checked against sources outside convcalc; and every relative link of
the README leads to a file (and heading) that exists (the site's own links are checked by
``mkdocs build --strict``, which CI runs).
"""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path

import pytest

from tests.conftest import Invoke
from tests.documents import ROOT, all_blocks, documents, read
from tests.documents import blocks as fenced

README = read(ROOT / "README.md")


def blocks(language: str) -> list[str]:
    """The README's fenced blocks of ``language``."""
    return fenced(README, language)


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
    code = next(b for _, b in all_blocks("python") if "from convcalc.reference import" in b)
    exec(compile(code, "api.md", "exec"), {})
    assert capsys.readouterr().out.splitlines()[0] == "67"


@pytest.mark.full
def test_every_python_example_runs(capsys: pytest.CaptureFixture[str]) -> None:
    """Every ```python block of the documents runs, and prints what its comments say where a
    ``print(...)  # VALUE`` line gives a whole value (the library's example: 11689512 (1000,),
    [32, 12, 12], 545, ...)."""
    ran = 0
    for path, code in all_blocks("python"):
        exec(compile(code, str(path), "exec"), {})
        printed = capsys.readouterr().out.splitlines()
        said = [
            line.split("  # ", 1)[1]
            for line in code.splitlines()
            if line.startswith("print(") and "  # " in line
        ]
        for shown in said:
            if ":" not in shown and "·" not in shown:  # a value, not a remark
                assert any(line == shown for line in printed), (path.name, shown, printed)
        ran += 1
    assert ran >= 2


def examples() -> tuple[dict[str, str], list[tuple[str, str, str]]]:
    """The documents' spec files (```yaml blocks that start with ``# file: NAME``; one name is
    one file everywhere) and every ``$ convcalc ...`` command of their ```text blocks with the
    output shown under it and the document that shows it."""
    files: dict[str, str] = {}
    for path, block in all_blocks("yaml"):
        first, _, rest = block.partition("\n")
        if first.startswith("# file: "):
            name = first.removeprefix("# file: ").strip()
            assert files.get(name, rest) == rest, f"{path.name}: two different files {name}"
            files[name] = rest
    commands = []
    for path, block in all_blocks("text"):
        for part in re.split(r"^(?=\$ convcalc )", block, flags=re.MULTILINE):
            if part.startswith("$ convcalc "):
                command, _, output = part.partition("\n")
                commands.append((path.name, command.removeprefix("$ "), output))
    return files, commands


@pytest.mark.full
def test_every_example_is_the_real_output(
    run: Invoke, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import shlex

    files, commands = examples()
    for name, text in files.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    checked = set()
    for document, command, shown in commands:
        args, _, pipe = command.partition(" | ")
        words = shlex.split(args)[1:]
        if any(w.endswith(".yaml") and w not in files for w in words):
            continue  # a file the documents describe but do not give (an error example)
        output = run(*words).output
        if pipe:  # only `| head -N`
            lines = int(pipe.split()[-1].lstrip("-"))
            output = "".join(output.splitlines(keepends=True)[:lines])
        assert output == shown, f"{document}: {command}"
        checked.add(document)
    # the pages that show commands: each has examples checked here
    assert {"README.md", "getting-started.md", "specs.md", "shapes-and-costs.md"} <= checked
    assert {"solving.md", "teaching.md", "conventions.md", "keras.md"} <= checked
    assert len(commands) >= 30


# --- links -------------------------------------------------------------------------------------

LINK = re.compile(r"\]\((?P<target>[^)\s]+)\)")


def slug(heading: str) -> str:
    """A heading's anchor, as MkDocs' table of contents (Python-Markdown's toc) and GitHub make
    it: the text without its markup, lower case, punctuation dropped, spaces as hyphens."""
    text = re.sub(r"[`*]", "", heading.lstrip("#").strip())
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    text = re.sub(r"[^\w\s-]", "", text).strip().lower()
    return re.sub(r"[-\s]+", "-", text)


def anchors(path: Path) -> set[str]:
    """The anchors of a Markdown file's headings (outside fenced blocks)."""
    found, fence = set(), False
    for line in read(path).splitlines():
        if line.startswith("```"):
            fence = not fence
        elif not fence and line.startswith("#"):
            found.add(slug(line))
    return found


def test_slug_is_the_toc_s() -> None:
    assert slug("## `convcalc check`: the grader") == "convcalc-check-the-grader"
    assert (
        slug("## From Keras: `convcalc import model.json`")
        == "from-keras-convcalc-import-modeljson"
    )
    assert slug("### Size rules (PyTorch 2.13)") == "size-rules-pytorch-213"


def test_every_readme_link_leads_somewhere() -> None:
    """The README's relative links: each names a file or folder of the repository and, with a
    ``#anchor``, a heading of that file."""
    targets = [m["target"] for m in LINK.finditer(README)]
    local = [t for t in targets if not re.match(r"[a-z]+:", t)]
    assert len(local) >= 20
    for target in local:
        where, _, anchor = target.partition("#")
        path = ROOT / where if where else ROOT / "README.md"
        assert path.exists(), target
        if anchor:
            assert anchor in anchors(path), target


def test_every_page_is_in_the_sites_navigation() -> None:
    """Each page of docs/ is in mkdocs.yml's nav (a page left out is built but never linked)."""
    config = read(ROOT / "mkdocs.yml")
    pages = {str(p.relative_to(ROOT / "docs")) for p in documents() if p.name != "README.md"}
    missing = [page for page in sorted(pages) if f": {page}" not in config]
    assert not missing, f"mkdocs.yml's nav lacks {missing}"


def test_the_documents_speak_of_the_project_alone() -> None:
    """No document points outside the repository (a path above it, a machine's own folder)."""
    for path in documents():
        text = read(path)
        assert "../shared" not in text and "/tmp/" not in text and "/work/" not in text, path


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
    section = README.split("## The zoo", 1)[1].split("<!-- the torchvision zoo", 1)[0]
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


@pytest.mark.full
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
