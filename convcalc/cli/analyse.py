"""Commands that analyse a spec: shape, costs, zoo, schema, lint, draw, report."""

from __future__ import annotations

import sys
from typing import Any

import click

from convcalc.cli.options import (
    BATCH,
    CONVENTION,
    COUNT,
    DTYPE,
    FORMATS,
    OUTPUT,
    Failure,
    echo_error,
    framework,
    located,
    write_out,
)
from convcalc.errors import ConvcalcError


@click.command()
@click.argument("specs", nargs=-1, required=True, metavar="SPEC...")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(FORMATS),
    default="table",
    show_default=True,
    help="table, json or markdown; text and latex only with --explain (the worked numbers); "
    "keras: Keras' model.summary() of a Keras spec.",
)
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
    if explain and fmt == "keras":
        raise Failure("--explain writes text (--format table), markdown or latex, not keras")
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
            message = located(exc, source)
            echo_error(message)
            results.append({"spec": source, "error": message})
            continue
        if fmt == "json":
            results.append(summary.to_dict(costing))
            continue
        if fmt == "keras":  # Keras' model.summary() of a Keras spec
            from convcalc.render import keras as keras_summary

            try:
                texts.append(keras_summary.summary(summary))
            except ConvcalcError as exc:
                failed = True
                echo_error(located(exc, source))
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


@click.command()
@click.argument("spec", metavar="SPEC")
@BATCH
@DTYPE
@click.option(
    "--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True
)
def costs(spec: str, batch: int, dtype: str, fmt: str) -> None:
    """Multiply-adds and memory of SPEC, as each tool counts them.

    Under convcalc's rules (every multiply-add, PyTorch's
    FlopCounterMode ÷ 2) and each tool's (torchinfo, fvcore, ptflops, thop) side by side,
    per layer type and in total, why they differ, and memory."""
    from convcalc.analysis import summarise
    from convcalc.render import text as render
    from convcalc.views.costs import compare
    from convcalc.views.memory import human, memory

    try:
        report = summarise(spec)
    except ConvcalcError as exc:
        raise Failure(located(exc, spec)) from None
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


@click.command()
@click.argument("name", required=False)
def zoo(name: str | None) -> None:
    """List the bundled specs, or print one.

    They are usable by name wherever a SPEC is expected; with NAME, print that spec (a start
    for your own: convcalc zoo resnet18 > mine.yaml)."""
    from convcalc.spec.validate import bundled_specs

    specs = bundled_specs()
    if name is not None:
        if name not in specs:
            raise Failure(f"no bundled spec {name!r}; bundled: {', '.join(specs)}")
        click.echo(specs[name].read_text(encoding="utf-8"), nl=False)
        return
    width = max(map(len, specs), default=0)
    for name, path in specs.items():
        click.echo(f"{name:<{width}}  {_first_comment(path.read_text(encoding='utf-8'))}")


def _first_comment(text: str) -> str:
    """The first sentence of a spec's first comment paragraph (its comment lines up to a line
    that is not one, or is an empty one), up to its first period followed by a space and no
    digit ("Huang et al. 2017", "torchvision.models" and "e.g." do not end it), or the end."""
    import re

    lines = [line for line in text.splitlines() if not line.startswith("#!")]
    start = next((i for i, line in enumerate(lines) if line.startswith("#")), len(lines))
    words = []
    for line in lines[start:]:
        body = line.lstrip("#").strip()
        if not line.startswith("#") or not body:
            break
        words.append(body)
    paragraph = " ".join(words)
    end = re.search(r"(?<!\bal)(?<!\be\.g)(?<!\bi\.e)[.!?](?=\s+\D|\s*$)", paragraph)
    return paragraph[: end.end()] if end else paragraph


@click.command()
@click.option("--key", "of_key", is_flag=True, help="The schema of answer keys (convcalc check).")
@framework("The specs described: PyTorch's, or Keras specs (framework: keras).")
def schema(of_key: bool, framework: str) -> None:
    """Print the JSON Schema of spec files, for editors.

    With --key, the schema of answer keys; editors that validate YAML read either. The spec
    schema is of PyTorch specs; --framework keras gives that of Keras specs (framework: keras),
    made from the Keras dialect's own argument models."""
    from convcalc.render import text as render

    if of_key:
        from convcalc.teach.key import key_schema

        click.echo(render.to_json(key_schema()))
        return
    from convcalc.spec.schema import keras_schema, spec_schema

    click.echo(render.to_json(keras_schema() if framework == "keras" else spec_schema()))


@click.command()
@click.argument("specs", nargs=-1, required=True, metavar="SPEC...")
@click.option(
    "--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True
)
@click.option("--strict", is_flag=True, help="Exit 1 when there is any warning.")
def lint(specs: tuple[str, ...], fmt: str, strict: bool) -> None:
    """Warn about the silent traps of each SPEC.

    Input the floor drops, windows that skip input, padding that sees only zeros, misaligned
    paths, wasted parameters, a linear without its flatten, and more.

    Each warning names the layer, shows the arithmetic and suggests a fix. Exit 0 (with
    --strict, 1 when there is a warning); 2 for an invalid SPEC.
    """
    from convcalc.analysis import summarise
    from convcalc.solve.accepted import accepted_inputs
    from convcalc.views import lint as linting

    reports, texts, warned, failed = [], [], False, False
    for source in specs:
        try:
            report = summarise(source)
        except ConvcalcError as exc:
            failed = True
            message = located(exc, source)
            echo_error(message)
            reports.append({"spec": source, "error": message})  # in its place, as shape does
            continue
        findings = linting.lint(report, accepted=accepted_inputs(report))
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


@click.command()
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
    """Draw SPEC as an SVG diagram or a TikZ figure.

    convcalc draws it itself: no other tool is needed."""
    from convcalc.analysis import summarise
    from convcalc.render import draw as drawing

    if fmt == "tikz" and (style == "blocks" or linear):
        raise Failure("--format tikz draws the flow style: --style blocks and --linear are for svg")
    try:
        report = summarise(spec)
    except ConvcalcError as exc:
        raise Failure(located(exc, spec)) from None
    if fmt == "tikz":
        text = drawing.to_tikz(report, depth=depth, costs=costs)
    else:
        text = drawing.to_svg(
            report, depth=depth, style=style or "blocks", costs=costs, log_scale=not linear
        )
    write_out(text, output, "figure", inputs=(spec,))


@click.command()
@click.argument("spec", metavar="SPEC")
@OUTPUT
@BATCH
@DTYPE
@CONVENTION
def report(spec: str, output: str | None, batch: int, dtype: str, convention: str) -> None:
    """One self-contained HTML page for SPEC.

    The diagram, the table with expandable blocks, costs, receptive fields, lint warnings and
    the spec itself."""
    from convcalc.analysis import analyse
    from convcalc.records import Costing
    from convcalc.render.html import to_html
    from convcalc.spec.document import parse_yaml, read_source
    from convcalc.spec.validate import bundled_specs, validate

    try:  # read once: standard input cannot be read twice
        text, file, name = read_source(spec, bundled_specs())
        summary = analyse(validate(parse_yaml(text, file, name)))
    except ConvcalcError as exc:
        raise Failure(located(exc, spec)) from None
    page = to_html(summary, text, costing=Costing(batch, dtype, convention))
    write_out(page, output, "report", inputs=(spec,))
