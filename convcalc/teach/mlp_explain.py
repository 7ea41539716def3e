"""The equations of the one-hidden-layer MLP (the homework's Question 2), with every matrix's
dimensions for given d, d_h and d_o, and the parameter count worked out.

``convcalc mlp --explain`` renders :func:`equations` and :func:`parameter_count` as text,
Markdown or LaTeX. The dimensions are written from d, d_h and d_o by the rule of a matrix
product, (r×n)(n×c) → r×c, for the arrays :class:`convcalc.reference.MLP` holds (W⁽¹⁾ is
d_h×d, W⁽²⁾ d_o×d_h: a column vector in, as the homework writes it); the tests compare every
one with a PyTorch model's tensors and gradients, an independent source.
"""

from __future__ import annotations

from dataclasses import dataclass

from convcalc.expr import Expr, equation, sym
from convcalc.tex import tex_document


@dataclass(frozen=True)
class Equation:
    """One equation: its text and LaTeX forms, its operands' dimensions and its result's."""

    text: str
    tex: str
    operands: str  # "(d_h×d)(d×1) + (d_h×1)", with the numbers
    result: tuple[int, int] | None  # rows × columns; None for a scalar


def _dims(rows: int, cols: int) -> str:
    return f"{rows}×{cols}"


def equations(d: int, d_h: int, d_o: int) -> tuple[list[Equation], list[Equation]]:
    """The forward pass and the backward pass, in the order they are computed."""
    col = 1
    forward = [
        Equation(
            "hᵃ = W⁽¹⁾x + b⁽¹⁾",
            r"\mathbf{h}^a = W^{(1)}\mathbf{x} + \mathbf{b}^{(1)}",
            f"({_dims(d_h, d)})({_dims(d, col)}) + ({_dims(d_h, col)})",
            (d_h, col),
        ),
        Equation(
            "hˢ = ELU_α(hᵃ)",
            r"\mathbf{h}^s = \mathrm{ELU}_\alpha(\mathbf{h}^a)",
            "element-wise",
            (d_h, col),
        ),
        Equation(
            "oᵃ = W⁽²⁾hˢ + b⁽²⁾",
            r"\mathbf{o}^a = W^{(2)}\mathbf{h}^s + \mathbf{b}^{(2)}",
            f"({_dims(d_o, d_h)})({_dims(d_h, col)}) + ({_dims(d_o, col)})",
            (d_o, col),
        ),
        Equation(
            "oˢ = softmax(oᵃ)",
            r"\mathbf{o}^s = \mathrm{softmax}(\mathbf{o}^a)",
            "element-wise over one vector",
            (d_o, col),
        ),
        Equation(
            "L = −log oˢ_y = −oᵃ_y + log Σᵢ exp(oᵃᵢ)",
            r"L = -\log o^s_y = -o^a_y + \log \sum_{i=1}^{d_o} e^{o^a_i}",
            "one entry of oˢ",
            None,
        ),
    ]
    backward = [
        Equation(
            "∂L/∂oᵃ = oˢ − onehot(y)",
            r"\frac{\partial L}{\partial \mathbf{o}^a} = \mathbf{o}^s - \mathrm{onehot}_{d_o}(y)",
            f"({_dims(d_o, col)}) − ({_dims(d_o, col)})",
            (d_o, col),
        ),
        Equation(
            "∂L/∂W⁽²⁾ = (∂L/∂oᵃ)(hˢ)ᵀ",
            r"\frac{\partial L}{\partial W^{(2)}} = \frac{\partial L}{\partial \mathbf{o}^a}"
            r"(\mathbf{h}^s)^\top",
            f"({_dims(d_o, col)})({_dims(col, d_h)})",
            (d_o, d_h),
        ),
        Equation(
            "∂L/∂b⁽²⁾ = ∂L/∂oᵃ",
            r"\frac{\partial L}{\partial \mathbf{b}^{(2)}} = "
            r"\frac{\partial L}{\partial \mathbf{o}^a}",
            _dims(d_o, col),
            (d_o, col),
        ),
        Equation(
            "∂L/∂hˢ = (W⁽²⁾)ᵀ(∂L/∂oᵃ)",
            r"\frac{\partial L}{\partial \mathbf{h}^s} = (W^{(2)})^\top"
            r"\frac{\partial L}{\partial \mathbf{o}^a}",
            f"({_dims(d_h, d_o)})({_dims(d_o, col)})",
            (d_h, col),
        ),
        Equation(
            "∂L/∂hᵃ = (∂L/∂hˢ) ⊙ ELU′_α(hᵃ),  ELU′_α(z) = 1 if z > 0 else α·eᶻ",
            r"\frac{\partial L}{\partial \mathbf{h}^a} = \frac{\partial L}{\partial \mathbf{h}^s}"
            r" \odot \mathrm{ELU}'_\alpha(\mathbf{h}^a),\quad \mathrm{ELU}'_\alpha(z) = "
            r"\begin{cases} 1 & z > 0 \\ \alpha e^z & z \le 0 \end{cases}",
            f"({_dims(d_h, col)}) ⊙ ({_dims(d_h, col)})",
            (d_h, col),
        ),
        Equation(
            "∂L/∂W⁽¹⁾ = (∂L/∂hᵃ)xᵀ",
            r"\frac{\partial L}{\partial W^{(1)}} = \frac{\partial L}{\partial \mathbf{h}^a}"
            r"\mathbf{x}^\top",
            f"({_dims(d_h, col)})({_dims(col, d)})",
            (d_h, d),
        ),
        Equation(
            "∂L/∂b⁽¹⁾ = ∂L/∂hᵃ",
            r"\frac{\partial L}{\partial \mathbf{b}^{(1)}} = "
            r"\frac{\partial L}{\partial \mathbf{h}^a}",
            _dims(d_h, col),
            (d_h, col),
        ),
        Equation(
            "∂L/∂x = (W⁽¹⁾)ᵀ(∂L/∂hᵃ)",
            r"\frac{\partial L}{\partial \mathbf{x}} = (W^{(1)})^\top"
            r"\frac{\partial L}{\partial \mathbf{h}^a}",
            f"({_dims(d, d_h)})({_dims(d_h, col)})",
            (d, col),
        ),
    ]
    return forward, backward


def parameter_count(d: int, d_h: int, d_o: int) -> Expr:
    """n_θ = d_h·d + d_h + d_o·d_h + d_o: W⁽¹⁾, b⁽¹⁾, W⁽²⁾ and b⁽²⁾."""
    d_, h_, o_ = sym("d", d), sym("d_h", d_h, "d_h"), sym("d_o", d_o, "d_o")
    return h_ * d_ + h_ + o_ * h_ + o_


def render(d: int, d_h: int, d_o: int, fmt: str = "text") -> str:
    """The equations and the parameter count as ``text``, ``markdown`` or ``latex``."""
    forward, backward = equations(d, d_h, d_o)
    count = parameter_count(d, d_h, d_o)
    title = f"MLP {d} → {d_h} → {d_o} (ELU hidden layer, softmax output, cross-entropy loss)"
    if fmt == "latex":
        return _latex(title, forward, backward, count)
    markdown = fmt == "markdown"
    out = [f"# {title}\n" if markdown else f"{title}\n"]
    for heading, group in (("forward", forward), ("backward", backward)):
        out.append(f"\n## {heading}\n" if markdown else f"\n{heading}\n")
        for eq in group:
            size = "scalar" if eq.result is None else _dims(*eq.result)
            line = f"{eq.text}   [{eq.operands} → {size}]"
            out.append(f"- `{line}`\n" if markdown else f"  {line}\n")
    params = equation("n_θ", count)
    head, _, last = params.rpartition(" = ")
    params = f"{head} = {int(last):,}"
    out.append(f"\n## parameters\n- `{params}`\n" if markdown else f"\nparameters\n  {params}\n")
    return "".join(out)


def _latex(title: str, forward: list[Equation], backward: list[Equation], count: Expr) -> str:
    heading = title.replace("→", "$\\to$")
    out = tex_document(heading)
    for heading, group in (("Forward", forward), ("Backward", backward)):
        out.append(f"\\subsection*{{{heading}}}\n\\begin{{align*}}\n")
        rows = []
        for eq in group:
            size = "1" if eq.result is None else f"{eq.result[0]} \\times {eq.result[1]}"
            rows.append(f"{eq.tex.replace(' = ', ' &= ', 1)} && ({size})")
        out.append(" \\\\\n".join(rows) + "\n\\end{align*}\n")
    out.append("\\subsection*{Parameters}\n\\begin{align*}\n")
    out.append(equation("n_\\theta", count, latex=True) + "\n\\end{align*}\n\\end{document}\n")
    return "".join(out)
