"""convcalc solve: a layer's (kernel, stride, padding, dilation) for given sizes, or a spec's
unknowns."""

from __future__ import annotations

import sys
from collections.abc import Callable

import click

from convcalc.cli.options import COUNT, INT_LIMIT, Failure, reader_gone
from convcalc.errors import ConvcalcError, shown
from convcalc.layers.registry import SOLVABLE


@click.command()
@click.argument("spec", required=False)
@click.option("--in", "n", type=click.IntRange(max=INT_LIMIT), help="Input size N (single layer).")
@click.option("--out", "out", help="Output size M; for a SPEC, M[,M2[,M3]] (optional).")
@click.option("--out-size", type=COUNT, help="SPEC: the number of output values wanted.")
@click.option(
    "--input",
    "input_shape",
    help="SPEC: the input sizes to try, e.g. 3,1..1024,1..1024 (the layers stay those the "
    "spec's own input builds).",
)
@click.option(
    "--layer",
    type=click.Choice(SOLVABLE),
    help="The layer (single-layer question)  [default: conv]",
)
@click.option("--kernel", help="Kernel sizes R (default: every one that fits).")
@click.option("--stride", help="Strides R (default: every one that can matter).")
@click.option("--padding", help="Paddings R  [default: 0]")
@click.option("--dilation", help="Dilations R  [default: 1]")
@click.option("--output-padding", help="conv_transpose only (default: every valid one).")
@click.option("--ceil", is_flag=True, help="ceil_mode pooling (maxpool, avgpool).")
@click.option("--no-gaps", is_flag=True, help="Only stride ≤ effective kernel: every input seen.")
@click.option("--exact", is_flag=True, help="Only solutions where the floor drops nothing.")
@click.option("--count", "count_only", is_flag=True, help="Count without listing.")
@click.option("--limit", type=click.IntRange(0, INT_LIMIT), help="List at most N solutions.")
@click.option(
    "--explain",
    is_flag=True,
    help="Under each row its equation solved for the stride, and why there are no others "
    "(a single layer; --format text, markdown or latex).",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "json", "csv", "text", "markdown", "latex"]),
    default="table",
    show_default=True,
    help="text, markdown, latex: --explain's forms (text is the table with the equations).",
)
def solve(
    spec: str | None,
    n: int | None,
    out: str | None,
    out_size: int | None,
    input_shape: str | None,
    layer: str | None,
    kernel: str | None,
    stride: str | None,
    padding: str | None,
    dilation: str | None,
    output_padding: str | None,
    ceil: bool,
    no_gaps: bool,
    exact: bool,
    count_only: bool,
    limit: int | None,
    explain: bool,
    fmt: str,
) -> None:
    """Every kernel, stride, padding and dilation that map size N to size M.

    \b
    A range R is a comma-separated list of integers and inclusive ranges: 5, 1,3,5, 0..4, 1..3,7.
    Example (the homework's Question 3.2):  convcalc solve --in 64 --out 4
    With a SPEC, its fields written "?" or as a range string are the unknowns,
    anywhere in the spec (blocks and the input included); without --out every valid
    assignment is listed with its output shape:
      convcalc solve net.yaml --out 7
      convcalc solve unet --input 3,1..1024,1..1024
    """
    write = sys.stdout.write
    if fmt in ("text", "markdown", "latex") and (not explain or spec is not None):
        raise Failure(
            f"--format {fmt} is for a single layer's --explain (--in N); the answer's forms "
            "are table, json, csv"
        )
    fmt = "table" if fmt == "text" else fmt
    try:
        if spec is not None:
            given = _given(click.get_current_context(), SINGLE_LAYER)
            if given:
                raise Failure(
                    f"{', '.join(given)}: for a single layer (--in N), not a SPEC, whose unknowns "
                    "are written in it; with a SPEC give --out, --out-size, --input, --count, "
                    "--limit, --format"
                )
            _solve_stack(write, spec, out, out_size, input_shape, count_only, limit, fmt)
            return
        if out_size is not None or input_shape is not None:
            raise Failure("--out-size and --input apply to a SPEC, not to --in N")
        if n is None:
            raise Failure("give --in N (the input size), or a SPEC file")
        if out is None:
            raise Failure("give --out M, the output size")
        if explain and count_only:
            raise Failure("--explain explains the listed rows: not with --count")
        if explain and fmt not in ("table", "markdown", "latex"):
            raise Failure(f"--explain explains the listed rows: not with --format {fmt}")
        from convcalc.solve import format as solve_format
        from convcalc.solve.layer import is_size, problem

        digits = out.strip()
        if (
            digits.isascii()
            and digits.isdigit()
            and (len(digits.lstrip("0")) > 19 or int(digits) > INT_LIMIT)
        ):
            raise Failure(f"--out: '{shown(out)}' is beyond 2^63 − 1, the largest size")
        if not is_size(out.strip()):
            raise Failure(f"--out: expected one size for a single layer, not '{shown(out)}'")
        pb = problem(
            layer or "conv",
            n,
            int(out),
            kernel_size=kernel,
            stride=stride,
            padding=padding,
            dilation=dilation,
            output_padding=output_padding,
            ceil_mode=ceil,
            no_gaps=no_gaps,
            exact=exact,
        )
        solve_format.write(write, pb, fmt, listing=not count_only, limit=limit, explain=explain)
    except ConvcalcError as exc:
        raise Failure(str(exc)) from None
    except BrokenPipeError:
        reader_gone()


# the options of a single-layer question, refused with a SPEC
SINGLE_LAYER = (
    *("n", "layer", "kernel", "stride", "padding", "dilation", "output_padding"),
    *("ceil", "no_gaps", "exact", "explain"),
)


def _given(context: click.Context, names: tuple[str, ...]) -> list[str]:
    """The options among ``names`` given on the command line, as written (``--in``)."""
    given = []
    for param in context.command.params:
        if param.name in names and context.get_parameter_source(param.name) not in (
            click.core.ParameterSource.DEFAULT,
            None,
        ):
            given.append(max(param.opts, key=len))
    return given


def _solve_stack(
    write: Callable[[str], object],
    spec: str,
    out: str | None,
    out_size: int | None,
    input_shape: str | None,
    count_only: bool,
    limit: int | None,
    fmt: str,
) -> None:
    from convcalc.solve import stack

    target = stack.Target(None if out is None else stack.parse_target(out), out_size)
    sizes = None if input_shape is None else stack.parse_input(input_shape)
    result = stack.solve_stack(spec, target, limit, input_shape=sizes)
    stack.write(write, result, fmt, listing=not count_only)
