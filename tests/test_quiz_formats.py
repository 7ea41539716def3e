"""The quiz's output formats, read back by parsers written here from the formats' own documents.

GIFT is read by a small parser following Moodle's GIFT format documentation
(https://docs.moodle.org/en/GIFT_format): ``//`` comment lines, blank lines between questions,
``$CATEGORY:``, ``::title::``, an optional ``[format]`` before a text, the ``{…}`` answer block
with ``=``/``~`` answers, ``%weight%`` after ``~`` (multiple choice) or ``=`` (short answer),
``#feedback``, ``####general feedback``, ``{#number}``, the escapes ``\\~ \\= \\# \\{ \\} \\: \\\\``
and ``\\n``, and whitespace around each text ignored. Moodle XML is read with ElementTree and its
HTML with the standard library's HTMLParser, per https://docs.moodle.org/en/Moodle_XML_format.
"""

from __future__ import annotations

import dataclasses
import json
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from convcalc.teach.quiz_formats import (
    TOPICS,
    Choice,
    Question,
    to_gift,
    to_json,
    to_markdown,
    to_moodle_xml,
    validate_question,
    validate_questions,
)
from tests.budget import examples

# --- a GIFT reader -------------------------------------------------------------------------

PHP_SPACE = " \t\n\r\0\x0b"  # what GIFT's importer trims from the ends of every text
GIFT_ESCAPES = {"~": "~", "=": "=", "#": "#", "{": "{", "}": "}", ":": ":", "\\": "\\", "n": "\n"}
GIFT_FORMATS = ("html", "moodle", "plain", "markdown")
Tokens = list[tuple[str, bool]]  # each character, and whether it was escaped


@dataclass
class GiftQuestion:
    title: str | None
    text: str
    text_format: str | None
    kind: str
    choices: list[tuple[str, float, str]] = field(default_factory=list)  # text, weight, feedback
    number: str | None = None
    accepted: list[tuple[str, float]] = field(default_factory=list)
    general_feedback: str = ""


def gift_lex(text: str) -> Tokens:
    out: Tokens = []
    i = 0
    while i < len(text):
        if text[i] == "\\" and text[i + 1 : i + 2] in GIFT_ESCAPES:
            out.append((GIFT_ESCAPES[text[i + 1]], True))
            i += 2
        else:
            out.append((text[i], False))
            i += 1
    return out


def find(tokens: Tokens, needle: str, start: int = 0, last: bool = False) -> int:
    """Where ``needle`` starts, unescaped, in ``tokens`` (the last one if ``last``), or -1."""
    hits = [
        i
        for i in range(start, len(tokens) - len(needle) + 1)
        if all(tokens[i + k] == (ch, False) for k, ch in enumerate(needle))
    ]
    return (hits[-1] if last else hits[0]) if hits else -1


def chars(tokens: Tokens) -> str:
    return "".join(ch for ch, _ in tokens)


def lstrip_tokens(tokens: Tokens) -> Tokens:
    i = 0
    while i < len(tokens) and not tokens[i][1] and tokens[i][0] in PHP_SPACE:
        i += 1
    return tokens[i:]


def formatted(tokens: Tokens) -> tuple[str, str | None]:
    """A text with its optional ``[format]`` prefix taken off."""
    tokens = lstrip_tokens(tokens)
    end = find(tokens, "]")
    if tokens[:1] == [("[", False)] and end > 0 and chars(tokens[1:end]) in GIFT_FORMATS:
        return chars(tokens[end + 1 :]).strip(PHP_SPACE), chars(tokens[1:end])
    return chars(tokens).strip(PHP_SPACE), None


def weighted(tokens: Tokens, default: float) -> tuple[float, Tokens]:
    tokens = lstrip_tokens(tokens)
    if m := re.match(r"%(-?\d+(?:\.\d+)?)%", chars(tokens)):
        return float(m.group(1)), tokens[m.end() :]
    return default, tokens


def split_feedback(tokens: Tokens) -> tuple[str, str]:
    at = find(tokens, "#")
    if at < 0:
        return formatted(tokens)[0], ""
    return formatted(tokens[:at])[0], formatted(tokens[at + 1 :])[0]


def parse_gift_question(tokens: Tokens) -> GiftQuestion:
    title = None
    if find(tokens, "::") == 0:
        end = find(tokens, "::", 2)
        title = chars(tokens[2:end]).strip(PHP_SPACE)
        tokens = tokens[end + 2 :]
    start, end = find(tokens, "{"), find(tokens, "}")
    assert 0 <= start < end and not chars(tokens[end + 1 :]).strip(), "one answer block, at the end"
    text, text_format = formatted(tokens[:start])
    block = tokens[start + 1 : end]
    general = ""
    if (at := find(block, "####", last=True)) >= 0:
        general, block = formatted(block[at + 4 :])[0], block[:at]
    block = lstrip_tokens(block)
    if block[:1] == [("#", False)]:
        number = chars(block[1:]).strip(PHP_SPACE)
        return GiftQuestion(title, text, text_format, "numerical", [], number, [], general)
    marks = [i for i, (ch, escaped) in enumerate(block) if ch in "=~" and not escaped]
    assert marks and not chars(block[: marks[0]]).strip(PHP_SPACE), "answers start with = or ~"
    parts = [
        (block[i][0], block[i + 1 : j])
        for i, j in zip(marks, [*marks[1:], len(block)], strict=True)
    ]
    if any(mark == "~" for mark, _ in parts):
        question = GiftQuestion(title, text, text_format, "multichoice", general_feedback=general)
        for mark, part in parts:
            weight, part = (100.0, part) if mark == "=" else weighted(part, 0.0)
            question.choices.append((split_feedback(part)[0], weight, split_feedback(part)[1]))
        return question
    question = GiftQuestion(title, text, text_format, "shortanswer", general_feedback=general)
    for _, part in parts:
        weight, part = weighted(part, 100.0)
        question.accepted.append((split_feedback(part)[0], weight))
    return question


# Moodle's qformat_gift::escapedchar_pre, which readquestion applies to a block before it looks
# for $CATEGORY: (question/format/gift/format.php). A category keeps the placeholders it makes,
# so of all the escapes only a doubled backslash reads back (as one).
GIFT_PLACEHOLDERS = {
    "\\:": "&&058;",
    "\\#": "&&035;",
    "\\=": "&&061;",
    "\\{": "&&123;",
    "\\}": "&&125;",
    "\\~": "&&126;",
    "\\n": "&&010",
}


def moodle_escapedchar_pre(text: str) -> str:
    text = text.replace("\\\\", "&&092;")
    for escaped, placeholder in GIFT_PLACEHOLDERS.items():
        text = text.replace(escaped, placeholder)
    return text.replace("&&092;", "\\")


def parse_gift(source: str) -> tuple[str | None, list[GiftQuestion]]:
    """The category and the questions of a GIFT file."""
    blocks: list[list[str]] = [[]]
    for line in source.split("\n"):
        line = line.strip(PHP_SPACE)
        if line.startswith("//"):
            continue
        if line:
            blocks[-1].append(line)
        elif blocks[-1]:
            blocks.append([])
    category, questions = None, []
    for block in filter(None, blocks):
        text = "\n".join(block)
        if text.startswith("$CATEGORY:"):
            category = moodle_escapedchar_pre(text)[len("$CATEGORY:") :].strip(PHP_SPACE)
        else:
            questions.append(parse_gift_question(gift_lex(text)))
    return category, questions


# --- an HTML reader for Moodle XML's texts -------------------------------------------------


class HtmlText(HTMLParser):
    """Plain text back from ``<p>``, ``<br>`` and ``<pre>``: blocks joined by newlines."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.blocks: list[str] = []
        self.current: list[str] | None = None
        self.pre = False
        self.tags: set[str] = set()

    def flush(self) -> None:
        if self.current is not None:
            text = "".join(self.current)
            # HTML ignores a newline right after <pre>
            self.blocks.append(text[1:] if self.pre and text.startswith("\n") else text)
        self.current, self.pre = None, False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.add(tag)
        if tag in ("p", "pre"):
            self.flush()
            self.current, self.pre = [], tag == "pre"
        elif tag == "br":
            self.handle_data("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("p", "pre"):
            self.flush()

    def handle_data(self, data: str) -> None:
        if self.current is None:
            self.current = []
        self.current.append(data)


def html_text(html: str) -> str:
    parser = HtmlText()
    parser.feed(html)
    parser.close()
    parser.flush()
    assert parser.tags <= {"p", "pre", "br"}, parser.tags
    return "\n".join(parser.blocks)


# --- questions -----------------------------------------------------------------------------

SHAPE = Question(
    "q01-shape",
    "shape",
    2,
    "Output shape",
    "Input 3×64×64; layers, in order:\n  1. convolution (32 filters of 8×8, stride 5)\n"
    "What is the output shape?",
    "32×12×12",
    "⌊(64 − 8)/5⌋ + 1 = 12\nso 32×12×12",
    (
        Choice("32×13×13", False, "ceil instead of floor: ⌈56/5⌉ + 1 = 13"),
        Choice("32×12×12", True, ""),
        Choice("32×11×11", False, "forgot the + 1"),
    ),
)
PARAMS = Question(
    "q02-params",
    "params",
    1,
    "Parameters",
    "How many parameters does a 3×3 conv from 64 to 128 channels have?",
    "73,856",
    "3·3·64·128 + 128 = 73,856",
    numeric=73856,
)
SOLVE = Question(
    "q03-solve",
    "solve",
    3,
    "Inverse problem",
    "Which k and s map 64 to 4 (no padding)?",
    "k = 49, s = 5",
    "⌊(64 − 49)/5⌋ + 1 = 4",
    accepted=("k = 49, s = 5", "k=49, s=5", "49*5"),
)
SPECIAL = "~=#{}:\\ \\n \\\\n [html] %50% ]]> <b>&amp; -> :: //×⌊⌋→·😀"

TOKENS = [
    *"aZ09 .,;'\"/\\~=#{}:[]%*<>&`-|\t\n",
    *["×", "⌊", "⌋", "→", "·", "é", "😀", "\u00a0", "\u2028"],
    *["]]>", "->", "::", "####", "//", "[html]", "[plain]", "%50%", "\\n", "<br>", "&amp;", "  "],
]
texts = st.lists(st.sampled_from(TOKENS), max_size=12).map("".join)
# fence lines are markup in Moodle XML (dropped), tested on their own
texts = texts.filter(lambda s: not re.search(r"(?m)^ {0,3}```", s))
filled = texts.filter(lambda s: bool(s.strip()))


@st.composite
def question_lists(draw: st.DrawFn) -> list[Question]:
    out = []
    for i in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["choices", "numeric", "accepted"]))
        common: dict[str, Any] = {
            "id": f"q{i:02d}-{kind}",
            "topic": draw(st.sampled_from(TOPICS)),
            "difficulty": draw(st.integers(1, 3)),
            "title": draw(filled.filter(lambda s: "\n" not in s)),
            "text": draw(filled),
            "explanation": draw(texts),
        }
        if kind == "choices":
            options = draw(st.lists(filled, min_size=2, max_size=5, unique_by=str.strip))
            right = draw(st.integers(0, len(options) - 1))
            feedback = [draw(texts) for _ in options]
            choices = tuple(
                Choice(t, j == right, f)
                for j, (t, f) in enumerate(zip(options, feedback, strict=True))
            )
            out.append(Question(**common, answer=options[right], choices=choices))
        elif kind == "numeric":
            number = draw(st.integers(-(10**15), 10**15))
            out.append(Question(**common, answer=f"{number:,}", numeric=number))
        else:
            answers = st.lists(filled.filter(lambda s: "->" not in s), min_size=1, max_size=3)
            accepted = tuple(draw(answers.map(lambda a: list(dict.fromkeys(x.strip() for x in a)))))
            out.append(Question(**common, answer=accepted[0], accepted=accepted))
    return out


def trim(text: str) -> str:
    return text.strip(PHP_SPACE)


# --- GIFT ----------------------------------------------------------------------------------


def check_gift(questions: list[Question], source: str) -> None:
    category, parsed = parse_gift(source)
    assert category == "$course$/top/convcalc/quiz"
    assert len(parsed) == len(questions)
    for q, p in zip(questions, parsed, strict=True):
        assert (p.title, p.text, p.text_format) == (trim(q.title), trim(q.text), "plain")
        assert p.general_feedback == trim(q.explanation)
        if q.choices:
            assert p.kind == "multichoice"
            expected = [
                (trim(c.text), 100.0 if c.correct else 0.0, trim(c.feedback)) for c in q.choices
            ]
            assert p.choices == expected
        elif q.numeric is not None:
            assert (p.kind, p.number) == ("numerical", str(q.numeric))
        else:
            assert p.kind == "shortanswer"
            # shortanswer's own escape: \* is a literal asterisk, * a wildcard
            assert p.accepted == [(trim(a).replace("*", "\\*"), 100.0) for a in q.accepted]


@settings(max_examples=examples(500))  # 3,000 took 40 s of CI each
@given(question_lists())
def test_gift_round_trip(questions: list[Question]) -> None:
    check_gift(questions, to_gift(questions, "convcalc/quiz"))


def test_gift_round_trip_of_every_special_character() -> None:
    tricky = Question(
        "q09-x",
        "mlp",
        2,
        f"t {SPECIAL}",
        f"[markdown] {SPECIAL}\n  indented: {{k: 3}}\n",
        "a",
        f"%5% {SPECIAL}\n\nend",
        (Choice(f"[html] {SPECIAL}", True, SPECIAL), Choice(f"%50% {SPECIAL}", False, "[x]")),
    )
    short = dataclasses.replace(
        SOLVE, id="q10-y", accepted=("%25% off", "[plain] *", "a\\*b"), text=SPECIAL
    )
    questions = [SHAPE, PARAMS, SOLVE, tricky, short]
    source = to_gift(questions, "convcalc/quiz")
    check_gift(questions, source)
    # every newline in a text is escaped: each line is GIFT's own
    starts = ("$CATEGORY: ", "// q", "::", "\t=", "\t~", "\t####", "}")
    assert all(line.startswith(starts) for line in source.splitlines() if line)


def test_gift_small_case_exactly() -> None:
    assert to_gift([SHAPE, PARAMS], "$system$/CNN") == (
        "$CATEGORY: $system$/CNN\n"
        "\n"
        "// q01-shape: shape, difficulty 2\n"
        "::Output shape::[plain]Input 3×64×64; layers, in order\\:\\n  1. convolution "
        "(32 filters of 8×8, stride 5)\\nWhat is the output shape?{\n"
        "\t~32×13×13#ceil instead of floor\\: ⌈56/5⌉ + 1 \\= 13\n"
        "\t=32×12×12\n"
        "\t~32×11×11#forgot the + 1\n"
        "\t####⌊(64 − 8)/5⌋ + 1 \\= 12\\nso 32×12×12\n"
        "}\n"
        "\n"
        "// q02-params: params, difficulty 1\n"
        "::Parameters::[plain]How many parameters does a 3×3 conv from 64 to 128 channels have?"
        "{#73856\n"
        "\t####3·3·64·128 + 128 \\= 73,856\n"
        "}\n"
    )
    bare = dataclasses.replace(PARAMS, explanation="")
    assert to_gift([bare], "c").endswith("have?{#73856}\n")


def test_gift_refuses_what_it_cannot_write() -> None:
    arrow = dataclasses.replace(SOLVE, accepted=("64 -> 4",))
    with pytest.raises(ValueError, match="->"):
        to_gift([arrow], "c")
    with pytest.raises(ValueError, match="category is empty"):
        to_gift([SHAPE], " \t")


# --- Moodle XML ----------------------------------------------------------------------------


def text_of(element: ET.Element, path: str) -> str:
    found = element.find(path)
    assert found is not None, path
    return found.text or ""


def check_moodle(questions: list[Question], source: str) -> None:
    root = ET.fromstring(source.encode("utf-8"))
    assert root.tag == "quiz"
    category, *items = root.findall("question")
    assert category.get("type") == "category"
    assert text_of(category, "category/text") == "$course$/top/convcalc/quiz"
    assert len(items) == len(questions)
    for q, item in zip(questions, items, strict=True):
        assert text_of(item, "name/text") == q.title
        assert item.find("questiontext").get("format") == "html"  # type: ignore[union-attr]
        assert html_text(text_of(item, "questiontext/text")) == q.text
        assert html_text(text_of(item, "generalfeedback/text")) == q.explanation
        assert float(text_of(item, "defaultgrade")) == 1
        assert 0 <= float(text_of(item, "penalty")) <= 1
        assert text_of(item, "hidden") == "0"
        assert text_of(item, "idnumber") == q.id
        tags = [t.text for t in item.findall("tags/tag/text")]
        assert tags == ["convcalc", q.topic, f"difficulty-{q.difficulty}"]
        answers = item.findall("answer")
        if q.choices:
            assert item.get("type") == "multichoice"
            assert text_of(item, "single") == "true"
            assert text_of(item, "shuffleanswers") in ("true", "1")
            assert text_of(item, "answernumbering") in ("abc", "ABCD", "123", "none")
            assert [a.get("fraction") for a in answers] == [
                "100" if c.correct else "0" for c in q.choices
            ]
            for c, a in zip(q.choices, answers, strict=True):
                assert a.get("format") == "html"
                assert html_text(text_of(a, "text")) == c.text
                assert html_text(text_of(a, "feedback/text")) == c.feedback
        elif q.numeric is not None:
            assert item.get("type") == "numerical"
            (answer,) = answers
            assert answer.get("fraction") == "100"
            assert int(text_of(answer, "text")) == q.numeric
            assert float(text_of(answer, "tolerance")) == 0
        else:
            assert item.get("type") == "shortanswer"
            assert text_of(item, "usecase") in ("0", "1")
            assert [a.get("fraction") for a in answers] == ["100"] * len(q.accepted)
            wildcards = [text_of(a, "text").replace("\\*", "*") for a in answers]
            assert wildcards == list(q.accepted)


@settings(max_examples=examples(500))  # 3,000 took 40 s of CI each
@given(question_lists())
def test_moodle_xml_round_trip(questions: list[Question]) -> None:
    check_moodle(questions, to_moodle_xml(questions, "convcalc/quiz"))


def test_moodle_xml_fixed_questions() -> None:
    questions = [SHAPE, PARAMS, SOLVE]
    source = to_moodle_xml(questions, "convcalc/quiz")
    check_moodle(questions, source)
    assert source.startswith('<?xml version="1.0" encoding="UTF-8"?>\n<quiz>\n')
    assert "<pre>\n  1. convolution (32 filters of 8×8, stride 5)</pre>" in source
    assert "<text>49\\*5</text>" in source  # a literal asterisk, not shortanswer's wildcard
    assert to_moodle_xml([], "$system$/x").count("<question") == 1


def test_moodle_xml_cdata_html_and_code_blocks() -> None:
    text = "a ]]> b <i>&amp; c\nSpec:\n```yaml\nlayers:\n\n  - conv: 3\n```\n  k: 3\n\n  s: 1\nend"
    q = dataclasses.replace(SHAPE, text=text, explanation="]]>]]>")
    source = to_moodle_xml([q], "convcalc/quiz")
    root = ET.fromstring(source.encode())
    html = text_of(root, "question[2]/questiontext/text")
    assert html == (
        "<p>a ]]&gt; b &lt;i&gt;&amp;amp; c<br>Spec:</p>"
        "<pre>\nlayers:\n\n  - conv: 3</pre><pre>\n  k: 3\n\n  s: 1</pre><p>end</p>"
    )
    # the fence lines are markup, not text: everything else comes back
    assert html_text(html) == text.replace("```yaml\n", "").replace("```\n", "")
    assert html_text(text_of(root, "question[2]/generalfeedback/text")) == "]]>]]>"
    titled = ET.fromstring(to_moodle_xml([dataclasses.replace(SHAPE, title="<]]>&")], "c"))
    assert text_of(titled, "question[2]/name/text") == "<]]>&"


# --- Markdown ------------------------------------------------------------------------------


def test_markdown_small_case_exactly() -> None:
    assert to_markdown([SHAPE, PARAMS], "CNN quiz") == (
        "# CNN quiz\n"
        "\n"
        "## 1. Output shape\n"
        "\n"
        "Input 3×64×64; layers, in order:\n"
        "\n"
        "```\n"
        "  1. convolution (32 filters of 8×8, stride 5)\n"
        "```\n"
        "\n"
        "What is the output shape?\n"
        "\n"
        "- A) 32×13×13\n"
        "- B) 32×12×12\n"
        "- C) 32×11×11\n"
        "\n"
        "## 2. Parameters\n"
        "\n"
        "How many parameters does a 3×3 conv from 64 to 128 channels have?\n"
        "\n"
        "## Answer key\n"
        "\n"
        "### 1. Output shape\n"
        "\n"
        "**Answer:** B) 32×12×12\n"
        "\n"
        "⌊(64 − 8)/5⌋ + 1 = 12\\\n"
        "so 32×12×12\n"
        "\n"
        "- A) 32×13×13: ceil instead of floor: ⌈56/5⌉ + 1 = 13\n"
        "- C) 32×11×11: forgot the + 1\n"
        "\n"
        "### 2. Parameters\n"
        "\n"
        "**Answer:** 73,856\n"
        "\n"
        "3·3·64·128 + 128 = 73,856\n"
    )


@given(st.lists(st.integers(0, 4), min_size=1, max_size=6))
def test_markdown_answer_key(rights: list[int]) -> None:
    questions = [
        Question(
            f"q{n}-shape",
            "shape",
            1,
            f"Question {n}",
            f"Text {n}",
            f"answer {n}.{right}",
            f"Explanation {n}, line 1\nline 2 of {n}",
            tuple(Choice(f"answer {n}.{j}", j == right, f"mistake {j}") for j in range(5)),
        )
        for n, right in enumerate(rights, 1)
    ]
    markdown = to_markdown([*questions, PARAMS, SOLVE], "Quiz")
    body, key = markdown.split("\n## Answer key\n")
    assert "## Answer key" not in key and "**Answer:**" not in body
    assert [int(n) for n in re.findall(r"(?m)^## (\d+)\. ", body)] == list(
        range(1, len(rights) + 3)
    )
    letters = re.findall(r"(?m)^\*\*Answer:\*\* ([A-E])\) answer (\d+)\.(\d+)$", key)
    assert [("ABCDE"[r], str(n), str(r)) for n, r in enumerate(rights, 1)] == letters
    for q in questions:
        assert f"- {'ABCDE'[int(q.answer[-1])]}) {q.answer}\n" in body
        assert f"{q.explanation.replace(chr(10), chr(92) + chr(10))}\n" in key
    assert "**Answer:** 73,856" in key and "3·3·64·128 + 128 = 73,856" in key
    assert "Accepted: k = 49, s = 5; k=49, s=5; 49\\*5" in key


def test_markdown_escapes_markup_and_fences_code() -> None:
    text = "# not a heading\n*not em* <b>x</b> [no](link)\n```\ncode ```` here\n```"
    markdown = to_markdown([dataclasses.replace(PARAMS, text=text)], "T_1_")
    assert markdown.startswith("# T_1\\_\n")  # an underscore inside a word is no markup
    assert "\\# not a heading\\\n\\*not em\\* \\<b>x\\</b> \\[no](link)\n" in markdown
    assert "\n`````\ncode ```` here\n`````\n" in markdown


# --- JSON ----------------------------------------------------------------------------------


def lists(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: lists(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [lists(v) for v in value]
    return value


@settings(max_examples=examples(500))  # 3,000 took 40 s of CI each
@given(question_lists())
def test_json_round_trip(questions: list[Question]) -> None:
    text = to_json(questions)
    assert json.loads(text) == [lists(dataclasses.asdict(q)) for q in questions]
    fields = [f.name for f in dataclasses.fields(Question)]
    assert all(list(item) == fields for item in json.loads(text))


def test_json_is_utf8_and_indented() -> None:
    text = to_json([SHAPE])
    assert "32×12×12" in text and "\\u" not in text
    assert text.startswith('[\n  {\n    "id": "q01-shape",\n')


# --- validation ----------------------------------------------------------------------------

BAD = {
    "two correct": dataclasses.replace(
        SHAPE, choices=(Choice("a", True, ""), Choice("b", True, ""))
    ),
    "zero correct": dataclasses.replace(
        SHAPE, choices=(Choice("a", False, ""), Choice("b", False, ""))
    ),
    "one choice": dataclasses.replace(SHAPE, choices=(Choice("32×12×12", True, ""),)),
    "duplicate texts": dataclasses.replace(
        SHAPE,
        choices=(Choice("32×12×12", True, ""), Choice("b", False, ""), Choice("b ", False, "")),
    ),
    "distractor equal to the answer": dataclasses.replace(
        SHAPE, choices=(Choice("x", True, ""), Choice("32×12×12", False, "oops"))
    ),
    "open with nothing accepted": dataclasses.replace(PARAMS, numeric=None),
    "empty accepted answer": dataclasses.replace(SOLVE, accepted=("k = 49", " ")),
    "numeric and accepted": dataclasses.replace(PARAMS, accepted=("73,856",)),
    "choices and numeric": dataclasses.replace(SHAPE, numeric=3),
    "non-integer numeric": dataclasses.replace(PARAMS, numeric=1.5),  # type: ignore[arg-type]
    "unknown topic": dataclasses.replace(PARAMS, topic="pooling"),
    "difficulty 4": dataclasses.replace(PARAMS, difficulty=4),
    "empty text": dataclasses.replace(PARAMS, text=" \n"),
    "two-line title": dataclasses.replace(PARAMS, title="a\nb"),
    "bad id": dataclasses.replace(PARAMS, id="q 1"),
    "control character": dataclasses.replace(PARAMS, explanation="a\x00b"),
    "carriage return": dataclasses.replace(PARAMS, text="a\r\nb"),
}


@pytest.mark.every_case
@pytest.mark.parametrize("question", BAD.values(), ids=BAD.keys())
def test_validation_rejects(question: Question) -> None:
    with pytest.raises(ValueError, match=re.escape(question.id) + ".*: "):
        validate_question(question)


@pytest.mark.every_case
@pytest.mark.parametrize("write", [to_markdown, to_moodle_xml, to_gift])
def test_every_writer_validates(write: Any) -> None:
    with pytest.raises(ValueError, match="correct choices"):
        write([BAD["two correct"]], "x")
    with pytest.raises(ValueError, match="used twice"):
        write([PARAMS, PARAMS], "x")
    with pytest.raises(ValueError, match="empty"):
        to_json([BAD["empty text"]])


def test_validation_accepts_good_questions() -> None:
    validate_questions([SHAPE, PARAMS, SOLVE])
    validate_question(dataclasses.replace(PARAMS, numeric=-3, explanation=""))


# --- the generator's questions -------------------------------------------------------------


def test_generated_quiz_in_every_format() -> None:
    quiz = pytest.importorskip("convcalc.teach.quiz")
    questions = quiz.quiz(7, 12)
    check_gift(questions, to_gift(questions, "convcalc/quiz"))
    check_moodle(questions, to_moodle_xml(questions, "convcalc/quiz"))
    assert json.loads(to_json(questions))[0]["id"] == questions[0].id
    assert to_markdown(questions, "Quiz").count("**Answer:**") == len(questions)
