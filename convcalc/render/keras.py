"""``model.summary()`` as Keras 3 prints it, for a spec read in Keras' terms
(``convcalc shape SPEC --format keras``): one row per Keras layer, "Layer (type)" with the
name written or Keras' own (:func:`keras_layers`), "Output Shape" as ``(None, 61, 61, 32)``,
"Param #" (a Keras layer that is several steps of the records counts them all), and the
three totals with Keras' sizes: each parameter 4 bytes (float32), in B, KB, MB, … of 1,024,
two decimals.

A network with a merge (Add, Subtract, Multiply, Average, Maximum, Minimum, Concatenate: a
block that joins paths) is a functional model in Keras: its summary starts with the input
layer, lists the layers of each path, then the merge; the "Connected to" column Keras adds
there is left out. Control characters in a name are shown escaped, one table line per row.
"""

from __future__ import annotations

from collections.abc import Sequence

from convcalc.errors import ConvcalcError
from convcalc.escape import terminal
from convcalc.layers.blocks import JOINS
from convcalc.records import Entry, Report, Shape

MERGES = frozenset(join.keras for join in JOINS.values())  # each join's Keras merge layer
BYTES = 4  # float32


def is_merge(entry: Entry, kind: str) -> bool:
    """Whether the Keras layer ``kind`` written at ``entry`` is a merge: a block that joins
    its paths as one of Keras' merge layers (:data:`~convcalc.layers.blocks.JOINS`), not a
    Sequential, nor an op on a number that Keras shows as ``Add``."""
    return entry.is_block and kind in MERGES


def keras_shape(report: Report, shape: Shape) -> str:
    """``(None, 61, 61, 32)``: Keras' shape, the batch first as None."""
    assert report.dialect is not None
    return "(" + ", ".join(["None", *(str(n) for n in report.dialect.shape(shape))]) + ")"


def memory(count: int) -> str:
    """Keras' size of ``count`` float32 parameters: ``5.29 KB`` (readable_memory_size)."""
    size: float = count * BYTES
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if size / 1024 < 1:
            return f"{size:.2f} {unit}"
        size /= 1024
    return f"{size:.2f} PB"


def keras_layers(report: Report) -> list[tuple[str, str, Entry | None]]:
    """(name, class, entry) per Keras layer, in ``model.summary()``'s order: the name written,
    else Keras' own (:func:`default_names`). A functional model (one with a merge) starts with
    its ``input_layer`` (entry None) and lists a merge after the layers of its paths; a
    Sequential is one row, unless the export writes it inline (its layers are then the model's
    rows). A repeat (convcalc's) is its copies' layers, each a fresh Keras layer, as the loop
    that builds them makes them."""
    dialect = report.dialect
    if dialect is None or dialect.framework != "keras":
        raise ConvcalcError(
            "--format keras prints Keras' summary of a Keras spec (framework: keras at the "
            "top); this spec is PyTorch's"
        )
    named = default_names(report)
    out: list[tuple[str, str, Entry | None]] = []
    if any(is_merge(e, dialect.classes.get(e.source, "")) for e in report.walk()):
        out.append(("input_layer", "InputLayer", None))
    stack: list[tuple[Entry, bool]] = [(e, False) for e in reversed(report.layers)]
    while stack:
        entry, merged = stack.pop()
        kind = dialect.classes.get(entry.source, entry.type)
        inline = kind == "Sequential" and entry.source in dialect.inline
        if entry.type == "repeat" or inline:  # not a Keras layer: its layers, in order
            for _, children in reversed(entry.children):
                stack.extend((child, False) for child in reversed(children))
            continue
        if merged or not is_merge(entry, kind):
            out.append((named.get(id(entry), kind), kind, entry))
            continue
        stack.append((entry, True))  # the merge after its paths
        for _, children in reversed(entry.children):
            stack.extend((child, False) for child in reversed(children))
    return out


def default_names(report: Report) -> dict[int, str]:
    """Each Keras layer's name, by ``id`` of its entry: the name written, else the name a
    fresh Keras session gives it (:func:`~convcalc.spec.keras.fresh_names`: counted per class
    in the order the export makes the layers)."""
    from convcalc.spec.keras import fresh_names

    dialect = report.dialect
    assert dialect is not None

    def lists(entry: Entry) -> list[Sequence[Entry]]:
        kind = dialect.classes.get(entry.source, "")
        if entry.type == "repeat" or kind == "Sequential" or is_merge(entry, kind):
            return [children for _, children in entry.children]
        return []  # a Keras leaf (its steps are no layers of their own)

    made = fresh_names(
        report.layers, lambda e: e.source, lists, dialect.classes, dialect.names, dialect.inline
    )
    return {id(m.node): m.name for m in made if m.node is not None}


def rows(report: Report) -> list[tuple[str, str, str, int]]:
    """(name, class, output shape, parameters) per Keras layer, in Keras' order
    (:func:`keras_layers`); a merge's row counts no parameters (its paths' rows do)."""
    return [
        (
            name,
            kind,
            keras_shape(report, entry.output_shape if entry else report.input_shape),
            0 if entry is None or is_merge(entry, kind) else entry.params,
        )
        for name, kind, entry in keras_layers(report)
    ]


def summary(report: Report) -> str:
    """The text of ``model.summary()``: the model's name, the table, the three totals."""
    table = [(f"{terminal(n)} ({k})", shape, f"{p:,}") for n, k, shape, p in rows(report)]
    head = ("Layer (type)", "Output Shape", "Param #")
    widths = [max(len(r[i]) for r in (*table, head)) for i in range(3)]

    def line(cells: tuple[str, str, str], edge: str) -> str:
        a, b, c = cells
        text = f" {a:<{widths[0]}} {edge} {b:<{widths[1]}} {edge} {c:>{widths[2]}} "
        return f"{edge}{text}{edge}"

    def rule(left: str, mid: str, right: str, bar: str) -> str:
        return left + mid.join(bar * (w + 2) for w in widths) + right

    total, trainable = report.total_params, report.trainable_params
    lines = [f'Model: "{report.name}"', rule("┏", "┳", "┓", "━"), line(head, "┃")]
    lines.append(rule("┡", "╇", "┩", "━"))
    for i, row in enumerate(table):
        if i:
            lines.append(rule("├", "┼", "┤", "─"))
        lines.append(line(row, "│"))
    lines.append(rule("└", "┴", "┘", "─"))
    lines += [
        f" Total params: {total:,} ({memory(total)})",
        f" Trainable params: {trainable:,} ({memory(trainable)})",
        f" Non-trainable params: {total - trainable:,} ({memory(total - trainable)})",
    ]
    return "\n".join(lines)
