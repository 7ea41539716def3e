"""Commands for courses: quiz, check (the grader), mlp (a worked example), identities."""

from __future__ import annotations

import sys

import click

from convcalc.cli.options import (
    CONVENTION,
    COUNT,
    INT_LIMIT,
    SEED,
    Failure,
    echo_error,
    framework,
    refuse_overwrite,
    write_out,
)
from convcalc.errors import ConvcalcError

MAX_MLP_PARAMS = 1_000_000  # convcalc mlp: about a minute of pure Python at most


@click.command()
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
    type=click.Choice(["markdown", "moodle-xml", "gift", "json", "latex"]),
    default="markdown",
    show_default=True,
    help="latex: the exam sheet on standard output, the solutions sheet in --solutions.",
)
@click.option(
    "--title",
    default="convcalc quiz",
    show_default=True,
    help="The worksheet's heading (markdown, latex), the Moodle category (moodle-xml, gift): "
    "any text but a blank one.",
)
@click.option(
    "--solutions",
    type=click.Path(dir_okay=False),
    help="With --format latex (and only then): the file the solutions sheet is written to.",
)
@CONVENTION
@framework("keras: the layers as keras.layers calls, shapes height×width×channels, Keras' rules.")
def quiz(
    seed: int,
    count: int,
    topics: str,
    difficulty: int,
    fmt: str,
    title: str,
    solutions: str | None,
    convention: str,
    framework: str,
) -> None:
    """Random homework-style questions, with worked answers.

    Multiple-choice distractors are the values of named mistakes (forgot the bias, ceil
    instead of floor, ...), each with feedback saying which. Markdown ends with an answer key;
    moodle-xml and gift import into Moodle's question bank. latex writes two documents for
    pdflatex: the exam sheet to standard output and the solutions sheet to --solutions FILE
    (convcalc quiz --format latex --solutions key.tex > exam.tex). Multiply-adds are counted
    under --convention (a course that teaches a tool's count names it). --framework keras asks
    the same kinds in Keras' terms (Conv2D, padding "same" at any stride, Conv2DTranspose,
    Dense, BatchNormalization's non-trainable parameters), PyTorch's rules among the mistakes.
    """
    from convcalc.teach import quiz_formats
    from convcalc.teach.quiz import quiz as make

    if not title.strip():
        raise Failure("--title is blank: give the quiz a title (its heading, or its category)")
    if (fmt == "latex") != (solutions is not None) or solutions == "-":
        raise Failure(
            "--format latex writes two documents: the exam sheet to standard output and the "
            "solutions sheet to --solutions FILE (a file, given with --format latex only)"
        )
    if solutions is not None and _is_standard_output(solutions):
        raise Failure(
            f"{solutions}: --solutions names the file standard output goes to: the exam sheet "
            "would be written over the solutions; choose another file"
        )
    chosen = tuple(t.strip() for t in topics.split(",") if t.strip())
    try:
        questions = make(seed, count, chosen, difficulty, convention, framework)
    except ConvcalcError as exc:
        raise Failure(str(exc)) from None
    if fmt == "markdown":
        text = quiz_formats.to_markdown(questions, title)
    elif fmt == "moodle-xml":
        text = quiz_formats.to_moodle_xml(questions, title)
    elif fmt == "gift":
        text = quiz_formats.to_gift(questions, title)
    elif fmt == "latex" and solutions is not None:
        text, key = quiz_formats.to_latex(questions, title)
        write_out(key, solutions, "solutions sheet", inputs=())
    else:
        text = quiz_formats.to_json(questions)
    click.echo(text.rstrip("\n"))


def _is_standard_output(path: str) -> bool:
    """Whether ``path`` is the file standard output writes to (``--solutions exam.tex >
    exam.tex``, or ``/dev/stdout``): False where either cannot be examined."""
    import os

    try:
        out = os.fstat(sys.stdout.fileno())
        named = os.stat(path)
    except (OSError, ValueError, AttributeError):  # no such file yet, or no descriptor
        return False
    return (out.st_dev, out.st_ino) == (named.st_dev, named.st_ino)


@click.command()
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
@click.option(
    "--key",
    "key_file",
    type=click.Path(dir_okay=False),
    help="An answer key (convcalc schema --key): every student marked against every question "
    "of it, in points; unanswered questions score 0.",
)
@click.option(
    "--csv-format",
    type=click.Choice(["plain", "moodle", "canvas"]),
    default="plain",
    show_default=True,
    help="With --key: the gradebook for Moodle's or Canvas's CSV grade import.",
)
@click.option(
    "--feedback",
    "feedback_dir",
    type=click.Path(file_okay=False),
    help="With --key: one Markdown file of feedback per student, named by the student's id.",
)
def check(
    sources: tuple[str, ...],
    fmt: str,
    csv_file: str | None,
    summary_only: bool,
    specs_dir: str | None,
    key_file: str | None,
    csv_format: str,
    feedback_dir: str | None,
) -> None:
    """Mark students' answers files against PyTorch's rules.

    An answers file holds a spec, questions and a student's answers, in one YAML file:

    \b
      student: Bob
      spec: hw3-q3                  # a bundled name, a file, or the spec itself
      answers:
        - {question: 3.1a, at: "layers[0]", output_shape: [32, 61, 61]}
        - {question: 3.1b, at: "layers[2]", weights: 65664}
        - {question: 3.1c, at: "layers[0]", mult_adds: 22980896}
        - question: 3.2a
          solve: {in: 64, out: 4, padding: 0, dilation: 1}
          solutions: [[49, 5], [50, 5]]

    ANSWERS are files or folders of them. Each answer is marked right or wrong against
    PyTorch's rules, with the right value, the mistake's name when it is a common one, and the
    worked explanation. An invalid file keeps its row (marked invalid) in the summary, the CSV
    and the JSON. With --key, every question of the key is marked for every student, in
    points. Exit 0: all right; 1: something wrong; 2: invalid input.
    """
    from convcalc.teach import grade, gradebook

    if key_file is not None:
        _check_keyed(key_file, sources, fmt, csv_file, summary_only, csv_format, feedback_dir)
        return
    if csv_format != "plain" or feedback_dir is not None:
        flag = "--feedback" if feedback_dir is not None else "--csv-format"
        raise Failure(f"{flag} needs --key: the questions, their points and their order")

    try:
        results = grade.grade_all(sources, specs_dir)
    except ConvcalcError as exc:
        raise Failure(str(exc)) from None
    invalid = any(r.error for r in results)
    read = tuple(r.file for r in results)
    if csv_file is not None:  # before any output: the gradebook must not replace an answer
        refuse_overwrite(csv_file, read, "gradebook", "--csv")
    for r in results:
        if r.error:
            echo_error(r.error)
    if csv_file == "-":  # the gradebook alone on standard output, a CSV file as it is
        pass
    elif fmt == "json":
        from convcalc.render.text import to_json

        click.echo(to_json(gradebook.to_json(results)))
    else:
        valid = [r for r in results if not r.error]  # an invalid file's error is on stderr
        texts = [] if summary_only else [gradebook.render_text(r) for r in valid]
        if len(results) > 1 or summary_only:
            texts.append(gradebook.summary(results))
        if texts:
            click.echo("\n".join(texts).rstrip("\n"))
    if csv_file is not None:
        write_out(gradebook.to_csv(results), csv_file, "gradebook", inputs=read)
    if invalid:
        sys.exit(2)
    if not all(r.all_right for r in results):
        sys.exit(1)


def _check_keyed(
    key_file: str,
    sources: tuple[str, ...],
    fmt: str,
    csv_file: str | None,
    summary_only: bool,
    csv_format: str,
    feedback_dir: str | None,
) -> None:
    """``convcalc check --key``: every answers file marked against the key; every file a row
    (an invalid one with 0 points and its error); exit 2 if one is invalid, 1 if a student
    lost a point, 0 if every student has every point."""
    from pathlib import Path

    from convcalc.paths import PathRefused, write_below
    from convcalc.teach import gradebook
    from convcalc.teach.key import grade_all_keyed, load_key

    try:
        key = load_key(key_file)
        results = grade_all_keyed(key, sources)
    except ConvcalcError as exc:
        raise Failure(str(exc)) from None
    read = (key_file, *key.read, *(r.file for r in results))
    if csv_file is not None:
        refuse_overwrite(csv_file, read, "gradebook", "--csv")
    for r in results:
        if r.error:
            echo_error(r.error)
    if csv_file == "-":  # the gradebook alone on standard output, a CSV file as it is
        pass
    elif fmt == "json":
        from convcalc.render.text import to_json

        click.echo(to_json(gradebook.json_keyed(results, key)))
    else:
        texts = [] if summary_only else [gradebook.render_keyed(r) for r in results if not r.error]
        if len(results) > 1 or summary_only:
            texts.append(gradebook.summary_keyed(results))
        if texts:
            click.echo("\n".join(texts).rstrip("\n"))
    if csv_file is not None:
        write_out(gradebook.csv_keyed(results, key, csv_format), csv_file, "gradebook", inputs=read)
    if feedback_dir is not None:
        folder = Path(feedback_dir)
        try:
            folder.mkdir(parents=True, exist_ok=True)
            for name, text in gradebook.feedback_files(results, key):
                write_below(folder, name, text, mark=gradebook.FEEDBACK_MARK)
        except (OSError, PathRefused) as exc:
            raise Failure(f"{feedback_dir}: cannot write the feedback: {exc}") from None
    if any(r.error for r in results):
        sys.exit(2)
    if not all(r.full for r in results):
        sys.exit(1)


def _finite(ctx: click.Context, param: click.Parameter, value: float) -> float:
    """A number flag that must be finite: NaN or ±∞ would make every check meaningless."""
    import math

    if not math.isfinite(value):
        raise click.BadParameter(f"must be a finite number, not {value}")
    return value


@click.command()
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
    """The homework's Question 2 MLP, worked through.

    Its parameters, one backward pass and a gradient check. A random network (Glorot-uniform
    weights, seeded) and input; every gradient's shape, and the worst relative error of
    backpropagation against central finite differences per group.
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


@click.command()
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
    """Check the homework's Question 1 identities numerically.

    Each identity is evaluated at many random points."""
    from convcalc.teach import checks

    results = checks.identities(points, seed)
    if fmt == "json":
        click.echo(checks.identities_json(results))
    else:
        click.echo(checks.identities_table(results, points, seed))
    if not all(c.ok for c in results):
        sys.exit(1)  # an identity that fails is a bug in convcalc.reference
