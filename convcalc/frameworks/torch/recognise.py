"""What the importer says of ``print(model)`` text it refuses: what a custom module holds, and
which bundled spec the whole text is.

The text is read leniently here (a line that is not a child is skipped), since the strict
reader (:mod:`convcalc.frameworks.torch.importer`) has already refused it. Nothing is evaluated:
the arguments of the lines read go through the importer's own argument reader.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

Signature = Counter[tuple[Any, ...]]

_CHILD = re.compile(r"\((?P<key>.+?)\): (?:(?P<times>\d+) x )?(?P<body>.+)")
_MODULE = re.compile(r"(?P<cls>[A-Za-z_][A-Za-z0-9_]*)\((?P<rest>.*)")
_CONV = re.compile(r"Conv[123]d")
# a child by which a block adds a projection of its input rather than the input itself
_SHORTCUT = re.compile(r"downsample|shortcut|skip|proj(ection)?_?short", re.IGNORECASE)
# top-level classes whose bundled specs are named otherwise (normalised: lower case, no "_")
_NAMED = {
    "resnet": ("resnet", "resnext", "wideresnet"),
    "visiontransformer": ("vit",),
    "swintransformer": ("swin",),
    "inception3": ("inceptionv3",),
}


@dataclass(frozen=True)
class Line:
    """One module line inside the part read: its depth below the part's opener (1: a direct
    child), key, class, arguments (None for an opener), and how many times it runs (its
    own ``N x`` and its openers', multiplied)."""

    depth: int
    key: str
    cls: str
    args: list[tuple[str | None, Any]] | None
    times: int


Reader = Callable[[str, str, int, str], list[tuple[str | None, Any]]]


def module_lines(lines: list[str], opener: int, read: Reader) -> Iterator[Line]:
    """The module lines inside the module opened on line ``opener`` (1-based), to its closing
    ``)``: depth by indentation (two spaces a level, as PyTorch prints), arguments by
    ``read`` (the importer's reader; None where it cannot read them)."""
    base = _indent(lines[opener - 1])
    openers: list[tuple[int, int]] = []  # (indent, times) of the openers around a line
    for number in range(opener + 1, len(lines) + 1):
        raw = lines[number - 1].rstrip()
        stripped, indent = raw.strip(), _indent(raw)
        if not stripped:
            continue
        if indent <= base:
            return
        while openers and openers[-1][0] >= indent:
            openers.pop()
        match = _CHILD.fullmatch(stripped)
        module = _MODULE.fullmatch(match["body"]) if match else None
        if match is None or module is None:
            continue
        times = int(match["times"] or 1)
        for _, outer in openers:
            times *= outer
        rest, args = module["rest"], None
        if rest:
            try:
                args = read(rest[:-1], module["cls"], number, raw) if rest.endswith(")") else []
            except Exception:  # not readable: counted, without arguments
                args = []
        else:
            openers.append((indent, int(match["times"] or 1)))
        yield Line((indent - base) // 2, match["key"], module["cls"], args, times)


def _indent(raw: str) -> int:
    return len(raw) - len(raw.lstrip())


def _positional(args: list[tuple[str | None, Any]], i: int, key: str) -> Any:
    """Argument ``key``, given by keyword or as the i-th positional one; None if absent."""
    for name, value in args:
        if name == key:
            return value
    values = [value for name, value in args if name is None]
    return values[i] if i < len(values) else None


def holding(lines: list[str], opener: int, read: Reader) -> tuple[str, str]:
    """What the custom module opened on line ``opener`` holds, as `` holding (conv):
    Sequential (2 Conv2d, 2 BatchNorm2d, 1 ReLU6; 32 → 16 channels)``, and the block of a
    spec that would express it where what it holds tells: a residual block where a child
    is a shortcut (``downsample``), a sequential one where its layers change the channels or
    the size (an input added to their output would not fit), else "" (the caller's guess).

    Channels are the first convolution's or linear's input and the last one's output, as
    printed; the size changes where a convolution's stride is not 1."""
    found = list(module_lines(lines, opener, read))
    direct = [line for line in found if line.depth == 1]
    if not direct:
        return "", ""
    shown = [f"({line.key}): {line.cls}" for line in direct[:4]]
    if len(direct) > 4:
        shown.append(f"… ({len(direct)} children)")
    counts: Counter[str] = Counter()
    widths: list[tuple[int, int]] = []
    strided = False
    for line in found:
        if line.args is None:
            continue
        counts[line.cls] += line.times
        if _CONV.fullmatch(line.cls):
            pair = (
                _positional(line.args, 0, "in_channels"),
                _positional(line.args, 1, "out_channels"),
            )
            stride = _positional(line.args, 3, "stride") or 1
            strided |= any(s != 1 for s in (stride if isinstance(stride, tuple) else (stride,)))
        elif line.cls == "Linear":
            pair = (
                _positional(line.args, 0, "in_features"),
                _positional(line.args, 1, "out_features"),
            )
        else:
            continue
        if all(isinstance(n, int) for n in pair):
            widths.append(pair)
    parts = [", ".join(f"{n} {cls}" for cls, n in counts.items())]
    if widths:
        first, last = widths[0][0], widths[-1][1]
        parts.append(f"{first} → {last} channels" if first != last else f"{first} channels kept")
    if strided:
        parts.append("a stride of 2 or more")
    text = f" holding {', '.join(shown)} ({'; '.join(p for p in parts if p)})"
    shortcut = next((line.key for line in direct if _SHORTCUT.search(line.key)), None)
    if shortcut is not None:
        return text, (
            f"write it as a residual block in the spec, ({shortcut}) as its shortcut (if "
            "its forward adds the two)"
        )
    if widths and (widths[0][0] != widths[-1][1] or strided):
        change = (
            f"take {widths[0][0]} channels to {widths[-1][1]}"
            if widths[0][0] != widths[-1][1]
            else "change the size (stride)"
        )
        return text, (
            f"its layers {change} and nothing projects its input, so it cannot add its "
            "input to their output: write it as a sequential block in the spec (if its "
            "forward runs them in the order printed)"
        )
    return text, ""


# --- the bundled specs ---------------------------------------------------------------------


def text_signature(lines: list[str], read: Reader, *, linears: bool) -> Signature:
    """The convolutions (out channels, kernel, stride, groups), batch norms (channels) and,
    with ``linears``, the linears (in and out features) of the whole text, each as many times
    as it runs."""
    found: Signature = Counter()
    root = next((i for i, line in enumerate(lines, 1) if line.strip()), None)
    for line in module_lines(lines, root, read) if root is not None else ():
        if line.args is None:
            continue
        if _CONV.fullmatch(line.cls):
            kernel = _positional(line.args, 2, "kernel_size")
            stride = _positional(line.args, 3, "stride") or 1
            groups = _positional(line.args, 6, "groups") or 1
            rank = int(line.cls[4])
            entry = ("conv", _positional(line.args, 1, "out_channels"))
            found[(*entry, _dims(kernel, rank), _dims(stride, rank), groups)] += line.times
        elif re.fullmatch(r"BatchNorm[123]d", line.cls):
            found[("batchnorm", _positional(line.args, 0, "num_features"))] += line.times
        elif line.cls == "Linear" and linears:
            pair = (
                _positional(line.args, 0, "in_features"),
                _positional(line.args, 1, "out_features"),
            )
            found[("linear", *pair)] += line.times
    return found


def _dims(value: Any, rank: int) -> tuple[Any, ...]:
    return tuple(value) if isinstance(value, tuple) else (value,) * rank


def spec_signature(name: str, *, linears: bool) -> Signature:
    """:func:`text_signature` of a bundled spec, from its analysis (repeats unrolled)."""
    from convcalc.analysis import analyse
    from convcalc.spec.validate import load_spec

    found: Signature = Counter()
    for entry in analyse(load_spec(name)).walk():
        layer = entry.layer
        if entry.type == "conv":
            rank = len(entry.input_shape) - 1
            kernel = _dims(getattr(layer, "kernel_size", 1), rank)
            stride = _dims(getattr(layer, "stride", None) or 1, rank)
            stride = stride * rank if len(stride) == 1 and rank > 1 else stride
            out = getattr(layer, "out_channels", None)
            found[("conv", out, kernel, stride, getattr(layer, "groups", 1))] += 1
        elif entry.type == "batchnorm":
            found[("batchnorm", entry.input_shape[0])] += 1
        elif entry.type == "linear" and linears:
            found[("linear", entry.input_shape[-1], entry.output_shape[-1])] += 1
    return found


def bundled_match(lines: list[str], read: Reader) -> list[str]:
    """The bundled specs the text is the model of: those named after its top-level class
    (``MobileNetV2`` → mobilenet_v2; ``ResNet`` → resnet*, resnext*, wide_resnet*) with
    the same convolutions and linears (failing that, the same convolutions: a spec may write
    a module holding linears, Swin's attention, as one layer); empty if none."""
    from convcalc.spec.validate import bundled_specs

    first = next((line.strip() for line in lines if line.strip()), "")
    top = _MODULE.fullmatch(first)
    if top is None or top["rest"]:
        return []
    norm = re.sub(r"[^a-z0-9]", "", top["cls"].lower())
    prefixes = _NAMED.get(norm, (norm,))
    names = [
        name
        for name in bundled_specs()
        if re.sub(r"[^a-z0-9]", "", name.lower()).startswith(prefixes)
    ]
    for linears in (True, False):
        want = text_signature(lines, read, linears=linears)
        if not want:
            return []
        found = [name for name in names if _signature_or_none(name, linears) == want]
        if found:
            return found
    return []


def _signature_or_none(name: str, linears: bool) -> Signature | None:
    from convcalc.errors import ConvcalcError

    try:
        return spec_signature(name, linears=linears)
    except ConvcalcError:
        return None


def pointer(lines: list[str], read: Reader) -> str:
    """``; this is the bundled spec mobilenet_v2: convcalc shape mobilenet_v2 ...`` where the
    text is a bundled spec's model, else ""."""
    found = bundled_match(lines, read)
    if len(found) == 1:
        name = found[0]
        return (
            f"; this is the model of the bundled spec {name}: `convcalc shape {name}` "
            f"analyses it, `convcalc zoo {name} > mine.yaml` gives its spec to edit"
        )
    if found:
        names = ", ".join(found)
        return f"; this is the model of one of the bundled specs {names} (`convcalc zoo NAME`)"
    return ""
