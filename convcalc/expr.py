"""Arithmetic written out: the expressions that explain convcalc's numbers.

A size rule in :mod:`convcalc.arith` has, next to it, a function that builds the same rule as an
:class:`Expr` from the same arguments. An expression evaluates exactly (integers, and the one
float product PyTorch computes in double precision) and renders three ways — with symbols, with
numbers substituted, and with each floor or ceiling's operands reduced — in plain text (Unicode),
or LaTeX. The tests evaluate every rendering back and compare it with the rule's own value.

This module imports nothing but :mod:`math`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

Number = int | float

# binding strength: a child binding less tightly than its parent is parenthesised
_PRECEDENCE = {"+": 1, "-": 1, "*": 2}


@dataclass(frozen=True)
class Expr:
    """A node: ``sym`` (a named value), ``num`` (a constant), ``+`` and ``*`` (two operands
    or more: a long sum is one flat node, see :func:`total`), ``-`` (two), ``floor`` or
    ``ceil`` (of a quotient of two operands, or of one float product).
    """

    op: str
    args: tuple[Expr, ...] = ()
    value: Number = 0
    name: str = ""
    tex: str = ""

    def __add__(self, other: Expr | int) -> Expr:
        return Expr("+", (self, lift(other)))

    def __radd__(self, other: int) -> Expr:
        return Expr("+", (lift(other), self))

    def __sub__(self, other: Expr | int) -> Expr:
        return Expr("-", (self, lift(other)))

    def __rsub__(self, other: int) -> Expr:
        return Expr("-", (lift(other), self))

    def __mul__(self, other: Expr | Number) -> Expr:
        return Expr("*", (self, lift(other)))

    def __rmul__(self, other: Number) -> Expr:
        return Expr("*", (lift(other), self))

    def evaluate(self) -> Number:
        """The exact value: integer arithmetic throughout, floor and ceiling of exact
        quotients; a float operand multiplies in double precision, as PyTorch does."""
        if self.op in ("sym", "num"):
            return self.value
        values = [arg.evaluate() for arg in self.args]
        if self.op == "+":
            return sum(values)
        if self.op == "-":
            return values[0] - values[1]
        if self.op == "*":
            result: Number = 1
            for value in values:
                result *= value
            return result
        if len(values) == 1:  # ⌊x⌋ of a float product
            return math.floor(values[0]) if self.op == "floor" else math.ceil(values[0])
        a, b = int(values[0]), int(values[1])
        return a // b if self.op == "floor" else -(-a // b)


def sym(name: str, value: Number, tex: str = "") -> Expr:
    """A named quantity: ``sym("k", 3)`` renders as ``k`` or ``3`` (LaTeX: ``tex``, or the name,
    upright when it is a word: ``\\mathit{out\\_channels}``)."""
    if not tex:
        tex = name if len(name) == 1 else "\\mathit{" + name.replace("_", "\\_") + "}"
    return Expr("sym", value=value, name=name, tex=tex)


def total(parts: list[int] | list[Expr]) -> Expr:
    """a + b + c + …, one flat node however many parts (no deep nesting to recurse through)."""
    exprs = [lift(part) for part in parts]
    return exprs[0] if len(exprs) == 1 else Expr("+", tuple(exprs))


def product(parts: list[int] | tuple[int, ...]) -> Expr:
    """a·b·c·…, one flat node: a shape's number of values (64·56·56)."""
    exprs = [lift(part) for part in parts]
    return exprs[0] if len(exprs) == 1 else Expr("*", tuple(exprs))


def lift(value: Expr | Number) -> Expr:
    return value if isinstance(value, Expr) else Expr("num", value=value)


def floor(a: Expr | int, b: Expr | int | None = None) -> Expr:
    """⌊a / b⌋ (exact), or ⌊a⌋ of a float product when ``b`` is None."""
    return Expr("floor", (lift(a),) if b is None else (lift(a), lift(b)))


def ceil(a: Expr | int, b: Expr | int) -> Expr:
    """⌈a / b⌉ (exact)."""
    return Expr("ceil", (lift(a), lift(b)))


def reduced(expr: Expr) -> Expr:
    """Each floor or ceiling with its operands worked out: ⌊(128 + 2·0 − 7 − 1) / 2⌋ → ⌊120 / 2⌋."""
    if expr.op in ("floor", "ceil"):
        return Expr(expr.op, tuple(Expr("num", value=arg.evaluate()) for arg in expr.args))
    if expr.op in _PRECEDENCE:
        return Expr(expr.op, tuple(reduced(arg) for arg in expr.args))
    return expr


# --- rendering -------------------------------------------------------------------------------

_SIGNS = {"+": " + ", "-": " − ", "*": "·"}
_SIGNS_TEX = {"+": " + ", "-": " - ", "*": " \\cdot "}
_BRACKETS = {"floor": ("⌊", "⌋"), "ceil": ("⌈", "⌉")}
_BRACKETS_TEX = {
    "floor": ("\\left\\lfloor ", " \\right\\rfloor"),
    "ceil": ("\\left\\lceil ", " \\right\\rceil"),
}


def render(
    expr: Expr, *, symbols: bool = False, latex: bool = False, keep: frozenset[str] = frozenset()
) -> str:
    """The expression as text (``⌊(128 + 2·0 − 1·(8 − 1) − 1) / 2⌋ + 1``) or LaTeX, with its
    symbols' names (``symbols``) or their values; the symbols in ``keep`` keep their names
    (an unknown: ``⌊15 / s⌋``)."""
    if expr.op == "sym" and (symbols or expr.name in keep):
        return expr.tex if latex else expr.name
    if expr.op in ("sym", "num"):
        return _number(expr.value, latex)
    parts = [render(arg, symbols=symbols, latex=latex, keep=keep) for arg in expr.args]
    if expr.op in _BRACKETS:
        left, right = (_BRACKETS_TEX if latex else _BRACKETS)[expr.op]
        if len(parts) == 1:
            return f"{left}{parts[0]}{right}"
        if latex:
            return f"{left}\\frac{{{parts[0]}}}{{{parts[1]}}}{right}"
        top, bottom = (_grouped(arg, part) for arg, part in zip(expr.args, parts, strict=True))
        return f"{left}{top} / {bottom}{right}"
    level = _PRECEDENCE[expr.op]
    for i, arg in enumerate(expr.args):
        weaker = _PRECEDENCE.get(arg.op, 3) < level
        if weaker or (expr.op == "-" and i > 0 and _PRECEDENCE.get(arg.op) == 1):
            parts[i] = _paren(parts[i], latex)
    return (_SIGNS_TEX if latex else _SIGNS)[expr.op].join(parts)


def _grouped(arg: Expr, text: str) -> str:
    """A quotient's operand in text: bracketed unless it is a single number or symbol."""
    return text if arg.op in ("sym", "num", "floor", "ceil") else f"({text})"


def _paren(text: str, latex: bool) -> str:
    return f"\\left({text}\\right)" if latex else f"({text})"


def _number(value: Number, latex: bool) -> str:
    text = repr(value) if isinstance(value, float) else str(value)
    if value < 0:
        return f"({text})" if latex else f"(−{text[1:]})"
    return text


def steps(quantity: str, expr: Expr, *, latex: bool = False) -> list[str]:
    """``[H, ⌊(H_in + 2p − d·(k − 1) − 1) / s⌋ + 1, ⌊(128 + …) / 2⌋ + 1, ⌊120 / 2⌋ + 1, 61]``:
    the quantity, the formula, its numbers, their reduction and the value, each shown once."""
    shown = [quantity]
    for step in (
        render(expr, symbols=True, latex=latex),
        render(expr, latex=latex),
        render(reduced(expr), latex=latex),
        _number(expr.evaluate(), latex),
    ):
        if step != shown[-1]:
            shown.append(step)
    return shown


def equation(quantity: str, expr: Expr, *, latex: bool = False) -> str:
    """The steps as one line, ``H = … = 61``; in LaTeX, rows of ``align*``, one per step."""
    first, *rest = steps(quantity, expr, latex=latex)
    if latex and len(" = ".join(rest)) > 80:  # a long one: a row per step
        return first + " &= " + " \\\\\n  &= ".join(rest)
    if latex:
        return first + " &= " + " = ".join(rest)
    return first + " = " + " = ".join(rest)
