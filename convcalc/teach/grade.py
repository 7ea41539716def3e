"""The grader: a spec, questions and a student's answers in one YAML file, marked.

An answers file::

    student: Alice Martin           # optional; the file's name otherwise
    convention: torchinfo           # optional: whose multiply-adds are right (default: convcalc's)
    spec: hw3-q3                    # a bundled spec, a file below this file's folder, or a mapping
    answers:
      - {question: 3.1a, at: "layers[0]", output_shape: [32, 61, 61]}
      - {question: 3.1b, at: "layers[2]", weights: 65536}
      - {question: 3.2a, solve: {in: 64, out: 4}, solutions: [[49, 5]]}

Each answer claims one value — ``output_shape``, ``output_size``, ``params``, ``weights``,
``mult_adds``, ``receptive_field`` at a layer (``at``: a path or a layer's name; the whole
network without it), ``total_params``, ``total_mult_adds``, or ``solutions`` of a single-layer
``solve`` question (``complete: true`` when the whole set is asked for: partial credit; with
``framework: keras`` in it, Keras' rules and names: ``strides``, ``dilation_rate``, ``padding:
valid`` or ``same``, on any spec, as a Keras spec's solve questions may ask PyTorch's). Every
correct value comes from convcalc's own computation (multiply-adds under ``convention:``, by
default :data:`~convcalc.teach.mistakes.DEFAULT_CONVENTION`, ``convcalc shape``'s); a wrong one is
named when it is what one of :mod:`convcalc.teach.mistakes` gives (another tool's convention
among them), and shown with its worked explanation. On a Keras spec each count is what Keras
means by it, worked out in Keras' names and shapes (:func:`named.weights_of`): ``params`` the
layer's ``count_params()``, ``weights`` its ``layer.weights`` but the tensors Keras names
``bias``, ``trainable_params`` and ``non_trainable_params`` its ``trainable_weights`` and
``non_trainable_weights``.

Answers files are written by students, so everything in them is checked before it is used: a
``spec:`` path is read under :func:`convcalc.paths.resolve` (a bundled name, or a regular file
below the answers file's folder or the instructor's ``specs_dir``), every number is an integer
within 2⁶³ − 1 where one is meant, booleans are booleans, labels are kept as written (``3.10``
is not ``3.1``), and a value quoted back in a message is cut (:func:`convcalc.errors.shown`).
An invalid file is a :class:`Result` with its ``error``, so it keeps its row in every
gradebook; the writers escape each user text for their medium (:mod:`convcalc.escape`).
"""

from __future__ import annotations

import functools
import itertools
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from convcalc import arith
from convcalc.analysis import output_shape
from convcalc.arith import LIMIT
from convcalc.errors import ConvcalcError, shown
from convcalc.records import Applied, Entry, Report, shape_text
from convcalc.spec.document import Document, written
from convcalc.teach import mistakes as named
from convcalc.teach.answers import (
    answer_sources,
    convention_of,
    failing,
    question_label,
    read_answers,
    spec_report,
    student_of,
)
from convcalc.views.explain import Section, explain, render_lines

CLAIMS = (
    "output_shape",
    "output_size",
    "params",
    "weights",
    "mult_adds",
    "receptive_field",
    "total_params",
    "total_mult_adds",
    "solutions",
    "trainable_params",
    "non_trainable_params",
)


KEYS = {"question", "at", "solve", "complete", *CLAIMS}


SOLVE_KEYS = ("in", "out", "layer", "kernel_size", "stride", "padding", "dilation", "ceil_mode",
              "framework", "strides", "dilation_rate")  # fmt: skip
TORCH_SOLVE_KEYS = SOLVE_KEYS[:9]
KERAS_SOLVE_KEYS = ("in", "out", "layer", "kernel_size", "strides", "padding", "dilation_rate",
                    "framework")  # fmt: skip
KERAS_WORDS = {"stride": "strides", "dilation": "dilation_rate"}  # PyTorch's name → Keras'


@dataclass(frozen=True)
class Mark:
    """One answer marked: what was claimed, what is right, the credit, the mistake's name."""

    question: str
    what: str
    claimed: str
    correct: str
    credit: float
    mistake: str = ""
    explanation: tuple[str, ...] = ()
    carried: bool = False  # worked right from the student's own wrong answer before it

    @property
    def right(self) -> bool:
        return self.credit == 1.0


@dataclass(frozen=True)
class Result:
    """One student's file, marked; or, with ``error``, a file that could not be marked (the
    located reason), which keeps its row in every gradebook."""

    student: str
    file: str
    marks: tuple[Mark, ...] = field(default=())
    error: str = ""

    @property
    def score(self) -> float:
        return sum(m.credit for m in self.marks)

    @property
    def all_right(self) -> bool:
        return not self.error and all(m.right for m in self.marks)


class Refused(ConvcalcError):
    """A value of one answer refused, with where below the answer it was written."""

    def __init__(self, message: str, field_name: str, *under: str) -> None:
        super().__init__(message)
        self.field_name = field_name
        self.under = list(under)


def grade_all(sources: Sequence[str], specs_dir: str | Path | None = None) -> list[Result]:
    """Every answers file of ``sources`` (files, or folders of ``*.yaml`` files) marked, one
    :class:`Result` each, in order: an invalid file is a result with its error, never a
    missing row, and never stops the others' marking. A file found in a folder is read only if
    it is a regular file below that folder (a FIFO or a link leading out is that file's error);
    ``specs_dir``: see :func:`grade`."""
    return [
        grade_file(file, specs_dir, found_in=folder) for file, folder in answer_sources(sources)
    ]


def grade_file(
    path: str, specs_dir: str | Path | None = None, *, found_in: Path | None = None
) -> Result:
    """:func:`grade`, with an invalid file's error (located) in the result instead of raised;
    ``found_in``: the folder the file was listed from, whose policy it is read under."""
    student = Path(path).stem
    try:
        doc = read_answers(path, found_in)
        student = student_of(doc, failing(doc))
        return _grade(doc, specs_dir)
    except ConvcalcError as exc:
        located = str(exc) if getattr(exc, "file", None) else f"{path}: {exc}"
        return Result(student, path, error=located)


def grade(path: str, specs_dir: str | Path | None = None) -> Result:
    """Mark every answer of the file at ``path``; :class:`SpecError` if the file is invalid.

    A ``spec:`` path is read under the one path policy (:func:`convcalc.paths.resolve`): a
    bundled spec's name, or a regular file below ``specs_dir`` (default: the answers file's own
    folder); anything else is refused without a word about the target."""
    return _grade(read_answers(path, None), specs_dir)


def _grade(doc: Document, specs_dir: str | Path | None) -> Result:
    data, file = doc.data, doc.file
    fail = failing(doc)
    if not isinstance(data, dict):
        raise fail("an answers file is a mapping with spec: and answers:", [])
    unknown = sorted(set(data) - {"student", "convention", "spec", "answers"}, key=str)
    if unknown:
        raise fail(
            f"unknown key {quoted(str(unknown[0]))}: expected student, convention, spec, answers",
            [],
            None,
            [unknown[0]],
        )
    if "spec" not in data or "answers" not in data:
        raise fail("needs spec: (a bundled name, a path or a mapping) and answers: (a list)", [])
    answers = data["answers"]
    if not isinstance(answers, list) or not answers:
        raise fail("answers must be a non-empty list", ["answers"])
    student = student_of(doc, fail)
    folder = Path(file).parent if specs_dir is None else Path(specs_dir)
    convention = convention_of(doc, fail)
    report = spec_report(data["spec"], doc, folder, fail)
    marker = Marker(report, convention)
    marks = []
    for i, answer in enumerate(answers):
        keys: list[str | int] = ["answers", i]
        if not isinstance(answer, dict):
            raise fail(
                'an answer is a mapping such as {at: "layers[0]", output_shape: [32, 61, 61]}', keys
            )
        extra = set(answer) - KEYS
        if extra:
            bad = sorted(map(str, extra))[0]
            raise fail(f"unknown key: expected one of {', '.join(sorted(KEYS))}", keys, bad)
        claims = [c for c in CLAIMS if c in answer]
        if len(claims) != 1:
            raise fail(
                f"claims {len(claims)} values: give exactly one of {', '.join(CLAIMS)}", keys
            )
        question = question_label(doc, answer, i)
        if question is None:
            raise fail(
                "a question's label is text or a number such as 3.1a or 3.10, not "
                + quoted(answer["question"]),
                keys,
                "question",
                [*keys, "question"],
            )
        try:
            marks.append(marker.mark(answer, claims[0], question))
        except Refused as exc:
            at = [*keys, *exc.under]
            raise fail(str(exc), at, exc.field_name, [*at, exc.field_name]) from None
        except ConvcalcError as exc:
            raise fail(str(exc), keys, claims[0]) from None
    return Result(student, file, tuple(marks))


class Marker:
    """Marks answers against one report (and the reports of the spec-wide mistakes), its
    multiply-adds counted under ``convention``."""

    def __init__(self, report: Report, convention: str = named.DEFAULT_CONVENTION) -> None:
        self.report = report
        self.convention = convention
        self.entries = {e.path: e for e in report.walk()}
        self.named: dict[str, list[Entry]] = {}
        for e in report.walk():
            if e.name:
                self.named.setdefault(e.name, []).append(e)
        # the entry whose output is each entry's input: the one before it in its list; for
        # the first of a block's list (every list of a block starts from the block's input)
        # the one before the block. walk() gives a block before its layers.
        self.before: dict[str, str] = {}
        for entries in [report.layers] + [es for e in report.walk() for _, es in e.children]:
            for previous, entry in itertools.pairwise(entries):
                self.before[entry.path] = previous.path
        for block in report.walk():
            for _, entries in block.children:
                if entries and block.path in self.before:
                    self.before[entries[0].path] = self.before[block.path]
        self.claimed: dict[str, tuple[int, ...]] = {}  # output shapes the student gave
        dialect = report.dialect
        self.keras = dialect if dialect is not None and dialect.framework == "keras" else None
        self.labels: dict[str, str] = {}  # a Keras layer's "conv2d_1 (Conv2D)" by path
        if self.keras is not None:
            from convcalc.render.keras import keras_layers

            for name, kind, layer in keras_layers(report):
                if layer is None:  # a functional model's input_layer
                    continue
                self.labels[layer.path] = f"{name} ({kind})"
                found = self.named.setdefault(name, [])
                if layer not in found:
                    found.append(layer)

    def where(self, entry: Entry | None) -> str:
        """An answer's place as feedback names it: ``layers[3]``, a Keras layer's with its
        Keras name and class (``layers[3] conv2d_1 (Conv2D)``), ``network``."""
        if entry is None:
            return "network"
        label = self.labels.get(entry.path)
        return f"{entry.path} {label}" if label else entry.path

    def records_shape(self, shape: tuple[int, ...]) -> tuple[int, ...]:
        """A shape as the student wrote it, in the records' order: a channels-last Keras
        spec's (H, W, C) is (C, H, W)."""
        if self.keras is not None and self.keras.channels_last and len(shape) > 1:
            return (shape[-1], *shape[:-1])
        return shape

    def shape_text(self, shape: tuple[int, ...]) -> str:
        """A records' shape as the spec's framework writes it (Keras: 61×61×32)."""
        return self.keras.shown(shape) if self.keras is not None else shape_text(shape)

    def _carried(self, entry: Entry | None, shape: tuple[int, ...]) -> str:
        """A wrong shape that the layer gives from the student's own (wrong) shape before it:
        "error carried forward". A block is run whole on it."""
        if entry is None:
            return ""
        before = self.before.get(entry.path)
        if before is None or before not in self.claimed:
            return ""
        given = self.claimed[before]
        if given == self.entries[before].output_shape:
            return ""
        try:
            out = (
                entry.layer.forward(given).output
                if entry.step is not None
                else output_shape([entry.layer], given)
            )
        except (ArithmeticError, ValueError, ConvcalcError):  # refused for that input
            return ""
        return (
            f"carried over from your {before} ({shape_text(given)}), worked right"
            if out == shape
            else ""
        )

    def mark(self, answer: dict[str, Any], claim: str, question: str) -> Mark:
        if claim == "solutions":
            return mark_solutions(question, answer)
        entry = self.entry_at(answer.get("at"))
        what = f"{self.where(entry)} {claim}"
        value = answer[claim]
        if claim == "output_shape":
            right = entry.output_shape if entry else self.report.output_shape
            found = named.shape_mistakes(entry) if entry else []
            shape = self.records_shape(read_shape(value))
            if self.keras is not None and self.keras.channels_last:
                flipped = self.records_shape(tuple(right))
                if flipped != tuple(right):  # (C, H, W) written as Keras' (H, W, C)
                    found = [named.Mistake(CHANNELS_FIRST, flipped), *found]
            last = entry or self.report.layers[-1]  # the network's output is its last layer's
            carried = self._carried(last, shape)
            self.claimed[last.path] = shape
            return self._compare(
                question, what, shape, tuple(right), found, entry, self.shape_text, _sizes,
                carried,
            )  # fmt: skip
        if claim == "output_size":
            right_size = self._size(entry)
            size = read_count(value)
            given = self.claimed.get(entry.path if entry else self.report.layers[-1].path)
            carried = ""
            if given is not None and _prod(given) == size and size != right_size:
                carried = "carried over: the size of your own output shape"
            return self._compare(
                question, what, size, right_size, [], entry, _num, _values, carried
            )
        if claim in ("trainable_params", "non_trainable_params"):
            return self._trainable(question, what, read_count(value), entry, claim)
        if claim in ("params", "weights"):
            if entry is None:
                raise ConvcalcError(f"{claim} needs at: a layer (total_params is the network's)")
            target = entry
            right_params = target.params
            if self.keras is not None:  # Keras' words; its Param # holds the moving statistics
                found = named.keras_params_mistakes(target)
            else:
                found = named.params_mistakes(target)
            if claim == "weights":
                right_params = named.weights_count(target)  # all but the biases, in any words
                found = (
                    named.keras_weights_mistakes(target)
                    if self.keras is not None
                    else [named.Mistake(named.COUNTED_BIAS, target.params)]
                )
                mark = self._compare(
                    question, what, read_count(value), right_params, found, target, _num, _nothing
                )
                return mark if mark.right else replace(mark, explanation=_weights_working(target))
            return self._keras_param_count(
                self._compare(
                    question, what, read_count(value), right_params, found, target, _num, _params
                ),
                sum(w.size for w in named.weights_of(target) if w.trains),
            )
        if claim == "total_params":
            right_total = self.report.total_params
            found = named.total_params_mistakes(
                self.report, named.keras_params_mistakes if self.keras is not None else None
            )
            return self._keras_param_count(
                self._compare(
                    question, what, read_count(value), right_total, found, None, _num, _params
                ),
                self.report.trainable_params,
            )
        if claim in ("mult_adds", "total_mult_adds"):
            return self._mult_adds(
                question, what, read_count(value), entry if claim == "mult_adds" else None
            )
        return self._receptive(question, what, value, entry)

    def _keras_param_count(self, mark: Mark, trainable: int) -> Mark:
        """Keras' "Param #" counts the non-trainable parameters (BatchNormalization's moving
        mean and variance: 4·C of which 2·C train); on a Keras spec the trainable count alone
        is right too, as ``model.summary()``'s "Trainable params" gives it."""
        if self.keras is None or mark.right or not trainable or mark.claimed != _num(trainable):
            return mark
        return replace(mark, credit=1.0, carried=False, mistake="", explanation=())

    def _trainable(
        self, question: str, what: str, claimed: int, entry: Entry | None, claim: str
    ) -> Mark:
        """Keras' trainable or non-trainable parameters of a layer (or the network): Σ the
        sizes of ``layer.trainable_weights`` or ``layer.non_trainable_weights``. The
        non-trainable are the ``untrained`` tensors (BatchNormalization's moving mean and
        variance, 2·C) and every tensor of a layer written ``trainable: false`` (or inside a
        block so written); worked out tensor by tensor, in the spec's framework's words."""
        layers = [named.weights_of(e) for e in ([entry] if entry else self.report.layers)]
        weights = [w for found in layers for w in found]
        total = sum(w.size for w in weights)
        trainable = sum(w.size for w in weights if w.trains)
        untrained = total - trainable
        if claim == "trainable_params":
            right, found = trainable, [named.Mistake(COUNTED_UNTRAINED, total)]
        else:
            right, found = untrained, [named.Mistake(FORGOT_UNTRAINED, 0)]
            if untrained:
                found.append(named.Mistake(COUNTED_TRAINABLE, trainable))
                found.append(named.Mistake(COUNTED_ALL, total))
        found = [m for m in found if m.value != right]
        mark = self._compare(question, what, claimed, right, found, entry, _num, _params)
        if mark.right:
            return mark
        trains = claim == "trainable_params"
        return replace(mark, explanation=_trainable_working(layers, trains, entry is None))

    def entry_at(self, at: Any) -> Entry | None:
        """The entry at a path (``layers[2]``, or ``2`` for a top-level index) or a name."""
        if at is None:
            return None
        if isinstance(at, bool) or not isinstance(at, int | str):
            raise Refused(f"a layer's path such as layers[0] or its name, not {quoted(at)}", "at")
        key = f"layers[{at}]" if isinstance(at, int) else at
        if key in self.entries:
            return self.entries[key]
        found = self.named.get(key, [])
        if len(found) > 1:
            paths = ", ".join(e.path for e in found[:4])
            raise Refused(
                f"{quoted(key)} names {len(found)} layers ({paths}…): give the path", "at"
            )
        if not found:
            raise Refused(
                f"no layer at {quoted(at)}: give a path such as layers[0] or a name", "at"
            )
        return found[0]

    def _size(self, entry: Entry | None) -> int:
        shape = entry.output_shape if entry else self.report.output_shape
        return _prod(shape)

    def _compare(
        self,
        question: str,
        what: str,
        claimed: Any,
        right: Any,
        found: list[named.Mistake],
        entry: Entry | None,
        show: Callable[[Any], str],
        about: Callable[[str], bool] = bool,
        carried: str = "",
    ) -> Mark:
        if claimed == right:
            return Mark(question, what, show(claimed), show(right), 1.0)
        working = self._explained(entry, about)
        if carried:  # worked right from the student's own wrong answer before it
            return Mark(question, what, show(claimed), show(right), CARRIED, carried, working, True)
        mistake = named.recognise(claimed, found)
        name = mistake.name if mistake else ""
        return Mark(question, what, show(claimed), show(right), 0.0, name, working)

    @functools.cached_property
    def sections(self) -> dict[str, Section]:
        """The report's worked explanation by path (the totals at ``""``), made once, when a
        first answer is wrong."""
        return {section.path: section for section in explain(self.report)}

    def _explained(self, entry: Entry | None, about: Callable[[str], bool]) -> tuple[str, ...]:
        section = self.sections.get(entry.path if entry else "")
        if section is None:
            return ()
        lines = [line for line in section.lines if about(line.quantity)]
        return tuple(render_lines(replace(section, lines=tuple(lines))))

    def _mult_adds(self, question: str, what: str, claimed: int, entry: Entry | None) -> Mark:
        """Multiply-adds of a layer (or the network), batch 1, under the file's convention;
        FLOPs and the other conventions' counts are the named mistakes."""
        leaves = [e for e in (entry.walk() if entry else self.report.walk()) if not e.is_block]
        counts = named.mult_adds_by_type(leaves)
        right = sum(counts[self.convention].values())
        found = named.mult_adds_mistakes(counts, self.convention)
        what += f" ({self.convention}'s convention)"
        return self._compare(question, what, claimed, right, found, entry, _num, _nothing)

    def _receptive(self, question: str, what: str, value: Any, entry: Entry | None) -> Mark:
        from convcalc.views.receptive import receptive_fields

        target = entry or self.report.layers[-1]
        found_field = receptive_fields(self.report)[id(target)]
        # global, a size, or one per dimension (a transposed conv's can be a fraction)
        for v in value if isinstance(value, list) else [] if value == "global" else [value]:
            if not (isinstance(v, float) and math.isfinite(v)):
                read_count(v, "a receptive field (global, a size or a list of sizes)")
        if found_field.size is None:  # every output value sees the whole input
            claimed_text = str(value)
            return self._compare(question, what, claimed_text, "global", [], target, str, _nothing)
        if value == "global":
            right_text = shape_text(tuple(int(v) for v in found_field.size))
            return self._compare(question, what, value, right_text, [], target, str, _nothing)
        right = tuple(int(v) if float(v).is_integer() else v for v in found_field.size)
        claimed = tuple(value) if isinstance(value, list) else (value,) * len(right)
        found = named.receptive_mistakes(self.report, target)
        return self._compare(question, what, claimed, right, found, target, shape_text, _nothing)


CHANNELS_FIRST = "channels first: Keras writes a shape (H, W, C), its channels last"
COUNTED_UNTRAINED = (
    "counted the non-trainable parameters (BatchNormalization's moving mean and variance)"
)
FORGOT_UNTRAINED = (
    "forgot the non-trainable parameters (BatchNormalization's moving mean and variance)"
)
COUNTED_TRAINABLE = "gave the trainable parameters, not the non-trainable ones"
COUNTED_ALL = "gave every parameter (Param #), not the non-trainable ones"


def _weights_working(entry: Entry) -> tuple[str, ...]:
    """The weights worked out, biases left out, in the spec's framework's words
    (:func:`named.weights_of`): ``weights = 128·32·4·4 = 65,536   (weight 128×32×4×4; not
    counted: bias 128)``, Keras' ``weights = 4·4·32·128 = 65,536   (kernel 4×4×32×128; not
    counted: bias 128)``: Σ of the products of every tensor's sizes but the biases'."""
    weights = named.weights_of(entry)
    kept = [w for w in weights if not w.is_bias]
    biases = [w for w in weights if w.is_bias]
    return (_summed("weights", kept, biases),)


def _trainable_working(
    layers: list[list[named.Weight]], trainable: bool, network: bool
) -> tuple[str, ...]:
    """The trainable (or non-trainable) parameters worked out, tensor by tensor for a layer:
    ``trainable = 4 + 4 = 8   (gamma 4, beta 4; not counted: moving_mean 4, moving_variance
    4)``; layer by layer for the network: ``trainable = 112 + 8 + 25 = 145   (not counted:
    moving_mean 4, moving_variance 4)``."""
    weights = [w for found in layers for w in found]
    kept = [w for w in weights if w.trains == trainable]
    left = [w for w in weights if w.trains != trainable]
    quantity = "trainable" if trainable else "non-trainable"
    if not network:
        return (_summed(quantity, kept, left),)
    sums = [sum(w.size for w in found if w.trains == trainable) for found in layers]
    terms = [n for n in sums if n]
    return (_summed(quantity, [], left if len(left) <= 6 else [], terms),)


def _summed(
    quantity: str,
    kept: list[named.Weight],
    left: list[named.Weight],
    sums: list[int] | None = None,
) -> str:
    """``quantity = Σ sizes = total   (the kept tensors; not counted: the others)``, the
    terms the tensors' products (or ``sums``, one a layer); the sum alone for more than six
    terms."""
    parts = sums if sums is not None else [w.size for w in kept]
    total = sum(parts)
    if len(parts) > 6:  # a block's many tensors: the sum, not every product
        terms = f"Σ over {len(parts)} {'tensors' if sums is None else 'layers'}"
    elif sums is not None:
        terms = " + ".join(f"{n:,}" for n in sums) or "0"
    else:
        terms = " + ".join("·".join(map(str, w.shape)) if w.shape else "1" for w in kept) or "0"
    line = f"{quantity} = {terms} = {total:,}" if terms != f"{total:,}" else f"{quantity} = {terms}"
    if len(kept) <= 6 and len(left) <= 6 and (kept or left):
        line += "   (" + ", ".join(w.text for w in kept)
        if left:
            line += ("; " if kept else "") + "not counted: " + ", ".join(w.text for w in left)
        line += ")"
    return line


def mark_solutions(question: str, answer: dict[str, Any], framework: str = "pytorch") -> Mark:
    """A single-layer solve question: each claimed (k, s[, p, d]) checked by the layer's own
    size rule; with ``complete``, credit for the share of the whole set (counted, not listed).
    A claimed setting PyTorch refuses (stride 0, say) is wrong: it gives nothing. Keras'
    question (``framework: keras`` in ``solve``): :func:`_keras_solve`."""
    from convcalc.solve.layer import LAYERS, tally

    ask = answer.get("solve")
    if not isinstance(ask, dict) or "in" not in ask or "out" not in ask:
        raise Refused(
            "solutions need solve: {in: N, out: M[, layer, padding, dilation, ...]}", "solve"
        )
    framework = ask.get("framework", framework)
    if framework not in ("pytorch", "keras"):
        raise Refused(f"pytorch or keras, not {quoted(framework)}", "framework", "solve")
    keys = KERAS_SOLVE_KEYS if framework == "keras" else TORCH_SOLVE_KEYS
    extra = set(ask) - set(keys)
    if extra:
        key = sorted(map(str, extra))[0]
        if framework == "keras" and key in KERAS_WORDS:
            raise Refused(f"{key!r} is PyTorch's name: Keras calls it {KERAS_WORDS[key]!r}",
                           key, "solve")  # fmt: skip
        raise Refused(f"unknown key {quoted(key)}: expected {', '.join(keys)}", "solve")
    if framework == "keras":
        return _keras_solve(question, answer, ask)
    layer = ask.get("layer", "conv")
    if not isinstance(layer, str) or layer not in LAYERS or layer == "conv_transpose":
        raise Refused(f"conv, maxpool or avgpool, not {quoted(layer)}", "layer", "solve")
    ceil = ask.get("ceil_mode", False)
    if not isinstance(ceil, bool):
        raise Refused(f"true or false, not {quoted(ceil)}", "ceil_mode", "solve")
    n, m = _solve_field(ask, "in", 1), _solve_field(ask, "out", 1)
    p, d = _solve_field(ask, "padding", 0, 0), _solve_field(ask, "dilation", 1, 1)
    ranges: dict[str, str | None] = {**_solve_ranges(ask, ("kernel_size", "stride"))}
    pb = _problem(layer, n, m, ranges, p, d, ceil)
    written = _claimed(answer["solutions"], (2, 4), "[k, s] or [k, s, p, d]")
    tuples = {w: w if len(w) == 4 else (w[0], w[1], p, d) for w in written}
    sizes = {w: _solution_size(pb, tuples[w]) for w in written}
    mistakes = [_solve_mistake(pb, w, tuples[w]) for w in written if sizes[w] != m]
    what = f"solve {n} → {m} ({layer}{' ceil_mode' if ceil else ''}, p {p}, d {d})"
    return _solutions_mark(question, answer, what, written, sizes, mistakes, tally(pb), m)


def _keras_solve(question: str, answer: dict[str, Any], ask: dict[str, Any]) -> Mark:
    """Keras' single-layer question (:func:`convcalc.solve.layer.keras_problem`): Conv,
    MaxPooling, AveragePooling or ConvTranspose padded ``valid`` or ``same``, each claimed
    [k, s] checked by Keras' rule (:func:`_keras_size`); the mistakes Keras' (the other
    padding's rule, PyTorch's, floor for ceil: :func:`named.keras_size_variants`)."""
    from convcalc.solve.layer import tally

    layer = ask.get("layer", "conv")
    if layer not in ("conv", "maxpool", "avgpool", "conv_transpose"):
        raise Refused(f"conv, maxpool, avgpool or conv_transpose, not {quoted(layer)}",
                       "layer", "solve")  # fmt: skip
    mode = ask.get("padding", "valid")
    if mode not in ("valid", "same"):
        raise Refused(f"Keras' padding is valid or same, not {quoted(mode)}", "padding", "solve")
    n, m = _solve_field(ask, "in", 1), _solve_field(ask, "out", 1)
    d = _solve_field(ask, "dilation_rate", 1, 1)
    if d > 1 and layer in ("maxpool", "avgpool"):
        raise Refused("Keras' pooling layers have no dilation_rate", "dilation_rate", "solve")
    ranges = _solve_ranges(ask, ("kernel_size", "strides"))
    given = {"kernel_size": ranges.get("kernel_size"), "stride": ranges.get("strides")}
    pb = _problem(layer, n, m, given, mode, d, False, "keras")
    written = _claimed(answer["solutions"], (2,), "[k, s] (Keras' kernel_size and strides)")
    sizes = {w: _keras_size(pb, w, d, ranges) for w in written}
    wrong = [w for w in written if sizes[w] != m]
    mistakes = [_keras_solve_mistake(pb, w, d) for w in wrong]
    what = f"solve {n} → {m} (Keras {layer}, padding {mode}, dilation_rate {d})"
    return _solutions_mark(question, answer, what, written, sizes, mistakes, tally(pb), m)


def _keras_rule(pb: Any, k: int, s: int, d: int) -> Applied | None:
    """Keras' size rule for (k, s) at dilation_rate d, None where Keras refuses it (strides
    above 1 with a dilation_rate above 1 in Conv and ConvTranspose)."""
    if pb.layer in ("conv", "conv_transpose") and s > 1 and d > 1:
        return None
    same = pb.keras == "same"
    if pb.layer == "conv_transpose":
        return Applied(arith.keras_transpose_out, (pb.n, k, s, d, same, None))
    if same:
        return Applied(arith.keras_same_out, (pb.n, k, s, d))
    if pb.layer == "conv":
        return Applied(arith.conv_out, (pb.n, k, s, 0, d))
    return Applied(arith.pool_out, (pb.n, k, s, 0, 1, False))


def _keras_size(pb: Any, w: tuple[int, ...], d: int, ranges: dict[str, str]) -> int | None:
    """The output size Keras gives a claimed [k, s]; None where Keras refuses it, or outside
    a range the question gives."""
    k, s = w
    if k < 1 or s < 1 or ("kernel_size" in ranges and k not in pb.kernel_size):
        return None
    if "strides" in ranges and s not in pb.stride:
        return None
    applied = _keras_rule(pb, k, s, d)
    try:
        return applied.rule(*applied.args) if applied else None
    except arith.Refusal:
        return None


def _keras_solve_mistake(pb: Any, w: tuple[int, ...], d: int) -> str:
    """The named Keras mistake under which a wrong [k, s] would give M: PyTorch's rule taking
    strides above 1 with a dilation_rate Keras refuses, else :func:`named.keras_size_variants`."""
    k, s = w
    if k < 1 or s < 1:
        return ""
    if _keras_rule(pb, k, s, d) is None:
        try:
            gives = arith.conv_out(pb.n, k, s, 0, d) if pb.layer == "conv" else None
        except arith.Refusal:
            gives = None
        return f"{_setting(w)}: Keras refuses strides > 1 with dilation_rate > 1" + (
            " (PyTorch's rule would give it)" if gives == pb.m else ""
        )
    for name, value in named.keras_size_variants(_keras_rule(pb, k, s, d)).items():
        if value == pb.m:
            return f"{_setting(w)}: {name}"
    return ""


def _solve_ranges(ask: dict[str, Any], keys: tuple[str, ...]) -> dict[str, str]:
    """The kernel and stride ranges a solve question gives: a number or ``'1..7'``."""
    ranges: dict[str, str] = {}
    for key in keys:
        if key not in ask:
            continue
        value = ask[key]
        if not isinstance(value, str):
            if isinstance(value, bool) or not isinstance(value, int):
                raise Refused(
                    f"a number or a range such as '1..7', not {quoted(value)}", key, "solve"
                )
            value = str(_solve_field(ask, key, 1))
        ranges[key] = value
    return ranges


def _claimed(claimed: Any, lengths: tuple[int, ...], form: str) -> list[tuple[int, ...]]:
    """The settings a student claims: a non-empty list of lists of ``lengths`` integers."""
    if not isinstance(claimed, list) or not claimed:
        raise ConvcalcError(f"solutions: a list of {form}")
    written: list[tuple[int, ...]] = []
    for item in claimed:
        if not isinstance(item, list) or len(item) not in lengths:
            raise ConvcalcError(f"solutions: {quoted(item)} is not {form}")
        written.append(tuple(read_count(v, "solutions") for v in item))
    return written


def _solutions_mark(
    question: str,
    answer: dict[str, Any],
    what: str,
    written: list[tuple[int, ...]],
    sizes: dict[tuple[int, ...], int | None],
    mistakes: list[str],
    counted: Any,
    m: int,
) -> Mark:
    """The mark of claimed settings whose output sizes are ``sizes`` (M is right): any right
    one earns the point, or with ``complete`` the share of the ``counted`` set."""
    wrong = [w for w in written if sizes[w] != m]
    right = {w for w in written if sizes[w] == m}
    complete = answer.get("complete", False)
    if not isinstance(complete, bool):
        raise Refused(f"true or false, not {quoted(complete)}", "complete")
    every = counted.value
    if complete and not counted.complete:
        raise ConvcalcError("solve: too many solutions to ask for all of them: narrow the ranges")
    credit = len(right) / every if complete and every else float(not wrong)
    if complete and wrong:
        credit = max(0.0, credit - len(wrong) / max(1, every))
    at_least = "" if counted.complete else "at least "
    correct = (
        f"the {every:,} solutions" if complete else f"any of the {at_least}{every:,} solutions"
    )
    return Mark(
        question,
        what,
        ", ".join(_setting(w) for w in written),
        correct if credit < 1 or complete else "all valid",
        round(credit, 4),
        "; ".join(text for text in mistakes if text),
        tuple(f"{_setting(w)} gives {sizes[w] or 'nothing'}, not {m}" for w in wrong),
    )


def _solve_field(ask: dict[str, Any], key: str, least: int, default: int | None = None) -> int:
    """One number of a solve question: an integer (within 2⁶³ − 1), at least ``least``."""
    value = ask.get(key, default)
    try:
        number = read_count(value)
    except ConvcalcError as exc:
        raise Refused(str(exc), key, "solve") from None
    if number < least:
        raise Refused(f"at least {least}, not {number}", key, "solve")
    return number


_FLAGS = {"--kernel": "kernel_size", "--stride": "stride", "--padding": "padding"}


def _problem(
    layer: str,
    n: int,
    m: int,
    ranges: dict[str, str | None],
    p: int | str,
    d: int,
    ceil: bool,
    framework: str = "pytorch",
) -> Any:
    """The question as the solver states it; its refusal located at the field it names."""
    from convcalc.solve.layer import problem

    try:
        return problem(
            layer,
            n,
            m,
            kernel_size=ranges.get("kernel_size"),
            stride=ranges.get("stride"),
            padding=str(p),
            dilation=str(d),
            ceil_mode=ceil,
            framework=framework,
        )
    except ConvcalcError as exc:
        message = shown(str(exc), 200)  # a refused range is quoted whole
        flag, _, rest = message.partition(": ")
        if flag in _FLAGS:
            field = _FLAGS[flag]
            if framework == "keras":
                field = KERAS_WORDS.get(field, field)
            raise Refused(rest, field, "solve") from None
        raise Refused(message, "solve") from None


def _setting(written: tuple[int, ...]) -> str:
    """A claimed setting as the student wrote it, every value shown: ``(k 3, s 2)``,
    ``(k 3, s 21, p 1, d 0)``."""
    return "(" + ", ".join(f"{n} {v}" for n, v in zip("kspd", written, strict=False)) + ")"


def _rule(pb: Any, t: tuple[int, ...]) -> Applied:
    """The size rule of the question's layer for one claimed (k, s, p, d)."""
    k, s, p, d = t
    if pb.layer == "conv":
        return Applied(arith.conv_out, (pb.n, k, s, p, d))
    return Applied(arith.pool_out, (pb.n, k, s, p, d, pb.ceil_mode))


def _solution_size(pb: Any, t: tuple[int, ...]) -> int | None:
    """The output size for a claimed setting, None where PyTorch refuses it (or it lies
    outside the question's ranges: another question's answer)."""
    k, s, p, d = t
    if k not in pb.kernel_size or s not in pb.stride or p not in pb.padding or d not in pb.dilation:
        return None
    applied = _rule(pb, t)
    try:
        return applied.rule(*applied.args)
    except arith.Refusal:
        return None


def _solve_mistake(pb: Any, written: tuple[int, ...], t: tuple[int, ...]) -> str:
    """The named mistake under which this wrong setting would give M; none for a setting
    PyTorch refuses outright (a kernel, stride or dilation below 1, a negative padding)."""
    k, s, p, d = t
    if k < 1 or s < 1 or p < 0 or d < 1:
        return ""
    for name, value in named.size_variants(_rule(pb, t)).items():
        if value == pb.m:
            return f"{_setting(written)}: {name}"
    return ""


CARRIED = 0.5  # credit for a value worked right from the student's own earlier mistake


def _sizes(quantity: str) -> bool:
    return quantity not in ("parameters", "values")


def _nothing(quantity: str) -> bool:
    return False


def _values(quantity: str) -> bool:
    return quantity == "values"


def _params(quantity: str) -> bool:
    return quantity == "parameters"


def _prod(shape: Sequence[int]) -> int:
    total = 1
    for n in shape:
        total *= n
    return total


def read_shape(value: Any) -> tuple[int, ...]:
    """A shape as a student writes it: a list ``[61, 61, 32]``, or text ``(61, 61, 32)``,
    ``61×61×32`` or ``61x61x32``; a leading batch written ``None`` (Keras' ``(None, 61, 61,
    32)``) is left out."""
    if isinstance(value, str):
        text = value.strip()
        if text[:1] in "([" and text[-1:] in ")]":
            text = text[1:-1]
        parts = [p.strip() for p in re.split(r"[,×xX]", text)]
        if len(parts) > 1 and parts[0] == "None":
            parts = parts[1:]
        if not parts or not all(p.isascii() and p.isdigit() for p in parts):
            raise ConvcalcError(
                f"a shape is a list of integers such as [32, 61, 61] or text such as 61×61×32, "
                f"not {quoted(value)}"
            )
        value = [int(p) for p in parts]
    if not isinstance(value, list):
        raise ConvcalcError(
            f"a shape is a list of integers such as [32, 61, 61], not {quoted(value)}"
        )
    if len(value) > 1 and value[0] in (None, "None"):
        value = value[1:]
    return tuple(read_count(n, "a shape's size") for n in value)


def read_count(value: Any, what: str = "") -> int:
    """An integer as YAML wrote it: not a boolean, a float or text, and within PyTorch's
    signed 64-bit integers (2⁶³ − 1 at most)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConvcalcError(f"{what}{': ' if what else ''}expected an integer, not {quoted(value)}")
    if not -(2**63) <= value <= LIMIT:
        raise ConvcalcError(
            f"{what}{': ' if what else ''}{quoted(value)} is beyond any size (2^63 − 1 at most)"
        )
    return value


def quoted(value: Any) -> str:
    """A value from the file as a message quotes it: text quoted, anything else as YAML writes
    it (:func:`~convcalc.spec.document.written`, which cuts long lists and deep nesting), then
    cut and with controls escaped (:func:`~convcalc.errors.shown`)."""
    return shown(written(value))


def _num(value: Any) -> str:
    return f"{value:,}"
