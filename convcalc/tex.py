"""LaTeX for the explanations: text mode with convcalc's symbols, and a document's start.

Kept apart from :mod:`convcalc.views.explain` so that commands which write LaTeX without a spec
(``mlp --explain``, ``solve --explain``) do not load the spec machinery.
"""

from __future__ import annotations

import re

from convcalc.escape import latex


def tex_text(text: str) -> str:
    """Plain text for LaTeX's text mode: the symbols convcalc uses in math as formulas
    (``×`` as ``$\\times$``), everything else through :func:`convcalc.escape.latex` (specials
    escaped, control characters shown as escapes, anything else outside ASCII as ``?``)."""
    return "".join(_TEX_SYMBOLS.get(part) or latex(part) for part in _SYMBOL.split(text))


def tex_document(title: str) -> list[str]:
    """The start of a complete LaTeX document (article, amsmath, 2 cm margins) titled ``title``
    (LaTeX already); the caller appends its body and ``\\end{document}``."""
    return [
        "\\documentclass{article}\n",
        "\\usepackage{amsmath}\n",
        "\\usepackage[margin=2cm]{geometry}\n",
        "\\allowdisplaybreaks\n",
        "\\begin{document}\n",
        "\\sloppy\n",
        f"\\section*{{{title}}}\n",
    ]


_MATH_SYMBOLS = {
    "×": r"\times ",
    "·": r"\cdot ",
    "→": r"\to ",
    "−": "-",
    "≥": r"\geq ",
    "≤": r"\leq ",
    "⇔": r"\Leftrightarrow ",
    "⌊": r"\lfloor ",
    "⌋": r"\rfloor ",
    "⌈": r"\lceil ",
    "⌉": r"\rceil ",
    "…": r"\ldots ",
}
# text mode: the same symbols, each as a formula of its own; < and > too (text mode's are
# other glyphs in the default font encoding); an ellipsis as text
_TEX_SYMBOLS = {char: f"${tex.strip()}$" for char, tex in _MATH_SYMBOLS.items()}
_TEX_SYMBOLS |= {"<": "$<$", ">": "$>$", "…": r"\ldots{}"}
_SYMBOL = re.compile("([" + "".join(map(re.escape, _TEX_SYMBOLS)) + "])")
_MATH_WORDS = {"max": r"\max", "min": r"\min", "op": r"\mathit{op}", "k_eff": r"k_{\mathrm{eff}}"}
# a word (an option such as --no-gaps, or letters with an apostrophe's ending: kernel's), or one
# character
_TOKEN = re.compile(r"--[a-z-]+|[A-Za-z][A-Za-z_]*(?:'[a-z]+)?|.", re.DOTALL)


def tex_inline(text: str) -> str:
    """A line that mixes words and formulas (``so k ≤ ⌊67 / 2⌋ + 1 = 34``) for LaTeX's text
    mode, each formula in ``$…$``: single letters (but the article "a") and the names in
    ``_MATH_WORDS`` are math, longer words prose, options typewriter; spaces and punctuation
    at a formula's ends stay outside it."""
    out: list[str] = []
    run: list[str] = []  # the formula being gathered, each token already in math form

    def close() -> None:
        body = "".join(run)
        formula = _trimmed(body)
        if formula:
            start = body.index(formula)
            out.append(f"{body[:start]}${formula}${body[start + len(formula) :]}")
        else:
            out.append(body)
        run.clear()

    for token in _TOKEN.findall(text):
        word = token[0].isalpha() or token.startswith("--")
        if token.startswith("--"):
            close()
            out.append(r"\texttt{" + token.replace("-", "-{}") + "}")
        elif word and (len(token) > 1 or token == "a") and token not in _MATH_WORDS:
            close()
            out.append(tex_text(token))
        elif word:
            run.append(_MATH_WORDS.get(token, token))
        elif token in _MATH_SYMBOLS:
            run.append(_MATH_SYMBOLS[token])
        elif token in "&%$#_{}~^\\":
            run.append(tex_text(token))
        else:
            run.append(token if token.isascii() else "?")
    close()
    return "".join(out)


def _trimmed(body: str) -> str:
    """A formula's text without the spaces, punctuation and unmatched brackets at its ends
    (``(give a p)``: the formula is ``p``)."""
    formula = body.strip(" ,;:")
    while True:
        opened, closed = formula.count("("), formula.count(")")
        if formula.endswith("(") or (formula.endswith(")") and closed > opened):
            formula = formula[:-1].rstrip(" ,;:")
        elif formula.startswith(")") or (formula.startswith("(") and opened > closed):
            formula = formula[1:].lstrip(" ,;:")
        else:
            return formula
