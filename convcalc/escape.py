"""User text made safe for each medium convcalc writes: one function per medium.

Names of specs, layers and students, question labels, titles and file names come from files a
user (or a student) wrote, and travel into terminals, spreadsheets, SVG, Markdown and HTML,
LaTeX, Python source and YAML. Every writer of a medium passes such text through that medium's
function here, and nowhere else escapes it:

============  ==================  ================================================================
medium        function            what it guards against
============  ==================  ================================================================
terminal      :func:`terminal`    control characters (ESC sequences, BEL, NUL, DEL, C1, line and
                                  paragraph separators, bidirectional overrides): shown as
                                  ``\\x1b``, ``\\n``, ``\\u202e``, so a name can neither retitle or
                                  clear the screen nor start a line of its own
CSV           :func:`csv_cell`    formulas: a cell starting with ``=``, ``+``, ``-``, ``@``, a tab
                                  or a carriage return gets a leading ``'`` (OWASP's advice
                                  against CSV injection); control characters as for terminal
SVG / XML     :func:`xml`         markup (``& < > " '``) and characters XML 1.0 forbids (NUL and
                                  the other C0 controls but tab and newline, lone surrogates,
                                  U+FFFE, U+FFFF) or a terminal acts on (as for terminal): shown
                                  as ``\\x01`` …
Markdown      :func:`markdown`    HTML (``<img onerror=…>``), table cells broken by ``|``,
                                  code spans by backticks, emphasis and links: HTML-escaped and
                                  backslash-escaped; controls, newlines included, as escapes;
                                  plain names (``hw3-q3``, ``mobilenet_v2``) unchanged
HTML          :func:`html`        markup, in element text and quoted attributes
LaTeX         :func:`latex`       specials (``& % $ # _ { } ~ ^ \\``), the characters the
                                  default font draws as others (``< > | ` ``), anything not
                                  ASCII
Python        :func:`python_str`  a string literal that reads back as the text (``repr``), and
                                  :func:`python_comment` for text in a ``#`` comment
YAML          :func:`yaml_str`    a scalar that always reads back as this string (``1e3``,
                                  ``true``, ``null`` and U+2028 included)
JSON          :func:`json_text`   the characters ``json.dumps`` leaves raw that a terminal acts
                                  on (DEL, C1, separators, bidirectional controls): ``\\uXXXX``,
                                  so the same document, inert on a terminal
============  ==================  ================================================================

Every function is total: any string in, a safe string out.
"""

from __future__ import annotations

import re
import unicodedata

# characters a terminal acts on, or that end a line: C0 and C1 controls, DEL, the line and
# paragraph separators, and the bidirectional controls that reorder what follows them
_CONTROL = re.compile(
    "[\x00-\x1f\x7f-\x9f\u061c\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069\ufeff]"
)
# characters a YAML reader refuses or folds, written \uXXXX in a double-quoted scalar
_NOT_YAML = re.compile("[\x7f-\x9f\u2028\u2029\ufeff\ud800-\udfff\ufffe\uffff]")
# characters XML 1.0 cannot hold at all (not even as a character reference)
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
# what xml() shows as escapes: those, and the controls every medium shows (DEL, C1, the line
# and paragraph separators, the bidirectional controls); a tab and line ends stay
_XML_SHOWN = re.compile(f"{_NOT_XML.pattern}|(?![\t\n\r]){_CONTROL.pattern}")


def _markup(text: str, quotes: bool = True) -> str:
    """``& < >`` (and ``" '`` with ``quotes``) as entities, as ``html.escape`` writes them."""
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return text.replace('"', "&quot;").replace("'", "&#x27;") if quotes else text


def _visible(char: str) -> str:
    """One control character as its escape: ``\\n``, ``\\x1b``, ``\\u202e``."""
    return char.encode("unicode_escape").decode("ascii")


def _controls_shown(text: str) -> str:
    return _CONTROL.sub(lambda m: _visible(m.group()), text)


def terminal(text: str) -> str:
    """Text for a terminal line: every control character shown as its escape (``\\x1b[2J``
    prints as those six characters, not a cleared screen); printable text unchanged."""
    return _controls_shown(text)


# what starts a formula: OWASP's list, and the full-width forms some spreadsheets' input
# methods read as the same characters
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_FULL_WIDTH = ("\uff1d", "\uff0b", "\uff0d", "\uff20")
# a cell that a spreadsheet may start inside the text: after a semicolon, the separator Excel
# and LibreOffice use where the decimal mark is a comma (a comma makes the csv module quote)
_INNER_FORMULA = re.compile('(;[ "]*)(?=[=+\\-@\uff1d\uff0b\uff0d\uff20])')


def csv_cell(text: str) -> str:
    """A spreadsheet cell that is never a formula, whatever separator the spreadsheet splits
    at (OWASP, "CSV Injection"): a leading ``'`` where the text starts (after any spaces and
    quotes, which a spreadsheet splitting at ``;`` drops) with
    ``=``, ``+``, ``-``, ``@``, a tab or a carriage return (or ``＝ ＋ － ＠``), and a ``'``
    after each ``;`` followed by one, spaces and quotes between (``x;=1+1`` is two cells where
    ``;`` separates);
    control characters shown as escapes. The ``csv`` module then quotes commas and quotes."""
    formula = text.lstrip(' "').startswith(_FORMULA_START + _FULL_WIDTH)
    guarded = "'" + text if formula else text
    return _controls_shown(_INNER_FORMULA.sub(r"\1'", guarded))


def xml(text: str) -> str:
    """Text for XML (SVG, Moodle XML) element content or a double- or single-quoted attribute:
    ``& < > " '`` as entities, tabs and line ends as character references (an attribute keeps
    them, and a carriage return is not read as a newline), the characters XML 1.0 cannot hold
    and the other control characters (as for :func:`terminal`) shown as escapes."""
    safe = _markup(_XML_SHOWN.sub(lambda m: _visible(m.group()), text))
    return safe.replace("\t", "&#9;").replace("\n", "&#10;").replace("\r", "&#13;")


def html(text: str) -> str:
    """Text for HTML element content or a quoted attribute: markup as entities, and control
    characters shown as escapes (the page stays valid for an XML parser too)."""
    return _markup(_controls_shown(text))


# what Markdown reads as syntax anywhere in a line or a table cell: backslash escapes, code
# spans, emphasis (``_`` only where it is not between two letters or digits: ``mobilenet_v2``
# cannot open or close emphasis), links and images, strikethrough, cells, a heading's closing
# hashes; and at the text's start, what would begin a list, a setext underline or a heading
_MARKDOWN_SPECIAL = re.compile(r"[\\`*\[\]|~#]|(?<![^\W_])_|_(?![^\W_])")
_MARKDOWN_START = re.compile(r"^(?:(?=[-+=])|\d{1,9}(?=[.)](?:\s|$)))")


def markdown(text: str) -> str:
    """Text for a Markdown line or table cell, shown literally: HTML escaped (``<img …>`` is
    text, not an element), what Markdown would read as syntax backslash-escaped (``|`` cannot
    end a cell, a backtick cannot open code, ``*`` cannot start emphasis, ``[`` a link),
    controls shown as escapes (newlines included: a name cannot start a row of its own).
    Punctuation that is markup nowhere inside a line (``-``, ``.``, ``(``, a ``_`` inside a
    word) is left as it is, so a plain name (``hw3-q3``, ``features.1.0``) reads unchanged."""
    escaped = _markup(_controls_shown(text), quotes=False)
    escaped = _MARKDOWN_SPECIAL.sub(lambda m: "\\" + m.group(), escaped)
    return _MARKDOWN_START.sub(lambda m: m.group() + "\\", escaped, count=1)


def markdown_code(text: str, *, cell: bool = False) -> str:
    """Text inside a Markdown code span: a span fenced by more backticks than it holds in a row,
    with its HTML escaped for renderers that pass HTML through (``<`` as ``&lt;`` would show
    literally inside a code span, so markup characters are replaced by look-alikes instead).
    In a table ``cell``, every ``|`` is written ``\\|``: GFM splits a row at every other pipe,
    code spans included, and takes that backslash off first."""
    clean = _controls_shown(text).replace("<", "‹").replace(">", "›").replace("&", "＆")
    run = max((len(m) for m in re.findall("`+", clean)), default=0)
    fence = "`" * (run + 1)
    # a space inside each fence where Markdown would take one off (a text both starting and
    # ending with a space) or where a backtick would join the fence
    ends = clean[:1] + clean[-1:]
    pad = " " if "`" in ends or ends == "  " or not clean.strip() else ""
    span = f"{fence}{pad}{clean}{pad}{fence}"
    return span.replace("|", "\\|") if cell else span


_LATEX_SPECIAL = {c: "\\" + c for c in "&%$#_{}"} | {
    "~": r"\textasciitilde{}",
    "^": r"\^{}",
    "\\": r"\textbackslash{}",
    # the default font (OT1) has other glyphs at these places: ¡ ¿ — and a curly quote
    "<": r"\textless{}",
    ">": r"\textgreater{}",
    "|": r"\textbar{}",
    "`": r"\textasciigrave{}",
}


def latex(text: str) -> str:
    """Text for LaTeX's text mode: specials escaped, control characters shown as escapes (in
    typewriter-free text: ``\\textbackslash{}x1b``), anything else outside printable ASCII
    as ``?`` (the default fonts have no glyph for it)."""
    shown = _controls_shown(text)
    out = "".join(_LATEX_SPECIAL.get(c, c) for c in shown)
    return re.sub(r"[^\x20-\x7e]", "?", out)


def python_str(text: str) -> str:
    """A Python string literal that evaluates to ``text`` exactly (``repr``: every quote,
    backslash and control character escaped), in double quotes unless the text holds a
    double quote and no single one (as ruff formats a literal)."""
    literal = repr(text)
    if literal.startswith("'") and '"' not in text:
        return f'"{literal[1:-1]}"'  # no quote of either kind inside: only the fences change
    return literal


# a quote followed by the same quote, or ending the text: escaped, so that no run of them can
# close a docstring, and the text cannot close one either with the fence after it
_QUOTE_RUN = re.compile(r"""(["'])(?=\1|$)""")


def python_comment(text: str) -> str:
    """Text for a ``#`` comment or a docstring line: one line (controls shown as escapes, so a
    newline cannot end the comment and start code), no two quotes of a kind in a row nor a
    quote at the end (each such quote backslash-escaped: no run of five closes a docstring,
    nor a closing quote with the fence after it), no backslash escapes that a docstring would
    interpret."""
    one_line = _controls_shown(text).replace("\\", "\\\\")
    return _QUOTE_RUN.sub(r"\\\1", one_line)


# plain scalars that every YAML schema (1.1, 1.2 core, JSON) reads as text, in block and flow
# context: letters, digits, "_", "." and "-", words joined by single spaces (no indicator, no
# ":" or "#"), and either a letter or "_" first (numbers, timestamps, .inf and merge keys cannot
# start so) but for the words YAML 1.1 reads as booleans or null, or a digit first and some
# character that no number, date or hexadecimal holds (2024-net; not 1e3, 0x1F, 2024-01-02)
_PLAIN = re.compile(r"\w[\w.\-]*(?: \w[\w.\-]*)*")
_YAML_WORDS = frozenset({"y", "n", "yes", "no", "true", "false", "on", "off", "null"})
# every character a number, a date or a hexadecimal may hold, in any of those schemas
_NUMBER_LIKE = re.compile(r"[\d_.eE+\-xXoObBa-fA-F ]*")


def yaml_str(text: str) -> str:
    """A YAML scalar that reads back as this very string, whatever it looks like (``1e3``,
    ``2e-3``, ``yes``, ``null``, ``&x``, ``"``, U+2028): a double-quoted JSON string, which
    YAML 1.1 and 1.2 read alike, with every character YAML would refuse or fold (C1 controls,
    line and paragraph separators, surrogates) written ``\\uXXXX``. Words no schema reads as
    anything but text (:data:`_PLAIN`: ``lenet5``, ``hw3-q3``, ``features``, ``2024-net``)
    stay plain, as YAML writers leave them."""
    plain = _PLAIN.fullmatch(text) and text.lower() not in _YAML_WORDS
    if plain and not (text[0].isdecimal() and _NUMBER_LIKE.fullmatch(text)):
        return text
    import json  # here: the CLI imports this module at start-up, and only imports write YAML

    quoted = json.dumps(text, ensure_ascii=False)
    return _NOT_YAML.sub(lambda m: f"\\u{ord(m.group()):04x}", quoted)


def identifier_fold(name: str) -> str:
    """A name as Python reads it as an identifier (NFKC: ``ｔｏｒｃｈ`` is ``torch``), for the
    checks that a name given for generated code is not a builtin or a reserved name."""
    return unicodedata.normalize("NFKC", name)


def json_text(dumped: str) -> str:
    """A JSON document (``json.dumps``' output) with every character a terminal acts on written
    ``\\uXXXX``: ``json.dumps`` escapes C0 controls but leaves DEL, C1 controls, the line and
    paragraph separators and the bidirectional controls raw. Outside strings JSON holds none of
    them, so the document reads back the same."""
    return _JSON_RAW.sub(lambda m: f"\\u{ord(m.group()):04x}", dumped)


# the controls json.dumps leaves raw inside strings; the layout's own line ends and tabs stay
_JSON_RAW = re.compile(f"(?![\t\n\r]){_CONTROL.pattern}")
