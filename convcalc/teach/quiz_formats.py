"""Quiz questions and the five ways of writing them: Markdown, Moodle XML, GIFT, JSON and LaTeX
(an exam sheet and its solutions sheet).

A :class:`Question` is plain text with Unicode math. Lines indented by two or more spaces, or
fenced with three backticks, are a code block (a YAML spec, say): Moodle XML shows it as
``<pre>`` (the fence lines themselves are dropped), Markdown as a fenced block. GIFT keeps the text
as ``[plain]`` with every newline written ``\\n``; GIFT trims the ends of each text, and Moodle's
importer reads the strings ``&&058;`` and the like as escapes (neither can be helped).
Every writer validates its questions first (:func:`validate_questions`) and raises ValueError.

The quiz's title is the user's text: the Markdown worksheet's heading (through
:func:`convcalc.escape.markdown`), and the category of Moodle XML (through
:func:`convcalc.escape.xml`) and GIFT (:func:`_gift_category`: one line, backslashes doubled,
as Moodle's importer reads a ``$CATEGORY:`` line). Any title but a blank one can be written.
The questions' own texts, which validation keeps to what XML can hold, are written exactly
(line separators and the like included), as each format reads them back.
"""

from __future__ import annotations

import dataclasses
import html
import itertools
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from xml.sax.saxutils import escape as xml_escape

from convcalc import escape
from convcalc.tex import tex_document, tex_text

TOPICS = ("shape", "params", "macs", "rf", "solve", "mlp")  # convcalc.teach.quiz makes these
LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")
# not allowed in XML 1.0 (or meaningless in a question): controls other than tab and newline
_BAD_CHAR = re.compile("[\x00-\x08\x0b-\x1f\ud800-\udfff\ufffe\uffff]")
_FENCE = re.compile(r" {0,3}(`{3,})[^`]*")
_GIFT_ESCAPES = {c: "\\" + c for c in "\\~=#{}:"} | {"\n": "\\n"}
# what Markdown would read as markup: emphasis, code, links, HTML tags, entities
_MD_ESCAPE = re.compile(r"[\\`*\[~]|(?<!\w)_|_(?!\w)|<(?=[A-Za-z/!?])|&(?=#?\w+;)")
_MD_LINE_START = re.compile(r"^(\d{1,9}(?=[.)])|(?=[#>+=|-]))")  # a heading, quote, list...


@dataclass(frozen=True)
class Choice:
    """One option of a multiple-choice question; a wrong one says in ``feedback`` which mistake
    gives it."""

    text: str
    correct: bool
    feedback: str


@dataclass(frozen=True)
class Question:
    """A question with its answer and worked explanation: multiple choice when it has
    ``choices``, else open, numerical (``numeric``) or short answer (``accepted``)."""

    id: str
    topic: str
    difficulty: int
    title: str
    text: str
    answer: str
    explanation: str
    choices: tuple[Choice, ...] = ()
    numeric: int | None = None
    accepted: tuple[str, ...] = ()


def validate_question(q: Question) -> None:
    """Raise ValueError unless ``q`` is well posed: one right choice among distinct ones, or an
    open question with a number or accepted spellings."""
    if not _ID.fullmatch(q.id):
        raise ValueError(f"question id {q.id!r}: use 1-100 letters, digits, '.', '_' or '-'")
    where = f"question {q.id}"
    if q.topic not in TOPICS:
        raise ValueError(f"{where}: topic {q.topic!r} is not one of {', '.join(TOPICS)}")
    if isinstance(q.difficulty, bool) or q.difficulty not in (1, 2, 3):
        raise ValueError(f"{where}: difficulty {q.difficulty!r} is not 1, 2 or 3")
    for name in ("title", "text", "answer"):
        if not getattr(q, name).strip():
            raise ValueError(f"{where}: the {name} is empty")
    if "\n" in q.title:
        raise ValueError(f"{where}: the title is more than one line")
    texts = [q.title, q.text, q.answer, q.explanation, *q.accepted]
    for text in texts + [t for c in q.choices for t in (c.text, c.feedback)]:
        if bad := _BAD_CHAR.search(text):
            raise ValueError(f"{where}: control character {bad.group()!r} in {text!r}")
    if q.choices:
        _validate_choices(q, where)
    elif q.numeric is not None:
        if q.accepted:
            raise ValueError(f"{where}: both a numeric answer and accepted texts")
        if isinstance(q.numeric, bool) or not isinstance(q.numeric, int):
            raise ValueError(f"{where}: numeric answer {q.numeric!r} is not an integer")
    elif not q.accepted:
        raise ValueError(f"{where}: no choices, no numeric answer and no accepted answers")
    else:
        _distinct([a.strip() for a in q.accepted], f"{where}: accepted answer")


def _validate_choices(q: Question, where: str) -> None:
    if q.numeric is not None or q.accepted:
        raise ValueError(f"{where}: a multiple-choice question has no numeric or accepted answer")
    if not 2 <= len(q.choices) <= len(LETTERS):
        raise ValueError(f"{where}: {len(q.choices)} choices (2 to {len(LETTERS)} needed)")
    right = sum(c.correct for c in q.choices)
    if right != 1:
        raise ValueError(f"{where}: {right} correct choices, exactly one needed")
    _distinct([c.text.strip() for c in q.choices], f"{where}: choice")
    for c in q.choices:
        if not c.correct and c.text.strip() == q.answer.strip():
            raise ValueError(f"{where}: the wrong choice {c.text!r} is the answer")


def _distinct(texts: list[str], what: str) -> None:
    seen: set[str] = set()
    for text in texts:
        if not text or text in seen:
            raise ValueError(f"{what} {text!r} is " + ("repeated" if text else "empty"))
        seen.add(text)


def validate_questions(questions: Sequence[Question]) -> None:
    """Validate each question, and that no two share an id."""
    ids: set[str] = set()
    for q in questions:
        validate_question(q)
        if q.id in ids:
            raise ValueError(f"question id {q.id!r} is used twice")
        ids.add(q.id)


# --- blocks of text: prose and code --------------------------------------------------------


def _fence_end(lines: list[str], i: int) -> int | None:
    """The index of the line closing a fence opened at line ``i``, if it opens a closed one."""
    if not (m := _FENCE.fullmatch(lines[i])):
        return None
    close = re.compile(r" {0,3}" + m.group(1) + r"`* *")
    return next((j for j in range(i + 1, len(lines)) if close.fullmatch(lines[j])), None)


def _blocks(text: str) -> list[tuple[bool, list[str], str]]:
    """``text`` cut into runs of lines ``(is_code, lines, fence)``; ``fence`` is the opening
    line of a fenced block (its fence lines are not in ``lines``), else ``""``."""
    lines, out, i = text.split("\n"), [], 0

    def indented(j: int) -> bool:
        return lines[j].startswith("  ") and bool(lines[j].strip()) and _fence_end(lines, j) is None

    while i < len(lines):
        if (end := _fence_end(lines, i)) is not None:
            out.append((True, lines[i + 1 : end], lines[i].strip()))
            i = end + 1
            continue
        j, code = i + 1, indented(i)
        while j < len(lines) and _fence_end(lines, j) is None:
            if code and not lines[j].strip():  # blank lines inside a code block stay in it
                k = next((k for k in range(j, len(lines)) if lines[k].strip()), len(lines))
                if k == len(lines) or not indented(k):
                    break
                j = k
            elif indented(j) != code:
                break
            j += 1
        out.append((code, lines[i:j], ""))
        i = j
    return out


# --- Markdown --------------------------------------------------------------------------------


def _md_line(line: str) -> str:
    escaped = _MD_ESCAPE.sub(lambda m: "\\" + m.group(), line)
    return _MD_LINE_START.sub(r"\1\\", escaped, count=1)


def _md_inline(text: str, indent: str = "  ") -> str:
    """One paragraph: escaped, its lines joined by hard breaks."""
    return ("\\\n" + indent).join(_md_line(x.strip()) for x in text.split("\n") if x.strip())


def _md_blocks(text: str) -> list[str]:
    """Paragraphs with hard line breaks, code as fenced blocks; blocks separated by blank lines."""
    out: list[str] = []
    for code, lines, fence in _blocks(text):
        if code:
            ticks = max([3, *(len(r) + 1 for x in lines for r in re.findall("`{3,}", x))])
            info = fence.lstrip("`").strip()
            out += ["`" * ticks + info, *lines, "`" * ticks, ""]
            continue
        for filled, paragraph in itertools.groupby(lines, key=lambda x: bool(x.strip())):
            out += [_md_inline("\n".join(paragraph), ""), ""] if filled else []
    return out


def _lettered(q: Question) -> list[tuple[str, Choice]]:
    return list(zip(LETTERS, q.choices, strict=False))


def to_markdown(questions: Sequence[Question], title: str) -> str:
    """A numbered worksheet with lettered choices, then an answer key: each answer with its
    letter, the explanation and what each wrong choice's mistake is."""
    validate_questions(questions)
    out = [f"# {escape.markdown(title)}", ""]
    for n, q in enumerate(questions, 1):
        out += [f"## {n}. {_md_inline(q.title)}", "", *_md_blocks(q.text)]
        out += [f"- {x}) {_md_inline(c.text, '   ')}" for x, c in _lettered(q)]
        out += [""] if q.choices else []
    out += ["## Answer key", ""]
    for n, q in enumerate(questions, 1):
        answer = _md_inline(q.answer)
        for letter, c in _lettered(q):
            if c.correct:
                same = c.text.strip() == q.answer.strip()
                answer = f"{letter}) {_md_inline(c.text)}" + ("" if same else f" ({answer})")
        out += [f"### {n}. {_md_inline(q.title)}", "", f"**Answer:** {answer}", ""]
        if q.accepted:
            out += ["Accepted: " + "; ".join(_md_inline(a) for a in q.accepted), ""]
        out += _md_blocks(q.explanation)
        wrong = [(x, c) for x, c in _lettered(q) if not c.correct and c.feedback.strip()]
        for x, c in wrong:
            out.append(f"- {x}) {_md_inline(c.text, '   ')}: {_md_inline(c.feedback, '   ')}")
        out += [""] if wrong else []
    return "\n".join(out).rstrip("\n") + "\n"


# --- Moodle XML ------------------------------------------------------------------------------


def _html(text: str) -> str:
    """HTML for ``text``: lines joined by ``<br>``, paragraphs in ``<p>``, code in ``<pre>``
    (after a newline the HTML parser drops); a single paragraph is left bare."""
    if not text:
        return ""
    blocks = _blocks(text)
    parts = []
    for code, lines, _ in blocks:
        escaped = [html.escape(x, quote=False) for x in lines]
        if code:
            parts.append("<pre>\n" + "\n".join(escaped) + "</pre>")
        elif len(blocks) == 1:
            return "<br>".join(escaped)
        else:
            parts.append("<p>" + "<br>".join(escaped) + "</p>")
    return "".join(parts)


def _cdata(text: str) -> str:
    return "<![CDATA[" + text.replace("]]>", "]]]]><![CDATA[>") + "]]>" if text else ""


def _rich(tag: str, text: str) -> str:
    return f'<{tag} format="html"><text>{_cdata(_html(text))}</text></{tag}>'


def _category(category: str) -> str:
    """The category's path: under the course's top category unless it names a context."""
    path = category.strip()
    if not path:
        raise ValueError("the category is empty: some text is needed")
    return path if path.startswith("$") else f"$course$/top/{path}"


def _answer(fraction: int, fmt: str, text: str, feedback: str = "", *more: str) -> list[str]:
    head = f'    <answer fraction="{fraction}" format="{fmt}">'
    body = [f"<text>{text}</text>", _rich("feedback", feedback), *more]
    return [head, *(f"      {x}" for x in body), "    </answer>"]


def _moodle_question(q: Question) -> list[str]:
    kind = "multichoice" if q.choices else "shortanswer" if q.accepted else "numerical"
    out = [
        f'  <question type="{kind}">',
        f"    <name><text>{xml_escape(q.title)}</text></name>",
        f"    {_rich('questiontext', q.text)}",
        f"    {_rich('generalfeedback', q.explanation)}",
        "    <defaultgrade>1.0000000</defaultgrade>",
        "    <penalty>0.3333333</penalty>",
        "    <hidden>0</hidden>",
        f"    <idnumber>{q.id}</idnumber>",
    ]
    if q.choices:
        out += ["    <single>true</single>", "    <shuffleanswers>true</shuffleanswers>"]
        out += ["    <answernumbering>ABCD</answernumbering>"]
        for tag in ("correctfeedback", "partiallycorrectfeedback", "incorrectfeedback"):
            out.append(f"    {_rich(tag, '')}")
        for c in q.choices:
            out += _answer(100 if c.correct else 0, "html", _cdata(_html(c.text)), c.feedback)
    elif q.accepted:
        out.append("    <usecase>0</usecase>")
        for a in q.accepted:
            out += _answer(100, "moodle_auto_format", xml_escape(_wildcard(a)))
    else:
        out += _answer(100, "moodle_auto_format", str(q.numeric), "", "<tolerance>0</tolerance>")
        out += ["    <unitgradingtype>0</unitgradingtype>", "    <showunits>3</showunits>"]
    tags = ("convcalc", q.topic, f"difficulty-{q.difficulty}")
    out += ["    <tags>", *(f"      <tag><text>{t}</text></tag>" for t in tags), "    </tags>"]
    return [*out, "  </question>"]


def to_moodle_xml(questions: Sequence[Question], category: str) -> str:
    """A Moodle XML question bank: the category (a ``/`` path under the course's top category,
    unless it starts with a context such as ``$system$/``), then the questions, tagged with
    ``convcalc``, their topic and ``difficulty-N``; the question id is the Moodle ID number."""
    validate_questions(questions)
    out = ['<?xml version="1.0" encoding="UTF-8"?>', "<quiz>", '  <question type="category">']
    out += [f"    <category><text>{escape.xml(_category(category))}</text></category>"]
    out += ['    <info format="html"><text></text></info>', "  </question>"]
    for q in questions:
        out += _moodle_question(q)
    return "\n".join([*out, "</quiz>"]) + "\n"


# --- GIFT ------------------------------------------------------------------------------------


def _wildcard(answer: str) -> str:
    """A short answer with its ``*`` written ``\\*``: Moodle reads a bare ``*`` as a wildcard."""
    return answer.replace("*", "\\*")


def _gift_category(category: str) -> str:
    """The category for a ``$CATEGORY:`` line. Moodle's importer takes the line's text as it is
    but for one thing: a doubled backslash is read as one (each other escape, ``\\:`` say,
    becomes a placeholder that is never read back, so ``~=#{}:`` are written bare). One line:
    control characters, line ends included, are shown as escapes
    (:func:`convcalc.escape.terminal`), whose backslashes are then doubled too."""
    return escape.terminal(_category(category)).replace("\\", "\\\\")


def _gift_escape(text: str) -> str:
    return "".join(_GIFT_ESCAPES.get(ch, ch) for ch in text)


def _gift(text: str, weight: str = "") -> str:
    """``text`` escaped; starting with ``[`` it gets an explicit ``[plain]`` (else ``[html]…``
    would be read as a format) and starting with ``%`` an explicit ``weight`` (else ``%50%…``
    would be read as one)."""
    escaped = _gift_escape(text)
    start = text.lstrip(" \t")
    if weight and start.startswith("%"):
        return f"%{weight}%{escaped}"
    return "[plain]" + escaped if start.startswith("[") else escaped


def to_gift(questions: Sequence[Question], category: str) -> str:
    """GIFT: a ``$CATEGORY:`` line, then each question as ``::title::[plain]text{…}`` with
    ``=right#feedback ~wrong#feedback``, ``#number`` or ``=accepted`` answers and the
    explanation as general feedback (``####``)."""
    validate_questions(questions)
    out = [f"$CATEGORY: {_gift_category(category)}"]
    for q in questions:
        first = f"::{_gift_escape(q.title)}::[plain]{_gift_escape(q.text)}{{"
        body = []
        for c in q.choices:
            feedback = f"#{_gift(c.feedback)}" if c.feedback else ""
            mark = "=" if c.correct else "~"
            body.append(f"\t{mark}{_gift(c.text, '' if c.correct else '0')}{feedback}")
        for a in q.accepted:
            if "->" in a:  # the importer would take the question for a matching one
                raise ValueError(f"question {q.id}: GIFT cannot write the answer {a!r} ('->')")
            body.append(f"\t={_gift(_wildcard(a), '100')}")
        if q.numeric is not None:
            first += f"#{q.numeric}"
        if q.explanation:
            body.append(f"\t####{_gift(q.explanation)}")
        head = f"// {q.id}: {q.topic}, difficulty {q.difficulty}"
        out.append("\n".join([head, first, *body, "}"] if body else [head, first + "}"]))
    return "\n\n".join(out) + "\n"


# --- JSON ------------------------------------------------------------------------------------


def to_json(questions: Sequence[Question]) -> str:
    """A JSON array of the questions, fields in declaration order, UTF-8 text, indented 2."""
    validate_questions(questions)
    data = [dataclasses.asdict(q) for q in questions]
    return json.dumps(data, ensure_ascii=False, indent=2) + "\n"


# --- LaTeX -----------------------------------------------------------------------------------

_TEX_GREEK = re.compile("([θ])")  # the Greek of the quiz's own texts (n_θ), beyond convcalc.tex
_TEX_GREEK_NAMES = {"θ": r"$\theta$"}


def _tex(text: str) -> str:
    """One line of text for LaTeX's text mode: convcalc's symbols as formulas (``×`` as
    ``$\\times$``, :func:`convcalc.tex.tex_text`), θ as ``$\\theta$``, the rest through
    :func:`convcalc.escape.latex` (specials escaped, anything else outside ASCII ``?``), and
    no two hyphens joined into a dash."""
    tex = "".join(_TEX_GREEK_NAMES.get(part) or tex_text(part) for part in _TEX_GREEK.split(text))
    return re.sub("-(?=-)", "-{}", tex)  # --in stays two hyphens, not a dash


def _tex_blocks(text: str) -> list[str]:
    """Paragraphs with their lines kept (``\\newline``, which never reads a ``[`` after it as
    an option), code in typewriter with its indents kept (``~`` a space) and its long lines
    wrapped at spaces; blocks apart."""
    out: list[str] = []
    for code, lines, _ in _blocks(text):
        if code:
            indents = [len(x) - len(x.lstrip(" ")) for x in lines]
            shown = [
                r"\mbox{}" + "~" * n + _tex(x.lstrip(" "))
                for x, n in zip(lines, indents, strict=True)
            ]
            out += ["{\\ttfamily\\raggedright", "\\newline\n".join(shown) + "\\par}", ""]
            continue
        for filled, paragraph in itertools.groupby(lines, key=lambda x: bool(x.strip())):
            if filled:
                out += ["\\newline\n".join(_tex(x.strip()) for x in paragraph), ""]
    return out


# a run of 32 characters without a space (about half a line of the title's 14.4 pt bold), or
# a run ending after a separator (_ / - . , ; :)
_WORD_PIECE = re.compile(r"[^\s_/.,;:-]{1,32}[_/.,;:-]*|[_/.,;:-]+")


def _tex_breakable(text: str) -> str:
    """User text (a title) for LaTeX that can break inside a long word: each word longer than
    32 characters is cut after its separators and every 32 characters, the pieces escaped on
    their own (:func:`_tex`) and joined by ``\\allowbreak{}`` (no overfull line off the page,
    and no escape cut in two)."""
    words = re.split(r"(\s+)", text)
    out = []
    for word in words:
        if len(word) <= 32 or word.isspace():
            out.append(_tex(word))
        else:
            out.append("\\allowbreak{}".join(_tex(p) for p in _WORD_PIECE.findall(word)))
    return "".join(out)


def _tex_inline(text: str) -> str:
    """A choice or a feedback: its lines joined by ``\\newline``."""
    return "\\newline ".join(_tex(x.strip()) for x in text.split("\n") if x.strip())


def _tex_document(title: str, body: list[str]) -> str:
    """A complete document (:func:`convcalc.tex.tex_document`) with choices lettered A), B)."""
    head = tex_document(title)
    head.insert(
        head.index("\\begin{document}\n") + 1, "\\renewcommand{\\labelenumii}{\\Alph{enumii})}\n"
    )
    return "".join(head) + "\n".join([*body, "\\end{document}"]) + "\n"


def to_latex(questions: Sequence[Question], title: str) -> tuple[str, str]:
    """Two LaTeX documents: the exam sheet (a line for the student's name, the numbered
    questions with their lettered choices, an answer line under an open question) and the
    solutions sheet (each answer with its letter, what else is accepted, the worked
    explanation, and the mistake behind each wrong choice). ``title`` heads both, escaped."""
    validate_questions(questions)
    heading = _tex_breakable(title.strip())
    if not heading:
        raise ValueError("the title is empty: some text is needed")
    exam = ["\\noindent Name: \\hrulefill\\qquad Date: \\hrulefill", "", "\\begin{enumerate}"]
    for q in questions:
        exam += [f"\\item \\textbf{{{_tex(q.title)}}}", "", *_tex_blocks(q.text)]
        if q.choices:
            exam += ["\\begin{enumerate}"]
            exam += [f"\\item {_tex_inline(c.text)}" for c in q.choices]
            exam += ["\\end{enumerate}"]
        else:
            exam += ["\\medskip\\noindent Answer: \\hrulefill", ""]
    exam.append("\\end{enumerate}")
    key = ["\\begin{enumerate}"]
    for q in questions:
        answer = _tex_inline(q.answer)
        for letter, c in _lettered(q):
            if c.correct:
                same = c.text.strip() == q.answer.strip()
                answer = f"{letter}) {_tex_inline(c.text)}" + ("" if same else f" ({answer})")
        key += [f"\\item \\textbf{{{_tex(q.title)}}} \\hfill {{\\small {_tex(q.id)}}}", ""]
        key += [f"\\textbf{{Answer:}} {answer}", ""]
        if q.accepted:
            key += ["Accepted: " + "; ".join(_tex_inline(a) for a in q.accepted), ""]
        key += _tex_blocks(q.explanation)
        wrong = [(x, c) for x, c in _lettered(q) if not c.correct and c.feedback.strip()]
        if wrong:
            key.append("\\begin{itemize}")
            key += [
                f"\\item[{x})] {_tex_inline(c.text)}: {_tex_inline(c.feedback)}" for x, c in wrong
            ]
            key.append("\\end{itemize}")
    key.append("\\end{enumerate}")
    return _tex_document(heading, exam), _tex_document(f"{heading}: solutions", key)
