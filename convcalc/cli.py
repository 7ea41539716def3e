"""The command line: thin click wrappers over the library.

Each command parses its options, calls one library function and formats the result. Library
errors (:class:`~convcalc.errors.ConvcalcError`) become exit code 2 with a one-line message.
Heavy modules (pydantic, YAML) are imported inside the commands that need them, so that
``convcalc --help`` and ``convcalc solve`` start fast.
"""

from __future__ import annotations

import contextlib
import errno
import os
import sys
from collections.abc import Callable
from typing import Any

import click

from convcalc import __version__
from convcalc.errors import ConvcalcError, shown
from convcalc.layers.registry import SOLVABLE
from convcalc.views.conventions import CONVENTIONS
from convcalc.views.memory import DTYPES

FORMATS = ["table", "json", "markdown", "text", "latex"]  # text and latex: for --explain
MAX_MLP_PARAMS = 1_000_000  # convcalc mlp: about a minute of pure Python at most


# every integer is at most 2^63 − 1, PyTorch's own limit (the README's Limits; arith.LIMIT,
# not imported here so that --help starts fast): the types of the integer options
INT_LIMIT = 2**63 - 1
COUNT = click.IntRange(1, INT_LIMIT)
SEED = click.IntRange(-INT_LIMIT - 1, INT_LIMIT)

BATCH = click.option(
    "--batch",
    type=COUNT,
    default=1,
    show_default=True,
    help="Samples per batch: multiply-adds and memory count them all.",
)
CONVENTION = click.option(
    "--convention",
    type=click.Choice(list(CONVENTIONS)),
    default="torchinfo",
    show_default=True,
    help="Whose rules count the multiply-adds.",
)
OUTPUT = click.option(
    "-o", "--output", type=click.Path(dir_okay=False), help="The file (default: stdout)."
)
DTYPE = click.option(
    "--dtype",
    type=click.Choice(list(DTYPES)),
    default="float32",
    show_default=True,
    help="The values' type, for the memory figures.",
)


def _located(exc: ConvcalcError, source: str) -> str:
    """A spec error names its file (<stdin> for '-'); anything else gets the argument."""
    return str(exc) if getattr(exc, "file", None) else f"{source}: {exc}"


def _inert(message: str) -> str:
    """A message for the terminal: each line's control characters shown as escapes, so that a
    file's, layer's or student's name cannot act on the terminal; the message's own line
    breaks kept."""
    from convcalc.escape import terminal

    return "\n".join(terminal(line) for line in message.split("\n"))


def _echo_error(message: str) -> None:
    """One failure among several (the others go on): ``Error: MESSAGE`` on stderr."""
    click.echo(f"Error: {_inert(message)}", err=True)


class Failure(click.ClickException):
    """Invalid input: the message on stderr (made inert, :func:`_inert`), exit code 2."""

    exit_code = 2

    def __init__(self, message: str) -> None:
        super().__init__(_inert(message))


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="convcalc")
def cli() -> None:
    """Exact shapes, parameters and inverse solutions for convolutional layer stacks.

    Specs are YAML files (see the README); bundled ones are used by name (`convcalc zoo`).
    """


@cli.command()
@click.argument("specs", nargs=-1, required=True, metavar="SPEC...")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="table", show_default=True)
@click.option(
    "--depth",
    type=COUNT,
    help="Show rows nested at most N levels deep (1: the top-level layers only).",
)
@BATCH
@DTYPE
@CONVENTION
@click.option("--rf", is_flag=True, help="Show each layer's receptive field: size, jump, start.")
@click.option(
    "--explain",
    is_flag=True,
    help="Work out every number: each formula with its numbers (--format table for text, "
    "markdown, or latex for a document).",
)
def shape(
    specs: tuple[str, ...],
    fmt: str,
    depth: int | None,
    batch: int,
    dtype: str,
    convention: str,
    rf: bool,
    explain: bool,
) -> None:
    """Output shape and parameters of every layer of each SPEC.

    SPEC is a path, '-' for standard input, or the name of a bundled spec.
    """
    from convcalc.analysis import summarise
    from convcalc.records import Costing
    from convcalc.render import text as render

    if fmt in ("text", "latex") and not explain:
        raise Failure(
            f"--format {fmt} is for --explain; the table's forms are table, json, markdown"
        )
    if explain and fmt == "json":
        raise Failure("--explain writes text (--format table), markdown or latex, not json")
    if explain and rf:
        raise Failure("--explain and --rf: give one (receptive fields have their own columns)")

    costing = Costing(batch, dtype, convention)
    results: list[Any] = []
    texts: list[str] = []
    failed = False
    for source in specs:
        try:
            summary = summarise(source)
        except ConvcalcError as exc:
            failed = True
            message = _located(exc, source)
            _echo_error(message)
            results.append({"spec": source, "error": message})
            continue
        if fmt == "json":
            results.append(summary.to_dict(costing))
            continue
        if explain:
            from convcalc.views import explain as explaining

            sections = explaining.explain(summary, depth)
            form = "text" if fmt == "table" else fmt
            texts.append(explaining.render(summary, sections, form).rstrip("\n"))
            continue
        formatter = render.table if fmt == "table" else render.markdown
        texts.append(formatter(summary, depth, costing, rf))
    if fmt == "json":
        click.echo(render.to_json(results[0] if len(specs) == 1 else results))
    elif texts:
        click.echo("\n\n".join(texts))
    if failed:
        sys.exit(2)


@cli.command()
@click.argument("spec", metavar="SPEC")
@BATCH
@DTYPE
@click.option(
    "--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True
)
def costs(spec: str, batch: int, dtype: str, fmt: str) -> None:
    """Multiply-adds of SPEC under each tool's rules (torchinfo, fvcore, ptflops, thop) side
    by side, per layer type and in total, why they differ, and memory."""
    from convcalc.analysis import summarise
    from convcalc.render import text as render
    from convcalc.views.costs import compare
    from convcalc.views.memory import human, memory

    try:
        report = summarise(spec)
    except ConvcalcError as exc:
        raise Failure(_located(exc, spec)) from None
    comparison, bytes_ = compare(report, batch), memory(report, batch, dtype)
    if fmt == "json":
        click.echo(render.to_json({**comparison.to_dict(), **bytes_.to_dict()}))
        return
    click.echo(render.costs_table(comparison))
    click.echo(
        f"Memory ({dtype}): input {human(bytes_.input_bytes)}, params "
        f"{human(bytes_.params_bytes)}, forward/backward pass "
        f"{human(bytes_.forward_backward_bytes)} (torchinfo's estimate), peak activations "
        f"{human(bytes_.peak_activation_bytes)} (inference estimate)"
    )


@cli.command()
@click.argument("name", required=False)
def zoo(name: str | None) -> None:
    """List the bundled specs, usable by name wherever a SPEC is expected; with NAME, print
    that spec (a start for your own: convcalc zoo resnet18 > mine.yaml)."""
    from convcalc.spec.validate import bundled_specs

    specs = bundled_specs()
    if name is not None:
        if name not in specs:
            raise Failure(f"no bundled spec {name!r}; bundled: {', '.join(specs)}")
        click.echo(specs[name].read_text(encoding="utf-8"), nl=False)
        return
    for name, path in specs.items():
        click.echo(f"{name:<16} {_first_comment(path.read_text(encoding='utf-8'))}")


def _first_comment(text: str) -> str:
    for line in text.splitlines():
        if line.startswith("#"):
            return line.lstrip("# ").strip()
    return ""


@cli.command()
def schema() -> None:
    """Print the JSON Schema of spec files, for editors that validate YAML."""
    from convcalc.render import text as render
    from convcalc.spec.schema import spec_schema

    click.echo(render.to_json(spec_schema()))


@cli.command()
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
        _reader_gone()


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


@cli.command()
@click.argument("specs", nargs=-1, required=True, metavar="SPEC...")
@click.option(
    "--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True
)
@click.option("--strict", is_flag=True, help="Exit 1 when there is any warning.")
def lint(specs: tuple[str, ...], fmt: str, strict: bool) -> None:
    """Warn about the silent traps of each SPEC: input the floor drops, windows that skip
    input, padding that sees only zeros, misaligned paths, wasted parameters...

    Each warning names the layer, shows the arithmetic and suggests a fix. Exit 0 (with
    --strict, 1 when there is a warning); 2 for an invalid SPEC.
    """
    from convcalc.analysis import summarise
    from convcalc.views import lint as linting

    reports, texts, warned, failed = [], [], False, False
    for source in specs:
        try:
            report = summarise(source)
        except ConvcalcError as exc:
            failed = True
            message = _located(exc, source)
            _echo_error(message)
            reports.append({"spec": source, "error": message})  # in its place, as shape does
            continue
        findings = linting.lint(report)
        warned = warned or bool(findings)
        if fmt == "json":
            reports.append(linting.to_json(report.name, findings))
        else:
            texts.append(linting.render_text(report.name, findings).rstrip("\n"))
    if fmt == "json":
        from convcalc.render.text import to_json

        click.echo(to_json(reports[0] if len(specs) == 1 else reports))
    elif texts:
        click.echo("\n\n".join(texts))
    if failed:
        sys.exit(2)
    if strict and warned:
        sys.exit(1)


@cli.command()
@click.option(
    "--seed",
    type=SEED,
    default=0,
    show_default=True,
    help="Any integer: the same seed, the same quiz (-5 and 5 are two).",
)
@click.option("--count", type=click.IntRange(1, 500), default=10, show_default=True)
@click.option(
    "--topics",
    default="shape,params,macs,rf,solve,mlp",
    show_default=True,
    help="Comma-separated: shape, params, macs, rf, solve, mlp.",
)
@click.option("--difficulty", type=click.IntRange(1, 3), default=2, show_default=True)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["markdown", "moodle-xml", "gift", "json"]),
    default="markdown",
    show_default=True,
)
@click.option(
    "--title",
    default="convcalc quiz",
    show_default=True,
    help="The worksheet's heading (markdown), the Moodle category (moodle-xml, gift): any "
    "text but a blank one.",
)
def quiz(seed: int, count: int, topics: str, difficulty: int, fmt: str, title: str) -> None:
    """Random questions in the style of the homework, with answers and worked explanations.

    Multiple-choice distractors are the values of named mistakes (forgot the bias, ceil
    instead of floor, ...), each with feedback saying which. Markdown ends with an answer key;
    moodle-xml and gift import into Moodle's question bank.
    """
    from convcalc.teach import quiz_formats
    from convcalc.teach.quiz import quiz as make

    if not title.strip():
        raise Failure("--title is blank: give the quiz a title (its heading, or its category)")
    chosen = tuple(t.strip() for t in topics.split(",") if t.strip())
    try:
        questions = make(seed, count, chosen, difficulty)
    except ConvcalcError as exc:
        raise Failure(str(exc)) from None
    if fmt == "markdown":
        text = quiz_formats.to_markdown(questions, title)
    elif fmt == "moodle-xml":
        text = quiz_formats.to_moodle_xml(questions, title)
    elif fmt == "gift":
        text = quiz_formats.to_gift(questions, title)
    else:
        text = quiz_formats.to_json(questions)
    click.echo(text.rstrip("\n"))


def _same_file(one: str, other: str) -> bool:
    """Whether two paths name one file (links and spellings such as ``./net.yaml`` followed);
    False where either does not exist or cannot be examined."""
    try:
        samefile = getattr(os.path, "samefile", None)
        if samefile is None:  # pragma: no cover - every platform of Python 3.11 has it
            return os.path.exists(one) and os.path.realpath(one) == os.path.realpath(other)
        return bool(samefile(one, other))
    except (OSError, ValueError):  # missing, unreadable, a NUL in the name
        return False


def _refuse_overwrite(output: str, inputs: tuple[str, ...], what: str, flag: str = "-o") -> None:
    """A failure when the file ``output`` is one of the command's ``inputs``: writing the
    ``what`` there would destroy what was read."""
    for source in inputs:
        if source != "-" and _same_file(source, output):
            raise Failure(
                f"{output}: {flag} names the input {source} itself: writing the {what} there "
                "would replace it; choose another file"
            )


def _write_out(text: str, output: str | None, what: str, *, inputs: tuple[str, ...]) -> None:
    """``text`` to the file ``output``, or to standard output. An output that is one of the
    command's ``inputs`` (files it read) is refused: writing would destroy what it read."""
    if output is None or output == "-":
        click.echo(text.rstrip("\n"))
        return
    _refuse_overwrite(output, inputs, what)
    try:
        with open(output, "w", encoding="utf-8") as handle:
            handle.write(text)
    except OSError as exc:
        raise Failure(f"{output}: cannot write the {what}: {exc.strerror}") from None


@cli.command()
@click.argument("spec", metavar="SPEC")
@OUTPUT
@click.option(
    "--style",
    type=click.Choice(["blocks", "flow"]),
    help="blocks (the default for svg): tensors drawn to scale; flow: labelled boxes left to "
    "right (TikZ draws flow).",
)
@click.option("--depth", type=COUNT, help="Collapse blocks nested deeper.")
@click.option("--costs", is_flag=True, help="Parameters and multiply-adds on every box.")
@click.option("--linear", is_flag=True, help="Tensor sizes on a linear scale (default: log).")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["svg", "tikz"]),
    default="svg",
    show_default=True,
    help="svg, or tikz: a LaTeX document with a TikZ picture (the flow style).",
)
def draw(
    spec: str,
    output: str | None,
    style: str | None,
    depth: int | None,
    costs: bool,
    linear: bool,
    fmt: str,
) -> None:
    """Draw SPEC as an SVG diagram (or a TikZ figure), by convcalc itself."""
    from convcalc.analysis import summarise
    from convcalc.render import draw as drawing

    if fmt == "tikz" and (style == "blocks" or linear):
        raise Failure("--format tikz draws the flow style: --style blocks and --linear are for svg")
    try:
        report = summarise(spec)
    except ConvcalcError as exc:
        raise Failure(_located(exc, spec)) from None
    if fmt == "tikz":
        text = drawing.to_tikz(report, depth=depth, costs=costs)
    else:
        text = drawing.to_svg(
            report, depth=depth, style=style or "blocks", costs=costs, log_scale=not linear
        )
    _write_out(text, output, "figure", inputs=(spec,))


@cli.command()
@click.argument("spec", metavar="SPEC")
@OUTPUT
@BATCH
@DTYPE
@CONVENTION
def report(spec: str, output: str | None, batch: int, dtype: str, convention: str) -> None:
    """One self-contained HTML page for SPEC: the diagram, the table with expandable blocks,
    costs, receptive fields, lint warnings and the spec itself."""
    from convcalc.analysis import analyse
    from convcalc.records import Costing
    from convcalc.render.html import to_html
    from convcalc.spec.document import parse_yaml, read_source
    from convcalc.spec.validate import bundled_specs, validate

    try:  # read once: standard input cannot be read twice
        text, file, name = read_source(spec, bundled_specs())
        summary = analyse(validate(parse_yaml(text, file, name)))
    except ConvcalcError as exc:
        raise Failure(_located(exc, spec)) from None
    page = to_html(summary, text, costing=Costing(batch, dtype, convention))
    _write_out(page, output, "report", inputs=(spec,))


@cli.command()
@click.argument("spec", metavar="SPEC")
@click.option(
    "--to",
    "target",
    type=click.Choice(["pytorch", "keras"]),
    default="pytorch",
    show_default=True,
    help="The framework: a PyTorch nn.Module, or a Keras 3 functional model.",
)
@OUTPUT
@click.option(
    "--class-name",
    help="The nn.Module's class name, or the Keras builder function's name (default: from "
    "the spec's name; build).",
)
def export(spec: str, target: str, output: str | None, class_name: str | None) -> None:
    """Write a Python file that builds exactly the network of SPEC.

    \b
    pytorch: an nn.Module; chains are nn.Sequential, residual/concat/scale blocks small
      generated modules, names from the spec's name fields, every argument as written.
    keras: a function building a Keras 3 functional model laid out as PyTorch's tensors
      (channels first); what Keras cannot express exactly is refused, naming the layer.
    """
    from convcalc.analysis import analyse
    from convcalc.frameworks.pysource import ExportError
    from convcalc.spec.validate import load_spec

    try:
        loaded = load_spec(spec)
        report = analyse(loaded)
    except ConvcalcError as exc:
        raise Failure(_located(exc, spec)) from None
    try:
        if target == "keras":
            from convcalc.frameworks.keras.export import to_keras

            source = to_keras(report, class_name)
        else:
            from convcalc.frameworks.torch.export import to_pytorch

            source = to_pytorch(report, class_name)
    except ExportError as exc:  # a layer the framework cannot build: located in the spec
        exc.locate(loaded.file, loaded.line_of)
        raise Failure(_located(exc, spec)) from None
    except ConvcalcError as exc:
        raise Failure(_located(exc, spec)) from None
    _write_out(source, output, "module", inputs=(spec,))


def _import_flag(option: str, value: bool) -> str:
    """An option of import's library function as this command's option: a flag alone, or
    the option with its value (``--avgpool-ceil-mode false``)."""
    param = next(p for p in import_model.params if p.name == option)
    flag = max(param.opts, key=len)
    if isinstance(param, click.Option) and param.is_flag:
        return flag if value else f"no {flag}"
    return f"{flag} {str(value).lower()}"


@cli.command("import")
@click.argument("source", metavar="MODEL_TEXT")
@click.option("--input", "input_shape", required=True, help="The input shape, no batch: C,H,W.")
@click.option("--name", default=None, help="The spec's name (default: the file's).")
@click.option(
    "--assume-sequential",
    is_flag=True,
    help="A custom top-level class runs its children in the order printed (AlexNet, VGG).",
)
@click.option(
    "--avgpool-ceil-mode",
    type=click.Choice(["true", "false"]),
    help="print(model) omits AvgPool's ceil_mode: say which, where it matters.",
)
@OUTPUT
def import_model(
    source: str,
    input_shape: str,
    name: str | None,
    assume_sequential: bool,
    avgpool_ceil_mode: str | None,
    output: str | None,
) -> None:
    """Write the spec of a PyTorch model from the text print(model) shows ('-': stdin).

    Standard layers and nn.Sequential are recovered exactly; a custom module's forward is not
    in that text, so it is refused, naming its line.
    """
    from convcalc.frameworks.torch.importer import ImportRefusal, from_print, to_yaml
    from convcalc.solve.layer import is_size
    from convcalc.spec.document import read_source

    parts = [part.strip() for part in input_shape.split(",")]
    if not all(is_size(part) and int(part) > 0 for part in parts):
        raise Failure(f"--input: positive sizes such as 3,32,32, not '{shown(input_shape)}'")
    sizes = tuple(int(part) for part in parts)
    try:
        text, file, stem = read_source(source, {})
        ceil = None if avgpool_ceil_mode is None else avgpool_ceil_mode == "true"
        spec = from_print(
            text, sizes, name or stem, assume_sequential=assume_sequential, avgpool_ceil_mode=ceil
        )
    except ImportRefusal as exc:
        raise Failure(f"{file}:{exc.line}: {exc.explained(_import_flag)}") from None
    except ConvcalcError as exc:
        raise Failure(_located(exc, source)) from None
    _write_out(to_yaml(spec), output, "spec", inputs=(source,))


@cli.command()
@click.argument("sources", nargs=-1, required=True, metavar="ANSWERS...")
@click.option(
    "--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True
)
@click.option(
    "--csv",
    "csv_file",
    type=click.Path(dir_okay=False, writable=True),
    help="Also write a gradebook: a row per student, a column per question.",
)
@click.option("--summary", "summary_only", is_flag=True, help="Only the table of scores.")
@click.option(
    "--specs-dir",
    type=click.Path(exists=True, file_okay=False),
    help="The folder that spec: paths in answers files are read from (default: each answers "
    "file's own folder); bundled specs are always allowed.",
)
def check(
    sources: tuple[str, ...],
    fmt: str,
    csv_file: str | None,
    summary_only: bool,
    specs_dir: str | None,
) -> None:
    """Mark answers files: a spec, questions and a student's answers in one YAML file.

    ANSWERS are files or folders of them. Each answer is marked right or wrong against
    PyTorch's rules, with the right value, the mistake's name when it is a common one, and the
    worked explanation. An invalid file keeps its row (marked invalid) in the summary, the CSV
    and the JSON. Exit 0: all right; 1: something wrong; 2: invalid input.
    """
    from convcalc.teach import grade

    try:
        results = grade.grade_all(sources, specs_dir)
    except ConvcalcError as exc:
        raise Failure(str(exc)) from None
    invalid = any(r.error for r in results)
    read = tuple(r.file for r in results)
    if csv_file is not None:  # before any output: the gradebook must not replace an answer
        _refuse_overwrite(csv_file, read, "gradebook", "--csv")
    for r in results:
        if r.error:
            _echo_error(r.error)
    if fmt == "json":
        from convcalc.render.text import to_json

        click.echo(to_json(grade.to_json(results)))
    else:
        valid = [r for r in results if not r.error]  # an invalid file's error is on stderr
        texts = [] if summary_only else [grade.render_text(r) for r in valid]
        if len(results) > 1 or summary_only:
            texts.append(grade.summary(results))
        if texts:
            click.echo("\n".join(texts).rstrip("\n"))
    if csv_file is not None:
        _write_out(grade.to_csv(results), csv_file, "gradebook", inputs=read)
    if invalid:
        sys.exit(2)
    if not all(r.all_right for r in results):
        sys.exit(1)


def _finite(ctx: click.Context, param: click.Parameter, value: float) -> float:
    """A number flag that must be finite: NaN or ±∞ would make every check meaningless."""
    import math

    if not math.isfinite(value):
        raise click.BadParameter(f"must be a finite number, not {value}")
    return value


@cli.command()
@click.option("--inputs", "d", type=COUNT, required=True, help="d, input size.")
@click.option("--hidden", "d_h", type=COUNT, required=True, help="d_h, hidden units.")
@click.option("--classes", "d_o", type=COUNT, required=True, help="d_o, classes.")
@click.option("--seed", type=SEED, default=0, show_default=True)
@click.option(
    "--alpha", type=float, default=1.0, show_default=True, help="ELU's α.", callback=_finite
)
@click.option(
    "--checks",
    type=COUNT,
    default=20,
    show_default=True,
    help="Entries per group checked by finite differences.",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "json", "text", "markdown", "latex"]),
    default="table",
    show_default=True,
    help="table or json for the check; text (or table), markdown or latex for --explain.",
)
@click.option(
    "--explain",
    is_flag=True,
    help="The forward and backward equations with every matrix's dimensions, and the "
    "parameter count worked out (instead of the check).",
)
def mlp(
    d: int, d_h: int, d_o: int, seed: int, alpha: float, checks: int, fmt: str, explain: bool
) -> None:
    """The homework's Question 2 MLP: parameters, one backward pass, a gradient check.

    A random network (Glorot-uniform weights, seeded) and input; every gradient's shape, and the
    worst relative error of backpropagation against central finite differences per group.
    """
    from convcalc.teach import mlp_explain

    params = int(mlp_explain.parameter_count(d, d_h, d_o).evaluate())
    if params > INT_LIMIT:  # and so W⁽¹⁾ or W⁽²⁾ may be too: PyTorch could not build it
        raise Failure(f"{params:,} parameters: beyond 2^63 − 1, the most PyTorch can count")
    if explain:
        if fmt == "json":
            raise Failure("--explain writes text (--format table), markdown or latex, not json")
        form = "text" if fmt == "table" else fmt
        click.echo(mlp_explain.render(d, d_h, d_o, form).rstrip("\n"))
        return
    if fmt in ("text", "markdown", "latex"):
        raise Failure(f"--format {fmt} is for --explain; the check's forms are table and json")
    from convcalc.teach.checks import mlp_report

    if params > MAX_MLP_PARAMS:
        raise Failure(
            f"{params:,} parameters: pure Python checks at most {MAX_MLP_PARAMS:,} in reasonable "
            "time (784 → 256 → 10 has 203,530)"
        )
    report = mlp_report(d, d_h, d_o, seed=seed, alpha=alpha, max_entries=checks)
    click.echo(report.to_json() if fmt == "json" else report.table())
    if not report.ok:
        sys.exit(1)  # backpropagation disagreeing with finite differences is a bug


@cli.command()
@click.option(
    "--points",
    type=click.IntRange(min=10, max=100_000),
    default=1000,
    show_default=True,
    help="Random points per identity (10 to 100,000).",
)
@click.option("--seed", type=SEED, default=0, show_default=True)
@click.option(
    "--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True
)
def identities(points: int, seed: int, fmt: str) -> None:
    """Check the homework's Question 1 identities numerically at many random points."""
    from convcalc.teach import checks

    results = checks.identities(points, seed)
    if fmt == "json":
        click.echo(checks.identities_json(results))
    else:
        click.echo(checks.identities_table(results, points, seed))
    if not all(c.ok for c in results):
        sys.exit(1)  # an identity that fails is a bug in convcalc.reference


def _reader_gone() -> None:
    """``convcalc solve ... | head``: the reader has what it wanted; that is a success."""
    os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no error when flushing
    sys.exit(0)


_IO_ERRORS = {errno.ENOSPC, errno.EIO, errno.EBADF, errno.EDQUOT, errno.EFBIG}


def _prepare_streams() -> None:
    """Output that cannot be written is said at once: a closed standard output, or one whose
    encoding cannot show "→" and "×" (they are escaped rather than failing half-way)."""
    if sys.stdout is None:
        if sys.stderr is not None:
            sys.stderr.write("convcalc: standard output is closed: nothing can be written\n")
        sys.exit(2)
    for stream in (sys.stdout, sys.stderr):
        encoding = (getattr(stream, "encoding", None) or "").lower().replace("-", "")
        if stream is not None and encoding != "utf8" and hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="backslashreplace")


def main() -> None:
    """The console script: a bug (anything not a ConvcalcError) exits 1 with one line; a full
    disk, a closed stream or exhausted memory exit 2 with what happened."""
    _prepare_streams()
    code: int | str | None = 0
    try:
        try:
            cli.main(prog_name="convcalc")
        except SystemExit as exc:
            code = exc.code
        sys.stdout.flush()
    except BrokenPipeError:  # `convcalc ... | head`: the reader has what it wanted
        _silence_stdout()
    except MemoryError:
        click.echo("convcalc: out of memory: ask a smaller question", err=True)
        code = 2
    except OSError as exc:
        if exc.errno not in _IO_ERRORS or os.environ.get("CONVCALC_DEBUG"):
            raise
        _silence_stdout()
        click.echo(f"convcalc: cannot write the output: {exc.strerror}", err=True)
        code = 2
    except Exception as exc:
        if os.environ.get("CONVCALC_DEBUG"):
            raise
        click.echo(
            f"convcalc: internal error: {exc!r}. This is a bug; "
            "set CONVCALC_DEBUG=1 for the traceback and please report it.",
            err=True,
        )
        code = 1
    sys.exit(code)


def _silence_stdout() -> None:
    """After a failed write, point standard output at the null device so that the interpreter's
    last flush does not fail again."""
    with contextlib.suppress(OSError, ValueError):
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
