"""Composite layers: blocks that hold lists of layers and join their outputs.

A block says which lists of layers it runs (:meth:`Block.paths`, in execution order), what each
is given (:meth:`Block.path_input`: the block's input, a split's slice of it, or, in a graph,
the output of an earlier path, :meth:`Block.reads`), and how the outputs of the paths it joins
(:meth:`Block.joined`) make its own (:meth:`Block.merge`). It never walks its children itself:
the analysis and the validation walk every block with one explicit stack, so nesting depth
costs no recursion.
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic_core import InitErrorDetails, PydanticCustomError, ValidationError

from convcalc.arith import Derived, Refusal, conv_strides
from convcalc.errors import format_path, shown
from convcalc.expr import Expr, product, total
from convcalc.layers.base import Layer
from convcalc.layers.fields import PositiveInt, SplitSizes, Text
from convcalc.records import Entry, Shape


@dataclass(frozen=True)
class Path:
    """One list of layers inside a block, as it runs.

    ``keys`` name it, in the report and in the spec file alike (``("body",)``,
    ``("branches", 2)``); ``period`` is its length in the spec file (a repeat's unrolled
    children map back to ``index % period``).
    """

    keys: tuple[str | int, ...]
    layers: list[Any]
    period: int

    @property
    def label(self) -> str:
        return format_path(list(self.keys))


class Block(Layer):
    """A layer made of lists of layers. ``LISTS`` names the fields that hold them; with
    ``NESTED``, each of those fields holds a list of lists (concat's branches)."""

    LISTS: ClassVar[tuple[str, ...]] = ()
    NESTED: ClassVar[bool] = False
    # for the JSON Schema: the fields of the block's own parts that hold lists of layers
    PART_LISTS: ClassVar[dict[str, tuple[str, ...]]] = {}
    JOINS_INPUT: ClassVar[bool] = False  # the block's own input is one more path of the merge
    functional: Literal[False] = False  # a block is not a function PyTorch calls

    def lists(self) -> list[tuple[tuple[str | int, ...], list[Any]]]:
        """The lists of layers as the spec writes them, each with its keys."""
        return [((name,), getattr(self, name)) for name in self.LISTS]

    def paths(self) -> list[Path]:
        """The lists of layers to run on the block's input, in execution order."""
        return [Path(keys, layers, len(layers)) for keys, layers in self.lists()]

    def rebuild(self, lists: list[list[Any]]) -> "Block":
        """This block with its lists replaced (validated layers for the raw ones)."""
        return self.model_copy(update=dict(zip(self.LISTS, lists, strict=True)))

    def path_input(
        self, shape: Shape, keys: tuple[str | int, ...], outputs: Sequence[Shape] = ()
    ) -> Shape:
        """What the path named ``keys`` is given when the block is given ``shape`` and the
        paths before it gave ``outputs`` (in execution order): the whole input (a split gives
        each branch its slice of the channels, a graph's path may read an earlier output)."""
        return shape

    def reads(self, index: int) -> int | None:
        """The earlier path whose output path ``index`` reads; None: the block's input."""
        return None

    def joined(self) -> tuple[int, ...] | None:
        """The paths whose outputs :meth:`merge` joins, by index; None: every path."""
        return None

    def list_name(self, keys: tuple[str | int, ...]) -> str:
        """How tables head the list named ``keys``: ``shortcut``, ``branches[1]``."""
        return format_path(list(keys))

    def path_outputs(
        self, shape: Shape, children: Sequence[tuple[tuple[str | int, ...], Sequence[Entry]]]
    ) -> list[Shape]:
        """Each path's output in a report (a block entry's ``children``, the block given
        ``shape``): its last entry's, or, for an empty path, what it is given."""
        outputs: list[Shape] = []
        for keys, entries in children:
            given = entries[-1].output_shape if entries else self.path_input(shape, keys, outputs)
            outputs.append(given)
        return outputs

    def merge(self, shape: Shape, outputs: list[tuple[Path, Shape]]) -> Shape:
        """The block's output from its input ``shape`` and each path's output."""
        return outputs[-1][1] if outputs else shape

    def merge_derived(self, shape: Shape, outputs: list[tuple[Path, Shape]]) -> Derived | None:
        """How :meth:`merge` reached its output, for explanations: None when the output is
        simply the last layer's."""
        return None

    def broadcast(
        self, first: Shape, second: Shape, clash: str, verb: str, hint: Callable[[], str] = str
    ) -> Shape:
        """The shape of an element-wise join of ``first`` and ``second`` (records' shapes), as
        the block's framework broadcasts (:func:`broadcast`); refused with ``clash`` (which
        shapes clash), why, and ``hint()``. PyTorch's tensors carry the batch first, so shapes
        of different ranks would line the batch up with another dimension: refused. A Keras
        merge broadcasts the shapes without the batch, aligned from the last axis, in Keras'
        order ((H, W, C) channels-last): (4, 4, 8) with (8,) is (4, 4, 8)."""
        if self._call is None:  # PyTorch: (N, *first) with (N, *second)
            if len(first) != len(second):
                raise Refusal(
                    f"{clash}: to be {verb}, they need as many dimensions (torch would line "
                    f"them up from the last, the batch among them){hint()}"
                )
            out = broadcast(first, second)
            if out is None:
                raise Refusal(
                    f"{clash}: to be {verb}, each dimension must be equal or 1 in one of "
                    f"them{hint()}"
                )
            return out
        out = broadcast(self.shown_shape(first), self.shown_shape(second))
        if out is None:
            raise Refusal(
                f"{clash}: to be {verb}, each axis, aligned from the last, must be equal or 1 "
                f"in one of them{hint()}"
            )
        channels_last = self._call[1] and len(out) > 1
        return (out[-1], *out[:-1]) if channels_last else out


class Sequential(Block):
    type: Literal["sequential"]
    layers: list[Any]
    LISTS = ("layers",)


class Repeat(Block):
    """``layers``, ``times`` times over; the report holds the unrolled copies."""

    type: Literal["repeat"]
    times: PositiveInt
    layers: list[Any]
    LISTS = ("layers",)

    def paths(self) -> list[Path]:
        return [Path(("layers",), self.layers * self.times, len(self.layers))]

    def describe(self, shape: Shape) -> str:
        return f"repeat ×{self.times}"


class Residual(Block):
    """``body(x) + shortcut(x)``; an empty shortcut is the identity. ``join`` names another
    element-wise op of the two (:data:`JOINS`): ``body(x) − shortcut(x)``, their mean, their
    maximum or minimum, their product; the two shapes broadcast as the block's framework
    broadcasts them (:meth:`Block.broadcast`: each dimension equal, or 1 in one of them)."""

    type: Literal["residual"]
    body: list[Any]
    shortcut: list[Any] = Field(default_factory=list)
    join: Literal["add", "subtract", "multiply", "average", "maximum", "minimum"] = "add"
    LISTS = ("body", "shortcut")

    def merge(self, shape: Shape, outputs: list[tuple[Path, Shape]]) -> Shape:
        (_, body), (_, short) = outputs
        if body == short:
            return body
        clash = f"body gives {self.shown(body)} but shortcut gives {self.shown(short)}"
        return self.broadcast(
            body, short, clash, JOINS[self.join].verb, lambda: self._hint(shape, body)
        )

    def merge_derived(self, shape: Shape, outputs: list[tuple[Path, Shape]]) -> Derived | None:
        (_, body), (path, short) = outputs
        what = "the input itself (identity)" if not path.layers else self.shown(short)
        op, out = JOINS[self.join], self.merge(shape, outputs)
        note = f"{op.of([f'body {self.shown(body)}', f'shortcut {what}'])}: {op.verb} element-wise"
        if out != body or out != short:
            note += f", broadcast to {self.shown(out)}"
        return Derived(_number(self.shown_shape(out)), note, "values")

    def _hint(self, x: Shape, body: Shape) -> str:
        """A 1×1 convolution in the shortcut that would match (:func:`_shortcut_stride`), in
        Keras' words where the block is a Keras merge."""
        stride = _shortcut_stride(x, body)
        if stride is None or self.call_label() is None:
            return _shortcut_hint(x, body)
        strides = f", strides={stride}" if stride > 1 else ""
        return f" — a Conv{len(x) - 1}D({body[0]}, 1{strides}) in the shortcut would match"

    def describe(self, shape: Shape) -> str:
        return self.call_label() or ("residual" if self.join == "add" else f"residual {self.join}")


def _number(shape: Shape) -> Expr:
    """The number of values of a shape, as a product: 64·56·56."""
    return product(shape)


def broadcast(first: Shape, second: Shape) -> Shape | None:
    """Two shapes broadcast as torch, NumPy and Keras broadcast them: aligned from the last
    dimension, the shorter one's missing leading dimensions taken as 1, each pair equal or
    one of them 1 (the output the other): (8, 1, 5) with (4, 1) is (8, 4, 5). None where a
    pair differs and neither is 1."""
    if len(first) < len(second):
        first, second = second, first
    lead = len(first) - len(second)
    out = list(first[:lead])
    for a, b in zip(first[lead:], second, strict=True):
        if a != b and 1 not in (a, b):
            return None
        out.append(b if a == 1 else a)
    return tuple(out)


def _shortcut_stride(x: Shape, body: Shape) -> int | None:
    """The stride of a 1×1 conv that takes the block's input to the body's output shape, if
    one exists: the least stride in every dimension's interval of strides
    (:func:`~convcalc.arith.conv_strides`, O(1) however large the input)."""
    if len(x) != len(body) or len(x) < 2:
        return None
    low, high = 1, None
    for n, m in zip(x[1:], body[1:], strict=True):
        strides = conv_strides(n, m, 1, 0, 1)  # one interval at most, or none
        if not strides:
            return None
        lo, hi = strides[0]
        low = max(low, lo)
        high = hi if high is None else high if hi is None else min(high, hi)
    if high is not None and low > high:
        return None
    return low


def _shortcut_hint(x: Shape, body: Shape) -> str:
    """The 1×1 conv of :func:`_shortcut_stride`, as a hint: `` — a 1×1 conv with out_channels
    8 (stride 2) in the shortcut would match``; empty where none exists."""
    stride = _shortcut_stride(x, body)
    if stride is None:
        return ""
    conv = f"a 1×1 conv with out_channels {body[0]} (stride {stride})"
    return f" — {conv} in the shortcut would match"


class Concat(Block):
    """Every branch sees the input; outputs are joined along channels (an empty branch passes
    the input itself)."""

    type: Literal["concat"]
    branches: list[list[Any]] = Field(min_length=1)
    LISTS = ("branches",)
    NESTED = True

    def lists(self) -> list[tuple[tuple[str | int, ...], list[Any]]]:
        return [(("branches", i), branch) for i, branch in enumerate(self.branches)]

    def rebuild(self, lists: list[list[Any]]) -> "Block":
        return self.model_copy(update={"branches": lists})

    def merge(self, shape: Shape, outputs: list[tuple[Path, Shape]]) -> Shape:
        first_path, first = outputs[0]
        for path, out in outputs[1:]:
            if len(out) != len(first) or out[1:] != first[1:]:
                raise Refusal(
                    f"{first_path.label} gives {self.shown(first)} but {path.label} gives "
                    f"{self.shown(out)}: branches are joined along channels, so every other "
                    "dimension must be equal"
                )
        return (sum(out[0] for _, out in outputs), *first[1:])

    def merge_derived(self, shape: Shape, outputs: list[tuple[Path, Shape]]) -> Derived | None:
        expr = total([out[0] for _, out in outputs])
        sizes = ", ".join(self.shown(out) for _, out in outputs)
        return Derived(expr, f"the branches' channels ({sizes}), joined", "C")

    def describe(self, shape: Shape) -> str:
        return self.call_label() or f"concat {len(self.branches)} branches"


class Split(Concat):
    """``torch.cat([branch_i(x_i)], dim=1)`` where x_0, x_1, ... are x's channels cut into
    slices: ``chunks`` as ``x.chunk(chunks, dim=1)`` cuts them (each ⌈C / chunks⌉, the last
    what is left, so C = 5 in 3 chunks is 2 + 2 + 1 and C = 6 in 4 chunks only 3 slices of 2),
    or ``sizes`` as ``x.split(sizes, dim=1)`` (they must add up to C; a size may be 0, an
    empty slice, as torch allows). One branch per slice; an empty branch passes its slice on
    (ShuffleNetV2's ``x1, x2 = x.chunk(2, dim=1)``), and is the only branch an empty slice
    may have: torch runs layers on a tensor of 0 channels each its own way (a ReLU passes it,
    a batchnorm or a max-pool refuses it), which convcalc does not follow."""

    type: Literal["split"]  # type: ignore[assignment]
    chunks: PositiveInt | None = None
    sizes: SplitSizes | None = None

    def slices(self, shape: Shape) -> list[int]:
        """The size of each slice of the channels ``shape[0]``; refused where PyTorch refuses
        the cut or where the branches do not number the slices."""
        if not shape:
            raise Refusal("split needs an input with channels")
        channels = shape[0]
        if (self.chunks is None) == (self.sizes is None):
            raise Refusal("give exactly one of chunks and sizes", "chunks")
        if self.chunks is not None:
            each = -(-channels // self.chunks)
            sizes = [min(each, channels - start) for start in range(0, channels, each)]
            field = "chunks"
        else:
            sizes = [self.sizes] if isinstance(self.sizes, int) else list(self.sizes or ())
            field = "sizes"
            if isinstance(self.sizes, int):  # x.split(n): slices of n, the last what is left
                sizes = [min(self.sizes, channels - s) for s in range(0, channels, self.sizes)]
            elif sum(sizes) != channels:
                raise Refusal(
                    f"the sizes add up to {sum(sizes)}, not to the input's {channels} channels",
                    field,
                )
        if len(sizes) != len(self.branches):
            raise Refusal(
                f"cuts the {channels} channels into {len(sizes)} slice"
                f"{'s' if len(sizes) != 1 else ''} ({' + '.join(map(str, sizes))}), but there "
                f"{'are' if len(self.branches) != 1 else 'is'} {len(self.branches)} branch"
                f"{'es' if len(self.branches) != 1 else ''}: one branch per slice",
                field,
            )
        for i, (size, branch) in enumerate(zip(sizes, self.branches, strict=True)):
            if size == 0 and branch:
                raise Refusal(
                    f"slice {i} is empty (no channels), but branch {i} has layers: torch runs "
                    "layers on 0 channels each its own way, which convcalc does not follow; "
                    "leave that branch empty ([]) to pass the empty slice on",
                    field,
                )
        return sizes

    def path_input(
        self, shape: Shape, keys: tuple[str | int, ...], outputs: Sequence[Shape] = ()
    ) -> Shape:
        index = keys[-1]
        assert isinstance(index, int)  # ("branches", i)
        return (self.slices(shape)[index], *shape[1:])

    def merge_derived(self, shape: Shape, outputs: list[tuple[Path, Shape]]) -> Derived | None:
        derived = super().merge_derived(shape, outputs)
        assert derived is not None
        cut = " + ".join(map(str, self.slices(shape)))
        note = f"the {shape[0]} channels cut into {cut}; " + derived.note
        return Derived(derived.expr, note, derived.quantity)

    def describe(self, shape: Shape) -> str:
        try:
            cut = "+".join(map(str, self.slices(shape)))
        except Refusal:
            cut = str(self.chunks or self.sizes)
        return f"split {cut}"


class Scale(Block):
    """``x · body(x)``, the body's output broadcast to x's shape (squeeze-and-excitation)."""

    type: Literal["scale"]
    body: list[Any]
    LISTS = ("body",)
    JOINS_INPUT = True

    def merge(self, shape: Shape, outputs: list[tuple[Path, Shape]]) -> Shape:
        ((_, gate),) = outputs
        if len(gate) != len(shape) or any(
            g not in (1, n) for g, n in zip(gate, shape, strict=True)
        ):
            raise Refusal(
                f"body gives {self.shown(gate)}, which does not broadcast to the input "
                f"{self.shown(shape)}: each dimension must equal the input's or be 1"
            )
        return shape

    def merge_derived(self, shape: Shape, outputs: list[tuple[Path, Shape]]) -> Derived | None:
        ((_, gate),) = outputs
        note = f"the input {self.shown(shape)} times the body's {self.shown(gate)}, broadcast"
        return Derived(_number(self.shown_shape(shape)), note, "values")


# --- graph: named paths, each reading the block's input or an earlier path's output ----------


class GraphPath(BaseModel):
    """One path of a graph: its ``name``, the ``layers`` it runs (none: it passes its input
    on), and what it reads: the block's input, or the output of the earlier path ``from``."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    name: Text
    source: Text | None = Field(default=None, alias="from")
    layers: list[Any] = Field(default_factory=list)


@dataclass(frozen=True)
class Join:
    """One way a block joins its paths' outputs. Element-wise ops broadcast as torch does
    (each dimension equal, or 1 in one of them); ``concat`` joins along the channels (Σ C,
    the rest equal). ``macs``: multiply-adds per output value, 0 for every op (convcalc's
    convention counts merges as none, and torchinfo, fvcore, ptflops and thop count none for
    ``+``, ``torch.sub``, ``*``, ``(a + b) / 2``, ``torch.maximum``, ``torch.minimum`` or
    ``torch.cat``). ``sign`` goes between the operands (or ``func`` around them), ``symbol``
    is the diagram's join (:mod:`convcalc.render.draw`), ``keras`` the Keras merge layer."""

    name: str
    verb: str
    symbol: str
    keras: str
    sign: str = ", "
    func: str = ""
    elementwise: bool = True
    macs: int = 0

    def of(self, operands: Sequence[str]) -> str:
        """The join written on its operands: ``a + b``, ``max(a, b)``."""
        inner = self.sign.join(operands)
        return f"{self.func}({inner})" if self.func else inner


JOINS: dict[str, Join] = {
    "add": Join("add", "added", "add", "Add", " + "),
    "subtract": Join("subtract", "subtracted", "sub", "Subtract", " − "),
    "multiply": Join("multiply", "multiplied", "mul", "Multiply", " · "),
    "average": Join("average", "averaged", "avg", "Average", func="avg"),
    "maximum": Join("maximum", "compared (maximum)", "max", "Maximum", func="max"),
    "minimum": Join("minimum", "compared (minimum)", "min", "Minimum", func="min"),
    "concat": Join("concat", "concatenated", "cat", "Concatenate", func="cat", elementwise=False),
}
JOIN_SIGNS = {name: op.sign for name, op in JOINS.items()}


class Graph(Block):
    """Named paths run in the order written, each on the block's input or on the output of
    an earlier path (``from``); the outputs of the paths ``output`` names (by default those no
    other path reads) are joined as :data:`JOINS` says: added, subtracted (the first minus the
    others), multiplied, averaged, or their maximum or minimum, element-wise, broadcast as torch
    broadcasts (each dimension equal, or 1 in one of them), or concatenated along the channels
    (every other dimension equal). LR-ASPP's ``low_classifier(low) + high_classifier(x)``."""

    type: Literal["graph"]
    join: Literal["add", "subtract", "multiply", "average", "maximum", "minimum", "concat"]
    routes: list[GraphPath] = Field(alias="paths", min_length=1)  # paths() is the contract
    PART_LISTS: ClassVar[dict[str, tuple[str, ...]]] = {"GraphPath": ("layers",)}
    output: list[Text] | None = Field(default=None, min_length=1)

    @model_validator(mode="after")
    def _names(self) -> Self:
        """Each path's name once, each ``from`` an earlier path's, each output a path's."""
        errors: list[InitErrorDetails] = []

        def refuse(loc: tuple[str | int, ...], value: Any, message: str) -> None:
            error = PydanticCustomError("convcalc", "{message}", {"message": message})
            errors.append(InitErrorDetails(type=error, loc=loc, input=value))

        seen: dict[str, int] = {}
        for i, path in enumerate(self.routes):
            if not path.name:
                refuse(("paths", i, "name"), path.name, "a path's name must not be empty")
            elif path.name in seen:
                refuse(
                    ("paths", i, "name"),
                    path.name,
                    f"the name {shown(path.name)!r} is already paths[{seen[path.name]}]'s: "
                    "each path needs its own",
                )
            seen.setdefault(path.name, i)
            if path.source is None:
                continue
            where, what = ("paths", i, "from"), f"from {shown(path.source)!r}"
            earlier = ", ".join(repr(shown(p.name)) for p in self.routes[:i]) or "none"
            later = [j for j, p in enumerate(self.routes) if p.name == path.source and j >= i]
            if path.source == path.name:
                refuse(
                    where,
                    path.source,
                    f"{what} names this path itself: a path cannot "
                    f"read its own output (earlier paths: {earlier})",
                )
            elif path.source not in seen or seen[path.source] >= i:
                also = f" (a later path, paths[{later[0]}])" if later else ""
                refuse(
                    where,
                    path.source,
                    f"{what} names no earlier path{also}: a path reads "
                    f"the block's input or an earlier path's output (earlier paths: {earlier})",
                )
        for k, name in enumerate(self.output or ()):
            if name not in seen:
                names = ", ".join(repr(shown(p.name)) for p in self.routes)
                refuse(("output", k), name, f"{shown(name)!r} names no path (paths: {names})")
        if errors:
            raise ValidationError.from_exception_data("graph", errors)
        return self

    def lists(self) -> list[tuple[tuple[str | int, ...], list[Any]]]:
        return [(("paths", i, "layers"), path.layers) for i, path in enumerate(self.routes)]

    def rebuild(self, lists: list[list[Any]]) -> "Block":
        paths = [
            p.model_copy(update={"layers": ls}) for p, ls in zip(self.routes, lists, strict=True)
        ]
        return self.model_copy(update={"routes": paths})

    def reads(self, index: int) -> int | None:
        source = self.routes[index].source
        if source is None:
            return None
        return next(i for i, path in enumerate(self.routes) if path.name == source)

    def joined(self) -> tuple[int, ...] | None:
        index = {path.name: i for i, path in enumerate(self.routes)}
        if self.output is not None:
            return tuple(index[name] for name in self.output)
        read = {path.source for path in self.routes}
        return tuple(i for i, path in enumerate(self.routes) if path.name not in read)

    def list_name(self, keys: tuple[str | int, ...]) -> str:
        index = keys[1]
        assert isinstance(index, int)  # ("paths", i, "layers")
        path = self.routes[index]
        return path.name if path.source is None else f"{path.name} ← {path.source}"

    def path_input(
        self, shape: Shape, keys: tuple[str | int, ...], outputs: Sequence[Shape] = ()
    ) -> Shape:
        """The block's input, or the output of the earlier path the path reads."""
        index = keys[1]
        assert isinstance(index, int)  # ("paths", i, "layers")
        source = self.reads(index)
        return shape if source is None else outputs[source]

    def _joined(self, outputs: list[tuple[Path, Shape]]) -> list[tuple[str, Shape]]:
        """The joined paths' names and output shapes, in the order of ``output``."""
        return [(self.routes[i].name, outputs[i][1]) for i in self.joined() or ()]

    def merge(self, shape: Shape, outputs: list[tuple[Path, Shape]]) -> Shape:
        """The joined outputs combined element-wise (an op of :data:`JOINS`), broadcast (each
        dimension equal, or 1 in one of them: the other's size), or concatenated: Σ channels,
        the rest equal."""
        joined = self._joined(outputs)
        if not joined:
            raise Refusal("no path's output is left to join: name the joined paths", "output")
        out = joined[0][1]
        for k, (name, given) in enumerate(joined[1:], 1):
            if not JOINS[self.join].elementwise:
                if len(given) != len(out) or given[1:] != out[1:]:
                    raise Refusal(
                        f"{self._clash(joined[:k], out, name, given)}: joined along the "
                        "channels, every other dimension must be equal"
                    )
                out = (out[0] + given[0], *out[1:])
            elif given != out:  # equal shapes join as they are
                clash = self._clash(joined[:k], out, name, given)
                out = self.broadcast(out, given, clash, self._verb())
        return out

    def _clash(self, before: list[tuple[str, Shape]], out: Shape, name: str, given: Shape) -> str:
        """``'a' and 'b' give 4×6×6 but 'c' gives 3×6×6``: the paths joined so far (the first
        three named, the rest counted, so a join of n paths costs O(n)) against the next."""
        which = " and ".join(repr(shown(n)) for n, _ in before[:3])
        if len(before) > 3:
            which += f" and {len(before) - 3:,} more"
        verb = "gives" if len(before) == 1 else "give"
        return f"{which} {verb} {self.shown(out)} but {shown(name)!r} gives {self.shown(given)}"

    def _verb(self) -> str:
        return JOINS[self.join].verb

    def merge_derived(self, shape: Shape, outputs: list[tuple[Path, Shape]]) -> Derived | None:
        joined = self._joined(outputs)
        out = self.merge(shape, outputs)
        each = ", ".join(f"{name} {self.shown(given)}" for name, given in joined)
        if not JOINS[self.join].elementwise:
            expr = total([given[0] for _, given in joined])
            return Derived(expr, f"the channels of {each}, joined", "C")
        note = f"{each}: {self._verb()} element-wise, broadcast to {self.shown(out)}"
        return Derived(_number(self.shown_shape(out)), note, "values")

    def describe(self, shape: Shape) -> str:
        names = [shown(self.routes[i].name, 20) for i in self.joined() or ()]
        return self.call_label() or f"graph {JOINS[self.join].of(names)}"
