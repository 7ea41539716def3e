"""Commands that speak PyTorch and Keras: export and import."""

from __future__ import annotations

import click

from convcalc.cli.options import OUTPUT, Failure, located, write_out
from convcalc.errors import ConvcalcError, shown


@click.command()
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
        raise Failure(located(exc, spec)) from None
    try:
        if target == "keras":  # a Keras spec as Keras writes it, a PyTorch one channels-first
            from convcalc.frameworks.keras.export import to_keras

            source = to_keras(report, class_name, loaded)
        else:
            from convcalc.frameworks.torch.export import to_pytorch

            source = to_pytorch(report, class_name, loaded)
    except ExportError as exc:  # a layer the framework cannot build: located in the spec
        exc.locate(loaded.file, loaded.line_of)
        raise Failure(located(exc, spec)) from None
    except ConvcalcError as exc:
        raise Failure(located(exc, spec)) from None
    write_out(source, output, "module", inputs=(spec,))


def _import_flag(option: str, value: bool) -> str:
    """An option of import's library function as this command's option: a flag alone, or
    the option with its value (``--avgpool-ceil-mode false``)."""
    param = next(p for p in import_model.params if p.name == option)
    flag = max(param.opts, key=len)
    if isinstance(param, click.Option) and param.is_flag:
        return flag if value else f"no {flag}"
    return f"{flag} {str(value).lower()}"


@click.command("import")
@click.argument("source", metavar="MODEL_TEXT")
@click.option(
    "--input",
    "input_shape",
    default=None,
    help="The input shape, no batch: C,H,W (Keras JSON: as Keras writes it, H,W,C; by default "
    "the model's own).",
)
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
    input_shape: str | None,
    name: str | None,
    assume_sequential: bool,
    avgpool_ceil_mode: str | None,
    output: str | None,
) -> None:
    """Write a spec from print(model) text or a Keras model's JSON.

    The spec of a PyTorch model from the text print(model) shows, or of a Keras model from the
    JSON model.to_json() writes ('-': stdin).

    Standard layers and nn.Sequential are recovered exactly; a custom module's forward is not
    in that text, so it is refused, naming its line. A Keras model's merges become blocks; a
    graph that blocks cannot express is refused at the layer.
    """
    from convcalc.frameworks.torch.importer import MEDIUM, ImportRefusal, from_print, to_yaml
    from convcalc.solve.layer import is_size
    from convcalc.spec.document import read_source

    sizes: tuple[int, ...] | None = None
    if input_shape is not None:
        parts = [part.strip() for part in input_shape.split(",")]
        if not all(is_size(part) and int(part) > 0 for part in parts):
            raise Failure(f"--input: positive sizes such as 3,32,32, not '{shown(input_shape)}'")
        sizes = tuple(int(part) for part in parts)
    try:
        text, file, stem = read_source(source, {}, MEDIUM)
    except ConvcalcError as exc:
        raise Failure(located(exc, source)) from None
    from convcalc.frameworks.keras.importer import is_keras_json

    if is_keras_json(text):
        _import_keras(text, file, name or stem, sizes, output, source)
        return
    if sizes is None:
        raise Failure("--input is required for print(model) text: the input shape, C,H,W")
    try:
        ceil = None if avgpool_ceil_mode is None else avgpool_ceil_mode == "true"
        spec = from_print(
            text, sizes, name or stem, assume_sequential=assume_sequential, avgpool_ceil_mode=ceil
        )
    except ImportRefusal as exc:
        raise Failure(f"{file}:{exc.line}: {exc.explained(_import_flag)}") from None
    except ConvcalcError as exc:
        raise Failure(located(exc, source)) from None
    write_out(to_yaml(spec), output, "spec", inputs=(source,))


def _import_keras(
    text: str,
    file: str,
    name: str,
    sizes: tuple[int, ...] | None,
    output: str | None,
    source: str,
) -> None:
    """``convcalc import model.json``: the Keras spec of ``model.to_json()``'s text."""
    from convcalc.frameworks.keras.importer import KerasImportError, from_json, to_yaml

    try:
        spec = from_json(text, name, sizes)
    except KerasImportError as exc:
        raise Failure(f"{file}: {exc}") from None
    except ConvcalcError as exc:
        raise Failure(located(exc, source)) from None
    write_out(to_yaml(spec), output, "spec", inputs=(source,))
