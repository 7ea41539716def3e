"""The base of every leaf layer (:class:`Layer`) and the helpers the families share.

A layer is one class: its fields (PyTorch's names and defaults), ``forward`` (a
:class:`~convcalc.records.Step` for an input shape: output shape, parameter tensors and the
window of each spatial dimension, using :mod:`convcalc.arith` for every size rule) and
``describe`` (a compact label for tables). Adding a layer type: the checklist in
docs/architecture.md ("Adding a layer type").

Shapes never include the batch dimension: ``(channels, *spatial)`` or ``(features,)``.
"""

import re
from functools import cache
from typing import Any, ClassVar, Self

from pydantic import (
    BaseModel,
    ConfigDict,
    PrivateAttr,
    TypeAdapter,
    ValidationError,
    ValidatorFunctionWrapHandler,
    model_validator,
)
from pydantic_core import InitErrorDetails, PydanticCustomError

from convcalc.arith import Derived, Refusal, derive
from convcalc.expr import Expr
from convcalc.layers.fields import (
    Device,
    Flag,
    PositiveInt,
    Text,
    TorchDtype,
)
from convcalc.records import Applied, Layout, Shape, Step, Tensors, elementwise, shape_text
from convcalc.spec.document import yaml_text


def per_dim(
    value: int | tuple[Any, ...], rank: int, field: str, *, expand: bool = False
) -> tuple[Any, ...]:
    """An int for every dimension, or a list checked against the input's spatial rank; with
    ``expand``, a one-value list stands for every dimension, as PyTorch reads strides,
    paddings and dilations (and a pool's kernel)."""
    if isinstance(value, tuple):
        if expand and len(value) == 1:
            return value * rank
        if len(value) != rank:
            raise Refusal(
                f"gives {len(value)} value{'s' if len(value) != 1 else ''} but the input has "
                f"{rank} spatial "
                f"dimension{'s' if rank != 1 else ''}",
                field,
            )
        return value
    return (value,) * rank


def listed(values: tuple[int, ...]) -> str:
    """Sizes in a message, ``[3, 8, 8]``, cut with ``…`` when a list written in the spec (or
    the shape it made) is long."""
    return yaml_text(list(values), 200)


def split_spatial(shape: Shape, kind: str) -> tuple[int, Shape]:
    """(channels, spatial) for layers that need 1 to 3 spatial dimensions."""
    if not 2 <= len(shape) <= 4:
        raise Refusal(
            f"{kind} needs an input [channels, *spatial] with 1 to 3 spatial dimensions, "
            f"but gets {listed(shape)}"
        )
    return shape[0], shape[1:]


def each_dim(rule: Any, *columns: tuple[Any, ...]) -> Shape:
    """Apply a per-dimension rule, naming the dimension (1-based) when it refuses."""
    out = []
    for i, args in enumerate(zip(*columns, strict=True)):
        try:
            out.append(rule(*args))
        except Refusal as exc:
            suffix = f" (dimension {i + 1})" if len(columns[0]) > 1 else ""
            raise Refusal(exc.message + suffix, exc.field) from None
    return tuple(out)


def sized(rule: Any, *columns: tuple[Any, ...]) -> tuple[Shape, tuple[Applied, ...]]:
    """:func:`each_dim`'s sizes, and the rule applied in each dimension (for explanations)."""
    out = each_dim(rule, *columns)
    return out, tuple(Applied(rule, args) for args in zip(*columns, strict=True))


def label(value: tuple[Any, ...], *, every: bool = False) -> str:
    """``2`` when every dimension agrees, else ``2×1``; ``every`` always lists all (kernels)."""
    if not every and len(set(value)) == 1:
        value = value[:1]
    return "×".join("·" if v is None else str(v) for v in value)


# --- the layers ----------------------------------------------------------------------------


class Layer(BaseModel):
    """What every layer has: a ``type``, an optional ``name``, and a rule for shapes.

    The default rule is an element-wise layer: same shape, no parameters, each output position
    looking at its own input position.
    """

    # each layer type builds its validator the first time a spec uses it (spec.validate)
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)
    type: str
    name: Text | None = None
    # the PyTorch code calls it as a function (F.relu, torch.flatten), not as a module: the
    # same arithmetic, but tools that count modules through hooks never see it
    functional: Flag = False
    # false: its parameters (a block's, all those inside it) are frozen, requires_grad False
    trainable: Flag = True
    # PyTorch's constructor arguments that convcalc reads from the input (a conv's
    # in_channels): a layer copied from PyTorch may write them, and each must then be the size
    # built_sizes reads from the input it is given (check_written)
    from_input: ClassVar[tuple[str, ...]] = ()
    _written: tuple[tuple[str, int], ...] = PrivateAttr(default=())
    # a block a dialect built for one call of its framework (convcalc.spec.keras: an Add, a
    # SeparableConv2D): the call as written, and whether its shapes are channels-last
    _call: tuple[str, bool] | None = PrivateAttr(default=None)

    @model_validator(mode="wrap")
    @classmethod
    def _read_written(cls, data: Any, handler: ValidatorFunctionWrapHandler) -> Any:
        """Take the sizes of :attr:`from_input` written in the spec out of ``data``: the
        layer is validated without them and keeps them (positive integers) to check."""
        if not cls.from_input or not isinstance(data, dict):
            return handler(data)
        names = [name for name in cls.from_input if name in data]
        if not names:
            return handler(data)
        layer = handler({k: v for k, v in data.items() if k not in names})
        written = []
        for name in names:
            try:
                written.append((name, _positive().validate_python(data[name])))
            except ValidationError as exc:
                error = PydanticCustomError("convcalc", "{message}", exc.errors()[0]["ctx"])
                detail = InitErrorDetails(type=error, loc=(name,), input=data[name])
                raise ValidationError.from_exception_data(cls.__name__, [detail]) from None
        layer._written = tuple(written)
        return layer

    def written_sizes(self) -> tuple[tuple[str, int], ...]:
        """The sizes of :attr:`from_input` the spec wrote, as (name, size)."""
        return self._written

    def check_written(self, shape: Shape) -> None:
        """Refuse ``shape`` where a size written in the spec (``in_channels: 3``) is not the
        one the layer reads from it (:meth:`built_sizes`): PyTorch's module, built with that
        size, refuses this input. Sizes built_sizes does not read are free (PyTorch's too)."""
        if not self._written:
            return
        built = dict(self.built_sizes(shape))
        for name, value in self._written:
            if name in built and built[name] != value:
                given = f"{built[name]:,} {_GIVEN.get(name, 'features')}"
                hint = ""
                if name == "in_features" and len(shape) > 1:
                    hint = f" (its input {listed(shape)}: it acts on the last dimension)"
                raise Refusal(f"{name} {value:,}, but the layer is given {given}{hint}", name)

    def forward(self, shape: Shape) -> Step:
        """What the layer does to ``shape``; :class:`Refusal` where PyTorch would refuse it."""
        return elementwise(shape)

    def describe(self, shape: Shape) -> str:
        """A compact label for tables, e.g. ``conv 8×8 /2``; a dialect's call as written."""
        return self.call_label() or self.type

    def as_call(self, label: str, channels_last: bool) -> Self:
        """This layer as one call of a dialect's framework: labelled ``label`` (``Add()``),
        its shapes shown channels-last or not (:meth:`shown`)."""
        layer = self.model_copy()
        layer._call = (label, channels_last)
        return layer

    def call_label(self) -> str | None:
        """The dialect's call this layer was built for (:meth:`as_call`), or None."""
        return self._call[0] if self._call is not None else None

    def shown_shape(self, shape: Shape) -> Shape:
        """A shape in the order the layer's framework writes it: PyTorch's (C, *spatial), a
        channels-last dialect's (*spatial, C)."""
        if self._call is not None and self._call[1] and len(shape) > 1:
            return (*shape[1:], shape[0])
        return shape

    def shown(self, shape: Shape) -> str:
        """:func:`shape_text` of :meth:`shown_shape`: ``15×15×16`` for a Keras (16, 15, 15)."""
        return shape_text(self.shown_shape(shape))

    def word(self, name: str) -> str:
        """A field's name, or a formula's symbol, in the words of the layer's framework:
        PyTorch's own (``name``); a Keras layer says ``filters`` for ``out_channels``."""
        return name

    def shown_tensors(self, tensors: Tensors) -> Tensors:
        """The parameter tensors of a step as the layer's framework names and shapes them
        (PyTorch's: as recorded); the same sizes, so the same count."""
        return tensors

    def derived(self, applied: Applied, name: str) -> Derived:
        """The derivation of a size rule the step applied (:func:`convcalc.arith.derive`),
        its symbols and note in the layer's words (:meth:`word`)."""
        return worded(derive(applied.rule, name, applied.args), self.word)

    def built_sizes(self, shape: Shape) -> tuple[tuple[str, int], ...]:
        """The sizes PyTorch's module takes from its input ``shape`` when it is constructed
        and checks against every input it is given after: a conv's in_channels, say (the
        solver's declared-network semantics read them). Sizes written in the spec are the
        layer's own rule."""
        return ()

    def layout(self, shape: Shape) -> Layout | None:
        """How the output's dimensions are made of ``shape``'s, for a layer that moves or
        merges dimensions (:class:`~convcalc.records.Layout`); None for a layer whose output
        dimension i is its input's i (through the step's size rule, where it has one)."""
        return None


# a formula's symbol in a note: a single letter or a field's name, not inside a word
_WORD = re.compile(r"(?<![\w'])[a-z][a-z_]*(?![\w'(])")


def worded(found: Derived, word: Any) -> Derived:
    """A derivation with each symbol's name, in its expression and its note, ``word(name)``
    (a layer's :meth:`Layer.word`): ``s`` → ``strides`` in Keras' words."""
    if word("s") == "s" and word("out_channels") == "out_channels":  # PyTorch's words
        return found
    note = _WORD.sub(lambda m: word(m.group()), found.note)
    return Derived(_renamed(found.expr, word), note, found.quantity)


def _renamed(expr: Expr, word: Any) -> Expr:
    """``expr`` with each symbol's name ``word(name)`` (the LaTeX form follows it)."""
    if expr.op == "sym":
        name = word(expr.name)
        if name == expr.name:
            return expr
        tex = "\\mathit{" + name.replace("_", "\\_") + "}"
        return Expr("sym", value=expr.value, name=name, tex=tex)
    if not expr.args:
        return expr
    return Expr(expr.op, tuple(_renamed(a, word) for a in expr.args), expr.value, expr.name)


# PyTorch's argument names and the names Keras gives the same arguments: the one table the
# Keras dialect reads (convcalc.spec.keras: a PyTorch name written in a Keras spec, a refusal's
# field) and its layers speak (KerasWords)
KERAS_ARGUMENTS: dict[str, str] = {
    "out_channels": "filters",
    "out_features": "units",
    "bias": "use_bias",
    "stride": "strides",
    "dilation": "dilation_rate",
    "eps": "epsilon",
    "p": "rate",
    "scale_factor": "size",
}


class KerasWords:
    """A layer of the Keras dialect (:mod:`convcalc.spec.keras`) in Keras' words: its fields
    and its formulas' symbols by Keras' argument names (:data:`WORDS`: the arguments of
    :data:`KERAS_ARGUMENTS`, but ``p``, a formula's padding, and the symbols k, s, d), its
    label as Keras writes the call (:func:`keras_call`)."""

    WORDS: ClassVar[dict[str, str]] = {
        **{name: keras for name, keras in KERAS_ARGUMENTS.items() if name != "p"},
        "k": "kernel_size",
        "s": "strides",
        "d": "dilation_rate",
    }

    def word(self, name: str) -> str:
        return self.WORDS.get(name, name)


def keras_call(cls: str, *args: Any, **kwargs: Any) -> str:
    """A Keras layer as its call is written: ``Conv2D(8, 3, strides=2, padding="same")``; a
    tuple of equal sizes as the one size, a string in double quotes."""

    def text(value: Any) -> str:
        if isinstance(value, tuple):
            return str(value[0]) if len(set(value)) == 1 else f"({', '.join(map(str, value))})"
        return f'"{value}"' if isinstance(value, str) else str(value)

    parts = [text(a) for a in args] + [f"{k}={text(v)}" for k, v in kwargs.items()]
    return f"{cls}({', '.join(parts)})"


# what the input gives a layer, for each size of from_input (features, by default)
_GIVEN = {"in_channels": "channels", "num_features": "channels", "num_channels": "channels"}


@cache
def _positive() -> TypeAdapter[int]:
    """The validator of a written size (built once, when a spec first writes one)."""
    return TypeAdapter(PositiveInt)


class WithParameters(Layer):
    """Layers with parameter tensors also take PyTorch's ``device`` and ``dtype`` (ignored)."""

    device: Device | None = None
    dtype: TorchDtype | None = None


def dim_index(value: int, rank: int, field: str, batch: str = "batch excluded") -> int:
    """A dimension index over ``rank`` dimensions, negative ones counted from the end."""
    if not -rank <= value < rank:
        raise Refusal(
            f"{value} is out of range for an input of {rank} dimensions "
            f"(from {-rank} to {rank - 1}, {batch})",
            field,
        )
    return value % rank
