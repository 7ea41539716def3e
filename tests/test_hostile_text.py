"""Names that attack their medium: a spec whose name and layer names hold escape sequences that
retitle or clear a terminal, NUL, DEL, U+0001, a line separator, a right-to-left override, HTML,
a table's pipe, backticks and every LaTeX special, through every writer of the network's text.

Each output is read back by its medium's own reader: ElementTree and Chromium for SVG, pdflatex
for LaTeX and TikZ, markdown-it (or the table's structure) for Markdown, the standard library's
HTMLParser for the report, the GIFT and Moodle XML readers of test_quiz_formats for the quiz;
terminal text is searched for any character a terminal acts on. The visible forms expected are
written out by hand below, one escape per control character.
"""

from __future__ import annotations

import html
import json
import random
import re
import unicodedata
import xml.etree.ElementTree as ET
from collections.abc import Callable
from html.parser import HTMLParser
from pathlib import Path

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

import convcalc
from convcalc import escape
from convcalc.analysis import Report
from convcalc.render import text as render
from convcalc.render.draw import to_svg, to_tikz
from convcalc.render.html import to_html
from convcalc.views import explain, lint
from convcalc.views.costs import compare
from tests.conftest import Invoke
from tests.latex import compiles, needs_pdflatex
from tests.test_draw import (
    HAS_TIKZ,
    chromium,
    needs_chromium,
    png_colours,
    screenshot,
    texts,
)
from tests.test_quiz_formats import check_gift, check_moodle, parse_gift

# as YAML's double-quoted escapes: ESC ]0;…BEL sets a terminal's title, ESC [2J clears it
EVIL_YAML = (
    r"\e]0;pwned\a\e[2J\0\x7f\x01\u2028\u202e<img src=x onerror=alert(1)> | `tick` "
    r"\\ { } $ & # _ % ~ ^"
)
# the same text as Python holds it
EVIL = (
    "\x1b]0;pwned\x07\x1b[2J\x00\x7f\x01\u2028\u202e<img src=x onerror=alert(1)> | `tick` "
    "\\ { } $ & # _ % ~ ^"
)
# what a reader must see: every control character as its Python escape, the rest as it is
EVIL_SHOWN = (
    r"\x1b]0;pwned\x07\x1b[2J\x00\x7f\x01\u2028\u202e<img src=x onerror=alert(1)> | `tick` "
    r"\ { } $ & # _ % ~ ^"
)
SPEC = f"""name: "net {EVIL_YAML}"
input: [3, 17, 17]
layers:
  - {{type: conv, out_channels: 4, kernel_size: 3, stride: 2, name: "conv {EVIL_YAML}"}}
  - type: residual
    name: "block {EVIL_YAML}"
    body:
      - {{type: conv, out_channels: 4, kernel_size: 3, padding: 1, name: "inner {EVIL_YAML}"}}
  - {{type: maxpool, kernel_size: 3, stride: 2, name: "pool {EVIL_YAML}"}}
"""
Write = Callable[..., str]  # the conftest fixture: a spec's text (and file name) to its path
CONV_FILL = bytes.fromhex("d4e4f7")  # a conv box's colour in the diagrams
# the characters a terminal acts on or that reorder or break a line: C0 and C1 controls, DEL,
# the line and paragraph separators, the bidirectional controls (Unicode's categories)
# the format characters that reorder or mark text, by Unicode's own names (independent of the
# set convcalc.escape writes out): the directional marks, embeddings, overrides and isolates,
# and the byte-order mark (in the Basic Multilingual Plane)
_REORDERING = ("MARK", "EMBEDDING", "OVERRIDE", "ISOLATE", "DIRECTIONAL", "NO-BREAK SPACE")
BIDI = {
    chr(i)
    for i in range(0x10000)
    if unicodedata.category(chr(i)) == "Cf"
    and any(word in unicodedata.name(chr(i), "") for word in _REORDERING)
}


def acted_on(text: str) -> list[str]:
    """The characters of ``text`` a terminal would act on, but for the newlines and tabs that
    lay out its lines."""
    return [
        c
        for c in text
        if c not in "\n\t" and (unicodedata.category(c) in ("Cc", "Zl", "Zp") or c in BIDI)
    ]


def report() -> Report:
    return convcalc.analyse(convcalc.load_spec(SPEC))


def test_the_spec_holds_the_hostile_names() -> None:
    """YAML's own reader decodes the names as written above: the attack is really there."""
    data = yaml.safe_load(SPEC)
    assert data["name"] == f"net {EVIL}"
    assert data["layers"][0]["name"] == f"conv {EVIL}"
    assert report().name == f"net {EVIL}"


# --- terminal text ---------------------------------------------------------------------------


def test_terminal_texts_show_control_characters_as_escapes() -> None:
    rep = report()
    outputs = {
        "table": render.table(rep),
        "table --rf": render.table(rep, rf=True),
        "explain": explain.render(rep, explain.explain(rep), "text"),
        "costs": render.costs_table(compare(rep, 1)),
        "lint": lint.render_text(rep.name, lint.lint(rep)),
    }
    for what, text in outputs.items():
        assert acted_on(text) == [], what
        assert f"net {EVIL_SHOWN}" in text, what
    for what in ("table", "explain", "lint"):
        assert f"pool {EVIL_SHOWN}" in outputs[what], what
    assert f"inner {EVIL_SHOWN}" in outputs["table"]


@pytest.mark.parametrize(
    "args",
    [
        ["shape"],
        ["shape", "--rf"],
        ["shape", "--explain"],
        ["shape", "--depth", "1"],
        ["lint"],
        ["costs"],
    ],
)
def test_cli_terminal_output_is_inert(run: Invoke, write: Write, args: list[str]) -> None:
    result = run(*args, write(SPEC))
    assert result.exit_code == 0, result.output
    assert acted_on(result.output) == []
    assert f"net {EVIL_SHOWN}" in result.output


def test_file_names_in_headings_and_errors_are_inert(
    run: Invoke, write: Write, tmp_path: Path
) -> None:
    """A spec without a name is named after its file; a file that fails names itself."""
    file = write("input: [3, 8, 8]\nlayers: [{type: relu}]\n", "\x1b]0;pwned\x07\u202e.yaml")
    for args in (["shape"], ["shape", "--explain"], ["lint"], ["costs"]):
        result = run(*args, file)
        assert result.exit_code == 0
        assert acted_on(result.output) == []
        assert r"\x1b]0;pwned\x07\u202e" in result.output
    missing = str(tmp_path / "\x1b[2J\x1b]0;pwned\x07.yaml")
    for args in (["shape"], ["lint"], ["costs"], ["draw"], ["report"]):
        result = run(*args, missing)
        assert result.exit_code == 2, args
        assert acted_on(result.output) == [], args
        assert r"\x1b[2J\x1b]0;pwned\x07.yaml" in result.output
    unwritable = str(tmp_path / "no-such-folder" / "\x1b]0;pwned\x07.svg")
    result = run("draw", "hw3-q3", "-o", unwritable)
    assert result.exit_code == 2
    assert acted_on(result.output) == [] and r"\x1b]0;pwned\x07.svg" in result.output


# --- SVG -------------------------------------------------------------------------------------


def test_svg_is_well_formed_xml_with_the_names_as_text(run: Invoke, write: Write) -> None:
    rep = report()
    figures = [to_svg(rep, style=style, costs=True) for style in ("blocks", "flow")]
    figures += [to_svg(rep, style="flow", costs=True, depth=1)]
    figures.append(run("draw", write(SPEC), "--style", "flow").output)
    for svg in figures:
        root = ET.fromstring(svg)  # raises on anything not well-formed
        assert not [el for el in root.iter() if el.tag.rpartition("}")[2] == "img"]
        title = root.find("{http://www.w3.org/2000/svg}title")
        assert title is not None and (title.text or "").startswith(f"net {EVIL_SHOWN}: ")
        assert acted_on(svg) == []
        shown = texts(svg)
        assert any(f"net {EVIL_SHOWN}" in text for text in shown)
    flow = texts(figures[1])
    for layer in ("conv", "inner", "pool"):
        assert any(f"{layer} {EVIL_SHOWN}" in text for text in flow), layer


@needs_chromium
@pytest.mark.full
def test_chromium_draws_the_hostile_svg(tmp_path: Path) -> None:
    """Chromium shows an XML error page, not the figure, for an SVG that is not well-formed."""
    svg = to_svg(report(), style="blocks", costs=True)
    source = tmp_path / "hostile.svg"
    source.write_text(svg, encoding="utf-8")
    out = tmp_path / "hostile.png"
    width, height = (int(n) for n in re.findall(r'<svg[^>]* width="(\d+)" height="(\d+)"', svg)[0])
    screenshot(source.as_uri(), out, width, height, tmp_path)
    png_width, _, colours = png_colours(out)
    assert png_width == width
    assert any(c[:3] == CONV_FILL for c in colours), "no conv box drawn"


# measures, in the browser, the texts of the flow figure (the first) against their boxes, and
# those of every figure against its page (the blocks style writes its labels beside the blocks)
MEASURE = """
var out = [];
var figures = document.querySelectorAll("svg");
figures[0].querySelectorAll("g.box").forEach(function (g) {
  var r = g.querySelector("rect");
  var x0 = r.x.baseVal.value, x1 = x0 + r.width.baseVal.value;
  g.querySelectorAll("text").forEach(function (t) {
    var b = t.getBBox();
    if (b.x < x0 || b.x + b.width > x1) { out.push("box: " + t.textContent); }
  });
});
figures.forEach(function (svg) {
  var page = svg.getBoundingClientRect();
  svg.querySelectorAll("text").forEach(function (t) {
    var b = t.getBoundingClientRect();
    if (b.left < page.left || b.right > page.right) { out.push("page: " + t.textContent); }
  });
});
document.body.dataset.outside = String(out.length);
"""


@needs_chromium
@pytest.mark.full
@pytest.mark.parametrize("spec", [SPEC, "hw3-q3"])
def test_chromium_finds_every_label_inside_its_box(tmp_path: Path, spec: str) -> None:
    """Boxes are measured on the names as they are shown (each control character as its
    escape, four to six characters wide), so Chromium draws every label inside its box."""
    rep = convcalc.analyse(convcalc.load_spec(spec))
    figures = "".join(to_svg(rep, style=style, costs=True) for style in ("flow", "blocks"))
    source = tmp_path / "figures.html"
    source.write_text(f"<!DOCTYPE html><body>{figures}<script>{MEASURE}</script></body>")
    result = chromium("--dump-dom", source.as_uri(), tmp=tmp_path)
    body = re.search(r"<body[^>]*>", result.stdout)
    assert body is not None, result.stderr[-2000:]
    assert 'data-outside="0"' in body.group(0)


# --- LaTeX and TikZ --------------------------------------------------------------------------


@pytest.mark.full
@needs_pdflatex
def test_the_latex_explanation_compiles(run: Invoke, write: Write, tmp_path: Path) -> None:
    rep = report()
    compiles(explain.render(rep, explain.explain(rep), "latex"), tmp_path, "library")
    result = run("shape", write(SPEC), "--explain", "--format", "latex")
    assert result.exit_code == 0
    compiles(result.output, tmp_path, "cli")
    # every special is escaped and every control shown: the name is text, not commands
    assert r"\textbackslash{}x1b]0;pwned\textbackslash{}x07" in result.output
    assert r"\{ \} \$ \& \# \_ \% \textasciitilde{} \^{}" in result.output


@pytest.mark.full
@pytest.mark.skipif(not HAS_TIKZ, reason="tikz.sty is missing (Debian: texlive-pictures)")
@needs_pdflatex
def test_the_tikz_figure_compiles(run: Invoke, write: Write, tmp_path: Path) -> None:
    compiles(to_tikz(report(), costs=True), tmp_path, "library")
    result = run("draw", write(SPEC), "--format", "tikz")
    assert result.exit_code == 0
    compiles(result.output, tmp_path, "cli")


# --- Markdown --------------------------------------------------------------------------------


class Tags(HTMLParser):
    """Every start tag, and the text inside each element named in ``keep`` (h1, td …)."""

    def __init__(self, keep: tuple[str, ...] = ()) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[str] = []
        self.keep = keep
        self.open: list[str] = []
        self.found: list[tuple[str, str]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        if tag in self.keep:
            self.open.append(tag)
            self.found.append((tag, ""))

    def handle_endtag(self, tag: str) -> None:
        if self.open and self.open[-1] == tag:
            self.open.pop()

    def handle_data(self, data: str) -> None:
        if self.open:
            tag, text = self.found[-1]
            self.found[-1] = (tag, text + data)


def parsed(rendered: str, keep: tuple[str, ...] = ()) -> Tags:
    parser = Tags(keep)
    parser.feed(rendered)
    parser.close()
    return parser


def markdown_html(text: str) -> str | None:
    """The Markdown rendered by markdown-it (CommonMark with GFM's tables), if it is installed."""
    try:
        from markdown_it import MarkdownIt
    except ImportError:
        return None
    return str(MarkdownIt("commonmark").enable(["table", "strikethrough"]).render(text))


def table_rows(text: str) -> list[int]:
    """The cells of each row of the Markdown's table: its unescaped pipes, less one."""
    rows = [line for line in text.splitlines() if line.startswith("|")]
    return [len(re.findall(r"(?<!\\)\|", row)) - 1 for row in rows]


# a code span shows markup characters as look-alikes (convcalc.escape.markdown_code)
EVIL_IN_CODE = EVIL_SHOWN.replace("<", "‹").replace(">", "›").replace("&", "＆")


def visible(text: str) -> str:
    """``text`` as a reader must see it: each control character as its Python escape."""
    return "".join(
        c.encode("unicode_escape").decode("ascii") if acted_on(c) or c in "\n\t" else c
        for c in text
    )


MARKUP = st.text(st.sampled_from(list("\\`*_[]()#+-.!|~<>&= \t\n1aZ\x1b\u202e")), max_size=20)
ANY_TEXT = st.text(st.characters(codec="utf-8"), max_size=30) | MARKUP


@given(ANY_TEXT)
def test_markdown_text_reads_back_as_itself(text: str) -> None:
    """In a heading and in a table's cell, markdown-it reads the escaped text back as the text
    (its controls shown), as one heading and two cells."""
    pytest.importorskip("markdown_it")
    heading = parsed(markdown_html(f"### {escape.markdown(text)}") or "", ("h3",))
    assert heading.tags == ["h3"]
    assert heading.found[0][1].strip() == visible(text).strip()
    row = f"| a | b |\n|--|--|\n| {escape.markdown(text)} | x |\n"
    table = parsed(markdown_html(row) or "", ("td",))
    assert table.tags.count("td") == 2 and "img" not in table.tags
    assert table.found[0][1].strip() == visible(text).strip()


@given(ANY_TEXT.filter(str.strip))
def test_code_in_a_table_cell_reads_back_as_itself(text: str) -> None:
    """A code span in a cell: its pipes cannot end the cell, its spaces are kept, its markup
    characters are look-alikes (convcalc.escape.markdown_code)."""
    pytest.importorskip("markdown_it")
    row = f"| a | b |\n|--|--|\n| {escape.markdown_code(text, cell=True)} | x |\n"
    table = parsed(markdown_html(row) or "", ("code",))
    assert table.tags.count("td") == 2
    expected = visible(text).replace("<", "‹").replace(">", "›").replace("&", "＆")
    assert table.found == [("code", expected)]


def test_markdown_table_keeps_its_shape_and_no_html(run: Invoke, write: Write) -> None:
    rep = report()
    for text in (
        render.markdown(rep),
        render.markdown(rep, rf=True),
        rep._repr_markdown_(),
        run("shape", write(SPEC), "--format", "markdown").output,
    ):
        cells = table_rows(text)
        # a row per entry at least (the residual's empty shortcut has one too), all alike
        assert len(cells) >= 2 + len(list(rep.walk())) and len(set(cells)) == 1, cells
        assert "<" not in text and acted_on(text) == []
        rendered = markdown_html(text)
        if rendered is None:
            continue
        page = parsed(rendered, ("h3", "td", "th"))
        assert "img" not in page.tags
        assert page.tags.count("tr") == len(cells) - 1  # the alignment row is no row
        assert page.tags.count("td") + page.tags.count("th") == cells[0] * (len(cells) - 1)
        assert ("h3", f"net {EVIL_SHOWN}") in page.found
        assert ("td", f"conv {EVIL_IN_CODE}: conv 3×3 /2") in page.found


def test_markdown_explanation_has_the_names_as_text(run: Invoke, write: Write) -> None:
    rep = report()
    for text in (
        explain.render(rep, explain.explain(rep), "markdown"),
        run("shape", write(SPEC), "--explain", "--format", "markdown").output,
    ):
        assert "<" not in text and acted_on(text) == []
        headings = [line for line in text.splitlines() if line.startswith("#")]
        assert len(headings) == 1 + len(list(rep.walk())) + 1  # the title, each entry, total
        rendered = markdown_html(text)
        if rendered is None:
            continue
        page = parsed(rendered, ("h1", "h2"))
        assert "img" not in page.tags
        assert page.found[0] == ("h1", f"net {EVIL_SHOWN}: 3×17×17 → 4×3×3")
        assert ("h2", f"layers[2] pool {EVIL_SHOWN}: maxpool 3×3 /2: 4×8×8 → 4×3×3") in page.found


# --- the HTML report -------------------------------------------------------------------------


def test_the_report_escapes_every_name(run: Invoke, write: Write, tmp_path: Path) -> None:
    page_file = tmp_path / "net.html"
    assert run("report", write(SPEC), "-o", str(page_file)).exit_code == 0
    for text in (to_html(report(), SPEC), page_file.read_text(encoding="utf-8")):
        page = parsed(text, ("title", "pre", "h1"))
        assert "img" not in page.tags and page.tags.count("script") == 1
        assert acted_on(text) == []
        assert ("title", f"net {EVIL_SHOWN} — convcalc report") in page.found
        assert ("h1", f"net {EVIL_SHOWN}") in page.found
        assert ("pre", SPEC) in page.found  # the spec as written, each line escaped
        # the inline figures: well-formed XML, the name shown as in the SVG
        for svg in re.findall(r"<svg.*?</svg>", text, re.S):
            assert any(f"net {EVIL_SHOWN}" in t for t in texts(svg))


@needs_chromium
@pytest.mark.full
def test_chromium_runs_the_hostile_report(tmp_path: Path) -> None:
    """The page's own self-test (expand and collapse every block) passes, with no console
    message, and the title Chromium shows is the name as text."""
    source = tmp_path / "hostile.html"
    source.write_text(to_html(report(), SPEC), encoding="utf-8")
    result = chromium(
        "--enable-logging=stderr", "--v=0", "--dump-dom", source.as_uri() + "#test", tmp=tmp_path
    )
    assert [line for line in result.stderr.splitlines() if ":CONSOLE" in line] == []
    body = re.search(r"<body[^>]*>", result.stdout)
    assert body is not None, result.stderr[-2000:]
    assert 'data-selftest="ok"' in body.group(0) and "data-errors" not in body.group(0)
    title = re.search(r"<title>(.*?)</title>", result.stdout, re.S)
    assert title is not None
    assert html.unescape(title.group(1)) == f"net {EVIL_SHOWN} — convcalc report"


def test_the_report_keeps_a_spec_text_layout() -> None:
    """Line ends (CRLF included) and tabs of the spec text stay as they are in ``<pre>``."""
    spec_text = "input: [3, 8, 8]\r\nlayers:\r\n  - {type: relu}  #\tnote\r\n"
    rep = convcalc.analyse(convcalc.load_spec("input: [3, 8, 8]\nlayers: [{type: relu}]\n"))
    page = parsed(to_html(rep, spec_text), ("pre",))
    assert ("pre", spec_text) in page.found
    assert "  - {type: relu}  #\tnote\r\n</pre>" in to_html(rep, spec_text)


# --- the quiz's title and seed ---------------------------------------------------------------


def test_a_blank_title_is_refused_clearly(run: Invoke) -> None:
    for title in ("", "  ", "\n\t"):
        result = run("quiz", "--count", "2", "--title", title)
        assert result.exit_code == 2
        assert "Error: --title is blank" in result.output
        assert "bug" not in result.output


TITLE = "Week 3\nCNNs \\ \x1b[2J\x01 {~=#:} <b>|`x`"
# each format's reading of it: Markdown and GIFT one line (the controls shown), Moodle XML the
# title exactly but for what XML cannot hold
TITLE_SHOWN = r"Week 3\nCNNs \ \x1b[2J\x01 {~=#:} <b>|`x`"
TITLE_IN_XML = "Week 3\nCNNs \\ \\x1b[2J\\x01 {~=#:} <b>|`x`"


def test_hostile_titles_in_every_format(run: Invoke) -> None:
    from convcalc.teach.quiz import quiz

    questions = quiz(1, 4)
    outputs = {}
    for fmt in ("markdown", "moodle-xml", "gift", "json"):
        result = run("quiz", "--seed", "1", "--count", "4", "--format", fmt, "--title", TITLE)
        assert result.exit_code == 0, (fmt, result.output)
        outputs[fmt] = result.output
    markdown = outputs["markdown"]
    first, rest = markdown.split("\n", 1)
    assert first.startswith("# ") and "\n# " not in rest and acted_on(markdown) == []
    rendered = markdown_html(markdown)
    if rendered is not None:
        page = parsed(rendered, ("h1",))
        assert page.found[0] == ("h1", TITLE_SHOWN)
        assert "b" not in page.tags
    root = ET.fromstring(outputs["moodle-xml"].encode("utf-8"))
    assert root.findtext("question/category/text") == f"$course$/top/{TITLE_IN_XML}"
    plain = "<category><text>$course$/top/convcalc/quiz</text></category>"
    check_moodle(questions, re.sub("<category>.*?</category>", plain, outputs["moodle-xml"]))
    gift = outputs["gift"]
    assert gift.split("\n")[1] == "" and acted_on(gift) == []  # the category is one line
    category, parsed_questions = parse_gift(gift)
    assert category == f"$course$/top/{TITLE_SHOWN}"
    assert len(parsed_questions) == len(questions)
    assert json.loads(outputs["json"])[0]["id"] == questions[0].id


@pytest.mark.parametrize(
    "title",
    ["a\\b", "\\", "a\\:b \\\\ \\n c", "x\u2028y\u202ez", "tab\there", "$system$/CNN \\ 1"],
)
def test_gift_categories_read_back(title: str) -> None:
    """Moodle's importer keeps a category's text but for doubled backslashes (read as one):
    each title reads back as written, its controls shown (a tab, U+2028) to keep one line."""
    from convcalc.teach.quiz import quiz
    from convcalc.teach.quiz_formats import to_gift

    questions = quiz(2, 2)
    source = to_gift(questions, title)
    category, _ = parse_gift(source)
    shown = title.replace("\t", "\\t").replace("\u2028", "\\u2028").replace("\u202e", "\\u202e")
    expected = shown if title.startswith("$") else f"$course$/top/{shown}"
    assert category == expected
    plain = "$CATEGORY: $course$/top/convcalc/quiz"
    check_gift(questions, source.replace(source.split("\n")[0], plain, 1))


def test_a_negative_seed_is_its_own_quiz(run: Invoke) -> None:
    # the cause, from Python itself: an integer seed is taken by its absolute value
    assert random.Random(-5).random() == random.Random(5).random()
    quizzes = {
        seed: run("quiz", "--seed", seed, "--count", "6", "--format", "json").output
        for seed in ("5", "-5", "-6")
    }
    assert len(set(quizzes.values())) == 3
    assert run("quiz", "--seed", "-5", "--count", "6", "--format", "json").output == quizzes["-5"]
    assert json.loads(quizzes["-5"])  # a quiz, not an error


@pytest.mark.parametrize(("command", "flags"), [("draw", []), ("report", [])])
def test_draw_and_report_refuse_to_overwrite_their_spec(run, tmp_path, command, flags) -> None:
    spec = tmp_path / "net.yaml"
    text = "input: [1, 8]\nlayers:\n  - {type: relu}\n"
    spec.write_text(text, encoding="utf-8")
    (tmp_path / "link.yaml").symlink_to(spec)
    for output in [str(spec), str(tmp_path / "." / "net.yaml"), str(tmp_path / "link.yaml")]:
        result = run(command, str(spec), *flags, "-o", output)
        assert result.exit_code == 2, result.output
        assert "-o names the input" in result.stderr
        assert spec.read_text(encoding="utf-8") == text


def test_check_refuses_a_gradebook_over_an_answers_file(run, tmp_path) -> None:
    answers = tmp_path / "a.yaml"
    text = "spec: hw3-q3\nanswers:\n  - {total_params: 71840}\n"
    answers.write_text(text, encoding="utf-8")
    result = run("check", str(answers), "--csv", str(tmp_path / "." / "a.yaml"))
    assert result.exit_code == 2
    assert "--csv names the input" in result.stderr
    assert result.stdout == ""  # refused before any marking is shown
    assert answers.read_text(encoding="utf-8") == text


def test_solve_spec_and_json_output_are_inert(run, write) -> None:
    # the table's title and notes through escape.terminal; JSON keeps every character but writes
    # those a terminal acts on (C1, bidirectional controls) as \\u escapes
    name = "evil\x1b[2J\x1b]0;pwn\x07\u202e\u009b\u061c"
    path = write(
        f"name: {json.dumps(name)}\ninput: [1, 16]\nlayers:\n"
        '  - {type: conv, out_channels: 1, kernel_size: "?"}\n'
    )
    table = run("solve", path, "--out", "4")
    assert table.exit_code == 0, table.output
    assert not any(unicodedata.category(c) in ("Cc", "Cf") for c in table.stdout.replace("\n", ""))
    fixed = write(f"name: {json.dumps(name)}\ninput: [1, 16]\nlayers: [{{type: relu}}]\n", "f.yaml")
    for args in (
        ["solve", path, "--out", "4", "--format", "json"],
        ["shape", fixed, "--format", "json"],
    ):
        shown = run(*args)
        assert shown.exit_code == 0, shown.output
        raw = shown.stdout.replace("\n", "")
        assert not any(unicodedata.category(c) in ("Cc", "Cf") for c in raw), args
        assert json.loads(shown.stdout)["name"] == name


@given(MARKUP)
def test_an_explanation_note_reads_back_as_itself_in_markdown(note: str) -> None:
    """A sentence of an explanation (a Step's note, in words) is escaped for Markdown: one
    list item whose text markdown-it reads back as the note."""
    pytest.importorskip("markdown_it")
    report = convcalc.analyse(convcalc.load_spec({"input": [2, 4], "layers": [{"type": "relu"}]}))
    section = explain.Section(
        "layers[0]", "relu", (2, 4), (2, 4), 0, (explain.Line("shape", None, note),)
    )
    (item,) = [
        line
        for line in explain.render(report, [section], "markdown").splitlines()
        if line.startswith("- ")
    ]
    found = parsed(markdown_html(item) or "", ("li",))
    assert found.tags == ["ul", "li"]
    assert found.found[0][1].strip() == visible(f"shape: {note}").strip()
