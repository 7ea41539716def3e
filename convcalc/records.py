"""The records every view of a network is computed from: what one layer does to one input
(:class:`Step`), and the report of a whole network (:class:`Report`, one :class:`Entry` per
layer or block, as :func:`convcalc.analysis.analyse` builds it).

A layer's ``forward(shape)`` returns a :class:`Step`: the output shape, the shapes of its
parameter tensors, and for each spatial dimension the :class:`Window` through which the output
looks at the input. Parameter counts (here), multiply-adds (:mod:`convcalc.views.costs`) and
receptive fields (:mod:`convcalc.views.receptive`) are functions over these records, written once,
not methods repeated on every layer.

Shapes never include the batch dimension: ``(channels, *spatial)`` or ``(features,)``.
This module imports nothing at load, so that any command may use it cheaply; the report's
``to_dict``, ``total_mult_adds`` and ``_repr_markdown_`` are one-line delegations to the views
and renderers, imported when called.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NamedTuple

if TYPE_CHECKING:
    from convcalc.layers.base import Layer

Shape = tuple[int, ...]
Tensors = dict[str, Shape]


class Applied(NamedTuple):
    """A size rule of :mod:`convcalc.arith` applied to one dimension: the rule and its
    arguments, from which ``--explain`` derives the size (``arith.derive``), and the
    dimension's name where counting from the end as C, H, W would misname it (``E`` of a
    token sequence [L, E], ``C`` of a channels-last [H, W, C])."""

    rule: Callable[..., int]
    args: tuple[Any, ...]
    dim: str = ""


@dataclass(frozen=True)
class Window:
    """How one spatial dimension of the output is computed from the input.

    ``kernel`` is the effective span d·(k − 1) + 1 of the window on the input, ``stride`` how
    far it moves per output position, ``pad_left``/``pad_right`` the padding on either side.
    A transposed window (conv_transpose, upsample) moves ``stride`` output positions per input
    position instead: its kernel and padding are on the output grid.
    """

    kernel: int = 1
    stride: int = 1
    pad_left: int = 0
    pad_right: int = 0
    transposed: bool = False


IDENTITY = Window()


@dataclass(frozen=True)
class Step:
    """One layer applied to one input shape.

    ``windows`` has one :class:`Window` per spatial dimension of the input, or is ``None`` when
    every output value depends on the whole input (linear, flatten, adaptive and global pools).
    ``rules`` has the size rule applied to each of the shape's last dimensions, where one was
    (conv, pools, upsample: the spatial ones; pad: those it pads, the channels too if it pads
    them; linear, patch merging, the class token: theirs); layers that keep the shape or
    rearrange it have none. ``note`` says in words what the layer does with the values where
    the rules do not show it (attention mixes positions, a norm takes statistics, a select
    removes a dimension); ``--explain`` prints it.
    """

    output: Shape
    tensors: Tensors
    windows: tuple[Window, ...] | None
    rules: tuple[Applied, ...] = ()
    note: str = ""
    # the tensors among ``tensors`` that never train: Keras counts BatchNormalization's moving
    # mean and variance as (non-trainable) parameters, PyTorch keeps them as buffers
    untrained: tuple[str, ...] = ()

    @property
    def params(self) -> int:
        """The number of parameters: the sum of the tensors' sizes."""
        return sum(math.prod(shape) for shape in self.tensors.values())

    @property
    def untrained_params(self) -> int:
        """The parameters that never train: the sum of the ``untrained`` tensors' sizes."""
        return sum(math.prod(self.tensors[name]) for name in self.untrained)


@dataclass(frozen=True)
class Layout:
    """How a layer that moves values (permute, flatten, reshape, a window partition) builds
    its output shape from its input's, size by size: output dimension j is the product of the
    input's dimensions ``sources[j]``, each first divided by its entry of ``divisors`` (which
    must divide it; 1 where empty), or, where ``sources[j]`` is empty, the size ``sizes[j]``
    the layer sets. ``same_count``: the output holds exactly the input's values, and PyTorch
    refuses an input whose count differs (a reshape to written sizes). The input-size solver
    reads it (:mod:`convcalc.solve.inputs`)."""

    sources: tuple[tuple[int, ...], ...]
    sizes: tuple[int | None, ...] = ()
    divisors: tuple[int, ...] = ()
    same_count: bool = False


def shape_text(shape: Shape) -> str:
    """(128, 11, 11) → ``128×11×11``."""
    return "×".join(str(n) for n in shape)


@dataclass(frozen=True)
class Dialect:
    """How a report read from another framework's spec is shown in that framework's terms
    (:mod:`convcalc.spec.keras`): the records hold every shape channels-first, as PyTorch's; a
    ``channels_last`` dialect shows (C, *spatial) as (*spatial, C). ``classes`` gives the
    class written for each layer, by where it is written (an :class:`Entry`'s ``source``), and
    ``names`` the names written, ``inline`` the Sequentials whose layers Keras makes in
    their parent model (:func:`convcalc.spec.keras.inlined`)."""

    framework: str
    channels_last: bool
    classes: dict[tuple[str | int, ...], str]
    names: dict[tuple[str | int, ...], str]
    inline: frozenset[tuple[str | int, ...]] = frozenset()

    def shape(self, shape: Shape) -> Shape:
        """A records' shape as the framework writes it: (C, H, W) → (H, W, C) channels-last."""
        if self.channels_last and len(shape) > 1:
            return (*shape[1:], shape[0])
        return shape

    def shown(self, shape: Shape) -> str:
        """:func:`shape_text` of the framework's shape: ``61×61×32``."""
        return shape_text(self.shape(shape))


def elementwise(shape: Shape, tensors: Tensors | None = None, note: str = "") -> Step:
    """A layer that keeps the shape and looks at each position alone (activations, norms);
    ``note`` says what it does where that is more than a function of each value alone."""
    return Step(shape, tensors or {}, (IDENTITY,) * max(0, len(shape) - 1), note=note)


# --- the report: one entry per layer or block, as :func:`convcalc.analysis.analyse` builds it

Keys = tuple[str | int, ...]


@dataclass(slots=True)  # not frozen: a frozen dataclass is slow to build, and there are many
class Entry:
    """One layer or block of the report: where it is, what it does to the shape, its parameters.

    ``layer`` is the spec's layer or block. A leaf has its :class:`Step`; a block has
    ``children``, one ``(keys, entries)`` pair per list it runs (``("body",)``,
    ``("branches", 1)``, ...), and the total of their parameters. ``source`` is where the
    layer is written in the spec file (a repeat's later repetitions are its written layers).
    """

    index: int
    path: str
    type: str
    name: str | None
    description: str
    input_shape: Shape
    output_shape: Shape
    depth: int
    layer: Layer
    step: Step | None = None
    children: tuple[tuple[Keys, tuple[Entry, ...]], ...] = ()
    params: int = 0
    source: Keys = ()

    @property
    def tensors(self) -> Tensors:
        return self.step.tensors if self.step is not None else {}

    @property
    def is_block(self) -> bool:
        return self.step is None

    @property
    def paths(self) -> int:
        """How many paths join at this block (a scale's input is one; a graph's, those it
        joins): 0 for a leaf."""
        joined = self.layer.joined() if self.children else None  # type: ignore[attr-defined]
        count = len(self.children) if joined is None else len(joined)
        return count + bool(getattr(self.layer, "JOINS_INPUT", False))

    @property
    def label(self) -> str:
        """The description, after the layer's name if it has one."""
        return f"{self.name}: {self.description}" if self.name else self.description

    def walk(self) -> Iterator[Entry]:
        """This entry and everything inside it, in execution order."""
        return walk((self,))

    def to_dict(self) -> dict[str, Any]:
        """The JSON form: children in ``layers``/``body``/``shortcut``/``branches``."""
        from convcalc.views.summary import entry_dicts  # a view: the records never import it

        return entry_dicts((self,))[0]


@dataclass(frozen=True)
class Costing:
    """How to count costs: ``batch`` samples of ``dtype`` values, multiply-adds under a
    ``convention`` (:mod:`convcalc.views.conventions`): convcalc's own by default, every
    multiply-add of every matrix product (PyTorch's FlopCounterMode ÷ 2), or a tool's."""

    batch: int = 1
    dtype: str = "float32"
    convention: str = "convcalc"


@dataclass(frozen=True)
class Report:
    """The analysis of a whole spec: what ``convcalc shape`` renders."""

    name: str
    input_shape: Shape
    output_shape: Shape
    layers: tuple[Entry, ...]
    dialect: Dialect | None = None  # read from a Keras spec: shown in Keras' terms

    def shown(self, shape: Shape) -> str:
        """A shape as the spec's framework writes it (``61×61×32`` in Keras, channels-last)."""
        return self.dialect.shown(shape) if self.dialect is not None else shape_text(shape)

    @property
    def output_size(self) -> int:
        return math.prod(self.output_shape)

    @property
    def total_params(self) -> int:
        return sum(entry.params for entry in self.layers)

    @property
    def trainable_params(self) -> int:
        """The parameters that train: those of leaves neither written ``trainable: false``
        nor inside a block so written."""
        total, stack = 0, [entry for entry in self.layers if entry.layer.trainable]
        while stack:
            entry = stack.pop()
            if entry.step is not None:
                total += entry.params - entry.step.untrained_params
            stack.extend(c for _, cs in entry.children for c in cs if c.layer.trainable)
        return total

    def walk(self) -> Iterator[Entry]:
        """Every entry, blocks and leaves, in execution order (a block before its children)."""
        return walk(self.layers)

    def total_mult_adds(self, batch: int = 1, convention: str = "convcalc") -> int:
        """Multiply-adds of the whole network under a convention (:mod:`convcalc.views.costs`)."""
        from convcalc.views.costs import rule

        count = rule(convention)
        return sum(count(entry, batch) for entry in self.leaves())

    def leaves(self) -> Iterator[Entry]:
        """The leaf layers in execution order: residual body before shortcut, branches in order."""
        return (entry for entry in self.walk() if not entry.is_block)

    def to_dict(self, costing: Costing | None = None) -> dict[str, Any]:
        """The JSON form: totals and memory, then every entry with its multiply-adds and
        receptive field; ``costing`` says how to count (default: one float32 sample,
        convcalc's multiply-adds). A view: :func:`convcalc.views.summary.report_dict`."""
        from convcalc.views.summary import report_dict

        return report_dict(self, costing or Costing())

    def _repr_markdown_(self) -> str:
        from convcalc.render.text import markdown

        return markdown(self)


def walk(entries: tuple[Entry, ...]) -> Iterator[Entry]:
    stack = list(reversed(entries))
    while stack:
        entry = stack.pop()
        yield entry
        for _, children in reversed(entry.children):
            stack.extend(reversed(children))
