"""``convcalc mlp --explain``: Question 2's equations, their dimensions against PyTorch's
tensors, and the parameter count worked out."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from convcalc.teach.mlp_explain import equations, parameter_count
from tests.budget import examples
from tests.latex import compiles, needs_pdflatex
from tests.test_explain import check_every_step, evaluate, worked_lines


def test_the_homework_parameter_count(run) -> None:
    # the seed: n_θ = d_h·d + d_h + d_o·d_h + d_o; 784 → 256 → 10: 200,704 + 256 + 2,560 + 10
    result = run("mlp", "--inputs", "784", "--hidden", "256", "--classes", "10", "--explain")
    assert result.exit_code == 0
    assert "n_θ = d_h·d + d_h + d_o·d_h + d_o = 256·784 + 256 + 10·256 + 10 = 203,530" in (
        result.output
    )
    params = [line for line in result.output.splitlines() if "n_θ" in line]
    assert check_every_step("\n".join(params)) == 1
    assert "∂L/∂W⁽¹⁾ = (∂L/∂hᵃ)xᵀ   [(256×1)(1×784) → 256×784]" in result.output


@settings(max_examples=examples(100), deadline=None)
@given(d=st.integers(1, 12), d_h=st.integers(1, 12), d_o=st.integers(1, 12))
def test_dimensions_are_pytorchs(d: int, d_h: int, d_o: int) -> None:
    """Each result's dimensions equal the shape of the PyTorch tensor it names, after a real
    forward and backward pass of the same network (column vectors: a bias of n is n×1)."""
    torch = pytest.importorskip("torch")
    first, second = torch.nn.Linear(d, d_h), torch.nn.Linear(d_h, d_o)
    x = torch.randn(d, requires_grad=True)
    h_a = first(x)
    h_a.retain_grad()
    h_s = torch.nn.functional.elu(h_a)
    h_s.retain_grad()
    o_a = second(h_s)
    o_a.retain_grad()
    o_s = torch.softmax(o_a, 0)
    loss = -torch.log_softmax(o_a, 0)[0]
    loss.backward()

    def column(t: object) -> tuple[int, int]:
        shape = tuple(t.shape)  # type: ignore[attr-defined]
        return (shape[0], 1) if len(shape) == 1 else shape  # type: ignore[return-value]

    forward, backward = equations(d, d_h, d_o)
    assert [eq.result for eq in forward] == [
        column(h_a),
        column(h_s),
        column(o_a),
        column(o_s),
        None,
    ]
    assert [eq.result for eq in backward] == [
        column(o_a.grad),
        column(second.weight.grad),
        column(second.bias.grad),
        column(h_s.grad),
        column(h_a.grad),
        column(first.weight.grad),
        column(first.bias.grad),
        column(x.grad),
    ]
    count = sum(p.numel() for m in (first, second) for p in m.parameters())
    assert parameter_count(d, d_h, d_o).evaluate() == count


def test_explain_forms_and_refusals(run) -> None:
    base = ("mlp", "--inputs", "4", "--hidden", "3", "--classes", "2", "--explain")
    markdown = run(*base, "--format", "markdown").output
    assert markdown.startswith("# MLP 4 → 3 → 2")
    lines = [line.strip("- `") for line in markdown.splitlines() if line.startswith("- `n_θ")]
    ((_, steps),) = worked_lines("\n".join(lines))
    assert evaluate(steps[-1]) == 3 * 4 + 3 + 2 * 3 + 2
    result = run(*base, "--format", "json")
    assert result.exit_code == 2 and "not json" in result.stderr
    result = run("mlp", "--inputs", "4", "--hidden", "3", "--classes", "2", "--format", "latex")
    assert result.exit_code == 2 and "--format latex is for --explain" in result.stderr


@needs_pdflatex
def test_latex_compiles(run, tmp_path) -> None:
    base = ("mlp", "--inputs", "784", "--hidden", "256", "--classes", "10", "--explain")
    compiles(run(*base, "--format", "latex").output, tmp_path, "mlp")
