"""convcalc solve: a layer's (kernel, stride, padding, dilation) for given sizes, or a spec's
unknowns."""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING

import click

from convcalc.cli.options import COUNT, INT_LIMIT, Failure, framework, reader_gone
from convcalc.errors import ConvcalcError, shown
from convcalc.layers.registry import SOLVABLE

if TYPE_CHECKING:
    from convcalc.solve.inputs_format import Options


@click.command()
@click.argument("spec", required=False)
@click.option("--in", "n", type=click.IntRange(max=INT_LIMIT), help="Input size N (single layer).")
@click.option("--out", "out", help="Output size M; for a SPEC, M[,M2[,M3]] (optional).")
@click.option("--out-size", type=COUNT, help="SPEC: the number of output values wanted.")
@click.option(
    "--input",
    "input_shape",
    help="SPEC: the input sizes asked about, each a number, a range or ? (any size), e.g. "
    "3,?,? or 3,1..64,1..64 (the layers stay those the spec's own input builds).",
)
@click.option(
    "--rebuild",
    is_flag=True,
    help="SPEC: rebuild the layers for each input size (a linear's in_features follows the "
    "input) instead of the network the spec's declared input builds.",
)
@click.option(
    "--near",
    help="SPEC: the accepted input sizes nearest N (every dimension) or N,N2[,N3], below and "
    "above.",
)
@click.option(
    "--layer",
    type=click.Choice(SOLVABLE),
    help="The layer (single-layer question)  [default: conv]",
)
@framework(
    "The layer's framework (single layer)  [default: pytorch]; keras: Keras' Conv, "
    "pooling and ConvTranspose, --padding valid (the default) or same (⌈N/s⌉ for any kernel; "
    "N·s for ConvTranspose).",
    default=None,
)
@click.option("--kernel", help="Kernel sizes R (default: every one that fits).")
@click.option("--stride", help="Strides R (default: every one that can matter).")
@click.option("--padding", help="Paddings R  [default: 0]; Keras: valid or same")
@click.option("--dilation", help="Dilations R  [default: 1]")
@click.option(
    "--output-padding",
    help="conv_transpose only (default: every valid one; Keras: none, its output_padding=None).",
)
@click.option("--ceil", is_flag=True, help="ceil_mode pooling (maxpool, avgpool).")
@click.option("--no-gaps", is_flag=True, help="Only stride ≤ effective kernel: every input seen.")
@click.option("--exact", is_flag=True, help="Only solutions where the floor drops nothing.")
@click.option("--count", "count_only", is_flag=True, help="Count without listing.")
@click.option(
    "--limit",
    type=click.IntRange(0, INT_LIMIT),
    help="List at most N solutions (the count stays complete). Without it a single layer's "
    "listing stops after 1,000 rows (a row may hold a range of kernels or strides) and says "
    "how many solutions it left out, in every format: --format csv and json too are cut at "
    '1,000 rows (CSV: the note is on standard error; JSON: "listing_complete": false), '
    "so a script wanting every solution passes --limit.",
)
@click.option(
    "--explain",
    is_flag=True,
    help="Under each row its equation solved for the stride, and why there are no others "
    "(a single layer); with a SPEC asked about its input sizes, every condition on them "
    "(--format text, markdown or latex).",
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
    rebuild: bool,
    near: str | None,
    layer: str | None,
    framework: str | None,
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
    """Solve for unknown sizes: one layer's, or a SPEC's.

    Every kernel, stride, padding and dilation that map size N to size M.

    \b
    A range R is a comma-separated list of integers and inclusive ranges: 5, 1,3,5, 0..4, 1..3,7.
    Example (the homework's Question 3.2):  convcalc solve --in 64 --out 4
    Keras' layers:  convcalc solve --framework keras --in 64 --out 32 --padding same
    With a SPEC, its fields written "?" or as a range string are the unknowns,
    anywhere in the spec (blocks and the input included); without --out every valid
    assignment is listed with its output shape:
      convcalc solve net.yaml --out 7
      convcalc solve unet --input 3,1..1024,1..1024
    Where the input's sizes are the only unknowns, the answer is in closed form, every size
    ("?": any), with why (--explain):
      convcalc solve resnet18 --input '3,?,?' --explain
    """
    write = sys.stdout.write
    if fmt in ("text", "markdown", "latex") and not explain:
        raise Failure(
            f"--format {fmt} is for a single layer's --explain (--in N), or a SPEC's --explain "
            "of its input sizes; the answer's forms are table, json, csv"
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
            from convcalc.solve.inputs_format import Options

            options = Options(fmt, explain, limit, _near(near), count_only)
            _solve_stack(write, spec, out, out_size, input_shape, rebuild, options)
            return
        if out_size is not None or input_shape is not None or near is not None or rebuild:
            raise Failure(
                "--out-size, --input, --near and --rebuild apply to a SPEC, not to --in N"
            )
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
            framework=framework or "pytorch",
        )
        note = solve_format.write(
            write, pb, fmt, listing=not count_only, limit=limit, explain=explain
        )
        if note is not None:
            click.echo(note, err=True)
    except ConvcalcError as exc:
        raise Failure(str(exc)) from None
    except BrokenPipeError:
        reader_gone()


# the options of a single-layer question, refused with a SPEC
SINGLE_LAYER = (
    *("n", "layer", "framework", "kernel", "stride", "padding", "dilation", "output_padding"),
    *("ceil", "no_gaps", "exact"),
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


def _near(text: str | None) -> tuple[int, ...] | None:
    """``--near 500`` or ``500,500``: positive sizes."""
    if text is None:
        return None
    parts = [p.strip() for p in text.split(",")]
    if not 1 <= len(parts) <= 3 or not all(
        p.isascii() and p.isdigit() and 0 < len(p.lstrip("0")) <= 19 for p in parts
    ):
        raise Failure(
            f"--near: expected 1 to 3 positive sizes such as 500 or 500,500, not '{shown(text)}'"
        )
    return tuple(int(p) for p in parts)


def _solve_stack(
    write: Callable[[str], object],
    spec: str,
    out: str | None,
    out_size: int | None,
    input_shape: str | None,
    rebuild: bool,
    options: Options,
) -> None:
    from convcalc.solve import closed, stack
    from convcalc.solve import inputs_format as forms
    from convcalc.solve.inputs import NotSolvable

    target = stack.Target(None if out is None else stack.parse_target(out), out_size)
    sizes = None if input_shape is None else stack.parse_input(input_shape)
    every = options.near is not None or rebuild
    question = closed.ask(spec, sizes, target, rebuild=rebuild, every_size=every)
    if question is not None:
        if options.near is not None:
            rank = len(question.dims)
            if len(options.near) not in (1, rank):
                raise Failure(
                    f"--near gives {len(options.near)} sizes but the input has {rank} spatial "
                    f"dimension{'s' if rank != 1 else ''}"
                )
            if len(options.near) == 1:
                options = replace(options, near=options.near * rank)
        try:
            found = closed.answer(question)
        except NotSolvable:
            found = None  # no closed form: the search answers, as before
        if found is not None:
            if isinstance(found, closed.MixedAnswer) and (
                options.explain or options.near is not None
            ):
                raise Failure(
                    "--explain and --near answer a question about the input's sizes alone; "
                    "this spec has layer unknowns too"
                )
            forms.write(write, found, options)
            return
    if options.explain or options.near is not None:
        raise Failure(
            "--explain and --near with a SPEC answer which input sizes it accepts: give "
            '--input C,?,? (or write "?" in the spec\'s input), without --out or --out-size'
        )
    result = stack.solve_stack(spec, target, options.limit, input_shape=sizes, rebuild=rebuild)
    stack.write(write, result, options.fmt, listing=not options.count_only)
